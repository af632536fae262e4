//! Keyspace notifications (Redis's `notify.c`): the event classes of
//! `notify-keyspace-events`, the events sledis publishes, and their
//! delivery to `__keyspace@<db>__:<key>` and `__keyevent@<db>__:<event>`.
//!
//! Every write logs its events in its WAL record (`Effect::Event`,
//! `Effect::EventAt`), whatever this node's setting, so a replica (which
//! applies effects and never runs commands) publishes them too, under its
//! own setting. An event is logged by its number in [`EVENTS`]: that table
//! is part of the WAL format, so entries are only ever appended.

use crate::store::keys::parse_data_key;
use crate::wal::record::Effect;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

pub(crate) const KEYSPACE: u32 = 1 << 0; // K
pub(crate) const KEYEVENT: u32 = 1 << 1; // E
pub(crate) const GENERIC: u32 = 1 << 2; // g
pub(crate) const STRING: u32 = 1 << 3; // $
pub(crate) const LIST: u32 = 1 << 4; // l
pub(crate) const SET: u32 = 1 << 5; // s
pub(crate) const HASH: u32 = 1 << 6; // h
pub(crate) const ZSET: u32 = 1 << 7; // z
pub(crate) const EXPIRED: u32 = 1 << 8; // x
pub(crate) const EVICTED: u32 = 1 << 9; // e
pub(crate) const STREAM: u32 = 1 << 10; // t
/// Not part of `A`, as in Redis.
pub(crate) const KEY_MISS: u32 = 1 << 11; // m
pub(crate) const MODULE: u32 = 1 << 13; // d
/// Not part of `A`, as in Redis.
pub(crate) const NEW: u32 = 1 << 14; // n
pub(crate) const ALL: u32 =
    GENERIC | STRING | LIST | SET | HASH | ZSET | EXPIRED | EVICTED | STREAM | MODULE;

/// Redis's `keyspaceEventsStringToFlags`: None for an unknown character.
pub(crate) fn parse_flags(s: &str) -> Option<u32> {
    let mut f = 0;
    for c in s.chars() {
        f |= match c {
            'A' => ALL,
            'g' => GENERIC,
            '$' => STRING,
            'l' => LIST,
            's' => SET,
            'h' => HASH,
            'z' => ZSET,
            'x' => EXPIRED,
            'e' => EVICTED,
            'K' => KEYSPACE,
            'E' => KEYEVENT,
            't' => STREAM,
            'm' => KEY_MISS,
            'd' => MODULE,
            'n' => NEW,
            _ => return None,
        };
    }
    Some(f)
}

/// Redis's `keyspaceEventsFlagsToString`, what CONFIG GET shows: `A`
/// stands for its classes (and then hides `n`, as Redis's does).
pub(crate) fn format_flags(f: u32) -> String {
    let mut s = String::new();
    if f & ALL == ALL {
        s.push('A');
    } else {
        for (bit, c) in [
            (GENERIC, 'g'),
            (STRING, '$'),
            (LIST, 'l'),
            (SET, 's'),
            (HASH, 'h'),
            (ZSET, 'z'),
            (EXPIRED, 'x'),
            (EVICTED, 'e'),
            (STREAM, 't'),
            (MODULE, 'd'),
            (NEW, 'n'),
        ] {
            if f & bit != 0 {
                s.push(c);
            }
        }
    }
    for (bit, c) in [(KEYSPACE, 'K'), (KEYEVENT, 'E'), (KEY_MISS, 'm')] {
        if f & bit != 0 {
            s.push(c);
        }
    }
    s
}

/// The error CONFIG SET and the config file give for a bad class string.
pub(crate) const INVALID: &str = "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.";

/// An event sledis publishes; its number (`as u8`) is what the WAL stores.
/// Append only: never reorder or remove a variant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Ev {
    New,
    Set,
    Setrange,
    Incrby,
    Incrbyfloat,
    Append,
    Del,
    Expire,
    Expired,
    Persist,
    RenameFrom,
    RenameTo,
    MoveFrom,
    MoveTo,
    CopyTo,
    Setbit,
    Pfadd,
    Lpush,
    Rpush,
    Lpop,
    Rpop,
    Linsert,
    Lset,
    Lrem,
    Ltrim,
    Hset,
    Hdel,
    Hincrby,
    Hincrbyfloat,
    Sadd,
    Srem,
    Spop,
    Sinterstore,
    Sunionstore,
    Sdiffstore,
    Zadd,
    Zincr,
    Zrem,
    /// `zremrangebyscore`, as Redis 7.0 names it.
    Zrembyscore,
    Zrembyrank,
    Zrembylex,
    Zpopmin,
    Zpopmax,
    Zinterstore,
    Zunionstore,
    Zdiffstore,
    Zrangestore,
    /// `spop` of a whole set (SPOP with a count at least its size), which
    /// Redis propagates as DEL: a replica publishes only the `del` after it.
    SpopAll,
    Restore,
    Sortstore,
}

/// Name and class of each [`Ev`], by number.
pub(crate) const EVENTS: &[(&str, u32)] = &[
    ("new", NEW),
    ("set", STRING),
    ("setrange", STRING),
    ("incrby", STRING),
    ("incrbyfloat", STRING),
    ("append", STRING),
    ("del", GENERIC),
    ("expire", GENERIC),
    ("expired", EXPIRED),
    ("persist", GENERIC),
    ("rename_from", GENERIC),
    ("rename_to", GENERIC),
    ("move_from", GENERIC),
    ("move_to", GENERIC),
    ("copy_to", GENERIC),
    ("setbit", STRING),
    ("pfadd", STRING),
    ("lpush", LIST),
    ("rpush", LIST),
    ("lpop", LIST),
    ("rpop", LIST),
    ("linsert", LIST),
    ("lset", LIST),
    ("lrem", LIST),
    ("ltrim", LIST),
    ("hset", HASH),
    ("hdel", HASH),
    ("hincrby", HASH),
    ("hincrbyfloat", HASH),
    ("sadd", SET),
    ("srem", SET),
    ("spop", SET),
    ("sinterstore", SET),
    ("sunionstore", SET),
    ("sdiffstore", SET),
    ("zadd", ZSET),
    ("zincr", ZSET),
    ("zrem", ZSET),
    ("zremrangebyscore", ZSET),
    ("zremrangebyrank", ZSET),
    ("zremrangebylex", ZSET),
    ("zpopmin", ZSET),
    ("zpopmax", ZSET),
    ("zinterstore", ZSET),
    ("zunionstore", ZSET),
    ("zdiffstore", ZSET),
    ("zrangestore", ZSET),
    ("spop", SET),
    ("restore", GENERIC),
    ("sortstore", LIST),
];

/// An event's name by its WAL number (the dump tool shows it).
pub fn event_name(id: u8) -> Option<&'static str> {
    EVENTS.get(id as usize).map(|e| e.0)
}

/// The event an effect logs: (event number, db, user key), the key found
/// through the effect it points at for `EventAt`. None for other effects
/// and for a pointer that names no key's metadata (a damaged record).
pub(crate) fn target<'a>(effects: &'a [Effect], e: &'a Effect) -> Option<(u8, u8, &'a [u8])> {
    match e {
        Effect::Event { db, event, key } => Some((*event, *db, key)),
        Effect::EventAt { event, at } => {
            let k = match effects.get(*at as usize)? {
                Effect::Put { key, .. } | Effect::Del { key } => key,
                _ => return None,
            };
            let (db, _, key) = parse_data_key(k)?;
            Some((*event, db, key))
        }
        _ => None,
    }
}

/// The event a Redis replica publishes for a master's event `id`: it runs
/// the command its master propagated, which Redis rewrites for some
/// (INCRBYFLOAT as SET, HINCRBYFLOAT as HSET, SPOP as SREM, an expiry as
/// DEL, SPOP of a whole set as DEL). Every other event is the same on
/// both; None: nothing.
pub(crate) fn as_replicated(id: u8) -> Option<u8> {
    let ev = match id {
        x if x == Ev::Incrbyfloat as u8 => Ev::Set,
        x if x == Ev::Hincrbyfloat as u8 => Ev::Hset,
        x if x == Ev::Spop as u8 => Ev::Srem,
        x if x == Ev::Expired as u8 => Ev::Del,
        x if x == Ev::SpopAll as u8 => return None,
        _ => return Some(id),
    };
    Some(ev as u8)
}

/// Where a message goes: (shard channel?, channel, message).
type Sink = Box<dyn Fn(bool, &[u8], &[u8]) + Send + Sync>;

/// This node's setting and its pub/sub hub, as the store sees them: the
/// store publishes a record's events when it makes the record visible
/// (locally written, replayed or replicated alike).
#[derive(Default)]
pub struct Notifier {
    flags: AtomicU32,
    sink: OnceLock<Sink>,
}

impl Notifier {
    pub(crate) fn set_flags(&self, f: u32) {
        self.flags.store(f, Ordering::Relaxed);
    }

    /// Whether anything could be published (K or E, and some class).
    pub(crate) fn enabled(&self) -> bool {
        let f = self.flags.load(Ordering::Relaxed);
        f & (KEYSPACE | KEYEVENT) != 0 && f & !(KEYSPACE | KEYEVENT) != 0
    }

    /// Whether events of `class` are published.
    pub(crate) fn wants(&self, class: u32) -> bool {
        let f = self.flags.load(Ordering::Relaxed);
        f & class != 0 && f & (KEYSPACE | KEYEVENT) != 0
    }

    pub(crate) fn set_sink(&self, sink: Sink) {
        let _ = self.sink.set(sink);
    }

    /// Delivers a message the master published (`Effect::Message`) to
    /// this node's subscribers.
    pub(crate) fn message(&self, shard: bool, channel: &[u8], message: &[u8]) {
        if let Some(sink) = self.sink.get() {
            sink(shard, channel, message);
        }
    }

    /// Publishes event `id` on `key` of `db`, if this node's setting wants
    /// its class (Redis's `notifyKeyspaceEvent`).
    pub(crate) fn event(&self, id: u8, db: u8, key: &[u8]) {
        let Some(&(name, class)) = EVENTS.get(id as usize) else {
            return;
        };
        self.publish(class, name, db, key);
    }

    /// The same for an event not logged (a key miss).
    pub(crate) fn publish(&self, class: u32, name: &str, db: u8, key: &[u8]) {
        let f = self.flags.load(Ordering::Relaxed);
        if f & class == 0 {
            return;
        }
        let Some(sink) = self.sink.get() else {
            return;
        };
        if f & KEYSPACE != 0 {
            let mut ch = format!("__keyspace@{db}__:").into_bytes();
            ch.extend_from_slice(key);
            sink(false, &ch, name.as_bytes());
        }
        if f & KEYEVENT != 0 {
            let ch = format!("__keyevent@{db}__:{name}");
            sink(false, ch.as_bytes(), key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_canonicalise_as_redis() {
        let f = |s| format_flags(parse_flags(s).unwrap());
        assert_eq!(f("KEA"), "AKE");
        assert_eq!(f("Kxe$gAh"), "AK");
        assert_eq!(f("Kx"), "xK");
        assert_eq!(f("KEAmtnd"), "AKEm");
        assert_eq!(f("lgK$"), "g$lK");
        assert_eq!(f(""), "");
        assert!(parse_flags("KQ").is_none());
    }

    #[test]
    fn every_event_has_a_name() {
        assert_eq!(EVENTS.len(), Ev::Sortstore as usize + 1);
        assert_eq!(event_name(Ev::Zpopmax as u8), Some("zpopmax"));
        assert_eq!(event_name(Ev::Expired as u8), Some("expired"));
    }
}
