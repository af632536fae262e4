//! Per-command and per-error counters, Redis's `commandstats` and
//! `errorstats` INFO sections. Each command row (and each subcommand) has a
//! slot of atomics, found by index (`Command::slot`), so counting costs no
//! lookup by name on the hot path; errors are rare and counted by code
//! under a lock.

use crate::command::Command;
use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

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
}

pub(crate) struct CommandStats {
    slots: Box<[Slot]>,
}

impl CommandStats {
    pub(crate) fn new(n: usize) -> CommandStats {
        CommandStats {
            slots: (0..n).map(|_| Slot::default()).collect(),
        }
    }

    pub(crate) fn ran(&self, i: usize, usec: u64, failed: bool) {
        if let Some(s) = self.slots.get(i) {
            s.calls.fetch_add(1, Ordering::Relaxed);
            s.usec.fetch_add(usec, Ordering::Relaxed);
            if failed {
                s.failed.fetch_add(1, Ordering::Relaxed);
            }
        }
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
