//! SAVE / BGSAVE / save points / LASTSAVE bookkeeping.

use super::Server;
use crate::config::Config;
use crate::snapshot::{self, SnapshotReader};
use parking_lot::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

pub struct SaveState {
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
    pub last_info: Mutex<Option<String>>,
}

impl SaveState {
    pub fn new() -> Self {
        SaveState {
            in_progress: AtomicBool::new(false),
            scheduled: AtomicBool::new(false),
            last_save: AtomicI64::new(crate::util::now_ms() / 1000),
            last_ok: AtomicBool::new(true),
            last_duration_sec: AtomicI64::new(-1),
            last_attempt: AtomicI64::new(0),
            snapshot_start: AtomicU64::new(0),
            has_snapshot: AtomicBool::new(false),
            last_info: Mutex::new(None),
        }
    }
}

impl Default for SaveState {
    fn default() -> Self {
        Self::new()
    }
}

pub fn snapshot_path(srv: &Server) -> std::path::PathBuf {
    let cfg = srv.config.read();
    cfg.dir.join(&cfg.dbfilename)
}

/// Reads what the newest snapshot on disk says (at startup).
pub fn note_existing_snapshot(srv: &Server) {
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
pub enum SaveError {
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
pub fn save_blocking(srv: &Server) -> Result<snapshot::SnapshotInfo, SaveError> {
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
pub fn bgsave(srv: &Arc<Server>) -> bool {
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

/// `--rebuild-from-snapshot`: sled is rebuilt from `dir/dbfilename`; the WAL
/// from the snapshot's start offset is replayed by the normal recovery.
pub fn rebuild_from_snapshot(cfg: &Config) -> Result<(), String> {
    let path = cfg.dir.join(&cfg.dbfilename);
    let reader = SnapshotReader::open(&path).map_err(|e| format!("cannot rebuild: {e}"))?;
    let start = reader.header().start_offset;
    // Everything is checked before sled is touched: rebuild_sled moves the
    // old sled files aside first, and a rebuild that fails halfway (a damaged
    // block, a WAL that does not reach back to the snapshot) would leave a
    // partial sled that the next start cannot use.
    let report = reader.verify();
    if !report.is_ok() {
        return Err(format!(
            "cannot rebuild, the snapshot is damaged (sled was not touched): {report}"
        ));
    }
    let wal_dir = cfg.dir.join("wal");
    let segs = crate::wal::list_segments(&wal_dir)
        .map_err(|e| format!("cannot rebuild: reading {}: {e}", wal_dir.display()))?;
    // Where the last segment's records end (its file may go on with
    // preallocated zeros).
    let wal_end = match segs.last() {
        Some(last) => {
            crate::wal::scan_segment(last, |_, _| {})
                .map_err(|e| format!("cannot rebuild: reading {}: {e}", last.path.display()))?
                .valid_end
        }
        None => 0,
    };
    match (segs.first(), segs.last()) {
        (Some(first), _) if first.start > start => {
            return Err(format!(
                "cannot rebuild: the snapshot starts at offset {start} but the WAL in {} starts at {}: \
                 the records in between are missing (sled was not touched)",
                wal_dir.display(),
                first.start
            ));
        }
        (_, Some(_)) if wal_end < start => {
            return Err(format!(
                "cannot rebuild: the snapshot starts at offset {start} but the WAL in {} ends at {} \
                 (sled was not touched)",
                wal_dir.display(),
                wal_end
            ));
        }
        (None, _) if start > 0 => {
            return Err(format!(
                "cannot rebuild: the snapshot starts at offset {start} but there is no WAL in {} \
                 (sled was not touched)",
                wal_dir.display()
            ));
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
    })?;
    tracing::warn!("rebuilt sled with {n} keys; the WAL from offset {start} on will be replayed");
    Ok(())
}
