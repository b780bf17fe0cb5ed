//! Tests of recovery past the superblock's end: an intact tail commit is
//! adopted, a damaged one is not, and records left by an earlier attempt
//! are never spliced onto a newer chain (the `prev` links).

use std::vec::Vec;

use ledgerfs_tiles::{Hash, TileLog, TilePath, TileReader, TileStore};

use super::{assert_verifies, checkpoint_of, commit_entries, note, put_all, CrashMode, Rng, SimDevice};
use crate::device::BlockDevice;
use crate::index::Loc;
use crate::store::BlockStore;

const VID: [u8; 16] = *b"recover-test-vol";

fn fresh(blocks: u64) -> (BlockStore<SimDevice>, TileLog) {
    (BlockStore::format(SimDevice::new(blocks), VID).unwrap(), TileLog::new())
}

fn loc_of(store: &BlockStore<SimDevice>, p: &TilePath) -> Loc {
    store.index.get(p).expect("indexed")
}

/// Commit once more: the last commit is durable by its checkpoint record
/// alone (the superblock naming it goes with the next commit). Returns the
/// store and the tail commit.
fn store_with_tail_commit() -> (BlockStore<SimDevice>, (u64, Hash), (u64, Hash), TilePath) {
    let (mut store, mut log) = fresh(256);
    let (_, s1, r1) = commit_entries(&mut store, &mut log, 1, 40).unwrap();
    log.append(b"tail entry").unwrap();
    let mut w = Vec::new();
    let r2 = log.commit(&mut w);
    put_all(&mut store, &w, &note(41, &r2)).unwrap();
    assert!(store.stats().superblock_behind);
    (store, (s1, r1), (41, r2), w[0].path)
}

#[test]
fn recovery_adopts_an_intact_tail_commit_and_rejects_a_damaged_one() {
    let (store, _, second, _) = store_with_tail_commit();
    let store = BlockStore::open(store.into_device()).unwrap();
    assert_eq!(checkpoint_of(&store), second);
    assert_verifies(&store, &[]);

    let (store, first, _, path) = store_with_tail_commit();
    let at = loc_of(&store, &path).block;
    let mut dev = store.into_device();
    dev.poke(at, |b| b[crate::RECORD_HEADER_LEN + 3] ^= 1); // payload of a tail record
    let store = BlockStore::open(dev).unwrap();
    assert_eq!(checkpoint_of(&store), first, "a damaged tail commit is not adopted");
    assert_eq!(store.read(&path).unwrap(), None, "nor are its tiles");
    assert_verifies(&store, &[]);
}

#[test]
fn stale_records_of_an_earlier_attempt_are_never_spliced_in() {
    // Base commit, then attempt A: durable up to its checkpoint record.
    let (mut store, mut log) = fresh(256);
    let base = {
        let (_, s, r) = commit_entries(&mut store, &mut log, 1, 10).unwrap();
        (s, r)
    };
    let attempt = |log: &mut TileLog, gen: u8| -> (Vec<ledgerfs_tiles::TileWrite>, u64, Hash) {
        for i in 0..5u8 {
            log.append(&[gen, i, 0, 0]).unwrap();
        }
        let mut w = Vec::new();
        let root = log.commit(&mut w);
        (w, log.size(), root)
    };
    let (wa, sa, ra) = attempt(&mut log, 0xa);
    put_all(&mut store, &wa, &note(sa, &ra)).unwrap();
    // A's first record is lost (torn), so recovery stops before A.
    let first = loc_of(&store, &wa[0].path).block;
    let mut dev = store.into_device();
    dev.poke(first, |b| b[40] ^= 0xff);
    let mut store = BlockStore::open(dev).unwrap();
    assert_eq!(checkpoint_of(&store), base);
    // Attempt B writes the same shapes at the same blocks; power is cut after
    // its first record is durable. On disk: B1, A2, ..., A's checkpoint —
    // same sequence numbers, but A2 links to A1, not to B1.
    let mut log = assert_verifies(&store, &[]);
    let (wb, sb_, rb) = attempt(&mut log, 0xb);
    assert_eq!(wb.len(), wa.len());
    store.put(&wb[0].path, &wb[0].bytes).unwrap();
    store.device_mut().flush().unwrap(); // B1 reached the disk
    assert_eq!(loc_of(&store, &wb[0].path).block, first);
    let rebooted = store.into_device().crash(CrashMode::LoseUnflushed, &mut Rng(1));
    let store = BlockStore::open(rebooted).unwrap();
    assert_eq!(checkpoint_of(&store), base, "neither A nor a B/A splice is adopted");
    assert_ne!(checkpoint_of(&store), (sa, ra));
    assert_ne!(checkpoint_of(&store), (sb_, rb));
    assert_verifies(&store, &[]);
}
