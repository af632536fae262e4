//! The longest common subsequence of two strings (Redis's `lcsCommand`,
//! t_string.c): the classic dynamic programming table, walked back to
//! give the subsequence and the matching ranges in Redis's order.

/// A matching run: `a_start..=a_end` in the first string equals
/// `b_start..=b_end` in the second.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Match {
    pub a: (u64, u64),
    pub b: (u64, u64),
    pub len: u64,
}

/// The bytes the table takes for strings of these lengths, as Redis
/// counts them (`(alen+1) * (blen+1)` u32s); None when that overflows.
pub(crate) fn table_bytes(alen: usize, blen: usize) -> Option<u64> {
    (alen as u64 + 1)
        .checked_mul(blen as u64 + 1)?
        .checked_mul(4)
}

/// Just the length, in two rows of memory.
pub(crate) fn len(a: &[u8], b: &[u8]) -> u64 {
    let mut prev = vec![0u32; b.len() + 1];
    let mut cur = vec![0u32; b.len() + 1];
    for &x in a {
        for (j, &y) in b.iter().enumerate() {
            cur[j + 1] = if x == y {
                prev[j] + 1
            } else {
                prev[j + 1].max(cur[j])
            };
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()] as u64
}

/// The subsequence and its matching runs (last first, as Redis emits them)
/// with at least `min_len` bytes (0: all). None if the table could not be
/// allocated.
pub(crate) fn full(a: &[u8], b: &[u8], min_len: u64) -> Option<(Vec<u8>, Vec<Match>)> {
    let (alen, blen) = (a.len(), b.len());
    let w = blen + 1;
    let cells = (alen + 1).checked_mul(w)?;
    let mut t: Vec<u32> = Vec::new();
    t.try_reserve_exact(cells).ok()?;
    t.resize(cells, 0);
    for i in 1..=alen {
        for j in 1..=blen {
            t[i * w + j] = if a[i - 1] == b[j - 1] {
                t[(i - 1) * w + j - 1] + 1
            } else {
                t[(i - 1) * w + j].max(t[i * w + j - 1])
            };
        }
    }
    let mut idx = t[alen * w + blen] as usize;
    let mut out = vec![0u8; idx];
    let mut matches = Vec::new();
    // Redis's walk back: `a_start == alen` means no run is open.
    let (mut a_start, mut a_end, mut b_start, mut b_end) = (alen, 0usize, 0usize, 0usize);
    let (mut i, mut j) = (alen, blen);
    while i > 0 && j > 0 {
        let mut emit = false;
        if a[i - 1] == b[j - 1] {
            out[idx - 1] = a[i - 1];
            if a_start == alen {
                (a_start, a_end, b_start, b_end) = (i - 1, i - 1, j - 1, j - 1);
            } else if a_start == i && b_start == j {
                a_start -= 1;
                b_start -= 1;
            } else {
                emit = true;
            }
            if a_start == 0 || b_start == 0 {
                emit = true;
            }
            idx -= 1;
            i -= 1;
            j -= 1;
        } else {
            if t[(i - 1) * w + j] > t[i * w + j - 1] {
                i -= 1;
            } else {
                j -= 1;
            }
            if a_start != alen {
                emit = true;
            }
        }
        if emit {
            let len = (a_end - a_start + 1) as u64;
            if min_len == 0 || len >= min_len {
                matches.push(Match {
                    a: (a_start as u64, a_end as u64),
                    b: (b_start as u64, b_end as u64),
                    len,
                });
            }
            a_start = alen;
        }
    }
    Some((out, matches))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redis_doc_example() {
        let (a, b) = (b"ohmytext", b"mynewtext");
        assert_eq!(len(a, b), 6);
        let (s, m) = full(a, b, 0).expect("table");
        assert_eq!(s, b"mytext");
        assert_eq!(
            m,
            vec![
                Match {
                    a: (4, 7),
                    b: (5, 8),
                    len: 4
                },
                Match {
                    a: (2, 3),
                    b: (0, 1),
                    len: 2
                },
            ]
        );
        assert_eq!(full(a, b, 4).expect("table").1.len(), 1);
        assert_eq!(len(b"", b"abc"), 0);
        assert_eq!(full(b"", b"", 0), Some((vec![], vec![])));
    }
}
