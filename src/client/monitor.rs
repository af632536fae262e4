//! MONITOR (Redis's `replicationFeedMonitors`): each command a node runs,
//! as one line to every monitoring client. A node without monitors pays
//! one atomic load per command.

use super::pubsub::{PubMsg, Subscriber};
use bytes::Bytes;
use parking_lot::RwLock;
use std::collections::HashMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicUsize, Ordering};

#[derive(Default)]
pub(crate) struct Monitors {
    subs: RwLock<HashMap<u64, Subscriber>>,
    count: AtomicUsize,
}

impl Monitors {
    pub(crate) fn add(&self, id: u64, sub: Subscriber) {
        let mut g = self.subs.write();
        g.insert(id, sub);
        self.count.store(g.len(), Ordering::Release);
    }

    pub(crate) fn remove(&self, id: u64) {
        let mut g = self.subs.write();
        if g.remove(&id).is_some() {
            self.count.store(g.len(), Ordering::Release);
        }
    }

    pub(crate) fn active(&self) -> bool {
        self.count.load(Ordering::Acquire) > 0
    }
}

impl super::pubsub::PubSub {
    /// Sends `args`, run in database `db` by `from` (a client's address,
    /// or `lua`), to every monitor, under the pub/sub queue limit.
    pub(crate) fn feed_monitors(&self, db: usize, from: &str, args: &[Bytes]) {
        let line = Bytes::from(line(crate::util::now_us(), db, from, args));
        for s in self.monitors.subs.read().values() {
            self.deliver(s, PubMsg::Monitor(line.clone()));
        }
    }
}

/// `<secs>.<micros> [<db> <from>] "arg" ...`, each argument quoted as
/// Redis's `sdscatrepr` does; passwords redacted.
fn line(now_us: i64, db: usize, from: &str, args: &[Bytes]) -> String {
    let mut s = format!(
        "{}.{:06} [{db} {from}]",
        now_us.div_euclid(1_000_000),
        now_us.rem_euclid(1_000_000)
    );
    for a in crate::command::introspect::redacted(args).iter() {
        s.push(' ');
        repr(&mut s, a);
    }
    s
}

fn repr(s: &mut String, b: &[u8]) {
    s.push('"');
    for &c in b {
        match c {
            b'\\' => s.push_str("\\\\"),
            b'"' => s.push_str("\\\""),
            b'\n' => s.push_str("\\n"),
            b'\r' => s.push_str("\\r"),
            b'\t' => s.push_str("\\t"),
            0x07 => s.push_str("\\a"),
            0x08 => s.push_str("\\b"),
            0x20..=0x7e => s.push(c as char),
            _ => {
                let _ = write!(s, "\\x{c:02x}");
            }
        }
    }
    s.push('"');
}

#[cfg(test)]
mod tests {
    #[test]
    fn lines_read_as_redis_writes_them() {
        let args = [
            bytes::Bytes::from_static(b"SET"),
            bytes::Bytes::from_static(b"a b"),
            bytes::Bytes::from_static(b"x\"y\n\x01\xff"),
        ];
        assert_eq!(
            super::line(1_796_658_201_699_842, 0, "127.0.0.1:56460", &args),
            r#"1796658201.699842 [0 127.0.0.1:56460] "SET" "a b" "x\"y\n\x01\xff""#
        );
    }
}
