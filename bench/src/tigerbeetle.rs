//! Optional comparison: TigerBeetle's own `benchmark` (it starts a single-replica
//! cluster on a temporary data file) with the standard workload's parameters, when
//! `TIGERBEETLE=/path/to/tigerbeetle` is given.

use std::path::Path;
use std::process::Command;

use crate::error::{Context, Result};
use crate::results::TigerBeetleResult;

/// Runs `tigerbeetle benchmark` and picks the figures out of what it prints.
pub fn run(binary: &Path, accounts: u64, transfers: u64, batch: usize, work: &Path) -> Result<TigerBeetleResult> {
    let data = work.join("tigerbeetle.data");
    let args = vec![
        "benchmark".to_string(),
        format!("--account-count={accounts}"),
        format!("--transfer-count={transfers}"),
        format!("--transfer-batch-size={batch}"),
        format!("--file={}", data.display()),
    ];
    let out = Command::new(binary)
        .args(&args)
        .output()
        .context(|| format!("running {}", binary.display()))?;
    let _ = std::fs::remove_file(&data);
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if !out.status.success() {
        return Err(format!(
            "tigerbeetle benchmark failed: {}",
            last_lines(&text, 5).join(" | ")
        ));
    }
    Ok(TigerBeetleResult {
        command: format!("{} {}", binary.display(), args.join(" ")),
        transfers_per_second: figure(&text, "throughput"),
        p99_ms: figure(&text, "batch latency p99"),
        output: last_lines(&text, 12),
    })
}

/// The number after `key ... =` on the first line containing `key`.
fn figure(text: &str, key: &str) -> Option<f64> {
    let line = text.lines().find(|l| l.contains(key))?;
    let value = line.split('=').nth(1)?.trim();
    let digits: String = value
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == '_' || *c == ',')
        .filter(|c| *c != '_' && *c != ',')
        .collect();
    digits.parse().ok()
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

    #[test]
    fn parses_its_summary() {
        let out = "load accepted = 475032 tx/s\nthroughput = 475,032 tx/s\nbatch latency p99 = 32 ms\n";
        assert_eq!(figure(out, "throughput"), Some(475_032.0));
        assert_eq!(figure(out, "batch latency p99"), Some(32.0));
    }
}
