//! Intsets (Redis's intset.c), the blob of a small set of integers:
//! `encoding u32 | length u32 | values`, little endian, the values 2, 4 or
//! 8 bytes each (the smallest width that holds them all), sorted and
//! distinct.

/// An intset's values, checked: a known width, a length matching the
/// bytes, values strictly increasing.
pub(crate) fn values(b: &[u8]) -> Option<Vec<i64>> {
    let enc = u32::from_le_bytes(b.get(0..4)?.try_into().ok()?) as usize;
    let len = u32::from_le_bytes(b.get(4..8)?.try_into().ok()?) as u64;
    if !matches!(enc, 2 | 4 | 8) || (b.len() as u64 - 8) != len * enc as u64 {
        return None;
    }
    let mut out: Vec<i64> = Vec::new();
    for c in b[8..].chunks_exact(enc) {
        let v = match enc {
            2 => i16::from_le_bytes(c.try_into().ok()?) as i64,
            4 => i32::from_le_bytes(c.try_into().ok()?) as i64,
            _ => i64::from_le_bytes(c.try_into().ok()?),
        };
        if out.last().is_some_and(|&l| l >= v) {
            return None;
        }
        out.push(v);
    }
    Some(out)
}

/// The intset of `vals` (sorted, distinct), as Redis builds it.
pub(crate) fn encode(vals: &[i64]) -> Vec<u8> {
    let width = |v: i64| {
        if v >= i16::MIN as i64 && v <= i16::MAX as i64 {
            2
        } else if v >= i32::MIN as i64 && v <= i32::MAX as i64 {
            4
        } else {
            8
        }
    };
    let enc = vals.iter().map(|&v| width(v)).max().unwrap_or(2);
    let mut b = Vec::with_capacity(8 + enc * vals.len());
    b.extend_from_slice(&(enc as u32).to_le_bytes());
    b.extend_from_slice(&(vals.len() as u32).to_le_bytes());
    for &v in vals {
        b.extend_from_slice(&v.to_le_bytes()[..enc]);
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_redis_bytes() {
        // SADD st 1 2 3 in Redis 7.0.
        let redis = b"\x02\x00\x00\x00\x03\x00\x00\x00\x01\x00\x02\x00\x03\x00";
        assert_eq!(encode(&[1, 2, 3]), redis.to_vec());
        assert_eq!(values(redis), Some(vec![1, 2, 3]));
        let wide = encode(&[-5, 70000, i64::MAX]);
        assert_eq!(values(&wide), Some(vec![-5, 70000, i64::MAX]));
    }

    #[test]
    fn damage_is_refused() {
        assert!(values(&encode(&[1, 2])[..11]).is_none());
        let mut unsorted = encode(&[1, 2]);
        unsorted[8] = 9;
        assert!(values(&unsorted).is_none());
        let mut bad = encode(&[1]);
        bad[0] = 3;
        assert!(values(&bad).is_none());
        let mut huge = encode(&[1]);
        huge[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(values(&huge).is_none());
    }
}
