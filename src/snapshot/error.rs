//! The error type shared by the snapshot reader and writer.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// Broad class of a [`SnapshotError`], so callers can react (e.g. a replica
/// asks for a new full sync on `Truncated`/`Corrupt`) without parsing text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SnapshotErrorKind {
    /// The operating system failed a read (the file itself may be fine).
    Io,
    /// The file does not start with the snapshot magic.
    NotSnapshot,
    /// The file was written by a newer build with a format we cannot read.
    UnsupportedVersion,
    /// The file ends early: cut off in transfer or never finished.
    Truncated,
    /// Bytes are present but fail a checksum or a consistency check.
    Corrupt,
}

/// A snapshot read failure. Carries the file path (when known), the byte
/// offset in the file where the problem is, and a human message that already
/// names that offset, so a log line alone is enough to find the damage.
#[derive(Debug)]
pub struct SnapshotError {
    kind: SnapshotErrorKind,
    path: Option<PathBuf>,
    offset: Option<u64>,
    message: String,
    source: Option<io::Error>,
}

impl SnapshotError {
    pub(crate) fn new(kind: SnapshotErrorKind, offset: Option<u64>, message: String) -> Self {
        SnapshotError {
            kind,
            path: None,
            offset,
            message,
            source: None,
        }
    }

    pub(crate) fn corrupt(offset: u64, message: String) -> Self {
        Self::new(SnapshotErrorKind::Corrupt, Some(offset), message)
    }

    pub(crate) fn truncated(offset: u64, message: String) -> Self {
        Self::new(SnapshotErrorKind::Truncated, Some(offset), message)
    }

    pub(crate) fn io(err: io::Error, offset: Option<u64>, what: &str) -> Self {
        let message = match offset {
            Some(off) => format!("{what} at offset {off}: {err}"),
            None => format!("{what}: {err}"),
        };
        SnapshotError {
            kind: SnapshotErrorKind::Io,
            path: None,
            offset,
            message,
            source: Some(err),
        }
    }

    /// Attaches the path unless one is already set.
    pub(crate) fn with_path(mut self, path: &Path) -> Self {
        if self.path.is_none() {
            self.path = Some(path.to_path_buf());
        }
        self
    }

    pub fn kind(&self) -> SnapshotErrorKind {
        self.kind
    }

    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Byte offset in the file where the problem was found, when it has one.
    pub fn offset(&self) -> Option<u64> {
        self.offset
    }

    /// The message without the path prefix.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for SnapshotError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.path {
            Some(p) => write!(f, "snapshot {}: {}", p.display(), self.message),
            None => write!(f, "snapshot: {}", self.message),
        }
    }
}

impl std::error::Error for SnapshotError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_ref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// Lets callers that speak `io::Result` use `?` on snapshot reads; OS errors
/// keep their kind (e.g. `NotFound`), format problems become `InvalidData`.
impl From<SnapshotError> for io::Error {
    fn from(e: SnapshotError) -> io::Error {
        let kind = match (&e.kind, &e.source) {
            (SnapshotErrorKind::Io, Some(src)) => src.kind(),
            (SnapshotErrorKind::Io, None) => io::ErrorKind::Other,
            _ => io::ErrorKind::InvalidData,
        };
        io::Error::new(kind, e)
    }
}
