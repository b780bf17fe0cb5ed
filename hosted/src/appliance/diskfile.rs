//! A disk image file as a `ledgerfs_blockstore::BlockDevice`: the host's view of the
//! appliance's raw disk (QEMU `-drive file=…,format=raw`), so host tools run the very
//! blockstore core the tiles protection domain runs. Reads are `pread`, writes `pwrite`,
//! `flush` is `fdatasync`; the block size is the appliance's, 4096 bytes.
//!
//! Must never: cache, reorder or retry requests (the blockstore's crash-consistency
//! argument is about exactly the device contract), or write through a read-only handle.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use ledgerfs_blockstore::{BlockDevice, DeviceError};

use crate::error::{Error, Result};

/// Bytes per block of an appliance disk (the blockstore default).
pub const BLOCK_SIZE: usize = 4096;

/// A raw disk image file used as a block device of `len / 4096` blocks (a trailing
/// partial block is not part of the device).
#[derive(Debug)]
pub struct DiskFile {
    file: File,
    path: PathBuf,
    blocks: u64,
    writable: bool,
    last_error: LastError,
}

/// What the OS said about a disk's last failed request, shared with whoever holds the
/// handle: `DeviceError` carries only a code (the blockstore core is `no_std`) and the
/// core owns the device, so this is how a tool prints the real cause.
#[derive(Clone, Debug, Default)]
pub struct LastError(Arc<Mutex<Option<String>>>);

impl LastError {
    /// The last failure's description, if any request failed.
    pub fn get(&self) -> Option<String> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn set(&self, text: String) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(text);
    }
}

impl DiskFile {
    /// Opens an existing image for reading only (what `image export` uses: export must
    /// not change a byte of the disk). Writes and flushes fail with `DeviceError::Io`.
    pub fn open_read_only(path: &Path) -> Result<DiskFile> {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        DiskFile::new(file, path, false)
    }

    /// Opens an existing image for reading and writing (host tools and tests that
    /// build or repair a disk).
    pub fn open_read_write(path: &Path) -> Result<DiskFile> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(|e| Error::io(path, e))?;
        DiskFile::new(file, path, true)
    }

    /// Creates a new, sparse image of `blocks` blocks (refusing to overwrite a file), for
    /// tests and for preparing an appliance disk on the host.
    pub fn create(path: &Path, blocks: u64) -> Result<DiskFile> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(|e| Error::io(path, e))?;
        file.set_len(blocks * BLOCK_SIZE as u64)
            .map_err(|e| Error::io(path, e))?;
        DiskFile::new(file, path, true)
    }

    fn new(file: File, path: &Path, writable: bool) -> Result<DiskFile> {
        let meta = file.metadata().map_err(|e| Error::io(path, e))?;
        if !meta.is_file() {
            // Block devices report length 0 through metadata; only image files for now.
            return Err(Error::Image(format!("{}: not a regular file", path.display())));
        }
        Ok(DiskFile {
            file,
            path: path.to_path_buf(),
            blocks: meta.len() / BLOCK_SIZE as u64,
            writable,
            last_error: LastError::default(),
        })
    }

    /// The image's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A handle on the description of the last failed request (it stays valid after
    /// the device is handed to a `BlockStore`).
    pub fn last_error(&self) -> LastError {
        self.last_error.clone()
    }

    /// Byte offset of `block` after checking that `len` bytes from it lie on the device
    /// and are whole blocks.
    fn offset(&self, block: u64, len: usize) -> std::result::Result<u64, DeviceError> {
        let count = (len / BLOCK_SIZE) as u64;
        if len == 0 || len % BLOCK_SIZE != 0 || block.checked_add(count).is_none_or(|end| end > self.blocks) {
            return Err(DeviceError::OutOfRange);
        }
        Ok(block * BLOCK_SIZE as u64)
    }

    fn failed(&self, what: &str, e: io::Error) -> DeviceError {
        self.last_error.set(format!("{}: {what}: {e}", self.path.display()));
        match e.raw_os_error() {
            Some(libc::ENOSPC) | Some(libc::EDQUOT) => DeviceError::NoSpace,
            _ => DeviceError::Io,
        }
    }

    fn check_writable(&self, what: &str) -> std::result::Result<(), DeviceError> {
        if self.writable {
            return Ok(());
        }
        self.last_error
            .set(format!("{}: {what}: opened read-only", self.path.display()));
        Err(DeviceError::Io)
    }
}

impl BlockDevice for DiskFile {
    const BLOCK_SIZE: usize = BLOCK_SIZE;

    fn block_count(&self) -> u64 {
        self.blocks
    }

    fn read(&mut self, block: u64, buf: &mut [u8]) -> std::result::Result<(), DeviceError> {
        let at = self.offset(block, buf.len())?;
        self.file
            .read_exact_at(buf, at)
            .map_err(|e| self.failed(&format!("read of block {block}"), e))
    }

    fn write(&mut self, block: u64, buf: &[u8]) -> std::result::Result<(), DeviceError> {
        self.check_writable("write")?;
        let at = self.offset(block, buf.len())?;
        self.file
            .write_all_at(buf, at)
            .map_err(|e| self.failed(&format!("write of block {block}"), e))
    }

    fn flush(&mut self) -> std::result::Result<(), DeviceError> {
        self.check_writable("flush")?;
        self.file.sync_data().map_err(|e| self.failed("fdatasync", e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> PathBuf {
        let path = std::env::temp_dir().join(format!("ledgerfs-diskfile-{name}-{}", std::process::id()));
        let _ = std::fs::remove_file(&path);
        path
    }

    #[test]
    fn reads_back_what_it_wrote_and_checks_ranges() {
        let path = temp("rw");
        let mut disk = DiskFile::create(&path, 4).unwrap();
        assert_eq!(disk.block_count(), 4);
        let block = vec![7u8; BLOCK_SIZE * 2];
        disk.write(2, &block).unwrap();
        disk.flush().unwrap();
        let mut back = vec![0u8; BLOCK_SIZE * 2];
        disk.read(2, &mut back).unwrap();
        assert_eq!(back, block);
        assert_eq!(disk.read(3, &mut back), Err(DeviceError::OutOfRange));
        assert_eq!(disk.write(0, &[0u8; 100]), Err(DeviceError::OutOfRange));
        drop(disk);

        let mut ro = DiskFile::open_read_only(&path).unwrap();
        ro.read(2, &mut back).unwrap();
        assert_eq!(back, block);
        assert_eq!(ro.write(0, &block[..BLOCK_SIZE]), Err(DeviceError::Io));
        assert_eq!(ro.flush(), Err(DeviceError::Io));
        assert!(ro.last_error().get().unwrap().contains("read-only"));
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn a_trailing_partial_block_is_not_part_of_the_device() {
        let path = temp("partial");
        std::fs::write(&path, vec![0u8; BLOCK_SIZE * 3 + 100]).unwrap();
        assert_eq!(DiskFile::open_read_only(&path).unwrap().block_count(), 3);
        std::fs::remove_file(&path).unwrap();
    }
}
