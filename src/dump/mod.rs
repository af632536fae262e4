//! `sledis-dump`: reads what a node writes (snapshot files, WAL segments)
//! through the same readers the server uses, and shows it in Redis terms.
//! One file per subcommand: `snapshot.rs`, `wal.rs`, `verify.rs`; this file
//! holds what they share: how bytes, keys and values are shown.

pub mod datadir;
pub mod diff;
pub mod snapshot;
pub mod verify;
pub mod wal;

use serde_json::{json, Value};

pub use crate::util::show;

/// Bytes for JSON: a string when they are UTF-8, else `{"hex": "..."}`, so
/// nothing is lost and `jq` sees ordinary strings in the common case.
pub fn jbytes(b: &[u8]) -> Value {
    match std::str::from_utf8(b) {
        Ok(s) => Value::String(s.to_string()),
        Err(_) => json!({ "hex": hex(b) }),
    }
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|c| format!("{c:02x}")).collect()
}

/// A short view of a value for one-line listings.
pub fn brief(b: &[u8], max: usize) -> String {
    if b.len() <= max {
        show(b)
    } else {
        format!("{}... ({} bytes)", show(&b[..max]), b.len())
    }
}

pub fn now_ms() -> i64 {
    crate::util::now_ms()
}
