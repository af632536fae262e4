//! Sorted sets (the storage half of Redis's t_zset.c). A sorted set is a
//! metadata entry (version, member count) plus two elements per member
//! under the key's element prefix:
//!
//! - `m | member` → the score, 8 bytes (f64 bits, big endian): lookups by
//!   member (ZSCORE, ZADD's old score);
//! - `s | order-preserving score (8 bytes) | member` → empty: the index, in
//!   Redis's order (score, then member bytes), so ranges and pops seek
//!   instead of reading the whole set.
//!
//! Scores are stored with -0 turned into 0, as a small (listpack) Redis set
//! does, so both elements of a member always agree on the order. The
//! commands parse score and lexicographical ranges ([`Range`],
//! [`LexRange`]); what they select is decided here.

use super::{set, Db, TypeError};
use crate::store::keys::{sub_key, Kind, Meta};
use bytes::Bytes;
use std::collections::HashMap;

/// Tag of a member element (`m | member` → score).
const MEMBER: u8 = b'm';
/// Tag of an index element (`s | score | member` → empty).
const INDEX: u8 = b's';
/// Length of an index element's field before the member.
const IDX_HEAD: usize = 9;

const EMPTY: Bytes = Bytes::from_static(b"");

/// The value of an index element whose score is -0 (else empty): the
/// index orders -0 as 0, which it equals, and this keeps its sign.
const NEG_ZERO: Bytes = Bytes::from_static(b"-");

/// An index element's value for score `s`.
fn index_value(s: f64) -> Bytes {
    if s == 0.0 && s.is_sign_negative() {
        NEG_ZERO
    } else {
        EMPTY
    }
}

/// The score of an index element: its field's, signed by its value.
fn signed(s: f64, v: &[u8]) -> f64 {
    if v == &NEG_ZERO[..] {
        -0.0
    } else {
        s
    }
}

/// -0 as 0: the two compare equal, and Redis's small (listpack) sets keep
/// 0; a skiplist keeps -0 (`Z::set`).
fn norm(s: f64) -> f64 {
    if s == 0.0 {
        0.0
    } else {
        s
    }
}

/// Big-endian bytes that sort like the scores: positive numbers get their
/// sign bit set, negative ones all bits flipped.
fn enc_score(s: f64) -> u64 {
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
pub(crate) fn decode_elements(elements: &[(Vec<u8>, Vec<u8>)]) -> Vec<(Vec<u8>, f64)> {
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
pub(crate) fn describe_field(field: &[u8], value: Option<&[u8]>) -> String {
    let show = crate::util::show;
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

/// A member element's value as its score.
pub(crate) fn score_value(v: &[u8]) -> Option<f64> {
    let b: [u8; 8] = v.try_into().ok()?;
    Some(f64::from_be_bytes(b))
}

/// The tag under which a sorted set's member elements are (ZSCAN walks
/// them; the index elements are not shown).
pub(crate) fn member_tag(_: &Meta) -> &'static [u8] {
    &[MEMBER]
}

/// Redis's rank arithmetic: negative counts from the end; None if empty.
pub(crate) fn clamp_ranks(start: i64, end: i64, len: u64) -> Option<(u64, u64)> {
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

/// A score range: `[min, max]`, either end exclusive (`minex`, `maxex`).
#[derive(Clone, Copy)]
pub(crate) struct Range {
    pub(crate) min: f64,
    pub(crate) max: f64,
    pub(crate) minex: bool,
    pub(crate) maxex: bool,
}

impl Range {
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
pub(crate) enum Lex {
    /// `-`: below every member.
    Min,
    /// `+`: above every member.
    Max,
    Incl(Bytes),
    Excl(Bytes),
}

impl Lex {
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

/// A lexicographical range of members.
pub(crate) struct LexRange {
    pub(crate) min: Lex,
    pub(crate) max: Lex,
}

impl LexRange {
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

/// An open sorted set: its element prefix and counters.
///
/// Its metadata may carry two bounds after `version | len` (each `len u32
/// BE | index field`, empty when unknown): no index entry sorts below `low`,
/// none at or above `high`. Pops set them, ZADD keeps them true, and walks
/// start there: the deletions of popped entries stay in the write buffer
/// until it reaches sled, and without the bounds every pop would step over
/// all of them again.
pub(crate) struct Z {
    key: Bytes,
    p: Vec<u8>,
    version: u64,
    len: u64,
    expire_at: Option<i64>,
    changed: bool,
    low: Option<Vec<u8>>,
    high: Option<Vec<u8>>,
    /// Redis would hold it as a `skiplist` (`types/encoding.rs`).
    converted: bool,
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
    fn of(db: &mut Db<'_>, key: &Bytes, m: &Meta) -> Z {
        let (version, len) = m.coll();
        let (low, high) = match m.payload.get(16..) {
            Some(ext) if m.kind == Kind::ZSet => decode_bounds(ext),
            _ => (None, None),
        };
        Z {
            key: key.clone(),
            p: db.prefix(key, m),
            version,
            len,
            expire_at: m.expire_at,
            changed: false,
            low,
            high,
            converted: m.converted,
        }
    }

    /// A new empty set at `key` (written only if it changes).
    pub(crate) fn create(db: &mut Db<'_>, key: &Bytes) -> Z {
        let version = db.tx().new_version();
        let m = Meta::collection(Kind::ZSet, version, 0, None);
        Z::of(db, key, &m)
    }

    /// The sorted set at `key`, for a read (None: no such key).
    pub(crate) fn open(db: &mut Db<'_>, key: &Bytes) -> Result<Option<Z>, TypeError> {
        Ok(db.get_kind(Kind::ZSet, key)?.map(|m| Z::of(db, key, &m)))
    }

    /// The sorted set at `key`, for a write (None: no such key).
    pub(crate) fn open_tx(db: &mut Db<'_>, key: &Bytes) -> Result<Option<Z>, TypeError> {
        Ok(db.get_kind_tx(Kind::ZSet, key)?.map(|m| Z::of(db, key, &m)))
    }

    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// A member's score.
    pub(crate) fn score(&self, db: &mut Db<'_>, member: &[u8]) -> Option<f64> {
        db.elem(&self.p, &member_field(member))
            .and_then(|v| score_value(&v))
    }

    /// Sets a member's score (`old`: its current one, if it is there).
    fn set(&mut self, db: &mut Db<'_>, member: &[u8], old: Option<f64>, new: f64) {
        match old {
            Some(o) => db.tx().sub_del(sub_key(&self.p, &index_field(o, member))),
            None => {
                // Redis converts a listpack before inserting a member over
                // `zset-max-listpack-value` or past the entries limit.
                self.len += 1;
                if !self.converted {
                    let lim = db.limits();
                    self.converted =
                        self.len > lim.zset_entries || member.len() as u64 > lim.zset_value;
                }
            }
        }
        // A listpack stores -0 as the integer 0; a skiplist keeps it.
        let new = if self.converted { new } else { norm(new) };
        let f = index_field(new, member);
        if self.low.as_ref().is_some_and(|l| f < *l) {
            self.low = Some(f.clone());
        }
        if self.high.as_ref().is_some_and(|h| f >= *h) {
            self.high = Some(successor(&f));
        }
        let tx = db.tx();
        tx.sub_put(sub_key(&self.p, &f), index_value(new));
        tx.sub_put(
            sub_key(&self.p, &member_field(member)),
            Bytes::copy_from_slice(&new.to_be_bytes()),
        );
        self.changed = true;
    }

    /// Removes a member known to be there with `score`.
    fn remove(&mut self, db: &mut Db<'_>, member: &[u8], score: f64) {
        let tx = db.tx();
        tx.sub_del(sub_key(&self.p, &index_field(score, member)));
        tx.sub_del(sub_key(&self.p, &member_field(member)));
        self.len = self.len.saturating_sub(1);
        self.changed = true;
    }

    /// Writes the metadata if anything changed (deletes the key when empty).
    pub(crate) fn save(&self, db: &mut Db<'_>) {
        if !self.changed {
            return;
        }
        let keep = |b: &Option<Vec<u8>>| b.as_ref().filter(|b| b.len() <= MAX_BOUND).cloned();
        let (low, high) = (keep(&self.low), keep(&self.high));
        if self.len == 0 || (low.is_none() && high.is_none()) {
            return db.put_meta(
                Kind::ZSet,
                &self.key,
                self.version,
                self.len,
                self.expire_at,
                self.converted,
            );
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
            chunked: false,
            converted: self.converted,
            no_int: false,
        };
        let d = db.db;
        db.tx().put(d, &self.key, &m);
    }

    /// Index entries from `from` (an index field, inclusive) upwards, while
    /// `f(score, member)` says to go on. Pages start at `hint` entries and
    /// grow, so a short walk reads little and a long one few times.
    fn walk_fwd(
        &self,
        db: &mut Db<'_>,
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
        let (mut page, mut more) = if db.open_tx().is_none() {
            let from = [&self.p[..], &start].concat();
            let end = [&self.p[..], &[INDEX + 1]].concat();
            let (pairs, more) = db.store().raw_range(&from, false, &end, n);
            let plen = self.p.len();
            let page = pairs
                .into_iter()
                .map(|(k, v)| (k.slice(plen..), v))
                .collect();
            (page, more)
        } else if let Some(before) = start.strip_suffix(&[0]) {
            // The fields from `x 0` on are exactly the fields after `x`.
            db.page(&self.p, Some(before), n)
        } else {
            let exact = if start.len() >= IDX_HEAD {
                db.elem(&self.p, &start)
                    .map(|v| (Bytes::from(start.clone()), v))
            } else {
                None
            };
            let (mut page, more) = db.page(&self.p, Some(&start), n);
            if let Some(e) = exact {
                page.insert(0, e);
            }
            (page, more)
        };
        loop {
            for (field, v) in &page {
                let Some((s, m)) = parse_index(field) else {
                    return;
                };
                if !f(signed(s, v), m) {
                    return;
                }
            }
            let after = match page.last() {
                Some((l, _)) if more => l.clone(),
                _ => return,
            };
            n = (n * 4).min(1024);
            (page, more) = db.page(&self.p, Some(&after), n);
        }
    }

    /// Index entries below `upto` (an index field, exclusive; None: from
    /// the greatest), downwards, while `f` says to go on.
    fn walk_rev(
        &self,
        db: &mut Db<'_>,
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
            let last = match db.open_tx() {
                Some(tx) => tx.sub_last(&start, &end),
                None => db.store().raw_last(&start, &end),
            };
            let Some((k, v)) = last else { return };
            let Some((s, m)) = parse_index(&k.slice(self.p.len()..)) else {
                return;
            };
            if !f(signed(s, &v), m) {
                return;
            }
            end = k.to_vec();
        }
    }

    fn first(&self, db: &mut Db<'_>) -> Option<(f64, Bytes)> {
        let mut r = None;
        self.walk_fwd(db, None, 1, |s, m| {
            r = Some((s, m));
            false
        });
        r
    }

    fn last(&self, db: &mut Db<'_>) -> Option<(f64, Bytes)> {
        let mut r = None;
        self.walk_rev(db, None, |s, m| {
            r = Some((s, m));
            false
        });
        r
    }

    /// Members at ranks `start..=end` (0-based, already clamped), read from
    /// whichever end is nearer; in descending order if `rev`.
    pub(crate) fn by_rank(
        &self,
        db: &mut Db<'_>,
        start: u64,
        end: u64,
        rev: bool,
    ) -> Vec<(Bytes, f64)> {
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
            self.walk_fwd(db, None, (lo as usize).saturating_add(want), |s, m| {
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
            self.walk_rev(db, None, |s, m| {
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
    pub(crate) fn by_score(
        &self,
        db: &mut Db<'_>,
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
            self.walk_rev(db, Some(r.end_field()), |s, m| r.gte_min(s) && take(s, m));
        } else {
            self.walk_fwd(db, Some(r.start_field()), hint, |s, m| {
                r.lte_max(s) && take(s, m)
            });
        }
        out
    }

    /// How many scores fall in `r`.
    pub(crate) fn count_score(&self, db: &mut Db<'_>, r: &Range) -> u64 {
        let mut n = 0;
        self.walk_fwd(db, Some(r.start_field()), 256, |s, _| {
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
    pub(crate) fn by_lex(
        &self,
        db: &mut Db<'_>,
        r: &LexRange,
        rev: bool,
        offset: i64,
        limit: i64,
    ) -> Vec<(Bytes, f64)> {
        let mut out = Vec::new();
        if offset < 0 || limit == 0 || r.always_empty() {
            return out;
        }
        let (Some(first), Some(last)) = (self.first(db), self.last(db)) else {
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
                // Redis's zzlFirstInLexRange (LastInLexRange): the first
                // member at or above min must also be at or below max, or
                // nothing is in range, whatever the offset.
                if !ok_go {
                    return false;
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
            self.walk_rev(db, upto, |s, m| {
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
            self.walk_fwd(db, from, hint, |s, m| {
                let (a, b) = (r.gte_min(&m), r.lte_max(&m));
                take(s, m, a, b)
            });
        }
        out
    }

    /// The 0-based rank of `member` (scored `score`) from the front, or
    /// from the back if `rev`: counts the entries before it.
    pub(crate) fn rank(&self, db: &mut Db<'_>, member: &[u8], score: f64, rev: bool) -> u64 {
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
            self.walk_rev(db, None, &mut count);
        } else {
            self.walk_fwd(db, None, 256, &mut count);
        }
        n
    }

    /// Every (score, member) in score order, page by page, while `f` says
    /// to go on (DUMP streams a big set this way).
    pub(crate) fn each(&self, db: &mut Db<'_>, f: impl FnMut(f64, Bytes) -> bool) {
        self.walk_fwd(db, None, 1024, f);
    }

    /// Every (member, score), in member byte order.
    pub(crate) fn all(&self, db: &mut Db<'_>) -> Vec<(Bytes, f64)> {
        let pm = [&self.p[..], &[MEMBER]].concat();
        db.all(&pm)
            .into_iter()
            .filter_map(|(m, v)| score_value(&v).map(|s| (m, s)))
            .collect()
    }

    /// ZADD / ZINCRBY for one member (Redis's `zsetAdd`): what was done,
    /// or NaN when INCR makes the score not a number (nothing changed).
    pub(crate) fn add(
        &mut self,
        db: &mut Db<'_>,
        member: &[u8],
        score: f64,
        f: AddFlags,
    ) -> Result<Added, TypeError> {
        match self.score(db, member) {
            Some(cur) => {
                if f.nx {
                    return Ok(Added::Skipped);
                }
                let new = if f.incr { score + cur } else { score };
                if new.is_nan() {
                    return Err(TypeError::NanScore);
                }
                if (f.lt && new >= cur) || (f.gt && new <= cur) {
                    return Ok(Added::Skipped);
                }
                let changed = new != cur;
                if changed {
                    self.set(db, member, Some(cur), new);
                }
                Ok(Added::Updated {
                    score: new,
                    changed,
                })
            }
            None if !f.xx => {
                self.set(db, member, None, score);
                Ok(Added::New(score))
            }
            None => Ok(Added::Skipped),
        }
    }

    /// Removes `member`; false if it was not there.
    pub(crate) fn remove_member(&mut self, db: &mut Db<'_>, member: &[u8]) -> bool {
        match self.score(db, member) {
            Some(s) => {
                self.remove(db, member, s);
                true
            }
            None => false,
        }
    }

    /// Removes the members of `items` (as read from this set).
    pub(crate) fn remove_all(&mut self, db: &mut Db<'_>, items: &[(Bytes, f64)]) {
        for (m, s) in items {
            self.remove(db, m, *s);
        }
    }

    /// Pops up to `count` members from the low end (or the high end if
    /// `max`), and saves.
    pub(crate) fn pop(&mut self, db: &mut Db<'_>, max: bool, count: u64) -> Vec<(Bytes, f64)> {
        let n = count.min(self.len);
        if n == 0 {
            return Vec::new();
        }
        let items = self.by_rank(db, 0, n - 1, max);
        self.remove_all(db, &items);
        // What is left sorts after (or, popping the max, before) what went.
        if let Some((m, s)) = items.last() {
            let f = index_field(*s, m);
            if max {
                self.high = Some(f);
            } else {
                self.low = Some(successor(&f));
            }
        }
        self.save(db);
        items
    }

    /// Where the member elements are.
    fn member_prefix(&self) -> Vec<u8> {
        [&self.p[..], &[MEMBER]].concat()
    }

    /// A random member, without reading the set.
    pub(crate) fn random_member(&self, db: &mut Db<'_>, rng: &mut impl rand::Rng) -> Option<Bytes> {
        db.random_elem(&self.member_prefix(), rng).map(|(m, _)| m)
    }

    /// Up to `k` random members with their scores, repeats allowed, by
    /// random walks (for a few picks from a big set).
    pub(crate) fn random_walks(
        &self,
        db: &mut Db<'_>,
        k: u64,
        rng: &mut impl rand::Rng,
    ) -> Vec<(Bytes, f64)> {
        let pm = self.member_prefix();
        (0..k)
            .filter_map(|_| db.random_elem(&pm, rng))
            .filter_map(|(m, s)| score_value(&s).map(|s| (m, s)))
            .collect()
    }

    /// Up to `count` distinct random members with their scores (see
    /// [`Db::random_distinct`]).
    pub(crate) fn random_distinct(&self, db: &mut Db<'_>, count: u64) -> Vec<(Bytes, f64)> {
        db.random_distinct(&self.member_prefix(), self.len, count)
            .into_iter()
            .filter_map(|(m, s)| score_value(&s).map(|s| (m, s)))
            .collect()
    }
}

/// ZADD's conditions (Redis's `ZADD_IN_*` flags; the command parses and
/// checks them).
#[derive(Clone, Copy, Default)]
pub(crate) struct AddFlags {
    /// Only add new members.
    pub(crate) nx: bool,
    /// Only update existing members.
    pub(crate) xx: bool,
    /// Only update to a greater score.
    pub(crate) gt: bool,
    /// Only update to a lesser score.
    pub(crate) lt: bool,
    /// The score is an increment (ZINCRBY, ZADD INCR).
    pub(crate) incr: bool,
}

/// What [`Z::add`] did with one member.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Added {
    /// A new member, with this score.
    New(f64),
    /// An existing member, now at `score` (`changed`: it was not already).
    Updated { score: f64, changed: bool },
    /// Left alone by NX, XX, GT or LT.
    Skipped,
}

/// Pops up to `count` members from the low end (or the high end if `max`)
/// of the set at `key`: empty if the key is missing. Shared by ZPOPMIN &
/// co. and the blocking pops.
pub(crate) fn pop(
    db: &mut Db<'_>,
    key: &Bytes,
    max: bool,
    count: u64,
) -> Result<Vec<(Bytes, f64)>, TypeError> {
    Ok(match Z::open_tx(db, key)? {
        Some(mut z) => z.pop(db, max, count),
        None => Vec::new(),
    })
}

/// SORT and SORT_RO of a sorted set: Redis 7.0 converts a listpack to a
/// skiplist before sorting (`zsetConvert` in sort.c), for good, so its
/// OBJECT ENCODING and DUMP change. The flag is written without touching
/// watchers (nothing a client reads changed). A replica leaves it to its
/// master's stream: it writes only what it is sent.
pub(crate) fn convert_for_sort(db: &mut Db<'_>, key: &Bytes) {
    if db.store().is_follower() {
        return;
    }
    let (n, now) = (db.db, db.now);
    // Not `Db::get`: SORT's own lookup is the one counted in INFO.
    let m = match db.open_tx() {
        Some(tx) => tx.get(n, key),
        None => db.store().get(n, key, now),
    };
    if !m.is_some_and(|m| m.kind == Kind::ZSet && !m.converted) {
        return;
    }
    if let Some(mut m) = db.tx().get(n, key) {
        if m.kind == Kind::ZSet && !m.converted {
            m.converted = true;
            db.tx().put_unwatched(n, key, &m);
        }
    }
}

/// Replaces `dst` with a sorted set of `items` (deleted when empty:
/// ZRANGESTORE, ZUNIONSTORE & co.); returns their number. A new value:
/// its encoding follows from its content (`Z::set` marks a big one).
pub(crate) fn replace(db: &mut Db<'_>, dst: &Bytes, items: &[(Bytes, f64)]) -> u64 {
    let d = db.db;
    db.tx().delete(d, dst);
    if !items.is_empty() {
        let mut z = Z::create(db, dst);
        // Built whole: a skiplist from the start (keeping -0) or a
        // listpack, by what it holds.
        let lim = db.limits();
        z.converted = items.len() as u64 > lim.zset_entries
            || items.iter().any(|(m, _)| m.len() as u64 > lim.zset_value);
        for (m, s) in items {
            z.set(db, m, None, *s);
        }
        z.save(db);
    }
    items.len() as u64
}

// ----------------------------------------------- ZUNION, ZINTER, ZDIFF

/// How the inputs of ZUNION & co. combine.
#[derive(Clone, Copy, PartialEq)]
pub(crate) enum SetOp {
    Union,
    Inter,
    Diff,
}

/// How the scores of a member found in several inputs combine.
#[derive(Clone, Copy)]
pub(crate) enum Agg {
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
pub(crate) struct Src {
    key: Bytes,
    meta: Option<Meta>,
    pub(crate) weight: f64,
}

impl Src {
    /// The input at `key` (none: an empty set), weight 1; WRONGTYPE if it
    /// is neither a sorted set nor a set.
    pub(crate) fn open(db: &mut Db<'_>, key: &Bytes) -> Result<Src, TypeError> {
        let meta = db.get(key);
        if meta
            .as_ref()
            .is_some_and(|m| m.kind != Kind::ZSet && m.kind != Kind::Set)
        {
            return Err(TypeError::WrongType);
        }
        Ok(Src {
            key: key.clone(),
            meta,
            weight: 1.0,
        })
    }

    fn len(&self) -> u64 {
        self.meta.as_ref().map_or(0, |m| m.coll().1)
    }

    fn items(&self, db: &mut Db<'_>) -> Vec<(Bytes, f64)> {
        let Some(m) = &self.meta else {
            return Vec::new();
        };
        if m.kind == Kind::ZSet {
            Z::of(db, &self.key, m).all(db)
        } else {
            let p = set::member_prefix(db, &self.key, m);
            db.all(&p).into_iter().map(|(k, _)| (k, 1.0)).collect()
        }
    }

    fn score(&self, db: &mut Db<'_>, member: &[u8]) -> Option<f64> {
        let m = self.meta.as_ref()?;
        if m.kind == Kind::ZSet {
            Z::of(db, &self.key, m).score(db, member)
        } else {
            let p = set::member_prefix(db, &self.key, m);
            db.elem(&p, member).map(|_| 1.0)
        }
    }
}

/// The members of `op` over `srcs`, each with its weighted, aggregated
/// score, in no particular order (see [`sort`]). An intersection stops
/// after `limit` members (0: all; ZINTERCARD).
pub(crate) fn combine(
    db: &mut Db<'_>,
    srcs: &mut [Src],
    op: SetOp,
    agg: Agg,
    limit: u64,
) -> Vec<(Bytes, f64)> {
    match op {
        SetOp::Inter => {
            if srcs.iter().any(|s| s.meta.is_none()) {
                return Vec::new();
            }
            // Walk the smallest input, probe the others (in size order,
            // which is also the order Redis adds the scores in).
            srcs.sort_by_key(|s| s.len());
            let mut out = Vec::new();
            let base = srcs[0].items(db);
            'member: for (m, s) in base {
                let mut score = srcs[0].weight * s;
                if score.is_nan() {
                    score = 0.0;
                }
                for other in &srcs[1..] {
                    match other.score(db, &m) {
                        Some(v) => aggregate(&mut score, v * other.weight, agg),
                        None => continue 'member,
                    }
                }
                out.push((m, score));
                if limit > 0 && out.len() as u64 >= limit {
                    break;
                }
            }
            out
        }
        SetOp::Union => {
            srcs.sort_by_key(|s| s.len());
            let mut acc: HashMap<Bytes, f64> = HashMap::new();
            for s in srcs.iter() {
                for (m, v) in s.items(db) {
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
        SetOp::Diff => {
            let Some((first, others)) = srcs.split_first() else {
                return Vec::new();
            };
            let base = first.items(db);
            let mut out = Vec::new();
            'diff: for (m, s) in base {
                for other in others {
                    if other.score(db, &m).is_some() {
                        continue 'diff;
                    }
                }
                out.push((m, s));
            }
            out
        }
    }
}

/// Redis's order for a computed result: by score (-0 and 0 are equal
/// scores), then member. -0 is kept (Redis builds the reply in a
/// skiplist); a stored result has 0, as ZADD's.
pub(crate) fn sort(items: &mut [(Bytes, f64)]) {
    items.sort_by(|x, y| {
        x.1.partial_cmp(&y.1)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then_with(|| x.0.cmp(&y.0))
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::testing::{b, store};

    fn pairs(v: &[(&str, f64)]) -> Vec<(Bytes, f64)> {
        v.iter().map(|(m, s)| (b(m), *s)).collect()
    }

    /// A sorted set at `key` holding `items`.
    fn zset(db: &mut Db<'_>, key: &Bytes, items: &[(&str, f64)]) {
        replace(db, key, &pairs(items));
    }

    fn range(min: f64, max: f64, minex: bool, maxex: bool) -> Range {
        Range {
            min,
            max,
            minex,
            maxex,
        }
    }

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
    fn ranks_clamp_like_redis() {
        assert_eq!(clamp_ranks(0, -1, 3), Some((0, 2)));
        assert_eq!(clamp_ranks(-100, 100, 3), Some((0, 2)));
        assert_eq!(clamp_ranks(2, 1, 3), None);
        assert_eq!(clamp_ranks(3, 5, 3), None);
        assert_eq!(clamp_ranks(i64::MIN, i64::MAX, 3), Some((0, 2)));
    }

    #[test]
    fn members_are_added_scored_and_removed() {
        let (_d, store) = store();
        let key = b("z");
        let mut tx = None;
        let mut db = Db::new(&store, &mut tx, 0, 0);
        let mut z = Z::create(&mut db, &key);
        let none = AddFlags::default();
        assert_eq!(z.add(&mut db, b"a", 1.0, none), Ok(Added::New(1.0)));
        assert_eq!(z.add(&mut db, b"b", -0.0, none), Ok(Added::New(-0.0)));
        let same = Added::Updated {
            score: 1.0,
            changed: false,
        };
        assert_eq!(z.add(&mut db, b"a", 1.0, none), Ok(same));
        assert_eq!(z.len(), 2);
        z.save(&mut db);
        let z = Z::open(&mut db, &key).expect("type").expect("exists");
        assert_eq!(z.score(&mut db, b"a"), Some(1.0));
        assert_eq!(
            z.score(&mut db, b"b").map(f64::to_bits),
            Some(0f64.to_bits())
        );
        assert_eq!(z.score(&mut db, b"c"), None);
        assert_eq!(z.all(&mut db), pairs(&[("a", 1.0), ("b", 0.0)]));
        let mut z = Z::open_tx(&mut db, &key).expect("type").expect("exists");
        assert!(z.remove_member(&mut db, b"a"));
        assert!(!z.remove_member(&mut db, b"a"));
        assert!(z.remove_member(&mut db, b"b"));
        z.save(&mut db);
        assert!(
            Z::open(&mut db, &key).expect("type").is_none(),
            "an empty sorted set is deleted"
        );
    }

    #[test]
    fn add_follows_zadds_flags() {
        let (_d, store) = store();
        let key = b("z");
        let mut tx = None;
        let mut db = Db::new(&store, &mut tx, 0, 0);
        let mut z = Z::create(&mut db, &key);
        let f = |nx, xx, gt, lt, incr| AddFlags {
            nx,
            xx,
            gt,
            lt,
            incr,
        };
        let upd = |score, changed| Ok(Added::Updated { score, changed });
        let xx = f(false, true, false, false, false);
        assert_eq!(z.add(&mut db, b"a", 1.0, xx), Ok(Added::Skipped));
        assert_eq!(
            z.add(&mut db, b"a", 5.0, AddFlags::default()),
            Ok(Added::New(5.0))
        );
        let nx = f(true, false, false, false, false);
        assert_eq!(z.add(&mut db, b"a", 1.0, nx), Ok(Added::Skipped));
        let gt = f(false, false, true, false, false);
        assert_eq!(z.add(&mut db, b"a", 4.0, gt), Ok(Added::Skipped));
        assert_eq!(z.add(&mut db, b"a", 6.0, gt), upd(6.0, true));
        let lt = f(false, false, false, true, false);
        assert_eq!(z.add(&mut db, b"a", 7.0, lt), Ok(Added::Skipped));
        assert_eq!(z.add(&mut db, b"a", 2.0, lt), upd(2.0, true));
        let incr = f(false, false, false, false, true);
        assert_eq!(z.add(&mut db, b"a", 1.5, incr), upd(3.5, true));
        assert_eq!(z.add(&mut db, b"b", 1.5, incr), Ok(Added::New(1.5)));
        assert_eq!(
            z.add(&mut db, b"c", f64::INFINITY, incr),
            Ok(Added::New(f64::INFINITY))
        );
        assert_eq!(
            z.add(&mut db, b"c", f64::NEG_INFINITY, incr),
            Err(TypeError::NanScore)
        );
        assert_eq!(z.score(&mut db, b"c"), Some(f64::INFINITY), "unchanged");
        z.save(&mut db);
        let z = Z::open(&mut db, &key).expect("type").expect("exists");
        assert_eq!(
            z.by_rank(&mut db, 0, 2, false),
            pairs(&[("b", 1.5), ("a", 3.5), ("c", f64::INFINITY)])
        );
    }

    #[test]
    fn ranges_by_rank_score_and_lex() {
        let (_d, store) = store();
        let key = b("z");
        let mut tx = None;
        let mut db = Db::new(&store, &mut tx, 0, 0);
        zset(
            &mut db,
            &key,
            &[("a", 1.0), ("b", 2.0), ("c", 2.0), ("d", 3.0), ("e", 4.0)],
        );
        let z = Z::open(&mut db, &key).expect("type").expect("exists");
        assert_eq!(
            z.by_rank(&mut db, 1, 2, false),
            pairs(&[("b", 2.0), ("c", 2.0)])
        );
        assert_eq!(
            z.by_rank(&mut db, 0, 1, true),
            pairs(&[("e", 4.0), ("d", 3.0)])
        );
        assert_eq!(
            z.by_rank(&mut db, 3, 4, false),
            pairs(&[("d", 3.0), ("e", 4.0)])
        );
        let r = range(2.0, 4.0, false, true);
        assert_eq!(
            z.by_score(&mut db, &r, false, 0, -1),
            pairs(&[("b", 2.0), ("c", 2.0), ("d", 3.0)])
        );
        assert_eq!(z.by_score(&mut db, &r, false, 1, 1), pairs(&[("c", 2.0)]));
        let rev = range(2.0, 4.0, true, false);
        assert_eq!(
            z.by_score(&mut db, &rev, true, 0, -1),
            pairs(&[("e", 4.0), ("d", 3.0)])
        );
        assert_eq!(z.count_score(&mut db, &range(2.0, 3.0, false, false)), 3);
        assert_eq!(z.count_score(&mut db, &range(5.0, 9.0, false, false)), 0);
        assert_eq!(z.rank(&mut db, b"c", 2.0, false), 2);
        assert_eq!(z.rank(&mut db, b"c", 2.0, true), 2);
        assert_eq!(z.rank(&mut db, b"e", 4.0, true), 0);
        let lex = |min, max| LexRange { min, max };
        let all = lex(Lex::Min, Lex::Max);
        assert_eq!(z.by_lex(&mut db, &all, false, 0, -1).len(), 5);
        assert!(z
            .by_lex(&mut db, &lex(Lex::Max, Lex::Min), false, 0, -1)
            .is_empty());
        // Same scores, the case lexicographical ranges are meant for.
        let key2 = b("same");
        zset(
            &mut db,
            &key2,
            &[("a", 0.0), ("b", 0.0), ("c", 0.0), ("d", 0.0)],
        );
        let z = Z::open(&mut db, &key2).expect("type").expect("exists");
        let r = lex(Lex::Excl(b("a")), Lex::Incl(b("c")));
        assert_eq!(
            z.by_lex(&mut db, &r, false, 0, -1),
            pairs(&[("b", 0.0), ("c", 0.0)])
        );
        assert_eq!(
            z.by_lex(&mut db, &r, true, 0, -1),
            pairs(&[("c", 0.0), ("b", 0.0)])
        );
        assert_eq!(z.by_lex(&mut db, &r, false, 1, 5), pairs(&[("c", 0.0)]));
        // Mixed scores, as Redis 7.0 answers them (checked with
        // redis-server): the first member at or above min is m5, past max,
        // so nothing is in range even with an offset that would skip it.
        let key3 = b("mixed");
        zset(&mut db, &key3, &[("m5", 0.0), ("m3", 1.0), ("m2", 2.0)]);
        let z = Z::open(&mut db, &key3).expect("type").expect("exists");
        let r = lex(Lex::Excl(b("m1")), Lex::Excl(b("m4")));
        assert!(z.by_lex(&mut db, &r, false, 1, 2).is_empty());
        assert!(z.by_lex(&mut db, &r, false, 0, -1).is_empty());
        // Reversed: the last member at or below max is m2, below min.
        let r = lex(Lex::Excl(b("m2")), Lex::Incl(b("m5")));
        assert!(z.by_lex(&mut db, &r, true, 1, 1).is_empty());
        assert_eq!(
            z.by_lex(&mut db, &lex(Lex::Min, Lex::Max), true, 1, 1),
            pairs(&[("m3", 1.0)])
        );
    }

    #[test]
    fn pops_keep_bounds_that_later_adds_respect() {
        let (_d, store) = store();
        let key = b("z");
        let mut tx = None;
        let mut db = Db::new(&store, &mut tx, 0, 0);
        zset(
            &mut db,
            &key,
            &[("a", 1.0), ("b", 2.0), ("c", 3.0), ("d", 4.0), ("e", 5.0)],
        );
        assert_eq!(
            pop(&mut db, &key, false, 2),
            Ok(pairs(&[("a", 1.0), ("b", 2.0)]))
        );
        assert_eq!(pop(&mut db, &key, true, 1), Ok(pairs(&[("e", 5.0)])));
        // Below the low bound and above the high one: still found.
        let mut z = Z::open_tx(&mut db, &key).expect("type").expect("exists");
        z.add(&mut db, b"lo", 0.5, AddFlags::default())
            .expect("added");
        z.add(&mut db, b"hi", 9.0, AddFlags::default())
            .expect("added");
        z.save(&mut db);
        let z = Z::open(&mut db, &key).expect("type").expect("exists");
        assert_eq!(
            z.by_rank(&mut db, 0, 3, false),
            pairs(&[("lo", 0.5), ("c", 3.0), ("d", 4.0), ("hi", 9.0)])
        );
        assert_eq!(pop(&mut db, &key, false, 1), Ok(pairs(&[("lo", 0.5)])));
        assert_eq!(pop(&mut db, &key, true, 1), Ok(pairs(&[("hi", 9.0)])));
        assert_eq!(
            pop(&mut db, &key, false, 10),
            Ok(pairs(&[("c", 3.0), ("d", 4.0)]))
        );
        assert_eq!(pop(&mut db, &key, false, 1), Ok(Vec::new()), "deleted");
        assert!(Z::open(&mut db, &key).expect("type").is_none());
    }

    fn open(db: &mut Db<'_>, keys: &[&Bytes]) -> Vec<Src> {
        keys.iter()
            .map(|k| Src::open(db, k).expect("type"))
            .collect()
    }

    #[test]
    fn combines_sorted_sets_and_sets() {
        let (_d, store) = store();
        let (z1, z2, s, none) = (b("z1"), b("z2"), b("s"), b("none"));
        let mut tx = None;
        let mut db = Db::new(&store, &mut tx, 0, 0);
        zset(&mut db, &z1, &[("a", 1.0), ("b", 2.0), ("c", 3.0)]);
        zset(&mut db, &z2, &[("b", 10.0), ("c", 20.0), ("d", 30.0)]);
        crate::types::set::replace(&mut db, &s, &[b("c"), b("d")]);
        let mut srcs = open(&mut db, &[&z1, &z2]);
        srcs[1].weight = 2.0;
        let mut u = combine(&mut db, &mut srcs, SetOp::Union, Agg::Sum, 0);
        sort(&mut u);
        assert_eq!(
            u,
            pairs(&[("a", 1.0), ("b", 22.0), ("c", 43.0), ("d", 60.0)])
        );
        let mut srcs = open(&mut db, &[&z1, &z2, &s]);
        let mut i = combine(&mut db, &mut srcs, SetOp::Inter, Agg::Max, 0);
        sort(&mut i);
        assert_eq!(i, pairs(&[("c", 20.0)]));
        let mut srcs = open(&mut db, &[&z2, &s]);
        let mut d = combine(&mut db, &mut srcs, SetOp::Diff, Agg::Sum, 0);
        sort(&mut d);
        assert_eq!(d, pairs(&[("b", 10.0)]));
        let mut srcs = open(&mut db, &[&z1, &z2]);
        assert_eq!(
            combine(&mut db, &mut srcs, SetOp::Inter, Agg::Sum, 1).len(),
            1,
            "ZINTERCARD's limit"
        );
        let mut srcs = open(&mut db, &[&z1, &none]);
        assert!(combine(&mut db, &mut srcs, SetOp::Inter, Agg::Sum, 0).is_empty());
    }

    #[test]
    fn another_type_is_wrongtype() {
        let (_d, store) = store();
        let (key, list) = (b("s"), b("l"));
        let mut tx = None;
        let mut db = Db::new(&store, &mut tx, 0, 0);
        db.tx().put(0, &key, &Meta::string(b("v"), None));
        crate::types::list::push(&mut db, &list, &[b("x")], false, false).expect("list");
        let wrong = Some(TypeError::WrongType);
        assert_eq!(Z::open(&mut db, &key).err(), wrong);
        assert_eq!(Z::open_tx(&mut db, &key).err(), wrong);
        assert_eq!(pop(&mut db, &key, false, 1).err(), wrong);
        assert_eq!(Src::open(&mut db, &key).err(), wrong);
        assert_eq!(Src::open(&mut db, &list).err(), wrong);
    }

    #[test]
    fn dump_decodes_the_elements() {
        let elements = vec![
            (member_field(b"x"), 2.5f64.to_be_bytes().to_vec()),
            (index_field(2.5, b"x"), Vec::new()),
            (index_field(-1.0, b"y"), Vec::new()),
        ];
        assert_eq!(
            decode_elements(&elements),
            [(b"x".to_vec(), 2.5), (b"y".to_vec(), -1.0)]
        );
        assert_eq!(
            describe_field(&member_field(b"x"), Some(&2.5f64.to_be_bytes())),
            "member \"x\" score 2.5"
        );
        assert_eq!(
            describe_field(&index_field(-1.0, b"y"), None),
            "score index -1 \"y\""
        );
    }
}
