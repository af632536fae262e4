//! The one file that names sled: the ordered key/value engine under the
//! store, behind a narrow interface (open, point reads and writes, ordered
//! ranges, flush), so another embedded engine could stand in its place.
//!
//! Two trees: `keyspace` holds the data (see `keys.rs`), `sledis-meta` the
//! node's own state (applied offset, key counts, replication ids).

use std::ops::Bound;
use std::path::Path;

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

pub struct Engine {
    db: sled::Db,
    keyspace: sled::Tree,
    meta: sled::Tree,
}

fn err(e: sled::Error) -> String {
    e.to_string()
}

impl Engine {
    /// Opens (or creates) the engine in `path` with a page cache of
    /// `cache_bytes`.
    pub fn open(path: &Path, cache_bytes: u64) -> Result<Engine, String> {
        let db = sled::Config::new()
            .path(path)
            .cache_capacity(cache_bytes)
            .open()
            .map_err(|e| format!("sled failed to open {}: {e}", path.display()))?;
        let keyspace = db.open_tree(KEYSPACE_TREE).map_err(err)?;
        let meta = db.open_tree(META_TREE).map_err(err)?;
        Ok(Engine { db, keyspace, meta })
    }

    pub fn get(&self, key: &[u8]) -> Result<Option<Slice>, String> {
        self.keyspace.get(key).map_err(err)
    }

    pub fn insert(&self, key: &[u8], value: &[u8]) -> Result<(), String> {
        self.keyspace.insert(key, value).map(|_| ()).map_err(err)
    }

    pub fn remove(&self, key: &[u8]) -> Result<(), String> {
        self.keyspace.remove(key).map(|_| ()).map_err(err)
    }

    /// Pairs in a key range, in key order (and backwards with `.rev()`).
    pub fn range<'a>(
        &self,
        from: Bound<&'a [u8]>,
        to: Bound<&'a [u8]>,
    ) -> impl DoubleEndedIterator<Item = Result<Pair, String>> {
        self.keyspace
            .range::<&[u8], _>((from, to))
            .map(|r| r.map_err(err))
    }

    pub fn scan_prefix(&self, prefix: &[u8]) -> impl Iterator<Item = Result<Pair, String>> {
        self.keyspace.scan_prefix(prefix).map(|r| r.map_err(err))
    }

    /// Drops every key of the keyspace (not the node's state).
    pub fn clear(&self) -> Result<(), String> {
        self.keyspace.clear().map_err(err)
    }

    /// Makes every write so far durable.
    pub fn flush(&self) -> Result<(), String> {
        self.db.flush().map(|_| ()).map_err(err)
    }

    pub fn size_on_disk(&self) -> u64 {
        self.db.size_on_disk().unwrap_or(0)
    }

    // ----- the node's own state -----

    pub fn meta_get(&self, key: &[u8]) -> Result<Option<Slice>, String> {
        self.meta.get(key).map_err(err)
    }

    /// Writes a state entry; durable only after `flush`.
    pub fn meta_insert(&self, key: &[u8], value: &[u8]) -> Result<(), String> {
        self.meta.insert(key, value).map(|_| ()).map_err(err)
    }

    pub fn meta_remove(&self, key: &[u8]) -> Result<(), String> {
        self.meta.remove(key).map(|_| ()).map_err(err)
    }

    pub fn meta_clear(&self) -> Result<(), String> {
        self.meta.clear().map_err(err)
    }
}

/// True while a process (or an engine of ours not yet fully closed) holds
/// sled's lock on `sled_dir/db`. Probed with a non-blocking shared `flock`
/// on a read-only handle, released at once.
pub fn sled_locked(sled_dir: &Path) -> Result<bool, String> {
    use std::os::fd::AsRawFd;
    let db = sled_dir.join("db");
    let f = std::fs::File::open(&db).map_err(|e| format!("{}: {e}", db.display()))?;
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
        Err(format!("{}: cannot probe sled's lock: {e}", db.display()))
    }
}

/// At a clean stop, once the node has closed its engine: opens and closes
/// it again. sled 0.34 replays its log since its last recovery snapshot
/// when it opens, and writes that snapshot only then, so a node that wrote
/// a lot since it started would pay that replay at the next start (0.75 s
/// after 840 MB of writes, measured); this pays it at the stop instead.
/// Skipped (false) if the engine is still held after `wait`.
pub fn checkpoint(sled_dir: &Path, wait: std::time::Duration) -> Result<bool, String> {
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
