//! The keyspace: sled behind a write buffer, fed only through the WAL.
//!
//! Writes run in a [`WriteTx`] under one writer lock: the command reads what it
//! needs, states its changes, and `commit` appends one WAL record and publishes
//! all its effects to the write buffer at once. Replicas and recovery feed
//! records through [`Store::apply_record`], the same publication path.
//! Nothing here knows about sockets.

mod cache;
mod expire;
pub mod keys;
pub mod memtable;
mod range_cache;
pub mod ready;
pub mod watch;

use crate::snapshot::Pair;
use crate::wal::{Effect, FsyncPolicy, Record, Recovery, Wal};
use ahash::AHashMap as HashMap;
use bytes::Bytes;
use keys::{data_key, db_prefix, gen_key, parse_data_key, parse_gen_key, Meta};
use memtable::{merged_range, Frozen, Tables};
use parking_lot::{ArcMutexGuard, Condvar, Mutex, RawMutex, RwLock};
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use expire::ExpireIndex;

pub const MAX_DBS: usize = 16;
/// Freeze the active table beyond this many bytes...
const TABLE_BYTES: usize = 128 << 20;
/// ...and stall writers while this many frozen tables wait for sled.
const MAX_FROZEN: usize = 2;
/// A full sync's snapshot bigger than this (raw) loads through the write
/// buffer (see `Store::load_snapshot`).
const BUFFERED_LOAD_MIN: u64 = 32 << 20;
/// Blocks (~64 KiB raw each) the decoding thread of a buffered load may be
/// ahead of the inserting one, so it keeps going while a filled table is
/// built.
const LOAD_AHEAD_BLOCKS: usize = 256;
/// sled tree holding the node's own state (`APPLIED_KEY`, `LOADING_KEY`).
const META_TREE: &str = "sledis-meta";
const APPLIED_KEY: &[u8] = b"applied_offset";
/// Present while a full sync's snapshot is being loaded.
const LOADING_KEY: &[u8] = b"loading";
/// Read cache in front of sled.
const READ_CACHE_BYTES: usize = 256 << 20;
/// Besides filling up, the write buffer is moved into sled once writes
/// pause this long (sled work is done when the node is quiet, not in the
/// middle of a burst)...
const IDLE_FREEZE: Duration = Duration::from_secs(2);
/// ...or, under steady writes, once the active table is this old...
const MAX_TABLE_AGE: Duration = Duration::from_secs(60);
/// ...or holds this much WAL (overwrites keep a table small while the WAL
/// replayed at startup grows).
const MAX_TABLE_WAL: u64 = 256 << 20;

pub struct StoreOptions {
    pub dir: PathBuf,
    pub databases: usize,
    pub fsync: FsyncPolicy,
    pub segment_size: u64,
    pub repair_wal: bool,
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
}

pub struct Store {
    pub dir: PathBuf,
    pub databases: usize,
    sled: sled::Db,
    tree: sled::Tree,
    meta: sled::Tree,
    tables: RwLock<Tables>,
    cache: cache::ReadCache,
    ranges: Mutex<range_cache::RangeCache>,
    writer: Arc<Mutex<()>>,
    pub wal: Arc<Wal>,
    gens: [AtomicU32; MAX_DBS],
    counts: [AtomicI64; MAX_DBS],
    expires: Mutex<ExpireIndex>,
    /// Keys a reader found expired, for the active cycle to delete.
    expired_seen: Mutex<Vec<(u8, Bytes)>>,
    applier_wake: Condvar,
    applier_lock: Mutex<bool>,
    stall_cv: Condvar,
    stall_lock: Mutex<()>,
    gc_wake: Condvar,
    gc_lock: Mutex<bool>,
    /// Sub-key prefixes of collection versions that lost their metadata
    /// (DEL, overwrite, expiry), for the GC thread.
    orphans: Mutex<Vec<Vec<u8>>>,
    /// Source of collection versions (see `WriteTx::new_version`).
    versions: AtomicU64,
    /// The orphan queue is in memory: the first GC run after opening looks
    /// for elements whose metadata is gone (a crash lost the queue).
    sweep_pending: AtomicBool,
    applied: AtomicU64,
    /// Held while a table goes into sled, so a snapshot load cannot interleave.
    apply_lock: Mutex<()>,
    /// The last write-buffer table of a full sync's data (see
    /// `load_snapshot`): once the applier has moved it into sled, the load
    /// is whole on disk and its `loading` mark goes.
    load_tail: Mutex<Option<Arc<Frozen>>>,
    /// Effects since the last snapshot (Redis's `rdb_changes_since_last_save`).
    pub dirty: AtomicU64,
    pub replica: AtomicBool,
    pub watches: watch::Watches,
    /// Keys blocked clients wait on (BLPOP & co.).
    pub ready: ready::ReadyKeys,
    closed: AtomicBool,
    pub stats: StoreStats,
}

#[derive(Default)]
pub struct StoreStats {
    pub expired_keys: AtomicU64,
    pub gc_keys: AtomicU64,
    pub write_stalls: AtomicU64,
}

impl Store {
    /// Opens sled and the WAL and replays what sled had not applied yet.
    pub fn open(opts: StoreOptions) -> Result<Arc<Store>, String> {
        std::fs::create_dir_all(&opts.dir)
            .map_err(|e| format!("cannot create {}: {e}", opts.dir.display()))?;
        let sled_path = opts.dir.join("sled");
        let sled = sled::Config::new().path(&sled_path).cache_capacity(64 << 20).open().map_err(|e| {
            format!(
                "sled failed to open {}: {e}. The data can be rebuilt from the newest snapshot plus the WAL: \
                 start again with --rebuild-from-snapshot",
                sled_path.display()
            )
        })?;
        let tree = sled.open_tree("keyspace").map_err(|e| e.to_string())?;
        let meta = sled.open_tree(META_TREE).map_err(|e| e.to_string())?;
        // A full sync that died half-loaded left a mix of old and new data:
        // drop it all, and forget our history id so the master sends a full
        // sync again.
        if meta.get(LOADING_KEY).map_err(|e| e.to_string())?.is_some() {
            tracing::warn!("an interrupted full sync left incomplete data: dropping it; the next sync will be a full one");
            tree.clear().map_err(|e| e.to_string())?;
            meta.clear().map_err(|e| e.to_string())?;
            sled.flush().map_err(|e| e.to_string())?;
            let wal_dir = opts.dir.join("wal");
            if wal_dir.exists() {
                std::fs::remove_dir_all(&wal_dir)
                    .map_err(|e| format!("{}: {e}", wal_dir.display()))?;
            }
        }
        let applied = read_applied(&meta)?;
        let gens: [AtomicU32; MAX_DBS] = Default::default();
        let counts: [AtomicI64; MAX_DBS] = Default::default();
        let t0 = Instant::now();
        let index = survey(&tree, &gens, &counts)?;
        let total: i64 = counts.iter().map(|c| c.load(Ordering::Relaxed)).sum();
        tracing::info!(
            "sled: {total} keys counted in {:?}, applied offset {applied}",
            t0.elapsed()
        );

        let mut replay: Vec<(Record, u64)> = Vec::new();
        let (wal, rec): (Arc<Wal>, Recovery) = Wal::open(
            &opts.dir.join("wal"),
            opts.fsync,
            opts.segment_size,
            opts.repair_wal,
            applied,
            |r: &Record, end| {
                if r.offset >= applied {
                    replay.push((r.clone(), end));
                }
            },
        )
        .map_err(|e| e.to_string())?;
        check_applied(applied, rec.first_offset, rec.end_offset)?;
        let store = Arc::new(Store {
            dir: opts.dir.clone(),
            databases: opts.databases.clamp(1, MAX_DBS),
            sled,
            tree,
            meta,
            tables: RwLock::new(Tables::new(applied)),
            cache: cache::ReadCache::new(READ_CACHE_BYTES),
            ranges: Mutex::new(range_cache::RangeCache::default()),
            writer: Arc::new(Mutex::new(())),
            wal,
            gens,
            counts,
            expires: Mutex::new(index),
            expired_seen: Mutex::new(Vec::new()),
            applier_wake: Condvar::new(),
            applier_lock: Mutex::new(false),
            stall_cv: Condvar::new(),
            stall_lock: Mutex::new(()),
            load_tail: Mutex::new(None),
            gc_wake: Condvar::new(),
            gc_lock: Mutex::new(true),
            orphans: Mutex::new(Vec::new()),
            versions: AtomicU64::new(0),
            sweep_pending: AtomicBool::new(true),
            applied: AtomicU64::new(applied),
            apply_lock: Mutex::new(()),
            dirty: AtomicU64::new(0),
            replica: AtomicBool::new(false),
            watches: watch::Watches::default(),
            ready: ready::ReadyKeys::default(),
            closed: AtomicBool::new(false),
            stats: StoreStats::default(),
        });
        let n = replay.len();
        for (r, end) in replay {
            store.apply_record(&r, end);
        }
        tracing::info!(
            "WAL: {} segment(s), offsets {}..{}, replayed {n} record(s) after applied offset {applied}{}",
            rec.segments,
            rec.first_offset,
            rec.end_offset,
            match rec.truncated_at {
                Some(at) => format!("; cut {} damaged tail byte(s) at offset {at}", rec.truncated_bytes),
                None => String::new(),
            }
        );
        let s = store.clone();
        std::thread::Builder::new()
            .name("sled-applier".into())
            .spawn(move || s.applier_loop())
            .map_err(|e| e.to_string())?;
        let s = store.clone();
        std::thread::Builder::new()
            .name("sled-gc".into())
            .spawn(move || s.gc_loop())
            .map_err(|e| e.to_string())?;
        Ok(store)
    }

    // ----- reads -----

    pub fn gen(&self, db: usize) -> u32 {
        self.gens[db].load(Ordering::Acquire)
    }

    /// The newest value of a raw sled key: write buffer first, then the
    /// read cache, then sled.
    /// A raw sled-level value (metadata or a collection element), write
    /// buffer first.
    pub fn raw_get(&self, key: &[u8]) -> Option<Bytes> {
        let (v, from_sled) = self.raw_get_uncached(key);
        if let Some(epoch) = from_sled {
            self.cache.insert(key, v.clone(), epoch);
        }
        v
    }

    /// Like `raw_get`, but a value read from sled is not put in the read
    /// cache; instead the cache epoch of that read is returned, for a later
    /// `cache.insert`. A write transaction caches only the keys it does not
    /// write: the others reach the cache when the applier stores them.
    fn raw_get_uncached(&self, key: &[u8]) -> (Option<Bytes>, Option<u64>) {
        let epoch = self.cache.epoch();
        if let Some(v) = self.tables.read().get(key) {
            return (v, None);
        }
        if let Some(v) = self.cache.get(key) {
            return (v, None);
        }
        match self.tree.get(key) {
            Ok(v) => (v.map(|v| Bytes::copy_from_slice(&v)), Some(epoch)),
            Err(e) => {
                tracing::error!("sled read failed: {e}");
                (None, None)
            }
        }
    }

    /// A key's metadata, ignoring expiry.
    pub fn get_meta_raw(&self, db: usize, key: &[u8]) -> Option<Meta> {
        let v = self.raw_get(&data_key(db as u8, self.gen(db), key))?;
        Meta::decode(&v)
    }

    /// A live key's metadata; an expired key reads as absent (and, on a
    /// master, is queued for deletion).
    pub fn get(&self, db: usize, key: &[u8], now: i64) -> Option<Meta> {
        let m = self.get_meta_raw(db, key)?;
        if m.is_expired(now) {
            self.note_expired(db, key);
            return None;
        }
        Some(m)
    }

    fn note_expired(&self, db: usize, key: &[u8]) {
        if !self.replica.load(Ordering::Relaxed) {
            let mut q = self.expired_seen.lock();
            if q.len() < 10_000 {
                q.push((db as u8, Bytes::copy_from_slice(key)));
            }
        }
    }

    pub fn dbsize(&self, db: usize) -> i64 {
        self.counts[db].load(Ordering::Relaxed).max(0)
    }

    pub fn expires_count(&self, db: usize) -> usize {
        self.expires.lock().count(db as u8)
    }

    /// Live keys of `db` after `after` (exclusive), in key order, at most about
    /// `count` of them, with a cursor to continue from (None when done).
    /// Merges the write buffer with sled.
    pub fn scan(
        &self,
        db: usize,
        after: Option<&[u8]>,
        count: usize,
        now: i64,
    ) -> (Vec<(Bytes, Meta)>, Option<Bytes>) {
        let prefix = db_prefix(db as u8, self.gen(db));
        let (start, excluded) = match after {
            Some(k) => ([&prefix[..], k].concat(), true),
            None => (prefix.to_vec(), false),
        };
        let mut end = prefix.to_vec();
        // The prefix's successor: bump the last byte of gen (gen < u32::MAX).
        increment(&mut end);
        let mut merged = Vec::new();
        let (_, upper) = self.raw_window(&start, excluded, &end, count, usize::MAX, &mut |k, v| {
            merged.push((k.clone(), v.clone()))
        });
        let next = upper.map(|k| Bytes::copy_from_slice(&k[keys::DATA_PREFIX_LEN..]));
        let mut out = Vec::with_capacity(merged.len());
        for (k, v) in merged {
            let Some(m) = Meta::decode(&v) else { continue };
            if m.is_expired(now) {
                self.note_expired(db, &k[keys::DATA_PREFIX_LEN..]);
                continue;
            }
            out.push((k.slice(keys::DATA_PREFIX_LEN..), m));
        }
        (out, next)
    }

    /// Elements under `prefix` after the field `after`, as (field, value).
    pub fn sub_range(
        &self,
        prefix: &[u8],
        after: Option<&[u8]>,
        count: usize,
    ) -> (Vec<(Bytes, Bytes)>, bool) {
        let mut out = Vec::new();
        let (start, end) = sub_bounds(prefix, after);
        let more = self.raw_range_each(&start, after.is_some(), &end, count, |k, v| {
            out.push((k.slice(prefix.len().min(k.len())..), v.clone()))
        });
        (out, more)
    }

    /// [`Store::sub_range`] handing each (field, value) to `f` by
    /// reference; true if more follow.
    pub fn sub_range_each(
        &self,
        prefix: &[u8],
        after: Option<&[u8]>,
        count: usize,
        mut f: impl FnMut(&[u8], &Bytes),
    ) -> bool {
        let (start, end) = sub_bounds(prefix, after);
        self.raw_range_each(&start, after.is_some(), &end, count, |k, v| {
            f(&k[prefix.len().min(k.len())..], v)
        })
    }

    /// The greatest live pair with a key in `[start, end)`. Reads
    /// backwards in growing windows, so a run of deletions in the write
    /// buffer costs a few reads, not one per deletion.
    pub fn raw_last(&self, start: &[u8], end: &[u8]) -> Option<(Bytes, Bytes)> {
        let mut end = end.to_vec();
        let mut n = 4usize;
        loop {
            let from = Bound::Included(start);
            let to = Bound::Excluded(end.as_slice());
            // Every source's `n` greatest keys; below the greatest of their
            // n-th keys (the floor) the merge is incomplete.
            let mut merged: std::collections::BTreeMap<Bytes, Option<Bytes>> = Default::default();
            let mut floor: Option<Bytes> = None;
            let note_floor = |k: &Bytes, full: bool, floor: &mut Option<Bytes>| {
                if full && floor.as_ref().is_none_or(|f| k > f) {
                    *floor = Some(k.clone());
                }
            };
            // The write buffer is held across the sled read: a table the
            // applier puts into sled meanwhile stays visible until we are
            // done, so none of its changes (deletions above all) is missed.
            {
                let t = self.tables.read();
                let sled = self.sled_rev_n(start, &end, n);
                if let Some((k, _)) = sled.last() {
                    note_floor(k, sled.len() == n, &mut floor);
                }
                for (k, v) in sled {
                    merged.insert(k, Some(v));
                }
                // Oldest layer first, so newer entries overwrite older ones.
                for l in t.layers().into_iter().rev() {
                    let part = l.last_n(from, to, n);
                    if let Some((k, _)) = part.last() {
                        note_floor(k, part.len() == n, &mut floor);
                    }
                    for (k, v) in part {
                        merged.insert(k.clone(), v.clone());
                    }
                }
            }
            for (k, v) in merged.iter().rev() {
                if floor.as_ref().is_some_and(|f| k < f) {
                    break;
                }
                if let Some(v) = v {
                    return Some((k.clone(), v.clone()));
                }
            }
            // Nothing live at or above the floor: continue below it.
            let f = floor?;
            end = f.to_vec();
            n = (n * 4).min(4096);
        }
    }

    /// sled's `n` greatest pairs in `[start, end)`, greatest first: sled's
    /// reverse iteration, unless it panics (see `sled_last_n`); then the
    /// forward-only walk answers.
    fn sled_rev_n(&self, start: &[u8], end: &[u8], n: usize) -> Vec<(Bytes, Bytes)> {
        let rev = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.tree
                .range::<&[u8], _>((Bound::Included(start), Bound::Excluded(end)))
                .rev()
                .take(n)
                .filter_map(|r| r.ok())
                .map(|(k, v)| (Bytes::copy_from_slice(&k), Bytes::copy_from_slice(&v)))
                .collect::<Vec<_>>()
        }));
        match rev {
            Ok(v) => v,
            Err(_) => {
                tracing::warn!(
                    "sled reverse iteration failed (sled 0.34 bug); reading forward instead"
                );
                self.sled_last_n(start, end, n)
            }
        }
    }

    /// sled's `n` greatest pairs in `[start, end)`, greatest first, read
    /// with forward iteration only: sled 0.34's reverse iteration can loop
    /// (and panic after a million turns) when a node boundary follows a run
    /// of 0xff bytes, which list indices and negative scores produce. The
    /// last pair is found by walking down its bytes (see `sled_last`), the
    /// ones before it by the same walk below it.
    fn sled_last_n(&self, start: &[u8], end: &[u8], n: usize) -> Vec<(Bytes, Bytes)> {
        let mut out = Vec::new();
        let mut end = end.to_vec();
        while out.len() < n {
            let Some((k, v)) = self.sled_last(start, &end) else {
                break;
            };
            end = k.to_vec();
            out.push((Bytes::copy_from_slice(&k), Bytes::copy_from_slice(&v)));
        }
        out
    }

    /// The greatest sled pair with a key in `[start, end)`. Every key in the
    /// range starts with the common prefix of `start` and `end`; from there
    /// the walk extends the prefix of the greatest key one byte at a time:
    /// a byte shared by every key left costs one read, a branching byte a
    /// binary search over the bytes present.
    fn sled_last(&self, start: &[u8], end: &[u8]) -> Option<(sled::IVec, sled::IVec)> {
        if start >= end {
            return None;
        }
        let first_from = |from: &[u8], excl: bool| -> Option<(sled::IVec, sled::IVec)> {
            let lo = if excl {
                Bound::Excluded(from)
            } else {
                Bound::Included(from)
            };
            let from = if from < start {
                Bound::Included(start)
            } else {
                lo
            };
            self.tree
                .range::<&[u8], _>((from, Bound::Excluded(end)))
                .next()?
                .ok()
        };
        let mut prefix: Vec<u8> = start
            .iter()
            .zip(end.iter())
            .take_while(|(a, b)| a == b)
            .map(|(a, _)| *a)
            .collect();
        // The smallest key starting with `prefix` (the greatest key does too).
        let mut cur = first_from(start, false)?;
        loop {
            // `cur` is the only key under `prefix`: it is the greatest.
            let next = first_from(&cur.0, true);
            if next.as_ref().is_none_or(|(k, _)| !k.starts_with(&prefix)) {
                return Some(cur);
            }
            if cur.0.len() == prefix.len() {
                // `cur` is the prefix itself; the greatest is below it.
                let Some(n) = next else {
                    return Some(cur);
                };
                cur = n;
            }
            let at = prefix.len();
            let mut lo = cur.0[at];
            // Every key under `prefix` has byte `lo` here: one read.
            let above = lo
                .checked_add(1)
                .and_then(|b| first_from(&[&prefix[..], &[b]].concat(), false))
                .filter(|(k, _)| k.starts_with(&prefix));
            if let Some((k, _)) = &above {
                // A branching byte: the greatest one with a key under it.
                lo = k[at];
                let mut hi = u8::MAX;
                while lo < hi {
                    let mid = lo + (hi - lo).div_ceil(2);
                    match first_from(&[&prefix[..], &[mid]].concat(), false)
                        .filter(|(k, _)| k.starts_with(&prefix))
                    {
                        Some((k, _)) => lo = k[at].max(mid),
                        None => hi = mid - 1,
                    }
                }
                cur = first_from(&[&prefix[..], &[lo]].concat(), false)?;
            }
            prefix.push(lo);
        }
    }

    /// Raw pairs with keys in `[start, end)` (start excluded if `after`), in
    /// key order, at most about `count`, merging the write buffer with sled
    /// (deletions hide sled's pairs). `more` says the range continues after
    /// the last pair returned.
    pub fn raw_range(
        &self,
        start: &[u8],
        after: bool,
        end: &[u8],
        count: usize,
    ) -> (Vec<(Bytes, Bytes)>, bool) {
        let mut out = Vec::new();
        let more = self.raw_range_each(start, after, end, count, |k, v| {
            out.push((k.clone(), v.clone()))
        });
        (out, more)
    }

    /// [`Store::raw_range`] handing each pair to `emit` by reference: a
    /// reply can be written from the pairs without taking a reference to
    /// each (LRANGE). At most `count` pairs; true if the range goes on
    /// after them. `emit` runs with the write buffer read-locked, so it
    /// must not call into the store.
    pub fn raw_range_each(
        &self,
        start: &[u8],
        after: bool,
        end: &[u8],
        count: usize,
        mut emit: impl FnMut(&Bytes, &Bytes),
    ) -> bool {
        // A window can hold only deletions (write-buffer tombstones over
        // sled's pairs): then look further, so that an empty answer always
        // means the range is exhausted.
        let (mut n, mut upper) = self.raw_window(start, after, end, count, count, &mut emit);
        let mut window = count;
        while n == 0 {
            let Some(u) = upper else { break };
            // Runs of deletions are skipped in growing steps.
            window = (window * 2).min(4096);
            (n, upper) = self.raw_window(&u, true, end, window, count, &mut emit);
        }
        upper.is_some()
    }

    /// One merge window of [`Store::raw_range_each`]: reads about `read`
    /// keys from each source, emits at most `limit` live pairs, and returns
    /// how many it emitted and the last key examined when the range goes
    /// on (the last emitted one if `limit` cut the window short).
    fn raw_window(
        &self,
        start: &[u8],
        after: bool,
        end: &[u8],
        read: usize,
        limit: usize,
        emit: &mut impl FnMut(&Bytes, &Bytes),
    ) -> (usize, Option<Vec<u8>>) {
        let read = read.max(1);
        let from_b = if after {
            Bound::Excluded(start)
        } else {
            Bound::Included(start)
        };
        let from_v = if after {
            Bound::Excluded(start.to_vec())
        } else {
            Bound::Included(start.to_vec())
        };
        // As in `scan`: each source gives at most `read` keys and the
        // smallest read-th key bounds the window where the merge is exact.
        // Held from before the sled read (see `raw_last`).
        let t = self.tables.read();
        // After taking the buffer, before the sled read: a window read at
        // this epoch may be reused only while sled has not changed (see
        // range_cache.rs). Read before the buffer, the epoch could predate a
        // table that left the buffer in between, and an old window would
        // miss that table's writes.
        let epoch = self.cache.epoch();
        let (sled_pairs, sled_range, mut upper) =
            self.sled_window(epoch, start, after, from_v, end, read);
        let mem = {
            // Each layer's first `read` entries, walked once: a layer's
            // keys up to the window's bound are all among them.
            let lists: Vec<_> = t
                .layers()
                .iter()
                .map(|l| l.first_n(from_b, Bound::Excluded(end), read))
                .collect();
            for l in &lists {
                if let (true, Some((k, _))) = (l.len() >= read, l.last()) {
                    if upper.as_ref().is_none_or(|u| k.as_ref() < u.as_slice()) {
                        upper = Some(k.to_vec());
                    }
                }
            }
            memtable::merge_lists(lists, upper.as_deref())
        };
        // `t` stays held while the pairs are emitted: they are borrowed
        // from the buffer, not cloned (a reply is written from them).
        let mut sled = &sled_pairs[sled_range];
        if let Some(u) = &upper {
            sled = &sled[..sled.partition_point(|(k, _)| k.as_ref() <= u.as_slice())];
        }
        let mut emitted = 0;
        let mut last: Option<&Bytes> = None;
        for (k, v) in merge_over(&mem, sled) {
            if emitted == limit {
                upper = last.map(|k| k.to_vec());
                break;
            }
            emit(k, v);
            emitted += 1;
            last = Some(k);
        }
        (emitted, upper)
    }

    /// sled's first `count` pairs of a range (a range of a shared read),
    /// and the last one's key if it took all `count` (the range may go on),
    /// through the range cache.
    fn sled_window(
        &self,
        epoch: u64,
        start: &[u8],
        after: bool,
        from: Bound<Vec<u8>>,
        end: &[u8],
        count: usize,
    ) -> (range_cache::Pairs, std::ops::Range<usize>, Option<Vec<u8>>) {
        let upper_of = |pairs: &[(Bytes, Bytes)]| {
            (pairs.len() >= count)
                .then(|| pairs.last().map(|(k, _)| k.to_vec()))
                .flatten()
        };
        let read = match self.ranges.lock().lookup(epoch, start, after, end, count) {
            range_cache::Lookup::Hit(pairs, range, more) => {
                let upper = if more {
                    upper_of(&pairs[range.clone()])
                } else {
                    None
                };
                return (pairs, range, upper);
            }
            range_cache::Lookup::Miss(n) => n,
        };
        let mut pairs: Vec<(Bytes, Bytes)> = Vec::new();
        for item in self
            .tree
            .range::<Vec<u8>, _>((from, Bound::Excluded(end.to_vec())))
        {
            let Ok((k, v)) = item else { break };
            pairs.push((Bytes::copy_from_slice(&k), Bytes::copy_from_slice(&v)));
            if pairs.len() >= read {
                break;
            }
        }
        let pairs: range_cache::Pairs = pairs.into();
        self.ranges
            .lock()
            .store(epoch, start, after, end, &pairs, read);
        let range = 0..pairs.len().min(count);
        let upper = upper_of(&pairs[range.clone()]);
        (pairs, range, upper)
    }

    /// Calls `f` with every live key of `db` in key order, a page of
    /// `scan` at a time (KEYS, DEBUG DIGEST, RANDOMKEY on small dbs).
    pub fn for_each_key(&self, db: usize, now: i64, mut f: impl FnMut(Bytes, Meta)) {
        let mut after: Option<Bytes> = None;
        loop {
            let (batch, next) = self.scan(db, after.as_deref(), 1000, now);
            for (k, m) in batch {
                f(k, m);
            }
            match next {
                Some(n) => after = Some(n),
                None => return,
            }
        }
    }

    // ----- writes -----

    /// Starts a write transaction: holds the writer lock until dropped.
    pub fn write(self: &Arc<Self>, now: i64) -> WriteTx {
        WriteTx {
            store: self.clone(),
            _guard: self.writer.lock_arc(),
            batch: Batch::default(),
            now,
            deleted_expired: 0,
            fetched: Vec::new(),
        }
    }

    /// Applies a record read from a WAL or received from a master: the same
    /// publication path as a local commit, with counts found by lookup.
    pub fn apply_record(&self, r: &Record, end: u64) {
        let mut b = Batch::default();
        for e in &r.effects {
            match e {
                Effect::Put { key, value } => {
                    self.touch(&mut b, key);
                    b.overlay.insert(key.clone(), Some(value.clone()));
                    if let Some(db) = parse_gen_key(key) {
                        if value.len() == 4 && (db as usize) < MAX_DBS {
                            b.new_gens[db as usize] =
                                Some(u32::from_be_bytes([value[0], value[1], value[2], value[3]]));
                        }
                    }
                }
                Effect::Del { key } => {
                    self.touch(&mut b, key);
                    b.overlay.insert(key.clone(), None);
                }
                Effect::ClearDb { db, gen } => {
                    if (*db as usize) < MAX_DBS {
                        b.new_gens[*db as usize] = Some(*gen);
                        b.overlay.insert(
                            gen_key(*db),
                            Some(Bytes::copy_from_slice(&gen.to_be_bytes())),
                        );
                    }
                }
            }
        }
        b.effects = r.effects.clone();
        self.publish(b, end);
    }

    fn touch(&self, b: &mut Batch, key: &Bytes) {
        if b.before.contains_key(key) || parse_data_key(key).is_none() {
            return;
        }
        let v = match b.overlay.get(key) {
            Some(v) => v.clone(),
            None => self.raw_get(key),
        };
        b.before.insert(key.clone(), Before::of(v.as_ref()));
    }

    /// Makes a batch's effects visible together and corrects counts and the
    /// expiry index.
    fn publish(&self, b: Batch, end: u64) {
        self.wait_for_room();
        // FLUSHDB/FLUSHALL touch the watched keys that existed (as Redis's
        // touchAllWatchedKeysInDb), checked in the old generation.
        if self.watches.active() {
            for (db, g) in b.new_gens.iter().enumerate() {
                if g.is_none() {
                    continue;
                }
                let old = self.gen(db);
                for k in self.watches.keys_in_db(db as u8) {
                    if self.raw_get(&data_key(db as u8, old, &k)).is_some() {
                        self.watches.touch(db as u8, &k);
                    }
                }
            }
        }
        {
            let mut t = self.tables.write();
            for (k, v) in b.overlay.iter() {
                t.insert(k.clone(), v.clone());
            }
            t.end = t.end.max(end);
            if t.active_bytes >= TABLE_BYTES && t.freeze() {
                self.applier_wake.notify_one();
            }
        }
        // The expiry index is locked only if this record touches a deadline.
        let mut idx: Option<parking_lot::MutexGuard<'_, ExpireIndex>> = None;
        let mut gc = false;
        for (db, g) in b.new_gens.iter().enumerate() {
            if let Some(g) = g {
                self.gens[db].store(*g, Ordering::Release);
                self.counts[db].store(0, Ordering::Relaxed);
                idx.get_or_insert_with(|| self.expires.lock())
                    .remove_db(db as u8);
                gc = true;
            }
        }
        for (k, before) in &b.before {
            let Some((db, gen, ukey)) = parse_data_key(k) else {
                continue;
            };
            if (db as usize) >= MAX_DBS || gen != self.gen(db as usize) {
                continue;
            }
            let Some(after) = b.overlay.get(k) else {
                continue;
            };
            if let Some(old) = before.version {
                let now_v = after.as_deref().and_then(Meta::peek_coll_version);
                if now_v != Some(old) {
                    self.orphans
                        .lock()
                        .push(keys::sub_prefix(db, gen, ukey, old));
                    gc = true;
                }
            }
            let present = after.is_some();
            let delta = present as i64 - before.present as i64;
            if delta != 0 {
                self.counts[db as usize].fetch_add(delta, Ordering::Relaxed);
            }
            let new_exp = after.as_deref().and_then(Meta::peek_expire);
            if before.expire != new_exp {
                let ukey = Bytes::copy_from_slice(ukey);
                let idx = idx.get_or_insert_with(|| self.expires.lock());
                if let Some(t) = before.expire {
                    idx.remove(t, db, &ukey);
                }
                if let Some(t) = new_exp {
                    idx.insert(t, db, ukey);
                }
            }
        }
        drop(idx);
        if self.watches.active() {
            for k in b.overlay.keys() {
                if let Some((db, _, ukey)) = parse_data_key(k) {
                    self.watches.touch(db, ukey);
                }
            }
        }
        if self.ready.active() {
            for (k, v) in b.overlay.iter() {
                if let (Some((db, _, ukey)), Some(_)) = (parse_data_key(k), v) {
                    self.ready.touch(db, ukey);
                }
            }
        }
        self.dirty
            .fetch_add(b.effects.len() as u64, Ordering::Relaxed);
        if gc {
            *self.gc_lock.lock() = true;
            self.gc_wake.notify_one();
        }
    }

    fn wait_for_room(&self) {
        let mut stalled = false;
        while self.tables.read().frozen.len() >= MAX_FROZEN {
            if !stalled {
                stalled = true;
                self.stats.write_stalls.fetch_add(1, Ordering::Relaxed);
                tracing::debug!("write stall: sled is behind the write buffer");
            }
            let mut g = self.stall_lock.lock();
            self.stall_cv.wait_for(&mut g, Duration::from_millis(10));
        }
    }

    // ----- background: applier and GC -----

    fn applier_loop(self: Arc<Self>) {
        // Writes are "paused" while the stream position stands still.
        let mut last_end = u64::MAX;
        let mut quiet_since = Instant::now();
        while !self.closed.load(Ordering::Acquire) {
            {
                let mut g = self.applier_lock.lock();
                if self.tables.read().frozen.is_empty() {
                    self.applier_wake
                        .wait_for(&mut g, Duration::from_millis(200));
                }
            }
            let due = {
                let t = self.tables.read();
                if t.end != last_end {
                    last_end = t.end;
                    quiet_since = Instant::now();
                }
                !t.active.is_empty()
                    && (quiet_since.elapsed() >= IDLE_FREEZE
                        || t.active_since.elapsed() >= MAX_TABLE_AGE
                        || t.end.saturating_sub(t.active_start) >= MAX_TABLE_WAL)
            };
            if due {
                self.tables.write().freeze();
            }
            if let Err(e) = self.apply_frozen() {
                tracing::error!("applying the write buffer to sled failed: {e}");
                std::thread::sleep(Duration::from_secs(1));
            }
        }
    }

    /// Moves every frozen table into sled, oldest first.
    fn apply_frozen(&self) -> Result<(), String> {
        loop {
            let _applying = self.apply_lock.lock();
            let Some(f) = self.tables.read().frozen.first().cloned() else {
                return Ok(());
            };
            // sled must never get ahead of the durable WAL.
            self.wal.sync_all().map_err(|e| e.to_string())?;
            self.apply_table(&f)?;
            // Before the table leaves the buffer (see cache.rs).
            self.cache.applied(f.table.iter());
            self.tree.flush().map_err(|e| e.to_string())?;
            self.meta
                .insert(APPLIED_KEY, &f.end.to_be_bytes())
                .map_err(|e| e.to_string())?;
            self.meta.flush().map_err(|e| e.to_string())?;
            self.applied.store(f.end, Ordering::Release);
            let load_done = self
                .load_tail
                .lock()
                .as_ref()
                .is_some_and(|t| Arc::ptr_eq(t, &f));
            if load_done {
                // INFO says the load is done only once its mark is gone
                // and logged: a restart from here resumes partially.
                self.meta.remove(LOADING_KEY).map_err(|e| e.to_string())?;
                self.meta.flush().map_err(|e| e.to_string())?;
                tracing::info!("the full sync's data is all in sled");
                let mut tail = self.load_tail.lock();
                if tail.as_ref().is_some_and(|t| Arc::ptr_eq(t, &f)) {
                    *tail = None;
                }
            }
            {
                let mut t = self.tables.write();
                if t.frozen.first().is_some_and(|x| Arc::ptr_eq(x, &f)) {
                    t.frozen.remove(0);
                }
            }
            self.stall_cv.notify_all();
        }
    }

    /// Two threads on disjoint key ranges: the fastest way into sled 0.34
    /// measured here, when the machine has cores to spare.
    fn apply_table(&self, f: &Frozen) -> Result<(), String> {
        let entries: Vec<(&Bytes, &Option<Bytes>)> = f.table.iter().collect();
        let put = |part: &[(&Bytes, &Option<Bytes>)]| -> Result<(), String> {
            for (k, v) in part {
                let r = match v {
                    Some(v) => self.tree.insert(k.as_ref(), v.as_ref()).map(|_| ()),
                    None => self.tree.remove(k.as_ref()).map(|_| ()),
                };
                r.map_err(|e| e.to_string())?;
            }
            Ok(())
        };
        // The second thread only where there are cores to spare: on two
        // cores it takes CPU from the clients (GET -P 16 fell to 0.4 of
        // Redis while a table was applied).
        let spare_cores = std::thread::available_parallelism().map_or(1, |n| n.get()) >= 4;
        if entries.len() < 2048 || !spare_cores {
            return put(&entries);
        }
        let (a, b) = entries.split_at(entries.len() / 2);
        std::thread::scope(|s| {
            let h = s.spawn(|| put(b));
            let r1 = put(a);
            let r2 = h
                .join()
                .unwrap_or_else(|_| Err("applier thread panicked".into()));
            r1.and(r2)
        })
    }

    /// Removes keys of older database generations (after FLUSHDB/FLUSHALL).
    /// Removes from sled every collection element whose key's metadata is
    /// gone or has another version. O(elements), in the background.
    fn sweep_orphans(&self) {
        let mut n = 0u64;
        for db in 0..MAX_DBS {
            let mut prefix = db_prefix(db as u8, self.gen(db));
            prefix[0] = keys::SUB;
            // (group prefix, live) of the last element's key version.
            let mut last: Option<(Vec<u8>, bool)> = None;
            for item in self.tree.scan_prefix(prefix) {
                let Ok((k, _)) = item else { break };
                let Some(sk) = keys::parse_sub_key(&k) else {
                    continue;
                };
                let group = &k[..k.len() - sk.field.len()];
                let live = match &last {
                    Some((g, live)) if g.as_slice() == group => *live,
                    _ => {
                        let meta = self.raw_get(&data_key(db as u8, sk.gen, sk.key));
                        let live =
                            meta.as_deref().and_then(Meta::peek_coll_version) == Some(sk.version);
                        last = Some((group.to_vec(), live));
                        live
                    }
                };
                if !live {
                    let _ = self.tree.remove(&k);
                    n += 1;
                }
                if self.closed.load(Ordering::Acquire) {
                    return;
                }
            }
        }
        if n > 0 {
            self.stats.gc_keys.fetch_add(n, Ordering::Relaxed);
            tracing::info!("reclaimed {n} elements of deleted collections left by an earlier run");
        }
    }

    /// Collection versions waiting to be reclaimed.
    pub fn gc_pending(&self) -> usize {
        self.orphans.lock().len()
    }

    fn gc_loop(self: Arc<Self>) {
        while !self.closed.load(Ordering::Acquire) {
            {
                let mut pending = self.gc_lock.lock();
                if !*pending {
                    self.gc_wake.wait_for(&mut pending, Duration::from_secs(1));
                }
                if !*pending {
                    continue;
                }
                *pending = false;
            }
            // Only what sled holds is collected: wait until sled has applied
            // every record published so far (the ones that made the garbage
            // included), without waiting for writes that come later. The
            // buffer gets there on the applier's own schedule (writes
            // pausing, a full or old table): forcing a freeze here started
            // a big apply in the middle of a burst whenever a collection
            // was emptied or deleted.
            let target = self.tables.read().end;
            while self.applied.load(Ordering::Acquire) < target {
                if self.closed.load(Ordering::Acquire) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            if self.sweep_pending.swap(false, Ordering::AcqRel) {
                self.sweep_orphans();
            }
            // Elements of collection versions that lost their metadata.
            let orphans = std::mem::take(&mut *self.orphans.lock());
            let mut reclaimed = 0u64;
            for prefix in orphans {
                for item in self.tree.scan_prefix(&prefix) {
                    let Ok((k, _)) = item else { break };
                    let _ = self.tree.remove(k);
                    reclaimed += 1;
                    if self.closed.load(Ordering::Acquire) {
                        return;
                    }
                }
            }
            if reclaimed > 0 {
                self.stats.gc_keys.fetch_add(reclaimed, Ordering::Relaxed);
                tracing::debug!("reclaimed {reclaimed} elements of deleted collections");
            }
            for db in 0..MAX_DBS {
                let gen = self.gen(db);
                let mut n = 0u64;
                let families = [keys::DATA, keys::SUB];
                for item in families
                    .iter()
                    .flat_map(|f| self.tree.scan_prefix([*f, db as u8]))
                {
                    let Ok((k, _)) = item else { break };
                    if k.len() < keys::DATA_PREFIX_LEN {
                        continue;
                    }
                    let g = u32::from_be_bytes([k[2], k[3], k[4], k[5]]);
                    if g < gen {
                        let _ = self.tree.remove(k);
                        n += 1;
                    }
                    if self.closed.load(Ordering::Acquire) {
                        return;
                    }
                }
                if n > 0 {
                    self.stats.gc_keys.fetch_add(n, Ordering::Relaxed);
                    tracing::info!("reclaimed {n} keys of flushed db {db}");
                }
            }
        }
    }

    // ----- expiry -----

    /// One round of active expiry (master only): deletes up to `limit` keys
    /// whose deadline passed, each deletion a WAL record. Returns the end
    /// offset of the record written, if any.
    pub fn expire_cycle(self: &Arc<Self>, now: i64, limit: usize) -> Option<u64> {
        if self.replica.load(Ordering::Relaxed) {
            return None;
        }
        let mut due = self.expires.lock().due(now, limit);
        due.append(&mut std::mem::take(&mut *self.expired_seen.lock()));
        if due.is_empty() {
            return None;
        }
        let mut tx = self.write(now);
        for (db, key) in due {
            if (db as usize) < self.databases {
                // `get` deletes what it finds expired, in this record.
                let _ = tx.get(db as usize, &key);
            }
        }
        self.stats
            .expired_keys
            .fetch_add(tx.deleted_expired as u64, Ordering::Relaxed);
        tx.commit()
    }

    // ----- status -----

    pub fn applied_offset(&self) -> u64 {
        self.applied.load(Ordering::Acquire)
    }

    pub fn read_cache_bytes(&self) -> usize {
        self.cache.bytes()
    }

    pub fn buffer_bytes(&self) -> usize {
        let t = self.tables.read();
        t.active_bytes + t.frozen.len() * TABLE_BYTES
    }

    pub fn sled_size_on_disk(&self) -> u64 {
        self.sled.size_on_disk().unwrap_or(0)
    }

    /// Applies the whole write buffer to sled and records the applied offset
    /// (SHUTDOWN and snapshot rebuild use it).
    pub fn flush_to_sled(&self) -> Result<(), String> {
        {
            let _w = self.writer.lock();
            self.tables.write().freeze();
        }
        self.apply_frozen()?;
        self.sled.flush().map_err(|e| e.to_string())?;
        Ok(())
    }

    pub fn close(&self) -> Result<(), String> {
        let r = self.wal.close().map_err(|e| e.to_string());
        let r2 = self.flush_to_sled();
        self.closed.store(true, Ordering::Release);
        self.applier_wake.notify_all();
        self.gc_wake.notify_all();
        r.and(r2)
    }

    /// Everything needed to write a snapshot consistent at some offset in
    /// `[start, end]`: the start offset, the generations then, and the write
    /// buffer tables to merge over sled.
    pub fn snapshot_source(&self) -> SnapshotSource<'_> {
        let _w = self.writer.lock();
        let start = self.wal.end_offset();
        let mut t = self.tables.write();
        t.freeze();
        let layers: Vec<Arc<Frozen>> = t.frozen.iter().rev().cloned().collect();
        let gens = std::array::from_fn(|db| self.gen(db));
        SnapshotSource {
            store: self,
            start,
            layers,
            gens,
        }
    }
}

type PairFn<'a> = dyn FnMut(&[u8], &[u8]) -> std::io::Result<()> + 'a;

/// A fuzzy, merged view of the keyspace for snapshots.
pub struct SnapshotSource<'a> {
    store: &'a Store,
    pub start: u64,
    layers: Vec<Arc<Frozen>>,
    pub gens: [u32; MAX_DBS],
}

impl SnapshotSource<'_> {
    /// Calls `f` with every live raw (key, value) pair in key order: the
    /// generation keys, then each database's current keys. Values from the
    /// write buffer win over sled's.
    pub fn for_each(
        &self,
        mut f: impl FnMut(&[u8], &[u8]) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        for db in 0..MAX_DBS {
            if self.gens[db] != 0 {
                f(&gen_key(db as u8), &self.gens[db].to_be_bytes())?;
            }
        }
        for db in 0..MAX_DBS {
            let big = self.store.counts[db].load(Ordering::Relaxed) >= SPLIT_SCAN_MIN_KEYS;
            self.merge_prefix_split(&db_prefix(db as u8, self.gens[db]), None, big, &mut f)?;
        }
        // Collection elements, without those of versions whose metadata is
        // gone (not yet reclaimed).
        for db in 0..MAX_DBS {
            let mut prefix = db_prefix(db as u8, self.gens[db]);
            prefix[0] = keys::SUB;
            self.merge_prefix_split(&prefix, Some(db), true, &mut f)?;
        }
        Ok(())
    }

    /// A filter for one pass over a range: every pair of the keys pass,
    /// and of the elements of `db` (`sub`) those whose collection version
    /// is still the key's, looked up once per run of one version.
    fn liveness(&self, sub: Option<usize>) -> impl FnMut(&[u8]) -> bool + '_ {
        // (key, version) of the last element checked, and the answer.
        let mut last: Option<(Vec<u8>, bool)> = None;
        move |k: &[u8]| {
            let Some(db) = sub else {
                return true;
            };
            let Some(sk) = keys::parse_sub_key(k) else {
                return false;
            };
            let group = &k[..k.len() - sk.field.len()];
            match &last {
                Some((g, live)) if g.as_slice() == group => *live,
                _ => {
                    let live = self.meta_version(db, sk.key) == Some(sk.version);
                    last = Some((group.to_vec(), live));
                    live
                }
            }
        }
    }

    /// Every live pair with `prefix` (filtered by [`Self::liveness`]), in
    /// key order. When `split` and sled has keys far enough apart, a second
    /// thread reads the upper half of the range ahead, up to
    /// `SPLIT_SCAN_AHEAD_BYTES`, while this one reads the lower half: sled's
    /// iteration was most of a snapshot's time (1.2 s of a 1M-key full sync).
    fn merge_prefix_split(
        &self,
        prefix: &[u8],
        sub: Option<usize>,
        split: bool,
        f: &mut PairFn<'_>,
    ) -> std::io::Result<()> {
        let mut end = prefix.to_vec();
        increment(&mut end);
        let mid = if split {
            self.split_point(prefix, &end)
        } else {
            None
        };
        let Some(mid) = mid else {
            return self.merge_live(prefix, &end, sub, f);
        };
        type Chunk = std::io::Result<Vec<(Vec<u8>, Vec<u8>)>>;
        let (tx, rx) =
            std::sync::mpsc::sync_channel::<Chunk>(SPLIT_SCAN_AHEAD_BYTES / SPLIT_SCAN_CHUNK_BYTES);
        std::thread::scope(|s| {
            let (mid, end) = (&mid, &end);
            std::thread::Builder::new()
                .name("snapshot-scan".into())
                .spawn_scoped(s, move || {
                    let mut chunk = Vec::new();
                    let mut bytes = 0;
                    let gone = || std::io::Error::other("the snapshot writer stopped");
                    let r = self.merge_live(mid, end, sub, &mut |k, v| {
                        bytes += k.len() + v.len();
                        chunk.push((k.to_vec(), v.to_vec()));
                        if bytes >= SPLIT_SCAN_CHUNK_BYTES {
                            tx.send(Ok(std::mem::take(&mut chunk)))
                                .map_err(|_| gone())?;
                            bytes = 0;
                        }
                        Ok(())
                    });
                    let _ = tx.send(r.map(|()| chunk));
                })?;
            self.merge_live(prefix, mid, sub, f)?;
            for chunk in rx {
                for (k, v) in chunk? {
                    f(&k, &v)?;
                }
            }
            Ok(())
        })
    }

    /// `merge_range` of the pairs [`Self::liveness`] keeps.
    fn merge_live(
        &self,
        lo: &[u8],
        hi: &[u8],
        sub: Option<usize>,
        f: &mut PairFn<'_>,
    ) -> std::io::Result<()> {
        let mut live = self.liveness(sub);
        self.merge_range(lo, hi, &mut |k, v| if live(k) { f(k, v) } else { Ok(()) })
    }

    /// A key between the first and last keys in `[lo, hi)` (of sled and
    /// the write buffer), to split a scan there; None when there is nothing
    /// to split.
    fn split_point(&self, lo: &[u8], hi: &[u8]) -> Option<Vec<u8>> {
        let (from, to) = (Bound::Included(lo), Bound::Excluded(hi));
        let range = (Bound::Included(lo.to_vec()), Bound::Excluded(hi.to_vec()));
        let mut first: Option<Vec<u8>> = self
            .store
            .tree
            .range::<Vec<u8>, _>(range)
            .next()
            .and_then(|r| r.ok())
            .map(|(k, _)| k.to_vec());
        let mut last: Option<Vec<u8>> = self.store.sled_last(lo, hi).map(|(k, _)| k.to_vec());
        for l in &self.layers {
            if let Some((k, _)) = l.table.range(from, to).next() {
                if first.as_ref().is_none_or(|f| k.as_ref() < f.as_slice()) {
                    first = Some(k.to_vec());
                }
            }
            if let Some((k, _)) = l.table.last_n(from, to, 1).first() {
                if last.as_ref().is_none_or(|x| k.as_ref() > x.as_slice()) {
                    last = Some(k.to_vec());
                }
            }
        }
        midpoint(&first?, &last?)
    }

    /// The collection version of `key`'s metadata in this view.
    fn meta_version(&self, db: usize, key: &[u8]) -> Option<u64> {
        let k = data_key(db as u8, self.gens[db], key);
        for l in &self.layers {
            if let Some(v) = l.table.get(&k) {
                return v.as_ref().and_then(|v| Meta::peek_coll_version(v));
            }
        }
        let v = self.store.tree.get(&k).ok()??;
        Meta::peek_coll_version(&v)
    }

    /// Every live pair in `[lo, hi)`, write buffer over sled, in key order.
    fn merge_range(&self, lo: &[u8], hi: &[u8], f: &mut PairFn<'_>) -> std::io::Result<()> {
        let tables: Vec<&memtable::Table> = self.layers.iter().map(|f| &f.table).collect();
        let mem = merged_range(&tables, Bound::Included(lo), Bound::Excluded(hi));
        let mut mem_iter = mem.into_iter().peekable();
        let range = (Bound::Included(lo.to_vec()), Bound::Excluded(hi.to_vec()));
        for item in self.store.tree.range::<Vec<u8>, _>(range) {
            let (k, v) = item.map_err(|e| std::io::Error::other(e.to_string()))?;
            while let Some((mk, _)) = mem_iter.peek() {
                if mk.as_ref() < k.as_ref() {
                    let (mk, mv) = mem_iter.next().unwrap_or_default();
                    if let Some(mv) = mv {
                        f(&mk, &mv)?;
                    }
                } else {
                    break;
                }
            }
            match mem_iter.peek() {
                Some((mk, _)) if mk.as_ref() == k.as_ref() => {
                    let (mk, mv) = mem_iter.next().unwrap_or_default();
                    if let Some(mv) = mv {
                        f(&mk, &mv)?;
                    }
                }
                _ => f(&k, &v)?,
            }
        }
        for (mk, mv) in mem_iter {
            if let Some(mv) = mv {
                f(&mk, &mv)?;
            }
        }
        Ok(())
    }
}

/// A database with this many keys has its snapshot scan split in two.
const SPLIT_SCAN_MIN_KEYS: i64 = 10_000;
/// What the upper half's thread may read ahead of the writer (keys and
/// values counted, not their allocations).
const SPLIT_SCAN_AHEAD_BYTES: usize = 64 << 20;
const SPLIT_SCAN_CHUNK_BYTES: usize = 256 << 10;

/// A key `m` with `a < m < b` (for `a < b`), halfway between them in the
/// 16 bytes after their common prefix; None when they are too close.
fn midpoint(a: &[u8], b: &[u8]) -> Option<Vec<u8>> {
    let c = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let word = |s: &[u8]| {
        let mut w = [0u8; 16];
        for (i, byte) in s.iter().skip(c).take(16).enumerate() {
            w[i] = *byte;
        }
        u128::from_be_bytes(w)
    };
    let (x, y) = (word(a), word(b));
    if y <= x.saturating_add(1) {
        return None;
    }
    let m = x + (y - x) / 2;
    let mut out = b[..c].to_vec();
    out.extend_from_slice(&m.to_be_bytes());
    Some(out)
}

/// sled's applied offset as recorded in the meta tree (0 when absent).
fn read_applied(meta: &sled::Tree) -> Result<u64, String> {
    Ok(match meta.get(APPLIED_KEY).map_err(|e| e.to_string())? {
        Some(v) if v.len() == 8 => u64::from_be_bytes(v.as_ref().try_into().unwrap_or([0; 8])),
        _ => 0,
    })
}

/// The startup rule: sled's applied offset must lie inside the WAL
/// (`first..=end`), or the log and sled do not belong together. Also used
/// by `sledis-dump verify`.
pub fn check_applied(applied: u64, first: u64, end: u64) -> Result<(), String> {
    if applied > end {
        return Err(format!(
            "sled has applied up to offset {applied} but the WAL ends at {end}: the WAL lost data sled has; \
             refusing to start (restore the WAL or rebuild with --rebuild-from-snapshot)"
        ));
    }
    if applied < first {
        return Err(format!(
            "sled has applied up to offset {applied} but the WAL starts at {first}: records in between are missing. \
             If sled's files were lost or damaged, rebuild them with --rebuild-from-snapshot"
        ));
    }
    Ok(())
}

/// What a data dir's sled says about it, for `sledis-dump`.
#[derive(Debug, Clone, Copy)]
pub struct SledState {
    pub applied: u64,
    /// An interrupted full sync: the node drops sled and the WAL at start.
    pub loading: bool,
}

/// Opens the sled database in `sled_dir` and reads its state. sled 0.34 has
/// no read-only mode: opening takes its file lock and may write (recovery,
/// `blobs/`, `conf`), so `sledis-dump` passes a private copy, never a
/// node's own directory.
pub fn read_sled_state(sled_dir: &Path) -> Result<SledState, String> {
    if !sled_dir.join("db").is_file() {
        return Err(format!(
            "{}: no sled database (no db file)",
            sled_dir.display()
        ));
    }
    let sled = sled::Config::new()
        .path(sled_dir)
        .cache_capacity(8 << 20)
        .open()
        .map_err(|e| format!("sled failed to open {}: {e}", sled_dir.display()))?;
    let meta = sled.open_tree(META_TREE).map_err(|e| e.to_string())?;
    Ok(SledState {
        applied: read_applied(&meta)?,
        loading: meta.get(LOADING_KEY).map_err(|e| e.to_string())?.is_some(),
    })
}

/// Reads each database's generation from sled, counts its keys and
/// collects the expiry index (at open, and after loading a snapshot).
fn survey(
    tree: &sled::Tree,
    gens: &[AtomicU32; MAX_DBS],
    counts: &[AtomicI64; MAX_DBS],
) -> Result<ExpireIndex, String> {
    let mut index = ExpireIndex::default();
    for db in 0..MAX_DBS {
        let gen = match tree.get(gen_key(db as u8)).map_err(|e| e.to_string())? {
            Some(v) if v.len() == 4 => u32::from_be_bytes([v[0], v[1], v[2], v[3]]),
            _ => 0,
        };
        gens[db].store(gen, Ordering::Release);
        let mut n = 0;
        for item in tree.scan_prefix(db_prefix(db as u8, gen)) {
            let (k, v) = item.map_err(|e| e.to_string())?;
            n += 1;
            if let Some(t) = Meta::peek_expire(&v) {
                index.insert(
                    t,
                    db as u8,
                    Bytes::copy_from_slice(&k[keys::DATA_PREFIX_LEN..]),
                );
            }
        }
        counts[db].store(n, Ordering::Relaxed);
    }
    Ok(index)
}

/// The raw key range of a collection's elements after the field `after`.
fn sub_bounds(prefix: &[u8], after: Option<&[u8]>) -> (Vec<u8>, Vec<u8>) {
    let start = match after {
        Some(f) => [prefix, f].concat(),
        None => prefix.to_vec(),
    };
    let mut end = prefix.to_vec();
    increment(&mut end);
    (start, end)
}

/// The write buffer's entries (tombstones included) over sled's pairs,
/// both in key order: the live pairs, the buffer's entry winning.
fn merge_over<'a>(
    mem: &'a [(&'a Bytes, &'a Option<Bytes>)],
    sled: &'a [(Bytes, Bytes)],
) -> impl Iterator<Item = (&'a Bytes, &'a Bytes)> {
    let (mut m, mut s) = (0, 0);
    std::iter::from_fn(move || loop {
        match (mem.get(m).copied(), sled.get(s)) {
            (Some((mk, mv)), Some((sk, sv))) => {
                if sk < mk {
                    s += 1;
                    return Some((sk, sv));
                }
                s += usize::from(sk == mk);
                m += 1;
                if let Some(v) = mv {
                    return Some((mk, v));
                }
            }
            (Some((mk, mv)), None) => {
                m += 1;
                if let Some(v) = mv {
                    return Some((mk, v));
                }
            }
            (None, Some((sk, sv))) => {
                s += 1;
                return Some((sk, sv));
            }
            (None, None) => return None,
        }
    })
}

/// The smallest byte string greater than every string with prefix `v`.
fn increment(v: &mut Vec<u8>) {
    while let Some(last) = v.last_mut() {
        if *last < 0xff {
            *last += 1;
            return;
        }
        v.pop();
    }
}

/// A write in progress. Reads see the transaction's own writes; `commit`
/// logs one record and publishes everything at once.
pub struct WriteTx {
    store: Arc<Store>,
    _guard: ArcMutexGuard<RawMutex, ()>,
    batch: Batch,
    now: i64,
    pub deleted_expired: usize,
    /// Keys read from sled (value, cache epoch), cached at commit unless
    /// this transaction wrote them.
    fetched: Vec<(Bytes, Option<Bytes>, u64)>,
}

impl WriteTx {
    pub fn now(&self) -> i64 {
        self.now
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// A held transaction runs several commands; each sees its own clock.
    pub fn set_now(&mut self, now: i64) {
        self.now = now;
    }

    fn gen(&self, db: usize) -> u32 {
        self.batch.new_gens[db].unwrap_or_else(|| self.store.gen(db))
    }

    fn key(&self, db: usize, key: &[u8]) -> Bytes {
        data_key(db as u8, self.gen(db), key)
    }

    fn lookup(&mut self, k: &Bytes) -> Option<Bytes> {
        if let Some(v) = self.batch.overlay.get(k) {
            return v.clone();
        }
        let (v, from_sled) = self.store.raw_get_uncached(k);
        if let Some(epoch) = from_sled {
            self.fetched.push((k.clone(), v.clone(), epoch));
        }
        self.batch
            .before
            .entry(k.clone())
            .or_insert_with(|| Before::of(v.as_ref()));
        v
    }

    /// A live key's metadata. A key found expired is deleted in this record
    /// (lazy expiry), as Redis does on access.
    pub fn get(&mut self, db: usize, key: &[u8]) -> Option<Meta> {
        let k = self.key(db, key);
        let m = Meta::decode(&self.lookup(&k)?)?;
        if m.is_expired(self.now) {
            if self.store.replica.load(Ordering::Acquire) {
                // Replicas never delete by themselves: the master will.
                return None;
            }
            self.batch.effects.push(Effect::Del { key: k.clone() });
            self.batch.overlay.insert(k, None);
            self.deleted_expired += 1;
            return None;
        }
        Some(m)
    }

    pub fn put(&mut self, db: usize, key: &[u8], meta: &Meta) {
        let k = self.key(db, key);
        if !self.batch.before.contains_key(&k) && !self.batch.overlay.contains_key(&k) {
            self.lookup(&k);
        }
        let v = meta.encode();
        self.batch.effects.push(Effect::Put {
            key: k.clone(),
            value: v.clone(),
        });
        self.batch.overlay.insert(k, Some(v));
    }

    /// Deletes a key; true if a live key was there.
    pub fn delete(&mut self, db: usize, key: &[u8]) -> bool {
        if self.get(db, key).is_none() {
            return false;
        }
        let k = self.key(db, key);
        self.batch.effects.push(Effect::Del { key: k.clone() });
        self.batch.overlay.insert(k, None);
        true
    }

    /// The sub-key prefix of a collection version of `key` in `db`.
    pub fn sub_prefix(&self, db: usize, key: &[u8], version: u64) -> Vec<u8> {
        keys::sub_prefix(db as u8, self.gen(db), key, version)
    }

    /// A version for a new collection: unique among every version this
    /// node or its masters made, because it follows the WAL end offset.
    pub fn new_version(&mut self) -> u64 {
        let floor = self.store.wal.end_offset() + 1;
        let prev = self.store.versions.load(Ordering::Relaxed);
        let v = floor.max(prev + 1);
        self.store.versions.store(v, Ordering::Relaxed);
        v
    }

    /// The metadata to store `m` (read at `src_db`/`src_key`) under another
    /// name: a collection's elements are copied under a new version (the
    /// sub keys carry the key name, so RENAME/COPY/MOVE of a collection is
    /// O(elements), unlike Redis's O(1)).
    pub fn relocated(
        &mut self,
        src_db: usize,
        src_key: &[u8],
        m: &Meta,
        dst_db: usize,
        dst_key: &[u8],
    ) -> Meta {
        if !m.kind.is_collection() {
            return m.clone();
        }
        let (version, _) = m.coll();
        let src = self.sub_prefix(src_db, src_key, version);
        let nv = self.new_version();
        let dst = self.sub_prefix(dst_db, dst_key, nv);
        let mut after: Option<Bytes> = None;
        loop {
            let (page, more) = self.sub_range(&src, after.as_deref(), 1024);
            for (f, v) in &page {
                self.sub_put(keys::sub_key(&dst, f), v.clone());
            }
            after = page.last().map(|(f, _)| f.clone());
            if !more || after.is_none() {
                break;
            }
        }
        m.with_version(nv)
    }

    /// A collection element (sub key), seeing this transaction's writes.
    pub fn sub_get(&mut self, k: &[u8]) -> Option<Bytes> {
        if let Some(v) = self.batch.overlay.get(k) {
            return v.clone();
        }
        // As in `lookup`: an element this transaction then writes (a new
        // ZADD/SADD member) is not worth a read-cache entry.
        let (v, from_sled) = self.store.raw_get_uncached(k);
        if let Some(epoch) = from_sled {
            self.fetched
                .push((Bytes::copy_from_slice(k), v.clone(), epoch));
        }
        v
    }

    /// The greatest live pair with a key in `[start, end)`, seeing this
    /// transaction's writes.
    pub fn sub_last(&mut self, start: &[u8], end: &[u8]) -> Option<(Bytes, Bytes)> {
        let mut end = end.to_vec();
        loop {
            let stored = self.store.raw_last(start, &end);
            let mine = self
                .batch
                .overlay
                .iter()
                .filter(|(k, _)| k.as_ref() >= start && k.as_ref() < end.as_slice())
                .max_by(|a, b| a.0.cmp(b.0))
                .map(|(k, v)| (k.clone(), v.clone()));
            let best = match (stored, mine) {
                (Some(s), Some(m)) if m.0 >= s.0 => (m.0, m.1),
                (Some(s), Some(_)) => (s.0, Some(s.1)),
                (Some(s), None) => (s.0, Some(s.1)),
                (None, Some(m)) => m,
                (None, None) => return None,
            };
            // A stored pair this transaction deleted does not count.
            let v = match self.batch.overlay.get(&best.0) {
                Some(v) => v.clone(),
                None => best.1,
            };
            match v {
                Some(v) => return Some((best.0, v)),
                None => end = best.0.to_vec(),
            }
        }
    }

    pub fn sub_put(&mut self, k: Bytes, v: Bytes) {
        self.batch.effects.push(Effect::Put {
            key: k.clone(),
            value: v.clone(),
        });
        self.batch.overlay.insert(k, Some(v));
    }

    pub fn sub_del(&mut self, k: Bytes) {
        self.batch.effects.push(Effect::Del { key: k.clone() });
        self.batch.overlay.insert(k, None);
    }

    /// Elements under `prefix` after `after` (field bytes, exclusive), at
    /// most about `count`, as (field, value); `more` if the range goes on.
    /// Empty only when nothing is left (windows that hold only this
    /// transaction's deletions are skipped).
    pub fn sub_range(
        &mut self,
        prefix: &[u8],
        after: Option<&[u8]>,
        count: usize,
    ) -> (Vec<(Bytes, Bytes)>, bool) {
        let mut after: Option<Vec<u8>> = after.map(|a| a.to_vec());
        loop {
            let (out, more, last) = self.sub_window(prefix, after.as_deref(), count);
            match last {
                Some(l) if out.is_empty() && more => after = Some(l),
                _ => return (out, more),
            }
        }
    }

    fn sub_window(
        &mut self,
        prefix: &[u8],
        after: Option<&[u8]>,
        count: usize,
    ) -> (Vec<(Bytes, Bytes)>, bool, Option<Vec<u8>>) {
        let start = match after {
            Some(f) => [prefix, f].concat(),
            None => prefix.to_vec(),
        };
        let mut end = prefix.to_vec();
        increment(&mut end);
        let (pairs, more) = self.store.raw_range(&start, after.is_some(), &end, count);
        let last = if more {
            pairs.last().map(|(k, _)| k.clone())
        } else {
            None
        };
        let mut merged: std::collections::BTreeMap<Bytes, Option<Bytes>> =
            pairs.into_iter().map(|(k, v)| (k, Some(v))).collect();
        // This transaction's own writes in the same window.
        for (k, v) in &self.batch.overlay {
            let inside = k.starts_with(prefix)
                && (after.is_none() || k.as_ref() > start.as_slice())
                && last.as_ref().is_none_or(|l| k <= l);
            if inside {
                merged.insert(k.clone(), v.clone());
            }
        }
        let out = merged
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k.slice(prefix.len()..), v)))
            .collect();
        let last_field = last.map(|l| l[prefix.len()..].to_vec());
        (out, more, last_field)
    }

    /// FLUSHDB: the database moves to a new, empty generation.
    pub fn flush_db(&mut self, db: usize) {
        let gen = self.gen(db).wrapping_add(1).max(1);
        self.batch.new_gens[db] = Some(gen);
        self.batch
            .effects
            .push(Effect::ClearDb { db: db as u8, gen });
        self.batch.overlay.insert(
            gen_key(db as u8),
            Some(Bytes::copy_from_slice(&gen.to_be_bytes())),
        );
    }

    pub fn has_effects(&self) -> bool {
        !self.batch.effects.is_empty()
    }

    /// Logs and publishes what was stated so far as one record, keeping the
    /// writer lock (a pipeline's commands share one lock acquisition).
    /// Returns the record's end offset (None if nothing changed).
    pub fn commit_record(&mut self) -> Option<u64> {
        self.deleted_expired = 0;
        for (k, v, epoch) in self.fetched.drain(..) {
            if !self.batch.overlay.contains_key(&k) {
                self.store.cache.insert(&k, v, epoch);
            }
        }
        if self.batch.effects.is_empty() {
            self.batch = Batch::default();
            return None;
        }
        let batch = std::mem::take(&mut self.batch);
        if self.store.replica.load(Ordering::Acquire) {
            // A writable replica's own writes (`replica-read-only no`) stay
            // local, as in Redis: they take no offset in the master's
            // stream, reach sled with the next applied table, and a full
            // sync replaces them.
            let end = self.store.wal.end_offset();
            self.store.publish(batch, end);
            return None;
        }
        let (_, end) = self.store.wal.append(&batch.effects);
        self.store.publish(batch, end);
        Some(end)
    }

    /// Logs and publishes, then releases the writer lock.
    pub fn commit(mut self) -> Option<u64> {
        self.commit_record()
    }
}

impl Store {
    pub fn open_path(dir: &Path) -> Result<Arc<Store>, String> {
        Store::open(StoreOptions {
            dir: dir.to_path_buf(),
            databases: MAX_DBS,
            fsync: FsyncPolicy::EverySec,
            segment_size: 64 << 20,
            repair_wal: false,
        })
    }
}

impl Store {
    /// A record from the master's stream: appended to our WAL at the same
    /// offset (the raw frame, verbatim) and published, under the writer lock
    /// so WAL order stays apply order.
    pub fn apply_replicated(&self, frame: &[u8], rec: &Record) -> Result<u64, String> {
        let _w = self.writer.lock();
        let here = self.wal.end_offset();
        if rec.offset != here {
            return Err(format!(
                "replicated record at offset {} but our log ends at {here}",
                rec.offset
            ));
        }
        let end = self.wal.append_raw(frame);
        self.apply_record(rec, end);
        Ok(end)
    }

    /// Replaces the whole keyspace with a snapshot's `blocks` (read by
    /// `read`, the snapshot reader's `read_block`) and makes the WAL continue
    /// from `start`: what a replica does after a full sync. Readers meanwhile
    /// are answered LOADING by the server.
    ///
    /// A snapshot of up to `BUFFERED_LOAD_MIN` raw bytes goes straight into
    /// sled. A bigger one goes into write-buffer tables that the applier
    /// moves into sled in the background, as it does with writes: sled takes
    /// ~4 µs of CPU per inserted key, most of a full sync's time, and the
    /// replica can serve the data from the buffer meanwhile. Either way the
    /// `loading` mark stays in `sledis-meta` until sled holds all of it, so
    /// a node that dies before that drops the half-loaded data at startup
    /// and syncs in full again (Redis's replica also needs a full sync if it
    /// dies before its AOF rewrite after a sync has finished).
    pub fn load_snapshot(
        &self,
        start: u64,
        blocks: usize,
        raw_bytes: u64,
        read: impl Fn(usize) -> Result<Vec<Pair>, String> + Sync,
    ) -> Result<u64, String> {
        let _w = self.writer.lock();
        {
            let _a = self.apply_lock.lock();
            *self.tables.write() = Tables::new(start);
            *self.load_tail.lock() = None;
            self.cache.clear();
            // Marks the load as in progress until sled has it all (see `open`).
            self.meta_put(LOADING_KEY, b"1")?;
            self.tree.clear().map_err(|e| e.to_string())?;
        }
        let (n, tally) = if raw_bytes <= BUFFERED_LOAD_MIN {
            let r = load_blocks(&self.tree, blocks, load_workers(), read)?;
            self.tree.flush().map_err(|e| e.to_string())?;
            // sled changed under reads made since the clear above.
            self.cache.clear();
            r
        } else {
            self.load_into_buffer(start, blocks, read)?
        };
        self.wal.reset(start).map_err(|e| e.to_string())?;
        self.meta
            .insert(APPLIED_KEY, &start.to_be_bytes())
            .map_err(|e| e.to_string())?;
        self.meta.flush().map_err(|e| e.to_string())?;
        self.applied.store(start, Ordering::Release);
        if self.load_tail.lock().is_none() {
            self.meta.remove(LOADING_KEY).map_err(|e| e.to_string())?;
            self.meta.flush().map_err(|e| e.to_string())?;
        }
        // Generations, counts and the expiry index from what was loaded.
        let idx = tally.finish(&self.gens, &self.counts);
        *self.expires.lock() = idx;
        self.dirty.store(0, Ordering::Relaxed);
        *self.gc_lock.lock() = true;
        self.gc_wake.notify_one();
        Ok(n)
    }

    /// The buffered load: tables of up to `TABLE_BYTES`, frozen as they fill,
    /// waiting for room like any writer. One thread decodes blocks while
    /// this one inserts them, and the applier waits until the load is done
    /// or needs room (on 2 cores it would otherwise slow the load it
    /// serves). The last table becomes `load_tail`.
    fn load_into_buffer(
        &self,
        start: u64,
        blocks: usize,
        read: impl Fn(usize) -> Result<Vec<Pair>, String> + Sync,
    ) -> Result<(u64, Tally), String> {
        let mut tally = Tally::default();
        let mut n = 0u64;
        // The pairs come in key order: each table is built at once.
        let mut table: Vec<(Bytes, Option<Bytes>)> = Vec::new();
        let mut bytes = 0usize;
        let mut hold = Some(self.apply_lock.lock());
        std::thread::scope(|s| -> Result<(), String> {
            let (tx, rx) =
                std::sync::mpsc::sync_channel::<Result<Vec<Pair>, String>>(LOAD_AHEAD_BLOCKS);
            let read = &read;
            std::thread::Builder::new()
                .name("snapshot-decode".into())
                .spawn_scoped(s, move || {
                    for i in 0..blocks {
                        let r = read(i);
                        let failed = r.is_err();
                        if tx.send(r).is_err() || failed {
                            return;
                        }
                    }
                })
                .map_err(|e| format!("cannot start a snapshot decoding thread: {e}"))?;
            let mut received = 0;
            for (i, block) in rx.iter().enumerate() {
                received += 1;
                for (k, v) in block? {
                    tally.see(&k, &v);
                    bytes += k.len() + v.len() + memtable::ENTRY_OVERHEAD;
                    table.push((Bytes::from(k), Some(Bytes::from(v))));
                    n += 1;
                }
                let last = i + 1 == blocks;
                if (bytes >= TABLE_BYTES || last) && !table.is_empty() {
                    if self.tables.read().frozen.len() >= MAX_FROZEN {
                        drop(hold.take());
                        self.wait_for_room();
                        hold = Some(self.apply_lock.lock());
                    }
                    let f = Arc::new(Frozen {
                        table: memtable::Table::from_sorted(std::mem::take(&mut table)),
                        end: start,
                    });
                    self.tables.write().frozen.push(f.clone());
                    *self.load_tail.lock() = Some(f);
                    bytes = 0;
                }
            }
            if received != blocks {
                return Err(format!(
                    "snapshot decoding stopped after {received} of {blocks} blocks"
                ));
            }
            Ok(())
        })?;
        drop(hold);
        let _g = self.applier_lock.lock();
        self.applier_wake.notify_one();
        Ok((n, tally))
    }

    /// True while a full sync's data is still on its way from the write
    /// buffer into sled (INFO `sled_load_pending`).
    pub fn load_pending(&self) -> bool {
        self.load_tail.lock().is_some()
    }

    /// Node-level state kept beside the keyspace (replid, ...), durable at
    /// return.
    pub fn meta_get(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.meta.get(key).ok().flatten().map(|v| v.to_vec())
    }

    pub fn meta_put(&self, key: &[u8], value: &[u8]) -> Result<(), String> {
        self.meta.insert(key, value).map_err(|e| e.to_string())?;
        self.meta.flush().map(|_| ()).map_err(|e| e.to_string())
    }
}

/// Replaces the sled files in `dir` with the pairs of a snapshot, recording
/// its start offset as applied so recovery replays the WAL from there. The
/// old sled directory is kept aside, never deleted.
pub fn rebuild_sled(
    dir: &Path,
    start_offset: u64,
    blocks: usize,
    read: impl Fn(usize) -> Result<Vec<Pair>, String> + Sync,
) -> Result<u64, String> {
    let sled_path = dir.join("sled");
    if sled_path.exists() {
        let aside = dir.join(format!("sled.damaged-{}", crate::util::now_ms()));
        std::fs::rename(&sled_path, &aside)
            .map_err(|e| format!("cannot move {} aside: {e}", sled_path.display()))?;
        tracing::warn!("moved the old sled files to {}", aside.display());
    }
    let db = sled::Config::new()
        .path(&sled_path)
        .open()
        .map_err(|e| e.to_string())?;
    let tree = db.open_tree("keyspace").map_err(|e| e.to_string())?;
    let meta = db.open_tree(META_TREE).map_err(|e| e.to_string())?;
    let (n, _) = load_blocks(&tree, blocks, load_workers(), read)?;
    tree.flush().map_err(|e| e.to_string())?;
    meta.insert(APPLIED_KEY, &start_offset.to_be_bytes())
        .map_err(|e| e.to_string())?;
    db.flush().map_err(|e| e.to_string())?;
    drop((tree, meta, db));
    // sled releases its file lock when its background flusher thread has
    // gone, a moment after the drop; the node opens sled right after this.
    let deadline = Instant::now() + Duration::from_secs(10);
    while sled_locked(&sled_path)? {
        if Instant::now() > deadline {
            return Err(format!(
                "{}: still locked after the rebuild",
                sled_path.display()
            ));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(n)
}

/// True while a process (or a sled instance of ours not yet fully closed)
/// holds sled's lock on `sled_dir/db`. Probed with a non-blocking shared
/// `flock` on a read-only handle, released at once.
pub fn sled_locked(sled_dir: &Path) -> Result<bool, String> {
    use std::os::fd::AsRawFd;
    let db = sled_dir.join("db");
    let f = std::fs::File::open(&db).map_err(|e| format!("{}: {e}", db.display()))?;
    // SAFETY: flock on a descriptor we own, for as long as `f` lives.
    let r = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_SH | libc::LOCK_NB) };
    if r == 0 {
        // SAFETY: as above.
        unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_UN) };
        return Ok(false);
    }
    let e = std::io::Error::last_os_error();
    if e.kind() == std::io::ErrorKind::WouldBlock {
        Ok(true)
    } else {
        Err(format!("{}: cannot probe sled's lock: {e}", db.display()))
    }
}

/// One loading thread per core, at most 4.
fn load_workers() -> usize {
    std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(1, 4)
}

/// Inserts a snapshot's blocks into `tree` with `workers` threads (1: the
/// calling thread). A snapshot's keys are distinct, so the order of inserts
/// does not matter, and sled takes concurrent inserts: one thread spent
/// ~4 µs per key in sled (node copies on split), most of a full sync's
/// time. The first error stops every thread.
fn load_blocks(
    tree: &sled::Tree,
    blocks: usize,
    workers: usize,
    read: impl Fn(usize) -> Result<Vec<Pair>, String> + Sync,
) -> Result<(u64, Tally), String> {
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let work = || -> Result<(u64, Tally), String> {
        let mut n = 0u64;
        let mut tally = Tally::default();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            if i >= blocks || failed.load(Ordering::Relaxed) {
                return Ok((n, tally));
            }
            let pairs = read(i).inspect_err(|_| failed.store(true, Ordering::Relaxed))?;
            for (k, v) in pairs {
                tally.see(&k, &v);
                tree.insert(k, v).map_err(|e| {
                    failed.store(true, Ordering::Relaxed);
                    e.to_string()
                })?;
                n += 1;
            }
        }
    };
    if workers <= 1 {
        return work();
    }
    let results: Vec<Result<(u64, Tally), String>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                std::thread::Builder::new()
                    .name("snapshot-load".into())
                    .spawn_scoped(s, work)
            })
            .collect();
        handles
            .into_iter()
            .map(|h| match h {
                Ok(h) => h
                    .join()
                    .unwrap_or_else(|_| Err("a snapshot loading thread panicked".into())),
                Err(e) => Err(format!("cannot start a snapshot loading thread: {e}")),
            })
            .collect()
    });
    let mut total = 0;
    let mut tally = Tally::default();
    for r in results {
        let (n, t) = r?;
        total += n;
        tally.merge(t);
    }
    Ok((total, tally))
}

/// What loading learns of the metadata entries it inserts, per database
/// and generation, so the counts and the expiry index need no second scan
/// of sled (the scan took about as long as a fifth of the inserts).
#[derive(Default)]
struct Tally {
    counts: HashMap<(u8, u32), i64>,
    expires: Vec<(i64, u8, u32, Bytes)>,
    /// Each database's generation key, as loaded.
    gens: HashMap<u8, u32>,
}

impl Tally {
    fn see(&mut self, k: &[u8], v: &[u8]) {
        if let Some(db) = parse_gen_key(k) {
            if let Ok(b) = <[u8; 4]>::try_from(v) {
                self.gens.insert(db, u32::from_be_bytes(b));
            }
            return;
        }
        let Some((db, gen, key)) = keys::parse_data_key(k) else {
            return;
        };
        *self.counts.entry((db, gen)).or_insert(0) += 1;
        if let Some(t) = Meta::peek_expire(v) {
            self.expires.push((t, db, gen, Bytes::copy_from_slice(key)));
        }
    }

    fn merge(&mut self, other: Tally) {
        for (k, n) in other.counts {
            *self.counts.entry(k).or_insert(0) += n;
        }
        self.expires.extend(other.expires);
        self.gens.extend(other.gens);
    }

    /// Keeps what belongs to each database's current generation (older
    /// generations are garbage the GC will collect), as `survey` does. The
    /// generations come from the loaded pairs: sled was cleared first.
    fn finish(self, gens: &[AtomicU32; MAX_DBS], counts: &[AtomicI64; MAX_DBS]) -> ExpireIndex {
        let mut current = [0u32; MAX_DBS];
        for (db, cur) in current.iter_mut().enumerate() {
            *cur = self.gens.get(&(db as u8)).copied().unwrap_or(0);
            gens[db].store(*cur, Ordering::Release);
            let n = self.counts.get(&(db as u8, *cur)).copied().unwrap_or(0);
            counts[db].store(n, Ordering::Relaxed);
        }
        let mut index = ExpireIndex::default();
        for (t, db, gen, key) in self.expires {
            if current.get(db as usize) == Some(&gen) {
                index.insert(t, db, key);
            }
        }
        index
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A seeded xorshift64 generator: the same keys on every run.
    fn xorshift(mut x: u64) -> impl FnMut() -> u64 {
        move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        }
    }

    #[test]
    fn midpoint_lies_strictly_between_its_keys() {
        let cases: &[(&[u8], &[u8])] = &[
            (b"key:000000000000", b"key:000000999999"),
            (b"a", b"b"),
            (b"a", b"a\x00\x00\x01"),
            (b"ab", b"abc"),
            (b"\x01\xff\xff", b"\x02"),
            (b"x\xff\xffz", b"y"),
            (
                b"same-prefix-then-a-long-tail-aaaa",
                b"same-prefix-then-a-long-tail-zzzz",
            ),
        ];
        for (a, b) in cases {
            let m = midpoint(a, b).unwrap_or_else(|| panic!("{a:?} {b:?}"));
            assert!(
                a < &m.as_slice() && m.as_slice() < *b,
                "{a:?} < {m:?} < {b:?}"
            );
        }
        // Nothing fits between neighbours.
        assert_eq!(midpoint(b"a", b"a\x00"), None);
        let m = midpoint(b"a\x00", b"a\x01").expect("a\\x00\\x80... fits");
        assert!(b"a\x00".as_slice() < m.as_slice() && m.as_slice() < b"a\x01".as_slice());
        // Or too close in the 16 bytes looked at: no split, which is fine.
        let mut a = b"x".to_vec();
        a.extend([0xff; 16]);
        a.push(b'z');
        assert_eq!(midpoint(&a, b"y"), None);
    }

    /// The forward-only walk finds what a reverse scan would, on keys full
    /// of 0xff runs (list indices, negative scores) and shared prefixes.
    #[test]
    fn sled_last_matches_a_full_scan() {
        let dir = std::env::temp_dir().join(format!("sledis-last-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = Store::open_path(&dir).expect("open");
        let mut rnd = xorshift(0x9E37_79B9_7F4A_7C15);
        let mut keys: Vec<Vec<u8>> = Vec::new();
        for _ in 0..3000 {
            let mut k = b"s\x00pre".to_vec();
            match rnd() % 4 {
                0 => k.extend_from_slice(&(0x7fff_ffff_ffff_ffffu64 - rnd() % 50).to_be_bytes()),
                1 => k.extend_from_slice(&(!(-((rnd() % 40) as f64)).to_bits()).to_be_bytes()),
                2 => k.extend_from_slice(format!("element:{:012}", rnd() % 100_000).as_bytes()),
                _ => {
                    k.extend((0..rnd() % 6).map(|_| [0u8, 0xff, 0x7f, b'a'][(rnd() % 4) as usize]))
                }
            }
            store.tree.insert(&k, b"v").expect("insert");
            keys.push(k);
        }
        keys.sort();
        keys.dedup();
        for _ in 0..2000 {
            let a = &keys[(rnd() % keys.len() as u64) as usize];
            let b = &keys[(rnd() % keys.len() as u64) as usize];
            let (start, mut end) = if a <= b {
                (a.clone(), b.clone())
            } else {
                (b.clone(), a.clone())
            };
            if rnd().is_multiple_of(3) {
                end.push(0xff);
            }
            let want = keys.iter().rfind(|k| **k >= start && **k < end);
            let got = store.sled_last(&start, &end).map(|(k, _)| k.to_vec());
            assert_eq!(got.as_ref(), want, "range {start:?}..{end:?}");
            // As callers use it: everything under a prefix, n at a time.
            let p = &a[..(rnd() % a.len() as u64) as usize];
            let Some(pe) = crate::command::random::prefix_end(p) else {
                continue;
            };
            let want: Vec<&Vec<u8>> = keys
                .iter()
                .filter(|k| k.starts_with(p))
                .rev()
                .take(5)
                .collect();
            let got: Vec<Vec<u8>> = store
                .sled_last_n(p, &pe, 5)
                .into_iter()
                .map(|(k, _)| k.to_vec())
                .collect();
            assert_eq!(got.iter().collect::<Vec<_>>(), want, "prefix {p:?}");
        }
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Range reads merge the write buffer's layers (puts and tombstones)
    /// over sled's pairs exactly, at any window size: each page is a start
    /// of what a model holds, and walking a range page by page from the
    /// last key returned yields it whole, once.
    #[test]
    fn range_reads_merge_the_buffer_over_sled() {
        use std::collections::BTreeMap;
        let dir = std::env::temp_dir().join(format!("sledis-range-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = Store::open_path(&dir).expect("open");
        let mut rnd = xorshift(0x2545_F491_4F6C_DD1D);
        let key = |n: u64| format!("r\x00k{n:04}").into_bytes();
        let mut model: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
        for _ in 0..600 {
            let k = key(rnd() % 1000);
            store.tree.insert(&k, b"sled").expect("insert");
            model.insert(k, b"sled".to_vec());
        }
        for layer in 0..3 {
            let mut t = store.tables.write();
            for _ in 0..300 {
                let k = key(rnd() % 1000);
                if rnd().is_multiple_of(3) {
                    t.insert(Bytes::from(k.clone()), None);
                    model.remove(&k);
                } else {
                    let v = format!("buf{layer}").into_bytes();
                    t.insert(Bytes::from(k.clone()), Some(Bytes::from(v.clone())));
                    model.insert(k, v);
                }
            }
            if layer < 2 {
                t.freeze();
            }
        }
        let end = b"r\x00l".to_vec();
        for _ in 0..300 {
            let start = key(rnd() % 1000);
            let after = rnd().is_multiple_of(2);
            let count = 1 + (rnd() % 40) as usize;
            let want: Vec<(Vec<u8>, Vec<u8>)> = model
                .iter()
                .filter(|(k, _)| if after { **k > start } else { **k >= start })
                .take(count)
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            let (got, more) = store.raw_range(&start, after, &end, count);
            let got: Vec<(Vec<u8>, Vec<u8>)> =
                got.iter().map(|(k, v)| (k.to_vec(), v.to_vec())).collect();
            // A window may stop short of `count` (at the nearest source's
            // count-th key) but never returns nothing while pairs remain,
            // and says whether more follow.
            let what = format!("from {start:?} after {after} count {count}");
            assert!(want.starts_with(&got), "{what}");
            assert_eq!(got.is_empty(), want.is_empty(), "{what}");
            if !more {
                assert_eq!(got, want, "{what}: no more");
            }
        }
        for count in [1, 3, 16, 100] {
            let mut walked = Vec::new();
            let mut from = b"r\x00".to_vec();
            let mut after = false;
            loop {
                let (page, more) = store.raw_range(&from, after, &end, count);
                assert!(page.len() <= count);
                walked.extend(page.iter().map(|(k, _)| k.to_vec()));
                match page.last() {
                    Some((k, _)) if more => (from, after) = (k.to_vec(), true),
                    _ => break,
                }
            }
            assert_eq!(
                walked,
                model.keys().cloned().collect::<Vec<_>>(),
                "count {count}"
            );
        }
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
