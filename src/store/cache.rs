//! A read cache in front of sled: sled 0.34 spends several microseconds on a
//! point read, so hot keys that left the write buffer are kept here.
//!
//! Correctness rests on two rules. Readers look in the write buffer first,
//! so the cache is only asked for keys with no pending change. The applier
//! puts a table's entries in the cache after writing them to sled and before
//! dropping the table from the buffer; and a reader only caches what it read from sled
//! if no invalidation happened since it started (the epoch), so a read racing
//! an apply can never leave an old value behind.
//!
//! Eviction is two generations: inserts go to `hot`; when it is full it
//! becomes `cold` (the old `cold` is dropped); a hit in `cold` moves back.

use ahash::AHashMap;
use bytes::Bytes;
use parking_lot::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

type Entry = Option<Bytes>;

pub struct ReadCache {
    inner: Mutex<Inner>,
    epoch: AtomicU64,
    limit: AtomicUsize,
}

#[derive(Default)]
struct Inner {
    hot: AHashMap<Bytes, Entry>,
    cold: AHashMap<Bytes, Entry>,
    hot_bytes: usize,
}

/// What an entry really costs (measured with heaptrack): the hash slot
/// (~72 B at the map's load factor) plus the key's and value's allocations'
/// rounding and the shared headers `Bytes` gives them (~96 B).
fn cost(k: &Bytes, v: &Entry) -> usize {
    k.len() + v.as_ref().map_or(0, |v| v.len()) + 168
}

impl ReadCache {
    /// `limit` bounds the bytes held (both generations together).
    pub fn new(limit: usize) -> Self {
        ReadCache {
            inner: Mutex::new(Inner::default()),
            epoch: AtomicU64::new(0),
            limit: AtomicUsize::new(limit),
        }
    }

    fn limit(&self) -> usize {
        self.limit.load(Ordering::Relaxed)
    }

    /// A new bound (CONFIG SET maxmemory); the cache shrinks as it turns over.
    pub fn set_limit(&self, limit: usize) {
        self.limit.store(limit, Ordering::Relaxed);
    }

    /// Read before looking at the write buffer; pass to `insert`.
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// `Some(None)`: sled is known not to have the key.
    pub fn get(&self, key: &[u8]) -> Option<Entry> {
        let mut g = self.inner.lock();
        if let Some(v) = g.hot.get(key) {
            return Some(v.clone());
        }
        let (k, v) = g.cold.remove_entry(key)?;
        let out = v.clone();
        g.insert_hot(k, v, self.limit());
        Some(out)
    }

    pub fn insert(&self, key: &[u8], value: Entry, epoch: u64) {
        if self.limit() == 0 {
            return;
        }
        let mut g = self.inner.lock();
        if self.epoch.load(Ordering::Acquire) != epoch {
            return;
        }
        g.insert_hot(Bytes::copy_from_slice(key), value, self.limit());
    }

    /// Takes in what was just written to sled (write-through: the values
    /// are shared `Bytes`, nothing is copied), replacing older entries.
    pub fn applied<'a>(&self, entries: impl Iterator<Item = (&'a Bytes, &'a Entry)>) {
        let mut g = self.inner.lock();
        self.epoch.fetch_add(1, Ordering::AcqRel);
        for (k, v) in entries {
            g.cold.remove(k);
            let limit = self.limit();
            if limit > 0 {
                g.insert_hot(k.clone(), v.clone(), limit);
            }
        }
    }

    pub fn clear(&self) {
        let mut g = self.inner.lock();
        self.epoch.fetch_add(1, Ordering::AcqRel);
        *g = Inner::default();
    }

    pub fn bytes(&self) -> usize {
        let g = self.inner.lock();
        g.hot_bytes * 2
    }
}

impl Inner {
    fn insert_hot(&mut self, k: Bytes, v: Entry, limit: usize) {
        let c = cost(&k, &v);
        if let Some(old) = self.hot.insert(k.clone(), v) {
            self.hot_bytes = self.hot_bytes.saturating_sub(cost(&k, &old));
        }
        self.hot_bytes += c;
        if self.hot_bytes > limit / 2 {
            self.cold = std::mem::take(&mut self.hot);
            self.hot_bytes = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_insert_after_invalidation_is_dropped() {
        let c = ReadCache::new(1 << 20);
        let k = Bytes::from("k");
        let e = c.epoch();
        let new = Some(Bytes::from("new"));
        c.applied([(&k, &new)].into_iter());
        c.insert(&k, Some(Bytes::from("old")), e);
        assert_eq!(c.get(&k), Some(new.clone()));
        let e = c.epoch();
        c.insert(&k, Some(Bytes::from("v")), e);
        assert_eq!(c.get(&k), Some(Some(Bytes::from("v"))));
        c.applied([(&k, &None)].into_iter());
        assert_eq!(c.get(&k), Some(None));
    }

    #[test]
    fn bounded() {
        let c = ReadCache::new(10_000);
        for i in 0..10_000 {
            let e = c.epoch();
            c.insert(format!("key{i}").as_bytes(), Some(Bytes::from("value")), e);
        }
        assert!(c.bytes() <= 10_000 + 200);
    }
}
