//! Command semantics against Redis 7.0: replies and exact error texts.
//!
//! Most checks run twice: first against a real `redis-server` (so the
//! expectations written here are Redis's own answers, not guesses), then
//! against a sledis node. Checks of things only sledis has (INFO fields of
//! its own, DEBUG DIGEST across nodes, keys expiring actively through the
//! WAL) run against sledis alone.

mod support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};
use support::*;

#[derive(Clone, Copy, PartialEq, Debug)]
enum Target {
    Redis,
    Sledis,
}

/// Runs `check` against a real redis-server, then against a sledis node
/// started with `lines`.
fn both(lines: &[&str], check: impl Fn(u16, Target)) {
    {
        let r = RealRedis::start(&[]);
        check(r.port, Target::Redis);
    }
    let n = Node::start(lines);
    check(n.port, Target::Sledis);
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Asserts each `(command line, expected reply)` in order on one connection.
fn script(c: &mut Resp, t: Target, steps: &[(&str, Reply)]) {
    for (i, (line, want)) in steps.iter().enumerate() {
        let got = c.qs(line);
        assert_eq!(&got, want, "[{t:?}] step {i}: `{line}`");
    }
}

fn in_range(r: &Reply, lo: i64, hi: i64, what: &str) {
    let v = r.int();
    assert!(v >= lo && v <= hi, "{what}: {v} not in {lo}..={hi}");
}

const NOT_INT: &str = "ERR value is not an integer or out of range";
const SYNTAX: &str = "ERR syntax error";
const NOT_FLOAT: &str = "ERR value is not a valid float";

fn arity(cmd: &str) -> Reply {
    err(&format!(
        "ERR wrong number of arguments for '{cmd}' command"
    ))
}

// ----- strings -----

#[test]
fn set_and_get_with_options() {
    both(&[], |port, t| {
        let mut c = Resp::connect(port);
        script(
            &mut c,
            t,
            &[
                ("GET nokey", Reply::Nil),
                ("SET k v", ok()),
                ("GET k", bulk("v")),
                ("SET k v2 XX", ok()),
                ("SET k v3 NX", Reply::Nil),
                ("GET k", bulk("v2")),
                ("SET n v NX", ok()),
                ("SET m v XX", Reply::Nil),
                ("EXISTS m", int(0)),
                // GET returns the old value whether or not the set happened.
                ("SET k v4 GET", bulk("v2")),
                ("SET k v5 NX GET", bulk("v4")),
                ("GET k", bulk("v4")),
                ("SET fresh v XX GET", Reply::Nil),
                ("EXISTS fresh", int(0)),
                ("SET fresh v GET", Reply::Nil),
                // Options are case-insensitive; repeating one is allowed.
                ("SET k v ex 100 ex 200", ok()),
                ("TTL k", int(200)),
                ("SET k v px 5000 PX 9000", ok()),
                ("SET k v keepttl KEEPTTL", ok()),
                ("SET k v nx nx", Reply::Nil),
                ("SET k v xx xx get", bulk("v")),
                // Conflicting or incomplete options.
                ("SET k v NX XX", err(SYNTAX)),
                ("SET k v XX NX", err(SYNTAX)),
                ("SET k v EX 10 PX 100", err(SYNTAX)),
                ("SET k v EX 10 EXAT 100", err(SYNTAX)),
                ("SET k v PXAT 10 PX 100", err(SYNTAX)),
                ("SET k v KEEPTTL EX 10", err(SYNTAX)),
                ("SET k v EX 10 KEEPTTL", err(SYNTAX)),
                ("SET k v EX", err(SYNTAX)),
                ("SET k v PERSIST", err(SYNTAX)),
                ("SET k v FOO", err(SYNTAX)),
                // Syntax is checked before the expire value.
                ("SET k v EX 0 FOO", err(SYNTAX)),
                ("SET k v EX abc NX XX", err(SYNTAX)),
                ("SET k v EX abc", err(NOT_INT)),
                ("SET k v EX 1.5", err(NOT_INT)),
                (
                    "SET k v EX 0",
                    err("ERR invalid expire time in 'set' command"),
                ),
                (
                    "SET k v EX -1",
                    err("ERR invalid expire time in 'set' command"),
                ),
                (
                    "SET k v PX 0",
                    err("ERR invalid expire time in 'set' command"),
                ),
                (
                    "SET k v EXAT 0",
                    err("ERR invalid expire time in 'set' command"),
                ),
                (
                    "SET k v PXAT -5",
                    err("ERR invalid expire time in 'set' command"),
                ),
                (
                    "SET k v EX 9223372036854775",
                    err("ERR invalid expire time in 'set' command"),
                ),
                (
                    "SET k v EX 92233720368547758",
                    err("ERR invalid expire time in 'set' command"),
                ),
                (
                    "SET k v PX 9223372036854775807",
                    err("ERR invalid expire time in 'set' command"),
                ),
                (
                    "SET k v EXAT 99999999999999999",
                    err("ERR invalid expire time in 'set' command"),
                ),
                ("SET", arity("set")),
                ("SET k", arity("set")),
                ("GET", arity("get")),
                ("GET a b", arity("get")),
            ],
        );
        // TTLs of each unit.
        let now = now_ms();
        assert_eq!(c.qs("SET k v EX 100"), ok());
        in_range(&c.qs("PTTL k"), 98_000, 100_000, "EX");
        assert_eq!(c.qs("SET k v PX 50000"), ok());
        in_range(&c.qs("PTTL k"), 48_000, 50_000, "PX");
        assert_eq!(
            c.q(&["SET", "k", "v", "EXAT", &((now / 1000) + 300).to_string()]),
            ok()
        );
        in_range(&c.qs("TTL k"), 295, 300, "EXAT");
        assert_eq!(
            c.q(&["SET", "k", "v", "PXAT", &(now + 400_000).to_string()]),
            ok()
        );
        in_range(&c.qs("PTTL k"), 395_000, 400_000, "PXAT");
        assert_eq!(c.qs("PEXPIRETIME k"), int(now + 400_000));
        // KEEPTTL keeps it, a plain SET drops it.
        assert_eq!(c.qs("SET k other KEEPTTL"), ok());
        in_range(&c.qs("PTTL k"), 395_000, 400_000, "KEEPTTL");
        assert_eq!(c.qs("SET k plain"), ok());
        assert_eq!(c.qs("TTL k"), int(-1));
        // An absolute time in the past: the key is there and already gone.
        assert_eq!(c.qs("SET past v PXAT 1000"), ok());
        assert_eq!(c.qs("GET past"), Reply::Nil);
        assert_eq!(c.qs("EXISTS past"), int(0));
        // Binary-safe values and keys.
        let bin: Vec<u8> = (0..=255u8).collect();
        assert_eq!(c.q(&[&b"SET"[..], b"b\x00in", &bin]), ok());
        assert_eq!(c.q(&[&b"GET"[..], b"b\x00in"]), Reply::Bulk(bin.clone()));
        assert_eq!(c.q(&[&b"STRLEN"[..], b"b\x00in"]), int(256));
        // An empty value is a value.
        assert_eq!(c.q(&["SET", "empty", ""]), ok());
        assert_eq!(c.qs("EXISTS empty"), int(1));
        assert_eq!(c.qs("GET empty"), bulk(""));
    });
}

#[test]
fn setnx_setex_psetex_getset_getdel() {
    both(&[], |port, t| {
        let mut c = Resp::connect(port);
        script(
            &mut c,
            t,
            &[
                ("SETNX a 1", int(1)),
                ("SETNX a 2", int(0)),
                ("GET a", bulk("1")),
                ("SETEX b 100 v", ok()),
                ("TTL b", int(100)),
                (
                    "SETEX b 0 v",
                    err("ERR invalid expire time in 'setex' command"),
                ),
                (
                    "SETEX b -1 v",
                    err("ERR invalid expire time in 'setex' command"),
                ),
                ("SETEX b abc v", err(NOT_INT)),
                ("SETEX b 10", arity("setex")),
                ("PSETEX c 100000 v", ok()),
                (
                    "PSETEX c 0 v",
                    err("ERR invalid expire time in 'psetex' command"),
                ),
                ("GETSET a 9", bulk("1")),
                ("GETSET fresh 9", Reply::Nil),
                ("GET fresh", bulk("9")),
                // GETSET drops the TTL.
                ("GETSET b w", bulk("v")),
                ("TTL b", int(-1)),
                ("GETSET a", arity("getset")),
                ("GETDEL a", bulk("9")),
                ("GETDEL a", Reply::Nil),
                ("EXISTS a", int(0)),
                ("GETDEL", arity("getdel")),
                ("SETNX a", arity("setnx")),
            ],
        );
        in_range(&c.qs("PTTL c"), 98_000, 100_000, "PSETEX");
    });
}

#[test]
fn getex_options() {
    both(&[], |port, t| {
        let mut c = Resp::connect(port);
        script(
            &mut c,
            t,
            &[
                ("SET k v", ok()),
                ("GETEX k", bulk("v")),
                ("TTL k", int(-1)),
                ("GETEX k EX 100", bulk("v")),
                ("TTL k", int(100)),
                ("GETEX k PERSIST", bulk("v")),
                ("TTL k", int(-1)),
                ("GETEX k ex 10 EX 200", bulk("v")),
                ("TTL k", int(200)),
                ("GETEX k persist persist", bulk("v")),
                ("TTL k", int(-1)),
                ("GETEX k KEEPTTL", err(SYNTAX)),
                ("GETEX k NX", err(SYNTAX)),
                ("GETEX k GET", err(SYNTAX)),
                ("GETEX k EX 10 PERSIST", err(SYNTAX)),
                ("GETEX k PERSIST EX 10", err(SYNTAX)),
                ("GETEX k EX 10 PX 10", err(SYNTAX)),
                ("GETEX k EX", err(SYNTAX)),
                ("GETEX nokey FOO", err(SYNTAX)),
                (
                    "GETEX k EX 0",
                    err("ERR invalid expire time in 'getex' command"),
                ),
                (
                    "GETEX k PX -1",
                    err("ERR invalid expire time in 'getex' command"),
                ),
                ("GETEX k EX abc", err(NOT_INT)),
                // A missing key answers nil before the expire time is checked.
                ("GETEX nokey EX abc", Reply::Nil),
                ("GETEX nokey EX 0", Reply::Nil),
                ("GETEX nokey EX 10", Reply::Nil),
                ("GETEX", arity("getex")),
                // EXAT in the past: the value is returned and the key deleted.
                ("DBSIZE", int(1)),
                ("GETEX k EXAT 1", bulk("v")),
                ("EXISTS k", int(0)),
                ("DBSIZE", int(0)),
            ],
        );
        assert_eq!(c.qs("SET k v"), ok());
        assert_eq!(c.qs("GETEX k PX 100000"), bulk("v"));
        in_range(&c.qs("PTTL k"), 98_000, 100_000, "GETEX PX");
        let at = now_ms() + 500_000;
        assert_eq!(c.q(&["GETEX", "k", "PXAT", &at.to_string()]), bulk("v"));
        assert_eq!(c.qs("PEXPIRETIME k"), int(at));
    });
}

#[test]
fn mget_mset_msetnx() {
    both(&[], |port, t| {
        let mut c = Resp::connect(port);
        script(
            &mut c,
            t,
            &[
                ("MSET a 1 b 2 c 3", ok()),
                (
                    "MGET a b nokey c",
                    arr(vec![bulk("1"), bulk("2"), Reply::Nil, bulk("3")]),
                ),
                ("MSET a 1 b", arity("mset")),
                ("MSET a", arity("mset")),
                ("MSETNX a 1 b", arity("msetnx")),
                ("MGET", arity("mget")),
                // All or nothing.
                ("MSETNX a 9 d 4", int(0)),
                ("EXISTS d", int(0)),
                ("GET a", bulk("1")),
                ("MSETNX d 4 e 5", int(1)),
                ("MGET d e", bulks(&["4", "5"])),
                // The same key twice: the last value wins.
                ("MSET x 1 x 2", ok()),
                ("GET x", bulk("2")),
                ("MSETNX y 1 y 2", int(1)),
                ("GET y", bulk("2")),
                // MSET drops TTLs.
                ("SET t v EX 100", ok()),
                ("MSET t w", ok()),
                ("TTL t", int(-1)),
            ],
        );
    });
}

#[test]
fn incr_decr_and_errors() {
    both(&[], |port, t| {
        let mut c = Resp::connect(port);
        script(
            &mut c,
            t,
            &[
                ("INCR n", int(1)),
                ("INCR n", int(2)),
                ("DECR n", int(1)),
                ("INCRBY n 10", int(11)),
                ("INCRBY n -20", int(-9)),
                ("DECRBY n -9", int(0)),
                ("DECRBY fresh 5", int(-5)),
                ("SET n 9223372036854775806", ok()),
                ("INCR n", int(i64::MAX)),
                ("INCR n", err("ERR increment or decrement would overflow")),
                (
                    "INCRBY n 1",
                    err("ERR increment or decrement would overflow"),
                ),
                ("SET n -9223372036854775808", ok()),
                ("DECR n", err("ERR increment or decrement would overflow")),
                ("SET n 0", ok()),
                (
                    "DECRBY n -9223372036854775808",
                    err("ERR decrement would overflow"),
                ),
                ("DECRBY n 9223372036854775807", int(-i64::MAX)),
                ("INCRBY n abc", err(NOT_INT)),
                ("INCRBY n 1.5", err(NOT_INT)),
                ("INCRBY n 9223372036854775808", err(NOT_INT)),
                ("INCRBY n", arity("incrby")),
                ("INCR", arity("incr")),
                // Values that are not integers the way Redis reads them.
                ("SET s abc", ok()),
                ("INCR s", err(NOT_INT)),
                ("SET s 007", ok()),
                ("INCR s", err(NOT_INT)),
                ("SET s -0", ok()),
                ("INCR s", err(NOT_INT)),
                ("SET s +1", ok()),
                ("INCR s", err(NOT_INT)),
                ("SET s 1e3", ok()),
                ("INCR s", err(NOT_INT)),
                ("SET s 12345678901234567890", ok()),
                ("INCR s", err(NOT_INT)),
                ("GET s", bulk("12345678901234567890")),
                // INCR keeps the TTL.
                ("SET e 5 EX 100", ok()),
                ("INCR e", int(6)),
                ("TTL e", int(100)),
            ],
        );
        assert_eq!(c.q(&["SET", "s", " 1"]), ok());
        assert_eq!(c.qs("INCR s"), err(NOT_INT));
        assert_eq!(c.q(&["SET", "s", "1 "]), ok());
        assert_eq!(c.qs("INCR s"), err(NOT_INT));
    });
}

#[test]
fn incrbyfloat_is_long_double() {
    both(&[], |port, t| {
        let mut c = Resp::connect(port);
        script(
            &mut c,
            t,
            &[
                ("SET f 10.50", ok()),
                ("INCRBYFLOAT f 0.1", bulk("10.6")),
                ("INCRBYFLOAT f -5", bulk("5.6")),
                ("SET f 0.1", ok()),
                // Redis adds in x87 long double: 0.1 + 0.2 prints as 0.3.
                ("INCRBYFLOAT f 0.2", bulk("0.3")),
                ("SET f 10000000000", ok()),
                ("INCRBYFLOAT f 0.1", bulk("10000000000.09999999962747097")),
                ("SET f 5.0e3", ok()),
                ("INCRBYFLOAT f 2.0e2", bulk("5200")),
                ("INCRBYFLOAT f -.5e-1", bulk("5199.95000000000000018")),
                ("INCRBYFLOAT new 3", bulk("3")),
                ("INCRBYFLOAT new 1e-4940", bulk("3")),
                ("SET f 0x10", ok()),
                ("INCRBYFLOAT f 1", bulk("17")),
                ("INCRBYFLOAT f 0x1p-18", bulk("17.00000381469726562")),
                ("SET f 12345678901234567890", ok()),
                ("INCRBYFLOAT f 0", bulk("12345678901234567890")),
                ("SET f 1.0", ok()),
                ("INCRBYFLOAT f -1", bulk("0")),
                ("INCRBYFLOAT f abc", err(NOT_FLOAT)),
                ("INCRBYFLOAT f 1e", err(NOT_FLOAT)),
                ("INCRBYFLOAT f nan", err(NOT_FLOAT)),
                ("INCRBYFLOAT f 1e5000", err(NOT_FLOAT)),
                ("INCRBYFLOAT f 1e-5000", err(NOT_FLOAT)),
                (
                    "INCRBYFLOAT f inf",
                    err("ERR increment would produce NaN or Infinity"),
                ),
                (
                    "INCRBYFLOAT f -Infinity",
                    err("ERR increment would produce NaN or Infinity"),
                ),
                ("SET s abc", ok()),
                ("INCRBYFLOAT s 1", err(NOT_FLOAT)),
                ("INCRBYFLOAT f", arity("incrbyfloat")),
                // INCRBYFLOAT keeps the TTL.
                ("SET e 1.5 EX 100", ok()),
                ("INCRBYFLOAT e 1", bulk("2.5")),
                ("TTL e", int(100)),
            ],
        );
        assert_eq!(c.q(&["SET", "s", " 1"]), ok());
        assert_eq!(c.qs("INCRBYFLOAT s 1"), err(NOT_FLOAT));
        assert_eq!(c.q(&["INCRBYFLOAT", "f", "1 "]), err(NOT_FLOAT));
        // 1e308 + 1e308 does not overflow a long double: 309 digits.
        assert_eq!(c.qs("SET big 1e308"), ok());
        assert_eq!(c.qs("INCRBYFLOAT big 1e308").text().len(), 309);
    });
}

#[test]
fn append_strlen_getrange_setrange() {
    both(&[], |port, t| {
        let mut c = Resp::connect(port);
        script(
            &mut c,
            t,
            &[
                ("APPEND s Hello", int(5)),
                ("APPEND s _World", int(11)),
                ("GET s", bulk("Hello_World")),
                ("STRLEN s", int(11)),
                ("STRLEN nokey", int(0)),
                ("GETRANGE s 0 4", bulk("Hello")),
                ("GETRANGE s -5 -1", bulk("World")),
                ("GETRANGE s 0 -1", bulk("Hello_World")),
                ("GETRANGE s -100 100", bulk("Hello_World")),
                ("GETRANGE s 5 3", bulk("")),
                ("GETRANGE s -1 -5", bulk("")),
                ("GETRANGE s 20 30", bulk("")),
                ("GETRANGE nokey 0 -1", bulk("")),
                ("GETRANGE s a b", err(NOT_INT)),
                ("SUBSTR s 6 8", bulk("Wor")),
                ("SETRANGE s 6 Redis", int(11)),
                ("GET s", bulk("Hello_Redis")),
                ("SETRANGE s 11 !", int(12)),
                ("SETRANGE s -1 x", err("ERR offset is out of range")),
                ("SETRANGE s abc x", err(NOT_INT)),
                (
                    "SETRANGE s 536870912 x",
                    err("ERR string exceeds maximum allowed size (proto-max-bulk-len)"),
                ),
                // An empty value on a missing key creates nothing.
                ("SETRANGE pad 3 x", int(4)),
                ("APPEND", arity("append")),
                ("SETRANGE s 1", arity("setrange")),
                // APPEND and SETRANGE keep the TTL.
                ("SET e abc EX 100", ok()),
                ("APPEND e d", int(4)),
                ("SETRANGE e 0 X", int(4)),
                ("TTL e", int(100)),
            ],
        );
        assert_eq!(c.q(&["SETRANGE", "s", "1", ""]), int(12));
        // An empty value on a missing key creates nothing.
        assert_eq!(c.q(&["SETRANGE", "nokey", "0", ""]), int(0));
        assert_eq!(c.qs("EXISTS nokey"), int(0));
        assert_eq!(c.qs("GET pad"), Reply::Bulk(b"\0\0\0x".to_vec()));
        // The limit is proto-max-bulk-len.
        let too_big = err("ERR string exceeds maximum allowed size (proto-max-bulk-len)");
        assert_eq!(c.qs("CONFIG SET proto-max-bulk-len 1048576"), ok());
        assert_eq!(c.qs("SETRANGE big 1048576 x"), too_big, "[{t:?}]");
        assert_eq!(c.qs("SETRANGE big 1048575 x"), int(1_048_576), "[{t:?}]");
        assert_eq!(c.qs("APPEND big y"), too_big, "[{t:?}]");
        assert_eq!(c.qs("STRLEN big"), int(1_048_576));
    });
}

// ----- keys -----

#[test]
fn del_exists_type_keys() {
    both(&[], |port, t| {
        let mut c = Resp::connect(port);
        script(
            &mut c,
            t,
            &[
                ("MSET a 1 b 2 c 3", ok()),
                ("DEL a x b", int(2)),
                ("DEL a a", int(0)),
                ("UNLINK c c", int(1)),
                ("DEL", arity("del")),
                ("SET a 1", ok()),
                ("EXISTS a a nokey", int(2)),
                ("EXISTS", arity("exists")),
                ("TYPE a", st("string")),
                ("TYPE nokey", st("none")),
                ("TOUCH a nokey", int(1)),
                ("FLUSHALL", ok()),
                (
                    "MSET k1 a k2 b hello x hallo y hxllo z hllo w heeeello v h*llo s",
                    ok(),
                ),
            ],
        );
        let keys = |c: &mut Resp, pat: &str| -> BTreeSet<String> {
            c.q(&["KEYS", pat])
                .items()
                .iter()
                .map(|r| r.text())
                .collect()
        };
        let set = |v: &[&str]| -> BTreeSet<String> { v.iter().map(|s| s.to_string()).collect() };
        assert_eq!(keys(&mut c, "*").len(), 8, "[{t:?}]");
        assert_eq!(
            keys(&mut c, "h?llo"),
            set(&["hello", "hallo", "hxllo", "h*llo"]),
            "[{t:?}]"
        );
        assert_eq!(
            keys(&mut c, "h*llo"),
            set(&["hello", "hallo", "hxllo", "h*llo", "hllo", "heeeello"]),
            "[{t:?}]"
        );
        assert_eq!(
            keys(&mut c, "h[ae]llo"),
            set(&["hello", "hallo"]),
            "[{t:?}]"
        );
        assert_eq!(
            keys(&mut c, "h[^e]llo"),
            set(&["hallo", "hxllo", "h*llo"]),
            "[{t:?}]"
        );
        assert_eq!(keys(&mut c, "h[a-b]llo"), set(&["hallo"]), "[{t:?}]");
        assert_eq!(keys(&mut c, "h\\*llo"), set(&["h*llo"]), "[{t:?}]");
        assert_eq!(keys(&mut c, "k*"), set(&["k1", "k2"]), "[{t:?}]");
        assert_eq!(keys(&mut c, "nomatch*"), set(&[]), "[{t:?}]");
        assert_eq!(c.qs("KEYS"), arity("keys"));
    });
}

/// SCAN over a few thousand keys, some already moved into sled and some
/// still in the write buffer, some deleted, returns every live key.
#[test]
fn scan_returns_every_key() {
    let fill = |c: &mut Resp, chunks: std::ops::Range<usize>, want: &mut BTreeSet<String>| {
        for chunk in chunks {
            let mut args = vec!["MSET".to_string()];
            for i in 0..100 {
                let k = format!("key:{}", chunk * 100 + i);
                args.push(k.clone());
                args.push(i.to_string());
                want.insert(k);
            }
            assert_eq!(c.q(&args), ok());
        }
    };
    let check = |port: u16, t: Target, mut restart: Box<dyn FnMut()>| {
        let mut want = BTreeSet::new();
        let mut c = Resp::connect(port);
        fill(&mut c, 0..21, &mut want);
        // sledis: a clean restart leaves every key so far in sled.
        drop(c);
        restart();
        let mut c = Resp::connect(port);
        fill(&mut c, 21..30, &mut want);
        for i in (0..3000).step_by(7) {
            let k = format!("key:{i}");
            assert_eq!(c.q(&["DEL", &k]), int(1));
            want.remove(&k);
        }
        let scan_all = |c: &mut Resp, extra: &[&str]| -> (BTreeSet<String>, usize) {
            let mut seen = BTreeSet::new();
            let mut cursor = "0".to_string();
            let mut calls = 0;
            loop {
                let mut args = vec!["SCAN", cursor.as_str()];
                args.extend_from_slice(extra);
                let r = c.q(&args);
                let items = r.items();
                calls += 1;
                for k in items[1].items() {
                    seen.insert(k.text());
                }
                cursor = items[0].text();
                if cursor == "0" {
                    break;
                }
                assert!(calls < 100_000, "SCAN does not end");
            }
            (seen, calls)
        };
        // COUNT bounds a page (keys in sled and in the write buffer alike).
        let first = c.qs("SCAN 0 COUNT 10");
        let page = first.items();
        assert!(
            page[1].items().len() <= 100,
            "[{t:?}] SCAN COUNT 10 answered {} keys",
            page[1].items().len()
        );
        assert_ne!(
            page[0],
            bulk("0"),
            "[{t:?}] SCAN COUNT 10 over 3000 keys cannot be done at once"
        );
        let (seen, _) = scan_all(&mut c, &["COUNT", "100"]);
        assert_eq!(seen, want, "[{t:?}] SCAN COUNT 100 must return every key");
        let (seen, _) = scan_all(&mut c, &[]);
        assert_eq!(seen, want, "[{t:?}] SCAN must return every key");
        let (seen, _) = scan_all(&mut c, &["MATCH", "key:1??", "COUNT", "1000"]);
        let want_match: BTreeSet<String> = want
            .iter()
            .filter(|k| k.len() == 7 && k.starts_with("key:1"))
            .cloned()
            .collect();
        assert_eq!(seen, want_match, "[{t:?}] SCAN MATCH");
        let (seen, _) = scan_all(&mut c, &["TYPE", "string", "COUNT", "500"]);
        assert_eq!(seen, want, "[{t:?}] SCAN TYPE string");
        let (seen, _) = scan_all(&mut c, &["TYPE", "hash"]);
        assert!(seen.is_empty(), "[{t:?}] SCAN TYPE hash");
        script(
            &mut c,
            t,
            &[
                ("SCAN abc", err("ERR invalid cursor")),
                ("SCAN 18446744073709551616", err("ERR invalid cursor")),
                ("SCAN 0 COUNT 0", err(SYNTAX)),
                ("SCAN 0 COUNT abc", err(NOT_INT)),
                ("SCAN 0 MATCH", err(SYNTAX)),
                ("SCAN 0 FOO bar", err(SYNTAX)),
                ("SCAN", arity("scan")),
            ],
        );
        // Cursors are read like strtoul: "-1" is a (huge) valid cursor.
        assert!(!c.qs("SCAN -1").is_error(), "[{t:?}]");
        assert!(!c.qs("SCAN 18446744073709551615").is_error(), "[{t:?}]");
    };
    {
        let r = RealRedis::start(&[]);
        check(r.port, Target::Redis, Box::new(|| {}));
    }
    let n = std::cell::RefCell::new(Node::start(&[]));
    let port = n.borrow().port;
    check(
        port,
        Target::Sledis,
        Box::new(|| {
            let mut n = n.borrow_mut();
            n.stop();
            n.launch();
            let info = Resp::connect(port).qs("INFO persistence").text();
            assert_eq!(
                info_field(&info, "sled_applied_offset"),
                info_field(&info, "wal_end_offset"),
                "after a restart sled has it all"
            );
        }),
    );
}

#[test]
fn randomkey_picks_among_keys() {
    both(&[], |port, t| {
        let mut c = Resp::connect(port);
        assert_eq!(c.qs("RANDOMKEY"), Reply::Nil);
        let keys: Vec<String> = (0..10).map(|i| format!("k{i}")).collect();
        for k in &keys {
            assert_eq!(c.q(&["SET", k, "v"]), ok());
        }
        let mut seen = BTreeSet::new();
        for _ in 0..200 {
            let k = c.qs("RANDOMKEY").text();
            assert!(keys.contains(&k), "[{t:?}] RANDOMKEY gave {k}");
            seen.insert(k);
        }
        assert!(
            seen.len() >= 5,
            "[{t:?}] RANDOMKEY is not random: only {seen:?} in 200 calls"
        );
        assert_eq!(c.qs("RANDOMKEY x"), arity("randomkey"));
    });
    // A big keyspace takes the sampling path: still spread out.
    let n = Node::start(&[]);
    let mut c = Resp::connect(n.port);
    for chunk in 0..50 {
        let mut args = vec!["MSET".to_string()];
        for i in 0..100 {
            args.push(format!("user:{}", chunk * 100 + i));
            args.push("v".into());
        }
        assert_eq!(c.q(&args), ok());
    }
    let mut seen = BTreeSet::new();
    for _ in 0..200 {
        let k = c.qs("RANDOMKEY").text();
        assert!(k.starts_with("user:"));
        seen.insert(k);
    }
    // A uniform pick gives about 196 distinct; the walk gives about 160.
    assert!(
        seen.len() >= 100,
        "RANDOMKEY on 5000 keys is not random: {} distinct in 200",
        seen.len()
    );
}

#[test]
fn rename_copy_move() {
    both(&[], |port, t| {
        let mut c = Resp::connect(port);
        script(
            &mut c,
            t,
            &[
                ("SET a 1 EX 100", ok()),
                ("RENAME a a", ok()),
                ("RENAME nokey x", err("ERR no such key")),
                ("RENAME nokey nokey", err("ERR no such key")),
                ("RENAME a b", ok()),
                ("EXISTS a", int(0)),
                ("GET b", bulk("1")),
                ("TTL b", int(100)),
                ("SET c 3", ok()),
                ("RENAME b c", ok()),
                ("GET c", bulk("1")),
                ("TTL c", int(100)),
                ("RENAMENX c c", int(0)),
                ("RENAMENX nokey x", err("ERR no such key")),
                ("SET d 4", ok()),
                ("RENAMENX c d", int(0)),
                ("RENAMENX c e", int(1)),
                ("RENAME a", arity("rename")),
                // COPY
                (
                    "COPY e e",
                    err("ERR source and destination objects are the same"),
                ),
                ("COPY nokey x", int(0)),
                ("COPY e d", int(0)),
                ("COPY e d REPLACE", int(1)),
                ("GET d", bulk("1")),
                ("TTL d", int(100)),
                ("COPY e f replace REPLACE", int(1)),
                ("COPY e x FOO", err(SYNTAX)),
                ("COPY e x DB", err(SYNTAX)),
                ("COPY e x DB 16", err("ERR DB index is out of range")),
                ("COPY e x DB -1", err("ERR DB index is out of range")),
                ("COPY e x DB abc", err(NOT_INT)),
                (
                    "COPY e x DB 99999999999",
                    err("ERR value is out of range, value must between -2147483648 and 2147483647"),
                ),
                ("COPY e x DB 16 FOO", err("ERR DB index is out of range")),
                ("COPY e e DB 1", int(1)),
                ("COPY e", arity("copy")),
                // MOVE
                (
                    "MOVE e 0",
                    err("ERR source and destination objects are the same"),
                ),
                ("MOVE e 16", err("ERR DB index is out of range")),
                ("MOVE e abc", err(NOT_INT)),
                (
                    "MOVE e 99999999999",
                    err("ERR value is out of range, value must between -2147483648 and 2147483647"),
                ),
                ("MOVE nokey 1", int(0)),
                ("MOVE e 1", int(0)),
                ("MOVE d 1", int(1)),
                ("EXISTS d", int(0)),
                ("SELECT 1", ok()),
                ("GET d", bulk("1")),
                ("TTL d", int(100)),
                ("GET e", bulk("1")),
                ("SELECT 0", ok()),
                ("MOVE d", arity("move")),
            ],
        );
    });
}

#[test]
fn expire_family() {
    both(&[], |port, t| {
        let mut c = Resp::connect(port);
        script(
            &mut c,
            t,
            &[
                ("EXPIRE nokey 10", int(0)),
                ("TTL nokey", int(-2)),
                ("PTTL nokey", int(-2)),
                ("EXPIRETIME nokey", int(-2)),
                ("PEXPIRETIME nokey", int(-2)),
                ("PERSIST nokey", int(0)),
                ("SET k v", ok()),
                ("TTL k", int(-1)),
                ("PTTL k", int(-1)),
                ("EXPIRETIME k", int(-1)),
                ("PEXPIRETIME k", int(-1)),
                ("PERSIST k", int(0)),
                // Options: a key without TTL has an infinite one.
                ("EXPIRE k 100 XX", int(0)),
                ("EXPIRE k 100 GT", int(0)),
                ("EXPIRE k 100 LT", int(1)),
                ("EXPIRE k 100 NX", int(0)),
                ("EXPIRE k 200 GT", int(1)),
                ("TTL k", int(200)),
                ("EXPIRE k 300 LT", int(0)),
                ("EXPIRE k 100 lt", int(1)),
                ("EXPIRE k 300 XX LT", int(0)),
                ("EXPIRE k 50 XX GT", int(0)),
                ("EXPIRE k 150 XX GT", int(1)),
                ("TTL k", int(150)),
                ("PERSIST k", int(1)),
                ("EXPIRE k 100 NX", int(1)),
                ("EXPIRE k 100 NX", int(0)),
                ("EXPIRE k 100 nx nx", int(0)),
                (
                    "EXPIRE k 100 NX XX",
                    err("ERR NX and XX, GT or LT options at the same time are not compatible"),
                ),
                (
                    "EXPIRE k 100 NX GT",
                    err("ERR NX and XX, GT or LT options at the same time are not compatible"),
                ),
                (
                    "EXPIRE k 100 GT LT",
                    err("ERR GT and LT options at the same time are not compatible"),
                ),
                ("EXPIRE k 100 FOO", err("ERR Unsupported option FOO")),
                // Options are checked before the number.
                ("EXPIRE k abc FOO", err("ERR Unsupported option FOO")),
                ("EXPIRE k abc", err(NOT_INT)),
                ("EXPIRE k 1.5", err(NOT_INT)),
                (
                    "EXPIRE k 9223372036854775807",
                    err("ERR invalid expire time in 'expire' command"),
                ),
                (
                    "EXPIRE k 9223372036854775",
                    err("ERR invalid expire time in 'expire' command"),
                ),
                (
                    "PEXPIRE k 9223372036854775807",
                    err("ERR invalid expire time in 'pexpire' command"),
                ),
                (
                    "EXPIREAT k 9223372036854775807",
                    err("ERR invalid expire time in 'expireat' command"),
                ),
                ("PEXPIREAT k 9223372036854775807", int(1)),
                ("PEXPIRETIME k", int(i64::MAX)),
                ("PEXPIREAT k 99999999999999", int(1)),
                ("EXPIRETIME k", int(100_000_000_000)),
                ("PEXPIRETIME k", int(99_999_999_999_999)),
                ("EXPIREAT k 100000000000", int(1)),
                ("EXPIRETIME k", int(100_000_000_000)),
                ("EXPIRE", arity("expire")),
                ("EXPIRE k", arity("expire")),
                ("TTL", arity("ttl")),
                ("PERSIST", arity("persist")),
                // A deadline in the past deletes the key at once.
                ("EXPIRE k -1", int(1)),
                ("EXISTS k", int(0)),
                ("SET k v", ok()),
                ("EXPIREAT k 0", int(1)),
                ("EXISTS k", int(0)),
                ("SET k v", ok()),
                ("PEXPIRE k 0", int(1)),
                ("EXISTS k", int(0)),
                ("SET k v", ok()),
                ("PEXPIREAT k 1", int(1)),
                ("DBSIZE", int(0)),
                ("SET k v", ok()),
                ("PEXPIRE k -9223372036854775808", int(1)),
                ("EXISTS k", int(0)),
            ],
        );
        assert_eq!(c.qs("SET k v"), ok());
        assert_eq!(c.qs("PEXPIRE k 100000"), int(1));
        in_range(&c.qs("PTTL k"), 98_000, 100_000, "PEXPIRE");
        in_range(&c.qs("TTL k"), 99, 100, "TTL rounds");
        let at = now_ms() / 1000 + 1000;
        assert_eq!(c.q(&["EXPIREAT", "k", &at.to_string()]), int(1));
        assert_eq!(c.qs("EXPIRETIME k"), int(at));
        assert_eq!(c.qs("PEXPIRETIME k"), int(at * 1000));
    });
}

/// Keys with a TTL disappear by themselves: lazily when read, and actively
/// (DBSIZE drops without anyone touching them).
#[test]
fn keys_expire_lazily_and_actively() {
    let n = Node::start(&[]);
    let mut c = Resp::connect(n.port);
    // Lazy: read right after the deadline.
    assert_eq!(c.qs("SET lazy v PX 500"), ok());
    assert_eq!(c.qs("GET lazy"), bulk("v"));
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(c.qs("GET lazy"), Reply::Nil);
    assert_eq!(c.qs("TTL lazy"), int(-2));
    // Active: many keys nobody reads again.
    for i in 0..300 {
        assert_eq!(
            c.q(&["SET", &format!("active:{i}"), "v", "PX", "100"]),
            ok()
        );
    }
    assert_eq!(c.qs("SET keep v"), ok());
    assert_eq!(c.qs("SELECT 3"), ok());
    assert_eq!(c.qs("SET other v PX 100"), ok());
    assert_eq!(c.qs("SELECT 0"), ok());
    let start = Instant::now();
    let gone = wait_until(Duration::from_secs(3), || c.qs("DBSIZE") == int(1));
    assert!(
        gone,
        "expired keys still counted after 3 s: DBSIZE {:?}",
        c.qs("DBSIZE")
    );
    eprintln!("active expiry took {:?}", start.elapsed());
    let info = c.qs("INFO keyspace").text();
    assert!(info.contains("db0:keys=1,expires=0"), "{info}");
    assert!(!info.contains("db3:"), "db3 should be empty: {info}");
    let stats = c.qs("INFO stats").text();
    let expired: i64 = info_field(&stats, "expired_keys")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    assert!(expired >= 301, "expired_keys {expired}");
    // The deletions are durable: after a restart they stay gone.
    drop(c);
    let mut n = n;
    n.stop();
    n.launch();
    let mut c = Resp::connect(n.port);
    assert_eq!(c.qs("DBSIZE"), int(1));
    assert_eq!(c.qs("GET keep"), bulk("v"));
}

#[test]
fn select_flush_dbsize() {
    both(&[], |port, t| {
        let mut c = Resp::connect(port);
        script(
            &mut c,
            t,
            &[
                ("SELECT 16", err("ERR DB index is out of range")),
                ("SELECT -1", err("ERR DB index is out of range")),
                ("SELECT abc", err(NOT_INT)),
                (
                    "SELECT 99999999999",
                    err("ERR value is out of range, value must between -2147483648 and 2147483647"),
                ),
                ("SELECT", arity("select")),
                ("SELECT 0 1", arity("select")),
            ],
        );
        for db in 0..16 {
            assert_eq!(c.q(&["SELECT", &db.to_string()]), ok());
            for i in 0..=db {
                assert_eq!(c.q(&["SET", &format!("k{i}"), &format!("db{db}")]), ok());
            }
        }
        for db in 0..16 {
            assert_eq!(c.q(&["SELECT", &db.to_string()]), ok());
            assert_eq!(c.qs("DBSIZE"), int(db + 1), "[{t:?}] db {db}");
            assert_eq!(c.qs("GET k0"), bulk(&format!("db{db}")));
        }
        script(
            &mut c,
            t,
            &[
                ("SELECT 5", ok()),
                ("FLUSHDB", ok()),
                ("DBSIZE", int(0)),
                ("SELECT 6", ok()),
                ("DBSIZE", int(7)),
                ("FLUSHDB ASYNC", ok()),
                ("FLUSHDB sync", ok()),
                ("FLUSHDB FOO", err(SYNTAX)),
                ("FLUSHDB SYNC extra", err(SYNTAX)),
                ("FLUSHALL FOO", err(SYNTAX)),
                ("DBSIZE x", arity("dbsize")),
                ("SELECT 7", ok()),
                ("DBSIZE", int(8)),
                ("FLUSHALL", ok()),
                ("DBSIZE", int(0)),
                ("SELECT 0", ok()),
                ("DBSIZE", int(0)),
                ("SET a 1", ok()),
                ("FLUSHALL ASYNC", ok()),
                ("DBSIZE", int(0)),
            ],
        );
    });
}

// ----- connection -----

#[test]
fn auth_with_requirepass() {
    let check = |port: u16, t: Target| {
        let mut c = Resp::connect(port);
        script(
            &mut c,
            t,
            &[
                ("GET a", err("NOAUTH Authentication required.")),
                ("PING", err("NOAUTH Authentication required.")),
                // Unknown commands and wrong arity are answered first.
                ("FOO", err("ERR unknown command 'FOO', with args beginning with: ")),
                ("GET", arity("get")),
                ("MULTI", err("NOAUTH Authentication required.")),
                ("EXEC", err("EXECABORT Transaction discarded because of: NOAUTH Authentication required.")),
                ("HELLO 3", err("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time")),
                ("AUTH wrong", err("WRONGPASS invalid username-password pair or user is disabled.")),
                ("AUTH default wrong", err("WRONGPASS invalid username-password pair or user is disabled.")),
                ("AUTH other secret", err("WRONGPASS invalid username-password pair or user is disabled.")),
                ("AUTH a b c", err(SYNTAX)),
                ("HELLO 2 AUTH default wrong", err("WRONGPASS invalid username-password pair or user is disabled.")),
                ("AUTH secret", ok()),
                ("SET a 1", ok()),
                ("GET a", bulk("1")),
                // RESET logs out.
                ("RESET", st("RESET")),
                ("GET a", err("NOAUTH Authentication required.")),
                ("AUTH default secret", ok()),
                ("GET a", bulk("1")),
                ("RESET", st("RESET")),
            ],
        );
        let r = c.qs("HELLO 2 AUTH default secret SETNAME me");
        assert_eq!(r.items()[0], bulk("server"), "[{t:?}]");
        assert_eq!(c.qs("CLIENT GETNAME"), bulk("me"), "[{t:?}]");
        assert_eq!(c.qs("GET a"), bulk("1"), "[{t:?}]");
        // A new connection starts unauthenticated.
        let mut c2 = Resp::connect(port);
        assert_eq!(
            c2.qs("GET a"),
            err("NOAUTH Authentication required."),
            "[{t:?}]"
        );
    };
    {
        let r = RealRedis::start(&["--requirepass", "secret"]);
        check(r.port, Target::Redis);
    }
    let n = Node::start(&["requirepass secret"]);
    check(n.port, Target::Sledis);
    // redis-cli with -a.
    let out = redis_cli(n.port, &["--no-auth-warning", "-a", "secret", "PING"]);
    assert_eq!(out.trim(), "PONG");
    let out = redis_cli(n.port, &["GET", "a"]);
    assert!(out.contains("NOAUTH Authentication required."), "{out}");
    // Without requirepass, AUTH says so.
    both(&[], |port, t| {
        let mut c = Resp::connect(port);
        script(
            &mut c,
            t,
            &[
                ("AUTH foo", err("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?")),
                // The default user has no password: any password is accepted.
                ("AUTH default foo", ok()),
                ("AUTH someone foo", err("WRONGPASS invalid username-password pair or user is disabled.")),
            ],
        );
    });
}

#[test]
fn hello_switches_protocol() {
    both(&[], |port, t| {
        let mut c = Resp::connect(port);
        let id = c.qs("CLIENT ID").int();
        let r = c.qs("HELLO 3");
        let Reply::Map(m) = &r else {
            panic!("[{t:?}] HELLO 3 must answer a map: {r:?}")
        };
        let get = |k: &str| {
            m.iter()
                .find(|(a, _)| *a == bulk(k))
                .map(|(_, v)| v.clone())
        };
        assert_eq!(get("server"), Some(bulk("redis")));
        assert_eq!(get("version"), Some(bulk("7.0.15")));
        assert_eq!(get("proto"), Some(int(3)));
        assert_eq!(get("id"), Some(int(id)));
        assert_eq!(get("mode"), Some(bulk("standalone")));
        assert_eq!(get("role"), Some(bulk("master")));
        assert_eq!(get("modules"), Some(arr(vec![])));
        script(
            &mut c,
            t,
            &[
                ("GET nokey", Reply::Null),
                ("SET k v", ok()),
                ("MGET k nokey", arr(vec![bulk("v"), Reply::Null])),
                (
                    "CONFIG GET maxmemory",
                    Reply::Map(vec![(bulk("maxmemory"), bulk("0"))]),
                ),
                ("HELLO 4", err("NOPROTO unsupported protocol version")),
                (
                    "HELLO abc",
                    err("ERR Protocol version is not an integer or out of range"),
                ),
                ("HELLO 3 FOO", err("ERR Syntax error in HELLO option 'FOO'")),
                (
                    "HELLO 3 AUTH default",
                    err("ERR Syntax error in HELLO option 'AUTH'"),
                ),
                (
                    "HELLO 3 SETNAME",
                    err("ERR Syntax error in HELLO option 'SETNAME'"),
                ),
                (
                    "HELLO 3 SETNAME bad\x01name",
                    err("ERR Client names cannot contain spaces, newlines or special characters."),
                ),
            ],
        );
        let r = c.qs("HELLO 2 SETNAME conn1");
        assert!(
            matches!(r, Reply::Array(ref v) if v.len() == 14),
            "[{t:?}] HELLO 2 answers a flat array: {r:?}"
        );
        assert_eq!(c.qs("CLIENT GETNAME"), bulk("conn1"));
        assert_eq!(c.qs("GET nokey"), Reply::Nil);
        // HELLO without a version keeps the current one.
        let r = c.qs("HELLO");
        assert_eq!(r.items()[5], int(2), "[{t:?}]");
    });
}

#[test]
fn client_commands() {
    both(&[], |port, t| {
        let mut c = Resp::connect(port);
        let id = c.qs("CLIENT ID").int();
        let mut other = Resp::connect(port);
        let other_id = other.qs("CLIENT ID").int();
        assert!(other_id > id, "[{t:?}]");
        script(
            &mut c,
            t,
            &[
                ("CLIENT GETNAME", Reply::Nil),
                ("CLIENT SETNAME worker-1", ok()),
                ("CLIENT GETNAME", bulk("worker-1")),
                (
                    "CLIENT SETNAME a\x01b",
                    err("ERR Client names cannot contain spaces, newlines or special characters."),
                ),
                (
                    "CLIENT FOO",
                    err("ERR unknown subcommand 'FOO'. Try CLIENT HELP."),
                ),
                (
                    "client foo bar",
                    err("ERR unknown subcommand 'foo'. Try CLIENT HELP."),
                ),
                ("CLIENT", arity("client")),
                ("CLIENT ID x", arity("client|id")),
                ("CLIENT INFO x", arity("client|info")),
                ("CLIENT KILL", arity("client|kill")),
                ("CLIENT SETNAME", arity("client|setname")),
                ("CLIENT KILL 1.2.3.4:5", err("ERR No such client")),
                (
                    "CLIENT KILL ID abc",
                    err("ERR client-id should be greater than 0"),
                ),
                (
                    "CLIENT KILL ID 0",
                    err("ERR client-id should be greater than 0"),
                ),
                ("CLIENT KILL ID 999999", int(0)),
                ("CLIENT KILL FOO bar", err(SYNTAX)),
                ("CLIENT KILL TYPE foo", err("ERR Unknown client type 'foo'")),
                ("CLIENT LIST TYPE foo", err("ERR Unknown client type 'foo'")),
                ("CLIENT LIST ID abc", err("ERR Invalid client ID")),
                ("CLIENT LIST ID 0", Reply::Bulk(vec![])),
                ("CLIENT LIST TYPE normal ID 1", err(SYNTAX)),
                ("CLIENT LIST FOO", err(SYNTAX)),
                ("CLIENT LIST TYPE FOO", err("ERR Unknown client type 'FOO'")),
                ("CLIENT KILL TYPE FOO", err("ERR Unknown client type 'FOO'")),
                ("CLIENT KILL USER nobody", err("ERR No such user 'nobody'")),
                ("CLIENT KILL MAXAGE 10", err(SYNTAX)),
                ("CLIENT KILL SKIPME maybe", err(SYNTAX)),
                ("CLIENT KILL TYPE pubsub", int(0)),
                ("CLIENT NO-EVICT on", ok()),
                ("CLIENT NO-EVICT maybe", err(SYNTAX)),
                ("CLIENT GETREDIR", int(-1)),
                ("CLIENT UNBLOCK 12345", int(0)),
                (
                    "CLIENT UNBLOCK 12345 FOO",
                    err("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR"),
                ),
            ],
        );
        assert_eq!(
            c.q(&["CLIENT", "SETNAME", "a b"]),
            err("ERR Client names cannot contain spaces, newlines or special characters.")
        );
        let info = c.qs("CLIENT INFO").text();
        assert!(
            info.starts_with(&format!("id={id} addr=127.0.0.1:")),
            "[{t:?}] {info}"
        );
        assert!(
            info.contains(" name=worker-1 ") && info.contains(" db=0 ") && info.ends_with('\n'),
            "[{t:?}] {info}"
        );
        // A connection the harness used to see the server up may still be
        // closing on the server's side (seen on Redis): wait for it to go.
        let mut list = String::new();
        let two = wait_until(Duration::from_secs(5), || {
            list = c.qs("CLIENT LIST").text();
            list.lines().count() == 2
        });
        assert!(two, "[{t:?}] two clients: {list}");
        assert!(list.contains(&format!("id={other_id} ")), "[{t:?}] {list}");
        let only = c.q(&["CLIENT", "LIST", "ID", &other_id.to_string()]).text();
        assert_eq!(only.lines().count(), 1);
        // Several ids: in the order asked.
        let two = c
            .q(&[
                "CLIENT",
                "LIST",
                "ID",
                &other_id.to_string(),
                &id.to_string(),
            ])
            .text();
        let order: Vec<&str> = two
            .lines()
            .map(|l| l.split(' ').next().unwrap_or(""))
            .collect();
        assert_eq!(
            order,
            vec![format!("id={other_id}"), format!("id={id}")],
            "[{t:?}] {two}"
        );
        let normal = c.qs("CLIENT LIST TYPE normal").text();
        assert_eq!(normal.lines().count(), 2, "[{t:?}] {normal}");
        assert!(
            only.starts_with(&format!("id={other_id} ")),
            "[{t:?}] {only}"
        );
        // Kill by address, then by id.
        let addr = info_field(&only.replace(' ', "\n").replace('=', ":"), "addr").expect("addr");
        assert_eq!(c.q(&["CLIENT", "KILL", &addr]), ok());
        other.set_timeout(Duration::from_secs(5));
        assert!(other.closed(), "[{t:?}] killed client still connected");
        let mut third = Resp::connect(port);
        let third_id = third.qs("CLIENT ID").int();
        assert_eq!(
            c.q(&["CLIENT", "KILL", "ID", &third_id.to_string()]),
            int(1)
        );
        assert!(third.closed(), "[{t:?}] killed client still connected");
        // SKIPME yes (the default) spares the caller.
        assert_eq!(c.q(&["CLIENT", "KILL", "ID", &id.to_string()]), int(0));
        assert_eq!(c.qs("PING"), st("PONG"));
        // CLIENT LIST shows a transaction's queued commands.
        let mut tx = Resp::connect(port);
        let tx_id = tx.qs("CLIENT ID").int();
        assert_eq!(tx.qs("MULTI"), ok());
        assert_eq!(tx.qs("PING"), st("QUEUED"));
        assert_eq!(tx.qs("PING"), st("QUEUED"));
        let line = c.q(&["CLIENT", "LIST", "ID", &tx_id.to_string()]).text();
        assert!(
            line.contains(" flags=x ") && line.contains(" multi=2 "),
            "[{t:?}] {line}"
        );
        assert_eq!(tx.qs("DISCARD"), ok());
        let line = c.q(&["CLIENT", "LIST", "ID", &tx_id.to_string()]).text();
        assert!(
            line.contains(" flags=N ") && line.contains(" multi=-1 "),
            "[{t:?}] {line}"
        );
        // A client may kill itself: it gets its reply, then the connection ends.
        let mut me = Resp::connect(port);
        let my_id = me.qs("CLIENT ID").int();
        assert_eq!(
            me.q(&["CLIENT", "KILL", "ID", &my_id.to_string(), "SKIPME", "no"]),
            int(1),
            "[{t:?}]"
        );
        assert!(me.closed(), "[{t:?}]");
        let mut me = Resp::connect(port);
        let my_info = me.qs("CLIENT INFO").text();
        let my_addr =
            info_field(&my_info.replace(' ', "\n").replace('=', ":"), "addr").expect("addr");
        assert_eq!(me.q(&["CLIENT", "KILL", &my_addr]), ok(), "[{t:?}]");
        assert!(me.closed(), "[{t:?}]");
    });
}

#[test]
fn command_count_info_docs() {
    both(&[], |port, t| {
        let mut c = Resp::connect(port);
        let count = c.qs("COMMAND COUNT").int();
        let all = c.qs("COMMAND");
        assert_eq!(
            all.items().len() as i64,
            count,
            "[{t:?}] COMMAND vs COMMAND COUNT"
        );
        // COMMAND LIST names subcommands too ("config|get").
        let list: Vec<String> = c
            .qs("COMMAND LIST")
            .items()
            .iter()
            .map(|r| r.text())
            .collect();
        assert_eq!(
            list.iter().filter(|n| !n.contains('|')).count() as i64,
            count,
            "[{t:?}] COMMAND LIST"
        );
        for sub in ["config|get", "client|kill", "command|docs", "pubsub|numsub"] {
            assert!(
                list.iter().any(|n| n == sub),
                "[{t:?}] COMMAND LIST lacks {sub}"
            );
        }
        let info = c.qs("COMMAND INFO get set nosuchcmd");
        let items = info.items();
        assert_eq!(items.len(), 3);
        let get = items[0].items();
        assert_eq!(get[0], bulk("get"));
        assert_eq!(get[1], int(2));
        assert!(
            get[2].items().contains(&st("readonly")) && get[2].items().contains(&st("fast")),
            "[{t:?}] {get:?}"
        );
        assert_eq!(&get[3..6], &[int(1), int(1), int(1)]);
        assert_eq!(items[1].items()[1], int(-3));
        assert_eq!(
            items[2],
            Reply::Nil,
            "[{t:?}] unknown command in COMMAND INFO"
        );
        let docs = c.qs("COMMAND DOCS get nosuchcmd");
        let d = docs.items();
        assert_eq!(d.len(), 2, "[{t:?}] {docs:?}");
        assert_eq!(d[0], bulk("get"));
        let fields = d[1].items();
        let summary_at = fields
            .iter()
            .position(|f| *f == bulk("summary"))
            .expect("summary");
        assert!(!fields[summary_at + 1].text().is_empty());
        assert!(fields.contains(&bulk("since")) && fields.contains(&bulk("group")));
        script(
            &mut c,
            t,
            &[
                ("COMMAND COUNT x", arity("command|count")),
                (
                    "COMMAND FOO",
                    err("ERR unknown subcommand 'FOO'. Try COMMAND HELP."),
                ),
                ("COMMAND GETKEYS GET k", bulks(&["k"])),
                ("COMMAND GETKEYS MSET a 1 b 2", bulks(&["a", "b"])),
                (
                    "COMMAND GETKEYS nosuch a",
                    err("ERR Invalid command specified"),
                ),
                (
                    "COMMAND GETKEYS SET a",
                    err("ERR Invalid number of arguments specified for command"),
                ),
                (
                    "COMMAND GETKEYS PING a",
                    err("ERR The command has no key arguments"),
                ),
                ("COMMAND LIST FOO", err(SYNTAX)),
                ("COMMAND LIST FILTERBY PATTERN getd*", bulks(&["getdel"])),
            ],
        );
    });
    // redis-cli reads COMMAND DOCS for its hints and must get along with us.
    let n = Node::start(&[]);
    assert_eq!(redis_cli(n.port, &["SET", "k", "hello"]).trim(), "OK");
    assert_eq!(redis_cli(n.port, &["GET", "k"]).trim(), "hello");
    assert_eq!(
        redis_cli(n.port, &["--no-raw", "INCR", "n"]).trim(),
        "(integer) 1"
    );
    assert_eq!(
        redis_cli(n.port, &["--no-raw", "GET", "nokey"]).trim(),
        "(nil)"
    );
    let out = redis_cli(n.port, &["--no-raw", "FOO", "a"]);
    assert_eq!(
        out.trim(),
        "(error) ERR unknown command 'FOO', with args beginning with: 'a'"
    );
    let out = redis_cli(n.port, &["--no-raw", "COMMAND", "COUNT"]);
    assert!(out.starts_with("(integer) "), "{out}");
}

#[test]
fn reset_and_quit() {
    both(&[], |port, t| {
        let mut c = Resp::connect(port);
        let mut pubber = Resp::connect(port);
        script(
            &mut c,
            t,
            &[
                ("SELECT 3", ok()),
                ("CLIENT SETNAME someone", ok()),
                ("SET k v", ok()),
                ("WATCH k", ok()),
                ("MULTI", ok()),
                ("SET k w", st("QUEUED")),
                ("RESET", st("RESET")),
                ("CLIENT GETNAME", Reply::Nil),
                ("EXEC", err("ERR EXEC without MULTI")),
                ("GET k", Reply::Nil),
                ("SELECT 3", ok()),
                ("GET k", bulk("v")),
                ("RESET x", arity("reset")),
            ],
        );
        assert_eq!(c.qs("SUBSCRIBE ch").items().len(), 3);
        assert_eq!(
            c.qs("RESET"),
            st("RESET"),
            "[{t:?}] RESET leaves the subscribed context"
        );
        assert_eq!(pubber.qs("PUBLISH ch x"), int(0), "[{t:?}]");
        assert!(!c.qs("HELLO 3").is_error());
        assert_eq!(c.qs("RESET"), st("RESET"));
        assert_eq!(
            c.qs("GET nokey"),
            Reply::Nil,
            "[{t:?}] RESET goes back to RESP2"
        );
        // QUIT is not queued by MULTI.
        assert_eq!(c.qs("MULTI"), ok());
        assert_eq!(c.qs("QUIT extra"), ok());
        c.set_timeout(Duration::from_secs(5));
        assert!(c.closed(), "[{t:?}] QUIT must close the connection");
    });
}

// ----- pub/sub -----

#[test]
fn pubsub_messages_and_context() {
    both(&[], |port, t| {
        let mut sub = Resp::connect(port);
        let mut p = Resp::connect(port);
        sub.send(&["SUBSCRIBE", "news", "weather"]);
        assert_eq!(
            sub.read(),
            arr(vec![bulk("subscribe"), bulk("news"), int(1)])
        );
        assert_eq!(
            sub.read(),
            arr(vec![bulk("subscribe"), bulk("weather"), int(2)])
        );
        assert_eq!(
            sub.q(&["PSUBSCRIBE", "n*"]),
            arr(vec![bulk("psubscribe"), bulk("n*"), int(3)])
        );
        // Subscribing again to the same channel changes nothing.
        assert_eq!(
            sub.q(&["SUBSCRIBE", "news"]),
            arr(vec![bulk("subscribe"), bulk("news"), int(3)])
        );
        // Only pub/sub commands in a RESP2 subscribed context.
        assert_eq!(
            sub.qs("GET k"),
            err("ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"),
            "[{t:?}]"
        );
        assert_eq!(
            sub.qs("CLIENT INFO"),
            err("ERR Can't execute 'client|info': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"),
            "[{t:?}]"
        );
        assert_eq!(
            sub.qs("PUBLISH news x"),
            err("ERR Can't execute 'publish': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"),
            "[{t:?}]"
        );
        assert_eq!(
            sub.qs("PUBSUB NUMPAT"),
            err("ERR Can't execute 'pubsub|numpat': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"),
            "[{t:?}]"
        );
        assert_eq!(sub.qs("PING"), arr(vec![bulk("pong"), bulk("")]));
        assert_eq!(sub.qs("PING hi"), arr(vec![bulk("pong"), bulk("hi")]));
        // PUBLISH counts receivers: a channel and a matching pattern.
        assert_eq!(p.qs("PUBLISH news hello"), int(2), "[{t:?}]");
        let mut got = vec![sub.read(), sub.read()];
        got.sort_by_key(|r| format!("{r:?}"));
        assert_eq!(
            got,
            vec![
                arr(vec![bulk("message"), bulk("news"), bulk("hello")]),
                arr(vec![
                    bulk("pmessage"),
                    bulk("n*"),
                    bulk("news"),
                    bulk("hello")
                ]),
            ],
            "[{t:?}]"
        );
        assert_eq!(p.qs("PUBLISH weather rain"), int(1));
        assert_eq!(
            sub.read(),
            arr(vec![bulk("message"), bulk("weather"), bulk("rain")])
        );
        assert_eq!(p.qs("PUBLISH nothing x"), int(1));
        assert_eq!(
            sub.read(),
            arr(vec![
                bulk("pmessage"),
                bulk("n*"),
                bulk("nothing"),
                bulk("x")
            ])
        );
        assert_eq!(p.qs("PUBLISH other x"), int(0));
        // Binary payloads pass untouched.
        let payload: Vec<u8> = (0..=255u8).rev().collect();
        assert_eq!(p.q(&[&b"PUBLISH"[..], b"weather", &payload]), int(1));
        assert_eq!(
            sub.read(),
            arr(vec![bulk("message"), bulk("weather"), Reply::Bulk(payload)])
        );
        // Introspection.
        let mut chans: Vec<String> = p
            .qs("PUBSUB CHANNELS")
            .items()
            .iter()
            .map(|r| r.text())
            .collect();
        chans.sort();
        assert_eq!(chans, vec!["news", "weather"]);
        assert_eq!(p.qs("PUBSUB CHANNELS w*"), bulks(&["weather"]));
        assert_eq!(
            p.qs("PUBSUB NUMSUB news nobody"),
            arr(vec![bulk("news"), int(1), bulk("nobody"), int(0)])
        );
        assert_eq!(p.qs("PUBSUB NUMPAT"), int(1));
        assert_eq!(p.qs("PUBSUB NUMPAT x"), arity("pubsub|numpat"));
        assert_eq!(
            p.qs("PUBSUB FOO"),
            err("ERR unknown subcommand 'FOO'. Try PUBSUB HELP.")
        );
        assert_eq!(p.qs("PUBSUB CHANNELS a b"), err("ERR unknown subcommand or wrong number of arguments for 'CHANNELS'. Try PUBSUB HELP."));
        assert_eq!(p.qs("PUBLISH x"), arity("publish"));
        assert_eq!(p.qs("SUBSCRIBE"), arity("subscribe"));
        // Leaving.
        assert_eq!(
            sub.qs("UNSUBSCRIBE news"),
            arr(vec![bulk("unsubscribe"), bulk("news"), int(2)])
        );
        assert_eq!(
            sub.qs("UNSUBSCRIBE nosuch"),
            arr(vec![bulk("unsubscribe"), bulk("nosuch"), int(2)])
        );
        assert_eq!(
            sub.qs("PUNSUBSCRIBE"),
            arr(vec![bulk("punsubscribe"), bulk("n*"), int(1)])
        );
        assert_eq!(
            sub.qs("UNSUBSCRIBE"),
            arr(vec![bulk("unsubscribe"), bulk("weather"), int(0)])
        );
        assert_eq!(
            sub.qs("UNSUBSCRIBE"),
            arr(vec![bulk("unsubscribe"), Reply::Nil, int(0)])
        );
        assert_eq!(
            p.qs("PUBSUB NUMSUB news weather"),
            arr(vec![bulk("news"), int(0), bulk("weather"), int(0)])
        );
        assert_eq!(p.qs("PUBSUB NUMPAT"), int(0));
        // Out of the subscribed context, everything works again.
        assert_eq!(sub.qs("SET k v"), ok());
        assert_eq!(sub.qs("PING"), st("PONG"));
        // RESP3: pushes, and any command while subscribed.
        assert!(!sub.qs("HELLO 3").is_error());
        assert_eq!(
            sub.qs("SUBSCRIBE ch3"),
            Reply::Push(vec![bulk("subscribe"), bulk("ch3"), int(1)])
        );
        assert_eq!(
            sub.qs("GET k"),
            bulk("v"),
            "[{t:?}] RESP3 allows commands while subscribed"
        );
        assert_eq!(p.qs("PUBLISH ch3 m"), int(1));
        assert_eq!(
            sub.read(),
            Reply::Push(vec![bulk("message"), bulk("ch3"), bulk("m")])
        );
        // A subscriber that disconnects stops counting.
        drop(sub);
        assert!(
            wait_until(Duration::from_secs(5), || p.qs("PUBLISH ch3 m") == int(0)),
            "[{t:?}]"
        );
    });
}

#[test]
fn subscribe_inside_multi() {
    both(&[], |port, t| {
        let mut c = Resp::connect(port);
        let mut p = Resp::connect(port);
        script(&mut c, t, &[("MULTI", ok()), ("SUBSCRIBE x", st("QUEUED"))]);
        assert_eq!(
            c.qs("EXEC"),
            arr(vec![arr(vec![bulk("subscribe"), bulk("x"), int(1)])]),
            "[{t:?}]"
        );
        assert_eq!(p.qs("PUBLISH x hi"), int(1), "[{t:?}]");
        assert_eq!(c.read(), arr(vec![bulk("message"), bulk("x"), bulk("hi")]));
        script(
            &mut c,
            t,
            &[
                ("MULTI", err("ERR Can't execute 'multi': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context")),
                ("EXEC", err("EXECABORT Transaction discarded because of: Can't execute 'exec': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context")),
            ],
        );
    });
}

// ----- transactions -----

#[test]
fn multi_exec_discard() {
    both(&[], |port, t| {
        let mut c = Resp::connect(port);
        script(
            &mut c,
            t,
            &[
                ("EXEC", err("ERR EXEC without MULTI")),
                ("DISCARD", err("ERR DISCARD without MULTI")),
                ("MULTI", ok()),
                ("MULTI", err("ERR MULTI calls can not be nested")),
                ("SET a 1", st("QUEUED")),
                ("INCR a", st("QUEUED")),
                ("GET a", st("QUEUED")),
                ("EXEC", arr(vec![ok(), int(2), bulk("2")])),
                ("MULTI", ok()),
                ("EXEC", arr(vec![])),
                // An error inside EXEC does not stop the others.
                ("SET s abc", ok()),
                ("MULTI", ok()),
                ("INCR s", st("QUEUED")),
                ("SET b 2", st("QUEUED")),
                ("INCRBY b x", st("QUEUED")),
                ("GET b", st("QUEUED")),
                ("EXEC", arr(vec![err(NOT_INT), ok(), err(NOT_INT), bulk("2")])),
                // DISCARD drops the queue.
                ("MULTI", ok()),
                ("SET a discarded", st("QUEUED")),
                ("DISCARD", ok()),
                ("GET a", bulk("2")),
                // Errors while queueing abort the transaction.
                ("MULTI", ok()),
                ("SET a x", st("QUEUED")),
                ("FOO bar", err("ERR unknown command 'FOO', with args beginning with: 'bar' ")),
                ("EXEC", err("EXECABORT Transaction discarded because of previous errors.")),
                ("GET a", bulk("2")),
                ("MULTI", ok()),
                ("SET a", arity("set")),
                ("GET a", st("QUEUED")),
                ("EXEC", err("EXECABORT Transaction discarded because of previous errors.")),
                ("MULTI", ok()),
                ("CLIENT FOO", err("ERR unknown subcommand 'FOO'. Try CLIENT HELP.")),
                ("EXEC", err("EXECABORT Transaction discarded because of previous errors.")),
                ("MULTI", ok()),
                ("CLIENT KILL", arity("client|kill")),
                ("EXEC", err("EXECABORT Transaction discarded because of previous errors.")),
                // A refused EXEC aborts at once.
                ("MULTI", ok()),
                ("SET a y", st("QUEUED")),
                ("EXEC x", err("EXECABORT Transaction discarded because of: wrong number of arguments for 'exec' command")),
                ("EXEC", err("ERR EXEC without MULTI")),
                ("GET a", bulk("2")),
                ("EXEC x", err("EXECABORT Transaction discarded because of: wrong number of arguments for 'exec' command")),
                // Errors of the commands MULTI runs itself do not abort.
                ("MULTI", ok()),
                ("MULTI", err("ERR MULTI calls can not be nested")),
                ("WATCH a", err("ERR WATCH inside MULTI is not allowed")),
                ("SET a 3", st("QUEUED")),
                ("EXEC", arr(vec![ok()])),
                ("GET a", bulk("3")),
                // Only MULTI, EXEC, DISCARD, WATCH, QUIT and RESET skip the queue.
                ("MULTI", ok()),
                ("HELLO 2", st("QUEUED")),
                ("AUTH x", st("QUEUED")),
                ("UNWATCH", st("QUEUED")),
                ("CLIENT SETNAME tx", st("QUEUED")),
                ("SAVE", err("ERR Command not allowed inside a transaction")),
                ("EXEC", err("EXECABORT Transaction discarded because of previous errors.")),
                ("MULTI", ok()),
                ("SHUTDOWN", err("ERR Command not allowed inside a transaction")),
                ("DISCARD", ok()),
                ("MULTI", ok()),
                ("AUTH x", st("QUEUED")),
                ("UNWATCH", st("QUEUED")),
                ("CLIENT SETNAME tx", st("QUEUED")),
                ("CLIENT GETNAME", st("QUEUED")),
                (
                    "EXEC",
                    arr(vec![
                        err("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?"),
                        ok(),
                        ok(),
                        bulk("tx"),
                    ]),
                ),
                // INFO keyspace inside EXEC sees the transaction.
                ("SELECT 4", ok()),
                ("SET infokey v", ok()),
                ("MULTI", ok()),
                ("SET other v PX 100000000", st("QUEUED")),
                ("INFO keyspace", st("QUEUED")),
                ("FLUSHALL", st("QUEUED")),
                ("INFO keyspace", st("QUEUED")),
                ("EXEC", arr(vec![ok(), bulk("# Keyspace\r\ndb0:keys=3,expires=0,avg_ttl=0\r\ndb4:keys=2,expires=1,avg_ttl=0\r\n"), ok(), bulk("# Keyspace\r\n")])),
                ("SELECT 0", ok()),
                ("MULTI x", arity("multi")),
                ("DISCARD x", arity("discard")),
            ],
        );
        // A transaction's writes are seen together by another client.
        let mut other = Resp::connect(port);
        assert_eq!(c.qs("MULTI"), ok());
        assert_eq!(c.qs("SET t1 a"), st("QUEUED"));
        assert_eq!(
            other.qs("GET t1"),
            Reply::Nil,
            "[{t:?}] queued commands must not run"
        );
        assert_eq!(c.qs("SET t2 b"), st("QUEUED"));
        assert_eq!(c.qs("EXEC"), arr(vec![ok(), ok()]));
        assert_eq!(other.qs("MGET t1 t2"), bulks(&["a", "b"]));
    });
}

/// Keyspace-wide reads inside EXEC see the transaction's earlier writes.
#[test]
fn exec_sees_its_own_writes() {
    both(&[], |port, t| {
        let mut c = Resp::connect(port);
        script(&mut c, t, &[("MSET a 1 b 2", ok()), ("SET gone v", ok())]);
        for (line, reply) in [
            ("MULTI", ok()),
            ("SET c 3", st("QUEUED")),
            ("DEL gone", st("QUEUED")),
            ("DBSIZE", st("QUEUED")),
            ("KEYS *", st("QUEUED")),
            ("SCAN 0 COUNT 100", st("QUEUED")),
            ("FLUSHDB", st("QUEUED")),
            ("DBSIZE", st("QUEUED")),
            ("RANDOMKEY", st("QUEUED")),
            ("SET d 4", st("QUEUED")),
            ("DBSIZE", st("QUEUED")),
            ("KEYS *", st("QUEUED")),
            ("RANDOMKEY", st("QUEUED")),
            ("MOVE d 1", st("QUEUED")),
            ("SELECT 1", st("QUEUED")),
            ("DBSIZE", st("QUEUED")),
            ("SELECT 0", st("QUEUED")),
            ("DBSIZE", st("QUEUED")),
        ] {
            assert_eq!(c.qs(line), reply, "[{t:?}] {line}");
        }
        let r = c.qs("EXEC");
        let v = r.items();
        assert_eq!(v.len(), 17, "[{t:?}] {r:?}");
        assert_eq!(v[2], int(3), "[{t:?}] DBSIZE after SET and DEL in EXEC");
        let mut keys: Vec<String> = v[3].items().iter().map(|x| x.text()).collect();
        keys.sort();
        assert_eq!(keys, vec!["a", "b", "c"], "[{t:?}] KEYS in EXEC");
        let mut scanned: Vec<String> = v[4].items()[1].items().iter().map(|x| x.text()).collect();
        scanned.sort();
        assert_eq!(scanned, vec!["a", "b", "c"], "[{t:?}] SCAN in EXEC");
        assert_eq!(v[6], int(0), "[{t:?}] DBSIZE after FLUSHDB in EXEC");
        assert_eq!(v[7], Reply::Nil, "[{t:?}] RANDOMKEY of an emptied db");
        assert_eq!(v[9], int(1), "[{t:?}]");
        assert_eq!(v[10], bulks(&["d"]), "[{t:?}]");
        assert_eq!(v[11], bulk("d"), "[{t:?}]");
        assert_eq!(v[12], int(1), "[{t:?}]");
        assert_eq!(v[14], int(1), "[{t:?}] DBSIZE of db 1 after MOVE in EXEC");
        assert_eq!(v[16], int(0), "[{t:?}]");
        assert_eq!(c.qs("DBSIZE"), int(0));
    });
}

/// FLUSHDB/FLUSHALL abort only the transactions watching a key that
/// existed (Redis's touchAllWatchedKeysInDb).
#[test]
fn watch_of_missing_key_survives_flushdb() {
    both(&[], |port, t| {
        let mut c = Resp::connect(port);
        let mut other = Resp::connect(port);
        assert_eq!(c.qs("SET present v"), ok());
        assert_eq!(c.qs("WATCH missing"), ok());
        assert_eq!(other.qs("FLUSHDB"), ok());
        script(
            &mut c,
            t,
            &[
                ("MULTI", ok()),
                ("PING", st("QUEUED")),
                ("EXEC", arr(vec![st("PONG")])),
            ],
        );
        assert_eq!(c.qs("WATCH missing"), ok());
        assert_eq!(other.qs("FLUSHALL"), ok());
        script(
            &mut c,
            t,
            &[
                ("MULTI", ok()),
                ("PING", st("QUEUED")),
                ("EXEC", arr(vec![st("PONG")])),
            ],
        );
    });
}

#[test]
fn watch_aborts_exec() {
    both(&[], |port, t| {
        let mut c = Resp::connect(port);
        let mut other = Resp::connect(port);
        // Untouched: EXEC runs.
        script(
            &mut c,
            t,
            &[
                ("SET w 1", ok()),
                ("WATCH w", ok()),
                ("MULTI", ok()),
                ("INCR w", st("QUEUED")),
                ("EXEC", arr(vec![int(2)])),
            ],
        );
        // Another client's write: EXEC answers a null array.
        script(
            &mut c,
            t,
            &[("WATCH w", ok()), ("MULTI", ok()), ("INCR w", st("QUEUED"))],
        );
        assert_eq!(other.qs("SET w 10"), ok());
        assert_eq!(c.qs("EXEC"), Reply::NilArray, "[{t:?}]");
        assert_eq!(c.qs("GET w"), bulk("10"));
        // The write may come before MULTI too.
        assert_eq!(c.qs("WATCH w"), ok());
        assert_eq!(other.qs("DEL w"), int(1));
        script(
            &mut c,
            t,
            &[
                ("MULTI", ok()),
                ("SET w x", st("QUEUED")),
                ("EXEC", Reply::NilArray),
                ("EXISTS w", int(0)),
            ],
        );
        // A key that does not exist, then is created.
        assert_eq!(c.qs("WATCH w"), ok());
        assert_eq!(other.qs("SET w new"), ok());
        script(
            &mut c,
            t,
            &[
                ("MULTI", ok()),
                ("GET w", st("QUEUED")),
                ("EXEC", Reply::NilArray),
            ],
        );
        // FLUSHDB and FLUSHALL touch every watched key.
        assert_eq!(c.qs("WATCH w"), ok());
        assert_eq!(other.qs("FLUSHDB"), ok());
        script(
            &mut c,
            t,
            &[
                ("MULTI", ok()),
                ("PING", st("QUEUED")),
                ("EXEC", Reply::NilArray),
            ],
        );
        assert_eq!(c.qs("SET w 1"), ok());
        assert_eq!(c.qs("WATCH w"), ok());
        assert_eq!(other.qs("FLUSHALL"), ok());
        script(
            &mut c,
            t,
            &[
                ("MULTI", ok()),
                ("PING", st("QUEUED")),
                ("EXEC", Reply::NilArray),
            ],
        );
        // The same key name in another database is another key.
        assert_eq!(c.qs("SET w 1"), ok());
        assert_eq!(c.qs("WATCH w"), ok());
        assert_eq!(other.qs("SELECT 1"), ok());
        assert_eq!(other.qs("SET w 2"), ok());
        script(
            &mut c,
            t,
            &[
                ("MULTI", ok()),
                ("GET w", st("QUEUED")),
                ("EXEC", arr(vec![bulk("1")])),
            ],
        );
        // UNWATCH forgets; EXEC and DISCARD unwatch.
        assert_eq!(c.qs("WATCH w"), ok());
        assert_eq!(c.qs("UNWATCH"), ok());
        assert_eq!(other.qs("SELECT 0"), ok());
        assert_eq!(other.qs("SET w 3"), ok());
        script(
            &mut c,
            t,
            &[
                ("MULTI", ok()),
                ("GET w", st("QUEUED")),
                ("EXEC", arr(vec![bulk("3")])),
            ],
        );
        assert_eq!(c.qs("WATCH w"), ok());
        script(&mut c, t, &[("MULTI", ok()), ("DISCARD", ok())]);
        assert_eq!(other.qs("SET w 4"), ok());
        script(
            &mut c,
            t,
            &[
                ("MULTI", ok()),
                ("GET w", st("QUEUED")),
                ("EXEC", arr(vec![bulk("4")])),
            ],
        );
        // The client's own write also counts.
        assert_eq!(c.qs("WATCH w"), ok());
        assert_eq!(c.qs("SET w 5"), ok());
        script(
            &mut c,
            t,
            &[
                ("MULTI", ok()),
                ("GET w", st("QUEUED")),
                ("EXEC", Reply::NilArray),
            ],
        );
        // A watched key that expires before EXEC: EXEC fails.
        assert_eq!(c.qs("SET e v PX 300"), ok());
        assert_eq!(c.qs("WATCH e"), ok());
        std::thread::sleep(Duration::from_millis(400));
        script(
            &mut c,
            t,
            &[
                ("MULTI", ok()),
                ("PING", st("QUEUED")),
                ("EXEC", Reply::NilArray),
            ],
        );
        // A key already expired when watched: EXEC runs.
        assert_eq!(c.qs("SET e v PX 10"), ok());
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(c.qs("WATCH e"), ok());
        script(
            &mut c,
            t,
            &[
                ("MULTI", ok()),
                ("PING", st("QUEUED")),
                ("EXEC", arr(vec![st("PONG")])),
            ],
        );
        assert_eq!(c.qs("WATCH"), arity("watch"));
        assert_eq!(c.qs("UNWATCH x"), arity("unwatch"));
    });
}

// ----- server -----

#[test]
fn info_sections_and_fields() {
    let n = Node::start(&[]);
    let mut c = Resp::connect(n.port);
    let all = c.qs("INFO").text();
    for section in [
        "# Server",
        "# Clients",
        "# Memory",
        "# Persistence",
        "# Stats",
        "# Replication",
        "# Keyspace",
    ] {
        assert!(all.contains(section), "INFO lacks {section}");
    }
    assert_eq!(info_field(&all, "redis_version").as_deref(), Some("7.0.15"));
    assert_eq!(info_field(&all, "tcp_port"), Some(n.port.to_string()));
    assert_eq!(info_field(&all, "role").as_deref(), Some("master"));
    let replid = info_field(&all, "master_replid").expect("master_replid");
    assert!(
        replid.len() == 40 && replid.chars().all(|c| c.is_ascii_hexdigit()),
        "{replid}"
    );
    let repl = c.qs("INFO replication").text();
    assert!(
        repl.starts_with("# Replication\r\n") && !repl.contains("# Server"),
        "{repl}"
    );
    let off0: i64 = info_field(&repl, "master_repl_offset")
        .and_then(|v| v.parse().ok())
        .expect("offset");
    for i in 0..10 {
        assert_eq!(c.q(&["SET", &format!("k{i}"), "value"]), ok());
    }
    let off1: i64 = info_field(&c.qs("INFO replication").text(), "master_repl_offset")
        .and_then(|v| v.parse().ok())
        .expect("offset");
    assert!(
        off1 > off0,
        "master_repl_offset must grow with writes: {off0} -> {off1}"
    );
    // Reads do not move it.
    assert_eq!(c.qs("GET k1"), bulk("value"));
    let off2: i64 = info_field(&c.qs("INFO replication").text(), "master_repl_offset")
        .and_then(|v| v.parse().ok())
        .expect("offset");
    assert_eq!(off1, off2);
    assert_eq!(c.qs("SET t1 v EX 100"), ok());
    assert_eq!(c.qs("SET t2 v PX 100000"), ok());
    assert_eq!(c.qs("SELECT 2"), ok());
    assert_eq!(c.qs("SET x v"), ok());
    let ks = c.qs("INFO keyspace").text();
    assert!(ks.contains("db0:keys=12,expires=2,avg_ttl="), "{ks}");
    assert!(ks.contains("db2:keys=1,expires=0,avg_ttl="), "{ks}");
    assert!(!ks.contains("db1:"), "{ks}");
    // Several sections at once, any case.
    let two = c.qs("INFO SERVER clients").text();
    assert!(
        two.contains("# Server") && two.contains("# Clients") && !two.contains("# Keyspace"),
        "{two}"
    );
    let one = wait_until(Duration::from_secs(5), || {
        info_field(&c.qs("INFO clients").text(), "connected_clients").as_deref() == Some("1")
    });
    assert!(one, "connected_clients should be 1");
    let stats = c.qs("INFO stats").text();
    let cmds: i64 = info_field(&stats, "total_commands_processed")
        .and_then(|v| v.parse().ok())
        .expect("total_commands_processed");
    assert!(cmds >= 15, "{cmds}");
    // redis-cli prints it as text.
    let out = redis_cli(n.port, &["INFO", "server"]);
    assert!(out.contains("redis_version:7.0.15"), "{out}");
}

#[test]
fn config_get_set() {
    both(&[], |port, t| {
        let mut c = Resp::connect(port);
        let get = |c: &mut Resp, name: &str| -> Reply { c.q(&["CONFIG", "GET", name]) };
        assert_eq!(
            get(&mut c, "appendfsync"),
            bulks(&["appendfsync", "everysec"]),
            "[{t:?}]"
        );
        assert_eq!(c.qs("CONFIG SET appendfsync always"), ok());
        assert_eq!(
            get(&mut c, "appendfsync"),
            bulks(&["appendfsync", "always"])
        );
        assert_eq!(c.qs("SET durable v"), ok());
        assert_eq!(c.qs("CONFIG SET appendfsync no"), ok());
        assert_eq!(c.qs("CONFIG SET appendfsync everysec"), ok());
        assert_eq!(
            c.qs("CONFIG SET appendfsync maybe"),
            err("ERR CONFIG SET failed (possibly related to argument 'appendfsync') - argument(s) must be one of the following: everysec, always, no"),
            "[{t:?}]"
        );
        assert_eq!(c.q(&["CONFIG", "SET", "save", "3600 1 300 100"]), ok());
        assert_eq!(
            get(&mut c, "save"),
            bulks(&["save", "3600 1 300 100"]),
            "[{t:?}]"
        );
        assert_eq!(c.q(&["CONFIG", "SET", "save", ""]), ok());
        assert_eq!(get(&mut c, "save"), bulks(&["save", ""]), "[{t:?}]");
        // Patterns and several names; each parameter once.
        let r = c.qs("CONFIG GET appendfsy* appendfsync");
        assert_eq!(r, bulks(&["appendfsync", "everysec"]), "[{t:?}]");
        assert_eq!(get(&mut c, "nosuchparam"), arr(vec![]));
        script(
            &mut c,
            t,
            &[
                (
                    "CONFIG SET nosuchparam x",
                    err("ERR Unknown option or number of arguments for CONFIG SET - 'nosuchparam'"),
                ),
                ("CONFIG SET a b c", err(SYNTAX)),
                ("CONFIG GET", arity("config|get")),
                ("CONFIG SET appendfsync", arity("config|set")),
                (
                    "CONFIG FOO",
                    err("ERR unknown subcommand 'FOO'. Try CONFIG HELP."),
                ),
                ("CONFIG", arity("config")),
            ],
        );
    });
}

#[test]
fn time_and_lastsave() {
    both(&[], |port, t| {
        let mut c = Resp::connect(port);
        let r = c.qs("TIME");
        let items = r.items();
        assert_eq!(items.len(), 2, "[{t:?}]");
        let secs: i64 = items[0].text().parse().expect("seconds");
        let micros: i64 = items[1].text().parse().expect("micros");
        assert!((secs - now_ms() / 1000).abs() <= 2, "[{t:?}] TIME {secs}");
        assert!((0..1_000_000).contains(&micros));
        let last = c.qs("LASTSAVE").int();
        assert!(
            last >= 0 && last <= now_ms() / 1000 + 1,
            "[{t:?}] LASTSAVE {last}"
        );
        assert_eq!(c.qs("SET k v"), ok());
        assert_eq!(c.qs("SAVE"), ok());
        let after = c.qs("LASTSAVE").int();
        assert!(
            after >= now_ms() / 1000 - 2 && after >= last,
            "[{t:?}] LASTSAVE after SAVE: {after}"
        );
        assert_eq!(c.qs("TIME x"), arity("time"));
        assert_eq!(c.qs("LASTSAVE x"), arity("lastsave"));
    });
}

#[test]
fn debug_digest_compares_data() {
    let a = Node::start(&[]);
    let b = Node::start(&[]);
    let mut ca = Resp::connect(a.port);
    let mut cb = Resp::connect(b.port);
    let zeros = "0".repeat(40);
    assert_eq!(
        ca.qs("DEBUG DIGEST"),
        st(&zeros),
        "an empty keyspace digests to zeros"
    );
    // Same data, written in a different order and way: same digest.
    for c in [&mut ca, &mut cb] {
        assert_eq!(c.qs("SELECT 1"), ok());
    }
    assert_eq!(ca.qs("MSET a 1 b 2 c 3"), ok());
    assert_eq!(cb.qs("SET c 3"), ok());
    assert_eq!(cb.qs("SET b 1"), ok());
    assert_eq!(cb.qs("INCR b"), int(2));
    assert_eq!(cb.qs("SET a 1"), ok());
    let da = ca.qs("DEBUG DIGEST");
    let db = cb.qs("DEBUG DIGEST");
    assert_eq!(da, db);
    let Reply::Status(d) = &da else {
        panic!("{da:?}")
    };
    assert!(
        d.len() == 40 && d != &zeros && d.chars().all(|c| c.is_ascii_hexdigit()),
        "{d}"
    );
    // Different value, different key, different db, different TTL: different digests.
    assert_eq!(cb.qs("SET a 2"), ok());
    assert_ne!(ca.qs("DEBUG DIGEST"), cb.qs("DEBUG DIGEST"));
    assert_eq!(cb.qs("SET a 1"), ok());
    assert_eq!(ca.qs("DEBUG DIGEST"), cb.qs("DEBUG DIGEST"));
    assert_eq!(cb.qs("RENAME a z"), ok());
    assert_ne!(ca.qs("DEBUG DIGEST"), cb.qs("DEBUG DIGEST"));
    assert_eq!(cb.qs("RENAME z a"), ok());
    assert_eq!(cb.qs("MOVE a 2"), int(1));
    assert_ne!(ca.qs("DEBUG DIGEST"), cb.qs("DEBUG DIGEST"));
    assert_eq!(cb.qs("SELECT 2"), ok());
    assert_eq!(cb.qs("MOVE a 1"), int(1));
    assert_eq!(ca.qs("DEBUG DIGEST"), cb.qs("DEBUG DIGEST"));
    assert_eq!(cb.qs("SELECT 1"), ok());
    assert_eq!(cb.qs("PEXPIREAT a 99999999999999"), int(1));
    assert_ne!(ca.qs("DEBUG DIGEST"), cb.qs("DEBUG DIGEST"));
    assert_eq!(ca.qs("PEXPIREAT a 99999999999999"), int(1));
    assert_eq!(ca.qs("DEBUG DIGEST"), cb.qs("DEBUG DIGEST"));
    // DIGEST-VALUE: per key, zeros for a missing one.
    let v = ca.qs("DEBUG DIGEST-VALUE a nokey");
    assert_eq!(v.items().len(), 2);
    assert_eq!(v.items()[1], st(&zeros));
    assert_eq!(v, cb.qs("DEBUG DIGEST-VALUE a nokey"));
    // The digest survives a restart.
    let before = ca.qs("DEBUG DIGEST");
    drop(ca);
    let mut a = a;
    a.stop();
    a.launch();
    let mut ca = Resp::connect(a.port);
    assert_eq!(ca.qs("DEBUG DIGEST"), before);
}

// ----- generic errors -----

#[test]
fn unknown_command_and_arity_errors() {
    both(&[], |port, t| {
        let mut c = Resp::connect(port);
        script(
            &mut c,
            t,
            &[
                (
                    "foo",
                    err("ERR unknown command 'foo', with args beginning with: "),
                ),
                (
                    "foo a",
                    err("ERR unknown command 'foo', with args beginning with: 'a' "),
                ),
                (
                    "FOO a b",
                    err("ERR unknown command 'FOO', with args beginning with: 'a' 'b' "),
                ),
            ],
        );
        // The argument list stops after about 128 bytes, each argument cut to fit.
        let long = "x".repeat(200);
        let want = format!(
            "ERR unknown command 'foo', with args beginning with: '{}' ",
            &long[..128]
        );
        assert_eq!(c.q(&["foo", &long, "b"]), err(&want), "[{t:?}]");
        let many: Vec<String> = (0..60).map(|i| i.to_string()).collect();
        let mut args = vec!["foo".to_string()];
        args.extend(many.iter().cloned());
        let mut listed = String::new();
        for a in &many {
            if listed.len() >= 128 {
                break;
            }
            let room = 128 - listed.len();
            listed.push_str(&format!("'{}' ", &a[..a.len().min(room)]));
        }
        assert_eq!(
            c.q(&args),
            err(&format!(
                "ERR unknown command 'foo', with args beginning with: {listed}"
            )),
            "[{t:?}]"
        );
        let mid = format!("{} {}", "a".repeat(120), "b".repeat(20));
        let parts: Vec<&str> = mid.split(' ').collect();
        let want = format!(
            "ERR unknown command 'foo', with args beginning with: '{}' '{}' ",
            parts[0],
            &parts[1][..128 - 123]
        );
        assert_eq!(
            c.q(&["foo", parts[0], parts[1], "c"]),
            err(&want),
            "[{t:?}]"
        );
        let longname = "z".repeat(300);
        assert_eq!(
            c.q(&[longname.as_str()]),
            err(&format!(
                "ERR unknown command '{}', with args beginning with: ",
                &longname[..128]
            )),
            "[{t:?}]"
        );
    });
    // Every command in the table refuses a wrong number of arguments with
    // Redis's text (and the same arity as Redis).
    let n = Node::start(&[]);
    let r = RealRedis::start(&[]);
    let mut c = Resp::connect(n.port);
    let mut rc = Resp::connect(r.port);
    let table = c.qs("COMMAND");
    let mut checked = 0;
    for entry in table.items() {
        let e = entry.items();
        let name = e[0].text();
        let arity = e[1].int();
        let redis_arity = rc.q(&["COMMAND", "INFO", &name]).items()[0].clone();
        if let Reply::Array(ri) = &redis_arity {
            assert_eq!(ri[1], int(arity), "arity of {name} differs from Redis");
        }
        let argc = if arity > 0 {
            arity + 1
        } else if arity < -1 {
            -arity - 1
        } else {
            continue;
        };
        let mut args = vec![name.clone()];
        while (args.len() as i64) < argc {
            args.push("x".into());
        }
        let want = if name == "exec" {
            err("EXECABORT Transaction discarded because of: wrong number of arguments for 'exec' command")
        } else {
            err(&format!(
                "ERR wrong number of arguments for '{name}' command"
            ))
        };
        assert_eq!(c.q(&args), want, "{args:?}");
        checked += 1;
    }
    assert!(checked > 40, "only {checked} commands checked");
}

/// redis-cli builds its interactive hints (`set key value [NX|XX] ...`) from
/// COMMAND DOCS `arguments`; they come from the syntax table.
#[test]
fn command_docs_carry_arguments_for_redis_cli_hints() {
    let n = Node::start(&[]);
    let out = redis_cli(n.port, &["command", "docs", "set"]);
    for want in [
        "arguments",
        "key",
        "value",
        "oneof",
        "NX",
        "XX",
        "EX",
        "seconds",
        "KEEPTTL",
        "optional",
    ] {
        assert!(
            out.lines().any(|l| l == want),
            "COMMAND DOCS SET lacks {want}: {out}"
        );
    }
}
