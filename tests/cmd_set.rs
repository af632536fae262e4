//! Sets (src/command/set.rs) beyond single commands (their answers are
//! checked against real Redis in differential.rs): SPOP pops each member
//! exactly once, in an order that differs from set to set and leaves no
//! member behind, also after SADD/SREM interleaving, RENAME/COPY/MOVE,
//! `kill -9` and replication; sets written by older builds (untagged
//! members) still work; random pops replicate and big sets are reclaimed.

mod support;
use redis::Connection;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;
use support::*;

/// SADDs `m<i>` for every i in `range`, in pipelined batches.
fn fill(c: &mut Connection, key: &str, range: std::ops::Range<usize>) {
    for chunk in range.collect::<Vec<_>>().chunks(1000) {
        let mut p = redis::pipe();
        let cmd = p.cmd("SADD").arg(key);
        for i in chunk {
            cmd.arg(format!("m{i}"));
        }
        let _: () = p.query(c).expect("sadd");
    }
}

fn names(range: std::ops::Range<usize>) -> BTreeSet<String> {
    range.map(|i| format!("m{i}")).collect()
}

fn members(c: &mut Connection, key: &str) -> BTreeSet<String> {
    q(c, &["SMEMBERS", key])
}

/// Pops `n` members one SPOP at a time (fewer if the set runs out).
fn pop_n(c: &mut Connection, key: &str, n: usize) -> Vec<String> {
    let mut out = Vec::new();
    for _ in 0..n {
        match q::<Option<String>>(c, &["SPOP", key]) {
            Some(m) => out.push(m),
            None => break,
        }
    }
    out
}

/// Pops until the key is gone, with counts cycling through 1, 3, 50 (the
/// count-less form for 1).
fn pop_all(c: &mut Connection, key: &str) -> Vec<String> {
    let mut out = Vec::new();
    for round in 0.. {
        match round % 3 {
            0 => match q::<Option<String>>(c, &["SPOP", key]) {
                Some(m) => out.push(m),
                None => break,
            },
            r => {
                let n = if r == 1 { "3" } else { "50" };
                let got: Vec<String> = q(c, &["SPOP", key, n]);
                if got.is_empty() {
                    break;
                }
                out.extend(got);
            }
        }
    }
    assert_eq!(
        q::<i64>(c, &["EXISTS", key]),
        0,
        "{key} gone once popped empty"
    );
    out
}

/// Asserts that `popped` holds each of `want` exactly once.
fn exactly_once(popped: &[String], want: &BTreeSet<String>) {
    let got: BTreeSet<String> = popped.iter().cloned().collect();
    assert_eq!(got.len(), popped.len(), "a member was popped twice");
    assert_eq!(&got, want, "popped members differ from the set's");
}

#[test]
fn spop_returns_each_member_exactly_once() {
    let n = Node::start(&[]);
    let mut c = n.client();
    fill(&mut c, "s", 0..3000);
    let popped = pop_all(&mut c, "s");
    exactly_once(&popped, &names(0..3000));
    // A count past the size answers the whole set and deletes the key.
    fill(&mut c, "t", 0..40);
    let _: Vec<String> = q(&mut c, &["SPOP", "t", "5"]);
    let rest: Vec<String> = q(&mut c, &["SPOP", "t", "1000"]);
    assert_eq!(rest.len(), 35);
    assert_eq!(q::<i64>(&mut c, &["EXISTS", "t"]), 0);
    // A count of 0 changes nothing.
    fill(&mut c, "u", 0..3);
    assert!(q::<Vec<String>>(&mut c, &["SPOP", "u", "0"]).is_empty());
    assert_eq!(q::<i64>(&mut c, &["SCARD", "u"]), 3);
}

#[test]
fn spop_keeps_the_ttl_and_works_inside_multi() {
    let n = Node::start(&[]);
    let mut c = n.client();
    fill(&mut c, "s", 0..10);
    let _: i64 = q(&mut c, &["PEXPIRE", "s", "100000"]);
    let _: String = q(&mut c, &["SPOP", "s"]);
    let _: Vec<String> = q(&mut c, &["SPOP", "s", "2"]);
    assert!(q::<i64>(&mut c, &["PTTL", "s"]) > 90_000);
    let _: i64 = q(&mut c, &["PEXPIRE", "s", "50"]);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(q::<Option<String>>(&mut c, &["SPOP", "s"]), None);
    // One transaction: its pops see its own adds and earlier pops.
    let mut p = redis::pipe();
    p.atomic()
        .cmd("SADD")
        .arg("t")
        .arg(&["a", "b", "c", "d"])
        .cmd("SPOP")
        .arg("t")
        .cmd("SPOP")
        .arg("t")
        .arg(2)
        .cmd("SADD")
        .arg("t")
        .arg("e")
        .cmd("SPOP")
        .arg("t")
        .arg(10);
    let (added, one, two, _, rest): (i64, String, Vec<String>, i64, Vec<String>) =
        p.query(&mut c).expect("multi");
    assert_eq!(added, 4);
    let all: Vec<String> = [vec![one], two, rest].concat();
    exactly_once(&all, &["a", "b", "c", "d", "e"].map(String::from).into());
    assert_eq!(q::<i64>(&mut c, &["EXISTS", "t"]), 0);
}

#[test]
fn spop_order_differs_from_set_to_set() {
    let n = Node::start(&[]);
    let mut c = n.client();
    let mut first: BTreeMap<String, u32> = BTreeMap::new();
    let mut orders = BTreeSet::new();
    for _ in 0..200 {
        let _: i64 = q(&mut c, &["DEL", "s"]);
        fill(&mut c, "s", 0..10);
        let order = pop_n(&mut c, "s", 10);
        assert_eq!(q::<i64>(&mut c, &["EXISTS", "s"]), 0);
        *first.entry(order[0].clone()).or_default() += 1;
        orders.insert(order);
    }
    // 200 draws among 10 members: each about 20 times.
    assert_eq!(
        first.len(),
        10,
        "every member comes out first sometimes: {first:?}"
    );
    assert!(
        first.values().all(|&k| (5..=50).contains(&k)),
        "first pops spread evenly: {first:?}"
    );
    assert!(
        orders.len() >= 195,
        "{} distinct pop orders of 200",
        orders.len()
    );
}

#[test]
fn spop_after_sadd_srem_interleaving() {
    let n = Node::start(&[]);
    let mut c = n.client();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut model: BTreeSet<String> = BTreeSet::new();
    for step in 0..3000 {
        let name = format!("x{}", rng.below(300));
        match rng.below(10) {
            0..=3 => {
                let added: i64 = q(&mut c, &["SADD", "s", &name]);
                assert_eq!(added == 1, model.insert(name), "SADD at step {step}");
            }
            4..=5 => {
                let removed: i64 = q(&mut c, &["SREM", "s", &name]);
                assert_eq!(removed == 1, model.remove(&name), "SREM at step {step}");
            }
            6..=8 => {
                if let Some(m) = q::<Option<String>>(&mut c, &["SPOP", "s"]) {
                    assert!(
                        model.remove(&m),
                        "SPOP gave {m}, not a member, at step {step}"
                    );
                } else {
                    assert!(model.is_empty());
                }
            }
            _ => {
                let k = rng.below(4) + 1;
                let got: Vec<String> = q(&mut c, &["SPOP", "s", &k.to_string()]);
                assert_eq!(got.len(), model.len().min(k as usize));
                for m in got {
                    assert!(
                        model.remove(&m),
                        "SPOP gave {m}, not a member, at step {step}"
                    );
                }
            }
        }
        if step % 100 == 0 {
            assert_eq!(q::<usize>(&mut c, &["SCARD", "s"]), model.len());
        }
    }
    assert_eq!(members(&mut c, "s"), model);
    let popped = pop_all(&mut c, "s");
    exactly_once(&popped, &model);
}

/// A set used as a queue (one SADD, one SPOP, again and again): every
/// member comes out within a few rounds of the set's size. Popping the
/// lowest hashes first would keep taking new members and leave some for
/// ever.
#[test]
fn spop_leaves_no_member_behind() {
    let n = Node::start(&[]);
    let mut c = n.client();
    let size = 20;
    let mut added_at: BTreeMap<String, usize> = BTreeMap::new();
    for i in 0..size {
        let _: i64 = q(&mut c, &["SADD", "s", &format!("q{i}")]);
        added_at.insert(format!("q{i}"), 0);
    }
    let mut oldest = 0;
    for step in 1..=2000 {
        let name = format!("n{step}");
        let _: i64 = q(&mut c, &["SADD", "s", &name]);
        added_at.insert(name, step);
        let m: String = q(&mut c, &["SPOP", "s"]);
        let at = added_at.remove(&m).expect("popped a member");
        oldest = oldest.max(step - at);
    }
    let waiting = added_at.values().map(|&at| 2000 - at).max().unwrap_or(0);
    assert!(
        oldest.max(waiting) < 10 * size,
        "a member waited {} pops in a set of {size}",
        oldest.max(waiting)
    );
}

#[test]
fn spop_after_rename_copy_and_move() {
    let n = Node::start(&[]);
    let mut c = n.client();
    fill(&mut c, "s", 0..500);
    let mut gone: Vec<String> = pop_n(&mut c, "s", 100);
    let _: () = q(&mut c, &["RENAME", "s", "r"]);
    gone.extend(pop_n(&mut c, "r", 100));
    let mut left = names(0..500);
    for m in &gone {
        assert!(left.remove(m), "{m} popped twice");
    }
    assert_eq!(q::<i64>(&mut c, &["COPY", "r", "c"]), 1);
    // Source and copy are popped independently, each to the end.
    exactly_once(&pop_all(&mut c, "c"), &left);
    let _: i64 = q(&mut c, &["SADD", "r", "late"]);
    left.insert("late".into());
    exactly_once(&pop_all(&mut c, "r"), &left);
    // MOVE to another database.
    fill(&mut c, "v", 0..200);
    let first = pop_n(&mut c, "v", 50);
    assert_eq!(q::<i64>(&mut c, &["MOVE", "v", "1"]), 1);
    let _: () = q(&mut c, &["SELECT", "1"]);
    let rest = pop_all(&mut c, "v");
    exactly_once(&[first, rest].concat(), &names(0..200));
}

#[test]
fn spop_survives_kill9_and_restart() {
    let mut n = Node::start(&[]);
    let mut c = n.client();
    fill(&mut c, "s", 0..2000);
    let mut popped = pop_n(&mut c, "s", 500);
    popped.extend(q::<Vec<String>>(&mut c, &["SPOP", "s", "100"]));
    n.kill9();
    n.launch();
    let mut c = n.client();
    assert_eq!(q::<usize>(&mut c, &["SCARD", "s"]), 1400);
    popped.extend(pop_n(&mut c, "s", 400));
    // And again once the write buffer reached sled (SHUTDOWN saves).
    let _: () = redis::cmd("SHUTDOWN").query(&mut c).unwrap_or(());
    assert!(n.wait_exit(Duration::from_secs(30)));
    n.launch();
    let mut c = n.client();
    assert_eq!(q::<usize>(&mut c, &["SCARD", "s"]), 1000);
    popped.extend(pop_all(&mut c, "s"));
    exactly_once(&popped, &names(0..2000));
}

#[test]
fn spop_replicates_with_a_full_sync_in_the_middle() {
    let m = Node::start(&[]);
    let r = Node::start(&[]);
    let mut mc = m.client();
    fill(&mut mc, "big", 0..5000);
    for i in 0..20 {
        fill(&mut mc, &format!("small{i}"), 0..10);
    }
    assert_eq!(
        redis_cli(r.port, &["replicaof", "127.0.0.1", &m.port.to_string()]).trim(),
        "OK"
    );
    // A random workload while the replica syncs and after.
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    for _ in 0..2000 {
        let key = if rng.below(2) == 0 {
            "big".to_string()
        } else {
            format!("small{}", rng.below(20))
        };
        let name = format!("m{}", rng.below(6000));
        match rng.below(6) {
            0 | 1 => {
                let _: i64 = q(&mut mc, &["SADD", &key, &name]);
            }
            2 => {
                let _: i64 = q(&mut mc, &["SREM", &key, &name]);
            }
            3 | 4 => {
                let _: Option<String> = q(&mut mc, &["SPOP", &key]);
            }
            _ => {
                let _: Vec<String> = q(&mut mc, &["SPOP", &key, &rng.below(5).to_string()]);
            }
        }
    }
    assert!(
        wait_until(Duration::from_secs(30), || {
            std::thread::sleep(Duration::from_millis(50));
            digest_at(m.port) == digest_at(r.port)
        }),
        "replica digest equals master's; replica log:\n{}",
        r.log()
    );
    let mut rc = r.client();
    let want = members(&mut mc, "big");
    assert_eq!(members(&mut rc, "big"), want);
    // Promoted, the replica pops what it holds: its SREM finds the pop
    // order entries the master wrote.
    let _: String = q(&mut rc, &["REPLICAOF", "NO", "ONE"]);
    let gone = want.iter().next().cloned().expect("big is not empty");
    assert_eq!(q::<i64>(&mut rc, &["SREM", "big", &gone]), 1);
    let mut left = want.clone();
    left.remove(&gone);
    exactly_once(&pop_all(&mut rc, "big"), &left);
}

/// A set as older builds wrote it: a 16-byte metadata payload and untagged
/// members (`member` → empty), written straight into a stopped node's
/// store.
fn write_old_layout_set(dir: &std::path::Path, key: &[u8], members: &[&str]) {
    use sledis::store::keys::{sub_key, Kind, Meta};
    let store = sledis::store::Store::open_path(dir).expect("open the store");
    let mut tx = store.write(0);
    let v = tx.new_version();
    tx.put(
        0,
        key,
        &Meta::collection(Kind::Set, v, members.len() as u64, None),
    );
    let p = tx.sub_prefix(0, key, v);
    for m in members {
        tx.sub_put(sub_key(&p, m.as_bytes()), bytes::Bytes::new());
    }
    tx.commit().expect("commit");
    store.close().expect("close the store");
    // The store's threads hold it (and sled's lock) until they see the close.
    assert!(wait_until(
        Duration::from_secs(10),
        || std::sync::Arc::strong_count(&store) == 1
    ));
}

#[test]
fn sets_written_by_older_builds_still_work() {
    let mut n = Node::start(&[]);
    n.stop();
    let old: Vec<String> = (0..300).map(|i| format!("m{i}")).collect();
    let refs: Vec<&str> = old.iter().map(|s| s.as_str()).collect();
    write_old_layout_set(&n.data_dir(), b"old", &refs);
    n.launch();
    let mut c = n.client();
    // The same members in today's layout, on another node: same digest.
    let fresh = Node::start(&[]);
    let mut fc = fresh.client();
    fill(&mut fc, "old", 0..300);
    assert_eq!(digest_at(n.port), digest_at(fresh.port));
    assert_eq!(members(&mut c, "old"), names(0..300));
    assert_eq!(q::<i64>(&mut c, &["SISMEMBER", "old", "m7"]), 1);
    let (_, scanned): (String, Vec<String>) = q(&mut c, &["SSCAN", "old", "0", "COUNT", "1000"]);
    assert_eq!(scanned.len(), 300);
    // Writes keep the old layout; SPOP picks by random walks there.
    assert_eq!(q::<i64>(&mut c, &["SADD", "old", "extra", "m1"]), 1);
    assert_eq!(q::<i64>(&mut c, &["SREM", "old", "m0"]), 1);
    let mut left = names(1..300);
    left.insert("extra".into());
    assert_eq!(members(&mut c, "old"), left);
    // sledis-dump shows the members of both layouts.
    let _: i64 = q(&mut c, &["SADD", "new", "a", "b"]);
    let _: () = q(&mut c, &["SAVE"]);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sledis-dump"))
        .arg("snapshot")
        .arg(n.data_dir().join("dump.sledis"))
        .arg("--json")
        .output()
        .expect("run sledis-dump");
    let out = String::from_utf8_lossy(&out.stdout);
    let value = |key: &str| -> BTreeSet<String> {
        out.lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("JSON line"))
            .find(|v| v["key"] == key)
            .and_then(|v| serde_json::from_value(v["value"].clone()).ok())
            .unwrap_or_else(|| panic!("{key} in {out}"))
    };
    assert_eq!(value("old"), left);
    assert_eq!(value("new"), ["a", "b"].map(String::from).into());
    exactly_once(&pop_all(&mut c, "old"), &left);
}

#[test]
fn sets_replicate_random_pops_and_reclaim_big_sets() {
    let m = Node::start(&[]);
    let r = Node::start(&[]);
    let mut mc = m.client();
    for chunk in (0..20_000).collect::<Vec<_>>().chunks(1000) {
        let mut p = redis::pipe();
        let cmd = p.cmd("SADD").arg("big");
        for i in chunk {
            cmd.arg(format!("m{i}"));
        }
        let _: () = p.query(&mut mc).expect("sadd");
    }
    let _: i64 = q(&mut mc, &["SADD", "a", "1", "2", "3", "4"]);
    let _: i64 = q(&mut mc, &["SADD", "b", "3", "4", "5"]);
    assert_eq!(
        redis_cli(r.port, &["replicaof", "127.0.0.1", &m.port.to_string()]).trim(),
        "OK"
    );
    // SPOP and SRANDMEMBER are random: the master's choice is what the
    // replica applies.
    let popped: Vec<String> = q(&mut mc, &["SPOP", "big", "100"]);
    assert_eq!(popped.len(), 100);
    let _: String = q(&mut mc, &["SPOP", "a"]);
    let _: i64 = q(&mut mc, &["SINTERSTORE", "i", "a", "b"]);
    let _: i64 = q(&mut mc, &["SUNIONSTORE", "u", "a", "b"]);
    let _: i64 = q(&mut mc, &["SMOVE", "b", "a", "5"]);
    assert!(
        wait_until(Duration::from_secs(30), || digest_at(m.port)
            == digest_at(r.port)),
        "replica equal to master; log:\n{}",
        r.log()
    );
    assert_eq!(redis_cli(r.port, &["scard", "big"]).trim(), "19900");
    for p in &popped {
        assert_eq!(redis_cli(r.port, &["sismember", "big", p]).trim(), "0");
    }
    // SSCAN pages through every member once.
    let mut cursor = "0".to_string();
    let mut seen = std::collections::BTreeSet::new();
    loop {
        let (next, items): (String, Vec<String>) =
            q(&mut mc, &["SSCAN", "big", &cursor, "COUNT", "500"]);
        for it in items {
            assert!(seen.insert(it), "member seen twice");
        }
        cursor = next;
        if cursor == "0" {
            break;
        }
    }
    assert_eq!(seen.len(), 19_900);
    // Random picks from a big set do not read it whole, and spread out.
    let mut picks = std::collections::BTreeSet::new();
    for _ in 0..200 {
        let x: String = q(&mut mc, &["SRANDMEMBER", "big"]);
        picks.insert(x);
    }
    assert!(
        picks.len() >= 100,
        "SRANDMEMBER spread: {} distinct of 200",
        picks.len()
    );
    let some: Vec<String> = q(&mut mc, &["SRANDMEMBER", "big", "10"]);
    assert_eq!(
        some.iter().collect::<std::collections::BTreeSet<_>>().len(),
        10
    );
    let rep: Vec<String> = q(&mut mc, &["SRANDMEMBER", "big", "-10"]);
    assert_eq!(rep.len(), 10);
    // UNLINK of the big set: one small record; the members are reclaimed.
    let gc_before: u64 = info_field(&info(&mut mc, "persistence"), "sled_gc_keys")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    assert_eq!(q::<i64>(&mut mc, &["UNLINK", "big"]), 1);
    assert!(wait_until(Duration::from_secs(30), || {
        let gc: u64 = info_field(&info(&mut mc, "persistence"), "sled_gc_keys")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        gc >= gc_before + 19_900
    }));
    assert!(wait_until(Duration::from_secs(30), || digest_at(m.port)
        == digest_at(r.port)));
}
