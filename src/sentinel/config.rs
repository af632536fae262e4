//! The sentinel's config file: Redis Sentinel's syntax (`sentinel monitor
//! ...`, `sentinel down-after-milliseconds ...`) plus the few server
//! directives a sentinel needs. The file is also the sentinel's memory: what
//! it learns (its id, the epochs, known replicas and sentinels, the current
//! master) is rewritten into it, keeping the user's other lines and comments.

use crate::config::{
    for_each_directive, parse_yes_no, quote_if_needed, split_args, trim_line, write_atomic,
    ConfigError, LogLevel, REWRITE_MARKER,
};
use std::collections::{HashMap, VecDeque};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

pub(crate) const DEFAULT_DOWN_AFTER: i64 = 30_000;
pub(crate) const DEFAULT_FAILOVER_TIMEOUT: i64 = 180_000;
pub(crate) const DEFAULT_PARALLEL_SYNCS: i64 = 1;

/// One `sentinel monitor` group and what the file says about it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct MasterConfig {
    pub name: String,
    pub ip: String,
    pub port: u16,
    pub quorum: u32,
    pub down_after: i64,
    pub failover_timeout: i64,
    pub parallel_syncs: i64,
    pub auth_pass: Option<String>,
    pub auth_user: Option<String>,
    pub reboot_down_after: i64,
    pub config_epoch: u64,
    pub leader_epoch: u64,
    pub known_replicas: Vec<(String, u16)>,
    /// (ip, port, run id)
    pub known_sentinels: Vec<(String, u16, String)>,
}

impl MasterConfig {
    pub(crate) fn new(name: &str, ip: &str, port: u16, quorum: u32) -> MasterConfig {
        MasterConfig {
            name: name.to_string(),
            ip: ip.to_string(),
            port,
            quorum,
            down_after: DEFAULT_DOWN_AFTER,
            failover_timeout: DEFAULT_FAILOVER_TIMEOUT,
            parallel_syncs: DEFAULT_PARALLEL_SYNCS,
            auth_pass: None,
            auth_user: None,
            reboot_down_after: 0,
            config_epoch: 0,
            leader_epoch: 0,
            known_replicas: Vec::new(),
            known_sentinels: Vec::new(),
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct SentinelConfig {
    pub file: Option<PathBuf>,
    pub port: u16,
    pub bind: Vec<String>,
    pub dir: PathBuf,
    pub logfile: Option<PathBuf>,
    pub loglevel: LogLevel,
    pub pidfile: Option<PathBuf>,
    pub daemonize: bool,
    pub protected_mode: bool,
    pub requirepass: Option<String>,
    pub announce_ip: Option<String>,
    pub announce_port: u16,
    pub resolve_hostnames: bool,
    pub announce_hostnames: bool,
    pub sentinel_user: Option<String>,
    pub sentinel_pass: Option<String>,
    pub deny_scripts_reconfig: bool,
    pub myid: Option<String>,
    pub current_epoch: u64,
    pub masters: Vec<MasterConfig>,
    /// Lines accepted but without effect here, for the log.
    pub notes: Vec<String>,
}

impl Default for SentinelConfig {
    fn default() -> Self {
        SentinelConfig {
            file: None,
            port: 26379,
            bind: Vec::new(),
            dir: PathBuf::from("."),
            logfile: None,
            loglevel: LogLevel::Notice,
            pidfile: None,
            daemonize: false,
            protected_mode: false,
            requirepass: None,
            announce_ip: None,
            announce_port: 0,
            resolve_hostnames: false,
            announce_hostnames: false,
            sentinel_user: None,
            sentinel_pass: None,
            deny_scripts_reconfig: true,
            myid: None,
            current_epoch: 0,
            masters: Vec::new(),
            notes: Vec::new(),
        }
    }
}

/// Server directives found in configs Redis Sentinel rewrites, which mean
/// nothing to this sentinel.
const IGNORED: &[&str] = &[
    "user",
    "latency-tracking-info-percentiles",
    "supervised",
    "acllog-max-len",
    "hz",
    "tcp-keepalive",
    "timeout",
    "maxclients",
    "syslog-enabled",
    "syslog-ident",
    "save",
    "appendonly",
];

fn parse_u16(s: &str) -> Option<u16> {
    s.parse::<u16>().ok()
}

fn parse_i64(s: &str) -> Option<i64> {
    if s.starts_with('+') {
        return None;
    }
    s.parse().ok()
}

fn parse_epoch(s: &str) -> Result<u64, String> {
    s.parse::<u64>().map_err(|_| format!("Invalid epoch '{s}'"))
}

fn valid_runid(s: &str) -> bool {
    s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

impl SentinelConfig {
    /// `args` as given to `sledis-sentinel`: the config file, then
    /// `--directive value` overrides (`--sentinel` is skipped, so
    /// `sledis-server FILE --sentinel` works too).
    pub(crate) fn from_args(args: &[String]) -> Result<SentinelConfig, ConfigError> {
        let Some(file) = args.first().filter(|a| !a.starts_with("--")) else {
            return Err(ConfigError::Usage(
                "Sentinel needs config file on disk to save state. Exiting...".into(),
            ));
        };
        let mut cfg = SentinelConfig::default();
        cfg.load_file(Path::new(file))?;
        let mut directives: Vec<(String, Vec<String>)> = Vec::new();
        for arg in &args[1..] {
            match arg.strip_prefix("--") {
                Some(name) => directives.push((name.to_ascii_lowercase(), Vec::new())),
                None => match directives.last_mut() {
                    Some((_, v)) => v.push(arg.clone()),
                    None => return Err(ConfigError::Usage(format!("Unexpected argument '{arg}'"))),
                },
            }
        }
        for (n, (name, values)) in directives.iter().enumerate() {
            if name == "sentinel" && values.is_empty() {
                continue;
            }
            let mut argv = vec![name.clone()];
            argv.extend(values.iter().cloned());
            if let Err(msg) = cfg.apply(&argv) {
                let shown = argv
                    .iter()
                    .map(|a| quote_if_needed(a))
                    .collect::<Vec<_>>()
                    .join(" ");
                return Err(ConfigError::Directive {
                    at: format!("Reading the command line, at option {}", n + 1),
                    line: format!("--{shown}"),
                    why: msg,
                });
            }
        }
        Ok(cfg)
    }

    fn load_file(&mut self, path: &Path) -> Result<(), ConfigError> {
        let abs = for_each_directive(path, |name, args| {
            let argv: Vec<String> = std::iter::once(name.to_string())
                .chain(args.iter().cloned())
                .collect();
            self.apply(&argv)
        })?;
        // The sentinel must be able to save its state there.
        fs::OpenOptions::new()
            .append(true)
            .open(&abs)
            .map_err(|e| ConfigError::NotWritable {
                path: abs.clone(),
                error: e.to_string(),
            })?;
        self.file = Some(abs);
        Ok(())
    }

    fn master_mut(&mut self, name: &str) -> Result<&mut MasterConfig, String> {
        self.masters
            .iter_mut()
            .find(|m| m.name == name)
            .ok_or_else(|| "No such master with specified name.".to_string())
    }

    /// One directive, already split into words.
    fn apply(&mut self, argv: &[String]) -> Result<(), String> {
        let name = argv[0].to_ascii_lowercase();
        let args = &argv[1..];
        let one = || -> Result<&String, String> {
            if args.len() == 1 {
                Ok(&args[0])
            } else {
                Err("wrong number of arguments".to_string())
            }
        };
        match name.as_str() {
            "sentinel" => return self.apply_sentinel(args),
            "port" => {
                self.port = one()
                    .ok()
                    .and_then(|p| parse_u16(p))
                    .ok_or("Invalid port")?
            }
            "bind" => {
                if args.is_empty() {
                    return Err("wrong number of arguments".into());
                }
                self.bind = args.to_vec();
            }
            "dir" => {
                let d = one()?;
                std::env::set_current_dir(d).map_err(|e| format!("Can't chdir to '{d}': {e}"))?;
                self.dir = std::env::current_dir().map_err(|e| e.to_string())?;
            }
            "logfile" => {
                let f = one()?;
                self.logfile = (!f.is_empty()).then(|| PathBuf::from(f));
            }
            "loglevel" => {
                self.loglevel = match one()?.to_ascii_lowercase().as_str() {
                    "debug" => LogLevel::Debug,
                    "verbose" => LogLevel::Verbose,
                    "notice" => LogLevel::Notice,
                    "warning" => LogLevel::Warning,
                    _ => return Err(
                        "argument(s) must be one of the following: debug, verbose, notice, warning"
                            .into(),
                    ),
                }
            }
            "pidfile" => {
                let f = one()?;
                self.pidfile = (!f.is_empty()).then(|| PathBuf::from(f));
            }
            "daemonize" => self.daemonize = parse_yes_no(one()?)?,
            "protected-mode" => self.protected_mode = parse_yes_no(one()?)?,
            "requirepass" => {
                let p = one()?;
                self.requirepass = (!p.is_empty()).then(|| p.clone());
            }
            n if IGNORED.contains(&n) => {
                self.notes
                    .push(format!("'{n}' has no effect on a sentinel; ignored"));
            }
            _ => return Err("Bad directive or wrong number of arguments".into()),
        }
        Ok(())
    }

    fn apply_sentinel(&mut self, args: &[String]) -> Result<(), String> {
        let Some(sub) = args.first() else {
            return Err("Unrecognized sentinel configuration statement.".into());
        };
        let sub = sub.to_ascii_lowercase();
        let a = &args[1..];
        let n = a.len();
        let bad = || Err::<(), String>("Unrecognized sentinel configuration statement.".into());
        match (sub.as_str(), n) {
            ("monitor", 4) => {
                if self.masters.iter().any(|m| m.name == a[0]) {
                    return Err("Duplicate master name.".into());
                }
                let port = parse_u16(&a[2]).filter(|p| *p > 0).ok_or("Invalid port")?;
                let quorum = a[3]
                    .parse::<u32>()
                    .ok()
                    .filter(|q| *q > 0)
                    .ok_or("Quorum must be 1 or greater.")?;
                if a[0].is_empty() || a[0].contains(' ') {
                    return Err("Invalid master name".into());
                }
                self.masters
                    .push(MasterConfig::new(&a[0], &a[1], port, quorum));
            }
            ("down-after-milliseconds", 2) => {
                let v = parse_i64(&a[1]).filter(|v| *v > 0).ok_or("Invalid value")?;
                self.master_mut(&a[0])?.down_after = v;
            }
            ("failover-timeout", 2) => {
                let v = parse_i64(&a[1]).filter(|v| *v > 0).ok_or("Invalid value")?;
                self.master_mut(&a[0])?.failover_timeout = v;
            }
            ("parallel-syncs", 2) => {
                let v = parse_i64(&a[1]).filter(|v| *v > 0).ok_or("Invalid value")?;
                self.master_mut(&a[0])?.parallel_syncs = v;
            }
            ("master-reboot-down-after-period", 2) => {
                let v = parse_i64(&a[1])
                    .filter(|v| *v >= 0)
                    .ok_or("Invalid value")?;
                self.master_mut(&a[0])?.reboot_down_after = v;
            }
            ("auth-pass", 2) => self.master_mut(&a[0])?.auth_pass = Some(a[1].clone()),
            ("auth-user", 2) => self.master_mut(&a[0])?.auth_user = Some(a[1].clone()),
            ("config-epoch", 2) => self.master_mut(&a[0])?.config_epoch = parse_epoch(&a[1])?,
            ("leader-epoch", 2) => self.master_mut(&a[0])?.leader_epoch = parse_epoch(&a[1])?,
            ("known-replica" | "known-slave", 3) => {
                let port = parse_u16(&a[2]).ok_or("Invalid port")?;
                let m = self.master_mut(&a[0])?;
                if !m
                    .known_replicas
                    .iter()
                    .any(|(h, p)| h == &a[1] && *p == port)
                {
                    m.known_replicas.push((a[1].clone(), port));
                }
            }
            ("known-sentinel", 4) => {
                let port = parse_u16(&a[2]).ok_or("Invalid port")?;
                if !valid_runid(&a[3]) {
                    return Err("Invalid sentinel run id".into());
                }
                let m = self.master_mut(&a[0])?;
                m.known_sentinels.retain(|(_, _, id)| id != &a[3]);
                m.known_sentinels.push((a[1].clone(), port, a[3].clone()));
            }
            ("myid", 1) => {
                if !valid_runid(&a[0]) {
                    return Err("Malformed Sentinel id in myid option.".into());
                }
                self.myid = Some(a[0].to_ascii_lowercase());
            }
            ("current-epoch", 1) => self.current_epoch = parse_epoch(&a[0])?,
            ("announce-ip", 1) => {
                self.announce_ip = (!a[0].is_empty()).then(|| a[0].clone());
            }
            ("announce-port", 1) => {
                self.announce_port = parse_u16(&a[0]).ok_or("Invalid port")?;
            }
            ("resolve-hostnames", 1) => self.resolve_hostnames = parse_yes_no(&a[0])?,
            ("announce-hostnames", 1) => self.announce_hostnames = parse_yes_no(&a[0])?,
            ("deny-scripts-reconfig", 1) => self.deny_scripts_reconfig = parse_yes_no(&a[0])?,
            ("sentinel-user", 1) => {
                self.sentinel_user = (!a[0].is_empty()).then(|| a[0].clone());
            }
            ("sentinel-pass", 1) => {
                self.sentinel_pass = (!a[0].is_empty()).then(|| a[0].clone());
            }
            ("notification-script" | "client-reconfig-script", 2) => {
                return Err(format!(
                    "sledis-sentinel does not run scripts ('{sub}'); remove the line"
                ));
            }
            ("rename-command", 3) => {
                return Err("sledis-sentinel does not support 'sentinel rename-command'".into());
            }
            _ => return bad(),
        }
        Ok(())
    }
}

/// What a sentinel remembers, rendered into config lines by [`rewrite`].
/// Each line is keyed by its directive and master, so a rewrite can put a
/// new value where the user's line was.
pub(crate) struct StateLines {
    pub lines: Vec<(String, String)>,
}

impl StateLines {
    pub(crate) fn new() -> StateLines {
        StateLines { lines: Vec::new() }
    }

    pub(crate) fn push(&mut self, key: String, line: String) {
        self.lines.push((key, line));
    }
}

impl Default for StateLines {
    fn default() -> Self {
        Self::new()
    }
}

/// The key a `sentinel ...` line is matched by: sub-command plus master
/// name when it has one.
fn line_key(argv: &[String]) -> Option<String> {
    if argv.len() < 2 || !argv[0].eq_ignore_ascii_case("sentinel") {
        return None;
    }
    let sub = argv[1].to_ascii_lowercase();
    let sub = if sub == "known-slave" {
        "known-replica".to_string()
    } else {
        sub
    };
    match sub.as_str() {
        "myid"
        | "current-epoch"
        | "announce-ip"
        | "announce-port"
        | "resolve-hostnames"
        | "announce-hostnames"
        | "deny-scripts-reconfig"
        | "sentinel-user"
        | "sentinel-pass" => Some(sub),
        _ if argv.len() >= 3 => Some(format!("{sub} {}", argv[2])),
        _ => Some(sub),
    }
}

/// The new file text: the user's lines and comments stay where they were;
/// each `sentinel` line takes the current value for its key (or goes away if
/// that state is gone, like a forgotten replica); new lines follow the
/// rewrite marker at the end.
pub(crate) fn rewrite_content(old: &str, state: &StateLines) -> String {
    let mut pending: HashMap<String, VecDeque<String>> = HashMap::new();
    let mut order: Vec<String> = Vec::new();
    for (k, l) in &state.lines {
        if !pending.contains_key(k) {
            order.push(k.clone());
        }
        pending.entry(k.clone()).or_default().push_back(l.clone());
    }
    let mut out: Vec<String> = Vec::new();
    let mut has_marker = false;
    let body = old.strip_suffix('\n').unwrap_or(old);
    if !old.is_empty() {
        for raw in body.split('\n') {
            let line = trim_line(raw.as_bytes());
            if line == REWRITE_MARKER.as_bytes() {
                has_marker = true;
            }
            let key = if line.is_empty() || line[0] == b'#' {
                None
            } else {
                split_args(line).ok().and_then(|argv| line_key(&argv))
            };
            match key {
                Some(k) => {
                    if let Some(new) = pending.get_mut(&k).and_then(|q| q.pop_front()) {
                        out.push(new);
                    }
                }
                None => out.push(raw.to_string()),
            }
        }
    }
    let tail: Vec<String> = order
        .iter()
        .flat_map(|k| pending.remove(k).unwrap_or_default())
        .collect();
    if !tail.is_empty() && !has_marker {
        if out.last().is_some_and(|l| !l.trim().is_empty()) {
            out.push(String::new());
        }
        out.push(REWRITE_MARKER.to_string());
    }
    out.extend(tail);
    let mut text = out.join("\n");
    text.push('\n');
    text
}

/// Rewrites `path` atomically with the state lines.
pub(crate) fn rewrite(path: &Path, state: &StateLines) -> io::Result<()> {
    let old = match fs::read(path) {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e),
    };
    write_atomic(path, rewrite_content(&old, state).as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<SentinelConfig, String> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.conf");
        fs::write(&p, text).unwrap();
        let cwd = std::env::current_dir().unwrap();
        let r = SentinelConfig::from_args(&[p.display().to_string()]);
        std::env::set_current_dir(cwd).unwrap();
        r.map_err(|e| e.to_string())
    }

    #[test]
    fn parses_monitor_and_options() {
        let c = parse(
            "port 26390\nsentinel monitor mymaster 127.0.0.1 6379 2\n\
             sentinel down-after-milliseconds mymaster 1000\nsentinel failover-timeout mymaster 5000\n\
             sentinel parallel-syncs mymaster 2\nsentinel auth-pass mymaster secret\n\
             sentinel known-replica mymaster 127.0.0.1 6380\nsentinel current-epoch 3\n",
        )
        .unwrap();
        assert_eq!(c.port, 26390);
        assert_eq!(c.current_epoch, 3);
        let m = &c.masters[0];
        assert_eq!(
            (m.quorum, m.down_after, m.failover_timeout),
            (2, 1000, 5000)
        );
        assert_eq!(m.parallel_syncs, 2);
        assert_eq!(m.auth_pass.as_deref(), Some("secret"));
        assert_eq!(m.known_replicas, vec![("127.0.0.1".to_string(), 6380)]);
    }

    #[test]
    fn bad_lines_name_the_line() {
        let e = parse("port 26390\nsentinel monitor m 127.0.0.1 6379 0\n").unwrap_err();
        assert!(e.contains("at line 2") && e.contains("Quorum"), "{e}");
        let e = parse("sentinel down-after-milliseconds nope 10\n").unwrap_err();
        assert!(
            e.contains("at line 1") && e.contains("No such master"),
            "{e}"
        );
        let e = parse("sentinel bogus\n").unwrap_err();
        assert!(e.contains("Unrecognized sentinel"), "{e}");
        let e = parse("foo bar\n").unwrap_err();
        assert!(e.contains("Bad directive"), "{e}");
    }

    #[test]
    fn rewrite_keeps_comments_and_replaces_in_place() {
        let old = "# mine\nport 1\nsentinel monitor m 127.0.0.1 6379 1\n# keep\nsentinel known-replica m 127.0.0.1 7000\n";
        let mut s = StateLines::new();
        s.push(
            "monitor m".into(),
            "sentinel monitor m 127.0.0.1 6380 1".into(),
        );
        s.push(
            "known-replica m".into(),
            "sentinel known-replica m 127.0.0.1 6379".into(),
        );
        s.push("myid".into(), "sentinel myid abc".into());
        let new = rewrite_content(old, &s);
        assert_eq!(
            new,
            "# mine\nport 1\nsentinel monitor m 127.0.0.1 6380 1\n# keep\nsentinel known-replica m 127.0.0.1 6379\n\n# Generated by CONFIG REWRITE\nsentinel myid abc\n"
        );
        // Idempotent.
        assert_eq!(rewrite_content(&new, &s), new);
    }
}
