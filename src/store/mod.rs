//! The keyspace: sled behind a write buffer, fed only through the WAL.
//!
//! Writes run in a [`WriteTx`] under one writer lock: the command reads what it
//! needs, states its changes, and `commit` appends one WAL record and publishes
//! all its effects to the write buffer at once. Replicas and recovery feed
//! records through [`Store::apply_record`], the same publication path.
//! Nothing here knows about sockets.

pub(crate) mod access;
mod applier;
pub mod budget;
pub(crate) mod changes;
pub mod engine;
mod error;
mod expire;
mod gc;
pub mod keys;
mod libraries;
mod load;
pub mod memtable;
mod open;
mod overlay;
mod page_cache;
mod pages;
mod publish;
mod range_cache;
mod read;
pub mod ready;
mod slots;
mod snapshot_source;
mod stage;
#[cfg(test)]
mod tests;
pub mod watch;
mod write_tx;

use crate::snapshot::{Pair, SnapshotReader};
use crate::wal::{AppendError, Effect, FsyncPolicy, Record, Recovery, Wal};
use ahash::AHashMap as HashMap;
use bytes::Bytes;
use keys::{data_key, db_prefix, gen_key, parse_data_key, parse_gen_key, Meta};
use memtable::{merged_range, Frozen, Tables};
use parking_lot::{ArcMutexGuard, Condvar, Mutex, RawMutex, RwLock};
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::atomic::{
    AtomicBool, AtomicI64, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering,
};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use budget::Budget;
use engine::Engine;
pub use engine::{checkpoint, sled_locked};
pub use error::Error;
pub use load::rebuild_sled;
pub use open::{check_applied, read_sled_state, SledState};
use read::increment;
pub use read::{count_lookups, take_read_error};
pub use snapshot_source::SnapshotSource;
pub use write_tx::WriteTx;

pub const MAX_DBS: usize = 16;
/// A full sync's snapshot bigger than this (raw) is served from its file
/// while sled loads it behind (`Store::load_snapshot_file`); a smaller one
/// goes straight into sled.
pub const LOAD_BEHIND_MIN: u64 = 32 << 20;
/// sled's applied offset, followed by the key counts at that offset
/// (`KeyCounts::encode`).
const APPLIED_KEY: &[u8] = b"applied_offset";
/// Present while a write-buffer table goes into sled: the end offset of
/// its records and the counts there (`KeyCounts::encode`).
const APPLYING_KEY: &[u8] = b"applying";
/// Present while a full sync's snapshot is being loaded.
const LOADING_KEY: &[u8] = b"loading";
/// Besides filling up, the write buffer is moved into sled once writes
/// pause this long (sled work is done when the node is quiet, not in the
/// middle of a burst)...
const IDLE_FREEZE: Duration = Duration::from_secs(2);
/// ...or, under steady writes, once the active table is this old, or
/// holds `Budget::table_wal` of WAL (overwrites keep a table small while
/// the WAL replayed at startup grows).
const MAX_TABLE_AGE: Duration = Duration::from_secs(60);

pub struct StoreOptions {
    pub dir: PathBuf,
    pub databases: usize,
    pub fsync: FsyncPolicy,
    pub segment_size: u64,
    pub repair_wal: bool,
    /// `maxmemory`'s shares.
    pub budget: Budget,
}

/// Live keys and keys with a deadline, per database, as of a stream
/// position. Persisted with sled's applied offset, so a restart reads them
/// instead of counting.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KeyCounts {
    pub keys: [i64; MAX_DBS],
    pub expires: [i64; MAX_DBS],
}

impl KeyCounts {
    const TAG: u8 = b'C';

    /// `applied u64 BE | 'C' | keys i64 BE x16 | expires i64 BE x16`.
    fn encode(&self, applied: u64) -> Vec<u8> {
        let mut v = Vec::with_capacity(9 + 16 * MAX_DBS);
        v.extend_from_slice(&applied.to_be_bytes());
        v.push(Self::TAG);
        for n in self.keys.iter().chain(self.expires.iter()) {
            v.extend_from_slice(&n.to_be_bytes());
        }
        v
    }

    /// The applied offset and, if recorded (not by builds before counts
    /// were persisted), the counts.
    fn decode(v: &[u8]) -> Option<(u64, Option<KeyCounts>)> {
        let applied = u64::from_be_bytes(v.get(..8)?.try_into().ok()?);
        if v.len() != 9 + 16 * MAX_DBS || v[8] != Self::TAG {
            return Some((applied, None));
        }
        let mut c = KeyCounts::default();
        let mut nums = v[9..]
            .chunks_exact(8)
            .map(|b| i64::from_be_bytes(b.try_into().unwrap_or([0; 8])));
        for n in c.keys.iter_mut().chain(c.expires.iter_mut()) {
            *n = nums.next().unwrap_or(0);
        }
        Some((applied, Some(c)))
    }
}

/// First-seen state of a key touched by a batch: what counts and the expiry
/// index must be corrected against.
#[derive(Clone, Copy)]
struct Before {
    present: bool,
    expire: Option<i64>,
    /// The collection version the key had, if it was a collection.
    version: Option<u64>,
}

impl Before {
    fn of(v: Option<&Bytes>) -> Before {
        Before {
            present: v.is_some(),
            expire: v.and_then(|v| Meta::peek_expire(v)),
            version: v.and_then(|v| Meta::peek_coll_version(v)),
        }
    }
}

/// The changes of one record, with the bookkeeping to publish them.
#[derive(Default)]
struct Batch {
    effects: Vec<Effect>,
    overlay: HashMap<Bytes, Option<Bytes>>,
    before: HashMap<Bytes, Before>,
    new_gens: [Option<u32>; MAX_DBS],
    /// SWAPDB: logical databases moved to other physical slots.
    new_slots: [Option<u8>; MAX_DBS],
    /// Read from a WAL or a master's stream (`apply_record`), not written
    /// by a command here.
    replicated: bool,
    /// The client whose command wrote it (0: none), for NOLOOP tracking.
    origin: u64,
    /// Metadata written by `WriteTx::put_unwatched` (key → the value): no
    /// change a client can see, so unless a later write of the batch
    /// replaced it, its watchers and blocked clients are not touched.
    unwatched: HashMap<Bytes, Bytes>,
}

/// `hash-max-listpack-entries/value`, `zset-max-listpack-entries/value`
/// and `set-max-intset-entries`, mirrored from the config in atomics so
/// that a write reads them without the config's lock.
#[derive(Debug)]
pub(crate) struct EncodingLimits {
    pub hash_entries: AtomicU64,
    pub hash_value: AtomicU64,
    pub zset_entries: AtomicU64,
    pub zset_value: AtomicU64,
    pub intset_entries: AtomicU64,
}

impl Default for EncodingLimits {
    /// Redis 7.0's defaults.
    fn default() -> EncodingLimits {
        EncodingLimits {
            hash_entries: AtomicU64::new(512),
            hash_value: AtomicU64::new(64),
            zset_entries: AtomicU64::new(128),
            zset_value: AtomicU64::new(64),
            intset_entries: AtomicU64::new(512),
        }
    }
}

pub struct Store {
    pub dir: PathBuf,
    pub databases: usize,
    engine: Engine,
    tables: RwLock<Tables>,
    ranges: Mutex<range_cache::RangeCache>,
    writer: Arc<Mutex<()>>,
    pub wal: Arc<Wal>,
    /// Generations per physical slot.
    gens: [AtomicU32; MAX_DBS],
    /// The physical slot of each logical database (SWAPDB; `slots.rs`).
    slots: [AtomicU8; MAX_DBS],
    /// Live keys per database; changed only under the write buffer's
    /// write lock, so a table frozen under it carries exact counts.
    counts: [AtomicI64; MAX_DBS],
    /// Keys with a deadline per database (same rule).
    expire_counts: [AtomicI64; MAX_DBS],
    budget: Mutex<Budget>,
    /// The active table freezes at this size (`Budget::table_bytes`).
    table_bytes: AtomicUsize,
    /// Keys a reader found expired, for the active cycle to delete.
    expired_seen: Mutex<Vec<(u8, Bytes)>>,
    /// Keyspace notifications: `publish` hands each record's events to it.
    pub(crate) notify: crate::notify::Notifier,
    /// Client-side caching's view of changed keys (`changes.rs`).
    pub(crate) changes: changes::Changes,
    /// The config's encoding thresholds, for the writes that decide when
    /// Redis would convert a value (`types/encoding.rs`).
    pub(crate) encoding_limits: EncodingLimits,
    /// DEBUG SET-ACTIVE-EXPIRE: off, the cycle deletes only the keys
    /// reads found expired (lazy expiry), as Redis's tests use it.
    pub(crate) active_expire: AtomicBool,
    applier_wake: Condvar,
    applier_lock: Mutex<bool>,
    stall_cv: Condvar,
    stall_lock: Mutex<()>,
    /// The write buffer is full (`MAX_FROZEN` tables wait for sled): new
    /// writes wait for room (`wait_for_room_async`) off the connection
    /// threads.
    full: AtomicBool,
    /// Woken when a frozen table has reached sled.
    room: tokio::sync::Notify,
    /// See `sled_io_error`.
    apply_error: Mutex<Option<String>>,
    gc_wake: Condvar,
    gc_lock: Mutex<bool>,
    /// Collection versions waiting for the GC (their `g` entries; INFO
    /// `lazyfree_pending_objects`), as last counted plus those published
    /// since.
    garbage_pending: AtomicI64,
    /// Source of collection versions (see `WriteTx::new_version`).
    versions: AtomicU64,
    /// A data dir from a build that queued garbage in memory only: the first
    /// GC run looks for elements whose metadata is gone.
    sweep_pending: AtomicBool,
    applied: AtomicU64,
    /// Held while a table goes into sled, so a snapshot load cannot interleave.
    apply_lock: Mutex<()>,
    /// A full sync's snapshot file standing in for sled while sled loads it
    /// (`overlay.rs`).
    overlay: RwLock<Option<Arc<overlay::Overlay>>>,
    /// The thread moving the overlay into sled, and its stop request.
    loader: Mutex<Option<std::thread::JoinHandle<()>>>,
    load_abort: AtomicBool,
    /// A full sync failed after the old data was dropped: what the node
    /// holds is neither the old dataset nor the new one (see `load.rs`).
    incomplete: AtomicBool,
    /// Effects since the last snapshot (Redis's `rdb_changes_since_last_save`).
    pub dirty: AtomicU64,
    /// A replica's store (set by `replication::state` only): expired keys
    /// are left for the master's DELs, and local writes take no offset.
    follower: AtomicBool,
    pub watches: watch::Watches,
    /// Keys' last access times (OBJECT IDLETIME; `access.rs`).
    pub(crate) access: access::AccessTimes,
    /// Keys blocked clients wait on (BLPOP & co.).
    pub ready: ready::ReadyKeys,
    closed: AtomicBool,
    /// Moves whenever a function library pair changes, by any path (a
    /// command, a master's stream, a full sync), so the function registry
    /// knows to reread the libraries.
    functions_version: AtomicU64,
    pub stats: StoreStats,
}

#[derive(Default)]
pub struct StoreStats {
    pub expired_keys: AtomicU64,
    pub gc_keys: AtomicU64,
    pub write_stalls: AtomicU64,
    pub keyspace_hits: AtomicU64,
    pub keyspace_misses: AtomicU64,
}

impl Store {
    pub fn applied_offset(&self) -> u64 {
        self.applied.load(Ordering::Acquire)
    }

    pub fn read_cache_bytes(&self) -> usize {
        self.engine.cache_bytes()
    }

    pub fn buffer_bytes(&self) -> usize {
        let t = self.tables.read();
        t.active_bytes + t.frozen.len() * self.table_bytes.load(Ordering::Relaxed)
    }

    pub fn budget(&self) -> Budget {
        *self.budget.lock()
    }

    /// A new `maxmemory` at run time: the write buffer's tables and the read
    /// cache follow at once; sled's cache keeps its size until a restart.
    pub fn set_budget(&self, b: Budget) {
        let mut cur = self.budget.lock();
        self.table_bytes.store(b.table_bytes, Ordering::Relaxed);
        self.engine.set_cache_limit(b.read_cache);
        *cur = Budget {
            engine_cache: cur.engine_cache,
            ..b
        };
    }

    /// The counts as of everything published: read under the write
    /// buffer's lock, they match the tables exactly.
    fn key_counts(&self) -> KeyCounts {
        KeyCounts {
            keys: std::array::from_fn(|db| self.counts[db].load(Ordering::Relaxed)),
            expires: std::array::from_fn(|db| self.expire_counts[db].load(Ordering::Relaxed)),
        }
    }

    /// Freezes the active table (the caller holds the buffer's write lock)
    /// with the counts it ends at.
    fn freeze(&self, t: &mut Tables) -> bool {
        let froze = t.freeze(Some(self.key_counts()));
        self.note_room(t);
        froze
    }

    /// Keeps `full` in step with the tables (the caller holds their lock).
    fn note_room(&self, t: &Tables) {
        let full = t.frozen.len() >= budget::MAX_FROZEN;
        if self.full.swap(full, Ordering::AcqRel) && !full {
            self.room.notify_waiters();
        }
    }

    pub fn set_follower(&self, on: bool) {
        self.follower.store(on, Ordering::Release);
    }

    pub fn is_follower(&self) -> bool {
        self.follower.load(Ordering::Acquire)
    }

    /// True while a write would wait for sled to take a table (a stall).
    pub fn write_full(&self) -> bool {
        self.full.load(Ordering::Acquire)
    }

    /// Waits, without holding a thread, until the write buffer has room,
    /// or sled is stuck on an I/O error (the caller then refuses the
    /// write), or the store closes.
    pub async fn wait_for_room_async(&self) {
        if self.write_full() {
            self.stats.write_stalls.fetch_add(1, Ordering::Relaxed);
        }
        loop {
            let woken = self.room.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            if !self.write_full()
                || self.apply_error.lock().is_some()
                || self.closed.load(Ordering::Acquire)
            {
                return;
            }
            // The timeout also catches an I/O error noted meanwhile.
            let _ = tokio::time::timeout(Duration::from_millis(100), woken).await;
        }
    }

    /// Why the write buffer cannot go into sled (sled's I/O error), from
    /// the applier's failed attempt until one succeeds.
    pub fn sled_io_error(&self) -> Option<String> {
        self.apply_error.lock().clone()
    }

    pub fn sled_reopens(&self) -> u64 {
        self.engine.reopens.load(Ordering::Relaxed)
    }

    pub fn sled_size_on_disk(&self) -> u64 {
        self.engine.size_on_disk()
    }
}
