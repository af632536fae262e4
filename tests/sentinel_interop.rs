//! A real `redis-sentinel` (Debian's package) monitoring sledis nodes: it
//! must see the replica, fail over when the master is killed, and turn the
//! returning old master into a replica of the new one.

mod support;
use std::time::Duration;
use support::*;

/// Debian's `redis-sentinel` monitoring `master_port` (quorum 1, down after
/// 1 s).
fn start_sentinel(master_port: u16) -> SentinelProc {
    SentinelProc::start_bin("redis-sentinel", &monitor_lines(master_port, 1, 1000))
}

#[test]
fn real_redis_sentinel_fails_over_sledis_nodes() {
    let mut m = Node::start(&["save \"\""]);
    let r = Node::start(&["save \"\""]);
    redis_cli(m.port, &["set", "before", "1"]);
    assert_eq!(
        redis_cli(r.port, &["replicaof", "127.0.0.1", &m.port.to_string()]).trim(),
        "OK"
    );
    assert!(wait_until(Duration::from_secs(10), || redis_cli(
        r.port,
        &["get", "before"]
    )
    .trim()
        == "1"));
    let s = start_sentinel(m.port);
    // The sentinel discovers the replica from the master's INFO.
    let found = wait_until(Duration::from_secs(20), || {
        redis_cli(s.port, &["sentinel", "replicas", "mymaster"]).contains(&r.port.to_string())
    });
    assert!(
        found,
        "sentinel sees the replica: {}",
        redis_cli(s.port, &["sentinel", "replicas", "mymaster"])
    );
    m.kill9();
    let switched = wait_until(Duration::from_secs(20), || {
        redis_cli(s.port, &["sentinel", "get-master-addr-by-name", "mymaster"])
            .contains(&r.port.to_string())
    });
    assert!(
        switched,
        "failover to the replica; replica log:\n{}",
        r.log()
    );
    let writable = wait_until(Duration::from_secs(10), || {
        redis_cli(r.port, &["set", "after", "2"]).trim() == "OK"
    });
    assert!(writable, "the promoted replica takes writes");
    assert_eq!(redis_cli(r.port, &["get", "before"]).trim(), "1");
    // Redis Sentinel 7.0 itself sometimes marks the new master +sdown for
    // ~100 ms about 1 s after +switch-master, with redis-server nodes too
    // (1 run in 6 here; with sledis nodes 0 in 6): the reset master's
    // act_ping_time starts at the switch, but the reconnect to the new
    // address waits for the 1 s reconnect period of the old, dead link.
    // An old master back within that window can be promoted back, so it
    // returns once the sentinel has seen the new master up past that moment.
    let settled = wait_until(Duration::from_secs(10), || {
        let flags = redis_cli(s.port, &["sentinel", "master", "mymaster"]);
        let up = flags.lines().skip_while(|l| *l != "flags").nth(1) == Some("master");
        let ok_reply: u64 = flags
            .lines()
            .skip_while(|l| *l != "role-reported-time")
            .nth(1)
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        up && ok_reply > 2000
    });
    assert!(settled, "sentinel settled on the new master");
    // The old master comes back and is turned into a replica of the new one.
    // Redis Sentinel reads a replica's INFO every 10 s and converts it after
    // it has reported `master` for 8 s: up to about 20 s, more under load.
    m.launch();
    let converted = wait_until(Duration::from_secs(60), || {
        redis_cli(m.port, &["get", "after"]).trim() == "2"
    });
    assert!(
        converted,
        "old master repointed; its role: {}\nreplica {} role: {}\nsentinel log:\n{}\nold master log:\n{}",
        redis_cli(m.port, &["role"]),
        r.port,
        redis_cli(r.port, &["role"]),
        s.log(),
        m.log()
    );
    assert!(redis_cli(m.port, &["role"]).starts_with("slave"));
}

/// The other direction: `sledis-sentinel` watching real `redis-server`
/// nodes fails them over and repoints the returning old master.
#[test]
fn sledis_sentinel_fails_over_real_redis_nodes() {
    let mut m = RealRedis::start(&[]);
    let mport = m.port.to_string();
    let rs: Vec<RealRedis> = (0..2)
        .map(|_| RealRedis::start(&["--replicaof", "127.0.0.1", &mport]))
        .collect();
    redis_cli(m.port, &["set", "before", "1"]);
    for r in &rs {
        assert!(wait_until(Duration::from_secs(20), || redis_cli(
            r.port,
            &["get", "before"]
        )
        .trim()
            == "1"));
    }
    let s = SentinelProc::start(&monitor_lines(m.port, 1, 1000));
    assert!(
        wait_until(Duration::from_secs(20), || s
            .master_field("mymaster", "num-slaves")
            .as_deref()
            == Some("2")),
        "sentinel finds the redis replicas; log:\n{}",
        s.log()
    );
    let ev = Events::subscribe(s.port);
    m.kill9();
    assert!(
        ev.wait("+switch-master", "mymaster", Duration::from_secs(20)),
        "failover; events {:?}\nlog:\n{}",
        ev.all(),
        s.log()
    );
    let new_port = s.master_port("mymaster").expect("addr");
    let other = rs
        .iter()
        .find(|r| r.port != new_port)
        .expect("other replica");
    assert_eq!(redis_cli(new_port, &["set", "after", "2"]).trim(), "OK");
    assert!(
        wait_until(Duration::from_secs(20), || redis_cli(
            other.port,
            &["get", "after"]
        )
        .trim()
            == "2"),
        "the other redis replica follows the new master: {}",
        redis_cli(other.port, &["info", "replication"])
    );
    m.restart();
    assert!(
        wait_until(Duration::from_secs(40), || redis_cli(
            m.port,
            &["get", "after"]
        )
        .trim()
            == "2"),
        "old redis master repointed: {}",
        redis_cli(m.port, &["role"])
    );
    assert!(redis_cli(m.port, &["role"]).starts_with("slave"));
}
