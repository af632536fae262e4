//! INCRBYFLOAT's arithmetic, bit for bit as Redis does it on x86-64: the
//! operands are parsed with `strtold` into an x87 80-bit `long double` (64-bit
//! significand), added in that precision and printed with `"%.17Lf"` with the
//! trailing zeros removed. Doing it in `f64` gives different answers (`0.1 +
//! 0.2` is `0.30000000000000004` in f64 but `0.3` in Redis), so this is a
//! small software implementation of exactly those three steps: correctly
//! rounded parsing (decimal and hex, like glibc), round-to-nearest-even
//! addition, and exact decimal printing with round-half-even at 17 digits.

use std::cmp::Ordering;

/// Smallest exponent of the least significant significand bit (subnormals).
const MIN_EXP: i32 = -16445;
/// Largest exponent of the least significant bit of a normalized significand.
const MAX_EXP: i32 = 16320;
/// Redis's `MAX_LONG_DOUBLE_CHARS`: longer strings are not numbers.
const MAX_CHARS: usize = 5 * 1024;

/// An x87 extended-precision value: `mant * 2^exp`, `mant` normalized to
/// `[2^63, 2^64)` except for subnormals (`exp == MIN_EXP`) and zero.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum F80 {
    Finite { neg: bool, mant: u64, exp: i32 },
    Inf { neg: bool },
}

impl F80 {
    pub(crate) fn is_finite(&self) -> bool {
        matches!(self, F80::Finite { .. })
    }

    fn zero(neg: bool) -> F80 {
        F80::Finite {
            neg,
            mant: 0,
            exp: 0,
        }
    }
}

/// Rounds `m * 2^e` (plus something strictly between 0 and one unit of `m`'s
/// last bit when `sticky`) to 64 significant bits, nearest-even. Callers that
/// pass `sticky` give `m` at least 66 significant bits.
fn round(neg: bool, m: u128, e: i32, sticky: bool) -> F80 {
    if m == 0 {
        return F80::zero(neg);
    }
    let bits = 128 - m.leading_zeros() as i32;
    let mut shift = bits - 64;
    if e + shift < MIN_EXP {
        shift = MIN_EXP - e;
    }
    let (mut mant, mut exp);
    if shift <= 0 {
        mant = (m << (-shift) as u32) as u64;
        exp = e + shift;
    } else if shift >= 128 {
        // Less than half of the smallest subnormal unless exactly... never:
        // m < 2^128 <= 2^(shift), and the half point is 2^(shift-1).
        let half_or_more = shift == 128 && m >> 127 == 1;
        let above_half = half_or_more && (m << 1 != 0 || sticky);
        mant = above_half as u64;
        exp = MIN_EXP;
    } else {
        let s = shift as u32;
        let low = m & ((1u128 << s) - 1);
        let half = 1u128 << (s - 1);
        mant = (m >> s) as u64;
        exp = e + shift;
        let up = match low.cmp(&half) {
            Ordering::Greater => true,
            Ordering::Equal => sticky || mant & 1 == 1,
            Ordering::Less => false,
        };
        if up {
            let (v, carry) = mant.overflowing_add(1);
            if carry {
                mant = 1 << 63;
                exp += 1;
            } else {
                mant = v;
            }
        }
    }
    if mant == 0 {
        return F80::zero(neg);
    }
    if exp > MAX_EXP {
        return F80::Inf { neg };
    }
    F80::Finite { neg, mant, exp }
}

/// `a + b` in x87 precision, round-to-nearest-even.
pub(crate) fn add(a: F80, b: F80) -> Option<F80> {
    // None: NaN (inf - inf).
    let (an, am, ae, bn, bm, be) = match (a, b) {
        (F80::Inf { neg: x }, F80::Inf { neg: y }) => return if x == y { Some(a) } else { None },
        (F80::Inf { .. }, _) => return Some(a),
        (_, F80::Inf { .. }) => return Some(b),
        (
            F80::Finite {
                neg: an,
                mant: am,
                exp: ae,
            },
            F80::Finite {
                neg: bn,
                mant: bm,
                exp: be,
            },
        ) => (an, am, ae, bn, bm, be),
    };
    if am == 0 && bm == 0 {
        return Some(F80::zero(an && bn));
    }
    if am == 0 {
        return Some(b);
    }
    if bm == 0 {
        return Some(a);
    }
    // Put the operand with the larger exponent first.
    let ((xn, xm, xe), (yn, ym, ye)) = if ae >= be {
        ((an, am, ae), (bn, bm, be))
    } else {
        ((bn, bm, be), (an, am, ae))
    };
    let big = (xm as u128) << 62;
    let e = xe - 62;
    let d = (xe - ye) as u64;
    let ywide = (ym as u128) << 62;
    let (small, sticky) = if d >= 127 {
        (0u128, true)
    } else {
        let s = ywide >> d;
        (s, (s << d) != ywide)
    };
    if xn == yn {
        return Some(round(xn, big + small, e, sticky));
    }
    // Different signs: subtract the smaller magnitude from the larger.
    let (neg, diff) = match big.cmp(&small) {
        Ordering::Greater => (xn, big - small - sticky as u128),
        Ordering::Less => (yn, small - big),
        Ordering::Equal if !sticky => return Some(F80::zero(false)),
        Ordering::Equal => (yn, 0),
    };
    Some(round(neg, diff, e, sticky))
}

// ----- a minimal unsigned big integer (little-endian u32 limbs) -----

#[derive(Clone, Debug, PartialEq, Eq)]
struct Big(Vec<u32>);

impl Big {
    fn from_u64(v: u64) -> Big {
        let mut b = Big(vec![v as u32, (v >> 32) as u32]);
        b.trim();
        b
    }

    fn trim(&mut self) {
        while self.0.last() == Some(&0) {
            self.0.pop();
        }
    }

    fn is_zero(&self) -> bool {
        self.0.is_empty()
    }

    fn bit_len(&self) -> usize {
        match self.0.last() {
            None => 0,
            Some(&top) => self.0.len() * 32 - top.leading_zeros() as usize,
        }
    }

    fn mul_small_add(&mut self, m: u32, add: u32) {
        let mut carry = add as u64;
        for limb in self.0.iter_mut() {
            let v = *limb as u64 * m as u64 + carry;
            *limb = v as u32;
            carry = v >> 32;
        }
        if carry > 0 {
            self.0.push(carry as u32);
        }
        self.trim();
    }

    fn mul_pow10(&mut self, mut n: u64) {
        while n >= 9 {
            self.mul_small_add(1_000_000_000, 0);
            n -= 9;
        }
        if n > 0 {
            self.mul_small_add(10u32.pow(n as u32), 0);
        }
    }

    fn shl(&self, bits: usize) -> Big {
        if self.is_zero() {
            return Big(Vec::new());
        }
        let limbs = bits / 32;
        let b = (bits % 32) as u32;
        let mut v = vec![0u32; limbs];
        if b == 0 {
            v.extend_from_slice(&self.0);
        } else {
            let mut carry = 0u32;
            for &l in &self.0 {
                v.push((l << b) | carry);
                carry = l >> (32 - b);
            }
            v.push(carry);
        }
        let mut r = Big(v);
        r.trim();
        r
    }

    fn bit(&self, i: usize) -> bool {
        self.0.get(i / 32).is_some_and(|l| (l >> (i % 32)) & 1 == 1)
    }

    /// The bits `[from, from + 128)` as a u128, and whether any bit below
    /// `from` is set.
    fn window(&self, from: usize) -> (u128, bool) {
        let mut v = 0u128;
        for i in (0..128).rev() {
            v = (v << 1) | self.bit(from + i) as u128;
        }
        let sticky = (0..from).any(|i| self.bit(i));
        (v, sticky)
    }

    fn cmp(&self, o: &Big) -> Ordering {
        self.0.len().cmp(&o.0.len()).then_with(|| {
            for (a, b) in self.0.iter().rev().zip(o.0.iter().rev()) {
                match a.cmp(b) {
                    Ordering::Equal => continue,
                    x => return x,
                }
            }
            Ordering::Equal
        })
    }

    /// self -= o; requires self >= o.
    fn sub_assign(&mut self, o: &Big) {
        let mut borrow = 0i64;
        for i in 0..self.0.len() {
            let v = self.0[i] as i64 - o.0.get(i).copied().unwrap_or(0) as i64 - borrow;
            if v < 0 {
                self.0[i] = (v + (1i64 << 32)) as u32;
                borrow = 1;
            } else {
                self.0[i] = v as u32;
                borrow = 0;
            }
        }
        self.trim();
    }

    /// Divides in place by a small number, returning the remainder.
    fn div_small(&mut self, d: u32) -> u32 {
        let mut rem = 0u64;
        for limb in self.0.iter_mut().rev() {
            let v = (rem << 32) | *limb as u64;
            *limb = (v / d as u64) as u32;
            rem = v % d as u64;
        }
        self.trim();
        rem as u32
    }

    fn to_decimal(&self) -> String {
        if self.is_zero() {
            return "0".into();
        }
        let mut n = self.clone();
        let mut chunks = Vec::new();
        while !n.is_zero() {
            chunks.push(n.div_small(1_000_000_000));
        }
        let mut s = chunks.pop().map(|c| c.to_string()).unwrap_or_default();
        for c in chunks.iter().rev() {
            s.push_str(&format!("{c:09}"));
        }
        s
    }
}

/// Rounds `num / den` (or `num` when `den` is None) times `2^e2` to x87.
fn round_ratio(neg: bool, num: Big, den: Option<Big>, e2: i64) -> F80 {
    if num.is_zero() {
        return F80::zero(neg);
    }
    let clamp = |e: i64| e.clamp(-40_000, 40_000) as i32;
    match den {
        None => {
            let len = num.bit_len();
            if len <= 128 {
                let (m, _) = num.window(0);
                round(neg, m, clamp(e2), false)
            } else {
                let from = len - 128;
                let (m, sticky) = num.window(from);
                round(neg, m, clamp(e2 + from as i64), sticky)
            }
        }
        Some(den) => {
            // Scale so that the quotient has at least 67 bits.
            let k = 67 + den.bit_len() as i64 - num.bit_len() as i64;
            let (mut rem, den) = if k >= 0 {
                (num.shl(k as usize), den)
            } else {
                (num, den.shl((-k) as usize))
            };
            let mut q: u128 = 0;
            let qbits = rem.bit_len().saturating_sub(den.bit_len()) + 1;
            for i in (0..qbits.min(127)).rev() {
                let d = den.shl(i);
                if rem.cmp(&d) != Ordering::Less {
                    rem.sub_assign(&d);
                    q |= 1u128 << i;
                }
            }
            round(neg, q, clamp(e2 - k), !rem.is_zero())
        }
    }
}

/// Parses like Redis's `string2ld`: `strtold` in the C locale, refusing an
/// empty string, a leading space, anything not consumed (a NUL byte
/// included), NaN, and overflow or underflow to zero.
pub(crate) fn parse(s: &[u8]) -> Option<F80> {
    if s.is_empty() || s.len() >= MAX_CHARS {
        return None;
    }
    // strtold stops at a NUL byte, and Redis then refuses the string
    // (`eptr - buf != slen`): the parsers below refuse any NUL.
    if s[0].is_ascii_whitespace() || s[0] == 0x0b {
        return None;
    }
    let (neg, body) = match s[0] {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let lower = body.to_ascii_lowercase();
    if lower == b"inf" || lower == b"infinity" {
        return Some(F80::Inf { neg });
    }
    if lower.starts_with(b"nan") {
        return None;
    }
    let r = if lower.len() > 2 && lower.starts_with(b"0x") {
        parse_hex(neg, &lower[2..])?
    } else {
        parse_dec(neg, &lower)?
    };
    match r {
        // ERANGE with HUGE_VAL: refused.
        F80::Inf { .. } => None,
        v => Some(v),
    }
}

/// The digits of a number with an optional point: (digits, digits after the
/// point, rest of the input).
fn mantissa(s: &[u8], is_digit: fn(u8) -> bool) -> Option<(Vec<u8>, usize, &[u8])> {
    let mut digits = Vec::new();
    let mut frac = 0;
    let mut i = 0;
    let mut seen_point = false;
    while i < s.len() {
        let c = s[i];
        if is_digit(c) {
            digits.push(c);
            if seen_point {
                frac += 1;
            }
        } else if c == b'.' && !seen_point {
            seen_point = true;
        } else {
            break;
        }
        i += 1;
    }
    if digits.is_empty() {
        return None;
    }
    Some((digits, frac, &s[i..]))
}

/// An exponent part: `[+-]digits`, saturated. None if malformed.
fn exponent(s: &[u8]) -> Option<i64> {
    let (neg, d) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if d.is_empty() || !d.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut v: i64 = 0;
    for &c in d {
        v = (v * 10 + (c - b'0') as i64).min(1_000_000_000);
    }
    Some(if neg { -v } else { v })
}

fn parse_dec(neg: bool, s: &[u8]) -> Option<F80> {
    let (digits, frac, rest) = mantissa(s, |c| c.is_ascii_digit())?;
    let exp10 = if rest.is_empty() {
        0
    } else if rest[0] == b'e' {
        exponent(&rest[1..])?
    } else {
        return None;
    };
    let first = digits.iter().position(|&c| c != b'0');
    let Some(first) = first else {
        return Some(F80::zero(neg));
    };
    let digits = &digits[first..];
    let e10 = exp10 - frac as i64;
    let magnitude = digits.len() as i64 + e10;
    if magnitude > 4940 {
        return Some(F80::Inf { neg });
    }
    if magnitude < -4960 {
        // Underflow to zero: ERANGE with 0, refused by Redis.
        return None;
    }
    let mut num = Big(Vec::new());
    for &c in digits {
        num.mul_small_add(10, (c - b'0') as u32);
    }
    let v = if e10 >= 0 {
        num.mul_pow10(e10 as u64);
        round_ratio(neg, num, None, 0)
    } else {
        let mut den = Big::from_u64(1);
        den.mul_pow10((-e10) as u64);
        round_ratio(neg, num, Some(den), 0)
    };
    match v {
        F80::Finite { mant: 0, .. } => None,
        v => Some(v),
    }
}

fn parse_hex(neg: bool, s: &[u8]) -> Option<F80> {
    let (digits, frac, rest) = mantissa(s, |c| c.is_ascii_hexdigit())?;
    let exp2 = if rest.is_empty() {
        0
    } else if rest[0] == b'p' {
        exponent(&rest[1..])?
    } else {
        return None;
    };
    let mut num = Big(Vec::new());
    for &c in &digits {
        let v = (c as char).to_digit(16).unwrap_or(0);
        num.mul_small_add(16, v);
    }
    if num.is_zero() {
        return Some(F80::zero(neg));
    }
    let v = round_ratio(neg, num, None, exp2 - 4 * frac as i64);
    match v {
        F80::Finite { mant: 0, .. } => None,
        v => Some(v),
    }
}

/// `printf("%.17Lf")` with Redis's trimming of trailing zeros (and of `-0`).
pub(crate) fn format(v: F80) -> String {
    let (neg, mant, exp) = match v {
        F80::Inf { neg } => return if neg { "-inf".into() } else { "inf".into() },
        F80::Finite { neg, mant, exp } => (neg, mant, exp),
    };
    let mut s = String::new();
    if neg {
        s.push('-');
    }
    if mant == 0 {
        s.push('0');
    } else if exp >= 0 {
        s.push_str(&Big::from_u64(mant).shl(exp as usize).to_decimal());
    } else {
        // mant * 10^17 < 2^121: exact in a u128.
        let scaled = mant as u128 * 100_000_000_000_000_000u128;
        let sh = (-exp) as u32;
        let n = if sh >= 128 {
            0
        } else {
            let q = scaled >> sh;
            let low = scaled & ((1u128 << sh) - 1);
            let half = 1u128 << (sh - 1);
            match low.cmp(&half) {
                Ordering::Greater => q + 1,
                Ordering::Equal => q + (q & 1),
                Ordering::Less => q,
            }
        };
        let int = n / 100_000_000_000_000_000;
        let frac = n % 100_000_000_000_000_000;
        s.push_str(&int.to_string());
        let f = format!("{frac:017}");
        let f = f.trim_end_matches('0');
        if !f.is_empty() {
            s.push('.');
            s.push_str(f);
        }
    }
    if s == "-0" {
        s = "0".into();
    }
    s
}

/// INCRBYFLOAT: `Err(msg)` with Redis's error text.
pub(crate) fn incr(cur: &[u8], by: &[u8]) -> Result<String, &'static str> {
    let (Some(a), Some(b)) = (parse(cur), parse(by)) else {
        return Err("ERR value is not a valid float");
    };
    match add(a, b) {
        Some(v) if v.is_finite() => Ok(format(v)),
        _ => Err("ERR increment would produce NaN or Infinity"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inc(a: &str, b: &str) -> String {
        match incr(a.as_bytes(), b.as_bytes()) {
            Ok(s) => s,
            Err(e) => e.to_string(),
        }
    }

    /// Answers taken from redis-server 7.0 on x86-64.
    #[test]
    fn matches_redis() {
        assert_eq!(inc("0.1", "0.2"), "0.3");
        assert_eq!(inc("10.50", "0.1"), "10.6");
        assert_eq!(inc("10000000000", "0.1"), "10000000000.09999999962747097");
        assert_eq!(
            inc("10000000000.09999999962747097", "1.1e-3"),
            "10000000000.10109999962151051"
        );
        assert_eq!(inc("12345678901234567890", "0"), "12345678901234567890");
        assert_eq!(inc("1505", "-.5e-1"), "1504.94999999999999996");
        assert_eq!(inc("0", "0.000003814697265625"), "0.00000381469726562");
        assert_eq!(inc("0", "0.000011444091796875"), "0.00001144409179688");
        assert_eq!(inc("0", "0x1p-18"), "0.00000381469726562");
        assert_eq!(inc("3.0e3", "200"), "3200");
        assert_eq!(inc("3200", "-5.0e3"), "-1800");
        assert_eq!(inc("0", "1e-4940"), "0");
        assert_eq!(inc("0", "1e-5000"), "ERR value is not a valid float");
        assert_eq!(inc("0", "1e5000"), "ERR value is not a valid float");
        assert_eq!(
            inc("0", "inf"),
            "ERR increment would produce NaN or Infinity"
        );
        assert_eq!(inc("0", "nan"), "ERR value is not a valid float");
        assert_eq!(inc("0", "1e"), "ERR value is not a valid float");
        assert_eq!(inc("0", "0x"), "ERR value is not a valid float");
        assert_eq!(inc(" 1", "1"), "ERR value is not a valid float");
        assert_eq!(inc("1", "1 "), "ERR value is not a valid float");
        assert_eq!(inc("0x10", "1"), "17");
        assert_eq!(inc("1", "-1"), "0");
        assert_eq!(inc("", "1"), "ERR value is not a valid float");
        assert_eq!(inc("\0", "1"), "ERR value is not a valid float");
        assert_eq!(inc("1\0", "1"), "ERR value is not a valid float");
        assert_eq!(inc("-1", "0.5"), "-0.5");
        assert_eq!(inc("1e308", "1e308").len(), 309);
        assert!(inc("10.5", "1e400")
            .starts_with("100000000000000000002818806839475865145864534336290520386259106935"));
    }
}
