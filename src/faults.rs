//! Fault injection at named I/O points, for the fault tests (`DEBUG FAULT`).
//!
//! A real full disk is tested with a small tmpfs; an EIO or a short write at
//! one chosen point needs a seam. Points are armed at runtime with `DEBUG
//! FAULT <point> <eio|enospc|short> [count]` (count 0: until `DEBUG FAULT
//! <point> off`), so the same release binary the users run is the one
//! tested. Unarmed, a point costs one relaxed atomic load.

use parking_lot::Mutex;
use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicBool, Ordering};

/// The points that can fail.
pub(crate) const POINTS: &[&str] = &[
    "wal-write",
    "wal-fsync",
    "snapshot-write",
    "sled-read",
    "sled-write",
    "sync-receive",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Eio,
    Enospc,
    /// Half the bytes are written, then the write fails.
    Short,
}

impl Kind {
    pub(crate) fn parse(s: &str) -> Option<Kind> {
        match s.to_ascii_lowercase().as_str() {
            "eio" => Some(Kind::Eio),
            "enospc" => Some(Kind::Enospc),
            "short" => Some(Kind::Short),
            _ => None,
        }
    }

    fn error(self) -> io::Error {
        match self {
            Kind::Eio => io::Error::from_raw_os_error(5),
            Kind::Enospc => io::Error::from_raw_os_error(28),
            Kind::Short => io::Error::new(io::ErrorKind::WriteZero, "short write (injected)"),
        }
    }
}

static ARMED: AtomicBool = AtomicBool::new(false);
/// point -> (kind, failures left; 0 = until disarmed)
static TABLE: Mutex<Option<HashMap<&'static str, (Kind, u64)>>> = Mutex::new(None);

/// A fault point that is not one of `POINTS` (DEBUG FAULT's error).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UnknownPoint(pub String);

impl std::fmt::Display for UnknownPoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "unknown fault point '{}' (known: {})",
            self.0,
            POINTS.join(", ")
        )
    }
}

impl std::error::Error for UnknownPoint {}

/// Arms `point` (one of `POINTS`) to fail `count` times (0: until disarmed).
pub(crate) fn arm(point: &str, kind: Kind, count: u64) -> Result<(), UnknownPoint> {
    let p = POINTS
        .iter()
        .find(|p| p.eq_ignore_ascii_case(point))
        .ok_or_else(|| UnknownPoint(point.to_string()))?;
    let mut t = TABLE.lock();
    t.get_or_insert_with(HashMap::new).insert(p, (kind, count));
    ARMED.store(true, Ordering::Release);
    Ok(())
}

pub(crate) fn disarm(point: &str) {
    let mut t = TABLE.lock();
    if let Some(m) = t.as_mut() {
        m.retain(|p, _| !p.eq_ignore_ascii_case(point));
        if m.is_empty() {
            ARMED.store(false, Ordering::Release);
        }
    }
}

/// The fault armed at `point`, counting it down.
fn take(point: &str) -> Option<Kind> {
    if !ARMED.load(Ordering::Relaxed) {
        return None;
    }
    let mut t = TABLE.lock();
    let m = t.as_mut()?;
    let (kind, left) = m.get_mut(point)?;
    let kind = *kind;
    if *left == 1 {
        m.remove(point);
        if m.is_empty() {
            ARMED.store(false, Ordering::Release);
        }
    } else if *left > 1 {
        *left -= 1;
    }
    Some(kind)
}

/// Fails if `point` is armed (for operations that are not writes).
pub(crate) fn check(point: &str) -> io::Result<()> {
    match take(point) {
        Some(k) => Err(k.error()),
        None => Ok(()),
    }
}

/// `file.write_all_at(buf, at)`, failing as armed at `point`.
pub(crate) fn write_all_at(point: &str, file: &File, buf: &[u8], at: u64) -> io::Result<()> {
    match take(point) {
        None => file.write_all_at(buf, at),
        Some(Kind::Short) => {
            file.write_all_at(&buf[..buf.len() / 2], at)?;
            Err(Kind::Short.error())
        }
        Some(k) => Err(k.error()),
    }
}
