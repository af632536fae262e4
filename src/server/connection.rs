//! One client connection: read requests, run them, make the writes as
//! durable as `appendfsync` asks, then answer. Pub/sub messages and CLIENT
//! KILL arrive beside the socket.

use super::blocked::{self, Blocked, Outcome};
use super::client::Client;
use super::Server;
use crate::client::pubsub::PubMsg;
use crate::client::ClientInfo;
use crate::command::{self, Action, Ctx};
use crate::resp::{Limits, Out, RequestParser};
use crate::store::WriteTx;
use crate::wal::FsyncPolicy;
use bytes::BytesMut;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

/// Commands run under one writer-lock acquisition before it is let go.
const HOLD_MAX: usize = 64;
/// Replies are sent once this many bytes are waiting, before more requests
/// run: a client that pipelines requests with big replies and does not read
/// them then holds back its own requests instead of filling server memory
/// (one 16 KiB read of `GET big` would otherwise build ~180 MB of replies).
const OUT_CHUNK: usize = 64 * 1024;

pub(crate) async fn refuse(mut sock: TcpStream, msg: &str) {
    let _ = sock.write_all(format!("-{msg}\r\n").as_bytes()).await;
}

pub(crate) async fn serve(srv: Arc<Server>, sock: TcpStream, addr: SocketAddr) {
    let _ = sock.set_nodelay(true);
    let laddr = sock.local_addr().unwrap_or(addr);
    let info = srv.clients.register(addr, laddr, crate::util::now_ms());
    let (push_tx, mut push_rx) = mpsc::unbounded_channel::<PubMsg>();
    let authed = srv.config.read().requirepass.is_none();
    let _ = info.push.set(push_tx.clone());
    let mut client = Client::new(info.clone(), push_tx, authed);
    let (mut rd, mut wr) = sock.into_split();
    let mut rbuf = BytesMut::with_capacity(16 * 1024);
    let mut parser = RequestParser::default();
    let mut out = Out::new();
    tracing::debug!("accepted {addr} id={}", client.id);
    let mut psync: Option<(String, i64)> = None;
    'conn: loop {
        let (limits, query_limit, idle_timeout, sync) = {
            let c = srv.config.read();
            (
                Limits {
                    max_bulk_len: c.proto_max_bulk_len,
                },
                c.client_query_buffer_limit,
                c.timeout,
                c.sync_replicas as usize,
            )
        };
        let sync = if sync > 0 && srv.repl.is_replica() {
            0
        } else {
            sync
        };
        // The idle timer is only armed when `timeout` is set: a timer per
        // request costs measurable time on the hot path.
        let idle_on = idle_timeout > 0 && !client.in_subscribed_context();
        let idle = Duration::from_secs(idle_timeout);
        if rbuf.capacity() - rbuf.len() < 4096 {
            rbuf.reserve(16 * 1024);
        }
        tokio::select! {
            r = rd.read_buf(&mut rbuf) => {
                match r {
                    Ok(0) | Err(_) => break 'conn,
                    Ok(n) => {
                        srv.stats.net_input.fetch_add(n as u64, Ordering::Relaxed);
                        srv.stats.reads.fetch_add(1, Ordering::Relaxed);
                    }
                }
                if rbuf.len() as u64 > query_limit {
                    tracing::warn!("closing client {addr}: query buffer over client-query-buffer-limit");
                    break 'conn;
                }
                // Run what arrived, a chunk of replies at a time.
                loop {
                    let mut batch = run_batch(&srv, &mut client, &mut out, &mut parser, &mut rbuf, &limits, sync);
                    if matches!(batch.action, Some(Action::Script)) {
                        // The script runs on a blocking thread with the
                        // connection's state; this thread serves the others.
                        let srv2 = srv.clone();
                        let lim = Limits { max_bulk_len: limits.max_bulk_len };
                        let (mut c, mut o) = (client, out);
                        srv.scripts.hand_off();
                        let joined = tokio::task::spawn_blocking(move || {
                            c.on_script_thread = true;
                            let mut none = BytesMut::new();
                            let b = run_batch(&srv2, &mut c, &mut o, &mut RequestParser::default(), &mut none, &lim, sync);
                            c.on_script_thread = false;
                            (c, o, b)
                        })
                        .await;
                        srv.scripts.handed_back();
                        let (c, o, b) = match joined {
                            Ok(v) => v,
                            Err(e) => std::panic::resume_unwind(e.into_panic()),
                        };
                        client = c;
                        out = o;
                        batch.wrote = b.wrote.or(batch.wrote);
                        batch.writes.extend(b.writes);
                        batch.action = b.action;
                        batch.close |= b.close;
                        batch.more = true;
                    }
                    let Batch { wrote, action, close, mut more, writes } = batch;
                    // Let every other ready client run its requests first, as
                    // Redis answers in `beforeSleep`: the WAL bytes of all of
                    // them then reach the OS in one write, and the replies go
                    // out back to back, so a client that is still reading one
                    // needs no new wakeup for the next (waking it for every
                    // reply was a quarter of the CPU; ZADD +45%). Under
                    // `always` the fsync wait does the same.
                    if !out.buf.is_empty() && srv.store.wal.policy() != FsyncPolicy::Always {
                        tokio::task::yield_now().await;
                    }
                    let durable = make_durable(&srv, wrote, &mut out, &info).await;
                    if durable && !writes.is_empty() {
                        let had = rbuf.len();
                        if !sync_replicas(&srv, &mut out, &writes, sync, &info, &mut rd, &mut rbuf).await {
                            break 'conn;
                        }
                        // Requests that arrived meanwhile run next.
                        more |= rbuf.len() > had;
                    }
                    if let Some(Action::Sleep(d)) = action {
                        tokio::time::sleep(d).await;
                    }
                    if !out.buf.is_empty() {
                        srv.stats.net_output.fetch_add(out.buf.len() as u64, Ordering::Relaxed);
                        srv.stats.writes.fetch_add(1, Ordering::Relaxed);
                        if !write_unless_killed(&mut wr, &out.buf, &info).await {
                            break 'conn;
                        }
                        out.buf.clear();
                        if out.buf.capacity() > 1 << 20 {
                            out.buf = BytesMut::with_capacity(16 * 1024);
                        }
                    }
                    match action {
                        Some(Action::Close) => break 'conn,
                        Some(Action::Shutdown { save }) => {
                            srv.request_shutdown(save);
                            break 'conn;
                        }
                        Some(Action::Psync { replid, offset }) => {
                            psync = Some((replid, offset));
                            break 'conn;
                        }
                        Some(Action::Block { keys, deadline, args }) => {
                            let b = Blocked { keys, deadline, args };
                            match blocked::wait(&srv, &mut client, &mut out, &mut rd, &mut rbuf, b).await {
                                Outcome::Closed => break 'conn,
                                Outcome::AnsweredThenClose => {
                                    write_unless_killed(&mut wr, &out.buf, &info).await;
                                    break 'conn;
                                }
                                Outcome::Answered { wrote } => {
                                    let durable = make_durable(&srv, wrote, &mut out, &info).await;
                                    if let (Some(w), true) = (wrote, durable && sync > 0) {
                                        let whole = [(0, out.buf.len(), w)];
                                        if !sync_replicas(&srv, &mut out, &whole, sync, &info, &mut rd, &mut rbuf).await {
                                            break 'conn;
                                        }
                                    }
                                    if !write_unless_killed(&mut wr, &out.buf, &info).await {
                                        break 'conn;
                                    }
                                    out.buf.clear();
                                }
                            }
                        }
                        Some(Action::Fetch { raw }) => srv.disk_reads.fetch(raw).await,
                        Some(Action::Room) => srv.store.wait_for_room_async().await,
                        Some(Action::Paused) => {
                            // Shown as blocked, as Redis shows a paused client.
                            info.blocked.store(true, Ordering::Relaxed);
                            srv.pause.waiting.fetch_add(1, Ordering::Relaxed);
                            let killed = tokio::select! {
                                _ = srv.pause.wait() => false,
                                _ = info.kill.notified() => true,
                            };
                            srv.pause.waiting.fetch_sub(1, Ordering::Relaxed);
                            info.blocked.store(false, Ordering::Relaxed);
                            if killed {
                                break 'conn;
                            }
                        }
                        Some(Action::AfterScript) => {
                            loop {
                                let changed = srv.scripts.changed.notified();
                                tokio::pin!(changed);
                                changed.as_mut().enable();
                                if !srv.scripts.holds_others() || srv.scripts.busy() {
                                    break;
                                }
                                let _ = tokio::time::timeout(Duration::from_millis(100), changed).await;
                            }
                            // Parked requests leave one at a time, each
                            // waking the next: woken all at once, all but
                            // one found the next script handed off and
                            // parked again (EVAL c50 lost a third).
                            srv.scripts.changed.notify_one();
                        }
                        Some(Action::Wait { n, offset, deadline, aof }) => {
                            let Some((local, count)) = wait_for_acks(&srv, n, offset, deadline, aof, &info, &mut rd, &mut rbuf).await else {
                                break 'conn;
                            };
                            if let Some(local) = local {
                                out.array(2);
                                out.int(local as i64);
                            }
                            out.int(count as i64);
                            if !write_unless_killed(&mut wr, &out.buf, &info).await {
                                break 'conn;
                            }
                            out.buf.clear();
                        }
                        _ => {}
                    }
                    if close {
                        break 'conn;
                    }
                    // Complete requests may still wait in rbuf (behind a full
                    // chunk of replies or a DEBUG SLEEP): run them now, not
                    // after the client sends more.
                    if !more {
                        break;
                    }
                }
            }
            Some(msg) = push_rx.recv() => {
                let mut msgs = vec![msg];
                while let Ok(m) = push_rx.try_recv() {
                    msgs.push(m);
                }
                // Sent under CLIENT REPLY OFF too: Redis's pushes bypass it.
                for m in msgs {
                    info.pending_push.fetch_sub(m.size().min(info.pending_push.load(Ordering::Relaxed)), Ordering::Relaxed);
                    m.encode(&mut out);
                }
                if !write_unless_killed(&mut wr, &out.buf, &info).await {
                    break 'conn;
                }
                out.buf.clear();
            }
            _ = info.kill.notified() => break 'conn,
            _ = tokio::time::sleep(idle), if idle_on => {
                tracing::debug!("closing idle client {addr}");
                break 'conn;
            }
        }
        if info.killed.load(Ordering::Acquire) {
            break;
        }
    }
    command::pubsub::unsubscribe_all(&srv.pubsub, &mut client);
    if client.monitor {
        srv.pubsub.monitors.remove(client.id);
    }
    command::multi::unwatch_all(&srv.store, &mut client);
    if client.tracking.on {
        srv.tracking.disable(client.id);
    }
    if let Some((replid, offset)) = psync {
        // The connection is now a replica's feed, until it goes away.
        let peer = crate::replication::master::Peer {
            client_id: client.id,
            ip: addr.ip().to_string(),
            listening_port: client.repl_port.unwrap_or(addr.port()),
            fack: client.repl_fack,
        };
        // A replica now, for CLIENT LIST / KILL; CLIENT KILL ends the feed
        // (the replica reconnects and resyncs, as with Redis).
        info.replica.store(true, Ordering::Relaxed);
        let feed = crate::replication::master::serve(srv.clone(), peer, rd, wr, replid, offset);
        tokio::select! {
            _ = feed => {}
            _ = info.kill.notified() => {
                tracing::info!("replica {addr} killed by CLIENT KILL");
                crate::replication::master::cleanup(&srv, client.id);
            }
        }
    }
    srv.clients.unregister(client.id);
    tracing::debug!("closed {addr} id={}", client.id);
}

/// Durability before the reply: the WAL bytes reach the OS (or the disk,
/// under `always`) before the client hears OK.
///
/// A write whose WAL bytes cannot be written (a full disk, EIO) is not
/// answered until they are: the WAL keeps them and writes them again
/// (`Wal::write_up_to`), here every 100 ms and from the cron. It is applied
/// and will be logged, so it is neither failed nor acknowledged meanwhile;
/// new writes get MISCONF (`command::dispatch`). A client that gives up
/// has an in-doubt write, as with any timeout; a `kill -9` meanwhile loses
/// only such unanswered writes.
///
/// False if the replies were replaced by that MISCONF error.
async fn make_durable(srv: &Server, wrote: Option<u64>, out: &mut Out, info: &ClientInfo) -> bool {
    let Some(end) = wrote else {
        return true;
    };
    let wal = &srv.store.wal;
    loop {
        let done = if wal.policy() == FsyncPolicy::Always {
            // The sync thread retries a failed write: look up every second.
            let r = tokio::time::timeout(Duration::from_secs(1), wal.make_durable(end)).await;
            matches!(r, Ok(Ok(())))
        } else {
            wal.make_durable(end).await.is_ok()
        };
        if done {
            return true;
        }
        if info.killed.load(Ordering::Acquire) || srv.shutdown.borrow().is_some() {
            out.buf.clear();
            out.error("MISCONF Errors writing to the WAL; this write is not durable");
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Writes `buf` to the client; false if that failed or the client was killed
/// meanwhile. A client that does not read its replies blocks the write, and
/// CLIENT KILL (or a failover's kill) must still end it.
async fn write_unless_killed(wr: &mut OwnedWriteHalf, buf: &[u8], info: &ClientInfo) -> bool {
    tokio::select! {
        // The write first: a reply that can go out at once does, even to a
        // client that just killed itself (Redis sends that +OK too).
        biased;
        r = wr.write_all(buf) => r.is_ok(),
        _ = info.kill.notified() => false,
    }
}

/// What running the requests of one read did.
struct Batch {
    wrote: Option<u64>,
    /// Under `sync-replicas`: each write's reply (its range in the output)
    /// and the end offset of its record.
    writes: Vec<(usize, usize, u64)>,
    action: Option<Action>,
    close: bool,
    /// Stopped before running every complete request in the buffer.
    more: bool,
}

/// Runs every complete request in `rbuf`. The writer lock is kept across a
/// pipeline's consecutive commands (each still its own WAL record) and
/// released at the end of the batch, and every HOLD_MAX commands. Stops
/// early (`more`) after an action or once OUT_CHUNK bytes of replies wait.
fn run_batch(
    srv: &Server,
    client: &mut Client,
    out: &mut Out,
    parser: &mut RequestParser,
    rbuf: &mut BytesMut,
    limits: &Limits,
    sync: usize,
) -> Batch {
    let mut b = Batch {
        wrote: None,
        writes: Vec::new(),
        action: None,
        close: false,
        more: false,
    };
    let mut held: Option<WriteTx> = None;
    let mut ran = 0usize;
    loop {
        let parked = client.parked.take();
        let fetched = parked.is_some();
        let next = match parked {
            Some(args) => Ok(Some(args)),
            None => parser.parse(rbuf, limits),
        };
        match next {
            Ok(Some(args)) => {
                if args.is_empty() {
                    continue;
                }
                // CLIENT PAUSE: the request waits, off the thread, until
                // the pause ends (our master's stream never waits).
                if !client.is_master && srv.pause.maybe() {
                    let mode = srv.pause.mode(crate::util::now_ms());
                    if mode != super::pause::Mode::Off
                        && super::pause::holds(mode, &args, client.multi.as_ref())
                    {
                        // CLIENT LIST shows what it waits to run, as Redis.
                        if let Some(c) = command::lookup(&args[0]) {
                            client.info.note_command(c.name, crate::util::now_ms());
                        }
                        client.parked = Some(args);
                        b.action = Some(Action::Paused);
                        b.more = true;
                        return b;
                    }
                }
                // The first request of a batch only: a pipeline's later
                // reads run inline, and hot pipelines pay no extra lookup.
                if !fetched && ran == 0 {
                    if let Some(raw) = cold_read(srv, client, &args) {
                        client.parked = Some(args);
                        b.action = Some(Action::Fetch { raw });
                        b.more = true;
                        return b;
                    }
                }
                // While another connection runs a script (atomic, holding
                // the writer lock), requests wait here, off the thread, so
                // SCRIPT KILL and BUSY replies can still be served. One
                // woken by another script's end waits again if a third has
                // been handed off meanwhile; once BUSY, they run (and are
                // answered BUSY).
                if !client.on_script_thread && srv.scripts.holds_others() && !srv.scripts.busy() {
                    client.parked = Some(args);
                    b.action = Some(Action::AfterScript);
                    b.more = true;
                    return b;
                }
                if !client.on_script_thread
                    && client.multi.is_none()
                    && command::scripting::may_run_long(&srv.scripts, &args)
                {
                    client.parked = Some(args);
                    b.action = Some(Action::Script);
                    b.more = true;
                    return b;
                }
                // A write that would wait for sled waits here, without the
                // writer lock or the thread (the first one run after a
                // wait goes ahead; `publish` holds any that race it).
                if !fetched && srv.store.write_full() && stalls(srv, client, &args) {
                    client.parked = Some(args);
                    b.action = Some(Action::Room);
                    b.more = true;
                    return b;
                }
                let now = crate::util::now_ms();
                if let Some(tx) = held.as_mut() {
                    tx.set_now(now);
                }
                let reply_at = out.buf.len();
                let mut ctx = Ctx::new(srv, &mut *client, &mut *out, now, held.take());
                command::dispatch(&mut ctx, &args);
                ran += 1;
                if !ran.is_multiple_of(HOLD_MAX) {
                    held = ctx.tx.take();
                }
                let (wrote, action) = (ctx.wrote, ctx.action.take());
                drop(ctx);
                // CLIENT REPLY OFF / SKIP: the reply is dropped.
                if client.reply != super::client::Reply::On {
                    client.after_reply(out, reply_at);
                }
                if let Some(w) = wrote {
                    b.wrote = Some(w);
                    if sync > 0 {
                        b.writes.push((reply_at, out.buf.len(), w));
                    }
                }
                if let Some(a) = action {
                    b.action = Some(a);
                    b.more = true;
                    return b;
                }
                if out.buf.len() >= OUT_CHUNK {
                    b.more = true;
                    return b;
                }
            }
            Ok(None) => return b,
            Err(e) => {
                tracing::debug!("protocol error from {}: {e}", client.info.addr);
                out.error(&format!("ERR {e}"));
                b.close = true;
                return b;
            }
        }
    }
}

/// For a read-only command on one key that only sled has, that key's raw
/// sled key: the read then runs on a reader thread (`disk_reads.rs`).
fn cold_read(srv: &Server, client: &Client, args: &[bytes::Bytes]) -> Option<bytes::Bytes> {
    if args.len() < 2 || client.multi.is_some() || !client.authed {
        return None;
    }
    let cmd = command::lookup(&args[0])?;
    if cmd.flags & command::flags::READONLY == 0 || cmd.first_key != 1 {
        return None;
    }
    srv.store.cold_key(client.db, &args[1])
}

/// A request that writes, from a client that is not our master, while sled
/// works (with sled stuck on an I/O error, dispatch refuses it: MISCONF).
fn stalls(srv: &Server, client: &Client, args: &[bytes::Bytes]) -> bool {
    if client.is_master || srv.store.sled_io_error().is_some() {
        return false;
    }
    // A script run inline may write too (one on the blocking pool waits
    // there, off this thread).
    command::lookup(&args[0]).is_some_and(|c| {
        c.name == "exec"
            || (client.multi.is_none()
                && (c.flags & command::flags::WRITE != 0
                    || command::scripting::runs_a_script(args)))
    })
}

/// WAIT and WAITAOF: until `n` replicas acknowledged `offset` (WAITAOF:
/// fsynced it, and with `aof` Some(true) this node's WAL too) or the
/// deadline. Woken by the ACKs themselves (`ReplState::wait_acked`), no
/// polling. Returns (WAITAOF's local count, the replicas' count), or None
/// if the client went away meanwhile.
#[allow(clippy::too_many_arguments)]
async fn wait_for_acks(
    srv: &Server,
    n: usize,
    offset: u64,
    deadline: Option<std::time::Instant>,
    aof: Option<bool>,
    info: &crate::client::ClientInfo,
    rd: &mut OwnedReadHalf,
    rbuf: &mut BytesMut,
) -> Option<(Option<bool>, usize)> {
    let deadline = deadline.map(tokio::time::Instant::from_std);
    let fsynced = aof.is_some();
    let wal = &srv.store.wal;
    let wait = async {
        if aof == Some(true) {
            // Asked now, whatever `appendfsync`: the sync thread's group
            // commit does it.
            let synced = wal.wait_synced(offset);
            match deadline {
                Some(d) => drop(tokio::time::timeout_at(d, synced).await),
                None => drop(synced.await),
            }
        }
        srv.repl.wait_acked(n, offset, fsynced, deadline).await;
    };
    tokio::select! {
        _ = wait => {}
        _ = info.kill.notified() => {}
        _ = until_closed(srv, rd, rbuf) => return None,
    }
    let local = aof.map(|_| wal.synced_offset() >= offset);
    Some((local, srv.repl.acked(offset, fsynced)))
}

/// Keeps reading what a waiting client sends (pipelined requests, run
/// after the wait); returns once it disconnects or its query buffer
/// passes `client-query-buffer-limit`, so a WAIT without a timeout does
/// not outlive its client.
async fn until_closed(srv: &Server, rd: &mut OwnedReadHalf, rbuf: &mut BytesMut) {
    loop {
        if rbuf.capacity() - rbuf.len() < 4096 {
            rbuf.reserve(16 * 1024);
        }
        match rd.read_buf(rbuf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                srv.stats.net_input.fetch_add(n as u64, Ordering::Relaxed);
                if rbuf.len() as u64 > srv.config.read().client_query_buffer_limit {
                    return;
                }
            }
        }
    }
}

/// `sync-replicas N`: a write's reply goes out only once N replicas
/// acknowledged its record (their ACK: in their WAL by their own fsync
/// policy). The writes of a pipelined batch wait together. A write not
/// acknowledged within `sync-replicas-timeout` gets NOREPLICAS instead of
/// its reply: it is applied here and logged, and may still reach the
/// replicas later, so its fate is in doubt, as with a WAIT that times out.
/// False if the client went away meanwhile.
async fn sync_replicas(
    srv: &Server,
    out: &mut Out,
    writes: &[(usize, usize, u64)],
    need: usize,
    info: &crate::client::ClientInfo,
    rd: &mut OwnedReadHalf,
    rbuf: &mut BytesMut,
) -> bool {
    let Some(last) = writes.iter().map(|w| w.2).max() else {
        return true;
    };
    if srv.repl.acked(last, false) < need {
        let ms = srv.config.read().sync_replicas_timeout;
        let deadline = tokio::time::Instant::now() + Duration::from_millis(ms);
        srv.repl.request_acks(false);
        tokio::select! {
            _ = srv.repl.wait_acked(need, last, false, Some(deadline)) => {}
            _ = info.kill.notified() => {}
            _ = until_closed(srv, rd, rbuf) => return false,
        }
    }
    let failed: Vec<_> = writes
        .iter()
        .filter(|w| srv.repl.acked(w.2, false) < need)
        .collect();
    if failed.is_empty() {
        return true;
    }
    tracing::debug!(
        "{} write(s) of id={} not acknowledged by {need} replica(s) in time",
        failed.len(),
        info.id
    );
    let old = std::mem::take(&mut out.buf);
    let mut at = 0;
    for &&(start, end, _) in &failed {
        out.buf.extend_from_slice(&old[at..start]);
        out.error(NOT_ACKNOWLEDGED);
        at = end;
    }
    out.buf.extend_from_slice(&old[at..]);
    true
}

/// The reply of a write `sync-replicas` did not see acknowledged in time.
const NOT_ACKNOWLEDGED: &str = "NOREPLICAS Not enough replicas acknowledged the write within sync-replicas-timeout; it is applied on this master and may still reach them";
