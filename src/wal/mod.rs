//! The write-ahead log: the node's source of truth and its replication stream.
//!
//! A stream of crc-framed records split into segment files named after the
//! stream position of their first byte, so any offset is found by file name
//! plus seek. See `record` for the framing, `writer` for group commit and
//! `reader` for scanning and recovery.

pub mod reader;
pub mod record;
pub mod writer;

pub use reader::{
    is_record_start, list_segments, scan_segment, scan_segment_range, segment_name, ScanDamage,
    Segment, SegmentScan, WalReader,
};
pub use record::{decode_frame, encode_record, Decoded, Effect, Record, FRAME_HEADER};
pub use writer::{on_runtime_park, AppendError, FsyncPolicy, Recovery, Wal};
