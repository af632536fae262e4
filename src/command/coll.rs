//! Helpers shared by the collection types (hash, set, ...): a collection is
//! a metadata entry (version, length) plus one sled key per element, read
//! through the open transaction when there is one.

use super::{random, Ctx};
use crate::glob::glob_match;
use crate::store::keys::{sub_key, Kind, Meta};
use crate::store::{Store, WriteTx};
use crate::util::{eq_ic, parse_i64};
use bytes::Bytes;

/// The collection at `key` for a read: Ok(None) if absent, Err after
/// answering WRONGTYPE.
pub(crate) fn get(ctx: &mut Ctx<'_>, kind: Kind, key: &[u8]) -> Result<Option<Meta>, ()> {
    let db = ctx.db();
    match ctx.get(db, key) {
        Some(m) if m.kind != kind => {
            ctx.wrongtype();
            Err(())
        }
        m => Ok(m),
    }
}

/// The collection at `key` for a write (opens the transaction).
pub(crate) fn get_tx(ctx: &mut Ctx<'_>, kind: Kind, key: &[u8]) -> Result<Option<Meta>, ()> {
    let db = ctx.db();
    match ctx.tx().get(db, key) {
        Some(m) if m.kind != kind => {
            ctx.wrongtype();
            Err(())
        }
        m => Ok(m),
    }
}

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

/// The element key prefix of `key`'s version in `m`.
pub(crate) fn prefix(ctx: &mut Ctx<'_>, key: &[u8], m: &Meta) -> Vec<u8> {
    prefix_in(ctx, ctx.db(), key, m)
}

pub(crate) fn prefix_in(ctx: &mut Ctx<'_>, db: usize, key: &[u8], m: &Meta) -> Vec<u8> {
    let (version, _) = m.coll();
    match ctx.tx.as_ref() {
        Some(tx) => tx.sub_prefix(db, key, version),
        None => {
            let gen = ctx.srv.store.gen(db);
            crate::store::keys::sub_prefix(db as u8, gen, key, version)
        }
    }
}

/// One element's value, seeing the open transaction's writes.
pub(crate) fn elem(ctx: &mut Ctx<'_>, prefix: &[u8], name: &[u8]) -> Option<Bytes> {
    let k = sub_key(prefix, name);
    match ctx.tx.as_mut() {
        Some(tx) => tx.sub_get(&k),
        None => ctx.srv.store.raw_get(&k),
    }
}

/// Every (element, value), in element byte order.
pub(crate) fn all(ctx: &mut Ctx<'_>, prefix: &[u8]) -> Vec<(Bytes, Bytes)> {
    let mut out = Vec::new();
    let mut after: Option<Bytes> = None;
    loop {
        let (page, more) = page(ctx, prefix, after.as_deref(), 1024);
        after = page.last().map(|(f, _)| f.clone());
        out.extend(page);
        if !more || after.is_none() {
            return out;
        }
    }
}

/// Up to about `count` elements after `after`; true if more follow.
pub(crate) fn page(
    ctx: &mut Ctx<'_>,
    prefix: &[u8],
    after: Option<&[u8]>,
    count: usize,
) -> (Vec<(Bytes, Bytes)>, bool) {
    match ctx.tx.as_mut() {
        Some(tx) => tx.sub_range(prefix, after, count),
        None => ctx.srv.store.sub_range(prefix, after, count),
    }
}

/// [`page`] handing each (field, value) to `f` by reference (a reply is
/// written from them without a copy); true if more follow. Takes the
/// context's parts so that `f` may write to `ctx.out`.
pub(crate) fn page_each(
    tx: &mut Option<WriteTx>,
    store: &Store,
    prefix: &[u8],
    after: Option<&[u8]>,
    count: usize,
    mut f: impl FnMut(&[u8], &Bytes),
) -> bool {
    match tx.as_mut() {
        Some(tx) => {
            let (got, more) = tx.sub_range(prefix, after, count);
            for (k, v) in &got {
                f(k, v);
            }
            more
        }
        None => store.sub_range_each(prefix, after, count, f),
    }
}

/// Writes the metadata for `len` elements, or deletes the key when empty
/// (Redis deletes empty collections). Written on every change, so WATCH
/// sees element updates too.
pub(crate) fn put_meta(
    ctx: &mut Ctx<'_>,
    kind: Kind,
    key: &[u8],
    version: u64,
    len: u64,
    expire_at: Option<i64>,
) {
    let db = ctx.db();
    put_meta_in(ctx, db, kind, key, version, len, expire_at)
}

pub(crate) fn put_meta_in(
    ctx: &mut Ctx<'_>,
    db: usize,
    kind: Kind,
    key: &[u8],
    version: u64,
    len: u64,
    expire_at: Option<i64>,
) {
    if len == 0 {
        ctx.tx().delete(db, key);
    } else {
        let m = Meta::collection(kind, version, len, expire_at);
        ctx.tx().put(db, key, &m);
    }
}

/// A collection's element names, for [`random::walk`].
struct Elements<'c, 'a> {
    ctx: &'c mut Ctx<'a>,
    prefix: &'c [u8],
}

impl random::Ordered for Elements<'_, '_> {
    fn first_from(&mut self, probe: &[u8]) -> Option<Bytes> {
        if elem(self.ctx, self.prefix, probe).is_some() {
            return Some(Bytes::copy_from_slice(probe));
        }
        self.next_after(probe)
    }

    fn next_after(&mut self, name: &[u8]) -> Option<Bytes> {
        page(self.ctx, self.prefix, Some(name), 1)
            .0
            .into_iter()
            .next()
            .map(|(n, _)| n)
    }

    fn last_with(&mut self, name: &[u8]) -> Option<Bytes> {
        let start = [self.prefix, name].concat();
        let end = random::prefix_end(&start)?;
        let (k, _) = match self.ctx.tx.as_mut() {
            Some(tx) => tx.sub_last(&start, &end)?,
            None => self.ctx.srv.store.raw_last(&start, &end)?,
        };
        Some(k.slice(self.prefix.len()..))
    }
}

/// A random element without reading the collection (see `random.rs`).
pub(crate) fn random_elem(
    ctx: &mut Ctx<'_>,
    prefix: &[u8],
    rng: &mut impl rand::Rng,
) -> Option<(Bytes, Bytes)> {
    let name = random::walk(&mut Elements { ctx, prefix }, rng)?;
    let v = elem(ctx, prefix, &name)?;
    Some((name, v))
}

/// Up to `count` distinct random elements: by random walks when few are
/// wanted from a big collection, else by reading it all and shuffling.
pub(crate) fn random_distinct(
    ctx: &mut Ctx<'_>,
    prefix: &[u8],
    len: u64,
    count: u64,
) -> Vec<(Bytes, Bytes)> {
    use rand::seq::SliceRandom;
    let mut rng = rand::thread_rng();
    if count.saturating_mul(4) < len && count <= 1000 {
        let mut seen = std::collections::BTreeMap::new();
        // The walk favours some elements; give up on walks after a while.
        let mut tries = 0;
        while (seen.len() as u64) < count && tries < count * 20 {
            tries += 1;
            if let Some((k, v)) = random_elem(ctx, prefix, &mut rng) {
                seen.entry(k).or_insert(v);
            }
        }
        if seen.len() as u64 == count {
            let mut v: Vec<(Bytes, Bytes)> = seen.into_iter().collect();
            v.shuffle(&mut rng);
            return v;
        }
    }
    let mut v = all(ctx, prefix);
    v.shuffle(&mut rng);
    v.truncate(count as usize);
    v
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
    let Ok(m) = get(ctx, kind, &a[1]) else {
        return;
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
            pattern = Some(a[i + 1].clone());
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
    let mut p = prefix(ctx, &a[1], &m);
    p.extend_from_slice(tag(&m));
    let after = if cursor == 0 {
        None
    } else {
        ctx.srv.cursors.get(cursor)
    };
    let (items, more) = page(ctx, &p, after.as_deref(), count);
    let next = match (more, items.last()) {
        (true, Some((f, _))) => ctx.srv.cursors.put(f.clone()),
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
