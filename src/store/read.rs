use super::*;
use std::cell::RefCell;

thread_local! {
    /// A storage read error met by the command running on this thread: its
    /// reply becomes that error and its writes are dropped
    /// (`command::dispatch`), instead of answering from a partial read.
    static READ_ERROR: RefCell<Option<Error>> = const { RefCell::new(None) };
}

/// The storage read error this thread met since the last call, if any.
pub fn take_read_error() -> Option<Error> {
    READ_ERROR.with(|e| e.borrow_mut().take())
}

thread_local! {
    /// Set while a read-only command runs on this thread: its key lookups
    /// count as keyspace hits or misses (Redis's `lookupKeyRead`).
    static COUNT_LOOKUPS: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Turns lookup counting on or off for this thread; returns what it was.
pub fn count_lookups(on: bool) -> bool {
    COUNT_LOOKUPS.with(|c| c.replace(on))
}

fn read_failed(e: Error) {
    tracing::error!("sled read failed: {e}");
    READ_ERROR.with(|r| *r.borrow_mut() = Some(e));
}

impl Store {
    /// Counts a key lookup as a hit or a miss if a read-only command made
    /// it (`count_lookups`).
    #[inline]
    pub fn note_lookup(&self, found: bool) {
        if COUNT_LOOKUPS.with(|c| c.get()) {
            let c = if found {
                &self.stats.keyspace_hits
            } else {
                &self.stats.keyspace_misses
            };
            c.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The generation of physical slot `slot` (see `slots.rs`).
    pub fn gen(&self, slot: usize) -> u32 {
        self.gens[slot].load(Ordering::Acquire)
    }

    /// The newest value of a raw sled-level key (metadata or a collection
    /// element): the write buffer first, then the engine (its read cache,
    /// then sled).
    pub fn raw_get(&self, key: &[u8]) -> Option<Bytes> {
        if let Some(v) = self.tables.read().get(key) {
            return v;
        }
        match self.base_get(key) {
            Ok(v) => v.map(|v| Bytes::copy_from_slice(&v)),
            Err(e) => {
                read_failed(e);
                None
            }
        }
    }

    /// What sled holds for `key`, or a full sync's snapshot while sled
    /// loads it (`overlay.rs`).
    pub(super) fn base_get(&self, key: &[u8]) -> Result<Option<engine::Slice>, Error> {
        crate::faults::check("sled-read").map_err(|e| Error::Io(e.to_string()))?;
        if let Some(o) = self.overlay.read().as_ref() {
            return o.get(key);
        }
        self.engine.get(key)
    }

    /// Pairs of sled (or of the overlay, as `base_get`) in key order.
    pub(super) fn base_range<'a>(
        &self,
        from: Bound<&'a [u8]>,
        to: Bound<&'a [u8]>,
    ) -> Box<dyn Iterator<Item = Result<engine::Pair, Error>> + 'a> {
        if let Err(e) = crate::faults::check("sled-read") {
            return Box::new(std::iter::once(Err(Error::Io(e.to_string()))));
        }
        if let Some(o) = self.overlay.read().as_ref() {
            return Box::new(o.range(from, to));
        }
        self.engine.range(from, to)
    }

    /// The sled key of `key`'s metadata when reading it would go to sled
    /// (it is in neither the write buffer nor the read cache), else None.
    pub fn cold_key(&self, db: usize, key: &[u8]) -> Option<Bytes> {
        let (s, g) = self.loc(db);
        let raw = data_key(s, g, key);
        if self.tables.read().get(&raw).is_some() || self.engine.cached(&raw).is_some() {
            return None;
        }
        Some(raw)
    }

    /// Reads a raw key into the read cache (`server/disk_reads.rs`).
    pub fn warm(&self, raw: &[u8]) {
        let _ = self.raw_get(raw);
    }

    /// A key's metadata, ignoring expiry.
    pub fn get_meta_raw(&self, db: usize, key: &[u8]) -> Option<Meta> {
        let (s, g) = self.loc(db);
        let v = self.raw_get(&data_key(s, g, key))?;
        Meta::decode(&v)
    }

    /// A live key's metadata; an expired key reads as absent (and, on a
    /// master, is queued for deletion).
    pub fn get(&self, db: usize, key: &[u8], now: i64) -> Option<Meta> {
        let m = self.get_meta_raw(db, key)?;
        if m.is_expired(now) {
            self.note_expired(db, key);
            return None;
        }
        Some(m)
    }

    pub(super) fn note_expired(&self, db: usize, key: &[u8]) {
        if !self.is_follower() {
            let mut q = self.expired_seen.lock();
            if q.len() < 10_000 {
                q.push((db as u8, Bytes::copy_from_slice(key)));
            }
        }
    }

    pub fn dbsize(&self, db: usize) -> i64 {
        self.counts[self.slot(db)].load(Ordering::Relaxed).max(0)
    }

    /// Live keys of `db` after `after` (exclusive), in key order, at most about
    /// `count` of them, with a cursor to continue from (None when done).
    /// Merges the write buffer with sled.
    pub fn scan(
        &self,
        db: usize,
        after: Option<&[u8]>,
        count: usize,
        now: i64,
    ) -> (Vec<(Bytes, Meta)>, Option<Bytes>) {
        let (s, g) = self.loc(db);
        let prefix = db_prefix(s, g);
        let (start, excluded) = match after {
            Some(k) => ([&prefix[..], k].concat(), true),
            None => (prefix.to_vec(), false),
        };
        let mut end = prefix.to_vec();
        // The prefix's successor: bump the last byte of gen (gen < u32::MAX).
        increment(&mut end);
        let mut merged = Vec::new();
        let (_, upper) = self.raw_window(&start, excluded, &end, count, usize::MAX, &mut |k, v| {
            merged.push((k.clone(), v.clone()))
        });
        let next = upper.map(|k| Bytes::copy_from_slice(&k[keys::DATA_PREFIX_LEN..]));
        let mut out = Vec::with_capacity(merged.len());
        for (k, v) in merged {
            let Some(m) = Meta::decode(&v) else { continue };
            if m.is_expired(now) {
                self.note_expired(db, &k[keys::DATA_PREFIX_LEN..]);
                continue;
            }
            out.push((k.slice(keys::DATA_PREFIX_LEN..), m));
        }
        (out, next)
    }

    /// Elements under `prefix` after the field `after`, as (field, value).
    pub fn sub_range(
        &self,
        prefix: &[u8],
        after: Option<&[u8]>,
        count: usize,
    ) -> (Vec<(Bytes, Bytes)>, bool) {
        let mut out = Vec::new();
        let (start, end) = sub_bounds(prefix, after);
        let more = self.raw_range_each(&start, after.is_some(), &end, count, |k, v| {
            out.push((k.slice(prefix.len().min(k.len())..), v.clone()))
        });
        (out, more)
    }

    /// [`Store::sub_range`] handing each (field, value) to `f` by
    /// reference; true if more follow.
    pub fn sub_range_each(
        &self,
        prefix: &[u8],
        after: Option<&[u8]>,
        count: usize,
        mut f: impl FnMut(&[u8], &Bytes),
    ) -> bool {
        let (start, end) = sub_bounds(prefix, after);
        self.raw_range_each(&start, after.is_some(), &end, count, |k, v| {
            f(&k[prefix.len().min(k.len())..], v)
        })
    }

    /// The greatest live pair with a key in `[start, end)`. Reads
    /// backwards in growing windows, so a run of deletions in the write
    /// buffer costs a few reads, not one per deletion.
    pub fn raw_last(&self, start: &[u8], end: &[u8]) -> Option<(Bytes, Bytes)> {
        let mut end = end.to_vec();
        let mut n = 4usize;
        loop {
            let from = Bound::Included(start);
            let to = Bound::Excluded(end.as_slice());
            // Every source's `n` greatest keys; below the greatest of their
            // n-th keys (the floor) the merge is incomplete.
            let mut merged: std::collections::BTreeMap<Bytes, Option<Bytes>> = Default::default();
            let mut floor: Option<Bytes> = None;
            let note_floor = |k: &Bytes, full: bool, floor: &mut Option<Bytes>| {
                if full && floor.as_ref().is_none_or(|f| k > f) {
                    *floor = Some(k.clone());
                }
            };
            // The write buffer is held across the sled read: a table the
            // applier puts into sled meanwhile stays visible until we are
            // done, so none of its changes (deletions above all) is missed.
            {
                let t = self.tables.read();
                let sled = self.sled_rev_n(start, &end, n);
                if let Some((k, _)) = sled.last() {
                    note_floor(k, sled.len() == n, &mut floor);
                }
                for (k, v) in sled {
                    merged.insert(k, Some(v));
                }
                // Oldest layer first, so newer entries overwrite older ones.
                for l in t.layers().into_iter().rev() {
                    let part = l.last_n(from, to, n);
                    if let Some((k, _)) = part.last() {
                        note_floor(k, part.len() == n, &mut floor);
                    }
                    for (k, v) in part {
                        merged.insert(k.clone(), v.clone());
                    }
                }
            }
            for (k, v) in merged.iter().rev() {
                if floor.as_ref().is_some_and(|f| k < f) {
                    break;
                }
                if let Some(v) = v {
                    return Some((k.clone(), v.clone()));
                }
            }
            // Nothing live at or above the floor: continue below it.
            let f = floor?;
            end = f.to_vec();
            n = (n * 4).min(4096);
        }
    }

    /// sled's `n` greatest pairs in `[start, end)`, greatest first: sled's
    /// reverse iteration, unless it panics (see `sled_last_n`); then the
    /// forward-only walk answers.
    pub(super) fn sled_rev_n(&self, start: &[u8], end: &[u8], n: usize) -> Vec<(Bytes, Bytes)> {
        // A full sync's file has no reverse iteration: the walk reads it
        // forward (`base_range`).
        if self.overlay.read().is_some() {
            return self.sled_last_n(start, end, n);
        }
        let rev = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut out = Vec::new();
            for r in self
                .engine
                .range_rev(Bound::Included(start), Bound::Excluded(end))
                .take(n)
            {
                match r {
                    Ok((k, v)) => {
                        out.push((Bytes::copy_from_slice(&k), Bytes::copy_from_slice(&v)))
                    }
                    Err(e) => {
                        read_failed(e);
                        break;
                    }
                }
            }
            out
        }));
        match rev {
            Ok(v) => v,
            Err(_) => {
                tracing::warn!(
                    "sled reverse iteration failed (sled 0.34 bug); reading forward instead"
                );
                self.sled_last_n(start, end, n)
            }
        }
    }

    /// sled's `n` greatest pairs in `[start, end)`, greatest first, read
    /// with forward iteration only: sled 0.34's reverse iteration can loop
    /// (and panic after a million turns) when a node boundary follows a run
    /// of 0xff bytes, which list indices and negative scores produce. The
    /// last pair is found by walking down its bytes (see `sled_last`), the
    /// ones before it by the same walk below it.
    pub(super) fn sled_last_n(&self, start: &[u8], end: &[u8], n: usize) -> Vec<(Bytes, Bytes)> {
        let mut out = Vec::new();
        let mut end = end.to_vec();
        while out.len() < n {
            let Some((k, v)) = self.sled_last(start, &end) else {
                break;
            };
            end = k.to_vec();
            out.push((Bytes::copy_from_slice(&k), Bytes::copy_from_slice(&v)));
        }
        out
    }

    /// The greatest sled pair with a key in `[start, end)`. Every key in the
    /// range starts with the common prefix of `start` and `end`; from there
    /// the walk extends the prefix of the greatest key one byte at a time:
    /// a byte shared by every key left costs one read, a branching byte a
    /// binary search over the bytes present.
    pub(super) fn sled_last(&self, start: &[u8], end: &[u8]) -> Option<engine::Pair> {
        if start >= end {
            return None;
        }
        let first_from = |from: &[u8], excl: bool| -> Option<engine::Pair> {
            let lo = if excl {
                Bound::Excluded(from)
            } else {
                Bound::Included(from)
            };
            let from = if from < start {
                Bound::Included(start)
            } else {
                lo
            };
            match self.base_range(from, Bound::Excluded(end)).next()? {
                Ok(p) => Some(p),
                Err(e) => {
                    read_failed(e);
                    None
                }
            }
        };
        let mut prefix: Vec<u8> = start
            .iter()
            .zip(end.iter())
            .take_while(|(a, b)| a == b)
            .map(|(a, _)| *a)
            .collect();
        // The smallest key starting with `prefix` (the greatest key does too).
        let mut cur = first_from(start, false)?;
        loop {
            // `cur` is the only key under `prefix`: it is the greatest.
            let next = first_from(&cur.0, true);
            if next.as_ref().is_none_or(|(k, _)| !k.starts_with(&prefix)) {
                return Some(cur);
            }
            if cur.0.len() == prefix.len() {
                // `cur` is the prefix itself; the greatest is below it.
                let Some(n) = next else {
                    return Some(cur);
                };
                cur = n;
            }
            let at = prefix.len();
            let mut lo = cur.0[at];
            // Every key under `prefix` has byte `lo` here: one read.
            let above = lo
                .checked_add(1)
                .and_then(|b| first_from(&[&prefix[..], &[b]].concat(), false))
                .filter(|(k, _)| k.starts_with(&prefix));
            if let Some((k, _)) = &above {
                // A branching byte: the greatest one with a key under it.
                lo = k[at];
                let mut hi = u8::MAX;
                while lo < hi {
                    let mid = lo + (hi - lo).div_ceil(2);
                    match first_from(&[&prefix[..], &[mid]].concat(), false)
                        .filter(|(k, _)| k.starts_with(&prefix))
                    {
                        Some((k, _)) => lo = k[at].max(mid),
                        None => hi = mid - 1,
                    }
                }
                cur = first_from(&[&prefix[..], &[lo]].concat(), false)?;
            }
            prefix.push(lo);
        }
    }

    /// Raw pairs with keys in `[start, end)` (start excluded if `after`), in
    /// key order, at most about `count`, merging the write buffer with sled
    /// (deletions hide sled's pairs). `more` says the range continues after
    /// the last pair returned.
    pub fn raw_range(
        &self,
        start: &[u8],
        after: bool,
        end: &[u8],
        count: usize,
    ) -> (Vec<(Bytes, Bytes)>, bool) {
        let mut out = Vec::new();
        let more = self.raw_range_each(start, after, end, count, |k, v| {
            out.push((k.clone(), v.clone()))
        });
        (out, more)
    }

    /// [`Store::raw_range`] handing each pair to `emit` by reference: a
    /// reply can be written from the pairs without taking a reference to
    /// each (LRANGE). At most `count` pairs; true if the range goes on
    /// after them. `emit` runs with the write buffer read-locked, so it
    /// must not call into the store.
    pub fn raw_range_each(
        &self,
        start: &[u8],
        after: bool,
        end: &[u8],
        count: usize,
        mut emit: impl FnMut(&Bytes, &Bytes),
    ) -> bool {
        // A window can hold only deletions (write-buffer tombstones over
        // sled's pairs): then look further, so that an empty answer always
        // means the range is exhausted.
        let (mut n, mut upper) = self.raw_window(start, after, end, count, count, &mut emit);
        let mut window = count;
        while n == 0 {
            let Some(u) = upper else { break };
            // Runs of deletions are skipped in growing steps.
            window = (window * 2).min(4096);
            (n, upper) = self.raw_window(&u, true, end, window, count, &mut emit);
        }
        upper.is_some()
    }

    /// One merge window of [`Store::raw_range_each`]: reads about `read`
    /// keys from each source, emits at most `limit` live pairs, and returns
    /// how many it emitted and the last key examined when the range goes
    /// on (the last emitted one if `limit` cut the window short).
    pub(super) fn raw_window(
        &self,
        start: &[u8],
        after: bool,
        end: &[u8],
        read: usize,
        limit: usize,
        emit: &mut impl FnMut(&Bytes, &Bytes),
    ) -> (usize, Option<Vec<u8>>) {
        let read = read.max(1);
        let from_b = if after {
            Bound::Excluded(start)
        } else {
            Bound::Included(start)
        };
        let from_v = if after {
            Bound::Excluded(start.to_vec())
        } else {
            Bound::Included(start.to_vec())
        };
        // As in `scan`: each source gives at most `read` keys and the
        // smallest read-th key bounds the window where the merge is exact.
        // Held from before the sled read (see `raw_last`).
        let t = self.tables.read();
        // After taking the buffer, before the sled read: a window read at
        // this epoch may be reused only while sled has not changed (see
        // range_cache.rs). Read before the buffer, the epoch could predate a
        // table that left the buffer in between, and an old window would
        // miss that table's writes.
        let epoch = self.engine.epoch();
        let (sled_pairs, sled_range, mut upper) =
            self.sled_window(epoch, start, after, from_v, end, read);
        let mem = {
            // Each layer's first `read` entries, walked once: a layer's
            // keys up to the window's bound are all among them.
            let lists: Vec<_> = t
                .layers()
                .iter()
                .map(|l| l.first_n(from_b, Bound::Excluded(end), read))
                .collect();
            for l in &lists {
                if let (true, Some((k, _))) = (l.len() >= read, l.last()) {
                    if upper.as_ref().is_none_or(|u| k.as_ref() < u.as_slice()) {
                        upper = Some(k.to_vec());
                    }
                }
            }
            memtable::merge_lists(lists, upper.as_deref())
        };
        // `t` stays held while the pairs are emitted: they are borrowed
        // from the buffer, not cloned (a reply is written from them).
        let mut sled = &sled_pairs[sled_range];
        if let Some(u) = &upper {
            sled = &sled[..sled.partition_point(|(k, _)| k.as_ref() <= u.as_slice())];
        }
        let mut emitted = 0;
        let mut last: Option<&Bytes> = None;
        for (k, v) in merge_over(&mem, sled) {
            if emitted == limit {
                upper = last.map(|k| k.to_vec());
                break;
            }
            emit(k, v);
            emitted += 1;
            last = Some(k);
        }
        (emitted, upper)
    }

    /// sled's first `count` pairs of a range (a range of a shared read),
    /// and the last one's key if it took all `count` (the range may go on),
    /// through the range cache. Keys written while sled is read may come
    /// out old, new or missing (the buffer merged over them answers), but
    /// every other key of the range is there, page splits or not (see
    /// `PageRange` in engine.rs).
    pub(super) fn sled_window(
        &self,
        epoch: u64,
        start: &[u8],
        after: bool,
        from: Bound<Vec<u8>>,
        end: &[u8],
        count: usize,
    ) -> (range_cache::Pairs, std::ops::Range<usize>, Option<Vec<u8>>) {
        let upper_of = |pairs: &[(Bytes, Bytes)]| {
            (pairs.len() >= count)
                .then(|| pairs.last().map(|(k, _)| k.to_vec()))
                .flatten()
        };
        let read = match self.ranges.lock().lookup(epoch, start, after, end, count) {
            range_cache::Lookup::Hit(pairs, range, more) => {
                let upper = if more {
                    upper_of(&pairs[range.clone()])
                } else {
                    None
                };
                return (pairs, range, upper);
            }
            range_cache::Lookup::Miss(n) => n,
        };
        let mut pairs: Vec<(Bytes, Bytes)> = Vec::new();
        let from = from.as_ref().map(|v| v.as_slice());
        let mut failed = false;
        for item in self.base_range(from, Bound::Excluded(end)) {
            let (k, v) = match item {
                Ok(p) => p,
                Err(e) => {
                    read_failed(e);
                    failed = true;
                    break;
                }
            };
            pairs.push((Bytes::copy_from_slice(&k), Bytes::copy_from_slice(&v)));
            if pairs.len() >= read {
                break;
            }
        }
        let pairs: range_cache::Pairs = pairs.into();
        if failed {
            // Not remembered: the command answers an error anyway.
            let range = 0..pairs.len().min(count);
            return (pairs, range, None);
        }
        self.ranges
            .lock()
            .store(epoch, start, after, end, &pairs, read);
        let range = 0..pairs.len().min(count);
        let upper = upper_of(&pairs[range.clone()]);
        (pairs, range, upper)
    }

    /// Calls `f` with every live key of `db` in key order, a page of
    /// `scan` at a time (KEYS, DEBUG DIGEST, RANDOMKEY on small dbs).
    pub fn for_each_key(&self, db: usize, now: i64, mut f: impl FnMut(Bytes, Meta)) {
        let mut after: Option<Bytes> = None;
        loop {
            let (batch, next) = self.scan(db, after.as_deref(), 1000, now);
            for (k, m) in batch {
                f(k, m);
            }
            match next {
                Some(n) => after = Some(n),
                None => return,
            }
        }
    }
}

/// The raw key range of a collection's elements after the field `after`.
pub(super) fn sub_bounds(prefix: &[u8], after: Option<&[u8]>) -> (Vec<u8>, Vec<u8>) {
    let start = match after {
        Some(f) => [prefix, f].concat(),
        None => prefix.to_vec(),
    };
    let mut end = prefix.to_vec();
    increment(&mut end);
    (start, end)
}

/// The write buffer's entries (tombstones included) over sled's pairs,
/// both in key order: the live pairs, the buffer's entry winning.
pub(super) fn merge_over<'a>(
    mem: &'a [(&'a Bytes, &'a Option<Bytes>)],
    sled: &'a [(Bytes, Bytes)],
) -> impl Iterator<Item = (&'a Bytes, &'a Bytes)> {
    let (mut m, mut s) = (0, 0);
    std::iter::from_fn(move || loop {
        match (mem.get(m).copied(), sled.get(s)) {
            (Some((mk, mv)), Some((sk, sv))) => {
                if sk < mk {
                    s += 1;
                    return Some((sk, sv));
                }
                s += usize::from(sk == mk);
                m += 1;
                if let Some(v) = mv {
                    return Some((mk, v));
                }
            }
            (Some((mk, mv)), None) => {
                m += 1;
                if let Some(v) = mv {
                    return Some((mk, v));
                }
            }
            (None, Some((sk, sv))) => {
                s += 1;
                return Some((sk, sv));
            }
            (None, None) => return None,
        }
    })
}

/// The smallest byte string greater than every string with prefix `v`.
pub(super) fn increment(v: &mut Vec<u8>) {
    while let Some(last) = v.last_mut() {
        if *last < 0xff {
            *last += 1;
            return;
        }
        v.pop();
    }
}
