//! Redis-syntax configuration for `sledis-server`.
//!
//! The config file, the command line (`sledis-server [FILE] [--name arg...]`),
//! `CONFIG GET`, `CONFIG SET` and `CONFIG REWRITE` all go through one
//! data-driven table (`SPECS`) so they cannot disagree about names, aliases,
//! validation, defaults or formatting. Error texts mirror Redis 7.0 because
//! clients and operators match on them.
//!
//! Each directive is one row of that table: name, aliases, kind (how its
//! arguments parse), default, whether `CONFIG SET` may change it, its note,
//! and, for the directives sledis understands, the typed [`Config`] field it
//! sets and shows (`.field(get, set)`). Adding a directive is adding a row.
//!
//! Directives that sledis understands are exposed as typed fields of
//! [`Config`]; directives that only exist for compatibility with stock
//! `redis.conf` files are validated, remembered (so `CONFIG GET` and
//! `CONFIG REWRITE` round-trip them) and, when they would mislead, produce a
//! note (see [`Config::notes`]).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::glob::glob_match;

/// When the WAL is fsynced (Redis's `appendfsync`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fsync {
    /// After every write, before replying.
    Always,
    /// About once per second, in the background.
    EverySec,
    /// Leave flushing to the operating system.
    No,
}

impl Fsync {
    /// The Redis spelling, as shown by `CONFIG GET appendfsync`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Fsync::Always => "always",
            Fsync::EverySec => "everysec",
            Fsync::No => "no",
        }
    }

    /// The inverse of [`Fsync::name`], for a word the table already checked.
    fn from_name(name: &str) -> Fsync {
        match name {
            "always" => Fsync::Always,
            "no" => Fsync::No,
            _ => Fsync::EverySec,
        }
    }
}

/// Redis's `loglevel`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogLevel {
    Debug,
    Verbose,
    Notice,
    Warning,
}

impl LogLevel {
    /// The Redis spelling, as shown by `CONFIG GET loglevel`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            LogLevel::Debug => "debug",
            LogLevel::Verbose => "verbose",
            LogLevel::Notice => "notice",
            LogLevel::Warning => "warning",
        }
    }

    /// The inverse of [`LogLevel::name`], for a word the table already checked.
    fn from_name(name: &str) -> LogLevel {
        match name {
            "debug" => LogLevel::Debug,
            "verbose" => LogLevel::Verbose,
            "warning" => LogLevel::Warning,
            _ => LogLevel::Notice,
        }
    }

    /// A `tracing_subscriber::EnvFilter` directive for this level. Redis has
    /// one level more than usual below "notice", so debug maps to trace.
    pub fn filter_directive(self) -> &'static str {
        match self {
            LogLevel::Debug => "trace",
            LogLevel::Verbose => "debug",
            LogLevel::Notice => "info",
            LogLevel::Warning => "warn",
        }
    }
}

/// One `save <seconds> <changes>` point: snapshot when at least `changes`
/// writes happened within `seconds`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SavePoint {
    pub seconds: u64,
    pub changes: u64,
}

/// Output buffer limits of one client class; 0 disables a limit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct ClientLimit {
    /// Disconnect as soon as the buffer exceeds this many bytes.
    pub hard: u64,
    /// Disconnect if the buffer stays above this many bytes ...
    pub soft: u64,
    /// ... for this many seconds.
    pub soft_seconds: u64,
}

/// `client-output-buffer-limit`, kept per client class.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct ClientOutputBufferLimits {
    pub normal: ClientLimit,
    /// Replicas (Redis's "slave"/"replica" class).
    pub replica: ClientLimit,
    pub pubsub: ClientLimit,
}

/// The server configuration. Read the typed fields directly; everything else
/// goes through [`Config::get`].
#[derive(Clone, Debug)]
pub struct Config {
    /// Absolute path of the config file, so `CONFIG REWRITE` still works
    /// after the server changes directory.
    pub(crate) config_file: Option<PathBuf>,
    /// `--sentinel` was given (a flag, never written by rewrite).
    pub(crate) sentinel: bool,
    /// `--rebuild-from-snapshot` was given (a flag, never written by rewrite).
    pub(crate) rebuild_from_snapshot: bool,
    /// `--repair-wal` was given (a flag, never written by rewrite).
    pub(crate) repair_wal: bool,

    pub(crate) port: u16,
    /// Raw Redis bind list (`-` prefix = optional); see [`Config::bind_addresses`].
    pub(crate) bind: Vec<String>,
    pub(crate) protected_mode: bool,
    pub(crate) timeout: u64,
    pub(crate) tcp_keepalive: u64,
    pub(crate) tcp_backlog: u32,
    pub daemonize: bool,
    pub(crate) pidfile: Option<PathBuf>,
    pub loglevel: LogLevel,
    /// `None` means log to stderr only.
    pub logfile: Option<PathBuf>,
    pub(crate) databases: usize,
    pub(crate) save: Vec<SavePoint>,
    pub(crate) dbfilename: String,
    pub dir: PathBuf,
    pub(crate) appendfsync: Fsync,
    pub(crate) wal_segment_size: u64,
    pub(crate) requirepass: Option<String>,
    pub(crate) masterauth: Option<String>,
    pub(crate) masteruser: Option<String>,
    pub(crate) maxclients: usize,
    pub(crate) replicaof: Option<(String, u16)>,
    pub(crate) repl_backlog_size: u64,
    /// The node's memory budget (0: sledis's default, see `store::budget`).
    pub(crate) maxmemory: u64,
    pub(crate) repl_backlog_ttl: u64,
    pub(crate) repl_timeout: u64,
    pub(crate) repl_ping_replica_period: u64,
    pub(crate) replica_read_only: bool,
    pub(crate) replica_serve_stale_data: bool,
    /// `notify-keyspace-events`, as `notify.rs`'s class bits.
    pub(crate) notify_keyspace_events: u32,
    pub(crate) replica_priority: u32,
    pub(crate) replica_announce_ip: Option<String>,
    pub(crate) replica_announce_port: u16,
    pub(crate) replica_announced: bool,
    pub(crate) min_replicas_to_write: u32,
    pub(crate) min_replicas_max_lag: u64,
    /// Synchronous replication: a write is answered only once this many
    /// replicas acknowledged it (0: asynchronous, Redis's way).
    pub(crate) sync_replicas: u32,
    /// How long a write waits for them before it fails with NOREPLICAS.
    pub(crate) sync_replicas_timeout: u64,
    pub(crate) proto_max_bulk_len: u64,
    /// A sparse HyperLogLog becomes dense past this many bytes.
    pub(crate) hll_sparse_max_bytes: u64,
    pub(crate) client_query_buffer_limit: u64,
    pub(crate) client_output_buffer_limit: ClientOutputBufferLimits,
    pub(crate) hz: u32,
    pub(crate) slowlog_log_slower_than: i64,
    /// Milliseconds a script runs before other clients get BUSY.
    pub(crate) busy_reply_threshold: i64,
    pub(crate) slowlog_max_len: u64,
    /// Milliseconds; 0: the latency monitor is off.
    pub(crate) latency_monitor_threshold: u64,
    /// `latency-tracking`: per-command latency histograms.
    pub(crate) latency_tracking: bool,
    /// `tracking-table-max-keys`: client-side caching's table bound (0: none).
    pub(crate) tracking_table_max_keys: u64,
    /// `latency-tracking-info-percentiles`: INFO latencystats' percentiles.
    pub(crate) latency_percentiles: Vec<f64>,

    /// Values of compatibility-only directives, by canonical name.
    other: BTreeMap<&'static str, Value>,
    /// Directives changed through [`Config::set`] / [`Config::set_replicaof`].
    changed: BTreeSet<&'static str>,
    notes: Vec<String>,
    noted: BTreeSet<&'static str>,
    /// Where the last `save` came from: the first `save` of each source
    /// replaces the previous points, later ones in the same source add to them.
    save_source: Option<Source>,
}

/// How a directive's arguments are validated, stored and formatted.
#[derive(Clone, Copy, Debug)]
enum Kind {
    /// yes/no.
    Bool,
    /// Integer within an inclusive range.
    Int(i64, i64),
    /// Byte count with Redis memory units, within an inclusive range.
    Mem(u64, u64),
    /// One of a fixed set of words (case-insensitive).
    Enum(&'static [&'static str]),
    /// Any single string; "" is allowed and usually means "unset".
    Str,
    /// `save` points.
    Save,
    /// `bind` addresses.
    Bind,
    /// `replicaof host port` / `replicaof no one`.
    ReplicaOf,
    /// `client-output-buffer-limit <class> <hard> <soft> <seconds>...`.
    Cobl,
    /// Free-form list of words, kept verbatim.
    Words,
}

/// One row of the directive table: everything about one directive.
#[derive(Debug)]
struct Spec {
    name: &'static str,
    aliases: &'static [&'static str],
    kind: Kind,
    default: &'static str,
    /// Whether `CONFIG SET` may change it.
    mutable: bool,
    /// Logged once when the directive is used but has no effect in sledis.
    note: Option<&'static str>,
    /// The note only applies when the directive is set to yes.
    note_only_if_yes: bool,
    /// Validation beyond what `kind` checks; the error is the reason shown.
    check: Option<Check>,
    /// The typed [`Config`] field behind the directive; `None` keeps the
    /// value in `Config::other` (compatibility-only directives).
    field: Option<Field>,
}

/// A row's extra validation of a parsed value; the error is the reason shown.
type Check = fn(&Value) -> Result<(), &'static str>;

/// How a row reads and writes its typed [`Config`] field.
#[derive(Clone, Copy, Debug)]
struct Field {
    /// The current value, as `CONFIG GET` and `CONFIG REWRITE` show it.
    get: fn(&Config) -> Value,
    /// Stores a value already parsed and validated by the row's kind (so
    /// the narrowing casts in the rows cannot truncate).
    set: fn(&mut Config, Value),
}

/// A row for a directive with no typed field, settable, without a note; the
/// builder methods below adjust it.
const fn d(name: &'static str, kind: Kind, default: &'static str) -> Spec {
    Spec {
        name,
        aliases: &[],
        kind,
        default,
        mutable: true,
        note: None,
        note_only_if_yes: false,
        check: None,
        field: None,
    }
}

impl Spec {
    const fn alias(mut self, aliases: &'static [&'static str]) -> Spec {
        self.aliases = aliases;
        self
    }
    const fn fixed(mut self) -> Spec {
        self.mutable = false;
        self
    }
    const fn note(mut self, note: &'static str) -> Spec {
        self.note = Some(note);
        self
    }
    const fn note_if_yes(mut self, note: &'static str) -> Spec {
        self.note = Some(note);
        self.note_only_if_yes = true;
        self
    }
    const fn check(mut self, check: Check) -> Spec {
        self.check = Some(check);
        self
    }
    const fn field(mut self, get: fn(&Config) -> Value, set: fn(&mut Config, Value)) -> Spec {
        self.field = Some(Field { get, set });
        self
    }
}

const I32: i64 = i32::MAX as i64;
const I64: i64 = i64::MAX;
const U32: i64 = u32::MAX as i64;
const MEM: u64 = i64::MAX as u64;
const MB: u64 = 1024 * 1024;

const YES: Kind = Kind::Bool;
const STR: Kind = Kind::Str;
const fn int(min: i64, max: i64) -> Kind {
    Kind::Int(min, max)
}
const fn mem(min: u64) -> Kind {
    Kind::Mem(min, MEM)
}

const LOGLEVELS: &[&str] = &["debug", "verbose", "notice", "warning"];
const FSYNC: &[&str] = &["everysec", "always", "no"];
const POLICIES: &[&str] = &[
    "volatile-lru",
    "volatile-lfu",
    "volatile-random",
    "volatile-ttl",
    "allkeys-lru",
    "allkeys-lfu",
    "allkeys-random",
    "noeviction",
];
const DISKLESS_LOAD: &[&str] = &["disabled", "on-empty-db", "swapdb"];
const SUPERVISED: &[&str] = &["upstart", "systemd", "auto", "no"];
const FACILITIES: &[&str] = &[
    "user", "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
];
const ACL_PUBSUB: &[&str] = &["allchannels", "resetchannels"];
const SANITIZE: &[&str] = &["no", "yes", "clients"];
const OOM_ADJ: &[&str] = &["no", "yes", "relative", "absolute"];
const PROPAGATION: &[&str] = &["ignore", "panic", "panic-on-replicas"];
const PROTECTED: &[&str] = &["no", "yes", "local"];

const WAL_ON: &str = "the WAL is always on";
const WAL_DIR: &str = "the WAL lives in its own directory under 'dir'";
/// Why every policy but noeviction is refused.
const NO_EVICTION: &str =
    "sledis keeps every key on disk and never evicts: maxmemory bounds the memory it uses \
     (write buffer, caches, buffers), not the data, so maxmemory-policy must be noeviction";
const OWN_FORMAT: &str = "snapshots use sledis's own format";
const NO_BGSAVE: &str = "persistence goes through the WAL; there is no background save to fail";
const SYNC_FREE: &str = "sledis frees values synchronously";

/// The `check` of maxmemory-policy: every policy but noeviction is refused.
fn noeviction_only(v: &Value) -> Result<(), &'static str> {
    match v {
        Value::Str(s) if s == "noeviction" => Ok(()),
        _ => Err(NO_EVICTION),
    }
}

/// latency-tracking-info-percentiles as Redis reads it: numbers in
/// [0, 100]; one empty word is none.
fn parse_percentiles(words: &[String]) -> Result<Vec<f64>, &'static str> {
    if let [w] = words {
        if w.is_empty() {
            return Ok(Vec::new());
        }
    }
    words
        .iter()
        .map(|w| match crate::util::parse_f64(w.as_bytes()) {
            Some(p) if p.is_nan() => Err("Invalid latency-tracking-info-percentiles parameters"),
            Some(p) if !(0.0..=100.0).contains(&p) => {
                Err("latency-tracking-info-percentiles parameters should sit between [0.0,100.0]")
            }
            Some(p) => Ok(p),
            None => Err("Invalid latency-tracking-info-percentiles parameters"),
        })
        .collect()
}

fn percentiles(v: &Value) -> Result<(), &'static str> {
    match v {
        Value::List(words) => parse_percentiles(words).map(|_| ()),
        _ => Err("Invalid latency-tracking-info-percentiles parameters"),
    }
}

/// A percentile as Redis prints it (`%f`, trailing zeros trimmed): 50,
/// 99.9.
pub(crate) fn percentile_name(p: f64) -> String {
    let s = format!("{p:.6}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// The `check` of notify-keyspace-events: Redis's class characters only.
fn keyspace_events(v: &Value) -> Result<(), &'static str> {
    match v {
        Value::Str(s) if crate::notify::parse_flags(s).is_some() => Ok(()),
        _ => Err(crate::notify::INVALID),
    }
}

/// An optional path as a string directive shows it ("" for none).
fn path(p: &Option<PathBuf>) -> Value {
    Value::Str(
        p.as_ref()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default(),
    )
}

/// An optional string as a string directive shows it ("" for none).
fn opt(s: &Option<String>) -> Value {
    Value::Str(s.clone().unwrap_or_default())
}

/// Every directive sledis accepts. Redis 7.0's set minus cluster and TLS
/// (rejected as unknown, since silently ignoring them would mislead), plus
/// `wal-segment-size`. Directives without a note and without a typed field
/// are tuning knobs with no observable effect here.
const SPECS: &[Spec] = &[
    // Network.
    d("bind", Kind::Bind, "127.0.0.1 -::1")
        .fixed()
        .field(|c| Value::List(c.bind.clone()), |c, v| c.bind = v.list()),
    d("bind-source-addr", STR, ""),
    d("protected-mode", YES, "yes").field(
        |c| Value::Bool(c.protected_mode),
        |c, v| c.protected_mode = v.bool(),
    ),
    d("port", int(0, 65535), "6379").fixed().field(
        |c| Value::Int(c.port.into()),
        |c, v| c.port = v.int() as u16,
    ),
    d("tcp-backlog", int(0, I32), "511").fixed().field(
        |c| Value::Int(c.tcp_backlog.into()),
        |c, v| c.tcp_backlog = v.int() as u32,
    ),
    d("unixsocket", STR, "")
        .fixed()
        .note("unix sockets are not supported, only TCP"),
    d("unixsocketperm", STR, "0").fixed(),
    d("timeout", int(0, I32), "0").field(
        |c| Value::Int(c.timeout as i64),
        |c, v| c.timeout = v.int() as u64,
    ),
    d("tcp-keepalive", int(0, I32), "300").field(
        |c| Value::Int(c.tcp_keepalive as i64),
        |c, v| c.tcp_keepalive = v.int() as u64,
    ),
    d("socket-mark-id", int(0, U32), "0"),
    // General.
    d("daemonize", YES, "no")
        .fixed()
        .note_if_yes("sledis always stays in the foreground")
        .field(|c| Value::Bool(c.daemonize), |c, v| c.daemonize = v.bool()),
    d("supervised", Kind::Enum(SUPERVISED), "no")
        .fixed()
        .note("no supervisor notification is sent"),
    d("pidfile", STR, "").fixed().field(
        |c| path(&c.pidfile),
        |c, v| c.pidfile = non_empty(v.str()).map(PathBuf::from),
    ),
    d("loglevel", Kind::Enum(LOGLEVELS), "notice").field(
        |c| Value::Str(c.loglevel.name().to_string()),
        |c, v| c.loglevel = LogLevel::from_name(&v.str()),
    ),
    d("logfile", STR, "").fixed().field(
        |c| path(&c.logfile),
        |c, v| c.logfile = non_empty(v.str()).map(PathBuf::from),
    ),
    d("syslog-enabled", YES, "no")
        .fixed()
        .note("syslog is not supported; logs go to logfile or stderr"),
    d("syslog-ident", STR, "redis").fixed(),
    d("syslog-facility", Kind::Enum(FACILITIES), "local0").fixed(),
    d("crash-log-enabled", YES, "yes"),
    d("crash-memcheck-enabled", YES, "yes"),
    d("databases", int(1, 16), "16").fixed().field(
        |c| Value::Int(c.databases as i64),
        |c, v| c.databases = v.int() as usize,
    ),
    d("always-show-logo", YES, "no").fixed(),
    d("set-proc-title", YES, "yes").fixed(),
    d(
        "proc-title-template",
        STR,
        "{title} {listen-addr} {server-mode}",
    ),
    d("enable-protected-configs", Kind::Enum(PROTECTED), "no").fixed(),
    d("enable-debug-command", Kind::Enum(PROTECTED), "no").fixed(),
    d("enable-module-command", Kind::Enum(PROTECTED), "no").fixed(),
    // Snapshotting.
    d("save", Kind::Save, "3600 1 300 100 60 10000")
        .field(|c| Value::Save(c.save.clone()), |c, v| c.save = v.save()),
    d("stop-writes-on-bgsave-error", YES, "yes").note(NO_BGSAVE),
    d("rdbcompression", YES, "yes").note(OWN_FORMAT),
    d("rdbchecksum", YES, "yes").note(OWN_FORMAT),
    d("sanitize-dump-payload", Kind::Enum(SANITIZE), "no"),
    d("dbfilename", STR, "dump.sledis").field(
        |c| Value::Str(c.dbfilename.clone()),
        |c, v| c.dbfilename = v.str(),
    ),
    d("rdb-del-sync-files", YES, "no"),
    d("dir", STR, ".").fixed().field(
        |c| Value::Str(c.dir.to_string_lossy().into_owned()),
        |c, v| c.dir = PathBuf::from(v.str()),
    ),
    // Replication.
    d("replicaof", Kind::ReplicaOf, "")
        .alias(&["slaveof"])
        .fixed()
        .field(
            |c| Value::ReplicaOf(c.replicaof.clone()),
            |c, v| c.replicaof = v.replicaof(),
        ),
    d("masterauth", STR, "").field(
        |c| opt(&c.masterauth),
        |c, v| c.masterauth = non_empty(v.str()),
    ),
    d("masteruser", STR, "").field(
        |c| opt(&c.masteruser),
        |c, v| c.masteruser = non_empty(v.str()),
    ),
    d("replica-serve-stale-data", YES, "yes")
        .alias(&["slave-serve-stale-data"])
        .field(
            |c| Value::Bool(c.replica_serve_stale_data),
            |c, v| c.replica_serve_stale_data = v.bool(),
        ),
    d("replica-read-only", YES, "yes")
        .alias(&["slave-read-only"])
        .field(
            |c| Value::Bool(c.replica_read_only),
            |c, v| c.replica_read_only = v.bool(),
        ),
    d("repl-diskless-sync", YES, "yes"),
    d("repl-diskless-sync-delay", int(0, I32), "5"),
    d("repl-diskless-sync-max-replicas", int(0, I32), "0"),
    d("repl-diskless-load", Kind::Enum(DISKLESS_LOAD), "disabled"),
    d("repl-ping-replica-period", int(1, I32), "10")
        .alias(&["repl-ping-slave-period"])
        .field(
            |c| Value::Int(c.repl_ping_replica_period as i64),
            |c, v| c.repl_ping_replica_period = v.int() as u64,
        ),
    d("repl-timeout", int(1, I32), "60").field(
        |c| Value::Int(c.repl_timeout as i64),
        |c, v| c.repl_timeout = v.int() as u64,
    ),
    d("repl-disable-tcp-nodelay", YES, "no"),
    d("repl-backlog-size", mem(1), "1gb").field(
        |c| Value::Mem(c.repl_backlog_size),
        |c, v| c.repl_backlog_size = v.mem(),
    ),
    d("repl-backlog-ttl", int(0, I32), "3600").field(
        |c| Value::Int(c.repl_backlog_ttl as i64),
        |c, v| c.repl_backlog_ttl = v.int() as u64,
    ),
    d("replica-priority", int(0, I32), "100")
        .alias(&["slave-priority"])
        .field(
            |c| Value::Int(c.replica_priority.into()),
            |c, v| c.replica_priority = v.int() as u32,
        ),
    d("replica-announced", YES, "yes").field(
        |c| Value::Bool(c.replica_announced),
        |c, v| c.replica_announced = v.bool(),
    ),
    d("min-replicas-to-write", int(0, I32), "0")
        .alias(&["min-slaves-to-write"])
        .field(
            |c| Value::Int(c.min_replicas_to_write.into()),
            |c, v| c.min_replicas_to_write = v.int() as u32,
        ),
    d("min-replicas-max-lag", int(0, I32), "10")
        .alias(&["min-slaves-max-lag"])
        .field(
            |c| Value::Int(c.min_replicas_max_lag as i64),
            |c, v| c.min_replicas_max_lag = v.int() as u64,
        ),
    d("sync-replicas", int(0, I32), "0").field(
        |c| Value::Int(c.sync_replicas.into()),
        |c, v| c.sync_replicas = v.int() as u32,
    ),
    d("sync-replicas-timeout", int(1, I32), "1000").field(
        |c| Value::Int(c.sync_replicas_timeout as i64),
        |c, v| c.sync_replicas_timeout = v.int() as u64,
    ),
    d("replica-announce-ip", STR, "")
        .alias(&["slave-announce-ip"])
        .field(
            |c| opt(&c.replica_announce_ip),
            |c, v| c.replica_announce_ip = non_empty(v.str()),
        ),
    d("replica-announce-port", int(0, 65535), "0")
        .alias(&["slave-announce-port"])
        .field(
            |c| Value::Int(c.replica_announce_port.into()),
            |c, v| c.replica_announce_port = v.int() as u16,
        ),
    d("replica-ignore-maxmemory", YES, "yes").alias(&["slave-ignore-maxmemory"]),
    d("replica-ignore-disk-write-errors", YES, "no"),
    d("replica-lazy-flush", YES, "no").alias(&["slave-lazy-flush"]),
    d(
        "propagation-error-behavior",
        Kind::Enum(PROPAGATION),
        "ignore",
    ),
    // Security and clients.
    d("requirepass", STR, "").field(
        |c| opt(&c.requirepass),
        |c, v| c.requirepass = non_empty(v.str()),
    ),
    d("aclfile", STR, "")
        .fixed()
        .note("ACL files are not supported; use requirepass"),
    d("acllog-max-len", int(0, I64), "128"),
    d(
        "acl-pubsub-default",
        Kind::Enum(ACL_PUBSUB),
        "resetchannels",
    ),
    d("tracking-table-max-keys", int(0, I64), "1000000").field(
        |c| Value::Int(c.tracking_table_max_keys as i64),
        |c, v| c.tracking_table_max_keys = v.int() as u64,
    ),
    d("maxclients", int(1, U32), "10000").field(
        |c| Value::Int(c.maxclients as i64),
        |c, v| c.maxclients = v.int() as usize,
    ),
    // Memory management.
    d("maxmemory", mem(0), "0").field(|c| Value::Mem(c.maxmemory), |c, v| c.maxmemory = v.mem()),
    d("maxmemory-policy", Kind::Enum(POLICIES), "noeviction").check(noeviction_only),
    d("maxmemory-samples", int(1, I32), "5"),
    d("maxmemory-eviction-tenacity", int(0, 100), "10"),
    d("maxmemory-clients", mem(0), "0"),
    d("lazyfree-lazy-eviction", YES, "no").note(SYNC_FREE),
    d("lazyfree-lazy-expire", YES, "no").note(SYNC_FREE),
    d("lazyfree-lazy-server-del", YES, "no").note(SYNC_FREE),
    d("lazyfree-lazy-user-del", YES, "no").note(SYNC_FREE),
    d("lazyfree-lazy-user-flush", YES, "no").note(SYNC_FREE),
    d("io-threads", int(1, 128), "1").fixed(),
    d("io-threads-do-reads", YES, "no").fixed(),
    d("oom-score-adj", Kind::Enum(OOM_ADJ), "no"),
    d("oom-score-adj-values", Kind::Words, "0 200 800"),
    d("disable-thp", YES, "yes"),
    // Append only file; the WAL takes its place.
    d("appendonly", YES, "no").note(WAL_ON),
    d("appendfilename", STR, "appendonly.aof")
        .fixed()
        .note(WAL_DIR),
    d("appenddirname", STR, "appendonlydir")
        .fixed()
        .note(WAL_DIR),
    d("appendfsync", Kind::Enum(FSYNC), "everysec").field(
        |c| Value::Str(c.appendfsync.name().to_string()),
        |c, v| c.appendfsync = Fsync::from_name(&v.str()),
    ),
    d("wal-segment-size", mem(4096), "64mb").field(
        |c| Value::Mem(c.wal_segment_size),
        |c, v| c.wal_segment_size = v.mem(),
    ),
    d("no-appendfsync-on-rewrite", YES, "no"),
    d("auto-aof-rewrite-percentage", int(0, I32), "100"),
    d("auto-aof-rewrite-min-size", mem(0), "64mb"),
    d("aof-load-truncated", YES, "yes"),
    d("aof-use-rdb-preamble", YES, "yes"),
    d("aof-timestamp-enabled", YES, "no"),
    d("aof-rewrite-incremental-fsync", YES, "yes"),
    d("rdb-save-incremental-fsync", YES, "yes"),
    d("aof-disable-auto-gc", YES, "no"),
    // Shutdown, scripting, monitoring.
    d("shutdown-timeout", int(0, I32), "10"),
    d("shutdown-on-sigint", Kind::Words, "default"),
    d("shutdown-on-sigterm", Kind::Words, "default"),
    d("busy-reply-threshold", int(0, I64), "5000")
        .alias(&["lua-time-limit"])
        .field(
            |c| Value::Int(c.busy_reply_threshold),
            |c, v| c.busy_reply_threshold = v.int(),
        ),
    d("slowlog-log-slower-than", int(i64::MIN, I64), "10000").field(
        |c| Value::Int(c.slowlog_log_slower_than),
        |c, v| c.slowlog_log_slower_than = v.int(),
    ),
    d("slowlog-max-len", int(0, I64), "128").field(
        |c| Value::Int(c.slowlog_max_len as i64),
        |c, v| c.slowlog_max_len = v.int() as u64,
    ),
    d("latency-monitor-threshold", int(0, I64), "0").field(
        |c| Value::Int(c.latency_monitor_threshold as i64),
        |c, v| c.latency_monitor_threshold = v.int() as u64,
    ),
    d("latency-tracking", YES, "yes").field(
        |c| Value::Bool(c.latency_tracking),
        |c, v| c.latency_tracking = v.bool(),
    ),
    d(
        "latency-tracking-info-percentiles",
        Kind::Words,
        "50 99 99.9",
    )
    .check(percentiles)
    .field(
        |c| {
            Value::List(
                c.latency_percentiles
                    .iter()
                    .map(|p| percentile_name(*p))
                    .collect(),
            )
        },
        |c, v| c.latency_percentiles = parse_percentiles(&v.list()).unwrap_or_default(),
    ),
    d("notify-keyspace-events", STR, "")
        .check(keyspace_events)
        .field(
            |c| Value::Str(crate::notify::format_flags(c.notify_keyspace_events)),
            |c, v| c.notify_keyspace_events = crate::notify::parse_flags(&v.str()).unwrap_or(0),
        ),
    // Encodings and internals.
    d("hash-max-listpack-entries", int(0, I64), "512").alias(&["hash-max-ziplist-entries"]),
    d("hash-max-listpack-value", mem(0), "64").alias(&["hash-max-ziplist-value"]),
    d("list-max-listpack-size", int(i32::MIN as i64, I32), "-2").alias(&["list-max-ziplist-size"]),
    d("list-compress-depth", int(0, I32), "0"),
    d("set-max-intset-entries", int(0, I64), "512"),
    d("zset-max-listpack-entries", int(0, I64), "128").alias(&["zset-max-ziplist-entries"]),
    d("zset-max-listpack-value", mem(0), "64").alias(&["zset-max-ziplist-value"]),
    d("hll-sparse-max-bytes", mem(0), "3000").field(
        |c| Value::Mem(c.hll_sparse_max_bytes),
        |c, v| c.hll_sparse_max_bytes = v.mem(),
    ),
    d("stream-node-max-bytes", mem(0), "4096"),
    d("stream-node-max-entries", int(0, I64), "100"),
    d("activerehashing", YES, "yes"),
    d(
        "client-output-buffer-limit",
        Kind::Cobl,
        "normal 0 0 0 replica 256mb 64mb 60 pubsub 32mb 8mb 60",
    )
    .field(
        |c| Value::Cobl(c.client_output_buffer_limit),
        |c, v| c.client_output_buffer_limit = v.cobl(),
    ),
    d("client-query-buffer-limit", mem(MB), "1gb").field(
        |c| Value::Mem(c.client_query_buffer_limit),
        |c, v| c.client_query_buffer_limit = v.mem(),
    ),
    d("proto-max-bulk-len", mem(MB), "512mb").field(
        |c| Value::Mem(c.proto_max_bulk_len),
        |c, v| c.proto_max_bulk_len = v.mem(),
    ),
    // Redis accepts any hz and clamps it to 1..=500.
    d("hz", int(0, I32), "10").field(
        |c| Value::Int(c.hz.into()),
        |c, v| c.hz = v.int().clamp(1, 500) as u32,
    ),
    d("dynamic-hz", YES, "yes"),
    d("activedefrag", YES, "no"),
    d("active-defrag-ignore-bytes", mem(1), "100mb"),
    d("active-defrag-threshold-lower", int(0, 1000), "10"),
    d("active-defrag-threshold-upper", int(0, 1000), "100"),
    d("active-defrag-cycle-min", int(1, 99), "1"),
    d("active-defrag-cycle-max", int(1, 99), "25"),
    d("active-defrag-max-scan-fields", int(1, I64), "1000"),
    d("jemalloc-bg-thread", YES, "yes"),
    d("lfu-log-factor", int(0, I32), "10"),
    d("lfu-decay-time", int(0, I32), "1"),
    d("active-expire-effort", int(1, 10), "1"),
    d("server_cpulist", STR, "").fixed(),
    d("bio_cpulist", STR, "").fixed(),
    d("aof_rewrite_cpulist", STR, "").fixed(),
    d("bgsave_cpulist", STR, "").fixed(),
    d("ignore-warnings", STR, ""),
];

/// Redis file directives that sledis refuses outright, because ignoring
/// them would silently weaken security or change behaviour.
const REJECTED: &[(&str, &str)] = &[
    (
        "include",
        "'include' is not supported by sledis; merge the files into one",
    ),
    (
        "rename-command",
        "'rename-command' is not supported by sledis",
    ),
    (
        "user",
        "ACL users are not supported by sledis; use requirepass",
    ),
    ("loadmodule", "modules are not supported by sledis"),
    (
        "sentinel",
        "sentinel directives are not supported in the config file",
    ),
];

/// Marker Redis puts before directives appended by `CONFIG REWRITE`.
pub(crate) const REWRITE_MARKER: &str = "# Generated by CONFIG REWRITE";

const BAD_DIRECTIVE: &str = "Bad directive or wrong number of arguments";

/// A parsed directive value; enum values are stored as their canonical word.
#[derive(Clone, Debug, PartialEq)]
enum Value {
    Bool(bool),
    Int(i64),
    Mem(u64),
    Str(String),
    Save(Vec<SavePoint>),
    List(Vec<String>),
    ReplicaOf(Option<(String, u16)>),
    Cobl(ClientOutputBufferLimits),
}

/// Unwrapping for the rows' `set`: the value was parsed by the row's own
/// kind, so any other variant is a bug in the table (and every row's
/// default goes through its `set` when a `Config` is built).
impl Value {
    fn bool(self) -> bool {
        match self {
            Value::Bool(b) => b,
            v => v.wrong_kind(),
        }
    }
    fn int(self) -> i64 {
        match self {
            Value::Int(n) => n,
            v => v.wrong_kind(),
        }
    }
    fn mem(self) -> u64 {
        match self {
            Value::Mem(n) => n,
            v => v.wrong_kind(),
        }
    }
    fn str(self) -> String {
        match self {
            Value::Str(s) => s,
            v => v.wrong_kind(),
        }
    }
    fn list(self) -> Vec<String> {
        match self {
            Value::List(l) => l,
            v => v.wrong_kind(),
        }
    }
    fn save(self) -> Vec<SavePoint> {
        match self {
            Value::Save(points) => points,
            v => v.wrong_kind(),
        }
    }
    fn replicaof(self) -> Option<(String, u16)> {
        match self {
            Value::ReplicaOf(r) => r,
            v => v.wrong_kind(),
        }
    }
    fn cobl(self) -> ClientOutputBufferLimits {
        match self {
            Value::Cobl(c) => c,
            v => v.wrong_kind(),
        }
    }
    fn wrong_kind<T>(self) -> T {
        panic!("directive table: a row's set got a value of another kind: {self:?}")
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Source {
    File,
    CommandLine,
    Runtime,
}

enum ApplyError {
    /// Wrong number of arguments for the directive.
    Arity,
    /// Arguments present but invalid; the text is Redis's.
    Invalid(String),
}

/// Why a configuration could not be read at startup (the server's or the
/// sentinel's): printed as it is, then the program exits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfigError {
    /// The command line is not `[file] [--directive args ...]` (the text
    /// says what is wrong).
    Usage(String),
    /// The config file cannot be opened or read.
    Open { path: PathBuf, error: String },
    /// The sentinel's config file cannot be written (it saves its state
    /// there).
    NotWritable { path: PathBuf, error: String },
    /// A bad directive, shown like Redis's `FATAL CONFIG FILE ERROR`
    /// banner: where (the file and line, or the command-line option), the
    /// line, and why.
    Directive {
        at: String,
        line: String,
        why: String,
    },
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConfigError::Usage(msg) => f.write_str(msg),
            ConfigError::Open { path, error } => write!(
                f,
                "Fatal error, can't open config file '{}': {error}",
                path.display()
            ),
            ConfigError::NotWritable { path, error } => write!(
                f,
                "Sentinel config file {} is not writable: {error}. Exiting...",
                path.display()
            ),
            ConfigError::Directive { at, line, why } => write!(
                f,
                "*** FATAL CONFIG FILE ERROR (sledis {}) ***\n{at}\n>>> '{line}'\n{why}",
                env!("CARGO_PKG_VERSION")
            ),
        }
    }
}

impl std::error::Error for ConfigError {}

/// Why CONFIG SET refused a directive. It shows as Redis's complete error
/// reply, `ERR` included.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum SetError {
    /// No such directive, or the wrong number of arguments (the name as
    /// given, in lower case).
    Unknown(String),
    /// The directive cannot be set at runtime, or the value is invalid
    /// (`why` is Redis's reason).
    Failed { name: String, why: String },
}

impl std::fmt::Display for SetError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SetError::Unknown(name) => write!(
                f,
                "ERR Unknown option or number of arguments for CONFIG SET - '{name}'"
            ),
            SetError::Failed { name, why } => write!(
                f,
                "ERR CONFIG SET failed (possibly related to argument '{name}') - {why}"
            ),
        }
    }
}

impl std::error::Error for SetError {}

/// Position in [`SPECS`] of the directive called `name` (any case, or an alias).
fn spec_index(name: &str) -> Option<usize> {
    SPECS.iter().position(|s| {
        s.name.eq_ignore_ascii_case(name) || s.aliases.iter().any(|a| a.eq_ignore_ascii_case(name))
    })
}

fn find_spec(name: &str) -> Option<&'static Spec> {
    spec_index(name).map(|i| &SPECS[i])
}

impl Default for Config {
    /// Redis 7.0's defaults, adjusted where sledis differs (see the table).
    fn default() -> Self {
        let mut cfg = Config {
            config_file: None,
            sentinel: false,
            rebuild_from_snapshot: false,
            repair_wal: false,
            // Placeholders: every field below is overwritten from SPECS.
            port: 0,
            bind: Vec::new(),
            protected_mode: false,
            timeout: 0,
            tcp_keepalive: 0,
            tcp_backlog: 0,
            daemonize: false,
            pidfile: None,
            loglevel: LogLevel::Notice,
            logfile: None,
            databases: 0,
            save: Vec::new(),
            dbfilename: String::new(),
            dir: PathBuf::new(),
            appendfsync: Fsync::EverySec,
            wal_segment_size: 0,
            requirepass: None,
            masterauth: None,
            masteruser: None,
            maxclients: 0,
            replicaof: None,
            repl_backlog_size: 0,
            maxmemory: 0,
            repl_backlog_ttl: 0,
            repl_timeout: 0,
            repl_ping_replica_period: 0,
            replica_read_only: false,
            replica_serve_stale_data: false,
            notify_keyspace_events: 0,
            replica_priority: 0,
            replica_announce_ip: None,
            replica_announce_port: 0,
            replica_announced: false,
            min_replicas_to_write: 0,
            min_replicas_max_lag: 0,
            sync_replicas: 0,
            sync_replicas_timeout: 0,
            proto_max_bulk_len: 0,
            hll_sparse_max_bytes: 0,
            client_query_buffer_limit: 0,
            client_output_buffer_limit: ClientOutputBufferLimits::default(),
            hz: 0,
            slowlog_log_slower_than: 0,
            busy_reply_threshold: 0,
            slowlog_max_len: 0,
            latency_monitor_threshold: 0,
            latency_tracking: true,
            tracking_table_max_keys: 1_000_000,
            latency_percentiles: Vec::new(),
            other: BTreeMap::new(),
            changed: BTreeSet::new(),
            notes: Vec::new(),
            noted: BTreeSet::new(),
            save_source: None,
        };
        for spec in SPECS {
            let value = default_value(spec, &cfg);
            cfg.store(spec, value);
        }
        cfg
    }
}

/// The table default of `spec`, parsed. Defaults are static and covered by
/// tests, so a failure here is a bug in the table, not bad input.
fn default_value(spec: &Spec, cfg: &Config) -> Value {
    let args = split_multi(spec, std::slice::from_ref(&spec.default.to_string()));
    match parse_value(spec, &args, cfg.value(spec)) {
        Ok(v) => v,
        Err(e) => panic!("bad table default for '{}': {}", spec.name, e),
    }
}

impl Config {
    /// Builds the configuration from `sledis-server`'s arguments (without
    /// `argv[0]`): an optional config file first, then `--directive args...`
    /// groups that override the file, plus the flags `--sentinel`,
    /// `--rebuild-from-snapshot` and `--repair-wal`.
    ///
    /// The error is a ready-to-print multi-line message in the style of
    /// Redis's "FATAL CONFIG FILE ERROR".
    pub fn from_args<I: IntoIterator<Item = String>>(args: I) -> Result<Config, ConfigError> {
        let args: Vec<String> = args.into_iter().collect();
        let mut rest = &args[..];
        let mut file = None;
        if let Some(first) = rest.first() {
            if !first.starts_with("--") {
                file = Some(first.clone());
                rest = &rest[1..];
            }
        }
        // Group the command line first so its syntax errors show up even
        // when the file is fine.
        let mut directives: Vec<(String, Vec<String>)> = Vec::new();
        for arg in rest {
            match arg.strip_prefix("--") {
                Some(name) => directives.push((name.to_string(), Vec::new())),
                None => match directives.last_mut() {
                    Some((_, values)) => values.push(arg.clone()),
                    None => {
                        let why = "only the first argument may be a config file";
                        return Err(ConfigError::Usage(format!(
                            "Unexpected argument '{arg}': {why}"
                        )));
                    }
                },
            }
        }

        let mut cfg = Config::default();
        if let Some(file) = file {
            cfg.load_file(Path::new(&file))?;
        }
        for (n, (name, values)) in directives.iter().enumerate() {
            let lname = name.to_ascii_lowercase();
            let flag = match lname.as_str() {
                "sentinel" => Some(&mut cfg.sentinel),
                "rebuild-from-snapshot" => Some(&mut cfg.rebuild_from_snapshot),
                "repair-wal" => Some(&mut cfg.repair_wal),
                _ => None,
            };
            let result = match flag {
                Some(flag) if values.is_empty() => {
                    *flag = true;
                    Ok(())
                }
                Some(_) => Err(format!("--{lname} is a flag and takes no arguments")),
                None => cfg.apply_directive(&lname, values, Source::CommandLine),
            };
            if let Err(msg) = result {
                let shown = std::iter::once(format!("--{name}"))
                    .chain(values.iter().map(|v| quote_if_needed(v)))
                    .collect::<Vec<_>>()
                    .join(" ");
                return Err(ConfigError::Directive {
                    at: format!("Reading the command line, at option {}", n + 1),
                    line: shown,
                    why: msg,
                });
            }
        }
        Ok(cfg)
    }

    /// Reads a Redis-syntax file and applies its directives in order.
    fn load_file(&mut self, path: &Path) -> Result<(), ConfigError> {
        let abs = for_each_directive(path, |name, args| {
            self.apply_directive(&name.to_ascii_lowercase(), args, Source::File)
        })?;
        self.config_file = Some(abs);
        Ok(())
    }

    /// Applies one directive from the file or command line; errors are the
    /// bare Redis reason, without location.
    fn apply_directive(
        &mut self,
        name: &str,
        args: &[String],
        source: Source,
    ) -> Result<(), String> {
        if let Some((_, why)) = REJECTED.iter().find(|(n, _)| *n == name) {
            return Err((*why).to_string());
        }
        let spec = find_spec(name).ok_or_else(|| BAD_DIRECTIVE.to_string())?;
        match self.apply(spec, args, source) {
            Ok(()) => Ok(()),
            Err(ApplyError::Arity) => Err("wrong number of arguments".to_string()),
            Err(ApplyError::Invalid(e)) => Err(e),
        }
    }

    /// Validates and stores one directive; nothing changes on error.
    fn apply(
        &mut self,
        spec: &'static Spec,
        args: &[String],
        source: Source,
    ) -> Result<(), ApplyError> {
        if !arity_ok(spec.kind, args.len()) {
            return Err(ApplyError::Arity);
        }
        let args = split_multi(spec, args);
        let mut value = parse_value(spec, &args, self.value(spec)).map_err(ApplyError::Invalid)?;
        if let Some(check) = spec.check {
            check(&value).map_err(|why| ApplyError::Invalid(why.to_string()))?;
        }
        if let Value::Save(points) = &mut value {
            let accumulate = source != Source::Runtime && self.save_source == Some(source);
            if accumulate && !points.is_empty() {
                let mut all = self.save.clone();
                all.append(points);
                *points = all;
            }
            self.save_source = Some(source);
        }
        if let Some(note) = spec.note {
            let relevant = !spec.note_only_if_yes || value == Value::Bool(true);
            if relevant && self.noted.insert(spec.name) {
                let text = format!(
                    "'{}' is accepted for compatibility but has no effect: {}",
                    spec.name, note
                );
                if source == Source::Runtime {
                    tracing::info!("{}", text);
                }
                self.notes.push(text);
            }
        }
        self.store(spec, value);
        Ok(())
    }

    /// Moves a parsed value into its typed field (or the compatibility map).
    fn store(&mut self, spec: &'static Spec, value: Value) {
        match spec.field {
            Some(field) => (field.set)(self, value),
            None => {
                self.other.insert(spec.name, value);
            }
        }
    }

    /// The current value of a directive, as a [`Value`].
    fn value(&self, spec: &Spec) -> Value {
        match spec.field {
            Some(field) => (field.get)(self),
            None => self
                .other
                .get(spec.name)
                .cloned()
                .unwrap_or(Value::Str(String::new())),
        }
    }

    /// `CONFIG GET pattern`: (name, value) pairs for every directive name or
    /// alias matching the glob (case-insensitive), formatted like Redis
    /// (memory as bytes, booleans yes/no, lists space-separated). Aliases are
    /// reported under their own name, as Redis 7 does.
    pub fn get(&self, pattern: &str) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for spec in SPECS {
            let names = std::iter::once(spec.name).chain(spec.aliases.iter().copied());
            let mut formatted = None;
            for name in names {
                if glob_match(pattern.as_bytes(), name.as_bytes(), true) {
                    let v = formatted.get_or_insert_with(|| format_get(&self.value(spec)));
                    out.push((name.to_string(), v.clone()));
                }
            }
        }
        out
    }

    /// `CONFIG SET name value`: one directive. `args` is normally the single
    /// value string; multi-word directives (save, bind, client-output-buffer-
    /// limit...) split it on spaces as Redis does. The error is the complete
    /// Redis error text, including the leading `ERR`.
    pub(crate) fn set(&mut self, name: &str, args: &[String]) -> Result<(), SetError> {
        let lname = name.to_ascii_lowercase();
        let unknown = || SetError::Unknown(lname.clone());
        let failed = |why: &str| SetError::Failed {
            name: lname.clone(),
            why: why.to_string(),
        };
        let Some(spec) = find_spec(&lname) else {
            return Err(unknown());
        };
        if !spec.mutable {
            return Err(failed("can't set immutable config"));
        }
        match self.apply(spec, args, Source::Runtime) {
            Ok(()) => {
                self.changed.insert(spec.name);
                Ok(())
            }
            Err(ApplyError::Arity) => Err(unknown()),
            Err(ApplyError::Invalid(why)) => Err(failed(&why)),
        }
    }

    /// Sets or clears the master (for `REPLICAOF host port` / `REPLICAOF NO
    /// ONE`), which `CONFIG SET` refuses, as in Redis.
    pub(crate) fn set_replicaof(&mut self, master: Option<(String, u16)>) {
        self.replicaof = master;
        self.changed.insert("replicaof");
    }

    /// Notes about directives that were accepted but have no effect, one per
    /// directive, to be logged once logging is set up.
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// The bind list as (address, optional) pairs: a `-` prefix marks an
    /// address whose failure to bind is not fatal, `*` means every IPv4
    /// address and `::*` every IPv6 address.
    pub(crate) fn bind_addresses(&self) -> Vec<(String, bool)> {
        bind_list(&self.bind)
    }

    /// `CONFIG REWRITE`: rewrites the config file in place. Comments, blank
    /// lines, unknown lines and the order of directives are kept; each
    /// directive's lines get its current value (under its canonical name,
    /// like Redis, so a `slaveof` line becomes `replicaof`); directives that
    /// are now unset (replicaof after `REPLICAOF NO ONE`) lose their lines;
    /// directives not in the file are appended after a
    /// `# Generated by CONFIG REWRITE` marker when they differ from the
    /// default or were changed at runtime. The write is atomic.
    pub(crate) fn rewrite(&self) -> io::Result<()> {
        let path = self
            .config_file
            .as_ref()
            .ok_or_else(|| io::Error::other("The server is running without a config file"))?;
        let old = match fs::read(path) {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(e),
        };
        write_atomic(path, self.rewrite_content(&old).as_bytes())
    }

    /// The new file contents for [`Config::rewrite`], given the old ones.
    fn rewrite_content(&self, old: &str) -> String {
        let mut pending: Vec<VecDeque<String>> =
            SPECS.iter().map(|s| self.rewrite_lines(s).into()).collect();
        let mut in_file = vec![false; SPECS.len()];
        let mut has_marker = false;
        let mut out: Vec<String> = Vec::new();
        let body = old.strip_suffix('\n').unwrap_or(old);
        let old_lines = if old.is_empty() {
            Vec::new()
        } else {
            body.split('\n').collect()
        };
        for raw in old_lines {
            let line = trim_line(raw.as_bytes());
            if line == REWRITE_MARKER.as_bytes() {
                has_marker = true;
            }
            let idx = if line.is_empty() || line[0] == b'#' {
                None
            } else {
                split_args(line)
                    .ok()
                    .and_then(|argv| argv.first().and_then(|name| spec_index(name)))
            };
            match idx {
                Some(i) => {
                    in_file[i] = true;
                    if let Some(new) = pending[i].pop_front() {
                        out.push(new);
                    }
                }
                None => out.push(raw.to_string()),
            }
        }
        let mut tail = Vec::new();
        for (i, spec) in SPECS.iter().enumerate() {
            let wanted = in_file[i]
                || self.changed.contains(spec.name)
                || self.value(spec) != default_value(spec, self);
            if wanted {
                tail.extend(pending[i].drain(..));
            }
        }
        if !tail.is_empty() && !has_marker {
            if out.last().is_some_and(|l| !l.trim().is_empty()) {
                out.push(String::new());
            }
            out.push(REWRITE_MARKER.to_string());
        }
        out.extend(tail);
        if out.is_empty() {
            return String::new();
        }
        let mut text = out.join("\n");
        text.push('\n');
        text
    }

    /// The config-file lines that express the current value of `spec`.
    fn rewrite_lines(&self, spec: &Spec) -> Vec<String> {
        let name = spec.name;
        match (spec.kind, self.value(spec)) {
            (_, Value::Save(points)) if points.is_empty() => vec![format!("{name} \"\"")],
            (_, Value::Save(points)) => points
                .iter()
                .map(|p| format!("{name} {} {}", p.seconds, p.changes))
                .collect(),
            (_, Value::ReplicaOf(None)) => Vec::new(),
            (_, Value::ReplicaOf(Some((host, port)))) => {
                vec![format!("{name} {} {port}", quote_if_needed(&host))]
            }
            (_, Value::Cobl(limits)) => {
                let defaults = match default_value(spec, self) {
                    Value::Cobl(d) => d,
                    _ => ClientOutputBufferLimits::default(),
                };
                let classes = [
                    ("normal", limits.normal, defaults.normal),
                    ("replica", limits.replica, defaults.replica),
                    ("pubsub", limits.pubsub, defaults.pubsub),
                ];
                let line = |class: &str, l: ClientLimit| {
                    format!(
                        "{name} {class} {} {} {}",
                        format_mem(l.hard),
                        format_mem(l.soft),
                        l.soft_seconds
                    )
                };
                let changed: Vec<String> = classes
                    .iter()
                    .filter(|(_, cur, def)| cur != def)
                    .map(|(class, cur, _)| line(class, *cur))
                    .collect();
                if changed.is_empty() {
                    classes
                        .iter()
                        .map(|(class, cur, _)| line(class, *cur))
                        .collect()
                } else {
                    changed
                }
            }
            (_, Value::Bool(b)) => vec![format!("{name} {}", yes_no(b))],
            (_, Value::Int(n)) => vec![format!("{name} {n}")],
            (_, Value::Mem(n)) => vec![format!("{name} {}", format_mem(n))],
            (Kind::Enum(_), Value::Str(s)) => vec![format!("{name} {s}")],
            (_, Value::Str(s)) => vec![format!("{name} {}", repr(&s))],
            (_, Value::List(words)) if words.is_empty() => vec![format!("{name} \"\"")],
            (_, Value::List(words)) => {
                let words: Vec<String> = words.iter().map(|w| quote_if_needed(w)).collect();
                vec![format!("{name} {}", words.join(" "))]
            }
        }
    }
}

/// Whether `n` arguments can be right for `kind` before any splitting.
fn arity_ok(kind: Kind, n: usize) -> bool {
    match kind {
        Kind::Save | Kind::Cobl | Kind::Words => true,
        Kind::Bind => n >= 1,
        Kind::ReplicaOf => n == 1 || n == 2,
        _ => n == 1,
    }
}

/// Redis 7 splits the lone argument of a multi-argument directive on single
/// spaces (so `--replicaof "host port"` and `CONFIG SET save "900 1"` work);
/// an empty one means "no arguments" (`save ""`).
fn split_multi(spec: &Spec, args: &[String]) -> Vec<String> {
    let multi = matches!(
        spec.kind,
        Kind::Save | Kind::Bind | Kind::ReplicaOf | Kind::Cobl | Kind::Words
    );
    match args {
        [one] if multi && one.is_empty() => Vec::new(),
        [one] if multi => one.split(' ').map(str::to_string).collect(),
        _ => args.to_vec(),
    }
}

/// Validates `args` (already split) for `spec`. `current` is the present
/// value, needed because a client-output-buffer-limit line only changes the
/// classes it names. Error texts are Redis's.
fn parse_value(spec: &Spec, args: &[String], current: Value) -> Result<Value, String> {
    let one = || -> Result<&str, String> {
        match args {
            [a] => Ok(a.as_str()),
            _ => Err("wrong number of arguments".to_string()),
        }
    };
    match spec.kind {
        Kind::Bool => parse_yes_no(one()?).map(Value::Bool),
        Kind::Int(min, max) => {
            let n = parse_int(one()?).ok_or("argument couldn't be parsed into an integer")?;
            if n < min || n > max {
                return Err(format!(
                    "argument must be between {min} and {max} inclusive"
                ));
            }
            Ok(Value::Int(n))
        }
        Kind::Mem(min, max) => {
            let n = parse_memory(one()?).ok_or("argument must be a memory value")?;
            if n < min || n > max {
                return Err(format!(
                    "argument must be between {min} and {max} inclusive"
                ));
            }
            Ok(Value::Mem(n))
        }
        Kind::Enum(words) => {
            let arg = one()?;
            words
                .iter()
                .find(|w| w.eq_ignore_ascii_case(arg))
                .map(|w| Value::Str(w.to_string()))
                .ok_or_else(|| {
                    format!(
                        "argument(s) must be one of the following: {}",
                        words.join(", ")
                    )
                })
        }
        Kind::Str => Ok(Value::Str(one()?.to_string())),
        Kind::Save => parse_save(args).map(Value::Save),
        Kind::Bind => {
            if args.is_empty() {
                return Err("wrong number of arguments".to_string());
            }
            if args.len() > 16 {
                return Err("Too many bind addresses specified.".to_string());
            }
            Ok(Value::List(args.to_vec()))
        }
        // An empty value (the default, and what CONFIG GET shows) means none.
        Kind::ReplicaOf => match args {
            [] => Ok(Value::ReplicaOf(None)),
            [host, port] if host.eq_ignore_ascii_case("no") && port.eq_ignore_ascii_case("one") => {
                Ok(Value::ReplicaOf(None))
            }
            [host, port] => match port.parse::<u16>() {
                Ok(p) if p > 0 && !port.starts_with('+') => {
                    Ok(Value::ReplicaOf(Some((host.clone(), p))))
                }
                _ => Err("Invalid master port".to_string()),
            },
            _ => Err("wrong number of arguments".to_string()),
        },
        Kind::Cobl => {
            let limits = match current {
                Value::Cobl(c) => c,
                _ => ClientOutputBufferLimits::default(),
            };
            parse_cobl(args, limits).map(Value::Cobl)
        }
        Kind::Words => Ok(Value::List(args.to_vec())),
    }
}

fn parse_save(args: &[String]) -> Result<Vec<SavePoint>, String> {
    let invalid = || "Invalid save parameters".to_string();
    if !args.len().is_multiple_of(2) {
        return Err(invalid());
    }
    let mut points = Vec::new();
    for pair in args.chunks(2) {
        let num = |s: &str| parse_int(s).filter(|n| *n >= 0).map(|n| n as u64);
        let seconds = num(&pair[0]).ok_or_else(invalid)?;
        let changes = num(&pair[1]).ok_or_else(invalid)?;
        points.push(SavePoint { seconds, changes });
    }
    Ok(points)
}

fn parse_cobl(
    args: &[String],
    mut limits: ClientOutputBufferLimits,
) -> Result<ClientOutputBufferLimits, String> {
    if args.is_empty() || !args.len().is_multiple_of(4) {
        return Err("Wrong number of arguments in buffer limit configuration.".to_string());
    }
    // Validate everything before changing anything, as Redis does.
    let mut updates = Vec::new();
    for group in args.chunks(4) {
        let class = group[0].to_ascii_lowercase();
        if !matches!(class.as_str(), "normal" | "replica" | "slave" | "pubsub") {
            return Err(
                "Invalid client class specified in buffer limit configuration.".to_string(),
            );
        }
        let bad = || {
            "Error in hard, soft or soft_seconds setting in buffer limit configuration.".to_string()
        };
        let hard = parse_memory(&group[1]).ok_or_else(bad)?;
        let soft = parse_memory(&group[2]).ok_or_else(bad)?;
        let soft_seconds = parse_int(&group[3]).filter(|n| *n >= 0).ok_or_else(bad)? as u64;
        updates.push((
            class,
            ClientLimit {
                hard,
                soft,
                soft_seconds,
            },
        ));
    }
    for (class, limit) in updates {
        match class.as_str() {
            "normal" => limits.normal = limit,
            "pubsub" => limits.pubsub = limit,
            _ => limits.replica = limit,
        }
    }
    Ok(limits)
}

pub(crate) fn parse_yes_no(s: &str) -> Result<bool, String> {
    if s.eq_ignore_ascii_case("yes") {
        Ok(true)
    } else if s.eq_ignore_ascii_case("no") {
        Ok(false)
    } else {
        Err("argument must be 'yes' or 'no'".to_string())
    }
}

/// A plain decimal integer (Redis rejects a leading '+').
fn parse_int(s: &str) -> Option<i64> {
    if s.starts_with('+') {
        return None;
    }
    s.parse().ok()
}

/// Parses a Redis memory value: digits with an optional case-insensitive
/// unit `b`, `k` (1000), `kb` (1024), `m`, `mb`, `g`, `gb`.
pub(crate) fn parse_memory(s: &str) -> Option<u64> {
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    if digits.is_empty() {
        return None;
    }
    let mul: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1000 * 1000,
        "mb" => 1024 * 1024,
        "g" => 1000 * 1000 * 1000,
        "gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    digits.parse::<u64>().ok()?.checked_mul(mul)
}

/// Formats bytes the way Redis's rewrite does: the largest binary unit
/// that divides evenly.
fn format_mem(n: u64) -> String {
    const GB: u64 = 1024 * 1024 * 1024;
    if n != 0 && n.is_multiple_of(GB) {
        format!("{}gb", n / GB)
    } else if n != 0 && n.is_multiple_of(MB) {
        format!("{}mb", n / MB)
    } else if n != 0 && n.is_multiple_of(1024) {
        format!("{}kb", n / 1024)
    } else {
        n.to_string()
    }
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

fn non_empty(s: String) -> Option<String> {
    if s.is_empty() {
        None
    } else {
        Some(s)
    }
}

/// A value as `CONFIG GET` shows it.
fn format_get(v: &Value) -> String {
    match v {
        Value::Bool(b) => yes_no(*b).to_string(),
        Value::Int(n) => n.to_string(),
        Value::Mem(n) => n.to_string(),
        Value::Str(s) => s.clone(),
        Value::Save(points) => points
            .iter()
            .map(|p| format!("{} {}", p.seconds, p.changes))
            .collect::<Vec<_>>()
            .join(" "),
        Value::List(l) => l.join(" "),
        Value::ReplicaOf(None) => String::new(),
        Value::ReplicaOf(Some((host, port))) => format!("{host} {port}"),
        // Redis names the replica class "slave" here.
        Value::Cobl(c) => [
            ("normal", c.normal),
            ("slave", c.replica),
            ("pubsub", c.pubsub),
        ]
        .iter()
        .map(|(class, l)| format!("{class} {} {} {}", l.hard, l.soft, l.soft_seconds))
        .collect::<Vec<_>>()
        .join(" "),
    }
}

/// A double-quoted, escaped string that [`split_args`] reads back verbatim.
fn repr(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            c if c.is_control() => {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    out.push_str(&format!("\\x{b:02x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `s` as is when it is a plain word, else [`repr`].
pub(crate) fn quote_if_needed(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| !c.is_whitespace() && !c.is_control() && !matches!(c, '"' | '\'' | '\\'));
    if plain {
        s.to_string()
    } else {
        repr(s)
    }
}

/// Strips what Redis strips from both ends of a config line.
pub(crate) fn trim_line(line: &[u8]) -> &[u8] {
    let is_trim = |b: &u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n');
    let start = line.iter().position(|b| !is_trim(b)).unwrap_or(line.len());
    let end = line
        .iter()
        .rposition(|b| !is_trim(b))
        .map_or(start, |e| e + 1);
    &line[start..end]
}

fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// Splits a config line into arguments exactly like Redis's `sdssplitargs`:
/// "double quotes" with `\n \r \t \b \a \" \\ \xHH` escapes, 'single quotes'
/// with only `\'`, and a closing quote must be followed by a space or the end.
pub(crate) fn split_args(line: &[u8]) -> Result<Vec<String>, &'static str> {
    const UNBALANCED: &str = "Unbalanced quotes in configuration line";
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::new();
    let mut i = 0;
    loop {
        while i < line.len() && is_c_space(line[i]) {
            i += 1;
        }
        if i == line.len() {
            return Ok(out);
        }
        let mut cur: Vec<u8> = Vec::new();
        let mut in_dq = false;
        let mut in_sq = false;
        loop {
            let c = line.get(i).copied();
            if in_dq {
                match c {
                    None => return Err(UNBALANCED),
                    Some(b'\\') if line.get(i + 1) == Some(&b'x') => {
                        match (
                            line.get(i + 2).and_then(|b| hex(*b)),
                            line.get(i + 3).and_then(|b| hex(*b)),
                        ) {
                            (Some(h), Some(l)) => {
                                cur.push(h * 16 + l);
                                i += 3;
                            }
                            _ => {
                                cur.push(b'x');
                                i += 1;
                            }
                        }
                    }
                    Some(b'\\') if i + 1 < line.len() => {
                        i += 1;
                        cur.push(match line[i] {
                            b'n' => b'\n',
                            b'r' => b'\r',
                            b't' => b'\t',
                            b'b' => 0x08,
                            b'a' => 0x07,
                            other => other,
                        });
                    }
                    Some(b'"') => {
                        if line.get(i + 1).is_some_and(|b| !is_c_space(*b)) {
                            return Err(UNBALANCED);
                        }
                        i += 1;
                        break;
                    }
                    Some(b) => cur.push(b),
                }
            } else if in_sq {
                match c {
                    None => return Err(UNBALANCED),
                    Some(b'\\') if line.get(i + 1) == Some(&b'\'') => {
                        cur.push(b'\'');
                        i += 1;
                    }
                    Some(b'\'') => {
                        if line.get(i + 1).is_some_and(|b| !is_c_space(*b)) {
                            return Err(UNBALANCED);
                        }
                        i += 1;
                        break;
                    }
                    Some(b) => cur.push(b),
                }
            } else {
                match c {
                    None | Some(b' ' | b'\n' | b'\r' | b'\t') => break,
                    Some(b'"') => in_dq = true,
                    Some(b'\'') => in_sq = true,
                    Some(b) => cur.push(b),
                }
            }
            i += 1;
        }
        out.push(String::from_utf8(cur).map_err(|_| "argument is not valid UTF-8")?);
    }
}

/// Reads a Redis-syntax config file and calls `apply` with each
/// directive's name and arguments, in order; an error names the file, the
/// line and the reason, Redis style. Returns the file's absolute path.
pub(crate) fn for_each_directive(
    path: &Path,
    mut apply: impl FnMut(&str, &[String]) -> Result<(), String>,
) -> Result<PathBuf, ConfigError> {
    let cant_open = |p: &Path, e: io::Error| ConfigError::Open {
        path: p.to_path_buf(),
        error: e.to_string(),
    };
    let abs = fs::canonicalize(path).map_err(|e| cant_open(path, e))?;
    let bytes = fs::read(&abs).map_err(|e| cant_open(&abs, e))?;
    let origin = format!("Reading the configuration file '{}'", abs.display());
    for (idx, raw) in bytes.split(|b| *b == b'\n').enumerate() {
        let line = trim_line(raw);
        if line.is_empty() || line[0] == b'#' {
            continue;
        }
        let fatal = |why: String| ConfigError::Directive {
            at: format!("{origin}, at line {}", idx + 1),
            line: String::from_utf8_lossy(line).into_owned(),
            why,
        };
        let argv = split_args(line).map_err(|e| fatal(e.to_string()))?;
        let Some((name, args)) = argv.split_first() else {
            continue;
        };
        apply(name, args).map_err(fatal)?;
    }
    Ok(abs)
}

/// A `bind` list as (address, optional) pairs: a `-` prefix marks an
/// address whose failure to bind is not fatal, `*` means every IPv4 address
/// and `::*` every IPv6 address. Shared by the server and the sentinel.
pub(crate) fn bind_list(bind: &[String]) -> Vec<(String, bool)> {
    bind.iter()
        .map(|a| {
            let (optional, addr) = match a.strip_prefix('-') {
                Some(rest) => (true, rest),
                None => (false, a.as_str()),
            };
            let addr = match addr {
                "*" => "0.0.0.0",
                "::*" => "::",
                other => other,
            };
            (addr.to_string(), optional)
        })
        .collect()
}

/// Why the listening sockets of a `bind` list could not be made (the
/// server's and the sentinel's startup).
#[derive(Debug)]
pub enum BindError {
    /// An address not marked optional could not be bound.
    Address {
        addr: String,
        port: u16,
        error: io::Error,
    },
    /// No address of the list could be bound.
    NoAddress,
}

impl std::fmt::Display for BindError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BindError::Address { addr, port, error } => write!(
                f,
                "Could not create server TCP listening socket {addr}:{port}: {error}"
            ),
            BindError::NoAddress => f.write_str("no address to listen on"),
        }
    }
}

impl std::error::Error for BindError {}

impl From<BindError> for String {
    fn from(e: BindError) -> String {
        e.to_string()
    }
}

/// Replaces `path` with `data` so that a crash leaves either the old or the
/// new file: temp file in the same directory, fsync, rename, fsync the dir.
pub(crate) fn write_atomic(path: &Path, data: &[u8]) -> io::Result<()> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let file_name = path
        .file_name()
        .ok_or_else(|| io::Error::other("config file path has no file name"))?;
    let tmp = dir.join(format!(
        ".{}.rewrite-{}-{}",
        file_name.to_string_lossy(),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        let mut f = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        // Keep the original mode: config files often hold passwords.
        if let Ok(meta) = fs::metadata(path) {
            f.set_permissions(meta.permissions())?;
        }
        f.write_all(data)?;
        f.sync_all()?;
        fs::rename(&tmp, path)?;
        File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn from(list: &[&str]) -> Result<Config, String> {
        Config::from_args(args(list)).map_err(|e| e.to_string())
    }

    /// Writes `text` to a fresh config file and returns (dir guard, path).
    fn conf_file(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sledis.conf");
        fs::write(&path, text).expect("write conf");
        (dir, path)
    }

    fn load(text: &str) -> Result<Config, String> {
        let (_dir, path) = conf_file(text);
        Config::from_args(vec![path.to_string_lossy().into_owned()]).map_err(|e| e.to_string())
    }

    fn get1(cfg: &Config, name: &str) -> String {
        let found = cfg.get(name);
        assert_eq!(found.len(), 1, "{name}: {found:?}");
        found[0].1.clone()
    }

    /// The non-comment lines of Debian's stock /etc/redis/redis.conf (Redis 7.0).
    const DEBIAN_REDIS_CONF: &str = r#"bind 127.0.0.1 -::1
protected-mode yes
port 6379
tcp-backlog 511
timeout 0
tcp-keepalive 300
daemonize yes
pidfile /run/redis/redis-server.pid
loglevel notice
logfile /var/log/redis/redis-server.log
databases 16
always-show-logo no
set-proc-title yes
proc-title-template "{title} {listen-addr} {server-mode}"
stop-writes-on-bgsave-error yes
rdbcompression yes
rdbchecksum yes
dbfilename dump.rdb
rdb-del-sync-files no
dir /var/lib/redis
replica-serve-stale-data yes
replica-read-only yes
repl-diskless-sync yes
repl-diskless-sync-delay 5
repl-diskless-sync-max-replicas 0
repl-diskless-load disabled
repl-disable-tcp-nodelay no
replica-priority 100
acllog-max-len 128
lazyfree-lazy-eviction no
lazyfree-lazy-expire no
lazyfree-lazy-server-del no
replica-lazy-flush no
lazyfree-lazy-user-del no
lazyfree-lazy-user-flush no
oom-score-adj no
oom-score-adj-values 0 200 800
disable-thp yes
appendonly no
appendfilename "appendonly.aof"
appenddirname "appendonlydir"
appendfsync everysec
no-appendfsync-on-rewrite no
auto-aof-rewrite-percentage 100
auto-aof-rewrite-min-size 64mb
aof-load-truncated yes
aof-use-rdb-preamble yes
aof-timestamp-enabled no
 
slowlog-log-slower-than 10000
slowlog-max-len 128
latency-monitor-threshold 0
notify-keyspace-events ""
hash-max-listpack-entries 512
hash-max-listpack-value 64
list-max-listpack-size -2
list-compress-depth 0
set-max-intset-entries 512
zset-max-listpack-entries 128
zset-max-listpack-value 64
hll-sparse-max-bytes 3000
stream-node-max-bytes 4096
stream-node-max-entries 100
activerehashing yes
client-output-buffer-limit normal 0 0 0
client-output-buffer-limit replica 256mb 64mb 60
client-output-buffer-limit pubsub 32mb 8mb 60
hz 10
dynamic-hz yes
aof-rewrite-incremental-fsync yes
rdb-save-incremental-fsync yes
jemalloc-bg-thread yes
"#;

    #[test]
    fn defaults() {
        let c = Config::default();
        assert_eq!(c.port, 6379);
        assert_eq!(c.bind, args(&["127.0.0.1", "-::1"]));
        assert!(c.protected_mode);
        assert_eq!(c.dir, PathBuf::from("."));
        assert_eq!(c.dbfilename, "dump.sledis");
        assert_eq!(c.logfile, None);
        assert_eq!(c.pidfile, None);
        assert_eq!(c.loglevel, LogLevel::Notice);
        assert!(!c.daemonize);
        assert_eq!(c.databases, 16);
        assert_eq!(
            c.save,
            vec![
                SavePoint {
                    seconds: 3600,
                    changes: 1
                },
                SavePoint {
                    seconds: 300,
                    changes: 100
                },
                SavePoint {
                    seconds: 60,
                    changes: 10000
                },
            ]
        );
        assert_eq!(c.appendfsync, Fsync::EverySec);
        assert_eq!(c.wal_segment_size, 64 * MB);
        assert_eq!(c.requirepass, None);
        assert_eq!(c.maxclients, 10000);
        assert_eq!(c.timeout, 0);
        assert_eq!(c.tcp_keepalive, 300);
        assert_eq!(c.tcp_backlog, 511);
        assert_eq!(c.replicaof, None);
        assert_eq!(c.repl_backlog_size, 1024 * MB);
        assert_eq!(c.repl_backlog_ttl, 3600);
        assert_eq!(c.repl_timeout, 60);
        assert_eq!(c.repl_ping_replica_period, 10);
        assert!(c.replica_read_only);
        assert!(c.replica_serve_stale_data);
        assert_eq!(c.replica_priority, 100);
        assert!(c.replica_announced);
        assert_eq!(c.min_replicas_to_write, 0);
        assert_eq!(c.min_replicas_max_lag, 10);
        assert_eq!(c.proto_max_bulk_len, 512 * MB);
        assert_eq!(c.client_query_buffer_limit, 1024 * MB);
        assert_eq!(c.client_output_buffer_limit.normal, ClientLimit::default());
        assert_eq!(
            c.client_output_buffer_limit.replica,
            ClientLimit {
                hard: 256 * MB,
                soft: 64 * MB,
                soft_seconds: 60
            }
        );
        assert_eq!(
            c.client_output_buffer_limit.pubsub,
            ClientLimit {
                hard: 32 * MB,
                soft: 8 * MB,
                soft_seconds: 60
            }
        );
        assert_eq!(c.hz, 10);
        assert_eq!(c.slowlog_log_slower_than, 10000);
        assert_eq!(c.slowlog_max_len, 128);
        assert!(c.notes().is_empty());
        assert!(c.config_file.is_none());
    }

    /// Every name a directive answers to: canonical names and aliases.
    fn all_names() -> Vec<&'static str> {
        SPECS
            .iter()
            .flat_map(|s| std::iter::once(s.name).chain(s.aliases.iter().copied()))
            .collect()
    }

    /// A valid value for `spec` that differs from its default, as one
    /// argument (the way CONFIG SET and `--name "value"` pass it).
    fn sample(spec: &Spec) -> String {
        let default = spec.default;
        match spec.kind {
            Kind::Bool => yes_no(default == "no").to_string(),
            Kind::Int(_, max) => {
                let n: i64 = default.parse().expect("int default");
                if n < max { n + 1 } else { n - 1 }.to_string()
            }
            Kind::Mem(_, max) => {
                let n = parse_memory(default).expect("mem default");
                if n < max { n + 1 } else { n - 1 }.to_string()
            }
            Kind::Enum(words) => words
                .iter()
                .find(|w| **w != default)
                .expect("2 words")
                .to_string(),
            Kind::Str => "some value".to_string(),
            Kind::Save => "1 2".to_string(),
            Kind::Bind => "10.0.0.1".to_string(),
            Kind::ReplicaOf => "10.0.0.1 7000".to_string(),
            Kind::Cobl => "pubsub 1 2 3".to_string(),
            Kind::Words => "a b".to_string(),
        }
    }

    /// A configuration where every directive that accepts another value
    /// than its default has one.
    fn all_changed() -> Config {
        let mut c = Config::default();
        for spec in SPECS.iter().filter(|s| s.check.is_none()) {
            c.apply_directive(spec.name, &[sample(spec)], Source::File)
                .expect(spec.name);
        }
        c
    }

    #[test]
    fn names_are_unique() {
        let mut seen = BTreeSet::new();
        for name in all_names() {
            assert!(seen.insert(name), "duplicate name {name}");
            assert_eq!(name, name.to_ascii_lowercase());
        }
        // Neither the refused directives nor the command-line flags shadow
        // (or are shadowed by) a row.
        for name in REJECTED.iter().map(|(n, _)| *n) {
            assert!(!seen.contains(name), "{name} is both a row and rejected");
        }
        for flag in ["sentinel", "rebuild-from-snapshot", "repair-wal"] {
            assert!(!seen.contains(flag), "{flag} is both a row and a flag");
        }
    }

    #[test]
    fn table_is_consistent() {
        for (c, defaults) in [(Config::default(), true), (all_changed(), false)] {
            for spec in SPECS {
                if defaults {
                    // Every default lands in its field and reads back unchanged.
                    assert_eq!(c.value(spec), default_value(spec, &c), "{}", spec.name);
                }
                // Every kind of value survives format -> parse.
                let lines = c.rewrite_lines(spec);
                let mut again = Config::default();
                for line in lines {
                    let argv = split_args(line.as_bytes()).expect("split");
                    assert!(
                        again
                            .apply_directive(&argv[0], &argv[1..], Source::File)
                            .is_ok(),
                        "{line}"
                    );
                }
                assert_eq!(again.value(spec), c.value(spec), "{}", spec.name);
            }
        }
    }

    #[test]
    fn each_row_sets_only_its_own_field() {
        let base = Config::default();
        for spec in SPECS {
            let value = sample(spec);
            let mut c = Config::default();
            let applied = c.apply_directive(spec.name, std::slice::from_ref(&value), Source::File);
            if spec.check.is_some() {
                // maxmemory-policy: the only other values are refused.
                assert!(applied.is_err(), "{}", spec.name);
                continue;
            }
            applied.expect(spec.name);
            assert_ne!(
                c.value(spec),
                base.value(spec),
                "{} did not change",
                spec.name
            );
            let shown = get1(&c, spec.name);
            if matches!(spec.kind, Kind::Cobl) {
                assert!(shown.ends_with(" pubsub 1 2 3"), "{shown}");
            } else {
                assert_eq!(shown, value, "{}", spec.name);
            }
            for other in SPECS.iter().filter(|o| o.name != spec.name) {
                assert_eq!(
                    c.value(other),
                    base.value(other),
                    "setting {} changed {}",
                    spec.name,
                    other.name
                );
            }
        }
    }

    #[test]
    fn get_round_trips_through_set_and_command_line() {
        for c in [Config::default(), all_changed()] {
            let all = c.get("*");
            assert_eq!(all.len(), all_names().len());
            for (name, shown) in &all {
                let spec = find_spec(name).expect(name);
                // CONFIG SET takes back what CONFIG GET shows, where it may.
                let mut again = c.clone();
                let set = again.set(name, std::slice::from_ref(shown));
                if spec.mutable {
                    set.unwrap_or_else(|e| panic!("{name} {shown:?}: {e}"));
                    assert_eq!(again.get("*"), all, "{name} {shown:?}");
                } else {
                    assert!(set.is_err(), "{name} is immutable");
                }
                // So does the command line, for every directive.
                let line = Config::from_args(vec![format!("--{name}"), shown.clone()])
                    .unwrap_or_else(|e| panic!("{name} {shown:?}: {e}"));
                assert_eq!(line.value(spec), c.value(spec), "{name} {shown:?}");
            }
            // And a file of every directive as GET shows it loads back the same.
            let text: String = all
                .iter()
                .filter(|(name, _)| find_spec(name).is_some_and(|s| s.name == *name))
                .map(|(name, shown)| format!("{name} {}\n", repr(shown)))
                .collect();
            let loaded = load(&text).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(loaded.get("*"), all);
        }
    }

    #[test]
    fn split_args_like_redis() {
        let ok = |s: &str| split_args(s.as_bytes()).expect("split");
        assert_eq!(ok("  port   6379  "), args(&["port", "6379"]));
        assert_eq!(ok("a \"b c\" 'd e'"), args(&["a", "b c", "d e"]));
        assert_eq!(
            ok(r#"x "a\nb\t\"q\"\\\x41\x4a""#),
            args(&["x", "a\nb\t\"q\"\\AJ"])
        );
        assert_eq!(ok(r#"x "\xZZ""#), args(&["x", "xZZ"]));
        assert_eq!(ok(r"x 'it\'s' 'a\nb'"), args(&["x", "it's", "a\\nb"]));
        assert_eq!(ok("x \"\" ''"), args(&["x", "", ""]));
        assert_eq!(ok("x foo\"bar baz\""), args(&["x", "foobar baz"]));
        assert_eq!(ok(""), Vec::<String>::new());
        let unbalanced = Err("Unbalanced quotes in configuration line");
        assert_eq!(split_args(b"x \"abc"), unbalanced);
        assert_eq!(split_args(b"x 'abc"), unbalanced);
        assert_eq!(split_args(b"x \"abc\"def"), unbalanced);
        assert_eq!(split_args(b"x 'abc'def"), unbalanced);
        assert!(split_args(b"x \"\\xff\"").is_err());
    }

    #[test]
    fn memory_units() {
        assert_eq!(parse_memory("0"), Some(0));
        assert_eq!(parse_memory("100"), Some(100));
        assert_eq!(parse_memory("100b"), Some(100));
        assert_eq!(parse_memory("100k"), Some(100_000));
        assert_eq!(parse_memory("100kb"), Some(102_400));
        assert_eq!(parse_memory("64m"), Some(64_000_000));
        assert_eq!(parse_memory("64MB"), Some(64 * MB));
        assert_eq!(parse_memory("1g"), Some(1_000_000_000));
        assert_eq!(parse_memory("1Gb"), Some(1 << 30));
        for bad in [
            "",
            "gb",
            "-1",
            "1.5gb",
            "10zz",
            " 1",
            "1 gb",
            "99999999999999999999gb",
        ] {
            assert_eq!(parse_memory(bad), None, "{bad}");
        }
        assert_eq!(format_mem(0), "0");
        assert_eq!(format_mem(1 << 30), "1gb");
        assert_eq!(format_mem(64 * MB), "64mb");
        assert_eq!(format_mem(2048), "2kb");
        assert_eq!(format_mem(2000), "2000");
    }

    #[test]
    fn parses_file_with_comments_quotes_and_aliases() {
        let c = load(
            "# a comment\n\n   \nPORT 7000\n  # indented comment\nbind 0.0.0.0 \"::1\"\r\n\
             requirepass 'se cret'\nslaveof 10.0.0.1 6380\nslave-read-only no\n\
             repl-backlog-size 64mb\nloglevel WARNING\nappendfsync Always\n\
             daemonize YES\nlogfile \"\"\ndir /tmp\n",
        )
        .expect("load");
        assert_eq!(c.port, 7000);
        assert_eq!(c.bind, args(&["0.0.0.0", "::1"]));
        assert_eq!(c.requirepass.as_deref(), Some("se cret"));
        assert_eq!(c.replicaof, Some(("10.0.0.1".to_string(), 6380)));
        assert!(!c.replica_read_only);
        assert_eq!(c.repl_backlog_size, 64 * MB);
        assert_eq!(c.loglevel, LogLevel::Warning);
        assert_eq!(c.appendfsync, Fsync::Always);
        assert!(c.daemonize);
        assert_eq!(c.logfile, None);
        assert_eq!(c.dir, PathBuf::from("/tmp"));
        assert!(c.config_file.as_ref().is_some_and(|p| p.is_absolute()));
        assert!(c.notes().iter().any(|n| n.contains("daemonize")));
    }

    #[test]
    fn save_accumulates_per_source() {
        let p = |s: u64, c: u64| SavePoint {
            seconds: s,
            changes: c,
        };
        let c = load("save 900 1\n# x\nsave 300 10 60 10000\n").expect("load");
        assert_eq!(c.save, vec![p(900, 1), p(300, 10), p(60, 10000)]);
        let c = load("save \"\"\n").expect("load");
        assert!(c.save.is_empty());
        let c = load("save \"\"\nsave 5 5\n").expect("load");
        assert_eq!(c.save, vec![p(5, 5)]);
        let c = load("save \"900 1 300 10\"\n").expect("load");
        assert_eq!(c.save, vec![p(900, 1), p(300, 10)]);

        // The command line replaces the file's points, then accumulates.
        let (_dir, path) = conf_file("save 900 1\n");
        let file = path.to_string_lossy().into_owned();
        let c = from(&[&file, "--save", "10", "1", "--save", "20 2"]).expect("load");
        assert_eq!(c.save, vec![p(10, 1), p(20, 2)]);
        let c = from(&[&file, "--save", ""]).expect("load");
        assert!(c.save.is_empty());
        let c = from(&[&file, "--save"]).expect("load");
        assert!(c.save.is_empty());
        let c = from(&[&file, "--port", "1"]).expect("load");
        assert_eq!(c.save, vec![p(900, 1)]);
    }

    #[test]
    fn command_line_overrides_file() {
        let (_dir, path) = conf_file("port 7000\nreplicaof 1.1.1.1 1\nmaxclients 5\n");
        let file = path.to_string_lossy().into_owned();
        let c = from(&[
            &file,
            "--port",
            "6390",
            "--replicaof",
            "127.0.0.1 6379",
            "--bind",
            "127.0.0.1",
            "::1",
            "--sentinel",
            "--REPAIR-WAL",
        ])
        .expect("load");
        assert_eq!(c.port, 6390);
        assert_eq!(c.replicaof, Some(("127.0.0.1".to_string(), 6379)));
        assert_eq!(c.bind, args(&["127.0.0.1", "::1"]));
        assert_eq!(c.maxclients, 5);
        assert!(c.sentinel);
        assert!(c.repair_wal);
        assert!(!c.rebuild_from_snapshot);
        assert_eq!(c.config_file, Some(fs::canonicalize(&path).expect("canon")));

        let c = from(&["--rebuild-from-snapshot", "--replicaof", "no", "one"]).expect("load");
        assert!(c.rebuild_from_snapshot);
        assert_eq!(c.replicaof, None);
        assert_eq!(c.config_file, None);

        let c = from(&[]).expect("no args");
        assert_eq!(c.port, 6379);
    }

    #[test]
    fn command_line_errors() {
        let e = from(&["--port", "6390", "extra"]).expect_err("arity");
        assert!(e.contains("FATAL CONFIG FILE ERROR"), "{e}");
        assert!(e.contains(">>> '--port 6390 extra'"), "{e}");
        assert!(e.contains("wrong number of arguments"), "{e}");
        let e = from(&["--nosuch", "1"]).expect_err("unknown");
        assert!(
            e.contains("Bad directive or wrong number of arguments"),
            "{e}"
        );
        let e = from(&["--sentinel", "yes"]).expect_err("flag");
        assert!(e.contains("takes no arguments"), "{e}");
        let e = from(&["a.conf", "b.conf"]).expect_err("two files");
        assert!(e.contains("'b.conf'"), "{e}");
        let e = from(&["/nonexistent/sledis.conf"]).expect_err("missing");
        assert!(
            e.contains("can't open config file '/nonexistent/sledis.conf'"),
            "{e}"
        );
        let e = from(&["--replicaof", "127.0.0.1  6379"]).expect_err("double space");
        assert!(e.contains("wrong number of arguments"), "{e}");
    }

    #[test]
    fn file_errors_name_file_line_and_reason() {
        let (_dir, path) = conf_file("port 7000\nfoo bar\n");
        let e = Config::from_args(vec![path.to_string_lossy().into_owned()])
            .expect_err("bad")
            .to_string();
        let canon = fs::canonicalize(&path).expect("canon");
        assert!(e.starts_with("*** FATAL CONFIG FILE ERROR (sledis "), "{e}");
        assert!(
            e.contains(&format!("'{}', at line 2\n", canon.display())),
            "{e}"
        );
        assert!(e.contains("\n>>> 'foo bar'\n"), "{e}");
        assert!(
            e.ends_with("Bad directive or wrong number of arguments"),
            "{e}"
        );

        let cases = [
            ("port abc", "argument couldn't be parsed into an integer"),
            (
                "port 70000",
                "argument must be between 0 and 65535 inclusive",
            ),
            ("port 1 2", "wrong number of arguments"),
            ("port", "wrong number of arguments"),
            (
                "databases 17",
                "argument must be between 1 and 16 inclusive",
            ),
            ("protected-mode maybe", "argument must be 'yes' or 'no'"),
            ("repl-backlog-size 1.5gb", "argument must be a memory value"),
            (
                "loglevel loud",
                "argument(s) must be one of the following: debug, verbose, notice, warning",
            ),
            ("save 900", "Invalid save parameters"),
            ("save 900 -1", "Invalid save parameters"),
            ("replicaof a b", "Invalid master port"),
            ("replicaof a", "wrong number of arguments"),
            (
                "bind \"unterminated",
                "Unbalanced quotes in configuration line",
            ),
            (
                "client-output-buffer-limit normal 1 2",
                "Wrong number of arguments in buffer limit configuration.",
            ),
            (
                "client-output-buffer-limit master 1 2 3",
                "Invalid client class specified in buffer limit configuration.",
            ),
            (
                "client-output-buffer-limit normal x 2 3",
                "Error in hard, soft or soft_seconds setting in buffer limit configuration.",
            ),
            (
                "include other.conf",
                "'include' is not supported by sledis; merge the files into one",
            ),
            (
                "rename-command FLUSHALL \"\"",
                "'rename-command' is not supported by sledis",
            ),
            (
                "cluster-enabled yes",
                "Bad directive or wrong number of arguments",
            ),
            (
                "sentinel monitor m 1.1.1.1 1 2",
                "sentinel directives are not supported in the config file",
            ),
        ];
        for (line, why) in cases {
            let e = load(&format!("# c\n{line}\n")).expect_err(line);
            assert!(e.contains("at line 2\n"), "{e}");
            assert!(e.contains(&format!(">>> '{line}'")), "{e}");
            assert!(e.ends_with(why), "{line}: {e}");
        }
    }

    #[test]
    fn loads_stock_debian_redis_conf() {
        let c = load(DEBIAN_REDIS_CONF).expect("stock redis.conf must load");
        assert_eq!(c.port, 6379);
        assert!(c.daemonize);
        assert_eq!(c.dir, PathBuf::from("/var/lib/redis"));
        assert_eq!(
            c.logfile,
            Some(PathBuf::from("/var/log/redis/redis-server.log"))
        );
        assert_eq!(
            c.pidfile,
            Some(PathBuf::from("/run/redis/redis-server.pid"))
        );
        assert_eq!(c.dbfilename, "dump.rdb");
        assert_eq!(
            get1(&c, "proc-title-template"),
            "{title} {listen-addr} {server-mode}"
        );
        assert_eq!(
            get1(&c, "client-output-buffer-limit"),
            get1(&Config::default(), "client-output-buffer-limit")
        );
        let notes = c.notes().join("\n");
        for name in [
            "daemonize",
            "appendonly",
            "appendfilename",
            "rdbcompression",
            "lazyfree-lazy-expire",
        ] {
            assert!(notes.contains(&format!("'{name}'")), "{notes}");
        }
        // One note per directive, however often it appears.
        assert_eq!(c.notes().len(), c.noted.len());
    }

    #[test]
    fn get_formats_like_redis() {
        let mut c = Config::default();
        assert_eq!(get1(&c, "save"), "3600 1 300 100 60 10000");
        assert_eq!(get1(&c, "SAVE"), "3600 1 300 100 60 10000");
        assert_eq!(get1(&c, "replicaof"), "");
        assert_eq!(get1(&c, "slaveof"), "");
        assert_eq!(get1(&c, "bind"), "127.0.0.1 -::1");
        assert_eq!(get1(&c, "repl-backlog-size"), "1073741824");
        assert_eq!(get1(&c, "proto-max-bulk-len"), "536870912");
        assert_eq!(get1(&c, "protected-mode"), "yes");
        assert_eq!(get1(&c, "appendfsync"), "everysec");
        assert_eq!(get1(&c, "requirepass"), "");
        assert_eq!(get1(&c, "notify-keyspace-events"), "");
        assert_eq!(get1(&c, "list-max-listpack-size"), "-2");
        assert_eq!(get1(&c, "latency-tracking-info-percentiles"), "50 99 99.9");
        assert_eq!(
            get1(&c, "client-output-buffer-limit"),
            "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"
        );
        let ro: Vec<String> = c.get("*read-only*").into_iter().map(|(n, _)| n).collect();
        assert_eq!(ro, args(&["replica-read-only", "slave-read-only"]));
        assert!(c.get("nosuch").is_empty());
        let all = c.get("*");
        let names = SPECS.iter().map(|s| 1 + s.aliases.len()).sum::<usize>();
        assert_eq!(all.len(), names);
        assert!(!all
            .iter()
            .any(|(n, _)| n == "sentinel" || n == "repair-wal"));
        assert_eq!(
            c.get("p?rt"),
            vec![("port".to_string(), "6379".to_string())]
        );

        c.set_replicaof(Some(("10.0.0.2".to_string(), 6390)));
        assert_eq!(get1(&c, "replicaof"), "10.0.0.2 6390");
        assert_eq!(get1(&c, "slaveof"), "10.0.0.2 6390");
        c.set("save", &args(&[""])).expect("set");
        assert_eq!(get1(&c, "save"), "");
    }

    #[test]
    fn set_changes_values() {
        let mut c = Config::default();
        c.set("MaxClients", &args(&["50"])).expect("set");
        assert_eq!(c.maxclients, 50);
        c.set("save", &args(&["900 1 300 10"])).expect("set");
        assert_eq!(get1(&c, "save"), "900 1 300 10");
        c.set("save", &args(&["60 5"])).expect("set");
        assert_eq!(get1(&c, "save"), "60 5");
        c.set("slave-read-only", &args(&["no"])).expect("set");
        assert!(!c.replica_read_only);
        c.set("requirepass", &args(&["pw"])).expect("set");
        assert_eq!(c.requirepass.as_deref(), Some("pw"));
        c.set("requirepass", &args(&[""])).expect("set");
        assert_eq!(c.requirepass, None);
        c.set("client-output-buffer-limit", &args(&["pubsub 1mb 2k 3"]))
            .expect("set");
        assert_eq!(
            get1(&c, "client-output-buffer-limit"),
            "normal 0 0 0 slave 268435456 67108864 60 pubsub 1048576 2000 3"
        );
        c.set("maxmemory", &args(&["1GB"])).expect("set");
        assert_eq!(get1(&c, "maxmemory"), "1073741824");
        c.set("hz", &args(&["1000"])).expect("set");
        assert_eq!(c.hz, 500);
        c.set("hz", &args(&["0"])).expect("set");
        assert_eq!(c.hz, 1);
        c.set("appendfsync", &args(&["no"])).expect("set");
        assert_eq!(c.appendfsync, Fsync::No);
        c.set("loglevel", &args(&["debug"])).expect("set");
        assert_eq!(c.loglevel, LogLevel::Debug);
        assert_eq!(c.loglevel.filter_directive(), "trace");
        c.set("wal-segment-size", &args(&["1mb"])).expect("set");
        assert_eq!(c.wal_segment_size, MB);
        assert_eq!(c.client_output_buffer_limit.pubsub.hard, MB);
        assert_eq!(c.maxmemory, 1 << 30);
        c.set("maxmemory-policy", &args(&["NoEviction"]))
            .expect("set");
        let e = c
            .set("maxmemory-policy", &args(&["allkeys-lru"]))
            .expect_err("an evicting policy");
        assert!(e.to_string().contains("never evicts"), "{e}");
        assert_eq!(get1(&c, "maxmemory-policy"), "noeviction");
    }

    #[test]
    fn set_errors_match_redis() {
        let mut c = Config::default();
        let err = |c: &mut Config, name: &str, v: &[&str]| {
            c.set(name, &args(v)).expect_err(name).to_string()
        };
        assert_eq!(
            err(&mut c, "foo", &["bar"]),
            "ERR Unknown option or number of arguments for CONFIG SET - 'foo'"
        );
        assert_eq!(
            err(&mut c, "timeout", &[]),
            "ERR Unknown option or number of arguments for CONFIG SET - 'timeout'"
        );
        let failed = |name: &str, why: &str| {
            format!("ERR CONFIG SET failed (possibly related to argument '{name}') - {why}")
        };
        assert_eq!(
            err(&mut c, "timeout", &["abc"]),
            failed("timeout", "argument couldn't be parsed into an integer")
        );
        assert_eq!(
            err(&mut c, "timeout", &["-5"]),
            failed(
                "timeout",
                "argument must be between 0 and 2147483647 inclusive"
            )
        );
        assert_eq!(
            err(&mut c, "maxclients", &["0"]),
            failed(
                "maxclients",
                "argument must be between 1 and 4294967295 inclusive"
            )
        );
        for name in [
            "databases",
            "dir",
            "daemonize",
            "bind",
            "port",
            "replicaof",
            "slaveof",
        ] {
            assert_eq!(
                err(&mut c, name, &["1"]),
                failed(name, "can't set immutable config")
            );
        }
        assert_eq!(
            err(&mut c, "DATABASES", &["1"]),
            failed("databases", "can't set immutable config")
        );
        assert_eq!(
            err(&mut c, "Slave-Read-Only", &["x"]),
            failed("slave-read-only", "argument must be 'yes' or 'no'")
        );
        assert_eq!(
            err(&mut c, "repl-backlog-size", &["10zz"]),
            failed("repl-backlog-size", "argument must be a memory value")
        );
        assert_eq!(
            err(&mut c, "repl-backlog-size", &["0"]),
            failed(
                "repl-backlog-size",
                "argument must be between 1 and 9223372036854775807 inclusive"
            )
        );
        assert_eq!(
            err(&mut c, "appendfsync", &["sometimes"]),
            failed(
                "appendfsync",
                "argument(s) must be one of the following: everysec, always, no"
            )
        );
        assert_eq!(
            err(&mut c, "save", &["900 1 300"]),
            failed("save", "Invalid save parameters")
        );
        assert_eq!(
            err(&mut c, "save", &["1 2  3 4"]),
            failed("save", "Invalid save parameters")
        );
        assert_eq!(
            err(&mut c, "client-output-buffer-limit", &["foo 1 2 3"]),
            failed(
                "client-output-buffer-limit",
                "Invalid client class specified in buffer limit configuration."
            )
        );
        // Nothing changed on error.
        assert_eq!(c.timeout, 0);
        assert_eq!(get1(&c, "save"), "3600 1 300 100 60 10000");
        assert!(c.changed.is_empty());
    }

    #[test]
    fn rewrite_without_file_fails() {
        let e = Config::default().rewrite().expect_err("no file");
        assert_eq!(e.to_string(), "The server is running without a config file");
    }

    #[test]
    fn rewrite_round_trip() {
        let original = "# my conf\n\
                        port 7000\n\
                        \n\
                        slaveof 127.0.0.1 7391\n\
                        save 900 1\n\
                        # middle\n\
                        save 300 10\n\
                        dbfilename \"x y.rdb\"\n\
                        maxclients 100\n\
                        timeout 0\n\
                        # trailing comment\n";
        let (dir, path) = conf_file(original);
        let mut c = Config::from_args(vec![
            path.to_string_lossy().into_owned(),
            "--hz".into(),
            "20".into(),
        ])
        .expect("load");
        c.set("maxclients", &args(&["200"])).expect("set");
        c.set("save", &args(&["3600 1"])).expect("set");
        c.set("requirepass", &args(&["a b\"c"])).expect("set");
        c.set("tcp-keepalive", &args(&["300"]))
            .expect("set default at runtime");
        c.set("client-output-buffer-limit", &args(&["pubsub 1mb 2k 3"]))
            .expect("set");
        c.set_replicaof(None);
        c.rewrite().expect("rewrite");
        let text = fs::read_to_string(&path).expect("read");
        assert_eq!(
            text,
            "# my conf\n\
             port 7000\n\
             \n\
             save 3600 1\n\
             # middle\n\
             dbfilename \"x y.rdb\"\n\
             maxclients 200\n\
             timeout 0\n\
             # trailing comment\n\
             \n\
             # Generated by CONFIG REWRITE\n\
             tcp-keepalive 300\n\
             requirepass \"a b\\\"c\"\n\
             client-output-buffer-limit pubsub 1mb 2000 3\n\
             hz 20\n"
        );
        // Only the config file remains in the directory (no temp files).
        let entries: Vec<_> = fs::read_dir(dir.path()).expect("ls").collect();
        assert_eq!(entries.len(), 1);

        // Reloading the rewritten file gives the same configuration.
        let again = Config::from_args(vec![path.to_string_lossy().into_owned()]).expect("reload");
        assert_eq!(again.get("*"), c.get("*"));
        assert_eq!(again.requirepass.as_deref(), Some("a b\"c"));

        // A second rewrite is stable, and re-adding replicaof lands at the end
        // without duplicating the marker.
        let mut again = again;
        again.rewrite().expect("rewrite");
        assert_eq!(fs::read_to_string(&path).expect("read"), text);
        again.set_replicaof(Some(("10.0.0.9".to_string(), 6379)));
        again.rewrite().expect("rewrite");
        let text2 = fs::read_to_string(&path).expect("read");
        assert_eq!(text2, format!("{text}replicaof 10.0.0.9 6379\n"));
        assert_eq!(text2.matches(REWRITE_MARKER).count(), 1);
    }

    #[test]
    fn rewrite_replaces_slaveof_in_place_and_keeps_unknown_lines() {
        let c = load("slaveof 1.2.3.4 5\n").expect("load");
        let out = c.rewrite_content("# hi\nslaveof 1.2.3.4 5\nsome-future-directive 1\n\"broken\n");
        assert_eq!(
            out,
            "# hi\nreplicaof 1.2.3.4 5\nsome-future-directive 1\n\"broken\n"
        );
        // Nothing to add to an empty file when everything is default.
        assert_eq!(Config::default().rewrite_content(""), "");
        let mut c = Config::default();
        c.set("save", &args(&[""])).expect("set");
        assert_eq!(
            c.rewrite_content(""),
            "# Generated by CONFIG REWRITE\nsave \"\"\n"
        );
    }

    #[test]
    fn rewrite_keeps_file_mode() {
        use std::os::unix::fs::PermissionsExt;
        let (_dir, path) = conf_file("port 7000\n");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).expect("chmod");
        let mut c = Config::from_args(vec![path.to_string_lossy().into_owned()]).expect("load");
        c.set("timeout", &args(&["5"])).expect("set");
        c.rewrite().expect("rewrite");
        let mode = fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);
        assert_eq!(
            fs::read_to_string(&path).expect("read"),
            "port 7000\n\n# Generated by CONFIG REWRITE\ntimeout 5\n"
        );
    }

    #[test]
    fn bind_addresses_strip_markers() {
        let c = from(&["--bind", "* -::* 10.0.0.1"]).expect("load");
        let pair = |a: &str, optional: bool| (a.to_string(), optional);
        assert_eq!(
            c.bind_addresses(),
            vec![
                pair("0.0.0.0", false),
                pair("::", true),
                pair("10.0.0.1", false)
            ]
        );
        assert_eq!(
            Config::default().bind_addresses(),
            vec![pair("127.0.0.1", false), pair("::1", true)]
        );
        assert_eq!(get1(&c, "bind"), "* -::* 10.0.0.1");
        let e = from(&["--bind", "a b c d e f g h i j k l m n o p q"]).expect_err("too many");
        assert!(e.ends_with("Too many bind addresses specified."), "{e}");
    }
}
