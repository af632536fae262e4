//! Functions (FUNCTION LOAD/LIST/DELETE/FLUSH/STATS/KILL, FCALL,
//! FCALL_RO): replies and error texts against a real Redis 7.0; libraries
//! survive kill -9, reach replicas, a chain and a full sync, and are shown
//! by the dump tool; BUSY and FUNCTION KILL.

mod support;

use std::time::Duration;
use support::*;

const DUMP: &str = env!("CARGO_BIN_EXE_sledis-dump");

fn line(r: &Reply) -> String {
    match r {
        Reply::Error(e) => e.clone(),
        other => format!("{other:?}"),
    }
}

const LIB: &str = "#!lua name=mylib\n\
local function setter(keys, args) return redis.call('set', keys[1], args[1]) end\n\
redis.register_function('setter', setter)\n\
redis.register_function{function_name='getter', callback=function(keys, args) return redis.call('get', keys[1]) end, flags={'no-writes'}, description='reads a key'}\n";

const ERRORS: &str = "#!lua name=errs\n\
local x = 5\n\
redis.register_function('shape', function(keys, args) return {x, #keys, #args, keys[1], args[1]} end)\n\
redis.register_function('nokeys', function(keys, args) return KEYS end)\n\
redis.register_function('badcall', function(keys, args) return redis.call('nosuch') end)\n\
redis.register_function('raise', function(keys, args) error('oops') end)\n\
redis.register_function('reply', function(keys, args) return redis.error_reply('MY err') end)\n\
redis.register_function('global', function(keys, args) y = 1 end)\n\
redis.register_function('pcalls', function(keys, args) return redis.pcall('incr', keys[1]) end)\n\
redis.register_function('tools', function(keys, args) return {redis.sha1hex('x'), cjson.encode({1}), bit.band(3, 1), string.len('ab'), type(keys)} end)\n";

/// The library's code with one registration in place of `body`.
fn lib(name: &str, body: &str) -> String {
    format!("#!lua name={name}\n{body}")
}

/// Commands sent to Redis and to sledis on fresh servers: every reply must
/// be the same, error texts included. FUNCTION LIST is only asked where its
/// order is fixed (one library, one function): Redis lists in hash order.
fn cases() -> Vec<Vec<String>> {
    let reg = |b: &str| -> Vec<String> { vec!["FUNCTION".into(), "LOAD".into(), lib("t", b)] };
    let mut v: Vec<Vec<String>> = vec![
        vec!["FUNCTION".into(), "LOAD".into(), LIB.into()],
        vec!["FUNCTION".into(), "LOAD".into(), LIB.into()],
        vec![
            "FUNCTION".into(),
            "LOAD".into(),
            "REPLACE".into(),
            LIB.into(),
        ],
        vec!["FUNCTION".into(), "LOAD".into(), ERRORS.into()],
    ];
    for c in [
        "FCALL setter 1 k hello",
        "FCALL getter 1 k",
        "FCALL_RO getter 1 k",
        "FCALL_RO setter 1 k x",
        "FCALL nosuch 0",
        "FCALL shape 2 k1 k2 a1",
        "FCALL shape -1",
        "FCALL shape 5 a",
        "FCALL shape x",
        "FCALL nokeys 0",
        "FCALL badcall 0",
        "FCALL raise 0",
        "FCALL reply 0",
        "FCALL global 0",
        "FCALL pcalls 1 k",
        "FCALL tools 0",
        "FCALL",
        "FCALL_RO setter",
        "FUNCTION",
        "FUNCTION NOSUCH",
        "FUNCTION DELETE",
        "FUNCTION DELETE nolib",
        "FUNCTION DELETE errs",
        "FCALL shape 0",
        "FUNCTION FLUSH bad",
        "FUNCTION STATS extra",
        "FUNCTION LIST WITHCODE WITHCODE",
        "FUNCTION LIST LIBRARYNAME",
        "FUNCTION LIST foo",
        "FUNCTION KILL",
        "FUNCTION HELP",
    ] {
        v.push(c.split(' ').map(String::from).collect());
    }
    v.push(vec!["FUNCTION".into(), "FLUSH".into()]);
    v.push(vec!["FUNCTION".into(), "STATS".into()]);
    v.push(vec![
        "FUNCTION".into(),
        "LOAD".into(),
        lib(
            "one",
            "redis.register_function{function_name='only', callback=function() return 1 end, flags={'no-writes', 'allow-stale', 'allow-oom', 'no-cluster', 'allow-cross-slot-keys'}, description='d'}",
        ),
    ]);
    for c in [
        "FUNCTION LIST",
        "FUNCTION LIST LIBRARYNAME o*",
        "FUNCTION LIST LIBRARYNAME x*",
        "FUNCTION LIST WITHCODE LIBRARYNAME one",
        "FUNCTION STATS",
        "FCALL_RO only 0",
    ] {
        v.push(c.split(' ').map(String::from).collect());
    }
    // Library metadata and registration errors.
    for code in [
        "return 1",
        "#!lua name=x",
        "#!lua\nredis.register_function('a', function() end)",
        "#!lua name=x foo=bar\nredis.register_function('a', function() end)",
        "#!lua name=x name=y\nredis.register_function('a', function() end)",
        "#!js name=x\nredis.register_function('a', function() end)",
        "#!lua name=x-y\nredis.register_function('a', function() end)",
        "#!lua name=\nredis.register_function('a', function() end)",
        "#!lua name=\"quoted\"\nredis.register_function('q', function() return 2 end)",
        "#!lua name=x\nreturn 1",
        "#!lua name=x\nfoo bar",
        "#!lua name=x\nredis.call('set', 'a', 'b')",
        "#!lua name=x\nerror('boom')",
        "#!lua name=x\nlocal t = {} t.x.y = 1",
        "#!lua name=x\nx = 5\nredis.register_function('g', function() return x end)",
        "#!lua name=x\nwhile true do end",
    ] {
        v.push(vec!["FUNCTION".into(), "LOAD".into(), code.into()]);
    }
    v.push("FCALL q 0".split(' ').map(String::from).collect());
    for body in [
        "redis.register_function('f', 5)",
        "redis.register_function('g')",
        "redis.register_function()",
        "redis.register_function('a', function() end, 1)",
        "redis.register_function({}, function() end)",
        "redis.register_function('', function() end)",
        "redis.register_function('1-2', function() end)",
        "redis.register_function('a', function() end) redis.register_function('a', function() end)",
        "redis.register_function{function_name={}, callback=function() end}",
        "redis.register_function{function_name='a', callback=5}",
        "redis.register_function{function_name='a'}",
        "redis.register_function{callback=function() end}",
        "redis.register_function{function_name='a', callback=function() end, description={}}",
        "redis.register_function{function_name='a', callback=function() end, flags='no-writes'}",
        "redis.register_function{function_name='a', callback=function() end, flags={'bad-flag'}}",
        "redis.register_function{function_name='a', callback=function() end, flags={'no-writes', 5}}",
        "redis.register_function{function_name='a', callback=function() end, foo=1}",
        "redis.register_function{[1]='a'}",
        "local _ = redis.setresp",
        "local _ = string.len('a')",
        "redis.log(redis.LOG_WARNING, 'loading', redis.REDIS_VERSION_NUM > 0) redis.register_function('only', function() end)",
    ] {
        v.push(reg(body));
    }
    // A function name another library has.
    v.push(reg("redis.register_function('only', function() end)"));
    v.push(reg(
        "redis.register_function('t1', function() return 't1' end)",
    ));
    v.push("FCALL t1 0".split(' ').map(String::from).collect());
    // A transaction sees the libraries it loads and deletes.
    v.push(vec!["MULTI".into()]);
    v.push(vec![
        "FUNCTION".into(),
        "LOAD".into(),
        lib(
            "inmulti",
            "redis.register_function('im', function() return 'im' end)",
        ),
    ]);
    v.push("FCALL im 0".split(' ').map(String::from).collect());
    v.push(vec![
        "FUNCTION".into(),
        "LOAD".into(),
        lib(
            "inmulti2",
            "redis.register_function('im', function() return 'again' end)",
        ),
    ]);
    v.push(
        "FUNCTION DELETE inmulti"
            .split(' ')
            .map(String::from)
            .collect(),
    );
    v.push("FCALL im 0".split(' ').map(String::from).collect());
    v.push("FUNCTION STATS".split(' ').map(String::from).collect());
    v.push("EXEC".split(' ').map(String::from).collect());
    // Functions in a transaction, and FLUSHALL leaves them.
    for c in [
        "MULTI",
        "FCALL t1 0",
        "FCALL_RO only 0",
        "EXEC",
        "FLUSHALL",
        "FCALL t1 0",
        "FUNCTION DELETE t",
        "FCALL t1 0",
    ] {
        v.push(c.split(' ').map(String::from).collect());
    }
    v
}

#[test]
fn functions_reply_as_redis_does() {
    let cases = cases();
    let run = |port: u16| -> Vec<Reply> {
        let mut c = Resp::connect(port);
        let mut out = Vec::new();
        for args in &cases {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            out.push(c.q(&args));
        }
        // RESP3 shapes: maps, a set of flags, a null.
        c.q(&["HELLO", "3"]);
        out.push(c.q(&["FUNCTION", "LIST", "LIBRARYNAME", "one"]));
        out.push(c.q(&["FUNCTION", "STATS"]));
        out
    };
    let want = {
        let r = RealRedis::start(&[]);
        run(r.port)
    };
    let n = Node::start(&[]);
    let got = run(n.port);
    let mut asked: Vec<String> = cases.iter().map(|c| c.join(" ")).collect();
    asked.push("HELLO 3; FUNCTION LIST LIBRARYNAME one".into());
    asked.push("HELLO 3; FUNCTION STATS".into());
    for (i, what) in asked.iter().enumerate() {
        assert_eq!(got[i], want[i], "{what}");
    }
}

/// Libraries are data: they survive kill -9, reach a replica, a chain and
/// a replica that syncs in full later, and go with FUNCTION DELETE/FLUSH
/// there too. Replicas run read-only functions and refuse the others.
#[test]
fn functions_persist_and_replicate() {
    let (mut m, rs) = replicated_group(1);
    let chained = Node::start(&[]);
    let _cc = replicaof(&chained, &rs[0]);
    let mut c = Resp::connect(m.port);
    assert_eq!(c.q(&["FUNCTION", "LOAD", LIB]), bulk("mylib"));
    assert_eq!(c.q(&["FCALL", "setter", "1", "k", "v1"]), ok());
    wait_synced(&rs[0], &m);
    wait_synced(&chained, &rs[0]);
    for r in [&rs[0], &chained] {
        let mut rc = Resp::connect(r.port);
        assert_eq!(rc.q(&["FCALL", "getter", "1", "k"]), bulk("v1"));
        assert_eq!(rc.q(&["FCALL_RO", "getter", "1", "k"]), bulk("v1"));
        assert_eq!(
            rc.q(&["FCALL", "setter", "1", "k", "x"]),
            err("READONLY You can't write against a read only replica.")
        );
        assert_eq!(
            rc.q(&[
                "FUNCTION",
                "LOAD",
                &lib("other", "redis.register_function('o', function() end)")
            ]),
            err("READONLY You can't write against a read only replica.")
        );
        assert_eq!(
            rc.q(&["FUNCTION", "DELETE", "mylib"]),
            err("READONLY You can't write against a read only replica.")
        );
    }
    // FLUSHALL leaves libraries, as in Redis.
    assert_eq!(c.q(&["FLUSHALL"]), ok());
    assert_eq!(c.q(&["FCALL", "getter", "1", "k"]), Reply::Nil);
    // kill -9: the library is back from the WAL.
    m.kill9();
    m.launch();
    m.wait_ready().expect("restart");
    let mut c = Resp::connect(m.port);
    assert_eq!(c.q(&["FCALL", "setter", "1", "k", "v2"]), ok());
    assert_eq!(c.q(&["FCALL", "getter", "1", "k"]), bulk("v2"));
    // A replica that syncs in full now gets it from the snapshot.
    let late = Node::start(&[]);
    let _lc = replicaof(&late, &m);
    wait_synced(&late, &m);
    let mut lc = Resp::connect(late.port);
    assert_eq!(lc.q(&["FCALL", "getter", "1", "k"]), bulk("v2"));
    let listed = lc.q(&["FUNCTION", "LIST", "WITHCODE"]);
    assert!(format!("{listed:?}").contains("reads a key"), "{listed:?}");
    // The late replica restarts and keeps it (its own WAL and sled).
    drop(lc);
    // Deletion reaches every replica.
    assert_eq!(c.q(&["FUNCTION", "DELETE", "mylib"]), ok());
    wait_synced(&late, &m);
    let mut lc = Resp::connect(late.port);
    assert_eq!(
        lc.q(&["FCALL", "getter", "1", "k"]),
        err("ERR Function not found")
    );
    assert_eq!(
        lc.q(&["FUNCTION", "STATS"]),
        Reply::Array(vec![
            bulk("running_script"),
            Reply::Nil,
            bulk("engines"),
            Reply::Array(vec![
                bulk("LUA"),
                Reply::Array(vec![
                    bulk("libraries_count"),
                    int(0),
                    bulk("functions_count"),
                    int(0)
                ])
            ])
        ])
    );
}

/// The dump tool shows a library in a snapshot and in the WAL.
#[test]
fn the_dump_tool_shows_libraries() {
    let n = Node::start(&[]);
    let mut c = Resp::connect(n.port);
    assert_eq!(c.q(&["FUNCTION", "LOAD", LIB]), bulk("mylib"));
    assert_eq!(c.q(&["SET", "plain", "1"]), ok());
    // The slot map of a SWAPDB sorts before the libraries in a snapshot.
    assert_eq!(c.q(&["SWAPDB", "0", "1"]), ok());
    assert_eq!(c.q(&["SAVE"]), ok());
    let snap = n.data_dir().join("dump.sledis");
    let out = std::process::Command::new(DUMP)
        .arg("snapshot")
        .arg(&snap)
        .output()
        .expect("sledis-dump snapshot");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("function library \"mylib\""), "{text}");
    assert!(
        text.contains("redis.register_function('setter', setter)"),
        "{text}"
    );
    assert!(text.contains("db1 \"plain\""), "{text}");
    let out = std::process::Command::new(DUMP)
        .arg("wal")
        .arg(n.wal_dir())
        .output()
        .expect("sledis-dump wal");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("PUT function library \"mylib\""), "{text}");
}

/// A function past `busy-reply-threshold`: others get the FUNCTION KILL
/// flavour of BUSY, FUNCTION STATS names it, SCRIPT KILL refuses it and
/// FUNCTION KILL stops it.
#[test]
fn a_busy_function_answers_busy_and_function_kill_stops_it() {
    let n = Node::start(&["busy-reply-threshold 100"]);
    let mut c = Resp::connect(n.port);
    let code = lib(
        "spin",
        "redis.register_function('spin', function() local i = 0 while true do i = i + 1 end end)",
    );
    assert_eq!(c.q(&["FUNCTION", "LOAD", &code]), bulk("spin"));
    let port = n.port;
    let runner = std::thread::spawn(move || {
        let mut c = Resp::connect(port);
        c.set_timeout(Duration::from_secs(60));
        c.q(&["FCALL", "spin", "0"])
    });
    let busy_text =
        "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.";
    let busy = wait_until(Duration::from_secs(20), || {
        line(&c.q(&["GET", "x"])).starts_with("BUSY ")
    });
    assert!(busy, "another client got BUSY");
    assert_eq!(c.q(&["GET", "x"]), err(busy_text));
    let stats = c.q(&["FUNCTION", "STATS"]);
    let shown = format!("{stats:?}");
    assert!(
        shown.contains("\"spin\"") && shown.contains("duration_ms") && shown.contains("FCALL"),
        "{shown}"
    );
    assert_eq!(c.q(&["SCRIPT", "KILL"]), err(busy_text));
    assert_eq!(c.q(&["FUNCTION", "KILL"]), ok());
    let killed = runner.join().expect("runner");
    assert!(
        line(&killed).starts_with(
            "ERR Script killed by user with SCRIPT KILL... script: spin, on @user_function:"
        ),
        "{killed:?}"
    );
    assert_eq!(c.q(&["SET", "x", "1"]), ok());
    assert_eq!(
        c.q(&["FUNCTION", "KILL"]),
        err("NOTBUSY No scripts in execution right now.")
    );
}

fn restore(c: &mut Resp, payload: &[u8], policy: Option<&str>) -> Reply {
    let mut args: Vec<&[u8]> = vec![b"FUNCTION", b"RESTORE", payload];
    if let Some(p) = policy {
        args.push(p.as_bytes());
    }
    c.q(&args)
}

/// FUNCTION DUMP and RESTORE: with one library the payload is Redis's byte
/// for byte; payloads move both ways between Redis and sledis; the
/// policies and errors are Redis's.
#[test]
fn function_dump_and_restore_move_between_redis_and_sledis() {
    let r = RealRedis::start(&[]);
    let n = Node::start(&[]);
    let mut rc = Resp::connect(r.port);
    let mut nc = Resp::connect(n.port);
    for c in [&mut rc, &mut nc] {
        assert_eq!(c.q(&["FUNCTION", "LOAD", LIB]), bulk("mylib"));
    }
    let from_redis = rc.q(&["FUNCTION", "DUMP"]);
    let from_sledis = nc.q(&["FUNCTION", "DUMP"]);
    assert_eq!(from_sledis, from_redis);
    assert!(matches!(from_sledis, Reply::Bulk(_)), "{from_sledis:?}");
    let two = lib(
        "other",
        "redis.register_function('other_f', function() return 'o' end)",
    );
    let clash = lib(
        "clash",
        "redis.register_function('setter', function() return 'c' end)",
    );
    let steps: Vec<Vec<Vec<u8>>> = {
        let b = |parts: &[&[u8]]| parts.iter().map(|p| p.to_vec()).collect::<Vec<_>>();
        vec![
            b(&[b"FUNCTION", b"LOAD", two.as_bytes()]),
            b(&[b"FUNCTION", b"RESTORE", b"garbage"]),
            b(&[b"FUNCTION", b"RESTORE", b"x", b"BADPOLICY"]),
            b(&[b"FUNCTION", b"RESTORE", b"x", b"FLUSH", b"extra"]),
            b(&[b"FUNCTION", b"DUMP", b"extra"]),
        ]
    };
    let mut got = Vec::new();
    let mut want = Vec::new();
    for s in &steps {
        let args: Vec<&[u8]> = s.iter().map(Vec::as_slice).collect();
        want.push(rc.q(&args));
        got.push(nc.q(&args));
    }
    assert_eq!(got, want);
    // Each side's dump of two libraries restores into the other side.
    let Reply::Bulk(redis_two) = rc.q(&["FUNCTION", "DUMP"]) else {
        panic!()
    };
    let Reply::Bulk(sledis_two) = nc.q(&["FUNCTION", "DUMP"]) else {
        panic!()
    };
    for (c, payload) in [(&mut rc, &sledis_two), (&mut nc, &redis_two)] {
        let p = payload.as_slice();
        // Both libraries clash; which is named depends on hash order.
        let named = line(&restore(c, p, None));
        assert!(
            named == "ERR Library mylib already exists"
                || named == "ERR Library other already exists",
            "{named}"
        );
        assert_eq!(restore(c, p, Some("REPLACE")), ok());
        assert_eq!(restore(c, p, Some("FLUSH")), ok());
        assert_eq!(c.q(&["FCALL", "other_f", "0"]), bulk("o"));
        assert_eq!(c.q(&["FUNCTION", "DELETE", "mylib"]), ok());
        assert_eq!(c.q(&["FUNCTION", "LOAD", &clash]), bulk("clash"));
        assert_eq!(
            restore(c, p, Some("REPLACE")),
            err("ERR Function setter already exists")
        );
        assert_eq!(c.q(&["FUNCTION", "FLUSH"]), ok());
        assert_eq!(restore(c, p, Some("APPEND")), ok());
        assert_eq!(c.q(&["FCALL", "setter", "1", "k", "v"]), ok());
        assert_eq!(c.q(&["FCALL", "getter", "1", "k"]), bulk("v"));
        // A key's DUMP is not a library; a damaged payload is refused.
        let Reply::Bulk(key) = c.q(&["DUMP", "k"]) else {
            panic!()
        };
        assert_eq!(
            restore(c, &key, None),
            err("ERR given type is not a function")
        );
        let mut bad = p.to_vec();
        bad[3] ^= 1;
        assert_eq!(
            restore(c, &bad, None),
            err("ERR DUMP payload version or checksum are wrong")
        );
    }
}
