//! Introspection (src/command/introspect.rs, src/server/{cmdstats,slowlog,
//! pause,memory}.rs, src/latency.rs): INFO's fields against a real
//! redis-server's `INFO everything`, commandstats/errorstats/keyspace
//! counters, SLOWLOG entries, LATENCY and MEMORY replies, CLIENT REPLY and
//! CLIENT PAUSE. Deterministic replies are compared with Redis 7.0's own.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;
use support::*;

/// Redis 7.0 `INFO everything` fields sledis leaves out, each with why. A
/// field missing from sledis's INFO must be here, so none goes silently.
const LEFT_OUT: &[(&str, &str)] = &[
    ("gcc_version", "sledis is built by rustc, not gcc"),
    (
        "io_threads_active",
        "no I/O threads: connections run on the runtime",
    ),
    ("io_threaded_reads_processed", "no I/O threads"),
    ("io_threaded_writes_processed", "no I/O threads"),
    ("migrate_cached_sockets", "no MIGRATE"),
    (
        "slave_expires_tracked_keys",
        "writable replicas' own TTLs are not tracked apart",
    ),
    (
        "dump_payload_sanitizations",
        "no RESTORE payload sanitizing",
    ),
    (
        "reply_buffer_expands",
        "reply buffers are not resized like Redis's",
    ),
    (
        "reply_buffer_shrinks",
        "reply buffers are not resized like Redis's",
    ),
    (
        "evicted_clients",
        "clients are never evicted (maxmemory-clients is not enforced)",
    ),
    (
        "current_eviction_exceeded_time",
        "keys are never evicted (data is on disk)",
    ),
    ("total_eviction_exceeded_time", "keys are never evicted"),
    ("mem_not_counted_for_evict", "keys are never evicted"),
    (
        "expired_stale_perc",
        "the expiry cycle walks the expiry index, it does not sample",
    ),
    (
        "instantaneous_input_repl_kbps",
        "replication bytes are not counted apart",
    ),
    (
        "instantaneous_output_repl_kbps",
        "replication bytes are not counted apart",
    ),
    (
        "total_net_repl_input_bytes",
        "replication bytes are not counted apart",
    ),
    (
        "total_net_repl_output_bytes",
        "replication bytes are not counted apart",
    ),
    ("latest_fork_usec", "sledis never forks"),
    ("total_forks", "sledis never forks"),
    ("current_fork_perc", "sledis never forks"),
    ("current_cow_peak", "no fork, no copy-on-write"),
    ("current_cow_size", "no fork, no copy-on-write"),
    ("current_cow_size_age", "no fork, no copy-on-write"),
    ("rdb_last_cow_size", "no fork, no copy-on-write"),
    ("aof_last_cow_size", "no fork, no copy-on-write"),
    ("module_fork_in_progress", "no modules"),
    ("module_fork_last_cow_size", "no modules"),
    (
        "current_save_keys_processed",
        "snapshot progress is not counted in keys",
    ),
    (
        "current_save_keys_total",
        "snapshot progress is not counted in keys",
    ),
    (
        "rdb_current_bgsave_time_sec",
        "the running snapshot's start time is not kept",
    ),
    (
        "rdb_last_load_keys_expired",
        "sledis loads no RDB at startup (sled is the data)",
    ),
    (
        "rdb_last_load_keys_loaded",
        "sledis loads no RDB at startup",
    ),
    ("aof_rewrite_scheduled", "the WAL is never rewritten"),
    ("aof_rewrites", "the WAL is never rewritten"),
    (
        "aof_rewrites_consecutive_failures",
        "the WAL is never rewritten",
    ),
    ("aof_last_rewrite_time_sec", "the WAL is never rewritten"),
    ("aof_current_rewrite_time_sec", "the WAL is never rewritten"),
    ("aof_last_bgrewrite_status", "the WAL is never rewritten"),
    ("active_defrag_running", "no active defragmentation"),
    ("active_defrag_hits", "no active defragmentation"),
    ("active_defrag_misses", "no active defragmentation"),
    ("active_defrag_key_hits", "no active defragmentation"),
    ("active_defrag_key_misses", "no active defragmentation"),
    ("current_active_defrag_time", "no active defragmentation"),
    ("total_active_defrag_time", "no active defragmentation"),
    (
        "allocator_allocated",
        "jemalloc's figures; sledis uses mimalloc (MEMORY STATS)",
    ),
    ("allocator_active", "jemalloc's figures"),
    ("allocator_resident", "jemalloc's figures"),
    ("allocator_frag_bytes", "jemalloc's figures"),
    ("allocator_frag_ratio", "jemalloc's figures"),
    ("allocator_rss_bytes", "jemalloc's figures"),
    ("allocator_rss_ratio", "jemalloc's figures"),
    ("rss_overhead_bytes", "jemalloc's figures"),
    ("rss_overhead_ratio", "jemalloc's figures"),
    (
        "mem_fragmentation_bytes",
        "used_memory is the RSS here, so the ratio says nothing",
    ),
    ("mem_fragmentation_ratio", "used_memory is the RSS here"),
    ("used_memory_startup", "not measured"),
    (
        "used_memory_overhead",
        "Redis's split of its heap; sledis's shares are memory_budget/budget_*",
    ),
    ("used_memory_dataset_perc", "Redis's split of its heap"),
    ("mem_clients_normal", "client buffers are not summed"),
    ("mem_clients_slaves", "client buffers are not summed"),
    ("mem_cluster_links", "no cluster"),
    (
        "mem_replication_backlog",
        "the backlog is the WAL, on disk (INFO wal_disk_bytes)",
    ),
    (
        "mem_total_replication_buffers",
        "replicas read the WAL, no shared buffer",
    ),
    (
        "used_memory_lua",
        "one Lua VM per thread; their memory is not summed",
    ),
    ("used_memory_lua_human", "one Lua VM per thread"),
    ("used_memory_vm_eval", "one Lua VM per thread"),
    ("used_memory_vm_functions", "no FUNCTION"),
    ("used_memory_vm_total", "one Lua VM per thread"),
    ("used_memory_vm_total_human", "one Lua VM per thread"),
    ("used_memory_functions", "no FUNCTION"),
    (
        "used_memory_scripts",
        "only the cached bodies are counted (used_memory_scripts_eval)",
    ),
    (
        "used_memory_scripts_human",
        "only the cached bodies are counted",
    ),
    ("number_of_functions", "no FUNCTION"),
    ("number_of_libraries", "no FUNCTION"),
    ("pubsubshard_channels", "no sharded pub/sub"),
];

/// INFO's field names, families folded (cmdstat_*, errorstat_*, dbN,
/// latency_percentiles_usec_*).
fn field_names(info: &str) -> BTreeSet<String> {
    info.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once(':').map(|(k, _)| k.to_string()))
        .map(|k| {
            for fam in ["cmdstat_", "errorstat_", "latency_percentiles_usec_"] {
                if k.starts_with(fam) {
                    return format!("{fam}*");
                }
            }
            if k.len() > 2 && k.starts_with("db") && k[2..].bytes().all(|b| b.is_ascii_digit()) {
                return "dbN".into();
            }
            k
        })
        .collect()
}

fn info_everything(port: u16) -> String {
    let mut c = Resp::connect(port);
    assert_eq!(c.qs("SET k v"), ok());
    assert_eq!(c.qs("GET k"), bulk("v"));
    assert!(c.qs("NOSUCHCOMMAND").is_error());
    c.qs("INFO everything").text()
}

#[test]
fn info_has_every_redis_field() {
    let redis = {
        let r = RealRedis::start(&[]);
        field_names(&info_everything(r.port))
    };
    let n = Node::start(&[]);
    let ours = field_names(&info_everything(n.port));
    let left_out: BTreeSet<&str> = LEFT_OUT.iter().map(|x| x.0).collect();
    let missing: Vec<&String> = redis
        .iter()
        .filter(|f| !ours.contains(*f) && !left_out.contains(f.as_str()))
        .collect();
    assert!(missing.is_empty(), "INFO lacks Redis's fields {missing:?}");
    // The list stays true: what it names is Redis's, and not in ours.
    for (f, why) in LEFT_OUT {
        assert!(redis.contains(*f), "{f} ({why}) is not a Redis 7.0 field");
        assert!(
            !ours.contains(*f),
            "{f} is listed as left out but INFO has it"
        );
    }
    let mut c = Resp::connect(n.port);
    let sections: Vec<String> = c
        .qs("INFO")
        .text()
        .lines()
        .filter(|l| l.starts_with('#'))
        .map(String::from)
        .collect();
    // The default set: no commandstats, no latencystats.
    assert!(
        sections.contains(&"# Errorstats".to_string()),
        "{sections:?}"
    );
    assert!(
        !sections.contains(&"# Commandstats".to_string()),
        "{sections:?}"
    );
    assert!(c.qs("INFO all").text().contains("# Commandstats"));
}

/// `key:a=1,b=2` of an INFO line, as pairs.
fn info_line(info: &str, key: &str) -> Vec<(String, String)> {
    info_field(info, key)
        .unwrap_or_default()
        .split(',')
        .filter_map(|kv| {
            kv.split_once('=')
                .map(|(a, b)| (a.to_string(), b.to_string()))
        })
        .collect()
}

fn without_usec(v: Vec<(String, String)>) -> Vec<(String, String)> {
    v.into_iter()
        .filter(|(k, _)| !k.starts_with("usec"))
        .collect()
}

#[test]
fn command_error_and_keyspace_stats() {
    let seen = std::cell::RefCell::new(Vec::new());
    both(&[], |port, t| {
        let mut c = Resp::connect(port);
        assert_eq!(c.qs("CONFIG RESETSTAT"), ok());
        script(
            &mut c,
            t,
            &[
                ("SET a 1", ok()),
                ("GET a", bulk("1")),
                ("GET nokey", Reply::Nil),
                (
                    "MGET a nokey a",
                    arr(vec![bulk("1"), Reply::Nil, bulk("1")]),
                ),
                ("GET", arity("get")),
                ("EXISTS a nokey", int(1)),
                (
                    "LPUSH a x",
                    err("WRONGTYPE Operation against a key holding the wrong kind of value"),
                ),
                (
                    "CONFIG GET maxclients",
                    arr(vec![bulk("maxclients"), bulk("10000")]),
                ),
                (
                    "CONFIG FOO",
                    err("ERR unknown subcommand 'FOO'. Try CONFIG HELP."),
                ),
            ],
        );
        assert!(c.qs("NOSUCH").is_error());
        let all = c.qs("INFO all").text();
        let fields: Vec<(String, Vec<(String, String)>)> = [
            "cmdstat_get",
            "cmdstat_mget",
            "cmdstat_set",
            "cmdstat_lpush",
            "cmdstat_exists",
            "cmdstat_config|get",
            "errorstat_ERR",
            "errorstat_WRONGTYPE",
        ]
        .iter()
        .map(|k| (k.to_string(), without_usec(info_line(&all, k))))
        .collect();
        let plain: Vec<Option<String>> =
            ["keyspace_hits", "keyspace_misses", "total_error_replies"]
                .iter()
                .map(|k| info_field(&all, k))
                .collect();
        seen.borrow_mut().push((fields, plain));
        // RESETSTAT empties them.
        assert_eq!(c.qs("CONFIG RESETSTAT"), ok());
        let after = c.qs("INFO all").text();
        assert_eq!(
            info_field(&after, "keyspace_hits").as_deref(),
            Some("0"),
            "[{t:?}]"
        );
        assert_eq!(
            info_field(&after, "total_error_replies").as_deref(),
            Some("0")
        );
        assert!(
            info_field(&after, "cmdstat_get").is_none(),
            "[{t:?}] {after}"
        );
        assert!(info_field(&after, "errorstat_ERR").is_none(), "[{t:?}]");
    });
    let seen = seen.into_inner();
    assert_eq!(seen[0], seen[1], "Redis's counters, then sledis's");
    assert_eq!(seen[0].1[0].as_deref(), Some("4"), "keyspace_hits");
}

/// SLOWLOG GET's entries with what varies (id, time, duration, port)
/// replaced, so Redis's and sledis's can be compared.
fn normalized_slowlog(c: &mut Resp) -> Vec<Reply> {
    let r = c.qs("SLOWLOG GET -1");
    r.items()
        .iter()
        .map(|e| {
            let f = e.items();
            assert_eq!(f.len(), 6, "{e:?}");
            assert!(
                f[0].int() >= 0 && f[1].int() > 1_600_000_000 && f[2].int() >= 0,
                "{e:?}"
            );
            let addr = f[4].text();
            let addr = if addr.starts_with("127.0.0.1:") {
                bulk("127.0.0.1:*")
            } else {
                f[4].clone()
            };
            arr(vec![f[3].clone(), addr, f[5].clone()])
        })
        .collect()
}

#[test]
fn slowlog_like_redis() {
    let seen = std::cell::RefCell::new(Vec::new());
    both(&[], |port, t| {
        let mut c = Resp::connect(port);
        let long = "x".repeat(200);
        let many: Vec<String> = (0..40).map(|i| i.to_string()).collect();
        script(
            &mut c,
            t,
            &[
                ("CONFIG SET slowlog-log-slower-than 0", ok()),
                ("SLOWLOG RESET", ok()),
                ("CLIENT SETNAME tester", ok()),
            ],
        );
        assert_eq!(c.q(&["SET", "k", &long]), ok());
        let mut rpush = vec!["RPUSH", "list"];
        rpush.extend(many.iter().map(|s| s.as_str()));
        assert_eq!(c.q(&rpush), int(40));
        assert!(c.qs("AUTH secret").is_error());
        assert_eq!(c.qs("MULTI"), st("OK"));
        assert_eq!(c.qs("GET k"), st("QUEUED"));
        assert_eq!(c.qs("EXEC").items().len(), 1);
        // A script's commands are logged too, as from Redis's script client.
        assert_eq!(
            c.q(&["EVAL", "redis.call('set', 'x', '1') return 1", "0"]),
            int(1)
        );
        let entries = normalized_slowlog(&mut c);
        // Each command so far, newest first; SLOWLOG GET itself comes after.
        assert_eq!(c.qs("SLOWLOG LEN").int() as usize, entries.len() + 1);
        script(
            &mut c,
            t,
            &[
                ("CONFIG SET slowlog-max-len 2", ok()),
                ("SLOWLOG LEN", int(2)),
                ("CONFIG SET slowlog-log-slower-than -1", ok()),
                ("SLOWLOG RESET", ok()),
                ("GET k", Reply::Bulk(long.clone().into_bytes())),
                ("SLOWLOG LEN", int(0)),
                ("SLOWLOG GET", arr(vec![])),
                ("SLOWLOG GET 0", arr(vec![])),
                (
                    "SLOWLOG GET -2",
                    err("ERR count should be greater than or equal to -1"),
                ),
                (
                    "SLOWLOG GET abc",
                    err("ERR count should be greater than or equal to -1"),
                ),
                ("SLOWLOG LEN x", arity("slowlog|len")),
                (
                    "SLOWLOG FOO",
                    err("ERR unknown subcommand 'FOO'. Try SLOWLOG HELP."),
                ),
            ],
        );
        let help = c.qs("SLOWLOG HELP");
        seen.borrow_mut().push((entries, help));
        let _ = t;
    });
    let seen = seen.into_inner();
    assert_eq!(seen[0], seen[1], "Redis's slow log, then sledis's");
    // The truncations Redis makes, checked on its own entries.
    let entries = &seen[0].0;
    let set = entries
        .iter()
        .find(|e| e.items()[0].items().first() == Some(&bulk("SET")))
        .expect("SET entry");
    let arg = set.items()[0].items()[2].text();
    assert!(arg.ends_with("... (72 more bytes)"), "{arg}");
    assert_eq!(set.items()[2], bulk("tester"));
}

#[test]
fn help_and_errors_like_redis() {
    both(&[], |port, t| {
        let mut c = Resp::connect(port);
        assert_eq!(c.qs("SET str v"), ok());
        script(
            &mut c,
            t,
            &[
                ("CLIENT PAUSE abc", err("ERR timeout is not an integer or out of range")),
                ("CLIENT PAUSE -1", err("ERR timeout is negative")),
                ("CLIENT PAUSE 10 foo", err("ERR CLIENT PAUSE mode must be WRITE or ALL")),
                (
                    "CLIENT PAUSE 10 write extra",
                    err("ERR unknown subcommand or wrong number of arguments for 'PAUSE'. Try CLIENT HELP."),
                ),
                ("CLIENT UNPAUSE x", arity("client|unpause")),
                ("CLIENT REPLY", arity("client|reply")),
                ("CLIENT REPLY foo", err(SYNTAX)),
                ("CLIENT NO-EVICT maybe", err(SYNTAX)),
                ("CLIENT NO-EVICT on", ok()),
                ("CLIENT NO-EVICT off", ok()),
                ("LATENCY HISTORY", arity("latency|history")),
                ("LATENCY HISTORY command", arr(vec![])),
                ("LATENCY LATEST", arr(vec![])),
                ("LATENCY GRAPH command", err("ERR No samples available for event 'command'")),
                ("LATENCY RESET", int(0)),
                ("LATENCY FOO", err("ERR unknown subcommand 'FOO'. Try LATENCY HELP.")),
                ("MEMORY USAGE", arity("memory|usage")),
                ("MEMORY USAGE nokey", Reply::Nil),
                ("MEMORY USAGE str SAMPLES -1", err(SYNTAX)),
                ("MEMORY USAGE str SAMPLES x", err(NOT_INT)),
                ("MEMORY USAGE str foo", err(SYNTAX)),
                ("MEMORY PURGE", ok()),
                ("MEMORY FOO", err("ERR unknown subcommand 'FOO'. Try MEMORY HELP.")),
                ("OBJECT FREQ str", err("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.")),
            ],
        );
        // Redis's texts when there is nothing to report.
        let doctor = c.qs("LATENCY DOCTOR").text();
        assert!(
            doctor.starts_with("I'm sorry, Dave, I can't do that. Latency monitoring is disabled"),
            "[{t:?}] {doctor}"
        );
        let help = c.qs("MEMORY HELP");
        assert_eq!(
            help.items().first(),
            Some(&st(
                "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
            ))
        );
        assert!(c.qs("MEMORY USAGE str").int() > 0);
        assert!(
            matches!(c.qs("MEMORY MALLOC-STATS"), Reply::Bulk(_)),
            "[{t:?}]"
        );
        let stats = c.qs("MEMORY STATS");
        let names: Vec<String> = stats.items().iter().step_by(2).map(|r| r.text()).collect();
        for f in [
            "peak.allocated",
            "total.allocated",
            "keys.count",
            "dataset.bytes",
            "fragmentation",
        ] {
            assert!(
                names.iter().any(|n| n == f),
                "[{t:?}] MEMORY STATS lacks {f}: {names:?}"
            );
        }
    });
}

#[test]
fn help_texts_match_redis() {
    let texts = |port: u16| -> Vec<Reply> {
        let mut c = Resp::connect(port);
        ["SLOWLOG HELP", "MEMORY HELP", "LATENCY HELP"]
            .iter()
            .map(|h| c.qs(h))
            .collect()
    };
    let redis = {
        let r = RealRedis::start(&[]);
        texts(r.port)
    };
    let n = Node::start(&[]);
    let ours = texts(n.port);
    assert_eq!(ours[0], redis[0], "SLOWLOG HELP");
    assert_eq!(ours[1], redis[1], "MEMORY HELP");
    assert_eq!(ours[2], redis[2], "LATENCY HELP");
}

#[test]
fn client_reply_like_redis() {
    let seen = std::cell::RefCell::new(Vec::new());
    both(&[], |port, _t| {
        let mut req = Vec::new();
        for cmd in [
            &["CLIENT", "REPLY", "OFF"][..],
            &["SET", "a", "1"],
            &["GET", "a"],
            &["CLIENT", "REPLY", "SKIP"],
            &["NOSUCH"],
            &["CLIENT", "REPLY", "ON"],
            &["GET", "a"],
            &["CLIENT", "REPLY", "SKIP"],
            &["GET", "a"],
            &["INCR", "a"],
            &["QUIT"],
        ] {
            req.extend(Resp::encode(cmd));
        }
        seen.borrow_mut()
            .push(raw_exchange(port, &req, Duration::from_secs(10)));
    });
    let seen = seen.into_inner();
    assert_eq!(
        String::from_utf8_lossy(&seen[0]),
        "+OK\r\n$1\r\n1\r\n:2\r\n+OK\r\n",
        "Redis's replies"
    );
    assert_eq!(seen[0], seen[1]);
}

fn blocked_clients(c: &mut Resp) -> String {
    info_field(&c.qs("INFO clients").text(), "blocked_clients").unwrap_or_default()
}

#[test]
fn client_pause_holds_writes_until_unpause() {
    both(&[], |port, t| {
        let mut admin = Resp::connect(port);
        let mut writer = Resp::connect(port);
        let mut reader = Resp::connect(port);
        writer.set_timeout(Duration::from_secs(30));
        assert_eq!(admin.qs("CLIENT PAUSE 100000 WRITE"), ok());
        writer.send(&["SET", "pk", "v"]);
        assert!(
            wait_until(Duration::from_secs(10), || blocked_clients(&mut reader)
                == "1"),
            "[{t:?}] the write is not held"
        );
        // Reads go on; the write has not run.
        assert_eq!(reader.qs("GET pk"), Reply::Nil, "[{t:?}]");
        let list = reader.qs("CLIENT LIST").text();
        assert!(
            list.lines()
                .any(|l| l.contains(" flags=b ") && l.contains(" cmd=set ")),
            "[{t:?}] {list}"
        );
        assert_eq!(reader.qs("PING"), st("PONG"));
        assert_eq!(admin.qs("CLIENT UNPAUSE"), ok());
        assert_eq!(writer.read(), ok(), "[{t:?}]");
        assert_eq!(reader.qs("GET pk"), bulk("v"));
        assert_eq!(blocked_clients(&mut reader), "0");
        // ALL holds reads too, until the pause times out.
        assert_eq!(admin.qs("CLIENT PAUSE 300 ALL"), ok());
        reader.set_timeout(Duration::from_secs(30));
        assert_eq!(reader.qs("GET pk"), bulk("v"), "[{t:?}]");
        // A queued EXEC with a write waits under WRITE; one without does not.
        assert_eq!(writer.qs("MULTI"), ok());
        assert_eq!(writer.qs("GET pk"), st("QUEUED"));
        assert_eq!(admin.qs("CLIENT PAUSE 100000 WRITE"), ok());
        assert_eq!(writer.qs("EXEC"), arr(vec![bulk("v")]), "[{t:?}]");
        assert_eq!(admin.qs("CLIENT UNPAUSE"), ok());
    });
}

#[test]
fn latency_monitor_records_slow_commands() {
    let busy = "local i = 0 while i < 5000000 do i = i + 1 end return i";
    both(&[], |port, t| {
        let mut c = Resp::connect(port);
        c.set_timeout(Duration::from_secs(60));
        assert_eq!(c.qs("CONFIG SET latency-monitor-threshold 1"), ok());
        assert_eq!(c.qs("LATENCY RESET"), int(0));
        let doctor = c.qs("LATENCY DOCTOR").text();
        assert!(
            doctor.starts_with("Dave, no latency spike was observed"),
            "[{t:?}] {doctor}"
        );
        assert_eq!(c.q(&["EVAL", busy, "0"]), int(5_000_000));
        let latest = c.qs("LATENCY LATEST");
        let cmd = latest
            .items()
            .iter()
            .find(|e| e.items()[0] == bulk("command"))
            .unwrap_or_else(|| panic!("[{t:?}] no command event: {latest:?}"));
        let f = cmd.items();
        assert_eq!(f.len(), 4, "[{t:?}] {cmd:?}");
        assert!(
            f[2].int() >= 1 && f[3].int() >= f[2].int(),
            "[{t:?}] {cmd:?}"
        );
        let history = c.qs("LATENCY HISTORY command");
        assert!(!history.items().is_empty(), "[{t:?}]");
        assert_eq!(history.items()[0].items().len(), 2);
        let graph = c.qs("LATENCY GRAPH command").text();
        assert!(graph.starts_with("command - high "), "[{t:?}] {graph}");
        let doctor = c.qs("LATENCY DOCTOR").text();
        assert!(
            doctor.starts_with("Dave, I have observed latency spikes in this Redis instance.")
                && doctor.contains("1. command: "),
            "[{t:?}] {doctor}"
        );
        assert_eq!(c.qs("LATENCY RESET command nosuch"), int(1));
        assert_eq!(c.qs("LATENCY HISTORY command"), arr(vec![]));
    });
}

#[test]
fn client_no_touch_and_no_evict_flags() {
    // CLIENT NO-TOUCH is Redis 7.2's (Debian's 7.0 lacks it): sledis only.
    let n = Node::start(&[]);
    let mut c = Resp::connect(n.port);
    assert_eq!(c.qs("CLIENT NO-TOUCH on"), ok());
    assert_eq!(c.qs("CLIENT NO-EVICT on"), ok());
    let info = c.qs("CLIENT INFO").text();
    assert!(info.contains(" flags=eT "), "{info}");
    assert_eq!(c.qs("CLIENT NO-TOUCH off"), ok());
    assert_eq!(c.qs("CLIENT NO-EVICT off"), ok());
    let info = c.qs("CLIENT INFO").text();
    assert!(info.contains(" flags=N "), "{info}");
    assert_eq!(c.qs("CLIENT NO-TOUCH maybe"), err(SYNTAX));
}

#[test]
fn settings_from_the_config_file() {
    let n = Node::start(&[
        "slowlog-log-slower-than 0",
        "slowlog-max-len 3",
        "latency-monitor-threshold 7",
    ]);
    let mut c = Resp::connect(n.port);
    assert_eq!(
        c.qs("CONFIG GET slowlog-*"),
        arr(vec![
            bulk("slowlog-log-slower-than"),
            bulk("0"),
            bulk("slowlog-max-len"),
            bulk("3"),
        ])
    );
    assert_eq!(
        c.qs("CONFIG GET latency-monitor-threshold"),
        arr(vec![bulk("latency-monitor-threshold"), bulk("7")])
    );
    for i in 0..5 {
        assert_eq!(c.q(&["SET", &format!("k{i}"), "v"]), ok());
    }
    // Every command logged, the log kept at 3.
    assert_eq!(c.qs("SLOWLOG LEN"), int(3));
    let doctor = c.qs("LATENCY DOCTOR").text();
    assert!(doctor.starts_with("Dave, no latency spike"), "{doctor}");
    // DEBUG SLEEP's sleep is its run time, as in Redis.
    assert_eq!(c.qs("DEBUG SLEEP 0.05"), ok());
    let e = c.qs("SLOWLOG GET 1");
    let e = e.items()[0].items();
    assert_eq!(e[3], bulks(&["DEBUG", "SLEEP", "0.05"]));
    assert!(e[2].int() >= 50_000, "{e:?}");
    let latest = c.qs("LATENCY LATEST");
    assert_eq!(latest.items()[0].items()[0], bulk("command"), "{latest:?}");
    assert!(latest.items()[0].items()[2].int() >= 50, "{latest:?}");
}

#[test]
fn memory_usage_estimates_sled_bytes() {
    let n = Node::start(&[]);
    let mut c = Resp::connect(n.port);
    let big = "v".repeat(1000);
    assert_eq!(c.q(&["SET", "s", &big]), ok());
    let s = c.qs("MEMORY USAGE s").int();
    assert!((1000..1200).contains(&s), "{s}");
    for i in 0..200 {
        let f = format!("field{i:03}");
        assert_eq!(c.q(&["HSET", "h", &f, &"x".repeat(100)]), int(1));
    }
    let all = c.qs("MEMORY USAGE h SAMPLES 0").int();
    let sampled = c.qs("MEMORY USAGE h").int();
    // 200 fields of ~108 bytes plus their keys.
    assert!(all > 200 * 108, "{all}");
    assert!(
        (sampled - all).abs() * 10 < all,
        "sampled {sampled}, all {all}"
    );
    let stats = c.qs("MEMORY STATS");
    let keys = stats
        .items()
        .chunks(2)
        .find(|kv| kv[0] == bulk("keys.count"))
        .map(|kv| kv[1].int());
    assert_eq!(keys, Some(2));
}

#[test]
fn client_reply_off_still_delivers_messages() {
    let seen = std::cell::RefCell::new(Vec::new());
    both(&[], |port, t| {
        let mut sub = Resp::connect(port);
        let mut publisher = Resp::connect(port);
        // RESP3: a subscribed RESP2 client may not run CLIENT.
        assert!(!sub.qs("HELLO 3").is_error());
        assert_eq!(sub.qs("SUBSCRIBE ch").items().len(), 3);
        sub.send(&["CLIENT", "REPLY", "OFF"]);
        sub.send(&["PING"]);
        // Once the OFF ran (it answers nothing)...
        assert!(
            wait_until(Duration::from_secs(10), || {
                let l = publisher.qs("CLIENT LIST").text();
                l.lines().any(|l| l.contains("cmd=ping"))
            }),
            "[{t:?}]"
        );
        // ... replies are dropped, messages still come (Redis's pushes
        // bypass CLIENT REPLY).
        assert_eq!(publisher.qs("PUBLISH ch m1"), int(1));
        let m1 = sub.read();
        sub.send(&["CLIENT", "REPLY", "ON"]);
        assert_eq!(sub.read(), ok(), "[{t:?}]");
        seen.borrow_mut().push(m1);
    });
    let seen = seen.into_inner();
    assert_eq!(
        seen[0].items(),
        bulks(&["message", "ch", "m1"]).items(),
        "{:?}",
        seen[0]
    );
    assert_eq!(seen[0], seen[1]);
}

/// Makes `key` a string idle for 1000 s (DUMP, then RESTORE ... IDLETIME).
fn idle_key(c: &mut Resp, key: &str) {
    c.q(&["DEL", key]);
    assert_eq!(c.q(&["SET", key, "v"]), ok());
    let Reply::Bulk(payload) = c.q(&["DUMP", key]) else {
        panic!("DUMP");
    };
    let restored = c.q(&[
        b"RESTORE".as_slice(),
        key.as_bytes(),
        b"0",
        &payload,
        b"REPLACE",
        b"IDLETIME",
        b"1000",
    ]);
    assert_eq!(restored, ok());
}

/// Which commands count as an access to their key (OBJECT IDLETIME back to
/// about 0) and which leave it alone, as Redis 7.0 decides (its
/// `LOOKUP_NOTOUCH` lookups), found by running each on both servers.
#[test]
fn object_idletime_like_redis() {
    let lines: &[&str] = &[
        "GET k",
        "STRLEN k",
        "GETRANGE k 0 1",
        "MGET x k",
        "SET k v2",
        "APPEND k x",
        "EXPIRE k 100",
        "PERSIST k",
        "TOUCH k",
        "DUMP k",
        "GETEX k",
        "LPUSH k x",
        "SORT k",
        "COPY k k2",
        "TYPE k",
        "TTL k",
        "PTTL k",
        "EXPIRETIME k",
        "PEXPIRETIME k",
        "EXISTS k",
        "OBJECT ENCODING k",
        "OBJECT REFCOUNT k",
        "OBJECT IDLETIME k",
        "MEMORY USAGE k",
        "WATCH k",
        "SCAN 0",
        "KEYS *",
        "RANDOMKEY",
        "DEL k2",
    ];
    let results = std::sync::Mutex::new(Vec::new());
    both(&[], |port, t| {
        let mut c = Resp::connect(port);
        let mut seen = Vec::new();
        for line in lines {
            idle_key(&mut c, "k");
            let before = c.qs("OBJECT IDLETIME k");
            in_range(&before, 1000, 1010, &format!("[{t:?}] restored idle"));
            c.qs(line);
            c.qs("UNWATCH");
            let idle = c.qs("OBJECT IDLETIME k").int();
            seen.push((line.to_string(), idle < 1000));
        }
        // Scripts touch the keys their calls read, not those they are given.
        for (line, script) in [
            ("EVAL return 1", "return 1"),
            ("EVAL get", "return redis.call('get', KEYS[1])"),
        ] {
            idle_key(&mut c, "k");
            c.q(&["EVAL", script, "1", "k"]);
            let idle = c.qs("OBJECT IDLETIME k").int();
            seen.push((line.to_string(), idle < 1000));
        }
        // A transaction's commands touch when EXEC runs them.
        idle_key(&mut c, "k");
        c.qs("MULTI");
        c.qs("GET k");
        let queued = c.qs("OBJECT IDLETIME k");
        c.qs("EXEC");
        seen.push(("MULTI GET".into(), queued.is_error()));
        seen.push(("EXEC GET".into(), c.qs("OBJECT IDLETIME k").int() < 1000));
        script(
            &mut c,
            t,
            &[
                ("OBJECT IDLETIME nokey", Reply::Nil),
                ("OBJECT IDLETIME", arity("object|idletime")),
                ("OBJECT IDLETIME a b", arity("object|idletime")),
                (
                    "RESTORE k2 0 x IDLETIME -1",
                    err("ERR Invalid IDLETIME value, must be >= 0"),
                ),
            ],
        );
        results.lock().unwrap().push(seen);
    });
    let r = results.into_inner().unwrap();
    assert_eq!(r[1], r[0], "touched per command: sledis vs Redis");
    // The list checks something: both kinds are in it.
    assert!(r[0].iter().any(|(_, t)| *t) && r[0].iter().any(|(_, t)| !*t));
}

/// OBJECT HELP as Redis 7.0 writes it.
#[test]
fn object_help_matches_redis() {
    let redis = {
        let r = RealRedis::start(&[]);
        Resp::connect(r.port).qs("OBJECT HELP")
    };
    let n = Node::start(&[]);
    assert_eq!(Resp::connect(n.port).qs("OBJECT HELP"), redis);
}

/// Redis 7.2's CLIENT NO-TOUCH (Debian's 7.0 lacks it): reads by such a
/// client leave access times alone, except TOUCH; its writes touch.
#[test]
fn no_touch_clients_and_idle_keys() {
    let n = Node::start(&[]);
    let mut c = Resp::connect(n.port);
    idle_key(&mut c, "k");
    assert_eq!(c.qs("CLIENT NO-TOUCH on"), ok());
    c.qs("GET k");
    in_range(&c.qs("OBJECT IDLETIME k"), 1000, 1010, "GET under NO-TOUCH");
    c.qs("TOUCH k");
    in_range(&c.qs("OBJECT IDLETIME k"), 0, 5, "TOUCH under NO-TOUCH");
    idle_key(&mut c, "k");
    assert_eq!(c.qs("CLIENT NO-TOUCH off"), ok());
    c.qs("GET k");
    in_range(&c.qs("OBJECT IDLETIME k"), 0, 5, "GET");
    // Its writes do: the values they make are new.
    idle_key(&mut c, "k");
    let mut other = Resp::connect(n.port);
    assert_eq!(other.qs("CLIENT NO-TOUCH on"), ok());
    assert_eq!(other.qs("SET k v2"), ok());
    in_range(&c.qs("OBJECT IDLETIME k"), 0, 5, "SET under NO-TOUCH");
}

/// COMMAND GETKEYSANDFLAGS, key by key, as Redis 7.0 answers it.
#[test]
fn command_getkeysandflags_like_redis() {
    let lines: &[&str] = &[
        "GET a",
        "SET k v",
        "SET k v get",
        "SET k v EX 10 GET",
        "MSET a 1 b 2",
        "MSETNX a 1 b 2",
        "GETDEL k",
        "GETEX k",
        "APPEND x y",
        "SETRANGE x 0 y",
        "INCR x",
        "LMOVE a b left right",
        "BLMOVE a b left left 0",
        "RPOPLPUSH a b",
        "BRPOPLPUSH a b 0",
        "LINSERT a before p v",
        "LMPOP 2 a b left",
        "BLMPOP 0 2 a b left",
        "BLPOP a b 0",
        "SMOVE a b m",
        "SINTERSTORE d a b",
        "SDIFFSTORE d a",
        "SINTERCARD 2 a b",
        "SINTERCARD 0 a",
        "ZADD k 1 a",
        "ZUNIONSTORE d 2 a b",
        "ZUNIONSTORE d x a b",
        "ZUNIONSTORE d 5 a b",
        "ZDIFFSTORE d 2 a b",
        "ZRANGESTORE d s 0 1",
        "ZINTER 2 a b",
        "ZMPOP 1 a min",
        "BZPOPMIN a b 0",
        "SORT k",
        "SORT k STORE d BY w GET g",
        "SORT k LIMIT 0 1 STORE d STORE e",
        "SORT_RO k BY x",
        "BITOP AND d a b",
        "BITOP NOT d a",
        "BITFIELD k GET u8 0",
        "BITFIELD k SET u8 0 1",
        "BITFIELD k OVERFLOW SAT GET u8 0",
        "BITFIELD_RO k GET u8 0",
        "PFCOUNT a b",
        "PFMERGE d a b",
        "COPY a b",
        "COPY a b DB 1",
        "RENAME a b",
        "RENAMENX a b",
        "RESTORE k 0 x",
        "DEL a b",
        "UNLINK a",
        "EXISTS a b",
        "TOUCH a",
        "TYPE a",
        "EXPIRE x 1",
        "MOVE x 1",
        "DUMP x",
        "HSET h f v",
        "LCS a b",
        "WATCH a b",
        "OBJECT ENCODING k",
        "MEMORY USAGE k",
        "EVAL x 0",
        "EVAL x 2 a b",
        "EVAL x 5 a",
        "EVAL_RO x 1 a",
        "EVALSHA x 1 a",
        "FCALL f 1 a",
        "FCALL_RO f 2 a b",
        "SPUBLISH c m",
        "SSUBSCRIBE a b",
        "PING",
        "GET",
        "GET a b",
        "NOSUCH a",
    ];
    let results = std::sync::Mutex::new(Vec::new());
    both(&[], |port, _| {
        let mut c = Resp::connect(port);
        let got: Vec<Reply> = lines
            .iter()
            .map(|l| c.qs(&format!("COMMAND GETKEYSANDFLAGS {l}")))
            .collect();
        results.lock().unwrap().push(got);
    });
    let r = results.into_inner().unwrap();
    for (i, l) in lines.iter().enumerate() {
        assert_eq!(r[1][i], r[0][i], "COMMAND GETKEYSANDFLAGS {l}");
    }
    assert_eq!(
        r[0][1],
        arr(vec![arr(vec![
            bulk("k"),
            arr(vec![st("OW"), st("update")])
        ])])
    );
}

/// COMMAND INFO's key specs are Redis 7.0's, for every command both have.
#[test]
fn command_info_key_specs_like_redis() {
    let specs = |port: u16| -> std::collections::BTreeMap<String, Reply> {
        let mut c = Resp::connect(port);
        c.qs("COMMAND")
            .items()
            .iter()
            .map(|e| (e.items()[0].text(), e.items()[8].clone()))
            .collect()
    };
    let redis = {
        let r = RealRedis::start(&[]);
        specs(r.port)
    };
    let n = Node::start(&[]);
    let ours = specs(n.port);
    let mut compared = 0;
    for (name, spec) in &ours {
        if let Some(want) = redis.get(name) {
            assert_eq!(spec, want, "COMMAND INFO {name}: key specs");
            compared += 1;
        }
    }
    assert!(compared > 200, "{compared}");
}

/// The `histogram_usec` keys Redis's hdr_histogram walk can give: 1024 ns
/// times powers of two, each as its bucket's highest value in µs.
const LEVELS_USEC: &[i64] = &[
    1, 2, 4, 8, 16, 33, 66, 132, 264, 528, 1056, 2113, 4227, 8454, 16908, 33816, 67633, 135266,
    270532, 541065, 1082130,
];

/// One command's histogram: name, calls, [(µs, cumulative calls)].
type Histogram = (String, i64, Vec<(i64, i64)>);

/// LATENCY HISTOGRAM's entries, checked to have Redis's shape.
fn histograms(c: &mut Resp, line: &str) -> Vec<Histogram> {
    let r = c.qs(line);
    let items = r.items();
    let mut out = Vec::new();
    for pair in items.chunks(2) {
        let m = pair[1].items();
        assert_eq!(m[0], bulk("calls"), "{line}: {r:?}");
        assert_eq!(m[2], bulk("histogram_usec"), "{line}: {r:?}");
        let cdf: Vec<(i64, i64)> = m[3]
            .items()
            .chunks(2)
            .map(|p| (p[0].int(), p[1].int()))
            .collect();
        let calls = m[1].int();
        assert!(
            cdf.iter().all(|(us, _)| LEVELS_USEC.contains(us)),
            "{line}: {cdf:?}"
        );
        assert!(
            cdf.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 < w[1].1),
            "{cdf:?}"
        );
        assert_eq!(cdf.last().map(|x| x.1), Some(calls), "{line}: {cdf:?}");
        out.push((pair[0].text(), calls, cdf));
    }
    out
}

/// One `latency_percentiles_usec_<cmd>` line's values, checked to be
/// hdr_histogram values (bucket ends: 2 significant figures of ns).
fn percentiles_line(info: &str, cmd: &str) -> Vec<(String, f64)> {
    let line = info_field(info, &format!("latency_percentiles_usec_{cmd}")).unwrap_or_default();
    line.split(',')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap();
            let (int, frac) = v.split_once('.').unwrap();
            assert_eq!(frac.len(), 3, "{line}");
            (
                k.to_string(),
                v.parse::<f64>().unwrap() + 0.0 * int.len() as f64,
            )
        })
        .collect()
}

#[test]
fn latency_histogram_like_redis() {
    let results = std::sync::Mutex::new(Vec::new());
    both(&[], |port, t| {
        let mut c = Resp::connect(port);
        assert_eq!(c.qs("CONFIG RESETSTAT"), ok());
        // RESETSTAT drops every histogram, then its own call is recorded.
        let after: Vec<String> = histograms(&mut c, "LATENCY HISTOGRAM")
            .into_iter()
            .map(|(n, _, _)| n)
            .collect();
        assert_eq!(after, ["config|resetstat"], "[{t:?}] after RESETSTAT");
        for _ in 0..3 {
            assert_eq!(c.qs("SET a 1"), ok());
        }
        c.qs("GET a");
        c.qs("GET a");
        c.qs("CONFIG GET maxmemory");
        let mut seen = Vec::new();
        for line in [
            "LATENCY HISTOGRAM set get nosuch",
            "LATENCY HISTOGRAM config",
            "LATENCY HISTOGRAM CONFIG|GET",
            "LATENCY HISTOGRAM ping",
        ] {
            let mut h: Vec<(String, i64)> = histograms(&mut c, line)
                .into_iter()
                .map(|(n, calls, _)| (n, calls))
                .collect();
            // A container's subcommands come in Redis's hash order.
            if line.ends_with("config") {
                h.sort();
            }
            seen.push(format!("{line}: {h:?}"));
        }
        // Every command so far, each once: the order is Redis's hash order.
        let mut all: Vec<String> = histograms(&mut c, "LATENCY HISTOGRAM")
            .into_iter()
            .map(|(n, _, _)| n)
            .collect();
        all.sort();
        seen.push(format!("all: {all:?}"));
        for (line, want) in [
            ("CONFIG SET latency-tracking-info-percentiles 101", None),
            ("CONFIG SET latency-tracking-info-percentiles x", None),
            (
                "CONFIG SET latency-tracking-info-percentiles 99.90",
                Some(ok()),
            ),
        ] {
            let got = c.qs(line);
            if let Some(w) = want {
                assert_eq!(got, w, "[{t:?}] {line}");
            }
            seen.push(format!("{line}: {got:?}"));
        }
        c.q(&[
            "CONFIG",
            "SET",
            "latency-tracking-info-percentiles",
            "99.90 0 100",
        ]);
        seen.push(format!(
            "{:?}",
            c.qs("CONFIG GET latency-tracking-info-percentiles")
        ));
        let info = c.qs("INFO latencystats").text();
        let p = percentiles_line(&info, "set");
        let names: Vec<&str> = p.iter().map(|x| x.0.as_str()).collect();
        seen.push(format!("percentiles: {names:?}"));
        assert!(p[1].1 <= p[0].1 && p[0].1 == p[2].1, "[{t:?}] {info}");
        // Each value is a bucket's end (p0: its start) of Redis's histogram.
        let ns = (p[2].1 * 1000.0).round() as u64 + 1;
        let shift = (64 - ns.leading_zeros()).saturating_sub(8);
        assert_eq!(ns % (1 << shift), 0, "[{t:?}] {info}");
        c.q(&["CONFIG", "SET", "latency-tracking-info-percentiles", ""]);
        let info = c.qs("INFO latencystats").text();
        seen.push(format!(
            "empty: {:?}",
            info_field(&info, "latency_percentiles_usec_set")
        ));
        // Off: no new samples, no INFO lines.
        assert_eq!(c.qs("CONFIG SET latency-tracking no"), ok());
        c.qs("GET a");
        let h = histograms(&mut c, "LATENCY HISTOGRAM get");
        seen.push(format!("off: {} calls", h[0].1));
        let info = c.qs("INFO latencystats").text();
        seen.push(format!("off: {:?}", info.lines().collect::<Vec<_>>()));
        assert_eq!(c.qs("CONFIG SET latency-tracking yes"), ok());
        assert_eq!(
            c.qs("CONFIG SET latency-tracking-info-percentiles 50"),
            ok()
        );
        results.lock().unwrap().push(seen);
    });
    let r = results.into_inner().unwrap();
    assert_eq!(r[1], r[0], "sledis vs Redis");
}

/// LOLWUT byte for byte where Redis draws without randomness (version 5's
/// first two rows of squares, version 6 one row high, the version line),
/// and the same shape where it draws at random.
#[test]
fn lolwut_like_redis() {
    let exact: &[&str] = &[
        "LOLWUT",
        "LOLWUT VERSION 5 66 8 2",
        "LOLWUT VERSION 5 10 3 2",
        "LOLWUT VERSION 5 1 1 1",
        "LOLWUT VERSION 5 1000 7 2",
        "LOLWUT VERSION 5 3 200 1",
        "LOLWUT VERSION 5 66 8 2 extra",
        "LOLWUT VERSION 6 10 1",
        "LOLWUT VERSION 6 1000 1",
        "LOLWUT VERSION 6 x",
        "LOLWUT VERSION 5 5 x",
        "LOLWUT VERSION 4",
        "LOLWUT VERSION 7",
        "LOLWUT VERSION -1",
        "LOLWUT VERSION 4294967301 40 2 2",
        "LOLWUT VERSION x",
        "LOLWUT foo",
        "LOLWUT VERSION",
    ];
    let shaped: &[&str] = &[
        "LOLWUT VERSION 5",
        "LOLWUT VERSION 6",
        "LOLWUT VERSION 6 30 9",
    ];
    let results = std::sync::Mutex::new(Vec::new());
    both(&[], |port, _| {
        let mut c = Resp::connect(port);
        let mut got: Vec<Reply> = exact.iter().map(|l| c.qs(l)).collect();
        for l in shaped {
            let text = c.qs(l).text();
            let lines: Vec<&str> = text.split('\n').collect();
            // Pixels per line: colored spaces (version 6) or characters.
            let widths: Vec<usize> = lines
                .iter()
                .map(|l| match l.matches("\x1b[0m").count() {
                    0 => l.chars().count(),
                    n => n,
                })
                .collect();
            got.push(Reply::Status(format!(
                "{widths:?} {}",
                lines[lines.len() - 2]
            )));
        }
        results.lock().unwrap().push(got);
    });
    let r = results.into_inner().unwrap();
    for (i, l) in exact.iter().chain(shaped).enumerate() {
        assert_eq!(r[1][i], r[0][i], "{l}");
    }
    assert_eq!(r[0][0], bulk("Redis ver. 7.0.15\n"));
}

/// A replica's access times: keys from the full sync read as untouched
/// since the replica started, its clients' reads touch them, and so do its
/// master's writes (a Redis replica runs them as commands).
#[test]
fn replica_access_times() {
    let m = Node::start(&[]);
    let mut mc = Resp::connect(m.port);
    assert_eq!(mc.qs("SET a 1"), ok());
    assert_eq!(mc.qs("SET b 1"), ok());
    let r = Node::start(&[&format!("replicaof 127.0.0.1 {}", m.port)]);
    replication::wait_synced(&r, &m);
    let mut rc = Resp::connect(r.port);
    // At least 2 s pass on the replica's clock.
    assert_eq!(rc.qs("DEBUG SLEEP 2.1"), ok());
    in_range(&rc.qs("OBJECT IDLETIME a"), 2, 60, "a, from the full sync");
    in_range(&rc.qs("OBJECT IDLETIME b"), 2, 60, "b, from the full sync");
    assert_eq!(rc.qs("GET a"), bulk("1"));
    in_range(&rc.qs("OBJECT IDLETIME a"), 0, 1, "a, read on the replica");
    assert_eq!(mc.qs("SET b 2"), ok());
    assert!(
        wait_until(Duration::from_secs(20), || rc.qs("OBJECT IDLETIME b").int()
            <= 1),
        "b written by the master reads as accessed on the replica"
    );
    assert_eq!(rc.qs("GET b"), bulk("2"));
}
