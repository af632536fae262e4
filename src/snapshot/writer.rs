//! Streaming snapshot writer: pairs go in key order, blocks are compressed
//! as they fill, and the file appears at its final path only when complete.
//! Compressing and writing the blocks runs on a thread of its own (the
//! `Sink`), beside the caller that reads the keyspace: zstd was ~17% of a
//! snapshot's time.

use std::ffi::OsString;
use std::fs::{self, File};
use std::io::{self, BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, SyncSender};
use std::thread::JoinHandle;
use std::time::{SystemTime, UNIX_EPOCH};

use super::format::{
    encode_header, encode_trailer, is_valid_replid, show_key, Compression, SnapshotHeader, Trailer,
    BLOCK_HEADER_LEN, COMPRESSION_LEVEL, ENTRY_OVERHEAD, FORMAT_VERSION, HEADER_LEN, MAX_BLOCK_RAW,
    MAX_BLOCK_STORED, TARGET_BLOCK_RAW,
};

/// What a finished snapshot contains, for logs and INFO-style reporting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SnapshotInfo {
    pub path: PathBuf,
    pub keys: u64,
    pub blocks: u64,
    /// Sum of uncompressed block payloads (keys, values and length prefixes).
    pub raw_bytes: u64,
    pub file_bytes: u64,
    pub header: SnapshotHeader,
}

/// Writes a snapshot to `<path>.tmp`; `finish` renames it into place.
/// Dropping the writer without `finish` deletes the temporary file.
pub(crate) struct SnapshotWriter {
    path: PathBuf,
    tmp_path: PathBuf,
    /// The sink thread; `None` once an I/O error happened: the file is then
    /// unusable.
    sink: Option<SinkThread>,
    header: SnapshotHeader,
    raw: Vec<u8>,
    block_first_key: Vec<u8>,
    block_entries: u32,
    last_key: Vec<u8>,
    have_last: bool,
    keys: u64,
    blocks: u64,
    finished: bool,
}

/// One filled block on its way to the sink.
struct Block {
    raw: Vec<u8>,
    entries: u32,
    first_key: Vec<u8>,
}

struct SinkThread {
    tx: SyncSender<Block>,
    handle: JoinHandle<io::Result<Sink>>,
}

/// Compresses blocks and writes them, in order, building the index.
struct Sink {
    out: BufWriter<File>,
    compressor: zstd::bulk::Compressor<'static>,
    compressed: Vec<u8>,
    /// Encoded index entries, written after the last block.
    index: Vec<u8>,
    offset: u64,
    blocks: u64,
    raw_bytes: u64,
}

impl Sink {
    fn write_block(&mut self, b: &Block) -> io::Result<()> {
        crate::faults::check("snapshot-write")?;
        self.compressed.clear();
        self.compressed
            .reserve(zstd::zstd_safe::compress_bound(b.raw.len()));
        self.compressor
            .compress_to_buffer(&b.raw, &mut self.compressed)?;
        if self.compressed.len() > MAX_BLOCK_STORED - BLOCK_HEADER_LEN {
            return Err(io::Error::other("compressed block exceeds the format cap"));
        }
        let raw_len = b.raw.len() as u32;
        let comp_len = self.compressed.len() as u32;
        let mut bh = [0u8; BLOCK_HEADER_LEN];
        bh[0..4].copy_from_slice(&raw_len.to_le_bytes());
        bh[4..8].copy_from_slice(&comp_len.to_le_bytes());
        bh[8..12].copy_from_slice(&b.entries.to_le_bytes());
        let mut h = crc32fast::Hasher::new();
        h.update(&bh[0..12]);
        h.update(&self.compressed);
        bh[12..16].copy_from_slice(&h.finalize().to_le_bytes());
        self.out.write_all(&bh)?;
        self.out.write_all(&self.compressed)?;

        let stored_len = (BLOCK_HEADER_LEN + self.compressed.len()) as u32;
        self.index.extend_from_slice(&self.offset.to_le_bytes());
        self.index.extend_from_slice(&stored_len.to_le_bytes());
        self.index.extend_from_slice(&b.entries.to_le_bytes());
        self.index.extend_from_slice(&raw_len.to_le_bytes());
        self.index
            .extend_from_slice(&(b.first_key.len() as u32).to_le_bytes());
        self.index.extend_from_slice(&b.first_key);

        self.offset += u64::from(stored_len);
        self.blocks += 1;
        self.raw_bytes += u64::from(raw_len);
        // Don't keep a huge buffer around after one oversized pair.
        if self.compressed.capacity() > TARGET_BLOCK_RAW * 4 {
            self.compressed.shrink_to(TARGET_BLOCK_RAW * 2);
        }
        Ok(())
    }
}

impl std::fmt::Debug for SnapshotWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnapshotWriter")
            .field("path", &self.path)
            .field("keys", &self.keys)
            .field("blocks", &self.blocks)
            .finish_non_exhaustive()
    }
}

fn invalid_input(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

fn tmp_path_for(path: &Path) -> PathBuf {
    let mut s: OsString = path.as_os_str().to_owned();
    s.push(".tmp");
    PathBuf::from(s)
}

impl SnapshotWriter {
    /// Writes to `path` + ".tmp" and renames into place in finish(), so a
    /// reader never sees a half-written file. An existing `.tmp` (left by a
    /// crash) is overwritten.
    pub(crate) fn create(path: &Path, replid: &str, start_offset: u64) -> io::Result<Self> {
        if !is_valid_replid(replid) {
            return Err(invalid_input(format!(
                "replid must be 40 hex characters, got {} bytes",
                replid.len()
            )));
        }
        let tmp_path = tmp_path_for(path);
        let file = File::create(&tmp_path)?;
        let mut out = BufWriter::with_capacity(1 << 20, file);
        // Zeros until finish: an unfinished file has no magic at all.
        out.write_all(&[0u8; HEADER_LEN])?;
        let created_at_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
            .unwrap_or(0);
        let header = SnapshotHeader {
            version: FORMAT_VERSION,
            replid: replid.to_string(),
            start_offset,
            end_offset: start_offset,
            created_at_ms,
            compression: Compression::Zstd,
        };
        tracing::debug!(path = %path.display(), start_offset, "snapshot write started");
        let mut sink = Sink {
            out,
            compressor: zstd::bulk::Compressor::new(COMPRESSION_LEVEL)?,
            compressed: Vec::new(),
            index: Vec::new(),
            offset: HEADER_LEN as u64,
            blocks: 0,
            raw_bytes: 0,
        };
        // A few blocks in flight: enough to overlap, little memory.
        let (tx, rx) = sync_channel::<Block>(4);
        let handle = std::thread::Builder::new()
            .name("snapshot-write".into())
            .spawn(move || {
                for b in rx {
                    sink.write_block(&b)?;
                }
                Ok(sink)
            })?;
        Ok(SnapshotWriter {
            path: path.to_path_buf(),
            tmp_path,
            sink: Some(SinkThread { tx, handle }),
            header,
            raw: Vec::with_capacity(TARGET_BLOCK_RAW * 2),
            block_first_key: Vec::new(),
            block_entries: 0,
            last_key: Vec::new(),
            have_last: false,
            keys: 0,
            blocks: 0,
            finished: false,
        })
    }

    /// Keys must come in strictly increasing order (return an error
    /// otherwise). A rejected pair leaves the writer usable; an I/O error
    /// does not.
    pub(crate) fn add(&mut self, key: &[u8], value: &[u8]) -> io::Result<()> {
        if self.sink.is_none() {
            return Err(io::Error::other("snapshot writer failed earlier"));
        }
        if self.have_last && key <= self.last_key.as_slice() {
            return Err(invalid_input(format!(
                "snapshot keys must be strictly increasing: {} after {}",
                show_key(key),
                show_key(&self.last_key)
            )));
        }
        let entry_len = ENTRY_OVERHEAD
            .saturating_add(key.len())
            .saturating_add(value.len());
        if entry_len > MAX_BLOCK_RAW {
            return Err(invalid_input(format!(
                "pair {} of {entry_len} bytes exceeds the snapshot limit of {MAX_BLOCK_RAW} bytes per pair",
                show_key(key)
            )));
        }
        if !self.raw.is_empty() && self.raw.len() + entry_len > MAX_BLOCK_RAW {
            self.flush_block()?;
        }
        if self.raw.is_empty() {
            self.block_first_key.clear();
            self.block_first_key.extend_from_slice(key);
        }
        // Both lengths fit in u32: each is below MAX_BLOCK_RAW.
        self.raw
            .extend_from_slice(&(key.len() as u32).to_le_bytes());
        self.raw
            .extend_from_slice(&(value.len() as u32).to_le_bytes());
        self.raw.extend_from_slice(key);
        self.raw.extend_from_slice(value);
        self.block_entries += 1;
        self.keys += 1;
        self.last_key.clear();
        self.last_key.extend_from_slice(key);
        self.have_last = true;
        if self.raw.len() >= TARGET_BLOCK_RAW {
            self.flush_block()?;
        }
        Ok(())
    }

    /// Hands the pending block to the sink; poisons the writer on error.
    fn flush_block(&mut self) -> io::Result<()> {
        if self.raw.is_empty() {
            return Ok(());
        }
        let Some(sink) = self.sink.as_ref() else {
            return Err(io::Error::other("snapshot writer failed earlier"));
        };
        let block = Block {
            raw: std::mem::replace(&mut self.raw, Vec::with_capacity(TARGET_BLOCK_RAW * 2)),
            entries: self.block_entries,
            first_key: std::mem::take(&mut self.block_first_key),
        };
        self.block_entries = 0;
        self.blocks += 1;
        if sink.tx.send(block).is_err() {
            // The sink stopped: its error says why.
            return Err(match self.join_sink() {
                Err(e) => e,
                Ok(_) => io::Error::other("snapshot sink stopped early"),
            });
        }
        Ok(())
    }

    /// Waits for the sink to write what it was sent; the writer is done
    /// with it either way.
    fn join_sink(&mut self) -> io::Result<Sink> {
        let Some(SinkThread { tx, handle }) = self.sink.take() else {
            return Err(io::Error::other("snapshot writer failed earlier"));
        };
        drop(tx);
        handle
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("snapshot writing thread panicked")))
    }

    /// Flushes the last block, writes index + trailer + final header, fsyncs
    /// the file, renames, fsyncs the dir. `end_offset` is the replication
    /// offset reached when the dump ended (must be >= the start offset).
    pub(crate) fn finish(mut self, end_offset: u64) -> io::Result<SnapshotInfo> {
        if end_offset < self.header.start_offset {
            return Err(invalid_input(format!(
                "snapshot end offset {end_offset} is before start offset {}",
                self.header.start_offset
            )));
        }
        self.flush_block()?;
        let Sink {
            mut out,
            index,
            offset: index_offset,
            blocks,
            raw_bytes,
            ..
        } = self.join_sink()?;
        self.header.end_offset = end_offset;

        let index_crc = crc32fast::hash(&index);
        out.write_all(&index)?;
        out.write_all(&index_crc.to_le_bytes())?;
        let trailer = Trailer {
            index_offset,
            key_count: self.keys,
            block_count: blocks,
            raw_bytes,
        };
        out.write_all(&encode_trailer(&trailer))?;
        let mut file = out.into_inner().map_err(|e| e.into_error())?;
        file.seek(SeekFrom::Start(0))?;
        file.write_all(&encode_header(&self.header))?;
        file.sync_all()?;
        let file_bytes = file.metadata()?.len();
        drop(file);

        fs::rename(&self.tmp_path, &self.path)?;
        self.finished = true;
        sync_parent_dir(&self.path)?;

        let info = SnapshotInfo {
            path: self.path.clone(),
            keys: self.keys,
            blocks,
            raw_bytes,
            file_bytes,
            header: self.header.clone(),
        };
        tracing::info!(
            path = %info.path.display(),
            keys = info.keys,
            blocks = info.blocks,
            raw_bytes = info.raw_bytes,
            file_bytes = info.file_bytes,
            start_offset = info.header.start_offset,
            end_offset = info.header.end_offset,
            "snapshot written"
        );
        Ok(info)
    }
}

impl Drop for SnapshotWriter {
    fn drop(&mut self) {
        if !self.finished {
            // The sink's file handle goes first (the thread ends with it).
            let _ = self.join_sink();
            if let Err(e) = fs::remove_file(&self.tmp_path) {
                if e.kind() != io::ErrorKind::NotFound {
                    tracing::warn!(path = %self.tmp_path.display(), error = %e,
                        "could not remove abandoned snapshot temp file");
                }
            } else {
                tracing::debug!(path = %self.tmp_path.display(), "abandoned snapshot temp file removed");
            }
        }
    }
}

/// Makes the rename durable: without it a crash can forget the new name.
fn sync_parent_dir(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        Ok(())
    }
}
