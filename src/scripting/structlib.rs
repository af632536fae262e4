//! The `struct` library scripts see (Roberto Ierusalimschy's struct, as
//! Redis bundles it): `pack`, `unpack` and `size` over format strings of
//! `<`, `>`, `=`, `!n`, `x`, `b/B`, `h/H`, `l/L`, `T`, `i/I[n]`, `f`, `d`,
//! `s` and `c[n]`, on a 64-bit little-endian machine.

use super::bit::{arg_error, position};
use mlua::{Lua, MultiValue, Table, Value};

/// The widest integer option (`i32` at most).
const MAX_INT_SIZE: usize = 32;
/// `!` without a number: the machine's strictest alignment.
const MAX_ALIGN: usize = 8;

struct Header {
    little: bool,
    align: usize,
}

/// One option of a format: its letter and size (0: no fixed size).
struct Opt {
    c: u8,
    size: usize,
}

/// Reads a number after an option, or `default`.
fn num(f: &[u8], i: &mut usize, default: usize) -> usize {
    if *i >= f.len() || !f[*i].is_ascii_digit() {
        return default;
    }
    let mut n = 0usize;
    while *i < f.len() && f[*i].is_ascii_digit() {
        n = n.saturating_mul(10).saturating_add((f[*i] - b'0') as usize);
        *i += 1;
    }
    n
}

/// The next data option, handling the control ones (`<>=! `) on the way.
fn next_opt(
    lua: &Lua,
    func: &str,
    f: &[u8],
    i: &mut usize,
    h: &mut Header,
) -> mlua::Result<Option<Opt>> {
    while *i < f.len() {
        let c = f[*i];
        *i += 1;
        let size = match c {
            b' ' => continue,
            b'>' => {
                h.little = false;
                continue;
            }
            b'<' | b'=' => {
                h.little = true;
                continue;
            }
            b'!' => {
                let a = num(f, i, MAX_ALIGN);
                if !a.is_power_of_two() {
                    return Err(mlua::Error::runtime(position(
                        lua,
                        &format!("alignment {a} is not a power of 2"),
                    )));
                }
                h.align = a;
                continue;
            }
            b'b' | b'B' | b'x' => 1,
            b'h' | b'H' => 2,
            b'l' | b'L' | b'T' | b'd' => 8,
            b'f' => 4,
            b'c' => num(f, i, 1),
            b'i' | b'I' => {
                let n = num(f, i, 4);
                if n > MAX_INT_SIZE {
                    return Err(mlua::Error::runtime(position(
                        lua,
                        &format!("integral size {n} is larger than limit of {MAX_INT_SIZE}"),
                    )));
                }
                n
            }
            b's' => 0,
            other => {
                let msg = format!("invalid format option '{}'", other as char);
                return Err(arg_error(lua, 1, func, &msg));
            }
        };
        return Ok(Some(Opt { c, size }));
    }
    Ok(None)
}

/// Padding before an option at offset `len`.
fn to_align(len: usize, h: &Header, o: &Opt) -> usize {
    if o.size == 0 || o.c == b'c' {
        return 0;
    }
    let size = o.size.min(h.align);
    (size - (len & (size - 1))) & (size - 1)
}

fn check_number(lua: &Lua, args: &[Value], n: usize, func: &str) -> mlua::Result<f64> {
    let v = args.get(n - 1);
    let got = match v {
        Some(v @ (Value::Integer(_) | Value::Number(_) | Value::String(_))) => {
            lua.coerce_number(v.clone())?
        }
        _ => None,
    };
    got.ok_or_else(|| {
        let t = v.map_or("nil", |v| v.type_name());
        arg_error(lua, n, func, &format!("number expected, got {t}"))
    })
}

fn check_string(lua: &Lua, args: &[Value], n: usize, func: &str) -> mlua::Result<Vec<u8>> {
    let v = args.get(n - 1);
    let got = match v {
        Some(v @ (Value::Integer(_) | Value::Number(_) | Value::String(_))) => {
            lua.coerce_string(v.clone())?.map(|s| s.as_bytes().to_vec())
        }
        _ => None,
    };
    got.ok_or_else(|| {
        let t = v.map_or("nil", |v| v.type_name());
        arg_error(lua, n, func, &format!("string expected, got {t}"))
    })
}

fn pack(lua: &Lua, args: MultiValue) -> mlua::Result<mlua::LuaString> {
    let args: Vec<Value> = args.into_iter().collect();
    let f = check_string(lua, &args, 1, "pack")?;
    let mut h = Header {
        little: true,
        align: 1,
    };
    let mut out = Vec::new();
    let mut i = 0;
    let mut arg = 2;
    while let Some(o) = next_opt(lua, "pack", &f, &mut i, &mut h)? {
        out.resize(out.len() + to_align(out.len(), &h, &o), 0);
        match o.c {
            b'x' => out.push(0),
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let n = check_number(lua, &args, arg, "pack")?;
                arg += 1;
                let mut v = if n < 0.0 { n as i64 as u64 } else { n as u64 };
                let mut bytes = vec![0u8; o.size];
                for k in 0..o.size {
                    let at = if h.little { k } else { o.size - 1 - k };
                    bytes[at] = v as u8;
                    v = v.checked_shr(8).unwrap_or(0);
                }
                out.extend_from_slice(&bytes);
            }
            b'f' => {
                let n = check_number(lua, &args, arg, "pack")? as f32;
                arg += 1;
                let b = if h.little {
                    n.to_le_bytes()
                } else {
                    n.to_be_bytes()
                };
                out.extend_from_slice(&b);
            }
            b'd' => {
                let n = check_number(lua, &args, arg, "pack")?;
                arg += 1;
                let b = if h.little {
                    n.to_le_bytes()
                } else {
                    n.to_be_bytes()
                };
                out.extend_from_slice(&b);
            }
            b'c' | b's' => {
                let s = check_string(lua, &args, arg, "pack")?;
                let size = if o.c == b's' || o.size == 0 {
                    s.len()
                } else {
                    o.size
                };
                if s.len() < size {
                    // struct.c checks after moving past the argument.
                    return Err(arg_error(lua, arg + 1, "pack", "string too short"));
                }
                arg += 1;
                out.extend_from_slice(&s[..size]);
                if o.c == b's' {
                    out.push(0);
                }
            }
            _ => {}
        }
    }
    lua.create_string(&out)
}

fn unpack(lua: &Lua, args: MultiValue) -> mlua::Result<MultiValue> {
    let args: Vec<Value> = args.into_iter().collect();
    let f = check_string(lua, &args, 1, "unpack")?;
    let data = check_string(lua, &args, 2, "unpack")?;
    let mut pos = match args.get(3 - 1) {
        None | Some(Value::Nil) => 0,
        Some(_) => (check_number(lua, &args, 3, "unpack")? as i64 - 1).max(0) as usize,
    };
    if pos > data.len() {
        return Err(arg_error(lua, 3, "unpack", "offset must be 1 or greater"));
    }
    let mut h = Header {
        little: true,
        align: 1,
    };
    let mut vals: Vec<Value> = Vec::new();
    let mut i = 0;
    let short = || arg_error(lua, 2, "unpack", "data string too short");
    while let Some(mut o) = next_opt(lua, "unpack", &f, &mut i, &mut h)? {
        pos += to_align(pos, &h, &o);
        if o.size > 0 && pos + o.size > data.len() {
            return Err(short());
        }
        match o.c {
            b'x' => {}
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let bytes = &data[pos..pos + o.size];
                let mut v: u64 = 0;
                for k in 0..o.size {
                    let b = if h.little {
                        bytes[o.size - 1 - k]
                    } else {
                        bytes[k]
                    };
                    v = (v << 8) | b as u64;
                }
                let signed = o.c.is_ascii_lowercase();
                let n = if signed && o.size < 8 {
                    let shift = 64 - o.size * 8;
                    (((v << shift) as i64) >> shift) as f64
                } else if signed {
                    v as i64 as f64
                } else {
                    v as f64
                };
                vals.push(Value::Number(n));
            }
            b'f' => {
                let b: [u8; 4] = data[pos..pos + 4].try_into().map_err(|_| short())?;
                let n = if h.little {
                    f32::from_le_bytes(b)
                } else {
                    f32::from_be_bytes(b)
                };
                vals.push(Value::Number(n as f64));
            }
            b'd' => {
                let b: [u8; 8] = data[pos..pos + 8].try_into().map_err(|_| short())?;
                let n = if h.little {
                    f64::from_le_bytes(b)
                } else {
                    f64::from_be_bytes(b)
                };
                vals.push(Value::Number(n));
            }
            b'c' => {
                if o.size == 0 {
                    let n = match vals.pop() {
                        Some(Value::Number(n)) => n,
                        Some(Value::Integer(n)) => n as f64,
                        _ => {
                            return Err(mlua::Error::runtime(position(
                                lua,
                                "format 'c0' needs a previous size",
                            )))
                        }
                    };
                    o.size = n.max(0.0) as usize;
                    if pos + o.size > data.len() {
                        return Err(short());
                    }
                }
                vals.push(Value::String(lua.create_string(&data[pos..pos + o.size])?));
            }
            b's' => {
                let Some(l) = data[pos..].iter().position(|&b| b == 0) else {
                    return Err(mlua::Error::runtime(position(
                        lua,
                        "unfinished string in data",
                    )));
                };
                vals.push(Value::String(lua.create_string(&data[pos..pos + l])?));
                o.size = l + 1;
            }
            _ => {}
        }
        pos += o.size;
    }
    vals.push(Value::Integer(pos as i64 + 1));
    Ok(MultiValue::from_iter(vals))
}

fn size(lua: &Lua, args: MultiValue) -> mlua::Result<i64> {
    let args: Vec<Value> = args.into_iter().collect();
    let f = check_string(lua, &args, 1, "size")?;
    let mut h = Header {
        little: true,
        align: 1,
    };
    let mut total = 0usize;
    let mut i = 0;
    while let Some(o) = next_opt(lua, "size", &f, &mut i, &mut h)? {
        if o.size == 0 {
            let what = if o.c == b'c' {
                "c0".to_string()
            } else {
                (o.c as char).to_string()
            };
            return Err(arg_error(
                lua,
                1,
                "size",
                &format!("option '{what}' has no fixed size"),
            ));
        }
        total += to_align(total, &h, &o) + o.size;
    }
    Ok(total as i64)
}

pub(crate) fn open(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.set("pack", lua.create_function(pack)?)?;
    t.set("unpack", lua.create_function(unpack)?)?;
    t.set("size", lua.create_function(size)?)?;
    Ok(t)
}
