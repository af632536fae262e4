//! A client blocked by BLPOP & co. (Redis's blocked.c): it waits on its
//! keys in the store's [`ReadyKeys`](crate::store::ready::ReadyKeys) until
//! one gets a value (then its command runs again), its timeout passes,
//! CLIENT UNBLOCK or a switch to replica wakes it, or it goes away. Its
//! socket is still read meanwhile, so a client that disconnects is noticed
//! at once and never pops an element nobody will read; what it pipelined
//! behind the blocking command stays in the buffer until it is served.

use super::client::Client;
use super::Server;
use crate::command::{self, blocking, Action, Ctx};
use crate::resp::Out;
use crate::store::ready::{why, Waiter};
use bytes::{Bytes, BytesMut};
use std::sync::atomic::Ordering;
use std::time::Instant;
use tokio::io::AsyncReadExt;
use tokio::net::tcp::OwnedReadHalf;

pub(crate) enum Outcome {
    /// The reply is in `out`; `wrote` is the end offset of what the served
    /// command wrote, to be made durable before the reply goes out.
    Answered { wrote: Option<u64> },
    /// The reply is in `out`; the connection closes after it.
    AnsweredThenClose,
    /// The client disconnected or was killed.
    Closed,
}

pub(crate) struct Blocked {
    pub keys: Vec<(usize, Bytes)>,
    pub deadline: Option<Instant>,
    pub args: Vec<Bytes>,
}

pub(crate) async fn wait(
    srv: &Server,
    client: &mut Client,
    out: &mut Out,
    rd: &mut OwnedReadHalf,
    rbuf: &mut BytesMut,
    b: Blocked,
) -> Outcome {
    let w = Waiter::new(client.id);
    let ready = &srv.store.ready;
    ready.block(&b.keys, &w);
    let info = client.info.clone();
    info.blocked.store(true, Ordering::Relaxed);
    // A value may have arrived between the command's look and the block.
    w.notify.notify_one();
    let outcome = loop {
        tokio::select! {
            _ = w.notify.notified() => {
                match w.why() {
                    why::READY => {}
                    why::TIMEOUT => {
                        blocking::timeout_reply(out);
                        break Outcome::Answered { wrote: None };
                    }
                    why::ERROR => {
                        out.error("UNBLOCKED client unblocked via CLIENT UNBLOCK");
                        break Outcome::Answered { wrote: None };
                    }
                    _ => {
                        // Redis answers, then closes the connection.
                        out.error("UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)");
                        break Outcome::AnsweredThenClose;
                    }
                }
                let (wrote, action) = run_again(srv, client, out, &b.args);
                match action {
                    // Still nothing (another client was faster): wait on.
                    Some(Action::Block { .. }) => continue,
                    _ => break Outcome::Answered { wrote },
                }
            }
            _ = sleep_until(b.deadline) => {
                blocking::timeout_reply(out);
                break Outcome::Answered { wrote: None };
            }
            r = rd.read_buf(rbuf) => {
                let limit = srv.config.read().client_query_buffer_limit;
                match r {
                    Ok(0) | Err(_) => break Outcome::Closed,
                    Ok(_) if rbuf.len() as u64 > limit => break Outcome::Closed,
                    Ok(n) => {
                        srv.stats.net_input.fetch_add(n as u64, Ordering::Relaxed);
                        if rbuf.capacity() - rbuf.len() < 4096 {
                            rbuf.reserve(16 * 1024);
                        }
                    }
                }
            }
            _ = info.kill.notified() => break Outcome::Closed,
        }
    };
    info.blocked.store(false, Ordering::Relaxed);
    ready.release(client.id);
    outcome
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d.into()).await,
        None => std::future::pending().await,
    }
}

/// Runs the blocked command again, as a request of its own (with its own
/// writer lock and WAL record).
fn run_again(
    srv: &Server,
    client: &mut Client,
    out: &mut Out,
    args: &[Bytes],
) -> (Option<u64>, Option<Action>) {
    let mark = out.buf.len();
    let mut ctx = Ctx::new(srv, client, out, crate::util::now_ms(), None);
    command::dispatch(&mut ctx, args);
    let action = ctx.action.take();
    let wrote = ctx.wrote;
    drop(ctx);
    if matches!(action, Some(Action::Block { .. })) {
        // Nothing was served: no reply yet.
        out.buf.truncate(mark);
    }
    (wrote, action)
}
