//! The read cache: whole pages (`pages.rs`) as the engine read or wrote
//! them, and the values stored beside them. A page of ~1 KiB holds ~8
//! pairs with their keys' common prefix once, so a byte of this cache holds
//! about twice what a cache of single pairs did (~130 B a pair against
//! ~280), and a hit costs an ordered lookup and a binary search instead of
//! sled's read.
//!
//! A cached page is found by its ceiling and answers for the keys from its
//! first key up to its ceiling: no other page can hold a key there (a page
//! holds only keys after the ceiling before it, see `engine.rs`). A key
//! between the previous ceiling and a page's first key is not answered
//! here, and goes to the engine.
//!
//! Correctness against writes: the engine's writer removes a page before
//! it rewrites it and puts the new pages in after (write-through); `seq` is
//! odd while it does. A page read from the engine is put in only if `seq`
//! has not moved since before that read, so a read racing a rewrite can
//! never leave the old page behind. The engine's forward ranges use `seq`
//! the same way, to know that no page write began while they walked
//! (`PageRange` in engine.rs).
//!
//! Eviction is two generations: inserts go to `hot`; when it is full it
//! becomes `cold` (the old `cold` is dropped); a hit in `cold` moves back.

use super::engine::Slice;
use ahash::AHashMap;
use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

pub struct PageCache {
    inner: Mutex<Inner>,
    seq: AtomicU64,
    limit: AtomicUsize,
}

struct Cached {
    /// The page's first key.
    first: Box<[u8]>,
    page: Slice,
}

#[derive(Default)]
struct Gen {
    /// By ceiling.
    pages: BTreeMap<Slice, Cached>,
    /// Values beside their page, by key.
    side: AHashMap<Slice, Slice>,
}

#[derive(Default)]
struct Inner {
    hot: Gen,
    cold: Gen,
    hot_bytes: usize,
}

/// What an entry costs beyond its bytes: the map slot, the allocations'
/// headers, and the allocator's rounding of a ~1 KiB page (mimalloc's size
/// classes are 1/8 apart, so up to 1/8 is lost; half that on average).
fn page_cost(first: &[u8], page: &Slice) -> usize {
    page.len() + page.len() / 16 + first.len() + 96
}

fn side_cost(key: &Slice, value: &Slice) -> usize {
    key.len() + value.len() + value.len() / 16 + 96
}

impl Gen {
    /// The page that answers for `key`, if cached here.
    fn page_for(&self, key: &[u8]) -> Option<(&Slice, &Cached)> {
        let (c, e) = self
            .pages
            .range::<[u8], _>((Bound::Included(key), Bound::Unbounded))
            .next()?;
        (*e.first <= *key).then_some((c, e))
    }
}

impl PageCache {
    /// `limit` bounds the bytes held (both generations together).
    pub fn new(limit: usize) -> Self {
        PageCache {
            inner: Mutex::new(Inner::default()),
            seq: AtomicU64::new(0),
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

    /// Read before reading the engine; pass to `insert_*`.
    pub fn seq(&self) -> u64 {
        self.seq.load(Ordering::Acquire)
    }

    /// The page that answers for `key`, if cached.
    pub fn page_for(&self, key: &[u8]) -> Option<Slice> {
        let mut g = self.inner.lock();
        if let Some((_, e)) = g.hot.page_for(key) {
            return Some(e.page.clone());
        }
        let c = g.cold.page_for(key)?.0.clone();
        let e = g.cold.pages.remove(&c)?;
        let page = e.page.clone();
        g.put_page(c, e, self.limit());
        Some(page)
    }

    /// A value stored beside its page, if cached.
    pub fn side(&self, key: &[u8]) -> Option<Slice> {
        let mut g = self.inner.lock();
        if let Some(v) = g.hot.side.get(key) {
            return Some(v.clone());
        }
        let (k, v) = g.cold.side.remove_entry(key)?;
        g.put_side(k, v.clone(), self.limit());
        Some(v)
    }

    /// Puts in a page read from the engine at `seq` (see the module doc).
    pub fn insert_page(&self, ceiling: &Slice, first: &[u8], page: &Slice, seq: u64) {
        if self.limit() == 0 || seq % 2 == 1 {
            return;
        }
        let mut g = self.inner.lock();
        if self.seq.load(Ordering::Acquire) != seq {
            return;
        }
        let e = Cached {
            first: first.into(),
            page: page.clone(),
        };
        g.put_page(ceiling.clone(), e, self.limit());
    }

    /// Puts in a side value read from the engine at `seq`.
    pub fn insert_side(&self, key: &[u8], value: &Slice, seq: u64) {
        if self.limit() == 0 || seq % 2 == 1 {
            return;
        }
        let mut g = self.inner.lock();
        if self.seq.load(Ordering::Acquire) != seq {
            return;
        }
        g.put_side(Slice::from(key), value.clone(), self.limit());
    }

    /// The engine's writer is about to change pages: until `write_end`,
    /// no page read from the engine is put in.
    pub fn write_begin(&self) {
        self.seq.fetch_add(1, Ordering::AcqRel);
    }

    pub fn write_end(&self) {
        self.seq.fetch_add(1, Ordering::AcqRel);
    }

    /// The writer drops the page of `ceiling` (between `write_begin` and
    /// `write_end`).
    pub fn remove_page(&self, ceiling: &[u8]) {
        let mut g = self.inner.lock();
        if let Some(e) = g.hot.pages.remove(ceiling) {
            g.hot_bytes = g.hot_bytes.saturating_sub(page_cost(&e.first, &e.page));
        }
        g.cold.pages.remove(ceiling);
    }

    /// The writer's new page (write-through).
    pub fn put_page(&self, ceiling: &[u8], first: &[u8], page: Slice) {
        let limit = self.limit();
        if limit == 0 {
            return;
        }
        let mut g = self.inner.lock();
        g.cold.pages.remove(ceiling);
        let e = Cached {
            first: first.into(),
            page,
        };
        g.put_page(Slice::from(ceiling), e, limit);
    }

    /// The writer's new side value (write-through), or its removal.
    pub fn put_side(&self, key: &[u8], value: Option<Slice>) {
        let limit = self.limit();
        let mut g = self.inner.lock();
        g.cold.side.remove(key);
        if let Some(old) = g.hot.side.remove(key) {
            let k = Slice::from(key);
            g.hot_bytes = g.hot_bytes.saturating_sub(side_cost(&k, &old));
        }
        if let (Some(v), true) = (value, limit > 0) {
            g.put_side(Slice::from(key), v, limit);
        }
    }

    pub fn clear(&self) {
        self.write_begin();
        *self.inner.lock() = Inner::default();
        self.write_end();
    }

    /// Bytes held (the cold generation counted as full as the hot one).
    pub fn bytes(&self) -> usize {
        self.inner.lock().hot_bytes * 2
    }
}

impl Inner {
    fn put_page(&mut self, ceiling: Slice, e: Cached, limit: usize) {
        let c = page_cost(&e.first, &e.page);
        if let Some(old) = self.hot.pages.insert(ceiling, e) {
            self.hot_bytes = self
                .hot_bytes
                .saturating_sub(page_cost(&old.first, &old.page));
        }
        self.grown(c, limit);
    }

    fn put_side(&mut self, key: Slice, value: Slice, limit: usize) {
        let c = side_cost(&key, &value);
        if let Some(old) = self.hot.side.insert(key.clone(), value) {
            self.hot_bytes = self.hot_bytes.saturating_sub(side_cost(&key, &old));
        }
        self.grown(c, limit);
    }

    fn grown(&mut self, c: usize, limit: usize) {
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

    fn s(b: &str) -> Slice {
        Slice::from(b.as_bytes())
    }

    #[test]
    fn a_page_answers_from_its_first_key_to_its_ceiling() {
        let c = PageCache::new(1 << 20);
        let seq = c.seq();
        c.insert_page(&s("k5"), b"k3", &s("page-a"), seq);
        assert_eq!(c.page_for(b"k3"), Some(s("page-a")));
        assert_eq!(c.page_for(b"k4"), Some(s("page-a")));
        assert_eq!(c.page_for(b"k5"), Some(s("page-a")));
        // Before its first key, the page before it may answer: unknown.
        assert_eq!(c.page_for(b"k2"), None);
        assert_eq!(c.page_for(b"k6"), None);
    }

    #[test]
    fn a_read_racing_a_rewrite_is_not_cached() {
        let c = PageCache::new(1 << 20);
        let seq = c.seq();
        c.write_begin();
        c.remove_page(b"k5");
        c.put_page(b"k5", b"k1", s("new"));
        c.write_end();
        // The reader read the old page before the rewrite.
        c.insert_page(&s("k5"), b"k1", &s("old"), seq);
        assert_eq!(c.page_for(b"k2"), Some(s("new")));
        // Nor while a rewrite is under way.
        c.write_begin();
        let during = c.seq();
        c.insert_page(&s("k9"), b"k6", &s("x"), during);
        c.write_end();
        assert_eq!(c.page_for(b"k7"), None);
        // Side values follow the same rule.
        let seq = c.seq();
        c.write_begin();
        c.put_side(b"big", Some(s("v2")));
        c.write_end();
        c.insert_side(b"big", &s("v1"), seq);
        assert_eq!(c.side(b"big"), Some(s("v2")));
        c.put_side(b"big", None);
        assert_eq!(c.side(b"big"), None);
    }

    #[test]
    fn bounded_and_cold_hits_come_back() {
        let c = PageCache::new(100_000);
        for i in 0..10_000u32 {
            let seq = c.seq();
            let ceiling = Slice::from(format!("k{i:06}z").as_bytes());
            c.insert_page(&ceiling, format!("k{i:06}").as_bytes(), &s("v"), seq);
        }
        assert!(c.bytes() <= 100_000 + 200);
        let last = b"k009999";
        assert!(c.page_for(last).is_some());
        assert!(c.page_for(b"k000000").is_none());
    }
}
