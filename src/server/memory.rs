//! What MEMORY reports (Redis's object.c memory half), from sledis's own
//! accounting: the budget (`store/budget.rs`), the write buffer, the read
//! cache, and mimalloc's process counters.
//!
//! MEMORY USAGE estimates what a key takes in sled, where it lives: its
//! metadata entry (the data key, `k|db|gen|name`, and the encoded value:
//! type, expiry, inline string or collection header), plus, for a
//! collection, every element entry under its prefix (the prefix, the field
//! and the value), each entry counted with `ENTRY_OVERHEAD` bytes for sled's
//! own bookkeeping. With SAMPLES n, the first n element entries are read and
//! their average size stands for all of them (0: all are read).

use super::Server;
use crate::store::keys::{self, Kind, Meta};
use crate::store::Store;
use std::sync::atomic::Ordering;

/// Per-entry bytes sled adds to a key and its value in its leaf nodes
/// (offsets and lengths); an estimate, not measured per entry.
const ENTRY_OVERHEAD: u64 = 16;

/// Element entries per member: sorted sets keep a member entry and an index
/// entry, sets (tagged) a member entry and an order entry.
fn entries_per_element(m: &Meta) -> u64 {
    match m.kind {
        Kind::ZSet => 2,
        Kind::Set if !crate::types::set::member_tag(m).is_empty() => 2,
        _ => 1,
    }
}

pub(crate) fn key_usage(store: &Store, db: usize, key: &[u8], m: &Meta, samples: usize) -> u64 {
    let meta =
        (keys::DATA_PREFIX_LEN + key.len()) as u64 + m.encode().len() as u64 + ENTRY_OVERHEAD;
    if !m.has_elements() {
        return meta;
    }
    let (version, len) = m.coll();
    let prefix = keys::sub_prefix(db as u8, store.gen(db), key, version);
    let (mut seen, mut bytes) = (0u64, 0u64);
    let mut after: Option<bytes::Bytes> = None;
    loop {
        let want = samples.saturating_sub(seen as usize).min(1024);
        if want == 0 {
            break;
        }
        let (page, more) = store.sub_range(&prefix, after.as_deref(), want);
        for (f, v) in &page {
            seen += 1;
            bytes += (prefix.len() + f.len() + v.len()) as u64 + ENTRY_OVERHEAD;
        }
        after = page.last().map(|(f, _)| f.clone());
        if !more || after.is_none() {
            break;
        }
    }
    let total = len.saturating_mul(entries_per_element(m));
    if seen == 0 || seen >= total {
        return meta + bytes;
    }
    meta + bytes * total / seen
}

/// The process's memory (bytes): what mimalloc has committed now and at
/// its peak, and the RSS now and at its peak (from /proc: mimalloc's own
/// RSS figure is its commit on Linux).
struct Process {
    commit: u64,
    peak_commit: u64,
    rss: u64,
    peak_rss: u64,
}

// Links mimalloc's C library into every binary (the server's global
// allocator; the sentinel's allocator is the system's, so its figures are
// mimalloc's empty heap and the OS's RSS).
extern crate mimalloc as _;

extern "C" {
    // mimalloc's C API (libmimalloc-sys without its `extended` feature).
    fn mi_process_info(
        elapsed_msecs: *mut usize,
        user_msecs: *mut usize,
        system_msecs: *mut usize,
        current_rss: *mut usize,
        peak_rss: *mut usize,
        current_commit: *mut usize,
        peak_commit: *mut usize,
        page_faults: *mut usize,
    );
    fn mi_collect(force: bool);
    fn mi_stats_print_out(
        out: Option<unsafe extern "C" fn(msg: *const std::ffi::c_char, arg: *mut std::ffi::c_void)>,
        arg: *mut std::ffi::c_void,
    );
}

fn process() -> Process {
    let mut v = [0usize; 8];
    let [a, b, c, d, e, f, g, h] = &mut v;
    // SAFETY: every pointer is to a live usize mimalloc writes.
    unsafe { mi_process_info(a, b, c, d, e, f, g, h) };
    let rss = crate::command::server::rss_bytes();
    Process {
        rss,
        peak_rss: crate::command::server::peak_rss_bytes().max(rss),
        commit: v[5] as u64,
        peak_commit: v[6] as u64,
    }
}

/// MEMORY PURGE: mimalloc returns the free memory it can to the OS.
pub(crate) fn purge() {
    // SAFETY: a plain call into the allocator.
    unsafe { mi_collect(true) };
}

/// MEMORY MALLOC-STATS: mimalloc's own report.
pub(crate) fn malloc_stats() -> String {
    unsafe extern "C" fn collect(msg: *const std::ffi::c_char, arg: *mut std::ffi::c_void) {
        // SAFETY: `arg` is the String passed below, `msg` a C string.
        let out = unsafe { &mut *(arg as *mut String) };
        if !msg.is_null() {
            out.push_str(&unsafe { std::ffi::CStr::from_ptr(msg) }.to_string_lossy());
        }
    }
    let mut s = String::new();
    // SAFETY: `collect` only runs during the call, with `s` alive.
    unsafe {
        mi_stats_print_out(
            Some(collect),
            &mut s as *mut String as *mut std::ffi::c_void,
        )
    };
    s
}

pub(crate) enum Value {
    Int(i64),
    Float(f64),
}

/// MEMORY STATS: Redis's fields that mean something here, then sledis's
/// budget and where the data is.
pub(crate) fn stats(srv: &Server) -> Vec<(&'static str, Value)> {
    let p = process();
    let store = &srv.store;
    let b = store.budget();
    let keys: i64 = (0..store.databases).map(|db| store.dbsize(db)).sum();
    let buffer = store.buffer_bytes() as u64;
    let cache = store.read_cache_bytes() as u64;
    let dataset = buffer + cache;
    let wal = &store.wal;
    let aof_buffer = wal.end_offset().saturating_sub(wal.written_offset());
    let pct = |a: u64, b: u64| {
        if b == 0 {
            0.0
        } else {
            a as f64 * 100.0 / b as f64
        }
    };
    use Value::*;
    vec![
        ("peak.allocated", Int(p.peak_commit as i64)),
        ("total.allocated", Int(p.commit as i64)),
        ("aof.buffer", Int(aof_buffer as i64)),
        ("keys.count", Int(keys)),
        (
            "keys.bytes-per-key",
            Int(if keys > 0 { dataset as i64 / keys } else { 0 }),
        ),
        ("dataset.bytes", Int(dataset as i64)),
        ("dataset.percentage", Float(pct(dataset, p.commit))),
        ("peak.percentage", Float(pct(p.commit, p.peak_commit))),
        ("rss.bytes", Int(p.rss as i64)),
        ("rss.peak", Int(p.peak_rss as i64)),
        (
            "fragmentation",
            Float(if p.commit > 0 {
                p.rss as f64 / p.commit as f64
            } else {
                0.0
            }),
        ),
        ("fragmentation.bytes", Int(p.rss as i64 - p.commit as i64)),
        ("budget.total", Int(b.total as i64)),
        ("budget.write-buffer", Int(b.write_buffer() as i64)),
        ("budget.read-cache", Int(b.read_cache as i64)),
        ("budget.sled-cache", Int(b.engine_cache as i64)),
        ("budget.sync-buffers", Int(b.sync_buffers as i64)),
        ("budget.clients", Int(b.clients as i64)),
        ("write-buffer.bytes", Int(buffer as i64)),
        ("read-cache.bytes", Int(cache as i64)),
        ("disk.sled", Int(store.sled_size_on_disk() as i64)),
        ("disk.wal", Int(wal.disk_bytes() as i64)),
    ]
}

/// MEMORY DOCTOR: Redis's texts for an empty node and for a healthy one;
/// otherwise what is wrong with sledis's memory.
pub(crate) fn doctor(srv: &Server) -> String {
    let store = &srv.store;
    let keys: i64 = (0..store.databases).map(|db| store.dbsize(db)).sum();
    if keys == 0 {
        return "Hi Sam, this instance is empty or is using very little memory, my issues detector can't be used in these conditions. Please, leave for your mission on Earth and fill it with some data. The new Sam and I will be back to our programming as soon as I finished rebooting.".into();
    }
    let p = process();
    let b = store.budget();
    let mut issues = Vec::new();
    if store.write_full() {
        issues.push(format!(
            " * Write buffer full: the write buffer ({} bytes) waits for sled to apply it, and writes stall meanwhile (sled_write_stalls: {}). The disk is too slow for the write load, or sled failed (see INFO persistence).",
            b.write_buffer(),
            store.stats.write_stalls.load(Ordering::Relaxed)
        ));
    }
    if p.rss > b.total.saturating_mul(3) / 2 {
        issues.push(format!(
            " * RSS over budget: the process uses {} bytes, more than 1.5 times its memory budget ({} bytes, maxmemory or the default). Big pipelines' replies, many clients, or sled's own heap may be the cause.",
            p.rss, b.total
        ));
    }
    if p.peak_commit > p.commit.saturating_mul(2) && p.peak_commit > 64 << 20 {
        issues.push(format!(
            " * High allocator peak: the peak allocated memory ({} bytes) is over twice what is allocated now ({} bytes). MEMORY PURGE returns free pages to the OS.",
            p.peak_commit, p.commit
        ));
    }
    if issues.is_empty() {
        return "Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base.".into();
    }
    format!(
        "Sam, I detected a few issues in this Redis instance memory implants:\n\n{}\n\nI'm here to keep you safe, Sam. I want to help you.\n",
        issues.join("\n\n")
    )
}
