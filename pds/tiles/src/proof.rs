//! RFC 6962 / RFC 9162 §2.1.3–2.1.4 inclusion and consistency proofs: built
//! from stored tiles, and verified from hashes alone. The proof format is the
//! usual audit path, the same one Go's `sumdb/tlog` and Trillian produce.
//!
//! Building only reads through [`TileReader`]; verifying is pure computation.
//! Neither ever trusts a proof it has not recomputed to the root.

use alloc::vec::Vec;

use crate::error::{ProofError, TileError};
use crate::hashes::TileHashReader;
use crate::store::TileReader;
use crate::{empty_root, node_hash, Hash, MAX_TREE_SIZE};

/// Largest power of two strictly below `n` (`n >= 2`).
#[inline]
fn split(n: u64) -> u64 {
    assert!(n >= 2);
    1u64 << (63 - (n - 1).leading_zeros())
}

impl<R: TileReader + ?Sized> TileHashReader<'_, R> {
    /// Inclusion proof (audit path, leaf to root) for leaf `index` in this
    /// reader's tree; see [`inclusion_proof`].
    pub fn inclusion_proof(&mut self, index: u64) -> Result<Vec<Hash>, TileError> {
        let size = self.size();
        if index >= size {
            return Err(TileError::IndexOutOfRange { index, size });
        }
        let mut out = Vec::with_capacity(64);
        self.path(index, 0, size, &mut out)?;
        Ok(out)
    }

    /// PATH(m, D[lo:hi]) with absolute leaf index `m`.
    fn path(&mut self, m: u64, lo: u64, hi: u64, out: &mut Vec<Hash>) -> Result<(), TileError> {
        if hi - lo == 1 {
            return Ok(());
        }
        let k = split(hi - lo);
        if m < lo + k {
            self.path(m, lo, lo + k, out)?;
            out.push(self.range_hash(lo + k, hi)?);
        } else {
            self.path(m, lo + k, hi, out)?;
            out.push(self.range_hash(lo, lo + k)?);
        }
        Ok(())
    }

    /// Consistency proof from `old_size` to this reader's tree; see
    /// [`consistency_proof`].
    pub fn consistency_proof(&mut self, old_size: u64) -> Result<Vec<Hash>, TileError> {
        let size = self.size();
        if old_size > size {
            return Err(TileError::InvalidRange {
                old_size,
                new_size: size,
            });
        }
        let mut out = Vec::with_capacity(64);
        if old_size == 0 || old_size == size {
            return Ok(out);
        }
        self.subproof(old_size, 0, size, true, &mut out)?;
        Ok(out)
    }

    /// SUBPROOF(m, D[lo:hi], b) with absolute boundary `m`.
    fn subproof(&mut self, m: u64, lo: u64, hi: u64, b: bool, out: &mut Vec<Hash>) -> Result<(), TileError> {
        if m == hi {
            if !b {
                out.push(self.range_hash(lo, hi)?);
            }
            return Ok(());
        }
        let k = split(hi - lo);
        if m <= lo + k {
            self.subproof(m, lo, lo + k, b, out)?;
            out.push(self.range_hash(lo + k, hi)?);
        } else {
            self.subproof(m, lo + k, hi, false, out)?;
            out.push(self.range_hash(lo, lo + k)?);
        }
        Ok(())
    }
}

/// Inclusion proof for leaf `index` in the tree of `size` stored behind
/// `reader`: RFC 9162 §2.1.3.1 PATH, leaf to root. Reads the tiles holding the
/// needed subtree hashes (for a leaf in a full level-0 tile: that tile, its
/// ancestors up to a partial tile, and the right-edge partials), checking full
/// tiles against their parents as [`TileHashReader`] documents. Use one
/// `TileHashReader` directly to share tile reads across many proofs.
pub fn inclusion_proof<R: TileReader>(reader: &R, index: u64, size: u64) -> Result<Vec<Hash>, TileError> {
    TileHashReader::new(reader, size)?.inclusion_proof(index)
}

/// Consistency proof from `old_size` to `new_size` (RFC 9162 §2.1.4.1
/// PROOF), built from the tiles of `new_size` only. Empty when `old_size` is 0
/// or equals `new_size`.
pub fn consistency_proof<R: TileReader>(reader: &R, old_size: u64, new_size: u64) -> Result<Vec<Hash>, TileError> {
    TileHashReader::new(reader, new_size)?.consistency_proof(old_size)
}

/// Check that `proof` proves `leaf` is entry `index` of the tree of `size`
/// with root `root` (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(leaf: &Hash, index: u64, size: u64, proof: &[Hash], root: &Hash) -> Result<(), ProofError> {
    if size > MAX_TREE_SIZE {
        return Err(ProofError::InvalidSizes);
    }
    if index >= size {
        return Err(ProofError::IndexOutOfRange);
    }
    let mut fnode = index;
    let mut snode = size - 1;
    let mut r = *leaf;
    for p in proof {
        if snode == 0 {
            return Err(ProofError::WrongProofLength);
        }
        if fnode & 1 == 1 || fnode == snode {
            r = node_hash(p, &r);
            while fnode & 1 == 0 && fnode != 0 {
                fnode >>= 1;
                snode >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    if snode != 0 {
        return Err(ProofError::WrongProofLength);
    }
    if r != *root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// Check that `proof` proves the tree of `new_size` with root `new_root`
/// extends the tree of `old_size` with root `old_root` (RFC 9162 §2.1.4.2).
///
/// Equal sizes need an empty proof and equal roots. `old_size == 0` needs an
/// empty proof and `old_root == empty_root()` (stricter than Trillian, which
/// ignores `old_root` there).
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    if new_size > MAX_TREE_SIZE || old_size > new_size {
        return Err(ProofError::InvalidSizes);
    }
    if old_size == 0 {
        if !proof.is_empty() {
            return Err(ProofError::WrongProofLength);
        }
        if *old_root != empty_root() {
            return Err(ProofError::OldRootMismatch);
        }
        if new_size == 0 && *new_root != empty_root() {
            return Err(ProofError::RootMismatch);
        }
        return Ok(());
    }
    if old_size == new_size {
        if !proof.is_empty() {
            return Err(ProofError::WrongProofLength);
        }
        if old_root != new_root {
            return Err(ProofError::RootMismatch);
        }
        return Ok(());
    }
    if proof.is_empty() {
        return Err(ProofError::WrongProofLength);
    }
    // If old_size is a power of two, its root is the implicit first element.
    let (seed, rest) = if old_size.is_power_of_two() {
        (*old_root, proof)
    } else {
        (proof[0], &proof[1..])
    };
    let mut fnode = old_size - 1;
    let mut snode = new_size - 1;
    while fnode & 1 == 1 {
        fnode >>= 1;
        snode >>= 1;
    }
    let mut fr = seed;
    let mut sr = seed;
    for c in rest {
        if snode == 0 {
            return Err(ProofError::WrongProofLength);
        }
        if fnode & 1 == 1 || fnode == snode {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while fnode & 1 == 0 && fnode != 0 {
                fnode >>= 1;
                snode >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    if snode != 0 {
        return Err(ProofError::WrongProofLength);
    }
    if fr != *old_root {
        return Err(ProofError::OldRootMismatch);
    }
    if sr != *new_root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

#[cfg(test)]
mod tests;
