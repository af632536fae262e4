//! How Redis keys are laid out in sled.
//!
//! - `k | db u8 | gen u32 BE | user key` → a key's metadata (its type, expiry
//!   and, for strings, the value itself). `gen` is the database's generation:
//!   FLUSHDB moves a database to a new generation, which hides every older key
//!   at once; the old ones are reclaimed in the background.
//! - `! g | db u8` → the database's current generation (u32 BE).
//!
//! Collections (issue 5) will add sub-key families beside `k`.

use bytes::{BufMut, Bytes, BytesMut};

pub const DATA: u8 = b'k';
pub const INTERNAL: u8 = b'!';
pub const DATA_PREFIX_LEN: usize = 6;

pub fn data_key(db: u8, gen: u32, key: &[u8]) -> Bytes {
    let mut b = BytesMut::with_capacity(DATA_PREFIX_LEN + key.len());
    b.put_u8(DATA);
    b.put_u8(db);
    b.put_u32(gen);
    b.put_slice(key);
    b.freeze()
}

pub fn db_prefix(db: u8, gen: u32) -> [u8; DATA_PREFIX_LEN] {
    let g = gen.to_be_bytes();
    [DATA, db, g[0], g[1], g[2], g[3]]
}

/// Splits a data key into (db, gen, user key).
pub fn parse_data_key(k: &[u8]) -> Option<(u8, u32, &[u8])> {
    if k.len() < DATA_PREFIX_LEN || k[0] != DATA {
        return None;
    }
    let gen = u32::from_be_bytes([k[2], k[3], k[4], k[5]]);
    Some((k[1], gen, &k[DATA_PREFIX_LEN..]))
}

pub fn gen_key(db: u8) -> Bytes {
    Bytes::from(vec![INTERNAL, b'g', db])
}

pub fn parse_gen_key(k: &[u8]) -> Option<u8> {
    match k {
        [INTERNAL, b'g', db] => Some(*db),
        _ => None,
    }
}

/// Redis value types. The number is stored on disk: never renumber.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    String = 0,
}

impl Kind {
    pub fn from_u8(v: u8) -> Option<Kind> {
        match v {
            0 => Some(Kind::String),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::String => "string",
        }
    }
}

/// A key's metadata entry. Encoded as `kind u8 | flags u8 | [expire_at i64 LE]
/// | payload`, where flags bit 0 says an expiry is present.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meta {
    pub kind: Kind,
    /// Absolute unix time in ms.
    pub expire_at: Option<i64>,
    pub payload: Bytes,
}

impl Meta {
    pub fn string(value: Bytes, expire_at: Option<i64>) -> Meta {
        Meta {
            kind: Kind::String,
            expire_at,
            payload: value,
        }
    }

    pub fn encode(&self) -> Bytes {
        let mut b = BytesMut::with_capacity(10 + self.payload.len());
        b.put_u8(self.kind as u8);
        match self.expire_at {
            Some(t) => {
                b.put_u8(1);
                b.put_i64_le(t);
            }
            None => b.put_u8(0),
        }
        b.put_slice(&self.payload);
        b.freeze()
    }

    /// Decodes without copying the payload. None means the bytes are not a
    /// metadata entry this build understands.
    pub fn decode(v: &Bytes) -> Option<Meta> {
        if v.len() < 2 {
            return None;
        }
        let kind = Kind::from_u8(v[0])?;
        let (expire_at, rest) = match v[1] {
            0 => (None, 2),
            1 if v.len() >= 10 => {
                let mut t = [0u8; 8];
                t.copy_from_slice(&v[2..10]);
                (Some(i64::from_le_bytes(t)), 10)
            }
            _ => return None,
        };
        Some(Meta {
            kind,
            expire_at,
            payload: v.slice(rest..),
        })
    }

    /// Just the expiry, for the index, without building a Meta.
    pub fn peek_expire(v: &[u8]) -> Option<i64> {
        if v.len() >= 10 && v[1] == 1 {
            let mut t = [0u8; 8];
            t.copy_from_slice(&v[2..10]);
            Some(i64::from_le_bytes(t))
        } else {
            None
        }
    }

    pub fn is_expired(&self, now_ms: i64) -> bool {
        matches!(self.expire_at, Some(t) if t <= now_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn round_trip() {
        let m = Meta::string(Bytes::from("hello"), Some(123));
        let e = m.encode();
        assert_eq!(Meta::decode(&e), Some(m));
        assert_eq!(Meta::peek_expire(&e), Some(123));
        let k = data_key(3, 7, b"user:1");
        assert_eq!(parse_data_key(&k), Some((3, 7, &b"user:1"[..])));
    }
}
