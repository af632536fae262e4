//! A tiny RESP2/RESP3 client for tests that must see exact replies (error
//! texts, null kinds, push frames).

use std::fmt;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// One reply, as the server sent it.
#[derive(Clone, PartialEq)]
pub enum Reply {
    Status(String),
    Error(String),
    Int(i64),
    Bulk(Vec<u8>),
    /// `$-1` (RESP2 null bulk).
    Nil,
    /// `*-1` (RESP2 null array).
    NilArray,
    /// `_` (RESP3 null).
    Null,
    Array(Vec<Reply>),
    Map(Vec<(Reply, Reply)>),
    Set(Vec<Reply>),
    Push(Vec<Reply>),
    Double(String),
    Bool(bool),
    Verbatim(String, Vec<u8>),
    BigNum(String),
}

impl fmt::Debug for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reply::Status(s) => write!(f, "+{s}"),
            Reply::Error(s) => write!(f, "-{s}"),
            Reply::Int(n) => write!(f, ":{n}"),
            Reply::Bulk(b) => write!(f, "{:?}", String::from_utf8_lossy(b)),
            Reply::Nil => write!(f, "$-1"),
            Reply::NilArray => write!(f, "*-1"),
            Reply::Null => write!(f, "_"),
            Reply::Array(v) => f.debug_list().entries(v).finish(),
            Reply::Map(v) => f
                .debug_map()
                .entries(v.iter().map(|(k, v)| (k, v)))
                .finish(),
            Reply::Set(v) => write!(f, "~{v:?}"),
            Reply::Push(v) => write!(f, ">{v:?}"),
            Reply::Double(s) => write!(f, ",{s}"),
            Reply::Bool(b) => write!(f, "#{b}"),
            Reply::Verbatim(k, t) => write!(f, "={k}:{:?}", String::from_utf8_lossy(t)),
            Reply::BigNum(s) => write!(f, "({s}"),
        }
    }
}

impl Reply {
    pub fn int(&self) -> i64 {
        match self {
            Reply::Int(n) => *n,
            other => panic!("expected an integer, got {other:?}"),
        }
    }

    /// A bulk, status or verbatim reply as text.
    pub fn text(&self) -> String {
        match self {
            Reply::Bulk(b) | Reply::Verbatim(_, b) => String::from_utf8_lossy(b).into_owned(),
            Reply::Status(s) => s.clone(),
            other => panic!("expected a string, got {other:?}"),
        }
    }

    pub fn items(&self) -> &[Reply] {
        match self {
            Reply::Array(v) | Reply::Set(v) | Reply::Push(v) => v,
            other => panic!("expected an array, got {other:?}"),
        }
    }

    pub fn is_error(&self) -> bool {
        matches!(self, Reply::Error(_))
    }
}

/// Shorthands for expected replies.
pub fn ok() -> Reply {
    Reply::Status("OK".into())
}
pub fn st(s: &str) -> Reply {
    Reply::Status(s.into())
}
pub fn err(s: &str) -> Reply {
    Reply::Error(s.into())
}
pub fn int(n: i64) -> Reply {
    Reply::Int(n)
}
pub fn bulk(s: &str) -> Reply {
    Reply::Bulk(s.as_bytes().to_vec())
}
pub fn arr(v: Vec<Reply>) -> Reply {
    Reply::Array(v)
}
pub fn bulks(v: &[&str]) -> Reply {
    Reply::Array(v.iter().map(|s| bulk(s)).collect())
}

/// A connection that sends commands as RESP arrays and reads replies one
/// by one, keeping the raw bytes of the last reply.
pub struct Resp {
    pub port: u16,
    pub(super) w: TcpStream,
    pub(super) r: BufReader<TcpStream>,
    pub last_raw: Vec<u8>,
}

impl Resp {
    pub fn connect(port: u16) -> Resp {
        let deadline = Instant::now() + Duration::from_secs(10);
        let s = loop {
            match TcpStream::connect(("127.0.0.1", port)) {
                Ok(s) => break s,
                Err(e) if Instant::now() > deadline => panic!("connect to {port}: {e}"),
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        };
        s.set_read_timeout(Some(Duration::from_secs(10))).ok();
        s.set_nodelay(true).ok();
        Resp {
            port,
            w: s.try_clone().expect("clone"),
            r: BufReader::new(s),
            last_raw: Vec::new(),
        }
    }

    pub fn set_timeout(&self, d: Duration) {
        self.w.set_read_timeout(Some(d)).ok();
    }

    pub fn encode<A: AsRef<[u8]>>(args: &[A]) -> Vec<u8> {
        let mut out = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            let a = a.as_ref();
            out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            out.extend_from_slice(a);
            out.extend_from_slice(b"\r\n");
        }
        out
    }

    pub fn send<A: AsRef<[u8]>>(&mut self, args: &[A]) {
        self.w.write_all(&Self::encode(args)).expect("send");
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.w.write_all(bytes).expect("send");
    }

    /// Sends one command and reads its reply.
    pub fn q<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Reply {
        self.send(args);
        self.read()
    }

    /// Sends a command written as words separated by spaces.
    pub fn qs(&mut self, line: &str) -> Reply {
        let args: Vec<&str> = line.split(' ').filter(|s| !s.is_empty()).collect();
        self.q(&args)
    }

    pub fn read(&mut self) -> Reply {
        match self.try_read() {
            Ok(r) => r,
            Err(e) => panic!("reading a reply from port {}: {e}", self.port),
        }
    }

    /// A reply, or an error on timeout or close.
    pub fn try_read(&mut self) -> std::io::Result<Reply> {
        self.last_raw.clear();
        let mut raw = Vec::new();
        let r = read_reply(&mut self.r, &mut raw);
        self.last_raw = raw;
        r
    }

    /// True if the server closed the connection (within the read timeout).
    pub fn closed(&mut self) -> bool {
        let mut b = [0u8; 1];
        matches!(self.r.read(&mut b), Ok(0))
    }
}

fn line(r: &mut BufReader<TcpStream>, raw: &mut Vec<u8>) -> std::io::Result<String> {
    let mut l = Vec::new();
    let n = r.read_until(b'\n', &mut l)?;
    if n == 0 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "connection closed",
        ));
    }
    raw.extend_from_slice(&l);
    if !l.ends_with(b"\r\n") {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("bad line {l:?}"),
        ));
    }
    l.truncate(l.len() - 2);
    Ok(String::from_utf8_lossy(&l).into_owned())
}

fn read_reply(r: &mut BufReader<TcpStream>, raw: &mut Vec<u8>) -> std::io::Result<Reply> {
    let l = line(r, raw)?;
    let bad = || std::io::Error::new(std::io::ErrorKind::InvalidData, "bad reply");
    let (tag, rest) = l.split_at(1.min(l.len()));
    let num = || rest.parse::<i64>().map_err(|_| bad());
    let mut payload = |n: i64, raw: &mut Vec<u8>| -> std::io::Result<Vec<u8>> {
        let mut b = vec![0u8; n as usize + 2];
        r.read_exact(&mut b)?;
        raw.extend_from_slice(&b);
        b.truncate(n as usize);
        Ok(b)
    };
    Ok(match tag {
        "+" => Reply::Status(rest.into()),
        "-" => Reply::Error(rest.into()),
        ":" => Reply::Int(num()?),
        "_" => Reply::Null,
        "#" => Reply::Bool(rest == "t"),
        "," => Reply::Double(rest.into()),
        "(" => Reply::BigNum(rest.into()),
        "$" => {
            let n = num()?;
            if n < 0 {
                Reply::Nil
            } else {
                Reply::Bulk(payload(n, raw)?)
            }
        }
        "=" => {
            let b = payload(num()?, raw)?;
            let (k, t) = b.split_at(4.min(b.len()));
            Reply::Verbatim(
                String::from_utf8_lossy(&k[..3.min(k.len())]).into_owned(),
                t.to_vec(),
            )
        }
        "*" | "~" | ">" => {
            let n = num()?;
            if n < 0 {
                return Ok(Reply::NilArray);
            }
            let mut v = Vec::new();
            for _ in 0..n {
                v.push(read_reply(r, raw)?);
            }
            match tag {
                "*" => Reply::Array(v),
                "~" => Reply::Set(v),
                _ => Reply::Push(v),
            }
        }
        "%" => {
            let n = num()?;
            let mut v = Vec::new();
            for _ in 0..n {
                let k = read_reply(r, raw)?;
                let val = read_reply(r, raw)?;
                v.push((k, val));
            }
            Reply::Map(v)
        }
        _ => return Err(bad()),
    })
}
