//! Pub/sub commands (src/command/pubsub.rs): messages, pattern
//! subscriptions, the subscribed context, SUBSCRIBE inside MULTI. Checked
//! against a real redis-server first, then a sledis node
//! (`support::compare`).

mod support;

use std::time::Duration;
use support::*;

#[test]
fn pubsub_messages_and_context() {
    both(&[], |port, t| {
        let mut sub = Resp::connect(port);
        let mut p = Resp::connect(port);
        sub.send(&["SUBSCRIBE", "news", "weather"]);
        assert_eq!(
            sub.read(),
            arr(vec![bulk("subscribe"), bulk("news"), int(1)])
        );
        assert_eq!(
            sub.read(),
            arr(vec![bulk("subscribe"), bulk("weather"), int(2)])
        );
        assert_eq!(
            sub.q(&["PSUBSCRIBE", "n*"]),
            arr(vec![bulk("psubscribe"), bulk("n*"), int(3)])
        );
        // Subscribing again to the same channel changes nothing.
        assert_eq!(
            sub.q(&["SUBSCRIBE", "news"]),
            arr(vec![bulk("subscribe"), bulk("news"), int(3)])
        );
        // Only pub/sub commands in a RESP2 subscribed context.
        assert_eq!(
            sub.qs("GET k"),
            err("ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"),
            "[{t:?}]"
        );
        assert_eq!(
            sub.qs("CLIENT INFO"),
            err("ERR Can't execute 'client|info': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"),
            "[{t:?}]"
        );
        assert_eq!(
            sub.qs("PUBLISH news x"),
            err("ERR Can't execute 'publish': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"),
            "[{t:?}]"
        );
        assert_eq!(
            sub.qs("PUBSUB NUMPAT"),
            err("ERR Can't execute 'pubsub|numpat': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"),
            "[{t:?}]"
        );
        assert_eq!(sub.qs("PING"), arr(vec![bulk("pong"), bulk("")]));
        assert_eq!(sub.qs("PING hi"), arr(vec![bulk("pong"), bulk("hi")]));
        // PUBLISH counts receivers: a channel and a matching pattern.
        assert_eq!(p.qs("PUBLISH news hello"), int(2), "[{t:?}]");
        let mut got = vec![sub.read(), sub.read()];
        got.sort_by_key(|r| format!("{r:?}"));
        assert_eq!(
            got,
            vec![
                arr(vec![bulk("message"), bulk("news"), bulk("hello")]),
                arr(vec![
                    bulk("pmessage"),
                    bulk("n*"),
                    bulk("news"),
                    bulk("hello")
                ]),
            ],
            "[{t:?}]"
        );
        assert_eq!(p.qs("PUBLISH weather rain"), int(1));
        assert_eq!(
            sub.read(),
            arr(vec![bulk("message"), bulk("weather"), bulk("rain")])
        );
        assert_eq!(p.qs("PUBLISH nothing x"), int(1));
        assert_eq!(
            sub.read(),
            arr(vec![
                bulk("pmessage"),
                bulk("n*"),
                bulk("nothing"),
                bulk("x")
            ])
        );
        assert_eq!(p.qs("PUBLISH other x"), int(0));
        // Binary payloads pass untouched.
        let payload: Vec<u8> = (0..=255u8).rev().collect();
        assert_eq!(p.q(&[&b"PUBLISH"[..], b"weather", &payload]), int(1));
        assert_eq!(
            sub.read(),
            arr(vec![bulk("message"), bulk("weather"), Reply::Bulk(payload)])
        );
        // Introspection.
        let mut chans: Vec<String> = p
            .qs("PUBSUB CHANNELS")
            .items()
            .iter()
            .map(|r| r.text())
            .collect();
        chans.sort();
        assert_eq!(chans, vec!["news", "weather"]);
        assert_eq!(p.qs("PUBSUB CHANNELS w*"), bulks(&["weather"]));
        assert_eq!(
            p.qs("PUBSUB NUMSUB news nobody"),
            arr(vec![bulk("news"), int(1), bulk("nobody"), int(0)])
        );
        assert_eq!(p.qs("PUBSUB NUMPAT"), int(1));
        assert_eq!(p.qs("PUBSUB NUMPAT x"), arity("pubsub|numpat"));
        assert_eq!(
            p.qs("PUBSUB FOO"),
            err("ERR unknown subcommand 'FOO'. Try PUBSUB HELP.")
        );
        assert_eq!(p.qs("PUBSUB CHANNELS a b"), err("ERR unknown subcommand or wrong number of arguments for 'CHANNELS'. Try PUBSUB HELP."));
        assert_eq!(p.qs("PUBLISH x"), arity("publish"));
        assert_eq!(p.qs("SUBSCRIBE"), arity("subscribe"));
        // Leaving.
        assert_eq!(
            sub.qs("UNSUBSCRIBE news"),
            arr(vec![bulk("unsubscribe"), bulk("news"), int(2)])
        );
        assert_eq!(
            sub.qs("UNSUBSCRIBE nosuch"),
            arr(vec![bulk("unsubscribe"), bulk("nosuch"), int(2)])
        );
        assert_eq!(
            sub.qs("PUNSUBSCRIBE"),
            arr(vec![bulk("punsubscribe"), bulk("n*"), int(1)])
        );
        assert_eq!(
            sub.qs("UNSUBSCRIBE"),
            arr(vec![bulk("unsubscribe"), bulk("weather"), int(0)])
        );
        assert_eq!(
            sub.qs("UNSUBSCRIBE"),
            arr(vec![bulk("unsubscribe"), Reply::Nil, int(0)])
        );
        assert_eq!(
            p.qs("PUBSUB NUMSUB news weather"),
            arr(vec![bulk("news"), int(0), bulk("weather"), int(0)])
        );
        assert_eq!(p.qs("PUBSUB NUMPAT"), int(0));
        // Out of the subscribed context, everything works again.
        assert_eq!(sub.qs("SET k v"), ok());
        assert_eq!(sub.qs("PING"), st("PONG"));
        // RESP3: pushes, and any command while subscribed.
        assert!(!sub.qs("HELLO 3").is_error());
        assert_eq!(
            sub.qs("SUBSCRIBE ch3"),
            Reply::Push(vec![bulk("subscribe"), bulk("ch3"), int(1)])
        );
        assert_eq!(
            sub.qs("GET k"),
            bulk("v"),
            "[{t:?}] RESP3 allows commands while subscribed"
        );
        assert_eq!(p.qs("PUBLISH ch3 m"), int(1));
        assert_eq!(
            sub.read(),
            Reply::Push(vec![bulk("message"), bulk("ch3"), bulk("m")])
        );
        // A subscriber that disconnects stops counting.
        drop(sub);
        assert!(
            wait_until(Duration::from_secs(5), || p.qs("PUBLISH ch3 m") == int(0)),
            "[{t:?}]"
        );
    });
}

#[test]
fn subscribe_inside_multi() {
    both(&[], |port, t| {
        let mut c = Resp::connect(port);
        let mut p = Resp::connect(port);
        script(&mut c, t, &[("MULTI", ok()), ("SUBSCRIBE x", st("QUEUED"))]);
        assert_eq!(
            c.qs("EXEC"),
            arr(vec![arr(vec![bulk("subscribe"), bulk("x"), int(1)])]),
            "[{t:?}]"
        );
        assert_eq!(p.qs("PUBLISH x hi"), int(1), "[{t:?}]");
        assert_eq!(c.read(), arr(vec![bulk("message"), bulk("x"), bulk("hi")]));
        script(
            &mut c,
            t,
            &[
                ("MULTI", err("ERR Can't execute 'multi': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context")),
                ("EXEC", err("EXECABORT Transaction discarded because of: Can't execute 'exec': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context")),
            ],
        );
    });
}

/// Sharded pub/sub (Redis 7.0, outside a cluster): every reply and push,
/// in RESP2 and RESP3, recorded on a real redis-server and required
/// byte-for-byte of sledis: counts (shard channels counted apart), the
/// subscribed context, SPUBLISH's receivers, PUBSUB SHARDCHANNELS /
/// SHARDNUMSUB, SSUBSCRIBE inside MULTI, the not_key key specs.
#[test]
fn sharded_pubsub_matches_redis() {
    let record = |port: u16| -> Vec<(String, Reply)> {
        let mut seen = Vec::new();
        for proto in [2, 3] {
            let mut s = Resp::connect(port);
            let mut p = Resp::connect(port);
            let mut m = Resp::connect(port);
            if proto == 3 {
                s.qs("HELLO 3");
                m.qs("HELLO 3");
            }
            let mut note = |what: &str, r: Reply| seen.push((format!("resp{proto} {what}"), r));
            note("sunsubscribe none", s.qs("SUNSUBSCRIBE"));
            s.send(&["SSUBSCRIBE", "a", "b"]);
            note("ssubscribe a", s.read());
            note("ssubscribe b", s.read());
            note("subscribe c", s.qs("SUBSCRIBE c"));
            note("ssubscribe a again", s.qs("SSUBSCRIBE a"));
            note("get in context", s.qs("GET x"));
            // In RESP3 Redis writes a client's own smessage before the
            // reply; sledis queues it after (as for PUBLISH), not checked.
            if proto == 2 {
                note("spublish in context", s.qs("SPUBLISH a m"));
            }
            note("pubsub in context", s.qs("PUBSUB SHARDNUMSUB a"));
            note("spublish", p.qs("SPUBLISH a hello"));
            note("smessage", s.read());
            note("spublish nobody", p.qs("SPUBLISH nobody x"));
            note("publish to a shard name", p.qs("PUBLISH a x"));
            // In hash order in Redis: compared as a set.
            let mut chans = p.qs("PUBSUB SHARDCHANNELS").items().to_vec();
            chans.sort_by_key(|r| r.text());
            note("shardchannels", arr(chans));
            note("shardchannels b*", p.qs("PUBSUB SHARDCHANNELS b*"));
            note("shardnumsub", p.qs("PUBSUB SHARDNUMSUB a b z"));
            note("shardnumsub none", p.qs("PUBSUB SHARDNUMSUB"));
            note("numsub a", p.qs("PUBSUB NUMSUB a"));
            note("channels", p.qs("PUBSUB CHANNELS"));
            note("numpat", p.qs("PUBSUB NUMPAT"));
            note("shardchannels arity", p.qs("PUBSUB SHARDCHANNELS a b"));
            note("spublish arity", p.qs("SPUBLISH a"));
            note("ssubscribe arity", p.qs("SSUBSCRIBE"));
            s.send(&["SUNSUBSCRIBE", "a", "zz"]);
            note("sunsubscribe a", s.read());
            note("sunsubscribe zz", s.read());
            note("sunsubscribe all", s.qs("SUNSUBSCRIBE"));
            note("unsubscribe all", s.qs("UNSUBSCRIBE"));
            note("out of context", s.qs("GET x"));
            s.send(&["PSUBSCRIBE", "p*"]);
            note("psubscribe", s.read());
            note("ssubscribe q", s.qs("SSUBSCRIBE q"));
            note("punsubscribe", s.qs("PUNSUBSCRIBE"));
            note("still in context", s.qs("GET x"));
            note("sunsubscribe q", s.qs("SUNSUBSCRIBE q"));
            note("left the context", s.qs("GET x"));
            note("multi", m.qs("MULTI"));
            note("queued ssubscribe", m.qs("SSUBSCRIBE a"));
            note("exec", m.qs("EXEC"));
            note(
                "in a script",
                m.q(&["EVAL", "return redis.call('spublish','a','b')", "0"]),
            );
            // Flags are a set (sledis lists them in its own order).
            let info: Vec<Reply> = m
                .qs("COMMAND INFO ssubscribe sunsubscribe spublish")
                .items()
                .iter()
                .map(|e| {
                    let mut e = e.items().to_vec();
                    let mut flags = e[2].items().to_vec();
                    flags.sort_by_key(|f| format!("{f:?}"));
                    e[2] = arr(flags);
                    arr(e)
                })
                .collect();
            note("command info", arr(info));
            note("getkeys", m.qs("COMMAND GETKEYS SPUBLISH ch msg"));
        }
        seen
    };
    let want = record(RealRedis::start(&[]).port);
    let got = record(Node::start(&[]).port);
    for (w, g) in want.iter().zip(&got) {
        assert_eq!(g, w, "{}", w.0);
    }
    assert_eq!(got.len(), want.len());
}

/// CLIENT LIST's ssub= counts shard channels, and a client subscribed to
/// them only is a pubsub client.
#[test]
fn client_list_counts_shard_channels() {
    let n = Node::start(&[]);
    let mut s = Resp::connect(n.port);
    s.send(&["SSUBSCRIBE", "a", "b"]);
    s.read();
    s.read();
    let list = redis_cli(n.port, &["client", "list"]);
    let line = list
        .lines()
        .find(|l| l.contains("ssub=2"))
        .unwrap_or_else(|| panic!("{list}"));
    assert!(
        line.contains("flags=P") && line.contains("sub=0 psub=0"),
        "{line}"
    );
}

/// What the subscribers of a replica and of a chain replica receive while
/// the master publishes (alone, inside MULTI, from a script, by SPUBLISH)
/// and the replica publishes on its own: Redis propagates the master's
/// PUBLISH and SPUBLISH, and a replica keeps its own. The same sequences
/// on sledis (master WAL -> replica -> chain).
#[test]
fn messages_reach_replicas_and_chains_like_redis() {
    let caught_up = |r: u16, m: u16| {
        wait_until(Duration::from_secs(20), || {
            let mi = redis_cli(m, &["info", "replication"]);
            let ri = redis_cli(r, &["info", "replication"]);
            info_field(&ri, "master_link_status").as_deref() == Some("up")
                && info_field(&ri, "slave_repl_offset") == info_field(&mi, "master_repl_offset")
        })
    };
    // (master, replica, chain) ports, linked and caught up.
    let record = |m: u16, r: u16, c: u16| -> Vec<(String, Vec<String>)> {
        let mut subs: Vec<(String, Resp)> = Vec::new();
        for (name, port) in [("replica", r), ("chain", c)] {
            let mut s = Resp::connect(port);
            s.send(&["SUBSCRIBE", "ch"]);
            s.read();
            s.send(&["PSUBSCRIBE", "c*"]);
            s.read();
            s.send(&["SSUBSCRIBE", "sch"]);
            s.read();
            subs.push((name.to_string(), s));
        }
        let mut mc = Resp::connect(m);
        let mut rc = Resp::connect(r);
        let mut seen = Vec::new();
        let mut note = |what: &str, r: Reply| seen.push((what.to_string(), vec![format!("{r:?}")]));
        note("publish", mc.qs("PUBLISH ch one"));
        note("spublish", mc.qs("SPUBLISH sch two"));
        mc.qs("MULTI");
        mc.qs("PUBLISH ch three");
        mc.qs("SET k v");
        note("exec", mc.qs("EXEC"));
        note(
            "script",
            mc.q(&["EVAL", "return redis.call('publish','cx','four')", "0"]),
        );
        // Local to the replica: its subscriber gets it, the chain does not.
        assert!(caught_up(r, m), "the replica has the master's messages");
        note("publish on the replica", rc.qs("PUBLISH ch local"));
        note("publish end", mc.qs("PUBLISH ch end"));
        for (name, s) in subs.iter_mut() {
            let mut got = Vec::new();
            loop {
                let msg = s.read();
                let line: Vec<String> = msg.items().iter().map(|i| i.text()).collect();
                let end = line.last().is_some_and(|l| l == "end") && line[0] == "message";
                got.push(line.join(" "));
                if end {
                    break;
                }
            }
            seen.push((name.clone(), got));
        }
        seen
    };
    let want = {
        let (m, r, c) = (
            RealRedis::start(&[]),
            RealRedis::start(&[]),
            RealRedis::start(&[]),
        );
        redis_cli(r.port, &["replicaof", "127.0.0.1", &m.port.to_string()]);
        redis_cli(c.port, &["replicaof", "127.0.0.1", &r.port.to_string()]);
        assert!(caught_up(r.port, m.port) && caught_up(c.port, r.port));
        record(m.port, r.port, c.port)
    };
    let (m, rs) = replicated_group(1);
    let chain = Node::start(&[&format!("replicaof 127.0.0.1 {}", rs[0].port)]);
    assert!(caught_up(chain.port, rs[0].port));
    let got = record(m.port, rs[0].port, chain.port);
    assert_eq!(got, want);
    // The dump tool shows the master's messages in its WAL.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sledis-dump"))
        .arg("wal")
        .arg(m.wal_dir())
        .output()
        .expect("sledis-dump");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("PUBLISH \"ch\" \"one\""), "{text}");
    assert!(text.contains("SPUBLISH \"sch\" \"two\""), "{text}");
    // A master that never had a replica has no backlog in Redis, and keeps
    // messages off its WAL.
    let alone = Node::start(&[]);
    assert_eq!(
        redis_cli(alone.port, &["publish", "ch", "solo"]).trim(),
        "0"
    );
    assert_eq!(redis_cli(alone.port, &["set", "k", "v"]).trim(), "OK");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sledis-dump"))
        .arg("wal")
        .arg(alone.wal_dir())
        .output()
        .expect("sledis-dump");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("\"k\"") && !text.contains("solo"), "{text}");
}
