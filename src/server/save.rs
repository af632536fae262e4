//! SAVE / BGSAVE / save points / LASTSAVE bookkeeping.

use super::Server;
use crate::config::Config;
use crate::snapshot::{self, SnapshotReader};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

pub(crate) struct SaveState {
    pub in_progress: AtomicBool,
    /// BGSAVE SCHEDULE arrived while a save ran: the cron starts one after.
    pub scheduled: AtomicBool,
    /// Unix seconds of the last successful save.
    pub last_save: AtomicI64,
    pub last_ok: AtomicBool,
    pub last_duration_sec: AtomicI64,
    pub last_attempt: AtomicI64,
    /// Start offset of the newest snapshot on disk; the WAL is kept from it.
    pub snapshot_start: AtomicU64,
    pub has_snapshot: AtomicBool,
}

impl SaveState {
    pub(crate) fn new() -> Self {
        SaveState {
            in_progress: AtomicBool::new(false),
            scheduled: AtomicBool::new(false),
            last_save: AtomicI64::new(crate::util::now_ms() / 1000),
            last_ok: AtomicBool::new(true),
            last_duration_sec: AtomicI64::new(-1),
            last_attempt: AtomicI64::new(0),
            snapshot_start: AtomicU64::new(0),
            has_snapshot: AtomicBool::new(false),
        }
    }
}

impl Default for SaveState {
    fn default() -> Self {
        Self::new()
    }
}

pub(crate) fn snapshot_path(srv: &Server) -> std::path::PathBuf {
    let cfg = srv.config.read();
    cfg.dir.join(&cfg.dbfilename)
}

/// Reads what the newest snapshot on disk says (at startup).
pub(crate) fn note_existing_snapshot(srv: &Server) {
    let path = snapshot_path(srv);
    if let Ok(r) = SnapshotReader::open(&path) {
        let h = r.header();
        srv.save
            .snapshot_start
            .store(h.start_offset, Ordering::Release);
        srv.save.has_snapshot.store(true, Ordering::Release);
        srv.save
            .last_save
            .store((h.created_at_ms / 1000) as i64, Ordering::Release);
    }
}

/// Why a snapshot was not written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SaveError {
    /// Another save runs (a full sync waits for it and takes its file).
    InProgress,
    /// Writing failed (the old snapshot stays as it was).
    Failed(String),
}

impl std::fmt::Display for SaveError {
    /// Redis's reply text.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SaveError::InProgress => f.write_str("ERR Background save already in progress"),
            SaveError::Failed(e) => write!(f, "ERR {e}"),
        }
    }
}

impl std::error::Error for SaveError {}

/// SAVE: writes the snapshot now, in the caller's thread.
pub(crate) fn save_blocking(srv: &Server) -> Result<snapshot::SnapshotInfo, SaveError> {
    if srv.save.in_progress.swap(true, Ordering::AcqRel) {
        return Err(SaveError::InProgress);
    }
    let r = do_save(srv);
    srv.save.in_progress.store(false, Ordering::Release);
    r
}

fn do_save(srv: &Server) -> Result<snapshot::SnapshotInfo, SaveError> {
    let t0 = Instant::now();
    srv.save
        .last_attempt
        .store(crate::util::now_ms() / 1000, Ordering::Relaxed);
    let path = snapshot_path(srv);
    let dirty_before = srv.store.dirty.load(Ordering::Acquire);
    let replid = srv.repl.replid();
    match snapshot::create::create(&srv.store, &path, &replid) {
        Ok(info) => {
            let secs = t0.elapsed().as_secs_f64();
            let _ = srv
                .store
                .dirty
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |d| {
                    Some(d.saturating_sub(dirty_before))
                });
            srv.save
                .last_save
                .store(crate::util::now_ms() / 1000, Ordering::Release);
            srv.save.last_ok.store(true, Ordering::Release);
            srv.save
                .last_duration_sec
                .store(secs as i64, Ordering::Relaxed);
            srv.save
                .snapshot_start
                .store(info.header.start_offset, Ordering::Release);
            srv.save.has_snapshot.store(true, Ordering::Release);
            tracing::info!(
                "DB saved on disk: {} keys, {} blocks, {} bytes ({} raw) in {:.3}s, offsets {}..{}",
                info.keys,
                info.blocks,
                info.file_bytes,
                info.raw_bytes,
                secs,
                info.header.start_offset,
                info.header.end_offset
            );
            Ok(info)
        }
        Err(e) => {
            srv.save.last_ok.store(false, Ordering::Release);
            tracing::error!("Failed saving the snapshot to {}: {e}", path.display());
            Err(SaveError::Failed(e.to_string()))
        }
    }
}

/// BGSAVE: the same in a blocking-pool thread. False if one is running.
pub(crate) fn bgsave(srv: &Arc<Server>) -> bool {
    if srv.save.in_progress.swap(true, Ordering::AcqRel) {
        return false;
    }
    tracing::info!("Background saving started");
    let s = srv.clone();
    tokio::task::spawn_blocking(move || {
        let _ = do_save(&s);
        s.save.in_progress.store(false, Ordering::Release);
    });
    true
}

/// Why `--rebuild-from-snapshot` did not rebuild sled. Every refusal is
/// found before sled is touched.
#[derive(Debug)]
pub enum RebuildError {
    /// The snapshot file could not be opened.
    Open(snapshot::SnapshotError),
    /// The snapshot is damaged (the verify report).
    Damaged(String),
    /// The WAL could not be read.
    Wal(PathBuf, std::io::Error),
    /// The WAL starts after the snapshot's start offset.
    WalStartsAfter {
        start: u64,
        wal: PathBuf,
        first: u64,
    },
    /// The WAL ends before the snapshot's start offset.
    WalEndsBefore { start: u64, wal: PathBuf, end: u64 },
    /// There is no WAL, and the snapshot does not start at 0.
    NoWal { start: u64, wal: PathBuf },
    /// Rebuilding sled failed.
    Store(crate::store::Error),
}

impl std::fmt::Display for RebuildError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RebuildError::Open(e) => write!(f, "cannot rebuild: {e}"),
            RebuildError::Damaged(report) => write!(
                f,
                "cannot rebuild, the snapshot is damaged (sled was not touched): {report}"
            ),
            RebuildError::Wal(path, e) => {
                write!(f, "cannot rebuild: reading {}: {e}", path.display())
            }
            RebuildError::WalStartsAfter { start, wal, first } => write!(
                f,
                "cannot rebuild: the snapshot starts at offset {start} but the WAL in {} starts at {first}: \
                 the records in between are missing (sled was not touched)",
                wal.display()
            ),
            RebuildError::WalEndsBefore { start, wal, end } => write!(
                f,
                "cannot rebuild: the snapshot starts at offset {start} but the WAL in {} ends at {end} \
                 (sled was not touched)",
                wal.display()
            ),
            RebuildError::NoWal { start, wal } => write!(
                f,
                "cannot rebuild: the snapshot starts at offset {start} but there is no WAL in {} \
                 (sled was not touched)",
                wal.display()
            ),
            RebuildError::Store(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for RebuildError {}

/// `--rebuild-from-snapshot`: sled is rebuilt from `dir/dbfilename`; the WAL
/// from the snapshot's start offset is replayed by the normal recovery.
pub(crate) fn rebuild_from_snapshot(cfg: &Config) -> Result<(), RebuildError> {
    let path = cfg.dir.join(&cfg.dbfilename);
    let reader = SnapshotReader::open(&path).map_err(RebuildError::Open)?;
    let start = reader.header().start_offset;
    // Everything is checked before sled is touched: rebuild_sled moves the
    // old sled files aside first, and a rebuild that fails halfway (a damaged
    // block, a WAL that does not reach back to the snapshot) would leave a
    // partial sled that the next start cannot use.
    let report = reader.verify();
    if !report.is_ok() {
        return Err(RebuildError::Damaged(report.to_string()));
    }
    let wal_dir = cfg.dir.join("wal");
    let segs =
        crate::wal::list_segments(&wal_dir).map_err(|e| RebuildError::Wal(wal_dir.clone(), e))?;
    // Where the last segment's records end (its file may go on with
    // preallocated zeros).
    let wal_end = match segs.last() {
        Some(last) => {
            crate::wal::scan_segment(last, |_, _| {})
                .map_err(|e| RebuildError::Wal(last.path.clone(), e))?
                .valid_end
        }
        None => 0,
    };
    match (segs.first(), segs.last()) {
        (Some(first), _) if first.start > start => {
            return Err(RebuildError::WalStartsAfter {
                start,
                wal: wal_dir,
                first: first.start,
            });
        }
        (_, Some(_)) if wal_end < start => {
            return Err(RebuildError::WalEndsBefore {
                start,
                wal: wal_dir,
                end: wal_end,
            });
        }
        (None, _) if start > 0 => {
            return Err(RebuildError::NoWal {
                start,
                wal: wal_dir,
            });
        }
        _ => {}
    }
    tracing::warn!(
        "rebuilding sled from snapshot {} ({} keys, start offset {start})",
        path.display(),
        reader.key_count()
    );
    let n = crate::store::rebuild_sled(&cfg.dir, start, reader.block_count(), |i| {
        reader.read_block(i).map_err(crate::store::Error::snapshot)
    })
    .map_err(RebuildError::Store)?;
    tracing::warn!("rebuilt sled with {n} keys; the WAL from offset {start} on will be replayed");
    Ok(())
}
