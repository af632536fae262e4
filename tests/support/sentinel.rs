//! A `sledis-sentinel` (or Debian's `redis-sentinel`) process, and the
//! events it publishes.

use super::{free_port, redis_cli, wait_until};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

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
            .map_err(|e| {
                let hint = if self.bin.contains("sledis") {
                    ""
                } else {
                    " (apt-get install redis-sentinel, or run scripts/test)"
                };
                format!("spawn {}: {e}{hint}", self.bin)
            })?;
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

/// The standard monitor lines for tests: fast detection, short timeouts.
pub fn monitor_lines(master_port: u16, quorum: u32, down_after: u32) -> Vec<String> {
    vec![
        format!("sentinel monitor mymaster 127.0.0.1 {master_port} {quorum}"),
        format!("sentinel down-after-milliseconds mymaster {down_after}"),
        "sentinel failover-timeout mymaster 5000".to_string(),
    ]
}
