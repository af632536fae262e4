//! Masters and replicas: linking them up and waiting until they agree.

use super::{digest, info, info_field, info_value, redis_cli, wait_until, Node};
use redis::Connection;
use std::time::Duration;

/// A master and `n` replicas of it, replicas in sync.
pub fn replicated_group(n: usize) -> (Node, Vec<Node>) {
    let m = Node::start(&[]);
    let line = format!("replicaof 127.0.0.1 {}", m.port);
    let replicas: Vec<Node> = (0..n).map(|_| Node::start(&[&line])).collect();
    for r in &replicas {
        assert!(
            wait_until(Duration::from_secs(20), || {
                info_field(
                    &redis_cli(r.port, &["info", "replication"]),
                    "master_link_status",
                )
                .as_deref()
                    == Some("up")
            }),
            "replica {} links up; log:\n{}",
            r.port,
            r.log()
        );
    }
    (m, replicas)
}

/// Makes `replica` replicate `master`; returns a client of the replica.
pub fn replicaof(replica: &Node, master: &Node) -> redis::Connection {
    let mut r = replica.client();
    follow(&mut r, Some(master));
    r
}

/// REPLICAOF `master` (None: REPLICAOF NO ONE) on an open connection.
pub fn follow(c: &mut redis::Connection, master: Option<&Node>) {
    let mut cmd = redis::cmd("REPLICAOF");
    match master {
        Some(m) => cmd.arg("127.0.0.1").arg(m.port),
        None => cmd.arg("NO").arg("ONE"),
    };
    let () = cmd.query(c).expect("REPLICAOF");
}

/// Waits until the replica has the master's data (same digest) and its
/// link is up.
pub fn wait_synced(r: &Node, m: &Node) {
    let ok = wait_until(Duration::from_secs(20), || {
        let (Ok(mut rc), Ok(mut mc)) = (r.try_client(), m.try_client()) else {
            return false;
        };
        let up = info_field(&info(&mut rc, "replication"), "master_link_status").as_deref()
            == Some("up");
        up && digest(&mut rc) == digest(&mut mc)
    });
    let offsets = |n: &Node| {
        n.try_client().map_or_else(
            |e| format!("({e})"),
            |mut c| {
                let i = info(&mut c, "replication");
                [
                    "master_repl_offset",
                    "slave_repl_offset",
                    "master_link_status",
                ]
                .map(|f| format!("{f}={:?}", info_field(&i, f)))
                .join(" ")
            },
        )
    };
    assert!(
        ok,
        "replica on {} did not catch up with {}: replica {}, master {}\nreplica log:\n{}\nmaster log:\n{}",
        r.port,
        m.port,
        offsets(r),
        offsets(m),
        r.log(),
        m.log()
    );
}

/// The replica `r` is linked, loaded, at the master's offset and holds
/// the master's data (equal digests).
pub fn linked_and_equal(r: &mut Connection, m: &mut Connection) -> bool {
    info_value(r, "replication", "master_link_status") == "up"
        && info_value(r, "persistence", "loading") == "0"
        && info_value(r, "replication", "slave_repl_offset")
            == info_value(m, "replication", "master_repl_offset")
        && digest(r) == digest(m)
}
