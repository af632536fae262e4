//! Bad input over raw TCP: garbage, protocol violations, absurd or huge
//! lengths, long inline lines, a client that never reads its replies, and
//! Redis's exact error texts. After each, other clients must still be served
//! and the data must be intact.

mod support;
use support::*;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Sends `bytes`, then reads until the server closes the connection or
/// `timeout` passes. Returns what came back and whether the server closed.
fn exchange(port: u16, bytes: &[u8], timeout: Duration) -> (Vec<u8>, bool) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let _ = s.write_all(bytes);
    read_until_close(&mut s, timeout)
}

fn read_until_close(s: &mut TcpStream, timeout: Duration) -> (Vec<u8>, bool) {
    let deadline = Instant::now() + timeout;
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return (out, false);
        }
        s.set_read_timeout(Some(left)).ok();
        match s.read(&mut buf) {
            Ok(0) => return (out, true),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut =>
            {
                return (out, false)
            }
            // A reset after the server closed with unread input is a close too.
            Err(_) => return (out, true),
        }
    }
}

fn show(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// VmRSS of a process in KiB.
fn rss_kb(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmRSS")
}

/// The node still serves a fresh client, and the canary key is intact.
fn assert_healthy(n: &Node, what: &str) {
    let t0 = Instant::now();
    let mut c = n
        .try_client()
        .unwrap_or_else(|e| panic!("after {what}: cannot connect: {e}"));
    let pong: String = redis::cmd("PING")
        .query(&mut c)
        .unwrap_or_else(|e| panic!("after {what}: PING failed: {e}"));
    assert_eq!(pong, "PONG");
    let v: Option<String> = redis::cmd("GET")
        .arg("canary")
        .query(&mut c)
        .expect("GET canary");
    assert_eq!(v.as_deref(), Some("alive"), "after {what}: data intact");
    assert!(
        t0.elapsed() < Duration::from_secs(2),
        "after {what}: a fresh client waited {:?}",
        t0.elapsed()
    );
}

fn node_with_canary(lines: &[&str]) -> Node {
    let n = Node::start(lines);
    let mut c = n.client();
    let _: () = redis::cmd("SET")
        .arg("canary")
        .arg("alive")
        .query(&mut c)
        .expect("SET canary");
    n
}

const T: Duration = Duration::from_secs(3);

#[test]
fn protocol_errors_get_redis_errors_and_close_only_that_connection() {
    let n = node_with_canary(&[]);
    // (request, exact reply, the server closes the connection)
    let cases: &[(&[u8], &[u8])] = &[
        (
            b"*2000000\r\n",
            b"-ERR Protocol error: invalid multibulk length\r\n",
        ),
        (
            b"*abc\r\n",
            b"-ERR Protocol error: invalid multibulk length\r\n",
        ),
        (
            b"*1\r\n$999999999999\r\n",
            b"-ERR Protocol error: invalid bulk length\r\n",
        ),
        (
            b"*1\r\n$-5\r\n",
            b"-ERR Protocol error: invalid bulk length\r\n",
        ),
        (
            b"*1\r\n$abc\r\n",
            b"-ERR Protocol error: invalid bulk length\r\n",
        ),
        (
            b"*1\r\nfoo\r\n",
            b"-ERR Protocol error: expected '$', got 'f'\r\n",
        ),
        (
            b"*1\r\n:1\r\n",
            b"-ERR Protocol error: expected '$', got ':'\r\n",
        ),
        (
            b"SET \"a b\r\n",
            b"-ERR Protocol error: unbalanced quotes in request\r\n",
        ),
        (
            b"SET 'a b\r\n",
            b"-ERR Protocol error: unbalanced quotes in request\r\n",
        ),
        (
            b"set \"a\"b c\r\n",
            b"-ERR Protocol error: unbalanced quotes in request\r\n",
        ),
        (
            b"'it''s'\r\n",
            b"-ERR Protocol error: unbalanced quotes in request\r\n",
        ),
        // A good command before the bad frame is run and answered first.
        (
            b"*3\r\n$3\r\nSET\r\n$6\r\nbefore\r\n$1\r\n1\r\n*1\r\n$-5\r\n",
            b"+OK\r\n-ERR Protocol error: invalid bulk length\r\n",
        ),
        (
            b"PING\r\n*2000000\r\n",
            b"+PONG\r\n-ERR Protocol error: invalid multibulk length\r\n",
        ),
    ];
    for (req, want) in cases {
        let (got, closed) = exchange(n.port, req, T);
        assert_eq!(show(&got), show(want), "reply to {:?}", show(req));
        assert!(
            closed,
            "the server closes the connection after {:?}",
            show(req)
        );
        assert_healthy(&n, &format!("{:?}", show(req)));
    }
    let mut c = n.client();
    let v: Option<String> = redis::cmd("GET").arg("before").query(&mut c).expect("GET");
    assert_eq!(v.as_deref(), Some("1"));
}

#[test]
fn long_inline_line_is_refused() {
    let n = node_with_canary(&[]);
    // No newline at all, longer than 64 KiB.
    let (got, closed) = exchange(n.port, &vec![b'x'; 70 * 1024], T);
    assert_eq!(
        show(&got),
        "-ERR Protocol error: too big inline request\r\n"
    );
    assert!(closed);
    assert_healthy(&n, "a 70 KiB line without newline");
    // A newline, but only after 64 KiB.
    let mut req = vec![b'y'; 66 * 1024];
    req.extend_from_slice(b"\r\n");
    let (got, closed) = exchange(n.port, &req, T);
    assert_eq!(
        show(&got),
        "-ERR Protocol error: too big inline request\r\n"
    );
    assert!(closed);
    assert_healthy(&n, "a 66 KiB inline line");
    // An unterminated length line of a multibulk is bounded as well.
    let mut req = b"*1\r\n$".to_vec();
    req.extend(std::iter::repeat_n(b'9', 70 * 1024));
    let (got, closed) = exchange(n.port, &req, T);
    assert!(
        show(&got).starts_with("-ERR Protocol error: "),
        "{}",
        show(&got)
    );
    assert!(closed);
    assert_healthy(&n, "an endless bulk length line");
}

#[test]
fn garbage_bytes_do_not_hurt_the_server() {
    let n = node_with_canary(&[]);
    let pid = n.pid();
    // QUIT at the end makes the server close once it got through the garbage.
    let cases: &[(&[u8], &[u8])] = &[
        (
            b"\x01\x02\x03abc x\r\nQUIT\r\n",
            b"-ERR unknown command '\x01\x02\x03abc', with args beginning with: 'x' \r\n+OK\r\n",
        ),
        (
            b"+PING\r\nQUIT\r\n",
            b"-ERR unknown command '+PING', with args beginning with: \r\n+OK\r\n",
        ),
        (
            b"$3\r\nQUIT\r\n",
            b"-ERR unknown command '$3', with args beginning with: \r\n+OK\r\n",
        ),
        (b"   \t  \r\nPING\r\nQUIT\r\n", b"+PONG\r\n+OK\r\n"),
        (b"\r\n\n\nQUIT\r\n", b"+OK\r\n"),
        (b"*0\r\n*-1\r\nQUIT\r\n", b"+OK\r\n"),
        // NUL ends an inline line's arguments, as in Redis's sdssplitargs.
        (
            b"\x00\x01\xff\xfe garbage\r\nPING\r\nQUIT\r\n",
            b"+PONG\r\n+OK\r\n",
        ),
        (
            b"abc\x00def ghi\r\nQUIT\r\n",
            b"-ERR unknown command 'abc', with args beginning with: \r\n+OK\r\n",
        ),
        (
            b"\"a\x00b\" c\r\n",
            b"-ERR Protocol error: unbalanced quotes in request\r\n",
        ),
    ];
    for (req, want) in cases {
        let (got, closed) = exchange(n.port, req, T);
        assert_eq!(show(&got), show(want), "reply to {:?}", show(req));
        assert!(closed, "connection closed after {:?}", show(req));
        assert_healthy(&n, &format!("{:?}", show(req)));
    }
    // Pseudo-random binary noise (no quotes, so no protocol error): the
    // server answers or waits, but stays healthy and small.
    let mut rng = Rng(0x9e3779b97f4a7c15);
    for round in 0..20 {
        let mut noise = Vec::with_capacity(4096);
        for _ in 0..4096 {
            let b = (rng.next() >> 24) as u8;
            noise.push(if b == b'"' || b == b'\'' { b'.' } else { b });
        }
        noise[0] = if round % 2 == 0 { b'*' } else { b'g' };
        let _ = exchange(n.port, &noise, Duration::from_millis(200));
        assert_healthy(&n, &format!("noise round {round}"));
    }
    let rss = rss_kb(pid);
    assert!(rss < 200 * 1024, "server RSS after garbage: {rss} KiB");
}

#[test]
fn huge_claimed_lengths_are_not_allocated() {
    let n = node_with_canary(&[]);
    let pid = n.pid();
    let base = rss_kb(pid);
    // Ten clients each announce a legal 500 MB bulk (and a 1M-argument
    // request) and send only a little of it.
    let mut socks = Vec::new();
    for i in 0..10 {
        let mut s = TcpStream::connect(("127.0.0.1", n.port)).expect("connect");
        let head: &[u8] = if i % 2 == 0 {
            b"*3\r\n$3\r\nSET\r\n$4\r\nhuge\r\n$500000000\r\n"
        } else {
            b"*1048576\r\n$4\r\nPING\r\n"
        };
        s.write_all(head).expect("write");
        s.write_all(&vec![b'z'; 64 * 1024]).expect("write");
        socks.push(s);
    }
    std::thread::sleep(Duration::from_millis(300));
    assert_healthy(&n, "clients announcing 500 MB bulks");
    let rss = rss_kb(pid);
    assert!(
        rss < base + 100 * 1024,
        "RSS grew from {base} KiB to {rss} KiB for claimed, unsent bulks"
    );
    // And then they all go away mid-request.
    drop(socks);
    let (got, closed) = exchange(n.port, b"*1\r\n$500000000\r\n", Duration::from_millis(300));
    assert!(
        got.is_empty() && !closed,
        "a legal, incomplete request just waits: {}",
        show(&got)
    );
    assert_healthy(&n, "clients that vanished mid-request");
    let mut c = n.client();
    let v: Option<String> = redis::cmd("GET").arg("huge").query(&mut c).expect("GET");
    assert_eq!(v, None, "an unfinished SET wrote nothing");
    assert!(rss_kb(pid) < base + 100 * 1024);
}

#[test]
fn proto_max_bulk_len_from_the_config_is_enforced() {
    let n = node_with_canary(&["proto-max-bulk-len 1mb"]);
    let (got, closed) = exchange(n.port, b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2000000\r\n", T);
    assert_eq!(show(&got), "-ERR Protocol error: invalid bulk length\r\n");
    assert!(closed);
    assert_healthy(&n, "a bulk over proto-max-bulk-len");
    // Just under the limit is fine.
    let mut c = n.client();
    let big = "v".repeat(1024 * 1024 - 10);
    let _: () = redis::cmd("SET")
        .arg("k")
        .arg(&big)
        .query(&mut c)
        .expect("SET under the limit");
    let v: String = redis::cmd("GET").arg("k").query(&mut c).expect("GET");
    assert_eq!(v.len(), big.len());
}

#[test]
fn clients_that_never_read_their_replies_do_not_hurt_others() {
    const GREEDY: usize = 4;
    let n = node_with_canary(&[]);
    let pid = n.pid();
    let base = rss_kb(pid);
    let mut c = n.client();
    let big = "b".repeat(100 * 1024);
    let _: () = redis::cmd("SET")
        .arg("big")
        .arg(&big)
        .query(&mut c)
        .expect("SET big");
    // Greedy clients pipeline GETs of a 100 KiB value and never read: each
    // 9-byte request asks for 100 KiB of reply.
    let stop = Arc::new(AtomicBool::new(false));
    let port = n.port;
    let greedy: Vec<_> = (0..GREEDY)
        .map(|_| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
                s.set_write_timeout(Some(Duration::from_millis(200))).ok();
                let chunk = b"GET big\r\n".repeat(1000);
                let mut sent = 0usize;
                while !stop.load(Ordering::SeqCst) {
                    match s.write(&chunk) {
                        Ok(n) => sent += n,
                        Err(_) => std::thread::sleep(Duration::from_millis(20)),
                    }
                }
                (s, sent)
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let mut worst = Duration::ZERO;
    for i in 0..20 {
        let t0 = Instant::now();
        let pong: String = redis::cmd("PING").query(&mut c).expect("PING");
        assert_eq!(pong, "PONG");
        let _: () = redis::cmd("SET")
            .arg(format!("other:{i}"))
            .arg(i)
            .query(&mut c)
            .expect("SET");
        worst = worst.max(t0.elapsed());
        std::thread::sleep(Duration::from_millis(20));
    }
    let rss = rss_kb(pid);
    stop.store(true, Ordering::SeqCst);
    let results: Vec<(TcpStream, usize)> = greedy
        .into_iter()
        .map(|h| h.join().expect("greedy"))
        .collect();
    let sent: usize = results.iter().map(|r| r.1).sum();
    eprintln!("greedy clients sent {sent} bytes of GETs; server RSS {base} -> {rss} KiB; worst PING+SET {worst:?}");
    assert!(
        worst < Duration::from_millis(500),
        "PING+SET took {worst:?} beside greedy clients"
    );
    // Replies wait for their client; they are not built in memory ahead of it
    // (a 16 KiB read of GETs would otherwise be ~180 MB of replies).
    assert!(
        rss < base + 64 * 1024,
        "RSS grew from {base} KiB to {rss} KiB for {GREEDY} clients that do not read"
    );
    drop(results);
    assert_healthy(&n, "clients that never read");
}

#[test]
fn a_long_pipeline_is_answered_completely_and_in_order() {
    let n = node_with_canary(&[]);
    let mut s = TcpStream::connect(("127.0.0.1", n.port)).expect("connect");
    const N: usize = 50_000;
    let req = b"INCR ctr\r\nGET canary\r\n".repeat(N);
    let mut w = s.try_clone().expect("clone");
    let writer = std::thread::spawn(move || w.write_all(&req).expect("send pipeline"));
    let mut expect = Vec::new();
    for i in 1..=N {
        expect.extend_from_slice(format!(":{i}\r\n$5\r\nalive\r\n").as_bytes());
    }
    let mut got = vec![0u8; expect.len()];
    s.set_read_timeout(Some(Duration::from_secs(20))).ok();
    s.read_exact(&mut got).expect("all replies");
    writer.join().expect("writer");
    assert!(
        got == expect,
        "replies out of order or wrong (first difference at byte {:?})",
        got.iter().zip(&expect).position(|(a, b)| a != b)
    );
    assert_healthy(&n, "a long pipeline");
}

#[test]
fn requests_pipelined_behind_debug_sleep_are_answered() {
    let n = node_with_canary(&[]);
    let mut s = TcpStream::connect(("127.0.0.1", n.port)).expect("connect");
    s.write_all(b"DEBUG SLEEP 0.1\r\nPING\r\nGET canary\r\n")
        .expect("send");
    let want = b"+OK\r\n+PONG\r\n$5\r\nalive\r\n";
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(3);
    while got.len() < want.len() && Instant::now() < deadline {
        s.set_read_timeout(Some(Duration::from_millis(100))).ok();
        let mut b = [0u8; 256];
        if let Ok(k) = s.read(&mut b) {
            if k == 0 {
                break;
            }
            got.extend_from_slice(&b[..k]);
        }
    }
    assert_eq!(
        show(&got),
        show(want),
        "commands after DEBUG SLEEP in the same packet wait for more input"
    );
}

/// Minimal RESP client for exact replies.
struct Raw {
    s: TcpStream,
    buf: Vec<u8>,
}

impl Raw {
    fn connect(port: u16) -> Raw {
        let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(5))).ok();
        Raw { s, buf: Vec::new() }
    }

    fn line(&mut self) -> String {
        loop {
            if let Some(i) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let l = show(&self.buf[..i]);
                self.buf.drain(..i + 2);
                return l;
            }
            let mut b = [0u8; 4096];
            let n = self.s.read(&mut b).expect("read reply");
            assert!(n > 0, "server closed the connection");
            self.buf.extend_from_slice(&b[..n]);
        }
    }

    /// One reply, rendered: `+OK`, `-ERR ...`, `:1`, `$value`, `$nil`, `*[..]`.
    fn reply(&mut self) -> String {
        let l = self.line();
        match l.as_bytes().first() {
            Some(b'$') => {
                let n: i64 = l[1..].parse().expect("bulk len");
                if n < 0 {
                    return "$nil".into();
                }
                while self.buf.len() < n as usize + 2 {
                    let mut b = [0u8; 4096];
                    let k = self.s.read(&mut b).expect("read bulk");
                    assert!(k > 0);
                    self.buf.extend_from_slice(&b[..k]);
                }
                let v = show(&self.buf[..n as usize]);
                self.buf.drain(..n as usize + 2);
                format!("${v}")
            }
            Some(b'*') => {
                let n: i64 = l[1..].parse().expect("array len");
                let items: Vec<String> = (0..n.max(0)).map(|_| self.reply()).collect();
                format!("*[{}]", items.join(","))
            }
            _ => l,
        }
    }

    fn cmd(&mut self, args: &[&str]) -> String {
        let mut req = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            req.extend_from_slice(format!("${}\r\n{a}\r\n", a.len()).as_bytes());
        }
        self.s.write_all(&req).expect("send");
        self.reply()
    }
}

/// Commands and Redis 7.0's exact replies (checked against redis-server 7.0.15).
const ERRORS: &[(&[&str], &str)] = &[
    (&["GET"], "-ERR wrong number of arguments for 'get' command"),
    (
        &["SET", "a"],
        "-ERR wrong number of arguments for 'set' command",
    ),
    (
        &["INCR"],
        "-ERR wrong number of arguments for 'incr' command",
    ),
    (&["DEL"], "-ERR wrong number of arguments for 'del' command"),
    (
        &["MGET"],
        "-ERR wrong number of arguments for 'mget' command",
    ),
    (
        &["MSET", "a"],
        "-ERR wrong number of arguments for 'mset' command",
    ),
    (
        &["MSET", "a", "b", "c"],
        "-ERR wrong number of arguments for 'mset' command",
    ),
    (
        &["APPEND", "a"],
        "-ERR wrong number of arguments for 'append' command",
    ),
    (
        &["PING", "a", "b"],
        "-ERR wrong number of arguments for 'ping' command",
    ),
    (
        &["LASTSAVE", "x"],
        "-ERR wrong number of arguments for 'lastsave' command",
    ),
    (
        &["DBSIZE", "x"],
        "-ERR wrong number of arguments for 'dbsize' command",
    ),
    (&["SELECT", "99"], "-ERR DB index is out of range"),
    (&["SELECT", "16"], "-ERR DB index is out of range"),
    (&["SELECT", "-1"], "-ERR DB index is out of range"),
    (
        &["SELECT", "abc"],
        "-ERR value is not an integer or out of range",
    ),
    (&["SELECT", "15"], "+OK"),
    (&["SELECT", "0"], "+OK"),
    (
        &["EXPIRE", "a", "abc"],
        "-ERR value is not an integer or out of range",
    ),
    (
        &["INCRBY", "a", "x"],
        "-ERR value is not an integer or out of range",
    ),
    (
        &["INCRBY", "a", "99999999999999999999"],
        "-ERR value is not an integer or out of range",
    ),
    (
        &["SETEX", "a", "abc", "v"],
        "-ERR value is not an integer or out of range",
    ),
    (
        &["SETEX", "a", "0", "v"],
        "-ERR invalid expire time in 'setex' command",
    ),
    (
        &["GETRANGE", "a", "x", "1"],
        "-ERR value is not an integer or out of range",
    ),
    (
        &["SET", "a", "b", "EX", "abc"],
        "-ERR value is not an integer or out of range",
    ),
    (
        &["SET", "a", "b", "EX", "0"],
        "-ERR invalid expire time in 'set' command",
    ),
    (
        &["SET", "a", "b", "PX", "-5"],
        "-ERR invalid expire time in 'set' command",
    ),
    (&["SET", "a", "b", "XX", "NX"], "-ERR syntax error"),
    (&["SET", "a", "b", "FOO"], "-ERR syntax error"),
    (&["SET", "n", "abc"], "+OK"),
    (
        &["INCR", "n"],
        "-ERR value is not an integer or out of range",
    ),
    (
        &["DECRBY", "n", "1"],
        "-ERR value is not an integer or out of range",
    ),
    (
        &["INCRBYFLOAT", "n", "x"],
        "-ERR value is not a valid float",
    ),
    (&["SET", "big", "9223372036854775807"], "+OK"),
    (
        &["INCR", "big"],
        "-ERR increment or decrement would overflow",
    ),
    (&["EXPIRE", "a", "10", "20"], "-ERR Unsupported option 20"),
    (&["SETRANGE", "a", "-1", "x"], "-ERR offset is out of range"),
    (
        &["SETRANGE", "a", "536870912", "x"],
        "-ERR string exceeds maximum allowed size (proto-max-bulk-len)",
    ),
    (&["SCAN", "x"], "-ERR invalid cursor"),
    (&["SCAN", "0", "COUNT", "0"], "-ERR syntax error"),
    (
        &["SCAN", "0", "COUNT", "x"],
        "-ERR value is not an integer or out of range",
    ),
    (&["RENAME", "nosuch", "x"], "-ERR no such key"),
    (
        &["FOOBAR", "x", "y"],
        "-ERR unknown command 'FOOBAR', with args beginning with: 'x' 'y' ",
    ),
];

#[test]
fn command_errors_have_redis_texts() {
    let n = node_with_canary(&[]);
    let mut r = Raw::connect(n.port);
    let mut diffs = Vec::new();
    for (args, want) in ERRORS {
        let got = r.cmd(args);
        if got != *want {
            diffs.push(format!("{args:?}: expected {want:?}, got {got:?}"));
        }
    }
    assert!(
        diffs.is_empty(),
        "replies differ from Redis:\n{}",
        diffs.join("\n")
    );
    assert_healthy(&n, "error replies");
}

/// The same commands against a real redis-server (the reference, which
/// `.ci/run` installs), so the table above stays honest.
#[test]
fn error_table_matches_a_real_redis_server() {
    let real = RealRedis::start(&[]);
    let mut diffs = Vec::new();
    let mut r = Raw::connect(real.port);
    for (args, want) in ERRORS {
        let got = r.cmd(args);
        if got != *want {
            diffs.push(format!(
                "{args:?}: table says {want:?}, redis-server says {got:?}"
            ));
        }
    }
    assert!(
        diffs.is_empty(),
        "the table is wrong:\n{}",
        diffs.join("\n")
    );
}

#[test]
fn client_kill_and_shutdown_work_while_a_client_is_stuck_not_reading() {
    let mut n = node_with_canary(&[]);
    let mut c = n.client();
    let big = "b".repeat(100 * 1024);
    let _: () = redis::cmd("SET")
        .arg("big")
        .arg(&big)
        .query(&mut c)
        .expect("SET big");
    let mut s = TcpStream::connect(("127.0.0.1", n.port)).expect("connect");
    let _: () = redis::cmd("CLIENT")
        .arg("SETNAME")
        .arg("watcher")
        .query(&mut c)
        .expect("SETNAME");
    s.set_write_timeout(Some(Duration::from_millis(200))).ok();
    let _ = s.write_all(b"CLIENT SETNAME greedy\r\n");
    let chunk = b"GET big\r\n".repeat(1000);
    for _ in 0..200 {
        if s.write_all(&chunk).is_err() {
            break;
        }
    }
    // The greedy client is now blocked on its unread replies.
    let killed: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("SKIPME")
        .arg("yes")
        .arg("TYPE")
        .arg("normal")
        .query(&mut c)
        .expect("CLIENT KILL");
    assert!(killed >= 1, "CLIENT KILL found the greedy client");
    let list_has_greedy = |c: &mut redis::Connection| -> bool {
        let l: String = redis::cmd("CLIENT")
            .arg("LIST")
            .query(c)
            .expect("CLIENT LIST");
        l.contains("name=greedy")
    };
    assert!(
        wait_until(Duration::from_secs(3), || !list_has_greedy(&mut c)),
        "a client blocked on unread replies is still there after CLIENT KILL"
    );
    // Its socket is closed by the server: reading ends (after the replies
    // already in flight).
    let mut sink = vec![0u8; 1 << 20];
    s.set_read_timeout(Some(Duration::from_secs(5))).ok();
    let t0 = Instant::now();
    let mut closed = false;
    while t0.elapsed() < Duration::from_secs(5) {
        match s.read(&mut sink) {
            Ok(0) | Err(_) => {
                closed = true;
                break;
            }
            Ok(_) => {}
        }
    }
    assert!(closed, "the killed client's connection is closed");
    // And SHUTDOWN does not wait for a stuck client either.
    let mut s2 = TcpStream::connect(("127.0.0.1", n.port)).expect("connect");
    s2.set_write_timeout(Some(Duration::from_millis(200))).ok();
    for _ in 0..200 {
        if s2.write_all(&chunk).is_err() {
            break;
        }
    }
    let _: redis::RedisResult<()> = redis::cmd("SHUTDOWN").arg("NOSAVE").query(&mut c);
    assert!(
        n.wait_exit(Duration::from_secs(10)),
        "SHUTDOWN with a stuck client exits"
    );
    drop(s2);
}

#[test]
fn client_kill_of_itself_gets_its_reply() {
    let n = node_with_canary(&[]);
    for _ in 0..20 {
        let mut r = Raw::connect(n.port);
        let id = r.cmd(&["CLIENT", "ID"]);
        let id = id.trim_start_matches(':').to_string();
        // Like Redis: the filter form skips the caller unless SKIPME no.
        assert_eq!(r.cmd(&["CLIENT", "KILL", "ID", &id]), ":0");
        assert_eq!(r.cmd(&["PING"]), "+PONG");
        assert_eq!(r.cmd(&["CLIENT", "KILL", "ID", &id, "SKIPME", "no"]), ":1");
        let (rest, closed) = read_until_close(&mut r.s, T);
        assert!(
            rest.is_empty() && closed,
            "then the connection closes: {}",
            show(&rest)
        );
    }
    assert_healthy(&n, "clients that killed themselves");
}

/// CPU seconds (user + system) the process has used.
fn cpu_secs(pid: u32) -> f64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("proc stat");
    let after = &s[s.rfind(')').expect("comm") + 2..];
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 = f[11].parse::<u64>().expect("utime") + f[12].parse::<u64>().expect("stime");
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    ticks as f64 / hz
}

#[test]
fn a_huge_request_trickled_in_is_not_rescanned_on_every_read() {
    // A 1M-argument request whose last bytes arrive a few at a time: the
    // server must not walk every argument so far on each small read.
    let n = node_with_canary(&[]);
    let pid = n.pid();
    const ARGS: usize = 1_000_000;
    let mut req = format!("*{ARGS}\r\n$4\r\nPING\r\n").into_bytes();
    for i in 1..ARGS {
        let a = format!("a{i}");
        req.extend_from_slice(format!("${}\r\n{a}\r\n", a.len()).as_bytes());
    }
    let (head, tail) = req.split_at(req.len() - 64 * 1024);
    let mut s = TcpStream::connect(("127.0.0.1", n.port)).expect("connect");
    s.set_nodelay(true).ok();
    s.write_all(head).expect("send");
    std::thread::sleep(Duration::from_millis(200));
    let (c0, t0) = (cpu_secs(pid), Instant::now());
    for piece in tail.chunks(128) {
        s.write_all(piece).expect("send");
        std::thread::sleep(Duration::from_millis(1));
    }
    let want = b"-ERR wrong number of arguments for 'ping' command\r\n";
    let mut got = vec![0u8; want.len()];
    s.set_read_timeout(Some(Duration::from_secs(20))).ok();
    s.read_exact(&mut got).expect("reply");
    let (cpu, wall) = (cpu_secs(pid) - c0, t0.elapsed().as_secs_f64());
    assert_eq!(show(&got), show(want));
    eprintln!("trickled 64 KiB in 128-byte pieces: {wall:.2} s wall, server CPU {cpu:.2} s");
    assert!(
        cpu < 0.3 * wall,
        "the server burned {cpu:.2} s of CPU in {wall:.2} s parsing a trickled request"
    );
    assert_healthy(&n, "a trickled 1M-argument request");
}
