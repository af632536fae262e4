//! Bitmap commands (src/command/bitmap.rs, src/types/bitmap.rs): SETBIT,
//! GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD, BITFIELD_RO. Replies and
//! exact error texts are checked against a real redis-server first, then a
//! sledis node (`support::compare`); then what only sledis can show: the
//! offset guard's allocations, a replica, a kill -9.

mod support;

use std::time::Duration;
use support::*;

const OFFSET: &str = "ERR bit offset is not an integer or out of range";
const BIT: &str = "ERR bit is not an integer or out of range";
const FIELD_TYPE: &str =
    "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.";
const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

fn bytes(b: &[u8]) -> Reply {
    Reply::Bulk(b.to_vec())
}

fn ints(v: &[i64]) -> Reply {
    arr(v.iter().map(|&n| int(n)).collect())
}

#[test]
fn setbit_getbit_bitcount_bitpos() {
    both(&[], |port, t| {
        let mut c = Resp::connect(port);
        script(
            &mut c,
            t,
            &[
                ("GETBIT nokey 0", int(0)),
                ("SETBIT b 7 1", int(0)),
                ("SETBIT b 7 1", int(1)),
                ("SETBIT b 7 0", int(1)),
                ("SETBIT b 9 1", int(0)),
                ("GET b", bytes(b"\x00\x40")),
                ("GETBIT b 9", int(1)),
                ("GETBIT b 100000", int(0)),
                ("STRLEN b", int(2)),
                // Offsets and bit values, Redis's texts.
                ("SETBIT b -1 1", err(OFFSET)),
                ("SETBIT b x 1", err(OFFSET)),
                ("SETBIT b 4294967296 1", err(OFFSET)),
                ("GETBIT b 4294967296", err(OFFSET)),
                ("SETBIT b 1 2", err(BIT)),
                ("SETBIT b 1 -1", err(BIT)),
                ("SETBIT b 1 x", err(BIT)),
                // The offset is checked before the key's type.
                ("RPUSH l a", int(1)),
                ("SETBIT l x 1", err(OFFSET)),
                ("SETBIT l 1 1", err(WRONGTYPE)),
                ("GETBIT l 1", err(WRONGTYPE)),
                ("BITCOUNT l", err(WRONGTYPE)),
                ("BITPOS l 1", err(WRONGTYPE)),
                // BITCOUNT: a missing key is 0 whatever follows.
                ("SET s foobar", ok()),
                ("BITCOUNT nokey x y z", int(0)),
                ("BITCOUNT s", int(26)),
                ("BITCOUNT s 1 1", int(6)),
                ("BITCOUNT s 1 1 BYTE", int(6)),
                ("BITCOUNT s 5 30 BIT", int(17)),
                ("BITCOUNT s -3 -1 bit", int(1)),
                ("BITCOUNT s -1 -3", int(0)),
                ("BITCOUNT s -1 -3 NOPE", int(0)),
                ("BITCOUNT s 0 1 NOPE", err(SYNTAX)),
                ("BITCOUNT s 0", err(SYNTAX)),
                ("BITCOUNT s 0 1 BIT x", err(SYNTAX)),
                ("BITCOUNT s x 1", err(NOT_INT)),
                // BITPOS.
                ("BITPOS nokey 1", int(-1)),
                ("BITPOS nokey 0", int(0)),
                ("BITPOS s 2", err("ERR The bit argument must be 1 or 0.")),
                ("BITPOS s x", err(NOT_INT)),
                ("BITPOS s 1", int(1)),
                ("BITPOS s 0", int(0)),
                ("BITPOS s 1 2", int(17)),
                ("BITPOS s 1 2 -1 BIT", int(2)),
                ("BITPOS s 1 7 15 BIT", int(9)),
                ("BITPOS s 1 2 x BIT", err(NOT_INT)),
                ("BITPOS s 1 2 3 BITS", err(SYNTAX)),
                ("BITPOS s 1 2 3 BIT x", err(SYNTAX)),
                ("BITFIELD ff SET u8 0 255", ints(&[0])),
                ("GET ff", bytes(b"\xff")),
                // All ones: the first 0 is past the end, unless an end
                // was given.
                ("BITPOS ff 0", int(8)),
                ("BITPOS ff 0 0", int(8)),
                ("BITPOS ff 0 0 -1", int(-1)),
                ("BITPOS ff 0 3 -1 BIT", int(-1)),
                ("BITPOS ff 1 9 -1 BIT", int(-1)),
                // Without an end, BIT is read as the end.
                ("BITPOS ff 0 3 BIT", err(NOT_INT)),
            ],
        );
    });
}

#[test]
fn bitop_combines_and_replaces() {
    both(&[], |port, t| {
        let mut c = Resp::connect(port);
        script(
            &mut c,
            t,
            &[
                ("SET a abc", ok()),
                ("SET b xy", ok()),
                ("BITOP AND d a b", int(3)),
                ("GET d", bytes(b"``\0")),
                ("BITOP OR d a b", int(3)),
                ("GET d", bytes(b"y{c")),
                ("BITOP XOR d a b nokey", int(3)),
                ("GET d", bytes(b"\x19\x1bc")),
                ("BITOP NOT d b", int(2)),
                ("GET d", bytes(b"\x87\x86")),
                (
                    "BITOP not d a b",
                    err("ERR BITOP NOT must be called with a single source key."),
                ),
                ("BITOP NOR d a", err(SYNTAX)),
                // The destination may hold any type and loses its TTL.
                ("RPUSH l x", int(1)),
                ("BITOP AND d a l", err(WRONGTYPE)),
                ("BITOP OR l a", int(3)),
                ("TYPE l", st("string")),
                ("EXPIRE l 100", int(1)),
                ("BITOP OR l a", int(3)),
                ("TTL l", int(-1)),
                // An empty result deletes the destination.
                ("BITOP AND l nokey other", int(0)),
                ("EXISTS l", int(0)),
            ],
        );
    });
}

#[test]
fn bitfield_get_set_incrby_overflow() {
    both(&[], |port, t| {
        let mut c = Resp::connect(port);
        script(
            &mut c,
            t,
            &[
                ("BITFIELD nokey", arr(vec![])),
                ("BITFIELD nokey GET u8 0", ints(&[0])),
                ("EXISTS nokey", int(0)),
                (
                    "BITFIELD f SET u8 0 255 GET u8 0 INCRBY u8 0 10",
                    ints(&[0, 255, 9]),
                ),
                (
                    "BITFIELD f OVERFLOW SAT INCRBY u8 0 300 OVERFLOW FAIL INCRBY u8 0 1",
                    arr(vec![int(255), Reply::Nil]),
                ),
                (
                    "BITFIELD f SET i8 #1 -100 GET i8 #1 INCRBY i8 #1 -100",
                    ints(&[0, -100, 56]),
                ),
                ("BITFIELD f OVERFLOW SAT INCRBY i8 #1 -300", ints(&[-128])),
                (
                    "BITFIELD f SET i64 0 -1 GET u63 0 GET i64 0",
                    ints(&[-36028797018963968, i64::MAX, -1]),
                ),
                (
                    "BITFIELD f OVERFLOW WRAP INCRBY i64 0 9223372036854775807",
                    ints(&[i64::MAX - 1]),
                ),
                (
                    "BITFIELD f OVERFLOW SAT SET u8 0 -1 SET i8 0 -9223372036854775808 GET i8 0",
                    ints(&[127, -1, 127]),
                ),
                // Types, offsets, values, subcommands.
                ("BITFIELD f GET u64 0", err(FIELD_TYPE)),
                ("BITFIELD f GET i65 0", err(FIELD_TYPE)),
                ("BITFIELD f GET I8 0", err(FIELD_TYPE)),
                ("BITFIELD f GET i0 0", err(FIELD_TYPE)),
                ("BITFIELD f GET u8 -1", err(OFFSET)),
                ("BITFIELD f GET u8 #x", err(OFFSET)),
                ("BITFIELD f GET u8 #536870912", err(OFFSET)),
                ("BITFIELD f GET u8 #536870911", ints(&[0])),
                ("BITFIELD f SET u8 0 x", err(NOT_INT)),
                ("BITFIELD f SET u8 0", err(SYNTAX)),
                ("BITFIELD f FOO u8 0", err(SYNTAX)),
                (
                    "BITFIELD f OVERFLOW FOO",
                    err("ERR Invalid OVERFLOW type specified"),
                ),
                // An error anywhere: nothing runs.
                ("BITFIELD f SET u8 0 7 GET u65 0", err(FIELD_TYPE)),
                ("BITFIELD f GET u8 0", ints(&[127])),
                // FAIL on a new key still creates it, grown to the field.
                (
                    "BITFIELD g OVERFLOW FAIL INCRBY u8 16 1000",
                    arr(vec![Reply::Nil]),
                ),
                ("GET g", bytes(b"\0\0\0")),
                ("BITFIELD_RO f GET u8 0 GET i4 #1", ints(&[127, -1])),
                (
                    "BITFIELD_RO f SET u8 0 1",
                    err("ERR BITFIELD_RO only supports the GET subcommand"),
                ),
                ("RPUSH l x", int(1)),
                ("BITFIELD l GET u8 0", err(WRONGTYPE)),
                ("BITFIELD_RO l GET u8 0", err(WRONGTYPE)),
                ("BITFIELD l SET u8 x 0", err(OFFSET)),
            ],
        );
    });
}

/// The offset guard follows `proto-max-bulk-len`, before anything is
/// allocated; a 1 MB limit keeps the strings small.
#[test]
fn offsets_are_bounded_by_proto_max_bulk_len() {
    both(&[], |port, t| {
        let mut c = Resp::connect(port);
        script(
            &mut c,
            t,
            &[
                ("CONFIG SET proto-max-bulk-len 1mb", ok()),
                ("SETBIT b 8388608 1", err(OFFSET)),
                ("SETBIT b 8388607 1", int(0)),
                ("STRLEN b", int(1048576)),
                ("BITFIELD b SET u8 #1048576 1", err(OFFSET)),
                ("BITFIELD b SET u1 8388607 0 GET u1 8388607", ints(&[1, 0])),
                ("BITFIELD c SET u63 8388600 1", ints(&[0])),
                ("STRLEN c", int(1048583)),
                ("BITCOUNT b", int(0)),
                ("BITPOS b 0 -1", int(8388600)),
            ],
        );
    });
}

#[test]
fn huge_offsets_are_refused_without_allocating() {
    let n = Node::start(&[]);
    let mut c = Resp::connect(n.port);
    for line in [
        "SETBIT k 4294967296 1",
        "SETBIT k 99999999999999999999 1",
        "SETBIT k 9223372036854775807 1",
        "BITFIELD k SET i64 #9223372036854775807 1",
        "BITFIELD k SET u8 4294967296 1",
        "BITFIELD k INCRBY u8 #536870912 1",
    ] {
        assert_eq!(c.qs(line), err(OFFSET), "{line}");
    }
    assert_eq!(c.qs("EXISTS k"), int(0));
    // The server is fine and small.
    assert_eq!(c.qs("PING"), st("PONG"));
}

#[test]
fn a_replica_gets_bitmap_writes() {
    let (m, replicas) = replicated_group(1);
    let r = &replicas[0];
    let mut mc = Resp::connect(m.port);
    assert_eq!(mc.qs("SETBIT bm 100 1"), int(0));
    assert_eq!(mc.qs("SETBIT bm 3 1"), int(0));
    assert_eq!(
        mc.qs("BITFIELD bf SET u16 0 513 INCRBY i8 16 -3"),
        ints(&[0, -3])
    );
    assert_eq!(mc.qs("BITOP XOR bx bm bf"), int(13));
    wait_synced(r, &m);
    let mut rc = Resp::connect(r.port);
    for k in ["bm", "bf", "bx"] {
        assert_eq!(rc.q(&["GET", k]), mc.q(&["GET", k]), "{k}");
    }
    assert_eq!(rc.qs("GETBIT bm 100"), int(1));
    assert_eq!(rc.qs("BITCOUNT bm"), int(2));
    assert_eq!(rc.qs("BITFIELD_RO bf GET u16 0"), ints(&[513]));
    // A read-only replica refuses the writes.
    assert_eq!(
        rc.qs("SETBIT bm 1 1"),
        err("READONLY You can't write against a read only replica.")
    );
}

#[test]
fn bitmaps_survive_kill9() {
    let mut n = Node::start(&["appendfsync always"]);
    let mut c = Resp::connect(n.port);
    for i in 0..200 {
        assert_eq!(c.q(&["SETBIT", "bm", &(i * 37).to_string(), "1"]), int(0));
    }
    assert_eq!(
        c.qs("BITFIELD bf SET i32 #3 -123456 INCRBY u4 0 9"),
        ints(&[0, 9])
    );
    let before = c.qs("GET bm");
    let bf = c.qs("GET bf");
    n.kill9();
    n.launch();
    let mut c = Resp::connect(n.port);
    c.set_timeout(Duration::from_secs(10));
    assert_eq!(c.qs("GET bm"), before);
    assert_eq!(c.qs("BITCOUNT bm"), int(200));
    assert_eq!(c.qs("GET bf"), bf);
    assert_eq!(c.qs("BITFIELD_RO bf GET i32 #3"), ints(&[-123456]));
}
