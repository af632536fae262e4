//! Reply encoding straight into the connection's output buffer, like Redis's
//! `addReply*` family. RESP3 types degrade to their RESP2 forms unless the
//! client said `HELLO 3`.

use bytes::{BufMut, BytesMut};

pub(crate) struct Out {
    pub buf: BytesMut,
    pub resp3: bool,
    /// Error replies written so far (a command failed if this grew).
    pub errors: u64,
    /// Their codes, until the node counts them in `errorstats` (bounded:
    /// a sentinel never collects them).
    pub error_codes: Vec<String>,
}

impl Out {
    pub(crate) fn new() -> Self {
        Out {
            buf: BytesMut::with_capacity(16 * 1024),
            resp3: false,
            errors: 0,
            error_codes: Vec::new(),
        }
    }

    fn line(&mut self, prefix: u8, n: i64) {
        self.buf.put_u8(prefix);
        let mut b = itoa_buf(n);
        self.buf.put_slice(b.as_bytes_mut());
        self.buf.put_slice(b"\r\n");
    }

    pub(crate) fn ok(&mut self) {
        self.buf.put_slice(b"+OK\r\n");
    }

    pub(crate) fn simple(&mut self, s: &str) {
        self.buf.put_u8(b'+');
        self.buf.put_slice(s.as_bytes());
        self.buf.put_slice(b"\r\n");
    }

    /// A HELP subcommand's reply: one status line per entry.
    pub(crate) fn help(&mut self, lines: &[&str]) {
        self.array(lines.len());
        for l in lines {
            self.simple(l);
        }
    }

    /// `msg` must carry its own prefix (`ERR ...`, `WRONGTYPE ...`).
    pub(crate) fn error(&mut self, msg: &str) {
        self.errors += 1;
        if self.error_codes.len() < 256 {
            self.error_codes
                .push(crate::server::cmdstats::error_code(msg).to_string());
        }
        self.buf.put_u8(b'-');
        // An error line must not contain newlines.
        for &b in msg.as_bytes() {
            self.buf
                .put_u8(if b == b'\r' || b == b'\n' { b' ' } else { b });
        }
        self.buf.put_slice(b"\r\n");
    }

    pub(crate) fn int(&mut self, n: i64) {
        self.line(b':', n);
    }

    pub(crate) fn bulk(&mut self, data: &[u8]) {
        let n = data.len();
        // One capacity check, and short lengths without the digit loop:
        // an LRANGE of 100 short items spent ~9% of its time here.
        self.buf.reserve(n + 24);
        if n < 10 {
            self.buf.put_slice(&[b'$', b'0' + n as u8, b'\r', b'\n']);
        } else if n < 100 {
            let (t, u) = (b'0' + (n / 10) as u8, b'0' + (n % 10) as u8);
            self.buf.put_slice(&[b'$', t, u, b'\r', b'\n']);
        } else {
            self.line(b'$', n as i64);
        }
        self.buf.put_slice(data);
        self.buf.put_slice(b"\r\n");
    }

    pub(crate) fn bulk_opt(&mut self, data: Option<&[u8]>) {
        match data {
            Some(d) => self.bulk(d),
            None => self.null(),
        }
    }

    /// Verbatim text (INFO, CLIENT LIST): a bulk string in RESP2.
    pub(crate) fn verbatim(&mut self, text: &str) {
        if self.resp3 {
            self.line(b'=', text.len() as i64 + 4);
            self.buf.put_slice(b"txt:");
            self.buf.put_slice(text.as_bytes());
            self.buf.put_slice(b"\r\n");
        } else {
            self.bulk(text.as_bytes());
        }
    }

    /// Verbatim text with its 3-letter format: a bulk string in RESP2.
    pub(crate) fn verbatim_as(&mut self, format: &[u8], text: &[u8]) {
        if self.resp3 {
            self.line(b'=', (format.len() + 1 + text.len()) as i64);
            self.buf.put_slice(format);
            self.buf.put_u8(b':');
            self.buf.put_slice(text);
            self.buf.put_slice(b"\r\n");
        } else {
            self.bulk(text);
        }
    }

    /// `#t`/`#f` in RESP3, `:1`/`:0` in RESP2.
    pub(crate) fn boolean(&mut self, b: bool) {
        if self.resp3 {
            self.buf.put_slice(if b { b"#t\r\n" } else { b"#f\r\n" });
        } else {
            self.int(i64::from(b));
        }
    }

    /// A big number: `(` in RESP3, a bulk string in RESP2.
    pub(crate) fn big_number(&mut self, n: &[u8]) {
        if self.resp3 {
            self.buf.put_u8(b'(');
            self.buf.put_slice(n);
            self.buf.put_slice(b"\r\n");
        } else {
            self.bulk(n);
        }
    }

    pub(crate) fn null(&mut self) {
        if self.resp3 {
            self.buf.put_slice(b"_\r\n");
        } else {
            self.buf.put_slice(b"$-1\r\n");
        }
    }

    pub(crate) fn null_array(&mut self) {
        if self.resp3 {
            self.buf.put_slice(b"_\r\n");
        } else {
            self.buf.put_slice(b"*-1\r\n");
        }
    }

    pub(crate) fn array(&mut self, n: usize) {
        self.line(b'*', n as i64);
    }

    /// An array whose length is known once its elements are written: they
    /// go to a side buffer first, then after the header.
    pub(crate) fn array_of(&mut self, fill: impl FnOnce(&mut Out) -> usize) {
        let mut side = Out {
            buf: BytesMut::with_capacity(4096),
            resp3: self.resp3,
            errors: 0,
            error_codes: Vec::new(),
        };
        let n = fill(&mut side);
        self.array(n);
        self.buf.extend_from_slice(&side.buf);
        self.errors += side.errors;
        self.error_codes.append(&mut side.error_codes);
    }

    /// A map of `n` pairs: `%n` in RESP3, a flat array of 2n in RESP2.
    pub(crate) fn map(&mut self, n: usize) {
        if self.resp3 {
            self.line(b'%', n as i64);
        } else {
            self.line(b'*', 2 * n as i64);
        }
    }

    pub(crate) fn set(&mut self, n: usize) {
        if self.resp3 {
            self.line(b'~', n as i64);
        } else {
            self.line(b'*', n as i64);
        }
    }

    /// Out-of-band pub/sub messages are pushes in RESP3.
    pub(crate) fn push(&mut self, n: usize) {
        if self.resp3 {
            self.line(b'>', n as i64);
        } else {
            self.line(b'*', n as i64);
        }
    }

    pub(crate) fn double(&mut self, d: f64) {
        let s = crate::util::fmt_double(d);
        if self.resp3 {
            self.buf.put_u8(b',');
            self.buf.put_slice(s.as_bytes());
            self.buf.put_slice(b"\r\n");
        } else {
            self.bulk(s.as_bytes());
        }
    }
}

impl Default for Out {
    fn default() -> Self {
        Self::new()
    }
}

/// Formats an integer on the stack.
struct ItoaBuf {
    bytes: [u8; 24],
    start: usize,
}

impl ItoaBuf {
    fn as_bytes_mut(&mut self) -> &[u8] {
        &self.bytes[self.start..]
    }
}

fn itoa_buf(n: i64) -> ItoaBuf {
    let mut bytes = [0u8; 24];
    let mut i = bytes.len();
    let neg = n < 0;
    let mut v = n.unsigned_abs();
    loop {
        i -= 1;
        bytes[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    if neg {
        i -= 1;
        bytes[i] = b'-';
    }
    ItoaBuf { bytes, start: i }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn ints() {
        let mut o = Out::new();
        o.int(-12);
        o.int(0);
        o.int(i64::MIN);
        assert_eq!(&o.buf[..], b":-12\r\n:0\r\n:-9223372036854775808\r\n");
    }

    /// Every length shape of the bulk header's short paths and the digit
    /// loop, and an array whose length comes after its elements.
    #[test]
    fn bulk_headers() {
        let mut o = Out::new();
        for n in [0usize, 9, 10, 42, 99, 100, 12345] {
            o.buf.clear();
            let data = vec![b'x'; n];
            o.bulk(&data);
            let mut want = format!("${n}\r\n").into_bytes();
            want.extend_from_slice(&data);
            want.extend_from_slice(b"\r\n");
            assert_eq!(&o.buf[..], &want[..], "length {n}");
        }
        o.buf.clear();
        o.array_of(|side| {
            side.bulk(b"a");
            side.bulk(b"bc");
            2
        });
        assert_eq!(&o.buf[..], b"*2\r\n$1\r\na\r\n$2\r\nbc\r\n");
    }
}
