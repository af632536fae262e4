//! Reply parsing for the client side of the protocol (a replica talking to
//! its master, a sentinel talking to nodes).

use bytes::{Buf, Bytes, BytesMut};

#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    Simple(String),
    Error(String),
    Integer(i64),
    Bulk(Bytes),
    Null,
    Array(Vec<Frame>),
}

impl Frame {
    pub fn as_bytes(&self) -> Option<&[u8]> {
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

/// Parses one frame from the front of `buf`; `Ok(None)` if incomplete.
pub fn parse_frame(buf: &mut BytesMut) -> Result<Option<Frame>, String> {
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

fn int_of(line: &[u8]) -> Result<i64, String> {
    std::str::from_utf8(line)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad integer in reply: {:?}", String::from_utf8_lossy(line)))
}

fn parse_at(buf: &[u8], pos: &mut usize, depth: usize) -> Result<Option<Frame>, String> {
    if depth > 32 {
        return Err("reply nested too deeply".into());
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
                return Err(format!("bulk length {n} too large"));
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
                return Err(format!("array length {n} too large"));
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
        other => return Err(format!("unexpected reply type byte {:?}", other as char)),
    }))
}
