//! [`BlockStore`]: the state of an opened volume (committed chain end,
//! staged records, index, cached checkpoint note) and the read path.
//!
//! Writing lives in `commit.rs`, format/open/recovery in `open.rs`. Nothing
//! here writes to the device. Every byte handed out was checked against its
//! record's checksum on the way in; this module must never return bytes of a
//! record that is not the one the index names.

use alloc::vec;
use alloc::vec::Vec;
use core::cell::RefCell;

use ledgerfs_tiles::{TilePath, TileReader};

use crate::codec::blocks_for;
use crate::device::BlockDevice;
use crate::error::Error;
use crate::index::{Index, Loc};
use crate::record::{self, ChainPos, Header, RecordKind, RECORD_HEADER_LEN};
use crate::superblock::Volume;
use crate::DEFAULT_MAX_INDEX_ENTRIES;

/// Bounds a store is opened with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Most distinct files the in-memory index may hold (committed plus
    /// staged). Roughly 64 bytes of memory each (a `BTreeMap` of 16-byte
    /// paths to 16-byte locations); a log of `n` entries needs about
    /// `2n / 256` of them plus at most 9 × 255 partial files.
    pub max_index_entries: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_index_entries: DEFAULT_MAX_INDEX_ENTRIES,
        }
    }
}

/// The last commit whose checkpoint record is durable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Committed {
    /// End of the chain after its checkpoint record.
    pub pos: ChainPos,
    /// First block of its checkpoint record (0: none yet).
    pub checkpoint_block: u64,
    /// First block of the newest committed index record (0: none).
    pub index_block: u64,
    /// The newest committed snapshot record.
    pub snapshot: Option<Loc>,
}

/// Counters for logs, metrics and tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stats {
    /// Blocks the volume uses.
    pub block_count: u64,
    /// First block after the last committed record.
    pub committed_end: u64,
    /// First block after the last staged record.
    pub staged_end: u64,
    /// Records in the committed chain (its last sequence number).
    pub committed_records: u64,
    /// Write number of the newest superblock known durable.
    pub superblock_seq: u64,
    /// True when a commit is durable but the superblock naming it is not yet
    /// (the next `swap_checkpoint` writes it; recovery finds it regardless).
    pub superblock_behind: bool,
    /// Distinct files in the index.
    pub index_entries: usize,
    /// Payload bytes of the committed snapshot (0: none).
    pub snapshot_bytes: u64,
    /// True when `open` started from an index record instead of walking the
    /// whole chain.
    pub opened_from_index: bool,
}

/// A tlog-tiles store on a raw block device; see the crate docs for the
/// format and the commit protocol.
pub struct BlockStore<D: BlockDevice> {
    /// The device; a `RefCell` because [`TileReader::read`] takes `&self`.
    /// Behind the write-combining layer (one device write per commit's run).
    pub(crate) dev: RefCell<crate::combine::Combined<D>>,
    pub(crate) volume: Volume,
    /// Write number of the newest superblock known durable.
    pub(crate) sb_seq: u64,
    /// Format version of that superblock: below [`crate::FORMAT_VERSION`], the
    /// next record written waits for a superblock of the current version.
    pub(crate) sb_version: u32,
    /// The committed chain ends beyond what that superblock says.
    pub(crate) sb_dirty: bool,
    pub(crate) committed: Committed,
    /// Note of the committed checkpoint.
    pub(crate) note: Option<Vec<u8>>,
    /// End of the chain including staged records (== committed.pos if none).
    pub(crate) staged: ChainPos,
    pub(crate) index: Index,
    /// `open` started from an index record.
    pub(crate) opened_from_index: bool,
    /// A snapshot being written (its records are staged, not committed).
    pub(crate) snapshot_write: Option<crate::snapshot::SnapshotWrite>,
}

impl<D: BlockDevice> core::fmt::Debug for BlockStore<D> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("BlockStore").field("stats", &self.stats()).finish()
    }
}

impl<D: BlockDevice> BlockStore<D> {
    /// Counters describing the volume now.
    pub fn stats(&self) -> Stats {
        Stats {
            block_count: self.volume.block_count,
            committed_end: self.committed.pos.next_block,
            staged_end: self.staged.next_block,
            committed_records: self.committed.pos.last_seq,
            superblock_seq: self.sb_seq,
            superblock_behind: self.sb_dirty,
            index_entries: self.index.len(),
            snapshot_bytes: self.committed.snapshot.map_or(0, |l| u64::from(l.len)),
            opened_from_index: self.opened_from_index,
        }
    }

    /// The device, for tests that cut power or damage media mid-run.
    #[cfg(test)]
    pub(crate) fn device_mut(&mut self) -> &mut D {
        self.dev.get_mut().inner_mut()
    }

    /// Give the device back (for a clean shutdown, or a test's power cut).
    pub fn into_device(self) -> D {
        self.dev.into_inner().into_inner()
    }

    /// Read `count` blocks from `block`.
    pub(crate) fn read_blocks(&self, block: u64, count: u64) -> Result<Vec<u8>, Error> {
        let mut buf = vec![0u8; count as usize * D::BLOCK_SIZE];
        self.dev.borrow_mut().read(block, &mut buf)?;
        Ok(buf)
    }

    /// The header of the indexed record at `loc`, checked to be `want`.
    pub(crate) fn read_header(&self, loc: Loc, want: RecordKind) -> Result<Header, Error> {
        let buf = self.read_blocks(loc.block, 1)?;
        self.check_header(&buf, loc, want)
    }

    fn check_header(&self, buf: &[u8], loc: Loc, want: RecordKind) -> Result<Header, Error> {
        let corrupt = |reason| Error::Corrupt {
            block: loc.block,
            reason,
        };
        let (h, _) = Header::decode(buf).ok_or(corrupt("record header fails its checks"))?;
        if h.kind != want || h.len != loc.len || h.volume_id != self.volume.volume_id {
            return Err(corrupt("record is not the one the index names"));
        }
        Ok(h)
    }

    /// The payload of the indexed record at `loc`, checked to be `want` and
    /// to match its checksum.
    pub(crate) fn read_record(&self, loc: Loc, want: RecordKind) -> Result<Vec<u8>, Error> {
        let blocks = blocks_for(RECORD_HEADER_LEN + loc.len as usize, D::BLOCK_SIZE);
        let mut buf = self.read_blocks(loc.block, blocks)?;
        let h = self.check_header(&buf, loc, want)?;
        if record::payload(&h, &buf).is_none() {
            return Err(Error::Corrupt {
                block: loc.block,
                reason: "record payload fails its checksum",
            });
        }
        buf.truncate(RECORD_HEADER_LEN + loc.len as usize);
        buf.drain(..RECORD_HEADER_LEN);
        Ok(buf)
    }
}

impl<D: BlockDevice> TileReader for BlockStore<D> {
    type Error = Error;

    /// The newest bytes put at `path` (staged or committed), checksum-checked.
    fn read(&self, path: &TilePath) -> Result<Option<Vec<u8>>, Error> {
        match self.index.get(path) {
            None => Ok(None),
            Some(loc) => self.read_record(loc, RecordKind::Tile(*path)).map(Some),
        }
    }
}
