//! Commands a sentinel answers (Redis 7.0's sentinel command table): PING,
//! AUTH, HELLO, CLIENT, COMMAND, INFO, ROLE, SHUTDOWN, the pub/sub family,
//! PUBLISH (hello messages only) and SENTINEL with its subcommands. Their
//! rows are the node's (`command::table`, flagged `SENTINEL` or
//! `ONLY_SENTINEL`), as Redis keeps one table; the implementations here.

use super::config::MasterConfig;
use super::instance::{flag, Instance, Kind, Master};
use super::{describe, failover, hello, Level, Sentinel, State};
use crate::client::commands::{self, Conn};
use crate::client::pubsub::Subscriptions;
use crate::client::pubsub::{PubMsg, Subscriber};
use crate::client::ClientInfo;
use crate::glob::glob_match;
use crate::resp::Out;
use bytes::Bytes;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tokio::sync::mpsc;

pub(crate) struct SClient {
    pub info: Arc<ClientInfo>,
    pub authed: bool,
    pub resp3: bool,
    pub subs: Subscriptions,
    pub push: mpsc::UnboundedSender<PubMsg>,
}

impl SClient {
    pub(crate) fn new(
        info: Arc<ClientInfo>,
        push: mpsc::UnboundedSender<PubMsg>,
        authed: bool,
    ) -> Self {
        SClient {
            info,
            authed,
            resp3: false,
            subs: Subscriptions::default(),
            push,
        }
    }

    fn subscribed(&self) -> bool {
        !self.subs.is_empty()
    }

    /// The shared connection commands' view of this connection.
    fn conn<'a>(&'a mut self, sen: &'a Sentinel) -> Conn<'a> {
        Conn {
            info: &self.info,
            authed: &mut self.authed,
            clients: &sen.clients,
            password: sen.requirepass.clone(),
            now: crate::util::now_ms(),
        }
    }
}

pub(crate) enum After {
    Continue,
    Close,
    Shutdown,
}

type Handler = fn(&Arc<Sentinel>, &mut SClient, &mut Out, &[Bytes]) -> After;

/// The sentinel's implementation of a command of the shared table
/// (`command::sentinel_lookup`: the rows flagged `SENTINEL` or
/// `ONLY_SENTINEL`, which give the name, arity and flags).
fn implementation(name: &str) -> Option<Handler> {
    Some(match name {
        "ping" => ping,
        "auth" => auth,
        "hello" => hello_cmd,
        "client" => client,
        "command" => command,
        "info" => info,
        "role" => role,
        "shutdown" => shutdown,
        "subscribe" => subscribe,
        "unsubscribe" => unsubscribe,
        "psubscribe" => psubscribe,
        "punsubscribe" => punsubscribe,
        "publish" => publish,
        "sentinel" => sentinel,
        _ => return None,
    })
}

fn lower(a: &[u8]) -> String {
    String::from_utf8_lossy(a).to_ascii_lowercase()
}

fn text(a: &[u8]) -> String {
    String::from_utf8_lossy(a).into_owned()
}

fn arity_ok(arity: i32, n: usize) -> bool {
    if arity >= 0 {
        n == arity as usize
    } else {
        n >= (-arity) as usize
    }
}

pub(crate) fn dispatch(
    sen: &Arc<Sentinel>,
    c: &mut SClient,
    out: &mut Out,
    args: &[Bytes],
) -> After {
    let name = lower(&args[0]);
    c.info
        .note_command("sentinel-client", crate::util::now_ms());
    if name == "quit" {
        out.ok();
        return After::Close;
    }
    let row = crate::command::sentinel_lookup(&args[0]);
    let Some((row, handler)) = row.and_then(|r| Some((r, implementation(r.name)?))) else {
        out.error(&crate::command::unknown_command_error(args));
        return After::Continue;
    };
    if !arity_ok(row.arity, args.len()) {
        out.error(&format!(
            "ERR wrong number of arguments for '{name}' command"
        ));
        return After::Continue;
    }
    if !c.authed && row.flags & crate::command::flags::NOAUTH == 0 {
        out.error("NOAUTH Authentication required.");
        return After::Continue;
    }
    if c.subscribed() && !c.resp3 && !crate::command::SUBSCRIBED_OK.contains(&row.name) {
        out.error(&format!(
            "ERR Can't execute '{name}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"
        ));
        return After::Continue;
    }
    handler(sen, c, out, args)
}

fn ping(_s: &Arc<Sentinel>, c: &mut SClient, out: &mut Out, a: &[Bytes]) -> After {
    commands::ping(c.subscribed(), out, a);
    After::Continue
}

fn auth(sen: &Arc<Sentinel>, c: &mut SClient, out: &mut Out, a: &[Bytes]) -> After {
    commands::auth(&mut c.conn(sen), out, a);
    After::Continue
}

fn hello_cmd(sen: &Arc<Sentinel>, c: &mut SClient, out: &mut Out, a: &[Bytes]) -> After {
    out.resp3 = c.resp3;
    commands::hello(&mut c.conn(sen), out, a, "sentinel", "sentinel");
    c.resp3 = out.resp3;
    After::Continue
}

fn client(sen: &Arc<Sentinel>, c: &mut SClient, out: &mut Out, a: &[Bytes]) -> After {
    match commands::client(&mut c.conn(sen), out, a) {
        Some(commands::After::Close) => After::Close,
        Some(commands::After::Continue) => After::Continue,
        None => {
            commands::unknown_client_subcommand(out, a);
            After::Continue
        }
    }
}

fn command(_s: &Arc<Sentinel>, _c: &mut SClient, out: &mut Out, a: &[Bytes]) -> After {
    let mut rows: Vec<_> = crate::command::sentinel_commands().collect();
    rows.sort_by_key(|c| c.name);
    let sub = a.get(1).map(|s| lower(s));
    match sub.as_deref() {
        None => {
            out.array(rows.len());
            for c in rows {
                crate::command::docs::write_own_info(out, c);
            }
        }
        Some("count") => out.int(rows.len() as i64),
        Some("docs") => {
            if a.len() > 2 {
                rows.retain(|c| a[2..].iter().any(|n| lower(n) == c.name));
            }
            out.map(rows.len());
            for c in rows {
                crate::command::docs::write_docs(out, c);
            }
        }
        _ => out.error(&format!(
            "ERR unknown subcommand '{}'. Try COMMAND HELP.",
            text(&a[1])
        )),
    }
    After::Continue
}

fn role(sen: &Arc<Sentinel>, _c: &mut SClient, out: &mut Out, _a: &[Bytes]) -> After {
    let st = sen.state.lock();
    out.array(2);
    out.bulk(b"sentinel");
    out.array(st.masters.len());
    for n in st.masters.keys() {
        out.bulk(n.as_bytes());
    }
    After::Continue
}

fn shutdown(_s: &Arc<Sentinel>, _c: &mut SClient, out: &mut Out, a: &[Bytes]) -> After {
    for x in &a[1..] {
        if !matches!(lower(x).as_str(), "nosave" | "save" | "now" | "force") {
            out.error("ERR syntax error");
            return After::Continue;
        }
    }
    After::Shutdown
}

fn info(sen: &Arc<Sentinel>, _c: &mut SClient, out: &mut Out, a: &[Bytes]) -> After {
    let wanted: Vec<String> = a[1..].iter().map(|s| lower(s)).collect();
    let all = wanted.is_empty()
        || wanted
            .iter()
            .any(|w| w == "all" || w == "everything" || w == "default");
    let want = |s: &str| all || wanted.iter().any(|w| w == s);
    let mut s = String::new();
    if want("server") {
        s.push_str(&format!(
            "# Server\r\nredis_version:{}\r\nsledis_version:{}\r\nredis_mode:sentinel\r\nos:{}\r\narch_bits:64\r\n\
             process_id:{}\r\nrun_id:{}\r\ntcp_port:{}\r\nuptime_in_seconds:{}\r\nuptime_in_days:{}\r\n\
             hz:10\r\nconfigured_hz:10\r\nexecutable:{}\r\nconfig_file:{}\r\n\r\n",
            crate::REDIS_VERSION,
            env!("CARGO_PKG_VERSION"),
            std::env::consts::OS,
            std::process::id(),
            sen.run_id,
            sen.state.lock().port,
            sen.started.elapsed().as_secs(),
            sen.started.elapsed().as_secs() / 86400,
            std::env::current_exe()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            sen.config_file.display()
        ));
    }
    if want("clients") {
        s.push_str(&format!(
            "# Clients\r\nconnected_clients:{}\r\n\r\n",
            sen.clients.len()
        ));
    }
    if want("stats") {
        s.push_str(&format!(
            "# Stats\r\ntotal_connections_received:{}\r\ntotal_commands_processed:{}\r\n\
             total_net_input_bytes:{}\r\ntotal_net_output_bytes:{}\r\npubsub_channels:{}\r\npubsub_patterns:{}\r\n\r\n",
            sen.stats.connections.load(Ordering::Relaxed),
            sen.stats.commands.load(Ordering::Relaxed),
            sen.stats.net_input.load(Ordering::Relaxed),
            sen.stats.net_output.load(Ordering::Relaxed),
            sen.pubsub.channels(None).len(),
            sen.pubsub.numpat(),
        ));
    }
    if want("sentinel") {
        let st = sen.state.lock();
        let tilt_since = if st.tilt {
            (crate::util::now_ms() - st.tilt_start) / 1000
        } else {
            -1
        };
        s.push_str(&format!(
            "# Sentinel\r\nsentinel_masters:{}\r\nsentinel_tilt:{}\r\nsentinel_tilt_since_seconds:{}\r\n\
             sentinel_running_scripts:0\r\nsentinel_scripts_queue_length:0\r\nsentinel_simulate_failure_flags:0\r\n",
            st.masters.len(),
            st.tilt as u8,
            tilt_since
        ));
        for (i, m) in st.masters.values().enumerate() {
            let status = if m.inst.has(flag::O_DOWN) {
                "odown"
            } else if m.inst.has(flag::S_DOWN) {
                "sdown"
            } else {
                "ok"
            };
            s.push_str(&format!(
                "master{i}:name={},status={status},address={}:{},slaves={},sentinels={}\r\n",
                m.inst.name,
                m.inst.addr.ip,
                m.inst.addr.port,
                m.replicas.len(),
                m.sentinels.len() + 1
            ));
        }
    }
    let s = s.trim_end_matches("\r\n").to_string() + "\r\n";
    out.verbatim(&s);
    After::Continue
}

fn subscriber(c: &SClient) -> Subscriber {
    Subscriber {
        info: c.info.clone(),
        tx: c.push.clone(),
    }
}

fn subscribe(sen: &Arc<Sentinel>, c: &mut SClient, out: &mut Out, a: &[Bytes]) -> After {
    let me = subscriber(c);
    c.subs.subscribe(&sen.pubsub, &me, out, &a[1..], false);
    After::Continue
}

fn psubscribe(sen: &Arc<Sentinel>, c: &mut SClient, out: &mut Out, a: &[Bytes]) -> After {
    let me = subscriber(c);
    c.subs.subscribe(&sen.pubsub, &me, out, &a[1..], true);
    After::Continue
}

fn unsubscribe(sen: &Arc<Sentinel>, c: &mut SClient, out: &mut Out, a: &[Bytes]) -> After {
    c.subs
        .unsubscribe(&sen.pubsub, &c.info, out, &a[1..], false);
    After::Continue
}

fn punsubscribe(sen: &Arc<Sentinel>, c: &mut SClient, out: &mut Out, a: &[Bytes]) -> After {
    c.subs.unsubscribe(&sen.pubsub, &c.info, out, &a[1..], true);
    After::Continue
}

pub(crate) fn unsubscribe_all(sen: &Sentinel, c: &mut SClient) {
    c.subs.clear(&sen.pubsub, &c.info);
}

/// Another sentinel may PUBLISH its hello straight to us.
fn publish(sen: &Arc<Sentinel>, _c: &mut SClient, out: &mut Out, a: &[Bytes]) -> After {
    if &a[1][..] != hello::CHANNEL.as_bytes() {
        out.error("ERR Only HELLO messages are accepted by Sentinel instances.");
        return After::Continue;
    }
    let payload = text(&a[2]);
    let mut st = sen.state.lock();
    hello::process(sen, &mut st, &payload);
    out.int(1);
    After::Continue
}

// ---- SENTINEL ----

fn no_such_master(out: &mut Out) {
    out.error("ERR No such master with that name");
}

fn sub_arity(out: &mut Out, sub: &str) {
    out.error(&format!(
        "ERR wrong number of arguments for 'sentinel|{sub}' command"
    ));
}

fn sentinel(sen: &Arc<Sentinel>, _c: &mut SClient, out: &mut Out, a: &[Bytes]) -> After {
    let sub = lower(&a[1]);
    let n = a.len();
    // (minimum, maximum) argument counts, Redis's subcommand arities.
    let arity: Option<(usize, usize)> = match sub.as_str() {
        "masters" | "myid" | "flushconfig" | "pending-scripts" | "help" => Some((2, 2)),
        "master"
        | "replicas"
        | "slaves"
        | "sentinels"
        | "get-master-addr-by-name"
        | "failover"
        | "ckquorum"
        | "reset"
        | "remove" => Some((3, 3)),
        "is-master-down-by-addr" => Some((6, 6)),
        "monitor" => Some((6, 6)),
        "set" => Some((5, usize::MAX)),
        "config" => Some((4, usize::MAX)),
        "info-cache" => Some((3, usize::MAX)),
        _ => None,
    };
    let Some((min, max)) = arity else {
        out.error(&format!(
            "ERR unknown subcommand '{}'. Try SENTINEL HELP.",
            text(&a[1])
        ));
        return After::Continue;
    };
    if n < min || n > max {
        sub_arity(out, &sub);
        return After::Continue;
    }
    let now = crate::util::now_ms();
    match sub.as_str() {
        "masters" => {
            let st = sen.state.lock();
            out.array(st.masters.len());
            for m in st.masters.values() {
                reply_instance(out, m, &m.inst, now);
            }
        }
        "master" => {
            let st = sen.state.lock();
            match st.masters.get(&text(&a[2])) {
                Some(m) => reply_instance(out, m, &m.inst, now),
                None => no_such_master(out),
            }
        }
        "replicas" | "slaves" => {
            let st = sen.state.lock();
            match st.masters.get(&text(&a[2])) {
                Some(m) => {
                    out.array(m.replicas.len());
                    for r in m.replicas.values() {
                        reply_instance(out, m, r, now);
                    }
                }
                None => no_such_master(out),
            }
        }
        "sentinels" => {
            let st = sen.state.lock();
            match st.masters.get(&text(&a[2])) {
                Some(m) => {
                    out.array(m.sentinels.len());
                    for s in m.sentinels.values() {
                        reply_instance(out, m, s, now);
                    }
                }
                None => no_such_master(out),
            }
        }
        "get-master-addr-by-name" => {
            let st = sen.state.lock();
            match st.masters.get(&text(&a[2])) {
                Some(m) => {
                    let addr = m.current_addr();
                    out.array(2);
                    out.bulk(addr.ip.as_bytes());
                    out.bulk(addr.port.to_string().as_bytes());
                }
                None => out.null_array(),
            }
        }
        "is-master-down-by-addr" => is_master_down_by_addr(sen, out, a, now),
        "failover" => {
            let name = text(&a[2]);
            let mut st = sen.state.lock();
            let Some(m) = st.masters.get(&name) else {
                no_such_master(out);
                return After::Continue;
            };
            if m.inst.has(flag::FAILOVER_IN_PROGRESS) {
                out.error("INPROG Failover already in progress");
                return After::Continue;
            }
            if failover::best_replica(m, now, None).is_none() {
                out.error("NOGOODSLAVE No suitable replica to promote");
                return After::Continue;
            }
            tracing::warn!("Executing user requested FAILOVER of '{name}'");
            failover::start(sen, &mut st, &name, now);
            if let Some(m) = st.masters.get_mut(&name) {
                m.inst.flags |= flag::FORCE_FAILOVER;
            }
            out.ok();
        }
        "ckquorum" => {
            let st = sen.state.lock();
            let Some(m) = st.masters.get(&text(&a[2])) else {
                no_such_master(out);
                return After::Continue;
            };
            let voters = m.sentinels.len() + 1;
            let usable = 1 + m
                .sentinels
                .values()
                .filter(|s| !s.has(flag::S_DOWN | flag::O_DOWN))
                .count();
            if usable < m.quorum as usize {
                out.error(&format!("NOQUORUM {usable} usable Sentinels. Not enough available Sentinels to reach the specified quorum for this master"));
            } else if usable < voters / 2 + 1 {
                out.error(&format!("NOQUORUM {usable} usable Sentinels. Not enough available Sentinels to reach the majority and authorize a failover"));
            } else {
                out.simple(&format!(
                    "OK {usable} usable Sentinels. Quorum and failover authorization can be reached"
                ));
            }
        }
        "reset" => {
            let pattern = a[2].clone();
            let mut st = sen.state.lock();
            let names: Vec<String> = st
                .masters
                .keys()
                .filter(|n| glob_match(&pattern, n.as_bytes(), false))
                .cloned()
                .collect();
            for name in &names {
                reset_master(sen, &mut st, name, now);
            }
            st.dirty = true;
            drop(st);
            sen.flush_config();
            out.int(names.len() as i64);
        }
        "monitor" => monitor_cmd(sen, out, a, now),
        "remove" => {
            let name = text(&a[2]);
            let mut st = sen.state.lock();
            match st.masters.remove(&name) {
                Some(m) => {
                    sen.event(Level::Warning, "-monitor", &describe(&m, None));
                    m.close_all_links();
                    st.dirty = true;
                    drop(st);
                    sen.flush_config();
                    out.ok();
                }
                None => no_such_master(out),
            }
        }
        "set" => set_cmd(sen, out, a),
        "myid" => out.bulk(sen.state.lock().myid.as_bytes()),
        "flushconfig" => {
            sen.state.lock().dirty = true;
            sen.flush_config();
            out.ok();
        }
        "pending-scripts" => out.array(0),
        "info-cache" => {
            let st = sen.state.lock();
            let names: Vec<String> = a[2..].iter().map(|x| text(x)).collect();
            let ms: Vec<&Master> = st
                .masters
                .values()
                .filter(|m| names.contains(&m.inst.name))
                .collect();
            out.array(ms.len() * 2);
            for m in ms {
                out.bulk(m.inst.name.as_bytes());
                let all: Vec<&Instance> = std::iter::once(&m.inst)
                    .chain(m.replicas.values())
                    .collect();
                out.array(all.len());
                for i in all {
                    out.array(2);
                    out.int(if i.info_refresh == 0 {
                        0
                    } else {
                        now - i.info_refresh
                    });
                    if i.info.is_empty() {
                        out.null();
                    } else {
                        out.bulk(i.info.as_bytes());
                    }
                }
            }
        }
        "config" => config_cmd(sen, out, a),
        "help" => {
            let lines = [
                "SENTINEL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "CKQUORUM <master-name>",
                "CONFIG SET <param> <value> / CONFIG GET <param>",
                "FAILOVER <master-name>",
                "FLUSHCONFIG",
                "GET-MASTER-ADDR-BY-NAME <master-name>",
                "INFO-CACHE <master-name> [<master-name> ...]",
                "IS-MASTER-DOWN-BY-ADDR <ip> <port> <current-epoch> <runid>",
                "MASTER <master-name>",
                "MASTERS",
                "MONITOR <name> <ip> <port> <quorum>",
                "MYID",
                "PENDING-SCRIPTS",
                "REMOVE <master-name>",
                "REPLICAS <master-name>",
                "RESET <pattern>",
                "SENTINELS <master-name>",
                "SET <master-name> <option> <value> [<option> <value> ...]",
                "HELP",
            ];
            out.help(&lines);
        }
        _ => unreachable!("arity table and match list the same subcommands"),
    }
    After::Continue
}

fn is_master_down_by_addr(sen: &Arc<Sentinel>, out: &mut Out, a: &[Bytes], now: i64) {
    let ip = text(&a[2]);
    let Ok(port) = text(&a[3]).parse::<u16>() else {
        out.error("ERR value is not an integer or out of range");
        return;
    };
    let Ok(epoch) = text(&a[4]).parse::<u64>() else {
        out.error("ERR value is not an integer or out of range");
        return;
    };
    let runid = text(&a[5]);
    let mut st = sen.state.lock();
    let tilt = st.tilt;
    let name = st
        .masters
        .values()
        .find(|m| m.inst.addr.ip == ip && m.inst.addr.port == port)
        .map(|m| m.inst.name.clone());
    let mut down = 0;
    let mut leader: Option<String> = None;
    let mut leader_epoch = 0;
    if let Some(name) = name {
        if let Some(m) = st.masters.get(&name) {
            if !tilt && m.inst.has(flag::S_DOWN) {
                down = 1;
            }
        }
        if runid != "*" {
            let (l, e) = failover::vote(sen, &mut st, &name, epoch, &runid, now);
            leader = l;
            leader_epoch = e;
        }
    }
    drop(st);
    sen.flush_config();
    out.array(3);
    out.int(down);
    out.bulk(leader.as_deref().unwrap_or("*").as_bytes());
    out.int(leader_epoch as i64);
}

fn monitor_cmd(sen: &Arc<Sentinel>, out: &mut Out, a: &[Bytes], now: i64) {
    let name = text(&a[2]);
    let ip = text(&a[3]);
    let Some(port) = text(&a[4]).parse::<u16>().ok().filter(|p| *p > 0) else {
        out.error("ERR Invalid port");
        return;
    };
    let Some(quorum) = text(&a[5]).parse::<u32>().ok().filter(|q| *q > 0) else {
        out.error("ERR Quorum must be 1 or greater.");
        return;
    };
    if ip.parse::<std::net::IpAddr>().is_err() {
        out.error("ERR Invalid IP address or hostname specified");
        return;
    }
    let mut st = sen.state.lock();
    if st.masters.contains_key(&name) {
        out.error("ERR Duplicate master name.");
        return;
    }
    let mc = MasterConfig::new(&name, &ip, port, quorum);
    let m = st.master_from_config(&mc, now);
    sen.event(
        Level::Warning,
        "+monitor",
        &format!("{} quorum {quorum}", describe(&m, None)),
    );
    st.masters.insert(name, m);
    st.dirty = true;
    drop(st);
    sen.flush_config();
    out.ok();
}

fn set_cmd(sen: &Arc<Sentinel>, out: &mut Out, a: &[Bytes]) {
    let name = text(&a[2]);
    let mut st = sen.state.lock();
    let Some(m) = st.masters.get_mut(&name) else {
        no_such_master(out);
        return;
    };
    if !(a.len() - 3).is_multiple_of(2) {
        let opt = text(&a[a.len() - 1]);
        out.error(&format!(
            "ERR Unknown option or number of arguments for SENTINEL SET '{opt}'"
        ));
        return;
    }
    // Validate everything first: a SET applies all its options or none.
    let mut changes: Vec<(String, String)> = Vec::new();
    for p in a[3..].chunks(2) {
        let opt = lower(&p[0]);
        let val = text(&p[1]);
        let positive = || val.parse::<i64>().ok().filter(|v| *v > 0);
        let ok = match opt.as_str() {
            "down-after-milliseconds" | "failover-timeout" | "parallel-syncs" | "quorum" => {
                positive().is_some()
            }
            "master-reboot-down-after-period" => val.parse::<i64>().is_ok_and(|v| v >= 0),
            "auth-pass" | "auth-user" => true,
            "notification-script" | "client-reconfig-script" => {
                out.error("ERR Reconfiguration of scripts path is denied for security reasons. Check the deny-scripts-reconfig configuration directive in your config file.");
                return;
            }
            _ => {
                out.error(&format!(
                    "ERR Unknown option or number of arguments for SENTINEL SET '{}'",
                    text(&p[0])
                ));
                return;
            }
        };
        if !ok {
            out.error(&format!(
                "ERR Invalid argument '{val}' for SENTINEL SET '{}'",
                text(&p[0])
            ));
            return;
        }
        changes.push((opt, val));
    }
    for (opt, val) in &changes {
        let num = val.parse::<i64>().unwrap_or(0);
        match opt.as_str() {
            "down-after-milliseconds" => m.down_after = num,
            "failover-timeout" => m.failover_timeout = num,
            "parallel-syncs" => m.parallel_syncs = num,
            "quorum" => m.quorum = num as u32,
            "master-reboot-down-after-period" => m.reboot_down_after = num,
            "auth-pass" => m.auth_pass = (!val.is_empty()).then(|| val.clone()),
            "auth-user" => m.auth_user = (!val.is_empty()).then(|| val.clone()),
            _ => {}
        }
        let shown = if opt == "auth-pass" {
            "******"
        } else {
            val.as_str()
        };
        sen.event(
            Level::Warning,
            "+set",
            &format!("{} {opt} {shown}", describe(m, None)),
        );
    }
    st.dirty = true;
    drop(st);
    sen.flush_config();
    out.ok();
}

fn config_cmd(sen: &Arc<Sentinel>, out: &mut Out, a: &[Bytes]) {
    let op = lower(&a[2]);
    let mut st = sen.state.lock();
    let current = |st: &State| -> Vec<(&'static str, String)> {
        vec![
            ("resolve-hostnames", yes_no(st.resolve_hostnames)),
            ("announce-hostnames", yes_no(st.announce_hostnames)),
            ("announce-ip", st.announce_ip.clone().unwrap_or_default()),
            ("announce-port", st.announce_port.to_string()),
            (
                "sentinel-user",
                st.sentinel_user.clone().unwrap_or_default(),
            ),
            (
                "sentinel-pass",
                st.sentinel_pass.clone().unwrap_or_default(),
            ),
            ("loglevel", st.loglevel.name().to_string()),
        ]
    };
    if op == "get" && a.len() == 4 {
        let pat = &a[3];
        let items: Vec<(&str, String)> = current(&st)
            .into_iter()
            .filter(|(k, _)| glob_match(pat, k.as_bytes(), true))
            .collect();
        out.map(items.len());
        for (k, v) in items {
            out.bulk(k.as_bytes());
            out.bulk(v.as_bytes());
        }
        return;
    }
    if op == "set" && a.len() == 5 {
        let opt = lower(&a[3]);
        let val = text(&a[4]);
        let bad = |out: &mut Out| {
            out.error(&format!(
                "ERR Invalid value '{val}' to SENTINEL CONFIG SET '{}'",
                text(&a[3])
            ))
        };
        match opt.as_str() {
            "resolve-hostnames" | "announce-hostnames" => {
                let Ok(b) = crate::config::parse_yes_no(&val) else {
                    return bad(out);
                };
                if opt == "resolve-hostnames" {
                    st.resolve_hostnames = b;
                } else {
                    st.announce_hostnames = b;
                }
            }
            "announce-ip" => st.announce_ip = (!val.is_empty()).then(|| val.clone()),
            "announce-port" => match val.parse::<u16>() {
                Ok(p) => st.announce_port = p,
                Err(_) => return bad(out),
            },
            "sentinel-user" => st.sentinel_user = (!val.is_empty()).then(|| val.clone()),
            "sentinel-pass" => st.sentinel_pass = (!val.is_empty()).then(|| val.clone()),
            _ => {
                out.error(&format!(
                    "ERR Invalid argument '{}' to SENTINEL CONFIG SET",
                    text(&a[3])
                ));
                return;
            }
        }
        st.dirty = true;
        drop(st);
        sen.flush_config();
        out.ok();
        return;
    }
    out.error("ERR Only SENTINEL CONFIG GET <option> / SET <option> <value> are supported.");
}

fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.to_string()
}

/// Redis's `sentinelResetMaster` with an event: forget replicas, sentinels
/// and failover state; they are rediscovered through INFO and hellos.
fn reset_master(sen: &Sentinel, st: &mut State, name: &str, now: i64) {
    let Some(old) = st.masters.remove(name) else {
        return;
    };
    old.close_all_links();
    let mut mc = MasterConfig::new(
        &old.inst.name,
        &old.inst.addr.ip,
        old.inst.addr.port,
        old.quorum,
    );
    mc.down_after = old.down_after;
    mc.failover_timeout = old.failover_timeout;
    mc.parallel_syncs = old.parallel_syncs;
    mc.auth_pass = old.auth_pass.clone();
    mc.auth_user = old.auth_user.clone();
    mc.reboot_down_after = old.reboot_down_after;
    mc.config_epoch = old.config_epoch;
    mc.leader_epoch = old.leader_epoch;
    let m = st.master_from_config(&mc, now);
    sen.event(Level::Warning, "+reset-master", &describe(&m, None));
    st.masters.insert(name.to_string(), m);
}

/// One instance as SENTINEL MASTER / REPLICAS / SENTINELS show it: Redis's
/// field names and order, every value a string.
fn reply_instance(out: &mut Out, m: &Master, i: &Instance, now: i64) {
    let mut f: Vec<(&str, String)> = vec![
        ("name", i.name.clone()),
        ("ip", i.addr.ip.clone()),
        ("port", i.addr.port.to_string()),
        ("runid", i.runid.clone().unwrap_or_default()),
        ("flags", i.flags_text()),
        (
            "link-pending-commands",
            i.link.pending.load(Ordering::Relaxed).to_string(),
        ),
        ("link-refcount", "1".to_string()),
    ];
    if i.kind == Kind::Master && i.has(flag::FAILOVER_IN_PROGRESS) {
        f.push(("failover-state", m.failover_state.name().to_string()));
    }
    let since = |t: i64| if t == 0 { 0 } else { now - t };
    f.push(("last-ping-sent", since(i.act_ping_time).to_string()));
    f.push(("last-ok-ping-reply", since(i.last_avail_time).to_string()));
    f.push(("last-ping-reply", since(i.last_pong_time).to_string()));
    if i.has(flag::S_DOWN) {
        f.push(("s-down-time", since(i.s_down_since).to_string()));
    }
    if i.has(flag::O_DOWN) {
        f.push(("o-down-time", since(i.o_down_since).to_string()));
    }
    f.push(("down-after-milliseconds", m.down_after.to_string()));
    if i.kind != Kind::Sentinel {
        f.push(("info-refresh", since(i.info_refresh).to_string()));
        let r = if i.role_reported == Kind::Master {
            "master"
        } else {
            "slave"
        };
        f.push(("role-reported", r.to_string()));
        f.push((
            "role-reported-time",
            since(i.role_reported_time).to_string(),
        ));
    }
    match i.kind {
        Kind::Master => {
            f.push(("config-epoch", m.config_epoch.to_string()));
            f.push(("num-slaves", m.replicas.len().to_string()));
            f.push(("num-other-sentinels", m.sentinels.len().to_string()));
            f.push(("quorum", m.quorum.to_string()));
            f.push(("failover-timeout", m.failover_timeout.to_string()));
            f.push(("parallel-syncs", m.parallel_syncs.to_string()));
        }
        Kind::Replica => {
            f.push(("master-link-down-time", i.master_link_down_time.to_string()));
            let st = if i.slave_master_link_up { "ok" } else { "err" };
            f.push(("master-link-status", st.to_string()));
            f.push((
                "master-host",
                i.slave_master_host.clone().unwrap_or_else(|| "?".into()),
            ));
            f.push(("master-port", i.slave_master_port.to_string()));
            f.push(("slave-priority", i.slave_priority.to_string()));
            f.push(("slave-repl-offset", i.slave_repl_offset.to_string()));
            f.push(("replica-announced", (i.replica_announced as u8).to_string()));
        }
        Kind::Sentinel => {
            f.push(("last-hello-message", since(i.last_hello_time).to_string()));
            f.push((
                "voted-leader",
                i.leader.clone().unwrap_or_else(|| "?".into()),
            ));
            f.push(("voted-leader-epoch", i.leader_epoch.to_string()));
        }
    }
    out.map(f.len());
    for (k, v) in f {
        out.bulk(k.as_bytes());
        out.bulk(v.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::implementation;

    /// The shared table's sentinel rows and the implementations here
    /// cannot drift apart.
    #[test]
    fn every_sentinel_row_has_an_implementation() {
        let mut rows: Vec<&str> = crate::command::sentinel_commands()
            .map(|c| c.name)
            .collect();
        rows.sort();
        let want = [
            "auth",
            "client",
            "command",
            "hello",
            "info",
            "ping",
            "psubscribe",
            "publish",
            "punsubscribe",
            "role",
            "sentinel",
            "shutdown",
            "subscribe",
            "unsubscribe",
        ];
        assert_eq!(rows, want);
        for n in want {
            assert!(implementation(n).is_some(), "{n}");
        }
        assert!(implementation("get").is_none());
        assert!(crate::command::lookup(b"SENTINEL").is_none());
        assert!(crate::command::sentinel_lookup(b"Sentinel").is_some());
        assert!(crate::command::sentinel_lookup(b"get").is_none());
    }
}
