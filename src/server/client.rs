//! A node connection's own state ([`Client`]): its database, MULTI queue,
//! WATCHed keys and subscriptions. What a sentinel shares is in
//! `crate::client`.

use crate::client::pubsub::{PubMsg, Subscriptions};
use crate::client::ClientInfo;
use bytes::Bytes;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::sync::mpsc;

/// Connection-local state.
pub(crate) struct Client {
    pub id: u64,
    pub info: Arc<ClientInfo>,
    pub db: usize,
    pub authed: bool,
    /// Commands queued by MULTI.
    pub multi: Option<Vec<Vec<Bytes>>>,
    /// A queued command was refused: EXEC must abort.
    pub multi_error: bool,
    pub watched: Vec<(usize, Bytes)>,
    /// Set by the store when a watched key changes.
    pub watch_dirty: Arc<AtomicBool>,
    pub subs: Subscriptions,
    pub push: mpsc::UnboundedSender<PubMsg>,
    /// The link from our master (replication): exempt from READONLY.
    pub is_master: bool,
    /// `REPLCONF listening-port` of a replica connecting to us.
    pub repl_port: Option<u16>,
    /// The replica said `REPLCONF capa fack`: it understands GETFACK.
    pub repl_fack: bool,
    /// A read parked while its key was read from sled: it runs first in
    /// the next batch (`server/disk_reads.rs`).
    pub parked: Option<Vec<Bytes>>,
    /// Set while the connection's requests run on a blocking thread for a
    /// script (see `server/connection.rs`).
    pub on_script_thread: bool,
    /// CLIENT REPLY.
    pub reply: Reply,
    /// MONITOR was sent: the connection gets the feed.
    pub monitor: bool,
    /// CLIENT TRACKING as this connection sees it (the shared state is
    /// `client/tracking.rs`).
    pub tracking: crate::client::tracking::Local,
}

/// CLIENT REPLY's modes. `Skip` drops the next command's reply, `Skipping`
/// the reply being made now.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Reply {
    On,
    Off,
    Skip,
    Skipping,
}

impl Client {
    pub(crate) fn new(
        info: Arc<ClientInfo>,
        push: mpsc::UnboundedSender<PubMsg>,
        authed: bool,
    ) -> Self {
        Client {
            id: info.id,
            info,
            db: 0,
            authed,
            multi: None,
            multi_error: false,
            watched: Vec::new(),
            watch_dirty: Arc::new(AtomicBool::new(false)),
            subs: Subscriptions::default(),
            push,
            is_master: false,
            monitor: false,
            repl_port: None,
            repl_fack: false,
            parked: None,
            on_script_thread: false,
            reply: Reply::On,
            tracking: Default::default(),
        }
    }

    pub(crate) fn in_subscribed_context(&self) -> bool {
        !self.subs.is_empty()
    }

    /// After a command under CLIENT REPLY OFF or SKIP: drops its reply
    /// (from `at` on) unless it turned replies back on, and moves SKIP on.
    pub(crate) fn after_reply(&mut self, out: &mut crate::resp::Out, at: usize) {
        match self.reply {
            Reply::Off | Reply::Skipping => out.buf.truncate(at),
            _ => {}
        }
        self.reply = match self.reply {
            Reply::Skip => Reply::Skipping,
            Reply::Skipping => Reply::On,
            r => r,
        };
    }

    pub(crate) fn set_db(&mut self, db: usize) {
        self.db = db;
        self.info.db.store(db, Ordering::Relaxed);
    }
}
