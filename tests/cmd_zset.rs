//! Sorted sets (src/command/zset.rs) as users see them beyond single commands (whose answers are
//! checked against real Redis in differential.rs): data after `kill -9`,
//! replication with a full sync in the middle, expiry, RENAME/COPY/MOVE
//! (which copy both kinds of elements), O(1) DEL of a big sorted set.

mod support;
use redis::Connection;
use std::time::Duration;
use support::*;

fn all(c: &mut Connection, key: &str) -> Vec<String> {
    q(c, &["ZRANGE", key, "0", "-1", "WITHSCORES"])
}

/// ZADDs `n` members `m<i>` with score `i % 100` (so scores tie) in
/// pipelined batches.
fn fill(c: &mut Connection, key: &str, n: usize) {
    for chunk in (0..n).collect::<Vec<_>>().chunks(1000) {
        let mut p = redis::pipe();
        let cmd = p.cmd("ZADD").arg(key);
        for i in chunk {
            cmd.arg(i % 100).arg(format!("m{i}"));
        }
        let _: () = p.query(c).expect("zadd");
    }
}

/// One random sorted set write on keys `z0..z4`.
fn random_write(c: &mut Connection, rng: &mut Rng) {
    let key = format!("z{}", rng.below(5));
    let member = format!("m{}", rng.below(300));
    let score = format!("{}.{}", rng.below(50) as i64 - 25, rng.below(10));
    match rng.below(10) {
        0..=3 => {
            let _: i64 = q(c, &["ZADD", &key, &score, &member]);
        }
        4 => {
            let _: String = q(c, &["ZINCRBY", &key, &score, &member]);
        }
        5 => {
            let _: i64 = q(c, &["ZREM", &key, &member]);
        }
        6 => {
            let _: redis::Value = q(c, &["ZPOPMIN", &key, "2"]);
        }
        7 => {
            let _: i64 = q(c, &["ZREMRANGEBYSCORE", &key, "(3", "4"]);
        }
        8 => {
            let other = format!("z{}", rng.below(5));
            let _: i64 = q(
                c,
                &["ZUNIONSTORE", "u", "2", &key, &other, "WEIGHTS", "1", "2"],
            );
        }
        _ => {
            let _: redis::Value = q(c, &["ZMPOP", "2", &key, "z0", "MAX", "COUNT", "3"]);
        }
    }
}

#[test]
fn zsets_survive_kill9_and_restart() {
    let mut n = Node::start(&[]);
    let mut c = n.client();
    fill(&mut c, "z", 3000);
    let _: i64 = q(&mut c, &["ZREM", "z", "m0", "m1"]);
    let _: String = q(&mut c, &["ZINCRBY", "z", "0.5", "m2"]);
    let _: i64 = q(
        &mut c,
        &["ZADD", "z", "-inf", "low", "+inf", "high", "1e300", "big"],
    );
    // Pops leave bounds in the metadata; members added past them count.
    let _: Vec<String> = q(&mut c, &["ZPOPMIN", "z", "5"]);
    let _: Vec<String> = q(&mut c, &["ZPOPMAX", "z", "5"]);
    let _: i64 = q(
        &mut c,
        &["ZADD", "z", "-inf", "low", "+inf", "high", "1e300", "big"],
    );
    let _: i64 = q(
        &mut c,
        &["ZADD", "z", "-5", "a", "-6", "b", "200", "c", "201", "d"],
    );
    let before = all(&mut c, "z");
    assert_eq!(before.len(), 2998 * 2);
    assert_eq!(&before[..6], ["low", "-inf", "b", "-6", "a", "-5"]);
    let range: Vec<String> = q(&mut c, &["ZRANGEBYSCORE", "z", "(40", "41", "WITHSCORES"]);
    assert_eq!(range.len(), 30 * 2, "the 30 members scored 41");
    n.kill9();
    n.launch();
    let mut c = n.client();
    assert_eq!(all(&mut c, "z"), before);
    assert_eq!(q::<i64>(&mut c, &["ZCARD", "z"]), 2998);
    assert_eq!(q::<String>(&mut c, &["TYPE", "z"]), "zset");
    assert_eq!(q::<String>(&mut c, &["ZSCORE", "z", "m2"]), "2.5");
    assert_eq!(
        q::<Vec<String>>(&mut c, &["ZRANGEBYSCORE", "z", "(40", "41", "WITHSCORES"]),
        range
    );
    // And again after the write buffer reached sled (SHUTDOWN saves).
    let _: () = redis::cmd("SHUTDOWN").query(&mut c).unwrap_or(());
    assert!(n.wait_exit(Duration::from_secs(30)));
    n.launch();
    let mut c = n.client();
    assert_eq!(all(&mut c, "z"), before);
    assert_eq!(q::<i64>(&mut c, &["ZRANK", "z", "high"]), 2997);
    assert_eq!(q::<i64>(&mut c, &["ZREVRANK", "z", "low"]), 2997);
    assert_eq!(q::<Vec<String>>(&mut c, &["ZPOPMIN", "z"]), ["low", "-inf"]);
    assert_eq!(q::<Vec<String>>(&mut c, &["ZPOPMAX", "z"]), ["high", "inf"]);
}

#[test]
fn zsets_replicate_with_a_full_sync_in_the_middle() {
    let m = Node::start(&[]);
    let r = Node::start(&[]);
    let mut mc = m.client();
    let mut rng = Rng(0x2BAD_5EED_0000_0001);
    fill(&mut mc, "big", 5000);
    for _ in 0..2000 {
        random_write(&mut mc, &mut rng);
    }
    assert_eq!(
        redis_cli(r.port, &["replicaof", "127.0.0.1", &m.port.to_string()]).trim(),
        "OK"
    );
    // Writes during and after the full sync.
    for _ in 0..2000 {
        random_write(&mut mc, &mut rng);
    }
    let _: i64 = q(&mut mc, &["ZADD", "r", "1", "a", "2", "b", "3", "c"]);
    let _: () = q(&mut mc, &["RENAME", "r", "renamed"]);
    let _: i64 = q(&mut mc, &["COPY", "renamed", "copied"]);
    let _: i64 = q(&mut mc, &["ZADD", "mv", "1", "a"]);
    let _: i64 = q(&mut mc, &["MOVE", "mv", "3"]);
    let _: i64 = q(&mut mc, &["ZADD", "gone", "1", "a"]);
    let _: i64 = q(&mut mc, &["PEXPIRE", "gone", "50"]);
    let _: redis::Value = q(&mut mc, &["ZPOPMAX", "big", "10"]);
    let _: i64 = q(&mut mc, &["ZREMRANGEBYRANK", "big", "0", "99"]);
    let same = wait_until(Duration::from_secs(30), || {
        std::thread::sleep(Duration::from_millis(50));
        digest_at(m.port) == digest_at(r.port)
    });
    assert!(
        same,
        "replica digest equals master's; replica log:\n{}",
        r.log()
    );
    let mut rc = r.client();
    for k in [
        "big", "z0", "z1", "z2", "z3", "z4", "u", "renamed", "copied",
    ] {
        assert_eq!(all(&mut rc, k), all(&mut mc, k), "{k} on the replica");
    }
    assert_eq!(q::<i64>(&mut rc, &["ZCARD", "big"]), 4890);
    assert_eq!(q::<i64>(&mut rc, &["EXISTS", "gone", "r", "mv"]), 0);
    assert_eq!(
        redis_cli(r.port, &["-n", "3", "zscore", "mv", "a"]).trim(),
        "1"
    );
    assert!(redis_cli(r.port, &["zadd", "big", "1", "x"]).starts_with("READONLY"));
    // The digest is not trivially equal: a change on the master shows.
    let before = digest_at(m.port);
    let _: String = q(&mut mc, &["ZINCRBY", "big", "1", "m500"]);
    assert_ne!(digest_at(m.port), before);
    assert!(wait_until(Duration::from_secs(30), || digest_at(m.port)
        == digest_at(r.port)));
}

#[test]
fn zset_keyspace_operations() {
    let n = Node::start(&[]);
    let mut c = n.client();
    // Expiry.
    let _: i64 = q(&mut c, &["ZADD", "e", "1", "a", "2", "b"]);
    let _: i64 = q(&mut c, &["PEXPIRE", "e", "100"]);
    assert!(wait_until(Duration::from_secs(5), || q::<i64>(
        &mut c,
        &["EXISTS", "e"]
    ) == 0));
    assert_eq!(q::<i64>(&mut c, &["ZCARD", "e"]), 0);
    let _: i64 = q(&mut c, &["ZADD", "e", "5", "c"]);
    assert_eq!(
        all(&mut c, "e"),
        ["c", "5"],
        "no element of the expired set"
    );
    // RENAME moves both the members and the score index.
    fill(&mut c, "z", 1000);
    let want = all(&mut c, "z");
    let _: () = q(&mut c, &["RENAME", "z", "z2"]);
    assert_eq!(q::<i64>(&mut c, &["EXISTS", "z"]), 0);
    assert_eq!(all(&mut c, "z2"), want);
    assert_eq!(q::<String>(&mut c, &["ZSCORE", "z2", "m999"]), "99");
    assert_eq!(
        q::<Vec<String>>(
            &mut c,
            &["ZRANGEBYSCORE", "z2", "99", "99", "LIMIT", "0", "2"]
        ),
        ["m199", "m299"]
    );
    // COPY, then the copies change independently.
    let _: i64 = q(&mut c, &["COPY", "z2", "z3"]);
    let _: i64 = q(&mut c, &["ZREM", "z2", "m5"]);
    assert_eq!(all(&mut c, "z3"), want);
    assert_eq!(q::<i64>(&mut c, &["ZCARD", "z2"]), 999);
    // MOVE to another database.
    let _: i64 = q(&mut c, &["MOVE", "z3", "1"]);
    let _: () = q(&mut c, &["SELECT", "1"]);
    assert_eq!(all(&mut c, "z3"), want);
    let _: () = q(&mut c, &["SELECT", "0"]);
    // TYPE and SCAN TYPE.
    assert_eq!(q::<String>(&mut c, &["TYPE", "z2"]), "zset");
    let _: i64 = q(&mut c, &["HSET", "h", "f", "v"]);
    let (_, keys): (String, Vec<String>) =
        q(&mut c, &["SCAN", "0", "TYPE", "zset", "COUNT", "1000"]);
    let mut keys = keys;
    keys.sort();
    assert_eq!(keys, ["e", "z2"]);
    // ZSCAN pages through every member once, with its score.
    let mut cursor = "0".to_string();
    let mut seen = std::collections::BTreeMap::new();
    loop {
        let (next, items): (String, Vec<String>) =
            q(&mut c, &["ZSCAN", "z2", &cursor, "COUNT", "100"]);
        for pair in items.chunks(2) {
            assert!(seen.insert(pair[0].clone(), pair[1].clone()).is_none());
        }
        cursor = next;
        if cursor == "0" {
            break;
        }
    }
    assert_eq!(seen.len(), 999);
    assert_eq!(seen.get("m998").map(String::as_str), Some("98"));
    // Inside MULTI, later commands see earlier writes to the same set.
    let mut p = redis::pipe();
    p.atomic();
    p.cmd("ZADD").arg("t").arg("1").arg("a").arg("2").arg("b");
    p.cmd("ZINCRBY").arg("t").arg("5").arg("a");
    p.cmd("ZRANGE").arg("t").arg("0").arg("-1");
    p.cmd("ZPOPMIN").arg("t");
    let (_, _, order, popped): (i64, String, Vec<String>, Vec<String>) =
        p.query(&mut c).expect("multi");
    assert_eq!(order, ["b", "a"]);
    assert_eq!(popped, ["b", "2"]);
}

#[test]
fn del_of_a_big_zset_is_one_record_and_reclaimed() {
    let n = Node::start(&[]);
    let mut c = n.client();
    fill(&mut c, "big", 30_000);
    let end_before = info_num(&mut c, "persistence", "wal_end_offset");
    let gc_before = info_num(&mut c, "persistence", "sled_gc_keys");
    assert_eq!(q::<i64>(&mut c, &["DEL", "big"]), 1);
    let end_after = info_num(&mut c, "persistence", "wal_end_offset");
    assert!(
        end_after - end_before < 200,
        "DEL wrote one small record: {} bytes",
        end_after - end_before
    );
    // Two elements per member go away in the background.
    assert!(
        wait_until(Duration::from_secs(60), || {
            info_num(&mut c, "persistence", "sled_gc_keys") >= gc_before + 60_000
        }),
        "reclaimed: {}",
        info(&mut c, "persistence")
    );
    let _: i64 = q(&mut c, &["ZADD", "big", "1", "only"]);
    assert_eq!(all(&mut c, "big"), ["only", "1"]);
    // One ZADD of one member writes a record of a few small effects.
    fill(&mut c, "z", 1000);
    let before = info_num(&mut c, "persistence", "wal_end_offset");
    let _: i64 = q(&mut c, &["ZADD", "z", "7.5", "m10"]);
    let written = info_num(&mut c, "persistence", "wal_end_offset") - before;
    assert!(written < 300, "ZADD of one member wrote {written} bytes");
}
