//! Byte-level helpers shared by the superblock and record codecs: fixed
//! little-endian fields, the SHA-256 checksum and the payload checksums.
//!
//! Must never: interpret what the fields mean (that is `superblock.rs` and
//! `record.rs`), or read past the slice it is given (it panics instead: the
//! callers pass fixed-size headers).

use sha2::{Digest, Sha256};

/// A SHA-256 checksum (all 32 bytes are kept).
pub(crate) type Sum = [u8; 32];

/// SHA-256 of `bytes`.
pub(crate) fn sum(bytes: &[u8]) -> Sum {
    Sha256::digest(bytes).into()
}

/// SHA-256 of the concatenation of `parts`.
pub(crate) fn sum_parts(parts: &[&[u8]]) -> Sum {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// How a record's payload is checksummed (header byte 11).
///
/// The payload checksum only has to catch torn writes and damaged media: it is
/// not what makes the log trustworthy (that is the Merkle tree and the signed
/// checkpoint, which every reader can check) and, being unkeyed, SHA-256 gave
/// no protection against someone who can rewrite the disk either. XXH3-128
/// catches the same accidents at a fraction of the cost, which under emulation
/// was most of a boot's time (a 32 MB snapshot: ~500,000 SHA-256 blocks).
/// Record headers, the chain and superblocks stay SHA-256.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PayloadSum {
    /// SHA-256 (code 0): every record of format versions 1 to 3.
    Sha256,
    /// XXH3-128, little-endian, then 16 zero bytes (code 1): format version 4.
    Xxh3,
}

impl PayloadSum {
    /// The one new records use.
    pub const CURRENT: PayloadSum = PayloadSum::Xxh3;

    /// Its code in the record header.
    pub fn code(self) -> u8 {
        match self {
            PayloadSum::Sha256 => 0,
            PayloadSum::Xxh3 => 1,
        }
    }

    /// The kind a header's code names, if any.
    pub fn from_code(code: u8) -> Option<PayloadSum> {
        match code {
            0 => Some(PayloadSum::Sha256),
            1 => Some(PayloadSum::Xxh3),
            _ => None,
        }
    }

    /// The checksum of `bytes`.
    pub fn of(self, bytes: &[u8]) -> Sum {
        let mut h = PayloadHasher::new(self);
        h.update(bytes);
        h.finish()
    }

    /// Is `sum` shaped as this kind writes it (XXH3's unused half is zero)?
    pub fn well_formed(self, sum: &Sum) -> bool {
        self == PayloadSum::Sha256 || sum[16..] == [0; 16]
    }
}

/// A payload checksum computed piece by piece (snapshots are written and read
/// in pieces).
#[derive(Clone)]
pub(crate) enum PayloadHasher {
    Sha256(Sha256),
    Xxh3(alloc::boxed::Box<xxhash_rust::xxh3::Xxh3Default>),
}

impl core::fmt::Debug for PayloadHasher {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            PayloadHasher::Sha256(_) => "PayloadHasher::Sha256",
            PayloadHasher::Xxh3(_) => "PayloadHasher::Xxh3",
        })
    }
}

impl PayloadHasher {
    pub fn new(kind: PayloadSum) -> PayloadHasher {
        match kind {
            PayloadSum::Sha256 => PayloadHasher::Sha256(Sha256::new()),
            PayloadSum::Xxh3 => PayloadHasher::Xxh3(alloc::boxed::Box::default()),
        }
    }

    pub fn update(&mut self, bytes: &[u8]) {
        match self {
            PayloadHasher::Sha256(h) => h.update(bytes),
            PayloadHasher::Xxh3(h) => h.update(bytes),
        }
    }

    pub fn finish(self) -> Sum {
        match self {
            PayloadHasher::Sha256(h) => h.finalize().into(),
            PayloadHasher::Xxh3(h) => {
                let mut s = [0u8; 32];
                s[..16].copy_from_slice(&h.digest128().to_le_bytes());
                s
            }
        }
    }
}

pub(crate) fn put_u16(buf: &mut [u8], at: usize, v: u16) {
    buf[at..at + 2].copy_from_slice(&v.to_le_bytes());
}

pub(crate) fn put_u32(buf: &mut [u8], at: usize, v: u32) {
    buf[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

pub(crate) fn put_u64(buf: &mut [u8], at: usize, v: u64) {
    buf[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

pub(crate) fn get_u16(buf: &[u8], at: usize) -> u16 {
    u16::from_le_bytes(buf[at..at + 2].try_into().expect("2 bytes"))
}

pub(crate) fn get_u32(buf: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(buf[at..at + 4].try_into().expect("4 bytes"))
}

pub(crate) fn get_u64(buf: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(buf[at..at + 8].try_into().expect("8 bytes"))
}

/// `N` bytes at `at`, copied out.
pub(crate) fn get_array<const N: usize>(buf: &[u8], at: usize) -> [u8; N] {
    buf[at..at + N].try_into().expect("N bytes")
}

/// Blocks needed for `bytes` bytes (at least one).
pub(crate) fn blocks_for(bytes: usize, block_size: usize) -> u64 {
    assert!(block_size > 0);
    bytes.div_ceil(block_size).max(1) as u64
}
