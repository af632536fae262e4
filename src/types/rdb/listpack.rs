//! Listpacks (Redis's listpack.c), the blob inside a small hash, sorted
//! set or quicklist node: `total bytes u32 LE | count u16 LE | entries |
//! 0xff`, each entry an encoding (a small integer, an integer of 13, 16,
//! 24, 32 or 64 bits, or a string with a 6, 12 or 32-bit length) followed
//! by its own length backwards (`backlen`). Reading checks every length
//! against the bytes there; writing encodes as `lpAppend` does, so the
//! bytes are Redis's.

use super::Item;

/// A listpack's entries, checked whole: its size field, every entry's
/// encoding and backlen, the terminator at the very end, and the count
/// (unless it is 65535, "unknown").
pub(crate) fn entries(b: &[u8]) -> Option<Vec<Item<'_>>> {
    if b.len() < 7 {
        return None;
    }
    let total = u32::from_le_bytes(b[0..4].try_into().ok()?) as usize;
    let count = u16::from_le_bytes(b[4..6].try_into().ok()?);
    if total != b.len() || b[b.len() - 1] != 0xff {
        return None;
    }
    let end = b.len() - 1;
    let mut p = 6;
    let mut out = Vec::new();
    while p < end {
        let (item, enc_len) = entry(&b[p..end])?;
        let back = backlen_size(enc_len as u64);
        let after = p.checked_add(enc_len)?.checked_add(back)?;
        if after > end || decode_backlen(&b[p + enc_len..after]) != Some(enc_len as u64) {
            return None;
        }
        out.push(item);
        p = after;
    }
    if p != end || (count != u16::MAX && count as usize != out.len()) {
        return None;
    }
    Some(out)
}

/// One entry at the start of `b`: its value and the size of its encoding
/// plus data (without the backlen).
fn entry(b: &[u8]) -> Option<(Item<'_>, usize)> {
    let e = *b.first()?;
    let int = |n: usize| -> Option<(Item<'_>, usize)> {
        let d = b.get(1..1 + n)?;
        let mut v: u64 = 0;
        for (i, &x) in d.iter().enumerate() {
            v |= (x as u64) << (8 * i);
        }
        // Sign-extend from n bytes.
        let shift = 64 - 8 * n as u32;
        Some((Item::Int(((v << shift) as i64) >> shift), 1 + n))
    };
    let string = |head: usize, len: usize| -> Option<(Item<'_>, usize)> {
        let s = b.get(head..head.checked_add(len)?)?;
        Some((Item::Str(s), head + len))
    };
    if e & 0x80 == 0 {
        Some((Item::Int((e & 0x7f) as i64), 1))
    } else if e & 0xc0 == 0x80 {
        string(1, (e & 0x3f) as usize)
    } else if e & 0xe0 == 0xc0 {
        let v = (((e & 0x1f) as i64) << 8) | *b.get(1)? as i64;
        let v = if v >= 1 << 12 { v - (1 << 13) } else { v };
        Some((Item::Int(v), 2))
    } else if e & 0xf0 == 0xe0 {
        string(2, (((e & 0x0f) as usize) << 8) | *b.get(1)? as usize)
    } else {
        match e {
            0xf0 => {
                let len = u32::from_le_bytes(b.get(1..5)?.try_into().ok()?) as usize;
                string(5, len)
            }
            0xf1 => int(2),
            0xf2 => int(3),
            0xf3 => int(4),
            0xf4 => int(8),
            _ => None,
        }
    }
}

fn backlen_size(l: u64) -> usize {
    match l {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2097150 => 3,
        2097151..=268435454 => 4,
        _ => 5,
    }
}

/// `lpEncodeBacklen`: 7 bits a byte, most significant first, every byte
/// but the first with its high bit set.
fn encode_backlen(out: &mut Vec<u8>, l: u64) {
    let n = backlen_size(l);
    for i in (0..n).rev() {
        let b = ((l >> (7 * i)) & 127) as u8;
        out.push(if i == n - 1 { b } else { b | 128 });
    }
}

fn decode_backlen(b: &[u8]) -> Option<u64> {
    let (first, rest) = b.split_first()?;
    if first & 128 != 0 {
        return None;
    }
    let mut v = *first as u64;
    for &x in rest {
        if x & 128 == 0 {
            return None;
        }
        v = (v << 7) | (x & 127) as u64;
    }
    Some(v)
}

/// A listpack being written.
pub(crate) struct Writer {
    buf: Vec<u8>,
    count: usize,
}

impl Writer {
    pub(crate) fn new() -> Writer {
        Writer {
            buf: vec![0, 0, 0, 0, 0, 0],
            count: 0,
        }
    }

    /// Bytes so far plus the terminator (what `lpBytes` would say).
    pub(crate) fn bytes(&self) -> usize {
        self.buf.len() + 1
    }

    pub(crate) fn count(&self) -> usize {
        self.count
    }

    /// `lpAppend`: a string that reads as an integer (Redis's strict
    /// `string2ll`) is stored as one.
    pub(crate) fn push(&mut self, s: &[u8]) {
        let start = self.buf.len();
        match crate::util::parse_i64(s) {
            Some(v) => push_int(&mut self.buf, v),
            None => {
                let n = s.len();
                if n < 64 {
                    self.buf.push(0x80 | n as u8);
                } else if n < 4096 {
                    self.buf.push(0xe0 | (n >> 8) as u8);
                    self.buf.push(n as u8);
                } else {
                    self.buf.push(0xf0);
                    self.buf.extend_from_slice(&(n as u32).to_le_bytes());
                }
                self.buf.extend_from_slice(s);
            }
        }
        let enc_len = (self.buf.len() - start) as u64;
        encode_backlen(&mut self.buf, enc_len);
        self.count += 1;
    }

    /// The finished listpack.
    pub(crate) fn finish(mut self) -> Vec<u8> {
        self.buf.push(0xff);
        let total = self.buf.len() as u32;
        self.buf[0..4].copy_from_slice(&total.to_le_bytes());
        let count = self.count.min(u16::MAX as usize) as u16;
        self.buf[4..6].copy_from_slice(&count.to_le_bytes());
        self.buf
    }
}

fn push_int(b: &mut Vec<u8>, v: i64) {
    if (0..=127).contains(&v) {
        b.push(v as u8);
    } else if (-4096..=4095).contains(&v) {
        let u = if v < 0 { (1 << 13) + v } else { v } as u64;
        b.push(0xc0 | (u >> 8) as u8);
        b.push(u as u8);
    } else {
        let n = if (-32768..=32767).contains(&v) {
            b.push(0xf1);
            2
        } else if (-8388608..=8388607).contains(&v) {
            b.push(0xf2);
            3
        } else if (i32::MIN as i64..=i32::MAX as i64).contains(&v) {
            b.push(0xf3);
            4
        } else {
            b.push(0xf4);
            8
        };
        b.extend_from_slice(&v.to_le_bytes()[..n]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_entries_read_back() {
        let vals: Vec<Vec<u8>> = [
            "a",
            "0",
            "127",
            "128",
            "-1",
            "-4096",
            "4095",
            "4096",
            "-32768",
            "70000",
            "-8388609",
            "2147483648",
            "-9223372036854775808",
            "01",
            "-0",
        ]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .chain([vec![b'x'; 63], vec![b'y'; 64], vec![b'z'; 5000]])
        .collect();
        let mut w = Writer::new();
        for v in &vals {
            w.push(v);
        }
        let lp = w.finish();
        let got = entries(&lp).expect("valid");
        assert_eq!(got.len(), vals.len());
        for (g, v) in got.iter().zip(&vals) {
            assert_eq!(&g.to_bytes()[..], &v[..]);
        }
    }

    #[test]
    fn redis_bytes() {
        // RPUSH l a b 1 2 300 70000 in Redis 7.0: the quicklist node.
        let lp = b"\x19\x00\x00\x00\x06\x00\x81a\x02\x81b\x02\x01\x01\x02\x01\xc1,\x02\xf2p\x11\x01\x04\xff";
        let mut w = Writer::new();
        for v in ["a", "b", "1", "2", "300", "70000"] {
            w.push(v.as_bytes());
        }
        assert_eq!(&w.finish()[..], &lp[..]);
    }

    #[test]
    fn damage_is_refused() {
        let mut w = Writer::new();
        w.push(b"hello");
        w.push(b"12");
        let lp = w.finish();
        assert!(entries(&lp).is_some());
        for cut in 0..lp.len() {
            assert!(entries(&lp[..cut]).is_none());
        }
        let mut bad = lp.clone();
        bad[4] = 3;
        assert!(entries(&bad).is_none(), "count");
        let mut bad = lp.clone();
        bad[6] = 0x80 | 40;
        assert!(entries(&bad).is_none(), "string past the end");
    }
}
