//! Periodic work, like Redis's `serverCron`: active expiry, ops/sec
//! sampling, save points, WAL retention.

use super::{save, Server};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

pub(crate) async fn run(srv: Arc<Server>) {
    save::note_existing_snapshot(&srv);
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    let mut n: u64 = 0;
    let mut last_cmds = 0u64;
    let mut last_io = (0u64, 0u64);
    loop {
        tick.tick().await;
        n += 1;
        let now = crate::util::now_ms();
        srv.last_cron_ms.store(now, Ordering::Relaxed);
        crate::util::calibrate_ticks();
        // Active expiry: bounded work per tick so a mass expiry cannot stall
        // writes. CLIENT PAUSE holds it too (the dataset must not change).
        srv.pause.expire(now);
        let paused = srv.pause.mode(now) != super::pause::Mode::Off;
        let s = srv.clone();
        let _ = tokio::task::spawn_blocking(move || {
            if paused {
                return;
            }
            // A failing WAL: try its bytes again (writes resume when it
            // works), and delete nothing meanwhile.
            let wal = &s.store.wal;
            if wal.write_failed() {
                let _ = wal.write_up_to(wal.end_offset());
                return;
            }
            // Nor while the write buffer waits for sled.
            if s.store.write_full() {
                return;
            }
            let began = std::time::Instant::now();
            let mut capped = true;
            for _ in 0..10 {
                match s.store.expire_cycle(now, 200) {
                    Some(end) => {
                        let _ = s.store.wal.write_up_to(end);
                    }
                    None => {
                        capped = false;
                        break;
                    }
                }
            }
            let took = began.elapsed();
            s.stats
                .expire_usec
                .fetch_add(took.as_micros() as u64, Ordering::Relaxed);
            if capped {
                s.stats.expire_cap_reached.fetch_add(1, Ordering::Relaxed);
            }
            crate::latency::note("expire-cycle", took);
        })
        .await;
        if n.is_multiple_of(10) {
            let cmds = srv.stats.commands.load(Ordering::Relaxed);
            srv.stats
                .ops_per_sec
                .store(cmds - last_cmds, Ordering::Relaxed);
            last_cmds = cmds;
            let (input, output) = (
                srv.stats.net_input.load(Ordering::Relaxed),
                srv.stats.net_output.load(Ordering::Relaxed),
            );
            srv.stats
                .input_bps
                .store(input.saturating_sub(last_io.0), Ordering::Relaxed);
            srv.stats
                .output_bps
                .store(output.saturating_sub(last_io.1), Ordering::Relaxed);
            last_io = (input, output);
            save_points(&srv, now / 1000);
            retain_wal(&srv);
            if srv.repl.role_unsaved.lock().is_some() {
                crate::replication::state::save_role(&srv);
            }
        }
    }
}

/// Redis's `save <seconds> <changes>`: snapshot when enough changed long enough ago.
fn save_points(srv: &Arc<Server>, now_s: i64) {
    if srv.save.in_progress.load(Ordering::Acquire) {
        return;
    }
    if srv.save.scheduled.swap(false, Ordering::AcqRel) {
        save::bgsave(srv);
        return;
    }
    let dirty = srv.store.dirty.load(Ordering::Relaxed);
    let last = srv.save.last_save.load(Ordering::Relaxed);
    // After a failure, wait 5 s before trying again (as Redis does).
    if !srv.save.last_ok.load(Ordering::Relaxed)
        && now_s - srv.save.last_attempt.load(Ordering::Relaxed) < 5
    {
        return;
    }
    let points = srv.config.read().save.clone();
    for p in points {
        let (secs, changes) = (p.seconds, p.changes);
        if dirty >= changes && now_s - last >= secs as i64 {
            tracing::info!("{changes} changes in {secs} seconds. Saving...");
            save::bgsave(srv);
            return;
        }
    }
}

/// Deletes WAL segments nobody needs: sled has them, the newest snapshot
/// starts after them, and they are outside `repl-backlog-size`.
fn retain_wal(srv: &Arc<Server>) {
    let store = &srv.store;
    let end = store.wal.end_offset();
    // repl-backlog-ttl: a master alone for that long stops keeping the
    // backlog (a replica keeps it: it may be promoted).
    let (mut backlog, ttl) = {
        let c = srv.config.read();
        (c.repl_backlog_size, c.repl_backlog_ttl as i64)
    };
    let now = crate::util::now_ms();
    if srv.repl.is_replica() || !srv.repl.replicas.lock().is_empty() {
        srv.repl.last_replica_ms.store(now, Ordering::Relaxed);
        srv.repl.replica_seen.store(true, Ordering::Relaxed);
    } else if ttl > 0 && now - srv.repl.last_replica_ms.load(Ordering::Relaxed) > ttl * 1000 {
        backlog = 0;
    }
    let mut keep_from = store.applied_offset().min(end.saturating_sub(backlog));
    if srv.save.has_snapshot.load(Ordering::Acquire) {
        keep_from = keep_from.min(srv.save.snapshot_start.load(Ordering::Acquire));
    }
    // A replica being fed (or fully synced) still reads from its position.
    if let Some(p) = srv.repl.min_pin() {
        keep_from = keep_from.min(p);
    }
    match store.wal.remove_before(keep_from) {
        Ok(0) => {}
        Ok(n) => tracing::info!("WAL: removed {n} bytes of segments before offset {keep_from}"),
        Err(e) => tracing::warn!("WAL retention failed: {e}"),
    }
}
