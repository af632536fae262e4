//! Commands on keys of any type (src/command/keys.rs, src/command/object.rs):
//! DEL/EXISTS/TYPE/KEYS, SCAN, RANDOMKEY, RENAME/COPY/MOVE, the EXPIRE
//! family, keys expiring lazily and actively, TYPE/OBJECT/SCAN TYPE over
//! every type. Most checks run against a real redis-server first, then a
//! sledis node (`support::compare`).

mod support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};
use support::*;

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
fn type_object_encoding_and_scan_type_cover_every_type() {
    let n = Node::start(&[]);
    let mut c = n.client();
    let _: () = q(&mut c, &["SET", "s", "1"]);
    let _: i64 = q(&mut c, &["HSET", "h", "f", "v"]);
    let _: i64 = q(&mut c, &["SADD", "st", "m"]);
    let _: i64 = q(&mut c, &["RPUSH", "l", "a", "b"]);
    for (k, t, enc) in [
        // Redis 7.0's encodings (tests/differential.rs compares them).
        ("s", "string", "int"),
        ("h", "hash", "listpack"),
        ("st", "set", "hashtable"),
        ("l", "list", "quicklist"),
    ] {
        assert_eq!(q::<String>(&mut c, &["TYPE", k]), t);
        assert_eq!(q::<String>(&mut c, &["OBJECT", "ENCODING", k]), enc);
        let (_, keys): (String, Vec<String>) = q(&mut c, &["SCAN", "0", "TYPE", t, "COUNT", "100"]);
        assert_eq!(keys, vec![k.to_string()], "SCAN TYPE {t}");
    }
    assert_eq!(
        q::<Option<String>>(&mut c, &["OBJECT", "ENCODING", "nokey"]),
        None
    );
    assert_eq!(q::<i64>(&mut c, &["OBJECT", "REFCOUNT", "l"]), 1);
    // RPUSH above touched it.
    assert_eq!(q::<i64>(&mut c, &["OBJECT", "IDLETIME", "l"]), 0);
    assert!(redis_cli(n.port, &["object", "freq", "l"]).contains("LFU"));
    assert!(redis_cli(n.port, &["object", "help"]).contains("ENCODING <key>"));
}
