//! What a command handler gets: its connection (`client`, `out`), its
//! database and write transaction, and a few narrow handles to the node
//! (`config`, `cursors`, `pubsub`, `clients`, `repl`). The whole [`Server`]
//! is private here; only the commands on the node itself (INFO, CONFIG,
//! SAVE, SHUTDOWN, REPLICAOF ...) get it, as [`Handler::Node`].

use super::{Action, Command, Handler};
use crate::client::pubsub::PubSub;
use crate::client::Clients;
use crate::config::Config;
pub(crate) use crate::notify::Ev;
use crate::replication::ReplState;
use crate::resp::Out;
use crate::server::client::Client;
use crate::server::{Cursors, Server};
use crate::store::keys::Meta;
use crate::store::{Store, WriteTx};
use bytes::Bytes;
use parking_lot::RwLockReadGuard;

pub(crate) struct Ctx<'a> {
    /// Private to this file: handlers reach the server only through the
    /// handles below, and the commands on the node itself through
    /// [`Handler::Node`].
    srv: &'a Server,
    pub client: &'a mut Client,
    pub out: &'a mut Out,
    pub now: i64,
    /// The open write transaction (one per command, or one for a whole EXEC).
    pub tx: Option<WriteTx>,
    pub in_exec: bool,
    /// End offset of the last record this connection wrote.
    pub wrote: Option<u64>,
    pub action: Option<Action>,
    /// Inside EXEC: what the transaction changed so far (see [`ExecView`]).
    pub exec: Option<ExecView>,
    /// Running a script's `redis.call`: the slow log names Redis's script
    /// client (`?:0`, no name) as the caller.
    pub in_script: bool,
    /// A script's `redis.call` ran a read-only command: a tracking client
    /// remembers the script's keys (Redis 7.0 tracks the caller's KEYS).
    pub script_read: bool,
}

/// What an EXEC in progress has changed so far. The store's counts and range
/// reads see only published records, and a transaction is published when
/// EXEC ends; DBSIZE, KEYS, SCAN and RANDOMKEY inside EXEC correct them with
/// the keys the transaction's commands named.
pub(crate) struct ExecView {
    /// Every (db, key) a command of the transaction named.
    pub touched: std::collections::BTreeSet<(usize, Bytes)>,
    /// Databases emptied by FLUSHDB/FLUSHALL in the transaction.
    pub flushed: [bool; crate::store::MAX_DBS],
    /// SWAPDB in the transaction: the database whose published keys each
    /// database now shows.
    pub from: [usize; crate::store::MAX_DBS],
}

impl Default for ExecView {
    fn default() -> Self {
        ExecView {
            touched: Default::default(),
            flushed: [false; crate::store::MAX_DBS],
            from: std::array::from_fn(|d| d),
        }
    }
}

impl ExecView {
    /// Notes what a command that just ran may have changed. `failed`: it
    /// answered an error.
    pub(crate) fn note(&mut self, cmd: &Command, args: &[Bytes], db: usize, failed: bool) {
        for i in cmd.key_indexes(args) {
            self.touched.insert((db, args[i].clone()));
        }
        // Keys written in another database.
        let other_db = match cmd.name {
            "move" => args.get(2),
            "copy" => args
                .iter()
                .position(|a| crate::util::eq_ic(a, "db"))
                .and_then(|i| args.get(i + 1)),
            _ => None,
        };
        if let Some(d) = other_db.and_then(|d| crate::util::parse_i64(d)) {
            let key = if cmd.name == "move" {
                args.get(1)
            } else {
                args.get(2)
            };
            if let (Ok(d), Some(k)) = (usize::try_from(d), key) {
                if d < crate::store::MAX_DBS {
                    self.touched.insert((d, k.clone()));
                }
            }
        }
        if !failed {
            match cmd.name {
                "swapdb" => {
                    let arg = |i: usize| {
                        args.get(i)
                            .and_then(|a| crate::util::parse_i64(a))
                            .and_then(|n| usize::try_from(n).ok())
                            .filter(|&n| n < crate::store::MAX_DBS)
                    };
                    if let (Some(a), Some(b)) = (arg(1), arg(2)) {
                        self.from.swap(a, b);
                        self.flushed.swap(a, b);
                        let swap = |d: usize| match d {
                            d if d == a => b,
                            d if d == b => a,
                            d => d,
                        };
                        self.touched = std::mem::take(&mut self.touched)
                            .into_iter()
                            .map(|(d, k)| (swap(d), k))
                            .collect();
                    }
                }
                "flushdb" => self.flushed[db] = true,
                "flushall" => self.flushed = [true; crate::store::MAX_DBS],
                _ => {}
            }
        }
    }
}

impl<'a> Ctx<'a> {
    /// A command's context on `client`'s connection. `tx`: a writer lock the
    /// connection still holds from its pipeline.
    pub(crate) fn new(
        srv: &'a Server,
        client: &'a mut Client,
        out: &'a mut Out,
        now: i64,
        tx: Option<WriteTx>,
    ) -> Ctx<'a> {
        Ctx {
            srv,
            client,
            out,
            now,
            tx,
            in_exec: false,
            wrote: None,
            action: None,
            exec: None,
            in_script: false,
            script_read: false,
        }
    }

    /// Runs a command's handler (the commands on the node itself get the
    /// server), timed and counted: `total_commands_processed`,
    /// `commandstats`, the slow log, the latency monitor. A read-only
    /// command's key lookups count as keyspace hits and misses.
    pub(super) fn call(&mut self, cmd: &Command, args: &[Bytes]) {
        let srv = self.srv;
        srv.stats
            .commands
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let errors = self.out.errors;
        let counting = crate::store::count_lookups(cmd.flags & super::flags::READONLY != 0);
        // Its keys' access times, before the handler as Redis's lookups
        // are (RESTORE ... IDLETIME then sets its own). A NO-TOUCH client's
        // reads touch nothing but with TOUCH; its writes do, as the values
        // Redis creates for them start with the current clock.
        if cmd.touches
            && (cmd.flags & super::flags::WRITE != 0
                || cmd.name == "touch"
                || !self
                    .client
                    .info
                    .no_touch
                    .load(std::sync::atomic::Ordering::Relaxed))
        {
            let store = &srv.store;
            let (slot, now) = (store.slot(self.client.db), self.now);
            cmd.for_each_key(args, |i| store.access.touch(slot, &args[i], now));
        }
        let began = crate::util::ticks();
        match cmd.handler {
            Handler::Plain(f) => f(self, args),
            Handler::Node(f) => f(self, srv, args),
        }
        let mut usec = crate::util::ticks_to_us(crate::util::ticks().wrapping_sub(began));
        // DEBUG SLEEP sleeps after the handler, off the thread; its sleep is
        // its run time, as in Redis (tools provoke slow log entries and
        // latency events with it).
        if let Some(super::Action::Sleep(d)) = &self.action {
            usec += d.as_micros() as u64;
        }
        crate::store::count_lookups(counting);
        srv.cmdstats
            .ran(super::stat_slot(cmd, args), usec, self.out.errors > errors);
        // EXEC's commands are logged one by one (Redis's SKIP_SLOWLOG).
        if srv.slowlog.wants(usec) && cmd.name != "exec" {
            let info = &self.client.info;
            let (addr, name) = if self.in_script {
                ("?:0".to_string(), String::new())
            } else {
                (
                    info.addr.to_string(),
                    info.name.lock().clone().unwrap_or_default(),
                )
            };
            srv.slowlog
                .push(&super::introspect::redacted(args), usec, addr, name);
        }
        let event = if cmd.flags & super::flags::FAST != 0 {
            "fast-command"
        } else {
            "command"
        };
        crate::latency::note(event, std::time::Duration::from_micros(usec));
    }

    /// A command refused before it ran (`rejected_calls`).
    pub(super) fn rejected(&mut self, slot: usize) {
        self.srv.cmdstats.rejected(slot);
    }

    /// Moves the codes of the error replies written so far into
    /// `errorstats`.
    pub(super) fn count_errors(&mut self) {
        for code in self.out.error_codes.drain(..) {
            self.srv.errorstats.note(&code);
            if self.client.is_master {
                self.srv
                    .stats
                    .unexpected_errors
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
    }

    /// The store: every database, read directly (SCAN, KEYS, DBSIZE ...).
    pub(crate) fn store(&self) -> &'a Store {
        &self.srv.store
    }

    /// The store as the types take it (`types::Db`).
    pub(crate) fn store_arc(&self) -> &'a std::sync::Arc<Store> {
        &self.srv.store
    }

    /// The configuration, read-only (CONFIG SET is a node command).
    pub(crate) fn config(&self) -> RwLockReadGuard<'a, Config> {
        self.srv.config.read()
    }

    /// SCAN's cursors (SCAN, HSCAN, SSCAN, ZSCAN).
    pub(crate) fn cursors(&self) -> &'a Cursors {
        &self.srv.cursors
    }

    /// The pub/sub hub.
    pub(crate) fn pubsub(&self) -> &'a PubSub {
        &self.srv.pubsub
    }

    /// The registry of connections (CLIENT LIST / KILL).
    pub(crate) fn clients(&self) -> &'a Clients {
        &self.srv.clients
    }

    /// Client-side caching's state, and the way to its clients.
    pub(crate) fn tracking(
        &self,
    ) -> (
        &'a crate::client::tracking::Tracking,
        crate::client::tracking::Route<'a>,
    ) {
        (&self.srv.tracking, self.srv.tracking_route())
    }

    /// The replication role, link and replicas.
    pub(crate) fn repl(&self) -> &'a ReplState {
        &self.srv.repl
    }

    /// CLIENT PAUSE's state.
    pub(crate) fn pause(&self) -> &'a crate::server::pause::Pause {
        &self.srv.pause
    }

    /// A replica that refuses writes from its clients.
    pub(crate) fn scripts(&self) -> &'a crate::scripting::Scripts {
        &self.srv.scripts
    }

    pub(crate) fn read_only_replica(&self) -> bool {
        self.srv.is_read_only_replica()
    }

    /// A replica loading its master's snapshot (commands answer LOADING).
    pub(crate) fn loading(&self) -> bool {
        self.srv.loading.load(std::sync::atomic::Ordering::Acquire)
    }

    pub(crate) fn db(&self) -> usize {
        self.client.db
    }

    /// True inside EXEC once the transaction has changed something that is
    /// not published yet.
    pub(crate) fn exec_pending(&self) -> bool {
        self.exec.is_some() && self.tx.as_ref().is_some_and(|t| t.has_effects())
    }

    /// The live keys of `db` as this command sees them (the open
    /// transaction's changes included), in key order.
    pub(crate) fn live_keys(&mut self, db: usize) -> Vec<Bytes> {
        let view = self.exec.take();
        let flushed = view.as_ref().is_some_and(|v| v.flushed[db]);
        let from = view.as_ref().map_or(db, |v| v.from[db]);
        let mut keys: std::collections::BTreeSet<Bytes> = std::collections::BTreeSet::new();
        if !flushed {
            self.srv.store.for_each_key(from, self.now, |k, _| {
                keys.insert(k);
            });
        }
        if let Some(v) = &view {
            for (d, k) in &v.touched {
                if *d != db {
                    continue;
                }
                if self.get(db, k).is_some() {
                    keys.insert(k.clone());
                } else {
                    keys.remove(k);
                }
            }
        }
        self.exec = view;
        keys.into_iter().collect()
    }

    /// How many keys of `db` have a TTL, as this command sees it.
    pub(crate) fn expires_count(&mut self, db: usize) -> i64 {
        let Some(view) = self.exec.take() else {
            return self.srv.store.expires_count(db) as i64;
        };
        let flushed = view.flushed[db];
        let from = view.from[db];
        let mut n = if flushed {
            0
        } else {
            self.srv.store.expires_count(from) as i64
        };
        if self.tx.is_some() {
            for (_, k) in view.touched.iter().filter(|(d, _)| *d == db) {
                let before = !flushed
                    && self
                        .srv
                        .store
                        .get_meta_raw(from, k)
                        .is_some_and(|m| m.expire_at.is_some());
                let now = self.get(db, k).is_some_and(|m| m.expire_at.is_some());
                n += now as i64 - before as i64;
            }
        }
        self.exec = Some(view);
        n
    }

    /// DBSIZE as this command sees it (the open transaction included).
    pub(crate) fn dbsize(&mut self, db: usize) -> i64 {
        let Some(view) = self.exec.take() else {
            return self.srv.store.dbsize(db);
        };
        let flushed = view.flushed[db];
        let from = view.from[db];
        let mut n = if flushed {
            0
        } else {
            self.srv.store.dbsize(from)
        };
        if self.tx.is_some() {
            for (_, k) in view.touched.iter().filter(|(d, _)| *d == db) {
                // Counts are of stored entries, expired or not.
                let before = !flushed && self.srv.store.get_meta_raw(from, k).is_some();
                let now = self.get(db, k).is_some();
                n += now as i64 - before as i64;
            }
        }
        self.exec = Some(view);
        n
    }

    /// The write transaction, opened on first use.
    pub(crate) fn tx(&mut self) -> &mut WriteTx {
        let srv = self.srv;
        let now = self.now;
        self.tx.get_or_insert_with(|| srv.store.write(now))
    }

    /// The command's view of its database, for the types (`types/`).
    pub(crate) fn data(&mut self) -> crate::types::Db<'_> {
        let db = self.client.db;
        self.data_in(db)
    }

    /// The same on database `db`.
    pub(crate) fn data_in(&mut self, db: usize) -> crate::types::Db<'_> {
        crate::types::Db::new(&self.srv.store, &mut self.tx, db, self.now)
    }

    /// [`Ctx::data`] and the reply buffer at once, so that a reply can be
    /// written straight from the store's pairs (LRANGE).
    pub(crate) fn data_out(&mut self) -> (crate::types::Db<'_>, &mut Out) {
        let db = self.client.db;
        let data = crate::types::Db::new(&self.srv.store, &mut self.tx, db, self.now);
        (data, &mut *self.out)
    }

    /// Reads see the open transaction's writes, if there is one.
    pub(crate) fn get(&mut self, db: usize, key: &[u8]) -> Option<Meta> {
        let m = match self.tx.as_mut() {
            Some(tx) => tx.get(db, key),
            None => self.srv.store.get(db, key, self.now),
        };
        self.srv.store.note_lookup(m.is_some());
        m
    }

    /// Sets `key`'s last access time (RESTORE ... IDLETIME).
    pub(crate) fn set_access(&self, db: usize, key: &[u8], at: i64) {
        let store = &self.srv.store;
        store.access.touch(store.slot(db), key, at);
    }

    /// `key`'s idle time in seconds, as OBJECT IDLETIME answers it.
    pub(crate) fn idle_seconds(&self, db: usize, key: &[u8]) -> i64 {
        let store = &self.srv.store;
        (self.now - store.access.last(store.slot(db), key)).max(0) / 1000
    }

    /// Logs keyspace event `ev` on `key` of the client's database in this
    /// command's record (`notify.rs`).
    pub(crate) fn notify(&mut self, ev: Ev, key: &[u8]) {
        let db = self.client.db;
        self.tx().notify(db, ev, key);
    }

    /// The same on database `db`.
    pub(crate) fn notify_in(&mut self, db: usize, ev: Ev, key: &[u8]) {
        self.tx().notify(db, ev, key);
    }

    /// `ev` on a collection, then `del` if the command emptied it (Redis
    /// sends the command's event first).
    pub(crate) fn notify_emptied(&mut self, ev: Ev, key: &[u8]) {
        self.notify(ev, key);
        let db = self.client.db;
        if self.get(db, key).is_none() {
            self.notify(Ev::Del, key);
        }
    }

    /// Runs `f` with the automatic `new` event off, for a command that
    /// sends it itself; whether `key` was absent before.
    pub(crate) fn without_new<T>(
        &mut self,
        key: &[u8],
        f: impl FnOnce(&mut Self) -> T,
    ) -> (T, bool) {
        let db = self.client.db;
        let absent = self.tx().get(db, key).is_none();
        self.tx().quiet_new = true;
        let r = f(self);
        self.tx().quiet_new = false;
        (r, absent)
    }

    /// Effects stated so far by the open transaction.
    pub(crate) fn effect_count(&self) -> usize {
        self.tx.as_ref().map_or(0, |t| t.effect_count())
    }

    /// A read that found no key: `keymiss`, published at once (never
    /// logged: replicas see their own reads' misses).
    pub(crate) fn keymiss(&self, key: &[u8]) {
        self.srv.store.notify.publish(
            crate::notify::KEY_MISS,
            "keymiss",
            self.client.db as u8,
            key,
        );
    }

    /// A HELP subcommand's reply: one status line per entry.
    pub(crate) fn help(&mut self, lines: &[&str]) {
        self.out.help(lines);
    }

    pub(crate) fn err(&mut self, msg: &str) {
        self.out.error(msg);
    }

    pub(crate) fn syntax_err(&mut self) {
        self.out.error("ERR syntax error");
    }

    pub(crate) fn not_int(&mut self) {
        self.out
            .error("ERR value is not an integer or out of range");
    }

    /// Commits what the command wrote as one record. The writer lock stays
    /// with the connection for the rest of its pipeline batch.
    /// Logs and publishes what the command wrote. Err: the WAL refused the
    /// record, which was dropped; the caller replaces the reply.
    pub(crate) fn commit(&mut self) -> Result<(), crate::wal::AppendError> {
        if let Some(tx) = self.tx.as_mut() {
            let messages = tx.only_messages();
            tx.origin = self.client.id;
            let r = tx.commit_record();
            if !self.client.tracking.after_commit.is_empty() {
                let keys = std::mem::take(&mut self.client.tracking.after_commit);
                let (t, route) = self.tracking();
                t.remember(self.client.id, keys.iter(), &route);
            }
            if let Some(end) = r? {
                if !messages {
                    self.wrote = Some(end);
                }
            }
        }
        Ok(())
    }
}
