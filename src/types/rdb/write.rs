//! Writing a DUMP payload as Redis 7.0 does (`createDumpPayload`): the
//! object in the encoding Redis would have chosen for the same value under
//! the same limits (listpack for small hashes and sorted sets, intset for
//! small sets of integers, quicklist nodes of listpacks for lists, integer
//! and LZF string encodings), then version 10 and the CRC64.
//!
//! Elements are read page by page and encoded straight into the payload,
//! so a big collection costs about its payload in memory, not a copy of
//! its elements. The payload keeps room at its front for the type byte and
//! the element count, which are known only at the end (a list's node
//! count).

use super::{crc64::crc64, intset, listpack, lzf, types, RDB_VERSION};
use crate::store::keys::{Kind, Meta};
use crate::types::encoding::{self, Encoding};
use crate::types::{hash::Hash, list::List, set, zset::Z, Db};
use bytes::Bytes;

/// What else shapes a payload (config directives of the same names); the
/// collections' encodings are `types/encoding.rs`'s.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    /// `list-max-listpack-size`: negative, a node's byte size class; else
    /// its entry count.
    pub list_fill: i64,
    /// `rdbcompression`.
    pub compress: bool,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            list_fill: -2,
            compress: true,
        }
    }
}

/// Room kept at the front: a type byte and the longest length encoding.
const FRONT: usize = 10;

/// A payload being written.
pub(crate) struct Payload {
    buf: Vec<u8>,
    compress: bool,
}

impl Payload {
    fn new(compress: bool) -> Payload {
        Payload {
            buf: vec![0; FRONT],
            compress,
        }
    }

    fn len(&mut self, n: u64) {
        put_len(&mut self.buf, n);
    }

    /// `rdbSaveRawString`: an integer encoding for a short canonical
    /// integer, LZF for a string over 20 bytes that shrinks by at least 4,
    /// else the bytes after their length.
    fn string(&mut self, s: &[u8]) {
        if s.len() <= 11 {
            if let Some(v) = crate::util::parse_i64(s) {
                if let Ok(v) = i8::try_from(v) {
                    self.buf.extend_from_slice(&[0xc0, v as u8]);
                    return;
                }
                if let Ok(v) = i16::try_from(v) {
                    self.buf.push(0xc1);
                    self.buf.extend_from_slice(&v.to_le_bytes());
                    return;
                }
                if let Ok(v) = i32::try_from(v) {
                    self.buf.push(0xc2);
                    self.buf.extend_from_slice(&v.to_le_bytes());
                    return;
                }
            }
        }
        if self.compress && s.len() > 20 {
            if let Some(z) = lzf::compress(s, s.len() - 4) {
                self.buf.push(0xc3);
                put_len(&mut self.buf, z.len() as u64);
                put_len(&mut self.buf, s.len() as u64);
                self.buf.extend_from_slice(&z);
                return;
            }
        }
        put_len(&mut self.buf, s.len() as u64);
        self.buf.extend_from_slice(s);
    }

    /// The finished payload: the type and `count` (if any) in front of the
    /// body, then version and CRC64.
    fn finish(mut self, t: u8, count: Option<u64>) -> Bytes {
        let mut head = vec![t];
        if let Some(n) = count {
            put_len(&mut head, n);
        }
        let start = FRONT - head.len();
        self.buf[start..FRONT].copy_from_slice(&head);
        self.buf.extend_from_slice(&RDB_VERSION.to_le_bytes());
        let crc = crc64(0, &self.buf[start..]);
        self.buf.extend_from_slice(&crc.to_le_bytes());
        Bytes::from(self.buf).slice(start..)
    }
}

/// FUNCTION DUMP's payload: each library's code after `FUNCTION2`, as
/// Redis 7.0 writes it, then the version and CRC64.
pub(crate) fn functions(codes: &[Bytes]) -> Bytes {
    let mut p = Payload {
        buf: Vec::new(),
        compress: true,
    };
    for code in codes {
        p.buf.push(super::FUNCTION2);
        p.string(code);
    }
    p.buf.extend_from_slice(&RDB_VERSION.to_le_bytes());
    let crc = crc64(0, &p.buf);
    p.buf.extend_from_slice(&crc.to_le_bytes());
    Bytes::from(p.buf)
}

/// `rdbSaveLen`.
fn put_len(b: &mut Vec<u8>, n: u64) {
    if n < 64 {
        b.push(n as u8);
    } else if n < 16384 {
        b.push(0x40 | (n >> 8) as u8);
        b.push(n as u8);
    } else if n <= u32::MAX as u64 {
        b.push(0x80);
        b.extend_from_slice(&(n as u32).to_be_bytes());
    } else {
        b.push(0x81);
        b.extend_from_slice(&n.to_be_bytes());
    }
}

/// The payload of `key`'s value (None: no such key).
pub(crate) fn dump(db: &mut Db<'_>, key: &Bytes, lim: &Limits) -> Option<Bytes> {
    let m = db.get(key)?;
    let mut p = Payload::new(lim.compress);
    Some(match m.kind {
        Kind::String => {
            let v = crate::types::string::value_of(db, key, m).ok()?;
            p.string(&v);
            p.finish(types::STRING, None)
        }
        Kind::List => list(db, key, lim, p),
        Kind::Set => {
            let small = encoding::of(db, key, &m) == Encoding::Intset;
            set(db, key, &m, small, p)
        }
        Kind::Hash => {
            let small = encoding::of(db, key, &m) == Encoding::Listpack;
            hash(db, key, small, p)?
        }
        Kind::ZSet => {
            let small = encoding::of(db, key, &m) == Encoding::Listpack;
            zset(db, key, small, lim, p)?
        }
    })
}

/// Every (element, value) under `prefix`, in element order, page by page.
fn each_elem(db: &mut Db<'_>, prefix: &[u8], mut f: impl FnMut(&[u8], &Bytes)) {
    let mut after: Option<Vec<u8>> = None;
    loop {
        let mut last: Option<Vec<u8>> = None;
        let more = db.page_each(prefix, after.as_deref(), 1024, |k, v| {
            f(k, v);
            last = Some(k.to_vec());
        });
        match last {
            Some(l) if more => after = Some(l),
            _ => return,
        }
    }
}

/// quicklist 2 with listpack nodes, cut where Redis's RPUSH would start a
/// new node (`_quicklistNodeAllowInsert`).
fn list(db: &mut Db<'_>, key: &Bytes, lim: &Limits, mut p: Payload) -> Bytes {
    let l = match List::open(db, key) {
        Ok(Some(l)) => l,
        _ => return p.finish(types::LIST_QUICKLIST_2, Some(0)),
    };
    let mut nodes = 0u64;
    let mut node = listpack::Writer::new();
    let fill = lim.list_fill;
    fn flush(p: &mut Payload, node: listpack::Writer) {
        p.len(2); // PACKED
        p.string(&node.finish());
    }
    l.each(db, 0, l.len(), |v| {
        if node.count() > 0 && !allow_insert(node.bytes(), node.count(), v.len(), fill) {
            let full = std::mem::replace(&mut node, listpack::Writer::new());
            flush(&mut p, full);
            nodes += 1;
        }
        node.push(v);
    });
    if node.count() > 0 {
        flush(&mut p, node);
        nodes += 1;
    }
    p.finish(types::LIST_QUICKLIST_2, Some(nodes))
}

/// Whether Redis 7.0 puts an item of `sz` bytes into a node of `node_sz`
/// bytes holding `count` items (`_quicklistNodeAllowInsert`: 8 bytes of
/// estimated overhead, then the size class of a negative fill, or the
/// safety limit and the count of a positive one).
fn allow_insert(node_sz: usize, count: usize, sz: usize, fill: i64) -> bool {
    const LEVELS: [usize; 5] = [4096, 8192, 16384, 32768, 65536];
    const SAFETY: usize = 8192;
    let new_sz = node_sz + sz + 8;
    if fill < 0 {
        let level = ((-fill - 1) as usize).min(LEVELS.len() - 1);
        return new_sz <= LEVELS[level];
    }
    new_sz <= SAFETY && count < fill.max(1) as usize
}

/// An intset when Redis would hold one (`small`: every member an integer,
/// few enough, never converted), else the plain set type.
fn set(db: &mut Db<'_>, key: &Bytes, m: &Meta, small: bool, mut p: Payload) -> Bytes {
    let mp = set::member_prefix(db, key, m);
    if small {
        let mut ints = Vec::new();
        let mut all_ints = true;
        each_elem(db, &mp, |k, _| match crate::util::parse_i64(k) {
            Some(v) if all_ints => ints.push(v),
            _ => all_ints = false,
        });
        if all_ints && !ints.is_empty() {
            ints.sort_unstable();
            p.string(&intset::encode(&ints));
            return p.finish(types::SET_INTSET, None);
        }
    }
    let mut n = 0u64;
    each_elem(db, &mp, |k, _| {
        p.string(k);
        n += 1;
    });
    p.finish(types::SET, Some(n))
}

/// A listpack of fields and values when Redis would hold one (`small`),
/// else the plain hash type.
fn hash(db: &mut Db<'_>, key: &Bytes, small: bool, mut p: Payload) -> Option<Bytes> {
    let h = Hash::open(db, key).ok()??;
    let prefix = h.prefix().to_vec();
    if small {
        let pairs = h.all(db);
        let mut lp = listpack::Writer::new();
        for (f, v) in &pairs {
            lp.push(f);
            lp.push(v);
        }
        p.string(&lp.finish());
        return Some(p.finish(types::HASH_LISTPACK, None));
    }
    let mut n = 0u64;
    each_elem(db, &prefix, |f, v| {
        p.string(f);
        p.string(v);
        n += 1;
    });
    Some(p.finish(types::HASH, Some(n)))
}

/// Redis 7.0's `d2string` for a listpack score: an integer when the double
/// is one and within half of i64's range, else `%.17g`.
fn score_text(d: f64) -> String {
    if d.fract() == 0.0 && d.abs() <= 4_611_686_018_427_387_904.0 {
        (d as i64).to_string()
    } else {
        crate::util::fmt_double(d)
    }
}

/// A listpack of members and scores in score order when Redis would hold
/// one (`small`), else ZSET_2 with the members from the highest score
/// down, as Redis walks its skiplist.
fn zset(db: &mut Db<'_>, key: &Bytes, small: bool, lim: &Limits, mut p: Payload) -> Option<Bytes> {
    let z = Z::open(db, key).ok()??;
    if small {
        let mut items = Vec::new();
        z.each(db, |s, m| {
            items.push((m, s));
            true
        });
        let mut lp = listpack::Writer::new();
        for (m, s) in &items {
            lp.push(m);
            lp.push(score_text(*s).as_bytes());
        }
        p.string(&lp.finish());
        return Some(p.finish(types::ZSET_LISTPACK, None));
    }
    // Entries are written in score order into a side buffer, then copied
    // into the payload backwards: one extra copy, of the payload's size.
    let mut side = Payload::new(lim.compress);
    side.buf.clear();
    let mut ends: Vec<usize> = Vec::new();
    z.each(db, |s, m| {
        side.string(&m);
        side.buf.extend_from_slice(&s.to_le_bytes());
        ends.push(side.buf.len());
        true
    });
    p.buf.reserve(side.buf.len());
    for i in (0..ends.len()).rev() {
        let start = if i == 0 { 0 } else { ends[i - 1] };
        p.buf.extend_from_slice(&side.buf[start..ends[i]]);
    }
    Some(p.finish(types::ZSET_2, Some(ends.len() as u64)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn string_payload(s: &[u8]) -> Vec<u8> {
        let mut p = Payload::new(true);
        p.string(s);
        p.finish(types::STRING, None).to_vec()
    }

    #[test]
    fn strings_match_redis() {
        // Redis 7.0.15's DUMP of the same values.
        assert_eq!(
            string_payload(b"hello"),
            b"\x00\x05hello\n\x00cr\xdfve4 \n".to_vec()
        );
        assert_eq!(
            string_payload(b"12345"),
            b"\x00\xc190\n\x00\x9d\x94\xea'\x93\xfc\x08\xb9".to_vec()
        );
        assert_eq!(
            string_payload(&[b'a'; 100]),
            b"\x00\xc3\t@d\x01aa\xe0W\x00\x01aa\n\x00\xe8\xa3\xb5\x07\xb0m\xf2q".to_vec()
        );
    }

    #[test]
    fn lengths() {
        for (n, want) in [
            (0u64, &b"\x00"[..]),
            (63, b"\x3f"),
            (64, b"\x40\x40"),
            (16383, b"\x7f\xff"),
            (16384, b"\x80\x00\x00\x40\x00"),
            (1 << 32, b"\x81\x00\x00\x00\x01\x00\x00\x00\x00"),
        ] {
            let mut b = Vec::new();
            put_len(&mut b, n);
            assert_eq!(b, want.to_vec(), "{n}");
        }
    }

    #[test]
    fn scores_as_redis_prints_them() {
        assert_eq!(score_text(2.0), "2");
        assert_eq!(score_text(1.5), "1.5");
        assert_eq!(score_text(0.1), "0.10000000000000001");
        assert_eq!(score_text(1e20), "1e+20");
        assert_eq!(score_text(123456789012345678.0), "123456789012345680");
        assert_eq!(score_text(f64::INFINITY), "inf");
    }
}
