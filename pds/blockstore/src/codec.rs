//! Byte-level helpers shared by the superblock and record codecs: fixed
//! little-endian fields and the SHA-256 checksum.
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
