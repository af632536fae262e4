use super::*;

/// Removals per engine batch.
const GC_BATCH: usize = 1024;

impl Store {
    /// Removes from sled every collection element whose key's metadata is
    /// gone or has another version. O(elements), in the background.
    pub(super) fn sweep_orphans(&self) {
        let mut n = 0u64;
        let mut dead = Vec::new();
        for db in 0..MAX_DBS {
            let mut prefix = db_prefix(db as u8, self.gen(db));
            prefix[0] = keys::SUB;
            // (group prefix, live) of the last element's key version.
            let mut last: Option<(Vec<u8>, bool)> = None;
            for item in self.engine.scan_prefix(&prefix) {
                let Ok((k, _)) = item else { break };
                let Some(sk) = keys::parse_sub_key(&k) else {
                    continue;
                };
                let group = &k[..k.len() - sk.field.len()];
                let live = match &last {
                    Some((g, live)) if g.as_slice() == group => *live,
                    _ => {
                        let meta = self.raw_get(&data_key(db as u8, sk.gen, sk.key));
                        let live = meta.as_deref().and_then(Meta::peek_coll_version)
                            == Some(sk.version)
                            || self.is_staged(group);
                        last = Some((group.to_vec(), live));
                        live
                    }
                };
                if !live {
                    dead.push(k.clone());
                    n += 1;
                    if dead.len() == GC_BATCH {
                        let _ = self.remove_batch(&dead);
                        dead.clear();
                    }
                }
                if self.closed.load(Ordering::Acquire) {
                    return;
                }
            }
            let _ = self.remove_batch(&dead);
            dead.clear();
        }
        if n > 0 {
            self.stats.gc_keys.fetch_add(n, Ordering::Relaxed);
            tracing::info!("reclaimed {n} elements of deleted collections left by an earlier run");
        }
    }

    /// Removes every key `keys` yields from sled; None if the node closed
    /// meanwhile.
    fn remove_each(&self, keys: impl Iterator<Item = Result<engine::Pair, Error>>) -> Option<u64> {
        let mut n = 0;
        let mut batch = Vec::with_capacity(GC_BATCH);
        let mut keys = keys.map_while(|r| r.ok().map(|(k, _)| k)).peekable();
        while keys.peek().is_some() {
            batch.clear();
            batch.extend(keys.by_ref().take(GC_BATCH));
            n += batch.len() as u64;
            let _ = self.remove_batch(&batch);
            if self.closed.load(Ordering::Acquire) {
                return None;
            }
        }
        Some(n)
    }

    fn remove_batch(&self, keys: &[engine::Slice]) -> Result<(), Error> {
        let ops: Vec<engine::Op> = keys.iter().map(|k| (&k[..], None)).collect();
        self.engine.apply(&ops)
    }

    /// Collection versions waiting to be reclaimed.
    pub fn gc_pending(&self) -> usize {
        self.garbage_pending.load(Ordering::Relaxed).max(0) as usize
    }

    pub(super) fn gc_loop(self: Arc<Self>) {
        while !self.closed.load(Ordering::Acquire) {
            {
                let mut pending = self.gc_lock.lock();
                if !*pending {
                    self.gc_wake.wait_for(&mut pending, Duration::from_secs(1));
                }
                // A full sync still loading into sled (`overlay.rs`): its
                // loader asks again once it is done.
                if !*pending || self.overlay.read().is_some() {
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
            // Elements of collection versions that lost their metadata:
            // the garbage entries sled holds (all of them published before
            // `target`, and any a crash left).
            // Counted with a key-only scan, then taken a chunk at a time:
            // deleting many small collections leaves many entries, which
            // must not all be held in memory at once.
            let total = self.engine.scan_prefix(&[keys::GARBAGE]).count();
            self.garbage_pending.store(total as i64, Ordering::Relaxed);
            let mut reclaimed = 0u64;
            'garbage: loop {
                let entries: Vec<engine::Slice> = self
                    .engine
                    .scan_prefix(&[keys::GARBAGE])
                    .take(256)
                    .map_while(|r| r.ok().map(|(k, _)| k))
                    .collect();
                if entries.is_empty() {
                    break;
                }
                for g in entries {
                    let Some(n) = self.remove_each(self.engine.scan_prefix(&g[1..])) else {
                        return;
                    };
                    reclaimed += n;
                    // The elements are gone (durable with the next flush);
                    // if a crash comes first, the entry is still there and
                    // the next run finds nothing left to remove.
                    if let Err(e) = self.engine.remove(&g) {
                        // Retried on the next wake rather than spun on.
                        tracing::warn!("GC: cannot remove a garbage entry: {e}");
                        break 'garbage;
                    }
                    self.garbage_pending.fetch_sub(1, Ordering::Relaxed);
                }
            }
            if reclaimed > 0 {
                self.stats.gc_keys.fetch_add(reclaimed, Ordering::Relaxed);
                tracing::debug!("reclaimed {reclaimed} elements of deleted collections");
            }
            // Keys of flushed generations: the keys of `db` below its
            // current generation form one range per family, so a database
            // that was never flushed costs one empty read, not a scan.
            for db in 0..MAX_DBS {
                let gen = self.gen(db);
                if gen == 0 {
                    continue;
                }
                let mut n = 0u64;
                for family in [keys::DATA, keys::SUB] {
                    let lo = [family, db as u8];
                    let mut hi = keys::db_prefix(db as u8, gen);
                    hi[0] = family;
                    let keys = self
                        .engine
                        .range(Bound::Included(&lo), Bound::Excluded(&hi));
                    let Some(removed) = self.remove_each(keys) else {
                        return;
                    };
                    n += removed;
                }
                if n > 0 {
                    self.stats.gc_keys.fetch_add(n, Ordering::Relaxed);
                    tracing::info!("reclaimed {n} keys of flushed db {db}");
                }
            }
        }
    }
}
