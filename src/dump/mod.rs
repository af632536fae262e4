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

/// Bytes for a terminal: printable ASCII as is, the rest escaped, quoted
/// (as redis-cli shows them).
pub fn show(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() + 2);
    s.push('"');
    for &c in b {
        match c {
            b'"' => s.push_str("\\\""),
            b'\\' => s.push_str("\\\\"),
            b'\n' => s.push_str("\\n"),
            b'\r' => s.push_str("\\r"),
            b'\t' => s.push_str("\\t"),
            0x20..=0x7e => s.push(c as char),
            _ => s.push_str(&format!("\\x{c:02x}")),
        }
    }
    s.push('"');
    s
}

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
