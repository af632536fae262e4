//! CLIENT PAUSE (Redis's `pauseClients`): until a deadline or CLIENT
//! UNPAUSE, normal clients' commands wait before they run: all of them, or
//! (WRITE) those that write or may replicate. Active expiry waits too, so
//! the dataset does not change meanwhile. The state is read with one atomic
//! load per command; waiting connections are woken by a watch channel.

use std::sync::atomic::{AtomicI64, AtomicU8, Ordering};
use tokio::sync::watch;

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
#[repr(u8)]
pub(crate) enum Mode {
    Off = 0,
    Write = 1,
    All = 2,
}

pub(crate) struct Pause {
    mode: AtomicU8,
    /// Unix ms the pause ends at.
    until_ms: AtomicI64,
    changed: watch::Sender<u64>,
    /// Serializes the changes (PAUSE, UNPAUSE, the cron's expiry); reads
    /// take no lock.
    change: parking_lot::Mutex<()>,
    /// Connections waiting for the pause to end (INFO's blocked_clients).
    pub(crate) waiting: std::sync::atomic::AtomicUsize,
}

impl Default for Pause {
    fn default() -> Self {
        Pause {
            mode: AtomicU8::new(Mode::Off as u8),
            until_ms: AtomicI64::new(0),
            changed: watch::channel(0).0,
            change: parking_lot::Mutex::new(()),
            waiting: Default::default(),
        }
    }
}

impl Pause {
    /// Whether a pause may be in force (one atomic load, no clock: what
    /// every request checks).
    #[inline]
    pub(crate) fn maybe(&self) -> bool {
        self.mode.load(Ordering::Relaxed) != Mode::Off as u8
    }

    /// The pause in force at `now_ms`.
    #[inline]
    pub(crate) fn mode(&self, now_ms: i64) -> Mode {
        let m = self.mode.load(Ordering::Acquire);
        if m == Mode::Off as u8 || self.until_ms.load(Ordering::Acquire) <= now_ms {
            Mode::Off
        } else if m == Mode::Write as u8 {
            Mode::Write
        } else {
            Mode::All
        }
    }

    /// Pauses until `until_ms`. A pause already in force keeps the later
    /// end and the stricter mode, as Redis's.
    pub(crate) fn pause(&self, mode: Mode, until_ms: i64, now_ms: i64) {
        let _g = self.change.lock();
        let cur = self.mode(now_ms);
        let (mode, until) = if cur == Mode::Off {
            (mode, until_ms)
        } else {
            (
                mode.max(cur),
                until_ms.max(self.until_ms.load(Ordering::Acquire)),
            )
        };
        self.until_ms.store(until, Ordering::Release);
        self.mode.store(mode as u8, Ordering::Release);
        self.changed.send_modify(|g| *g += 1);
    }

    pub(crate) fn unpause(&self) {
        let _g = self.change.lock();
        self.mode.store(Mode::Off as u8, Ordering::Release);
        self.changed.send_modify(|g| *g += 1);
    }

    /// Clears a pause whose deadline passed (the cron), so that requests
    /// go back to checking one atomic.
    pub(crate) fn expire(&self, now_ms: i64) {
        if !self.maybe() {
            return;
        }
        let _g = self.change.lock();
        if self.until_ms.load(Ordering::Acquire) <= now_ms {
            self.mode.store(Mode::Off as u8, Ordering::Release);
            self.changed.send_modify(|g| *g += 1);
        }
    }

    /// Waits until the pause ends (its deadline, or UNPAUSE, or a change).
    pub(crate) async fn wait(&self) {
        let mut rx = self.changed.subscribe();
        let now = crate::util::now_ms();
        if self.mode(now) == Mode::Off {
            return;
        }
        let left = (self.until_ms.load(Ordering::Acquire) - now).max(0) as u64;
        let _ = tokio::time::timeout(std::time::Duration::from_millis(left), rx.changed()).await;
    }
}

/// Whether a paused node holds this request: under ALL every one, under
/// WRITE those that write or may replicate (Redis's `CMD_MAY_REPLICATE`:
/// scripts, PUBLISH, PFCOUNT), and an EXEC whose queue has one.
pub(crate) fn holds(
    mode: Mode,
    args: &[bytes::Bytes],
    queued: Option<&Vec<Vec<bytes::Bytes>>>,
) -> bool {
    match mode {
        Mode::Off => false,
        Mode::All => true,
        Mode::Write => {
            let Some(cmd) = crate::command::lookup(&args[0]) else {
                return false;
            };
            let writes = |c: &crate::command::Command| {
                c.flags & crate::command::flags::WRITE != 0 || MAY_REPLICATE.contains(&c.name)
            };
            writes(cmd)
                || (cmd.name == "exec"
                    && queued.is_some_and(|q| {
                        q.iter()
                            .filter_map(|a| crate::command::lookup(&a[0]))
                            .any(writes)
                    }))
        }
    }
}

/// Redis 7.0's commands flagged `may-replicate` that sledis has.
const MAY_REPLICATE: &[&str] = &[
    "eval", "evalsha", "fcall", "publish", "spublish", "pfcount", "script", "function",
];
