//! `sledis-sentinel` with real `sledis-server` groups: failover after
//! `kill -9` of the master with a writer running, the old master repointed
//! when it returns, quorum and majority rules, manual failover, state kept
//! across a sentinel restart, and bad input.

mod support;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::*;

/// Writes `w:<n>` to whatever the sentinel calls the master, until stopped;
/// returns the writes each port acknowledged.
struct Writer {
    stop: Arc<AtomicBool>,
    acked: Arc<Mutex<Vec<(u16, u64)>>>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Writer {
    fn start(sentinel_port: u16) -> Writer {
        let stop = Arc::new(AtomicBool::new(false));
        let acked = Arc::new(Mutex::new(Vec::new()));
        let (s2, a2) = (stop.clone(), acked.clone());
        let handle = std::thread::spawn(move || {
            let mut n = 0u64;
            let mut conn: Option<(u16, redis::Connection)> = None;
            while !s2.load(Ordering::Relaxed) {
                if conn.is_none() {
                    let addr = redis_cli(
                        sentinel_port,
                        &["sentinel", "get-master-addr-by-name", "mymaster"],
                    );
                    let port: Option<u16> = addr.lines().nth(1).and_then(|p| p.trim().parse().ok());
                    if let Some(port) = port {
                        let c = redis::Client::open(format!("redis://127.0.0.1:{port}/")).and_then(
                            |c| c.get_connection_with_timeout(Duration::from_millis(500)),
                        );
                        if let Ok(c) = c {
                            let _ = c.set_read_timeout(Some(Duration::from_secs(2)));
                            conn = Some((port, c));
                        }
                    }
                }
                let Some((port, c)) = conn.as_mut() else {
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                };
                n += 1;
                let r: redis::RedisResult<String> =
                    redis::cmd("SET").arg(format!("w:{n}")).arg(n).query(c);
                match r {
                    Ok(_) => a2.lock().expect("lock").push((*port, n)),
                    Err(_) => {
                        conn = None;
                        std::thread::sleep(Duration::from_millis(20));
                    }
                }
            }
        });
        Writer {
            stop,
            acked,
            handle: Some(handle),
        }
    }

    fn stop(mut self) -> Vec<(u16, u64)> {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
        let v = self.acked.lock().expect("lock").clone();
        v
    }
}

fn role(port: u16) -> String {
    redis_cli(port, &["role"])
}

/// Waits until the sentinel knows `n` replicas (found in the master's INFO).
fn wait_replicas_known(s: &SentinelProc, n: usize) {
    let ok = wait_until(Duration::from_secs(20), || {
        s.master_field("mymaster", "num-slaves").as_deref() == Some(&n.to_string())
    });
    assert!(ok, "sentinel knows {n} replicas; log:\n{}", s.log());
}

/// One field of every replica in `SENTINEL REPLICAS mymaster`, in order
/// (redis-cli prints the nested reply flat: name, value, name, value...).
fn replica_field(s: &SentinelProc, field: &str) -> Vec<String> {
    let out = redis_cli(s.port, &["sentinel", "replicas", "mymaster"]);
    let l: Vec<&str> = out.lines().collect();
    l.chunks(2)
        .filter(|kv| kv.len() == 2 && kv[0] == field)
        .map(|kv| kv[1].to_string())
        .collect()
}

#[test]
fn one_sentinel_fails_over_with_a_writer_and_repoints_the_old_master() {
    let (mut m, rs) = replicated_group(2);
    redis_cli(m.port, &["set", "before", "1"]);
    let s = SentinelProc::start(&monitor_lines(m.port, 1, 1000));
    wait_replicas_known(&s, 2);
    // A sentinel that has run for a while holds replica INFO up to 10 s old;
    // the failover must refresh it before choosing (it once did not).
    assert!(wait_until(Duration::from_secs(20), || {
        let out = redis_cli(s.port, &["sentinel", "replicas", "mymaster"]);
        let l: Vec<&str> = out.lines().collect();
        l.windows(2)
            .filter(|w| w[0] == "info-refresh")
            .all(|w| w[1].parse::<u64>().unwrap_or(0) > 5500)
    }));
    let ev = Events::subscribe(s.port);
    let writer = Writer::start(s.port);
    assert!(wait_until(Duration::from_secs(10), || writer
        .acked
        .lock()
        .expect("lock")
        .len()
        > 50));

    let killed = Instant::now();
    m.kill9();
    assert!(
        ev.wait("+switch-master", "mymaster", Duration::from_secs(20)),
        "no +switch-master; events: {:?}\nlog:\n{}",
        ev.all(),
        s.log()
    );
    let switch_ms = killed.elapsed().as_millis();
    let new_port = s.master_port("mymaster").expect("master address");
    assert_ne!(new_port, m.port);
    assert!(rs.iter().any(|r| r.port == new_port));
    assert!(ev.has(
        "+switch-master",
        &format!("mymaster 127.0.0.1 {} 127.0.0.1 {new_port}", m.port)
    ));
    // The steps, in Redis's order.
    let chans = ev.channels();
    let pos = |c: &str| chans.iter().position(|x| x == c).unwrap_or(usize::MAX);
    let steps = [
        "+sdown",
        "+odown",
        "+try-failover",
        "+elected-leader",
        "+selected-slave",
        "+promoted-slave",
        "+switch-master",
    ];
    for w in steps.windows(2) {
        assert!(pos(w[0]) < pos(w[1]), "{} before {}: {chans:?}", w[0], w[1]);
    }
    assert!(role(new_port).starts_with("master"));
    // At the first attempt: no abort, one epoch.
    let tries = chans.iter().filter(|c| *c == "+try-failover").count();
    assert_eq!(tries, 1, "one failover attempt: {chans:?}");
    assert!(
        !chans.iter().any(|c| c.starts_with("-failover-abort")),
        "{chans:?}"
    );

    // Writes keep going to the new master.
    let acked_before = writer.acked.lock().expect("lock").len();
    assert!(wait_until(Duration::from_secs(10), || {
        let a = writer.acked.lock().expect("lock");
        a.len() > acked_before + 50 && a.iter().any(|(p, _)| *p == new_port)
    }));
    let acked = writer.stop();
    eprintln!(
        "kill -> +switch-master: {switch_ms} ms; {} writes acknowledged",
        acked.len()
    );

    // Everything the new master acknowledged is on the other replica.
    let other = rs
        .iter()
        .find(|r| r.port != new_port)
        .expect("other replica");
    assert!(
        wait_until(Duration::from_secs(20), || digest_at(other.port)
            == digest_at(new_port)),
        "other replica in sync with the new master; role: {}",
        role(other.port)
    );
    let last_on_new = acked
        .iter()
        .filter(|(p, _)| *p == new_port)
        .map(|(_, n)| *n)
        .max()
        .expect("writes on the new master");
    assert_eq!(
        redis_cli(other.port, &["get", &format!("w:{last_on_new}")]).trim(),
        last_on_new.to_string()
    );
    assert_eq!(redis_cli(other.port, &["get", "before"]).trim(), "1");

    // The old master returns and is made a replica of the new one.
    m.launch();
    let repointed = wait_until(Duration::from_secs(40), || {
        role(m.port).starts_with("slave") && digest_at(m.port) == digest_at(new_port)
    });
    assert!(
        repointed,
        "old master repointed; its role: {}; events: {:?}",
        role(m.port),
        ev.channels()
    );
    assert!(ev.has("+convert-to-slave", &m.port.to_string()));
    assert!(redis_cli(m.port, &["set", "x", "1"]).starts_with("READONLY"));
    assert_eq!(s.master_port("mymaster"), Some(new_port));
}

#[test]
fn three_sentinels_fail_over_with_one_of_them_dead_and_a_restarted_one_catches_up() {
    let (mut m, rs) = replicated_group(2);
    let mut ss: Vec<SentinelProc> = (0..3)
        .map(|_| SentinelProc::start(&monitor_lines(m.port, 2, 1000)))
        .collect();
    for s in &ss {
        wait_replicas_known(s, 2);
        assert!(
            wait_until(Duration::from_secs(20), || s
                .master_field("mymaster", "num-other-sentinels")
                .as_deref()
                == Some("2")),
            "sentinels discover each other; log:\n{}",
            s.log()
        );
    }
    assert!(redis_cli(ss[0].port, &["sentinel", "ckquorum", "mymaster"]).starts_with("OK 3 usable"));
    // One sentinel dies; two of three still make quorum 2 and a majority.
    ss[2].kill9();
    let ev = Events::subscribe(ss[0].port);
    m.kill9();
    assert!(
        ev.wait("+switch-master", "mymaster", Duration::from_secs(30)),
        "failover with two sentinels; events {:?}\nlogs:\n{}\n---\n{}",
        ev.all(),
        ss[0].log(),
        ss[1].log()
    );
    let new_port = ss[0].master_port("mymaster").expect("addr");
    assert!(rs.iter().any(|r| r.port == new_port));
    assert!(wait_until(Duration::from_secs(10), || ss[1]
        .master_port("mymaster")
        == Some(new_port)));
    assert!(ev.has("+odown", "#quorum"));
    assert_eq!(redis_cli(new_port, &["set", "after", "1"]).trim(), "OK");
    // Exactly one leader: one epoch, one promotion.
    let elected = ss[..2]
        .iter()
        .filter(|s| s.log().contains("+elected-leader"))
        .count();
    assert_eq!(elected, 1, "one leader");
    // The dead sentinel comes back with its old config and learns the new
    // master from the others' hellos.
    ss[2].launch();
    assert!(
        wait_until(Duration::from_secs(20), || ss[2].master_port("mymaster")
            == Some(new_port)),
        "restarted sentinel catches up; log:\n{}",
        ss[2].log()
    );
}

#[test]
fn a_lone_sentinel_with_quorum_two_does_not_fail_over() {
    let (mut m, rs) = replicated_group(1);
    let s = SentinelProc::start(&monitor_lines(m.port, 2, 500));
    wait_replicas_known(&s, 1);
    let ev = Events::subscribe(s.port);
    m.kill9();
    assert!(ev.wait("+sdown", "master mymaster", Duration::from_secs(10)));
    // Watch for a while: the master stays subjectively down only.
    let failed_over = wait_until(Duration::from_secs(3), || {
        ev.has("+odown", "") || ev.has("+try-failover", "") || ev.has("+switch-master", "")
    });
    assert!(!failed_over, "no failover without quorum: {:?}", ev.all());
    assert!(role(rs[0].port).starts_with("slave"));
    assert_eq!(s.master_port("mymaster"), Some(m.port));
    assert!(redis_cli(s.port, &["sentinel", "master", "mymaster"]).contains("s_down"));
}

#[test]
fn manual_failover_and_restart_keep_the_new_configuration() {
    let (m, rs) = replicated_group(2);
    redis_cli(rs[0].port, &["config", "set", "replica-priority", "10"]);
    let mut s = SentinelProc::start(&monitor_lines(m.port, 1, 1000));
    wait_replicas_known(&s, 2);
    // The priority is read from the replicas' own INFO: wait until the
    // sentinel has both (it answers NOGOODSLAVE before, as Redis does).
    assert!(wait_until(Duration::from_secs(20), || {
        let mut p = replica_field(&s, "slave-priority");
        p.sort();
        let fresh = replica_field(&s, "info-refresh")
            .iter()
            .all(|ms| ms.parse::<u64>().is_ok_and(|ms| ms > 0));
        fresh && p == ["10", "100"]
    }));
    let ev = Events::subscribe(s.port);
    let r = redis_cli(s.port, &["sentinel", "failover", "mymaster"]);
    assert_eq!(r.trim(), "OK", "log:\n{}", s.log());
    assert!(ev.wait("+switch-master", "mymaster", Duration::from_secs(20)));
    // Lowest priority wins.
    assert_eq!(s.master_port("mymaster"), Some(rs[0].port));
    assert!(role(rs[0].port).starts_with("master"));
    // The old master is alive: it is turned into a replica too.
    assert!(
        wait_until(Duration::from_secs(40), || role(m.port)
            .starts_with("slave")),
        "old master demoted: {:?}",
        ev.channels()
    );
    let epoch = s.master_field("mymaster", "config-epoch").expect("epoch");
    assert_ne!(epoch, "0");
    let conf = s.config();
    assert!(
        conf.contains(&format!(
            "sentinel monitor mymaster 127.0.0.1 {} 1",
            rs[0].port
        )),
        "{conf}"
    );
    assert!(conf.contains("# test sentinel"), "comments kept: {conf}");
    // kill -9 and restart: the sentinel still knows the new master, its
    // replicas and the epoch, before talking to anyone.
    s.kill9();
    s.launch();
    assert_eq!(s.master_port("mymaster"), Some(rs[0].port));
    assert_eq!(s.master_field("mymaster", "config-epoch"), Some(epoch));
    let replicas = redis_cli(s.port, &["sentinel", "replicas", "mymaster"]);
    assert!(replicas.contains(&m.port.to_string()) && replicas.contains(&rs[1].port.to_string()));
    // Already in progress / no such master.
    assert!(redis_cli(s.port, &["sentinel", "failover", "nope"]).contains("No such master"));
}

#[test]
fn sentinel_commands_and_bad_input() {
    let (m, _rs) = replicated_group(1);
    let s = SentinelProc::start(&monitor_lines(m.port, 1, 5000));
    wait_replicas_known(&s, 1);
    let cli = |args: &[&str]| redis_cli(s.port, args).trim().to_string();
    assert_eq!(cli(&["ping"]), "PONG");
    assert_eq!(cli(&["role"]), "sentinel\nmymaster");
    assert_eq!(cli(&["sentinel", "myid"]).len(), 40);
    assert!(cli(&["info", "sentinel"]).contains(&format!(
        "master0:name=mymaster,status=ok,address=127.0.0.1:{},slaves=1,sentinels=1",
        m.port
    )));
    assert!(cli(&["info"]).contains("redis_mode:sentinel"));
    assert_eq!(
        cli(&["sentinel", "master", "nope"]),
        "ERR No such master with that name"
    );
    assert_eq!(
        cli(&["sentinel"]),
        "ERR wrong number of arguments for 'sentinel' command"
    );
    assert_eq!(
        cli(&["sentinel", "master"]),
        "ERR wrong number of arguments for 'sentinel|master' command"
    );
    assert_eq!(
        cli(&["sentinel", "foo"]),
        "ERR unknown subcommand 'foo'. Try SENTINEL HELP."
    );
    assert_eq!(cli(&["sentinel", "get-master-addr-by-name", "nope"]), "");
    assert!(cli(&["set", "a", "b"]).starts_with("ERR unknown command 'set'"));
    // The sentinel's rows are the node's, flagged for the sentinel: their
    // arity and flags come from the shared table, and SENTINEL is unknown
    // to a data node.
    assert_eq!(cli(&["command", "count"]), "14");
    assert_eq!(
        cli(&["ping", "a", "b"]),
        "ERR wrong number of arguments for 'ping' command"
    );
    assert!(cli(&["command"]).contains("no_auth"));
    assert!(redis_cli(m.port, &["sentinel", "myid"])
        .trim()
        .starts_with("ERR unknown command 'sentinel'"));
    assert_eq!(
        cli(&["publish", "foo", "bar"]),
        "ERR Only HELLO messages are accepted by Sentinel instances."
    );
    assert_eq!(
        cli(&["sentinel", "set", "mymaster", "quorum", "0"]),
        "ERR Invalid argument '0' for SENTINEL SET 'quorum'"
    );
    assert_eq!(
        cli(&["sentinel", "set", "mymaster", "foo", "1"]),
        "ERR Unknown option or number of arguments for SENTINEL SET 'foo'"
    );
    assert_eq!(
        cli(&["sentinel", "monitor", "mymaster", "127.0.0.1", "1", "1"]),
        "ERR Duplicate master name."
    );
    assert_eq!(
        cli(&["sentinel", "monitor", "m2", "127.0.0.1", "abc", "1"]),
        "ERR Invalid port"
    );
    assert_eq!(
        cli(&["sentinel", "monitor", "m2", "127.0.0.1", "7", "0"]),
        "ERR Quorum must be 1 or greater."
    );
    assert!(cli(&[
        "sentinel",
        "is-master-down-by-addr",
        "127.0.0.1",
        "x",
        "0",
        "*"
    ])
    .starts_with("ERR"));
    // SET, MONITOR and REMOVE reach the config file.
    assert_eq!(
        cli(&[
            "sentinel",
            "set",
            "mymaster",
            "down-after-milliseconds",
            "4000"
        ]),
        "OK"
    );
    assert!(s
        .config()
        .contains("sentinel down-after-milliseconds mymaster 4000"));
    assert_eq!(
        cli(&["sentinel", "monitor", "other", "127.0.0.1", "1", "1"]),
        "OK"
    );
    assert!(s.config().contains("sentinel monitor other 127.0.0.1 1 1"));
    assert_eq!(cli(&["sentinel", "remove", "other"]), "OK");
    assert!(!s.config().contains("sentinel monitor other"));
    assert!(cli(&["sentinel", "ckquorum", "mymaster"]).starts_with("OK 1 usable Sentinels"));
    // CONFIG GET/SET.
    assert_eq!(
        cli(&["sentinel", "config", "set", "announce-port", "26999"]),
        "OK"
    );
    assert_eq!(
        cli(&["sentinel", "config", "get", "announce-port"]),
        "announce-port\n26999"
    );
    assert!(s.config().contains("sentinel announce-port 26999"));
    assert_eq!(
        cli(&["sentinel", "config", "set", "announce-port", "x"]),
        "ERR Invalid value 'x' to SENTINEL CONFIG SET 'announce-port'"
    );
    assert_eq!(
        cli(&["sentinel", "config", "set", "announce-port", "0"]),
        "OK"
    );
    // RESET forgets the replicas; INFO finds them again.
    assert_eq!(cli(&["sentinel", "reset", "my*"]), "1");
    assert_eq!(cli(&["sentinel", "reset", "nomatch*"]), "0");
    wait_replicas_known(&s, 1);
    // Garbage closes only that connection.
    let out = raw_exchange(s.port, b"*1\r\n$abc\r\n", Duration::from_secs(2));
    assert!(String::from_utf8_lossy(&out).starts_with("-ERR Protocol error"));
    let out = raw_exchange(s.port, b"*99999999999\r\n", Duration::from_secs(2));
    assert!(String::from_utf8_lossy(&out).starts_with("-ERR Protocol error"));
    assert_eq!(cli(&["ping"]), "PONG");

    // A bad config line refuses to start and names the line.
    let dir = tempfile::tempdir().expect("tmp");
    let conf = dir.path().join("bad.conf");
    std::fs::write(
        &conf,
        "port 26999\nsentinel monitor m 127.0.0.1 6379 1\nsentinel down-after-milliseconds m soon\n",
    )
    .expect("write");
    let out = std::process::Command::new(SENTINEL_BIN)
        .arg(&conf)
        .output()
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("at line 3") && err.contains("down-after-milliseconds"),
        "{err}"
    );
    // No config file at all.
    let out = std::process::Command::new(SENTINEL_BIN)
        .output()
        .expect("run");
    assert!(!out.status.success());
}

#[test]
fn the_redis_crate_sentinel_client_follows_a_failover() {
    use redis::sentinel::{SentinelClient, SentinelServerType};
    let (mut m, rs) = replicated_group(1);
    let s = SentinelProc::start(&monitor_lines(m.port, 1, 1000));
    wait_replicas_known(&s, 1);
    let mut sc = SentinelClient::build(
        vec![format!("redis://127.0.0.1:{}/", s.port)],
        "mymaster".to_string(),
        None,
        SentinelServerType::Master,
    )
    .expect("sentinel client");
    let mut c = sc.get_connection().expect("master connection");
    let _: () = redis::cmd("SET")
        .arg("k")
        .arg("1")
        .query(&mut c)
        .expect("set");
    m.kill9();
    let ok = wait_until(Duration::from_secs(20), || {
        let Ok(mut c) = sc.get_connection() else {
            return false;
        };
        redis::cmd("SET")
            .arg("k")
            .arg("2")
            .query::<()>(&mut c)
            .is_ok()
    });
    assert!(
        ok,
        "writes resume through the sentinel client; log:\n{}",
        s.log()
    );
    assert_eq!(redis_cli(rs[0].port, &["get", "k"]).trim(), "2");
}

/// redis-py's `Sentinel(...).master_for(...)`, the way Python users connect:
/// it keeps writing across a failover once it reconnects.
#[test]
fn redis_py_master_for_keeps_writing_across_a_failover() {
    use std::io::{BufRead, BufReader, Write};
    let (mut m, rs) = replicated_group(1);
    let s = SentinelProc::start(&monitor_lines(m.port, 1, 1000));
    wait_replicas_known(&s, 1);
    let script = r#"
import sys, time
from redis.sentinel import Sentinel
s = Sentinel([("127.0.0.1", int(sys.argv[1]))], socket_timeout=1.0)
m = s.master_for("mymaster", socket_timeout=1.0)
m.set("py:0", "0")
print("ready", flush=True)
sys.stdin.readline()
deadline = time.time() + 30
n = 0
while time.time() < deadline:
    n += 1
    try:
        m.set("py:%d" % n, n)
        print("ok %d %d" % (n, s.discover_master("mymaster")[1]), flush=True)
        sys.exit(0)
    except Exception as e:
        time.sleep(0.05)
print("gave up", flush=True)
sys.exit(1)
"#;
    let mut child = std::process::Command::new(python_with_redis())
        .arg("-c")
        .arg(script)
        .arg(s.port.to_string())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 with redis-py (apt-get install python3-redis)");
    let mut out = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    out.read_line(&mut line).expect("read");
    assert_eq!(
        line.trim(),
        "ready",
        "redis-py connected through the sentinel"
    );
    assert_eq!(redis_cli(m.port, &["get", "py:0"]).trim(), "0");
    m.kill9();
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(b"go\n").expect("write");
    line.clear();
    out.read_line(&mut line).expect("read");
    let _ = child.wait();
    let words: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(
        words.first(),
        Some(&"ok"),
        "redis-py: {line}\nlog:\n{}",
        s.log()
    );
    assert_eq!(words.get(2), Some(&rs[0].port.to_string().as_str()));
    let key = format!("py:{}", words[1]);
    assert_eq!(redis_cli(rs[0].port, &["get", &key]).trim(), words[1]);
}

/// Quorum 1 lets a lone sentinel call the master down, but a failover also
/// needs a leader elected by a majority of the known sentinels: with two of
/// three gone, it must not promote.
#[test]
fn no_failover_without_a_majority_even_at_quorum_one() {
    let (mut m, rs) = replicated_group(1);
    let mut ss: Vec<SentinelProc> = (0..3)
        .map(|_| SentinelProc::start(&monitor_lines(m.port, 1, 500)))
        .collect();
    for s in &ss {
        assert!(wait_until(Duration::from_secs(20), || s
            .master_field("mymaster", "num-other-sentinels")
            .as_deref()
            == Some("2")));
    }
    ss[1].kill9();
    ss[2].kill9();
    let ev = Events::subscribe(ss[0].port);
    m.kill9();
    assert!(ev.wait("+odown", "#quorum 1/1", Duration::from_secs(10)));
    assert!(
        ev.wait("-failover-abort-not-elected", "", Duration::from_secs(15)),
        "the election fails: {:?}",
        ev.all()
    );
    assert!(!ev.has("+elected-leader", ""));
    assert!(!ev.has("+switch-master", ""));
    assert!(role(rs[0].port).starts_with("slave"));
}

/// `sentinel auth-pass` for nodes with `requirepass`.
#[test]
fn auth_pass_reaches_password_protected_nodes() {
    let m = Node::start(&["requirepass pw", "masterauth pw"]);
    let line = format!("replicaof 127.0.0.1 {}", m.port);
    let r = Node::start(&["requirepass pw", "masterauth pw", &line]);
    let mut lines = monitor_lines(m.port, 1, 1000);
    lines.push("sentinel auth-pass mymaster pw".into());
    let s = SentinelProc::start(&lines);
    wait_replicas_known(&s, 1);
    let mut m = m;
    m.kill9();
    assert!(
        wait_until(Duration::from_secs(20), || s.master_port("mymaster")
            == Some(r.port)),
        "failover with auth; log:\n{}",
        s.log()
    );
    let out = std::process::Command::new("redis-cli")
        .args([
            "-p",
            &r.port.to_string(),
            "-a",
            "pw",
            "--no-auth-warning",
            "set",
            "a",
            "1",
        ])
        .output()
        .expect("redis-cli");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "OK");
}

/// Issue 17: the failover promotes the replica with the most data, even
/// against a better (lower) `replica-priority`, and reads the offsets
/// fresh. R1 has priority 10 but was stopped while the master took writes
/// that only R2 got; Redis's order (priority first) would promote R1 and
/// lose them.
#[test]
fn the_replica_ahead_is_promoted_over_a_better_priority_one_behind() {
    let (mut m, rs) = replicated_group(2);
    let (r1, r2) = (&rs[0], &rs[1]);
    redis_cli(r1.port, &["config", "set", "replica-priority", "10"]);
    let s = SentinelProc::start(&monitor_lines(m.port, 1, 1000));
    wait_replicas_known(&s, 2);
    assert!(wait_until(Duration::from_secs(20), || {
        let mut p = replica_field(&s, "slave-priority");
        p.sort();
        p == ["10", "100"]
    }));
    let mut mc = m.client();
    for i in 0..100 {
        let () = redis::cmd("SET")
            .arg(format!("before:{i}"))
            .arg(i)
            .query(&mut mc)
            .expect("SET");
    }
    wait_synced(r1, &m);
    wait_synced(r2, &m);
    let ev = Events::subscribe(s.port);
    // R1 stops; its link is cut, so nothing written from here on reaches
    // it (bytes already in its socket may still arrive when it resumes).
    unsafe_kill(r1.pid(), "STOP");
    let _: i64 = q(&mut mc, &["CLIENT", "KILL", "TYPE", "replica"]);
    // R2 reconnects (R1 cannot while stopped); a WAIT during its
    // reconnection could time out.
    let back = wait_until(Duration::from_secs(20), || {
        let i = info(&mut mc, "replication");
        info_field(&i, "connected_slaves").as_deref() == Some("1")
            && info_field(&i, "slave0").is_some_and(|v| v.contains("state=online"))
    });
    assert!(back, "R2 reconnected");
    let mut acked = 0;
    for i in 0..200 {
        let () = redis::cmd("SET")
            .arg(format!("after:{i}"))
            .arg(i)
            .query(&mut mc)
            .expect("SET");
        let n: i64 = redis::cmd("WAIT")
            .arg(1)
            .arg(1000)
            .query(&mut mc)
            .expect("WAIT");
        if n >= 1 {
            acked += 1;
        }
    }
    assert_eq!(acked, 200, "R2 acknowledged every write");
    m.kill9();
    unsafe_kill(r1.pid(), "CONT");
    assert!(
        ev.wait("+switch-master", "mymaster", Duration::from_secs(30)),
        "no +switch-master; events: {:?}\nlog:\n{}",
        ev.all(),
        s.log()
    );
    assert_eq!(
        s.master_port("mymaster"),
        Some(r2.port),
        "the replica ahead is promoted; log:\n{}",
        s.log()
    );
    // R1 was a candidate (it answered the selection's INFO): the choice was
    // made on offsets, not by R1 being unreachable.
    let log = s.log();
    assert!(
        log.contains(&format!("failover candidate 127.0.0.1:{}: offset", r1.port))
            && log
                .lines()
                .any(|l| l.contains(&format!("127.0.0.1:{}", r1.port))
                    && l.contains("priority 10 answered")),
        "log:\n{log}"
    );
    // R1 follows R2 and gets the writes it missed.
    assert!(
        wait_until(Duration::from_secs(30), || redis_cli(
            r1.port,
            &["get", "after:199"]
        )
        .trim()
            == "199"),
        "R1 caught up; role: {}",
        role(r1.port)
    );
    assert_eq!(digest_at(r1.port), digest_at(r2.port));
}
