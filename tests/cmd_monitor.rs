//! MONITOR: the feed of commands a node runs, compared line for line with
//! a real Redis 7.0 (timestamps and client addresses aside): quoting,
//! redaction, databases, MULTI/EXEC, scripts, what is not fed, and what a
//! monitoring client may still send.

mod support;

use support::*;

/// The commands whose feed is compared (words; `\xHH` is a byte).
const LINES: &[&[&[u8]]] = &[
    &[b"SET", b"a b", b"x\"y\n\x01\xff\\"],
    &[b"GET", b"nosuch"],
    &[b"NOSUCHCMD"],
    &[b"GET"],
    &[b"MULTI"],
    &[b"SET", b"k", b"1"],
    &[b"INCR", b"k"],
    &[b"EXEC"],
    &[
        b"EVAL",
        b"redis.call('set', 'k2', 'v') return redis.call('get', 'k2')",
        b"0",
    ],
    &[b"CONFIG", b"GET", b"maxmemory"],
    &[b"AUTH", b"secret"],
    &[b"HELLO", b"2", b"AUTH", b"default", b"secret"],
    &[b"SELECT", b"2"],
    &[b"SET", b"k", b"1"],
    &[b"SELECT", b"0"],
    &[b"PING"],
    &[b"ECHO", b"end-of-feed"],
];

/// The feed one server gives for LINES, each line without its time and
/// with the client's address as ADDR.
fn feed(port: u16) -> Vec<String> {
    let mut m = Resp::connect(port);
    assert_eq!(m.q(&["MONITOR"]), ok());
    let mut c = Resp::connect(port);
    for l in LINES {
        c.q(l);
    }
    let mut out = Vec::new();
    loop {
        let Reply::Status(line) = m.read() else {
            panic!("a monitor line")
        };
        let (time, rest) = line.split_once(' ').expect("time");
        let (secs, micros) = time.split_once('.').expect("seconds.micros");
        assert!(secs.len() >= 10 && micros.len() == 6, "{time}");
        assert!(secs
            .chars()
            .chain(micros.chars())
            .all(|c| c.is_ascii_digit()));
        let (db_from, args) = rest.split_once("] ").expect("[db from]");
        let from = db_from.split_once(' ').map_or("", |x| x.1);
        let shown = if from == "lua" { "lua" } else { "ADDR" };
        let db = db_from
            .trim_start_matches('[')
            .split(' ')
            .next()
            .unwrap_or("");
        out.push(format!("[{db} {shown}] {args}"));
        if args.contains("end-of-feed") {
            break;
        }
    }
    // A monitor may not read or write keys; RESET ends the feed.
    assert_eq!(
        m.q(&["GET", "a"]),
        err("ERR Replica can't interact with the keyspace")
    );
    assert_eq!(m.q(&["RESET"]), Reply::Status("RESET".into()));
    assert_eq!(m.q(&["GET", "k"]), bulk("2"));
    out
}

#[test]
fn the_feed_matches_redis() {
    let want = {
        let r = RealRedis::start(&[]);
        feed(r.port)
    };
    let n = Node::start(&[]);
    let got = feed(n.port);
    assert_eq!(got, want);
    assert!(want.iter().any(|l| l.contains("\"AUTH\" \"(redacted)\"")));
}
