//! Hash commands (Redis's t_hash.c): arguments and replies over
//! `types::hash`.

use super::ctx::Ev;
use super::{cmd, coll, flags::*, int_arg, Command, Ctx};
use crate::store::keys::Kind;
use crate::types::hash::Hash;
use crate::util::{eq_ic, parse_i64};
use bytes::Bytes;

pub(crate) fn commands() -> Vec<Command> {
    let k1 = (1, 1, 1);
    vec![
        cmd("hset", -4, WRITE | FAST, k1, "hash", "Creates or modifies the value of a field in a hash.", hset)
        .syntax("key field value [field value] ..."),
        cmd("hmset", -4, WRITE | FAST, k1, "hash", "Sets the values of multiple fields.", hmset)
        .syntax("key field value [field value] ..."),
        cmd("hsetnx", 4, WRITE | FAST, k1, "hash", "Sets the value of a field in a hash only when the field doesn't exist.", hsetnx)
        .syntax("key field value"),
        cmd("hget", 3, READONLY | FAST, k1, "hash", "Returns the value of a field in a hash.", hget)
        .syntax("key field"),
        cmd("hmget", -3, READONLY | FAST, k1, "hash", "Returns the values of all fields in a hash.", hmget)
        .syntax("key field ..."),
        cmd("hdel", -3, WRITE | FAST, k1, "hash", "Deletes one or more fields and their values from a hash. Deletes the hash if no fields remain.", hdel)
        .syntax("key field ..."),
        cmd("hlen", 2, READONLY | FAST, k1, "hash", "Returns the number of fields in a hash.", hlen)
        .syntax("key"),
        cmd("hexists", 3, READONLY | FAST, k1, "hash", "Determines whether a field exists in a hash.", hexists)
        .syntax("key field"),
        cmd("hstrlen", 3, READONLY | FAST, k1, "hash", "Returns the length of the value of a field.", hstrlen)
        .syntax("key field"),
        cmd("hkeys", 2, READONLY, k1, "hash", "Returns all fields in a hash.", hkeys)
        .syntax("key"),
        cmd("hvals", 2, READONLY, k1, "hash", "Returns all values in a hash.", hvals)
        .syntax("key"),
        cmd("hgetall", 2, READONLY, k1, "hash", "Returns all fields and values in a hash.", hgetall)
        .syntax("key"),
        cmd("hincrby", 4, WRITE | FAST, k1, "hash", "Increments the integer value of a field in a hash by a number. Uses 0 as initial value if the field doesn't exist.", hincrby)
        .syntax("key field increment"),
        cmd("hincrbyfloat", 4, WRITE | FAST, k1, "hash", "Increments the floating point value of a field by a number. Uses 0 as initial value if the field doesn't exist.", hincrbyfloat)
        .syntax("key field increment"),
        cmd("hrandfield", -2, READONLY, k1, "hash", "Returns one or more random fields from a hash.", hrandfield)
        .syntax("key [count [WITHVALUES]]"),
        cmd("hscan", -3, READONLY, k1, "hash", "Iterates over fields and values of a hash.", hscan)
        .syntax("key cursor [MATCH pattern] [COUNT count]"),
    ]
}

/// The hash at `key` for a read: Err after answering WRONGTYPE.
fn open(ctx: &mut Ctx<'_>, key: &Bytes) -> Result<Option<Hash>, ()> {
    Hash::open(&mut ctx.data(), key).map_err(|e| ctx.err(e.reply()))
}

/// The hash at `key` for a write (a new one if absent).
fn open_for_write(ctx: &mut Ctx<'_>, key: &Bytes) -> Result<Hash, ()> {
    Hash::open_for_write(&mut ctx.data(), key).map_err(|e| ctx.err(e.reply()))
}

/// Sets `pairs`; returns how many fields were new.
fn set_fields(ctx: &mut Ctx<'_>, key: &Bytes, pairs: &[Bytes], only_new: bool) -> Option<i64> {
    let mut h = open_for_write(ctx, key).ok()?;
    let mut db = ctx.data();
    let mut added = 0;
    for pair in pairs.chunks(2) {
        if only_new && h.get(&mut db, &pair[0]).is_some() {
            continue;
        }
        added += h.set(&mut db, &pair[0], pair[1].clone()) as i64;
    }
    h.save(&mut db);
    // HSETNX notifies only when it set; HSET and HMSET always do.
    if !only_new || added > 0 {
        ctx.notify(Ev::Hset, key);
    }
    Some(added)
}

fn hset(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    if !(a.len() - 2).is_multiple_of(2) {
        return ctx.err("ERR wrong number of arguments for 'hset' command");
    }
    if let Some(n) = set_fields(ctx, &a[1], &a[2..], false) {
        ctx.out.int(n);
    }
}

fn hmset(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    if !(a.len() - 2).is_multiple_of(2) {
        return ctx.err("ERR wrong number of arguments for 'hmset' command");
    }
    if set_fields(ctx, &a[1], &a[2..], false).is_some() {
        ctx.out.ok();
    }
}

fn hsetnx(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    if let Some(n) = set_fields(ctx, &a[1], &a[2..4], true) {
        ctx.out.int(n);
    }
}

/// The value of `field` in the hash at `key` (Err: answered WRONGTYPE).
fn field(ctx: &mut Ctx<'_>, key: &Bytes, field: &[u8]) -> Result<Option<Bytes>, ()> {
    let h = open(ctx, key)?;
    Ok(h.and_then(|h| h.get(&mut ctx.data(), field)))
}

fn hget(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    if let Ok(v) = field(ctx, &a[1], &a[2]) {
        ctx.out.bulk_opt(v.as_deref());
    }
}

fn hmget(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let Ok(h) = open(ctx, &a[1]) else {
        return;
    };
    ctx.out.array(a.len() - 2);
    for f in &a[2..] {
        let v = h.as_ref().and_then(|h| h.get(&mut ctx.data(), f));
        ctx.out.bulk_opt(v.as_deref());
    }
}

fn hdel(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let Ok(mut h) = open_for_write(ctx, &a[1]) else {
        return;
    };
    let mut db = ctx.data();
    let removed = a[2..].iter().filter(|f| h.remove(&mut db, f)).count();
    h.save(&mut db);
    if removed > 0 {
        ctx.notify_emptied(Ev::Hdel, &a[1]);
    }
    ctx.out.int(removed as i64);
}

fn hlen(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    if let Ok(h) = open(ctx, &a[1]) {
        ctx.out.int(h.map_or(0, |h| h.len() as i64));
    }
}

fn hexists(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    if let Ok(v) = field(ctx, &a[1], &a[2]) {
        ctx.out.int(v.is_some() as i64);
    }
}

fn hstrlen(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    if let Ok(v) = field(ctx, &a[1], &a[2]) {
        ctx.out.int(v.map_or(0, |v| v.len()) as i64);
    }
}

fn fields_of(ctx: &mut Ctx<'_>, key: &Bytes) -> Option<Vec<(Bytes, Bytes)>> {
    let h = open(ctx, key).ok()?;
    Some(h.map_or_else(Vec::new, |h| h.all(&mut ctx.data())))
}

fn hkeys(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let Some(all) = fields_of(ctx, &a[1]) else {
        return;
    };
    ctx.out.array(all.len());
    for (f, _) in all {
        ctx.out.bulk(&f);
    }
}

fn hvals(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let Some(all) = fields_of(ctx, &a[1]) else {
        return;
    };
    ctx.out.array(all.len());
    for (_, v) in all {
        ctx.out.bulk(&v);
    }
}

fn hgetall(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let Some(all) = fields_of(ctx, &a[1]) else {
        return;
    };
    ctx.out.map(all.len());
    for (f, v) in all {
        ctx.out.bulk(&f);
        ctx.out.bulk(&v);
    }
}

/// Shared by HINCRBY and HINCRBYFLOAT: reads the field, computes, writes.
fn incr_field(
    ctx: &mut Ctx<'_>,
    a: &[Bytes],
    compute: impl FnOnce(Option<&[u8]>) -> Result<Bytes, &'static str>,
) -> Option<Bytes> {
    let mut h = open_for_write(ctx, &a[1]).ok()?;
    let mut db = ctx.data();
    let cur = h.get(&mut db, &a[2]);
    let new = match compute(cur.as_deref()) {
        Ok(v) => v,
        Err(e) => {
            ctx.err(e);
            return None;
        }
    };
    h.set(&mut db, &a[2], new.clone());
    h.save(&mut db);
    Some(new)
}

fn hincrby(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let Some(by) = int_arg(ctx, &a[3]) else {
        return;
    };
    let r = incr_field(ctx, a, |cur| {
        let n = match cur {
            Some(v) => parse_i64(v).ok_or("ERR hash value is not an integer")?,
            None => 0,
        };
        let sum = n
            .checked_add(by)
            .ok_or("ERR increment or decrement would overflow")?;
        Ok(Bytes::from(sum.to_string()))
    });
    if let Some(v) = r {
        ctx.notify(Ev::Hincrby, &a[1]);
        ctx.out.int(parse_i64(&v).unwrap_or(0));
    }
}

fn hincrbyfloat(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    if super::float80::parse(&a[3]).is_none() {
        return ctx.err("ERR value is not a valid float");
    }
    if super::float80::incr(b"0", &a[3]).is_err() {
        return ctx.err("ERR value is NaN or Infinity");
    }
    let by = a[3].clone();
    let r = incr_field(ctx, a, |cur| {
        let cur = cur.unwrap_or(b"0");
        if super::float80::parse(cur).is_none() {
            return Err("ERR hash value is not a float");
        }
        super::float80::incr(cur, &by).map(Bytes::from)
    });
    if let Some(v) = r {
        ctx.notify(Ev::Hincrbyfloat, &a[1]);
        ctx.out.bulk(&v);
    }
}

fn hrandfield(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    use rand::Rng;
    let count = match a.get(2) {
        Some(c) => match parse_i64(c) {
            Some(n) => Some(n),
            None => return ctx.not_int(),
        },
        None => None,
    };
    let withvalues = match a.get(3) {
        Some(w) if eq_ic(w, "withvalues") && a.len() == 4 => true,
        Some(_) => return ctx.syntax_err(),
        None => false,
    };
    // Redis's bound: the reply must stay addressable.
    if let Some(n) = count {
        let limit = if withvalues { i64::MAX / 2 } else { i64::MAX };
        if n < -limit || n == i64::MIN {
            return ctx.err("ERR value is out of range");
        }
    }
    let Ok(h) = open(ctx, &a[1]) else {
        return;
    };
    let mut rng = rand::thread_rng();
    let Some(h) = h else {
        return match count {
            None => ctx.out.null(),
            Some(_) => ctx.out.array(0),
        };
    };
    let mut db = ctx.data();
    let p = h.prefix();
    let Some(n) = count else {
        let pick = db.random_elem(p, &mut rng).map(|(f, _)| f);
        return ctx.out.bulk_opt(pick.as_deref());
    };
    let picked: Vec<(Bytes, Bytes)> = if n >= 0 {
        db.random_distinct(p, h.len(), n as u64)
    } else {
        let k = n.unsigned_abs().min(1 << 24);
        if k <= 1000 && k.saturating_mul(4) < h.len() {
            (0..k).filter_map(|_| db.random_elem(p, &mut rng)).collect()
        } else {
            let all = h.all(&mut db);
            (0..k)
                .map(|_| all[rng.gen_range(0..all.len())].clone())
                .collect()
        }
    };
    let chosen: Vec<&(Bytes, Bytes)> = picked.iter().collect();
    if withvalues && ctx.out.resp3 {
        ctx.out.array(chosen.len());
        for (f, v) in chosen {
            ctx.out.array(2);
            ctx.out.bulk(f);
            ctx.out.bulk(v);
        }
    } else {
        ctx.out.array(chosen.len() * if withvalues { 2 } else { 1 });
        for (f, v) in chosen {
            ctx.out.bulk(f);
            if withvalues {
                ctx.out.bulk(v);
            }
        }
    }
}

fn hscan(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    coll::scan(ctx, a, Kind::Hash);
}
