//! Rebuilding state at `open`: walk the committed chain (headers only) to
//! rebuild the index, then follow the chain past the superblock's end to
//! recover commits whose checkpoint record is durable but whose superblock
//! write was lost.
//!
//! Cost: one block read per committed record (payloads are checked when
//! read, not here), plus a full read of the records after the superblock's
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
use crate::store::{BlockStore, Committed};
use crate::superblock::Superblock;
use crate::DATA_START;

impl<D: BlockDevice> BlockStore<D> {
    /// Walk `[DATA_START, sb.tip)` header by header, rebuilding the index;
    /// the chain must end exactly where `sb` says, in a checkpoint record.
    pub(crate) fn rebuild_committed(&mut self, sb: &Superblock) -> Result<(), Error> {
        let end = sb.tip.next_block;
        let mut pos = ChainPos {
            next_block: DATA_START,
            last_seq: 0,
            last_sum: self.volume.genesis,
        };
        let mut last_checkpoint: Option<Loc> = None;
        let mut ends_in_checkpoint = true;
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
            match h.kind {
                RecordKind::Tile(p) => {
                    if p.is_full() && self.index.get_committed(&p).is_some() {
                        return Err(corrupt("committed full tile written twice"));
                    }
                    self.index.check_room(&p)?;
                    self.index.stage(p, loc);
                    ends_in_checkpoint = false;
                }
                RecordKind::Checkpoint => {
                    self.index.commit_staged();
                    last_checkpoint = Some(loc);
                    ends_in_checkpoint = true;
                }
            }
            pos = pos.advance(blocks, s);
        }
        let checkpoint_block = last_checkpoint.map_or(0, |l| l.block);
        if pos != sb.tip || checkpoint_block != sb.checkpoint_block || !ends_in_checkpoint {
            return Err(Error::Corrupt {
                block: sb.home(),
                reason: "superblock does not match the chain it names",
            });
        }
        self.committed = Committed { pos, checkpoint_block };
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
        while let Some((h, s, bytes)) = self.read_chained(&pos)? {
            let at = pos.next_block;
            let next = pos.advance(h.blocks(D::BLOCK_SIZE), s);
            match h.kind {
                RecordKind::Tile(p) => {
                    let immutable = p.is_full() && self.index.get_committed(&p).is_some();
                    if immutable || self.index.check_room(&p).is_err() {
                        break; // never written by this format's writer: not a commit
                    }
                    self.index.stage(p, Loc { block: at, len: h.len });
                }
                RecordKind::Checkpoint => {
                    let note = record::payload(&h, &bytes).expect("read_chained checked it");
                    self.index.commit_staged();
                    self.committed = Committed {
                        pos: next,
                        checkpoint_block: at,
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
