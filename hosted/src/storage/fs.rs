//! Every write, sync, rename and removal the store makes goes through [`Fs`], so the
//! deterministic simulator (`sim/`) can run the real storage code on a file system that
//! loses what was not synced, tears the last write and injects `EIO`/`ENOSPC`. Reads
//! stay plain `std::fs`: the simulator keeps the real directory equal to what a reader
//! would see and rolls it back to what a power cut would leave.

use std::fmt::Debug;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::Path;
use std::sync::{Arc, OnceLock};

/// The mutating file-system calls of the store (POSIX semantics: data is durable after
/// a sync of its file or of the file system; a name after a sync of its directory or
/// of the file system).
pub trait Fs: Send + Sync + Debug {
    /// `mkdir -p`.
    fn create_dir_all(&self, dir: &Path) -> io::Result<()>;
    /// Creates or truncates `path`, writes the `parts` one after another (mode for a new
    /// file), and `fdatasync`s it when `sync`.
    fn write_file(&self, path: &Path, parts: &[&[u8]], mode: u32, sync: bool) -> io::Result<()>;
    /// Creates `path` (which must not exist) with mode 0600, writes and fsyncs it.
    fn write_new_secret(&self, path: &Path, bytes: &[u8]) -> io::Result<()>;
    /// Writes `bytes` at `offset` of the existing file `path`, then `fdatasync`s it.
    fn write_at_synced(&self, path: &Path, offset: u64, bytes: &[u8]) -> io::Result<()>;
    /// Creates `path` as `len` zero bytes, fsynced (a preallocated journal segment).
    fn create_zeroed(&self, path: &Path, len: u64) -> io::Result<()>;
    /// `rename(2)`.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// `unlink(2)`.
    fn remove_file(&self, path: &Path) -> io::Result<()>;
    /// `rm -r`.
    fn remove_dir_all(&self, dir: &Path) -> io::Result<()>;
    /// fsync of a directory: its names (creations, renames, removals) become durable.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
    /// `syncfs(2)` of the file system holding `path`: everything becomes durable.
    fn sync_fs(&self, path: &Path) -> io::Result<()>;
}

/// The real file system.
#[derive(Debug, Default)]
pub struct Posix;

/// The process-wide handle on the real file system.
pub fn posix() -> Arc<dyn Fs> {
    static POSIX: OnceLock<Arc<dyn Fs>> = OnceLock::new();
    POSIX.get_or_init(|| Arc::new(Posix)).clone()
}

impl Fs for Posix {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        fs::create_dir_all(dir)
    }

    fn write_file(&self, path: &Path, parts: &[&[u8]], mode: u32, sync: bool) -> io::Result<()> {
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(path)?;
        for part in parts {
            file.write_all(part)?;
        }
        if sync {
            file.sync_data()?;
        }
        Ok(())
    }

    fn write_new_secret(&self, path: &Path, bytes: &[u8]) -> io::Result<()> {
        let mut file = OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
        file.write_all(bytes)?;
        file.sync_all()
    }

    fn write_at_synced(&self, path: &Path, offset: u64, bytes: &[u8]) -> io::Result<()> {
        // Opened for each write and closed after it: no descriptor open for writing
        // keeps the file system from being remounted read-only under the daemon.
        let file = OpenOptions::new().write(true).open(path)?;
        file.write_all_at(bytes, offset)?;
        file.sync_data()
    }

    fn create_zeroed(&self, path: &Path, len: u64) -> io::Result<()> {
        let mut file = File::create(path)?;
        let zeros = vec![0u8; (1 << 20).min(len as usize).max(1)];
        let mut left = len;
        while left > 0 {
            let n = left.min(zeros.len() as u64) as usize;
            file.write_all(&zeros[..n])?;
            left -= n as u64;
        }
        file.sync_all()
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        fs::rename(from, to)
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        fs::remove_file(path)
    }

    fn remove_dir_all(&self, dir: &Path) -> io::Result<()> {
        fs::remove_dir_all(dir)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        File::open(dir)?.sync_all()
    }

    fn sync_fs(&self, path: &Path) -> io::Result<()> {
        use std::os::fd::AsRawFd;
        let dir = File::open(path)?;
        // SAFETY: syncfs takes a valid open descriptor and has no memory effects.
        if unsafe { libc::syncfs(dir.as_raw_fd()) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}
