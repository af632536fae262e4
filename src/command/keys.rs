//! Commands on keys of any type (Redis's db.c / expire.c).

use super::ctx::Ev;
use super::{cmd, flags::*, int_arg, Command, Ctx};
use crate::glob::glob_match;
use crate::store::keys::{data_key, parse_data_key, Meta};
use crate::types::random;
use crate::util::{eq_ic, parse_i64};
use bytes::Bytes;

pub(crate) fn commands() -> Vec<Command> {
    let k1 = (1, 1, 1);
    let all = (1, -1, 1);
    vec![
        cmd(
            "del",
            -2,
            WRITE,
            all,
            "generic",
            "Deletes one or more keys.",
            del,
        )
        .syntax("key ..."),
        cmd(
            "unlink",
            -2,
            WRITE | FAST,
            all,
            "generic",
            "Asynchronously deletes one or more keys.",
            del,
        )
        .syntax("key ..."),
        cmd(
            "exists",
            -2,
            READONLY | FAST,
            all,
            "generic",
            "Determines whether one or more keys exist.",
            exists,
        )
        .syntax("key ..."),
        cmd(
            "touch",
            -2,
            READONLY | FAST,
            all,
            "generic",
            "Returns the number of existing keys out of those specified.",
            exists,
        )
        .syntax("key ..."),
        cmd(
            "type",
            2,
            READONLY | FAST,
            k1,
            "generic",
            "Determines the type of value stored at a key.",
            type_,
        )
        .syntax("key"),
        cmd(
            "keys",
            2,
            READONLY,
            (0, 0, 0),
            "generic",
            "Returns all key names that match a pattern.",
            keys,
        )
        .syntax("pattern"),
        cmd(
            "scan",
            -2,
            READONLY,
            (0, 0, 0),
            "generic",
            "Iterates over the key names in the database.",
            scan,
        )
        .syntax("cursor [MATCH pattern] [COUNT count] [TYPE type]"),
        cmd(
            "randomkey",
            1,
            READONLY,
            (0, 0, 0),
            "generic",
            "Returns a random key name from the database.",
            randomkey,
        ),
        cmd(
            "rename",
            3,
            WRITE,
            (1, 2, 1),
            "generic",
            "Renames a key and overwrites the destination.",
            rename,
        )
        .syntax("key newkey"),
        cmd(
            "renamenx",
            3,
            WRITE | FAST,
            (1, 2, 1),
            "generic",
            "Renames a key only when the target key name doesn't exist.",
            renamenx,
        )
        .syntax("key newkey"),
        cmd(
            "copy",
            -3,
            WRITE,
            (1, 2, 1),
            "generic",
            "Copies the value of a key to a new key.",
            copy,
        )
        .syntax("source destination [DB destination-db] [REPLACE]"),
        cmd(
            "move",
            3,
            WRITE | FAST,
            k1,
            "generic",
            "Moves a key to another database.",
            move_,
        )
        .syntax("key db"),
        cmd(
            "expire",
            -3,
            WRITE | FAST,
            k1,
            "generic",
            "Sets the expiration time of a key in seconds.",
            expire,
        )
        .syntax("key seconds [NX|XX|GT|LT]"),
        cmd(
            "pexpire",
            -3,
            WRITE | FAST,
            k1,
            "generic",
            "Sets the expiration time of a key in milliseconds.",
            pexpire,
        )
        .syntax("key milliseconds [NX|XX|GT|LT]"),
        cmd(
            "expireat",
            -3,
            WRITE | FAST,
            k1,
            "generic",
            "Sets the expiration time of a key to a Unix timestamp.",
            expireat,
        )
        .syntax("key unix-time-seconds [NX|XX|GT|LT]"),
        cmd(
            "pexpireat",
            -3,
            WRITE | FAST,
            k1,
            "generic",
            "Sets the expiration time of a key to a Unix milliseconds timestamp.",
            pexpireat,
        )
        .syntax("key unix-time-milliseconds [NX|XX|GT|LT]"),
        cmd(
            "ttl",
            2,
            READONLY | FAST,
            k1,
            "generic",
            "Returns the expiration time in seconds of a key.",
            ttl,
        )
        .syntax("key"),
        cmd(
            "pttl",
            2,
            READONLY | FAST,
            k1,
            "generic",
            "Returns the expiration time in milliseconds of a key.",
            pttl,
        )
        .syntax("key"),
        cmd(
            "expiretime",
            2,
            READONLY | FAST,
            k1,
            "generic",
            "Returns the expiration time of a key as a Unix timestamp.",
            expiretime,
        )
        .syntax("key"),
        cmd(
            "pexpiretime",
            2,
            READONLY | FAST,
            k1,
            "generic",
            "Returns the expiration time of a key as a Unix milliseconds timestamp.",
            pexpiretime,
        )
        .syntax("key"),
        cmd(
            "persist",
            2,
            WRITE | FAST,
            k1,
            "generic",
            "Removes the expiration time of a key.",
            persist,
        )
        .syntax("key"),
    ]
}

fn del(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let db = ctx.db();
    let mut n = 0;
    for k in &a[1..] {
        if ctx.tx().delete(db, k) {
            ctx.notify(Ev::Del, k);
            n += 1;
        }
    }
    ctx.out.int(n);
}

fn exists(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let db = ctx.db();
    let n = a[1..].iter().filter(|k| ctx.get(db, k).is_some()).count();
    ctx.out.int(n as i64);
}

fn type_(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let db = ctx.db();
    let t = ctx.get(db, &a[1]).map_or("none", |m| m.kind.name());
    ctx.out.simple(t);
}

fn keys(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let db = ctx.db();
    let mut found = Vec::new();
    let all = &a[1][..] == b"*";
    if ctx.exec_pending() {
        let keys: Vec<Bytes> = ctx
            .live_keys(db)
            .into_iter()
            .filter(|k| all || glob_match(&a[1], k, false))
            .collect();
        ctx.out.array(keys.len());
        for k in keys {
            ctx.out.bulk(&k);
        }
        return;
    }
    ctx.store().for_each_key(db, ctx.now, |k, _| {
        if all || glob_match(&a[1], &k, false) {
            found.push(k);
        }
    });
    ctx.out.array(found.len());
    for k in found {
        ctx.out.bulk(&k);
    }
}

/// A SCAN cursor, read like Redis's `strtoul` (base 10): an optional sign
/// (a minus wraps around), digits, nothing else; an empty string is 0.
fn parse_cursor(s: &[u8]) -> Option<u64> {
    if s.is_empty() {
        return Some(0);
    }
    let (neg, digits) = match s[0] {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut v: u64 = 0;
    for &c in digits {
        v = v.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    Some(if neg { v.wrapping_neg() } else { v })
}

fn scan(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let Some(cursor) = parse_cursor(&a[1]) else {
        return ctx.err("ERR invalid cursor");
    };
    let mut pattern: Option<Bytes> = None;
    let mut count = 10usize;
    let mut type_filter: Option<Bytes> = None;
    let mut i = 2;
    while i < a.len() {
        if i + 1 >= a.len() {
            return ctx.syntax_err();
        }
        if eq_ic(&a[i], "match") {
            pattern = Some(a[i + 1].clone());
        } else if eq_ic(&a[i], "count") {
            match parse_i64(&a[i + 1]) {
                Some(n) if n >= 1 => count = n.min(100_000) as usize,
                Some(_) => return ctx.syntax_err(),
                None => return ctx.not_int(),
            }
        } else if eq_ic(&a[i], "type") {
            type_filter = Some(a[i + 1].clone());
        } else {
            return ctx.syntax_err();
        }
        i += 2;
    }
    let db = ctx.db();
    if ctx.exec_pending() && cursor == 0 {
        // Inside EXEC after writes: the whole answer in one page.
        let mut keys = Vec::new();
        for k in ctx.live_keys(db) {
            let kind = ctx.get(db, &k).map(|m| m.kind.name());
            let type_ok = type_filter
                .as_ref()
                .is_none_or(|t| kind.is_some_and(|n| t.eq_ignore_ascii_case(n.as_bytes())));
            if pattern.as_ref().is_none_or(|p| glob_match(p, &k, false)) && type_ok {
                keys.push(k);
            }
        }
        ctx.out.array(2);
        ctx.out.bulk(b"0");
        ctx.out.array(keys.len());
        for k in keys {
            ctx.out.bulk(&k);
        }
        return;
    }
    let after = if cursor == 0 {
        None
    } else {
        ctx.cursors().get(cursor)
    };
    let (batch, next) = ctx.store().scan(db, after.as_deref(), count, ctx.now);
    let next_cursor = match next {
        Some(k) => ctx.cursors().put(k),
        None => 0,
    };
    let keys: Vec<Bytes> = batch
        .into_iter()
        .filter(|(k, m)| {
            pattern.as_ref().is_none_or(|p| glob_match(p, k, false))
                && type_filter
                    .as_ref()
                    .is_none_or(|t| t.eq_ignore_ascii_case(m.kind.name().as_bytes()))
        })
        .map(|(k, _)| k)
        .collect();
    ctx.out.array(2);
    ctx.out.bulk(next_cursor.to_string().as_bytes());
    ctx.out.array(keys.len());
    for k in keys {
        ctx.out.bulk(&k);
    }
}

/// Databases up to this size pick uniformly among all their keys.
const RANDOMKEY_EXACT: i64 = 2000;

/// The first live key after `after` (exclusive), skipping expired ones.
fn first_key_after(ctx: &Ctx<'_>, db: usize, mut after: Option<Bytes>) -> Option<Bytes> {
    for _ in 0..10_000 {
        let (batch, next) = ctx.store().scan(db, after.as_deref(), 1, ctx.now);
        if let Some((k, _)) = batch.into_iter().next() {
            return Some(k);
        }
        after = Some(next?);
    }
    None
}

/// A database's live keys, for [`random::walk`].
struct Keys<'c, 'a> {
    ctx: &'c Ctx<'a>,
    db: usize,
}

impl random::Ordered for Keys<'_, '_> {
    fn first_from(&mut self, probe: &[u8]) -> Option<Bytes> {
        if self.ctx.store().get(self.db, probe, self.ctx.now).is_some() {
            return Some(Bytes::copy_from_slice(probe));
        }
        self.next_after(probe)
    }

    fn next_after(&mut self, name: &[u8]) -> Option<Bytes> {
        first_key_after(self.ctx, self.db, Some(Bytes::copy_from_slice(name)))
    }

    /// May be an expired key: the walk only uses it as a bound.
    fn last_with(&mut self, prefix: &[u8]) -> Option<Bytes> {
        let store = self.ctx.store();
        let (slot, gen) = store.loc(self.db);
        let start = data_key(slot, gen, prefix);
        let end = crate::util::prefix_end(&start)?;
        let (k, _) = store.raw_last(&start, &end)?;
        parse_data_key(&k).map(|(_, _, key)| Bytes::copy_from_slice(key))
    }
}

fn randomkey(ctx: &mut Ctx<'_>, _a: &[Bytes]) {
    use rand::seq::SliceRandom;
    let db = ctx.db();
    let mut rng = rand::thread_rng();
    if ctx.exec_pending() {
        let keys = ctx.live_keys(db);
        return ctx.out.bulk_opt(keys.choose(&mut rng).map(|k| &k[..]));
    }
    if ctx.store().dbsize(db) <= RANDOMKEY_EXACT {
        let mut all = Vec::new();
        ctx.store().for_each_key(db, ctx.now, |k, _| all.push(k));
        return ctx.out.bulk_opt(all.choose(&mut rng).map(|k| &k[..]));
    }
    let k = random::walk(&mut Keys { ctx, db }, &mut rng);
    ctx.out.bulk_opt(k.as_deref());
}

fn rename_common(ctx: &mut Ctx<'_>, a: &[Bytes], nx: bool) {
    let db = ctx.db();
    let Some(m) = ctx.tx().get(db, &a[1]) else {
        return ctx.err("ERR no such key");
    };
    if a[1] == a[2] {
        return if nx { ctx.out.int(0) } else { ctx.out.ok() };
    }
    if ctx.tx().get(db, &a[2]).is_some() {
        if nx {
            return ctx.out.int(0);
        }
        // Redis deletes the old target and adds the key anew (`new`).
        ctx.tx().delete(db, &a[2]);
    }
    let m = ctx.tx().relocated(db, &a[1], &m, db, &a[2]);
    ctx.tx().delete(db, &a[1]);
    ctx.tx().put(db, &a[2], &m);
    ctx.notify(Ev::RenameFrom, &a[1]);
    ctx.notify(Ev::RenameTo, &a[2]);
    if nx {
        ctx.out.int(1)
    } else {
        ctx.out.ok()
    }
}

fn rename(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    rename_common(ctx, a, false)
}

fn renamenx(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    rename_common(ctx, a, true)
}

/// A database number argument, checked like Redis's `getIntFromObjectOrReply`
/// (an integer that fits in a C int) and then against the number of
/// databases.
pub(crate) fn db_index(ctx: &mut Ctx<'_>, arg: &[u8]) -> Option<usize> {
    let n = int32_arg(ctx, arg)?;
    if n >= 0 && (n as usize) < ctx.store().databases {
        Some(n as usize)
    } else {
        ctx.err("ERR DB index is out of range");
        None
    }
}

/// Redis's `getIntFromObjectOrReply`: an integer within a C int's range.
pub(crate) fn int32_arg(ctx: &mut Ctx<'_>, arg: &[u8]) -> Option<i64> {
    let n = int_arg(ctx, arg)?;
    if n < i32::MIN as i64 || n > i32::MAX as i64 {
        ctx.err("ERR value is out of range, value must between -2147483648 and 2147483647");
        return None;
    }
    Some(n)
}

fn copy(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let mut dst_db = ctx.db();
    let mut replace = false;
    let mut i = 3;
    while i < a.len() {
        if eq_ic(&a[i], "replace") {
            replace = true;
        } else if eq_ic(&a[i], "db") && i + 1 < a.len() {
            let Some(d) = db_index(ctx, &a[i + 1]) else {
                return;
            };
            dst_db = d;
            i += 1;
        } else {
            return ctx.syntax_err();
        }
        i += 1;
    }
    let src_db = ctx.db();
    if src_db == dst_db && a[1] == a[2] {
        return ctx.err("ERR source and destination objects are the same");
    }
    let Some(m) = ctx.tx().get(src_db, &a[1]) else {
        return ctx.out.int(0);
    };
    if ctx.tx().get(dst_db, &a[2]).is_some() {
        if !replace {
            return ctx.out.int(0);
        }
        ctx.tx().delete(dst_db, &a[2]);
    }
    let m = ctx.tx().relocated(src_db, &a[1], &m, dst_db, &a[2]);
    ctx.tx().put(dst_db, &a[2], &m);
    ctx.notify_in(dst_db, Ev::CopyTo, &a[2]);
    ctx.out.int(1);
}

fn move_(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let Some(dst) = db_index(ctx, &a[2]) else {
        return;
    };
    let src = ctx.db();
    if src == dst {
        return ctx.err("ERR source and destination objects are the same");
    }
    let Some(m) = ctx.tx().get(src, &a[1]) else {
        return ctx.out.int(0);
    };
    if ctx.tx().get(dst, &a[1]).is_some() {
        return ctx.out.int(0);
    }
    let m = ctx.tx().relocated(src, &a[1], &m, dst, &a[1]);
    ctx.tx().delete(src, &a[1]);
    ctx.tx().put(dst, &a[1], &m);
    ctx.notify_in(src, Ev::MoveFrom, &a[1]);
    ctx.notify_in(dst, Ev::MoveTo, &a[1]);
    ctx.out.int(1);
}

/// EXPIRE and friends: `unit_ms` converts the argument to ms, `absolute`
/// says whether it is a timestamp.
fn expire_generic(ctx: &mut Ctx<'_>, a: &[Bytes], unit_ms: i64, absolute: bool, name: &str) {
    // Redis checks the options before the number.
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    for o in &a[3..] {
        if eq_ic(o, "nx") {
            nx = true;
        } else if eq_ic(o, "xx") {
            xx = true;
        } else if eq_ic(o, "gt") {
            gt = true;
        } else if eq_ic(o, "lt") {
            lt = true;
        } else {
            return ctx.err(&format!(
                "ERR Unsupported option {}",
                String::from_utf8_lossy(o)
            ));
        }
    }
    if nx && (xx || gt || lt) {
        return ctx.err("ERR NX and XX, GT or LT options at the same time are not compatible");
    }
    if gt && lt {
        return ctx.err("ERR GT and LT options at the same time are not compatible");
    }
    let Some(n) = int_arg(ctx, &a[2]) else { return };
    let at = n.checked_mul(unit_ms).and_then(|ms| {
        if absolute {
            Some(ms)
        } else {
            ms.checked_add(ctx.now)
        }
    });
    let Some(at) = at else {
        return ctx.err(&format!("ERR invalid expire time in '{name}' command"));
    };
    let db = ctx.db();
    let Some(m) = ctx.tx().get(db, &a[1]) else {
        return ctx.out.int(0);
    };
    let cur = m.expire_at;
    let ok = if nx {
        cur.is_none()
    } else if xx {
        cur.is_some()
            && (!gt || cur.is_some_and(|c| at > c))
            && (!lt || cur.is_some_and(|c| at < c))
    } else if gt {
        // No TTL counts as infinite: GT can never beat it.
        cur.is_some_and(|c| at > c)
    } else if lt {
        cur.is_none_or(|c| at < c)
    } else {
        true
    };
    if !ok {
        return ctx.out.int(0);
    }
    if at <= ctx.now {
        ctx.tx().delete(db, &a[1]);
        ctx.notify(Ev::Del, &a[1]);
    } else {
        ctx.tx().put(
            db,
            &a[1],
            &Meta {
                expire_at: Some(at),
                ..m
            },
        );
        ctx.notify(Ev::Expire, &a[1]);
    }
    ctx.out.int(1);
}

fn expire(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    expire_generic(ctx, a, 1000, false, "expire")
}

fn pexpire(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    expire_generic(ctx, a, 1, false, "pexpire")
}

fn expireat(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    expire_generic(ctx, a, 1000, true, "expireat")
}

fn pexpireat(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    expire_generic(ctx, a, 1, true, "pexpireat")
}

/// -2 absent, -1 no expiry, else `f(deadline)`.
fn ttl_generic(ctx: &mut Ctx<'_>, a: &[Bytes], f: impl Fn(i64, i64) -> i64) {
    let db = ctx.db();
    let r = match ctx.get(db, &a[1]) {
        None => -2,
        Some(Meta {
            expire_at: None, ..
        }) => -1,
        Some(Meta {
            expire_at: Some(t), ..
        }) => f(t, ctx.now),
    };
    ctx.out.int(r);
}

fn ttl(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    ttl_generic(ctx, a, |t, now| ((t - now).max(0) + 500) / 1000)
}

fn pttl(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    ttl_generic(ctx, a, |t, now| (t - now).max(0))
}

fn expiretime(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    ttl_generic(ctx, a, |t, _| (t + 500) / 1000)
}

fn pexpiretime(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    ttl_generic(ctx, a, |t, _| t)
}

fn persist(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let db = ctx.db();
    match ctx.tx().get(db, &a[1]) {
        Some(m) if m.expire_at.is_some() => {
            ctx.tx().put(
                db,
                &a[1],
                &Meta {
                    expire_at: None,
                    ..m
                },
            );
            ctx.notify(Ev::Persist, &a[1]);
            ctx.out.int(1);
        }
        _ => ctx.out.int(0),
    }
}
