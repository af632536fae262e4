//! Client-side caching (src/client/tracking.rs, CLIENT TRACKING & co. in
//! src/command/connection.rs): each scenario runs on a real redis-server
//! and on a sledis node side by side, and what every client sees (replies,
//! invalidation pushes and messages, in order) must be the same. Client ids
//! differ between the servers, so they are written as `ID`. One more test
//! checks that a master's write invalidates a tracking client of a replica
//! (sledis only).

mod support;

use std::time::Duration;
use support::*;

/// What the clients of one scenario saw, line by line.
#[derive(Default)]
struct Log {
    lines: Vec<String>,
    ids: Vec<i64>,
}

impl Log {
    fn note(&mut self, who: &str, r: &Reply) {
        let ids: Vec<String> = self.ids.iter().map(|i| i.to_string()).collect();
        if let Reply::Int(n) = r {
            if self.ids.contains(n) {
                self.lines.push(format!("{who}: :ID"));
                return;
            }
        }
        let line = format!("{who}: {r:?}");
        // Client ids as `ID` where they stand for a client: after REDIRECT,
        // TRACKINGINFO's redirect and in `tracking-redir-broken`.
        let mut out: Vec<String> = Vec::new();
        for word in line.split(' ') {
            let after = out.last().is_some_and(|p: &String| {
                p == "REDIRECT"
                    || p.ends_with("\"redirect\":")
                    || p.ends_with("\"redirect\",")
                    || p.ends_with("\"tracking-redir-broken\",")
            });
            let bare = word
                .trim_start_matches(':')
                .trim_end_matches([',', ']', '}', ':']);
            if after && ids.iter().any(|id| id == bare) {
                out.push(word.replacen(bare, "ID", 1));
            } else {
                out.push(word.to_string());
            }
        }
        self.lines.push(out.join(" "));
    }

    /// Sends a command and logs its reply.
    fn q(&mut self, who: &str, c: &mut Resp, args: &[&str]) -> Reply {
        let r = c.q(args);
        self.note(&format!("{who} {}", args.join(" ")), &r);
        r
    }

    /// Logs what arrived without being asked for (pushes, messages), until
    /// nothing more comes for a while.
    fn drain(&mut self, who: &str, c: &mut Resp) {
        c.set_timeout(Duration::from_millis(300));
        while let Ok(r) = c.try_read() {
            self.note(&format!("{who} <-"), &r);
        }
        c.set_timeout(Duration::from_secs(10));
    }

    fn id(&mut self, c: &mut Resp) -> i64 {
        let id = c.qs("CLIENT ID").int();
        self.ids.push(id);
        id
    }
}

/// A connection's CLIENT LIST fields that tracking changes.
fn list_fields(c: &mut Resp) -> String {
    let info = c.qs("CLIENT INFO").text();
    info.split_whitespace()
        .filter(|f| f.starts_with("flags=") || f.starts_with("redir="))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs `scenario` on Redis and on sledis and compares the logs.
fn same(scenario: impl Fn(u16, &mut Log)) {
    let redis = RealRedis::start(&["--enable-debug-command", "yes"]);
    let node = Node::start(&[]);
    let mut want = Log::default();
    scenario(redis.port, &mut want);
    let mut got = Log::default();
    scenario(node.port, &mut got);
    for (i, (w, g)) in want.lines.iter().zip(&got.lines).enumerate() {
        assert_eq!(g, w, "line {i}: sledis (left) vs Redis (right)");
    }
    assert_eq!(got.lines.len(), want.lines.len(), "{:#?}", got.lines);
}

#[test]
fn resp2_redirect_to_a_subscribed_client() {
    same(|port, l| {
        let (mut a, mut b, mut r) = (
            Resp::connect(port),
            Resp::connect(port),
            Resp::connect(port),
        );
        let rid = l.id(&mut r).to_string();
        l.id(&mut a);
        l.q("r", &mut r, &["SUBSCRIBE", "__redis__:invalidate"]);
        l.q("a", &mut a, &["CLIENT", "TRACKING", "ON", "REDIRECT", &rid]);
        l.q("a", &mut a, &["CLIENT", "GETREDIR"]);
        l.lines.push(list_fields(&mut a).replace(&rid, "ID"));
        l.q("a", &mut a, &["SET", "k", "1"]);
        l.q("a", &mut a, &["GET", "k"]);
        l.q("b", &mut b, &["SET", "k", "2"]);
        l.drain("r", &mut r);
        // Keys not read are not tracked; MSET sends one message per key.
        l.q("a", &mut a, &["MGET", "k", "k2", "k3"]);
        l.q("b", &mut b, &["MSET", "k", "3", "k2", "4", "other", "5"]);
        l.drain("r", &mut r);
        // Written again: no longer tracked, nothing is sent.
        l.q("b", &mut b, &["SET", "k", "4"]);
        l.drain("r", &mut r);
        // FLUSHALL: a null invalidation, read or not.
        l.q("a", &mut a, &["GET", "k"]);
        l.q("b", &mut b, &["FLUSHALL"]);
        l.drain("r", &mut r);
        l.q("a", &mut a, &["CLIENT", "TRACKINGINFO"]);
        // A RESP2 client without a redirect gets nothing.
        l.q("a", &mut a, &["CLIENT", "TRACKING", "ON"]);
        l.q("a", &mut a, &["GET", "k"]);
        l.q("b", &mut b, &["SET", "k", "5"]);
        l.drain("a", &mut a);
        l.drain("r", &mut r);
        l.q("a", &mut a, &["CLIENT", "TRACKING", "OFF"]);
        l.q("a", &mut a, &["CLIENT", "GETREDIR"]);
        l.lines.push(list_fields(&mut a));
    });
}

#[test]
fn resp3_pushes_flush_swapdb_move_rename_copy() {
    same(|port, l| {
        let (mut a, mut b) = (Resp::connect(port), Resp::connect(port));
        a.q(&["HELLO", "3"]);
        l.q("a", &mut a, &["CLIENT", "TRACKING", "ON"]);
        // The client's own write: the push follows the reply.
        l.q("a", &mut a, &["GET", "k"]);
        l.q("a", &mut a, &["SET", "k", "v"]);
        l.drain("a", &mut a);
        l.q("a", &mut a, &["GET", "k"]);
        l.q("a", &mut a, &["FLUSHDB"]);
        l.drain("a", &mut a);
        // SWAPDB invalidates nothing in Redis 7.0.
        l.q("a", &mut a, &["GET", "x"]);
        l.q("b", &mut b, &["SWAPDB", "0", "1"]);
        l.drain("a", &mut a);
        l.q("b", &mut b, &["SWAPDB", "0", "1"]);
        // Keys are names, whatever the database.
        l.q("b", &mut b, &["SET", "y", "1"]);
        l.q("a", &mut a, &["GET", "y"]);
        l.q("b", &mut b, &["MOVE", "y", "1"]);
        l.drain("a", &mut a);
        l.q("a", &mut a, &["SELECT", "1"]);
        l.q("a", &mut a, &["GET", "y"]);
        l.q("a", &mut a, &["SELECT", "0"]);
        l.q("b", &mut b, &["SELECT", "1"]);
        l.q("b", &mut b, &["SET", "y", "2"]);
        l.drain("a", &mut a);
        l.q("b", &mut b, &["SELECT", "0"]);
        l.q("b", &mut b, &["SET", "k", "v"]);
        l.q("a", &mut a, &["GET", "k"]);
        l.q("b", &mut b, &["RENAME", "k", "k9"]);
        l.drain("a", &mut a);
        l.q("a", &mut a, &["GET", "k9"]);
        l.q("a", &mut a, &["GET", "k10"]);
        l.q("b", &mut b, &["COPY", "k9", "k10"]);
        l.drain("a", &mut a);
        // A write that changes nothing sends nothing.
        l.q("a", &mut a, &["HGET", "h", "f"]);
        l.q("b", &mut b, &["HSET", "h", "f", "v"]);
        l.drain("a", &mut a);
        l.q("a", &mut a, &["HGET", "h", "f"]);
        l.q("b", &mut b, &["HSETNX", "h", "f", "w"]);
        l.drain("a", &mut a);
        l.q("b", &mut b, &["SET", "src", "v"]);
        let Reply::Bulk(payload) = b.q(&["DUMP", "src"]) else {
            panic!("DUMP");
        };
        l.q("a", &mut a, &["GET", "r"]);
        let r = b.q(&[&b"RESTORE"[..], b"r", b"0", &payload]);
        l.note("b RESTORE", &r);
        l.drain("a", &mut a);
        l.q("a", &mut a, &["GET", "r"]);
        l.q("b", &mut b, &["DEL", "r"]);
        l.drain("a", &mut a);
        // NOLOOP: the client's own writes are not sent back.
        l.q("a", &mut a, &["CLIENT", "TRACKING", "ON", "NOLOOP"]);
        l.q("a", &mut a, &["GET", "n1"]);
        l.q("a", &mut a, &["GET", "n2"]);
        l.q("a", &mut a, &["SET", "n1", "x"]);
        l.q("b", &mut b, &["SET", "n2", "y"]);
        l.drain("a", &mut a);
        l.q("a", &mut a, &["CLIENT", "TRACKINGINFO"]);
        // RESET turns tracking off.
        l.q("a", &mut a, &["RESET"]);
        l.q("a", &mut a, &["CLIENT", "TRACKINGINFO"]);
    });
}

#[test]
fn bcast_prefixes_batching_and_noloop() {
    same(|port, l| {
        let (mut a, mut b) = (Resp::connect(port), Resp::connect(port));
        a.q(&["HELLO", "3"]);
        l.q(
            "a",
            &mut a,
            &[
                "CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "u:", "PREFIX", "v:", "NOLOOP",
            ],
        );
        l.lines.push(list_fields(&mut a));
        l.q(
            "b",
            &mut b,
            &["MSET", "u:1", "a", "v:1", "b", "u:2", "c", "w", "d"],
        );
        l.drain("a", &mut a);
        // A pipeline's keys arrive in one message, in key order.
        let mut p = Vec::new();
        for c in [
            &["SET", "u:3", "x"][..],
            &["SET", "u:0", "y"],
            &["INCR", "u:5"],
            &["DEL", "nothing"],
        ] {
            p.extend(Resp::encode(c));
        }
        b.send_raw(&p);
        for _ in 0..4 {
            let r = b.read();
            l.note("b pipeline", &r);
        }
        l.drain("a", &mut a);
        l.q("a", &mut a, &["SET", "u:9", "x"]);
        l.q("b", &mut b, &["SET", "u:9", "y"]);
        l.drain("a", &mut a);
        l.q("a", &mut a, &["CLIENT", "TRACKINGINFO"]);
        // More prefixes join those there.
        l.q(
            "a",
            &mut a,
            &["CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "x"],
        );
        l.q("a", &mut a, &["CLIENT", "TRACKINGINFO"]);
        l.q(
            "a",
            &mut a,
            &["CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "u:1"],
        );
        l.q("a", &mut a, &["CLIENT", "TRACKING", "OFF"]);
        // No prefix: every key.
        l.q("a", &mut a, &["CLIENT", "TRACKING", "ON", "BCAST"]);
        l.q("b", &mut b, &["SET", "anything", "1"]);
        l.drain("a", &mut a);
        l.q("a", &mut a, &["CLIENT", "TRACKINGINFO"]);
        let info = a.qs("INFO stats").text();
        l.lines.push(format!(
            "prefixes {:?}",
            info_field(&info, "tracking_total_prefixes")
        ));
        l.q("a", &mut a, &["FLUSHALL"]);
        l.drain("a", &mut a);
    });
}

#[test]
fn optin_optout_with_caching_multi_and_scripts() {
    same(|port, l| {
        let (mut a, mut b) = (Resp::connect(port), Resp::connect(port));
        a.q(&["HELLO", "3"]);
        l.id(&mut a);
        l.q("a", &mut a, &["CLIENT", "TRACKING", "ON", "OPTIN"]);
        l.q("a", &mut a, &["GET", "o1"]);
        l.q("a", &mut a, &["CLIENT", "CACHING", "YES"]);
        l.q("a", &mut a, &["CLIENT", "TRACKINGINFO"]);
        l.q("a", &mut a, &["GET", "o2"]);
        l.q("a", &mut a, &["GET", "o3"]);
        l.q("a", &mut a, &["CLIENT", "CACHING", "YES"]);
        l.q("a", &mut a, &["CLIENT", "ID"]);
        l.q("a", &mut a, &["GET", "o4"]);
        l.q("a", &mut a, &["CLIENT", "CACHING", "YES"]);
        l.q("a", &mut a, &["MULTI"]);
        l.q("a", &mut a, &["GET", "o5"]);
        l.q("a", &mut a, &["GET", "o6"]);
        l.q("a", &mut a, &["EXEC"]);
        l.q("a", &mut a, &["GET", "o7"]);
        l.q(
            "b",
            &mut b,
            &["MSET", "o1", "1", "o2", "2", "o3", "3", "o4", "4"],
        );
        l.q("b", &mut b, &["MSET", "o5", "5", "o6", "6", "o7", "7"]);
        l.drain("a", &mut a);
        l.q("a", &mut a, &["CLIENT", "CACHING", "NO"]);
        l.q("a", &mut a, &["CLIENT", "TRACKING", "ON", "OPTOUT"]);
        l.q("a", &mut a, &["CLIENT", "TRACKING", "OFF"]);
        l.q("a", &mut a, &["CLIENT", "TRACKING", "ON", "OPTOUT"]);
        l.q("a", &mut a, &["GET", "p1"]);
        l.q("a", &mut a, &["CLIENT", "CACHING", "NO"]);
        l.q("a", &mut a, &["CLIENT", "TRACKINGINFO"]);
        l.q("a", &mut a, &["GET", "p2"]);
        l.q("a", &mut a, &["GET", "p3"]);
        l.q("b", &mut b, &["MSET", "p1", "1", "p2", "2", "p3", "3"]);
        l.drain("a", &mut a);
        // Scripts: a read-only call remembers the script's declared keys.
        l.q("a", &mut a, &["CLIENT", "TRACKING", "OFF"]);
        l.q("a", &mut a, &["CLIENT", "TRACKING", "ON"]);
        l.q(
            "a",
            &mut a,
            &["EVAL", "return redis.call('get',KEYS[1])", "1", "s1"],
        );
        l.q(
            "a",
            &mut a,
            &["EVAL", "return redis.call('set',KEYS[1],'x')", "1", "s2"],
        );
        l.q(
            "a",
            &mut a,
            &["EVAL_RO", "return redis.call('get',KEYS[1])", "1", "s3"],
        );
        l.q("a", &mut a, &["EVAL", "return 1", "1", "s4"]);
        l.q(
            "a",
            &mut a,
            &["EVAL", "redis.call('get','zz') return 1", "1", "s5"],
        );
        l.q("a", &mut a, &["EVAL_RO", "return 1", "1", "s6"]);
        l.q("a", &mut a, &["EVAL", "return redis.call('get','s7')", "0"]);
        l.q(
            "b",
            &mut b,
            &[
                "MSET", "s1", "1", "s2", "2", "s3", "3", "s4", "4", "s5", "5", "s6", "6", "s7",
                "7", "zz", "8",
            ],
        );
        l.drain("a", &mut a);
        // Writes inside MULTI and EVAL invalidate.
        l.q("a", &mut a, &["GET", "m1"]);
        l.q("a", &mut a, &["GET", "m2"]);
        l.q("b", &mut b, &["MULTI"]);
        l.q("b", &mut b, &["SET", "m1", "1"]);
        l.q("b", &mut b, &["INCR", "other"]);
        l.q("b", &mut b, &["EXEC"]);
        l.drain("a", &mut a);
        l.q(
            "b",
            &mut b,
            &["EVAL", "redis.call('set',KEYS[1],'x') return 1", "1", "m2"],
        );
        l.drain("a", &mut a);
        let info = a.qs("INFO stats").text();
        for f in ["tracking_total_keys", "tracking_total_items"] {
            l.lines.push(format!("{f} {:?}", info_field(&info, f)));
        }
        let info = a.qs("INFO clients").text();
        l.lines
            .push(format!("{:?}", info_field(&info, "tracking_clients")));
    });
}

/// A read after a write of the same key in one transaction keeps it
/// tracked (the write's invalidation came first), a read before it does
/// not; the same in scripts, after a flush, and under NOLOOP.
#[test]
fn reads_and_writes_in_one_transaction() {
    same(|port, l| {
        let (mut a, mut b) = (Resp::connect(port), Resp::connect(port));
        a.q(&["HELLO", "3"]);
        l.q("a", &mut a, &["CLIENT", "TRACKING", "ON"]);
        let multi = |l: &mut Log, a: &mut Resp, cmds: &[&[&str]]| {
            l.q("a", a, &["MULTI"]);
            for c in cmds {
                l.q("a", a, c);
            }
            l.q("a", a, &["EXEC"]);
        };
        multi(l, &mut a, &[&["SET", "k1", "1"], &["GET", "k1"]]);
        multi(l, &mut a, &[&["GET", "k2"], &["SET", "k2", "1"]]);
        l.drain("a", &mut a);
        l.q(
            "a",
            &mut a,
            &[
                "EVAL",
                "redis.call('set',KEYS[1],'x') return redis.call('get',KEYS[1])",
                "1",
                "k3",
            ],
        );
        multi(l, &mut a, &[&["FLUSHALL"], &["GET", "k4"]]);
        l.drain("a", &mut a);
        multi(
            l,
            &mut a,
            &[&["GET", "k5"], &["SET", "k5", "1"], &["GET", "k5"]],
        );
        l.drain("a", &mut a);
        for k in ["k1", "k2", "k3", "k4", "k5"] {
            l.q("b", &mut b, &["SET", k, "2"]);
            l.drain("a", &mut a);
        }
        l.q("a", &mut a, &["CLIENT", "TRACKING", "ON", "NOLOOP"]);
        multi(l, &mut a, &[&["SET", "k6", "1"], &["GET", "k6"]]);
        l.drain("a", &mut a);
        l.q("b", &mut b, &["SET", "k6", "2"]);
        l.drain("a", &mut a);
    });
}

#[test]
fn expiry_invalidates() {
    same(|port, l| {
        let (mut a, mut b) = (Resp::connect(port), Resp::connect(port));
        a.q(&["HELLO", "3"]);
        l.q("a", &mut a, &["CLIENT", "TRACKING", "ON"]);
        l.q("b", &mut b, &["SET", "e1", "v", "PX", "300"]);
        l.q("a", &mut a, &["GET", "e1"]);
        std::thread::sleep(Duration::from_millis(1000));
        l.drain("a", &mut a);
        l.q("a", &mut a, &["GET", "e1"]);
    });
}

#[test]
fn broken_redirect() {
    same(|port, l| {
        let (mut a, mut b, mut r) = (
            Resp::connect(port),
            Resp::connect(port),
            Resp::connect(port),
        );
        a.q(&["HELLO", "3"]);
        let rid = l.id(&mut r).to_string();
        l.q("a", &mut a, &["CLIENT", "TRACKING", "ON", "REDIRECT", &rid]);
        // A RESP3 redirect target gets pushes, subscribed or not.
        r.q(&["HELLO", "3"]);
        l.q("a", &mut a, &["GET", "q"]);
        l.q("b", &mut b, &["SET", "q", "1"]);
        l.drain("r", &mut r);
        l.q("a", &mut a, &["GET", "q"]);
        l.q("a", &mut a, &["FLUSHDB"]);
        l.drain("r", &mut r);
        l.drain("a", &mut a);
        drop(r);
        std::thread::sleep(Duration::from_millis(200));
        l.q("a", &mut a, &["GET", "q"]);
        l.q("b", &mut b, &["SET", "q", "1"]);
        l.drain("a", &mut a);
        l.q("a", &mut a, &["CLIENT", "TRACKINGINFO"]);
        l.lines.push(list_fields(&mut a).replace(&rid, "ID"));
        l.q("a", &mut a, &["GET", "q"]);
        l.q("b", &mut b, &["SET", "q", "2"]);
        l.drain("a", &mut a);
        l.q("a", &mut a, &["CLIENT", "GETREDIR"]);
        // Turning it on again clears the broken mark.
        l.q("a", &mut a, &["CLIENT", "TRACKING", "ON"]);
        l.q("a", &mut a, &["CLIENT", "TRACKINGINFO"]);
    });
}

#[test]
fn errors() {
    same(|port, l| {
        let mut a = Resp::connect(port);
        let mut e = |args: &str| {
            let v: Vec<&str> = args.split(' ').collect();
            l.q("a", &mut a, &v);
        };
        e("CLIENT TRACKING ON PREFIX a");
        e("CLIENT TRACKING ON BCAST PREFIX a PREFIX ab");
        e("CLIENT TRACKING ON BCAST PREFIX ab PREFIX a");
        e("CLIENT TRACKING ON OPTIN OPTOUT");
        e("CLIENT TRACKING ON BCAST OPTIN");
        e("CLIENT TRACKING ON BCAST OPTOUT");
        e("CLIENT TRACKING ON REDIRECT 99999");
        e("CLIENT TRACKING ON REDIRECT 0");
        e("CLIENT TRACKING ON REDIRECT -1");
        e("CLIENT TRACKING ON REDIRECT x");
        e("CLIENT TRACKING ON REDIRECT");
        e("CLIENT TRACKING ON PREFIX");
        e("CLIENT TRACKING ON foo");
        e("CLIENT TRACKING maybe");
        e("CLIENT TRACKING maybe BCAST");
        e("CLIENT TRACKING");
        e("CLIENT CACHING YES");
        e("CLIENT CACHING NO");
        e("CLIENT CACHING maybe");
        e("CLIENT CACHING");
        e("CLIENT CACHING YES NO");
        e("CLIENT TRACKINGINFO x");
        e("CLIENT GETREDIR x");
        e("CLIENT TRACKINGINFO");
        e("CLIENT GETREDIR");
        e("CLIENT TRACKING OFF");
        e("CLIENT TRACKING ON");
        e("CLIENT CACHING YES");
        e("CLIENT CACHING NO");
        e("CLIENT CACHING maybe");
        e("CLIENT TRACKING ON BCAST");
        e("CLIENT TRACKING ON OPTIN");
        e("CLIENT CACHING NO");
        e("CLIENT TRACKING ON OPTOUT");
        e("CLIENT TRACKING OFF BCAST PREFIX a");
        e("CLIENT TRACKING ON BCAST PREFIX a PREFIX b");
        e("CLIENT TRACKING ON BCAST PREFIX ab");
        e("CLIENT TRACKING ON BCAST PREFIX b PREFIX ab");
        e("CLIENT TRACKING ON");
        e("CLIENT TRACKINGINFO");
        e("CLIENT TRACKING OFF");
    });
}

/// Over `tracking-table-max-keys`, keys are invalidated to make room. Which
/// keys is random in both servers, so only the counts are compared.
#[test]
fn table_bound() {
    same(|port, l| {
        let mut a = Resp::connect(port);
        a.q(&["HELLO", "3"]);
        l.q(
            "a",
            &mut a,
            &["CONFIG", "SET", "tracking-table-max-keys", "2"],
        );
        l.q("a", &mut a, &["CONFIG", "GET", "tracking-table-max-keys"]);
        l.q("a", &mut a, &["CLIENT", "TRACKING", "ON"]);
        a.q(&["MGET", "t1", "t2", "t3", "t4"]);
        // Redis makes room before the next command, sledis at once.
        a.send(&["PING"]);
        let mut evicted = 0;
        loop {
            match a.read() {
                Reply::Push(v) => evicted += v[1].items().len(),
                r => {
                    assert_eq!(r, st("PONG"));
                    break;
                }
            }
        }
        l.drain("a", &mut a);
        l.lines.push(format!("evicted {evicted}"));
        let info = a.qs("INFO stats").text();
        l.lines.push(format!(
            "keys {:?}",
            info_field(&info, "tracking_total_keys")
        ));
        l.q(
            "a",
            &mut a,
            &["CONFIG", "SET", "tracking-table-max-keys", "0"],
        );
        a.q(&["MGET", "t5", "t6", "t7"]);
        l.q("a", &mut a, &["PING"]);
        let info = a.qs("INFO stats").text();
        l.lines.push(format!(
            "keys {:?}",
            info_field(&info, "tracking_total_keys")
        ));
        // A lower bound: room is made (Redis: before the next command).
        let mut evicted = 0;
        let mut count = |r: Reply| match r {
            Reply::Push(v) => {
                evicted += v[1].items().len();
                false
            }
            _ => true,
        };
        a.send(&["CONFIG", "SET", "tracking-table-max-keys", "1"]);
        while !count(a.read()) {}
        a.send(&["PING"]);
        while !count(a.read()) {}
        a.set_timeout(Duration::from_millis(300));
        while let Ok(r) = a.try_read() {
            count(r);
        }
        a.set_timeout(Duration::from_secs(10));
        l.lines.push(format!("evicted {evicted}"));
        let info = a.qs("INFO stats").text();
        l.lines.push(format!(
            "keys {:?}",
            info_field(&info, "tracking_total_keys")
        ));
    });
}

/// A write arriving from the master invalidates a tracking client of the
/// replica, as on a Redis replica running its master's commands.
#[test]
fn replica_invalidates_on_master_writes() {
    let (m, replicas) = replicated_group(1);
    let r = &replicas[0];
    let mut mc = Resp::connect(m.port);
    assert_eq!(mc.qs("SET k 1"), ok());
    assert_eq!(mc.qs("SET b:1 1"), ok());
    wait_synced(r, &m);
    let mut a = Resp::connect(r.port);
    a.q(&["HELLO", "3"]);
    assert_eq!(a.qs("CLIENT TRACKING ON"), ok());
    assert_eq!(a.qs("GET k"), bulk("1"));
    let mut bc = Resp::connect(r.port);
    bc.q(&["HELLO", "3"]);
    assert_eq!(bc.qs("CLIENT TRACKING ON BCAST PREFIX b:"), ok());
    assert_eq!(mc.qs("SET k 2"), ok());
    assert_eq!(mc.qs("INCR b:1"), int(2));
    a.set_timeout(Duration::from_secs(10));
    assert_eq!(
        a.read(),
        Reply::Push(vec![bulk("invalidate"), bulks(&["k"])])
    );
    assert_eq!(
        bc.read(),
        Reply::Push(vec![bulk("invalidate"), bulks(&["b:1"])])
    );
    // Expiry on the master reaches the replica as a deletion.
    assert_eq!(a.qs("GET k"), bulk("2"));
    assert_eq!(mc.qs("PEXPIRE k 100"), int(1));
    assert_eq!(
        a.read(),
        Reply::Push(vec![bulk("invalidate"), bulks(&["k"])])
    );
    // FLUSHALL on the master: a null invalidation.
    assert_eq!(mc.qs("FLUSHALL"), ok());
    assert_eq!(a.read(), Reply::Push(vec![bulk("invalidate"), Reply::Null]));
    assert_eq!(
        bc.read(),
        Reply::Push(vec![bulk("invalidate"), Reply::Null])
    );
}
