//! Facts about processes and files read from `/proc` and the file system: peak and
//! current resident memory of a process, disk use of a directory, free loopback ports.

use std::net::TcpListener;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::error::{Context, Result};

/// Resident memory of a process, in bytes.
#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub struct Memory {
    /// Peak resident set (VmHWM).
    pub peak: u64,
    /// Current resident set (VmRSS).
    pub current: u64,
}

/// Reads VmHWM and VmRSS of `pid` from `/proc/<pid>/status`.
pub fn memory(pid: u32) -> Result<Memory> {
    let path = format!("/proc/{pid}/status");
    let text = std::fs::read_to_string(&path).context(|| path.clone())?;
    let kib = |key: &str| -> u64 {
        text.lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
            * 1024
    };
    Ok(Memory {
        peak: kib("VmHWM:"),
        current: kib("VmRSS:"),
    })
}

/// Disk use of a directory tree, in bytes.
#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub struct DiskUse {
    /// Blocks allocated (what `du` reports).
    pub allocated: u64,
    /// Sum of file lengths.
    pub apparent: u64,
    /// Regular files.
    pub files: u64,
}

/// Walks `dir` and adds up its files.
pub fn disk_use(dir: &Path) -> Result<DiskUse> {
    let mut total = DiskUse::default();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).context(|| d.display().to_string())? {
            let entry = entry.context(|| d.display().to_string())?;
            let meta = entry.metadata().context(|| entry.path().display().to_string())?;
            if meta.is_dir() {
                stack.push(entry.path());
            } else {
                total.allocated += meta.blocks() * 512;
                total.apparent += meta.len();
                total.files += 1;
            }
        }
    }
    Ok(total)
}

/// A loopback TCP port free right now.
pub fn free_port() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context(|| "binding a loopback port".into())?;
    Ok(listener
        .local_addr()
        .context(|| "reading the bound port".into())?
        .port())
}

/// Whether this process runs as root.
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Flushes every file system (so one system's dirty pages do not bill the next run).
pub fn sync_all() {
    // SAFETY: sync has no preconditions and cannot fail.
    unsafe { libc::sync() }
}

/// Sends `signal` to `pid`.
pub fn signal(pid: u32, signal: i32) {
    // SAFETY: kill has no memory-safety preconditions; a stale pid only fails.
    unsafe {
        libc::kill(pid as libc::pid_t, signal);
    }
}

/// Drops the page cache of one file (clean pages only), so its next read is cold.
pub fn evict(path: &Path) {
    if let Ok(file) = std::fs::File::open(path) {
        use std::os::fd::AsRawFd;
        // SAFETY: a valid open descriptor; the advice only affects caching.
        unsafe {
            libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED);
        }
    }
}
