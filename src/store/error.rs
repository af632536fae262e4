//! The store's errors, typed at its boundary, so callers can tell a disk
//! that failed under sled (retry once it works) from damage, a WAL failure
//! or a load that was stopped on purpose.

/// Why a store operation failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    /// The disk failed under sled (a full disk, EIO). sled keeps such an
    /// error until it is reopened (`Engine::reopen`).
    Io(String),
    /// sled failed otherwise (a damaged tree, a lock held elsewhere).
    Engine(String),
    /// The WAL could not be read, written or reset.
    Wal(String),
    /// A snapshot's contents are damaged or do not add up.
    Snapshot(String),
    /// The system refused something else (a directory, a thread).
    System(String),
    /// A full sync's load was stopped (a newer sync, a shutdown).
    Stopped,
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Io(e)
            | Error::Engine(e)
            | Error::Wal(e)
            | Error::Snapshot(e)
            | Error::System(e) => f.write_str(e),
            Error::Stopped => f.write_str("stopped"),
        }
    }
}

impl std::error::Error for Error {}

impl From<Error> for String {
    fn from(e: Error) -> String {
        e.to_string()
    }
}

impl Error {
    pub fn wal(e: impl std::fmt::Display) -> Error {
        Error::Wal(e.to_string())
    }

    pub fn snapshot(e: impl std::fmt::Display) -> Error {
        Error::Snapshot(e.to_string())
    }

    pub fn system(e: impl std::fmt::Display) -> Error {
        Error::System(e.to_string())
    }
}
