//! Tests of snapshots on the volume: written in pieces, committed with an
//! index record, read back whole; `open` starts from the index record (and
//! finds exactly the index a full walk finds), falls back to the full walk
//! when that record is damaged, and a power cut at any point of a snapshot
//! keeps every acknowledged commit and either the new snapshot or the old.

use std::vec::Vec;

use ledgerfs_tiles::{TileLog, TileStore};

use super::{assert_verifies, checkpoint_of, commit_entries, CrashMode, Rng, SimDevice};
use crate::error::Error;
use crate::store::BlockStore;

const VID: [u8; 16] = *b"snapshot-testvol";

fn fresh(blocks: u64) -> (BlockStore<SimDevice>, TileLog) {
    let mut store = BlockStore::format(SimDevice::new(blocks), VID).unwrap();
    store
        .swap_checkpoint(&super::note(0, &ledgerfs_tiles::empty_root()))
        .unwrap();
    (store, TileLog::new())
}

/// Deterministic snapshot bytes of `len` from `seed`.
fn payload(seed: u64, len: usize) -> Vec<u8> {
    let mut rng = Rng(seed);
    (0..len).map(|_| rng.next() as u8).collect()
}

/// Writes `bytes` as the snapshot in pieces of varying sizes.
fn snapshot(store: &mut BlockStore<SimDevice>, bytes: &[u8], rng: &mut Rng) -> Result<(), Error> {
    store.begin_snapshot(bytes.len() as u64)?;
    let mut at = 0;
    while at < bytes.len() {
        let n = (rng.range(1, 20_000) as usize).min(bytes.len() - at);
        store.write_snapshot(&bytes[at..at + n])?;
        at += n;
    }
    store.finish_snapshot()
}

/// The committed snapshot, read in pieces of `max` bytes.
fn read_back(store: &BlockStore<SimDevice>, max: usize) -> Result<Option<Vec<u8>>, Error> {
    let Some(mut r) = store.snapshot_reader()? else {
        return Ok(None);
    };
    let mut out = Vec::new();
    loop {
        let piece = r.next(store, max)?;
        if piece.is_empty() {
            return Ok(Some(out));
        }
        out.extend_from_slice(&piece);
    }
}

#[test]
fn a_snapshot_is_read_back_and_open_starts_from_its_index_record() {
    let (mut store, mut log) = fresh(4096);
    let mut rng = Rng(7);
    for g in 0..6 {
        commit_entries(&mut store, &mut log, g, 300).unwrap();
    }
    let bytes = payload(1, 100_003);
    snapshot(&mut store, &bytes, &mut rng).unwrap();
    for g in 6..9 {
        commit_entries(&mut store, &mut log, g, 77).unwrap();
    }
    let checkpoint = checkpoint_of(&store);
    let index = store.index.committed().clone();

    let store = BlockStore::open(store.into_device()).unwrap();
    assert!(store.stats().opened_from_index);
    assert_eq!(store.stats().snapshot_bytes, bytes.len() as u64);
    assert_eq!(checkpoint_of(&store), checkpoint);
    assert_eq!(store.index.committed(), &index, "the same index as the full walk built");
    assert_eq!(read_back(&store, 4096).unwrap().unwrap(), bytes);
    assert_eq!(read_back(&store, 1 << 20).unwrap().unwrap(), bytes);
    assert_verifies(&store, &[]);

    // A second snapshot supersedes the first; commits go on after both.
    let mut log = assert_verifies(&store, &[]);
    let mut store = store;
    let second = payload(2, 5_000);
    snapshot(&mut store, &second, &mut rng).unwrap();
    commit_entries(&mut store, &mut log, 9, 10).unwrap();
    let checkpoint = checkpoint_of(&store);
    let store = BlockStore::open(store.into_device()).unwrap();
    assert!(store.stats().opened_from_index);
    assert_eq!(checkpoint_of(&store), checkpoint);
    assert_eq!(read_back(&store, 999).unwrap().unwrap(), second);
    assert_verifies(&store, &[]);
}

#[test]
fn a_damaged_index_record_falls_back_to_the_full_walk_and_a_damaged_snapshot_is_refused() {
    let (mut store, mut log) = fresh(4096);
    let mut rng = Rng(8);
    for g in 0..4 {
        commit_entries(&mut store, &mut log, g, 260).unwrap();
    }
    let bytes = payload(3, 30_000);
    snapshot(&mut store, &bytes, &mut rng).unwrap();
    commit_entries(&mut store, &mut log, 4, 50).unwrap();
    let checkpoint = checkpoint_of(&store);
    let index = store.index.committed().clone();
    let (index_block, snapshot_block) = (store.committed.index_block, store.committed.snapshot.unwrap().block);

    let mut dev = store.into_device();
    dev.poke(index_block, |b| b[crate::RECORD_HEADER_LEN + 30] ^= 1);
    let store = BlockStore::open(dev).unwrap();
    assert!(
        !store.stats().opened_from_index,
        "a damaged index record is not trusted"
    );
    assert_eq!(checkpoint_of(&store), checkpoint);
    assert_eq!(store.index.committed(), &index);
    assert_eq!(
        read_back(&store, 7_000).unwrap().unwrap(),
        bytes,
        "the walk finds the snapshot"
    );
    assert_verifies(&store, &[]);

    let mut dev = store.into_device();
    dev.poke(snapshot_block + 3, |b| b[100] ^= 1);
    let store = BlockStore::open(dev).unwrap();
    let err = read_back(&store, 7_000).unwrap_err();
    assert_eq!(err.code(), "corrupt", "{err}");
    assert_verifies(&store, &[]);
}

#[test]
fn snapshot_calls_out_of_order_are_refused_and_a_put_abandons_a_snapshot() {
    let (mut store, mut log) = fresh(4096);
    let mut rng = Rng(9);
    assert_eq!(store.write_snapshot(b"x").unwrap_err().code(), "snapshot_order");
    assert_eq!(store.finish_snapshot().unwrap_err().code(), "snapshot_order");
    store.begin_snapshot(10).unwrap();
    assert_eq!(store.write_snapshot(&[0; 11]).unwrap_err().code(), "snapshot_order");
    store.begin_snapshot(10).unwrap();
    store.write_snapshot(&[0; 9]).unwrap();
    assert_eq!(store.finish_snapshot().unwrap_err().code(), "snapshot_order");

    // A commit in the middle of a snapshot goes first; the snapshot is gone.
    store.begin_snapshot(10_000).unwrap();
    store.write_snapshot(&[1; 5_000]).unwrap();
    commit_entries(&mut store, &mut log, 1, 20).unwrap();
    assert_eq!(store.write_snapshot(&[1; 5_000]).unwrap_err().code(), "snapshot_order");
    assert_eq!(store.snapshot_len(), None);
    let checkpoint = checkpoint_of(&store);
    let store = BlockStore::open(store.into_device()).unwrap();
    assert_eq!(checkpoint_of(&store), checkpoint);
    assert_eq!(store.snapshot_len(), None);

    // No room: refused up front, nothing changes.
    let (mut small, mut log) = fresh(64);
    commit_entries(&mut small, &mut log, 1, 10).unwrap();
    assert_eq!(small.begin_snapshot(1 << 20).unwrap_err().code(), "device_full");
    snapshot(&mut small, &payload(4, 1_000), &mut rng).unwrap();
}

#[test]
fn power_cuts_during_snapshots_keep_every_acknowledged_commit_and_a_whole_snapshot() {
    let modes = [CrashMode::LoseUnflushed, CrashMode::InOrder, CrashMode::Reorder];
    let (mut from_index, mut new_kept, mut old_kept) = (0, 0, 0);
    for seed in 0..300u64 {
        let mut rng = Rng(seed);
        let (mut store, mut log) = fresh(8192);
        let mut acked_snapshot: Option<Vec<u8>> = None;
        for g in 0..rng.range(1, 4) {
            commit_entries(&mut store, &mut log, g, rng.range(1, 600)).unwrap();
        }
        if rng.below(2) == 0 {
            let old = payload(seed + 1000, rng.range(1, 40_000) as usize);
            snapshot(&mut store, &old, &mut rng).unwrap();
            acked_snapshot = Some(old);
            commit_entries(&mut store, &mut log, 5, rng.range(1, 300)).unwrap();
        }
        let checkpoint = checkpoint_of(&store);
        let new = payload(seed, rng.range(1, 60_000) as usize);
        store.device_mut().arm_cut(rng.below(40));
        let finished = snapshot(&mut store, &new, &mut rng).is_ok();
        let image = store.device_mut().crash(modes[(seed % 3) as usize], &mut rng);
        let store = BlockStore::open(image).unwrap();
        assert_eq!(checkpoint_of(&store), checkpoint, "seed {seed}: the checkpoint is kept");
        let found = read_back(&store, 8_192).unwrap();
        if finished {
            assert_eq!(
                found.as_ref(),
                Some(&new),
                "seed {seed}: an acknowledged snapshot is kept"
            );
        }
        if found.as_ref() == Some(&new) {
            new_kept += 1;
        } else {
            assert_eq!(found, acked_snapshot, "seed {seed}: else the one before");
            old_kept += 1;
        }
        from_index += u64::from(store.stats().opened_from_index);
        let mut log = assert_verifies(&store, &[]);
        let mut store = store;
        commit_entries(&mut store, &mut log, 9, 30).unwrap();
        assert_verifies(&BlockStore::open(store.into_device()).unwrap(), &[]);
    }
    assert!(
        new_kept > 0 && old_kept > 0 && from_index > 0,
        "{new_kept} {old_kept} {from_index}"
    );
}
