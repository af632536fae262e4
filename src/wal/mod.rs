//! The write-ahead log: the node's source of truth and its replication stream.
//!
//! A stream of crc-framed records split into segment files named after the
//! stream position of their first byte, so any offset is found by file name
//! plus seek. See `record` for the framing, `writer` for group commit and
//! `reader` for scanning and recovery.

pub(crate) mod reader;
pub(crate) mod record;
pub(crate) mod writer;

pub(crate) use reader::{
    is_record_start, list_segments, scan_segment, scan_segment_range, ScanDamage, WalReader,
};
pub(crate) use record::FRAME_HEADER;
pub use record::{decode_frame, Decoded, Effect, Record};
pub use writer::on_runtime_park;
pub(crate) use writer::{AppendError, FsyncPolicy, Recovery, Wal};
