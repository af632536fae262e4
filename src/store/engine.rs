//! The one file that names sled: the ordered key/value engine under the
//! store, behind a narrow interface (open, point reads, sorted batches of
//! writes, ordered ranges, flush), so another embedded engine could stand
//! in its place.
//!
//! Three trees: `pages` holds the data (see `keys.rs`) packed into pages
//! (`pages.rs`), `pages-side` the values too long for a page, and
//! `sledis-meta` the node's own state (applied offset, key counts,
//! replication ids).

use super::page_cache::PageCache;
use super::pages::{self, Page, Val};
use super::Error;
use parking_lot::{Mutex, RwLock};
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A value or key read from the engine: shared, cheap to clone, derefs to
/// bytes.
pub type Slice = sled::IVec;

pub type Pair = (Slice, Slice);

/// One write of a batch: a key and its new value, or None to remove it.
pub type Op<'a> = (&'a [u8], Option<&'a [u8]>);

/// A `Slice` holding a copy of `b` (for pairs that do not come from sled).
pub fn slice(b: &[u8]) -> Slice {
    Slice::from(b)
}

const PAGES_TREE: &str = "pages";
const SIDE_TREE: &str = "pages-side";
const META_TREE: &str = "sledis-meta";
/// The layout before pages, one sled entry per key: converted at open.
const KEYS_TREE: &str = "keyspace";
/// Writes per batch when converting or loading.
const BATCH: usize = 4096;
/// Set once no page holds a stale entry (see `Trees::drop_stale`).
const CLEAN: &[u8] = b"pages-clean";

type IoNote = Arc<Mutex<Option<String>>>;

/// sled's error as ours, noting it if it is an I/O error (see `Engine`).
fn note(io_error: &Mutex<Option<String>>, e: sled::Error) -> Error {
    let msg = e.to_string();
    if matches!(e, sled::Error::Io(_)) {
        *io_error.lock() = Some(msg.clone());
        return Error::Io(msg);
    }
    Error::Engine(msg)
}

fn damaged(fence: &[u8], c: pages::Corrupt) -> Error {
    Error::Engine(format!(
        "damaged page {} in sled: {}",
        crate::util::show(fence),
        c.0
    ))
}

/// One open sled database and its trees.
struct Trees {
    db: sled::Db,
    pages: sled::Tree,
    side: sled::Tree,
    meta: sled::Tree,
}

impl Trees {
    fn open(path: &Path, cache_bytes: u64, io: &IoNote) -> Result<Trees, Error> {
        let db = sled::Config::new()
            .path(path)
            .cache_capacity(cache_bytes)
            .open()
            .map_err(|e| Error::Engine(format!("sled failed to open {}: {e}", path.display())))?;
        let tree = |name: &str| db.open_tree(name).map_err(|e| Error::Engine(e.to_string()));
        let t = Trees {
            pages: tree(PAGES_TREE)?,
            side: tree(SIDE_TREE)?,
            meta: tree(META_TREE)?,
            db,
        };
        t.convert_keys_tree(io)?;
        if t.meta.get(CLEAN).map_err(|e| note(io, e))?.is_none() {
            t.drop_stale(io)?;
            t.meta.insert(CLEAN, b"1").map_err(|e| note(io, e))?;
            t.db.flush().map_err(|e| note(io, e))?;
        }
        Ok(t)
    }

    /// Rewrites the pages that hold stale entries, once per data dir.
    /// Splits are atomic now, but a data dir written before could have
    /// kept the stale entries of a split a crash interrupted, and a cached
    /// page answers from its first key on (see `page_cache.rs`).
    fn drop_stale(&self, io: &IoNote) -> Result<(), Error> {
        let err = |e| note(io, e);
        let mut below: Option<Slice> = None;
        let mut fixed = 0u64;
        let mut buf = Vec::new();
        for item in self.pages.iter() {
            let (c, page) = item.map_err(err)?;
            let bad = |e| damaged(&c, e);
            let p = Page::parse(&page).map_err(bad)?;
            if let Some(b) = &below {
                let (from, eq) = p.seek(b).map_err(bad)?;
                let from = from + usize::from(eq);
                if from > 0 {
                    let mut entries = Vec::with_capacity(p.len() - from);
                    for i in from..p.len() {
                        entries.push((p.key(i).map_err(bad)?, p.value(i).map_err(bad)?));
                    }
                    pages::encode(&entries, &mut buf);
                    self.pages.insert(&c, &buf[..]).map_err(err)?;
                    fixed += 1;
                }
            }
            below = Some(c);
        }
        if fixed > 0 {
            tracing::warn!("dropped the stale entries of {fixed} interrupted page split(s)");
        }
        Ok(())
    }

    /// Moves a data dir written before pages into pages. Interrupted, it
    /// starts over at the next open (writing a pair twice is harmless).
    fn convert_keys_tree(&self, io: &IoNote) -> Result<(), Error> {
        let err = |e| note(io, e);
        if !self
            .db
            .tree_names()
            .iter()
            .any(|n| n == KEYS_TREE.as_bytes())
        {
            return Ok(());
        }
        let old = self.db.open_tree(KEYS_TREE).map_err(err)?;
        if !old.is_empty() {
            let t0 = Instant::now();
            tracing::info!("converting the data dir's sled keyspace to pages");
            let mut batch: Vec<Pair> = Vec::with_capacity(BATCH);
            let mut n = 0u64;
            for item in old.iter() {
                batch.push(item.map_err(err)?);
                if batch.len() == BATCH {
                    n += batch.len() as u64;
                    self.apply_pairs(&batch, io)?;
                    batch.clear();
                }
            }
            n += batch.len() as u64;
            self.apply_pairs(&batch, io)?;
            self.db.flush().map_err(err)?;
            tracing::info!(
                "converted {n} sled entries to pages in {:.1}s",
                t0.elapsed().as_secs_f64()
            );
        }
        self.db.drop_tree(KEYS_TREE).map_err(err)?;
        self.db.flush().map_err(err)?;
        Ok(())
    }

    fn apply_pairs(&self, pairs: &[Pair], io: &IoNote) -> Result<(), Error> {
        let ops: Vec<Op> = pairs.iter().map(|(k, v)| (&k[..], Some(&v[..]))).collect();
        self.apply(&ops, io, &PageCache::new(0))
    }

    /// The greatest key, when the last page has it (None: unknown). An
    /// empty keyspace gives the empty key, below every key.
    fn upper(&self, io: &IoNote) -> Result<Option<Slice>, Error> {
        let Some(top) = self.pages.get(TOP).map_err(|e| note(io, e))? else {
            let empty = self.pages.is_empty();
            return Ok(empty.then(|| slice(b"")));
        };
        let p = Page::parse(&top).map_err(|c| damaged(TOP, c))?;
        if p.len() == 0 {
            return Ok(None);
        }
        Ok(Some(slice(
            &p.key(p.len() - 1).map_err(|c| damaged(TOP, c))?,
        )))
    }

    /// The page responsible for `key`: the first whose ceiling is at or
    /// after it (a forward read: sled 0.34's backward reads can loop, see
    /// `Store::sled_rev_n`).
    fn page_of(&self, key: &[u8], io: &IoNote) -> Result<Option<Pair>, Error> {
        self.pages
            .range(key..)
            .next()
            .transpose()
            .map_err(|e| note(io, e))
    }

    /// Applies sorted, distinct writes: each page they fall in is read,
    /// merged and written back, cut again when it outgrew `pages::TARGET`.
    fn apply(&self, ops: &[Op], io: &IoNote, cache: &PageCache) -> Result<(), Error> {
        if let Some((k, _)) = ops
            .iter()
            .find(|(k, _)| k.first().is_none_or(|b| *b >= TOP[0]))
        {
            return Err(Error::Engine(format!(
                "key {} is outside the keyspace",
                crate::util::show(k)
            )));
        }
        let mut i = 0;
        let mut buf = Vec::new();
        while i < ops.len() {
            let here = self.page_of(ops[i].0, io)?;
            let end = match &here {
                Some((c, _)) => i + ops[i..].partition_point(|(k, _)| *k <= c.as_ref()),
                None => ops.len(),
            };
            cache.write_begin();
            let r = self.rewrite(here, &ops[i..end], &mut buf, io, cache);
            cache.write_end();
            if r.is_err() {
                // The cache may hold pages sled did not take.
                cache.clear();
            }
            r?;
            i = end;
        }
        Ok(())
    }

    /// Writes one page's share of a batch: `ops` all fall in the page's
    /// keys (after the ceiling before it, up to its own). No page there
    /// means past every ceiling: the new last page gets `TOP`. The cache
    /// loses the old page first and gets the new ones after.
    fn rewrite(
        &self,
        here: Option<Pair>,
        ops: &[Op],
        buf: &mut Vec<u8>,
        io: &IoNote,
        cache: &PageCache,
    ) -> Result<(), Error> {
        let err = |e| note(io, e);
        let ceiling: Slice = here.as_ref().map_or_else(|| slice(TOP), |(c, _)| c.clone());
        let bad = |c| damaged(&ceiling, c);
        let old = match &here {
            Some((_, p)) => Some(Page::parse(p).map_err(bad)?),
            None => None,
        };
        let pages::Merged {
            entries: merged,
            side_put,
            side_del,
        } = pages::merge(old.as_ref(), ops).map_err(bad)?;

        cache.remove_page(&ceiling);
        // Values beside the page first, so an entry never points at one
        // still to come.
        for (k, v) in side_put {
            let v = slice(v);
            self.side.insert(k, v.clone()).map_err(err)?;
            cache.put_side(k, Some(v));
        }
        if merged.is_empty() {
            if here.is_some() {
                self.drop_page(&ceiling, buf, io, cache)?;
            }
        } else {
            let sizes: Vec<usize> = merged
                .iter()
                .map(|(k, v)| pages::entry_size(k, v))
                .collect();
            let runs = pages::cut(&sizes);
            // A split is one atomic batch: a page never holds keys that
            // another page answers for, even after a crash, which the
            // cache relies on (a page answers from its first key on).
            let last = runs.len() - 1;
            let mut batch = (last > 0).then(sled::Batch::default);
            for (n, run) in runs.into_iter().enumerate() {
                let at: &[u8] = if n == last {
                    &ceiling
                } else {
                    &merged[run.end - 1].0
                };
                let first = merged[run.start].0.clone();
                pages::encode(&merged[run], buf);
                let page = slice(buf);
                match &mut batch {
                    Some(b) => b.insert(at, page.clone()),
                    None => {
                        self.pages.insert(at, page.clone()).map_err(err)?;
                    }
                }
                cache.put_page(at, &first, page);
            }
            if let Some(b) = batch {
                self.pages.apply_batch(b).map_err(err)?;
            }
        }
        for k in side_del {
            self.side.remove(k).map_err(err)?;
            cache.put_side(k, None);
        }
        Ok(())
    }

    /// Removes an emptied page. Its keys fall to the page after it, so that
    /// page first loses any stale entries up to this ceiling.
    fn drop_page(
        &self,
        ceiling: &[u8],
        buf: &mut Vec<u8>,
        io: &IoNote,
        cache: &PageCache,
    ) -> Result<(), Error> {
        let err = |e| note(io, e);
        let after = self
            .pages
            .range::<&[u8], _>((Bound::Excluded(ceiling), Bound::Unbounded))
            .next()
            .transpose()
            .map_err(err)?;
        if let Some((ac, ap)) = after {
            let bad = |c| damaged(&ac, c);
            let p = Page::parse(&ap).map_err(bad)?;
            let (mut from, eq) = p.seek(ceiling).map_err(bad)?;
            if eq {
                from += 1;
            }
            if from > 0 {
                let mut entries = Vec::with_capacity(p.len() - from);
                for i in from..p.len() {
                    entries.push((p.key(i).map_err(bad)?, p.value(i).map_err(bad)?));
                }
                cache.remove_page(&ac);
                pages::encode(&entries, buf);
                let mut b = sled::Batch::default();
                b.insert(&ac[..], &buf[..]);
                b.remove(ceiling);
                return self.pages.apply_batch(b).map_err(err);
            }
        }
        self.pages.remove(ceiling).map_err(err)?;
        Ok(())
    }
}

/// The last page's ceiling: above every key (the keyspace's keys start
/// with a family byte below 0xff, see `keys.rs`).
const TOP: &[u8] = &[0xff];

/// Pairs of a key range in key order (or backwards), read a page at a
/// time. A page answers for the keys after the ceiling before it, up to its
/// own: entries at or below the ceiling before are stale (an interrupted
/// split left them) and skipped. A key at or past the last one returned is
/// skipped too, so a page split while the range is read never shows a key
/// twice or out of order.
///
/// Nor does a split hide a key. sled's iterator keeps the view of the node
/// it is in and reads on from it, so across its calls it is no snapshot:
/// after a split (one atomic batch) it could still walk the rest of a node
/// as it was before, without the split's new lower page, then find the
/// upper page in the next node as it is after, without the keys that moved
/// down: a scan missed up to half a page of keys nobody wrote (a DEBUG
/// DIGEST mismatch under load). One call of a new iterator is atomic with
/// a batch (sled's concurrency control), so forwards the walk goes on from
/// its iterator only while no page write began since that iterator was
/// made (`PageCache::seq`, checked after each page is fetched); else it
/// seeks the page after the last one read with a new iterator. Backwards
/// no seek is needed: views get newer as keys get smaller, so of a split
/// the upper page is met first, and met as it was before the split it
/// still holds the keys that moved down (read there, or skipped there as
/// stale when the lower page is seen next to it, and read from that).
struct PageRange {
    t: Arc<Trees>,
    io: IoNote,
    pages: std::iter::Peekable<Box<dyn Iterator<Item = sled::Result<Pair>>>>,
    /// The engine's page-write sequence (see `PageCache::seq`), and its
    /// value before `pages` was made (forwards).
    writes: Arc<PageCache>,
    seq: u64,
    rev: bool,
    from: Bound<Vec<u8>>,
    to: Bound<Vec<u8>>,
    /// The page being read and the next entry's index (backwards: one past
    /// it).
    cur: Option<(Slice, Slice, usize)>,
    /// The ceiling of the page before the current one, in key order.
    below: Option<Slice>,
    last: Option<Slice>,
    done: bool,
}

fn bound_key(b: &Bound<Vec<u8>>) -> Option<&[u8]> {
    match b {
        Bound::Included(k) | Bound::Excluded(k) => Some(k),
        Bound::Unbounded => None,
    }
}

impl PageRange {
    fn new(
        t: Arc<Trees>,
        io: IoNote,
        writes: Arc<PageCache>,
        from: Bound<&[u8]>,
        to: Bound<&[u8]>,
        rev: bool,
    ) -> PageRange {
        let from = from.map(|k| k.to_vec());
        let to = to.map(|k| k.to_vec());
        let mut done = false;
        let seq = writes.seq();
        let pages: Box<dyn Iterator<Item = sled::Result<Pair>>> = if !rev {
            pages_after(&t, None, &from)
        } else {
            // Pages from the one answering for `to` down to the one for
            // `from`.
            let top = match bound_key(&to) {
                Some(k) => match t.page_of(k, &io) {
                    Ok(p) => p.map(|(c, _)| c),
                    Err(_) => {
                        done = true;
                        None
                    }
                },
                None => None,
            };
            let hi = top.map_or(Bound::Unbounded, Bound::Included);
            let lo = bound_key(&from).map_or(Bound::Unbounded, |k| Bound::Included(slice(k)));
            Box::new(t.pages.range::<Slice, _>((lo, hi)).rev())
        };
        PageRange {
            pages: pages.peekable(),
            t,
            io,
            writes,
            seq,
            rev,
            from,
            to,
            cur: None,
            below: None,
            last: None,
            done,
        }
    }

    fn after_from(&self, key: &[u8]) -> bool {
        match &self.from {
            Bound::Included(k) => key >= k.as_slice(),
            Bound::Excluded(k) => key > k.as_slice(),
            Bound::Unbounded => true,
        }
    }

    fn before_to(&self, key: &[u8]) -> bool {
        match &self.to {
            Bound::Included(k) => key <= k.as_slice(),
            Bound::Excluded(k) => key < k.as_slice(),
            Bound::Unbounded => true,
        }
    }

    /// The next page from a sled iterator (forwards: one that holds, see
    /// the type's doc).
    fn next_page(&mut self) -> Option<sled::Result<Pair>> {
        if self.rev {
            return self.pages.next();
        }
        // An odd sequence is a write under way.
        let unchanged = |r: &PageRange| {
            let now = r.writes.seq();
            now == r.seq && now.is_multiple_of(2)
        };
        if unchanged(self) {
            let page = self.pages.next();
            if unchanged(self) {
                return page;
            }
        }
        // A new iterator's first call reads sled as it is at one moment.
        self.seq = self.writes.seq();
        self.pages = pages_after(&self.t, self.below.as_ref(), &self.from).peekable();
        self.pages.next()
    }

    /// Opens the next page; false at the end.
    fn open_next(&mut self) -> Result<bool, Error> {
        let Some((c, page)) = self
            .next_page()
            .transpose()
            .map_err(|e| note(&self.io, e))?
        else {
            return Ok(false);
        };
        let p = Page::parse(&page).map_err(|e| damaged(&c, e))?;
        let at = if !self.rev {
            match bound_key(&self.from) {
                Some(k) => p.seek(k).map_err(|e| damaged(&c, e))?.0,
                None => 0,
            }
        } else {
            // Backwards, the ceiling before is the next page's.
            self.below = match self.pages.peek() {
                Some(Ok((n, _))) => Some(n.clone()),
                _ => None,
            };
            match bound_key(&self.to) {
                Some(k) => match p.seek(k).map_err(|e| damaged(&c, e))? {
                    (i, true) => i + 1,
                    (i, false) => i,
                },
                None => p.len(),
            }
        };
        self.cur = Some((c, page, at));
        Ok(true)
    }

    fn step(&mut self) -> Result<Option<Pair>, Error> {
        loop {
            if self.cur.is_none() && !self.open_next()? {
                return Ok(None);
            }
            let Some((c, page, i)) = self.cur.as_mut() else {
                continue;
            };
            let (c, page) = (c.clone(), page.clone());
            let p = Page::parse(&page).map_err(|e| damaged(&c, e))?;
            let at = if self.rev {
                if *i == 0 {
                    self.cur = None;
                    continue;
                }
                *i -= 1;
                *i
            } else {
                if *i >= p.len() {
                    self.below = Some(c);
                    self.cur = None;
                    continue;
                }
                *i += 1;
                *i - 1
            };
            let (suffix, v) = p.entry(at).map_err(|e| damaged(&c, e))?;
            let mut key = Vec::with_capacity(p.prefix().len() + suffix.len());
            key.extend_from_slice(p.prefix());
            key.extend_from_slice(suffix);
            let stale = self
                .below
                .as_ref()
                .is_some_and(|b| key.as_slice() <= b.as_ref());
            if stale && self.rev {
                // Everything further back in this page is stale too.
                self.cur = None;
                continue;
            }
            let seen = self.last.as_ref().is_some_and(|l| {
                if self.rev {
                    key.as_slice() >= l.as_ref()
                } else {
                    key.as_slice() <= l.as_ref()
                }
            });
            if stale || seen {
                continue;
            }
            if !self.rev && !self.after_from(&key) || self.rev && !self.before_to(&key) {
                continue;
            }
            if !self.rev && !self.before_to(&key) || self.rev && !self.after_from(&key) {
                return Ok(None);
            }
            let value = match v {
                Val::Inline(r) => page.subslice(r.start, r.len()),
                // Missing only after an interrupted write, which the WAL's
                // replay completes.
                Val::Side => match self.t.side.get(&key).map_err(|e| note(&self.io, e))? {
                    Some(v) => v,
                    None => continue,
                },
            };
            let key = Slice::from(key);
            self.last = Some(key.clone());
            return Ok(Some((key, value)));
        }
    }
}

/// Pages in key order from the one after `below` (the ceiling of the last
/// page read), or from the first that may hold `from`.
fn pages_after(
    t: &Trees,
    below: Option<&Slice>,
    from: &Bound<Vec<u8>>,
) -> Box<dyn Iterator<Item = sled::Result<Pair>>> {
    match (below, bound_key(from)) {
        (Some(b), _) => Box::new(
            t.pages
                .range::<&[u8], _>((Bound::Excluded(&b[..]), Bound::Unbounded)),
        ),
        (None, Some(k)) => Box::new(t.pages.range(k.to_vec()..)),
        (None, None) => Box::new(t.pages.iter()),
    }
}

impl Iterator for PageRange {
    type Item = Result<Pair, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let r = self.step().transpose();
        if !matches!(r, Some(Ok(_))) {
            self.done = true;
        }
        r
    }
}

/// sled 0.34 keeps the first I/O error it meets (a full disk, EIO) and
/// returns it for every later operation, even once the disk works again.
/// The engine notes such an error, and `reopen` gives the node a fresh sled
/// on the same files without a restart: what sled had flushed is there, and
/// what it had not is still in the WAL and the write buffer.
pub struct Engine {
    path: PathBuf,
    cache_bytes: u64,
    /// None only after a reopen that failed to open sled again.
    trees: RwLock<Option<Arc<Trees>>>,
    /// The last I/O error sled returned, until a reopen.
    io_error: IoNote,
    /// Pages are read, merged and written back: one writer at a time.
    writer: Mutex<()>,
    /// A key at or above every key in the pages, when known: a read above
    /// it needs no sled read. A bulk load writes keys past the end, and
    /// reading the last leaf while the applier extends it made sled merge
    /// the leaf's changes on every lookup (the load's largest cost on the
    /// connection thread).
    upper: RwLock<Option<Slice>>,
    /// Pages and side values read or written lately (the node's read
    /// cache, sized by the store).
    cache: Arc<PageCache>,
    pub reopens: AtomicU64,
}

impl Engine {
    /// Opens (or creates) the engine in `path` with a page cache of
    /// `cache_bytes`.
    pub fn open(path: &Path, cache_bytes: u64) -> Result<Engine, Error> {
        let io_error = IoNote::default();
        let trees = Trees::open(path, cache_bytes, &io_error)?;
        let upper = trees.upper(&io_error)?;
        Ok(Engine {
            path: path.to_path_buf(),
            cache_bytes,
            trees: RwLock::new(Some(Arc::new(trees))),
            io_error,
            writer: Mutex::new(()),
            upper: RwLock::new(upper),
            cache: Arc::new(PageCache::new(0)),
            reopens: AtomicU64::new(0),
        })
    }

    fn t(&self) -> Result<Arc<Trees>, Error> {
        self.trees.read().clone().ok_or_else(|| {
            Error::Io(
                "sled is closed after an I/O error; the applier opens it again once the disk works"
                    .into(),
            )
        })
    }

    fn err(&self, e: sled::Error) -> Error {
        note(&self.io_error, e)
    }

    /// The I/O error that poisoned this sled, if any (`reopen` clears it).
    pub fn io_error(&self) -> Option<String> {
        self.io_error.lock().clone()
    }

    /// Closes sled and opens it again on the same files (see `Engine`).
    /// Everything that uses the engine waits meanwhile. Fails, keeping the
    /// old handle, if another holder (an iterator) keeps sled's lock past
    /// `wait`, or if the open fails.
    pub fn reopen(&self, wait: Duration) -> Result<(), Error> {
        let mut slot = self.trees.write();
        // Drop our handle: sled closes once the last holder lets go.
        let old = slot.take().map(|t| Arc::downgrade(&t));
        let deadline = Instant::now() + wait;
        while old.as_ref().is_some_and(|o| o.strong_count() > 0) || sled_locked(&self.path)? {
            if Instant::now() > deadline {
                *slot = old.and_then(|o| o.upgrade());
                return Err(Error::Engine("sled is still held; reopen later".into()));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let fresh = IoNote::default();
        let trees = Trees::open(&self.path, self.cache_bytes, &fresh)?;
        *self.upper.write() = trees.upper(&fresh)?;
        // sled may have lost what it had not flushed; the store writes it
        // again from its buffer.
        self.cache.clear();
        *slot = Some(Arc::new(trees));
        *self.io_error.lock() = None;
        self.reopens.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Bounds the read cache (the store's share of the budget).
    pub fn set_cache_limit(&self, bytes: usize) {
        self.cache.set_limit(bytes);
    }

    pub fn cache_bytes(&self) -> usize {
        self.cache.bytes()
    }

    pub fn clear_cache(&self) {
        self.cache.clear();
    }

    /// Moves whenever sled's pages change (odd while a change is under
    /// way): a range read at one epoch still holds at the same epoch.
    pub fn epoch(&self) -> u64 {
        self.cache.seq()
    }

    /// `key`'s value when the answer needs no sled read (the key is above
    /// every key, or its page is cached), else None.
    pub fn cached(&self, key: &[u8]) -> Option<Result<Option<Slice>, Error>> {
        if self.upper.read().as_ref().is_some_and(|u| key > u.as_ref()) {
            return Some(Ok(None));
        }
        let page = self.cache.page_for(key)?;
        let found = Page::parse(&page).and_then(|p| p.find(key));
        match found {
            Err(c) => Some(Err(damaged(key, c))),
            Ok(None) => Some(Ok(None)),
            Ok(Some(Val::Inline(r))) => Some(Ok(Some(page.subslice(r.start, r.len())))),
            Ok(Some(Val::Side)) => self.cache.side(key).map(|v| Ok(Some(v))),
        }
    }

    pub fn get(&self, key: &[u8]) -> Result<Option<Slice>, Error> {
        if let Some(r) = self.cached(key) {
            return r;
        }
        let seq = self.cache.seq();
        let t = self.t()?;
        let Some((f, page)) = t.page_of(key, &self.io_error)? else {
            return Ok(None);
        };
        let bad = |c| damaged(&f, c);
        let p = Page::parse(&page).map_err(bad)?;
        if p.len() > 0 {
            self.cache
                .insert_page(&f, &p.key(0).map_err(bad)?, &page, seq);
        }
        match p.find(key).map_err(bad)? {
            None => Ok(None),
            Some(Val::Inline(r)) => Ok(Some(page.subslice(r.start, r.len()))),
            Some(Val::Side) => {
                let v = t.side.get(key).map_err(|e| self.err(e))?;
                if let Some(v) = &v {
                    self.cache.insert_side(key, v, seq);
                }
                Ok(v)
            }
        }
    }

    /// The `sled-write` fault point (`DEBUG FAULT`): an injected error is
    /// an I/O error sled returned, noted like a real one.
    fn fault(&self) -> Result<(), Error> {
        crate::faults::check("sled-write").map_err(|e| self.err(sled::Error::Io(e)))
    }

    /// Writes a batch: each key's new value, or its removal. In any order;
    /// of two writes of one key the later wins. Not atomic: a reader may
    /// see part of a batch, and after a crash part of it may be on disk
    /// (the WAL's replay writes it again).
    pub fn apply(&self, ops: &[Op]) -> Result<(), Error> {
        self.fault()?;
        let t = self.t()?;
        let _w = self.writer.lock();
        let sorted;
        let ops = if ops.windows(2).all(|w| w[0].0 < w[1].0) {
            ops
        } else {
            // Stable sort of the reversed batch: the latest write of a key
            // comes first among its equals, and dedup keeps it.
            let mut v: Vec<Op> = ops.iter().rev().copied().collect();
            v.sort_by(|a, b| a.0.cmp(b.0));
            v.dedup_by(|a, b| a.0 == b.0);
            sorted = v;
            &sorted
        };
        // The bound rises before a key above it is written.
        if let Some((last, _)) = ops.iter().rev().find(|(_, v)| v.is_some()) {
            let mut u = self.upper.write();
            if u.as_ref().is_some_and(|u| *last > u.as_ref()) {
                *u = Some(slice(last));
            }
        }
        let r = t.apply(ops, &self.io_error, &self.cache);
        if r.is_ok() && self.upper.read().is_none() {
            *self.upper.write() = t.upper(&self.io_error)?;
        }
        r
    }

    pub fn insert(&self, key: &[u8], value: &[u8]) -> Result<(), Error> {
        self.apply(&[(key, Some(value))])
    }

    pub fn remove(&self, key: &[u8]) -> Result<(), Error> {
        self.apply(&[(key, None)])
    }

    /// Pairs in a key range, in key order.
    pub fn range<'a>(
        &self,
        from: Bound<&'a [u8]>,
        to: Bound<&'a [u8]>,
    ) -> Box<dyn Iterator<Item = Result<Pair, Error>> + 'a> {
        match self.t() {
            Ok(t) => Box::new(PageRange::new(
                t,
                self.io_error.clone(),
                self.cache.clone(),
                from,
                to,
                false,
            )),
            Err(e) => Box::new(std::iter::once(Err(e))),
        }
    }

    /// Pairs in a key range, greatest first.
    pub fn range_rev<'a>(
        &self,
        from: Bound<&'a [u8]>,
        to: Bound<&'a [u8]>,
    ) -> Box<dyn Iterator<Item = Result<Pair, Error>> + 'a> {
        match self.t() {
            Ok(t) => Box::new(PageRange::new(
                t,
                self.io_error.clone(),
                self.cache.clone(),
                from,
                to,
                true,
            )),
            Err(e) => Box::new(std::iter::once(Err(e))),
        }
    }

    pub fn scan_prefix(&self, prefix: &[u8]) -> Box<dyn Iterator<Item = Result<Pair, Error>>> {
        let end = crate::util::prefix_end(prefix);
        let to = match &end {
            Some(e) => Bound::Excluded(e.as_slice()),
            None => Bound::Unbounded,
        };
        match self.t() {
            Ok(t) => Box::new(PageRange::new(
                t,
                self.io_error.clone(),
                self.cache.clone(),
                Bound::Included(prefix),
                to,
                false,
            )),
            Err(e) => Box::new(std::iter::once(Err(e))),
        }
    }

    /// Drops every key of the keyspace (not the node's state).
    pub fn clear(&self) -> Result<(), Error> {
        let t = self.t()?;
        let _w = self.writer.lock();
        self.cache.write_begin();
        let r = t.pages.clear().and_then(|_| t.side.clear());
        self.cache.write_end();
        self.cache.clear();
        r.map_err(|e| self.err(e))?;
        *self.upper.write() = Some(slice(b""));
        Ok(())
    }

    /// Makes every write so far durable.
    pub fn flush(&self) -> Result<(), Error> {
        self.t()?.db.flush().map(|_| ()).map_err(|e| self.err(e))
    }

    pub fn size_on_disk(&self) -> u64 {
        self.t().map_or(0, |t| t.db.size_on_disk().unwrap_or(0))
    }

    // ----- the node's own state -----

    pub fn meta_get(&self, key: &[u8]) -> Result<Option<Slice>, Error> {
        self.t()?.meta.get(key).map_err(|e| self.err(e))
    }

    /// Writes a state entry; durable only after `flush`.
    pub fn meta_insert(&self, key: &[u8], value: &[u8]) -> Result<(), Error> {
        self.t()?
            .meta
            .insert(key, value)
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    pub fn meta_remove(&self, key: &[u8]) -> Result<(), Error> {
        self.t()?
            .meta
            .remove(key)
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    pub fn meta_clear(&self) -> Result<(), Error> {
        self.t()?.meta.clear().map_err(|e| self.err(e))
    }
}

/// True while a process (or an engine of ours not yet fully closed) holds
/// sled's lock on `sled_dir/db`. Probed with a non-blocking shared `flock`
/// on a read-only handle, released at once.
pub fn sled_locked(sled_dir: &Path) -> Result<bool, Error> {
    use std::os::fd::AsRawFd;
    let db = sled_dir.join("db");
    let f =
        std::fs::File::open(&db).map_err(|e| Error::Engine(format!("{}: {e}", db.display())))?;
    // SAFETY: flock on a descriptor we own, for as long as `f` lives.
    let r = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_SH | libc::LOCK_NB) };
    if r == 0 {
        // SAFETY: as above.
        unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_UN) };
        return Ok(false);
    }
    let e = std::io::Error::last_os_error();
    if e.kind() == std::io::ErrorKind::WouldBlock {
        Ok(true)
    } else {
        Err(Error::Engine(format!(
            "{}: cannot probe sled's lock: {e}",
            db.display()
        )))
    }
}

/// At a clean stop, once the node has closed its engine: opens and closes
/// it again. sled 0.34 replays its log since its last recovery snapshot
/// when it opens, and writes that snapshot only then, so a node that wrote
/// a lot since it started would pay that replay at the next start (0.75 s
/// after 840 MB of writes, measured); this pays it at the stop instead.
/// Skipped (false) if the engine is still held after `wait`.
pub fn checkpoint(sled_dir: &Path, wait: std::time::Duration) -> Result<bool, Error> {
    let deadline = std::time::Instant::now() + wait;
    while sled_locked(sled_dir)? {
        if std::time::Instant::now() > deadline {
            return Ok(false);
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let e = Engine::open(sled_dir, 8 << 20)?;
    e.flush()?;
    Ok(true)
}

/// True if `sled_dir` holds an engine's files.
pub fn exists(sled_dir: &Path) -> bool {
    sled_dir.join("db").is_file()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn rng(mut x: u64) -> impl FnMut() -> u64 {
        move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        }
    }

    fn engine() -> (tempfile::TempDir, Engine) {
        let dir = tempfile::tempdir().unwrap();
        let e = Engine::open(&dir.path().join("sled"), 8 << 20).unwrap();
        (dir, e)
    }

    /// Keys with shared prefixes, runs of 0xff and 0x00, of many lengths.
    fn key(r: &mut impl FnMut() -> u64) -> Vec<u8> {
        let mut k = vec![b"ksx"[(r() % 3) as usize]];
        for _ in 0..(r() % 12) {
            k.push([0u8, 1, b'a', b'b', 0xfe, 0xff][(r() % 6) as usize]);
        }
        k
    }

    fn value(r: &mut impl FnMut() -> u64) -> Vec<u8> {
        let len = match r() % 10 {
            0 => pages::SIDE_MIN + (r() % 3000) as usize,
            1 => 0,
            _ => (r() % 200) as usize,
        };
        (0..len)
            .map(|i| (i as u8).wrapping_add(r() as u8))
            .collect()
    }

    fn as_ref(b: &Bound<Vec<u8>>) -> Bound<&[u8]> {
        b.as_ref().map(|k| &k[..])
    }

    fn check(e: &Engine, model: &BTreeMap<Vec<u8>, Vec<u8>>, r: &mut impl FnMut() -> u64) {
        let all: Vec<(Vec<u8>, Vec<u8>)> = e
            .range(Bound::Unbounded, Bound::Unbounded)
            .map(|p| p.map(|(k, v)| (k.to_vec(), v.to_vec())).unwrap())
            .collect();
        let want: Vec<(Vec<u8>, Vec<u8>)> =
            model.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        assert_eq!(all, want);
        for (k, v) in model {
            assert_eq!(e.get(k).unwrap().as_deref(), Some(&v[..]));
        }
        for _ in 0..50 {
            let (a, b) = (key(r), key(r));
            let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
            let bounds = |x: u64, k: &[u8]| -> Bound<Vec<u8>> {
                match x % 3 {
                    0 => Bound::Included(k.to_vec()),
                    1 => Bound::Excluded(k.to_vec()),
                    _ => Bound::Unbounded,
                }
            };
            let (f, t) = (bounds(r(), &lo), bounds(r(), &hi));
            if matches!((&f, &t), (Bound::Excluded(a), Bound::Excluded(b)) if a == b) {
                continue;
            }
            let want: Vec<Vec<u8>> = model
                .range::<[u8], _>((as_ref(&f), as_ref(&t)))
                .map(|(k, _)| k.clone())
                .collect();
            let fwd: Vec<Vec<u8>> = e
                .range(as_ref(&f), as_ref(&t))
                .map(|p| p.unwrap().0.to_vec())
                .collect();
            assert_eq!(fwd, want, "{f:?}..{t:?}");
            let mut rev: Vec<Vec<u8>> = e
                .range_rev(as_ref(&f), as_ref(&t))
                .map(|p| p.unwrap().0.to_vec())
                .collect();
            rev.reverse();
            assert_eq!(rev, want, "rev {f:?}..{t:?}");
        }
        let prefix = key(r);
        let want: Vec<Vec<u8>> = model
            .keys()
            .filter(|k| k.starts_with(&prefix))
            .cloned()
            .collect();
        let got: Vec<Vec<u8>> = e
            .scan_prefix(&prefix)
            .map(|p| p.unwrap().0.to_vec())
            .collect();
        assert_eq!(got, want);
    }

    /// Opens a data dir just closed: sled's background threads may hold its
    /// lock file a moment after the last handle went.
    fn reopen(path: &Path) -> Engine {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            match Engine::open(path, 8 << 20) {
                Ok(e) => return e,
                Err(e)
                    if std::time::Instant::now() < deadline && e.to_string().contains("lock") =>
                {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => panic!("open: {e}"),
            }
        }
    }

    #[test]
    fn batches_of_writes_read_back_as_a_sorted_map() {
        // No read cache, one that turns over all the time, one that keeps
        // everything.
        for limit in [0, 32 << 10, 64 << 20] {
            batches_read_back(limit);
        }
    }

    fn batches_read_back(cache: usize) {
        let (_dir, e) = engine();
        e.set_cache_limit(cache);
        let mut model = BTreeMap::new();
        let mut r = rng(0x5eed);
        for round in 0..60 {
            let n = [1, 5, 50, 500][(r() % 4) as usize];
            let ops: Vec<(Vec<u8>, Option<Vec<u8>>)> = (0..n)
                .map(|_| {
                    let k = key(&mut r);
                    let v = (!r().is_multiple_of(4)).then(|| value(&mut r));
                    (k, v)
                })
                .collect();
            for (k, v) in &ops {
                match v {
                    Some(v) => model.insert(k.clone(), v.clone()),
                    None => model.remove(k),
                };
            }
            let refs: Vec<Op> = ops.iter().map(|(k, v)| (&k[..], v.as_deref())).collect();
            e.apply(&refs).unwrap();
            if round % 10 == 9 {
                check(&e, &model, &mut r);
            }
        }
        // Everything removed: no page or side value is left.
        let keys: Vec<Vec<u8>> = model.keys().cloned().collect();
        let ops: Vec<Op> = keys.iter().map(|k| (&k[..], None)).collect();
        e.apply(&ops).unwrap();
        let t = e.t().unwrap();
        assert_eq!(t.pages.len(), 0);
        assert_eq!(t.side.len(), 0);
    }

    #[test]
    fn a_bulk_load_fills_whole_pages() {
        let (_dir, e) = engine();
        let keys: Vec<Vec<u8>> = (0..20_000)
            .map(|i| format!("key:{i:08}").into_bytes())
            .collect();
        for chunk in keys.chunks(BATCH) {
            let ops: Vec<Op> = chunk
                .iter()
                .map(|k| (&k[..], Some(&[7u8; 100][..])))
                .collect();
            e.apply(&ops).unwrap();
        }
        let t = e.t().unwrap();
        // Whole pages: as many entries as fit, not the half a split leaves.
        let fit = pages::TARGET / pages::entry_size(&keys[0], &Val::Inline(&[7u8; 100]));
        assert!(20_000 / t.pages.len() >= fit, "{} pages", t.pages.len());
        assert_eq!(e.range(Bound::Unbounded, Bound::Unbounded).count(), 20_000);
    }

    /// A split cut short by a crash leaves the old page whole beside the
    /// new ones: readers ignore its stale entries, and emptying the pages
    /// before it does not bring them back.
    #[test]
    fn stale_entries_of_an_interrupted_split_stay_hidden() {
        let (_dir, e) = engine();
        let keys: Vec<Vec<u8>> = (0..40).map(|i| format!("k{i:03}").into_bytes()).collect();
        let ops: Vec<Op> = keys.iter().map(|k| (&k[..], Some(&b"old"[..]))).collect();
        e.apply(&ops).unwrap();
        let t = e.t().unwrap();
        let (top, whole) = t.pages.iter().next_back().unwrap().unwrap();
        // Split the last page by hand, as `rewrite` does, but stop before
        // the old page is rewritten: it keeps every entry.
        let p = Page::parse(&whole).unwrap();
        let mid = p.len() / 2;
        let left: Vec<(Vec<u8>, Val<&[u8]>)> = (0..mid)
            .map(|i| (p.key(i).unwrap(), Val::Inline(&b"new"[..])))
            .collect();
        let mut buf = Vec::new();
        pages::encode(&left, &mut buf);
        t.pages.insert(&left[mid - 1].0[..], &buf[..]).unwrap();
        assert_eq!(t.pages.get(&top).unwrap().unwrap(), whole);
        let moved = &left[0].0;
        assert_eq!(e.get(moved).unwrap().as_deref(), Some(&b"new"[..]));
        let all: Vec<_> = e
            .range(Bound::Unbounded, Bound::Unbounded)
            .map(|p| p.unwrap())
            .collect();
        assert_eq!(all.len(), 40);
        assert!(all.windows(2).all(|w| w[0].0 < w[1].0));
        let rev: Vec<_> = e
            .range_rev(Bound::Unbounded, Bound::Unbounded)
            .map(|p| p.unwrap())
            .collect();
        assert_eq!(rev.len(), 40);
        // Remove the new page's keys: the page goes, and the old page's
        // stale copies must not take their place.
        let ops: Vec<Op> = left.iter().map(|(k, _)| (&k[..], None)).collect();
        e.apply(&ops).unwrap();
        assert_eq!(e.get(moved).unwrap(), None);
        assert_eq!(
            e.range(Bound::Unbounded, Bound::Unbounded).count(),
            40 - mid
        );
    }

    /// A data dir written before splits were atomic may hold an interrupted
    /// split: its stale entries are dropped once, at open, so that the read
    /// cache (a page answers from its first key on) never serves them.
    #[test]
    fn stale_entries_are_dropped_at_open_before_the_cache_sees_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sled");
        let keys: Vec<Vec<u8>> = (0..40).map(|i| format!("k{i:03}").into_bytes()).collect();
        let mid;
        {
            let e = Engine::open(&path, 8 << 20).unwrap();
            let ops: Vec<Op> = keys.iter().map(|k| (&k[..], Some(&b"old"[..]))).collect();
            e.apply(&ops).unwrap();
            let t = e.t().unwrap();
            let (_, whole) = t.pages.iter().next_back().unwrap().unwrap();
            let p = Page::parse(&whole).unwrap();
            mid = p.len() / 2;
            let left: Vec<(Vec<u8>, Val<&[u8]>)> = (0..mid)
                .map(|i| (p.key(i).unwrap(), Val::Inline(&b"new"[..])))
                .collect();
            let mut buf = Vec::new();
            pages::encode(&left, &mut buf);
            t.pages.insert(&left[mid - 1].0[..], &buf[..]).unwrap();
            // As written by a build without the mark.
            t.meta.remove(CLEAN).unwrap();
            e.flush().unwrap();
        }
        let e = reopen(&path);
        e.set_cache_limit(1 << 20);
        // The old page's first key comes after the new page's ceiling.
        assert_eq!(e.get(&keys[mid]).unwrap().as_deref(), Some(&b"old"[..]));
        for k in &keys[..mid] {
            assert_eq!(e.get(k).unwrap().as_deref(), Some(&b"new"[..]));
            assert!(
                e.cached(k).is_none()
                    || e.cached(k).unwrap().unwrap().as_deref() == Some(&b"new"[..])
            );
        }
        let t = e.t().unwrap();
        let (_, top) = t.pages.iter().next_back().unwrap().unwrap();
        let p = Page::parse(&top).unwrap();
        assert_eq!(p.len(), 40 - mid);
        assert_eq!(p.key(0).unwrap(), keys[mid]);
    }

    #[test]
    fn a_data_dir_of_one_entry_per_key_is_converted_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sled");
        {
            let db = sled::Config::new().path(&path).open().unwrap();
            let old = db.open_tree(KEYS_TREE).unwrap();
            for i in 0..10_000u32 {
                let v = if i % 100 == 0 {
                    vec![1u8; 2000]
                } else {
                    i.to_be_bytes().to_vec()
                };
                old.insert(format!("k{i:05}"), v).unwrap();
            }
            db.flush().unwrap();
        }
        let e = reopen(&path);
        assert_eq!(e.range(Bound::Unbounded, Bound::Unbounded).count(), 10_000);
        assert_eq!(
            e.get(b"k00042").unwrap().as_deref(),
            Some(&42u32.to_be_bytes()[..])
        );
        assert_eq!(e.get(b"k00100").unwrap().as_deref(), Some(&[1u8; 2000][..]));
        let t = e.t().unwrap();
        assert!(!t.db.tree_names().iter().any(|n| n == KEYS_TREE.as_bytes()));
    }

    #[test]
    fn reads_above_every_key_need_no_page() {
        let (_dir, e) = engine();
        assert_eq!(e.upper.read().as_deref(), Some(&b""[..]));
        e.apply(&[(b"k1", Some(b"a")), (b"k3", Some(b"c"))])
            .unwrap();
        assert_eq!(e.upper.read().as_deref(), Some(&b"k3"[..]));
        e.apply(&[(b"k2", Some(b"b")), (b"k3", None)]).unwrap();
        // Removals leave the bound where it was: still above every key.
        assert_eq!(e.upper.read().as_deref(), Some(&b"k3"[..]));
        assert_eq!(e.get(b"k2").unwrap().as_deref(), Some(&b"b"[..]));
        assert_eq!(e.get(b"k9").unwrap(), None);
        e.clear().unwrap();
        assert_eq!(e.get(b"k1").unwrap(), None);
        e.insert(b"k5", b"e").unwrap();
        assert_eq!(e.get(b"k5").unwrap().as_deref(), Some(&b"e"[..]));
    }

    /// Pages split while a range is read: the read still sees every key.
    /// sled's iterator reads each of its nodes from a view taken when it
    /// enters the node, so a split whose lower page lands in a node read
    /// earlier (before the split) and whose upper page in a node read
    /// later (after it) hid the lower page's keys from a plain walk.
    #[test]
    fn a_range_read_sees_every_key_while_pages_split() {
        let (_dir, e) = engine();
        let e = Arc::new(e);
        let n = 20_000usize;
        let keys: Vec<Vec<u8>> = (0..n).map(|i| format!("key:{i:08}").into_bytes()).collect();
        // Side values: full pages of small entries, bulk loaded.
        let big = vec![7u8; pages::SIDE_MIN];
        for chunk in keys.chunks(BATCH) {
            let ops: Vec<Op> = chunk.iter().map(|k| (&k[..], Some(&big[..]))).collect();
            e.apply(&ops).unwrap();
        }
        let rounds = 40;
        let writer = {
            let (e, keys) = (e.clone(), keys.clone());
            std::thread::spawn(move || {
                let mut r = rng(0xfeed);
                for round in 0..rounds {
                    // Inline values grow the pages they land in (a split),
                    // side values shrink them again; the key set stays.
                    let small = vec![round as u8; 40 + (r() % 40) as usize];
                    let v: &[u8] = if round % 2 == 0 { &small } else { &big };
                    let step = 3 + (r() % 5) as usize;
                    // Even keys only: a key being written may read as
                    // absent meanwhile (its side value goes before the
                    // reader gets to it), which the write buffer above
                    // the engine covers; the odd keys never change.
                    let ops: Vec<Op> = keys
                        .iter()
                        .step_by(2)
                        .skip(round % step)
                        .step_by(step)
                        .map(|k| (&k[..], Some(v)))
                        .collect();
                    for chunk in ops.chunks(BATCH) {
                        e.apply(chunk).unwrap();
                    }
                }
            })
        };
        let mut scans = 0;
        while !writer.is_finished() {
            // Forwards and backwards in turn.
            let got = if scans % 2 == 0 {
                e.range(Bound::Unbounded, Bound::Unbounded)
                    .map(|p| p.unwrap().0)
                    .collect::<Vec<_>>()
            } else {
                let mut v = e
                    .range_rev(Bound::Unbounded, Bound::Unbounded)
                    .map(|p| p.unwrap().0)
                    .collect::<Vec<_>>();
                v.reverse();
                v
            };
            scans += 1;
            assert!(got.windows(2).all(|w| w[0] < w[1]), "in key order, once");
            let missed: Vec<String> = keys
                .iter()
                .skip(1)
                .step_by(2)
                .filter(|k| got.binary_search_by(|g| g.as_ref().cmp(&k[..])).is_err())
                .take(20)
                .map(|k| String::from_utf8_lossy(k).into_owned())
                .collect();
            assert!(
                missed.is_empty(),
                "scan {scans} saw {} of {n} keys; unchanged keys missed (first 20): {missed:?}",
                got.len()
            );
        }
        writer.join().unwrap();
        assert!(scans > 0);
    }

    #[test]
    fn a_damaged_page_is_reported_not_read() {
        let (_dir, e) = engine();
        e.insert(b"key", b"value").unwrap();
        let t = e.t().unwrap();
        let (c, _) = t.pages.iter().next().unwrap().unwrap();
        t.pages.insert(&c, &[1u8, 200, 0, 0, 0][..]).unwrap();
        let err = e.get(b"key").unwrap_err().to_string();
        assert!(err.contains("damaged page"), "{err}");
        assert!(e
            .range(Bound::Unbounded, Bound::Unbounded)
            .next()
            .unwrap()
            .is_err());
        assert!(e.insert(b"key2", b"v").is_err());
    }
}
