//! Keys' last access times, for OBJECT IDLETIME (Redis's LRU clock per
//! object). Kept in memory and bounded, never in the key's metadata: a
//! read would then become a write (a WAL record, a replicated effect, a
//! page rewritten in sled) for every GET.
//!
//! A key is remembered by a 64-bit hash of (physical slot, name), so an
//! entry costs 16 bytes and never holds the key's bytes (or pins a
//! request's buffer). Each of `SHARDS` shards has two generations: touches
//! go into the current one; when it holds `PER_SHARD` entries it becomes the
//! old one and the old one is dropped. A key touched within the last
//! `PER_SHARD` touches of its shard is found exactly. A key in neither
//! generation was last accessed before the dropped generation was sealed,
//! so it reads as idle since then (`floor`); before any drop the floor is
//! the server's start, which is what a Redis restart gives too (loading
//! resets access times). Two keys with the same hash share a time: with
//! at most 2^18 entries, a chance of about 2^-46 per lookup.

use ahash::AHashMap as HashMap;
use parking_lot::Mutex;

const SHARDS: usize = 16;
/// Entries per shard and generation: 2^17 keys remembered exactly in all
/// (at least), about 9 MB at most with both generations full.
const PER_SHARD: usize = 8192;

struct Shard {
    cur: HashMap<u64, i64>,
    old: HashMap<u64, i64>,
    /// When `cur` started: every key in `old` was last touched before it.
    cur_since: i64,
    /// Keys in neither map were last touched at or before this.
    floor: i64,
}

pub struct AccessTimes {
    hasher: ahash::RandomState,
    shards: Box<[Mutex<Shard>]>,
}

impl AccessTimes {
    pub(crate) fn new(start_ms: i64) -> AccessTimes {
        AccessTimes {
            hasher: ahash::RandomState::new(),
            shards: (0..SHARDS)
                .map(|_| {
                    Mutex::new(Shard {
                        cur: HashMap::default(),
                        old: HashMap::default(),
                        cur_since: start_ms,
                        floor: start_ms,
                    })
                })
                .collect(),
        }
    }

    #[inline]
    fn hash(&self, slot: usize, key: &[u8]) -> u64 {
        self.hasher.hash_one((slot as u8, key))
    }

    /// Notes an access to `key` of physical slot `slot` at `at` (ms).
    #[inline]
    pub(crate) fn touch(&self, slot: usize, key: &[u8], at: i64) {
        let h = self.hash(slot, key);
        let mut s = self.shards[(h >> 60) as usize % SHARDS].lock();
        if s.cur.len() >= PER_SHARD && !s.cur.contains_key(&h) {
            let s = &mut *s;
            std::mem::swap(&mut s.cur, &mut s.old);
            s.cur.clear();
            s.floor = s.floor.max(s.cur_since);
            s.cur_since = at.max(s.cur_since);
        }
        s.cur.insert(h, at);
    }

    /// When `key` was last accessed (ms), or the latest time it may have
    /// been if it is no longer remembered.
    pub(crate) fn last(&self, slot: usize, key: &[u8]) -> i64 {
        let h = self.hash(slot, key);
        let s = self.shards[(h >> 60) as usize % SHARDS].lock();
        s.cur
            .get(&h)
            .or_else(|| s.old.get(&h))
            .copied()
            .unwrap_or(s.floor)
    }

    /// Entries held (both generations), for tests of the bound.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| {
                let s = s.lock();
                s.cur.len() + s.old.len()
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_while_remembered_then_floor() {
        let a = AccessTimes::new(1000);
        assert_eq!(a.last(0, b"never"), 1000);
        a.touch(0, b"k", 5000);
        assert_eq!(a.last(0, b"k"), 5000);
        // Same name, other slot: its own time.
        assert_eq!(a.last(1, b"k"), 1000);
        // An explicit past (RESTORE ... IDLETIME) is kept as given.
        a.touch(0, b"k", 10);
        assert_eq!(a.last(0, b"k"), 10);
        // Fill every shard past two generations: "k" is forgotten and
        // reads as touched at the latest time it can have been.
        for i in 0..(SHARDS * PER_SHARD * 3) as u64 {
            a.touch(0, &i.to_be_bytes(), 20_000 + i as i64);
        }
        let f = a.last(0, b"k");
        assert!(f > 10 && f >= 20_000, "{f}");
        assert!(a.len() <= 2 * SHARDS * PER_SHARD);
        // The most recent touches are still exact.
        let last = (SHARDS * PER_SHARD * 3 - 1) as u64;
        assert_eq!(a.last(0, &last.to_be_bytes()), 20_000 + last as i64);
    }
}
