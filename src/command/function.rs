//! FUNCTION and FCALL (Redis 7's functions.c). A library's code is a
//! store pair, written by FUNCTION LOAD/DELETE/FLUSH as any write is, so
//! it reaches the WAL, replicas and snapshots; the registry of what the
//! libraries define is `scripting/functions.rs`, and a function runs as an
//! EVAL script does (`scripting.rs`).

use super::flags::*;
use super::scripting::{numkeys, run_script};
use super::{cmd, Command, Ctx};
use crate::scripting::functions::{self, Library, Registry};
use crate::scripting::lua::Code;
use crate::util::{eq_ic, parse_i64};
use bytes::Bytes;
use std::sync::Arc;

pub(crate) fn commands() -> Vec<Command> {
    let none = (0, 0, 0);
    vec![
        cmd(
            "fcall",
            -3,
            NOSCRIPT | STALE,
            none,
            "scripting",
            "Invokes a function.",
            fcall,
        )
        .numkeys_at(2)
        .syntax("function numkeys [key ...] [arg ...]"),
        cmd(
            "fcall_ro",
            -3,
            NOSCRIPT | STALE | READONLY,
            none,
            "scripting",
            "Invokes a read-only function.",
            fcall_ro,
        )
        .numkeys_at(2)
        .syntax("function numkeys [key ...] [arg ...]"),
        cmd(
            "function",
            -2,
            NOSCRIPT,
            none,
            "scripting",
            "A container for function commands.",
            function,
        )
        .syntax("subcommand [argument ...]")
        .subs(&[
            ("load", "function|load", -3),
            ("delete", "function|delete", 3),
            ("flush", "function|flush", -2),
            ("list", "function|list", -2),
            ("stats", "function|stats", 2),
            ("kill", "function|kill", 2),
            ("dump", "function|dump", 2),
            ("restore", "function|restore", -3),
            ("help", "function|help", 2),
        ]),
    ]
}

/// The libraries as this command sees them: the committed ones, or, in a
/// transaction that loaded or deleted one (MULTI), its own view.
fn registry(ctx: &mut Ctx<'_>) -> Arc<Registry> {
    let generation = ctx
        .scripts()
        .generation
        .load(std::sync::atomic::Ordering::Acquire);
    if let Some(tx) = ctx.tx.as_mut().filter(|tx| tx.changed_libraries()) {
        return Arc::new(functions::registry_of(tx.libraries(), generation));
    }
    ctx.scripts().functions.registry(ctx.store(), generation)
}

fn fcall(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    call(ctx, a, false)
}

fn fcall_ro(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    call(ctx, a, true)
}

fn call(ctx: &mut Ctx<'_>, a: &[Bytes], ro: bool) {
    let reg = registry(ctx);
    let Some((lib, f)) = reg.function(&a[1]) else {
        return ctx.err("ERR Function not found");
    };
    let Some(n) = parse_i64(&a[2]) else {
        return ctx.err("ERR Bad number of keys provided");
    };
    let Some((keys, argv)) = numkeys(ctx, a, n) else {
        return;
    };
    let code = Code::Function {
        library: &lib.name,
        code: &lib.code,
        name: &f.name,
    };
    let running = Some((f.name.clone(), a.to_vec()));
    run_script(ctx, code, Some(f.flags), running, keys, argv, ro);
}

fn function(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let sub = &a[1];
    if eq_ic(sub, "load") {
        load(ctx, a)
    } else if eq_ic(sub, "delete") {
        delete(ctx, &a[2])
    } else if eq_ic(sub, "flush") {
        flush(ctx, a)
    } else if eq_ic(sub, "list") {
        list(ctx, a)
    } else if eq_ic(sub, "stats") {
        stats(ctx)
    } else if eq_ic(sub, "kill") {
        super::scripting::kill(ctx, true)
    } else if eq_ic(sub, "dump") {
        let codes: Vec<Bytes> = ctx
            .store()
            .libraries()
            .into_iter()
            .map(|(_, c)| c)
            .collect();
        let payload = crate::types::rdb::dump_functions(&codes);
        ctx.out.bulk(&payload);
    } else if eq_ic(sub, "restore") {
        restore(ctx, a)
    } else if eq_ic(sub, "help") {
        help(ctx)
    }
}

/// FUNCTION LOAD, DELETE and FLUSH write: refused where writes are.
fn may_write(ctx: &mut Ctx<'_>) -> bool {
    if ctx.read_only_replica() && !ctx.client.is_master {
        ctx.err("READONLY You can't write against a read only replica.");
        return false;
    }
    if !ctx.in_exec && !super::enough_good_replicas(ctx) {
        ctx.err(super::NOREPLICAS);
        return false;
    }
    true
}

fn load(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let (replace, code) = match a.len() {
        3 => (false, &a[2]),
        4 if eq_ic(&a[2], "replace") => (true, &a[3]),
        _ => {
            let arg = String::from_utf8_lossy(&a[2]).into_owned();
            return ctx.err(&format!("ERR Unknown option given: {arg}"));
        }
    };
    if !may_write(ctx) {
        return;
    }
    let name = match functions::library_name(code) {
        Ok(n) => n,
        Err(e) => return ctx.err(&e),
    };
    if !replace && ctx.tx().library(name.as_bytes()).is_some() {
        return ctx.err(&format!("ERR Library '{name}' already exists"));
    }
    let generation = ctx
        .scripts()
        .generation
        .load(std::sync::atomic::Ordering::Acquire);
    let lib = match functions::load(generation, &name, code.clone()) {
        Ok(lib) => lib,
        Err(e) => return ctx.err(&e),
    };
    if let Some(e) = collision(&registry(ctx), &lib) {
        return ctx.err(&e);
    }
    ctx.tx().put_library(name.as_bytes(), code.clone());
    ctx.out.bulk(name.as_bytes());
}

/// FUNCTION RESTORE payload [FLUSH|APPEND|REPLACE] (Redis's
/// `libraryJoin`): the payload's libraries join the existing ones, all or
/// none.
fn restore(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    if a.len() > 4 {
        return ctx.err(
            "ERR unknown subcommand or wrong number of arguments for 'RESTORE'. Try FUNCTION HELP.",
        );
    }
    let (mut flush, mut replace) = (false, false);
    if let Some(p) = a.get(3) {
        if eq_ic(p, "flush") {
            flush = true;
        } else if eq_ic(p, "replace") {
            replace = true;
        } else if !eq_ic(p, "append") {
            return ctx.err(
                "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.",
            );
        }
    }
    let codes = match crate::types::rdb::read_functions(&a[2]) {
        Ok(c) => c,
        Err(e) => return ctx.err(e.reply()),
    };
    if !may_write(ctx) {
        return;
    }
    let generation = ctx
        .scripts()
        .generation
        .load(std::sync::atomic::Ordering::Acquire);
    let mut incoming = Registry::default();
    for code in codes {
        let name = match functions::library_name(&code) {
            Ok(n) => n,
            Err(e) => return ctx.err(&e),
        };
        if incoming.libraries.contains_key(&name) {
            return ctx.err(&format!("ERR Library {name} already exists"));
        }
        let lib = match functions::load(generation, &name, code) {
            Ok(l) => l,
            Err(e) => return ctx.err(&e),
        };
        if let Some(e) = collision(&incoming, &lib) {
            return ctx.err(&e);
        }
        incoming.add(lib);
    }
    let existing = registry(ctx);
    if !flush {
        for (name, lib) in &incoming.libraries {
            if existing.libraries.contains_key(name) && !replace {
                return ctx.err(&format!("ERR Library {name} already exists"));
            }
            // A function of a library that stays.
            for f in &lib.functions {
                if let Some((other, _)) = existing.function(f.name.as_bytes()) {
                    if !incoming.libraries.contains_key(&other.name) {
                        return ctx.err(&format!("ERR Function {} already exists", f.name));
                    }
                }
            }
        }
    }
    let tx = ctx.tx();
    if flush {
        for (name, _) in tx.libraries() {
            tx.del_library(&name);
        }
    }
    for (name, lib) in &incoming.libraries {
        tx.put_library(name.as_bytes(), lib.code.clone());
    }
    ctx.out.ok();
}

/// A function of `lib` that another library already defines.
fn collision(reg: &Registry, lib: &Library) -> Option<String> {
    lib.functions.iter().find_map(|f| {
        let (other, _) = reg.function(f.name.as_bytes())?;
        (other.name != lib.name).then(|| format!("ERR Function {} already exists", f.name))
    })
}

fn delete(ctx: &mut Ctx<'_>, name: &[u8]) {
    if !may_write(ctx) {
        return;
    }
    if ctx.tx().library(name).is_none() {
        return ctx.err("ERR Library not found");
    }
    ctx.tx().del_library(name);
    ctx.out.ok();
}

fn flush(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    match a.get(2) {
        None => {}
        Some(m) if a.len() == 3 && (eq_ic(m, "sync") || eq_ic(m, "async")) => {}
        Some(_) => return ctx.err("ERR FUNCTION FLUSH only supports SYNC|ASYNC option"),
    }
    if !may_write(ctx) {
        return;
    }
    let tx = ctx.tx();
    for (name, _) in tx.libraries() {
        tx.del_library(&name);
    }
    ctx.out.ok();
}

fn list(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let mut with_code = false;
    let mut pattern: Option<&[u8]> = None;
    let mut i = 2;
    while i < a.len() {
        if eq_ic(&a[i], "withcode") && !with_code {
            with_code = true;
        } else if eq_ic(&a[i], "libraryname") && pattern.is_none() {
            let Some(p) = a.get(i + 1) else {
                return ctx.err("ERR library name argument was not given");
            };
            pattern = Some(p);
            i += 1;
        } else {
            let arg = String::from_utf8_lossy(&a[i]).into_owned();
            return ctx.err(&format!("ERR Unknown argument {arg}"));
        }
        i += 1;
    }
    let reg = registry(ctx);
    let libs: Vec<&Arc<Library>> = reg
        .libraries
        .values()
        .filter(|l| pattern.is_none_or(|p| crate::glob::glob_match(p, l.name.as_bytes(), false)))
        .collect();
    let out = &mut ctx.out;
    out.array(libs.len());
    for lib in libs {
        out.map(3 + usize::from(with_code));
        out.bulk(b"library_name");
        out.bulk(lib.name.as_bytes());
        out.bulk(b"engine");
        out.bulk(b"LUA");
        out.bulk(b"functions");
        out.array(lib.functions.len());
        for f in &lib.functions {
            out.map(3);
            out.bulk(b"name");
            out.bulk(f.name.as_bytes());
            out.bulk(b"description");
            out.bulk_opt(f.description.as_deref());
            out.bulk(b"flags");
            let names = f.flags.names();
            out.set(names.len());
            for n in names {
                out.simple(n);
            }
        }
        if with_code {
            out.bulk(b"library_code");
            out.bulk(&lib.code);
        }
    }
}

fn stats(ctx: &mut Ctx<'_>) {
    let scripts = ctx.scripts();
    if scripts.busy() && scripts.script_running() {
        return ctx.err(crate::scripting::BUSY_SCRIPT);
    }
    let running = scripts.running_function();
    let reg = registry(ctx);
    let out = &mut ctx.out;
    out.map(2);
    out.bulk(b"running_script");
    match running {
        None => out.null(),
        Some((name, command, ms)) => {
            out.map(3);
            out.bulk(b"name");
            out.bulk(name.as_bytes());
            out.bulk(b"command");
            out.array(command.len());
            for c in &command {
                out.bulk(c);
            }
            out.bulk(b"duration_ms");
            out.int(ms as i64);
        }
    }
    out.bulk(b"engines");
    out.map(1);
    out.bulk(b"LUA");
    out.map(2);
    out.bulk(b"libraries_count");
    out.int(reg.libraries.len() as i64);
    out.bulk(b"functions_count");
    out.int(reg.function_count() as i64);
}

fn help(ctx: &mut Ctx<'_>) {
    ctx.help(&[
        "FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "LOAD [REPLACE] <FUNCTION CODE>",
        "    Create a new library with the given library name and code.",
        "DELETE <LIBRARY NAME>",
        "    Delete the given library.",
        "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
        "    Return general information on all the libraries:",
        "    * Library name",
        "    * The engine used to run the Library",
        "    * Library description",
        "    * Functions list",
        "    * Library code (if WITHCODE is given)",
        "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
        "STATS",
        "    Return information about the current function running:",
        "    * Function name",
        "    * Command used to run the function",
        "    * Duration in MS that the function is running",
        "    If no function is running, return nil",
        "    In addition, returns a list of available engines.",
        "KILL",
        "    Kill the current running function.",
        "FLUSH [ASYNC|SYNC]",
        "    Delete all the libraries.",
        "    When called without the optional mode argument, the behavior is determined by the",
        "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
        "    * ASYNC: Asynchronously flush the libraries.",
        "    * SYNC: Synchronously flush the libraries.",
        "DUMP",
        "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
        "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
        "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
        "    control how to handle existing libraries (default APPEND):",
        "    * FLUSH: delete all existing libraries.",
        "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
        "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
        "      libraries with the new libraries (notice that even on this option there is a chance of failure",
        "      in case of functions name collision with another library).",
        "HELP",
        "    Prints this help.",
    ]);
}
