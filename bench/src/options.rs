//! Command-line options and the sizes of every run, for the quick (`make bench-quick`,
//! under two minutes) and full (`make bench`) modes.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};

/// Which profiler to run on the daemon for the report's hot spots.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Profiler {
    /// `perf record` when `perf stat -e instructions true` works, else callgrind.
    Auto,
    /// `perf record -e cpu-clock` (sampled wall-clock CPU time).
    Perf,
    /// `valgrind --tool=callgrind` on a reduced run (instruction counts).
    Callgrind,
    /// No profile.
    None,
}

/// `ledgerfs-bench`: reproduce every figure of bench/report.md.
#[derive(Parser, Debug, Clone)]
#[command(name = "ledgerfs-bench", version, about)]
pub struct Cli {
    /// Quick mode (200k-transfer standard workload, short runs; under two minutes).
    #[arg(long)]
    pub quick: bool,
    /// Also run the standard workload with 10M transfers (full mode only; slow).
    #[arg(long = "ten-million")]
    pub ten_million: bool,
    /// The release daemon binary.
    #[arg(long, default_value = "target/release/ledgerfs")]
    pub ledgerfs: PathBuf,
    /// Where temporary stores and the PostgreSQL cluster live (same disk as the repo).
    #[arg(long, default_value = "target")]
    pub work_dir: PathBuf,
    /// Where report.md, results.json and the SVG plots are written.
    #[arg(long, default_value = "bench")]
    pub out: PathBuf,
    /// Criterion's output directory (micro benchmark results).
    #[arg(long, default_value = "target/criterion")]
    pub criterion: PathBuf,
    /// Directory holding PostgreSQL 15's initdb and pg_ctl.
    #[arg(long, default_value = "/usr/lib/postgresql/15/bin")]
    pub pg_bin: PathBuf,
    /// Skip the PostgreSQL baseline.
    #[arg(long)]
    pub no_postgres: bool,
    /// Skip the FUSE figures.
    #[arg(long)]
    pub no_fuse: bool,
    /// Profiler for the hot-spot section.
    #[arg(long, value_enum, default_value_t = Profiler::Auto)]
    pub profiler: Profiler,
    /// A TigerBeetle (0.17) binary: its own `benchmark` runs beside LedgerFS, on the
    /// standard workload (1M transfers even in quick mode) and with batches of one from
    /// 1 and 32 clients.
    #[arg(long, env = "TIGERBEETLE")]
    pub tigerbeetle: Option<PathBuf>,
}

/// Sizes of the runs.
#[derive(Clone, Debug)]
pub struct Plan {
    /// "quick" or "full".
    pub mode: &'static str,
    /// Accounts opened (and funded).
    pub accounts: u64,
    /// Transfers of the standard workload.
    pub standard_transfers: u64,
    /// Also the 10M standard workload.
    pub ten_million: bool,
    /// Client counts of the small-batch runs.
    pub clients: Vec<usize>,
    /// Batch sizes of the small-batch runs.
    pub batches: Vec<usize>,
    /// Longest a small-batch run lasts.
    pub run_time: Duration,
    /// Most transfers a small-batch run posts.
    pub run_cap: u64,
    /// Balance reads measured.
    pub reads: usize,
    /// Files read per FUSE latency pass.
    pub fuse_files: usize,
    /// Transfers and batch-of-one requests under the profiler.
    pub profile_transfers: u64,
}

impl Plan {
    /// The plan for the given options.
    pub fn from_cli(cli: &Cli) -> Plan {
        if cli.quick {
            Plan {
                mode: "quick",
                accounts: 10_000,
                standard_transfers: 200_000,
                ten_million: false,
                clients: vec![1, 8, 32],
                batches: vec![1, 100],
                run_time: Duration::from_millis(2_500),
                run_cap: 150_000,
                reads: 20_000,
                fuse_files: 200,
                profile_transfers: 16_378,
            }
        } else {
            Plan {
                mode: "full",
                accounts: 10_000,
                standard_transfers: 1_000_000,
                ten_million: cli.ten_million,
                clients: vec![1, 8, 32],
                batches: vec![1, 100],
                run_time: Duration::from_secs(10),
                run_cap: 1_000_000,
                reads: 100_000,
                fuse_files: 1_000,
                profile_transfers: 81_890,
            }
        }
    }
}
