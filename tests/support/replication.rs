//! Masters and replicas: linking them up and waiting until they agree.

use super::{info_field, redis_cli, wait_until, Node};
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
    let () = redis::cmd("REPLICAOF")
        .arg("127.0.0.1")
        .arg(master.port)
        .query(&mut r)
        .expect("REPLICAOF");
    r
}
