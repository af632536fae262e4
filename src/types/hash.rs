//! Hashes (the storage half of Redis's t_hash.c): a metadata entry
//! (version, field count) plus one store key per field, so a command
//! touches only the fields it names and its WAL record holds only those.

use super::{Db, TypeError};
use crate::store::keys::{sub_key, Kind, Meta};
use bytes::Bytes;

/// An open hash. Changes go into the transaction at once; the metadata
/// (the field count) is written by [`Hash::save`].
pub(crate) struct Hash {
    key: Bytes,
    prefix: Vec<u8>,
    version: u64,
    len: u64,
    expire_at: Option<i64>,
    changed: bool,
    /// Redis would hold it as a `hashtable` (`types/encoding.rs`).
    converted: bool,
}

impl Hash {
    fn of(db: &mut Db<'_>, key: &Bytes, m: &Meta) -> Hash {
        let (version, len) = m.coll();
        Hash {
            key: key.clone(),
            prefix: db.prefix(key, m),
            version,
            len,
            expire_at: m.expire_at,
            changed: false,
            converted: m.converted,
        }
    }

    /// The hash at `key`, for a read (None: no such key).
    pub(crate) fn open(db: &mut Db<'_>, key: &Bytes) -> Result<Option<Hash>, TypeError> {
        Ok(db.get_kind(Kind::Hash, key)?.map(|m| Hash::of(db, key, &m)))
    }

    /// The hash at `key` for a write, or a new empty one (stored only once
    /// it has a field).
    pub(crate) fn open_for_write(db: &mut Db<'_>, key: &Bytes) -> Result<Hash, TypeError> {
        let m = match db.get_kind_tx(Kind::Hash, key)? {
            Some(m) => m,
            None => {
                let version = db.tx().new_version();
                Meta::collection(Kind::Hash, version, 0, None)
            }
        };
        Ok(Hash::of(db, key, &m))
    }

    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// The prefix of its fields' keys (HSCAN, random picks).
    pub(crate) fn prefix(&self) -> &[u8] {
        &self.prefix
    }

    pub(crate) fn get(&self, db: &mut Db<'_>, field: &[u8]) -> Option<Bytes> {
        db.elem(&self.prefix, field)
    }

    /// Sets a field; true if it is new. A field or value over
    /// `hash-max-listpack-value` makes Redis convert to a hashtable, as a
    /// count over `hash-max-listpack-entries` does.
    pub(crate) fn set(&mut self, db: &mut Db<'_>, field: &[u8], value: Bytes) -> bool {
        let new = self.get(db, field).is_none();
        self.len += new as u64;
        if !self.converted {
            let lim = db.limits();
            self.converted = self.len > lim.hash_entries
                || field.len() as u64 > lim.hash_value
                || value.len() as u64 > lim.hash_value;
        }
        db.tx().sub_put(sub_key(&self.prefix, field), value);
        self.changed = true;
        new
    }

    /// Removes a field; true if it was there.
    pub(crate) fn remove(&mut self, db: &mut Db<'_>, field: &[u8]) -> bool {
        if self.get(db, field).is_none() {
            return false;
        }
        db.tx().sub_del(sub_key(&self.prefix, field));
        self.len = self.len.saturating_sub(1);
        self.changed = true;
        true
    }

    /// Every (field, value), in field byte order.
    pub(crate) fn all(&self, db: &mut Db<'_>) -> Vec<(Bytes, Bytes)> {
        db.all(&self.prefix)
    }

    /// Writes the metadata if a field changed (deletes the key when
    /// empty).
    pub(crate) fn save(&self, db: &mut Db<'_>) {
        if self.changed {
            db.put_meta(
                Kind::Hash,
                &self.key,
                self.version,
                self.len,
                self.expire_at,
                self.converted,
            );
        }
    }
}

/// Replaces `key` with a hash of `pairs`, whose fields are distinct
/// (RESTORE): written without looking for the fields first, as the
/// version is new. Deleted when empty; returns the field count. Its
/// encoding follows from its content, as a loaded value's does in Redis.
pub(crate) fn replace(db: &mut Db<'_>, key: &Bytes, pairs: Vec<(Bytes, Bytes)>) -> u64 {
    let d = db.db;
    db.tx().delete(d, key);
    let n = pairs.len() as u64;
    if n > 0 {
        let lim = db.limits();
        let long = |b: &Bytes| b.len() as u64 > lim.hash_value;
        let big = n > lim.hash_entries || pairs.iter().any(|(f, v)| long(f) || long(v));
        let version = db.tx().new_version();
        let m = Meta::collection(Kind::Hash, version, n, None);
        let prefix = db.prefix(key, &m);
        for (f, v) in pairs {
            db.tx().sub_put(sub_key(&prefix, &f), v);
        }
        db.put_meta(Kind::Hash, key, version, n, None, big);
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::testing::store;

    #[test]
    fn fields_are_set_counted_and_removed() {
        let (_d, store) = store();
        let key = Bytes::from_static(b"h");
        let mut tx = None;
        let mut db = Db::new(&store, &mut tx, 0, 0);
        let mut h = Hash::open_for_write(&mut db, &key).expect("hash");
        assert!(h.set(&mut db, b"a", Bytes::from_static(b"1")));
        assert!(h.set(&mut db, b"b", Bytes::from_static(b"2")));
        assert!(!h.set(&mut db, b"a", Bytes::from_static(b"3")), "not new");
        assert_eq!(h.len(), 2);
        h.save(&mut db);
        let h = Hash::open(&mut db, &key).expect("type").expect("exists");
        assert_eq!(h.len(), 2);
        assert_eq!(h.get(&mut db, b"a").as_deref(), Some(&b"3"[..]));
        let all: Vec<_> = h.all(&mut db).into_iter().map(|(f, _)| f).collect();
        assert_eq!(all, [&b"a"[..], &b"b"[..]]);
        let mut h = Hash::open_for_write(&mut db, &key).expect("hash");
        assert!(h.remove(&mut db, b"a"));
        assert!(!h.remove(&mut db, b"a"));
        assert!(h.remove(&mut db, b"b"));
        h.save(&mut db);
        assert!(
            Hash::open(&mut db, &key).expect("type").is_none(),
            "an empty hash is deleted"
        );
    }

    #[test]
    fn replace_writes_a_new_hash() {
        let (_d, store) = store();
        let key = Bytes::from_static(b"h");
        let mut tx = None;
        let mut db = Db::new(&store, &mut tx, 0, 0);
        let mut h = Hash::open_for_write(&mut db, &key).expect("hash");
        h.set(&mut db, b"old", Bytes::from_static(b"x"));
        h.save(&mut db);
        let pairs = vec![
            (Bytes::from_static(b"a"), Bytes::from_static(b"1")),
            (Bytes::from_static(b"b"), Bytes::from_static(b"2")),
        ];
        assert_eq!(replace(&mut db, &key, pairs), 2);
        let h = Hash::open(&mut db, &key).expect("type").expect("exists");
        assert_eq!(h.len(), 2);
        let fields: Vec<_> = h.all(&mut db).into_iter().map(|(f, _)| f).collect();
        assert_eq!(fields, [&b"a"[..], &b"b"[..]], "the old field is gone");
    }

    #[test]
    fn another_type_is_wrongtype() {
        let (_d, store) = store();
        let key = Bytes::from_static(b"s");
        let mut tx = None;
        let mut db = Db::new(&store, &mut tx, 0, 0);
        db.tx()
            .put(0, &key, &Meta::string(Bytes::from_static(b"v"), None));
        assert_eq!(Hash::open(&mut db, &key).err(), Some(TypeError::WrongType));
        assert_eq!(
            Hash::open_for_write(&mut db, &key).err(),
            Some(TypeError::WrongType)
        );
    }
}
