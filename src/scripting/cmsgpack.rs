//! The `cmsgpack` library scripts see (lua-cmsgpack as Redis bundles it):
//! `pack`, `unpack`, `unpack_one` and `unpack_limit`, with its encodings
//! (the smallest integer form, float32 when exact, tables without holes
//! as arrays) and error texts.

use super::bit::{arg_error, position};
use mlua::{Lua, MultiValue, Table, Value};

/// lua-cmsgpack's nesting limit: deeper tables are packed as nil.
const MAX_NESTING: usize = 16;

pub(crate) fn open(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.set(
        "pack",
        lua.create_function(|lua, args: MultiValue| {
            if args.is_empty() {
                return Err(arg_error(lua, 0, "pack", "MessagePack pack needs input."));
            }
            let mut out = Vec::new();
            for v in args.iter() {
                pack(v, 0, &mut out)?;
            }
            lua.create_string(&out)
        })?,
    )?;
    t.set(
        "unpack",
        lua.create_function(|lua, s: mlua::LuaString| {
            let b = s.as_bytes();
            let mut pos = 0;
            let mut vals = Vec::new();
            while pos < b.len() {
                vals.push(unpack(lua, &b, &mut pos).map_err(|e| placed(lua, e))?);
            }
            Ok(MultiValue::from_iter(vals))
        })?,
    )?;
    t.set(
        "unpack_one",
        lua.create_function(|lua, (s, offset): (mlua::LuaString, Option<i64>)| {
            unpack_some(lua, &s.as_bytes(), 1, offset.unwrap_or(0)).map_err(|e| placed(lua, e))
        })?,
    )?;
    t.set(
        "unpack_limit",
        lua.create_function(
            |lua, (s, limit, offset): (mlua::LuaString, i64, Option<i64>)| {
                unpack_some(lua, &s.as_bytes(), limit, offset.unwrap_or(0))
                    .map_err(|e| placed(lua, e))
            },
        )?,
    )?;
    Ok(t)
}

/// A decoding error with the calling script's place, as `luaL_error`.
fn placed(lua: &Lua, e: mlua::Error) -> mlua::Error {
    match e {
        mlua::Error::RuntimeError(m) => mlua::Error::runtime(position(lua, &m)),
        other => other,
    }
}

/// Up to `limit` objects (all when 0 or less) from `offset`: the offset
/// after them (-1 at the end), then the objects.
fn unpack_some(lua: &Lua, b: &[u8], limit: i64, offset: i64) -> mlua::Result<MultiValue> {
    if offset < 0 || limit < 0 {
        return Err(mlua::Error::runtime(format!(
            "Invalid request to unpack with offset of {offset} and limit of {limit}."
        )));
    }
    let mut pos = offset as usize;
    if pos > b.len() {
        return Err(mlua::Error::runtime(
            "Start offset greater than input length",
        ));
    }
    let mut vals = Vec::new();
    while pos < b.len() && (limit == 0 || (vals.len() as i64) < limit) {
        vals.push(unpack(lua, b, &mut pos)?);
    }
    let next = if pos >= b.len() { -1 } else { pos as i64 };
    let mut out = vec![Value::Integer(next)];
    out.extend(vals);
    Ok(MultiValue::from_iter(out))
}

fn pack(v: &Value, depth: usize, out: &mut Vec<u8>) -> mlua::Result<()> {
    match v {
        Value::Nil => out.push(0xc0),
        Value::Boolean(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Integer(n) => int(*n, out),
        Value::Number(n) => {
            if n.is_finite() && (*n as i64) as f64 == *n {
                int(*n as i64, out)
            } else if (*n as f32) as f64 == *n {
                out.push(0xca);
                out.extend_from_slice(&(*n as f32).to_be_bytes());
            } else {
                out.push(0xcb);
                out.extend_from_slice(&n.to_be_bytes());
            }
        }
        Value::String(s) => {
            let b = s.as_bytes();
            let n = b.len();
            if n < 32 {
                out.push(0xa0 | n as u8);
            } else if n <= 0xff {
                out.extend_from_slice(&[0xd9, n as u8]);
            } else if n <= 0xffff {
                out.push(0xda);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            } else {
                out.push(0xdb);
                out.extend_from_slice(&(n as u32).to_be_bytes());
            }
            out.extend_from_slice(&b);
        }
        Value::Table(t) if depth < MAX_NESTING => {
            if let Some(len) = array_len(t)? {
                header(len, 0x90, 0xdc, 0xdd, out);
                for i in 1..=len {
                    pack(&t.raw_get::<Value>(i)?, depth + 1, out)?;
                }
            } else {
                let pairs: Vec<(Value, Value)> = t.clone().pairs().collect::<mlua::Result<_>>()?;
                header(pairs.len(), 0x80, 0xde, 0xdf, out);
                for (k, v) in pairs {
                    pack(&k, depth + 1, out)?;
                    pack(&v, depth + 1, out)?;
                }
            }
        }
        _ => out.push(0xc0),
    }
    Ok(())
}

fn header(n: usize, fix: u8, b16: u8, b32: u8, out: &mut Vec<u8>) {
    if n < 16 {
        out.push(fix | n as u8);
    } else if n <= 0xffff {
        out.push(b16);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(b32);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
}

/// lua-cmsgpack's `table_is_an_array`: every key a positive integer and
/// no holes (an empty table is an array).
fn array_len(t: &Table) -> mlua::Result<Option<usize>> {
    let (mut count, mut max) = (0usize, 0f64);
    for pair in t.clone().pairs::<Value, Value>() {
        let (k, _) = pair?;
        let n = match k {
            Value::Integer(i) => i as f64,
            Value::Number(n) => n,
            _ => return Ok(None),
        };
        if n <= 0.0 || n.floor() != n {
            return Ok(None);
        }
        max = max.max(n);
        count += 1;
    }
    Ok((max == count as f64).then_some(count))
}

fn int(n: i64, out: &mut Vec<u8>) {
    if n >= 0 {
        if n <= 127 {
            out.push(n as u8);
        } else if n <= 0xff {
            out.extend_from_slice(&[0xcc, n as u8]);
        } else if n <= 0xffff {
            out.push(0xcd);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        } else if n <= 0xffff_ffff {
            out.push(0xce);
            out.extend_from_slice(&(n as u32).to_be_bytes());
        } else {
            out.push(0xcf);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    } else if n >= -32 {
        out.push(n as i8 as u8);
    } else if n >= -128 {
        out.extend_from_slice(&[0xd0, n as i8 as u8]);
    } else if n >= -32768 {
        out.push(0xd1);
        out.extend_from_slice(&(n as i16).to_be_bytes());
    } else if n >= i32::MIN as i64 {
        out.push(0xd2);
        out.extend_from_slice(&(n as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn missing() -> mlua::Error {
    mlua::Error::runtime("Missing bytes in input.")
}

fn take<'a>(b: &'a [u8], pos: &mut usize, n: usize) -> mlua::Result<&'a [u8]> {
    let end = pos.checked_add(n).ok_or_else(missing)?;
    let s = b.get(*pos..end).ok_or_else(missing)?;
    *pos = end;
    Ok(s)
}

fn be(b: &[u8]) -> u64 {
    b.iter().fold(0u64, |acc, &x| (acc << 8) | x as u64)
}

fn unpack(lua: &Lua, b: &[u8], pos: &mut usize) -> mlua::Result<Value> {
    let t = take(b, pos, 1)?[0];
    let num = |v: f64| Ok(Value::Number(v));
    match t {
        0x00..=0x7f => num(t as f64),
        0xe0..=0xff => num(t as i8 as f64),
        0xc0 => Ok(Value::Nil),
        0xc2 => Ok(Value::Boolean(false)),
        0xc3 => Ok(Value::Boolean(true)),
        0xcc => num(take(b, pos, 1)?[0] as f64),
        0xcd => num(be(take(b, pos, 2)?) as f64),
        0xce => num(be(take(b, pos, 4)?) as f64),
        0xcf => num(be(take(b, pos, 8)?) as f64),
        0xd0 => num(take(b, pos, 1)?[0] as i8 as f64),
        0xd1 => num(be(take(b, pos, 2)?) as u16 as i16 as f64),
        0xd2 => num(be(take(b, pos, 4)?) as u32 as i32 as f64),
        0xd3 => num(be(take(b, pos, 8)?) as i64 as f64),
        0xca => num(f32::from_bits(be(take(b, pos, 4)?) as u32) as f64),
        0xcb => num(f64::from_bits(be(take(b, pos, 8)?))),
        0xa0..=0xbf => bytes(lua, b, pos, (t & 0x1f) as usize),
        0xd9 | 0xc4 => {
            let n = take(b, pos, 1)?[0] as usize;
            bytes(lua, b, pos, n)
        }
        0xda | 0xc5 => {
            let n = be(take(b, pos, 2)?) as usize;
            bytes(lua, b, pos, n)
        }
        0xdb | 0xc6 => {
            let n = be(take(b, pos, 4)?) as usize;
            bytes(lua, b, pos, n)
        }
        0x90..=0x9f => array(lua, b, pos, (t & 0x0f) as usize),
        0xdc => {
            let n = be(take(b, pos, 2)?) as usize;
            array(lua, b, pos, n)
        }
        0xdd => {
            let n = be(take(b, pos, 4)?) as usize;
            array(lua, b, pos, n)
        }
        0x80..=0x8f => map(lua, b, pos, (t & 0x0f) as usize),
        0xde => {
            let n = be(take(b, pos, 2)?) as usize;
            map(lua, b, pos, n)
        }
        0xdf => {
            let n = be(take(b, pos, 4)?) as usize;
            map(lua, b, pos, n)
        }
        _ => Err(mlua::Error::runtime("Bad data format in input.")),
    }
}

fn bytes(lua: &Lua, b: &[u8], pos: &mut usize, n: usize) -> mlua::Result<Value> {
    Ok(Value::String(lua.create_string(take(b, pos, n)?)?))
}

fn array(lua: &Lua, b: &[u8], pos: &mut usize, n: usize) -> mlua::Result<Value> {
    // Each element takes at least a byte: a count the input cannot hold
    // fails before anything is allocated for it.
    if n > b.len() - *pos {
        return Err(missing());
    }
    let t = lua.create_table_with_capacity(n, 0)?;
    for i in 1..=n {
        t.raw_set(i, unpack(lua, b, pos)?)?;
    }
    Ok(Value::Table(t))
}

fn map(lua: &Lua, b: &[u8], pos: &mut usize, n: usize) -> mlua::Result<Value> {
    if n > (b.len() - *pos) / 2 {
        return Err(missing());
    }
    let t = lua.create_table()?;
    for _ in 0..n {
        let k = unpack(lua, b, pos)?;
        let v = unpack(lua, b, pos)?;
        if k != Value::Nil {
            t.raw_set(k, v)?;
        }
    }
    Ok(Value::Table(t))
}
