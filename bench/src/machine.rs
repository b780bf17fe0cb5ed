//! The machine description printed at the top of the report: CPU model, cores, memory,
//! kernel, and the disk and file system the stores live on.

use std::path::Path;

use serde::Serialize;

/// What the figures were measured on.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Machine {
    /// CPU model name.
    pub cpu: String,
    /// Online CPUs.
    pub cores: usize,
    /// Total memory, bytes.
    pub memory: u64,
    /// Kernel release.
    pub kernel: String,
    /// Block device, file system and size of the work directory's disk.
    pub disk: String,
    /// Whether a hypervisor flag is set.
    pub virtualised: bool,
}

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// Describes this machine; `work` is a directory on the disk the stores use.
pub fn describe(work: &Path) -> Machine {
    let cpuinfo = read("/proc/cpuinfo");
    let field = |name: &str| {
        cpuinfo
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_default()
    };
    let meminfo = read("/proc/meminfo");
    let memory = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0)
        * 1024;
    Machine {
        cpu: field("model name"),
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        memory,
        kernel: read("/proc/sys/kernel/osrelease").trim().to_string(),
        disk: disk_of(work),
        virtualised: field("flags").split_whitespace().any(|f| f == "hypervisor"),
    }
}

/// `device (fstype, size, model)` of the mount holding `path`.
fn disk_of(path: &Path) -> String {
    let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let mounts = read("/proc/mounts");
    let best = mounts
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            Some((f.next()?, f.next()?, f.next()?))
        })
        .filter(|(_, mount, _)| path.starts_with(mount))
        .max_by_key(|(_, mount, _)| mount.len());
    let Some((device, mount, fstype)) = best else {
        return "unknown".into();
    };
    let name = device.trim_start_matches("/dev/");
    let base: String = name.trim_end_matches(|c: char| c.is_ascii_digit()).to_string();
    let sys = |file: &str| {
        [name, base.as_str()]
            .iter()
            .map(|n| read(&format!("/sys/block/{n}/{file}")))
            .find(|s| !s.is_empty())
            .unwrap_or_default()
    };
    let sectors: u64 = sys("size").trim().parse().unwrap_or(0);
    let rotational = match sys("queue/rotational").trim() {
        "0" => "non-rotational",
        "1" => "rotational",
        _ => "unknown media",
    };
    let model = sys("device/model").trim().to_string();
    let model = if model.is_empty() {
        String::new()
    } else {
        format!(", {model}")
    };
    format!(
        "{device} mounted at {mount} ({fstype}, {:.0} GB, {rotational}{model})",
        sectors as f64 * 512.0 / 1e9
    )
}
