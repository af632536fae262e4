//! The one file that names sled: the ordered key/value engine under the
//! store, behind a narrow interface (open, point reads and writes, ordered
//! ranges, flush), so another embedded engine could stand in its place.
//!
//! Two trees: `keyspace` holds the data (see `keys.rs`), `sledis-meta` the
//! node's own state (applied offset, key counts, replication ids).

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

/// A `Slice` holding a copy of `b` (for pairs that do not come from sled).
pub fn slice(b: &[u8]) -> Slice {
    Slice::from(b)
}

const KEYSPACE_TREE: &str = "keyspace";
const META_TREE: &str = "sledis-meta";

/// sled's error as ours, noting it if it is an I/O error (see `Engine`).
fn note(io_error: &Mutex<Option<String>>, e: sled::Error) -> Error {
    let msg = e.to_string();
    if matches!(e, sled::Error::Io(_)) {
        *io_error.lock() = Some(msg.clone());
        return Error::Io(msg);
    }
    Error::Engine(msg)
}

/// One open sled database and its two trees.
struct Trees {
    db: sled::Db,
    keyspace: sled::Tree,
    meta: sled::Tree,
}

impl Trees {
    fn open(path: &Path, cache_bytes: u64) -> Result<Trees, Error> {
        let db = sled::Config::new()
            .path(path)
            .cache_capacity(cache_bytes)
            .open()
            .map_err(|e| Error::Engine(format!("sled failed to open {}: {e}", path.display())))?;
        let keyspace = db
            .open_tree(KEYSPACE_TREE)
            .map_err(|e| Error::Engine(e.to_string()))?;
        let meta = db
            .open_tree(META_TREE)
            .map_err(|e| Error::Engine(e.to_string()))?;
        Ok(Trees { db, keyspace, meta })
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
    io_error: Arc<Mutex<Option<String>>>,
    pub reopens: AtomicU64,
}

impl Engine {
    /// Opens (or creates) the engine in `path` with a page cache of
    /// `cache_bytes`.
    pub fn open(path: &Path, cache_bytes: u64) -> Result<Engine, Error> {
        Ok(Engine {
            path: path.to_path_buf(),
            cache_bytes,
            trees: RwLock::new(Some(Arc::new(Trees::open(path, cache_bytes)?))),
            io_error: Arc::new(Mutex::new(None)),
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
        *slot = Some(Arc::new(Trees::open(&self.path, self.cache_bytes)?));
        *self.io_error.lock() = None;
        self.reopens.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    pub fn get(&self, key: &[u8]) -> Result<Option<Slice>, Error> {
        self.t()?.keyspace.get(key).map_err(|e| self.err(e))
    }

    /// The `sled-write` fault point (`DEBUG FAULT`): an injected error is
    /// an I/O error sled returned, noted like a real one.
    fn fault(&self) -> Result<(), Error> {
        crate::faults::check("sled-write").map_err(|e| self.err(sled::Error::Io(e)))
    }

    pub fn insert(&self, key: &[u8], value: &[u8]) -> Result<(), Error> {
        self.fault()?;
        self.t()?
            .keyspace
            .insert(key, value)
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    pub fn remove(&self, key: &[u8]) -> Result<(), Error> {
        self.fault()?;
        self.t()?
            .keyspace
            .remove(key)
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// Pairs in a key range, in key order (and backwards with `.rev()`).
    pub fn range<'a>(
        &self,
        from: Bound<&'a [u8]>,
        to: Bound<&'a [u8]>,
    ) -> Box<dyn DoubleEndedIterator<Item = Result<Pair, Error>> + 'a> {
        match self.t() {
            Ok(t) => {
                let io = self.io_error.clone();
                Box::new(
                    t.keyspace
                        .range::<&[u8], _>((from, to))
                        .map(move |r| r.map_err(|e| note(&io, e))),
                )
            }
            Err(e) => Box::new(std::iter::once(Err(e))),
        }
    }

    pub fn scan_prefix(&self, prefix: &[u8]) -> Box<dyn Iterator<Item = Result<Pair, Error>>> {
        match self.t() {
            Ok(t) => {
                let io = self.io_error.clone();
                Box::new(
                    t.keyspace
                        .scan_prefix(prefix)
                        .map(move |r| r.map_err(|e| note(&io, e))),
                )
            }
            Err(e) => Box::new(std::iter::once(Err(e))),
        }
    }

    /// Drops every key of the keyspace (not the node's state).
    pub fn clear(&self) -> Result<(), Error> {
        self.t()?.keyspace.clear().map_err(|e| self.err(e))
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
