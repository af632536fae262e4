//! Reading WAL segments: listing them, and scanning one record by record with
//! the damage found (torn tail vs. corruption in the middle) reported by
//! offset. Used by recovery, snapshot rebuild and the dump tool.

use super::record::{decode_frame, Decoded, Record, FRAME_HEADER, MAX_RECORD};
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct Segment {
    /// Stream position of the segment's first byte.
    pub start: u64,
    pub path: PathBuf,
    pub len: u64,
}

impl Segment {
    pub fn end(&self) -> u64 {
        self.start + self.len
    }
}

pub(crate) fn segment_name(start: u64) -> String {
    format!("{start:020}.wal")
}

/// The segments in `dir`, ordered by start offset.
pub(crate) fn list_segments(dir: &Path) -> io::Result<Vec<Segment>> {
    let mut out = Vec::new();
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e),
    };
    for entry in rd {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(stem) = name.strip_suffix(".wal") else {
            continue;
        };
        let Ok(start) = stem.parse::<u64>() else {
            continue;
        };
        // Retention may delete a segment while we list: skip it.
        let len = match entry.metadata() {
            Ok(m) => m.len(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        out.push(Segment {
            start,
            path: entry.path(),
            len,
        });
    }
    out.sort_by_key(|s| s.start);
    Ok(out)
}

/// Where and how a scan stopped early.
#[derive(Debug, Clone)]
pub(crate) struct ScanDamage {
    /// Stream offset of the first bad byte (start of the bad record).
    pub offset: u64,
    /// Byte offset inside the segment file.
    pub file_offset: u64,
    pub message: String,
    /// Bytes in the file from the bad record on.
    pub bytes_after: u64,
    /// True when the damage looks like an interrupted append (an incomplete
    /// last record, or only zeros after it): safe to cut. False means valid
    /// data may follow: corruption in the middle.
    pub torn: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct SegmentScan {
    pub records: u64,
    /// Stream position just past the last good record.
    pub valid_end: u64,
    pub damage: Option<ScanDamage>,
}

/// Reads `seg` record by record, calling `f` for each good one, and stops at
/// the first bad one. Zeros from a record boundary to the end of the file
/// are a preallocated segment's unused space, not damage (a record is never
/// empty, so a zero length cannot start one).
pub(crate) fn scan_segment(seg: &Segment, f: impl FnMut(&Record, u64)) -> io::Result<SegmentScan> {
    scan_segment_range(seg, 0, None, f)
}

/// [`scan_segment`] of the file bytes `[from, to)` (`to`: the file's end
/// when None). `from` must be a record boundary; a record that crosses
/// `to` is reported as incomplete.
pub(crate) fn scan_segment_range(
    seg: &Segment,
    from: u64,
    to: Option<u64>,
    mut f: impl FnMut(&Record, u64),
) -> io::Result<SegmentScan> {
    let mut file = File::open(&seg.path)?;
    let len = file.metadata()?.len();
    let file_len = to.map_or(len, |t| t.min(len));
    let mut pos: u64 = from.min(file_len);
    file.seek(SeekFrom::Start(pos))?;
    let mut records = 0;
    let mut buf: Vec<u8> = Vec::new();
    let mut header = [0u8; FRAME_HEADER];
    loop {
        if pos == file_len {
            return Ok(SegmentScan {
                records,
                valid_end: seg.start + pos,
                damage: None,
            });
        }
        let remaining = file_len - pos;
        let damage = |message: String, torn: bool| ScanDamage {
            offset: seg.start + pos,
            file_offset: pos,
            message,
            bytes_after: remaining,
            torn,
        };
        if remaining < FRAME_HEADER as u64 {
            let d = damage(
                format!("incomplete record header ({remaining} bytes)"),
                true,
            );
            return Ok(SegmentScan {
                records,
                valid_end: seg.start + pos,
                damage: Some(d),
            });
        }
        file.read_exact(&mut header)?;
        let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
        if len == 0 && rest_is_zero(&mut file, pos)? {
            // Zero-filled space of a preallocated segment: the data ends here.
            return Ok(SegmentScan {
                records,
                valid_end: seg.start + pos,
                damage: None,
            });
        }
        if len > MAX_RECORD || len == 0 {
            let torn = rest_is_zero(&mut file, pos)?;
            let d = damage(format!("invalid record length {len}"), torn);
            return Ok(SegmentScan {
                records,
                valid_end: seg.start + pos,
                damage: Some(d),
            });
        }
        let total = FRAME_HEADER as u64 + len as u64;
        if total > remaining {
            let d = damage(
                format!("incomplete record: {total} bytes announced, {remaining} present"),
                true,
            );
            return Ok(SegmentScan {
                records,
                valid_end: seg.start + pos,
                damage: Some(d),
            });
        }
        buf.clear();
        buf.extend_from_slice(&header);
        buf.resize(total as usize, 0);
        file.read_exact(&mut buf[FRAME_HEADER..])?;
        match decode_frame(&buf, seg.start + pos) {
            Decoded::Record(r, n) => {
                f(&r, seg.start + pos + n as u64);
                records += 1;
                pos += n as u64;
            }
            Decoded::Incomplete { need } => {
                let d = damage(format!("incomplete record: {need} bytes needed"), true);
                return Ok(SegmentScan {
                    records,
                    valid_end: seg.start + pos,
                    damage: Some(d),
                });
            }
            Decoded::Corrupt(msg) => {
                // The bad record ends the file, or only zeros follow: an append
                // that did not finish (e.g. a crash with pages half written).
                let torn = pos + total == file_len || rest_is_zero(&mut file, pos + total)?;
                let d = damage(msg, torn);
                return Ok(SegmentScan {
                    records,
                    valid_end: seg.start + pos,
                    damage: Some(d),
                });
            }
        }
    }
}

fn rest_is_zero(file: &mut File, from: u64) -> io::Result<bool> {
    file.seek(SeekFrom::Start(from))?;
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut chunk)?;
        if n == 0 {
            return Ok(true);
        }
        if chunk[..n].iter().any(|&b| b != 0) {
            return Ok(false);
        }
    }
}

/// Reads raw WAL bytes from a position onwards, crossing segment boundaries;
/// the replication stream and `sledis-dump wal` read through it.
pub(crate) struct WalReader {
    dir: PathBuf,
    pos: u64,
    /// The directory as last listed. Segments are contiguous (one starts
    /// where the previous one's data ends), never renamed, and removed only
    /// below what a reader still needs, so the list goes stale only at its
    /// end. Listing per segment instead made catching up over N segments
    /// cost N directory listings of N entries each.
    segs: Vec<Segment>,
    /// `limit` when `segs` was listed: a roll below a larger limit may not
    /// be in it yet.
    listed_limit: Option<u64>,
    /// Directory listings made, for the tests.
    listings: u64,
    /// The open segment, its start, and where its data ends (the next
    /// segment's start) once known: a preallocated segment's file goes on
    /// with zeros.
    file: Option<(File, u64, Option<u64>)>,
}

impl WalReader {
    pub(crate) fn new(dir: &Path, pos: u64) -> Self {
        WalReader {
            dir: dir.to_path_buf(),
            pos,
            segs: Vec::new(),
            listed_limit: None,
            listings: 0,
            file: None,
        }
    }

    pub(crate) fn position(&self) -> u64 {
        self.pos
    }

    #[cfg(test)]
    pub(crate) fn listings(&self) -> u64 {
        self.listings
    }

    /// Continues from `pos` instead, keeping the segment list.
    pub(crate) fn seek(&mut self, pos: u64) {
        if pos != self.pos {
            self.pos = pos;
            self.file = None;
        }
    }

    fn relist(&mut self, limit: u64) -> io::Result<()> {
        self.segs = list_segments(&self.dir)?;
        self.listed_limit = Some(limit);
        self.listings += 1;
        Ok(())
    }

    /// The listed segment holding `pos` and where its data ends, if known.
    fn locate(&self, pos: u64) -> Option<(usize, Option<u64>)> {
        let i = self
            .segs
            .partition_point(|s| s.start <= pos)
            .checked_sub(1)?;
        Some((i, self.segs.get(i + 1).map(|s| s.start)))
    }

    fn gone(&self) -> io::Error {
        io::Error::new(
            io::ErrorKind::NotFound,
            format!("WAL offset {} is no longer retained", self.pos),
        )
    }

    /// Opens the segment holding `pos`. The list is trusted if it shows
    /// where that segment ends, or was made at `limit` or later (no roll
    /// before `pos` can be missing then); otherwise, or if the file was
    /// removed since, it is listed again.
    fn open(&mut self, limit: u64) -> io::Result<()> {
        for fresh in [false, true] {
            if fresh {
                self.relist(limit)?;
            }
            let current = self.listed_limit.is_some_and(|l| l >= limit);
            let (i, end) = match self.locate(self.pos) {
                Some((i, end)) if fresh || end.is_some() || current => (i, end),
                _ if fresh => return Err(self.gone()),
                _ => continue,
            };
            let seg = &self.segs[i];
            match File::open(&seg.path) {
                Ok(mut f) => {
                    f.seek(SeekFrom::Start(self.pos - seg.start))?;
                    self.file = Some((f, seg.start, end));
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound && !fresh => continue,
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(self.gone()),
                Err(e) => return Err(e),
            }
        }
        Err(self.gone())
    }

    /// Reads up to `buf.len()` bytes but never past `limit` (the writer's
    /// written offset). Returns 0 when nothing is available yet.
    pub(crate) fn read(&mut self, buf: &mut [u8], limit: u64) -> io::Result<usize> {
        if self.pos >= limit {
            return Ok(0);
        }
        loop {
            if self.file.is_none() {
                self.open(limit)?;
            }
            let Some((_, start, end)) = self.file.as_ref() else {
                continue;
            };
            let (start, mut end) = (*start, *end);
            if end.is_none() && self.listed_limit.is_some_and(|l| l < limit) {
                // The last segment when listed: if the writer has moved on
                // since, its data ends where the next segment starts. The
                // writer rolls only once `written` has reached the roll
                // point, so a roll below `limit` (read before this listing)
                // shows here.
                self.relist(limit)?;
                end = self.locate(start).and_then(|(_, e)| e);
                if let Some((_, _, e)) = self.file.as_mut() {
                    *e = end;
                }
            }
            let stop = end.map_or(limit, |e| e.min(limit));
            let want = buf.len().min(stop.saturating_sub(self.pos) as usize);
            let n = match (want, self.file.as_mut()) {
                (0, _) | (_, None) => 0,
                (_, Some((f, _, _))) => f.read(&mut buf[..want])?,
            };
            if n > 0 {
                self.pos += n as u64;
                return Ok(n);
            }
            // End of this segment: move on if a later one starts here. A
            // later one that starts further on means the bytes in between
            // were removed: an error, never a silent stall.
            if !self.segs.iter().any(|s| s.start > start) {
                self.relist(limit)?;
            }
            if self.segs.iter().any(|s| s.start == self.pos) {
                self.file = None;
            } else if self.segs.iter().any(|s| s.start > self.pos) {
                return Err(self.gone());
            } else {
                return Ok(0);
            }
        }
    }
}

/// True if a record starts at stream position `pos` (or `pos` is `end`):
/// the frame there decodes and says it sits at `pos`. A PSYNC may only
/// continue from such a point.
pub(crate) fn is_record_start(dir: &Path, pos: u64, end: u64) -> bool {
    if pos == end {
        return true;
    }
    let Ok(segs) = list_segments(dir) else {
        return false;
    };
    let Some(seg) = segs.iter().rev().find(|s| s.start <= pos) else {
        return false;
    };
    let Ok(mut f) = File::open(&seg.path) else {
        return false;
    };
    if f.seek(SeekFrom::Start(pos - seg.start)).is_err() {
        return false;
    }
    let mut header = [0u8; FRAME_HEADER];
    if f.read_exact(&mut header).is_err() {
        return false;
    }
    let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
    if len == 0 || len > MAX_RECORD {
        return false;
    }
    let mut buf = header.to_vec();
    buf.resize(FRAME_HEADER + len as usize, 0);
    if f.read_exact(&mut buf[FRAME_HEADER..]).is_err() {
        return false;
    }
    matches!(decode_frame(&buf, pos), Decoded::Record(..))
}
