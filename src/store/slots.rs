//! Logical databases over physical slots, for SWAPDB.
//!
//! Keys are stored under a physical slot byte (`keys.rs`), and each
//! logical database (what SELECT names) maps to one slot: `! m | db` →
//! slot, identity when absent. SWAPDB exchanges two entries of the map, so
//! it costs O(1) whatever the databases hold, as in Redis; nothing moves.
//! The exchange is two `Put` effects of one WAL record, so replay after a
//! crash, replicas, chains, snapshots (the map keys are in them) and the
//! dump tool all see it with no new record kind. Generations, key counts
//! and the expiry index belong to slots; watches and blocked clients to
//! logical databases.

use super::*;

impl Store {
    /// The physical slot logical database `db` lives in.
    pub fn slot(&self, db: usize) -> usize {
        self.slots[db].load(Ordering::Acquire) as usize
    }

    /// The logical database living in physical slot `slot`.
    pub fn db_of(&self, slot: usize) -> usize {
        (0..MAX_DBS).find(|&d| self.slot(d) == slot).unwrap_or(slot)
    }

    /// Where logical database `db`'s keys are: (slot, generation).
    pub fn loc(&self, db: usize) -> (u8, u32) {
        let s = self.slot(db);
        (s as u8, self.gen(s))
    }

    /// A slot map entry's value, if well formed.
    pub(super) fn slot_value(v: &[u8]) -> Option<u8> {
        match v {
            [s] if (*s as usize) < MAX_DBS => Some(*s),
            _ => None,
        }
    }

    /// Reads the map stored in sled (identity where nothing is stored).
    pub(super) fn read_slots(engine: &Engine) -> Result<[AtomicU8; MAX_DBS], Error> {
        let slots: [AtomicU8; MAX_DBS] = std::array::from_fn(|d| AtomicU8::new(d as u8));
        for (db, s) in slots.iter().enumerate() {
            if let Some(v) = engine.get(&keys::slot_key(db as u8))? {
                if let Some(x) = Store::slot_value(&v) {
                    s.store(x, Ordering::Release);
                }
            }
        }
        Ok(slots)
    }

    /// SWAPDB's effect on the watchers of the two databases (Redis's
    /// `touchAllWatchedKeysInDb`), before the map changes: a watched key
    /// that exists on either side is touched, with Redis's rules for keys
    /// that are logically expired (`Watches::touch_swapped`).
    pub(super) fn note_swap(&self, changed: &[Option<u8>; MAX_DBS]) {
        for (db, new) in changed.iter().enumerate() {
            let Some(new) = new else { continue };
            // A transaction that swapped back leaves the map as it was; its
            // watched keys that exist are still touched, as Redis touches
            // them at each swap.
            let old = self.slot(db);
            if self.watches.active() {
                let now = crate::util::now_ms();
                for k in self.watches.keys_in_db(db as u8) {
                    let here = data_key(old as u8, self.gen(old), &k);
                    let there = data_key(*new, self.gen(*new as usize), &k);
                    let was = self.raw_get(&here).is_some();
                    let then = self
                        .raw_get(&there)
                        .map(|v| Meta::decode(&v).is_some_and(|m| m.is_expired(now)));
                    if was || then.is_some() {
                        self.watches.touch_swapped(db as u8, &k, was, then);
                    }
                }
            }
        }
    }

    /// The watch touches of a record that swaps databases: each key is
    /// touched in the database it belonged to when the record wrote it
    /// (MULTI / SET k / SWAPDB 0 1 / EXEC touches k of db 0, as Redis
    /// does), the map followed effect by effect from `map`.
    pub(super) fn touch_in_order(&self, effects: &[Effect], mut map: [usize; MAX_DBS]) {
        for e in effects {
            let (key, gone) = match e {
                Effect::Put { key, value } => {
                    if let Some(db) = keys::parse_slot_key(key) {
                        if let (Some(m), Some(s)) =
                            (map.get_mut(db as usize), Store::slot_value(value))
                        {
                            *m = s as usize;
                        }
                        continue;
                    }
                    (key, false)
                }
                Effect::Del { key } => (key, true),
                Effect::ClearDb { .. }
                | Effect::Event { .. }
                | Effect::EventAt { .. }
                | Effect::Message { .. } => continue,
            };
            if let Some((slot, _, ukey)) = parse_data_key(key) {
                let db = map
                    .iter()
                    .position(|&s| s == slot as usize)
                    .unwrap_or(slot as usize);
                self.watches.touch(db as u8, ukey, gone);
            }
        }
    }

    /// After the map changed: blocked clients of the swapped databases
    /// look again (a list may have arrived with the other database).
    pub(super) fn wake_swapped(&self, changed: &[Option<u8>; MAX_DBS]) {
        if !self.ready.active() {
            return;
        }
        for (db, new) in changed.iter().enumerate() {
            if new.is_some() {
                for k in self.ready.keys_in_db(db as u8) {
                    self.ready.touch(db as u8, &k);
                }
            }
        }
    }
}

impl WriteTx {
    /// The physical slot of logical `db`, as this transaction left it.
    pub(super) fn slot(&self, db: usize) -> usize {
        self.batch.new_slots[db].map_or_else(|| self.store.slot(db), usize::from)
    }

    /// SWAPDB: logical databases `a` and `b` exchange their slots.
    pub fn swap_dbs(&mut self, a: usize, b: usize) {
        let (sa, sb) = (self.slot(a) as u8, self.slot(b) as u8);
        for (db, s) in [(a, sb), (b, sa)] {
            let k = keys::slot_key(db as u8);
            let v = Bytes::copy_from_slice(&[s]);
            self.batch.new_slots[db] = Some(s);
            self.batch.effects.push(Effect::Put {
                key: k.clone(),
                value: v.clone(),
            });
            self.batch.overlay.insert(k, Some(v));
        }
    }
}
