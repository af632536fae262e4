//! Sorted set commands (Redis's t_zset.c): arguments (scores, ranges,
//! options) and replies over `types::zset`.

use super::ctx::Ev;
use super::{blocking, cmd, coll, flags::*, Command, Ctx};
use crate::store::keys::Kind;
use crate::types::zset::{
    self, clamp_ranks, score_value, AddFlags, Added, Agg, Lex, LexRange, Range, SetOp, Src, Z,
};
use crate::types::TypeError;
use crate::util::{eq_ic, fmt_double, parse_i64, strtod_all};
use bytes::Bytes;

pub(crate) fn commands() -> Vec<Command> {
    let k1 = (1, 1, 1);
    // Commands with `numkeys` (Redis's first/last/step: the destination
    // only, or none; `numkeys_at` finds the rest).
    let nk = (0, 0, 0);
    let nk_store = (1, 1, 1);
    vec![
        cmd("zadd", -4, WRITE | FAST, k1, "sorted_set", "Adds one or more members to a sorted set, or updates their scores. Creates the key if it doesn't exist.", zadd)
        .syntax("key [NX|XX] [GT|LT] [CH] [INCR] score member [score member] ..."),
        cmd("zincrby", 4, WRITE | FAST, k1, "sorted_set", "Increments the score of a member in a sorted set.", zincrby)
        .syntax("key increment member"),
        cmd("zrem", -3, WRITE | FAST, k1, "sorted_set", "Removes one or more members from a sorted set. Deletes the sorted set if all members were removed.", zrem)
        .syntax("key member ..."),
        cmd("zscore", 3, READONLY | FAST, k1, "sorted_set", "Returns the score of a member in a sorted set.", zscore)
        .syntax("key member"),
        cmd("zmscore", -3, READONLY | FAST, k1, "sorted_set", "Returns the score of one or more members in a sorted set.", zmscore)
        .syntax("key member ..."),
        cmd("zcard", 2, READONLY | FAST, k1, "sorted_set", "Returns the number of members in a sorted set.", zcard)
        .syntax("key"),
        cmd("zcount", 4, READONLY | FAST, k1, "sorted_set", "Returns the count of members in a sorted set that have scores within a range.", zcount)
        .syntax("key min max"),
        cmd("zlexcount", 4, READONLY | FAST, k1, "sorted_set", "Returns the number of members in a sorted set within a lexicographical range.", zlexcount)
        .syntax("key min max"),
        cmd("zrank", 3, READONLY | FAST, k1, "sorted_set", "Returns the index of a member in a sorted set ordered by ascending scores.", zrank)
        .syntax("key member"),
        cmd("zrevrank", 3, READONLY | FAST, k1, "sorted_set", "Returns the index of a member in a sorted set ordered by descending scores.", zrevrank)
        .syntax("key member"),
        cmd("zrange", -4, READONLY, k1, "sorted_set", "Returns members in a sorted set within a range of indexes.", zrange)
        .syntax("key start stop [BYSCORE|BYLEX] [REV] [LIMIT offset count] [WITHSCORES]"),
        cmd("zrangestore", -5, WRITE, (1, 2, 1), "sorted_set", "Stores a range of members from sorted set in a key.", zrangestore)
        .syntax("dst src min max [BYSCORE|BYLEX] [REV] [LIMIT offset count]"),
        cmd("zrevrange", -4, READONLY, k1, "sorted_set", "Returns members in a sorted set within a range of indexes in reverse order.", zrevrange)
        .syntax("key start stop [WITHSCORES]"),
        cmd("zrangebyscore", -4, READONLY, k1, "sorted_set", "Returns members in a sorted set within a range of scores.", zrangebyscore)
        .syntax("key min max [WITHSCORES] [LIMIT offset count]"),
        cmd("zrevrangebyscore", -4, READONLY, k1, "sorted_set", "Returns members in a sorted set within a range of scores in reverse order.", zrevrangebyscore)
        .syntax("key max min [WITHSCORES] [LIMIT offset count]"),
        cmd("zrangebylex", -4, READONLY, k1, "sorted_set", "Returns members in a sorted set within a lexicographical range.", zrangebylex)
        .syntax("key min max [LIMIT offset count]"),
        cmd("zrevrangebylex", -4, READONLY, k1, "sorted_set", "Returns members in a sorted set within a lexicographical range in reverse order.", zrevrangebylex)
        .syntax("key max min [LIMIT offset count]"),
        cmd("zpopmin", -2, WRITE | FAST, k1, "sorted_set", "Returns the lowest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.", zpopmin)
        .syntax("key [count]"),
        cmd("zpopmax", -2, WRITE | FAST, k1, "sorted_set", "Returns the highest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.", zpopmax)
        .syntax("key [count]"),
        cmd("zmpop", -4, WRITE, nk, "sorted_set", "Returns the highest- or lowest-scoring members from one or more sorted sets after removing them. Deletes the sorted set if the last member was popped.", zmpop)
        .syntax("numkeys key ... MIN|MAX [COUNT count]").numkeys_at(1),
        cmd("bzpopmin", -3, WRITE | FAST, (1, -2, 1), "sorted_set", "Removes and returns the member with the lowest score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped.", bzpopmin)
        .syntax("key ... timeout"),
        cmd("bzpopmax", -3, WRITE | FAST, (1, -2, 1), "sorted_set", "Removes and returns the member with the highest score from one or more sorted sets. Blocks until a member available otherwise.  Deletes the sorted set if the last element was popped.", bzpopmax)
        .syntax("key ... timeout"),
        cmd("bzmpop", -5, WRITE, nk, "sorted_set", "Removes and returns a member by score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped.", bzmpop)
        .syntax("timeout numkeys key ... MIN|MAX [COUNT count]").numkeys_at(2),
        cmd("zremrangebyscore", 4, WRITE, k1, "sorted_set", "Removes members in a sorted set within a range of scores. Deletes the sorted set if all members were removed.", zremrangebyscore)
        .syntax("key min max"),
        cmd("zremrangebyrank", 4, WRITE, k1, "sorted_set", "Removes members in a sorted set within a range of indexes. Deletes the sorted set if all members were removed.", zremrangebyrank)
        .syntax("key start stop"),
        cmd("zremrangebylex", 4, WRITE, k1, "sorted_set", "Removes members in a sorted set within a lexicographical range. Deletes the sorted set if all members were removed.", zremrangebylex)
        .syntax("key min max"),
        cmd("zunionstore", -4, WRITE, nk_store, "sorted_set", "Stores the union of multiple sorted sets in a key.", zunionstore)
        .syntax("destination numkeys key ... [WEIGHTS weight ...] [AGGREGATE SUM|MIN|MAX]").numkeys_at(2),
        cmd("zinterstore", -4, WRITE, nk_store, "sorted_set", "Stores the intersect of multiple sorted sets in a key.", zinterstore)
        .syntax("destination numkeys key ... [WEIGHTS weight ...] [AGGREGATE SUM|MIN|MAX]").numkeys_at(2),
        cmd("zdiffstore", -4, WRITE, nk_store, "sorted_set", "Stores the difference of multiple sorted sets in a key.", zdiffstore)
        .syntax("destination numkeys key ...").numkeys_at(2),
        cmd("zunion", -3, READONLY, nk, "sorted_set", "Returns the union of multiple sorted sets.", zunion)
        .syntax("numkeys key ... [WEIGHTS weight ...] [AGGREGATE SUM|MIN|MAX] [WITHSCORES]").numkeys_at(1),
        cmd("zinter", -3, READONLY, nk, "sorted_set", "Returns the intersect of multiple sorted sets.", zinter)
        .syntax("numkeys key ... [WEIGHTS weight ...] [AGGREGATE SUM|MIN|MAX] [WITHSCORES]").numkeys_at(1),
        cmd("zdiff", -3, READONLY, nk, "sorted_set", "Returns the difference between multiple sorted sets.", zdiff)
        .syntax("numkeys key ... [WITHSCORES]").numkeys_at(1),
        cmd("zintercard", -3, READONLY, nk, "sorted_set", "Returns the number of members of the intersect of multiple sorted sets.", zintercard)
        .syntax("numkeys key ... [LIMIT limit]").numkeys_at(1),
        cmd("zrandmember", -2, READONLY, k1, "sorted_set", "Returns one or more random members from a sorted set.", zrandmember)
        .syntax("key [count [WITHSCORES]]"),
        cmd("zscan", -3, READONLY, k1, "sorted_set", "Iterates over members and scores of a sorted set.", zscan)
        .syntax("key cursor [MATCH pattern] [COUNT count]"),
    ]
}

// ---------------------------------------------------------------- parsing

/// A score argument, as Redis's `string2d`: no white space, no NaN, no
/// overflow to infinity or underflow to zero.
fn parse_score(s: &[u8]) -> Option<f64> {
    if s.is_empty() || s[0].is_ascii_whitespace() || s[0] == b'\x0b' {
        return None;
    }
    match strtod_all(s)? {
        (v, false) if !v.is_nan() => Some(v),
        _ => None,
    }
}

/// A range bound's number, as `zslParseRange`: plain `strtod` up to a NUL,
/// where an empty string is 0 and overflow is infinity.
fn parse_bound_num(s: &[u8]) -> Option<f64> {
    let s = match s.iter().position(|&c| c == 0) {
        Some(p) => &s[..p],
        None => s,
    };
    if s.is_empty() {
        return Some(0.0);
    }
    match strtod_all(s)? {
        (v, _) if !v.is_nan() => Some(v),
        _ => None,
    }
}

/// A score range argument pair, as `zslParseRange`: a leading `(` makes
/// that end exclusive.
fn score_range(min: &[u8], max: &[u8]) -> Option<Range> {
    let one = |b: &[u8]| match b.first() {
        Some(b'(') => parse_bound_num(&b[1..]).map(|v| (v, true)),
        _ => parse_bound_num(b).map(|v| (v, false)),
    };
    let (min, minex) = one(min)?;
    let (max, maxex) = one(max)?;
    Some(Range {
        min,
        max,
        minex,
        maxex,
    })
}

/// One end of a lexicographical range argument, as
/// `zslParseLexRangeItem`: `-`, `+`, `[member` or `(member`.
fn lex_bound(b: &Bytes) -> Option<Lex> {
    match b.first()? {
        b'+' if b.len() == 1 => Some(Lex::Max),
        b'-' if b.len() == 1 => Some(Lex::Min),
        b'[' => Some(Lex::Incl(b.slice(1..))),
        b'(' => Some(Lex::Excl(b.slice(1..))),
        _ => None,
    }
}

fn lex_range(min: &Bytes, max: &Bytes) -> Option<LexRange> {
    Some(LexRange {
        min: lex_bound(min)?,
        max: lex_bound(max)?,
    })
}

// ------------------------------------------------------------ replies

/// Members with their scores: a flat array in RESP2, pairs in RESP3.
fn reply_items(ctx: &mut Ctx<'_>, items: &[(Bytes, f64)], withscores: bool) {
    let pairs = withscores && ctx.out.resp3;
    ctx.out.array(if withscores && !pairs {
        items.len() * 2
    } else {
        items.len()
    });
    for (m, s) in items {
        if pairs {
            ctx.out.array(2);
        }
        ctx.out.bulk(m);
        if withscores {
            ctx.out.double(*s);
        }
    }
}

/// ZPOPMIN/ZMPOP's pairs: always arrays of two.
fn reply_pairs(ctx: &mut Ctx<'_>, items: &[(Bytes, f64)]) {
    ctx.out.array(items.len());
    for (m, s) in items {
        ctx.out.array(2);
        ctx.out.bulk(m);
        ctx.out.double(*s);
    }
}

/// Answers a type error (WRONGTYPE, NaN).
fn answer(ctx: &mut Ctx<'_>, e: TypeError) {
    ctx.err(e.reply());
}

/// The sorted set at `key` for a read: Err after answering WRONGTYPE.
fn get_read(ctx: &mut Ctx<'_>, key: &Bytes) -> Result<Option<Z>, ()> {
    Z::open(&mut ctx.data(), key).map_err(|e| answer(ctx, e))
}

/// The sorted set at `key` for a write: Err after answering WRONGTYPE.
fn get_write(ctx: &mut Ctx<'_>, key: &Bytes) -> Result<Option<Z>, ()> {
    Z::open_tx(&mut ctx.data(), key).map_err(|e| answer(ctx, e))
}

// ------------------------------------------------------------ commands

/// ZADD and ZINCRBY (which is ZADD INCR with its arguments where ZADD's
/// options go, as in Redis: `ZINCRBY k nx m` is a syntax error).
fn zadd_generic(ctx: &mut Ctx<'_>, a: &[Bytes], incr_cmd: bool) {
    let (mut nx, mut xx, mut ch, mut incr, mut gt, mut lt) =
        (false, false, false, incr_cmd, false, false);
    let mut i = 2;
    while i < a.len() {
        let o = &a[i];
        if eq_ic(o, "nx") {
            nx = true;
        } else if eq_ic(o, "xx") {
            xx = true;
        } else if eq_ic(o, "ch") {
            ch = true;
        } else if eq_ic(o, "incr") {
            incr = true;
        } else if eq_ic(o, "gt") {
            gt = true;
        } else if eq_ic(o, "lt") {
            lt = true;
        } else {
            break;
        }
        i += 1;
    }
    let rest = &a[i..];
    if rest.is_empty() || !rest.len().is_multiple_of(2) {
        return ctx.syntax_err();
    }
    if nx && xx {
        return ctx.err("ERR XX and NX options at the same time are not compatible");
    }
    if (nx && (gt || lt)) || (gt && lt) {
        return ctx.err("ERR GT, LT, and/or NX options at the same time are not compatible");
    }
    if incr && rest.len() > 2 {
        return ctx.err("ERR INCR option supports a single increment-element pair");
    }
    let mut scores = Vec::with_capacity(rest.len() / 2);
    for pair in rest.chunks(2) {
        match parse_score(&pair[0]) {
            Some(s) => scores.push(s),
            None => return ctx.err("ERR value is not a valid float"),
        }
    }
    let Ok(old) = get_write(ctx, &a[1]) else {
        return;
    };
    if old.is_none() && xx {
        return if incr { ctx.out.null() } else { ctx.out.int(0) };
    }
    let flags = AddFlags {
        nx,
        xx,
        gt,
        lt,
        incr,
    };
    let mut db = ctx.data();
    let mut z = old.unwrap_or_else(|| Z::create(&mut db, &a[1]));
    let (mut added, mut updated, mut processed) = (0i64, 0i64, 0);
    let mut last = 0.0;
    for (pair, &score) in rest.chunks(2).zip(&scores) {
        match z.add(&mut db, &pair[1], score, flags) {
            Ok(Added::New(s)) => {
                last = s;
                added += 1;
                processed += 1;
            }
            Ok(Added::Updated { score, changed }) => {
                last = score;
                processed += 1;
                updated += changed as i64;
            }
            Ok(Added::Skipped) => {}
            Err(e) => {
                z.save(&mut db);
                return answer(ctx, e);
            }
        }
    }
    z.save(&mut db);
    if added + updated > 0 {
        ctx.notify(if incr { Ev::Zincr } else { Ev::Zadd }, &a[1]);
    }
    if incr {
        if processed > 0 {
            ctx.out.double(last);
        } else {
            ctx.out.null();
        }
    } else {
        ctx.out.int(if ch { added + updated } else { added });
    }
}

fn zadd(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    zadd_generic(ctx, a, false)
}

fn zincrby(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    zadd_generic(ctx, a, true)
}

fn zrem(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let Ok(z) = get_write(ctx, &a[1]) else { return };
    let Some(mut z) = z else {
        return ctx.out.int(0);
    };
    let mut db = ctx.data();
    let n = a[2..]
        .iter()
        .filter(|m| z.remove_member(&mut db, m))
        .count();
    z.save(&mut db);
    if n > 0 {
        ctx.notify_emptied(Ev::Zrem, &a[1]);
    }
    ctx.out.int(n as i64);
}

fn zscore(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let Ok(z) = get_read(ctx, &a[1]) else { return };
    match z.and_then(|z| z.score(&mut ctx.data(), &a[2])) {
        Some(s) => ctx.out.double(s),
        None => ctx.out.null(),
    }
}

fn zmscore(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let Ok(z) = get_read(ctx, &a[1]) else { return };
    ctx.out.array(a.len() - 2);
    for m in &a[2..] {
        match z.as_ref().and_then(|z| z.score(&mut ctx.data(), m)) {
            Some(s) => ctx.out.double(s),
            None => ctx.out.null(),
        }
    }
}

fn zcard(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    if let Ok(z) = get_read(ctx, &a[1]) {
        ctx.out.int(z.map_or(0, |z| z.len() as i64));
    }
}

fn zcount(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let Some(r) = score_range(&a[2], &a[3]) else {
        return ctx.err("ERR min or max is not a float");
    };
    let Ok(z) = get_read(ctx, &a[1]) else { return };
    let n = z.map_or(0, |z| z.count_score(&mut ctx.data(), &r));
    ctx.out.int(n as i64);
}

fn zlexcount(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let Some(r) = lex_range(&a[2], &a[3]) else {
        return ctx.err("ERR min or max not valid string range item");
    };
    let Ok(z) = get_read(ctx, &a[1]) else { return };
    let n = z.map_or(0, |z| z.by_lex(&mut ctx.data(), &r, false, 0, -1).len());
    ctx.out.int(n as i64);
}

fn rank_generic(ctx: &mut Ctx<'_>, a: &[Bytes], rev: bool) {
    let Ok(z) = get_read(ctx, &a[1]) else { return };
    let mut db = ctx.data();
    let r = z.and_then(|z| {
        let s = z.score(&mut db, &a[2])?;
        Some(z.rank(&mut db, &a[2], s, rev))
    });
    match r {
        Some(n) => ctx.out.int(n as i64),
        None => ctx.out.null(),
    }
}

fn zrank(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    rank_generic(ctx, a, false)
}

fn zrevrank(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    rank_generic(ctx, a, true)
}

#[derive(Clone, Copy, PartialEq)]
enum By {
    Auto,
    Rank,
    Score,
    Lex,
}

/// Redis's `zrangeGenericCommand`: the source key is `a[at]`, min and max
/// follow, then options. `store`: ZRANGESTORE into `a[1]`.
fn zrange_generic(
    ctx: &mut Ctx<'_>,
    a: &[Bytes],
    at: usize,
    store: bool,
    by: By,
    rev: Option<bool>,
) {
    let (mut by, mut rev) = (by, rev);
    let mut withscores = false;
    let (mut offset, mut limit) = (0i64, -1i64);
    let mut j = at + 3;
    while j < a.len() {
        let left = a.len() - j - 1;
        if !store && eq_ic(&a[j], "withscores") {
            withscores = true;
        } else if eq_ic(&a[j], "limit") && left >= 2 {
            match (parse_i64(&a[j + 1]), parse_i64(&a[j + 2])) {
                (Some(o), Some(l)) => {
                    offset = o;
                    limit = l;
                }
                _ => return ctx.not_int(),
            }
            j += 2;
        } else if rev.is_none() && eq_ic(&a[j], "rev") {
            rev = Some(true);
        } else if by == By::Auto && eq_ic(&a[j], "bylex") {
            by = By::Lex;
        } else if by == By::Auto && eq_ic(&a[j], "byscore") {
            by = By::Score;
        } else {
            return ctx.syntax_err();
        }
        j += 1;
    }
    let rev = rev.unwrap_or(false);
    if by == By::Auto {
        by = By::Rank;
    }
    if limit != -1 && by == By::Rank {
        return ctx.err(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        );
    }
    if withscores && by == By::Lex {
        return ctx.err("ERR syntax error, WITHSCORES not supported in combination with BYLEX");
    }
    let (mut lo, mut hi) = (&a[at + 1], &a[at + 2]);
    if rev && by != By::Rank {
        std::mem::swap(&mut lo, &mut hi);
    }
    enum Spec {
        Rank(i64, i64),
        Score(Range),
        Lex(LexRange),
    }
    let spec = match by {
        By::Score => match score_range(lo, hi) {
            Some(r) => Spec::Score(r),
            None => return ctx.err("ERR min or max is not a float"),
        },
        By::Lex => match lex_range(lo, hi) {
            Some(r) => Spec::Lex(r),
            None => return ctx.err("ERR min or max not valid string range item"),
        },
        _ => match (parse_i64(lo), parse_i64(hi)) {
            (Some(s), Some(e)) => Spec::Rank(s, e),
            _ => return ctx.not_int(),
        },
    };
    let Ok(z) = get_read(ctx, &a[at]) else { return };
    let mut db = ctx.data();
    let items = match z {
        None => Vec::new(),
        Some(z) => match spec {
            Spec::Rank(s, e) => match clamp_ranks(s, e, z.len()) {
                Some((s, e)) => z.by_rank(&mut db, s, e, rev),
                None => Vec::new(),
            },
            Spec::Score(r) => z.by_score(&mut db, &r, rev, offset, limit),
            Spec::Lex(r) => z.by_lex(&mut db, &r, rev, offset, limit),
        },
    };
    if store {
        store_result(ctx, &a[1], items, Ev::Zrangestore);
    } else {
        reply_items(ctx, &items, withscores);
    }
}

fn zrange(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    zrange_generic(ctx, a, 1, false, By::Auto, None)
}

fn zrangestore(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    zrange_generic(ctx, a, 2, true, By::Auto, None)
}

fn zrevrange(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    zrange_generic(ctx, a, 1, false, By::Rank, Some(true))
}

fn zrangebyscore(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    zrange_generic(ctx, a, 1, false, By::Score, Some(false))
}

fn zrevrangebyscore(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    zrange_generic(ctx, a, 1, false, By::Score, Some(true))
}

fn zrangebylex(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    zrange_generic(ctx, a, 1, false, By::Lex, Some(false))
}

fn zrevrangebylex(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    zrange_generic(ctx, a, 1, false, By::Lex, Some(true))
}

/// Replaces `dst` with a sorted set of `items` (deleted when empty) and
/// answers the count.
fn store_result(ctx: &mut Ctx<'_>, dst: &Bytes, items: Vec<(Bytes, f64)>, ev: Ev) {
    let (n, absent) = ctx.without_new(dst, |ctx| zset::replace(&mut ctx.data(), dst, &items));
    super::set::stored(ctx, dst, n > 0, absent, ev);
    ctx.out.int(n as i64);
}

/// Pops up to `count` members from the low end (or the high end if `max`)
/// of the set at `key`: an empty list if the key is missing, Err after
/// answering WRONGTYPE. Shared with the blocking pops.
fn pop(ctx: &mut Ctx<'_>, key: &Bytes, max: bool, count: u64) -> Result<Vec<(Bytes, f64)>, ()> {
    let r = zset::pop(&mut ctx.data(), key, max, count).map_err(|e| answer(ctx, e));
    if r.as_ref().is_ok_and(|items| !items.is_empty()) {
        ctx.notify_emptied(if max { Ev::Zpopmax } else { Ev::Zpopmin }, key);
    }
    r
}

fn zpop_generic(ctx: &mut Ctx<'_>, a: &[Bytes], max: bool) {
    if a.len() > 3 {
        return ctx.syntax_err();
    }
    let Ok(count) = coll::pop_count(ctx, a) else {
        return;
    };
    let Ok(items) = pop(ctx, &a[1], max, count.unwrap_or(1)) else {
        return;
    };
    match count {
        // With a count: pairs in RESP3, flat in RESP2.
        Some(_) => reply_items(ctx, &items, true),
        None => {
            ctx.out.array(items.len() * 2);
            for (m, s) in &items {
                ctx.out.bulk(m);
                ctx.out.double(*s);
            }
        }
    }
}

fn zpopmin(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    zpop_generic(ctx, a, false)
}

fn zpopmax(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    zpop_generic(ctx, a, true)
}

/// ZMPOP's arguments after the command name (`numkeys key... MIN|MAX
/// [COUNT n]`): the keys, the side and the count, or None after answering
/// the error. Shared with BZMPOP.
pub(crate) fn parse_mpop<'b>(
    ctx: &mut Ctx<'_>,
    a: &'b [Bytes],
) -> Option<(&'b [Bytes], bool, u64)> {
    let Some(first) = a.first() else {
        ctx.syntax_err();
        return None;
    };
    let numkeys = match parse_i64(first) {
        Some(n) if n > 0 => n as usize,
        _ => {
            ctx.err("ERR numkeys should be greater than 0");
            return None;
        }
    };
    if numkeys >= a.len().saturating_sub(1) {
        ctx.syntax_err();
        return None;
    }
    let keys = &a[1..1 + numkeys];
    let mut j = 1 + numkeys;
    let max = if eq_ic(&a[j], "min") {
        false
    } else if eq_ic(&a[j], "max") {
        true
    } else {
        ctx.syntax_err();
        return None;
    };
    j += 1;
    let mut count: Option<u64> = None;
    while j < a.len() {
        if count.is_none() && eq_ic(&a[j], "count") && j + 1 < a.len() {
            match parse_i64(&a[j + 1]) {
                Some(n) if n > 0 => count = Some(n as u64),
                _ => {
                    ctx.err("ERR count should be greater than 0");
                    return None;
                }
            }
            j += 2;
        } else {
            ctx.syntax_err();
            return None;
        }
    }
    Some((keys, max, count.unwrap_or(1)))
}

fn zmpop(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let Some((keys, max, count)) = parse_mpop(ctx, &a[1..]) else {
        return;
    };
    if let Ok(false) = mpop_first(ctx, keys, max, count) {
        ctx.out.null_array();
    }
}

/// ZMPOP / BZMPOP: pops from the first non-empty set of `keys` and answers
/// `[key, [[member, score]...]]`; false if all were empty, Err after
/// WRONGTYPE.
fn mpop_first(ctx: &mut Ctx<'_>, keys: &[Bytes], max: bool, count: u64) -> Result<bool, ()> {
    for k in keys {
        let items = pop(ctx, k, max, count)?;
        if !items.is_empty() {
            ctx.out.array(2);
            ctx.out.bulk(k);
            reply_pairs(ctx, &items);
            return Ok(true);
        }
    }
    Ok(false)
}

/// BZPOPMIN / BZPOPMAX key... timeout: `[key, member, score]` from the
/// first non-empty set, else block (see `blocking.rs`).
fn bzpop(ctx: &mut Ctx<'_>, a: &[Bytes], max: bool) {
    let Ok(deadline) = blocking::parse_timeout(ctx, &a[a.len() - 1]) else {
        return;
    };
    let keys = &a[1..a.len() - 1];
    for k in keys {
        let Ok(items) = pop(ctx, k, max, 1) else {
            return;
        };
        if let Some((m, s)) = items.first() {
            ctx.out.array(3);
            ctx.out.bulk(k);
            ctx.out.bulk(m);
            ctx.out.double(*s);
            return;
        }
    }
    blocking::block(ctx, keys, deadline, a, true);
}

fn bzpopmin(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    bzpop(ctx, a, false)
}

fn bzpopmax(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    bzpop(ctx, a, true)
}

/// BZMPOP timeout numkeys key... MIN|MAX [COUNT n]: the other arguments are
/// checked before the timeout, as in Redis.
fn bzmpop(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let Some((keys, max, count)) = parse_mpop(ctx, &a[2..]) else {
        return;
    };
    let Ok(deadline) = blocking::parse_timeout(ctx, &a[1]) else {
        return;
    };
    if let Ok(false) = mpop_first(ctx, keys, max, count) {
        blocking::block(ctx, keys, deadline, a, true);
    }
}

fn zremrange(ctx: &mut Ctx<'_>, a: &[Bytes], by: By) {
    enum Spec {
        Rank(i64, i64),
        Score(Range),
        Lex(LexRange),
    }
    let spec = match by {
        By::Score => match score_range(&a[2], &a[3]) {
            Some(r) => Spec::Score(r),
            None => return ctx.err("ERR min or max is not a float"),
        },
        By::Lex => match lex_range(&a[2], &a[3]) {
            Some(r) => Spec::Lex(r),
            None => return ctx.err("ERR min or max not valid string range item"),
        },
        _ => match (parse_i64(&a[2]), parse_i64(&a[3])) {
            (Some(s), Some(e)) => Spec::Rank(s, e),
            _ => return ctx.not_int(),
        },
    };
    let Ok(z) = get_write(ctx, &a[1]) else { return };
    let Some(mut z) = z else {
        return ctx.out.int(0);
    };
    let mut db = ctx.data();
    let items = match spec {
        Spec::Rank(s, e) => match clamp_ranks(s, e, z.len()) {
            Some((s, e)) => z.by_rank(&mut db, s, e, false),
            None => Vec::new(),
        },
        Spec::Score(r) => z.by_score(&mut db, &r, false, 0, -1),
        Spec::Lex(r) => z.by_lex(&mut db, &r, false, 0, -1),
    };
    z.remove_all(&mut db, &items);
    z.save(&mut db);
    if !items.is_empty() {
        let ev = match by {
            By::Score => Ev::Zrembyscore,
            By::Lex => Ev::Zrembylex,
            _ => Ev::Zrembyrank,
        };
        ctx.notify_emptied(ev, &a[1]);
    }
    ctx.out.int(items.len() as i64);
}

fn zremrangebyscore(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    zremrange(ctx, a, By::Score)
}

fn zremrangebyrank(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    zremrange(ctx, a, By::Rank)
}

fn zremrangebylex(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    zremrange(ctx, a, By::Lex)
}

/// Which command of the family (ZINTERCARD counts an intersection).
#[derive(Clone, Copy, PartialEq)]
enum Op {
    Union,
    Inter,
    Diff,
    Card,
}

/// Redis's `zunionInterDiffGenericCommand`: `a[at]` is numkeys; `dst` for
/// the *STORE forms.
fn setop(ctx: &mut Ctx<'_>, a: &[Bytes], at: usize, dst: Option<&Bytes>, op: Op) {
    let Some(n) = parse_i64(&a[at]) else {
        return ctx.not_int();
    };
    if n < 1 {
        let name = String::from_utf8_lossy(&a[0]).to_ascii_lowercase();
        return ctx.err(&format!(
            "ERR at least 1 input key is needed for '{name}' command"
        ));
    }
    if n as u64 > (a.len() - at - 1) as u64 {
        return ctx.syntax_err();
    }
    let n = n as usize;
    let mut srcs = Vec::with_capacity(n);
    for k in &a[at + 1..at + 1 + n] {
        match Src::open(&mut ctx.data(), k) {
            Ok(s) => srcs.push(s),
            Err(e) => return answer(ctx, e),
        }
    }
    let mut agg = Agg::Sum;
    let mut withscores = false;
    let mut limit = 0u64;
    let mut j = at + 1 + n;
    while j < a.len() {
        let remaining = a.len() - j;
        let sets_op = op == Op::Union || op == Op::Inter;
        if sets_op && remaining > n && eq_ic(&a[j], "weights") {
            j += 1;
            for s in srcs.iter_mut() {
                match parse_score(&a[j]) {
                    Some(w) => s.weight = w,
                    None => return ctx.err("ERR weight value is not a float"),
                }
                j += 1;
            }
        } else if sets_op && remaining >= 2 && eq_ic(&a[j], "aggregate") {
            agg = if eq_ic(&a[j + 1], "sum") {
                Agg::Sum
            } else if eq_ic(&a[j + 1], "min") {
                Agg::Min
            } else if eq_ic(&a[j + 1], "max") {
                Agg::Max
            } else {
                return ctx.syntax_err();
            };
            j += 2;
        } else if dst.is_none() && op != Op::Card && eq_ic(&a[j], "withscores") {
            withscores = true;
            j += 1;
        } else if op == Op::Card && remaining >= 2 && eq_ic(&a[j], "limit") {
            match parse_i64(&a[j + 1]) {
                Some(l) if l >= 0 => limit = l as u64,
                _ => return ctx.err("ERR LIMIT can't be negative"),
            }
            j += 2;
        } else {
            return ctx.syntax_err();
        }
    }
    let (set_op, limit) = match op {
        Op::Union => (SetOp::Union, 0),
        Op::Inter => (SetOp::Inter, 0),
        Op::Diff => (SetOp::Diff, 0),
        Op::Card => (SetOp::Inter, limit),
    };
    let mut out = zset::combine(&mut ctx.data(), &mut srcs, set_op, agg, limit);
    if op == Op::Card {
        return ctx.out.int(out.len() as i64);
    }
    zset::sort(&mut out);
    match dst {
        Some(d) => {
            let ev = match op {
                Op::Inter => Ev::Zinterstore,
                Op::Diff => Ev::Zdiffstore,
                _ => Ev::Zunionstore,
            };
            store_result(ctx, d, out, ev)
        }
        None => reply_items(ctx, &out, withscores),
    }
}

fn zunionstore(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    setop(ctx, a, 2, Some(&a[1]), Op::Union)
}

fn zinterstore(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    setop(ctx, a, 2, Some(&a[1]), Op::Inter)
}

fn zdiffstore(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    setop(ctx, a, 2, Some(&a[1]), Op::Diff)
}

fn zunion(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    setop(ctx, a, 1, None, Op::Union)
}

fn zinter(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    setop(ctx, a, 1, None, Op::Inter)
}

fn zdiff(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    setop(ctx, a, 1, None, Op::Diff)
}

fn zintercard(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    setop(ctx, a, 1, None, Op::Card)
}

fn zrandmember(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    use rand::Rng;
    let Some(c) = a.get(2) else {
        let Ok(z) = get_read(ctx, &a[1]) else { return };
        let Some(z) = z else { return ctx.out.null() };
        let pick = z.random_member(&mut ctx.data(), &mut rand::thread_rng());
        return ctx.out.bulk_opt(pick.as_deref());
    };
    let count = match parse_i64(c) {
        Some(i64::MIN) => {
            return ctx.err(
                "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
            )
        }
        Some(n) => n,
        None => return ctx.not_int(),
    };
    let withscores = match a.len() {
        3 => false,
        4 if eq_ic(&a[3], "withscores") => true,
        _ => return ctx.syntax_err(),
    };
    if withscores && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&count) {
        return ctx.err("ERR value is out of range");
    }
    let Ok(z) = get_read(ctx, &a[1]) else { return };
    let Some(z) = z else {
        return ctx.out.array(0);
    };
    let picks = if count >= 0 {
        z.random_distinct(&mut ctx.data(), count as u64)
    } else {
        // With repeats; the reply is capped like SRANDMEMBER's.
        let k = count.unsigned_abs().min(1 << 24);
        let mut rng = rand::thread_rng();
        if k <= 1000 && k.saturating_mul(4) < z.len() {
            z.random_walks(&mut ctx.data(), k, &mut rng)
        } else {
            // Picks from the whole set, written as they are drawn: nothing
            // is sized by the count the client asked for.
            let all = z.all(&mut ctx.data());
            if all.is_empty() {
                return ctx.out.array(0);
            }
            let k = k as usize;
            let pairs = withscores && ctx.out.resp3;
            ctx.out.array(if withscores && !pairs { k * 2 } else { k });
            for _ in 0..k {
                let (m, s) = &all[rng.gen_range(0..all.len())];
                if pairs {
                    ctx.out.array(2);
                }
                ctx.out.bulk(m);
                if withscores {
                    ctx.out.double(*s);
                }
            }
            return;
        }
    };
    reply_items(ctx, &picks, withscores);
}

fn zscan(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    coll::scan_under(ctx, a, Kind::ZSet, zset::member_tag, |v| {
        Bytes::from(score_value(v).map(fmt_double).unwrap_or_default())
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_parse_like_redis() {
        assert_eq!(parse_score(b"1.5"), Some(1.5));
        assert_eq!(parse_score(b"0x10"), Some(16.0));
        assert_eq!(parse_score(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_score(b"Infinity"), Some(f64::INFINITY));
        for bad in [
            &b""[..],
            b" 1",
            b"1 ",
            b"nan",
            b"1e5000",
            b"1e-400",
            b"abc",
            b"1e",
            b".",
            b"+",
        ] {
            assert_eq!(parse_score(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
        assert_eq!(parse_bound_num(b""), Some(0.0));
        assert_eq!(parse_bound_num(b" 1"), Some(1.0));
        assert_eq!(parse_bound_num(b"1e5000"), Some(f64::INFINITY));
        assert_eq!(parse_bound_num(b"nan"), None);
        assert_eq!(parse_bound_num(b"1 "), None);
    }
}
