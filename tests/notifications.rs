//! Keyspace notifications (src/notify.rs, `notify-keyspace-events`): the
//! same commands run on a real redis-server and on sledis, and the messages
//! a `PSUBSCRIBE __key*__:*` client receives must be the same, in the same
//! order, with nothing normalised. Also expiry (active and lazy), MULTI and
//! scripts, blocking pops, the config directive, and replicas: a sledis
//! replica and a chain replica publish what a Redis replica publishes, under
//! their own setting, whatever their master's.

mod support;

use std::time::Duration;
use support::*;

/// One event as received: channel and message.
type Events = Vec<(String, String)>;

/// The words of a command line; `""` is an empty argument.
fn words(line: &str) -> Vec<&str> {
    line.split(' ')
        .filter(|w| !w.is_empty())
        .map(|w| if w == "\"\"" { "" } else { w })
        .collect()
}

/// A subscriber to every keyspace and keyevent channel.
fn subscriber(port: u16) -> Resp {
    let mut sub = Resp::connect(port);
    assert_eq!(
        sub.q(&["PSUBSCRIBE", "__key*__:*"]),
        arr(vec![bulk("psubscribe"), bulk("__key*__:*"), int(1)])
    );
    sub
}

/// The events `sub` receives until the marker `c` publishes (the pattern
/// matches it, so it arrives after everything published before it).
fn until_marker(sub: &mut Resp, c: &mut Resp) -> Events {
    let marker = "__keyevent@0__:end-of-test";
    c.q(&["PUBLISH", marker, "x"]);
    let mut got = Vec::new();
    loop {
        let m = sub.read();
        let it = m.items();
        assert_eq!(it[0], bulk("pmessage"), "{m:?}");
        let (ch, msg) = (it[2].text(), it[3].text());
        if ch == marker {
            return got;
        }
        got.push((ch, msg));
    }
}

/// Asserts equal sequences, showing where they part.
fn assert_same(got: &Events, want: &Events, what: &str) {
    if got == want {
        return;
    }
    let at = got
        .iter()
        .zip(want)
        .position(|(a, b)| a != b)
        .unwrap_or(got.len().min(want.len()));
    let from = at.saturating_sub(4);
    panic!(
        "{what}: sledis and Redis part at event {at}\n sledis: {:?}\n  redis: {:?}",
        &got[from..got.len().min(at + 6)],
        &want[from..want.len().min(at + 6)]
    );
}

/// Runs `lines` on a fresh keyspace with `flags`, returning the events.
fn events(port: u16, flags: &str, lines: &[&str]) -> Events {
    let mut c = Resp::connect(port);
    assert_eq!(c.qs("FLUSHALL"), ok());
    assert_eq!(
        c.q(&["CONFIG", "SET", "notify-keyspace-events", flags]),
        ok()
    );
    let mut sub = subscriber(port);
    for line in lines {
        c.q(&words(line));
    }
    until_marker(&mut sub, &mut c)
}

/// The same lines on Redis and sledis under each flag set.
fn compare(flag_sets: &[&str], lines: &[&str]) {
    let r = RealRedis::start(&[]);
    let n = Node::start(&[]);
    for flags in flag_sets {
        let want = events(r.port, flags, lines);
        let got = events(n.port, flags, lines);
        assert_same(&got, &want, &format!("flags {flags:?}"));
        if flags.contains('A') && flags.contains(['K', 'E']) {
            assert!(!want.is_empty());
        }
    }
}

/// Every event sledis's commands publish, with the cases where Redis
/// publishes nothing (a no-op) or something else (`del` for an emptied
/// collection, `keymiss` for a source a write reads).
const EVERY_EVENT: &[&str] = &[
    // Strings.
    "SET s 1",
    "SETRANGE s 3 x",
    "SETRANGE s 0 \"\"",
    "INCR s2",
    "INCRBYFLOAT s2 1.5",
    "APPEND s x",
    "GETSET s 2",
    "GETDEL s",
    "SET s 1 EX 100",
    "GETEX s PERSIST",
    "GETEX s EX 10",
    "GETEX s",
    "MSET a 1 b 2",
    "MSETNX c 1 d 2",
    "MSETNX c 1 z 2",
    "SETNX e 1",
    "SETNX e 1",
    "SETEX f 10 v",
    "PSETEX g 100000 v",
    "SET k v KEEPTTL",
    "SET k v NX",
    "SET k v2 XX GET",
    "INCR n",
    "DECR n",
    "DECRBY n 2",
    "INCRBY n 5",
    // Keys.
    "DEL a b zz",
    "UNLINK c",
    "EXPIRE d 100",
    "PEXPIRE d 100000",
    "EXPIREAT d 1",
    "SET t v",
    "EXPIRE t -1",
    "PERSIST e",
    "SET e v EX 100",
    "PERSIST e",
    "SET d v",
    "RENAME d d2",
    "RENAMENX d2 d3",
    "SET d5 y",
    "RENAME d5 d3",
    "COPY d3 d4",
    "COPY d3 d4 REPLACE",
    "COPY d3 d6 DB 2",
    "MOVE d4 1",
    // Bitmaps and HyperLogLogs.
    "SETBIT bt 3 1",
    "SETBIT bt 3 1",
    "BITOP AND bt2 bt bt",
    "BITOP AND bt2 nosuch",
    "BITFIELD bf SET u8 0 1",
    "BITFIELD bf GET u8 0",
    "PFADD hl a",
    "PFADD hl a",
    "PFMERGE hl2 hl",
    "PFCOUNT hl",
    // Lists.
    "LPUSH l a b",
    "RPUSH l c",
    "LPUSHX l x",
    "RPUSHX nol x",
    "LINSERT l BEFORE a z",
    "LINSERT l BEFORE nosuch z",
    "LSET l 0 y",
    "LREM l 1 y",
    "LREM l 1 nosuch",
    "LTRIM l 0 1",
    "LTRIM l 0 100",
    "LPOP l",
    "RPOP l",
    "RPOPLPUSH l l2",
    "RPUSH l a b c",
    "RPOPLPUSH l l2",
    "LMOVE l l2 LEFT RIGHT",
    "LMOVE l l LEFT LEFT",
    "BLPOP l 1",
    "BRPOP l2 1",
    "LMPOP 2 l l2 LEFT",
    "RPUSH l3 a",
    "LTRIM l3 1 0",
    "RPUSH l4 a",
    "LREM l4 0 a",
    "RPUSH l5 a b",
    "LPOP l5 5",
    "RPUSH l6 a",
    "BLMOVE l6 l7 RIGHT LEFT 1",
    // Hashes.
    "HSET h a 1",
    "HSET h a 1",
    "HSETNX h b 2",
    "HSETNX h b 2",
    "HMSET h c 3",
    "HINCRBY h a 1",
    "HINCRBYFLOAT h a 1",
    "HINCRBYFLOAT h a 0",
    "HDEL h zz",
    "HDEL h a b c",
    // Sets.
    "SADD st a b c",
    "SADD st a",
    "SREM st a",
    "SREM st zz",
    "SMOVE st st2 c",
    "SMOVE st st2 zz",
    "SPOP st",
    "SADD s3 a b",
    "SPOP s3 5",
    "SADD x1 1 2",
    "SINTERSTORE st3 x1 x1",
    "SUNIONSTORE st4 x1",
    "SDIFFSTORE st5 x1 x1",
    "SUNIONSTORE st4 x1",
    "SINTERSTORE st4 nosuch x1",
    "SUNIONSTORE st4 nosuch",
    // Sorted sets.
    "ZADD z 1 a 2 b 3 c 4 d 5 e",
    "ZADD z 1 a",
    "ZADD z XX 2 nosuch",
    "ZADD z INCR 1 a",
    "ZINCRBY z 1 a",
    "ZREM z a",
    "ZREM z nosuch",
    "ZREMRANGEBYSCORE z 0 2",
    "ZREMRANGEBYSCORE z 100 200",
    "ZREMRANGEBYRANK z 0 0",
    "ZADD zl 0 a 0 b",
    "ZREMRANGEBYLEX zl - +",
    "ZADD z2 1 a 2 b 3 c 4 d",
    "ZPOPMIN z2",
    "ZPOPMAX z2",
    "BZPOPMIN z2 1",
    "ZMPOP 1 z2 MIN",
    "ZADD z3 1 a",
    "ZINTERSTORE z4 1 z3",
    "ZUNIONSTORE z5 1 z3",
    "ZDIFFSTORE z6 1 z3",
    "ZRANGESTORE z7 z3 0 -1",
    "ZUNIONSTORE z5 2 z3 nosuch",
    "ZINTERSTORE z5 2 z3 nosuch",
    // SORT ... STORE: `sortstore`, or `del` of an emptied destination.
    "RPUSH sl 3 1 2",
    "SORT sl STORE sdst",
    "SORT sl LIMIT 0 0 STORE sdst",
    "SORT nosuch STORE sdst2",
    // SWAPDB publishes nothing; later events name the logical database,
    // also for a key written next to an effect in a swapped slot.
    "SET inswap v",
    "SWAPDB 0 5",
    "SET afterswap v",
    "RPUSH afterswap2 a",
    "DEL afterswap afterswap2",
    "SWAPDB 0 5",
    "DEL inswap",
    // Reads that miss (`m`).
    "GET nokey",
    "HGET nokey f",
    "EXISTS nokey",
    "MGET nokey s2 nokey2",
    "TYPE nokey",
    "TTL nokey",
    "LRANGE nokey 0 -1",
    "OBJECT ENCODING nokey",
    // Other databases, and FLUSHDB (no event).
    "SELECT 3",
    "SET in3 v",
    "DEL in3",
    "SELECT 0",
    "FLUSHDB",
];

/// RESTORE publishes `restore` (a payload is binary: dumped on each server
/// first); one already expired deletes the key it replaces: `del`.
#[test]
fn restore_matches_redis() {
    let run = |port: u16| -> Events {
        let mut c = Resp::connect(port);
        assert_eq!(c.qs("SET src value"), ok());
        let Reply::Bulk(p) = c.q(&["DUMP", "src"]) else {
            panic!("DUMP")
        };
        assert_eq!(
            c.q(&["CONFIG", "SET", "notify-keyspace-events", "KEA"]),
            ok()
        );
        let mut sub = subscriber(port);
        let steps: [&[&[u8]]; 4] = [
            &[b"RESTORE", b"r1", b"0", &p],
            &[b"RESTORE", b"r1", b"0", &p, b"REPLACE"],
            &[b"RESTORE", b"r1", b"1", &p, b"REPLACE", b"ABSTTL"],
            &[b"RESTORE", b"r2", b"1", &p, b"ABSTTL"],
        ];
        for s in steps {
            c.q(s);
        }
        until_marker(&mut sub, &mut c)
    };
    let r = RealRedis::start(&[]);
    let n = Node::start(&[]);
    let want = run(r.port);
    assert_same(&run(n.port), &want, "RESTORE");
    assert!(!want.is_empty());
}

#[test]
fn every_event_matches_redis() {
    compare(&["KEAnm"], EVERY_EVENT);
}

#[test]
fn narrower_classes_match_redis() {
    compare(
        &[
            "Kl$", "Ezgx", "Eshn", "KEm", "Kg", "E", "K", "AK", "lshz", "KEA", "Ah", "E$lt",
        ],
        EVERY_EVENT,
    );
}

#[test]
fn transactions_and_scripts_match_redis() {
    compare(
        &["KEAn", "Kl"],
        &[
            "MULTI",
            "SET a 1",
            "LPUSH l x",
            "INCR n",
            "DEL a",
            "RPOP l",
            "EXEC",
            "EVAL redis.call('set',KEYS[1],'v');redis.call('rpush',KEYS[2],'a');redis.call('del',KEYS[1]);return(1) 2 k l2",
            "EVAL redis.call('hset',KEYS[1],'f','v');return(redis.call('hdel',KEYS[1],'f')) 1 h",
        ],
    );
}

/// A client blocked in BLPOP / BZPOPMIN is served by another's push: the
/// push's events, then the pop's.
#[test]
fn blocking_pops_match_redis() {
    let run = |port: u16| -> Events {
        let mut c = Resp::connect(port);
        c.q(&["CONFIG", "SET", "notify-keyspace-events", "KEA"]);
        let mut sub = subscriber(port);
        let mut blocked = Resp::connect(port);
        for (block, feed) in [
            (&["BLPOP", "bl", "0"][..], &["RPUSH", "bl", "a"][..]),
            (&["BZPOPMIN", "bz", "0"][..], &["ZADD", "bz", "1", "a"][..]),
            (
                &["BLMOVE", "bm", "bm2", "LEFT", "RIGHT", "0"][..],
                &["LPUSH", "bm", "a", "b"][..],
            ),
        ] {
            blocked.send(block);
            assert!(wait_until(Duration::from_secs(10), || {
                info_field(&redis_cli(port, &["info", "clients"]), "blocked_clients").as_deref()
                    == Some("1")
            }));
            c.q(feed);
            assert!(!blocked.read().is_error());
        }
        until_marker(&mut sub, &mut c)
    };
    let want = run(RealRedis::start(&[]).port);
    let got = run(Node::start(&[]).port);
    assert_same(&got, &want, "blocking pops");
}

/// Waits (by the wall clock, not asserting on it) until `ms` passed.
fn sleep_past(deadline_ms: i64) {
    while now_ms() <= deadline_ms {
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Reads events until one on `channel` arrives (or the deadline fails the
/// test), returning them all.
fn until_channel(sub: &mut Resp, channel: &str) -> Events {
    sub.set_timeout(Duration::from_secs(20));
    let mut got = Vec::new();
    loop {
        let m = sub.read();
        let it = m.items();
        let (ch, msg) = (it[2].text(), it[3].text());
        let done = ch == channel;
        got.push((ch, msg));
        if done {
            return got;
        }
    }
}

/// `expired`: from the active cycle, and from a write that finds the key
/// expired (lazy, with the cycle off by DEBUG SET-ACTIVE-EXPIRE 0).
#[test]
fn expiry_events_match_redis() {
    let run = |port: u16| -> (Events, Events) {
        let mut c = Resp::connect(port);
        c.q(&["CONFIG", "SET", "notify-keyspace-events", "KEA"]);
        let mut sub = subscriber(port);
        c.qs("SET k v PX 30");
        let active = until_channel(&mut sub, "__keyevent@0__:expired");
        assert_eq!(c.qs("DEBUG SET-ACTIVE-EXPIRE 0"), ok());
        let deadline = now_ms() + 30;
        c.qs("SET k2 v PX 30");
        c.qs("HSET h2 f v");
        c.qs("PEXPIRE h2 30");
        sleep_past(deadline + 20);
        c.qs("SET k2 again");
        c.qs("HSET h2 g v");
        let lazy = until_marker(&mut sub, &mut c);
        assert_eq!(c.qs("DEBUG SET-ACTIVE-EXPIRE 1"), ok());
        (active, lazy)
    };
    let want = run(RealRedis::start(&["--enable-debug-command", "yes"]).port);
    let got = run(Node::start(&[]).port);
    assert_same(&got.0, &want.0, "active expiry");
    assert_same(&got.1, &want.1, "lazy expiry");
    assert!(want.1.iter().any(|(c, _)| c == "__keyevent@0__:expired"));
}

#[test]
fn config_matches_redis() {
    let check = |port: u16, t: Target| {
        let mut c = Resp::connect(port);
        let get =
            |c: &mut Resp| c.q(&["CONFIG", "GET", "notify-keyspace-events"]).items()[1].text();
        assert_eq!(get(&mut c), "glE", "[{t:?}] from the config file");
        for (set, shown) in [
            ("KEA", "AKE"),
            ("Kxe$gAh", "AK"),
            ("Kx", "xK"),
            ("KEAmtnd", "AKEm"),
            ("lgK$", "g$lK"),
            ("nm", "nm"),
            ("", ""),
        ] {
            assert_eq!(
                c.q(&["CONFIG", "SET", "notify-keyspace-events", set]),
                ok(),
                "[{t:?}] {set}"
            );
            assert_eq!(get(&mut c), shown, "[{t:?}] {set}");
        }
        c.q(&["CONFIG", "SET", "notify-keyspace-events", "KEA"]);
        assert_eq!(
            c.q(&["CONFIG", "SET", "notify-keyspace-events", "KEQ"]),
            err("ERR CONFIG SET failed (possibly related to argument 'notify-keyspace-events') - Invalid event class character. Use 'Ag$lshzxeKEtmdn'."),
            "[{t:?}]"
        );
        // A refused value changes nothing.
        assert_eq!(get(&mut c), "AKE", "[{t:?}]");
    };
    {
        let r = RealRedis::start(&["--notify-keyspace-events", "Elg"]);
        check(r.port, Target::Redis);
    }
    let n = Node::start(&["notify-keyspace-events Elg"]);
    check(n.port, Target::Sledis);
}

/// A config file with a bad class string does not start, as Redis's.
#[test]
fn a_bad_config_file_value_stops_startup() {
    let mut n = Node::start(&[]);
    n.stop();
    let conf = std::fs::read_to_string(&n.conf).expect("conf");
    std::fs::write(&n.conf, format!("{conf}\nnotify-keyspace-events KQ\n")).expect("write");
    let (code, log) = n.launch_expect_failure(Duration::from_secs(20));
    assert_ne!(code, Some(0));
    assert!(log.contains("Invalid event class character"), "{log}");
}

/// Waits until a replica (Redis or sledis) has everything its master wrote.
fn caught_up(replica: u16, master: u16) -> bool {
    let m = redis_cli(master, &["info", "replication"]);
    let r = redis_cli(replica, &["info", "replication"]);
    info_field(&r, "master_link_status").as_deref() == Some("up")
        && info_field(&r, "slave_repl_offset") == info_field(&m, "master_repl_offset")
}

/// What replicas' subscribers get while the master runs `lines`: the
/// master's own notifications are off, each replica has `flags`.
fn replica_events(master: u16, replicas: &[u16], flags: &str, lines: &[&str]) -> Vec<Events> {
    let mut c = Resp::connect(master);
    c.qs("FLUSHALL");
    c.q(&["CONFIG", "SET", "notify-keyspace-events", ""]);
    let mut subs = Vec::new();
    for &r in replicas {
        let mut rc = Resp::connect(r);
        assert_eq!(
            rc.q(&["CONFIG", "SET", "notify-keyspace-events", flags]),
            ok()
        );
        subs.push((rc, subscriber(r)));
    }
    for line in lines {
        c.q(&words(line));
    }
    // The active expiry of `exp` (below) on the master.
    assert!(wait_until(Duration::from_secs(20), || {
        info_field(&redis_cli(master, &["info", "stats"]), "expired_keys")
            .and_then(|v| v.parse::<u64>().ok())
            .is_some_and(|n| n >= 1)
    }));
    let mut out = Vec::new();
    let mut upstream = master;
    for (i, (rc, sub)) in subs.iter_mut().enumerate() {
        let r = replicas[i];
        assert!(
            wait_until(Duration::from_secs(20), || caught_up(r, upstream)),
            "replica {r} catches up"
        );
        upstream = r;
        out.push(until_marker(sub, rc));
    }
    out
}

/// Redis replicas publish the events of the commands their master
/// propagates (INCRBYFLOAT as SET, SPOP as SREM, an expiry as DEL...), and
/// nothing for a command that changed nothing. sledis's replicas and chain
/// replicas must publish the same, from the events in the WAL records, with
/// their master's notifications off.
#[test]
fn replicas_and_chain_replicas_publish_like_redis_replicas() {
    let mut lines: Vec<&str> = EVERY_EVENT
        .iter()
        .copied()
        // Replicas have no key misses of their master's reads.
        .filter(|l| !l.starts_with("FLUSHDB"))
        .collect();
    lines.push("SET exp v PX 50");
    for flags in ["KEAn", "Elgx"] {
        let want = {
            let m = RealRedis::start(&[]);
            let r = RealRedis::start(&[]);
            redis_cli(r.port, &["replicaof", "127.0.0.1", &m.port.to_string()]);
            assert!(wait_until(Duration::from_secs(20), || caught_up(
                r.port, m.port
            )));
            replica_events(m.port, &[r.port], flags, &lines)
                .pop()
                .expect("one")
        };
        let (m, rs) = replicated_group(1);
        let chain = Node::start(&[&format!("replicaof 127.0.0.1 {}", rs[0].port)]);
        assert!(wait_until(Duration::from_secs(20), || caught_up(
            chain.port, rs[0].port
        )));
        let got = replica_events(m.port, &[rs[0].port, chain.port], flags, &lines);
        assert_same(&got[0], &want, &format!("replica, flags {flags}"));
        assert_same(&got[1], &want, &format!("chain replica, flags {flags}"));
        assert!(want.iter().any(|(c, _)| c.contains("del")));
    }
}
