//! SWAPDB (src/command/swapdb.rs, src/store/slots.rs): replies, WATCH and
//! blocked clients checked against a real redis-server first
//! (`support::compare`); then what only sledis has: the swap survives
//! `kill -9` and a clean restart, reaches a replica, a chained replica and
//! a replica that full-syncs afterwards, and the dump tool shows it.

mod support;

use std::process::Command;
use std::time::Duration;
use support::*;

const DUMP: &str = env!("CARGO_BIN_EXE_sledis-dump");

#[test]
fn swapdb_matches_redis() {
    both(&[], |port, t| {
        let mut c = Resp::connect(port);
        script(
            &mut c,
            t,
            &[
                ("SET a zero", ok()),
                ("RPUSH l x y", int(2)),
                ("SELECT 1", ok()),
                ("SET a one", ok()),
                ("HSET h f v", int(1)),
                ("SADD s m", int(1)),
                ("SELECT 0", ok()),
                ("SWAPDB 0 x", err("ERR invalid second DB index")),
                ("SWAPDB x 0", err("ERR invalid first DB index")),
                ("SWAPDB 0 16", err("ERR DB index is out of range")),
                ("SWAPDB -1 0", err("ERR DB index is out of range")),
                ("SWAPDB 0 99999999999", err("ERR invalid second DB index")),
                ("SWAPDB 0 1 2", arity("swapdb")),
                ("SWAPDB 0 0", ok()),
                ("GET a", bulk("zero")),
                ("SWAPDB 0 1", ok()),
                ("GET a", bulk("one")),
                ("HGET h f", bulk("v")),
                ("SMEMBERS s", bulks(&["m"])),
                ("EXISTS l", int(0)),
                ("DBSIZE", int(3)),
                ("SELECT 1", ok()),
                ("GET a", bulk("zero")),
                ("LRANGE l 0 -1", bulks(&["x", "y"])),
                ("DBSIZE", int(2)),
                // Writes and FLUSHDB land in the database's new place.
                ("SET b 1", ok()),
                ("FLUSHDB", ok()),
                ("DBSIZE", int(0)),
                ("SELECT 0", ok()),
                ("DBSIZE", int(3)),
                ("MOVE a 1", int(1)),
                ("SWAPDB 1 0", ok()),
                ("GET a", bulk("one")),
                ("DBSIZE", int(1)),
                // In a transaction, commands after SWAPDB see the swap.
                ("MULTI", ok()),
                ("SWAPDB 0 2", st("QUEUED")),
                ("SET c 3", st("QUEUED")),
                ("GET a", st("QUEUED")),
                ("SWAPDB 0 2", st("QUEUED")),
                ("GET a", st("QUEUED")),
                ("EXEC", arr(vec![ok(), ok(), Reply::Nil, ok(), bulk("one")])),
                ("SELECT 2", ok()),
                ("GET c", bulk("3")),
                ("SELECT 0", ok()),
                // DBSIZE inside the transaction counts what it swapped.
                ("MULTI", ok()),
                ("SET d 1", st("QUEUED")),
                ("SWAPDB 0 3", st("QUEUED")),
                ("DBSIZE", st("QUEUED")),
                ("SELECT 3", st("QUEUED")),
                ("DBSIZE", st("QUEUED")),
                ("SELECT 0", st("QUEUED")),
                ("SWAPDB 3 0", st("QUEUED")),
                ("DBSIZE", st("QUEUED")),
                (
                    "EXEC",
                    arr(vec![ok(), ok(), int(0), ok(), int(2), ok(), ok(), int(2)]),
                ),
                ("DEL d", int(1)),
                (
                    "COMMAND GETKEYS SWAPDB 0 1",
                    err("ERR The command has no key arguments"),
                ),
            ],
        );
        let info = c.qs("COMMAND INFO swapdb");
        let e = info.items()[0].items();
        assert_eq!(e[1], int(3), "[{t:?}]");
        assert!(e[2].items().contains(&st("write")), "[{t:?}] {e:?}");
        assert!(e[2].items().contains(&st("fast")), "[{t:?}] {e:?}");
        assert_eq!(&e[3..6], &[int(0), int(0), int(0)], "[{t:?}]");
    });
}

/// Redis's rule (touchAllWatchedKeysInDb on both databases): a watched key
/// is touched when it exists in its database or in the one swapped in;
/// other databases and keys that exist on neither side are not.
#[test]
fn swapdb_touches_watched_keys_of_both_databases() {
    both(&[], |port, t| {
        let mut w = Resp::connect(port);
        let mut o = Resp::connect(port);
        let exec_after = |w: &mut Resp, o: &mut Resp, db: &str, key: &str, swap: &str| {
            assert_eq!(w.qs(&format!("SELECT {db}")), ok());
            assert_eq!(w.qs(&format!("WATCH {key}")), ok());
            assert_eq!(o.qs(swap), ok());
            assert_eq!(w.qs("MULTI"), ok());
            assert_eq!(w.qs("PING"), st("QUEUED"));
            w.qs("EXEC")
        };
        assert_eq!(o.qs("SELECT 1"), ok());
        assert_eq!(o.qs("SET only1 x"), ok());
        assert_eq!(o.qs("SELECT 0"), ok());
        assert_eq!(o.qs("SET only0 x"), ok());
        let pong = arr(vec![st("PONG")]);
        // Exists only in the database swapped in.
        let r = exec_after(&mut w, &mut o, "0", "only1", "SWAPDB 0 1");
        assert_eq!(r, Reply::NilArray, "[{t:?}] key from the other side");
        // Exists only in its own database (now db 1 holds only0).
        let r = exec_after(&mut w, &mut o, "1", "only0", "SWAPDB 0 1");
        assert_eq!(r, Reply::NilArray, "[{t:?}] key of its own side");
        // Exists on neither side.
        let r = exec_after(&mut w, &mut o, "0", "nowhere", "SWAPDB 0 1");
        assert_eq!(r, pong, "[{t:?}] key on neither side");
        // Another database.
        let r = exec_after(&mut w, &mut o, "2", "only0", "SWAPDB 0 1");
        assert_eq!(r, pong, "[{t:?}] other database");
        // The same database twice touches nothing.
        let r = exec_after(&mut w, &mut o, "0", "only1", "SWAPDB 0 0");
        assert_eq!(r, pong, "[{t:?}] SWAPDB of a database with itself");
        // Logically expired keys (the same outcomes if the active cycle
        // deleted them first): one expired when watched and absent on the
        // other side is no change; one absent that an expired key
        // replaces is none either; a live one on its own side is touched.
        assert_eq!(o.qs("FLUSHALL"), ok());
        assert_eq!(o.qs("SET gone v PX 10"), ok());
        assert_eq!(o.qs("SELECT 1"), ok());
        assert_eq!(o.qs("SET dead v PX 10"), ok());
        assert_eq!(o.qs("SET alive v"), ok());
        assert_eq!(o.qs("SELECT 0"), ok());
        std::thread::sleep(Duration::from_millis(60));
        let r = exec_after(&mut w, &mut o, "0", "gone", "SWAPDB 0 1");
        assert_eq!(r, pong, "[{t:?}] expired when watched, nothing swapped in");
        let r = exec_after(&mut w, &mut o, "1", "dead", "SWAPDB 0 1");
        assert_eq!(r, pong, "[{t:?}] an expired key swapped in");
        let r = exec_after(&mut w, &mut o, "1", "alive", "SWAPDB 0 1");
        assert_eq!(r, Reply::NilArray, "[{t:?}] a live key swapped out");
        // A key written before the swap in one transaction is touched in
        // the database it was written in.
        assert_eq!(w.qs("SELECT 0"), ok());
        assert_eq!(w.qs("WATCH fresh"), ok());
        assert_eq!(o.qs("SELECT 0"), ok());
        assert_eq!(o.qs("MULTI"), ok());
        assert_eq!(o.qs("SET fresh 1"), st("QUEUED"));
        assert_eq!(o.qs("SWAPDB 0 5"), st("QUEUED"));
        assert_eq!(o.qs("EXEC"), arr(vec![ok(), ok()]));
        assert_eq!(w.qs("MULTI"), ok());
        assert_eq!(w.qs("PING"), st("QUEUED"));
        assert_eq!(
            w.qs("EXEC"),
            Reply::NilArray,
            "[{t:?}] written, then swapped away"
        );
    });
}

#[test]
fn swapdb_wakes_a_client_blocked_in_the_database_that_gains_a_list() {
    both(&[], |port, t| {
        let mut b = Resp::connect(port);
        let mut o = Resp::connect(port);
        assert_eq!(b.qs("SELECT 1"), ok());
        b.send(&["BLPOP", "q", "0"]);
        // Wait until it is blocked before giving db 0 the list.
        assert!(
            wait_until(Duration::from_secs(10), || {
                info_field(&redis_cli(port, &["info", "clients"]), "blocked_clients").as_deref()
                    == Some("1")
            }),
            "[{t:?}] client blocked"
        );
        assert_eq!(o.qs("RPUSH q job"), int(1));
        assert_eq!(o.qs("SWAPDB 0 1"), ok());
        b.set_timeout(Duration::from_secs(10));
        assert_eq!(b.read(), bulks(&["q", "job"]), "[{t:?}]");
        assert_eq!(o.qs("SELECT 1"), ok());
        assert_eq!(o.qs("EXISTS q"), int(0), "[{t:?}] popped from db 1");
    });
}

#[test]
fn keys_of_a_swapped_database_expire_actively() {
    both(&[], |port, t| {
        let mut c = Resp::connect(port);
        assert_eq!(c.qs("SELECT 1"), ok());
        assert_eq!(c.qs("SET e v PX 150"), ok());
        assert_eq!(c.qs("SET keep v"), ok());
        assert_eq!(c.qs("SWAPDB 0 1"), ok());
        assert_eq!(c.qs("SELECT 0"), ok());
        assert_eq!(c.qs("DBSIZE"), int(2), "[{t:?}]");
        // Not read by anyone: only the active cycle can delete it.
        assert!(
            wait_until(Duration::from_secs(10), || c.qs("DBSIZE") == int(1)),
            "[{t:?}] the key expired in its new place"
        );
        assert_eq!(c.qs("GET keep"), bulk("v"), "[{t:?}]");
        assert_eq!(c.qs("SELECT 1"), ok());
        assert_eq!(c.qs("DBSIZE"), int(0), "[{t:?}]");
    });
}

fn fill_two_dbs(port: u16) {
    let cli = |args: &[&str]| redis_cli(port, args);
    cli(&["set", "k", "zero"]);
    cli(&["rpush", "l", "a", "b", "c"]);
    cli(&["-n", "1", "set", "k", "one"]);
    cli(&["-n", "1", "zadd", "z", "1", "m"]);
    cli(&["-n", "1", "set", "t", "ttl", "EX", "1000"]);
    assert_eq!(cli(&["swapdb", "0", "1"]).trim(), "OK");
}

/// What db 0 and db 1 hold after `fill_two_dbs`.
fn assert_swapped(port: u16, what: &str) {
    let cli = |args: &[&str]| redis_cli(port, args).trim().to_string();
    assert_eq!(cli(&["get", "k"]), "one", "{what}: db 0");
    assert_eq!(cli(&["zscore", "z", "m"]), "1", "{what}: db 0");
    assert_eq!(cli(&["exists", "t"]), "1", "{what}: db 0 with a TTL");
    assert_eq!(cli(&["dbsize"]), "3", "{what}: db 0 size");
    assert_eq!(cli(&["-n", "1", "get", "k"]), "zero", "{what}: db 1");
    assert_eq!(
        cli(&["-n", "1", "lrange", "l", "0", "-1"]),
        "a\nb\nc",
        "{what}: db 1"
    );
    assert_eq!(cli(&["-n", "1", "dbsize"]), "2", "{what}: db 1 size");
    let ks = redis_cli(port, &["info", "keyspace"]);
    assert!(ks.contains("db0:keys=3,expires=1"), "{what}: {ks}");
    assert!(ks.contains("db1:keys=2,expires=0"), "{what}: {ks}");
}

#[test]
fn swapdb_survives_kill9_and_a_clean_restart() {
    let mut n = Node::start(&["save \"\""]);
    fill_two_dbs(n.port);
    assert_swapped(n.port, "before");
    // From the WAL alone.
    n.kill9();
    n.launch();
    assert_swapped(n.port, "after kill -9");
    // From sled, after a clean stop (the write buffer went to sled).
    n.stop();
    n.launch();
    assert_swapped(n.port, "after a clean restart");
    // Swapping back, then a crash again.
    assert_eq!(redis_cli(n.port, &["swapdb", "1", "0"]).trim(), "OK");
    n.kill9();
    n.launch();
    assert_eq!(redis_cli(n.port, &["get", "k"]).trim(), "zero");
    assert_eq!(redis_cli(n.port, &["-n", "1", "get", "k"]).trim(), "one");
}

#[test]
fn swapdb_reaches_replicas_a_chain_and_a_full_sync() {
    let (m, rs) = replicated_group(1);
    let chained = Node::start(&[&format!("replicaof 127.0.0.1 {}", rs[0].port)]);
    wait_synced(&chained, &rs[0]);
    fill_two_dbs(m.port);
    wait_synced(&rs[0], &m);
    wait_synced(&chained, &m);
    assert_swapped(rs[0].port, "replica");
    assert_swapped(chained.port, "chained replica");
    // A replica that joins now gets the swap in its snapshot.
    let late = Node::start(&[&format!("replicaof 127.0.0.1 {}", m.port)]);
    wait_synced(&late, &m);
    assert_swapped(late.port, "replica after a full sync");
    // The dump tool finds the master's and a replica's snapshots equal.
    for n in [&m, &late] {
        assert_eq!(redis_cli(n.port, &["save"]).trim(), "OK");
    }
    let snap = |n: &Node| n.data_dir().join("dump.sledis").display().to_string();
    let out = Command::new(DUMP)
        .args(["diff", &snap(&m), &snap(&late)])
        .output()
        .expect("sledis-dump");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("5 keys equal, 0 differ, 0 only in A, 0 only in B"),
        "{text}"
    );
}

#[test]
fn the_dump_tool_shows_the_swap() {
    let n = Node::start(&["save \"\""]);
    fill_two_dbs(n.port);
    assert_eq!(redis_cli(n.port, &["save"]).trim(), "OK");
    let run = |args: &[&str]| {
        let out = Command::new(DUMP).args(args).output().expect("sledis-dump");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let wal = n.data_dir().join("wal");
    let out = run(&["wal", wal.to_str().expect("path")]);
    assert!(out.contains("SWAPDB: db0 now in slot 1"), "{out}");
    assert!(out.contains("SWAPDB: db1 now in slot 0"), "{out}");
    let snap = n.data_dir().join("dump.sledis");
    let out = run(&["snapshot", snap.to_str().expect("path"), "--json"]);
    let keys: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    let find = |db: i64, key: &str| {
        keys.iter()
            .find(|k| k["db"] == db && k["key"] == key)
            .unwrap_or_else(|| panic!("db{db} {key} in {out}"))
            .clone()
    };
    assert_eq!(find(0, "k")["value"], "one");
    assert_eq!(find(1, "k")["value"], "zero");
    find(1, "l");
    find(0, "z");
}
