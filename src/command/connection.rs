//! Connection commands: PING, ECHO, SELECT, AUTH, HELLO, CLIENT, QUIT, RESET.

use super::{cmd, flags::*, int_arg, Action, Command, Ctx};
use crate::client::commands::{self, After, Conn};
use crate::resp::Out;
use crate::util::eq_ic;
use bytes::Bytes;
use std::sync::atomic::Ordering;

pub(crate) fn commands() -> Vec<Command> {
    let none = (0, 0, 0);
    vec![
        cmd(
            "ping",
            -1,
            FAST | STALE | SENTINEL,
            none,
            "connection",
            "Returns the server's liveliness response.",
            ping,
        )
        .syntax("[message]"),
        cmd(
            "echo",
            2,
            FAST,
            none,
            "connection",
            "Returns the given string.",
            echo,
        )
        .syntax("message"),
        cmd(
            "select",
            2,
            FAST | LOADING | STALE,
            none,
            "connection",
            "Changes the selected database.",
            select,
        )
        .syntax("index"),
        cmd(
            "auth",
            -2,
            NOAUTH | FAST | STALE | SENTINEL,
            none,
            "connection",
            "Authenticates the connection.",
            auth,
        )
        .syntax("[username] password"),
        cmd(
            "hello",
            -1,
            NOAUTH | FAST | STALE | SENTINEL,
            none,
            "connection",
            "Handshakes with the Redis server.",
            hello,
        )
        .syntax("[protover [AUTH username password] [SETNAME clientname]]"),
        cmd(
            "client",
            -2,
            ADMIN | STALE | SENTINEL,
            none,
            "connection",
            "A container for client connection commands.",
            client,
        )
        .syntax("subcommand [argument ...]")
        .subs(&[
            ("id", "client|id", 2),
            ("getname", "client|getname", 2),
            ("setname", "client|setname", 3),
            ("setinfo", "client|setinfo", 4),
            ("info", "client|info", 2),
            ("list", "client|list", -2),
            ("kill", "client|kill", -3),
            ("no-evict", "client|no-evict", 3),
            ("no-touch", "client|no-touch", 3),
            ("pause", "client|pause", -3),
            ("unpause", "client|unpause", 2),
            ("reply", "client|reply", 3),
            ("getredir", "client|getredir", 2),
            ("unblock", "client|unblock", -3),
            ("help", "client|help", 2),
        ]),
        cmd(
            "quit",
            -1,
            NOAUTH | NOQUEUE | FAST | STALE,
            none,
            "connection",
            "Closes the connection.",
            quit,
        ),
        cmd(
            "reset",
            1,
            NOAUTH | NOQUEUE | FAST | STALE,
            none,
            "connection",
            "Resets the connection.",
            reset,
        ),
    ]
}

fn ping(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    commands::ping(ctx.client.in_subscribed_context(), ctx.out, a);
}

fn echo(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    ctx.out.bulk(&a[1]);
}

fn select(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let Some(n) = super::keys::db_index(ctx, &a[1]) else {
        return;
    };
    ctx.client.set_db(n);
    ctx.out.ok();
}

/// The shared connection commands' view of this connection.
fn with_conn<R>(ctx: &mut Ctx<'_>, f: impl FnOnce(&mut Conn<'_>, &mut Out) -> R) -> R {
    let password = ctx.config().requirepass.clone();
    let clients = ctx.clients();
    let client = &mut *ctx.client;
    let mut conn = Conn {
        info: &client.info,
        authed: &mut client.authed,
        clients,
        password,
        now: ctx.now,
    };
    f(&mut conn, ctx.out)
}

fn auth(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    with_conn(ctx, |c, out| commands::auth(c, out, a));
}

fn hello(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let role = if ctx.read_only_replica() {
        "replica"
    } else {
        "master"
    };
    with_conn(ctx, |c, out| commands::hello(c, out, a, "standalone", role));
}

fn client(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    // A node's own subcommands first, then those a sentinel has too.
    if a.len() == 3 && (eq_ic(&a[1], "no-evict") || eq_ic(&a[1], "no-touch")) {
        let on = if eq_ic(&a[2], "on") {
            true
        } else if eq_ic(&a[2], "off") {
            false
        } else {
            return ctx.syntax_err();
        };
        // sledis evicts no client and tracks no access time: the flags are
        // kept and shown (CLIENT LIST's e and T) for the tools that set them.
        let flag = if eq_ic(&a[1], "no-evict") {
            &ctx.client.info.no_evict
        } else {
            &ctx.client.info.no_touch
        };
        flag.store(on, Ordering::Relaxed);
        return ctx.out.ok();
    }
    if a.len() == 3 && eq_ic(&a[1], "reply") {
        use crate::server::client::Reply;
        if eq_ic(&a[2], "on") {
            ctx.client.reply = Reply::On;
            ctx.out.ok();
        } else if eq_ic(&a[2], "off") {
            ctx.client.reply = Reply::Off;
        } else if eq_ic(&a[2], "skip") {
            if ctx.client.reply != Reply::Off {
                ctx.client.reply = Reply::Skip;
            }
        } else {
            ctx.syntax_err();
        }
        return;
    }
    if eq_ic(&a[1], "pause") && (a.len() == 3 || a.len() == 4) {
        use crate::server::pause::Mode;
        let Some(ms) = crate::util::parse_i64(&a[2]) else {
            return ctx.err("ERR timeout is not an integer or out of range");
        };
        if ms < 0 {
            return ctx.err("ERR timeout is negative");
        }
        let mode = match a.get(3) {
            None => Mode::All,
            Some(m) if eq_ic(m, "write") => Mode::Write,
            Some(m) if eq_ic(m, "all") => Mode::All,
            Some(_) => return ctx.err("ERR CLIENT PAUSE mode must be WRITE or ALL"),
        };
        ctx.pause()
            .pause(mode, ctx.now.saturating_add(ms), crate::util::now_ms());
        return ctx.out.ok();
    }
    if a.len() == 2 && eq_ic(&a[1], "unpause") {
        ctx.pause().unpause();
        return ctx.out.ok();
    }
    if a.len() == 2 && eq_ic(&a[1], "help") {
        return ctx.help(CLIENT_HELP);
    }
    if a.len() == 2 && eq_ic(&a[1], "getredir") {
        return ctx.out.int(-1);
    }
    if (a.len() == 3 || a.len() == 4) && eq_ic(&a[1], "unblock") {
        if a.len() == 4 && !eq_ic(&a[3], "timeout") && !eq_ic(&a[3], "error") {
            return ctx.err("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR");
        }
        if let Some(id) = int_arg(ctx, &a[2]) {
            let reason = if a.len() == 4 && eq_ic(&a[3], "error") {
                crate::store::ready::why::ERROR
            } else {
                crate::store::ready::why::TIMEOUT
            };
            let done = u64::try_from(id).is_ok_and(|id| ctx.store().ready.unblock(id, reason));
            ctx.out.int(done as i64);
        }
        return;
    }
    match with_conn(ctx, |c, out| commands::client(c, out, a)) {
        Some(After::Close) => ctx.action = Some(Action::Close),
        Some(After::Continue) => {}
        None => commands::unknown_client_subcommand(ctx.out, a),
    }
}

/// Redis 7.0's CLIENT HELP, less what sledis lacks (CACHING, TRACKING,
/// TRACKINGINFO), plus NO-TOUCH (7.2) and SETINFO.
const CLIENT_HELP: &[&str] = &[
    "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GETREDIR",
    "    Return the client ID we are redirecting to when tracking is enabled.",
    "GETNAME",
    "    Return the name of the current connection.",
    "ID",
    "    Return the ID of the current connection.",
    "INFO",
    "    Return information about the current client connection.",
    "KILL <ip:port>",
    "    Kill connection made from <ip:port>.",
    "KILL <option> <value> [<option> <value> [...]]",
    "    Kill connections. Options are:",
    "    * ADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made from the specified address",
    "    * LADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made to specified local address",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Kill connections by type.",
    "    * USER <username>",
    "      Kill connections authenticated by <username>.",
    "    * SKIPME (YES|NO)",
    "      Skip killing current connection (default: yes).",
    "LIST [options ...]",
    "    Return information about client connections. Options:",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Return clients of specified type.",
    "UNPAUSE",
    "    Stop the current client pause, resuming traffic.",
    "PAUSE <timeout> [WRITE|ALL]",
    "    Suspend all, or just write, clients for <timeout> milliseconds.",
    "REPLY (ON|OFF|SKIP)",
    "    Control the replies sent to the current connection.",
    "SETNAME <name>",
    "    Assign the name <name> to the current connection.",
    "SETINFO <option> <value>",
    "    Set client meta attr. Options are:",
    "    * LIB-NAME: the client lib name.",
    "    * LIB-VER: the client lib version.",
    "UNBLOCK <clientid> [TIMEOUT|ERROR]",
    "    Unblock the specified blocked client.",
    "NO-EVICT (ON|OFF)",
    "    Protect current client connection from eviction.",
    "NO-TOUCH (ON|OFF)",
    "    Will not touch LRU/LFU stats when this mode is on.",
    "HELP",
    "    Prints this help.",
];

fn quit(ctx: &mut Ctx<'_>, _a: &[Bytes]) {
    ctx.out.ok();
    ctx.action = Some(Action::Close);
}

fn reset(ctx: &mut Ctx<'_>, _a: &[Bytes]) {
    super::multi::discard_state(ctx);
    super::multi::unwatch_all(ctx.store(), ctx.client);
    super::pubsub::unsubscribe_all(ctx.pubsub(), ctx.client);
    if std::mem::take(&mut ctx.client.monitor) {
        ctx.pubsub().monitors.remove(ctx.client.id);
    }
    ctx.client.set_db(0);
    ctx.out.resp3 = false;
    ctx.client.info.resp.store(2, Ordering::Relaxed);
    *ctx.client.info.name.lock() = None;
    ctx.client.authed = ctx.config().requirepass.is_none();
    ctx.out.simple("RESET");
}
