//! Strings (the storage half of Redis's t_string.c): one metadata entry
//! holding the value and its deadline.

use super::{Db, TypeError};
use crate::store::keys::{Kind, Meta};
use crate::util::parse_i64;
use bytes::{Bytes, BytesMut};

/// A string value and its deadline (ms), as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Str {
    pub value: Bytes,
    pub expire_at: Option<i64>,
}

impl Str {
    fn of(m: Meta) -> Result<Str, TypeError> {
        if m.kind != Kind::String {
            return Err(TypeError::WrongType);
        }
        Ok(Str {
            value: m.payload,
            expire_at: m.expire_at,
        })
    }
}

/// The string at `key`, for a read (None: no such key).
pub(crate) fn get(db: &mut Db<'_>, key: &[u8]) -> Result<Option<Str>, TypeError> {
    db.get(key).map(Str::of).transpose()
}

/// The same for a read-modify-write (the transaction opens first).
pub(crate) fn get_for_write(db: &mut Db<'_>, key: &[u8]) -> Result<Option<Str>, TypeError> {
    let n = db.db;
    db.tx().get(n, key).map(Str::of).transpose()
}

/// Stores `value` at `key`, replacing whatever is there (any type).
pub(crate) fn put(db: &mut Db<'_>, key: &[u8], value: Bytes, expire_at: Option<i64>) {
    let n = db.db;
    db.tx().put(n, key, &Meta::string(value, expire_at));
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
    let go = !(cond.absent && exists || cond.present && !exists);
    if go {
        let at = if cond.keep_ttl {
            old.as_ref().and_then(|m| m.expire_at)
        } else {
            expire_at
        };
        put(db, key, value, at);
    }
    let old = old
        .filter(|m| m.kind == Kind::String)
        .map(Str::of)
        .transpose()?;
    Ok((old, go))
}

/// INCRBY & co.: the new integer value.
pub(crate) fn incr_by(db: &mut Db<'_>, key: &[u8], by: i64) -> Result<i64, TypeError> {
    let old = get_for_write(db, key)?;
    let (cur, expire_at) = match &old {
        Some(s) => (
            parse_i64(&s.value).ok_or(TypeError::NotInteger)?,
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
    let old = get_for_write(db, key)?;
    let (mut v, expire_at) = match &old {
        Some(s) => (BytesMut::from(&s.value[..]), s.expire_at),
        None => (BytesMut::new(), None),
    };
    if v.len() + tail.len() > max {
        return Err(TypeError::TooBig);
    }
    v.extend_from_slice(tail);
    let len = v.len();
    put(db, key, v.freeze(), expire_at);
    Ok(len)
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
    let old = get_for_write(db, key)?;
    let (cur, expire_at) = match old {
        Some(s) => (s.value, s.expire_at),
        None => (Bytes::new(), None),
    };
    if val.is_empty() {
        return Ok(cur.len());
    }
    if off.saturating_add(val.len()) > max {
        return Err(TypeError::TooBig);
    }
    let mut v = BytesMut::from(&cur[..]);
    if v.len() < off + val.len() {
        v.resize(off + val.len(), 0);
    }
    v[off..off + val.len()].copy_from_slice(val);
    let len = v.len();
    put(db, key, v.freeze(), expire_at);
    Ok(len)
}

/// GETRANGE's bytes of `v`, Redis's way with negative and out-of-range
/// offsets.
pub(crate) fn range(v: &[u8], mut start: i64, mut end: i64) -> &[u8] {
    let len = v.len() as i64;
    if start < 0 && end < 0 && start > end {
        return &[];
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
        return &[];
    }
    &v[start as usize..=end as usize]
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
