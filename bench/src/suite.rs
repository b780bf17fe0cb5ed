//! The order of the suite: set up both systems, run each workload on LedgerFS and then
//! on PostgreSQL, then reads, resources, restart, the optional 10M run, FUSE,
//! TigerBeetle's own benchmark (when given: standard, and batches of one from 1 and 32
//! clients) and the profile; finally write results.json, the plots and report.md.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::cluster::Cluster;
use crate::daemon::{Daemon, Launch, Store};
use crate::error::{Context, Result};
use crate::ledger;
use crate::options::{Cli, Plan};
use crate::progress::Progress;
use crate::results::{Resources, Restart, Results, RunResult};
use crate::sysinfo;
use crate::targets::{self, micros, rate};
use crate::workload;
use crate::{fusebench, machine, micro, pg, plots, profile, report, tigerbeetle};

/// Entries of the 10M store.
const TEN_MILLION: u64 = 10_000_000;
/// No standard-workload run is cut short by time.
const NO_LIMIT: Duration = Duration::from_secs(24 * 3600);

fn utc_now() -> String {
    Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

fn label_count(n: u64) -> String {
    if n % 1_000_000 == 0 {
        format!("{}M", n / 1_000_000)
    } else {
        format!("{}k", n / 1_000)
    }
}

/// Runs everything the options ask for.
pub fn run(cli: &Cli) -> Result<()> {
    let plan = Plan::from_cli(cli);
    if !cli.ledgerfs.exists() {
        return Err(format!(
            "{} not found: build it with `cargo build --release -p ledgerfs` (make bench does)",
            cli.ledgerfs.display()
        ));
    }
    let bin = std::fs::canonicalize(&cli.ledgerfs).context(|| cli.ledgerfs.display().to_string())?;
    std::fs::create_dir_all(&cli.work_dir).context(|| cli.work_dir.display().to_string())?;
    let tmp = tempfile::Builder::new()
        .prefix("ledgerfs-bench-")
        .tempdir_in(&cli.work_dir)
        .context(|| format!("temporary directory in {}", cli.work_dir.display()))?;
    let work = std::fs::canonicalize(tmp.path()).context(|| "temporary directory".into())?;
    {
        use std::os::unix::fs::PermissionsExt;
        // The PostgreSQL cluster belongs to the postgres user, who must reach it.
        std::fs::set_permissions(&work, std::fs::Permissions::from_mode(0o755))
            .context(|| work.display().to_string())?;
    }
    let started = Instant::now();
    let mut r = Results {
        mode: plan.mode.into(),
        started: utc_now(),
        machine: machine::describe(&work),
        micro: micro::collect(&cli.criterion),
        ..Results::default()
    };
    if r.micro.is_empty() {
        r.notes.push(format!(
            "no criterion results in {}: micro benchmarks not run",
            cli.criterion.display()
        ));
    }
    let tb_runs = if cli.tigerbeetle.is_some() { 3 } else { 0 };
    let steps = 9 + tb_runs + (plan.batches.len() * plan.clients.len()) as u64;
    let progress = Progress::new(steps);

    progress.step("LedgerFS: init, serve, open and fund accounts");
    let store = Store::init(&bin, &work.join("ledgerfs"))?;
    let daemon_log = work.join("daemon.log");
    let daemon = Daemon::start(&store, &Launch::default(), &daemon_log)?;
    ledger::open_accounts(&daemon.api, plan.accounts)?;
    r.resources.memory_base = daemon.memory()?;

    let mut cluster = None;
    if cli.no_postgres {
        r.notes.push("PostgreSQL baseline skipped (--no-postgres)".into());
    } else {
        progress.step("PostgreSQL: initdb, start, load accounts");
        match start_postgres(&cli.pg_bin, &work.join("postgres"), plan.accounts) {
            Ok((c, info)) => {
                r.postgres = Some(info);
                cluster = Some(c);
            }
            Err(e) => r.notes.push(format!("PostgreSQL baseline skipped: {e}")),
        }
    }

    progress.step("standard workload");
    let label = format!("standard-{}", label_count(plan.standard_transfers));
    let transfers = workload::transfers(1, "s", plan.accounts, plan.standard_transfers);
    sysinfo::sync_all();
    let standard = ledger::run(
        &daemon.api,
        &label,
        &transfers,
        ledger::MAX_BATCH,
        1,
        NO_LIMIT,
        &progress,
    )?;
    drop(transfers);
    report_run(&progress, &standard);
    r.runs.push(standard);

    for &batch in &plan.batches {
        for &clients in &plan.clients {
            let label = format!("b{batch}-c{clients}");
            progress.step(&format!("{label}: LedgerFS, then PostgreSQL"));
            let transfers = workload::transfers((batch * 1_000 + clients) as u64, &label, plan.accounts, plan.run_cap);
            sysinfo::sync_all();
            let run = ledger::run(
                &daemon.api,
                &label,
                &transfers,
                batch,
                clients,
                plan.run_time,
                &progress,
            )?;
            report_run(&progress, &run);
            r.runs.push(run);
            if let Some(c) = &cluster {
                sysinfo::sync_all();
                match pg::run(c, &label, &transfers, batch, clients, plan.run_time, &progress) {
                    Ok(run) => {
                        report_run(&progress, &run);
                        r.runs.push(run);
                    }
                    Err(e) => r.notes.push(format!("PostgreSQL {label} failed: {e}")),
                }
            }
        }
    }
    drop(cluster);

    progress.step("balance reads");
    r.reads = Some(ledger::balance_reads(
        &daemon.api,
        plan.accounts,
        plan.reads,
        &progress,
    )?);
    r.resources.memory_loaded = daemon.memory()?;
    r.resources.log_entries = ledger::log_size(&daemon.api)?;
    daemon.stop()?;
    fill_resources(&mut r.resources, &store, plan.accounts)?;

    progress.step("restart");
    sysinfo::sync_all();
    let restarted = Daemon::start(&store, &Launch::default(), &daemon_log)?;
    let seconds = restarted.start_time.as_secs_f64();
    restarted.stop()?;
    let entries = r.resources.log_entries;
    r.restart = Some(Restart {
        entries,
        seconds,
        seconds_per_million: seconds * 1e6 / entries as f64,
        seconds_10m: seconds * TEN_MILLION as f64 / entries as f64,
        measured_10m: false,
    });

    if plan.ten_million {
        progress.step("standard workload, 10M transfers");
        ten_million(&bin, &work, &plan, &mut r, &progress)?;
    }

    if cli.no_fuse {
        r.notes.push("FUSE figures skipped (--no-fuse)".into());
    } else {
        match fusebench::available() {
            Ok(()) => {
                progress.step("FUSE view vs ext4");
                let mnt = work.join("mnt");
                match fusebench::measure(
                    &store,
                    &mnt,
                    &work.join("fuse.log"),
                    plan.accounts,
                    plan.fuse_files,
                    &progress,
                ) {
                    Ok(f) => r.fuse = Some(f),
                    Err(e) => r.notes.push(format!("FUSE figures failed: {e}")),
                }
            }
            Err(why) => r.notes.push(format!("FUSE figures skipped: {why}")),
        }
    }

    if let Some(tb) = &cli.tigerbeetle {
        for spec in tigerbeetle::specs(ledger::MAX_BATCH) {
            progress.step(&format!("TigerBeetle benchmark, {}", spec.label));
            sysinfo::sync_all();
            let t = tigerbeetle::run(tb, plan.accounts, &spec, &work);
            match &t.error {
                Some(e) => r.notes.push(format!("TigerBeetle {} failed: {e}", t.label)),
                None => progress.line(&format!(
                    "  {:10} {:10} {:>12} transfers/s  p50 {:>9}  p99 {:>9}  p100 {:>9}",
                    "TigerBeetle",
                    t.label,
                    t.transfers_per_second.map(rate).unwrap_or_default(),
                    ms(t.p50_ms),
                    ms(t.p99_ms),
                    ms(t.p100_ms)
                )),
            }
            r.tigerbeetle.push(t);
        }
    }

    let profilers = profile::choose(cli.profiler);
    if profilers.is_empty() {
        r.notes
            .push("no profile: neither perf nor valgrind is usable (or --profiler none)".into());
    }
    for profiler in profilers {
        progress.step(&format!("profile of the daemon ({profiler:?})"));
        let dir = work.join(format!("profile-{profiler:?}"));
        match profile::run(profiler, &bin, &dir, plan.accounts, plan.profile_transfers, &progress) {
            Ok(p) => r.profiles.push(p),
            Err(e) => r.notes.push(format!("{profiler:?} profile failed: {e}")),
        }
    }

    r.seconds = started.elapsed().as_secs_f64();
    progress.finish();
    write_outputs(&r, &cli.out)?;
    print_summary(&r, &cli.out);
    Ok(())
}

fn start_postgres(bin: &Path, root: &Path, accounts: u64) -> Result<(Cluster, crate::results::PostgresInfo)> {
    let mut cluster = Cluster::create(bin, root)?;
    cluster.start()?;
    let info = pg::load_accounts(&cluster, accounts)?;
    Ok((cluster, info))
}

/// Disk use and the per-transfer extrapolations to 10M transfers.
fn fill_resources(res: &mut Resources, store: &Store, accounts: u64) -> Result<()> {
    res.disk = sysinfo::disk_use(&store.dir)?;
    res.log_disk = sysinfo::disk_use(&store.log_dir())?;
    res.transfers = res.log_entries.saturating_sub(accounts + 1);
    let posted = res.transfers.saturating_sub(accounts).max(1);
    let grown = res.memory_loaded.current.saturating_sub(res.memory_base.current);
    res.memory_per_transfer = grown as f64 / posted as f64;
    let more = TEN_MILLION.saturating_sub(res.transfers) as f64;
    res.memory_10m = res.memory_loaded.peak as f64 + res.memory_per_transfer * more;
    let per_entry = res.log_disk.allocated as f64 / res.log_entries.max(1) as f64;
    res.disk_10m = res.disk.allocated as f64 + per_entry * more;
    Ok(())
}

/// The standard workload with 10M transfers on a fresh store, and its resources.
fn ten_million(bin: &Path, work: &Path, plan: &Plan, r: &mut Results, progress: &Progress) -> Result<()> {
    let store = Store::init(bin, &work.join("ledgerfs-10m"))?;
    let log = work.join("daemon-10m.log");
    let daemon = Daemon::start(&store, &Launch::default(), &log)?;
    ledger::open_accounts(&daemon.api, plan.accounts)?;
    let base = daemon.memory()?;
    let transfers = workload::transfers(10, "m", plan.accounts, TEN_MILLION);
    sysinfo::sync_all();
    let run = ledger::run(
        &daemon.api,
        "standard-10M",
        &transfers,
        ledger::MAX_BATCH,
        1,
        NO_LIMIT,
        progress,
    )?;
    drop(transfers);
    report_run(progress, &run);
    r.runs.push(run);
    let mut res = Resources {
        memory_base: base,
        memory_loaded: daemon.memory()?,
        log_entries: ledger::log_size(&daemon.api)?,
        ..Resources::default()
    };
    daemon.stop()?;
    fill_resources(&mut res, &store, plan.accounts)?;
    res.memory_10m = res.memory_loaded.peak as f64;
    res.disk_10m = res.disk.allocated as f64;
    res.measured_10m = true;
    sysinfo::sync_all();
    let restarted = Daemon::start(&store, &Launch::default(), &log)?;
    let seconds = restarted.start_time.as_secs_f64();
    restarted.stop()?;
    if let Some(restart) = &mut r.restart {
        restart.seconds_10m = seconds;
        restart.measured_10m = true;
    }
    r.resources = res;
    let _ = std::fs::remove_dir_all(&store.dir);
    Ok(())
}

fn report_run(progress: &Progress, x: &RunResult) {
    let problems = x
        .first_error
        .as_deref()
        .map(|e| format!(" ERROR: {e}"))
        .unwrap_or_default();
    progress.line(&format!(
        "  {:10} {:10} {:>12} transfers/s  p50 {:>9}  p99 {:>9}  p100 {:>9}{problems}",
        x.system.name(),
        x.label,
        rate(x.transfers_per_second),
        micros(x.latency.p50_us),
        micros(x.latency.p99_us),
        micros(x.latency.p100_us)
    ));
}

fn ms(v: Option<f64>) -> String {
    v.map(|v| micros(v * 1_000.0)).unwrap_or_else(|| "—".into())
}

fn write_outputs(r: &Results, out: &Path) -> Result<()> {
    std::fs::create_dir_all(out).context(|| out.display().to_string())?;
    let json = serde_json::to_string_pretty(r).context(|| "serialising results".into())?;
    let path: PathBuf = out.join("results.json");
    std::fs::write(&path, json).context(|| path.display().to_string())?;
    let plots = plots::write_all(r, out)?;
    let path = out.join("report.md");
    std::fs::write(&path, report::render(r, &plots)).context(|| path.display().to_string())?;
    Ok(())
}

fn print_summary(r: &Results, out: &Path) {
    println!("LedgerFS benchmark ({} mode, {:.0} s): targets", r.mode, r.seconds);
    for c in targets::checks(r) {
        println!("  {:58} {:>22}  {}", c.target, c.measured, c.verdict.replace("**", ""));
    }
    for n in &r.notes {
        println!("  note: {n}");
    }
    println!("report: {}", out.join("report.md").display());
}
