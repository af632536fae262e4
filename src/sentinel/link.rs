//! Connections from the sentinel to the instances it watches, like the
//! hiredis async links of Redis's sentinel.c: a command link per instance
//! (PING, INFO, hello PUBLISH, SLAVEOF...) whose replies go to callbacks in
//! order, and for masters and replicas a second link subscribed to
//! `__sentinel__:hello`. A link task reconnects by itself (at most once a
//! second) until its instance is forgotten.

use super::{Sentinel, State};
use crate::resp::{parse_frame, Frame};
use bytes::BytesMut;
use parking_lot::Mutex;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, Notify};

pub(crate) type Reply = Result<Frame, String>;
/// Runs with the sentinel state locked, when the reply (or the link's
/// failure) arrives.
pub(crate) type Callback = Box<dyn FnOnce(&Sentinel, &mut State, Reply) + Send>;

pub(crate) struct Request {
    pub args: Vec<Vec<u8>>,
    pub cb: Option<Callback>,
}

impl Request {
    pub(crate) fn new(args: &[&str], cb: Option<Callback>) -> Request {
        Request {
            args: args.iter().map(|a| a.as_bytes().to_vec()).collect(),
            cb,
        }
    }
}

/// Where a link's events go: the instance with this id in this master's group.
#[derive(Clone)]
pub(crate) struct Owner {
    pub master: String,
    pub id: u64,
}

pub(crate) struct Link {
    tx: mpsc::UnboundedSender<Request>,
    rx: Mutex<Option<mpsc::UnboundedReceiver<Request>>>,
    started: AtomicBool,
    closed: AtomicBool,
    connected: AtomicBool,
    pub pending: AtomicUsize,
    /// Our address on the connection: what we announce in hellos.
    pub local_ip: Mutex<Option<String>>,
    wake: Notify,
}

impl Link {
    pub(crate) fn new() -> Arc<Link> {
        let (tx, rx) = mpsc::unbounded_channel();
        Arc::new(Link {
            tx,
            rx: Mutex::new(Some(rx)),
            started: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            connected: AtomicBool::new(false),
            pending: AtomicUsize::new(0),
            local_ip: Mutex::new(None),
            wake: Notify::new(),
        })
    }

    pub(crate) fn is_started(&self) -> bool {
        self.started.load(Ordering::Acquire)
    }

    pub(crate) fn is_connected(&self) -> bool {
        self.connected.load(Ordering::Acquire)
    }

    /// Queues a command; false (and the callback dropped) when the link is
    /// down, as Redis refuses to queue on a disconnected link.
    pub(crate) fn send(&self, args: &[&str], cb: Option<Callback>) -> bool {
        self.send_req(Request::new(args, cb))
    }

    pub(crate) fn send_req(&self, req: Request) -> bool {
        if !self.is_connected() || self.closed.load(Ordering::Acquire) {
            return false;
        }
        self.pending.fetch_add(1, Ordering::AcqRel);
        if self.tx.send(req).is_err() {
            self.pending.fetch_sub(1, Ordering::AcqRel);
            return false;
        }
        true
    }

    /// The instance is gone: the task exits.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.wake.notify_one();
    }

    /// Drops the current connection; the task reconnects.
    pub(crate) fn kick(&self) {
        self.wake.notify_one();
    }

    fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }
}

/// What the link tells the sentinel about itself.
pub(crate) enum LinkEvent {
    Up,
    Down,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum LinkKind {
    Command,
    Hello,
}

/// Starts the task of `link` once.
pub(crate) fn start(
    sen: &Arc<Sentinel>,
    owner: Owner,
    host: String,
    port: u16,
    link: &Arc<Link>,
    kind: LinkKind,
) {
    if link.started.swap(true, Ordering::AcqRel) {
        return;
    }
    let Some(rx) = link.rx.lock().take() else {
        return;
    };
    tokio::spawn(run(sen.clone(), owner, host, port, link.clone(), kind, rx));
}

const RECONNECT_PERIOD: Duration = Duration::from_millis(1000);
const CONNECT_TIMEOUT: Duration = Duration::from_millis(2000);
/// A hello link that heard nothing for this long (hellos come every 2 s,
/// ours included) is reconnected.
const HELLO_IDLE: Duration = Duration::from_millis(6000);

async fn run(
    sen: Arc<Sentinel>,
    owner: Owner,
    host: String,
    port: u16,
    link: Arc<Link>,
    kind: LinkKind,
    mut rx: mpsc::UnboundedReceiver<Request>,
) {
    while !link.is_closed() {
        let started = tokio::time::Instant::now();
        let conn = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect((host.as_str(), port)));
        if let Ok(Ok(sock)) = conn.await {
            let _ = sock.set_nodelay(true);
            let local_ip = sock.local_addr().ok().map(|a| a.ip().to_string());
            *link.local_ip.lock() = local_ip;
            link.connected.store(true, Ordering::Release);
            let first = super::on_link_event(&sen, &owner, kind, LinkEvent::Up);
            match first {
                Some(first) => {
                    if let Err(e) = session(&sen, &owner, &link, kind, sock, first, &mut rx).await {
                        tracing::debug!("link to {host}:{port} ({}): {e}", owner.master);
                    }
                }
                None => link.close(),
            }
            link.connected.store(false, Ordering::Release);
        }
        // Fail what was queued meanwhile.
        while let Ok(req) = rx.try_recv() {
            fail(&sen, &link, req.cb, "link down");
        }
        if link.is_closed() {
            break;
        }
        super::on_link_event(&sen, &owner, kind, LinkEvent::Down);
        let wait = RECONNECT_PERIOD.saturating_sub(started.elapsed());
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = link.wake.notified() => {}
        }
    }
}

fn fail(sen: &Sentinel, link: &Link, cb: Option<Callback>, why: &str) {
    link.pending.fetch_sub(1, Ordering::AcqRel);
    if let Some(cb) = cb {
        let mut st = sen.state.lock();
        cb(sen, &mut st, Err(why.to_string()));
    }
}

fn encode(args: &[Vec<u8>], out: &mut Vec<u8>) {
    out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

async fn session(
    sen: &Arc<Sentinel>,
    owner: &Owner,
    link: &Arc<Link>,
    kind: LinkKind,
    sock: TcpStream,
    first: Vec<Request>,
    rx: &mut mpsc::UnboundedReceiver<Request>,
) -> Result<(), String> {
    let (mut rd, mut wr) = sock.into_split();
    let mut waiting: VecDeque<Option<Callback>> = VecDeque::new();
    let mut buf = BytesMut::with_capacity(16 * 1024);
    let mut out = Vec::new();
    for req in first {
        link.pending.fetch_add(1, Ordering::AcqRel);
        encode(&req.args, &mut out);
        waiting.push_back(req.cb);
    }
    let result = async {
        wr.write_all(&out).await.map_err(|e| e.to_string())?;
        loop {
            let idle = if kind == LinkKind::Hello {
                HELLO_IDLE
            } else {
                Duration::from_secs(3600)
            };
            tokio::select! {
                req = rx.recv() => {
                    let Some(req) = req else { return Ok(()) };
                    out.clear();
                    encode(&req.args, &mut out);
                    waiting.push_back(req.cb);
                    wr.write_all(&out).await.map_err(|e| e.to_string())?;
                }
                r = tokio::time::timeout(idle, rd.read_buf(&mut buf)) => {
                    match r {
                        Err(_) => return Err("no hello traffic; reconnecting".into()),
                        Ok(Ok(0)) => return Err("connection closed".into()),
                        Ok(Err(e)) => return Err(e.to_string()),
                        Ok(Ok(_)) => {}
                    }
                    while let Some(frame) = parse_frame(&mut buf)? {
                        if kind == LinkKind::Hello && is_message(&frame) {
                            super::hello::on_message(sen, owner, frame);
                            continue;
                        }
                        let cb = waiting.pop_front().ok_or("reply without a request")?;
                        link.pending.fetch_sub(1, Ordering::AcqRel);
                        if let Some(cb) = cb {
                            let mut st = sen.state.lock();
                            cb(sen, &mut st, Ok(frame));
                        }
                    }
                    if buf.len() > 64 << 20 {
                        return Err("reply too long".into());
                    }
                }
                _ = link.wake.notified() => return Ok(()),
            }
        }
    }
    .await;
    for cb in waiting {
        fail(sen, link, cb, "link down");
    }
    result
}

fn is_message(f: &Frame) -> bool {
    match f {
        Frame::Array(items) => items
            .first()
            .and_then(|x| x.as_bytes())
            .is_some_and(|k| k.eq_ignore_ascii_case(b"message")),
        _ => false,
    }
}
