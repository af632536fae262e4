//! COMMAND, COMMAND COUNT / INFO / DOCS / LIST, generated from the command
//! table so they cannot drift from what the server runs. redis-cli reads
//! COMMAND DOCS for its interactive hints.

use super::{flags::*, node_commands, Command, Ctx};
use crate::resp::Out;
use crate::util::eq_ic;
use bytes::Bytes;

fn flag_names(c: &Command) -> Vec<&'static str> {
    let mut v = Vec::new();
    let pairs = [
        (WRITE, "write"),
        (READONLY, "readonly"),
        (ADMIN, "admin"),
        (PUBSUB, "pubsub"),
        (NOAUTH, "no_auth"),
        (FAST, "fast"),
        (STALE, "stale"),
        (LOADING, "loading"),
        (NOSCRIPT, "noscript"),
        (NOMULTI, "no_multi"),
    ];
    for (f, n) in pairs {
        if c.flags & f != 0 {
            v.push(n);
        }
    }
    if c.movable_keys() {
        v.push("movablekeys");
    }
    v
}

/// The ACL categories COMMAND reports for a command (without the `@`).
fn acl_categories(c: &Command) -> Vec<&'static str> {
    let mut v = Vec::new();
    if c.group == "generic" {
        v.push("keyspace");
    }
    if c.flags & READONLY != 0 {
        v.push("read");
    }
    if c.flags & WRITE != 0 {
        v.push("write");
    }
    v.push(c.group);
    if c.flags & ADMIN != 0 {
        v.push("admin");
        v.push("dangerous");
    }
    v.push(if c.flags & FAST != 0 { "fast" } else { "slow" });
    v
}

/// One command's COMMAND INFO entry (the sentinel's COMMAND uses it too).
pub(crate) fn write_info(out: &mut Out, c: &Command) {
    out.array(10);
    out.bulk(c.name.as_bytes());
    out.int(c.arity as i64);
    let fl = flag_names(c);
    out.set(fl.len());
    for f in fl {
        out.simple(f);
    }
    out.int(c.first_key as i64);
    out.int(c.last_key as i64);
    out.int(c.step as i64);
    let cats = acl_categories(c);
    out.set(cats.len());
    for k in cats {
        out.simple(&format!("@{k}"));
    }
    out.array(0); // tips
    super::keyspec::write_specs(out, c.name);
    out.array(0); // subcommands
}

/// One command's COMMAND DOCS entry (name, then its map).
pub(crate) fn write_docs(out: &mut Out, c: &Command) {
    let args = super::syntax::parse(c.syntax);
    out.bulk(c.name.as_bytes());
    out.map(3 + !args.is_empty() as usize);
    out.bulk(b"summary");
    out.bulk(c.summary.as_bytes());
    out.bulk(b"since");
    out.bulk(c.since.as_bytes());
    out.bulk(b"group");
    out.bulk(c.group.as_bytes());
    if !args.is_empty() {
        out.bulk(b"arguments");
        super::syntax::write_args(out, &args);
    }
}

fn sorted() -> Vec<&'static Command> {
    let mut v: Vec<&Command> = node_commands().collect();
    v.sort_by_key(|c| c.name);
    v
}

pub(crate) fn command(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    if a.len() == 1 {
        let all = sorted();
        ctx.out.array(all.len());
        for c in all {
            write_info(ctx.out, c);
        }
        return;
    }
    let sub = &a[1];
    if eq_ic(sub, "count") && a.len() == 2 {
        ctx.out.int(node_commands().count() as i64);
    } else if eq_ic(sub, "info") {
        let names: Vec<Bytes> = a[2..].to_vec();
        if names.is_empty() {
            let all = sorted();
            ctx.out.array(all.len());
            for c in all {
                write_info(ctx.out, c);
            }
            return;
        }
        ctx.out.array(names.len());
        for n in names {
            match super::lookup(&n) {
                Some(c) => write_info(ctx.out, c),
                None => ctx.out.null(),
            }
        }
    } else if eq_ic(sub, "docs") {
        let cmds: Vec<&Command> = if a.len() == 2 {
            sorted()
        } else {
            a[2..].iter().filter_map(|n| super::lookup(n)).collect()
        };
        ctx.out.map(cmds.len());
        for c in cmds {
            write_docs(ctx.out, c);
        }
    } else if eq_ic(sub, "list") {
        let all = sorted();
        // Like Redis 7, the list names subcommands too ("config|get"),
        // which share their container's categories.
        let mut names: Vec<(&'static str, &Command)> = Vec::new();
        for c in all {
            names.push((c.name, c));
            for sub in c.subs {
                names.push((sub.1, c));
            }
        }
        let keep: Vec<&str> = if a.len() == 2 {
            names.into_iter().map(|(n, _)| n).collect()
        } else if a.len() == 5 && eq_ic(&a[2], "filterby") {
            let arg = &a[4];
            if eq_ic(&a[3], "module") {
                Vec::new()
            } else if eq_ic(&a[3], "aclcat") {
                names
                    .into_iter()
                    .filter(|(_, c)| {
                        acl_categories(c)
                            .iter()
                            .any(|k| arg.eq_ignore_ascii_case(k.as_bytes()))
                    })
                    .map(|(n, _)| n)
                    .collect()
            } else if eq_ic(&a[3], "pattern") {
                names
                    .into_iter()
                    .filter(|(n, _)| crate::glob::glob_match(arg, n.as_bytes(), true))
                    .map(|(n, _)| n)
                    .collect()
            } else {
                return ctx.syntax_err();
            }
        } else {
            return ctx.syntax_err();
        };
        ctx.out.array(keep.len());
        for n in keep {
            ctx.out.bulk(n.as_bytes());
        }
    } else if eq_ic(sub, "help") && a.len() == 2 {
        let lines = [
            "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "(no subcommand)",
            "    Return details about all Redis commands.",
            "COUNT",
            "    Return the total number of commands in this Redis server.",
            "LIST",
            "    Return a list of all commands in this Redis server.",
            "INFO [<command-name> ...]",
            "    Return details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "DOCS [<command-name> ...]",
            "    Return documentation details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "GETKEYS <full-command>",
            "    Return the keys from a full Redis command.",
            "GETKEYSANDFLAGS <full-command>",
            "    Return the keys and the access flags from a full Redis command.",
            "HELP",
            "    Prints this help.",
        ];
        ctx.help(&lines);
    } else if eq_ic(sub, "getkeys") && a.len() >= 3 {
        let Some(c) = super::lookup(&a[2]) else {
            return ctx.err("ERR Invalid command specified");
        };
        let args = &a[2..];
        if !super::arity_ok(c, args.len()) {
            return ctx.err("ERR Invalid number of arguments specified for command");
        }
        // Shard channels are not keys to GETKEYS (Redis skips `not_key`).
        if c.first_key == 0 && !c.movable_keys() || c.flags & NOT_KEY != 0 {
            return ctx.err("ERR The command has no key arguments");
        }
        let keys: Vec<&Bytes> = c.key_indexes(args).into_iter().map(|i| &args[i]).collect();
        if keys.is_empty() {
            return ctx.err("ERR Invalid arguments specified for command");
        }
        ctx.out.array(keys.len());
        for k in keys {
            ctx.out.bulk(k);
        }
    } else if eq_ic(sub, "getkeysandflags") && a.len() >= 3 {
        getkeys_and_flags(ctx, &a[2..]);
    } else {
        ctx.err(&format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try COMMAND HELP.",
            String::from_utf8_lossy(sub)
        ));
    }
}

/// COMMAND GETKEYSANDFLAGS: each key with its key spec's flags, found by
/// Redis's key specs (`keyspec.rs`); a container's subcommand by its own.
fn getkeys_and_flags(ctx: &mut Ctx<'_>, args: &[Bytes]) {
    let Some(c) = super::lookup(&args[0]) else {
        return ctx.err("ERR Invalid command specified");
    };
    let (mut name, mut arity) = (c.name, c.arity);
    if let Some((_, full, ar)) = args
        .get(1)
        .and_then(|s| c.subs.iter().find(|(n, _, _)| eq_ic(s, n)))
    {
        (name, arity) = (full, *ar);
    }
    let specs = super::keyspec::specs(name);
    if specs.iter().all(|s| s.flags.contains(&"not_key")) {
        return ctx.err("ERR The command has no key arguments");
    }
    if !super::arity_matches(arity, args.len()) {
        return ctx.err("ERR Invalid number of arguments specified for command");
    }
    let keys = super::keyspec::keys_and_flags(name, arity, args);
    if keys.is_empty() && !no_mandatory_keys(name) {
        return ctx.err("ERR Invalid arguments specified for command");
    }
    ctx.out.array(keys.len());
    for (i, flags) in keys {
        ctx.out.array(2);
        ctx.out.bulk(&args[i]);
        super::keyspec::write_flags(ctx.out, flags);
    }
}

/// Redis's `no_mandatory_keys` commands: scripts may be given no keys.
fn no_mandatory_keys(name: &str) -> bool {
    matches!(
        name,
        "eval" | "eval_ro" | "evalsha" | "evalsha_ro" | "fcall" | "fcall_ro"
    )
}

/// The command list for the README, one line per command.
pub fn markdown_list() -> String {
    let mut s = String::new();
    let mut groups: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
    for c in sorted() {
        groups.entry(c.group).or_default().push(c.name);
    }
    for (g, names) in groups {
        let up: Vec<String> = names.iter().map(|n| n.to_ascii_uppercase()).collect();
        s.push_str(&format!("- **{g}**: {}\n", up.join(", ")));
    }
    s
}
