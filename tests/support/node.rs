//! A real `sledis-server` process on a loopback port, with its own config
//! file and temp dir, stopped by PID when the test ends.

use std::net::TcpListener;
use std::path::PathBuf;
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
