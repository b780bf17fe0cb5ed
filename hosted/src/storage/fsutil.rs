//! The POSIX write discipline every durable file goes through: write a temporary file,
//! fsync it, rename it into place, fsync the directory. A reader never sees a torn file.
//! Every call goes through an [`Fs`] (the real one, or the simulator's).

use std::path::Path;

use crate::error::{Error, Result};
use crate::storage::fs::Fs;

/// Suffix of temporary files; recovery deletes any it finds.
pub const TMP_SUFFIX: &str = ".tmp";

/// Writes `bytes` to `path` atomically and durably with the given mode.
pub fn write_atomic(fs: &dyn Fs, path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    write_atomic_parts(fs, path, &[bytes], mode)
}

/// [`write_atomic`] of the concatenation of `parts` (written one after another).
pub fn write_atomic_parts(fs: &dyn Fs, path: &Path, parts: &[&[u8]], mode: u32) -> Result<()> {
    let tmp = tmp_path(path);
    fs.write_file(&tmp, parts, mode, true).map_err(|e| Error::io(&tmp, e))?;
    rename_into_place(fs, path)?;
    sync_dir(fs, path.parent().expect("a file has a parent"))
}

/// Writes `path.tmp` (and fsyncs it when `sync`), ready for [`rename_into_place`].
pub fn write_tmp(fs: &dyn Fs, path: &Path, bytes: &[u8], mode: u32, sync: bool) -> Result<()> {
    let tmp = tmp_path(path);
    fs.write_file(&tmp, &[bytes], mode, sync)
        .map_err(|e| Error::io(&tmp, e))
}

/// Renames `path.tmp` over `path`.
pub fn rename_into_place(fs: &dyn Fs, path: &Path) -> Result<()> {
    fs.rename(&tmp_path(path), path).map_err(|e| Error::io(path, e))
}

/// Fsyncs a directory so renames and creations in it are durable.
pub fn sync_dir(fs: &dyn Fs, dir: &Path) -> Result<()> {
    fs.sync_dir(dir).map_err(|e| Error::io(dir, e))
}

/// Flushes every dirty page of the file system holding `path` (one call instead of an
/// fsync per file when a commit writes many files).
pub fn sync_filesystem(fs: &dyn Fs, path: &Path) -> Result<()> {
    fs.sync_fs(path).map_err(|e| Error::io(path, e))
}

/// Creates a directory and its parents.
pub fn create_dir_all(fs: &dyn Fs, dir: &Path) -> Result<()> {
    fs.create_dir_all(dir).map_err(|e| Error::io(dir, e))
}

/// The temporary sibling of `path`.
pub fn tmp_path(path: &Path) -> std::path::PathBuf {
    let mut name = path.file_name().expect("a file name").to_os_string();
    name.push(TMP_SUFFIX);
    path.with_file_name(name)
}

/// Creates `path` with mode 0600 and the given content; fails if it exists.
pub fn write_secret(fs: &dyn Fs, path: &Path, bytes: &[u8]) -> Result<()> {
    fs.write_new_secret(path, bytes).map_err(|e| Error::io(path, e))?;
    sync_dir(fs, path.parent().expect("a file has a parent"))
}

/// Reads a file of the store in `dir`; a missing one means there is no store there.
pub fn read_store_file(dir: &Path, path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::NotInitialised(dir.display().to_string())
        } else {
            Error::io(path, e)
        }
    })
}
