//! WAIT, WAITAOF and synchronous replication (`sync-replicas`): counts
//! with one and two replicas, a paused (SIGSTOP) replica, the FACK form of
//! REPLCONF ACK and the plain one, and writes that fail with NOREPLICAS
//! while the replica is paused and succeed once it runs again. Every wait
//! is a poll with a deadline or a server-side timeout; nothing asserts on
//! how long anything took.

mod support;

use std::io::Write;
use std::time::Duration;
use support::*;

/// SIGSTOPs a process and SIGCONTs it when dropped (also when a test
/// fails), so no node is left stopped.
struct Paused(u32);

impl Paused {
    fn new(pid: u32) -> Paused {
        unsafe_kill(pid, "STOP");
        Paused(pid)
    }
}

impl Drop for Paused {
    fn drop(&mut self) {
        unsafe_kill(self.0, "CONT");
    }
}

/// An error reply starting with `prefix` (its text after the `-`).
fn error_starting(r: &Reply, prefix: &str) -> bool {
    r.is_error() && format!("{r:?}").starts_with(&format!("-{prefix}"))
}

fn waitaof(c: &mut Resp, local: i64, n: i64, ms: i64) -> (i64, i64) {
    let r = c.q(&[
        "WAITAOF",
        &local.to_string(),
        &n.to_string(),
        &ms.to_string(),
    ]);
    assert!(!r.is_error(), "WAITAOF {local} {n} {ms}: {r:?}");
    let items = r.items();
    assert_eq!(items.len(), 2, "WAITAOF replies [local, replicas]: {r:?}");
    (items[0].int(), items[1].int())
}

#[test]
fn wait_counts_one_and_two_replicas_and_a_paused_one() {
    let (m, rs) = replicated_group(2);
    let mut c = Resp::connect(m.port);
    assert_eq!(c.qs("SET a 1"), ok());
    assert_eq!(c.qs("WAIT 2 10000").int(), 2);
    assert_eq!(c.qs("SET a 2"), ok());
    // Both replicas may have acknowledged by the time one is enough.
    let n = c.qs("WAIT 1 10000").int();
    assert!((1..=2).contains(&n), "WAIT 1: {n}");
    // Many in a row: each returns with both (no 10 ms poll, no 1 s ACK).
    for i in 0..50 {
        assert_eq!(c.q(&["SET", "a", &i.to_string()]), ok());
        assert_eq!(c.qs("WAIT 2 10000").int(), 2, "WAIT {i}");
    }
    {
        let _p = Paused::new(rs[1].pid());
        assert_eq!(c.qs("SET a paused"), ok());
        assert_eq!(
            c.qs("WAIT 2 300").int(),
            1,
            "times out with the running replica's ACK only"
        );
        // Inside MULTI it answers at once with what it has.
        assert_eq!(c.qs("MULTI"), ok());
        assert_eq!(c.qs("WAIT 2 0"), st("QUEUED"));
        let exec = c.qs("EXEC");
        assert_eq!(exec.items()[0].int(), 1, "{exec:?}");
    }
    // Resumed: it catches up and acknowledges.
    assert_eq!(c.qs("WAIT 2 10000").int(), 2);
    for r in &rs {
        assert_eq!(redis_cli(r.port, &["get", "a"]).trim(), "paused");
    }
}

/// min-replicas-to-write with no replica, in and out of MULTI, as Redis
/// 7.0 answers (sync-replicas refuses the same way, before applying).
#[test]
fn min_replicas_refusals_match_redis() {
    both(&["min-replicas-to-write 1"], |port, t| {
        let mut c = Resp::connect(port);
        if t == Target::Redis {
            assert_eq!(c.qs("CONFIG SET min-replicas-to-write 1"), ok());
        }
        let no = err("NOREPLICAS Not enough good replicas to write.");
        script(
            &mut c,
            t,
            &[
                ("SET a 1", no.clone()),
                ("GET a", Reply::Nil),
                ("MULTI", ok()),
                ("GET a", st("QUEUED")),
                ("SET a 1", no.clone()),
                (
                    "EXEC",
                    err("EXECABORT Transaction discarded because of previous errors."),
                ),
                ("MULTI", ok()),
                ("GET a", st("QUEUED")),
                ("EXEC", arr(vec![Reply::Nil])),
            ],
        );
    });
}

/// A WAIT without a timeout ends with its client: the connection goes
/// away on the server too.
#[test]
fn wait_forever_ends_when_the_client_goes() {
    let m = Node::start(&[]);
    let mut admin = m.client();
    let before = info_num(&mut admin, "clients", "connected_clients");
    {
        let mut c = Resp::connect(m.port);
        assert_eq!(c.qs("SET a 1"), ok());
        c.send(&["WAIT", "1", "0"]);
        assert!(
            wait_until(Duration::from_secs(10), || info_num(
                &mut admin,
                "clients",
                "connected_clients"
            ) == before + 1),
            "the waiting client is connected"
        );
    }
    assert!(
        wait_until(Duration::from_secs(10), || info_num(
            &mut admin,
            "clients",
            "connected_clients"
        ) == before),
        "the waiting client's connection is closed on the server"
    );
}

#[test]
fn wait_errors_match_redis() {
    both(&[], |port, t| {
        let mut c = Resp::connect(port);
        script(
            &mut c,
            t,
            &[
                ("WAIT x 1", err(NOT_INT)),
                (
                    "WAIT 1 x",
                    err("ERR timeout is not an integer or out of range"),
                ),
                ("WAIT 1 -1", err("ERR timeout is negative")),
                ("WAIT 0 0", int(0)),
                ("WAIT -1 10", int(0)),
            ],
        );
    });
}

/// Redis 7.2's WAITAOF; Debian's redis-server is 7.0, which lacks it, so
/// the replies are Redis 7.2's as documented and as its test suite checks.
#[test]
fn waitaof_replies() {
    let (m, rs) = replicated_group(1);
    let mut c = Resp::connect(m.port);
    script(
        &mut c,
        Target::Sledis,
        &[
            (
                "WAITAOF 2 0 0",
                err("ERR value is out of range, value must between 0 and 1"),
            ),
            (
                "WAITAOF -1 0 0",
                err("ERR value is out of range, value must between 0 and 1"),
            ),
            (
                "WAITAOF 0 -1 0",
                err("ERR value is out of range, must be positive"),
            ),
            ("WAITAOF 0 0 -1", err("ERR timeout is negative")),
            ("WAITAOF x 0 0", err(NOT_INT)),
            ("WAITAOF 0 x 0", err(NOT_INT)),
            (
                "WAITAOF 0 0 x",
                err("ERR timeout is not an integer or out of range"),
            ),
            (
                "WAITAOF 0 0",
                err("ERR wrong number of arguments for 'waitaof' command"),
            ),
        ],
    );
    // The default appendfsync everysec: WAITAOF asks for the fsyncs, on
    // the master and on the replica, instead of waiting for the next one.
    assert_eq!(c.qs("SET a 1"), ok());
    assert_eq!(waitaof(&mut c, 1, 1, 10000), (1, 1));
    assert_eq!(waitaof(&mut c, 1, 0, 0), (1, 1), "nothing new to wait for");
    assert_eq!(c.qs("SET a 2"), ok());
    // One replica only: times out with its count (the local fsync was
    // not asked for, so it may or may not have happened).
    let (local, n) = waitaof(&mut c, 0, 2, 300);
    assert!(local <= 1 && n == 1, "{local} {n}");
    // In MULTI it answers at once.
    assert_eq!(c.qs("MULTI"), ok());
    assert_eq!(c.qs("SET a 3"), st("QUEUED"));
    assert_eq!(c.qs("WAITAOF 0 5 0"), st("QUEUED"));
    let exec = c.qs("EXEC");
    assert_eq!(exec.items().len(), 2, "{exec:?}");
    assert_eq!(exec.items()[1].items().len(), 2, "{exec:?}");
    // A paused replica fsyncs nothing: the count is the master's alone.
    {
        let _p = Paused::new(rs[0].pid());
        assert_eq!(c.qs("SET a 4"), ok());
        assert_eq!(waitaof(&mut c, 1, 1, 300), (1, 0));
    }
    assert_eq!(waitaof(&mut c, 1, 1, 10000), (1, 1));
    // On a replica, an error, as Redis's.
    let mut rc = Resp::connect(rs[0].port);
    let r = rc.qs("WAITAOF 0 0 0");
    assert!(
        error_starting(&r, "ERR WAITAOF cannot be used with replica instances"),
        "{r:?}"
    );
}

/// The master takes Redis 7.2's `REPLCONF ACK <off> FACK <fsynced>` and the
/// plain `REPLCONF ACK <off>` of older replicas: the plain form counts for
/// WAIT, never for WAITAOF.
#[test]
fn plain_and_fack_acks_from_a_hand_made_replica() {
    let m = Node::start(&["save \"\""]);
    let mut c = Resp::connect(m.port);
    assert_eq!(c.qs("SET a 1"), ok());
    let end = info_num(&mut m.client(), "replication", "master_repl_offset");
    let mut fake = std::net::TcpStream::connect(("127.0.0.1", m.port)).expect("connect");
    let send = |s: &mut std::net::TcpStream, args: &[&str]| {
        s.write_all(&Resp::encode(args)).expect("send");
    };
    send(&mut fake, &["REPLCONF", "listening-port", "1"]);
    send(&mut fake, &["PSYNC", "?", "-1"]);
    let online = || {
        info_field(&redis_cli(m.port, &["info", "replication"]), "slave0")
            .is_some_and(|l| l.contains("state=online"))
    };
    assert!(
        wait_until(Duration::from_secs(20), online),
        "fake replica online"
    );
    let acked = (end + 10).to_string();
    send(&mut fake, &["REPLCONF", "ACK", &acked]);
    assert!(
        wait_until(Duration::from_secs(20), || {
            info_field(&redis_cli(m.port, &["info", "replication"]), "slave0")
                .is_some_and(|l| l.contains(&format!("offset={acked}")))
        }),
        "plain ACK taken"
    );
    assert_eq!(c.qs("WAIT 1 100").int(), 1);
    assert_eq!(waitaof(&mut c, 0, 1, 100).1, 0, "no FACK: nothing fsynced");
    send(&mut fake, &["REPLCONF", "ACK", &acked, "FACK", &acked]);
    assert_eq!(waitaof(&mut c, 0, 1, 10000).1, 1);
}

#[test]
fn sync_replicas_waits_for_the_replica_and_fails_while_it_is_paused() {
    let m = Node::start(&["sync-replicas 1", "sync-replicas-timeout 300"]);
    let mut c = Resp::connect(m.port);
    // No replica at all: refused before anything is applied.
    let r = c.qs("SET early 1");
    assert_eq!(r, err("NOREPLICAS Not enough good replicas to write."));
    assert_eq!(
        c.qs("EXISTS early"),
        int(0),
        "a refused write is not applied"
    );
    assert_eq!(c.qs("GET early"), Reply::Nil);
    // A transaction is refused whole, as with min-replicas-to-write.
    assert_eq!(c.qs("MULTI"), ok());
    assert_eq!(c.qs("GET early"), st("QUEUED"));
    assert_eq!(
        c.qs("SET early 1"),
        err("NOREPLICAS Not enough good replicas to write.")
    );
    assert_eq!(
        c.qs("EXEC"),
        err("EXECABORT Transaction discarded because of previous errors.")
    );
    assert_eq!(c.qs("EXISTS early"), int(0));

    let r = Node::start(&[&format!("replicaof 127.0.0.1 {}", m.port)]);
    assert!(
        wait_until(Duration::from_secs(20), || c.qs("SET a 1") == ok()),
        "writes succeed once the replica is online; log:\n{}",
        m.log()
    );
    // Acknowledged means the replica has it: readable there at once.
    for i in 0..20 {
        assert_eq!(c.q(&["SET", "k", &i.to_string()]), ok());
        assert_eq!(redis_cli(r.port, &["get", "k"]).trim(), i.to_string());
    }
    {
        let _p = Paused::new(r.pid());
        let e = c.qs("SET b 1");
        assert!(
            error_starting(&e, "NOREPLICAS "),
            "a write the paused replica cannot acknowledge fails: {e:?}"
        );
        // A pipeline: only the write's reply is replaced.
        let mut p = Vec::new();
        for line in [&["GET", "a"][..], &["SET", "c", "1"], &["GET", "a"]] {
            p.extend(Resp::encode(line));
        }
        c.send_raw(&p);
        assert_eq!(c.read(), bulk("1"));
        let e = c.read();
        assert!(error_starting(&e, "NOREPLICAS "), "{e:?}");
        assert_eq!(c.read(), bulk("1"));
        // A request sent while a write waits runs after it, without the
        // client sending anything more.
        c.send(&["SET", "c", "2"]);
        c.send(&["GET", "a"]);
        let e = c.read();
        assert!(error_starting(&e, "NOREPLICAS "), "{e:?}");
        assert_eq!(c.read(), bulk("1"));
        // A transaction fails as a whole.
        assert_eq!(c.qs("MULTI"), ok());
        assert_eq!(c.qs("SET d 1"), st("QUEUED"));
        assert_eq!(c.qs("INCR n"), st("QUEUED"));
        let e = c.qs("EXEC");
        assert!(error_starting(&e, "NOREPLICAS "), "{e:?}");
        // Reads go on.
        assert_eq!(c.qs("GET a"), bulk("1"));
    }
    // Resumed: writes are acknowledged again (the failed ones are applied
    // on the master and reach the replica now; their fate was in doubt).
    assert!(
        wait_until(Duration::from_secs(20), || c.qs("SET e 1") == ok()),
        "writes succeed again after SIGCONT"
    );
    assert_eq!(redis_cli(r.port, &["get", "e"]).trim(), "1");
    assert_eq!(redis_cli(r.port, &["get", "n"]).trim(), "1");
    // CONFIG SET turns it off: no replica needed any more.
    assert_eq!(c.qs("CONFIG SET sync-replicas 0"), ok());
    drop(r);
    assert_eq!(c.qs("SET f 1"), ok());
}
