//! Snapshot reader: validates the fixed parts up front in `open`, then reads
//! blocks on demand so memory stays at one block regardless of file size.

use std::fmt;
use std::fs::File;
use std::io::Read;
use std::iter::FusedIterator;
use std::path::{Path, PathBuf};

use super::error::{SnapshotError, SnapshotErrorKind};
use super::format::{
    decode_header, decode_trailer, read_exact_at, show_key, BlockIndexEntry, Cursor, Pair,
    SnapshotHeader, BLOCK_HEADER_LEN, ENTRY_OVERHEAD, HEADER_LEN, INDEX_CRC_LEN,
    INDEX_ENTRY_FIXED_LEN, MAGIC, MAX_BLOCK_RAW, MAX_BLOCK_STORED, PREALLOC_RAW, TRAILER_LEN,
};

const MAX_PREALLOC_PAIRS: usize = 16 * 1024;

/// Cheap check for tools deciding how to open a file: true when it starts
/// with the snapshot magic (says nothing about the rest being intact).
pub(crate) fn is_snapshot(path: &Path) -> bool {
    let mut magic = [0u8; 8];
    File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .map(|()| magic == MAGIC)
        .unwrap_or(false)
}

/// An opened, structurally valid snapshot. `Sync`, so several threads can
/// call `read_block` at once for parallel loading.
pub struct SnapshotReader {
    path: PathBuf,
    file: File,
    file_len: u64,
    header: SnapshotHeader,
    key_count: u64,
    raw_bytes: u64,
    /// Where the block index starts (the tests check it).
    #[cfg(test)]
    index_offset: u64,
    index: Vec<BlockIndexEntry>,
}

/// Summary only: the index can hold millions of entries.
impl fmt::Debug for SnapshotReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SnapshotReader")
            .field("path", &self.path)
            .field("header", &self.header)
            .field("keys", &self.key_count)
            .field("blocks", &self.index.len())
            .field("file_len", &self.file_len)
            .finish_non_exhaustive()
    }
}

/// One block `verify` could not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DamagedBlock {
    pub block: usize,
    pub offset: u64,
    /// Pairs the index says the block holds (all lost with it).
    pub entries: u32,
    pub first_key: Vec<u8>,
    pub problem: String,
}

/// Result of [`SnapshotReader::verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    pub(crate) path: PathBuf,
    pub(crate) blocks: usize,
    /// Key count recorded in the trailer.
    pub(crate) keys_expected: u64,
    /// Pairs in blocks that passed every check.
    pub(crate) keys_readable: u64,
    pub(crate) damaged: Vec<DamagedBlock>,
}

impl VerifyReport {
    pub fn is_ok(&self) -> bool {
        self.damaged.is_empty() && self.keys_readable == self.keys_expected
    }
}

impl fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "snapshot {}: {} blocks, {} damaged, {}/{} keys readable",
            self.path.display(),
            self.blocks,
            self.damaged.len(),
            self.keys_readable,
            self.keys_expected
        )?;
        for d in &self.damaged {
            write!(
                f,
                "\n  block {} at offset {} ({} keys from {}): {}",
                d.block,
                d.offset,
                d.entries,
                show_key(&d.first_key),
                d.problem
            )?;
        }
        Ok(())
    }
}

/// Where a pair's key and value lie in a decompressed block.
type Span = (std::ops::Range<usize>, std::ops::Range<usize>);

/// Reusable buffers and zstd context, so streaming doesn't allocate them
/// per block.
struct Scratch {
    stored: Vec<u8>,
    raw: Vec<u8>,
    dctx: Option<zstd::bulk::Decompressor<'static>>,
}

impl Scratch {
    fn new() -> Self {
        Scratch {
            stored: Vec::new(),
            raw: Vec::new(),
            dctx: None,
        }
    }
}

impl SnapshotReader {
    /// Validates magic, version, header crc, trailer, index crc and the
    /// index's consistency (contiguous blocks, sorted first keys, totals).
    /// Block bodies are only checked when read or verified. Errors name the
    /// file offset.
    pub fn open(path: &Path) -> Result<Self, SnapshotError> {
        Self::open_inner(path).map_err(|e| e.with_path(path))
    }

    fn open_inner(path: &Path) -> Result<Self, SnapshotError> {
        let file = File::open(path).map_err(|e| SnapshotError::io(e, None, "cannot open"))?;
        let file_len = file
            .metadata()
            .map_err(|e| SnapshotError::io(e, None, "cannot stat"))?
            .len();

        let head_len = file_len.min(HEADER_LEN as u64) as usize;
        let mut head = vec![0u8; head_len];
        read_exact_at(&file, &mut head, 0)
            .map_err(|e| SnapshotError::io(e, Some(0), "reading header"))?;
        let header = decode_header(&head, file_len)?;

        let min_len = (HEADER_LEN + INDEX_CRC_LEN + TRAILER_LEN) as u64;
        if file_len < min_len {
            return Err(SnapshotError::truncated(
                file_len,
                format!(
                    "file is {file_len} bytes, a complete snapshot has at least {min_len}: truncated or unfinished"
                ),
            ));
        }
        let trailer_at = file_len - TRAILER_LEN as u64;
        let mut tbuf = [0u8; TRAILER_LEN];
        read_exact_at(&file, &mut tbuf, trailer_at)
            .map_err(|e| SnapshotError::io(e, Some(trailer_at), "reading trailer"))?;
        let trailer = decode_trailer(&tbuf, trailer_at)?;

        let index_offset = trailer.index_offset;
        if index_offset < HEADER_LEN as u64 || index_offset > trailer_at - INDEX_CRC_LEN as u64 {
            return Err(SnapshotError::corrupt(
                trailer_at,
                format!(
                    "trailer at offset {trailer_at}: index offset {index_offset} is outside the file body"
                ),
            ));
        }
        // Bounded by the file size, which we have just checked.
        let index_len = usize::try_from(trailer_at - index_offset).map_err(|_| {
            SnapshotError::corrupt(
                index_offset,
                format!("index at offset {index_offset} is too large"),
            )
        })?;
        let mut ibuf = vec![0u8; index_len];
        read_exact_at(&file, &mut ibuf, index_offset)
            .map_err(|e| SnapshotError::io(e, Some(index_offset), "reading block index"))?;
        let (body, crc_bytes) = ibuf.split_at(index_len - INDEX_CRC_LEN);
        let stored_crc = Cursor::new(crc_bytes).u32().unwrap_or_default();
        let computed = crc32fast::hash(body);
        if stored_crc != computed {
            return Err(SnapshotError::corrupt(
                index_offset,
                format!(
                    "block index at offset {index_offset}: crc mismatch (stored 0x{stored_crc:08x}, computed 0x{computed:08x})"
                ),
            ));
        }
        let index = parse_index(body, index_offset, &trailer)?;

        let reader = SnapshotReader {
            path: path.to_path_buf(),
            file,
            file_len,
            header,
            key_count: trailer.key_count,
            raw_bytes: trailer.raw_bytes,
            #[cfg(test)]
            index_offset,
            index,
        };
        tracing::debug!(
            path = %path.display(),
            keys = reader.key_count,
            blocks = reader.index.len(),
            file_len,
            "snapshot opened"
        );
        Ok(reader)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    pub fn header(&self) -> &SnapshotHeader {
        &self.header
    }

    pub fn key_count(&self) -> u64 {
        self.key_count
    }

    pub fn block_count(&self) -> usize {
        self.index.len()
    }

    pub(crate) fn file_len(&self) -> u64 {
        self.file_len
    }

    /// Total uncompressed payload bytes, as recorded in the trailer.
    pub(crate) fn raw_bytes(&self) -> u64 {
        self.raw_bytes
    }

    /// File offset where the block index starts (just after the last block).
    #[cfg(test)]
    pub(crate) fn index_offset(&self) -> u64 {
        self.index_offset
    }

    pub fn blocks(&self) -> &[BlockIndexEntry] {
        &self.index
    }

    /// The only block that can hold `key`: the last one whose first key is
    /// <= `key`. `None` when `key` sorts before every key in the file.
    pub(crate) fn find_block(&self, key: &[u8]) -> Option<usize> {
        let after = self
            .index
            .partition_point(|e| e.first_key.as_slice() <= key);
        after.checked_sub(1)
    }

    /// Streams every pair in key order, block by block (bounded memory: one
    /// block at a time). Stops with Err at the first damaged block.
    pub fn iter(&self) -> SnapshotIter<'_> {
        SnapshotIter::new(self, 0, None)
    }

    /// Like `iter`, starting at the first pair whose key is >= `key`.
    #[cfg(test)]
    pub(crate) fn iter_from(&self, key: &[u8]) -> SnapshotIter<'_> {
        let block = self.find_block(key).unwrap_or(0);
        SnapshotIter::new(self, block, Some(key.to_vec()))
    }

    /// Reads one block's pairs (for parallel loading and for the dump tool
    /// seeking to a key).
    pub(crate) fn read_block(&self, i: usize) -> Result<Vec<Pair>, SnapshotError> {
        self.decode_block(i, &mut Scratch::new())
            .map_err(|e| e.with_path(&self.path))
    }

    /// Checks every block's crc and decompression and the entry counts
    /// against index/trailer; lists each damaged block with its file offset
    /// and what is wrong, and counts the keys that were readable.
    pub fn verify(&self) -> VerifyReport {
        let mut scratch = Scratch::new();
        let mut keys_readable = 0u64;
        let mut damaged = Vec::new();
        for (i, e) in self.index.iter().enumerate() {
            match self.decode_spans(i, &mut scratch) {
                Ok(pairs) => keys_readable += pairs.len() as u64,
                Err(err) => {
                    tracing::warn!(path = %self.path.display(), block = i, offset = e.offset,
                        error = %err.message(), "damaged snapshot block");
                    damaged.push(DamagedBlock {
                        block: i,
                        offset: e.offset,
                        entries: e.entries,
                        first_key: e.first_key.clone(),
                        problem: err.message().to_string(),
                    });
                }
            }
        }
        VerifyReport {
            path: self.path.clone(),
            blocks: self.index.len(),
            keys_expected: self.key_count,
            keys_readable,
            damaged,
        }
    }

    /// Reads, checks and decodes block `i`. Every length from the file is
    /// checked against the index (already bounded by the file size) or the
    /// block's own raw size before it sizes anything.
    fn decode_block(&self, i: usize, scratch: &mut Scratch) -> Result<Vec<Pair>, SnapshotError> {
        let spans = self.decode_spans(i, scratch)?;
        let raw = &scratch.raw;
        Ok(spans
            .into_iter()
            .map(|(k, v)| (raw[k].to_vec(), raw[v].to_vec()))
            .collect())
    }

    /// Reads, checks and decompresses block `i` into `scratch.raw`; the
    /// byte ranges of each pair's key and value there.
    fn decode_spans(&self, i: usize, scratch: &mut Scratch) -> Result<Vec<Span>, SnapshotError> {
        let Some(e) = self.index.get(i) else {
            return Err(SnapshotError::new(
                SnapshotErrorKind::Corrupt,
                None,
                format!("block {i} does not exist (file has {})", self.index.len()),
            ));
        };
        let off = e.offset;
        let at =
            |msg: String| SnapshotError::corrupt(off, format!("block {i} at offset {off}: {msg}"));

        // `len` was checked against MAX_BLOCK_STORED and the file at open.
        scratch.stored.clear();
        scratch.stored.resize(e.len as usize, 0);
        read_exact_at(&self.file, &mut scratch.stored, off)
            .map_err(|err| SnapshotError::io(err, Some(off), &format!("reading block {i}")))?;

        let mut c = Cursor::new(&scratch.stored);
        let (Some(raw_len), Some(comp_len), Some(entries), Some(stored_crc)) =
            (c.u32(), c.u32(), c.u32(), c.u32())
        else {
            return Err(at("shorter than a block header".to_string()));
        };
        let (head, payload) = scratch.stored.split_at(BLOCK_HEADER_LEN);
        let mut h = crc32fast::Hasher::new();
        h.update(head.get(..12).unwrap_or_default());
        h.update(payload);
        let computed = h.finalize();
        if stored_crc != computed {
            return Err(at(format!(
                "crc mismatch (stored 0x{stored_crc:08x}, computed 0x{computed:08x})"
            )));
        }
        if comp_len as usize != payload.len() {
            return Err(at(format!(
                "block header says {comp_len} compressed bytes, index says {}",
                payload.len()
            )));
        }
        if entries != e.entries {
            return Err(at(format!(
                "block header says {entries} entries, index says {}",
                e.entries
            )));
        }
        if raw_len != e.raw_len {
            return Err(at(format!(
                "block header says {raw_len} raw bytes, index says {}",
                e.raw_len
            )));
        }
        let raw_len = raw_len as usize;
        if raw_len > MAX_BLOCK_RAW {
            return Err(at(format!(
                "raw size {raw_len} exceeds the cap {MAX_BLOCK_RAW}"
            )));
        }

        let dctx = match scratch.dctx.as_mut() {
            Some(d) => d,
            None => scratch.dctx.insert(
                zstd::bulk::Decompressor::new()
                    .map_err(|err| SnapshotError::io(err, Some(off), "creating zstd context"))?,
            ),
        };
        scratch.raw.clear();
        let n = if raw_len <= PREALLOC_RAW {
            // Capacity bounds the output: a bogus stream cannot grow past it.
            scratch.raw.reserve(raw_len);
            dctx.decompress_to_buffer(payload, &mut scratch.raw)
                .map_err(|err| at(format!("zstd decompression failed: {err}")))?
        } else {
            // A block holding one big value: the buffer grows with what
            // really decompresses, up to one byte past the claim.
            use std::io::Read;
            let dec = zstd::stream::read::Decoder::with_buffer(payload)
                .map_err(|err| at(format!("zstd decompression failed: {err}")))?;
            dec.take(raw_len as u64 + 1)
                .read_to_end(&mut scratch.raw)
                .map_err(|err| at(format!("zstd decompression failed: {err}")))?
        };
        if n != raw_len {
            return Err(at(format!("decompressed to {n} bytes, expected {raw_len}")));
        }

        // Preallocate only up to a modest count: a crafted block may claim
        // millions of entries and fail on the second one.
        let mut pairs = Vec::with_capacity((entries as usize).min(MAX_PREALLOC_PAIRS));
        let mut rc = Cursor::new(&scratch.raw);
        let mut prev: Option<&[u8]> = None;
        for n in 0..entries {
            let pos = rc.pos();
            let (Some(klen), Some(vlen)) = (rc.u32(), rc.u32()) else {
                return Err(at(format!(
                    "entry {n} at raw byte {pos}: block ends inside the length prefix"
                )));
            };
            let left = rc.remaining();
            let (Some(key), Some(value)) = (rc.bytes(klen as usize), rc.bytes(vlen as usize))
            else {
                return Err(at(format!(
                    "entry {n} at raw byte {pos}: key {klen} + value {vlen} bytes exceed the {left} bytes left in the block"
                )));
            };
            match prev {
                None if key != e.first_key.as_slice() => {
                    return Err(at(format!(
                        "first key {} differs from the index's {}",
                        show_key(key),
                        show_key(&e.first_key)
                    )));
                }
                Some(p) if key <= p => {
                    return Err(at(format!(
                        "entry {n} at raw byte {pos}: key {} is not after {}",
                        show_key(key),
                        show_key(p)
                    )));
                }
                _ => {}
            }
            prev = Some(key);
            let k0 = rc.pos() - key.len() - value.len();
            let v0 = k0 + key.len();
            pairs.push((k0..v0, v0..v0 + value.len()));
        }
        if rc.remaining() != 0 {
            return Err(at(format!(
                "{} unused bytes after the last of {entries} entries",
                rc.remaining()
            )));
        }
        // Keys must stay below the next block's first key for global order.
        if let (Some(last), Some(next)) = (prev, self.index.get(i + 1)) {
            if last >= next.first_key.as_slice() {
                return Err(at(format!(
                    "last key {} is not before the next block's first key {}",
                    show_key(last),
                    show_key(&next.first_key)
                )));
            }
        }
        Ok(pairs)
    }
}

/// Parses and cross-checks the index body (crc already verified).
fn parse_index(
    body: &[u8],
    index_offset: u64,
    trailer: &super::format::Trailer,
) -> Result<Vec<BlockIndexEntry>, SnapshotError> {
    let max_blocks = body.len() / INDEX_ENTRY_FIXED_LEN;
    let block_count = usize::try_from(trailer.block_count)
        .ok()
        .filter(|&n| n <= max_blocks)
        .ok_or_else(|| {
            SnapshotError::corrupt(
                index_offset,
                format!(
                    "block index at offset {index_offset}: {} blocks cannot fit in {} index bytes",
                    trailer.block_count,
                    body.len()
                ),
            )
        })?;
    let mut index = Vec::with_capacity(block_count);
    let mut c = Cursor::new(body);
    let mut expect_offset = HEADER_LEN as u64;
    let mut keys = 0u64;
    let mut raw_total = 0u64;
    for i in 0..block_count {
        let at = index_offset + c.pos() as u64;
        let bad = |msg: String| {
            SnapshotError::corrupt(at, format!("block index entry {i} at offset {at}: {msg}"))
        };
        let (Some(offset), Some(len), Some(entries), Some(raw_len), Some(klen)) =
            (c.u64(), c.u32(), c.u32(), c.u32(), c.u32())
        else {
            return Err(bad("index ends early".to_string()));
        };
        let first_key = c
            .bytes(klen as usize)
            .ok_or_else(|| bad(format!("first key of {klen} bytes runs past the index")))?
            .to_vec();
        if offset != expect_offset {
            return Err(bad(format!(
                "block offset {offset}, expected {expect_offset} (blocks must be contiguous)"
            )));
        }
        let len_us = len as usize;
        if !(BLOCK_HEADER_LEN..=MAX_BLOCK_STORED).contains(&len_us) {
            return Err(bad(format!("block length {len} is out of range")));
        }
        let raw_us = raw_len as usize;
        if raw_us > MAX_BLOCK_RAW
            || entries == 0
            || (entries as usize).saturating_mul(ENTRY_OVERHEAD) > raw_us
            || first_key.len().saturating_add(ENTRY_OVERHEAD) > raw_us
        {
            return Err(bad(format!(
                "{entries} entries in {raw_len} raw bytes (first key {klen} bytes) is impossible"
            )));
        }
        if let Some(prev) = index.last().map(|p: &BlockIndexEntry| &p.first_key) {
            if first_key <= *prev {
                return Err(bad(format!(
                    "first key {} is not after the previous block's {}",
                    show_key(&first_key),
                    show_key(prev)
                )));
            }
        }
        expect_offset += u64::from(len);
        keys += u64::from(entries);
        raw_total += u64::from(raw_len);
        index.push(BlockIndexEntry {
            first_key,
            offset,
            len,
            entries,
            raw_len,
        });
    }
    if c.remaining() != 0 {
        let at = index_offset + c.pos() as u64;
        return Err(SnapshotError::corrupt(
            at,
            format!(
                "block index: {} unexpected bytes at offset {at}",
                c.remaining()
            ),
        ));
    }
    if expect_offset != index_offset {
        return Err(SnapshotError::corrupt(
            index_offset,
            format!(
                "block index at offset {index_offset}: blocks end at offset {expect_offset}, not at the index"
            ),
        ));
    }
    if keys != trailer.key_count || raw_total != trailer.raw_bytes {
        return Err(SnapshotError::corrupt(
            index_offset,
            format!(
                "block index at offset {index_offset}: {keys} keys / {raw_total} raw bytes, trailer says {} / {}",
                trailer.key_count, trailer.raw_bytes
            ),
        ));
    }
    Ok(index)
}

/// Streaming iterator over a snapshot's pairs in key order; holds at most
/// one decoded block. Fused: after an error it yields nothing more.
pub struct SnapshotIter<'a> {
    reader: &'a SnapshotReader,
    next_block: usize,
    current: std::vec::IntoIter<Pair>,
    scratch: Scratch,
    /// Skip pairs below this key (for `iter_from`).
    from: Option<Vec<u8>>,
    done: bool,
}

impl<'a> SnapshotIter<'a> {
    fn new(reader: &'a SnapshotReader, first_block: usize, from: Option<Vec<u8>>) -> Self {
        SnapshotIter {
            reader,
            next_block: first_block,
            current: Vec::new().into_iter(),
            scratch: Scratch::new(),
            from,
            done: false,
        }
    }
}

impl Iterator for SnapshotIter<'_> {
    type Item = Result<Pair, SnapshotError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(pair) = self.current.next() {
                if let Some(from) = &self.from {
                    if pair.0 < *from {
                        continue;
                    }
                    self.from = None;
                }
                return Some(Ok(pair));
            }
            if self.done || self.next_block >= self.reader.index.len() {
                self.done = true;
                return None;
            }
            let i = self.next_block;
            self.next_block += 1;
            match self.reader.decode_block(i, &mut self.scratch) {
                Ok(pairs) => self.current = pairs.into_iter(),
                Err(e) => {
                    self.done = true;
                    return Some(Err(e.with_path(&self.reader.path)));
                }
            }
        }
    }
}

impl FusedIterator for SnapshotIter<'_> {}
