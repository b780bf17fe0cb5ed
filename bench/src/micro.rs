//! Collects the criterion micro benchmarks (`cargo bench`, run by the Makefile just
//! before this binary, which clears criterion's directory first so no stale figure is
//! mixed in) from criterion's `new/benchmark.json` and `new/estimates.json`.

use std::path::Path;

use serde_json::Value;

use crate::results::MicroResult;

/// Every benchmark result under `dir`.
pub fn collect(dir: &Path) -> Vec<MicroResult> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.file_name().is_some_and(|n| n == "benchmark.json")
                && path.parent().is_some_and(|p| p.ends_with("new"))
            {
                found.extend(read_one(&path));
            }
        }
    }
    found.sort_by(|a, b| a.id.cmp(&b.id));
    found
}

fn read_one(benchmark: &Path) -> Option<MicroResult> {
    let parse = |p: &Path| -> Option<Value> { serde_json::from_slice(&std::fs::read(p).ok()?).ok() };
    let meta = parse(benchmark)?;
    let estimates = parse(&benchmark.with_file_name("estimates.json"))?;
    Some(MicroResult {
        id: meta["full_id"].as_str()?.to_string(),
        mean_ns: estimates["mean"]["point_estimate"].as_f64()?,
        elements: meta["throughput"]["Elements"].as_u64().unwrap_or(1),
    })
}
