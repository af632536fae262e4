//! Strings (the storage half of Redis's t_string.c). A string of up to
//! `WHOLE_MAX` bytes is its metadata entry's payload. A longer one is kept
//! in chunks of `CHUNK` bytes, as elements (`chunk index u64 BE` -> bytes)
//! under a version, like a collection's: a bit or a range written in a
//! 512 MB bitmap then costs one chunk in the WAL, the write buffer and
//! sled, not the whole value, and a read of a range reads only its chunks.
//! A chunk is stored as `lead u16 BE | bytes`: its bytes from the first
//! non-zero one (at `lead`) to the last; zeros around them and chunks not
//! stored read as zeros. So a sparse bitmap stores a few bytes per bit set,
//! small enough to sit in a page rather than beside it.

use super::{Db, TypeError};
use crate::store::keys::{sub_key, Kind, Meta};
use crate::util::parse_i64;
use bytes::{Bytes, BytesMut};
use std::ops::ControlFlow;

/// Bytes per chunk of a chunked string.
pub(crate) const CHUNK: usize = 4096;
/// Strings longer than this are kept in chunks.
pub(crate) const WHOLE_MAX: usize = 64 * 1024;

static ZEROS: [u8; CHUNK] = [0; CHUNK];

/// A chunk's stored form: None when it is all zeros.
fn encode_chunk(b: &[u8]) -> Option<Bytes> {
    let lead = b.iter().position(|x| *x != 0)?;
    let end = b.len() - b.iter().rev().take_while(|x| **x == 0).count();
    let mut v = Vec::with_capacity(2 + end - lead);
    v.extend_from_slice(&(lead as u16).to_be_bytes());
    v.extend_from_slice(&b[lead..end]);
    Some(Bytes::from(v))
}

/// A stored chunk's (offset in the chunk, bytes there); a damaged value
/// reads as zeros rather than past the chunk.
pub(crate) fn chunk_parts(v: &[u8]) -> (usize, &[u8]) {
    let Some((l, rest)) = v.split_first_chunk::<2>() else {
        return (0, &[]);
    };
    let lead = (u16::from_be_bytes(*l) as usize).min(CHUNK);
    (lead, &rest[..rest.len().min(CHUNK - lead)])
}

/// A stored chunk as bytes from its start (to its last non-zero one).
fn chunk_bytes(v: &[u8]) -> Vec<u8> {
    let (lead, b) = chunk_parts(v);
    let mut out = vec![0; lead + b.len()];
    out[lead..].copy_from_slice(b);
    out
}

/// Hands `f` the bytes of `[*at, to)` that fall in the chunk at `base`
/// stored as `v` (zeros where it stores none); `*at` is in the chunk.
fn emit_chunk(
    at: &mut u64,
    base: u64,
    v: &[u8],
    to: u64,
    f: &mut dyn FnMut(u64, &[u8]) -> ControlFlow<()>,
) -> ControlFlow<()> {
    let (lead, b) = chunk_parts(v);
    let end = (base + CHUNK as u64).min(to);
    let parts = [
        (base, base + lead as u64, &ZEROS[..lead]),
        (base + lead as u64, base + (lead + b.len()) as u64, b),
        (
            base + (lead + b.len()) as u64,
            base + CHUNK as u64,
            &ZEROS[..],
        ),
    ];
    for (s, e, bytes) in parts {
        let (lo, hi) = ((*at).max(s), e.min(end));
        if lo < hi {
            f(lo, &bytes[(lo - s) as usize..(hi - s) as usize])?;
            *at = hi;
        }
    }
    ControlFlow::Continue(())
}

/// A string value and its deadline (ms), read whole.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Str {
    pub value: Bytes,
    pub expire_at: Option<i64>,
}

/// Where a string's bytes are.
#[derive(Clone, Debug)]
enum Body {
    Whole(Bytes),
    /// The element prefix of its chunks.
    Chunks(Vec<u8>),
}

/// A string opened for reading or writing by byte ranges, without
/// reading it whole.
#[derive(Clone, Debug)]
pub(crate) struct StrRef {
    len: u64,
    pub expire_at: Option<i64>,
    body: Body,
}

impl StrRef {
    fn of(db: &mut Db<'_>, key: &[u8], m: Meta) -> Result<StrRef, TypeError> {
        if m.kind != Kind::String {
            return Err(TypeError::WrongType);
        }
        Ok(if m.chunked {
            StrRef {
                len: m.coll().1,
                expire_at: m.expire_at,
                body: Body::Chunks(db.prefix(key, &m)),
            }
        } else {
            StrRef {
                len: m.payload.len() as u64,
                expire_at: m.expire_at,
                body: Body::Whole(m.payload),
            }
        })
    }

    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// Kept in chunks (OBJECT ENCODING and MEMORY see it).
    pub(crate) fn is_chunked(&self) -> bool {
        matches!(self.body, Body::Chunks(_))
    }

    /// Hands `f` the bytes of `[from, to)` (clipped to the string) in
    /// order, as consecutive slices (zeros for chunks not stored), until it
    /// breaks.
    pub(crate) fn scan(
        &self,
        db: &mut Db<'_>,
        from: u64,
        to: u64,
        f: &mut dyn FnMut(u64, &[u8]) -> ControlFlow<()>,
    ) {
        let to = to.min(self.len);
        if from >= to {
            return;
        }
        let prefix = match &self.body {
            Body::Whole(v) => {
                let _ = f(from, &v[from as usize..to as usize]);
                return;
            }
            Body::Chunks(p) => p,
        };
        let c = CHUNK as u64;
        // Zeros for `[at, until)`, a chunk at a time.
        let zeros = |at: &mut u64, until: u64, f: &mut dyn FnMut(u64, &[u8]) -> ControlFlow<()>| {
            while *at < until {
                let n = (until - *at).min(c - *at % c);
                if f(*at, &ZEROS[..n as usize]).is_break() {
                    return ControlFlow::Break(());
                }
                *at += n;
            }
            ControlFlow::Continue(())
        };
        let mut at = from;
        let first = from / c;
        let last = (to - 1) / c;
        if first == last {
            // One chunk: a point read, not a range read.
            let stored = db.elem(prefix, &first.to_be_bytes()).unwrap_or_default();
            let _ = emit_chunk(&mut at, first * c, &stored, to, f);
            return;
        }
        // Read no further than the range's chunks.
        let page = (last - first + 1).min(64) as usize;
        let mut after = first.checked_sub(1).map(|i| i.to_be_bytes());
        loop {
            // `f` broke, or the chunks went past `to`.
            let (mut stop, mut past) = (false, false);
            let mut seen = None;
            let more = db.page_each(prefix, after.as_ref().map(|a| &a[..]), page, |name, v| {
                if stop || past {
                    return;
                }
                let Ok(i) = <[u8; 8]>::try_from(name).map(u64::from_be_bytes) else {
                    return;
                };
                seen = Some(i.to_be_bytes());
                let base = i * c;
                if base >= to {
                    past = true;
                    return;
                }
                let until = base.max(at);
                if zeros(&mut at, until, f).is_break() {
                    stop = true;
                    return;
                }
                if emit_chunk(&mut at, base, v, to, f).is_break() {
                    stop = true;
                }
            });
            if stop {
                return;
            }
            if past || seen.is_none() || !more {
                break;
            }
            after = seen;
        }
        let _ = zeros(&mut at, to, f);
    }

    /// The bytes of `[from, from + n)` that the string has.
    pub(crate) fn read(&self, db: &mut Db<'_>, from: u64, n: u64) -> Vec<u8> {
        let to = from.saturating_add(n).min(self.len);
        let mut out = Vec::with_capacity(to.saturating_sub(from) as usize);
        self.scan(db, from, to, &mut |_, b| {
            out.extend_from_slice(b);
            ControlFlow::Continue(())
        });
        out
    }

    /// The whole value.
    pub(crate) fn value(&self, db: &mut Db<'_>) -> Bytes {
        match &self.body {
            Body::Whole(v) => v.clone(),
            Body::Chunks(_) => Bytes::from(self.read(db, 0, self.len)),
        }
    }

    /// Writes `data` at byte `offset` (the string grows with zeros to
    /// reach it, as SETRANGE does) and stores the key, keeping its
    /// deadline. A string that outgrows `WHOLE_MAX` moves to chunks.
    ///
    /// The string is then `raw` in Redis (a string changed in place is
    /// unshared into a raw one): the metadata is marked converted.
    pub(crate) fn write(&mut self, db: &mut Db<'_>, key: &[u8], offset: u64, data: &[u8]) {
        let end = offset + data.len() as u64;
        let len = self.len.max(end);
        if let Body::Whole(v) = &self.body {
            if len as usize <= WHOLE_MAX {
                let mut nv = BytesMut::from(&v[..]);
                if nv.len() < end as usize {
                    nv.resize(end as usize, 0);
                }
                nv[offset as usize..end as usize].copy_from_slice(data);
                let nv = nv.freeze();
                put_whole(db, key, nv.clone(), self.expire_at, Made::Raw);
                self.len = len;
                self.body = Body::Whole(nv);
                return;
            }
            let v = v.clone();
            self.body = Body::Chunks(new_chunks(db, key, &v));
        }
        let Body::Chunks(prefix) = &self.body else {
            return;
        };
        write_chunks(db, prefix, offset, data);
        self.len = len;
        let n = db.db;
        let version = version_of(prefix);
        db.tx()
            .put(n, key, &Meta::chunked_string(version, len, self.expire_at));
    }
}

/// The version at the end of an element prefix.
fn version_of(prefix: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&prefix[prefix.len() - 8..]);
    u64::from_be_bytes(b)
}

/// A new version of `key` holding `value` in chunks (the caller stores the
/// metadata); its element prefix.
fn new_chunks(db: &mut Db<'_>, key: &[u8], value: &[u8]) -> Vec<u8> {
    let n = db.db;
    let tx = db.tx();
    let version = tx.new_version();
    let prefix = tx.sub_prefix(n, key, version);
    for (i, c) in value.chunks(CHUNK).enumerate() {
        if let Some(v) = encode_chunk(c) {
            tx.sub_put(sub_key(&prefix, &(i as u64).to_be_bytes()), v);
        }
    }
    prefix
}

/// Writes `data` at `offset` into the chunks under `prefix`.
fn write_chunks(db: &mut Db<'_>, prefix: &[u8], offset: u64, data: &[u8]) {
    let c = CHUNK as u64;
    let end = offset + data.len() as u64;
    let tx = db.tx();
    let mut at = offset;
    while at < end {
        let i = at / c;
        let base = i * c;
        let (lo, hi) = ((at - base) as usize, ((end - base).min(c)) as usize);
        let k = sub_key(prefix, &i.to_be_bytes());
        let old = tx.sub_get(&k);
        let mut chunk = old.as_deref().map(chunk_bytes).unwrap_or_default();
        if chunk.len() < hi {
            chunk.resize(hi, 0);
        }
        let src = (at - offset) as usize;
        chunk[lo..hi].copy_from_slice(&data[src..src + (hi - lo)]);
        match encode_chunk(&chunk) {
            Some(v) if old.as_ref() != Some(&v) => tx.sub_put(k, v),
            Some(_) => {}
            None if old.is_some() => tx.sub_del(k),
            None => {}
        }
        at = base + hi as u64;
    }
}

/// The whole value of the string `m` read at `key`.
pub(crate) fn value_of(db: &mut Db<'_>, key: &[u8], m: Meta) -> Result<Bytes, TypeError> {
    Ok(StrRef::of(db, key, m)?.value(db))
}

/// Hands `f` the bytes of the string `m` read at `key` in `db`, in
/// order, without reading it whole (DEBUG DIGEST).
pub(crate) fn each_run(
    store: &std::sync::Arc<crate::store::Store>,
    db: usize,
    now: i64,
    key: &[u8],
    m: Meta,
    mut f: impl FnMut(&[u8]),
) {
    let mut tx = None;
    let mut d = Db::new(store, &mut tx, db, now);
    if let Ok(s) = StrRef::of(&mut d, key, m) {
        s.scan(&mut d, 0, s.len(), &mut |_, b| {
            f(b);
            ControlFlow::Continue(())
        });
    }
}

/// A chunked string of `len` bytes put together from its stored chunks
/// (chunk name, bytes), as the dump tool reads them from a snapshot.
pub(crate) fn from_chunks<'c>(
    len: u64,
    chunks: impl Iterator<Item = (&'c [u8], &'c [u8])>,
) -> Vec<u8> {
    let len = usize::try_from(len).unwrap_or(usize::MAX);
    let mut out = Vec::new();
    for (name, v) in chunks {
        let Ok(i) = <[u8; 8]>::try_from(name).map(u64::from_be_bytes) else {
            continue;
        };
        let (lead, bytes) = chunk_parts(v);
        let at = usize::try_from(i)
            .unwrap_or(usize::MAX)
            .saturating_mul(CHUNK)
            .saturating_add(lead);
        let end = at.saturating_add(bytes.len()).min(len);
        if at >= end {
            continue;
        }
        if out.len() < end {
            out.resize(end, 0);
        }
        out[at..end].copy_from_slice(&bytes[..end - at]);
    }
    out.resize(len, 0);
    out
}

/// The string at `key`, opened for ranged reads (None: no such key).
pub(crate) fn open(db: &mut Db<'_>, key: &[u8]) -> Result<Option<StrRef>, TypeError> {
    match db.get(key) {
        Some(m) => StrRef::of(db, key, m).map(Some),
        None => Ok(None),
    }
}

/// The same for a write (the transaction opens first).
pub(crate) fn open_for_write(db: &mut Db<'_>, key: &[u8]) -> Result<Option<StrRef>, TypeError> {
    let n = db.db;
    match db.tx().get(n, key) {
        Some(m) => StrRef::of(db, key, m).map(Some),
        None => Ok(None),
    }
}

/// A new, empty string to `write` into (no deadline).
pub(crate) fn empty() -> StrRef {
    StrRef {
        len: 0,
        expire_at: None,
        body: Body::Whole(Bytes::new()),
    }
}

fn whole(db: &mut Db<'_>, s: Option<StrRef>) -> Option<Str> {
    s.map(|s| Str {
        value: s.value(db),
        expire_at: s.expire_at,
    })
}

/// The string at `key`, read whole, for a read (None: no such key).
pub(crate) fn get(db: &mut Db<'_>, key: &[u8]) -> Result<Option<Str>, TypeError> {
    let s = open(db, key)?;
    Ok(whole(db, s))
}

/// The same for a read-modify-write (the transaction opens first).
pub(crate) fn get_for_write(db: &mut Db<'_>, key: &[u8]) -> Result<Option<Str>, TypeError> {
    let s = open_for_write(db, key)?;
    Ok(whole(db, s))
}

/// How Redis made a string object, which decides its encoding
/// (`types/encoding.rs`); a string over `WHOLE_MAX` is `raw` anyway.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Made {
    /// Through `tryObjectEncoding` (SET and most writes): by its bytes.
    Tried,
    /// Changed in place or built raw (APPEND, SETRANGE, SETBIT, BITOP,
    /// PFADD): `raw`.
    Raw,
    /// `createStringObject` without trying an integer (INCRBYFLOAT):
    /// `embstr` or `raw` by length.
    Plain,
}

fn put_whole(db: &mut Db<'_>, key: &[u8], value: Bytes, expire_at: Option<i64>, made: Made) {
    let n = db.db;
    let mut m = Meta::string(value, expire_at);
    m.converted = made == Made::Raw;
    m.no_int = made == Made::Plain;
    db.tx().put(n, key, &m);
}

/// Stores at `key` a new string of `len` bytes (replacing whatever is
/// there), built a block of up to 64 chunks at a time by
/// `block(db, from, n)`; kept in chunks when longer than `WHOLE_MAX`, so
/// the value is never whole in memory and zero blocks are not stored.
pub(crate) fn put_built(
    db: &mut Db<'_>,
    key: &[u8],
    len: u64,
    expire_at: Option<i64>,
    mut block: impl FnMut(&mut Db<'_>, u64, usize) -> Vec<u8>,
) {
    let c = CHUNK as u64;
    if len as usize <= WHOLE_MAX {
        let v = block(db, 0, len as usize);
        // A value Redis builds as a raw string object (BITOP).
        return put_whole(db, key, Bytes::from(v), expire_at, Made::Raw);
    }
    let n = db.db;
    let (version, prefix) = {
        let tx = db.tx();
        let version = tx.new_version();
        (version, tx.sub_prefix(n, key, version))
    };
    // Blocks of many chunks: each source read is one range read.
    let step = 64 * c;
    let mut at = 0;
    while at < len {
        let want = (len - at).min(step) as usize;
        let b = block(db, at, want);
        for (j, part) in b.chunks(CHUNK).enumerate() {
            if let Some(v) = encode_chunk(part) {
                let k = sub_key(&prefix, &(at / c + j as u64).to_be_bytes());
                db.tx().sub_put(k, v);
            }
        }
        at += want as u64;
    }
    db.tx()
        .put(n, key, &Meta::chunked_string(version, len, expire_at));
}

/// Stores `value` at `key`, replacing whatever is there (any type): in the
/// metadata up to `WHOLE_MAX` bytes, else in chunks under a new version
/// (the old one's elements go to the GC).
pub(crate) fn put(db: &mut Db<'_>, key: &[u8], value: Bytes, expire_at: Option<i64>) {
    put_as(db, key, value, expire_at, Made::Tried)
}

/// [`put`] of a value Redis made as `made` (a HyperLogLog written by
/// PFADD or PFMERGE is raw, INCRBYFLOAT's result plain).
pub(crate) fn put_as(
    db: &mut Db<'_>,
    key: &[u8],
    value: Bytes,
    expire_at: Option<i64>,
    made: Made,
) {
    if value.len() <= WHOLE_MAX {
        return put_whole(db, key, value, expire_at, made);
    }
    let prefix = new_chunks(db, key, &value);
    let n = db.db;
    let m = Meta::chunked_string(version_of(&prefix), value.len() as u64, expire_at);
    db.tx().put(n, key, &m);
}

/// Marks the string at `key` `raw` without changing its bytes: Redis
/// unshares the value of a SETBIT or BITFIELD that changes nothing too
/// (`types/encoding.rs`). Nothing is written when it already is, and
/// the write touches no watcher: Redis counts neither as a change.
pub(crate) fn mark_raw(db: &mut Db<'_>, key: &[u8]) {
    let n = db.db;
    if let Some(mut m) = db.tx().get(n, key) {
        if m.kind == Kind::String && !m.converted && !m.chunked {
            m.converted = true;
            db.tx().put_unwatched(n, key, &m);
        }
    }
}

/// When SET writes.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct SetIf {
    /// Only if the key does not exist (NX).
    pub absent: bool,
    /// Only if it exists (XX).
    pub present: bool,
    /// Keep the old deadline (KEEPTTL).
    pub keep_ttl: bool,
}

/// SET: writes `value` under `cond`; returns the old string (with GET,
/// `want_old`: WRONGTYPE if the key holds another type, which SET alone
/// overwrites) and whether it wrote.
pub(crate) fn set(
    db: &mut Db<'_>,
    key: &[u8],
    value: Bytes,
    expire_at: Option<i64>,
    cond: SetIf,
    want_old: bool,
) -> Result<(Option<Str>, bool), TypeError> {
    let n = db.db;
    let old = db.tx().get(n, key);
    if want_old && old.as_ref().is_some_and(|m| m.kind != Kind::String) {
        return Err(TypeError::WrongType);
    }
    let exists = old.is_some();
    // Read before the write replaces it.
    let old_str = match old.as_ref().filter(|m| m.kind == Kind::String) {
        Some(m) if want_old => {
            let s = StrRef::of(db, key, m.clone())?;
            whole(db, Some(s))
        }
        _ => None,
    };
    let go = !(cond.absent && exists || cond.present && !exists);
    if go {
        let at = if cond.keep_ttl {
            old.as_ref().and_then(|m| m.expire_at)
        } else {
            expire_at
        };
        put(db, key, value, at);
    }
    Ok((old_str, go))
}

/// INCRBY & co.: the new integer value.
pub(crate) fn incr_by(db: &mut Db<'_>, key: &[u8], by: i64) -> Result<i64, TypeError> {
    let old = open_for_write(db, key)?;
    let (cur, expire_at) = match &old {
        // A chunked string is far too long to be a number.
        Some(s) if s.is_chunked() => return Err(TypeError::NotInteger),
        Some(s) => (
            parse_i64(&s.value(db)).ok_or(TypeError::NotInteger)?,
            s.expire_at,
        ),
        None => (0, None),
    };
    let n = cur.checked_add(by).ok_or(TypeError::Overflow)?;
    put(db, key, Bytes::from(n.to_string()), expire_at);
    Ok(n)
}

/// APPEND: the new length; at most `max` bytes.
pub(crate) fn append(
    db: &mut Db<'_>,
    key: &[u8],
    tail: &[u8],
    max: usize,
) -> Result<usize, TypeError> {
    let Some(mut s) = open_for_write(db, key)? else {
        // On a missing key APPEND stores the argument as SET would
        // (`tryObjectEncoding`), not a raw string.
        if tail.len() > max {
            return Err(TypeError::TooBig);
        }
        put(db, key, Bytes::copy_from_slice(tail), None);
        return Ok(tail.len());
    };
    let len = s.len();
    if len.saturating_add(tail.len() as u64) > max as u64 {
        return Err(TypeError::TooBig);
    }
    s.write(db, key, len, tail);
    Ok(s.len() as usize)
}

/// SETRANGE: overwrites from `off` (zero-padded); the new length, at most
/// `max` bytes. An empty `val` changes nothing.
pub(crate) fn set_range(
    db: &mut Db<'_>,
    key: &[u8],
    off: usize,
    val: &[u8],
    max: usize,
) -> Result<usize, TypeError> {
    let old = open_for_write(db, key)?;
    if val.is_empty() {
        return Ok(old.map_or(0, |s| s.len() as usize));
    }
    if off.saturating_add(val.len()) > max {
        return Err(TypeError::TooBig);
    }
    let mut s = old.unwrap_or_else(empty);
    s.write(db, key, off as u64, val);
    Ok(s.len() as usize)
}

/// GETRANGE's byte range `[from, to)` of a `len`-byte string, Redis's way
/// with negative and out-of-range offsets.
pub(crate) fn range_of(len: u64, mut start: i64, mut end: i64) -> (u64, u64) {
    let len = len as i64;
    if start < 0 && end < 0 && start > end {
        return (0, 0);
    }
    if start < 0 {
        start += len;
    }
    if end < 0 {
        end += len;
    }
    start = start.max(0);
    end = end.max(0);
    if end >= len {
        end = len - 1;
    }
    if start > end || len == 0 {
        return (0, 0);
    }
    (start as u64, end as u64 + 1)
}

/// GETRANGE's bytes of `v`.
#[cfg(test)]
fn range(v: &[u8], start: i64, end: i64) -> &[u8] {
    let (a, b) = range_of(v.len() as u64, start, end);
    &v[a as usize..b as usize]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::testing::store;

    #[test]
    fn set_follows_its_conditions() {
        let (_d, store) = store();
        let mut tx = None;
        let mut db = Db::new(&store, &mut tx, 0, 0);
        let nx = SetIf {
            absent: true,
            ..SetIf::default()
        };
        let v = |s: &'static str| Bytes::from_static(s.as_bytes());
        assert_eq!(
            set(&mut db, b"k", v("a"), Some(50), nx, false),
            Ok((None, true))
        );
        let (old, wrote) = set(&mut db, b"k", v("b"), None, nx, true).expect("set");
        assert!(!wrote);
        assert_eq!(old.map(|s| s.value), Some(v("a")));
        let keep = SetIf {
            keep_ttl: true,
            ..SetIf::default()
        };
        set(&mut db, b"k", v("c"), None, keep, false).expect("set");
        assert_eq!(
            get(&mut db, b"k"),
            Ok(Some(Str {
                value: v("c"),
                expire_at: Some(50)
            }))
        );
    }

    #[test]
    fn chunks_keep_only_their_non_zero_span() {
        assert_eq!(encode_chunk(&[0; 10]), None);
        let v = encode_chunk(&[0, 0, 5, 0, 7, 0, 0]).expect("stored");
        assert_eq!(&v[..], &[0, 2, 5, 0, 7]);
        assert_eq!(chunk_bytes(&v), vec![0, 0, 5, 0, 7]);
        // A damaged lead cannot reach past the chunk.
        let (lead, b) = chunk_parts(&[0xff, 0xff, 1, 2, 3]);
        assert_eq!((lead, b.len()), (CHUNK, 0));
        assert_eq!(chunk_parts(&[1]), (0, &[][..]));
    }

    #[test]
    fn numbers_and_ranges_behave_like_redis() {
        let (_d, store) = store();
        let mut tx = None;
        let mut db = Db::new(&store, &mut tx, 0, 0);
        assert_eq!(incr_by(&mut db, b"n", 5), Ok(5));
        assert_eq!(incr_by(&mut db, b"n", i64::MAX), Err(TypeError::Overflow));
        put(&mut db, b"s", Bytes::from_static(b"abc"), None);
        assert_eq!(incr_by(&mut db, b"s", 1), Err(TypeError::NotInteger));
        assert_eq!(append(&mut db, b"s", b"def", 6), Ok(6));
        assert_eq!(append(&mut db, b"s", b"g", 6), Err(TypeError::TooBig));
        assert_eq!(set_range(&mut db, b"z", 2, b"x", 100), Ok(3));
        assert_eq!(
            get(&mut db, b"z").expect("str").map(|s| s.value),
            Some(Bytes::from_static(b"\0\0x"))
        );
        assert_eq!(range(b"hello", 1, -2), b"ell");
        assert_eq!(range(b"hello", -1, -5), b"");
        assert_eq!(range(b"", 0, -1), b"");
    }
}
