//! The command table (name, arity, flags, handler) and dispatch: the checks
//! Redis makes before running a command (arity, auth, pub/sub context,
//! MULTI queueing, read-only replica), then the handler, then the commit of
//! whatever it wrote.

pub mod connection;
pub mod docs;
pub mod keys;
pub mod multi;
pub mod pubsub;
pub mod server;
pub mod string;

use crate::resp::Out;
use crate::server::client::Client;
use crate::server::Server;
use crate::store::keys::Meta;
use crate::store::WriteTx;
use bytes::Bytes;
use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::Duration;

pub type Handler = fn(&mut Ctx<'_>, &[Bytes]);

pub mod flags {
    /// Changes data: refused on read-only replicas, committed after running.
    pub const WRITE: u32 = 1;
    pub const READONLY: u32 = 1 << 1;
    pub const ADMIN: u32 = 1 << 2;
    /// Allowed in a RESP2 subscribed context.
    pub const PUBSUB: u32 = 1 << 3;
    /// Allowed before AUTH.
    pub const NOAUTH: u32 = 1 << 4;
    /// Runs immediately even inside MULTI (MULTI, EXEC, DISCARD, WATCH...).
    pub const NOQUEUE: u32 = 1 << 5;
    pub const FAST: u32 = 1 << 6;
    /// Answers while a replica's data is stale.
    pub const STALE: u32 = 1 << 7;
    pub const LOADING: u32 = 1 << 8;
    pub const NOSCRIPT: u32 = 1 << 9;
}

pub struct Command {
    pub name: &'static str,
    /// Redis convention: N means exactly N arguments (the name included), -N
    /// at least N.
    pub arity: i32,
    pub flags: u32,
    pub first_key: i32,
    pub last_key: i32,
    pub step: i32,
    pub group: &'static str,
    pub summary: &'static str,
    pub since: &'static str,
    pub handler: Handler,
}

/// Every command, in one place. Each family's file exports its rows.
pub fn table() -> &'static HashMap<&'static str, Command> {
    static TABLE: OnceLock<HashMap<&'static str, Command>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut m = HashMap::new();
        for c in string::commands()
            .into_iter()
            .chain(keys::commands())
            .chain(server::commands())
            .chain(connection::commands())
            .chain(pubsub::commands())
            .chain(multi::commands())
        {
            m.insert(c.name, c);
        }
        m
    })
}

/// Things a handler asks the connection to do after it returns.
pub enum Action {
    Close,
    Shutdown { save: Option<bool> },
    Sleep(Duration),
}

pub struct Ctx<'a> {
    pub srv: &'a Server,
    pub client: &'a mut Client,
    pub out: &'a mut Out,
    pub now: i64,
    /// The open write transaction (one per command, or one for a whole EXEC).
    pub tx: Option<WriteTx<'a>>,
    pub in_exec: bool,
    /// End offset of the last record this connection wrote.
    pub wrote: Option<u64>,
    pub action: Option<Action>,
}

impl<'a> Ctx<'a> {
    pub fn db(&self) -> usize {
        self.client.db
    }

    /// The write transaction, opened on first use.
    pub fn tx(&mut self) -> &mut WriteTx<'a> {
        let srv = self.srv;
        let now = self.now;
        self.tx.get_or_insert_with(|| srv.store.write(now))
    }

    /// Reads see the open transaction's writes, if there is one.
    pub fn get(&mut self, db: usize, key: &[u8]) -> Option<Meta> {
        match self.tx.as_mut() {
            Some(tx) => tx.get(db, key),
            None => self.srv.store.get(db, key, self.now),
        }
    }

    pub fn err(&mut self, msg: &str) {
        self.out.error(msg);
    }

    pub fn syntax_err(&mut self) {
        self.out.error("ERR syntax error");
    }

    pub fn wrongtype(&mut self) {
        self.out
            .error("WRONGTYPE Operation against a key holding the wrong kind of value");
    }

    pub fn not_int(&mut self) {
        self.out
            .error("ERR value is not an integer or out of range");
    }

    pub fn commit(&mut self) {
        if let Some(tx) = self.tx.take() {
            if let Some(end) = tx.commit() {
                self.wrote = Some(end);
            }
        }
    }
}

pub fn lookup(name: &[u8]) -> Option<&'static Command> {
    let mut buf = [0u8; 32];
    if name.len() > buf.len() {
        return None;
    }
    let lower = &mut buf[..name.len()];
    lower.copy_from_slice(name);
    lower.make_ascii_lowercase();
    table().get(std::str::from_utf8(lower).ok()?)
}

pub fn unknown_command_error(args: &[Bytes]) -> String {
    let mut s = format!(
        "ERR unknown command '{}', with args beginning with: ",
        String::from_utf8_lossy(&args[0])
    );
    for a in args.iter().skip(1).take(20) {
        s.push_str(&format!(
            "'{}' ",
            String::from_utf8_lossy(&a[..a.len().min(128)])
        ));
    }
    s
}

pub fn arity_ok(cmd: &Command, n: usize) -> bool {
    let n = n as i32;
    (cmd.arity > 0 && n == cmd.arity) || (cmd.arity < 0 && n >= -cmd.arity)
}

/// Runs one request: Redis's `processCommand` checks, then the handler.
pub fn dispatch(ctx: &mut Ctx<'_>, args: &[Bytes]) {
    let Some(cmd) = lookup(&args[0]) else {
        if ctx.client.multi.is_some() {
            ctx.client.multi_error = true;
        }
        ctx.out.error(&unknown_command_error(args));
        return;
    };
    ctx.client.info.note_command(cmd.name, ctx.now);
    if !arity_ok(cmd, args.len()) {
        if ctx.client.multi.is_some() {
            ctx.client.multi_error = true;
        }
        ctx.out.error(&format!(
            "ERR wrong number of arguments for '{}' command",
            cmd.name
        ));
        return;
    }
    if !ctx.client.authed && cmd.flags & flags::NOAUTH == 0 {
        ctx.out.error("NOAUTH Authentication required.");
        return;
    }
    if ctx.client.in_subscribed_context() && !ctx.out.resp3 && cmd.flags & flags::PUBSUB == 0 {
        ctx.out.error(&format!(
            "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
            cmd.name
        ));
        return;
    }
    if ctx.client.multi.is_some() && cmd.flags & flags::NOQUEUE == 0 {
        if let Some(q) = ctx.client.multi.as_mut() {
            q.push(args.to_vec());
        }
        ctx.out.simple("QUEUED");
        return;
    }
    run(ctx, cmd, args);
    if !ctx.in_exec {
        ctx.commit();
    }
}

/// The handler call shared by dispatch and EXEC.
pub fn run(ctx: &mut Ctx<'_>, cmd: &Command, args: &[Bytes]) {
    if cmd.flags & flags::WRITE != 0 && ctx.srv.is_read_only_replica() && !ctx.client.is_master {
        ctx.out
            .error("READONLY You can't write against a read only replica.");
        return;
    }
    ctx.srv
        .stats
        .commands
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    (cmd.handler)(ctx, args);
}

/// Parses an integer argument, answering Redis's error if it is not one.
pub fn int_arg(ctx: &mut Ctx<'_>, a: &[u8]) -> Option<i64> {
    match crate::util::parse_i64(a) {
        Some(v) => Some(v),
        None => {
            ctx.not_int();
            None
        }
    }
}

pub fn cmd(
    name: &'static str,
    arity: i32,
    flags: u32,
    keys: (i32, i32, i32),
    group: &'static str,
    summary: &'static str,
    handler: Handler,
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
        handler,
    }
}
