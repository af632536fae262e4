//! What blocking commands (BLPOP, BLMOVE, BLMPOP, BZPOPMIN...) share: the
//! timeout argument and the decision to block. A blocking command first
//! runs like its non-blocking form; when every key is empty it asks the
//! connection to wait (`Action::Block`, served in `server/blocked.rs`),
//! which runs it again each time one of the keys gets a value.

use super::{Action, Ctx};
use bytes::Bytes;
use std::time::{Duration, Instant};

/// A timeout in seconds (a float, 0 = forever), as Redis parses it: the
/// deadline, or Err after answering the error.
pub(crate) fn parse_timeout(ctx: &mut Ctx<'_>, a: &[u8]) -> Result<Option<Instant>, ()> {
    let Some(secs) = crate::util::parse_f64(a).filter(|v| !v.is_nan()) else {
        ctx.err("ERR timeout is not a float or out of range");
        return Err(());
    };
    let ms = (secs * 1000.0).ceil();
    if ms > i64::MAX as f64 || ms > (i64::MAX - ctx.now) as f64 {
        ctx.err("ERR timeout is out of range");
        return Err(());
    }
    if ms < 0.0 {
        ctx.err("ERR timeout is negative");
        return Err(());
    }
    if ms == 0.0 {
        return Ok(None);
    }
    // Far deadlines (years) are as good as none; Instant cannot hold them all.
    Ok(Instant::now().checked_add(Duration::from_millis(ms as u64)))
}

/// Nothing to serve: inside MULTI/EXEC answer a null at once (Redis does
/// not block there; a null array for the commands that answer arrays),
/// else wait for `keys`.
pub(crate) fn block(
    ctx: &mut Ctx<'_>,
    keys: &[Bytes],
    deadline: Option<Instant>,
    args: &[Bytes],
    null_array: bool,
) {
    if ctx.in_exec {
        if null_array {
            ctx.out.null_array();
        } else {
            ctx.out.null();
        }
        return;
    }
    let db = ctx.db();
    ctx.action = Some(Action::Block {
        keys: keys.iter().map(|k| (db, k.clone())).collect(),
        deadline,
        args: args.to_vec(),
    });
}

/// What a blocking command answers when its time is up: a null array,
/// whatever the command (Redis 7.0's `replyToBlockedClientTimedOut`).
pub(crate) fn timeout_reply(out: &mut crate::resp::Out) {
    out.null_array();
}
