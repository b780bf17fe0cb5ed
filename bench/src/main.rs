//! `ledgerfs-bench`: the LedgerFS benchmark suite. It starts the real release daemon on
//! a temporary store, drives it over HTTP on loopback (the standard workload, small
//! batches from 1, 8 and 32 clients, balance reads), measures memory, disk and restart
//! time, mounts the FUSE view, runs PostgreSQL 15 on the same workloads interleaved with
//! LedgerFS, optionally TigerBeetle's own benchmark, profiles the daemon, and writes
//! `bench/report.md`, `bench/results.json` and SVG plots. See `make bench`.

mod cluster;
mod daemon;
mod error;
mod fusebench;
mod http;
mod ledger;
mod load;
mod machine;
mod micro;
mod options;
mod pg;
mod plots;
mod profile;
mod progress;
mod report;
mod results;
mod stats;
mod suite;
mod sysinfo;
mod targets;
mod tigerbeetle;
mod workload;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = options::Cli::parse();
    match suite::run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ledgerfs-bench: error: {e}");
            ExitCode::FAILURE
        }
    }
}
