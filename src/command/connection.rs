//! Connection commands: PING, ECHO, SELECT, AUTH, HELLO, CLIENT, QUIT, RESET.

use super::{cmd, flags::*, int_arg, Action, Command, Ctx};
use crate::util::eq_ic;
use bytes::Bytes;
use std::sync::atomic::Ordering;

pub fn commands() -> Vec<Command> {
    let none = (0, 0, 0);
    vec![
        cmd(
            "ping",
            -1,
            FAST | STALE,
            none,
            "connection",
            "Returns the server's liveliness response.",
            ping,
        ),
        cmd(
            "echo",
            2,
            FAST,
            none,
            "connection",
            "Returns the given string.",
            echo,
        ),
        cmd(
            "select",
            2,
            FAST | LOADING | STALE,
            none,
            "connection",
            "Changes the selected database.",
            select,
        ),
        cmd(
            "auth",
            -2,
            NOAUTH | FAST | STALE,
            none,
            "connection",
            "Authenticates the connection.",
            auth,
        ),
        cmd(
            "hello",
            -1,
            NOAUTH | FAST | STALE,
            none,
            "connection",
            "Handshakes with the Redis server.",
            hello,
        ),
        cmd(
            "client",
            -2,
            ADMIN | STALE,
            none,
            "connection",
            "A container for client connection commands.",
            client,
        ),
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
    if a.len() > 2 {
        return ctx.err("ERR wrong number of arguments for 'ping' command");
    }
    if ctx.client.in_subscribed_context() && !ctx.out.resp3 {
        ctx.out.array(2);
        ctx.out.bulk(b"pong");
        ctx.out.bulk(a.get(1).map_or(&b""[..], |b| &b[..]));
        return;
    }
    match a.get(1) {
        Some(m) => ctx.out.bulk(m),
        None => ctx.out.simple("PONG"),
    }
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

/// Checks a password; "default" is the only user.
fn check_auth(ctx: &mut Ctx<'_>, user: Option<&[u8]>, pass: &[u8]) -> bool {
    let required = ctx.srv.config.read().requirepass.clone();
    let user_ok = user.is_none_or(|u| u == b"default");
    let ok = match required {
        Some(p) => user_ok && p.as_bytes() == pass,
        None => user_ok,
    };
    if ok {
        ctx.client.authed = true;
    }
    ok
}

fn auth(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    if a.len() > 3 {
        return ctx.syntax_err();
    }
    if a.len() == 2 && ctx.srv.config.read().requirepass.is_none() {
        return ctx.err(
            "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
        );
    }
    let (user, pass) = if a.len() == 3 {
        (Some(&a[1][..]), &a[2])
    } else {
        (None, &a[1])
    };
    if check_auth(ctx, user, pass) {
        ctx.out.ok();
    } else {
        ctx.err("WRONGPASS invalid username-password pair or user is disabled.");
    }
}

fn hello(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let mut proto = if ctx.out.resp3 { 3 } else { 2 };
    let mut i = 1;
    if a.len() > 1 {
        let Some(v) = crate::util::parse_i64(&a[1]) else {
            return ctx.err("ERR Protocol version is not an integer or out of range");
        };
        if !(2..=3).contains(&v) {
            return ctx.err("NOPROTO unsupported protocol version");
        }
        proto = v;
        i = 2;
    }
    let mut name = None;
    while i < a.len() {
        if eq_ic(&a[i], "auth") && i + 2 < a.len() {
            if !check_auth(ctx, Some(&a[i + 1]), &a[i + 2].clone()) {
                return ctx.err("WRONGPASS invalid username-password pair or user is disabled.");
            }
            i += 3;
        } else if eq_ic(&a[i], "setname") && i + 1 < a.len() {
            name = Some(a[i + 1].clone());
            i += 2;
        } else {
            return ctx.err(&format!(
                "ERR Syntax error in HELLO option '{}'",
                String::from_utf8_lossy(&a[i])
            ));
        }
    }
    if !ctx.client.authed {
        return ctx.err("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time");
    }
    if let Some(n) = name {
        if !valid_name(&n) {
            return ctx
                .err("ERR Client names cannot contain spaces, newlines or special characters.");
        }
        *ctx.client.info.name.lock() = Some(String::from_utf8_lossy(&n).into_owned());
    }
    ctx.out.resp3 = proto == 3;
    ctx.client
        .info
        .resp
        .store(proto as usize, Ordering::Relaxed);
    let role = if ctx.srv.is_read_only_replica() {
        "replica"
    } else {
        "master"
    };
    ctx.out.map(7);
    ctx.out.bulk(b"server");
    ctx.out.bulk(b"redis");
    ctx.out.bulk(b"version");
    ctx.out.bulk(crate::REDIS_VERSION.as_bytes());
    ctx.out.bulk(b"proto");
    ctx.out.int(proto);
    ctx.out.bulk(b"id");
    ctx.out.int(ctx.client.id as i64);
    ctx.out.bulk(b"mode");
    ctx.out.bulk(b"standalone");
    ctx.out.bulk(b"role");
    ctx.out.bulk(role.as_bytes());
    ctx.out.bulk(b"modules");
    ctx.out.array(0);
}

fn valid_name(n: &[u8]) -> bool {
    n.iter().all(|&c| (b'!'..=b'~').contains(&c))
}

fn client(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let sub = String::from_utf8_lossy(&a[1]).to_ascii_lowercase();
    match (sub.as_str(), a.len()) {
        ("id", 2) => ctx.out.int(ctx.client.id as i64),
        ("getname", 2) => {
            let n = ctx.client.info.name.lock().clone();
            ctx.out.bulk_opt(n.as_deref().map(str::as_bytes));
        }
        ("setname", 3) => {
            if !valid_name(&a[2]) {
                return ctx.err(
                    "ERR Client names cannot contain spaces, newlines or special characters.",
                );
            }
            let n = if a[2].is_empty() {
                None
            } else {
                Some(String::from_utf8_lossy(&a[2]).into_owned())
            };
            *ctx.client.info.name.lock() = n;
            ctx.out.ok();
        }
        ("setinfo", 4) => {
            let v = Some(String::from_utf8_lossy(&a[3]).into_owned());
            if eq_ic(&a[2], "lib-name") {
                *ctx.client.info.lib_name.lock() = v;
            } else if eq_ic(&a[2], "lib-ver") {
                *ctx.client.info.lib_ver.lock() = v;
            } else {
                return ctx.err(&format!(
                    "ERR Unrecognized option '{}'",
                    String::from_utf8_lossy(&a[2])
                ));
            }
            ctx.out.ok();
        }
        ("info", 2) => {
            let line = ctx.client.info.describe(ctx.now) + "\n";
            ctx.out.verbatim(&line);
        }
        ("no-evict", 3) => {
            if eq_ic(&a[2], "on") || eq_ic(&a[2], "off") {
                ctx.out.ok();
            } else {
                ctx.syntax_err();
            }
        }
        ("getredir", 2) => ctx.out.int(-1),
        ("unblock", 3 | 4) => {
            if a.len() == 4 && !eq_ic(&a[3], "timeout") && !eq_ic(&a[3], "error") {
                return ctx.err("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR");
            }
            if let Some(id) = int_arg(ctx, &a[2]) {
                let reason = if a.len() == 4 && eq_ic(&a[3], "error") {
                    crate::store::ready::why::ERROR
                } else {
                    crate::store::ready::why::TIMEOUT
                };
                let done =
                    u64::try_from(id).is_ok_and(|id| ctx.srv.store.ready.unblock(id, reason));
                ctx.out.int(done as i64);
            }
        }
        ("list", _) => client_list(ctx, a),
        ("kill", _) => client_kill(ctx, a),
        ("help", 2) => {
            let lines = [
                "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "ID",
                "GETNAME",
                "SETNAME <name>",
                "SETINFO <option> <value>",
                "INFO",
                "LIST [TYPE normal|master|replica|pubsub] [ID id ...]",
                "KILL <ip:port> | KILL <option> <value> [...]",
                "HELP",
            ];
            ctx.help(&lines);
        }
        _ => ctx.err(&format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try CLIENT HELP.",
            String::from_utf8_lossy(&a[1])
        )),
    }
}

/// `slave` is the old name of `replica`.
fn normal_type(k: &str) -> String {
    match k.to_ascii_lowercase().as_str() {
        "slave" => "replica".to_string(),
        other => other.to_string(),
    }
}

fn client_list(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    // Redis 7.0 takes one filter: TYPE t, or ID id [id ...].
    let mut ids: Option<Vec<i64>> = None;
    let mut kind: Option<String> = None;
    if a.len() == 4 && eq_ic(&a[2], "type") {
        let k = String::from_utf8_lossy(&a[3]).into_owned();
        if !["normal", "master", "replica", "slave", "pubsub"]
            .contains(&k.to_ascii_lowercase().as_str())
        {
            return ctx.err(&format!("ERR Unknown client type '{k}'"));
        }
        kind = Some(normal_type(&k));
    } else if a.len() > 3 && eq_ic(&a[2], "id") {
        let mut v = Vec::new();
        for x in &a[3..] {
            match crate::util::parse_i64(x) {
                Some(n) => v.push(n),
                None => return ctx.err("ERR Invalid client ID"),
            }
        }
        ids = Some(v);
    } else if a.len() != 2 {
        return ctx.syntax_err();
    }
    if let Some(ids) = ids {
        // In the order asked, as Redis lists them.
        let mut text = String::new();
        for id in ids {
            if let Some(c) = u64::try_from(id)
                .ok()
                .and_then(|id| ctx.srv.clients.get(id))
            {
                text.push_str(&c.describe(ctx.now));
                text.push('\n');
            }
        }
        return ctx.out.verbatim(&text);
    }
    let mut text = String::new();
    for c in ctx.srv.clients.all() {
        if kind.as_ref().is_some_and(|k| k != c.client_type()) {
            continue;
        }
        text.push_str(&c.describe(ctx.now));
        text.push('\n');
    }
    ctx.out.verbatim(&text);
}

fn client_kill(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    if a.len() == 3 {
        let target = String::from_utf8_lossy(&a[2]).into_owned();
        for c in ctx.srv.clients.all() {
            if c.addr.to_string() == target {
                c.kill();
                if c.id == ctx.client.id {
                    ctx.action = Some(Action::Close);
                }
                return ctx.out.ok();
            }
        }
        return ctx.err("ERR No such client");
    }
    if !a.len().is_multiple_of(2) {
        return ctx.syntax_err();
    }
    let mut id = None;
    let mut kind = None;
    let mut addr = None;
    let mut laddr = None;
    let mut skipme = true;
    for pair in a[2..].chunks(2) {
        let v = String::from_utf8_lossy(&pair[1]).into_owned();
        if eq_ic(&pair[0], "id") {
            match crate::util::parse_i64(&pair[1]) {
                Some(n) if n > 0 => id = Some(n as u64),
                _ => return ctx.err("ERR client-id should be greater than 0"),
            }
        } else if eq_ic(&pair[0], "type") {
            let k = v.to_ascii_lowercase();
            if !["normal", "master", "replica", "slave", "pubsub"].contains(&k.as_str()) {
                return ctx.err(&format!("ERR Unknown client type '{v}'"));
            }
            kind = Some(normal_type(&k));
        } else if eq_ic(&pair[0], "addr") {
            addr = Some(v);
        } else if eq_ic(&pair[0], "laddr") {
            laddr = Some(v);
        } else if eq_ic(&pair[0], "skipme") {
            skipme = match v.to_ascii_lowercase().as_str() {
                "yes" => true,
                "no" => false,
                _ => return ctx.syntax_err(),
            };
        } else if eq_ic(&pair[0], "user") {
            // The only user is "default": it matches every client.
            if &pair[1][..] != b"default" {
                return ctx.err(&format!("ERR No such user '{v}'"));
            }
        } else {
            return ctx.syntax_err();
        }
    }
    let mut n = 0;
    for c in ctx.srv.clients.all() {
        if skipme && c.id == ctx.client.id {
            continue;
        }
        if id.is_some_and(|i| i != c.id) {
            continue;
        }
        if addr.as_ref().is_some_and(|x| *x != c.addr.to_string())
            || laddr.as_ref().is_some_and(|x| *x != c.laddr.to_string())
        {
            continue;
        }
        if kind.as_ref().is_some_and(|k| k != c.client_type()) {
            continue;
        }
        c.kill();
        if c.id == ctx.client.id {
            ctx.action = Some(Action::Close);
        }
        n += 1;
    }
    ctx.out.int(n);
}

fn quit(ctx: &mut Ctx<'_>, _a: &[Bytes]) {
    ctx.out.ok();
    ctx.action = Some(Action::Close);
}

fn reset(ctx: &mut Ctx<'_>, _a: &[Bytes]) {
    super::multi::discard_state(ctx);
    super::multi::unwatch_all(ctx.srv, ctx.client);
    super::pubsub::unsubscribe_all(ctx.srv, ctx.client);
    ctx.client.set_db(0);
    ctx.out.resp3 = false;
    ctx.client.info.resp.store(2, Ordering::Relaxed);
    *ctx.client.info.name.lock() = None;
    ctx.client.authed = ctx.srv.config.read().requirepass.is_none();
    ctx.out.simple("RESET");
}
