//! Request parsing. A request is either a multibulk (`*N\r\n$len\r\n...`) or an
//! inline command (`SET a b\r\n`, what `telnet` users type). Arguments are
//! zero-copy slices of the read buffer.

use bytes::{Buf, Bytes, BytesMut};

/// Redis refuses larger inline requests and length lines with this cap too.
const MAX_INLINE: usize = 64 * 1024;
/// Redis's limit on the number of arguments of one request.
const MAX_MULTIBULK: i64 = 1024 * 1024;

#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub max_bulk_len: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bulk_len: 512 * 1024 * 1024,
        }
    }
}

/// A malformed request. The connection answers with the message and closes,
/// as Redis does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProtocolError(pub String);

impl std::fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Protocol error: {}", self.0)
    }
}

fn perr(msg: impl Into<String>) -> ProtocolError {
    ProtocolError(msg.into())
}

/// Finds `\r\n` starting at `from`; returns the index of `\r`.
fn find_crlf(buf: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while i + 1 < buf.len() {
        if buf[i] == b'\r' && buf[i + 1] == b'\n' {
            return Some(i);
        }
        i += 1;
    }
    None
}

fn parse_int(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    std::str::from_utf8(s).ok()?.parse().ok()
}

/// Parses one request from the front of `buf`. `Ok(None)` means more bytes are
/// needed; nothing is consumed in that case. An empty inline line yields an
/// empty argument list (the caller skips it).
pub(crate) fn parse_request(
    buf: &mut BytesMut,
    limits: &Limits,
) -> Result<Option<Vec<Bytes>>, ProtocolError> {
    RequestParser::default().parse(buf, limits)
}

/// [`parse_request`] for a connection: it remembers how far an incomplete
/// multibulk request got, so a request that arrives in many reads is scanned
/// once rather than from its start on every read (a 1M-argument request
/// trickled in by a slow or hostile client would otherwise cost a scan of
/// every argument so far per read: a core's worth of CPU for a few bytes a
/// millisecond). Between calls the buffer may only grow at its end.
#[derive(Debug, Default)]
pub(crate) struct RequestParser {
    /// Arguments the multibulk request in progress announced; 0 when none is.
    count: usize,
    /// Where the next argument's `$` line starts in the buffer.
    pos: usize,
    /// The arguments found so far, as ranges of the buffer.
    spans: Vec<(usize, usize)>,
}

impl RequestParser {
    /// Like [`parse_request`], resuming where the last `Ok(None)` stopped.
    pub(crate) fn parse(
        &mut self,
        buf: &mut BytesMut,
        limits: &Limits,
    ) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        let r = self.parse_inner(buf, limits);
        if !matches!(r, Ok(None)) {
            self.count = 0;
            self.pos = 0;
            self.spans.clear();
            if self.spans.capacity() > 4096 {
                self.spans = Vec::new();
            }
        }
        r
    }

    fn parse_inner(
        &mut self,
        buf: &mut BytesMut,
        limits: &Limits,
    ) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        if self.count == 0 {
            if buf.is_empty() {
                return Ok(None);
            }
            if buf[0] != b'*' {
                return parse_inline(buf);
            }
            let Some(eol) = find_crlf(buf, 1) else {
                if buf.len() > MAX_INLINE {
                    return Err(perr("too big mbulk count string"));
                }
                return Ok(None);
            };
            let count = match parse_int(&buf[1..eol]) {
                Some(n) if n <= MAX_MULTIBULK => n,
                _ => return Err(perr("invalid multibulk length")),
            };
            if count <= 0 {
                buf.advance(eol + 2);
                return Ok(Some(Vec::new()));
            }
            self.count = count as usize;
            self.pos = eol + 2;
            self.spans.clear();
            self.spans.reserve(self.count.min(1024));
        }
        // Check the rest of the request is here, without copying.
        while self.spans.len() < self.count {
            let pos = self.pos;
            if pos >= buf.len() {
                return Ok(None);
            }
            if buf[pos] != b'$' {
                return Err(perr(format!("expected '$', got '{}'", buf[pos] as char)));
            }
            let Some(eol) = find_crlf(buf, pos + 1) else {
                if buf.len() - pos > MAX_INLINE {
                    return Err(perr("too big bulk count string"));
                }
                return Ok(None);
            };
            let len = match parse_int(&buf[pos + 1..eol]) {
                Some(n) if n >= 0 && (n as u64) <= limits.max_bulk_len => n as usize,
                _ => return Err(perr("invalid bulk length")),
            };
            let start = eol + 2;
            let end = start + len;
            if buf.len() < end + 2 {
                // Nothing is reserved for the announced length: the buffer
                // grows only with what actually arrives.
                return Ok(None);
            }
            if &buf[end..end + 2] != b"\r\n" {
                return Err(perr("invalid bulk format"));
            }
            self.spans.push((start, end));
            self.pos = end + 2;
        }
        let frame = buf.split_to(self.pos).freeze();
        Ok(Some(
            self.spans.iter().map(|&(s, e)| frame.slice(s..e)).collect(),
        ))
    }
}

fn parse_inline(buf: &mut BytesMut) -> Result<Option<Vec<Bytes>>, ProtocolError> {
    let Some(nl) = buf.iter().position(|&b| b == b'\n') else {
        if buf.len() > MAX_INLINE {
            return Err(perr("too big inline request"));
        }
        return Ok(None);
    };
    if nl > MAX_INLINE {
        return Err(perr("too big inline request"));
    }
    let line = buf.split_to(nl + 1);
    let mut text = &line[..nl];
    if text.last() == Some(&b'\r') {
        text = &text[..text.len() - 1];
    }
    match split_args(text) {
        Some(args) => Ok(Some(args.into_iter().map(Bytes::from).collect())),
        None => Err(perr("unbalanced quotes in request")),
    }
}

/// Splits a line like Redis's `sdssplitargs`: spaces separate, "double quotes"
/// understand \n \r \t \b \a \\ \" and \xHH, 'single quotes' only \'.
/// Returns None on unbalanced quotes.
pub(super) fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    let mut i = 0;
    let n = line.len();
    loop {
        while i < n && line[i].is_ascii_whitespace() {
            i += 1;
        }
        // A NUL ends the arguments, as in sdssplitargs (which reads a C
        // string). It must end the loop: it also ends a token below without
        // being consumed.
        if i >= n || line[i] == 0 {
            return Some(out);
        }
        let mut cur = Vec::new();
        let mut inq = false;
        let mut insq = false;
        loop {
            if inq {
                if i >= n || line[i] == 0 {
                    return None;
                }
                if line[i] == b'\\'
                    && i + 3 < n
                    && line[i + 1] == b'x'
                    && line[i + 2].is_ascii_hexdigit()
                    && line[i + 3].is_ascii_hexdigit()
                {
                    let hex = std::str::from_utf8(&line[i + 2..i + 4]).ok()?;
                    cur.push(u8::from_str_radix(hex, 16).ok()?);
                    i += 3;
                } else if line[i] == b'\\' && i + 1 < n {
                    i += 1;
                    cur.push(match line[i] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 8,
                        b'a' => 7,
                        c => c,
                    });
                } else if line[i] == b'"' {
                    if i + 1 < n && !line[i + 1].is_ascii_whitespace() {
                        return None;
                    }
                    // closing quote
                    i += 1;
                    break;
                } else {
                    cur.push(line[i]);
                }
            } else if insq {
                if i >= n || line[i] == 0 {
                    return None;
                }
                if line[i] == b'\\' && i + 1 < n && line[i + 1] == b'\'' {
                    i += 1;
                    cur.push(b'\'');
                } else if line[i] == b'\'' {
                    if i + 1 < n && !line[i + 1].is_ascii_whitespace() {
                        return None;
                    }
                    // closing quote
                    i += 1;
                    break;
                } else {
                    cur.push(line[i]);
                }
            } else {
                if i >= n {
                    break;
                }
                match line[i] {
                    b' ' | b'\n' | b'\r' | b'\t' | 0 => break,
                    b'"' => inq = true,
                    b'\'' => insq = true,
                    c => cur.push(c),
                }
            }
            i += 1;
        }
        out.push(cur);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &[u8]) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        let mut b = BytesMut::from(s);
        parse_request(&mut b, &Limits::default())
    }

    #[test]
    fn multibulk() {
        let r = parse(b"*2\r\n$3\r\nGET\r\n$1\r\na\r\n").unwrap().unwrap();
        assert_eq!(r, vec![Bytes::from("GET"), Bytes::from("a")]);
        assert_eq!(parse(b"*2\r\n$3\r\nGET\r\n$1\r\n").unwrap(), None);
        assert_eq!(parse(b"*2\r\n$3\r\nGET\r\n$100\r\nab").unwrap(), None);
    }

    #[test]
    fn limits() {
        assert!(parse(b"*99999999999\r\n").is_err());
        assert!(parse(b"*1\r\n$99999999999\r\n").is_err());
        assert!(parse(b"*1\r\n$-5\r\n").is_err());
        assert!(parse(b"*1\r\nx\r\n").is_err());
        assert!(parse(b"*1\r\n$1\r\nab\r\n").is_err());
    }

    #[test]
    fn inline() {
        let r = parse(b"set a \"b c\\x41\"\r\n").unwrap().unwrap();
        assert_eq!(
            r,
            vec![Bytes::from("set"), Bytes::from("a"), Bytes::from("b cA")]
        );
        assert!(parse(b"set \"a\r\n").is_err());
        assert_eq!(parse(b"\r\n").unwrap().unwrap().len(), 0);
    }

    #[test]
    fn resumed_parsing_matches_one_shot() {
        let mut all = Vec::new();
        all.extend_from_slice(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$10\r\n0123456789\r\n");
        all.extend_from_slice(b"PING\r\n*0\r\n*2\r\n$4\r\nECHO\r\n$0\r\n\r\n");
        let mut want = Vec::new();
        let mut b = BytesMut::from(&all[..]);
        while let Some(r) = parse_request(&mut b, &Limits::default()).unwrap() {
            want.push(r);
        }
        assert_eq!(want.len(), 4);
        for step in [1, 2, 3, 5, 7, 64] {
            let mut p = RequestParser::default();
            let mut b = BytesMut::new();
            let mut got = Vec::new();
            for chunk in all.chunks(step) {
                b.extend_from_slice(chunk);
                while let Some(r) = p.parse(&mut b, &Limits::default()).unwrap() {
                    got.push(r);
                }
            }
            assert_eq!(got, want, "fed {step} byte(s) at a time");
            assert!(b.is_empty());
        }
        // An error mid-way resets the state.
        let mut p = RequestParser::default();
        let mut b = BytesMut::from(&b"*2\r\n$1\r\na\r\n"[..]);
        assert_eq!(p.parse(&mut b, &Limits::default()).unwrap(), None);
        b.extend_from_slice(b"x\r\n");
        assert!(p.parse(&mut b, &Limits::default()).is_err());
        let mut b = BytesMut::from(&b"PING\r\n"[..]);
        assert_eq!(
            p.parse(&mut b, &Limits::default()).unwrap().unwrap().len(),
            1
        );
    }

    #[test]
    fn nul_ends_inline_arguments() {
        // These used to loop forever, pushing empty arguments.
        assert_eq!(parse(b"\x00\x01 garbage\r\n").unwrap().unwrap().len(), 0);
        let r = parse(b"abc\x00def ghi\r\n").unwrap().unwrap();
        assert_eq!(r, vec![Bytes::from("abc")]);
        let r = parse(b"a b\x00\r\n").unwrap().unwrap();
        assert_eq!(r, vec![Bytes::from("a"), Bytes::from("b")]);
        assert!(parse(b"\"a\x00b\" c\r\n").is_err());
        assert!(parse(b"'a\x00b' c\r\n").is_err());
    }
}
