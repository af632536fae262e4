//! SWAPDB: two logical databases exchange their physical slots, O(1)
//! (`store/slots.rs`).

use super::{cmd, flags::*, Command, Ctx};
use crate::util::parse_i64;
use bytes::Bytes;

pub(crate) fn commands() -> Vec<Command> {
    vec![cmd(
        "swapdb",
        3,
        WRITE | FAST,
        (0, 0, 0),
        "server",
        "Swaps two Redis databases",
        swapdb,
    )
    .syntax("index1 index2")]
}

fn swapdb(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    // Redis's getIntFromObjectOrReply with its own messages.
    let index = |s: &[u8]| parse_i64(s).filter(|n| i32::try_from(*n).is_ok());
    let Some(x) = index(&a[1]) else {
        return ctx.err("ERR invalid first DB index");
    };
    let Some(y) = index(&a[2]) else {
        return ctx.err("ERR invalid second DB index");
    };
    let n = ctx.store().databases as i64;
    if !(0..n).contains(&x) || !(0..n).contains(&y) {
        return ctx.err("ERR DB index is out of range");
    }
    // The same database twice changes nothing and touches nothing.
    if x != y {
        ctx.tx().swap_dbs(x as usize, y as usize);
    }
    ctx.out.ok();
}
