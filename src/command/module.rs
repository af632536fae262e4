//! MODULE (Redis's module.c front): sledis loads no extensions, so LIST
//! is always empty. LOAD, LOADEX and UNLOAD answer what Redis answers: the
//! "not allowed" error under `enable-module-command no` (the default, as
//! in Redis), and where it is allowed, Redis's error for a module that
//! fails to load (or is not loaded, for UNLOAD).

use super::{cmd, Command, Ctx};
use bytes::Bytes;

pub(crate) fn commands() -> Vec<Command> {
    vec![Command {
        since: "4.0.0",
        ..cmd(
            "module",
            -2,
            0,
            (0, 0, 0),
            "server",
            "A container for module commands",
            module,
        )
        .syntax("subcommand [argument ...]")
        .subs(&[
            ("help", "module|help", 2),
            ("list", "module|list", 2),
            ("load", "module|load", -3),
            ("loadex", "module|loadex", -3),
            ("unload", "module|unload", 3),
        ])
    }]
}

const NOT_ALLOWED: &str = "ERR MODULE command not allowed. If the enable-module-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.";

fn module(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let sub = String::from_utf8_lossy(&a[1]).to_ascii_lowercase();
    match sub.as_str() {
        "help" => ctx.help(&[
            "MODULE <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "LIST",
            "    Return a list of loaded modules.",
            "LOAD <path> [<arg> ...]",
            "    Load a module library from <path>, passing to it any optional arguments.",
            "LOADEX <path> [[CONFIG NAME VALUE] [CONFIG NAME VALUE]] [ARGS ...]",
            "    Load a module library from <path>, while passing it module configurations and optional arguments.",
            "UNLOAD <name>",
            "    Unload a module.",
            "HELP",
            "    Prints this help.",
        ]),
        "list" => ctx.out.array(0),
        _ if !allowed(ctx) => ctx.err(NOT_ALLOWED),
        "load" | "loadex" => {
            tracing::warn!(
                "Module {} failed to load: sledis does not load extensions",
                String::from_utf8_lossy(&a[2])
            );
            ctx.err("ERR Error loading the extension. Please check the server logs.")
        }
        _ => ctx.err("ERR Error unloading module: no such module with that name"),
    }
}

/// Redis's `enable-module-command`: yes, or local and a loopback client.
fn allowed(ctx: &Ctx<'_>) -> bool {
    let setting = ctx
        .config()
        .get("enable-module-command")
        .into_iter()
        .next()
        .map(|(_, v)| v)
        .unwrap_or_default();
    match setting.as_str() {
        "yes" => true,
        "local" => ctx.client.info.addr.ip().is_loopback(),
        _ => false,
    }
}
