//! Reading Merkle tree hashes back out of stored tiles (the role of Go's
//! `tlog.TileHashReader`): any complete subtree hash of a tree of a given
//! size, computed from the fewest tiles, with every full tile read checked
//! against the hash recorded for it one level up.
//!
//! This module only reads through [`TileReader`]; it never writes, and it never
//! trusts a full tile it has not checked against its parent.

use alloc::vec::Vec;

use crate::edge::{mth, Edge};
use crate::error::TileError;
use crate::path::{level_count, partial_at, tile_holding, TilePath};
use crate::store::{read_hash_tile, TileReader};
use crate::{empty_root, node_hash, Hash, MAX_TREE_SIZE};

/// Most tiles a [`TileHashReader`] keeps (about 512 KiB).
const CACHE_TILES: usize = 64;

/// Hashes of a tree of fixed `size`, read from its tiles, with a small cache
/// so that many proofs against the same size share tile reads.
///
/// What it checks, exactly:
/// - every file read has exactly 32·width bytes;
/// - every *full* tile read is checked against its parent: its Merkle root
///   must equal entry `N mod 256` of the level-(L+1) tile that holds it in
///   this tree (full or this size's partial), and that parent is checked the
///   same way when it is full. Each chain therefore ends at a partial tile of
///   `size`.
/// - partial tiles are *not* checked here: only the checkpoint root can vouch
///   for them. To trust the result fully, check what you compute against the
///   root ([`crate::verify_inclusion`] / [`crate::verify_consistency`]), or
///   compare [`tree_root_from_tiles`] with the checkpoint once.
///
/// A missing partial tile is replaced by the prefix of its full tile (the
/// spec lets logs delete partials once the full tile exists).
pub struct TileHashReader<'a, R: TileReader + ?Sized> {
    reader: &'a R,
    size: u64,
    /// Tiles read and checked, oldest first.
    cache: Vec<(TilePath, Vec<Hash>)>,
}

impl<'a, R: TileReader + ?Sized> TileHashReader<'a, R> {
    /// A reader for the tree of `size` entries stored behind `reader`.
    pub fn new(reader: &'a R, size: u64) -> Result<Self, TileError> {
        if size > MAX_TREE_SIZE {
            return Err(TileError::SizeTooLarge { size });
        }
        Ok(TileHashReader {
            reader,
            size,
            cache: Vec::new(),
        })
    }

    /// The tree size this reader serves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Hash of the node at `height` (0 = leaf) and `index` (the node covers
    /// leaves `index·2^height .. (index+1)·2^height`), which must be a complete
    /// subtree of the tree. Reads one tile at level `height / 8` (plus its
    /// unchecked-so-far ancestors) and hashes up to 2^(height mod 8) of its
    /// entries.
    pub fn node(&mut self, height: u8, index: u64) -> Result<Hash, TileError> {
        let out_of_range = TileError::NodeOutOfRange {
            height,
            index,
            size: self.size,
        };
        if height > 63 {
            return Err(out_of_range);
        }
        let end = (u128::from(index) + 1) << height;
        if end > u128::from(self.size) {
            return Err(out_of_range);
        }
        let level = usize::from(height / 8);
        let k = u32::from(height % 8);
        let first = index << k; // first entry at `level`; < size, so no overflow
        let slot = self.load(level, first >> 8)?;
        let pos = (first & 0xff) as usize;
        let hashes = &self.cache[slot].1;
        let count = 1usize << k;
        assert!(pos + count <= hashes.len());
        Ok(if count == 1 {
            hashes[pos]
        } else {
            mth(&hashes[pos..pos + count])
        })
    }

    /// RFC 6962 root of the first `size` entries (any `size` up to this
    /// reader's size), from this reader's tiles.
    pub fn root_at(&mut self, size: u64) -> Result<Hash, TileError> {
        if size > self.size {
            return Err(TileError::InvalidRange {
                old_size: size,
                new_size: self.size,
            });
        }
        if size == 0 {
            return Ok(empty_root());
        }
        self.range_hash(0, size)
    }

    /// MTH of leaves `lo..hi`, where `lo` is a multiple of the smallest power
    /// of two ≥ `hi - lo` (true of every range RFC 6962 proofs use): the fold
    /// of the complete subtrees that tile the range, largest first.
    pub(crate) fn range_hash(&mut self, lo: u64, hi: u64) -> Result<Hash, TileError> {
        assert!(lo < hi);
        assert!(hi <= self.size);
        debug_assert_eq!(lo % (hi - lo).next_power_of_two(), 0);
        let mut parts = [[0u8; 32]; 64];
        let mut count = 0usize;
        let mut pos = lo;
        while pos < hi {
            let mut h = if pos == 0 { 63 } else { pos.trailing_zeros() };
            while h > 0 && (1u64 << h) > hi - pos {
                h -= 1;
            }
            parts[count] = self.node(h as u8, pos >> h)?;
            count += 1;
            pos += 1u64 << h;
        }
        let mut acc = parts[count - 1];
        for p in parts[..count - 1].iter().rev() {
            acc = node_hash(p, &acc);
        }
        Ok(acc)
    }

    /// Load (and check, if full) the level-`level` tile with index `tile`
    /// holding entries of this tree; returns its cache slot.
    fn load(&mut self, level: usize, tile: u64) -> Result<usize, TileError> {
        let path = tile_holding(self.size, level, tile << 8, false);
        if let Some(slot) = self.cache.iter().position(|(p, _)| *p == path) {
            return Ok(slot);
        }
        let hashes = read_hash_tile(self.reader, &path)?;
        if path.is_full() {
            let root = mth(&hashes);
            let parent = self.load(level + 1, tile >> 8)?;
            let recorded = self.cache[parent].1[(tile & 0xff) as usize];
            if root != recorded {
                return Err(TileError::TileMismatch { path: path.to_path() });
            }
        }
        if self.cache.len() == CACHE_TILES {
            self.cache.remove(0);
        }
        self.cache.push((path, hashes));
        Ok(self.cache.len() - 1)
    }
}

/// Hash of node (`height`, `index`) of the tree of `size` stored behind
/// `reader` (see [`TileHashReader`] for exactly what is checked on the way).
pub fn stored_node_hash<R: TileReader + ?Sized>(
    reader: &R,
    height: u8,
    index: u64,
    size: u64,
) -> Result<Hash, TileError> {
    TileHashReader::new(reader, size)?.node(height, index)
}

/// Root of the tree of `size` computed from its right-edge partial tiles only
/// (at most 8 reads): the cheapest way to check stored tiles against a
/// checkpoint. Checks tile lengths; the caller compares the result.
pub fn tree_root_from_tiles<R: TileReader + ?Sized>(reader: &R, size: u64) -> Result<Hash, TileError> {
    Ok(edge_from_tiles(reader, size)?.root())
}

/// The right edge of the tree of `size`, rebuilt from its stored partial hash tiles (at
/// most 8 reads); shared by [`tree_root_from_tiles`] and `TileLog::open`.
pub(crate) fn edge_from_tiles<R: TileReader + ?Sized>(reader: &R, size: u64) -> Result<Edge, TileError> {
    if size > MAX_TREE_SIZE {
        return Err(TileError::SizeTooLarge { size });
    }
    let mut partials = Vec::with_capacity(Edge::partials_len(size));
    for level in 0..level_count(size) {
        if let Some(p) = partial_at(size, level, false) {
            partials.extend_from_slice(&read_hash_tile(reader, &p)?);
        }
    }
    let mut edge = Edge::new();
    edge.reset_to(size, &partials);
    Ok(edge)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{build_commits, build_single, entry, ref_root};
    use crate::{leaf_hash, MemStore};

    #[test]
    fn every_node_of_a_1000_tree() {
        let (store, _root, leaves) = build_single(1000);
        let mut r = TileHashReader::new(&store, 1000).unwrap();
        for height in 0..=10u8 {
            let w = 1u64 << height;
            for index in 0..(1000 / w) {
                let lo = (index * w) as usize;
                let want = ref_root(&leaves[lo..lo + w as usize]);
                assert_eq!(r.node(height, index).unwrap(), want, "h{height} i{index}");
            }
            // The next node is incomplete.
            let next = 1000 / w;
            assert_eq!(r.node(height, next).unwrap_err().code(), "node_out_of_range");
        }
        assert_eq!(r.node(64, 0).unwrap_err().code(), "node_out_of_range");
        for s in [0u64, 1, 2, 255, 256, 257, 511, 512, 999, 1000] {
            assert_eq!(r.root_at(s).unwrap(), ref_root(&leaves[..s as usize]));
        }
        assert_eq!(r.root_at(1001).unwrap_err().code(), "invalid_range");
        assert_eq!(
            stored_node_hash(&store, 8, 2, 1000).unwrap(),
            ref_root(&leaves[512..768])
        );
        assert_eq!(
            stored_node_hash(&store, 8, 3, 1000).unwrap_err().code(),
            "node_out_of_range"
        );
    }

    #[test]
    fn reads_only_what_it_needs_and_checks_full_tiles() {
        let (mut store, root, _) = build_single(70_000);
        assert_eq!(tree_root_from_tiles(&store, 70_000).unwrap(), root);
        // Corrupt a full level-0 tile: reading any node in it fails, naming it.
        let p = TilePath::hash(0, 5, 256);
        store.get_mut(&p).unwrap()[100] ^= 1;
        let err = stored_node_hash(&store, 0, 5 * 256 + 7, 70_000).unwrap_err();
        assert_eq!(
            err,
            TileError::TileMismatch {
                path: "tile/0/005".into()
            }
        );
        // Nodes elsewhere are unaffected.
        assert_eq!(
            stored_node_hash(&store, 0, 6 * 256, 70_000).unwrap(),
            leaf_hash(&entry(6 * 256))
        );
        // Corrupt the full level-1 tile: a level-0 tile check passes only if
        // the parent is right, so the level-1 tile itself is named.
        let mut store2 = build_single(70_000).0;
        store2.get_mut(&TilePath::hash(1, 0, 256)).unwrap()[0] ^= 1;
        let err = stored_node_hash(&store2, 0, 3, 70_000).unwrap_err();
        assert_eq!(
            err,
            TileError::TileMismatch {
                path: "tile/1/000".into()
            }
        );
        // Missing partial tile, no full one: reported missing.
        let mut store3 = build_single(300).0;
        store3.remove(&TilePath::hash(0, 1, 44));
        assert_eq!(
            stored_node_hash(&store3, 0, 299, 300).unwrap_err(),
            TileError::Missing {
                path: "tile/0/001.p/44".into()
            }
        );
        assert_eq!(tree_root_from_tiles(&store3, 300).unwrap_err().code(), "missing_file");
        assert_eq!(tree_root_from_tiles(&MemStore::new(), 0).unwrap(), crate::empty_root());
    }

    #[test]
    fn partial_falls_back_to_full_tile() {
        // Checkpoints at 300 and 600; then tile/0/001.p/44 (of size 300) was
        // deleted because tile/0/001 exists.
        let (mut store, _, leaves) = build_commits(&[300, 600]);
        assert!(store.remove(&TilePath::hash(0, 1, 44)).is_some());
        let mut r = TileHashReader::new(&store, 300).unwrap();
        assert_eq!(r.root_at(300).unwrap(), ref_root(&leaves[..300]));
        assert_eq!(r.node(2, 74).unwrap(), ref_root(&leaves[296..300]));
    }
}
