//! The pub/sub hub: channel and pattern subscriptions, message fan-out.
//! Each subscriber has an unbounded queue whose size is checked against the
//! pubsub output buffer limit; a client over the hard limit is disconnected,
//! as Redis does.
//!
//! Shard channels (SSUBSCRIBE, SPUBLISH; Redis 7.0) are a name space of
//! their own: on a node outside a cluster every shard channel lives here,
//! patterns never match them, and their subscription count is separate.

use crate::client::ClientInfo;
use crate::glob::glob_match;
use crate::resp::Out;
use bytes::Bytes;
use parking_lot::RwLock;
use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tokio::sync::mpsc;

#[derive(Debug, Clone)]
pub(crate) enum PubMsg {
    Message {
        channel: Bytes,
        data: Bytes,
    },
    PMessage {
        pattern: Bytes,
        channel: Bytes,
        data: Bytes,
    },
    /// A shard channel's message (`smessage`).
    SMessage {
        channel: Bytes,
        data: Bytes,
    },
    /// A line of MONITOR's feed (`monitor.rs`), sent as a status reply.
    Monitor(Bytes),
    /// Client-side caching's invalidation (`tracking.rs`): keys, or a
    /// flush's null (`null3`: written as RESP3's, after the tracking
    /// client's protocol, as Redis does). A push in RESP3, else a message
    /// on `__redis__:invalidate`.
    Invalidate {
        keys: Option<Vec<Bytes>>,
        null3: bool,
    },
    /// `tracking-redir-broken`: the redirect target (this id) is gone.
    RedirBroken(u64),
}

impl PubMsg {
    /// The message as a subscriber receives it (a push in RESP3).
    pub(crate) fn encode(&self, out: &mut crate::resp::Out) {
        match self {
            PubMsg::Message { channel, data } => {
                out.push(3);
                out.bulk(b"message");
                out.bulk(channel);
                out.bulk(data);
            }
            PubMsg::PMessage {
                pattern,
                channel,
                data,
            } => {
                out.push(4);
                out.bulk(b"pmessage");
                out.bulk(pattern);
                out.bulk(channel);
                out.bulk(data);
            }
            PubMsg::SMessage { channel, data } => {
                out.push(3);
                out.bulk(b"smessage");
                out.bulk(channel);
                out.bulk(data);
            }
            PubMsg::Monitor(line) => out.simple(&String::from_utf8_lossy(line)),
            PubMsg::Invalidate { keys, null3 } => {
                if out.resp3 {
                    out.push(2);
                    out.bulk(b"invalidate");
                } else {
                    out.push(3);
                    out.bulk(b"message");
                    out.bulk(b"__redis__:invalidate");
                }
                match keys {
                    Some(keys) => {
                        out.array(keys.len());
                        for k in keys {
                            out.bulk(k);
                        }
                    }
                    None if *null3 => out.buf.extend_from_slice(b"_\r\n"),
                    None => out.buf.extend_from_slice(b"$-1\r\n"),
                }
            }
            PubMsg::RedirBroken(id) => {
                out.push(2);
                out.bulk(b"tracking-redir-broken");
                out.int(*id as i64);
            }
        }
    }

    pub(crate) fn size(&self) -> usize {
        match self {
            PubMsg::Message { channel, data } | PubMsg::SMessage { channel, data } => {
                channel.len() + data.len() + 32
            }
            PubMsg::PMessage {
                pattern,
                channel,
                data,
            } => pattern.len() + channel.len() + data.len() + 48,
            PubMsg::Monitor(line) => line.len() + 3,
            PubMsg::Invalidate { keys, .. } => {
                keys.iter().flatten().map(|k| k.len() + 16).sum::<usize>() + 48
            }
            PubMsg::RedirBroken(_) => 48,
        }
    }
}

#[derive(Clone)]
pub(crate) struct Subscriber {
    pub info: Arc<ClientInfo>,
    pub tx: mpsc::UnboundedSender<PubMsg>,
}

/// Subscribers by channel (or pattern), each by client id.
type Subscribers = RwLock<HashMap<Bytes, HashMap<u64, Subscriber>>>;

fn add(map: &Subscribers, name: Bytes, sub: Subscriber) {
    map.write()
        .entry(name)
        .or_default()
        .insert(sub.info.id, sub);
}

fn remove(map: &Subscribers, name: &Bytes, id: u64) {
    let mut m = map.write();
    if let Some(s) = m.get_mut(name) {
        s.remove(&id);
        if s.is_empty() {
            m.remove(name);
        }
    }
}

#[derive(Default)]
pub(crate) struct PubSub {
    channels: Subscribers,
    patterns: Subscribers,
    shard: Subscribers,
    /// Hard limit on a subscriber's queued bytes (client-output-buffer-limit pubsub).
    pub hard_limit: std::sync::atomic::AtomicUsize,
    /// MONITOR's clients: the same fan-out, of commands.
    pub monitors: super::monitor::Monitors,
}

impl PubSub {
    pub(crate) fn subscribe(&self, channel: Bytes, sub: Subscriber) {
        add(&self.channels, channel, sub);
    }

    pub(crate) fn unsubscribe(&self, channel: &Bytes, id: u64) {
        remove(&self.channels, channel, id);
    }

    pub(crate) fn ssubscribe(&self, channel: Bytes, sub: Subscriber) {
        add(&self.shard, channel, sub);
    }

    pub(crate) fn sunsubscribe(&self, channel: &Bytes, id: u64) {
        remove(&self.shard, channel, id);
    }

    /// SPUBLISH: to the shard channel's subscribers only; returns how many.
    pub(crate) fn spublish(&self, channel: &Bytes, data: &Bytes) -> usize {
        self.to_channel(&self.shard, channel, || PubMsg::SMessage {
            channel: channel.clone(),
            data: data.clone(),
        })
    }

    /// Delivers `msg()` to each subscriber of `channel` in `map`; how many.
    fn to_channel(&self, map: &Subscribers, channel: &Bytes, msg: impl Fn() -> PubMsg) -> usize {
        let subs = map.read();
        let Some(subs) = subs.get(channel) else {
            return 0;
        };
        for s in subs.values() {
            self.deliver(s, msg());
        }
        subs.len()
    }

    /// PUBSUB SHARDCHANNELS.
    pub(crate) fn shard_channels(&self, pattern: Option<&[u8]>) -> Vec<Bytes> {
        let mut v: Vec<Bytes> = self
            .shard
            .read()
            .keys()
            .filter(|c| pattern.is_none_or(|p| glob_match(p, c, false)))
            .cloned()
            .collect();
        v.sort();
        v
    }

    /// PUBSUB SHARDNUMSUB.
    pub(crate) fn shard_numsub(&self, channel: &Bytes) -> usize {
        self.shard.read().get(channel).map_or(0, |s| s.len())
    }

    pub(crate) fn psubscribe(&self, pattern: Bytes, sub: Subscriber) {
        add(&self.patterns, pattern, sub);
    }

    pub(crate) fn punsubscribe(&self, pattern: &Bytes, id: u64) {
        remove(&self.patterns, pattern, id);
    }

    /// Delivers a message; returns how many subscriptions received it.
    pub(crate) fn publish(&self, channel: &Bytes, data: &Bytes) -> usize {
        let mut n = self.to_channel(&self.channels, channel, || PubMsg::Message {
            channel: channel.clone(),
            data: data.clone(),
        });
        for (pattern, subs) in self.patterns.read().iter() {
            if glob_match(pattern, channel, false) {
                for s in subs.values() {
                    self.deliver(
                        s,
                        PubMsg::PMessage {
                            pattern: pattern.clone(),
                            channel: channel.clone(),
                            data: data.clone(),
                        },
                    );
                    n += 1;
                }
            }
        }
        n
    }

    /// Queues `msg` for `s`, closing a subscriber (or monitor) whose queue
    /// passed the hard limit.
    pub(super) fn deliver(&self, s: &Subscriber, msg: PubMsg) {
        let size = msg.size();
        let queued = s.info.pending_push.fetch_add(size, Ordering::Relaxed) + size;
        let limit = self.hard_limit.load(Ordering::Relaxed);
        if limit > 0 && queued > limit {
            tracing::warn!(
                "client id={} closed for overcoming of output buffer limits (pubsub)",
                s.info.id
            );
            s.info.kill();
            return;
        }
        let _ = s.tx.send(msg);
    }

    pub(crate) fn channels(&self, pattern: Option<&[u8]>) -> Vec<Bytes> {
        let mut v: Vec<Bytes> = self
            .channels
            .read()
            .keys()
            .filter(|c| pattern.is_none_or(|p| glob_match(p, c, false)))
            .cloned()
            .collect();
        v.sort();
        v
    }

    pub(crate) fn numsub(&self, channel: &Bytes) -> usize {
        self.channels.read().get(channel).map_or(0, |s| s.len())
    }

    pub(crate) fn numpat(&self) -> usize {
        self.patterns.read().len()
    }
}

/// One connection's subscriptions (node or sentinel).
#[derive(Default)]
pub(crate) struct Subscriptions {
    pub channels: BTreeSet<Bytes>,
    pub patterns: BTreeSet<Bytes>,
    /// Shard channels (SSUBSCRIBE).
    pub shard: BTreeSet<Bytes>,
}

impl Subscriptions {
    /// What (P)(UN)SUBSCRIBE replies count: channels and patterns (Redis
    /// counts shard channels apart).
    pub(crate) fn count(&self) -> usize {
        self.channels.len() + self.patterns.len()
    }

    /// Whether the connection is in the subscribed context: any
    /// subscription, shard channels included.
    pub(crate) fn is_empty(&self) -> bool {
        self.count() == 0 && self.shard.is_empty()
    }

    /// CLIENT LIST's sub= and psub=.
    fn publish_counts(&self, info: &ClientInfo) {
        info.subs.store(self.channels.len(), Ordering::Relaxed);
        info.psubs.store(self.patterns.len(), Ordering::Relaxed);
        info.ssubs.store(self.shard.len(), Ordering::Relaxed);
    }

    /// SSUBSCRIBE: one reply per name, counting shard channels.
    pub(crate) fn ssubscribe(
        &mut self,
        hub: &PubSub,
        me: &Subscriber,
        out: &mut Out,
        names: &[Bytes],
    ) {
        for name in names {
            if self.shard.insert(name.clone()) {
                hub.ssubscribe(name.clone(), me.clone());
            }
            self.publish_counts(&me.info);
            Self::reply_n(out, b"ssubscribe", Some(name), self.shard.len());
        }
    }

    /// SUNSUBSCRIBE: the names given, or every shard channel.
    pub(crate) fn sunsubscribe(
        &mut self,
        hub: &PubSub,
        info: &ClientInfo,
        out: &mut Out,
        names: &[Bytes],
    ) {
        let names: Vec<Bytes> = if names.is_empty() {
            self.shard.iter().cloned().collect()
        } else {
            names.to_vec()
        };
        if names.is_empty() {
            return Self::reply_n(out, b"sunsubscribe", None, 0);
        }
        for name in names {
            if self.shard.remove(&name) {
                hub.sunsubscribe(&name, info.id);
            }
            self.publish_counts(info);
            Self::reply_n(out, b"sunsubscribe", Some(&name), self.shard.len());
        }
    }

    /// SUBSCRIBE (`pattern` false) or PSUBSCRIBE: one reply per name.
    pub(crate) fn subscribe(
        &mut self,
        hub: &PubSub,
        me: &Subscriber,
        out: &mut Out,
        names: &[Bytes],
        pattern: bool,
    ) {
        for name in names {
            let set = if pattern {
                &mut self.patterns
            } else {
                &mut self.channels
            };
            if set.insert(name.clone()) {
                if pattern {
                    hub.psubscribe(name.clone(), me.clone());
                } else {
                    hub.subscribe(name.clone(), me.clone());
                }
            }
            self.publish_counts(&me.info);
            self.reply(
                out,
                if pattern { b"psubscribe" } else { b"subscribe" },
                Some(name),
            );
        }
    }

    /// UNSUBSCRIBE or PUNSUBSCRIBE: the names given, or all of them.
    pub(crate) fn unsubscribe(
        &mut self,
        hub: &PubSub,
        info: &ClientInfo,
        out: &mut Out,
        names: &[Bytes],
        pattern: bool,
    ) {
        let kind: &[u8] = if pattern {
            b"punsubscribe"
        } else {
            b"unsubscribe"
        };
        let set = if pattern {
            &self.patterns
        } else {
            &self.channels
        };
        let names: Vec<Bytes> = if names.is_empty() {
            set.iter().cloned().collect()
        } else {
            names.to_vec()
        };
        if names.is_empty() {
            return self.reply(out, kind, None);
        }
        for name in names {
            let removed = if pattern {
                self.patterns.remove(&name)
            } else {
                self.channels.remove(&name)
            };
            if removed {
                if pattern {
                    hub.punsubscribe(&name, info.id);
                } else {
                    hub.unsubscribe(&name, info.id);
                }
            }
            self.publish_counts(info);
            self.reply(out, kind, Some(&name));
        }
    }

    /// Drops every subscription (connection close, RESET).
    pub(crate) fn clear(&mut self, hub: &PubSub, info: &ClientInfo) {
        for ch in std::mem::take(&mut self.channels) {
            hub.unsubscribe(&ch, info.id);
        }
        for p in std::mem::take(&mut self.patterns) {
            hub.punsubscribe(&p, info.id);
        }
        for ch in std::mem::take(&mut self.shard) {
            hub.sunsubscribe(&ch, info.id);
        }
        self.publish_counts(info);
    }

    fn reply(&self, out: &mut Out, kind: &[u8], name: Option<&[u8]>) {
        Self::reply_n(out, kind, name, self.count());
    }

    fn reply_n(out: &mut Out, kind: &[u8], name: Option<&[u8]>, n: usize) {
        out.push(3);
        out.bulk(kind);
        out.bulk_opt(name);
        out.int(n as i64);
    }
}
