//! Transactions (src/command/multi.rs): MULTI/EXEC/DISCARD, EXEC seeing
//! its own writes, WATCH (also across FLUSHDB). Checked against a real
//! redis-server first, then a sledis node (`support::compare`).

mod support;

use std::time::Duration;
use support::*;

#[test]
fn multi_exec_discard() {
    both(&[], |port, t| {
        let mut c = Resp::connect(port);
        script(
            &mut c,
            t,
            &[
                ("EXEC", err("ERR EXEC without MULTI")),
                ("DISCARD", err("ERR DISCARD without MULTI")),
                ("MULTI", ok()),
                ("MULTI", err("ERR MULTI calls can not be nested")),
                ("SET a 1", st("QUEUED")),
                ("INCR a", st("QUEUED")),
                ("GET a", st("QUEUED")),
                ("EXEC", arr(vec![ok(), int(2), bulk("2")])),
                ("MULTI", ok()),
                ("EXEC", arr(vec![])),
                // An error inside EXEC does not stop the others.
                ("SET s abc", ok()),
                ("MULTI", ok()),
                ("INCR s", st("QUEUED")),
                ("SET b 2", st("QUEUED")),
                ("INCRBY b x", st("QUEUED")),
                ("GET b", st("QUEUED")),
                ("EXEC", arr(vec![err(NOT_INT), ok(), err(NOT_INT), bulk("2")])),
                // DISCARD drops the queue.
                ("MULTI", ok()),
                ("SET a discarded", st("QUEUED")),
                ("DISCARD", ok()),
                ("GET a", bulk("2")),
                // Errors while queueing abort the transaction.
                ("MULTI", ok()),
                ("SET a x", st("QUEUED")),
                ("FOO bar", err("ERR unknown command 'FOO', with args beginning with: 'bar' ")),
                ("EXEC", err("EXECABORT Transaction discarded because of previous errors.")),
                ("GET a", bulk("2")),
                ("MULTI", ok()),
                ("SET a", arity("set")),
                ("GET a", st("QUEUED")),
                ("EXEC", err("EXECABORT Transaction discarded because of previous errors.")),
                ("MULTI", ok()),
                ("CLIENT FOO", err("ERR unknown subcommand 'FOO'. Try CLIENT HELP.")),
                ("EXEC", err("EXECABORT Transaction discarded because of previous errors.")),
                ("MULTI", ok()),
                ("CLIENT KILL", arity("client|kill")),
                ("EXEC", err("EXECABORT Transaction discarded because of previous errors.")),
                // A refused EXEC aborts at once.
                ("MULTI", ok()),
                ("SET a y", st("QUEUED")),
                ("EXEC x", err("EXECABORT Transaction discarded because of: wrong number of arguments for 'exec' command")),
                ("EXEC", err("ERR EXEC without MULTI")),
                ("GET a", bulk("2")),
                ("EXEC x", err("EXECABORT Transaction discarded because of: wrong number of arguments for 'exec' command")),
                // Errors of the commands MULTI runs itself do not abort.
                ("MULTI", ok()),
                ("MULTI", err("ERR MULTI calls can not be nested")),
                ("WATCH a", err("ERR WATCH inside MULTI is not allowed")),
                ("SET a 3", st("QUEUED")),
                ("EXEC", arr(vec![ok()])),
                ("GET a", bulk("3")),
                // Only MULTI, EXEC, DISCARD, WATCH, QUIT and RESET skip the queue.
                ("MULTI", ok()),
                ("HELLO 2", st("QUEUED")),
                ("AUTH x", st("QUEUED")),
                ("UNWATCH", st("QUEUED")),
                ("CLIENT SETNAME tx", st("QUEUED")),
                ("SAVE", err("ERR Command not allowed inside a transaction")),
                ("EXEC", err("EXECABORT Transaction discarded because of previous errors.")),
                ("MULTI", ok()),
                ("SHUTDOWN", err("ERR Command not allowed inside a transaction")),
                ("DISCARD", ok()),
                ("MULTI", ok()),
                ("AUTH x", st("QUEUED")),
                ("UNWATCH", st("QUEUED")),
                ("CLIENT SETNAME tx", st("QUEUED")),
                ("CLIENT GETNAME", st("QUEUED")),
                (
                    "EXEC",
                    arr(vec![
                        err("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?"),
                        ok(),
                        ok(),
                        bulk("tx"),
                    ]),
                ),
                // INFO keyspace inside EXEC sees the transaction.
                ("SELECT 4", ok()),
                ("SET infokey v", ok()),
                ("MULTI", ok()),
                ("SET other v PX 100000000", st("QUEUED")),
                ("INFO keyspace", st("QUEUED")),
                ("FLUSHALL", st("QUEUED")),
                ("INFO keyspace", st("QUEUED")),
                ("EXEC", arr(vec![ok(), bulk("# Keyspace\r\ndb0:keys=3,expires=0,avg_ttl=0\r\ndb4:keys=2,expires=1,avg_ttl=0\r\n"), ok(), bulk("# Keyspace\r\n")])),
                ("SELECT 0", ok()),
                ("MULTI x", arity("multi")),
                ("DISCARD x", arity("discard")),
            ],
        );
        // A transaction's writes are seen together by another client.
        let mut other = Resp::connect(port);
        assert_eq!(c.qs("MULTI"), ok());
        assert_eq!(c.qs("SET t1 a"), st("QUEUED"));
        assert_eq!(
            other.qs("GET t1"),
            Reply::Nil,
            "[{t:?}] queued commands must not run"
        );
        assert_eq!(c.qs("SET t2 b"), st("QUEUED"));
        assert_eq!(c.qs("EXEC"), arr(vec![ok(), ok()]));
        assert_eq!(other.qs("MGET t1 t2"), bulks(&["a", "b"]));
    });
}

/// Keyspace-wide reads inside EXEC see the transaction's earlier writes.
#[test]
fn exec_sees_its_own_writes() {
    both(&[], |port, t| {
        let mut c = Resp::connect(port);
        script(&mut c, t, &[("MSET a 1 b 2", ok()), ("SET gone v", ok())]);
        for (line, reply) in [
            ("MULTI", ok()),
            ("SET c 3", st("QUEUED")),
            ("DEL gone", st("QUEUED")),
            ("DBSIZE", st("QUEUED")),
            ("KEYS *", st("QUEUED")),
            ("SCAN 0 COUNT 100", st("QUEUED")),
            ("FLUSHDB", st("QUEUED")),
            ("DBSIZE", st("QUEUED")),
            ("RANDOMKEY", st("QUEUED")),
            ("SET d 4", st("QUEUED")),
            ("DBSIZE", st("QUEUED")),
            ("KEYS *", st("QUEUED")),
            ("RANDOMKEY", st("QUEUED")),
            ("MOVE d 1", st("QUEUED")),
            ("SELECT 1", st("QUEUED")),
            ("DBSIZE", st("QUEUED")),
            ("SELECT 0", st("QUEUED")),
            ("DBSIZE", st("QUEUED")),
        ] {
            assert_eq!(c.qs(line), reply, "[{t:?}] {line}");
        }
        let r = c.qs("EXEC");
        let v = r.items();
        assert_eq!(v.len(), 17, "[{t:?}] {r:?}");
        assert_eq!(v[2], int(3), "[{t:?}] DBSIZE after SET and DEL in EXEC");
        let mut keys: Vec<String> = v[3].items().iter().map(|x| x.text()).collect();
        keys.sort();
        assert_eq!(keys, vec!["a", "b", "c"], "[{t:?}] KEYS in EXEC");
        let mut scanned: Vec<String> = v[4].items()[1].items().iter().map(|x| x.text()).collect();
        scanned.sort();
        assert_eq!(scanned, vec!["a", "b", "c"], "[{t:?}] SCAN in EXEC");
        assert_eq!(v[6], int(0), "[{t:?}] DBSIZE after FLUSHDB in EXEC");
        assert_eq!(v[7], Reply::Nil, "[{t:?}] RANDOMKEY of an emptied db");
        assert_eq!(v[9], int(1), "[{t:?}]");
        assert_eq!(v[10], bulks(&["d"]), "[{t:?}]");
        assert_eq!(v[11], bulk("d"), "[{t:?}]");
        assert_eq!(v[12], int(1), "[{t:?}]");
        assert_eq!(v[14], int(1), "[{t:?}] DBSIZE of db 1 after MOVE in EXEC");
        assert_eq!(v[16], int(0), "[{t:?}]");
        assert_eq!(c.qs("DBSIZE"), int(0));
    });
}

/// FLUSHDB/FLUSHALL abort only the transactions watching a key that
/// existed (Redis's touchAllWatchedKeysInDb).
#[test]
fn watch_of_missing_key_survives_flushdb() {
    both(&[], |port, t| {
        let mut c = Resp::connect(port);
        let mut other = Resp::connect(port);
        assert_eq!(c.qs("SET present v"), ok());
        assert_eq!(c.qs("WATCH missing"), ok());
        assert_eq!(other.qs("FLUSHDB"), ok());
        script(
            &mut c,
            t,
            &[
                ("MULTI", ok()),
                ("PING", st("QUEUED")),
                ("EXEC", arr(vec![st("PONG")])),
            ],
        );
        assert_eq!(c.qs("WATCH missing"), ok());
        assert_eq!(other.qs("FLUSHALL"), ok());
        script(
            &mut c,
            t,
            &[
                ("MULTI", ok()),
                ("PING", st("QUEUED")),
                ("EXEC", arr(vec![st("PONG")])),
            ],
        );
    });
}

#[test]
fn watch_aborts_exec() {
    both(&[], |port, t| {
        let mut c = Resp::connect(port);
        let mut other = Resp::connect(port);
        // Untouched: EXEC runs.
        script(
            &mut c,
            t,
            &[
                ("SET w 1", ok()),
                ("WATCH w", ok()),
                ("MULTI", ok()),
                ("INCR w", st("QUEUED")),
                ("EXEC", arr(vec![int(2)])),
            ],
        );
        // Another client's write: EXEC answers a null array.
        script(
            &mut c,
            t,
            &[("WATCH w", ok()), ("MULTI", ok()), ("INCR w", st("QUEUED"))],
        );
        assert_eq!(other.qs("SET w 10"), ok());
        assert_eq!(c.qs("EXEC"), Reply::NilArray, "[{t:?}]");
        assert_eq!(c.qs("GET w"), bulk("10"));
        // The write may come before MULTI too.
        assert_eq!(c.qs("WATCH w"), ok());
        assert_eq!(other.qs("DEL w"), int(1));
        script(
            &mut c,
            t,
            &[
                ("MULTI", ok()),
                ("SET w x", st("QUEUED")),
                ("EXEC", Reply::NilArray),
                ("EXISTS w", int(0)),
            ],
        );
        // A key that does not exist, then is created.
        assert_eq!(c.qs("WATCH w"), ok());
        assert_eq!(other.qs("SET w new"), ok());
        script(
            &mut c,
            t,
            &[
                ("MULTI", ok()),
                ("GET w", st("QUEUED")),
                ("EXEC", Reply::NilArray),
            ],
        );
        // FLUSHDB and FLUSHALL touch every watched key.
        assert_eq!(c.qs("WATCH w"), ok());
        assert_eq!(other.qs("FLUSHDB"), ok());
        script(
            &mut c,
            t,
            &[
                ("MULTI", ok()),
                ("PING", st("QUEUED")),
                ("EXEC", Reply::NilArray),
            ],
        );
        assert_eq!(c.qs("SET w 1"), ok());
        assert_eq!(c.qs("WATCH w"), ok());
        assert_eq!(other.qs("FLUSHALL"), ok());
        script(
            &mut c,
            t,
            &[
                ("MULTI", ok()),
                ("PING", st("QUEUED")),
                ("EXEC", Reply::NilArray),
            ],
        );
        // The same key name in another database is another key.
        assert_eq!(c.qs("SET w 1"), ok());
        assert_eq!(c.qs("WATCH w"), ok());
        assert_eq!(other.qs("SELECT 1"), ok());
        assert_eq!(other.qs("SET w 2"), ok());
        script(
            &mut c,
            t,
            &[
                ("MULTI", ok()),
                ("GET w", st("QUEUED")),
                ("EXEC", arr(vec![bulk("1")])),
            ],
        );
        // UNWATCH forgets; EXEC and DISCARD unwatch.
        assert_eq!(c.qs("WATCH w"), ok());
        assert_eq!(c.qs("UNWATCH"), ok());
        assert_eq!(other.qs("SELECT 0"), ok());
        assert_eq!(other.qs("SET w 3"), ok());
        script(
            &mut c,
            t,
            &[
                ("MULTI", ok()),
                ("GET w", st("QUEUED")),
                ("EXEC", arr(vec![bulk("3")])),
            ],
        );
        assert_eq!(c.qs("WATCH w"), ok());
        script(&mut c, t, &[("MULTI", ok()), ("DISCARD", ok())]);
        assert_eq!(other.qs("SET w 4"), ok());
        script(
            &mut c,
            t,
            &[
                ("MULTI", ok()),
                ("GET w", st("QUEUED")),
                ("EXEC", arr(vec![bulk("4")])),
            ],
        );
        // The client's own write also counts.
        assert_eq!(c.qs("WATCH w"), ok());
        assert_eq!(c.qs("SET w 5"), ok());
        script(
            &mut c,
            t,
            &[
                ("MULTI", ok()),
                ("GET w", st("QUEUED")),
                ("EXEC", Reply::NilArray),
            ],
        );
        // A watched key that expires before EXEC: EXEC fails.
        assert_eq!(c.qs("SET e v PX 300"), ok());
        assert_eq!(c.qs("WATCH e"), ok());
        std::thread::sleep(Duration::from_millis(400));
        script(
            &mut c,
            t,
            &[
                ("MULTI", ok()),
                ("PING", st("QUEUED")),
                ("EXEC", Reply::NilArray),
            ],
        );
        // A key already expired when watched: EXEC runs.
        assert_eq!(c.qs("SET e v PX 10"), ok());
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(c.qs("WATCH e"), ok());
        script(
            &mut c,
            t,
            &[
                ("MULTI", ok()),
                ("PING", st("QUEUED")),
                ("EXEC", arr(vec![st("PONG")])),
            ],
        );
        assert_eq!(c.qs("WATCH"), arity("watch"));
        assert_eq!(c.qs("UNWATCH x"), arity("unwatch"));
    });
}
