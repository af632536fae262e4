//! `sledis-dump`: reads what a node writes (snapshot files, WAL segments)
//! through the same readers the server uses, and shows it in Redis terms.
//! One file per subcommand: `snapshot.rs`, `wal.rs`, `verify.rs`; this file
//! holds what they share: how bytes, keys and values are shown.

pub(crate) mod datadir;
pub mod diff;
pub mod snapshot;
pub mod verify;
pub mod wal;

use crate::snapshot::SnapshotError;
use serde_json::{json, Value};
use std::io;
use std::path::PathBuf;

pub(crate) use crate::util::show;

/// Why a subcommand could not do its work: one line on stderr, exit code 2.
/// (Damage it finds is its answer, not an error.)
#[derive(Debug)]
pub enum Error {
    /// A path could not be read.
    Read(PathBuf, io::Error),
    /// A path is not what the subcommand reads (`what` says what it is not).
    Not(PathBuf, String),
    /// A snapshot file could not be opened, or a block of it read.
    Snapshot(SnapshotError),
    /// sled's lock could not be probed.
    Store(crate::store::Error),
    /// No temp dir could be made in `TMPDIR` (the directory, and the error
    /// if creating one failed otherwise than by a name taken).
    TempDir(PathBuf, Option<io::Error>),
    /// A stopped node's `sled/` could not be copied.
    Copy(PathBuf, io::Error),
    /// A running node's data dir: no copy of it was consistent (`last`: why
    /// the last one was not).
    InUse { dir: PathBuf, last: String },
    /// A stopped node's dataset could not be recovered from its copy.
    Recover { dir: PathBuf, why: String },
    /// The recovered dataset could not be written as a snapshot.
    WriteRecovered(PathBuf, io::Error),
    /// The WAL could not be read while following it.
    Follow(io::Error),
    /// A corrupt record in the WAL being followed.
    Corrupt { offset: u64, what: String },
    /// The output could not be written (not a closed pipe: that only ends
    /// the output).
    Output(io::Error),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Read(path, e) => write!(f, "{}: {e}", path.display()),
            Error::Not(path, what) => write!(f, "{}: {what}", path.display()),
            Error::Snapshot(e) => write!(f, "{e}"),
            Error::Store(e) => write!(f, "{e}"),
            Error::TempDir(base, Some(e)) => {
                write!(f, "cannot create a temp dir in {}: {e}", base.display())
            }
            Error::TempDir(base, None) => write!(f, "cannot create a temp dir in {}", base.display()),
            Error::Copy(path, e) => write!(f, "copying {}: {e}", path.display()),
            Error::InUse { dir, last } => write!(
                f,
                "{}: data dir is in use by a running node (sled is locked) and no consistent copy of it \
                 could be read in {} attempts (last: {last})",
                dir.display(),
                datadir::LIVE_ATTEMPTS
            ),
            Error::Recover { dir, why } => {
                write!(f, "{}: cannot recover its dataset: {why}", dir.display())
            }
            Error::WriteRecovered(dir, e) => write!(
                f,
                "writing the recovered dataset of {}: {e}",
                dir.display()
            ),
            Error::Follow(e) | Error::Output(e) => write!(f, "{e}"),
            Error::Corrupt { offset, what } => write!(f, "at offset {offset}: {what}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<SnapshotError> for Error {
    fn from(e: SnapshotError) -> Error {
        Error::Snapshot(e)
    }
}

impl From<io::Error> for Error {
    /// An I/O error with no path is the output's.
    fn from(e: io::Error) -> Error {
        Error::Output(e)
    }
}

/// Bytes for JSON: a string when they are UTF-8, else `{"hex": "..."}`, so
/// nothing is lost and `jq` sees ordinary strings in the common case.
pub(crate) fn jbytes(b: &[u8]) -> Value {
    match std::str::from_utf8(b) {
        Ok(s) => Value::String(s.to_string()),
        Err(_) => json!({ "hex": hex(b) }),
    }
}

pub(crate) fn hex(b: &[u8]) -> String {
    b.iter().map(|c| format!("{c:02x}")).collect()
}

/// A short view of a value for one-line listings.
pub(crate) fn brief(b: &[u8], max: usize) -> String {
    if b.len() <= max {
        show(b)
    } else {
        format!("{}... ({} bytes)", show(&b[..max]), b.len())
    }
}

pub(crate) fn now_ms() -> i64 {
    crate::util::now_ms()
}
