//! sled range reads remembered while sled does not change.
//!
//! ZPOPMIN, SPOP and LPOP read the front of one key's element range over
//! and over, each time a little further on. Once the elements are in sled,
//! every such read started a sled iterator, which copies a leaf node: most
//! of a pop's cost. sled only changes when the applier stores a table or a
//! load replaces it, and both move the engine's epoch (`Engine::epoch`);
//! so a window read at one epoch answers later reads of the same range at that epoch. The
//! write buffer is merged on top by the caller, as for any sled read; the
//! caller reads the epoch after taking the buffer, so every table that
//! reached sled after the window was read is still in the buffer it merges.
//! That holds only if a sled read gives every key nobody wrote meanwhile:
//! a page split under the read moves keys nobody wrote, and the engine's
//! ranges must not lose them (`PageRange` in engine.rs), or a window would
//! keep the loss for every read at its epoch.

use bytes::Bytes;
use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;

/// A sled read shared by the cache and its readers: a hit costs one
/// reference count, not two per pair (cloning each pair's `Bytes` from two
/// runtime threads was a fifth of an LRANGE's CPU, the counts' cache lines
/// bouncing between the cores).
pub type Pairs = Arc<[(Bytes, Bytes)]>;

/// Pairs read ahead once a range is read a second time at one epoch.
const READ_AHEAD: usize = 128;
/// Bound on what all windows hold (keys + values); past it they are dropped.
const MAX_BYTES: usize = 8 << 20;

struct Window {
    epoch: u64,
    /// The read's lower bound, and whether it was excluded.
    from: Vec<u8>,
    from_excluded: bool,
    pairs: Pairs,
    /// sled had nothing more in the range after `pairs`.
    complete: bool,
    bytes: usize,
}

impl Window {
    fn covers(&self, start: &[u8], after: bool) -> bool {
        match self.from.as_slice().cmp(start) {
            std::cmp::Ordering::Less => true,
            std::cmp::Ordering::Equal => !self.from_excluded || after,
            std::cmp::Ordering::Greater => false,
        }
    }
}

/// Windows by range end (one per collection being read).
#[derive(Default)]
pub struct RangeCache {
    windows: HashMap<Vec<u8>, Window>,
    bytes: usize,
    /// The epoch of the newest window stored: older ones are of no use.
    epoch: u64,
}

/// What a lookup found.
pub enum Lookup {
    /// Up to `count` pairs from `start` (these of the window's), and
    /// whether sled's range went on.
    Hit(Pairs, Range<usize>, bool),
    /// Read sled for this many pairs (more than asked when the range is
    /// being read repeatedly), then `store` the result.
    Miss(usize),
}

impl RangeCache {
    pub fn lookup(
        &self,
        epoch: u64,
        start: &[u8],
        after: bool,
        end: &[u8],
        count: usize,
    ) -> Lookup {
        let Some(w) = self.windows.get(end) else {
            return Lookup::Miss(count);
        };
        if w.epoch == epoch && w.covers(start, after) {
            let i = w.pairs.partition_point(|(k, _)| {
                if after {
                    k.as_ref() <= start
                } else {
                    k.as_ref() < start
                }
            });
            let avail = w.pairs.len() - i;
            if avail >= count {
                return Lookup::Hit(w.pairs.clone(), i..i + count, true);
            }
            if w.complete {
                return Lookup::Hit(w.pairs.clone(), i..w.pairs.len(), false);
            }
        }
        Lookup::Miss(count.max(READ_AHEAD))
    }

    /// Remembers a sled read of `[start, end)` made at `epoch`, which asked
    /// for `asked` pairs.
    #[allow(clippy::too_many_arguments)]
    pub fn store(
        &mut self,
        epoch: u64,
        start: &[u8],
        after: bool,
        end: &[u8],
        pairs: &Pairs,
        asked: usize,
    ) {
        let bytes: usize = pairs.iter().map(|(k, v)| k.len() + v.len()).sum();
        if bytes > MAX_BYTES / 4 {
            return;
        }
        if self.bytes + bytes > MAX_BYTES || epoch != self.epoch {
            self.windows.clear();
            self.bytes = 0;
            self.epoch = epoch;
        }
        let w = Window {
            epoch,
            from: start.to_vec(),
            from_excluded: after,
            pairs: pairs.clone(),
            complete: pairs.len() < asked,
            bytes,
        };
        self.bytes += bytes;
        if let Some(old) = self.windows.insert(end.to_vec(), w) {
            self.bytes -= old.bytes;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(keys: &[&str]) -> Pairs {
        keys.iter()
            .map(|k| (Bytes::from(k.to_string()), Bytes::from_static(b"v")))
            .collect()
    }

    fn keys_of(v: &[(Bytes, Bytes)]) -> Vec<&[u8]> {
        v.iter().map(|(k, _)| k.as_ref()).collect()
    }

    #[test]
    fn answers_reads_inside_the_window_at_its_epoch_only() {
        let mut c = RangeCache::default();
        assert!(matches!(c.lookup(1, b"a", false, b"z", 2), Lookup::Miss(2)));
        c.store(1, b"a", false, b"z", &pairs(&["b", "c", "d"]), 128);
        match c.lookup(1, b"b", true, b"z", 1) {
            Lookup::Hit(v, r, more) => {
                assert_eq!(keys_of(&v[r]), vec![b"c".as_ref()]);
                assert!(more);
            }
            Lookup::Miss(_) => panic!("inside the window"),
        }
        // The window is the whole range (fewer pairs than asked): the end
        // of the pairs is the end of the range.
        match c.lookup(1, b"c", false, b"z", 5) {
            Lookup::Hit(v, r, more) => {
                assert_eq!(keys_of(&v[r]), vec![b"c".as_ref(), b"d".as_ref()]);
                assert!(!more);
            }
            Lookup::Miss(_) => panic!("complete window"),
        }
        // Before the window, another range, another epoch: read sled.
        assert!(matches!(
            c.lookup(1, b"0", false, b"z", 1),
            Lookup::Miss(READ_AHEAD)
        ));
        assert!(matches!(c.lookup(1, b"b", false, b"y", 1), Lookup::Miss(1)));
        assert!(matches!(c.lookup(2, b"b", false, b"z", 1), Lookup::Miss(_)));
    }

    #[test]
    fn an_incomplete_window_does_not_answer_past_its_end() {
        let mut c = RangeCache::default();
        c.store(1, b"a", true, b"z", &pairs(&["b", "c"]), 2);
        // Excluded "a": a read that includes "a" is not covered.
        assert!(matches!(c.lookup(1, b"a", false, b"z", 1), Lookup::Miss(_)));
        assert!(matches!(c.lookup(1, b"a", true, b"z", 2), Lookup::Hit(..)));
        assert!(matches!(c.lookup(1, b"a", true, b"z", 3), Lookup::Miss(_)));
    }
}
