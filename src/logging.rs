//! Logging: `tracing` to stderr and, when `logfile` is set, to that file too
//! (Redis logs to one place; operators asked for both while testing).

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
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

/// Why logging could not be set up (startup stops, printing it).
#[derive(Debug)]
pub enum InitError {
    /// The logfile's directory could not be created.
    Dir(PathBuf, io::Error),
    /// The logfile could not be opened.
    Open(PathBuf, io::Error),
    /// A global subscriber was already set.
    Subscriber(String),
}

impl std::fmt::Display for InitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InitError::Dir(dir, e) => write!(f, "cannot create log dir {}: {e}", dir.display()),
            InitError::Open(p, e) => write!(f, "Can't open the log file {}: {e}", p.display()),
            InitError::Subscriber(e) => f.write_str(e),
        }
    }
}

impl std::error::Error for InitError {}

/// `level` is a tracing filter directive; RUST_LOG overrides it.
pub fn init(level: &str, logfile: Option<&Path>) -> Result<(), InitError> {
    let file = match logfile {
        Some(p) if !p.as_os_str().is_empty() => {
            if let Some(dir) = p.parent() {
                if !dir.as_os_str().is_empty() {
                    std::fs::create_dir_all(dir)
                        .map_err(|e| InitError::Dir(dir.to_path_buf(), e))?;
                }
            }
            let f = OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .map_err(|e| InitError::Open(p.to_path_buf(), e))?;
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
        .map_err(|e| InitError::Subscriber(e.to_string()))
}
