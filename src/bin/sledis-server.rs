//! `sledis-server [CONFIG] [--directive value ...]`, like `redis-server`.

use sledis::config::Config;

/// mimalloc: the write buffer and the replies allocate many small buffers;
/// glibc malloc showed up at ~10% of SET time in profiles.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::process::ExitCode;

extern "C" {
    fn mi_option_set(option: std::ffi::c_int, value: std::ffi::c_long);
}
/// `mi_option_purge_delay` in mimalloc v2 and v3's option enum.
const MI_OPTION_PURGE_DELAY: std::ffi::c_int = 15;

fn main() -> ExitCode {
    // Freed memory goes back to the OS after 1 ms instead of mimalloc's
    // 10: a 512 MB staged write churns through buffers freed by other
    // threads, and with the default the node's peak RSS was 180 MB under
    // `maxmemory 64mb` against 105 MB with this (no cost seen in
    // redis-benchmark SET/GET; ARCHITECTURE "Staged writes").
    // SAFETY: sets an option of the allocator linked in; takes plain ints.
    unsafe { mi_option_set(MI_OPTION_PURGE_DELAY, 1) };
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-h" || a == "--help") {
        eprintln!(
            "Usage: sledis-server [/path/to/sledis.conf] [--directive value ...]\n\
             Examples:\n  sledis-server configs/6379.conf\n  sledis-server --port 6390 --dir data/6390\n  \
             sledis-server configs/6380.conf --replicaof \"127.0.0.1 6379\"\n\
             Recovery options: --repair-wal (cut the WAL at a corrupt record), --rebuild-from-snapshot (rebuild sled from dump + WAL)"
        );
        return ExitCode::SUCCESS;
    }
    if args.iter().any(|a| a == "-v" || a == "--version") {
        println!(
            "sledis-server v={} (redis {})",
            env!("CARGO_PKG_VERSION"),
            sledis::REDIS_VERSION
        );
        return ExitCode::SUCCESS;
    }
    // `sledis-server sentinel.conf --sentinel`, as with redis-server.
    if args.iter().any(|a| a == "--sentinel") {
        return sledis::sentinel::main(args);
    }
    let cfg = match Config::from_args(args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = sledis::logging::init(cfg.loglevel.filter_directive(), cfg.logfile.as_deref()) {
        eprintln!("{e}");
        return ExitCode::FAILURE;
    }
    // A panic ends only the connection it happened on (tokio catches it per
    // task): it must reach the log, not just a stderr nobody reads.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        tracing::error!("panic: {info}");
        default_hook(info);
    }));
    if cfg
        .get("disable-thp")
        .first()
        .is_some_and(|(_, v)| v == "yes")
    {
        disable_thp();
    }
    for note in cfg.notes() {
        tracing::info!("config: {note}");
    }
    if cfg.daemonize {
        tracing::info!("daemonize yes: sledis stays in the foreground; use your service manager to background it");
    }
    // `io-threads 1` (the default, as in Redis) runs every connection on one
    // thread: on a small machine that beats a work-stealing pool (measured:
    // SET -P 16 +30%, GET -P 16 +45% on 2 cores). More threads use more cores.
    let threads: usize = cfg
        .get("io-threads")
        .first()
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(1);
    let rt = if threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .on_thread_park(sledis::wal::on_runtime_park)
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()
    };
    let rt = match rt {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let sled_dir = cfg.dir.join("sled");
    match rt.block_on(sledis::server::run(cfg)) {
        Ok(()) => {
            // Every task and thread that held the store is gone with the
            // runtime; sled's checkpoint makes the next start quick.
            drop(rt);
            let t0 = std::time::Instant::now();
            match sledis::store::checkpoint(&sled_dir, std::time::Duration::from_secs(3)) {
                Ok(true) => tracing::info!(
                    "sled checkpointed for a quick restart in {:?}",
                    t0.elapsed()
                ),
                Ok(false) => tracing::info!("sled still busy after the stop: no checkpoint"),
                Err(e) => tracing::warn!("sled checkpoint after the stop failed: {e}"),
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            tracing::error!("{e}");
            ExitCode::FAILURE
        }
    }
}

/// `disable-thp yes` (the default, as in Redis): no transparent huge pages
/// for this process. The allocator asks for them, and each first touch of
/// fresh memory then zeroes 2 MiB: measured here, a master feeding two
/// replicas under SET -P 16 of 1 KiB values spent up to 46% of its CPU in
/// that zeroing (7-8 us of CPU per SET without THP, 9-17 us with it,
/// varying from run to run).
fn disable_thp() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: prctl with integer arguments only; no memory is passed.
        let r = unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) };
        if r != 0 {
            tracing::warn!(
                "disable-thp: prctl(PR_SET_THP_DISABLE) failed: {}",
                std::io::Error::last_os_error()
            );
        }
    }
}
