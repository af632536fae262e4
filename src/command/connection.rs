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
            ("tracking", "client|tracking", -3),
            ("trackinginfo", "client|trackinginfo", 2),
            ("caching", "client|caching", 3),
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
        let redir = ctx.client.info.redir.load(Ordering::Relaxed);
        return ctx.out.int(redir);
    }
    if a.len() >= 3 && eq_ic(&a[1], "tracking") {
        return tracking(ctx, a);
    }
    if a.len() == 3 && eq_ic(&a[1], "caching") {
        return caching(ctx, &a[2]);
    }
    if a.len() == 2 && eq_ic(&a[1], "trackinginfo") {
        return tracking_info(ctx);
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

/// CLIENT TRACKING ON|OFF [REDIRECT id] [BCAST] [PREFIX p ...] [OPTIN]
/// [OPTOUT] [NOLOOP], with Redis 7.0's checks in its order (networking.c).
fn tracking(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    use crate::client::tracking::{self as t, Options};
    let mut o = Options::default();
    let mut prefixes: Vec<Bytes> = Vec::new();
    let mut j = 3;
    while j < a.len() {
        let more = j + 1 < a.len();
        let opt = &a[j];
        if eq_ic(opt, "redirect") && more {
            j += 1;
            if o.redirect != 0 {
                return ctx.err("ERR A client can only redirect to a single other client");
            }
            let Some(id) = int_arg(ctx, &a[j]) else {
                return;
            };
            // The target must exist now, though it may go away later.
            match u64::try_from(id)
                .ok()
                .filter(|&id| ctx.clients().get(id).is_some())
            {
                Some(id) => o.redirect = id,
                None => return ctx.err("ERR The client ID you want redirect to does not exist"),
            }
        } else if eq_ic(opt, "bcast") {
            o.bcast = true;
        } else if eq_ic(opt, "optin") {
            o.optin = true;
        } else if eq_ic(opt, "optout") {
            o.optout = true;
        } else if eq_ic(opt, "noloop") {
            o.noloop = true;
        } else if eq_ic(opt, "prefix") && more {
            j += 1;
            prefixes.push(a[j].clone());
        } else {
            return ctx.syntax_err();
        }
        j += 1;
    }
    let id = ctx.client.id;
    let tracking = ctx.tracking().0;
    if eq_ic(&a[2], "on") {
        let cur = &ctx.client.tracking;
        if !o.bcast && !prefixes.is_empty() {
            return ctx.err("ERR PREFIX option requires BCAST mode to be enabled");
        }
        if cur.on && cur.bcast != o.bcast {
            return ctx.err("ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode.");
        }
        if o.bcast && (o.optin || o.optout) {
            return ctx.err("ERR OPTIN and OPTOUT are not compatible with BCAST");
        }
        if o.optin && o.optout {
            return ctx.err("ERR You can't specify both OPTIN mode and OPTOUT mode");
        }
        if (o.optin && cur.optout) || (o.optout && cur.optin) {
            return ctx.err("ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode.");
        }
        // Redis 7.0 answers this error and then +OK too when the overlap
        // is not with the first prefix given (and enables tracking); sledis
        // answers the error only and changes nothing.
        if o.bcast {
            if let Some(e) = tracking.prefix_collision(id, &prefixes) {
                return ctx.err(&e);
            }
        }
        let info = &ctx.client.info;
        info.tracking.store(
            t::ON | if o.bcast { t::BCAST } else { 0 },
            Ordering::Relaxed,
        );
        info.redir.store(o.redirect as i64, Ordering::Relaxed);
        let l = &mut ctx.client.tracking;
        l.on = true;
        l.bcast = o.bcast;
        l.optin = o.optin;
        l.optout = o.optout;
        tracking.enable(id, o, &prefixes);
    } else if eq_ic(&a[2], "off") {
        disable_tracking(ctx);
    } else {
        return ctx.syntax_err();
    }
    ctx.out.ok();
}

/// CLIENT TRACKING OFF, RESET, and the connection's end.
pub(crate) fn disable_tracking(ctx: &mut Ctx<'_>) {
    if ctx.client.tracking.on {
        ctx.tracking().0.disable(ctx.client.id);
    }
    ctx.client.tracking = Default::default();
    ctx.client.info.tracking.store(0, Ordering::Relaxed);
    ctx.client.info.redir.store(-1, Ordering::Relaxed);
}

/// CLIENT CACHING YES|NO: for the next command only (OPTIN / OPTOUT).
fn caching(ctx: &mut Ctx<'_>, opt: &[u8]) {
    let l = &ctx.client.tracking;
    if !l.on {
        return ctx.err("ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled");
    }
    if eq_ic(opt, "yes") {
        if !l.optin {
            return ctx.err(
                "ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.",
            );
        }
    } else if eq_ic(opt, "no") {
        if !l.optout {
            return ctx.err(
                "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.",
            );
        }
    } else {
        return ctx.syntax_err();
    }
    ctx.client.tracking.caching = true;
    ctx.out.ok();
}

/// CLIENT TRACKINGINFO: flags, redirect, prefixes, as Redis 7.0 answers.
fn tracking_info(ctx: &mut Ctx<'_>) {
    let l = &ctx.client.tracking;
    let (broken, redirect, prefixes) = if l.on {
        ctx.tracking().0.info(ctx.client.id).unwrap_or_default()
    } else {
        (false, 0, Vec::new())
    };
    let mut flags = vec![if l.on { "on" } else { "off" }];
    if l.bcast {
        flags.push("bcast");
    }
    if l.optin {
        flags.push("optin");
        if l.caching {
            flags.push("caching-yes");
        }
    }
    if l.optout {
        flags.push("optout");
        if l.caching {
            flags.push("caching-no");
        }
    }
    if l.on && ctx.tracking().0.noloop(ctx.client.id) {
        flags.push("noloop");
    }
    if broken {
        flags.push("broken_redirect");
    }
    let on = l.on;
    let out = &mut *ctx.out;
    out.map(3);
    out.bulk(b"flags");
    out.set(flags.len());
    for f in flags {
        out.bulk(f.as_bytes());
    }
    out.bulk(b"redirect");
    out.int(if on { redirect as i64 } else { -1 });
    out.bulk(b"prefixes");
    out.array(prefixes.len());
    for p in &prefixes {
        out.bulk(p);
    }
}

/// Redis 7.0's CLIENT HELP, plus NO-TOUCH (7.2) and SETINFO.
const CLIENT_HELP: &[&str] = &[
    "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CACHING (YES|NO)",
    "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
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
    "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
    "         [OPTIN] [OPTOUT] [NOLOOP]",
    "    Control server assisted client side caching.",
    "TRACKINGINFO",
    "    Report tracking status for the current connection.",
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
    disable_tracking(ctx);
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
