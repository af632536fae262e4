//! A node's data directory (`sled/`, `wal/`, snapshot files) read without
//! writing to it. sled 0.34 has no read-only mode (opening takes an
//! exclusive `flock` on `sled/db` and may write), so everything that needs
//! sled works on a private copy in a temp dir, deleted afterwards. A
//! running node's files are copied while it writes: the copy is checked
//! (sled opens, its applied offset lies inside the copied WAL) and taken
//! again if a write raced it.

use super::Error;
use crate::store::{check_applied, read_sled_state, SledState, Store};
use crate::wal::reader::{list_segments, scan_segment};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

/// Copies taken of a running node's files before giving up.
pub(super) const LIVE_ATTEMPTS: u32 = 5;

pub(crate) struct DataDir {
    pub dir: PathBuf,
    pub sled: PathBuf,
    pub wal: PathBuf,
}

impl DataDir {
    /// `path` as a data dir: it must hold `sled/` (every node's data dir
    /// does). Errors are one line, for exit code 2.
    pub(crate) fn open(path: &Path) -> Result<DataDir, Error> {
        let meta = std::fs::metadata(path).map_err(|e| Error::Read(path.to_path_buf(), e))?;
        if !meta.is_dir() {
            return Err(Error::Not(path.to_path_buf(), "not a directory".into()));
        }
        let d = DataDir {
            dir: path.to_path_buf(),
            sled: path.join("sled"),
            wal: path.join("wal"),
        };
        if !d.sled.join("db").is_file() {
            return Err(Error::Not(
                path.to_path_buf(),
                format!(
                    "not a sledis data dir (no sled/db{})",
                    if d.wal.is_dir() { "" } else { ", no wal/" }
                ),
            ));
        }
        Ok(d)
    }

    /// True while a process holds sled's lock: a running node.
    pub(crate) fn in_use(&self) -> Result<bool, Error> {
        crate::store::sled_locked(&self.sled).map_err(Error::Store)
    }

    /// sled's state, read from a copy of `sled/`, and the WAL's range read
    /// after the copy. For a running node the copy is taken again until
    /// sled opens it and its applied offset lies inside the WAL (a write
    /// or a WAL trim can race the copy); if that never happens the data
    /// dir is reported in use (`Err`, exit code 2). For a stopped node
    /// one copy is read and what it says is the answer.
    pub(crate) fn sled_state(&self) -> Result<SledReport, Error> {
        let live = self.in_use()?;
        let attempts = if live { LIVE_ATTEMPTS } else { 1 };
        let mut last_err = String::new();
        for copies in 1..=attempts {
            let tmp = TempDir::new()?;
            let sled_copy = tmp.path.join("sled");
            if let Err(e) = copy_dir(&self.sled, &sled_copy) {
                let e = Error::Copy(self.sled.clone(), e);
                if live {
                    last_err = e.to_string();
                    continue;
                }
                return Err(e);
            }
            let state =
                read_sled_state(&sled_copy).map_err(|e| named(e.into(), &sled_copy, &self.sled));
            // The WAL is read after sled was copied, so it holds every
            // record sled had applied then (sled never gets ahead of it).
            let range = wal_range(&self.wal)?;
            let problem = match (&state, range) {
                (Err(e), _) => Some(e.clone()),
                (Ok(s), _) if s.loading => None,
                (Ok(_), None) => Some("no WAL segments".to_string()),
                (Ok(s), Some((first, end))) => {
                    check_applied(s.applied, first, end).err().map(String::from)
                }
            };
            match problem {
                Some(p) if live => last_err = p,
                _ => {
                    return Ok(SledReport {
                        state,
                        range,
                        live,
                        copies,
                    })
                }
            }
        }
        Err(Error::InUse {
            dir: self.dir.clone(),
            last: last_err,
        })
    }

    /// What the node would hold after recovery, as a snapshot file written
    /// by the server's own code: a copy of `sled/` and `wal/` opened with
    /// `Store::open` (which replays the WAL after sled's applied offset)
    /// and saved. Everything lives in a temp dir, deleted on drop.
    pub(crate) fn recovered_snapshot(&self) -> Result<Recovered, Error> {
        let live = self.in_use()?;
        let mut last_err = String::new();
        let attempts = if live { LIVE_ATTEMPTS } else { 1 };
        for copies in 1..=attempts {
            let tmp = TempDir::new()?;
            let data = tmp.path.join("data");
            // sled first, then the WAL: the copied WAL then holds every
            // record the copied sled has applied. Only the segments from
            // the one holding sled's applied offset on are needed.
            let sled_copy = data.join("sled");
            if let Err(e) = copy_dir(&self.sled, &sled_copy) {
                last_err = Error::Copy(self.sled.clone(), e).to_string();
                continue;
            }
            let applied = match read_sled_state(&sled_copy) {
                Ok(s) => s.applied,
                Err(e) => {
                    last_err = named(e.into(), &sled_copy, &self.sled);
                    continue;
                }
            };
            if let Err(e) = copy_wal(&self.wal, &data.join("wal"), applied) {
                last_err = Error::Copy(self.wal.clone(), e).to_string();
                continue;
            }
            let store = match Store::open_path(&data) {
                Ok(s) => s,
                Err(e) => {
                    last_err = named(e.into(), &data, &self.dir);
                    continue;
                }
            };
            let applied = store.applied_offset();
            let wal_end = store.wal.end_offset();
            let snapshot = tmp.path.join("recovered.sledis");
            // The replid only labels the file (it is never loaded).
            let r = crate::snapshot::create::create(&store, &snapshot, &"0".repeat(40));
            // Stops the copy's background threads (they only touch the copy).
            let _ = store.close();
            drop(store);
            r.map_err(|e| Error::WriteRecovered(self.dir.clone(), e))?;
            return Ok(Recovered {
                snapshot,
                applied,
                wal_end,
                live,
                copies,
                _tmp: tmp,
            });
        }
        let dir = self.dir.clone();
        if live {
            Err(Error::InUse {
                dir,
                last: last_err,
            })
        } else {
            Err(Error::Recover { dir, why: last_err })
        }
    }
}

/// The note for output read from a running node's files.
pub(crate) fn live_note(live: bool, copies: u32) -> String {
    match (live, copies) {
        (false, _) => String::new(),
        (true, 1) => " [read from a copy of a running node's files: may be a few ms old]".into(),
        (true, n) => format!(
            " [read from a copy of a running node's files, taken {n} times (a write raced the earlier copies): may be a few ms old]"
        ),
    }
}

/// An error about the copy, naming the user's path instead.
fn named(e: String, copy: &Path, orig: &Path) -> String {
    e.replace(&copy.display().to_string(), &orig.display().to_string())
}

/// sled's state (or why it could not be read) and the WAL's offset range
/// read right after it.
pub(crate) struct SledReport {
    pub state: Result<SledState, String>,
    /// `first..end` of the WAL, end past its last complete record; None
    /// when it has no segments.
    pub range: Option<(u64, u64)>,
    /// Read from a copy of a running node's files.
    pub live: bool,
    /// Copies taken (more than one when a write raced the first).
    pub copies: u32,
}

/// A data dir's dataset after recovery, saved as a snapshot in a temp dir.
pub(crate) struct Recovered {
    pub snapshot: PathBuf,
    pub applied: u64,
    pub wal_end: u64,
    pub live: bool,
    pub copies: u32,
    _tmp: TempDir,
}

/// The WAL's offset range as recovery sees it: the first segment's start
/// to the end of the last complete record of the last segment (a torn
/// tail is cut at startup).
pub(crate) fn wal_range(dir: &Path) -> Result<Option<(u64, u64)>, Error> {
    let segs = list_segments(dir).map_err(|e| Error::Read(dir.to_path_buf(), e))?;
    let (Some(first), Some(last)) = (segs.first(), segs.last()) else {
        return Ok(None);
    };
    let scan = match scan_segment(last, |_, _| {}) {
        Ok(s) => s,
        // Removed by retention while we looked (a running node).
        Err(e) if e.kind() == io::ErrorKind::NotFound => return wal_range(dir),
        Err(e) => return Err(Error::Read(last.path.clone(), e)),
    };
    Ok(Some((first.start, scan.valid_end)))
}

/// A directory under the system temp dir (`TMPDIR`), removed on drop.
pub(crate) struct TempDir {
    pub path: PathBuf,
}

impl TempDir {
    pub(crate) fn new() -> Result<TempDir, Error> {
        static N: AtomicU32 = AtomicU32::new(0);
        let base = std::env::temp_dir();
        for _ in 0..100 {
            let path = base.join(format!(
                "sledis-dump-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ));
            match std::fs::create_dir(&path) {
                Ok(()) => return Ok(TempDir { path }),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(Error::TempDir(base, Some(e))),
            }
        }
        Err(Error::TempDir(base, None))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Copies a sled directory: snapshot files (`snap.*`) first, then the
/// rest, the log (`db`) last but one and `blobs/` last, so the copied log
/// is at least as new as the copied snapshot and the blobs it names exist.
fn copy_dir(src: &Path, dst: &Path) -> io::Result<()> {
    std::fs::create_dir_all(dst)?;
    let mut entries: Vec<(u8, PathBuf)> = std::fs::read_dir(src)?
        .map(|e| {
            e.map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                let rank = match name.as_str() {
                    n if n.starts_with("snap.") => 0,
                    "db" => 2,
                    "blobs" => 3,
                    _ => 1,
                };
                (rank, e.path())
            })
        })
        .collect::<io::Result<_>>()?;
    entries.sort();
    for (_, p) in entries {
        let Some(name) = p.file_name() else { continue };
        let to = dst.join(name);
        let ft = std::fs::symlink_metadata(&p)?.file_type();
        if ft.is_dir() {
            copy_dir(&p, &to)?;
        } else if ft.is_file() {
            std::fs::copy(&p, &to)?;
        }
    }
    Ok(())
}

/// Copies the WAL segments from the one holding offset `from` on (all of
/// them if none does: recovery then names the gap). A missing `wal/`
/// copies as none, as the node would start a new log.
fn copy_wal(src: &Path, dst: &Path, from: u64) -> io::Result<()> {
    std::fs::create_dir_all(dst)?;
    let segs = list_segments(src)?;
    let skip = segs.iter().rposition(|s| s.start <= from).unwrap_or(0);
    for seg in &segs[skip..] {
        let Some(name) = seg.path.file_name() else {
            continue;
        };
        std::fs::copy(&seg.path, dst.join(name))?;
    }
    Ok(())
}
