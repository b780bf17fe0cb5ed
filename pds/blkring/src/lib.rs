//! The block request protocol between the tiles PD (client) and the blk PD (the
//! virtio-blk driver): the descriptor both ends put on their shared rings, the
//! driver's validation of every descriptor it dequeues, and the client's
//! splitting of long reads and writes into requests that fit the data window.
//!
//! Transport (seL4 side, not here): a `sel4-shared-ring-buffer` pair of rings
//! of [`BlkRequest`] (free: client → driver, used: driver → client) plus a
//! data region mapped into both ends; the client enqueues requests and makes
//! a protected call into blk, which serves every queued request before it
//! returns. This crate is the logic both adapters share, `no_std`, sans-IO.
//!
//! Must never: trust a descriptor's numbers before [`validate`] (a peer can
//! write anything into shared memory), or let a request reach past the device
//! or the data window.
#![no_std]
#![deny(unsafe_code)]
#![warn(missing_docs)]

use ledgerfs_blockstore::DeviceError;

/// Bytes per block of the protocol: the block store's block size. The driver
/// maps it onto the device's 512-byte sectors.
pub const BLOCK_SIZE: usize = 4096;

/// The largest data transfer of one request (bytes): bounds the driver's
/// bounce buffers and the data window the client needs.
pub const MAX_REQUEST_BYTES: usize = 1 << 20;

/// What a request asks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Op {
    /// Read `count` blocks from `block` into the data window at `offset`.
    Read = 0,
    /// Write `count` blocks from the data window at `offset` to `block`.
    Write = 1,
    /// Make every completed write durable (virtio-blk FLUSH).
    Flush = 2,
    /// Report the device's size in blocks (answered in `block`).
    Info = 3,
}

impl Op {
    fn from_u32(v: u32) -> Option<Op> {
        Some(match v {
            0 => Op::Read,
            1 => Op::Write,
            2 => Op::Flush,
            3 => Op::Info,
            _ => return None,
        })
    }
}

/// Completion status of a request, as stored in [`BlkRequest::status`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i32)]
pub enum Status {
    /// Not served yet (what the client enqueues).
    Pending = 1,
    /// Done.
    Ok = 0,
    /// The descriptor was malformed: unknown op, zero or oversized count,
    /// misaligned or out-of-window offset.
    Invalid = -1,
    /// The blocks lie outside the device.
    OutOfRange = -2,
    /// The device reported an error.
    Io = -3,
    /// The device cannot do this (e.g. no flush support).
    Unsupported = -4,
}

impl Status {
    /// The status of a raw descriptor field (unknown values read as `Io`).
    pub fn from_i32(v: i32) -> Status {
        match v {
            1 => Status::Pending,
            0 => Status::Ok,
            -1 => Status::Invalid,
            -2 => Status::OutOfRange,
            -4 => Status::Unsupported,
            _ => Status::Io,
        }
    }
}

/// One request or completion on the rings: 32 bytes, `repr(C)`, the same
/// layout in both PDs, any bit pattern valid (zerocopy checks it).
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    zerocopy::FromBytes,
    zerocopy::IntoBytes,
    zerocopy::Immutable,
    zerocopy::KnownLayout,
)]
#[repr(C)]
pub struct BlkRequest {
    /// [`Op`] as a number.
    pub op: u32,
    /// [`Status`] as a number: `Pending` from the client, set by the driver.
    pub status: i32,
    /// The client's tag, returned unchanged (completions are matched by it).
    pub id: u32,
    /// Number of blocks (read/write; 0 otherwise).
    pub count: u32,
    /// First block (read/write); the device's block count in an `Info` reply.
    pub block: u64,
    /// Byte offset of the data in the data window (read/write).
    pub offset: u64,
}

const _: () = assert!(core::mem::size_of::<BlkRequest>() == 32);

impl BlkRequest {
    /// A request as the client enqueues it.
    pub fn new(op: Op, id: u32, block: u64, count: u32, offset: u64) -> BlkRequest {
        BlkRequest {
            op: op as u32,
            status: Status::Pending as i32,
            id,
            count,
            block,
            offset,
        }
    }

    /// This descriptor with its status set (what the driver sends back).
    pub fn completed(mut self, status: Status) -> BlkRequest {
        self.status = status as i32;
        self
    }

    /// The status the driver set.
    pub fn status(&self) -> Status {
        Status::from_i32(self.status)
    }
}

/// A request that passed [`validate`]: every number is in range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Checked {
    /// Read `len` bytes at byte `device_offset` of the device into the data
    /// window at `window_offset`.
    Read {
        /// Byte offset on the device.
        device_offset: u64,
        /// Byte offset in the data window.
        window_offset: usize,
        /// Byte count (a multiple of [`BLOCK_SIZE`], at most [`MAX_REQUEST_BYTES`]).
        len: usize,
    },
    /// Write `len` bytes from the data window at `window_offset` to byte
    /// `device_offset` of the device.
    Write {
        /// Byte offset on the device.
        device_offset: u64,
        /// Byte offset in the data window.
        window_offset: usize,
        /// Byte count.
        len: usize,
    },
    /// Flush the device's write cache.
    Flush,
    /// Report the block count.
    Info,
}

/// The driver's check of a dequeued descriptor against the device's size (in
/// [`BLOCK_SIZE`] blocks) and the data window's length: only a [`Checked`]
/// request reaches the device; anything else is answered with the status.
pub fn validate(req: &BlkRequest, device_blocks: u64, window_len: usize) -> Result<Checked, Status> {
    let op = Op::from_u32(req.op).ok_or(Status::Invalid)?;
    if matches!(op, Op::Flush | Op::Info) {
        return Ok(if op == Op::Flush { Checked::Flush } else { Checked::Info });
    }
    let len = (req.count as usize).checked_mul(BLOCK_SIZE).ok_or(Status::Invalid)?;
    if req.count == 0 || len > MAX_REQUEST_BYTES {
        return Err(Status::Invalid);
    }
    let window_offset = usize::try_from(req.offset).map_err(|_| Status::Invalid)?;
    if window_offset % BLOCK_SIZE != 0 || window_offset.checked_add(len).is_none_or(|end| end > window_len) {
        return Err(Status::Invalid);
    }
    // The byte range must exist on the device and be addressable: a peer may claim a
    // device (or name blocks) past 2^64 bytes, where `block * BLOCK_SIZE` overflows.
    if req
        .block
        .checked_add(u64::from(req.count))
        .is_none_or(|end| end > device_blocks || end.checked_mul(BLOCK_SIZE as u64).is_none())
    {
        return Err(Status::OutOfRange);
    }
    let device_offset = req.block * BLOCK_SIZE as u64;
    Ok(match op {
        Op::Read => Checked::Read {
            device_offset,
            window_offset,
            len,
        },
        _ => Checked::Write {
            device_offset,
            window_offset,
            len,
        },
    })
}

/// The client's view of a completion: `Ok` or the block store's error.
pub fn completion_result(req: &BlkRequest) -> Result<(), DeviceError> {
    match req.status() {
        Status::Ok => Ok(()),
        Status::OutOfRange => Err(DeviceError::OutOfRange),
        _ => Err(DeviceError::Io),
    }
}

/// Splits a transfer of `len` bytes starting at `block` into requests of at
/// most `window` bytes (rounded down to whole blocks, at most
/// [`MAX_REQUEST_BYTES`]): yields `(block, byte range within the transfer)`.
/// `len` must be a multiple of [`BLOCK_SIZE`] (the block store guarantees it).
pub fn chunks(block: u64, len: usize, window: usize) -> impl Iterator<Item = (u64, core::ops::Range<usize>)> {
    let step = (window.min(MAX_REQUEST_BYTES) / BLOCK_SIZE).max(1) * BLOCK_SIZE;
    assert!(len % BLOCK_SIZE == 0, "transfers are whole blocks");
    (0..len).step_by(step).map(move |start| {
        let end = (start + step).min(len);
        (block + (start / BLOCK_SIZE) as u64, start..end)
    })
}

#[cfg(test)]
mod tests;
