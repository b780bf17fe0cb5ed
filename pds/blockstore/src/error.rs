//! The store's one error type, with stable snake_case codes.
//!
//! Must never: change an existing code (the tiles PD, host tools and metrics
//! match on them), or carry tile contents.

use core::fmt;

use ledgerfs_tiles::TilePath;

use crate::device::DeviceError;

/// Why a store operation failed. After any error nothing committed is lost:
/// the last checkpoint whose `swap_checkpoint` returned `Ok` and every file it
/// covers stay readable, on this boot and the next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    /// The device failed a request (anything but [`DeviceError::NoSpace`]).
    Device(DeviceError),
    /// The data area has no room for this record plus the reserve a
    /// checkpoint record needs, or the device's backing storage is full
    /// ([`DeviceError::NoSpace`]; then `needed` and `free` are both 0).
    /// From `put`/`sync`, everything staged since the last checkpoint was
    /// discarded and the host rolls back; nothing committed is touched.
    DeviceFull {
        /// Blocks the write needed (record and checkpoint reserve).
        needed: u64,
        /// Blocks left in the data area.
        free: u64,
    },
    /// Neither superblock is valid: the device was never formatted (or both
    /// superblocks were destroyed, which one crash cannot do).
    NotFormatted,
    /// The device or the format does not fit: block size not supported or
    /// not the one recorded, device too small or smaller than at format.
    Geometry {
        /// What does not fit.
        reason: &'static str,
    },
    /// Data that a durable superblock vouches for fails its checks (media
    /// damage or tampering). The store refuses to guess.
    Corrupt {
        /// First block of the bad record or superblock.
        block: u64,
        /// Which check failed.
        reason: &'static str,
    },
    /// A payload is larger than its kind allows (see the `MAX_*_LEN` limits).
    RecordTooLarge {
        /// Payload bytes given.
        len: usize,
        /// Largest payload allowed for this kind.
        max: usize,
    },
    /// A full tile covered by the last checkpoint was put again with
    /// different bytes; full tiles are immutable once committed.
    ImmutableRewrite {
        /// The tile.
        path: TilePath,
    },
    /// The in-memory index already holds its limit of distinct files
    /// ([`crate::Limits::max_index_entries`]).
    IndexFull {
        /// The limit.
        max: usize,
    },
    /// A snapshot write out of order: begun with something staged or no
    /// checkpoint, given more or fewer bytes than it announced, or finished
    /// without being begun. Nothing committed is touched.
    SnapshotOrder {
        /// Which rule the call broke.
        reason: &'static str,
    },
}

impl Error {
    /// Stable machine-readable code for logs, metrics and tests.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Device(_) => "device",
            Error::DeviceFull { .. } => "device_full",
            Error::NotFormatted => "not_formatted",
            Error::Geometry { .. } => "geometry",
            Error::Corrupt { .. } => "corrupt",
            Error::RecordTooLarge { .. } => "record_too_large",
            Error::ImmutableRewrite { .. } => "immutable_rewrite",
            Error::IndexFull { .. } => "index_full",
            Error::SnapshotOrder { .. } => "snapshot_order",
        }
    }
}

impl From<DeviceError> for Error {
    fn from(e: DeviceError) -> Self {
        match e {
            DeviceError::NoSpace => Error::DeviceFull { needed: 0, free: 0 },
            other => Error::Device(other),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.code())?;
        match self {
            Error::Device(e) => write!(f, "{e}"),
            Error::DeviceFull { needed: 0, free: 0 } => {
                f.write_str("the device's backing storage is full; nothing committed was lost")
            }
            Error::DeviceFull { needed, free } => {
                write!(
                    f,
                    "no room: {needed} blocks needed, {free} free; nothing committed was lost"
                )
            }
            Error::NotFormatted => f.write_str("no valid superblock (format the device first)"),
            Error::Geometry { reason } => f.write_str(reason),
            Error::Corrupt { block, reason } => write!(f, "block {block}: {reason}"),
            Error::RecordTooLarge { len, max } => write!(f, "payload of {len} bytes exceeds {max}"),
            Error::ImmutableRewrite { path } => {
                write!(f, "{path}: committed full tile put again with different bytes")
            }
            Error::IndexFull { max } => write!(f, "index holds its limit of {max} files"),
            Error::SnapshotOrder { reason } => f.write_str(reason),
        }
    }
}

impl core::error::Error for Error {}
