//! Lists (src/command/list.rs, blocking pops in src/command/blocking.rs)
//! as users see them: long lists edited in the middle answer exactly
//! like a real redis-server; blocking pops (order, timeouts, disconnects,
//! EXEC, CLIENT UNBLOCK, REPLICAOF) behave as Redis's do, checked by running
//! the same scenario against both; lists replicate and survive `kill -9`.

mod support;

use std::time::{Duration, Instant};
use support::*;

fn value(r: &mut Rng) -> String {
    format!("v{}", r.below(60))
}

/// One random list command on lists `a` / `b` of a few thousand items.
fn edit(r: &mut Rng) -> Vec<String> {
    let s = |x: &str| x.to_string();
    let key = if r.below(4) == 0 { s("b") } else { s("a") };
    let idx = |r: &mut Rng| r.range(-3500, 3500).to_string();
    match r.below(13) {
        0 => vec![
            s("LINSERT"),
            key,
            s(["BEFORE", "AFTER"][r.below(2) as usize]),
            value(r),
            value(r),
        ],
        1 => vec![s("LREM"), key, r.range(-3, 3).to_string(), value(r)],
        2 => vec![s("LSET"), key, idx(r), value(r)],
        3 => vec![s("LINDEX"), key, idx(r)],
        4 | 5 => {
            let start = r.range(-3000, 3000);
            vec![
                s("LRANGE"),
                key,
                start.to_string(),
                (start + r.range(-5, 60)).to_string(),
            ]
        }
        6 => vec![
            s("LPOS"),
            key,
            value(r),
            s("RANK"),
            r.range(-4, 4).max(1).to_string(),
            s("COUNT"),
            r.range(0, 5).to_string(),
        ],
        7 => vec![
            s(["LPOP", "RPOP"][r.below(2) as usize]),
            key,
            r.range(0, 20).to_string(),
        ],
        8 => vec![
            s(["LPUSH", "RPUSH"][r.below(2) as usize]),
            key,
            value(r),
            value(r),
        ],
        9 => vec![
            s("LMOVE"),
            key,
            s("b"),
            s(["LEFT", "RIGHT"][r.below(2) as usize]),
            s(["LEFT", "RIGHT"][r.below(2) as usize]),
        ],
        10 => vec![
            s("LTRIM"),
            key,
            r.range(0, 5).to_string(),
            r.range(-6, -1).to_string(),
        ],
        11 => vec![s("LLEN"), key],
        _ => vec![
            s("LPOS"),
            key,
            value(r),
            s("RANK"),
            r.range(-3, -1).to_string(),
            s("MAXLEN"),
            r.range(0, 2000).to_string(),
        ],
    }
}

#[test]
fn long_lists_edited_in_the_middle_match_redis() {
    let real = RealRedis::start(&[]);
    let node = Node::start(&[]);
    let mut rc = Resp::connect(real.port);
    let mut sc = Resp::connect(node.port);
    let mut r = Rng(0x0115_7ED1_7000_0001);
    // Two long lists built from both ends.
    for i in 0..60 {
        let mut cmd = vec![
            if i % 3 == 0 { "LPUSH" } else { "RPUSH" }.to_string(),
            "a".into(),
        ];
        for _ in 0..50 {
            cmd.push(value(&mut r));
        }
        assert_eq!(rc.q(&cmd), sc.q(&cmd));
    }
    let mut last = Vec::new();
    for n in 0..1500 {
        let cmd = edit(&mut r);
        let (a, b) = (rc.q(&cmd), sc.q(&cmd));
        assert_eq!(a, b, "command #{n} {cmd:?}; before: {last:?}");
        last = cmd;
    }
    // Still long: the edits worked in the middle of thousands of items.
    assert!(sc.q(&["LLEN", "a"]).int() > 1000);
    for k in ["a", "b"] {
        let full = ["LRANGE", k, "0", "-1"];
        assert_eq!(rc.q(&full), sc.q(&full), "whole list {k}");
    }
}

/// A blocking scenario, run against any server: what each client saw.
fn blocking_scenario(port: u16) -> Vec<(String, Reply)> {
    let mut seen = Vec::new();
    let mut admin = Resp::connect(port);
    let blocked = |n: usize| {
        wait_until(Duration::from_secs(10), || {
            let mut c = Resp::connect(port);
            info_field(&c.q(&["INFO", "clients"]).text(), "blocked_clients").as_deref()
                == Some(&n.to_string())
        })
    };
    // Three clients block on q, in order; one push of two items serves the
    // first two in the order they blocked; the third times out.
    let mut c1 = Resp::connect(port);
    c1.send(&["BLPOP", "q", "other", "0"]);
    assert!(blocked(1));
    let mut c2 = Resp::connect(port);
    c2.send(&["BRPOP", "q", "0"]);
    assert!(blocked(2));
    let mut c3 = Resp::connect(port);
    let t3 = Instant::now();
    c3.send(&["BLPOP", "q", "0.6"]);
    assert!(blocked(3));
    seen.push(("rpush".into(), admin.q(&["RPUSH", "q", "x", "y"])));
    seen.push(("c1".into(), c1.read()));
    seen.push(("c2".into(), c2.read()));
    seen.push(("c3 timeout".into(), c3.read()));
    assert!(
        t3.elapsed() >= Duration::from_millis(550),
        "timeout honoured"
    );
    seen.push(("llen".into(), admin.q(&["LLEN", "q"])));
    // A client that goes away while blocked takes nothing.
    {
        let mut gone = Resp::connect(port);
        gone.send(&["BLPOP", "q", "0"]);
        assert!(blocked(1));
    }
    assert!(blocked(0), "a closed blocked client is forgotten");
    seen.push(("push after close".into(), admin.q(&["RPUSH", "q", "kept"])));
    seen.push(("still there".into(), admin.q(&["LRANGE", "q", "0", "-1"])));
    seen.push(("del".into(), admin.q(&["DEL", "q"])));
    // BLMOVE woken by a transaction; a blocking pop inside MULTI does not block.
    c1.send(&["BLMOVE", "src", "dst", "RIGHT", "LEFT", "0"]);
    assert!(blocked(1));
    seen.push(("multi".into(), admin.q(&["MULTI"])));
    seen.push(("queued".into(), admin.q(&["RPUSH", "src", "a", "b"])));
    seen.push(("queued".into(), admin.q(&["BLPOP", "empty", "0"])));
    seen.push((
        "queued".into(),
        admin.q(&["BLMOVE", "empty", "dst", "LEFT", "LEFT", "0"]),
    ));
    seen.push(("exec".into(), admin.q(&["EXEC"])));
    seen.push(("blmove".into(), c1.read()));
    seen.push(("dst".into(), admin.q(&["LRANGE", "dst", "0", "-1"])));
    seen.push(("src".into(), admin.q(&["LRANGE", "src", "0", "-1"])));
    // Sorted sets: BZPOPMIN served by ZADD, BZMPOP by a second ZADD, a
    // BZPOPMAX timing out.
    c1.send(&["BZPOPMIN", "z1", "z2", "0"]);
    assert!(blocked(1));
    seen.push((
        "zadd".into(),
        admin.q(&["ZADD", "z2", "2.5", "b", "1", "a"]),
    ));
    seen.push(("bzpopmin".into(), c1.read()));
    c1.send(&["BZMPOP", "0", "2", "z3", "z2", "MAX", "COUNT", "5"]);
    seen.push(("bzmpop at once".into(), c1.read()));
    c1.send(&["BZMPOP", "0", "1", "z3", "MIN"]);
    assert!(blocked(1));
    seen.push(("zadd z3".into(), admin.q(&["ZADD", "z3", "7", "x"])));
    seen.push(("bzmpop".into(), c1.read()));
    seen.push(("bzpopmax timeout".into(), c1.q(&["BZPOPMAX", "z4", "0.05"])));
    seen.push(("bzpop bad timeout".into(), c1.q(&["BZPOPMIN", "z4", "-1"])));
    // CLIENT UNBLOCK, both ways.
    let id2 = c2.q(&["CLIENT", "ID"]).int().to_string();
    c2.send(&["BLPOP", "nothing", "0"]);
    assert!(blocked(1));
    seen.push(("unblock".into(), admin.q(&["CLIENT", "UNBLOCK", &id2])));
    seen.push(("c2 unblocked".into(), c2.read()));
    c2.send(&["BLPOP", "nothing", "0"]);
    assert!(blocked(1));
    seen.push((
        "unblock error".into(),
        admin.q(&["CLIENT", "UNBLOCK", &id2, "ERROR"]),
    ));
    seen.push(("c2 error".into(), c2.read()));
    seen.push(("not blocked".into(), admin.q(&["CLIENT", "UNBLOCK", &id2])));
    // A master turned replica unblocks its blocked writers with an error.
    c2.send(&["BRPOPLPUSH", "nothing", "dst", "0"]);
    assert!(blocked(1));
    seen.push((
        "replicaof".into(),
        admin.q(&["REPLICAOF", "127.0.0.1", "1"]),
    ));
    seen.push(("c2 replica".into(), c2.read()));
    // ... and closes their connections.
    c2.set_timeout(Duration::from_secs(5));
    seen.push(("c2 closed".into(), Reply::Bool(c2.closed())));
    let mut c4 = Resp::connect(port);
    seen.push(("readonly".into(), c4.q(&["BLPOP", "dst", "0"])));
    seen.push(("no one".into(), admin.q(&["REPLICAOF", "NO", "ONE"])));
    seen
}

#[test]
fn blocking_pops_behave_like_redis() {
    let real = RealRedis::start(&[]);
    let node = Node::start(&[]);
    let want = blocking_scenario(real.port);
    let got = blocking_scenario(node.port);
    for (w, g) in want.iter().zip(&got) {
        assert_eq!(w, g);
    }
    assert_eq!(want.len(), got.len());
}

#[test]
fn lists_replicate_and_survive_kill9() {
    let mut m = Node::start(&[]);
    let r = Node::start(&[]);
    let mut mc = Resp::connect(m.port);
    let mut rng = Rng(7);
    for _ in 0..40 {
        let mut cmd = vec!["RPUSH".to_string(), "a".into()];
        for _ in 0..50 {
            cmd.push(value(&mut rng));
        }
        mc.q(&cmd);
    }
    assert_eq!(
        redis_cli(r.port, &["replicaof", "127.0.0.1", &m.port.to_string()]).trim(),
        "OK"
    );
    // Edits during and after the full sync, and a blocking pop served by a
    // push: all of it reaches the replica as effects.
    let mut waiter = Resp::connect(m.port);
    waiter.send(&["BLPOP", "jobs", "0"]);
    for _ in 0..300 {
        let cmd = edit(&mut rng);
        mc.q(&cmd);
    }
    mc.q(&["RPUSH", "jobs", "j1", "j2"]);
    assert_eq!(waiter.read(), bulks(&["jobs", "j1"]));
    mc.q(&["RENAME", "b", "b2"]);
    assert!(
        wait_until(Duration::from_secs(30), || digest_at(m.port)
            == digest_at(r.port)),
        "replica digest equals master's; log:\n{}",
        r.log()
    );
    assert_eq!(
        redis_cli(r.port, &["lrange", "jobs", "0", "-1"]).trim(),
        "j2"
    );
    let before = mc.q(&["LRANGE", "a", "0", "-1"]);
    let b2 = mc.q(&["LRANGE", "b2", "0", "-1"]);
    assert!(before.items().len() > 100);
    m.kill9();
    m.launch();
    let mut mc = Resp::connect(m.port);
    assert_eq!(mc.q(&["LRANGE", "a", "0", "-1"]), before);
    assert_eq!(mc.q(&["LRANGE", "b2", "0", "-1"]), b2);
    assert_eq!(mc.q(&["TYPE", "a"]), st("list"));
}

#[test]
fn a_client_blocked_on_a_writable_replica_is_served_by_the_replication_stream() {
    let m = Node::start(&[]);
    let r = Node::start(&["replica-read-only no"]);
    assert_eq!(
        redis_cli(r.port, &["replicaof", "127.0.0.1", &m.port.to_string()]).trim(),
        "OK"
    );
    assert!(wait_until(Duration::from_secs(20), || redis_cli(
        r.port,
        &["info", "replication"]
    )
    .contains("master_link_status:up")));
    let mut c = Resp::connect(r.port);
    c.send(&["BLPOP", "q", "10"]);
    assert!(wait_until(Duration::from_secs(10), || {
        info_field(&redis_cli(r.port, &["info", "clients"]), "blocked_clients").as_deref()
            == Some("1")
    }));
    // The push arrives through the master's stream and wakes the client.
    assert_eq!(redis_cli(m.port, &["rpush", "q", "x"]).trim(), "1");
    assert_eq!(c.read(), bulks(&["q", "x"]));
}
