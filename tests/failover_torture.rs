//! The short failover torture test (issue 17; the long one, which also
//! runs Redis's sentinel and the asynchronous mode, is
//! `benches/failover_torture.py`): three sledis nodes with `sync-replicas
//! 1`, three sledis-sentinels (quorum 2, down-after 1000 ms), a writer that
//! finds the master through the sentinels and appends `vN` to a list, and
//! two faults on the master: `kill -9` (then a restart with its own
//! config), and SIGSTOP for longer than down-after (then SIGCONT: it wakes
//! up with the writer's connection open). Every write that was answered
//! must be in the final master's list, and every node ends with the final
//! master's data (the old masters dropped what only they had).

mod support;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::*;

/// The master a majority of the sentinels name.
fn master_by_majority(sentinels: &[SentinelProc]) -> Option<u16> {
    let mut votes: Vec<u16> = sentinels
        .iter()
        .filter_map(|s| s.master_port("mymaster"))
        .collect();
    votes.sort_unstable();
    let need = sentinels.len() / 2 + 1;
    votes
        .chunk_by(|a, b| a == b)
        .find(|c| c.len() >= need)
        .map(|c| c[0])
}

fn connect(port: u16) -> Option<redis::Connection> {
    let c = redis::Client::open(format!("redis://127.0.0.1:{port}/")).ok()?;
    let c = c
        .get_connection_with_timeout(Duration::from_millis(500))
        .ok()?;
    c.set_read_timeout(Some(Duration::from_secs(3))).ok()?;
    Some(c)
}

/// Appends `v<n>` to `log` on whatever the sentinels call the master;
/// keeps the numbers whose RPUSH was answered (under `sync-replicas 1`: a
/// replica has it).
struct Writer {
    stop: Arc<AtomicBool>,
    acked: Arc<Mutex<Vec<u64>>>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Writer {
    fn start(sentinel_ports: Vec<u16>) -> Writer {
        let stop = Arc::new(AtomicBool::new(false));
        let acked = Arc::new(Mutex::new(Vec::new()));
        let (s2, a2) = (stop.clone(), acked.clone());
        let handle = std::thread::spawn(move || {
            let mut n = 0u64;
            let mut conn: Option<redis::Connection> = None;
            let mut next_sentinel = 0usize;
            while !s2.load(Ordering::Relaxed) {
                if conn.is_none() {
                    // Ask the sentinels in turn, as a client library does.
                    let sp = sentinel_ports[next_sentinel % sentinel_ports.len()];
                    next_sentinel += 1;
                    let addr: Option<Vec<String>> = connect(sp).and_then(|mut c| {
                        redis::cmd("SENTINEL")
                            .arg("GET-MASTER-ADDR-BY-NAME")
                            .arg("mymaster")
                            .query(&mut c)
                            .ok()
                    });
                    conn = addr
                        .and_then(|a| a.get(1).and_then(|p| p.parse::<u16>().ok()))
                        .and_then(connect);
                }
                let Some(c) = conn.as_mut() else {
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                };
                n += 1;
                let r: redis::RedisResult<i64> =
                    redis::cmd("RPUSH").arg("log").arg(format!("v{n}")).query(c);
                match r {
                    Ok(_) => a2.lock().expect("lock").push(n),
                    Err(_) => {
                        conn = None;
                        std::thread::sleep(Duration::from_millis(20));
                    }
                }
            }
        });
        Writer {
            stop,
            acked,
            handle: Some(handle),
        }
    }

    fn count(&self) -> usize {
        self.acked.lock().expect("lock").len()
    }

    fn stop(mut self) -> Vec<u64> {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
        let v = self.acked.lock().expect("lock").clone();
        v
    }
}

/// Waits until a majority of the sentinels name a master other than `old`.
fn wait_switch(sentinels: &[SentinelProc], old: u16) -> u16 {
    let mut new = None;
    let ok = wait_until(Duration::from_secs(30), || {
        new = master_by_majority(sentinels).filter(|p| *p != old);
        new.is_some()
    });
    assert!(
        ok,
        "no failover away from {old}; sentinel log:\n{}",
        sentinels[0].log()
    );
    new.expect("new master")
}

/// Waits until the writer got `n` more writes answered.
fn wait_progress(w: &Writer, n: usize, what: &str) {
    let start = w.count();
    assert!(
        wait_until(Duration::from_secs(20), || w.count() >= start + n),
        "writes resume after {what}"
    );
}

#[test]
fn sync_replicas_loses_no_acknowledged_write_across_kill_and_pause_failovers() {
    let t0 = Instant::now();
    let mut nodes: Vec<Node> = Vec::new();
    nodes.push(Node::start(&["sync-replicas 1"]));
    let line = format!("replicaof 127.0.0.1 {}", nodes[0].port);
    for _ in 0..2 {
        nodes.push(Node::start(&["sync-replicas 1", &line]));
    }
    for r in &nodes[1..] {
        wait_synced(r, &nodes[0]);
    }
    let sentinels: Vec<SentinelProc> = (0..3)
        .map(|_| SentinelProc::start(&monitor_lines(nodes[0].port, 2, 1000)))
        .collect();
    assert!(
        wait_until(Duration::from_secs(30), || sentinels.iter().all(|s| {
            s.master_field("mymaster", "num-slaves").as_deref() == Some("2")
                && s.master_field("mymaster", "num-other-sentinels").as_deref() == Some("2")
        })),
        "sentinels discover the group"
    );
    let writer = Writer::start(sentinels.iter().map(|s| s.port).collect());
    wait_progress(&writer, 200, "start");

    // Fault 1: kill -9 the master, restart it once the others switched.
    let m1 = master_by_majority(&sentinels).expect("master");
    let i1 = nodes.iter().position(|n| n.port == m1).expect("node");
    nodes[i1].kill9();
    let m2 = wait_switch(&sentinels, m1);
    nodes[i1].launch();
    wait_progress(&writer, 200, "kill -9");

    // Fault 2: pause the new master past down-after; it wakes up after the
    // switch with the writer still connected to it.
    let i2 = nodes.iter().position(|n| n.port == m2).expect("node");
    unsafe_kill(nodes[i2].pid(), "STOP");
    let m3 = wait_switch(&sentinels, m2);
    unsafe_kill(nodes[i2].pid(), "CONT");
    wait_progress(&writer, 200, "SIGSTOP");

    let acked = writer.stop();
    // Every node follows the final master and holds its data.
    let final_master = master_by_majority(&sentinels).expect("final master");
    assert_eq!(final_master, m3);
    let mut last = String::new();
    let converged = wait_until(Duration::from_secs(30), || {
        let d = digest_at(final_master);
        last = nodes
            .iter()
            .map(|n| format!("{}: {} ", n.port, role(n.port)))
            .collect();
        nodes.iter().all(|n| {
            n.port == final_master || (role(n.port).starts_with("slave") && digest_at(n.port) == d)
        })
    });
    assert!(converged, "nodes converge on {final_master}: {last}");
    let mut c = connect(final_master).expect("final master");
    let items: Vec<String> = redis::cmd("LRANGE")
        .arg("log")
        .arg(0)
        .arg(-1)
        .query(&mut c)
        .expect("LRANGE");
    let present: std::collections::HashSet<u64> = items
        .iter()
        .filter_map(|v| v.strip_prefix('v').and_then(|n| n.parse().ok()))
        .collect();
    let lost: Vec<u64> = acked
        .iter()
        .copied()
        .filter(|n| !present.contains(n))
        .collect();
    eprintln!(
        "{} writes acknowledged, {} in the list, {} lost; masters {m1} -> {m2} -> {m3}; {:.1} s",
        acked.len(),
        items.len(),
        lost.len(),
        t0.elapsed().as_secs_f64()
    );
    assert!(
        lost.is_empty(),
        "{} acknowledged writes lost (first: {:?}); masters {m1} -> {m2} -> {m3}",
        lost.len(),
        &lost[..lost.len().min(10)]
    );
}

fn role(port: u16) -> String {
    redis_cli(port, &["role"])
}
