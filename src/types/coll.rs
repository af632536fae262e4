//! What the collection types (hash, set, sorted set, list) share: a
//! collection is a metadata entry (kind, version, length, deadline) plus
//! one store key per element under a prefix of (db, generation, key,
//! version), read through the open transaction when there is one.

use super::{random, Db};
use crate::store::keys::{sub_key, Kind, Meta};
use bytes::Bytes;

impl Db<'_> {
    /// The element key prefix of `key`'s version in `m`.
    pub(crate) fn prefix(&mut self, key: &[u8], m: &Meta) -> Vec<u8> {
        let (version, _) = m.coll();
        let db = self.db;
        if let Some(tx) = self.open_tx() {
            return tx.sub_prefix(db, key, version);
        }
        let (slot, gen) = self.store().loc(db);
        crate::store::keys::sub_prefix(slot, gen, key, version)
    }

    /// One element's value.
    pub(crate) fn elem(&mut self, prefix: &[u8], name: &[u8]) -> Option<Bytes> {
        let k = sub_key(prefix, name);
        match self.open_tx() {
            Some(tx) => tx.sub_get(&k),
            None => self.store().raw_get(&k),
        }
    }

    /// Up to about `count` elements after `after`, in element byte order;
    /// true if more follow.
    pub(crate) fn page(
        &mut self,
        prefix: &[u8],
        after: Option<&[u8]>,
        count: usize,
    ) -> (Vec<(Bytes, Bytes)>, bool) {
        match self.open_tx() {
            Some(tx) => tx.sub_range(prefix, after, count),
            None => self.store().sub_range(prefix, after, count),
        }
    }

    /// [`Db::page`] handing each (element, value) to `f` by reference (a
    /// reply is written from them without a copy); true if more follow.
    pub(crate) fn page_each(
        &mut self,
        prefix: &[u8],
        after: Option<&[u8]>,
        count: usize,
        mut f: impl FnMut(&[u8], &Bytes),
    ) -> bool {
        match self.open_tx() {
            Some(tx) => {
                let (got, more) = tx.sub_range(prefix, after, count);
                for (k, v) in &got {
                    f(k, v);
                }
                more
            }
            None => self.store().sub_range_each(prefix, after, count, f),
        }
    }

    /// Every (element, value), in element byte order.
    pub(crate) fn all(&mut self, prefix: &[u8]) -> Vec<(Bytes, Bytes)> {
        let mut out = Vec::new();
        let mut after: Option<Bytes> = None;
        loop {
            let (page, more) = self.page(prefix, after.as_deref(), 1024);
            after = page.last().map(|(f, _)| f.clone());
            out.extend(page);
            if !more || after.is_none() {
                return out;
            }
        }
    }

    /// Writes the metadata for `len` elements, or deletes the key when
    /// empty (Redis deletes empty collections). Written on every change, so
    /// WATCH sees element updates too. `converted`: in Redis's big
    /// encoding for good (`types/encoding.rs`).
    pub(crate) fn put_meta(
        &mut self,
        kind: Kind,
        key: &[u8],
        version: u64,
        len: u64,
        expire_at: Option<i64>,
        converted: bool,
    ) {
        let db = self.db;
        if len == 0 {
            self.tx().delete(db, key);
        } else {
            let mut m = Meta::collection(kind, version, len, expire_at);
            m.converted = converted;
            self.tx().put(db, key, &m);
        }
    }

    /// A random element without reading the collection (see `random.rs`).
    pub(crate) fn random_elem(
        &mut self,
        prefix: &[u8],
        rng: &mut impl rand::Rng,
    ) -> Option<(Bytes, Bytes)> {
        let name = random::walk(&mut Elements { db: self, prefix }, rng)?;
        let v = self.elem(prefix, &name)?;
        Some((name, v))
    }

    /// Up to `count` distinct random elements: by random walks when few
    /// are wanted from a big collection, else by reading it all and
    /// shuffling.
    pub(crate) fn random_distinct(
        &mut self,
        prefix: &[u8],
        len: u64,
        count: u64,
    ) -> Vec<(Bytes, Bytes)> {
        use rand::seq::SliceRandom;
        let mut rng = rand::thread_rng();
        if count.saturating_mul(4) < len && count <= 1000 {
            let mut seen = std::collections::BTreeMap::new();
            // The walk favours some elements; give up on walks after a while.
            let mut tries = 0;
            while (seen.len() as u64) < count && tries < count * 20 {
                tries += 1;
                if let Some((k, v)) = self.random_elem(prefix, &mut rng) {
                    seen.entry(k).or_insert(v);
                }
            }
            if seen.len() as u64 == count {
                let mut v: Vec<(Bytes, Bytes)> = seen.into_iter().collect();
                v.shuffle(&mut rng);
                return v;
            }
        }
        let mut v = self.all(prefix);
        v.shuffle(&mut rng);
        v.truncate(count as usize);
        v
    }
}

/// A collection's element names, for [`random::walk`].
struct Elements<'c, 'a> {
    db: &'c mut Db<'a>,
    prefix: &'c [u8],
}

impl random::Ordered for Elements<'_, '_> {
    fn first_from(&mut self, probe: &[u8]) -> Option<Bytes> {
        if self.db.elem(self.prefix, probe).is_some() {
            return Some(Bytes::copy_from_slice(probe));
        }
        self.next_after(probe)
    }

    fn next_after(&mut self, name: &[u8]) -> Option<Bytes> {
        self.db
            .page(self.prefix, Some(name), 1)
            .0
            .into_iter()
            .next()
            .map(|(n, _)| n)
    }

    fn last_with(&mut self, name: &[u8]) -> Option<Bytes> {
        let start = [self.prefix, name].concat();
        let end = crate::util::prefix_end(&start)?;
        let (k, _) = match self.db.open_tx() {
            Some(tx) => tx.sub_last(&start, &end)?,
            None => self.db.store().raw_last(&start, &end)?,
        };
        Some(k.slice(self.prefix.len()..))
    }
}
