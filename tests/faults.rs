//! Storage faults against a real `sledis-server`: a WAL write that fails
//! (EIO, a short write, a full disk) and an fsync that fails. What users
//! see: replies, `INFO persistence`, and every acknowledged key (and no
//! refused one) after `kill -9` and a restart without repair options.
//!
//! EIO, short writes and fsync failures are injected at the WAL's I/O
//! points with `DEBUG FAULT` (`src/faults.rs`); the full disk is a real,
//! small tmpfs (mounting needs root, as CI has).

mod support;
use support::*;

use redis::Connection;
use std::process::Command;
use std::time::Duration;

fn fault(c: &mut Connection, args: &[&str]) {
    let () = redis::cmd("DEBUG")
        .arg("FAULT")
        .arg(args)
        .query(c)
        .expect("DEBUG FAULT");
}

fn persistence(c: &mut Connection, field: &str) -> String {
    info_value(c, "persistence", field)
}

fn exists(c: &mut Connection, k: &str) -> bool {
    redis::cmd("EXISTS").arg(k).query::<i64>(c).expect("EXISTS") == 1
}

fn set_ok(c: &mut Connection, k: &str) {
    let () = redis::cmd("SET").arg(k).arg(k).query(c).expect("SET");
}

/// `kill -9`, start again (no repair options), and check what is there.
fn crash_and_check(node: &mut Node, present: &[String], absent: &[String]) -> Connection {
    node.kill9();
    node.launch();
    let mut c = node.client();
    for k in present {
        assert!(exists(&mut c, k), "{k} was acknowledged: {}", node.log());
    }
    for k in absent {
        assert!(!exists(&mut c, k), "{k} was refused");
    }
    let n: i64 = redis::cmd("DBSIZE").query(&mut c).expect("DBSIZE");
    assert_eq!(n, present.len() as i64);
    c
}

#[test]
fn a_failing_wal_write_refuses_writes_until_it_works_again() {
    let mut node = Node::start(&["save \"\""]);
    let mut c = node.client();
    let mut acked: Vec<String> = (0..100).map(|i| format!("a{i}")).collect();
    for k in &acked {
        set_ok(&mut c, k);
    }
    fault(&mut c, &["wal-write", "eio"]);

    // The write in flight is applied, but neither failed nor acknowledged
    // until its WAL bytes are written: its client waits.
    let mut w = client_with_timeout(&node, Duration::from_millis(500));
    let r: redis::RedisResult<()> = redis::cmd("SET").arg("pending").arg("1").query(&mut w);
    assert!(
        r.is_err_and(|e| e.is_timeout()),
        "the write waits for its WAL bytes"
    );

    // New writes, and PING (as Redis does), are refused; reads go on.
    let refused: Vec<String> = (0..10).map(|i| format!("r{i}")).collect();
    for k in &refused {
        let e = redis::cmd("SET")
            .arg(k)
            .arg("x")
            .query::<()>(&mut c)
            .expect_err("refused");
        assert_eq!(e.code(), Some("MISCONF"), "{e}");
        assert!(e.to_string().contains("Input/output error"), "{e}");
    }
    let e = redis::cmd("PING")
        .query::<String>(&mut c)
        .expect_err("PING");
    assert_eq!(e.code(), Some("MISCONF"));
    let got: Option<String> = redis::cmd("GET").arg("a7").query(&mut c).expect("GET");
    assert_eq!(got.as_deref(), Some("a7"));
    assert_eq!(persistence(&mut c, "aof_last_write_status"), "err");
    assert!(persistence(&mut c, "wal_write_error").contains("Input/output error"));
    assert!(
        persistence(&mut c, "wal_last_write_failure_time")
            .parse::<i64>()
            .unwrap_or(-1)
            > 0
    );
    for k in &refused {
        assert!(!exists(&mut c, k), "a refused write is not visible");
    }

    // The disk works again: the kept bytes are written (the in-flight
    // write lands), and writes are accepted, without any command.
    fault(&mut c, &["wal-write", "off"]);
    let back = wait_until(Duration::from_secs(10), || {
        persistence(&mut c, "aof_last_write_status") == "ok"
    });
    assert!(back, "writes resume by themselves: {}", node.log());
    set_ok(&mut c, "after");
    assert!(exists(&mut c, "pending"));
    acked.extend(["pending".to_string(), "after".to_string()]);
    crash_and_check(&mut node, &acked, &refused);
    assert!(!node.log().contains("corrupt"), "{}", node.log());
}

#[test]
fn a_short_wal_write_is_written_again_in_place() {
    let mut node = Node::start(&["save \"\""]);
    let mut c = node.client();
    let mut acked = Vec::new();
    for i in 0..50 {
        let k = format!("b{i}");
        set_ok(&mut c, &k);
        acked.push(k);
    }
    // Half of the next write's bytes reach the file, then it fails; the
    // retry rewrites them from the same position.
    fault(&mut c, &["wal-write", "short", "1"]);
    for i in 50..100 {
        let k = format!("b{i}");
        set_ok(&mut c, &k);
        acked.push(k);
    }
    assert_eq!(persistence(&mut c, "aof_last_write_status"), "ok");
    crash_and_check(&mut node, &acked, &[]);
    let log = node.log();
    assert!(!log.contains("corrupt") && !log.contains("torn"), "{log}");
}

#[test]
fn a_failed_wal_fsync_stops_the_node_and_a_restart_keeps_every_acknowledged_write() {
    let mut node = Node::start(&["save \"\"", "appendfsync always"]);
    let mut c = node.client();
    let acked: Vec<String> = (0..50).map(|i| format!("c{i}")).collect();
    for k in &acked {
        set_ok(&mut c, k);
    }
    fault(&mut c, &["wal-fsync", "eio", "1"]);
    // Under `always` the next write waits for an fsync, which fails: the
    // node exits instead of reporting durability it cannot know.
    let r: redis::RedisResult<()> = redis::cmd("SET").arg("lost").arg("1").query(&mut c);
    assert!(r.is_err(), "no OK after a failed fsync");
    assert!(node.wait_exit(Duration::from_secs(10)), "the node exits");
    assert!(node.log().contains("WAL fsync failed"), "{}", node.log());
    node.launch();
    let mut c = node.client();
    for k in &acked {
        assert!(exists(&mut c, k), "{k} was acknowledged");
    }
}

/// A tmpfs mount removed when dropped.
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    fn mount(dir: &std::path::Path, size: &str) -> Result<Tmpfs, String> {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .output()
            .map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).into_owned());
        }
        Ok(Tmpfs(dir.to_path_buf()))
    }

    fn resize(&self, size: &str) {
        let out = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.0)
            .output()
            .expect("mount");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// A node whose data dir is on a fresh tmpfs of `size`. Mounting needs root,
/// which CI has: a refused mount fails the test, it is never skipped.
fn node_on_tmpfs(size: &str) -> (tempfile::TempDir, Tmpfs, Node) {
    let base = tempfile::tempdir().expect("tempdir");
    let mnt = base.path().join("disk");
    let disk = Tmpfs::mount(&mnt, size)
        .unwrap_or_else(|e| panic!("a full disk needs a tmpfs mount (run as root): {e}"));
    let dir_line = format!("dir {}", mnt.join("data").display());
    let node = Node::start(&["save \"\"", &dir_line]);
    (base, disk, node)
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_refuses_writes_and_a_restart_keeps_every_acknowledged_write() {
    let (_base, disk, mut node) = node_on_tmpfs("16m");
    let mut c = client_with_timeout(&node, Duration::from_secs(2));
    let value = "v".repeat(1024);
    let (mut acked, mut refused, mut in_doubt) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..200_000 {
        let k = format!("k{i:06}");
        match redis::cmd("SET").arg(&k).arg(&value).query::<()>(&mut c) {
            Ok(()) => acked.push(k),
            Err(e) if e.is_timeout() => {
                in_doubt.push(k);
                c = client_with_timeout(&node, Duration::from_secs(2));
            }
            Err(e) => {
                assert_eq!(e.code(), Some("MISCONF"), "{e}");
                assert!(e.to_string().contains("No space left on device"), "{e}");
                refused.push(k);
                if refused.len() >= 20 {
                    break;
                }
            }
        }
    }
    assert!(refused.len() >= 20, "the disk filled up: {}", node.log());
    assert!(
        in_doubt.len() <= 1,
        "one write in flight at most: {in_doubt:?}"
    );
    for k in &refused {
        assert!(!exists(&mut c, k), "{k} was refused but is visible");
    }
    assert!(exists(&mut c, &acked[acked.len() / 2]), "reads go on");
    assert_eq!(persistence(&mut c, "aof_last_write_status"), "err");

    // Crash while the disk is full; start again once it has room.
    node.kill9();
    disk.resize("256m");
    node.launch();
    let mut c = node.client();
    for k in &acked {
        assert!(exists(&mut c, k), "{k} was acknowledged: {}", node.log());
    }
    for k in &refused {
        assert!(!exists(&mut c, k), "{k} was refused");
    }
    let n: i64 = redis::cmd("DBSIZE").query(&mut c).expect("DBSIZE");
    // An in-doubt write is there if its bytes reached the file.
    assert!(
        n >= acked.len() as i64 && n <= (acked.len() + in_doubt.len()) as i64,
        "DBSIZE {n}, acknowledged {}, in doubt {}",
        acked.len(),
        in_doubt.len()
    );
    set_ok(&mut c, "after");
    assert_eq!(persistence(&mut c, "aof_last_write_status"), "ok");
    node.stop();
    drop(disk);
}

/// Takes every free byte of the filesystem at `path` (a file written until
/// ENOSPC).
fn fill_up(path: &std::path::Path) {
    use std::io::Write;
    let mut f = std::fs::File::create(path).expect("filler");
    let chunk = vec![0u8; 64 << 10];
    while f.write_all(&chunk).and_then(|()| f.sync_all()).is_ok() {}
}

#[test]
fn sled_hitting_a_full_disk_is_reopened_once_there_is_room() {
    let (_base, disk, mut node) = node_on_tmpfs("64m");
    let mnt = disk.0.clone();
    let mut c = node.client();
    let value = "v".repeat(1024);
    let n = 20_000;
    for chunk in 0..n / 1000 {
        let mut p = redis::pipe();
        for i in chunk * 1000..(chunk + 1) * 1000 {
            p.cmd("SET").arg(format!("k{i:06}")).arg(&value).ignore();
        }
        let () = p.query(&mut c).expect("SET");
    }
    // The writes are in the WAL; sled gets them once the write buffer has
    // been quiet for a moment, by which time the disk is full.
    let filler = mnt.join("filler");
    fill_up(&filler);
    let stuck = wait_until(Duration::from_secs(30), || {
        !persistence(&mut c, "sled_io_error").is_empty()
    });
    assert!(stuck, "sled met the full disk: {}", node.log());
    let got: Option<String> = redis::cmd("GET").arg("k000042").query(&mut c).expect("GET");
    assert_eq!(got.as_deref(), Some(value.as_str()), "reads go on");

    std::fs::remove_file(&filler).expect("rm filler");
    let caught_up = wait_until(Duration::from_secs(30), || {
        persistence(&mut c, "sled_io_error").is_empty()
            && persistence(&mut c, "sled_applied_offset")
                == persistence(&mut c, "wal_written_offset")
    });
    assert!(caught_up, "sled was reopened and caught up: {}", node.log());
    assert!(
        persistence(&mut c, "sled_reopens")
            .parse::<u64>()
            .unwrap_or(0)
            >= 1
    );
    set_ok(&mut c, "after");
    let mut keys: Vec<String> = (0..n).map(|i| format!("k{i:06}")).collect();
    keys.push("after".into());
    crash_and_check(&mut node, &keys, &[]);
    node.stop();
    drop(disk);
}

#[test]
fn a_failed_snapshot_write_keeps_the_old_snapshot_and_full_syncs_wait_for_a_good_one() {
    let mut master = Node::start(&["save \"\""]);
    let mut c = master.client();
    for i in 0..2000 {
        set_ok(&mut c, &format!("s{i}"));
    }
    // No snapshot yet and snapshot writes failing: a new replica cannot
    // get a full sync, and stays down without a partial dataset.
    fault(&mut c, &["snapshot-write", "eio"]);
    let replica = Node::start(&["save \"\""]);
    let mut r = replicaof(&replica, &master);
    let failed = wait_until(Duration::from_secs(10), || {
        master.log().contains("Input/output error")
    });
    assert!(failed, "the master's snapshot failed: {}", master.log());
    let link = |r: &mut Connection| {
        let i: String = redis::cmd("INFO")
            .arg("replication")
            .query(r)
            .expect("INFO");
        info_field(&i, "master_link_status").unwrap_or_default()
    };
    assert_eq!(link(&mut r), "down");
    let n: i64 = redis::cmd("DBSIZE").query(&mut r).expect("DBSIZE");
    assert_eq!(n, 0, "nothing half-loaded");
    assert_eq!(persistence(&mut c, "rdb_last_bgsave_status"), "err");

    // The disk works again: the replica's retries get their full sync.
    fault(&mut c, &["snapshot-write", "off"]);
    let up = wait_until(Duration::from_secs(30), || link(&mut r) == "up");
    assert!(
        up,
        "the replica synced once snapshots work: {}",
        replica.log()
    );

    // A good snapshot, then a failing SAVE: the old file stays as it was,
    // no temp file is left, the error is reported.
    let () = redis::cmd("SAVE").query(&mut c).expect("SAVE");
    let path = std::path::PathBuf::from(persistence(&mut c, "snapshot_file"));
    let before = std::fs::read(&path).expect("snapshot");
    set_ok(&mut c, "newer");
    fault(&mut c, &["snapshot-write", "eio", "1"]);
    let e = redis::cmd("SAVE")
        .query::<()>(&mut c)
        .expect_err("SAVE fails");
    assert!(e.to_string().contains("Input/output error"), "{e}");
    assert_eq!(
        std::fs::read(&path).expect("snapshot"),
        before,
        "the old snapshot is intact"
    );
    let mut tmp = path.clone().into_os_string();
    tmp.push(".tmp");
    assert!(!std::path::Path::new(&tmp).exists(), "no temp file left");
    assert_eq!(persistence(&mut c, "rdb_last_bgsave_status"), "err");
    let () = redis::cmd("SAVE").query(&mut c).expect("SAVE again");
    assert_eq!(persistence(&mut c, "rdb_last_bgsave_status"), "ok");
    let mut keys: Vec<String> = (0..2000).map(|i| format!("s{i}")).collect();
    keys.push("newer".into());
    crash_and_check(&mut master, &keys, &[]);
}

#[test]
fn a_failed_storage_read_answers_an_error_and_writes_nothing() {
    let mut node = Node::start(&["save \"\""]);
    let mut c = node.client();
    set_ok(&mut c, "cold");
    let () = redis::cmd("SET")
        .arg("counter")
        .arg(10)
        .query(&mut c)
        .expect("SET");
    let () = redis::cmd("RPUSH")
        .arg("list")
        .arg("a")
        .arg("b")
        .query::<i64>(&mut c)
        .map(|_| ())
        .expect("RPUSH");
    // A clean restart: the write buffer and the read cache are empty, so
    // every read below goes to sled.
    node.stop();
    node.launch();
    let mut c = node.client();
    fault(&mut c, &["sled-read", "eio"]);
    let e = redis::cmd("GET")
        .arg("cold")
        .query::<Option<String>>(&mut c)
        .expect_err("GET");
    assert!(e.to_string().contains("storage read failed"), "{e}");
    let e = redis::cmd("INCR")
        .arg("counter")
        .query::<i64>(&mut c)
        .expect_err("INCR");
    assert!(e.to_string().contains("storage read failed"), "{e}");
    let e = redis::cmd("LRANGE")
        .arg("list")
        .arg(0)
        .arg(-1)
        .query::<Vec<String>>(&mut c)
        .expect_err("LRANGE");
    assert!(e.to_string().contains("storage read failed"), "{e}");
    fault(&mut c, &["sled-read", "off"]);
    let got: Option<String> = redis::cmd("GET").arg("cold").query(&mut c).expect("GET");
    assert_eq!(got.as_deref(), Some("cold"), "no miss was remembered");
    let n: i64 = redis::cmd("GET").arg("counter").query(&mut c).expect("GET");
    assert_eq!(n, 10, "the failed INCR wrote nothing");
    let l: Vec<String> = redis::cmd("LRANGE")
        .arg("list")
        .arg(0)
        .arg(-1)
        .query(&mut c)
        .expect("LRANGE");
    assert_eq!(l, ["a", "b"]);
    let mut c = crash_and_check(
        &mut node,
        &["cold".into(), "counter".into(), "list".into()],
        &[],
    );
    let n: i64 = redis::cmd("GET").arg("counter").query(&mut c).expect("GET");
    assert_eq!(n, 10, "the failed INCR is not in the WAL either");
}

/// `n` keys `m<i>` with `size` random (incompressible) bytes each.
fn fill_random(c: &mut Connection, n: usize, size: usize) {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for chunk in (0..n).collect::<Vec<_>>().chunks(500) {
        let mut p = redis::pipe();
        for i in chunk {
            let v: Vec<u8> = (0..size / 8)
                .flat_map(|_| rng.next().to_le_bytes())
                .collect();
            p.cmd("SET").arg(format!("m{i:07}")).arg(v).ignore();
        }
        let () = p.query(c).expect("SET");
    }
}

#[test]
fn sled_stuck_on_an_io_error_refuses_writes_once_the_write_buffer_is_full() {
    // A small budget: a write buffer of a few MiB.
    let mut node = Node::start(&["save \"\"", "maxmemory 32mb"]);
    let mut c = client_with_timeout(&node, Duration::from_secs(10));
    set_ok(&mut c, "before");
    fault(&mut c, &["sled-write", "eio"]);
    let value = "v".repeat(1024);
    let (mut acked, mut refused) = (Vec::new(), Vec::new());
    for i in 0..100_000 {
        let k = format!("k{i:06}");
        match redis::cmd("SET").arg(&k).arg(&value).query::<()>(&mut c) {
            Ok(()) => acked.push(k),
            Err(e) => {
                assert_eq!(e.code(), Some("MISCONF"), "{e}");
                assert!(e.to_string().contains("Errors writing to sled"), "{e}");
                refused.push(k);
                if refused.len() >= 10 {
                    break;
                }
            }
        }
    }
    assert!(
        refused.len() >= 10,
        "the write buffer filled up: {}",
        node.log()
    );
    assert!(!persistence(&mut c, "sled_io_error").is_empty());
    assert_eq!(persistence(&mut c, "sled_write_buffer_full"), "1");
    // Other clients are served meanwhile: reads, PING, INFO.
    let mut other = client_with_timeout(&node, Duration::from_secs(2));
    let got: Option<String> = redis::cmd("GET")
        .arg("before")
        .query(&mut other)
        .expect("GET");
    assert_eq!(got.as_deref(), Some("before"));
    let got: Option<String> = redis::cmd("GET")
        .arg(&acked[acked.len() - 1])
        .query(&mut other)
        .expect("GET");
    assert_eq!(got.as_deref(), Some(value.as_str()), "reads go on");
    let pong: String = redis::cmd("PING").query(&mut other).expect("PING");
    assert_eq!(pong, "PONG");
    for k in &refused {
        assert!(!exists(&mut other, k), "{k} was refused but is visible");
    }

    // sled works again: the applier reopens it and writes are taken.
    fault(&mut c, &["sled-write", "off"]);
    let back = wait_until(Duration::from_secs(30), || {
        redis::cmd("SET")
            .arg("after")
            .arg("after")
            .query::<()>(&mut c)
            .is_ok()
    });
    assert!(back, "writes resume: {}", node.log());
    assert!(persistence(&mut c, "sled_io_error").is_empty());
    acked.insert(0, "before".into());
    acked.push("after".into());
    crash_and_check(&mut node, &acked, &refused);
    node.stop();
}

#[test]
fn a_replica_whose_disk_fills_during_a_full_sync_keeps_its_old_data_and_syncs_once_there_is_room() {
    let master = Node::start(&["save \"\""]);
    let mut m = master.client();
    // ~24 MB of snapshot that does not compress, for a 16 MB disk.
    fill_random(&mut m, 24_000, 1024);
    let (_base, disk, mut replica) = node_on_tmpfs("16m");
    let mut r = replica.client();
    set_ok(&mut r, "old");
    follow(&mut r, Some(&master));
    let failed = wait_until(Duration::from_secs(30), || {
        info_value(&mut r, "replication", "master_sync_last_error").contains("No space left")
    });
    assert!(failed, "the snapshot did not fit: {}", replica.log());
    // The old data is served, whole; the partial file is gone.
    assert!(exists(&mut r, "old"), "the old data stays");
    assert!(!exists(&mut r, "m0000001"));
    assert_eq!(info_value(&mut r, "persistence", "loading"), "0");
    let leftovers: Vec<_> = std::fs::read_dir(disk.0.join("data"))
        .expect("data dir")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("sync-"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "no partial snapshot left: {leftovers:?}"
    );

    // Room again: the replica syncs by itself.
    disk.resize("256m");
    let synced = wait_until(Duration::from_secs(60), || linked_and_equal(&mut r, &mut m));
    assert!(synced, "synced once there was room: {}", replica.log());
    assert!(!exists(&mut r, "old"), "the master's data replaced it");
    assert!(info_value(&mut r, "replication", "master_sync_last_error").is_empty());
    replica.kill9();
    replica.launch();
    let mut r = replica.client();
    let back = wait_until(Duration::from_secs(30), || linked_and_equal(&mut r, &mut m));
    assert!(
        back,
        "the replica restarts with the data: {}",
        replica.log()
    );
    replica.stop();
    drop(disk);
}

#[test]
fn a_replica_whose_sled_fails_while_loading_answers_loading_and_syncs_in_full_again() {
    let master = Node::start(&["save \"\""]);
    let mut m = master.client();
    fill_random(&mut m, 2000, 100);
    let mut replica = Node::start(&["save \"\""]);
    let mut r = replica.client();
    set_ok(&mut r, "old");
    fault(&mut r, &["sled-write", "eio"]);
    follow(&mut r, Some(&master));
    let failed = wait_until(Duration::from_secs(30), || {
        !info_value(&mut r, "replication", "master_sync_last_error").is_empty()
    });
    assert!(failed, "the load failed: {}", replica.log());
    // Neither the old data nor part of the new one is served.
    assert_eq!(info_value(&mut r, "persistence", "loading"), "1");
    for k in ["old", "m0000001"] {
        let e = redis::cmd("GET")
            .arg(k)
            .query::<Option<String>>(&mut r)
            .expect_err("GET while incomplete");
        assert_eq!(e.code(), Some("LOADING"), "{e}");
    }

    // sled works again: the next attempt is a full sync, and it loads.
    fault(&mut r, &["sled-write", "off"]);
    let synced = wait_until(Duration::from_secs(60), || linked_and_equal(&mut r, &mut m));
    assert!(synced, "a full sync after the failure: {}", replica.log());
    assert!(!exists(&mut r, "old"));
    let () = redis::cmd("SET")
        .arg("later")
        .arg("1")
        .query(&mut m)
        .expect("SET");
    let streamed = wait_until(Duration::from_secs(10), || exists(&mut r, "later"));
    assert!(streamed);
    replica.kill9();
    replica.launch();
    let mut r = replica.client();
    let back = wait_until(Duration::from_secs(30), || linked_and_equal(&mut r, &mut m));
    assert!(
        back,
        "the replica restarts with the data: {}",
        replica.log()
    );

    // A failed load, then REPLICAOF NO ONE: an empty master, not a partial
    // dataset.
    follow(&mut r, None);
    set_ok(&mut r, "own");
    fault(&mut r, &["sled-write", "eio"]);
    follow(&mut r, Some(&master));
    let failed = wait_until(Duration::from_secs(30), || {
        info_value(&mut r, "persistence", "loading") == "1"
    });
    assert!(failed, "the load failed again: {}", replica.log());
    // Still failing, so the link's retries cannot complete the data before
    // REPLICAOF NO ONE (a retry that did would rightly keep it).
    follow(&mut r, None);
    fault(&mut r, &["sled-write", "off"]);
    let n: i64 = redis::cmd("DBSIZE").query(&mut r).expect("DBSIZE");
    assert_eq!(n, 0, "the partial data was dropped");
    set_ok(&mut r, "fresh");
    replica.kill9();
    replica.launch();
    let mut r = replica.client();
    assert!(exists(&mut r, "fresh"));
    let n: i64 = redis::cmd("DBSIZE").query(&mut r).expect("DBSIZE");
    assert_eq!(n, 1);
    replica.stop();
}

#[test]
fn a_replica_whose_sled_fails_while_it_serves_a_big_full_sync_from_the_file_loads_it_later() {
    let master = Node::start(&["save \"\""]);
    let mut m = master.client();
    // Over 32 MiB raw: the replica serves the received file while sled
    // loads it behind (`store/overlay.rs`).
    fill_random(&mut m, 36_000, 1024);
    let mut replica = Node::start(&["save \"\""]);
    let mut r = replica.client();
    fault(&mut r, &["sled-write", "eio"]);
    follow(&mut r, Some(&master));
    let serving = wait_until(Duration::from_secs(60), || linked_and_equal(&mut r, &mut m));
    assert!(serving, "the file serves: {}", replica.log());
    let failing = wait_until(Duration::from_secs(30), || {
        replica
            .log()
            .contains("loading the full sync into sled failed")
    });
    assert!(failing, "sled fails under the load: {}", replica.log());
    assert_eq!(info_value(&mut r, "persistence", "sled_load_pending"), "1");
    let () = redis::cmd("SET")
        .arg("later")
        .arg("1")
        .query(&mut m)
        .expect("SET");
    let streamed = wait_until(Duration::from_secs(10), || exists(&mut r, "later"));
    assert!(streamed, "the stream flows meanwhile");

    fault(&mut r, &["sled-write", "off"]);
    let loaded = wait_until(Duration::from_secs(60), || {
        info_value(&mut r, "persistence", "sled_load_pending") == "0"
    });
    assert!(loaded, "sled has it all: {}", replica.log());
    assert!(linked_and_equal(&mut r, &mut m));
    replica.kill9();
    replica.launch();
    let mut r = replica.client();
    let back = wait_until(Duration::from_secs(30), || linked_and_equal(&mut r, &mut m));
    assert!(
        back,
        "the replica restarts with the data: {}",
        replica.log()
    );
    let full: i64 = info_value(&mut m, "stats", "sync_full")
        .parse()
        .unwrap_or(-1);
    assert_eq!(full, 1, "no second full sync was needed");
    replica.stop();
}

#[test]
fn a_full_disk_leaves_the_config_file_whole_and_the_role_is_written_once_there_is_room() {
    let master = Node::start(&["save \"\""]);
    let mut node = Node::start(&["save \"\""]);
    // The config file alone on a small tmpfs.
    let base = tempfile::tempdir().expect("tempdir");
    let mnt = base.path().join("etc");
    let disk = Tmpfs::mount(&mnt, "1m")
        .unwrap_or_else(|e| panic!("a full disk needs a tmpfs mount (run as root): {e}"));
    node.stop();
    let conf = mnt.join("sledis.conf");
    std::fs::copy(&node.conf, &conf).expect("copy conf");
    node.conf = conf.clone();
    node.launch();
    let before = std::fs::read_to_string(&conf).expect("conf");
    let filler = mnt.join("filler");
    fill_up(&filler);

    let mut c = node.client();
    follow(&mut c, Some(&master));
    assert_eq!(info_value(&mut c, "replication", "role"), "slave");
    assert!(
        info_value(&mut c, "persistence", "config_rewrite_error").contains("No space left"),
        "{}",
        node.log()
    );
    assert_eq!(
        std::fs::read_to_string(&conf).expect("conf"),
        before,
        "the old config stays whole"
    );
    let names: Vec<String> = std::fs::read_dir(&mnt)
        .expect("ls")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 2, "no temp file left: {names:?}");

    std::fs::remove_file(&filler).expect("rm filler");
    let line = format!("replicaof 127.0.0.1 {}", master.port);
    let written = wait_until(Duration::from_secs(10), || {
        std::fs::read_to_string(&conf).is_ok_and(|t| t.contains(&line))
    });
    assert!(written, "the cron wrote the role: {}", node.log());
    assert!(info_value(&mut c, "persistence", "config_rewrite_error").is_empty());
    node.kill9();
    node.launch();
    let mut c = node.client();
    assert_eq!(info_value(&mut c, "replication", "role"), "slave");
    assert_eq!(
        info_value(&mut c, "replication", "master_port"),
        master.port.to_string()
    );
    node.stop();
    drop(disk);
}
