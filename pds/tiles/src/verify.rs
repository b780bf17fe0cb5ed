//! Full offline verification of a stored tree: recompute everything from the
//! entry bundles and compare every stored hash tile and bundle byte for byte,
//! then the root. Names the file at fault in the first failure.
//!
//! Only reads through [`TileReader`]; never repairs or writes anything.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::bundle::BundleIter;
use crate::edge::{mth, Edge, WIDTH};
use crate::error::{TileError, VerifyError, VerifyReason};
use crate::hashes::tree_root_from_tiles;
use crate::path::{level_count, partial_at, tile_holding, TileKind, TilePath};
use crate::store::{cut_to_width, read_opt, read_or_full, TileReader};
use crate::{empty_root, leaf_hash, Hash, MAX_TREE_SIZE};

/// Bundles between two `progress` calls (16,384 entries).
const PROGRESS_EVERY_BUNDLES: u64 = 64;

fn fail(path: &TilePath, reason: VerifyReason) -> VerifyError {
    VerifyError {
        path: path.to_path(),
        reason,
    }
}

fn from_tile_error(path: &TilePath, e: TileError) -> VerifyError {
    match e {
        TileError::Storage { path, detail } => VerifyError {
            path,
            reason: VerifyReason::Storage(detail),
        },
        other => fail(path, VerifyReason::Storage(other.to_string())),
    }
}

/// Read a file that must exist.
/// A missing partial file is read as the prefix of its full file (the crate's one
/// partial-to-full rule, `read_or_full`): on a live store a commit may replace the partial
/// files of the checkpoint being verified with full ones while the verifier reads.
fn read_required<R: TileReader>(reader: &R, path: &TilePath) -> Result<Vec<u8>, VerifyError> {
    match read_or_full(reader, path) {
        Ok((read, bytes)) if read == *path => Ok(bytes),
        Ok((read, full)) => cut_to_width(path, &full).ok_or_else(|| {
            let reason = match path.kind {
                TileKind::Entries => VerifyReason::MalformedBundle,
                TileKind::Hash { .. } => VerifyReason::BadLength {
                    expected: 32 * usize::from(read.width),
                    actual: full.len(),
                },
            };
            fail(&read, reason)
        }),
        Err(TileError::Missing { .. }) => Err(fail(path, VerifyReason::Missing)),
        Err(e) => Err(from_tile_error(path, e)),
    }
}

/// Check a stored hash tile's length and bytes against the recomputed hashes.
fn check_hash_tile(path: &TilePath, stored: &[u8], want: &[Hash]) -> Result<(), VerifyError> {
    let expected = 32 * want.len();
    if stored.len() != expected {
        return Err(fail(
            path,
            VerifyReason::BadLength {
                expected,
                actual: stored.len(),
            },
        ));
    }
    if stored != want.as_flattened() {
        return Err(fail(path, VerifyReason::TileMismatch));
    }
    Ok(())
}

fn to_hashes(bytes: &[u8]) -> Vec<Hash> {
    bytes
        .chunks_exact(32)
        .map(|c| {
            let mut h = [0u8; 32];
            h.copy_from_slice(c);
            h
        })
        .collect()
}

/// Recompute the whole tree of `size` from the entry bundles and compare every
/// stored hash tile and bundle byte for byte; check the final root against
/// `root`.
///
/// Reads, in order, each bundle and its level-0 tile, each higher full tile
/// when it completes, then the right-edge partial tiles of `size`. Because
/// every stored tile must equal the recomputed one, every full tile is thereby
/// checked against the hash its parent records, up to the root.
///
/// Blame: when a bundle and its level-0 tile disagree, the tile is blamed
/// unless it agrees with the rest of the tree (a full tile whose root equals
/// its parent's entry, or a partial tile whose right edge yields `root`), in
/// which case the bundle is blamed (`entry_mismatch`). A higher tile that
/// disagrees is blamed itself (its children were already checked).
///
/// `extra_sizes` (each ≤ `size`, any order): the root at each is returned, in
/// the same order, so the caller can check older checkpoints; any partial
/// tile or bundle of those sizes that is still stored must match too (absent
/// ones are fine: they may have been deleted once the full tile existed).
///
/// `progress(entries_done)` is called every 16,384 entries and at the end.
pub fn verify_tree<R: TileReader>(
    reader: &R,
    size: u64,
    root: &Hash,
    extra_sizes: &[u64],
    progress: &mut dyn FnMut(u64),
) -> Result<Vec<(u64, Hash)>, VerifyError> {
    let bad_arg = |what: &str| VerifyError {
        path: what.into(),
        reason: VerifyReason::InvalidSize,
    };
    if size > MAX_TREE_SIZE {
        return Err(bad_arg("checkpoint"));
    }
    if extra_sizes.iter().any(|&s| s > size) {
        return Err(bad_arg("extra_sizes"));
    }
    let mut results: Vec<(u64, Hash)> = extra_sizes.iter().map(|&s| (s, empty_root())).collect();
    // Extra sizes in ascending order (indices into `results`), zeros done already.
    let mut order: Vec<usize> = (0..extra_sizes.len()).filter(|&i| extra_sizes[i] > 0).collect();
    order.sort_by_key(|&i| extra_sizes[i]);
    let mut next_extra = 0usize;

    if size == 0 {
        if *root != empty_root() {
            return Err(bad_root());
        }
        progress(0);
        return Ok(results);
    }

    let mut edge = Edge::new();
    let mut leaves: Vec<Hash> = Vec::with_capacity(WIDTH);
    let mut ends: Vec<usize> = Vec::with_capacity(WIDTH); // entry end offsets
    let bundles = size.div_ceil(256);
    for n in 0..bundles {
        let width = if (n + 1) << 8 <= size {
            256
        } else {
            (size & 0xff) as u16
        };
        let bpath = TilePath::entries(n, width);
        let bundle = read_required(reader, &bpath)?;
        leaves.clear();
        ends.clear();
        let mut it = BundleIter::new(&bundle);
        for _ in 0..width {
            match it.next() {
                Some(Ok(e)) => {
                    leaves.push(leaf_hash(e));
                    ends.push(bundle.len() - it.remaining().len());
                }
                _ => return Err(fail(&bpath, VerifyReason::MalformedBundle)),
            }
        }
        if !it.remaining().is_empty() {
            return Err(fail(&bpath, VerifyReason::MalformedBundle));
        }
        let tpath = TilePath::hash(0, n, width);
        let tile = read_required(reader, &tpath)?;
        if let Err(e) = check_hash_tile(&tpath, &tile, &leaves) {
            if e.reason == VerifyReason::TileMismatch && level0_agrees_with_tree(reader, size, root, &tpath, &tile) {
                let position = to_hashes(&tile)
                    .iter()
                    .zip(&leaves)
                    .position(|(a, b)| a != b)
                    .expect("tiles differ somewhere");
                return Err(fail(&bpath, VerifyReason::EntryMismatch { position }));
            }
            return Err(e);
        }
        for (j, leaf) in leaves.iter().enumerate() {
            edge.push(leaf, |level, index, hashes| {
                if level == 0 {
                    return Ok(()); // compared above, with blame
                }
                let p = TilePath::hash(level as u8, index, 256);
                let stored = read_required(reader, &p)?;
                check_hash_tile(&p, &stored, hashes)
            })?;
            let s = edge.size();
            while next_extra < order.len() && extra_sizes[order[next_extra]] == s {
                results[order[next_extra]].1 = edge.root();
                check_stored_partials(reader, &edge, &bundle[..ends[j]])?;
                next_extra += 1;
            }
        }
        if (n + 1) % PROGRESS_EVERY_BUNDLES == 0 && n + 1 < bundles {
            progress(edge.size());
        }
    }
    assert_eq!(edge.size(), size);
    for level in 1..level_count(size) {
        if let Some(p) = partial_at(size, level, false) {
            let stored = read_required(reader, &p)?;
            check_hash_tile(&p, &stored, edge.partial(level))?;
        }
    }
    if edge.root() != *root {
        return Err(bad_root());
    }
    progress(size);
    Ok(results)
}

fn bad_root() -> VerifyError {
    VerifyError {
        path: String::from("checkpoint"),
        reason: VerifyReason::RootMismatch,
    }
}

/// Does the stored level-0 tile `tpath` (whose bytes differ from the hashes of
/// its bundle) agree with the rest of the stored tree? If so the bundle is the
/// bad file. Any failure to decide counts as "no" (blame the tile).
fn level0_agrees_with_tree<R: TileReader>(reader: &R, size: u64, root: &Hash, tpath: &TilePath, tile: &[u8]) -> bool {
    let hashes = to_hashes(tile);
    if tpath.is_full() {
        let ppath = tile_holding(size, 1, tpath.index, false);
        match read_opt(reader, &ppath) {
            Ok(Some(parent)) if parent.len() == 32 * usize::from(ppath.width) => {
                let at = 32 * (tpath.index & 0xff) as usize;
                parent[at..at + 32] == mth(&hashes)
            }
            _ => false,
        }
    } else {
        matches!(tree_root_from_tiles(reader, size), Ok(r) if r == *root)
    }
}

/// At an extra size: every right-edge partial file of that size that is still
/// stored must equal the recomputed one.
fn check_stored_partials<R: TileReader>(reader: &R, edge: &Edge, bundle_prefix: &[u8]) -> Result<(), VerifyError> {
    let s = edge.size();
    for level in 0..level_count(s) {
        if let Some(p) = partial_at(s, level, false) {
            match read_opt(reader, &p) {
                Ok(Some(stored)) => check_hash_tile(&p, &stored, edge.partial(level))?,
                Ok(None) => {}
                Err(e) => return Err(from_tile_error(&p, e)),
            }
        }
    }
    if let Some(p) = partial_at(s, 0, true) {
        match read_opt(reader, &p) {
            Ok(Some(stored)) => {
                if stored != bundle_prefix {
                    return Err(fail(&p, VerifyReason::BundleMismatch));
                }
            }
            Ok(None) => {}
            Err(e) => return Err(from_tile_error(&p, e)),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
