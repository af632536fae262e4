//! Set commands (Redis's t_set.c). A set is a metadata entry (version,
//! member count) plus one sled key per member with an empty value.

use super::{cmd, coll, flags::*, Command, Ctx};
use crate::store::keys::{sub_key, Kind, Meta};
use crate::util::{eq_ic, parse_i64};
use bytes::Bytes;
use std::collections::BTreeSet;

pub fn commands() -> Vec<Command> {
    let k1 = (1, 1, 1);
    let all = (1, -1, 1);
    vec![
        cmd("sadd", -3, WRITE | FAST, k1, "set", "Adds one or more members to a set. Creates the key if it doesn't exist.", sadd),
        cmd("srem", -3, WRITE | FAST, k1, "set", "Removes one or more members from a set. Deletes the set if the last member was removed.", srem),
        cmd("sismember", 3, READONLY | FAST, k1, "set", "Determines whether a member belongs to a set.", sismember),
        cmd("smismember", -3, READONLY | FAST, k1, "set", "Determines whether multiple members belong to a set.", smismember),
        cmd("scard", 2, READONLY | FAST, k1, "set", "Returns the number of members in a set.", scard),
        cmd("smembers", 2, READONLY, k1, "set", "Returns all members of a set.", smembers),
        cmd("srandmember", -2, READONLY, k1, "set", "Get one or multiple random members from a set", srandmember),
        cmd("spop", -2, WRITE | FAST, k1, "set", "Returns one or more random members from a set after removing them. Deletes the set if the last member was popped.", spop),
        cmd("smove", 4, WRITE | FAST, (1, 2, 1), "set", "Moves a member from one set to another.", smove),
        cmd("sinter", -2, READONLY, all, "set", "Returns the intersect of multiple sets.", sinter),
        cmd("sinterstore", -3, WRITE, all, "set", "Stores the intersect of multiple sets in a key.", sinterstore),
        cmd("sintercard", -3, READONLY, (2, 2, 1), "set", "Returns the number of members of the intersect of multiple sets.", sintercard),
        cmd("sunion", -2, READONLY, all, "set", "Returns the union of multiple sets.", sunion),
        cmd("sunionstore", -3, WRITE, all, "set", "Stores the union of multiple sets in a key.", sunionstore),
        cmd("sdiff", -2, READONLY, all, "set", "Returns the difference of multiple sets.", sdiff),
        cmd("sdiffstore", -3, WRITE, all, "set", "Stores the difference of multiple sets in a key.", sdiffstore),
        cmd("sscan", -3, READONLY, k1, "set", "Iterates over members of a set.", sscan),
    ]
}

const EMPTY: Bytes = Bytes::from_static(b"");

/// Adds `members` to the set at `key` in `db` (created if absent); the
/// number added, or None after WRONGTYPE.
fn add_members(ctx: &mut Ctx<'_>, key: &[u8], members: &[Bytes]) -> Option<i64> {
    let old = coll::get_tx(ctx, Kind::Set, key).ok()?;
    let (version, mut len, expire_at) = coll::version_of(ctx, old.as_ref());
    let m = Meta::collection(Kind::Set, version, len, expire_at);
    let p = coll::prefix(ctx, key, &m);
    let mut added = 0;
    for mem in members {
        if coll::elem(ctx, &p, mem).is_none() {
            ctx.tx().sub_put(sub_key(&p, mem), EMPTY);
            added += 1;
            len += 1;
        }
    }
    if added > 0 {
        coll::put_meta(ctx, Kind::Set, key, version, len, expire_at);
    }
    Some(added)
}

fn sadd(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    if let Some(n) = add_members(ctx, &a[1], &a[2..]) {
        ctx.out.int(n);
    }
}

/// Removes `members`; the number removed (the key goes when empty).
fn remove_members(ctx: &mut Ctx<'_>, key: &[u8], m: &Meta, members: &[Bytes]) -> i64 {
    let (version, mut len) = m.coll();
    let p = coll::prefix(ctx, key, m);
    let mut removed = 0;
    for mem in members {
        if coll::elem(ctx, &p, mem).is_some() {
            ctx.tx().sub_del(sub_key(&p, mem));
            removed += 1;
            len = len.saturating_sub(1);
        }
    }
    if removed > 0 {
        coll::put_meta(ctx, Kind::Set, key, version, len, m.expire_at);
    }
    removed
}

fn srem(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let Ok(old) = coll::get_tx(ctx, Kind::Set, &a[1]) else {
        return;
    };
    let n = match old {
        Some(m) => remove_members(ctx, &a[1], &m, &a[2..]),
        None => 0,
    };
    ctx.out.int(n);
}

fn is_member(ctx: &mut Ctx<'_>, key: &[u8], m: &Meta, member: &[u8]) -> bool {
    let p = coll::prefix(ctx, key, m);
    coll::elem(ctx, &p, member).is_some()
}

fn sismember(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let Ok(m) = coll::get(ctx, Kind::Set, &a[1]) else {
        return;
    };
    let found = m.is_some_and(|m| is_member(ctx, &a[1], &m, &a[2]));
    ctx.out.int(found as i64);
}

fn smismember(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let Ok(m) = coll::get(ctx, Kind::Set, &a[1]) else {
        return;
    };
    ctx.out.array(a.len() - 2);
    for mem in &a[2..] {
        let found = m.as_ref().is_some_and(|m| is_member(ctx, &a[1], m, mem));
        ctx.out.int(found as i64);
    }
}

fn scard(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    if let Ok(m) = coll::get(ctx, Kind::Set, &a[1]) {
        ctx.out.int(m.map_or(0, |m| m.coll().1 as i64));
    }
}

/// Every member of the set at `key` (empty if absent).
fn members_of(ctx: &mut Ctx<'_>, key: &[u8], m: Option<&Meta>) -> Vec<Bytes> {
    match m {
        Some(m) => {
            let p = coll::prefix(ctx, key, m);
            coll::all(ctx, &p).into_iter().map(|(k, _)| k).collect()
        }
        None => Vec::new(),
    }
}

fn reply_set(ctx: &mut Ctx<'_>, members: &[Bytes]) {
    ctx.out.set(members.len());
    for m in members {
        ctx.out.bulk(m);
    }
}

fn smembers(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let Ok(m) = coll::get(ctx, Kind::Set, &a[1]) else {
        return;
    };
    let all = members_of(ctx, &a[1], m.as_ref());
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
    let Ok(m) = coll::get(ctx, Kind::Set, &a[1]) else {
        return;
    };
    let Some(m) = m else {
        return match count {
            None => ctx.out.null(),
            Some(_) => ctx.out.array(0),
        };
    };
    let picks = random_picks(ctx, &a[1], &m, count);
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
fn random_picks(ctx: &mut Ctx<'_>, key: &[u8], m: &Meta, count: Option<i64>) -> Vec<Bytes> {
    use rand::Rng;
    let p = coll::prefix(ctx, key, m);
    let len = m.coll().1;
    let mut rng = rand::thread_rng();
    match count {
        None => coll::random_elem(ctx, &p, &mut rng)
            .map(|(k, _)| vec![k])
            .unwrap_or_default(),
        Some(n) if n >= 0 => coll::random_distinct(ctx, &p, len, n as u64)
            .into_iter()
            .map(|(k, _)| k)
            .collect(),
        Some(n) => {
            let k = n.unsigned_abs().min(1 << 24);
            if k <= 1000 && k.saturating_mul(4) < len {
                (0..k)
                    .filter_map(|_| coll::random_elem(ctx, &p, &mut rng).map(|(x, _)| x))
                    .collect()
            } else {
                let all: Vec<Bytes> = coll::all(ctx, &p).into_iter().map(|(x, _)| x).collect();
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
    let Ok(old) = coll::get_tx(ctx, Kind::Set, &a[1]) else {
        return;
    };
    let Some(m) = old else {
        return match count {
            None => ctx.out.null(),
            Some(_) => ctx.out.set(0),
        };
    };
    // The members removed are the effects replicated: replicas get the
    // same result, whatever the randomness.
    let len = m.coll().1;
    let n = count.unwrap_or(1).min(len);
    let p = coll::prefix(ctx, &a[1], &m);
    let popped: Vec<Bytes> = coll::random_distinct(ctx, &p, len, n)
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    remove_members(ctx, &a[1], &m, &popped);
    match count {
        None => ctx.out.bulk_opt(popped.first().map(|b| &b[..])),
        Some(_) => reply_set(ctx, &popped),
    }
}

fn smove(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let db = ctx.db();
    let src = ctx.tx().get(db, &a[1]);
    let dst = ctx.tx().get(db, &a[2]);
    // Redis's order: a missing source answers 0 before any type check.
    let Some(src) = src else {
        return ctx.out.int(0);
    };
    if src.kind != Kind::Set || dst.as_ref().is_some_and(|d| d.kind != Kind::Set) {
        return ctx.wrongtype();
    }
    if a[1] == a[2] {
        let found = is_member(ctx, &a[1], &src, &a[3]);
        return ctx.out.int(found as i64);
    }
    if remove_members(ctx, &a[1], &src, &a[3..4]) == 0 {
        return ctx.out.int(0);
    }
    add_members(ctx, &a[2], &a[3..4]);
    ctx.out.int(1);
}

/// The sets named by `keys`: `None` for a missing key (an empty set); an
/// error (already answered) if any key holds another type, as Redis checks
/// every key before computing.
fn lookup_sets(ctx: &mut Ctx<'_>, keys: &[Bytes]) -> Result<Vec<Option<Meta>>, ()> {
    let db = ctx.db();
    let mut out = Vec::with_capacity(keys.len());
    for k in keys {
        match ctx.get(db, k) {
            Some(m) if m.kind != Kind::Set => {
                ctx.wrongtype();
                return Err(());
            }
            m => out.push(m),
        }
    }
    Ok(out)
}

/// The intersection, in member order; `limit` 0 = all.
fn inter(ctx: &mut Ctx<'_>, keys: &[Bytes], sets: &[Option<Meta>], limit: usize) -> Vec<Bytes> {
    if sets.iter().any(|s| s.is_none()) {
        return Vec::new();
    }
    // Walk the smallest set, probe the others, as Redis does.
    let mut order: Vec<usize> = (0..sets.len()).collect();
    order.sort_by_key(|&i| sets[i].as_ref().map_or(0, |m| m.coll().1));
    let first = order[0];
    let base = members_of(ctx, &keys[first], sets[first].as_ref());
    let prefixes: Vec<Vec<u8>> = order[1..]
        .iter()
        .filter_map(|&i| sets[i].as_ref().map(|m| coll::prefix(ctx, &keys[i], m)))
        .collect();
    let mut out = Vec::new();
    for mem in base {
        if prefixes.iter().all(|p| coll::elem(ctx, p, &mem).is_some()) {
            out.push(mem);
            if limit > 0 && out.len() >= limit {
                break;
            }
        }
    }
    out
}

fn union_diff(ctx: &mut Ctx<'_>, keys: &[Bytes], sets: &[Option<Meta>], diff: bool) -> Vec<Bytes> {
    let mut acc: BTreeSet<Bytes> = BTreeSet::new();
    for (i, (k, m)) in keys.iter().zip(sets).enumerate() {
        let members = members_of(ctx, k, m.as_ref());
        if diff && i > 0 {
            for x in members {
                acc.remove(&x);
            }
            if acc.is_empty() {
                break;
            }
        } else {
            acc.extend(members);
        }
        if diff && i == 0 && acc.is_empty() {
            break;
        }
    }
    acc.into_iter().collect()
}

/// Replaces `dst` with a set of `members` (deleted when empty), answering
/// the count.
fn store(ctx: &mut Ctx<'_>, dst: &[u8], members: Vec<Bytes>) {
    let db = ctx.db();
    let n = members.len() as u64;
    ctx.tx().delete(db, dst);
    if n > 0 {
        let version = ctx.tx().new_version();
        let m = Meta::collection(Kind::Set, version, n, None);
        let p = coll::prefix(ctx, dst, &m);
        for mem in &members {
            ctx.tx().sub_put(sub_key(&p, mem), EMPTY);
        }
        ctx.tx().put(db, dst, &m);
    }
    ctx.out.int(n as i64);
}

fn sinter(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let keys = &a[1..];
    let Ok(sets) = lookup_sets(ctx, keys) else {
        return;
    };
    let r = inter(ctx, keys, &sets, 0);
    reply_set(ctx, &r);
}

fn sinterstore(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let keys = &a[2..];
    let Ok(sets) = lookup_sets(ctx, keys) else {
        return;
    };
    let r = inter(ctx, keys, &sets, 0);
    store(ctx, &a[1], r);
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
    let Ok(sets) = lookup_sets(ctx, keys) else {
        return;
    };
    let r = inter(ctx, keys, &sets, limit);
    ctx.out.int(r.len() as i64);
}

fn sunion(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let Ok(sets) = lookup_sets(ctx, &a[1..]) else {
        return;
    };
    let r = union_diff(ctx, &a[1..], &sets, false);
    reply_set(ctx, &r);
}

fn sunionstore(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let Ok(sets) = lookup_sets(ctx, &a[2..]) else {
        return;
    };
    let r = union_diff(ctx, &a[2..], &sets, false);
    store(ctx, &a[1], r);
}

fn sdiff(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let Ok(sets) = lookup_sets(ctx, &a[1..]) else {
        return;
    };
    let r = union_diff(ctx, &a[1..], &sets, true);
    reply_set(ctx, &r);
}

fn sdiffstore(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let Ok(sets) = lookup_sets(ctx, &a[2..]) else {
        return;
    };
    let r = union_diff(ctx, &a[2..], &sets, true);
    store(ctx, &a[1], r);
}

fn sscan(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    coll::scan(ctx, a, Kind::Set);
}
