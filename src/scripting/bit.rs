//! The `bit` library scripts see (LuaBitOp 1.0, as Redis bundles it):
//! 32-bit operations on Lua numbers, results as signed 32-bit numbers.

use mlua::{Lua, MultiValue, Table, Value};

/// LuaBitOp's argument conversion: the number rounded to an integer
/// (ties to even) and taken modulo 2^32, read through the low word of
/// `n + 2^52 + 2^51` as it does.
fn to_bits(n: f64) -> u32 {
    (n + 6_755_399_441_055_744.0).to_bits() as u32
}

/// `user_script:LINE: msg`, as `luaL_error` writes it from a library
/// function (the place is the calling script's).
pub(crate) fn position(lua: &Lua, msg: &str) -> String {
    let at = lua
        .inspect_stack(1, |d| {
            let line = d.current_line()?;
            let src = d.source().short_src?.to_string();
            Some(format!("{src}:{line}: "))
        })
        .flatten()
        .unwrap_or_default();
    format!("{at}{msg}")
}

/// The text Lua's `luaL_argerror` gives.
pub(crate) fn arg_error(lua: &Lua, n: usize, func: &str, msg: &str) -> mlua::Error {
    mlua::Error::runtime(position(
        lua,
        &format!("bad argument #{n} to '{func}' ({msg})"),
    ))
}

fn type_name(v: Option<&Value>) -> &'static str {
    match v {
        None => "no value",
        Some(v) => v.type_name(),
    }
}

/// `luaL_checknumber`: a number, or a string that reads as one.
fn number(lua: &Lua, args: &[Value], i: usize, func: &str) -> mlua::Result<f64> {
    let v = args.get(i);
    let n = match v {
        Some(v @ (Value::Integer(_) | Value::Number(_) | Value::String(_))) => {
            lua.coerce_number(v.clone())?
        }
        _ => None,
    };
    n.ok_or_else(|| {
        let got = type_name(v);
        arg_error(lua, i + 1, func, &format!("number expected, got {got}"))
    })
}

fn bits(lua: &Lua, args: &[Value], i: usize, func: &str) -> mlua::Result<u32> {
    number(lua, args, i, func).map(to_bits)
}

fn out(b: u32) -> f64 {
    b as i32 as f64
}

type Unary = fn(u32) -> u32;
type Shift = fn(u32, u32) -> u32;
type Fold = fn(u32, u32) -> u32;

pub(crate) fn open(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    let unary: [(&str, Unary); 3] = [
        ("tobit", |b| b),
        ("bnot", |b| !b),
        ("bswap", |b| b.swap_bytes()),
    ];
    for (name, f) in unary {
        t.set(
            name,
            lua.create_function(move |lua, args: MultiValue| {
                let args: Vec<Value> = args.into_iter().collect();
                Ok(out(f(bits(lua, &args, 0, name)?)))
            })?,
        )?;
    }
    let folds: [(&str, Fold); 3] = [
        ("band", |a, b| a & b),
        ("bor", |a, b| a | b),
        ("bxor", |a, b| a ^ b),
    ];
    for (name, f) in folds {
        t.set(
            name,
            lua.create_function(move |lua, args: MultiValue| {
                let args: Vec<Value> = args.into_iter().collect();
                let mut acc = bits(lua, &args, 0, name)?;
                for i in 1..args.len() {
                    acc = f(acc, bits(lua, &args, i, name)?);
                }
                Ok(out(acc))
            })?,
        )?;
    }
    let shifts: [(&str, Shift); 5] = [
        ("lshift", |b, n| b << n),
        ("rshift", |b, n| b >> n),
        ("arshift", |b, n| ((b as i32) >> n) as u32),
        ("rol", |b, n| b.rotate_left(n)),
        ("ror", |b, n| b.rotate_right(n)),
    ];
    for (name, f) in shifts {
        t.set(
            name,
            lua.create_function(move |lua, args: MultiValue| {
                let args: Vec<Value> = args.into_iter().collect();
                let b = bits(lua, &args, 0, name)?;
                let n = bits(lua, &args, 1, name)? & 31;
                Ok(out(f(b, n)))
            })?,
        )?;
    }
    t.set(
        "tohex",
        lua.create_function(|lua, args: MultiValue| {
            let args: Vec<Value> = args.into_iter().collect();
            let b = bits(lua, &args, 0, "tohex")?;
            let mut n = match args.get(1) {
                None => 8,
                Some(_) => bits(lua, &args, 1, "tohex")? as i32,
            };
            let upper = n < 0;
            if upper {
                n = -n;
            }
            let n = n.min(8) as usize;
            let hex = if upper {
                format!("{b:08X}")
            } else {
                format!("{b:08x}")
            };
            Ok(hex[8 - n..].to_string())
        })?,
    )?;
    Ok(t)
}
