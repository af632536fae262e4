//! Talking to a server from a test: redis-cli, raw bytes, INFO fields,
//! DEBUG DIGEST.

use super::Node;
use redis::Connection;
use std::io::Write;
use std::process::Command;
use std::time::Duration;

/// Runs `redis-cli -p PORT args...` and returns stdout.
pub fn redis_cli(port: u16, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .arg("-p")
        .arg(port.to_string())
        .args(args)
        .output()
        .expect("redis-cli must be installed (apt-get install redis-tools, or run scripts/test)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Sends raw bytes and reads what comes back until the server closes or
/// `timeout` passes.
pub fn raw_exchange(port: u16, bytes: &[u8], timeout: Duration) -> Vec<u8> {
    use std::io::Read;
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(timeout)).ok();
    let _ = s.write_all(bytes);
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(_) => break,
        }
    }
    out
}

pub fn info_field(info: &str, field: &str) -> Option<String> {
    info.lines().find_map(|l| {
        l.strip_prefix(&format!("{field}:"))
            .map(|v| v.trim().to_string())
    })
}

/// A client whose replies time out after `t` (a read that never answers
/// fails the test instead of hanging it).
pub fn client_with_timeout(node: &Node, t: Duration) -> Connection {
    let c = redis::Client::open(node.url()).expect("client");
    let c = c.get_connection().expect("connect");
    c.set_read_timeout(Some(t)).expect("timeout");
    c
}

/// Runs a command given as words and converts its reply; any error fails
/// the test, naming the command.
pub fn q<T: redis::FromRedisValue>(c: &mut Connection, args: &[&str]) -> T {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query(c).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

/// The text of `INFO section`.
pub fn info(c: &mut Connection, section: &str) -> String {
    redis::cmd("INFO").arg(section).query(c).expect("INFO")
}

/// One field of `INFO section`; empty if the server does not print it.
pub fn info_value(c: &mut Connection, section: &str, field: &str) -> String {
    info_field(&info(c, section), field).unwrap_or_default()
}

/// One numeric field of `INFO section`; fails the test if it is missing.
pub fn info_num(c: &mut Connection, section: &str, field: &str) -> u64 {
    let i = info(c, section);
    info_field(&i, field)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("INFO {section} has no number {field}:\n{i}"))
}

pub fn dbsize(c: &mut Connection) -> i64 {
    redis::cmd("DBSIZE").query(c).expect("DBSIZE")
}

/// `DEBUG DIGEST`: equal digests, equal data.
pub fn digest(c: &mut Connection) -> String {
    redis::cmd("DEBUG")
        .arg("DIGEST")
        .query(c)
        .expect("DEBUG DIGEST")
}

/// `DEBUG DIGEST` of the server on `port`, through redis-cli.
pub fn digest_at(port: u16) -> String {
    redis_cli(port, &["debug", "digest"]).trim().to_string()
}

/// The first python3 that has redis-py: the one on PATH (it may be a
/// pyenv or venv interpreter without it), else Debian's, where
/// `apt-get install python3-redis` puts it. Neither: the test fails.
pub fn python_with_redis() -> &'static str {
    ["python3", "/usr/bin/python3"]
        .into_iter()
        .find(|py| {
            std::process::Command::new(py)
                .args(["-c", "import redis.sentinel"])
                .stderr(std::process::Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
        .unwrap_or_else(|| {
            panic!("no python3 with redis-py (import redis.sentinel): apt-get install python3-redis, or run scripts/test")
        })
}
