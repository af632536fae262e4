//! Which encoding Redis 7.0 would hold a value in: OBJECT ENCODING's
//! answer, and the form DUMP writes. sledis stores every value one way
//! (a string in its metadata or in chunks, a collection as one store key
//! per element), but tools and test suites read Redis's names, and DUMP's
//! bytes depend on the encoding. Redis converts a small encoding
//! (`int`/`embstr`, `intset`, `listpack`) to a big one (`raw`,
//! `hashtable`, `skiplist`) when a write makes it too big, and never back
//! while the key lives; where it builds a new value (RESTORE, the *STORE
//! commands, SPOP's rebuild) the encoding follows from the content. So the
//! writes that make Redis convert set the metadata's `converted` flag
//! (they know the sizes they write, so this costs nothing more), and
//! without the flag the encoding is read from the value: at most
//! `*-max-*-entries` elements, read only when the count is within it.

use super::Db;
use crate::store::keys::{Kind, Meta};
use bytes::Bytes;
use std::sync::atomic::Ordering;

/// Redis 7.0's `OBJ_ENCODING_*` names that sledis's values can have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Encoding {
    Int,
    Embstr,
    Raw,
    Quicklist,
    Intset,
    Hashtable,
    Listpack,
    Skiplist,
}

impl Encoding {
    /// OBJECT ENCODING's word.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Encoding::Int => "int",
            Encoding::Embstr => "embstr",
            Encoding::Raw => "raw",
            Encoding::Quicklist => "quicklist",
            Encoding::Intset => "intset",
            Encoding::Hashtable => "hashtable",
            Encoding::Listpack => "listpack",
            Encoding::Skiplist => "skiplist",
        }
    }
}

/// Redis's `OBJ_ENCODING_EMBSTR_SIZE_LIMIT`.
const EMBSTR_MAX: usize = 44;

/// The thresholds in force (`hash-max-listpack-entries` & co.).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    pub hash_entries: u64,
    pub hash_value: u64,
    pub zset_entries: u64,
    pub zset_value: u64,
    pub intset_entries: u64,
}

impl Db<'_> {
    /// The config's encoding thresholds, without the config's lock.
    pub(crate) fn limits(&self) -> Limits {
        let e = &self.store().encoding_limits;
        let l = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
        Limits {
            hash_entries: l(&e.hash_entries),
            hash_value: l(&e.hash_value),
            zset_entries: l(&e.zset_entries),
            zset_value: l(&e.zset_value),
            intset_entries: l(&e.intset_entries),
        }
    }
}

/// `tryObjectEncoding`'s choice for a string built from `v` (SET and
/// every write that stores a new string object): `int` for a canonical
/// integer that fits in a long, `embstr` up to 44 bytes, else `raw`.
pub(crate) fn of_str(v: &[u8]) -> Encoding {
    if crate::util::parse_i64(v).is_some() {
        Encoding::Int
    } else if v.len() <= EMBSTR_MAX {
        Encoding::Embstr
    } else {
        Encoding::Raw
    }
}

/// Whether a member can live in an intset (`isSdsRepresentableAsLongLong`).
pub(crate) fn is_intset_member(m: &[u8]) -> bool {
    crate::util::parse_i64(m).is_some()
}

/// The encoding of the value `m` at `key`.
pub(crate) fn of(db: &mut Db<'_>, key: &Bytes, m: &Meta) -> Encoding {
    let lim = db.limits();
    match m.kind {
        Kind::String if m.converted || m.chunked => Encoding::Raw,
        Kind::String if m.no_int && m.payload.len() <= EMBSTR_MAX => Encoding::Embstr,
        Kind::String if m.no_int => Encoding::Raw,
        Kind::String => of_str(&m.payload),
        Kind::List => Encoding::Quicklist,
        Kind::Set => {
            let (_, len) = m.coll();
            if m.converted || len > lim.intset_entries {
                return Encoding::Hashtable;
            }
            let mp = super::set::member_prefix(db, key, m);
            let mut ints = true;
            each_until(db, &mp, |k, _| {
                ints = is_intset_member(k);
                ints
            });
            if ints {
                Encoding::Intset
            } else {
                Encoding::Hashtable
            }
        }
        Kind::Hash => {
            let (_, len) = m.coll();
            if m.converted || len > lim.hash_entries {
                return Encoding::Hashtable;
            }
            let p = db.prefix(key, m);
            let small = |b: &[u8]| b.len() as u64 <= lim.hash_value;
            let mut ok = true;
            each_until(db, &p, |f, v| {
                ok = small(f) && small(v);
                ok
            });
            if ok {
                Encoding::Listpack
            } else {
                Encoding::Hashtable
            }
        }
        Kind::ZSet => {
            let (_, len) = m.coll();
            if m.converted || len > lim.zset_entries {
                return Encoding::Skiplist;
            }
            let mut ok = true;
            if let Ok(Some(z)) = super::zset::Z::open(db, key) {
                z.each(db, |_, member| {
                    ok = member.len() as u64 <= lim.zset_value;
                    ok
                });
            }
            if ok {
                Encoding::Listpack
            } else {
                Encoding::Skiplist
            }
        }
    }
}

/// Elements under `prefix` in order while `f` says to go on.
fn each_until(db: &mut Db<'_>, prefix: &[u8], mut f: impl FnMut(&[u8], &Bytes) -> bool) {
    let mut after: Option<Vec<u8>> = None;
    loop {
        let mut last: Option<Vec<u8>> = None;
        let mut go = true;
        let more = db.page_each(prefix, after.as_deref(), 256, |k, v| {
            if go {
                go = f(k, v);
                last = Some(k.to_vec());
            }
        });
        match last {
            Some(l) if more && go => after = Some(l),
            _ => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_as_try_object_encoding_picks() {
        assert_eq!(of_str(b"123"), Encoding::Int);
        assert_eq!(of_str(b"9223372036854775807"), Encoding::Int);
        assert_eq!(of_str(b"9223372036854775808"), Encoding::Embstr);
        assert_eq!(of_str(b"-0"), Encoding::Embstr);
        assert_eq!(of_str(b"0123"), Encoding::Embstr);
        assert_eq!(of_str(&[b'x'; 44]), Encoding::Embstr);
        assert_eq!(of_str(&[b'x'; 45]), Encoding::Raw);
        assert_eq!(of_str(b""), Encoding::Embstr);
    }
}
