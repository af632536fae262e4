//! The replica side: connect to the master, handshake like a Redis replica
//! (PING, AUTH, REPLCONF listening-port / capa, PSYNC), load a full sync's
//! snapshot or continue from our WAL's end, then apply the stream. Retries
//! with backoff forever; the data stays while the master is away.

use super::{GETACK, GETFACK, HEARTBEAT};
use crate::resp::{parse_frame, Frame};
use crate::server::Server;
use crate::snapshot::SnapshotReader;
use crate::wal::{decode_frame, Decoded, FRAME_HEADER};
use bytes::{Buf, BytesMut};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Starts the link task of role generation `gen` (`state.rs`); it ends when
/// the role changes again.
pub(super) fn spawn(srv: Arc<Server>, host: String, port: u16, gen: u64) {
    tokio::spawn(run(srv, host, port, gen));
}

fn current(srv: &Server, gen: u64) -> bool {
    srv.repl.generation() == gen
}

async fn run(srv: Arc<Server>, host: String, port: u16, gen: u64) {
    let mut backoff = Duration::from_millis(100);
    while current(&srv, gen) {
        srv.repl.set_link_state("connecting");
        match link(&srv, &host, port, gen).await {
            Ok(()) => return,
            Err(e) => {
                srv.repl.link_down(crate::util::now_ms());
                srv.repl
                    .link
                    .sync_in_progress
                    .store(false, Ordering::Release);
                srv.repl.set_link_state("connect");
                if !current(&srv, gen) {
                    return;
                }
                tracing::warn!("replication link to {host}:{port}: {e}; retrying in {backoff:?}");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
}

/// Reads one reply line/frame from the master.
async fn read_frame(
    sock: &mut TcpStream,
    buf: &mut BytesMut,
    timeout: Duration,
) -> Result<Frame, String> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(f) = parse_frame(buf)? {
            return Ok(f);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, sock.read_buf(buf)).await {
            Err(_) => return Err("timeout waiting for the master".into()),
            Ok(Ok(0)) => return Err("master closed the connection".into()),
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return Err(e.to_string()),
        }
        if buf.len() > 1 << 20 {
            return Err("master reply too long".into());
        }
    }
}

async fn command(
    sock: &mut TcpStream,
    buf: &mut BytesMut,
    args: &[&str],
    timeout: Duration,
) -> Result<Frame, String> {
    let mut out = format!("*{}\r\n", args.len());
    for a in args {
        out.push_str(&format!("${}\r\n{a}\r\n", a.len()));
    }
    sock.write_all(out.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    read_frame(sock, buf, timeout).await
}

async fn link(srv: &Arc<Server>, host: &str, port: u16, gen: u64) -> Result<(), String> {
    let (timeout, auth, user, my_port) = {
        let c = srv.config.read();
        let announce = if c.replica_announce_port > 0 {
            c.replica_announce_port
        } else {
            srv.port
        };
        (
            Duration::from_secs(c.repl_timeout.max(1)),
            c.masterauth.clone(),
            c.masteruser.clone(),
            announce,
        )
    };
    let mut sock = tokio::time::timeout(timeout, TcpStream::connect((host, port)))
        .await
        .map_err(|_| "connect timeout".to_string())?
        .map_err(|e| format!("connect: {e}"))?;
    let _ = sock.set_nodelay(true);
    tracing::info!("Connecting to MASTER {host}:{port}");
    let mut buf = BytesMut::with_capacity(64 * 1024);
    match command(&mut sock, &mut buf, &["PING"], timeout).await? {
        Frame::Error(e) if !e.starts_with("NOAUTH") => {
            return Err(format!("master answered PING with: {e}"))
        }
        _ => {}
    }
    if let Some(pass) = &auth {
        let r = match &user {
            Some(u) => command(&mut sock, &mut buf, &["AUTH", u, pass], timeout).await?,
            None => command(&mut sock, &mut buf, &["AUTH", pass], timeout).await?,
        };
        if let Frame::Error(e) = r {
            return Err(format!("master refused AUTH: {e}"));
        }
    }
    let port_s = my_port.to_string();
    if let Frame::Error(e) = command(
        &mut sock,
        &mut buf,
        &["REPLCONF", "listening-port", &port_s],
        timeout,
    )
    .await?
    {
        return Err(format!("master refused REPLCONF listening-port: {e}"));
    }
    let _ = command(
        &mut sock,
        &mut buf,
        &["REPLCONF", "capa", "eof", "capa", "psync2", "capa", "fack"],
        timeout,
    )
    .await?;
    let replid = srv.repl.replid();
    let end = srv.store.wal.end_offset();
    // After a failed full sync our log does not describe our data: ask for
    // a full one.
    let (ask_id, ask_offset) = if srv.store.incomplete() {
        ("?".to_string(), "-1".to_string())
    } else {
        (replid.clone(), (end + 1).to_string())
    };
    // The master's history and lineage, from its INFO: to know where our
    // log leaves it, and to carry the lineage after a full sync.
    let mut lineage = None;
    if let Frame::Bulk(info) =
        command(&mut sock, &mut buf, &["INFO", "replication"], timeout).await?
    {
        let l = Lineage::parse(&String::from_utf8_lossy(&info));
        // Records of ours the master's history does not have (we were a
        // master before a failover, and wrote past the point where the
        // new one took over) are about to be replaced by a full sync: keep
        // a copy.
        if !srv.store.incomplete() {
            if let Some(fork) = l.divergence(&replid, end) {
                let s = srv.clone();
                let id = replid.clone();
                tokio::task::spawn_blocking(move || save_divergent_tail(&s, &id, fork, end))
                    .await
                    .unwrap_or_else(|e| Err(e.to_string()))
                    .unwrap_or_else(|e| {
                        tracing::warn!(
                            "our WAL past offset {fork} (history {replid}) is not in the master's history and will be replaced, but it could not be kept: {e}"
                        )
                    });
            }
        }
        lineage = Some(l);
    }
    srv.repl.set_link_state("sync");
    let reply = command(
        &mut sock,
        &mut buf,
        &["PSYNC", &ask_id, &ask_offset],
        timeout,
    )
    .await?;
    let line = match reply {
        Frame::Simple(s) => s,
        Frame::Error(e) => return Err(format!("master refused PSYNC: {e}")),
        other => return Err(format!("unexpected PSYNC reply {other:?}")),
    };
    let mut parts = line.split_whitespace();
    match parts.next() {
        Some("FULLRESYNC") => {
            let (Some(id), Some(off)) = (
                parts.next(),
                parts.next().and_then(|o| o.parse::<u64>().ok()),
            ) else {
                return Err(format!("malformed FULLRESYNC reply: {line}"));
            };
            if id.len() != 40 {
                return Err(format!("malformed replid in FULLRESYNC: {line}"));
            }
            let inherited = lineage.take().map(|l| l.inherited(id)).unwrap_or_default();
            let history = (id, inherited);
            full_sync(srv, &mut sock, &mut buf, history, off, timeout, gen).await?;
        }
        Some("CONTINUE") => {
            if let Some(id) = parts.next() {
                if id.len() == 40 && id != replid {
                    // The master continued our history under a new id.
                    super::state::continue_as(srv, id, end);
                }
            }
            tracing::info!("MASTER <-> REPLICA sync: Master accepted a Partial Resynchronization from offset {end}");
        }
        _ => return Err(format!("unexpected PSYNC reply: {line}")),
    }
    if !current(srv, gen) {
        return Ok(());
    }
    srv.repl.link.up.store(true, Ordering::Release);
    srv.repl.link.down_since_ms.store(0, Ordering::Relaxed);
    srv.repl.set_link_state("connected");
    stream(srv, &mut sock, &mut buf, gen, timeout).await
}

/// A master's history as its `INFO replication` tells it: its id and end,
/// the id it continued (`master_replid2`, up to `second_repl_offset`), and
/// the older ones (`replid_history`, sledis only).
#[derive(Debug, Default)]
pub(crate) struct Lineage {
    replid: String,
    end: Option<u64>,
    /// Ancestors with where each ended (+1), newest first.
    older: Vec<(String, i64)>,
}

impl Lineage {
    pub(crate) fn parse(info: &str) -> Lineage {
        let mut l = Lineage::default();
        let mut id2 = None;
        let mut second: Option<i64> = None;
        let mut history = Vec::new();
        for line in info.lines() {
            let Some((k, v)) = line.trim_end_matches('\r').split_once(':') else {
                continue;
            };
            match k {
                "master_replid" => l.replid = v.to_string(),
                "master_replid2" => id2 = Some(v.to_string()),
                "master_repl_offset" => l.end = v.parse().ok(),
                "second_repl_offset" => second = v.parse().ok(),
                "replid_history" => history = super::state::parse_history(v),
                _ => {}
            }
        }
        if let (Some(id), Some(off)) = (id2, second) {
            if id != super::NO_REPLID && off > 0 {
                l.older.push((id, off));
            }
        }
        l.older.extend(history);
        l.older.truncate(super::state::MAX_HISTORY);
        l
    }

    /// Where our history (`replid`, WAL end `end`) leaves the master's:
    /// the position past which our records are not the master's. `None`
    /// when we are not ahead of it, or our id is not in its lineage (then
    /// the fork is unknown; a full sync replaces our data all the same).
    pub(crate) fn divergence(&self, replid: &str, end: u64) -> Option<u64> {
        let fork = if self.replid == replid {
            self.end?
        } else {
            // `second_repl_offset` style: one more than the position where
            // the next history starts.
            let (_, off) = self.older.iter().find(|(id, _)| id == replid)?;
            u64::try_from(off.checked_sub(1)?).ok()?
        };
        (end > fork).then_some(fork)
    }

    /// What a replica that full-synced from this master inherits as its
    /// `history`, if the master's id is `replid`.
    fn inherited(self, replid: &str) -> Vec<(String, i64)> {
        if self.replid == replid {
            self.older
        } else {
            Vec::new()
        }
    }
}

/// Copies our WAL from `fork` to `end` into
/// `<dir>/dropped-<replid>-<fork>/<fork>.wal` (a WAL directory that
/// `sledis-dump wal` reads) and logs what it holds.
fn save_divergent_tail(srv: &Server, replid: &str, fork: u64, end: u64) -> Result<(), String> {
    let wal = &srv.store.wal;
    wal.write_up_to(end).map_err(|e| e.to_string())?;
    if fork < wal.first_offset() {
        return Err(format!(
            "the WAL starts at {}, after the fork",
            wal.first_offset()
        ));
    }
    let dir = srv
        .config
        .read()
        .dir
        .join(format!("dropped-{replid}-{fork}"));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let path = dir.join(crate::wal::reader::segment_name(fork));
    let mut rd = crate::wal::reader::WalReader::new(wal.dir(), fork);
    let mut bytes = Vec::new();
    let mut chunk = vec![0u8; 256 * 1024];
    while (fork + bytes.len() as u64) < end {
        let n = rd.read(&mut chunk, end).map_err(|e| e.to_string())?;
        if n == 0 {
            break;
        }
        bytes.extend_from_slice(&chunk[..n]);
    }
    let mut records = 0u64;
    let mut at = 0usize;
    while let Decoded::Record(_, used) = decode_frame(&bytes[at..], fork + at as u64) {
        records += 1;
        at += used;
    }
    let write = || -> std::io::Result<()> {
        use std::io::Write;
        let tmp = path.with_extension("tmp");
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, &path)
    };
    write().map_err(|e| format!("{}: {e}", path.display()))?;
    tracing::warn!(
        "dropping {records} WAL records ({} bytes, offsets {fork}..{end}) of history {replid} that the master's history does not have: a full sync replaces them; kept in {} (sledis-dump wal {})",
        bytes.len(),
        path.display(),
        dir.display()
    );
    Ok(())
}

/// Receives `$len\r\n<snapshot>` into a file, verifies it, and only then
/// replaces our dataset with it. `history`: the master's replid and the
/// lineage it hands down (`Lineage::inherited`).
async fn full_sync(
    srv: &Arc<Server>,
    sock: &mut TcpStream,
    buf: &mut BytesMut,
    (replid, lineage): (&str, Vec<(String, i64)>),
    start: u64,
    timeout: Duration,
    gen: u64,
) -> Result<(), String> {
    // `$<len>\r\n`
    let len = loop {
        if let Some(i) = buf.windows(2).position(|w| w == b"\r\n") {
            let line = String::from_utf8_lossy(&buf[..i]).into_owned();
            buf.advance(i + 2);
            match line.strip_prefix('$').and_then(|n| n.parse::<u64>().ok()) {
                Some(n) => break n,
                None if line.is_empty() => continue, // keepalive newline
                None => return Err(format!("bad bulk header from master: {line:?}")),
            }
        }
        match tokio::time::timeout(timeout, sock.read_buf(buf)).await {
            Err(_) => return Err("timeout waiting for the snapshot".into()),
            Ok(Ok(0)) => return Err("master closed the connection before the snapshot".into()),
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return Err(e.to_string()),
        }
    };
    let link = &srv.repl.link;
    link.sync_in_progress.store(true, Ordering::Release);
    link.sync_total_bytes.store(len, Ordering::Relaxed);
    link.sync_read_bytes.store(0, Ordering::Relaxed);
    tracing::info!(
        "MASTER <-> REPLICA sync: receiving {len} bytes of snapshot (stream from offset {start})"
    );
    let dir = srv.config.read().dir.clone();
    let tmp = dir.join(format!("sync-{}.sledis.tmp", std::process::id()));
    let r = match receive(srv, sock, buf, &tmp, len, timeout).await {
        Ok(()) => {
            let s = srv.clone();
            let tmp2 = tmp.clone();
            let id = replid.to_string();
            tokio::task::spawn_blocking(move || load(&s, &tmp2, &id, start, gen, lineage))
                .await
                .unwrap_or_else(|e| Err(e.to_string()))
        }
        Err(e) => Err(e),
    };
    // Never left behind: on a full disk it is what holds the space.
    let _ = std::fs::remove_file(&tmp);
    link.sync_in_progress.store(false, Ordering::Release);
    if let Err(e) = &r {
        *link.last_sync_error.lock() = Some(e.clone());
        tracing::error!(
            "MASTER <-> REPLICA sync failed: {e}; {}",
            if srv.store.incomplete() {
                "the old data is gone and the new one incomplete: the node answers LOADING until a full sync succeeds"
            } else {
                "the node keeps serving its old data"
            }
        );
    } else {
        *link.last_sync_error.lock() = None;
    }
    r
}

/// Writes the snapshot's `len` bytes, as they arrive, to `tmp` (fsynced).
async fn receive(
    srv: &Arc<Server>,
    sock: &mut TcpStream,
    buf: &mut BytesMut,
    tmp: &std::path::Path,
    len: u64,
    timeout: Duration,
) -> Result<(), String> {
    let link = &srv.repl.link;
    let write_err =
        |e: std::io::Error| format!("cannot write the snapshot to {}: {e}", tmp.display());
    let mut file = tokio::fs::File::create(tmp).await.map_err(write_err)?;
    let mut got = 0u64;
    // Bytes already read past the header belong to the snapshot.
    let first = (buf.len() as u64).min(len) as usize;
    crate::faults::check("sync-receive").map_err(write_err)?;
    file.write_all(&buf[..first]).await.map_err(write_err)?;
    buf.advance(first);
    got += first as u64;
    let mut chunk = vec![0u8; 256 * 1024];
    while got < len {
        let want = ((len - got) as usize).min(chunk.len());
        let n = match tokio::time::timeout(timeout, sock.read(&mut chunk[..want])).await {
            Err(_) => {
                return Err(format!(
                    "timeout receiving the snapshot at {got}/{len} bytes"
                ))
            }
            Ok(Ok(0)) => {
                return Err(format!(
                    "master closed the connection at {got}/{len} bytes of the snapshot"
                ))
            }
            Ok(Ok(n)) => n,
            Ok(Err(e)) => return Err(e.to_string()),
        };
        crate::faults::check("sync-receive").map_err(write_err)?;
        file.write_all(&chunk[..n]).await.map_err(write_err)?;
        got += n as u64;
        link.sync_read_bytes.store(got, Ordering::Relaxed);
        link.last_io_ms
            .store(crate::util::now_ms(), Ordering::Relaxed);
    }
    file.sync_all().await.map_err(write_err)
}

/// Checks the received file (every block's crc), then loads it. The old
/// dataset is only dropped once the new one is known whole. A big snapshot
/// is served from its file while sled loads it behind (`store/overlay.rs`):
/// the node answers LOADING only while the file is read once.
fn load(
    srv: &Server,
    path: &std::path::Path,
    replid: &str,
    start: u64,
    gen: u64,
    lineage: Vec<(String, i64)>,
) -> Result<(), String> {
    let reader =
        SnapshotReader::open(path).map_err(|e| format!("received snapshot is damaged: {e}"))?;
    if reader.header().start_offset != start {
        return Err(format!(
            "snapshot starts at offset {} but the master announced {start}",
            reader.header().start_offset
        ));
    }
    let behind = reader.raw_bytes() > crate::store::LOAD_BEHIND_MIN;
    if !behind {
        let report = reader.verify();
        if !report.is_ok() {
            return Err(format!("received snapshot is damaged: {report}"));
        }
    }
    let t0 = Instant::now();
    srv.loading.store(true, Ordering::Release);
    let r = if behind {
        srv.store
            .load_snapshot_file(start, reader)
            .map_err(|e| format!("received snapshot is damaged or could not be loaded: {e}"))
    } else {
        srv.store
            .load_snapshot(start, reader.block_count(), |i| {
                reader.read_block(i).map_err(crate::store::Error::snapshot)
            })
            .map_err(String::from)
    };
    // A failure after the old data was dropped leaves the node answering
    // LOADING until a full sync succeeds; one before leaves the old data.
    srv.loading.store(srv.store.incomplete(), Ordering::Release);
    let n = r?;
    // REPLICAOF changed the role meanwhile: the data stays, under the ids
    // the new role chose.
    if current(srv, gen) {
        super::state::adopt_master_history(srv, replid, lineage);
    }
    tracing::info!(
        "MASTER <-> REPLICA sync: loaded {n} keys in {:.2}s; continuing from offset {start}",
        t0.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Applies the master's stream; acknowledges every second, at once after a
/// GETACK, and after a GETFACK once its WAL is fsynced up to what it had;
/// gives up after `repl-timeout` without a byte.
async fn stream(
    srv: &Arc<Server>,
    sock: &mut TcpStream,
    buf: &mut BytesMut,
    gen: u64,
    timeout: Duration,
) -> Result<(), String> {
    let mut ack = tokio::time::interval(Duration::from_secs(1));
    let mut last_io = Instant::now();
    let mut synced = srv.store.wal.subscribe_synced();
    // A GETFACK asked for an ACK whose FACK covers this offset.
    let mut fack_wanted: Option<u64> = None;
    loop {
        if !current(srv, gen) {
            return Ok(());
        }
        // Apply every whole frame we have.
        let mut wrote = None;
        let mut ack_now = false;
        let mut full = false;
        loop {
            if buf.len() < FRAME_HEADER {
                break;
            }
            // The write buffer waits for sled: take the rest after it has
            // room, without holding a thread.
            if srv.store.write_full() {
                full = true;
                break;
            }
            if buf[..FRAME_HEADER] == HEARTBEAT {
                buf.advance(FRAME_HEADER);
                continue;
            }
            if buf[..FRAME_HEADER] == GETACK {
                buf.advance(FRAME_HEADER);
                ack_now = true;
                continue;
            }
            if buf[..FRAME_HEADER] == GETFACK {
                buf.advance(FRAME_HEADER);
                ack_now = true;
                // Everything applied before it; the fsync is asked below.
                fack_wanted = Some(srv.store.wal.end_offset());
                continue;
            }
            let here = srv.store.wal.end_offset();
            match decode_frame(buf, here) {
                Decoded::Record(rec, n) => {
                    let end = srv.store.apply_replicated(&buf[..n], &rec)?;
                    buf.advance(n);
                    wrote = Some(end);
                }
                Decoded::Incomplete { .. } => break,
                Decoded::Corrupt(msg) => {
                    return Err(format!(
                        "bad record in the replication stream at offset {here}: {msg}"
                    ));
                }
            }
        }
        if let Some(end) = wrote {
            srv.store
                .wal
                .make_durable(end)
                .await
                .map_err(|e| format!("WAL write failed: {e}"))?;
        }
        if ack_now {
            send_ack(srv, sock).await?;
        }
        if let Some(want) = fack_wanted {
            if srv.store.wal.synced_offset() >= want {
                fack_wanted = None;
                if !ack_now {
                    send_ack(srv, sock).await?;
                }
            } else {
                // An fsync now, whatever the policy: WAITAOF waits for it.
                srv.store.wal.request_sync(want);
            }
        }
        if full {
            // Acknowledging what we have meanwhile, as usual.
            tokio::select! {
                _ = srv.store.wait_for_room_async() => {}
                _ = ack.tick() => send_ack(srv, sock).await?,
            }
            if srv.store.write_full() {
                // sled is stuck on an I/O error (the wait returns at once):
                // the applier retries, the link waits until it works.
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            // A long stall is ours, not the master's silence.
            last_io = Instant::now();
            continue;
        }
        tokio::select! {
            r = sock.read_buf(buf) => {
                match r {
                    Ok(0) => return Err("master closed the connection".into()),
                    Ok(_) => {
                        last_io = Instant::now();
                        srv.repl.link.last_io_ms.store(crate::util::now_ms(), Ordering::Relaxed);
                    }
                    Err(e) => return Err(e.to_string()),
                }
            }
            _ = ack.tick() => {
                if last_io.elapsed() > timeout {
                    return Err(format!("no data from the master for {timeout:?} (repl-timeout)"));
                }
                send_ack(srv, sock).await?;
            }
            r = synced.changed(), if fack_wanted.is_some() => {
                if r.is_err() {
                    return Err("WAL closed".into());
                }
                // Looked at (and acknowledged) at the top of the loop.
            }
        }
    }
}

/// `REPLCONF ACK <offset> FACK <fsynced>` (Redis 7.2's form): what this
/// replica has in its WAL, by its own fsync policy (the stream waits for
/// `make_durable` before it acknowledges: written to the OS under
/// `everysec` and `no`, fsynced under `always`), and what it has fsynced.
async fn send_ack(srv: &Server, sock: &mut TcpStream) -> Result<(), String> {
    let wal = &srv.store.wal;
    // Fsynced first: it never passes the end read after it.
    let fack = wal.synced_offset().to_string();
    let off = wal.end_offset().to_string();
    let msg = format!(
        "*5\r\n$8\r\nREPLCONF\r\n$3\r\nACK\r\n${}\r\n{off}\r\n$4\r\nFACK\r\n${}\r\n{fack}\r\n",
        off.len(),
        fack.len()
    );
    sock.write_all(msg.as_bytes())
        .await
        .map_err(|e| e.to_string())
}
