//! Set commands (Redis's t_set.c). A set is a metadata entry plus two sled
//! keys per member, under its version's element prefix:
//!
//! - `m | member` → `round u64 BE`: membership (SISMEMBER, SMEMBERS,
//!   SSCAN...), and which round of the pop order the member is in;
//! - `h | round u64 BE | hash u64 BE | member` → empty: the pop order,
//!   `hash` being XXH3-64 of the member seeded with the set's salt.
//!
//! The metadata payload is `version u64 BE | len u64 BE | salt u64 BE |
//! cursor`, the cursor being the order field of the last member popped
//! (maybe cut short): no live order field sorts at or below it. SPOP takes
//! the order entries after it, one seek that never steps over earlier
//! pops' deletions (they stay in the write buffer until it reaches sled).
//! SADD puts a member whose hash falls behind the cursor in the next round.
//!
//! Sets written by older builds have a 16-byte payload and untagged members
//! (`member` → empty) with no pop order: they are read and written in that
//! layout, and SPOP picks by random walks there.

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

/// Tag of a membership element (`m | member`).
const MEMBER: u8 = b'm';
/// Tag of a pop-order element (`h | round | hash | member`).
const ORDER: u8 = b'h';
/// Payload bytes before the cursor: `version | len | salt`.
const HEAD: usize = 24;
/// A longer cursor is cut to this (it keeps the round and the hash): a
/// prefix of the last popped field still is a low bound.
const MAX_CURSOR: usize = 64;

/// The tag under which the members of the set `m` are: `m`, or nothing for
/// a set written by an older build (untagged members, no pop order).
pub(crate) fn member_tag(m: &Meta) -> &'static [u8] {
    if m.payload.len() >= HEAD {
        &[MEMBER]
    } else {
        &[]
    }
}

/// The members among a set's elements as stored (the dump tool reads them
/// out of snapshot files), in member order.
pub fn decode_members<'e>(m: &Meta, elements: &'e [(Vec<u8>, Vec<u8>)]) -> Vec<&'e [u8]> {
    let tag = member_tag(m);
    elements
        .iter()
        .filter_map(|(f, _)| f.strip_prefix(tag))
        .collect()
}

/// One element as the dump tool shows a WAL effect on it.
pub fn describe_field(m: &Meta, field: &[u8]) -> String {
    let show = crate::dump::show;
    if member_tag(m).is_empty() {
        return format!("member {}", show(field));
    }
    match field.split_first() {
        Some((&MEMBER, member)) => format!("member {}", show(member)),
        Some((&ORDER, rest)) if rest.len() >= ORDER_HEAD => format!(
            "pop order of {} (round {})",
            show(&rest[ORDER_HEAD..]),
            round_of(rest)
        ),
        _ => format!("element {}", show(field)),
    }
}

/// Bytes of an order field before the member: `round | hash`.
const ORDER_HEAD: usize = 16;

/// The order field of `member` in `round` of a set salted with `salt`.
fn order_field(round: u64, salt: u64, member: &[u8]) -> Vec<u8> {
    let h = xxhash_rust::xxh3::xxh3_64_with_seed(member, salt);
    let mut f = Vec::with_capacity(ORDER_HEAD + member.len());
    f.extend_from_slice(&round.to_be_bytes());
    f.extend_from_slice(&h.to_be_bytes());
    f.extend_from_slice(member);
    f
}

/// The round kept in a member element's value (8 bytes BE).
fn round_of(v: &[u8]) -> u64 {
    v.get(..8)
        .and_then(|b| b.try_into().ok())
        .map_or(0, u64::from_be_bytes)
}

/// The pop order of a set: its salt and where the next pop starts.
struct Order {
    /// Where the order elements are: the version's prefix then `h`.
    prefix: Vec<u8>,
    salt: u64,
    /// No live order field sorts at or below it (the last one popped,
    /// maybe cut short); empty before the first pop.
    cursor: Vec<u8>,
}

impl Order {
    fn new(p: &[u8], salt: u64, cursor: Vec<u8>) -> Order {
        Order {
            prefix: [p, &[ORDER]].concat(),
            salt,
            cursor,
        }
    }

    /// The order element of `member` in `round`.
    fn key(&self, round: u64, member: &[u8]) -> Bytes {
        sub_key(&self.prefix, &order_field(round, self.salt, member))
    }

    /// The round a member added now joins: the cursor's if its hash puts
    /// it ahead of the cursor, else the next one. So the cursor stays a
    /// low bound (pops never step over earlier pops' deletions), and the
    /// order is that of a ring the cursor goes round.
    fn round_for(&self, member: &[u8]) -> u64 {
        let round = round_of(&self.cursor);
        if order_field(round, self.salt, member) > self.cursor {
            round
        } else {
            round.saturating_add(1)
        }
    }
}

/// An open set: where its elements are and its counters, written back by
/// `save`.
struct OpenSet {
    /// Where the members are: the version's prefix then `m`, or just the
    /// prefix in the older layout.
    mp: Vec<u8>,
    version: u64,
    len: u64,
    expire_at: Option<i64>,
    /// None in the older layout.
    order: Option<Order>,
    changed: bool,
}

impl OpenSet {
    fn of(ctx: &mut Ctx<'_>, key: &[u8], m: &Meta) -> OpenSet {
        let (version, len) = m.coll();
        let p = coll::prefix(ctx, key, m);
        let order = m.payload.get(16..HEAD).map(|s| {
            let mut b = [0u8; 8];
            b.copy_from_slice(s);
            Order::new(&p, u64::from_be_bytes(b), m.payload[HEAD..].to_vec())
        });
        OpenSet {
            mp: [&p[..], member_tag(m)].concat(),
            version,
            len,
            expire_at: m.expire_at,
            order,
            changed: false,
        }
    }

    /// A new empty set under a fresh version and salt (written only if it
    /// changes).
    fn create(ctx: &mut Ctx<'_>, key: &[u8]) -> OpenSet {
        let version = ctx.tx().new_version();
        let p = coll::prefix(ctx, key, &Meta::collection(Kind::Set, version, 0, None));
        OpenSet {
            mp: [&p[..], &[MEMBER]].concat(),
            version,
            len: 0,
            expire_at: None,
            order: Some(Order::new(&p, rand::random(), Vec::new())),
            changed: false,
        }
    }

    fn or_new(ctx: &mut Ctx<'_>, key: &[u8], m: Option<&Meta>) -> OpenSet {
        match m {
            Some(m) => OpenSet::of(ctx, key, m),
            None => OpenSet::create(ctx, key),
        }
    }

    fn has(&self, ctx: &mut Ctx<'_>, member: &[u8]) -> bool {
        coll::elem(ctx, &self.mp, member).is_some()
    }

    /// Adds a member known to be absent.
    fn insert(&mut self, ctx: &mut Ctx<'_>, member: &[u8]) {
        let tx = ctx.tx();
        match &self.order {
            Some(o) => {
                let round = o.round_for(member);
                tx.sub_put(o.key(round, member), EMPTY);
                let v = Bytes::copy_from_slice(&round.to_be_bytes());
                tx.sub_put(sub_key(&self.mp, member), v);
            }
            None => tx.sub_put(sub_key(&self.mp, member), EMPTY),
        }
        self.len += 1;
        self.changed = true;
    }

    /// Adds `member`; false if it was there.
    fn add(&mut self, ctx: &mut Ctx<'_>, member: &[u8]) -> bool {
        if self.has(ctx, member) {
            return false;
        }
        self.insert(ctx, member);
        true
    }

    /// Removes `member`; false if it was not there.
    fn remove(&mut self, ctx: &mut Ctx<'_>, member: &[u8]) -> bool {
        let Some(v) = coll::elem(ctx, &self.mp, member) else {
            return false;
        };
        let tx = ctx.tx();
        tx.sub_del(sub_key(&self.mp, member));
        if let Some(o) = &self.order {
            tx.sub_del(o.key(round_of(&v), member));
        }
        self.len = self.len.saturating_sub(1);
        self.changed = true;
        true
    }

    /// Pops `n` members (fewer than `len`): the first order entries after
    /// the cursor, one seek. Within a round the order is a random
    /// permutation to anyone without the salt; a member added behind the
    /// cursor waits for the next round, so none is left behind for ever
    /// (popping the lowest hashes instead would keep taking new members).
    fn pop_ordered(&mut self, ctx: &mut Ctx<'_>, n: u64) -> Vec<Bytes> {
        let Some((op, cursor)) = self
            .order
            .as_ref()
            .map(|o| (o.prefix.clone(), o.cursor.clone()))
        else {
            return Vec::new();
        };
        let mut out = Vec::new();
        let mut after = (!cursor.is_empty()).then_some(cursor);
        while (out.len() as u64) < n {
            let want = (n - out.len() as u64).min(1024) as usize;
            let (page, _) = coll::page(ctx, &op, after.as_deref(), want);
            if page.is_empty() {
                break;
            }
            // A page can hold more than asked for (a transaction's own
            // writes are merged in whole).
            for (f, _) in page.into_iter().take(want) {
                after = Some(f.to_vec());
                // Only this module writes order fields: round, hash, member.
                if f.len() < ORDER_HEAD {
                    continue;
                }
                let member = f.slice(ORDER_HEAD..);
                let tx = ctx.tx();
                tx.sub_del(sub_key(&op, &f));
                tx.sub_del(sub_key(&self.mp, &member));
                out.push(member);
            }
        }
        if let Some(o) = self.order.as_mut() {
            let mut c = after.unwrap_or_default();
            c.truncate(MAX_CURSOR);
            o.cursor = c;
        }
        self.len = self.len.saturating_sub(out.len() as u64);
        self.changed |= !out.is_empty();
        out
    }

    /// Writes the metadata if anything changed (deletes the key when empty,
    /// as Redis does).
    fn save(&self, ctx: &mut Ctx<'_>, key: &[u8]) {
        if !self.changed {
            return;
        }
        let db = ctx.db();
        if self.len == 0 {
            ctx.tx().delete(db, key);
            return;
        }
        let mut m = Meta::collection(Kind::Set, self.version, self.len, self.expire_at);
        if let Some(o) = &self.order {
            let mut p = Vec::with_capacity(HEAD + o.cursor.len());
            p.extend_from_slice(&m.payload);
            p.extend_from_slice(&o.salt.to_be_bytes());
            p.extend_from_slice(&o.cursor);
            m.payload = Bytes::from(p);
        }
        ctx.tx().put(db, key, &m);
    }
}

/// Where the members of the set `m` at `key` are (ZUNION & co. read sets).
pub(crate) fn member_prefix(ctx: &mut Ctx<'_>, key: &[u8], m: &Meta) -> Vec<u8> {
    OpenSet::of(ctx, key, m).mp
}

/// Adds `members` to the set at `key` in `db` (created if absent); the
/// number added, or None after WRONGTYPE.
fn add_members(ctx: &mut Ctx<'_>, key: &[u8], members: &[Bytes]) -> Option<i64> {
    let old = coll::get_tx(ctx, Kind::Set, key).ok()?;
    let mut s = OpenSet::or_new(ctx, key, old.as_ref());
    let mut added = 0;
    for mem in members {
        if s.add(ctx, mem) {
            added += 1;
        }
    }
    s.save(ctx, key);
    Some(added)
}

fn sadd(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    if let Some(n) = add_members(ctx, &a[1], &a[2..]) {
        ctx.out.int(n);
    }
}

/// Removes `members`; the number removed (the key goes when empty).
fn remove_members(ctx: &mut Ctx<'_>, key: &[u8], m: &Meta, members: &[Bytes]) -> i64 {
    let mut s = OpenSet::of(ctx, key, m);
    let mut removed = 0;
    for mem in members {
        if s.remove(ctx, mem) {
            removed += 1;
        }
    }
    s.save(ctx, key);
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
    OpenSet::of(ctx, key, m).has(ctx, member)
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
            let p = member_prefix(ctx, key, m);
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
    let p = member_prefix(ctx, key, m);
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
    let mut s = OpenSet::of(ctx, &a[1], &m);
    let n = count.unwrap_or(1).min(s.len);
    let popped: Vec<Bytes> = if n == 0 {
        Vec::new()
    } else if n == s.len {
        // All of it, as Redis does: one deletion of the key, whose
        // elements are reclaimed in the background.
        let all = coll::all(ctx, &s.mp).into_iter().map(|(k, _)| k).collect();
        let db = ctx.db();
        ctx.tx().delete(db, &a[1]);
        all
    } else if s.order.is_some() {
        let popped = s.pop_ordered(ctx, n);
        s.save(ctx, &a[1]);
        popped
    } else {
        // A set from an older build has no pop order: random walks.
        let popped: Vec<Bytes> = coll::random_distinct(ctx, &s.mp, s.len, n)
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        remove_members(ctx, &a[1], &m, &popped);
        popped
    };
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
        .filter_map(|&i| sets[i].as_ref().map(|m| member_prefix(ctx, &keys[i], m)))
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
        // The members are distinct: no need to look for them first.
        let mut s = OpenSet::create(ctx, dst);
        for mem in &members {
            s.insert(ctx, mem);
        }
        s.save(ctx, dst);
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
    coll::scan_under(ctx, a, Kind::Set, member_tag, |v| v.clone());
}
