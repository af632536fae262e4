//! Keys that clients are blocked on (BLPOP, BLMOVE, BZPOPMIN...): Redis's
//! `blocking_keys` / `signalKeyAsReady`. Every published record that gives
//! such a key a value wakes the first client waiting on it (whoever wrote
//! it: a client, EXEC, or the replication stream); the woken client runs
//! its command again, and once served it passes the wake on to the next
//! one, so clients blocked on a key are served in the order they blocked.

use bytes::Bytes;
use parking_lot::Mutex;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::Notify;

/// Why a blocked client was woken.
pub mod why {
    /// A key it waits on got a value: run the command again.
    pub const READY: u8 = 0;
    /// CLIENT UNBLOCK id TIMEOUT: answer as if the timeout expired.
    pub const TIMEOUT: u8 = 1;
    /// CLIENT UNBLOCK id ERROR.
    pub const ERROR: u8 = 2;
    /// The node became a replica: a blocked write cannot go on.
    pub const TO_REPLICA: u8 = 3;
}

/// One blocked client.
pub struct Waiter {
    pub client_id: u64,
    pub notify: Notify,
    why: AtomicU8,
}

impl Waiter {
    pub fn new(client_id: u64) -> Arc<Waiter> {
        Arc::new(Waiter {
            client_id,
            notify: Notify::new(),
            why: AtomicU8::new(why::READY),
        })
    }

    pub fn why(&self) -> u8 {
        self.why.load(Ordering::Acquire)
    }
}

type Key = (u8, Bytes);

#[derive(Default)]
struct Inner {
    by_key: HashMap<Key, VecDeque<Arc<Waiter>>>,
    by_client: HashMap<u64, (Arc<Waiter>, Vec<Key>)>,
}

#[derive(Default)]
pub struct ReadyKeys {
    /// Blocked clients, read without the lock on every publish.
    count: AtomicUsize,
    inner: Mutex<Inner>,
}

impl ReadyKeys {
    pub fn block(&self, keys: &[(usize, Bytes)], w: &Arc<Waiter>) {
        let mut g = self.inner.lock();
        let keys: Vec<Key> = keys.iter().map(|(d, k)| (*d as u8, k.clone())).collect();
        for k in &keys {
            let q = g.by_key.entry(k.clone()).or_default();
            if !q.iter().any(|x| Arc::ptr_eq(x, w)) {
                q.push_back(w.clone());
            }
        }
        if g.by_client.insert(w.client_id, (w.clone(), keys)).is_none() {
            self.count.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The client is no longer blocked (served, timed out, gone). The next
    /// client on each of its keys is woken to look again: the key may still
    /// hold what this one did not take, or this one may have swallowed a
    /// wake meant for the queue.
    pub fn release(&self, client_id: u64) {
        let mut g = self.inner.lock();
        let Some((w, keys)) = g.by_client.remove(&client_id) else {
            return;
        };
        self.count.fetch_sub(1, Ordering::Relaxed);
        for k in keys {
            if let Some(q) = g.by_key.get_mut(&k) {
                q.retain(|x| !Arc::ptr_eq(x, &w));
                match q.front() {
                    Some(next) => next.notify.notify_one(),
                    None => {
                        g.by_key.remove(&k);
                    }
                }
            }
        }
    }

    pub fn active(&self) -> bool {
        self.count.load(Ordering::Relaxed) > 0
    }

    /// Blocked clients (INFO `blocked_clients`).
    pub fn blocked(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }

    pub fn is_blocked(&self, client_id: u64) -> bool {
        self.active() && self.inner.lock().by_client.contains_key(&client_id)
    }

    /// Keys blocked on (INFO `blocking_keys`).
    pub fn keys(&self) -> usize {
        if !self.active() {
            return 0;
        }
        self.inner.lock().by_key.len()
    }

    /// The keys of `db` clients are blocked on (SWAPDB wakes them).
    pub fn keys_in_db(&self, db: u8) -> Vec<Bytes> {
        if !self.active() {
            return Vec::new();
        }
        let g = self.inner.lock();
        g.by_key
            .keys()
            .filter(|(d, _)| *d == db)
            .map(|(_, k)| k.clone())
            .collect()
    }

    /// A key got a value: the first client waiting on it looks again.
    pub fn touch(&self, db: u8, key: &[u8]) {
        let g = self.inner.lock();
        if let Some(q) = g.by_key.get(&(db, Bytes::copy_from_slice(key))) {
            if let Some(w) = q.front() {
                w.notify.notify_one();
            }
        }
    }

    /// CLIENT UNBLOCK: false if the client is not blocked.
    pub fn unblock(&self, client_id: u64, reason: u8) -> bool {
        let g = self.inner.lock();
        match g.by_client.get(&client_id) {
            Some((w, _)) => {
                w.why.store(reason, Ordering::Release);
                w.notify.notify_one();
                true
            }
            None => false,
        }
    }

    /// Wakes every blocked client with `reason`.
    pub fn unblock_all(&self, reason: u8) {
        if !self.active() {
            return;
        }
        let g = self.inner.lock();
        for (w, _) in g.by_client.values() {
            w.why.store(reason, Ordering::Release);
            w.notify.notify_one();
        }
    }
}
