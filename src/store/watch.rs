//! WATCH bookkeeping: which clients watch which keys. Every published record
//! marks the watchers of the keys it touched, so EXEC can refuse to run.

use bytes::Bytes;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

/// Watchers' dirty flags per (db, key).
type WatchMap = HashMap<(u8, Bytes), Vec<Arc<AtomicBool>>>;

#[derive(Default)]
pub struct Watches {
    count: AtomicUsize,
    map: Mutex<WatchMap>,
}

impl Watches {
    pub fn watch(&self, db: u8, key: Bytes, flag: &Arc<AtomicBool>) {
        let mut m = self.map.lock();
        let v = m.entry((db, key)).or_default();
        if !v.iter().any(|f| Arc::ptr_eq(f, flag)) {
            v.push(flag.clone());
            self.count.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn unwatch(&self, keys: &[(usize, Bytes)], flag: &Arc<AtomicBool>) {
        let mut m = self.map.lock();
        for (db, key) in keys {
            let k = (*db as u8, key.clone());
            if let Some(v) = m.get_mut(&k) {
                let before = v.len();
                v.retain(|f| !Arc::ptr_eq(f, flag));
                self.count.fetch_sub(before - v.len(), Ordering::Relaxed);
                if v.is_empty() {
                    m.remove(&k);
                }
            }
        }
    }

    pub fn active(&self) -> bool {
        self.count.load(Ordering::Relaxed) > 0
    }

    pub fn touch(&self, db: u8, key: &[u8]) {
        let m = self.map.lock();
        if let Some(v) = m.get(&(db, Bytes::copy_from_slice(key))) {
            for f in v {
                f.store(true, Ordering::Release);
            }
        }
    }

    /// Watched keys of `db` (FLUSHDB touches those that existed).
    pub fn keys_in_db(&self, db: u8) -> Vec<Bytes> {
        self.map
            .lock()
            .keys()
            .filter(|(d, _)| *d == db)
            .map(|(_, k)| k.clone())
            .collect()
    }
}
