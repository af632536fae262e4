//! The `cjson` library scripts see (lua-cjson 2.1 as Redis bundles it):
//! `encode`, `decode` and `null`, with its output (`%.14g` numbers, `\/`
//! escaped, Lua's table order) and error texts, and its settings
//! functions (`encode_sparse_array`, `encode_max_depth`, ...).

use super::bit::{arg_error, position};
use mlua::{LightUserData, Lua, MultiValue, Table, Value};
use parking_lot::Mutex;

/// lua-cjson's settings. Redis has one Lua VM, so a script that changes
/// them changes them for every later script until SCRIPT FLUSH; sledis
/// has a VM per thread, so they live here, for the whole process, tagged
/// with the script generation they belong to.
#[derive(Clone, Copy)]
struct Config {
    sparse_convert: bool,
    sparse_ratio: i64,
    sparse_safe: i64,
    encode_max_depth: i64,
    decode_max_depth: i64,
    precision: i32,
    keep_buffer: bool,
    /// 0 refuse, 1 write them, 2 write null.
    encode_invalid: usize,
    decode_invalid: bool,
}

const DEFAULTS: Config = Config {
    sparse_convert: false,
    sparse_ratio: 2,
    sparse_safe: 10,
    encode_max_depth: 1000,
    decode_max_depth: 1000,
    precision: 14,
    keep_buffer: true,
    encode_invalid: 0,
    decode_invalid: true,
};

static CONFIG: Mutex<(u64, Config)> = Mutex::new((0, DEFAULTS));

fn config(generation: u64) -> Config {
    let g = CONFIG.lock();
    if g.0 == generation {
        g.1
    } else {
        DEFAULTS
    }
}

fn update(generation: u64, f: impl FnOnce(&mut Config)) -> Config {
    let mut g = CONFIG.lock();
    if g.0 != generation {
        *g = (generation, DEFAULTS);
    }
    f(&mut g.1);
    g.1
}

/// lua-cjson's `json_check_args`.
fn check_args(lua: &Lua, args: &MultiValue, n: usize, func: &str) -> mlua::Result<()> {
    if args.len() > n {
        return Err(arg_error(lua, n + 1, func, "found too many arguments"));
    }
    Ok(())
}

/// lua-cjson's `json_integer_option`: a new value if given (its range
/// error always names argument 1, as lua-cjson's does).
fn int_option(
    lua: &Lua,
    v: Option<&Value>,
    n: usize,
    func: &str,
    (min, max): (i64, i64),
) -> mlua::Result<Option<i64>> {
    let x = match v {
        None | Some(Value::Nil) => return Ok(None),
        Some(Value::Integer(i)) => *i,
        Some(Value::Number(f)) => *f as i64,
        Some(Value::String(s)) => {
            match s.to_str().ok().and_then(|t| t.trim().parse::<f64>().ok()) {
                Some(f) => f as i64,
                None => return Err(arg_error(lua, n, func, "number expected, got string")),
            }
        }
        Some(other) => {
            let got = other.type_name();
            return Err(arg_error(
                lua,
                n,
                func,
                &format!("number expected, got {got}"),
            ));
        }
    };
    if !(min..=max).contains(&x) {
        return Err(arg_error(
            lua,
            1,
            func,
            &format!("expected integer between {min} and {max}"),
        ));
    }
    Ok(Some(x))
}

/// lua-cjson's `json_enum_option` with booleans allowed: the option's
/// index if given.
fn enum_option(
    lua: &Lua,
    v: Option<&Value>,
    n: usize,
    func: &str,
    options: &[&str],
) -> mlua::Result<Option<usize>> {
    let name = match v {
        None | Some(Value::Nil) => return Ok(None),
        Some(Value::Boolean(b)) => return Ok(Some(usize::from(*b))),
        Some(Value::String(s)) => s.to_string_lossy(),
        Some(Value::Integer(i)) => i.to_string(),
        Some(Value::Number(f)) => super::lua::format_g(*f, 14),
        Some(other) => {
            let got = other.type_name();
            return Err(arg_error(
                lua,
                n,
                func,
                &format!("string expected, got {got}"),
            ));
        }
    };
    match options.iter().position(|o| *o == name) {
        Some(i) => Ok(Some(i)),
        None => Err(arg_error(lua, n, func, &format!("invalid option '{name}'"))),
    }
}

/// How lua-cjson returns an enum option: a boolean for off/on, else its
/// name.
fn enum_value(lua: &Lua, i: usize, options: &[&str]) -> mlua::Result<Value> {
    if i <= 1 {
        return Ok(Value::Boolean(i == 1));
    }
    Ok(Value::String(lua.create_string(options[i])?))
}

const MAX_INT: i64 = i32::MAX as i64;

/// The settings functions.
fn settings(lua: &Lua, t: &Table, generation: u64) -> mlua::Result<()> {
    t.set(
        "encode_sparse_array",
        lua.create_function(move |lua, args: MultiValue| {
            let f = "encode_sparse_array";
            check_args(lua, &args, 3, f)?;
            let a: Vec<Value> = args.into_iter().collect();
            let convert = match a.first() {
                None | Some(Value::Nil) => None,
                Some(Value::Boolean(b)) => Some(*b),
                Some(v) => {
                    enum_option(lua, Some(v), 1, f, &[])?;
                    None
                }
            };
            let ratio = int_option(lua, a.get(1), 2, f, (0, MAX_INT))?;
            let safe = int_option(lua, a.get(2), 3, f, (0, MAX_INT))?;
            let c = update(generation, |c| {
                if let Some(v) = convert {
                    c.sparse_convert = v;
                }
                if let Some(v) = ratio {
                    c.sparse_ratio = v;
                }
                if let Some(v) = safe {
                    c.sparse_safe = v;
                }
            });
            Ok((c.sparse_convert, c.sparse_ratio, c.sparse_safe))
        })?,
    )?;
    for (name, decode) in [("encode_max_depth", false), ("decode_max_depth", true)] {
        t.set(
            name,
            lua.create_function(move |lua, args: MultiValue| {
                check_args(lua, &args, 1, name)?;
                let v = int_option(lua, args.iter().next(), 1, name, (1, MAX_INT))?;
                let c = update(generation, |c| {
                    if let Some(v) = v {
                        if decode {
                            c.decode_max_depth = v;
                        } else {
                            c.encode_max_depth = v;
                        }
                    }
                });
                Ok(if decode {
                    c.decode_max_depth
                } else {
                    c.encode_max_depth
                })
            })?,
        )?;
    }
    t.set(
        "encode_number_precision",
        lua.create_function(move |lua, args: MultiValue| {
            let f = "encode_number_precision";
            check_args(lua, &args, 1, f)?;
            let v = int_option(lua, args.iter().next(), 1, f, (1, 14))?;
            let c = update(generation, |c| {
                if let Some(v) = v {
                    c.precision = v as i32;
                }
            });
            Ok(c.precision)
        })?,
    )?;
    for (name, options) in [
        ("encode_keep_buffer", &["off", "on"][..]),
        ("encode_invalid_numbers", &["off", "on", "null"][..]),
        ("decode_invalid_numbers", &["off", "on"][..]),
    ] {
        t.set(
            name,
            lua.create_function(move |lua, args: MultiValue| {
                check_args(lua, &args, 1, name)?;
                let v = enum_option(lua, args.iter().next(), 1, name, options)?;
                let c = update(generation, |c| match (name, v) {
                    (_, None) => {}
                    ("encode_keep_buffer", Some(v)) => c.keep_buffer = v == 1,
                    ("encode_invalid_numbers", Some(v)) => c.encode_invalid = v,
                    (_, Some(v)) => c.decode_invalid = v == 1,
                });
                let i = match name {
                    "encode_keep_buffer" => usize::from(c.keep_buffer),
                    "encode_invalid_numbers" => c.encode_invalid,
                    _ => usize::from(c.decode_invalid),
                };
                enum_value(lua, i, options)
            })?,
        )?;
    }
    Ok(())
}

fn null() -> Value {
    Value::LightUserData(LightUserData(std::ptr::null_mut()))
}

/// The library for a VM of script generation `generation`.
pub(crate) fn open(lua: &Lua, generation: u64) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.set(
        "encode",
        lua.create_function(move |lua, args: MultiValue| {
            if args.len() != 1 {
                return Err(arg_error(lua, 1, "encode", "expected 1 argument"));
            }
            let v = args.into_iter().next().unwrap_or(Value::Nil);
            let mut out = Vec::new();
            encode(lua, &config(generation), &v, 0, &mut out)?;
            lua.create_string(&out)
        })?,
    )?;
    t.set(
        "decode",
        lua.create_function(move |lua, args: MultiValue| {
            if args.len() != 1 {
                return Err(arg_error(lua, 1, "decode", "expected 1 argument"));
            }
            let v = args.into_iter().next().unwrap_or(Value::Nil);
            let text = match &v {
                Value::String(s) => s.as_bytes().to_vec(),
                Value::Integer(_) | Value::Number(_) => lua
                    .coerce_string(v.clone())?
                    .map(|s| s.as_bytes().to_vec())
                    .unwrap_or_default(),
                other => {
                    let got = other.type_name();
                    return Err(arg_error(
                        lua,
                        1,
                        "decode",
                        &format!("string expected, got {got}"),
                    ));
                }
            };
            let mut p = Parser {
                lua,
                cfg: config(generation),
                s: &text,
                pos: 0,
            };
            p.document()
        })?,
    )?;
    t.set("null", null())?;
    settings(lua, &t, generation)?;
    Ok(t)
}

fn fail(lua: &Lua, what: &str, reason: &str) -> mlua::Error {
    mlua::Error::runtime(position(lua, &format!("Cannot serialise {what}: {reason}")))
}

/// `%.<precision>g`, lua-cjson's number format.
fn number(n: f64, precision: i32, out: &mut Vec<u8>) {
    if n.is_nan() {
        out.extend_from_slice(b"nan");
    } else if n.is_infinite() {
        out.extend_from_slice(if n > 0.0 { b"inf" } else { b"-inf" });
    } else {
        out.extend_from_slice(super::lua::format_g(n, precision).as_bytes());
    }
}

fn string(s: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    for &b in s {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'/' => out.extend_from_slice(b"\\/"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            0..=0x1f | 0x7f => out.extend_from_slice(format!("\\u{b:04x}").as_bytes()),
            _ => out.push(b),
        }
    }
    out.push(b'"');
}

fn encode(lua: &Lua, cfg: &Config, v: &Value, depth: usize, out: &mut Vec<u8>) -> mlua::Result<()> {
    let p = cfg.precision;
    match v {
        Value::Nil => out.extend_from_slice(b"null"),
        Value::LightUserData(u) if u.0.is_null() => out.extend_from_slice(b"null"),
        Value::Boolean(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Integer(n) => number(*n as f64, p, out),
        Value::Number(n) => match (n.is_finite(), cfg.encode_invalid) {
            (true, _) | (false, 1) => number(*n, p, out),
            (false, 2) => out.extend_from_slice(b"null"),
            (false, _) => return Err(fail(lua, "number", "must not be NaN or Inf")),
        },
        Value::String(s) => string(&s.as_bytes(), out),
        Value::Table(t) => {
            let depth = depth + 1;
            if depth as i64 > cfg.encode_max_depth {
                return Err(mlua::Error::runtime(position(
                    lua,
                    &format!("Cannot serialise, excessive nesting ({depth})"),
                )));
            }
            match array_length(lua, cfg, t)? {
                Some(n) if n > 0 => {
                    out.push(b'[');
                    for i in 1..=n {
                        if i > 1 {
                            out.push(b',');
                        }
                        encode(lua, cfg, &t.raw_get::<Value>(i)?, depth, out)?;
                    }
                    out.push(b']');
                }
                _ => {
                    out.push(b'{');
                    let mut first = true;
                    for pair in t.clone().pairs::<Value, Value>() {
                        let (k, val) = pair?;
                        if !first {
                            out.push(b',');
                        }
                        first = false;
                        match &k {
                            Value::String(s) => string(&s.as_bytes(), out),
                            Value::Integer(n) => {
                                out.push(b'"');
                                number(*n as f64, p, out);
                                out.push(b'"');
                            }
                            Value::Number(n) => {
                                out.push(b'"');
                                number(*n, p, out);
                                out.push(b'"');
                            }
                            other => {
                                return Err(fail(
                                    lua,
                                    other.type_name(),
                                    "table key must be a number or string",
                                ))
                            }
                        }
                        out.push(b':');
                        encode(lua, cfg, &val, depth, out)?;
                    }
                    out.push(b'}');
                }
            }
        }
        other => return Err(fail(lua, other.type_name(), "type not supported")),
    }
    Ok(())
}

/// lua-cjson's `lua_array_length`: the greatest key if every key is an
/// integer >= 1 (None: an object), refusing an excessively sparse array
/// (or making it an object, under `encode_sparse_array(true)`).
fn array_length(lua: &Lua, cfg: &Config, t: &Table) -> mlua::Result<Option<usize>> {
    let mut max = 0.0f64;
    let mut items = 0.0f64;
    for pair in t.clone().pairs::<Value, Value>() {
        let (k, _) = pair?;
        let k = match k {
            Value::Integer(i) => i as f64,
            Value::Number(n) => n,
            _ => return Ok(None),
        };
        if k.floor() != k || k < 1.0 {
            return Ok(None);
        }
        max = max.max(k);
        items += 1.0;
    }
    let ratio = cfg.sparse_ratio as f64;
    if ratio > 0.0 && max > items * ratio && max > cfg.sparse_safe as f64 {
        if cfg.sparse_convert {
            return Ok(None);
        }
        return Err(fail(lua, "table", "excessively sparse array"));
    }
    Ok(Some(max as usize))
}

/// lua-cjson's decoder, with its token names in errors.
struct Parser<'a> {
    lua: &'a Lua,
    cfg: Config,
    s: &'a [u8],
    pos: usize,
}

#[derive(Debug)]
enum Tok {
    ObjBegin,
    ObjEnd,
    ArrBegin,
    ArrEnd,
    Str(Vec<u8>),
    Num(f64),
    Bool(bool),
    Null,
    Colon,
    Comma,
    End,
    Error(&'static str),
}

impl Tok {
    fn name(&self) -> &'static str {
        match self {
            Tok::ObjBegin => "T_OBJ_BEGIN",
            Tok::ObjEnd => "T_OBJ_END",
            Tok::ArrBegin => "T_ARR_BEGIN",
            Tok::ArrEnd => "T_ARR_END",
            Tok::Str(_) => "T_STRING",
            Tok::Num(_) => "T_NUMBER",
            Tok::Bool(_) => "T_BOOLEAN",
            Tok::Null => "T_NULL",
            Tok::Colon => "T_COLON",
            Tok::Comma => "T_COMMA",
            Tok::End => "T_END",
            Tok::Error(e) => e,
        }
    }
}

impl<'a> Parser<'a> {
    fn document(&mut self) -> mlua::Result<Value> {
        let (tok, at) = self.next();
        let v = self.value(tok, at, 0)?;
        let (tok, at) = self.next();
        if !matches!(tok, Tok::End) {
            return Err(self.error("the end", &tok, at));
        }
        Ok(v)
    }

    fn error(&self, expected: &str, found: &Tok, at: usize) -> mlua::Error {
        let found = found.name();
        mlua::Error::runtime(position(
            self.lua,
            &format!(
                "Expected {expected} but found {found} at character {}",
                at + 1
            ),
        ))
    }

    fn value(&mut self, tok: Tok, at: usize, depth: usize) -> mlua::Result<Value> {
        let lua = self.lua;
        Ok(match tok {
            Tok::Str(s) => Value::String(lua.create_string(&s)?),
            Tok::Num(n) => Value::Number(n),
            Tok::Bool(b) => Value::Boolean(b),
            Tok::Null => null(),
            Tok::ObjBegin => {
                let depth = self.nest(depth, at)?;
                let t = lua.create_table()?;
                let (mut tok, mut at) = self.next();
                if matches!(tok, Tok::ObjEnd) {
                    return Ok(Value::Table(t));
                }
                loop {
                    let Tok::Str(k) = tok else {
                        return Err(self.error("object key string", &tok, at));
                    };
                    let (c, cat) = self.next();
                    if !matches!(c, Tok::Colon) {
                        return Err(self.error("colon", &c, cat));
                    }
                    let (vt, vat) = self.next();
                    let v = self.value(vt, vat, depth)?;
                    t.raw_set(lua.create_string(&k)?, v)?;
                    let (sep, sat) = self.next();
                    match sep {
                        Tok::ObjEnd => return Ok(Value::Table(t)),
                        Tok::Comma => {}
                        other => return Err(self.error("comma or object end", &other, sat)),
                    }
                    (tok, at) = self.next();
                }
            }
            Tok::ArrBegin => {
                let depth = self.nest(depth, at)?;
                let t = lua.create_table()?;
                let (mut tok, mut at) = self.next();
                if matches!(tok, Tok::ArrEnd) {
                    return Ok(Value::Table(t));
                }
                let mut i = 1;
                loop {
                    let v = self.value(tok, at, depth)?;
                    t.raw_set(i, v)?;
                    i += 1;
                    let (sep, sat) = self.next();
                    match sep {
                        Tok::ArrEnd => return Ok(Value::Table(t)),
                        Tok::Comma => {}
                        other => return Err(self.error("comma or array end", &other, sat)),
                    }
                    (tok, at) = self.next();
                }
            }
            other => return Err(self.error("value", &other, at)),
        })
    }

    fn nest(&self, depth: usize, at: usize) -> mlua::Result<usize> {
        let depth = depth + 1;
        if depth as i64 > self.cfg.decode_max_depth {
            return Err(mlua::Error::runtime(position(
                self.lua,
                &format!(
                    "Found too many nested data structures ({depth}) at character {}",
                    at + 1
                ),
            )));
        }
        Ok(depth)
    }

    /// The next token and where it starts.
    fn next(&mut self) -> (Tok, usize) {
        while self.pos < self.s.len() && matches!(self.s[self.pos], b' ' | b'\t' | b'\n' | b'\r') {
            self.pos += 1;
        }
        let at = self.pos;
        let Some(&c) = self.s.get(at) else {
            return (Tok::End, at);
        };
        let single = match c {
            b'{' => Some(Tok::ObjBegin),
            b'}' => Some(Tok::ObjEnd),
            b'[' => Some(Tok::ArrBegin),
            b']' => Some(Tok::ArrEnd),
            b':' => Some(Tok::Colon),
            b',' => Some(Tok::Comma),
            _ => None,
        };
        if let Some(t) = single {
            self.pos += 1;
            return (t, at);
        }
        if c == b'"' {
            return self.string(at);
        }
        if c == b'-' || c.is_ascii_digit() {
            if !self.cfg.decode_invalid && invalid_number(&self.s[at..]) {
                return (Tok::Error("invalid number"), at);
            }
            return self.number(at);
        }
        for (word, tok) in [
            (&b"true"[..], Tok::Bool(true)),
            (b"false", Tok::Bool(false)),
            (b"null", Tok::Null),
        ] {
            if self.s[at..].starts_with(word) {
                self.pos += word.len();
                return (tok, at);
            }
        }
        // Under decode_invalid_numbers (the default), what strtod reads
        // but JSON does not: hex, inf, nan, a leading +.
        if self.cfg.decode_invalid && invalid_number(&self.s[at..]) {
            return self.number(at);
        }
        (Tok::Error("invalid token"), at)
    }

    /// A number token, read as C's strtod reads it.
    fn number(&mut self, at: usize) -> (Tok, usize) {
        match strtod(&self.s[at..]) {
            Some((n, used)) => {
                self.pos = at + used;
                (Tok::Num(n), at)
            }
            None => (Tok::Error("invalid number"), at),
        }
    }

    /// A string token from `at`; an error names where it went wrong.
    fn string(&mut self, at: usize) -> (Tok, usize) {
        let mut out = Vec::new();
        let mut i = at + 1;
        loop {
            let Some(&b) = self.s.get(i) else {
                return (Tok::Error("unexpected end of string"), i);
            };
            match b {
                b'"' => {
                    self.pos = i + 1;
                    return (Tok::Str(out), at);
                }
                b'\\' => {
                    let Some(&e) = self.s.get(i + 1) else {
                        return (Tok::Error("invalid escape code"), i);
                    };
                    let plain = match e {
                        b'"' => Some(b'"'),
                        b'\\' => Some(b'\\'),
                        b'/' => Some(b'/'),
                        b'b' => Some(0x08),
                        b'f' => Some(0x0c),
                        b'n' => Some(b'\n'),
                        b'r' => Some(b'\r'),
                        b't' => Some(b'\t'),
                        _ => None,
                    };
                    if let Some(p) = plain {
                        out.push(p);
                        i += 2;
                        continue;
                    }
                    if e != b'u' {
                        return (Tok::Error("invalid escape code"), i);
                    }
                    let Some((c, used)) = self.unicode(i) else {
                        return (Tok::Error("invalid unicode escape code"), i);
                    };
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                    i += used;
                }
                _ => {
                    out.push(b);
                    i += 1;
                }
            }
        }
    }

    /// `\uXXXX` (a surrogate pair as two) at `i`: the character and the
    /// bytes it took.
    fn unicode(&self, i: usize) -> Option<(char, usize)> {
        let hex = |at: usize| -> Option<u32> {
            let h = self.s.get(at..at + 4)?;
            u32::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok()
        };
        let hi = hex(i + 2)?;
        if (0xd800..0xdc00).contains(&hi) {
            if self.s.get(i + 6..i + 8)? != b"\\u" {
                return None;
            }
            let lo = hex(i + 8)?;
            if !(0xdc00..0xe000).contains(&lo) {
                return None;
            }
            let c = 0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00);
            return Some((char::from_u32(c)?, 12));
        }
        if (0xdc00..0xe000).contains(&hi) {
            return None;
        }
        Some((char::from_u32(hi)?, 6))
    }
}

/// lua-cjson's `json_is_invalid_number`: what is not JSON but strtod
/// would read (a leading +, hex, leading zeros, inf, nan).
fn invalid_number(s: &[u8]) -> bool {
    let mut p = s;
    if p.first() == Some(&b'+') {
        return true;
    }
    if p.first() == Some(&b'-') {
        p = &p[1..];
    }
    match p.first() {
        Some(b'0') => matches!(p.get(1), Some(b'x' | b'X' | b'0'..=b'9')),
        Some(&c) if c <= b'9' => false,
        _ => {
            let word = |w: &[u8]| p.len() >= 3 && p[..3].eq_ignore_ascii_case(w);
            word(b"inf") || word(b"nan")
        }
    }
}

/// C's strtod on the start of `s`: the number and the bytes it took, or
/// None if no number starts there.
fn strtod(s: &[u8]) -> Option<(f64, usize)> {
    let (neg, mut i) = match s.first() {
        Some(b'-') => (true, 1),
        Some(b'+') => (false, 1),
        _ => (false, 0),
    };
    let sign = |v: f64| if neg { -v } else { v };
    let rest = &s[i..];
    let starts = |w: &[u8]| rest.len() >= w.len() && rest[..w.len()].eq_ignore_ascii_case(w);
    if starts(b"infinity") {
        return Some((sign(f64::INFINITY), i + 8));
    }
    if starts(b"inf") {
        return Some((sign(f64::INFINITY), i + 3));
    }
    if starts(b"nan") {
        let mut used = i + 3;
        // nan(chars)
        if s.get(used) == Some(&b'(') {
            if let Some(close) = s[used..].iter().position(|&b| b == b')') {
                if s[used + 1..used + close]
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || *b == b'_')
                {
                    used += close + 1;
                }
            }
        }
        return Some((sign(f64::NAN), used));
    }
    let hexdig = |b: u8| (b as char).to_digit(16);
    if (starts(b"0x"))
        && (s.get(i + 2).is_some_and(|&b| hexdig(b).is_some())
            || (s.get(i + 2) == Some(&b'.') && s.get(i + 3).is_some_and(|&b| hexdig(b).is_some())))
    {
        i += 2;
        let mut mant = 0f64;
        let mut exp: i64 = 0;
        while let Some(d) = s.get(i).and_then(|&b| hexdig(b)) {
            mant = mant * 16.0 + f64::from(d);
            i += 1;
        }
        if s.get(i) == Some(&b'.') {
            i += 1;
            while let Some(d) = s.get(i).and_then(|&b| hexdig(b)) {
                mant = mant * 16.0 + f64::from(d);
                exp -= 4;
                i += 1;
            }
        }
        if matches!(s.get(i), Some(b'p' | b'P')) {
            let (eneg, j) = match s.get(i + 1) {
                Some(b'-') => (true, i + 2),
                Some(b'+') => (false, i + 2),
                _ => (false, i + 1),
            };
            if s.get(j).is_some_and(u8::is_ascii_digit) {
                let mut e: i64 = 0;
                let mut k = j;
                while let Some(d) = s.get(k).filter(|b| b.is_ascii_digit()) {
                    e = (e * 10 + i64::from(d - b'0')).min(100_000);
                    k += 1;
                }
                exp += if eneg { -e } else { e };
                i = k;
            }
        }
        return Some((sign(mant * 2f64.powi(exp.clamp(-5000, 5000) as i32)), i));
    }
    let start = i;
    let digits = |mut k: usize| {
        while s.get(k).is_some_and(u8::is_ascii_digit) {
            k += 1;
        }
        k
    };
    let int_end = digits(i);
    let mut end = int_end;
    if s.get(end) == Some(&b'.') {
        end = digits(end + 1);
    }
    // At least one digit, before or after the point.
    if end - start - usize::from(end > int_end) == 0 {
        return None;
    }
    if matches!(s.get(end), Some(b'e' | b'E')) {
        let j = match s.get(end + 1) {
            Some(b'-' | b'+') => end + 2,
            _ => end + 1,
        };
        if s.get(j).is_some_and(u8::is_ascii_digit) {
            end = digits(j);
        }
    }
    let text = std::str::from_utf8(&s[start..end]).ok()?;
    let v: f64 = text.parse().ok()?;
    Some((sign(v), end))
}
