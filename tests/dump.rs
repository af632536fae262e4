//! sledis-dump on a real node's files: a snapshot of every type read back
//! as JSON and compared with what the server answers; the WAL listed;
//! verify on intact files and on a flipped byte and a torn tail.

mod common;
use common::*;
use std::process::Command;

const DUMP: &str = env!("CARGO_BIN_EXE_sledis-dump");

fn dump(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(DUMP)
        .args(args)
        .output()
        .expect("run sledis-dump");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn snapshot_json_matches_the_server_and_verify_finds_damage() {
    let mut n = Node::start(&[]);
    let cli = |args: &[&str]| redis_cli(n.port, args);
    cli(&["set", "s", "hello"]);
    cli(&["hset", "h", "f1", "v1", "f2", "v2"]);
    cli(&["sadd", "st", "a", "b", "c"]);
    cli(&["rpush", "l", "x", "y"]);
    cli(&["lpush", "l", "w"]);
    cli(&["zadd", "z", "-1.5", "neg", "2", "two"]);
    cli(&["pexpire", "h", "600000"]);
    cli(&["-n", "2", "set", "other", "1"]);
    assert_eq!(cli(&["save"]).trim(), "OK");
    let snap = n.data_dir().join("dump.sledis");
    let snap = snap.to_str().expect("path");
    let (code, out, err) = dump(&["snapshot", snap, "--json"]);
    assert_eq!(code, 0, "{err}");
    let keys: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    assert_eq!(keys.len(), 6);
    let get = |k: &str| {
        keys.iter()
            .find(|v| v["key"] == k)
            .unwrap_or_else(|| panic!("{k} in {out}"))
            .clone()
    };
    assert_eq!(get("s")["value"], "hello");
    assert_eq!(get("h")["value"]["f2"], "v2");
    assert!(get("h")["ttl_ms"].as_i64().is_some_and(|t| t > 500_000));
    assert_eq!(get("st")["value"], serde_json::json!(["a", "b", "c"]));
    assert_eq!(get("l")["value"], serde_json::json!(["w", "x", "y"]));
    assert_eq!(
        get("z")["value"],
        serde_json::json!([["neg", -1.5], ["two", 2.0]])
    );
    assert_eq!(get("other")["db"], 2);
    // Filters, text and stats.
    let (_, out, _) = dump(&["snapshot", snap, "--keys", "s*", "--json"]);
    assert_eq!(out.lines().count(), 2, "{out}");
    let (_, out, _) = dump(&["snapshot", snap]);
    assert!(out.contains("db0 \"l\" list (3 elements)"), "{out}");
    // A set's members once each (they are stored twice).
    assert!(
        out.contains("db0 \"st\" set (3 elements)\n  \"a\"\n  \"b\"\n  \"c\"\n"),
        "{out}"
    );
    let (_, out, _) = dump(&["snapshot", snap, "--stats"]);
    assert!(
        out.contains("db0: hash=1 list=1 set=1 string=1 zset=1"),
        "{out}"
    );
    // The WAL, record by record.
    let wal = n.data_dir().join("wal");
    let wal = wal.to_str().expect("path");
    let (code, out, _) = dump(&["wal", wal]);
    assert_eq!(code, 0);
    assert!(out.contains("PUT db0 \"s\" string \"hello\""), "{out}");
    // verify: intact, then damaged.
    let data = n.data_dir();
    let (code, out, _) = dump(&["verify", data.to_str().expect("path")]);
    assert_eq!(code, 0, "{out}");
    n.stop();
    let mut bytes = std::fs::read(snap).expect("read");
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x40;
    std::fs::write(snap, &bytes).expect("write");
    let (code, out, _) = dump(&["verify", snap]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("DAMAGED"), "{out}");
    // A torn tail on the last segment is tolerated (recovery cuts it);
    // garbage followed by data is not.
    let seg = wal_segments_of(&n);
    let mut w = std::fs::read(&seg).expect("read wal");
    let good = w.len();
    w.extend_from_slice(&[0x10, 0, 0, 0, 1, 2]);
    std::fs::write(&seg, &w).expect("write");
    let (code, out, _) = dump(&["verify", wal]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("TORN-TAIL"), "{out}");
    w.truncate(good);
    w[good / 2] ^= 0xff;
    std::fs::write(&seg, &w).expect("write");
    let (code, out, _) = dump(&["verify", wal]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("DAMAGED") && out.contains("offset"), "{out}");
    // Not a snapshot: a clear error, no panic.
    let (code, _, err) = dump(&["snapshot", wal]);
    assert_eq!(code, 2);
    assert!(!err.contains("panicked"), "{err}");
}

fn wal_segments_of(n: &Node) -> std::path::PathBuf {
    let mut segs = n.wal_segments();
    segs.sort();
    segs.pop().expect("a segment")
}

#[test]
fn diff_proves_a_replica_matches_and_names_what_differs() {
    let (m, rs) = replicated_group(1);
    let r = &rs[0];
    for (i, cmd) in [
        vec!["set", "s", "1"],
        vec!["hset", "h", "a", "1", "b", "2"],
        vec!["rpush", "l", "x", "y", "z"],
        vec!["zadd", "z", "1", "one", "-2", "minus"],
        vec!["sadd", "st", "m"],
        vec!["pexpire", "h", "900000"],
    ]
    .iter()
    .enumerate()
    {
        assert!(!redis_cli(m.port, cmd).starts_with("ERR"), "command {i}");
    }
    let digest = |p: u16| redis_cli(p, &["debug", "digest"]).trim().to_string();
    assert!(wait_until(std::time::Duration::from_secs(20), || digest(
        m.port
    )
        == digest(r.port)));
    assert_eq!(redis_cli(m.port, &["save"]).trim(), "OK");
    assert_eq!(redis_cli(r.port, &["save"]).trim(), "OK");
    let a = m.data_dir().join("dump.sledis");
    let b = r.data_dir().join("dump.sledis");
    let (code, out, err) = dump(&["diff", a.to_str().expect("p"), b.to_str().expect("p")]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("5 keys equal, 0 differ, 0 only in A, 0 only in B"),
        "{out}"
    );
    // Now make them differ in known ways: on the master only.
    let saved = m.dir.join("before.sledis");
    std::fs::copy(&a, &saved).expect("copy");
    redis_cli(m.port, &["del", "s"]);
    redis_cli(m.port, &["set", "new", "1"]);
    redis_cli(m.port, &["lset", "l", "1", "Y"]);
    redis_cli(m.port, &["pexpire", "st", "900000"]);
    assert_eq!(redis_cli(m.port, &["save"]).trim(), "OK");
    let (code, out, _) = dump(&["diff", saved.to_str().expect("p"), a.to_str().expect("p")]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("< db0 \"s\" only in A (string)"), "{out}");
    assert!(out.contains("> db0 \"new\" only in B (string)"), "{out}");
    assert!(out.contains("~ db0 \"l\" differs: value"), "{out}");
    assert!(
        out.contains("~ db0 \"st\" differs: expire_at none /"),
        "{out}"
    );
    assert!(
        out.contains("2 keys equal, 2 differ, 1 only in A, 1 only in B"),
        "{out}"
    );
}

#[test]
fn wal_follow_prints_records_as_the_node_writes_them() {
    use std::io::BufRead;
    let n = Node::start(&[]);
    redis_cli(n.port, &["set", "before", "1"]);
    let wal = n.data_dir().join("wal");
    let mut child = Command::new(DUMP)
        .args(["wal", wal.to_str().expect("path"), "--follow"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn sledis-dump");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let seen = |needle: &str| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
            match rx.recv_timeout(left) {
                Ok(l) if l.contains(needle) => return true,
                Ok(_) => {}
                Err(_) => return false,
            }
        }
        false
    };
    assert!(seen("\"before\""), "records already there");
    redis_cli(n.port, &["rpush", "followed", "a"]);
    assert!(seen("\"followed\" list len=1"), "a record appended later");
    // Stopped by its PID.
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn truncated_and_future_version_snapshots_get_clear_errors() {
    let n = Node::start(&[]);
    redis_cli(n.port, &["set", "a", "1"]);
    assert_eq!(redis_cli(n.port, &["save"]).trim(), "OK");
    let good = std::fs::read(n.data_dir().join("dump.sledis")).expect("read");
    let path = n.dir.join("crafted.sledis");
    let p = path.to_str().expect("path");
    // Cut in the middle: the trailer is gone.
    std::fs::write(&path, &good[..good.len() / 2]).expect("write");
    for args in [vec!["snapshot", p], vec!["verify", p]] {
        let (code, out, err) = dump(&args);
        assert_ne!(code, 0, "{args:?}: {out}");
        let said = format!("{out}{err}");
        assert!(
            said.contains("truncated") && !said.contains("panicked"),
            "{args:?}: {said}"
        );
    }
    // A format from the future.
    let mut future = good.clone();
    future[8..12].copy_from_slice(&99u32.to_le_bytes());
    std::fs::write(&path, &future).expect("write");
    let (code, _, err) = dump(&["snapshot", p]);
    assert_eq!(code, 2);
    assert!(err.contains("version"), "{err}");
}

#[test]
fn verify_names_a_missing_wal_segment() {
    // No snapshots: the WAL is kept back to the newest one.
    let mut n = Node::start(&["wal-segment-size 4096", "save \"\""]);
    let mut c = n.client();
    // One SET at a time, in bursts, until the WAL has rolled twice.
    for burst in 0..2 {
        for i in 0..100 {
            let _: () = redis::cmd("SET")
                .arg(format!("key{burst}-{i}"))
                .arg(format!("value-{i}"))
                .query(&mut c)
                .expect("set");
        }
        assert!(
            wait_until(std::time::Duration::from_secs(10), || n
                .wal_segments()
                .len()
                > burst + 1),
            "segment {} rolled",
            burst + 2
        );
    }
    // kill -9: a clean stop saves a snapshot and trims the WAL behind it.
    n.kill9();
    let mut segs = n.wal_segments();
    segs.sort();
    assert!(segs.len() >= 3, "several segments: {segs:?}");
    let wal = n.data_dir().join("wal");
    let (code, out, _) = dump(&["verify", wal.to_str().expect("path")]);
    assert_eq!(code, 0, "{out}");
    std::fs::remove_file(&segs[1]).expect("remove a segment");
    let (code, out, _) = dump(&["verify", wal.to_str().expect("path")]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("a segment is missing"), "{out}");
}
