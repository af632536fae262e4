//! LZF as Redis uses it for strings in RDB payloads (liblzf 3.6 with
//! Redis's settings: HLOG 16, VERY_FAST). The compressor follows Redis
//! 7.0's `lzf_c.c` step by step so that a DUMP matches Redis's bytes (a
//! match may end at the input's last byte: 7.0 has no `ip + 4 < in_end`
//! test, which later versions added); its hash
//! table starts empty (Redis leaves it uninitialised, which only matters
//! when stale stack contents happen to point into the input).
//!
//! Format: `000LLLLL` + L+1 literal bytes; `LLLooooo oooooooo` a back
//! reference of L+2 bytes at offset o+1; `111ooooo LLLLLLLL oooooooo` one
//! of L+9 bytes.

const HLOG: u32 = 16;
const HSIZE: usize = 1 << HLOG;
const MAX_LIT: usize = 1 << 5;
const MAX_OFF: usize = 1 << 13;
const MAX_REF: usize = (1 << 8) + (1 << 3);

fn idx(h: u32) -> usize {
    ((h >> (3 * 8 - HLOG)).wrapping_sub(h.wrapping_mul(5)) as usize) & (HSIZE - 1)
}

/// The hash table, kept per thread and reused: allocating and clearing
/// 64 Ki slots for every string of a big DUMP would cost more than the
/// compression. A slot holds `generation << 32 | position`; a slot of an
/// older call reads as empty.
struct Table {
    slots: Vec<u64>,
    generation: u32,
}

thread_local! {
    static TABLE: std::cell::RefCell<Table> = const {
        std::cell::RefCell::new(Table { slots: Vec::new(), generation: 0 })
    };
}

/// `lzf_compress(input, out_len)`: the compressed bytes if they fit in
/// `out_len` bytes, else None (as the C function's 0).
pub(crate) fn compress(input: &[u8], out_len: usize) -> Option<Vec<u8>> {
    if input.len() > u32::MAX as usize {
        return None;
    }
    TABLE.with(|t| {
        let mut t = t.borrow_mut();
        if t.slots.is_empty() || t.generation == u32::MAX {
            t.slots = vec![0; HSIZE];
            t.generation = 0;
        }
        t.generation += 1;
        let generation = t.generation;
        compress_with(input, out_len, &mut t.slots, generation)
    })
}

fn compress_with(
    input: &[u8],
    out_len: usize,
    slots: &mut [u64],
    generation: u32,
) -> Option<Vec<u8>> {
    let tag = (generation as u64) << 32;
    let get = |slots: &[u64], i: usize| -> usize {
        let v = slots[i];
        if v >> 32 == generation as u64 {
            (v & 0xffff_ffff) as usize
        } else {
            usize::MAX
        }
    };
    let in_len = input.len();
    if in_len == 0 || out_len == 0 {
        return None;
    }
    // One byte of slack: the C code may write a run header at out_end.
    let mut out = vec![0u8; out_len + 1];
    let out_end = out_len;
    let mut ip = 0usize;
    let mut op = 1usize; // start run
    let mut lit = 0usize;
    let mut hval: u32 = ((input[0] as u32) << 8) | *input.get(1).unwrap_or(&0) as u32;
    while in_len >= 2 && ip < in_len - 2 {
        hval = (hval << 8) | input[ip + 2] as u32;
        let slot = idx(hval);
        let r = get(slots, slot);
        slots[slot] = tag | ip as u64;
        let matched = r != usize::MAX
            && r < ip
            && ip - r - 1 < MAX_OFF
            && r > 0
            && input[r] == input[ip]
            && input[r + 1] == input[ip + 1]
            && input[r + 2] == input[ip + 2];
        if matched {
            let off = ip - r - 1;
            let mut len = 2usize;
            let maxlen = (in_len - ip - len).min(MAX_REF);
            out[op - lit - 1] = (lit as u8).wrapping_sub(1); // stop run
            if lit == 0 {
                op -= 1; // undo run if length is zero
            }
            if op + 3 + 1 >= out_end {
                return None;
            }
            // lzf_c.c's unrolled first 16 steps do not look at maxlen.
            let mut broke = false;
            if maxlen > 16 {
                for _ in 0..16 {
                    len += 1;
                    if input[r + len] != input[ip + len] {
                        broke = true;
                        break;
                    }
                }
            }
            if !broke {
                loop {
                    len += 1;
                    if !(len < maxlen && input[r + len] == input[ip + len]) {
                        break;
                    }
                }
            }
            len -= 2; // len is now #octets - 1
            ip += 1;
            if len < 7 {
                out[op] = ((off >> 8) + (len << 5)) as u8;
                op += 1;
            } else {
                out[op] = ((off >> 8) + (7 << 5)) as u8;
                out[op + 1] = (len - 7) as u8;
                op += 2;
            }
            out[op] = off as u8;
            op += 1;
            lit = 0;
            op += 1; // start run
            ip += len + 1;
            if ip >= in_len - 2 {
                break;
            }
            ip -= 2;
            hval = ((input[ip] as u32) << 8) | input[ip + 1] as u32;
            hval = (hval << 8) | input[ip + 2] as u32;
            slots[idx(hval)] = tag | ip as u64;
            ip += 1;
            hval = (hval << 8) | input[ip + 2] as u32;
            slots[idx(hval)] = tag | ip as u64;
            ip += 1;
        } else {
            if op >= out_end {
                return None;
            }
            lit += 1;
            out[op] = input[ip];
            op += 1;
            ip += 1;
            if lit == MAX_LIT {
                out[op - lit - 1] = (lit - 1) as u8;
                lit = 0;
                op += 1;
            }
        }
    }
    if op + 3 > out_end {
        return None;
    }
    while ip < in_len {
        lit += 1;
        out[op] = input[ip];
        op += 1;
        ip += 1;
        if lit == MAX_LIT {
            out[op - lit - 1] = (lit - 1) as u8;
            lit = 0;
            op += 1;
        }
    }
    out[op - lit - 1] = (lit as u8).wrapping_sub(1);
    if lit == 0 {
        op -= 1;
    }
    out.truncate(op);
    Some(out)
}

/// Decompresses `input`, which must give exactly `len` bytes. The output
/// grows with what is really produced (never by the claimed `len` alone),
/// and stops as soon as it would pass `len`.
pub(crate) fn decompress(input: &[u8], len: usize) -> Option<Vec<u8>> {
    let mut out: Vec<u8> = Vec::with_capacity(len.min(input.len().saturating_mul(4)));
    let mut ip = 0usize;
    while ip < input.len() {
        let ctrl = input[ip] as usize;
        ip += 1;
        if ctrl < 32 {
            let n = ctrl + 1;
            let lit = input.get(ip..ip + n)?;
            if out.len() + n > len {
                return None;
            }
            out.extend_from_slice(lit);
            ip += n;
        } else {
            let mut n = ctrl >> 5;
            if n == 7 {
                n += *input.get(ip)? as usize;
                ip += 1;
            }
            n += 2;
            let back = ((ctrl & 0x1f) << 8) + *input.get(ip)? as usize + 1;
            ip += 1;
            if back > out.len() || out.len() + n > len {
                return None;
            }
            let from = out.len() - back;
            // Byte by byte: the reference may overlap what it produces.
            for i in 0..n {
                let b = out[from + i];
                out.push(b);
            }
        }
    }
    (out.len() == len).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let cases: Vec<Vec<u8>> = vec![
            b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".to_vec(),
            b"hello hello hello hello hello hello world".to_vec(),
            (0..5000u32).map(|i| (i % 251) as u8).collect(),
            (0..3000u32).map(|i| (i * 7 % 13) as u8).collect(),
        ];
        for c in cases {
            let z = compress(&c, c.len() - 4).expect("compressible");
            assert!(z.len() < c.len());
            assert_eq!(decompress(&z, c.len()).as_deref(), Some(&c[..]));
        }
    }

    #[test]
    fn random_data_does_not_fit() {
        let c: Vec<u8> = (0..64u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect();
        assert!(compress(&c, c.len() - 4).is_none());
    }

    #[test]
    fn bad_input_is_refused() {
        assert!(decompress(&[0x05, b'a'], 6).is_none(), "short literal");
        assert!(
            decompress(&[0x20, 0x00], 3).is_none(),
            "reference before the start"
        );
        assert!(
            decompress(&[0x00, b'a', 0xe0, 0xff, 0x00], 10).is_none(),
            "longer than claimed"
        );
        assert!(
            decompress(&[0x00, b'a'], 2).is_none(),
            "shorter than claimed"
        );
    }
}
