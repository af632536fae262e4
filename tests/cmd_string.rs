//! String commands (src/command/string.rs): SET and its options,
//! SETNX/SETEX/GETSET/GETDEL, GETEX, MGET/MSET, INCR/DECR, INCRBYFLOAT,
//! APPEND/STRLEN/GETRANGE/SETRANGE: replies and exact error texts, each
//! checked against a real redis-server first, then a sledis node
//! (`support::compare`).

mod support;

use support::*;

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
