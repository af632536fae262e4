use super::*;

/// Writes per engine batch (a table holds up to ~1M).
const APPLY_BATCH: usize = 4096;

impl Store {
    pub(super) fn applier_loop(self: Arc<Self>) {
        // Writes are "paused" while the stream position stands still.
        let mut last_end = u64::MAX;
        let mut quiet_since = Instant::now();
        let table_wal = self.budget().table_wal();
        while !self.closed.load(Ordering::Acquire) {
            {
                let mut g = self.applier_lock.lock();
                // While a full sync's snapshot loads into sled, the write
                // buffer waits (`overlay.rs`); the loader wakes us.
                if self.tables.read().frozen.is_empty() || self.overlay.read().is_some() {
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
                        || t.end.saturating_sub(t.active_start) >= table_wal)
            };
            if due {
                self.freeze(&mut self.tables.write());
            }
            if let Err(e) = self.apply_frozen() {
                tracing::error!("applying the write buffer to sled failed: {e}");
                *self.apply_error.lock() = Some(e.to_string());
                // sled keeps an I/O error forever: reopen it, then apply
                // the table again (the WAL and the buffer still hold it).
                if let Some(io) = self.engine.io_error() {
                    match self.engine.reopen(Duration::from_secs(5)) {
                        Ok(()) => tracing::warn!(
                            "sled reopened after an I/O error ({io}); applying the write buffer again"
                        ),
                        Err(r) => tracing::error!("sled could not be reopened yet: {r}"),
                    }
                }
                std::thread::sleep(Duration::from_secs(1));
            }
        }
    }

    /// Moves every frozen table into sled, oldest first.
    pub(super) fn apply_frozen(&self) -> Result<(), Error> {
        loop {
            let _applying = self.apply_lock.lock();
            if self.overlay.read().is_some() {
                return Ok(());
            }
            let Some(f) = self.tables.read().frozen.first().cloned() else {
                return Ok(());
            };
            // sled must never get ahead of the durable WAL.
            self.wal.sync_all().map_err(Error::wal)?;
            // sled may write any part of the table to disk before the
            // applied offset moves: the mark says which records that part
            // came from, and the counts after them (see `Store::open`).
            if let Some(c) = &f.counts {
                self.engine.meta_insert(APPLYING_KEY, &c.encode(f.end))?;
                self.engine.flush()?;
            }
            // The engine's read cache takes the new pages as it writes
            // them, before the table leaves the buffer.
            self.apply_table(&f)?;
            self.engine.flush()?;
            if let Some(c) = &f.counts {
                self.engine.meta_insert(APPLIED_KEY, &c.encode(f.end))?;
                self.engine.meta_remove(APPLYING_KEY)?;
                self.engine.flush()?;
            }
            self.applied.store(f.end, Ordering::Release);
            *self.apply_error.lock() = None;
            {
                let mut t = self.tables.write();
                if t.frozen.first().is_some_and(|x| Arc::ptr_eq(x, &f)) {
                    t.frozen.remove(0);
                }
                self.note_room(&t);
            }
            self.stall_cv.notify_all();
        }
    }

    /// The table in sorted batches: each page of sled it touches is
    /// rewritten once per batch.
    pub(super) fn apply_table(&self, f: &Frozen) -> Result<(), Error> {
        let mut ops: Vec<engine::Op> = Vec::with_capacity(APPLY_BATCH);
        for (k, v) in f.table.iter() {
            ops.push((k.as_ref(), v.as_deref()));
            if ops.len() == APPLY_BATCH {
                self.engine.apply(&ops)?;
                ops.clear();
            }
        }
        self.engine.apply(&ops)
    }

    /// Applies the whole write buffer to sled and records the applied offset
    /// (SHUTDOWN and snapshot rebuild use it).
    pub fn flush_to_sled(&self) -> Result<(), Error> {
        {
            let _w = self.writer.lock();
            self.freeze(&mut self.tables.write());
        }
        self.apply_frozen()?;
        self.engine.flush()?;
        Ok(())
    }

    pub fn close(&self) -> Result<(), Error> {
        let r = self.wal.close().map_err(Error::wal);
        let r2 = self.flush_to_sled();
        self.closed.store(true, Ordering::Release);
        self.applier_wake.notify_all();
        self.gc_wake.notify_all();
        r.and(r2)
    }
}
