//! Small helpers shared by commands: Redis's strict number parsing and
//! formatting, clocks, ids.

use std::time::{SystemTime, UNIX_EPOCH};

pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

pub(crate) fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

/// A cheap clock for timing every command (commandstats, the slow log,
/// the latency monitor): the CPU's time-stamp counter on x86-64, read in a
/// few ns where `Instant::now` is a clock_gettime call (two per command
/// were 5% of a pipelined SET's CPU, measured with perf). Converted to µs
/// with a rate measured against `Instant` (`calibrate_ticks`, at startup
/// and by the cron). Elsewhere: nanoseconds from `Instant`.
#[inline]
pub(crate) fn ticks() -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: RDTSC has no preconditions on x86-64.
        #[allow(unused_unsafe)]
        unsafe {
            core::arch::x86_64::_rdtsc()
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        tick_base().0.elapsed().as_nanos() as u64
    }
}

/// Ticks per µs, times 1024 (0 until calibrated).
static TICKS_PER_US_X1024: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

fn tick_base() -> &'static (std::time::Instant, u64) {
    static BASE: std::sync::OnceLock<(std::time::Instant, u64)> = std::sync::OnceLock::new();
    BASE.get_or_init(|| {
        let now = std::time::Instant::now();
        (now, ticks_raw_at(now))
    })
}

/// The tick count matching `_now` (the base of the calibration).
fn ticks_raw_at(_now: std::time::Instant) -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        ticks()
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        0
    }
}

/// Measures the tick rate against `Instant` since the first call; the
/// longer the node runs, the closer. The first call waits 2 ms for a first
/// estimate.
pub(crate) fn calibrate_ticks() {
    use std::sync::atomic::Ordering;
    let (t0, k0) = *tick_base();
    if TICKS_PER_US_X1024.load(Ordering::Relaxed) == 0 {
        while t0.elapsed() < std::time::Duration::from_millis(2) {
            std::hint::spin_loop();
        }
    }
    let us = t0.elapsed().as_micros();
    let k = ticks().wrapping_sub(k0) as u128;
    if us > 0 && k > 0 {
        let rate = (k * 1024 / us).clamp(1, u64::MAX as u128) as u64;
        TICKS_PER_US_X1024.store(rate, Ordering::Relaxed);
    }
}

/// Microseconds in `ticks` (a difference of two `ticks()`).
#[inline]
pub(crate) fn ticks_to_us(ticks: u64) -> u64 {
    let rate = TICKS_PER_US_X1024.load(std::sync::atomic::Ordering::Relaxed);
    if rate == 0 {
        return 0;
    }
    (ticks as u128 * 1024 / rate as u128) as u64
}

/// Parses an integer the way Redis's `string2ll` does: no spaces, no `+`, no
/// leading zeros, fits in i64.
pub(crate) fn parse_i64(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (neg, digits) = if s[0] == b'-' {
        (true, &s[1..])
    } else {
        (false, s)
    };
    if digits.is_empty() || digits[0] == b'0' || !digits.iter().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let mut v: i128 = 0;
    for &c in digits {
        v = v * 10 + (c - b'0') as i128;
    }
    if neg {
        v = -v;
    }
    i64::try_from(v).ok()
}

pub(crate) fn parse_u64(s: &[u8]) -> Option<u64> {
    parse_i64(s).and_then(|v| u64::try_from(v).ok())
}

/// Parses a float like Redis's `string2ld`: no surrounding spaces, no NaN.
pub(crate) fn parse_f64(s: &[u8]) -> Option<f64> {
    let t = std::str::from_utf8(s).ok()?;
    if t.is_empty() || t.starts_with(char::is_whitespace) || t.ends_with(char::is_whitespace) {
        return None;
    }
    let v: f64 = match t.to_ascii_lowercase().as_str() {
        "inf" | "+inf" | "infinity" | "+infinity" => f64::INFINITY,
        "-inf" | "-infinity" => f64::NEG_INFINITY,
        _ => t.parse().ok()?,
    };
    if v.is_nan() {
        None
    } else {
        Some(v)
    }
}

/// C's `strtod` on the whole of `s` (after C's leading white space): the
/// value and whether it over- or underflowed (ERANGE). None if some of `s`
/// is left over. Decimal, hex (`0x1p3`), `inf`, `infinity`, `nan`.
pub(crate) fn strtod_all(s: &[u8]) -> Option<(f64, bool)> {
    let t = std::str::from_utf8(s).ok()?;
    let t = t.trim_start_matches([' ', '\t', '\n', '\x0b', '\x0c', '\r']);
    let (neg, body) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let lower = body.to_ascii_lowercase();
    let sign = if neg { -1.0 } else { 1.0 };
    if lower == "inf" || lower == "infinity" {
        return Some((sign * f64::INFINITY, false));
    }
    if lower.starts_with("nan") {
        return if lower == "nan" {
            Some((f64::NAN, false))
        } else {
            None
        };
    }
    if let Some(hex) = lower.strip_prefix("0x") {
        return parse_hex(hex).map(|(v, r)| (sign * v, r));
    }
    // Rust's parser takes what strtod takes for decimals, apart from the
    // words handled above.
    if !body
        .bytes()
        .next()
        .is_some_and(|c| c.is_ascii_digit() || c == b'.')
    {
        return None;
    }
    let v: f64 = body.parse().ok()?;
    let mantissa = body.split(['e', 'E']).next().unwrap_or("");
    let nonzero = mantissa.bytes().any(|c| (b'1'..=b'9').contains(&c));
    let erange = v.is_infinite() || (v == 0.0 && nonzero);
    Some((sign * v, erange))
}

/// The part of a hex float after `0x`: digits, an optional point, an
/// optional binary exponent `p`.
fn parse_hex(s: &str) -> Option<(f64, bool)> {
    let (digits, exp) = match s.split_once('p') {
        Some((d, e)) => (d, Some(e)),
        None => (s, None),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    let mut mant: u128 = 0;
    let mut shift: i64 = 0;
    for (i, c) in int.chars().chain(frac.chars()).enumerate() {
        let d = c.to_digit(16)? as u128;
        if mant >> 120 == 0 {
            mant = mant * 16 + d;
            if i >= int.len() {
                shift -= 4;
            }
        } else if i < int.len() {
            shift += 4;
        }
    }
    let e: i64 = match exp {
        Some(e) => {
            let digits = e.strip_prefix(['+', '-']).unwrap_or(e);
            if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            e.parse::<i64>().unwrap_or(if e.starts_with('-') {
                -100_000
            } else {
                100_000
            })
        }
        None => 0,
    };
    if mant == 0 {
        return Some((0.0, false));
    }
    // Powers of two are exact; two steps reach below the smallest normal.
    let total = (shift + e).clamp(-100_000, 100_000) as i32;
    let v = (mant as f64) * 2f64.powi(total / 2) * 2f64.powi(total - total / 2);
    let erange = v.is_infinite() || (v == 0.0 && mant != 0);
    Some((v, erange))
}

/// Formats a double the way Redis 7.0 replies with it (ZSCORE, RESP3
/// doubles): C's `%.17g`, and `inf`/`-inf`/`nan`.
pub(crate) fn fmt_double(d: f64) -> String {
    if d.is_nan() {
        return "nan".into();
    }
    if d.is_infinite() {
        return if d > 0.0 { "inf".into() } else { "-inf".into() };
    }
    // Whole numbers below 2^53 print all their digits under %.17g (their
    // exponent is under 17): the common score, without float formatting.
    if d.fract() == 0.0 && d.abs() < 9_007_199_254_740_992.0 && d != 0.0 {
        return (d as i64).to_string();
    }
    format_g(d, 17)
}

/// C's `%.<p>g`: `p` significant digits, exponent form when the exponent is
/// below -4 or at least `p`, trailing zeros removed.
fn format_g(d: f64, p: usize) -> String {
    if d == 0.0 {
        return if d.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    let sci = format!("{:.*e}", p - 1, d);
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let x: i32 = exp.parse().unwrap_or(0);
    let trim = |s: &str| -> String {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s.to_string()
        }
    };
    if x < -4 || x >= p as i32 {
        let sign = if x < 0 { '-' } else { '+' };
        format!("{}e{sign}{:02}", trim(mant), x.abs())
    } else {
        trim(&format!("{:.*}", (p as i32 - 1 - x) as usize, d))
    }
}

/// A 40-character hex id (run_id, replid), as Redis generates them.
pub(crate) fn random_hex40() -> String {
    use rand::RngCore;
    let mut b = [0u8; 20];
    rand::thread_rng().fill_bytes(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Case-insensitive ASCII comparison of an argument with a keyword.
pub(crate) fn eq_ic(a: &[u8], kw: &str) -> bool {
    a.eq_ignore_ascii_case(kw.as_bytes())
}

/// Bytes for a terminal: printable ASCII as is, the rest escaped, quoted
/// (as redis-cli shows them).
pub(crate) fn show(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() + 2);
    s.push('"');
    for &c in b {
        match c {
            b'"' => s.push_str("\\\""),
            b'\\' => s.push_str("\\\\"),
            b'\n' => s.push_str("\\n"),
            b'\r' => s.push_str("\\r"),
            b'\t' => s.push_str("\\t"),
            0x20..=0x7e => s.push(c as char),
            _ => s.push_str(&format!("\\x{c:02x}")),
        }
    }
    s.push('"');
    s
}

/// The byte string after every string starting with `prefix` (None: no
/// such bound, the prefix is all 0xff).
pub(crate) fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(b) = end.last_mut() {
        if *b < 0xff {
            *b += 1;
            return Some(end);
        }
        end.pop();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn ints() {
        assert_eq!(parse_i64(b"0"), Some(0));
        assert_eq!(parse_i64(b"-12"), Some(-12));
        assert_eq!(parse_i64(b"012"), None);
        assert_eq!(parse_i64(b"+1"), None);
        assert_eq!(parse_i64(b" 1"), None);
        assert_eq!(parse_i64(b"-0"), None);
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64(b"9223372036854775808"), None);
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
    }
    #[test]
    fn doubles() {
        // Answers of redis-server 7.0 (ZSCORE).
        assert_eq!(fmt_double(3.0), "3");
        assert_eq!(fmt_double(0.1), "0.10000000000000001");
        assert_eq!(fmt_double(10.6), "10.6");
        assert_eq!(fmt_double(1e20), "1e+20");
        assert_eq!(fmt_double(1.5e-7), "1.4999999999999999e-07");
        assert_eq!(fmt_double(123456789012345678.0), "1.2345678901234568e+17");
        assert_eq!(fmt_double(-2.5), "-2.5");
        // The whole-number fast path agrees with %.17g at its edges.
        for d in [
            -1.0,
            1e15,
            -1e15,
            9_007_199_254_740_991.0,
            -9_007_199_254_740_991.0,
            9_007_199_254_740_992.0,
            1e16,
        ] {
            assert_eq!(fmt_double(d), format_g(d, 17), "{d}");
        }
        assert_eq!(fmt_double(-0.0), "-0");
        assert_eq!(fmt_double(0.0001), "0.0001");
        assert_eq!(fmt_double(f64::NEG_INFINITY), "-inf");
        assert_eq!(parse_f64(b"nan"), None);
        assert_eq!(parse_f64(b"1e3"), Some(1000.0));
    }
}
