//! The LedgerFS side of every macro workload, through the daemon's HTTP API over
//! loopback: opening and funding the accounts, the standard workload (batches of 8,189
//! from one client), small batches from many clients, balance reads, and the daemon's
//! own commit-time counter.

use std::time::{Duration, Instant};

use crate::error::Result;
use crate::http::{number_after, Api, Posted};
use crate::load::{self, Worker};
use crate::progress::Progress;
use crate::results::{GroupCommit, ReadResult, RunResult, System};
use crate::stats::Samples;
use crate::workload::{self, Rng, Transfer};

/// The API's largest batch (and the standard workload's).
pub const MAX_BATCH: usize = 8_189;

/// Where the workload posts: answers list refused transfers only (`first_index` numbers
/// the rest), as TigerBeetle's client does; every batch is still acknowledged only
/// once durable under a signed checkpoint.
pub const TRANSFERS_PATH: &str = "/v1/transfers?results=failures";

/// One HTTP client posting prebuilt transfer batches.
pub struct HttpWorker {
    api: Api,
}

impl Worker for HttpWorker {
    type Request = Vec<u8>;

    fn warm_up(&mut self) -> Result<()> {
        self.api.get("/health").map(|_| ())
    }

    fn call(&mut self, body: &Vec<u8>) -> Result<Posted> {
        self.api.post_batch(TRANSFERS_PATH, body)
    }
}

/// Opens the funding account and `accounts` customer accounts, and funds them.
pub fn open_accounts(api: &Api, accounts: u64) -> Result<()> {
    for body in workload::account_bodies(accounts, MAX_BATCH) {
        let posted = api.post_batch("/v1/accounts", &body)?;
        if posted.rejected > 0 {
            return Err(format!("{} accounts were rejected", posted.rejected));
        }
    }
    for body in workload::funding_bodies(accounts, MAX_BATCH) {
        let posted = api.post_batch("/v1/transfers", &body)?;
        if posted.rejected > 0 {
            return Err(format!("{} funding transfers were rejected", posted.rejected));
        }
    }
    Ok(())
}

/// Runs `transfers` dealt to `clients` clients in batches of `batch`.
pub fn run(
    api: &Api,
    label: &str,
    transfers: &[Transfer],
    batch: usize,
    clients: usize,
    limit: Duration,
    progress: &Progress,
) -> Result<RunResult> {
    let requests: Vec<Vec<Vec<u8>>> = workload::deal(transfers, clients, batch)
        .into_iter()
        .map(|mine| mine.into_iter().map(workload::transfers_body).collect())
        .collect();
    let workers = (0..clients).map(|_| HttpWorker { api: api.fresh() }).collect();
    let bar = progress.bar(transfers.len() as u64, &format!("LedgerFS {label}"));
    let before = counters(api)?;
    let measured = load::run(workers, &requests, limit, &bar)?;
    let after = counters(api)?;
    bar.finish_and_clear();
    let mut result = RunResult::new(System::Ledgerfs, label.to_string(), batch, clients, measured);
    let commits = after.commits - before.commits;
    result.group_commit = Some(GroupCommit {
        commits: commits as u64,
        requests_per_commit: (after.batches - before.batches) / commits.max(1.0),
        mean_commit_ms: 1e3 * (after.commit_seconds - before.commit_seconds) / commits.max(1.0),
        busy: (after.commit_seconds - before.commit_seconds) / result.seconds.max(1e-9),
    });
    Ok(result)
}

/// `reads` balance lookups (`GET /v1/accounts/{id}`) of random accounts from one client.
pub fn balance_reads(api: &Api, accounts: u64, reads: usize, progress: &Progress) -> Result<ReadResult> {
    let mut rng = Rng::new(99);
    let paths: Vec<String> = (0..reads)
        .map(|_| format!("/v1/accounts/{}", workload::account_id(rng.below(accounts))))
        .collect();
    let api = api.fresh();
    api.get(&paths[0])?;
    let bar = progress.bar(reads as u64, "LedgerFS balance reads");
    let mut samples = Samples::with_capacity(reads);
    let started = Instant::now();
    for (i, path) in paths.iter().enumerate() {
        let sent = Instant::now();
        api.get(path)?;
        samples.push(sent.elapsed());
        if i % 1_000 == 0 {
            bar.set_position(i as u64);
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    bar.finish_and_clear();
    samples.sort();
    Ok(ReadResult {
        endpoint: "GET /v1/accounts/{id}".into(),
        reads_per_second: reads as f64 / elapsed,
        latency: samples.summary(),
        cdf: samples.cdf(),
    })
}

/// The daemon's commit counters from `/metrics`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Counters {
    /// `ledgerfs_commits_total`: group commits made durable.
    pub commits: f64,
    /// `ledgerfs_batches_total`: requests acknowledged.
    pub batches: f64,
    /// `ledgerfs_commit_seconds_total`: time the committer spent committing.
    pub commit_seconds: f64,
}

/// Reads the commit counters.
pub fn counters(api: &Api) -> Result<Counters> {
    let text = String::from_utf8_lossy(&api.get("/metrics")?).into_owned();
    let metric = |name: &str| -> Result<f64> {
        text.lines()
            .find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(' ')))
            .and_then(|v| v.trim().parse().ok())
            .ok_or_else(|| format!("no {name} in /metrics"))
    };
    Ok(Counters {
        commits: metric("ledgerfs_commits_total")?,
        batches: metric("ledgerfs_batches_total")?,
        commit_seconds: metric("ledgerfs_commit_seconds_total")?,
    })
}

/// The durable log size from `/health`.
pub fn log_size(api: &Api) -> Result<u64> {
    let body = api.get("/health")?;
    number_after(&body, "\"size\":").ok_or_else(|| "no size in /health".to_string())
}
