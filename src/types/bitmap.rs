//! Bitmaps and bit fields over string values (the storage half of Redis's
//! bitops.c). A bitmap is an ordinary string: bit 0 is the most significant
//! bit of byte 0. Reads and writes go through `string::StrRef` by byte
//! ranges, so a bit of a chunked bitmap costs one chunk, and BITCOUNT or
//! BITPOS stream the chunks of their range instead of reading the value.
//!
//! Offsets come from clients: the commands check them against
//! `proto-max-bulk-len` (`check_offset`) before anything grows a string, as
//! Redis does, so no allocation is ever sized by an unchecked number.

use super::string::{self, StrRef};
use super::{Db, TypeError};
use bytes::Bytes;
use std::ops::ControlFlow;

/// Bytes read in order by ranges: a stored string, or a slice in tests.
pub(crate) trait Source {
    fn len(&self) -> u64;
    /// Hands `f` the bytes of `[from, to)` as consecutive slices.
    fn scan(&mut self, from: u64, to: u64, f: &mut dyn FnMut(u64, &[u8]) -> ControlFlow<()>);

    fn byte(&mut self, at: u64) -> u8 {
        let mut b = 0;
        self.scan(at, at + 1, &mut |_, s| {
            b = s.first().copied().unwrap_or(0);
            ControlFlow::Break(())
        });
        b
    }
}

impl Source for &[u8] {
    fn len(&self) -> u64 {
        <[u8]>::len(self) as u64
    }

    fn scan(&mut self, from: u64, to: u64, f: &mut dyn FnMut(u64, &[u8]) -> ControlFlow<()>) {
        let to = to.min(Source::len(self));
        if from < to {
            let _ = f(from, &self[from as usize..to as usize]);
        }
    }
}

/// A stored string as a [`Source`].
pub(crate) struct Stored<'x, 'a> {
    pub db: &'x mut Db<'a>,
    pub s: &'x StrRef,
}

impl Source for Stored<'_, '_> {
    fn len(&self) -> u64 {
        self.s.len()
    }

    fn scan(&mut self, from: u64, to: u64, f: &mut dyn FnMut(u64, &[u8]) -> ControlFlow<()>) {
        self.s.scan(self.db, from, to, f)
    }
}

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

/// The byte at `at` of a string (0 past its end).
fn byte_of(db: &mut Db<'_>, s: &StrRef, at: u64) -> u8 {
    Stored { db, s }.byte(at)
}

/// GETBIT.
pub(crate) fn get_bit(db: &mut Db<'_>, key: &[u8], offset: u64) -> Result<u8, TypeError> {
    let Some(s) = string::open(db, key)? else {
        return Ok(0);
    };
    let b = byte_of(db, &s, offset >> 3);
    Ok((b >> (7 - (offset & 7) as u8)) & 1)
}

/// SETBIT: the bit's old value. Nothing is written when neither the bit nor
/// the length changes (Redis then leaves the key alone: no WATCH
/// invalidation, nothing replicated).
pub(crate) fn set_bit(db: &mut Db<'_>, key: &[u8], offset: u64, on: bool) -> Result<u8, TypeError> {
    let old = string::open_for_write(db, key)?;
    let byte = offset >> 3;
    let shift = 7 - (offset & 7) as u8;
    let cur = old.as_ref().map_or(0, |s| byte_of(db, s, byte));
    let was = (cur >> shift) & 1;
    let inside = old.as_ref().is_some_and(|s| byte < s.len());
    if inside && (was == 1) == on {
        string::mark_raw(db, key);
        return Ok(was);
    }
    let new = if on {
        cur | (1 << shift)
    } else {
        cur & !(1 << shift)
    };
    let mut s = old.unwrap_or_else(string::empty);
    s.write(db, key, byte, &[new]);
    Ok(was)
}

/// Redis's range rules for BITCOUNT/BITPOS: `start..=end` in bytes or
/// bits (`bits`) of a `len`-byte string, negative from the end, clamped.
/// Returns the inclusive bit range, or None if it is empty.
fn bit_range(len: u64, start: i64, end: i64, bits: bool) -> Option<(u64, u64)> {
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

fn popcount(src: &mut dyn Source, from: u64, to: u64) -> u64 {
    let mut n = 0u64;
    src.scan(from, to, &mut |_, b| {
        // Eight bytes at a time: a 512 MB bitmap is mostly long runs.
        let words = b.chunks_exact(8);
        let tail: u64 = words
            .remainder()
            .iter()
            .map(|x| x.count_ones() as u64)
            .sum();
        n += tail
            + words
                .map(|w| u64::from_ne_bytes(w.try_into().unwrap_or([0; 8])).count_ones() as u64)
                .sum::<u64>();
        ControlFlow::Continue(())
    });
    n
}

/// The number of set bits in the inclusive bit range.
fn count_bits(src: &mut dyn Source, from: u64, to: u64) -> u64 {
    let (fb, lb) = (from >> 3, to >> 3);
    let n = popcount(src, fb, lb + 1);
    // Bits of the edge bytes outside the range.
    let head = src.byte(fb) & !(0xffu8 >> (from & 7));
    let tail_mask = if to & 7 == 7 {
        0
    } else {
        0xffu8 >> ((to & 7) + 1)
    };
    n - (head.count_ones() + (src.byte(lb) & tail_mask).count_ones()) as u64
}

/// BITCOUNT: the whole string, or `start..=end` in bytes or bits.
pub(crate) fn count(src: &mut dyn Source, range: Option<(i64, i64, bool)>) -> u64 {
    let len = src.len();
    let Some((start, end, bits)) = range else {
        return popcount(src, 0, len);
    };
    // Both negative and reversed: empty, before any clamping.
    if start < 0 && end < 0 && start > end {
        return 0;
    }
    match bit_range(len, start, end, bits) {
        Some((s, e)) => count_bits(src, s, e),
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

/// BITPOS of an existing string: the first bit equal to `bit` in the
/// range, or -1. Looking for a 0 without an explicit end finds the first
/// bit past the string when the range holds only ones (a string is padded
/// with zeros on the right), as in Redis.
pub(crate) fn pos(src: &mut dyn Source, bit: u8, range: Option<PosRange>) -> i64 {
    let len = src.len();
    let (span, end_given) = match range {
        None => {
            if len == 0 {
                (None, false)
            } else {
                (Some((0, len * 8 - 1)), false)
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
    // A byte with no bit equal to `bit` is skipped whole, wherever the
    // range's edges fall in it.
    let skip = if bit == 1 { 0u8 } else { 0xff };
    let mut found = None;
    src.scan(s >> 3, (e >> 3) + 1, &mut |off, bytes| {
        let mut j = 0;
        while j < bytes.len() {
            match bytes[j..].iter().position(|&b| b != skip) {
                Some(k) => j += k,
                None => return ControlFlow::Continue(()),
            }
            let byte = off + j as u64;
            let b = bytes[j];
            for p in (byte * 8).max(s)..=(byte * 8 + 7).min(e) {
                if (b >> (7 - (p & 7))) & 1 == bit {
                    found = Some(p);
                    return ControlFlow::Break(());
                }
            }
            j += 1;
        }
        ControlFlow::Continue(())
    });
    match found {
        Some(p) => p as i64,
        // Past the range, whose last byte is the string's last.
        None if bit == 0 && !end_given => ((e >> 3) + 1) as i64 * 8,
        None => -1,
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
/// The result is built a chunk at a time (`string::put_built`).
pub(crate) fn bit_op(
    db: &mut Db<'_>,
    op: Op,
    dest: &[u8],
    srcs: &[Bytes],
) -> Result<usize, TypeError> {
    let n = db.db;
    let mut strs: Vec<Option<StrRef>> = Vec::with_capacity(srcs.len());
    for k in srcs {
        strs.push(string::open_for_write(db, k)?);
    }
    let max = strs.iter().flatten().map(|s| s.len()).max().unwrap_or(0);
    if max == 0 {
        db.tx().delete(n, dest);
        return Ok(0);
    }
    string::put_built(db, dest, max, None, |db, from, len| {
        let vals: Vec<Vec<u8>> = strs
            .iter()
            .map(|s| {
                s.as_ref()
                    .map_or_else(Vec::new, |s| s.read(db, from, len as u64))
            })
            .collect();
        combine(op, &vals, len)
    });
    Ok(max as usize)
}

/// `op` over one block of the sources' bytes (each as long as its source
/// has there), `len` bytes.
fn combine(op: Op, vals: &[Vec<u8>], len: usize) -> Vec<u8> {
    let mut out = vec![0u8; len];
    match op {
        Op::Not => {
            if let Some(v) = vals.first() {
                for (o, b) in out.iter_mut().zip(v.iter()) {
                    *o = !b;
                }
            }
        }
        Op::And => {
            if let Some(first) = vals.first() {
                out[..first.len()].copy_from_slice(first);
            }
            for v in vals.iter().skip(1) {
                for (i, o) in out.iter_mut().enumerate() {
                    *o &= v.get(i).copied().unwrap_or(0);
                }
            }
        }
        Op::Or | Op::Xor => {
            for v in vals {
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
    out
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

/// One field's bytes: the first byte and how many.
fn field_bytes(f: &Field) -> (u64, u64) {
    let from = f.offset >> 3;
    (from, ((f.offset + f.bits as u64 - 1) >> 3) - from + 1)
}

/// The field's bytes (zeros past the string) and the field placed in them.
fn field_window(db: &mut Db<'_>, s: &StrRef, f: &Field) -> (u64, Vec<u8>, Field) {
    let (from, n) = field_bytes(f);
    let mut buf = s.read(db, from, n);
    buf.resize(n as usize, 0);
    let rel = Field {
        offset: f.offset - from * 8,
        ..*f
    };
    (from, buf, rel)
}

/// BITFIELD / BITFIELD_RO: one reply per operation (None: an overflow
/// FAIL). With any SET/INCRBY the string is created or grown to the
/// farthest bit written and stored, even when every write failed (as
/// Redis does); with GETs only nothing is written. Each field reads and
/// writes only its own bytes.
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
        let s = string::open(db, key)?.unwrap_or_else(string::empty);
        return Ok(fields
            .iter()
            .map(|f| {
                let (_, buf, rel) = field_window(db, &s, f);
                Some(read_field(&buf, &rel))
            })
            .collect());
    };
    let mut s = string::open_for_write(db, key)?.unwrap_or_else(string::empty);
    let need = (highest >> 3) + 1;
    if s.len() < need {
        // Grown (or created) to the farthest byte written: Redis stores
        // it even when every write then fails.
        let last = byte_of(db, &s, need - 1);
        s.write(db, key, need - 1, &[last]);
    }
    let mut out = Vec::with_capacity(fields.len());
    for f in fields {
        let (from, mut buf, rel) = field_window(db, &s, f);
        match f.op {
            FieldOp::Get => out.push(Some(read_field(&buf, &rel))),
            _ => {
                let r = write_field(&mut buf, &rel);
                if r.is_some() {
                    s.write(db, key, from, &buf);
                }
                out.push(r);
            }
        }
    }
    string::mark_raw(db, key);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_follow_redis_ranges() {
        let v = b"foobar";
        assert_eq!(count(&mut &v[..], None), 26);
        assert_eq!(count(&mut &v[..], Some((0, 0, false))), 4);
        assert_eq!(count(&mut &v[..], Some((1, 1, false))), 6);
        assert_eq!(count(&mut &v[..], Some((1, 1, true))), 1);
        assert_eq!(count(&mut &v[..], Some((5, 30, true))), 17);
        assert_eq!(count(&mut &v[..], Some((-1, -2, false))), 0);
        assert_eq!(count(&mut &b""[..], Some((0, -1, false))), 0);
    }

    #[test]
    fn positions_follow_redis() {
        let v = [0xffu8, 0xf0, 0x00];
        assert_eq!(pos(&mut &v[..], 0, None), 12);
        assert_eq!(pos(&mut &[0xff, 0xff][..], 0, None), 16);
        let r = |start, end, bits| {
            Some(PosRange {
                start,
                end: Some(end),
                bits,
            })
        };
        assert_eq!(pos(&mut &[0xff, 0xff][..], 0, r(0, -1, false)), -1);
        assert_eq!(pos(&mut &v[..], 1, r(2, -1, false)), -1);
        assert_eq!(pos(&mut &v[..], 1, r(7, 15, true)), 7);
        assert_eq!(pos(&mut &[][..], 0, None), -1);
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
                        let c = count(&mut &v[..], Some((s, e, bits)));
                        if bits && !(s < 0 && e < 0 && s > e) {
                            let slow = match bit_range(v.len() as u64, s, e, true) {
                                Some((a, b)) => (a..=b).map(|i| bit_at(v, i) as u64).sum(),
                                None => 0,
                            };
                            assert_eq!(c, slow, "{v:?} {s} {e}");
                        }
                        for bit in [0, 1] {
                            for end in [None, Some(e)] {
                                let _ = pos(
                                    &mut &v[..],
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
