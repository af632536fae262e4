//! Keys' last access times, for OBJECT IDLETIME (Redis's LRU clock per
//! object). Kept in memory and bounded, never in the key's metadata: a
//! read would then become a write (a WAL record, a replicated effect, a
//! page rewritten in sled) for every GET.
//!
//! A direct-mapped table of `SLOTS` atomic words, like a CPU cache: a 64-bit
//! hash of (physical slot, key) picks the word and gives a 32-bit tag; the
//! word holds the tag and the access time in seconds (Redis's LRU clock
//! resolution). A touch is one relaxed store, so the hot path takes no lock
//! and never waits on the cache miss (a store retires without it: a first
//! version with a locked two-generation hash map cost 9% of a pipelined
//! GET/SET server's CPU, this costs about nothing). The table never holds a
//! key's bytes, so it never pins a request's buffer, and its size is fixed
//! (2 MiB) whatever the number of keys.
//!
//! A key whose word holds its tag gets its time. A key whose word holds
//! another key's was last touched before that key was (the other key's
//! store came after it), so it reads as idle since then; an empty word
//! means untouched since the start, which is what a Redis restart gives
//! too (loading resets access times). Two keys with the same word and tag
//! share a time: about 2^-32 per lookup.

use std::sync::atomic::{AtomicU64, Ordering};

/// Words in the table (8 bytes each).
const SLOTS: usize = 1 << 18;

pub struct AccessTimes {
    hasher: ahash::RandomState,
    words: Box<[AtomicU64]>,
    /// The server's start, in seconds.
    start: u32,
}

fn secs(ms: i64) -> u32 {
    (ms / 1000).clamp(0, u32::MAX as i64) as u32
}

impl AccessTimes {
    pub(crate) fn new(start_ms: i64) -> AccessTimes {
        AccessTimes {
            hasher: ahash::RandomState::new(),
            words: (0..SLOTS).map(|_| AtomicU64::new(0)).collect(),
            start: secs(start_ms),
        }
    }

    /// The word of (slot, key) and its tag (never 0: 0 is an empty word).
    #[inline]
    fn place(&self, slot: usize, key: &[u8]) -> (&AtomicU64, u64) {
        let h = self.hasher.hash_one((slot as u8, key));
        (&self.words[h as usize % SLOTS], (h >> 32) | 1)
    }

    /// Notes an access to `key` of physical slot `slot` at `at` (ms).
    #[inline]
    pub(crate) fn touch(&self, slot: usize, key: &[u8], at: i64) {
        let (w, tag) = self.place(slot, key);
        w.store(tag << 32 | secs(at) as u64, Ordering::Relaxed);
    }

    /// When `key` was last accessed (ms), or the latest time it may have
    /// been if it is no longer remembered.
    pub(crate) fn last(&self, slot: usize, key: &[u8]) -> i64 {
        let (w, tag) = self.place(slot, key);
        let v = w.load(Ordering::Relaxed);
        let t = v as u32;
        let s = if v == 0 {
            self.start
        } else if v >> 32 == tag {
            t
        } else {
            t.max(self.start)
        };
        s as i64 * 1000
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_while_remembered_then_bounded() {
        let a = AccessTimes::new(1_000_000);
        assert_eq!(a.last(0, b"never"), 1_000_000);
        a.touch(0, b"k", 5_000_000);
        assert_eq!(a.last(0, b"k"), 5_000_000);
        // Same name, other slot: its own word (or another key's later time).
        assert!(a.last(1, b"k") == 1_000_000 || a.last(1, b"k") >= 5_000_000);
        // An explicit past (RESTORE ... IDLETIME) is kept as given.
        a.touch(0, b"k", 10_000);
        assert_eq!(a.last(0, b"k"), 10_000);
        // Touch many keys later: "k" is forgotten or still exact, never
        // read as touched later than the latest time it can have been.
        for i in 0..(SLOTS * 3) as u64 {
            a.touch(0, &i.to_be_bytes(), 20_000_000 + i as i64);
        }
        let f = a.last(0, b"k");
        assert!(f == 10_000 || f >= 20_000_000, "{f}");
        // The latest touches are exact.
        let last = (SLOTS * 3 - 1) as u64;
        assert_eq!(
            a.last(0, &last.to_be_bytes()),
            (20_000_000 + last as i64) / 1000 * 1000
        );
    }
}
