//! The connection commands a node and a sentinel answer alike (Redis runs
//! the same code for both): PING, AUTH, HELLO and CLIENT's common
//! subcommands. Each side keeps its command table and calls these with a
//! [`Conn`] view of its connection.

use super::{ClientInfo, Clients};
use crate::resp::Out;
use crate::util::{eq_ic, parse_i64};
use bytes::Bytes;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// What the connection commands need from a connection and its server.
pub(crate) struct Conn<'a> {
    pub info: &'a Arc<ClientInfo>,
    pub authed: &'a mut bool,
    pub clients: &'a Clients,
    /// `requirepass` (None: every client is in).
    pub password: Option<String>,
    pub now: i64,
}

/// What the connection does after the reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum After {
    Continue,
    /// CLIENT KILL hit the caller itself.
    Close,
}

const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";

/// PING; `subscribed`: the connection has subscriptions.
pub(crate) fn ping(subscribed: bool, out: &mut Out, a: &[Bytes]) {
    if a.len() > 2 {
        return out.error("ERR wrong number of arguments for 'ping' command");
    }
    if subscribed && !out.resp3 {
        out.array(2);
        out.bulk(b"pong");
        out.bulk(a.get(1).map_or(&b""[..], |b| &b[..]));
        return;
    }
    match a.get(1) {
        Some(m) => out.bulk(m),
        None => out.simple("PONG"),
    }
}

/// Checks a password; "default" is the only user.
fn check(c: &mut Conn<'_>, user: Option<&[u8]>, pass: &[u8]) -> bool {
    let user_ok = user.is_none_or(|u| u == b"default");
    let ok = match &c.password {
        Some(p) => user_ok && p.as_bytes() == pass,
        None => user_ok,
    };
    if ok {
        *c.authed = true;
    }
    ok
}

pub(crate) fn auth(c: &mut Conn<'_>, out: &mut Out, a: &[Bytes]) {
    if a.len() > 3 {
        return out.error("ERR syntax error");
    }
    if a.len() == 2 && c.password.is_none() {
        return out.error(
            "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
        );
    }
    let (user, pass) = if a.len() == 3 {
        (Some(&a[1][..]), &a[2])
    } else {
        (None, &a[1])
    };
    if check(c, user, pass) {
        out.ok();
    } else {
        out.error(WRONGPASS);
    }
}

/// HELLO [protover [AUTH user pass] [SETNAME name]]; `mode` and `role` as
/// the server reports them ("standalone"/"master", "sentinel"/"sentinel").
pub(crate) fn hello(c: &mut Conn<'_>, out: &mut Out, a: &[Bytes], mode: &str, role: &str) {
    let mut proto = if out.resp3 { 3 } else { 2 };
    let mut i = 1;
    if a.len() > 1 {
        let Some(v) = parse_i64(&a[1]) else {
            return out.error("ERR Protocol version is not an integer or out of range");
        };
        if !(2..=3).contains(&v) {
            return out.error("NOPROTO unsupported protocol version");
        }
        proto = v;
        i = 2;
    }
    let mut name = None;
    while i < a.len() {
        if eq_ic(&a[i], "auth") && i + 2 < a.len() {
            if !check(c, Some(&a[i + 1]), &a[i + 2]) {
                return out.error(WRONGPASS);
            }
            i += 3;
        } else if eq_ic(&a[i], "setname") && i + 1 < a.len() {
            name = Some(a[i + 1].clone());
            i += 2;
        } else {
            return out.error(&format!(
                "ERR Syntax error in HELLO option '{}'",
                String::from_utf8_lossy(&a[i])
            ));
        }
    }
    if !*c.authed {
        return out.error("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time");
    }
    if let Some(n) = name {
        if !valid_name(&n) {
            return out
                .error("ERR Client names cannot contain spaces, newlines or special characters.");
        }
        *c.info.name.lock() = Some(String::from_utf8_lossy(&n).into_owned());
    }
    out.resp3 = proto == 3;
    c.info.resp.store(proto as usize, Ordering::Relaxed);
    out.map(7);
    out.bulk(b"server");
    out.bulk(b"redis");
    out.bulk(b"version");
    out.bulk(crate::REDIS_VERSION.as_bytes());
    out.bulk(b"proto");
    out.int(proto);
    out.bulk(b"id");
    out.int(c.info.id as i64);
    out.bulk(b"mode");
    out.bulk(mode.as_bytes());
    out.bulk(b"role");
    out.bulk(role.as_bytes());
    out.bulk(b"modules");
    out.array(0);
}

fn valid_name(n: &[u8]) -> bool {
    n.iter().all(|&c| (b'!'..=b'~').contains(&c))
}

/// CLIENT's subcommands common to a node and a sentinel; None if `a[1]` is
/// not one of them (the caller answers its own, or the error).
pub(crate) fn client(c: &mut Conn<'_>, out: &mut Out, a: &[Bytes]) -> Option<After> {
    let sub = String::from_utf8_lossy(&a[1]).to_ascii_lowercase();
    match (sub.as_str(), a.len()) {
        ("id", 2) => out.int(c.info.id as i64),
        ("getname", 2) => {
            let n = c.info.name.lock().clone();
            out.bulk_opt(n.as_deref().map(str::as_bytes));
        }
        ("setname", 3) => {
            if !valid_name(&a[2]) {
                out.error(
                    "ERR Client names cannot contain spaces, newlines or special characters.",
                );
                return Some(After::Continue);
            }
            let n = (!a[2].is_empty()).then(|| String::from_utf8_lossy(&a[2]).into_owned());
            *c.info.name.lock() = n;
            out.ok();
        }
        ("setinfo", 4) => {
            let v = Some(String::from_utf8_lossy(&a[3]).into_owned());
            if eq_ic(&a[2], "lib-name") {
                *c.info.lib_name.lock() = v;
            } else if eq_ic(&a[2], "lib-ver") {
                *c.info.lib_ver.lock() = v;
            } else {
                out.error(&format!(
                    "ERR Unrecognized option '{}'",
                    String::from_utf8_lossy(&a[2])
                ));
                return Some(After::Continue);
            }
            out.ok();
        }
        ("info", 2) => out.verbatim(&(c.info.describe(c.now) + "\n")),
        ("list", _) => list(c, out, a),
        ("kill", _) => return Some(kill(c, out, a)),
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
            out.help(&lines);
        }
        _ => return None,
    }
    Some(After::Continue)
}

/// Redis's error for a CLIENT subcommand nobody answered.
pub(crate) fn unknown_client_subcommand(out: &mut Out, a: &[Bytes]) {
    out.error(&format!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try CLIENT HELP.",
        String::from_utf8_lossy(&a[1])
    ));
}

/// `slave` is the old name of `replica`.
fn normal_type(k: &str) -> String {
    match k.to_ascii_lowercase().as_str() {
        "slave" => "replica".to_string(),
        other => other.to_string(),
    }
}

const TYPES: [&str; 5] = ["normal", "master", "replica", "slave", "pubsub"];

fn list(c: &Conn<'_>, out: &mut Out, a: &[Bytes]) {
    // Redis 7.0 takes one filter: TYPE t, or ID id [id ...].
    let mut ids: Option<Vec<i64>> = None;
    let mut kind: Option<String> = None;
    if a.len() == 4 && eq_ic(&a[2], "type") {
        let k = String::from_utf8_lossy(&a[3]).into_owned();
        if !TYPES.contains(&k.to_ascii_lowercase().as_str()) {
            return out.error(&format!("ERR Unknown client type '{k}'"));
        }
        kind = Some(normal_type(&k));
    } else if a.len() > 3 && eq_ic(&a[2], "id") {
        let mut v = Vec::new();
        for x in &a[3..] {
            match parse_i64(x) {
                Some(n) => v.push(n),
                None => return out.error("ERR Invalid client ID"),
            }
        }
        ids = Some(v);
    } else if a.len() != 2 {
        return out.error("ERR syntax error");
    }
    let mut text = String::new();
    if let Some(ids) = ids {
        // In the order asked, as Redis lists them.
        for id in ids {
            if let Some(ci) = u64::try_from(id).ok().and_then(|id| c.clients.get(id)) {
                text.push_str(&ci.describe(c.now));
                text.push('\n');
            }
        }
        return out.verbatim(&text);
    }
    for ci in c.clients.all() {
        if kind.as_ref().is_some_and(|k| k != ci.client_type()) {
            continue;
        }
        text.push_str(&ci.describe(c.now));
        text.push('\n');
    }
    out.verbatim(&text);
}

fn kill(c: &Conn<'_>, out: &mut Out, a: &[Bytes]) -> After {
    let me = c.info.id;
    if a.len() == 3 {
        let target = String::from_utf8_lossy(&a[2]).into_owned();
        for ci in c.clients.all() {
            if ci.addr.to_string() == target {
                ci.kill();
                out.ok();
                return if ci.id == me {
                    After::Close
                } else {
                    After::Continue
                };
            }
        }
        out.error("ERR No such client");
        return After::Continue;
    }
    let syntax = |out: &mut Out| {
        out.error("ERR syntax error");
        After::Continue
    };
    if a.len() < 4 || !a.len().is_multiple_of(2) {
        return syntax(out);
    }
    let mut id = None;
    let mut kind = None;
    let mut addr = None;
    let mut laddr = None;
    let mut skipme = true;
    for pair in a[2..].chunks(2) {
        let v = String::from_utf8_lossy(&pair[1]).into_owned();
        if eq_ic(&pair[0], "id") {
            match parse_i64(&pair[1]) {
                Some(n) if n > 0 => id = Some(n as u64),
                _ => {
                    out.error("ERR client-id should be greater than 0");
                    return After::Continue;
                }
            }
        } else if eq_ic(&pair[0], "type") {
            let k = v.to_ascii_lowercase();
            if !TYPES.contains(&k.as_str()) {
                out.error(&format!("ERR Unknown client type '{v}'"));
                return After::Continue;
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
                _ => return syntax(out),
            };
        } else if eq_ic(&pair[0], "user") {
            // The only user is "default": it matches every client.
            if &pair[1][..] != b"default" {
                out.error(&format!("ERR No such user '{v}'"));
                return After::Continue;
            }
        } else {
            return syntax(out);
        }
    }
    let mut n = 0;
    let mut after = After::Continue;
    for ci in c.clients.all() {
        if skipme && ci.id == me {
            continue;
        }
        if id.is_some_and(|i| i != ci.id)
            || addr.as_ref().is_some_and(|x| *x != ci.addr.to_string())
            || laddr.as_ref().is_some_and(|x| *x != ci.laddr.to_string())
            || kind.as_ref().is_some_and(|k| k != ci.client_type())
        {
            continue;
        }
        ci.kill();
        if ci.id == me {
            after = After::Close;
        }
        n += 1;
    }
    out.int(n);
    after
}
