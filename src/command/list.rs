//! List commands (Redis's t_list.c). A list is a metadata entry (version,
//! length, head index) plus one sled key per item, named by its index as a
//! u64 BE: items are `head .. head + len`, so LINDEX and LSET are one
//! lookup, LRANGE one seek, and pushes/pops at either end touch one item.
//! Inserting or removing in the middle moves the items of the shorter side.

use super::{blocking, cmd, coll, flags::*, int_arg, Command, Ctx};
use crate::store::keys::{sub_key, Kind, Meta, LIST_MIDDLE};
use crate::store::{Store, WriteTx};
use crate::util::{eq_ic, parse_i64};
use bytes::Bytes;

/// One item as the dump tool shows a WAL effect on it: its slot, counted
/// from where the list's first push went (negative: pushed on the left).
pub fn describe_field(field: &[u8]) -> String {
    match <[u8; 8]>::try_from(field) {
        Ok(b) => format!(
            "item slot {}",
            u64::from_be_bytes(b).wrapping_sub(LIST_MIDDLE) as i64
        ),
        Err(_) => format!("element {}", crate::dump::show(field)),
    }
}

pub fn commands() -> Vec<Command> {
    let k1 = (1, 1, 1);
    let k2 = (1, 2, 1);
    vec![
        cmd("lpush", -3, WRITE | FAST, k1, "list", "Prepends one or more elements to a list. Creates the key if it doesn't exist.", lpush),
        cmd("rpush", -3, WRITE | FAST, k1, "list", "Appends one or more elements to a list. Creates the key if it doesn't exist.", rpush),
        cmd("lpushx", -3, WRITE | FAST, k1, "list", "Prepends one or more elements to a list only when the list exists.", lpushx),
        cmd("rpushx", -3, WRITE | FAST, k1, "list", "Appends an element to a list only when the list exists.", rpushx),
        cmd("lpop", -2, WRITE | FAST, k1, "list", "Returns the first elements in a list after removing it. Deletes the list if the last element was popped.", lpop),
        cmd("rpop", -2, WRITE | FAST, k1, "list", "Returns and removes the last elements of a list. Deletes the list if the last element was popped.", rpop),
        cmd("llen", 2, READONLY | FAST, k1, "list", "Returns the length of a list.", llen),
        cmd("lrange", 4, READONLY, k1, "list", "Returns a range of elements from a list.", lrange),
        cmd("lindex", 3, READONLY, k1, "list", "Returns an element from a list by its index.", lindex),
        cmd("lset", 4, WRITE, k1, "list", "Sets the value of an element in a list by its index.", lset),
        cmd("linsert", 5, WRITE, k1, "list", "Inserts an element before or after another element in a list.", linsert),
        cmd("lrem", 4, WRITE, k1, "list", "Removes elements from a list. Deletes the list if the last element was removed.", lrem),
        cmd("ltrim", 4, WRITE, k1, "list", "Removes elements from both ends a list. Deletes the list if all elements were trimmed.", ltrim),
        cmd("lpos", -3, READONLY, k1, "list", "Returns the index of matching elements in a list.", lpos),
        cmd("lmove", 5, WRITE, k2, "list", "Returns an element after popping it from one list and pushing it to another. Deletes the list if the last element was moved.", lmove),
        cmd("rpoplpush", 3, WRITE, k2, "list", "Returns the last element of a list after removing and pushing it to another list. Deletes the list if the last element was popped.", rpoplpush),
        cmd("lmpop", -4, WRITE, (0, 0, 0), "list", "Returns multiple elements from a list after removing them. Deletes the list if the last element was popped.", lmpop).numkeys_at(1),
        cmd("blpop", -3, WRITE, (1, -2, 1), "list", "Removes and returns the first element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.", blpop),
        cmd("brpop", -3, WRITE, (1, -2, 1), "list", "Removes and returns the last element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.", brpop),
        cmd("blmove", 6, WRITE, k2, "list", "Pops an element from a list, pushes it to another list and returns it. Blocks until an element is available otherwise. Deletes the list if the last element was moved.", blmove),
        cmd("brpoplpush", 4, WRITE, k2, "list", "Pops an element from a list, pushes it to another list and returns it. Block until an element is available otherwise. Deletes the list if the last element was popped.", brpoplpush),
        cmd("blmpop", -5, WRITE, (0, 0, 0), "list", "Pops the first element from one of multiple lists. Blocks until an element is available otherwise. Deletes the list if the last element was popped.", blmpop).numkeys_at(2),
    ]
}

/// An open list: where its items live and which indices they use.
struct List {
    version: u64,
    len: u64,
    head: u64,
    expire_at: Option<i64>,
    prefix: Vec<u8>,
}

impl List {
    fn key_of(&self, i: u64) -> Bytes {
        sub_key(&self.prefix, &(self.head.wrapping_add(i)).to_be_bytes())
    }
}

fn open_meta(ctx: &mut Ctx<'_>, db: usize, key: &[u8], m: &Meta) -> List {
    let (version, len) = m.coll();
    List {
        version,
        len,
        head: m.list_head(),
        expire_at: m.expire_at,
        prefix: coll::prefix_in(ctx, db, key, m),
    }
}

/// The list at `key` for a read; Err after answering WRONGTYPE.
fn read(ctx: &mut Ctx<'_>, key: &[u8]) -> Result<Option<List>, ()> {
    let m = coll::get(ctx, Kind::List, key)?;
    let db = ctx.db();
    Ok(m.map(|m| open_meta(ctx, db, key, &m)))
}

/// The list at `key` in `db` for a write (opens the transaction).
fn write_in(ctx: &mut Ctx<'_>, db: usize, key: &[u8]) -> Result<Option<List>, ()> {
    let m = match ctx.tx().get(db, key) {
        Some(m) if m.kind != Kind::List => {
            ctx.wrongtype();
            return Err(());
        }
        m => m,
    };
    Ok(m.map(|m| open_meta(ctx, db, key, &m)))
}

fn write(ctx: &mut Ctx<'_>, key: &[u8]) -> Result<Option<List>, ()> {
    let db = ctx.db();
    write_in(ctx, db, key)
}

/// A new, empty list at `key` in `db`.
fn create_in(ctx: &mut Ctx<'_>, db: usize, key: &[u8]) -> List {
    let version = ctx.tx().new_version();
    let m = Meta::list(version, 0, LIST_MIDDLE, None);
    open_meta(ctx, db, key, &m)
}

/// Writes the metadata, or deletes the key once the list is empty.
fn save_in(ctx: &mut Ctx<'_>, db: usize, key: &[u8], l: &List) {
    if l.len == 0 {
        ctx.tx().delete(db, key);
    } else {
        let m = Meta::list(l.version, l.len, l.head, l.expire_at);
        ctx.tx().put(db, key, &m);
    }
}

fn save(ctx: &mut Ctx<'_>, key: &[u8], l: &List) {
    let db = ctx.db();
    save_in(ctx, db, key, l)
}

fn item(ctx: &mut Ctx<'_>, l: &List, i: u64) -> Option<Bytes> {
    let k = l.key_of(i);
    match ctx.tx.as_mut() {
        Some(tx) => tx.sub_get(&k),
        None => ctx.srv.store.raw_get(&k),
    }
}

/// Items `start .. start + count` (clamped to the list), in order: one
/// seek, then a scan.
fn items(ctx: &mut Ctx<'_>, l: &List, start: u64, count: u64) -> Vec<Bytes> {
    let mut out = Vec::new();
    each_item(&mut ctx.tx, &ctx.srv.store, l, start, count, |v| {
        out.push(v.clone())
    });
    out
}

/// Calls `f` with the values at positions `start..start + count` in order;
/// returns how many there were.
fn each_item(
    tx: &mut Option<WriteTx>,
    store: &std::sync::Arc<Store>,
    l: &List,
    start: u64,
    count: u64,
    mut f: impl FnMut(&Bytes),
) -> usize {
    let end = start.saturating_add(count).min(l.len);
    if start >= end {
        return 0;
    }
    let want = (end - start) as usize;
    let mut n = 0;
    let first = l.head.wrapping_add(start);
    let mut after: Option<[u8; 8]> = first.checked_sub(1).map(u64::to_be_bytes);
    while n < want {
        let page = (want - n).clamp(16, 4096);
        // The page's last field: None if it had none, Some(None) if that
        // one is not an index (then stop rather than read it again).
        let mut last: Option<Option<[u8; 8]>> = None;
        let more = coll::page_each(
            tx,
            store,
            &l.prefix,
            after.as_ref().map(|a| &a[..]),
            page,
            |field, v| {
                let b = <[u8; 8]>::try_from(field).ok();
                last = Some(b);
                let Some(b) = b else { return };
                let i = u64::from_be_bytes(b).wrapping_sub(l.head);
                if i >= start && i < end && n < want {
                    f(v);
                    n += 1;
                }
            },
        );
        let Some(Some(b)) = last else {
            break;
        };
        if !more || u64::from_be_bytes(b).wrapping_sub(l.head) >= end.saturating_sub(1) {
            break;
        }
        after = Some(b);
    }
    n
}

/// Adds `values` at one end, creating the list unless `only_existing`;
/// the new length (0 when nothing was done), None after WRONGTYPE.
fn push_in(
    ctx: &mut Ctx<'_>,
    db: usize,
    key: &[u8],
    values: &[Bytes],
    left: bool,
    only_existing: bool,
) -> Option<u64> {
    let l = write_in(ctx, db, key).ok()?;
    let mut l = match l {
        Some(l) => l,
        None if only_existing => return Some(0),
        None => create_in(ctx, db, key),
    };
    for v in values {
        if left {
            l.head = l.head.wrapping_sub(1);
            let k = l.key_of(0);
            ctx.tx().sub_put(k, v.clone());
        } else {
            let k = l.key_of(l.len);
            ctx.tx().sub_put(k, v.clone());
        }
        l.len += 1;
    }
    save_in(ctx, db, key, &l);
    Some(l.len)
}

fn push_cmd(ctx: &mut Ctx<'_>, a: &[Bytes], left: bool, only_existing: bool) {
    let db = ctx.db();
    if let Some(n) = push_in(ctx, db, &a[1], &a[2..], left, only_existing) {
        ctx.out.int(n as i64);
    }
}

fn lpush(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    push_cmd(ctx, a, true, false)
}

fn rpush(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    push_cmd(ctx, a, false, false)
}

fn lpushx(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    push_cmd(ctx, a, true, true)
}

fn rpushx(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    push_cmd(ctx, a, false, true)
}

/// Removes up to `n` items from one end of an existing list, in pop order.
fn pop_items(ctx: &mut Ctx<'_>, key: &[u8], l: &mut List, left: bool, n: u64) -> Vec<Bytes> {
    let n = n.min(l.len);
    let start = if left { 0 } else { l.len - n };
    // A few items are point lookups; a range read costs more than that.
    let mut got = if n <= 8 {
        (start..start + n).filter_map(|i| item(ctx, l, i)).collect()
    } else {
        items(ctx, l, start, n)
    };
    for i in start..start + n {
        let k = l.key_of(i);
        ctx.tx().sub_del(k);
    }
    if left {
        l.head = l.head.wrapping_add(n);
    } else {
        got.reverse();
    }
    l.len -= n;
    save(ctx, key, l);
    got
}

/// Pops up to `n` items from `key`: None if there is no such key, Err
/// after WRONGTYPE. Shared with the blocking forms.
fn pop(ctx: &mut Ctx<'_>, key: &[u8], left: bool, n: u64) -> Result<Option<Vec<Bytes>>, ()> {
    let Some(mut l) = write(ctx, key)? else {
        return Ok(None);
    };
    Ok(Some(pop_items(ctx, key, &mut l, left, n)))
}

/// LPOP / RPOP key [count].
fn pop_cmd(ctx: &mut Ctx<'_>, a: &[Bytes], left: bool) {
    if a.len() > 3 {
        let name = if left { "lpop" } else { "rpop" };
        return ctx.err(&format!(
            "ERR wrong number of arguments for '{name}' command"
        ));
    }
    let Ok(count) = coll::pop_count(ctx, a) else {
        return;
    };
    let Ok(found) = write(ctx, &a[1]) else {
        return;
    };
    let Some(mut l) = found else {
        return match count {
            Some(_) => ctx.out.null_array(),
            None => ctx.out.null(),
        };
    };
    match count {
        None => {
            let v = pop_items(ctx, &a[1], &mut l, left, 1);
            ctx.out.bulk_opt(v.first().map(|v| &v[..]));
        }
        Some(n) => {
            let v = pop_items(ctx, &a[1], &mut l, left, n);
            ctx.out.array(v.len());
            for x in &v {
                ctx.out.bulk(x);
            }
        }
    }
}

fn lpop(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    pop_cmd(ctx, a, true)
}

fn rpop(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    pop_cmd(ctx, a, false)
}

fn llen(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    if let Ok(l) = read(ctx, &a[1]) {
        ctx.out.int(l.map_or(0, |l| l.len as i64));
    }
}

/// Redis's index rules: negative counts from the end; the result may still
/// be out of range.
fn resolve(i: i64, len: u64) -> i64 {
    if i < 0 {
        (len as i64).saturating_add(i)
    } else {
        i
    }
}

fn lrange(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let Some(start) = int_arg(ctx, &a[2]) else {
        return;
    };
    let Some(stop) = int_arg(ctx, &a[3]) else {
        return;
    };
    let Ok(l) = read(ctx, &a[1]) else {
        return;
    };
    let Some(l) = l else {
        return ctx.out.array(0);
    };
    let start = resolve(start, l.len).max(0);
    let stop = resolve(stop, l.len).min(l.len as i64 - 1);
    if start > stop || start as u64 >= l.len {
        return ctx.out.array(0);
    }
    // Straight from the store's pairs into the reply.
    let (tx, store) = (&mut ctx.tx, &ctx.srv.store);
    ctx.out.array_of(|out| {
        each_item(
            tx,
            store,
            &l,
            start as u64,
            (stop - start + 1) as u64,
            |v| out.bulk(v),
        )
    });
}

/// LINDEX and LSET look at the key before the index (Redis's order).
fn lindex(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let Ok(l) = read(ctx, &a[1]) else {
        return;
    };
    let Some(l) = l else {
        return ctx.out.null();
    };
    let Some(i) = int_arg(ctx, &a[2]) else {
        return;
    };
    let v = Some(l).and_then(|l| {
        let i = resolve(i, l.len);
        if i < 0 || i as u64 >= l.len {
            None
        } else {
            item(ctx, &l, i as u64)
        }
    });
    ctx.out.bulk_opt(v.as_deref());
}

fn lset(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let Ok(l) = write(ctx, &a[1]) else {
        return;
    };
    let Some(l) = l else {
        return ctx.err("ERR no such key");
    };
    let Some(i) = int_arg(ctx, &a[2]) else {
        return;
    };
    let i = resolve(i, l.len);
    if i < 0 || i as u64 >= l.len {
        return ctx.err("ERR index out of range");
    }
    let k = l.key_of(i as u64);
    ctx.tx().sub_put(k, a[3].clone());
    // The metadata is rewritten so WATCH sees the change.
    save(ctx, &a[1], &l);
    ctx.out.ok();
}

/// Index of the first item equal to `pivot`, scanning from the head.
fn find(ctx: &mut Ctx<'_>, l: &List, pivot: &[u8]) -> Option<u64> {
    let mut at = 0;
    while at < l.len {
        let chunk = items(ctx, l, at, 512);
        if chunk.is_empty() {
            return None;
        }
        if let Some(p) = chunk.iter().position(|v| v[..] == *pivot) {
            return Some(at + p as u64);
        }
        at += chunk.len() as u64;
    }
    None
}

fn linsert(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let after = if eq_ic(&a[2], "after") {
        true
    } else if eq_ic(&a[2], "before") {
        false
    } else {
        return ctx.syntax_err();
    };
    let Ok(l) = write(ctx, &a[1]) else {
        return;
    };
    let Some(mut l) = l else {
        return ctx.out.int(0);
    };
    let Some(p) = find(ctx, &l, &a[3]) else {
        return ctx.out.int(-1);
    };
    // The new item goes to index q; the shorter side moves by one.
    let q = p + after as u64;
    if q <= l.len - q {
        let moved = items(ctx, &l, 0, q);
        l.head = l.head.wrapping_sub(1);
        for (i, v) in moved.into_iter().enumerate() {
            let k = l.key_of(i as u64);
            ctx.tx().sub_put(k, v);
        }
    } else {
        let moved = items(ctx, &l, q, l.len - q);
        for (i, v) in moved.into_iter().enumerate().rev() {
            let k = l.key_of(q + 1 + i as u64);
            ctx.tx().sub_put(k, v);
        }
    }
    let k = l.key_of(q);
    ctx.tx().sub_put(k, a[4].clone());
    l.len += 1;
    save(ctx, &a[1], &l);
    ctx.out.int(l.len as i64);
}

/// Replaces the whole list by `kept` (the old items minus some), moving the
/// fewer items: either keep the head where it is, or the tail.
fn rewrite(ctx: &mut Ctx<'_>, key: &[u8], l: &mut List, old: &[Bytes], kept: Vec<Bytes>) {
    let n = old.len() as u64;
    let r = n - kept.len() as u64;
    let same_head = kept
        .iter()
        .enumerate()
        .filter(|(j, v)| old[*j] != **v)
        .count();
    let same_tail = kept
        .iter()
        .enumerate()
        .filter(|(j, v)| old[j + r as usize] != **v)
        .count();
    if same_head <= same_tail {
        for (j, v) in kept.iter().enumerate() {
            if old[j] != *v {
                let k = l.key_of(j as u64);
                ctx.tx().sub_put(k, v.clone());
            }
        }
        for i in n - r..n {
            let k = l.key_of(i);
            ctx.tx().sub_del(k);
        }
    } else {
        for i in 0..r {
            let k = l.key_of(i);
            ctx.tx().sub_del(k);
        }
        l.head = l.head.wrapping_add(r);
        for (j, v) in kept.iter().enumerate() {
            if old[j + r as usize] != *v {
                let k = l.key_of(j as u64);
                ctx.tx().sub_put(k, v.clone());
            }
        }
    }
    l.len = kept.len() as u64;
    save(ctx, key, l);
}

fn lrem(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let Some(count) = int_arg(ctx, &a[2]) else {
        return;
    };
    let Ok(l) = write(ctx, &a[1]) else {
        return;
    };
    let Some(mut l) = l else {
        return ctx.out.int(0);
    };
    let old = items(ctx, &l, 0, l.len);
    let limit = if count == 0 {
        u64::MAX
    } else {
        count.unsigned_abs()
    };
    let mut drop = vec![false; old.len()];
    let mut removed = 0u64;
    let order: Box<dyn Iterator<Item = usize>> = if count < 0 {
        Box::new((0..old.len()).rev())
    } else {
        Box::new(0..old.len())
    };
    for i in order {
        if removed == limit {
            break;
        }
        if old[i] == a[3] {
            drop[i] = true;
            removed += 1;
        }
    }
    if removed > 0 {
        let kept: Vec<Bytes> = old
            .iter()
            .zip(&drop)
            .filter(|(_, d)| !**d)
            .map(|(v, _)| v.clone())
            .collect();
        rewrite(ctx, &a[1], &mut l, &old, kept);
    }
    ctx.out.int(removed as i64);
}

fn ltrim(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let Some(start) = int_arg(ctx, &a[2]) else {
        return;
    };
    let Some(stop) = int_arg(ctx, &a[3]) else {
        return;
    };
    let Ok(l) = write(ctx, &a[1]) else {
        return;
    };
    let Some(mut l) = l else {
        return ctx.out.ok();
    };
    let len = l.len as i64;
    let start = resolve(start, l.len).max(0);
    let stop = resolve(stop, l.len);
    // Items kept: [start, stop] clamped; none if the range is empty.
    let (keep_from, keep_to) = if start > stop || start >= len {
        (0, 0)
    } else {
        (start as u64, (stop.min(len - 1) + 1) as u64)
    };
    if keep_from == 0 && keep_to == l.len {
        return ctx.out.ok();
    }
    for i in (0..keep_from).chain(keep_to..l.len) {
        let k = l.key_of(i);
        ctx.tx().sub_del(k);
    }
    l.head = l.head.wrapping_add(keep_from);
    l.len = keep_to - keep_from;
    save(ctx, &a[1], &l);
    ctx.out.ok();
}

fn lpos(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let mut rank: i64 = 1;
    let mut count: Option<u64> = None;
    let mut maxlen: u64 = 0;
    let mut i = 3;
    while i < a.len() {
        let Some(v) = a.get(i + 1) else {
            return ctx.syntax_err();
        };
        if eq_ic(&a[i], "rank") {
            let Some(r) = int_arg(ctx, v) else {
                return;
            };
            if r == 0 {
                return ctx.err("ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list");
            }
            if r == i64::MIN {
                return ctx.err("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807");
            }
            rank = r;
        } else if eq_ic(&a[i], "count") {
            // Not a number reads as negative, as in Redis.
            match parse_i64(v) {
                Some(c) if c >= 0 => count = Some(c as u64),
                _ => return ctx.err("ERR COUNT can't be negative"),
            }
        } else if eq_ic(&a[i], "maxlen") {
            match parse_i64(v) {
                Some(m) if m >= 0 => maxlen = m as u64,
                _ => return ctx.err("ERR MAXLEN can't be negative"),
            }
        } else {
            return ctx.syntax_err();
        }
        i += 2;
    }
    let Ok(l) = read(ctx, &a[1]) else {
        return;
    };
    let Some(l) = l else {
        return match count {
            Some(_) => ctx.out.array(0),
            None => ctx.out.null(),
        };
    };
    let want = match count {
        Some(0) => u64::MAX,
        Some(c) => c,
        None => 1,
    };
    let mut skip = rank.unsigned_abs() - 1;
    let scan = if maxlen == 0 {
        l.len
    } else {
        maxlen.min(l.len)
    };
    let mut found: Vec<u64> = Vec::new();
    let mut seen = 0u64;
    // Chunks from the head, or from the tail for a negative rank.
    while seen < scan && (found.len() as u64) < want {
        let n = (scan - seen).min(512);
        let start = if rank > 0 { seen } else { l.len - seen - n };
        let mut chunk: Vec<(u64, Bytes)> = items(ctx, &l, start, n)
            .into_iter()
            .enumerate()
            .map(|(j, v)| (start + j as u64, v))
            .collect();
        if chunk.is_empty() {
            break;
        }
        if rank < 0 {
            chunk.reverse();
        }
        for (idx, v) in chunk {
            if v[..] == a[2][..] {
                if skip > 0 {
                    skip -= 1;
                } else if (found.len() as u64) < want {
                    found.push(idx);
                }
            }
        }
        seen += n;
    }
    match count {
        Some(_) => {
            ctx.out.array(found.len());
            for i in found {
                ctx.out.int(i as i64);
            }
        }
        None => match found.first() {
            Some(i) => ctx.out.int(*i as i64),
            None => ctx.out.null(),
        },
    }
}

fn side(a: &[u8]) -> Option<bool> {
    if eq_ic(a, "left") {
        Some(true)
    } else if eq_ic(a, "right") {
        Some(false)
    } else {
        None
    }
}

/// LMOVE's work: None if the source is empty, Err after WRONGTYPE.
fn move_one(
    ctx: &mut Ctx<'_>,
    src: &[u8],
    dst: &[u8],
    from_left: bool,
    to_left: bool,
) -> Result<Option<Bytes>, ()> {
    let Some(mut s) = write(ctx, src)? else {
        return Ok(None);
    };
    let db = ctx.db();
    // The destination's type is checked before anything moves.
    write_in(ctx, db, dst)?;
    let v = pop_items(ctx, src, &mut s, from_left, 1);
    let Some(v) = v.into_iter().next() else {
        return Ok(None);
    };
    push_in(ctx, db, dst, std::slice::from_ref(&v), to_left, false);
    Ok(Some(v))
}

fn lmove(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let (Some(from), Some(to)) = (side(&a[3]), side(&a[4])) else {
        return ctx.syntax_err();
    };
    if let Ok(v) = move_one(ctx, &a[1], &a[2], from, to) {
        ctx.out.bulk_opt(v.as_deref());
    }
}

fn rpoplpush(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    if let Ok(v) = move_one(ctx, &a[1], &a[2], false, true) {
        ctx.out.bulk_opt(v.as_deref());
    }
}

/// `numkeys key... LEFT|RIGHT [COUNT n]` of LMPOP / BLMPOP, from `a[at]`.
fn mpop_args(ctx: &mut Ctx<'_>, a: &[Bytes], at: usize) -> Option<(Vec<Bytes>, bool, u64)> {
    let n = match parse_i64(&a[at]) {
        Some(n) if n > 0 => n as usize,
        Some(_) => {
            ctx.err("ERR numkeys should be greater than 0");
            return None;
        }
        None => {
            ctx.err("ERR numkeys should be greater than 0");
            return None;
        }
    };
    let keys_end = at + 1 + n;
    if keys_end >= a.len() {
        ctx.syntax_err();
        return None;
    }
    let keys = a[at + 1..keys_end].to_vec();
    let Some(left) = side(&a[keys_end]) else {
        ctx.syntax_err();
        return None;
    };
    let mut count = 1;
    let mut i = keys_end + 1;
    let mut seen_count = false;
    while i < a.len() {
        if eq_ic(&a[i], "count") && i + 1 < a.len() && !seen_count {
            match parse_i64(&a[i + 1]) {
                Some(c) if c > 0 => count = c as u64,
                _ => {
                    ctx.err("ERR count should be greater than 0");
                    return None;
                }
            }
            seen_count = true;
            i += 2;
        } else {
            ctx.syntax_err();
            return None;
        }
    }
    Some((keys, left, count))
}

/// Pops from the first non-empty list of `keys`: answers `[key, items]`
/// and returns true, or false if all were empty; Err after WRONGTYPE.
fn mpop_first(ctx: &mut Ctx<'_>, keys: &[Bytes], left: bool, count: u64) -> Result<bool, ()> {
    for k in keys {
        if let Some(v) = pop(ctx, k, left, count)? {
            ctx.out.array(2);
            ctx.out.bulk(k);
            ctx.out.array(v.len());
            for x in &v {
                ctx.out.bulk(x);
            }
            return Ok(true);
        }
    }
    Ok(false)
}

fn lmpop(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let Some((keys, left, count)) = mpop_args(ctx, a, 1) else {
        return;
    };
    if let Ok(false) = mpop_first(ctx, &keys, left, count) {
        ctx.out.null_array();
    }
}

/// BLPOP / BRPOP key... timeout: `[key, item]` from the first non-empty
/// list, else block.
fn bpop(ctx: &mut Ctx<'_>, a: &[Bytes], left: bool) {
    let Ok(deadline) = blocking::parse_timeout(ctx, &a[a.len() - 1]) else {
        return;
    };
    let keys = &a[1..a.len() - 1];
    for k in keys {
        match pop(ctx, k, left, 1) {
            Err(()) => return,
            Ok(Some(v)) => {
                ctx.out.array(2);
                ctx.out.bulk(k);
                ctx.out.bulk_opt(v.first().map(|v| &v[..]));
                return;
            }
            Ok(None) => {}
        }
    }
    blocking::block(ctx, keys, deadline, a, true);
}

fn blpop(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    bpop(ctx, a, true)
}

fn brpop(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    bpop(ctx, a, false)
}

fn bmove(ctx: &mut Ctx<'_>, a: &[Bytes], from: bool, to: bool, timeout: &[u8]) {
    let Ok(deadline) = blocking::parse_timeout(ctx, timeout) else {
        return;
    };
    match move_one(ctx, &a[1], &a[2], from, to) {
        Err(()) => {}
        Ok(Some(v)) => ctx.out.bulk(&v),
        Ok(None) => blocking::block(ctx, &a[1..2], deadline, a, false),
    }
}

fn blmove(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let (Some(from), Some(to)) = (side(&a[3]), side(&a[4])) else {
        return ctx.syntax_err();
    };
    bmove(ctx, a, from, to, &a[5])
}

fn brpoplpush(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    bmove(ctx, a, false, true, &a[3])
}

fn blmpop(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    // Redis checks the other arguments before the timeout.
    let Some((keys, left, count)) = mpop_args(ctx, a, 2) else {
        return;
    };
    let Ok(deadline) = blocking::parse_timeout(ctx, &a[1]) else {
        return;
    };
    if let Ok(false) = mpop_first(ctx, &keys, left, count) {
        blocking::block(ctx, &keys, deadline, a, true);
    }
}
