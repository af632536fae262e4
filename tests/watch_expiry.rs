//! WATCH and expired keys (src/command/multi.rs, src/store/watch.rs), as
//! Redis 7.0 has them: a watched key that expires between WATCH and EXEC
//! (deleted or not, lazily or by the active cycle) fails EXEC; a key
//! already logically expired when WATCHed does not, merely by being
//! deleted afterwards, but any real change to it does. Each case runs
//! against a real redis-server first (`support::compare`), then sledis.
//! Every case has the same outcome whether or not the active expiry cycle
//! deleted the key meanwhile, so none depends on timing. Then the same
//! rules on a replica, where deletions come from the master's stream.

mod support;

use std::time::Duration;
use support::*;

/// Sleeps past a deadline set `ms` ago at most: lets a key expire (the
/// outcome never depends on how much longer it takes).
fn past(ms: u64) {
    std::thread::sleep(Duration::from_millis(ms + 50));
}

/// Commands one connection sends at some point of a case.
type Step = dyn Fn(&mut Resp);

/// WATCH k on `w` after `setup` on `o`, then `between` on `o`, then an
/// EXEC of one PING: its reply.
fn run(w: &mut Resp, o: &mut Resp, setup: &Step, between: &Step) -> Reply {
    assert_eq!(o.qs("FLUSHALL"), ok());
    setup(o);
    assert_eq!(w.qs("WATCH k"), ok());
    between(o);
    assert_eq!(w.qs("MULTI"), ok());
    assert_eq!(w.qs("PING"), st("QUEUED"));
    w.qs("EXEC")
}

#[test]
fn watched_keys_and_expiry_match_redis() {
    both(&[], |port, t| {
        let mut w = Resp::connect(port);
        let mut o = Resp::connect(port);
        let pong = arr(vec![st("PONG")]);
        let live = |o: &mut Resp| assert_eq!(o.qs("SET k v PX 200"), ok());
        let dead = |o: &mut Resp| {
            assert_eq!(o.qs("SET k v PX 10"), ok());
            past(10);
        };
        let cases: Vec<(&str, &Step, &Step, Reply)> = vec![
            (
                "expires after WATCH",
                &live,
                &|_| past(200),
                Reply::NilArray,
            ),
            (
                "expires after WATCH, then read (deleted)",
                &live,
                &|o| {
                    past(200);
                    assert_eq!(o.qs("GET k"), Reply::Nil);
                },
                Reply::NilArray,
            ),
            ("expired at WATCH, untouched", &dead, &|_| {}, pong.clone()),
            (
                "expired at WATCH, then read (deleted)",
                &dead,
                &|o| assert_eq!(o.qs("GET k"), Reply::Nil),
                pong.clone(),
            ),
            (
                "expired at WATCH, deleted, then set",
                &dead,
                &|o| {
                    o.qs("GET k");
                    assert_eq!(o.qs("SET k 2"), ok());
                },
                Reply::NilArray,
            ),
            (
                "expired at WATCH, then set",
                &dead,
                &|o| assert_eq!(o.qs("SET k 2"), ok()),
                Reply::NilArray,
            ),
            (
                "expired at WATCH, EXPIRE (deletes, changes nothing)",
                &dead,
                &|o| assert_eq!(o.qs("EXPIRE k 100"), int(0)),
                pong.clone(),
            ),
            (
                "expired at WATCH, set again with a TTL that runs out",
                &dead,
                &|o| {
                    assert_eq!(o.qs("SET k 2 PX 10"), ok());
                    past(10);
                },
                Reply::NilArray,
            ),
            (
                "expired at WATCH, FLUSHDB",
                &dead,
                &|o| assert_eq!(o.qs("FLUSHDB"), ok()),
                pong.clone(),
            ),
            (
                "absent at WATCH, set with a TTL that runs out",
                &|_| {},
                &|o| {
                    assert_eq!(o.qs("SET k 2 PX 10"), ok());
                    past(10);
                },
                Reply::NilArray,
            ),
            ("absent at WATCH, untouched", &|_| {}, &|_| {}, pong.clone()),
            (
                "live, DEL",
                &live,
                &|o| assert_eq!(o.qs("DEL k"), int(1)),
                Reply::NilArray,
            ),
        ];
        for (what, setup, between, want) in cases {
            let got = run(&mut w, &mut o, setup, between);
            assert_eq!(got, want, "[{t:?}] {what}");
        }
    });
}

#[test]
fn a_key_expired_when_watched_on_a_replica_is_no_change_when_the_master_deletes_it() {
    let (m, rs) = replicated_group(1);
    let mut mc = Resp::connect(m.port);
    let mut w = Resp::connect(rs[0].port);
    let gone_on_replica = |r: &Node| {
        wait_until(Duration::from_secs(20), || {
            redis_cli(r.port, &["dbsize"]).trim() == "0"
        })
    };
    // Already expired when WATCHed: the master's DEL changes nothing.
    assert_eq!(mc.qs("SET k v PX 100"), ok());
    assert_eq!(mc.qs("WAIT 1 20000"), int(1), "the replica has the key");
    past(100);
    assert_eq!(w.qs("WATCH k"), ok());
    assert!(
        gone_on_replica(&rs[0]),
        "the master's active expiry reached the replica"
    );
    assert_eq!(w.qs("MULTI"), ok());
    assert_eq!(w.qs("PING"), st("QUEUED"));
    assert_eq!(w.qs("EXEC"), arr(vec![st("PONG")]));
    // Live when WATCHed, then expired and deleted by the master.
    assert_eq!(mc.qs("SET k v PX 3000"), ok());
    assert_eq!(mc.qs("WAIT 1 20000"), int(1), "the replica has the key");
    assert_eq!(w.qs("WATCH k"), ok());
    let live_at_watch = w.qs("PTTL k").int() > 0;
    assert!(
        gone_on_replica(&rs[0]),
        "the master's active expiry reached the replica"
    );
    assert_eq!(w.qs("MULTI"), ok());
    assert_eq!(w.qs("PING"), st("QUEUED"));
    let r = w.qs("EXEC");
    if live_at_watch {
        assert_eq!(r, Reply::NilArray, "a key that expired after WATCH");
    }
}
