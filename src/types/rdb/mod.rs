//! DUMP and RESTORE's serialization: a value in Redis's RDB object format
//! (Redis 7.0, RDB version 10), followed by the version (u16 LE) and a
//! CRC64 of everything before it (u64 LE). A payload Redis 7.0 (or older)
//! dumped restores here, and one dumped here restores into Redis, which is
//! what key-moving tools need.
//!
//! `read.rs` takes every encoding such a payload may use for the types
//! sledis has; `write.rs` writes what Redis 7.0 would write for the same
//! value. The blobs inside (listpack, ziplist, intset, zipmap) and LZF
//! have a file each. Restoring writes through the types' own operations,
//! so it is one ordinary WAL record.

pub(crate) mod crc64;
mod intset;
mod listpack;
pub(crate) mod lzf;
mod read;
mod write;
mod ziplist;
mod zipmap;

use super::{hash, list, set, string, zset, Db};
use bytes::Bytes;

pub(crate) use read::{decode, functions as read_functions};
pub(crate) use write::{dump, functions as dump_functions, Limits};

/// The RDB version Redis 7.0 writes and the newest it reads.
pub(crate) const RDB_VERSION: u16 = 10;

/// RDB object type bytes (rdb.h) of RDB version 10.
pub(crate) mod types {
    pub(crate) const STRING: u8 = 0;
    pub(crate) const LIST: u8 = 1;
    pub(crate) const SET: u8 = 2;
    pub(crate) const ZSET: u8 = 3;
    pub(crate) const HASH: u8 = 4;
    pub(crate) const ZSET_2: u8 = 5;
    pub(crate) const HASH_ZIPMAP: u8 = 9;
    pub(crate) const LIST_ZIPLIST: u8 = 10;
    pub(crate) const SET_INTSET: u8 = 11;
    pub(crate) const ZSET_ZIPLIST: u8 = 12;
    pub(crate) const HASH_ZIPLIST: u8 = 13;
    pub(crate) const LIST_QUICKLIST: u8 = 14;
    pub(crate) const HASH_LISTPACK: u8 = 16;
    pub(crate) const ZSET_LISTPACK: u8 = 17;
    pub(crate) const LIST_QUICKLIST_2: u8 = 18;
}

/// Why a payload was refused, with Redis's reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Error {
    /// Too short, a newer RDB version, or a wrong CRC64.
    Footer,
    /// The object does not parse, or is not a value sledis can hold.
    BadData,
    /// FUNCTION RESTORE of something that is not a library.
    NotFunction,
}

impl Error {
    pub(crate) fn reply(self) -> &'static str {
        match self {
            Error::Footer => "ERR DUMP payload version or checksum are wrong",
            Error::BadData => "ERR Bad data format",
            Error::NotFunction => "ERR given type is not a function",
        }
    }
}

/// `RDB_OPCODE_FUNCTION2`: a function library's code follows (Redis 7.0).
pub(crate) const FUNCTION2: u8 = 245;

/// A value read from a payload.
#[derive(Debug, PartialEq)]
pub(crate) enum Value {
    Str(Bytes),
    List(Vec<Bytes>),
    Set(Vec<Bytes>),
    Hash(Vec<(Bytes, Bytes)>),
    ZSet(Vec<(Bytes, f64)>),
}

/// An entry of a listpack or ziplist: bytes, or an integer encoding.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Item<'a> {
    Str(&'a [u8]),
    Int(i64),
}

impl Item<'_> {
    /// The entry as the string Redis gives back (integers in decimal).
    pub(crate) fn to_bytes(self) -> Bytes {
        match self {
            Item::Str(s) => Bytes::copy_from_slice(s),
            Item::Int(v) => Bytes::from(v.to_string()),
        }
    }
}

/// Stores `v` at `key`, replacing whatever is there, with `expire_at`.
/// The members of a set, hash or sorted set are distinct (`decode` checks).
pub(crate) fn restore(db: &mut Db<'_>, key: &Bytes, v: Value, expire_at: Option<i64>) {
    let n = db.db;
    db.tx().delete(n, key);
    match v {
        Value::Str(s) => return string::put(db, key, s, expire_at),
        Value::List(items) => {
            // A new list: the push cannot meet another type.
            let _ = list::push(db, key, &items, false, false);
        }
        Value::Set(members) => {
            set::replace(db, key, &members);
        }
        Value::Hash(pairs) => {
            hash::replace(db, key, pairs);
        }
        Value::ZSet(items) => {
            zset::replace(db, key, &items);
        }
    }
    if expire_at.is_some() {
        if let Some(m) = db.tx().get(n, key) {
            let m = crate::store::keys::Meta { expire_at, ..m };
            db.tx().put(n, key, &m);
        }
    }
}
