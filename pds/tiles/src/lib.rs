//! LedgerFS tiles core: the RFC 6962 Merkle state of an append-only log, stored
//! exactly in the C2SP tlog-tiles format (<https://c2sp.org/tlog-tiles>).
//!
//! What this crate is for:
//! - hashing ([`leaf_hash`], [`node_hash`], [`empty_root`]) as RFC 6962 §2.1 says;
//! - naming tiles and entry bundles ([`TilePath`], [`tiles_for_size`]);
//! - the appender state machine ([`TileLog`]) that turns appended entries into
//!   the immutable full tiles and the partial right-edge tiles a verifier reads;
//! - reading hashes back out of stored tiles ([`TileHashReader`]) to build
//!   RFC 6962 / RFC 9162 inclusion and consistency proofs, and checking them;
//! - full offline verification of a stored tree ([`verify_tree`]).
//!
//! What it must never do: it is `#![no_std]` and sans-IO. It never touches
//! threads, files, clocks or syscalls; all storage goes through the narrow
//! [`TileReader`] / [`TileStore`] traits that the host implements.
//!
//! Limits: a tree holds at most [`MAX_TREE_SIZE`] = 2^63 entries, so hash
//! tiles exist at levels 0..=7 only ([`MAX_LEVELS`]); one entry is at most
//! [`MAX_ENTRY_LEN`] bytes (the entry bundle format's u16 length prefix).
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;
#[cfg(test)]
extern crate std;

mod bundle;
mod edge;
mod entries;
mod error;
mod hashes;
mod log;
mod path;
mod proof;
mod store;
mod verify;
mod writer;

#[cfg(test)]
mod testutil;

pub use bundle::{bundle_push, BundleIter};
pub use entries::read_entries;
pub use error::{ProofError, TileError, VerifyError, VerifyReason};
pub use hashes::{stored_node_hash, tree_root_from_tiles, TileHashReader};
pub use log::{TileLog, TileWrite, MAX_INFLIGHT_COMMITS};
pub use path::{partial_tiles_for_size, tiles_for_size, TileKind, TilePath};
pub use proof::{consistency_proof, inclusion_proof, verify_consistency, verify_inclusion};
pub use store::{MemStore, TileReader, TileStore};
pub use verify::verify_tree;
pub use writer::{CommitError, CommitFailure, LogWriter, PendingStep, SignedHead};

use sha2::{Digest, Sha256};

/// A SHA-256 Merkle tree hash; every hash in a tile is one of these.
pub type Hash = [u8; 32];

/// Height in Merkle levels of the subtree one tile covers (C2SP fixes it at 8).
pub const TILE_HEIGHT: u8 = 8;

/// Number of hashes in a full tile and of entries in a full bundle (2^TILE_HEIGHT).
pub const TILE_WIDTH: u64 = 256;

/// Largest entry an entry bundle can hold: its length prefix is a big-endian u16.
pub const MAX_ENTRY_LEN: usize = 65_535;

/// Largest tree this crate handles: 2^63 entries. Keeping sizes below 2^63
/// keeps every `size`/`index` arithmetic (shifts, `+ 1`, `* 256`) in range.
pub const MAX_TREE_SIZE: u64 = 1 << 63;

/// Number of hash-tile levels a tree of at most [`MAX_TREE_SIZE`] entries can
/// have: level 7 tiles cover 2^56 entries per hash, so level 8 never exists.
pub const MAX_LEVELS: usize = 8;

/// Bytes in a full hash tile (256 hashes of 32 bytes).
pub const FULL_TILE_BYTES: usize = 8_192;

// Compile-time limits: the top level (MAX_LEVELS - 1) exists in a full-size
// tree but its tile can never fill, so no level MAX_LEVELS is ever needed.
const _: () = assert!(MAX_TREE_SIZE >> (8 * (MAX_LEVELS - 1)) > 0);
const _: () = assert!(MAX_TREE_SIZE >> (8 * (MAX_LEVELS - 1)) < TILE_WIDTH);
const _: () = assert!(TILE_WIDTH == 1 << TILE_HEIGHT);
const _: () = assert!(FULL_TILE_BYTES == 32 * TILE_WIDTH as usize);

/// RFC 6962 leaf hash: SHA-256(0x00 || entry). Every level-0 tile entry is one.
#[inline]
pub fn leaf_hash(entry: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(entry);
    h.finalize().into()
}

/// SHA-256 initial state (FIPS 180-4 §5.3.3), for the two-block fast path.
const SHA256_IV: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

/// RFC 6962 interior node hash: SHA-256(0x01 || left || right).
///
/// The input is always 65 bytes, so this pads it by hand into two blocks and
/// calls the compression function directly (SHA-NI on x86 when present).
#[inline]
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut blocks = [[0u8; 64]; 2];
    {
        let b0 = &mut blocks[0];
        b0[0] = 0x01;
        b0[1..33].copy_from_slice(left);
        b0[33..64].copy_from_slice(&right[..31]);
    }
    {
        let b1 = &mut blocks[1];
        b1[0] = right[31];
        b1[1] = 0x80;
        // Message length in bits: 65 * 8 = 520, big-endian in the last 8 bytes.
        b1[56..64].copy_from_slice(&520u64.to_be_bytes());
    }
    let mut state = SHA256_IV;
    sha2::block_api::compress256(&mut state, &blocks);
    let mut out = [0u8; 32];
    for (chunk, word) in out.chunks_exact_mut(4).zip(state.iter()) {
        chunk.copy_from_slice(&word.to_be_bytes());
    }
    out
}

/// Root of the empty tree: SHA-256 of the empty string (RFC 6962 §2.1), not zeros.
#[inline]
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::hex;

    #[test]
    fn empty_root_is_sha256_of_nothing() {
        assert_eq!(
            empty_root(),
            hex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        );
    }

    #[test]
    fn leaf_hash_of_empty_entry() {
        assert_eq!(
            leaf_hash(b""),
            hex("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d")
        );
    }

    #[test]
    fn node_hash_fast_path_matches_digest() {
        let mut l = [0u8; 32];
        let mut r = [0u8; 32];
        for i in 0..32u8 {
            l[usize::from(i)] = i.wrapping_mul(7).wrapping_add(3);
            r[usize::from(i)] = i.wrapping_mul(13) ^ 0xa5;
        }
        for round in 0..64u8 {
            l[usize::from(round % 32)] ^= round;
            r[usize::from(round / 2)] = r[usize::from(round / 2)].wrapping_add(round);
            let mut d = Sha256::new();
            d.update([1u8]);
            d.update(l);
            d.update(r);
            let want: Hash = d.finalize().into();
            assert_eq!(node_hash(&l, &r), want);
        }
    }

    #[test]
    fn constants_agree() {
        assert_eq!(TILE_WIDTH, 1u64 << TILE_HEIGHT);
        assert_eq!(FULL_TILE_BYTES, 32 * 256);
        assert_eq!(MAX_ENTRY_LEN, usize::from(u16::MAX));
    }
}
