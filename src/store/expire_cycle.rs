use super::*;

impl Store {
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
}
