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

pub mod master;
pub mod replica;

use parking_lot::{Mutex, RwLock};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};

/// An 8-byte heartbeat: a frame header no record can have (length 0).
pub const HEARTBEAT: [u8; 8] = [0; 8];
/// Redis's `REPLCONF GETACK`, in the stream's own terms: another frame
/// header no record can have (length 0, crc all ones), sent at a record
/// boundary; the replica answers with an ACK at once.
pub const GETACK: [u8; 8] = [0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    Master,
    Replica { host: String, port: u16 },
}

/// What a master knows of one connected replica (INFO's `slaveN:` line).
#[derive(Debug, Clone)]
pub struct ReplicaInfo {
    pub ip: String,
    pub port: u16,
    /// `wait_bgsave`, `send_bulk` or `online`, as Redis names them.
    pub state: &'static str,
    pub ack_offset: u64,
    pub last_ack_ms: i64,
}

/// The replica side's link to its master.
#[derive(Default)]
pub struct Link {
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

pub struct ReplState {
    pub role: RwLock<Role>,
    /// Bumped on every role change: a link task for an older generation stops.
    pub generation: AtomicU64,
    pub link: Link,
    /// The previous history's id and where it ended (+1), after a promotion,
    /// so replicas of the old master can continue with us.
    pub replid2: RwLock<String>,
    pub second_offset: AtomicI64,
    pub replicas: Mutex<HashMap<u64, ReplicaInfo>>,
    /// WAL positions replicas still need: retention keeps them.
    pub pins: Mutex<HashMap<u64, u64>>,
    /// Last time (ms) this node had a replica or was one: `repl-backlog-ttl`
    /// counts from there.
    pub last_replica_ms: AtomicI64,
    /// Bumped by WAIT: every feed then asks its replica for an ACK.
    pub getack: tokio::sync::watch::Sender<u64>,
}

pub const NO_REPLID: &str = "0000000000000000000000000000000000000000";

impl ReplState {
    pub fn new() -> Self {
        ReplState {
            role: RwLock::new(Role::Master),
            generation: AtomicU64::new(0),
            link: Link::default(),
            replid2: RwLock::new(NO_REPLID.to_string()),
            second_offset: AtomicI64::new(-1),
            replicas: Mutex::new(HashMap::new()),
            pins: Mutex::new(HashMap::new()),
            last_replica_ms: AtomicI64::new(crate::util::now_ms()),
            getack: tokio::sync::watch::channel(0).0,
        }
    }

    pub fn is_replica(&self) -> bool {
        matches!(*self.role.read(), Role::Replica { .. })
    }

    /// The lowest WAL position a connected replica still needs.
    pub fn min_pin(&self) -> Option<u64> {
        self.pins.lock().values().copied().min()
    }

    /// Asks every replica for an immediate ACK (WAIT), instead of waiting
    /// for the next one-second ACK.
    pub fn request_acks(&self) {
        self.getack.send_modify(|n| *n += 1);
    }

    pub fn set_link_state(&self, s: &'static str) {
        *self.link.state.lock() = s;
    }

    pub fn link_down(&self, now_ms: i64) {
        if self.link.up.swap(false, Ordering::AcqRel)
            || self.link.down_since_ms.load(Ordering::Relaxed) == 0
        {
            self.link.down_since_ms.store(now_ms, Ordering::Relaxed);
        }
    }
}

impl Default for ReplState {
    fn default() -> Self {
        Self::new()
    }
}
