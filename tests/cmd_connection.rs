//! Connection commands (src/command/connection.rs): AUTH with requirepass,
//! HELLO and the protocol switch, CLIENT, RESET and QUIT. Checked against a
//! real redis-server first, then a sledis node (`support::compare`).

mod support;

use std::time::Duration;
use support::*;

#[test]
fn auth_with_requirepass() {
    let check = |port: u16, t: Target| {
        let mut c = Resp::connect(port);
        script(
            &mut c,
            t,
            &[
                ("GET a", err("NOAUTH Authentication required.")),
                ("PING", err("NOAUTH Authentication required.")),
                // Unknown commands and wrong arity are answered first.
                ("FOO", err("ERR unknown command 'FOO', with args beginning with: ")),
                ("GET", arity("get")),
                ("MULTI", err("NOAUTH Authentication required.")),
                ("EXEC", err("EXECABORT Transaction discarded because of: NOAUTH Authentication required.")),
                ("HELLO 3", err("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time")),
                ("AUTH wrong", err("WRONGPASS invalid username-password pair or user is disabled.")),
                ("AUTH default wrong", err("WRONGPASS invalid username-password pair or user is disabled.")),
                ("AUTH other secret", err("WRONGPASS invalid username-password pair or user is disabled.")),
                ("AUTH a b c", err(SYNTAX)),
                ("HELLO 2 AUTH default wrong", err("WRONGPASS invalid username-password pair or user is disabled.")),
                ("AUTH secret", ok()),
                ("SET a 1", ok()),
                ("GET a", bulk("1")),
                // RESET logs out.
                ("RESET", st("RESET")),
                ("GET a", err("NOAUTH Authentication required.")),
                ("AUTH default secret", ok()),
                ("GET a", bulk("1")),
                ("RESET", st("RESET")),
            ],
        );
        let r = c.qs("HELLO 2 AUTH default secret SETNAME me");
        assert_eq!(r.items()[0], bulk("server"), "[{t:?}]");
        assert_eq!(c.qs("CLIENT GETNAME"), bulk("me"), "[{t:?}]");
        assert_eq!(c.qs("GET a"), bulk("1"), "[{t:?}]");
        // A new connection starts unauthenticated.
        let mut c2 = Resp::connect(port);
        assert_eq!(
            c2.qs("GET a"),
            err("NOAUTH Authentication required."),
            "[{t:?}]"
        );
    };
    {
        let r = RealRedis::start(&["--requirepass", "secret"]);
        check(r.port, Target::Redis);
    }
    let n = Node::start(&["requirepass secret"]);
    check(n.port, Target::Sledis);
    // redis-cli with -a.
    let out = redis_cli(n.port, &["--no-auth-warning", "-a", "secret", "PING"]);
    assert_eq!(out.trim(), "PONG");
    let out = redis_cli(n.port, &["GET", "a"]);
    assert!(out.contains("NOAUTH Authentication required."), "{out}");
    // Without requirepass, AUTH says so.
    both(&[], |port, t| {
        let mut c = Resp::connect(port);
        script(
            &mut c,
            t,
            &[
                ("AUTH foo", err("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?")),
                // The default user has no password: any password is accepted.
                ("AUTH default foo", ok()),
                ("AUTH someone foo", err("WRONGPASS invalid username-password pair or user is disabled.")),
            ],
        );
    });
}

#[test]
fn hello_switches_protocol() {
    both(&[], |port, t| {
        let mut c = Resp::connect(port);
        let id = c.qs("CLIENT ID").int();
        let r = c.qs("HELLO 3");
        let Reply::Map(m) = &r else {
            panic!("[{t:?}] HELLO 3 must answer a map: {r:?}")
        };
        let get = |k: &str| {
            m.iter()
                .find(|(a, _)| *a == bulk(k))
                .map(|(_, v)| v.clone())
        };
        assert_eq!(get("server"), Some(bulk("redis")));
        assert_eq!(get("version"), Some(bulk("7.0.15")));
        assert_eq!(get("proto"), Some(int(3)));
        assert_eq!(get("id"), Some(int(id)));
        assert_eq!(get("mode"), Some(bulk("standalone")));
        assert_eq!(get("role"), Some(bulk("master")));
        assert_eq!(get("modules"), Some(arr(vec![])));
        script(
            &mut c,
            t,
            &[
                ("GET nokey", Reply::Null),
                ("SET k v", ok()),
                ("MGET k nokey", arr(vec![bulk("v"), Reply::Null])),
                (
                    "CONFIG GET maxmemory",
                    Reply::Map(vec![(bulk("maxmemory"), bulk("0"))]),
                ),
                ("HELLO 4", err("NOPROTO unsupported protocol version")),
                (
                    "HELLO abc",
                    err("ERR Protocol version is not an integer or out of range"),
                ),
                ("HELLO 3 FOO", err("ERR Syntax error in HELLO option 'FOO'")),
                (
                    "HELLO 3 AUTH default",
                    err("ERR Syntax error in HELLO option 'AUTH'"),
                ),
                (
                    "HELLO 3 SETNAME",
                    err("ERR Syntax error in HELLO option 'SETNAME'"),
                ),
                (
                    "HELLO 3 SETNAME bad\x01name",
                    err("ERR Client names cannot contain spaces, newlines or special characters."),
                ),
            ],
        );
        let r = c.qs("HELLO 2 SETNAME conn1");
        assert!(
            matches!(r, Reply::Array(ref v) if v.len() == 14),
            "[{t:?}] HELLO 2 answers a flat array: {r:?}"
        );
        assert_eq!(c.qs("CLIENT GETNAME"), bulk("conn1"));
        assert_eq!(c.qs("GET nokey"), Reply::Nil);
        // HELLO without a version keeps the current one.
        let r = c.qs("HELLO");
        assert_eq!(r.items()[5], int(2), "[{t:?}]");
    });
}

#[test]
fn client_commands() {
    both(&[], |port, t| {
        let mut c = Resp::connect(port);
        let id = c.qs("CLIENT ID").int();
        let mut other = Resp::connect(port);
        let other_id = other.qs("CLIENT ID").int();
        assert!(other_id > id, "[{t:?}]");
        script(
            &mut c,
            t,
            &[
                ("CLIENT GETNAME", Reply::Nil),
                ("CLIENT SETNAME worker-1", ok()),
                ("CLIENT GETNAME", bulk("worker-1")),
                (
                    "CLIENT SETNAME a\x01b",
                    err("ERR Client names cannot contain spaces, newlines or special characters."),
                ),
                (
                    "CLIENT FOO",
                    err("ERR unknown subcommand 'FOO'. Try CLIENT HELP."),
                ),
                (
                    "client foo bar",
                    err("ERR unknown subcommand 'foo'. Try CLIENT HELP."),
                ),
                ("CLIENT", arity("client")),
                ("CLIENT ID x", arity("client|id")),
                ("CLIENT INFO x", arity("client|info")),
                ("CLIENT KILL", arity("client|kill")),
                ("CLIENT SETNAME", arity("client|setname")),
                ("CLIENT KILL 1.2.3.4:5", err("ERR No such client")),
                (
                    "CLIENT KILL ID abc",
                    err("ERR client-id should be greater than 0"),
                ),
                (
                    "CLIENT KILL ID 0",
                    err("ERR client-id should be greater than 0"),
                ),
                ("CLIENT KILL ID 999999", int(0)),
                ("CLIENT KILL FOO bar", err(SYNTAX)),
                ("CLIENT KILL TYPE foo", err("ERR Unknown client type 'foo'")),
                ("CLIENT LIST TYPE foo", err("ERR Unknown client type 'foo'")),
                ("CLIENT LIST ID abc", err("ERR Invalid client ID")),
                ("CLIENT LIST ID 0", Reply::Bulk(vec![])),
                ("CLIENT LIST TYPE normal ID 1", err(SYNTAX)),
                ("CLIENT LIST FOO", err(SYNTAX)),
                ("CLIENT LIST TYPE FOO", err("ERR Unknown client type 'FOO'")),
                ("CLIENT KILL TYPE FOO", err("ERR Unknown client type 'FOO'")),
                ("CLIENT KILL USER nobody", err("ERR No such user 'nobody'")),
                ("CLIENT KILL MAXAGE 10", err(SYNTAX)),
                ("CLIENT KILL SKIPME maybe", err(SYNTAX)),
                ("CLIENT KILL TYPE pubsub", int(0)),
                ("CLIENT NO-EVICT on", ok()),
                ("CLIENT NO-EVICT maybe", err(SYNTAX)),
                ("CLIENT GETREDIR", int(-1)),
                ("CLIENT UNBLOCK 12345", int(0)),
                (
                    "CLIENT UNBLOCK 12345 FOO",
                    err("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR"),
                ),
            ],
        );
        assert_eq!(
            c.q(&["CLIENT", "SETNAME", "a b"]),
            err("ERR Client names cannot contain spaces, newlines or special characters.")
        );
        let info = c.qs("CLIENT INFO").text();
        assert!(
            info.starts_with(&format!("id={id} addr=127.0.0.1:")),
            "[{t:?}] {info}"
        );
        assert!(
            info.contains(" name=worker-1 ") && info.contains(" db=0 ") && info.ends_with('\n'),
            "[{t:?}] {info}"
        );
        // A connection the harness used to see the server up may still be
        // closing on the server's side (seen on Redis): wait for it to go.
        let mut list = String::new();
        let two = wait_until(Duration::from_secs(5), || {
            list = c.qs("CLIENT LIST").text();
            list.lines().count() == 2
        });
        assert!(two, "[{t:?}] two clients: {list}");
        assert!(list.contains(&format!("id={other_id} ")), "[{t:?}] {list}");
        let only = c.q(&["CLIENT", "LIST", "ID", &other_id.to_string()]).text();
        assert_eq!(only.lines().count(), 1);
        // Several ids: in the order asked.
        let two = c
            .q(&[
                "CLIENT",
                "LIST",
                "ID",
                &other_id.to_string(),
                &id.to_string(),
            ])
            .text();
        let order: Vec<&str> = two
            .lines()
            .map(|l| l.split(' ').next().unwrap_or(""))
            .collect();
        assert_eq!(
            order,
            vec![format!("id={other_id}"), format!("id={id}")],
            "[{t:?}] {two}"
        );
        let normal = c.qs("CLIENT LIST TYPE normal").text();
        assert_eq!(normal.lines().count(), 2, "[{t:?}] {normal}");
        assert!(
            only.starts_with(&format!("id={other_id} ")),
            "[{t:?}] {only}"
        );
        // Kill by address, then by id.
        let addr = info_field(&only.replace(' ', "\n").replace('=', ":"), "addr").expect("addr");
        assert_eq!(c.q(&["CLIENT", "KILL", &addr]), ok());
        other.set_timeout(Duration::from_secs(5));
        assert!(other.closed(), "[{t:?}] killed client still connected");
        let mut third = Resp::connect(port);
        let third_id = third.qs("CLIENT ID").int();
        assert_eq!(
            c.q(&["CLIENT", "KILL", "ID", &third_id.to_string()]),
            int(1)
        );
        assert!(third.closed(), "[{t:?}] killed client still connected");
        // SKIPME yes (the default) spares the caller.
        assert_eq!(c.q(&["CLIENT", "KILL", "ID", &id.to_string()]), int(0));
        assert_eq!(c.qs("PING"), st("PONG"));
        // CLIENT LIST shows a transaction's queued commands.
        let mut tx = Resp::connect(port);
        let tx_id = tx.qs("CLIENT ID").int();
        assert_eq!(tx.qs("MULTI"), ok());
        assert_eq!(tx.qs("PING"), st("QUEUED"));
        assert_eq!(tx.qs("PING"), st("QUEUED"));
        let line = c.q(&["CLIENT", "LIST", "ID", &tx_id.to_string()]).text();
        assert!(
            line.contains(" flags=x ") && line.contains(" multi=2 "),
            "[{t:?}] {line}"
        );
        assert_eq!(tx.qs("DISCARD"), ok());
        let line = c.q(&["CLIENT", "LIST", "ID", &tx_id.to_string()]).text();
        assert!(
            line.contains(" flags=N ") && line.contains(" multi=-1 "),
            "[{t:?}] {line}"
        );
        // A client may kill itself: it gets its reply, then the connection ends.
        let mut me = Resp::connect(port);
        let my_id = me.qs("CLIENT ID").int();
        assert_eq!(
            me.q(&["CLIENT", "KILL", "ID", &my_id.to_string(), "SKIPME", "no"]),
            int(1),
            "[{t:?}]"
        );
        assert!(me.closed(), "[{t:?}]");
        let mut me = Resp::connect(port);
        let my_info = me.qs("CLIENT INFO").text();
        let my_addr =
            info_field(&my_info.replace(' ', "\n").replace('=', ":"), "addr").expect("addr");
        assert_eq!(me.q(&["CLIENT", "KILL", &my_addr]), ok(), "[{t:?}]");
        assert!(me.closed(), "[{t:?}]");
    });
}

#[test]
fn reset_and_quit() {
    both(&[], |port, t| {
        let mut c = Resp::connect(port);
        let mut pubber = Resp::connect(port);
        script(
            &mut c,
            t,
            &[
                ("SELECT 3", ok()),
                ("CLIENT SETNAME someone", ok()),
                ("SET k v", ok()),
                ("WATCH k", ok()),
                ("MULTI", ok()),
                ("SET k w", st("QUEUED")),
                ("RESET", st("RESET")),
                ("CLIENT GETNAME", Reply::Nil),
                ("EXEC", err("ERR EXEC without MULTI")),
                ("GET k", Reply::Nil),
                ("SELECT 3", ok()),
                ("GET k", bulk("v")),
                ("RESET x", arity("reset")),
            ],
        );
        assert_eq!(c.qs("SUBSCRIBE ch").items().len(), 3);
        assert_eq!(
            c.qs("RESET"),
            st("RESET"),
            "[{t:?}] RESET leaves the subscribed context"
        );
        assert_eq!(pubber.qs("PUBLISH ch x"), int(0), "[{t:?}]");
        assert!(!c.qs("HELLO 3").is_error());
        assert_eq!(c.qs("RESET"), st("RESET"));
        assert_eq!(
            c.qs("GET nokey"),
            Reply::Nil,
            "[{t:?}] RESET goes back to RESP2"
        );
        // QUIT is not queued by MULTI.
        assert_eq!(c.qs("MULTI"), ok());
        assert_eq!(c.qs("QUIT extra"), ok());
        c.set_timeout(Duration::from_secs(5));
        assert!(c.closed(), "[{t:?}] QUIT must close the connection");
    });
}
