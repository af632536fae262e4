//! Hash commands (Redis's t_hash.c). A hash is a metadata entry (version,
//! field count) plus one sled key per field, so a command touches only the
//! fields it names and its WAL record holds only those.

use super::{cmd, coll, flags::*, int_arg, Command, Ctx};
use crate::store::keys::{sub_key, Kind, Meta};
use crate::util::{eq_ic, parse_i64};
use bytes::Bytes;

pub fn commands() -> Vec<Command> {
    let k1 = (1, 1, 1);
    vec![
        cmd("hset", -4, WRITE | FAST, k1, "hash", "Creates or modifies the value of a field in a hash.", hset),
        cmd("hmset", -4, WRITE | FAST, k1, "hash", "Sets the values of multiple fields.", hmset),
        cmd("hsetnx", 4, WRITE | FAST, k1, "hash", "Sets the value of a field in a hash only when the field doesn't exist.", hsetnx),
        cmd("hget", 3, READONLY | FAST, k1, "hash", "Returns the value of a field in a hash.", hget),
        cmd("hmget", -3, READONLY | FAST, k1, "hash", "Returns the values of all fields in a hash.", hmget),
        cmd("hdel", -3, WRITE | FAST, k1, "hash", "Deletes one or more fields and their values from a hash. Deletes the hash if no fields remain.", hdel),
        cmd("hlen", 2, READONLY | FAST, k1, "hash", "Returns the number of fields in a hash.", hlen),
        cmd("hexists", 3, READONLY | FAST, k1, "hash", "Determines whether a field exists in a hash.", hexists),
        cmd("hstrlen", 3, READONLY | FAST, k1, "hash", "Returns the length of the value of a field.", hstrlen),
        cmd("hkeys", 2, READONLY, k1, "hash", "Returns all fields in a hash.", hkeys),
        cmd("hvals", 2, READONLY, k1, "hash", "Returns all values in a hash.", hvals),
        cmd("hgetall", 2, READONLY, k1, "hash", "Returns all fields and values in a hash.", hgetall),
        cmd("hincrby", 4, WRITE | FAST, k1, "hash", "Increments the integer value of a field in a hash by a number. Uses 0 as initial value if the field doesn't exist.", hincrby),
        cmd("hincrbyfloat", 4, WRITE | FAST, k1, "hash", "Increments the floating point value of a field by a number. Uses 0 as initial value if the field doesn't exist.", hincrbyfloat),
        cmd("hrandfield", -2, READONLY, k1, "hash", "Returns one or more random fields from a hash.", hrandfield),
        cmd("hscan", -3, READONLY, k1, "hash", "Iterates over fields and values of a hash.", hscan),
    ]
}

/// Sets `pairs`; returns how many fields were new.
fn set_fields(ctx: &mut Ctx<'_>, key: &[u8], pairs: &[Bytes], only_new: bool) -> Option<i64> {
    let Ok(old) = coll::get_tx(ctx, Kind::Hash, key) else {
        return None;
    };
    let (version, mut len, expire_at) = match &old {
        Some(m) => {
            let (v, l) = m.coll();
            (v, l, m.expire_at)
        }
        None => (ctx.tx().new_version(), 0, None),
    };
    let m = Meta::collection(Kind::Hash, version, len, expire_at);
    let p = coll::prefix(ctx, key, &m);
    let mut added = 0;
    for pair in pairs.chunks(2) {
        let exists = coll::elem(ctx, &p, &pair[0]).is_some();
        if exists && only_new {
            continue;
        }
        if !exists {
            added += 1;
            len += 1;
        }
        ctx.tx().sub_put(sub_key(&p, &pair[0]), pair[1].clone());
    }
    if added > 0 || !only_new {
        coll::put_meta(ctx, Kind::Hash, key, version, len, expire_at);
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

fn hget(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let Ok(m) = coll::get(ctx, Kind::Hash, &a[1]) else {
        return;
    };
    let v = m.and_then(|m| {
        let p = coll::prefix(ctx, &a[1], &m);
        coll::elem(ctx, &p, &a[2])
    });
    ctx.out.bulk_opt(v.as_deref());
}

fn hmget(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let Ok(m) = coll::get(ctx, Kind::Hash, &a[1]) else {
        return;
    };
    let p = m.map(|m| coll::prefix(ctx, &a[1], &m));
    ctx.out.array(a.len() - 2);
    for f in &a[2..] {
        let v = p.as_ref().and_then(|p| coll::elem(ctx, p, f));
        ctx.out.bulk_opt(v.as_deref());
    }
}

fn hdel(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let Ok(old) = coll::get_tx(ctx, Kind::Hash, &a[1]) else {
        return;
    };
    let Some(m) = old else {
        return ctx.out.int(0);
    };
    let (version, mut len) = m.coll();
    let p = coll::prefix(ctx, &a[1], &m);
    let mut removed = 0;
    for f in &a[2..] {
        if coll::elem(ctx, &p, f).is_some() {
            ctx.tx().sub_del(sub_key(&p, f));
            removed += 1;
            len = len.saturating_sub(1);
        }
    }
    if removed > 0 {
        coll::put_meta(ctx, Kind::Hash, &a[1], version, len, m.expire_at);
    }
    ctx.out.int(removed);
}

fn hlen(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    if let Ok(m) = coll::get(ctx, Kind::Hash, &a[1]) {
        ctx.out.int(m.map_or(0, |m| m.coll().1 as i64));
    }
}

fn hexists(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let Ok(m) = coll::get(ctx, Kind::Hash, &a[1]) else {
        return;
    };
    let found = m.is_some_and(|m| {
        let p = coll::prefix(ctx, &a[1], &m);
        coll::elem(ctx, &p, &a[2]).is_some()
    });
    ctx.out.int(found as i64);
}

fn hstrlen(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let Ok(m) = coll::get(ctx, Kind::Hash, &a[1]) else {
        return;
    };
    let n = m
        .and_then(|m| {
            let p = coll::prefix(ctx, &a[1], &m);
            coll::elem(ctx, &p, &a[2])
        })
        .map_or(0, |v| v.len());
    ctx.out.int(n as i64);
}

fn fields_of(ctx: &mut Ctx<'_>, key: &[u8]) -> Option<Vec<(Bytes, Bytes)>> {
    let m = coll::get(ctx, Kind::Hash, key).ok()?;
    Some(match m {
        Some(m) => {
            let p = coll::prefix(ctx, key, &m);
            coll::all(ctx, &p)
        }
        None => Vec::new(),
    })
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
    let Ok(old) = coll::get_tx(ctx, Kind::Hash, &a[1]) else {
        return None;
    };
    let (version, len, expire_at) = match &old {
        Some(m) => {
            let (v, l) = m.coll();
            (v, l, m.expire_at)
        }
        None => (ctx.tx().new_version(), 0, None),
    };
    let m = Meta::collection(Kind::Hash, version, len, expire_at);
    let p = coll::prefix(ctx, &a[1], &m);
    let cur = coll::elem(ctx, &p, &a[2]);
    let new = match compute(cur.as_deref()) {
        Ok(v) => v,
        Err(e) => {
            ctx.err(e);
            return None;
        }
    };
    ctx.tx().sub_put(sub_key(&p, &a[2]), new.clone());
    coll::put_meta(
        ctx,
        Kind::Hash,
        &a[1],
        version,
        len + cur.is_none() as u64,
        expire_at,
    );
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
    let Ok(m) = coll::get(ctx, Kind::Hash, &a[1]) else {
        return;
    };
    let mut rng = rand::thread_rng();
    let Some(m) = m else {
        return match count {
            None => ctx.out.null(),
            Some(_) => ctx.out.array(0),
        };
    };
    let p = coll::prefix(ctx, &a[1], &m);
    let len = m.coll().1;
    let Some(n) = count else {
        let pick = coll::random_elem(ctx, &p, &mut rng).map(|(f, _)| f);
        return ctx.out.bulk_opt(pick.as_deref());
    };
    let picked: Vec<(Bytes, Bytes)> = if n >= 0 {
        coll::random_distinct(ctx, &p, len, n as u64)
    } else {
        let k = n.unsigned_abs().min(1 << 24);
        if k <= 1000 && k.saturating_mul(4) < len {
            (0..k)
                .filter_map(|_| coll::random_elem(ctx, &p, &mut rng))
                .collect()
        } else {
            let all = coll::all(ctx, &p);
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
