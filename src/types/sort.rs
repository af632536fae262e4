//! SORT over lists, sets and sorted sets (the storage half of Redis's
//! sort.c): which elements are loaded and in what order, the values BY and
//! GET patterns name, Redis's comparison, and the list STORE writes.
//!
//! Patterns are read as C strings, as `lookupKeyByPattern` reads them: the
//! `*`, `#` and `->` that count are those before the first NUL byte.

use super::hash::Hash;
use super::list::List;
use super::zset::Z;
use super::{string, Db, TypeError};
use crate::store::keys::Kind;
use bytes::{Bytes, BytesMut};
use std::cmp::Ordering;

/// What SORT was asked for, arguments already parsed.
pub(crate) struct Spec {
    /// BY's pattern; None when absent or a pattern without `*` (nosort).
    pub by: Option<Bytes>,
    /// BY named a pattern without `*`: keep the collection's order.
    pub dontsort: bool,
    pub desc: bool,
    pub alpha: bool,
    /// LIMIT's offset and count (count < 0: all).
    pub offset: i64,
    pub count: i64,
    /// STORE was given: comparisons are binary, and a set is sorted even
    /// under BY nosort (so a replica or a replay would store the same list).
    pub store: bool,
    /// Run from a script: a set is sorted even under BY nosort, as above.
    pub script: bool,
}

/// Why SORT answered no elements.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum SortError {
    Type(TypeError),
    /// A numeric sort met a value that is not a double.
    NotDouble,
}

/// The part of `s` C's string functions see.
fn c_str(s: &[u8]) -> &[u8] {
    match s.iter().position(|&c| c == 0) {
        Some(p) => &s[..p],
        None => s,
    }
}

/// Whether BY's argument is a real pattern (has a `*`), or means "do not
/// sort".
pub(crate) fn is_pattern(p: &[u8]) -> bool {
    c_str(p).contains(&b'*')
}

/// The value `pattern` names for `elem` (Redis's `lookupKeyByPattern`):
/// `#` is the element itself; `prefix*suffix` is the string at the key with
/// `*` replaced by the element; `prefix*suffix->field` is that field of the
/// hash at that key. None when there is no such value (or no `*`).
pub(crate) fn lookup(db: &mut Db<'_>, pattern: &[u8], elem: &Bytes) -> Option<Bytes> {
    let c = c_str(pattern);
    if c == b"#" {
        return Some(elem.clone());
    }
    let star = c.iter().position(|&b| b == b'*')?;
    let field_len = c[star + 1..]
        .windows(2)
        .position(|w| w == b"->")
        .map(|at| star + 1 + at)
        .filter(|&f| f + 2 < c.len())
        .map_or(0, |f| pattern.len() - f - 2);
    let suffix_end = pattern.len() - if field_len > 0 { field_len + 2 } else { 0 };
    let mut key = BytesMut::with_capacity(star + elem.len() + suffix_end - star - 1);
    key.extend_from_slice(&pattern[..star]);
    key.extend_from_slice(elem);
    key.extend_from_slice(&pattern[star + 1..suffix_end]);
    let key = key.freeze();
    if field_len > 0 {
        let field = &pattern[pattern.len() - field_len..];
        let h = Hash::open(db, &key).ok()??;
        h.get(db, field)
    } else {
        string::get(db, &key).ok()?.map(|s| s.value)
    }
}

/// Elements of `key` chosen and ordered as SORT does, LIMIT applied.
pub(crate) fn sort(db: &mut Db<'_>, key: &Bytes, spec: &Spec) -> Result<Vec<Bytes>, SortError> {
    let meta = db.get(key);
    let kind = meta.as_ref().map(|m| m.kind);
    if !matches!(kind, None | Some(Kind::List | Kind::Set | Kind::ZSet)) {
        return Err(SortError::Type(TypeError::WrongType));
    }
    let len = meta.as_ref().map_or(0, |m| m.coll().1) as i64;
    let (mut dontsort, mut alpha, mut by) = (spec.dontsort, spec.alpha, spec.by.clone());
    // A set's own order is not the same on every node: sort it.
    if dontsort && kind == Some(Kind::Set) && (spec.store || spec.script) {
        (dontsort, alpha, by) = (false, true, None);
    }
    // Redis's LIMIT arithmetic (sortCommandGeneric).
    let mut start = spec.offset.max(0);
    let mut end = if spec.count < 0 {
        len - 1
    } else {
        start.saturating_add(spec.count - 1)
    };
    if start >= len {
        start = len - 1;
        end = len - 2;
    }
    if end >= len {
        end = len - 1;
    }
    // Nothing selected; a numeric sort still checks every value.
    let (first, n) = if end < start {
        (0, 0)
    } else {
        (start as u64, (end - start + 1) as u64)
    };
    let mut v = match kind {
        Some(Kind::List | Kind::ZSet) if dontsort && n == 0 => Vec::new(),
        // The collection's own order, read for the range only.
        Some(Kind::List) if dontsort => {
            let Some(l) = List::open(db, key).map_err(SortError::Type)? else {
                return Ok(Vec::new());
            };
            let len = l.len();
            if spec.desc {
                let mut items = l.range(db, len - first - n, n);
                items.reverse();
                return Ok(items);
            }
            return Ok(l.range(db, first, n));
        }
        Some(Kind::ZSet) if dontsort => {
            let Some(z) = Z::open(db, key).map_err(SortError::Type)? else {
                return Ok(Vec::new());
            };
            let items = z.by_rank(db, first, first + n - 1, spec.desc);
            return Ok(items.into_iter().map(|(m, _)| m).collect());
        }
        Some(Kind::List) => match List::open(db, key).map_err(SortError::Type)? {
            Some(l) => l.range(db, 0, l.len()),
            None => Vec::new(),
        },
        Some(Kind::Set) => match super::set::OpenSet::open(db, key).map_err(SortError::Type)? {
            Some(s) => s.members(db),
            None => Vec::new(),
        },
        Some(Kind::ZSet) => match Z::open(db, key).map_err(SortError::Type)? {
            Some(z) => z.all(db).into_iter().map(|(m, _)| m).collect(),
            None => Vec::new(),
        },
        _ => Vec::new(),
    };
    if !dontsort {
        v = order(db, v, by.as_deref(), alpha, spec.desc, spec.store)?;
    }
    let end = (first + n).min(v.len() as u64) as usize;
    let first = (first as usize).min(end);
    v.truncate(end);
    v.drain(..first);
    Ok(v)
}

/// How one element compares: its number, or its BY value for ALPHA.
enum SortKey {
    Score(f64),
    Text(Option<Bytes>),
    Own,
}

/// Sorts `v` as Redis's `sortCompare` orders it. The sort is stable, as
/// glibc's `qsort` (a merge sort) is: elements ALPHA BY finds equal keep
/// the order they were read in.
fn order(
    db: &mut Db<'_>,
    v: Vec<Bytes>,
    by: Option<&[u8]>,
    alpha: bool,
    desc: bool,
    store: bool,
) -> Result<Vec<Bytes>, SortError> {
    let mut bad = false;
    let mut keyed: Vec<(SortKey, Bytes)> = Vec::with_capacity(v.len());
    for e in v {
        let byval = match by {
            Some(p) => lookup(db, p, &e),
            None => None,
        };
        let k = if alpha {
            if by.is_some() {
                SortKey::Text(byval)
            } else {
                SortKey::Own
            }
        } else {
            let src = if by.is_some() {
                byval.as_deref()
            } else {
                Some(&e[..])
            };
            match src {
                None => SortKey::Score(0.0),
                Some(s) => match score_of(s) {
                    Some(x) => SortKey::Score(x),
                    None => {
                        bad = true;
                        SortKey::Score(0.0)
                    }
                },
            }
        };
        keyed.push((k, e));
    }
    if bad {
        return Err(SortError::NotDouble);
    }
    // Without STORE Redis compares with strcoll; under the C and C.UTF-8
    // locales that is strcmp: bytes up to the first NUL.
    let text = |a: &[u8], b: &[u8]| {
        if store {
            a.cmp(b)
        } else {
            c_str(a).cmp(c_str(b))
        }
    };
    keyed.sort_by(|(ka, a), (kb, b)| {
        let c = match (ka, kb) {
            (SortKey::Score(x), SortKey::Score(y)) => x
                .partial_cmp(y)
                .unwrap_or(Ordering::Equal)
                .then_with(|| a.cmp(b)),
            (SortKey::Text(x), SortKey::Text(y)) => match (x, y) {
                (Some(x), Some(y)) => text(x, y),
                (x, y) => x.is_some().cmp(&y.is_some()),
            },
            _ => text(a, b),
        };
        if desc {
            c.reverse()
        } else {
            c
        }
    });
    Ok(keyed.into_iter().map(|(_, e)| e).collect())
}

/// A value as a number, as SORT reads it with `strtod`: up to the first
/// NUL, leading white space allowed, the empty string 0; None for NaN,
/// overflow, underflow or anything left over.
fn score_of(s: &[u8]) -> Option<f64> {
    let s = c_str(s);
    if s.is_empty() {
        return Some(0.0);
    }
    match crate::util::strtod_all(s)? {
        (x, false) if !x.is_nan() => Some(x),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_read_as_strtod() {
        assert_eq!(score_of(b""), Some(0.0));
        assert_eq!(score_of(b" 1.5"), Some(1.5));
        assert_eq!(score_of(b"2\0junk"), Some(2.0));
        assert_eq!(score_of(b"0x10"), Some(16.0));
        assert_eq!(score_of(b"1e400"), None);
        assert_eq!(score_of(b"nan"), None);
        assert_eq!(score_of(b"1 "), None);
        assert_eq!(score_of(b"abc"), None);
    }

    #[test]
    fn patterns_are_c_strings() {
        assert!(is_pattern(b"w_*"));
        assert!(!is_pattern(b"nosort"));
        assert!(!is_pattern(b"x\0*"));
    }
}
