//! Key specs (Redis 7.0's `keySpec`): where a command's keys are and what it
//! does with each (RO/RW/OW/RM, access, update, insert, delete). The specs
//! are Redis's own, taken from its COMMAND INFO into `keyspec_table.rs` by
//! `scripts/keyspecs.py`, so COMMAND INFO and GETKEYSANDFLAGS answer what
//! Redis answers. Finding keys by them follows Redis's
//! `getKeysFromCommandWithSpecs`, with its `getkeys_proc` fallbacks for the
//! commands sledis has (SORT, SET and BITFIELD, whose flags depend on the
//! arguments).

use super::keyspec_table::SPECS;
use crate::resp::Out;
use crate::util::eq_ic;
use bytes::Bytes;

pub(crate) struct KeySpec {
    pub notes: &'static str,
    pub flags: &'static [&'static str],
    pub begin: Begin,
    pub find: Find,
}

pub(crate) enum Begin {
    Index(i32),
    /// The keyword, and where to start looking for it (negative: from the
    /// end, backwards).
    Keyword(&'static str, i32),
    Unknown,
}

pub(crate) enum Find {
    /// lastkey, keystep, limit.
    Range(i32, i32, i32),
    /// keynumidx, firstkey, keystep.
    Keynum(i32, i32, i32),
    Unknown,
}

/// A command's key specs by full name (`get`, `object|encoding`).
pub(crate) fn specs(name: &str) -> &'static [KeySpec] {
    SPECS
        .binary_search_by(|(n, _)| n.cmp(&name))
        .map_or(&[], |i| SPECS[i].1)
}

/// Keys and their flags.
pub(crate) type Keys = Vec<(usize, &'static [&'static str])>;

/// The keys of `args` (the command name at 0) and their flags, as Redis's
/// `getKeysFromCommandWithSpecs` finds them; `not_key` specs are skipped.
pub(crate) fn keys_and_flags(name: &str, arity: i32, args: &[Bytes]) -> Keys {
    let specs = specs(name);
    if specs.iter().any(|s| s.flags.contains(&"variable_flags")) {
        return by_proc(name, args);
    }
    match by_specs(specs, arity, args) {
        Some(k) => k,
        None => by_proc(name, args),
    }
}

/// Redis's `getKeysUsingKeySpecs`; None for an unknown spec or arguments
/// that do not fit one (Redis then asks the command's `getkeys_proc`).
fn by_specs(specs: &[KeySpec], arity: i32, args: &[Bytes]) -> Option<Keys> {
    let argc = args.len() as i64;
    let mut out = Vec::new();
    for spec in specs {
        if spec.flags.contains(&"not_key") {
            continue;
        }
        let mut first: i64 = match spec.begin {
            Begin::Index(i) => i as i64,
            Begin::Keyword(kw, from) => {
                let from = from as i64;
                let (start, end) = if from > 0 {
                    (from, argc - 1)
                } else {
                    (argc + from, 1)
                };
                let mut found = 0;
                let mut i = start;
                while i != end {
                    if i >= argc || i < 1 {
                        break;
                    }
                    if eq_ic(&args[i as usize], kw) {
                        found = i + 1;
                        break;
                    }
                    i = if start <= end { i + 1 } else { i - 1 };
                }
                if found == 0 {
                    continue;
                }
                found
            }
            Begin::Unknown => return None,
        };
        let (last, step) = match spec.find {
            Find::Range(lastkey, step, limit) => {
                let last = if lastkey >= 0 {
                    first + lastkey as i64
                } else if limit == 0 {
                    argc + lastkey as i64
                } else {
                    first + ((argc - first) / limit as i64 + lastkey as i64)
                };
                (last, step as i64)
            }
            Find::Keynum(idx, firstkey, step) => {
                if idx as i64 >= argc - first {
                    if arity < 0 {
                        continue;
                    }
                    return None;
                }
                let n = crate::util::parse_i64(&args[(first + idx as i64) as usize])
                    .filter(|&n| n >= 0)?;
                first += firstkey as i64;
                (first + n - 1, step as i64)
            }
            Find::Unknown => return None,
        };
        if last >= argc || last < first || first >= argc {
            return None;
        }
        let mut i = first;
        while i <= last {
            out.push((i as usize, spec.flags));
            i += step.max(1);
        }
    }
    Some(out)
}

const RO_ACCESS: &[&str] = &["RO", "access"];
const OW_UPDATE: &[&str] = &["OW", "update"];
const RW_ACCESS_UPDATE: &[&str] = &["RW", "access", "update"];

/// The `getkeys_proc`s of Redis 7.0 for sledis's commands whose specs are
/// incomplete or whose flags vary: `sortGetKeys`, `sortROGetKeys`,
/// `setGetKeys`, `bitfieldGetKeys`. Any other command whose arguments did
/// not fit its specs has no keys (Redis's procs refuse such arguments too).
fn by_proc(name: &str, args: &[Bytes]) -> Keys {
    match name {
        "sort" => {
            let mut k = vec![(1, RO_ACCESS)];
            k.extend(
                super::sort::store_key(args)
                    .into_iter()
                    .map(|s| (s, OW_UPDATE)),
            );
            k
        }
        "sort_ro" => vec![(1, RO_ACCESS)],
        "set" => {
            let get = args.iter().skip(3).any(|a| eq_ic(a, "get"));
            vec![(1, if get { RW_ACCESS_UPDATE } else { OW_UPDATE })]
        }
        "bitfield" => {
            let mut readonly = true;
            let mut i = 2;
            while i < args.len() {
                let rem = args.len() - i - 1;
                let a = &args[i];
                if eq_ic(a, "get") && rem >= 2 {
                    i += 2;
                } else if (eq_ic(a, "set") || eq_ic(a, "incrby")) && rem >= 3 {
                    readonly = false;
                    break;
                } else if eq_ic(a, "overflow") && rem >= 1 {
                    i += 1;
                } else {
                    readonly = false;
                    break;
                }
                i += 1;
            }
            vec![(
                1,
                if readonly {
                    RO_ACCESS
                } else {
                    RW_ACCESS_UPDATE
                },
            )]
        }
        _ => Vec::new(),
    }
}

/// COMMAND INFO's key specs of a command, as Redis writes them.
pub(crate) fn write_specs(out: &mut Out, name: &str) {
    let specs = specs(name);
    out.set(specs.len());
    for s in specs {
        out.map(3 + !s.notes.is_empty() as usize);
        if !s.notes.is_empty() {
            out.bulk(b"notes");
            out.bulk(s.notes.as_bytes());
        }
        out.bulk(b"flags");
        write_flags(out, s.flags);
        out.bulk(b"begin_search");
        out.map(2);
        out.bulk(b"type");
        match s.begin {
            Begin::Index(i) => {
                out.bulk(b"index");
                out.bulk(b"spec");
                out.map(1);
                out.bulk(b"index");
                out.int(i as i64);
            }
            Begin::Keyword(kw, from) => {
                out.bulk(b"keyword");
                out.bulk(b"spec");
                out.map(2);
                out.bulk(b"keyword");
                out.bulk(kw.as_bytes());
                out.bulk(b"startfrom");
                out.int(from as i64);
            }
            Begin::Unknown => {
                out.bulk(b"unknown");
                out.bulk(b"spec");
                out.map(0);
            }
        }
        out.bulk(b"find_keys");
        out.map(2);
        out.bulk(b"type");
        match s.find {
            Find::Range(last, step, limit) => {
                out.bulk(b"range");
                out.bulk(b"spec");
                out.map(3);
                out.bulk(b"lastkey");
                out.int(last as i64);
                out.bulk(b"keystep");
                out.int(step as i64);
                out.bulk(b"limit");
                out.int(limit as i64);
            }
            Find::Keynum(idx, first, step) => {
                out.bulk(b"keynum");
                out.bulk(b"spec");
                out.map(3);
                out.bulk(b"keynumidx");
                out.int(idx as i64);
                out.bulk(b"firstkey");
                out.int(first as i64);
                out.bulk(b"keystep");
                out.int(step as i64);
            }
            Find::Unknown => {
                out.bulk(b"unknown");
                out.bulk(b"spec");
                out.map(0);
            }
        }
    }
}

/// Key flags as a set of status strings (Redis's `addReplyFlagsForKeyArgs`).
pub(crate) fn write_flags(out: &mut Out, flags: &[&str]) {
    out.set(flags.len());
    for f in flags {
        out.simple(f);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_for_binary_search() {
        assert!(SPECS.windows(2).all(|w| w[0].0 < w[1].0));
        assert_eq!(specs("lmove").len(), 2);
        assert!(specs("nosuch").is_empty());
    }
}
