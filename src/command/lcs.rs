//! LCS (Redis 7.0's t_string.c): arguments, the size guard and the
//! replies; the algorithm is `types::lcs`.

use super::{cmd, flags::*, Command, Ctx};
use crate::types::{lcs, string};
use crate::util::{eq_ic, parse_i64};
use bytes::Bytes;

pub(crate) fn commands() -> Vec<Command> {
    vec![cmd(
        "lcs",
        -3,
        READONLY,
        (1, 2, 1),
        "string",
        "Find longest common substring",
        lcs_cmd,
    )
    .syntax("key1 key2 [LEN] [IDX] [MINMATCHLEN min-match-len] [WITHMATCHLEN]")]
}

fn lcs_cmd(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    const NOT_STRINGS: &str = "ERR The specified keys must contain string values";
    let mut db = ctx.data();
    // Redis looks the keys up before it reads the options.
    let (Ok(x), Ok(y)) = (string::get(&mut db, &a[1]), string::get(&mut db, &a[2])) else {
        return ctx.err(NOT_STRINGS);
    };
    let x = x.map(|s| s.value).unwrap_or_default();
    let y = y.map(|s| s.value).unwrap_or_default();
    let (mut idx, mut get_len, mut with_len, mut min_len) = (false, false, false, 0u64);
    let mut j = 3;
    while j < a.len() {
        let more = a.len() - 1 - j;
        let o = &a[j];
        if eq_ic(o, "idx") {
            idx = true;
        } else if eq_ic(o, "len") {
            get_len = true;
        } else if eq_ic(o, "withmatchlen") {
            with_len = true;
        } else if eq_ic(o, "minmatchlen") && more > 0 {
            let Some(n) = parse_i64(&a[j + 1]) else {
                return ctx.not_int();
            };
            min_len = n.max(0) as u64;
            j += 1;
        } else {
            return ctx.syntax_err();
        }
        j += 1;
    }
    if idx && get_len {
        return ctx.err("ERR If you want both the length and indexes, please just use IDX.");
    }
    if x.len() as u64 >= u32::MAX as u64 - 1 || y.len() as u64 >= u32::MAX as u64 - 1 {
        return ctx.err("ERR String too long for LCS");
    }
    // Redis refuses a table bigger than proto-max-bulk-len, whatever the
    // reply asked for.
    let limit = ctx.config().proto_max_bulk_len;
    if lcs::table_bytes(x.len(), y.len()).is_none_or(|n| n > limit) {
        return ctx
            .err("ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len");
    }
    if get_len {
        // The length alone needs two rows, not the table.
        return ctx.out.int(lcs::len(&x, &y) as i64);
    }
    let Some((common, matches)) = lcs::full(&x, &y, min_len) else {
        return ctx.err("ERR Insufficient memory, failed allocating transient memory for LCS");
    };
    if !idx {
        return ctx.out.bulk(&common);
    }
    let out = &mut *ctx.out;
    out.map(2);
    out.bulk(b"matches");
    out.array(matches.len());
    for m in &matches {
        out.array(2 + with_len as usize);
        out.array(2);
        out.int(m.a.0 as i64);
        out.int(m.a.1 as i64);
        out.array(2);
        out.int(m.b.0 as i64);
        out.int(m.b.1 as i64);
        if with_len {
            out.int(m.len as i64);
        }
    }
    out.bulk(b"len");
    out.int(common.len() as i64);
}
