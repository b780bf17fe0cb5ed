//! Rebuilding state at `open`: walk the committed chain (headers only) to
//! rebuild the index, then follow the chain past the superblock's end to
//! recover commits whose checkpoint record is durable but whose superblock
//! write was lost.
//!
//! Cost: one block read per committed record after the newest index record
//! (or from the start without one; payloads are checked when read, not
//! here), plus a full read of the records after the superblock's
//! end (at most the commits since the last superblock write, normally none
//! or one). Memory: the index.
//!
//! This module never writes to the device. In the committed region it
//! refuses anything unexpected (the superblock vouches for it); past it, it
//! stops at the first record that is not a complete, checksummed
//! continuation of the chain, and keeps only whole commits.

use alloc::vec::Vec;

use crate::codec::Sum;
use crate::device::BlockDevice;
use crate::error::Error;
use crate::index::Loc;
use crate::record::{self, ChainPos, Header, RecordKind};
use crate::snapshot::decode_index;
use crate::store::{BlockStore, Committed};
use crate::superblock::Superblock;
use crate::DATA_START;

/// Where a walk of the committed chain starts, and what it carries in.
struct Walk {
    pos: ChainPos,
    /// The record before `pos` is a checkpoint record (or there is none).
    ends_in_checkpoint: bool,
    /// Newest committed index record before `pos` (0: none).
    index_block: u64,
    /// Newest committed snapshot before `pos`.
    snapshot: Option<Loc>,
}

impl<D: BlockDevice> BlockStore<D> {
    /// Rebuild the committed state `sb` names: from its index record when it
    /// names one (only the records after it are walked), else, or when that
    /// record fails a check, by walking the whole chain from block 2.
    pub(crate) fn rebuild_committed(&mut self, sb: &Superblock) -> Result<(), Error> {
        if sb.index_block != 0 {
            match self.start_from_index(sb) {
                Ok(from) => {
                    if self.walk_committed(sb, from).is_ok() {
                        self.opened_from_index = true;
                        return Ok(());
                    }
                }
                Err(Error::Device(e)) => return Err(Error::Device(e)),
                Err(_) => {}
            }
            // The index record is an optimisation: never trusted over the chain.
            self.index.clear();
            self.committed.snapshot = None;
        }
        let start = Walk {
            pos: ChainPos {
                next_block: DATA_START,
                last_seq: 0,
                last_sum: self.volume.genesis,
            },
            ends_in_checkpoint: true,
            index_block: 0,
            snapshot: None,
        };
        self.walk_committed(sb, start)
    }

    /// Load the index record `sb` names; the walk goes on after it.
    fn start_from_index(&mut self, sb: &Superblock) -> Result<Walk, Error> {
        let at = sb.index_block;
        let corrupt = |reason| Error::Corrupt { block: at, reason };
        let first = self.read_blocks(at, 1)?;
        let (h, s) = Header::decode(&first).ok_or(corrupt("index record header fails its checks"))?;
        if h.kind != RecordKind::Index || h.volume_id != self.volume.volume_id {
            return Err(corrupt("the superblock's index record is not one"));
        }
        let blocks = h.blocks(D::BLOCK_SIZE);
        if blocks > sb.tip.next_block - at {
            return Err(corrupt("index record runs past the superblock's end"));
        }
        let payload = self.read_record(Loc { block: at, len: h.len }, RecordKind::Index)?;
        let (snapshot, paths) = decode_index(&payload).ok_or(corrupt("index record does not decode"))?;
        if paths.iter().any(|(_, l)| l.block >= at) || snapshot.block >= at {
            return Err(corrupt("index record names a record after itself"));
        }
        self.index.load(paths)?;
        Ok(Walk {
            pos: ChainPos {
                next_block: at + blocks,
                last_seq: h.seq,
                last_sum: s,
            },
            ends_in_checkpoint: false,
            index_block: at,
            snapshot: (snapshot.block != 0).then_some(snapshot),
        })
    }

    /// Walk `[from.pos, sb.tip)` header by header, rebuilding the index; the
    /// chain must end exactly where `sb` says, in a checkpoint record.
    fn walk_committed(&mut self, sb: &Superblock, from: Walk) -> Result<(), Error> {
        let end = sb.tip.next_block;
        let Walk {
            mut pos,
            mut ends_in_checkpoint,
            mut index_block,
            mut snapshot,
        } = from;
        let mut last_checkpoint: Option<Loc> = None;
        let (mut staged_snapshot, mut staged_index) = (None, None);
        while pos.next_block < end {
            let at = pos.next_block;
            let corrupt = |reason| Error::Corrupt { block: at, reason };
            let buf = self.read_blocks(at, 1)?;
            let (h, s) = Header::decode(&buf).ok_or(corrupt("committed record header fails its checks"))?;
            if !h.follows(&pos, &self.volume.volume_id) {
                return Err(corrupt("committed record does not continue the chain"));
            }
            let blocks = h.blocks(D::BLOCK_SIZE);
            if blocks > end - at {
                return Err(corrupt("committed record runs past the superblock's end"));
            }
            let loc = Loc { block: at, len: h.len };
            ends_in_checkpoint = false;
            match h.kind {
                RecordKind::Tile(p) => {
                    if p.is_full() && self.index.get_committed(&p).is_some() {
                        return Err(corrupt("committed full tile written twice"));
                    }
                    self.index.check_room(&p)?;
                    self.index.stage(p, loc);
                }
                RecordKind::Snapshot => staged_snapshot = Some(loc),
                RecordKind::Index => staged_index = Some(at),
                RecordKind::Checkpoint => {
                    self.index.commit_staged();
                    snapshot = staged_snapshot.take().or(snapshot);
                    index_block = staged_index.take().unwrap_or(index_block);
                    last_checkpoint = Some(loc);
                    ends_in_checkpoint = true;
                }
            }
            pos = pos.advance(blocks, s);
        }
        let checkpoint_block = last_checkpoint.map_or(if index_block == 0 { 0 } else { u64::MAX }, |l| l.block);
        if pos != sb.tip || checkpoint_block != sb.checkpoint_block || !ends_in_checkpoint {
            return Err(Error::Corrupt {
                block: sb.home(),
                reason: "superblock does not match the chain it names",
            });
        }
        self.committed = Committed {
            pos,
            checkpoint_block,
            index_block,
            snapshot,
        };
        self.staged = pos;
        self.note = match last_checkpoint {
            Some(loc) => Some(self.read_record(loc, RecordKind::Checkpoint)?),
            None => None,
        };
        Ok(())
    }

    /// Follow the chain past the committed end; adopt every complete commit
    /// found. Returns how many were recovered. Device errors are returned
    /// (a read error must not pass for the end of the chain).
    pub(crate) fn recover_tail(&mut self) -> Result<u64, Error> {
        let mut pos = self.committed.pos;
        let mut recovered = 0;
        let (mut staged_snapshot, mut staged_index) = (None, None);
        while let Some((h, s, bytes)) = self.read_chained(&pos)? {
            let at = pos.next_block;
            let next = pos.advance(h.blocks(D::BLOCK_SIZE), s);
            match h.kind {
                RecordKind::Tile(p) => {
                    if p.is_full() && self.index.get_committed(&p).is_some() {
                        break; // never written by this format's writer: not a commit
                    }
                    // A whole record continuing the chain is this writer's: with
                    // no room under these limits the volume is refused, not cut.
                    self.index.check_room(&p)?;
                    self.index.stage(p, Loc { block: at, len: h.len });
                }
                RecordKind::Snapshot => staged_snapshot = Some(Loc { block: at, len: h.len }),
                RecordKind::Index => staged_index = Some(at),
                RecordKind::Checkpoint => {
                    let note = record::payload(&h, &bytes).expect("read_chained checked it");
                    self.index.commit_staged();
                    self.committed = Committed {
                        pos: next,
                        checkpoint_block: at,
                        index_block: staged_index.take().unwrap_or(self.committed.index_block),
                        snapshot: staged_snapshot.take().or(self.committed.snapshot),
                    };
                    self.note = Some(note.to_vec());
                    self.sb_dirty = true;
                    recovered += 1;
                }
            }
            pos = next;
        }
        self.index.discard_staged();
        self.staged = self.committed.pos;
        Ok(recovered)
    }

    /// The record at `pos.next_block` if it is a complete, checksummed
    /// continuation of the chain at `pos` (header, sum, all its blocks).
    fn read_chained(&self, pos: &ChainPos) -> Result<Option<(Header, Sum, Vec<u8>)>, Error> {
        let at = pos.next_block;
        let count = self.volume.block_count;
        if at >= count {
            return Ok(None);
        }
        let mut bytes = self.read_blocks(at, 1)?;
        let Some((h, s)) = Header::decode(&bytes) else {
            return Ok(None);
        };
        let blocks = h.blocks(D::BLOCK_SIZE);
        if !h.follows(pos, &self.volume.volume_id) || blocks > count - at {
            return Ok(None);
        }
        if blocks > 1 {
            bytes.extend_from_slice(&self.read_blocks(at + 1, blocks - 1)?);
        }
        if record::payload(&h, &bytes).is_none() {
            return Ok(None);
        }
        Ok(Some((h, s, bytes)))
    }
}
