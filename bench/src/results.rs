//! Everything one run of the suite measured, as written to `bench/results.json` and
//! read by the report and plot writers.

use serde::Serialize;

use crate::load::Measured;
use crate::machine::Machine;
use crate::stats::Summary;
use crate::sysinfo::{DiskUse, Memory};

/// The system a figure is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum System {
    /// LedgerFS over its HTTP API.
    Ledgerfs,
    /// PostgreSQL 15 over its wire protocol.
    Postgres,
}

impl System {
    /// Display name.
    pub fn name(self) -> &'static str {
        match self {
            System::Ledgerfs => "LedgerFS",
            System::Postgres => "PostgreSQL",
        }
    }
}

/// One throughput/latency run.
#[derive(Clone, Debug, Serialize)]
pub struct RunResult {
    /// Which system.
    pub system: System,
    /// Short label, e.g. `standard-1M` or `b100-c8`.
    pub label: String,
    /// Transfers per request (LedgerFS) or per transaction (PostgreSQL).
    pub batch: usize,
    /// Concurrent clients.
    pub clients: usize,
    /// Transfers accepted.
    pub accepted: u64,
    /// Transfers rejected by a ledger rule (overdraft, ...).
    pub rejected: u64,
    /// Requests (or transactions) answered.
    pub requests: u64,
    /// Failed requests.
    pub errors: u64,
    /// The first failure.
    pub first_error: Option<String>,
    /// Wall-clock seconds.
    pub seconds: f64,
    /// Accepted transfers per second.
    pub transfers_per_second: f64,
    /// Per-request (per-batch) latency.
    pub latency: Summary,
    /// Down-sampled latency CDF: (µs, fraction).
    pub cdf: Vec<(f64, f64)>,
    /// LedgerFS's group commits during the run (from its /metrics).
    pub group_commit: Option<GroupCommit>,
}

/// What the daemon's committer did during a run.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct GroupCommit {
    /// Group commits made durable.
    pub commits: u64,
    /// Requests acknowledged per commit.
    pub requests_per_commit: f64,
    /// Mean time of one commit (write, two syncfs, sign, checkpoint swap), ms.
    pub mean_commit_ms: f64,
    /// Share of the run's wall time the committer was committing.
    pub busy: f64,
}

impl RunResult {
    /// Builds a result from a measurement.
    pub fn new(system: System, label: String, batch: usize, clients: usize, m: Measured) -> RunResult {
        let seconds = m.elapsed.as_secs_f64();
        RunResult {
            system,
            label,
            batch,
            clients,
            accepted: m.accepted,
            rejected: m.rejected,
            requests: m.requests,
            errors: m.errors,
            first_error: m.first_error,
            seconds,
            transfers_per_second: if seconds > 0.0 {
                m.accepted as f64 / seconds
            } else {
                0.0
            },
            latency: m.samples.summary(),
            cdf: m.samples.cdf(),
            group_commit: None,
        }
    }
}

/// One criterion benchmark.
#[derive(Clone, Debug, Serialize)]
pub struct MicroResult {
    /// `group/name`.
    pub id: String,
    /// Mean time per iteration, in nanoseconds.
    pub mean_ns: f64,
    /// Elements per iteration (for per-element figures).
    pub elements: u64,
}

/// Balance reads.
#[derive(Clone, Debug, Serialize)]
pub struct ReadResult {
    /// Endpoint read.
    pub endpoint: String,
    /// Reads per second from one client.
    pub reads_per_second: f64,
    /// Latency.
    pub latency: Summary,
    /// Down-sampled CDF.
    pub cdf: Vec<(f64, f64)>,
}

/// Memory and disk of the loaded daemon, and their extrapolation to 10M transfers.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Resources {
    /// Memory once the accounts were opened and funded.
    pub memory_base: Memory,
    /// Memory after the runs.
    pub memory_loaded: Memory,
    /// Entries in the log at the end.
    pub log_entries: u64,
    /// Transfers in the log at the end.
    pub transfers: u64,
    /// Disk use of the whole data directory (ledger log, audit log, keys, config).
    pub disk: DiskUse,
    /// Disk use of the ledger log alone.
    pub log_disk: DiskUse,
    /// Resident bytes per transfer (current RSS slope).
    pub memory_per_transfer: f64,
    /// Peak RSS extrapolated to 10M transfers (or measured, with --ten-million).
    pub memory_10m: f64,
    /// Allocated disk extrapolated to 10M transfers (or measured).
    pub disk_10m: f64,
    /// Whether the 10M figures were measured rather than extrapolated.
    pub measured_10m: bool,
}

/// Restart: spawn of `serve` on the loaded store to `/health` answering.
#[derive(Clone, Debug, Serialize)]
pub struct Restart {
    /// Entries replayed.
    pub entries: u64,
    /// Seconds to `/health`.
    pub seconds: f64,
    /// Seconds per million entries.
    pub seconds_per_million: f64,
    /// Extrapolated (or measured) seconds for 10M entries.
    pub seconds_10m: f64,
    /// Whether `seconds_10m` was measured.
    pub measured_10m: bool,
}

/// One FUSE-versus-ext4 latency figure.
#[derive(Clone, Debug, Serialize)]
pub struct FileLatency {
    /// What was read, e.g. `balance.json via FUSE, cold`.
    pub label: String,
    /// stat + open + read + close, per file.
    pub latency: Summary,
}

/// FUSE figures.
#[derive(Clone, Debug, Default, Serialize)]
pub struct FuseResult {
    /// Latency figures.
    pub latencies: Vec<FileLatency>,
    /// Tile files read by `cat`.
    pub tile_files: u64,
    /// Their bytes.
    pub tile_bytes: u64,
    /// (label, MB/s) of `cat` over every tile.
    pub cat: Vec<(String, f64)>,
    /// The mount's line in /proc/mounts.
    pub mount: String,
    /// Measurements that failed (a read error through the mount).
    pub errors: Vec<String>,
}

/// PostgreSQL set-up facts.
#[derive(Clone, Debug, Default, Serialize)]
pub struct PostgresInfo {
    /// `SELECT version()`.
    pub version: String,
    /// Settings that matter for durability.
    pub settings: Vec<(String, String)>,
}

/// One run of TigerBeetle's own `benchmark`, beside the LedgerFS run of the same label.
#[derive(Clone, Debug, Default, Serialize)]
pub struct TigerBeetleRun {
    /// The LedgerFS run it compares with (`standard-1M`, `b1-c1`, `b1-c32`).
    pub label: String,
    /// `--transfer-batch-count`.
    pub batch: usize,
    /// `--clients`.
    pub clients: usize,
    /// `--transfer-count`.
    pub transfers: u64,
    /// The command run.
    pub command: String,
    /// `load accepted = N tx/s`.
    pub transfers_per_second: Option<f64>,
    /// `batch latency p50 = N ms`.
    pub p50_ms: Option<f64>,
    /// `batch latency p99 = N ms`.
    pub p99_ms: Option<f64>,
    /// `batch latency p100 = N ms`.
    pub p100_ms: Option<f64>,
    /// Peak resident bytes of its process tree (benchmark client and replica).
    pub peak_rss: Option<u64>,
    /// Wall-clock seconds of the whole command (format, start, accounts, transfers).
    pub seconds: f64,
    /// Its summary lines (`load ...`, `batch latency ...`, `query latency ...`).
    pub summary: Vec<String>,
    /// Why it failed (refused, crashed, timed out, printed no figures).
    pub error: Option<String>,
}

/// One hot function of the profile.
#[derive(Clone, Debug, Serialize)]
pub struct HotSpot {
    /// Function (demangled, shortened).
    pub function: String,
    /// Share of the profile (self cost).
    pub percent: f64,
}

/// The daemon's profile.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Profile {
    /// Tool and event, e.g. `valgrind --tool=callgrind (instructions)`.
    pub tool: String,
    /// Workload profiled.
    pub workload: String,
    /// Top functions by self cost.
    pub hot: Vec<HotSpot>,
    /// Cost grouped by component (sha256, JSON, syscalls, ...), percent.
    pub components: Vec<(String, f64)>,
}

/// The whole run.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Results {
    /// `quick` or `full`.
    pub mode: String,
    /// Start time (UTC, RFC 3339).
    pub started: String,
    /// Total wall-clock seconds.
    pub seconds: f64,
    /// The machine.
    pub machine: Machine,
    /// Micro benchmarks.
    pub micro: Vec<MicroResult>,
    /// Throughput/latency runs of both systems.
    pub runs: Vec<RunResult>,
    /// Balance reads.
    pub reads: Option<ReadResult>,
    /// Memory and disk.
    pub resources: Resources,
    /// Restart.
    pub restart: Option<Restart>,
    /// FUSE.
    pub fuse: Option<FuseResult>,
    /// PostgreSQL.
    pub postgres: Option<PostgresInfo>,
    /// TigerBeetle's own benchmark (empty unless `TIGERBEETLE` was given).
    pub tigerbeetle: Vec<TigerBeetleRun>,
    /// Profiles of the daemon (one per profiler used).
    pub profiles: Vec<Profile>,
    /// Skipped parts and warnings.
    pub notes: Vec<String>,
}

impl Results {
    /// The run with this system and label.
    pub fn run(&self, system: System, label: &str) -> Option<&RunResult> {
        self.runs.iter().find(|r| r.system == system && r.label == label)
    }

    /// The TigerBeetle run beside the LedgerFS run `label` (any standard run matches
    /// TigerBeetle's standard one, which always has 1M transfers).
    pub fn tigerbeetle(&self, label: &str) -> Option<&TigerBeetleRun> {
        self.tigerbeetle.iter().find(|t| same_workload(&t.label, label))
    }

    /// The micro benchmark with this id.
    pub fn micro(&self, id: &str) -> Option<&MicroResult> {
        self.micro.iter().find(|m| m.id == id)
    }
}

/// Whether two run labels are the same workload (`standard-*` of any size but 10M).
pub fn same_workload(a: &str, b: &str) -> bool {
    let standard = |l: &str| l.starts_with("standard") && !l.ends_with("10M");
    a == b || (standard(a) && standard(b))
}
