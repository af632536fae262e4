//! A full sync's received snapshot file as the store's base layer, while
//! its pairs go into sled in the background.
//!
//! sled takes ~4 µs of CPU per inserted key, so loading millions of keys
//! took most of a full sync's time, and the replica answered LOADING all
//! along. The snapshot file is sorted and has a block index, so it can
//! answer point reads and forward ranges itself: a replica now serves, and
//! takes its master's stream into the write buffer, as soon as the file is
//! checked. The applier leaves the write buffer alone while the overlay is
//! set, so the stream's tables still reach sled after every snapshot pair
//! (WAL order == apply order); once sled has them all, the overlay goes
//! (under the apply lock) and reads go back to sled.

use super::engine::{self, Pair as EnginePair};
use super::Error;
use crate::snapshot::{Pair, SnapshotReader};
use parking_lot::Mutex;
use std::ops::Bound;
use std::sync::Arc;

/// Decoded blocks kept for reads (a block is ~64 KiB raw).
const RECENT_BLOCKS: usize = 16;

pub(super) struct Overlay {
    pub reader: SnapshotReader,
    recent: Mutex<Vec<(usize, Arc<Vec<Pair>>)>>,
}

impl Overlay {
    pub fn new(reader: SnapshotReader) -> Overlay {
        Overlay {
            reader,
            recent: Mutex::new(Vec::new()),
        }
    }

    fn block(&self, i: usize) -> Result<Arc<Vec<Pair>>, Error> {
        {
            let mut r = self.recent.lock();
            if let Some(pos) = r.iter().position(|(b, _)| *b == i) {
                let hit = r.remove(pos);
                let pairs = hit.1.clone();
                r.push(hit);
                return Ok(pairs);
            }
        }
        let pairs = Arc::new(self.reader.read_block(i).map_err(Error::snapshot)?);
        let mut r = self.recent.lock();
        if r.len() >= RECENT_BLOCKS {
            r.remove(0);
        }
        r.push((i, pairs.clone()));
        Ok(pairs)
    }

    pub fn get(&self, key: &[u8]) -> Result<Option<engine::Slice>, Error> {
        let Some(i) = self.reader.find_block(key) else {
            return Ok(None);
        };
        let pairs = self.block(i)?;
        Ok(pairs
            .binary_search_by(|(k, _)| k.as_slice().cmp(key))
            .ok()
            .map(|at| engine::slice(&pairs[at].1)))
    }

    /// Pairs in `[from, to)` in key order.
    pub fn range(
        self: &Arc<Self>,
        from: Bound<&[u8]>,
        to: Bound<&[u8]>,
    ) -> impl Iterator<Item = Result<EnginePair, Error>> {
        let (block, start) = match from {
            Bound::Unbounded => (0, Bound::Unbounded),
            Bound::Included(k) => (
                self.reader.find_block(k).unwrap_or(0),
                Bound::Included(k.to_vec()),
            ),
            Bound::Excluded(k) => (
                self.reader.find_block(k).unwrap_or(0),
                Bound::Excluded(k.to_vec()),
            ),
        };
        OverlayIter {
            overlay: self.clone(),
            block,
            pairs: None,
            pos: 0,
            start,
            to: to.map(|k| k.to_vec()),
            done: false,
        }
    }
}

struct OverlayIter {
    overlay: Arc<Overlay>,
    block: usize,
    pairs: Option<Arc<Vec<Pair>>>,
    pos: usize,
    /// Where the first block is entered; cleared once used.
    start: Bound<Vec<u8>>,
    to: Bound<Vec<u8>>,
    done: bool,
}

impl Iterator for OverlayIter {
    type Item = Result<EnginePair, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.done {
                return None;
            }
            let pairs = match &self.pairs {
                Some(p) => p.clone(),
                None => {
                    if self.block >= self.overlay.reader.block_count() {
                        self.done = true;
                        return None;
                    }
                    let p = match self.overlay.block(self.block) {
                        Ok(p) => p,
                        Err(e) => {
                            self.done = true;
                            return Some(Err(e));
                        }
                    };
                    self.pos = match std::mem::replace(&mut self.start, Bound::Unbounded) {
                        Bound::Unbounded => 0,
                        Bound::Included(k) => p.partition_point(|(x, _)| x.as_slice() < &k[..]),
                        Bound::Excluded(k) => p.partition_point(|(x, _)| x.as_slice() <= &k[..]),
                    };
                    self.pairs = Some(p.clone());
                    p
                }
            };
            let Some((k, v)) = pairs.get(self.pos) else {
                self.pairs = None;
                self.block += 1;
                continue;
            };
            let past = match &self.to {
                Bound::Unbounded => false,
                Bound::Included(t) => k > t,
                Bound::Excluded(t) => k >= t,
            };
            if past {
                self.done = true;
                return None;
            }
            self.pos += 1;
            return Some(Ok((engine::slice(k), engine::slice(v))));
        }
    }
}
