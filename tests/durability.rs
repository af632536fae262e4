//! Durability, recovery and persistence checks against a real
//! `sledis-server` process: restarts, `kill -9` under both fsync policies,
//! damaged WAL tails and middles, SAVE/BGSAVE while writing, rebuilding sled
//! from a snapshot, and the config file round trip.

mod support;
use support::*;

use redis::Connection;
use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

// ---------- small client helpers ----------

fn path_str(p: &Path) -> String {
    p.display().to_string()
}

fn value_of(key: &str) -> String {
    format!("value-of-{key}-{}", "x".repeat(key.len() % 7))
}

fn set(c: &mut Connection, k: &str, v: &str) {
    let r: String = redis::cmd("SET").arg(k).arg(v).query(c).expect("SET");
    assert_eq!(r, "OK");
}

fn get(c: &mut Connection, k: &str) -> Option<String> {
    redis::cmd("GET").arg(k).query(c).expect("GET")
}

fn lastsave(c: &mut Connection) -> i64 {
    redis::cmd("LASTSAVE").query(c).expect("LASTSAVE")
}

/// SETs `keys` (each its own command, so each its own WAL record) in one
/// pipeline; every value is `value_of(key)`.
fn set_keys(c: &mut Connection, keys: &[String]) {
    for chunk in keys.chunks(1000) {
        let mut p = redis::pipe();
        for k in chunk {
            p.cmd("SET").arg(k).arg(value_of(k)).ignore();
        }
        let _: () = p.query(c).expect("pipelined SET");
    }
}

/// SETs `keys` one round trip at a time (so the WAL rolls segments between
/// them rather than after one big pipelined write).
fn set_one_by_one(c: &mut Connection, keys: &[String]) {
    for k in keys {
        set(c, k, &value_of(k));
    }
}

fn keys(prefix: &str, range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| format!("{prefix}{i}")).collect()
}

/// Values of `keys`, fetched with MGET in chunks.
fn mget(c: &mut Connection, keys: &[String]) -> Vec<Option<String>> {
    let mut out = Vec::with_capacity(keys.len());
    for chunk in keys.chunks(1000) {
        let mut cmd = redis::cmd("MGET");
        for k in chunk {
            cmd.arg(k);
        }
        let v: Vec<Option<String>> = cmd.query(c).expect("MGET");
        out.extend(v);
    }
    out
}

/// Every key holds `value_of(key)`.
fn assert_present(c: &mut Connection, keys: &[String], what: &str) {
    let vals = mget(c, keys);
    let missing: Vec<&String> = keys
        .iter()
        .zip(&vals)
        .filter(|(k, v)| v.as_deref() != Some(value_of(k).as_str()))
        .map(|(k, _)| k)
        .collect();
    assert!(
        missing.is_empty(),
        "{what}: {} of {} keys missing or wrong, first ones: {:?}",
        missing.len(),
        keys.len(),
        &missing[..missing.len().min(10)]
    );
}

fn assert_absent(c: &mut Connection, keys: &[String], what: &str) {
    let vals = mget(c, keys);
    let there: Vec<&String> = keys
        .iter()
        .zip(&vals)
        .filter(|(_, v)| v.is_some())
        .map(|(k, _)| k)
        .collect();
    assert!(
        there.is_empty(),
        "{what}: {} keys should be gone but are there: {:?}",
        there.len(),
        &there[..there.len().min(10)]
    );
}

fn unix_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Waits (briefly) until the wall clock is in a later second than `t`, so a
/// save now gets a LASTSAVE greater than `t`.
fn wait_next_second(t: i64) {
    assert!(
        wait_until(Duration::from_secs(3), || unix_secs() > t),
        "clock did not advance"
    );
}

fn snapshot_file(n: &Node) -> PathBuf {
    n.data_dir().join("dump.sledis")
}

// ---------- WAL file helpers ----------

/// One framed record in a segment file: `len u32 LE | crc u32 LE | payload`.
#[derive(Debug, Clone, Copy)]
struct Frame {
    /// Byte position of the frame inside its segment file.
    pos: u64,
    /// Payload length.
    len: u32,
}

impl Frame {
    fn end(&self) -> u64 {
        self.pos + 8 + self.len as u64
    }
}

fn segment_start(path: &Path) -> u64 {
    path.file_stem()
        .and_then(|s| s.to_str())
        .and_then(|s| s.parse().ok())
        .expect("segment name is its start offset")
}

/// Parses every frame of a segment; panics on anything but whole frames.
fn frames(path: &Path) -> Vec<Frame> {
    let bytes = std::fs::read(path).expect("read segment");
    let mut out = Vec::new();
    let mut pos = 0usize;
    while pos < bytes.len() {
        assert!(
            pos + 8 <= bytes.len(),
            "{}: partial header at {pos}",
            path.display()
        );
        let len = u32::from_le_bytes(bytes[pos..pos + 4].try_into().unwrap_or([0; 4]));
        let crc = u32::from_le_bytes(bytes[pos + 4..pos + 8].try_into().unwrap_or([0; 4]));
        let end = pos + 8 + len as usize;
        assert!(
            len > 0 && end <= bytes.len(),
            "{}: bad frame at {pos} (len {len})",
            path.display()
        );
        assert_eq!(
            crc32fast::hash(&bytes[pos + 8..end]),
            crc,
            "{}: crc of the frame at {pos}",
            path.display()
        );
        out.push(Frame {
            pos: pos as u64,
            len,
        });
        pos = end;
    }
    out
}

/// The user key of the first `Put` in a frame (every SET logs one).
fn frame_user_key(path: &Path, f: &Frame) -> String {
    use sledis::wal::{decode_frame, Decoded, Effect};
    let bytes = std::fs::read(path).expect("read segment");
    let raw = &bytes[f.pos as usize..f.end() as usize];
    match decode_frame(raw, segment_start(path) + f.pos) {
        Decoded::Record(r, _) => r
            .effects
            .iter()
            .find_map(|e| match e {
                Effect::Put { key, .. } => sledis::store::keys::parse_data_key(key)
                    .map(|(_, _, k)| String::from_utf8_lossy(k).into_owned()),
                _ => None,
            })
            .expect("a Put in the record"),
        other => panic!("frame at {} does not decode: {other:?}", f.pos),
    }
}

/// The WAL offset sled has applied, read from the sled files of a stopped
/// node (the same key `Store::open` reads).
fn sled_applied_offset(data_dir: &Path) -> u64 {
    let db = sled::open(data_dir.join("sled")).expect("open sled of a stopped node");
    let meta = db.open_tree("sledis-meta").expect("meta tree");
    let v = meta.get("applied_offset").expect("read applied_offset");
    let off = v
        .map(|v| u64::from_be_bytes(v.as_ref().try_into().unwrap_or([0; 8])))
        .unwrap_or(0);
    drop(meta);
    drop(db);
    off
}

fn file_len(p: &Path) -> u64 {
    std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
}

fn truncate(p: &Path, len: u64) {
    let f = OpenOptions::new()
        .write(true)
        .open(p)
        .expect("open for truncate");
    f.set_len(len).expect("truncate");
    f.sync_all().expect("sync");
}

fn flip_byte(p: &Path, at: u64) {
    let mut b = std::fs::read(p).expect("read");
    b[at as usize] ^= 0x5a;
    std::fs::write(p, b).expect("write");
}

// ---------- restarts ----------

/// Writes a small but varied data set: plain keys, a TTL, a deleted key, an
/// INCR counter, APPEND, another db, and a flushed db.
fn populate(c: &mut Connection) {
    set_keys(c, &keys("r:", 0..500));
    let _: () = redis::cmd("SET")
        .arg("ttl")
        .arg("t")
        .arg("EX")
        .arg(1000)
        .query(c)
        .expect("SET EX");
    set(c, "gone", "soon");
    let _: i64 = redis::cmd("DEL").arg("gone").query(c).expect("DEL");
    for _ in 0..10 {
        let _: i64 = redis::cmd("INCR").arg("counter").query(c).expect("INCR");
    }
    for _ in 0..3 {
        let _: i64 = redis::cmd("APPEND")
            .arg("app")
            .arg("abc")
            .query(c)
            .expect("APPEND");
    }
    let _: () = redis::cmd("SELECT").arg(3).query(c).expect("SELECT");
    set(c, "db3key", "hello");
    let _: () = redis::cmd("SELECT").arg(5).query(c).expect("SELECT");
    set(c, "a", "1");
    set(c, "b", "2");
    let _: () = redis::cmd("FLUSHDB").query(c).expect("FLUSHDB");
    let _: () = redis::cmd("SELECT").arg(0).query(c).expect("SELECT");
}

fn verify_populated(c: &mut Connection) {
    assert_present(c, &keys("r:", 0..500), "plain keys");
    assert_eq!(get(c, "ttl").as_deref(), Some("t"));
    let ttl: i64 = redis::cmd("TTL").arg("ttl").query(c).expect("TTL");
    assert!(
        (900..=1000).contains(&ttl),
        "TTL survived the restart: {ttl}"
    );
    assert_eq!(get(c, "gone"), None, "a deleted key stays deleted");
    assert_eq!(get(c, "counter").as_deref(), Some("10"));
    assert_eq!(get(c, "app").as_deref(), Some("abcabcabc"));
    assert_eq!(dbsize(c), 503, "db 0 key count");
    let _: () = redis::cmd("SELECT").arg(3).query(c).expect("SELECT");
    assert_eq!(get(c, "db3key").as_deref(), Some("hello"));
    assert_eq!(dbsize(c), 1);
    let _: () = redis::cmd("SELECT").arg(5).query(c).expect("SELECT");
    assert_eq!(dbsize(c), 0, "a flushed db stays empty");
    assert_eq!(get(c, "a"), None);
    let _: () = redis::cmd("SELECT").arg(0).query(c).expect("SELECT");
}

#[test]
fn restart_after_sigterm_keeps_data() {
    let mut n = Node::start(&[]);
    populate(&mut n.client());
    n.stop();
    // Redis saves on SIGTERM when save points are set (the default has them).
    assert!(
        snapshot_file(&n).exists(),
        "SIGTERM with save points writes the snapshot"
    );
    n.launch();
    let mut c = n.client();
    verify_populated(&mut c);
    // And once more, after a restart that had nothing to replay.
    drop(c);
    n.stop();
    n.launch();
    verify_populated(&mut n.client());
}

#[test]
fn restart_after_shutdown_keeps_data() {
    let mut n = Node::start(&[]);
    let mut c = n.client();
    populate(&mut c);
    let r: redis::RedisResult<()> = redis::cmd("SHUTDOWN").query(&mut c);
    assert!(
        r.is_err(),
        "SHUTDOWN closes the connection without a reply, got {r:?}"
    );
    assert!(
        n.wait_exit(Duration::from_secs(20)),
        "SHUTDOWN stops the process"
    );
    assert!(
        snapshot_file(&n).exists(),
        "SHUTDOWN with save points writes the snapshot"
    );
    n.launch();
    verify_populated(&mut n.client());
}

#[test]
fn restart_after_shutdown_nosave_keeps_data() {
    let mut n = Node::start(&[]);
    let mut c = n.client();
    populate(&mut c);
    let r: redis::RedisResult<()> = redis::cmd("SHUTDOWN").arg("NOSAVE").query(&mut c);
    assert!(
        r.is_err(),
        "SHUTDOWN NOSAVE closes the connection without a reply, got {r:?}"
    );
    assert!(
        n.wait_exit(Duration::from_secs(20)),
        "SHUTDOWN NOSAVE stops the process"
    );
    assert!(
        !snapshot_file(&n).exists(),
        "SHUTDOWN NOSAVE writes no snapshot"
    );
    n.launch();
    verify_populated(&mut n.client());
}

// ---------- kill -9 ----------

#[test]
fn appendfsync_always_kill9_keeps_every_acknowledged_write() {
    const THREADS: usize = 4;
    const PER_THREAD: usize = 2000;
    let mut n = Node::start(&["appendfsync always"]);
    let acked: Arc<Vec<AtomicU64>> = Arc::new((0..THREADS).map(|_| AtomicU64::new(0)).collect());
    let incr_acked: Arc<Vec<AtomicU64>> =
        Arc::new((0..THREADS).map(|_| AtomicU64::new(0)).collect());
    let mut handles = Vec::new();
    for t in 0..THREADS {
        let mut c = n.client();
        let acked = acked.clone();
        let incr_acked = incr_acked.clone();
        handles.push(std::thread::spawn(move || {
            for i in 0..PER_THREAD {
                let k = format!("al:{t}:{i}");
                let r: redis::RedisResult<String> =
                    redis::cmd("SET").arg(&k).arg(value_of(&k)).query(&mut c);
                match r {
                    Ok(s) if s == "OK" => acked[t].store(i as u64 + 1, Ordering::SeqCst),
                    _ => return,
                }
                if i % 10 == 0 {
                    match redis::cmd("INCR")
                        .arg(format!("ctr:{t}"))
                        .query::<u64>(&mut c)
                    {
                        Ok(v) => incr_acked[t].store(v, Ordering::SeqCst),
                        Err(_) => return,
                    }
                }
            }
        }));
    }
    let total = |a: &[AtomicU64]| a.iter().map(|x| x.load(Ordering::SeqCst)).sum::<u64>();
    let target = (THREADS * PER_THREAD / 2) as u64;
    assert!(
        wait_until(Duration::from_secs(60), || total(&acked) >= target),
        "writers too slow: {} acked",
        total(&acked)
    );
    n.kill9();
    for h in handles {
        h.join().expect("writer thread");
    }
    let acked: Vec<u64> = acked.iter().map(|a| a.load(Ordering::SeqCst)).collect();
    let sum: u64 = acked.iter().sum();
    assert!(
        sum < (THREADS * PER_THREAD) as u64,
        "kill -9 came after every write finished ({sum} acked): nothing was in flight"
    );
    n.launch();
    let mut c = n.client();
    for (t, &a) in acked.iter().enumerate() {
        assert_present(
            &mut c,
            &keys(&format!("al:{t}:"), 0..a as usize),
            &format!("acknowledged writes of thread {t}"),
        );
        let ctr: u64 = get(&mut c, &format!("ctr:{t}"))
            .map(|v| v.parse().expect("counter"))
            .unwrap_or(0);
        let want = incr_acked[t].load(Ordering::SeqCst);
        assert!(
            ctr == want || ctr == want + 1,
            "thread {t}: INCR acknowledged {want}, found {ctr} after kill -9"
        );
    }
}

#[test]
fn appendfsync_everysec_kill9_keeps_writes_older_than_two_seconds() {
    let mut n = Node::start(&["appendfsync everysec"]);
    let stop = Arc::new(AtomicBool::new(false));
    let acks: Arc<Mutex<Vec<Instant>>> = Arc::new(Mutex::new(Vec::new()));
    let mut c = n.client();
    let (stop2, acks2) = (stop.clone(), acks.clone());
    let writer = std::thread::spawn(move || {
        let mut i = 0usize;
        while !stop2.load(Ordering::SeqCst) {
            let k = format!("es:{i}");
            let r: redis::RedisResult<String> =
                redis::cmd("SET").arg(&k).arg(value_of(&k)).query(&mut c);
            if r.is_err() {
                return;
            }
            acks2.lock().expect("lock").push(Instant::now());
            i += 1;
        }
    });
    // Long enough that some writes are well older than 2 s at the kill.
    let t0 = Instant::now();
    assert!(wait_until(Duration::from_secs(10), || t0.elapsed()
        >= Duration::from_millis(3500)));
    let killed_at = Instant::now();
    n.kill9();
    stop.store(true, Ordering::SeqCst);
    writer.join().expect("writer");
    let acks = acks.lock().expect("lock").clone();
    let old = acks
        .iter()
        .take_while(|t| killed_at.duration_since(**t) > Duration::from_secs(2))
        .count();
    assert!(
        old > 100,
        "too few writes older than 2 s ({old}); the test proves nothing"
    );
    n.launch();
    let mut c = n.client();
    assert_present(
        &mut c,
        &keys("es:", 0..old),
        "writes acknowledged more than 2 s before kill -9",
    );
    // The log is a prefix: no later write survives while an earlier one is lost.
    let all = keys("es:", 0..acks.len());
    let vals = mget(&mut c, &all);
    let present = vals.iter().take_while(|v| v.is_some()).count();
    assert!(
        vals[present..].iter().all(|v| v.is_none()),
        "the recovered writes are not a prefix of the acknowledged ones"
    );
    eprintln!(
        "everysec: {} acknowledged, {old} older than 2 s, {present} recovered",
        acks.len()
    );
}

// ---------- damaged WAL ----------

/// Writes `keys` and kills the node at once, retrying on a fresh node until
/// sled has not applied the record at index `need_unapplied` (from the end if
/// negative), which a background apply can race with. Returns the node, the
/// segment path and its frames.
fn write_then_kill(
    lines: &[&str],
    before: impl Fn(&mut Node),
    keys: &[String],
    first_unapplied: impl Fn(&[Frame]) -> usize,
) -> (Node, PathBuf, Vec<Frame>, u64) {
    for _attempt in 0..5 {
        let mut n = Node::start(lines);
        before(&mut n);
        set_keys(&mut n.client(), keys);
        n.kill9();
        let segs = n.wal_segments();
        let seg = segs.last().expect("a WAL segment").clone();
        let fr = frames(&seg);
        let applied = sled_applied_offset(&n.data_dir());
        let idx = first_unapplied(&fr);
        if idx < fr.len() && segment_start(&seg) + fr[idx].pos >= applied {
            return (n, seg, fr, applied);
        }
        eprintln!("sled applied {applied} before the kill; trying again");
    }
    panic!("sled always applied the records before kill -9 could stop it");
}

#[test]
fn torn_tail_is_cut_and_the_node_recovers() {
    let ks = keys("t:", 0..200);
    let (mut n, seg, fr, _) = write_then_kill(&[], |_| {}, &ks, |fr| fr.len() - 1);
    let last = *fr.last().expect("frames");
    assert_eq!(
        frame_user_key(&seg, &last),
        "t:199",
        "the last record is the last SET"
    );
    // Tear the last record in the middle of its payload, as a crash mid-append would.
    let cut_len = last.pos + 8 + last.len as u64 / 2;
    truncate(&seg, cut_len);
    n.launch();
    let torn_bytes = cut_len - last.pos;
    let expect = format!(
        "cut {torn_bytes} bytes at offset {}",
        segment_start(&seg) + last.pos
    );
    assert!(
        n.log().contains(&expect),
        "the log says what was cut ({expect}); log:\n{}",
        n.log()
    );
    assert_eq!(
        file_len(&seg),
        last.pos,
        "the torn record was cut from the file"
    );
    let mut c = n.client();
    assert_present(&mut c, &ks[..199], "records before the torn one");
    assert_absent(&mut c, &ks[199..], "the torn record");
    assert_eq!(dbsize(&mut c), 199);
    // New writes go after the cut and survive another restart.
    let more = keys("t2:", 0..100);
    set_keys(&mut c, &more);
    drop(c);
    n.stop();
    frames(&seg); // still well framed after the cut and the new appends
    n.launch();
    let mut c = n.client();
    assert_present(&mut c, &ks[..199], "old records after the second restart");
    assert_present(&mut c, &more, "writes made after the repair");
    assert_eq!(dbsize(&mut c), 299);
}

#[test]
fn torn_tail_of_zeros_is_cut() {
    // A crash with pages half written: the last record's bytes are zeros and
    // zeros follow (preallocated space).
    let ks = keys("z:", 0..100);
    let (mut n, seg, fr, _) = write_then_kill(&[], |_| {}, &ks, |fr| fr.len() - 1);
    let last = *fr.last().expect("frames");
    let mut b = std::fs::read(&seg).expect("read");
    for x in &mut b[last.pos as usize + 4..] {
        *x = 0;
    }
    b.extend_from_slice(&[0u8; 4096]);
    std::fs::write(&seg, &b).expect("write");
    n.launch();
    let expect = format!(
        "cut {} bytes at offset {}",
        b.len() as u64 - last.pos,
        segment_start(&seg) + last.pos
    );
    assert!(
        n.log().contains(&expect),
        "the log says what was cut ({expect}); log:\n{}",
        n.log()
    );
    let mut c = n.client();
    assert_present(&mut c, &ks[..99], "records before the torn one");
    assert_eq!(dbsize(&mut c), 99);
}

#[test]
fn truncating_records_sled_already_applied_refuses_to_start() {
    // After a clean stop sled has every record; cutting the WAL below that is
    // not a torn tail but lost data, and the node must say so, not start.
    let mut n = Node::start(&["save \"\""]);
    set_keys(&mut n.client(), &keys("c:", 0..50));
    n.stop();
    let seg = n.wal_segments().last().expect("segment").clone();
    let fr = frames(&seg);
    let last = *fr.last().expect("frames");
    truncate(&seg, last.pos + 3);
    let (code, out) = n.launch_expect_failure(Duration::from_secs(20));
    assert!(
        matches!(code, Some(c) if c != 0),
        "startup must fail, got {code:?}: {out}"
    );
    assert!(
        out.contains("--rebuild-from-snapshot"),
        "the message says how to recover: {out}"
    );
    // sled holds every record, so --repair-wal drops the damaged log without
    // losing a key, and new writes continue at sled's offset.
    n.extra = vec!["--repair-wal".into()];
    n.launch();
    let mut c = n.client();
    assert_eq!(
        dbsize(&mut c),
        50,
        "repair keeps what sled has; log:\n{}",
        n.log()
    );
    set_keys(&mut c, &keys("d:", 0..10));
    drop(c);
    n.extra.clear();
    n.stop();
    n.launch();
    assert_eq!(dbsize(&mut n.client()), 60);
}

#[test]
fn corrupt_record_in_the_middle_fails_startup_and_repair_wal_cuts_it() {
    // Phase a: applied to sled by a clean stop. Phase b: only in the WAL
    // (kill -9 right after), so recovery must replay it.
    let a = keys("a:", 0..100);
    let b = keys("b:", 0..300);
    let a2 = a.clone();
    let (mut n, seg, fr, applied) = write_then_kill(
        &[],
        move |n| {
            set_keys(&mut n.client(), &a2);
            n.stop();
            n.launch();
        },
        &b,
        // The damaged record: 20 records into phase b, with 200+ after it.
        |fr| fr.len() - 280,
    );
    let start = segment_start(&seg);
    let bad_idx = fr.len() - 280;
    let bad = fr[bad_idx];
    assert!(start + bad.pos >= applied);
    let bad_key = frame_user_key(&seg, &bad);
    assert_eq!(bad_key, "b:20");
    let len_before = file_len(&seg);
    flip_byte(&seg, bad.pos + 8 + bad.len as u64 / 2);

    let (code, out) = n.launch_expect_failure(Duration::from_secs(20));
    assert!(
        matches!(code, Some(c) if c != 0),
        "startup over a corrupt record must fail, got {code:?}: {out}"
    );
    assert!(
        out.contains(&path_str(&seg)),
        "the error names the file: {out}"
    );
    assert!(
        out.contains(&format!("file offset {}", bad.pos)),
        "the error names the offset {}: {out}",
        bad.pos
    );
    assert!(
        out.contains("--repair-wal"),
        "the error names the way out: {out}"
    );
    assert_eq!(
        file_len(&seg),
        len_before,
        "a failed start must not touch the WAL"
    );

    n.extra = vec!["--repair-wal".into()];
    n.launch();
    let expect = format!(
        "cut {} bytes at offset {}",
        len_before - bad.pos,
        start + bad.pos
    );
    assert!(
        n.log().contains(&expect),
        "the log says what --repair-wal cut ({expect}); log:\n{}",
        n.log()
    );
    let mut c = n.client();
    assert_present(&mut c, &a, "phase a (in sled)");
    assert_present(
        &mut c,
        &b[..20],
        "phase b before the damage (replayed from the WAL)",
    );
    assert_absent(
        &mut c,
        &b[20..],
        "the damaged record and everything after it",
    );
    assert_eq!(dbsize(&mut c), 120);
    let more = keys("after:", 0..50);
    set_keys(&mut c, &more);
    drop(c);
    n.stop();
    n.extra.clear();
    n.launch();
    let mut c = n.client();
    assert_present(&mut c, &a, "phase a after the second restart");
    assert_present(
        &mut c,
        &b[..20],
        "phase b before the damage after the second restart",
    );
    assert_present(&mut c, &more, "writes after the repair");
    assert_eq!(dbsize(&mut c), 170);
}

#[test]
fn corrupt_record_already_in_sled_is_reported_and_loses_nothing() {
    // Startup reads only the WAL sled lacks, so its time does not grow with
    // the retained log; the log before sled's applied offset is crc-checked
    // in the background. sled holds those records: the node starts with all
    // the data and reports the damage with its file and offset.
    let mut n = Node::start(&["save \"\""]);
    let ks = keys("s:", 0..100);
    set_keys(&mut n.client(), &ks);
    n.stop();
    let seg = n.wal_segments().last().expect("segment").clone();
    let fr = frames(&seg);
    let bad = fr[5];
    let len_before = file_len(&seg);
    flip_byte(&seg, bad.pos + 8 + bad.len as u64 / 2);
    n.launch();
    let mut c = n.client();
    assert_present(&mut c, &ks, "data sled holds");
    assert_eq!(dbsize(&mut c), 100);
    let mut damage = String::new();
    let found = wait_until(Duration::from_secs(20), || {
        damage = info_field(&info(&mut c, "persistence"), "wal_old_damage").unwrap_or_default();
        !damage.is_empty()
    });
    assert!(found, "INFO persistence reports the damage");
    assert!(
        damage.contains(&path_str(&seg)) && damage.contains(&format!("file offset {}", bad.pos)),
        "names file and offset: {damage}"
    );
    assert!(n.log().contains(&damage), "the log says it too");
    assert_eq!(file_len(&seg), len_before, "the WAL is not cut");
    // Writes go on.
    let more = keys("after:", 0..10);
    set_keys(&mut c, &more);
    assert_present(&mut c, &more, "writes after the report");
}

// ---------- snapshots ----------

fn check_snapshot(n: &Node, min_keys: u64, max_keys: u64) -> sledis::snapshot::SnapshotReader {
    let path = snapshot_file(n);
    let r = sledis::snapshot::SnapshotReader::open(&path)
        .unwrap_or_else(|e| panic!("snapshot {} opens: {e}", path.display()));
    let report = r.verify();
    assert!(report.is_ok(), "snapshot verifies: {report}");
    let k = r.key_count();
    assert!(
        (min_keys..=max_keys).contains(&k),
        "snapshot holds {k} keys, expected {min_keys}..={max_keys}"
    );
    let h = r.header();
    assert!(
        h.start_offset <= h.end_offset,
        "start {} <= end {}",
        h.start_offset,
        h.end_offset
    );
    r
}

#[test]
fn save_and_bgsave_while_writing() {
    let n = Node::start(&["save \"\""]);
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(AtomicU64::new(0));
    let mut wc = n.client();
    let (stop2, acked2) = (stop.clone(), acked.clone());
    let writer = std::thread::spawn(move || {
        let mut i = 0u64;
        while !stop2.load(Ordering::SeqCst) {
            let k = format!("w:{i}");
            let r: String = redis::cmd("SET")
                .arg(&k)
                .arg(value_of(&k))
                .query(&mut wc)
                .expect("SET while saving");
            assert_eq!(r, "OK");
            i += 1;
            acked2.store(i, Ordering::SeqCst);
        }
    });
    assert!(wait_until(Duration::from_secs(10), || acked
        .load(Ordering::SeqCst)
        > 2000));
    let mut c = n.client();
    let mut last = lastsave(&mut c);
    for round in 0..2 {
        // SAVE
        wait_next_second(last);
        let before = acked.load(Ordering::SeqCst);
        let r: String = redis::cmd("SAVE")
            .query(&mut c)
            .unwrap_or_else(|e| panic!("SAVE round {round}: {e}"));
        assert_eq!(r, "OK");
        let after = acked.load(Ordering::SeqCst);
        let ls = lastsave(&mut c);
        assert!(ls > last, "LASTSAVE advances after SAVE: {last} -> {ls}");
        last = ls;
        check_snapshot(&n, before, after + 1);

        // BGSAVE
        wait_next_second(last);
        let before = acked.load(Ordering::SeqCst);
        let r: String = redis::cmd("BGSAVE").query(&mut c).expect("BGSAVE");
        assert_eq!(r, "Background saving started");
        let done = wait_until(Duration::from_secs(20), || {
            let i = info(&mut c, "persistence");
            info_field(&i, "rdb_bgsave_in_progress").as_deref() == Some("0")
                && lastsave(&mut c) > last
        });
        let after = acked.load(Ordering::SeqCst);
        let i = info(&mut c, "persistence");
        assert!(done, "BGSAVE finishes: {i}");
        assert_eq!(
            info_field(&i, "rdb_last_bgsave_status").as_deref(),
            Some("ok"),
            "{i}"
        );
        last = lastsave(&mut c);
        check_snapshot(&n, before, after + 1);
    }
    let during = acked.load(Ordering::SeqCst);
    stop.store(true, Ordering::SeqCst);
    writer.join().expect("writer");
    assert!(during > 2000, "writes went on during the saves");
    // The snapshot is a consistent base: every key it holds has its value.
    let r = sledis::snapshot::SnapshotReader::open(&snapshot_file(&n)).expect("open");
    let mut seen = 0;
    for p in r.iter() {
        let (k, v) = p.expect("pair");
        if let Some((0, _, user)) = sledis::store::keys::parse_data_key(&k) {
            let user = String::from_utf8_lossy(user).into_owned();
            let meta = sledis::store::keys::Meta::decode(&bytes::Bytes::copy_from_slice(&v))
                .expect("value decodes");
            assert!(user.starts_with("w:"), "unexpected key {user}");
            assert_eq!(
                meta.payload.as_ref(),
                value_of(&user).as_bytes(),
                "value of {user} in the snapshot"
            );
            seen += 1;
        }
    }
    assert_eq!(seen, r.key_count());
}

/// Writes phase a, SAVEs, waits until WAL retention dropped the first
/// segment (so phase a is only in sled and the snapshot), then writes phase b
/// (new keys, overwrites and deletes of phase-a keys) and stops.
fn snapshot_then_more_writes(n: &mut Node) -> (Vec<String>, Vec<String>) {
    let a = keys("ra:", 0..3000);
    let b = keys("rb:", 0..500);
    let mut c = n.client();
    set_keys(&mut c, &a);
    let r: String = redis::cmd("SAVE").query(&mut c).expect("SAVE");
    assert_eq!(r, "OK");
    let first = n.wal_dir().join("00000000000000000000.wal");
    assert!(
        wait_until(Duration::from_secs(10), || !first.exists()),
        "WAL retention never dropped the first segment (segments: {:?})",
        n.wal_segments()
    );
    set_keys(&mut c, &b);
    for k in &a[..100] {
        set(&mut c, k, "overwritten");
    }
    let mut del = redis::cmd("DEL");
    for k in &a[100..200] {
        del.arg(k);
    }
    let d: i64 = del.query(&mut c).expect("DEL");
    assert_eq!(d, 100);
    drop(c);
    n.stop();
    (a, b)
}

fn verify_after_rebuild(c: &mut Connection, a: &[String], b: &[String]) {
    let vals = mget(c, &a[..100]);
    assert!(
        vals.iter().all(|v| v.as_deref() == Some("overwritten")),
        "overwrites after the SAVE are replayed"
    );
    assert_absent(c, &a[100..200], "keys deleted after the SAVE");
    assert_present(c, &a[200..], "keys written before the SAVE");
    assert_present(c, b, "keys written after the SAVE");
    assert_eq!(dbsize(c), (a.len() - 100 + b.len()) as i64);
}

const SMALL_WAL: [&str; 3] = [
    "save \"\"",
    "wal-segment-size 4096",
    "repl-backlog-size 4096",
];

#[test]
fn rebuild_from_snapshot_after_the_sled_dir_is_deleted() {
    let mut n = Node::start(&SMALL_WAL);
    let (a, b) = snapshot_then_more_writes(&mut n);
    std::fs::remove_dir_all(n.data_dir().join("sled")).expect("delete sled");
    n.extra = vec!["--rebuild-from-snapshot".into()];
    n.launch();
    assert!(
        n.log().contains("rebuilt sled with"),
        "the log tells about the rebuild:\n{}",
        n.log()
    );
    verify_after_rebuild(&mut n.client(), &a, &b);
    // The rebuilt sled is a normal one: restart without the flag.
    n.stop();
    n.extra.clear();
    n.launch();
    verify_after_rebuild(&mut n.client(), &a, &b);
}

/// Replaces every file under the sled dir with garbage (same names).
fn damage_sled(dir: &Path) {
    let garbage: Vec<u8> = b"\xff\xfe\x00garbage not sled \xc3\x28"
        .iter()
        .cycle()
        .take(8192)
        .copied()
        .collect();
    let mut stack = vec![dir.to_path_buf()];
    let mut n = 0;
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read sled dir") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                stack.push(p);
            } else {
                std::fs::write(&p, &garbage).expect("write garbage");
                n += 1;
            }
        }
    }
    assert!(n > 0, "sled dir had files");
}

#[test]
fn sled_that_cannot_open_fails_startup_pointing_to_rebuild_and_rebuild_works() {
    let mut n = Node::start(&SMALL_WAL);
    let (a, b) = snapshot_then_more_writes(&mut n);
    let sled_dir = n.data_dir().join("sled");
    damage_sled(&sled_dir);
    let (code, out) = n.launch_expect_failure(Duration::from_secs(20));
    assert!(
        matches!(code, Some(c) if c != 0),
        "startup on a damaged sled must fail, got {code:?}: {out}"
    );
    assert!(
        out.contains("--rebuild-from-snapshot"),
        "the message names --rebuild-from-snapshot: {out}"
    );
    assert!(
        out.contains(&path_str(&sled_dir)),
        "the message names the sled dir: {out}"
    );
    n.extra = vec!["--rebuild-from-snapshot".into()];
    n.launch();
    verify_after_rebuild(&mut n.client(), &a, &b);
    let kept_aside = std::fs::read_dir(n.data_dir())
        .expect("data dir")
        .filter_map(|e| e.ok())
        .any(|e| e.file_name().to_string_lossy().starts_with("sled.damaged-"));
    assert!(
        kept_aside,
        "the damaged sled files are kept aside, not deleted"
    );
}

#[test]
fn lost_sled_with_trimmed_wal_fails_startup_pointing_to_rebuild() {
    // sled gone (deleted, or silently opened empty) while the WAL no longer
    // starts at 0: the node cannot recover alone and must say how to.
    let mut n = Node::start(&SMALL_WAL);
    let _ = snapshot_then_more_writes(&mut n);
    std::fs::remove_dir_all(n.data_dir().join("sled")).expect("delete sled");
    let (code, out) = n.launch_expect_failure(Duration::from_secs(20));
    assert!(
        matches!(code, Some(c) if c != 0),
        "startup must fail, got {code:?}: {out}"
    );
    assert!(
        out.contains("--rebuild-from-snapshot"),
        "the message names --rebuild-from-snapshot: {out}"
    );
}

#[test]
fn save_point_takes_a_snapshot_after_a_write() {
    let n = Node::start(&["save 1 1"]);
    let mut c = n.client();
    let l0 = lastsave(&mut c);
    // No change, no snapshot (the cron looks at save points every second).
    std::thread::sleep(Duration::from_millis(1300));
    assert!(!snapshot_file(&n).exists(), "no snapshot without changes");
    set(&mut c, "sp", "1");
    let ok = wait_until(Duration::from_secs(6), || {
        snapshot_file(&n).exists() && lastsave(&mut c) > l0
    });
    assert!(
        ok,
        "save 1 1 snapshots within a few seconds of one write; log:\n{}",
        n.log()
    );
    check_snapshot(&n, 1, 1);
    let i = info(&mut c, "persistence");
    assert!(
        wait_until(Duration::from_secs(5), || {
            info_field(&info(&mut c, "persistence"), "rdb_changes_since_last_save").as_deref()
                == Some("0")
        }),
        "{i}"
    );
}

// ---------- config file ----------

#[test]
fn config_rewrite_keeps_comments_and_order_and_restart_uses_it() {
    let mut n = Node::start(&[
        "# --- persistence ---",
        "appendfsync everysec",
        "# snapshots: keep this comment",
        "save 3600 1",
        "",
        "# clients",
        "maxclients 100",
        "# end of file",
    ]);
    let mut c = n.client();
    for (k, v) in [
        ("appendfsync", "always"),
        ("save", "10 5 20 7"),
        ("maxclients", "123"),
    ] {
        let r: String = redis::cmd("CONFIG")
            .arg("SET")
            .arg(k)
            .arg(v)
            .query(&mut c)
            .expect("CONFIG SET");
        assert_eq!(r, "OK");
    }
    let r: String = redis::cmd("CONFIG")
        .arg("REWRITE")
        .query(&mut c)
        .expect("CONFIG REWRITE");
    assert_eq!(r, "OK");
    let text = std::fs::read_to_string(&n.conf).expect("conf");
    let lines: Vec<&str> = text.lines().collect();
    let pos = |l: &str| {
        lines
            .iter()
            .position(|x| x.trim() == l)
            .unwrap_or_else(|| panic!("'{l}' missing from:\n{text}"))
    };
    let order = [
        "# test node",
        &format!("port {}", n.port),
        "# --- persistence ---",
        "appendfsync always",
        "# snapshots: keep this comment",
        "save 10 5",
        "# clients",
        "maxclients 123",
        "# end of file",
    ];
    let idx: Vec<usize> = order.iter().map(|l| pos(l)).collect();
    assert!(
        idx.windows(2).all(|w| w[0] < w[1]),
        "comments and directives keep their order:\n{text}"
    );
    // A second save line has no old line to take; like Redis it is appended.
    assert!(pos("save 20 7") > pos("save 10 5"), "{text}");
    assert!(
        !text.contains("everysec")
            && !text.contains("save 3600 1")
            && !text.contains("maxclients 100"),
        "old values are gone:\n{text}"
    );
    drop(c);
    n.stop();
    n.launch();
    let mut c = n.client();
    let get_cfg = |c: &mut Connection, k: &str| -> String {
        let v: Vec<String> = redis::cmd("CONFIG")
            .arg("GET")
            .arg(k)
            .query(c)
            .expect("CONFIG GET");
        v.get(1).cloned().unwrap_or_default()
    };
    assert_eq!(get_cfg(&mut c, "appendfsync"), "always");
    assert_eq!(get_cfg(&mut c, "save"), "10 5 20 7");
    assert_eq!(get_cfg(&mut c, "maxclients"), "123");
    assert_eq!(
        info_field(&info(&mut c, "persistence"), "appendfsync").as_deref(),
        Some("always")
    );
}

#[test]
fn unknown_directive_fails_startup_naming_file_line_and_directive() {
    let mut n = Node::start(&[]);
    n.stop();
    let mut text = std::fs::read_to_string(&n.conf).expect("conf");
    text.push_str("# a typo follows\nappendfsyncc always\n");
    let line = text.lines().count();
    std::fs::write(&n.conf, &text).expect("write conf");
    let (code, out) = n.launch_expect_failure(Duration::from_secs(20));
    assert!(
        matches!(code, Some(c) if c != 0),
        "startup must fail, got {code:?}: {out}"
    );
    let conf = std::fs::canonicalize(&n.conf).expect("canonical");
    assert!(
        out.contains(&path_str(&conf)) || out.contains(&path_str(&n.conf)),
        "names the file: {out}"
    );
    assert!(
        out.contains(&format!("line {line}")),
        "names line {line}: {out}"
    );
    assert!(out.contains("appendfsyncc"), "names the directive: {out}");
    // Nothing started: the port is free and no data dir was made.
    assert!(
        n.try_client().is_err(),
        "nothing listens after a config error"
    );
}

#[test]
fn rebuild_from_a_damaged_snapshot_fails_and_leaves_sled_alone() {
    // A snapshot whose header and index are fine but one block is damaged:
    // the rebuild must refuse before it replaces sled, so the node still
    // starts normally afterwards.
    let mut n = Node::start(&SMALL_WAL);
    let (a, b) = snapshot_then_more_writes(&mut n);
    let snap = snapshot_file(&n);
    let r = sledis::snapshot::SnapshotReader::open(&snap).expect("snapshot");
    assert!(
        r.block_count() >= 2,
        "want several blocks, got {}",
        r.block_count()
    );
    let blk = r.blocks()[1].clone();
    drop(r);
    flip_byte(&snap, blk.offset + 16 + blk.len as u64 / 2);
    n.extra = vec!["--rebuild-from-snapshot".into()];
    let (code, out) = n.launch_expect_failure(Duration::from_secs(20));
    assert!(
        matches!(code, Some(c) if c != 0),
        "rebuilding from a damaged snapshot must fail, got {code:?}: {out}"
    );
    assert!(
        out.contains(&format!("offset {}", blk.offset)),
        "the error names the damaged block's offset {}: {out}",
        blk.offset
    );
    n.extra.clear();
    n.launch();
    verify_after_rebuild(&mut n.client(), &a, &b);
}

#[test]
fn a_missing_wal_segment_fails_startup_naming_the_gap() {
    let mut n = Node::start(&["save \"\"", "wal-segment-size 4096"]);
    set_one_by_one(&mut n.client(), &keys("g:", 0..500));
    n.stop();
    let segs = n.wal_segments();
    assert!(segs.len() >= 4, "several segments: {segs:?}");
    std::fs::remove_file(&segs[1]).expect("remove a middle segment");
    let (code, out) = n.launch_expect_failure(Duration::from_secs(20));
    assert!(
        matches!(code, Some(c) if c != 0),
        "startup with a hole in the WAL must fail, got {code:?}: {out}"
    );
    assert!(
        out.contains(&path_str(&segs[2])) && out.contains("missing"),
        "names the segment after the gap: {out}"
    );
}

#[test]
fn a_torn_record_in_a_segment_that_is_not_the_last_is_corruption() {
    // Only the newest segment can end in an interrupted append; an older one
    // that does has lost records the later segments depend on.
    let mut n = Node::start(&["save \"\"", "wal-segment-size 4096"]);
    set_one_by_one(&mut n.client(), &keys("m:", 0..500));
    n.stop();
    let segs = n.wal_segments();
    assert!(segs.len() >= 4, "several segments: {segs:?}");
    let fr = frames(&segs[1]);
    let last = *fr.last().expect("frames");
    truncate(&segs[1], last.pos + 8 + last.len as u64 / 2);
    let (code, out) = n.launch_expect_failure(Duration::from_secs(20));
    assert!(
        matches!(code, Some(c) if c != 0),
        "must fail, got {code:?}: {out}"
    );
    assert!(
        out.contains(&path_str(&segs[1])),
        "names the damaged segment: {out}"
    );
}

#[test]
fn kill9_across_many_small_segments_keeps_acknowledged_writes() {
    // Segment rolls under load, then kill -9: recovery must stitch the
    // segments together and lose nothing acknowledged.
    const THREADS: usize = 2;
    let mut n = Node::start(&["appendfsync always", "wal-segment-size 4096"]);
    let acked: Arc<Vec<AtomicU64>> = Arc::new((0..THREADS).map(|_| AtomicU64::new(0)).collect());
    let mut handles = Vec::new();
    for t in 0..THREADS {
        let mut c = n.client();
        let acked = acked.clone();
        handles.push(std::thread::spawn(move || {
            for i in 0..100_000 {
                let k = format!("sm:{t}:{i}");
                match redis::cmd("SET")
                    .arg(&k)
                    .arg(value_of(&k))
                    .query::<String>(&mut c)
                {
                    Ok(_) => acked[t].store(i as u64 + 1, Ordering::SeqCst),
                    Err(_) => return,
                }
            }
        }));
    }
    let total = |a: &[AtomicU64]| a.iter().map(|x| x.load(Ordering::SeqCst)).sum::<u64>();
    assert!(
        wait_until(Duration::from_secs(60), || total(&acked) >= 3000),
        "writers too slow"
    );
    n.kill9();
    for h in handles {
        h.join().expect("writer");
    }
    let segs = n.wal_segments().len();
    assert!(segs > 20, "the WAL rolled over many segments ({segs})");
    n.launch();
    let mut c = n.client();
    for t in 0..THREADS {
        let a = acked[t].load(Ordering::SeqCst) as usize;
        assert_present(
            &mut c,
            &keys(&format!("sm:{t}:"), 0..a),
            &format!("acknowledged writes of thread {t}"),
        );
    }
}

#[test]
fn rebuild_refuses_when_the_wal_does_not_reach_back_to_the_snapshot() {
    let mut n = Node::start(&SMALL_WAL);
    let _ = snapshot_then_more_writes(&mut n);
    for s in n.wal_segments() {
        std::fs::remove_file(s).expect("remove segment");
    }
    n.extra = vec!["--rebuild-from-snapshot".into()];
    let (code, out) = n.launch_expect_failure(Duration::from_secs(20));
    assert!(
        matches!(code, Some(c) if c != 0),
        "must fail, got {code:?}: {out}"
    );
    assert!(out.contains("WAL"), "the error is about the WAL: {out}");
    let moved = std::fs::read_dir(n.data_dir())
        .expect("data dir")
        .filter_map(|e| e.ok())
        .any(|e| e.file_name().to_string_lossy().starts_with("sled.damaged-"));
    assert!(
        !moved,
        "a rebuild that cannot finish must not move sled aside"
    );
}

#[test]
fn expiry_deadlines_survive_kill9_as_absolute_times() {
    let mut n = Node::start(&[]);
    let mut c = n.client();
    for i in 0..50 {
        let _: () = redis::cmd("SET")
            .arg(format!("short:{i}"))
            .arg("v")
            .arg("PX")
            .arg(300)
            .query(&mut c)
            .expect("SET PX");
        let _: () = redis::cmd("SET")
            .arg(format!("long:{i}"))
            .arg("v")
            .arg("EX")
            .arg(100)
            .query(&mut c)
            .expect("SET EX");
    }
    let _: i64 = redis::cmd("EXPIRE")
        .arg("long:0")
        .arg(50)
        .query(&mut c)
        .expect("EXPIRE");
    let _: i64 = redis::cmd("PERSIST")
        .arg("long:1")
        .query(&mut c)
        .expect("PERSIST");
    // Let the short ones expire, and the long ones age by 2 s.
    std::thread::sleep(Duration::from_millis(2100));
    drop(c);
    n.kill9();
    n.launch();
    let mut c = n.client();
    assert_absent(
        &mut c,
        &keys("short:", 0..50),
        "keys whose deadline passed before the kill",
    );
    for i in 2..50 {
        let ttl: i64 = redis::cmd("TTL")
            .arg(format!("long:{i}"))
            .query(&mut c)
            .expect("TTL");
        assert!(
            (90..=98).contains(&ttl),
            "long:{i}: the deadline is absolute, so 2 s are gone: TTL {ttl}"
        );
    }
    let ttl: i64 = redis::cmd("TTL").arg("long:0").query(&mut c).expect("TTL");
    assert!((40..=48).contains(&ttl), "EXPIRE after SET: TTL {ttl}");
    let ttl: i64 = redis::cmd("TTL").arg("long:1").query(&mut c).expect("TTL");
    assert_eq!(ttl, -1, "PERSIST survives");
    assert!(
        wait_until(Duration::from_secs(5), || dbsize(&mut c) == 50),
        "expired keys are reclaimed: DBSIZE {}",
        dbsize(&mut c)
    );
}

#[test]
fn multi_exec_and_mset_are_all_or_nothing_after_a_torn_tail() {
    // A transaction or a multi-key command is one WAL record: a crash keeps
    // all of it or none of it.
    let pairs = 100usize;
    let mut found = None;
    for _ in 0..5 {
        let mut n = Node::start(&[]);
        let mut c = n.client();
        let mut p = redis::pipe();
        for i in 0..pairs {
            if i % 2 == 0 {
                p.cmd("MULTI").ignore();
                p.cmd("SET").arg(format!("x:{i}")).arg(i).ignore();
                p.cmd("INCR").arg("txcount").ignore();
                p.cmd("SET").arg(format!("y:{i}")).arg(i).ignore();
                p.cmd("EXEC").ignore();
            } else {
                p.cmd("MSET")
                    .arg(format!("x:{i}"))
                    .arg(i)
                    .arg(format!("y:{i}"))
                    .arg(i)
                    .ignore();
            }
        }
        let _: () = p.query(&mut c).expect("transactions");
        drop(c);
        n.kill9();
        let seg = n.wal_segments().last().expect("segment").clone();
        let fr = frames(&seg);
        assert_eq!(fr.len(), pairs, "one WAL record per EXEC and per MSET");
        let last = *fr.last().expect("frames");
        if segment_start(&seg) + last.pos >= sled_applied_offset(&n.data_dir()) {
            found = Some((n, seg, last));
            break;
        }
    }
    let (mut n, seg, last) = found.expect("sled applied everything before kill -9 every time");
    assert_eq!(
        frame_user_key(&seg, &last),
        format!("x:{}", pairs - 1),
        "the last record is the last MSET, both keys"
    );
    truncate(&seg, last.pos + 8 + last.len as u64 / 2);
    n.launch();
    let mut c = n.client();
    let xs = mget(&mut c, &keys("x:", 0..pairs));
    let ys = mget(&mut c, &keys("y:", 0..pairs));
    for i in 0..pairs {
        assert_eq!(
            xs[i].is_some(),
            ys[i].is_some(),
            "pair {i}: x {:?} y {:?}",
            xs[i],
            ys[i]
        );
    }
    assert!(
        xs[..pairs - 1].iter().all(|v| v.is_some()),
        "every whole record is there"
    );
    assert!(xs[pairs - 1].is_none(), "the torn MSET is gone, both keys");
    assert_eq!(get(&mut c, "txcount").as_deref(), Some("50"));
}

#[test]
fn flushdb_and_flushall_survive_kill9() {
    let mut n = Node::start(&[]);
    let mut c = n.client();
    set_keys(&mut c, &keys("old:", 0..300));
    let _: () = redis::cmd("SELECT").arg(2).query(&mut c).expect("SELECT");
    set_keys(&mut c, &keys("two:", 0..10));
    let _: () = redis::cmd("FLUSHALL").query(&mut c).expect("FLUSHALL");
    set_keys(&mut c, &keys("two-new:", 0..5));
    let _: () = redis::cmd("SELECT").arg(0).query(&mut c).expect("SELECT");
    set_keys(&mut c, &keys("mid:", 0..100));
    let _: () = redis::cmd("FLUSHDB").query(&mut c).expect("FLUSHDB");
    set_keys(&mut c, &keys("new:", 0..50));
    drop(c);
    n.kill9();
    n.launch();
    let mut c = n.client();
    assert_absent(&mut c, &keys("old:", 0..300), "keys before FLUSHALL");
    assert_absent(&mut c, &keys("mid:", 0..100), "keys before FLUSHDB");
    assert_present(&mut c, &keys("new:", 0..50), "keys after FLUSHDB");
    assert_eq!(dbsize(&mut c), 50);
    let _: () = redis::cmd("SELECT").arg(2).query(&mut c).expect("SELECT");
    assert_absent(&mut c, &keys("two:", 0..10), "db 2 before FLUSHALL");
    assert_present(&mut c, &keys("two-new:", 0..5), "db 2 after FLUSHALL");
    assert_eq!(dbsize(&mut c), 5);
}

#[test]
fn config_set_appendfsync_takes_effect_at_once() {
    let n = Node::start(&["appendfsync no"]);
    let mut c = n.client();
    let fsyncs = |c: &mut Connection| -> u64 {
        info_field(&info(c, "persistence"), "wal_fsyncs")
            .and_then(|v| v.parse().ok())
            .expect("wal_fsyncs in INFO")
    };
    let synced = |c: &mut Connection| -> (u64, u64) {
        let i = info(c, "persistence");
        let f = |k| {
            info_field(&i, k)
                .and_then(|v| v.parse().ok())
                .expect("offset in INFO")
        };
        (f("wal_synced_offset"), f("wal_end_offset"))
    };
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("appendfsync")
        .arg("always")
        .query(&mut c)
        .expect("CONFIG SET");
    let before = fsyncs(&mut c);
    for k in keys("fs:", 0..50) {
        set(&mut c, &k, "v");
        // Under always, a write is on disk when it is acknowledged.
        let (s, e) = synced(&mut c);
        assert!(
            s >= e,
            "acknowledged under appendfsync always but synced {s} < end {e}"
        );
    }
    let after = fsyncs(&mut c);
    assert!(
        after >= before + 50,
        "appendfsync always: 50 sequential writes, {} fsyncs",
        after - before
    );
}

/// True if the active segment's file goes on past the node's written
/// offset: zero-filled space after the records. (A full segment rolls once
/// its records reach the file's size, so only the active one shows it.)
fn active_segment_zero_filled(n: &Node, written: u64) -> bool {
    let segs = n.wal_segments();
    let last = segs.last().expect("a WAL segment");
    segment_start(last) + file_len(last) > written
}

/// Under `appendfsync always` segments are zero-filled before use, so each
/// fdatasync writes no new file size. Recovery after kill -9 must find where
/// the records end in such a file, cut nothing, append after them, and the
/// dump tool must read the same WAL as intact.
#[test]
fn zero_filled_segments_recover_after_kill9() {
    let mut n = Node::start(&["appendfsync always", "wal-segment-size 64kb", "save \"\""]);
    let mut c = n.client();
    let written = |c: &mut Connection| -> u64 {
        info_field(&info(c, "persistence"), "wal_written_offset")
            .and_then(|v| v.parse().ok())
            .expect("wal_written_offset")
    };
    // 3000 SETs of ~40 bytes roll several 64 KiB segments.
    let ks = keys("zf:", 0..3000);
    set_one_by_one(&mut c, &ks);
    let w = written(&mut c);
    assert!(n.wal_segments().len() >= 4, "the WAL rolled");
    assert!(
        active_segment_zero_filled(&n, w),
        "the new segment was zero-filled before use"
    );
    n.kill9();
    n.launch();
    assert!(
        !n.log().contains("cut "),
        "zero-filled space is not a torn tail; log:\n{}",
        n.log()
    );
    let mut c = n.client();
    assert_present(&mut c, &ks, "acknowledged writes");
    assert_eq!(written(&mut c), w, "recovery found where the records end");
    // Appends continue after the last record, not after the zeros.
    let more = keys("zf2:", 0..500);
    set_one_by_one(&mut c, &more);
    n.kill9();
    n.launch();
    let mut c = n.client();
    assert_present(&mut c, &ks, "older writes after the second kill");
    assert_present(&mut c, &more, "writes made after the first recovery");
    assert_eq!(dbsize(&mut c), 3500);
    n.stop();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sledis-dump"))
        .arg("verify")
        .arg(n.data_dir())
        .output()
        .expect("run sledis-dump");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("OK WAL"),
        "sledis-dump verify reads the zero-filled WAL as intact: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
