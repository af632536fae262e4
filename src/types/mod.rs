//! The data types over the store (Redis's `t_*.c` storage halves, kvrocks'
//! `types/redis_*`): each opens a key's value through a [`Db`] and reads or
//! changes it, returning typed results. The commands (`command/`) parse
//! arguments and write replies around them; the types never see a client.
//!
//! Dependency direction: `command -> types -> store -> wal`.

pub(crate) mod bitmap;
pub(crate) mod coll;
pub(crate) mod encoding;
pub(crate) mod hash;
pub(crate) mod hyperloglog;
pub(crate) mod lcs;
pub(crate) mod list;
pub(crate) mod random;
pub(crate) mod rdb;
pub(crate) mod set;
pub(crate) mod sort;
pub(crate) mod string;
pub(crate) mod zset;

#[cfg(test)]
mod testing;

use crate::store::keys::{Kind, Meta};
use crate::store::{Store, WriteTx};
use std::sync::Arc;

/// A command's view of one database: the store, plus the command's write
/// transaction when it has one (opened on first write; reads then see the
/// transaction's own changes).
pub(crate) struct Db<'a> {
    store: &'a Arc<Store>,
    tx: &'a mut Option<WriteTx>,
    pub db: usize,
    /// The command's clock (ms): what is expired is decided against it.
    pub now: i64,
}

/// Why a type operation did nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TypeError {
    /// The key holds another type.
    WrongType,
    /// The value is not an integer (INCR on "abc").
    NotInteger,
    /// An increment would overflow.
    Overflow,
    /// A string would exceed `proto-max-bulk-len`.
    TooBig,
    /// A sorted set's score would become NaN (ZINCRBY of inf by -inf).
    NanScore,
    /// A string that is not a HyperLogLog where one is needed.
    NotHll,
    /// A HyperLogLog whose header is right but whose registers are not.
    CorruptHll,
}

impl TypeError {
    /// Redis's reply text.
    pub(crate) fn reply(self) -> &'static str {
        match self {
            TypeError::WrongType => {
                "WRONGTYPE Operation against a key holding the wrong kind of value"
            }
            TypeError::NotInteger => "ERR value is not an integer or out of range",
            TypeError::Overflow => "ERR increment or decrement would overflow",
            TypeError::TooBig => "ERR string exceeds maximum allowed size (proto-max-bulk-len)",
            TypeError::NanScore => "ERR resulting score is not a number (NaN)",
            TypeError::NotHll => "WRONGTYPE Key is not a valid HyperLogLog string value.",
            TypeError::CorruptHll => "INVALIDOBJ Corrupted HLL object detected",
        }
    }
}

impl std::fmt::Display for TypeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.reply())
    }
}

impl std::error::Error for TypeError {}

impl<'a> Db<'a> {
    pub(crate) fn new(
        store: &'a Arc<Store>,
        tx: &'a mut Option<WriteTx>,
        db: usize,
        now: i64,
    ) -> Self {
        Db { store, tx, db, now }
    }

    pub(crate) fn store(&self) -> &Arc<Store> {
        self.store
    }

    /// The write transaction, opened on first use.
    pub(crate) fn tx(&mut self) -> &mut WriteTx {
        let (store, now) = (self.store, self.now);
        self.tx.get_or_insert_with(|| store.write(now))
    }

    /// The open transaction, if any (reads go through it).
    pub(crate) fn open_tx(&mut self) -> Option<&mut WriteTx> {
        self.tx.as_mut()
    }

    /// A live key's metadata.
    pub(crate) fn get(&mut self, key: &[u8]) -> Option<Meta> {
        let m = match self.tx.as_mut() {
            Some(tx) => tx.get(self.db, key),
            None => self.store.get(self.db, key, self.now),
        };
        self.store.note_lookup(m.is_some());
        m
    }

    /// The value at `key` if it is a `kind` (None if absent), for a read.
    pub(crate) fn get_kind(&mut self, kind: Kind, key: &[u8]) -> Result<Option<Meta>, TypeError> {
        match self.get(key) {
            Some(m) if m.kind != kind => Err(TypeError::WrongType),
            m => Ok(m),
        }
    }

    /// The same for a write: the transaction opens first, so the value
    /// cannot change between the read and the write.
    pub(crate) fn get_kind_tx(
        &mut self,
        kind: Kind,
        key: &[u8],
    ) -> Result<Option<Meta>, TypeError> {
        let db = self.db;
        match self.tx().get(db, key) {
            Some(m) if m.kind != kind => Err(TypeError::WrongType),
            m => Ok(m),
        }
    }
}
