//! `sledis-sentinel CONFIG [--directive value ...]`, like `redis-sentinel`.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-h" || a == "--help") {
        eprintln!(
            "Usage: sledis-sentinel /path/to/sentinel.conf [--directive value ...]\n\
             Example:\n  sledis-sentinel configs/sentinel-26379.conf\n\
             The config file is rewritten with what the sentinel learns, so it must be writable."
        );
        return ExitCode::SUCCESS;
    }
    if args.iter().any(|a| a == "-v" || a == "--version") {
        println!(
            "sledis-sentinel v={} (redis {})",
            env!("CARGO_PKG_VERSION"),
            sledis::REDIS_VERSION
        );
        return ExitCode::SUCCESS;
    }
    sledis::sentinel::main(args)
}
