use std::path::{Path, PathBuf};

use super::error::SnapshotErrorKind;
use super::format::{
    Compression, COMPRESSION_LEVEL, FORMAT_VERSION, HEADER_LEN, MAGIC, MAX_BLOCK_RAW,
    TARGET_BLOCK_RAW, TRAILER_LEN,
};
use super::*;

const REPLID: &str = "0123456789abcdef0123456789abcdef01234567";

/// Deterministic xorshift so the tests need no rand crate.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

fn write_pairs(path: &Path, pairs: &[(Vec<u8>, Vec<u8>)], s: u64, e: u64) -> SnapshotInfo {
    let mut w = SnapshotWriter::create(path, REPLID, s).expect("create");
    for (k, v) in pairs {
        w.add(k, v).expect("add");
    }
    w.finish(e).expect("finish")
}

fn small_pairs(n: usize) -> Vec<(Vec<u8>, Vec<u8>)> {
    (0..n)
        .map(|i| {
            (
                format!("key:{i:08}").into_bytes(),
                format!("value-{i}-{}", i * 7919 % 1000).into_bytes(),
            )
        })
        .collect()
}

fn read_all(r: &SnapshotReader) -> Vec<(Vec<u8>, Vec<u8>)> {
    r.iter().collect::<Result<Vec<_>, _>>().expect("iter")
}

fn check_round_trip(pairs: &[(Vec<u8>, Vec<u8>)]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("dump.snap");
    let info = write_pairs(&path, pairs, 100, 250);
    assert_eq!(info.keys, pairs.len() as u64);
    assert_eq!(
        info.file_bytes,
        std::fs::metadata(&path).expect("meta").len()
    );
    assert!(!dir.path().join("dump.snap.tmp").exists());

    let r = SnapshotReader::open(&path).expect("open");
    let h = r.header();
    assert_eq!(h, &info.header);
    assert_eq!(h.version, FORMAT_VERSION);
    assert_eq!(h.replid, REPLID);
    assert_eq!((h.start_offset, h.end_offset), (100, 250));
    assert_eq!(h.compression, Compression::Zstd);
    assert!(h.created_at_ms > 1_600_000_000_000);
    assert_eq!(r.key_count(), pairs.len() as u64);
    assert_eq!(r.block_count() as u64, info.blocks);
    assert_eq!(r.file_len(), info.file_bytes);
    assert_eq!(r.raw_bytes(), info.raw_bytes);
    assert_eq!(read_all(&r), pairs);
    let mut from_blocks = Vec::new();
    for i in 0..r.block_count() {
        from_blocks.extend(r.read_block(i).expect("block"));
    }
    assert_eq!(from_blocks, pairs);
    let report = r.verify();
    assert!(report.is_ok(), "{report}");
    assert_eq!(report.keys_readable, pairs.len() as u64);
    assert!(is_snapshot(&path));
    (dir, path)
}

#[test]
fn round_trip_empty() {
    let (_d, path) = check_round_trip(&[]);
    let r = SnapshotReader::open(&path).expect("open");
    assert_eq!(r.block_count(), 0);
    assert_eq!(r.find_block(b"x"), None);
    assert_eq!(r.iter_from(b"x").count(), 0);
}

#[test]
fn round_trip_one_key() {
    check_round_trip(&[(b"k".to_vec(), b"v".to_vec())]);
    // Empty key and empty value are legal sled entries.
    check_round_trip(&[(Vec::new(), Vec::new()), (b"a".to_vec(), Vec::new())]);
}

#[test]
fn round_trip_many_keys() {
    let pairs = small_pairs(200_000);
    let (_d, path) = check_round_trip(&pairs);
    let r = SnapshotReader::open(&path).expect("open");
    assert!(r.block_count() > 10, "blocks {}", r.block_count());
    for (i, b) in r.blocks().iter().enumerate() {
        assert!(b.raw_len as usize >= TARGET_BLOCK_RAW || i + 1 == r.block_count());
        assert!((b.raw_len as usize) < TARGET_BLOCK_RAW + 100);
    }
    // Seeking: find_block and iter_from land on the right key.
    let probe = b"key:00123456x";
    let bi = r.find_block(probe).expect("block");
    let block = r.read_block(bi).expect("read");
    assert!(block.iter().any(|(k, _)| k.as_slice() == b"key:00123456"));
    let got: Vec<_> = r
        .iter_from(probe)
        .take(2)
        .collect::<Result<_, _>>()
        .expect("iter");
    assert_eq!(got[0].0, b"key:00123457");
    assert_eq!(got[1].0, b"key:00123458");
    assert_eq!(r.iter_from(b"").count(), pairs.len());
    assert_eq!(r.iter_from(b"zzz").count(), 0);
    // The reader is Sync: blocks can be loaded from several threads.
    let total: usize = std::thread::scope(|s| {
        let rr = &r;
        let n = rr.block_count();
        let hs: Vec<_> = (0..2)
            .map(|t| {
                s.spawn(move || {
                    (t..n)
                        .step_by(2)
                        .map(|i| rr.read_block(i).expect("block").len())
                        .sum::<usize>()
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().expect("join")).sum()
    });
    assert_eq!(total, pairs.len());
}

#[test]
fn round_trip_large_values() {
    let mut rng = Rng(42);
    let pairs = vec![
        (b"a".to_vec(), b"small".to_vec()),
        (b"b".to_vec(), rng.bytes(5 << 20)),
        (b"c".to_vec(), rng.bytes(100 << 10)),
        (b"d".to_vec(), b"small again".to_vec()),
        (b"e".to_vec(), vec![7u8; 300 << 10]),
        (b"f".to_vec(), Vec::new()),
    ];
    let (_d, path) = check_round_trip(&pairs);
    let r = SnapshotReader::open(&path).expect("open");
    // "a" and "b" share a block (it only closes once past 64 KiB).
    assert_eq!(r.blocks()[0].entries, 2);
    assert!(r.blocks()[0].raw_len as usize > 5 << 20);
}

#[test]
fn big_pairs_and_pairs_over_the_cap() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("big.snap");
    let mut w = SnapshotWriter::create(&path, REPLID, 0).expect("create");
    w.add(b"a", b"x").expect("add");
    let too_big = vec![1u8; MAX_BLOCK_RAW];
    let err = w.add(b"b", &too_big).expect_err("over the cap");
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    // A value past what the reader reserves up front fits (in a block of
    // its own) and reads back through the growing buffer.
    let at_cap = vec![2u8; super::format::PREALLOC_RAW + 1000];
    w.add(b"b", &at_cap).expect("a big pair");
    w.add(b"c", b"z").expect("add");
    w.finish(0).expect("finish");
    let r = SnapshotReader::open(&path).expect("open");
    // "b" joins "a"'s small block, which then closes.
    assert_eq!(r.block_count(), 2);
    let all = read_all(&r);
    assert_eq!(all.len(), 3);
    assert_eq!(all[1].1, at_cap);
}

#[test]
fn keys_out_of_order_rejected() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("o.snap");
    let mut w = SnapshotWriter::create(&path, REPLID, 0).expect("create");
    w.add(b"b", b"1").expect("add");
    let e = w.add(b"a", b"2").expect_err("decreasing");
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
    assert!(e.to_string().contains("strictly increasing"), "{e}");
    w.add(b"b", b"3").expect_err("duplicate");
    // A rejected pair does not poison the writer.
    w.add(b"c", b"4").expect("add");
    w.finish(1).expect("finish");
    let r = SnapshotReader::open(&path).expect("open");
    assert_eq!(
        read_all(&r),
        vec![
            (b"b".to_vec(), b"1".to_vec()),
            (b"c".to_vec(), b"4".to_vec())
        ]
    );
}

#[test]
fn writer_validates_inputs_and_cleans_up() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("w.snap");
    let tmp = dir.path().join("w.snap.tmp");
    assert!(SnapshotWriter::create(&path, "not-hex", 0).is_err());
    {
        let mut w = SnapshotWriter::create(&path, REPLID, 0).expect("create");
        w.add(b"k", b"v").expect("add");
        assert!(tmp.exists());
        assert!(!path.exists());
        assert!(
            !is_snapshot(&tmp),
            "unfinished file must not look like a snapshot"
        );
    }
    assert!(!tmp.exists(), "dropped writer removes its temp file");
    assert!(!path.exists());
    let w = SnapshotWriter::create(&path, REPLID, 10).expect("create");
    assert!(w.finish(9).is_err(), "end before start");
    assert!(!tmp.exists());
}

/// A multi-block file small enough to mutate byte by byte.
fn sample_file(dir: &Path) -> (PathBuf, Vec<u8>) {
    let path = dir.join("s.snap");
    let pairs: Vec<_> = (0..3000)
        .map(|i| {
            (
                format!("k{i:06}").into_bytes(),
                format!("{:0>100}", i * 31).into_bytes(),
            )
        })
        .collect();
    let info = write_pairs(&path, &pairs, 5, 6);
    assert!(info.blocks >= 4, "blocks {}", info.blocks);
    let bytes = std::fs::read(&path).expect("read");
    (path, bytes)
}

fn write_variant(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).expect("write");
    p
}

#[test]
fn truncated_file_is_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, bytes) = sample_file(dir.path());
    let r = SnapshotReader::open(&path).expect("open");
    let b1 = r.blocks()[1].offset as usize;
    let idx = r.index_offset() as usize;
    let len = bytes.len();
    let cuts = [
        (0, "empty"),
        (5, "in magic"),
        (10, "in version"),
        (50, "in header"),
        (HEADER_LEN, "after header"),
        (b1 + 30, "in a block"),
        (idx, "before the index"),
        (idx + 7, "in the index"),
        (len - TRAILER_LEN + 3, "in the trailer"),
        (len - 1, "last byte missing"),
    ];
    for (cut, what) in cuts {
        let p = write_variant(dir.path(), "cut.snap", &bytes[..cut]);
        let err = SnapshotReader::open(&p).expect_err(what);
        let msg = err.to_string();
        assert!(msg.contains("cut.snap"), "{what}: {msg}");
        if cut < 8 {
            assert_eq!(err.kind(), SnapshotErrorKind::NotSnapshot, "{what}: {msg}");
        } else {
            assert_eq!(err.kind(), SnapshotErrorKind::Truncated, "{what}: {msg}");
            assert!(msg.contains("truncated"), "{what}: {msg}");
            assert!(err.offset().is_some(), "{what}");
        }
    }
}

#[test]
fn damaged_block_is_isolated() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, mut bytes) = sample_file(dir.path());
    let r = SnapshotReader::open(&path).expect("open");
    let victim = 2;
    let e = r.blocks()[victim].clone();
    let before: u64 = r.blocks()[..victim]
        .iter()
        .map(|b| u64::from(b.entries))
        .sum();
    let total = r.key_count();
    drop(r);
    bytes[e.offset as usize + 16 + e.len as usize / 2] ^= 0x40;
    let p = write_variant(dir.path(), "flip.snap", &bytes);

    let r = SnapshotReader::open(&p).expect("index and trailer are intact");
    let report = r.verify();
    assert!(!report.is_ok());
    assert_eq!(report.damaged.len(), 1, "{report}");
    let d = &report.damaged[0];
    assert_eq!(
        (d.block, d.offset, d.entries),
        (victim, e.offset, e.entries)
    );
    assert!(d.problem.contains("crc mismatch"), "{}", d.problem);
    assert!(
        d.problem
            .contains(&format!("block {victim} at offset {}", e.offset)),
        "{}",
        d.problem
    );
    assert_eq!(report.keys_readable, total - u64::from(e.entries));
    assert!(report.to_string().contains("1 damaged"), "{report}");

    let mut it = r.iter();
    let mut ok = 0u64;
    let err = loop {
        match it.next() {
            Some(Ok(_)) => ok += 1,
            Some(Err(err)) => break err,
            None => panic!("iterator ended without reporting the damaged block"),
        }
    };
    assert_eq!(ok, before);
    assert_eq!(err.offset(), Some(e.offset));
    assert_eq!(err.kind(), SnapshotErrorKind::Corrupt);
    assert!(err.to_string().contains("flip.snap"), "{err}");
    assert!(it.next().is_none(), "fused after an error");
    assert!(r.read_block(victim).is_err());
    assert!(r.read_block(victim + 1).is_ok());
    assert!(r.read_block(999).is_err());

    // A damaged block header is caught the same way.
    let (_, mut bytes2) = sample_file(dir.path());
    bytes2[e.offset as usize] ^= 0x01;
    let p2 = write_variant(dir.path(), "flip2.snap", &bytes2);
    let r2 = SnapshotReader::open(&p2).expect("open");
    let rep2 = r2.verify();
    assert_eq!(rep2.damaged.len(), 1);
    assert_eq!(rep2.damaged[0].block, victim);
}

#[test]
fn any_flip_in_header_index_or_trailer_fails_open() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, bytes) = sample_file(dir.path());
    let idx = SnapshotReader::open(&path).expect("open").index_offset() as usize;
    let trailer = bytes.len() - TRAILER_LEN;
    let positions = (0..HEADER_LEN).chain(idx..bytes.len());
    for pos in positions {
        for mask in [0x01u8, 0x80] {
            let mut b = bytes.clone();
            b[pos] ^= mask;
            let p = write_variant(dir.path(), "x.snap", &b);
            let err = match SnapshotReader::open(&p) {
                Ok(_) => panic!("flip at {pos} not detected"),
                Err(e) => e,
            };
            let off = err.offset().expect("offset");
            if err.kind() == SnapshotErrorKind::UnsupportedVersion {
                assert!((8..12).contains(&pos), "pos {pos}: {err}");
            } else {
                assert!(err.message().contains("offset"), "{err}");
            }
            if pos >= trailer {
                assert!(off >= trailer as u64, "pos {pos}: {err}");
            } else if pos >= idx {
                assert_eq!(off, idx as u64, "pos {pos}: {err}");
                assert!(err.message().contains("block index"), "{err}");
            } else {
                assert!(off < HEADER_LEN as u64, "pos {pos}: {err}");
            }
        }
    }
}

#[test]
fn future_version_is_rejected_clearly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_, mut bytes) = sample_file(dir.path());
    bytes[8..12].copy_from_slice(&2u32.to_le_bytes());
    let crc = crc32fast::hash(&bytes[..80]);
    bytes[80..84].copy_from_slice(&crc.to_le_bytes());
    let p = write_variant(dir.path(), "v2.snap", &bytes);
    let err = SnapshotReader::open(&p).expect_err("future version");
    assert_eq!(err.kind(), SnapshotErrorKind::UnsupportedVersion);
    assert_eq!(
        err.message(),
        "snapshot format version 2 is newer than this build supports (1)"
    );
    // A v2 file with a different layout: header crc is not even consulted.
    bytes[80] ^= 0xff;
    let p = write_variant(dir.path(), "v2b.snap", &bytes);
    let err = SnapshotReader::open(&p).expect_err("future version");
    assert_eq!(err.kind(), SnapshotErrorKind::UnsupportedVersion);
}

#[test]
fn garbage_is_not_a_snapshot() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut rng = Rng(7);
    for size in [0usize, 1, 8, 83, 84, 200, 10_000, 1 << 20] {
        let p = write_variant(dir.path(), "g.snap", &rng.bytes(size));
        let err = SnapshotReader::open(&p).expect_err("garbage");
        assert_eq!(err.kind(), SnapshotErrorKind::NotSnapshot, "{err}");
        assert!(!is_snapshot(&p));
        // Right magic, garbage after it.
        let mut b = MAGIC.to_vec();
        b.extend(rng.bytes(size));
        let p = write_variant(dir.path(), "g2.snap", &b);
        assert!(SnapshotReader::open(&p).is_err());
        assert!(is_snapshot(&p));
    }
    let missing = dir.path().join("missing.snap");
    let err = SnapshotReader::open(&missing).expect_err("missing");
    assert_eq!(err.kind(), SnapshotErrorKind::Io);
    let io: std::io::Error = err.into();
    assert_eq!(io.kind(), std::io::ErrorKind::NotFound);
}

/// Drains everything a reader offers; must never panic whatever the bytes.
fn exercise(p: &Path) {
    if let Ok(r) = SnapshotReader::open(p) {
        let rep = r.verify();
        assert!(rep.keys_readable <= r.key_count());
        let n = r.iter().take_while(|x| x.is_ok()).count() as u64;
        assert!(n <= r.key_count());
        for i in 0..r.block_count() {
            let _ = r.read_block(i);
        }
    }
}

fn fix_block_crcs(bytes: &mut [u8], blocks: &[BlockIndexEntry]) {
    for b in blocks {
        let (s, e) = (b.offset as usize, (b.offset + u64::from(b.len)) as usize);
        let mut h = crc32fast::Hasher::new();
        h.update(&bytes[s..s + 12]);
        h.update(&bytes[s + 16..e]);
        let crc = h.finalize();
        bytes[s + 12..s + 16].copy_from_slice(&crc.to_le_bytes());
    }
}

#[test]
fn hostile_mutations_never_panic() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, bytes) = sample_file(dir.path());
    let r = SnapshotReader::open(&path).expect("open");
    let blocks = r.blocks().to_vec();
    let idx = r.index_offset() as usize;
    let trailer = bytes.len() - TRAILER_LEN;
    drop(r);
    let mut rng = Rng(99);
    let p = dir.path().join("m.snap");
    for round in 0..600 {
        let mut b = bytes.clone();
        match round % 4 {
            // Random bytes anywhere, crcs left stale.
            0 => {
                for _ in 0..1 + rng.below(4) {
                    let i = rng.below(b.len());
                    b[i] = rng.next() as u8;
                }
            }
            // Block headers or payload rewritten with valid crcs, so the
            // length checks and the decoder see hostile values.
            1 => {
                let blk = &blocks[rng.below(blocks.len())];
                let i = blk.offset as usize + rng.below(blk.len as usize);
                let v = rng.next().to_le_bytes();
                let n = 1 + rng.below(4);
                for (k, byte) in v.iter().take(n).enumerate() {
                    if let Some(x) = b.get_mut(i + k) {
                        *x = *byte;
                    }
                }
                fix_block_crcs(&mut b, &blocks);
            }
            // Index rewritten with a valid index crc.
            2 => {
                let i = idx + rng.below(trailer - 4 - idx);
                b[i] = rng.next() as u8;
                let crc = crc32fast::hash(&b[idx..trailer - 4]);
                b[trailer - 4..trailer].copy_from_slice(&crc.to_le_bytes());
            }
            // Trailer fields rewritten with a valid trailer crc.
            _ => {
                let i = trailer + rng.below(32);
                b[i] = rng.next() as u8;
                let crc = crc32fast::hash(&b[trailer..trailer + 32]);
                b[trailer + 32..trailer + 36].copy_from_slice(&crc.to_le_bytes());
            }
        }
        std::fs::write(&p, &b).expect("write");
        exercise(&p);
    }
}

/// One hand-made block: decompressed payload, the entry count and first
/// key the headers claim, and optional overrides for hostile cases.
struct RawBlock {
    raw: Vec<u8>,
    entries: u32,
    first_key: Vec<u8>,
    claimed_raw_len: Option<u32>,
    payload: Option<Vec<u8>>,
}

fn encode_pairs(pairs: &[(&[u8], &[u8])]) -> Vec<u8> {
    let mut raw = Vec::new();
    for (k, v) in pairs {
        raw.extend_from_slice(&(k.len() as u32).to_le_bytes());
        raw.extend_from_slice(&(v.len() as u32).to_le_bytes());
        raw.extend_from_slice(k);
        raw.extend_from_slice(v);
    }
    raw
}

fn block(pairs: &[(&[u8], &[u8])]) -> RawBlock {
    RawBlock {
        raw: encode_pairs(pairs),
        entries: pairs.len() as u32,
        first_key: pairs.first().map(|p| p.0.to_vec()).unwrap_or_default(),
        claimed_raw_len: None,
        payload: None,
    }
}

/// Builds a file with every crc valid, so only the content checks can
/// catch what the blocks claim.
fn build_file(blocks: &[RawBlock]) -> Vec<u8> {
    use super::format::{encode_header, encode_trailer, Trailer};
    let header = SnapshotHeader {
        version: FORMAT_VERSION,
        replid: REPLID.to_string(),
        start_offset: 1,
        end_offset: 2,
        created_at_ms: 3,
        compression: Compression::Zstd,
    };
    let mut out = encode_header(&header).to_vec();
    let mut index = Vec::new();
    let (mut keys, mut raw_total) = (0u64, 0u64);
    for b in blocks {
        let raw_len = b.claimed_raw_len.unwrap_or(b.raw.len() as u32);
        let payload = b
            .payload
            .clone()
            .unwrap_or_else(|| zstd::bulk::compress(&b.raw, 1).expect("zstd"));
        let offset = out.len() as u64;
        let mut bh = Vec::new();
        bh.extend_from_slice(&raw_len.to_le_bytes());
        bh.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        bh.extend_from_slice(&b.entries.to_le_bytes());
        let mut h = crc32fast::Hasher::new();
        h.update(&bh);
        h.update(&payload);
        bh.extend_from_slice(&h.finalize().to_le_bytes());
        out.extend_from_slice(&bh);
        out.extend_from_slice(&payload);
        index.extend_from_slice(&offset.to_le_bytes());
        index.extend_from_slice(&((16 + payload.len()) as u32).to_le_bytes());
        index.extend_from_slice(&b.entries.to_le_bytes());
        index.extend_from_slice(&raw_len.to_le_bytes());
        index.extend_from_slice(&(b.first_key.len() as u32).to_le_bytes());
        index.extend_from_slice(&b.first_key);
        keys += u64::from(b.entries);
        raw_total += u64::from(raw_len);
    }
    let index_offset = out.len() as u64;
    let crc = crc32fast::hash(&index);
    out.extend_from_slice(&index);
    out.extend_from_slice(&crc.to_le_bytes());
    out.extend_from_slice(&encode_trailer(&Trailer {
        index_offset,
        key_count: keys,
        block_count: blocks.len() as u64,
        raw_bytes: raw_total,
    }));
    out
}

/// Block payloads whose content lies while every crc is valid.
#[test]
fn lying_block_contents_are_rejected() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("lie.snap");
    let ok = || block(&[(b"a", b"1"), (b"b", b"2")]);
    let later = || block(&[(b"m", b"1"), (b"n", b"2")]);

    // The builder itself produces a readable file.
    std::fs::write(&p, build_file(&[ok(), later()])).expect("write");
    let r = SnapshotReader::open(&p).expect("open");
    assert_eq!(read_all(&r).len(), 4);
    drop(r);

    let mut cases: Vec<(&str, Vec<RawBlock>)> = Vec::new();
    let mut b = ok();
    b.raw[0..4].copy_from_slice(&u32::MAX.to_le_bytes());
    cases.push(("exceed", vec![b]));
    let mut b = ok();
    b.raw.extend_from_slice(&[0; 4]);
    b.entries = 3;
    cases.push(("length prefix", vec![b]));
    let mut b = ok();
    b.raw.extend_from_slice(&[0; 9]);
    cases.push(("unused bytes", vec![b]));
    cases.push(("is not after", vec![block(&[(b"b", b"1"), (b"a", b"2")])]));
    cases.push(("is not after", vec![block(&[(b"a", b"1"), (b"a", b"2")])]));
    let mut b = ok();
    b.first_key = b"0".to_vec();
    cases.push(("differs", vec![b]));
    cases.push((
        "next block",
        vec![block(&[(b"a", b""), (b"x", b"")]), later()],
    ));
    let mut b = ok();
    b.claimed_raw_len = Some(b.raw.len() as u32 + 8);
    cases.push(("decompressed to", vec![b]));
    // A small frame that inflates to 1 MiB while the header claims 64 bytes.
    let mut b = ok();
    b.payload = Some(zstd::bulk::compress(&vec![0u8; 1 << 20], 1).expect("zstd"));
    b.claimed_raw_len = Some(64);
    cases.push(("decompression failed", vec![b]));
    let mut b = ok();
    b.payload = Some(b"definitely not zstd".to_vec());
    cases.push(("decompression failed", vec![b]));

    for (want, blocks) in cases {
        std::fs::write(&p, build_file(&blocks)).expect("write");
        let r = SnapshotReader::open(&p).expect("structure is valid");
        let err = r.read_block(0).expect_err(want);
        assert!(err.message().contains(want), "want {want:?}: {err}");
        assert!(err.message().contains("block 0 at offset 84"), "{err}");
        let rep = r.verify();
        assert_eq!(rep.damaged.first().map(|d| d.block), Some(0), "{rep}");
    }

    // Index claims that cannot hold are refused at open.
    let mut b = ok();
    b.entries = 1000; // 1000 entries cannot fit in 20 raw bytes
    std::fs::write(&p, build_file(&[b])).expect("write");
    let err = SnapshotReader::open(&p).expect_err("impossible entry count");
    assert!(err.message().contains("impossible"), "{err}");
    let mut b = ok();
    b.claimed_raw_len = Some(u32::MAX);
    std::fs::write(&p, build_file(&[b])).expect("write");
    assert!(SnapshotReader::open(&p).is_err());
    std::fs::write(&p, build_file(&[later(), ok()])).expect("write");
    let err = SnapshotReader::open(&p).expect_err("unsorted index");
    assert!(err.message().contains("is not after"), "{err}");
}

/// Throughput for 1M pairs of ~30-byte keys and 32-byte values. Run with
/// `cargo test --release -- --ignored --nocapture snapshot_speed`.
#[test]
#[ignore]
fn snapshot_speed() {
    let _ = tracing_subscriber::fmt().with_test_writer().try_init();
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("speed.snap");
    const N: u64 = 1_000_000;
    let mut rng = Rng(1234);
    let pairs: Vec<(Vec<u8>, Vec<u8>)> = (0..N)
        .map(|i| {
            let k = format!("user:session:{i:017}").into_bytes();
            let v = format!("{:016x}{:016x}", rng.next(), i).into_bytes();
            (k, v)
        })
        .collect();
    let t = std::time::Instant::now();
    let mut w = SnapshotWriter::create(&path, REPLID, 0).expect("create");
    for (k, v) in &pairs {
        w.add(k, v).expect("add");
    }
    let info = w.finish(0).expect("finish");
    let write_s = t.elapsed().as_secs_f64();

    let t = std::time::Instant::now();
    let r = SnapshotReader::open(&path).expect("open");
    let mut n = 0u64;
    for p in r.iter() {
        let (k, _v) = p.expect("pair");
        n += k.len() as u64 / k.len().max(1) as u64;
    }
    let read_s = t.elapsed().as_secs_f64();
    assert_eq!(n, N);

    let t = std::time::Instant::now();
    assert!(r.verify().is_ok());
    let verify_s = t.elapsed().as_secs_f64();
    tracing::info!(
        level = COMPRESSION_LEVEL,
        blocks = info.blocks,
        raw_bytes = info.raw_bytes,
        file_bytes = info.file_bytes,
        write_keys_per_s = (N as f64 / write_s) as u64,
        read_keys_per_s = (N as f64 / read_s) as u64,
        verify_keys_per_s = (N as f64 / verify_s) as u64,
        "snapshot speed"
    );
}
