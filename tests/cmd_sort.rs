//! SORT, SORT_RO and LCS (src/command/sort.rs, lcs.rs): every command runs
//! on a real redis-server and on a sledis node, and the replies must be
//! the same, error texts included. Set orders are Redis's own and not
//! sledis's, so a set is only ever compared once sorted.

mod support;

use support::*;

/// Runs each line on a real Redis and on a sledis node, in order, and
/// compares every reply. `hello3`: both connections speak RESP3.
fn same(lines: &[&str], hello3: bool) {
    let redis = RealRedis::start(&[]);
    let node = Node::start(&[]);
    let mut r = Resp::connect(redis.port);
    let mut s = Resp::connect(node.port);
    if hello3 {
        r.qs("HELLO 3");
        s.qs("HELLO 3");
    }
    for (i, line) in lines.iter().enumerate() {
        let args = words(line);
        let want = r.q(&args);
        let got = s.q(&args);
        assert_eq!(got, want, "step {i}: `{line}`");
    }
}

/// A command line's words: split at spaces, a `"..."` word taken whole
/// (no escapes), `""` the empty string.
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = line.trim_start();
    while !rest.is_empty() {
        if let Some(q) = rest.strip_prefix('"') {
            let end = q.find('"').expect("closing quote");
            out.push(q[..end].to_string());
            rest = q[end + 1..].trim_start();
        } else {
            let end = rest.find(' ').unwrap_or(rest.len());
            out.push(rest[..end].to_string());
            rest = rest[end..].trim_start();
        }
    }
    out
}

const FIXTURE: &[&str] = &[
    "RPUSH l 3 1 2 10 -4 2.5 0x10",
    "RPUSH words banana Apple cherry apple 10 9",
    "SADD s 5 3 9 1 7",
    "SADD sw pear fig kiwi",
    "ZADD z 3 c 1 a 2 b 2 bb 5 e",
    "MSET w_3 30 w_1 10 w_2 20 w_10 5 w_-4 7 w_2.5 1 w_0x10 -1",
    "MSET w_a 2 w_b 1 w_c 3 w_e 0",
    "HSET o_1 name one n 100",
    "HSET o_2 name two n 50",
    "HSET o_3 name three n 75",
    "SET str hello",
];

#[test]
fn sort_matches_redis() {
    let mut lines: Vec<&str> = FIXTURE.to_vec();
    lines.extend_from_slice(&[
        // Numbers, with hex, negatives and decimals.
        "SORT l",
        "SORT l DESC",
        "SORT l ASC LIMIT 1 3",
        "SORT l LIMIT -5 2",
        "SORT l LIMIT 2 -1",
        "SORT l LIMIT 100 5",
        "SORT words LIMIT 100 5",
        "SORT words LIMIT 0 0",
        "SORT words LIMIT 0 -5 STORE dst",
        "SORT l LIMIT 0 0",
        "SORT l LIMIT 6 1",
        "SORT l LIMIT 9223372036854775807 9223372036854775807",
        "SORT l LIMIT 1 9223372036854775807",
        "SORT words",
        "SORT words ALPHA",
        "SORT words ALPHA DESC",
        "SORT words ALPHA LIMIT 1 2",
        // BY: strings, hash fields, missing keys sort as 0 / first.
        "SORT l BY w_*",
        "SORT l BY w_* DESC",
        "SORT l BY w_* LIMIT 1 3",
        "SORT z BY w_*",
        "SORT z BY w_* ALPHA",
        "SORT z BY w_* ALPHA DESC",
        "SORT s BY o_*->n",
        "SORT s BY o_*->n GET # GET o_*->name GET w_* GET nope_*",
        "SORT s BY o_*->n ALPHA",
        "SORT s BY o_*->",
        // nosort keeps the list's and the sorted set's order.
        "SORT l BY nosort",
        "SORT l BY nosort DESC",
        "SORT l BY nosort LIMIT 2 3",
        "SORT l BY nosort DESC LIMIT 2 3",
        "SORT z BY nosort",
        "SORT z BY nosort DESC",
        "SORT z BY nosort LIMIT 1 2",
        "SORT z BY nosort DESC LIMIT 1 2",
        "SORT z BY nosort LIMIT 5 2",
        "SORT z BY nosort GET w_*",
        "SORT l BY nosort BY w_*",
        // Sets without BY come back sorted.
        "SORT s",
        "SORT s DESC LIMIT 0 3",
        "SORT sw ALPHA",
        // GET.
        "SORT l GET w_*",
        "SORT l GET # GET w_* LIMIT 0 2",
        "SORT l GET nostar",
        "SORT z GET o_*->name",
        // Errors and their order.
        "SORT words",
        "SORT words BY w_*",
        "SORT str",
        "SORT str foo",
        "SORT l foo",
        "SORT l LIMIT 1",
        "SORT l LIMIT a 1",
        "SORT l LIMIT 1 b",
        "SORT l GET",
        "SORT l BY",
        "SORT l STORE",
        "SORT nokey",
        "SORT nokey BY w_* GET #",
        // STORE.
        "SORT l STORE dst",
        "LRANGE dst 0 -1",
        "TYPE dst",
        "SORT s BY nosort STORE dst",
        "LRANGE dst 0 -1",
        "SORT sw BY nosort STORE dst",
        "LRANGE dst 0 -1",
        "SORT l GET # GET w_* GET missing_* STORE dst",
        "LRANGE dst 0 -1",
        "SORT words STORE dst",
        "LRANGE dst 0 -1",
        "SORT words ALPHA STORE str",
        "TYPE str",
        "SORT l STORE l DESC",
        "LRANGE l 0 -1",
        "SORT nokey STORE dst",
        "EXISTS dst",
        "SORT nokey STORE dst",
        "SORT l LIMIT 100 1 STORE l2",
        "EXISTS l2",
        "SORT z STORE a STORE b",
        "EXISTS a b",
        // SORT_RO.
        "SORT_RO l",
        "SORT_RO z BY nosort DESC LIMIT 0 2",
        "SORT_RO l STORE x",
        "SORT_RO str",
        "SORT_RO",
        // The command table.
        "COMMAND GETKEYS SORT l",
        "COMMAND GETKEYS SORT l STORE d",
        "COMMAND GETKEYS SORT l BY store GET store LIMIT 0 1 STORE d1 STORE d2",
        "COMMAND GETKEYS SORT_RO l BY w_*",
        "COMMAND GETKEYS SORT l STORE",
    ]);
    same(&lines, false);
}

#[test]
fn sort_in_a_script_sorts_a_set_under_nosort() {
    same(
        &[
            "SADD s c a b 10 2",
            "EVAL \"return redis.call('sort', KEYS[1], 'by', 'nosort')\" 1 s",
            "EVAL \"return redis.call('sort_ro', KEYS[1], 'by', 'nosort', 'limit', 1, 2)\" 1 s",
            "MULTI",
            "SORT s STORE d",
            "SORT d ALPHA DESC",
            "EXEC",
        ],
        false,
    );
}

#[test]
fn command_info_matches_redis() {
    both(&[], |port, t| {
        let mut c = Resp::connect(port);
        for (name, arity, flags, keys) in [
            ("sort", -2, &["write", "movablekeys"][..], [1, 1, 1]),
            ("sort_ro", -2, &["readonly", "movablekeys"][..], [1, 1, 1]),
            ("lcs", -3, &["readonly"][..], [1, 2, 1]),
        ] {
            let info = c.qs(&format!("COMMAND INFO {name}"));
            let e = info.items()[0].items();
            assert_eq!(e[1], int(arity), "[{t:?}] {name}");
            for f in flags {
                assert!(e[2].items().contains(&st(f)), "[{t:?}] {name} {f}: {e:?}");
            }
            let got: Vec<i64> = e[3..6].iter().map(|r| r.int()).collect();
            assert_eq!(got, keys, "[{t:?}] {name}");
        }
    });
}

const LCS_FIXTURE: &[&str] = &[
    "SET a ohmytext",
    "SET b mynewtext",
    "SET c xyz",
    "SET e \"\"",
    "RPUSH l x",
    "SET long1 ABCBDABABCBDABCCBA",
    "SET long2 BDCABABCDBABBACBD",
];

#[test]
fn lcs_matches_redis() {
    let mut lines: Vec<&str> = LCS_FIXTURE.to_vec();
    lines.extend_from_slice(&[
        "LCS a b",
        "LCS a b LEN",
        "LCS a b IDX",
        "LCS a b IDX WITHMATCHLEN",
        "LCS a b IDX MINMATCHLEN 4",
        "LCS a b IDX MINMATCHLEN 4 WITHMATCHLEN",
        "LCS a b IDX MINMATCHLEN -1",
        "LCS a b MINMATCHLEN 3",
        "LCS long1 long2",
        "LCS long1 long2 IDX WITHMATCHLEN",
        "LCS long2 long1 IDX",
        "LCS a c",
        "LCS a c IDX",
        "LCS a e LEN",
        "LCS a nokey",
        "LCS nokey1 nokey2 IDX",
        "LCS a a IDX WITHMATCHLEN",
        // Errors and their order.
        "LCS a l",
        "LCS l a foo",
        "LCS a b foo",
        "LCS a b IDX LEN",
        "LCS a b MINMATCHLEN",
        "LCS a b MINMATCHLEN x",
        "LCS a",
        "CONFIG SET proto-max-bulk-len 1mb",
        "SETRANGE big 600 x",
        "LCS big big LEN",
        "LCS big a",
        "SETRANGE big2 400 x",
        "LCS big2 big2 LEN",
        "CONFIG SET proto-max-bulk-len 512mb",
    ]);
    same(&lines, false);
}

#[test]
fn lcs_idx_is_a_map_in_resp3() {
    let mut lines: Vec<&str> = LCS_FIXTURE.to_vec();
    lines.extend_from_slice(&["LCS a b IDX WITHMATCHLEN", "LCS a b", "LCS a b LEN"]);
    same(&lines, true);
}
