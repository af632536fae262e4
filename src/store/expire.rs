//! The expiry index: which keys have a deadline, ordered by it, so the active
//! cycle finds due keys without scanning the keyspace. Rebuilt from sled at
//! boot and kept current by every published record.

use bytes::Bytes;
use std::collections::BTreeSet;

#[derive(Default)]
pub struct ExpireIndex {
    set: BTreeSet<(i64, u8, Bytes)>,
    per_db: [usize; super::MAX_DBS],
}

impl ExpireIndex {
    pub fn insert(&mut self, at: i64, db: u8, key: Bytes) {
        if (db as usize) < super::MAX_DBS && self.set.insert((at, db, key)) {
            self.per_db[db as usize] += 1;
        }
    }

    pub fn remove(&mut self, at: i64, db: u8, key: &Bytes) {
        if (db as usize) < super::MAX_DBS && self.set.remove(&(at, db, key.clone())) {
            self.per_db[db as usize] -= 1;
        }
    }

    pub fn remove_db(&mut self, db: u8) {
        self.set.retain(|(_, d, _)| *d != db);
        if (db as usize) < super::MAX_DBS {
            self.per_db[db as usize] = 0;
        }
    }

    pub fn count(&self, db: u8) -> usize {
        self.per_db.get(db as usize).copied().unwrap_or(0)
    }

    /// Up to `limit` keys whose deadline is at or before `now`.
    pub fn due(&self, now: i64, limit: usize) -> Vec<(u8, Bytes)> {
        self.set
            .iter()
            .take_while(|(t, _, _)| *t <= now)
            .take(limit)
            .map(|(_, db, k)| (*db, k.clone()))
            .collect()
    }
}
