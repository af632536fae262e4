//! Taking a snapshot of a running store: the start offset and write buffer
//! are captured under the writer lock, the scan itself runs while writes go
//! on, and the end offset is read when it is done. Loading the file and
//! replaying the WAL from the start offset gives the state at any offset at or
//! after the end offset (effects are idempotent).

use super::{SnapshotInfo, SnapshotWriter};
use crate::store::Store;
use std::io;
use std::path::Path;

pub(crate) fn create(store: &Store, path: &Path, replid: &str) -> io::Result<SnapshotInfo> {
    let source = store.snapshot_source();
    let mut w = SnapshotWriter::create(path, replid, source.start)?;
    source.for_each(|k, v| w.add(k, v))?;
    let end = store.wal.end_offset();
    w.finish(end)
}
