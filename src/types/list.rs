//! Lists (the storage half of Redis's t_list.c). A list is a metadata entry
//! (version, length, head index) plus one store key per item, named by its
//! index as a u64 BE: items are `head .. head + len`, so LINDEX and LSET are
//! one lookup, LRANGE one seek, and pushes/pops at either end touch one
//! item. Inserting or removing in the middle moves the items of the shorter
//! side.

use super::{Db, TypeError};
use crate::store::keys::{sub_key, Kind, Meta, LIST_MIDDLE};
use bytes::Bytes;

/// One item as the dump tool shows a WAL effect on it: its slot, counted
/// from where the list's first push went (negative: pushed on the left).
pub(crate) fn describe_field(field: &[u8]) -> String {
    match <[u8; 8]>::try_from(field) {
        Ok(b) => format!(
            "item slot {}",
            u64::from_be_bytes(b).wrapping_sub(LIST_MIDDLE) as i64
        ),
        Err(_) => format!("element {}", crate::util::show(field)),
    }
}

/// Redis's index rules: negative counts from the end; the result may still
/// be out of range.
fn resolve(i: i64, len: u64) -> i64 {
    if i < 0 {
        (len as i64).saturating_add(i)
    } else {
        i
    }
}

/// An open list: where its items live and which indices they use. Changes
/// go into the transaction at once; the metadata is written by
/// [`List::save`] (the operations that change the list call it).
pub(crate) struct List {
    key: Bytes,
    version: u64,
    len: u64,
    head: u64,
    expire_at: Option<i64>,
    prefix: Vec<u8>,
}

impl List {
    fn of(db: &mut Db<'_>, key: &Bytes, m: &Meta) -> List {
        let (version, len) = m.coll();
        List {
            key: key.clone(),
            version,
            len,
            head: m.list_head(),
            expire_at: m.expire_at,
            prefix: db.prefix(key, m),
        }
    }

    /// A new, empty list at `key` (stored only once it has an item).
    fn create(db: &mut Db<'_>, key: &Bytes) -> List {
        let version = db.tx().new_version();
        let m = Meta::list(version, 0, LIST_MIDDLE, None);
        List::of(db, key, &m)
    }

    /// The list at `key`, for a read (None: no such key).
    pub(crate) fn open(db: &mut Db<'_>, key: &Bytes) -> Result<Option<List>, TypeError> {
        Ok(db.get_kind(Kind::List, key)?.map(|m| List::of(db, key, &m)))
    }

    /// The list at `key`, for a write (None: no such key).
    pub(crate) fn open_tx(db: &mut Db<'_>, key: &Bytes) -> Result<Option<List>, TypeError> {
        Ok(db
            .get_kind_tx(Kind::List, key)?
            .map(|m| List::of(db, key, &m)))
    }

    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    fn key_of(&self, i: u64) -> Bytes {
        sub_key(&self.prefix, &(self.head.wrapping_add(i)).to_be_bytes())
    }

    /// The item at `i`, a Redis index (negative from the end), if in range.
    pub(crate) fn index(&self, i: i64) -> Option<u64> {
        let i = resolve(i, self.len);
        (i >= 0 && (i as u64) < self.len).then_some(i as u64)
    }

    /// LRANGE's `start..=stop` (Redis indices) as (first, count), clamped
    /// to the list; None if empty.
    pub(crate) fn span(&self, start: i64, stop: i64) -> Option<(u64, u64)> {
        let start = resolve(start, self.len).max(0);
        let stop = resolve(stop, self.len).min(self.len as i64 - 1);
        if start > stop || start as u64 >= self.len {
            return None;
        }
        Some((start as u64, (stop - start + 1) as u64))
    }

    /// The item at position `i` (0-based from the head).
    pub(crate) fn get(&self, db: &mut Db<'_>, i: u64) -> Option<Bytes> {
        db.elem(&self.prefix, &(self.head.wrapping_add(i)).to_be_bytes())
    }

    /// Items `start .. start + count` (clamped to the list), in order: one
    /// seek, then a scan.
    pub(crate) fn range(&self, db: &mut Db<'_>, start: u64, count: u64) -> Vec<Bytes> {
        let mut out = Vec::new();
        self.each(db, start, count, |v| out.push(v.clone()));
        out
    }

    /// Calls `f` with the values at positions `start..start + count` in
    /// order, by reference (a reply is written from them without a copy);
    /// returns how many there were.
    pub(crate) fn each(
        &self,
        db: &mut Db<'_>,
        start: u64,
        count: u64,
        mut f: impl FnMut(&Bytes),
    ) -> usize {
        let end = start.saturating_add(count).min(self.len);
        if start >= end {
            return 0;
        }
        let want = (end - start) as usize;
        let mut n = 0;
        let first = self.head.wrapping_add(start);
        let mut after: Option<[u8; 8]> = first.checked_sub(1).map(u64::to_be_bytes);
        while n < want {
            let page = (want - n).clamp(16, 4096);
            // The page's last field: None if it had none, Some(None) if that
            // one is not an index (then stop rather than read it again).
            let mut last: Option<Option<[u8; 8]>> = None;
            let more = db.page_each(
                &self.prefix,
                after.as_ref().map(|a| &a[..]),
                page,
                |field, v| {
                    let b = <[u8; 8]>::try_from(field).ok();
                    last = Some(b);
                    let Some(b) = b else { return };
                    let i = u64::from_be_bytes(b).wrapping_sub(self.head);
                    if i >= start && i < end && n < want {
                        f(v);
                        n += 1;
                    }
                },
            );
            let Some(Some(b)) = last else {
                break;
            };
            if !more || u64::from_be_bytes(b).wrapping_sub(self.head) >= end.saturating_sub(1) {
                break;
            }
            after = Some(b);
        }
        n
    }

    /// Writes the metadata, or deletes the key once the list is empty.
    pub(crate) fn save(&self, db: &mut Db<'_>) {
        let d = db.db;
        if self.len == 0 {
            db.tx().delete(d, &self.key);
        } else {
            let m = Meta::list(self.version, self.len, self.head, self.expire_at);
            db.tx().put(d, &self.key, &m);
        }
    }

    /// Removes up to `n` items from one end, in pop order.
    pub(crate) fn pop(&mut self, db: &mut Db<'_>, left: bool, n: u64) -> Vec<Bytes> {
        let n = n.min(self.len);
        let start = if left { 0 } else { self.len - n };
        // A few items are point lookups; a range read costs more than that.
        let mut got = if n <= 8 {
            (start..start + n).filter_map(|i| self.get(db, i)).collect()
        } else {
            self.range(db, start, n)
        };
        for i in start..start + n {
            let k = self.key_of(i);
            db.tx().sub_del(k);
        }
        if left {
            self.head = self.head.wrapping_add(n);
        } else {
            got.reverse();
        }
        self.len -= n;
        self.save(db);
        got
    }

    /// Adds `values` at one end.
    fn push(&mut self, db: &mut Db<'_>, values: &[Bytes], left: bool) {
        for v in values {
            if left {
                self.head = self.head.wrapping_sub(1);
                let k = self.key_of(0);
                db.tx().sub_put(k, v.clone());
            } else {
                let k = self.key_of(self.len);
                db.tx().sub_put(k, v.clone());
            }
            self.len += 1;
        }
        self.save(db);
    }

    /// LSET: replaces the item at position `i` (in range).
    pub(crate) fn set(&self, db: &mut Db<'_>, i: u64, value: Bytes) {
        let k = self.key_of(i);
        db.tx().sub_put(k, value);
        // The metadata is rewritten so WATCH sees the change.
        self.save(db);
    }

    /// Index of the first item equal to `pivot`, scanning from the head.
    fn find(&self, db: &mut Db<'_>, pivot: &[u8]) -> Option<u64> {
        let mut at = 0;
        while at < self.len {
            let chunk = self.range(db, at, 512);
            if chunk.is_empty() {
                return None;
            }
            if let Some(p) = chunk.iter().position(|v| v[..] == *pivot) {
                return Some(at + p as u64);
            }
            at += chunk.len() as u64;
        }
        None
    }

    /// LINSERT: puts `value` before or after the first `pivot`; the new
    /// length, or None if there is no such item.
    pub(crate) fn insert(
        &mut self,
        db: &mut Db<'_>,
        pivot: &[u8],
        after: bool,
        value: Bytes,
    ) -> Option<u64> {
        let p = self.find(db, pivot)?;
        // The new item goes to index q; the shorter side moves by one.
        let q = p + after as u64;
        if q <= self.len - q {
            let moved = self.range(db, 0, q);
            self.head = self.head.wrapping_sub(1);
            for (i, v) in moved.into_iter().enumerate() {
                let k = self.key_of(i as u64);
                db.tx().sub_put(k, v);
            }
        } else {
            let moved = self.range(db, q, self.len - q);
            for (i, v) in moved.into_iter().enumerate().rev() {
                let k = self.key_of(q + 1 + i as u64);
                db.tx().sub_put(k, v);
            }
        }
        let k = self.key_of(q);
        db.tx().sub_put(k, value);
        self.len += 1;
        self.save(db);
        Some(self.len)
    }

    /// LREM: removes up to |count| items equal to `value` (all if 0), from
    /// the tail if negative; how many went.
    pub(crate) fn remove(&mut self, db: &mut Db<'_>, count: i64, value: &[u8]) -> u64 {
        let old = self.range(db, 0, self.len);
        let limit = if count == 0 {
            u64::MAX
        } else {
            count.unsigned_abs()
        };
        let mut drop = vec![false; old.len()];
        let mut removed = 0u64;
        let order: Box<dyn Iterator<Item = usize>> = if count < 0 {
            Box::new((0..old.len()).rev())
        } else {
            Box::new(0..old.len())
        };
        for i in order {
            if removed == limit {
                break;
            }
            if old[i] == value {
                drop[i] = true;
                removed += 1;
            }
        }
        if removed > 0 {
            let kept: Vec<Bytes> = old
                .iter()
                .zip(&drop)
                .filter(|(_, d)| !**d)
                .map(|(v, _)| v.clone())
                .collect();
            self.rewrite(db, &old, kept);
        }
        removed
    }

    /// Replaces the whole list by `kept` (the old items minus some), moving
    /// the fewer items: either keep the head where it is, or the tail.
    fn rewrite(&mut self, db: &mut Db<'_>, old: &[Bytes], kept: Vec<Bytes>) {
        let n = old.len() as u64;
        let r = n - kept.len() as u64;
        let same_head = kept
            .iter()
            .enumerate()
            .filter(|(j, v)| old[*j] != **v)
            .count();
        let same_tail = kept
            .iter()
            .enumerate()
            .filter(|(j, v)| old[j + r as usize] != **v)
            .count();
        if same_head <= same_tail {
            for (j, v) in kept.iter().enumerate() {
                if old[j] != *v {
                    let k = self.key_of(j as u64);
                    db.tx().sub_put(k, v.clone());
                }
            }
            for i in n - r..n {
                let k = self.key_of(i);
                db.tx().sub_del(k);
            }
        } else {
            for i in 0..r {
                let k = self.key_of(i);
                db.tx().sub_del(k);
            }
            self.head = self.head.wrapping_add(r);
            for (j, v) in kept.iter().enumerate() {
                if old[j + r as usize] != *v {
                    let k = self.key_of(j as u64);
                    db.tx().sub_put(k, v.clone());
                }
            }
        }
        self.len = kept.len() as u64;
        self.save(db);
    }

    /// LTRIM: keeps the items `start..=stop` (Redis indices, clamped; none
    /// if the range is empty).
    pub(crate) fn trim(&mut self, db: &mut Db<'_>, start: i64, stop: i64) {
        let len = self.len as i64;
        let start = resolve(start, self.len).max(0);
        let stop = resolve(stop, self.len);
        let (keep_from, keep_to) = if start > stop || start >= len {
            (0, 0)
        } else {
            (start as u64, (stop.min(len - 1) + 1) as u64)
        };
        if keep_from == 0 && keep_to == self.len {
            return;
        }
        for i in (0..keep_from).chain(keep_to..self.len) {
            let k = self.key_of(i);
            db.tx().sub_del(k);
        }
        self.head = self.head.wrapping_add(keep_from);
        self.len = keep_to - keep_from;
        self.save(db);
    }

    /// LPOS: the positions of items equal to `value`, skipping the first
    /// |rank| - 1 matches, from the tail if `rank` is negative; at most
    /// `want`, looking at the first `maxlen` items (0: all).
    pub(crate) fn positions(
        &self,
        db: &mut Db<'_>,
        value: &[u8],
        rank: i64,
        want: u64,
        maxlen: u64,
    ) -> Vec<u64> {
        let mut skip = rank.unsigned_abs().saturating_sub(1);
        let scan = if maxlen == 0 {
            self.len
        } else {
            maxlen.min(self.len)
        };
        let mut found: Vec<u64> = Vec::new();
        let mut seen = 0u64;
        // Chunks from the head, or from the tail for a negative rank.
        while seen < scan && (found.len() as u64) < want {
            let n = (scan - seen).min(512);
            let start = if rank > 0 { seen } else { self.len - seen - n };
            let mut chunk: Vec<(u64, Bytes)> = self
                .range(db, start, n)
                .into_iter()
                .enumerate()
                .map(|(j, v)| (start + j as u64, v))
                .collect();
            if chunk.is_empty() {
                break;
            }
            if rank < 0 {
                chunk.reverse();
            }
            for (idx, v) in chunk {
                if v[..] == *value {
                    if skip > 0 {
                        skip -= 1;
                    } else if (found.len() as u64) < want {
                        found.push(idx);
                    }
                }
            }
            seen += n;
        }
        found
    }
}

/// LPUSH / RPUSH (and the X forms, `only_existing`): adds `values` at one
/// end, creating the list unless `only_existing`; the new length (0 when
/// nothing was done).
pub(crate) fn push(
    db: &mut Db<'_>,
    key: &Bytes,
    values: &[Bytes],
    left: bool,
    only_existing: bool,
) -> Result<u64, TypeError> {
    let mut l = match List::open_tx(db, key)? {
        Some(l) => l,
        None if only_existing => return Ok(0),
        None => List::create(db, key),
    };
    l.push(db, values, left);
    Ok(l.len)
}

/// Pops up to `n` items from `key`: None if there is no such key. Shared
/// by LPOP / RPOP and the blocking forms.
pub(crate) fn pop(
    db: &mut Db<'_>,
    key: &Bytes,
    left: bool,
    n: u64,
) -> Result<Option<Vec<Bytes>>, TypeError> {
    let Some(mut l) = List::open_tx(db, key)? else {
        return Ok(None);
    };
    Ok(Some(l.pop(db, left, n)))
}

/// Replaces `dst` with a list of `items`, in order (SORT ... STORE); an
/// empty `items` deletes `dst`. Nothing is written when `dst` was absent
/// and stays so.
pub(crate) fn replace(db: &mut Db<'_>, dst: &Bytes, items: &[Bytes]) {
    let d = db.db;
    db.tx().delete(d, dst);
    if !items.is_empty() {
        let mut l = List::create(db, dst);
        l.push(db, items, false);
    }
}

/// LMOVE: pops one item from `src` and pushes it onto `dst`; None if the
/// source is empty. The destination's type is checked before anything
/// moves.
pub(crate) fn move_one(
    db: &mut Db<'_>,
    src: &Bytes,
    dst: &Bytes,
    from_left: bool,
    to_left: bool,
) -> Result<Option<Bytes>, TypeError> {
    let Some(mut s) = List::open_tx(db, src)? else {
        return Ok(None);
    };
    List::open_tx(db, dst)?;
    let v = s.pop(db, from_left, 1);
    let Some(v) = v.into_iter().next() else {
        return Ok(None);
    };
    push(db, dst, std::slice::from_ref(&v), to_left, false)?;
    Ok(Some(v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::testing::{b, store};

    fn items(v: &[&str]) -> Vec<Bytes> {
        v.iter().map(|s| b(s)).collect()
    }

    /// The whole list at `key` (empty if absent).
    fn all(db: &mut Db<'_>, key: &Bytes) -> Vec<Bytes> {
        match List::open(db, key).expect("type") {
            Some(l) => l.range(db, 0, l.len()),
            None => Vec::new(),
        }
    }

    #[test]
    fn pushes_and_pops_at_both_ends() {
        let (_d, store) = store();
        let key = b("l");
        let mut tx = None;
        let mut db = Db::new(&store, &mut tx, 0, 0);
        assert_eq!(push(&mut db, &key, &items(&["a"]), false, true), Ok(0));
        assert!(
            List::open(&mut db, &key).expect("type").is_none(),
            "X forms create nothing"
        );
        assert_eq!(
            push(&mut db, &key, &items(&["c", "d"]), false, false),
            Ok(2)
        );
        assert_eq!(push(&mut db, &key, &items(&["b", "a"]), true, true), Ok(4));
        assert_eq!(all(&mut db, &key), items(&["a", "b", "c", "d"]));
        let l = List::open(&mut db, &key).expect("type").expect("list");
        assert_eq!(l.get(&mut db, 1), Some(b("b")));
        assert_eq!(l.index(-1), Some(3));
        assert_eq!(l.index(4), None);
        assert_eq!(l.index(-5), None);
        assert_eq!(l.span(1, -2), Some((1, 2)));
        assert_eq!(l.span(-100, 100), Some((0, 4)));
        assert_eq!(l.span(3, 1), None);
        assert_eq!(pop(&mut db, &key, true, 1), Ok(Some(items(&["a"]))));
        assert_eq!(pop(&mut db, &key, false, 2), Ok(Some(items(&["d", "c"]))));
        assert_eq!(pop(&mut db, &key, false, 5), Ok(Some(items(&["b"]))));
        assert_eq!(
            pop(&mut db, &key, true, 1),
            Ok(None),
            "an empty list is deleted"
        );
    }

    #[test]
    fn long_pops_read_a_range() {
        let (_d, store) = store();
        let key = b("l");
        let mut tx = None;
        let mut db = Db::new(&store, &mut tx, 0, 0);
        let v: Vec<Bytes> = (0..100).map(|i| b(&i.to_string())).collect();
        push(&mut db, &key, &v, false, false).expect("list");
        let got = pop(&mut db, &key, true, 40).expect("list").expect("items");
        assert_eq!(got[..], v[..40]);
        let mut got = pop(&mut db, &key, false, 40).expect("list").expect("items");
        got.reverse();
        assert_eq!(got[..], v[60..]);
        assert_eq!(all(&mut db, &key)[..], v[40..60]);
    }

    #[test]
    fn inserts_removes_and_trims() {
        let (_d, store) = store();
        let key = b("l");
        let mut tx = None;
        let mut db = Db::new(&store, &mut tx, 0, 0);
        push(
            &mut db,
            &key,
            &items(&["a", "x", "b", "x", "c", "x"]),
            false,
            false,
        )
        .expect("list");
        let mut l = List::open_tx(&mut db, &key).expect("type").expect("list");
        assert_eq!(l.insert(&mut db, b"b", false, b("B")), Some(7));
        assert_eq!(l.insert(&mut db, b"c", true, b("C")), Some(8));
        assert_eq!(l.insert(&mut db, b"nosuch", true, b("z")), None);
        assert_eq!(
            all(&mut db, &key),
            items(&["a", "x", "B", "b", "x", "c", "C", "x"])
        );
        let l = List::open(&mut db, &key).expect("type").expect("list");
        assert_eq!(l.positions(&mut db, b"x", 1, 1, 0), [1]);
        assert_eq!(l.positions(&mut db, b"x", 2, u64::MAX, 0), [4, 7]);
        assert_eq!(l.positions(&mut db, b"x", -1, 2, 0), [7, 4]);
        assert_eq!(l.positions(&mut db, b"x", 1, u64::MAX, 3), [1]);
        let mut l = List::open_tx(&mut db, &key).expect("type").expect("list");
        assert_eq!(l.remove(&mut db, -2, b"x"), 2);
        assert_eq!(all(&mut db, &key), items(&["a", "x", "B", "b", "c", "C"]));
        let mut l = List::open_tx(&mut db, &key).expect("type").expect("list");
        l.set(&mut db, 0, b("A"));
        l.trim(&mut db, 1, -2);
        assert_eq!(all(&mut db, &key), items(&["x", "B", "b", "c"]));
        let mut l = List::open_tx(&mut db, &key).expect("type").expect("list");
        assert_eq!(l.remove(&mut db, 0, b"nosuch"), 0);
        l.trim(&mut db, 5, 10);
        assert!(
            List::open(&mut db, &key).expect("type").is_none(),
            "trimmed away"
        );
    }

    #[test]
    fn moves_between_lists() {
        let (_d, store) = store();
        let (src, dst) = (b("src"), b("dst"));
        let mut tx = None;
        let mut db = Db::new(&store, &mut tx, 0, 0);
        push(&mut db, &src, &items(&["a", "b"]), false, false).expect("list");
        assert_eq!(move_one(&mut db, &src, &dst, false, true), Ok(Some(b("b"))));
        assert_eq!(move_one(&mut db, &src, &src, true, false), Ok(Some(b("a"))));
        assert_eq!(move_one(&mut db, &src, &dst, true, false), Ok(Some(b("a"))));
        assert_eq!(move_one(&mut db, &src, &dst, true, false), Ok(None));
        assert_eq!(all(&mut db, &dst), items(&["b", "a"]));
    }

    #[test]
    fn another_type_is_wrongtype() {
        let (_d, store) = store();
        let (key, list) = (b("s"), b("l"));
        let mut tx = None;
        let mut db = Db::new(&store, &mut tx, 0, 0);
        db.tx().put(0, &key, &Meta::string(b("v"), None));
        push(&mut db, &list, &items(&["a"]), false, false).expect("list");
        let wrong = Some(TypeError::WrongType);
        assert_eq!(List::open(&mut db, &key).err(), wrong);
        assert_eq!(List::open_tx(&mut db, &key).err(), wrong);
        assert_eq!(
            push(&mut db, &key, &items(&["a"]), true, false).err(),
            wrong
        );
        assert_eq!(pop(&mut db, &key, true, 1).err(), wrong);
        assert_eq!(move_one(&mut db, &list, &key, true, true).err(), wrong);
        assert_eq!(all(&mut db, &list), items(&["a"]), "nothing moved");
    }
}
