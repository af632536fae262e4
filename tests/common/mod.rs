//! Test harness: real `sledis-server` processes on loopback ports, each with
//! its own temp dir, stopped by PID when the test ends.

#![allow(dead_code)]

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_sledis-server");

/// A port nobody listens on right now (the OS picks it).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free port")
}

pub struct Node {
    pub port: u16,
    pub dir: PathBuf,
    pub conf: PathBuf,
    pub extra: Vec<String>,
    child: Option<Child>,
    _tmp: Option<tempfile::TempDir>,
}

impl Node {
    /// Starts a node with a config file in a fresh temp dir; `lines` are
    /// extra config lines.
    pub fn start(lines: &[&str]) -> Node {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().to_path_buf();
        let conf = dir.join("sledis.conf");
        let mut n = Node {
            port: 0,
            dir: dir.clone(),
            conf: conf.clone(),
            extra: Vec::new(),
            child: None,
            _tmp: Some(tmp),
        };
        // A port picked free can be taken by another test before our node
        // binds it: then the node exits and we try another port.
        for attempt in 0.. {
            let port = free_port();
            let mut text = format!(
                "# test node\nport {port}\nbind 127.0.0.1\ndir {}\nlogfile {}\n",
                dir.join("data").display(),
                dir.join("sledis.log").display()
            );
            for l in lines {
                text.push_str(l);
                text.push('\n');
            }
            std::fs::write(&conf, text).expect("write conf");
            n.port = port;
            n.spawn();
            match n.wait_ready() {
                Ok(()) => return n,
                Err(e) if attempt < 5 && e.contains("listening socket") => continue,
                Err(e) => panic!("{e}"),
            }
        }
        unreachable!()
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("sledis.log")).unwrap_or_default()
    }

    fn spawn(&mut self) {
        let child = Command::new(BIN)
            .arg(&self.conf)
            .args(&self.extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn sledis-server");
        self.child = Some(child);
    }

    /// Starts the process (again) with the same config and waits until it
    /// serves.
    pub fn launch(&mut self) {
        self.spawn();
        if let Err(e) = self.wait_ready() {
            panic!("{e}");
        }
    }

    /// Starts the process and returns its exit status and output, for
    /// startups that are expected to fail.
    pub fn launch_expect_failure(&mut self, timeout: Duration) -> (Option<i32>, String) {
        let mut child = Command::new(BIN)
            .arg(&self.conf)
            .args(&self.extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(st)) = child.try_wait() {
                let out = child.wait_with_output().expect("output");
                let text = String::from_utf8_lossy(&out.stderr).into_owned()
                    + &String::from_utf8_lossy(&out.stdout);
                return (st.code(), text);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return (None, "still running".into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Ready means: our process logged that it listens (so a PING answered
    /// on this port is answered by it, not by another test's server), and
    /// it answers PING (NOAUTH counts: a node with requirepass is up).
    pub fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(30);
        let pid = self.pid();
        let ready_line = format!("(pid {pid},");
        loop {
            if let Some(c) = self.child.as_mut() {
                if let Ok(Some(st)) = c.try_wait() {
                    self.child = None;
                    return Err(format!(
                        "sledis-server exited early with {st}; log:\n{}",
                        self.log()
                    ));
                }
            }
            if self.log().contains(&ready_line) {
                if let Ok(mut c) = self.try_client() {
                    match redis::cmd("PING").query::<String>(&mut c) {
                        Ok(_) => return Ok(()),
                        Err(e) if e.code() == Some("NOAUTH") => return Ok(()),
                        Err(_) => {}
                    }
                }
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "node on port {} did not start; log:\n{}",
                    self.port,
                    self.log()
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    pub fn try_client(&self) -> redis::RedisResult<redis::Connection> {
        let c = redis::Client::open(self.url())?;
        c.get_connection_with_timeout(Duration::from_secs(5))
    }

    pub fn client(&self) -> redis::Connection {
        self.try_client().expect("connect")
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).expect("running")
    }

    /// SIGKILL: no chance to flush anything.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM and wait for a clean exit.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            unsafe_kill(c.id(), "TERM");
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = c.kill();
            let _ = c.wait();
            panic!("node did not stop on SIGTERM");
        }
    }

    /// Waits for the process to exit by itself (after SHUTDOWN).
    pub fn wait_exit(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        if let Some(c) = self.child.as_mut() {
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    self.child = None;
                    return true;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            return false;
        }
        true
    }

    pub fn wal_dir(&self) -> PathBuf {
        self.data_dir().join("wal")
    }

    pub fn wal_segments(&self) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(self.wal_dir())
            .map(|rd| {
                rd.filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|x| x == "wal"))
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Sends a signal by PID with the `kill` utility.
pub fn unsafe_kill(pid: u32, sig: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status();
}

/// Polls `f` until it returns true or the deadline passes.
pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if f() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs `redis-cli -p PORT args...` and returns stdout.
pub fn redis_cli(port: u16, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .arg("-p")
        .arg(port.to_string())
        .args(args)
        .output()
        .expect("redis-cli (apt-get install redis-tools)");
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

pub fn path_str(p: &Path) -> String {
    p.display().to_string()
}

pub const SENTINEL_BIN: &str = env!("CARGO_BIN_EXE_sledis-sentinel");

/// A `sledis-sentinel` (or, with `bin`, Debian's `redis-sentinel`) process
/// with its own config file in a temp dir.
pub struct SentinelProc {
    pub port: u16,
    pub dir: PathBuf,
    pub conf: PathBuf,
    bin: String,
    child: Option<Child>,
    _tmp: tempfile::TempDir,
}

impl SentinelProc {
    /// `lines` are the `sentinel ...` lines (monitor first).
    pub fn start(lines: &[String]) -> SentinelProc {
        SentinelProc::start_bin(SENTINEL_BIN, lines)
    }

    pub fn start_bin(bin: &str, lines: &[String]) -> SentinelProc {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().to_path_buf();
        let conf = dir.join("sentinel.conf");
        let mut s = SentinelProc {
            port: 0,
            dir: dir.clone(),
            conf: conf.clone(),
            bin: bin.to_string(),
            child: None,
            _tmp: tmp,
        };
        for attempt in 0.. {
            let port = free_port();
            let mut text = format!(
                "# test sentinel\nport {port}\nbind 127.0.0.1\ndir {}\nlogfile {}\n",
                dir.display(),
                dir.join("sentinel.log").display()
            );
            for l in lines {
                text.push_str(l);
                text.push('\n');
            }
            std::fs::write(&conf, text).expect("write conf");
            s.port = port;
            match s.launch_inner() {
                Ok(()) => return s,
                Err(e) if attempt < 5 && e.contains("exited") => continue,
                Err(e) => panic!("{e}"),
            }
        }
        unreachable!()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("sentinel.log")).unwrap_or_default()
    }

    pub fn config(&self) -> String {
        std::fs::read_to_string(&self.conf).unwrap_or_default()
    }

    fn launch_inner(&mut self) -> Result<(), String> {
        let child = Command::new(&self.bin)
            .arg(&self.conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("spawn {}: {e}", self.bin))?;
        let pid = child.id();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        let ready_line = format!("(pid {pid},");
        let is_redis = !self.bin.contains("sledis");
        loop {
            if let Some(c) = self.child.as_mut() {
                if let Ok(Some(st)) = c.try_wait() {
                    self.child = None;
                    return Err(format!(
                        "sentinel exited early with {st}; log:\n{}",
                        self.log()
                    ));
                }
            }
            // Ours logs its pid when it listens; Redis's log starts with it.
            let ours = if is_redis {
                self.log().contains(&format!("{pid}:X"))
            } else {
                self.log().contains(&ready_line)
            };
            if ours && redis_cli(self.port, &["ping"]).trim() == "PONG" {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "sentinel on {} did not start; log:\n{}",
                    self.port,
                    self.log()
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Starts the process again with the same config file.
    pub fn launch(&mut self) {
        if let Err(e) = self.launch_inner() {
            panic!("{e}");
        }
    }

    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// The port `get-master-addr-by-name` answers, if any.
    pub fn master_port(&self, name: &str) -> Option<u16> {
        redis_cli(self.port, &["sentinel", "get-master-addr-by-name", name])
            .lines()
            .nth(1)
            .and_then(|p| p.trim().parse().ok())
    }

    /// A field of `SENTINEL MASTER name`.
    pub fn master_field(&self, name: &str, field: &str) -> Option<String> {
        let out = redis_cli(self.port, &["sentinel", "master", name]);
        let lines: Vec<&str> = out.lines().collect();
        lines
            .chunks(2)
            .find(|kv| kv[0] == field)
            .and_then(|kv| kv.get(1).map(|v| v.to_string()))
    }
}

impl Drop for SentinelProc {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Every event a sentinel publishes, collected by a PSUBSCRIBE `*` client.
pub struct Events {
    seen: std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>>,
}

impl Events {
    pub fn subscribe(port: u16) -> Events {
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let s2 = seen.clone();
        std::thread::spawn(move || {
            let client = redis::Client::open(format!("redis://127.0.0.1:{port}/")).expect("url");
            let Ok(mut con) = client.get_connection() else {
                let _ = ready_tx.send(false);
                return;
            };
            let mut ps = con.as_pubsub();
            if ps.psubscribe("*").is_err() {
                let _ = ready_tx.send(false);
                return;
            }
            let _ = ready_tx.send(true);
            while let Ok(msg) = ps.get_message() {
                let ch = msg.get_channel_name().to_string();
                let payload: String = msg.get_payload().unwrap_or_default();
                s2.lock().expect("lock").push((ch, payload));
            }
        });
        assert!(
            ready_rx
                .recv_timeout(Duration::from_secs(10))
                .unwrap_or(false),
            "subscribe to sentinel events"
        );
        Events { seen }
    }

    pub fn all(&self) -> Vec<(String, String)> {
        self.seen.lock().expect("lock").clone()
    }

    pub fn has(&self, channel: &str, needle: &str) -> bool {
        self.all()
            .iter()
            .any(|(c, m)| c == channel && m.contains(needle))
    }

    pub fn wait(&self, channel: &str, needle: &str, timeout: Duration) -> bool {
        wait_until(timeout, || self.has(channel, needle))
    }

    /// Channels in the order they were published.
    pub fn channels(&self) -> Vec<String> {
        self.all().into_iter().map(|(c, _)| c).collect()
    }
}

/// A master and `n` replicas of it, replicas in sync.
pub fn replicated_group(n: usize) -> (Node, Vec<Node>) {
    let m = Node::start(&[]);
    let line = format!("replicaof 127.0.0.1 {}", m.port);
    let replicas: Vec<Node> = (0..n).map(|_| Node::start(&[&line])).collect();
    for r in &replicas {
        assert!(
            wait_until(Duration::from_secs(20), || {
                info_field(
                    &redis_cli(r.port, &["info", "replication"]),
                    "master_link_status",
                )
                .as_deref()
                    == Some("up")
            }),
            "replica {} links up; log:\n{}",
            r.port,
            r.log()
        );
    }
    (m, replicas)
}

/// The standard monitor lines for tests: fast detection, short timeouts.
pub fn monitor_lines(master_port: u16, quorum: u32, down_after: u32) -> Vec<String> {
    vec![
        format!("sentinel monitor mymaster 127.0.0.1 {master_port} {quorum}"),
        format!("sentinel down-after-milliseconds mymaster {down_after}"),
        "sentinel failover-timeout mymaster 5000".to_string(),
    ]
}

/// xorshift64*, fixed seed: tiny, deterministic, so a failing random
/// workload repeats (and the same commands can go to two servers).
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    pub fn pick<'a>(&mut self, v: &[&'a str]) -> &'a str {
        v[self.below(v.len() as u64) as usize]
    }

    /// A number in `lo..=hi`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as u64) as i64
    }
}

/// Makes `replica` replicate `master`; returns a client of the replica.
pub fn replicaof(replica: &Node, master: &Node) -> redis::Connection {
    let mut r = replica.client();
    let () = redis::cmd("REPLICAOF")
        .arg("127.0.0.1")
        .arg(master.port)
        .query(&mut r)
        .expect("REPLICAOF");
    r
}
