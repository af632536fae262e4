//! Point-in-time-ish dumps of the sled keyspace, used by SAVE/BGSAVE, by full
//! sync to replicas (the file is shipped over TCP and opened by the replica)
//! and by the offline dump tool.
//!
//! The file is a sequence of independently compressed blocks so that damage
//! stays local: a bad block is named (index and file offset) and the others
//! remain readable. The fixed-size trailer comes last, so a truncated or
//! unfinished file is detected by its missing trailer magic.
//!
//! # Byte layout (version 1)
//!
//! All integers are little-endian. Every crc is CRC-32 (IEEE, as computed by
//! `crc32fast`).
//!
//! **Header**, 84 bytes at offset 0. The writer puts zeros here while it
//! works and writes the real header last, once E is known.
//!
//! | offset | size | field |
//! |-------:|-----:|-------|
//! | 0  | 8  | magic `b"SLEDISNP"` |
//! | 8  | 4  | format version u32 (= 1; larger is rejected as "newer") |
//! | 12 | 1  | compression id u8 (1 = zstd) |
//! | 13 | 3  | reserved, must be zero |
//! | 16 | 40 | replid, 40 ASCII hex characters |
//! | 56 | 8  | start offset S u64 |
//! | 64 | 8  | end offset E u64 (E >= S) |
//! | 72 | 8  | created-at, unix milliseconds u64 |
//! | 80 | 4  | crc32 of bytes 0..80 |
//!
//! **Blocks**, contiguous from offset 84 up to the index. Each block:
//!
//! | offset | size | field |
//! |-------:|-----:|-------|
//! | +0  | 4 | raw (uncompressed) length u32, <= 64 MiB |
//! | +4  | 4 | compressed length u32 (= C) |
//! | +8  | 4 | entry count u32, >= 1 |
//! | +12 | 4 | crc32 of bytes +0..+12 followed by the C payload bytes |
//! | +16 | C | one zstd frame (level 1) |
//!
//! The decompressed payload is `entry count` records of
//! `key_len u32, value_len u32, key, value`, keys strictly increasing within
//! and across blocks. A block is closed once its raw size reaches 64 KiB, so
//! it may be larger when one pair is; a single pair (8 + key + value bytes)
//! is capped at 64 MiB ([`MAX_BLOCK_RAW`]).
//!
//! **Block index**, at `index_offset`, one entry per block in order, then a
//! crc32 (u32) of all entry bytes:
//!
//! | offset | size | field |
//! |-------:|-----:|-------|
//! | +0  | 8 | block file offset u64 |
//! | +8  | 4 | block length on disk u32 (16 + C) |
//! | +12 | 4 | entry count u32 |
//! | +16 | 4 | raw length u32 |
//! | +20 | 4 | first key length u32 (= K) |
//! | +24 | K | first key |
//!
//! **Trailer**, the last 44 bytes of the file:
//!
//! | offset | size | field |
//! |-------:|-----:|-------|
//! | 0  | 8 | index offset u64 |
//! | 8  | 8 | key count u64 |
//! | 16 | 8 | block count u64 |
//! | 24 | 8 | total raw bytes u64 (sum of block raw lengths) |
//! | 32 | 4 | crc32 of trailer bytes 0..32 |
//! | 36 | 8 | trailer magic `b"SLEDISTR"` |
//!
//! `SnapshotReader::open` checks magic, version, header crc, trailer magic
//! and crc, index crc, and that the index describes contiguous blocks ending
//! at the index with increasing first keys and totals matching the trailer.
//! Block contents are checked when read (`iter`, `read_block`, `verify`).

pub(crate) mod create;
mod error;
mod format;
mod reader;
mod writer;

#[cfg(test)]
mod tests;

pub use error::SnapshotError;
pub(crate) use format::Pair;
pub use format::{BlockIndexEntry, SnapshotHeader};
pub(crate) use reader::is_snapshot;
pub use reader::{SnapshotIter, SnapshotReader, VerifyReport};
pub(crate) use writer::{SnapshotInfo, SnapshotWriter};
