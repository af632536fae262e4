//! Master/replica replication over the WAL (Redis's replication.c).
//!
//! The stream is the WAL itself: the master sends its log bytes from the
//! replica's offset on, the replica appends them verbatim to its own WAL at
//! the same offsets and applies them (`Store::apply_replicated`), so a
//! replica's own replicas (chains) get the identical stream. Between records
//! the master may send a heartbeat: an 8-byte frame header with length 0
//! and crc 0, which takes no offset.
//!
//! Offsets on the wire are Redis's: PSYNC asks for the next byte needed, as
//! a 1-based count (our stream position + 1); FULLRESYNC and ACK carry the
//! number of bytes (our position).

pub(crate) mod master;
pub(crate) mod replica;
pub(crate) mod state;

pub(crate) use state::ReplState;

use parking_lot::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64};

/// An 8-byte heartbeat: a frame header no record can have (length 0).
pub(crate) const HEARTBEAT: [u8; 8] = [0; 8];
/// Redis's `REPLCONF GETACK`, in the stream's own terms: another frame
/// header no record can have (length 0, crc all ones), sent at a record
/// boundary; the replica answers with an ACK at once.
pub(crate) const GETACK: [u8; 8] = [0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff];
/// GETACK for WAITAOF: the replica also fsyncs its WAL now (whatever its
/// `appendfsync`) and acknowledges again once the fsync is done, so its
/// `FACK` covers what it had.
pub(crate) const GETFACK: [u8; 8] = [0, 0, 0, 0, 0xff, 0xff, 0xff, 0xfe];

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Role {
    Master,
    Replica { host: String, port: u16 },
}

/// What a master knows of one connected replica (INFO's `slaveN:` line).
#[derive(Debug, Clone)]
pub(crate) struct ReplicaInfo {
    pub ip: String,
    pub port: u16,
    /// `wait_bgsave`, `send_bulk` or `online`, as Redis names them.
    pub state: &'static str,
    /// What it has in its WAL by its own fsync policy (`REPLCONF ACK`).
    pub ack_offset: u64,
    /// What it has fsynced (`REPLCONF ACK <off> FACK <fsynced>`, Redis
    /// 7.2); WAITAOF counts these.
    pub fack_offset: u64,
    pub last_ack_ms: i64,
}

/// The replica side's link to its master.
#[derive(Default)]
pub(crate) struct Link {
    pub up: AtomicBool,
    pub last_io_ms: AtomicI64,
    pub down_since_ms: AtomicI64,
    pub sync_in_progress: AtomicBool,
    pub sync_total_bytes: AtomicU64,
    pub sync_read_bytes: AtomicU64,
    /// `connect`, `connecting`, `sync` or `connected` (ROLE's state).
    pub state: Mutex<&'static str>,
    /// Why the last full sync failed, until one succeeds (INFO
    /// `master_sync_last_error`).
    pub last_sync_error: Mutex<Option<String>>,
}

pub(crate) const NO_REPLID: &str = "0000000000000000000000000000000000000000";
