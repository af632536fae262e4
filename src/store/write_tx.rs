use super::*;
use crate::notify::Ev;

/// A write in progress. Reads see the transaction's own writes; `commit`
/// logs one record and publishes everything at once.
pub struct WriteTx {
    pub(super) store: Arc<Store>,
    pub(super) _guard: ArcMutexGuard<RawMutex, ()>,
    pub(super) batch: Batch,
    pub(super) now: i64,
    pub deleted_expired: usize,
    /// Set by a command that sends `new` itself, where Redis's order
    /// differs from its writes' (SMOVE, the *STORE commands).
    pub quiet_new: bool,
    /// New versions' elements that may go ahead of the record (`stage.rs`).
    pub(super) stage: super::stage::Stage,
    /// The client whose command is written (0: none), for NOLOOP tracking.
    pub origin: u64,
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

    /// The generation of physical slot `slot`, as this transaction left it.
    pub(super) fn gen(&self, slot: usize) -> u32 {
        self.batch.new_gens[slot].unwrap_or_else(|| self.store.gen(slot))
    }

    /// Whether this record already wrote `key` of `db`, or flushed a
    /// database: client-side caching remembers a read of it only after the
    /// commit, so that the commit's invalidation comes first, as the
    /// write's did in Redis.
    pub fn wrote(&self, db: usize, key: &[u8]) -> bool {
        self.batch.new_gens.iter().any(Option::is_some)
            || self.batch.overlay.contains_key(&self.key(db, key))
    }

    /// The stored key of `key` in logical database `db`.
    pub(super) fn key(&self, db: usize, key: &[u8]) -> Bytes {
        let s = self.slot(db);
        data_key(s as u8, self.gen(s), key)
    }

    pub(super) fn lookup(&mut self, k: &Bytes) -> Option<Bytes> {
        if let Some(v) = self.batch.overlay.get(k) {
            return v.clone();
        }
        let v = self.store.raw_get(k);
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
            if self.store.is_follower() {
                // Replicas never delete by themselves: the master will.
                return None;
            }
            self.batch.effects.push(Effect::Del { key: k.clone() });
            self.batch.overlay.insert(k, None);
            self.deleted_expired += 1;
            self.notify(db, Ev::Expired, key);
            return None;
        }
        Some(m)
    }

    /// Writes a key's metadata; a key that was not there is a `new` event
    /// (Redis's `dbAdd`).
    pub fn put(&mut self, db: usize, key: &[u8], meta: &Meta) {
        let k = self.key(db, key);
        let old = match self.batch.overlay.get(&k) {
            Some(v) => v.clone(),
            None => self.lookup(&k),
        };
        let now = self.now;
        let existed = old.is_some_and(|v| Meta::peek_expire(&v).is_none_or(|t| t > now));
        let v = meta.encode();
        self.batch.effects.push(Effect::Put {
            key: k.clone(),
            value: v.clone(),
        });
        self.batch.overlay.insert(k, Some(v));
        if !existed && !self.quiet_new {
            self.notify(db, Ev::New, key);
        }
    }

    /// [`WriteTx::put`] of metadata whose change no client can see (the
    /// encoding flags Redis changes on a read: SORT of a sorted set):
    /// logged and replicated like any write, but it touches no watcher
    /// and wakes no blocked client, as Redis's in-place conversion does
    /// not.
    pub fn put_unwatched(&mut self, db: usize, key: &[u8], meta: &Meta) {
        let k = self.key(db, key);
        // A key the batch already changed visibly stays touched.
        let seen = self.batch.overlay.contains_key(&k);
        self.put(db, key, meta);
        if seen {
            return;
        }
        if let Some(Some(v)) = self.batch.overlay.get(&k) {
            let v = v.clone();
            self.batch.unwatched.insert(k, v);
        }
    }

    /// Logs keyspace event `ev` on `key` of `db` in this record, for every
    /// node that applies it to publish (`notify.rs`). The key is named by a
    /// recent effect on its metadata when there is one (`EffectAt`).
    pub(crate) fn notify(&mut self, db: usize, ev: Ev, key: &[u8]) {
        // The stored key names its physical slot (SWAPDB), not `db`.
        let stored = self.key(db, key);
        let at = self
            .batch
            .effects
            .iter()
            .enumerate()
            .rev()
            .take(64)
            .find_map(|(i, e)| match e {
                Effect::Put { key: k, .. } | Effect::Del { key: k } => (*k == stored).then_some(i),
                _ => None,
            });
        let event = ev as u8;
        self.batch
            .effects
            .push(match at.and_then(|i| u32::try_from(i).ok()) {
                Some(at) => Effect::EventAt { event, at },
                None => Effect::Event {
                    db: db as u8,
                    event,
                    key: Bytes::copy_from_slice(key),
                },
            });
    }

    /// Logs a PUBLISH (SPUBLISH: `shard`) in this record, for replicas to
    /// deliver (`Effect::Message`).
    pub fn message(&mut self, shard: bool, channel: &Bytes, message: &Bytes) {
        self.batch.effects.push(Effect::Message {
            shard,
            channel: channel.clone(),
            message: message.clone(),
        });
    }

    /// Whether the record so far holds only messages, which need not be
    /// durable before the reply: Redis keeps PUBLISH out of its AOF.
    pub fn only_messages(&self) -> bool {
        self.batch.effects.iter().all(Effect::is_message)
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
        let s = self.slot(db);
        keys::sub_prefix(s as u8, self.gen(s), key, version)
    }

    /// A version for a new collection: unique among every version this
    /// node or its masters made, because it follows the WAL end offset.
    pub fn new_version(&mut self) -> u64 {
        let floor = self.store.wal.end_offset() + 1;
        let prev = self.store.versions.load(Ordering::Relaxed);
        let v = floor.max(prev + 1);
        self.store.versions.store(v, Ordering::Relaxed);
        self.stage.fresh.push(v);
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
        if !m.has_elements() {
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
        self.store.raw_get(k)
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
        let n = k.len() + v.len();
        self.batch.effects.push(Effect::Put {
            key: k.clone(),
            value: v.clone(),
        });
        let fresh = self.stage.is_fresh(&k);
        self.batch.overlay.insert(k, Some(v));
        if fresh {
            self.note_staged(n);
        }
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

    pub(super) fn sub_window(
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
        let s = self.slot(db);
        let gen = self.gen(s).wrapping_add(1).max(1);
        self.batch.new_gens[s] = Some(gen);
        self.batch
            .effects
            .push(Effect::ClearDb { db: s as u8, gen });
        self.batch.overlay.insert(
            gen_key(s as u8),
            Some(Bytes::copy_from_slice(&gen.to_be_bytes())),
        );
    }

    /// Removes an expiry index entry (a stale one, or one whose key the
    /// active cycle deletes).
    pub(super) fn index_del(&mut self, k: Bytes) {
        self.sub_del(k);
    }

    /// The expiry index entries and garbage entries this batch's metadata
    /// changes call for, added as effects: the record carries them, so
    /// replaying it (after a crash, or on a replica) needs no knowledge of
    /// what came before.
    fn index_effects(&mut self) {
        let b = &mut self.batch;
        let mut add: Vec<(Bytes, Option<Bytes>)> = Vec::new();
        for (k, before) in &b.before {
            let Some((db, gen, ukey)) = parse_data_key(k) else {
                continue;
            };
            let db_i = db as usize;
            if db_i >= MAX_DBS || gen != b.new_gens[db_i].unwrap_or_else(|| self.store.gen(db_i)) {
                continue;
            }
            let Some(after) = b.overlay.get(k) else {
                continue;
            };
            if let Some(old) = before.version {
                if after.as_deref().and_then(Meta::peek_coll_version) != Some(old) {
                    let prefix = keys::sub_prefix(db, gen, ukey, old);
                    add.push((keys::garbage_key(&prefix), Some(Bytes::new())));
                }
            }
            let new_exp = after.as_deref().and_then(Meta::peek_expire);
            if before.expire == new_exp {
                continue;
            }
            if let Some(t) = before.expire {
                add.push((keys::expiry_key(t, db, gen, ukey), None));
            }
            if let Some(t) = new_exp {
                add.push((keys::expiry_key(t, db, gen, ukey), Some(Bytes::new())));
            }
        }
        for (k, v) in add {
            match &v {
                Some(v) => b.effects.push(Effect::Put {
                    key: k.clone(),
                    value: v.clone(),
                }),
                None => b.effects.push(Effect::Del { key: k.clone() }),
            }
            b.overlay.insert(k, v);
        }
    }

    /// How many effects are stated so far (a command compares before and
    /// after to know whether it wrote).
    pub fn effect_count(&self) -> usize {
        self.batch.effects.len()
    }

    pub fn has_effects(&self) -> bool {
        !self.batch.effects.is_empty()
    }

    /// Logs and publishes what was stated so far as one record, keeping the
    /// writer lock (a pipeline's commands share one lock acquisition).
    /// Returns the record's end offset (None if nothing changed). A record
    /// the WAL refuses is dropped: never visible, never replicated.
    pub fn commit_record(&mut self) -> Result<Option<u64>, AppendError> {
        self.deleted_expired = 0;
        self.finish_stages();
        if self.batch.effects.is_empty() {
            self.batch = Batch::default();
            return Ok(None);
        }
        self.index_effects();
        let mut batch = std::mem::take(&mut self.batch);
        batch.origin = self.origin;
        if self.store.is_follower() {
            // A writable replica's own writes (`replica-read-only no`) stay
            // local, as in Redis: they take no offset in the master's
            // stream, reach sled with the next applied table, and a full
            // sync replaces them.
            let end = self.store.wal.end_offset();
            self.store.publish(batch, end);
            return Ok(None);
        }
        let (_, end) = match self.store.wal.append(&batch.effects) {
            Ok(r) => r,
            Err(e) => {
                self.abandon_stages();
                return Err(e);
            }
        };
        self.store.publish(batch, end);
        Ok(Some(end))
    }

    /// Drops what the current command wrote: it met a storage read error
    /// (`take_read_error`), so its effects may rest on a wrong read.
    pub fn discard_record(&mut self) {
        self.deleted_expired = 0;
        self.batch = Batch::default();
        self.abandon_stages();
    }

    /// Logs and publishes, then releases the writer lock.
    pub fn commit(mut self) -> Result<Option<u64>, AppendError> {
        self.commit_record()
    }
}
