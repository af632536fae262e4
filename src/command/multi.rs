//! MULTI / EXEC / DISCARD / WATCH / UNWATCH. EXEC runs every queued command
//! in one write transaction: one WAL record, published atomically.

use super::{cmd, flags::*, lookup, run, Command, Ctx};
use crate::server::client::Client;
use crate::store::Store;
use bytes::Bytes;
use std::sync::atomic::Ordering;

pub(crate) fn commands() -> Vec<Command> {
    let none = (0, 0, 0);
    vec![
        cmd(
            "multi",
            1,
            NOQUEUE | FAST | LOADING | STALE,
            none,
            "transactions",
            "Starts a transaction.",
            multi,
        ),
        cmd(
            "exec",
            1,
            NOQUEUE | LOADING | STALE,
            none,
            "transactions",
            "Executes all commands in a transaction.",
            exec,
        ),
        cmd(
            "discard",
            1,
            NOQUEUE | FAST | LOADING | STALE,
            none,
            "transactions",
            "Discards a transaction.",
            discard,
        ),
        cmd(
            "watch",
            -2,
            NOQUEUE | FAST | LOADING | STALE,
            (1, -1, 1),
            "transactions",
            "Monitors changes to keys to determine the execution of a transaction.",
            watch,
        )
        .syntax("key ..."),
        cmd(
            "unwatch",
            1,
            FAST | LOADING | STALE,
            none,
            "transactions",
            "Forgets about watched keys of a transaction.",
            unwatch,
        ),
    ]
}

fn multi(ctx: &mut Ctx<'_>, _a: &[Bytes]) {
    if ctx.client.multi.is_some() {
        return ctx.err("ERR MULTI calls can not be nested");
    }
    ctx.client.multi = Some(Vec::new());
    ctx.client.multi_error = false;
    ctx.client.info.multi.store(0, Ordering::Relaxed);
    ctx.out.ok();
}

pub(crate) fn discard_state(ctx: &mut Ctx<'_>) {
    ctx.client.multi = None;
    ctx.client.multi_error = false;
    ctx.client.info.multi.store(-1, Ordering::Relaxed);
}

fn discard(ctx: &mut Ctx<'_>, _a: &[Bytes]) {
    if ctx.client.multi.is_none() {
        return ctx.err("ERR DISCARD without MULTI");
    }
    discard_state(ctx);
    unwatch_all(ctx.store(), ctx.client);
    ctx.out.ok();
}

fn exec(ctx: &mut Ctx<'_>, _a: &[Bytes]) {
    let Some(queue) = ctx.client.multi.take() else {
        return ctx.err("ERR EXEC without MULTI");
    };
    let aborted = ctx.client.multi_error;
    discard_state(ctx);
    if aborted {
        unwatch_all(ctx.store(), ctx.client);
        return ctx.err("EXECABORT Transaction discarded because of previous errors.");
    }
    let has_write = queue
        .iter()
        .any(|q| lookup(&q[0]).is_some_and(|c| c.flags & WRITE != 0));
    if has_write && ctx.read_only_replica() && !ctx.client.is_master {
        unwatch_all(ctx.store(), ctx.client);
        return ctx.err("EXECABORT Transaction discarded because of: READONLY You can't write against a read only replica.");
    }
    // Decided once for the whole transaction (not per command, where a
    // replica coming or going between two commands would apply half).
    if has_write && !super::enough_good_replicas(ctx) {
        unwatch_all(ctx.store(), ctx.client);
        let why = super::NOREPLICAS;
        return ctx.err(&format!(
            "EXECABORT Transaction discarded because of: {why}"
        ));
    }
    // Take the writer lock before checking WATCH, so no write can slip in
    // between the check and the commands.
    if has_write {
        ctx.tx();
    }
    // Redis's isWatchedKeyExpired: a watched key that is there but
    // expired, and was not already expired when WATCHed.
    let now = ctx.now;
    let store = ctx.store();
    let flag = &ctx.client.watch_dirty;
    let expired_since_watch = ctx.client.watched.iter().any(|(db, k)| {
        store
            .get_meta_raw(*db, k)
            .is_some_and(|m| m.is_expired(now))
            && !store.watches.expired_at_watch(*db as u8, k, flag)
    });
    if ctx.client.watch_dirty.load(Ordering::Acquire) || expired_since_watch {
        ctx.tx = None;
        unwatch_all(ctx.store(), ctx.client);
        return ctx.out.null_array();
    }
    ctx.in_exec = true;
    ctx.exec = Some(super::ExecView::default());
    let mark = ctx.out.buf.len();
    crate::store::take_read_error();
    ctx.out.array(queue.len());
    for args in &queue {
        match lookup(&args[0]) {
            Some(c) => {
                let db = ctx.db();
                let at = ctx.out.buf.len();
                run(ctx, c, args);
                let failed = ctx.out.buf.get(at) == Some(&b'-');
                if let Some(v) = ctx.exec.as_mut() {
                    v.note(c, args, db, failed);
                }
            }
            None => ctx.out.error(&super::unknown_command_error(args)),
        }
        // QUIT/SHUTDOWN inside EXEC act after the reply.
    }
    ctx.exec = None;
    ctx.in_exec = false;
    if let Some(e) = crate::store::take_read_error() {
        // All or nothing: no command of the transaction takes effect.
        ctx.out.buf.truncate(mark);
        ctx.out.error(&format!(
            "EXECABORT Transaction discarded because a storage read failed: {e}"
        ));
        if let Some(tx) = ctx.tx.as_mut() {
            tx.discard_record();
        }
    }
    if let Err(e) = ctx.commit() {
        ctx.out.buf.truncate(mark);
        ctx.out
            .error(&format!("EXECABORT Transaction discarded: {e}"));
    }
    unwatch_all(ctx.store(), ctx.client);
}

fn watch(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    if ctx.client.multi.is_some() {
        return ctx.err("ERR WATCH inside MULTI is not allowed");
    }
    let db = ctx.db();
    let now = ctx.now;
    // As Redis's watchForKey: a key that is there but logically expired
    // is marked, so that its deletion alone does not fail EXEC while its
    // expiring after WATCH does (see `store/watch.rs`). WATCH writes
    // nothing: the key stays until something deletes it. The writer lock
    // keeps a write from landing between the look and the registration.
    ctx.tx();
    for k in &a[1..] {
        if !ctx.client.watched.iter().any(|(d, x)| *d == db && x == k) {
            let expired = ctx
                .store()
                .get_meta_raw(db, k)
                .is_some_and(|m| m.is_expired(now));
            ctx.store()
                .watches
                .watch(db as u8, k.clone(), &ctx.client.watch_dirty, expired);
            ctx.client.watched.push((db, k.clone()));
        }
    }
    ctx.out.ok();
}

fn unwatch(ctx: &mut Ctx<'_>, _a: &[Bytes]) {
    unwatch_all(ctx.store(), ctx.client);
    ctx.out.ok();
}

pub(crate) fn unwatch_all(store: &Store, c: &mut Client) {
    if !c.watched.is_empty() {
        store.watches.unwatch(&c.watched, &c.watch_dirty);
        c.watched.clear();
    }
    c.watch_dirty.store(false, Ordering::Release);
}
