//! Bitmap commands (Redis's bitops.c): arguments and replies, checked in
//! Redis's order; the bit logic is `types/bitmap.rs`.

use super::ctx::Ev;
use super::{cmd, flags::*, Command, Ctx};
use crate::types::bitmap::{self, Field, FieldOp, Op, Overflow, PosRange};
use crate::types::string;
use crate::types::TypeError;
use crate::util::{eq_ic, parse_i64};
use bytes::Bytes;

const OFFSET_ERR: &str = "ERR bit offset is not an integer or out of range";
const FIELD_TYPE_ERR: &str =
    "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.";

pub(crate) fn commands() -> Vec<Command> {
    let k1 = (1, 1, 1);
    vec![
        cmd("setbit", 4, WRITE, k1, "bitmap", "Sets or clears the bit at offset of the string value. Creates the key if it doesn't exist.", setbit)
        .syntax("key offset value"),
        cmd("getbit", 3, READONLY | FAST, k1, "bitmap", "Returns a bit value by offset.", getbit)
        .syntax("key offset"),
        cmd("bitcount", -2, READONLY, k1, "bitmap", "Counts the number of set bits (population counting) in a string.", bitcount)
        .syntax("key [start end [BYTE|BIT]]"),
        cmd("bitpos", -3, READONLY, k1, "bitmap", "Finds the first set (1) or clear (0) bit in a string.", bitpos)
        .syntax("key bit [start [end [BYTE|BIT]]]"),
        cmd("bitop", -4, WRITE, (2, -1, 1), "bitmap", "Performs bitwise operations on multiple strings, and stores the result.", bitop)
        .syntax("operation destkey key [key ...]"),
        cmd("bitfield", -2, WRITE, k1, "bitmap", "Performs arbitrary bitfield integer operations on strings.", bitfield)
        .syntax("key [GET encoding offset|[OVERFLOW WRAP|SAT|FAIL] SET encoding offset value|INCRBY encoding offset increment ...]"),
        cmd("bitfield_ro", -2, READONLY | FAST, k1, "bitmap", "Performs arbitrary read-only bitfield integer operations on strings.", bitfield_ro)
        .syntax("key [GET encoding offset ...]"),
    ]
}

/// `proto-max-bulk-len`: the longest string a bit offset may reach.
fn max_bytes(ctx: &Ctx<'_>) -> u64 {
    ctx.config().proto_max_bulk_len
}

/// Redis's `getBitOffsetFromArgument`: an integer (or `#n`, in units of
/// `bits`, for BITFIELD) whose byte is below `proto-max-bulk-len`.
fn offset_arg(ctx: &mut Ctx<'_>, a: &[u8], field_bits: Option<u32>) -> Option<u64> {
    let (digits, mul) = match field_bits {
        Some(bits) if a.len() > 1 && a[0] == b'#' => (&a[1..], bits as i64),
        _ => (a, 1),
    };
    // C's multiplication wraps; so does this one.
    let off = parse_i64(digits)
        .map(|n| n.wrapping_mul(mul))
        .and_then(|n| bitmap::check_offset(n, max_bytes(ctx)));
    if off.is_none() {
        ctx.err(OFFSET_ERR);
    }
    off
}

fn type_err(ctx: &mut Ctx<'_>, e: TypeError) {
    ctx.err(e.reply())
}

fn setbit(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let Some(off) = offset_arg(ctx, &a[2], None) else {
        return;
    };
    let on = match parse_i64(&a[3]) {
        Some(0) => false,
        Some(1) => true,
        _ => return ctx.err("ERR bit is not an integer or out of range"),
    };
    let mark = ctx.effect_count();
    match bitmap::set_bit(&mut ctx.data(), &a[1], off, on) {
        Ok(was) => {
            if ctx.effect_count() > mark {
                ctx.notify(Ev::Setbit, &a[1]);
            }
            ctx.out.int(was as i64)
        }
        Err(e) => type_err(ctx, e),
    }
}

fn getbit(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let Some(off) = offset_arg(ctx, &a[2], None) else {
        return;
    };
    match bitmap::get_bit(&mut ctx.data(), &a[1], off) {
        Ok(b) => ctx.out.int(b as i64),
        Err(e) => type_err(ctx, e),
    }
}

/// BYTE or BIT (case-insensitive): whether it says BIT; None answers a
/// syntax error.
fn unit_arg(ctx: &mut Ctx<'_>, a: &[u8]) -> Option<bool> {
    if eq_ic(a, "bit") {
        Some(true)
    } else if eq_ic(a, "byte") {
        Some(false)
    } else {
        ctx.syntax_err();
        None
    }
}

fn int_or_err(ctx: &mut Ctx<'_>, a: &[u8]) -> Option<i64> {
    super::int_arg(ctx, a)
}

fn bitcount(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    // Redis looks the key up before it reads the range.
    let s = match string::open(&mut ctx.data(), &a[1]) {
        Ok(Some(s)) => s,
        Ok(None) => return ctx.out.int(0),
        Err(e) => return type_err(ctx, e),
    };
    let range = match a.len() {
        2 => None,
        4 | 5 => {
            let Some(start) = int_or_err(ctx, &a[2]) else {
                return;
            };
            let Some(end) = int_or_err(ctx, &a[3]) else {
                return;
            };
            // Both negative and reversed: 0, before BYTE|BIT is read.
            if start < 0 && end < 0 && start > end {
                return ctx.out.int(0);
            }
            let bits = if a.len() == 5 {
                match unit_arg(ctx, &a[4]) {
                    Some(b) => b,
                    None => return,
                }
            } else {
                false
            };
            Some((start, end, bits))
        }
        _ => return ctx.syntax_err(),
    };
    let mut db = ctx.data();
    let n = bitmap::count(&mut bitmap::Stored { db: &mut db, s: &s }, range);
    ctx.out.int(n as i64);
}

fn bitpos(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let Some(bit) = int_or_err(ctx, &a[2]) else {
        return;
    };
    if bit != 0 && bit != 1 {
        return ctx.err("ERR The bit argument must be 1 or 0.");
    }
    let s = match string::open(&mut ctx.data(), &a[1]) {
        Ok(Some(s)) => s,
        Ok(None) => return ctx.out.int(if bit == 1 { -1 } else { 0 }),
        Err(e) => return type_err(ctx, e),
    };
    let range = match a.len() {
        3 => None,
        4..=6 => {
            let Some(start) = int_or_err(ctx, &a[3]) else {
                return;
            };
            let bits = if a.len() == 6 {
                match unit_arg(ctx, &a[5]) {
                    Some(b) => b,
                    None => return,
                }
            } else {
                false
            };
            let end = if a.len() >= 5 {
                match int_or_err(ctx, &a[4]) {
                    Some(e) => Some(e),
                    None => return,
                }
            } else {
                None
            };
            Some(PosRange { start, end, bits })
        }
        _ => return ctx.syntax_err(),
    };
    let mut db = ctx.data();
    let p = bitmap::pos(&mut bitmap::Stored { db: &mut db, s: &s }, bit as u8, range);
    ctx.out.int(p);
}

fn bitop(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let op = if eq_ic(&a[1], "and") {
        Op::And
    } else if eq_ic(&a[1], "or") {
        Op::Or
    } else if eq_ic(&a[1], "xor") {
        Op::Xor
    } else if eq_ic(&a[1], "not") {
        Op::Not
    } else {
        return ctx.syntax_err();
    };
    if op == Op::Not && a.len() != 4 {
        return ctx.err("ERR BITOP NOT must be called with a single source key.");
    }
    let db = ctx.db();
    let existed = ctx.get(db, &a[2]).is_some();
    match bitmap::bit_op(&mut ctx.data(), op, &a[2], &a[3..]) {
        Ok(n) => {
            // Redis: `set` for a result, `del` for an empty one.
            if ctx.get(db, &a[2]).is_some() {
                ctx.notify(Ev::Set, &a[2]);
            } else if existed {
                ctx.notify(Ev::Del, &a[2]);
            }
            ctx.out.int(n as i64)
        }
        Err(e) => type_err(ctx, e),
    }
}

/// Redis's `getBitfieldTypeFromArgument`: `i1`..`i64` or `u1`..`u63`.
fn field_type(ctx: &mut Ctx<'_>, a: &[u8]) -> Option<(bool, u32)> {
    // C reads the argument up to its first NUL.
    let a = match a.iter().position(|&c| c == 0) {
        Some(p) => &a[..p],
        None => a,
    };
    let signed = match a.first() {
        Some(b'i') => true,
        Some(b'u') => false,
        _ => {
            ctx.err(FIELD_TYPE_ERR);
            return None;
        }
    };
    match parse_i64(&a[1..]) {
        Some(n) if n >= 1 && (signed && n <= 64 || !signed && n <= 63) => Some((signed, n as u32)),
        _ => {
            ctx.err(FIELD_TYPE_ERR);
            None
        }
    }
}

/// BITFIELD's operations, parsed and checked in Redis's order (the first
/// bad argument answers); None once an error was answered.
fn parse_fields(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Option<Vec<Field>> {
    let mut fields = Vec::new();
    let mut overflow = Overflow::Wrap;
    let mut j = 2;
    while j < a.len() {
        let rem = a.len() - j - 1;
        let sub = &a[j];
        let op = if eq_ic(sub, "get") && rem >= 2 {
            FieldOp::Get
        } else if eq_ic(sub, "set") && rem >= 3 {
            FieldOp::Set(0)
        } else if eq_ic(sub, "incrby") && rem >= 3 {
            FieldOp::IncrBy(0)
        } else if eq_ic(sub, "overflow") && rem >= 1 {
            let w = &a[j + 1];
            overflow = if eq_ic(w, "wrap") {
                Overflow::Wrap
            } else if eq_ic(w, "sat") {
                Overflow::Sat
            } else if eq_ic(w, "fail") {
                Overflow::Fail
            } else {
                ctx.err("ERR Invalid OVERFLOW type specified");
                return None;
            };
            j += 2;
            continue;
        } else {
            ctx.syntax_err();
            return None;
        };
        let (signed, bits) = field_type(ctx, &a[j + 1])?;
        let offset = offset_arg(ctx, &a[j + 2], Some(bits))?;
        let op = match op {
            FieldOp::Get => FieldOp::Get,
            FieldOp::Set(_) => FieldOp::Set(int_or_err(ctx, &a[j + 3])?),
            FieldOp::IncrBy(_) => FieldOp::IncrBy(int_or_err(ctx, &a[j + 3])?),
        };
        fields.push(Field {
            op,
            signed,
            bits,
            offset,
            overflow,
        });
        j += if op == FieldOp::Get { 3 } else { 4 };
    }
    Some(fields)
}

fn bitfield_common(ctx: &mut Ctx<'_>, a: &[Bytes], read_only: bool) {
    let Some(fields) = parse_fields(ctx, a) else {
        return;
    };
    if read_only && fields.iter().any(|f| f.op != FieldOp::Get) {
        return ctx.err("ERR BITFIELD_RO only supports the GET subcommand");
    }
    let mark = ctx.effect_count();
    match bitmap::bit_field(&mut ctx.data(), &a[1], &fields) {
        Ok(replies) => {
            if ctx.effect_count() > mark {
                ctx.notify(Ev::Setbit, &a[1]);
            }
            ctx.out.array(replies.len());
            for r in replies {
                match r {
                    Some(n) => ctx.out.int(n),
                    None => ctx.out.null(),
                }
            }
        }
        Err(e) => type_err(ctx, e),
    }
}

fn bitfield(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    bitfield_common(ctx, a, false)
}

fn bitfield_ro(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    bitfield_common(ctx, a, true)
}
