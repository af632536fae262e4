//! sledis-dump: inspect and verify snapshot files and WAL segments.

use clap::{Parser, Subcommand};
use sledis::dump;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "sledis-dump",
    version,
    about = "Inspect, verify and compare sledis snapshot files, WAL segments and data dirs"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// The header and keys of a snapshot file, in Redis terms.
    Snapshot {
        file: PathBuf,
        /// Only keys matching this Redis glob pattern.
        #[arg(long)]
        keys: Option<String>,
        /// Only this database.
        #[arg(long)]
        db: Option<u8>,
        /// At most this many keys.
        #[arg(long)]
        limit: Option<u64>,
        /// One JSON object per key (per line).
        #[arg(long)]
        json: bool,
        /// Keys per type and database, sizes, the largest keys.
        #[arg(long)]
        stats: bool,
    },
    /// The records of a WAL directory with their effects.
    Wal {
        dir: PathBuf,
        /// Records starting at or after this offset.
        #[arg(long)]
        from: Option<u64>,
        /// Records starting before this offset.
        #[arg(long)]
        to: Option<u64>,
        #[arg(long)]
        json: bool,
        #[arg(long)]
        stats: bool,
        /// Keep printing records as the node appends them (like tail -f).
        #[arg(long)]
        follow: bool,
    },
    /// Compares two snapshots key by key: keys only in A, only in B, and
    /// with another type, value or expiry; exit code 0 only if equal. A or
    /// B may be a node's data dir (running or not, never written): what
    /// the node would hold after recovery, read from a copy in TMPDIR.
    Diff {
        a: PathBuf,
        b: PathBuf,
        #[arg(long)]
        keys: Option<String>,
        #[arg(long)]
        db: Option<u8>,
        #[arg(long)]
        json: bool,
    },
    /// Checks a snapshot file, a WAL directory or a data directory (also
    /// that sled's applied offset lies inside the WAL); exit code 0 only if
    /// everything is intact, 2 if it could not be checked.
    Verify { path: PathBuf },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let r = match cli.cmd {
        Cmd::Snapshot {
            file,
            keys,
            db,
            limit,
            json,
            stats,
        } => {
            let f = dump::snapshot::Filter {
                keys: keys.map(String::into_bytes),
                db,
                limit,
            };
            dump::snapshot::run(&file, &f, json, stats, &mut out).map(|()| true)
        }
        Cmd::Wal {
            dir,
            from,
            to,
            json,
            stats,
            follow,
        } => {
            let o = dump::wal::Options {
                from,
                to,
                json,
                stats,
                follow,
            };
            dump::wal::run(&dir, &o, &mut out)
        }
        Cmd::Diff {
            a,
            b,
            keys,
            db,
            json,
        } => {
            let f = dump::snapshot::Filter {
                keys: keys.map(String::into_bytes),
                db,
                limit: None,
            };
            dump::diff::run(&a, &b, &f, json, &mut out)
        }
        Cmd::Verify { path } => dump::verify::run(&path, &mut out),
    };
    let _ = out.flush();
    match r {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("sledis-dump: {e}");
            ExitCode::from(2)
        }
    }
}
