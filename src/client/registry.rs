//! The client registry behind CLIENT LIST / KILL: what other connections
//! may see or do to a client ([`ClientInfo`]), on a node or a sentinel.

use parking_lot::Mutex;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;
use std::sync::OnceLock;
use std::time::Instant;
use tokio::sync::Notify;

/// What other connections may see or do to a client.
pub(crate) struct ClientInfo {
    pub id: u64,
    pub addr: SocketAddr,
    pub laddr: SocketAddr,
    pub name: Mutex<Option<String>>,
    pub lib_name: Mutex<Option<String>>,
    pub lib_ver: Mutex<Option<String>>,
    pub created: Instant,
    pub last_ms: AtomicI64,
    pub last_cmd: Mutex<&'static str>,
    pub db: AtomicUsize,
    pub subs: AtomicUsize,
    pub psubs: AtomicUsize,
    /// Shard channels (SSUBSCRIBE).
    pub ssubs: AtomicUsize,
    /// -1 outside MULTI, else the number of queued commands.
    pub multi: AtomicI64,
    pub resp: AtomicUsize,
    pub killed: AtomicBool,
    pub kill: Notify,
    /// Bytes of pub/sub messages queued but not yet written.
    pub pending_push: AtomicUsize,
    /// The connection became a replica's feed (after PSYNC/SYNC).
    pub replica: AtomicBool,
    /// Waiting in BLPOP & co. (CLIENT LIST flag `b`).
    pub blocked: AtomicBool,
    /// CLIENT NO-EVICT / NO-TOUCH (flags `e` and `T`).
    pub no_evict: AtomicBool,
    pub no_touch: AtomicBool,
    /// CLIENT TRACKING (`tracking::ON | BROKEN | BCAST`: flags `t R B`).
    pub tracking: AtomicU8,
    /// CLIENT LIST's redir=: -1 without tracking, else the redirect id.
    pub redir: AtomicI64,
    /// The connection's queue of pushes, for invalidations sent to it by
    /// id (a node's connections; the sentinel's have none).
    pub push: OnceLock<tokio::sync::mpsc::UnboundedSender<super::pubsub::PubMsg>>,
}

impl ClientInfo {
    pub(crate) fn note_command(&self, name: &'static str, now: i64) {
        self.last_ms.store(now, Ordering::Relaxed);
        *self.last_cmd.lock() = name;
    }

    pub(crate) fn kill(&self) {
        self.killed.store(true, Ordering::Release);
        self.kill.notify_one();
    }

    /// Redis's client type, for CLIENT LIST / KILL TYPE.
    pub(crate) fn client_type(&self) -> &'static str {
        if self.replica.load(Ordering::Relaxed) {
            "replica"
        } else if self.is_pubsub() {
            "pubsub"
        } else {
            "normal"
        }
    }

    pub(crate) fn is_pubsub(&self) -> bool {
        self.subs.load(Ordering::Relaxed)
            + self.psubs.load(Ordering::Relaxed)
            + self.ssubs.load(Ordering::Relaxed)
            > 0
    }

    /// One line of CLIENT LIST, in Redis's field order.
    pub(crate) fn describe(&self, now: i64) -> String {
        let age = self.created.elapsed().as_secs();
        let idle = ((now - self.last_ms.load(Ordering::Relaxed)).max(0) / 1000) as u64;
        let flags = if self.replica.load(Ordering::Relaxed) {
            "S"
        } else if self.is_pubsub() {
            "P"
        } else if self.multi.load(Ordering::Relaxed) >= 0 {
            "x"
        } else if self.blocked.load(Ordering::Relaxed) {
            "b"
        } else {
            ""
        };
        // In Redis's order: t R B, then e T; N when there is none.
        let mut flags = flags.to_string();
        let t = self.tracking.load(Ordering::Relaxed);
        for (bit, c) in [
            (super::tracking::ON, 't'),
            (super::tracking::BROKEN, 'R'),
            (super::tracking::BCAST, 'B'),
        ] {
            if t & bit != 0 {
                flags.push(c);
            }
        }
        if self.no_evict.load(Ordering::Relaxed) {
            flags.push('e');
        }
        if self.no_touch.load(Ordering::Relaxed) {
            flags.push('T');
        }
        if flags.is_empty() {
            flags.push('N');
        }
        let opt = |m: &Mutex<Option<String>>| m.lock().clone().unwrap_or_default();
        format!(
            "id={} addr={} laddr={} fd=8 name={} age={} idle={} flags={} db={} sub={} psub={} ssub={} multi={} \
             qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=16384 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r \
             cmd={} user=default redir={} resp={} lib-name={} lib-ver={}",
            self.id,
            self.addr,
            self.laddr,
            opt(&self.name),
            age,
            idle,
            flags,
            self.db.load(Ordering::Relaxed),
            self.subs.load(Ordering::Relaxed),
            self.psubs.load(Ordering::Relaxed),
            self.ssubs.load(Ordering::Relaxed),
            self.multi.load(Ordering::Relaxed),
            self.last_cmd.lock(),
            self.redir.load(Ordering::Relaxed),
            self.resp.load(Ordering::Relaxed),
            opt(&self.lib_name),
            opt(&self.lib_ver),
        )
    }
}

#[derive(Default)]
pub(crate) struct Clients {
    next_id: AtomicU64,
    map: Mutex<HashMap<u64, Arc<ClientInfo>>>,
}

impl Clients {
    pub(crate) fn register(
        &self,
        addr: SocketAddr,
        laddr: SocketAddr,
        now: i64,
    ) -> Arc<ClientInfo> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let info = Arc::new(ClientInfo {
            id,
            addr,
            laddr,
            name: Mutex::new(None),
            lib_name: Mutex::new(None),
            lib_ver: Mutex::new(None),
            created: Instant::now(),
            last_ms: AtomicI64::new(now),
            last_cmd: Mutex::new("NULL"),
            db: AtomicUsize::new(0),
            subs: AtomicUsize::new(0),
            psubs: AtomicUsize::new(0),
            ssubs: AtomicUsize::new(0),
            multi: AtomicI64::new(-1),
            resp: AtomicUsize::new(2),
            killed: AtomicBool::new(false),
            kill: Notify::new(),
            pending_push: AtomicUsize::new(0),
            replica: AtomicBool::new(false),
            blocked: AtomicBool::new(false),
            no_evict: AtomicBool::new(false),
            no_touch: AtomicBool::new(false),
            tracking: AtomicU8::new(0),
            redir: AtomicI64::new(-1),
            push: OnceLock::new(),
        });
        self.map.lock().insert(id, info.clone());
        info
    }

    pub(crate) fn unregister(&self, id: u64) {
        self.map.lock().remove(&id);
    }

    pub(crate) fn len(&self) -> usize {
        self.map.lock().len()
    }

    pub(crate) fn all(&self) -> Vec<Arc<ClientInfo>> {
        let mut v: Vec<_> = self.map.lock().values().cloned().collect();
        v.sort_by_key(|c| c.id);
        v
    }

    pub(crate) fn get(&self, id: u64) -> Option<Arc<ClientInfo>> {
        self.map.lock().get(&id).cloned()
    }
}
