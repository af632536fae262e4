//! Set commands (Redis's t_set.c): arguments and replies over
//! `types::set`.

use super::ctx::Ev;
use super::{cmd, coll, flags::*, Command, Ctx};
use crate::store::keys::Kind;
use crate::types::set::{self, member_tag, OpenSet};
use crate::types::TypeError;
use crate::util::{eq_ic, parse_i64};
use bytes::Bytes;

pub(crate) fn commands() -> Vec<Command> {
    let k1 = (1, 1, 1);
    let all = (1, -1, 1);
    vec![
        cmd("sadd", -3, WRITE | FAST, k1, "set", "Adds one or more members to a set. Creates the key if it doesn't exist.", sadd)
        .syntax("key member ..."),
        cmd("srem", -3, WRITE | FAST, k1, "set", "Removes one or more members from a set. Deletes the set if the last member was removed.", srem)
        .syntax("key member ..."),
        cmd("sismember", 3, READONLY | FAST, k1, "set", "Determines whether a member belongs to a set.", sismember)
        .syntax("key member"),
        cmd("smismember", -3, READONLY | FAST, k1, "set", "Determines whether multiple members belong to a set.", smismember)
        .syntax("key member ..."),
        cmd("scard", 2, READONLY | FAST, k1, "set", "Returns the number of members in a set.", scard)
        .syntax("key"),
        cmd("smembers", 2, READONLY, k1, "set", "Returns all members of a set.", smembers)
        .syntax("key"),
        cmd("srandmember", -2, READONLY, k1, "set", "Get one or multiple random members from a set", srandmember)
        .syntax("key [count]"),
        cmd("spop", -2, WRITE | FAST, k1, "set", "Returns one or more random members from a set after removing them. Deletes the set if the last member was popped.", spop)
        .syntax("key [count]"),
        cmd("smove", 4, WRITE | FAST, (1, 2, 1), "set", "Moves a member from one set to another.", smove)
        .syntax("source destination member"),
        cmd("sinter", -2, READONLY, all, "set", "Returns the intersect of multiple sets.", sinter)
        .syntax("key ..."),
        cmd("sinterstore", -3, WRITE, all, "set", "Stores the intersect of multiple sets in a key.", sinterstore)
        .syntax("destination key ..."),
        cmd("sintercard", -3, READONLY, (2, 2, 1), "set", "Returns the number of members of the intersect of multiple sets.", sintercard)
        .syntax("numkeys key ... [LIMIT limit]"),
        cmd("sunion", -2, READONLY, all, "set", "Returns the union of multiple sets.", sunion)
        .syntax("key ..."),
        cmd("sunionstore", -3, WRITE, all, "set", "Stores the union of multiple sets in a key.", sunionstore)
        .syntax("destination key ..."),
        cmd("sdiff", -2, READONLY, all, "set", "Returns the difference of multiple sets.", sdiff)
        .syntax("key ..."),
        cmd("sdiffstore", -3, WRITE, all, "set", "Stores the difference of multiple sets in a key.", sdiffstore)
        .syntax("destination key ..."),
        cmd("sscan", -3, READONLY, k1, "set", "Iterates over members of a set.", sscan)
        .syntax("key cursor [MATCH pattern] [COUNT count]"),
    ]
}

/// Answers a type error (WRONGTYPE).
fn answer(ctx: &mut Ctx<'_>, e: TypeError) {
    ctx.err(e.reply());
}

fn sadd(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let mut db = ctx.data();
    let r = OpenSet::open_for_write(&mut db, &a[1]).map(|mut s| {
        let added = a[2..].iter().filter(|m| s.add(&mut db, m)).count();
        s.save(&mut db);
        added
    });
    match r {
        Ok(n) => {
            if n > 0 {
                ctx.notify(Ev::Sadd, &a[1]);
            }
            ctx.out.int(n as i64)
        }
        Err(e) => answer(ctx, e),
    }
}

fn srem(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let mut db = ctx.data();
    let r = OpenSet::open_tx(&mut db, &a[1]).map(|s| {
        s.map_or(0, |mut s| {
            let removed = a[2..].iter().filter(|m| s.remove(&mut db, m)).count();
            s.save(&mut db);
            removed
        })
    });
    match r {
        Ok(n) => {
            if n > 0 {
                ctx.notify_emptied(Ev::Srem, &a[1]);
            }
            ctx.out.int(n as i64)
        }
        Err(e) => answer(ctx, e),
    }
}

/// The set at `key` for a read: Err after answering WRONGTYPE.
fn open(ctx: &mut Ctx<'_>, key: &Bytes) -> Result<Option<OpenSet>, ()> {
    OpenSet::open(&mut ctx.data(), key).map_err(|e| answer(ctx, e))
}

fn sismember(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let Ok(s) = open(ctx, &a[1]) else {
        return;
    };
    let found = s.is_some_and(|s| s.has(&mut ctx.data(), &a[2]));
    ctx.out.int(found as i64);
}

fn smismember(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let Ok(s) = open(ctx, &a[1]) else {
        return;
    };
    ctx.out.array(a.len() - 2);
    for mem in &a[2..] {
        let found = s.as_ref().is_some_and(|s| s.has(&mut ctx.data(), mem));
        ctx.out.int(found as i64);
    }
}

fn scard(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    if let Ok(s) = open(ctx, &a[1]) {
        ctx.out.int(s.map_or(0, |s| s.len() as i64));
    }
}

fn reply_set(ctx: &mut Ctx<'_>, members: &[Bytes]) {
    ctx.out.set(members.len());
    for m in members {
        ctx.out.bulk(m);
    }
}

fn smembers(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let Ok(s) = open(ctx, &a[1]) else {
        return;
    };
    let all = s.map_or_else(Vec::new, |s| s.members(&mut ctx.data()));
    reply_set(ctx, &all);
}

fn srandmember(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    if a.len() > 3 {
        return ctx.syntax_err();
    }
    let count = match a.get(2) {
        Some(c) => match parse_i64(c) {
            Some(i64::MIN) => return ctx.err("ERR value is out of range"),
            Some(n) => Some(n),
            None => return ctx.not_int(),
        },
        None => None,
    };
    let Ok(s) = open(ctx, &a[1]) else {
        return;
    };
    let Some(s) = s else {
        return match count {
            None => ctx.out.null(),
            Some(_) => ctx.out.array(0),
        };
    };
    let picks = random_picks(ctx, &s, count);
    match count {
        None => ctx.out.bulk_opt(picks.first().map(|b| &b[..])),
        Some(_) => {
            ctx.out.array(picks.len());
            for x in picks {
                ctx.out.bulk(&x);
            }
        }
    }
}

/// SRANDMEMBER's picks: one (no count), distinct ones (count >= 0) or
/// `-count` with repeats, without reading a big set whole.
fn random_picks(ctx: &mut Ctx<'_>, s: &OpenSet, count: Option<i64>) -> Vec<Bytes> {
    use rand::Rng;
    let mut db = ctx.data();
    let mut rng = rand::thread_rng();
    match count {
        None => s.random_member(&mut db, &mut rng).into_iter().collect(),
        Some(n) if n >= 0 => s.random_distinct(&mut db, n as u64),
        Some(n) => {
            let k = n.unsigned_abs().min(1 << 24);
            if k <= 1000 && k.saturating_mul(4) < s.len() {
                (0..k)
                    .filter_map(|_| s.random_member(&mut db, &mut rng))
                    .collect()
            } else {
                let all = s.members(&mut db);
                if all.is_empty() {
                    return all;
                }
                (0..k)
                    .map(|_| all[rng.gen_range(0..all.len())].clone())
                    .collect()
            }
        }
    }
}

fn spop(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    if a.len() > 3 {
        return ctx.syntax_err();
    }
    let Ok(count) = coll::pop_count(ctx, a) else {
        return;
    };
    let mut db = ctx.data();
    let s = match OpenSet::open_tx(&mut db, &a[1]) {
        Ok(s) => s,
        Err(e) => return answer(ctx, e),
    };
    let Some(s) = s else {
        return match count {
            None => ctx.out.null(),
            Some(_) => ctx.out.set(0),
        };
    };
    let popped = s.pop(&mut db, count.unwrap_or(1));
    if !popped.is_empty() {
        let db = ctx.db();
        if count.is_some() && ctx.get(db, &a[1]).is_none() {
            // The whole set (Redis's DEL path, replicated as DEL).
            ctx.notify(Ev::SpopAll, &a[1]);
            ctx.notify(Ev::Del, &a[1]);
        } else {
            ctx.notify_emptied(Ev::Spop, &a[1]);
        }
    }
    match count {
        None => ctx.out.bulk_opt(popped.first().map(|b| &b[..])),
        Some(_) => reply_set(ctx, &popped),
    }
}

fn smove(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    // Redis's order: srem (and del) on the source, then new and sadd.
    let (r, dst_new) = ctx.without_new(&a[2], |ctx| {
        set::move_member(&mut ctx.data(), &a[1], &a[2], &a[3])
    });
    match r {
        Ok(moved) => {
            if moved && a[1] != a[2] {
                ctx.notify_emptied(Ev::Srem, &a[1]);
                if dst_new {
                    ctx.notify(Ev::New, &a[2]);
                }
                ctx.notify(Ev::Sadd, &a[2]);
            }
            ctx.out.int(moved as i64)
        }
        Err(e) => answer(ctx, e),
    }
}

/// The sets named by `keys`: Err after answering WRONGTYPE.
fn open_all(ctx: &mut Ctx<'_>, keys: &[Bytes]) -> Result<Vec<Option<OpenSet>>, ()> {
    OpenSet::open_all(&mut ctx.data(), keys).map_err(|e| answer(ctx, e))
}

/// Replaces `dst` with a set of `members` (deleted when empty), answering
/// the count.
fn store(ctx: &mut Ctx<'_>, dst: &Bytes, members: Vec<Bytes>, ev: Ev) {
    let (n, absent) = ctx.without_new(dst, |ctx| set::replace(&mut ctx.data(), dst, &members));
    stored(ctx, dst, n > 0, absent, ev);
    ctx.out.int(n as i64);
}

/// The events of a *STORE that replaced `dst` (Redis's `setKey`: `new`
/// only for a key that was absent) or deleted it for an empty result.
pub(crate) fn stored(ctx: &mut Ctx<'_>, dst: &[u8], filled: bool, absent: bool, ev: Ev) {
    if filled {
        if absent {
            ctx.notify(Ev::New, dst);
        }
        ctx.notify(ev, dst);
    } else if !absent {
        ctx.notify(Ev::Del, dst);
    }
}

fn sinter(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let Ok(sets) = open_all(ctx, &a[1..]) else {
        return;
    };
    let r = set::inter(&mut ctx.data(), &sets, 0);
    reply_set(ctx, &r);
}

fn sinterstore(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let Ok(sets) = open_all(ctx, &a[2..]) else {
        return;
    };
    let r = set::inter(&mut ctx.data(), &sets, 0);
    store(ctx, &a[1], r, Ev::Sinterstore);
}

fn sintercard(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let numkeys = match parse_i64(&a[1]) {
        Some(n) if n > 0 => n as usize,
        Some(_) => return ctx.err("ERR numkeys should be greater than 0"),
        None => return ctx.err("ERR numkeys should be greater than 0"),
    };
    if numkeys > a.len() - 2 {
        return ctx.err("ERR Number of keys can't be greater than number of args");
    }
    let keys = &a[2..2 + numkeys];
    let mut limit = 0usize;
    let mut i = 2 + numkeys;
    while i < a.len() {
        if eq_ic(&a[i], "limit") && i + 1 < a.len() {
            match parse_i64(&a[i + 1]) {
                Some(n) if n >= 0 => limit = n as usize,
                Some(_) => return ctx.err("ERR LIMIT can't be negative"),
                None => return ctx.err("ERR LIMIT can't be negative"),
            }
            i += 2;
        } else {
            return ctx.syntax_err();
        }
    }
    let Ok(sets) = open_all(ctx, keys) else {
        return;
    };
    let r = set::inter(&mut ctx.data(), &sets, limit);
    ctx.out.int(r.len() as i64);
}

fn sunion(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let Ok(sets) = open_all(ctx, &a[1..]) else {
        return;
    };
    let r = set::union(&mut ctx.data(), &sets);
    reply_set(ctx, &r);
}

fn sunionstore(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let Ok(sets) = open_all(ctx, &a[2..]) else {
        return;
    };
    let r = set::union(&mut ctx.data(), &sets);
    store(ctx, &a[1], r, Ev::Sunionstore);
}

fn sdiff(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let Ok(sets) = open_all(ctx, &a[1..]) else {
        return;
    };
    let r = set::diff(&mut ctx.data(), &sets);
    reply_set(ctx, &r);
}

fn sdiffstore(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let Ok(sets) = open_all(ctx, &a[2..]) else {
        return;
    };
    let r = set::diff(&mut ctx.data(), &sets);
    store(ctx, &a[1], r, Ev::Sdiffstore);
}

fn sscan(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    coll::scan_under(ctx, a, Kind::Set, member_tag, |v| v.clone());
}
