//! `sledis-dump snapshot FILE`: the header, then each key in Redis terms
//! (a hash as its fields, a list in order...), decoded from the physical
//! layout (`store/keys.rs`). Keys stream one at a time: memory is one
//! decoded block plus the largest key.

use super::{brief, jbytes, now_ms, show};
use crate::glob::glob_match;
use crate::snapshot::{Pair, SnapshotError, SnapshotReader};
use crate::store::keys::{self, parse_data_key, parse_library_key, sub_prefix, Kind, Meta};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::Write;

#[derive(Default, Clone)]
pub struct Filter {
    pub keys: Option<Vec<u8>>,
    pub db: Option<u8>,
    pub limit: Option<u64>,
}

impl Filter {
    fn wants(&self, db: u8, key: &[u8]) -> bool {
        self.db.is_none_or(|d| d == db)
            && self.keys.as_ref().is_none_or(|p| glob_match(p, key, false))
    }
}

/// One key of a snapshot, decoded.
pub(crate) struct Entry {
    pub db: u8,
    /// The physical slot it is stored in: the snapshot's order is (slot,
    /// key), which is (db, key) until a SWAPDB.
    pub(crate) slot: u8,
    pub(crate) key: Vec<u8>,
    pub(crate) meta: Meta,
    /// A collection's elements (field → value), in element order.
    pub(crate) elements: Vec<(Vec<u8>, Vec<u8>)>,
}

impl Entry {
    /// Bytes the key takes in the snapshot, before compression.
    pub(crate) fn size(&self) -> usize {
        self.key.len()
            + self.meta.payload.len()
            + self
                .elements
                .iter()
                .map(|(f, v)| f.len() + v.len())
                .sum::<usize>()
    }

    /// A string's bytes: its payload, or its chunks put together.
    pub(crate) fn string_bytes(&self) -> std::borrow::Cow<'_, [u8]> {
        if !self.meta.chunked {
            return std::borrow::Cow::Borrowed(&self.meta.payload);
        }
        let chunks = self.elements.iter().map(|(f, v)| (&f[..], &v[..]));
        std::borrow::Cow::Owned(crate::types::string::from_chunks(
            self.meta.coll().1,
            chunks,
        ))
    }

    pub(crate) fn type_name(&self) -> &'static str {
        self.meta.kind.name()
    }

    /// The value in Redis terms, as JSON.
    pub(crate) fn value_json(&self) -> Value {
        match self.meta.kind {
            Kind::String => jbytes(&self.string_bytes()),
            Kind::Hash => {
                if self
                    .elements
                    .iter()
                    .all(|(f, _)| std::str::from_utf8(f).is_ok())
                {
                    let m: serde_json::Map<String, Value> = self
                        .elements
                        .iter()
                        .map(|(f, v)| (String::from_utf8_lossy(f).into_owned(), jbytes(v)))
                        .collect();
                    Value::Object(m)
                } else {
                    Value::Array(
                        self.elements
                            .iter()
                            .map(|(f, v)| json!([jbytes(f), jbytes(v)]))
                            .collect(),
                    )
                }
            }
            Kind::Set => Value::Array(self.set_members().into_iter().map(jbytes).collect()),
            Kind::List => Value::Array(self.elements.iter().map(|(_, v)| jbytes(v)).collect()),
            Kind::ZSet => Value::Array(
                zset_members(&self.elements)
                    .into_iter()
                    .map(|(m, s)| json!([jbytes(&m), s]))
                    .collect(),
            ),
        }
    }

    /// Element count in Redis terms.
    pub(crate) fn len(&self) -> usize {
        match self.meta.kind {
            Kind::String => 1,
            Kind::ZSet => zset_members(&self.elements).len(),
            Kind::Set => self.set_members().len(),
            _ => self.elements.len(),
        }
    }

    /// A set's members (each is stored twice; see `types/set.rs`).
    fn set_members(&self) -> Vec<&[u8]> {
        crate::types::set::decode_members(&self.meta, &self.elements)
    }

    pub(crate) fn json(&self, now: i64) -> Value {
        let mut o = json!({
            "db": self.db,
            "key": jbytes(&self.key),
            "type": self.type_name(),
            "value": self.value_json(),
        });
        if let Some(t) = self.meta.expire_at {
            o["expire_at_ms"] = json!(t);
            o["ttl_ms"] = json!(t - now);
        }
        o
    }

    /// The text form: one line for the key, then one per element.
    pub(crate) fn write_text(&self, out: &mut impl Write, now: i64) -> std::io::Result<()> {
        let ttl = match self.meta.expire_at {
            Some(t) => format!(" ttl {:.3}s (expires at {t} ms)", (t - now) as f64 / 1000.0),
            None => String::new(),
        };
        match self.meta.kind {
            Kind::String => writeln!(
                out,
                "db{} {} string{ttl} {}",
                self.db,
                show(&self.key),
                show(&self.string_bytes())
            ),
            kind => {
                writeln!(
                    out,
                    "db{} {} {}{ttl} ({} elements)",
                    self.db,
                    show(&self.key),
                    kind.name(),
                    self.len()
                )?;
                match kind {
                    Kind::Hash => {
                        for (f, v) in &self.elements {
                            writeln!(out, "  {} => {}", show(f), show(v))?;
                        }
                    }
                    Kind::Set => {
                        for m in self.set_members() {
                            writeln!(out, "  {}", show(m))?;
                        }
                    }
                    Kind::List => {
                        for (i, (_, v)) in self.elements.iter().enumerate() {
                            writeln!(out, "  {i}) {}", show(v))?;
                        }
                    }
                    Kind::ZSet => {
                        for (m, s) in zset_members(&self.elements) {
                            writeln!(out, "  {} {}", crate::util::fmt_double(s), show(&m))?;
                        }
                    }
                    Kind::String => {}
                }
                Ok(())
            }
        }
    }
}

/// A sorted set's (member, score) pairs in score order, from its elements
/// (see `types/zset.rs` for the layout).
pub(crate) fn zset_members(elements: &[(Vec<u8>, Vec<u8>)]) -> Vec<(Vec<u8>, f64)> {
    crate::types::zset::decode_elements(elements)
}

/// Reads a collection's elements by seeking; the last decoded block is kept,
/// since neighbouring keys' elements often share it.
struct Blocks<'r> {
    reader: &'r SnapshotReader,
    cached: Option<(usize, Vec<Pair>)>,
}

impl Blocks<'_> {
    fn block(&mut self, i: usize) -> Result<&Vec<Pair>, SnapshotError> {
        if self.cached.as_ref().is_none_or(|(c, _)| *c != i) {
            self.cached = Some((i, self.reader.read_block(i)?));
        }
        match &self.cached {
            Some((_, p)) => Ok(p),
            None => unreachable!("cached above"),
        }
    }

    fn elements(&mut self, prefix: &[u8]) -> Result<Vec<Pair>, SnapshotError> {
        let mut out = Vec::new();
        let mut i = self.reader.find_block(prefix).unwrap_or(0);
        while i < self.reader.block_count() {
            let pairs = self.block(i)?;
            let start = pairs.partition_point(|p| p.0.as_slice() < prefix);
            for (k, v) in &pairs[start..] {
                if !k.starts_with(prefix) {
                    return Ok(out);
                }
                out.push((k[prefix.len()..].to_vec(), v.clone()));
            }
            i += 1;
        }
        Ok(out)
    }
}

/// The keys of a snapshot that pass a filter, in (slot, key) order: the
/// order of (db, key) until a SWAPDB moved databases to other slots.
pub(crate) struct Keys<'r> {
    iter: crate::snapshot::SnapshotIter<'r>,
    blocks: Blocks<'r>,
    filter: Filter,
    done: bool,
    /// The logical database of each physical slot, from the snapshot's
    /// slot map (`! m` entries, before every key).
    db_of: [u8; crate::store::MAX_DBS],
}

impl<'r> Keys<'r> {
    pub(crate) fn new(reader: &'r SnapshotReader, filter: &Filter) -> Keys<'r> {
        Keys {
            iter: reader.iter(),
            blocks: Blocks {
                reader,
                cached: None,
            },
            filter: filter.clone(),
            done: false,
            db_of: std::array::from_fn(|s| s as u8),
        }
    }
}

impl Iterator for Keys<'_> {
    type Item = Result<Entry, SnapshotError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            let (k, v) = match self.iter.next()? {
                Ok(p) => p,
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            };
            match k.first() {
                Some(&keys::FUNCTION) => continue,
                Some(b'!') => {
                    // The map is a permutation: db → slot read here gives
                    // slot → db.
                    if let (Some(db), [s]) = (crate::store::keys::parse_slot_key(&k), &v[..]) {
                        if let Some(x) = self.db_of.get_mut(*s as usize) {
                            *x = db;
                        }
                    }
                    continue;
                }
                Some(b'k') => {}
                // Elements sort after every metadata entry: done.
                _ => {
                    self.done = true;
                    return None;
                }
            }
            let Some((slot, gen, key)) = parse_data_key(&k) else {
                continue;
            };
            let db = self.db_of.get(slot as usize).copied().unwrap_or(slot);
            if !self.filter.wants(db, key) {
                continue;
            }
            let Some(meta) = Meta::decode(&bytes::Bytes::from(v)) else {
                continue;
            };
            let elements = if meta.has_elements() {
                match self
                    .blocks
                    .elements(&sub_prefix(slot, gen, key, meta.coll().0))
                {
                    Ok(e) => e,
                    Err(e) => {
                        self.done = true;
                        return Some(Err(e));
                    }
                }
            } else {
                Vec::new()
            };
            return Some(Ok(Entry {
                db,
                slot,
                key: key.to_vec(),
                meta,
                elements,
            }));
        }
        None
    }
}

/// The function libraries a snapshot holds, as (name, code).
pub(crate) fn libraries(reader: &SnapshotReader) -> Result<Vec<Pair>, SnapshotError> {
    let mut out = Vec::new();
    for p in reader.iter() {
        let (k, v) = p?;
        match k.first() {
            Some(b'!') => {}
            Some(&keys::FUNCTION) => {
                if let Some(name) = parse_library_key(&k) {
                    out.push((name.to_vec(), v));
                }
            }
            _ => break,
        }
    }
    Ok(out)
}

/// Calls `f` with every key that passes `filter`, in (db, key) order.
/// Stops early when `f` returns false.
pub(crate) fn for_each_key(
    reader: &SnapshotReader,
    filter: &Filter,
    mut f: impl FnMut(Entry) -> bool,
) -> Result<(), SnapshotError> {
    for e in Keys::new(reader, filter) {
        if !f(e?) {
            break;
        }
    }
    Ok(())
}

pub(crate) fn header_text(r: &SnapshotReader) -> String {
    let h = r.header();
    format!(
        "# snapshot {}\n# format {}, replid {}, offsets {}..{}, created {} ({} ms), compression {:?}\n# {} pairs in {} blocks, {} bytes ({} raw)",
        r.path().display(),
        h.version,
        h.replid,
        h.start_offset,
        h.end_offset,
        utc(h.created_at_ms as i64),
        h.created_at_ms,
        h.compression,
        r.key_count(),
        r.block_count(),
        r.file_len(),
        r.raw_bytes()
    )
}

/// `ms` since the epoch as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub(crate) fn utc(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        ms.rem_euclid(1000)
    )
}

/// `--stats`: keys per type and database, sizes, the largest keys.
#[derive(Default)]
pub(crate) struct Stats {
    pub(crate) per_db: BTreeMap<u8, BTreeMap<&'static str, u64>>,
    pub keys: u64,
    pub(crate) expiring: u64,
    /// (size, db, key, type), the 10 largest.
    pub(crate) largest: Vec<(usize, u8, Vec<u8>, &'static str)>,
}

impl Stats {
    pub(crate) fn add(&mut self, e: &Entry) {
        self.keys += 1;
        self.expiring += e.meta.expire_at.is_some() as u64;
        *self
            .per_db
            .entry(e.db)
            .or_default()
            .entry(e.type_name())
            .or_default() += 1;
        let size = e.size();
        if self.largest.len() < 10 || size > self.largest.last().map_or(0, |l| l.0) {
            self.largest
                .push((size, e.db, e.key.clone(), e.type_name()));
            self.largest.sort_by_key(|l| std::cmp::Reverse(l.0));
            self.largest.truncate(10);
        }
    }

    pub(crate) fn json(&self, r: &SnapshotReader) -> Value {
        json!({
            "keys": self.keys,
            "expiring": self.expiring,
            "per_db": self.per_db.iter().map(|(db, t)| (format!("db{db}"), json!(t))).collect::<serde_json::Map<_, _>>(),
            "file_bytes": r.file_len(),
            "raw_bytes": r.raw_bytes(),
            "compression_ratio": ratio(r),
            "largest": self.largest.iter().map(|(s, db, k, t)| json!({"db": db, "key": jbytes(k), "type": t, "bytes": s})).collect::<Vec<_>>(),
        })
    }

    pub(crate) fn write_text(
        &self,
        out: &mut impl Write,
        r: &SnapshotReader,
    ) -> std::io::Result<()> {
        writeln!(out, "keys: {} ({} with a TTL)", self.keys, self.expiring)?;
        for (db, types) in &self.per_db {
            let t: Vec<String> = types.iter().map(|(k, n)| format!("{k}={n}")).collect();
            writeln!(out, "db{db}: {}", t.join(" "))?;
        }
        writeln!(
            out,
            "bytes: {} in the file, {} raw, compression ratio {:.2}",
            r.file_len(),
            r.raw_bytes(),
            ratio(r)
        )?;
        writeln!(out, "largest keys:")?;
        for (s, db, k, t) in &self.largest {
            writeln!(out, "  db{db} {} {t} {s} bytes", brief(k, 60))?;
        }
        Ok(())
    }
}

fn ratio(r: &SnapshotReader) -> f64 {
    if r.file_len() == 0 {
        0.0
    } else {
        r.raw_bytes() as f64 / r.file_len() as f64
    }
}

/// The subcommand: header + keys (text), keys (JSON lines), or stats.
pub fn run(
    path: &std::path::Path,
    filter: &Filter,
    json_out: bool,
    stats: bool,
    out: &mut impl Write,
) -> Result<(), super::Error> {
    let r = SnapshotReader::open(path)?;
    let now = now_ms();
    if !json_out && !stats {
        writeln!(out, "{}", header_text(&r))?;
    }
    // Libraries are in no database: shown unless keys are filtered.
    if !stats && filter.keys.is_none() && filter.db.is_none() {
        for (name, code) in libraries(&r)? {
            if json_out {
                writeln!(
                    out,
                    "{}",
                    json!({"function_library": jbytes(&name), "code": jbytes(&code)})
                )?;
            } else {
                writeln!(
                    out,
                    "function library {} ({} bytes)",
                    show(&name),
                    code.len()
                )?;
                for line in String::from_utf8_lossy(&code).lines() {
                    writeln!(out, "  | {line}")?;
                }
            }
        }
    }
    let mut st = Stats::default();
    let mut shown = 0u64;
    let mut werr: Option<std::io::Error> = None;
    for_each_key(&r, filter, |e| {
        if filter.limit.is_some_and(|l| shown >= l) {
            return false;
        }
        shown += 1;
        let res = if stats {
            st.add(&e);
            Ok(())
        } else if json_out {
            writeln!(out, "{}", e.json(now))
        } else {
            e.write_text(out, now)
        };
        match res {
            Ok(()) => true,
            Err(err) => {
                werr = Some(err);
                false
            }
        }
    })?;
    if let Some(e) = werr {
        // A closed pipe (`| head`) is not an error worth reporting.
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            return Err(e.into());
        }
        return Ok(());
    }
    if stats {
        let res = if json_out {
            writeln!(out, "{}", st.json(&r))
        } else {
            writeln!(out, "{}", header_text(&r)).and_then(|_| st.write_text(out, &r))
        };
        res?;
    }
    Ok(())
}
