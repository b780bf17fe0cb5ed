//! Export tests: byte-equality with a `MemStore` fed the same writes (minus
//! the partial files the POSIX store deletes once their full tile exists),
//! and the exported directory verifies on its own.

use std::collections::BTreeMap;
use std::string::String;
use std::vec::Vec;

use ledgerfs_tiles::{verify_tree, MemStore, TileLog, TilePath, TileStore};

use super::{assert_verifies, checkpoint_of, commit_entries, Rng, SimDevice};
use crate::export::{export, CHECKPOINT_PATH};
use crate::store::BlockStore;

fn exported(store: &BlockStore<SimDevice>) -> BTreeMap<String, Vec<u8>> {
    export(store).map(|r| r.expect("export reads every record")).collect()
}

/// What the POSIX store would hold: every file put, except partials of a
/// tile whose full version exists, plus the checkpoint.
fn posix_view(mem: &MemStore) -> BTreeMap<String, Vec<u8>> {
    let mut out: BTreeMap<String, Vec<u8>> = mem
        .iter()
        .filter(|(p, _)| p.is_full() || mem.get(&p.to_full()).is_none())
        .map(|(p, b)| (p.to_path(), b.to_vec()))
        .collect();
    if let Some(n) = mem.checkpoint().unwrap() {
        out.insert(String::from(CHECKPOINT_PATH), n);
    }
    out
}

#[test]
fn export_equals_a_memstore_fed_the_same_writes() {
    let mut store = BlockStore::format(SimDevice::new(40_000), *b"export-test-vol!").unwrap();
    assert!(exported(&store).is_empty(), "an empty volume exports nothing");
    let mut mem = MemStore::new();
    let mut log = TileLog::new();
    let mut rng = Rng(7);
    let mut history = Vec::new();
    // Crosses 256 (full level-0 tiles) and 65,536 (a full level-1 tile).
    while log.size() < 70_000 {
        let n = [1, 37, 255, 256, 3_000][rng.below(5) as usize];
        let (writes, size, root) = commit_entries(&mut store, &mut log, 0, n).unwrap();
        mem.apply(&writes);
        mem.swap_checkpoint(&super::note(size, &root)).unwrap();
        history.push((size, root));
        if rng.below(8) == 0 {
            store = BlockStore::open(store.into_device()).unwrap();
        }
    }
    assert!(mem.get(&TilePath::hash(1, 0, 256)).is_some());
    let files = exported(&store);
    assert_eq!(files, posix_view(&mem));
    assert_eq!(
        export(&store).last().unwrap().unwrap().0,
        CHECKPOINT_PATH,
        "checkpoint comes last"
    );

    // The exported files alone are a tree that verifies, and reopening the
    // volume exports the same bytes.
    let mut dir = MemStore::new();
    for (path, bytes) in &files {
        if path != CHECKPOINT_PATH {
            dir.insert(TilePath::parse(path).expect("canonical path"), bytes.clone());
        }
    }
    let (size, root) = checkpoint_of(&store);
    let sizes: Vec<u64> = history.iter().map(|h| h.0).collect();
    let roots = verify_tree(&dir, size, &root, &sizes, &mut |_| {}).unwrap();
    assert_eq!(roots, history);
    TileLog::open(&dir, size, &root).unwrap();
    let store = BlockStore::open(store.into_device()).unwrap();
    assert_eq!(exported(&store), files);
    assert_verifies(&store, &history);
}
