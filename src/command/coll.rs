//! What the collection commands (hash, set, sorted set, list) share in
//! their arguments and replies: the pop count, and HSCAN / SSCAN / ZSCAN.
//! The storage they share is in `types/coll.rs`.

use super::Ctx;
use crate::glob::glob_match;
use crate::store::keys::{Kind, Meta};
use crate::util::{eq_ic, parse_i64};
use bytes::Bytes;

/// The optional count of SPOP / LPOP / RPOP / ZPOPMIN / ZPOPMAX (`a[2]`):
/// Err after answering Redis's error for a negative or non-numeric one.
pub(crate) fn pop_count(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Option<u64>, ()> {
    match a.get(2) {
        Some(c) => match parse_i64(c) {
            Some(n) if n >= 0 => Ok(Some(n as u64)),
            _ => {
                ctx.err("ERR value is out of range, must be positive");
                Err(())
            }
        },
        None => Ok(None),
    }
}

/// HSCAN / SSCAN: `KEY CURSOR [MATCH p] [COUNT n]` (HSCAN also takes
/// NOVALUES). Cursors map to the last element returned. Redis's order of
/// checks: the cursor, then the key (missing: an empty scan whatever the
/// options), then its type, then the options.
pub(crate) fn scan(ctx: &mut Ctx<'_>, a: &[Bytes], kind: Kind) {
    scan_under(ctx, a, kind, |_| &[], |v| v.clone());
}

/// The scan of the elements whose names start with `tag(metadata)` (the
/// tag not shown), values shown through `value` (not at all for sets):
/// ZSCAN walks a sorted set's member elements and prints their scores,
/// SSCAN a set's member elements.
pub(crate) fn scan_under(
    ctx: &mut Ctx<'_>,
    a: &[Bytes],
    kind: Kind,
    tag: impl Fn(&Meta) -> &'static [u8],
    value: impl Fn(&Bytes) -> Bytes,
) {
    let Some(cursor) = std::str::from_utf8(&a[2])
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
    else {
        return ctx.err("ERR invalid cursor");
    };
    let m = match ctx.data().get_kind(kind, &a[1]) {
        Ok(m) => m,
        Err(e) => return ctx.err(e.reply()),
    };
    let Some(m) = m else {
        ctx.out.array(2);
        ctx.out.bulk(b"0");
        ctx.out.array(0);
        return;
    };
    let mut pattern: Option<Bytes> = None;
    let mut count = 10usize;
    let mut values = kind != Kind::Set;
    let mut i = 3;
    while i < a.len() {
        if eq_ic(&a[i], "match") && i + 1 < a.len() {
            // Redis skips a pattern of just `*`, so it shows the empty
            // name, which no pattern matches.
            pattern = (&a[i + 1][..] != b"*").then(|| a[i + 1].clone());
            i += 2;
        } else if eq_ic(&a[i], "count") && i + 1 < a.len() {
            match parse_i64(&a[i + 1]) {
                Some(n) if n >= 1 => count = n.min(1 << 20) as usize,
                Some(_) => return ctx.syntax_err(),
                None => return ctx.not_int(),
            }
            i += 2;
        } else if kind == Kind::Hash && eq_ic(&a[i], "novalues") {
            values = false;
            i += 1;
        } else {
            return ctx.syntax_err();
        }
    }
    let mut p = ctx.data().prefix(&a[1], &m);
    p.extend_from_slice(tag(&m));
    let after = if cursor == 0 {
        None
    } else {
        ctx.cursors().get(cursor)
    };
    let (items, more) = ctx.data().page(&p, after.as_deref(), count);
    let next = match (more, items.last()) {
        (true, Some((f, _))) => ctx.cursors().put(f.clone()),
        _ => 0,
    };
    let items: Vec<(Bytes, Bytes)> = items
        .into_iter()
        .filter(|(f, _)| pattern.as_ref().is_none_or(|p| glob_match(p, f, false)))
        .collect();
    ctx.out.array(2);
    ctx.out.bulk(next.to_string().as_bytes());
    ctx.out.array(items.len() * if values { 2 } else { 1 });
    for (f, v) in items {
        ctx.out.bulk(&f);
        if values {
            ctx.out.bulk(&value(&v));
        }
    }
}
