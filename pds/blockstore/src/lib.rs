//! LedgerFS block store: a tlog-tiles log on a raw block device, for the
//! seL4 appliance's tiles PD (which reaches a virtio-blk driver PD over a
//! ring). This crate is the layout logic only: `#![no_std]` + `alloc`,
//! sans-IO, every device access goes through [`BlockDevice`].
//!
//! What it is for: [`BlockStore`] implements the tiles core's
//! [`TileReader`](ledgerfs_tiles::TileReader) and
//! [`TileStore`](ledgerfs_tiles::TileStore) so the same `TileLog` commit
//! protocol as the hosted daemon (put every file, sync, sign,
//! swap_checkpoint) runs on a disk; [`export`] turns a volume back into a
//! tlog-tiles directory that `ledgerfs verify` accepts.
//!
//! What it must never do: write into a block a durable superblock vouches
//! for (except the superblock slot that is not the newest), acknowledge a
//! commit before its last flush completed, accept a record that fails its
//! checksum or does not continue the chain, or touch threads, clocks, files
//! or syscalls.
//!
//! # On-disk format (version 4)
//!
//! All integers little-endian. Block size `B` is `D::BLOCK_SIZE` (4096 by
//! default; any power of two in 512..=65536), recorded at format.
//!
//! ```text
//! block 0, 1   superblocks (write n goes to block n mod 2)
//! block 2..    data area: records, each starting on a block boundary,
//!              appended in chain order; never rewritten once committed
//! ```
//!
//! ## Superblock (blocks 0 and 1; rest of the block zero)
//!
//! | offset | size | field |
//! |---:|---:|---|
//! | 0 | 8 | magic `LFSBSUP1` |
//! | 8 | 4 | format version (4) |
//! | 12 | 4 | block size in bytes |
//! | 16 | 8 | write number `n` (this copy lives in block `n mod 2`) |
//! | 24 | 8 | block count of the volume |
//! | 32 | 16 | volume id (chosen at format) |
//! | 48 | 32 | genesis: SHA-256(label, volume id, first write number) |
//! | 80 | 8 | end: first block after the last committed record |
//! | 88 | 8 | sequence number of that record (0: none) |
//! | 96 | 32 | header checksum of that record (genesis if none) |
//! | 128 | 8 | first block of the last checkpoint record (0: none) |
//! | 136 | 8 | first block of the newest index record (0: none) |
//! | 144 | 32 | SHA-256 of bytes 0..144 |
//!
//! Version 1 superblocks (no index record field, checksum at 136) and version
//! 2 ones (this layout; checkpoint notes of at most 2 KiB) are still read; every
//! superblock written is version 4. Version 3 raised [`MAX_NOTE_LEN`] to 8 KiB
//! (room for an ML-DSA-44 signature); version 4 checksums payloads with XXH3-128
//! (record byte 11). Before a store writes its first record on an older volume it
//! writes a superblock of the current version, which older readers refuse rather
//! than take a record they cannot decode for a torn one.
//!
//! The valid copy (magic, checksum, `n mod 2` matches its block) with the
//! higher write number wins.
//!
//! ## Record (header, then payload, zero-padded to a block boundary)
//!
//! | offset | size | field |
//! |---:|---:|---|
//! | 0 | 8 | magic `LFSBREC1` |
//! | 8 | 1 | kind: 1 tile, 2 checkpoint, 3 snapshot, 4 index |
//! | 9 | 1 | tile family: 0 hash tile, 1 entry bundle (0 for a checkpoint) |
//! | 10 | 1 | hash-tile level 0..=63 (0 otherwise) |
//! | 11 | 1 | payload checksum: 0 SHA-256 (versions 1–3), 1 XXH3-128 (version 4) |
//! | 12 | 2 | tile width 1..=256 (0 for a checkpoint) |
//! | 14 | 2 | reserved, 0 |
//! | 16 | 8 | tile index `N` (0 for a checkpoint) |
//! | 24 | 4 | payload length |
//! | 28 | 4 | reserved, 0 |
//! | 32 | 8 | sequence number: previous record's + 1 (first is 1) |
//! | 40 | 16 | volume id |
//! | 56 | 32 | prev: header checksum of the previous record (genesis for the first) |
//! | 88 | 32 | payload checksum: SHA-256, or XXH3-128 (little-endian) and 16 zero bytes |
//! | 120 | 32 | header checksum: SHA-256 of bytes 0..120 |
//! | 152 | len | payload: the tile/bundle bytes, the signed checkpoint note, a snapshot, or an index |
//!
//! A snapshot record's payload is opaque here (the appliance stores a
//! `ledgerfs-snapshot` container of the sequencer's state). An index
//! record's payload is the committed index when it was written:
//!
//! | offset | size | field |
//! |---:|---:|---|
//! | 0 | 8 | first block of the snapshot record before it |
//! | 8 | 8 | that snapshot's payload length |
//! | 16 | 4 | path count `n` |
//! | 20 | 24·n | per path: family (0 hash, 1 entries), level, width u16, tile index u64, record block u64, payload length u32 |
//!
//! The `prev` links make the records a hash chain: a record is accepted only
//! as the continuation of the exact history before it, so stale records from
//! an abandoned or crashed attempt (or an earlier format) are never spliced
//! in.
//!
//! ## Commit protocol
//!
//! 1. `put`: append one tile record per file (`sync` adds nothing: see 4);
//! 2. `swap_checkpoint`: append the checkpoint record (the commit record);
//! 3. write the next superblock, naming the end of the *previous* commit
//!    (which the previous flush made durable);
//! 4. one flush; only now does `swap_checkpoint` return `Ok` (the commit is
//!    durable and acknowledged).
//!
//! One barrier per commit, and a superblock never names a record that is not
//! yet durable: a torn or reordered write can spoil only the commit in
//! flight, which recovery then drops. Every `put` keeps room for the
//! checkpoint record, so step 2 cannot run out of space.
//!
//! ## Recovery rule
//!
//! `open` takes the newest valid superblock, re-reads the chain it names
//! (refusing to open if any of it fails a check: a durable superblock vouches
//! for it), then follows the chain past its end and adopts every complete
//! commit found: a run of checksummed records, each continuing the chain,
//! ending in a checkpoint record. That is the last acknowledged commit (its
//! superblock goes with the next one) and the one in flight at a crash, if it
//! is whole; anything after the last complete commit is ignored and later
//! overwritten. A commit whose flush completed is always found: its records
//! were durable before any superblock named them, and a superblock write
//! never touches the other, older copy.
//!
//! What this trades: media damage (not a torn write, which a flushed record
//! cannot suffer) to the last acknowledged commit before the next commit
//! lands would make recovery drop it rather than refuse the volume; every
//! earlier commit is vouched for by a superblock, so damage there is refused
//! loudly.
//!
//! ## Snapshots
//!
//! `begin_snapshot`, `write_snapshot` (pieces), `finish_snapshot` append a
//! snapshot record, an index record and a checkpoint record repeating the
//! current note (one commit), flush, then write the superblock naming the
//! index record, and flush. `open` then loads the index from that record and
//! walks only the records after it; a damaged index record is ignored and
//! the whole chain walked instead (the index record is an optimisation, never
//! trusted over the chain). A `put` or `swap_checkpoint` during a snapshot
//! abandons it (commits go first).
//!
//! Partial tiles are written anew at each commit (new records). The index
//! (path → record) is rebuilt at `open` by reading one header block per
//! committed record; a full tile, once committed, is immutable, and its
//! partial versions leave the index (as the POSIX store deletes them).
//! Superseded records are not reclaimed: the data area fills, and then `put`
//! fails with [`Error::DeviceFull`] without losing anything committed.
//!
//! Cost of `open` (which never writes): one block read per committed record
//! after the newest index record (all of them without one), plus the index
//! record itself (24 bytes per indexed file), plus a full read of the records past the superblock's end (normally none
//! or one commit). A log of 10 million entries committed 1,000 at a time has
//! about 130,000 records: about 520 MiB of header reads with 4 KiB blocks.
//!
//! ## Limits
//!
//! [`MAX_HASH_TILE_LEN`] (8 KiB), [`MAX_BUNDLE_LEN`] (a full bundle of
//! maximal entries, 16 MiB), [`MAX_NOTE_LEN`] (8 KiB) bound every record;
//! [`Limits::max_index_entries`] (default [`DEFAULT_MAX_INDEX_ENTRIES`])
//! bounds the index; [`MIN_DEVICE_BLOCKS`] the smallest volume.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;
#[cfg(test)]
extern crate std;

mod codec;
mod combine;
mod commit;
mod device;
mod error;
mod export;
mod index;
mod open;
mod record;
mod recover;
mod snapshot;
mod store;
mod superblock;

#[cfg(test)]
mod tests;

pub use device::{BlockDevice, DeviceError};
pub use error::Error;
pub use export::{export, Export, CHECKPOINT_PATH};
pub use record::{MAX_BUNDLE_LEN, MAX_HASH_TILE_LEN, MAX_INDEX_LEN, MAX_NOTE_LEN, MAX_SNAPSHOT_LEN, RECORD_HEADER_LEN};
pub use snapshot::SnapshotReader;
pub use store::{BlockStore, Limits, Stats};
pub use superblock::SUPERBLOCK_LEN;

/// Version written into every superblock; `open` reads versions 1 to this one
/// and refuses newer ones.
pub const FORMAT_VERSION: u32 = 4;

/// First block of the data area (blocks 0 and 1 are the superblocks).
pub const DATA_START: u64 = 2;

/// Smallest device `format` accepts: the superblocks plus room for a few
/// records. Real volumes are many thousands of blocks.
pub const MIN_DEVICE_BLOCKS: u64 = 16;

/// Default [`Limits::max_index_entries`]: 2^20 files (about 64 MiB of
/// index; a log of about 130 million entries).
pub const DEFAULT_MAX_INDEX_ENTRIES: usize = 1 << 20;
