//! FUSE figures: the daemon mounted with `--mount`; latency of stat + open + read +
//! close of `accounts/<id>/balance.json` and of full level-0 tiles, cold (first access
//! after mount, underlying pages evicted) and cached (repeat), and `cat`-style
//! sequential throughput over every tile file — against the same reads of the store's
//! own files on the local file system, in the same run.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::daemon::{Daemon, Launch, Store};
use crate::error::{Context, Result};
use crate::progress::Progress;
use crate::results::{FileLatency, FuseResult};
use crate::stats::Samples;
use crate::sysinfo;
use crate::workload::{self, Rng};

/// Whether this machine can mount the FUSE view (root and /dev/fuse).
pub fn available() -> std::result::Result<(), String> {
    if !sysinfo::is_root() {
        return Err("not root".into());
    }
    if !Path::new("/dev/fuse").exists() {
        return Err("no /dev/fuse".into());
    }
    Ok(())
}

/// Every file under `dir`, sorted (relative paths).
fn files_under(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).context(|| d.display().to_string())? {
            let path = entry.context(|| d.display().to_string())?.path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(rel) = path.strip_prefix(dir) {
                out.push(rel.to_path_buf());
            }
        }
    }
    out.sort();
    Ok(out)
}

/// stat + open + read whole + close, per path.
fn read_each(paths: &[PathBuf], buf: &mut Vec<u8>) -> Result<Samples> {
    let mut samples = Samples::with_capacity(paths.len());
    for path in paths {
        let started = Instant::now();
        std::fs::metadata(path).context(|| path.display().to_string())?;
        buf.clear();
        File::open(path)
            .and_then(|mut f| f.read_to_end(buf))
            .context(|| path.display().to_string())?;
        samples.push(started.elapsed());
    }
    samples.sort();
    Ok(samples)
}

/// Reads every path sequentially with a 128 KiB buffer; returns MB/s.
fn cat(paths: &[PathBuf]) -> Result<f64> {
    let mut buf = vec![0u8; 128 << 10];
    let mut bytes = 0u64;
    let started = Instant::now();
    for path in paths {
        let mut f = File::open(path).context(|| path.display().to_string())?;
        loop {
            let n = f.read(&mut buf).context(|| path.display().to_string())?;
            if n == 0 {
                break;
            }
            bytes += n as u64;
        }
    }
    Ok(bytes as f64 / 1e6 / started.elapsed().as_secs_f64().max(1e-9))
}

fn evict_all(root: &Path, rels: &[PathBuf]) {
    for rel in rels {
        sysinfo::evict(&root.join(rel));
    }
}

/// Mounts `store` at `mountpoint` and measures; `accounts` is the workload's count.
pub fn measure(
    store: &Store,
    mountpoint: &Path,
    log: &Path,
    accounts: u64,
    files: usize,
    progress: &Progress,
) -> Result<FuseResult> {
    let log_dir = store.log_dir();
    let tiles: Vec<PathBuf> = files_under(&log_dir.join("tile"))?
        .into_iter()
        .map(|p| Path::new("tile").join(p))
        .collect();
    let full_level0: Vec<PathBuf> = tiles
        .iter()
        .filter(|p| p.starts_with("tile/0") && !p.to_string_lossy().contains(".p"))
        .take(files)
        .cloned()
        .collect();
    let mut rng = Rng::new(5);
    let mut ids: Vec<u64> = (0..files).map(|_| rng.below(accounts)).collect();
    ids.sort_unstable();
    ids.dedup();
    let balances: Vec<PathBuf> = ids
        .iter()
        .map(|&i| {
            mountpoint
                .join("accounts")
                .join(workload::account_id(i))
                .join("balance.json")
        })
        .collect();

    evict_all(&log_dir, &tiles);
    let launch = Launch {
        mount: Some(mountpoint.to_path_buf()),
        wrapper: Vec::new(),
    };
    let daemon = Daemon::start(store, &launch, log)?;
    let mut result = FuseResult {
        mount: mount_line(mountpoint),
        ..FuseResult::default()
    };
    measure_mounted(
        &log_dir,
        mountpoint,
        &tiles,
        &full_level0,
        &balances,
        &mut result,
        progress,
    );
    daemon.stop_within(Duration::from_secs(30))?;
    Ok(result)
}

fn measure_mounted(
    log_dir: &Path,
    mountpoint: &Path,
    tiles: &[PathBuf],
    full_level0: &[PathBuf],
    balances: &[PathBuf],
    result: &mut FuseResult,
    progress: &Progress,
) {
    let mut buf = Vec::with_capacity(1 << 20);
    let mut latency = |label: &str, paths: &[PathBuf], result: &mut FuseResult| match read_each(paths, &mut buf) {
        Ok(samples) => result.latencies.push(FileLatency {
            label: label.to_string(),
            latency: samples.summary(),
        }),
        Err(e) => result.errors.push(format!("{label}: {e}")),
    };
    let via_fuse: Vec<PathBuf> = full_level0.iter().map(|p| mountpoint.join("log").join(p)).collect();
    let on_disk: Vec<PathBuf> = full_level0.iter().map(|p| log_dir.join(p)).collect();
    progress.line(&format!(
        "  FUSE: {} balance files, {} full tiles, {} tile files",
        balances.len(),
        full_level0.len(),
        tiles.len()
    ));
    latency("balance.json via FUSE, cold", balances, result);
    latency("balance.json via FUSE, cached", balances, result);
    latency("full tile via FUSE, cold", &via_fuse, result);
    latency("full tile via FUSE, cached", &via_fuse, result);
    evict_all(log_dir, full_level0);
    latency("full tile on ext4, cold", &on_disk, result);
    latency("full tile on ext4, cached", &on_disk, result);

    let fuse_all: Vec<PathBuf> = tiles.iter().map(|p| mountpoint.join("log").join(p)).collect();
    let disk_all: Vec<PathBuf> = tiles.iter().map(|p| log_dir.join(p)).collect();
    result.tile_files = tiles.len() as u64;
    result.tile_bytes = disk_all
        .iter()
        .map(|p| std::fs::metadata(p).map_or(0, |m| m.len()))
        .sum();
    let throughput = |label: &str, paths: &[PathBuf], result: &mut FuseResult| match cat(paths) {
        Ok(mbps) => result.cat.push((label.to_string(), mbps)),
        Err(e) => result.errors.push(format!("{label}: {e}")),
    };
    evict_all(log_dir, tiles);
    throughput("cat via FUSE, cold", &fuse_all, result);
    throughput("cat via FUSE, cached", &fuse_all, result);
    evict_all(log_dir, tiles);
    throughput("cat on ext4, cold", &disk_all, result);
    throughput("cat on ext4, cached", &disk_all, result);
}

/// The /proc/mounts line of the mount point.
fn mount_line(mountpoint: &Path) -> String {
    let target = mountpoint.to_string_lossy();
    std::fs::read_to_string("/proc/mounts")
        .unwrap_or_default()
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some(target.as_ref()))
        .unwrap_or("not found in /proc/mounts")
        .to_string()
}
