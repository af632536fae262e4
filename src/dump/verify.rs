//! `sledis-dump verify PATH`: a snapshot file, a WAL directory, or a node's
//! data directory (its snapshot files and `wal/`). Checks every crc, the
//! trailer counts and the offset continuity between segments; on damage it
//! names the file, the offset and what is wrong, and how much is readable
//! before and after it. True only if everything is intact.

use super::wal::damage_text;
use crate::snapshot::{is_snapshot, SnapshotReader};
use crate::wal::reader::{list_segments, scan_segment};
use std::io::Write;
use std::path::Path;

pub fn run(path: &Path, out: &mut impl Write) -> Result<bool, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if meta.is_file() {
        if !is_snapshot(path) {
            return Err(format!(
                "{}: not a sledis snapshot (bad magic); for a WAL, give its directory",
                path.display()
            ));
        }
        return snapshot(path, out);
    }
    let wal_dir = path.join("wal");
    if wal_dir.is_dir() {
        // A data dir: every snapshot file in it, then the WAL.
        let mut ok = true;
        let mut found = false;
        let mut entries: Vec<_> = std::fs::read_dir(path)
            .map_err(|e| format!("{}: {e}", path.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file() && is_snapshot(p))
            .collect();
        entries.sort();
        for p in entries {
            found = true;
            ok &= snapshot(&p, out)?;
        }
        if !found {
            w(out, format!("{}: no snapshot file", path.display()))?;
        }
        ok &= wal(&wal_dir, out)?;
        return Ok(ok);
    }
    wal(path, out)
}

fn w(out: &mut impl Write, line: String) -> Result<(), String> {
    writeln!(out, "{line}").map_err(|e| e.to_string())
}

fn snapshot(path: &Path, out: &mut impl Write) -> Result<bool, String> {
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

fn wal(dir: &Path, out: &mut impl Write) -> Result<bool, String> {
    let segs = list_segments(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    if segs.is_empty() {
        w(out, format!("DAMAGED {}: no WAL segments", dir.display()))?;
        return Ok(false);
    }
    let mut ok = true;
    let mut records = 0u64;
    let mut prev_end: Option<(u64, String)> = None;
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
        let scan =
            scan_segment(seg, |_, _| {}).map_err(|e| format!("{}: {e}", seg.path.display()))?;
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
        prev_end = Some((seg.end(), seg.path.display().to_string()));
    }
    let (first, last) = (segs[0].start, segs[segs.len() - 1].end());
    w(
        out,
        format!(
            "{} WAL {}: {} segments, offsets {first}..{last}, {records} readable records",
            if ok { "OK" } else { "DAMAGED" },
            dir.display(),
            segs.len()
        ),
    )?;
    Ok(ok)
}
