//! Expiry: the index of deadlines lives in the keyspace itself (`x` keys,
//! see `keys.rs`), written by the same records as the metadata it follows,
//! so it costs no memory and nothing is rebuilt at startup. The active cycle reads the due
//! part of it, an ordered range, and deletes those keys.

use super::*;

impl Store {
    /// Keys with a deadline in `db` (INFO keyspace `expires=`).
    pub fn expires_count(&self, db: usize) -> usize {
        self.expire_counts[self.slot(db)]
            .load(Ordering::Relaxed)
            .max(0) as usize
    }

    /// One round of active expiry (master only): deletes up to `limit` keys
    /// whose deadline passed, each deletion a WAL record. Returns the end
    /// offset of the record written, if any.
    pub fn expire_cycle(self: &Arc<Self>, now: i64, limit: usize) -> Option<u64> {
        if self.is_follower() {
            return None;
        }
        let (start, end) = keys::expiry_due_range(now);
        let due = if self.active_expire.load(Ordering::Relaxed) {
            self.raw_range(&start, false, &end, limit).0
        } else {
            Vec::new()
        };
        let seen = std::mem::take(&mut *self.expired_seen.lock());
        if due.is_empty() && seen.is_empty() {
            return None;
        }
        let mut tx = self.write(now);
        for (k, _) in due {
            if let Some((_, db, gen, key)) = keys::parse_expiry_key(&k) {
                if (db as usize) < self.databases && gen == tx.gen(db as usize) {
                    // `get` deletes what it finds expired, in this record.
                    let _ = tx.get(self.db_of(db as usize), key);
                }
            }
            // The entry goes in any case: with its key, or as a stale one
            // (a flushed generation's, or one whose key is gone or lives on
            // with another deadline, which has its own entry).
            tx.index_del(k);
        }
        for (db, key) in seen {
            if (db as usize) < self.databases {
                let _ = tx.get(db as usize, &key);
            }
        }
        self.stats
            .expired_keys
            .fetch_add(tx.deleted_expired as u64, Ordering::Relaxed);
        match tx.commit() {
            Ok(end) => end,
            Err(e) => {
                tracing::error!("the expiry cycle's deletions were dropped: {e}");
                None
            }
        }
    }
}
