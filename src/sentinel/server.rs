//! The sentinel's own port: accept clients, parse RESP requests, run them
//! (`command`), deliver pub/sub events.

use super::command::{self, SClient};
use super::config::SentinelConfig;
use super::Sentinel;
use crate::client::pubsub::PubMsg;
use crate::config::BindError;
use crate::resp::{Limits, Out, RequestParser};
use bytes::BytesMut;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// Query buffer cap: sentinel requests are small.
const QUERY_LIMIT: usize = 64 * 1024 * 1024;

/// Binds like the server: every `bind` address, a `-` prefix marking one
/// that may fail; without `bind`, every IPv4 address (and IPv6 if possible).
pub(crate) async fn bind(cfg: &SentinelConfig) -> Result<Vec<TcpListener>, BindError> {
    let list = if cfg.bind.is_empty() {
        crate::config::bind_list(&["*".to_string(), "-::*".to_string()])
    } else {
        crate::config::bind_list(&cfg.bind)
    };
    let mut out = Vec::new();
    for (a, optional) in list {
        match TcpListener::bind((a.as_str(), cfg.port)).await {
            Ok(l) => out.push(l),
            Err(e) if optional => tracing::debug!("could not bind optional {a}:{}: {e}", cfg.port),
            Err(error) => {
                return Err(BindError::Address {
                    addr: a,
                    port: cfg.port,
                    error,
                })
            }
        }
    }
    if out.is_empty() {
        return Err(BindError::NoAddress);
    }
    Ok(out)
}

pub(crate) async fn accept_loop(sen: Arc<Sentinel>, l: TcpListener) {
    loop {
        match l.accept().await {
            Ok((sock, addr)) => {
                sen.stats.connections.fetch_add(1, Ordering::Relaxed);
                tokio::spawn(serve(sen.clone(), sock, addr));
            }
            Err(e) => {
                tracing::warn!("accept: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        }
    }
}

async fn serve(sen: Arc<Sentinel>, sock: TcpStream, addr: std::net::SocketAddr) {
    let _ = sock.set_nodelay(true);
    let laddr = sock.local_addr().unwrap_or(addr);
    let info = sen.clients.register(addr, laddr, crate::util::now_ms());
    let (push_tx, mut push_rx) = mpsc::unbounded_channel::<PubMsg>();
    let mut client = SClient::new(info.clone(), push_tx, sen.requirepass.is_none());
    let (mut rd, mut wr) = sock.into_split();
    let mut rbuf = BytesMut::with_capacity(16 * 1024);
    let mut parser = RequestParser::default();
    let mut out = Out::new();
    let limits = Limits::default();
    'conn: loop {
        tokio::select! {
            r = rd.read_buf(&mut rbuf) => {
                match r {
                    Ok(0) | Err(_) => break 'conn,
                    Ok(n) => { sen.stats.net_input.fetch_add(n as u64, Ordering::Relaxed); }
                }
                if rbuf.len() > QUERY_LIMIT {
                    break 'conn;
                }
                let mut close = false;
                loop {
                    match parser.parse(&mut rbuf, &limits) {
                        Ok(Some(args)) => {
                            if args.is_empty() {
                                continue;
                            }
                            sen.stats.commands.fetch_add(1, Ordering::Relaxed);
                            out.resp3 = client.resp3;
                            match command::dispatch(&sen, &mut client, &mut out, &args) {
                                command::After::Continue => {}
                                command::After::Close => { close = true; break; }
                                command::After::Shutdown => {
                                    let _ = wr.write_all(&out.buf).await;
                                    sen.shutdown.notify_one();
                                    break 'conn;
                                }
                            }
                        }
                        Ok(None) => break,
                        Err(e) => {
                            out.error(&format!("ERR {e}"));
                            close = true;
                            break;
                        }
                    }
                }
                if !out.buf.is_empty() {
                    sen.stats.net_output.fetch_add(out.buf.len() as u64, Ordering::Relaxed);
                    if wr.write_all(&out.buf).await.is_err() {
                        break 'conn;
                    }
                    out.buf.clear();
                }
                if close {
                    break 'conn;
                }
            }
            Some(msg) = push_rx.recv() => {
                let mut msgs = vec![msg];
                while let Ok(m) = push_rx.try_recv() {
                    msgs.push(m);
                }
                out.resp3 = client.resp3;
                for m in msgs {
                    let sz = m.size().min(info.pending_push.load(Ordering::Relaxed));
                    info.pending_push.fetch_sub(sz, Ordering::Relaxed);
                    m.encode(&mut out);
                }
                if wr.write_all(&out.buf).await.is_err() {
                    break 'conn;
                }
                out.buf.clear();
            }
            _ = info.kill.notified() => break 'conn,
        }
        if info.killed.load(Ordering::Acquire) {
            break;
        }
    }
    command::unsubscribe_all(&sen, &mut client);
    sen.clients.unregister(info.id);
}
