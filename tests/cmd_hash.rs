//! Hashes (src/command/hash.rs) as users see them: data after `kill -9`,
//! O(1) DEL of a big hash with background reclamation, replication with a
//! full sync in the middle, expiry, WATCH.
//! (Command semantics are checked against real Redis in differential.rs.)

mod support;
use redis::Connection;
use std::collections::BTreeMap;
use std::time::Duration;
use support::*;

fn hgetall(c: &mut Connection, key: &str) -> BTreeMap<String, String> {
    q(c, &["HGETALL", key])
}

/// HSETs `n` fields `f<i>` = `v<i>` in pipelined batches.
fn fill_hash(c: &mut Connection, key: &str, n: usize) {
    for chunk in (0..n).collect::<Vec<_>>().chunks(1000) {
        let mut p = redis::pipe();
        let cmd = p.cmd("HSET").arg(key);
        for i in chunk {
            cmd.arg(format!("f{i}")).arg(format!("v{i}"));
        }
        let _: () = p.query(c).expect("hset");
    }
}

#[test]
fn hashes_survive_kill9_and_restart() {
    let mut n = Node::start(&[]);
    let mut c = n.client();
    fill_hash(&mut c, "h", 500);
    let _: i64 = q(&mut c, &["HDEL", "h", "f0", "f1"]);
    let _: i64 = q(&mut c, &["HINCRBY", "h", "counter", "7"]);
    let before = hgetall(&mut c, "h");
    assert_eq!(before.len(), 499);
    n.kill9();
    n.launch();
    let mut c = n.client();
    assert_eq!(hgetall(&mut c, "h"), before);
    assert_eq!(q::<i64>(&mut c, &["HLEN", "h"]), 499);
    assert_eq!(q::<String>(&mut c, &["TYPE", "h"]), "hash");
    // And again after the write buffer reached sled (SHUTDOWN saves).
    let _: () = redis::cmd("SHUTDOWN").query(&mut c).unwrap_or(());
    assert!(n.wait_exit(Duration::from_secs(30)));
    n.launch();
    let mut c = n.client();
    assert_eq!(hgetall(&mut c, "h"), before);
}

#[test]
fn del_of_a_big_hash_is_one_record_and_reclaimed_in_the_background() {
    let n = Node::start(&[]);
    let mut c = n.client();
    fill_hash(&mut c, "big", 50_000);
    assert_eq!(q::<i64>(&mut c, &["HLEN", "big"]), 50_000);
    let end_before: u64 = info_field(&info(&mut c, "persistence"), "wal_end_offset")
        .and_then(|v| v.parse().ok())
        .expect("offset");
    let gc_before: u64 = info_field(&info(&mut c, "persistence"), "sled_gc_keys")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    assert_eq!(q::<i64>(&mut c, &["DEL", "big"]), 1);
    let end_after: u64 = info_field(&info(&mut c, "persistence"), "wal_end_offset")
        .and_then(|v| v.parse().ok())
        .expect("offset");
    assert!(
        end_after - end_before < 200,
        "DEL wrote one small record, not 50000 deletions: {} bytes",
        end_after - end_before
    );
    assert_eq!(q::<i64>(&mut c, &["EXISTS", "big"]), 0);
    // The elements go away in the background.
    let reclaimed = wait_until(Duration::from_secs(30), || {
        let i = info(&mut c, "persistence");
        let gc: u64 = info_field(&i, "sled_gc_keys")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        gc >= gc_before + 50_000
    });
    assert!(reclaimed, "reclaimed: {}", info(&mut c, "persistence"));
    assert_eq!(
        info_field(&info(&mut c, "memory"), "lazyfree_pending_objects").as_deref(),
        Some("0")
    );
    // A new hash under the same name starts empty.
    let _: i64 = q(&mut c, &["HSET", "big", "only", "1"]);
    assert_eq!(hgetall(&mut c, "big").len(), 1);
    // Overwriting a hash with a string frees its elements too.
    fill_hash(&mut c, "h2", 100);
    let _: () = q(&mut c, &["SET", "h2", "now a string"]);
    assert_eq!(q::<String>(&mut c, &["GET", "h2"]), "now a string");
    assert!(redis_cli(n.port, &["hget", "h2", "f1"]).starts_with("WRONGTYPE"));
    let _: i64 = q(&mut c, &["DEL", "h2"]);
    let _: i64 = q(&mut c, &["HSET", "h2", "z", "1"]);
    assert_eq!(
        hgetall(&mut c, "h2").len(),
        1,
        "no element of the old hash comes back"
    );
}

#[test]
fn hashes_replicate_with_a_full_sync_in_the_middle() {
    let m = Node::start(&[]);
    let r = Node::start(&[]);
    let mut mc = m.client();
    fill_hash(&mut mc, "h1", 2000);
    for i in 0..50 {
        let _: i64 = q(&mut mc, &["HSET", &format!("small{i}"), "a", "1", "b", "2"]);
    }
    let _: String = q(&mut mc, &["REPLICAOF", "NO", "ONE"]);
    assert_eq!(
        redis_cli(r.port, &["replicaof", "127.0.0.1", &m.port.to_string()]).trim(),
        "OK"
    );
    // Writes during and after the full sync.
    for i in 0..50 {
        let _: i64 = q(&mut mc, &["HDEL", &format!("small{i}"), "a"]);
        let _: i64 = q(&mut mc, &["HINCRBY", "h1", &format!("f{i}x"), "3"]);
    }
    let _: i64 = q(&mut mc, &["DEL", "small0"]);
    let _: () = q(&mut mc, &["RENAME", "small1", "renamed"]);
    let _: i64 = q(&mut mc, &["COPY", "small2", "copied"]);
    let _: i64 = q(&mut mc, &["PEXPIRE", "small3", "50"]);
    let same = wait_until(Duration::from_secs(30), || {
        std::thread::sleep(Duration::from_millis(50));
        digest_at(m.port) == digest_at(r.port)
    });
    assert!(
        same,
        "replica digest equals master's; replica log:\n{}",
        r.log()
    );
    assert_eq!(redis_cli(r.port, &["hlen", "h1"]).trim(), "2050");
    assert_eq!(redis_cli(r.port, &["hget", "renamed", "b"]).trim(), "2");
    assert_eq!(redis_cli(r.port, &["hget", "copied", "b"]).trim(), "2");
    assert_eq!(redis_cli(r.port, &["exists", "small3"]).trim(), "0");
    assert!(redis_cli(r.port, &["hset", "h1", "x", "1"]).starts_with("READONLY"));
}

#[test]
fn hash_expiry_and_watch() {
    let n = Node::start(&[]);
    let mut c = n.client();
    let _: i64 = q(&mut c, &["HSET", "h", "a", "1"]);
    let _: i64 = q(&mut c, &["PEXPIRE", "h", "100"]);
    assert!(wait_until(Duration::from_secs(5), || q::<i64>(
        &mut c,
        &["EXISTS", "h"]
    ) == 0));
    assert_eq!(q::<i64>(&mut c, &["HLEN", "h"]), 0);
    // WATCH sees a field overwritten (the field count does not change).
    let _: i64 = q(&mut c, &["HSET", "w", "a", "1"]);
    let _: () = q(&mut c, &["WATCH", "w"]);
    let mut other = n.client();
    let _: i64 = q(&mut other, &["HSET", "w", "a", "2"]);
    let _: () = q(&mut c, &["MULTI"]);
    let _: () = q(&mut c, &["HSET", "w", "a", "3"]);
    let r: redis::Value = q(&mut c, &["EXEC"]);
    assert_eq!(r, redis::Value::Nil, "EXEC aborted");
    assert_eq!(q::<String>(&mut c, &["HGET", "w", "a"]), "2");
    // Inside MULTI, later commands see earlier writes to the same hash.
    let _: () = q(&mut c, &["MULTI"]);
    let _: () = q(&mut c, &["HSET", "w", "b", "1"]);
    let _: () = q(&mut c, &["HDEL", "w", "a"]);
    let _: () = q(&mut c, &["HGETALL", "w"]);
    let r: Vec<redis::Value> = q(&mut c, &["EXEC"]);
    assert_eq!(r.len(), 3);
    assert_eq!(
        hgetall(&mut c, "w").into_iter().collect::<Vec<_>>(),
        vec![("b".to_string(), "1".to_string())]
    );
    // HSCAN pages through a big hash and sees every field once.
    fill_hash(&mut c, "s", 2500);
    let mut cursor = "0".to_string();
    let mut seen = std::collections::BTreeSet::new();
    loop {
        let (next, items): (String, Vec<String>) =
            q(&mut c, &["HSCAN", "s", &cursor, "COUNT", "100"]);
        for pair in items.chunks(2) {
            assert!(seen.insert(pair[0].clone()), "field seen twice");
        }
        cursor = next;
        if cursor == "0" {
            break;
        }
    }
    assert_eq!(seen.len(), 2500);
    // A transaction that deletes a long run of fields still reads the rest.
    let mut p = redis::pipe();
    p.atomic();
    let del = p.cmd("HDEL").arg("s");
    for i in 0..2000 {
        del.arg(format!("f{i}"));
    }
    p.cmd("HKEYS").arg("s");
    let (n, keys): (i64, Vec<String>) = p.query(&mut c).expect("multi");
    assert_eq!(n, 2000);
    assert_eq!(keys.len(), 500);
}
