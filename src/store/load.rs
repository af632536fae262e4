use super::*;

impl Store {
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
            self.engine.clear()?;
        }
        let (n, tally) = if raw_bytes <= BUFFERED_LOAD_MIN {
            let r = load_blocks(&self.engine, blocks, load_workers(), read)?;
            self.engine.flush()?;
            // sled changed under reads made since the clear above.
            self.cache.clear();
            r
        } else {
            self.load_into_buffer(start, blocks, read)?
        };
        self.wal.reset(start).map_err(|e| e.to_string())?;
        // Generations and counts from what was loaded.
        let kc = tally.finish(&self.gens);
        for db in 0..MAX_DBS {
            self.counts[db].store(kc.keys[db], Ordering::Relaxed);
            self.expire_counts[db].store(kc.expires[db], Ordering::Relaxed);
        }
        self.engine.meta_insert(APPLIED_KEY, &kc.encode(start))?;
        self.engine.flush()?;
        self.applied.store(start, Ordering::Release);
        if self.load_tail.lock().is_none() {
            self.engine.meta_remove(LOADING_KEY)?;
            self.engine.flush()?;
        }
        self.dirty.store(0, Ordering::Relaxed);
        *self.gc_lock.lock() = true;
        self.gc_wake.notify_one();
        Ok(n)
    }

    /// The buffered load: tables of `Budget::table_bytes`, frozen as they fill,
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
        let budget = self.budget();
        // The pairs come in key order: each table is built at once. Its
        // expiry index entries sort after every pair (`x` is the last
        // family), so they follow them, sorted.
        let mut table: Vec<(Bytes, Option<Bytes>)> = Vec::new();
        let mut xs: Vec<Bytes> = Vec::new();
        let mut bytes = 0usize;
        let mut hold = Some(self.apply_lock.lock());
        std::thread::scope(|s| -> Result<(), String> {
            let (tx, rx) = std::sync::mpsc::sync_channel::<Result<Vec<Pair>, String>>(
                budget.load_ahead_blocks(),
            );
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
                    if let Some(x) = tally.see(&k, &v) {
                        bytes += x.len() + memtable::ENTRY_OVERHEAD;
                        xs.push(x);
                    }
                    bytes += k.len() + v.len() + memtable::ENTRY_OVERHEAD;
                    table.push((Bytes::from(k), Some(Bytes::from(v))));
                    n += 1;
                }
                let last = i + 1 == blocks;
                if (bytes >= budget.table_bytes || last) && !table.is_empty() {
                    if self.tables.read().frozen.len() >= budget::MAX_FROZEN {
                        drop(hold.take());
                        self.wait_for_room();
                        hold = Some(self.apply_lock.lock());
                    }
                    xs.sort_unstable();
                    table.extend(xs.drain(..).map(|x| (x, Some(Bytes::new()))));
                    let f = Arc::new(Frozen {
                        table: memtable::Table::from_sorted(std::mem::take(&mut table)),
                        end: start,
                        counts: None,
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
        self.engine.meta_get(key).ok().flatten().map(|v| v.to_vec())
    }

    pub fn meta_put(&self, key: &[u8], value: &[u8]) -> Result<(), String> {
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
    read: impl Fn(usize) -> Result<Vec<Pair>, String> + Sync,
) -> Result<u64, String> {
    let sled_path = dir.join("sled");
    if sled_path.exists() {
        let aside = dir.join(format!("sled.damaged-{}", crate::util::now_ms()));
        std::fs::rename(&sled_path, &aside)
            .map_err(|e| format!("cannot move {} aside: {e}", sled_path.display()))?;
        tracing::warn!("moved the old sled files to {}", aside.display());
    }
    let engine = Engine::open(&sled_path, 64 << 20)?;
    let (n, tally) = load_blocks(&engine, blocks, load_workers(), read)?;
    let kc = tally.finish(&Default::default());
    engine.meta_insert(APPLIED_KEY, &kc.encode(start_offset))?;
    engine.flush()?;
    drop(engine);
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

/// One loading thread per core, at most 4.
pub(super) fn load_workers() -> usize {
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
    engine: &Engine,
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
                if let Some(x) = tally.see(&k, &v) {
                    engine
                        .insert(&x, b"")
                        .inspect_err(|_| failed.store(true, Ordering::Relaxed))?;
                }
                engine
                    .insert(&k, &v)
                    .inspect_err(|_| failed.store(true, Ordering::Relaxed))?;
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
/// and generation, so the counts need no second scan of sled (the scan
/// took about as long as a fifth of the inserts).
#[derive(Default)]
struct Tally {
    /// (keys, keys with a deadline) per (db, gen).
    counts: HashMap<(u8, u32), (i64, i64)>,
    /// Each database's generation key, as loaded.
    gens: HashMap<u8, u32>,
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
    }

    /// Sets each database's generation from the loaded pairs (sled was
    /// cleared first) and returns the counts of the current generations
    /// (older ones are garbage the GC will collect).
    fn finish(self, gens: &[AtomicU32; MAX_DBS]) -> KeyCounts {
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
