//! sledis: a Redis-compatible server whose keyspace lives in sled and whose
//! every write goes through a write-ahead log that is also the replication
//! stream. See docs/ARCHITECTURE.md.

pub(crate) mod client;
pub mod command;
pub mod config;
pub mod dump;
pub(crate) mod faults;
pub(crate) mod glob;
pub(crate) mod latency;
pub mod logging;
pub(crate) mod notify;
pub(crate) mod replication;
pub(crate) mod resp;
pub(crate) mod scripting;
pub mod sentinel;
pub mod server;
pub mod snapshot;
pub mod store;
pub(crate) mod types;
pub(crate) mod util;
pub mod wal;

/// The Redis version we answer to (INFO, HELLO): tools gate features on it.
pub const REDIS_VERSION: &str = "7.0.15";
