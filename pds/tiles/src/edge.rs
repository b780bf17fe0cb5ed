//! The incremental right edge of a tiled Merkle tree: for each level, the
//! hashes of the tile being filled plus a stack of the perfect in-tile
//! subtrees built so far. Shared by the appender ([`crate::TileLog`]) and the
//! offline verifier ([`crate::verify_tree`]).
//!
//! Cost: each leaf costs one store plus one node hash per completed pair
//! (amortised ~1); a completed tile's root falls out of the stack for free.
//! This module never allocates per entry (one 8 KiB buffer per level, made
//! once) and never does IO; a completed tile is lent to a callback.

use alloc::boxed::Box;
use alloc::vec;
use alloc::vec::Vec;

use crate::path::{level_count, level_entries};
use crate::{empty_root, node_hash, Hash, MAX_LEVELS, MAX_TREE_SIZE};

/// Hashes per tile, as a `usize` for indexing.
pub(crate) const WIDTH: usize = 256;

/// One level's tile under construction.
#[derive(Clone)]
pub(crate) struct Level {
    /// Entries of the tile being filled; positions `n..` are stale.
    hashes: Box<[Hash; WIDTH]>,
    /// Number of valid entries, 0..=255 at rest.
    n: usize,
    /// Roots of the perfect subtrees covering `hashes[..n]`, largest first
    /// (one per set bit of `n`).
    stack: [Hash; 8],
    /// Number of valid `stack` entries; always `n.count_ones()`.
    depth: usize,
}

impl Level {
    fn new() -> Self {
        let hashes: Box<[Hash; WIDTH]> = vec![[0u8; 32]; WIDTH]
            .into_boxed_slice()
            .try_into()
            .unwrap_or_else(|_| unreachable!("vec has exactly WIDTH elements"));
        Level {
            hashes,
            n: 0,
            stack: [[0u8; 32]; 8],
            depth: 0,
        }
    }

    /// Add one hash; returns the tile's root when this hash completes it (the
    /// level is then empty again but `hashes` still holds the full tile).
    #[inline]
    fn push(&mut self, h: &Hash) -> Option<Hash> {
        let pos = self.n;
        assert!(pos < WIDTH);
        debug_assert_eq!(self.depth, pos.count_ones() as usize);
        self.hashes[pos] = *h;
        let mut x = *h;
        let mut k = pos;
        while k & 1 == 1 {
            self.depth -= 1;
            x = node_hash(&self.stack[self.depth], &x);
            k >>= 1;
        }
        if pos + 1 == WIDTH {
            assert_eq!(self.depth, 0);
            self.n = 0;
            return Some(x);
        }
        self.stack[self.depth] = x;
        self.depth += 1;
        self.n = pos + 1;
        None
    }

    /// Reset to hold exactly `prefix` (fewer than 256 hashes).
    fn reset_to(&mut self, prefix: &[Hash]) {
        assert!(prefix.len() < WIDTH);
        self.n = 0;
        self.depth = 0;
        for h in prefix {
            let full = self.push(h);
            assert!(full.is_none());
        }
    }
}

/// The right edge of a tree: everything needed to append and to compute the
/// root, and nothing else.
#[derive(Clone)]
pub(crate) struct Edge {
    size: u64,
    /// `levels[l]` exists once level `l` has received its first entry.
    levels: Vec<Level>,
}

impl Edge {
    /// The empty tree.
    pub(crate) fn new() -> Self {
        Edge {
            size: 0,
            levels: Vec::new(),
        }
    }

    /// Number of leaves.
    #[inline]
    pub(crate) fn size(&self) -> u64 {
        self.size
    }

    /// Append one leaf hash. `on_full(level, index, tile)` is called for each
    /// tile this leaf completes, lowest level first. If it fails, the edge is
    /// left in an unspecified state and must be discarded.
    #[inline]
    pub(crate) fn push<E>(
        &mut self,
        leaf: &Hash,
        mut on_full: impl FnMut(usize, u64, &[Hash; WIDTH]) -> Result<(), E>,
    ) -> Result<(), E> {
        assert!(self.size < MAX_TREE_SIZE, "tree is full");
        let new_size = self.size + 1;
        self.size = new_size;
        let mut h = *leaf;
        let mut level = 0usize;
        loop {
            if level == self.levels.len() {
                assert!(level < MAX_LEVELS);
                self.levels.push(Level::new());
            }
            let lv = &mut self.levels[level];
            match lv.push(&h) {
                None => return Ok(()),
                Some(root) => {
                    // Level `level` tiles cover 256^(level+1) leaves; this one
                    // ends exactly at `new_size`. level <= 6 here (a level-7
                    // tile would need 2^64 leaves), so the shift is < 64.
                    let shift = 8 * (level + 1);
                    assert!(shift < 64);
                    let index = (new_size >> shift) - 1;
                    debug_assert_eq!(new_size & ((1u64 << shift) - 1), 0);
                    on_full(level, index, &lv.hashes)?;
                    h = root;
                    level += 1;
                }
            }
        }
    }

    /// Append a leaf when no callback can fail.
    #[inline]
    pub(crate) fn push_infallible(&mut self, leaf: &Hash, mut on_full: impl FnMut(usize, u64, &[Hash; WIDTH])) {
        let r: Result<(), core::convert::Infallible> = self.push(leaf, |l, i, t| {
            on_full(l, i, t);
            Ok(())
        });
        match r {
            Ok(()) => {}
            Err(never) => match never {},
        }
    }

    /// RFC 6962 root of the current tree (SHA-256("") when empty). At most 62
    /// node hashes: one per set bit of `size` beyond the first.
    pub(crate) fn root(&self) -> Hash {
        if self.size == 0 {
            return empty_root();
        }
        // Fold the frontier from its rightmost (smallest) subtree leftwards.
        let mut acc: Option<Hash> = None;
        for lv in &self.levels {
            for h in lv.stack[..lv.depth].iter().rev() {
                acc = Some(match acc {
                    None => *h,
                    Some(a) => node_hash(h, &a),
                });
            }
        }
        acc.expect("a non-empty tree has a frontier")
    }

    /// The hashes of the right-edge partial tile at `level` (empty if none).
    #[inline]
    pub(crate) fn partial(&self, level: usize) -> &[Hash] {
        match self.levels.get(level) {
            Some(lv) => &lv.hashes[..lv.n],
            None => &[],
        }
    }

    /// Append every level's partial tile, level 0 first, to `out`.
    pub(crate) fn snapshot_into(&self, out: &mut Vec<Hash>) {
        for level in 0..self.levels.len() {
            out.extend_from_slice(self.partial(level));
        }
    }

    /// Rebuild the edge of a tree of `size` from its right-edge partial tiles,
    /// concatenated level 0 first (the layout [`Edge::snapshot_into`] makes);
    /// level `l` contributes `(size >> 8l) % 256` hashes. Reuses buffers.
    pub(crate) fn reset_to(&mut self, size: u64, partials: &[Hash]) {
        assert!(size <= MAX_TREE_SIZE);
        let count = level_count(size);
        self.levels.truncate(count);
        while self.levels.len() < count {
            self.levels.push(Level::new());
        }
        let mut offset = 0usize;
        for (level, lv) in self.levels.iter_mut().enumerate() {
            let w = (level_entries(size, level) & 0xff) as usize;
            assert!(offset + w <= partials.len(), "partials too short for size");
            lv.reset_to(&partials[offset..offset + w]);
            offset += w;
        }
        assert_eq!(offset, partials.len(), "partials too long for size");
        self.size = size;
    }

    /// Number of hashes [`Edge::reset_to`] expects for `size`.
    pub(crate) fn partials_len(size: u64) -> usize {
        (0..level_count(size))
            .map(|l| (level_entries(size, l) & 0xff) as usize)
            .sum()
    }
}

/// RFC 6962 Merkle tree hash of a non-empty list of hashes taken as leaves
/// (MTH over already-hashed items): used for tile roots and in-tile nodes.
pub(crate) fn mth(hashes: &[Hash]) -> Hash {
    assert!(!hashes.is_empty());
    let mut stack = [[0u8; 32]; 64];
    let mut depth = 0usize;
    for (i, h) in hashes.iter().enumerate() {
        let mut x = *h;
        let mut k = i;
        while k & 1 == 1 {
            depth -= 1;
            x = node_hash(&stack[depth], &x);
            k >>= 1;
        }
        stack[depth] = x;
        depth += 1;
    }
    let mut acc = stack[depth - 1];
    for h in stack[..depth - 1].iter().rev() {
        acc = node_hash(h, &acc);
    }
    acc
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::leaf_hash;
    use crate::testutil::ref_root;

    #[test]
    fn edge_root_matches_reference_for_every_small_size() {
        let mut e = Edge::new();
        let mut leaves = Vec::new();
        let mut full_tiles = Vec::new();
        assert_eq!(e.root(), empty_root());
        for i in 0..1_300u32 {
            let l = leaf_hash(&i.to_le_bytes());
            leaves.push(l);
            e.push_infallible(&l, |level, index, tile| full_tiles.push((level, index, mth(tile))));
            assert_eq!(e.root(), ref_root(&leaves), "size {}", i + 1);
            assert_eq!(mth(&leaves), ref_root(&leaves));
        }
        // 1300 leaves: level-0 tiles 0..=4 completed; no level-1 tile.
        let idx: Vec<(usize, u64)> = full_tiles.iter().map(|t| (t.0, t.1)).collect();
        assert_eq!(idx, [(0, 0), (0, 1), (0, 2), (0, 3), (0, 4)]);
        assert_eq!(full_tiles[1].2, ref_root(&leaves[256..512]));
        assert_eq!(e.partial(0).len(), 1300 - 5 * 256);
        assert_eq!(e.partial(1).len(), 5);
        assert_eq!(e.partial(2).len(), 0);
    }

    #[test]
    fn reset_to_rebuilds_same_edge() {
        let mut e = Edge::new();
        for i in 0..70_100u32 {
            let l = leaf_hash(&i.to_be_bytes());
            e.push_infallible(&l, |_, _, _| {});
            if i % 7_919 == 0 || i > 70_090 {
                let mut snap = Vec::new();
                e.snapshot_into(&mut snap);
                assert_eq!(snap.len(), Edge::partials_len(e.size()));
                let mut f = Edge::new();
                f.reset_to(e.size(), &snap);
                assert_eq!(f.root(), e.root());
                for l in 0..MAX_LEVELS {
                    assert_eq!(f.partial(l), e.partial(l));
                }
                // And reusing a bigger edge's buffers works too.
                let mut g = e.clone();
                g.reset_to(0, &[]);
                assert_eq!(g.root(), empty_root());
                g.reset_to(e.size(), &snap);
                assert_eq!(g.root(), e.root());
            }
        }
    }
}
