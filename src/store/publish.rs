use super::*;

impl Store {
    /// Starts a write transaction: holds the writer lock until dropped.
    pub fn write(self: &Arc<Self>, now: i64) -> WriteTx {
        WriteTx {
            store: self.clone(),
            _guard: self.writer.lock_arc(),
            batch: Batch::default(),
            now,
            deleted_expired: 0,
            quiet_new: false,
            stage: Default::default(),
            origin: 0,
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
                    if let Some(db) = keys::parse_slot_key(key) {
                        if let (true, Some(s)) = ((db as usize) < MAX_DBS, Store::slot_value(value))
                        {
                            b.new_slots[db as usize] = Some(s);
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
                Effect::Event { .. } | Effect::EventAt { .. } | Effect::Message { .. } => {}
            }
        }
        b.effects = r.effects.clone();
        b.replicated = true;
        self.publish(b, end);
    }

    pub(super) fn touch(&self, b: &mut Batch, key: &Bytes) {
        if b.before.contains_key(key) || parse_data_key(key).is_none() {
            return;
        }
        let v = match b.overlay.get(key) {
            Some(v) => v.clone(),
            None => self.raw_get(key),
        };
        b.before.insert(key.clone(), Before::of(v.as_ref()));
    }

    /// Makes a batch's effects visible together and corrects the counts
    /// from the before and after states of the keys it writes.
    pub(super) fn publish(&self, b: Batch, end: u64) {
        self.wait_for_room();
        // FLUSHDB/FLUSHALL touch the watched keys that existed (as Redis's
        // touchAllWatchedKeysInDb), checked in the old generation.
        if self.watches.active() {
            for (slot, g) in b.new_gens.iter().enumerate() {
                if g.is_none() {
                    continue;
                }
                let old = self.gen(slot);
                let db = self.db_of(slot) as u8;
                for k in self.watches.keys_in_db(db) {
                    if self.raw_get(&data_key(slot as u8, old, &k)).is_some() {
                        self.watches.touch(db, &k, true);
                    }
                }
            }
        }
        let swapped = b.new_slots.iter().any(Option::is_some);
        if swapped {
            self.note_swap(&b.new_slots);
        }
        let map_before: [usize; MAX_DBS] = std::array::from_fn(|d| self.slot(d));
        let gen_of = |db: usize| b.new_gens[db].unwrap_or_else(|| self.gen(db));
        let mut key_delta = [0i64; MAX_DBS];
        let mut exp_delta = [0i64; MAX_DBS];
        // A flushed db, or collection versions left for the GC.
        let garbage = b
            .overlay
            .iter()
            .filter(|(k, v)| k.first() == Some(&keys::GARBAGE) && v.is_some())
            .count();
        if garbage > 0 {
            self.garbage_pending
                .fetch_add(garbage as i64, Ordering::Relaxed);
        }
        let gc = garbage > 0 || b.new_gens.iter().any(Option::is_some);
        for (k, before) in &b.before {
            let Some((db, gen, _)) = parse_data_key(k) else {
                continue;
            };
            if (db as usize) >= MAX_DBS || gen != gen_of(db as usize) {
                continue;
            }
            let Some(after) = b.overlay.get(k) else {
                continue;
            };
            key_delta[db as usize] += after.is_some() as i64 - before.present as i64;
            let new_exp = after.as_deref().and_then(Meta::peek_expire);
            if before.expire != new_exp {
                exp_delta[db as usize] += new_exp.is_some() as i64 - before.expire.is_some() as i64;
            }
        }
        {
            let mut t = self.tables.write();
            for (k, v) in b.overlay.iter() {
                t.insert(k.clone(), v.clone());
            }
            t.end = t.end.max(end);
            // Counts change only under this lock (see `KeyCounts`).
            for (db, s) in b.new_slots.iter().enumerate() {
                if let Some(s) = s {
                    self.slots[db].store(*s, Ordering::Release);
                }
            }
            for (db, g) in b.new_gens.iter().enumerate() {
                if let Some(g) = g {
                    self.gens[db].store(*g, Ordering::Release);
                    self.counts[db].store(0, Ordering::Relaxed);
                    self.expire_counts[db].store(0, Ordering::Relaxed);
                }
            }
            for db in 0..MAX_DBS {
                if key_delta[db] != 0 {
                    self.counts[db].fetch_add(key_delta[db], Ordering::Relaxed);
                }
                if exp_delta[db] != 0 {
                    self.expire_counts[db].fetch_add(exp_delta[db], Ordering::Relaxed);
                }
            }
            if t.active_bytes >= self.table_bytes.load(Ordering::Relaxed) && self.freeze(&mut t) {
                self.applier_wake.notify_one();
            }
        }
        // Watches and blocked clients are per logical database.
        if self.watches.active() {
            if swapped {
                self.touch_in_order(&b.effects, map_before);
            } else {
                for (k, v) in b.overlay.iter() {
                    if unwatched(&b, k, v) {
                        continue;
                    }
                    if let Some((slot, _, ukey)) = parse_data_key(k) {
                        self.watches
                            .touch(self.db_of(slot as usize) as u8, ukey, v.is_none());
                    }
                }
            }
        }
        if let Some(sink) = self.changes.wanted() {
            self.report_changes(&b, sink);
        }
        if self.ready.active() {
            for (k, v) in b.overlay.iter() {
                if unwatched(&b, k, v) {
                    continue;
                }
                if let (Some((slot, _, ukey)), Some(_)) = (parse_data_key(k), v) {
                    self.ready.touch(self.db_of(slot as usize) as u8, ukey);
                }
            }
        }
        if b.overlay.keys().any(|k| k.first() == Some(&keys::FUNCTION)) {
            self.functions_changed();
        }
        if swapped {
            self.wake_swapped(&b.new_slots);
        }
        if self.notify.enabled() {
            // A replica publishes what a Redis replica would: the events of
            // the commands a Redis master propagates (`notify::as_replicated`),
            // and none for a record that changed nothing (Redis propagates
            // only a command that did).
            let replica = b.replicated && self.is_follower();
            if !(replica && b.effects.iter().all(Effect::is_event)) {
                for e in b.effects.iter().filter(|e| e.is_event()) {
                    if let Some((ev, mut db, key)) = crate::notify::target(&b.effects, e) {
                        // An event that names an effect's key has its
                        // physical slot: published under the logical db.
                        if matches!(e, Effect::EventAt { .. }) {
                            db = self.db_of(db as usize) as u8;
                        }
                        let ev = if replica {
                            crate::notify::as_replicated(ev)
                        } else {
                            Some(ev)
                        };
                        if let Some(ev) = ev {
                            self.notify.event(ev, db, key);
                        }
                    }
                }
            }
        }
        // A message changes nothing to save (Redis's PUBLISH is not dirty).
        let changes = b.effects.iter().filter(|e| !e.is_message()).count();
        self.dirty.fetch_add(changes as u64, Ordering::Relaxed);
        if gc {
            *self.gc_lock.lock() = true;
            self.gc_wake.notify_one();
        }
    }

    /// Client-side caching: a flush, then the keys whose metadata the
    /// record wrote, in the order written. SWAPDB changes no key (Redis 7.0
    /// invalidates nothing for it).
    fn report_changes(&self, b: &Batch, sink: &changes::Sink) {
        if b.new_gens.iter().any(Option::is_some) {
            sink(changes::Changed::Flushed);
        }
        let mut keys: Vec<&[u8]> = Vec::new();
        // Each key once: a scan for the few keys of most records, a set
        // for big ones.
        let mut seen: Option<std::collections::HashSet<&[u8]>> = None;
        for e in &b.effects {
            if let Effect::Put { key, .. } | Effect::Del { key } = e {
                if let Some((_, _, k)) = parse_data_key(key) {
                    let new = match seen.as_mut() {
                        Some(s) => s.insert(k),
                        None => !keys.contains(&k),
                    };
                    if new {
                        keys.push(k);
                        if keys.len() == 16 {
                            seen = Some(keys.iter().copied().collect());
                        }
                    }
                }
            }
        }
        if !keys.is_empty() {
            sink(changes::Changed::Keys(&keys, b.origin));
        }
    }

    pub(super) fn wait_for_room(&self) {
        let mut stalled = false;
        while self.tables.read().frozen.len() >= budget::MAX_FROZEN {
            if !stalled {
                stalled = true;
                self.stats.write_stalls.fetch_add(1, Ordering::Relaxed);
                tracing::debug!("write stall: sled is behind the write buffer");
            }
            let mut g = self.stall_lock.lock();
            self.stall_cv.wait_for(&mut g, Duration::from_millis(10));
        }
    }

    /// A record from the master's stream: appended to our WAL at the same
    /// offset (the raw frame, verbatim) and published, under the writer lock
    /// so WAL order stays apply order.
    pub fn apply_replicated(&self, frame: &[u8], rec: &Record) -> Result<u64, Error> {
        let _w = self.writer.lock();
        let here = self.wal.end_offset();
        if rec.offset != here {
            return Err(Error::Wal(format!(
                "replicated record at offset {} but our log ends at {here}",
                rec.offset
            )));
        }
        let end = self.wal.append_raw(frame);
        // The master's writes are accesses here too, as on a Redis replica
        // that runs them.
        let now = crate::util::now_ms();
        for e in &rec.effects {
            if let Effect::Put { key, .. } | Effect::Del { key } = e {
                if let Some((slot, _, k)) = parse_data_key(key) {
                    self.access.touch(slot as usize, k, now);
                }
            }
        }
        self.apply_record(rec, end);
        for e in &rec.effects {
            if let Effect::Message {
                shard,
                channel,
                message,
            } = e
            {
                self.notify.message(*shard, channel, message);
            }
        }
        Ok(end)
    }
}

/// Whether the batch's last write of `k` is an unwatched one (see
/// `Batch::unwatched`).
fn unwatched(b: &Batch, k: &Bytes, v: &Option<Bytes>) -> bool {
    match (b.unwatched.get(k), v) {
        (Some(q), Some(v)) => q == v,
        _ => false,
    }
}
