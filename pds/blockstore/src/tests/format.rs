//! Tests of `format`, `open` and the superblocks: alternation, newest valid
//! copy wins, fallback with forward recovery, geometry checks, reformatting
//! over an old volume, open writing nothing, and 512-byte blocks.

use std::vec::Vec;

use ledgerfs_tiles::{TilePath, TileReader, TileStore};

use super::{assert_verifies, checkpoint_of, commit_entries, Sim, SimDevice};
use crate::error::Error;
use crate::store::BlockStore;
use crate::superblock::Superblock;
use crate::DATA_START;

const VID: [u8; 16] = *b"format-test-vol!";

fn sb_at(dev: &SimDevice, b: u64) -> Option<Superblock> {
    Superblock::decode(&dev.block(b), b).unwrap()
}

#[test]
fn superblocks_alternate_and_the_newest_valid_one_wins() {
    let mut store = BlockStore::format(SimDevice::new(256), VID).unwrap();
    let s = store.stats();
    assert_eq!(
        (s.superblock_seq, s.committed_end, s.superblock_behind),
        (1, DATA_START, false)
    );
    let mut log = ledgerfs_tiles::TileLog::new();
    let mut history = Vec::new();
    for k in 0..4u64 {
        let (_, size, root) = commit_entries(&mut store, &mut log, 1, 10 + k).unwrap();
        history.push((size, root));
        // Commit k writes superblock 1 + k, naming commit k - 1's end (the
        // first commit after format has nothing new to name).
        let seq = 1 + k;
        assert_eq!(store.stats().superblock_seq, seq);
        assert!(
            store.stats().superblock_behind,
            "the last commit lies past the superblock"
        );
        if k == 0 {
            continue;
        }
        let dev = store.device_mut();
        assert_eq!(
            sb_at(dev, seq % 2).unwrap().seq,
            seq,
            "write {seq} goes to block {}",
            seq % 2
        );
        assert_eq!(
            sb_at(dev, 1 - seq % 2).unwrap().seq,
            seq - 1,
            "the other copy is untouched"
        );
    }
    // Damage the newest copy (seq 4, block 0): seq 3 wins, and following the
    // chain past its end still finds the last two commits.
    let mut dev = store.into_device();
    dev.poke(0, |b| b[100] ^= 1);
    let mut store = BlockStore::open(dev).unwrap();
    assert_eq!(checkpoint_of(&store), *history.last().unwrap());
    assert_eq!(store.stats().superblock_seq, 3);
    assert!(store.stats().superblock_behind);
    let mut log = assert_verifies(&store, &history);
    // The next commit writes seq 4 into block 0, never over block 1 (seq 3).
    commit_entries(&mut store, &mut log, 2, 5).unwrap();
    let dev = store.into_device();
    assert_eq!(sb_at(&dev, 0).unwrap().seq, 4);
    assert_eq!(sb_at(&dev, 1).unwrap().seq, 3);
    // Both copies gone: not formatted.
    let mut dev = dev;
    dev.poke(0, |b| b[0] ^= 1);
    dev.poke(1, |b| b[150] ^= 1);
    assert_eq!(BlockStore::open(dev).unwrap_err(), Error::NotFormatted);
    assert_eq!(
        BlockStore::open(SimDevice::new(64)).unwrap_err().code(),
        "not_formatted"
    );
}

#[test]
fn open_writes_nothing_even_when_it_recovers() {
    let mut store = BlockStore::format(SimDevice::new(128), VID).unwrap();
    let mut log = ledgerfs_tiles::TileLog::new();
    commit_entries(&mut store, &mut log, 1, 30).unwrap();
    // The last commit is durable by its checkpoint record alone: the
    // superblock naming it goes with the next commit.
    commit_entries(&mut store, &mut log, 2, 5).unwrap();
    let n = store.checkpoint().unwrap().unwrap();
    assert!(store.stats().superblock_behind);
    let dev = store.into_device();
    let ops = dev.ops;
    let store = BlockStore::open(dev).unwrap();
    assert_eq!(store.checkpoint().unwrap(), Some(n));
    assert!(store.stats().superblock_behind);
    let dev = store.into_device();
    assert_eq!(
        (dev.ops, dev.pending_writes()),
        (ops, 0),
        "open issued no write or flush"
    );
    // And the opened store is fully usable.
    let mut store = BlockStore::open(dev).unwrap();
    let mut log = assert_verifies(&store, &[]);
    let seq = store.stats().superblock_seq;
    commit_entries(&mut store, &mut log, 3, 3).unwrap();
    assert_eq!(
        store.stats().superblock_seq,
        seq + 1,
        "the next commit names the recovered one"
    );
}

#[test]
fn geometry_is_checked() {
    // Block size unsupported.
    assert_eq!(
        BlockStore::format(Sim::<256>::new(64), VID).unwrap_err().code(),
        "geometry"
    );
    assert_eq!(
        BlockStore::format(Sim::<3000>::new(64), VID).unwrap_err().code(),
        "geometry"
    );
    // Too small.
    assert_eq!(
        BlockStore::format(SimDevice::new(8), VID).unwrap_err().code(),
        "geometry"
    );
    // Read with another block size than formatted, or from a shrunk device.
    let store = BlockStore::format(SimDevice::new(64), VID).unwrap();
    let flat = store.into_device().to_flat();
    let as512 = Sim::<512>::from_flat(&flat, 512);
    assert_eq!(
        BlockStore::open(as512).unwrap_err(),
        Error::Geometry {
            reason: "block size differs from the one recorded at format"
        }
    );
    assert_eq!(
        BlockStore::open(SimDevice::from_flat(&flat, 40)).unwrap_err().code(),
        "geometry"
    );
    // A grown device opens (the volume keeps its recorded size).
    let store = BlockStore::open(SimDevice::from_flat(&flat, 100)).unwrap();
    assert_eq!(store.stats().block_count, 64);
}

#[test]
fn reformatting_never_revives_old_records() {
    let mut store = BlockStore::format(SimDevice::new(256), VID).unwrap();
    let mut log = ledgerfs_tiles::TileLog::new();
    commit_entries(&mut store, &mut log, 1, 300).unwrap();
    let old = store.into_device();
    let first_record = old.block(DATA_START);
    // Same volume id on purpose; then undo the zeroing of the first data
    // block, so the whole old chain is on disk again.
    let store = BlockStore::format(old, VID).unwrap();
    let mut dev = store.into_device();
    dev.poke(DATA_START, |b| b.copy_from_slice(&first_record));
    let store = BlockStore::open(dev).unwrap();
    assert_eq!(store.checkpoint().unwrap(), None);
    assert_eq!(store.stats().committed_records, 0);
    assert_eq!(store.read(&TilePath::hash(0, 0, 256)).unwrap(), None);
    assert_eq!(
        store.stats().superblock_seq,
        3,
        "numbered above the old superblocks (0 and 1: the one commit named none)"
    );
}

#[test]
fn small_blocks_hold_multi_block_records() {
    let mut store = BlockStore::format(Sim::<512>::new(4096), VID).unwrap();
    let mut log = ledgerfs_tiles::TileLog::new();
    let mut history = Vec::new();
    for n in [1u64, 255, 2, 300, 700] {
        let (_, size, root) = commit_entries(&mut store, &mut log, n, n).unwrap();
        history.push((size, root));
    }
    // A note longer than one block.
    let mut w = Vec::new();
    log.append(b"long note").unwrap();
    let root = log.commit(&mut w);
    let mut n = super::note(log.size(), &root);
    n.extend(std::iter::repeat_n(b'x', 900));
    super::put_all(&mut store, &w, &n).unwrap();
    history.push((log.size(), root));
    let store = BlockStore::open(store.into_device()).unwrap();
    assert_eq!(store.checkpoint().unwrap(), Some(n));
    assert_verifies(&store, &history);
}

#[test]
fn only_a_blank_device_is_formatted_at_boot() {
    // Blank: formatted, and opened as formatted at the next boot.
    let (store, formatted) = BlockStore::open_or_format_blank(SimDevice::new(64), VID).unwrap();
    assert!(formatted);
    let (mut store, formatted) = BlockStore::open_or_format_blank(store.into_device(), VID).unwrap();
    assert!(!formatted);
    let mut log = ledgerfs_tiles::TileLog::new();
    commit_entries(&mut store, &mut log, 1, 10).unwrap();
    let (size, _) = checkpoint_of(&store);
    // Both superblocks damaged: refused, never formatted over (the refusal only reads).
    let mut dev = store.into_device();
    dev.poke(0, |b| b[0] ^= 1);
    dev.poke(1, |b| b[0] ^= 1);
    let damaged = dev.to_flat();
    let err = BlockStore::open_or_format_blank(dev, VID).unwrap_err();
    assert_eq!(err, Error::NotFormatted);
    // So once one superblock is repaired, the ledger is all there.
    let mut dev = SimDevice::from_flat(&damaged, 64);
    dev.poke(1, |b| b[0] ^= 1);
    let (store, formatted) = BlockStore::open_or_format_blank(dev, VID).unwrap();
    assert!(!formatted);
    assert_eq!(checkpoint_of(&store).0, size);
}

/// Rewrites the superblock in block `b` as if format `version` had written it (the
/// layout of versions 2 and 3), its checksum recomputed.
fn with_version(dev: &mut SimDevice, b: u64, version: u32) {
    dev.poke(b, |block| {
        block[8..12].copy_from_slice(&version.to_le_bytes());
        let s = crate::codec::sum(&block[..144]);
        block[144..176].copy_from_slice(&s);
    });
}

/// Rewrites a volume as format version 3 wrote it: every record's payload checksum
/// SHA-256 (the chain re-linked, since each header checksum changes) and both
/// superblocks version 3.
fn as_version_3(dev: &mut SimDevice) {
    use crate::codec::PayloadSum;
    use crate::record::{Header, RECORD_HEADER_LEN};
    let bs = 4096;
    let (mut renamed, mut at, mut prev) = (std::collections::HashMap::new(), DATA_START, None);
    while let Some((h, old_sum)) = Header::decode(&dev.block(at)) {
        if prev.is_some_and(|(old_prev, _)| h.prev != old_prev) {
            break; // the chain ends here
        }
        let record: Vec<u8> = (0..h.blocks(bs)).flat_map(|b| dev.block(at + b)).collect();
        let payload = &record[RECORD_HEADER_LEN..RECORD_HEADER_LEN + h.len as usize];
        assert_eq!(h.payload_kind, PayloadSum::Xxh3, "this version's records");
        let old = Header {
            payload_kind: PayloadSum::Sha256,
            payload_sum: PayloadSum::Sha256.of(payload),
            prev: prev.map_or(h.prev, |(_, new_prev)| new_prev),
            ..h
        };
        let mut first = dev.block(at);
        let new_sum = old.encode(&mut first);
        dev.poke(at, |b| b.copy_from_slice(&first));
        renamed.insert(old_sum, new_sum);
        prev = Some((old_sum, new_sum));
        at += h.blocks(bs);
    }
    for b in 0..2 {
        let mut sb = sb_at(dev, b).unwrap();
        if let Some(new) = renamed.get(&sb.tip.last_sum) {
            sb.tip.last_sum = *new;
        }
        dev.poke(b, |block| sb.encode(block));
        with_version(dev, b, 3);
    }
}

#[test]
fn a_version_3_volume_opens_and_is_upgraded_before_its_first_record() {
    let mut store = BlockStore::format(SimDevice::new(512), VID).unwrap();
    let mut log = ledgerfs_tiles::TileLog::new();
    commit_entries(&mut store, &mut log, 1, 300).unwrap();
    let (_, s1, r1) = commit_entries(&mut store, &mut log, 2, 20).unwrap();
    let snapshot: Vec<u8> = (0..50_000u32).map(|i| (i * 7) as u8).collect();
    store.begin_snapshot(snapshot.len() as u64).unwrap();
    store.write_snapshot(&snapshot).unwrap();
    store.finish_snapshot().unwrap();
    let mut dev = store.into_device();
    as_version_3(&mut dev);
    {
        // A version 3 record's SHA-256 is still checked: a flipped payload byte
        // of the first record (a tile) is caught when it is read.
        let Some((
            crate::record::Header {
                kind: crate::record::RecordKind::Tile(first),
                ..
            },
            _,
        )) = crate::record::Header::decode(&dev.block(DATA_START))
        else {
            panic!("the first record is a tile");
        };
        let mut d = SimDevice::from_flat(&dev.to_flat(), 512);
        d.poke(DATA_START, |b| b[200] ^= 1);
        let damaged = BlockStore::open(d).unwrap();
        assert!(matches!(damaged.read(&first), Err(Error::Corrupt { .. })));
    }

    let mut store = BlockStore::open(dev).unwrap();
    assert_eq!(store.sb_version, 3);
    assert_eq!(checkpoint_of(&store), (s1, r1));
    let mut log = assert_verifies(&store, &[]);
    let mut r = store.snapshot_reader().unwrap().unwrap();
    assert_eq!(r.next(&store, 1 << 20).unwrap(), snapshot, "its SHA-256 checks");
    // The next commit first makes the volume version 4 (which version 3 images
    // refuse), then writes records with XXH3 checksums after the SHA-256 ones.
    let seq = store.stats().superblock_seq;
    let (_, s2, r2) = commit_entries(&mut store, &mut log, 3, 40).unwrap();
    assert_eq!(store.sb_version, crate::FORMAT_VERSION);
    assert!(store.stats().superblock_seq > seq);
    let store = BlockStore::open(store.into_device()).unwrap();
    assert_eq!(checkpoint_of(&store), (s2, r2));
    assert_verifies(&store, &[(s1, r1)]);
}

#[test]
fn a_version_2_volume_is_upgraded_before_its_first_long_checkpoint() {
    let mut store = BlockStore::format(SimDevice::new(256), VID).unwrap();
    let mut log = ledgerfs_tiles::TileLog::new();
    commit_entries(&mut store, &mut log, 1, 10).unwrap();
    commit_entries(&mut store, &mut log, 2, 3).unwrap();
    let mut dev = store.into_device();
    for b in 0..2 {
        with_version(&mut dev, b, 2);
    }
    let mut store = BlockStore::open(dev).unwrap();
    assert_eq!(store.sb_version, 2);
    // The first commit after open names nothing new, so it writes no superblock,
    // and a version 2 reader would take its long note (an ML-DSA-44 signature line)
    // for a torn record. The store first makes the newest superblock the current
    // version, which version 2 readers refuse instead of losing the commit.
    let long = std::vec![b'l'; 3800];
    let seq = store.stats().superblock_seq;
    store.swap_checkpoint(&long).unwrap();
    assert_eq!(store.sb_version, crate::FORMAT_VERSION);
    assert_eq!(store.stats().superblock_seq, seq + 1);
    let dev = store.into_device();
    let newest = [sb_at(&dev, 0).unwrap(), sb_at(&dev, 1).unwrap()]
        .into_iter()
        .max_by_key(|s| s.seq)
        .unwrap();
    assert_eq!((newest.seq, newest.version), (seq + 1, crate::FORMAT_VERSION));
    let store = BlockStore::open(dev).unwrap();
    assert_eq!(store.checkpoint().unwrap().unwrap(), long);
}

#[test]
fn superblocks_of_an_unknown_version_are_refused() {
    let store = BlockStore::format(SimDevice::new(64), VID).unwrap();
    let mut dev = store.into_device();
    with_version(&mut dev, 1, crate::FORMAT_VERSION + 1);
    assert_eq!(BlockStore::open(dev).unwrap_err().code(), "geometry");
}
