//! The command table (name, arity, flags, handler) and dispatch: the checks
//! Redis makes before running a command (arity, auth, pub/sub context,
//! MULTI queueing, read-only replica), then the handler, then the commit of
//! whatever it wrote.

pub(crate) mod bitmap;
pub(crate) mod blocking;
pub(crate) mod coll;
pub(crate) mod connection;
mod ctx;
pub mod docs;
pub(crate) mod dump;
pub(crate) mod float80;
pub(crate) mod function;
pub(crate) mod hash;
pub(crate) mod hyperloglog;
pub(crate) mod info_table;
pub(crate) mod introspect;
pub(crate) mod keys;
mod keyspec;
mod keyspec_table;
pub(crate) mod lcs;
pub(crate) mod list;
pub(crate) mod lolwut;
pub(crate) mod module;
pub(crate) mod multi;
pub(crate) mod object;
pub(crate) mod pubsub;
pub(crate) mod replication;
pub(crate) mod scripting;
pub(crate) mod server;
pub(crate) mod set;
pub(crate) mod sort;
pub(crate) mod string;
pub(crate) mod swapdb;
pub(crate) mod syntax;
pub(crate) mod zset;

use crate::server::Server;
use ahash::AHashMap as HashMap;
use bytes::Bytes;
use std::sync::OnceLock;
use std::time::Duration;

pub(crate) use ctx::{Ctx, ExecView};

/// A command's code. Most commands get only their [`Ctx`]: the connection,
/// its database and a few narrow handles. The commands on the node itself
/// (INFO, CONFIG, SAVE, BGSAVE, LASTSAVE, SHUTDOWN, REPLICAOF) also get the
/// [`Server`].
#[derive(Clone, Copy)]
pub(crate) enum Handler {
    Plain(fn(&mut Ctx<'_>, &[Bytes])),
    Node(fn(&mut Ctx<'_>, &Server, &[Bytes])),
}

pub(crate) mod flags {
    /// Changes data: refused on read-only replicas, committed after running.
    pub(crate) const WRITE: u32 = 1;
    pub(crate) const READONLY: u32 = 1 << 1;
    pub(crate) const ADMIN: u32 = 1 << 2;
    /// Allowed in a RESP2 subscribed context.
    pub(crate) const PUBSUB: u32 = 1 << 3;
    /// Allowed before AUTH.
    pub(crate) const NOAUTH: u32 = 1 << 4;
    /// Runs immediately even inside MULTI (MULTI, EXEC, DISCARD, WATCH...).
    pub(crate) const NOQUEUE: u32 = 1 << 5;
    pub(crate) const FAST: u32 = 1 << 6;
    /// Answers while a replica's data is stale.
    pub(crate) const STALE: u32 = 1 << 7;
    pub(crate) const LOADING: u32 = 1 << 8;
    pub(crate) const NOSCRIPT: u32 = 1 << 9;
    /// Refused inside MULTI ("Command not allowed inside a transaction").
    pub(crate) const NOMULTI: u32 = 1 << 10;
    /// A sentinel's command too (Redis's `CMD_SENTINEL`): name, arity and
    /// flags come from this row, the implementation from
    /// `sentinel/command.rs`.
    pub(crate) const SENTINEL: u32 = 1 << 11;
    /// A sentinel's command only (Redis's `CMD_ONLY_SENTINEL`): unknown to
    /// a data node.
    pub(crate) const ONLY_SENTINEL: u32 = 1 << 12;
    /// Its keys are shard channels, not keys of the keyspace (Redis's
    /// `not_key` key spec: SSUBSCRIBE, SUNSUBSCRIBE, SPUBLISH).
    pub(crate) const NOT_KEY: u32 = 1 << 13;
}

/// Finds the indexes of a command's keys in its arguments.
pub(crate) type KeysFn = fn(&[Bytes]) -> Vec<usize>;

pub(crate) struct Command {
    pub(crate) name: &'static str,
    /// Redis convention: N means exactly N arguments (the name included), -N
    /// at least N.
    pub(crate) arity: i32,
    pub(crate) flags: u32,
    pub(crate) first_key: i32,
    pub(crate) last_key: i32,
    pub(crate) step: i32,
    pub(crate) group: &'static str,
    pub(crate) summary: &'static str,
    pub(crate) since: &'static str,
    pub(crate) handler: Handler,
    /// For commands whose keys follow a `numkeys` argument (Redis's
    /// "movablekeys": ZUNION, ZMPOP...): that argument's index, else 0.
    pub(crate) numkeys_at: usize,
    /// The argument syntax as Redis's docs print it (`syntax.rs` turns it
    /// into COMMAND DOCS's arguments; redis-cli's hints come from there).
    pub(crate) syntax: &'static str,
    /// A container's subcommands (CLIENT, CONFIG ...): name, full name and
    /// Redis's arity (counting the container and the subcommand).
    pub(crate) subs: &'static [(&'static str, &'static str, i32)],
    /// Keys found by reading the arguments (Redis's `getkeys_proc`, as
    /// SORT's STORE destination), added to the first/last/step range.
    pub(crate) keys_fn: Option<KeysFn>,
    /// Its counters' index in `commandstats` (set by [`table`]); its
    /// subcommands' follow it, in `subs` order.
    pub(crate) slot: usize,
    /// Running it is an access to its keys (OBJECT IDLETIME); set by
    /// [`table`] from `NO_TOUCH`.
    pub(crate) touches: bool,
}

impl Command {
    pub(crate) fn syntax(self, syntax: &'static str) -> Command {
        Command { syntax, ..self }
    }

    pub(crate) fn subs(self, subs: &'static [(&'static str, &'static str, i32)]) -> Command {
        Command { subs, ..self }
    }

    /// The same command with its keys after a `numkeys` argument at `at`.
    pub(crate) fn numkeys_at(self, at: usize) -> Command {
        Command {
            numkeys_at: at,
            ..self
        }
    }

    /// The same command with keys found by `f` (Redis's movablekeys).
    pub(crate) fn keys_by(self, f: KeysFn) -> Command {
        Command {
            keys_fn: Some(f),
            ..self
        }
    }

    /// Whether its keys depend on its arguments (COMMAND's `movablekeys`).
    pub(crate) fn movable_keys(&self) -> bool {
        self.numkeys_at > 0 || self.keys_fn.is_some()
    }

    /// Indexes of the key arguments in `args` (the command name at 0):
    /// the first/last/step range, then those counted by `numkeys` or
    /// found by `keys_fn`.
    pub(crate) fn key_indexes(&self, args: &[Bytes]) -> Vec<usize> {
        let mut out = Vec::new();
        self.for_each_key(args, |i| {
            if !out.contains(&i) {
                out.push(i)
            }
        });
        out
    }

    /// [`Command::key_indexes`] without collecting them (the hot path's
    /// access times); `keys_fn`'s may repeat the range's.
    #[inline]
    pub(crate) fn for_each_key(&self, args: &[Bytes], mut f: impl FnMut(usize)) {
        if self.first_key > 0 {
            let last = if self.last_key < 0 {
                args.len() as i32 + self.last_key
            } else {
                self.last_key
            };
            let mut i = self.first_key;
            while i <= last && (i as usize) < args.len() {
                f(i as usize);
                i += self.step.max(1);
            }
        }
        if self.numkeys_at > 0 {
            let n = args
                .get(self.numkeys_at)
                .and_then(|a| crate::util::parse_u64(a))
                .unwrap_or(0) as usize;
            let first = self.numkeys_at + 1;
            (first..first.saturating_add(n))
                .take_while(|&i| i < args.len())
                .for_each(&mut f);
        }
        if let Some(kf) = self.keys_fn {
            kf(args).into_iter().for_each(f);
        }
    }
}

/// Commands that name keys without accessing them: they leave the keys'
/// access times alone (Redis's `LOOKUP_NOTOUCH`; checked with Redis 7.0:
/// OBJECT, TYPE, TTL, EXISTS, WATCH, MEMORY USAGE do not change OBJECT
/// IDLETIME). Scripts and functions touch what their calls read, not the
/// keys they were given.
const NO_TOUCH: &[&str] = &[
    "object",
    "type",
    "ttl",
    "pttl",
    "expiretime",
    "pexpiretime",
    "exists",
    "watch",
    "memory",
    "debug",
    "eval",
    "eval_ro",
    "evalsha",
    "evalsha_ro",
    "fcall",
    "fcall_ro",
];

/// Every command, in one place. Each family's file exports its rows.
pub(crate) fn table() -> &'static HashMap<&'static str, Command> {
    static TABLE: OnceLock<HashMap<&'static str, Command>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut m = HashMap::new();
        let mut slot = 0;
        for mut c in string::commands()
            .into_iter()
            .chain(bitmap::commands())
            .chain(hash::commands())
            .chain(hyperloglog::commands())
            .chain(set::commands())
            .chain(sort::commands())
            .chain(lcs::commands())
            .chain(swapdb::commands())
            .chain(list::commands())
            .chain(object::commands())
            .chain(module::commands())
            .chain(zset::commands())
            .chain(keys::commands())
            .chain(dump::commands())
            .chain(server::commands())
            .chain(connection::commands())
            .chain(pubsub::commands())
            .chain(multi::commands())
            .chain(replication::commands())
            .chain(scripting::commands())
            .chain(function::commands())
            .chain(introspect::commands())
            .chain(lolwut::commands())
            .chain(sentinel_only())
        {
            c.slot = slot;
            slot += 1 + c.subs.len();
            // Shard channels (`NOT_KEY`) are not keys.
            c.touches = (c.first_key > 0 || c.movable_keys())
                && c.flags & flags::NOT_KEY == 0
                && !NO_TOUCH.contains(&c.name);
            m.insert(c.name, c);
        }
        m
    })
}

/// Things a handler asks the connection to do after it returns.
pub(crate) enum Action {
    Close,
    /// PSYNC: the connection becomes a replica's feed.
    Psync {
        replid: String,
        offset: i64,
    },
    /// WAIT: answer once `n` replicas acknowledged `offset`, or at
    /// `deadline`. WAITAOF (`aof` is Some(numlocal)): once `n` replicas
    /// fsynced it and, with numlocal 1, this node's WAL too; the reply is
    /// then `[local, replicas]`.
    Wait {
        n: usize,
        offset: u64,
        deadline: Option<std::time::Instant>,
        aof: Option<bool>,
    },
    Shutdown {
        save: Option<bool>,
    },
    Sleep(Duration),
    /// BLPOP & co. found nothing: wait until one of `keys` gets a value
    /// (then run `args` again) or `deadline`; see `server/blocked.rs`.
    Block {
        keys: Vec<(usize, Bytes)>,
        deadline: Option<std::time::Instant>,
        args: Vec<Bytes>,
    },
    /// A read whose key is only in sled, parked in `client.parked`: read
    /// `raw` on a reader thread, then run it.
    Fetch {
        raw: Bytes,
    },
    /// A write met a full write buffer (sled is behind), parked in
    /// `client.parked`: wait for room off the thread, then run it.
    Room,
    /// Another connection runs a script: the request, parked in
    /// `client.parked`, waits off the thread until it ends or the node
    /// turns BUSY.
    AfterScript,
    /// CLIENT PAUSE holds the request parked in `client.parked` until the
    /// pause ends.
    Paused,
    /// A script to run, parked in `client.parked`: it runs on a blocking
    /// thread, so the connection thread serves others (BUSY, SCRIPT KILL).
    Script,
}

/// A data node's command by name (case-insensitive).
pub(crate) fn lookup(name: &[u8]) -> Option<&'static Command> {
    find(name).filter(|c| c.flags & flags::ONLY_SENTINEL == 0)
}

/// A sentinel's command by name: the rows flagged `SENTINEL` or
/// `ONLY_SENTINEL`.
pub(crate) fn sentinel_lookup(name: &[u8]) -> Option<&'static Command> {
    find(name).filter(|c| c.flags & (flags::SENTINEL | flags::ONLY_SENTINEL) != 0)
}

/// A data node's commands: every row but the sentinel-only ones.
pub(crate) fn node_commands() -> impl Iterator<Item = &'static Command> {
    table()
        .values()
        .filter(|c| c.flags & flags::ONLY_SENTINEL == 0)
}

/// A sentinel's commands.
pub(crate) fn sentinel_commands() -> impl Iterator<Item = &'static Command> {
    table()
        .values()
        .filter(|c| c.flags & (flags::SENTINEL | flags::ONLY_SENTINEL) != 0)
}

fn find(name: &[u8]) -> Option<&'static Command> {
    let mut buf = [0u8; 32];
    if name.len() > buf.len() {
        return None;
    }
    let lower = &mut buf[..name.len()];
    lower.copy_from_slice(name);
    lower.make_ascii_lowercase();
    table().get(std::str::from_utf8(lower).ok()?)
}

/// The rows only a sentinel runs. A data node never reaches their handler
/// (`lookup` skips them); if it did, it would answer as for any unknown
/// command.
fn sentinel_only() -> Vec<Command> {
    use flags::*;
    vec![cmd(
        "sentinel",
        -2,
        ADMIN | NOSCRIPT | LOADING | STALE | ONLY_SENTINEL,
        (0, 0, 0),
        "sentinel",
        "A container for Redis Sentinel commands.",
        |ctx, a| ctx.out.error(&unknown_command_error(a)),
    )
    .syntax("subcommand [argument ...]")]
}

/// Redis's text for an unknown command: the name (at most 128 bytes) and the
/// first arguments, quoted, until about 128 bytes of them have been shown.
pub(crate) fn unknown_command_error(args: &[Bytes]) -> String {
    let mut listed: Vec<u8> = Vec::new();
    for a in &args[1..] {
        if listed.len() >= 128 {
            break;
        }
        let room = 128 - listed.len();
        listed.push(b'\'');
        listed.extend_from_slice(&c_str(a)[..c_str(a).len().min(room)]);
        listed.extend_from_slice(b"' ");
    }
    format!(
        "ERR unknown command '{}', with args beginning with: {}",
        String::from_utf8_lossy(&c_str(&args[0])[..c_str(&args[0]).len().min(128)]),
        String::from_utf8_lossy(&listed)
    )
}

/// What C's `%s` prints of an argument: the bytes before the first NUL.
fn c_str(a: &[u8]) -> &[u8] {
    match a.iter().position(|&c| c == 0) {
        Some(p) => &a[..p],
        None => a,
    }
}

pub(crate) fn arity_ok(cmd: &Command, n: usize) -> bool {
    arity_matches(cmd.arity, n)
}

pub(crate) fn arity_matches(arity: i32, n: usize) -> bool {
    let n = n as i32;
    (arity > 0 && n == arity) || (arity < 0 && n >= -arity)
}

/// Refuses a request before it runs, like Redis's `rejectCommand`: a
/// transaction in progress is flagged so EXEC aborts, and a refused EXEC
/// aborts it at once. `err` carries its error code (`ERR ...`, `NOAUTH ...`).
fn reject(ctx: &mut Ctx<'_>, is_exec: bool, err: &str) {
    if ctx.client.multi.is_some() {
        ctx.client.multi_error = true;
    }
    if is_exec {
        multi::discard_state(ctx);
        multi::unwatch_all(ctx.store(), ctx.client);
        let why = err.strip_prefix("ERR ").unwrap_or(err);
        ctx.out.error(&format!(
            "EXECABORT Transaction discarded because of: {why}"
        ));
    } else {
        ctx.out.error(err);
    }
}

/// What a RESP2 client may run while subscribed (Redis's list in
/// `processCommand`; PUBLISH and PUBSUB are not on it).
pub(crate) const SUBSCRIBED_OK: &[&str] = &[
    "ping",
    "subscribe",
    "unsubscribe",
    "psubscribe",
    "punsubscribe",
    "ssubscribe",
    "sunsubscribe",
    "quit",
    "reset",
];

/// Runs one request: Redis's `processCommand` checks, then the handler.
pub(crate) fn dispatch(ctx: &mut Ctx<'_>, args: &[Bytes]) {
    dispatch_checked(ctx, args);
    // CLIENT CACHING holds for the next command (all of a MULTI's), as
    // Redis's `resetClient`; CLIENT's own subcommands keep it.
    if ctx.client.tracking.caching
        && ctx.client.multi.is_none()
        && !crate::util::eq_ic(&args[0], "client")
    {
        ctx.client.tracking.caching = false;
    }
    if !ctx.out.error_codes.is_empty() {
        ctx.count_errors();
    }
}

/// `dispatch` but for counting its error replies in `errorstats`.
fn dispatch_checked(ctx: &mut Ctx<'_>, args: &[Bytes]) {
    let Some(cmd) = lookup(&args[0]) else {
        return reject(ctx, false, &unknown_command_error(args));
    };
    let subs = cmd.subs;
    let mut fullname = cmd.name;
    let mut arity = cmd.arity;
    let mut slot = cmd.slot;
    if !subs.is_empty() && args.len() >= 2 {
        let sub = String::from_utf8_lossy(&args[1]).to_ascii_lowercase();
        match subs.iter().position(|s| s.0 == sub) {
            Some(i) => {
                let (_, full, a) = subs[i];
                fullname = full;
                arity = a;
                slot = cmd.slot + 1 + i;
            }
            None => {
                let shown = c_str(&args[1]);
                let msg = format!(
                    "ERR unknown subcommand '{}'. Try {} HELP.",
                    String::from_utf8_lossy(&shown[..shown.len().min(128)]),
                    String::from_utf8_lossy(&args[0]).to_ascii_uppercase()
                );
                return reject(ctx, false, &msg);
            }
        }
    }
    ctx.client.info.note_command(fullname, ctx.now);
    let is_exec = cmd.name == "exec";
    // Refusals below count as the command's rejected calls.
    let reject = |ctx: &mut Ctx<'_>, is_exec: bool, err: &str| {
        ctx.rejected(slot);
        reject(ctx, is_exec, err)
    };
    if ctx.scripts().busy() && !allowed_when_busy(cmd.name, args) {
        let busy = ctx.scripts().busy_error();
        return reject(ctx, is_exec, busy);
    }
    if !arity_matches(arity, args.len()) {
        let msg = format!("ERR wrong number of arguments for '{fullname}' command");
        return reject(ctx, is_exec, &msg);
    }
    if ctx.client.monitor && cmd.flags & (flags::WRITE | flags::READONLY) != 0 {
        return reject(ctx, is_exec, "ERR Replica can't interact with the keyspace");
    }
    if !ctx.client.authed && cmd.flags & flags::NOAUTH == 0 {
        return reject(ctx, is_exec, "NOAUTH Authentication required.");
    }
    if ctx.client.multi.is_some() && cmd.flags & flags::NOMULTI != 0 {
        return reject(ctx, is_exec, "ERR Command not allowed inside a transaction");
    }
    if cmd.flags & flags::LOADING == 0 && ctx.loading() && !after_failed_sync(ctx, cmd) {
        return reject(
            ctx,
            is_exec,
            "LOADING Redis is loading the dataset in memory",
        );
    }
    if cmd.flags & flags::STALE == 0 && serves_no_stale_data(ctx) {
        return reject(ctx, is_exec, MASTERDOWN);
    }
    if let Some(msg) = disk_error(ctx, cmd) {
        return reject(ctx, is_exec, &msg);
    }
    if ctx.client.in_subscribed_context() && !ctx.out.resp3 && !SUBSCRIBED_OK.contains(&cmd.name) {
        let msg = format!(
            "ERR Can't execute '{fullname}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"
        );
        return reject(ctx, is_exec, &msg);
    }
    // Redis refuses a write at queue time too (the EXEC then aborts).
    if ctx.client.multi.is_some()
        && cmd.flags & flags::WRITE != 0
        && !ctx.client.is_master
        && !enough_good_replicas(ctx)
    {
        return reject(ctx, false, NOREPLICAS);
    }
    if ctx.client.multi.is_some() && cmd.flags & flags::NOQUEUE == 0 {
        if let Some(q) = ctx.client.multi.as_mut() {
            q.push(args.to_vec());
            // CLIENT LIST's multi=<queued commands>.
            ctx.client
                .info
                .multi
                .store(q.len() as i64, std::sync::atomic::Ordering::Relaxed);
        }
        ctx.out.simple("QUEUED");
        return;
    }
    let mark = ctx.out.buf.len();
    crate::store::take_read_error();
    run(ctx, cmd, args);
    if let Some(e) = crate::store::take_read_error() {
        // Never an answer (or a write) built on a failed read.
        ctx.out.buf.truncate(mark);
        ctx.out.error(&format!("ERR storage read failed: {e}"));
        if let Some(tx) = ctx.tx.as_mut() {
            tx.discard_record();
        }
    }
    if !ctx.in_exec {
        if let Err(e) = ctx.commit() {
            ctx.out.buf.truncate(mark);
            ctx.out.error(&format!("ERR {e}"));
        }
    }
}

pub(crate) const MASTERDOWN: &str =
    "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.";

/// A replica whose link is down and that does not serve stale data.
pub(crate) fn serves_no_stale_data(ctx: &Ctx<'_>) -> bool {
    ctx.repl().is_replica()
        && !ctx
            .repl()
            .link
            .up
            .load(std::sync::atomic::Ordering::Acquire)
        && !ctx.config().replica_serve_stale_data
}

/// What a client may run while a script is busy (Redis's `allow_busy`).
fn allowed_when_busy(name: &str, args: &[Bytes]) -> bool {
    match name {
        "auth" | "hello" | "multi" | "discard" | "watch" | "unwatch" | "shutdown" => true,
        "script" => args.get(1).is_some_and(|s| crate::util::eq_ic(s, "kill")),
        "function" => args
            .get(1)
            .is_some_and(|s| crate::util::eq_ic(s, "kill") || crate::util::eq_ic(s, "stats")),
        _ => false,
    }
}

/// A replica left answering LOADING by a failed full sync still takes
/// REPLICAOF, also while it tries again: its master may be gone for good.
fn after_failed_sync(ctx: &Ctx<'_>, cmd: &Command) -> bool {
    matches!(cmd.name, "replicaof" | "slaveof") && ctx.store().incomplete()
}

/// Redis's MISCONF: while the WAL cannot be written, a master refuses
/// writes, and PING (as Redis does, so monitoring notices); reads go on. The
/// link from our master is exempt: a replica's stream waits on its own.
///
/// sled stuck on an I/O error is the same for writes once the write buffer
/// is full: they could only wait for it, holding the client (the WAL has
/// every acknowledged write; the applier reopens sled when it can).
fn disk_error(ctx: &Ctx<'_>, cmd: &Command) -> Option<String> {
    if ctx.client.is_master || ctx.repl().is_replica() {
        return None;
    }
    let store = ctx.store();
    let wal = &store.wal;
    if wal.write_failed() {
        if cmd.flags & flags::WRITE == 0 && cmd.name != "ping" {
            return None;
        }
        return Some(format!(
            "MISCONF Errors writing to the WAL: {}. Writes are refused until it can be written again (see the log)",
            wal.write_error().unwrap_or_else(|| "unknown error".into())
        ));
    }
    if cmd.flags & flags::WRITE != 0 && store.write_full() {
        if let Some(e) = store.sled_io_error() {
            return Some(format!(
                "MISCONF Errors writing to sled: {e}. The write buffer is full; writes are refused until sled can be written again (see the log)"
            ));
        }
    }
    None
}

/// The handler call shared by dispatch and EXEC.
pub(crate) fn run(ctx: &mut Ctx<'_>, cmd: &Command, args: &[Bytes]) {
    // Dispatch checked this before queueing; EXEC checks again, as the
    // WAL may have failed since.
    if ctx.in_exec {
        if let Some(msg) = disk_error(ctx, cmd) {
            ctx.rejected(stat_slot(cmd, args));
            ctx.out.error(&msg);
            return;
        }
    }
    if cmd.flags & flags::WRITE != 0 && ctx.read_only_replica() && !ctx.client.is_master {
        ctx.rejected(stat_slot(cmd, args));
        ctx.out
            .error("READONLY You can't write against a read only replica.");
        return;
    }
    // EXEC decided for its whole transaction.
    if cmd.flags & flags::WRITE != 0 && !ctx.in_exec && !enough_good_replicas(ctx) {
        ctx.rejected(stat_slot(cmd, args));
        ctx.out.error(NOREPLICAS);
        return;
    }
    if ctx.store().notify.wants(crate::notify::KEY_MISS) {
        key_misses(ctx, cmd, args);
    }
    // MONITOR sees what ran, after it ran (SELECT shows its new db); a
    // script before its own commands, as Redis feeds them.
    let monitored = cmd.flags & flags::ADMIN == 0 && ctx.pubsub().monitors.active();
    let first = monitored && scripting::runs_a_script(args);
    if first {
        feed_monitors(ctx, args);
    }
    let tracking = ctx.client.tracking.on;
    let script = tracking && !ctx.in_script && scripting::runs_a_script(args);
    let was_read = script && std::mem::take(&mut ctx.script_read);
    ctx.call(cmd, args);
    if tracking {
        if script {
            if std::mem::replace(&mut ctx.script_read, was_read) {
                remember_keys(ctx, cmd, args);
            }
        } else if cmd.flags & flags::READONLY != 0 {
            if ctx.in_script {
                ctx.script_read = true;
            } else if !matches!(cmd.name, "eval_ro" | "evalsha_ro" | "fcall_ro") {
                remember_keys(ctx, cmd, args);
            }
        }
    }
    if monitored && !first {
        feed_monitors(ctx, args);
    }
}

/// Client-side caching's default mode: the keys a read-only command read
/// (a script's declared keys for the reads its commands made) are
/// remembered for the client, unless OPTIN/OPTOUT says otherwise for this
/// command (Redis's `trackingRememberKeys`).
fn remember_keys(ctx: &mut Ctx<'_>, cmd: &Command, args: &[Bytes]) {
    if !ctx.client.tracking.remembers() {
        return;
    }
    let keys = cmd.key_indexes(args);
    if keys.is_empty() {
        return;
    }
    let db = ctx.client.db;
    let (now, later): (Vec<usize>, Vec<usize>) = keys
        .into_iter()
        .partition(|&i| !ctx.tx.as_ref().is_some_and(|tx| tx.wrote(db, &args[i])));
    for i in later {
        ctx.client.tracking.after_commit.push(args[i].clone());
    }
    let (t, route) = ctx.tracking();
    t.remember(ctx.client.id, now.iter().map(|&i| &args[i]), &route);
}

fn feed_monitors(ctx: &mut Ctx<'_>, args: &[Bytes]) {
    let from = if ctx.in_script {
        "lua".to_string()
    } else {
        ctx.client.info.addr.to_string()
    };
    ctx.pubsub().feed_monitors(ctx.client.db, &from, args);
}

/// The `commandstats` slot of a call: the command's, or its subcommand's.
pub(crate) fn stat_slot(cmd: &Command, args: &[Bytes]) -> usize {
    if cmd.subs.is_empty() {
        return cmd.slot;
    }
    args.get(1)
        .and_then(|a| cmd.subs.iter().position(|s| crate::util::eq_ic(a, s.0)))
        .map_or(cmd.slot, |i| cmd.slot + 1 + i)
}

/// `keymiss` for each key the command reads that is not there, before it
/// runs (Redis sends it from `lookupKeyRead`, which read-only commands use
/// for every key, and a few writes for their sources). Only when `m` is
/// on: it costs a lookup per key.
fn key_misses(ctx: &mut Ctx<'_>, cmd: &Command, args: &[Bytes]) {
    let keys = cmd.key_indexes(args);
    let read: &[usize] = match cmd.name {
        "object" => &[],
        _ if cmd.flags & flags::READONLY != 0 => &keys,
        "getdel" | "getex" | "pfmerge" => &keys,
        // The source, not the STORE destination.
        "sort" => keys.get(..1).unwrap_or(&[]),
        "sinterstore" | "sunionstore" | "sdiffstore" | "zinterstore" | "zunionstore"
        | "zdiffstore" | "zrangestore" | "bitop" => keys.get(1..).unwrap_or(&[]),
        _ => &[],
    };
    let db = ctx.db();
    for &i in read {
        if ctx.get(db, &args[i]).is_none() {
            ctx.keymiss(&args[i]);
        }
    }
}

pub(crate) const NOREPLICAS: &str = "NOREPLICAS Not enough good replicas to write.";

/// `min-replicas-to-write` / `min-replicas-max-lag`: a master refuses
/// writes unless enough replicas acknowledged within the lag. Under
/// `sync-replicas N` it also refuses them, before anything is applied,
/// while fewer than N replicas are online (and within the lag, if one is
/// set): such a write could only time out after being applied.
pub(crate) fn enough_good_replicas(ctx: &Ctx<'_>) -> bool {
    let (need, max_lag, sync) = {
        let c = ctx.config();
        (
            c.min_replicas_to_write as usize,
            c.min_replicas_max_lag as i64,
            c.sync_replicas as usize,
        )
    };
    if (need == 0 || max_lag == 0) && sync == 0 || ctx.repl().is_replica() {
        return true;
    }
    let now = crate::util::now_ms();
    let (mut online, mut good) = (0, 0);
    for r in ctx.repl().replicas.lock().values() {
        if r.state == "online" {
            online += 1;
            if max_lag == 0 || (now - r.last_ack_ms) / 1000 <= max_lag {
                good += 1;
            }
        }
    }
    let lagging_ok = need == 0 || max_lag == 0 || good >= need;
    lagging_ok && (sync == 0 || good >= sync && online >= sync)
}

/// Parses an integer argument, answering Redis's error if it is not one.
pub(crate) fn int_arg(ctx: &mut Ctx<'_>, a: &[u8]) -> Option<i64> {
    match crate::util::parse_i64(a) {
        Some(v) => Some(v),
        None => {
            ctx.not_int();
            None
        }
    }
}

/// A command on the node itself (they have no keys and are all in group
/// "server"): its handler also gets the [`Server`].
pub(crate) fn node_cmd(
    name: &'static str,
    arity: i32,
    flags: u32,
    summary: &'static str,
    handler: fn(&mut Ctx<'_>, &Server, &[Bytes]),
) -> Command {
    let none = (0, 0, 0);
    Command {
        handler: Handler::Node(handler),
        // A placeholder, replaced here.
        ..cmd(name, arity, flags, none, "server", summary, |_, _| {})
    }
}

/// A command row whose handler gets its [`Ctx`].
pub(crate) fn cmd(
    name: &'static str,
    arity: i32,
    flags: u32,
    keys: (i32, i32, i32),
    group: &'static str,
    summary: &'static str,
    handler: fn(&mut Ctx<'_>, &[Bytes]),
) -> Command {
    Command {
        name,
        arity,
        flags,
        first_key: keys.0,
        last_key: keys.1,
        step: keys.2,
        group,
        summary,
        since: "1.0.0",
        handler: Handler::Plain(handler),
        numkeys_at: 0,
        syntax: "",
        subs: &[],
        keys_fn: None,
        slot: 0,
        touches: false,
    }
}
