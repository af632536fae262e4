//! `sledis-dump diff A B`: two snapshots, or a snapshot and a node's data
//! dir (what the node would hold after recovery: sled plus the WAL after
//! its applied offset, read from a private copy), compared key by key in
//! Redis terms (so two nodes that built the same data differently still
//! agree): keys only in A, only in B, and keys whose type, value or expiry
//! differ. Both stream in key order, so memory stays at one key per side.

use super::datadir::{live_note, DataDir, Recovered};
use super::show;
use super::snapshot::{Entry, Filter, Keys};
use super::Error;
use crate::snapshot::{is_snapshot, SnapshotReader};
use serde_json::json;
use std::cmp::Ordering;
use std::io::Write;
use std::path::Path;

/// What differs between two versions of a key, if anything.
fn difference(a: &Entry, b: &Entry) -> Option<String> {
    // The same slot in databases that SWAPDB numbered differently.
    if a.db != b.db {
        return Some(format!("database db{} / db{}", a.db, b.db));
    }
    if a.meta.kind != b.meta.kind {
        return Some(format!("type {} / {}", a.type_name(), b.type_name()));
    }
    if a.value_json() != b.value_json() {
        return Some("value".to_string());
    }
    if a.meta.expire_at != b.meta.expire_at {
        let t = |e: &Entry| {
            e.meta
                .expire_at
                .map_or("none".to_string(), |t| t.to_string())
        };
        return Some(format!("expire_at {} / {}", t(a), t(b)));
    }
    None
}

/// One side of the comparison: a snapshot file, or a data dir's dataset
/// after recovery saved as one.
enum Side<'p> {
    Snapshot(&'p Path),
    DataDir(Recovered),
}

impl Side<'_> {
    fn path(&self) -> &Path {
        match self {
            Side::Snapshot(p) => p,
            Side::DataDir(r) => &r.snapshot,
        }
    }
}

fn side<'p>(
    path: &'p Path,
    name: &str,
    json_out: bool,
    out: &mut impl Write,
) -> Result<Side<'p>, Error> {
    let meta = std::fs::metadata(path).map_err(|e| Error::Read(path.to_path_buf(), e))?;
    if meta.is_file() {
        if !is_snapshot(path) {
            return Err(Error::Not(
                path.to_path_buf(),
                "not a sledis snapshot (bad magic) nor a data dir".into(),
            ));
        }
        return Ok(Side::Snapshot(path));
    }
    let r = DataDir::open(path)?.recovered_snapshot()?;
    let copied = live_note(r.live, r.copies);
    let res = if json_out {
        writeln!(
            out,
            "{}",
            json!({"side": name, "data_dir": path.display().to_string(), "applied_offset": r.applied,
                   "wal_end": r.wal_end, "running": r.live, "copies": r.copies})
        )
    } else {
        writeln!(
            out,
            "# {name}: data dir {} as recovery loads it: sled (applied offset {}) plus the WAL up to offset {}{copied}",
            path.display(),
            r.applied,
            r.wal_end
        )
    };
    res?;
    Ok(Side::DataDir(r))
}

/// True when the two sides hold the same data.
pub fn run(
    a: &Path,
    b: &Path,
    filter: &Filter,
    json_out: bool,
    out: &mut impl Write,
) -> Result<bool, Error> {
    // A data dir becomes a snapshot of what it would hold after recovery
    // (in a temp dir, kept until the comparison is done).
    let sa = side(a, "A", json_out, out)?;
    let sb = side(b, "B", json_out, out)?;
    let ra = SnapshotReader::open(sa.path())?;
    let rb = SnapshotReader::open(sb.path())?;
    let mut ia = Keys::new(&ra, filter).peekable();
    let mut ib = Keys::new(&rb, filter).peekable();
    let (mut only_a, mut only_b, mut changed, mut same) = (0u64, 0u64, 0u64, 0u64);
    let mut line = |kind: &str, e: &Entry, what: &str| -> std::io::Result<()> {
        let r = if json_out {
            writeln!(
                out,
                "{}",
                json!({"diff": kind, "db": e.db, "key": super::jbytes(&e.key), "what": what})
            )
        } else {
            let sign = match kind {
                "only_a" => "<",
                "only_b" => ">",
                _ => "~",
            };
            writeln!(out, "{sign} db{} {} {what}", e.db, show(&e.key))
        };
        r
    };
    loop {
        let order = match (ia.peek(), ib.peek()) {
            (None, None) => break,
            (Some(Err(_)), _) | (_, Some(Err(_))) => {
                let e = match (ia.next(), ib.next()) {
                    (Some(Err(e)), _) | (_, Some(Err(e))) => e,
                    _ => unreachable!("one side holds an error"),
                };
                return Err(e.into());
            }
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            // The order the snapshots are in (see `Entry::slot`); with the
            // same SWAPDB map on both sides it pairs (db, key) exactly.
            (Some(Ok(x)), Some(Ok(y))) => (x.slot, &x.key).cmp(&(y.slot, &y.key)),
        };
        match order {
            Ordering::Less => {
                if let Some(Ok(e)) = ia.next() {
                    only_a += 1;
                    line("only_a", &e, &format!("only in A ({})", e.type_name()))?;
                }
            }
            Ordering::Greater => {
                if let Some(Ok(e)) = ib.next() {
                    only_b += 1;
                    line("only_b", &e, &format!("only in B ({})", e.type_name()))?;
                }
            }
            Ordering::Equal => {
                if let (Some(Ok(x)), Some(Ok(y))) = (ia.next(), ib.next()) {
                    match difference(&x, &y) {
                        Some(what) => {
                            changed += 1;
                            line("differs", &x, &format!("differs: {what}"))?;
                        }
                        None => same += 1,
                    }
                }
            }
        }
    }
    let summary =
        format!("{same} keys equal, {changed} differ, {only_a} only in A, {only_b} only in B");
    let r = if json_out {
        writeln!(
            out,
            "{}",
            json!({"equal": same, "differ": changed, "only_a": only_a, "only_b": only_b})
        )
    } else {
        writeln!(out, "{summary}")
    };
    r?;
    Ok(changed + only_a + only_b == 0)
}
