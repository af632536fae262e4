//! WATCH bookkeeping: which clients watch which keys. Every published record
//! marks the watchers of the keys it touched, so EXEC can refuse to run.
//!
//! Expired keys follow Redis 7.0 (multi.c): a key already logically expired
//! when WATCHed is remembered as such, and its deletion (lazy, active,
//! FLUSHDB, a master's DEL) is no change: it only clears that mark. Any
//! other touch, or a watched key expiring after WATCH (checked by EXEC,
//! `expired_since_watch`), makes EXEC fail.

use bytes::Bytes;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

/// One client's watch of one key.
struct Watcher {
    /// The client's dirty flag (shared by all its watches).
    dirty: Arc<AtomicBool>,
    /// The key was logically expired when WATCHed (Redis's `wk->expired`).
    expired: bool,
}

/// Watchers per (db, key).
type WatchMap = HashMap<(u8, Bytes), Vec<Watcher>>;

#[derive(Default)]
pub struct Watches {
    count: AtomicUsize,
    map: Mutex<WatchMap>,
}

impl Watches {
    /// Registers a watch; `expired`: the key is there but logically
    /// expired. Watching a key twice keeps the first registration.
    pub fn watch(&self, db: u8, key: Bytes, flag: &Arc<AtomicBool>, expired: bool) {
        let mut m = self.map.lock();
        let v = m.entry((db, key)).or_default();
        if !v.iter().any(|w| Arc::ptr_eq(&w.dirty, flag)) {
            v.push(Watcher {
                dirty: flag.clone(),
                expired,
            });
            self.count.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn unwatch(&self, keys: &[(usize, Bytes)], flag: &Arc<AtomicBool>) {
        let mut m = self.map.lock();
        for (db, key) in keys {
            let k = (*db as u8, key.clone());
            if let Some(v) = m.get_mut(&k) {
                let before = v.len();
                v.retain(|w| !Arc::ptr_eq(&w.dirty, flag));
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

    /// A key changed. `gone`: it no longer exists after the change, which
    /// is no change for a watch that found it already expired.
    pub fn touch(&self, db: u8, key: &[u8], gone: bool) {
        let mut m = self.map.lock();
        if let Some(v) = m.get_mut(&(db, Bytes::copy_from_slice(key))) {
            for w in v {
                if w.expired && gone {
                    w.expired = false;
                } else {
                    w.dirty.store(true, Ordering::Release);
                }
            }
        }
    }

    /// SWAPDB's touch of a watched key (Redis's `touchAllWatchedKeysInDb`):
    /// `was`: it existed in its database; `now`: whether it exists in the
    /// one swapped in, and if so whether it is logically expired there.
    pub fn touch_swapped(&self, db: u8, key: &[u8], was: bool, now: Option<bool>) {
        let mut m = self.map.lock();
        if let Some(v) = m.get_mut(&(db, Bytes::copy_from_slice(key))) {
            for w in v {
                if w.expired {
                    match now {
                        None => {
                            w.expired = false;
                            continue;
                        }
                        Some(true) => continue,
                        Some(false) => {}
                    }
                } else if !was && now == Some(true) {
                    w.expired = true;
                    continue;
                }
                w.dirty.store(true, Ordering::Release);
            }
        }
    }

    /// Whether `flag`'s watch of the key found it already expired (and no
    /// deletion has cleared that since).
    pub fn expired_at_watch(&self, db: u8, key: &[u8], flag: &Arc<AtomicBool>) -> bool {
        let m = self.map.lock();
        m.get(&(db, Bytes::copy_from_slice(key)))
            .and_then(|v| v.iter().find(|w| Arc::ptr_eq(&w.dirty, flag)))
            .is_some_and(|w| w.expired)
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
