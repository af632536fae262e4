//! DUMP and RESTORE (Redis's cluster.c): a key's value as a Redis 7.0
//! serialized payload and back (the format is `types/rdb/`). RESTORE's
//! IDLETIME sets the key's access time (`store/access.rs`); FREQ is
//! checked as Redis does and dropped, as Redis drops it under the LRU
//! and no-eviction policies (sledis has only `noeviction`).

use super::{cmd, flags::*, int_arg, Command, Ctx};
use crate::notify::Ev;
use crate::types::rdb::{self, Limits};
use crate::util::eq_ic;
use bytes::Bytes;

pub(crate) fn commands() -> Vec<Command> {
    vec![
        cmd(
            "dump",
            2,
            READONLY,
            (1, 1, 1),
            "generic",
            "Returns a serialized representation of the value stored at a key.",
            dump,
        )
        .syntax("key"),
        cmd(
            "restore",
            -4,
            WRITE,
            (1, 1, 1),
            "generic",
            "Creates a key from the serialized representation of a value.",
            restore,
        )
        .syntax("key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME seconds] [FREQ frequency]"),
    ]
}

/// The payload settings in force, from the directives Redis reads them
/// from (the collections' encodings follow the store's mirror of the
/// thresholds: `types/encoding.rs`).
fn limits(ctx: &Ctx<'_>) -> Limits {
    let c = ctx.config();
    let num = |name: &str, default: i64| -> i64 {
        c.get(name)
            .first()
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(default)
    };
    let d = Limits::default();
    Limits {
        list_fill: num("list-max-listpack-size", d.list_fill),
        compress: c
            .get("rdbcompression")
            .first()
            .is_none_or(|(_, v)| v == "yes"),
    }
}

fn dump(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let lim = limits(ctx);
    let payload = rdb::dump(&mut ctx.data(), &a[1], &lim);
    ctx.out.bulk_opt(payload.as_deref());
}

/// RESTORE key ttl payload [REPLACE] [ABSTTL] [IDLETIME s] [FREQ f], with
/// Redis's checks in Redis's order: options, the key, the TTL, the footer,
/// the value.
fn restore(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let (mut replace, mut absttl) = (false, false);
    let (mut idle, mut freq): (Option<i64>, Option<i64>) = (None, None);
    let mut j = 4;
    while j < a.len() {
        let more = j + 1 < a.len();
        if eq_ic(&a[j], "replace") {
            replace = true;
        } else if eq_ic(&a[j], "absttl") {
            absttl = true;
        } else if eq_ic(&a[j], "idletime") && more && freq.is_none() {
            let Some(v) = int_arg(ctx, &a[j + 1]) else {
                return;
            };
            if v < 0 {
                return ctx.err("ERR Invalid IDLETIME value, must be >= 0");
            }
            idle = Some(v);
            j += 1;
        } else if eq_ic(&a[j], "freq") && more && idle.is_none() {
            let Some(v) = int_arg(ctx, &a[j + 1]) else {
                return;
            };
            if !(0..=255).contains(&v) {
                return ctx.err("ERR Invalid FREQ value, must be >= 0 and <= 255");
            }
            freq = Some(v);
            j += 1;
        } else {
            return ctx.syntax_err();
        }
        j += 1;
    }
    let db = ctx.db();
    let exists = ctx.tx().get(db, &a[1]).is_some();
    if !replace && exists {
        return ctx.err("BUSYKEY Target key name already exists.");
    }
    let Some(ttl) = int_arg(ctx, &a[2]) else {
        return;
    };
    if ttl < 0 {
        return ctx.err("ERR Invalid TTL value, must be >= 0");
    }
    let value = match rdb::decode(&a[3]) {
        Ok(v) => v,
        Err(e) => return ctx.err(e.reply()),
    };
    // Redis adds the relative TTL to its clock without an overflow check:
    // a huge one wraps into the past, and the key is not created.
    let expire_at = match ttl {
        0 => None,
        t if absttl => Some(t),
        t => Some(t.wrapping_add(ctx.now)),
    };
    // A replica restores whatever the deadline; a master drops a value
    // already expired (deleting what REPLACE would have replaced).
    let expired = expire_at.is_some_and(|t| t <= ctx.now) && !ctx.repl().is_replica();
    if expired {
        if exists {
            ctx.tx().delete(db, &a[1]);
            ctx.notify(Ev::Del, &a[1]);
        }
    } else {
        rdb::restore(&mut ctx.data(), &a[1], value, expire_at);
        ctx.notify(Ev::Restore, &a[1]);
        if let Some(secs) = idle {
            let at = ctx.now.saturating_sub(secs.saturating_mul(1000));
            ctx.set_access(db, &a[1], at);
        }
    }
    ctx.out.ok();
}
