//! Reading a DUMP payload (Redis's `verifyDumpPayload` and
//! `rdbLoadObject`): the footer first (version, CRC64), then the object,
//! every length checked against the bytes that remain before anything is
//! sized by it. Values come out as owned copies, so nothing restored keeps
//! the client's request buffer alive.

use super::{intset, listpack, lzf, types, ziplist, zipmap, Error, Item, Value, RDB_VERSION};
use bytes::Bytes;
use std::collections::HashSet;

/// Checks the footer: at least 10 bytes, a version Redis 7.0 can read, the
/// CRC64 of everything before the checksum. Returns the object's bytes.
pub(crate) fn verify(payload: &[u8]) -> Result<&[u8], Error> {
    if payload.len() < 10 {
        return Err(Error::Footer);
    }
    let (body, footer) = payload.split_at(payload.len() - 10);
    let version = u16::from_le_bytes([footer[0], footer[1]]);
    if version > RDB_VERSION {
        return Err(Error::Footer);
    }
    let crc = super::crc64::crc64(0, &payload[..payload.len() - 8]);
    if crc.to_le_bytes() != footer[2..10] {
        return Err(Error::Footer);
    }
    Ok(body)
}

/// The value in a payload (footer checked first).
pub(crate) fn decode(payload: &[u8]) -> Result<Value, Error> {
    let body = verify(payload)?;
    let mut r = Reader { b: body, pos: 0 };
    let t = r.byte()?;
    // Bytes after the object are ignored, as Redis does.
    r.object(t)
}

/// The libraries' code in a FUNCTION DUMP payload (footer checked first).
pub(crate) fn functions(payload: &[u8]) -> Result<Vec<Bytes>, Error> {
    let body = verify(payload)?;
    let mut r = Reader { b: body, pos: 0 };
    let mut out = Vec::new();
    while r.pos < r.b.len() {
        if r.byte()? != super::FUNCTION2 {
            return Err(Error::NotFunction);
        }
        out.push(r.bytes()?);
    }
    Ok(out)
}

struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
}

const BAD: Error = Error::BadData;

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Result<u8, Error> {
        let v = *self.b.get(self.pos).ok_or(BAD)?;
        self.pos += 1;
        Ok(v)
    }

    /// `n` bytes, if that many remain.
    fn take(&mut self, n: u64) -> Result<&'a [u8], Error> {
        let left = (self.b.len() - self.pos) as u64;
        if n > left {
            return Err(BAD);
        }
        let s = &self.b[self.pos..self.pos + n as usize];
        self.pos += n as usize;
        Ok(s)
    }

    /// `rdbLoadLen`: (length, whether it is a special string encoding).
    fn len_enc(&mut self) -> Result<(u64, bool), Error> {
        let b = self.byte()?;
        Ok(match b >> 6 {
            0 => ((b & 0x3f) as u64, false),
            1 => ((((b & 0x3f) as u64) << 8) | self.byte()? as u64, false),
            3 => ((b & 0x3f) as u64, true),
            _ if b == 0x80 => {
                let s = self.take(4)?;
                (u32::from_be_bytes([s[0], s[1], s[2], s[3]]) as u64, false)
            }
            _ if b == 0x81 => {
                let s = self.take(8)?;
                let mut a = [0u8; 8];
                a.copy_from_slice(s);
                (u64::from_be_bytes(a), false)
            }
            _ => return Err(BAD),
        })
    }

    /// A count of elements (never a special encoding).
    fn len(&mut self) -> Result<u64, Error> {
        match self.len_enc()? {
            (n, false) => Ok(n),
            _ => Err(BAD),
        }
    }

    /// A string object (`rdbGenericLoadStringObject`): raw, an integer of
    /// 8, 16 or 32 bits, or LZF-compressed. Borrowed when raw.
    fn string(&mut self) -> Result<std::borrow::Cow<'a, [u8]>, Error> {
        use std::borrow::Cow;
        let (n, special) = self.len_enc()?;
        if !special {
            return Ok(Cow::Borrowed(self.take(n)?));
        }
        let v: i64 = match n {
            0 => self.take(1)?[0] as i8 as i64,
            1 => {
                let s = self.take(2)?;
                i16::from_le_bytes([s[0], s[1]]) as i64
            }
            2 => {
                let s = self.take(4)?;
                i32::from_le_bytes([s[0], s[1], s[2], s[3]]) as i64
            }
            3 => {
                let clen = self.len()?;
                let len = self.len()?;
                let c = self.take(clen)?;
                let len = usize::try_from(len).map_err(|_| BAD)?;
                return lzf::decompress(c, len).map(Cow::Owned).ok_or(BAD);
            }
            _ => return Err(BAD),
        };
        Ok(Cow::Owned(v.to_string().into_bytes()))
    }

    fn bytes(&mut self) -> Result<Bytes, Error> {
        Ok(Bytes::copy_from_slice(&self.string()?))
    }

    /// The old text double (`rdbLoadDoubleValue`): a length byte, 253-255
    /// meaning nan, +inf, -inf.
    fn text_double(&mut self) -> Result<f64, Error> {
        let n = self.byte()?;
        match n {
            255 => Ok(f64::NEG_INFINITY),
            254 => Ok(f64::INFINITY),
            253 => Ok(f64::NAN),
            _ => parse_score(self.take(n as u64)?).ok_or(BAD),
        }
    }

    fn binary_double(&mut self) -> Result<f64, Error> {
        let s = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(s);
        Ok(f64::from_le_bytes(a))
    }

    fn object(&mut self, t: u8) -> Result<Value, Error> {
        let v = match t {
            types::STRING => Value::Str(self.bytes()?),
            types::LIST => {
                let n = self.len()?;
                let mut items = Vec::new();
                for _ in 0..n {
                    items.push(self.bytes()?);
                }
                Value::List(items)
            }
            types::LIST_ZIPLIST => {
                let blob = self.string()?;
                Value::List(owned(ziplist::entries(&blob).ok_or(BAD)?))
            }
            types::LIST_QUICKLIST | types::LIST_QUICKLIST_2 => {
                let nodes = self.len()?;
                let mut items = Vec::new();
                for _ in 0..nodes {
                    let container = if t == types::LIST_QUICKLIST_2 {
                        self.len()?
                    } else {
                        0
                    };
                    let blob = self.string()?;
                    match container {
                        // PLAIN: one big item.
                        1 => items.push(Bytes::copy_from_slice(&blob)),
                        // PACKED: a listpack.
                        2 => items.extend(owned(listpack::entries(&blob).ok_or(BAD)?)),
                        0 => items.extend(owned(ziplist::entries(&blob).ok_or(BAD)?)),
                        _ => return Err(BAD),
                    }
                }
                Value::List(items)
            }
            types::SET => {
                let n = self.len()?;
                let mut members = Vec::new();
                for _ in 0..n {
                    members.push(self.bytes()?);
                }
                Value::Set(members)
            }
            types::SET_INTSET => {
                let blob = self.string()?;
                let vals = intset::values(&blob).ok_or(BAD)?;
                Value::Set(
                    vals.into_iter()
                        .map(|v| Bytes::from(v.to_string()))
                        .collect(),
                )
            }
            types::HASH => {
                let n = self.len()?;
                let mut pairs = Vec::new();
                for _ in 0..n {
                    let f = self.bytes()?;
                    let v = self.bytes()?;
                    pairs.push((f, v));
                }
                Value::Hash(pairs)
            }
            types::HASH_ZIPMAP => {
                let blob = self.string()?;
                Value::Hash(zipmap::pairs(&blob).ok_or(BAD)?)
            }
            types::HASH_ZIPLIST | types::HASH_LISTPACK => {
                let blob = self.string()?;
                let items = if t == types::HASH_ZIPLIST {
                    ziplist::entries(&blob)
                } else {
                    listpack::entries(&blob)
                }
                .ok_or(BAD)?;
                Value::Hash(pairs(owned(items))?)
            }
            types::ZSET | types::ZSET_2 => {
                let n = self.len()?;
                let mut items = Vec::new();
                for _ in 0..n {
                    let m = self.bytes()?;
                    let s = if t == types::ZSET_2 {
                        self.binary_double()?
                    } else {
                        self.text_double()?
                    };
                    items.push((m, s));
                }
                Value::ZSet(items)
            }
            types::ZSET_ZIPLIST | types::ZSET_LISTPACK => {
                let blob = self.string()?;
                let items = if t == types::ZSET_ZIPLIST {
                    ziplist::entries(&blob)
                } else {
                    listpack::entries(&blob)
                }
                .ok_or(BAD)?;
                let mut out = Vec::new();
                for (m, s) in pairs(owned(items))? {
                    out.push((m, parse_score(&s).ok_or(BAD)?));
                }
                Value::ZSet(out)
            }
            // Streams and module values: sledis has no such types.
            _ => return Err(BAD),
        };
        check(&v)?;
        Ok(v)
    }
}

fn owned(items: Vec<Item<'_>>) -> Vec<Bytes> {
    items.iter().map(|i| i.to_bytes()).collect()
}

/// Alternating fields and values.
fn pairs(items: Vec<Bytes>) -> Result<Vec<(Bytes, Bytes)>, Error> {
    if !items.len().is_multiple_of(2) {
        return Err(BAD);
    }
    let mut out = Vec::with_capacity(items.len() / 2);
    let mut it = items.into_iter();
    while let (Some(f), Some(v)) = (it.next(), it.next()) {
        out.push((f, v));
    }
    Ok(out)
}

/// A score as text (`strtod` on the whole string): inf and -inf allowed.
fn parse_score(s: &[u8]) -> Option<f64> {
    let t = std::str::from_utf8(s).ok()?;
    match t.to_ascii_lowercase().as_str() {
        "inf" | "+inf" | "infinity" | "+infinity" => Some(f64::INFINITY),
        "-inf" | "-infinity" => Some(f64::NEG_INFINITY),
        "nan" | "-nan" | "+nan" => Some(f64::NAN),
        l => l.parse().ok(),
    }
}

/// What Redis refuses in a collection, and what sledis cannot hold: an
/// empty one, a member twice, a NaN score.
fn check(v: &Value) -> Result<(), Error> {
    fn distinct<'v>(mut names: impl Iterator<Item = &'v Bytes>) -> bool {
        let mut seen: HashSet<&[u8]> = HashSet::new();
        names.all(|n| seen.insert(&n[..]))
    }
    let ok = match v {
        Value::Str(_) => true,
        Value::List(items) => !items.is_empty(),
        Value::Set(m) => !m.is_empty() && distinct(m.iter()),
        Value::Hash(p) => !p.is_empty() && distinct(p.iter().map(|(f, _)| f)),
        Value::ZSet(z) => {
            !z.is_empty()
                && z.iter().all(|(_, s)| !s.is_nan())
                && distinct(z.iter().map(|(m, _)| m))
        }
    };
    if ok {
        Ok(())
    } else {
        Err(BAD)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    /// Payloads Redis 7.0.15 answered to DUMP.
    #[test]
    fn reads_redis_payloads() {
        let list = b"\x12\x01\x02\x19\x19\x00\x00\x00\x06\x00\x81a\x02\x81b\x02\x01\x01\x02\x01\xc1,\x02\xf2p\x11\x01\x04\xff\n\x00T!6\x82\x0bA \xf3";
        let want: Vec<Bytes> = ["a", "b", "1", "2", "300", "70000"].map(b).to_vec();
        assert_eq!(decode(list), Ok(Value::List(want)));
        let intset = b"\x0b\x0e\x02\x00\x00\x00\x03\x00\x00\x00\x01\x00\x02\x00\x03\x00\n\x00\xa5\x02\\\xe2mnM\x1b";
        assert_eq!(
            decode(intset),
            Ok(Value::Set(["1", "2", "3"].map(b).to_vec()))
        );
        let hash = b"\x10\x13\x13\x00\x00\x00\x04\x00\x81f\x02\x81v\x02\x82f2\x03\x0c\x01\xff\n\x00\xf3d\xf9\x88\x89\x04. ";
        assert_eq!(
            decode(hash),
            Ok(Value::Hash(vec![(b("f"), b("v")), (b("f2"), b("12"))]))
        );
        let zset = b"\x11\x14\x14\x00\x00\x00\x04\x00\x81a\x02\x831.5\x04\x81b\x02\x02\x01\xff\n\x00\xfa\x02\xb4%\xaf\x18\x87c";
        assert_eq!(
            decode(zset),
            Ok(Value::ZSet(vec![(b("a"), 1.5), (b("b"), 2.0)]))
        );
        let string = b"\x00\xc3\t@d\x01aa\xe0W\x00\x01aa\n\x00\xe8\xa3\xb5\x07\xb0m\xf2q";
        assert_eq!(decode(string), Ok(Value::Str(Bytes::from(vec![b'a'; 100]))));
        let int = b"\x00\xc190\n\x00\x9d\x94\xea'\x93\xfc\x08\xb9";
        assert_eq!(decode(int), Ok(Value::Str(b("12345"))));
    }

    #[test]
    fn footer_errors() {
        let ok = b"\x00\x05hello\n\x00cr\xdfve4 \n";
        assert!(decode(ok).is_ok());
        assert_eq!(decode(&ok[..9]), Err(Error::Footer));
        let mut bad = ok.to_vec();
        bad[3] ^= 1;
        assert_eq!(decode(&bad), Err(Error::Footer));
    }
}
