//! Client-side caching (Redis 7.0's tracking.c): CLIENT TRACKING's state
//! per client, the tracking table (key -> ids of the clients that read it),
//! the BCAST prefixes, and the invalidation messages.
//!
//! The store reports every published record's changed keys here (one hook,
//! beside WATCH and keyspace notifications), so every way a key changes
//! (commands, EXEC, scripts, expiry, a master's stream) invalidates alike.
//! Keys are names only, whatever the database, as in Redis.
//!
//! Memory is bounded: the table holds at most `tracking-table-max-keys`
//! keys (a read over the limit evicts keys at once, invalidating them, where
//! Redis does it before the next command), each with at most one id per
//! client; BCAST keys wait only until the next flush (after the running
//! batch of requests).

use crate::client::pubsub::{PubMsg, PubSub, Subscriber};
use crate::client::Clients;
use bytes::Bytes;
use parking_lot::Mutex;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// ClientInfo's tracking flags, for CLIENT LIST (`t`, `R`, `B`).
pub(crate) const ON: u8 = 1;
pub(crate) const BROKEN: u8 = 2;
pub(crate) const BCAST: u8 = 4;

/// CLIENT TRACKING ON's options.
#[derive(Clone, Default, Debug)]
pub(crate) struct Options {
    pub redirect: u64,
    pub bcast: bool,
    pub optin: bool,
    pub optout: bool,
    pub noloop: bool,
}

/// A tracking client.
struct Tracker {
    opts: Options,
    prefixes: BTreeSet<Bytes>,
    broken: bool,
}

/// A BCAST prefix: its clients and the keys changed since the last flush,
/// each with the client that changed it (for NOLOOP; 0: none).
#[derive(Default)]
struct Prefix {
    clients: BTreeSet<u64>,
    keys: BTreeMap<Bytes, u64>,
}

#[derive(Default)]
struct Inner {
    table: HashMap<Bytes, Vec<u64>>,
    items: usize,
    trackers: HashMap<u64, Tracker>,
    prefixes: BTreeMap<Bytes, Prefix>,
    bcast_pending: bool,
}

#[derive(Default)]
pub(crate) struct Tracking {
    inner: Mutex<Inner>,
    /// The store's switch for reporting changes (`store/changes.rs`): on
    /// while a client tracks, a key is tracked or BCAST keys wait; set
    /// under `inner`'s lock, so a report never turns it off after an
    /// enable.
    wanted: std::sync::OnceLock<Arc<AtomicBool>>,
    /// `tracking-table-max-keys` (0: no limit, as in Redis).
    pub max_keys: AtomicU64,
    /// BCAST keys wait to be sent (`flush_bcast`).
    pub wake: tokio::sync::Notify,
}

/// What a delivery needs: the registry (redirect targets) and the hub (its
/// output limit).
pub(crate) struct Route<'a> {
    pub clients: &'a Clients,
    pub pubsub: &'a PubSub,
}

impl Tracking {
    pub(crate) fn set_switch(&self, on: Arc<AtomicBool>) {
        let _ = self.wanted.set(on);
    }

    /// Turns the store's reports on or off after a change to `inner`.
    fn refresh(&self, inner: &Inner) {
        if let Some(w) = self.wanted.get() {
            let busy = !inner.trackers.is_empty() || !inner.table.is_empty() || inner.bcast_pending;
            w.store(busy, Ordering::Relaxed);
        }
    }

    /// CLIENT TRACKING ON, options checked: Redis's `enableTracking`
    /// (prefixes are added to those the client has).
    pub(crate) fn enable(&self, id: u64, opts: Options, prefixes: &[Bytes]) {
        let mut g = self.inner.lock();
        let inner = &mut *g;
        let t = inner.trackers.entry(id).or_insert_with(|| Tracker {
            opts: Options::default(),
            prefixes: BTreeSet::new(),
            broken: false,
        });
        t.broken = false;
        t.opts = opts;
        if t.opts.bcast {
            let add: Vec<Bytes> = if prefixes.is_empty() {
                vec![Bytes::new()]
            } else {
                prefixes.to_vec()
            };
            for p in add {
                t.prefixes.insert(p.clone());
                inner.prefixes.entry(p).or_default().clients.insert(id);
            }
        }
        self.refresh(inner);
    }

    /// CLIENT TRACKING OFF, RESET, or the client went away. Its ids stay in
    /// the table until their keys are invalidated, as in Redis.
    pub(crate) fn disable(&self, id: u64) {
        let mut g = self.inner.lock();
        let inner = &mut *g;
        if let Some(t) = inner.trackers.remove(&id) {
            for p in t.prefixes {
                if let Some(pre) = inner.prefixes.get_mut(&p) {
                    pre.clients.remove(&id);
                    if pre.clients.is_empty() {
                        inner.prefixes.remove(&p);
                    }
                }
            }
        }
        self.refresh(inner);
    }

    /// The prefix overlap check of CLIENT TRACKING ON BCAST, as Redis's
    /// `checkPrefixCollisionsOrReply`: the error, if any.
    pub(crate) fn prefix_collision(&self, id: u64, new: &[Bytes]) -> Option<String> {
        let g = self.inner.lock();
        let have = g.trackers.get(&id).map(|t| &t.prefixes);
        let overlap = |a: &[u8], b: &[u8]| a.starts_with(b) || b.starts_with(a);
        // Shown as C strings (Redis formats them with %s).
        let s = |b: &[u8]| {
            String::from_utf8_lossy(b.split(|&c| c == 0).next().unwrap_or(b)).into_owned()
        };
        for (i, p) in new.iter().enumerate() {
            if let Some(old) = have.and_then(|h| h.iter().find(|o| overlap(o, p))) {
                return Some(format!(
                    "ERR Prefix '{}' overlaps with an existing prefix '{}'. Prefixes for a single client must not overlap.",
                    s(p),
                    s(old)
                ));
            }
            if let Some(q) = new[i + 1..].iter().find(|q| overlap(p, q)) {
                return Some(format!(
                    "ERR Prefix '{}' overlaps with another provided prefix '{}'. Prefixes for a single client must not overlap.",
                    s(p),
                    s(q)
                ));
            }
        }
        None
    }

    /// CLIENT TRACKINGINFO's flags (after `on`/`off`), redirect and prefixes.
    pub(crate) fn info(&self, id: u64) -> Option<(bool, u64, Vec<Bytes>)> {
        let g = self.inner.lock();
        g.trackers.get(&id).map(|t| {
            (
                t.broken,
                t.opts.redirect,
                t.prefixes.iter().cloned().collect(),
            )
        })
    }

    /// Whether the client is in NOLOOP mode (TRACKINGINFO).
    pub(crate) fn noloop(&self, id: u64) -> bool {
        self.inner
            .lock()
            .trackers
            .get(&id)
            .is_some_and(|t| t.opts.noloop)
    }

    /// Remembers that client `id` read `keys` (default mode), evicting keys
    /// over `tracking-table-max-keys` by invalidating them.
    pub(crate) fn remember<'k>(
        &self,
        id: u64,
        keys: impl Iterator<Item = &'k Bytes>,
        route: &Route<'_>,
    ) {
        let max = self.max_keys.load(Ordering::Relaxed) as usize;
        let mut g = self.inner.lock();
        let inner = &mut *g;
        for k in keys {
            let ids = match inner.table.get_mut(k.as_ref()) {
                Some(ids) => ids,
                None => inner.table.entry(k.clone()).or_default(),
            };
            if !ids.contains(&id) {
                ids.push(id);
                inner.items += 1;
            }
        }
        inner.make_room(max, route);
    }

    /// CONFIG SET tracking-table-max-keys: a lower bound applies at once.
    pub(crate) fn set_max_keys(&self, max: u64, route: &Route<'_>) {
        self.max_keys.store(max, Ordering::Relaxed);
        let mut g = self.inner.lock();
        g.make_room(max as usize, route);
        self.refresh(&g);
    }

    /// Keys changed by client `origin` (0: none, e.g. expiry or a master):
    /// default-mode clients are told at once, BCAST ones at the next flush.
    pub(crate) fn invalidate(&self, keys: &[&[u8]], origin: u64, route: &Route<'_>) {
        let mut g = self.inner.lock();
        let inner = &mut *g;
        if inner.table.is_empty() && inner.prefixes.is_empty() {
            self.refresh(inner);
            return;
        }
        for k in keys {
            // The prefixes a key starts with: each of its heads looked up,
            // or every prefix tested when there are fewer of them.
            let mut hit = false;
            if inner.prefixes.len() <= k.len() + 1 {
                for (p, pre) in inner.prefixes.iter_mut() {
                    if k.starts_with(p) {
                        pre.keys.insert(Bytes::copy_from_slice(k), origin);
                        hit = true;
                    }
                }
            } else {
                for n in 0..=k.len() {
                    if let Some(pre) = inner.prefixes.get_mut(&k[..n]) {
                        pre.keys.insert(Bytes::copy_from_slice(k), origin);
                        hit = true;
                    }
                }
            }
            inner.bcast_pending |= hit;
            inner.invalidate_key(k, origin, route);
        }
        if inner.bcast_pending {
            self.wake.notify_one();
        }
        self.refresh(inner);
    }

    /// FLUSHDB / FLUSHALL: a null invalidation to every tracking client
    /// (NOLOOP or not, as Redis), and the table is emptied.
    pub(crate) fn flushed(&self, route: &Route<'_>) {
        let mut g = self.inner.lock();
        let inner = &mut *g;
        inner.table = HashMap::new();
        inner.items = 0;
        let ids: Vec<u64> = inner.trackers.keys().copied().collect();
        for id in ids {
            inner.send(id, None, route);
        }
        self.refresh(inner);
    }

    /// Sends the BCAST keys gathered since the last flush: one message per
    /// prefix, keys in order, less a NOLOOP client's own (Redis's
    /// `trackingBroadcastInvalidationMessages`, run before it sleeps).
    pub(crate) fn flush_bcast(&self, route: &Route<'_>) {
        let mut g = self.inner.lock();
        let inner = &mut *g;
        if !std::mem::take(&mut inner.bcast_pending) {
            return;
        }
        self.refresh(inner);
        let mut sends: Vec<(u64, Vec<Bytes>)> = Vec::new();
        for pre in inner.prefixes.values_mut() {
            let keys = std::mem::take(&mut pre.keys);
            if keys.is_empty() {
                continue;
            }
            for &id in &pre.clients {
                let noloop = inner.trackers.get(&id).is_some_and(|t| t.opts.noloop);
                let v: Vec<Bytes> = keys
                    .iter()
                    .filter(|(_, &o)| !(noloop && o == id))
                    .map(|(k, _)| k.clone())
                    .collect();
                if !v.is_empty() {
                    sends.push((id, v));
                }
            }
        }
        for (id, v) in sends {
            inner.send(id, Some(v), route);
        }
    }

    /// INFO: tracked keys, (key, client) items, BCAST prefixes, and the
    /// clients with tracking on.
    pub(crate) fn counts(&self) -> (usize, usize, usize, usize) {
        let g = self.inner.lock();
        (g.table.len(), g.items, g.prefixes.len(), g.trackers.len())
    }
}

impl Inner {
    /// Invalidates keys until at most `max` are tracked (0: no limit).
    fn make_room(&mut self, max: usize, route: &Route<'_>) {
        while max > 0 && self.table.len() > max {
            // An arbitrary key (the map's hash order is random per process),
            // as Redis walks its table at random.
            let Some(k) = self.table.keys().next().cloned() else {
                break;
            };
            self.invalidate_key(&k, 0, route);
        }
    }

    /// Redis's `trackingInvalidateKey` for the default mode: the key leaves
    /// the table and each of its clients still tracking it is told.
    fn invalidate_key(&mut self, key: &[u8], origin: u64, route: &Route<'_>) {
        let Some(ids) = self.table.remove(key) else {
            return;
        };
        self.items -= ids.len();
        for id in ids {
            let Some(t) = self.trackers.get(&id) else {
                continue;
            };
            if t.opts.bcast || (t.opts.noloop && id == origin) {
                continue;
            }
            self.send(id, Some(vec![Bytes::copy_from_slice(key)]), route);
        }
    }

    /// Redis's `sendTrackingMessage`: to the client (RESP3), or to its
    /// redirect target (a push in RESP3, a `__redis__:invalidate` message in
    /// RESP2 if it is subscribed); a missing target breaks the redirect.
    fn send(&mut self, id: u64, keys: Option<Vec<Bytes>>, route: &Route<'_>) {
        let Some(t) = self.trackers.get_mut(&id) else {
            return;
        };
        let me = route.clients.get(id);
        let redirected = t.opts.redirect != 0;
        let target = if redirected {
            match route.clients.get(t.opts.redirect) {
                Some(c) => c,
                None => {
                    t.broken = true;
                    if let Some(me) = &me {
                        me.tracking.fetch_or(BROKEN, Ordering::Relaxed);
                        if me.resp.load(Ordering::Relaxed) > 2 {
                            deliver(route, me, PubMsg::RedirBroken(t.opts.redirect));
                        }
                    }
                    return;
                }
            }
        } else {
            match &me {
                Some(c) => c.clone(),
                None => return,
            }
        };
        // A flush's null is in the tracking client's protocol, as Redis's
        // `shared.null[c->resp]`, whoever receives it.
        let null3 = me
            .as_ref()
            .is_some_and(|m| m.resp.load(Ordering::Relaxed) > 2);
        let resp3 = target.resp.load(Ordering::Relaxed) > 2;
        // RESP2 has no pushes: only a redirect to a subscribed client works.
        if !(resp3 || redirected && target.is_pubsub()) {
            return;
        }
        deliver(route, &target, PubMsg::Invalidate { keys, null3 });
    }
}

fn deliver(route: &Route<'_>, info: &std::sync::Arc<crate::client::ClientInfo>, msg: PubMsg) {
    if let Some(tx) = info.push.get() {
        let s = Subscriber {
            info: info.clone(),
            tx: tx.clone(),
        };
        route.pubsub.deliver(&s, msg);
    }
}

/// Per connection: CLIENT TRACKING's mode as the connection sees it, for
/// the checks on every command without the shared lock.
#[derive(Default)]
pub(crate) struct Local {
    pub on: bool,
    pub bcast: bool,
    pub optin: bool,
    pub optout: bool,
    /// CLIENT CACHING YES/NO was given for the next command.
    pub caching: bool,
    /// Keys read after the open transaction wrote them: remembered once
    /// it commits (`WriteTx::wrote`).
    pub after_commit: Vec<Bytes>,
}

impl Local {
    /// Whether the keys of a read-only command now are remembered (Redis's
    /// `trackingRememberKeys` gate).
    pub(crate) fn remembers(&self) -> bool {
        self.on && !self.bcast && !((self.optin && !self.caching) || (self.optout && self.caching))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    #[test]
    fn the_table_stays_within_its_bound() {
        let (clients, pubsub) = (Clients::default(), PubSub::default());
        let route = Route {
            clients: &clients,
            pubsub: &pubsub,
        };
        let t = Tracking::default();
        t.max_keys.store(2, Ordering::Relaxed);
        t.enable(1, Options::default(), &[]);
        t.enable(2, Options::default(), &[]);
        let keys = [b("a"), b("b"), b("c")];
        t.remember(1, keys.iter(), &route);
        assert_eq!(t.counts(), (2, 2, 0, 2));
        // A second reader of a tracked key adds an item, not a key.
        let left: Vec<Bytes> = t.inner.lock().table.keys().cloned().collect();
        t.remember(2, left.iter().take(1), &route);
        assert_eq!(t.counts(), (2, 3, 0, 2));
        t.invalidate(&[&left[0][..]], 0, &route);
        assert_eq!(t.counts(), (1, 1, 0, 2));
        t.flushed(&route);
        assert_eq!(t.counts(), (0, 0, 0, 2));
    }

    #[test]
    fn prefixes_overlap_and_go_with_their_last_client() {
        let t = Tracking::default();
        let bcast = Options {
            bcast: true,
            ..Options::default()
        };
        assert_eq!(
            t.prefix_collision(1, &[b("a"), b("ab")]).as_deref(),
            Some("ERR Prefix 'a' overlaps with another provided prefix 'ab'. Prefixes for a single client must not overlap.")
        );
        t.enable(1, bcast.clone(), &[b("a"), b("b")]);
        assert_eq!(
            t.prefix_collision(1, &[b("bc")]).as_deref(),
            Some("ERR Prefix 'bc' overlaps with an existing prefix 'b'. Prefixes for a single client must not overlap.")
        );
        assert_eq!(t.prefix_collision(2, &[b("bc")]), None);
        t.enable(2, bcast, &[b("a")]);
        assert_eq!(t.counts().2, 2);
        t.disable(1);
        assert_eq!(t.counts().2, 1);
        t.disable(2);
        assert_eq!(t.counts(), (0, 0, 0, 0));
    }
}
