use super::*;

impl Store {
    /// Replaces the whole keyspace with a snapshot's `blocks` (read by
    /// `read`, the snapshot reader's `read_block`) and makes the WAL continue
    /// from `start`: what a replica does after the full sync of a small
    /// snapshot (up to `LOAD_BEHIND_MIN` raw bytes; a bigger one is served
    /// from its file while it loads, `load_snapshot_file`). Readers meanwhile
    /// are answered LOADING by the server. The `loading` mark stays in
    /// `sledis-meta` until sled holds all of it, so a node that dies before
    /// that drops the half-loaded data at startup and syncs in full again
    /// (Redis's replica also needs a full sync if it dies before its AOF
    /// rewrite after a sync has finished).
    pub fn load_snapshot(
        &self,
        start: u64,
        blocks: usize,
        read: impl Fn(usize) -> Result<Vec<Pair>, Error> + Sync,
    ) -> Result<u64, Error> {
        self.stop_loader();
        let _w = self.writer.lock();
        self.clear_for_load(start, None)?;
        let (n, tally) = load_blocks(Some(&self.engine), blocks, load_workers(), read)?;
        self.engine.flush()?;
        // sled changed under reads made since the clear above.
        self.engine.clear_cache();
        self.set_loaded(start, tally)?;
        self.engine.meta_remove(LOADING_KEY)?;
        self.engine.flush()?;
        self.incomplete.store(false, Ordering::Release);
        self.functions_changed();
        *self.gc_lock.lock() = true;
        self.gc_wake.notify_one();
        Ok(n)
    }

    /// True while a full sync's data is still on its way into sled
    /// (INFO `sled_load_pending`).
    pub fn load_pending(&self) -> bool {
        self.overlay.read().is_some()
    }

    /// True after a full sync failed once the old data was dropped: the
    /// node must not serve what it has, and its next sync must be a full
    /// one.
    pub fn incomplete(&self) -> bool {
        self.incomplete.load(Ordering::Acquire)
    }

    /// A replica left `incomplete` becomes a master (REPLICAOF NO ONE):
    /// it drops the partial data and starts empty at its WAL's end, as a
    /// restart after a failed sync does (`open`).
    pub fn drop_incomplete(&self) -> Result<(), Error> {
        // A full sync loading right now holds the writer lock: it may yet
        // complete the data.
        let _w = self.writer.lock();
        if !self.incomplete() {
            return Ok(());
        }
        self.stop_loader();
        let end = self.wal.end_offset();
        self.clear_for_load(end, None)?;
        self.set_loaded(end, Tally::default())?;
        self.engine.meta_remove(LOADING_KEY)?;
        self.engine.flush()?;
        self.incomplete.store(false, Ordering::Release);
        Ok(())
    }

    /// A full sync of a big snapshot, served from its file while sled loads
    /// it (see `overlay.rs`). Every block is read and counted first, so a
    /// damaged file leaves the old dataset alone; then the file becomes the
    /// base layer under an empty write buffer, the WAL continues from
    /// `start`, and a loader thread moves the pairs into sled. Returns the
    /// number of pairs once the node can serve them.
    pub fn load_snapshot_file(
        self: &Arc<Self>,
        start: u64,
        reader: SnapshotReader,
    ) -> Result<u64, Error> {
        self.stop_loader();
        let blocks = reader.block_count();
        let (n, tally) = load_blocks(None, blocks, load_workers(), |i| {
            reader.read_block(i).map_err(Error::snapshot)
        })?;
        if n != reader.key_count() {
            return Err(Error::Snapshot(format!(
                "the snapshot holds {n} pairs but its trailer says {}",
                reader.key_count()
            )));
        }
        let overlay = Arc::new(overlay::Overlay::new(reader));
        let _w = self.writer.lock();
        self.clear_for_load(start, Some(overlay.clone()))?;
        self.set_loaded(start, tally)?;
        let store = self.clone();
        let handle = std::thread::Builder::new()
            .name("snapshot-load".into())
            .spawn(move || store.load_behind(overlay))
            .map_err(|e| Error::System(format!("cannot start the snapshot loader: {e}")))?;
        *self.loader.lock() = Some(handle);
        // The file holds the whole dataset: the node serves it.
        self.incomplete.store(false, Ordering::Release);
        self.functions_changed();
        Ok(n)
    }

    /// Empties the node for a full sync at `start`: write buffer, sled
    /// (under the `loading` mark, which stays until sled has the whole
    /// snapshot; see `open`) and read cache. `overlay`, if any, becomes the
    /// base layer. The caller holds the writer lock.
    fn clear_for_load(
        &self,
        start: u64,
        overlay: Option<Arc<overlay::Overlay>>,
    ) -> Result<(), Error> {
        // From here the old data goes; until the new one is whole, the
        // node holds neither.
        self.incomplete.store(true, Ordering::Release);
        let _a = self.apply_lock.lock();
        // sled keeps an I/O error it met (a full disk, say) until reopened.
        if let Some(e) = self.engine.io_error() {
            self.engine.reopen(Duration::from_secs(5))?;
            tracing::warn!("sled reopened after an I/O error ({e}) to load a full sync");
        }
        {
            let mut t = self.tables.write();
            *t = Tables::new(start);
            self.note_room(&t);
        }
        self.meta_put(LOADING_KEY, b"1")?;
        self.engine.clear()?;
        *self.overlay.write() = overlay;
        self.engine.clear_cache();
        self.functions_changed();
        Ok(())
    }

    /// The state a counted load leaves: the WAL continues from `start`, and
    /// the generations and key counts are the snapshot's, stored as applied
    /// at `start`.
    fn set_loaded(&self, start: u64, tally: Tally) -> Result<(), Error> {
        self.wal.reset(start).map_err(Error::wal)?;
        let kc = tally.finish(&self.gens, &self.slots);
        for db in 0..MAX_DBS {
            self.counts[db].store(kc.keys[db], Ordering::Relaxed);
            self.expire_counts[db].store(kc.expires[db], Ordering::Relaxed);
        }
        self.engine.meta_insert(APPLIED_KEY, &kc.encode(start))?;
        self.engine.flush()?;
        self.applied.store(start, Ordering::Release);
        self.dirty.store(0, Ordering::Relaxed);
        Ok(())
    }

    /// The loader thread of `load_snapshot_file`. The applier leaves the
    /// write buffer alone while the overlay is there, so the stream's
    /// tables reach sled after every snapshot pair.
    fn load_behind(&self, overlay: Arc<overlay::Overlay>) {
        let t0 = Instant::now();
        let reader = &overlay.reader;
        let blocks = reader.block_count();
        // Blocks before this one are in sled (one thread, in order).
        let done = AtomicUsize::new(0);
        let stopped =
            || self.closed.load(Ordering::Acquire) || self.load_abort.load(Ordering::Acquire);
        loop {
            let from = done.load(Ordering::Acquire);
            let r = load_blocks(
                Some(&self.engine),
                blocks - from,
                // One thread: the node serves meanwhile, and two inserting
                // threads took a 64mb replica's peak from under its 112 MB
                // bound to 124 MB (sled's node copies in flight).
                1,
                |i| {
                    let i = from + i;
                    done.store(i, Ordering::Release);
                    if stopped() {
                        return Err(Error::Stopped);
                    }
                    if i % FLUSH_EVERY_BLOCKS == FLUSH_EVERY_BLOCKS - 1 {
                        self.engine.flush()?;
                    }
                    reader.read_block(i).map_err(Error::snapshot)
                },
            )
            .and_then(|_| {
                done.store(blocks, Ordering::Release);
                self.engine.flush()?;
                self.engine.meta_remove(LOADING_KEY)?;
                self.engine.flush()
            });
            match r {
                Ok(()) => break,
                Err(e) if e == Error::Stopped || stopped() => {
                    tracing::info!("the full sync's load into sled stopped; its mark stays, so a restart syncs in full");
                    return;
                }
                Err(e) => {
                    // The file is whole and serves every read meanwhile;
                    // sled takes the pairs again from the failed block once
                    // it works (inserting a pair twice is harmless).
                    tracing::error!(
                        "loading the full sync into sled failed at block {}/{blocks}: {e}; retrying (the node serves the data from the snapshot file meanwhile)",
                        done.load(Ordering::Acquire)
                    );
                    std::thread::sleep(Duration::from_secs(1));
                    if let Some(io) = self.engine.io_error() {
                        match self.engine.reopen(Duration::from_secs(5)) {
                            Ok(()) => tracing::warn!(
                                "sled reopened after an I/O error ({io}); loading the full sync on"
                            ),
                            Err(r) => tracing::error!("sled could not be reopened yet: {r}"),
                        }
                    }
                }
            }
        }
        // Logged before the overlay goes: whoever sees `sled_load_pending`
        // at 0 finds the line in the log.
        tracing::info!(
            "the full sync's data is all in sled: {} pairs in {:.2}s",
            reader.key_count(),
            t0.elapsed().as_secs_f64()
        );
        {
            let _a = self.apply_lock.lock();
            *self.overlay.write() = None;
            self.engine.clear_cache();
        }
        {
            let _g = self.applier_lock.lock();
            self.applier_wake.notify_one();
        }
        *self.gc_lock.lock() = true;
        self.gc_wake.notify_one();
    }

    /// Ends a running `load_behind` (a new full sync replaces its data).
    fn stop_loader(&self) {
        let handle = self.loader.lock().take();
        if let Some(h) = handle {
            self.load_abort.store(true, Ordering::Release);
            let _ = h.join();
            self.load_abort.store(false, Ordering::Release);
        }
        *self.overlay.write() = None;
    }

    /// Node-level state kept beside the keyspace (replid, ...), durable at
    /// return.
    pub fn meta_get(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.engine.meta_get(key).ok().flatten().map(|v| v.to_vec())
    }

    pub fn meta_put(&self, key: &[u8], value: &[u8]) -> Result<(), Error> {
        self.engine.meta_insert(key, value)?;
        self.engine.flush()
    }
}

/// Replaces the sled files in `dir` with the pairs of a snapshot, recording
/// its start offset as applied so recovery replays the WAL from there. The
/// old sled directory is kept aside, never deleted.
pub fn rebuild_sled(
    dir: &Path,
    start_offset: u64,
    blocks: usize,
    read: impl Fn(usize) -> Result<Vec<Pair>, Error> + Sync,
) -> Result<u64, Error> {
    let sled_path = dir.join("sled");
    if sled_path.exists() {
        let aside = dir.join(format!("sled.damaged-{}", crate::util::now_ms()));
        std::fs::rename(&sled_path, &aside).map_err(|e| {
            Error::System(format!("cannot move {} aside: {e}", sled_path.display()))
        })?;
        tracing::warn!("moved the old sled files to {}", aside.display());
    }
    let engine = Engine::open(&sled_path, 64 << 20)?;
    let (n, tally) = load_blocks(Some(&engine), blocks, load_workers(), read)?;
    let kc = tally.finish(&Default::default(), &Default::default());
    engine.meta_insert(APPLIED_KEY, &kc.encode(start_offset))?;
    engine.flush()?;
    drop(engine);
    // sled releases its file lock when its background flusher thread has
    // gone, a moment after the drop; the node opens sled right after this.
    let deadline = Instant::now() + Duration::from_secs(10);
    while sled_locked(&sled_path)? {
        if Instant::now() > deadline {
            return Err(Error::Engine(format!(
                "{}: still locked after the rebuild",
                sled_path.display()
            )));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(n)
}

/// The loader behind an overlay flushes sled this often (blocks of ~64 KiB
/// raw), so the node versions sled keeps until a flush stay few.
const FLUSH_EVERY_BLOCKS: usize = 32;

/// One loading thread per core, at most 4.
pub(super) fn load_workers() -> usize {
    std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(1, 4)
}

/// Inserts a snapshot's blocks into `engine` (or only counts them, without
/// one) with `workers` threads (1: the calling thread). A snapshot's keys are distinct, so the order of inserts
/// does not matter, and sled takes concurrent inserts: one thread spent
/// ~4 µs per key in sled (node copies on split), most of a full sync's
/// time. The first error stops every thread.
fn load_blocks(
    engine: Option<&Engine>,
    blocks: usize,
    workers: usize,
    read: impl Fn(usize) -> Result<Vec<Pair>, Error> + Sync,
) -> Result<(u64, Tally), Error> {
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let work = || -> Result<(u64, Tally), Error> {
        let mut n = 0u64;
        let mut tally = Tally::default();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            if i >= blocks || failed.load(Ordering::Relaxed) {
                return Ok((n, tally));
            }
            let pairs = read(i).inspect_err(|_| failed.store(true, Ordering::Relaxed))?;
            let mut expiries = Vec::new();
            for (k, v) in &pairs {
                if let Some(x) = tally.see(k, v) {
                    expiries.push(x);
                }
                n += 1;
            }
            if let Some(engine) = engine {
                // One sorted batch a block: the block's pairs are in key
                // order, its expiry entries sort after them.
                let ops: Vec<engine::Op> = pairs
                    .iter()
                    .map(|(k, v)| (&k[..], Some(&v[..])))
                    .chain(expiries.iter().map(|x| (&x[..], Some(&b""[..]))))
                    .collect();
                engine
                    .apply(&ops)
                    .inspect_err(|_| failed.store(true, Ordering::Relaxed))?;
            }
        }
    };
    if workers <= 1 {
        return work();
    }
    let results: Vec<Result<(u64, Tally), Error>> = std::thread::scope(|s| {
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
                    .unwrap_or_else(|_| Err(Error::system("a snapshot loading thread panicked"))),
                Err(e) => Err(Error::System(format!(
                    "cannot start a snapshot loading thread: {e}"
                ))),
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
/// and generation, so the counts need no second scan of sled (the scan
/// took about as long as a fifth of the inserts).
#[derive(Default)]
struct Tally {
    /// (keys, keys with a deadline) per (db, gen).
    counts: HashMap<(u8, u32), (i64, i64)>,
    /// Each database's generation key, as loaded.
    gens: HashMap<u8, u32>,
    /// The slot map's entries, as loaded (SWAPDB).
    slots: HashMap<u8, u8>,
}

impl Tally {
    /// Notes a loaded pair; returns the expiry index entry it needs.
    fn see(&mut self, k: &[u8], v: &[u8]) -> Option<Bytes> {
        if let Some(db) = parse_gen_key(k) {
            if let Ok(b) = <[u8; 4]>::try_from(v) {
                self.gens.insert(db, u32::from_be_bytes(b));
            }
            return None;
        }
        if let Some(db) = keys::parse_slot_key(k) {
            if let Some(s) = Store::slot_value(v) {
                self.slots.insert(db, s);
            }
            return None;
        }
        let (db, gen, key) = keys::parse_data_key(k)?;
        let c = self.counts.entry((db, gen)).or_insert((0, 0));
        c.0 += 1;
        let t = Meta::peek_expire(v)?;
        c.1 += 1;
        Some(keys::expiry_key(t, db, gen, key))
    }

    fn merge(&mut self, other: Tally) {
        for (k, (n, e)) in other.counts {
            let c = self.counts.entry(k).or_insert((0, 0));
            c.0 += n;
            c.1 += e;
        }
        self.gens.extend(other.gens);
        self.slots.extend(other.slots);
    }

    /// Sets each database's generation from the loaded pairs (sled was
    /// cleared first) and returns the counts of the current generations
    /// (older ones are garbage the GC will collect).
    fn finish(self, gens: &[AtomicU32; MAX_DBS], slots: &[AtomicU8; MAX_DBS]) -> KeyCounts {
        for (db, s) in slots.iter().enumerate() {
            let v = self.slots.get(&(db as u8)).copied().unwrap_or(db as u8);
            s.store(v, Ordering::Release);
        }
        let mut kc = KeyCounts::default();
        for (db, g) in gens.iter().enumerate() {
            let cur = self.gens.get(&(db as u8)).copied().unwrap_or(0);
            g.store(cur, Ordering::Release);
            let (n, e) = self.counts.get(&(db as u8, cur)).copied().unwrap_or((0, 0));
            kc.keys[db] = n;
            kc.expires[db] = e;
        }
        kc
    }
}
