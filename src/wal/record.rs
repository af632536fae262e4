//! WAL record format: `len u32 LE | crc32 u32 LE | payload`, where payload is
//! the bincode encoding of a [`Record`] and crc covers the payload. A record
//! carries its own stream offset so a misplaced or replayed-elsewhere record is
//! caught, not applied.

use bytes::Bytes;
use serde::{Deserialize, Serialize};

pub(crate) const FRAME_HEADER: usize = 8;
/// No record is larger: it bounds what a reader allocates for a claimed length.
pub(crate) const MAX_RECORD: u32 = 1024 * 1024 * 1024;

/// A physical, idempotent change to the sled keyspace. Commands log effects,
/// not themselves, so replay and replication never re-run command logic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Effect {
    Put {
        key: Bytes,
        value: Bytes,
    },
    Del {
        key: Bytes,
    },
    /// FLUSHDB: database `db` moves to generation `gen`; older keys become
    /// unreachable at once and are reclaimed in the background.
    ClearDb {
        db: u8,
        gen: u32,
    },
    /// A keyspace event (`notify.rs`, by its number in `EVENTS`) on `key`
    /// of `db`. Logged whatever the writer's `notify-keyspace-events`, so
    /// each node that applies the record publishes what its own setting
    /// asks. Changes nothing in the keyspace. Added after the first
    /// release: bincode numbers variants in order, so older WAL files
    /// (which hold none) still decode.
    Event {
        db: u8,
        event: u8,
        key: Bytes,
    },
    /// The same, naming its key by the position of an earlier effect of
    /// the same record on that key's metadata (`k | db | gen | key`), so
    /// the key is not written twice: 9 bytes instead of 14 plus the key.
    EventAt {
        event: u8,
        at: u32,
    },
    /// A PUBLISH (or SPUBLISH, `shard`) on the master: a replica delivers
    /// it to its own subscribers, as a Redis replica runs the PUBLISH its
    /// master propagates. Changes nothing in the keyspace; replay at start
    /// delivers nothing. Appended last, so older WAL files still decode.
    Message {
        shard: bool,
        channel: Bytes,
        message: Bytes,
    },
}

impl Effect {
    pub fn is_event(&self) -> bool {
        matches!(self, Effect::Event { .. } | Effect::EventAt { .. })
    }

    pub fn is_message(&self) -> bool {
        matches!(self, Effect::Message { .. })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub(crate) offset: u64,
    pub effects: Vec<Effect>,
}

/// Appends the framed record to `out`.
#[cfg(test)]
pub(crate) fn encode_record(out: &mut Vec<u8>, record: &Record) {
    let start = out.len();
    out.extend_from_slice(&[0u8; FRAME_HEADER]);
    // Serializing into a Vec cannot fail for these types.
    if bincode::serialize_into(&mut *out, record).is_err() {
        out.truncate(start);
        return;
    }
    let len = (out.len() - start - FRAME_HEADER) as u32;
    let crc = crc32fast::hash(&out[start + FRAME_HEADER..]);
    out[start..start + 4].copy_from_slice(&len.to_le_bytes());
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

/// What decoding the bytes at some position found.
#[derive(Debug)]
pub enum Decoded {
    Record(Record, usize),
    /// Not enough bytes for the frame the header announces.
    Incomplete {
        need: usize,
    },
    Corrupt(String),
}

/// Decodes one frame at the front of `buf`, expecting stream offset `offset`.
pub fn decode_frame(buf: &[u8], offset: u64) -> Decoded {
    if buf.len() < FRAME_HEADER {
        return Decoded::Incomplete { need: FRAME_HEADER };
    }
    let len = u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]);
    let crc = u32::from_le_bytes([buf[4], buf[5], buf[6], buf[7]]);
    if len == 0 || len > MAX_RECORD {
        return Decoded::Corrupt(format!("invalid record length {len}"));
    }
    let total = FRAME_HEADER + len as usize;
    if buf.len() < total {
        return Decoded::Incomplete { need: total };
    }
    let payload = &buf[FRAME_HEADER..total];
    let actual = crc32fast::hash(payload);
    if actual != crc {
        return Decoded::Corrupt(format!(
            "crc mismatch (stored {crc:#010x}, computed {actual:#010x})"
        ));
    }
    match bincode::deserialize::<Record>(payload) {
        Ok(r) if r.offset == offset => Decoded::Record(r, total),
        Ok(r) => Decoded::Corrupt(format!(
            "record says offset {} but sits at {offset}",
            r.offset
        )),
        Err(e) => Decoded::Corrupt(format!("undecodable payload: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A record written before events existed decodes unchanged: the
    /// variants are numbered in order and the old ones kept theirs.
    #[test]
    fn records_without_events_keep_their_bytes() {
        let r = Record {
            offset: 0,
            effects: vec![Effect::Del {
                key: Bytes::from("x"),
            }],
        };
        let bytes = bincode::serialize(&r).unwrap();
        // offset u64, len u64, variant u32 = 1 (Del), key len u64, key.
        let mut want = vec![0u8; 8];
        want.extend_from_slice(&1u64.to_le_bytes());
        want.extend_from_slice(&1u32.to_le_bytes());
        want.extend_from_slice(&1u64.to_le_bytes());
        want.push(b'x');
        assert_eq!(bytes, want);
    }
    #[test]
    fn round_trip() {
        let r = Record {
            offset: 42,
            effects: vec![
                Effect::Put {
                    key: Bytes::from("k"),
                    value: Bytes::from("v"),
                },
                Effect::Del {
                    key: Bytes::from("x"),
                },
                Effect::ClearDb { db: 3, gen: 7 },
                Effect::Event {
                    db: 1,
                    event: 6,
                    key: Bytes::from("k"),
                },
                Effect::EventAt { event: 1, at: 0 },
            ],
        };
        let mut out = Vec::new();
        encode_record(&mut out, &r);
        match decode_frame(&out, 42) {
            Decoded::Record(d, n) => {
                assert_eq!(d, r);
                assert_eq!(n, out.len());
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            decode_frame(&out[..out.len() - 1], 42),
            Decoded::Incomplete { .. }
        ));
        assert!(matches!(decode_frame(&out, 41), Decoded::Corrupt(_)));
        let mut bad = out.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert!(matches!(decode_frame(&bad, 42), Decoded::Corrupt(_)));
    }
}
