//! Reads that must go to sled run on their own threads, so the connection
//! thread keeps answering other clients meanwhile (a point read of a cold
//! key costs sled a node read and decode, tens of microseconds).
//!
//! A read-only command whose key is in neither the write buffer nor the
//! read cache is parked: a reader thread reads the key's page into the
//! read cache, then the command runs as usual and finds it there. The
//! cache's seqlock keeps this safe against a concurrent apply (see
//! `store/page_cache.rs`); if the page could not be cached the command
//! simply reads sled itself.

use crate::store::Store;
use bytes::Bytes;
use parking_lot::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use tokio::sync::oneshot;

type Job = (Bytes, oneshot::Sender<()>);

pub(crate) struct DiskReads {
    tx: Mutex<Option<mpsc::Sender<Job>>>,
    /// Reads run on a reader thread (`INFO stats`: `sled_reads_parked`).
    pub parked: AtomicU64,
}

/// Four readers: a read that misses the page cache waits on the disk, so
/// more readers than cores keep several reads in flight (measured on 2
/// cores: 4 beat 2 under a memory limit, and cost nothing when warm).
const READERS: usize = 4;

impl DiskReads {
    pub(crate) fn start(store: Arc<Store>) -> DiskReads {
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..READERS {
            let rx = rx.clone();
            let store = store.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("disk-read-{i}"))
                .spawn(move || loop {
                    let job = rx.lock().recv();
                    let Ok((raw, done)) = job else { return };
                    store.warm(&raw);
                    let _ = done.send(());
                });
            if let Err(e) = spawned {
                tracing::warn!("cannot start a disk reader thread ({e}); reads stay inline");
            }
        }
        DiskReads {
            tx: Mutex::new(Some(tx)),
            parked: AtomicU64::new(0),
        }
    }

    /// Reads `raw` into the read cache on a reader thread. Returns at once
    /// if the readers are gone (the command then reads inline).
    pub(crate) async fn fetch(&self, raw: Bytes) {
        let (done, wait) = oneshot::channel();
        let sent = match self.tx.lock().as_ref() {
            Some(tx) => tx.send((raw, done)).is_ok(),
            None => false,
        };
        if sent {
            self.parked.fetch_add(1, Ordering::Relaxed);
            let _ = wait.await;
        }
    }

    /// Lets the reader threads end (they hold the store).
    pub(crate) fn stop(&self) {
        self.tx.lock().take();
    }
}
