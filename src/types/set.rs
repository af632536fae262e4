//! Sets (the storage half of Redis's t_set.c). A set is a metadata entry
//! plus two store keys per member, under its version's element prefix:
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

use super::{Db, TypeError};
use crate::store::keys::{sub_key, Kind, Meta};
use bytes::Bytes;
use std::collections::BTreeSet;

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
/// Bytes of an order field before the member: `round | hash`.
const ORDER_HEAD: usize = 16;

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
pub(crate) fn decode_members<'e>(m: &Meta, elements: &'e [(Vec<u8>, Vec<u8>)]) -> Vec<&'e [u8]> {
    let tag = member_tag(m);
    elements
        .iter()
        .filter_map(|(f, _)| f.strip_prefix(tag))
        .collect()
}

/// One element as the dump tool shows a WAL effect on it.
pub(crate) fn describe_field(m: &Meta, field: &[u8]) -> String {
    let show = crate::util::show;
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

/// An open set: where its elements are and its counters. Changes go into
/// the transaction at once; the metadata is written by [`OpenSet::save`].
pub(crate) struct OpenSet {
    key: Bytes,
    /// Where the members are: the version's prefix then `m`, or just the
    /// prefix in the older layout.
    mp: Vec<u8>,
    version: u64,
    len: u64,
    expire_at: Option<i64>,
    /// None in the older layout.
    order: Option<Order>,
    changed: bool,
    /// Redis would hold it as a `hashtable` (`types/encoding.rs`).
    converted: bool,
}

impl OpenSet {
    fn of(db: &mut Db<'_>, key: &Bytes, m: &Meta) -> OpenSet {
        let (version, len) = m.coll();
        let p = db.prefix(key, m);
        let order = m.payload.get(16..HEAD).map(|s| {
            let mut b = [0u8; 8];
            b.copy_from_slice(s);
            Order::new(&p, u64::from_be_bytes(b), m.payload[HEAD..].to_vec())
        });
        OpenSet {
            key: key.clone(),
            mp: [&p[..], member_tag(m)].concat(),
            version,
            len,
            expire_at: m.expire_at,
            order,
            changed: false,
            converted: m.converted,
        }
    }

    /// A new empty set under a fresh version and salt (written only if it
    /// changes).
    pub(crate) fn create(db: &mut Db<'_>, key: &Bytes) -> OpenSet {
        let version = db.tx().new_version();
        let p = db.prefix(key, &Meta::collection(Kind::Set, version, 0, None));
        OpenSet {
            key: key.clone(),
            mp: [&p[..], &[MEMBER]].concat(),
            version,
            len: 0,
            expire_at: None,
            order: Some(Order::new(&p, rand::random(), Vec::new())),
            changed: false,
            converted: false,
        }
    }

    /// The set at `key`, for a read (None: no such key).
    pub(crate) fn open(db: &mut Db<'_>, key: &Bytes) -> Result<Option<OpenSet>, TypeError> {
        Ok(db
            .get_kind(Kind::Set, key)?
            .map(|m| OpenSet::of(db, key, &m)))
    }

    /// The set at `key`, for a write (None: no such key).
    pub(crate) fn open_tx(db: &mut Db<'_>, key: &Bytes) -> Result<Option<OpenSet>, TypeError> {
        Ok(db
            .get_kind_tx(Kind::Set, key)?
            .map(|m| OpenSet::of(db, key, &m)))
    }

    /// The set at `key` for a write, or a new empty one.
    pub(crate) fn open_for_write(db: &mut Db<'_>, key: &Bytes) -> Result<OpenSet, TypeError> {
        Ok(match OpenSet::open_tx(db, key)? {
            Some(s) => s,
            None => OpenSet::create(db, key),
        })
    }

    /// The sets named by `keys`, for a read: `None` for a missing key (an
    /// empty set); WRONGTYPE if any key holds another type, as Redis
    /// checks every key before computing.
    pub(crate) fn open_all(
        db: &mut Db<'_>,
        keys: &[Bytes],
    ) -> Result<Vec<Option<OpenSet>>, TypeError> {
        let mut out = Vec::with_capacity(keys.len());
        for k in keys {
            let m = db.get_kind(Kind::Set, k)?;
            out.push(m.map(|m| OpenSet::of(db, k, &m)));
        }
        Ok(out)
    }

    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    pub(crate) fn has(&self, db: &mut Db<'_>, member: &[u8]) -> bool {
        db.elem(&self.mp, member).is_some()
    }

    /// Adds a member known to be absent.
    fn insert(&mut self, db: &mut Db<'_>, member: &[u8]) {
        let tx = db.tx();
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
        // Redis's intset becomes a hashtable on a member that is not an
        // integer, or past `set-max-intset-entries`.
        if !self.converted {
            self.converted =
                !super::encoding::is_intset_member(member) || self.len > db.limits().intset_entries;
        }
    }

    /// Adds `member`; false if it was there.
    pub(crate) fn add(&mut self, db: &mut Db<'_>, member: &[u8]) -> bool {
        if self.has(db, member) {
            return false;
        }
        self.insert(db, member);
        true
    }

    /// Removes `member`; false if it was not there.
    pub(crate) fn remove(&mut self, db: &mut Db<'_>, member: &[u8]) -> bool {
        let Some(v) = db.elem(&self.mp, member) else {
            return false;
        };
        let tx = db.tx();
        tx.sub_del(sub_key(&self.mp, member));
        if let Some(o) = &self.order {
            tx.sub_del(o.key(round_of(&v), member));
        }
        self.len = self.len.saturating_sub(1);
        self.changed = true;
        true
    }

    /// Every member, in member byte order.
    pub(crate) fn members(&self, db: &mut Db<'_>) -> Vec<Bytes> {
        db.all(&self.mp).into_iter().map(|(k, _)| k).collect()
    }

    /// A random member, without reading the set.
    pub(crate) fn random_member(&self, db: &mut Db<'_>, rng: &mut impl rand::Rng) -> Option<Bytes> {
        db.random_elem(&self.mp, rng).map(|(k, _)| k)
    }

    /// Up to `count` distinct random members (see [`Db::random_distinct`]).
    pub(crate) fn random_distinct(&self, db: &mut Db<'_>, count: u64) -> Vec<Bytes> {
        db.random_distinct(&self.mp, self.len, count)
            .into_iter()
            .map(|(k, _)| k)
            .collect()
    }

    /// SPOP: removes up to `n` members and returns them. The members
    /// removed are the effects replicated: replicas get the same result,
    /// whatever the randomness.
    pub(crate) fn pop(mut self, db: &mut Db<'_>, n: u64) -> Vec<Bytes> {
        let n = n.min(self.len);
        if n == 0 {
            Vec::new()
        } else if n == self.len {
            // All of it, as Redis does: one deletion of the key, whose
            // elements are reclaimed in the background.
            let all = self.members(db);
            let d = db.db;
            db.tx().delete(d, &self.key);
            all
        } else {
            let popped = if self.order.is_some() {
                self.pop_ordered(db, n)
            } else {
                // A set from an older build has no pop order: random walks.
                let popped = self.random_distinct(db, n);
                for m in &popped {
                    self.remove(db, m);
                }
                popped
            };
            // Redis copies the few members left into a new set when at
            // most a fifth of the count remains (`SPOP_MOVE_STRATEGY_MUL`):
            // its encoding then follows from them.
            if self.len.saturating_mul(5) <= n {
                self.converted = self.content_is_big(db);
            }
            self.save(db);
            popped
        }
    }

    /// Pops `n` members (fewer than `len`): the first order entries after
    /// the cursor, one seek. Within a round the order is a random
    /// permutation to anyone without the salt; a member added behind the
    /// cursor waits for the next round, so none is left behind for ever
    /// (popping the lowest hashes instead would keep taking new members).
    fn pop_ordered(&mut self, db: &mut Db<'_>, n: u64) -> Vec<Bytes> {
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
            let (page, _) = db.page(&op, after.as_deref(), want);
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
                let tx = db.tx();
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

    /// Whether the members make a hashtable (one not an integer, or too
    /// many): read only while they fit an intset.
    fn content_is_big(&self, db: &mut Db<'_>) -> bool {
        if self.len > db.limits().intset_entries {
            return true;
        }
        !self
            .members(db)
            .iter()
            .all(|m| super::encoding::is_intset_member(m))
    }

    /// Writes the metadata if anything changed (deletes the key when empty,
    /// as Redis does).
    pub(crate) fn save(&self, db: &mut Db<'_>) {
        if !self.changed {
            return;
        }
        let d = db.db;
        if self.len == 0 {
            db.tx().delete(d, &self.key);
            return;
        }
        let mut m = Meta::collection(Kind::Set, self.version, self.len, self.expire_at);
        m.converted = self.converted;
        if let Some(o) = &self.order {
            let mut p = Vec::with_capacity(HEAD + o.cursor.len());
            p.extend_from_slice(&m.payload);
            p.extend_from_slice(&o.salt.to_be_bytes());
            p.extend_from_slice(&o.cursor);
            m.payload = Bytes::from(p);
        }
        db.tx().put(d, &self.key, &m);
    }
}

/// Where the members of the set `m` at `key` are (ZUNION & co. read sets).
pub(crate) fn member_prefix(db: &mut Db<'_>, key: &Bytes, m: &Meta) -> Vec<u8> {
    OpenSet::of(db, key, m).mp
}

/// SMOVE: moves `member` from the set at `src` to the one at `dst`
/// (created if absent); false if it was not in `src`. Redis's order: a
/// missing source is false before any type check.
pub(crate) fn move_member(
    db: &mut Db<'_>,
    src: &Bytes,
    dst: &Bytes,
    member: &[u8],
) -> Result<bool, TypeError> {
    let d = db.db;
    let sm = db.tx().get(d, src);
    let dm = db.tx().get(d, dst);
    let Some(sm) = sm else {
        return Ok(false);
    };
    if sm.kind != Kind::Set || dm.as_ref().is_some_and(|m| m.kind != Kind::Set) {
        return Err(TypeError::WrongType);
    }
    let mut s = OpenSet::of(db, src, &sm);
    if src == dst {
        return Ok(s.has(db, member));
    }
    if !s.remove(db, member) {
        return Ok(false);
    }
    s.save(db);
    let mut t = match dm {
        Some(m) => OpenSet::of(db, dst, &m),
        None => OpenSet::create(db, dst),
    };
    t.add(db, member);
    t.save(db);
    Ok(true)
}

/// The intersection of `sets` (None: a missing key), in member order;
/// `limit` 0 = all.
pub(crate) fn inter(db: &mut Db<'_>, sets: &[Option<OpenSet>], limit: usize) -> Vec<Bytes> {
    let Some(mut sets) = sets
        .iter()
        .map(Option::as_ref)
        .collect::<Option<Vec<&OpenSet>>>()
    else {
        return Vec::new();
    };
    // Walk the smallest set, probe the others, as Redis does.
    sets.sort_by_key(|s| s.len);
    let Some((first, others)) = sets.split_first() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for mem in first.members(db) {
        if others.iter().all(|s| s.has(db, &mem)) {
            out.push(mem);
            if limit > 0 && out.len() >= limit {
                break;
            }
        }
    }
    out
}

/// The union of `sets`, in member order.
pub(crate) fn union(db: &mut Db<'_>, sets: &[Option<OpenSet>]) -> Vec<Bytes> {
    union_diff(db, sets, false)
}

/// The members of the first of `sets` in none of the others, in order.
pub(crate) fn diff(db: &mut Db<'_>, sets: &[Option<OpenSet>]) -> Vec<Bytes> {
    union_diff(db, sets, true)
}

fn union_diff(db: &mut Db<'_>, sets: &[Option<OpenSet>], diff: bool) -> Vec<Bytes> {
    let mut acc: BTreeSet<Bytes> = BTreeSet::new();
    for (i, s) in sets.iter().enumerate() {
        let members = s.as_ref().map_or_else(Vec::new, |s| s.members(db));
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

/// Replaces `dst` with a set of `members`, which are distinct (deleted
/// when empty: SINTERSTORE & co., RESTORE); returns their number. A new
/// value: its encoding follows from its members (`OpenSet::insert`).
pub(crate) fn replace(db: &mut Db<'_>, dst: &Bytes, members: &[Bytes]) -> u64 {
    let d = db.db;
    db.tx().delete(d, dst);
    if !members.is_empty() {
        // The members are distinct: no need to look for them first.
        let mut s = OpenSet::create(db, dst);
        for mem in members {
            s.insert(db, mem);
        }
        s.save(db);
    }
    members.len() as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::testing::{b, store};

    fn names(n: usize) -> Vec<Bytes> {
        (0..n).map(|i| b(&format!("m{i}"))).collect()
    }

    /// The salt stored in the set's metadata.
    fn salt_of(db: &mut Db<'_>, key: &[u8]) -> u64 {
        let m = db.get(key).expect("exists");
        u64::from_be_bytes(m.payload[16..24].try_into().expect("salt"))
    }

    #[test]
    fn members_are_added_counted_and_removed() {
        let (_d, store) = store();
        let key = b("s");
        let mut tx = None;
        let mut db = Db::new(&store, &mut tx, 0, 0);
        let mut s = OpenSet::open_for_write(&mut db, &key).expect("set");
        assert!(s.add(&mut db, b"a"));
        assert!(s.add(&mut db, b"b"));
        assert!(!s.add(&mut db, b"a"), "not new");
        assert_eq!(s.len(), 2);
        s.save(&mut db);
        let s = OpenSet::open(&mut db, &key).expect("type").expect("exists");
        assert_eq!(s.len(), 2);
        assert!(s.has(&mut db, b"a"));
        assert!(!s.has(&mut db, b"c"));
        assert_eq!(s.members(&mut db), [b("a"), b("b")]);
        let mut s = OpenSet::open_tx(&mut db, &key).expect("type").expect("set");
        assert!(s.remove(&mut db, b"a"));
        assert!(!s.remove(&mut db, b"a"));
        assert!(s.remove(&mut db, b"b"));
        s.save(&mut db);
        assert!(
            OpenSet::open(&mut db, &key).expect("type").is_none(),
            "an empty set is deleted"
        );
    }

    #[test]
    fn pops_follow_the_order_and_resume_after_the_cursor() {
        let (_d, store) = store();
        let key = b("s");
        let all = names(100);
        let mut tx = None;
        let mut db = Db::new(&store, &mut tx, 0, 0);
        let mut s = OpenSet::open_for_write(&mut db, &key).expect("set");
        for m in &all {
            s.add(&mut db, m);
        }
        s.save(&mut db);
        let salt = salt_of(&mut db, &key);
        // Round 0's order: by the salted hash.
        let mut expected = all.clone();
        expected.sort_by_key(|m| order_field(0, salt, m));
        let mut popped = Vec::new();
        while popped.len() < 90 {
            let s = OpenSet::open_tx(&mut db, &key).expect("type").expect("set");
            popped.extend(s.pop(&mut db, 30));
        }
        assert_eq!(
            popped[..],
            expected[..90],
            "each pop goes on after the last"
        );
        let s = OpenSet::open(&mut db, &key).expect("type").expect("set");
        assert_eq!(s.len(), 10);
        for m in &popped {
            assert!(!s.has(&mut db, m), "popped members are gone");
        }
        // A member whose hash is behind the cursor waits for the next round.
        let cursor = order_field(0, salt, &popped[89]);
        let late = (0..)
            .map(|i| b(&format!("late{i}")))
            .find(|m| order_field(0, salt, m) < cursor)
            .expect("some name hashes low");
        let mut s = OpenSet::open_tx(&mut db, &key).expect("type").expect("set");
        assert!(s.add(&mut db, &late));
        s.save(&mut db);
        let s = OpenSet::open_tx(&mut db, &key).expect("type").expect("set");
        let rest = s.pop(&mut db, 10);
        assert_eq!(rest[..], expected[90..], "round 0 first");
        let s = OpenSet::open_tx(&mut db, &key).expect("type").expect("set");
        assert_eq!(s.len(), 1);
        assert_eq!(s.pop(&mut db, 5), [late], "the last one empties the set");
        assert!(OpenSet::open(&mut db, &key).expect("type").is_none());
    }

    #[test]
    fn sets_of_the_older_layout_are_read_and_popped() {
        let (_d, store) = store();
        let key = b("old");
        let mut tx = None;
        let mut db = Db::new(&store, &mut tx, 0, 0);
        // A 16-byte payload and untagged members, as older builds wrote.
        let version = db.tx().new_version();
        let m = Meta::collection(Kind::Set, version, 3, None);
        let p = db.prefix(&key, &m);
        for x in ["x", "y", "z"] {
            db.tx().sub_put(sub_key(&p, x.as_bytes()), EMPTY);
        }
        db.tx().put(0, &key, &m);
        let s = OpenSet::open(&mut db, &key).expect("type").expect("set");
        assert_eq!(s.members(&mut db), [b("x"), b("y"), b("z")]);
        let mut s = OpenSet::open_tx(&mut db, &key).expect("type").expect("set");
        assert!(s.add(&mut db, b"w"));
        s.save(&mut db);
        let s = OpenSet::open_tx(&mut db, &key).expect("type").expect("set");
        let popped = s.pop(&mut db, 2);
        assert_eq!(popped.len(), 2);
        let s = OpenSet::open(&mut db, &key).expect("type").expect("set");
        assert_eq!(s.len(), 2);
        let left = s.members(&mut db);
        for m in &popped {
            assert!(!left.contains(m));
        }
        let m = db.get(&key).expect("exists");
        assert_eq!(m.payload.len(), 16, "still in the older layout");
    }

    #[test]
    fn algebra_and_moves() {
        let (_d, store) = store();
        let mut tx = None;
        let mut db = Db::new(&store, &mut tx, 0, 0);
        let (k1, k2, k3) = (b("a"), b("b"), b("c"));
        assert_eq!(replace(&mut db, &k1, &[b("1"), b("2"), b("3")]), 3);
        assert_eq!(replace(&mut db, &k2, &[b("2"), b("3"), b("4")]), 3);
        let sets = OpenSet::open_all(&mut db, &[k1.clone(), k2.clone()]).expect("sets");
        assert_eq!(inter(&mut db, &sets, 0), [b("2"), b("3")]);
        assert_eq!(inter(&mut db, &sets, 1), [b("2")]);
        assert_eq!(union(&mut db, &sets), [b("1"), b("2"), b("3"), b("4")]);
        assert_eq!(diff(&mut db, &sets), [b("1")]);
        let with_missing = OpenSet::open_all(&mut db, &[k1.clone(), k3.clone()]).expect("sets");
        assert!(inter(&mut db, &with_missing, 0).is_empty());
        assert!(move_member(&mut db, &k1, &k3, b"1").expect("sets"));
        assert!(!move_member(&mut db, &k1, &k3, b"1").expect("sets"));
        assert!(!move_member(&mut db, &b("nosuch"), &k3, b"1").expect("sets"));
        let s = OpenSet::open(&mut db, &k3).expect("type").expect("created");
        assert_eq!(s.members(&mut db), [b("1")]);
        assert_eq!(replace(&mut db, &k3, &[]), 0);
        assert!(OpenSet::open(&mut db, &k3).expect("type").is_none());
    }

    #[test]
    fn another_type_is_wrongtype() {
        let (_d, store) = store();
        let key = b("str");
        let set = b("s");
        let mut tx = None;
        let mut db = Db::new(&store, &mut tx, 0, 0);
        db.tx().put(0, &key, &Meta::string(b("v"), None));
        replace(&mut db, &set, &[b("m")]);
        let wrong = Some(TypeError::WrongType);
        assert_eq!(OpenSet::open(&mut db, &key).err(), wrong);
        assert_eq!(OpenSet::open_tx(&mut db, &key).err(), wrong);
        assert_eq!(OpenSet::open_for_write(&mut db, &key).err(), wrong);
        assert_eq!(
            OpenSet::open_all(&mut db, &[set.clone(), key.clone()]).err(),
            wrong
        );
        assert_eq!(move_member(&mut db, &set, &key, b"m").err(), wrong);
        assert_eq!(move_member(&mut db, &key, &set, b"m").err(), wrong);
        assert_eq!(
            move_member(&mut db, &b("nosuch"), &key, b"m"),
            Ok(false),
            "a missing source answers before the type check"
        );
    }
}
