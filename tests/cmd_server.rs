//! Server commands (src/command/server.rs): INFO sections and fields,
//! CONFIG GET/SET, TIME and LASTSAVE, DEBUG DIGEST, SELECT/FLUSHDB/FLUSHALL/
//! DBSIZE over the 16 databases. Checked against a real redis-server first,
//! then a sledis node (`support::compare`), except what only sledis has.

mod support;

use std::time::Duration;
use support::*;

#[test]
fn select_flush_dbsize() {
    both(&[], |port, t| {
        let mut c = Resp::connect(port);
        script(
            &mut c,
            t,
            &[
                ("SELECT 16", err("ERR DB index is out of range")),
                ("SELECT -1", err("ERR DB index is out of range")),
                ("SELECT abc", err(NOT_INT)),
                (
                    "SELECT 99999999999",
                    err("ERR value is out of range, value must between -2147483648 and 2147483647"),
                ),
                ("SELECT", arity("select")),
                ("SELECT 0 1", arity("select")),
            ],
        );
        for db in 0..16 {
            assert_eq!(c.q(&["SELECT", &db.to_string()]), ok());
            for i in 0..=db {
                assert_eq!(c.q(&["SET", &format!("k{i}"), &format!("db{db}")]), ok());
            }
        }
        for db in 0..16 {
            assert_eq!(c.q(&["SELECT", &db.to_string()]), ok());
            assert_eq!(c.qs("DBSIZE"), int(db + 1), "[{t:?}] db {db}");
            assert_eq!(c.qs("GET k0"), bulk(&format!("db{db}")));
        }
        script(
            &mut c,
            t,
            &[
                ("SELECT 5", ok()),
                ("FLUSHDB", ok()),
                ("DBSIZE", int(0)),
                ("SELECT 6", ok()),
                ("DBSIZE", int(7)),
                ("FLUSHDB ASYNC", ok()),
                ("FLUSHDB sync", ok()),
                ("FLUSHDB FOO", err(SYNTAX)),
                ("FLUSHDB SYNC extra", err(SYNTAX)),
                ("FLUSHALL FOO", err(SYNTAX)),
                ("DBSIZE x", arity("dbsize")),
                ("SELECT 7", ok()),
                ("DBSIZE", int(8)),
                ("FLUSHALL", ok()),
                ("DBSIZE", int(0)),
                ("SELECT 0", ok()),
                ("DBSIZE", int(0)),
                ("SET a 1", ok()),
                ("FLUSHALL ASYNC", ok()),
                ("DBSIZE", int(0)),
            ],
        );
    });
}

#[test]
fn info_sections_and_fields() {
    let n = Node::start(&[]);
    let mut c = Resp::connect(n.port);
    let all = c.qs("INFO").text();
    for section in [
        "# Server",
        "# Clients",
        "# Memory",
        "# Persistence",
        "# Stats",
        "# Replication",
        "# CPU",
        "# Cluster",
        "# Keyspace",
    ] {
        assert!(all.contains(section), "INFO lacks {section}");
    }
    // redis-py's test setup and cluster-aware clients read this.
    assert_eq!(info_field(&all, "cluster_enabled").as_deref(), Some("0"));
    let cpu: f64 = info_field(&all, "used_cpu_user")
        .and_then(|v| v.parse().ok())
        .expect("used_cpu_user");
    assert!(cpu >= 0.0, "{cpu}");
    for f in [
        "used_cpu_sys",
        "used_cpu_sys_children",
        "used_cpu_user_main_thread",
    ] {
        assert!(info_field(&all, f).is_some(), "INFO lacks {f}");
    }
    assert_eq!(info_field(&all, "redis_version").as_deref(), Some("7.0.15"));
    assert_eq!(info_field(&all, "tcp_port"), Some(n.port.to_string()));
    assert_eq!(info_field(&all, "role").as_deref(), Some("master"));
    let replid = info_field(&all, "master_replid").expect("master_replid");
    assert!(
        replid.len() == 40 && replid.chars().all(|c| c.is_ascii_hexdigit()),
        "{replid}"
    );
    let repl = c.qs("INFO replication").text();
    assert!(
        repl.starts_with("# Replication\r\n") && !repl.contains("# Server"),
        "{repl}"
    );
    let off0: i64 = info_field(&repl, "master_repl_offset")
        .and_then(|v| v.parse().ok())
        .expect("offset");
    for i in 0..10 {
        assert_eq!(c.q(&["SET", &format!("k{i}"), "value"]), ok());
    }
    let off1: i64 = info_field(&c.qs("INFO replication").text(), "master_repl_offset")
        .and_then(|v| v.parse().ok())
        .expect("offset");
    assert!(
        off1 > off0,
        "master_repl_offset must grow with writes: {off0} -> {off1}"
    );
    // Reads do not move it.
    assert_eq!(c.qs("GET k1"), bulk("value"));
    let off2: i64 = info_field(&c.qs("INFO replication").text(), "master_repl_offset")
        .and_then(|v| v.parse().ok())
        .expect("offset");
    assert_eq!(off1, off2);
    assert_eq!(c.qs("SET t1 v EX 100"), ok());
    assert_eq!(c.qs("SET t2 v PX 100000"), ok());
    assert_eq!(c.qs("SELECT 2"), ok());
    assert_eq!(c.qs("SET x v"), ok());
    let ks = c.qs("INFO keyspace").text();
    assert!(ks.contains("db0:keys=12,expires=2,avg_ttl="), "{ks}");
    assert!(ks.contains("db2:keys=1,expires=0,avg_ttl="), "{ks}");
    assert!(!ks.contains("db1:"), "{ks}");
    // Several sections at once, any case.
    let two = c.qs("INFO SERVER clients").text();
    assert!(
        two.contains("# Server") && two.contains("# Clients") && !two.contains("# Keyspace"),
        "{two}"
    );
    let one = wait_until(Duration::from_secs(5), || {
        info_field(&c.qs("INFO clients").text(), "connected_clients").as_deref() == Some("1")
    });
    assert!(one, "connected_clients should be 1");
    let stats = c.qs("INFO stats").text();
    let cmds: i64 = info_field(&stats, "total_commands_processed")
        .and_then(|v| v.parse().ok())
        .expect("total_commands_processed");
    assert!(cmds >= 15, "{cmds}");
    // redis-cli prints it as text.
    let out = redis_cli(n.port, &["INFO", "server"]);
    assert!(out.contains("redis_version:7.0.15"), "{out}");
}

#[test]
fn config_get_set() {
    both(&[], |port, t| {
        let mut c = Resp::connect(port);
        let get = |c: &mut Resp, name: &str| -> Reply { c.q(&["CONFIG", "GET", name]) };
        assert_eq!(
            get(&mut c, "appendfsync"),
            bulks(&["appendfsync", "everysec"]),
            "[{t:?}]"
        );
        assert_eq!(c.qs("CONFIG SET appendfsync always"), ok());
        assert_eq!(
            get(&mut c, "appendfsync"),
            bulks(&["appendfsync", "always"])
        );
        assert_eq!(c.qs("SET durable v"), ok());
        assert_eq!(c.qs("CONFIG SET appendfsync no"), ok());
        assert_eq!(c.qs("CONFIG SET appendfsync everysec"), ok());
        assert_eq!(
            c.qs("CONFIG SET appendfsync maybe"),
            err("ERR CONFIG SET failed (possibly related to argument 'appendfsync') - argument(s) must be one of the following: everysec, always, no"),
            "[{t:?}]"
        );
        assert_eq!(c.q(&["CONFIG", "SET", "save", "3600 1 300 100"]), ok());
        assert_eq!(
            get(&mut c, "save"),
            bulks(&["save", "3600 1 300 100"]),
            "[{t:?}]"
        );
        assert_eq!(c.q(&["CONFIG", "SET", "save", ""]), ok());
        assert_eq!(get(&mut c, "save"), bulks(&["save", ""]), "[{t:?}]");
        // Patterns and several names; each parameter once.
        let r = c.qs("CONFIG GET appendfsy* appendfsync");
        assert_eq!(r, bulks(&["appendfsync", "everysec"]), "[{t:?}]");
        assert_eq!(get(&mut c, "nosuchparam"), arr(vec![]));
        script(
            &mut c,
            t,
            &[
                (
                    "CONFIG SET nosuchparam x",
                    err("ERR Unknown option or number of arguments for CONFIG SET - 'nosuchparam'"),
                ),
                ("CONFIG SET a b c", err(SYNTAX)),
                ("CONFIG GET", arity("config|get")),
                ("CONFIG SET appendfsync", arity("config|set")),
                (
                    "CONFIG FOO",
                    err("ERR unknown subcommand 'FOO'. Try CONFIG HELP."),
                ),
                ("CONFIG", arity("config")),
            ],
        );
    });
}

#[test]
fn time_and_lastsave() {
    both(&[], |port, t| {
        let mut c = Resp::connect(port);
        let r = c.qs("TIME");
        let items = r.items();
        assert_eq!(items.len(), 2, "[{t:?}]");
        let secs: i64 = items[0].text().parse().expect("seconds");
        let micros: i64 = items[1].text().parse().expect("micros");
        assert!((secs - now_ms() / 1000).abs() <= 2, "[{t:?}] TIME {secs}");
        assert!((0..1_000_000).contains(&micros));
        let last = c.qs("LASTSAVE").int();
        assert!(
            last >= 0 && last <= now_ms() / 1000 + 1,
            "[{t:?}] LASTSAVE {last}"
        );
        assert_eq!(c.qs("SET k v"), ok());
        assert_eq!(c.qs("SAVE"), ok());
        let after = c.qs("LASTSAVE").int();
        assert!(
            after >= now_ms() / 1000 - 2 && after >= last,
            "[{t:?}] LASTSAVE after SAVE: {after}"
        );
        assert_eq!(c.qs("TIME x"), arity("time"));
        assert_eq!(c.qs("LASTSAVE x"), arity("lastsave"));
    });
}

#[test]
fn debug_digest_compares_data() {
    let a = Node::start(&[]);
    let b = Node::start(&[]);
    let mut ca = Resp::connect(a.port);
    let mut cb = Resp::connect(b.port);
    let zeros = "0".repeat(40);
    assert_eq!(
        ca.qs("DEBUG DIGEST"),
        st(&zeros),
        "an empty keyspace digests to zeros"
    );
    // Same data, written in a different order and way: same digest.
    for c in [&mut ca, &mut cb] {
        assert_eq!(c.qs("SELECT 1"), ok());
    }
    assert_eq!(ca.qs("MSET a 1 b 2 c 3"), ok());
    assert_eq!(cb.qs("SET c 3"), ok());
    assert_eq!(cb.qs("SET b 1"), ok());
    assert_eq!(cb.qs("INCR b"), int(2));
    assert_eq!(cb.qs("SET a 1"), ok());
    let da = ca.qs("DEBUG DIGEST");
    let db = cb.qs("DEBUG DIGEST");
    assert_eq!(da, db);
    let Reply::Status(d) = &da else {
        panic!("{da:?}")
    };
    assert!(
        d.len() == 40 && d != &zeros && d.chars().all(|c| c.is_ascii_hexdigit()),
        "{d}"
    );
    // Different value, different key, different db, different TTL: different digests.
    assert_eq!(cb.qs("SET a 2"), ok());
    assert_ne!(ca.qs("DEBUG DIGEST"), cb.qs("DEBUG DIGEST"));
    assert_eq!(cb.qs("SET a 1"), ok());
    assert_eq!(ca.qs("DEBUG DIGEST"), cb.qs("DEBUG DIGEST"));
    assert_eq!(cb.qs("RENAME a z"), ok());
    assert_ne!(ca.qs("DEBUG DIGEST"), cb.qs("DEBUG DIGEST"));
    assert_eq!(cb.qs("RENAME z a"), ok());
    assert_eq!(cb.qs("MOVE a 2"), int(1));
    assert_ne!(ca.qs("DEBUG DIGEST"), cb.qs("DEBUG DIGEST"));
    assert_eq!(cb.qs("SELECT 2"), ok());
    assert_eq!(cb.qs("MOVE a 1"), int(1));
    assert_eq!(ca.qs("DEBUG DIGEST"), cb.qs("DEBUG DIGEST"));
    assert_eq!(cb.qs("SELECT 1"), ok());
    assert_eq!(cb.qs("PEXPIREAT a 99999999999999"), int(1));
    assert_ne!(ca.qs("DEBUG DIGEST"), cb.qs("DEBUG DIGEST"));
    assert_eq!(ca.qs("PEXPIREAT a 99999999999999"), int(1));
    assert_eq!(ca.qs("DEBUG DIGEST"), cb.qs("DEBUG DIGEST"));
    // DIGEST-VALUE: per key, zeros for a missing one.
    let v = ca.qs("DEBUG DIGEST-VALUE a nokey");
    assert_eq!(v.items().len(), 2);
    assert_eq!(v.items()[1], st(&zeros));
    assert_eq!(v, cb.qs("DEBUG DIGEST-VALUE a nokey"));
    // The digest survives a restart.
    let before = ca.qs("DEBUG DIGEST");
    drop(ca);
    let mut a = a;
    a.stop();
    a.launch();
    let mut ca = Resp::connect(a.port);
    assert_eq!(ca.qs("DEBUG DIGEST"), before);
}

/// MODULE: sledis loads no extensions. Its answers are Redis's with no
/// module loaded, under `enable-module-command` no (the default) and yes.
#[test]
fn module_answers_as_redis_with_no_module_loaded() {
    let lines = [
        "MODULE LIST",
        "MODULE HELP",
        "MODULE LOAD /nonexistent/path.so",
        "MODULE LOAD /nonexistent/path.so a b",
        "MODULE LOADEX /nonexistent/path.so",
        "MODULE UNLOAD nosuchmodule",
        "MODULE",
        "MODULE LIST extra",
        "MODULE UNLOAD",
        "MODULE NOSUCH",
    ];
    let record = |port: u16| -> Vec<(String, Reply)> {
        let mut c = Resp::connect(port);
        lines.iter().map(|l| (l.to_string(), c.qs(l))).collect()
    };
    for setting in ["no", "yes"] {
        let want = record(RealRedis::start(&["--enable-module-command", setting]).port);
        let n = Node::start(&[&format!("enable-module-command {setting}")]);
        let got = record(n.port);
        assert_eq!(got, want, "enable-module-command {setting}");
    }
}
