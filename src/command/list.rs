//! List commands (Redis's t_list.c): arguments and replies over
//! `types::list`.

use super::ctx::Ev;
use super::{blocking, cmd, coll, flags::*, int_arg, Command, Ctx};
use crate::types::list::{self, List};
use crate::types::TypeError;
use crate::util::{eq_ic, parse_i64};
use bytes::Bytes;

pub(crate) fn commands() -> Vec<Command> {
    let k1 = (1, 1, 1);
    let k2 = (1, 2, 1);
    vec![
        cmd("lpush", -3, WRITE | FAST, k1, "list", "Prepends one or more elements to a list. Creates the key if it doesn't exist.", lpush)
        .syntax("key element ..."),
        cmd("rpush", -3, WRITE | FAST, k1, "list", "Appends one or more elements to a list. Creates the key if it doesn't exist.", rpush)
        .syntax("key element ..."),
        cmd("lpushx", -3, WRITE | FAST, k1, "list", "Prepends one or more elements to a list only when the list exists.", lpushx)
        .syntax("key element ..."),
        cmd("rpushx", -3, WRITE | FAST, k1, "list", "Appends an element to a list only when the list exists.", rpushx)
        .syntax("key element ..."),
        cmd("lpop", -2, WRITE | FAST, k1, "list", "Returns the first elements in a list after removing it. Deletes the list if the last element was popped.", lpop)
        .syntax("key [count]"),
        cmd("rpop", -2, WRITE | FAST, k1, "list", "Returns and removes the last elements of a list. Deletes the list if the last element was popped.", rpop)
        .syntax("key [count]"),
        cmd("llen", 2, READONLY | FAST, k1, "list", "Returns the length of a list.", llen)
        .syntax("key"),
        cmd("lrange", 4, READONLY, k1, "list", "Returns a range of elements from a list.", lrange)
        .syntax("key start stop"),
        cmd("lindex", 3, READONLY, k1, "list", "Returns an element from a list by its index.", lindex)
        .syntax("key index"),
        cmd("lset", 4, WRITE, k1, "list", "Sets the value of an element in a list by its index.", lset)
        .syntax("key index element"),
        cmd("linsert", 5, WRITE, k1, "list", "Inserts an element before or after another element in a list.", linsert)
        .syntax("key BEFORE|AFTER pivot element"),
        cmd("lrem", 4, WRITE, k1, "list", "Removes elements from a list. Deletes the list if the last element was removed.", lrem)
        .syntax("key count element"),
        cmd("ltrim", 4, WRITE, k1, "list", "Removes elements from both ends a list. Deletes the list if all elements were trimmed.", ltrim)
        .syntax("key start stop"),
        cmd("lpos", -3, READONLY, k1, "list", "Returns the index of matching elements in a list.", lpos)
        .syntax("key element [RANK rank] [COUNT num-matches] [MAXLEN len]"),
        cmd("lmove", 5, WRITE, k2, "list", "Returns an element after popping it from one list and pushing it to another. Deletes the list if the last element was moved.", lmove)
        .syntax("source destination LEFT|RIGHT LEFT|RIGHT"),
        cmd("rpoplpush", 3, WRITE, k2, "list", "Returns the last element of a list after removing and pushing it to another list. Deletes the list if the last element was popped.", rpoplpush)
        .syntax("source destination"),
        cmd("lmpop", -4, WRITE, (0, 0, 0), "list", "Returns multiple elements from a list after removing them. Deletes the list if the last element was popped.", lmpop)
        .syntax("numkeys key ... LEFT|RIGHT [COUNT count]").numkeys_at(1),
        cmd("blpop", -3, WRITE, (1, -2, 1), "list", "Removes and returns the first element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.", blpop)
        .syntax("key ... timeout"),
        cmd("brpop", -3, WRITE, (1, -2, 1), "list", "Removes and returns the last element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.", brpop)
        .syntax("key ... timeout"),
        cmd("blmove", 6, WRITE, k2, "list", "Pops an element from a list, pushes it to another list and returns it. Blocks until an element is available otherwise. Deletes the list if the last element was moved.", blmove)
        .syntax("source destination LEFT|RIGHT LEFT|RIGHT timeout"),
        cmd("brpoplpush", 4, WRITE, k2, "list", "Pops an element from a list, pushes it to another list and returns it. Block until an element is available otherwise. Deletes the list if the last element was popped.", brpoplpush)
        .syntax("source destination timeout"),
        cmd("blmpop", -5, WRITE, (0, 0, 0), "list", "Pops the first element from one of multiple lists. Blocks until an element is available otherwise. Deletes the list if the last element was popped.", blmpop)
        .syntax("timeout numkeys key ... LEFT|RIGHT [COUNT count]").numkeys_at(2),
    ]
}

/// Answers a type error (WRONGTYPE).
fn answer(ctx: &mut Ctx<'_>, e: TypeError) {
    ctx.err(e.reply());
}

/// The list at `key` for a read: Err after answering WRONGTYPE.
fn open(ctx: &mut Ctx<'_>, key: &Bytes) -> Result<Option<List>, ()> {
    List::open(&mut ctx.data(), key).map_err(|e| answer(ctx, e))
}

/// The list at `key` for a write: Err after answering WRONGTYPE.
fn open_tx(ctx: &mut Ctx<'_>, key: &Bytes) -> Result<Option<List>, ()> {
    List::open_tx(&mut ctx.data(), key).map_err(|e| answer(ctx, e))
}

fn push_cmd(ctx: &mut Ctx<'_>, a: &[Bytes], left: bool, only_existing: bool) {
    match list::push(&mut ctx.data(), &a[1], &a[2..], left, only_existing) {
        Ok(n) => {
            if n > 0 {
                ctx.notify(if left { Ev::Lpush } else { Ev::Rpush }, &a[1]);
            }
            ctx.out.int(n as i64)
        }
        Err(e) => answer(ctx, e),
    }
}

fn lpush(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    push_cmd(ctx, a, true, false)
}

fn rpush(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    push_cmd(ctx, a, false, false)
}

fn lpushx(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    push_cmd(ctx, a, true, true)
}

fn rpushx(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    push_cmd(ctx, a, false, true)
}

/// Pops up to `n` items from `key`: None if there is no such key, Err
/// after answering WRONGTYPE. Shared with the blocking forms.
fn pop(ctx: &mut Ctx<'_>, key: &Bytes, left: bool, n: u64) -> Result<Option<Vec<Bytes>>, ()> {
    let r = list::pop(&mut ctx.data(), key, left, n).map_err(|e| answer(ctx, e));
    if let Ok(Some(_)) = &r {
        ctx.notify_emptied(pop_event(left), key);
    }
    r
}

fn pop_event(left: bool) -> Ev {
    if left {
        Ev::Lpop
    } else {
        Ev::Rpop
    }
}

/// LPOP / RPOP key [count].
fn pop_cmd(ctx: &mut Ctx<'_>, a: &[Bytes], left: bool) {
    if a.len() > 3 {
        let name = if left { "lpop" } else { "rpop" };
        return ctx.err(&format!(
            "ERR wrong number of arguments for '{name}' command"
        ));
    }
    let Ok(count) = coll::pop_count(ctx, a) else {
        return;
    };
    let Ok(popped) = pop(ctx, &a[1], left, count.unwrap_or(1)) else {
        return;
    };
    let Some(v) = popped else {
        return match count {
            Some(_) => ctx.out.null_array(),
            None => ctx.out.null(),
        };
    };
    match count {
        None => ctx.out.bulk_opt(v.first().map(|v| &v[..])),
        Some(_) => {
            ctx.out.array(v.len());
            for x in &v {
                ctx.out.bulk(x);
            }
        }
    }
}

fn lpop(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    pop_cmd(ctx, a, true)
}

fn rpop(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    pop_cmd(ctx, a, false)
}

fn llen(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    if let Ok(l) = open(ctx, &a[1]) {
        ctx.out.int(l.map_or(0, |l| l.len() as i64));
    }
}

fn lrange(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let Some(start) = int_arg(ctx, &a[2]) else {
        return;
    };
    let Some(stop) = int_arg(ctx, &a[3]) else {
        return;
    };
    let Ok(l) = open(ctx, &a[1]) else {
        return;
    };
    let Some(l) = l else {
        return ctx.out.array(0);
    };
    let Some((start, count)) = l.span(start, stop) else {
        return ctx.out.array(0);
    };
    // Straight from the store's pairs into the reply.
    let (mut db, out) = ctx.data_out();
    out.array_of(|out| l.each(&mut db, start, count, |v| out.bulk(v)));
}

/// LINDEX and LSET look at the key before the index (Redis's order).
fn lindex(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let Ok(l) = open(ctx, &a[1]) else {
        return;
    };
    let Some(l) = l else {
        return ctx.out.null();
    };
    let Some(i) = int_arg(ctx, &a[2]) else {
        return;
    };
    let v = l.index(i).and_then(|i| l.get(&mut ctx.data(), i));
    ctx.out.bulk_opt(v.as_deref());
}

fn lset(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let Ok(l) = open_tx(ctx, &a[1]) else {
        return;
    };
    let Some(l) = l else {
        return ctx.err("ERR no such key");
    };
    let Some(i) = int_arg(ctx, &a[2]) else {
        return;
    };
    let Some(i) = l.index(i) else {
        return ctx.err("ERR index out of range");
    };
    l.set(&mut ctx.data(), i, a[3].clone());
    ctx.notify(Ev::Lset, &a[1]);
    ctx.out.ok();
}

fn linsert(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let after = if eq_ic(&a[2], "after") {
        true
    } else if eq_ic(&a[2], "before") {
        false
    } else {
        return ctx.syntax_err();
    };
    let Ok(l) = open_tx(ctx, &a[1]) else {
        return;
    };
    let Some(mut l) = l else {
        return ctx.out.int(0);
    };
    match l.insert(&mut ctx.data(), &a[3], after, a[4].clone()) {
        Some(len) => {
            ctx.notify(Ev::Linsert, &a[1]);
            ctx.out.int(len as i64)
        }
        None => ctx.out.int(-1),
    }
}

fn lrem(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let Some(count) = int_arg(ctx, &a[2]) else {
        return;
    };
    let Ok(l) = open_tx(ctx, &a[1]) else {
        return;
    };
    let Some(mut l) = l else {
        return ctx.out.int(0);
    };
    let removed = l.remove(&mut ctx.data(), count, &a[3]);
    if removed > 0 {
        ctx.notify_emptied(Ev::Lrem, &a[1]);
    }
    ctx.out.int(removed as i64);
}

fn ltrim(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let Some(start) = int_arg(ctx, &a[2]) else {
        return;
    };
    let Some(stop) = int_arg(ctx, &a[3]) else {
        return;
    };
    let Ok(l) = open_tx(ctx, &a[1]) else {
        return;
    };
    if let Some(mut l) = l {
        l.trim(&mut ctx.data(), start, stop);
        ctx.notify_emptied(Ev::Ltrim, &a[1]);
    }
    ctx.out.ok();
}

fn lpos(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let mut rank: i64 = 1;
    let mut count: Option<u64> = None;
    let mut maxlen: u64 = 0;
    let mut i = 3;
    while i < a.len() {
        let Some(v) = a.get(i + 1) else {
            return ctx.syntax_err();
        };
        if eq_ic(&a[i], "rank") {
            let Some(r) = int_arg(ctx, v) else {
                return;
            };
            if r == 0 {
                return ctx.err("ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list");
            }
            if r == i64::MIN {
                return ctx.err("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807");
            }
            rank = r;
        } else if eq_ic(&a[i], "count") {
            // Not a number reads as negative, as in Redis.
            match parse_i64(v) {
                Some(c) if c >= 0 => count = Some(c as u64),
                _ => return ctx.err("ERR COUNT can't be negative"),
            }
        } else if eq_ic(&a[i], "maxlen") {
            match parse_i64(v) {
                Some(m) if m >= 0 => maxlen = m as u64,
                _ => return ctx.err("ERR MAXLEN can't be negative"),
            }
        } else {
            return ctx.syntax_err();
        }
        i += 2;
    }
    let Ok(l) = open(ctx, &a[1]) else {
        return;
    };
    let Some(l) = l else {
        return match count {
            Some(_) => ctx.out.array(0),
            None => ctx.out.null(),
        };
    };
    let want = match count {
        Some(0) => u64::MAX,
        Some(c) => c,
        None => 1,
    };
    let found = l.positions(&mut ctx.data(), &a[2], rank, want, maxlen);
    match count {
        Some(_) => {
            ctx.out.array(found.len());
            for i in found {
                ctx.out.int(i as i64);
            }
        }
        None => match found.first() {
            Some(i) => ctx.out.int(*i as i64),
            None => ctx.out.null(),
        },
    }
}

fn side(a: &[u8]) -> Option<bool> {
    if eq_ic(a, "left") {
        Some(true)
    } else if eq_ic(a, "right") {
        Some(false)
    } else {
        None
    }
}

/// LMOVE's work: None if the source is empty, Err after answering
/// WRONGTYPE.
fn move_one(
    ctx: &mut Ctx<'_>,
    src: &Bytes,
    dst: &Bytes,
    from_left: bool,
    to_left: bool,
) -> Result<Option<Bytes>, ()> {
    // Redis pushes into the destination it looked up before the pop, so
    // a list moving onto itself is never `new`.
    let (r, dst_new) = ctx.without_new(dst, |ctx| {
        list::move_one(&mut ctx.data(), src, dst, from_left, to_left).map_err(|e| answer(ctx, e))
    });
    if let Ok(Some(_)) = &r {
        // Redis's order: the push, then the pop.
        if dst_new {
            ctx.notify(Ev::New, dst);
        }
        ctx.notify(if to_left { Ev::Lpush } else { Ev::Rpush }, dst);
        ctx.notify_emptied(pop_event(from_left), src);
    }
    r
}

fn lmove(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let (Some(from), Some(to)) = (side(&a[3]), side(&a[4])) else {
        return ctx.syntax_err();
    };
    if let Ok(v) = move_one(ctx, &a[1], &a[2], from, to) {
        ctx.out.bulk_opt(v.as_deref());
    }
}

fn rpoplpush(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    if let Ok(v) = move_one(ctx, &a[1], &a[2], false, true) {
        ctx.out.bulk_opt(v.as_deref());
    }
}

/// `numkeys key... LEFT|RIGHT [COUNT n]` of LMPOP / BLMPOP, from `a[at]`.
fn mpop_args(ctx: &mut Ctx<'_>, a: &[Bytes], at: usize) -> Option<(Vec<Bytes>, bool, u64)> {
    let n = match parse_i64(&a[at]) {
        Some(n) if n > 0 => n as usize,
        Some(_) => {
            ctx.err("ERR numkeys should be greater than 0");
            return None;
        }
        None => {
            ctx.err("ERR numkeys should be greater than 0");
            return None;
        }
    };
    let keys_end = at + 1 + n;
    if keys_end >= a.len() {
        ctx.syntax_err();
        return None;
    }
    let keys = a[at + 1..keys_end].to_vec();
    let Some(left) = side(&a[keys_end]) else {
        ctx.syntax_err();
        return None;
    };
    let mut count = 1;
    let mut i = keys_end + 1;
    let mut seen_count = false;
    while i < a.len() {
        if eq_ic(&a[i], "count") && i + 1 < a.len() && !seen_count {
            match parse_i64(&a[i + 1]) {
                Some(c) if c > 0 => count = c as u64,
                _ => {
                    ctx.err("ERR count should be greater than 0");
                    return None;
                }
            }
            seen_count = true;
            i += 2;
        } else {
            ctx.syntax_err();
            return None;
        }
    }
    Some((keys, left, count))
}

/// Pops from the first non-empty list of `keys`: answers `[key, items]`
/// and returns true, or false if all were empty; Err after WRONGTYPE.
fn mpop_first(ctx: &mut Ctx<'_>, keys: &[Bytes], left: bool, count: u64) -> Result<bool, ()> {
    for k in keys {
        if let Some(v) = pop(ctx, k, left, count)? {
            ctx.out.array(2);
            ctx.out.bulk(k);
            ctx.out.array(v.len());
            for x in &v {
                ctx.out.bulk(x);
            }
            return Ok(true);
        }
    }
    Ok(false)
}

fn lmpop(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let Some((keys, left, count)) = mpop_args(ctx, a, 1) else {
        return;
    };
    if let Ok(false) = mpop_first(ctx, &keys, left, count) {
        ctx.out.null_array();
    }
}

/// BLPOP / BRPOP key... timeout: `[key, item]` from the first non-empty
/// list, else block.
fn bpop(ctx: &mut Ctx<'_>, a: &[Bytes], left: bool) {
    let Ok(deadline) = blocking::parse_timeout(ctx, &a[a.len() - 1]) else {
        return;
    };
    let keys = &a[1..a.len() - 1];
    for k in keys {
        match pop(ctx, k, left, 1) {
            Err(()) => return,
            Ok(Some(v)) => {
                ctx.out.array(2);
                ctx.out.bulk(k);
                ctx.out.bulk_opt(v.first().map(|v| &v[..]));
                return;
            }
            Ok(None) => {}
        }
    }
    blocking::block(ctx, keys, deadline, a, true);
}

fn blpop(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    bpop(ctx, a, true)
}

fn brpop(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    bpop(ctx, a, false)
}

fn bmove(ctx: &mut Ctx<'_>, a: &[Bytes], from: bool, to: bool, timeout: &[u8]) {
    let Ok(deadline) = blocking::parse_timeout(ctx, timeout) else {
        return;
    };
    match move_one(ctx, &a[1], &a[2], from, to) {
        Err(()) => {}
        Ok(Some(v)) => ctx.out.bulk(&v),
        Ok(None) => blocking::block(ctx, &a[1..2], deadline, a, false),
    }
}

fn blmove(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let (Some(from), Some(to)) = (side(&a[3]), side(&a[4])) else {
        return ctx.syntax_err();
    };
    bmove(ctx, a, from, to, &a[5])
}

fn brpoplpush(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    bmove(ctx, a, false, true, &a[3])
}

fn blmpop(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    // Redis checks the other arguments before the timeout.
    let Some((keys, left, count)) = mpop_args(ctx, a, 2) else {
        return;
    };
    let Ok(deadline) = blocking::parse_timeout(ctx, &a[1]) else {
        return;
    };
    if let Ok(false) = mpop_first(ctx, &keys, left, count) {
        blocking::block(ctx, &keys, deadline, a, true);
    }
}
