//! A real `redis-server`, the reference the tests compare sledis with.

use super::{Reply, Resp};
use std::io::{BufReader, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A real `redis-server` on a free port with its own temp dir, stopped by
/// PID when dropped.
pub struct RealRedis {
    pub port: u16,
    child: Child,
    _dir: tempfile::TempDir,
    args: Vec<String>,
}

impl RealRedis {
    /// Fails the test if redis-server is not installed (CI installs it).
    pub fn start(extra: &[&str]) -> RealRedis {
        // A port picked free can be taken by someone else before the server
        // binds it: retry, and make sure we talk to our own process.
        for _ in 0..5 {
            if let Some(r) = Self::try_start(extra) {
                return r;
            }
        }
        panic!("redis-server did not start after 5 attempts");
    }

    fn try_start(extra: &[&str]) -> Option<RealRedis> {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("port");
        let mut args: Vec<String> = [
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.push(dir.path().display().to_string());
        args.extend(extra.iter().map(|s| s.to_string()));
        let child = Self::spawn(&args);
        let mut r = RealRedis {
            port,
            child,
            _dir: dir,
            args,
        };
        let pid = format!("process_id:{}", r.child.id());
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(_)) = r.child.try_wait() {
                return None;
            }
            if let Ok(s) = TcpStream::connect(("127.0.0.1", port)) {
                s.set_read_timeout(Some(Duration::from_secs(5))).ok();
                let mut c = Resp {
                    port,
                    w: s.try_clone().expect("clone"),
                    r: BufReader::new(s),
                    last_raw: Vec::new(),
                };
                let pass = extra
                    .windows(2)
                    .find(|w| w[0] == "--requirepass")
                    .map(|w| w[1]);
                // A server still starting up (or someone else's) may close
                // the connection: a failed send is one more retry, not a
                // failed test.
                let mut probe = Vec::new();
                if let Some(p) = pass {
                    probe.extend(Resp::encode(&["AUTH", p]));
                }
                probe.extend(Resp::encode(&["INFO", "server"]));
                if c.w.write_all(&probe).is_err() {
                    if Instant::now() > deadline {
                        return None;
                    }
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                }
                if pass.is_some() {
                    let _ = c.try_read();
                }
                match c.try_read() {
                    Ok(Reply::Bulk(info)) if String::from_utf8_lossy(&info).contains(&pid) => {
                        return Some(r)
                    }
                    // Someone else's server on that port.
                    Ok(Reply::Bulk(_)) => return None,
                    _ => {}
                }
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn spawn(args: &[String]) -> Child {
        Command::new("redis-server")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server must be installed (apt-get install redis-server, or run scripts/test): the tests compare sledis with it")
    }

    pub fn dir(&self) -> PathBuf {
        self._dir.path().to_path_buf()
    }

    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts the server again on the same port, dir and arguments.
    pub fn restart(&mut self) {
        self.child = Self::spawn(&self.args);
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("redis-server did not restart on {}", self.port);
    }
}

impl Drop for RealRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
