//! The node's replication state, with one owner: the role and the history
//! ids change only through the transitions here (Redis's
//! `replicationSetMaster` / `replicationUnsetMaster`), which also persist
//! them (ids in sled's meta tree, the role in the config file) and tell the
//! store its mode. Everything else reads.

use super::{replica, Link, ReplicaInfo, Role, NO_REPLID};
use crate::server::Server;
use parking_lot::{Mutex, RwLock};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

/// The history this node's data belongs to: its id, and the previous one
/// with where it ended (+1, Redis's `second_repl_offset`) after a
/// promotion, so replicas of the old master can continue with us.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Ids {
    pub replid: String,
    pub replid2: String,
    pub second_offset: i64,
    /// Older histories this one continues, newest first, each with where
    /// it ended (+1, as `second_offset`): replid2's predecessors, and after
    /// a full sync the master's lineage. A returning node finds its own id
    /// here to know where its log left ours (`replica::divergence`).
    /// Printed in INFO as `replid_history` when not empty; at most
    /// `MAX_HISTORY` entries.
    pub history: Vec<(String, i64)>,
}

/// How many older histories a node remembers.
pub(crate) const MAX_HISTORY: usize = 16;

impl Ids {
    /// Moves to a new id, the current one becoming replid2, valid up to
    /// `second_offset`; the old replid2 goes to the history.
    fn shift(&mut self, replid: String, second_offset: i64) {
        let old = std::mem::replace(&mut self.replid, replid);
        let old2 = std::mem::replace(&mut self.replid2, old);
        if old2 != NO_REPLID {
            self.history.insert(0, (old2, self.second_offset));
            self.history.truncate(MAX_HISTORY);
        }
        self.second_offset = second_offset;
    }

    /// `id:offset,id:offset` (INFO's `replid_history`, the persisted form).
    pub(crate) fn history_text(&self) -> String {
        self.history
            .iter()
            .map(|(id, off)| format!("{id}:{off}"))
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// Parses `history_text`'s form; malformed entries are skipped.
pub(crate) fn parse_history(text: &str) -> Vec<(String, i64)> {
    text.split(',')
        .filter_map(|e| {
            let (id, off) = e.split_once(':')?;
            (id.len() == 40).then_some(())?;
            Some((id.to_string(), off.parse().ok()?))
        })
        .take(MAX_HISTORY)
        .collect()
}

pub(crate) struct ReplState {
    role: RwLock<Role>,
    /// Bumped on every role change: a link task for an older generation
    /// stops.
    generation: AtomicU64,
    ids: RwLock<Ids>,
    pub link: Link,
    pub replicas: Mutex<HashMap<u64, ReplicaInfo>>,
    /// WAL positions replicas still need: retention keeps them.
    pub pins: Mutex<HashMap<u64, u64>>,
    /// Last time (ms) this node had a replica or was one: `repl-backlog-ttl`
    /// counts from there.
    pub last_replica_ms: AtomicI64,
    /// This node has had a replica, or been one, since it started: Redis
    /// has a backlog from then on (`feeds_messages`).
    pub replica_seen: AtomicBool,
    /// Bumped by WAIT (the first count) and WAITAOF (both): every feed
    /// then asks its replica for an ACK (GETACK), or for an fsync and an
    /// ACK (GETFACK).
    pub getack: tokio::sync::watch::Sender<(u64, u64)>,
    /// Bumped whenever a replica's acknowledged offsets move or a replica
    /// comes online or goes: WAIT, WAITAOF and the writes of
    /// `sync-replicas` wait on it instead of polling.
    pub acks: tokio::sync::watch::Sender<u64>,
    /// The role could not be written to the config file (a full disk):
    /// the error, until a retry succeeds (`save_role`).
    pub role_unsaved: Mutex<Option<String>>,
}

impl ReplState {
    /// A master of `replid`'s history (`load_ids` adds the rest at start).
    pub(crate) fn new(replid: String) -> Self {
        ReplState {
            role: RwLock::new(Role::Master),
            generation: AtomicU64::new(0),
            ids: RwLock::new(Ids {
                replid,
                replid2: NO_REPLID.to_string(),
                second_offset: -1,
                history: Vec::new(),
            }),
            link: Link::default(),
            replicas: Mutex::new(HashMap::new()),
            pins: Mutex::new(HashMap::new()),
            last_replica_ms: AtomicI64::new(crate::util::now_ms()),
            replica_seen: AtomicBool::new(false),
            getack: tokio::sync::watch::channel((0, 0)).0,
            acks: tokio::sync::watch::channel(0).0,
            role_unsaved: Mutex::new(None),
        }
    }

    /// Whether a master logs a PUBLISH for its replicas. Redis feeds one
    /// to its backlog while it has one: from its first replica until
    /// `repl-backlog-ttl` (seconds, 0: forever) after the last went. A
    /// master that never had a replica keeps messages off its WAL.
    pub(crate) fn feeds_messages(&self, ttl_s: u64) -> bool {
        if !self.replicas.lock().is_empty() {
            return true;
        }
        let since = crate::util::now_ms() - self.last_replica_ms.load(Ordering::Relaxed);
        self.replica_seen.load(Ordering::Relaxed) && (ttl_s == 0 || since <= ttl_s as i64 * 1000)
    }

    pub(crate) fn role(&self) -> Role {
        self.role.read().clone()
    }

    pub(crate) fn is_replica(&self) -> bool {
        matches!(*self.role.read(), Role::Replica { .. })
    }

    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub(crate) fn ids(&self) -> Ids {
        self.ids.read().clone()
    }

    pub(crate) fn replid(&self) -> String {
        self.ids.read().replid.clone()
    }

    /// The lowest WAL position a connected replica still needs.
    pub(crate) fn min_pin(&self) -> Option<u64> {
        self.pins.lock().values().copied().min()
    }

    /// Asks every replica for an immediate ACK (WAIT), instead of waiting
    /// for the next one-second ACK; with `fsync` (WAITAOF), for an fsync of
    /// its WAL and an ACK whose FACK covers it.
    pub(crate) fn request_acks(&self, fsync: bool) {
        self.getack.send_modify(|(a, f)| {
            *a += 1;
            if fsync {
                *f += 1;
            }
        });
    }

    /// A replica's acknowledged offsets moved, or the set of replicas
    /// changed: wakes the waiters of `wait_acked`.
    pub(crate) fn acks_changed(&self) {
        self.acks.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// The number of online replicas that acknowledged `offset`: have it
    /// in their WAL by their fsync policy (ACK), or fsynced (`fsynced`,
    /// their FACK).
    pub(crate) fn acked(&self, offset: u64, fsynced: bool) -> usize {
        self.replicas
            .lock()
            .values()
            .filter(|r| {
                let at = if fsynced { r.fack_offset } else { r.ack_offset };
                r.state == "online" && at >= offset
            })
            .count()
    }

    /// Waits until `n` replicas acknowledged `offset` (see `acked`) or the
    /// deadline passes (None: no deadline); returns how many did. Woken by
    /// every ACK that moves an offset (`acks_changed`), no polling. The
    /// caller asks for the ACKs first (`request_acks`).
    pub(crate) async fn wait_acked(
        &self,
        n: usize,
        offset: u64,
        fsynced: bool,
        deadline: Option<tokio::time::Instant>,
    ) -> usize {
        // Subscribed before the first look: no ACK slips in between.
        let mut rx = self.acks.subscribe();
        loop {
            let have = self.acked(offset, fsynced);
            if have >= n {
                return have;
            }
            let woke = match deadline {
                Some(d) => tokio::time::timeout_at(d, rx.changed()).await,
                None => Ok(rx.changed().await),
            };
            match woke {
                Ok(Ok(())) => {}
                // Time is up (or the state is going away).
                _ => return self.acked(offset, fsynced),
            }
        }
    }

    pub(crate) fn set_link_state(&self, s: &'static str) {
        *self.link.state.lock() = s;
    }

    pub(crate) fn link_down(&self, now_ms: i64) {
        if self.link.up.swap(false, Ordering::AcqRel)
            || self.link.down_since_ms.load(Ordering::Relaxed) == 0
        {
            self.link.down_since_ms.store(now_ms, Ordering::Relaxed);
        }
    }

    /// Sets the role and returns the new generation.
    fn set_role(&self, role: Role) -> u64 {
        *self.role.write() = role;
        self.generation.fetch_add(1, Ordering::AcqRel) + 1
    }
}

// ----------------------------------------------------------- transitions

/// REPLICAOF host port: follow a new master. Drops our own replicas (they
/// must resync with our new history) and starts the link. Returns false if
/// we already follow that master.
pub(crate) fn become_replica(srv: &Arc<Server>, host: &str, port: u16) -> bool {
    if matches!(&*srv.repl.role.read(), Role::Replica { host: h, port: p } if h == host && *p == port)
    {
        return false;
    }
    let gen = follow(srv, host, port);
    // Blocked BLPOP & co. are writes a replica cannot do (Redis 7 unblocks
    // them with an error too).
    srv.store
        .ready
        .unblock_all(crate::store::ready::why::TO_REPLICA);
    save_role(srv);
    for id in srv.repl.replicas.lock().keys() {
        if let Some(c) = srv.clients.get(*id) {
            c.kill();
        }
    }
    replica::spawn(srv.clone(), host.to_string(), port, gen);
    true
}

/// The role in the config file at startup.
pub(crate) fn start_from_config(srv: &Arc<Server>) {
    let r = srv.config.read().replicaof.clone();
    if let Some((host, port)) = r {
        tracing::info!("Starting as a replica of {host}:{port} (replicaof in the config)");
        let gen = follow(srv, &host, port);
        replica::spawn(srv.clone(), host, port, gen);
    }
}

/// The replica role without its link yet; returns the link's generation.
fn follow(srv: &Server, host: &str, port: u16) -> u64 {
    let gen = srv.repl.set_role(Role::Replica {
        host: host.to_string(),
        port,
    });
    srv.store.set_follower(true);
    srv.config
        .write()
        .set_replicaof(Some((host.to_string(), port)));
    srv.repl.link_down(crate::util::now_ms());
    gen
}

/// REPLICAOF NO ONE: keep the data, take a new history id and remember the
/// old one (replid2) so former siblings can continue with us. A node left
/// with a failed full sync's partial data starts empty instead (also when
/// it is a master already: a failed drop is tried again).
pub(crate) fn promote(srv: &Server) -> Result<(), crate::store::Error> {
    if srv.repl.is_replica() {
        // The link task sees the new generation and stops.
        srv.repl.set_role(Role::Master);
        srv.store.set_follower(false);
        abandon_stages(srv);
        srv.repl.link.up.store(false, Ordering::Release);
        let end = srv.store.wal.end_offset();
        srv.repl
            .ids
            .write()
            .shift(crate::util::random_hex40(), end as i64 + 1);
        persist_ids(srv);
        srv.config.write().set_replicaof(None);
        save_role(srv);
        tracing::info!("MASTER MODE enabled; history continues at offset {end}");
    }
    if srv.store.incomplete() {
        srv.store.drop_incomplete()?;
        tracing::warn!("REPLICAOF NO ONE after a failed full sync: starting with an empty dataset");
    }
    srv.loading.store(srv.store.incomplete(), Ordering::Release);
    Ok(())
}

/// After a full sync: our data is the master's history from here on, and
/// its lineage (`master_replid2` and `replid_history` from the INFO read
/// at the handshake, if it was of this history) is ours too, in `history`
/// (replid2 stays empty, as in Redis: we hold no log before the sync).
pub(crate) fn adopt_master_history(srv: &Server, replid: &str, lineage: Vec<(String, i64)>) {
    *srv.repl.ids.write() = Ids {
        replid: replid.to_string(),
        replid2: NO_REPLID.to_string(),
        second_offset: -1,
        history: lineage,
    };
    persist_ids(srv);
}

/// A partial resync under a new id (the master was promoted and continued
/// our history): ours becomes replid2, valid up to `end`.
pub(crate) fn continue_as(srv: &Server, replid: &str, end: u64) {
    {
        let mut ids = srv.repl.ids.write();
        if ids.replid == replid {
            return;
        }
        ids.shift(replid.to_string(), end as i64 + 1);
    }
    persist_ids(srv);
}

// ----------------------------------------------------------- persistence

/// The node's history id, from sled's meta tree (a new one on a fresh data
/// dir).
pub(crate) fn load_or_create_replid(
    store: &crate::store::Store,
) -> Result<String, crate::store::Error> {
    if let Some(v) = store.meta_get(b"replid") {
        if let Ok(s) = String::from_utf8(v) {
            if s.len() == 40 {
                return Ok(s);
            }
        }
    }
    let id = crate::util::random_hex40();
    store.meta_put(b"replid", id.as_bytes())?;
    Ok(id)
}

/// A master finishes no staged write it did not start (`store/stage.rs`):
/// what its old master or its own last run sent ahead goes to the GC. On a
/// thread of its own, as the writer lock may be held by the connection
/// that asked (a pipeline, an EXEC).
pub(crate) fn abandon_stages(srv: &Server) {
    let store = srv.store.clone();
    std::thread::spawn(move || store.abandon_stages());
}

/// replid2 and the second offset, as persisted.
pub(crate) fn load_ids(srv: &Server) {
    let mut ids = srv.repl.ids.write();
    if let Some(v) = srv.store.meta_get(b"replid2") {
        if let Ok(s) = String::from_utf8(v) {
            if s.len() == 40 {
                ids.replid2 = s;
            }
        }
    }
    if let Some(v) = srv.store.meta_get(b"second_offset") {
        if let Ok(b) = <[u8; 8]>::try_from(v.as_slice()) {
            ids.second_offset = i64::from_be_bytes(b);
        }
    }
    if let Some(v) = srv.store.meta_get(b"replid_history") {
        ids.history = parse_history(&String::from_utf8_lossy(&v));
    }
}

/// Keeps the ids in the data dir, so a restarted node (master or replica)
/// continues the same history.
fn persist_ids(srv: &Server) {
    let ids = srv.repl.ids();
    let r = [
        srv.store.meta_put(b"replid", ids.replid.as_bytes()),
        srv.store.meta_put(b"replid2", ids.replid2.as_bytes()),
        srv.store
            .meta_put(b"second_offset", &ids.second_offset.to_be_bytes()),
        srv.store
            .meta_put(b"replid_history", ids.history_text().as_bytes()),
    ];
    for e in r.into_iter().filter_map(|r| r.err()) {
        tracing::error!("cannot persist the replication ids: {e}");
    }
}

/// Writes the config file with the current role, so a restarted node comes
/// back in it. The file is replaced atomically, so a failed write (a full
/// disk) leaves the old one whole; the role changes anyway, as Redis's
/// does, and the cron calls this again every second until it succeeds
/// (`role_unsaved`, INFO `config_rewrite_error`).
pub(crate) fn save_role(srv: &Server) {
    let cfg = srv.config.read();
    if cfg.config_file.is_none() {
        return;
    }
    let mut unsaved = srv.repl.role_unsaved.lock();
    match cfg.rewrite() {
        Ok(()) => {
            if unsaved.take().is_some() {
                tracing::info!("the replication role is in the config file now");
            }
        }
        Err(e) => {
            if unsaved.is_none() {
                tracing::warn!(
                    "could not persist the replication role in the config file: {e}; retrying every second"
                );
            }
            *unsaved = Some(e.to_string());
        }
    }
}
