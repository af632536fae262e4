//! Per-command and per-error counters, Redis's `commandstats` and
//! `errorstats` INFO sections. Each command row (and each subcommand) has a
//! slot of atomics, found by index (`Command::slot`), so counting costs no
//! lookup by name on the hot path; errors are rare and counted by code
//! under a lock.
//!
//! Under `latency-tracking` each slot also has a latency histogram (LATENCY
//! HISTOGRAM, INFO's `latencystats`) with the buckets of Redis's
//! hdr_histogram at 2 significant figures over 1 ns..1 s, in which Redis
//! records each call's µs times 1000: so both replies come out as Redis
//! computes them (`p50=5.023`, `histogram_usec` keys 1, 2, 4, 8, 16, 33...).
//! A slot's 3072 counters (24 KiB) are allocated at its first call.

use crate::command::Command;
use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::OnceLock;

/// Redis stops adding error codes past this many (`ERROR_STATS_NUMBER`)
/// so a client inventing codes cannot grow the table.
const MAX_ERROR_CODES: usize = 128;

#[derive(Default)]
pub(crate) struct Slot {
    pub calls: AtomicU64,
    pub usec: AtomicU64,
    /// Refused before running (arity, auth, OOM-like checks...).
    pub rejected: AtomicU64,
    /// Ran and answered an error.
    pub failed: AtomicU64,
    /// Latency histogram (`HDR_BUCKETS` counters), from the first call
    /// under `latency-tracking`.
    hist: OnceLock<Box<[AtomicU64]>>,
}

/// hdr_histogram's counters for values 1..=1e9 at 2 significant figures:
/// 256 exact values, then 22 groups of 128 (resolution doubling).
const HDR_BUCKETS: usize = 256 + 22 * 128;
/// Redis's `LATENCY_HISTOGRAM_MAX_VALUE` (ns); longer calls count as this.
const HDR_MAX: u64 = 1_000_000_000;

/// The counter of a value (ns).
fn hdr_index(v: u64) -> usize {
    let v = v.clamp(1, HDR_MAX);
    if v < 256 {
        return v as usize;
    }
    let m = 63 - v.leading_zeros() as usize;
    let sub = (v >> (m - 7)) as usize;
    256 + (m - 8) * 128 + (sub - 128)
}

/// The lowest and highest value a counter stands for.
fn hdr_range(i: usize) -> (u64, u64) {
    if i < 256 {
        return (i as u64, i as u64);
    }
    let (g, sub) = ((i - 256) / 128, (i - 256) % 128 + 128);
    let shift = g + 1;
    let lo = (sub as u64) << shift;
    (lo, lo + (1 << shift) - 1)
}

pub(crate) struct CommandStats {
    slots: Box<[Slot]>,
    /// `latency-tracking`.
    tracking: AtomicBool,
}

impl CommandStats {
    pub(crate) fn new(n: usize) -> CommandStats {
        CommandStats {
            slots: (0..n).map(|_| Slot::default()).collect(),
            tracking: AtomicBool::new(true),
        }
    }

    pub(crate) fn set_tracking(&self, on: bool) {
        self.tracking.store(on, Ordering::Relaxed);
    }

    pub(crate) fn ran(&self, i: usize, usec: u64, failed: bool) {
        if let Some(s) = self.slots.get(i) {
            s.calls.fetch_add(1, Ordering::Relaxed);
            s.usec.fetch_add(usec, Ordering::Relaxed);
            if failed {
                s.failed.fetch_add(1, Ordering::Relaxed);
            }
            if self.tracking.load(Ordering::Relaxed) {
                let h = s
                    .hist
                    .get_or_init(|| (0..HDR_BUCKETS).map(|_| AtomicU64::new(0)).collect());
                h[hdr_index(usec.saturating_mul(1000))].fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// A slot's histogram counters, if it has any calls in it.
    fn counts(&self, i: usize) -> Option<Vec<u64>> {
        let h = self.slots.get(i)?.hist.get()?;
        let v: Vec<u64> = h.iter().map(|c| c.load(Ordering::Relaxed)).collect();
        v.iter().any(|&c| c > 0).then_some(v)
    }

    /// LATENCY HISTOGRAM's entry of a slot: (calls, [(µs, calls up to
    /// it)]), as Redis's `fillCommandCDF` walks its histogram: levels of
    /// 1024 ns times powers of two, each shown as its highest equivalent
    /// value in µs, where the cumulative count grew.
    pub(crate) fn cdf(&self, i: usize) -> Option<(u64, Vec<(u64, u64)>)> {
        let counts = self.counts(i)?;
        let total: u64 = counts.iter().sum();
        let mut out = Vec::new();
        let (mut cum, mut prev, mut idx) = (0u64, 0u64, 0usize);
        let mut level: u64 = 1024;
        while prev < total {
            let top = hdr_index(level);
            while idx <= top && idx < counts.len() {
                cum += counts[idx];
                idx += 1;
            }
            if level > HDR_MAX {
                cum = total;
            }
            if cum > prev {
                out.push((hdr_range(top).1 / 1000, cum));
            }
            prev = cum;
            level *= 2;
        }
        Some((total, out))
    }

    /// Redis's `hdr_value_at_percentile` in µs (p0: the lowest value).
    fn percentile(counts: &[u64], p: f64) -> f64 {
        let total: u64 = counts.iter().sum();
        let want = ((p.min(100.0) / 100.0 * total as f64) + 0.5) as u64;
        let want = want.max(1);
        let mut seen = 0;
        for (i, c) in counts.iter().enumerate() {
            seen += c;
            if seen >= want {
                let (lo, hi) = hdr_range(i);
                return if p == 0.0 { lo } else { hi } as f64 / 1000.0;
            }
        }
        0.0
    }

    /// INFO's `# Latencystats` lines: `latency_percentiles_usec_<cmd>:p50=...`
    /// per command or subcommand with a histogram, sorted by name.
    pub(crate) fn latency_info(&self, percentiles: &[f64], out: &mut String) {
        use std::fmt::Write as _;
        for (name, i) in self.named_slots() {
            let Some(counts) = self.counts(i) else {
                continue;
            };
            let _ = write!(out, "latency_percentiles_usec_{name}:");
            for (j, p) in percentiles.iter().enumerate() {
                let sep = if j + 1 < percentiles.len() { "," } else { "" };
                let v = Self::percentile(&counts, *p);
                let _ = write!(out, "p{}={v:.3}{sep}", crate::config::percentile_name(*p));
            }
            out.push_str("\r\n");
        }
    }

    /// Every command and subcommand with its slot, sorted by name.
    pub(crate) fn named_slots(&self) -> Vec<(&'static str, usize)> {
        let mut rows = Vec::new();
        for c in crate::command::node_commands() {
            rows.push((c.name, c.slot));
            for (j, sub) in c.subs.iter().enumerate() {
                rows.push((sub.1, c.slot + 1 + j));
            }
        }
        rows.sort();
        rows
    }

    pub(crate) fn rejected(&self, i: usize) {
        if let Some(s) = self.slots.get(i) {
            s.rejected.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn reset(&self) {
        for s in self.slots.iter() {
            s.calls.store(0, Ordering::Relaxed);
            s.usec.store(0, Ordering::Relaxed);
            s.rejected.store(0, Ordering::Relaxed);
            s.failed.store(0, Ordering::Relaxed);
            if let Some(h) = s.hist.get() {
                h.iter().for_each(|c| c.store(0, Ordering::Relaxed));
            }
        }
    }

    /// INFO's `# Commandstats` lines, one per command or subcommand that was
    /// called or refused, sorted by name.
    pub(crate) fn info(&self, out: &mut String) {
        use std::fmt::Write as _;
        let mut rows: Vec<(&'static str, &Slot)> = Vec::new();
        for c in crate::command::node_commands() {
            let mut push = |name: &'static str, i: usize| {
                if let Some(s) = self.slots.get(i) {
                    let (calls, rej) = (
                        s.calls.load(Ordering::Relaxed),
                        s.rejected.load(Ordering::Relaxed),
                    );
                    if calls > 0 || rej > 0 || s.failed.load(Ordering::Relaxed) > 0 {
                        rows.push((name, s));
                    }
                }
            };
            push(c.name, c.slot);
            for (j, sub) in c.subs.iter().enumerate() {
                push(sub.1, c.slot + 1 + j);
            }
        }
        rows.sort_by_key(|r| r.0);
        for (name, s) in rows {
            let calls = s.calls.load(Ordering::Relaxed);
            let usec = s.usec.load(Ordering::Relaxed);
            let per = if calls > 0 {
                usec as f64 / calls as f64
            } else {
                0.0
            };
            let _ = write!(
                out,
                "cmdstat_{name}:calls={calls},usec={usec},usec_per_call={per:.2},rejected_calls={},failed_calls={}\r\n",
                s.rejected.load(Ordering::Relaxed),
                s.failed.load(Ordering::Relaxed),
            );
        }
    }
}

/// The slots a table needs: one per row, then one per subcommand after it.
pub(crate) fn slots_needed<'a>(rows: impl Iterator<Item = &'a Command>) -> usize {
    rows.map(|c| c.slot + 1 + c.subs.len()).max().unwrap_or(0)
}

/// Error replies by code (the first word, as Redis's `errorstats`).
#[derive(Default)]
pub(crate) struct ErrorStats {
    pub total: AtomicU64,
    by_code: Mutex<BTreeMap<String, u64>>,
}

impl ErrorStats {
    pub(crate) fn note(&self, code: &str) {
        self.total.fetch_add(1, Ordering::Relaxed);
        let mut m = self.by_code.lock();
        if let Some(n) = m.get_mut(code) {
            *n += 1;
        } else if m.len() < MAX_ERROR_CODES {
            m.insert(code.to_string(), 1);
        }
    }

    pub(crate) fn reset(&self) {
        self.total.store(0, Ordering::Relaxed);
        self.by_code.lock().clear();
    }

    pub(crate) fn info(&self, out: &mut String) {
        use std::fmt::Write as _;
        for (code, n) in self.by_code.lock().iter() {
            let _ = write!(out, "errorstat_{code}:count={n}\r\n");
        }
    }
}

/// The code of an error reply (`ERR`, `WRONGTYPE`...): its first word, as
/// Redis takes it (up to the first space, at most 127 bytes).
pub(crate) fn error_code(msg: &str) -> &str {
    let end = msg.find(' ').unwrap_or(msg.len());
    let mut end = end.min(127);
    while !msg.is_char_boundary(end) {
        end -= 1;
    }
    &msg[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hdr_buckets_are_redis_values() {
        // What Redis 7.0 prints for calls of 1, 4, 5 and 44 µs.
        for (us, hi) in [(1, 1003), (4, 4015), (5, 5023), (44, 44031), (0, 1)] {
            assert_eq!(hdr_range(hdr_index(us * 1000)).1, hi, "{us}");
        }
        assert_eq!(hdr_index(HDR_MAX * 5), hdr_index(HDR_MAX));
        assert!(hdr_index(HDR_MAX) < HDR_BUCKETS);
        for i in 1..=hdr_index(HDR_MAX) {
            let (lo, hi) = hdr_range(i);
            assert_eq!((hdr_index(lo), hdr_index(hi)), (i, i));
        }
    }

    #[test]
    fn cdf_keys_are_redis_levels() {
        let s = CommandStats::new(1);
        for us in [3, 4, 7, 30, 40] {
            s.ran(0, us, false);
        }
        let (calls, cdf) = s.cdf(0).unwrap();
        assert_eq!(calls, 5);
        assert_eq!(cdf, vec![(4, 2), (8, 3), (33, 4), (66, 5)]);
        s.reset();
        assert!(s.cdf(0).is_none());
    }
}
