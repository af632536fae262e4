//! Replication commands: REPLICAOF/SLAVEOF, REPLCONF, PSYNC/SYNC, WAIT,
//! WAITAOF.
//! ROLE and INFO replication live in server.rs.

use super::{cmd, flags::*, node_cmd, Action, Command, Ctx};
use crate::replication::state;
use crate::server::Server;
use crate::util::{eq_ic, parse_i64};
use bytes::Bytes;

pub(crate) fn commands() -> Vec<Command> {
    let none = (0, 0, 0);
    vec![
        node_cmd("replicaof", 3, ADMIN | NOSCRIPT | STALE, "Configures a server as replica of another, or promotes it to a master.", replicaof)
        .syntax("host port"),
        node_cmd("slaveof", 3, ADMIN | NOSCRIPT | STALE, "Sets a Redis server as a replica of another, or promotes it to being a master.", replicaof)
        .syntax("host port"),
        cmd("replconf", -1, ADMIN | NOSCRIPT | LOADING | STALE, none, "server", "An internal command for configuring the replication stream.", replconf),
        cmd("psync", -3, ADMIN | NOSCRIPT, none, "server", "An internal command used in replication.", psync)
        .syntax("replicationid offset"),
        cmd("sync", 1, ADMIN | NOSCRIPT, none, "server", "An internal command used in replication.", sync),
        cmd("wait", 3, NOSCRIPT, none, "generic", "Blocks until the asynchronous replication of all preceding write commands sent by the connection is completed.", wait)
        .syntax("numreplicas timeout"),
        cmd("waitaof", 4, NOSCRIPT, none, "generic", "Blocks until all of the preceding write commands sent by the connection are written to the append-only file of the master and/or replicas.", waitaof)
        .syntax("numlocal numreplicas timeout"),
    ]
}

fn replicaof(ctx: &mut Ctx<'_>, srv: &Server, a: &[Bytes]) {
    if eq_ic(&a[1], "no") && eq_ic(&a[2], "one") {
        if srv.repl.is_replica() || srv.store.incomplete() {
            if let Err(e) = state::promote(srv) {
                return ctx.err(&format!(
                    "ERR the data of a failed full sync could not be dropped: {e}"
                ));
            }
            tracing::info!(
                "MASTER MODE enabled by user request from id={}",
                ctx.client.id
            );
        }
        return ctx.out.ok();
    }
    let Some(port) = parse_i64(&a[2]).filter(|p| (0..=65535).contains(p)) else {
        return ctx.err("ERR Invalid master port");
    };
    let port = port as u16;
    let host = String::from_utf8_lossy(&a[1]).into_owned();
    let loopback = matches!(host.as_str(), "127.0.0.1" | "localhost" | "::1" | "0.0.0.0");
    if loopback && port == srv.port {
        return ctx.err("ERR can't replicate myself");
    }
    let Some(arc) = srv.self_arc() else {
        return ctx.err("ERR server is shutting down");
    };
    if !state::become_replica(&arc, &host, port) {
        return ctx.out.simple("OK Already connected to specified master");
    }
    tracing::info!(
        "REPLICAOF {host}:{port} enabled (user request from id={})",
        ctx.client.id
    );
    ctx.out.ok();
}

fn replconf(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    if a.len().is_multiple_of(2) {
        return ctx.syntax_err();
    }
    for pair in a[1..].chunks(2) {
        if eq_ic(&pair[0], "listening-port") {
            match parse_i64(&pair[1]).filter(|p| (0..=65535).contains(p)) {
                Some(p) => ctx.client.repl_port = Some(p as u16),
                None => return ctx.err("ERR value is not an integer or out of range"),
            }
        } else if eq_ic(&pair[0], "ack") || eq_ic(&pair[0], "getack") {
            // Only meaningful on a replication link; no reply, as Redis.
            return;
        } else if eq_ic(&pair[0], "capa") {
            if eq_ic(&pair[1], "fack") {
                ctx.client.repl_fack = true;
            }
        } else if eq_ic(&pair[0], "ip-address") || eq_ic(&pair[0], "rdb-only") {
        } else {
            return ctx.err(&format!(
                "ERR Unrecognized REPLCONF option: {}",
                String::from_utf8_lossy(&pair[0])
            ));
        }
    }
    ctx.out.ok();
}

fn psync(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    if ctx.in_exec {
        return ctx.err("ERR PSYNC is not allowed inside MULTI");
    }
    let replid = String::from_utf8_lossy(&a[1]).into_owned();
    let offset = parse_i64(&a[2]).unwrap_or(-1);
    ctx.action = Some(Action::Psync { replid, offset });
}

fn sync(ctx: &mut Ctx<'_>, _a: &[Bytes]) {
    if ctx.in_exec {
        return ctx.err("ERR SYNC is not allowed inside MULTI");
    }
    ctx.action = Some(Action::Psync {
        replid: "?".into(),
        offset: -1,
    });
}

fn wait(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let Some(n) = parse_i64(&a[1]) else {
        return ctx.not_int();
    };
    let Some(t) = parse_i64(&a[2]) else {
        return ctx.err("ERR timeout is not an integer or out of range");
    };
    if t < 0 {
        return ctx.err("ERR timeout is negative");
    }
    if ctx.repl().is_replica() {
        return ctx.err("ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated.");
    }
    // What this connection wrote so far: everything up to our end now.
    let offset = ctx.wrote.unwrap_or_else(|| ctx.store().wal.end_offset());
    let have = ctx.repl().acked(offset, false);
    if have as i64 >= n || ctx.in_exec {
        return ctx.out.int(have as i64);
    }
    ctx.repl().request_acks(false);
    ctx.action = Some(Action::Wait {
        n: n.max(0) as usize,
        offset,
        deadline: deadline(t),
        aof: None,
    });
}

fn deadline(timeout_ms: i64) -> Option<std::time::Instant> {
    (timeout_ms > 0)
        .then(|| std::time::Instant::now() + std::time::Duration::from_millis(timeout_ms as u64))
}

/// WAITAOF numlocal numreplicas timeout (Redis 7.2): the WAL is always on,
/// so numlocal 1 waits for this node's fsync of what the connection wrote
/// (asked at once, whatever `appendfsync`), and numreplicas for replicas
/// whose FACK (their fsynced offset) covers it. Replies `[local, replicas]`.
fn waitaof(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let Some(local) = parse_i64(&a[1]) else {
        return ctx.not_int();
    };
    if !(0..=1).contains(&local) {
        return ctx.err("ERR value is out of range, value must between 0 and 1");
    }
    let Some(n) = parse_i64(&a[2]) else {
        return ctx.not_int();
    };
    if n < 0 {
        return ctx.err("ERR value is out of range, must be positive");
    }
    let Some(t) = parse_i64(&a[3]) else {
        return ctx.err("ERR timeout is not an integer or out of range");
    };
    if t < 0 {
        return ctx.err("ERR timeout is negative");
    }
    if ctx.repl().is_replica() {
        return ctx.err("ERR WAITAOF cannot be used with replica instances. Please also note that writes to replicas are just local and are not propagated.");
    }
    let offset = ctx.wrote.unwrap_or_else(|| ctx.store().wal.end_offset());
    let synced = ctx.store().wal.synced_offset() >= offset;
    let have = ctx.repl().acked(offset, true);
    if (have as i64 >= n && (local == 0 || synced)) || ctx.in_exec {
        ctx.out.array(2);
        ctx.out.int(synced as i64);
        return ctx.out.int(have as i64);
    }
    if n > 0 {
        ctx.repl().request_acks(true);
    }
    ctx.action = Some(Action::Wait {
        n: n as usize,
        offset,
        deadline: deadline(t),
        aof: Some(local == 1),
    });
}
