//! sledis-dump on a real node's files: a snapshot of every type read back
//! as JSON and compared with what the server answers; the WAL listed;
//! verify on intact files and on a flipped byte and a torn tail.

mod support;
use std::process::Command;
use support::*;

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

/// One key of every type (and a TTL) on master `m`, then waits until the
/// replica `r` holds the same (equal digests).
fn write_every_type_and_wait(m: &Node, r: &Node) {
    for cmd in [
        vec!["set", "s", "1"],
        vec!["hset", "h", "a", "1", "b", "2"],
        vec!["rpush", "l", "x", "y", "z"],
        vec!["zadd", "z", "1", "one", "-2", "minus"],
        vec!["sadd", "st", "m"],
        vec!["pexpire", "h", "900000"],
    ] {
        assert!(!redis_cli(m.port, &cmd).starts_with("ERR"), "{cmd:?}");
    }
    assert!(wait_until(
        std::time::Duration::from_secs(20),
        || digest_at(m.port) == digest_at(r.port)
    ));
}

#[test]
fn diff_proves_a_replica_matches_and_names_what_differs() {
    let (m, rs) = replicated_group(1);
    let r = &rs[0];
    write_every_type_and_wait(&m, r);
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

/// sledis-dump with `TMPDIR` set, so a test sees what it left behind.
fn dump_tmp(tmp: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(DUMP)
        .args(args)
        .env("TMPDIR", tmp)
        .output()
        .expect("run sledis-dump");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The numbers in `verify`'s sled line: (applied, WAL first, WAL end).
fn sled_line(out: &str) -> (u64, u64, u64) {
    let line = out
        .lines()
        .find(|l| l.contains("applied offset") && l.contains("lies inside the WAL"))
        .unwrap_or_else(|| panic!("a sled line in {out}"));
    let num = |after: &str| -> u64 {
        let rest = &line[line
            .find(after)
            .unwrap_or_else(|| panic!("{after} in {line}"))
            + after.len()..];
        rest.chars()
            .take_while(|c| c.is_ascii_digit())
            .collect::<String>()
            .parse()
            .unwrap_or_else(|_| panic!("a number after {after} in {line}"))
    };
    (num("applied offset "), num("(offsets "), num(".."))
}

fn info_u64(port: u16, field: &str) -> u64 {
    info_field(&redis_cli(port, &["info", "persistence"]), field)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("INFO {field}"))
}

/// SETs in a loop on another thread until the returned flag is set.
fn write_load(
    n: &Node,
) -> (
    std::sync::Arc<std::sync::atomic::AtomicBool>,
    std::thread::JoinHandle<u64>,
) {
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let s = stop.clone();
    let mut c = n.client();
    let h = std::thread::spawn(move || {
        let mut i = 0u64;
        while !s.load(std::sync::atomic::Ordering::Relaxed) {
            let _: () = redis::cmd("SET")
                .arg(format!("load:{}", i % 5000))
                .arg(format!("value-{i}"))
                .query(&mut c)
                .expect("set");
            i += 1;
        }
        i
    });
    (stop, h)
}

#[test]
fn verify_reads_a_running_nodes_sled_applied_offset_under_writes() {
    let n = Node::start(&[]);
    // The write buffer moves into sled 2 s after writes pause (under
    // steady writes, once it is 60 s old or full): a first burst, a pause
    // until sled holds it, so the check compares something, then writes
    // again while the dump tool reads.
    let (stop, writer) = write_load(&n);
    std::thread::sleep(std::time::Duration::from_millis(300));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(writer.join().expect("writer") > 0);
    assert!(
        wait_until(std::time::Duration::from_secs(30), || info_u64(
            n.port,
            "sled_applied_offset"
        ) > 0),
        "sled applied part of the log"
    );
    let (stop, writer) = write_load(&n);
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = n.data_dir();
    for _ in 0..3 {
        let (code, out, err) = dump_tmp(tmp.path(), &["verify", data.to_str().expect("path")]);
        assert_eq!(code, 0, "{out}{err}");
        let (applied, first, end) = sled_line(&out);
        assert!(applied > 0 && first <= applied && applied <= end, "{out}");
        assert!(
            out.contains("read from a copy of a running node's files"),
            "{out}"
        );
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(writer.join().expect("writer") > 0);
    // The copies are gone.
    let left: Vec<_> = std::fs::read_dir(tmp.path()).expect("tmp").collect();
    assert!(left.is_empty(), "temp copies left behind: {left:?}");
}

#[test]
fn verify_names_both_offsets_when_sled_is_ahead_of_the_wal() {
    let mut n = Node::start(&["save \"\""]);
    for i in 0..200 {
        redis_cli(n.port, &["set", &format!("k{i}"), "some value"]);
    }
    // A clean stop moves the whole write buffer into sled.
    n.stop();
    let data = n.data_dir();
    let data = data.to_str().expect("path");
    let (code, out, err) = dump(&["verify", data]);
    assert_eq!(code, 0, "{out}{err}");
    let (applied, _, end) = sled_line(&out);
    assert!(applied > 0 && applied == end, "{out}");
    assert!(!out.contains("running node"), "{out}");
    // Lose the end of the log sled has already applied.
    let seg = n
        .wal_segments()
        .into_iter()
        .rev()
        .find(|s| std::fs::metadata(s).is_ok_and(|m| m.len() > 0))
        .expect("a non-empty segment");
    let len = std::fs::metadata(&seg).expect("segment").len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&seg)
        .and_then(|f| f.set_len(len / 2))
        .expect("truncate");
    for later in n.wal_segments().into_iter().filter(|s| *s > seg) {
        std::fs::remove_file(later).expect("remove");
    }
    let (code, out, err) = dump(&["verify", data]);
    assert_eq!(code, 1, "{out}{err}");
    let line = out
        .lines()
        .find(|l| l.starts_with("DAMAGED") && l.contains("sled"))
        .unwrap_or_else(|| panic!("a DAMAGED sled line in {out}"));
    assert!(
        line.contains(&format!(
            "sled has applied up to offset {applied} but the WAL ends at "
        )),
        "{line}"
    );
    let wal_end: u64 = line
        .split("the WAL ends at ")
        .nth(1)
        .and_then(|r| r.split(':').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("the WAL's end in {line}"));
    assert!(wal_end < applied, "{line}");
}

#[test]
fn diff_compares_a_master_snapshot_with_a_running_replicas_data_dir() {
    let (m, rs) = replicated_group(1);
    let r = &rs[0];
    write_every_type_and_wait(&m, r);
    assert_eq!(redis_cli(m.port, &["save"]).trim(), "OK");
    let snap = m.data_dir().join("dump.sledis");
    let snap = snap.to_str().expect("path");
    let rdata = r.data_dir();
    let rdata = rdata.to_str().expect("path");
    let tmp = tempfile::tempdir().expect("tempdir");
    let (code, out, err) = dump_tmp(tmp.path(), &["diff", snap, rdata]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("5 keys equal, 0 differ, 0 only in A, 0 only in B"),
        "{out}"
    );
    assert!(
        out.contains("# B: data dir") && out.contains("read from a copy of a running node's files"),
        "{out}"
    );
    // A write on the replica only.
    assert_eq!(
        redis_cli(r.port, &["config", "set", "replica-read-only", "no"]).trim(),
        "OK"
    );
    assert_eq!(
        redis_cli(r.port, &["set", "replica-only", "1"]).trim(),
        "OK"
    );
    // A replica's local write takes no WAL offset (the master's stream
    // goes on unbroken): it reaches the files when the write buffer moves
    // into sled, 2 s after writes stop.
    let mut last = (0, String::new(), String::new());
    assert!(
        wait_until(std::time::Duration::from_secs(30), || {
            last = dump_tmp(tmp.path(), &["diff", snap, rdata]);
            last.0 != 0
        }),
        "{last:?}"
    );
    let (code, out, err) = last;
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains("> db0 \"replica-only\" only in B (string)"),
        "{out}"
    );
    assert!(
        out.contains("5 keys equal, 0 differ, 0 only in A, 1 only in B"),
        "{out}"
    );
    // A data dir on the A side too, as JSON.
    let (code, out, _) = dump_tmp(tmp.path(), &["diff", rdata, snap, "--json"]);
    assert_eq!(code, 1, "{out}");
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON lines"))
        .collect();
    assert_eq!(lines[0]["side"], "A");
    assert_eq!(lines[0]["running"], true);
    assert!(lines
        .iter()
        .any(|l| l["diff"] == "only_a" && l["key"] == "replica-only"));
    let left: Vec<_> = std::fs::read_dir(tmp.path()).expect("tmp").collect();
    assert!(left.is_empty(), "temp copies left behind: {left:?}");
}

#[test]
fn diff_includes_what_a_killed_node_had_only_in_its_wal() {
    // The same writes on two nodes: one saves a snapshot, the other is
    // killed before its write buffer reaches sled (that happens 2 s after
    // writes stop, or at 128 MB), so they are only in its WAL.
    let expected = Node::start(&["save \"\""]);
    let mut killed = Node::start(&["save \"\""]);
    let cmds: Vec<Vec<&str>> = vec![
        vec!["set", "s", "hello"],
        vec!["hset", "h", "f1", "v1", "f2", "v2"],
        vec!["sadd", "st", "a", "b", "c"],
        vec!["rpush", "l", "x", "y"],
        vec!["lpush", "l", "w"],
        vec!["zadd", "z", "-1.5", "neg", "2", "two"],
        vec!["pexpireat", "h", "4102444800000"],
        vec!["-n", "3", "set", "other", "1"],
        vec!["del", "st"],
        vec!["sadd", "st", "d"],
    ];
    for c in &cmds {
        for n in [&expected, &killed] {
            assert!(!redis_cli(n.port, c).starts_with("ERR"), "{c:?}");
        }
    }
    let applied = info_u64(killed.port, "sled_applied_offset");
    let end = info_u64(killed.port, "wal_end_offset");
    assert!(applied < end, "writes still only in the WAL");
    killed.kill9();
    assert_eq!(redis_cli(expected.port, &["save"]).trim(), "OK");
    let snap = expected.data_dir().join("dump.sledis");
    let kdata = killed.data_dir();
    let (code, out, err) = dump(&[
        "diff",
        snap.to_str().expect("path"),
        kdata.to_str().expect("path"),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains(&format!(
            "sled (applied offset {applied}) plus the WAL up to offset {end}"
        )),
        "{out}"
    );
    assert!(!out.contains("running node"), "{out}");
    assert!(
        out.contains("6 keys equal, 0 differ, 0 only in A, 0 only in B"),
        "{out}"
    );
    // Read-only: the killed node's files are as it left them, and it
    // recovers the same data.
    killed.launch();
    assert_eq!(digest_at(killed.port), digest_at(expected.port));
}

#[test]
fn diff_and_verify_reject_what_is_not_a_data_dir() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).expect("mkdir");
    let only_wal = tmp.path().join("only-wal");
    std::fs::create_dir_all(only_wal.join("wal")).expect("mkdir");
    let text = tmp.path().join("notes.txt");
    std::fs::write(&text, "not a snapshot").expect("write");
    let missing = tmp.path().join("missing");
    let p = |x: &std::path::Path| x.to_str().expect("path").to_string();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (vec!["verify".into(), p(&empty)], "not a sledis data dir"),
        (vec!["verify".into(), p(&missing)], "No such file"),
        (
            vec!["diff".into(), p(&text), p(&empty)],
            "not a sledis snapshot",
        ),
        (
            vec!["diff".into(), p(&empty), p(&empty)],
            "not a sledis data dir",
        ),
        (vec!["diff".into(), p(&only_wal), p(&empty)], "no sled/db"),
        (vec!["diff".into(), p(&missing), p(&empty)], "No such file"),
    ];
    for (args, needle) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, out, err) = dump(&args);
        assert_eq!(code, 2, "{args:?}: {out}{err}");
        assert!(
            err.contains(needle) && !err.contains("panicked") && err.lines().count() == 1,
            "{args:?}: {err}"
        );
    }
}

/// A WAL record that changes a collection shows its elements in the type's
/// terms (its metadata is in the same record), in text and in JSON.
#[test]
fn wal_shows_collection_elements_in_redis_terms() {
    let n = Node::start(&[]);
    for cmd in [
        vec!["sadd", "st", "x", "y"],
        vec!["zadd", "z", "1.5", "m"],
        vec!["hset", "h", "f", "v"],
        vec!["rpush", "l", "a"],
        vec!["lpush", "l", "b"],
        vec!["zincrby", "z", "1", "m"],
        vec!["spop", "st"],
    ] {
        assert!(!redis_cli(n.port, &cmd).starts_with("ERR"), "{cmd:?}");
    }
    let wal = n.data_dir().join("wal");
    let (code, out, err) = dump(&["wal", wal.to_str().expect("path")]);
    assert_eq!(code, 0, "{err}");
    for want in [
        "PUT db0 \"st\" set v",
        " member \"x\"\n",
        " pop order of \"x\" (round 0)\n",
        " score index 1.5 \"m\"\n",
        " member \"m\" score 1.5\n",
        " field \"f\" = \"v\"\n",
        " item slot 0 = \"a\"\n",
        " item slot -1 = \"b\"\n",
        " member \"m\" score 2.5\n",
        // The keyspace events each record logs (notify.rs).
        "  EVENT db0 new \"st\"\n",
        "  EVENT db0 sadd \"st\"\n",
        "  EVENT db0 rpush \"l\"\n",
        "  EVENT db0 zincr \"z\"\n",
        "  EVENT db0 spop \"st\"\n",
    ] {
        assert!(out.contains(want), "missing {want:?} in:\n{out}");
    }
    // The pop (one of two members) deletes both of the member's elements.
    assert!(
        out.lines()
            .filter(|l| l.starts_with("  DEL db0 \"st\" set v"))
            .count()
            == 2,
        "{out}"
    );
    let (code, json, err) = dump(&["wal", wal.to_str().expect("path"), "--json"]);
    assert_eq!(code, 0, "{err}");
    let texts: Vec<String> = json
        .lines()
        .flat_map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("JSON line");
            v["effects"]
                .as_array()
                .expect("effects")
                .iter()
                .filter_map(|e| e["text"].as_str().map(str::to_string))
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(
        texts.iter().any(|t| t.ends_with("member \"m\" score 2.5")),
        "{texts:?}"
    );
    assert!(
        texts.iter().any(|t| t == "EVENT db0 lpush \"l\""),
        "{texts:?}"
    );
}

/// A bitmap over 64 KiB is kept in chunks: the snapshot shows it as one
/// string (the bytes the server answers), the WAL its metadata and the
/// chunk a SETBIT wrote.
#[test]
fn a_chunked_bitmap_shows_as_a_string() {
    let n = Node::start(&[]);
    let cli = |args: &[&str]| redis_cli(n.port, args);
    // Bit 8 * 100000 + 7: byte 100000, in chunk 24 (4 KiB chunks).
    assert_eq!(cli(&["setbit", "bm", "800007", "1"]).trim(), "0");
    assert_eq!(cli(&["setbit", "bm", "0", "1"]).trim(), "0");
    assert_eq!(cli(&["save"]).trim(), "OK");
    let snap = n.data_dir().join("dump.sledis");
    let (code, out, err) = dump(&["snapshot", snap.to_str().expect("path"), "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value =
        serde_json::from_str(out.lines().next().expect("a key")).expect("JSON");
    assert_eq!(v["type"], "string", "{out}");
    // Not UTF-8: shown as hex, byte 0 = 0x80, byte 100000 = 0x01.
    let hex = v["value"]["hex"].as_str().expect("hex bytes");
    assert_eq!(hex.len(), 2 * 100_001);
    assert!(hex.starts_with("8000"), "{}", &hex[..8]);
    assert!(hex.ends_with("0001"));
    assert_eq!(hex.trim_start_matches("80").trim_matches('0'), "1");
    let (code, out, _) = dump(&["snapshot", snap.to_str().expect("path"), "--stats"]);
    assert_eq!(code, 0);
    assert!(out.contains("db0: string=1"), "{out}");
    let wal = n.data_dir().join("wal");
    let (code, out, _) = dump(&["wal", wal.to_str().expect("path")]);
    assert_eq!(code, 0);
    assert!(
        out.contains("db0 \"bm\" string in chunks len=100001"),
        "{out}"
    );
    assert!(out.contains("chunk 24 (bytes from 98304)"), "{out}");
}
