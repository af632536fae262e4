//! Logging: `tracing` to stderr and, when `logfile` is set, to that file too
//! (Redis logs to one place; operators asked for both while testing).

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};
use tracing_subscriber::EnvFilter;

#[derive(Clone)]
struct Tee {
    file: Option<Arc<Mutex<File>>>,
}

impl Write for Tee {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let _ = io::stderr().write_all(buf);
        if let Some(f) = &self.file {
            if let Ok(mut f) = f.lock() {
                let _ = f.write_all(buf);
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// `level` is a tracing filter directive; RUST_LOG overrides it.
pub fn init(level: &str, logfile: Option<&Path>) -> Result<(), String> {
    let file = match logfile {
        Some(p) if !p.as_os_str().is_empty() => {
            if let Some(dir) = p.parent() {
                if !dir.as_os_str().is_empty() {
                    std::fs::create_dir_all(dir)
                        .map_err(|e| format!("cannot create log dir {}: {e}", dir.display()))?;
                }
            }
            let f = OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .map_err(|e| format!("Can't open the log file {}: {e}", p.display()))?;
            Some(Arc::new(Mutex::new(f)))
        }
        _ => None,
    };
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(format!("sledis={level},{level}")));
    let tee = Tee { file };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_target(false)
        .with_thread_names(false)
        .with_writer(move || tee.clone())
        .try_init()
        .map_err(|e| e.to_string())
}
