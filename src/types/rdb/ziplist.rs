//! Ziplists (Redis's ziplist.c, before 7.0), read only: older payloads keep
//! small lists, hashes and sorted sets in them. `zlbytes u32 | zltail u32 |
//! zllen u16 | entries | 0xff` (little endian), each entry `prevlen` (1
//! byte, or 0xfe and 4 bytes), an encoding (a string with a 6, 14 or
//! 32-bit length, or an integer of 8, 16, 24, 32 or 64 bits, or 0..12 in
//! the encoding byte) and its data. Every length is checked against the
//! bytes there.

use super::Item;

/// A ziplist's entries, checked whole: the size and tail fields, each
/// entry's prevlen, the terminator at the very end, and the count (unless
/// it is 65535, "unknown").
pub(crate) fn entries(b: &[u8]) -> Option<Vec<Item<'_>>> {
    const HEAD: usize = 10;
    if b.len() < HEAD + 1 {
        return None;
    }
    let total = u32::from_le_bytes(b[0..4].try_into().ok()?) as usize;
    let tail = u32::from_le_bytes(b[4..8].try_into().ok()?) as usize;
    let count = u16::from_le_bytes(b[8..10].try_into().ok()?);
    if total != b.len() || b[b.len() - 1] != 0xff {
        return None;
    }
    let end = b.len() - 1;
    let mut p = HEAD;
    let mut prev_len = 0usize;
    let mut last_start = HEAD;
    let mut out = Vec::new();
    while p < end {
        let (prevlen, head) = match b[p] {
            0xfe => (
                u32::from_le_bytes(b.get(p + 1..p + 5)?.try_into().ok()?) as usize,
                5,
            ),
            x => (x as usize, 1),
        };
        if prevlen != prev_len {
            return None;
        }
        let (item, size) = entry(b.get(p + head..end)?)?;
        out.push(item);
        last_start = p;
        prev_len = head + size;
        p = p.checked_add(prev_len)?;
    }
    if p != end || tail != last_start {
        return None;
    }
    if count != u16::MAX && count as usize != out.len() {
        return None;
    }
    Some(out)
}

/// One entry's encoding and data at the start of `b`: its value and size.
fn entry(b: &[u8]) -> Option<(Item<'_>, usize)> {
    let e = *b.first()?;
    let string = |head: usize, len: usize| -> Option<(Item<'_>, usize)> {
        let s = b.get(head..head.checked_add(len)?)?;
        Some((Item::Str(s), head + len))
    };
    let int = |n: usize| -> Option<(Item<'_>, usize)> {
        let d = b.get(1..1 + n)?;
        let mut v: u64 = 0;
        for (i, &x) in d.iter().enumerate() {
            v |= (x as u64) << (8 * i);
        }
        let shift = 64 - 8 * n as u32;
        Some((Item::Int(((v << shift) as i64) >> shift), 1 + n))
    };
    match e >> 6 {
        0 => string(1, (e & 0x3f) as usize),
        1 => string(2, (((e & 0x3f) as usize) << 8) | *b.get(1)? as usize),
        2 if e == 0x80 => {
            let len = u32::from_be_bytes(b.get(1..5)?.try_into().ok()?) as usize;
            string(5, len)
        }
        2 => None,
        _ => match e {
            0xc0 => int(2),
            0xd0 => int(4),
            0xe0 => int(8),
            0xf0 => int(3),
            0xfe => int(1),
            0xf1..=0xfd => Some((Item::Int((e & 0x0f) as i64 - 1), 1)),
            _ => None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A ziplist as Redis 6 wrote it for `RPUSH l a 1 300 hello`.
    fn sample() -> Vec<u8> {
        let e: Vec<Vec<u8>> = vec![
            vec![0x01, b'a'],
            vec![0xf2],
            vec![0xc0, 0x2c, 0x01],
            vec![0x05, b'h', b'e', b'l', b'l', b'o'],
        ];
        let mut body = Vec::new();
        let mut prev = 0usize;
        let mut tail = 10;
        for x in &e {
            tail = 10 + body.len();
            body.push(prev as u8);
            body.extend_from_slice(x);
            prev = 1 + x.len();
        }
        let total = 10 + body.len() + 1;
        let mut z = Vec::new();
        z.extend_from_slice(&(total as u32).to_le_bytes());
        z.extend_from_slice(&(tail as u32).to_le_bytes());
        z.extend_from_slice(&(e.len() as u16).to_le_bytes());
        z.extend_from_slice(&body);
        z.push(0xff);
        z
    }

    #[test]
    fn reads_entries() {
        let z = sample();
        let got: Vec<Vec<u8>> = entries(&z)
            .expect("valid")
            .iter()
            .map(|i| i.to_bytes().to_vec())
            .collect();
        assert_eq!(got, [&b"a"[..], b"1", b"300", b"hello"]);
    }

    #[test]
    fn damage_is_refused() {
        let z = sample();
        for cut in 0..z.len() {
            assert!(entries(&z[..cut]).is_none());
        }
        let mut bad = z.clone();
        bad[4] = 0;
        assert!(entries(&bad).is_none(), "tail");
        let mut bad = z.clone();
        bad[11] = 0x3f;
        assert!(entries(&bad).is_none(), "string past the end");
    }
}
