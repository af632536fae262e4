use super::*;

impl Store {
    /// Everything needed to write a snapshot consistent at some offset in
    /// `[start, end]`: the start offset, the generations then, and the write
    /// buffer tables to merge over sled.
    pub fn snapshot_source(&self) -> SnapshotSource<'_> {
        let _w = self.writer.lock();
        let start = self.wal.end_offset();
        let mut t = self.tables.write();
        self.freeze(&mut t);
        let layers: Vec<Arc<Frozen>> = t.frozen.iter().rev().cloned().collect();
        let gens = std::array::from_fn(|db| self.gen(db));
        let slots = std::array::from_fn(|db| self.slot(db) as u8);
        SnapshotSource {
            store: self,
            start,
            layers,
            gens,
            slots,
        }
    }
}

type PairFn<'a> = dyn FnMut(&[u8], &[u8]) -> std::io::Result<()> + 'a;

/// A fuzzy, merged view of the keyspace for snapshots.
pub struct SnapshotSource<'a> {
    store: &'a Store,
    pub start: u64,
    layers: Vec<Arc<Frozen>>,
    pub gens: [u32; MAX_DBS],
    /// The slot of each logical database (SWAPDB).
    pub slots: [u8; MAX_DBS],
}

impl SnapshotSource<'_> {
    /// Calls `f` with every live raw (key, value) pair in key order: the
    /// generation keys, the slot map, the function libraries, then each
    /// slot's current keys. Values from the
    /// write buffer win over sled's.
    pub fn for_each(
        &self,
        mut f: impl FnMut(&[u8], &[u8]) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        for db in 0..MAX_DBS {
            if self.gens[db] != 0 {
                f(&gen_key(db as u8), &self.gens[db].to_be_bytes())?;
            }
        }
        for db in 0..MAX_DBS {
            if self.slots[db] as usize != db {
                f(&keys::slot_key(db as u8), &[self.slots[db]])?;
            }
        }
        // Function libraries sort after the internal pairs, before the data.
        self.merge_live(&[keys::FUNCTION], &[keys::FUNCTION + 1], None, &mut f)?;
        for db in 0..MAX_DBS {
            let big = self.store.counts[db].load(Ordering::Relaxed) >= SPLIT_SCAN_MIN_KEYS;
            self.merge_prefix_split(&db_prefix(db as u8, self.gens[db]), None, big, &mut f)?;
        }
        // Collection elements, without those of versions whose metadata is
        // gone (not yet reclaimed).
        for db in 0..MAX_DBS {
            let mut prefix = db_prefix(db as u8, self.gens[db]);
            prefix[0] = keys::SUB;
            self.merge_prefix_split(&prefix, Some(db), true, &mut f)?;
        }
        Ok(())
    }

    /// A filter for one pass over a range: every pair of the keys pass,
    /// and of the elements of `db` (`sub`) those whose collection version
    /// is still the key's, looked up once per run of one version.
    pub(super) fn liveness(&self, sub: Option<usize>) -> impl FnMut(&[u8]) -> bool + '_ {
        // (key, version) of the last element checked, and the answer.
        let mut last: Option<(Vec<u8>, bool)> = None;
        move |k: &[u8]| {
            let Some(db) = sub else {
                return true;
            };
            let Some(sk) = keys::parse_sub_key(k) else {
                return false;
            };
            let group = &k[..k.len() - sk.field.len()];
            match &last {
                Some((g, live)) if g.as_slice() == group => *live,
                _ => {
                    let live =
                        self.meta_version(db, sk.key) == Some(sk.version) || self.staged(group);
                    last = Some((group.to_vec(), live));
                    live
                }
            }
        }
    }

    /// Every live pair with `prefix` (filtered by [`Self::liveness`]), in
    /// key order. When `split` and sled has keys far enough apart, a second
    /// thread reads the upper half of the range ahead, up to
    /// `Budget::scan_ahead`, while this one reads the lower half: sled's
    /// iteration was most of a snapshot's time (1.2 s of a 1M-key full sync).
    pub(super) fn merge_prefix_split(
        &self,
        prefix: &[u8],
        sub: Option<usize>,
        split: bool,
        f: &mut PairFn<'_>,
    ) -> std::io::Result<()> {
        let mut end = prefix.to_vec();
        increment(&mut end);
        let mid = if split {
            self.split_point(prefix, &end)
        } else {
            None
        };
        let Some(mid) = mid else {
            return self.merge_live(prefix, &end, sub, f);
        };
        type Chunk = std::io::Result<Vec<(Vec<u8>, Vec<u8>)>>;
        let (tx, rx) = std::sync::mpsc::sync_channel::<Chunk>(
            (self.store.budget().scan_ahead() / SPLIT_SCAN_CHUNK_BYTES).max(1),
        );
        std::thread::scope(|s| {
            let (mid, end) = (&mid, &end);
            std::thread::Builder::new()
                .name("snapshot-scan".into())
                .spawn_scoped(s, move || {
                    let mut chunk = Vec::new();
                    let mut bytes = 0;
                    let gone = || std::io::Error::other("the snapshot writer stopped");
                    let r = self.merge_live(mid, end, sub, &mut |k, v| {
                        bytes += k.len() + v.len();
                        chunk.push((k.to_vec(), v.to_vec()));
                        if bytes >= SPLIT_SCAN_CHUNK_BYTES {
                            tx.send(Ok(std::mem::take(&mut chunk)))
                                .map_err(|_| gone())?;
                            bytes = 0;
                        }
                        Ok(())
                    });
                    let _ = tx.send(r.map(|()| chunk));
                })?;
            self.merge_live(prefix, mid, sub, f)?;
            for chunk in rx {
                for (k, v) in chunk? {
                    f(&k, &v)?;
                }
            }
            Ok(())
        })
    }

    /// `merge_range` of the pairs [`Self::liveness`] keeps.
    pub(super) fn merge_live(
        &self,
        lo: &[u8],
        hi: &[u8],
        sub: Option<usize>,
        f: &mut PairFn<'_>,
    ) -> std::io::Result<()> {
        let mut live = self.liveness(sub);
        self.merge_range(lo, hi, &mut |k, v| if live(k) { f(k, v) } else { Ok(()) })
    }

    /// A key between the first and last keys in `[lo, hi)` (of sled and
    /// the write buffer), to split a scan there; None when there is nothing
    /// to split.
    pub(super) fn split_point(&self, lo: &[u8], hi: &[u8]) -> Option<Vec<u8>> {
        let (from, to) = (Bound::Included(lo), Bound::Excluded(hi));
        let mut first: Option<Vec<u8>> = self
            .store
            .base_range(from, to)
            .next()
            .and_then(|r| r.ok())
            .map(|(k, _)| k.to_vec());
        let mut last: Option<Vec<u8>> = self.store.sled_last(lo, hi).map(|(k, _)| k.to_vec());
        for l in &self.layers {
            if let Some((k, _)) = l.table.range(from, to).next() {
                if first.as_ref().is_none_or(|f| k.as_ref() < f.as_slice()) {
                    first = Some(k.to_vec());
                }
            }
            if let Some((k, _)) = l.table.last_n(from, to, 1).first() {
                if last.as_ref().is_none_or(|x| k.as_ref() > x.as_slice()) {
                    last = Some(k.to_vec());
                }
            }
        }
        midpoint(&first?, &last?)
    }

    /// The collection version of `key`'s metadata in this view.
    pub(super) fn meta_version(&self, db: usize, key: &[u8]) -> Option<u64> {
        let k = data_key(db as u8, self.gens[db], key);
        for l in &self.layers {
            if let Some(v) = l.table.get(&k) {
                return v.as_ref().and_then(|v| Meta::peek_coll_version(v));
            }
        }
        let v = self.store.base_get(&k).ok()??;
        Meta::peek_coll_version(&v)
    }

    /// Whether element prefix `p` is a staged write's (`store/stage.rs`):
    /// its elements went ahead of the record that will name them, which
    /// may come after this snapshot's start (a replica mid-stream).
    fn staged(&self, p: &[u8]) -> bool {
        let k = keys::staging_key(p);
        for l in &self.layers {
            if let Some(v) = l.table.get(&k) {
                return v.is_some();
            }
        }
        matches!(self.store.base_get(&k), Ok(Some(_)))
    }

    /// Every live pair in `[lo, hi)`, write buffer over sled, in key order.
    pub(super) fn merge_range(
        &self,
        lo: &[u8],
        hi: &[u8],
        f: &mut PairFn<'_>,
    ) -> std::io::Result<()> {
        let tables: Vec<&memtable::Table> = self.layers.iter().map(|f| &f.table).collect();
        let mem = merged_range(&tables, Bound::Included(lo), Bound::Excluded(hi));
        let mut mem_iter = mem.into_iter().peekable();
        for item in self
            .store
            .base_range(Bound::Included(lo), Bound::Excluded(hi))
        {
            let (k, v) = item.map_err(|e| std::io::Error::other(e.to_string()))?;
            while let Some((mk, _)) = mem_iter.peek() {
                if mk.as_ref() < k.as_ref() {
                    let (mk, mv) = mem_iter.next().unwrap_or_default();
                    if let Some(mv) = mv {
                        f(&mk, &mv)?;
                    }
                } else {
                    break;
                }
            }
            match mem_iter.peek() {
                Some((mk, _)) if mk.as_ref() == k.as_ref() => {
                    let (mk, mv) = mem_iter.next().unwrap_or_default();
                    if let Some(mv) = mv {
                        f(&mk, &mv)?;
                    }
                }
                _ => f(&k, &v)?,
            }
        }
        for (mk, mv) in mem_iter {
            if let Some(mv) = mv {
                f(&mk, &mv)?;
            }
        }
        Ok(())
    }
}

/// A database with this many keys has its snapshot scan split in two.
const SPLIT_SCAN_MIN_KEYS: i64 = 10_000;
const SPLIT_SCAN_CHUNK_BYTES: usize = 256 << 10;

/// A key `m` with `a < m < b` (for `a < b`), halfway between them in the
/// 16 bytes after their common prefix; None when they are too close.
pub(super) fn midpoint(a: &[u8], b: &[u8]) -> Option<Vec<u8>> {
    let c = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let word = |s: &[u8]| {
        let mut w = [0u8; 16];
        for (i, byte) in s.iter().skip(c).take(16).enumerate() {
            w[i] = *byte;
        }
        u128::from_be_bytes(w)
    };
    let (x, y) = (word(a), word(b));
    if y <= x.saturating_add(1) {
        return None;
    }
    let m = x + (y - x) / 2;
    let mut out = b[..c].to_vec();
    out.extend_from_slice(&m.to_be_bytes());
    Some(out)
}
