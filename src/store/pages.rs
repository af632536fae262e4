//! How the keyspace is packed into the engine: sorted pairs in pages of
//! about `TARGET` bytes, one engine entry per page, keyed by the page's
//! *ceiling*.
//!
//! sled 0.34 costs about 4 µs, ~430 bytes of page state in memory and ~3x
//! the data on disk per entry, whatever the entry's size; a page shares
//! those costs between its pairs (measured in docs/PERFORMANCE.md).
//!
//! A page answers for the keys after the previous page's ceiling, up to
//! its own: the one to read for a key is the first page whose ceiling is at
//! or after it (the last page's ceiling is above every key). Entries at or
//! below the previous ceiling are stale (an interrupted split left them):
//! readers skip them, so a page write never needs to be atomic with
//! another.
//!
//! Layout, integers little-endian:
//! `FORMAT u8 | prefix len u32 | prefix | n u32 | n x entry offset u32 | entries`
//! and an entry is
//! `suffix len u32 | suffix | value len u32 | value`.
//! Every key of the page is the prefix followed by an entry's suffix, in
//! key order. A value of `SIDE_MIN` bytes or more is stored beside the page
//! (its own engine entry), and its entry's length has the `SIDE` bit.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::ops::Range;

/// The size pages are cut to when they are written.
pub const TARGET: usize = 1024;
/// Values this long or longer are stored beside their page.
pub const SIDE_MIN: usize = TARGET / 2;

const FORMAT: u8 = 1;
const SIDE: u32 = 1 << 31;

/// What is wrong with a page that does not parse.
#[derive(Debug, PartialEq, Eq)]
pub struct Corrupt(pub &'static str);

/// A value as an entry holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Val<T> {
    /// In the page.
    Inline(T),
    /// In the engine's side tree, under the same key.
    Side,
}

/// A parsed view of a page's bytes.
pub struct Page<'a> {
    buf: &'a [u8],
    prefix: &'a [u8],
    n: usize,
    offsets: usize,
}

fn u32_at(buf: &[u8], at: usize) -> Result<usize, Corrupt> {
    buf.get(at..at + 4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
        .ok_or(Corrupt("truncated"))
}

impl<'a> Page<'a> {
    pub fn parse(buf: &'a [u8]) -> Result<Page<'a>, Corrupt> {
        if buf.first() != Some(&FORMAT) {
            return Err(Corrupt("unknown page format"));
        }
        let plen = u32_at(buf, 1)?;
        let prefix = buf.get(5..5 + plen).ok_or(Corrupt("prefix past the end"))?;
        let n = u32_at(buf, 5 + plen)?;
        let offsets = 9 + plen;
        if n.checked_mul(4).and_then(|b| b.checked_add(offsets)) > Some(buf.len()) {
            return Err(Corrupt("offsets past the end"));
        }
        Ok(Page {
            buf,
            prefix,
            n,
            offsets,
        })
    }

    pub fn len(&self) -> usize {
        self.n
    }

    pub fn prefix(&self) -> &'a [u8] {
        self.prefix
    }

    /// Entry `i`: its key's suffix and where its value is (a range of the
    /// page's bytes when inline).
    pub fn entry(&self, i: usize) -> Result<(&'a [u8], Val<Range<usize>>), Corrupt> {
        let at = u32_at(self.buf, self.offsets + 4 * i)?;
        let slen = u32_at(self.buf, at)?;
        let suffix = self
            .buf
            .get(at + 4..at + 4 + slen)
            .ok_or(Corrupt("key past the end"))?;
        let vat = at + 4 + slen;
        let vlen = u32_at(self.buf, vat)? as u32;
        if vlen & SIDE != 0 {
            return Ok((suffix, Val::Side));
        }
        let v = vat + 4..vat + 4 + vlen as usize;
        if v.end > self.buf.len() {
            return Err(Corrupt("value past the end"));
        }
        Ok((suffix, Val::Inline(v)))
    }

    /// The whole key of entry `i`.
    pub fn key(&self, i: usize) -> Result<Vec<u8>, Corrupt> {
        let (suffix, _) = self.entry(i)?;
        let mut k = Vec::with_capacity(self.prefix.len() + suffix.len());
        k.extend_from_slice(self.prefix);
        k.extend_from_slice(suffix);
        Ok(k)
    }

    /// Compares entry `i`'s key with `key`.
    pub fn cmp_key(&self, i: usize, key: &[u8]) -> Result<Ordering, Corrupt> {
        let (suffix, _) = self.entry(i)?;
        let p = self.prefix;
        let common = p.len().min(key.len());
        Ok(match p[..common].cmp(&key[..common]) {
            Ordering::Equal if key.len() < p.len() => Ordering::Greater,
            Ordering::Equal => suffix.cmp(&key[p.len()..]),
            o => o,
        })
    }

    /// The index of the first entry whose key is at or after `key`, and
    /// whether that entry's key is `key`.
    pub fn seek(&self, key: &[u8]) -> Result<(usize, bool), Corrupt> {
        let (mut lo, mut hi) = (0, self.n);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.cmp_key(mid, key)? {
                Ordering::Less => lo = mid + 1,
                Ordering::Greater => hi = mid,
                Ordering::Equal => return Ok((mid, true)),
            }
        }
        Ok((lo, false))
    }

    /// The value of `key`, if the page holds it.
    pub fn find(&self, key: &[u8]) -> Result<Option<Val<Range<usize>>>, Corrupt> {
        match self.seek(key)? {
            (i, true) => Ok(Some(self.entry(i)?.1)),
            _ => Ok(None),
        }
    }

    /// Entry `i`'s value.
    pub fn value(&self, i: usize) -> Result<Val<&'a [u8]>, Corrupt> {
        Ok(match self.entry(i)?.1 {
            Val::Inline(r) => Val::Inline(&self.buf[r]),
            Val::Side => Val::Side,
        })
    }
}

/// A whole key and its value, as a page is written.
pub type Entry<'a> = (Cow<'a, [u8]>, Val<&'a [u8]>);

/// A page's entries after a batch of writes, and what changes beside it.
pub struct Merged<'a> {
    pub entries: Vec<Entry<'a>>,
    /// Values to store beside the page (before it is written).
    pub side_put: Vec<(&'a [u8], &'a [u8])>,
    /// Values beside the page to drop (after it is written).
    pub side_del: Vec<&'a [u8]>,
}

/// Merges sorted, distinct writes (a value, or None to remove the key)
/// into a page's entries.
pub fn merge<'a>(
    old: Option<&Page<'a>>,
    ops: &[(&'a [u8], Option<&'a [u8]>)],
) -> Result<Merged<'a>, Corrupt> {
    let n_old = old.map_or(0, |p| p.len());
    let mut m = Merged {
        entries: Vec::with_capacity(n_old + ops.len()),
        side_put: Vec::new(),
        side_del: Vec::new(),
    };
    let mut j = 0;
    for &(k, v) in ops {
        let mut was = None;
        if let Some(p) = old {
            while j < n_old {
                let order = p.cmp_key(j, k)?;
                if order == Ordering::Greater {
                    break;
                }
                let val = p.value(j)?;
                j += 1;
                if order == Ordering::Equal {
                    was = Some(val);
                    break;
                }
                m.entries.push((Cow::Owned(p.key(j - 1)?), val));
            }
        }
        let big = v.is_some_and(|v| v.len() >= SIDE_MIN);
        if was == Some(Val::Side) && !big {
            m.side_del.push(k);
        }
        match v {
            Some(v) if big => {
                m.side_put.push((k, v));
                m.entries.push((Cow::Borrowed(k), Val::Side));
            }
            Some(v) => m.entries.push((Cow::Borrowed(k), Val::Inline(v))),
            None => {}
        }
    }
    if let Some(p) = old {
        for i in j..n_old {
            m.entries.push((Cow::Owned(p.key(i)?), p.value(i)?));
        }
    }
    Ok(m)
}

/// About what an entry takes in a page.
pub fn entry_size(key: &[u8], v: &Val<&[u8]>) -> usize {
    16 + key.len()
        + match v {
            Val::Inline(b) => b.len(),
            Val::Side => 0,
        }
}

/// Writes sorted `entries` as one page into `out`.
pub fn encode<K: AsRef<[u8]>>(entries: &[(K, Val<&[u8]>)], out: &mut Vec<u8>) {
    out.clear();
    let prefix: &[u8] = match (entries.first(), entries.last()) {
        (Some((a, _)), Some((b, _))) => {
            let (a, b) = (a.as_ref(), b.as_ref());
            let n = a.iter().zip(b).take_while(|(x, y)| x == y).count();
            &a[..n]
        }
        _ => &[],
    };
    out.push(FORMAT);
    out.extend_from_slice(&(prefix.len() as u32).to_le_bytes());
    out.extend_from_slice(prefix);
    out.extend_from_slice(&(entries.len() as u32).to_le_bytes());
    let mut at = out.len() + 4 * entries.len();
    for (k, v) in entries {
        out.extend_from_slice(&(at as u32).to_le_bytes());
        at += 8 + k.as_ref().len() - prefix.len();
        if let Val::Inline(b) = v {
            at += b.len();
        }
    }
    for (k, v) in entries {
        let suffix = &k.as_ref()[prefix.len()..];
        out.extend_from_slice(&(suffix.len() as u32).to_le_bytes());
        out.extend_from_slice(suffix);
        match v {
            Val::Inline(b) => {
                out.extend_from_slice(&(b.len() as u32).to_le_bytes());
                out.extend_from_slice(b);
            }
            Val::Side => out.extend_from_slice(&SIDE.to_le_bytes()),
        }
    }
}

/// Cuts entries of these sizes into runs of about `TARGET` bytes each, of
/// even size: a page that overflows splits in two halves, and a long sorted
/// run (a bulk load) fills whole pages.
pub fn cut(sizes: &[usize]) -> Vec<Range<usize>> {
    let total: usize = sizes.iter().sum();
    let pages = total.div_ceil(TARGET).max(1);
    let per = total.div_ceil(pages);
    let mut runs = Vec::with_capacity(pages);
    let (mut start, mut acc) = (0, 0);
    for (i, s) in sizes.iter().enumerate() {
        acc += s;
        if acc >= per && i + 1 < sizes.len() {
            runs.push(start..i + 1);
            start = i + 1;
            acc = 0;
        }
    }
    if start < sizes.len() {
        runs.push(start..sizes.len());
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(entries: &[(&[u8], Val<&[u8]>)]) -> Vec<u8> {
        let mut out = Vec::new();
        encode(entries, &mut out);
        out
    }

    #[test]
    fn entries_read_back_with_their_prefix_and_values() {
        let buf = page(&[
            (b"key:001", Val::Inline(b"a")),
            (b"key:002", Val::Side),
            (b"key:010", Val::Inline(b"")),
        ]);
        let p = Page::parse(&buf).unwrap();
        assert_eq!(p.len(), 3);
        assert_eq!(p.prefix(), b"key:0");
        assert_eq!(p.key(1).unwrap(), b"key:002");
        let Some(Val::Inline(r)) = p.find(b"key:001").unwrap() else {
            panic!("key:001 is inline")
        };
        assert_eq!(&buf[r], b"a");
        assert_eq!(p.find(b"key:002").unwrap(), Some(Val::Side));
        assert_eq!(p.value(2).unwrap(), Val::Inline(&b""[..]));
        assert_eq!(p.value(0).unwrap(), Val::Inline(&b"a"[..]));
        assert_eq!(p.find(b"key:003").unwrap(), None);
        assert_eq!(p.find(b"key:0").unwrap(), None);
        assert_eq!(p.find(b"a").unwrap(), None);
        assert_eq!(p.find(b"z").unwrap(), None);
    }

    #[test]
    fn seek_orders_keys_shorter_or_outside_the_prefix() {
        let buf = page(&[(b"ab1", Val::Inline(b"x")), (b"ab3", Val::Inline(b"y"))]);
        let p = Page::parse(&buf).unwrap();
        assert_eq!(p.seek(b"a").unwrap(), (0, false));
        assert_eq!(p.seek(b"aa").unwrap(), (0, false));
        assert_eq!(p.seek(b"ab").unwrap(), (0, false));
        assert_eq!(p.seek(b"ab1").unwrap(), (0, true));
        assert_eq!(p.seek(b"ab2").unwrap(), (1, false));
        assert_eq!(p.seek(b"ab3").unwrap(), (1, true));
        assert_eq!(p.seek(b"ab4").unwrap(), (2, false));
        assert_eq!(p.seek(b"b").unwrap(), (2, false));
    }

    #[test]
    fn an_empty_page_parses() {
        let buf = page(&[]);
        let p = Page::parse(&buf).unwrap();
        assert_eq!(p.len(), 0);
        assert_eq!(p.seek(b"x").unwrap(), (0, false));
    }

    #[test]
    fn damaged_pages_are_refused_not_read() {
        let buf = page(&[(b"key", Val::Inline(b"value"))]);
        assert!(Page::parse(&[]).is_err());
        assert!(Page::parse(&[9, 0, 0, 0, 0]).is_err());
        for cut in 1..buf.len() {
            let short = &buf[..cut];
            if let Ok(p) = Page::parse(short) {
                assert!(p.entry(0).is_err(), "cut at {cut}");
            }
        }
        let mut huge = buf.clone();
        huge[5..9].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(Page::parse(&huge).is_err());
    }

    #[test]
    fn cut_fills_pages_evenly() {
        assert!(cut(&[]).is_empty());
        assert_eq!(cut(&[10, 10]), vec![0..2]);
        let runs = cut(&[600, 600]);
        assert_eq!(runs, vec![0..1, 1..2]);
        let sizes = vec![130; 1000];
        let runs = cut(&sizes);
        assert_eq!(runs.first().unwrap().start, 0);
        assert_eq!(runs.last().unwrap().end, 1000);
        for w in runs.windows(2) {
            assert_eq!(w[0].end, w[1].start);
        }
        assert!(runs.iter().all(|r| r.len() * 130 <= TARGET + 130));
        assert!(runs[..runs.len() - 1]
            .iter()
            .all(|r| r.len() * 130 >= TARGET));
        // An entry larger than a page closes its run.
        assert_eq!(cut(&[100, 5000, 100]), vec![0..2, 2..3]);
    }
}
