//! How Redis keys are laid out in sled.
//!
//! - `k | db u8 | gen u32 BE | user key` → a key's metadata (its type, expiry
//!   and, for strings, the value itself). `gen` is the database's generation:
//!   FLUSHDB moves a database to a new generation, which hides every older key
//!   at once; the old ones are reclaimed in the background.
//! - `! g | slot u8` → the current generation (u32 BE) of a physical
//!   database slot.
//! - `! m | db u8` → the physical slot (u8) that logical database `db`
//!   reads and writes; absent means the slot of the same number. SWAPDB
//!   exchanges two of these, nothing else (see `Store::slot`).
//!
//! The `db` byte in the data, element and expiry keys below is a physical
//! slot; the commands' database numbers are logical and go through the
//! `! m` map.
//! - `f | library name` → a function library's code (FUNCTION LOAD). Like
//!   any pair, it is logged, replicated and in snapshots, so functions
//!   survive restarts and full syncs as Redis's RDB keeps them. It is in no
//!   database: FLUSHALL leaves it, as Redis does.
//!
//! - `s | db u8 | gen u32 BE | key len u32 BE | user key | version u64 BE |
//!   field` → one element of a collection (a hash field's value). The
//!   version comes from the key's metadata: DEL or overwrite of a big
//!   collection just drops the metadata, and the elements of the old version
//!   are reclaimed in the background.
//! - `g | element prefix` → empty: a collection version whose metadata is
//!   gone (DEL, overwrite, expiry), its elements waiting for the GC thread.
//!   Written by the record that drops the metadata, removed by the GC once
//!   the elements are gone, so the queue survives a restart.
//! - `x | deadline u64 BE (sign bit flipped) | db u8 | gen u32 BE | user key`
//!   → empty: the expiry index, ordered by deadline. Its entries are
//!   derived from the metadata when a record is committed and logged with
//!   it (`WriteTx::index_effects`), so replaying a record needs nothing
//!   before it, the active cycle finds due keys with one ordered read, and
//!   a restart rebuilds nothing.

use bytes::{BufMut, Bytes, BytesMut};

pub const DATA: u8 = b'k';
pub const SUB: u8 = b's';
pub const INTERNAL: u8 = b'!';
pub const EXPIRY: u8 = b'x';
pub const GARBAGE: u8 = b'g';
pub const FUNCTION: u8 = b'f';
/// A staged write's marker (`store/stage.rs`): `p | element prefix`.
pub const STAGING: u8 = b'p';
pub const DATA_PREFIX_LEN: usize = 6;

pub fn data_key(db: u8, gen: u32, key: &[u8]) -> Bytes {
    let mut b = BytesMut::with_capacity(DATA_PREFIX_LEN + key.len());
    b.put_u8(DATA);
    b.put_u8(db);
    b.put_u32(gen);
    b.put_slice(key);
    b.freeze()
}

pub fn db_prefix(db: u8, gen: u32) -> [u8; DATA_PREFIX_LEN] {
    let g = gen.to_be_bytes();
    [DATA, db, g[0], g[1], g[2], g[3]]
}

/// Splits a data key into (db, gen, user key).
pub fn parse_data_key(k: &[u8]) -> Option<(u8, u32, &[u8])> {
    if k.len() < DATA_PREFIX_LEN || k[0] != DATA {
        return None;
    }
    let gen = u32::from_be_bytes([k[2], k[3], k[4], k[5]]);
    Some((k[1], gen, &k[DATA_PREFIX_LEN..]))
}

/// Deadlines sort as unsigned big-endian bytes.
fn deadline_bytes(at: i64) -> [u8; 8] {
    ((at as u64) ^ (1 << 63)).to_be_bytes()
}

/// The expiry index entry of a key with a deadline.
pub fn expiry_key(at: i64, db: u8, gen: u32, key: &[u8]) -> Bytes {
    let mut b = BytesMut::with_capacity(14 + key.len());
    b.put_u8(EXPIRY);
    b.put_slice(&deadline_bytes(at));
    b.put_u8(db);
    b.put_u32(gen);
    b.put_slice(key);
    b.freeze()
}

/// Splits an expiry index entry into (deadline, db, gen, user key).
pub fn parse_expiry_key(k: &[u8]) -> Option<(i64, u8, u32, &[u8])> {
    if k.len() < 14 || k[0] != EXPIRY {
        return None;
    }
    let t = u64::from_be_bytes(k[1..9].try_into().ok()?) ^ (1 << 63);
    let gen = u32::from_be_bytes(k[10..14].try_into().ok()?);
    Some((t as i64, k[9], gen, &k[14..]))
}

/// The expiry index's range of deadlines at or before `now`: `[start, end)`.
pub fn expiry_due_range(now: i64) -> (Vec<u8>, Vec<u8>) {
    let mut end = vec![EXPIRY];
    end.extend_from_slice(&deadline_bytes(now.saturating_add(1)));
    (vec![EXPIRY], end)
}

/// The garbage entry of a collection version's element prefix.
pub fn garbage_key(prefix: &[u8]) -> Bytes {
    let mut b = BytesMut::with_capacity(1 + prefix.len());
    b.put_u8(GARBAGE);
    b.put_slice(prefix);
    b.freeze()
}

/// The marker of a collection version whose elements went ahead of its
/// metadata (`store/stage.rs`).
pub fn staging_key(prefix: &[u8]) -> Bytes {
    let mut b = BytesMut::with_capacity(1 + prefix.len());
    b.put_u8(STAGING);
    b.put_slice(prefix);
    b.freeze()
}

/// The prefix of every element of one collection version.
pub fn sub_prefix(db: u8, gen: u32, key: &[u8], version: u64) -> Vec<u8> {
    let mut b = Vec::with_capacity(DATA_PREFIX_LEN + 12 + key.len());
    b.push(SUB);
    b.push(db);
    b.extend_from_slice(&gen.to_be_bytes());
    b.extend_from_slice(&(key.len() as u32).to_be_bytes());
    b.extend_from_slice(key);
    b.extend_from_slice(&version.to_be_bytes());
    b
}

pub fn sub_key(prefix: &[u8], field: &[u8]) -> Bytes {
    let mut b = BytesMut::with_capacity(prefix.len() + field.len());
    b.put_slice(prefix);
    b.put_slice(field);
    b.freeze()
}

/// The parts of a sub key.
pub struct SubKey<'a> {
    pub db: u8,
    pub gen: u32,
    pub key: &'a [u8],
    pub version: u64,
    pub field: &'a [u8],
}

/// Splits a sub key into its parts.
pub fn parse_sub_key(k: &[u8]) -> Option<SubKey<'_>> {
    if k.len() < 10 || k[0] != SUB {
        return None;
    }
    let gen = u32::from_be_bytes([k[2], k[3], k[4], k[5]]);
    let klen = u32::from_be_bytes([k[6], k[7], k[8], k[9]]) as usize;
    let key_end = 10usize.checked_add(klen)?;
    if k.len() < key_end + 8 {
        return None;
    }
    let mut v = [0u8; 8];
    v.copy_from_slice(&k[key_end..key_end + 8]);
    Some(SubKey {
        db: k[1],
        gen,
        key: &k[10..key_end],
        version: u64::from_be_bytes(v),
        field: &k[key_end + 8..],
    })
}

pub fn gen_key(db: u8) -> Bytes {
    Bytes::from(vec![INTERNAL, b'g', db])
}

pub fn parse_gen_key(k: &[u8]) -> Option<u8> {
    match k {
        [INTERNAL, b'g', db] => Some(*db),
        _ => None,
    }
}

pub fn library_key(name: &[u8]) -> Bytes {
    let mut b = BytesMut::with_capacity(1 + name.len());
    b.put_u8(FUNCTION);
    b.put_slice(name);
    b.freeze()
}

/// The library name of a `f` pair.
pub fn parse_library_key(k: &[u8]) -> Option<&[u8]> {
    match k.split_first() {
        Some((&FUNCTION, name)) => Some(name),
        _ => None,
    }
}

/// Where logical database `db` lives: its physical slot (SWAPDB).
pub fn slot_key(db: u8) -> Bytes {
    Bytes::from(vec![INTERNAL, b'm', db])
}

pub fn parse_slot_key(k: &[u8]) -> Option<u8> {
    match k {
        [INTERNAL, b'm', db] => Some(*db),
        _ => None,
    }
}

/// Where a new list's head starts: pushes go both ways from the middle of
/// the index space, so neither end runs out.
pub const LIST_MIDDLE: u64 = 1 << 63;

/// Redis value types. The number is stored on disk: never renumber.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    String = 0,
    Hash = 1,
    Set = 2,
    ZSet = 3,
    List = 4,
}

impl Kind {
    pub fn from_u8(v: u8) -> Option<Kind> {
        match v {
            0 => Some(Kind::String),
            1 => Some(Kind::Hash),
            2 => Some(Kind::Set),
            3 => Some(Kind::ZSet),
            4 => Some(Kind::List),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::String => "string",
            Kind::Hash => "hash",
            Kind::Set => "set",
            Kind::ZSet => "zset",
            Kind::List => "list",
        }
    }

    /// Kept as elements under sub keys, with a version and a length.
    pub fn is_collection(self) -> bool {
        !matches!(self, Kind::String)
    }
}

/// Flags bit 0: an expiry follows.
const FLAG_EXPIRE: u8 = 1;
/// Flags bit 1: a string kept in chunks (`types/string.rs`); the payload is
/// then a collection's `version | len`.
const FLAG_CHUNKED: u8 = 2;
/// Flags bit 2: Redis 7.0 would have converted this value to its big
/// encoding (a string modified in place: `raw`; a set: `hashtable`; a
/// hash: `hashtable`; a sorted set: `skiplist`) and never converts back
/// while the key lives. Set only by a write that makes Redis convert;
/// absent, the encoding follows from the value (`types/encoding.rs`).
/// Builds before this bit refuse metadata carrying it.
const FLAG_CONVERTED: u8 = 4;
/// Flags bit 3: a string Redis made without trying the integer encoding
/// (INCRBYFLOAT's result): `embstr` or `raw` by its length, never `int`.
/// Same rules for older builds as `FLAG_CONVERTED`.
const FLAG_NO_INT: u8 = 8;

/// A key's metadata entry. Encoded as `kind u8 | flags u8 | [expire_at i64 LE]
/// | payload` (flags: `FLAG_EXPIRE`, `FLAG_CHUNKED`, `FLAG_CONVERTED`,
/// `FLAG_NO_INT`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meta {
    pub kind: Kind,
    /// Absolute unix time in ms.
    pub expire_at: Option<i64>,
    pub payload: Bytes,
    /// A string whose bytes are elements (chunks), not the payload.
    pub chunked: bool,
    /// In Redis's big encoding for good (`FLAG_CONVERTED`).
    pub converted: bool,
    /// A string that is not `int` whatever its bytes (`FLAG_NO_INT`).
    pub no_int: bool,
}

impl Meta {
    pub fn string(value: Bytes, expire_at: Option<i64>) -> Meta {
        Meta {
            kind: Kind::String,
            expire_at,
            payload: value,
            chunked: false,
            converted: false,
            no_int: false,
        }
    }

    /// A string of `len` bytes kept in chunks under `version`.
    pub fn chunked_string(version: u64, len: u64, expire_at: Option<i64>) -> Meta {
        let mut m = Meta::collection(Kind::String, version, len, expire_at);
        m.chunked = true;
        m
    }

    /// Whether the value lives in elements under a version (collections
    /// and chunked strings): what RENAME copies and DEL leaves to the GC.
    pub fn has_elements(&self) -> bool {
        self.kind.is_collection() || self.chunked
    }

    /// A collection's metadata: `version u64 BE | len u64 BE`.
    pub fn collection(kind: Kind, version: u64, len: u64, expire_at: Option<i64>) -> Meta {
        let mut p = BytesMut::with_capacity(16);
        p.put_u64(version);
        p.put_u64(len);
        Meta {
            kind,
            expire_at,
            payload: p.freeze(),
            chunked: false,
            converted: false,
            no_int: false,
        }
    }

    /// A list's metadata: the collection payload plus `head u64 BE`, the
    /// element index of its first item (items are `head .. head + len`).
    pub fn list(version: u64, len: u64, head: u64, expire_at: Option<i64>) -> Meta {
        let mut p = BytesMut::with_capacity(24);
        p.put_u64(version);
        p.put_u64(len);
        p.put_u64(head);
        Meta {
            kind: Kind::List,
            expire_at,
            payload: p.freeze(),
            chunked: false,
            converted: false,
            no_int: false,
        }
    }

    /// A list's head index (see [`Meta::list`]).
    pub fn list_head(&self) -> u64 {
        match self.payload.get(16..24) {
            Some(b) => {
                let mut a = [0u8; 8];
                a.copy_from_slice(b);
                u64::from_be_bytes(a)
            }
            None => LIST_MIDDLE,
        }
    }

    /// The same collection under another version (RENAME, COPY, MOVE):
    /// whatever follows the version in the payload is kept.
    pub fn with_version(&self, version: u64) -> Meta {
        let mut p = BytesMut::from(&self.payload[..]);
        if p.len() >= 8 {
            p[..8].copy_from_slice(&version.to_be_bytes());
        }
        Meta {
            kind: self.kind,
            expire_at: self.expire_at,
            payload: p.freeze(),
            chunked: self.chunked,
            converted: self.converted,
            no_int: self.no_int,
        }
    }

    /// (version, length) of a collection or chunked string.
    pub fn coll(&self) -> (u64, u64) {
        if !self.has_elements() || self.payload.len() < 16 {
            return (0, 0);
        }
        let mut v = [0u8; 8];
        v.copy_from_slice(&self.payload[..8]);
        let mut l = [0u8; 8];
        l.copy_from_slice(&self.payload[8..16]);
        (u64::from_be_bytes(v), u64::from_be_bytes(l))
    }

    /// The collection version of an encoded metadata entry, if it is one.
    pub fn peek_coll_version(v: &[u8]) -> Option<u64> {
        let kind = Kind::from_u8(*v.first()?)?;
        let flags = *v.get(1)?;
        if !kind.is_collection() && flags & FLAG_CHUNKED == 0 {
            return None;
        }
        let start = if flags & FLAG_EXPIRE != 0 { 10 } else { 2 };
        let b = v.get(start..start + 8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Some(u64::from_be_bytes(a))
    }

    pub fn encode(&self) -> Bytes {
        let mut b = BytesMut::with_capacity(10 + self.payload.len());
        b.put_u8(self.kind as u8);
        let mut flags = if self.chunked { FLAG_CHUNKED } else { 0 };
        if self.converted {
            flags |= FLAG_CONVERTED;
        }
        if self.no_int {
            flags |= FLAG_NO_INT;
        }
        match self.expire_at {
            Some(t) => {
                b.put_u8(FLAG_EXPIRE | flags);
                b.put_i64_le(t);
            }
            None => b.put_u8(flags),
        }
        b.put_slice(&self.payload);
        b.freeze()
    }

    /// Decodes without copying the payload. None means the bytes are not a
    /// metadata entry this build understands.
    pub fn decode(v: &Bytes) -> Option<Meta> {
        if v.len() < 2 {
            return None;
        }
        let kind = Kind::from_u8(v[0])?;
        let flags = v[1];
        if flags & !(FLAG_EXPIRE | FLAG_CHUNKED | FLAG_CONVERTED | FLAG_NO_INT) != 0
            || flags & FLAG_CHUNKED != 0 && kind != Kind::String
        {
            return None;
        }
        let (expire_at, rest) = if flags & FLAG_EXPIRE == 0 {
            (None, 2)
        } else if v.len() >= 10 {
            let mut t = [0u8; 8];
            t.copy_from_slice(&v[2..10]);
            (Some(i64::from_le_bytes(t)), 10)
        } else {
            return None;
        };
        let chunked = flags & FLAG_CHUNKED != 0;
        if chunked && v.len() < rest + 16 {
            return None;
        }
        Some(Meta {
            kind,
            expire_at,
            payload: v.slice(rest..),
            chunked,
            converted: flags & FLAG_CONVERTED != 0,
            no_int: flags & FLAG_NO_INT != 0,
        })
    }

    /// Just the expiry, for the index, without building a Meta.
    pub fn peek_expire(v: &[u8]) -> Option<i64> {
        if v.len() >= 10 && v[1] & FLAG_EXPIRE != 0 {
            let mut t = [0u8; 8];
            t.copy_from_slice(&v[2..10]);
            Some(i64::from_le_bytes(t))
        } else {
            None
        }
    }

    pub fn is_expired(&self, now_ms: i64) -> bool {
        matches!(self.expire_at, Some(t) if t <= now_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn round_trip() {
        let m = Meta::string(Bytes::from("hello"), Some(123));
        let e = m.encode();
        assert_eq!(Meta::decode(&e), Some(m));
        assert_eq!(Meta::peek_expire(&e), Some(123));
        for at in [None, Some(-5)] {
            let c = Meta::chunked_string(9, 1 << 20, at);
            let e = c.encode();
            assert_eq!(Meta::decode(&e), Some(c.clone()));
            assert_eq!(Meta::peek_expire(&e), at);
            assert_eq!(Meta::peek_coll_version(&e), Some(9));
            assert_eq!(c.coll(), (9, 1 << 20));
            assert!(c.has_elements());
        }
        assert_eq!(Meta::peek_coll_version(&e), None);
        for at in [None, Some(7)] {
            let mut c = Meta::collection(Kind::ZSet, 4, 200, at);
            c.converted = true;
            let e = c.encode();
            assert_eq!(Meta::decode(&e), Some(c.clone()));
            assert_eq!(Meta::peek_expire(&e), at);
            assert_eq!(Meta::peek_coll_version(&e), Some(4));
            assert!(Meta::decode(&e).is_some_and(|m| m.with_version(5).converted));
        }
        let mut f = Meta::string(Bytes::from("12"), Some(3));
        f.no_int = true;
        assert_eq!(Meta::decode(&f.encode()), Some(f));
        let k = data_key(3, 7, b"user:1");
        assert_eq!(parse_data_key(&k), Some((3, 7, &b"user:1"[..])));
    }
}
