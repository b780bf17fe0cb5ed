//! The block device the store runs on: the only way out of this crate.
//!
//! The seL4 tiles PD implements [`BlockDevice`] by turning each call into a
//! request on its virtio-blk ring and waiting for the completion; tests use a
//! simulated device; a host tool can wrap a disk image file.
//!
//! This module must never grow IO, caching or retries of its own: it only
//! states the contract the layout logic relies on.

use core::fmt;

/// A raw block device with a volatile write cache.
///
/// The layout relies on exactly this contract:
/// - `read` returns the bytes most recently written to each block (or zeros
///   for a block never written, or anything at all after media damage: every
///   byte the store trusts is checksummed);
/// - a `write` is not durable until a later `flush` has *completed*; writes
///   issued since the last completed flush may reach the media in any order,
///   partly, or not at all when power is cut, and the block being written at
///   that moment may be torn at any byte;
/// - `flush` returns only when every write issued before it is durable.
pub trait BlockDevice {
    /// Bytes per block: a power of two in `512..=65536` (checked by
    /// [`crate::BlockStore::format`] and `open`). The format records it.
    const BLOCK_SIZE: usize = 4096;

    /// Number of blocks on the device.
    fn block_count(&self) -> u64;

    /// Read `buf.len() / BLOCK_SIZE` consecutive blocks starting at `block`.
    /// `buf.len()` is always a non-zero multiple of `BLOCK_SIZE` and the range
    /// lies inside the device; an adapter splits long requests as it needs.
    fn read(&mut self, block: u64, buf: &mut [u8]) -> Result<(), DeviceError>;

    /// Write `buf.len() / BLOCK_SIZE` consecutive blocks starting at `block`
    /// (same shape rules as `read`). Not durable before the next `flush`.
    fn write(&mut self, block: u64, buf: &[u8]) -> Result<(), DeviceError>;

    /// Make every earlier write durable; returns only once they are.
    fn flush(&mut self) -> Result<(), DeviceError>;
}

/// Why a device request failed. The store never retries on its own: it
/// reports the error and keeps every committed byte untouched.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DeviceError {
    /// The device reported an I/O error (or went away).
    Io,
    /// A request named blocks outside the device (a store bug or a device
    /// that shrank).
    OutOfRange,
    /// The backing storage has no space left (a thin-provisioned volume or a
    /// sparse image on a full host file system). The store reports it as
    /// [`crate::Error::DeviceFull`].
    NoSpace,
}

impl DeviceError {
    /// Stable machine-readable code for logs, metrics and tests.
    pub fn code(&self) -> &'static str {
        match self {
            DeviceError::Io => "io",
            DeviceError::OutOfRange => "out_of_range",
            DeviceError::NoSpace => "no_space",
        }
    }
}

impl fmt::Display for DeviceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            DeviceError::Io => "block device I/O error",
            DeviceError::OutOfRange => "block request outside the device",
            DeviceError::NoSpace => "block device backing storage is full",
        };
        write!(f, "{}: {}", self.code(), text)
    }
}

impl core::error::Error for DeviceError {}
