//! Optional comparison with the reference ledger: TigerBeetle's own `benchmark` (it
//! formats a data file and starts a single-replica cluster itself), run when
//! `TIGERBEETLE=/path/to/tigerbeetle` is given, on the same machine in the same run.
//!
//! Three runs, each beside the LedgerFS row of the same workload: the standard one
//! (1M transfers in batches of 8,189, always 1M even in quick mode) and batches of one
//! transfer from 1 and from 32 clients (a bounded count, so each finishes in seconds).
//! The flags are those of TigerBeetle 0.17 (`--transfer-batch-count`, renamed from
//! `--transfer-batch-size`); its summary is `load accepted = N tx/s` and
//! `batch latency pN = N ms`. Every run has a deadline: on expiry its whole process
//! group (the benchmark and the replica it spawned) is killed. The peak resident memory
//! is the larger of `wait4`'s `ru_maxrss` and the sampled sum of the group's RSS.

use std::fs::File;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::{Context, Result};
use crate::results::TigerBeetleRun;

/// Transfers of the standard run (whatever the mode).
pub const STANDARD_TRANSFERS: u64 = 1_000_000;
/// Transfers of each batch-of-one run: about 10 s at the ~1,760/s TigerBeetle reaches
/// with batches of one on a 2-vCPU VM.
pub const SINGLE_TRANSFERS: u64 = 16_000;

/// One TigerBeetle run to make.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spec {
    /// The label of the LedgerFS run it stands beside (`standard-1M`, `b1-c1`, ...).
    pub label: String,
    /// `--transfer-count`.
    pub transfers: u64,
    /// `--transfer-batch-count`.
    pub batch: usize,
    /// `--clients`.
    pub clients: usize,
    /// Killed after this long.
    pub timeout: Duration,
}

/// The standard run and the batch-of-one runs from 1 and 32 clients.
pub fn specs(standard_batch: usize) -> Vec<Spec> {
    let mut v = vec![Spec {
        label: "standard-1M".into(),
        transfers: STANDARD_TRANSFERS,
        batch: standard_batch,
        clients: 1,
        timeout: Duration::from_secs(300),
    }];
    for clients in [1, 32] {
        v.push(Spec {
            label: format!("b1-c{clients}"),
            transfers: SINGLE_TRANSFERS,
            batch: 1,
            clients,
            timeout: Duration::from_secs(120),
        });
    }
    v
}

/// The command-line arguments of one run.
pub fn args(spec: &Spec, accounts: u64, data: &Path) -> Vec<String> {
    vec![
        "benchmark".to_string(),
        format!("--account-count={accounts}"),
        format!("--transfer-count={}", spec.transfers),
        format!("--transfer-batch-count={}", spec.batch),
        format!("--clients={}", spec.clients),
        format!("--file={}", data.display()),
    ]
}

/// Runs `tigerbeetle benchmark` for `spec` in `work`; a failure (refused flags, a
/// crash, the deadline) is recorded in the result's `error`, never fatal to the suite.
pub fn run(binary: &Path, accounts: u64, spec: &Spec, work: &Path) -> TigerBeetleRun {
    let data = work.join(format!("tigerbeetle-{}.data", spec.label));
    let log = work.join(format!("tigerbeetle-{}.log", spec.label));
    let args = args(spec, accounts, &data);
    let mut r = TigerBeetleRun {
        label: spec.label.clone(),
        batch: spec.batch,
        clients: spec.clients,
        transfers: spec.transfers,
        command: format!("{} {}", binary.display(), args.join(" ")),
        ..TigerBeetleRun::default()
    };
    let _ = std::fs::remove_file(&data);
    let outcome = supervise(binary, &args, &log, spec.timeout);
    let _ = std::fs::remove_file(&data);
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    r.summary = summary(&text);
    r.transfers_per_second = figure(&text, "load accepted");
    r.p50_ms = figure(&text, "batch latency p50");
    r.p99_ms = figure(&text, "batch latency p99");
    r.p100_ms = figure(&text, "batch latency p100");
    match outcome {
        Ok(o) => {
            r.seconds = o.elapsed.as_secs_f64();
            r.peak_rss = Some(o.peak_rss);
            if !o.success {
                r.error = Some(format!("{}: {}", o.status, last_lines(&text, 5).join(" | ")));
            } else if r.transfers_per_second.is_none() {
                r.error = Some(format!(
                    "no `load accepted = N tx/s` line in its output: {}",
                    last_lines(&text, 5).join(" | ")
                ));
            }
        }
        Err(e) => r.error = Some(e),
    }
    if r.error.is_none() {
        let _ = std::fs::remove_file(&log);
    }
    r
}

/// How a supervised command ended.
struct Outcome {
    success: bool,
    status: String,
    elapsed: Duration,
    peak_rss: u64,
}

/// A child started in its own process group; dropping it kills the group and reaps it.
struct Group {
    pid: libc::pid_t,
    reaped: bool,
}

impl Group {
    fn kill(&self) {
        // SAFETY: kill has no memory-safety preconditions. Until the leader is reaped
        // its pid (the group id) cannot be reused, so this reaches only our group.
        unsafe {
            libc::kill(-self.pid, libc::SIGKILL);
        }
    }

    /// Whether the leader has exited (left as a zombie, so the pid stays ours).
    fn exited(&self) -> Result<bool> {
        // SAFETY: a zeroed siginfo_t is a valid out-parameter for waitid.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: waitid writes only into `info`; WNOWAIT leaves the child waitable.
        let rc = unsafe {
            libc::waitid(
                libc::P_PID,
                self.pid as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
            )
        };
        if rc == -1 {
            let e = std::io::Error::last_os_error();
            return if e.kind() == std::io::ErrorKind::Interrupted {
                Ok(false)
            } else {
                Err(format!("waitid: {e}"))
            };
        }
        // SAFETY: waitid filled `info` (si_pid stays 0 when nothing has exited).
        Ok(unsafe { info.si_pid() } == self.pid)
    }

    /// Reaps the leader: its wait status and `ru_maxrss` in bytes.
    fn reap(&mut self) -> Result<(i32, u64)> {
        let mut status = 0;
        // SAFETY: a zeroed rusage is a valid out-parameter for wait4.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        loop {
            // SAFETY: wait4 writes only into `status` and `usage`.
            let rc = unsafe { libc::wait4(self.pid, &mut status, 0, &mut usage) };
            if rc == self.pid {
                self.reaped = true;
                return Ok((status, usage.ru_maxrss.max(0) as u64 * 1024));
            }
            let e = std::io::Error::last_os_error();
            if e.kind() != std::io::ErrorKind::Interrupted {
                self.reaped = true;
                return Err(format!("wait4: {e}"));
            }
        }
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        if !self.reaped {
            self.kill();
            let _ = self.reap();
        }
    }
}

/// Runs `binary args` with stdout and stderr into `log`, in its own process group,
/// sampling the group's memory; kills the group after `timeout` (an error then).
fn supervise(binary: &Path, args: &[String], log: &Path, timeout: Duration) -> Result<Outcome> {
    use std::os::unix::process::CommandExt;
    let out = File::create(log).context(|| log.display().to_string())?;
    let err = out.try_clone().context(|| log.display().to_string())?;
    let started = Instant::now();
    let child = Command::new(binary)
        .args(args)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0)
        .spawn()
        .context(|| format!("running {}", binary.display()))?;
    let mut group = Group {
        pid: child.id() as libc::pid_t,
        reaped: false,
    };
    drop(child); // std's Child neither kills nor waits on drop; `group` owns the process now.
    let mut sampled = 0u64;
    loop {
        sampled = sampled.max(group_rss(group.pid));
        if group.exited()? {
            break;
        }
        if started.elapsed() > timeout {
            group.kill();
            let _ = group.reap();
            return Err(format!("timed out after {timeout:?}; killed"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let elapsed = started.elapsed();
    // Anything the benchmark left behind (its replica) goes with it.
    group.kill();
    let (status, maxrss) = group.reap()?;
    let success = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    let status = if libc::WIFEXITED(status) {
        format!("exit status {}", libc::WEXITSTATUS(status))
    } else if libc::WIFSIGNALED(status) {
        format!("killed by signal {}", libc::WTERMSIG(status))
    } else {
        format!("wait status {status}")
    };
    Ok(Outcome {
        success,
        status,
        elapsed,
        peak_rss: maxrss.max(sampled),
    })
}

/// The summed resident memory (VmRSS) of the processes in group `pgid`, in bytes.
fn group_rss(pgid: libc::pid_t) -> u64 {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0;
    };
    let mut total = 0;
    for entry in dir.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().filter(|s| s.bytes().all(|b| b.is_ascii_digit())) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // Fields after the parenthesised name: state, ppid, pgrp, ...
        let pgrp = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(2))
            .and_then(|s| s.parse::<libc::pid_t>().ok());
        if pgrp == Some(pgid) {
            if let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
                total += status
                    .lines()
                    .find_map(|l| l.strip_prefix("VmRSS:"))
                    .and_then(|v| v.split_whitespace().next())
                    .and_then(|v| v.parse::<u64>().ok())
                    .unwrap_or(0)
                    * 1024;
            }
        }
    }
    total
}

/// The number after `key ... =` on the first line containing `key` followed by
/// ` =` (so `p10` does not match `p100`).
fn figure(text: &str, key: &str) -> Option<f64> {
    let value = text.lines().find_map(|l| {
        let at = l.find(key)?;
        l[at + key.len()..].trim_start().strip_prefix('=')
    })?;
    let digits: String = value
        .trim()
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == '_' || *c == ',')
        .filter(|c| *c != '_' && *c != ',')
        .collect();
    digits.parse().ok()
}

/// Its summary: the `load ...`, `batch latency ...` and `query latency ...` figures.
fn summary(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| {
            l.contains(" = ")
                && (l.starts_with("load ") || l.starts_with("batch latency") || l.starts_with("query latency"))
        })
        .map(str::to_string)
        .collect()
}

fn last_lines(text: &str, n: usize) -> Vec<String> {
    let lines: Vec<String> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect();
    lines[lines.len().saturating_sub(n)..].to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `tigerbeetle benchmark` 0.17 prints (log lines on stderr, summary on stdout).
    const SAMPLE: &str = "\
info(benchmark): Benchmark running against { 127.0.0.1:43615 }
info(benchmark): cluster=0 accounts=10000 transfers=1000000 batch=8189
info(benchmark): account batch: 10000 accounts
load offered = 1000000 tx/s
load accepted = 469263 tx/s
batch latency p1 = 5 ms
batch latency p10 = 9 ms
batch latency p50 = 16 ms
batch latency p99 = 33 ms
batch latency p100 = 52 ms
query latency p50 = 4 ms
query latency p100 = 7 ms
info(benchmark): done
";

    #[test]
    fn parses_the_0_17_summary() {
        assert_eq!(figure(SAMPLE, "load accepted"), Some(469_263.0));
        assert_eq!(figure(SAMPLE, "batch latency p50"), Some(16.0));
        assert_eq!(figure(SAMPLE, "batch latency p99"), Some(33.0));
        assert_eq!(figure(SAMPLE, "batch latency p100"), Some(52.0));
        assert_eq!(figure(SAMPLE, "batch latency p1"), Some(5.0));
        assert_eq!(figure("throughput = 475,032 tx/s\n", "load accepted"), None);
        assert_eq!(
            figure("load accepted = 475_032 tx/s\n", "load accepted"),
            Some(475_032.0)
        );
        let s = summary(SAMPLE);
        assert_eq!(s.first().map(String::as_str), Some("load offered = 1000000 tx/s"));
        assert_eq!(s.last().map(String::as_str), Some("query latency p100 = 7 ms"));
        assert!(s.iter().all(|l| !l.starts_with("info")));
    }

    #[test]
    fn the_runs_use_0_17_flags() {
        let specs = specs(8_189);
        assert_eq!(specs.len(), 3);
        let a = args(&specs[0], 10_000, Path::new("/w/tb.data"));
        assert_eq!(
            a,
            [
                "benchmark",
                "--account-count=10000",
                "--transfer-count=1000000",
                "--transfer-batch-count=8189",
                "--clients=1",
                "--file=/w/tb.data"
            ]
        );
        assert!(specs[1..].iter().all(|s| s.batch == 1 && s.transfers <= 20_000));
        assert_eq!(specs[2].label, "b1-c32");
        assert!(args(&specs[2], 10_000, Path::new("x")).contains(&"--clients=32".to_string()));
    }

    /// A fake `tigerbeetle` script, written by a child process: had this process held it
    /// open for writing, another test thread's fork could inherit that descriptor until
    /// its exec, and running the script would fail with ETXTBSY ("Text file busy").
    fn fake(dir: &Path, body: &str) -> std::path::PathBuf {
        use std::io::Write;
        let path = dir.join("tigerbeetle");
        let mut child = std::process::Command::new("sh")
            .arg("-c")
            .arg("cat > \"$0\" && chmod 755 \"$0\"")
            .arg(&path)
            .stdin(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(format!("#!/bin/sh\n{body}\n").as_bytes()).unwrap();
        drop(stdin);
        assert!(child.wait().unwrap().success());
        path
    }

    fn spec(timeout: Duration) -> Spec {
        Spec {
            timeout,
            ..specs(8_189).remove(0)
        }
    }

    #[test]
    fn runs_a_fake_tigerbeetle() {
        let dir = tempfile::tempdir().unwrap();
        let sample = dir.path().join("sample.txt");
        std::fs::write(&sample, SAMPLE).unwrap();
        let bin = fake(
            dir.path(),
            &format!(
                "echo \"$@\" > {args}\nhead -3 {s} >&2\ntail -n +4 {s}",
                args = dir.path().join("args").display(),
                s = sample.display()
            ),
        );
        let r = run(&bin, 10_000, &spec(Duration::from_secs(30)), dir.path());
        assert_eq!(r.error, None);
        let passed = std::fs::read_to_string(dir.path().join("args")).unwrap();
        let data = dir.path().join("tigerbeetle-standard-1M.data");
        assert_eq!(
            passed.trim(),
            format!(
                "benchmark --account-count=10000 --transfer-count=1000000 --transfer-batch-count=8189 \
                 --clients=1 --file={}",
                data.display()
            )
        );
        assert_eq!(r.transfers_per_second, Some(469_263.0));
        assert_eq!((r.p50_ms, r.p99_ms, r.p100_ms), (Some(16.0), Some(33.0), Some(52.0)));
        assert!(r.peak_rss.is_some_and(|b| b > 0), "{:?}", r.peak_rss);
        assert_eq!(r.summary.len(), 9);
        assert!(r.command.ends_with(&format!("--file={}", data.display())));
    }

    #[test]
    fn a_refused_run_is_an_error_with_its_output() {
        let dir = tempfile::tempdir().unwrap();
        let bin = fake(
            dir.path(),
            "echo 'error: unknown argument: --transfer-batch-count' >&2\nexit 1",
        );
        let r = run(&bin, 10_000, &spec(Duration::from_secs(30)), dir.path());
        let e = r.error.unwrap();
        assert!(e.contains("exit status 1") && e.contains("unknown argument"), "{e}");
        assert_eq!(r.transfers_per_second, None);
    }

    #[test]
    fn a_hung_run_is_killed_with_its_children() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("child.pid");
        let bin = fake(
            dir.path(),
            &format!("sleep 60 &\necho $! > {}\nwait", pidfile.display()),
        );
        let started = Instant::now();
        let r = run(&bin, 10_000, &spec(Duration::from_millis(500)), dir.path());
        assert!(started.elapsed() < Duration::from_secs(10));
        assert!(r.error.unwrap().contains("timed out"));
        let pid: i32 = std::fs::read_to_string(&pidfile).unwrap().trim().parse().unwrap();
        // The orphaned `sleep` was killed with the group (reaped by init shortly after).
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok();
            let alive =
                state.is_some_and(|s| !s.rsplit_once(')').is_some_and(|(_, r)| r.trim_start().starts_with('Z')));
            if !alive {
                break;
            }
            assert!(Instant::now() < deadline, "the benchmark's child survived the kill");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
