//! String commands (Redis's t_string.c).

use super::ctx::Ev;
use super::{cmd, flags::*, int_arg, Command, Ctx};
use crate::types::string::{self, SetIf, Str};
use crate::types::TypeError;
use crate::util::{eq_ic, parse_i64};
use bytes::Bytes;

/// Redis's limit for values built by APPEND/SETRANGE: proto-max-bulk-len.
fn max_string(ctx: &Ctx<'_>) -> usize {
    usize::try_from(ctx.config().proto_max_bulk_len).unwrap_or(usize::MAX)
}

pub(crate) fn commands() -> Vec<Command> {
    let k1 = (1, 1, 1);
    vec![
        cmd("get", 2, READONLY | FAST, k1, "string", "Returns the string value of a key.", get)
        .syntax("key"),
        cmd("set", -3, WRITE, k1, "string", "Sets the string value of a key, ignoring its type.", set)
        .syntax("key value [NX|XX] [GET] [EX seconds|PX milliseconds|EXAT unix-time-seconds|PXAT unix-time-milliseconds|KEEPTTL]"),
        cmd("setnx", 3, WRITE | FAST, k1, "string", "Set the string value of a key only when the key doesn't exist.", setnx)
        .syntax("key value"),
        cmd("setex", 4, WRITE, k1, "string", "Sets the string value and expiration time of a key.", setex)
        .syntax("key seconds value"),
        cmd("psetex", 4, WRITE, k1, "string", "Sets the string value and expiration time in milliseconds of a key.", psetex)
        .syntax("key milliseconds value"),
        cmd("getset", 3, WRITE | FAST, k1, "string", "Returns the previous string value of a key after setting it to a new value.", getset)
        .syntax("key value"),
        cmd("getdel", 2, WRITE | FAST, k1, "string", "Returns the string value of a key after deleting the key.", getdel)
        .syntax("key"),
        cmd("getex", -2, WRITE | FAST, k1, "string", "Returns the string value of a key after setting its expiration time.", getex)
        .syntax("key [EX seconds|PX milliseconds|EXAT unix-time-seconds|PXAT unix-time-milliseconds|PERSIST]"),
        cmd("mget", -2, READONLY | FAST, (1, -1, 1), "string", "Atomically returns the string values of one or more keys.", mget)
        .syntax("key ..."),
        cmd("mset", -3, WRITE, (1, -1, 2), "string", "Atomically creates or modifies the string values of one or more keys.", mset)
        .syntax("key value [key value] ..."),
        cmd("msetnx", -3, WRITE, (1, -1, 2), "string", "Atomically modifies the string values of one or more keys only when all keys don't exist.", msetnx)
        .syntax("key value [key value] ..."),
        cmd("incr", 2, WRITE | FAST, k1, "string", "Increments the integer value of a key by one.", incr)
        .syntax("key"),
        cmd("decr", 2, WRITE | FAST, k1, "string", "Decrements the integer value of a key by one.", decr)
        .syntax("key"),
        cmd("incrby", 3, WRITE | FAST, k1, "string", "Increments the integer value of a key by a number.", incrby)
        .syntax("key increment"),
        cmd("decrby", 3, WRITE | FAST, k1, "string", "Decrements a number from the integer value of a key.", decrby)
        .syntax("key decrement"),
        cmd("incrbyfloat", 3, WRITE | FAST, k1, "string", "Increment the floating point value of a key by a number.", incrbyfloat)
        .syntax("key increment"),
        cmd("append", 3, WRITE, k1, "string", "Appends a string to the value of a key.", append)
        .syntax("key value"),
        cmd("strlen", 2, READONLY | FAST, k1, "string", "Returns the length of a string value.", strlen)
        .syntax("key"),
        cmd("getrange", 4, READONLY, k1, "string", "Returns a substring of the string stored at a key.", getrange)
        .syntax("key start end"),
        cmd("substr", 4, READONLY, k1, "string", "Returns a substring from a string value.", getrange)
        .syntax("key start end"),
        cmd("setrange", 4, WRITE, k1, "string", "Overwrites a part of a string value with another by an offset.", setrange)
        .syntax("key offset value"),
    ]
}

/// The string at `key`: Ok(None) if absent, Err(()) after answering
/// WRONGTYPE.
fn get_string(ctx: &mut Ctx<'_>, key: &[u8]) -> Result<Option<Str>, ()> {
    string::get(&mut ctx.data(), key).map_err(|e| ctx.err(e.reply()))
}

/// Like `get_string` but through the write transaction (read-modify-write).
fn get_string_tx(ctx: &mut Ctx<'_>, key: &[u8]) -> Result<Option<Str>, ()> {
    string::get_for_write(&mut ctx.data(), key).map_err(|e| ctx.err(e.reply()))
}

/// A type operation's result, or its error as the reply.
fn or_reply<T>(ctx: &mut Ctx<'_>, r: Result<T, TypeError>) -> Option<T> {
    r.map_err(|e| ctx.err(e.reply())).ok()
}

fn get(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    if let Ok(s) = get_string(ctx, &a[1]) {
        ctx.out.bulk_opt(s.as_ref().map(|s| &s.value[..]));
    }
}

/// The options of SET and GETEX, parsed the way Redis's
/// `parseExtendedStringArgumentsOrReply` does: every option is checked for
/// syntax before any value is, and an option may repeat (the last wins) but
/// not be combined with a conflicting one.
#[derive(Default)]
struct StrOpts {
    nx: bool,
    xx: bool,
    get: bool,
    keepttl: bool,
    persist: bool,
    /// The unit keyword (ex/px/exat/pxat) and its argument.
    expire: Option<(&'static str, Bytes)>,
}

fn parse_str_opts(a: &[Bytes], from: usize, is_set: bool) -> Option<StrOpts> {
    let mut o = StrOpts::default();
    let mut i = from;
    while i < a.len() {
        let opt = &a[i];
        let has_next = i + 1 < a.len();
        let unit = o.expire.as_ref().map(|(u, _)| *u);
        let other_unit = |u: &str| unit.is_some_and(|x| x != u);
        if is_set && eq_ic(opt, "nx") && !o.xx {
            o.nx = true;
        } else if is_set && eq_ic(opt, "xx") && !o.nx {
            o.xx = true;
        } else if is_set && eq_ic(opt, "get") {
            o.get = true;
        } else if is_set && eq_ic(opt, "keepttl") && !o.persist && unit.is_none() {
            o.keepttl = true;
        } else if !is_set && eq_ic(opt, "persist") && unit.is_none() && !o.keepttl {
            o.persist = true;
        } else if let Some(u) = ["ex", "px", "exat", "pxat"]
            .into_iter()
            .find(|u| eq_ic(opt, u))
        {
            if o.keepttl || o.persist || other_unit(u) || !has_next {
                return None;
            }
            o.expire = Some((u, a[i + 1].clone()));
            i += 1;
        } else {
            return None;
        }
        i += 1;
    }
    Some(o)
}

/// Turns `EX 10`-style arguments into an absolute deadline, with Redis's
/// checks ("invalid expire time in 'set' command").
fn deadline(ctx: &mut Ctx<'_>, unit: &[u8], v: &[u8], cmdname: &str) -> Option<i64> {
    let Some(n) = parse_i64(v) else {
        ctx.not_int();
        return None;
    };
    let invalid =
        |ctx: &mut Ctx<'_>| ctx.err(&format!("ERR invalid expire time in '{cmdname}' command"));
    if n <= 0 {
        invalid(ctx);
        return None;
    }
    let at = if eq_ic(unit, "ex") {
        n.checked_mul(1000).and_then(|ms| ms.checked_add(ctx.now))
    } else if eq_ic(unit, "px") {
        n.checked_add(ctx.now)
    } else if eq_ic(unit, "exat") {
        n.checked_mul(1000)
    } else {
        Some(n)
    };
    if at.is_none() {
        invalid(ctx);
    }
    at
}

fn set(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let Some(o) = parse_str_opts(a, 3, true) else {
        return ctx.syntax_err();
    };
    let at = match &o.expire {
        Some((unit, v)) => match deadline(ctx, unit.as_bytes(), v, "set") {
            Some(t) => Some(t),
            None => return,
        },
        None => None,
    };
    let cond = SetIf {
        absent: o.nx,
        present: o.xx,
        keep_ttl: o.keepttl,
    };
    // SET overwrites a key of any type; only GET cares what was there.
    let r = string::set(&mut ctx.data(), &a[1], a[2].clone(), at, cond, o.get);
    let Some((old, go)) = or_reply(ctx, r) else {
        return;
    };
    if go {
        ctx.notify(Ev::Set, &a[1]);
        if at.is_some() {
            ctx.notify(Ev::Expire, &a[1]);
        }
    }
    if o.get {
        ctx.out.bulk_opt(old.as_ref().map(|s| &s.value[..]));
    } else if go {
        ctx.out.ok();
    } else {
        ctx.out.null();
    }
}

fn setnx(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let cond = SetIf {
        absent: true,
        ..SetIf::default()
    };
    let r = string::set(&mut ctx.data(), &a[1], a[2].clone(), None, cond, false);
    if let Some((_, wrote)) = or_reply(ctx, r) {
        if wrote {
            ctx.notify(Ev::Set, &a[1]);
        }
        ctx.out.int(wrote as i64);
    }
}

fn setex_common(ctx: &mut Ctx<'_>, a: &[Bytes], unit: &[u8], name: &str) {
    let Some(at) = deadline(ctx, unit, &a[2], name) else {
        return;
    };
    string::put(&mut ctx.data(), &a[1], a[3].clone(), Some(at));
    ctx.notify(Ev::Set, &a[1]);
    ctx.notify(Ev::Expire, &a[1]);
    ctx.out.ok();
}

fn setex(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    setex_common(ctx, a, b"ex", "setex")
}

fn psetex(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    setex_common(ctx, a, b"px", "psetex")
}

fn getset(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let Ok(old) = get_string_tx(ctx, &a[1]) else {
        return;
    };
    string::put(&mut ctx.data(), &a[1], a[2].clone(), None);
    ctx.notify(Ev::Set, &a[1]);
    ctx.out.bulk_opt(old.as_ref().map(|s| &s.value[..]));
}

fn getdel(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let Ok(old) = get_string_tx(ctx, &a[1]) else {
        return;
    };
    if old.is_some() {
        let db = ctx.db();
        ctx.tx().delete(db, &a[1]);
        ctx.notify(Ev::Del, &a[1]);
    }
    ctx.out.bulk_opt(old.as_ref().map(|s| &s.value[..]));
}

fn getex(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let Some(o) = parse_str_opts(a, 2, false) else {
        return ctx.syntax_err();
    };
    // Redis looks the key up before it validates the expire time.
    let Ok(old) = get_string_tx(ctx, &a[1]) else {
        return;
    };
    let Some(s) = old else {
        return ctx.out.null();
    };
    let ttl = match &o.expire {
        Some((unit, v)) => match deadline(ctx, unit.as_bytes(), v, "getex") {
            Some(t) => Some(Some(t)),
            None => return,
        },
        None if o.persist => Some(None),
        None => None,
    };
    let db = ctx.db();
    match ttl {
        // An EXAT/PXAT already in the past deletes the key.
        Some(Some(t)) if t <= ctx.now => {
            ctx.tx().delete(db, &a[1]);
            ctx.notify(Ev::Del, &a[1]);
        }
        Some(t) if s.expire_at != t => {
            // Only the deadline changes: a chunked string keeps its chunks.
            if let Some(m) = ctx.tx().get(db, &a[1]) {
                ctx.tx()
                    .put(db, &a[1], &crate::store::keys::Meta { expire_at: t, ..m });
            }
            ctx.notify(if t.is_some() { Ev::Expire } else { Ev::Persist }, &a[1]);
        }
        // Redis notifies an EX/PX that sets the same deadline too.
        Some(Some(_)) => ctx.notify(Ev::Expire, &a[1]),
        _ => {}
    }
    ctx.out.bulk(&s.value);
}

fn mget(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    ctx.out.array(a.len() - 1);
    for k in &a[1..] {
        // Another type reads as nil here.
        match string::get(&mut ctx.data(), k) {
            Ok(Some(s)) => ctx.out.bulk(&s.value),
            _ => ctx.out.null(),
        }
    }
}

fn mset(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    if a.len().is_multiple_of(2) {
        return ctx.err("ERR wrong number of arguments for 'mset' command");
    }
    for kv in a[1..].chunks(2) {
        string::put(&mut ctx.data(), &kv[0], kv[1].clone(), None);
        ctx.notify(Ev::Set, &kv[0]);
    }
    ctx.out.ok();
}

fn msetnx(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    if a.len().is_multiple_of(2) {
        return ctx.err("ERR wrong number of arguments for 'msetnx' command");
    }
    let db = ctx.db();
    for kv in a[1..].chunks(2) {
        if ctx.tx().get(db, &kv[0]).is_some() {
            return ctx.out.int(0);
        }
    }
    for kv in a[1..].chunks(2) {
        string::put(&mut ctx.data(), &kv[0], kv[1].clone(), None);
        ctx.notify(Ev::Set, &kv[0]);
    }
    ctx.out.int(1);
}

fn incr_by(ctx: &mut Ctx<'_>, key: &[u8], by: i64) {
    let r = string::incr_by(&mut ctx.data(), key, by);
    if let Some(n) = or_reply(ctx, r) {
        ctx.notify(Ev::Incrby, key);
        ctx.out.int(n);
    }
}

fn incr(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    incr_by(ctx, &a[1], 1)
}

fn decr(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    incr_by(ctx, &a[1], -1)
}

fn incrby(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let Some(by) = int_arg(ctx, &a[2]) else {
        return;
    };
    incr_by(ctx, &a[1], by)
}

fn decrby(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let Some(by) = int_arg(ctx, &a[2]) else {
        return;
    };
    let Some(neg) = by.checked_neg() else {
        return ctx.err("ERR decrement would overflow");
    };
    incr_by(ctx, &a[1], neg)
}

fn incrbyfloat(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let Ok(old) = get_string_tx(ctx, &a[1]) else {
        return;
    };
    let (cur, expire_at) = match &old {
        Some(s) => (s.value.clone(), s.expire_at),
        None => (Bytes::from_static(b"0"), None),
    };
    // Redis computes in x87 long double: so does float80.
    let text = match super::float80::incr(&cur, &a[2]) {
        Ok(t) => t,
        Err(e) => return ctx.err(e),
    };
    // Redis stores the text as made, never as an integer.
    let made = string::Made::Plain;
    string::put_as(
        &mut ctx.data(),
        &a[1],
        Bytes::from(text.clone()),
        expire_at,
        made,
    );
    ctx.notify(Ev::Incrbyfloat, &a[1]);
    ctx.out.bulk(text.as_bytes());
}

fn append(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let max = max_string(ctx);
    let r = string::append(&mut ctx.data(), &a[1], &a[2], max);
    if let Some(len) = or_reply(ctx, r) {
        ctx.notify(Ev::Append, &a[1]);
        ctx.out.int(len as i64);
    }
}

fn strlen(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    match string::open(&mut ctx.data(), &a[1]) {
        Ok(s) => ctx.out.int(s.map_or(0, |s| s.len() as i64)),
        Err(e) => ctx.err(e.reply()),
    }
}

fn getrange(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let Some(start) = int_arg(ctx, &a[2]) else {
        return;
    };
    let Some(end) = int_arg(ctx, &a[3]) else {
        return;
    };
    let s = match string::open(&mut ctx.data(), &a[1]) {
        Ok(Some(s)) => s,
        Ok(None) => return ctx.out.bulk(b""),
        Err(e) => return ctx.err(e.reply()),
    };
    let (from, to) = string::range_of(s.len(), start, end);
    let v = s.read(&mut ctx.data(), from, to - from);
    ctx.out.bulk(&v);
}

fn setrange(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let Some(off) = int_arg(ctx, &a[2]) else {
        return;
    };
    if off < 0 {
        return ctx.err("ERR offset is out of range");
    }
    let max = max_string(ctx);
    let r = string::set_range(&mut ctx.data(), &a[1], off as usize, &a[3], max);
    if let Some(len) = or_reply(ctx, r) {
        if !a[3].is_empty() {
            ctx.notify(Ev::Setrange, &a[1]);
        }
        ctx.out.int(len as i64);
    }
}
