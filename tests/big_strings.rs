//! Strings kept in chunks (`types/string.rs`: over 64 KiB, 4 KiB chunks):
//! the same random commands against a real redis-server and a sledis node
//! must answer alike as strings cross the threshold, grow sparse and dense,
//! and are combined; then what only sledis shows: a kill -9, a replica, a
//! 512 MB bitmap within a 64 MB node's memory bound, and the GC of a
//! deleted one.

mod support;

use std::time::Duration;
use support::*;

const MB: u64 = 1 << 20;

/// Bytes that are zero in long runs now and then, as bitmaps are.
fn data(rng: &mut Rng, n: usize) -> Vec<u8> {
    let zeros = rng.chance(30);
    (0..n)
        .map(|_| {
            if zeros && !rng.chance(2) {
                0
            } else {
                rng.below(256) as u8
            }
        })
        .collect()
}

/// One random command over keys k0..k3, sized to cross the chunking
/// threshold both ways.
fn command(rng: &mut Rng) -> Vec<Vec<u8>> {
    let key = |rng: &mut Rng| format!("k{}", rng.below(4)).into_bytes();
    let num = |n: i64| n.to_string().into_bytes();
    // Offsets up to ~1.5 MB, often near the chunk and threshold edges.
    let off = |rng: &mut Rng| -> i64 {
        match rng.below(4) {
            0 => rng.range(0, 1_500_000),
            1 => 4096 * rng.range(0, 300) + rng.range(-2, 2),
            2 => 65536 + rng.range(-3, 3),
            _ => rng.range(0, 70_000),
        }
        .max(0)
    };
    let edge = |rng: &mut Rng| -> i64 {
        match rng.below(3) {
            0 => rng.range(-200_000, 200_000),
            1 => rng.range(-5, 5),
            _ => rng.range(0, 2_000_000),
        }
    };
    let s = |x: &str| x.as_bytes().to_vec();
    match rng.below(17) {
        0 | 1 => {
            let o = off(rng) * 8 + rng.range(0, 7);
            vec![s("SETBIT"), key(rng), num(o), num(rng.range(0, 1))]
        }
        2 => vec![s("GETBIT"), key(rng), num(off(rng) * 8 + rng.range(0, 7))],
        3 => {
            let n = rng.below(9000) as usize + 1;
            vec![s("SETRANGE"), key(rng), num(off(rng)), data(rng, n)]
        }
        4 => {
            let n = rng.below(40_000) as usize;
            vec![s("APPEND"), key(rng), data(rng, n)]
        }
        5 => vec![s("GETRANGE"), key(rng), num(edge(rng)), num(edge(rng))],
        6 => vec![s("STRLEN"), key(rng)],
        7 => {
            let mut c = vec![s("BITCOUNT"), key(rng)];
            if rng.chance(70) {
                c.push(num(edge(rng)));
                c.push(num(edge(rng)));
                if rng.chance(50) {
                    c.push(s(rng.pick(&["BIT", "BYTE"])));
                }
            }
            c
        }
        8 => {
            let mut c = vec![s("BITPOS"), key(rng), num(rng.range(0, 1))];
            if rng.chance(70) {
                c.push(num(edge(rng)));
                if rng.chance(60) {
                    c.push(num(edge(rng)));
                    if rng.chance(50) {
                        c.push(s(rng.pick(&["BIT", "BYTE"])));
                    }
                }
            }
            c
        }
        9 => {
            let mut c = vec![s("BITFIELD"), key(rng)];
            for _ in 0..rng.below(4) + 1 {
                let ty = rng.pick(&["i8", "u8", "i16", "u31", "i32", "i64", "u63", "i5"]);
                let at = if rng.chance(30) {
                    format!("#{}", rng.range(0, 200_000))
                } else {
                    (off(rng) * 8 + rng.range(0, 7)).to_string()
                };
                match rng.below(4) {
                    0 => c.extend([s("GET"), s(ty), s(&at)]),
                    1 => c.extend([s("SET"), s(ty), s(&at), num(rng.range(-300, 300))]),
                    2 => c.extend([s("INCRBY"), s(ty), s(&at), num(rng.range(-300, 300))]),
                    _ => c.extend([s("OVERFLOW"), s(rng.pick(&["WRAP", "SAT", "FAIL"]))]),
                }
            }
            c
        }
        10 => {
            let op = rng.pick(&["AND", "OR", "XOR", "NOT"]);
            let mut c = vec![s("BITOP"), s(op), key(rng), key(rng)];
            if op != "NOT" {
                for _ in 0..rng.below(3) {
                    c.push(key(rng));
                }
            }
            c
        }
        11 => {
            let n = match rng.below(3) {
                0 => rng.below(100),
                1 => 65536 + rng.below(3) - 1,
                _ => rng.below(300_000),
            } as usize;
            vec![s("SET"), key(rng), data(rng, n)]
        }
        12 | 13 => vec![s("GET"), key(rng)],
        14 => vec![s("INCR"), key(rng)],
        15 => match rng.below(3) {
            0 => vec![s("COPY"), key(rng), key(rng), s("REPLACE")],
            1 => vec![s("RENAME"), key(rng), key(rng)],
            _ => vec![s("DEL"), key(rng)],
        },
        _ => match rng.below(3) {
            0 => vec![s("GETDEL"), key(rng)],
            1 => vec![s("GETEX"), key(rng), s("EX"), s("1000")],
            _ => vec![s("GETEX"), key(rng), s("PERSIST")],
        },
    }
}

fn show(cmd: &[Vec<u8>]) -> String {
    cmd.iter()
        .map(|a| {
            if a.len() > 40 {
                format!("<{} bytes>", a.len())
            } else {
                String::from_utf8_lossy(a).into_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A replica of `node` started with `lines`, once it holds the same data.
fn synced_replica(node: &Node, lines: &[&str]) -> Node {
    let replica = Node::start(lines);
    let mut rc = replicaof(&replica, node);
    let mut m = node.client();
    let same = wait_until(Duration::from_secs(120), || {
        digest(&mut m) == digest(&mut rc)
    });
    assert!(
        same,
        "the replica's data is the master's: {}",
        replica.log()
    );
    replica
}

/// Asserts two replies are equal, showing where long ones differ.
fn same(got: &Reply, want: &Reply, what: &str) {
    if got == want {
        return;
    }
    if let (Reply::Bulk(g), Reply::Bulk(w)) = (got, want) {
        let at = g.iter().zip(w.iter()).position(|(a, b)| a != b);
        panic!(
            "{what}: sledis answered {} bytes, Redis {}; first difference at {at:?}",
            g.len(),
            w.len()
        );
    }
    let cut = |r: &Reply| {
        let s = format!("{r:?}");
        s.chars().take(300).collect::<String>()
    };
    panic!("{what}: sledis {} / Redis {}", cut(got), cut(want));
}

/// Every key's value on both servers is the same.
fn same_values(r: &mut Resp, s: &mut Resp, what: &str) {
    for k in 0..4 {
        let key = format!("k{k}");
        same(
            &s.q(&["GET", &key]),
            &r.q(&["GET", &key]),
            &format!("{what}: GET {key}"),
        );
    }
}

#[test]
fn big_strings_answer_like_redis() {
    let redis = RealRedis::start(&[]);
    let mut node = Node::start(&[]);
    let mut r = Resp::connect(redis.port);
    let mut s = Resp::connect(node.port);
    let mut rng = Rng(0x5eed_b175);
    for i in 0..1500 {
        let cmd = command(&mut rng);
        let want = r.q(&cmd);
        let got = s.q(&cmd);
        same(&got, &want, &format!("#{i}: {}", show(&cmd)));
        // A DUMP from either side restores on the other.
        if i % 100 == 99 {
            let key = format!("k{}", rng.below(4));
            let dump = r.q(&["DUMP", &key]);
            if let Reply::Bulk(p) = dump {
                let restored = s.q(&[&b"RESTORE"[..], b"moved", b"0", &p, b"REPLACE"]);
                assert_eq!(restored, ok(), "RESTORE of Redis's DUMP of {key}");
                same(&s.q(&["GET", "moved"]), &r.q(&["GET", &key]), "GET moved");
                let back = s.q(&["DUMP", "moved"]);
                let Reply::Bulk(p) = back else {
                    panic!("DUMP moved: {back:?}");
                };
                let restored = r.q(&[&b"RESTORE"[..], b"back", b"0", &p, b"REPLACE"]);
                assert_eq!(restored, ok(), "Redis restores sledis's DUMP of {key}");
                same(&r.q(&["GET", "back"]), &r.q(&["GET", &key]), "GET back");
            }
        }
    }
    same_values(&mut r, &mut s, "at the end");
    // A replica gets the chunks, and the values are the same after a
    // kill -9 of the master.
    let _replica = synced_replica(&node, &[]);
    drop(s);
    node.kill9();
    node.launch();
    let mut s = Resp::connect(node.port);
    same_values(&mut r, &mut s, "after kill -9");
}

/// Pid of a node's process, peak RSS in bytes.
fn peak(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .expect("VmHWM")
        * 1024
}

#[test]
fn a_512mb_bitmap_stays_within_a_small_maxmemory() {
    let maxmemory = 64 * MB;
    // The memory issue's bound: 1.25 x maxmemory + 32 MB.
    let bound = maxmemory * 5 / 4 + 32 * MB;
    let mut node = Node::start(&["maxmemory 64mb"]);
    let mut c = Resp::connect(node.port);
    // The last bit of a 512 MB string, then bits spread over all of it.
    assert_eq!(c.qs("SETBIT big 4294967295 1"), int(0));
    assert_eq!(c.qs("STRLEN big"), int(512 * MB as i64));
    let mut rng = Rng(0xb17);
    let mut set = std::collections::BTreeSet::from([4294967295u64]);
    for _ in 0..2000 {
        let o = rng.below(1 << 32);
        c.q(&["SETBIT", "big", &o.to_string(), "1"]);
        set.insert(o);
    }
    // 4 MB of dense bytes in the middle.
    let mut dense = vec![0u8; 4 * MB as usize];
    for (i, b) in dense.iter_mut().enumerate() {
        *b = (i as u32).wrapping_mul(2654435761).to_be_bytes()[0];
    }
    let at = 200 * MB;
    for (i, part) in dense.chunks(MB as usize).enumerate() {
        let o = (at + i as u64 * MB).to_string();
        c.q(&[&b"SETRANGE"[..], b"big", o.as_bytes(), part]);
    }
    let dense_bits: u64 = dense.iter().map(|b| b.count_ones() as u64).sum();
    let in_dense = |o: &u64| *o / 8 >= at && *o / 8 < at + 4 * MB;
    let sparse_bits = set.iter().filter(|o| !in_dense(o)).count() as u64;
    let total = (dense_bits + sparse_bits) as i64;
    let check = |c: &mut Resp, when: &str| {
        assert_eq!(c.qs("STRLEN big"), int(512 * MB as i64), "{when}");
        assert_eq!(c.qs("BITCOUNT big"), int(total), "BITCOUNT {when}");
        let first = *set.iter().next().expect("a bit") as i64;
        assert_eq!(c.qs("BITPOS big 1"), int(first), "BITPOS {when}");
        let last_byte = 512 * MB as i64 - 1;
        assert_eq!(
            c.q(&["GETRANGE", "big", &last_byte.to_string(), "-1"]),
            Reply::Bulk(vec![1]),
            "the last byte {when}"
        );
        let mid = c.q(&[
            "GETRANGE",
            "big",
            &(at + 1000).to_string(),
            &(at + 1099).to_string(),
        ]);
        assert_eq!(mid, Reply::Bulk(dense[1000..1100].to_vec()), "{when}");
        for o in set.iter().step_by(97) {
            assert_eq!(
                c.q(&["GETBIT", "big", &o.to_string()]),
                int(1),
                "bit {o} {when}"
            );
        }
        assert_eq!(
            c.qs("BITFIELD_RO big GET u8 4294967288"),
            arr(vec![int(1)]),
            "{when}"
        );
    };
    check(&mut c, "after the writes");
    // BITOP over it: the result is built a chunk at a time.
    assert_eq!(c.qs("BITOP AND copy big big"), int(512 * MB as i64));
    assert_eq!(c.qs("BITCOUNT copy"), int(total));
    let p = peak(node.pid());
    assert!(
        p <= bound,
        "peak RSS {} MB, bound {} MB",
        p / MB,
        bound / MB
    );
    drop(c);
    node.kill9();
    node.launch();
    let mut c = Resp::connect(node.port);
    check(&mut c, "after kill -9");
    let replica = synced_replica(&node, &["maxmemory 64mb"]);
    let mut r = Resp::connect(replica.port);
    check(&mut r, "on the replica");
    let p = peak(node.pid()).max(peak(replica.pid()));
    assert!(
        p <= bound,
        "peak RSS {} MB, bound {} MB",
        p / MB,
        bound / MB
    );
    // DEL drops it at once; the GC takes the chunks.
    assert_eq!(c.qs("DEL big copy"), int(2));
    assert_eq!(c.qs("BITCOUNT big"), int(0));
    assert!(collected(node.port), "the GC removed the chunks");
}

/// Waits until a node's GC has reclaimed something and has nothing left.
fn collected(port: u16) -> bool {
    wait_until(Duration::from_secs(120), || {
        let i = redis_cli(port, &["info", "memory"]);
        info_field(&i, "lazyfree_pending_objects").as_deref() == Some("0")
            && info_field(&i, "lazyfreed_objects")
                .and_then(|v| v.parse::<u64>().ok())
                .is_some_and(|n| n > 0)
    })
}

/// One command writing a dense 512 MB string (BITOP NOT of a sparse one)
/// sends its chunks ahead in stage records (`store/stage.rs`): the master
/// and its replica stay within the memory bound, readers on both see the
/// old value or the whole new one, never a part; a kill -9 in the middle
/// of a second one leaves no trace of it, and what it sent ahead goes to
/// the GC on both nodes.
#[test]
fn a_dense_512mb_result_goes_ahead_in_stages() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let bound = 64 * MB * 5 / 4 + 32 * MB;
    let mut node = Node::start(&["maxmemory 64mb"]);
    let replica = Node::start(&["maxmemory 64mb"]);
    let mut rc = replicaof(&replica, &node);
    let mut c = Resp::connect(node.port);
    assert_eq!(c.qs("SETBIT src 4294967295 1"), int(0));
    assert_eq!(c.qs("SET dest old"), ok());
    let caught_up = |r: u16, m: u16| {
        wait_until(Duration::from_secs(120), || {
            let mi = redis_cli(m, &["info", "replication"]);
            let ri = redis_cli(r, &["info", "replication"]);
            info_field(&ri, "master_link_status").as_deref() == Some("up")
                && info_field(&ri, "slave_repl_offset") == info_field(&mi, "master_repl_offset")
        })
    };
    assert!(caught_up(replica.port, node.port));
    // What readers of `dest` see meanwhile, on both nodes.
    let stop = Arc::new(AtomicBool::new(false));
    let watchers: Vec<_> = [node.port, replica.port]
        .into_iter()
        .map(|port| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut w = Resp::connect(port);
                // The master answers nobody while the BITOP runs (one
                // command at a time, as Redis); the replica does.
                w.set_timeout(Duration::from_secs(300));
                let mut seen: Vec<(usize, Reply)> = Vec::new();
                // Each probe is one command: a value seen in part would
                // show zeros (chunks not there) in one of them.
                while !stop.load(Ordering::Relaxed) {
                    for (i, at) in ["0 2", "268435456 268435459", "536870908 -1"]
                        .iter()
                        .enumerate()
                    {
                        let r = (i, w.qs(&format!("GETRANGE dest {at}")));
                        if !seen.contains(&r) {
                            seen.push(r);
                        }
                    }
                }
                seen
            })
        })
        .collect();
    c.set_timeout(Duration::from_secs(300));
    assert_eq!(c.qs("BITOP NOT dest src"), int(512 * MB as i64));
    assert!(caught_up(replica.port, node.port), "the replica has it");
    stop.store(true, Ordering::Relaxed);
    let old = [bulk("old"), bulk(""), bulk("")];
    let new = [
        Reply::Bulk(vec![0xff; 3]),
        Reply::Bulk(vec![0xff; 4]),
        Reply::Bulk(vec![0xff, 0xff, 0xff, 0xfe]),
    ];
    for (w, name) in watchers.into_iter().zip(["master", "replica"]) {
        let seen = w.join().expect("watcher");
        assert!(
            seen.iter().all(|(i, r)| *r == old[*i] || *r == new[*i]),
            "readers of the {name} saw {seen:?}"
        );
    }
    let ones = int((4 * 1024 * MB - 1) as i64);
    assert_eq!(c.qs("BITCOUNT dest"), ones);
    assert_eq!(
        q::<i64>(&mut rc, &["BITCOUNT", "dest"]),
        4 * 1024 * MB as i64 - 1
    );
    for (n, name) in [(&node, "master"), (&replica, "replica")] {
        let p = peak(n.pid());
        eprintln!("{name}: peak RSS {} MB after the 512 MB BITOP", p / MB);
        assert!(
            p <= bound,
            "{name}: peak RSS {} MB, bound {} MB",
            p / MB,
            bound / MB
        );
    }
    // A second one, killed once it has sent over 100 MB ahead.
    let wal_bytes = |n: &Node| -> u64 {
        n.wal_segments()
            .iter()
            .filter_map(|p| std::fs::metadata(p).ok())
            .map(|m| m.len())
            .sum()
    };
    let before = wal_bytes(&node);
    let mut w = Resp::connect(node.port);
    w.send(&["BITOP", "NOT", "dest2", "src"]);
    assert!(
        wait_until(Duration::from_secs(60), || wal_bytes(&node)
            > before + 100 * MB),
        "the second BITOP sends its chunks ahead"
    );
    node.kill9();
    node.launch();
    let mut c = Resp::connect(node.port);
    assert_eq!(c.qs("EXISTS dest2"), int(0));
    assert_eq!(c.qs("BITCOUNT dest"), ones);
    assert!(
        wait_until(Duration::from_secs(20), || node
            .log()
            .contains("staged writes were never finished")),
        "{}",
        node.log()
    );
    assert!(collected(node.port), "the master collects what went ahead");
    assert!(caught_up(replica.port, node.port), "the replica follows");
    assert_eq!(redis_cli(replica.port, &["exists", "dest2"]).trim(), "0");
    assert!(collected(replica.port), "the replica collects it too");
}
