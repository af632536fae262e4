use super::snapshot_source::midpoint;
use super::*;

/// A seeded xorshift64 generator: the same keys on every run.
fn xorshift(mut x: u64) -> impl FnMut() -> u64 {
    move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    }
}

#[test]
fn midpoint_lies_strictly_between_its_keys() {
    let cases: &[(&[u8], &[u8])] = &[
        (b"key:000000000000", b"key:000000999999"),
        (b"a", b"b"),
        (b"a", b"a\x00\x00\x01"),
        (b"ab", b"abc"),
        (b"\x01\xff\xff", b"\x02"),
        (b"x\xff\xffz", b"y"),
        (
            b"same-prefix-then-a-long-tail-aaaa",
            b"same-prefix-then-a-long-tail-zzzz",
        ),
    ];
    for (a, b) in cases {
        let m = midpoint(a, b).unwrap_or_else(|| panic!("{a:?} {b:?}"));
        assert!(
            a < &m.as_slice() && m.as_slice() < *b,
            "{a:?} < {m:?} < {b:?}"
        );
    }
    // Nothing fits between neighbours.
    assert_eq!(midpoint(b"a", b"a\x00"), None);
    let m = midpoint(b"a\x00", b"a\x01").expect("a\\x00\\x80... fits");
    assert!(b"a\x00".as_slice() < m.as_slice() && m.as_slice() < b"a\x01".as_slice());
    // Or too close in the 16 bytes looked at: no split, which is fine.
    let mut a = b"x".to_vec();
    a.extend([0xff; 16]);
    a.push(b'z');
    assert_eq!(midpoint(&a, b"y"), None);
}

/// The forward-only walk finds what a reverse scan would, on keys full
/// of 0xff runs (list indices, negative scores) and shared prefixes.
#[test]
fn sled_last_matches_a_full_scan() {
    let dir = std::env::temp_dir().join(format!("sledis-last-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let store = Store::open_path(&dir).expect("open");
    let mut rnd = xorshift(0x9E37_79B9_7F4A_7C15);
    let mut keys: Vec<Vec<u8>> = Vec::new();
    for _ in 0..3000 {
        let mut k = b"s\x00pre".to_vec();
        match rnd() % 4 {
            0 => k.extend_from_slice(&(0x7fff_ffff_ffff_ffffu64 - rnd() % 50).to_be_bytes()),
            1 => k.extend_from_slice(&(!(-((rnd() % 40) as f64)).to_bits()).to_be_bytes()),
            2 => k.extend_from_slice(format!("element:{:012}", rnd() % 100_000).as_bytes()),
            _ => k.extend((0..rnd() % 6).map(|_| [0u8, 0xff, 0x7f, b'a'][(rnd() % 4) as usize])),
        }
        store.engine.insert(&k, b"v").expect("insert");
        keys.push(k);
    }
    keys.sort();
    keys.dedup();
    for _ in 0..2000 {
        let a = &keys[(rnd() % keys.len() as u64) as usize];
        let b = &keys[(rnd() % keys.len() as u64) as usize];
        let (start, mut end) = if a <= b {
            (a.clone(), b.clone())
        } else {
            (b.clone(), a.clone())
        };
        if rnd().is_multiple_of(3) {
            end.push(0xff);
        }
        let want = keys.iter().rfind(|k| **k >= start && **k < end);
        let got = store.sled_last(&start, &end).map(|(k, _)| k.to_vec());
        assert_eq!(got.as_ref(), want, "range {start:?}..{end:?}");
        // As callers use it: everything under a prefix, n at a time.
        let p = &a[..(rnd() % a.len() as u64) as usize];
        let Some(pe) = crate::util::prefix_end(p) else {
            continue;
        };
        let want: Vec<&Vec<u8>> = keys
            .iter()
            .filter(|k| k.starts_with(p))
            .rev()
            .take(5)
            .collect();
        let got: Vec<Vec<u8>> = store
            .sled_last_n(p, &pe, 5)
            .into_iter()
            .map(|(k, _)| k.to_vec())
            .collect();
        assert_eq!(got.iter().collect::<Vec<_>>(), want, "prefix {p:?}");
    }
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Range reads merge the write buffer's layers (puts and tombstones)
/// over sled's pairs exactly, at any window size: each page is a start
/// of what a model holds, and walking a range page by page from the
/// last key returned yields it whole, once.
#[test]
fn range_reads_merge_the_buffer_over_sled() {
    use std::collections::BTreeMap;
    let dir = std::env::temp_dir().join(format!("sledis-range-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let store = Store::open_path(&dir).expect("open");
    let mut rnd = xorshift(0x2545_F491_4F6C_DD1D);
    let key = |n: u64| format!("r\x00k{n:04}").into_bytes();
    let mut model: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    for _ in 0..600 {
        let k = key(rnd() % 1000);
        store.engine.insert(&k, b"sled").expect("insert");
        model.insert(k, b"sled".to_vec());
    }
    for layer in 0..3 {
        let mut t = store.tables.write();
        for _ in 0..300 {
            let k = key(rnd() % 1000);
            if rnd().is_multiple_of(3) {
                t.insert(Bytes::from(k.clone()), None);
                model.remove(&k);
            } else {
                let v = format!("buf{layer}").into_bytes();
                t.insert(Bytes::from(k.clone()), Some(Bytes::from(v.clone())));
                model.insert(k, v);
            }
        }
        if layer < 2 {
            t.freeze(None);
        }
    }
    let end = b"r\x00l".to_vec();
    for _ in 0..300 {
        let start = key(rnd() % 1000);
        let after = rnd().is_multiple_of(2);
        let count = 1 + (rnd() % 40) as usize;
        let want: Vec<(Vec<u8>, Vec<u8>)> = model
            .iter()
            .filter(|(k, _)| if after { **k > start } else { **k >= start })
            .take(count)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let (got, more) = store.raw_range(&start, after, &end, count);
        let got: Vec<(Vec<u8>, Vec<u8>)> =
            got.iter().map(|(k, v)| (k.to_vec(), v.to_vec())).collect();
        // A window may stop short of `count` (at the nearest source's
        // count-th key) but never returns nothing while pairs remain,
        // and says whether more follow.
        let what = format!("from {start:?} after {after} count {count}");
        assert!(want.starts_with(&got), "{what}");
        assert_eq!(got.is_empty(), want.is_empty(), "{what}");
        if !more {
            assert_eq!(got, want, "{what}: no more");
        }
    }
    for count in [1, 3, 16, 100] {
        let mut walked = Vec::new();
        let mut from = b"r\x00".to_vec();
        let mut after = false;
        loop {
            let (page, more) = store.raw_range(&from, after, &end, count);
            assert!(page.len() <= count);
            walked.extend(page.iter().map(|(k, _)| k.to_vec()));
            match page.last() {
                Some((k, _)) if more => (from, after) = (k.to_vec(), true),
                _ => break,
            }
        }
        assert_eq!(
            walked,
            model.keys().cloned().collect::<Vec<_>>(),
            "count {count}"
        );
    }
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}
