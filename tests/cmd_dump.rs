//! DUMP and RESTORE against a real redis-server in the same test: payloads
//! dumped by Redis 7.0 restore into sledis and the other way round, for
//! every type, small and beyond the listpack limits; older encodings
//! (ziplist, zipmap, quicklist of ziplists, text scores) built by hand;
//! RESTORE's options and errors answered as Redis answers them; corrupt
//! payloads refused without a key; a restored key on a replica, on a
//! chained replica and after kill -9.

mod support;
use support::*;

// ------------------------------------------------------------ helpers

/// Redis's crc64 (Jones, reflected), to build payloads by hand.
fn crc64(data: &[u8]) -> u64 {
    const POLY: u64 = 0x95ac_9329_ac4b_c9b5;
    let mut crc = 0u64;
    for &b in data {
        crc ^= b as u64;
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ POLY
            } else {
                crc >> 1
            };
        }
    }
    crc
}

/// An object body with a version and a correct CRC after it.
fn payload_v(body: &[u8], version: u16) -> Vec<u8> {
    let mut p = body.to_vec();
    p.extend_from_slice(&version.to_le_bytes());
    let c = crc64(&p);
    p.extend_from_slice(&c.to_le_bytes());
    p
}

fn payload(body: &[u8]) -> Vec<u8> {
    payload_v(body, 10)
}

/// RESTORE key ttl payload [options].
fn restore(c: &mut Resp, key: &str, ttl: &str, p: &[u8], opts: &[&str]) -> Reply {
    let mut a: Vec<&[u8]> = vec![b"RESTORE", key.as_bytes(), ttl.as_bytes(), p];
    a.extend(opts.iter().map(|o| o.as_bytes()));
    c.q(&a)
}

fn bytes(r: Reply) -> Vec<u8> {
    match r {
        Reply::Bulk(b) => b,
        other => panic!("expected a bulk, got {other:?}"),
    }
}

fn sorted(mut v: Vec<Reply>) -> Vec<Reply> {
    v.sort_by_key(|x| format!("{x:?}"));
    v
}

/// A key's value in Redis terms (order kept where the type has one), and
/// its type.
fn content(c: &mut Resp, key: &str) -> (String, Reply) {
    let t = c.q(&["TYPE", key]).text();
    let v = match t.as_str() {
        "string" => c.q(&["GET", key]),
        "list" => c.q(&["LRANGE", key, "0", "-1"]),
        "set" => Reply::Array(sorted(c.q(&["SMEMBERS", key]).items().to_vec())),
        "hash" => {
            let flat = c.q(&["HGETALL", key]).items().to_vec();
            let pairs: Vec<Reply> = flat.chunks(2).map(|p| Reply::Array(p.to_vec())).collect();
            Reply::Array(sorted(pairs))
        }
        "zset" => c.q(&["ZRANGE", key, "0", "-1", "WITHSCORES"]),
        _ => Reply::Nil,
    };
    (t, v)
}

/// The same data in both servers: every type, small (listpack, intset,
/// integer and short strings) and big (past every listpack limit, values
/// of 200 bytes, LZF-compressible strings).
fn fill(c: &mut Resp) {
    let q = |c: &mut Resp, args: Vec<String>| {
        let r = c.q(&args);
        assert!(!r.is_error(), "{args:?}: {r:?}");
    };
    let s = |x: &str| x.to_string();
    q(c, vec![s("SET"), s("s"), s("hello")]);
    q(c, vec![s("SET"), s("n8"), s("-12")]);
    q(c, vec![s("SET"), s("n16"), s("12345")]);
    q(c, vec![s("SET"), s("n32"), s("-70000")]);
    q(c, vec![s("SET"), s("n64"), s("9223372036854775807")]);
    q(c, vec![s("SET"), s("lzf"), "abc".repeat(100)]);
    q(c, vec![s("SET"), s("empty"), s("")]);
    q(c, vec![s("SETBIT"), s("bitmap"), s("10000"), s("1")]);
    let mut pf = vec![s("PFADD"), s("hll")];
    pf.extend((0..2000).map(|i| format!("e{i}")));
    q(c, pf);
    q(c, vec![s("PFADD"), s("hll_sparse"), s("a"), s("b"), s("c")]);
    q(
        c,
        vec![
            s("RPUSH"),
            s("list"),
            s("a"),
            s("b"),
            s("1"),
            s("300"),
            s("70000"),
            s("-5"),
        ],
    );
    let mut l = vec![s("RPUSH"), s("list_big")];
    l.extend((0..1000).map(|i| format!("{i:0200}")));
    q(c, l);
    let mut l = vec![s("RPUSH"), s("list_ints")];
    l.extend((0..3000).map(|i| (i * 7919 - 10_000_000i64).to_string()));
    q(c, l);
    q(
        c,
        vec![
            s("SADD"),
            s("intset"),
            s("3"),
            s("-1"),
            s("70000"),
            s("5000000000"),
        ],
    );
    q(c, vec![s("SADD"), s("set"), s("a"), s("b"), s("c")]);
    let mut st = vec![s("SADD"), s("set_ints_big")];
    st.extend((0..1000).map(|i| i.to_string()));
    q(c, st);
    let mut st = vec![s("SADD"), s("set_big")];
    st.extend((0..1000).map(|i| format!("{i:0200}")));
    q(c, st);
    q(
        c,
        vec![
            s("HSET"),
            s("hash"),
            s("a"),
            s("1"),
            s("b"),
            s("x"),
            s("c"),
            s("-300"),
        ],
    );
    let mut h = vec![s("HSET"), s("hash_big")];
    for i in 0..1000 {
        h.push(format!("f{i}"));
        h.push(format!("{i:0200}"));
    }
    q(c, h);
    q(c, vec![s("HSET"), s("hash_long"), s("f"), "v".repeat(65)]);
    q(
        c,
        vec![
            s("ZADD"),
            s("zset"),
            s("1.5"),
            s("a"),
            s("2"),
            s("b"),
            s("0.1"),
            s("c"),
            s("-inf"),
            s("d"),
            s("inf"),
            s("e"),
            s("1e20"),
            s("f"),
        ],
    );
    let mut z = vec![s("ZADD"), s("zset_big")];
    for i in 0..1000 {
        z.push(format!("{}", i as f64 * 0.25 - 100.0));
        z.push(format!("m{i:0200}"));
    }
    q(c, z);
    q(c, vec![s("ZADD"), s("zset_long"), s("1"), "m".repeat(65)]);
    // Converted, then shrunk: still big in Redis, so DUMP writes the big
    // type; restored, the value is small again by its content.
    let mut z = vec![s("ZADD"), s("zset_shrunk")];
    for i in 0..200 {
        z.push(format!("{i}"));
        z.push(format!("m{i}"));
    }
    q(c, z);
    q(
        c,
        vec![s("ZREMRANGEBYRANK"), s("zset_shrunk"), s("4"), s("-1")],
    );
    q(c, vec![s("SADD"), s("set_shrunk"), s("1"), s("2"), s("a")]);
    q(c, vec![s("SREM"), s("set_shrunk"), s("a")]);
    q(c, vec![s("SET"), s("s_raw"), s("ab")]);
    q(c, vec![s("APPEND"), s("s_raw"), s("c")]);
}

/// Keys whose Redis encoding does not depend on insertion or hash order:
/// DUMP gives Redis's bytes exactly.
const SAME_BYTES: &[&str] = &[
    "s",
    "n8",
    "n16",
    "n32",
    "n64",
    "lzf",
    "empty",
    "bitmap",
    "hll",
    "hll_sparse",
    "list",
    "list_big",
    "list_ints",
    "intset",
    "hash",
    "hash_long",
    "zset",
    "zset_big",
    "zset_long",
    "zset_shrunk",
    "s_raw",
];
/// Keys Redis keeps in a hash table (or a listpack in insertion order):
/// the payloads differ in element order only.
const SAME_CONTENT: &[&str] = &["set", "set_ints_big", "set_big", "hash_big", "set_shrunk"];

// -------------------------------------------------------------- tests

#[test]
fn payloads_move_both_ways_between_redis_and_sledis() {
    let redis = RealRedis::start(&[]);
    let node = Node::start(&[]);
    let mut r = Resp::connect(redis.port);
    let mut s = Resp::connect(node.port);
    fill(&mut r);
    fill(&mut s);
    for &key in SAME_BYTES.iter().chain(SAME_CONTENT) {
        let from_redis = bytes(r.q(&["DUMP", key]));
        let from_sledis = bytes(s.q(&["DUMP", key]));
        if SAME_BYTES.contains(&key) {
            assert!(
                from_redis == from_sledis,
                "{key}: DUMP differs from Redis's bytes"
            );
        }
        let copy = format!("copy:{key}");
        assert_eq!(
            restore(&mut s, &copy, "0", &from_redis, &[]),
            ok(),
            "{key} into sledis"
        );
        assert_eq!(
            content(&mut s, &copy),
            content(&mut r, key),
            "{key}: Redis's payload in sledis"
        );
        let enc = |c: &mut Resp, k: &str| c.q(&["OBJECT", "ENCODING", k]);
        assert_eq!(enc(&mut s, key), enc(&mut r, key), "{key}: encoding");
        assert_eq!(
            restore(&mut r, &copy, "0", &from_sledis, &[]),
            ok(),
            "{key} into Redis"
        );
        assert_eq!(
            content(&mut r, &copy),
            content(&mut s, key),
            "{key}: sledis's payload in Redis"
        );
        // Restored values take their encoding from their content.
        assert_eq!(enc(&mut s, &copy), enc(&mut r, &copy), "{key}: restored");
        // And back again: what Redis made of sledis's payload dumps the same.
        let again = bytes(r.q(&["DUMP", &copy]));
        let back = format!("back:{key}");
        assert_eq!(restore(&mut s, &back, "0", &again, &[]), ok());
        assert_eq!(
            content(&mut s, &back),
            content(&mut s, key),
            "{key}: round trip"
        );
    }
    assert_eq!(s.q(&["DUMP", "nosuchkey"]), Reply::Nil);
    // An HLL restored into Redis is a working HLL with the same count.
    let count = r.q(&["PFCOUNT", "hll"]);
    assert_eq!(r.q(&["PFCOUNT", "copy:hll"]), count);
    assert_eq!(s.q(&["PFCOUNT", "copy:hll"]), count);
    assert_eq!(r.q(&["PFADD", "copy:hll", "new-element"]), Reply::Int(1));
    assert_eq!(
        s.q(&["PFCOUNT", "copy:hll_sparse"]),
        r.q(&["PFCOUNT", "hll_sparse"])
    );
    assert_eq!(s.q(&["GETBIT", "copy:bitmap", "10000"]), Reply::Int(1));
}

/// Encodings Redis 7.0 no longer writes but still reads, built by hand:
/// both servers restore them alike.
#[test]
fn older_encodings_restore_as_in_redis() {
    let ziplist = |entries: &[&[u8]]| -> Vec<u8> {
        let mut body = Vec::new();
        let mut prev = 0usize;
        let mut tail = 10;
        for e in entries {
            tail = 10 + body.len();
            body.push(prev as u8);
            body.extend_from_slice(e);
            prev = 1 + e.len();
        }
        let mut z = Vec::new();
        z.extend_from_slice(&((10 + body.len() + 1) as u32).to_le_bytes());
        z.extend_from_slice(&(tail as u32).to_le_bytes());
        z.extend_from_slice(&(entries.len() as u16).to_le_bytes());
        z.extend_from_slice(&body);
        z.push(0xff);
        z
    };
    let blob = |t: u8, b: &[u8]| -> Vec<u8> {
        let mut v = vec![t];
        assert!(b.len() < 64);
        v.push(b.len() as u8);
        v.extend_from_slice(b);
        v
    };
    // Ziplist entries: "a", 1 (immediate), 300 (int16), "hello", 2.5 as text.
    let zl_list = ziplist(&[b"\x01a", b"\xf2", b"\xc0\x2c\x01", b"\x05hello"]);
    let zl_hash = ziplist(&[b"\x01f", b"\x01v", b"\x02f2", b"\xfe\x07"]);
    let zl_zset = ziplist(&[b"\x01b", b"\xf2", b"\x01a", b"\x032.5"]);
    let zipmap = b"\x02\x01a\x02\x00xy\x02bb\x01\x02z\x00\x00\xff".to_vec();
    let mut quicklist = vec![14u8, 2];
    for z in [&zl_list, &ziplist(&[b"\x04tail"])] {
        quicklist.push(z.len() as u8);
        quicklist.extend_from_slice(z);
    }
    let mut ql2_plain = vec![18u8, 1, 1];
    ql2_plain.extend_from_slice(b"\x0bplain value");
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("list_plain", b"\x01\x03\x01a\xc0\x07\x03xyz".to_vec()),
        ("list_ziplist", blob(10, &zl_list)),
        ("list_quicklist", quicklist),
        ("list_quicklist2_plain", ql2_plain),
        ("set_plain", b"\x02\x02\x01a\xc1\x39\x30".to_vec()),
        ("hash_plain", b"\x04\x01\x01f\xc2\x00\x00\x01\x00".to_vec()),
        ("hash_zipmap", blob(9, &zipmap)),
        ("hash_ziplist", blob(13, &zl_hash)),
        (
            "zset_text",
            b"\x03\x03\x01a\x031.5\x01b\xfe\x01c\xff".to_vec(),
        ),
        ("zset_ziplist", blob(12, &zl_zset)),
        // A 14-bit, a 32-bit and a 64-bit length for small strings.
        ("len14", b"\x00\x40\x03abc".to_vec()),
        ("len32", b"\x00\x80\x00\x00\x00\x03abc".to_vec()),
        (
            "len64",
            b"\x00\x81\x00\x00\x00\x00\x00\x00\x00\x03abc".to_vec(),
        ),
        // LZF: "aaaaaaaaaa" as one literal and a back reference.
        ("lzf", b"\x00\xc3\x05\x0a\x00a\xe0\x00\x00".to_vec()),
    ];
    let redis = RealRedis::start(&[]);
    let node = Node::start(&[]);
    let mut r = Resp::connect(redis.port);
    let mut s = Resp::connect(node.port);
    for (name, body) in &cases {
        for version in [10u16, 9, 7] {
            let p = payload_v(body, version);
            let key = format!("{name}:{version}");
            let want = restore(&mut r, &key, "0", &p, &[]);
            assert_eq!(want, ok(), "{name} v{version}: Redis takes it");
            assert_eq!(
                restore(&mut s, &key, "0", &p, &[]),
                want,
                "{name} v{version}"
            );
            assert_eq!(
                content(&mut s, &key),
                content(&mut r, &key),
                "{name} v{version}"
            );
        }
    }
}

#[test]
fn restore_options_and_errors_match_redis() {
    let steps = |port: u16, t: Target| {
        let mut c = Resp::connect(port);
        let p = bytes({
            c.q(&["SET", "src", "value"]);
            c.q(&["DUMP", "src"])
        });
        let now = now_ms();
        let cases: Vec<(Vec<Vec<u8>>, &str)> = vec![
            (vec![b"k1".to_vec(), b"0".to_vec(), p.clone()], "fresh key"),
            (vec![b"k1".to_vec(), b"0".to_vec(), p.clone()], "busy key"),
            (
                vec![b"k1".to_vec(), b"0".to_vec(), b"junk".to_vec()],
                "busy before payload",
            ),
            (
                vec![
                    b"k1".to_vec(),
                    b"0".to_vec(),
                    p.clone(),
                    b"REPLACE".to_vec(),
                ],
                "replace",
            ),
            (
                vec![b"k2".to_vec(), b"-1".to_vec(), p.clone()],
                "negative ttl",
            ),
            (
                vec![b"k2".to_vec(), b"x".to_vec(), p.clone()],
                "ttl not a number",
            ),
            (
                vec![
                    b"k2".to_vec(),
                    b"0".to_vec(),
                    p.clone(),
                    b"IDLETIME".to_vec(),
                    b"-1".to_vec(),
                ],
                "idletime < 0",
            ),
            (
                vec![
                    b"k2".to_vec(),
                    b"0".to_vec(),
                    p.clone(),
                    b"IDLETIME".to_vec(),
                    b"x".to_vec(),
                ],
                "idletime nan",
            ),
            (
                vec![
                    b"k2".to_vec(),
                    b"0".to_vec(),
                    p.clone(),
                    b"FREQ".to_vec(),
                    b"256".to_vec(),
                ],
                "freq > 255",
            ),
            (
                vec![
                    b"k2".to_vec(),
                    b"0".to_vec(),
                    p.clone(),
                    b"FREQ".to_vec(),
                    b"-1".to_vec(),
                ],
                "freq < 0",
            ),
            (
                vec![
                    b"k2".to_vec(),
                    b"0".to_vec(),
                    p.clone(),
                    b"FREQ".to_vec(),
                    b"1".to_vec(),
                    b"IDLETIME".to_vec(),
                    b"1".to_vec(),
                ],
                "freq and idletime",
            ),
            (
                vec![
                    b"k2".to_vec(),
                    b"0".to_vec(),
                    p.clone(),
                    b"IDLETIME".to_vec(),
                ],
                "idletime without value",
            ),
            (
                vec![b"k2".to_vec(), b"0".to_vec(), p.clone(), b"BOGUS".to_vec()],
                "unknown option",
            ),
            (
                vec![
                    b"k2".to_vec(),
                    b"0".to_vec(),
                    p.clone(),
                    b"idletime".to_vec(),
                    b"100".to_vec(),
                ],
                "idletime accepted",
            ),
            (
                vec![
                    b"k3".to_vec(),
                    b"0".to_vec(),
                    p.clone(),
                    b"FREQ".to_vec(),
                    b"5".to_vec(),
                ],
                "freq accepted",
            ),
            (
                vec![b"k4".to_vec(), b"100000".to_vec(), p.clone()],
                "relative ttl",
            ),
            (
                vec![
                    b"k5".to_vec(),
                    (now + 200_000).to_string().into_bytes(),
                    p.clone(),
                    b"ABSTTL".to_vec(),
                ],
                "absolute ttl",
            ),
            (
                vec![
                    b"k6".to_vec(),
                    b"1000".to_vec(),
                    p.clone(),
                    b"ABSTTL".to_vec(),
                ],
                "absolute ttl in the past",
            ),
            (
                vec![
                    b"k1".to_vec(),
                    b"1000".to_vec(),
                    p.clone(),
                    b"ABSTTL".to_vec(),
                    b"REPLACE".to_vec(),
                ],
                "past ttl deletes the replaced key",
            ),
            (
                vec![b"k7".to_vec(), b"9223372036854775807".to_vec(), p.clone()],
                "ttl wraps into the past",
            ),
            (
                vec![b"k8".to_vec(), b"0".to_vec(), p.clone(), b"ABSTTL".to_vec()],
                "absttl 0: no expiry",
            ),
            (
                vec![b"k9".to_vec(), b"0".to_vec(), p[..p.len() - 1].to_vec()],
                "truncated footer",
            ),
            (
                vec![b"k9".to_vec(), b"0".to_vec(), b"short".to_vec()],
                "shorter than a footer",
            ),
        ];
        for (args, what) in cases {
            let mut full: Vec<Vec<u8>> = vec![b"RESTORE".to_vec()];
            full.extend(args);
            let got = c.q(&full);
            // What each step answers and leaves is written down from Redis.
            match what {
                "fresh key"
                | "replace"
                | "idletime accepted"
                | "freq accepted"
                | "relative ttl"
                | "absolute ttl"
                | "absolute ttl in the past"
                | "past ttl deletes the replaced key"
                | "ttl wraps into the past"
                | "absttl 0: no expiry" => assert_eq!(got, ok(), "[{t:?}] {what}"),
                "busy key" | "busy before payload" => {
                    assert_eq!(
                        got,
                        err("BUSYKEY Target key name already exists."),
                        "[{t:?}] {what}"
                    )
                }
                "negative ttl" => assert_eq!(got, err("ERR Invalid TTL value, must be >= 0")),
                "ttl not a number" | "idletime nan" => {
                    assert_eq!(got, err(NOT_INT), "[{t:?}] {what}")
                }
                "idletime < 0" => assert_eq!(got, err("ERR Invalid IDLETIME value, must be >= 0")),
                "freq > 255" | "freq < 0" => {
                    assert_eq!(
                        got,
                        err("ERR Invalid FREQ value, must be >= 0 and <= 255"),
                        "[{t:?}] {what}"
                    )
                }
                "freq and idletime" | "idletime without value" | "unknown option" => {
                    assert_eq!(got, err(SYNTAX), "[{t:?}] {what}")
                }
                _ => assert_eq!(
                    got,
                    err("ERR DUMP payload version or checksum are wrong"),
                    "[{t:?}] {what}"
                ),
            }
        }
        let ttl = c.q(&["PTTL", "k4"]).int();
        assert!(ttl > 90_000 && ttl <= 100_000, "[{t:?}] relative ttl {ttl}");
        assert_eq!(
            c.q(&["PEXPIRETIME", "k5"]),
            Reply::Int(now + 200_000),
            "[{t:?}]"
        );
        for (k, want) in [
            ("k1", 0),
            ("k2", 1),
            ("k3", 1),
            ("k6", 0),
            ("k7", 0),
            ("k9", 0),
        ] {
            assert_eq!(c.q(&["EXISTS", k]), Reply::Int(want), "[{t:?}] {k}");
        }
        assert_eq!(c.q(&["PTTL", "k8"]), Reply::Int(-1), "[{t:?}]");
        assert_eq!(c.q(&["GET", "k2"]), bulk("value"), "[{t:?}]");
        assert_eq!(
            c.q(&["RESTORE", "k2"]),
            err("ERR wrong number of arguments for 'restore' command")
        );
        assert_eq!(
            c.q(&["DUMP"]),
            err("ERR wrong number of arguments for 'dump' command")
        );
    };
    both(&[], steps);
}

#[test]
fn corrupt_payloads_are_refused_and_leave_no_key() {
    let redis = RealRedis::start(&[]);
    let node = Node::start(&[]);
    let mut r = Resp::connect(redis.port);
    let mut s = Resp::connect(node.port);
    fill(&mut r);
    let checksum = err("ERR DUMP payload version or checksum are wrong");
    let bad = err("ERR Bad data format");
    // Damage to real payloads: every byte flipped in turn, every cut.
    for key in ["hash", "zset", "list", "intset", "lzf"] {
        let p = bytes(r.q(&["DUMP", key]));
        for i in 0..p.len() {
            let mut d = p.clone();
            d[i] ^= 0x5a;
            assert_eq!(
                restore(&mut s, "x", "0", &d, &[]),
                checksum,
                "{key}: byte {i} flipped"
            );
            assert_eq!(
                restore(&mut s, "x", "0", &p[..i], &[]),
                checksum,
                "{key}: cut at {i}"
            );
        }
        // A version newer than 10, with a right CRC.
        let body = &p[..p.len() - 10];
        assert_eq!(
            restore(&mut s, "x", "0", &payload_v(body, 11), &[]),
            checksum
        );
        assert_eq!(
            restore(&mut r, "x", "0", &payload_v(body, 11), &[]),
            checksum
        );
        // The body cut short, with a right CRC.
        for cut in 1..body.len() {
            let got = restore(&mut s, "x", "0", &payload(&body[..cut]), &[]);
            assert_eq!(got, bad, "{key}: body cut at {cut}");
        }
    }
    // Counts and lengths of 2^60, with right CRCs: refused at once, no
    // memory taken for them. (Redis is asked only for the types it does
    // not size a table for.)
    let huge = [0x81u8, 0x10, 0, 0, 0, 0, 0, 0, 0];
    let with = |t: u8, tail: &[u8]| {
        let mut b = vec![t];
        b.extend_from_slice(&huge);
        b.extend_from_slice(tail);
        payload(&b)
    };
    let for_both = [
        with(0, b"abc"),
        with(1, b"\x01a"),
        with(2, b"\x01a"),
        with(5, b"\x01a"),
        with(18, b"\x02\x01a"),
    ];
    for p in &for_both {
        assert_eq!(restore(&mut r, "x", "0", p, &[]), bad, "Redis");
        assert_eq!(restore(&mut s, "x", "0", p, &[]), bad, "sledis");
    }
    for p in [with(3, b"\x01a"), with(4, b"\x01a\x01b"), with(14, b"")] {
        assert_eq!(restore(&mut s, "x", "0", &p, &[]), bad);
    }
    // An LZF string claiming 2^60 bytes, a listpack claiming more bytes
    // than it has, an intset claiming 2^32-1 values.
    let mut lzf = vec![0u8, 0xc3, 0x02];
    lzf.extend_from_slice(&huge);
    lzf.extend_from_slice(b"\x00a");
    let lp = b"\x10\x0a\xff\xff\xff\x7f\x01\x00\x81a\x02\xff".to_vec();
    let is = b"\x0b\x0c\x02\x00\x00\x00\xff\xff\xff\xff\x01\x00\x02\x00".to_vec();
    for body in [lzf, lp, is] {
        let p = payload(&body);
        assert_eq!(restore(&mut r, "x", "0", &p, &[]), bad, "Redis");
        assert_eq!(restore(&mut s, "x", "0", &p, &[]), bad, "sledis");
    }
    // What sledis has no type for (a stream, a module value), an empty or
    // duplicated collection, a NaN score: refused as Redis refuses them.
    let refused: Vec<Vec<u8>> = vec![
        b"\x0f\x00".to_vec(),
        b"\x06\x00".to_vec(),
        b"\x08\x00".to_vec(),
        b"\x01\x00".to_vec(),
        b"\x02\x00".to_vec(),
        b"\x02\x02\x01a\x01a".to_vec(),
        b"\x03\x01\x01a\xfd".to_vec(),
    ];
    for body in refused {
        let p = payload(&body);
        assert_eq!(restore(&mut r, "x", "0", &p, &[]), bad, "Redis: {body:?}");
        assert_eq!(restore(&mut s, "x", "0", &p, &[]), bad, "sledis: {body:?}");
    }
    // A field twice in a hash: Redis 7.0 takes it (a corrupt hash);
    // sledis refuses it.
    let dup = payload(b"\x04\x02\x01f\x01v\x01f\x01w");
    assert_eq!(restore(&mut s, "x", "0", &dup, &[]), bad);
    // A refused payload with REPLACE leaves the old value.
    s.q(&["SET", "kept", "old"]);
    assert_eq!(
        restore(&mut s, "kept", "0", &payload(b"\x01\x00"), &["REPLACE"]),
        bad
    );
    assert_eq!(s.q(&["GET", "kept"]), bulk("old"));
    assert_eq!(s.q(&["EXISTS", "x"]), Reply::Int(0));
    assert_eq!(s.q(&["DBSIZE"]), Reply::Int(1));
    assert_eq!(s.q(&["PING"]), st("PONG"));
}

#[test]
fn restored_keys_replicate_and_survive_kill9() {
    let redis = RealRedis::start(&[]);
    let mut r = Resp::connect(redis.port);
    fill(&mut r);
    let (mut master, replicas) = replicated_group(1);
    // A chain: a replica of the replica.
    let chained = Node::start(&[&format!("replicaof 127.0.0.1 {}", replicas[0].port)]);
    let mut m = Resp::connect(master.port);
    let keys = [
        "s", "hll", "list_big", "intset", "set_big", "hash_big", "zset_big", "zset",
    ];
    for key in keys {
        let p = bytes(r.q(&["DUMP", key]));
        assert_eq!(restore(&mut m, key, "100000000", &p, &[]), ok(), "{key}");
    }
    let mut want = Vec::new();
    for key in keys {
        let v = content(&mut r, key);
        assert_eq!(content(&mut m, key), v, "{key} on the master");
        want.push((key, v));
    }
    wait_synced(&replicas[0], &master);
    wait_synced(&chained, &master);
    for node in [&replicas[0], &chained] {
        let mut rep = Resp::connect(node.port);
        for (key, v) in &want {
            assert_eq!(&content(&mut rep, key), v, "{key} on replica {}", node.port);
            assert!(
                rep.q(&["PTTL", key]).int() > 0,
                "{key}: TTL on replica {}",
                node.port
            );
        }
    }
    drop(m);
    master.kill9();
    master.launch();
    let mut m = Resp::connect(master.port);
    for (key, v) in &want {
        assert_eq!(&content(&mut m, key), v, "{key} after kill -9");
        let ttl = m.q(&["PTTL", key]).int();
        assert!(
            ttl > 0 && ttl <= 100_000_000,
            "{key}: TTL {ttl} after kill -9"
        );
    }
}
