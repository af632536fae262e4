//! The WAL writer. Appends only copy into an in-memory buffer (under the
//! store's writer lock, so WAL order == apply order); the bytes reach the file
//! before any client sees its reply (`write_up_to`), and a dedicated sync
//! thread turns many waiting appends into one `fdatasync` (group commit).

use super::reader::{list_segments, scan_segment_range, segment_name, Segment};
use super::record::{Effect, FRAME_HEADER};
use crate::faults;
use parking_lot::{Condvar, Mutex};
use serde::Serialize;
use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsyncPolicy {
    Always = 0,
    EverySec = 1,
    No = 2,
}

impl FsyncPolicy {
    fn from_u8(v: u8) -> Self {
        match v {
            0 => FsyncPolicy::Always,
            1 => FsyncPolicy::EverySec,
            _ => FsyncPolicy::No,
        }
    }
}

/// Serializes exactly like `Record` without owning the effects.
#[derive(Serialize)]
struct RecordRef<'a> {
    offset: u64,
    effects: &'a [Effect],
}

struct Pending {
    buf: Vec<u8>,
    /// Stream position after the last appended record.
    end: u64,
}

struct Active {
    file: Arc<File>,
    start: u64,
    spare: Vec<u8>,
    /// Finished segments not fsynced yet: rolling must not stall writers on
    /// an fsync, so the next sync takes care of them.
    unsynced: Vec<Arc<File>>,
    /// The file was zero-filled to its full size before use.
    prealloc: bool,
}

/// The zero-filled file that becomes the next segment under `appendfsync
/// always`. Overwriting blocks a file already has costs `fdatasync` no
/// journal commit for a new file size: measured here 110 µs per fdatasync
/// instead of 170-190 µs when appending.
const SPARE_NAME: &str = "next-segment.tmp";

#[derive(Default)]
struct Spare {
    file: Option<File>,
    /// The spare thread should make one.
    wanted: bool,
}

/// The newest segments' open files, so replica feeds can `sendfile` fresh
/// WAL bytes from the page cache straight into their sockets: the master
/// neither copies them into a buffer of its own nor into the socket (the
/// replica's `read` makes the one copy, on its own CPU). With two replicas
/// at 1 KiB per SET, the socket copy and the copy into a buffer were
/// 0.6–0.95 µs of the master's extra CPU per SET.
const RECENT_SEGMENTS: usize = 4;

/// What recovery found and did.
#[derive(Debug, Default, Clone)]
pub struct Recovery {
    pub segments: usize,
    pub records: u64,
    pub first_offset: u64,
    pub end_offset: u64,
    /// Bytes cut from a torn tail (or, with repair, from the damage on).
    pub truncated_bytes: u64,
    pub truncated_at: Option<u64>,
    /// The log before `applied`, not read at open (sled has it): each
    /// segment with the file offset its check ends at. `Wal::verify_old`
    /// checks it in the background.
    pub unverified: Vec<(Segment, u64)>,
}

/// A record the WAL could not encode: nothing was appended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendError(pub String);

impl std::fmt::Display for AppendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the WAL record could not be encoded: {}", self.0)
    }
}

impl std::error::Error for AppendError {}

pub struct Wal {
    dir: PathBuf,
    segment_size: AtomicU64,
    pending: Mutex<Pending>,
    active: Mutex<Active>,
    written: AtomicU64,
    synced: AtomicU64,
    policy: AtomicU8,
    sync_lock: Mutex<u64>,
    sync_cv: Condvar,
    synced_tx: watch::Sender<u64>,
    written_tx: watch::Sender<u64>,
    closed: AtomicBool,
    first_offset: AtomicU64,
    /// Partial resyncs start at or after this: the background check of
    /// the old log found damage before it (`verify_old`).
    servable_from: AtomicU64,
    /// What that check found, for INFO.
    old_damage: Mutex<Option<String>>,
    /// The last write to the log failed and its bytes wait to be written
    /// again: (error, unix ms of the first failure). Writes are refused
    /// meanwhile (`write_failed`).
    write_error: Mutex<Option<(String, i64)>>,
    write_failing: AtomicBool,
    /// Unix ms of the last failed write, for INFO (0: none yet).
    pub last_write_failure_ms: AtomicI64,
    /// fsyncs done, for INFO (records per fsync shows group commit at work).
    pub fsyncs: AtomicU64,
    inline: AtomicBool,
    /// (start, file) of the newest segments, oldest first.
    recent: Mutex<VecDeque<(u64, Arc<File>)>>,
    spare: Mutex<Spare>,
    spare_cv: Condvar,
    spare_ready: AtomicBool,
}

/// How long the sync thread leaves an inline-mode request to the runtime.
const INLINE_GRACE: Duration = Duration::from_millis(5);

/// The WAL whose fsyncs the runtime's park hook performs (one node per
/// process).
static INLINE_WAL: std::sync::OnceLock<std::sync::Weak<Wal>> = std::sync::OnceLock::new();

/// The runtime's `on_thread_park` hook: fsync what waiting clients asked for.
pub fn on_runtime_park() {
    if let Some(w) = INLINE_WAL.get().and_then(|w| w.upgrade()) {
        w.sync_requested();
    }
}

fn io_err(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

/// A failed fsync of the log ends the process. The kernel may have dropped
/// the dirty pages it could not write and marked them clean, so a later
/// fsync could succeed without them ("fsyncgate"): no durability can be
/// reported after it, and the only sure state is what the disk holds. The
/// next start reads the log from the disk (a torn tail is cut) and
/// replicas resync from there. Redis exits the same way under `appendfsync
/// always`; PostgreSQL since 2018 under any setting.
fn fsync_failed(e: &io::Error) -> ! {
    tracing::error!(
        "WAL fsync failed: {e}. The page cache may have dropped the unwritten data, so nothing after the last good fsync can be trusted: exiting; the next start reads the log from the disk"
    );
    eprintln!("WAL fsync failed: {e}; exiting (see the log)");
    std::process::exit(1);
}

fn fsync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

impl Wal {
    /// Opens (or creates) the WAL in `dir`, calling `replay` for every intact
    /// record in order. `applied` is the offset sled has applied up to: the
    /// log before it is not needed to rebuild sled's state.
    ///
    /// Damage after `applied`: a torn tail (last segment) is cut; anything
    /// else is an error naming the file and offset, unless `repair` is set,
    /// which cuts there and drops later segments. Damage before `applied` is
    /// never cut at (that would lose records sled already has, and reuse their
    /// offsets); with `repair` the log before `applied` is dropped instead.
    pub fn open(
        dir: &Path,
        policy: FsyncPolicy,
        segment_size: u64,
        repair: bool,
        applied: u64,
        mut replay: impl FnMut(&super::Record, u64),
    ) -> io::Result<(Arc<Wal>, Recovery)> {
        std::fs::create_dir_all(dir)?;
        // A repair before `applied` rewrites files and scans again; records
        // are handed to `replay` once.
        let mut replayed_to = 0u64;
        let mut deliver = |r: &super::Record, end: u64| {
            if end > replayed_to {
                replayed_to = end;
                replay(r, end);
            }
        };
        for _attempt in 0..4 {
            match Self::scan_all(dir, repair, applied, &mut deliver)? {
                Some((segs, keep, rec)) => {
                    return Self::finish_open(dir, policy, segment_size, segs, keep, rec)
                }
                None => continue,
            }
        }
        Err(io_err(format!(
            "WAL repair in {} did not converge",
            dir.display()
        )))
    }

    /// Scans every segment. Returns None after a repair that changed the
    /// files before `applied` (scan again).
    #[allow(clippy::type_complexity)]
    fn scan_all(
        dir: &Path,
        repair: bool,
        applied: u64,
        replay: &mut impl FnMut(&super::Record, u64),
    ) -> io::Result<Option<(Vec<Segment>, usize, Recovery)>> {
        let mut segs = list_segments(dir)?;
        if segs.is_empty() {
            if applied > 0 {
                tracing::warn!(
                    "no WAL segments in {}: starting a new log at sled's applied offset {applied}",
                    dir.display()
                );
            }
            let path = dir.join(segment_name(applied));
            File::create(&path)?.sync_all()?;
            fsync_dir(dir)?;
            segs.push(Segment {
                start: applied,
                path,
                len: 0,
            });
        }
        let mut rec = Recovery {
            segments: segs.len(),
            first_offset: segs[0].start,
            ..Default::default()
        };
        let mut expected = segs[0].start;
        let mut keep = segs.len();
        for (i, seg) in segs.iter().enumerate() {
            if seg.start != expected {
                return Err(io_err(format!(
                    "WAL gap: segment {} starts at offset {} but the previous one ends at {} (a segment is missing)",
                    seg.path.display(),
                    seg.start,
                    expected
                )));
            }
            // The log sled has applied is not read now: a restart costs
            // what sled lacks, not the retained backlog. It is checked in
            // the background (`verify_old`); `repair` reads it all.
            let next_start = segs.get(i + 1).map(|n| n.start);
            if let (false, Some(next)) = (repair, next_start.filter(|n| *n <= applied)) {
                // A file too short to reach the next segment's start lost
                // its end, or the segment after it is missing.
                if seg.start + seg.len < next {
                    return Err(io_err(format!(
                        "WAL segment {} ends at offset {} but the next segment, {}, starts at {}: the segment was cut \
                         short or one is missing. Start with --repair-wal to drop the WAL before sled's applied \
                         offset {applied} (sled keeps every record)",
                        seg.path.display(),
                        seg.start + seg.len,
                        segs[i + 1].path.display(),
                        next
                    )));
                }
                rec.unverified.push((seg.clone(), u64::MAX));
                expected = next;
                continue;
            }
            let from = if repair {
                0
            } else {
                applied.saturating_sub(seg.start)
            };
            if from > 0 {
                rec.unverified.push((seg.clone(), from));
            }
            let scan = scan_segment_range(seg, from, None, |r, end| replay(r, end))?;
            rec.records += scan.records;
            expected = scan.valid_end;
            let Some(d) = scan.damage else { continue };
            if d.offset < applied {
                if !repair {
                    return Err(io_err(format!(
                        "corrupt WAL record in {} at file offset {} (stream offset {}): {}; sled has already \
                         applied the log up to offset {applied}. Start with --repair-wal to drop the WAL before \
                         offset {applied} (sled keeps every record; replicas and --rebuild-from-snapshot can no \
                         longer use the older log)",
                        seg.path.display(),
                        d.file_offset,
                        d.offset,
                        d.message
                    )));
                }
                Self::drop_before(dir, &segs, applied, &d)?;
                return Ok(None);
            }
            let last = i + 1 == segs.len();
            if !(repair || last && d.torn) {
                return Err(io_err(format!(
                    "corrupt WAL record in {} at file offset {} (stream offset {}): {}; {} bytes follow. \
                     Start with --repair-wal to cut the log there (losing what follows)",
                    seg.path.display(),
                    d.file_offset,
                    d.offset,
                    d.message,
                    d.bytes_after
                )));
            }
            let f = OpenOptions::new().write(true).open(&seg.path)?;
            f.set_len(d.file_offset)?;
            f.sync_all()?;
            rec.truncated_bytes += d.bytes_after;
            rec.truncated_at = Some(d.offset);
            tracing::warn!(
                "WAL {}: cut {} bytes at offset {} ({})",
                seg.path.display(),
                d.bytes_after,
                d.offset,
                d.message
            );
            keep = i + 1;
            break;
        }
        for seg in &segs[keep..] {
            rec.truncated_bytes += seg.len;
            tracing::warn!(
                "WAL repair: removing segment {} after the damage",
                seg.path.display()
            );
            std::fs::remove_file(&seg.path)?;
        }
        segs.truncate(keep);
        rec.end_offset = expected;
        Ok(Some((segs, keep, rec)))
    }

    /// `--repair-wal` for damage sled has already applied: the log before
    /// `applied` goes; the segment holding `applied` is rewritten to start
    /// there (a record boundary).
    fn drop_before(
        dir: &Path,
        segs: &[Segment],
        applied: u64,
        d: &super::ScanDamage,
    ) -> io::Result<()> {
        tracing::warn!(
            "WAL repair: damage at offset {} ({}) lies before sled's applied offset {applied}; dropping the WAL before {applied}",
            d.offset,
            d.message
        );
        // A segment's data ends where the next one starts (its file may go
        // on with preallocated zeros).
        let holder = segs.iter().enumerate().position(|(i, s)| {
            let end = segs.get(i + 1).map_or(s.end(), |n| n.start);
            s.start <= applied && applied <= end
        });
        let Some(h) = holder else {
            // The log ends before `applied`: none of it is needed; start anew.
            for s in segs {
                tracing::warn!("WAL repair: removing segment {}", s.path.display());
                std::fs::remove_file(&s.path)?;
            }
            File::create(dir.join(segment_name(applied)))?.sync_all()?;
            return fsync_dir(dir);
        };
        let seg = &segs[h];
        if seg.start < applied {
            use std::io::{Read, Seek, SeekFrom};
            let mut src = File::open(&seg.path)?;
            src.seek(SeekFrom::Start(applied - seg.start))?;
            let mut rest = Vec::new();
            src.read_to_end(&mut rest)?;
            let tmp = dir.join(format!("{}.tmp", segment_name(applied)));
            let mut f = File::create(&tmp)?;
            f.write_all(&rest)?;
            f.sync_all()?;
            std::fs::rename(&tmp, dir.join(segment_name(applied)))?;
            std::fs::remove_file(&seg.path)?;
        }
        for s in &segs[..h] {
            tracing::warn!("WAL repair: removing segment {}", s.path.display());
            std::fs::remove_file(&s.path)?;
        }
        fsync_dir(dir)
    }

    fn finish_open(
        dir: &Path,
        policy: FsyncPolicy,
        segment_size: u64,
        segs: Vec<Segment>,
        keep: usize,
        rec: Recovery,
    ) -> io::Result<(Arc<Wal>, Recovery)> {
        let expected = rec.end_offset;
        let last = &segs[keep - 1];
        // Not append mode: writes go to the end of the data, which in a
        // preallocated segment lies before the end of the file.
        // Readable too: replica feeds `sendfile` from it.
        let file = OpenOptions::new().read(true).write(true).open(&last.path)?;
        let prealloc = file.metadata()?.len() > expected - last.start;
        let file = Arc::new(file);
        let wal = Wal {
            dir: dir.to_path_buf(),
            segment_size: AtomicU64::new(segment_size.max(1024)),
            pending: Mutex::new(Pending {
                buf: Vec::with_capacity(1 << 20),
                end: expected,
            }),
            recent: Mutex::new(VecDeque::from([(last.start, file.clone())])),
            active: Mutex::new(Active {
                file,
                start: last.start,
                spare: Vec::with_capacity(1 << 20),
                unsynced: Vec::new(),
                prealloc,
            }),
            written: AtomicU64::new(expected),
            synced: AtomicU64::new(expected),
            policy: AtomicU8::new(policy as u8),
            sync_lock: Mutex::new(0),
            sync_cv: Condvar::new(),
            synced_tx: watch::channel(expected).0,
            written_tx: watch::channel(expected).0,
            closed: AtomicBool::new(false),
            first_offset: AtomicU64::new(rec.first_offset),
            servable_from: AtomicU64::new(0),
            old_damage: Mutex::new(None),
            write_error: Mutex::new(None),
            write_failing: AtomicBool::new(false),
            last_write_failure_ms: AtomicI64::new(0),
            fsyncs: AtomicU64::new(0),
            inline: AtomicBool::new(false),
            spare: Mutex::new(Spare::default()),
            spare_cv: Condvar::new(),
            spare_ready: AtomicBool::new(false),
        };
        let wal = Arc::new(wal);
        let w = wal.clone();
        std::thread::Builder::new()
            .name("wal-sync".into())
            .spawn(move || w.sync_loop())?;
        let w = wal.clone();
        std::thread::Builder::new()
            .name("wal-spare".into())
            .spawn(move || w.spare_loop())?;
        wal.want_spare();
        Ok((wal, rec))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn policy(&self) -> FsyncPolicy {
        FsyncPolicy::from_u8(self.policy.load(Ordering::Relaxed))
    }

    pub fn set_policy(&self, p: FsyncPolicy) {
        self.policy.store(p as u8, Ordering::Relaxed);
        self.want_spare();
    }

    pub fn set_segment_size(&self, n: u64) {
        self.segment_size.store(n.max(1024), Ordering::Relaxed);
    }

    /// Stream position after the last appended record (`master_repl_offset`).
    pub fn end_offset(&self) -> u64 {
        self.pending.lock().end
    }

    pub fn written_offset(&self) -> u64 {
        self.written.load(Ordering::Acquire)
    }

    pub fn synced_offset(&self) -> u64 {
        self.synced.load(Ordering::Acquire)
    }

    /// Oldest retained stream position.
    pub fn first_offset(&self) -> u64 {
        self.first_offset.load(Ordering::Acquire)
    }

    /// Oldest position a partial resync may start from: the retained log,
    /// less any part the background check found damaged.
    pub fn servable_from(&self) -> u64 {
        self.first_offset()
            .max(self.servable_from.load(Ordering::Acquire))
    }

    /// What the background check of the old log found, if anything.
    pub fn old_damage(&self) -> Option<String> {
        self.old_damage.lock().clone()
    }

    /// Checks the log that `open` skipped (see `Recovery::unverified`): every
    /// record's crc and framing. sled already holds those records, so damage
    /// there loses no data; it only makes that part of the log unusable for
    /// partial resyncs, which then start after it (full sync below).
    pub fn verify_old(&self, unverified: Vec<(Segment, u64)>) {
        let t0 = std::time::Instant::now();
        let (mut bytes, mut records) = (0u64, 0u64);
        for (seg, to) in unverified {
            if self.closed.load(Ordering::Acquire) {
                return;
            }
            let scan = match scan_segment_range(&seg, 0, Some(to), |_, _| {}) {
                Ok(s) => s,
                // Retention removed it meanwhile.
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => {
                    tracing::error!("WAL check: cannot read {}: {e}", seg.path.display());
                    continue;
                }
            };
            records += scan.records;
            bytes += scan.valid_end - seg.start;
            let Some(d) = scan.damage else { continue };
            let past = if to == u64::MAX {
                seg.start + seg.len
            } else {
                seg.start + to
            };
            let msg = format!(
                "corrupt WAL record in {} at file offset {} (stream offset {}): {}",
                seg.path.display(),
                d.file_offset,
                d.offset,
                d.message
            );
            tracing::error!(
                "{msg}. sled already holds these records, so no data is lost; partial resyncs from before offset {past} \
                 get a full sync instead"
            );
            self.servable_from.fetch_max(past, Ordering::AcqRel);
            *self.old_damage.lock() = Some(msg);
        }
        tracing::info!(
            "WAL check: {records} record(s), {bytes} bytes before sled's applied offset checked in {:?}",
            t0.elapsed()
        );
    }

    /// Notified with the written offset whenever bytes reach the file.
    pub fn subscribe_written(&self) -> watch::Receiver<u64> {
        self.written_tx.subscribe()
    }

    pub fn subscribe_synced(&self) -> watch::Receiver<u64> {
        self.synced_tx.subscribe()
    }

    /// Appends a record; returns its (start, end) stream positions. Callers
    /// hold the store's writer lock, which orders appends. A record that
    /// cannot be encoded is not appended, and the caller must not publish
    /// it.
    pub fn append(&self, effects: &[Effect]) -> Result<(u64, u64), AppendError> {
        let mut p = self.pending.lock();
        let offset = p.end;
        let start = p.buf.len();
        p.buf.extend_from_slice(&[0u8; FRAME_HEADER]);
        let rec = RecordRef { offset, effects };
        if let Err(e) = bincode::serialize_into(&mut p.buf, &rec) {
            p.buf.truncate(start);
            return Err(AppendError(e.to_string()));
        }
        let len = (p.buf.len() - start - FRAME_HEADER) as u32;
        let crc = crc32fast::hash(&p.buf[start + FRAME_HEADER..]);
        p.buf[start..start + 4].copy_from_slice(&len.to_le_bytes());
        p.buf[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
        p.end += (len as usize + FRAME_HEADER) as u64;
        Ok((offset, p.end))
    }

    /// Appends bytes that are already framed records at the current end (a
    /// replica writing its master's stream verbatim).
    pub fn append_raw(&self, framed: &[u8]) -> u64 {
        let mut p = self.pending.lock();
        p.buf.extend_from_slice(framed);
        p.end += framed.len() as u64;
        p.end
    }

    /// Makes sure everything appended up to `end` has been written to the
    /// file (the OS has it: a process crash loses none of it).
    ///
    /// A failed write (ENOSPC, EIO, a short write) keeps its bytes: they go
    /// back in front of what was appended since and are written again, at
    /// the same file position, by the next call (as Redis retries its AOF
    /// buffer). So the log never gets a torn record followed by newer ones,
    /// and no offset is skipped. Until a write succeeds, `write_failed` is
    /// true and the server refuses writes.
    pub fn write_up_to(&self, end: u64) -> io::Result<()> {
        if self.written.load(Ordering::Acquire) >= end {
            return Ok(());
        }
        let mut a = self.active.lock();
        if self.written.load(Ordering::Acquire) >= end {
            return Ok(());
        }
        let mut buf = std::mem::take(&mut a.spare);
        let new_end = {
            let mut p = self.pending.lock();
            std::mem::swap(&mut p.buf, &mut buf);
            p.end
        };
        // The file position is where this segment's data ends.
        let at = self.written.load(Ordering::Acquire) - a.start;
        let began = std::time::Instant::now();
        let wrote = faults::write_all_at("wal-write", &a.file, &buf, at);
        crate::latency::note("aof-write", began.elapsed());
        if let Err(e) = wrote {
            let mut p = self.pending.lock();
            buf.extend_from_slice(&p.buf);
            std::mem::swap(&mut p.buf, &mut buf);
            buf.clear();
            a.spare = buf;
            drop(p);
            self.note_write_failure(&e);
            return Err(e);
        }
        buf.clear();
        a.spare = buf;
        self.written.store(new_end, Ordering::Release);
        self.written_tx.send_replace(new_end);
        if self.write_failing.load(Ordering::Acquire) {
            self.write_failing.store(false, Ordering::Release);
            if let Some((e, since)) = self.write_error.lock().take() {
                tracing::warn!(
                    "WAL writes succeed again (they had failed for {} ms: {e}); writes are accepted",
                    crate::util::now_ms() - since
                );
            }
        }
        let full = new_end - a.start >= self.segment_size.load(Ordering::Relaxed);
        // Under `appendfsync always` a zero-filled segment is worth an
        // early roll (this happens once after startup).
        let early = !a.prealloc && new_end > a.start && self.spare_ready.load(Ordering::Acquire);
        if full || early {
            // The bytes are written: a segment that cannot be started now
            // (a full disk) is tried again after the next write.
            if let Err(e) = self.roll(&mut a, new_end) {
                tracing::warn!("WAL: cannot start a new segment ({e}); the current one grows");
            }
        }
        Ok(())
    }

    /// True while the last write to the log failed (see `write_up_to`).
    pub fn write_failed(&self) -> bool {
        self.write_failing.load(Ordering::Acquire)
    }

    /// The error of the failing write, while it fails.
    pub fn write_error(&self) -> Option<String> {
        self.write_error.lock().as_ref().map(|(e, _)| e.clone())
    }

    fn note_write_failure(&self, e: &io::Error) {
        let now = crate::util::now_ms();
        self.last_write_failure_ms.store(now, Ordering::Relaxed);
        let mut w = self.write_error.lock();
        if w.is_none() {
            tracing::error!(
                "WAL write failed: {e}; writes are refused (MISCONF) until it succeeds, reads go on"
            );
            *w = Some((e.to_string(), now));
        }
        self.write_failing.store(true, Ordering::Release);
    }

    /// The open file holding stream position `pos` if it is in one of the
    /// newest segments: (file, the segment's start, where its data ends if
    /// a newer segment follows). Data below `written_offset` is in the file
    /// (the page cache) before the offset moves.
    pub fn recent_segment(&self, pos: u64) -> Option<(Arc<File>, u64, Option<u64>)> {
        let r = self.recent.lock();
        let i = r.partition_point(|(s, _)| *s <= pos).checked_sub(1)?;
        let (start, file) = &r[i];
        Some((file.clone(), *start, r.get(i + 1).map(|(s, _)| *s)))
    }

    fn remember_segment(&self, start: u64, file: &Arc<File>) {
        let mut r = self.recent.lock();
        r.push_back((start, file.clone()));
        while r.len() > RECENT_SEGMENTS {
            r.pop_front();
        }
    }

    /// Starts a new segment at `at`. The finished one is fsynced by the next
    /// `sync_all`, before `synced` may pass it.
    fn roll(&self, a: &mut Active, at: u64) -> io::Result<()> {
        let path = self.dir.join(segment_name(at));
        let (file, prealloc) = self.new_segment(&path)?;
        fsync_dir(&self.dir)?;
        let file = Arc::new(file);
        // Before the next write can pass `at`: feeds look past the old
        // segment's end only for what has been written.
        self.remember_segment(at, &file);
        let old = std::mem::replace(&mut a.file, file);
        a.unsynced.push(old);
        a.start = at;
        a.prealloc = prealloc;
        tracing::debug!(
            "WAL: new segment {}{}",
            path.display(),
            if prealloc { " (zero-filled)" } else { "" }
        );
        Ok(())
    }

    /// Creates the segment file at `path`: the spare if one is ready (true),
    /// else an empty file. The caller fsyncs the directory.
    fn new_segment(&self, path: &Path) -> io::Result<(File, bool)> {
        if self.spare_ready.swap(false, Ordering::AcqRel) {
            let spare = self.spare.lock().file.take();
            if let Some(f) = spare {
                match std::fs::rename(self.dir.join(SPARE_NAME), path) {
                    Ok(()) => {
                        self.want_spare();
                        return Ok((f, true));
                    }
                    Err(e) => tracing::warn!("WAL: cannot use the zero-filled spare segment: {e}"),
                }
            }
        }
        self.want_spare();
        let f = OpenOptions::new()
            .create(true)
            .read(true)
            .write(true)
            .truncate(true)
            .open(path)?;
        Ok((f, false))
    }

    /// Asks the spare thread for a zero-filled next segment when the policy
    /// is `always` (other policies fsync rarely: zero-filling would only
    /// double the bytes written).
    fn want_spare(&self) {
        if self.policy() != FsyncPolicy::Always {
            return;
        }
        let mut s = self.spare.lock();
        if s.file.is_none() && !s.wanted {
            s.wanted = true;
            self.spare_cv.notify_one();
        }
    }

    fn spare_loop(self: Arc<Self>) {
        loop {
            {
                let mut s = self.spare.lock();
                loop {
                    if self.closed.load(Ordering::Acquire) {
                        return;
                    }
                    if s.wanted {
                        break;
                    }
                    self.spare_cv.wait_for(&mut s, Duration::from_millis(500));
                }
            }
            let size = self.segment_size.load(Ordering::Relaxed);
            let made = self.make_spare(size);
            let mut s = self.spare.lock();
            s.wanted = false;
            match made {
                Ok(f) => {
                    s.file = Some(f);
                    self.spare_ready.store(true, Ordering::Release);
                }
                // The next roll asks again; until then segments grow by
                // appending, as under the other policies.
                Err(_) if self.closed.load(Ordering::Acquire) => return,
                Err(e) => tracing::warn!("WAL: cannot prepare a zero-filled segment: {e}"),
            }
        }
    }

    fn make_spare(&self, size: u64) -> io::Result<File> {
        let path = self.dir.join(SPARE_NAME);
        let mut f = OpenOptions::new()
            .create(true)
            .read(true)
            .write(true)
            .truncate(true)
            .open(&path)?;
        let zeros = vec![0u8; 1 << 20];
        let mut left = size;
        while left > 0 {
            if self.closed.load(Ordering::Acquire) {
                return Err(io::Error::other("WAL closed"));
            }
            let n = left.min(zeros.len() as u64) as usize;
            f.write_all(&zeros[..n])?;
            left -= n as u64;
        }
        f.sync_all()?;
        Ok(f)
    }

    /// Writes and fsyncs everything appended so far.
    pub fn sync_all(&self) -> io::Result<u64> {
        let end = self.end_offset();
        self.write_up_to(end)?;
        let (file, older, upto) = {
            let mut a = self.active.lock();
            (
                a.file.clone(),
                std::mem::take(&mut a.unsynced),
                self.written.load(Ordering::Acquire),
            )
        };
        let began = std::time::Instant::now();
        let fsynced = older
            .iter()
            .chain(std::iter::once(&file))
            .try_for_each(|f| faults::check("wal-fsync").and_then(|()| f.sync_data()));
        // Only under `always` does a client wait for it (Redis's event).
        if self.policy() == FsyncPolicy::Always {
            crate::latency::note("aof-fsync-always", began.elapsed());
        }
        if let Err(e) = fsynced {
            fsync_failed(&e);
        }
        self.fsyncs.fetch_add(1, Ordering::Relaxed);
        let s = self.synced.fetch_max(upto, Ordering::AcqRel).max(upto);
        self.synced_tx.send_replace(s);
        Ok(s)
    }

    /// Asks the sync thread to make `end` durable; await `subscribe_synced`.
    pub fn request_sync(&self, end: u64) {
        let mut req = self.sync_lock.lock();
        if *req < end {
            *req = end;
        }
        if !self.inline.load(Ordering::Relaxed) {
            self.sync_cv.notify_one();
        }
    }

    /// Single-threaded runtime: fsyncs for `appendfsync always` run on the
    /// runtime thread when it runs out of work ([`on_runtime_park`]), like
    /// Redis's `beforeSleep`: every request read in that round shares one
    /// fsync and no thread hand-off is paid (measured: ~15% more SETs than
    /// handing each fsync to the sync thread). The sync thread steps in if a
    /// request waits more than `INLINE_GRACE` (a runtime that never idles).
    pub fn sync_on_park(self: &Arc<Self>) {
        self.inline.store(true, Ordering::Release);
        let _ = INLINE_WAL.set(Arc::downgrade(self));
    }

    fn sync_requested(&self) {
        let req = *self.sync_lock.lock();
        if req > self.synced_offset() {
            if let Err(e) = self.sync_all() {
                if self.write_failed() {
                    tracing::debug!("WAL sync failed again: {e}");
                } else {
                    tracing::error!("WAL sync failed: {e}");
                }
            }
        }
    }

    /// Durability before an acknowledgement, by the fsync policy: the
    /// bytes up to `end` have reached the OS (`everysec`, `no`) or the disk
    /// (`always`, where the sync thread's group commit does it). On an
    /// error the bytes stay queued and a later call writes them again
    /// (`write_up_to`). The connection (before a reply) and a replica's
    /// stream (before an ACK) both wait here.
    pub async fn make_durable(&self, end: u64) -> io::Result<()> {
        if self.policy() == FsyncPolicy::Always {
            return self.wait_synced(end).await;
        }
        match self.write_up_to(end) {
            // Another writer's failure; ours are out.
            Err(_) if self.written_offset() >= end => Ok(()),
            r => r,
        }
    }

    /// Waits until `end` is durable (group commit for `appendfsync always`).
    pub async fn wait_synced(&self, end: u64) -> io::Result<()> {
        if self.synced_offset() >= end {
            return Ok(());
        }
        let mut rx = self.subscribe_synced();
        self.request_sync(end);
        rx.wait_for(|s| *s >= end)
            .await
            .map(|_| ())
            .map_err(|_| io::Error::other("WAL closed"))
    }

    fn sync_loop(self: Arc<Self>) {
        let mut last = Instant::now();
        // Inline mode: when an unsynced request was first seen.
        let mut waiting_since: Option<Instant> = None;
        loop {
            {
                let mut req = self.sync_lock.lock();
                loop {
                    if self.closed.load(Ordering::Acquire) {
                        return;
                    }
                    let synced = self.synced.load(Ordering::Acquire);
                    let mut timeout = Duration::from_millis(100);
                    if *req > synced {
                        if !self.inline.load(Ordering::Relaxed) {
                            break;
                        }
                        let since = *waiting_since.get_or_insert_with(Instant::now);
                        if since.elapsed() >= INLINE_GRACE {
                            break;
                        }
                        timeout = INLINE_GRACE;
                    } else {
                        waiting_since = None;
                    }
                    let everysec = self.policy() == FsyncPolicy::EverySec;
                    if everysec && last.elapsed() >= Duration::from_secs(1) {
                        break;
                    }
                    self.sync_cv.wait_for(&mut req, timeout);
                }
            }
            last = Instant::now();
            waiting_since = None;
            if self.end_offset() > self.synced_offset() {
                if let Err(e) = self.sync_all() {
                    if self.write_failed() {
                        tracing::debug!("WAL sync failed again: {e}");
                    } else {
                        tracing::error!("WAL sync failed: {e}");
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        }
    }

    /// Removes whole segments that end at or before `pos` (never the active
    /// one). Returns the bytes freed.
    pub fn remove_before(&self, pos: u64) -> io::Result<u64> {
        let active_start = self.active.lock().start;
        let segs = list_segments(&self.dir)?;
        let mut freed = 0;
        for w in segs.windows(2) {
            let (seg, next) = (&w[0], &w[1]);
            if next.start <= pos && seg.start < active_start {
                std::fs::remove_file(&seg.path)?;
                freed += seg.len;
                self.first_offset.store(next.start, Ordering::Release);
            }
        }
        // A removed file's space is freed once nothing holds it open.
        let first = self.first_offset();
        self.recent.lock().retain(|(s, _)| *s >= first);
        Ok(freed)
    }

    /// Total bytes of WAL on disk.
    pub fn disk_bytes(&self) -> u64 {
        list_segments(&self.dir)
            .map(|s| s.iter().map(|s| s.len).sum())
            .unwrap_or(0)
    }

    /// Drops the whole log and starts an empty one at `start` (a replica
    /// that loaded its master's snapshot continues the master's offsets).
    pub fn reset(&self, start: u64) -> io::Result<()> {
        let mut a = self.active.lock();
        let mut p = self.pending.lock();
        for seg in list_segments(&self.dir)? {
            std::fs::remove_file(&seg.path)?;
        }
        let path = self.dir.join(segment_name(start));
        let (file, prealloc) = self.new_segment(&path)?;
        file.sync_all()?;
        fsync_dir(&self.dir)?;
        a.file = Arc::new(file);
        a.start = start;
        a.prealloc = prealloc;
        a.unsynced.clear();
        p.buf.clear();
        p.end = start;
        self.recent.lock().clear();
        self.remember_segment(start, &a.file);
        self.written.store(start, Ordering::Release);
        self.synced.store(start, Ordering::Release);
        self.first_offset.store(start, Ordering::Release);
        *self.sync_lock.lock() = start;
        self.written_tx.send_replace(start);
        self.synced_tx.send_replace(start);
        tracing::info!("WAL reset: the log now starts at offset {start}");
        Ok(())
    }

    /// Flushes and fsyncs; stops the sync thread.
    pub fn close(&self) -> io::Result<()> {
        let r = self.sync_all();
        self.closed.store(true, Ordering::Release);
        self.sync_cv.notify_all();
        self.spare_cv.notify_all();
        r.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use std::os::unix::fs::FileExt;

    /// Every written position is found in the newest segments' files with
    /// exactly the bytes a reader gets, across rolls; the ends it reports
    /// are the next segment's start; positions older than the kept
    /// segments are not found (the feed reads those through `WalReader`).
    #[test]
    fn recent_segments_hold_the_written_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let (wal, _) = Wal::open(dir.path(), FsyncPolicy::No, 1024, false, 0, |_, _| {}).unwrap();
        for i in 0..100u8 {
            let end = wal.append_raw(&vec![i; 50 + i as usize]);
            wal.write_up_to(end).unwrap();
        }
        let end = wal.written_offset();
        let mut want = vec![0u8; end as usize];
        let mut r = super::super::reader::WalReader::new(dir.path(), 0);
        let mut got = 0;
        while got < want.len() {
            got += r.read(&mut want[got..], end).unwrap();
        }
        let segs = list_segments(dir.path()).unwrap();
        assert!(segs.len() > RECENT_SEGMENTS, "{} segments", segs.len());
        assert!(wal.recent_segment(0).is_none(), "the first segment is old");
        let kept = &segs[segs.len() - RECENT_SEGMENTS..];
        for (i, seg) in kept.iter().enumerate() {
            let data_end = kept.get(i + 1).map(|s| s.start);
            for pos in [seg.start, seg.start + 1, data_end.unwrap_or(end) - 1] {
                let (file, start, next) = wal.recent_segment(pos).unwrap();
                assert_eq!((start, next), (seg.start, data_end), "at {pos}");
                let to = next.unwrap_or(end);
                let mut bytes = vec![0u8; (to - pos) as usize];
                file.read_exact_at(&mut bytes, pos - start).unwrap();
                assert_eq!(bytes, &want[pos as usize..to as usize], "at {pos}");
            }
        }
        // Retention drops what it removed.
        let last = segs.last().unwrap().start;
        wal.remove_before(last).unwrap();
        assert!(wal.recent_segment(last - 1).is_none());
        assert!(wal.recent_segment(last).is_some());
    }

    /// A WAL under `always` (4 KiB segments) once its zero-filled spare
    /// segment is ready.
    fn open_with_spare(dir: &Path) -> Arc<Wal> {
        let (wal, _) = Wal::open(dir, FsyncPolicy::Always, 4096, false, 0, |_, _| {}).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while !wal.spare_ready.load(Ordering::Acquire) {
            assert!(Instant::now() < deadline, "no spare segment was made");
            std::thread::sleep(Duration::from_millis(5));
        }
        wal
    }

    /// Under `always` segments are zero-filled before use. A segment that
    /// rolls before its file is full (here: the segment size shrank) keeps
    /// zeros after its records: readers, scans and recovery must stop at
    /// the records and never hand out the zeros.
    #[test]
    fn zero_filled_segments_read_as_their_records_only() {
        use super::super::record::{decode_frame, Decoded};
        let dir = tempfile::tempdir().unwrap();
        let wal = open_with_spare(dir.path());
        let put = |i: u32| Effect::Put {
            key: Bytes::from(format!("key{i}")),
            value: Bytes::from(vec![b'v'; 100]),
        };
        let write = |range: std::ops::Range<u32>| {
            for i in range {
                let (_, end) = wal.append(&[put(i)]).expect("append");
                wal.write_up_to(end).unwrap();
            }
        };
        write(0..2); // the second write lands in the zero-filled spare
        wal.set_segment_size(1024);
        write(2..40);
        let end = wal.written_offset();
        let segs = list_segments(dir.path()).unwrap();
        assert!(segs.len() >= 3, "rolled: {segs:?}");
        let padded = segs
            .windows(2)
            .filter(|w| w[0].start + w[0].len > w[1].start)
            .count();
        assert!(
            padded >= 1,
            "a segment kept zeros after its records: {segs:?}"
        );
        for (i, seg) in segs.iter().enumerate() {
            let scan = crate::wal::scan_segment(seg, |_, _| {}).unwrap();
            assert!(scan.damage.is_none(), "{seg:?}: {:?}", scan.damage);
            let data_end = segs.get(i + 1).map_or(end, |n| n.start);
            assert_eq!(scan.valid_end, data_end, "{seg:?}");
        }
        let mut bytes = vec![0u8; end as usize];
        let mut r = super::super::reader::WalReader::new(dir.path(), 0);
        let mut got = 0;
        while got < bytes.len() {
            let n = r.read(&mut bytes[got..], end).unwrap();
            assert!(n > 0, "stalled at {got}");
            got += n;
        }
        let (mut pos, mut records) = (0usize, 0);
        while pos < bytes.len() {
            match decode_frame(&bytes[pos..], pos as u64) {
                Decoded::Record(_, n) => pos += n,
                _ => panic!("not a record at {pos}"),
            }
            records += 1;
        }
        assert_eq!(records, 40);
        wal.close().unwrap();
        drop(wal);
        let mut replayed = 0;
        let (_, rec) = Wal::open(dir.path(), FsyncPolicy::Always, 1024, false, 0, |_, _| {
            replayed += 1
        })
        .unwrap();
        assert_eq!(
            (replayed, rec.end_offset, rec.truncated_bytes),
            (40, end, 0)
        );
    }

    /// A feed's reader that follows the writer across many rolls of
    /// zero-filled segments, in small reads, gets exactly the records; a
    /// reader catching up lists the directory once, not once per segment;
    /// seeking back keeps working until retention removes the bytes, which
    /// is an error, never a stall.
    #[test]
    fn reader_follows_the_writer_across_rolls() {
        use super::super::reader::WalReader;
        let dir = tempfile::tempdir().unwrap();
        let wal = open_with_spare(dir.path());
        wal.set_segment_size(512);
        // About 20 segments per 200 writes, fewer when the spare is slow.
        const WRITES: u32 = 400;
        let mut follower = WalReader::new(dir.path(), 0);
        let mut followed = Vec::new();
        let mut chunk = [0u8; 77];
        for i in 0..WRITES {
            let end = wal.append_raw(&vec![(i % 251) as u8 + 1; 60 + (i % 90) as usize]);
            wal.write_up_to(end).unwrap();
            loop {
                let n = follower.read(&mut chunk, end).unwrap();
                if n == 0 {
                    break;
                }
                followed.extend_from_slice(&chunk[..n]);
            }
            assert_eq!(follower.position(), end, "caught up after write {i}");
        }
        let end = wal.written_offset();
        let segs = list_segments(dir.path()).unwrap();
        assert!(segs.len() > 20, "rolled often: {} segments", segs.len());
        // At the writer's end: once per new limit (a roll may be under
        // it), plus once per segment it finished.
        assert!(
            follower.listings() <= u64::from(WRITES) + segs.len() as u64,
            "{} listings for {WRITES} writes and {} segments",
            follower.listings(),
            segs.len()
        );
        let mut whole = vec![0u8; end as usize];
        let mut fresh = WalReader::new(dir.path(), 0);
        let mut got = 0;
        while got < whole.len() {
            let n = fresh.read(&mut whole[got..], end).unwrap();
            assert!(n > 0, "stalled at {got}");
            got += n;
        }
        assert_eq!(followed, whole);
        assert!(
            fresh.listings() <= 2,
            "catching up over {} segments listed {} times",
            segs.len(),
            fresh.listings()
        );
        // Back to an earlier position with the list already made.
        let back = segs[segs.len() / 2].start + 1;
        follower.seek(back);
        let mut again = vec![0u8; (end - back) as usize];
        let mut got = 0;
        while got < again.len() {
            got += follower.read(&mut again[got..], end).unwrap();
        }
        assert_eq!(again, whole[back as usize..]);
        wal.remove_before(segs[segs.len() - 2].start).unwrap();
        follower.seek(back);
        let err = follower.read(&mut chunk, end).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound, "{err}");
    }
}
