//! HyperLogLog commands (Redis's hyperloglog.c): arguments and replies;
//! the representation and the estimator are `types/hyperloglog.rs`.
//! PFSELFTEST is not offered (it answers as an unknown command).

use super::ctx::Ev;
use super::{cmd, flags::*, Command, Ctx};
use crate::types::hyperloglog::{self, Debug, DebugReply};
use crate::util::eq_ic;
use bytes::Bytes;

pub(crate) fn commands() -> Vec<Command> {
    vec![
        cmd("pfadd", -2, WRITE | FAST, (1, 1, 1), "hyperloglog", "Adds elements to a HyperLogLog key. Creates the key if it doesn't exist.", pfadd)
        .syntax("key [element ...]"),
        cmd("pfcount", -2, READONLY, (1, -1, 1), "hyperloglog", "Returns the approximated cardinality of the set(s) observed by the HyperLogLog key(s).", pfcount)
        .syntax("key ..."),
        cmd("pfmerge", -2, WRITE, (1, -1, 1), "hyperloglog", "Merges one or more HyperLogLog values into a single key.", pfmerge)
        .syntax("destkey [sourcekey ...]"),
        cmd("pfdebug", 3, WRITE | ADMIN, (2, 2, 1), "hyperloglog", "Internal commands for debugging HyperLogLog values.", pfdebug)
        .syntax("subcommand key"),
    ]
}

/// `hll-sparse-max-bytes`.
fn sparse_max(ctx: &Ctx<'_>) -> usize {
    usize::try_from(ctx.config().hll_sparse_max_bytes).unwrap_or(usize::MAX)
}

fn pfadd(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let max = sparse_max(ctx);
    match hyperloglog::pf_add(&mut ctx.data(), &a[1], &a[2..], max) {
        Ok(changed) => {
            if changed {
                ctx.notify(Ev::Pfadd, &a[1]);
            }
            ctx.out.int(changed as i64)
        }
        Err(e) => ctx.err(e.reply()),
    }
}

fn pfcount(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let r = if a.len() == 2 {
        // The refreshed cache is a write (Redis propagates it); a replica
        // only answers, its data follows its master, and so does a master
        // whose WAL cannot be written (the count is still right).
        let store = !ctx.repl().is_replica() && !ctx.store().wal.write_failed();
        hyperloglog::pf_count_one(&mut ctx.data(), &a[1], store)
    } else {
        hyperloglog::pf_count_union(&mut ctx.data(), &a[1..])
    };
    match r {
        Ok(n) => ctx.out.int(n as i64),
        Err(e) => ctx.err(e.reply()),
    }
}

fn pfmerge(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let max = sparse_max(ctx);
    match hyperloglog::pf_merge(&mut ctx.data(), &a[1], &a[2..], max) {
        Ok(()) => {
            ctx.notify(Ev::Pfadd, &a[1]);
            ctx.out.ok()
        }
        Err(e) => ctx.err(e.reply()),
    }
}

fn pfdebug(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let sub = &a[1];
    let what = if eq_ic(sub, "getreg") {
        Some(Debug::GetReg)
    } else if eq_ic(sub, "decode") {
        Some(Debug::Decode)
    } else if eq_ic(sub, "encoding") {
        Some(Debug::Encoding)
    } else if eq_ic(sub, "todense") {
        Some(Debug::ToDense)
    } else {
        None
    };
    // Redis checks the key before the subcommand.
    let r = hyperloglog::pf_debug(&mut ctx.data(), &a[2], what.unwrap_or(Debug::Encoding));
    match r {
        Err(e) => ctx.err(e.reply()),
        Ok(DebugReply::NoKey) => ctx.err("ERR The specified key does not exist"),
        Ok(_) if what.is_none() => {
            let shown = match sub.iter().position(|&c| c == 0) {
                Some(p) => &sub[..p],
                None => &sub[..],
            };
            ctx.err(&format!(
                "ERR Unknown PFDEBUG subcommand '{}'",
                String::from_utf8_lossy(shown)
            ))
        }
        Ok(DebugReply::Registers(regs)) => {
            ctx.out.array(regs.len());
            for r in regs {
                ctx.out.int(r as i64);
            }
        }
        Ok(DebugReply::Decoded(s)) => ctx.out.bulk(s.as_bytes()),
        Ok(DebugReply::Encoding(e)) => ctx.out.simple(e),
        Ok(DebugReply::Converted(c)) => ctx.out.int(c as i64),
        Ok(DebugReply::NotSparse) => ctx.err("ERR HLL encoding is not sparse"),
    }
}
