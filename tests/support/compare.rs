//! Command semantics against Redis 7.0: the same checks run first against
//! a real `redis-server` (so the expectations written in a test are Redis's
//! own answers, not guesses), then against a sledis node. Checks of things
//! only sledis has (INFO fields of its own, DEBUG DIGEST across nodes, keys
//! expiring actively through the WAL) run against sledis alone.

use super::{err, Node, RealRedis, Reply, Resp};

#[derive(Clone, Copy, PartialEq, Debug)]
pub enum Target {
    Redis,
    Sledis,
}

/// Runs `check` against a real redis-server, then against a sledis node
/// started with `lines`.
pub fn both(lines: &[&str], check: impl Fn(u16, Target)) {
    {
        let r = RealRedis::start(&[]);
        check(r.port, Target::Redis);
    }
    let n = Node::start(lines);
    check(n.port, Target::Sledis);
}

/// Asserts each `(command line, expected reply)` in order on one connection.
pub fn script(c: &mut Resp, t: Target, steps: &[(&str, Reply)]) {
    for (i, (line, want)) in steps.iter().enumerate() {
        let got = c.qs(line);
        assert_eq!(&got, want, "[{t:?}] step {i}: `{line}`");
    }
}

pub fn in_range(r: &Reply, lo: i64, hi: i64, what: &str) {
    let v = r.int();
    assert!(v >= lo && v <= hi, "{what}: {v} not in {lo}..={hi}");
}

pub const NOT_INT: &str = "ERR value is not an integer or out of range";
pub const SYNTAX: &str = "ERR syntax error";
pub const NOT_FLOAT: &str = "ERR value is not a valid float";

pub fn arity(cmd: &str) -> Reply {
    err(&format!(
        "ERR wrong number of arguments for '{cmd}' command"
    ))
}
