//! The node: shared state ([`Server`]), the accept loop, background cron,
//! and shutdown.

pub(crate) mod blocked;
pub(crate) mod client;
pub(crate) mod cmdstats;
pub(crate) mod connection;
pub(crate) mod cron;
pub(crate) mod disk_reads;
pub(crate) mod memory;
pub(crate) mod pause;
pub(crate) mod save;
pub(crate) mod slowlog;

use crate::client::pubsub::PubSub;
use crate::client::Clients;
use crate::config::{BindError, Config};
use crate::store::Store;
use bytes::Bytes;
use parking_lot::{Mutex, RwLock};
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;
use tokio::net::TcpListener;
use tokio::sync::watch;

#[derive(Default)]
pub(crate) struct Stats {
    pub(crate) connections: AtomicU64,
    pub(crate) rejected: AtomicU64,
    pub(crate) commands: AtomicU64,
    pub(crate) ops_per_sec: AtomicU64,
    pub(crate) net_input: AtomicU64,
    pub(crate) net_output: AtomicU64,
    pub(crate) sync_full: AtomicU64,
    pub(crate) sync_partial_ok: AtomicU64,
    pub(crate) sync_partial_err: AtomicU64,
    /// Error replies to our master's stream (Redis's
    /// `unexpected_error_replies`).
    pub(crate) unexpected_errors: AtomicU64,
    /// Socket reads and reply writes (`total_reads/writes_processed`).
    pub(crate) reads: AtomicU64,
    pub(crate) writes: AtomicU64,
    /// Bytes per second in and out, sampled by the cron.
    pub(crate) input_bps: AtomicU64,
    pub(crate) output_bps: AtomicU64,
    /// Active expiry: cron ticks that stopped at their work cap, and the
    /// time spent (µs).
    pub(crate) expire_cap_reached: AtomicU64,
    pub(crate) expire_usec: AtomicU64,
}

/// SCAN cursors: a number handed to the client, mapped to the last key
/// returned. Bounded; an unknown cursor starts over.
#[derive(Default)]
pub(crate) struct Cursors {
    next: AtomicU64,
    map: Mutex<HashMap<u64, Bytes>>,
    order: Mutex<std::collections::VecDeque<u64>>,
}

const MAX_CURSORS: usize = 100_000;

impl Cursors {
    pub(crate) fn put(&self, key: Bytes) -> u64 {
        // Cursors stay below 2^63 so clients parsing them as i64 are fine.
        let id = (self.next.fetch_add(1, Ordering::Relaxed) % (i64::MAX as u64 - 1)) + 1;
        let mut m = self.map.lock();
        let mut o = self.order.lock();
        m.insert(id, key);
        o.push_back(id);
        while o.len() > MAX_CURSORS {
            if let Some(old) = o.pop_front() {
                m.remove(&old);
            }
        }
        id
    }

    pub(crate) fn get(&self, id: u64) -> Option<Bytes> {
        self.map.lock().get(&id).cloned()
    }
}

pub(crate) struct Server {
    pub(crate) store: Arc<Store>,
    pub(crate) config: RwLock<Config>,
    pub(crate) clients: Clients,
    pub(crate) pubsub: PubSub,
    pub(crate) cursors: Cursors,
    pub(crate) stats: Stats,
    pub(crate) run_id: String,
    pub(crate) repl: crate::replication::ReplState,
    /// A replica loading its master's snapshot: commands answer LOADING.
    pub(crate) loading: std::sync::atomic::AtomicBool,
    pub(crate) started: Instant,
    pub(crate) port: u16,
    pub(crate) save: save::SaveState,
    /// `Some(save?)` once shutdown was asked for.
    pub(crate) shutdown: watch::Sender<Option<Option<bool>>>,
    pub(crate) last_cron_ms: AtomicI64,
    /// Reader threads for commands whose key must come from sled.
    pub(crate) disk_reads: disk_reads::DiskReads,
    /// The script cache and the script running now.
    pub(crate) scripts: crate::scripting::Scripts,
    /// INFO's commandstats and errorstats.
    pub(crate) cmdstats: cmdstats::CommandStats,
    pub(crate) errorstats: cmdstats::ErrorStats,
    pub(crate) slowlog: slowlog::SlowLog,
    /// CLIENT PAUSE.
    pub(crate) pause: pause::Pause,
    /// Client-side caching (CLIENT TRACKING).
    pub(crate) tracking: crate::client::tracking::Tracking,
    me: std::sync::OnceLock<std::sync::Weak<Server>>,
}

impl Server {
    pub(crate) fn is_read_only_replica(&self) -> bool {
        self.repl.is_replica() && self.config.read().replica_read_only
    }

    pub(crate) fn self_arc(&self) -> Option<Arc<Server>> {
        self.me.get().and_then(|w| w.upgrade())
    }

    pub(crate) fn request_shutdown(&self, save: Option<bool>) {
        self.shutdown.send_replace(Some(save));
    }
}

/// Why the node could not start, or did not stop cleanly.
#[derive(Debug)]
pub enum RunError {
    /// The data directory could not be created.
    Dir(std::path::PathBuf, std::io::Error),
    /// `--rebuild-from-snapshot` refused or failed.
    Rebuild(save::RebuildError),
    /// The store could not be opened, or closed at the end.
    Store(crate::store::Error),
    /// The listening sockets could not be made.
    Bind(crate::config::BindError),
    /// The runtime refused a signal handler or lost a task.
    Runtime(String),
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunError::Dir(dir, e) => write!(f, "cannot create dir {}: {e}", dir.display()),
            RunError::Rebuild(e) => write!(f, "{e}"),
            RunError::Store(e) => write!(f, "{e}"),
            RunError::Bind(e) => write!(f, "{e}"),
            RunError::Runtime(e) => f.write_str(e),
        }
    }
}

impl std::error::Error for RunError {}

/// Opens the store, binds, and serves until SHUTDOWN or a signal.
pub async fn run(cfg: Config) -> Result<(), RunError> {
    let dir = cfg.dir.clone();
    std::fs::create_dir_all(&dir).map_err(|e| RunError::Dir(dir.clone(), e))?;
    if cfg.rebuild_from_snapshot {
        save::rebuild_from_snapshot(&cfg).map_err(RunError::Rebuild)?;
    }
    let store = Store::open(crate::store::StoreOptions {
        dir: dir.clone(),
        databases: cfg.databases,
        fsync: wal_policy(&cfg),
        segment_size: cfg.wal_segment_size,
        repair_wal: cfg.repair_wal,
        budget: crate::store::Budget::of(cfg.maxmemory),
    })
    .map_err(RunError::Store)?;
    let replid =
        crate::replication::state::load_or_create_replid(&store).map_err(RunError::Store)?;
    if matches!(
        tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()),
        Ok(tokio::runtime::RuntimeFlavor::CurrentThread)
    ) {
        store.wal.sync_on_park();
    }
    // Bind every address of `bind`, like Redis; one marked optional (`-`)
    // may fail.
    let mut listeners = Vec::new();
    for (a, optional) in cfg.bind_addresses() {
        match TcpListener::bind((a.as_str(), cfg.port)).await {
            Ok(l) => listeners.push(l),
            Err(e) if optional => tracing::debug!("could not bind optional {a}:{}: {e}", cfg.port),
            Err(error) => {
                return Err(RunError::Bind(BindError::Address {
                    addr: a,
                    port: cfg.port,
                    error,
                }))
            }
        }
    }
    if listeners.is_empty() {
        return Err(RunError::Bind(BindError::NoAddress));
    }
    let port = listeners[0]
        .local_addr()
        .map(|a| a.port())
        .unwrap_or(cfg.port);
    let disk_reads = disk_reads::DiskReads::start(store.clone());
    let srv = Arc::new(Server {
        store,
        disk_reads,
        pubsub: PubSub::default(),
        clients: Clients::default(),
        cursors: Cursors::default(),
        stats: Stats::default(),
        run_id: crate::util::random_hex40(),
        repl: crate::replication::ReplState::new(replid),
        loading: std::sync::atomic::AtomicBool::new(false),
        started: Instant::now(),
        port,
        save: save::SaveState::new(),
        shutdown: watch::channel(None).0,
        last_cron_ms: AtomicI64::new(0),
        scripts: Default::default(),
        cmdstats: cmdstats::CommandStats::new(cmdstats::slots_needed(
            crate::command::table().values(),
        )),
        errorstats: Default::default(),
        slowlog: Default::default(),
        pause: Default::default(),
        tracking: Default::default(),
        me: std::sync::OnceLock::new(),
        config: RwLock::new(cfg),
    });
    let _ = srv.me.set(Arc::downgrade(&srv));
    // Commands are timed in CPU ticks: a first rate before any runs.
    crate::util::calibrate_ticks();
    srv.apply_runtime_config();
    // Keyspace events reach subscribers through the hub; a weak handle, as
    // the store lives inside the server.
    let weak = Arc::downgrade(&srv);
    srv.store.notify.set_sink(Box::new(move |shard, ch, msg| {
        if let Some(s) = weak.upgrade() {
            let (ch, msg) = (Bytes::copy_from_slice(ch), Bytes::copy_from_slice(msg));
            if shard {
                s.pubsub.spublish(&ch, &msg);
            } else {
                s.pubsub.publish(&ch, &msg);
            }
        }
    }));
    // Changed keys reach client-side caching the same way; BCAST keys
    // are sent by a task of their own, after the requests running now (as
    // Redis sends them before it sleeps).
    srv.tracking.set_switch(srv.store.changes.switch());
    let weak = Arc::downgrade(&srv);
    srv.store.changes.set_sink(Box::new(move |c| {
        if let Some(s) = weak.upgrade() {
            let route = s.tracking_route();
            match c {
                crate::store::changes::Changed::Flushed => s.tracking.flushed(&route),
                crate::store::changes::Changed::Keys(keys, origin) => {
                    s.tracking.invalidate(keys, origin, &route)
                }
            }
        }
    }));
    tokio::spawn(bcast_flusher(srv.clone()));
    if let Some(pidfile) = srv.config.read().pidfile.clone() {
        if let Err(e) = std::fs::write(&pidfile, format!("{}\n", std::process::id())) {
            tracing::warn!("could not write pidfile {}: {e}", pidfile.display());
        }
    }
    tracing::info!(
        "Ready to accept connections tcp on port {port} (pid {}, data in {})",
        std::process::id(),
        dir.display()
    );
    crate::replication::state::load_ids(&srv);
    crate::replication::state::start_from_config(&srv);
    if !srv.store.is_follower() {
        crate::replication::state::abandon_stages(&srv);
    }
    tokio::spawn(cron::run(srv.clone()));
    let mut shutdown_rx = srv.shutdown.subscribe();
    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| RunError::Runtime(e.to_string()))?;
    let mut sigint = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
        .map_err(|e| RunError::Runtime(e.to_string()))?;
    for l in listeners {
        tokio::spawn(accept_loop(srv.clone(), l));
    }
    loop {
        let save = tokio::select! {
            _ = sigterm.recv() => { tracing::warn!("Received SIGTERM scheduling shutdown..."); None }
            _ = sigint.recv() => { tracing::warn!("Received SIGINT scheduling shutdown..."); None }
            r = shutdown_rx.changed() => {
                if r.is_err() { None } else { shutdown_rx.borrow_and_update().unwrap_or(None) }
            }
        };
        // Like Redis: a final save that fails keeps the server running.
        if final_save(&srv, save).await {
            break;
        }
        tracing::warn!(
            "Errors trying to shut down the server. Check the logs for more information."
        );
    }
    finish(&srv).await
}

async fn accept_loop(srv: Arc<Server>, listener: TcpListener) {
    loop {
        match listener.accept().await {
            Ok((sock, addr)) => {
                let max = srv.config.read().maxclients;
                srv.stats.connections.fetch_add(1, Ordering::Relaxed);
                if srv.clients.len() >= max {
                    srv.stats.rejected.fetch_add(1, Ordering::Relaxed);
                    tokio::spawn(connection::refuse(
                        sock,
                        "ERR max number of clients reached",
                    ));
                    continue;
                }
                tokio::spawn(connection::serve(srv.clone(), sock, addr));
            }
            Err(e) => {
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        }
    }
}

/// The snapshot before exit: asked for (`SHUTDOWN SAVE`), refused
/// (`NOSAVE`), or taken when save points are configured. False if it failed.
async fn final_save(srv: &Arc<Server>, save: Option<bool>) -> bool {
    let want_save = save.unwrap_or_else(|| !srv.config.read().save.is_empty());
    if !want_save {
        return true;
    }
    tracing::info!("Saving the final snapshot before exiting.");
    let s = srv.clone();
    match tokio::task::spawn_blocking(move || save::save_blocking(&s)).await {
        Ok(Ok(_)) => true,
        Ok(Err(e)) => {
            tracing::error!("Error trying to save the DB, can't exit: {e}");
            false
        }
        Err(e) => {
            tracing::error!("snapshot task failed, can't exit: {e}");
            false
        }
    }
}

/// Redis's `prepareForShutdown` after the save: the WAL synced, the write
/// buffer moved into sled, the pidfile removed.
async fn finish(srv: &Arc<Server>) -> Result<(), RunError> {
    srv.disk_reads.stop();
    let s = srv.clone();
    let r = tokio::task::spawn_blocking(move || s.store.close())
        .await
        .map_err(|e| RunError::Runtime(e.to_string()))?;
    if let Some(pidfile) = srv.config.read().pidfile.clone() {
        let _ = std::fs::remove_file(pidfile);
    }
    tracing::info!("sledis is now ready to exit, bye bye...");
    r.map_err(RunError::Store)
}

/// Sends client-side caching's BCAST invalidations gathered by the requests
/// that ran since it last woke.
async fn bcast_flusher(srv: Arc<Server>) {
    loop {
        srv.tracking.wake.notified().await;
        // Let the connections woken with it run their requests first.
        tokio::task::yield_now().await;
        srv.tracking.flush_bcast(&srv.tracking_route());
    }
}

impl Server {
    /// What client-side caching needs to deliver invalidations.
    pub(crate) fn tracking_route(&self) -> crate::client::tracking::Route<'_> {
        crate::client::tracking::Route {
            clients: &self.clients,
            pubsub: &self.pubsub,
        }
    }

    /// Pushes config values that live outside `Config` into their owners.
    pub(crate) fn apply_runtime_config(&self) {
        let cfg = self.config.read();
        self.slowlog
            .configure(cfg.slowlog_log_slower_than, cfg.slowlog_max_len);
        crate::latency::set_threshold(cfg.latency_monitor_threshold);
        self.cmdstats.set_tracking(cfg.latency_tracking);
        self.store.wal.set_policy(wal_policy(&cfg));
        self.store.wal.set_segment_size(cfg.wal_segment_size);
        let b = crate::store::Budget::of(cfg.maxmemory);
        if b.total != self.store.budget().total {
            self.store.set_budget(b);
            tracing::info!(
                "memory budget now {} bytes: write buffer {}, read cache {} (sled's cache keeps {} until a restart)",
                b.total,
                b.write_buffer(),
                b.read_cache,
                self.store.budget().engine_cache
            );
        }
        self.pubsub.hard_limit.store(
            cfg.client_output_buffer_limit.pubsub.hard as usize,
            Ordering::Relaxed,
        );
        self.store.notify.set_flags(cfg.notify_keyspace_events);
        self.tracking
            .set_max_keys(cfg.tracking_table_max_keys, &self.tracking_route());
        let num = |name: &str, default: u64| -> u64 {
            cfg.get(name)
                .first()
                .and_then(|(_, v)| v.parse::<i64>().ok())
                .map_or(default, |v| v.max(0) as u64)
        };
        let e = &self.store.encoding_limits;
        for (a, name, default) in [
            (&e.hash_entries, "hash-max-listpack-entries", 512),
            (&e.hash_value, "hash-max-listpack-value", 64),
            (&e.zset_entries, "zset-max-listpack-entries", 128),
            (&e.zset_value, "zset-max-listpack-value", 64),
            (&e.intset_entries, "set-max-intset-entries", 512),
        ] {
            a.store(num(name, default), Ordering::Relaxed);
        }
    }
}

/// Runs blocking work (SAVE) from a command: on a multi-threaded runtime the
/// other workers keep serving; on the single-threaded one the server waits,
/// as Redis does during SAVE.
pub(crate) fn blocking<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(f),
        _ => f(),
    }
}

pub(crate) fn wal_policy(cfg: &Config) -> crate::wal::FsyncPolicy {
    use crate::config::Fsync;
    match cfg.appendfsync {
        Fsync::Always => crate::wal::FsyncPolicy::Always,
        Fsync::EverySec => crate::wal::FsyncPolicy::EverySec,
        Fsync::No => crate::wal::FsyncPolicy::No,
    }
}
