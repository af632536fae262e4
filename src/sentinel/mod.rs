//! `sledis-sentinel`: Redis Sentinel's protocol and algorithm (sentinel.c)
//! on tokio. One mutex-guarded [`State`] holds every watched group; a timer
//! runs the checks ten times a second (`monitor`, `failover`), link tasks
//! carry commands to the instances and run reply callbacks under the same
//! lock (`link`), and clients talk to the sentinel over RESP (`server`,
//! `command`). What the sentinel learns is saved into its config file.

pub(crate) mod command;
pub(crate) mod config;
pub(crate) mod failover;
pub(crate) mod hello;
pub(crate) mod instance;
pub(crate) mod link;
pub(crate) mod monitor;
pub(crate) mod server;

use crate::client::pubsub::PubSub;
use crate::client::Clients;
use bytes::Bytes;
use config::{MasterConfig, SentinelConfig, StateLines};
use instance::{Addr, FailoverState, Instance, Kind, Master};
use link::{LinkEvent, LinkKind, Owner, Request};
use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::Notify;

/// Timer period; Redis runs the sentinel timer at 10 Hz too.
pub(crate) const TICK_MS: u64 = 100;
pub(crate) const PING_PERIOD: i64 = 1000;
pub(crate) const INFO_PERIOD: i64 = 10_000;
pub(crate) const ASK_PERIOD: i64 = 1000;
pub(crate) const PUBLISH_PERIOD: i64 = 2000;
pub(crate) const TILT_TRIGGER: i64 = 2000;
pub(crate) const TILT_PERIOD: i64 = 30_000;
pub(crate) const SLAVE_RECONF_TIMEOUT: i64 = 10_000;
pub(crate) const MIN_LINK_RECONNECT_PERIOD: i64 = 15_000;
pub(crate) const ELECTION_TIMEOUT: i64 = 10_000;
/// Upper bound of the random delay before a failover starts (see
/// `Master::failover_delay_until`).
pub(crate) const MAX_START_DELAY: i64 = 100;
/// Redis's SENTINEL_MAX_DESYNC: after voting for another sentinel, wait
/// this much (plus twice the failover timeout) before trying ourselves.
pub(crate) const MAX_DESYNC: i64 = 1000;

pub(crate) struct State {
    pub(crate) myid: String,
    pub(crate) current_epoch: u64,
    pub(crate) masters: BTreeMap<String, Master>,
    pub(crate) port: u16,
    pub(crate) announce_ip: Option<String>,
    pub(crate) announce_port: u16,
    pub(crate) resolve_hostnames: bool,
    pub(crate) announce_hostnames: bool,
    pub(crate) sentinel_user: Option<String>,
    pub(crate) sentinel_pass: Option<String>,
    pub(crate) loglevel: crate::config::LogLevel,
    pub(crate) tilt: bool,
    pub(crate) tilt_start: i64,
    pub(crate) previous_time: i64,
    pub(crate) next_id: u64,
    /// The state changed and must reach the config file.
    pub(crate) dirty: bool,
    /// Links waiting to be started by the timer (it holds the `Arc`).
    pub(crate) to_start: Vec<(Owner, Addr, Arc<link::Link>, LinkKind)>,
}

impl State {
    pub(crate) fn new_instance(
        &mut self,
        kind: Kind,
        name: String,
        addr: Addr,
        now: i64,
    ) -> Instance {
        self.next_id += 1;
        Instance::new(self.next_id, kind, name, addr, now)
    }

    pub(crate) fn master_from_config(&mut self, mc: &MasterConfig, now: i64) -> Master {
        let inst = self.new_instance(
            Kind::Master,
            mc.name.clone(),
            Addr::new(&mc.ip, mc.port),
            now,
        );
        let mut m = Master {
            inst,
            quorum: mc.quorum,
            down_after: mc.down_after,
            failover_timeout: mc.failover_timeout,
            parallel_syncs: mc.parallel_syncs,
            auth_pass: mc.auth_pass.clone(),
            auth_user: mc.auth_user.clone(),
            reboot_down_after: mc.reboot_down_after,
            config_epoch: mc.config_epoch,
            leader: None,
            leader_epoch: mc.leader_epoch,
            failover_epoch: 0,
            failover_state: FailoverState::None,
            failover_state_change_time: 0,
            failover_start_time: 0,
            failover_delay_until: 0,
            promoted: None,
            select_asked: 0,
            replicas: BTreeMap::new(),
            sentinels: BTreeMap::new(),
        };
        for (ip, port) in &mc.known_replicas {
            let a = Addr::new(ip, *port);
            let r = self.new_instance(Kind::Replica, a.key(), a, now);
            m.replicas.insert(r.name.clone(), r);
        }
        for (ip, port, runid) in &mc.known_sentinels {
            if runid == &self.myid {
                continue;
            }
            let mut s = self.new_instance(Kind::Sentinel, runid.clone(), Addr::new(ip, *port), now);
            s.runid = Some(runid.clone());
            m.sentinels.insert(runid.clone(), s);
        }
        m
    }

    /// The config lines that express the current state.
    pub(crate) fn state_lines(&self) -> StateLines {
        let mut s = StateLines::new();
        s.push("myid".into(), format!("sentinel myid {}", self.myid));
        for m in self.masters.values() {
            let n = &m.name_q();
            let addr = m.inst.addr.clone();
            s.push(
                format!("monitor {}", m.inst.name),
                format!(
                    "sentinel monitor {n} {} {} {}",
                    addr.ip, addr.port, m.quorum
                ),
            );
            let opt = |s: &mut StateLines, sub: &str, v: String| {
                s.push(
                    format!("{sub} {}", m.inst.name),
                    format!("sentinel {sub} {n} {v}"),
                )
            };
            if m.down_after != config::DEFAULT_DOWN_AFTER {
                opt(&mut s, "down-after-milliseconds", m.down_after.to_string());
            }
            if m.failover_timeout != config::DEFAULT_FAILOVER_TIMEOUT {
                opt(&mut s, "failover-timeout", m.failover_timeout.to_string());
            }
            if m.parallel_syncs != config::DEFAULT_PARALLEL_SYNCS {
                opt(&mut s, "parallel-syncs", m.parallel_syncs.to_string());
            }
            if m.reboot_down_after != 0 {
                opt(
                    &mut s,
                    "master-reboot-down-after-period",
                    m.reboot_down_after.to_string(),
                );
            }
            if let Some(p) = &m.auth_pass {
                opt(&mut s, "auth-pass", crate::config::quote_if_needed(p));
            }
            if let Some(u) = &m.auth_user {
                opt(&mut s, "auth-user", crate::config::quote_if_needed(u));
            }
            opt(&mut s, "config-epoch", m.config_epoch.to_string());
            opt(&mut s, "leader-epoch", m.leader_epoch.to_string());
            for r in m.replicas.values() {
                // The promoted replica is the master now, not a replica.
                if r.addr == addr {
                    continue;
                }
                opt(
                    &mut s,
                    "known-replica",
                    format!("{} {}", r.addr.ip, r.addr.port),
                );
            }
            for sen in m.sentinels.values() {
                if let Some(id) = &sen.runid {
                    opt(
                        &mut s,
                        "known-sentinel",
                        format!("{} {} {id}", sen.addr.ip, sen.addr.port),
                    );
                }
            }
        }
        s.push(
            "current-epoch".into(),
            format!("sentinel current-epoch {}", self.current_epoch),
        );
        if let Some(ip) = &self.announce_ip {
            s.push("announce-ip".into(), format!("sentinel announce-ip {ip}"));
        }
        if self.announce_port != 0 {
            s.push(
                "announce-port".into(),
                format!("sentinel announce-port {}", self.announce_port),
            );
        }
        if self.resolve_hostnames {
            s.push(
                "resolve-hostnames".into(),
                "sentinel resolve-hostnames yes".into(),
            );
        }
        if self.announce_hostnames {
            s.push(
                "announce-hostnames".into(),
                "sentinel announce-hostnames yes".into(),
            );
        }
        if let Some(u) = &self.sentinel_user {
            s.push(
                "sentinel-user".into(),
                format!("sentinel sentinel-user {u}"),
            );
        }
        if let Some(p) = &self.sentinel_pass {
            s.push(
                "sentinel-pass".into(),
                format!(
                    "sentinel sentinel-pass {}",
                    crate::config::quote_if_needed(p)
                ),
            );
        }
        s
    }
}

impl Master {
    fn name_q(&self) -> String {
        crate::config::quote_if_needed(&self.inst.name)
    }
}

#[derive(Default)]
pub(crate) struct Stats {
    pub(crate) connections: AtomicU64,
    pub(crate) commands: AtomicU64,
    pub(crate) net_input: AtomicU64,
    pub(crate) net_output: AtomicU64,
}

pub(crate) struct Sentinel {
    pub(crate) state: Mutex<State>,
    pub(crate) pubsub: PubSub,
    pub(crate) clients: Clients,
    pub(crate) config_file: PathBuf,
    /// The process's run id (INFO), distinct from the sentinel id.
    pub(crate) run_id: String,
    pub(crate) requirepass: Option<String>,
    pub(crate) started: Instant,
    pub(crate) stats: Stats,
    pub(crate) shutdown: Notify,
    /// Serialises config file writes.
    write_lock: Mutex<()>,
}

#[derive(Clone, Copy)]
pub(crate) enum Level {
    Warning,
    Notice,
}

impl Sentinel {
    /// Logs an event and publishes it on the channel named after its type,
    /// the way client libraries and tools listen for them.
    pub(crate) fn event(&self, level: Level, ty: &str, msg: &str) {
        match level {
            Level::Warning => tracing::warn!("{ty} {msg}"),
            Level::Notice => tracing::info!("{ty} {msg}"),
        }
        self.pubsub.publish(
            &Bytes::copy_from_slice(ty.as_bytes()),
            &Bytes::copy_from_slice(msg.as_bytes()),
        );
    }

    /// Writes the config file if the state changed.
    pub(crate) fn flush_config(&self) {
        let _w = self.write_lock.lock();
        let lines = {
            let mut st = self.state.lock();
            if !st.dirty {
                return;
            }
            st.dirty = false;
            st.state_lines()
        };
        match config::rewrite(&self.config_file, &lines) {
            Ok(()) => tracing::info!("Sentinel new configuration saved on disk"),
            Err(e) => {
                tracing::warn!(
                    "WARNING: Sentinel was not able to save the new configuration on disk!!!: {e}"
                );
                self.state.lock().dirty = true;
            }
        }
    }
}

/// `%@` in Redis's event formats: how an instance is named in events.
pub(crate) fn describe(m: &Master, inst: Option<&Instance>) -> String {
    match inst {
        None => format!(
            "master {} {} {}",
            m.inst.name, m.inst.addr.ip, m.inst.addr.port
        ),
        Some(i) => format!(
            "{} {} {} {} @ {} {} {}",
            i.kind.name(),
            i.name,
            i.addr.ip,
            i.addr.port,
            m.inst.name,
            m.inst.addr.ip,
            m.inst.addr.port
        ),
    }
}

pub(crate) fn random_hex_id() -> String {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    (0..40)
        .map(|_| char::from_digit(rng.gen_range(0..16), 16).unwrap_or('0'))
        .collect()
}

/// Called by a link task when it connects (returns the first commands to
/// send, or None if the instance is gone) or loses its connection.
pub(crate) fn on_link_event(
    sen: &Sentinel,
    owner: &Owner,
    kind: LinkKind,
    ev: LinkEvent,
) -> Option<Vec<Request>> {
    let now = crate::util::now_ms();
    let mut st = sen.state.lock();
    let myid = st.myid.clone();
    let (sentinel_user, sentinel_pass) = (st.sentinel_user.clone(), st.sentinel_pass.clone());
    let m = st.masters.get_mut(&owner.master)?;
    let (auth_user, auth_pass) = (m.auth_user.clone(), m.auth_pass.clone());
    let inst = m.find_mut(owner.id)?;
    let (user, pass) = if inst.kind == Kind::Sentinel {
        (sentinel_user, sentinel_pass)
    } else {
        (auth_user, auth_pass)
    };
    match ev {
        LinkEvent::Up => {
            let mut first = Vec::new();
            if let Some(pass) = &pass {
                let args: Vec<&str> = match &user {
                    Some(u) => vec!["AUTH", u, pass],
                    None => vec!["AUTH", pass],
                };
                first.push(Request::new(&args, None));
            }
            let short = &myid[..8];
            match kind {
                LinkKind::Command => {
                    inst.link_up = true;
                    inst.link_up_since = now;
                    inst.info_pending = false;
                    let name = format!("sentinel-{short}-cmd");
                    if inst.kind != Kind::Sentinel {
                        first.push(Request::new(&["CLIENT", "SETNAME", &name], None));
                    }
                    // PING at once: the pong starts the availability clock.
                    if inst.act_ping_time == 0 {
                        inst.act_ping_time = now;
                    }
                    inst.last_ping_time = now;
                    first.push(Request::new(
                        &["PING"],
                        Some(monitor::ping_callback(owner.clone())),
                    ));
                }
                LinkKind::Hello => {
                    let name = format!("sentinel-{short}-pubsub");
                    first.push(Request::new(&["CLIENT", "SETNAME", &name], None));
                    first.push(Request::new(&["SUBSCRIBE", hello::CHANNEL], None));
                }
            }
            Some(first)
        }
        LinkEvent::Down => {
            if kind == LinkKind::Command {
                if inst.link_up {
                    tracing::debug!("link to {} {} lost", inst.kind.name(), inst.addr.key());
                }
                inst.link_up = false;
                if inst.act_ping_time == 0 {
                    inst.act_ping_time = now;
                }
            }
            Some(Vec::new())
        }
    }
}

/// Starts the link tasks the state asked for.
fn start_links(sen: &Arc<Sentinel>) {
    let todo = std::mem::take(&mut sen.state.lock().to_start);
    for (owner, addr, l, kind) in todo {
        link::start(sen, owner, addr.ip, addr.port, &l, kind);
    }
}

async fn timer(sen: Arc<Sentinel>) {
    loop {
        // A little jitter, like Redis's changing hz, so sentinels started
        // together do not act in lock step.
        let jitter = rand::random::<u64>() % 20;
        tokio::time::sleep(std::time::Duration::from_millis(TICK_MS - 10 + jitter)).await;
        monitor::tick(&sen);
        start_links(&sen);
        sen.flush_config();
    }
}

/// Builds the sentinel from its config and runs it until SHUTDOWN.
pub(crate) async fn run(cfg: SentinelConfig) -> Result<(), String> {
    let now = crate::util::now_ms();
    let file = cfg
        .file
        .clone()
        .ok_or("Sentinel needs config file on disk to save state. Exiting...")?;
    let myid = cfg.myid.clone().unwrap_or_else(random_hex_id);
    let mut st = State {
        myid: myid.clone(),
        current_epoch: cfg.current_epoch,
        masters: BTreeMap::new(),
        port: cfg.port,
        announce_ip: cfg.announce_ip.clone(),
        announce_port: cfg.announce_port,
        resolve_hostnames: cfg.resolve_hostnames,
        announce_hostnames: cfg.announce_hostnames,
        sentinel_user: cfg.sentinel_user.clone(),
        sentinel_pass: cfg.sentinel_pass.clone(),
        loglevel: cfg.loglevel,
        tilt: false,
        tilt_start: 0,
        previous_time: now,
        next_id: 0,
        dirty: true,
        to_start: Vec::new(),
    };
    for mc in &cfg.masters {
        let m = st.master_from_config(mc, now);
        st.masters.insert(mc.name.clone(), m);
    }
    let sen = Arc::new(Sentinel {
        state: Mutex::new(st),
        pubsub: PubSub::default(),
        clients: Clients::default(),
        config_file: file,
        run_id: random_hex_id(),
        requirepass: cfg.requirepass.clone(),
        started: Instant::now(),
        stats: Stats::default(),
        shutdown: Notify::new(),
        write_lock: Mutex::new(()),
    });
    sen.pubsub
        .hard_limit
        .store(32 * 1024 * 1024, Ordering::Relaxed);
    let listeners = server::bind(&cfg).await?;
    tracing::info!(
        "Running mode=sentinel, port={} (pid {}, {} listening)",
        cfg.port,
        std::process::id(),
        listeners.len()
    );
    sen.flush_config();
    tracing::warn!("Sentinel ID is {myid}");
    {
        let st = sen.state.lock();
        for m in st.masters.values() {
            sen.event(
                Level::Warning,
                "+monitor",
                &format!("{} quorum {}", describe(m, None), m.quorum),
            );
        }
    }
    if let Some(p) = &cfg.pidfile {
        if let Err(e) = std::fs::write(p, format!("{}\n", std::process::id())) {
            tracing::warn!("cannot write pidfile {}: {e}", p.display());
        }
    }
    tokio::spawn(timer(sen.clone()));
    for l in listeners {
        tokio::spawn(server::accept_loop(sen.clone(), l));
    }
    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| e.to_string())?;
    let mut sigint = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
        .map_err(|e| e.to_string())?;
    tokio::select! {
        _ = sigterm.recv() => tracing::warn!("Received SIGTERM scheduling shutdown..."),
        _ = sigint.recv() => tracing::warn!("Received SIGINT scheduling shutdown..."),
        _ = sen.shutdown.notified() => tracing::warn!("User requested shutdown..."),
    }
    sen.flush_config();
    if let Some(p) = &cfg.pidfile {
        let _ = std::fs::remove_file(p);
    }
    tracing::warn!("Sentinel is now ready to exit, bye bye...");
    Ok(())
}

/// Entry point of `sledis-sentinel` and `sledis-server --sentinel`.
pub fn main(args: Vec<String>) -> ExitCode {
    let cfg = match SentinelConfig::from_args(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = crate::logging::init(cfg.loglevel.filter_directive(), cfg.logfile.as_deref()) {
        eprintln!("{e}");
        return ExitCode::FAILURE;
    }
    for n in &cfg.notes {
        tracing::info!("config: {n}");
    }
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cfg)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            ExitCode::FAILURE
        }
    }
}
