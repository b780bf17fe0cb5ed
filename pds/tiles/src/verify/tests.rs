//! verify_tree tests: a good tree passes; each single corrupted, truncated or
//! missing file is reported under its own path.

use alloc::string::String;
use alloc::vec::Vec;

use super::*;
use crate::testutil::{build_commits, ref_root};
use crate::{MemStore, TileLog};

/// A 70,000-entry tree with checkpoints at 1000 and 65,536 too (so old
/// partials exist), and its roots.
fn tree() -> (MemStore, Hash, Vec<(u64, Hash)>) {
    let mut log = TileLog::new();
    let mut store = MemStore::new();
    let mut roots = Vec::new();
    let mut w = Vec::new();
    for s in [1_000u64, 65_536, 70_000] {
        while log.size() < s {
            log.append(&crate::testutil::entry(log.size())).unwrap();
        }
        w.clear();
        roots.push((s, log.commit(&mut w)));
        store.apply(&w);
        log.mark_durable(s);
    }
    (store, roots[2].1, roots)
}

fn expect_failure(store: &MemStore, root: &Hash, path: &str, code: &str) {
    let err = verify_tree(store, 70_000, root, &[], &mut |_| {}).unwrap_err();
    assert_eq!((err.path.as_str(), err.code()), (path, code), "{err}");
}

#[test]
fn accepts_good_tree_and_reports_progress_and_roots() {
    let (store, root, roots) = tree();
    let mut calls = Vec::new();
    let extra = [70_000u64, 0, 65_536, 1_000, 1_000, 5];
    let got = verify_tree(&store, 70_000, &root, &extra, &mut |n| calls.push(n)).unwrap();
    assert_eq!(got[0], roots[2]);
    assert_eq!(got[1], (0, crate::empty_root()));
    assert_eq!(got[2], roots[1]);
    assert_eq!(got[3], roots[0]);
    assert_eq!(got[4], roots[0]);
    assert_eq!(got[5].0, 5);
    assert_eq!(calls.last(), Some(&70_000));
    assert!(calls.len() >= 4);
    assert!(calls.windows(2).all(|w| w[0] < w[1]));
    // Wrong root: every file matches, the checkpoint is blamed.
    let err = verify_tree(&store, 70_000, &[0; 32], &[], &mut |_| {}).unwrap_err();
    assert_eq!((err.path.as_str(), err.code()), ("checkpoint", "root_mismatch"));
    // Bad arguments.
    assert_eq!(
        verify_tree(&store, 70_000, &root, &[70_001], &mut |_| {})
            .unwrap_err()
            .code(),
        "invalid_size"
    );
    assert_eq!(
        verify_tree(&store, u64::MAX, &root, &[], &mut |_| {})
            .unwrap_err()
            .code(),
        "invalid_size"
    );
    // Empty tree.
    assert!(verify_tree(&MemStore::new(), 0, &crate::empty_root(), &[0], &mut |_| {}).is_ok());
    assert!(verify_tree(&MemStore::new(), 0, &[0; 32], &[], &mut |_| {}).is_err());
}

#[test]
fn names_the_corrupted_file() {
    let (clean, root, _) = tree();
    let flip = |path: TilePath, at: usize| {
        let mut s = clean.clone();
        let b = s.get_mut(&path).unwrap_or_else(|| panic!("{path} exists"));
        let at = at.min(b.len() - 1);
        b[at] ^= 0x01;
        s
    };
    // Entry bundle (full): the entry's content changes, the tile is fine.
    expect_failure(
        &flip(TilePath::entries(3, 256), 100),
        &root,
        "tile/entries/003",
        "entry_mismatch",
    );
    // Entry bundle length prefix: it no longer parses into 256 entries.
    expect_failure(
        &flip(TilePath::entries(4, 256), 0),
        &root,
        "tile/entries/004",
        "bundle_malformed",
    );
    // Partial entry bundle.
    expect_failure(
        &flip(TilePath::entries(273, 112), usize::MAX),
        &root,
        "tile/entries/273.p/112",
        "entry_mismatch",
    );
    // Level-0 tiles, full and partial.
    expect_failure(
        &flip(TilePath::hash(0, 7, 256), 4000),
        &root,
        "tile/0/007",
        "tile_mismatch",
    );
    expect_failure(
        &flip(TilePath::hash(0, 273, 112), 33),
        &root,
        "tile/0/273.p/112",
        "tile_mismatch",
    );
    // Level-1 tiles, full and partial; level-2 partial.
    expect_failure(
        &flip(TilePath::hash(1, 0, 256), 8000),
        &root,
        "tile/1/000",
        "tile_mismatch",
    );
    expect_failure(
        &flip(TilePath::hash(1, 1, 17), 0),
        &root,
        "tile/1/001.p/17",
        "tile_mismatch",
    );
    expect_failure(
        &flip(TilePath::hash(2, 0, 1), 31),
        &root,
        "tile/2/000.p/1",
        "tile_mismatch",
    );
    // An old checkpoint's partial that is still stored must match too.
    let bad_old = flip(TilePath::hash(0, 3, 232), 64);
    let err = verify_tree(&bad_old, 70_000, &root, &[1_000], &mut |_| {}).unwrap_err();
    assert_eq!((err.path.as_str(), err.code()), ("tile/0/003.p/232", "tile_mismatch"));
    let bad_old = flip(TilePath::entries(3, 232), 9);
    let err = verify_tree(&bad_old, 70_000, &root, &[1_000], &mut |_| {}).unwrap_err();
    assert_eq!(
        (err.path.as_str(), err.code()),
        ("tile/entries/003.p/232", "bundle_mismatch")
    );
    // ...but is ignored when the caller does not ask about that size.
    assert!(verify_tree(&bad_old, 70_000, &root, &[], &mut |_| {}).is_ok());
}

#[test]
fn names_truncated_and_missing_files() {
    let (clean, root, _) = tree();
    let mut s = clean.clone();
    s.get_mut(&TilePath::hash(0, 273, 112)).unwrap().pop();
    expect_failure(&s, &root, "tile/0/273.p/112", "bad_length");
    let mut s = clean.clone();
    s.get_mut(&TilePath::hash(1, 1, 17)).unwrap().truncate(32 * 16);
    expect_failure(&s, &root, "tile/1/001.p/17", "bad_length");
    let mut s = clean.clone();
    s.get_mut(&TilePath::entries(273, 112)).unwrap().pop();
    expect_failure(&s, &root, "tile/entries/273.p/112", "bundle_malformed");
    let mut s = clean.clone();
    s.get_mut(&TilePath::entries(10, 256)).unwrap().push(0);
    expect_failure(&s, &root, "tile/entries/010", "bundle_malformed");
    for missing in [
        TilePath::entries(200, 256),
        TilePath::hash(0, 50, 256),
        TilePath::hash(1, 0, 256),
        TilePath::hash(1, 1, 17),
        TilePath::hash(2, 0, 1),
        TilePath::entries(273, 112),
    ] {
        let mut s = clean.clone();
        s.remove(&missing);
        expect_failure(&s, &root, &missing.to_path(), "missing_file");
    }
    // Old partials may be gone once the full tile exists.
    let mut s = clean.clone();
    s.remove(&TilePath::hash(0, 3, 232));
    s.remove(&TilePath::entries(3, 232));
    assert!(verify_tree(&s, 70_000, &root, &[1_000], &mut |_| {}).is_ok());
}

#[test]
fn small_trees_verify_at_every_size() {
    // One store with a checkpoint at every size: each size verifies, with every
    // smaller size as an extra, and reports the reference roots.
    let sizes: Vec<u64> = (1..=300).collect();
    let (store, _, leaves) = build_commits(&sizes);
    for &n in sizes.iter().step_by(23).chain([256u64, 257, 300].iter()) {
        let root = ref_root(&leaves[..n as usize]);
        let extra: Vec<u64> = (0..=n).collect();
        let got = verify_tree(&store, n, &root, &extra, &mut |_| {}).unwrap();
        for (s, r) in got {
            assert_eq!(r, ref_root(&leaves[..s as usize]), "size {s}");
        }
    }
    let e: String = verify_tree(&store, 300, &[7; 32], &[], &mut |_| {})
        .unwrap_err()
        .to_string();
    assert!(e.contains("checkpoint"));
}

/// A live store: the verifier read the checkpoint at 1,000, then a commit replaced the
/// partial files of that size with full ones and deleted them. The full files' prefixes
/// stand in (the crate's partial-to-full rule), so verification still succeeds.
#[test]
fn partials_deleted_mid_read_fall_back_to_the_full_files() {
    let (mut store, _, roots) = tree();
    let (size, root) = roots[0];
    for partial in crate::partial_tiles_for_size(size) {
        assert!(store.remove(&partial).is_some(), "{}", partial.to_path());
    }
    verify_tree(&store, size, &root, &[], &mut |_| {}).expect("verifies from the full files");
    // A partial that has no full file yet is still missing.
    let (mut store, root, _) = tree();
    let partial = TilePath::entries(70_000 / 256, (70_000 % 256) as u16);
    store.remove(&partial).unwrap();
    expect_failure(&store, &root, &partial.to_path(), "missing_file");
}
