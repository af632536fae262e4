//! Sorted set commands (Redis's t_zset.c). A sorted set is a metadata entry
//! (version, member count) plus two elements per member under the key's
//! element prefix:
//!
//! - `m | member` → the score, 8 bytes (f64 bits, big endian): lookups by
//!   member (ZSCORE, ZADD's old score);
//! - `s | order-preserving score (8 bytes) | member` → empty: the index, in
//!   Redis's order (score, then member bytes), so ranges and pops seek
//!   instead of reading the whole set.
//!
//! Scores are stored with -0 turned into 0, as a small (listpack) Redis set
//! does, so both elements of a member always agree on the order.

use super::{blocking, cmd, coll, flags::*, Command, Ctx};
use crate::store::keys::{sub_key, Kind, Meta};
use crate::util::{eq_ic, fmt_double, parse_i64};
use bytes::Bytes;
use std::collections::HashMap;

pub fn commands() -> Vec<Command> {
    let k1 = (1, 1, 1);
    // Commands with `numkeys` (Redis's first/last/step: the destination
    // only, or none; `numkeys_at` finds the rest).
    let nk = (0, 0, 0);
    let nk_store = (1, 1, 1);
    vec![
        cmd("zadd", -4, WRITE | FAST, k1, "sorted_set", "Adds one or more members to a sorted set, or updates their scores. Creates the key if it doesn't exist.", zadd),
        cmd("zincrby", 4, WRITE | FAST, k1, "sorted_set", "Increments the score of a member in a sorted set.", zincrby),
        cmd("zrem", -3, WRITE | FAST, k1, "sorted_set", "Removes one or more members from a sorted set. Deletes the sorted set if all members were removed.", zrem),
        cmd("zscore", 3, READONLY | FAST, k1, "sorted_set", "Returns the score of a member in a sorted set.", zscore),
        cmd("zmscore", -3, READONLY | FAST, k1, "sorted_set", "Returns the score of one or more members in a sorted set.", zmscore),
        cmd("zcard", 2, READONLY | FAST, k1, "sorted_set", "Returns the number of members in a sorted set.", zcard),
        cmd("zcount", 4, READONLY | FAST, k1, "sorted_set", "Returns the count of members in a sorted set that have scores within a range.", zcount),
        cmd("zlexcount", 4, READONLY | FAST, k1, "sorted_set", "Returns the number of members in a sorted set within a lexicographical range.", zlexcount),
        cmd("zrank", 3, READONLY | FAST, k1, "sorted_set", "Returns the index of a member in a sorted set ordered by ascending scores.", zrank),
        cmd("zrevrank", 3, READONLY | FAST, k1, "sorted_set", "Returns the index of a member in a sorted set ordered by descending scores.", zrevrank),
        cmd("zrange", -4, READONLY, k1, "sorted_set", "Returns members in a sorted set within a range of indexes.", zrange),
        cmd("zrangestore", -5, WRITE, (1, 2, 1), "sorted_set", "Stores a range of members from sorted set in a key.", zrangestore),
        cmd("zrevrange", -4, READONLY, k1, "sorted_set", "Returns members in a sorted set within a range of indexes in reverse order.", zrevrange),
        cmd("zrangebyscore", -4, READONLY, k1, "sorted_set", "Returns members in a sorted set within a range of scores.", zrangebyscore),
        cmd("zrevrangebyscore", -4, READONLY, k1, "sorted_set", "Returns members in a sorted set within a range of scores in reverse order.", zrevrangebyscore),
        cmd("zrangebylex", -4, READONLY, k1, "sorted_set", "Returns members in a sorted set within a lexicographical range.", zrangebylex),
        cmd("zrevrangebylex", -4, READONLY, k1, "sorted_set", "Returns members in a sorted set within a lexicographical range in reverse order.", zrevrangebylex),
        cmd("zpopmin", -2, WRITE | FAST, k1, "sorted_set", "Returns the lowest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.", zpopmin),
        cmd("zpopmax", -2, WRITE | FAST, k1, "sorted_set", "Returns the highest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.", zpopmax),
        cmd("zmpop", -4, WRITE, nk, "sorted_set", "Returns the highest- or lowest-scoring members from one or more sorted sets after removing them. Deletes the sorted set if the last member was popped.", zmpop).numkeys_at(1),
        cmd("bzpopmin", -3, WRITE | FAST, (1, -2, 1), "sorted_set", "Removes and returns the member with the lowest score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped.", bzpopmin),
        cmd("bzpopmax", -3, WRITE | FAST, (1, -2, 1), "sorted_set", "Removes and returns the member with the highest score from one or more sorted sets. Blocks until a member available otherwise.  Deletes the sorted set if the last element was popped.", bzpopmax),
        cmd("bzmpop", -5, WRITE, nk, "sorted_set", "Removes and returns a member by score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped.", bzmpop).numkeys_at(2),
        cmd("zremrangebyscore", 4, WRITE, k1, "sorted_set", "Removes members in a sorted set within a range of scores. Deletes the sorted set if all members were removed.", zremrangebyscore),
        cmd("zremrangebyrank", 4, WRITE, k1, "sorted_set", "Removes members in a sorted set within a range of indexes. Deletes the sorted set if all members were removed.", zremrangebyrank),
        cmd("zremrangebylex", 4, WRITE, k1, "sorted_set", "Removes members in a sorted set within a lexicographical range. Deletes the sorted set if all members were removed.", zremrangebylex),
        cmd("zunionstore", -4, WRITE, nk_store, "sorted_set", "Stores the union of multiple sorted sets in a key.", zunionstore).numkeys_at(2),
        cmd("zinterstore", -4, WRITE, nk_store, "sorted_set", "Stores the intersect of multiple sorted sets in a key.", zinterstore).numkeys_at(2),
        cmd("zdiffstore", -4, WRITE, nk_store, "sorted_set", "Stores the difference of multiple sorted sets in a key.", zdiffstore).numkeys_at(2),
        cmd("zunion", -3, READONLY, nk, "sorted_set", "Returns the union of multiple sorted sets.", zunion).numkeys_at(1),
        cmd("zinter", -3, READONLY, nk, "sorted_set", "Returns the intersect of multiple sorted sets.", zinter).numkeys_at(1),
        cmd("zdiff", -3, READONLY, nk, "sorted_set", "Returns the difference between multiple sorted sets.", zdiff).numkeys_at(1),
        cmd("zintercard", -3, READONLY, nk, "sorted_set", "Returns the number of members of the intersect of multiple sorted sets.", zintercard).numkeys_at(1),
        cmd("zrandmember", -2, READONLY, k1, "sorted_set", "Returns one or more random members from a sorted set.", zrandmember),
        cmd("zscan", -3, READONLY, k1, "sorted_set", "Iterates over members and scores of a sorted set.", zscan),
    ]
}

/// Tag of a member element (`m | member` → score).
pub(crate) const MEMBER: u8 = b'm';
/// Tag of an index element (`s | score | member` → empty).
pub(crate) const INDEX: u8 = b's';
/// Length of an index element's field before the member.
const IDX_HEAD: usize = 9;

const EMPTY: Bytes = Bytes::from_static(b"");

/// -0 stored as 0: the two compare equal, and Redis's small sets keep 0.
fn norm(s: f64) -> f64 {
    if s == 0.0 {
        0.0
    } else {
        s
    }
}

/// Big-endian bytes that sort like the scores: positive numbers get their
/// sign bit set, negative ones all bits flipped.
pub(crate) fn enc_score(s: f64) -> u64 {
    let b = norm(s).to_bits();
    if b >> 63 == 1 {
        !b
    } else {
        b | (1 << 63)
    }
}

fn dec_score(e: u64) -> f64 {
    if e >> 63 == 1 {
        f64::from_bits(e & !(1 << 63))
    } else {
        f64::from_bits(!e)
    }
}

/// A sorted set's (member, score) pairs in score order, from its elements
/// as stored (the dump tool reads them out of snapshot files).
pub fn decode_elements(elements: &[(Vec<u8>, Vec<u8>)]) -> Vec<(Vec<u8>, f64)> {
    elements
        .iter()
        .filter(|(f, _)| f.len() >= IDX_HEAD && f[0] == INDEX)
        .map(|(f, _)| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&f[1..IDX_HEAD]);
            (f[IDX_HEAD..].to_vec(), dec_score(u64::from_be_bytes(b)))
        })
        .collect()
}

/// One element as the dump tool shows a WAL effect on it.
pub fn describe_field(field: &[u8], value: Option<&[u8]>) -> String {
    let show = crate::dump::show;
    match field.split_first() {
        Some((&MEMBER, m)) => match value.and_then(score_value) {
            Some(s) => format!("member {} score {}", show(m), crate::util::fmt_double(s)),
            None => format!("member {}", show(m)),
        },
        Some((&INDEX, rest)) if rest.len() >= IDX_HEAD - 1 => {
            let mut b = [0u8; 8];
            b.copy_from_slice(&rest[..8]);
            format!(
                "score index {} {}",
                crate::util::fmt_double(dec_score(u64::from_be_bytes(b))),
                show(&rest[8..])
            )
        }
        _ => format!("element {}", show(field)),
    }
}

fn member_field(m: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(1 + m.len());
    f.push(MEMBER);
    f.extend_from_slice(m);
    f
}

fn index_field_enc(e: u64, m: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(IDX_HEAD + m.len());
    f.push(INDEX);
    f.extend_from_slice(&e.to_be_bytes());
    f.extend_from_slice(m);
    f
}

fn index_field(s: f64, m: &[u8]) -> Vec<u8> {
    index_field_enc(enc_score(s), m)
}

/// (score, member) of an index field.
fn parse_index(f: &Bytes) -> Option<(f64, Bytes)> {
    if f.len() < IDX_HEAD || f[0] != INDEX {
        return None;
    }
    let mut e = [0u8; 8];
    e.copy_from_slice(&f[1..IDX_HEAD]);
    Some((dec_score(u64::from_be_bytes(e)), f.slice(IDX_HEAD..)))
}

fn score_value(v: &[u8]) -> Option<f64> {
    let b: [u8; 8] = v.try_into().ok()?;
    Some(f64::from_be_bytes(b))
}

// ---------------------------------------------------------------- parsing

/// C's `strtod` on the whole of `s` (after C's leading white space): the
/// value and whether it over- or underflowed (ERANGE). None if some of `s`
/// is left over. Decimal, hex (`0x1p3`), `inf`, `infinity`, `nan`.
fn strtod_all(s: &[u8]) -> Option<(f64, bool)> {
    let t = std::str::from_utf8(s).ok()?;
    let t = t.trim_start_matches([' ', '\t', '\n', '\x0b', '\x0c', '\r']);
    let (neg, body) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let lower = body.to_ascii_lowercase();
    let sign = if neg { -1.0 } else { 1.0 };
    if lower == "inf" || lower == "infinity" {
        return Some((sign * f64::INFINITY, false));
    }
    if lower.starts_with("nan") {
        return if lower == "nan" {
            Some((f64::NAN, false))
        } else {
            None
        };
    }
    if let Some(hex) = lower.strip_prefix("0x") {
        return parse_hex(hex).map(|(v, r)| (sign * v, r));
    }
    // Rust's parser takes what strtod takes for decimals, apart from the
    // words handled above.
    if !body
        .bytes()
        .next()
        .is_some_and(|c| c.is_ascii_digit() || c == b'.')
    {
        return None;
    }
    let v: f64 = body.parse().ok()?;
    let mantissa = body.split(['e', 'E']).next().unwrap_or("");
    let nonzero = mantissa.bytes().any(|c| (b'1'..=b'9').contains(&c));
    let erange = v.is_infinite() || (v == 0.0 && nonzero);
    Some((sign * v, erange))
}

/// The part of a hex float after `0x`: digits, an optional point, an
/// optional binary exponent `p`.
fn parse_hex(s: &str) -> Option<(f64, bool)> {
    let (digits, exp) = match s.split_once('p') {
        Some((d, e)) => (d, Some(e)),
        None => (s, None),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    let mut mant: u128 = 0;
    let mut shift: i64 = 0;
    for (i, c) in int.chars().chain(frac.chars()).enumerate() {
        let d = c.to_digit(16)? as u128;
        if mant >> 120 == 0 {
            mant = mant * 16 + d;
            if i >= int.len() {
                shift -= 4;
            }
        } else if i < int.len() {
            shift += 4;
        }
    }
    let e: i64 = match exp {
        Some(e) => {
            let digits = e.strip_prefix(['+', '-']).unwrap_or(e);
            if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            e.parse::<i64>().unwrap_or(if e.starts_with('-') {
                -100_000
            } else {
                100_000
            })
        }
        None => 0,
    };
    if mant == 0 {
        return Some((0.0, false));
    }
    // Powers of two are exact; two steps reach below the smallest normal.
    let total = (shift + e).clamp(-100_000, 100_000) as i32;
    let v = (mant as f64) * 2f64.powi(total / 2) * 2f64.powi(total - total / 2);
    let erange = v.is_infinite() || (v == 0.0 && mant != 0);
    Some((v, erange))
}

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

/// A score range: `[min, max]`, either end exclusive.
#[derive(Clone, Copy)]
struct Range {
    min: f64,
    max: f64,
    minex: bool,
    maxex: bool,
}

impl Range {
    fn parse(min: &[u8], max: &[u8]) -> Option<Range> {
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

    fn gte_min(&self, s: f64) -> bool {
        if self.minex {
            s > self.min
        } else {
            s >= self.min
        }
    }

    fn lte_max(&self, s: f64) -> bool {
        if self.maxex {
            s < self.max
        } else {
            s <= self.max
        }
    }

    /// The first index field at or after the range's start.
    fn start_field(&self) -> Vec<u8> {
        let e = enc_score(self.min);
        index_field_enc(if self.minex { e.saturating_add(1) } else { e }, b"")
    }

    /// The index field just past the range's end (exclusive bound).
    fn end_field(&self) -> Vec<u8> {
        let e = enc_score(self.max);
        index_field_enc(if self.maxex { e } else { e.saturating_add(1) }, b"")
    }
}

/// One end of a lexicographical range.
#[derive(Clone)]
enum Lex {
    Min,
    Max,
    Incl(Bytes),
    Excl(Bytes),
}

impl Lex {
    fn parse(b: &Bytes) -> Option<Lex> {
        match b.first()? {
            b'+' if b.len() == 1 => Some(Lex::Max),
            b'-' if b.len() == 1 => Some(Lex::Min),
            b'[' => Some(Lex::Incl(b.slice(1..))),
            b'(' => Some(Lex::Excl(b.slice(1..))),
            _ => None,
        }
    }

    fn excl(&self) -> bool {
        !matches!(self, Lex::Incl(_))
    }

    /// Redis's `sdscmplex`: `-` below everything, `+` above.
    fn cmp(&self, o: &Lex) -> std::cmp::Ordering {
        use std::cmp::Ordering::*;
        match (self, o) {
            (Lex::Min, Lex::Min) | (Lex::Max, Lex::Max) => Equal,
            (Lex::Min, _) | (_, Lex::Max) => Less,
            (Lex::Max, _) | (_, Lex::Min) => Greater,
            (Lex::Incl(a) | Lex::Excl(a), Lex::Incl(b) | Lex::Excl(b)) => a.cmp(b),
        }
    }
}

struct LexRange {
    min: Lex,
    max: Lex,
}

impl LexRange {
    fn parse(min: &Bytes, max: &Bytes) -> Option<LexRange> {
        Some(LexRange {
            min: Lex::parse(min)?,
            max: Lex::parse(max)?,
        })
    }

    fn gte_min(&self, m: &[u8]) -> bool {
        match &self.min {
            Lex::Min => true,
            Lex::Max => false,
            Lex::Incl(x) => m >= &x[..],
            Lex::Excl(x) => m > &x[..],
        }
    }

    fn lte_max(&self, m: &[u8]) -> bool {
        match &self.max {
            Lex::Min => false,
            Lex::Max => true,
            Lex::Incl(x) => m <= &x[..],
            Lex::Excl(x) => m < &x[..],
        }
    }

    /// Ranges that are empty whatever the set holds.
    fn always_empty(&self) -> bool {
        match self.min.cmp(&self.max) {
            std::cmp::Ordering::Greater => true,
            std::cmp::Ordering::Equal => self.min.excl() || self.max.excl(),
            _ => false,
        }
    }
}

// ------------------------------------------------------------ the set

/// An open sorted set: its element prefix and counters.
///
/// Its metadata may carry two bounds after `version | len` (each `len u32
/// BE | index field`, empty when unknown): no index entry sorts below `low`,
/// none at or above `high`. Pops set them, ZADD keeps them true, and walks
/// start there: the deletions of popped entries stay in the write buffer
/// until it reaches sled, and without the bounds every pop would step over
/// all of them again.
pub(crate) struct Z {
    p: Vec<u8>,
    version: u64,
    len: u64,
    expire_at: Option<i64>,
    changed: bool,
    low: Option<Vec<u8>>,
    high: Option<Vec<u8>>,
}

/// Bounds longer than this are not kept (the metadata is rewritten on
/// every change).
const MAX_BOUND: usize = 128;

/// The two bounds after a zset's `version | len`.
fn decode_bounds(ext: &[u8]) -> (Option<Vec<u8>>, Option<Vec<u8>>) {
    fn one(b: &[u8]) -> Option<(Option<Vec<u8>>, &[u8])> {
        let n = u32::from_be_bytes(b.get(..4)?.try_into().ok()?) as usize;
        let v = b.get(4..4 + n)?;
        Some(((!v.is_empty()).then(|| v.to_vec()), &b[4 + n..]))
    }
    let Some((low, rest)) = one(ext) else {
        return (None, None);
    };
    match one(rest) {
        Some((high, _)) => (low, high),
        None => (None, None),
    }
}

/// `f` followed by a zero byte: the least field greater than `f`.
fn successor(f: &[u8]) -> Vec<u8> {
    [f, &[0]].concat()
}

impl Z {
    fn of(ctx: &mut Ctx<'_>, key: &[u8], m: &Meta) -> Z {
        let (version, len) = m.coll();
        let (low, high) = match m.payload.get(16..) {
            Some(ext) if m.kind == Kind::ZSet => decode_bounds(ext),
            _ => (None, None),
        };
        Z {
            p: coll::prefix(ctx, key, m),
            version,
            len,
            expire_at: m.expire_at,
            changed: false,
            low,
            high,
        }
    }

    /// The set at `key` or a new empty one (written only if it changes).
    fn or_new(ctx: &mut Ctx<'_>, key: &[u8], m: Option<&Meta>) -> Z {
        match m {
            Some(m) => Z::of(ctx, key, m),
            None => {
                let version = ctx.tx().new_version();
                let m = Meta::collection(Kind::ZSet, version, 0, None);
                Z::of(ctx, key, &m)
            }
        }
    }

    fn score(&self, ctx: &mut Ctx<'_>, member: &[u8]) -> Option<f64> {
        coll::elem(ctx, &self.p, &member_field(member)).and_then(|v| score_value(&v))
    }

    /// Sets a member's score (`old`: its current one, if it is there).
    fn set(&mut self, ctx: &mut Ctx<'_>, member: &[u8], old: Option<f64>, new: f64) {
        let new = norm(new);
        match old {
            Some(o) => ctx.tx().sub_del(sub_key(&self.p, &index_field(o, member))),
            None => self.len += 1,
        }
        let f = index_field(new, member);
        if self.low.as_ref().is_some_and(|l| f < *l) {
            self.low = Some(f.clone());
        }
        if self.high.as_ref().is_some_and(|h| f >= *h) {
            self.high = Some(successor(&f));
        }
        let tx = ctx.tx();
        tx.sub_put(sub_key(&self.p, &f), EMPTY);
        tx.sub_put(
            sub_key(&self.p, &member_field(member)),
            Bytes::copy_from_slice(&new.to_be_bytes()),
        );
        self.changed = true;
    }

    fn remove(&mut self, ctx: &mut Ctx<'_>, member: &[u8], score: f64) {
        let tx = ctx.tx();
        tx.sub_del(sub_key(&self.p, &index_field(score, member)));
        tx.sub_del(sub_key(&self.p, &member_field(member)));
        self.len = self.len.saturating_sub(1);
        self.changed = true;
    }

    /// Writes the metadata if anything changed (deletes the key when empty).
    fn save(&self, ctx: &mut Ctx<'_>, key: &[u8]) {
        if !self.changed {
            return;
        }
        let keep = |b: &Option<Vec<u8>>| b.as_ref().filter(|b| b.len() <= MAX_BOUND).cloned();
        let (low, high) = (keep(&self.low), keep(&self.high));
        if self.len == 0 || (low.is_none() && high.is_none()) {
            return coll::put_meta(ctx, Kind::ZSet, key, self.version, self.len, self.expire_at);
        }
        let mut p = Vec::with_capacity(24 + 2 * MAX_BOUND);
        p.extend_from_slice(&self.version.to_be_bytes());
        p.extend_from_slice(&self.len.to_be_bytes());
        for b in [low, high] {
            let b = b.unwrap_or_default();
            p.extend_from_slice(&(b.len() as u32).to_be_bytes());
            p.extend_from_slice(&b);
        }
        let m = Meta {
            kind: Kind::ZSet,
            expire_at: self.expire_at,
            payload: Bytes::from(p),
        };
        let db = ctx.db();
        ctx.tx().put(db, key, &m);
    }

    /// Index entries from `from` (an index field, inclusive) upwards, while
    /// `f(score, member)` says to go on. Pages start at `hint` entries and
    /// grow, so a short walk reads little and a long one few times.
    fn walk_fwd(
        &self,
        ctx: &mut Ctx<'_>,
        from: Option<Vec<u8>>,
        hint: usize,
        mut f: impl FnMut(f64, Bytes) -> bool,
    ) {
        let mut start = from.unwrap_or_else(|| vec![INDEX]);
        if let Some(l) = self.low.as_ref().filter(|l| **l > start) {
            start = l.clone();
        }
        let mut n = hint.clamp(1, 1024);
        // The first page includes `start`: straight from the store when no
        // transaction is open (one range read), else a lookup of `start`
        // and the page after it.
        let (mut page, mut more) = if ctx.tx.is_none() {
            let from = [&self.p[..], &start].concat();
            let end = [&self.p[..], &[INDEX + 1]].concat();
            let (pairs, more) = ctx.srv.store.raw_range(&from, false, &end, n);
            let plen = self.p.len();
            let page = pairs
                .into_iter()
                .map(|(k, v)| (k.slice(plen..), v))
                .collect();
            (page, more)
        } else if let Some(before) = start.strip_suffix(&[0]) {
            // The fields from `x 0` on are exactly the fields after `x`.
            coll::page(ctx, &self.p, Some(before), n)
        } else {
            let exact = if start.len() >= IDX_HEAD {
                coll::elem(ctx, &self.p, &start).map(|v| (Bytes::from(start.clone()), v))
            } else {
                None
            };
            let (mut page, more) = coll::page(ctx, &self.p, Some(&start), n);
            if let Some(e) = exact {
                page.insert(0, e);
            }
            (page, more)
        };
        loop {
            for (field, _) in &page {
                let Some((s, m)) = parse_index(field) else {
                    return;
                };
                if !f(s, m) {
                    return;
                }
            }
            let after = match page.last() {
                Some((l, _)) if more => l.clone(),
                _ => return,
            };
            n = (n * 4).min(1024);
            (page, more) = coll::page(ctx, &self.p, Some(&after), n);
        }
    }

    /// Index entries below `upto` (an index field, exclusive; None: from
    /// the greatest), downwards, while `f` says to go on.
    fn walk_rev(
        &self,
        ctx: &mut Ctx<'_>,
        upto: Option<Vec<u8>>,
        mut f: impl FnMut(f64, Bytes) -> bool,
    ) {
        let start = [&self.p[..], &[INDEX]].concat();
        let upto = match (upto, &self.high) {
            (Some(u), Some(h)) => Some(u.min(h.clone())),
            (u, h) => u.or_else(|| h.clone()),
        };
        let mut end = match upto {
            Some(u) => [&self.p[..], &u].concat(),
            None => [&self.p[..], &[INDEX + 1]].concat(),
        };
        loop {
            let last = match ctx.tx.as_mut() {
                Some(tx) => tx.sub_last(&start, &end),
                None => ctx.srv.store.raw_last(&start, &end),
            };
            let Some((k, _)) = last else { return };
            let Some((s, m)) = parse_index(&k.slice(self.p.len()..)) else {
                return;
            };
            if !f(s, m) {
                return;
            }
            end = k.to_vec();
        }
    }

    fn first(&self, ctx: &mut Ctx<'_>) -> Option<(f64, Bytes)> {
        let mut r = None;
        self.walk_fwd(ctx, None, 1, |s, m| {
            r = Some((s, m));
            false
        });
        r
    }

    fn last(&self, ctx: &mut Ctx<'_>) -> Option<(f64, Bytes)> {
        let mut r = None;
        self.walk_rev(ctx, None, |s, m| {
            r = Some((s, m));
            false
        });
        r
    }

    /// Members at ranks `start..=end` (0-based, already clamped), read from
    /// whichever end is nearer; in descending order if `rev`.
    fn by_rank(&self, ctx: &mut Ctx<'_>, start: u64, end: u64, rev: bool) -> Vec<(Bytes, f64)> {
        // Ranks from the front.
        let (lo, hi) = if rev {
            (self.len - 1 - end, self.len - 1 - start)
        } else {
            (start, end)
        };
        let want = (hi - lo + 1) as usize;
        let mut out = Vec::with_capacity(want.min(1024));
        if lo <= self.len - 1 - hi {
            let mut i = 0u64;
            self.walk_fwd(ctx, None, (lo as usize).saturating_add(want), |s, m| {
                if i >= lo {
                    out.push((m, s));
                }
                i += 1;
                i <= hi
            });
            if rev {
                out.reverse();
            }
        } else {
            let mut i = self.len - 1;
            self.walk_rev(ctx, None, |s, m| {
                if i <= hi {
                    out.push((m, s));
                }
                let go = i > lo;
                i = i.saturating_sub(1);
                go
            });
            if !rev {
                out.reverse();
            }
        }
        out
    }

    /// Members with scores in `r`, in order (descending if `rev`), after
    /// skipping `offset` of them, at most `limit` (negative: all).
    fn by_score(
        &self,
        ctx: &mut Ctx<'_>,
        r: &Range,
        rev: bool,
        offset: i64,
        limit: i64,
    ) -> Vec<(Bytes, f64)> {
        let mut out = Vec::new();
        if offset < 0 || limit == 0 {
            return out;
        }
        let mut skip = offset;
        let mut take = |s: f64, m: Bytes| {
            if skip > 0 {
                skip -= 1;
            } else {
                out.push((m, s));
            }
            limit < 0 || (out.len() as i64) < limit
        };
        let hint = if limit < 0 {
            64
        } else {
            offset.saturating_add(limit) as usize
        };
        if rev {
            self.walk_rev(ctx, Some(r.end_field()), |s, m| r.gte_min(s) && take(s, m));
        } else {
            self.walk_fwd(ctx, Some(r.start_field()), hint, |s, m| {
                r.lte_max(s) && take(s, m)
            });
        }
        out
    }

    /// How many scores fall in `r`.
    fn count_score(&self, ctx: &mut Ctx<'_>, r: &Range) -> u64 {
        let mut n = 0;
        self.walk_fwd(ctx, Some(r.start_field()), 256, |s, _| {
            let inside = r.lte_max(s);
            n += inside as u64;
            inside
        });
        n
    }

    /// Members in a lexicographical range, with Redis's semantics also for
    /// sets whose scores differ: from the first member (in set order) at or
    /// above `min`, past `offset` members (in range or not), on while
    /// members stay at or below `max` (reversed: from the last at or below
    /// `max`, on while at or above `min`). Seeks when every score is the
    /// same, the case the range is meant for.
    fn by_lex(
        &self,
        ctx: &mut Ctx<'_>,
        r: &LexRange,
        rev: bool,
        offset: i64,
        limit: i64,
    ) -> Vec<(Bytes, f64)> {
        let mut out = Vec::new();
        if offset < 0 || limit == 0 || r.always_empty() {
            return out;
        }
        let (Some(first), Some(last)) = (self.first(ctx), self.last(ctx)) else {
            return out;
        };
        if !r.gte_min(&last.1) || !r.lte_max(&first.1) {
            return out;
        }
        let same = first.0 == last.0;
        let mut skip = offset;
        let mut started = false;
        let mut take = |s: f64, m: Bytes, ok_start: bool, ok_go: bool| {
            if !started {
                if !ok_start {
                    return true;
                }
                started = true;
            }
            // Redis skips the offset without checking the range.
            if skip > 0 {
                skip -= 1;
                return true;
            }
            if !ok_go {
                return false;
            }
            out.push((m, s));
            limit < 0 || (out.len() as i64) < limit
        };
        if rev {
            let upto = if same {
                match &r.max {
                    Lex::Incl(x) => Some(index_field(first.0, &[&x[..], &[0]].concat())),
                    Lex::Excl(x) => Some(index_field(first.0, x)),
                    _ => None,
                }
            } else {
                None
            };
            self.walk_rev(ctx, upto, |s, m| {
                let (a, b) = (r.lte_max(&m), r.gte_min(&m));
                take(s, m, a, b)
            });
        } else {
            let from = if same {
                match &r.min {
                    Lex::Incl(x) => Some(index_field(first.0, x)),
                    Lex::Excl(x) => Some(index_field(first.0, &[&x[..], &[0]].concat())),
                    _ => None,
                }
            } else {
                None
            };
            let hint = if limit < 0 {
                64
            } else {
                offset.saturating_add(limit) as usize
            };
            self.walk_fwd(ctx, from, hint, |s, m| {
                let (a, b) = (r.gte_min(&m), r.lte_max(&m));
                take(s, m, a, b)
            });
        }
        out
    }

    /// The 0-based rank of `member` (scored `score`) from the front, or
    /// from the back if `rev`: counts the entries before it.
    fn rank(&self, ctx: &mut Ctx<'_>, member: &[u8], score: f64, rev: bool) -> u64 {
        let target = enc_score(score);
        let mut n = 0u64;
        let mut count = |s: f64, m: Bytes| {
            if enc_score(s) == target && m == member {
                return false;
            }
            n += 1;
            true
        };
        if rev {
            self.walk_rev(ctx, None, &mut count);
        } else {
            self.walk_fwd(ctx, None, 256, &mut count);
        }
        n
    }

    /// Every (member, score), in member byte order.
    fn all(&self, ctx: &mut Ctx<'_>) -> Vec<(Bytes, f64)> {
        let pm = [&self.p[..], &[MEMBER]].concat();
        coll::all(ctx, &pm)
            .into_iter()
            .filter_map(|(m, v)| score_value(&v).map(|s| (m, s)))
            .collect()
    }
}

// ------------------------------------------------------------- replies

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

fn get_read(ctx: &mut Ctx<'_>, key: &[u8]) -> Result<Option<Z>, ()> {
    let m = coll::get(ctx, Kind::ZSet, key)?;
    Ok(m.map(|m| Z::of(ctx, key, &m)))
}

fn get_write(ctx: &mut Ctx<'_>, key: &[u8]) -> Result<Option<Z>, ()> {
    let m = coll::get_tx(ctx, Kind::ZSet, key)?;
    Ok(m.map(|m| Z::of(ctx, key, &m)))
}

// ------------------------------------------------------------ commands

const NAN_ERR: &str = "ERR resulting score is not a number (NaN)";

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
    let Ok(old) = coll::get_tx(ctx, Kind::ZSet, &a[1]) else {
        return;
    };
    if old.is_none() && xx {
        return if incr { ctx.out.null() } else { ctx.out.int(0) };
    }
    let mut z = Z::or_new(ctx, &a[1], old.as_ref());
    let (mut added, mut updated, mut processed) = (0i64, 0i64, 0);
    let mut last = 0.0;
    for (pair, &score) in rest.chunks(2).zip(&scores) {
        let member = &pair[1];
        match z.score(ctx, member) {
            Some(cur) => {
                if nx {
                    continue;
                }
                let new = if incr { score + cur } else { score };
                if new.is_nan() {
                    z.save(ctx, &a[1]);
                    return ctx.err(NAN_ERR);
                }
                if (lt && new >= cur) || (gt && new <= cur) {
                    continue;
                }
                last = new;
                processed += 1;
                if new != cur {
                    z.set(ctx, member, Some(cur), new);
                    updated += 1;
                }
            }
            None if !xx => {
                z.set(ctx, member, None, score);
                last = score;
                added += 1;
                processed += 1;
            }
            None => {}
        }
    }
    z.save(ctx, &a[1]);
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
    let mut n = 0;
    for m in &a[2..] {
        if let Some(s) = z.score(ctx, m) {
            z.remove(ctx, m, s);
            n += 1;
        }
    }
    z.save(ctx, &a[1]);
    ctx.out.int(n);
}

fn zscore(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let Ok(z) = get_read(ctx, &a[1]) else { return };
    match z.and_then(|z| z.score(ctx, &a[2])) {
        Some(s) => ctx.out.double(s),
        None => ctx.out.null(),
    }
}

fn zmscore(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let Ok(z) = get_read(ctx, &a[1]) else { return };
    ctx.out.array(a.len() - 2);
    for m in &a[2..] {
        match z.as_ref().and_then(|z| z.score(ctx, m)) {
            Some(s) => ctx.out.double(s),
            None => ctx.out.null(),
        }
    }
}

fn zcard(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    if let Ok(z) = get_read(ctx, &a[1]) {
        ctx.out.int(z.map_or(0, |z| z.len as i64));
    }
}

fn zcount(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let Some(r) = Range::parse(&a[2], &a[3]) else {
        return ctx.err("ERR min or max is not a float");
    };
    let Ok(z) = get_read(ctx, &a[1]) else { return };
    let n = z.map_or(0, |z| z.count_score(ctx, &r));
    ctx.out.int(n as i64);
}

fn zlexcount(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let Some(r) = LexRange::parse(&a[2], &a[3]) else {
        return ctx.err("ERR min or max not valid string range item");
    };
    let Ok(z) = get_read(ctx, &a[1]) else { return };
    let n = z.map_or(0, |z| z.by_lex(ctx, &r, false, 0, -1).len());
    ctx.out.int(n as i64);
}

fn rank_generic(ctx: &mut Ctx<'_>, a: &[Bytes], rev: bool) {
    let Ok(z) = get_read(ctx, &a[1]) else { return };
    let r = z.and_then(|z| {
        let s = z.score(ctx, &a[2])?;
        Some(z.rank(ctx, &a[2], s, rev))
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
        By::Score => match Range::parse(lo, hi) {
            Some(r) => Spec::Score(r),
            None => return ctx.err("ERR min or max is not a float"),
        },
        By::Lex => match LexRange::parse(lo, hi) {
            Some(r) => Spec::Lex(r),
            None => return ctx.err("ERR min or max not valid string range item"),
        },
        _ => match (parse_i64(lo), parse_i64(hi)) {
            (Some(s), Some(e)) => Spec::Rank(s, e),
            _ => return ctx.not_int(),
        },
    };
    let Ok(z) = get_read(ctx, &a[at]) else { return };
    let items = match z {
        None => Vec::new(),
        Some(z) => match spec {
            Spec::Rank(s, e) => match clamp_ranks(s, e, z.len) {
                Some((s, e)) => z.by_rank(ctx, s, e, rev),
                None => Vec::new(),
            },
            Spec::Score(r) => z.by_score(ctx, &r, rev, offset, limit),
            Spec::Lex(r) => z.by_lex(ctx, &r, rev, offset, limit),
        },
    };
    if store {
        store_result(ctx, &a[1], items);
    } else {
        reply_items(ctx, &items, withscores);
    }
}

/// Redis's rank arithmetic: negative counts from the end; None if empty.
fn clamp_ranks(start: i64, end: i64, len: u64) -> Option<(u64, u64)> {
    let len = len as i64;
    let mut s = if start < 0 {
        len.saturating_add(start)
    } else {
        start
    };
    let mut e = if end < 0 {
        len.saturating_add(end)
    } else {
        end
    };
    if s < 0 {
        s = 0;
    }
    if s > e || s >= len {
        return None;
    }
    if e >= len {
        e = len - 1;
    }
    Some((s as u64, e as u64))
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
fn store_result(ctx: &mut Ctx<'_>, dst: &[u8], items: Vec<(Bytes, f64)>) {
    let db = ctx.db();
    ctx.tx().delete(db, dst);
    let n = items.len();
    if n > 0 {
        let mut z = Z::or_new(ctx, dst, None);
        for (m, s) in &items {
            z.set(ctx, m, None, *s);
        }
        z.save(ctx, dst);
    }
    ctx.out.int(n as i64);
}

/// Pops up to `count` members from the low end (or the high end if `max`)
/// of the set at `key`: an empty list if the key is missing, Err after
/// answering WRONGTYPE. Shared with the blocking pops.
pub(crate) fn pop(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    max: bool,
    count: u64,
) -> Result<Vec<(Bytes, f64)>, ()> {
    let Some(mut z) = get_write(ctx, key)? else {
        return Ok(Vec::new());
    };
    let n = count.min(z.len);
    if n == 0 {
        return Ok(Vec::new());
    }
    let items = if max {
        z.by_rank(ctx, 0, n - 1, true)
    } else {
        z.by_rank(ctx, 0, n - 1, false)
    };
    for (m, s) in &items {
        z.remove(ctx, m, *s);
    }
    // What is left sorts after (or, popping the max, before) what went.
    if let Some((m, s)) = items.last() {
        let f = index_field(*s, m);
        if max {
            z.high = Some(f);
        } else {
            z.low = Some(successor(&f));
        }
    }
    z.save(ctx, key);
    Ok(items)
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
        By::Score => match Range::parse(&a[2], &a[3]) {
            Some(r) => Spec::Score(r),
            None => return ctx.err("ERR min or max is not a float"),
        },
        By::Lex => match LexRange::parse(&a[2], &a[3]) {
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
    let items = match spec {
        Spec::Rank(s, e) => match clamp_ranks(s, e, z.len) {
            Some((s, e)) => z.by_rank(ctx, s, e, false),
            None => Vec::new(),
        },
        Spec::Score(r) => z.by_score(ctx, &r, false, 0, -1),
        Spec::Lex(r) => z.by_lex(ctx, &r, false, 0, -1),
    };
    for (m, s) in &items {
        z.remove(ctx, m, *s);
    }
    z.save(ctx, &a[1]);
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

#[derive(Clone, Copy, PartialEq)]
enum Op {
    Union,
    Inter,
    Diff,
    Card,
}

#[derive(Clone, Copy)]
enum Agg {
    Sum,
    Min,
    Max,
}

fn aggregate(target: &mut f64, v: f64, agg: Agg) {
    match agg {
        Agg::Sum => {
            *target += v;
            if target.is_nan() {
                *target = 0.0;
            }
        }
        Agg::Min => {
            if v < *target {
                *target = v
            }
        }
        Agg::Max => {
            if v > *target {
                *target = v
            }
        }
    }
}

/// One input of ZUNION & co: a sorted set or a plain set (scores of 1).
struct Src {
    key: Bytes,
    meta: Option<Meta>,
    weight: f64,
}

impl Src {
    fn len(&self) -> u64 {
        self.meta.as_ref().map_or(0, |m| m.coll().1)
    }

    fn items(&self, ctx: &mut Ctx<'_>) -> Vec<(Bytes, f64)> {
        let Some(m) = &self.meta else {
            return Vec::new();
        };
        if m.kind == Kind::ZSet {
            Z::of(ctx, &self.key, m).all(ctx)
        } else {
            let p = crate::types::set::member_prefix(&mut ctx.data(), &self.key, m);
            coll::all(ctx, &p)
                .into_iter()
                .map(|(k, _)| (k, 1.0))
                .collect()
        }
    }

    fn score(&self, ctx: &mut Ctx<'_>, member: &[u8]) -> Option<f64> {
        let m = self.meta.as_ref()?;
        if m.kind == Kind::ZSet {
            Z::of(ctx, &self.key, m).score(ctx, member)
        } else {
            let p = crate::types::set::member_prefix(&mut ctx.data(), &self.key, m);
            coll::elem(ctx, &p, member).map(|_| 1.0)
        }
    }
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
    let db = ctx.db();
    let mut srcs = Vec::with_capacity(n);
    for k in &a[at + 1..at + 1 + n] {
        let meta = ctx.get(db, k);
        if meta
            .as_ref()
            .is_some_and(|m| m.kind != Kind::ZSet && m.kind != Kind::Set)
        {
            return ctx.wrongtype();
        }
        srcs.push(Src {
            key: k.clone(),
            meta,
            weight: 1.0,
        });
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
    let mut out: Vec<(Bytes, f64)> = match op {
        Op::Inter | Op::Card => {
            if srcs.iter().any(|s| s.meta.is_none()) {
                Vec::new()
            } else {
                // Walk the smallest input, probe the others (in size order,
                // which is also the order Redis adds the scores in).
                srcs.sort_by_key(|s| s.len());
                let mut out = Vec::new();
                let base = srcs[0].items(ctx);
                'member: for (m, s) in base {
                    let mut score = srcs[0].weight * s;
                    if score.is_nan() {
                        score = 0.0;
                    }
                    for other in &srcs[1..] {
                        match other.score(ctx, &m) {
                            Some(v) => aggregate(&mut score, v * other.weight, agg),
                            None => continue 'member,
                        }
                    }
                    out.push((m, score));
                    if op == Op::Card && limit > 0 && out.len() as u64 >= limit {
                        break;
                    }
                }
                out
            }
        }
        Op::Union => {
            srcs.sort_by_key(|s| s.len());
            let mut acc: HashMap<Bytes, f64> = HashMap::new();
            for s in &srcs {
                for (m, v) in s.items(ctx) {
                    let mut score = s.weight * v;
                    if score.is_nan() {
                        score = 0.0;
                    }
                    match acc.get_mut(&m) {
                        Some(t) => aggregate(t, score, agg),
                        None => {
                            acc.insert(m, score);
                        }
                    }
                }
            }
            acc.into_iter().collect()
        }
        Op::Diff => {
            let base = srcs[0].items(ctx);
            let mut out = Vec::new();
            'diff: for (m, s) in base {
                for other in &srcs[1..] {
                    if other.score(ctx, &m).is_some() {
                        continue 'diff;
                    }
                }
                out.push((m, s));
            }
            out
        }
    };
    if op == Op::Card {
        return ctx.out.int(out.len() as i64);
    }
    // Redis's order: -0 and 0 are equal scores. The reply keeps -0 (Redis
    // builds it in a skiplist); a stored result has 0, as ZADD's.
    out.sort_by(|x, y| {
        x.1.partial_cmp(&y.1)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then_with(|| x.0.cmp(&y.0))
    });
    match dst {
        Some(d) => store_result(ctx, d, out),
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
        let pm = [&z.p[..], &[MEMBER]].concat();
        let pick = coll::random_elem(ctx, &pm, &mut rand::thread_rng());
        return ctx.out.bulk_opt(pick.as_ref().map(|(m, _)| &m[..]));
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
    let pm = [&z.p[..], &[MEMBER]].concat();
    let decode = |v: Vec<(Bytes, Bytes)>| -> Vec<(Bytes, f64)> {
        v.into_iter()
            .filter_map(|(m, s)| score_value(&s).map(|s| (m, s)))
            .collect()
    };
    let picks = if count >= 0 {
        decode(coll::random_distinct(ctx, &pm, z.len, count as u64))
    } else {
        // With repeats; the reply is capped like SRANDMEMBER's.
        let k = count.unsigned_abs().min(1 << 24);
        let mut rng = rand::thread_rng();
        if k <= 1000 && k.saturating_mul(4) < z.len {
            let v = (0..k)
                .filter_map(|_| coll::random_elem(ctx, &pm, &mut rng))
                .collect();
            decode(v)
        } else {
            // Picks from the whole set, written as they are drawn: nothing
            // is sized by the count the client asked for.
            let all = z.all(ctx);
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
    coll::scan_under(
        ctx,
        a,
        Kind::ZSet,
        |_| &[MEMBER],
        |v| Bytes::from(score_value(v).map(fmt_double).unwrap_or_default()),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn score_encoding_sorts_like_scores() {
        let v = [
            f64::NEG_INFINITY,
            -1e300,
            -2.5,
            -1.0,
            -1e-300,
            -0.0,
            0.0,
            1e-300,
            0.1,
            1.0,
            3.0,
            1e300,
            f64::INFINITY,
        ];
        for w in v.windows(2) {
            assert!(enc_score(w[0]) <= enc_score(w[1]), "{} {}", w[0], w[1]);
        }
        assert_eq!(enc_score(-0.0), enc_score(0.0));
        for x in v {
            assert_eq!(dec_score(enc_score(x)), norm(x));
        }
    }

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

    #[test]
    fn ranks_clamp_like_redis() {
        assert_eq!(clamp_ranks(0, -1, 3), Some((0, 2)));
        assert_eq!(clamp_ranks(-100, 100, 3), Some((0, 2)));
        assert_eq!(clamp_ranks(2, 1, 3), None);
        assert_eq!(clamp_ranks(3, 5, 3), None);
        assert_eq!(clamp_ranks(i64::MIN, i64::MAX, 3), Some((0, 2)));
    }
}
