//! The slow log (Redis's slowlog.c): commands that ran for at least
//! `slowlog-log-slower-than` µs, newest first, at most `slowlog-max-len`.
//! The two settings are mirrored in atomics so the check after every
//! command takes no lock; the log itself is locked only to add an entry.

use bytes::Bytes;
use parking_lot::Mutex;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// Arguments kept per entry (Redis's `SLOWLOG_ENTRY_MAX_ARGC`).
const MAX_ARGC: usize = 32;
/// Bytes kept per argument (Redis's `SLOWLOG_ENTRY_MAX_STRING`).
const MAX_STRING: usize = 128;

pub(crate) struct Entry {
    pub id: u64,
    /// Unix time, seconds.
    pub time: i64,
    pub usec: u64,
    pub args: Vec<Bytes>,
    pub addr: String,
    pub name: String,
}

pub(crate) struct SlowLog {
    /// µs; negative: off, 0: every command.
    slower_than: AtomicI64,
    max_len: AtomicU64,
    next_id: AtomicU64,
    /// Newest first.
    entries: Mutex<VecDeque<Entry>>,
}

impl Default for SlowLog {
    fn default() -> Self {
        SlowLog {
            slower_than: AtomicI64::new(10_000),
            max_len: AtomicU64::new(128),
            next_id: AtomicU64::new(0),
            entries: Mutex::new(VecDeque::new()),
        }
    }
}

impl SlowLog {
    pub(crate) fn configure(&self, slower_than: i64, max_len: u64) {
        self.slower_than.store(slower_than, Ordering::Relaxed);
        self.max_len.store(max_len, Ordering::Relaxed);
        let mut e = self.entries.lock();
        e.truncate(max_len as usize);
    }

    /// Whether a command that took `usec` goes in the log.
    #[inline]
    pub(crate) fn wants(&self, usec: u64) -> bool {
        let t = self.slower_than.load(Ordering::Relaxed);
        t >= 0 && usec >= t as u64
    }

    pub(crate) fn push(&self, args: &[Bytes], usec: u64, addr: String, name: String) {
        let max = self.max_len.load(Ordering::Relaxed) as usize;
        let entry = Entry {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            time: crate::util::now_ms() / 1000,
            usec,
            args: truncate_args(args),
            addr,
            name,
        };
        let mut e = self.entries.lock();
        e.push_front(entry);
        e.truncate(max);
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.lock().len()
    }

    pub(crate) fn reset(&self) {
        self.entries.lock().clear();
    }

    /// Calls `f` with the newest `count` entries (all when None).
    pub(crate) fn with_newest<R>(&self, count: Option<usize>, f: impl FnOnce(&[&Entry]) -> R) -> R {
        let e = self.entries.lock();
        let picked: Vec<&Entry> = e.iter().take(count.unwrap_or(usize::MAX)).collect();
        f(&picked)
    }
}

/// The arguments as Redis keeps them: at most 32, the last of them then
/// saying how many more there were; each at most 128 bytes, then how many
/// more bytes it had.
fn truncate_args(args: &[Bytes]) -> Vec<Bytes> {
    let kept = args.len().min(MAX_ARGC);
    let mut out = Vec::with_capacity(kept);
    for (i, a) in args.iter().take(kept).enumerate() {
        if kept != args.len() && i == kept - 1 {
            let more = args.len() - kept + 1;
            out.push(Bytes::from(format!("... ({more} more arguments)")));
        } else if a.len() > MAX_STRING {
            let mut s = a[..MAX_STRING].to_vec();
            s.extend_from_slice(format!("... ({} more bytes)", a.len() - MAX_STRING).as_bytes());
            out.push(Bytes::from(s));
        } else {
            out.push(a.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncates_like_redis() {
        let many: Vec<Bytes> = (0..40).map(|i| Bytes::from(i.to_string())).collect();
        let t = truncate_args(&many);
        assert_eq!(t.len(), 32);
        assert_eq!(&t[31][..], b"... (9 more arguments)");
        let long = vec![Bytes::from_static(b"set"), Bytes::from(vec![b'x'; 130])];
        let t = truncate_args(&long);
        assert!(t[1].ends_with(b"... (2 more bytes)"));
        assert_eq!(t[1].len(), 128 + "... (2 more bytes)".len());
    }
}
