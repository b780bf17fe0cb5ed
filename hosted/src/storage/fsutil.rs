//! The POSIX write discipline every durable file goes through: write a temporary file,
//! fsync it, rename it into place, fsync the directory. A reader never sees a torn file.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use crate::error::{Error, Result};

/// Suffix of temporary files; recovery deletes any it finds.
pub const TMP_SUFFIX: &str = ".tmp";

/// Writes `bytes` to `path` atomically and durably with the given mode.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    write_tmp(path, bytes, mode, true)?;
    rename_into_place(path)?;
    sync_dir(path.parent().expect("a file has a parent"))
}

/// Writes `path.tmp` (and fsyncs it when `sync`), ready for [`rename_into_place`].
pub fn write_tmp(path: &Path, bytes: &[u8], mode: u32, sync: bool) -> Result<()> {
    let tmp = tmp_path(path);
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&tmp)
        .map_err(|e| Error::io(&tmp, e))?;
    file.write_all(bytes).map_err(|e| Error::io(&tmp, e))?;
    if sync {
        file.sync_data().map_err(|e| Error::io(&tmp, e))?;
    }
    Ok(())
}

/// Renames `path.tmp` over `path`.
pub fn rename_into_place(path: &Path) -> Result<()> {
    fs::rename(tmp_path(path), path).map_err(|e| Error::io(path, e))
}

/// Fsyncs a directory so renames and creations in it are durable.
pub fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(dir, e))
}

/// Flushes every dirty page of the file system holding `path` (one call instead of an
/// fsync per file when a commit writes many files).
pub fn sync_filesystem(path: &Path) -> Result<()> {
    use std::os::fd::AsRawFd;
    let dir = File::open(path).map_err(|e| Error::io(path, e))?;
    // SAFETY: syncfs takes a valid open descriptor and has no memory effects.
    let rc = unsafe { libc::syncfs(dir.as_raw_fd()) };
    if rc != 0 {
        return Err(Error::io(path, std::io::Error::last_os_error()));
    }
    Ok(())
}

/// The temporary sibling of `path`.
pub fn tmp_path(path: &Path) -> std::path::PathBuf {
    let mut name = path.file_name().expect("a file name").to_os_string();
    name.push(TMP_SUFFIX);
    path.with_file_name(name)
}

/// Creates `path` with mode 0600 and the given content; fails if it exists.
pub fn write_secret(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| Error::io(path, e))?;
    file.write_all(bytes)
        .and_then(|_| file.sync_all())
        .map_err(|e| Error::io(path, e))?;
    sync_dir(path.parent().expect("a file has a parent"))
}

/// Reads a file of the store in `dir`; a missing one means there is no store there.
pub fn read_store_file(dir: &Path, path: &Path) -> Result<String> {
    fs::read_to_string(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::NotInitialised(dir.display().to_string())
        } else {
            Error::io(path, e)
        }
    })
}
