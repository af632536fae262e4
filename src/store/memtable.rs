//! The write buffer between the WAL and sled (a memtable, as in an LSM tree).
//!
//! Committed effects land in the active table at once, so reads see them
//! without waiting for sled. Full tables are frozen and moved into sled by the
//! applier thread, which records `applied_offset` only after sled has flushed;
//! recovery replays the WAL from there. A value of `None` is a deletion that
//! still has to reach sled.

use bytes::Bytes;
use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;

/// One layer of the write buffer. Point reads and overwrites (the hot path)
/// hash; the ordered key set, touched only when a key is new to the table,
/// serves range reads, the snapshot merge and the key-ordered apply to sled.
/// (A B-tree alone spent ~10% of SET time in key comparisons: keys share
/// long prefixes.)
#[derive(Default)]
pub struct Table {
    map: ahash::AHashMap<Bytes, Option<Bytes>>,
    order: std::collections::BTreeSet<Bytes>,
}

impl Table {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn get(&self, key: &[u8]) -> Option<&Option<Bytes>> {
        self.map.get(key)
    }

    /// Returns the previous entry, if the key was in this table.
    pub fn insert(&mut self, key: Bytes, value: Option<Bytes>) -> Option<Option<Bytes>> {
        match self.map.get_mut(&key) {
            Some(slot) => Some(std::mem::replace(slot, value)),
            None => {
                self.order.insert(key.clone());
                self.map.insert(key, value);
                None
            }
        }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Entries in key order within the bounds.
    pub fn range<'a>(
        &'a self,
        from: Bound<&[u8]>,
        to: Bound<&[u8]>,
    ) -> impl Iterator<Item = (&'a Bytes, &'a Option<Bytes>)> + 'a {
        self.order
            .range::<[u8], _>((from, to))
            .filter_map(move |k| self.map.get_key_value(k.as_ref()))
    }

    /// Up to `n` of the greatest entries within the bounds, greatest first.
    pub fn last_n(
        &self,
        from: Bound<&[u8]>,
        to: Bound<&[u8]>,
        n: usize,
    ) -> Vec<(&Bytes, &Option<Bytes>)> {
        self.order
            .range::<[u8], _>((from, to))
            .rev()
            .take(n)
            .filter_map(|k| self.map.get_key_value(k.as_ref()))
            .collect()
    }

    /// Every entry in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&Bytes, &Option<Bytes>)> + '_ {
        self.order
            .iter()
            .filter_map(move |k| self.map.get_key_value(k.as_ref()))
    }
}

/// Per-entry cost counted beyond key and value. The real cost of small
/// entries is higher (~250 B measured: hash slot, ordered-set slot, two
/// allocations, shared `Bytes` headers); counting 80 freezes less often, and
/// measured better on both load time and peak RSS (sled's apply is what
/// costs memory), so the table's byte limit is a tuning knob, not exact.
pub(crate) const ENTRY_OVERHEAD: usize = 80;

pub struct Frozen {
    pub table: Table,
    /// Stream position after the last record whose effects are in `table`.
    pub end: u64,
}

pub struct Tables {
    pub active: Table,
    pub active_bytes: usize,
    /// End position of the last record applied into `active` (or any
    /// earlier table).
    pub end: u64,
    /// Oldest first.
    pub frozen: Vec<Arc<Frozen>>,
}

impl Tables {
    pub fn new(end: u64) -> Self {
        Tables {
            active: Table::new(),
            active_bytes: 0,
            end,
            frozen: Vec::new(),
        }
    }

    /// `Some(None)` is a pending deletion; `None` means "ask sled".
    pub fn get(&self, key: &[u8]) -> Option<Option<Bytes>> {
        if let Some(v) = self.active.get(key) {
            return Some(v.clone());
        }
        for f in self.frozen.iter().rev() {
            if let Some(v) = f.table.get(key) {
                return Some(v.clone());
            }
        }
        None
    }

    /// Tracks the table's real size: overwriting a key replaces its bytes.
    pub fn insert(&mut self, key: Bytes, value: Option<Bytes>) {
        let klen = key.len();
        let vlen = value.as_ref().map_or(0, |v| v.len());
        match self.active.insert(key, value) {
            Some(old) => {
                self.active_bytes =
                    (self.active_bytes + vlen).saturating_sub(old.map_or(0, |v| v.len()));
            }
            None => self.active_bytes += klen + vlen + ENTRY_OVERHEAD,
        }
    }

    /// Moves the active table to the frozen list; returns false if empty.
    pub fn freeze(&mut self) -> bool {
        if self.active.is_empty() {
            return false;
        }
        let table = std::mem::take(&mut self.active);
        self.active_bytes = 0;
        self.frozen.push(Arc::new(Frozen {
            table,
            end: self.end,
        }));
        true
    }

    /// Every table, newest first, for merged range reads.
    pub fn layers(&self) -> Vec<&Table> {
        let mut v = vec![&self.active];
        v.extend(self.frozen.iter().rev().map(|f| &f.table));
        v
    }
}

/// Collects the newest entry of every key in `[from, to)` across layers
/// (newest first), tombstones included.
pub fn merged_range(
    layers: &[&Table],
    from: Bound<&[u8]>,
    to: Bound<&[u8]>,
) -> BTreeMap<Bytes, Option<Bytes>> {
    let mut out: BTreeMap<Bytes, Option<Bytes>> = BTreeMap::new();
    for t in layers {
        for (k, v) in t.range(from, to) {
            out.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    out
}
