use super::*;

impl Store {
    /// Opens sled and the WAL and replays what sled had not applied yet.
    pub fn open(opts: StoreOptions) -> Result<Arc<Store>, String> {
        std::fs::create_dir_all(&opts.dir)
            .map_err(|e| format!("cannot create {}: {e}", opts.dir.display()))?;
        let sled_path = opts.dir.join("sled");
        let engine = Engine::open(&sled_path, 64 << 20).map_err(|e| {
            format!(
                "{e}. The data can be rebuilt from the newest snapshot plus the WAL: \
                 start again with --rebuild-from-snapshot"
            )
        })?;
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
                    .map_err(|e| format!("{}: {e}", wal_dir.display()))?;
            }
        }
        let applied = read_applied(&engine)?;
        let gens: [AtomicU32; MAX_DBS] = Default::default();
        let counts: [AtomicI64; MAX_DBS] = Default::default();
        let t0 = Instant::now();
        let index = survey(&engine, &gens, &counts)?;
        let total: i64 = counts.iter().map(|c| c.load(Ordering::Relaxed)).sum();
        tracing::info!(
            "sled: {total} keys counted in {:?}, applied offset {applied}",
            t0.elapsed()
        );

        let mut replay: Vec<(Record, u64)> = Vec::new();
        let (wal, rec): (Arc<Wal>, Recovery) = Wal::open(
            &opts.dir.join("wal"),
            opts.fsync,
            opts.segment_size,
            opts.repair_wal,
            applied,
            |r: &Record, end| {
                if r.offset >= applied {
                    replay.push((r.clone(), end));
                }
            },
        )
        .map_err(|e| e.to_string())?;
        check_applied(applied, rec.first_offset, rec.end_offset)?;
        let store = Arc::new(Store {
            dir: opts.dir.clone(),
            databases: opts.databases.clamp(1, MAX_DBS),
            engine,
            tables: RwLock::new(Tables::new(applied)),
            cache: cache::ReadCache::new(READ_CACHE_BYTES),
            ranges: Mutex::new(range_cache::RangeCache::default()),
            writer: Arc::new(Mutex::new(())),
            wal,
            gens,
            counts,
            expires: Mutex::new(index),
            expired_seen: Mutex::new(Vec::new()),
            applier_wake: Condvar::new(),
            applier_lock: Mutex::new(false),
            stall_cv: Condvar::new(),
            stall_lock: Mutex::new(()),
            load_tail: Mutex::new(None),
            gc_wake: Condvar::new(),
            gc_lock: Mutex::new(true),
            orphans: Mutex::new(Vec::new()),
            versions: AtomicU64::new(0),
            sweep_pending: AtomicBool::new(true),
            applied: AtomicU64::new(applied),
            apply_lock: Mutex::new(()),
            dirty: AtomicU64::new(0),
            replica: AtomicBool::new(false),
            watches: watch::Watches::default(),
            ready: ready::ReadyKeys::default(),
            closed: AtomicBool::new(false),
            stats: StoreStats::default(),
        });
        let n = replay.len();
        for (r, end) in replay {
            store.apply_record(&r, end);
        }
        tracing::info!(
            "WAL: {} segment(s), offsets {}..{}, replayed {n} record(s) after applied offset {applied}{}",
            rec.segments,
            rec.first_offset,
            rec.end_offset,
            match rec.truncated_at {
                Some(at) => format!("; cut {} damaged tail byte(s) at offset {at}", rec.truncated_bytes),
                None => String::new(),
            }
        );
        let s = store.clone();
        std::thread::Builder::new()
            .name("sled-applier".into())
            .spawn(move || s.applier_loop())
            .map_err(|e| e.to_string())?;
        let s = store.clone();
        std::thread::Builder::new()
            .name("sled-gc".into())
            .spawn(move || s.gc_loop())
            .map_err(|e| e.to_string())?;
        Ok(store)
    }

    pub fn open_path(dir: &Path) -> Result<Arc<Store>, String> {
        Store::open(StoreOptions {
            dir: dir.to_path_buf(),
            databases: MAX_DBS,
            fsync: FsyncPolicy::EverySec,
            segment_size: 64 << 20,
            repair_wal: false,
        })
    }
}

/// sled's applied offset as recorded in the meta tree (0 when absent).
pub(super) fn read_applied(engine: &Engine) -> Result<u64, String> {
    Ok(match engine.meta_get(APPLIED_KEY)? {
        Some(v) if v.len() == 8 => u64::from_be_bytes(v.as_ref().try_into().unwrap_or([0; 8])),
        _ => 0,
    })
}

/// The startup rule: sled's applied offset must lie inside the WAL
/// (`first..=end`), or the log and sled do not belong together. Also used
/// by `sledis-dump verify`.
pub fn check_applied(applied: u64, first: u64, end: u64) -> Result<(), String> {
    if applied > end {
        return Err(format!(
            "sled has applied up to offset {applied} but the WAL ends at {end}: the WAL lost data sled has; \
             refusing to start (restore the WAL or rebuild with --rebuild-from-snapshot)"
        ));
    }
    if applied < first {
        return Err(format!(
            "sled has applied up to offset {applied} but the WAL starts at {first}: records in between are missing. \
             If sled's files were lost or damaged, rebuild them with --rebuild-from-snapshot"
        ));
    }
    Ok(())
}

/// Reads each database's generation from sled, counts its keys and
/// collects the expiry index (at open, and after loading a snapshot).
pub(super) fn survey(
    engine: &Engine,
    gens: &[AtomicU32; MAX_DBS],
    counts: &[AtomicI64; MAX_DBS],
) -> Result<ExpireIndex, String> {
    let mut index = ExpireIndex::default();
    for db in 0..MAX_DBS {
        let gen = match engine.get(&gen_key(db as u8))? {
            Some(v) if v.len() == 4 => u32::from_be_bytes([v[0], v[1], v[2], v[3]]),
            _ => 0,
        };
        gens[db].store(gen, Ordering::Release);
        let mut n = 0;
        for item in engine.scan_prefix(&db_prefix(db as u8, gen)) {
            let (k, v) = item?;
            n += 1;
            if let Some(t) = Meta::peek_expire(&v) {
                index.insert(
                    t,
                    db as u8,
                    Bytes::copy_from_slice(&k[keys::DATA_PREFIX_LEN..]),
                );
            }
        }
        counts[db].store(n, Ordering::Relaxed);
    }
    Ok(index)
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
pub fn read_sled_state(sled_dir: &Path) -> Result<SledState, String> {
    if !engine::exists(sled_dir) {
        return Err(format!(
            "{}: no sled database (no db file)",
            sled_dir.display()
        ));
    }
    let engine = Engine::open(sled_dir, 8 << 20)?;
    Ok(SledState {
        applied: read_applied(&engine)?,
        loading: engine.meta_get(LOADING_KEY)?.is_some(),
    })
}
