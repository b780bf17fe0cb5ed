//! The write path: `put` appends a tile record, `sync` defers to the
//! commit's barrier, and `swap_checkpoint` writes the checkpoint record (the
//! commit record) and a superblock naming the previous commit's end, then
//! flushes once. One flush per commit: recovery adopts a commit past the
//! superblock only if every record of it is whole and checksummed, so its
//! records and its checkpoint record can share one barrier; the superblock
//! only ever names records an earlier flush made durable, so at most the
//! last commit (acknowledged or in flight) lies past it.
//!
//! Invariants this module keeps (and asserts):
//! - it never writes below `committed.pos.next_block` except the superblock
//!   blocks, and a superblock write never targets the block of the newest
//!   superblock known durable;
//! - any error from `put` discards everything staged since the last
//!   commit (the host must `TileLog::rollback`, which re-emits all of it);
//! - an error from `swap_checkpoint` keeps the staged records, so the host can
//!   retry the swap (as the hosted log writer does) or `abandon`.

use ledgerfs_tiles::{TilePath, TileStore};

use crate::codec::blocks_for;
use crate::device::BlockDevice;
use crate::error::Error;
use crate::index::Loc;
use crate::record::{self, RecordKind, MAX_NOTE_LEN, RECORD_HEADER_LEN};
use crate::store::{BlockStore, Committed};
use crate::superblock::Superblock;

/// Highest hash-tile level C2SP allows in a path.
const MAX_PATH_LEVEL: u8 = 63;

impl<D: BlockDevice> BlockStore<D> {
    /// Blocks kept free after every tile record so that the checkpoint record
    /// of the commit always fits.
    pub(crate) fn checkpoint_reserve() -> u64 {
        blocks_for(RECORD_HEADER_LEN + MAX_NOTE_LEN, D::BLOCK_SIZE)
    }

    /// Forget every record staged since the last commit; the next `put`
    /// overwrites their blocks. Call it when the host rolls its `TileLog`
    /// back for a reason the store did not see (the attestation domain
    /// refused to sign, say); errors from `put` and `sync` do it already.
    ///
    /// Does nothing to a commit whose checkpoint record was flushed. After a
    /// `swap_checkpoint` that failed earlier, its checkpoint record may
    /// still have reached the disk: until the next records overwrite the
    /// commit, a crash can bring it back (whole and valid). Hosts retry the
    /// swap instead, as the hosted log writer does.
    pub fn abandon(&mut self) {
        self.snapshot_write = None;
        self.dev.get_mut().discard();
        self.index.discard_staged();
        self.staged = self.committed.pos;
    }

    /// Fail with `DeviceFull` unless `blocks` fit after the staged end.
    fn ensure_room(&self, blocks: u64) -> Result<(), Error> {
        assert!(
            self.staged.next_block <= self.volume.block_count,
            "chain end inside the volume"
        );
        let free = self.volume.block_count - self.staged.next_block;
        if blocks > free {
            return Err(Error::DeviceFull { needed: blocks, free });
        }
        Ok(())
    }

    fn put_record(&mut self, path: &TilePath, bytes: &[u8]) -> Result<(), Error> {
        if self.snapshot_write.is_some() {
            self.abandon(); // a commit goes first; the snapshot is taken again later
        }
        assert!(
            (1..=256).contains(&path.width) && path.level() <= MAX_PATH_LEVEL,
            "TilePath names no file"
        );
        let kind = RecordKind::Tile(*path);
        if bytes.len() > kind.max_payload() {
            return Err(Error::RecordTooLarge {
                len: bytes.len(),
                max: kind.max_payload(),
            });
        }
        if path.is_full() {
            if let Some(loc) = self.index.get_committed(path) {
                // Immutable: the same bytes again is a no-op, others an error.
                let h = self.read_header(loc, kind)?;
                if h.len as usize == bytes.len() && h.payload_sum == h.payload_kind.of(bytes) {
                    return Ok(());
                }
                return Err(Error::ImmutableRewrite { path: *path });
            }
        }
        self.index.check_room(path)?;
        self.ensure_current_format()?;
        let rec = record::encode(kind, bytes, &self.staged, &self.volume.volume_id, D::BLOCK_SIZE);
        let blocks = rec.header.blocks(D::BLOCK_SIZE);
        self.ensure_room(blocks + Self::checkpoint_reserve())?;
        let at = self.staged.next_block;
        assert!(
            at >= self.committed.pos.next_block,
            "writes never go below the committed end"
        );
        self.dev.get_mut().write(at, &rec.bytes)?;
        self.index.stage(
            *path,
            Loc {
                block: at,
                len: rec.header.len,
            },
        );
        self.staged = self.staged.advance(blocks, rec.sum);
        Ok(())
    }

    /// Steps 2 to 4: append the checkpoint record and the next superblock
    /// (naming the end of the commit before this one, which an earlier flush
    /// made durable; none after a fresh open, which has nothing new to name),
    /// and flush once. On success the commit is durable
    /// (recovery finds it by following the chain).
    fn write_checkpoint_record(&mut self, note: &[u8]) -> Result<(), Error> {
        self.ensure_current_format()?;
        let rec = record::encode(
            RecordKind::Checkpoint,
            note,
            &self.staged,
            &self.volume.volume_id,
            D::BLOCK_SIZE,
        );
        let blocks = rec.header.blocks(D::BLOCK_SIZE);
        self.ensure_room(blocks)?;
        let at = self.staged.next_block;
        assert!(
            at >= self.committed.pos.next_block,
            "writes never go below the committed end"
        );
        let superblock = self.sb_dirty.then(|| self.next_superblock());
        let dev = self.dev.get_mut();
        dev.write(at, &rec.bytes)?;
        if let Some((sb, block)) = &superblock {
            dev.write(sb.home(), block)?;
        }
        dev.flush()?;
        if let Some((sb, _)) = superblock {
            self.superblock_written(&sb);
        }
        self.index.commit_staged();
        self.committed = Committed {
            pos: self.staged.advance(blocks, rec.sum),
            checkpoint_block: at,
            ..self.committed
        };
        self.staged = self.committed.pos;
        self.note = Some(note.to_vec());
        self.sb_dirty = true;
        Ok(())
    }

    /// The next superblock, naming the committed end, and its block's bytes.
    fn next_superblock(&self) -> (Superblock, alloc::vec::Vec<u8>) {
        let sb = Superblock {
            seq: self.sb_seq + 1,
            volume: self.volume,
            tip: self.committed.pos,
            checkpoint_block: self.committed.checkpoint_block,
            index_block: self.committed.index_block,
            version: crate::FORMAT_VERSION,
        };
        assert_ne!(
            sb.home(),
            self.sb_seq % 2,
            "never overwrite the newest durable superblock"
        );
        let mut block = alloc::vec![0u8; D::BLOCK_SIZE];
        sb.encode(&mut block);
        (sb, block)
    }

    /// Before the first record this version writes on a volume an older one
    /// wrote: flush a superblock of this version on its own. An older reader
    /// takes a record it cannot decode (an XXH3 payload checksum, a note over
    /// 2 KiB) for a torn write and would recover to the commit before it,
    /// losing an acknowledged one; it refuses a volume of a newer version instead.
    pub(crate) fn ensure_current_format(&mut self) -> Result<(), Error> {
        if self.sb_version < crate::FORMAT_VERSION {
            self.write_superblock()?;
        }
        Ok(())
    }

    /// `sb` is durable now.
    fn superblock_written(&mut self, sb: &Superblock) {
        self.sb_seq = sb.seq;
        self.sb_version = sb.version;
        self.sb_dirty = sb.tip != self.committed.pos;
    }

    /// Write the next superblock (naming the committed end) and flush: after a
    /// snapshot, whose index record `open` should start from.
    pub(crate) fn write_superblock(&mut self) -> Result<(), Error> {
        let (sb, block) = self.next_superblock();
        let dev = self.dev.get_mut();
        dev.write(sb.home(), &block)?;
        dev.flush()?;
        self.superblock_written(&sb);
        Ok(())
    }
}

impl<D: BlockDevice> TileStore for BlockStore<D> {
    /// Append a record for `path` (durable after `sync`). A committed full
    /// tile put again with the same bytes is a no-op; with other bytes it is
    /// [`Error::ImmutableRewrite`]. Any error discards what is staged.
    fn put(&mut self, path: &TilePath, bytes: &[u8]) -> Result<(), Error> {
        let r = self.put_record(path, bytes);
        if r.is_err() {
            self.abandon();
        }
        r
    }

    /// Hands the records put to the device as one write (they were held by
    /// the write-combining layer), so a device error fails the commit here,
    /// before its checkpoint is signed; any error discards what is staged. No
    /// flush: the commit's one flush (`swap_checkpoint`) covers the records,
    /// since recovery adopts them only together with a whole checkpoint
    /// record after them.
    fn sync(&mut self) -> Result<(), Error> {
        let r = self.dev.get_mut().submit().map_err(Error::from);
        if r.is_err() {
            self.abandon();
        }
        r
    }

    /// Commit: checkpoint record (and a superblock when one is due), one
    /// flush. Returns `Ok` only once the flush completed (the commit is then
    /// acknowledged).
    ///
    /// On error the staged records stay, so the call can be retried (the
    /// checkpoint record is written again at the same place).
    fn swap_checkpoint(&mut self, note: &[u8]) -> Result<(), Error> {
        if note.len() > MAX_NOTE_LEN {
            return Err(Error::RecordTooLarge {
                len: note.len(),
                max: MAX_NOTE_LEN,
            });
        }
        self.snapshot_write = None; // a commit goes first; the snapshot is taken again later
        let nothing_staged = self.staged == self.committed.pos;
        if !(nothing_staged && self.note.as_deref() == Some(note)) {
            self.write_checkpoint_record(note)?;
        }
        Ok(())
    }

    /// The committed checkpoint note (cached; read and checked at `open`).
    fn checkpoint(&self) -> Result<Option<alloc::vec::Vec<u8>>, Error> {
        Ok(self.note.clone())
    }

    fn abandon(&mut self) {
        BlockStore::abandon(self);
    }
}
