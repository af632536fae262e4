//! HyperLogLog over string values, in Redis's own representation (the
//! storage half of Redis's hyperloglog.c), so `GET` of an HLL key gives
//! Redis's bytes and `PFCOUNT` Redis's numbers.
//!
//! Layout (all of it is the string value):
//!
//! - a 16-byte header: `HYLL`, the encoding (0 dense, 1 sparse), three zero
//!   bytes, the cached cardinality as u64 little endian whose top bit (bit 7
//!   of byte 15) marks the cache invalid;
//! - dense: 16384 registers of 6 bits, least significant bits first
//!   (12288 bytes; a dense value is exactly 12304 bytes);
//! - sparse: run-length opcodes: ZERO `00xxxxxx` (1..64 zero registers),
//!   XZERO `01xxxxxx yyyyyyyy` (1..16384 zero registers), VAL `1vvvvvxx`
//!   (1..4 registers of value 1..32). A sparse value becomes dense when it
//!   would grow past `hll-sparse-max-bytes` or a register exceeds 32.
//!
//! An element picks its register with the low 14 bits of MurmurHash64A
//! (seed 0xadc83b19) and sets it to the position of the first 1 bit in the
//! rest (at most 51). The cardinality is Ertl's estimator ("New cardinality
//! estimation algorithms for HyperLogLog sketches", the tau/sigma
//! corrections) over the register histogram, as Redis 7 computes it.
//!
//! Operations never trust the bytes: a value that passes the header checks
//! but whose opcodes do not cover exactly 16384 registers is corrupt
//! (`TypeError::CorruptHll`), never a panic. As in Redis 7.0.15 with the
//! fix for CVE-2025-32023 (Debian's build), an opcode that runs past the
//! last register makes the value corrupt wherever it is decoded.

use super::string::{self, Str};
use super::{Db, TypeError};
use bytes::Bytes;

const P: u32 = 14;
const Q: u32 = 64 - P;
pub(crate) const REGISTERS: usize = 1 << P;
const HDR: usize = 16;
const DENSE_SIZE: usize = HDR + (REGISTERS * 6).div_ceil(8);
const DENSE: u8 = 0;
const SPARSE: u8 = 1;
const VAL_MAX_VALUE: u8 = 32;
const VAL_MAX_LEN: usize = 4;
const ZERO_MAX_LEN: usize = 64;
const XZERO_MAX_LEN: usize = 16384;
const ALPHA_INF: f64 = 0.721_347_520_444_481_7;

/// Redis's MurmurHash64A (the 64-bit variant for 64-bit platforms).
pub(crate) fn murmur64a(key: &[u8], seed: u32) -> u64 {
    const M: u64 = 0xc6a4_a793_5bd1_e995;
    const R: u32 = 47;
    let len = key.len();
    let mut h = (seed as u64) ^ (len as u64).wrapping_mul(M);
    let mut chunks = key.chunks_exact(8);
    for c in &mut chunks {
        let mut k = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h ^= k;
        h = h.wrapping_mul(M);
    }
    let tail = chunks.remainder();
    if !tail.is_empty() {
        for (i, &b) in tail.iter().enumerate() {
            h ^= (b as u64) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> R;
    h = h.wrapping_mul(M);
    h ^= h >> R;
    h
}

/// The register an element goes to and the value it offers (1..=51).
fn pattern(ele: &[u8]) -> (usize, u8) {
    let h = murmur64a(ele, 0xadc8_3b19);
    let index = (h & (REGISTERS as u64 - 1)) as usize;
    let rest = (h >> P) | (1u64 << Q);
    (index, rest.trailing_zeros() as u8 + 1)
}

/// A byte of the value; past its end, the terminating NUL a Redis string
/// has (what Redis's decoders read there).
fn at(v: &[u8], i: usize) -> u8 {
    v.get(i).copied().unwrap_or(0)
}

fn is_zero(b: u8) -> bool {
    b & 0xc0 == 0
}

fn is_xzero(b: u8) -> bool {
    b & 0xc0 == 0x40
}

fn zero_len(b: u8) -> usize {
    (b & 0x3f) as usize + 1
}

fn xzero_len(v: &[u8], p: usize) -> usize {
    ((((at(v, p) & 0x3f) as usize) << 8) | at(v, p + 1) as usize) + 1
}

fn val_value(b: u8) -> u8 {
    ((b >> 2) & 0x1f) + 1
}

fn val_len(b: u8) -> usize {
    (b & 0x3) as usize + 1
}

fn val_op(value: u8, len: usize) -> u8 {
    (((value - 1) << 2) | (len as u8 - 1)) | 0x80
}

fn zero_ops(len: usize, out: &mut Vec<u8>) {
    if len > ZERO_MAX_LEN {
        let l = len - 1;
        out.push((l >> 8) as u8 | 0x40);
        out.push((l & 0xff) as u8);
    } else {
        out.push(len as u8 - 1);
    }
}

/// One sparse opcode at `p`: (registers it covers, its bytes, value).
fn opcode(v: &[u8], p: usize) -> (usize, usize, u8) {
    let b = v[p];
    if is_zero(b) {
        (zero_len(b), 1, 0)
    } else if is_xzero(b) {
        (xzero_len(v, p), 2, 0)
    } else {
        (val_len(b), 1, val_value(b))
    }
}

/// A fresh, empty sparse HLL (its cached cardinality 0 and valid).
pub(crate) fn empty() -> Vec<u8> {
    let mut v = Vec::with_capacity(HDR + 2);
    v.extend_from_slice(b"HYLL");
    v.push(SPARSE);
    v.extend_from_slice(&[0; 11]);
    let mut left = REGISTERS;
    while left > 0 {
        let n = left.min(XZERO_MAX_LEN);
        zero_ops(n, &mut v);
        left -= n;
    }
    v
}

/// Redis's `isHLLObjectOrReply` checks: the header, and a dense value's
/// exact length.
pub(crate) fn is_valid(v: &[u8]) -> bool {
    v.len() >= HDR
        && &v[..4] == b"HYLL"
        && v[4] <= SPARSE
        && (v[4] != DENSE || v.len() == DENSE_SIZE)
}

fn is_dense(v: &[u8]) -> bool {
    v[4] == DENSE
}

fn invalidate(v: &mut [u8]) {
    v[15] |= 0x80;
}

/// The cached cardinality, if valid.
fn cached(v: &[u8]) -> Option<u64> {
    if v[15] & 0x80 != 0 {
        return None;
    }
    let mut b = [0u8; 8];
    b.copy_from_slice(&v[8..16]);
    Some(u64::from_le_bytes(b))
}

fn dense_get(regs: &[u8], i: usize) -> u8 {
    let byte = i * 6 / 8;
    let fb = (i * 6) & 7;
    let b0 = regs[byte] as u16;
    let b1 = at(regs, byte + 1) as u16;
    (((b0 >> fb) | (b1 << (8 - fb))) & 63) as u8
}

fn dense_put(regs: &mut [u8], i: usize, val: u8) {
    let byte = i * 6 / 8;
    let fb = (i * 6) & 7;
    let fb8 = 8 - fb;
    let val = val as u16;
    regs[byte] &= !((63u16 << fb) as u8);
    regs[byte] |= (val << fb) as u8;
    if let Some(b) = regs.get_mut(byte + 1) {
        *b &= !((63u16 >> fb8) as u8);
        *b |= (val >> fb8) as u8;
    }
}

/// Raises register `i` to `count`; whether it changed.
fn dense_set(regs: &mut [u8], i: usize, count: u8) -> bool {
    if count > dense_get(regs, i) {
        dense_put(regs, i, count);
        true
    } else {
        false
    }
}

/// Rewrites a sparse value as dense (the header, cached cardinality
/// included, is kept). Err if the opcodes do not cover 16384 registers.
fn to_dense(v: &mut Vec<u8>) -> Result<(), TypeError> {
    if is_dense(v) {
        return Ok(());
    }
    let mut d = vec![0u8; DENSE_SIZE];
    d[..HDR].copy_from_slice(&v[..HDR]);
    d[4] = DENSE;
    let mut idx = 0usize;
    let mut p = HDR;
    while p < v.len() {
        let (run, len, val) = opcode(v, p);
        if run + idx > REGISTERS {
            return Err(TypeError::CorruptHll);
        }
        if val > 0 {
            for i in idx..idx + run {
                dense_put(&mut d[HDR..], i, val);
            }
        }
        idx += run;
        p += len;
    }
    if idx != REGISTERS {
        return Err(TypeError::CorruptHll);
    }
    *v = d;
    Ok(())
}

/// Redis's `hllSparseSet`: raises register `index` to `count` in place,
/// splitting and merging opcodes, or promotes the value to dense when the
/// result would pass `max_bytes` (or `count` needs more than 5 bits).
/// Whether it changed anything; Err on corrupt opcodes.
fn sparse_set(
    v: &mut Vec<u8>,
    index: usize,
    count: u8,
    max_bytes: usize,
) -> Result<bool, TypeError> {
    if count > VAL_MAX_VALUE {
        return promote(v, index, count);
    }
    // Find the opcode covering `index`.
    let end = v.len();
    let mut p = HDR;
    let mut first = 0usize;
    let mut prev = None;
    let mut span = 0usize;
    let mut oplen = 1usize;
    while p < end {
        let (s, l, _) = opcode(v, p);
        span = s;
        oplen = l;
        if index < first + span {
            break;
        }
        prev = Some(p);
        p += oplen;
        first += span;
    }
    if span == 0 || p >= end {
        return Err(TypeError::CorruptHll);
    }
    let b = v[p];
    let (zero, xzero) = (is_zero(b), is_xzero(b));
    let runlen = span;
    if !zero && !xzero {
        let old = val_value(b);
        if old >= count {
            return Ok(false);
        }
        if runlen == 1 {
            v[p] = val_op(count, 1);
            merge_after(v, prev);
            return Ok(true);
        }
    }
    if zero && runlen == 1 {
        v[p] = val_op(count, 1);
        merge_after(v, prev);
        return Ok(true);
    }
    // The general case: the opcode becomes up to three.
    let last = first + span - 1;
    let mut seq = Vec::with_capacity(5);
    if zero || xzero {
        if index != first {
            zero_ops(index - first, &mut seq);
        }
        seq.push(val_op(count, 1));
        if index != last {
            zero_ops(last - index, &mut seq);
        }
    } else {
        let cur = val_value(b);
        if index != first {
            seq.push(val_op(cur, index - first));
        }
        seq.push(val_op(count, 1));
        if index != last {
            seq.push(val_op(cur, last - index));
        }
    }
    let old_len = if xzero { 2 } else { 1 };
    if seq.len() > old_len && v.len() + seq.len() - old_len > max_bytes {
        return promote(v, index, count);
    }
    let stop = (p + oplen).min(v.len());
    v.splice(p..stop, seq);
    merge_after(v, prev);
    Ok(true)
}

/// Sparse to dense, then the register set there (which always changes).
fn promote(v: &mut Vec<u8>, index: usize, count: u8) -> Result<bool, TypeError> {
    to_dense(v)?;
    Ok(dense_set(&mut v[HDR..], index, count))
}

/// After a sparse update: merges adjacent VAL opcodes of the same value,
/// scanning at most five opcodes from the one before the change.
fn merge_after(v: &mut Vec<u8>, prev: Option<usize>) {
    let mut p = prev.unwrap_or(HDR);
    let mut scan = 5;
    while p < v.len() && scan > 0 {
        scan -= 1;
        let b = v[p];
        if is_xzero(b) {
            p += 2;
            continue;
        }
        if is_zero(b) {
            p += 1;
            continue;
        }
        if p + 1 < v.len() && !is_zero(v[p + 1]) && !is_xzero(v[p + 1]) {
            let (v1, v2) = (val_value(b), val_value(v[p + 1]));
            if v1 == v2 {
                let len = val_len(b) + val_len(v[p + 1]);
                if len <= VAL_MAX_LEN {
                    v[p + 1] = val_op(v1, len);
                    v.remove(p);
                    continue;
                }
            }
        }
        p += 1;
    }
}

/// Adds one element; whether a register changed.
fn add(v: &mut Vec<u8>, ele: &[u8], max_bytes: usize) -> Result<bool, TypeError> {
    let (index, count) = pattern(ele);
    if is_dense(v) {
        Ok(dense_set(&mut v[HDR..], index, count))
    } else {
        sparse_set(v, index, count, max_bytes)
    }
}

/// Raises `max` to this HLL's registers. Err if sparse and corrupt.
fn merge_into(max: &mut [u8; REGISTERS], v: &[u8]) -> Result<(), TypeError> {
    if is_dense(v) {
        for (i, m) in max.iter_mut().enumerate() {
            *m = (*m).max(dense_get(&v[HDR..], i));
        }
        return Ok(());
    }
    let mut i = 0usize;
    let mut p = HDR;
    while p < v.len() {
        let (run, len, val) = opcode(v, p);
        if run + i > REGISTERS {
            return Err(TypeError::CorruptHll);
        }
        if val > 0 {
            for m in &mut max[i..i + run] {
                *m = (*m).max(val);
            }
        }
        i += run;
        p += len;
    }
    if i != REGISTERS {
        return Err(TypeError::CorruptHll);
    }
    Ok(())
}

fn sigma(mut x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let mut y = 1.0;
    let mut z = x;
    loop {
        x *= x;
        let prev = z;
        z += x * y;
        y += y;
        if prev == z {
            return z;
        }
    }
}

fn tau(mut x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let mut y = 1.0;
    let mut z = 1.0 - x;
    loop {
        x = x.sqrt();
        let prev = z;
        y *= 0.5;
        z -= (1.0 - x) * (1.0 - x) * y;
        if prev == z {
            return z / 3.0;
        }
    }
}

/// The estimate from a register histogram (Redis's `hllCount`).
fn estimate(histo: &[u64; 64]) -> u64 {
    let m = REGISTERS as f64;
    let mut z = m * tau((m - histo[Q as usize + 1] as f64) / m);
    for j in (1..=Q as usize).rev() {
        z += histo[j] as f64;
        z *= 0.5;
    }
    z += m * sigma(histo[0] as f64 / m);
    let e = (ALPHA_INF * m * m / z).round();
    if e.is_finite() && e >= 0.0 {
        e as u64
    } else {
        0
    }
}

/// The cardinality of a valid HLL, from its registers. Err if corrupt.
fn count_of(v: &[u8]) -> Result<u64, TypeError> {
    let mut histo = [0u64; 64];
    if is_dense(v) {
        for i in 0..REGISTERS {
            histo[dense_get(&v[HDR..], i) as usize] += 1;
        }
    } else {
        let mut idx = 0usize;
        let mut p = HDR;
        while p < v.len() {
            let (run, len, val) = opcode(v, p);
            if run + idx > REGISTERS {
                return Err(TypeError::CorruptHll);
            }
            idx += run;
            histo[val as usize] += run as u64;
            p += len;
        }
        if idx != REGISTERS {
            return Err(TypeError::CorruptHll);
        }
    }
    Ok(estimate(&histo))
}

/// The cardinality of merged registers (PFCOUNT of several keys).
fn count_raw(max: &[u8; REGISTERS]) -> u64 {
    let mut histo = [0u64; 64];
    for &r in max.iter() {
        histo[(r & 63) as usize] += 1;
    }
    estimate(&histo)
}

/// The HLL at `key`: None if absent; WRONGTYPE for another type,
/// `NotHll` for a string that is not one.
fn read(db: &mut Db<'_>, key: &[u8], for_write: bool) -> Result<Option<Str>, TypeError> {
    let s = if for_write {
        string::get_for_write(db, key)?
    } else {
        string::get(db, key)?
    };
    match s {
        Some(s) if !is_valid(&s.value) => Err(TypeError::NotHll),
        s => Ok(s),
    }
}

/// PFADD: whether the HLL changed (or was created).
pub(crate) fn pf_add(
    db: &mut Db<'_>,
    key: &[u8],
    elements: &[Bytes],
    max_bytes: usize,
) -> Result<bool, TypeError> {
    let (mut v, mut updated, at) = match read(db, key, true)? {
        Some(s) => (s.value.to_vec(), false, s.expire_at),
        None => (empty(), true, None),
    };
    let mut failed = None;
    for e in elements {
        match add(&mut v, e, max_bytes) {
            Ok(changed) => updated |= changed,
            Err(e) => {
                failed = Some(e);
                break;
            }
        }
    }
    if let Some(e) = failed {
        // A corrupt value: Redis keeps the elements added before the one
        // that failed (each sparse update marks the cache stale). Here
        // that change is stored, and so reaches replicas too.
        if updated {
            invalidate(&mut v);
            string::put_as(db, key, Bytes::from(v), at, string::Made::Raw);
        }
        return Err(e);
    }
    if updated {
        // PFADD unshares the value into a raw string.
        invalidate(&mut v);
        string::put_as(db, key, Bytes::from(v), at, string::Made::Raw);
    }
    Ok(updated)
}

/// PFCOUNT of one key: the cached cardinality, or a fresh one that is
/// then cached in the value (written back unless `store_cache` is false:
/// a replica answers without changing its data).
pub(crate) fn pf_count_one(
    db: &mut Db<'_>,
    key: &[u8],
    store_cache: bool,
) -> Result<u64, TypeError> {
    let Some(s) = read(db, key, false)? else {
        return Ok(0);
    };
    if let Some(c) = cached(&s.value) {
        return Ok(c);
    }
    let card = count_of(&s.value)?;
    if store_cache {
        // Through the transaction, so nothing changed it meanwhile.
        if let Some(s) = read(db, key, true)? {
            let mut v = s.value.to_vec();
            v[8..16].copy_from_slice(&card.to_le_bytes());
            // Redis writes the cache in place: the encoding stays.
            let made = match db.get(key) {
                Some(m) if m.converted => string::Made::Raw,
                Some(m) if m.no_int => string::Made::Plain,
                _ => string::Made::Tried,
            };
            string::put_as(db, key, Bytes::from(v), s.expire_at, made);
        }
    }
    Ok(card)
}

/// PFCOUNT of several keys: the cardinality of their union, stored nowhere.
pub(crate) fn pf_count_union(db: &mut Db<'_>, keys: &[Bytes]) -> Result<u64, TypeError> {
    let mut max = [0u8; REGISTERS];
    for k in keys {
        if let Some(s) = read(db, k, false)? {
            merge_into(&mut max, &s.value)?;
        }
    }
    Ok(count_raw(&max))
}

/// PFMERGE: `dest` (itself a source) becomes the union of the sources,
/// dense if any of them is.
pub(crate) fn pf_merge(
    db: &mut Db<'_>,
    dest: &[u8],
    srcs: &[Bytes],
    max_bytes: usize,
) -> Result<(), TypeError> {
    let mut max = [0u8; REGISTERS];
    let mut use_dense = false;
    let mut dest_val = None;
    for (i, k) in std::iter::once(dest)
        .chain(srcs.iter().map(|b| &b[..]))
        .enumerate()
    {
        let Some(s) = read(db, k, true)? else {
            continue;
        };
        use_dense |= is_dense(&s.value);
        merge_into(&mut max, &s.value)?;
        if i == 0 {
            dest_val = Some(s);
        }
    }
    let (mut v, at) = match dest_val {
        Some(s) => (s.value.to_vec(), s.expire_at),
        None => (empty(), None),
    };
    if use_dense {
        to_dense(&mut v)?;
    }
    for (j, &m) in max.iter().enumerate() {
        if m == 0 {
            continue;
        }
        if is_dense(&v) {
            dense_set(&mut v[HDR..], j, m);
        } else {
            sparse_set(&mut v, j, m, max_bytes)?;
        }
    }
    invalidate(&mut v);
    string::put_as(db, dest, Bytes::from(v), at, string::Made::Raw);
    Ok(())
}

/// What PFDEBUG does with a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Debug {
    GetReg,
    Decode,
    Encoding,
    ToDense,
}

/// PFDEBUG's answer.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum DebugReply {
    Registers(Vec<u8>),
    Decoded(String),
    Encoding(&'static str),
    Converted(bool),
    NotSparse,
    NoKey,
}

/// PFDEBUG: GETREG and TODENSE store a sparse value as dense (Redis
/// propagates that change).
pub(crate) fn pf_debug(db: &mut Db<'_>, key: &[u8], what: Debug) -> Result<DebugReply, TypeError> {
    let Some(s) = read(db, key, true)? else {
        return Ok(DebugReply::NoKey);
    };
    let mut v = s.value.to_vec();
    Ok(match what {
        Debug::GetReg | Debug::ToDense => {
            let was_sparse = !is_dense(&v);
            if was_sparse {
                to_dense(&mut v)?;
                string::put(db, key, Bytes::from(v.clone()), s.expire_at);
            }
            if what == Debug::ToDense {
                DebugReply::Converted(was_sparse)
            } else {
                DebugReply::Registers((0..REGISTERS).map(|i| dense_get(&v[HDR..], i)).collect())
            }
        }
        Debug::Encoding => DebugReply::Encoding(if is_dense(&v) { "dense" } else { "sparse" }),
        Debug::Decode => {
            if is_dense(&v) {
                return Ok(DebugReply::NotSparse);
            }
            let mut parts = Vec::new();
            let mut p = HDR;
            while p < v.len() {
                let b = v[p];
                if is_zero(b) {
                    parts.push(format!("z:{}", zero_len(b)));
                    p += 1;
                } else if is_xzero(b) {
                    parts.push(format!("Z:{}", xzero_len(&v, p)));
                    p += 2;
                } else {
                    parts.push(format!("v:{},{}", val_value(b), val_len(b)));
                    p += 1;
                }
            }
            DebugReply::Decoded(parts.join(" "))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn murmur_matches_reference_values() {
        // MurmurHash64A reference: empty input with seed 0 hashes to 0.
        assert_eq!(murmur64a(b"", 0), 0);
        // Every tail length takes its own path.
        let h: Vec<u64> = (0..17)
            .map(|n| murmur64a(&b"abcdefghijklmnopq"[..n], 7))
            .collect();
        let mut uniq = h.clone();
        uniq.sort_unstable();
        uniq.dedup();
        assert_eq!(uniq.len(), h.len());
    }

    #[test]
    fn empty_is_redis_bytes() {
        let v = empty();
        assert_eq!(&v[..5], b"HYLL\x01");
        assert_eq!(&v[HDR..], &[0x7f, 0xff]);
        assert!(is_valid(&v));
        assert_eq!(count_of(&v), Ok(0));
    }

    #[test]
    fn sparse_and_dense_agree() {
        let mut s = empty();
        for i in 0..2000 {
            add(&mut s, format!("e{i}").as_bytes(), usize::MAX).expect("add");
        }
        assert!(!is_dense(&s));
        let mut d = s.clone();
        to_dense(&mut d).expect("dense");
        assert_eq!(count_of(&s), count_of(&d));
        let c = count_of(&d).expect("count");
        assert!((1900..2100).contains(&c), "{c}");
        // Promotion at a byte budget.
        let mut p = empty();
        for i in 0..2000 {
            add(&mut p, format!("e{i}").as_bytes(), 3000).expect("add");
        }
        assert!(is_dense(&p));
        assert_eq!(&p[HDR..], &d[HDR..]);
    }

    /// Random opcodes after a valid header: every operation answers
    /// (a value or CorruptHll), none panics.
    #[test]
    fn random_sparse_bodies_never_panic() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for round in 0..3000 {
            let mut v = sparse_header(round % 2 == 0);
            let n = (next() % 40) as usize;
            for _ in 0..n {
                // Mostly long zero runs, so some bodies are nearly valid.
                let b = match next() % 4 {
                    0 => 0x7f,
                    1 => 0x40 | (next() % 64) as u8,
                    _ => next() as u8,
                };
                v.push(b);
            }
            assert!(is_valid(&v));
            let _ = count_of(&v);
            let mut m = [0u8; REGISTERS];
            let _ = merge_into(&mut m, &v);
            let mut w = v.clone();
            let _ = to_dense(&mut w);
            let mut a = v.clone();
            for e in 0..20 {
                if add(&mut a, format!("r{round}:{e}").as_bytes(), 60).is_err() {
                    break;
                }
            }
            let mut s = v.clone();
            let _ = sparse_set(&mut s, (next() % REGISTERS as u64) as usize, 40, 3000);
        }
    }

    fn sparse_header(stale: bool) -> Vec<u8> {
        let mut v = empty();
        v.truncate(HDR);
        if stale {
            invalidate(&mut v);
        }
        v
    }

    #[test]
    fn corrupt_values_are_errors_not_panics() {
        let mut v = empty();
        v.truncate(HDR + 1);
        assert!(is_valid(&v));
        assert_eq!(count_of(&v), Err(TypeError::CorruptHll));
        assert_eq!(add(&mut v, b"x", 3000), Err(TypeError::CorruptHll));
        let mut w = b"HYLL\x01\0\0\0\0\0\0\0\0\0\0\0\xff\xff\xff".to_vec();
        let _ = add(&mut w, b"a", 3000);
        let _ = count_of(&w);
        let mut m = [0u8; REGISTERS];
        let _ = merge_into(&mut m, &w);
    }
}
