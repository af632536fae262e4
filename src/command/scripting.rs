//! EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT (Redis's eval.c). The
//! script runs inside one write transaction, as EXEC does: its commands go
//! through `run` with `in_exec` set, their replies are read back into Lua,
//! and dispatch commits the whole as one WAL record when EVAL returns.

use super::flags::*;
use super::{cmd, lookup, Command, Ctx};
use crate::scripting::lua::{self, Code, Outcome, Reply};
use crate::scripting::{KillError, Scripts};
use crate::util::{eq_ic, parse_i64};
use bytes::Bytes;

pub(crate) fn commands() -> Vec<Command> {
    let none = (0, 0, 0);
    let flags = NOSCRIPT | STALE;
    vec![
        cmd(
            "eval",
            -3,
            flags,
            none,
            "scripting",
            "Executes a server-side Lua script.",
            eval,
        )
        .numkeys_at(2)
        .syntax("script numkeys [key ...] [arg ...]"),
        cmd(
            "evalsha",
            -3,
            flags,
            none,
            "scripting",
            "Executes a server-side Lua script by SHA1 digest.",
            evalsha,
        )
        .numkeys_at(2)
        .syntax("sha1 numkeys [key ...] [arg ...]"),
        cmd(
            "eval_ro",
            -3,
            flags | READONLY,
            none,
            "scripting",
            "Executes a read-only server-side Lua script.",
            eval_ro,
        )
        .numkeys_at(2)
        .syntax("script numkeys [key ...] [arg ...]"),
        cmd(
            "evalsha_ro",
            -3,
            flags | READONLY,
            none,
            "scripting",
            "Executes a read-only server-side Lua script by SHA1 digest.",
            evalsha_ro,
        )
        .numkeys_at(2)
        .syntax("sha1 numkeys [key ...] [arg ...]"),
        cmd(
            "script",
            -2,
            0,
            none,
            "scripting",
            "A container for Lua scripts management commands.",
            script,
        )
        .syntax("subcommand [argument ...]")
        .subs(&[
            ("load", "script|load", 3),
            ("exists", "script|exists", -3),
            ("flush", "script|flush", -2),
            ("kill", "script|kill", 2),
            ("help", "script|help", 2),
        ]),
    ]
}

/// Whether a request runs a script that could run past a few
/// microseconds, and so moves to the blocking pool
/// (`server/connection.rs`): a function (FCALL) always, an EVAL or EVALSHA
/// unless its body is [`crate::scripting::straight_line`]. An unknown
/// SHA or a missing body answers at once, inline.
pub(crate) fn may_run_long(scripts: &Scripts, args: &[Bytes]) -> bool {
    if !runs_a_script(args) {
        return false;
    }
    let Some(body_or_sha) = args.get(1) else {
        return false;
    };
    let name = &args[0];
    if eq_ic(name, "fcall") || eq_ic(name, "fcall_ro") {
        return true;
    }
    if eq_ic(name, "eval") || eq_ic(name, "eval_ro") {
        return !crate::scripting::straight_line(body_or_sha);
    }
    scripts
        .get(body_or_sha)
        .is_some_and(|body| !crate::scripting::straight_line(&body))
}

/// Whether a request runs a script (on a thread of its own, see
/// `server/connection.rs`).
pub(crate) fn runs_a_script(args: &[Bytes]) -> bool {
    [
        "eval",
        "evalsha",
        "eval_ro",
        "evalsha_ro",
        "fcall",
        "fcall_ro",
    ]
    .iter()
    .any(|n| eq_ic(&args[0], n))
}

/// Redis 7.0's `noscript` commands: refused inside a script.
pub(crate) const NOT_IN_SCRIPTS: &[&str] = &[
    "auth",
    "bgrewriteaof",
    "bgsave",
    "blmove",
    "blpop",
    "brpop",
    "brpoplpush",
    "bzpopmax",
    "bzpopmin",
    "debug",
    "discard",
    "eval",
    "eval_ro",
    "evalsha",
    "evalsha_ro",
    "exec",
    "failover",
    "fcall",
    "fcall_ro",
    "hello",
    "monitor",
    "multi",
    "psubscribe",
    "psync",
    "punsubscribe",
    "quit",
    "replconf",
    "replicaof",
    "reset",
    "role",
    "save",
    "shutdown",
    "slaveof",
    "ssubscribe",
    "subscribe",
    "sunsubscribe",
    "sync",
    "unsubscribe",
    "unwatch",
    "wait",
    "watch",
];

fn eval(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    eval_body(ctx, a, false)
}

fn eval_ro(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    eval_body(ctx, a, true)
}

fn evalsha(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    eval_sha(ctx, a, false)
}

fn evalsha_ro(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    eval_sha(ctx, a, true)
}

fn eval_body(ctx: &mut Ctx<'_>, a: &[Bytes], read_only: bool) {
    let Some((keys, argv)) = split_keys(ctx, a) else {
        return;
    };
    let body = a[1].clone();
    let sha = Scripts::sha1_hex(&body);
    if !ctx.scripts().exists(sha.as_bytes()) {
        if let Some(e) = lua::compile_error(&body) {
            return ctx.err(&e);
        }
        ctx.scripts().add(body.clone());
    }
    run_eval(ctx, &sha, &body, keys, argv, read_only);
}

fn eval_sha(ctx: &mut Ctx<'_>, a: &[Bytes], read_only: bool) {
    let Some((keys, argv)) = split_keys(ctx, a) else {
        return;
    };
    let body = match ctx.scripts().get(&a[1]) {
        Some(b) if a[1].len() == 40 => b,
        _ => return ctx.err("NOSCRIPT No matching script. Please use EVAL."),
    };
    let sha = String::from_utf8_lossy(&a[1]).to_ascii_lowercase();
    run_eval(ctx, &sha, &body, keys, argv, read_only);
}

/// KEYS and ARGV from `numkeys key... arg...`.
fn split_keys<'b>(ctx: &mut Ctx<'_>, a: &'b [Bytes]) -> Option<(&'b [Bytes], &'b [Bytes])> {
    let Some(n) = parse_i64(&a[2]) else {
        ctx.not_int();
        return None;
    };
    numkeys(ctx, a, n)
}

/// KEYS and ARGV once `numkeys` (`a[2]`) is read as `n`.
pub(super) fn numkeys<'b>(
    ctx: &mut Ctx<'_>,
    a: &'b [Bytes],
    n: i64,
) -> Option<(&'b [Bytes], &'b [Bytes])> {
    if n < 0 {
        ctx.err("ERR Number of keys can't be negative");
        return None;
    }
    if n as usize > a.len() - 3 {
        ctx.err("ERR Number of keys can't be greater than number of args");
        return None;
    }
    let n = n as usize;
    Some((&a[3..3 + n], &a[3 + n..]))
}

fn run_eval(
    ctx: &mut Ctx<'_>,
    sha: &str,
    body: &[u8],
    keys: &[Bytes],
    argv: &[Bytes],
    ro_command: bool,
) {
    let flags = match crate::scripting::shebang(body) {
        Ok(f) => f,
        Err(e) => return ctx.err(&e),
    };
    run_script(
        ctx,
        Code::Script { sha, body },
        flags,
        None,
        keys,
        argv,
        ro_command,
    );
}

/// Runs a script or a function: `flags` are its shebang's or the
/// function's (None for a script without a shebang), `function` the
/// function's name and command, for FUNCTION STATS.
pub(super) fn run_script(
    ctx: &mut Ctx<'_>,
    code: Code<'_>,
    flags: Option<crate::scripting::Flags>,
    function: Option<(String, Vec<Bytes>)>,
    keys: &[Bytes],
    argv: &[Bytes],
    ro_command: bool,
) {
    // A script with a shebang says whether it writes; one that may is
    // refused up front where writes are (Redis 7's checks before running).
    let read_only = ro_command || flags.is_some_and(|f| f.no_writes);
    if flags.is_some_and(|f| !f.allow_stale) && super::serves_no_stale_data(ctx) {
        return ctx.err(super::MASTERDOWN);
    }
    if flags.is_some_and(|f| !f.no_writes) {
        if ro_command {
            return ctx.err("ERR Can not execute a script with write flag using *_ro command.");
        }
        if ctx.read_only_replica() && !ctx.client.is_master {
            return ctx.err("READONLY You can't write against a read only replica.");
        }
        if !super::enough_good_replicas(ctx) {
            return ctx.err("NOREPLICAS Not enough good replicas to write.");
        }
    }
    let scripts = ctx.scripts();
    let threshold = ctx.config().busy_reply_threshold.max(0) as u64;
    let generation = scripts
        .generation
        .load(std::sync::atomic::Ordering::Acquire);
    // The writer lock for the whole script (it is atomic); a replica's
    // read-only scripts take it too, which only delays its stream briefly.
    ctx.tx();
    let was_in_exec = ctx.in_exec;
    let own_view = ctx.exec.is_none();
    if own_view {
        ctx.exec = Some(super::ExecView::default());
    }
    ctx.in_exec = true;
    let db = ctx.client.db;
    let resp3 = ctx.out.resp3;
    scripts.begin(function);
    let outcome = {
        let mut call = |args: Vec<Bytes>, resp3| script_call(ctx, &args, read_only, resp3);
        let check = || scripts.check(threshold);
        lua::run(generation, code, keys, argv, &mut call, &check)
    };
    scripts.end();
    ctx.out.resp3 = resp3;
    ctx.client.db = db;
    ctx.in_exec = was_in_exec;
    if own_view {
        ctx.exec = None;
    }
    match outcome {
        Outcome::Reply(r) => write_reply(ctx, &r),
        Outcome::Error(e) => ctx.out.error(&e),
    }
}

/// One `redis.call`: Redis's checks for a command from a script, then the
/// command, its reply read back from the output buffer.
fn script_call(ctx: &mut Ctx<'_>, args: &[Bytes], read_only: bool, resp3: bool) -> Reply {
    let err = |m: &str| Reply::Error(m.as_bytes().to_vec());
    let Some(c) = lookup(&args[0]) else {
        return err("ERR Unknown Redis command called from script");
    };
    if !super::arity_ok(c, args.len()) {
        return err("ERR Wrong number of args calling Redis command from script");
    }
    if c.flags & NOSCRIPT != 0 || NOT_IN_SCRIPTS.contains(&c.name) {
        return err("ERR This Redis command is not allowed from script");
    }
    if c.flags & WRITE != 0 {
        if read_only {
            return err("ERR Write commands are not allowed from read-only scripts.");
        }
        ctx.scripts().note_write();
    }
    let at = ctx.out.buf.len();
    ctx.out.resp3 = resp3;
    let db = ctx.db();
    let was = std::mem::replace(&mut ctx.in_script, true);
    super::run(ctx, c, args);
    ctx.in_script = was;
    let failed = ctx.out.buf.get(at) == Some(&b'-');
    if let Some(v) = ctx.exec.as_mut() {
        v.note(c, args, db, failed);
    }
    // Actions (blocking, parking) do not apply inside a script.
    ctx.action = None;
    let r = lua::parse_reply(&ctx.out.buf[at..]);
    ctx.out.buf.truncate(at);
    r
}

/// A script's result, in the client's protocol.
pub(super) fn write_reply(ctx: &mut Ctx<'_>, r: &Reply) {
    match r {
        Reply::Status(s) => ctx.out.simple(&String::from_utf8_lossy(s)),
        Reply::Error(e) => {
            let e = String::from_utf8_lossy(e);
            ctx.out.error(&e)
        }
        Reply::Int(n) => ctx.out.int(*n),
        Reply::Bulk(b) => ctx.out.bulk(b),
        Reply::Nil | Reply::Null => ctx.out.null(),
        Reply::Array(items) => {
            ctx.out.array(items.len());
            for it in items {
                write_reply(ctx, it);
            }
        }
        Reply::Bool(b) => ctx.out.boolean(*b),
        Reply::Double(d) => ctx.out.double(*d),
        Reply::BigNumber(n) => ctx.out.big_number(n),
        Reply::Verbatim(format, text) => ctx.out.verbatim_as(format, text),
        Reply::Map(pairs) => {
            ctx.out.map(pairs.len());
            for (k, v) in pairs {
                write_reply(ctx, k);
                write_reply(ctx, v);
            }
        }
        Reply::Set(items) => {
            ctx.out.set(items.len());
            for it in items {
                write_reply(ctx, it);
            }
        }
    }
}

/// SCRIPT KILL (`function` false) and FUNCTION KILL.
pub(super) fn kill(ctx: &mut Ctx<'_>, function: bool) {
    match ctx.scripts().kill(function) {
        Ok(()) => ctx.out.ok(),
        Err(KillError::NotBusy) => ctx.err("NOTBUSY No scripts in execution right now."),
        Err(KillError::Unkillable) => ctx.err("UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command."),
        Err(KillError::OtherKind(busy)) => ctx.err(busy),
    }
}

fn script(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let sub = &a[1];
    if eq_ic(sub, "load") {
        if let Some(e) = lua::compile_error(&a[2]) {
            return ctx.err(&e);
        }
        let sha = ctx.scripts().add(a[2].clone());
        ctx.out.bulk(sha.as_bytes());
    } else if eq_ic(sub, "exists") {
        ctx.out.array(a.len() - 2);
        for sha in &a[2..] {
            let have = ctx.scripts().exists(sha);
            ctx.out.int(i64::from(have));
        }
    } else if eq_ic(sub, "flush") {
        match a.get(2) {
            None => {}
            Some(m) if a.len() == 3 && (eq_ic(m, "sync") || eq_ic(m, "async")) => {}
            Some(_) => {
                return ctx.err("ERR SCRIPT FLUSH only support SYNC|ASYNC option");
            }
        }
        ctx.scripts().flush();
        ctx.out.ok();
    } else if eq_ic(sub, "kill") {
        kill(ctx, false);
    } else if eq_ic(sub, "help") {
        ctx.help(&[
            "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "EXISTS <sha1> [<sha1> ...]",
            "    Return information about the existence of the scripts in the script cache.",
            "FLUSH [ASYNC|SYNC]",
            "    Flush the Lua scripts cache. Very dangerous on replicas.",
            "    When called without the optional mode argument, the behavior is determined by the",
            "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
            "    * ASYNC: Asynchronously flush the scripts cache.",
            "    * SYNC: Synchronously flush the scripts cache.",
            "KILL",
            "    Kill the currently executing Lua script.",
            "LOAD <script>",
            "    Load a script into the scripts cache without executing it.",
            "HELP",
            "    Prints this help.",
        ]);
    }
}
