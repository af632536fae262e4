//! Reply parsing for the client side of the protocol (a replica talking to
//! its master, a sentinel talking to nodes).

use bytes::{Buf, Bytes, BytesMut};

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Frame {
    Simple(String),
    Error(String),
    Integer(i64),
    Bulk(Bytes),
    Null,
    Array(Vec<Frame>),
}

impl Frame {
    pub(crate) fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Frame::Bulk(b) => Some(b),
            Frame::Simple(s) => Some(s.as_bytes()),
            _ => None,
        }
    }
}

/// Largest reply element we accept from a peer (the same cap as requests).
const MAX_LEN: i64 = 512 * 1024 * 1024;
const MAX_ELEMS: i64 = 1024 * 1024;

/// A reply a peer sent that is not RESP (the link is dropped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// A length or integer that is not a number (the line, lossily).
    BadInteger(String),
    /// Arrays nested more than 32 deep.
    TooDeep,
    /// A bulk string over [`MAX_LEN`].
    BulkTooLarge(i64),
    /// An array over [`MAX_ELEMS`] elements.
    ArrayTooLarge(i64),
    /// A type byte RESP does not have.
    BadType(u8),
}

impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FrameError::BadInteger(line) => write!(f, "bad integer in reply: {line:?}"),
            FrameError::TooDeep => f.write_str("reply nested too deeply"),
            FrameError::BulkTooLarge(n) => write!(f, "bulk length {n} too large"),
            FrameError::ArrayTooLarge(n) => write!(f, "array length {n} too large"),
            FrameError::BadType(b) => write!(f, "unexpected reply type byte {:?}", *b as char),
        }
    }
}

impl std::error::Error for FrameError {}

impl From<FrameError> for String {
    fn from(e: FrameError) -> String {
        e.to_string()
    }
}

/// Parses one frame from the front of `buf`; `Ok(None)` if incomplete.
pub(crate) fn parse_frame(buf: &mut BytesMut) -> Result<Option<Frame>, FrameError> {
    let mut pos = 0;
    match parse_at(buf, &mut pos, 0)? {
        Some(f) => {
            buf.advance(pos);
            Ok(Some(f))
        }
        None => Ok(None),
    }
}

fn read_line<'a>(buf: &'a [u8], pos: &mut usize) -> Option<&'a [u8]> {
    let start = *pos;
    let mut i = start;
    while i + 1 < buf.len() {
        if buf[i] == b'\r' && buf[i + 1] == b'\n' {
            *pos = i + 2;
            return Some(&buf[start..i]);
        }
        i += 1;
    }
    None
}

fn int_of(line: &[u8]) -> Result<i64, FrameError> {
    std::str::from_utf8(line)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| FrameError::BadInteger(String::from_utf8_lossy(line).into_owned()))
}

fn parse_at(buf: &[u8], pos: &mut usize, depth: usize) -> Result<Option<Frame>, FrameError> {
    if depth > 32 {
        return Err(FrameError::TooDeep);
    }
    if *pos >= buf.len() {
        return Ok(None);
    }
    let tag = buf[*pos];
    *pos += 1;
    let Some(line) = read_line(buf, pos) else {
        return Ok(None);
    };
    let text = || String::from_utf8_lossy(line).into_owned();
    Ok(Some(match tag {
        b'+' => Frame::Simple(text()),
        b'-' => Frame::Error(text()),
        b':' => Frame::Integer(int_of(line)?),
        b'_' => Frame::Null,
        b'#' => Frame::Integer((line == b"t") as i64),
        b',' => Frame::Simple(text()),
        b'$' | b'=' => {
            let n = int_of(line)?;
            if n < 0 {
                return Ok(Some(Frame::Null));
            }
            if n > MAX_LEN {
                return Err(FrameError::BulkTooLarge(n));
            }
            let n = n as usize;
            if buf.len() < *pos + n + 2 {
                return Ok(None);
            }
            let data = Bytes::copy_from_slice(&buf[*pos..*pos + n]);
            *pos += n + 2;
            Frame::Bulk(data)
        }
        b'*' | b'%' | b'~' | b'>' => {
            let mut n = int_of(line)?;
            if n < 0 {
                return Ok(Some(Frame::Null));
            }
            if tag == b'%' {
                n *= 2;
            }
            if n > MAX_ELEMS {
                return Err(FrameError::ArrayTooLarge(n));
            }
            let mut items = Vec::with_capacity((n as usize).min(1024));
            for _ in 0..n {
                match parse_at(buf, pos, depth + 1)? {
                    Some(f) => items.push(f),
                    None => return Ok(None),
                }
            }
            Frame::Array(items)
        }
        other => return Err(FrameError::BadType(other)),
    }))
}
