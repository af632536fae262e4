//! SORT and SORT_RO (Redis's sort.c): arguments in Redis's order and
//! replies; what is sorted and how is `types::sort`.

use super::{cmd, flags::*, Command, Ctx};
use crate::notify::Ev;
use crate::types::sort::{self, SortError, Spec};
use crate::util::{eq_ic, parse_i64};
use bytes::Bytes;

pub(crate) fn commands() -> Vec<Command> {
    let k1 = (1, 1, 1);
    vec![
        cmd("sort", -2, WRITE, k1, "generic", "Sort the elements in a list, set or sorted set", sort_cmd)
        .syntax("key [BY pattern] [LIMIT offset count] [GET pattern ...] [ASC|DESC] [ALPHA] [STORE destination]")
        .keys_by(store_key),
        cmd("sort_ro", -2, READONLY, k1, "generic", "Sort the elements in a list, set or sorted set. Read-only variant of SORT.", sort_ro)
        .syntax("key [BY pattern] [LIMIT offset count] [GET pattern ...] [ASC|DESC] [ALPHA]")
        // Redis marks it movablekeys too (BY and GET name keys it cannot
        // list); the sort key is its only key.
        .keys_by(|_| Vec::new()),
    ]
}

/// SORT's STORE destination (Redis's `sortGetKeys`): the last STORE's
/// argument, skipping the arguments of LIMIT, GET and BY.
pub(super) fn store_key(args: &[Bytes]) -> Vec<usize> {
    let mut found = None;
    let mut i = 2;
    while i < args.len() {
        let a = &args[i];
        if eq_ic(a, "limit") {
            i += 2;
        } else if eq_ic(a, "get") || eq_ic(a, "by") {
            i += 1;
        } else if eq_ic(a, "store") && i + 1 < args.len() {
            found = Some(i + 1);
        }
        i += 1;
    }
    found.into_iter().collect()
}

fn sort_cmd(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    run(ctx, a, false)
}

fn sort_ro(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    run(ctx, a, true)
}

fn run(ctx: &mut Ctx<'_>, a: &[Bytes], readonly: bool) {
    let mut spec = Spec {
        by: None,
        dontsort: false,
        desc: false,
        alpha: false,
        offset: 0,
        count: -1,
        store: false,
        script: ctx.in_exec && ctx.scripts().running(),
    };
    let mut gets: Vec<&Bytes> = Vec::new();
    let mut store: Option<&Bytes> = None;
    let mut j = 2;
    while j < a.len() {
        let left = a.len() - j - 1;
        let o = &a[j];
        if eq_ic(o, "asc") {
            spec.desc = false;
        } else if eq_ic(o, "desc") {
            spec.desc = true;
        } else if eq_ic(o, "alpha") {
            spec.alpha = true;
        } else if eq_ic(o, "limit") && left >= 2 {
            match (parse_i64(&a[j + 1]), parse_i64(&a[j + 2])) {
                (Some(s), Some(c)) => (spec.offset, spec.count) = (s, c),
                _ => return ctx.not_int(),
            }
            j += 2;
        } else if !readonly && eq_ic(o, "store") && left >= 1 {
            store = Some(&a[j + 1]);
            j += 1;
        } else if eq_ic(o, "by") && left >= 1 {
            // Once a BY without `*` was seen, Redis does not sort.
            spec.dontsort |= !sort::is_pattern(&a[j + 1]);
            spec.by = Some(a[j + 1].clone());
            j += 1;
        } else if eq_ic(o, "get") && left >= 1 {
            gets.push(&a[j + 1]);
            j += 1;
        } else {
            return ctx.syntax_err();
        }
        j += 1;
    }
    spec.store = store.is_some();
    let mut db = ctx.data();
    if store.is_some() {
        // Read what is stored under the writer lock.
        db.tx();
    }
    crate::types::zset::convert_for_sort(&mut db, &a[1]);
    let picked = match sort::sort(&mut db, &a[1], &spec) {
        Ok(v) => v,
        Err(SortError::Type(e)) => return ctx.err(e.reply()),
        Err(SortError::NotDouble) => {
            return ctx.err("ERR One or more scores can't be converted into double")
        }
    };
    // One row per element: the element itself, or one value per GET.
    let mut rows: Vec<Option<Bytes>> = Vec::new();
    for e in &picked {
        if gets.is_empty() {
            rows.push(Some(e.clone()));
        }
        for g in &gets {
            rows.push(sort::lookup(&mut db, g, e));
        }
    }
    match store {
        Some(dst) => {
            let items: Vec<Bytes> = rows.into_iter().map(Option::unwrap_or_default).collect();
            let n = db.db;
            let existed = db.tx().get(n, dst).is_some();
            crate::types::list::replace(&mut db, dst, &items);
            if !items.is_empty() {
                ctx.notify(Ev::Sortstore, dst);
            } else if existed {
                ctx.notify(Ev::Del, dst);
            }
            ctx.out.int(items.len() as i64);
        }
        None => {
            ctx.out.array(rows.len());
            for r in rows {
                match r {
                    Some(v) => ctx.out.bulk(&v),
                    None => ctx.out.null(),
                }
            }
        }
    }
}
