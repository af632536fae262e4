//! The write buffer between the WAL and sled (a memtable, as in an LSM tree).
//!
//! Committed effects land in the active table at once, so reads see them
//! without waiting for sled. Full tables are frozen and moved into sled by the
//! applier thread, which records `applied_offset` only after sled has flushed;
//! recovery replays the WAL from there. A value of `None` is a deletion that
//! still has to reach sled.

use bytes::Bytes;
use std::ops::Bound;
use std::sync::Arc;

/// One layer of the write buffer. Point reads and overwrites (the hot path)
/// hash; the ordered key map, touched only when a key is new to the table,
/// serves range reads, the snapshot merge and the key-ordered apply to sled.
/// (A B-tree alone spent ~10% of SET time in key comparisons: keys share
/// long prefixes.) The map is an `IndexMap`: growing it moves 8-byte
/// indices, not the entries. A hash map of the entries themselves, grown
/// under the buffer's write lock at a million entries, stopped every
/// writer for ~200 ms (page-faulting and copying 64-byte slots: 13% of a
/// ZADD run's CPU).
#[derive(Default)]
pub struct Table {
    map: indexmap::IndexMap<Bytes, Option<Bytes>, ahash::RandomState>,
    /// Each key's index in `map` (entries are never removed, so indices
    /// stay): ordered reads reach an entry without hashing its key again,
    /// which was the applier's largest cost in a bulk load.
    order: std::collections::BTreeMap<Bytes, usize>,
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
        use indexmap::map::Entry;
        // One hash and probe, new key or not.
        match self.map.entry(key) {
            Entry::Occupied(mut slot) => Some(std::mem::replace(slot.get_mut(), value)),
            Entry::Vacant(slot) => {
                self.order.insert(slot.key().clone(), slot.index());
                slot.insert(value);
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
            .filter_map(move |(_, &i)| self.map.get_index(i))
    }

    /// Up to `n` of the first entries within the bounds, in key order.
    pub fn first_n(
        &self,
        from: Bound<&[u8]>,
        to: Bound<&[u8]>,
        n: usize,
    ) -> Vec<(&Bytes, &Option<Bytes>)> {
        self.range(from, to).take(n).collect()
    }

    /// The `n`-th key (from 0) within the bounds, found in the ordered set
    /// alone (no map lookup per key passed).
    pub fn nth_key(&self, from: Bound<&[u8]>, to: Bound<&[u8]>, n: usize) -> Option<&Bytes> {
        self.order
            .range::<[u8], _>((from, to))
            .nth(n)
            .map(|(k, _)| k)
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
            .filter_map(|(_, &i)| self.map.get_index(i))
            .collect()
    }

    /// Every entry in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&Bytes, &Option<Bytes>)> + '_ {
        self.order
            .values()
            .filter_map(move |&i| self.map.get_index(i))
    }
}

/// Per-entry cost counted beyond key and value, as measured with heaptrack
/// (1M SETs of 100-byte values): the key's and value's allocations rounded
/// up plus the shared headers `Bytes` allocates when first cloned (~32 B
/// each), the IndexMap entry (~72 B) and its hash slot, and the ordered
/// map's share of a B-tree node (its index adds 8 B to the 256 measured).
/// The write buffer is a share of `maxmemory`, so this must be what an
/// entry really costs.
pub(crate) const ENTRY_OVERHEAD: usize = 264;

pub struct Frozen {
    pub table: Table,
    /// Stream position after the last record whose effects are in `table`.
    pub end: u64,
    /// The key counts at `end`, persisted with it once the table is in
    /// sled. None for a full sync's tables: the load records its counts
    /// itself.
    pub counts: Option<super::KeyCounts>,
}

pub struct Tables {
    pub active: Table,
    pub active_bytes: usize,
    /// When the active table got its first entry, and the stream position
    /// then: the applier's age and WAL-bytes bounds count from here.
    pub active_since: std::time::Instant,
    pub active_start: u64,
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
            active_since: std::time::Instant::now(),
            active_start: end,
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
        if self.active.is_empty() {
            self.active_since = std::time::Instant::now();
            self.active_start = self.end;
        }
        match self.active.insert(key, value) {
            Some(old) => {
                self.active_bytes =
                    (self.active_bytes + vlen).saturating_sub(old.map_or(0, |v| v.len()));
            }
            None => self.active_bytes += klen + vlen + ENTRY_OVERHEAD,
        }
    }

    /// Moves the active table to the frozen list; returns false if empty.
    pub fn freeze(&mut self, counts: Option<super::KeyCounts>) -> bool {
        if self.active.is_empty() {
            return false;
        }
        let table = std::mem::take(&mut self.active);
        self.active_bytes = 0;
        self.frozen.push(Arc::new(Frozen {
            table,
            end: self.end,
            counts,
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
/// (newest first), tombstones included, in key order. A merge of the
/// layers' ordered ranges: building a map of them was a quarter of an
/// LRANGE of 100 items.
pub fn merged_range(
    layers: &[&Table],
    from: Bound<&[u8]>,
    to: Bound<&[u8]>,
) -> Vec<(Bytes, Option<Bytes>)> {
    let mut iters: Vec<_> = layers
        .iter()
        .map(|t| t.range(from, to).peekable())
        .collect();
    let mut out = Vec::new();
    if let [only] = iters.as_mut_slice() {
        out.extend(only.map(|(k, v)| (k.clone(), v.clone())));
        return out;
    }
    loop {
        // The smallest key at the layers' heads; on a tie the newest layer
        // (the first) wins.
        let mut best: Option<(usize, &Bytes)> = None;
        for (i, it) in iters.iter_mut().enumerate() {
            if let Some(&(k, _)) = it.peek() {
                if best.is_none_or(|(_, b)| k < b) {
                    best = Some((i, k));
                }
            }
        }
        let Some((i, key)) = best else {
            return out;
        };
        for (j, it) in iters.iter_mut().enumerate() {
            if it.peek().is_some_and(|&(k, _)| k == key) {
                if let Some((k, v)) = it.next() {
                    if j == i {
                        out.push((k.clone(), v.clone()));
                    }
                }
            }
        }
    }
}

/// The newest entry of every key across layers' entry lists (newest layer
/// first, each in key order), up to `upper` (inclusive) when given,
/// tombstones included, in key order: `merged_range` over lists a window
/// read has already taken from each layer.
pub fn merge_lists<'a>(
    lists: Vec<Vec<(&'a Bytes, &'a Option<Bytes>)>>,
    upper: Option<&[u8]>,
) -> Vec<(&'a Bytes, &'a Option<Bytes>)> {
    let within = |k: &Bytes| upper.is_none_or(|u| k.as_ref() <= u);
    let mut iters: Vec<_> = lists
        .into_iter()
        .map(|l| l.into_iter().take_while(move |(k, _)| within(k)).peekable())
        .collect();
    let mut out = Vec::new();
    if let [only] = iters.as_mut_slice() {
        out.extend(only);
        return out;
    }
    loop {
        let mut best: Option<(usize, &Bytes)> = None;
        for (i, it) in iters.iter_mut().enumerate() {
            if let Some(&(k, _)) = it.peek() {
                if best.is_none_or(|(_, b)| k < b) {
                    best = Some((i, k));
                }
            }
        }
        let Some((i, key)) = best else {
            return out;
        };
        for (j, it) in iters.iter_mut().enumerate() {
            if it.peek().is_some_and(|&(k, _)| k == key) {
                if let Some((k, v)) = it.next() {
                    if j == i {
                        out.push((k, v));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(pairs: &[(&str, Option<&str>)]) -> Table {
        let mut t = Table::new();
        for (k, v) in pairs {
            t.insert(
                Bytes::from(k.to_string()),
                v.map(|v| Bytes::from(v.to_string())),
            );
        }
        t
    }

    #[test]
    fn merged_range_keeps_the_newest_entry_of_each_key_in_key_order() {
        let newest = table(&[("b", Some("3")), ("d", None)]);
        let middle = table(&[("a", Some("2")), ("b", Some("2")), ("e", Some("2"))]);
        let oldest = table(&[("a", Some("1")), ("c", Some("1")), ("d", Some("1"))]);
        let layers = [&newest, &middle, &oldest];
        let got = merged_range(&layers, Bound::Included(b"a"), Bound::Excluded(b"e"));
        let want: Vec<(Bytes, Option<Bytes>)> = [
            ("a", Some("2")),
            ("b", Some("3")),
            ("c", Some("1")),
            ("d", None),
        ]
        .iter()
        .map(|(k, v)| {
            (
                Bytes::from(k.to_string()),
                v.map(|v| Bytes::from(v.to_string())),
            )
        })
        .collect();
        assert_eq!(got, want);
        let one = merged_range(&layers[2..], Bound::Excluded(b"a"), Bound::Unbounded);
        assert_eq!(one.len(), 2);
        assert_eq!(one[0].0.as_ref(), b"c");
    }

    #[test]
    fn merge_lists_of_first_entries_matches_merged_range_up_to_the_bound() {
        let newest = table(&[("b", Some("3")), ("d", None), ("f", Some("3"))]);
        let middle = table(&[("a", Some("2")), ("b", Some("2")), ("e", Some("2"))]);
        let oldest = table(&[("a", Some("1")), ("c", Some("1")), ("d", Some("1"))]);
        let layers = [&newest, &middle, &oldest];
        for count in 1..5 {
            let lists: Vec<_> = layers
                .iter()
                .map(|l| l.first_n(Bound::Unbounded, Bound::Unbounded, count))
                .collect();
            let upper = lists
                .iter()
                .filter(|l| l.len() >= count)
                .filter_map(|l| l.last().map(|(k, _)| k.to_vec()))
                .min();
            let to = match &upper {
                Some(u) => Bound::Included(u.as_slice()),
                None => Bound::Unbounded,
            };
            let want = merged_range(&layers, Bound::Unbounded, to);
            let got: Vec<_> = merge_lists(lists, upper.as_deref())
                .into_iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            assert_eq!(got, want, "count {count}");
        }
    }
}
