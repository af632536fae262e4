//! Introspection commands: SLOWLOG (`server/slowlog.rs`), LATENCY
//! (`latency.rs`) and MEMORY (the store's budget, `store/budget.rs`).

use super::{flags::*, node_cmd, Command, Ctx};
use crate::server::Server;
use crate::util::eq_ic;
use bytes::Bytes;
use std::fmt::Write as _;

pub(crate) fn commands() -> Vec<Command> {
    vec![
        node_cmd(
            "slowlog",
            -2,
            ADMIN | LOADING | STALE,
            "A container for slow log commands.",
            slowlog,
        )
        .syntax("subcommand [argument ...]")
        .subs(&[
            ("get", "slowlog|get", -2),
            ("len", "slowlog|len", 2),
            ("reset", "slowlog|reset", 2),
            ("help", "slowlog|help", 2),
        ]),
        node_cmd(
            "latency",
            -2,
            ADMIN | NOSCRIPT | LOADING | STALE,
            "A container for latency diagnostics commands.",
            latency,
        )
        .syntax("subcommand [argument ...]")
        .subs(&[
            ("latest", "latency|latest", 2),
            ("history", "latency|history", 3),
            ("reset", "latency|reset", -2),
            ("doctor", "latency|doctor", 2),
            ("graph", "latency|graph", 3),
            ("histogram", "latency|histogram", -2),
            ("help", "latency|help", 2),
        ]),
        Command {
            // MEMORY USAGE names a key (for COMMAND GETKEYS and clients).
            first_key: 2,
            last_key: 2,
            step: 1,
            ..node_cmd(
                "memory",
                -2,
                READONLY,
                "A container for memory diagnostics commands.",
                memory,
            )
        }
        .syntax("subcommand [argument ...]")
        .subs(&[
            ("usage", "memory|usage", -3),
            ("stats", "memory|stats", 2),
            ("doctor", "memory|doctor", 2),
            ("malloc-stats", "memory|malloc-stats", 2),
            ("purge", "memory|purge", 2),
            ("help", "memory|help", 2),
        ]),
    ]
}

/// The arguments as the slow log keeps them: passwords hidden, as Redis
/// redacts them (AUTH, HELLO's AUTH, CONFIG SET of a password).
pub(crate) fn redacted(args: &[Bytes]) -> std::borrow::Cow<'_, [Bytes]> {
    const HIDDEN: Bytes = Bytes::from_static(b"(redacted)");
    let name = &args[0];
    let mut hide: Vec<usize> = Vec::new();
    if eq_ic(name, "auth") {
        hide.extend(1..args.len());
    } else if eq_ic(name, "hello") {
        if let Some(i) = args.iter().position(|a| eq_ic(a, "auth")) {
            hide.extend((i + 1..i + 3).filter(|&j| j < args.len()));
        }
    } else if eq_ic(name, "config") && args.get(1).is_some_and(|a| eq_ic(a, "set")) {
        for i in (2..args.len()).step_by(2) {
            let secret = ["requirepass", "masterauth", "masteruser"]
                .iter()
                .any(|s| eq_ic(&args[i], s));
            if secret && i + 1 < args.len() {
                hide.push(i + 1);
            }
        }
    }
    if hide.is_empty() {
        return std::borrow::Cow::Borrowed(args);
    }
    let mut v = args.to_vec();
    for i in hide {
        v[i] = HIDDEN;
    }
    std::borrow::Cow::Owned(v)
}

fn unknown(ctx: &mut Ctx<'_>, a: &[Bytes], cmd: &str) {
    ctx.err(&format!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try {cmd} HELP.",
        String::from_utf8_lossy(&a[1])
    ));
}

fn slowlog(ctx: &mut Ctx<'_>, srv: &Server, a: &[Bytes]) {
    let sub = String::from_utf8_lossy(&a[1]).to_ascii_lowercase();
    match (sub.as_str(), a.len()) {
        ("help", 2) => ctx.help(&[
            "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "GET [<count>]",
            "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
            "    Entries are made of:",
            "    id, timestamp, time in microseconds, arguments array, client IP and port,",
            "    client name",
            "LEN",
            "    Return the length of the slowlog.",
            "RESET",
            "    Reset the slowlog.",
            "HELP",
            "    Prints this help.",
        ]),
        ("len", 2) => ctx.out.int(srv.slowlog.len() as i64),
        ("reset", 2) => {
            srv.slowlog.reset();
            ctx.out.ok();
        }
        ("get", 2 | 3) => {
            let count = match a.get(2) {
                None => Some(10),
                Some(c) => match crate::util::parse_i64(c) {
                    Some(-1) => None,
                    Some(n) if n >= 0 => Some(n as usize),
                    _ => return ctx.err("ERR count should be greater than or equal to -1"),
                },
            };
            let out = &mut *ctx.out;
            srv.slowlog.with_newest(count, |entries| {
                out.array(entries.len());
                for e in entries {
                    out.array(6);
                    out.int(e.id as i64);
                    out.int(e.time);
                    out.int(e.usec as i64);
                    out.array(e.args.len());
                    for arg in &e.args {
                        out.bulk(arg);
                    }
                    out.bulk(e.addr.as_bytes());
                    out.bulk(e.name.as_bytes());
                }
            });
        }
        _ => unknown(ctx, a, "SLOWLOG"),
    }
}

fn latency(ctx: &mut Ctx<'_>, srv: &Server, a: &[Bytes]) {
    use crate::latency;
    let sub = String::from_utf8_lossy(&a[1]).to_ascii_lowercase();
    match (sub.as_str(), a.len()) {
        ("help", 2) => ctx.help(&[
            "LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "DOCTOR",
            "    Return a human readable latency analysis report.",
            "GRAPH <event>",
            "    Return an ASCII latency graph for the <event> class.",
            "HISTORY <event>",
            "    Return time-latency samples for the <event> class.",
            "LATEST",
            "    Return the latest latency samples for all events.",
            "RESET [<event> ...]",
            "    Reset latency data of one or more <event> classes.",
            "    (default: reset all data for all event classes)",
            "HISTOGRAM [COMMAND ...]",
            "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
            "    If no commands are specified then all histograms are replied.",
            "HELP",
            "    Prints this help.",
        ]),
        ("latest", 2) => {
            let events = latency::events();
            ctx.out.array(events.len());
            for (name, s) in events {
                let last = s.samples.back().copied().unwrap_or(latency::Sample {
                    time: 0,
                    latency: 0,
                });
                ctx.out.array(4);
                ctx.out.bulk(name.as_bytes());
                ctx.out.int(last.time);
                ctx.out.int(last.latency as i64);
                ctx.out.int(s.max as i64);
            }
        }
        ("history", 3) => {
            let s = latency::series(&String::from_utf8_lossy(&a[2])).unwrap_or_default();
            ctx.out.array(s.samples.len());
            for x in &s.samples {
                ctx.out.array(2);
                ctx.out.int(x.time);
                ctx.out.int(x.latency as i64);
            }
        }
        ("reset", _) => {
            let names: Vec<String> = a[2..]
                .iter()
                .map(|n| String::from_utf8_lossy(n).into_owned())
                .collect();
            ctx.out.int(latency::reset(&names) as i64);
        }
        ("graph", 3) => {
            let name = String::from_utf8_lossy(&a[2]).into_owned();
            match latency::series(&name).filter(|s| !s.samples.is_empty()) {
                Some(s) => ctx.out.verbatim(&graph(&name, &s)),
                None => ctx.err(&format!("ERR No samples available for event '{name}'")),
            }
        }
        ("doctor", 2) => ctx.out.verbatim(&doctor()),
        ("histogram", _) => histogram(ctx, srv, &a[2..]),
        _ => unknown(ctx, a, "LATENCY"),
    }
}

/// LATENCY HISTOGRAM [command ...]: a map of command name to its calls
/// and cumulative `histogram_usec` (`server/cmdstats.rs`). A name is a
/// command, a container (its subcommands follow it) or `container|sub`;
/// unknown names and commands without calls are left out; without names,
/// every command with calls.
fn histogram(ctx: &mut Ctx<'_>, srv: &Server, names: &[Bytes]) {
    let mut rows: Vec<(&'static str, usize)> = Vec::new();
    if names.is_empty() {
        rows = srv.cmdstats.named_slots();
    }
    for n in names {
        let lower = String::from_utf8_lossy(n).to_ascii_lowercase();
        let (base, sub) = match lower.split_once('|') {
            Some((b, s)) => (b, Some(s)),
            None => (lower.as_str(), None),
        };
        let Some(c) = super::lookup(base.as_bytes()) else {
            continue;
        };
        match sub {
            Some(s) => {
                if let Some(j) = c.subs.iter().position(|x| x.0 == s) {
                    rows.push((c.subs[j].1, c.slot + 1 + j));
                }
            }
            None => {
                rows.push((c.name, c.slot));
                rows.extend(
                    c.subs
                        .iter()
                        .enumerate()
                        .map(|(j, x)| (x.1, c.slot + 1 + j)),
                );
            }
        }
    }
    let entries: Vec<_> = rows
        .into_iter()
        .filter_map(|(name, i)| srv.cmdstats.cdf(i).map(|c| (name, c)))
        .collect();
    ctx.out.map(entries.len());
    for (name, (calls, cdf)) in entries {
        ctx.out.bulk(name.as_bytes());
        ctx.out.map(2);
        ctx.out.bulk(b"calls");
        ctx.out.int(calls as i64);
        ctx.out.bulk(b"histogram_usec");
        ctx.out.map(cdf.len());
        for (us, n) in cdf {
            ctx.out.int(us as i64);
            ctx.out.int(n as i64);
        }
    }
}

/// LATENCY GRAPH: Redis's header, then one column per sample (oldest
/// left), 4 rows high, scaled between the lowest and highest sample, with
/// how long ago each was under it. The shape, not Redis's exact glyphs.
fn graph(name: &str, s: &crate::latency::Series) -> String {
    let (lo, hi) = s.samples.iter().fold((u64::MAX, 0), |(lo, hi), x| {
        (lo.min(x.latency), hi.max(x.latency))
    });
    let mut out = format!(
        "{name} - high {hi} ms, low {lo} ms (all time high {} ms)\n{}\n",
        s.max,
        "-".repeat(80)
    );
    const ROWS: u64 = 4;
    let level = |v: u64| {
        if hi == lo {
            ROWS
        } else {
            1 + (v - lo) * (ROWS - 1) / (hi - lo)
        }
    };
    for row in (1..=ROWS).rev() {
        let line: String = s
            .samples
            .iter()
            .map(|x| if level(x.latency) >= row { '#' } else { ' ' })
            .collect();
        out.push_str(line.trim_end());
        out.push('\n');
    }
    // How long ago, written downwards under each column ("12s", "3m").
    let now = crate::util::now_ms() / 1000;
    let labels: Vec<Vec<char>> = s
        .samples
        .iter()
        .map(|x| {
            let ago = (now - x.time).max(0);
            let t = if ago < 60 {
                format!("{ago}s")
            } else if ago < 3600 {
                format!("{}m", ago / 60)
            } else if ago < 86400 {
                format!("{}h", ago / 3600)
            } else {
                format!("{}d", ago / 86400)
            };
            t.chars().collect()
        })
        .collect();
    let depth = labels.iter().map(|l| l.len()).max().unwrap_or(0);
    for i in 0..depth {
        let line: String = labels.iter().map(|l| *l.get(i).unwrap_or(&' ')).collect();
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// LATENCY DOCTOR: Redis's texts when there is nothing to say, else each
/// event's spikes (count, average, mean deviation, period, worst) and the
/// advice that applies to sledis.
fn doctor() -> String {
    let events = crate::latency::events();
    if events.is_empty() {
        if crate::latency::threshold() == 0 {
            return "I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis instance. You may use \"CONFIG SET latency-monitor-threshold <milliseconds>.\" in order to enable it. If we weren't in a deep space mission I'd suggest to take a look at https://redis.io/topics/latency-monitor.\n".into();
        }
        return "Dave, no latency spike was observed during the lifetime of this Redis instance, not in the slightest bit. I honestly think you ought to sit down calmly, take a stress pill, and think things over.\n".into();
    }
    let mut s = String::from(
        "Dave, I have observed latency spikes in this Redis instance. You don't mind talking about it, do you Dave?\n\n",
    );
    let now = crate::util::now_ms() / 1000;
    let (mut slow_cmd, mut wal) = (false, false);
    for (i, (name, e)) in events.iter().enumerate() {
        let n = e.samples.len().max(1) as f64;
        let avg = e.samples.iter().map(|x| x.latency as f64).sum::<f64>() / n;
        let mad = e
            .samples
            .iter()
            .map(|x| (x.latency as f64 - avg).abs())
            .sum::<f64>()
            / n;
        let oldest = e.samples.front().map_or(now, |x| x.time);
        let period = ((now - oldest).max(1)) as f64 / n;
        let _ = writeln!(
            s,
            "{}. {name}: {} latency spikes (average {}ms, mean deviation {}ms, period {:.2} sec). Worst all time event {}ms.",
            i + 1,
            e.samples.len(),
            avg as u64,
            mad as u64,
            period,
            e.max
        );
        slow_cmd |= *name == "command" || *name == "fast-command";
        wal |= name.starts_with("aof");
    }
    s.push_str("\nI have a few advices for you:\n\n");
    if slow_cmd {
        s.push_str("- Check your Slow Log to understand what are the commands you are running which are too slow to execute. Please check https://redis.io/commands/slowlog for more information.\n");
    }
    if wal {
        s.push_str("- The WAL (sledis's AOF) is slow to write or fsync: check the disk it is on, and consider 'appendfsync everysec' if it is 'always'.\n");
    }
    if !slow_cmd && !wal {
        s.push_str("- The active expiry cycle was slow: many keys expiring at once each delete their elements from sled.\n");
    }
    s
}

fn memory(ctx: &mut Ctx<'_>, srv: &Server, a: &[Bytes]) {
    let sub = String::from_utf8_lossy(&a[1]).to_ascii_lowercase();
    match (sub.as_str(), a.len()) {
        ("help", 2) => ctx.help(&[
            "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "DOCTOR",
            "    Return memory problems reports.",
            "MALLOC-STATS",
            "    Return internal statistics report from the memory allocator.",
            "PURGE",
            "    Attempt to purge dirty pages for reclamation by the allocator.",
            "STATS",
            "    Return information about the memory usage of the server.",
            "USAGE <key> [SAMPLES <count>]",
            "    Return memory in bytes used by <key> and its value. Nested values are",
            "    sampled up to <count> times (default: 5, 0 means sample all).",
            "HELP",
            "    Prints this help.",
        ]),
        ("usage", n) if n >= 3 => {
            let mut samples = 5usize;
            let mut j = 3;
            while j < a.len() {
                if eq_ic(&a[j], "samples") && j + 1 < a.len() {
                    let Some(n) = super::int_arg(ctx, &a[j + 1]) else {
                        return;
                    };
                    if n < 0 {
                        return ctx.syntax_err();
                    }
                    samples = if n == 0 { usize::MAX } else { n as usize };
                    j += 2;
                } else {
                    return ctx.syntax_err();
                }
            }
            let db = ctx.db();
            match ctx.get(db, &a[2]) {
                None => ctx.out.null(),
                Some(m) => {
                    let n = crate::server::memory::key_usage(&srv.store, db, &a[2], &m, samples);
                    ctx.out.int(n as i64);
                }
            }
        }
        ("stats", 2) => {
            let stats = crate::server::memory::stats(srv);
            ctx.out.map(stats.len());
            for (k, v) in stats {
                ctx.out.bulk(k.as_bytes());
                match v {
                    crate::server::memory::Value::Int(i) => ctx.out.int(i),
                    crate::server::memory::Value::Float(f) => ctx.out.double(f),
                }
            }
        }
        ("doctor", 2) => ctx.out.verbatim(&crate::server::memory::doctor(srv)),
        ("malloc-stats", 2) => ctx.out.verbatim(&crate::server::memory::malloc_stats()),
        ("purge", 2) => {
            crate::server::memory::purge();
            ctx.out.ok();
        }
        _ => unknown(ctx, a, "MEMORY"),
    }
}
