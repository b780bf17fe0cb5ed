//! Tests of the write and read paths: checksum rejection, device full (data area and thin-provisioned backing),
//! immutability of committed full tiles, swap retries, abandon, failures
//! mid-commit, the index limit, payload limits, and error codes.

use std::collections::BTreeSet;
use std::string::ToString;
use std::vec;
use std::vec::Vec;

use ledgerfs_tiles::{verify_tree, TileLog, TilePath, TileReader, TileStore};

use super::{assert_verifies, checkpoint_of, commit_entries, note, SimDevice};
use crate::device::DeviceError;
use crate::error::Error;
use crate::index::Loc;
use crate::record::{MAX_HASH_TILE_LEN, MAX_NOTE_LEN};
use crate::store::{BlockStore, Limits};

const VID: [u8; 16] = *b"write-test-vol!!";

fn fresh(blocks: u64) -> (BlockStore<SimDevice>, TileLog) {
    (BlockStore::format(SimDevice::new(blocks), VID).unwrap(), TileLog::new())
}

fn loc_of(store: &BlockStore<SimDevice>, p: &TilePath) -> Loc {
    store.index.get(p).expect("indexed")
}

#[test]
fn checksums_reject_damaged_records() {
    let (mut store, mut log) = fresh(256);
    let (_, s1, r1) = commit_entries(&mut store, &mut log, 1, 300).unwrap();
    commit_entries(&mut store, &mut log, 2, 1).unwrap(); // its superblock vouches for the first
    let full = TilePath::hash(0, 0, 256);
    let at = loc_of(&store, &full).block;
    // A flipped payload byte: open still works (it reads headers only), the
    // read names the block, and verification fails instead of trusting it.
    let mut dev = store.into_device();
    dev.poke(at + 1, |b| b[7] ^= 0x40);
    let store = BlockStore::open(dev).unwrap();
    assert_eq!(
        store.read(&full).unwrap_err(),
        Error::Corrupt {
            block: at,
            reason: "record payload fails its checksum"
        }
    );
    assert_eq!(
        verify_tree(&store, s1, &r1, &[], &mut |_| {}).unwrap_err().code(),
        "storage"
    );
    // A flipped header byte of a committed record: open refuses.
    let mut dev = store.into_device();
    dev.poke(at + 1, |b| b[7] ^= 0x40); // undo
    dev.poke(at, |b| b[30] ^= 1);
    assert_eq!(
        BlockStore::open(dev).unwrap_err(),
        Error::Corrupt {
            block: at,
            reason: "committed record header fails its checks"
        }
    );
}

#[test]
fn swap_can_be_retried_after_each_failing_step() {
    // A swap's operations: 0 the checkpoint record, 1 the superblock, 2 the flush.
    for failing_op in 0..3u64 {
        let (mut store, mut log) = fresh(128);
        commit_entries(&mut store, &mut log, 1, 20).unwrap();
        log.append(b"x").unwrap();
        let mut w = Vec::new();
        let root = log.commit(&mut w);
        for x in &w {
            store.put(&x.path, &x.bytes).unwrap();
        }
        store.sync().unwrap();
        let n = note(21, &root);
        let seq = store.stats().superblock_seq;
        store.device_mut().arm_failure(failing_op, DeviceError::Io);
        assert_eq!(store.swap_checkpoint(&n).unwrap_err().code(), "device");
        assert_ne!(
            store.checkpoint().unwrap(),
            Some(n.clone()),
            "op {failing_op}: not durable"
        );
        assert_eq!(store.stats().superblock_seq, seq, "op {failing_op}");
        store.swap_checkpoint(&n).unwrap();
        assert_eq!(store.checkpoint().unwrap(), Some(n.clone()));
        assert_eq!(store.stats().superblock_seq, seq + 1);
        log.mark_durable(21);
        commit_entries(&mut store, &mut log, 2, 9).unwrap();
        let store = BlockStore::open(store.into_device()).unwrap();
        assert_eq!(checkpoint_of(&store).0, 30);
        assert_verifies(&store, &[(21, root)]);
    }
}

#[test]
fn device_full_loses_nothing_committed() {
    let (mut store, mut log) = fresh(40);
    let mut acked = Vec::new();
    let err = loop {
        match commit_entries(&mut store, &mut log, 1, 60) {
            Ok((_, size, root)) => acked.push((size, root)),
            Err(e) => break e,
        }
    };
    assert_eq!(err.code(), "device_full");
    assert!(err.to_string().contains("nothing committed was lost"));
    assert!(!acked.is_empty());
    let s = store.stats();
    assert_eq!(s.staged_end, s.committed_end, "the failed commit was discarded");
    assert_eq!(checkpoint_of(&store), *acked.last().unwrap());
    assert_verifies(&store, &acked);
    let store = BlockStore::open(store.into_device()).unwrap();
    assert_verifies(&store, &acked);

    // Thin-provisioned backing storage that runs out: the same error.
    let (mut store, mut log) = fresh(1024);
    let (_, s1, r1) = commit_entries(&mut store, &mut log, 1, 100).unwrap();
    let end = store.stats().committed_end;
    store.device_mut().no_space_from = Some(end + 2);
    let e = commit_entries(&mut store, &mut log, 2, 600).unwrap_err();
    assert_eq!(e.code(), "device_full");
    assert_eq!(checkpoint_of(&store), (s1, r1));
    store.device_mut().no_space_from = None;
    let mut log = assert_verifies(&store, &[(s1, r1)]);
    commit_entries(&mut store, &mut log, 3, 600).unwrap();
    assert_verifies(&store, &[(s1, r1)]);
}

#[test]
fn committed_full_tiles_are_immutable_staged_ones_are_not() {
    let (mut store, mut log) = fresh(256);
    let (w, _, _) = commit_entries(&mut store, &mut log, 1, 256).unwrap();
    let full = w.iter().find(|w| w.path == TilePath::hash(0, 0, 256)).unwrap();
    let ops = store.device_mut().ops;
    store.put(&full.path, &full.bytes).unwrap();
    assert_eq!(store.device_mut().ops, ops, "an identical rewrite writes nothing");
    store.put(&TilePath::hash(0, 1, 3), &[7; 96]).unwrap();
    let mut other = full.bytes.clone();
    other[5] ^= 1;
    assert_eq!(
        store.put(&full.path, &other).unwrap_err(),
        Error::ImmutableRewrite { path: full.path }
    );
    let s = store.stats();
    assert_eq!(s.staged_end, s.committed_end, "the error discarded the staged put");
    assert_eq!(store.read(&TilePath::hash(0, 1, 3)).unwrap(), None);

    // Above the checkpoint a full tile may change (after a rollback): the
    // later put wins, also after a reopen.
    let p = TilePath::hash(0, 1, 256);
    store.put(&p, &[1; 8192]).unwrap();
    store.put(&p, &[2; 8192]).unwrap();
    assert_eq!(store.read(&p).unwrap(), Some(vec![2; 8192]));
    store.sync().unwrap();
    store.swap_checkpoint(b"not a real note").unwrap();
    let store = BlockStore::open(store.into_device()).unwrap();
    assert_eq!(store.read(&p).unwrap(), Some(vec![2; 8192]));
}

#[test]
fn failures_mid_commit_discard_the_staged_records() {
    // The puts of the second commit (it writes at least four files).
    for failing_op in 0..4u64 {
        let (mut store, mut log) = fresh(256);
        let (_, s1, r1) = commit_entries(&mut store, &mut log, 1, 250).unwrap();
        store.device_mut().arm_failure(failing_op, DeviceError::Io);
        let e = commit_entries(&mut store, &mut log, 2, 20).unwrap_err();
        assert_eq!(e, Error::Device(DeviceError::Io));
        assert_eq!(log.size(), s1, "the host rolled back");
        let s = store.stats();
        assert_eq!(s.staged_end, s.committed_end);
        assert_eq!(store.read(&TilePath::entries(0, 256)).unwrap(), None);
        // The re-emitted commit (other entries) goes through.
        let (_, s2, r2) = commit_entries(&mut store, &mut log, 3, 20).unwrap();
        let store = BlockStore::open(store.into_device()).unwrap();
        assert_eq!(checkpoint_of(&store), (s2, r2));
        assert_verifies(&store, &[(s1, r1)]);
    }
}

#[test]
fn abandon_forgets_synced_but_unsigned_records() {
    let (mut store, mut log) = fresh(256);
    let (_, s1, r1) = commit_entries(&mut store, &mut log, 1, 10).unwrap();
    // Synced, then the signer refuses: the host rolls back and abandons.
    for i in 0..20 {
        log.append(&[9, i]).unwrap();
    }
    let mut w = Vec::new();
    log.commit(&mut w);
    for x in &w {
        store.put(&x.path, &x.bytes).unwrap();
    }
    store.sync().unwrap();
    log.rollback();
    store.abandon();
    assert_eq!(store.read(&TilePath::hash(0, 0, 30)).unwrap(), None);
    let (_, s2, r2) = commit_entries(&mut store, &mut log, 2, 5).unwrap();
    let store = BlockStore::open(store.into_device()).unwrap();
    assert_eq!(checkpoint_of(&store), (s2, r2));
    assert_eq!(store.read(&TilePath::hash(0, 0, 30)).unwrap(), None);
    assert_verifies(&store, &[(s1, r1)]);
}

#[test]
fn the_index_limit_is_enforced_at_put_and_at_open() {
    let dev = BlockStore::format(SimDevice::new(512), VID).unwrap().into_device();
    let mut store = BlockStore::open_with(dev, Limits { max_index_entries: 9 }).unwrap();
    let mut log = TileLog::new();
    let mut acked = Vec::new();
    let e = loop {
        match commit_entries(&mut store, &mut log, 1, 1) {
            Ok((_, size, root)) => acked.push((size, root)),
            Err(e) => break e,
        }
    };
    assert_eq!(e, Error::IndexFull { max: 9 });
    assert_eq!(store.stats().index_entries, 8);
    assert_verifies(&store, &acked);
    let dev = store.into_device();
    let store = BlockStore::open_with(dev.clone(), Limits { max_index_entries: 9 }).unwrap();
    assert_verifies(&store, &acked);
    let e = BlockStore::open_with(dev, Limits { max_index_entries: 7 }).unwrap_err();
    assert_eq!(e.code(), "index_full");
}

#[test]
fn oversized_payloads_are_refused() {
    let (mut store, _) = fresh(64);
    let e = store
        .put(&TilePath::hash(0, 0, 256), &vec![0; MAX_HASH_TILE_LEN + 1])
        .unwrap_err();
    assert_eq!(
        e,
        Error::RecordTooLarge {
            len: MAX_HASH_TILE_LEN + 1,
            max: MAX_HASH_TILE_LEN
        }
    );
    let e = store.swap_checkpoint(&vec![b'n'; MAX_NOTE_LEN + 1]).unwrap_err();
    assert_eq!(e.code(), "record_too_large");
    store.swap_checkpoint(&vec![b'n'; MAX_NOTE_LEN]).unwrap();
    // A bundle bigger than a device is just full.
    let e = store.put(&TilePath::entries(0, 256), &vec![0; 1 << 20]).unwrap_err();
    assert_eq!(e.code(), "device_full");
}

#[test]
fn error_codes_are_stable_distinct_and_displayed() {
    let errs = [
        Error::Device(DeviceError::Io),
        Error::DeviceFull { needed: 3, free: 1 },
        Error::NotFormatted,
        Error::Geometry { reason: "r" },
        Error::Corrupt { block: 9, reason: "r" },
        Error::RecordTooLarge { len: 2, max: 1 },
        Error::ImmutableRewrite {
            path: TilePath::hash(0, 0, 256),
        },
        Error::IndexFull { max: 1 },
    ];
    let mut codes = BTreeSet::new();
    for e in &errs {
        assert!(e.code().bytes().all(|b| b.is_ascii_lowercase() || b == b'_'));
        assert!(e.to_string().starts_with(e.code()));
        codes.insert(e.code());
    }
    assert_eq!(codes.len(), errs.len());
    for d in [DeviceError::Io, DeviceError::OutOfRange, DeviceError::NoSpace] {
        assert!(d.to_string().starts_with(d.code()));
    }
    assert_eq!(Error::from(DeviceError::NoSpace).code(), "device_full");
    assert!(Error::from(DeviceError::NoSpace)
        .to_string()
        .contains("backing storage is full"));
    assert_eq!(Error::from(DeviceError::OutOfRange).code(), "device");
}
