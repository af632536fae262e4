//! `sledis-dump verify PATH`: a snapshot file, a WAL directory, or a node's
//! data directory (its snapshot files, `wal/` and `sled/`). Checks every
//! crc, the trailer counts, the offset continuity between segments and that
//! sled's applied offset lies inside the WAL; on damage it
//! names the file, the offset and what is wrong, and how much is readable
//! before and after it. True only if everything is intact.

use super::datadir::{live_note, DataDir};
use super::wal::damage_text;
use super::Error;
use crate::snapshot::{is_snapshot, SnapshotReader};
use crate::store::check_applied;
use crate::wal::reader::{list_segments, scan_segment};
use std::io::Write;
use std::path::Path;

pub fn run(path: &Path, out: &mut impl Write) -> Result<bool, Error> {
    let meta = std::fs::metadata(path).map_err(|e| Error::Read(path.to_path_buf(), e))?;
    if meta.is_file() {
        if !is_snapshot(path) {
            return Err(Error::Not(
                path.to_path_buf(),
                "not a sledis snapshot (bad magic); for a WAL, give its directory".into(),
            ));
        }
        return snapshot(path, out);
    }
    if path.join("wal").is_dir() || path.join("sled").is_dir() {
        return data_dir(path, out);
    }
    let segments = list_segments(path).map_err(|e| Error::Read(path.to_path_buf(), e))?;
    if segments.is_empty() {
        return Err(Error::Not(
            path.to_path_buf(),
            "not a sledis data dir (no sled/ or wal/) nor a WAL directory (no *.wal segment)"
                .into(),
        ));
    }
    wal(path, out)
}

/// A data dir: sled's applied offset (read first: its copy must not be
/// newer than the WAL we compare it with), every snapshot file, the WAL.
fn data_dir(path: &Path, out: &mut impl Write) -> Result<bool, Error> {
    let sled = if path.join("sled").join("db").is_file() {
        Some(DataDir::open(path)?.sled_state()?)
    } else {
        None
    };
    let mut ok = true;
    let mut found = false;
    let mut entries: Vec<_> = std::fs::read_dir(path)
        .map_err(|e| Error::Read(path.to_path_buf(), e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && is_snapshot(p))
        .collect();
    entries.sort();
    for p in entries {
        // The server writes `<name>.tmp` and renames it when complete.
        if p.extension().is_some_and(|x| x == "tmp") {
            w(
                out,
                format!(
                    "SKIPPED {}: an unfinished snapshot (being written, or left by a crash; never loaded)",
                    p.display()
                ),
            )?;
            continue;
        }
        found = true;
        ok &= snapshot(&p, out)?;
    }
    if !found {
        w(out, format!("{}: no snapshot file", path.display()))?;
    }
    let wal_dir = path.join("wal");
    if wal_dir.is_dir() {
        ok &= wal(&wal_dir, out)?;
    } else {
        ok = false;
        w(
            out,
            format!("DAMAGED {}: no wal/ directory", path.display()),
        )?;
    }
    let sled_dir = path.join("sled");
    let Some(report) = sled else {
        w(
            out,
            format!(
                "NOT-CHECKED {}: no sled database (no sled/db): applied offset not checked",
                sled_dir.display()
            ),
        )?;
        return Ok(ok);
    };
    let copied = live_note(report.live, report.copies);
    let state = match report.state {
        Ok(s) => s,
        Err(e) => {
            w(out, format!("DAMAGED {}: {e}", sled_dir.display()))?;
            return Ok(false);
        }
    };
    let applied = state.applied;
    let line = if state.loading {
        format!(
            "OK {}: applied offset {applied}, but an interrupted full sync left it incomplete: \
             the node drops sled and the WAL at startup and syncs again{copied}",
            sled_dir.display()
        )
    } else {
        match report.range {
            None => format!(
                "OK {}: applied offset {applied}; the WAL has no segments (the node starts a new log there){copied}",
                sled_dir.display()
            ),
            Some((first, end)) => match check_applied(applied, first, end) {
                Ok(()) => format!(
                    "OK {}: applied offset {applied} lies inside the WAL (offsets {first}..{end}); \
                     {} bytes of WAL after it are replayed at startup{copied}",
                    sled_dir.display(),
                    end - applied
                ),
                Err(e) => {
                    ok = false;
                    format!("DAMAGED {}: {e}{copied}", sled_dir.display())
                }
            },
        }
    };
    w(out, line)?;
    Ok(ok)
}

fn w(out: &mut impl Write, line: String) -> Result<(), Error> {
    writeln!(out, "{line}").map_err(Error::Output)
}

fn snapshot(path: &Path, out: &mut impl Write) -> Result<bool, Error> {
    let r = match SnapshotReader::open(path) {
        Ok(r) => r,
        Err(e) => {
            // The fixed parts (header, trailer, index) are damaged: nothing
            // in the file can be located.
            w(out, format!("DAMAGED {e}"))?;
            return Ok(false);
        }
    };
    let report = r.verify();
    let status = if report.is_ok() { "OK" } else { "DAMAGED" };
    w(out, format!("{status} {report}"))?;
    Ok(report.is_ok())
}

fn wal(dir: &Path, out: &mut impl Write) -> Result<bool, Error> {
    let segs = list_segments(dir).map_err(|e| Error::Read(dir.to_path_buf(), e))?;
    if segs.is_empty() {
        w(out, format!("DAMAGED {}: no WAL segments", dir.display()))?;
        return Ok(false);
    }
    let mut ok = true;
    let mut records = 0u64;
    let mut prev_end: Option<(u64, String)> = None;
    let (mut read, mut first, mut last) = (0usize, None, 0u64);
    for (i, seg) in segs.iter().enumerate() {
        if let Some((end, name)) = &prev_end {
            if *end != seg.start {
                ok = false;
                w(
                    out,
                    format!(
                        "DAMAGED {}: offsets not continuous: {name} ends at {end}, {} starts at {}{}",
                        dir.display(),
                        seg.path.display(),
                        seg.start,
                        if *end < seg.start { " (a segment is missing)" } else { " (segments overlap)" }
                    ),
                )?;
            }
        }
        let scan = match scan_segment(seg, |_, _| {}) {
            Ok(s) => s,
            // A running node's WAL retention removed it after we listed it.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                w(
                    out,
                    format!(
                        "REMOVED {}: deleted while being read (WAL retention of a running node)",
                        seg.path.display()
                    ),
                )?;
                prev_end = None;
                continue;
            }
            Err(e) => return Err(Error::Read(seg.path.clone(), e)),
        };
        read += 1;
        first.get_or_insert(seg.start);
        records += scan.records;
        if let Some(d) = &scan.damage {
            // A torn tail on the last segment is what a crash leaves, and
            // recovery cuts it; anywhere else it is damage.
            let last = i + 1 == segs.len();
            let tolerated = d.torn && last;
            if !tolerated {
                ok = false;
            }
            w(
                out,
                format!(
                    "{} {} ({} good records, offsets {}..{}, before it)",
                    if tolerated { "TORN-TAIL" } else { "DAMAGED" },
                    damage_text(seg, d),
                    scan.records,
                    seg.start,
                    scan.valid_end
                ),
            )?;
        }
        // Where the segment ends as read (a running node's active segment
        // grows after it was listed).
        last = if scan.damage.is_none() {
            scan.valid_end
        } else {
            seg.end().max(scan.valid_end)
        };
        prev_end = Some((last, seg.path.display().to_string()));
    }
    let first = first.unwrap_or(last);
    w(
        out,
        format!(
            "{} WAL {}: {read} segments, offsets {first}..{last}, {records} readable records",
            if ok { "OK" } else { "DAMAGED" },
            dir.display(),
        ),
    )?;
    Ok(ok)
}
