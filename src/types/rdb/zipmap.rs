//! Zipmaps (Redis 2.x small hashes), read only: `count u8 | (len key len
//! free value [free bytes])* | 0xff`, a length being one byte below 254 or
//! 254 and 4 bytes little endian.

use bytes::Bytes;

/// A zipmap's (field, value) pairs, checked whole.
pub(crate) fn pairs(b: &[u8]) -> Option<Vec<(Bytes, Bytes)>> {
    let mut p = 1;
    let mut out = Vec::new();
    let len = |p: &mut usize| -> Option<Option<usize>> {
        match *b.get(*p)? {
            0xff => Some(None),
            254 => {
                let n = u32::from_le_bytes(b.get(*p + 1..*p + 5)?.try_into().ok()?) as usize;
                *p += 5;
                Some(Some(n))
            }
            n => {
                *p += 1;
                Some(Some(n as usize))
            }
        }
    };
    while let Some(klen) = len(&mut p)? {
        let key = b.get(p..p.checked_add(klen)?)?;
        p += klen;
        let vlen = len(&mut p)??;
        let free = *b.get(p)? as usize;
        p += 1;
        let value = b.get(p..p.checked_add(vlen)?)?;
        p = p.checked_add(vlen)?.checked_add(free)?;
        out.push((Bytes::copy_from_slice(key), Bytes::copy_from_slice(value)));
    }
    // The terminator must be the last byte.
    (p + 1 == b.len()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_pairs_and_refuses_damage() {
        let z = b"\x02\x01a\x02\x00xy\x02bb\x01\x02z\x00\x00\xff";
        let got = pairs(z).expect("valid");
        assert_eq!(got.len(), 2);
        assert_eq!(&got[0].0[..], b"a");
        assert_eq!(&got[0].1[..], b"xy");
        assert_eq!(&got[1].0[..], b"bb");
        assert_eq!(&got[1].1[..], b"z");
        for cut in 0..z.len() {
            assert!(pairs(&z[..cut]).is_none());
        }
    }
}
