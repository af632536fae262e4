use super::*;

impl Store {
    /// Opens sled and the WAL and replays what sled had not applied yet.
    pub fn open(opts: StoreOptions) -> Result<Arc<Store>, Error> {
        std::fs::create_dir_all(&opts.dir)
            .map_err(|e| Error::System(format!("cannot create {}: {e}", opts.dir.display())))?;
        let sled_path = opts.dir.join("sled");
        let engine = Engine::open(&sled_path, opts.budget.engine_cache).map_err(|e| {
            Error::Engine(format!(
                "{e}. The data can be rebuilt from the newest snapshot plus the WAL: \
                 start again with --rebuild-from-snapshot"
            ))
        })?;
        engine.set_cache_limit(opts.budget.read_cache);
        // A full sync that died half-loaded left a mix of old and new data:
        // drop it all, and forget our history id so the master sends a full
        // sync again.
        if engine.meta_get(LOADING_KEY)?.is_some() {
            tracing::warn!("an interrupted full sync left incomplete data: dropping it; the next sync will be a full one");
            engine.clear()?;
            engine.meta_clear()?;
            engine.flush()?;
            let wal_dir = opts.dir.join("wal");
            if wal_dir.exists() {
                std::fs::remove_dir_all(&wal_dir)
                    .map_err(|e| Error::Wal(format!("{}: {e}", wal_dir.display())))?;
            }
        }
        let (mut applied, mut persisted) = read_state(&engine)?;
        let wal_dir = opts.dir.join("wal");
        let (wal, rec): (Arc<Wal>, Recovery) = Wal::open(
            &wal_dir,
            opts.fsync,
            opts.segment_size,
            opts.repair_wal,
            applied,
            |_, _| {},
        )
        .map_err(Error::wal)?;
        check_applied(applied, rec.first_offset, rec.end_offset)?;
        // A crash while a table went into sled: sled holds some unknown
        // part of it. Writing the table's records again brings sled to the
        // state at their end, which the mark's counts describe.
        if let Some(v) = engine.meta_get(APPLYING_KEY)? {
            if let Some((end, Some(c))) = KeyCounts::decode(&v) {
                if end > applied {
                    check_applied(end, rec.first_offset, rec.end_offset)?;
                    let t0 = Instant::now();
                    let n = reapply(&engine, &wal_dir, applied, end)?;
                    engine.meta_insert(APPLIED_KEY, &c.encode(end))?;
                    tracing::info!(
                        "sled: a table interrupted by the last stop was written again ({n} records, offsets \
                         {applied}..{end}) in {:?}",
                        t0.elapsed()
                    );
                    (applied, persisted) = (end, Some(c));
                }
            }
            engine.meta_remove(APPLYING_KEY)?;
            engine.flush()?;
        }
        let gens: [AtomicU32; MAX_DBS] = Default::default();
        for (db, g) in gens.iter().enumerate() {
            if let Some(v) = engine.get(&gen_key(db as u8))? {
                if let Ok(b) = <[u8; 4]>::try_from(v.as_ref()) {
                    g.store(u32::from_be_bytes(b), Ordering::Release);
                }
            }
        }
        let slots = Store::read_slots(&engine)?;
        let old_build = persisted.is_none();
        let kc = match persisted {
            Some(c) => c,
            None => {
                // Written by a build that did not persist counts: count
                // once, build the expiry index, and record both.
                let t0 = Instant::now();
                let c = survey(&engine, &gens)?;
                engine.meta_insert(APPLIED_KEY, &c.encode(applied))?;
                engine.flush()?;
                tracing::info!(
                    "sled: {} keys counted and the expiry index built in {:?} (once: the counts are kept from now on)",
                    c.keys.iter().sum::<i64>(),
                    t0.elapsed()
                );
                c
            }
        };
        let counts: [AtomicI64; MAX_DBS] = std::array::from_fn(|db| AtomicI64::new(kc.keys[db]));
        let expire_counts: [AtomicI64; MAX_DBS] =
            std::array::from_fn(|db| AtomicI64::new(kc.expires[db]));
        let store = Arc::new(Store {
            dir: opts.dir.clone(),
            databases: opts.databases.clamp(1, MAX_DBS),
            engine,
            tables: RwLock::new(Tables::new(applied)),
            ranges: Mutex::new(range_cache::RangeCache::default()),
            overlay: RwLock::new(None),
            loader: Mutex::new(None),
            load_abort: AtomicBool::new(false),
            incomplete: AtomicBool::new(false),
            writer: Arc::new(Mutex::new(())),
            wal,
            gens,
            slots,
            counts,
            expire_counts,
            budget: Mutex::new(opts.budget),
            table_bytes: AtomicUsize::new(opts.budget.table_bytes),
            expired_seen: Mutex::new(Vec::new()),
            notify: Default::default(),
            changes: Default::default(),
            encoding_limits: Default::default(),
            active_expire: AtomicBool::new(true),
            applier_wake: Condvar::new(),
            applier_lock: Mutex::new(false),
            stall_cv: Condvar::new(),
            stall_lock: Mutex::new(()),
            full: AtomicBool::new(false),
            room: tokio::sync::Notify::new(),
            apply_error: Mutex::new(None),
            gc_wake: Condvar::new(),
            gc_lock: Mutex::new(true),
            garbage_pending: AtomicI64::new(0),
            versions: AtomicU64::new(0),
            sweep_pending: AtomicBool::new(old_build),
            applied: AtomicU64::new(applied),
            apply_lock: Mutex::new(()),
            dirty: AtomicU64::new(0),
            follower: AtomicBool::new(false),
            watches: watch::Watches::default(),
            access: access::AccessTimes::new(crate::util::now_ms()),
            ready: ready::ReadyKeys::default(),
            closed: AtomicBool::new(false),
            functions_version: AtomicU64::new(0),
            stats: StoreStats::default(),
        });
        let s = store.clone();
        std::thread::Builder::new()
            .name("sled-applier".into())
            .spawn(move || s.applier_loop())
            .map_err(Error::system)?;
        let s = store.clone();
        std::thread::Builder::new()
            .name("sled-gc".into())
            .spawn(move || s.gc_loop())
            .map_err(Error::system)?;
        // Replay after the applier started: the write buffer moves into
        // sled as it fills, so replay needs no more memory than writes do.
        let t0 = Instant::now();
        let n = store.replay_wal(&wal_dir, applied, rec.end_offset)?;
        tracing::info!(
            "WAL: {} segment(s), offsets {}..{}, replayed {n} record(s) after applied offset {applied} in {:?}{}",
            rec.segments,
            rec.first_offset,
            rec.end_offset,
            t0.elapsed(),
            match rec.truncated_at {
                Some(at) => format!("; cut {} damaged tail byte(s) at offset {at}", rec.truncated_bytes),
                None => String::new(),
            }
        );
        if !rec.unverified.is_empty() {
            let w = store.wal.clone();
            let old = rec.unverified;
            std::thread::Builder::new()
                .name("wal-check".into())
                .spawn(move || w.verify_old(old))
                .map_err(Error::system)?;
        }
        Ok(store)
    }

    pub fn open_path(dir: &Path) -> Result<Arc<Store>, Error> {
        Store::open(StoreOptions {
            dir: dir.to_path_buf(),
            databases: MAX_DBS,
            fsync: FsyncPolicy::EverySec,
            segment_size: 64 << 20,
            repair_wal: false,
            budget: Budget::of(0),
        })
    }

    /// Publishes every record of the WAL in `[applied, end)`, one at a time.
    fn replay_wal(&self, dir: &Path, applied: u64, end: u64) -> Result<u64, Error> {
        records_between(dir, applied, end, |r, rec_end| {
            self.apply_record(r, rec_end)
        })
    }
}

/// Calls `f` with every record of the WAL in `dir` in `[from, to)` (both
/// record boundaries), in order, read from the files one at a time.
/// Returns how many.
fn records_between(
    dir: &Path,
    from: u64,
    to: u64,
    mut f: impl FnMut(&Record, u64),
) -> Result<u64, Error> {
    let mut n = 0u64;
    let segs = crate::wal::list_segments(dir).map_err(Error::wal)?;
    for (i, seg) in segs.iter().enumerate() {
        let seg_end = segs.get(i + 1).map_or(u64::MAX, |x| x.start);
        if seg_end <= from || seg.start >= to {
            continue;
        }
        let stop = (to < seg_end).then(|| to - seg.start);
        crate::wal::scan_segment_range(seg, from.saturating_sub(seg.start), stop, |r, end| {
            f(r, end);
            n += 1;
        })
        .map_err(|e| Error::Wal(format!("reading the WAL in {}: {e}", seg.path.display())))?;
    }
    Ok(n)
}

/// Writes the effects of the WAL's records in `[from, to)` straight into
/// sled, in order: sled then holds the state at `to` whatever part of them
/// it held before (effects are idempotent). Returns the records written.
fn reapply(engine: &Engine, dir: &Path, from: u64, to: u64) -> Result<u64, Error> {
    let mut failed: Option<Error> = None;
    let n = records_between(dir, from, to, |r, _| {
        for e in &r.effects {
            let res = match e {
                Effect::Put { key, value } => engine.insert(key, value),
                Effect::Del { key } => engine.remove(key),
                Effect::ClearDb { db, gen } => engine.insert(&gen_key(*db), &gen.to_be_bytes()),
                Effect::Event { .. } | Effect::EventAt { .. } | Effect::Message { .. } => Ok(()),
            };
            if let Err(e) = res {
                failed.get_or_insert(e);
            }
        }
    })?;
    if let Some(e) = failed {
        return Err(match e {
            Error::Io(m) => Error::Io(format!("writing the interrupted table again: {m}")),
            e => Error::Engine(format!("writing the interrupted table again: {e}")),
        });
    }
    engine.flush()?;
    Ok(n)
}

/// sled's applied offset (0 when absent) and the key counts recorded with
/// it (None from builds that did not record them).
pub(super) fn read_state(engine: &Engine) -> Result<(u64, Option<KeyCounts>), Error> {
    Ok(match engine.meta_get(APPLIED_KEY)? {
        Some(v) => KeyCounts::decode(&v).unwrap_or((0, None)),
        None => (0, Some(KeyCounts::default())),
    })
}

/// The startup rule: sled's applied offset must lie inside the WAL
/// (`first..=end`), or the log and sled do not belong together. Also used
/// by `sledis-dump verify`.
pub fn check_applied(applied: u64, first: u64, end: u64) -> Result<(), Error> {
    if applied > end {
        return Err(Error::Wal(format!(
            "sled has applied up to offset {applied} but the WAL ends at {end}: the WAL lost data sled has; \
             refusing to start (restore the WAL or rebuild with --rebuild-from-snapshot)"
        )));
    }
    if applied < first {
        return Err(Error::Wal(format!(
            "sled has applied up to offset {applied} but the WAL starts at {first}: records in between are missing. \
             If sled's files were lost or damaged, rebuild them with --rebuild-from-snapshot"
        )));
    }
    Ok(())
}

/// Counts each database's keys and rebuilds the expiry index entries from
/// the metadata: once, for a data dir written before counts were kept.
fn survey(engine: &Engine, gens: &[AtomicU32; MAX_DBS]) -> Result<KeyCounts, Error> {
    let mut c = KeyCounts::default();
    for item in engine.scan_prefix(&[keys::EXPIRY]) {
        let (k, _) = item?;
        engine.remove(&k)?;
    }
    for (db, g) in gens.iter().enumerate() {
        let gen = g.load(Ordering::Acquire);
        for item in engine.scan_prefix(&db_prefix(db as u8, gen)) {
            let (k, v) = item?;
            c.keys[db] += 1;
            if let Some(t) = Meta::peek_expire(&v) {
                c.expires[db] += 1;
                engine.insert(
                    &keys::expiry_key(t, db as u8, gen, &k[keys::DATA_PREFIX_LEN..]),
                    b"",
                )?;
            }
        }
    }
    Ok(c)
}

/// What a data dir's sled says about it, for `sledis-dump`.
#[derive(Debug, Clone, Copy)]
pub struct SledState {
    pub applied: u64,
    /// An interrupted full sync: the node drops sled and the WAL at start.
    pub loading: bool,
}

/// Opens the engine in `sled_dir` and reads its state. sled 0.34 has no
/// read-only mode: opening takes its file lock and may write (recovery,
/// `blobs/`, `conf`), so `sledis-dump` passes a private copy, never a
/// node's own directory.
pub fn read_sled_state(sled_dir: &Path) -> Result<SledState, Error> {
    if !engine::exists(sled_dir) {
        return Err(Error::Engine(format!(
            "{}: no sled database (no db file)",
            sled_dir.display()
        )));
    }
    let engine = Engine::open(sled_dir, 8 << 20)?;
    Ok(SledState {
        applied: read_state(&engine)?.0,
        loading: engine.meta_get(LOADING_KEY)?.is_some(),
    })
}
