//! The `cjson` library scripts see (lua-cjson 2.1 as Redis bundles it,
//! with its defaults): `encode`, `decode` and `null`, with its output
//! (`%.14g` numbers, `\/` escaped, Lua's table order) and error texts.

use super::bit::{arg_error, position};
use mlua::{LightUserData, Lua, MultiValue, Table, Value};

/// lua-cjson's nesting limits (its defaults).
const MAX_DEPTH: usize = 1000;
/// An array is "excessively sparse" past this many slots and twice its items.
const SPARSE_SAFE: f64 = 10.0;
const SPARSE_RATIO: f64 = 2.0;

fn null() -> Value {
    Value::LightUserData(LightUserData(std::ptr::null_mut()))
}

pub(crate) fn open(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.set(
        "encode",
        lua.create_function(|lua, args: MultiValue| {
            if args.len() != 1 {
                return Err(arg_error(lua, 1, "encode", "expected 1 argument"));
            }
            let v = args.into_iter().next().unwrap_or(Value::Nil);
            let mut out = Vec::new();
            encode(lua, &v, 0, &mut out)?;
            lua.create_string(&out)
        })?,
    )?;
    t.set(
        "decode",
        lua.create_function(|lua, args: MultiValue| {
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
                s: &text,
                pos: 0,
            };
            p.document()
        })?,
    )?;
    t.set("null", null())?;
    Ok(t)
}

fn fail(lua: &Lua, what: &str, reason: &str) -> mlua::Error {
    mlua::Error::runtime(position(lua, &format!("Cannot serialise {what}: {reason}")))
}

/// `%.14g`, lua-cjson's number format.
fn number(n: f64, out: &mut Vec<u8>) {
    out.extend_from_slice(super::lua::format_g(n, 14).as_bytes());
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

fn encode(lua: &Lua, v: &Value, depth: usize, out: &mut Vec<u8>) -> mlua::Result<()> {
    match v {
        Value::Nil => out.extend_from_slice(b"null"),
        Value::LightUserData(u) if u.0.is_null() => out.extend_from_slice(b"null"),
        Value::Boolean(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Integer(n) => number(*n as f64, out),
        Value::Number(n) => {
            if !n.is_finite() {
                return Err(fail(lua, "number", "must not be NaN or Inf"));
            }
            number(*n, out)
        }
        Value::String(s) => string(&s.as_bytes(), out),
        Value::Table(t) => {
            let depth = depth + 1;
            if depth > MAX_DEPTH {
                return Err(mlua::Error::runtime(position(
                    lua,
                    &format!("Cannot serialise, excessive nesting ({depth})"),
                )));
            }
            match array_length(lua, t)? {
                Some(n) if n > 0 => {
                    out.push(b'[');
                    for i in 1..=n {
                        if i > 1 {
                            out.push(b',');
                        }
                        encode(lua, &t.raw_get::<Value>(i)?, depth, out)?;
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
                                number(*n as f64, out);
                                out.push(b'"');
                            }
                            Value::Number(n) => {
                                out.push(b'"');
                                number(*n, out);
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
                        encode(lua, &val, depth, out)?;
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
/// integer >= 1 (None: an object), refusing an excessively sparse array.
fn array_length(lua: &Lua, t: &Table) -> mlua::Result<Option<usize>> {
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
    if max > items * SPARSE_RATIO && max > SPARSE_SAFE {
        return Err(fail(lua, "table", "excessively sparse array"));
    }
    Ok(Some(max as usize))
}

/// lua-cjson's decoder, with its token names in errors.
struct Parser<'a> {
    lua: &'a Lua,
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
        if depth > MAX_DEPTH {
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
            let end = self.s[at..]
                .iter()
                .position(|b| !matches!(b, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'))
                .map_or(self.s.len(), |n| at + n);
            let text = std::str::from_utf8(&self.s[at..end]).unwrap_or("");
            return match text.parse::<f64>() {
                Ok(n) => {
                    self.pos = end;
                    (Tok::Num(n), at)
                }
                Err(_) => (Tok::Error("invalid number"), at),
            };
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
        (Tok::Error("invalid token"), at)
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
