//! Profiles the daemon on a reduced standard workload (a few 8,189-transfer batches plus
//! batch-of-one requests from 8 clients) to name the hot spots the report cites: with
//! `perf record -e cpu-clock` where hardware counters work (`perf stat -e instructions
//! true` counts), else with `valgrind --tool=callgrind` (instruction counts, instrumentation
//! switched on only once the accounts are open; note that under valgrind CPUID hides
//! SHA-NI, so SHA-256 runs in software and weighs more than it does natively).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::daemon::{Daemon, Launch, Store};
use crate::error::{Context, Result};
use crate::http::Api;
use crate::ledger;
use crate::options::Profiler;
use crate::progress::Progress;
use crate::results::{HotSpot, Profile};
use crate::sysinfo;
use crate::workload;

/// Functions listed in the report.
const TOP: usize = 12;

fn succeeds(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stderr).into_owned())
}

/// The profilers `wanted` means on this machine. `Auto` is `perf record` when hardware
/// counters work, else callgrind, plus a `perf record -e cpu-clock` profile when perf
/// runs at all (callgrind cannot see the kernel, where a durable log spends its time).
pub fn choose(wanted: Profiler) -> Vec<Profiler> {
    match wanted {
        Profiler::None => Vec::new(),
        Profiler::Perf | Profiler::Callgrind => vec![wanted],
        Profiler::Auto => {
            let counters = succeeds("perf", &["stat", "-x,", "-e", "instructions", "true"])
                .is_some_and(|text| !text.contains("not supported") && !text.contains("not counted"));
            if counters {
                return vec![Profiler::Perf];
            }
            let mut chosen = Vec::new();
            if succeeds("valgrind", &["--version"]).is_some() {
                chosen.push(Profiler::Callgrind);
            }
            if succeeds("perf", &["record", "-q", "-e", "cpu-clock", "-o", "/dev/null", "true"]).is_some() {
                chosen.push(Profiler::Perf);
            }
            chosen
        }
    }
}

/// Runs the profile on a fresh store under `dir`.
pub fn run(
    profiler: Profiler,
    bin: &Path,
    dir: &Path,
    accounts: u64,
    transfers: u64,
    progress: &Progress,
) -> Result<Profile> {
    std::fs::create_dir_all(dir).context(|| dir.display().to_string())?;
    let store = Store::init(bin, &dir.join("data"))?;
    let out = dir.join(match profiler {
        Profiler::Perf => "perf.data",
        _ => "callgrind.out",
    });
    let wrapper = match profiler {
        Profiler::Callgrind => vec![
            "valgrind".to_string(),
            "--tool=callgrind".into(),
            "--instr-atstart=no".into(),
            "--dump-instr=no".into(),
            format!("--callgrind-out-file={}", out.display()),
        ],
        _ => Vec::new(),
    };
    let launch = Launch { mount: None, wrapper };
    let daemon = Daemon::start(&store, &launch, &dir.join("daemon.log"))?;
    ledger::open_accounts(&daemon.api, accounts)?;
    let perf = match profiler {
        Profiler::Perf => Some(start_perf(daemon.pid(), &out)?),
        _ => {
            callgrind_control(daemon.pid(), "on")?;
            None
        }
    };
    let workload = format!(
        "{transfers} transfers in batches of 8,189 from 1 client, then {} batch-of-one transfers from 8 clients",
        transfers / 20
    );
    progress.line(&format!("  profiling ({profiler:?}): {workload}"));
    let ran = drive(&daemon.api, accounts, transfers, progress);
    if let Some(mut perf) = perf {
        sysinfo::signal(perf.id(), libc::SIGINT);
        let _ = perf.wait();
    }
    let stopped = daemon.stop_within(Duration::from_secs(300));
    ran?;
    stopped?;
    let (tool, functions) = match profiler {
        Profiler::Perf => ("perf record -e cpu-clock (sampled CPU time)", perf_report(&out)?),
        _ => (
            "valgrind --tool=callgrind (instructions executed in user space; under valgrind SHA-256 runs without SHA-NI)",
            callgrind_report(&out)?,
        ),
    };
    Ok(Profile {
        tool: tool.into(),
        workload,
        hot: functions
            .iter()
            .take(TOP)
            .map(|(function, percent)| HotSpot {
                function: shorten(function),
                percent: *percent,
            })
            .collect(),
        components: components(&functions),
    })
}

fn drive(api: &Api, accounts: u64, transfers: u64, progress: &Progress) -> Result<()> {
    let big = workload::transfers(11, "p", accounts, transfers);
    ledger::run(
        api,
        "profile-b8189",
        &big,
        ledger::MAX_BATCH,
        1,
        Duration::from_secs(600),
        progress,
    )?;
    let small = workload::transfers(12, "q", accounts, transfers / 20);
    ledger::run(api, "profile-b1", &small, 1, 8, Duration::from_secs(600), progress)?;
    Ok(())
}

fn start_perf(pid: u32, out: &Path) -> Result<Child> {
    let child = Command::new("perf")
        .args(["record", "-e", "cpu-clock", "-F", "1999", "-g", "-o"])
        .arg(out)
        .args(["-p", &pid.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context(|| "spawning perf record".into())?;
    std::thread::sleep(Duration::from_millis(300));
    Ok(child)
}

fn callgrind_control(pid: u32, instrumentation: &str) -> Result<()> {
    let status = Command::new("callgrind_control")
        .args(["-i", instrumentation, &pid.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .context(|| "running callgrind_control".into())?;
    if status.success() {
        Ok(())
    } else {
        Err("callgrind_control failed".into())
    }
}

fn tool_output(program: &str, args: &[&str], file: &Path) -> Result<String> {
    let out = Command::new(program)
        .args(args)
        .arg(file)
        .output()
        .context(|| format!("running {program}"))?;
    if !out.status.success() {
        return Err(format!("{program} failed: {}", String::from_utf8_lossy(&out.stderr)));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Self cost per function (full name, percent) from `callgrind_annotate`, highest first.
fn callgrind_report(file: &Path) -> Result<Vec<(String, f64)>> {
    let text = tool_output(
        "callgrind_annotate",
        &["--inclusive=no", "--threshold=100", "--auto=no"],
        file,
    )?;
    let mut total = 0f64;
    let mut rows = Vec::new();
    let mut in_table = false;
    for line in text.lines() {
        let line = line.trim();
        if line.contains("PROGRAM TOTALS") {
            total = line
                .split_whitespace()
                .next()
                .unwrap_or("")
                .replace(',', "")
                .parse()
                .unwrap_or(0.0);
            continue;
        }
        if line.ends_with("file:function") {
            in_table = true;
            continue;
        }
        if !in_table || (rows.is_empty() && line.starts_with("--")) {
            continue;
        }
        if line.is_empty() || line.starts_with("--") {
            break;
        }
        let Some((count, rest)) = line.split_once(' ') else {
            continue;
        };
        let Ok(count) = count.replace(',', "").parse::<f64>() else {
            continue;
        };
        let name = rest.trim().split_once(')').map_or(rest, |(_, n)| n).trim();
        let name = name.split(" [").next().unwrap_or(name);
        let function = name.split_once(':').map_or(name, |(_, f)| f);
        rows.push((count, function.to_string()));
    }
    if total <= 0.0 {
        total = rows.iter().map(|r| r.0).sum::<f64>().max(1.0);
    }
    // Inlined code is listed once per source file: add a function's lines up.
    let mut by_function: std::collections::HashMap<String, f64> = std::collections::HashMap::new();
    for (count, function) in rows {
        *by_function.entry(function).or_default() += count;
    }
    let mut out: Vec<(String, f64)> = by_function
        .into_iter()
        .map(|(function, count)| (function, 100.0 * count / total))
        .collect();
    out.sort_by(|a, b| b.1.total_cmp(&a.1));
    Ok(out)
}

/// Self time per symbol (name, percent) from `perf report`, highest first.
fn perf_report(file: &Path) -> Result<Vec<(String, f64)>> {
    let text = tool_output(
        "perf",
        &[
            "report",
            "--stdio",
            "--no-children",
            "--sort",
            "symbol",
            "-g",
            "none",
            "-i",
        ],
        file,
    )?;
    Ok(text
        .lines()
        .filter_map(|l| {
            let l = l.trim();
            let (pct, rest) = l.split_once('%')?;
            let percent: f64 = pct.trim().parse().ok()?;
            let rest = rest.trim();
            let kernel = rest.starts_with("[k]");
            let function = rest.trim_start_matches("[.]").trim_start_matches("[k]").trim();
            // Further columns follow the symbol after a run of spaces.
            let function = function.split("  ").next().unwrap_or(function).trim();
            if function.is_empty() {
                return None;
            }
            let function = if kernel {
                format!("[k] {function}")
            } else {
                function.to_string()
            };
            Some((function, percent))
        })
        .collect())
}

/// Drops nested generic arguments and the symbol hash so names fit a table.
fn shorten(name: &str) -> String {
    let name = name.trim();
    let name = match name.rfind("::h") {
        Some(at) if name.len() - at == 19 && name[at + 3..].bytes().all(|b| b.is_ascii_hexdigit()) => &name[..at],
        _ => name,
    };
    let mut out = String::new();
    let mut depth = 0;
    for c in name.chars() {
        match c {
            '<' => {
                depth += 1;
                if depth == 2 {
                    out.push_str("<…");
                } else if depth < 2 {
                    out.push(c);
                }
            }
            '>' if depth > 0 => {
                if depth <= 2 {
                    out.push(c);
                }
                depth -= 1;
            }
            _ if depth < 2 => out.push(c),
            _ => {}
        }
    }
    out.chars().take(100).collect()
}

/// Self cost grouped by component, by function-name patterns.
fn components(functions: &[(String, f64)]) -> Vec<(String, f64)> {
    const GROUPS: &[(&str, &[&str])] = &[
        (
            "SHA-256 (leaf/node hashes, id fingerprints)",
            &["sha2", "sha256", "compress256"],
        ),
        ("Ed25519 (checkpoint signatures)", &["curve25519", "ed25519"]),
        (
            "JSON parsing and rendering (serde_json)",
            &["serde_json", "serde::", "json"],
        ),
        ("entry encoding, amounts, times", &["ledgerfs_model"]),
        ("sequencer rules and id tables", &["ledgerfs_sequencer", "hashbrown"]),
        ("tiles core (Merkle state, bundles)", &["ledgerfs_tiles"]),
        (
            "HTTP and async runtime (hyper, axum, tokio)",
            &["hyper", "axum", "tokio", "http::"],
        ),
        (
            "memory copy and allocation",
            &["memcpy", "memmove", "memset", "malloc", "free", "realloc", "alloc::"],
        ),
        (
            "kernel (system calls, page cache)",
            &["[k]", "entry_syscall", "do_syscall", "vfs_", "ext4_"],
        ),
    ];
    let mut sums: Vec<(String, f64)> = GROUPS.iter().map(|(n, _)| (n.to_string(), 0.0)).collect();
    let mut other = 0.0;
    for (function, percent) in functions {
        let lower = function.to_ascii_lowercase();
        match GROUPS
            .iter()
            .position(|(_, keys)| keys.iter().any(|k| lower.contains(&k.to_ascii_lowercase())))
        {
            Some(i) => sums[i].1 += percent,
            None => other += percent,
        }
    }
    sums.push(("other".into(), other));
    sums.retain(|s| s.1 >= 0.05);
    sums.sort_by(|a, b| b.1.total_cmp(&a.1));
    sums
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shortens_symbols() {
        assert_eq!(
            shorten(
                "<serde_json::de::Deserializer<R> as serde::de::Deserializer>::deserialize_struct::h0123456789abcdef"
            ),
            "<serde_json::de::Deserializer<…> as serde::de::Deserializer>::deserialize_struct"
        );
        assert_eq!(
            shorten("ledgerfs_model::entry::decode"),
            "ledgerfs_model::entry::decode"
        );
    }
}
