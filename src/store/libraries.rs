//! Function libraries in the store: one `f | name` pair each, holding the
//! library's code (see `keys.rs`). What the code defines is the scripting
//! side's business (`scripting/functions.rs`).

use super::*;

impl Store {
    /// Every library as (name, code), in name order.
    pub fn libraries(&self) -> Vec<(Bytes, Bytes)> {
        let mut out = Vec::new();
        let mut from = Bytes::from_static(&[keys::FUNCTION]);
        loop {
            let after = !out.is_empty();
            let (pairs, more) = self.raw_range(&from, after, &[keys::FUNCTION + 1], 256);
            if let Some((k, _)) = pairs.last() {
                from = k.clone();
            }
            out.extend(pairs.into_iter().map(|(k, v)| (k.slice(1..), v)));
            if !more {
                return out;
            }
        }
    }

    /// See `functions_version` on [`Store`].
    pub fn functions_version(&self) -> u64 {
        self.functions_version.load(Ordering::Acquire)
    }

    pub(super) fn functions_changed(&self) {
        self.functions_version.fetch_add(1, Ordering::AcqRel);
    }
}

impl WriteTx {
    /// Every library as (name, code), seeing this transaction's writes.
    pub fn libraries(&mut self) -> Vec<(Bytes, Bytes)> {
        let mut out: Vec<(Bytes, Bytes)> = Vec::new();
        loop {
            let after = out.last().map(|(name, _)| name.clone());
            let (pairs, more) = self.sub_range(&[keys::FUNCTION], after.as_deref(), 256);
            out.extend(pairs);
            if !more {
                return out;
            }
        }
    }

    /// This transaction loaded or deleted a library (its libraries differ
    /// from the committed ones).
    pub fn changed_libraries(&self) -> bool {
        self.batch
            .overlay
            .keys()
            .any(|k| k.first() == Some(&keys::FUNCTION))
    }

    /// A library's code, seeing this transaction's writes.
    pub fn library(&mut self, name: &[u8]) -> Option<Bytes> {
        self.sub_get(&keys::library_key(name))
    }

    pub fn put_library(&mut self, name: &[u8], code: Bytes) {
        self.sub_put(keys::library_key(name), code);
    }

    pub fn del_library(&mut self, name: &[u8]) {
        self.sub_del(keys::library_key(name));
    }
}
