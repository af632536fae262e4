//! Argument syntax (each command row's `syntax`, written the way Redis's
//! docs print it) turned into the `arguments` of COMMAND DOCS. redis-cli
//! builds its interactive hints (`set key value [NX|XX] ...`) from those.
//!
//! Grammar: UPPERCASE words are tokens (alone: a pure token, followed by a
//! lowercase word: that argument's token), lowercase words are arguments,
//! `[...]` is optional, `a|b` picks one, `...` after an item repeats it.

use crate::resp::Out;

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Arg {
    pub name: String,
    pub kind: &'static str,
    pub token: Option<String>,
    pub optional: bool,
    pub multiple: bool,
    pub sub: Vec<Arg>,
}

fn lex(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for c in s.chars() {
        match c {
            '[' | ']' | '|' => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
                out.push(c.to_string());
            }
            ' ' => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            _ => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn is_token(w: &str) -> bool {
    w.chars().any(|c| c.is_ascii_uppercase()) && !w.chars().any(|c| c.is_ascii_lowercase())
}

fn kind_of(name: &str) -> &'static str {
    match name {
        n if n.starts_with("key") || n == "newkey" || n == "source" || n == "destination" => "key",
        n if n.starts_with("unix-time") => "unix-time",
        "pattern" => "pattern",
        "seconds" | "milliseconds" | "count" | "offset" | "start" | "end" | "cursor" | "index"
        | "db" | "destination-db" | "increment" | "decrement" | "protover" | "numkeys" | "stop"
        | "rank" | "num-matches" | "len" | "limit" => "integer",
        "timeout" | "score" | "weight" => "double",
        "dst" | "src" => "key",
        _ => "string",
    }
}

fn arg(name: &str) -> Arg {
    Arg {
        name: name.to_string(),
        kind: kind_of(name),
        token: None,
        optional: false,
        multiple: false,
        sub: vec![],
    }
}

/// Parses a sequence until `]`, `|` or the end.
fn parse_seq(toks: &[String], i: &mut usize) -> Vec<Arg> {
    let mut out: Vec<Arg> = Vec::new();
    while *i < toks.len() {
        let t = toks[*i].as_str();
        match t {
            "]" | "|" => break,
            "..." => {
                if let Some(last) = out.last_mut() {
                    last.multiple = true;
                }
                *i += 1;
            }
            "[" => {
                *i += 1;
                let mut alts = vec![parse_seq(toks, i)];
                while *i < toks.len() && toks[*i] == "|" {
                    *i += 1;
                    alts.push(parse_seq(toks, i));
                }
                if *i < toks.len() && toks[*i] == "]" {
                    *i += 1;
                }
                let mut a = group(alts);
                a.optional = true;
                out.push(a);
            }
            w if is_token(w) => {
                *i += 1;
                match toks.get(*i) {
                    Some(n) if !is_token(n) && !matches!(n.as_str(), "[" | "]" | "|" | "...") => {
                        let mut a = arg(n);
                        a.token = Some(w.to_string());
                        *i += 1;
                        out.push(a);
                    }
                    _ => out.push(Arg {
                        name: w.to_ascii_lowercase(),
                        kind: "pure-token",
                        token: Some(w.to_string()),
                        optional: false,
                        multiple: false,
                        sub: vec![],
                    }),
                }
            }
            w => {
                *i += 1;
                out.push(arg(w));
            }
        }
    }
    out
}

/// One alternative of one item is that item; several items form a block;
/// several alternatives a oneof.
fn group(mut alts: Vec<Vec<Arg>>) -> Arg {
    let as_one = |mut seq: Vec<Arg>| -> Arg {
        if seq.len() == 1 {
            seq.remove(0)
        } else {
            let name = seq
                .iter()
                .map(|a| a.name.clone())
                .collect::<Vec<_>>()
                .join("-");
            Arg {
                name,
                kind: "block",
                token: None,
                optional: false,
                multiple: false,
                sub: seq,
            }
        }
    };
    if alts.len() == 1 {
        return as_one(alts.remove(0));
    }
    let sub: Vec<Arg> = alts.into_iter().map(as_one).collect();
    let name = sub
        .iter()
        .map(|a| a.name.clone())
        .collect::<Vec<_>>()
        .join("-");
    Arg {
        name,
        kind: "oneof",
        token: None,
        optional: false,
        multiple: false,
        sub,
    }
}

pub(crate) fn parse(s: &str) -> Vec<Arg> {
    let toks = lex(s);
    let mut i = 0;
    parse_seq(&toks, &mut i)
}

/// Writes an `arguments` array as COMMAND DOCS does.
pub(crate) fn write_args(out: &mut Out, args: &[Arg]) {
    out.array(args.len());
    for a in args {
        let mut flags = Vec::new();
        if a.optional {
            flags.push("optional");
        }
        if a.multiple {
            flags.push("multiple");
        }
        let n = 2
            + a.token.is_some() as usize
            + !flags.is_empty() as usize
            + !a.sub.is_empty() as usize;
        out.map(n);
        out.bulk(b"name");
        out.bulk(a.name.as_bytes());
        out.bulk(b"type");
        out.bulk(a.kind.as_bytes());
        if let Some(t) = &a.token {
            out.bulk(b"token");
            out.bulk(t.as_bytes());
        }
        if !flags.is_empty() {
            out.bulk(b"flags");
            out.set(flags.len());
            for f in flags {
                out.simple(f);
            }
        }
        if !a.sub.is_empty() {
            out.bulk(b"arguments");
            write_args(out, &a.sub);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_syntax() {
        let a = parse(crate::command::lookup(b"set").expect("set").syntax);
        assert_eq!(a.len(), 5);
        assert_eq!(a[0].kind, "key");
        assert_eq!(a[2].kind, "oneof");
        assert!(a[2].optional);
        assert_eq!(a[2].sub[0].token.as_deref(), Some("NX"));
        assert_eq!(a[4].sub[0].token.as_deref(), Some("EX"));
        assert_eq!(a[4].sub[0].kind, "integer");
        assert_eq!(a[4].sub[4].kind, "pure-token");
    }

    /// Every command's syntax parses, and names its arguments (redis-cli
    /// builds its hints from them).
    #[test]
    fn every_command_has_a_syntax() {
        let mut missing: Vec<&str> = crate::command::table()
            .iter()
            .filter(|(_, c)| (c.arity < -1 || c.arity > 1) && parse(c.syntax).is_empty())
            .map(|(name, _)| *name)
            .collect();
        missing.sort();
        assert!(missing.is_empty(), "no syntax for {missing:?}");
    }

    #[test]
    fn repeats_and_blocks() {
        let a = parse("[key value] ...");
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].kind, "block");
        assert!(a[0].multiple && a[0].optional);
        let a = parse("key ...");
        assert!(a[0].multiple);
    }
}
