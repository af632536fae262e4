//! Bitmaps and bit fields over string values (the storage half of Redis's
//! bitops.c). A bitmap is an ordinary string: bit 0 is the most significant
//! bit of byte 0. The string is read and written whole (`types/string.rs`),
//! so a change to one bit of a big bitmap rewrites the whole value.
//!
//! Offsets come from clients: the commands check them against
//! `proto-max-bulk-len` (`check_offset`) before anything grows a string, as
//! Redis does, so no allocation is ever sized by an unchecked number.

use super::string::{self, Str};
use super::{Db, TypeError};
use bytes::{Bytes, BytesMut};

/// A bit offset within `max_bytes` (Redis: `(offset >> 3) <
/// proto-max-bulk-len`); None if out of range.
pub(crate) fn check_offset(offset: i64, max_bytes: u64) -> Option<u64> {
    let o = u64::try_from(offset).ok()?;
    ((o >> 3) < max_bytes).then_some(o)
}

/// The bit at `offset` of `v` (0 past its end).
pub(crate) fn bit_at(v: &[u8], offset: u64) -> u8 {
    let byte = offset >> 3;
    match usize::try_from(byte).ok().and_then(|b| v.get(b)) {
        Some(b) => (b >> (7 - (offset & 7) as u8)) & 1,
        None => 0,
    }
}

/// GETBIT.
pub(crate) fn get_bit(db: &mut Db<'_>, key: &[u8], offset: u64) -> Result<u8, TypeError> {
    Ok(string::get(db, key)?.map_or(0, |s| bit_at(&s.value, offset)))
}

/// The string at `key` for a bit write, grown with zero bytes to hold bit
/// `max_bit` (Redis's `lookupStringForBitCommand`); its length before
/// (None: no such key), its deadline. `max_bit` must have passed `check_offset`.
fn grown(
    db: &mut Db<'_>,
    key: &[u8],
    max_bit: u64,
) -> Result<(BytesMut, Option<usize>, Option<i64>), TypeError> {
    let need = usize::try_from((max_bit >> 3) + 1).map_err(|_| TypeError::TooBig)?;
    let old = string::get_for_write(db, key)?;
    let (mut v, existed, at) = match old {
        Some(Str { value, expire_at }) => {
            (BytesMut::from(&value[..]), Some(value.len()), expire_at)
        }
        None => (BytesMut::new(), None, None),
    };
    if v.len() < need {
        v.resize(need, 0);
    }
    Ok((v, existed, at))
}

/// SETBIT: the bit's old value. Nothing is written when neither the bit nor
/// the length changes (Redis then leaves the key alone: no WATCH
/// invalidation, nothing replicated).
pub(crate) fn set_bit(db: &mut Db<'_>, key: &[u8], offset: u64, on: bool) -> Result<u8, TypeError> {
    let old = string::get_for_write(db, key)?;
    let byte = usize::try_from(offset >> 3).map_err(|_| TypeError::TooBig)?;
    let shift = 7 - (offset & 7) as u8;
    let (cur, at) = match &old {
        Some(s) => (&s.value[..], s.expire_at),
        None => (&[][..], None),
    };
    let was = bit_at(cur, offset);
    if old.is_some() && byte < cur.len() && (was == 1) == on {
        return Ok(was);
    }
    let mut v = BytesMut::from(cur);
    if v.len() <= byte {
        v.resize(byte + 1, 0);
    }
    if on {
        v[byte] |= 1 << shift;
    } else {
        v[byte] &= !(1 << shift);
    }
    string::put(db, key, v.freeze(), at);
    Ok(was)
}

/// Redis's range rules for BITCOUNT/BITPOS: `start..=end` in bytes or
/// bits (`bits`) of a `len`-byte string, negative from the end, clamped.
/// Returns the inclusive bit range, or None if it is empty.
fn bit_range(len: usize, start: i64, end: i64, bits: bool) -> Option<(u64, u64)> {
    let mut total = len as i64;
    if bits {
        total <<= 3;
    }
    let (mut s, mut e) = (start, end);
    if s < 0 {
        s = total.saturating_add(s);
    }
    if e < 0 {
        e = total.saturating_add(e);
    }
    s = s.max(0);
    e = e.max(0);
    if e >= total {
        e = total - 1;
    }
    if s > e {
        return None;
    }
    let (s, e) = (s as u64, e as u64);
    Some(if bits { (s, e) } else { (s * 8, e * 8 + 7) })
}

/// The number of set bits of `v` in the inclusive bit range.
fn count_bits(v: &[u8], from: u64, to: u64) -> u64 {
    let (fb, lb) = ((from >> 3) as usize, (to >> 3) as usize);
    let mut n: u64 = v[fb..=lb].iter().map(|b| b.count_ones() as u64).sum();
    // Bits of the edge bytes outside the range.
    let head = v[fb] & !(0xffu8 >> (from & 7));
    let tail_mask = if to & 7 == 7 {
        0
    } else {
        0xffu8 >> ((to & 7) + 1)
    };
    n -= (head.count_ones() + (v[lb] & tail_mask).count_ones()) as u64;
    n
}

/// BITCOUNT of `v`: the whole string, or `start..=end` in bytes or bits.
pub(crate) fn count(v: &[u8], range: Option<(i64, i64, bool)>) -> u64 {
    let Some((start, end, bits)) = range else {
        return v.iter().map(|b| b.count_ones() as u64).sum();
    };
    // Both negative and reversed: empty, before any clamping.
    if start < 0 && end < 0 && start > end {
        return 0;
    }
    match bit_range(v.len(), start, end, bits) {
        Some((s, e)) => count_bits(v, s, e),
        None => 0,
    }
}

/// BITPOS's optional range: start, then end (given or not), in bytes or
/// bits.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PosRange {
    pub start: i64,
    pub end: Option<i64>,
    pub bits: bool,
}

/// BITPOS of `v` (an existing string): the first bit equal to `bit` in the
/// range, or -1. Looking for a 0 without an explicit end finds the first
/// bit past the string when the range holds only ones (a string is padded
/// with zeros on the right), as in Redis.
pub(crate) fn pos(v: &[u8], bit: u8, range: Option<PosRange>) -> i64 {
    let len = v.len();
    let (span, end_given) = match range {
        None => {
            if len == 0 {
                (None, false)
            } else {
                (Some((0, len as u64 * 8 - 1)), false)
            }
        }
        Some(r) => {
            let total = if r.bits {
                (len as i64) << 3
            } else {
                len as i64
            };
            let end = r.end.unwrap_or(total.saturating_sub(1).max(0));
            // Without an end, the range runs to the end of the string.
            let span = if r.end.is_none() && len == 0 {
                None
            } else {
                bit_range(len, r.start, end, r.bits)
            };
            (span, r.end.is_some())
        }
    };
    let Some((s, e)) = span else {
        return -1;
    };
    let mut i = s;
    while i <= e {
        // Whole bytes at a time where possible.
        if i & 7 == 0 && i + 7 <= e {
            let b = v[(i >> 3) as usize];
            let skip = if bit == 1 { b == 0 } else { b == 0xff };
            if skip {
                i += 8;
                continue;
            }
        }
        if bit_at(v, i) == bit {
            return i as i64;
        }
        i += 1;
    }
    if bit == 0 && !end_given {
        // Past the range, whose last byte is the string's last.
        ((e >> 3) + 1) as i64 * 8
    } else {
        -1
    }
}

/// BITOP's operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    And,
    Or,
    Xor,
    Not,
}

/// BITOP: `dest` becomes `op` over the sources (missing keys are empty
/// strings, shorter ones padded with zeros); an empty result deletes
/// `dest`. Returns the result's length. Every source must be a string.
pub(crate) fn bit_op(
    db: &mut Db<'_>,
    op: Op,
    dest: &[u8],
    srcs: &[Bytes],
) -> Result<usize, TypeError> {
    let n = db.db;
    let mut vals: Vec<Bytes> = Vec::with_capacity(srcs.len());
    for k in srcs {
        vals.push(
            string::get_for_write(db, k)?
                .map(|s| s.value)
                .unwrap_or_default(),
        );
    }
    let max = vals.iter().map(|v| v.len()).max().unwrap_or(0);
    if max == 0 {
        db.tx().delete(n, dest);
        return Ok(0);
    }
    let mut out = vec![0u8; max];
    match op {
        Op::Not => {
            for (o, b) in out.iter_mut().zip(vals[0].iter()) {
                *o = !b;
            }
        }
        Op::And => {
            if let Some(first) = vals.first() {
                out[..first.len()].copy_from_slice(first);
            }
            for v in &vals[1..] {
                for (i, o) in out.iter_mut().enumerate() {
                    *o &= v.get(i).copied().unwrap_or(0);
                }
            }
        }
        Op::Or | Op::Xor => {
            for v in &vals {
                for (o, b) in out.iter_mut().zip(v.iter()) {
                    if op == Op::Or {
                        *o |= b;
                    } else {
                        *o ^= b;
                    }
                }
            }
        }
    }
    string::put(db, dest, Bytes::from(out), None);
    Ok(max)
}

/// BITFIELD's overflow rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Overflow {
    Wrap,
    Sat,
    Fail,
}

/// What a BITFIELD operation does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FieldOp {
    Get,
    Set(i64),
    IncrBy(i64),
}

/// One BITFIELD operation: a field of `bits` bits (signed or not) at bit
/// `offset` (checked), under the overflow rule in force where it appears.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Field {
    pub op: FieldOp,
    pub signed: bool,
    pub bits: u32,
    pub offset: u64,
    pub overflow: Overflow,
}

fn get_unsigned(v: &[u8], offset: u64, bits: u32) -> u64 {
    let mut val = 0u64;
    for j in 0..bits as u64 {
        val = (val << 1) | bit_at(v, offset + j) as u64;
    }
    val
}

fn get_signed(v: &[u8], offset: u64, bits: u32) -> i64 {
    let u = get_unsigned(v, offset, bits);
    if bits < 64 && u & (1u64 << (bits - 1)) != 0 {
        (u | (u64::MAX << bits)) as i64
    } else {
        u as i64
    }
}

/// Writes the low `bits` bits of `val` at `offset`; `v` is long enough.
fn set_field(v: &mut [u8], offset: u64, bits: u32, val: u64) {
    for j in 0..bits as u64 {
        let on = val & (1u64 << (bits as u64 - 1 - j)) != 0;
        let o = offset + j;
        let byte = (o >> 3) as usize;
        let mask = 1u8 << (7 - (o & 7) as u8);
        if let Some(b) = v.get_mut(byte) {
            if on {
                *b |= mask;
            } else {
                *b &= !mask;
            }
        }
    }
}

/// Redis's `checkUnsignedBitfieldOverflow`: whether `value + incr`
/// overflows `bits` bits, and the value the rule gives (wrapped or
/// saturated) when it does.
fn unsigned_overflow(value: u64, incr: i64, bits: u32, ow: Overflow) -> Option<u64> {
    let max = if bits == 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    };
    let maxincr = max.wrapping_sub(value) as i64;
    let minincr = (value as i64).wrapping_neg();
    let wrap = || value.wrapping_add(incr as u64) & !(u64::MAX.checked_shl(bits).unwrap_or(0));
    if value > max || (incr > 0 && incr > maxincr) {
        Some(match ow {
            Overflow::Wrap => wrap(),
            _ => max,
        })
    } else if incr < 0 && incr < minincr {
        Some(match ow {
            Overflow::Wrap => wrap(),
            _ => 0,
        })
    } else {
        None
    }
}

/// Redis's `checkSignedBitfieldOverflow`, with its wrapping arithmetic.
fn signed_overflow(value: i64, incr: i64, bits: u32, ow: Overflow) -> Option<i64> {
    let max = if bits == 64 {
        i64::MAX
    } else {
        (1i64 << (bits - 1)) - 1
    };
    let min = -max - 1;
    let maxincr = (max as u64).wrapping_sub(value as u64) as i64;
    let minincr = min.wrapping_sub(value);
    let wrap = || {
        let mut c = (value as u64).wrapping_add(incr as u64);
        if bits < 64 {
            let mask = u64::MAX << bits;
            if c & (1u64 << (bits - 1)) != 0 {
                c |= mask;
            } else {
                c &= !mask;
            }
        }
        c as i64
    };
    if value > max || (bits != 64 && incr > maxincr) || (value >= 0 && incr > 0 && incr > maxincr) {
        Some(match ow {
            Overflow::Wrap => wrap(),
            _ => max,
        })
    } else if value < min
        || (bits != 64 && incr < minincr)
        || (value < 0 && incr < 0 && incr < minincr)
    {
        Some(match ow {
            Overflow::Wrap => wrap(),
            _ => min,
        })
    } else {
        None
    }
}

/// Runs one SET/INCRBY on `v`: the reply (None: FAIL refused it).
fn write_field(v: &mut [u8], f: &Field) -> Option<i64> {
    let (set, arg) = match f.op {
        FieldOp::Set(x) => (true, x),
        FieldOp::IncrBy(x) => (false, x),
        FieldOp::Get => return None,
    };
    if f.signed {
        let old = get_signed(v, f.offset, f.bits);
        let (new, ovf, ret) = if set {
            let o = signed_overflow(arg, 0, f.bits, f.overflow);
            (o.unwrap_or(arg), o.is_some(), old)
        } else {
            let o = signed_overflow(old, arg, f.bits, f.overflow);
            let n = o.unwrap_or(old.wrapping_add(arg));
            (n, o.is_some(), n)
        };
        if ovf && f.overflow == Overflow::Fail {
            return None;
        }
        set_field(v, f.offset, f.bits, new as u64);
        Some(ret)
    } else {
        let old = get_unsigned(v, f.offset, f.bits);
        let (new, ovf, ret) = if set {
            let o = unsigned_overflow(arg as u64, 0, f.bits, f.overflow);
            (o.unwrap_or(arg as u64), o.is_some(), old)
        } else {
            let o = unsigned_overflow(old, arg, f.bits, f.overflow);
            let n = o.unwrap_or(old.wrapping_add(arg as u64));
            (n, o.is_some(), n)
        };
        if ovf && f.overflow == Overflow::Fail {
            return None;
        }
        set_field(v, f.offset, f.bits, new);
        Some(ret as i64)
    }
}

fn read_field(v: &[u8], f: &Field) -> i64 {
    if f.signed {
        get_signed(v, f.offset, f.bits)
    } else {
        get_unsigned(v, f.offset, f.bits) as i64
    }
}

/// BITFIELD / BITFIELD_RO: one reply per operation (None: an overflow
/// FAIL). With any SET/INCRBY the string is created or grown to the
/// farthest bit written and stored, even when every write failed (as
/// Redis does); with GETs only nothing is written.
pub(crate) fn bit_field(
    db: &mut Db<'_>,
    key: &[u8],
    fields: &[Field],
) -> Result<Vec<Option<i64>>, TypeError> {
    let highest = fields
        .iter()
        .filter(|f| f.op != FieldOp::Get)
        .map(|f| f.offset + f.bits as u64 - 1)
        .max();
    let Some(highest) = highest else {
        let v = string::get(db, key)?.map(|s| s.value).unwrap_or_default();
        return Ok(fields.iter().map(|f| Some(read_field(&v, f))).collect());
    };
    let (mut v, old_len, at) = grown(db, key, highest)?;
    let mut changes = 0;
    let out = fields
        .iter()
        .map(|f| match f.op {
            FieldOp::Get => Some(read_field(&v, f)),
            _ => {
                let r = write_field(&mut v, f);
                changes += r.is_some() as usize;
                r
            }
        })
        .collect();
    // Redis counts a change for every write that was not refused; a key
    // created or grown is stored as well (Redis keeps it in memory).
    if changes > 0 || old_len != Some(v.len()) {
        string::put(db, key, v.freeze(), at);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_follow_redis_ranges() {
        let v = b"foobar";
        assert_eq!(count(v, None), 26);
        assert_eq!(count(v, Some((0, 0, false))), 4);
        assert_eq!(count(v, Some((1, 1, false))), 6);
        assert_eq!(count(v, Some((1, 1, true))), 1);
        assert_eq!(count(v, Some((5, 30, true))), 17);
        assert_eq!(count(v, Some((-1, -2, false))), 0);
        assert_eq!(count(b"", Some((0, -1, false))), 0);
    }

    #[test]
    fn positions_follow_redis() {
        let v = [0xffu8, 0xf0, 0x00];
        assert_eq!(pos(&v, 0, None), 12);
        assert_eq!(pos(&[0xff, 0xff], 0, None), 16);
        let r = |start, end, bits| {
            Some(PosRange {
                start,
                end: Some(end),
                bits,
            })
        };
        assert_eq!(pos(&[0xff, 0xff], 0, r(0, -1, false)), -1);
        assert_eq!(pos(&v, 1, r(2, -1, false)), -1);
        assert_eq!(pos(&v, 1, r(7, 15, true)), 7);
        assert_eq!(pos(&[], 0, None), -1);
    }

    /// Every range, every string length: answers, never a panic, and
    /// BITCOUNT over bits agrees with counting them one by one.
    #[test]
    fn ranges_never_panic() {
        let strings: [&[u8]; 4] = [b"", b"\x00", b"\xff\x0f", b"foobar"];
        let bounds = [
            i64::MIN,
            -100,
            -9,
            -8,
            -1,
            0,
            1,
            7,
            8,
            9,
            47,
            48,
            100,
            i64::MAX,
        ];
        for v in strings {
            for &s in &bounds {
                for &e in &bounds {
                    for bits in [false, true] {
                        let c = count(v, Some((s, e, bits)));
                        if bits && !(s < 0 && e < 0 && s > e) {
                            let slow = match bit_range(v.len(), s, e, true) {
                                Some((a, b)) => (a..=b).map(|i| bit_at(v, i) as u64).sum(),
                                None => 0,
                            };
                            assert_eq!(c, slow, "{v:?} {s} {e}");
                        }
                        for bit in [0, 1] {
                            for end in [None, Some(e)] {
                                let _ = pos(
                                    v,
                                    bit,
                                    Some(PosRange {
                                        start: s,
                                        end,
                                        bits,
                                    }),
                                );
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn fields_wrap_and_saturate_like_redis() {
        let mut v = vec![0u8; 8];
        let f = |op, signed, bits, overflow| Field {
            op,
            signed,
            bits,
            offset: 0,
            overflow,
        };
        assert_eq!(
            write_field(&mut v, &f(FieldOp::IncrBy(300), false, 8, Overflow::Wrap)),
            Some(44)
        );
        assert_eq!(
            write_field(&mut v, &f(FieldOp::IncrBy(300), false, 8, Overflow::Sat)),
            Some(255)
        );
        assert_eq!(
            write_field(&mut v, &f(FieldOp::IncrBy(1), false, 8, Overflow::Fail)),
            None
        );
        assert_eq!(
            write_field(&mut v, &f(FieldOp::Set(-1), false, 8, Overflow::Sat)),
            Some(255)
        );
        assert_eq!(
            read_field(&v, &f(FieldOp::Get, true, 8, Overflow::Wrap)),
            -1
        );
        assert_eq!(
            write_field(&mut v, &f(FieldOp::IncrBy(-200), true, 8, Overflow::Sat)),
            Some(-128)
        );
        assert_eq!(
            write_field(&mut v, &f(FieldOp::IncrBy(-1), true, 64, Overflow::Fail)),
            None
        );
    }
}
