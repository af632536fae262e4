//! Server commands: INFO, DBSIZE, FLUSHDB/ALL, TIME, SAVE, BGSAVE, LASTSAVE,
//! SHUTDOWN, CONFIG, ROLE, DEBUG.

use super::{cmd, flags::*, node_cmd, Action, Command, Ctx};
use crate::replication::Role;
use crate::server::{save, Server};
use crate::util::eq_ic;
use bytes::Bytes;
use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::time::Duration;

pub(crate) fn commands() -> Vec<Command> {
    let none = (0, 0, 0);
    vec![
        cmd(
            "monitor",
            1,
            ADMIN | NOSCRIPT | LOADING | STALE,
            none,
            "server",
            "Listens for all requests received by the server in real-time.",
            monitor,
        ),
        node_cmd(
            "info",
            -1,
            LOADING | STALE | SENTINEL,
            "Returns information and statistics about the server.",
            info,
        )
        .syntax("[section ...]"),
        cmd(
            "dbsize",
            1,
            READONLY | FAST,
            none,
            "server",
            "Returns the number of keys in the database.",
            dbsize,
        ),
        cmd(
            "flushdb",
            -1,
            WRITE,
            none,
            "server",
            "Remove all keys from the current database.",
            flushdb,
        )
        .syntax("[ASYNC|SYNC]"),
        cmd(
            "flushall",
            -1,
            WRITE,
            none,
            "server",
            "Removes all keys from all databases.",
            flushall,
        )
        .syntax("[ASYNC|SYNC]"),
        cmd(
            "time",
            1,
            FAST | LOADING | STALE,
            none,
            "server",
            "Returns the server time.",
            time,
        ),
        node_cmd(
            "save",
            1,
            ADMIN | NOSCRIPT | NOMULTI,
            "Synchronously saves the database(s) to disk.",
            save_cmd,
        ),
        node_cmd(
            "bgsave",
            -1,
            ADMIN | NOSCRIPT,
            "Asynchronously saves the database(s) to disk.",
            bgsave,
        )
        .syntax("[SCHEDULE]"),
        node_cmd(
            "lastsave",
            1,
            FAST | LOADING | STALE,
            "Returns the Unix timestamp of the last successful save to disk.",
            lastsave,
        ),
        node_cmd(
            "shutdown",
            -1,
            ADMIN | NOSCRIPT | LOADING | STALE | NOMULTI | SENTINEL,
            "Synchronously saves the database(s) to disk and shuts down the Redis server.",
            shutdown,
        )
        .syntax("[NOSAVE|SAVE] [NOW] [FORCE] [ABORT]"),
        node_cmd(
            "config",
            -2,
            ADMIN | NOSCRIPT | LOADING | STALE,
            "A container for server configuration commands.",
            config,
        )
        .syntax("subcommand [argument ...]")
        .subs(&[
            ("get", "config|get", -3),
            ("set", "config|set", -4),
            ("rewrite", "config|rewrite", 2),
            ("resetstat", "config|resetstat", 2),
            ("help", "config|help", 2),
        ]),
        cmd(
            "role",
            1,
            FAST | LOADING | STALE | SENTINEL,
            none,
            "server",
            "Returns the replication role.",
            role,
        ),
        cmd(
            "debug",
            -2,
            ADMIN | NOSCRIPT | LOADING | STALE,
            none,
            "server",
            "A container for debugging commands.",
            debug,
        )
        .syntax("subcommand [argument ...]"),
        cmd(
            "command",
            -1,
            LOADING | STALE | SENTINEL,
            none,
            "server",
            "Returns detailed information about all commands.",
            super::docs::command,
        )
        .syntax("[subcommand [argument ...]]")
        .subs(&[
            ("count", "command|count", 2),
            ("info", "command|info", -2),
            ("docs", "command|docs", -2),
            ("list", "command|list", -2),
            ("getkeys", "command|getkeys", -4),
            ("getkeysandflags", "command|getkeysandflags", -4),
            ("help", "command|help", 2),
        ]),
    ]
}

fn dbsize(ctx: &mut Ctx<'_>, _a: &[Bytes]) {
    let db = ctx.db();
    let n = ctx.dbsize(db);
    ctx.out.int(n);
}

fn flush_mode_ok(ctx: &mut Ctx<'_>, a: &[Bytes]) -> bool {
    if a.len() > 2 || (a.len() == 2 && !eq_ic(&a[1], "async") && !eq_ic(&a[1], "sync")) {
        ctx.syntax_err();
        return false;
    }
    true
}

fn flushdb(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    if !flush_mode_ok(ctx, a) {
        return;
    }
    let db = ctx.db();
    ctx.tx().flush_db(db);
    ctx.out.ok();
}

fn flushall(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    if !flush_mode_ok(ctx, a) {
        return;
    }
    for db in 0..ctx.store().databases {
        ctx.tx().flush_db(db);
    }
    ctx.out.ok();
}

fn time(ctx: &mut Ctx<'_>, _a: &[Bytes]) {
    let us = crate::util::now_us();
    ctx.out.array(2);
    ctx.out.bulk((us / 1_000_000).to_string().as_bytes());
    ctx.out.bulk((us % 1_000_000).to_string().as_bytes());
}

fn save_cmd(ctx: &mut Ctx<'_>, srv: &Server, _a: &[Bytes]) {
    if ctx.in_exec && ctx.tx.is_some() {
        return ctx.err("ERR SAVE can't run in a transaction that writes");
    }
    // A writer lock held for the pipeline (already committed) must go: the
    // snapshot takes it.
    ctx.tx = None;
    match crate::server::blocking(|| save::save_blocking(srv)) {
        Ok(_) => ctx.out.ok(),
        Err(e) => ctx.err(&e.to_string()),
    }
}

fn bgsave(ctx: &mut Ctx<'_>, srv: &Server, a: &[Bytes]) {
    let schedule = a.len() == 2 && eq_ic(&a[1], "schedule");
    if a.len() > 2 || (a.len() == 2 && !schedule) {
        return ctx.syntax_err();
    }
    let Some(arc) = srv.self_arc() else {
        return ctx.err("ERR server is shutting down");
    };
    if save::bgsave(&arc) {
        ctx.out.simple("Background saving started");
    } else if schedule {
        srv.save.scheduled.store(true, Ordering::Release);
        ctx.out.simple("Background saving scheduled");
    } else {
        ctx.err("ERR Background save already in progress");
    }
}

fn lastsave(ctx: &mut Ctx<'_>, srv: &Server, _a: &[Bytes]) {
    ctx.out.int(srv.save.last_save.load(Ordering::Relaxed));
}

fn shutdown(ctx: &mut Ctx<'_>, srv: &Server, a: &[Bytes]) {
    let mut save = None;
    for o in &a[1..] {
        if eq_ic(o, "nosave") {
            save = Some(false);
        } else if eq_ic(o, "save") {
            save = Some(true);
        } else if eq_ic(o, "now") || eq_ic(o, "force") {
        } else if eq_ic(o, "abort") {
            return ctx.err("ERR No shutdown in progress.");
        } else {
            return ctx.syntax_err();
        }
    }
    if ctx.in_exec {
        return ctx.err("ERR SHUTDOWN inside MULTI is not supported");
    }
    // The final snapshot is taken here so that a failure can be answered,
    // as Redis does, with the server still running.
    let want_save = save.unwrap_or_else(|| !srv.config.read().save.is_empty());
    if want_save {
        ctx.tx = None;
        if let Err(e) = crate::server::blocking(|| save::save_blocking(srv)) {
            tracing::warn!("SHUTDOWN: the final save failed ({e}); not exiting");
            return ctx.err("ERR Errors trying to SHUTDOWN. Check logs.");
        }
    }
    // Like Redis, a successful SHUTDOWN closes the connection without a reply.
    ctx.action = Some(Action::Shutdown { save: Some(false) });
}

fn role(ctx: &mut Ctx<'_>, _a: &[Bytes]) {
    let off = ctx.store().wal.end_offset() as i64;
    let repl = ctx.repl();
    match repl.role() {
        Role::Master => {
            let mut reps: Vec<_> = repl.replicas.lock().values().cloned().collect();
            reps.sort_by_key(|r| (r.ip.clone(), r.port));
            ctx.out.array(3);
            ctx.out.bulk(b"master");
            ctx.out.int(off);
            ctx.out.array(reps.len());
            for r in reps {
                ctx.out.array(3);
                ctx.out.bulk(r.ip.as_bytes());
                ctx.out.bulk(r.port.to_string().as_bytes());
                ctx.out.bulk(r.ack_offset.to_string().as_bytes());
            }
        }
        Role::Replica { host, port } => {
            let state = *repl.link.state.lock();
            ctx.out.array(5);
            ctx.out.bulk(b"slave");
            ctx.out.bulk(host.as_bytes());
            ctx.out.int(port as i64);
            ctx.out.bulk(state.as_bytes());
            ctx.out.int(off);
        }
    }
}

fn config(ctx: &mut Ctx<'_>, srv: &Server, a: &[Bytes]) {
    let sub = String::from_utf8_lossy(&a[1]).to_ascii_lowercase();
    match sub.as_str() {
        "get" if a.len() >= 3 => {
            let mut pairs: Vec<(String, String)> = Vec::new();
            {
                let cfg = srv.config.read();
                for p in &a[2..] {
                    for kv in cfg.get(&String::from_utf8_lossy(p)) {
                        if !pairs.iter().any(|(k, _)| *k == kv.0) {
                            pairs.push(kv);
                        }
                    }
                }
            }
            ctx.out.map(pairs.len());
            for (k, v) in pairs {
                ctx.out.bulk(k.as_bytes());
                ctx.out.bulk(v.as_bytes());
            }
        }
        // An odd number of arguments is not name/value pairs.
        "set" if !a.len().is_multiple_of(2) => ctx.syntax_err(),
        "set" if a.len() >= 4 && a.len().is_multiple_of(2) => {
            let mut cfg = srv.config.read().clone();
            for pair in a[2..].chunks(2) {
                let name = String::from_utf8_lossy(&pair[0]).into_owned();
                let value = String::from_utf8_lossy(&pair[1]).into_owned();
                if let Err(e) = cfg.set(&name, &[value]) {
                    return ctx.err(&e.to_string());
                }
            }
            *srv.config.write() = cfg;
            srv.apply_runtime_config();
            ctx.out.ok();
        }
        "rewrite" if a.len() == 2 => {
            let r = srv.config.read().rewrite();
            match r {
                Ok(()) => {
                    tracing::info!("CONFIG REWRITE executed with success.");
                    *srv.repl.role_unsaved.lock() = None;
                    ctx.out.ok()
                }
                Err(e) => ctx.err(&format!("ERR Rewriting config file: {e}")),
            }
        }
        "resetstat" if a.len() == 2 => {
            let s = &srv.stats;
            for c in [
                &s.connections,
                &s.rejected,
                &s.commands,
                &s.net_input,
                &s.net_output,
                &s.sync_full,
                &s.sync_partial_ok,
                &s.sync_partial_err,
                &s.unexpected_errors,
                &s.reads,
                &s.writes,
                &s.expire_cap_reached,
                &s.expire_usec,
            ] {
                c.store(0, Ordering::Relaxed);
            }
            for c in [
                &srv.store.stats.expired_keys,
                &srv.store.stats.keyspace_hits,
                &srv.store.stats.keyspace_misses,
            ] {
                c.store(0, Ordering::Relaxed);
            }
            srv.cmdstats.reset();
            srv.errorstats.reset();
            ctx.out.ok();
        }
        "help" if a.len() == 2 => {
            let lines = [
                "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "GET <pattern>",
                "SET <directive> <value>",
                "RESETSTAT",
                "REWRITE",
                "HELP",
            ];
            ctx.help(&lines);
        }
        _ => ctx.err(&format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try CONFIG HELP.",
            String::from_utf8_lossy(&a[1])
        )),
    }
}

fn debug(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let sub = String::from_utf8_lossy(&a[1]).to_ascii_lowercase();
    match (sub.as_str(), a.len()) {
        ("sleep", 3) => {
            let Some(secs) = crate::util::parse_f64(&a[2]) else {
                return ctx.err("ERR value is not a valid float");
            };
            ctx.action = Some(Action::Sleep(Duration::from_secs_f64(
                secs.clamp(0.0, 3600.0),
            )));
            ctx.out.ok();
        }
        // DEBUG SET-ACTIVE-EXPIRE 0|1: Redis's switch for the active
        // expiry cycle (tests of lazy expiry).
        ("set-active-expire", 3) => match crate::util::parse_i64(&a[2]) {
            Some(v) => {
                ctx.store()
                    .active_expire
                    .store(v != 0, std::sync::atomic::Ordering::Relaxed);
                ctx.out.ok();
            }
            None => ctx.not_int(),
        },
        ("digest", 2) => {
            let d = keyspace_digest(ctx);
            ctx.out.simple(&d);
        }
        // DEBUG FAULT <point> <eio|enospc|short> [count] | DEBUG FAULT <point> OFF:
        // fail an I/O point for the fault tests (`faults.rs`).
        ("fault", 4) if a[3].eq_ignore_ascii_case(b"off") => {
            crate::faults::disarm(&String::from_utf8_lossy(&a[2]));
            ctx.out.ok();
        }
        ("fault", 4 | 5) => {
            let point = String::from_utf8_lossy(&a[2]);
            let Some(kind) = crate::faults::Kind::parse(&String::from_utf8_lossy(&a[3])) else {
                return ctx.err("ERR fault kind must be eio, enospc, short or off");
            };
            let count = match a.get(4) {
                Some(c) => match crate::util::parse_i64(c) {
                    Some(n) if n >= 0 => n as u64,
                    _ => return ctx.err("ERR value is not an integer or out of range"),
                },
                None => 0,
            };
            match crate::faults::arm(&point, kind, count) {
                Ok(()) => ctx.out.ok(),
                Err(e) => ctx.err(&format!("ERR {e}")),
            }
        }
        ("digest-value", _) => {
            ctx.out.array(a.len() - 2);
            let db = ctx.db();
            for k in &a[2..] {
                let d = match ctx.get(db, k) {
                    Some(m) if m.chunked => {
                        let mut h = sha1_smol::Sha1::new();
                        crate::types::string::each_run(ctx.store_arc(), db, ctx.now, k, m, |b| {
                            h.update(b)
                        });
                        hex(&h.digest().bytes())
                    }
                    Some(m) => hex(&sha1_smol::Sha1::from(&m.payload[..]).digest().bytes()),
                    None => "0".repeat(40),
                };
                ctx.out.simple(&d);
            }
        }
        ("help", 2) => {
            let lines = [
                "DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "SLEEP <seconds>",
                "DIGEST",
                "DIGEST-VALUE <key> [<key> ...]",
                "SET-ACTIVE-EXPIRE <0|1>",
                "HELP",
            ];
            ctx.help(&lines);
        }
        _ => ctx.err(&format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try DEBUG HELP.",
            String::from_utf8_lossy(&a[1])
        )),
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// An order-independent digest of every live key (db, name, type, value,
/// expiry): equal on two nodes iff they hold the same data. 40 zeros for an
/// empty keyspace, like Redis's DEBUG DIGEST.
fn keyspace_digest(ctx: &mut Ctx<'_>) -> String {
    let mut acc = [0u8; 20];
    let mut any = false;
    let (store, now) = (ctx.store_arc(), ctx.now);
    for db in 0..store.databases {
        store.for_each_key(db, ctx.now, |k, m| {
            any = true;
            let mut h = sha1_smol::Sha1::new();
            h.update(&[db as u8, m.kind as u8]);
            h.update(&(k.len() as u64).to_le_bytes());
            h.update(&k);
            h.update(&m.expire_at.unwrap_or(0).to_le_bytes());
            if m.kind.is_collection() {
                // The elements, not the version: two nodes that built the
                // same collection separately agree. A set's pop order
                // depends on its random salt: only its member names count.
                let (version, _) = m.coll();
                let mut prefix = {
                    let (slot, gen) = store.loc(db);
                    crate::store::keys::sub_prefix(slot, gen, &k, version)
                };
                let set = m.kind == crate::store::keys::Kind::Set;
                if set {
                    prefix.extend_from_slice(crate::types::set::member_tag(&m));
                }
                let mut after: Option<Bytes> = None;
                loop {
                    let (page, more) = store.sub_range(&prefix, after.as_deref(), 1024);
                    for (f, v) in &page {
                        let v = if set { &b""[..] } else { &v[..] };
                        h.update(&(f.len() as u64).to_le_bytes());
                        h.update(f);
                        h.update(&(v.len() as u64).to_le_bytes());
                        h.update(v);
                    }
                    after = page.last().map(|(f, _)| f.clone());
                    if !more || after.is_none() {
                        break;
                    }
                }
            } else {
                // A string's bytes, however it is kept.
                crate::types::string::each_run(store, db, now, &k, m, |b| h.update(b));
            }
            for (x, y) in acc.iter_mut().zip(h.digest().bytes()) {
                *x ^= y;
            }
        });
    }
    if any {
        hex(&acc)
    } else {
        "0".repeat(40)
    }
}

fn human(n: u64) -> String {
    let f = n as f64;
    if f >= 1024.0 * 1024.0 * 1024.0 {
        format!("{:.2}G", f / 1024.0 / 1024.0 / 1024.0)
    } else if f >= 1024.0 * 1024.0 {
        format!("{:.2}M", f / 1024.0 / 1024.0)
    } else if f >= 1024.0 {
        format!("{:.2}K", f / 1024.0)
    } else {
        format!("{n}B")
    }
}

/// The machine's memory (MemTotal), in bytes.
fn total_system_memory() -> u64 {
    let Ok(s) = std::fs::read_to_string("/proc/meminfo") else {
        return 0;
    };
    s.lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// Peak RSS (VmHWM), in bytes.
pub(crate) fn peak_rss_bytes() -> u64 {
    let Ok(s) = std::fs::read_to_string("/proc/self/status") else {
        return 0;
    };
    s.lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

pub(crate) fn rss_bytes() -> u64 {
    let Ok(s) = std::fs::read_to_string("/proc/self/statm") else {
        return 0;
    };
    let pages: u64 = s
        .split_whitespace()
        .nth(1)
        .and_then(|x| x.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

/// CPU seconds (system, user) from getrusage; RUSAGE_THREAD is the thread
/// running INFO, the runtime's (Redis's main thread).
fn rusage(who: libc::c_int) -> (f64, f64) {
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `u` is a valid rusage for getrusage to fill.
    if unsafe { libc::getrusage(who, &mut u) } != 0 {
        return (0.0, 0.0);
    }
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    (secs(u.ru_stime), secs(u.ru_utime))
}

fn info(ctx: &mut Ctx<'_>, srv: &Server, a: &[Bytes]) {
    let wanted: Vec<String> = a[1..]
        .iter()
        .map(|s| String::from_utf8_lossy(s).to_ascii_lowercase())
        .collect();
    // Redis's groups: the default sections; `all` adds commandstats and
    // latencystats; `everything` adds modules' (none here).
    let all = wanted.iter().any(|w| w == "all" || w == "everything");
    let default = wanted.is_empty() || all || wanted.iter().any(|w| w == "default");
    let want = |s: &str| {
        let extra = matches!(s, "commandstats" | "latencystats");
        (if extra { all } else { default }) || wanted.iter().any(|w| w == s)
    };
    let store = &srv.store;
    let cfg = srv.config.read().clone();
    let mut s = String::new();
    let uptime = srv.started.elapsed().as_secs();
    if want("server") {
        let _ = write!(
            s,
            "# Server\r\nredis_version:{}\r\nsledis_version:{}\r\nredis_git_sha1:00000000\r\nredis_git_dirty:0\r\nredis_build_id:0\r\n\
             redis_mode:standalone\r\nos:{} {}\r\narch_bits:64\r\nmultiplexing_api:epoll\r\natomicvar_api:c11-builtin\r\n\
             process_id:{}\r\nprocess_supervised:no\r\nrun_id:{}\r\ntcp_port:{}\r\nserver_time_usec:{}\r\nuptime_in_seconds:{}\r\n\
             uptime_in_days:{}\r\nhz:10\r\nconfigured_hz:10\r\nlru_clock:{}\r\nmonotonic_clock:POSIX clock_gettime\r\nexecutable:{}\r\nconfig_file:{}\r\n\r\n",
            crate::REDIS_VERSION,
            env!("CARGO_PKG_VERSION"),
            std::env::consts::OS,
            std::env::consts::ARCH,
            std::process::id(),
            srv.run_id,
            srv.port,
            crate::util::now_us(),
            uptime,
            uptime / 86400,
            // Redis's LRU clock: seconds, 24 bits (OBJECT IDLETIME's times
            // are in `store/access.rs`).
            (crate::util::now_ms() / 1000) & 0xFF_FFFF,
            std::env::current_exe().map(|p| p.display().to_string()).unwrap_or_default(),
            cfg.config_file.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
        );
    }
    if want("clients") {
        let clients = srv.clients.all();
        let pubsub = clients.iter().filter(|c| c.is_pubsub()).count();
        let _ = write!(
            s,
            "# Clients\r\nconnected_clients:{}\r\ncluster_connections:0\r\nmaxclients:{}\r\nclient_recent_max_input_buffer:0\r\n\
             client_recent_max_output_buffer:0\r\nblocked_clients:{}\r\ntracking_clients:{}\r\nclients_in_timeout_table:0\r\npubsub_clients:{}\r\n\r\n",
            clients.len(),
            cfg.maxclients,
            store.ready.blocked() + srv.pause.waiting.load(Ordering::Relaxed),
            srv.tracking.counts().3,
            pubsub
        );
    }
    if want("memory") {
        let rss = rss_bytes();
        let peak = peak_rss_bytes().max(rss);
        let buf = store.buffer_bytes() as u64;
        let cache = store.read_cache_bytes();
        let b = store.budget();
        let sysmem = total_system_memory();
        let scripts = srv.scripts.cached();
        let _ = write!(
            s,
            "# Memory\r\nused_memory:{rss}\r\nused_memory_human:{}\r\nused_memory_rss:{rss}\r\nused_memory_rss_human:{}\r\n\
             used_memory_peak:{peak}\r\nused_memory_peak_human:{}\r\nused_memory_dataset:{buf}\r\n\
             maxmemory:{}\r\nmaxmemory_human:{}\r\nmaxmemory_policy:noeviction\r\n\
             memory_budget:{}\r\nmemory_budget_human:{}\r\n\
             budget_write_buffer:{}\r\nwrite_buffer_bytes:{buf}\r\n\
             budget_read_cache:{}\r\nread_cache_bytes:{cache}\r\n\
             budget_sled:{}\r\nsled_cache_capacity:{}\r\nbudget_sync_buffers:{}\r\nbudget_clients:{}\r\n\
             total_system_memory:{sysmem}\r\ntotal_system_memory_human:{}\r\nused_memory_peak_perc:{:.2}%\r\n\
             mem_aof_buffer:{}\r\nnumber_of_cached_scripts:{}\r\nused_memory_scripts_eval:{}\r\n\
             mem_allocator:mimalloc\r\nlazyfree_pending_objects:{}\r\nlazyfreed_objects:{}\r\n\r\n",
            human(rss),
            human(rss),
            human(peak),
            cfg.maxmemory,
            human(cfg.maxmemory),
            b.total,
            human(b.total),
            b.write_buffer(),
            b.read_cache,
            b.engine_cache * 2,
            b.engine_cache,
            b.sync_buffers,
            b.clients,
            human(sysmem),
            if peak > 0 { rss as f64 * 100.0 / peak as f64 } else { 0.0 },
            store.wal.end_offset().saturating_sub(store.wal.written_offset()),
            scripts.0,
            scripts.1,
            store.gc_pending(),
            store.stats.gc_keys.load(Ordering::Relaxed),
        );
    }
    if want("persistence") {
        let wal = &store.wal;
        let _ = write!(
            s,
            "# Persistence\r\nloading:{}\r\nasync_loading:0\r\nrdb_changes_since_last_save:{}\r\nrdb_bgsave_in_progress:{}\r\n\
             rdb_last_save_time:{}\r\nrdb_last_bgsave_status:{}\r\nrdb_last_bgsave_time_sec:{}\r\nrdb_saves:0\r\n\
             aof_enabled:1\r\naof_rewrite_in_progress:0\r\naof_last_write_status:{}\r\nappendfsync:{}\r\n\
             wal_write_error:{}\r\nwal_last_write_failure_time:{}\r\n\
             wal_first_offset:{}\r\nwal_end_offset:{}\r\nwal_written_offset:{}\r\nwal_synced_offset:{}\r\nwal_fsyncs:{}\r\nwal_disk_bytes:{}\r\nwal_old_damage:{}\r\n\
             sled_applied_offset:{}\r\nsled_size_on_disk:{}\r\nsled_io_error:{}\r\nsled_reopens:{}\r\nsled_write_stalls:{}\r\nsled_write_buffer_full:{}\r\nsled_gc_keys:{}\r\nsled_load_pending:{}\r\nsnapshot_file:{}\r\nsnapshot_start_offset:{}\r\nconfig_rewrite_error:{}\r\n\r\n",
            srv.loading.load(Ordering::Acquire) as u8,
            store.dirty.load(Ordering::Relaxed),
            srv.save.in_progress.load(Ordering::Relaxed) as u8,
            srv.save.last_save.load(Ordering::Relaxed),
            if srv.save.last_ok.load(Ordering::Relaxed) { "ok" } else { "err" },
            srv.save.last_duration_sec.load(Ordering::Relaxed),
            if wal.write_failed() { "err" } else { "ok" },
            cfg.get("appendfsync").first().map(|x| x.1.clone()).unwrap_or_default(),
            wal.write_error().unwrap_or_default(),
            match wal.last_write_failure_ms.load(Ordering::Relaxed) {
                0 => -1,
                ms => ms / 1000,
            },
            wal.first_offset(),
            wal.end_offset(),
            wal.written_offset(),
            wal.synced_offset(),
            wal.fsyncs.load(Ordering::Relaxed),
            wal.disk_bytes(),
            wal.old_damage().unwrap_or_default(),
            store.applied_offset(),
            store.sled_size_on_disk(),
            store.sled_io_error().unwrap_or_default(),
            store.sled_reopens(),
            store.stats.write_stalls.load(Ordering::Relaxed),
            store.write_full() as u8,
            store.stats.gc_keys.load(Ordering::Relaxed),
            store.load_pending() as u8,
            save::snapshot_path(srv).display(),
            if srv.save.has_snapshot.load(Ordering::Relaxed) { srv.save.snapshot_start.load(Ordering::Relaxed) as i64 } else { -1 },
            srv.repl.role_unsaved.lock().clone().unwrap_or_default(),
        );
    }
    if want("stats") {
        let st = &srv.stats;
        let tracking = srv.tracking.counts();
        let _ = write!(
            s,
            "# Stats\r\ntotal_connections_received:{}\r\ntotal_commands_processed:{}\r\ninstantaneous_ops_per_sec:{}\r\n\
             total_net_input_bytes:{}\r\ntotal_net_output_bytes:{}\r\nrejected_connections:{}\r\nsync_full:{}\r\n\
             sync_partial_ok:{}\r\nsync_partial_err:{}\r\nexpired_keys:{}\r\nexpired_time_cap_reached_count:{}\r\n\
             expire_cycle_cpu_milliseconds:{}\r\nevicted_keys:0\r\nkeyspace_hits:{}\r\nkeyspace_misses:{}\r\n\
             pubsub_channels:{}\r\npubsub_patterns:{}\r\ninstantaneous_input_kbps:{:.2}\r\ninstantaneous_output_kbps:{:.2}\r\n\
             tracking_total_keys:{}\r\ntracking_total_items:{}\r\ntracking_total_prefixes:{}\r\n\
             total_error_replies:{}\r\nunexpected_error_replies:{}\r\ntotal_reads_processed:{}\r\ntotal_writes_processed:{}\r\n\
             sled_reads_parked:{}\r\n\r\n",
            st.connections.load(Ordering::Relaxed),
            st.commands.load(Ordering::Relaxed),
            st.ops_per_sec.load(Ordering::Relaxed),
            st.net_input.load(Ordering::Relaxed),
            st.net_output.load(Ordering::Relaxed),
            st.rejected.load(Ordering::Relaxed),
            st.sync_full.load(Ordering::Relaxed),
            st.sync_partial_ok.load(Ordering::Relaxed),
            st.sync_partial_err.load(Ordering::Relaxed),
            store.stats.expired_keys.load(Ordering::Relaxed),
            st.expire_cap_reached.load(Ordering::Relaxed),
            st.expire_usec.load(Ordering::Relaxed) / 1000,
            store.stats.keyspace_hits.load(Ordering::Relaxed),
            store.stats.keyspace_misses.load(Ordering::Relaxed),
            srv.pubsub.channels(None).len(),
            srv.pubsub.numpat(),
            st.input_bps.load(Ordering::Relaxed) as f64 / 1024.0,
            st.output_bps.load(Ordering::Relaxed) as f64 / 1024.0,
            tracking.0,
            tracking.1,
            tracking.2,
            srv.errorstats.total.load(Ordering::Relaxed),
            st.unexpected_errors.load(Ordering::Relaxed),
            st.reads.load(Ordering::Relaxed),
            st.writes.load(Ordering::Relaxed),
            srv.disk_reads.parked.load(Ordering::Relaxed),
        );
    }
    if want("replication") {
        let off = store.wal.end_offset();
        let repl = &srv.repl;
        s.push_str("# Replication\r\n");
        if let Role::Replica { host, port } = repl.role() {
            let link = &repl.link;
            let up = link.up.load(Ordering::Acquire);
            let now = crate::util::now_ms();
            let last_io = link.last_io_ms.load(Ordering::Relaxed);
            let syncing = link.sync_in_progress.load(Ordering::Relaxed);
            let _ = write!(
                s,
                "role:slave\r\nmaster_host:{host}\r\nmaster_port:{port}\r\nmaster_link_status:{}\r\n\
                 master_last_io_seconds_ago:{}\r\nmaster_sync_in_progress:{}\r\n",
                if up { "up" } else { "down" },
                if last_io > 0 { (now - last_io).max(0) / 1000 } else { -1 },
                syncing as u8,
            );
            if syncing {
                let total = link.sync_total_bytes.load(Ordering::Relaxed);
                let read = link.sync_read_bytes.load(Ordering::Relaxed);
                let _ = write!(
                    s,
                    "master_sync_total_bytes:{total}\r\nmaster_sync_read_bytes:{read}\r\nmaster_sync_left_bytes:{}\r\n\
                     master_sync_perc:{:.2}\r\nmaster_sync_last_io_seconds_ago:{}\r\n",
                    total.saturating_sub(read),
                    if total > 0 { read as f64 * 100.0 / total as f64 } else { 0.0 },
                    if last_io > 0 { (now - last_io).max(0) / 1000 } else { -1 },
                );
            }
            if !up {
                let since = link.down_since_ms.load(Ordering::Relaxed);
                let secs = if since > 0 {
                    (now - since).max(0) / 1000
                } else {
                    -1
                };
                let _ = write!(s, "master_link_down_since_seconds:{secs}\r\n");
            }
            if let Some(e) = link.last_sync_error.lock().as_deref() {
                let _ = write!(
                    s,
                    "master_sync_last_error:{}\r\n",
                    e.replace(['\r', '\n'], " ")
                );
            }
            let _ = write!(
                s,
                "slave_read_repl_offset:{off}\r\nslave_repl_offset:{off}\r\nslave_priority:{}\r\nslave_read_only:{}\r\n\
                 replica_announced:{}\r\n",
                cfg.replica_priority,
                cfg.replica_read_only as u8,
                cfg.replica_announced as u8,
            );
        } else {
            s.push_str("role:master\r\n");
        }
        let mut reps: Vec<_> = repl.replicas.lock().values().cloned().collect();
        reps.sort_by_key(|r| (r.ip.clone(), r.port));
        let _ = write!(s, "connected_slaves:{}\r\n", reps.len());
        let now = crate::util::now_ms();
        for (i, r) in reps.iter().enumerate() {
            let _ = write!(
                s,
                "slave{i}:ip={},port={},state={},offset={},lag={}\r\n",
                r.ip,
                r.port,
                r.state,
                r.ack_offset,
                (now - r.last_ack_ms).max(0) / 1000
            );
        }
        let ids = repl.ids();
        let _ = write!(
            s,
            "master_failover_state:no-failover\r\nmaster_replid:{}\r\nmaster_replid2:{}\r\nmaster_repl_offset:{off}\r\n\
             second_repl_offset:{}\r\nrepl_backlog_active:1\r\nrepl_backlog_size:{}\r\nrepl_backlog_first_byte_offset:{}\r\n\
             repl_backlog_histlen:{}\r\n{}\r\n",
            ids.replid,
            ids.replid2,
            ids.second_offset,
            cfg.repl_backlog_size,
            store.wal.first_offset() + 1,
            off - store.wal.first_offset(),
            if ids.history.is_empty() {
                String::new()
            } else {
                format!("replid_history:{}\r\n", ids.history_text())
            },
        );
    }
    if want("cpu") {
        let (me, children) = (rusage(libc::RUSAGE_SELF), rusage(libc::RUSAGE_CHILDREN));
        let main = rusage(libc::RUSAGE_THREAD);
        let _ = write!(
            s,
            "# CPU\r\nused_cpu_sys:{:.6}\r\nused_cpu_user:{:.6}\r\nused_cpu_sys_children:{:.6}\r\nused_cpu_user_children:{:.6}\r\nused_cpu_sys_main_thread:{:.6}\r\nused_cpu_user_main_thread:{:.6}\r\n\r\n",
            me.0, me.1, children.0, children.1, main.0, main.1
        );
    }
    if want("modules") {
        // No modules: the section is there, empty, as on a Redis without.
        s.push_str("# Modules\r\n\r\n");
    }
    if want("commandstats") {
        s.push_str("# Commandstats\r\n");
        srv.cmdstats.info(&mut s);
        s.push_str("\r\n");
    }
    if want("errorstats") {
        s.push_str("# Errorstats\r\n");
        srv.errorstats.info(&mut s);
        s.push_str("\r\n");
    }
    if want("latencystats") {
        // Empty while latency-tracking is off, as in Redis.
        s.push_str("# Latencystats\r\n");
        if cfg.latency_tracking {
            srv.cmdstats.latency_info(&cfg.latency_percentiles, &mut s);
        }
        s.push_str("\r\n");
    }
    if want("cluster") {
        // No cluster mode: clients (redis-py's test setup, cluster-aware
        // libraries) read this to know.
        s.push_str("# Cluster\r\ncluster_enabled:0\r\n\r\n");
    }
    if want("keyspace") {
        s.push_str("# Keyspace\r\n");
        for db in 0..store.databases {
            // Inside EXEC: with the transaction's changes so far.
            let n = ctx.dbsize(db);
            if n > 0 {
                let _ = write!(
                    s,
                    "db{db}:keys={n},expires={},avg_ttl=0\r\n",
                    ctx.expires_count(db)
                );
            }
        }
        s.push_str("\r\n");
    }
    if s.ends_with("\r\n\r\n") {
        s.truncate(s.len() - 2);
    }
    ctx.out.verbatim(&s);
}

/// MONITOR: from now on the connection gets every command the node runs
/// (`client/monitor.rs`). A second MONITOR answers nothing, as in Redis.
fn monitor(ctx: &mut Ctx<'_>, _a: &[Bytes]) {
    if ctx.in_exec {
        return ctx.err("ERR MONITOR isn't allowed for DENY BLOCKING client");
    }
    if ctx.client.monitor {
        return;
    }
    ctx.client.monitor = true;
    let sub = crate::client::pubsub::Subscriber {
        info: ctx.client.info.clone(),
        tx: ctx.client.push.clone(),
    };
    ctx.pubsub().monitors.add(ctx.client.id, sub);
    ctx.out.ok();
}
