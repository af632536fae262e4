//! The command table and dispatch (src/command/mod.rs, docs.rs, syntax.rs):
//! COMMAND COUNT/INFO/DOCS, unknown commands and arity errors, the
//! COMMAND DOCS arguments redis-cli builds its hints from. Checked against
//! a real redis-server first, then a sledis node (`support::compare`).

mod support;

use support::*;

#[test]
fn command_count_info_docs() {
    both(&[], |port, t| {
        let mut c = Resp::connect(port);
        let count = c.qs("COMMAND COUNT").int();
        let all = c.qs("COMMAND");
        assert_eq!(
            all.items().len() as i64,
            count,
            "[{t:?}] COMMAND vs COMMAND COUNT"
        );
        // COMMAND LIST names subcommands too ("config|get").
        let list: Vec<String> = c
            .qs("COMMAND LIST")
            .items()
            .iter()
            .map(|r| r.text())
            .collect();
        assert_eq!(
            list.iter().filter(|n| !n.contains('|')).count() as i64,
            count,
            "[{t:?}] COMMAND LIST"
        );
        for sub in ["config|get", "client|kill", "command|docs", "pubsub|numsub"] {
            assert!(
                list.iter().any(|n| n == sub),
                "[{t:?}] COMMAND LIST lacks {sub}"
            );
        }
        let info = c.qs("COMMAND INFO get set nosuchcmd");
        let items = info.items();
        assert_eq!(items.len(), 3);
        let get = items[0].items();
        assert_eq!(get[0], bulk("get"));
        assert_eq!(get[1], int(2));
        assert!(
            get[2].items().contains(&st("readonly")) && get[2].items().contains(&st("fast")),
            "[{t:?}] {get:?}"
        );
        assert_eq!(&get[3..6], &[int(1), int(1), int(1)]);
        assert_eq!(items[1].items()[1], int(-3));
        assert_eq!(
            items[2],
            Reply::Nil,
            "[{t:?}] unknown command in COMMAND INFO"
        );
        let docs = c.qs("COMMAND DOCS get nosuchcmd");
        let d = docs.items();
        assert_eq!(d.len(), 2, "[{t:?}] {docs:?}");
        assert_eq!(d[0], bulk("get"));
        let fields = d[1].items();
        let summary_at = fields
            .iter()
            .position(|f| *f == bulk("summary"))
            .expect("summary");
        assert!(!fields[summary_at + 1].text().is_empty());
        assert!(fields.contains(&bulk("since")) && fields.contains(&bulk("group")));
        script(
            &mut c,
            t,
            &[
                ("COMMAND COUNT x", arity("command|count")),
                (
                    "COMMAND FOO",
                    err("ERR unknown subcommand 'FOO'. Try COMMAND HELP."),
                ),
                ("COMMAND GETKEYS GET k", bulks(&["k"])),
                ("COMMAND GETKEYS MSET a 1 b 2", bulks(&["a", "b"])),
                (
                    "COMMAND GETKEYS nosuch a",
                    err("ERR Invalid command specified"),
                ),
                (
                    "COMMAND GETKEYS SET a",
                    err("ERR Invalid number of arguments specified for command"),
                ),
                (
                    "COMMAND GETKEYS PING a",
                    err("ERR The command has no key arguments"),
                ),
                ("COMMAND LIST FOO", err(SYNTAX)),
                ("COMMAND LIST FILTERBY PATTERN getd*", bulks(&["getdel"])),
            ],
        );
    });
    // redis-cli reads COMMAND DOCS for its hints and must get along with us.
    let n = Node::start(&[]);
    assert_eq!(redis_cli(n.port, &["SET", "k", "hello"]).trim(), "OK");
    assert_eq!(redis_cli(n.port, &["GET", "k"]).trim(), "hello");
    assert_eq!(
        redis_cli(n.port, &["--no-raw", "INCR", "n"]).trim(),
        "(integer) 1"
    );
    assert_eq!(
        redis_cli(n.port, &["--no-raw", "GET", "nokey"]).trim(),
        "(nil)"
    );
    let out = redis_cli(n.port, &["--no-raw", "FOO", "a"]);
    assert_eq!(
        out.trim(),
        "(error) ERR unknown command 'FOO', with args beginning with: 'a'"
    );
    let out = redis_cli(n.port, &["--no-raw", "COMMAND", "COUNT"]);
    assert!(out.starts_with("(integer) "), "{out}");
}

#[test]
fn unknown_command_and_arity_errors() {
    both(&[], |port, t| {
        let mut c = Resp::connect(port);
        script(
            &mut c,
            t,
            &[
                (
                    "foo",
                    err("ERR unknown command 'foo', with args beginning with: "),
                ),
                (
                    "foo a",
                    err("ERR unknown command 'foo', with args beginning with: 'a' "),
                ),
                (
                    "FOO a b",
                    err("ERR unknown command 'FOO', with args beginning with: 'a' 'b' "),
                ),
            ],
        );
        // The argument list stops after about 128 bytes, each argument cut to fit.
        let long = "x".repeat(200);
        let want = format!(
            "ERR unknown command 'foo', with args beginning with: '{}' ",
            &long[..128]
        );
        assert_eq!(c.q(&["foo", &long, "b"]), err(&want), "[{t:?}]");
        let many: Vec<String> = (0..60).map(|i| i.to_string()).collect();
        let mut args = vec!["foo".to_string()];
        args.extend(many.iter().cloned());
        let mut listed = String::new();
        for a in &many {
            if listed.len() >= 128 {
                break;
            }
            let room = 128 - listed.len();
            listed.push_str(&format!("'{}' ", &a[..a.len().min(room)]));
        }
        assert_eq!(
            c.q(&args),
            err(&format!(
                "ERR unknown command 'foo', with args beginning with: {listed}"
            )),
            "[{t:?}]"
        );
        let mid = format!("{} {}", "a".repeat(120), "b".repeat(20));
        let parts: Vec<&str> = mid.split(' ').collect();
        let want = format!(
            "ERR unknown command 'foo', with args beginning with: '{}' '{}' ",
            parts[0],
            &parts[1][..128 - 123]
        );
        assert_eq!(
            c.q(&["foo", parts[0], parts[1], "c"]),
            err(&want),
            "[{t:?}]"
        );
        let longname = "z".repeat(300);
        assert_eq!(
            c.q(&[longname.as_str()]),
            err(&format!(
                "ERR unknown command '{}', with args beginning with: ",
                &longname[..128]
            )),
            "[{t:?}]"
        );
    });
    // Every command in the table refuses a wrong number of arguments with
    // Redis's text (and the same arity as Redis).
    let n = Node::start(&[]);
    let r = RealRedis::start(&[]);
    let mut c = Resp::connect(n.port);
    let mut rc = Resp::connect(r.port);
    let table = c.qs("COMMAND");
    let mut checked = 0;
    for entry in table.items() {
        let e = entry.items();
        let name = e[0].text();
        let arity = e[1].int();
        let redis_arity = rc.q(&["COMMAND", "INFO", &name]).items()[0].clone();
        if let Reply::Array(ri) = &redis_arity {
            assert_eq!(ri[1], int(arity), "arity of {name} differs from Redis");
        }
        let argc = if arity > 0 {
            arity + 1
        } else if arity < -1 {
            -arity - 1
        } else {
            continue;
        };
        let mut args = vec![name.clone()];
        while (args.len() as i64) < argc {
            args.push("x".into());
        }
        let want = if name == "exec" {
            err("EXECABORT Transaction discarded because of: wrong number of arguments for 'exec' command")
        } else {
            err(&format!(
                "ERR wrong number of arguments for '{name}' command"
            ))
        };
        assert_eq!(c.q(&args), want, "{args:?}");
        checked += 1;
    }
    assert!(checked > 40, "only {checked} commands checked");
}

/// redis-cli builds its interactive hints (`set key value [NX|XX] ...`) from
/// COMMAND DOCS `arguments`; they come from the syntax table.
#[test]
fn command_docs_carry_arguments_for_redis_cli_hints() {
    let n = Node::start(&[]);
    let out = redis_cli(n.port, &["command", "docs", "set"]);
    for want in [
        "arguments",
        "key",
        "value",
        "oneof",
        "NX",
        "XX",
        "EX",
        "seconds",
        "KEEPTTL",
        "optional",
    ] {
        assert!(
            out.lines().any(|l| l == want),
            "COMMAND DOCS SET lacks {want}: {out}"
        );
    }
}

/// COMMAND INFO answers Redis's command table for every command and
/// subcommand both servers have, in RESP2 and RESP3: arity, flags, key
/// positions, ACL categories, tips, key specs. A container's subcommands
/// are checked one by one (`COMMAND INFO config|get`): Redis lists them
/// in an order that follows its hash seed, and the sets differ where one
/// server has a subcommand the other lacks.
#[test]
fn command_info_matches_redis_for_every_shared_command() {
    let r = RealRedis::start(&[]);
    let n = Node::start(&[]);
    for proto in [2, 3] {
        let mut rc = Resp::connect(r.port);
        let mut sc = Resp::connect(n.port);
        if proto == 3 {
            rc.qs("HELLO 3");
            sc.qs("HELLO 3");
        }
        let names = |c: &mut Resp| -> Vec<String> {
            c.qs("COMMAND LIST")
                .items()
                .iter()
                .map(|x| x.text())
                .collect()
        };
        let ours = names(&mut sc);
        let shared: Vec<String> = names(&mut rc)
            .into_iter()
            .filter(|x| ours.contains(x))
            .collect();
        assert!(shared.len() > 250, "{} shared", shared.len());
        for name in &shared {
            let want = rc.q(&["COMMAND", "INFO", name]).items()[0].clone();
            let got = sc.q(&["COMMAND", "INFO", name]).items()[0].clone();
            let (w, g) = (want.items(), got.items());
            assert_eq!(g.len(), 10, "RESP{proto} {name}: {got:?}");
            assert_eq!(&g[..9], &w[..9], "RESP{proto} COMMAND INFO {name}");
            // The subcommands: the same kind of reply, and the same
            // names where neither server has one of its own.
            let subs = |r: &Reply| -> Vec<String> {
                let mut v: Vec<String> = r.items().iter().map(|e| e.items()[0].text()).collect();
                v.sort();
                v
            };
            assert_eq!(
                std::mem::discriminant(&g[9]),
                std::mem::discriminant(&w[9]),
                "RESP{proto} {name}'s subcommands"
            );
            if !["client", "script"].contains(&name.as_str()) {
                assert_eq!(subs(&g[9]), subs(&w[9]), "RESP{proto} {name}");
            }
        }
    }
}
