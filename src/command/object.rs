//! OBJECT (Redis's object.c): what a key's value looks like inside.
//! ENCODING answers the encoding Redis 7.0 would hold the same value in
//! after the same writes (`types/encoding.rs`), since tools and test
//! suites check Redis's names. Nothing is shared, so REFCOUNT is 1. IDLETIME reads the
//! access times of `store/access.rs`; FREQ answers Redis's "not tracked"
//! error, as Redis does under sledis's only policy, `noeviction`.

use super::{cmd, flags::*, Command, Ctx};
use bytes::Bytes;

pub(crate) fn commands() -> Vec<Command> {
    vec![cmd(
        "object",
        -2,
        READONLY,
        (2, 2, 1),
        "generic",
        "A container for object introspection commands.",
        object,
    )
    .syntax("subcommand [argument ...]")
    .subs(&[
        ("encoding", "object|encoding", 3),
        ("freq", "object|freq", 3),
        ("idletime", "object|idletime", 3),
        ("refcount", "object|refcount", 3),
        ("help", "object|help", 2),
    ])]
}

fn object(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let sub = String::from_utf8_lossy(&a[1]).to_ascii_lowercase();
    if sub == "help" {
        return ctx.help(&[
            "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "ENCODING <key>",
            "    Return the kind of internal representation used in order to store the value",
            "    associated with a <key>.",
            "FREQ <key>",
            "    Return the access frequency index of the <key>. The returned integer is",
            "    proportional to the logarithm of the recent access frequency of the key.",
            "IDLETIME <key>",
            "    Return the idle time of the <key>, that is the approximated number of",
            "    seconds elapsed since the last access to the key.",
            "REFCOUNT <key>",
            "    Return the number of references of the value associated with the specified",
            "    <key>.",
            "HELP",
            "    Prints this help.",
        ]);
    }
    let db = ctx.db();
    let Some(m) = ctx.get(db, &a[2]) else {
        return ctx.out.null();
    };
    match sub.as_str() {
        "encoding" => {
            let e = crate::types::encoding::of(&mut ctx.data(), &a[2], &m);
            ctx.out.bulk(e.name().as_bytes())
        }
        "refcount" => ctx.out.int(1),
        "idletime" => {
            let idle = ctx.idle_seconds(db, &a[2]);
            ctx.out.int(idle)
        }
        _ => ctx.err("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust."),
    }
}
