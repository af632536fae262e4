//! The master side: answering PSYNC, sending a snapshot for a full sync, and
//! feeding a replica the WAL from its offset at its own pace (the WAL is read
//! from disk, so a slow replica costs disk, never master memory).

use super::{ReplicaInfo, GETACK, GETFACK, HEARTBEAT};
use crate::resp::{parse_request, Limits};
use crate::server::{save, Server};
use crate::util::eq_ic;
use crate::wal::WalReader;
use bytes::BytesMut;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

/// How a PSYNC is answered.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Stream from this position.
    Continue(u64),
    Full,
}

/// Redis's `masterTryPartialResynchronization`: the asked history must be
/// ours (or the one we continued after a promotion, up to where it ended),
/// and the asked position must still be in the WAL.
pub(crate) fn decide(srv: &Server, replid: &str, offset: i64) -> Decision {
    if offset < 1 {
        return Decision::Full;
    }
    let pos = (offset - 1) as u64;
    let ids = srv.repl.ids();
    let ours = ids.replid == replid;
    let second = ids.replid2 == replid && (pos as i64) < ids.second_offset;
    let wal = &srv.store.wal;
    if (ours || second)
        && pos >= wal.servable_from()
        && pos <= wal.end_offset()
        && crate::wal::is_record_start(wal.dir(), pos, wal.end_offset())
    {
        Decision::Continue(pos)
    } else {
        Decision::Full
    }
}

/// Who is asking: the client id, and the address it announced.
pub(crate) struct Peer {
    pub client_id: u64,
    pub ip: String,
    pub listening_port: u16,
    /// It understands GETFACK (`REPLCONF capa fack`); an older sledis
    /// replica gets GETACK for WAITAOF too (and then reports no FACK).
    pub fack: bool,
}

/// Takes over a connection after PSYNC: the reply, a snapshot if needed,
/// then the stream until the replica goes away.
pub(crate) async fn serve(
    srv: Arc<Server>,
    peer: Peer,
    mut rd: OwnedReadHalf,
    mut wr: OwnedWriteHalf,
    replid: String,
    offset: i64,
) {
    let Peer {
        client_id,
        ip,
        listening_port,
        fack,
    } = peer;
    let decision = decide(&srv, &replid, offset);
    let my_replid = srv.repl.replid();
    let register = |state: &'static str, ack: u64| {
        srv.repl.replicas.lock().insert(
            client_id,
            ReplicaInfo {
                ip: ip.clone(),
                port: listening_port,
                state,
                ack_offset: ack,
                fack_offset: 0,
                last_ack_ms: crate::util::now_ms(),
            },
        );
        srv.repl.acks_changed();
    };
    let start = match decision {
        Decision::Continue(pos) => {
            srv.stats.sync_partial_ok.fetch_add(1, Ordering::Relaxed);
            tracing::info!("Partial resynchronization request from {ip}:{listening_port} accepted, sending the WAL from offset {pos}");
            srv.repl.pins.lock().insert(client_id, pos);
            register("online", pos);
            if wr
                .write_all(format!("+CONTINUE {my_replid}\r\n").as_bytes())
                .await
                .is_err()
            {
                return cleanup(&srv, client_id);
            }
            pos
        }
        Decision::Full => {
            if offset >= 1 {
                srv.stats.sync_partial_err.fetch_add(1, Ordering::Relaxed);
            }
            srv.stats.sync_full.fetch_add(1, Ordering::Relaxed);
            tracing::info!(
                "Full resync requested by replica {ip}:{listening_port} (asked {replid} {offset})"
            );
            register("wait_bgsave", 0);
            match send_snapshot(&srv, client_id, &mut wr, &ip, listening_port).await {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!("full sync to {ip}:{listening_port} failed: {e}");
                    return cleanup(&srv, client_id);
                }
            }
        }
    };
    register("online", start);
    if let Err(e) = stream(&srv, client_id, start, fack, &mut rd, &mut wr).await {
        tracing::info!("Connection with replica {ip}:{listening_port} lost: {e}");
    }
    cleanup(&srv, client_id);
}

pub(crate) fn cleanup(srv: &Server, id: u64) {
    srv.repl.replicas.lock().remove(&id);
    srv.repl.pins.lock().remove(&id);
    srv.repl.acks_changed();
}

/// FULLRESYNC: a snapshot whose start offset the WAL still holds (shared by
/// every replica that asks while it is usable), sent as `$len\r\n<bytes>`.
async fn send_snapshot(
    srv: &Arc<Server>,
    id: u64,
    wr: &mut OwnedWriteHalf,
    ip: &str,
    port: u16,
) -> Result<u64, String> {
    let s = srv.clone();
    let (path, start) = tokio::task::spawn_blocking(move || snapshot_for_sync(&s))
        .await
        .map_err(|e| e.to_string())??;
    // Pin before anything else: the stream continues from the snapshot's start.
    srv.repl.pins.lock().insert(id, start);
    let replid = srv.repl.replid();
    let mut file = tokio::fs::File::open(&path)
        .await
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let len = file.metadata().await.map_err(|e| e.to_string())?.len();
    tracing::info!(
        "Starting full sync to {ip}:{port}: snapshot of {len} bytes, stream from offset {start}"
    );
    if let Some(r) = srv.repl.replicas.lock().get_mut(&id) {
        r.state = "send_bulk";
    }
    let head = format!("+FULLRESYNC {replid} {start}\r\n${len}\r\n");
    wr.write_all(head.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut buf = vec![0u8; 64 * 1024];
    let mut sent = 0u64;
    while sent < len {
        let n = file.read(&mut buf).await.map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("snapshot file shrank while being sent".into());
        }
        let n = n.min((len - sent) as usize);
        wr.write_all(&buf[..n]).await.map_err(|e| e.to_string())?;
        sent += n as u64;
    }
    tracing::info!("Synchronization with replica {ip}:{port} succeeded ({len} bytes sent)");
    Ok(start)
}

/// How far behind the written end a feed may be and still `sendfile`: the
/// newest bytes are in the page cache, so the call does not wait for the
/// disk on a runtime thread; a feed further behind reads on the blocking
/// pool.
const SENDFILE_MAX: u64 = 32 << 20;

/// Sends `len` bytes of `file` from `off` with `sendfile`: the kernel hands
/// the page-cache pages to the socket, so the master copies nothing.
async fn send_file(
    wr: &OwnedWriteHalf,
    file: &std::fs::File,
    mut off: u64,
    len: u64,
) -> std::io::Result<u64> {
    use std::os::fd::AsRawFd;
    let sock: &tokio::net::TcpStream = wr.as_ref();
    let end = off + len;
    while off < end {
        sock.writable().await?;
        let res = sock.try_io(tokio::io::Interest::WRITABLE, || {
            let mut at = off as libc::off_t;
            let want = (end - off).min(1 << 30) as usize;
            // SAFETY: both descriptors are open for the call (we hold the
            // socket and the file), and `at` is a valid off_t.
            let n = unsafe { libc::sendfile(sock.as_raw_fd(), file.as_raw_fd(), &mut at, want) };
            if n < 0 {
                Err(std::io::Error::last_os_error())
            } else {
                Ok(n as u64)
            }
        });
        match res {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => off += n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
    Ok(len)
}

/// Streams WAL bytes from `pos` as they are written; a heartbeat when idle;
/// reads the replica's `REPLCONF ACK`s.
async fn stream(
    srv: &Arc<Server>,
    id: u64,
    mut pos: u64,
    fack: bool,
    rd: &mut OwnedReadHalf,
    wr: &mut OwnedWriteHalf,
) -> Result<(), String> {
    let wal = &srv.store.wal;
    let mut getack = srv.repl.getack.subscribe();
    // WAITAOF requests seen (a change asks for GETFACK, not GETACK).
    let mut fsyncs_seen = getack.borrow_and_update().1;
    // A WAIT asked for an ACK: sent at the next record boundary.
    let mut ack_wanted = false;
    // `pos` ends a send up to a written offset, which ends a WAL write.
    let mut at_boundary = false;
    let mut reader = WalReader::new(wal.dir(), pos);
    let mut written = wal.subscribe_written();
    let mut buf = vec![0u8; 256 * 1024];
    let mut inbuf = BytesMut::with_capacity(1024);
    let limits = Limits::default();
    let period = Duration::from_secs(srv.config.read().repl_ping_replica_period.max(1));
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    loop {
        let upto = wal.written_offset();
        ack_wanted |= getack.has_changed().unwrap_or(false);
        if ack_wanted && (at_boundary || pos == upto) {
            let fsyncs = getack.borrow_and_update().1;
            ack_wanted = false;
            let frame = if fack && fsyncs != fsyncs_seen {
                &GETFACK
            } else {
                &GETACK
            };
            fsyncs_seen = fsyncs;
            wr.write_all(frame).await.map_err(|e| e.to_string())?;
        }
        at_boundary = false;
        let hot = if pos < upto && upto - pos <= SENDFILE_MAX {
            wal.recent_segment(pos)
        } else {
            None
        };
        if let Some((file, start, next)) = hot {
            // A segment ends where a WAL write ended, like `upto`.
            let end = next.map_or(upto, |n| n.min(upto));
            pos += send_file(wr, &file, pos - start, end - pos)
                .await
                .map_err(|e| e.to_string())?;
            srv.repl.pins.lock().insert(id, pos);
            at_boundary = true;
            poll_acks(srv, id, rd, &mut inbuf, &limits)?;
            continue;
        }
        if pos < upto {
            if reader.position() != pos {
                reader.seek(pos);
            }
            // File reads go to the blocking pool: a cold disk must not stall
            // the runtime's other clients.
            let (r, b, res) = tokio::task::spawn_blocking(move || {
                let res = reader.read(&mut buf, upto);
                (reader, buf, res)
            })
            .await
            .map_err(|e| e.to_string())?;
            reader = r;
            buf = b;
            let n = res.map_err(|e| e.to_string())?;
            if n > 0 {
                wr.write_all(&buf[..n]).await.map_err(|e| e.to_string())?;
                pos += n as u64;
                srv.repl.pins.lock().insert(id, pos);
                poll_acks(srv, id, rd, &mut inbuf, &limits)?;
                continue;
            }
        }
        tokio::select! {
            r = written.changed() => {
                if r.is_err() {
                    return Err("WAL closed".into());
                }
                // Let the clients that are ready write too, so one send
                // carries their records together (a send per record cost
                // the master more than the writes themselves at -P 1).
                tokio::task::yield_now().await;
            }
            r = getack.changed() => ack_wanted |= r.is_ok(),
            _ = tick.tick() => {
                // Caught up, so `pos` is a record boundary: a heartbeat fits.
                if pos == wal.written_offset() {
                    wr.write_all(&HEARTBEAT).await.map_err(|e| e.to_string())?;
                }
                // A replica that stopped acknowledging is dropped after
                // repl-timeout, as Redis does; it will reconnect and resync.
                let timeout_ms = srv.config.read().repl_timeout as i64 * 1000;
                let last = srv.repl.replicas.lock().get(&id).map(|r| r.last_ack_ms).unwrap_or(0);
                if timeout_ms > 0 && crate::util::now_ms() - last > timeout_ms {
                    return Err("timeout: no REPLCONF ACK within repl-timeout".into());
                }
            }
            r = rd.read_buf(&mut inbuf) => {
                match r {
                    Ok(0) => return Err("replica closed the connection".into()),
                    Ok(_) => {}
                    Err(e) => return Err(e.to_string()),
                }
                take_acks(srv, id, &mut inbuf, &limits)?;
            }
        }
    }
}

/// Reads the `REPLCONF ACK`s that have arrived, without waiting: a feed
/// that always has more to send never reaches its `select!`, and WAIT and
/// INFO's `slaveN:offset` need the acks meanwhile.
fn poll_acks(
    srv: &Server,
    id: u64,
    rd: &mut OwnedReadHalf,
    inbuf: &mut BytesMut,
    limits: &Limits,
) -> Result<(), String> {
    loop {
        match rd.try_read_buf(inbuf) {
            Ok(0) => return Err("replica closed the connection".into()),
            Ok(_) => take_acks(srv, id, inbuf, limits)?,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Ok(()),
            Err(e) => return Err(e.to_string()),
        }
    }
}

/// `REPLCONF ACK <offset> [FACK <fsynced>]` (the FACK form is Redis
/// 7.2's; the plain form is accepted too, then nothing counts as fsynced
/// on that replica). An ACK that moves an offset wakes WAIT & co.
fn take_acks(srv: &Server, id: u64, inbuf: &mut BytesMut, limits: &Limits) -> Result<(), String> {
    let mut moved = false;
    while let Some(args) = parse_request(inbuf, limits).map_err(|e| e.to_string())? {
        if args.len() >= 3 && eq_ic(&args[0], "replconf") && eq_ic(&args[1], "ack") {
            let Some(off) = crate::util::parse_u64(&args[2]) else {
                continue;
            };
            let fack = match args.get(3..5) {
                Some([k, v]) if eq_ic(k, "fack") => crate::util::parse_u64(v),
                _ => None,
            };
            if let Some(r) = srv.repl.replicas.lock().get_mut(&id) {
                moved |= r.ack_offset != off || fack.is_some_and(|f| f != r.fack_offset);
                r.ack_offset = off;
                if let Some(f) = fack {
                    r.fack_offset = f;
                }
                r.last_ack_ms = crate::util::now_ms();
            }
        }
    }
    if moved {
        srv.repl.acks_changed();
    }
    if inbuf.len() > 64 * 1024 {
        return Err("replica sent too much".into());
    }
    Ok(())
}

/// How old a snapshot may be and still serve a full sync.
const SYNC_SNAPSHOT_MAX_AGE_MS: u64 = 60_000;

/// The snapshot a full sync sends, and its start offset: the newest one if
/// it is recent and the WAL still reaches back to its start (so every
/// replica asking meanwhile shares it), else a new one.
fn snapshot_for_sync(srv: &Server) -> Result<(std::path::PathBuf, u64), String> {
    let path = save::snapshot_path(srv);
    loop {
        if !srv.save.in_progress.load(Ordering::Acquire) {
            if let Ok(r) = crate::snapshot::SnapshotReader::open(&path) {
                let h = r.header();
                let age = (crate::util::now_ms() as u64).saturating_sub(h.created_at_ms);
                if h.start_offset >= srv.store.wal.first_offset()
                    && h.replid == srv.repl.replid()
                    && age < SYNC_SNAPSHOT_MAX_AGE_MS
                {
                    return Ok((path, h.start_offset));
                }
            }
        }
        match save::save_blocking(srv) {
            Ok(info) => return Ok((info.path, info.header.start_offset)),
            Err(save::SaveError::InProgress) => {
                std::thread::sleep(std::time::Duration::from_millis(50))
            }
            Err(e) => return Err(e.to_string()),
        }
    }
}
