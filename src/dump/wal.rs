//! `sledis-dump wal DIR`: every record with its offset, length, crc status
//! and effects, shown in Redis terms (`PUT db0 "user:1" string ...`).

use super::{brief, jbytes, show, Error};

use crate::store::keys::{
    parse_data_key, parse_expiry_key, parse_gen_key, parse_sub_key, Kind, Meta, GARBAGE,
};
use crate::types::string::CHUNK;
use crate::types::{list, set, zset};
use crate::wal::reader::{list_segments, scan_segment, Segment, WalReader};
use crate::wal::record::{decode_frame, Decoded, Effect, Record};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::Path;

pub struct Options {
    pub from: Option<u64>,
    pub to: Option<u64>,
    pub json: bool,
    pub stats: bool,
    pub follow: bool,
}

/// The metadata a record writes, by (db, generation, key): an element is
/// shown in its type's terms when its key's metadata (same version) is in
/// the same record, as it is for every command that changes a collection.
type Metas = HashMap<(u8, u32, Vec<u8>), Meta>;

fn record_metas(r: &Record) -> Metas {
    let mut m = Metas::new();
    for e in &r.effects {
        if let Effect::Put { key, value } = e {
            if let Some((db, gen, k)) = parse_data_key(key) {
                if let Some(meta) = Meta::decode(&bytes::Bytes::copy_from_slice(value)) {
                    m.insert((db, gen, k.to_vec()), meta);
                }
            }
        }
    }
    m
}

/// One effect as a line: what changed, in Redis terms where possible.
fn effect_text(e: &Effect, effects: &[Effect], metas: &Metas) -> String {
    match e {
        Effect::Event { .. } | Effect::EventAt { .. } => event_text(e, effects),
        Effect::Put { key, value } => format!("PUT {}", describe(key, Some(value), metas)),
        Effect::Del { key } => format!("DEL {}", describe(key, None, metas)),
        Effect::ClearDb { db, gen } => format!("CLEARDB {db} (generation {gen})"),
        Effect::Message { .. } => message_text(e),
    }
}

/// A replicated PUBLISH: `PUBLISH "channel" "message"`.
fn message_text(e: &Effect) -> String {
    match e {
        Effect::Message {
            shard,
            channel,
            message,
        } => format!(
            "{} {} {}",
            if *shard { "SPUBLISH" } else { "PUBLISH" },
            show(channel),
            show(message)
        ),
        _ => String::new(),
    }
}

/// A logged keyspace event: `EVENT db0 set "k"`.
fn event_text(e: &Effect, effects: &[Effect]) -> String {
    match crate::notify::target(effects, e) {
        Some((ev, db, key)) => match crate::notify::event_name(ev) {
            Some(name) => format!("EVENT db{db} {name} {}", show(key)),
            None => format!("EVENT db{db} <unknown event {ev}> {}", show(key)),
        },
        None => format!("EVENT <no key: {e:?}>"),
    }
}

fn describe(key: &[u8], value: Option<&[u8]>, metas: &Metas) -> String {
    if let Some((db, gen, k)) = parse_data_key(key) {
        let Some(v) = value else {
            return format!("db{db} {} (generation {gen})", show(k));
        };
        return match Meta::decode(&bytes::Bytes::copy_from_slice(v)) {
            Some(m) => {
                let mut ttl = m
                    .expire_at
                    .map(|t| format!(" expire_at={t}"))
                    .unwrap_or_default();
                // The encoding flags (`types/encoding.rs`).
                if m.converted {
                    ttl.push_str(" converted");
                }
                if m.no_int {
                    ttl.push_str(" no-int");
                }
                if m.has_elements() {
                    let (version, len) = m.coll();
                    let chunked = if m.chunked { " in chunks" } else { "" };
                    format!(
                        "db{db} {} {}{chunked} len={len} version={version}{ttl}",
                        show(k),
                        m.kind.name()
                    )
                } else {
                    format!("db{db} {} string{ttl} {}", show(k), brief(&m.payload, 80))
                }
            }
            None => format!("db{db} {} <undecodable metadata {}>", show(k), brief(v, 40)),
        };
    }
    if let Some(s) = parse_sub_key(key) {
        let meta = metas
            .get(&(s.db, s.gen, s.key.to_vec()))
            .filter(|m| m.has_elements() && m.coll().0 == s.version);
        if let Some(m) = meta {
            let what = match m.kind {
                Kind::String => {
                    let i = <[u8; 8]>::try_from(s.field).map(u64::from_be_bytes);
                    let name = match i {
                        Ok(i) => format!("chunk {i} (bytes from {})", i * CHUNK as u64),
                        Err(_) => format!("chunk {}", show(s.field)),
                    };
                    match value.map(crate::types::string::chunk_parts) {
                        Some((lead, b)) => format!("{name} = at +{lead} {}", brief(b, 80)),
                        None => name,
                    }
                }
                Kind::Set => set::describe_field(m, s.field),
                Kind::ZSet => zset::describe_field(s.field, value),
                Kind::List => match value {
                    Some(v) => format!("{} = {}", list::describe_field(s.field), brief(v, 80)),
                    None => list::describe_field(s.field),
                },
                _ => match value {
                    Some(v) => format!("field {} = {}", show(s.field), brief(v, 80)),
                    None => format!("field {}", show(s.field)),
                },
            };
            return format!(
                "db{} {} {} v{} {what}",
                s.db,
                show(s.key),
                m.kind.name(),
                s.version
            );
        }
        let v = value
            .map(|v| format!(" = {}", brief(v, 80)))
            .unwrap_or_default();
        return format!(
            "db{} {} element v{} {}{v}",
            s.db,
            show(s.key),
            s.version,
            show(s.field)
        );
    }
    if let Some(db) = parse_gen_key(key) {
        return format!("generation of db{db}");
    }
    if let Some(name) = crate::store::keys::parse_library_key(key) {
        let code = value
            .map(|v| format!(" ({} bytes) {}", v.len(), brief(v, 80)))
            .unwrap_or_default();
        return format!("function library {}{code}", show(name));
    }
    if let Some(db) = crate::store::keys::parse_slot_key(key) {
        let to = value
            .and_then(|v| v.first())
            .map_or_else(|| "?".to_string(), |s| s.to_string());
        return format!("SWAPDB: db{db} now in slot {to} (keys below name slots)");
    }
    if let Some((t, db, gen, k)) = parse_expiry_key(key) {
        return format!("expiry index db{db} {} at {t} (generation {gen})", show(k));
    }
    if let Some(s) = key
        .strip_prefix(&[crate::store::keys::STAGING])
        .and_then(parse_sub_key)
    {
        return format!(
            "staged: db{} {} elements of version {} go ahead of the record that names them (generation {})",
            s.db,
            show(s.key),
            s.version,
            s.gen
        );
    }
    if let Some(s) = key.strip_prefix(&[GARBAGE]).and_then(parse_sub_key) {
        return format!(
            "garbage: db{} {} elements of version {} (generation {})",
            s.db,
            show(s.key),
            s.version,
            s.gen
        );
    }
    format!("raw {}", brief(key, 80))
}

fn effect_json(e: &Effect, effects: &[Effect], metas: &Metas) -> Value {
    match e {
        Effect::Event { .. } | Effect::EventAt { .. } => {
            json!({"op": "event", "text": event_text(e, effects)})
        }
        Effect::Put { key, value } => {
            json!({"op": "put", "text": describe(key, Some(value), metas), "key": jbytes(key), "value": jbytes(value)})
        }
        Effect::Del { key } => {
            json!({"op": "del", "text": describe(key, None, metas), "key": jbytes(key)})
        }
        Effect::ClearDb { db, gen } => json!({"op": "cleardb", "db": db, "gen": gen}),
        Effect::Message {
            shard,
            channel,
            message,
        } => {
            json!({"op": if *shard { "spublish" } else { "publish" }, "text": message_text(e), "channel": jbytes(channel), "message": jbytes(message)})
        }
    }
}

#[derive(Default)]
struct Stats {
    records: u64,
    bytes: u64,
    effects: BTreeMap<&'static str, u64>,
    /// (start, end of good records, records, damage) per segment.
    segments: Vec<(String, u64, u64, u64, Option<String>)>,
}

fn kind(e: &Effect) -> &'static str {
    match e {
        Effect::Put { .. } => "put",
        Effect::Del { .. } => "del",
        Effect::ClearDb { .. } => "cleardb",
        Effect::Event { .. } | Effect::EventAt { .. } => "event",
        Effect::Message { shard: false, .. } => "publish",
        Effect::Message { shard: true, .. } => "spublish",
    }
}

/// Records of one segment in [from, to), in order; damage ends the scan
/// of the segment and is reported.
pub fn run(dir: &Path, o: &Options, out: &mut impl Write) -> Result<bool, Error> {
    let segs = list_segments(dir).map_err(|e| Error::Read(dir.to_path_buf(), e))?;
    if segs.is_empty() {
        return Err(Error::Not(
            dir.to_path_buf(),
            "no WAL segments (*.wal) here".into(),
        ));
    }
    let mut st = Stats::default();
    let mut intact = true;
    let mut werr: Option<std::io::Error> = None;
    for seg in &segs {
        if o.from.is_some_and(|f| seg.end() <= f) || o.to.is_some_and(|t| seg.start >= t) {
            continue;
        }
        let mut prev = seg.start;
        let scan = scan_segment(seg, |r: &Record, end: u64| {
            let start = prev;
            prev = end;
            if werr.is_some()
                || o.from.is_some_and(|f| start < f)
                || o.to.is_some_and(|t| start >= t)
            {
                return;
            }
            st.records += 1;
            st.bytes += end - start;
            for e in &r.effects {
                *st.effects.entry(kind(e)).or_default() += 1;
            }
            if o.stats {
                return;
            }
            if let Err(e) = print_record(out, r, start, end, o.json) {
                werr = Some(e);
            }
        })
        .map_err(|e| Error::Read(seg.path.clone(), e))?;
        if let Some(e) = werr {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                return Ok(intact);
            }
            return Err(Error::Output(e));
        }
        let damage = scan.damage.as_ref().map(|d| damage_text(seg, d));
        if let Some(d) = &damage {
            intact = false;
            if !o.stats {
                if o.json {
                    let _ = writeln!(
                        out,
                        "{}",
                        json!({"segment": seg.path.display().to_string(), "damage": d})
                    );
                } else {
                    let _ = writeln!(out, "!! {d}");
                }
            }
        }
        st.segments.push((
            seg.path.display().to_string(),
            seg.start,
            scan.valid_end,
            scan.records,
            damage,
        ));
    }
    if o.follow && intact {
        let pos = st.segments.last().map_or(0, |s| s.2);
        follow(dir, pos, o.json, out)?;
    }
    if o.stats {
        let res = if o.json {
            writeln!(
                out,
                "{}",
                json!({
                    "records": st.records,
                    "bytes": st.bytes,
                    "effects": st.effects,
                    "segments": st.segments.iter().map(|(p, s, e, n, d)| json!({"path": p, "start": s, "end": e, "records": n, "damage": d})).collect::<Vec<_>>(),
                })
            )
        } else {
            let mut res = writeln!(out, "records: {}, bytes: {}", st.records, st.bytes);
            let eff: Vec<String> = st.effects.iter().map(|(k, n)| format!("{k}={n}")).collect();
            res = res.and_then(|_| writeln!(out, "effects: {}", eff.join(" ")));
            for (p, s, e, n, d) in &st.segments {
                res = res.and_then(|_| {
                    writeln!(
                        out,
                        "segment {p}: offsets {s}..{e}, {n} records{}",
                        d.as_ref().map(|d| format!(", {d}")).unwrap_or_default()
                    )
                });
            }
            res
        };
        res.map_err(Error::Output)?;
    }
    Ok(intact)
}

fn print_record(
    out: &mut impl Write,
    r: &Record,
    start: u64,
    end: u64,
    json_out: bool,
) -> std::io::Result<()> {
    let metas = record_metas(r);
    if json_out {
        let effects: Vec<Value> = r
            .effects
            .iter()
            .map(|e| effect_json(e, &r.effects, &metas))
            .collect();
        return writeln!(
            out,
            "{}",
            json!({"offset": start, "end": end, "length": end - start, "crc": "ok", "effects": effects})
        );
    }
    writeln!(
        out,
        "@{start} len={} crc=ok effects={}",
        end - start,
        r.effects.len()
    )?;
    for e in &r.effects {
        writeln!(out, "  {}", effect_text(e, &r.effects, &metas))?;
    }
    Ok(())
}

/// `--follow`: after the records present, the ones appended later, as the
/// node writes them (like `tail -f`), until interrupted or the WAL is
/// damaged or cut under us.
pub(crate) fn follow(
    dir: &Path,
    mut pos: u64,
    json_out: bool,
    out: &mut impl Write,
) -> Result<(), Error> {
    let mut rd = WalReader::new(dir, pos);
    let mut buf: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = rd.read(&mut chunk, u64::MAX).map_err(Error::Follow)?;
        if n == 0 {
            out.flush().map_err(Error::Output)?;
            std::thread::sleep(std::time::Duration::from_millis(100));
            continue;
        }
        buf.extend_from_slice(&chunk[..n]);
        loop {
            match decode_frame(&buf, pos) {
                Decoded::Record(r, used) => {
                    let end = pos + used as u64;
                    if let Err(e) = print_record(out, &r, pos, end, json_out) {
                        if e.kind() == std::io::ErrorKind::BrokenPipe {
                            return Ok(());
                        }
                        return Err(Error::Output(e));
                    }
                    pos = end;
                    buf.drain(..used);
                }
                Decoded::Incomplete { .. } => break,
                Decoded::Corrupt(m) => {
                    return Err(Error::Corrupt {
                        offset: pos,
                        what: m,
                    })
                }
            }
        }
    }
}

pub(crate) fn damage_text(seg: &Segment, d: &crate::wal::reader::ScanDamage) -> String {
    format!(
        "{}: {} at offset {} (byte {} of the file; {} bytes from there{})",
        seg.path.display(),
        d.message,
        d.offset,
        d.file_offset,
        d.bytes_after,
        if d.torn {
            ": a torn tail, recovery cuts it"
        } else {
            ": data follows, corruption in the middle"
        }
    )
}
