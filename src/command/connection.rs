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
    if a.len() == 3 && eq_ic(&a[1], "no-evict") {
        if eq_ic(&a[2], "on") || eq_ic(&a[2], "off") {
            return ctx.out.ok();
        }
        return ctx.syntax_err();
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

fn quit(ctx: &mut Ctx<'_>, _a: &[Bytes]) {
    ctx.out.ok();
    ctx.action = Some(Action::Close);
}

fn reset(ctx: &mut Ctx<'_>, _a: &[Bytes]) {
    super::multi::discard_state(ctx);
    super::multi::unwatch_all(ctx.store(), ctx.client);
    super::pubsub::unsubscribe_all(ctx.pubsub(), ctx.client);
    ctx.client.set_db(0);
    ctx.out.resp3 = false;
    ctx.client.info.resp.store(2, Ordering::Relaxed);
    *ctx.client.info.name.lock() = None;
    ctx.client.authed = ctx.config().requirepass.is_none();
    ctx.out.simple("RESET");
}
