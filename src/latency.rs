//! The latency monitor (Redis's latency.c): events that took at least
//! `latency-monitor-threshold` ms, kept per event as up to 160 one-second
//! samples. It is process-wide because its events come from every layer:
//! commands (`command/mod.rs`), the WAL's writes and fsyncs (`wal/`), the
//! active expiry cycle (`server/cron.rs`).
//!
//! Events recorded, with Redis's names where they mean the same:
//! `command` (a slow command), `fast-command` (a slow O(1) command),
//! `aof-write` (the WAL's write of appended records to the OS),
//! `aof-fsync-always` (a WAL fsync under `appendfsync always`, which the
//! client's reply waits for; under everysec fsyncs run on their own thread
//! and delay nobody, so they are not events) and `expire-cycle` (one
//! active-expiry pass of the cron). There is no fork, eviction or AOF
//! rewrite, so no such events.

use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Samples kept per event (Redis's `LATENCY_TS_LEN`).
pub(crate) const SAMPLES: usize = 160;

/// `latency-monitor-threshold` in ms; 0: off.
static THRESHOLD_MS: AtomicU64 = AtomicU64::new(0);
static EVENTS: Mutex<BTreeMap<&'static str, Series>> = Mutex::new(BTreeMap::new());

#[derive(Clone, Copy)]
pub(crate) struct Sample {
    /// Unix time, seconds.
    pub time: i64,
    /// Milliseconds.
    pub latency: u64,
}

/// One event's history.
#[derive(Default, Clone)]
pub(crate) struct Series {
    /// Oldest first.
    pub samples: std::collections::VecDeque<Sample>,
    /// The all-time maximum (since the last reset).
    pub max: u64,
}

pub(crate) fn set_threshold(ms: u64) {
    THRESHOLD_MS.store(ms, Ordering::Relaxed);
}

pub(crate) fn threshold() -> u64 {
    THRESHOLD_MS.load(Ordering::Relaxed)
}

/// Records `event` if it took at least the threshold (and the monitor is
/// on). Cheap when it did not: one atomic load.
#[inline]
pub(crate) fn note(event: &'static str, took: Duration) {
    let t = THRESHOLD_MS.load(Ordering::Relaxed);
    if t == 0 {
        return;
    }
    let ms = took.as_millis() as u64;
    if ms >= t {
        add_sample(event, ms, crate::util::now_ms() / 1000);
    }
}

/// Adds a sample; two in the same second keep the larger (as Redis).
pub(crate) fn add_sample(event: &'static str, ms: u64, now_s: i64) {
    let mut events = EVENTS.lock();
    let s = events.entry(event).or_default();
    s.max = s.max.max(ms);
    if let Some(last) = s.samples.back_mut() {
        if last.time == now_s {
            last.latency = last.latency.max(ms);
            return;
        }
    }
    s.samples.push_back(Sample {
        time: now_s,
        latency: ms,
    });
    while s.samples.len() > SAMPLES {
        s.samples.pop_front();
    }
}

/// Every event with samples, by name.
pub(crate) fn events() -> Vec<(&'static str, Series)> {
    EVENTS.lock().iter().map(|(k, v)| (*k, v.clone())).collect()
}

pub(crate) fn series(event: &str) -> Option<Series> {
    EVENTS.lock().get(event).cloned()
}

/// Forgets the named events (all when `names` is empty); how many were
/// known.
pub(crate) fn reset(names: &[String]) -> usize {
    let mut events = EVENTS.lock();
    if names.is_empty() {
        let n = events.len();
        events.clear();
        return n;
    }
    names
        .iter()
        .filter(|n| events.remove(n.as_str()).is_some())
        .count()
}
