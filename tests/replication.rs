//! Master/replica replication with real processes: full sync, the live
//! stream, INFO/ROLE as Redis prints them, read-only replicas, restart with
//! partial resync, promotion, chains, switching master, master down.

mod support;
use redis::Connection;
use std::time::Duration;
use support::*;

fn cmd_str(c: &mut Connection, args: &[&str]) -> String {
    let mut k = redis::cmd(args[0]);
    for a in &args[1..] {
        k.arg(*a);
    }
    match k.query::<redis::Value>(c) {
        Ok(redis::Value::SimpleString(s)) => s,
        Ok(redis::Value::BulkString(b)) => String::from_utf8_lossy(&b).into_owned(),
        Ok(redis::Value::Okay) => "OK".into(),
        Ok(redis::Value::Int(i)) => i.to_string(),
        Ok(redis::Value::Nil) => "(nil)".into(),
        Ok(v) => format!("{v:?}"),
        Err(e) => format!("ERR {e}"),
    }
}

fn fill(c: &mut Connection, prefix: &str, n: usize) {
    let mut p = redis::pipe();
    for i in 0..n {
        p.cmd("SET")
            .arg(format!("{prefix}{i}"))
            .arg(format!("value-{i}"))
            .ignore();
    }
    let _: () = p.query(c).expect("fill");
}

/// `n` keys `{prefix}{i}` holding `value`, pipelined a thousand at a time.
fn fill_value(c: &mut Connection, prefix: &str, n: usize, value: &str) {
    for start in (0..n).step_by(1000) {
        let mut p = redis::pipe();
        for i in start..(start + 1000).min(n) {
            p.cmd("SET").arg(format!("{prefix}{i}")).arg(value).ignore();
        }
        let _: () = p.query(c).expect("fill");
    }
}

#[test]
fn one_master_two_replicas() {
    let m = Node::start(&["save \"\""]);
    let r1 = Node::start(&["save \"\""]);
    let r2 = Node::start(&["save \"\""]);
    let mut mc = m.client();
    fill(&mut mc, "k", 2000);
    let _: () = redis::cmd("SET")
        .arg("ttl")
        .arg("x")
        .arg("EX")
        .arg(1000)
        .query(&mut mc)
        .unwrap();
    replicaof(&r1, &m);
    replicaof(&r2, &m);
    wait_synced(&r1, &m);
    wait_synced(&r2, &m);
    // The key count and expiry index come from the load itself (no rescan).
    let ks = info(&mut r1.client(), "keyspace");
    assert!(ks.contains("db0:keys=2001,expires=1,"), "{ks}");
    // Later writes stream to both.
    fill(&mut mc, "later", 100);
    let _: () = redis::cmd("DEL").arg("k0").query(&mut mc).unwrap();
    wait_synced(&r1, &m);
    wait_synced(&r2, &m);
    let mut c1 = r1.client();
    assert_eq!(cmd_str(&mut c1, &["GET", "later99"]), "value-99");
    assert_eq!(cmd_str(&mut c1, &["GET", "k0"]), "(nil)");
    let ttl: i64 = redis::cmd("TTL").arg("ttl").query(&mut c1).unwrap();
    assert!(ttl > 900, "TTL replicated: {ttl}");
    // Read-only, with Redis's text.
    let e = redis_cli(r1.port, &["set", "a", "1"]);
    assert_eq!(
        e.trim(),
        "READONLY You can't write against a read only replica."
    );
    // INFO as Redis prints it, on both sides.
    let ok = wait_until(Duration::from_secs(10), || {
        let mi = info(&mut mc, "replication");
        info_field(&mi, "connected_slaves").as_deref() == Some("2")
            && mi
                .lines()
                .filter(|l| l.starts_with("slave") && l.contains("state=online"))
                .count()
                == 2
    });
    assert!(ok, "master INFO: {}", info(&mut mc, "replication"));
    let mi = info(&mut mc, "replication");
    assert_eq!(info_field(&mi, "role").as_deref(), Some("master"));
    let slave0 = info_field(&mi, "slave0").expect("slave0");
    assert!(
        slave0.starts_with("ip=127.0.0.1,port=")
            && slave0.contains(",offset=")
            && slave0.contains(",lag="),
        "{slave0}"
    );
    let ri = info(&mut c1, "replication");
    for (f, v) in [
        ("role", "slave"),
        ("master_host", "127.0.0.1"),
        ("master_link_status", "up"),
        ("master_sync_in_progress", "0"),
        ("slave_read_only", "1"),
    ] {
        assert_eq!(info_field(&ri, f).as_deref(), Some(v), "{f} in {ri}");
    }
    assert_eq!(info_field(&ri, "master_port"), Some(m.port.to_string()));
    assert_eq!(
        info_field(&ri, "master_replid"),
        info_field(&mi, "master_replid"),
        "same history"
    );
    for f in [
        "master_last_io_seconds_ago",
        "slave_repl_offset",
        "slave_priority",
        "master_replid2",
        "master_repl_offset",
        "second_repl_offset",
        "repl_backlog_active",
        "repl_backlog_first_byte_offset",
        "repl_backlog_histlen",
    ] {
        assert!(info_field(&ri, f).is_some(), "{f} missing: {ri}");
    }
    // ROLE on both.
    let role: redis::Value = redis::cmd("ROLE").query(&mut c1).unwrap();
    let text = format!("{role:?}");
    assert!(
        text.contains("slave") && text.contains("connected"),
        "{text}"
    );
    let out = redis_cli(m.port, &["role"]);
    assert!(out.starts_with("master\n"), "{out}");
    // The master's sync counters.
    let st = info(&mut mc, "stats");
    assert_eq!(info_field(&st, "sync_full").as_deref(), Some("2"), "{st}");
}

#[test]
fn replica_restart_resumes_by_partial_resync_after_kill9() {
    let m = Node::start(&["save \"\""]);
    let mut r = Node::start(&["save \"\""]);
    let mut mc = m.client();
    fill(&mut mc, "a", 500);
    replicaof(&r, &m);
    wait_synced(&r, &m);
    // The role is in the replica's config file now.
    let conf = std::fs::read_to_string(&r.conf).unwrap();
    assert!(
        conf.contains(&format!("replicaof 127.0.0.1 {}", m.port)),
        "{conf}"
    );
    assert!(conf.starts_with("# test node"), "comments kept: {conf}");
    r.kill9();
    fill(&mut mc, "b", 300);
    r.launch();
    wait_synced(&r, &m);
    let st = info(&mut mc, "stats");
    if info_field(&st, "sync_full").as_deref() != Some("1") {
        eprintln!("REPLICA LOG\n{}\nMASTER LOG\n{}", r.log(), m.log());
    }
    assert_eq!(
        info_field(&st, "sync_full").as_deref(),
        Some("1"),
        "no second full sync: {st}"
    );
    assert_eq!(
        info_field(&st, "sync_partial_ok").as_deref(),
        Some("1"),
        "{st}"
    );
    // And after a clean stop too.
    r.stop();
    fill(&mut mc, "c", 300);
    r.launch();
    wait_synced(&r, &m);
    let st = info(&mut mc, "stats");
    assert_eq!(info_field(&st, "sync_full").as_deref(), Some("1"), "{st}");
    assert_eq!(
        info_field(&st, "sync_partial_ok").as_deref(),
        Some("2"),
        "{st}"
    );
}

#[test]
fn promotion_keeps_data_and_siblings_resync_partially() {
    let m = Node::start(&["save \"\""]);
    let r1 = Node::start(&["save \"\""]);
    let r2 = Node::start(&["save \"\""]);
    let mut mc = m.client();
    fill(&mut mc, "k", 300);
    replicaof(&r1, &m);
    replicaof(&r2, &m);
    wait_synced(&r1, &m);
    wait_synced(&r2, &m);
    drop(mc);
    drop(m); // the master is gone (killed)
    let mut c1 = r1.client();
    assert_eq!(cmd_str(&mut c1, &["REPLICAOF", "NO", "ONE"]), "OK");
    assert_eq!(cmd_str(&mut c1, &["SET", "new", "1"]), "OK");
    let i1 = info(&mut c1, "replication");
    assert_eq!(info_field(&i1, "role").as_deref(), Some("master"));
    assert_ne!(
        info_field(&i1, "master_replid2").as_deref(),
        Some("0000000000000000000000000000000000000000")
    );
    assert_eq!(cmd_str(&mut c1, &["GET", "k299"]), "value-299");
    // The sibling follows the new master without a full sync.
    replicaof(&r2, &r1);
    wait_synced(&r2, &r1);
    let st = info(&mut c1, "stats");
    assert_eq!(
        info_field(&st, "sync_partial_ok").as_deref(),
        Some("1"),
        "{st}"
    );
    assert_eq!(info_field(&st, "sync_full").as_deref(), Some("0"), "{st}");
    assert_eq!(cmd_str(&mut r2.client(), &["GET", "new"]), "1");
}

#[test]
fn chain_carries_the_same_history() {
    let a = Node::start(&["save \"\""]);
    let b = Node::start(&["save \"\""]);
    let c = Node::start(&["save \"\""]);
    let mut ac = a.client();
    fill(&mut ac, "x", 200);
    replicaof(&b, &a);
    wait_synced(&b, &a);
    replicaof(&c, &b);
    wait_synced(&c, &b);
    fill(&mut ac, "y", 50);
    wait_synced(&c, &a);
    let ia = info(&mut ac, "replication");
    let ib = info(&mut b.client(), "replication");
    let ic = info(&mut c.client(), "replication");
    assert_eq!(info_field(&ib, "role").as_deref(), Some("slave"));
    assert_eq!(info_field(&ib, "connected_slaves").as_deref(), Some("1"));
    assert_eq!(
        info_field(&ic, "master_replid"),
        info_field(&ia, "master_replid")
    );
    let ok = wait_until(Duration::from_secs(10), || {
        info_field(&info(&mut c.client(), "replication"), "master_repl_offset")
            == info_field(&info(&mut a.client(), "replication"), "master_repl_offset")
    });
    assert!(ok, "same offsets down the chain");
}

#[test]
fn switching_master_replaces_the_dataset() {
    let a = Node::start(&["save \"\""]);
    let d = Node::start(&["save \"\""]);
    let r = Node::start(&["save \"\""]);
    fill(&mut a.client(), "a", 100);
    fill(&mut d.client(), "d", 50);
    replicaof(&r, &a);
    wait_synced(&r, &a);
    replicaof(&r, &d);
    wait_synced(&r, &d);
    let mut rc = r.client();
    let n: i64 = redis::cmd("DBSIZE").query(&mut rc).unwrap();
    assert_eq!(n, 50, "exactly the new master's keys");
    assert_eq!(cmd_str(&mut rc, &["GET", "a1"]), "(nil)");
}

#[test]
fn master_down_keeps_replica_data_and_link_resumes() {
    let mut m = Node::start(&["save \"\""]);
    let r = Node::start(&["save \"\"", "repl-timeout 5"]);
    fill(&mut m.client(), "k", 100);
    replicaof(&r, &m);
    wait_synced(&r, &m);
    m.kill9();
    let ok = wait_until(Duration::from_secs(10), || {
        info_field(&info(&mut r.client(), "replication"), "master_link_status").as_deref()
            == Some("down")
    });
    assert!(ok, "link goes down");
    let mut rc = r.client();
    let ri = info(&mut rc, "replication");
    assert_eq!(info_field(&ri, "role").as_deref(), Some("slave"));
    assert!(
        info_field(&ri, "master_link_down_since_seconds").is_some(),
        "{ri}"
    );
    assert_eq!(cmd_str(&mut rc, &["GET", "k5"]), "value-5", "data kept");
    m.launch();
    fill(&mut m.client(), "after", 10);
    wait_synced(&r, &m);
    let st = info(&mut m.client(), "stats");
    assert_eq!(
        info_field(&st, "sync_partial_ok").as_deref(),
        Some("1"),
        "resumed partially: {st}"
    );
}

#[test]
fn replicaof_bad_arguments() {
    let n = Node::start(&[]);
    let mut c = n.client();
    assert!(
        cmd_str(&mut c, &["REPLICAOF", "127.0.0.1", "notaport"]).contains("Invalid master port")
    );
    assert!(cmd_str(&mut c, &["REPLICAOF", "127.0.0.1", &n.port.to_string()]).contains("myself"));
    // A master that is not there: accepted, retried with a log line.
    let dead = free_port();
    assert_eq!(
        cmd_str(&mut c, &["SLAVEOF", "127.0.0.1", &dead.to_string()]),
        "OK"
    );
    let ok = wait_until(Duration::from_secs(5), || n.log().contains("retrying"));
    assert!(ok, "logs the retry: {}", n.log());
    assert_eq!(
        info_field(&info(&mut c, "replication"), "master_link_status").as_deref(),
        Some("down")
    );
    assert_eq!(cmd_str(&mut c, &["SLAVEOF", "NO", "ONE"]), "OK");
    assert_eq!(cmd_str(&mut c, &["SET", "a", "1"]), "OK");
}

#[test]
fn redis_cli_slaveof_by_hand() {
    let m = Node::start(&["save \"\""]);
    let r = Node::start(&["save \"\""]);
    redis_cli(m.port, &["set", "a", "hello"]);
    let out = redis_cli(r.port, &["slaveof", "127.0.0.1", &m.port.to_string()]);
    assert_eq!(out.trim(), "OK");
    wait_synced(&r, &m);
    assert_eq!(redis_cli(r.port, &["get", "a"]).trim(), "hello");
    let info = redis_cli(r.port, &["info", "replication"]);
    assert!(
        info.contains("role:slave") && info.contains("master_link_status:up"),
        "{info}"
    );
}

#[test]
fn wait_counts_acknowledging_replicas() {
    let m = Node::start(&["save \"\""]);
    let r = Node::start(&["save \"\""]);
    replicaof(&r, &m);
    wait_synced(&r, &m);
    let mut mc = m.client();
    let _: () = redis::cmd("SET").arg("w").arg("1").query(&mut mc).unwrap();
    let n: i64 = redis::cmd("WAIT").arg(1).arg(5000).query(&mut mc).unwrap();
    assert_eq!(n, 1);
    let n: i64 = redis::cmd("WAIT").arg(2).arg(200).query(&mut mc).unwrap();
    assert_eq!(n, 1, "times out with the count it has");
    // WAIT asks the replica for an ACK at once (Redis's REPLCONF GETACK)
    // instead of waiting for its once-a-second ACK: each of these would
    // time out more often than not without it.
    for i in 0..3 {
        let _: () = redis::cmd("SET").arg("w").arg(i).query(&mut mc).unwrap();
        let n: i64 = redis::cmd("WAIT").arg(1).arg(400).query(&mut mc).unwrap();
        assert_eq!(n, 1, "WAIT {i} got no ACK within 400 ms");
    }
}

/// A replica paused (SIGSTOP) right after asking for a full sync, while the
/// master takes far more writes than its backlog holds: the WAL from the
/// snapshot's start is pinned, so it catches up with one full sync, not two.
#[test]
fn paused_replica_needs_one_full_sync_not_two() {
    let m = Node::start(&[
        "save \"\"",
        "repl-backlog-size 64kb",
        "wal-segment-size 16kb",
    ]);
    let r = Node::start(&["save \"\""]);
    let mut mc = m.client();
    fill(&mut mc, "pre", 5000);
    replicaof(&r, &m);
    let started = wait_until(Duration::from_secs(10), || r.log().contains("receiving"));
    assert!(started, "the full sync started; log:\n{}", r.log());
    unsafe_kill(r.pid(), "STOP");
    // Far more than the socket buffers hold, so the feed really lags.
    fill_value(&mut mc, "burst", 40_000, &"x".repeat(1000));
    // A newer snapshot moves the "keep back to the newest snapshot" line
    // past what the paused replica needs: only its pin keeps that WAL now.
    assert_eq!(cmd_str(&mut mc, &["SAVE"]), "OK");
    // Give WAL retention (once a second) the chance to drop what it may.
    std::thread::sleep(Duration::from_millis(2500));
    unsafe_kill(r.pid(), "CONT");
    wait_synced(&r, &m);
    let st = info(&mut mc, "stats");
    if info_field(&st, "sync_full").as_deref() != Some("1") {
        eprintln!("REPLICA LOG\n{}\nMASTER LOG\n{}", r.log(), m.log());
    }
    assert_eq!(
        info_field(&st, "sync_full").as_deref(),
        Some("1"),
        "one full sync: {st}"
    );
    // Once caught up, the backlog limit applies again.
    let ok = wait_until(Duration::from_secs(20), || m.wal_segments().len() < 20);
    assert!(
        ok,
        "WAL trimmed after catch-up: {} segments",
        m.wal_segments().len()
    );
}

/// A master that stops answering: the replica notices within repl-timeout,
/// keeps its data, and resumes when the master comes back.
#[test]
fn replica_notices_a_dead_link_within_repl_timeout() {
    let m = Node::start(&["save \"\"", "repl-ping-replica-period 1"]);
    let r = Node::start(&["save \"\"", "repl-timeout 2"]);
    fill(&mut m.client(), "k", 10);
    replicaof(&r, &m);
    wait_synced(&r, &m);
    unsafe_kill(m.pid(), "STOP");
    let t0 = std::time::Instant::now();
    let ok = wait_until(Duration::from_secs(8), || {
        info_field(&info(&mut r.client(), "replication"), "master_link_status").as_deref()
            == Some("down")
    });
    unsafe_kill(m.pid(), "CONT");
    assert!(ok, "link down within repl-timeout; log:\n{}", r.log());
    assert!(
        t0.elapsed() < Duration::from_secs(6),
        "took {:?}",
        t0.elapsed()
    );
    assert!(r.log().contains("repl-timeout"), "logged: {}", r.log());
    fill(&mut m.client(), "later", 10);
    wait_synced(&r, &m);
}

/// A fake master on a test socket: it answers the handshake, then sends a
/// snapshot that is garbage. The replica must refuse it, keep its data and
/// retry.
#[test]
fn damaged_snapshot_from_master_is_refused_and_data_kept() {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let fake_port = listener.local_addr().unwrap().port();
    let r = Node::start(&["save \"\""]);
    fill(&mut r.client(), "mine", 20);
    let served = std::thread::spawn(move || {
        let mut conns = 0;
        listener.set_nonblocking(false).ok();
        while conns < 2 {
            let Ok((mut s, _)) = listener.accept() else {
                break;
            };
            conns += 1;
            s.set_read_timeout(Some(Duration::from_secs(5))).ok();
            let mut buf = [0u8; 4096];
            let mut replies: Vec<Vec<u8>> = vec![
                b"+PONG\r\n".to_vec(),
                b"+OK\r\n".to_vec(),
                b"+OK\r\n".to_vec(),
                // INFO replication (the replica reads the master's
                // history before PSYNC): nothing useful.
                b"$0\r\n\r\n".to_vec(),
            ];
            let bad = if conns == 1 {
                // A valid-looking header, then bytes that are no snapshot.
                let mut v = format!("+FULLRESYNC {} 0\r\n$64\r\n", "a".repeat(40)).into_bytes();
                v.extend_from_slice(&[0x5a; 64]);
                v
            } else {
                b"+WHAT IS THIS\r\n".to_vec()
            };
            replies.push(bad);
            for reply in replies {
                match s.read(&mut buf) {
                    Ok(n) if n > 0 => {}
                    _ => break,
                }
                let _ = s.write_all(&reply);
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    });
    let mut c = r.client();
    let _: () = redis::cmd("REPLICAOF")
        .arg("127.0.0.1")
        .arg(fake_port)
        .query(&mut c)
        .unwrap();
    let ok = wait_until(Duration::from_secs(15), || {
        r.log().contains("unexpected PSYNC reply")
    });
    assert!(ok, "both bad answers were detected; log:\n{}", r.log());
    assert!(
        r.log().contains("received snapshot is damaged"),
        "log:\n{}",
        r.log()
    );
    let _ = served.join();
    let n: i64 = redis::cmd("DBSIZE").query(&mut c).unwrap();
    assert_eq!(n, 20, "the replica's own data is untouched");
    assert_eq!(cmd_str(&mut c, &["GET", "mine3"]), "value-3");
    assert_eq!(cmd_str(&mut c, &["REPLICAOF", "NO", "ONE"]), "OK");
}

#[test]
fn masterauth_and_min_replicas_to_write() {
    let m = Node::start(&[
        "save \"\"",
        "requirepass s3cret",
        "min-replicas-to-write 1",
        "min-replicas-max-lag 10",
    ]);
    let r = Node::start(&["save \"\"", "masterauth s3cret"]);
    let mut mc = redis::Client::open(format!("redis://:s3cret@127.0.0.1:{}/", m.port))
        .unwrap()
        .get_connection()
        .unwrap();
    let e = cmd_str(&mut mc, &["SET", "a", "1"]);
    assert!(
        e.contains("NOREPLICAS") || e.contains("Not enough good replicas"),
        "{e}"
    );
    replicaof(&r, &m);
    let ok = wait_until(Duration::from_secs(15), || {
        cmd_str(&mut mc, &["SET", "a", "1"]) == "OK"
    });
    assert!(
        ok,
        "writes accepted once a replica acknowledges; replica log:\n{}",
        r.log()
    );
    let ok = wait_until(Duration::from_secs(10), || {
        cmd_str(&mut r.client(), &["GET", "a"]) == "1"
    });
    assert!(ok, "replicated through AUTH");
}

/// PSYNC answers checked byte for byte with a raw client: our history at a
/// record boundary continues; an offset never written, one in the middle of
/// a record, or an unknown history get a full sync.
#[test]
fn psync_answers() {
    let m = Node::start(&["save \"\""]);
    let mut mc = m.client();
    fill(&mut mc, "k", 10);
    let i = info(&mut mc, "replication");
    let replid = info_field(&i, "master_replid").unwrap();
    let end: u64 = info_field(&i, "master_repl_offset")
        .unwrap()
        .parse()
        .unwrap();
    let ask = |id: &str, off: u64| -> String {
        let req = format!(
            "*3\r\n$5\r\nPSYNC\r\n${}\r\n{id}\r\n${}\r\n{off}\r\n",
            id.len(),
            off.to_string().len()
        );
        let out = raw_exchange(m.port, req.as_bytes(), Duration::from_millis(500));
        String::from_utf8_lossy(&out[..out.len().min(60)]).into_owned()
    };
    assert!(
        ask(&replid, end + 1).starts_with(&format!("+CONTINUE {replid}")),
        "at the end"
    );
    assert!(
        ask(&replid, 1).starts_with("+CONTINUE"),
        "from the start (still in the WAL)"
    );
    assert!(
        ask(&replid, end + 1000).starts_with("+FULLRESYNC"),
        "an offset never written"
    );
    assert!(
        ask(&replid, 3).starts_with("+FULLRESYNC"),
        "the middle of a record"
    );
    assert!(
        ask(&"f".repeat(40), end + 1).starts_with("+FULLRESYNC"),
        "another history"
    );
    assert!(ask("?", 0).starts_with("+FULLRESYNC"), "PSYNC ? -1 style");
}

/// Replicas asking at about the same time share one snapshot.
#[test]
fn concurrent_full_syncs_share_one_snapshot() {
    let m = Node::start(&["save \"\""]);
    let r1 = Node::start(&["save \"\""]);
    let r2 = Node::start(&["save \"\""]);
    fill(&mut m.client(), "k", 3000);
    replicaof(&r1, &m);
    replicaof(&r2, &m);
    wait_synced(&r1, &m);
    wait_synced(&r2, &m);
    let st = info(&mut m.client(), "stats");
    assert_eq!(info_field(&st, "sync_full").as_deref(), Some("2"));
    let snapshots = m.log().matches("DB saved on disk").count();
    assert_eq!(snapshots, 1, "one snapshot for both; log:\n{}", m.log());
}

/// `replica-serve-stale-data no`: with the link down, data commands answer
/// MASTERDOWN; INFO and PING still answer.
#[test]
fn stale_data_refused_when_asked() {
    let mut m = Node::start(&["save \"\""]);
    let r = Node::start(&["save \"\"", "replica-serve-stale-data no", "repl-timeout 2"]);
    fill(&mut m.client(), "k", 5);
    replicaof(&r, &m);
    wait_synced(&r, &m);
    assert_eq!(cmd_str(&mut r.client(), &["GET", "k1"]), "value-1");
    m.kill9();
    let ok = wait_until(Duration::from_secs(10), || {
        redis_cli(r.port, &["get", "k1"]).contains("MASTERDOWN")
    });
    assert!(ok, "GET refused: {}", redis_cli(r.port, &["get", "k1"]));
    assert_eq!(redis_cli(r.port, &["ping"]).trim(), "PONG");
    assert!(redis_cli(r.port, &["info", "replication"]).contains("master_link_status:down"));
}

/// A replica killed while loading a full sync's snapshot must not come back
/// with half of it mixed into its old data: at startup it drops the
/// incomplete data and gets a full sync again. (The kill is simulated by
/// leaving the in-progress mark the load writes first.)
#[test]
fn interrupted_snapshot_load_is_dropped_and_synced_again() {
    let m = Node::start(&["save \"\""]);
    let mut r = Node::start(&["save \"\""]);
    fill(&mut m.client(), "k", 200);
    replicaof(&r, &m);
    wait_synced(&r, &m);
    r.stop();
    {
        let db = sled::open(r.data_dir().join("sled")).expect("open the replica's sled");
        let meta = db.open_tree("sledis-meta").unwrap();
        meta.insert(b"loading", b"1".as_slice()).unwrap();
        db.flush().unwrap();
    }
    r.launch();
    wait_synced(&r, &m);
    assert!(
        r.log().contains("interrupted full sync"),
        "log:\n{}",
        r.log()
    );
    let st = info(&mut m.client(), "stats");
    assert_eq!(info_field(&st, "sync_full").as_deref(), Some("2"), "{st}");
}

/// `replica-read-only no`: local writes are accepted and stay local (they
/// take no offset, so the master's stream goes on unbroken), as in Redis.
#[test]
fn writable_replica_keeps_local_writes_out_of_the_stream() {
    let m = Node::start(&["save \"\""]);
    let r = Node::start(&["save \"\"", "replica-read-only no"]);
    fill(&mut m.client(), "k", 10);
    replicaof(&r, &m);
    let ok = wait_until(Duration::from_secs(20), || {
        info_field(&info(&mut r.client(), "replication"), "master_link_status").as_deref()
            == Some("up")
    });
    assert!(ok);
    let mut rc = r.client();
    assert_eq!(cmd_str(&mut rc, &["SET", "local", "mine"]), "OK");
    assert_eq!(cmd_str(&mut rc, &["GET", "local"]), "mine");
    assert_eq!(
        info_field(&info(&mut rc, "replication"), "slave_read_only").as_deref(),
        Some("0")
    );
    let mut mc = m.client();
    fill(&mut mc, "later", 20);
    let ok = wait_until(Duration::from_secs(10), || {
        cmd_str(&mut r.client(), &["GET", "later19"]) == "value-19"
    });
    assert!(ok, "the stream goes on; log:\n{}", r.log());
    let ok = wait_until(Duration::from_secs(10), || {
        info_field(&info(&mut r.client(), "replication"), "master_repl_offset")
            == info_field(&info(&mut m.client(), "replication"), "master_repl_offset")
    });
    assert!(ok, "same offsets as the master");
    let st = info(&mut mc, "stats");
    assert_eq!(
        info_field(&st, "sync_full").as_deref(),
        Some("1"),
        "no resync: {st}"
    );
}

/// A replica's connection is a `replica` client (flags `S`), untouched by
/// the `CLIENT KILL TYPE normal` a sentinel sends during a failover; `TYPE
/// replica` drops it and it comes back by partial resync.
#[test]
fn replica_connections_are_typed_for_client_list_and_kill() {
    let m = Node::start(&[]);
    let r = Node::start(&[]);
    replicaof(&r, &m);
    let mut mc = m.client();
    let _: () = redis::cmd("SET")
        .arg("a")
        .arg("1")
        .query(&mut mc)
        .expect("set");
    wait_synced(&r, &m);
    let list = cmd_str(&mut mc, &["CLIENT", "LIST", "TYPE", "replica"]);
    assert_eq!(list.lines().count(), 1, "{list}");
    assert!(list.contains("flags=S"), "{list}");
    assert_eq!(cmd_str(&mut mc, &["CLIENT", "LIST", "TYPE", "slave"]), list);
    assert!(!cmd_str(&mut mc, &["CLIENT", "LIST", "TYPE", "normal"]).contains("flags=S"));
    let partial_before = info_field(&info(&mut mc, "stats"), "sync_partial_ok").unwrap_or_default();
    let killed: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("normal")
        .arg("SKIPME")
        .arg("yes")
        .query(&mut mc)
        .expect("kill normal");
    assert_eq!(killed, 0);
    let _: () = redis::cmd("SET")
        .arg("b")
        .arg("2")
        .query(&mut mc)
        .expect("set");
    wait_synced(&r, &m);
    assert_eq!(
        info_field(&info(&mut mc, "stats"), "sync_partial_ok").unwrap_or_default(),
        partial_before
    );
    let killed: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("replica")
        .query(&mut mc)
        .expect("kill replica");
    assert_eq!(killed, 1);
    let _: () = redis::cmd("SET")
        .arg("c")
        .arg("3")
        .query(&mut mc)
        .expect("set");
    assert!(wait_until(Duration::from_secs(20), || {
        info_field(&info(&mut mc, "stats"), "sync_partial_ok").unwrap_or_default() != partial_before
    }));
    wait_synced(&r, &m);
    assert_eq!(redis_cli(r.port, &["get", "c"]).trim(), "3");
}

/// A full sync bigger than 32 MiB loads through the replica's write buffer:
/// the link comes up before sled has the data, reads see all of it, and
/// the data reaches sled in the background. A replica killed before that
/// drops the half-stored data at restart and syncs in full again; one
/// killed after it resumes partially. Either way it ends equal to its master.
#[test]
fn big_full_sync_loads_through_the_write_buffer() {
    let m = Node::start(&["save \"\""]);
    let mut r = Node::start(&["save \"\""]);
    let mut mc = m.client();
    let value = "v".repeat(120);
    fill_value(&mut mc, "big:", 300_000, &value);
    let _: () = redis::cmd("SET")
        .arg("ttl")
        .arg("x")
        .arg("EX")
        .arg(1000)
        .query(&mut mc)
        .unwrap();
    replicaof(&r, &m);
    let ok = wait_until(Duration::from_secs(60), || {
        let mut rc = r.client();
        info_field(&info(&mut rc, "replication"), "master_link_status").as_deref() == Some("up")
    });
    assert!(ok, "link never came up: {}", r.log());
    let mut rc = r.client();
    let pending = info_field(&info(&mut rc, "persistence"), "sled_load_pending");
    assert!(pending.is_some(), "INFO persistence has sled_load_pending");
    let ks = info(&mut rc, "keyspace");
    assert!(ks.contains("db0:keys=300001,expires=1,"), "{ks}");
    assert_eq!(cmd_str(&mut rc, &["GET", "big:299999"]), value);
    assert!(
        r.log()
            .contains("MASTER <-> REPLICA sync: loaded 300001 keys"),
        "{}",
        r.log()
    );
    let before = info_field(&info(&mut mc, "stats"), "sync_full");
    // Killed while the data may still be on its way into sled.
    let was_pending = pending.as_deref() == Some("1")
        && info_field(&info(&mut rc, "persistence"), "sled_load_pending").as_deref() == Some("1");
    eprintln!("killing the replica with its load pending: {was_pending}");
    r.kill9();
    let _: () = redis::cmd("SET")
        .arg("after")
        .arg("1")
        .query(&mut mc)
        .unwrap();
    r.launch();
    wait_synced(&r, &m);
    let after = info_field(&info(&mut mc, "stats"), "sync_full");
    if was_pending {
        assert_ne!(
            before, after,
            "a half-stored load must be synced in full again"
        );
    }
    // Once sled has it all, a restart resumes partially.
    let mut rc = r.client();
    let ok = wait_until(Duration::from_secs(60), || {
        info_field(&info(&mut rc, "persistence"), "sled_load_pending").as_deref() == Some("0")
    });
    assert!(ok, "the load never reached sled: {}", r.log());
    // The log is written by a flusher thread: poll for the line too.
    let logged = wait_until(Duration::from_secs(10), || {
        r.log().contains("the full sync's data is all in sled")
    });
    assert!(logged, "{}", r.log());
    let full = info_field(&info(&mut mc, "stats"), "sync_full");
    r.kill9();
    let _: () = redis::cmd("SET")
        .arg("later")
        .arg("1")
        .query(&mut mc)
        .unwrap();
    r.launch();
    wait_synced(&r, &m);
    assert_eq!(info_field(&info(&mut mc, "stats"), "sync_full"), full);
    assert_eq!(cmd_str(&mut r.client(), &["GET", "later"]), "1");
    assert_eq!(cmd_str(&mut r.client(), &["DBSIZE"]), "300003");
}

/// `appendfsync always` on both ends: their WALs are zero-filled segments.
/// The replica recovers its own after kill -9 and resumes by partial resync,
/// which the master serves by reading its segment files.
#[test]
fn zero_filled_wal_segments_on_master_and_replica() {
    let cfg = ["save \"\"", "appendfsync always", "wal-segment-size 64kb"];
    let m = Node::start(&cfg);
    let mut r = Node::start(&cfg);
    let mut mc = m.client();
    fill(&mut mc, "a", 3000);
    replicaof(&r, &m);
    wait_synced(&r, &m);
    fill(&mut mc, "b", 3000);
    wait_synced(&r, &m);
    r.kill9();
    fill(&mut mc, "c", 3000);
    r.launch();
    wait_synced(&r, &m);
    let st = info(&mut mc, "stats");
    assert_eq!(info_field(&st, "sync_full").as_deref(), Some("1"), "{st}");
    assert_eq!(
        info_field(&st, "sync_partial_ok").as_deref(),
        Some("1"),
        "{st}"
    );
    assert_eq!(digest(&mut r.client()), digest(&mut mc));
    assert!(
        !r.log().contains("cut "),
        "nothing cut at the replica's restart: {}",
        r.log()
    );
}

/// Issue 17: an old master that returns after a failover drops the writes
/// the new master never had (its divergent tail), keeps them in a
/// `dropped-<replid>-<offset>/` WAL directory that `sledis-dump wal`
/// lists, and ends with exactly the new master's data.
#[test]
fn a_returning_old_master_drops_its_divergent_tail_and_keeps_it_for_the_dump_tool() {
    let (mut m, rs) = replicated_group(1);
    let r = &rs[0];
    let mut mc = m.client();
    fill(&mut mc, "a:", 50);
    wait_synced(r, &m);
    let old_replid = info_value(&mut mc, "replication", "master_replid");
    // Cut the replica off (it keeps its data and history, its link retries
    // a port nobody listens on), then write what only the master gets.
    let nowhere = free_port();
    let mut rc = r.client();
    let () = redis::cmd("REPLICAOF")
        .arg("127.0.0.1")
        .arg(nowhere)
        .query(&mut rc)
        .expect("REPLICAOF");
    let fork = info_num(&mut mc, "replication", "master_repl_offset");
    assert_eq!(
        info_num(&mut rc, "replication", "slave_repl_offset"),
        fork,
        "the replica had everything before the cut"
    );
    fill(&mut mc, "only-old:", 20);
    assert_eq!(cmd_str(&mut mc, &["SET", "a:1", "divergent"]), "OK");
    let old_end = info_num(&mut mc, "replication", "master_repl_offset");
    assert!(old_end > fork);
    m.kill9();
    // The replica is promoted and takes writes of its own.
    follow(&mut rc, None);
    fill(&mut rc, "new:", 10);
    let a1: String = q(&mut rc, &["GET", "a:1"]);
    assert_ne!(a1, "divergent");
    // The old master comes back (as a master, from its config) and is
    // made a replica of the new one.
    m.launch();
    let mut mc = m.client();
    follow(&mut mc, Some(r));
    wait_synced(&m, r);
    assert_eq!(digest(&mut mc), digest(&mut rc));
    let gone: Option<String> = q(&mut mc, &["GET", "only-old:3"]);
    assert_eq!(gone, None, "a write only the old master had is gone");
    let a1_now: String = q(&mut mc, &["GET", "a:1"]);
    assert_eq!(a1_now, a1);
    // What was dropped is kept and named in the log.
    let dropped = m.data_dir().join(format!("dropped-{old_replid}-{fork}"));
    assert!(
        dropped.join(format!("{fork:020}.wal")).is_file(),
        "{} missing; log:\n{}",
        dropped.display(),
        m.log()
    );
    let log = m.log();
    assert!(
        log.contains("dropping 21 WAL records")
            && log.contains(&format!("offsets {fork}..{old_end}"))
            && log.contains(&dropped.display().to_string()),
        "log:\n{log}"
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sledis-dump"))
        .arg("wal")
        .arg(&dropped)
        .output()
        .expect("sledis-dump");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains(&format!("@{fork} "))
            && text.contains("\"only-old:3\"")
            && text.contains("\"a:1\" string"),
        "{text}"
    );
    assert_eq!(text.matches("crc=ok").count(), 21, "{text}");
    // A restart of the old master now resumes by partial resync: nothing
    // more is dropped.
    m.kill9();
    m.launch();
    wait_synced(&m, r);
    assert_eq!(m.log().matches("dropping ").count(), 1);
}

/// The same after two failovers: the old master's history is no longer the
/// new master's replid2 but an older entry of its lineage
/// (`replid_history`), which the new master inherited by partial resync
/// and promotion.
#[test]
fn an_old_master_returning_after_two_failovers_still_finds_its_fork() {
    let (mut m, rs) = replicated_group(2);
    let (r1, r2) = (&rs[0], &rs[1]);
    let mut mc = m.client();
    fill(&mut mc, "a:", 50);
    wait_synced(r1, &m);
    wait_synced(r2, &m);
    let old_replid = info_value(&mut mc, "replication", "master_replid");
    let nowhere = free_port();
    let (mut c1, mut c2) = (r1.client(), r2.client());
    for c in [&mut c1, &mut c2] {
        let () = redis::cmd("REPLICAOF")
            .arg("127.0.0.1")
            .arg(nowhere)
            .query(c)
            .expect("REPLICAOF");
    }
    let fork = info_num(&mut mc, "replication", "master_repl_offset");
    fill(&mut mc, "only-old:", 20);
    m.kill9();
    // First failover: R1; R2 follows it (partial resync).
    follow(&mut c1, None);
    follow(&mut c2, Some(r1));
    fill(&mut c1, "one:", 10);
    wait_synced(r2, r1);
    // Second failover: R2.
    follow(&mut c2, None);
    fill(&mut c2, "two:", 10);
    let history = info_value(&mut c2, "replication", "replid_history");
    assert!(
        history.contains(&format!("{old_replid}:{}", fork + 1)),
        "replid_history {history:?}"
    );
    m.launch();
    let mut mc = m.client();
    follow(&mut mc, Some(r2));
    wait_synced(&m, r2);
    assert_eq!(digest(&mut mc), digest(&mut c2));
    let dropped = m.data_dir().join(format!("dropped-{old_replid}-{fork}"));
    assert!(
        dropped.join(format!("{fork:020}.wal")).is_file(),
        "log:\n{}",
        m.log()
    );
    assert!(m.log().contains("dropping 20 WAL records"), "{}", m.log());
    // The returned node inherited the lineage with its full sync.
    let h: String = info_value(&mut mc, "replication", "replid_history");
    assert!(h.contains(&old_replid), "{h:?}");
}

/// A string past 64 MiB (the old per-pair limit of the snapshot format)
/// is saved, and a replica gets it whole by full sync.
#[test]
fn a_value_over_64mb_saves_and_full_syncs() {
    let m = Node::start(&[]);
    let mut c = Resp::connect(m.port);
    c.set_timeout(Duration::from_secs(120));
    // 80 MB of zeros, a few marks in it.
    let len = 80_000_000;
    assert_eq!(
        c.q(&["SETRANGE", "big", &(len - 1).to_string(), "z"]),
        int(len)
    );
    assert_eq!(c.q(&["SETRANGE", "big", "1234567", "mark"]), int(len));
    assert_eq!(c.q(&["SAVE"]), ok());
    let r = Node::start(&[]);
    let _rc = replicaof(&r, &m);
    wait_synced(&r, &m);
    let mut rc = Resp::connect(r.port);
    rc.set_timeout(Duration::from_secs(120));
    assert_eq!(rc.q(&["STRLEN", "big"]), int(len));
    assert_eq!(
        rc.q(&["GETRANGE", "big", "1234567", "1234570"]),
        bulk("mark")
    );
    assert_eq!(rc.q(&["GETRANGE", "big", "-1", "-1"]), bulk("z"));
    assert_eq!(digest_at(r.port), digest_at(m.port));
}
