//! Staged writes: the elements of a version a transaction made go ahead of
//! its record, a few MiB at a time, so that one command writing a big new
//! value (a 512 MB BITOP or SET, RESTORE, SUNIONSTORE, COPY, RENAME of a
//! big collection...) never holds all of it in memory.
//!
//! They are safe to publish early: no metadata names a version before the
//! record that puts it, so no reader sees them, on this node or on its
//! replicas, which get the stage records in the same stream. The first
//! stage record of a version also puts its marker (`keys::staging_key`);
//! the final record deletes the marker, and sends the elements to the GC if
//! the version ended up unnamed (a later command of the same EXEC replaced
//! it). A version whose command failed, or whose node died before the final
//! record, keeps its marker: a master turns every marker it finds into a
//! garbage entry when it starts or is promoted ([`Store::abandon_stages`]),
//! in a record, so its replicas collect the elements too. A replica never
//! does it itself: its master may still be writing that version.
//!
//! Snapshots and the orphan sweep treat a marked version as live, so a full
//! sync taken in the middle of a staged write (on a replica that serves a
//! chain) carries its elements.

use super::*;

/// Element bytes of new versions stated before they go ahead.
const STAGE_BYTES: usize = 1 << 20;

#[derive(Default)]
pub(crate) struct Stage {
    /// Versions made by this transaction (`new_version`), not yet named by
    /// a committed record.
    pub(super) fresh: Vec<u64>,
    /// Their element bytes stated since the last stage record.
    bytes: usize,
    /// Element prefixes that went ahead, each with its marker logged.
    ahead: Vec<Vec<u8>>,
    /// The WAL refused a stage record: the rest waits for the record.
    off: bool,
}

/// States in `b` the end of element prefix `p`'s staged write: its marker
/// deleted, and with `collect` a garbage entry for its elements.
fn retire(b: &mut Batch, p: &[u8], collect: bool) {
    let m = keys::staging_key(p);
    b.effects.push(Effect::Del { key: m.clone() });
    b.overlay.insert(m, None);
    if collect {
        let g = keys::garbage_key(p);
        b.effects.push(Effect::Put {
            key: g.clone(),
            value: Bytes::new(),
        });
        b.overlay.insert(g, Some(Bytes::new()));
    }
}

impl Stage {
    /// The element prefix of `k` if `k` is an element of a fresh version.
    fn fresh_prefix<'k>(&self, k: &'k [u8]) -> Option<&'k [u8]> {
        if self.fresh.is_empty() || self.off {
            return None;
        }
        let s = keys::parse_sub_key(k)?;
        self.fresh
            .contains(&s.version)
            .then(|| &k[..k.len() - s.field.len()])
    }

    pub(super) fn is_fresh(&self, k: &[u8]) -> bool {
        self.fresh_prefix(k).is_some()
    }
}

impl WriteTx {
    /// Counts `n` bytes stated on a fresh version's element; sends them
    /// ahead once there are enough.
    pub(super) fn note_staged(&mut self, n: usize) {
        self.stage.bytes += n;
        if self.stage.bytes >= STAGE_BYTES {
            self.stage.bytes = 0;
            self.send_ahead();
        }
    }

    /// Logs and publishes the fresh versions' elements stated so far as a
    /// record of their own; the rest of the transaction stays for its
    /// record. A writable replica's own writes are never logged: they stay.
    fn send_ahead(&mut self) {
        if self.store.is_follower() {
            return;
        }
        let effects = std::mem::take(&mut self.batch.effects);
        let mut kept = Vec::with_capacity(64);
        let mut ahead = Vec::with_capacity(effects.len());
        let mut markers = Vec::new();
        // The new position of each effect that stays: `EventAt` names its
        // key by an earlier effect's position (always one that stays: a
        // key's metadata, never an element).
        let mut pos: Vec<u32> = Vec::with_capacity(effects.len());
        for e in effects {
            pos.push(kept.len() as u32);
            let prefix = match &e {
                Effect::Put { key, .. } | Effect::Del { key } => self.stage.fresh_prefix(key),
                _ => None,
            };
            match prefix {
                Some(p) => {
                    let known = |v: &Vec<Vec<u8>>| v.iter().any(|a| a.as_slice() == p);
                    if !known(&self.stage.ahead) && !known(&markers) {
                        markers.push(p.to_vec());
                    }
                    ahead.push(e);
                }
                None => kept.push(match e {
                    Effect::EventAt { event, at } => Effect::EventAt {
                        event,
                        at: pos.get(at as usize).copied().unwrap_or(at),
                    },
                    e => e,
                }),
            }
        }
        let mut b = Batch::default();
        for p in &markers {
            let k = keys::staging_key(p);
            b.effects.push(Effect::Put {
                key: k.clone(),
                value: Bytes::new(),
            });
            b.overlay.insert(k, Some(Bytes::new()));
        }
        let first = b.effects.len();
        b.effects.extend(ahead);
        for e in &b.effects[first..] {
            if let Effect::Put { key, .. } | Effect::Del { key } = e {
                // Read from the buffer from now on, like any published pair.
                if let Some(v) = self.batch.overlay.remove(key) {
                    b.overlay.insert(key.clone(), v);
                }
            }
        }
        match self.store.wal.append(&b.effects) {
            Ok((_, end)) => {
                self.stage.ahead.extend(markers);
                self.store.publish(b, end);
                self.batch.effects = kept;
            }
            Err(e) => {
                tracing::warn!("a staged write stays whole: {e}");
                self.stage.off = true;
                let mut b = b;
                for (k, v) in b.overlay.drain() {
                    if k.first() != Some(&keys::STAGING) {
                        self.batch.overlay.insert(k, v);
                    }
                }
                kept.extend(b.effects.drain(first..));
                self.batch.effects = kept;
            }
        }
    }

    /// Before the record: deletes the markers of what went ahead, and
    /// hands to the GC a version that went ahead but is named by no key.
    pub(super) fn finish_stages(&mut self) {
        let ahead = std::mem::take(&mut self.stage.ahead);
        self.stage = Stage::default();
        for p in ahead {
            let unnamed = !self.names(&p);
            retire(&mut self.batch, &p, unnamed);
        }
    }

    /// Whether the key of element prefix `p` names its version, as this
    /// transaction leaves it.
    fn names(&mut self, p: &[u8]) -> bool {
        let Some(s) = keys::parse_sub_key(p) else {
            return false;
        };
        let k = data_key(s.db, s.gen, s.key);
        let v = match self.batch.overlay.get(&k) {
            Some(v) => v.clone(),
            None => self.store.raw_get(&k),
        };
        v.as_deref().and_then(Meta::peek_coll_version) == Some(s.version)
    }

    /// The transaction's record will not be written (a failed read, a
    /// refused record): what went ahead goes to the GC, in a record.
    pub(super) fn abandon_stages(&mut self) {
        let ahead = std::mem::take(&mut self.stage.ahead);
        self.stage = Stage::default();
        self.store.collect_staged(ahead);
    }
}

impl Store {
    /// Turns every staging marker into a garbage entry, in one record: run
    /// by a master when it starts and when it is promoted, when no command
    /// of its own can be staging (the writer lock is taken) and no master
    /// will finish what went ahead.
    pub fn abandon_stages(&self) {
        let _w = self.writer.lock();
        let mut prefixes = Vec::new();
        let mut after: Option<Bytes> = None;
        loop {
            let start = after.as_deref().unwrap_or(&[keys::STAGING]).to_vec();
            let (pairs, more) = self.raw_range(&start, after.is_some(), &[keys::STAGING + 1], 1024);
            after = pairs.last().map(|(k, _)| k.clone());
            prefixes.extend(pairs.into_iter().map(|(k, _)| k[1..].to_vec()));
            if !more || after.is_none() {
                break;
            }
        }
        if !prefixes.is_empty() {
            tracing::warn!(
                "{} staged writes were never finished (a crash or a lost master): their elements go to the GC",
                prefixes.len()
            );
            self.collect_staged(prefixes);
        }
    }

    /// Logs and publishes, for each element prefix, the deletion of its
    /// marker and a garbage entry (under the writer lock).
    fn collect_staged(&self, prefixes: Vec<Vec<u8>>) {
        if prefixes.is_empty() || self.is_follower() {
            return;
        }
        let mut b = Batch::default();
        for p in prefixes {
            retire(&mut b, &p, true);
        }
        match self.wal.append(&b.effects) {
            Ok((_, end)) => self.publish(b, end),
            Err(e) => tracing::warn!("staged elements left for the next start: {e}"),
        }
    }

    /// Whether element prefix `p` is a staged version's (its marker is
    /// there): live for the orphan sweep.
    pub(super) fn is_staged(&self, p: &[u8]) -> bool {
        self.raw_get(&keys::staging_key(p)).is_some()
    }
}
