//! HyperLogLog commands (src/command/hyperloglog.rs,
//! src/types/hyperloglog.rs): PFADD, PFCOUNT, PFMERGE, PFDEBUG. Replies,
//! Redis's bytes and error texts are checked against a real redis-server
//! first, then a sledis node (`support::compare`); then a replica, a
//! kill -9. Random sequences and promotion are in tests/differential.rs.

mod support;

use std::time::Duration;
use support::*;

const NOT_HLL: &str = "WRONGTYPE Key is not a valid HyperLogLog string value.";
const CORRUPT: &str = "INVALIDOBJ Corrupted HLL object detected";
const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

fn bytes(b: &[u8]) -> Reply {
    Reply::Bulk(b.to_vec())
}

/// A sparse header: `HYLL`, sparse, the cache (invalid if `stale`).
fn sparse_header(stale: bool) -> Vec<u8> {
    let mut v = b"HYLL\x01\0\0\0\0\0\0\0\0\0\0".to_vec();
    v.push(if stale { 0x80 } else { 0 });
    v
}

#[test]
fn pfadd_pfcount_pfmerge() {
    both(&[], |port, t| {
        let mut c = Resp::connect(port);
        script(
            &mut c,
            t,
            &[
                ("PFCOUNT nokey", int(0)),
                ("PFADD new", int(1)),
                ("PFADD new", int(0)),
                ("PFADD h a b c", int(1)),
                ("PFADD h a", int(0)),
                ("PFADD h", int(0)),
                ("PFCOUNT h", int(3)),
                ("PFADD h2 c d e", int(1)),
                ("PFCOUNT h h2", int(5)),
                ("PFCOUNT h h2 nokey", int(5)),
                ("PFMERGE m h h2", ok()),
                ("PFCOUNT m", int(5)),
                ("PFMERGE e", ok()),
                ("PFCOUNT e", int(0)),
                ("PFDEBUG ENCODING h", st("sparse")),
                (
                    "PFDEBUG DECODE h",
                    bulk("Z:8436 v:1,1 Z:4274 v:2,1 Z:3068 v:1,1 Z:603"),
                ),
                ("PFDEBUG TODENSE h", int(1)),
                ("PFDEBUG TODENSE h", int(0)),
                ("PFDEBUG ENCODING h", st("dense")),
                ("PFDEBUG DECODE h", err("ERR HLL encoding is not sparse")),
                ("STRLEN h", int(12304)),
                ("PFCOUNT h", int(3)),
                // A dense source makes the destination dense.
                ("PFMERGE m h", ok()),
                ("PFDEBUG ENCODING m", st("dense")),
                ("PFCOUNT m", int(5)),
                // The key is checked before the subcommand.
                (
                    "PFDEBUG FOO nokey",
                    err("ERR The specified key does not exist"),
                ),
                ("PFDEBUG FOO h", err("ERR Unknown PFDEBUG subcommand 'FOO'")),
                ("PFDEBUG GETREG", arity("pfdebug")),
                ("PFADD", arity("pfadd")),
                ("PFCOUNT", arity("pfcount")),
                ("PFMERGE", arity("pfmerge")),
            ],
        );
        // Redis's own bytes: a new HLL, and the cache a count writes back.
        let mut fresh = sparse_header(true);
        fresh.extend_from_slice(&[0x7f, 0xff]);
        assert_eq!(c.qs("PFADD z"), int(1));
        assert_eq!(c.qs("GET z"), bytes(&fresh), "[{t:?}]");
        assert_eq!(c.qs("PFCOUNT z"), int(0));
        fresh[15] = 0;
        assert_eq!(c.qs("GET z"), bytes(&fresh), "[{t:?}]");
        assert_eq!(c.qs("PFCOUNT h2"), int(3));
        let cached = c.qs("GET h2");
        let Reply::Bulk(v) = &cached else {
            panic!("[{t:?}] {cached:?}")
        };
        assert_eq!(&v[8..16], &[3, 0, 0, 0, 0, 0, 0, 0], "[{t:?}]");
    });
}

#[test]
fn wrong_types_and_corrupt_values() {
    both(&[], |port, t| {
        let mut c = Resp::connect(port);
        script(
            &mut c,
            t,
            &[
                ("SET s hello", ok()),
                ("PFADD s a", err(NOT_HLL)),
                ("PFCOUNT s", err(NOT_HLL)),
                ("PFCOUNT nokey s", err(NOT_HLL)),
                ("PFMERGE s", err(NOT_HLL)),
                ("PFMERGE d s", err(NOT_HLL)),
                ("EXISTS d", int(0)),
                ("PFDEBUG ENCODING s", err(NOT_HLL)),
                ("RPUSH l a", int(1)),
                ("PFADD l a", err(WRONGTYPE)),
                ("PFCOUNT l", err(WRONGTYPE)),
                ("PFMERGE d l", err(WRONGTYPE)),
                ("PFDEBUG GETREG l", err(WRONGTYPE)),
            ],
        );
        // A header with an unknown encoding, a dense one of the wrong size.
        let mut bad = b"HYLL\x02".to_vec();
        bad.extend_from_slice(&[0; 11]);
        assert_eq!(c.q(&[&b"SET"[..], b"x", &bad]), ok());
        assert_eq!(c.qs("PFCOUNT x"), err(NOT_HLL), "[{t:?}]");
        let mut short = b"HYLL\x00".to_vec();
        short.extend_from_slice(&[0; 100]);
        assert_eq!(c.q(&[&b"SET"[..], b"x", &short]), ok());
        assert_eq!(c.qs("PFADD x a"), err(NOT_HLL), "[{t:?}]");
        // A valid header over opcodes that do not cover 16384 registers.
        let mut corrupt = sparse_header(true);
        corrupt.extend_from_slice(&[0x7f, 0x00, 0x81]);
        assert_eq!(c.q(&[&b"SET"[..], b"y", &corrupt]), ok());
        for line in [
            "PFCOUNT y",
            "PFCOUNT y nokey",
            "PFMERGE y",
            "PFDEBUG TODENSE y",
        ] {
            assert_eq!(c.qs(line), err(CORRUPT), "[{t:?}] {line}");
        }
        // Opcodes running past the last register (Redis 7.0.15 as Debian
        // builds it, with the CVE-2025-32023 fix): corrupt everywhere.
        let mut over = sparse_header(true);
        over.extend_from_slice(&[0x7f, 0xff, 0x88]);
        assert_eq!(c.q(&[&b"SET"[..], b"y", &over]), ok());
        for line in [
            "PFCOUNT y",
            "PFCOUNT y nokey",
            "PFMERGE d y",
            "PFDEBUG GETREG y",
        ] {
            assert_eq!(c.qs(line), err(CORRUPT), "[{t:?}] {line}");
        }
        // Opcodes that cover only registers 0..8191: "d" (register 7292)
        // is added, then "a" (register 12711) fails; what was added stays.
        let mut half = sparse_header(false);
        half.extend_from_slice(&[0x5f, 0xff]);
        assert_eq!(c.q(&[&b"SET"[..], b"half", &half]), ok());
        assert_eq!(c.qs("PFADD half d a"), err(CORRUPT), "[{t:?}]");
        let decoded = c.qs("PFDEBUG DECODE half").text();
        assert!(decoded.starts_with("Z:7292 v:"), "[{t:?}] {decoded}");
        assert!(decoded.ends_with(",1 Z:899"), "[{t:?}] {decoded}");
        let Reply::Bulk(v) = c.qs("GET half") else {
            panic!("[{t:?}] GET half")
        };
        assert_eq!(v[15], 0x80, "[{t:?}] the cache is stale");
        // Truncated: an XZERO cut after its first byte.
        let mut cut = sparse_header(true);
        cut.push(0x7f);
        assert_eq!(c.q(&[&b"SET"[..], b"y", &cut]), ok());
        assert_eq!(c.qs("PFCOUNT y"), err(CORRUPT), "[{t:?}]");
        assert_eq!(c.qs("PING"), st("PONG"));
    });
}

/// `hll-sparse-max-bytes` is a live directive: a small one promotes early.
#[test]
fn sparse_max_bytes_promotes() {
    both(&[], |port, t| {
        let mut c = Resp::connect(port);
        assert_eq!(c.qs("CONFIG SET hll-sparse-max-bytes 40"), ok());
        assert_eq!(
            c.qs("CONFIG GET hll-sparse-max-bytes"),
            bulks(&["hll-sparse-max-bytes", "40"])
        );
        assert_eq!(c.qs("PFADD p a b c d e"), int(1));
        assert_eq!(c.qs("PFDEBUG ENCODING p"), st("sparse"), "[{t:?}]");
        let more: Vec<String> = (0..20).map(|i| format!("x{i}")).collect();
        let mut args = vec!["PFADD".to_string(), "p".into()];
        args.extend(more);
        assert_eq!(c.q(&args), int(1));
        assert_eq!(c.qs("PFDEBUG ENCODING p"), st("dense"), "[{t:?}]");
        assert_eq!(c.qs("PFCOUNT p"), int(25), "[{t:?}]");
    });
}

#[test]
fn pfselftest_is_not_offered() {
    let n = Node::start(&[]);
    let mut c = Resp::connect(n.port);
    assert_eq!(
        c.qs("PFSELFTEST"),
        err("ERR unknown command 'PFSELFTEST', with args beginning with: ")
    );
}

fn add_many(c: &mut Resp, key: &str, from: usize, n: usize) {
    let mut args = vec!["PFADD".to_string(), key.to_string()];
    args.extend((from..from + n).map(|i| format!("el:{i}")));
    c.q(&args);
}

#[test]
fn a_replica_gets_hyperloglogs() {
    let (m, replicas) = replicated_group(1);
    let r = &replicas[0];
    let mut mc = Resp::connect(m.port);
    add_many(&mut mc, "sparse", 0, 100);
    add_many(&mut mc, "dense", 0, 5000);
    assert_eq!(mc.qs("PFDEBUG ENCODING dense"), st("dense"));
    assert_eq!(mc.qs("PFMERGE merged sparse dense"), ok());
    let count = mc.qs("PFCOUNT merged");
    wait_synced(r, &m);
    let mut rc = Resp::connect(r.port);
    for k in ["sparse", "dense", "merged"] {
        assert_eq!(rc.q(&["GET", k]), mc.q(&["GET", k]), "{k}");
    }
    // The master's PFCOUNT wrote the cache, the replica has it.
    assert_eq!(rc.qs("PFCOUNT merged"), count);
    // A replica counts a stale cache without writing.
    assert_eq!(rc.qs("PFCOUNT sparse"), mc.qs("PFCOUNT sparse"));
    assert_eq!(rc.qs("PFCOUNT sparse dense"), mc.qs("PFCOUNT sparse dense"));
    assert_eq!(
        rc.qs("PFADD sparse x"),
        err("READONLY You can't write against a read only replica.")
    );
}

#[test]
fn hyperloglogs_survive_kill9() {
    let mut n = Node::start(&["appendfsync always"]);
    let mut c = Resp::connect(n.port);
    add_many(&mut c, "s", 0, 300);
    add_many(&mut c, "d", 0, 6000);
    let (s, d) = (c.qs("GET s"), c.qs("GET d"));
    let (cs, cd) = (c.qs("PFCOUNT s"), c.qs("PFCOUNT d"));
    n.kill9();
    n.launch();
    let mut c = Resp::connect(n.port);
    c.set_timeout(Duration::from_secs(10));
    assert_eq!(c.qs("PFCOUNT s"), cs);
    assert_eq!(c.qs("PFCOUNT d"), cd);
    // The caches the counts wrote came back too.
    assert_ne!(c.qs("GET s"), s);
    assert_eq!(c.qs("PFDEBUG ENCODING d"), st("dense"));
    assert_eq!(c.qs("PFADD d el:1"), int(0));
    let Reply::Bulk(v) = c.qs("GET d") else {
        panic!("GET d")
    };
    let Reply::Bulk(old) = d else { panic!("old d") };
    assert_eq!(v[16..], old[16..]);
    assert_eq!(v[15] & 0x80, 0, "the cache is valid after PFCOUNT");
}
