//! Snapshots on the volume: a snapshot record (the projections' state, opaque
//! here), then an index record (the committed index and where that snapshot
//! is), then a checkpoint record repeating the current note, so the three are
//! one commit. Boot then loads the index from the newest index record and
//! walks only the records after it, and the host loads the snapshot instead of
//! replaying the log from the start.
//!
//! The snapshot arrives in pieces (the appliance's sequencer streams it over a
//! ring): [`BlockStore::begin_snapshot`] with its length, any number of
//! [`BlockStore::write_snapshot`], then [`BlockStore::finish_snapshot`]. Whole
//! blocks are written as they fill; the record's first block (header and the
//! first payload bytes) is written last, since the header carries the payload
//! checksum. Nothing is committed before the finishing flush, and the
//! superblock is written after it, naming the index record.
//!
//! Reading hands the payload out in pieces too ([`SnapshotReader`]); the
//! record checksum is checked as the last piece is read, and a consumer must
//! use no piece before that read succeeded.
//!
//! Must never: write below the committed end, commit a snapshot whose bytes
//! it did not all receive, or let a `put` interleave with a snapshot (a `put`
//! abandons the snapshot being written).

use alloc::vec::Vec;

use ledgerfs_tiles::{TileKind, TilePath};

use crate::codec::{blocks_for, get_u16, get_u32, get_u64, put_u16, put_u32, put_u64, PayloadHasher, PayloadSum};
use crate::device::BlockDevice;
use crate::error::Error;
use crate::index::Loc;
use crate::record::{self, Header, RecordKind, MAX_SNAPSHOT_LEN, RECORD_HEADER_LEN};
use crate::store::{BlockStore, Committed};

/// Bytes of the index record's preamble (snapshot block, snapshot length,
/// path count).
const INDEX_PREAMBLE: usize = 20;
/// Bytes per indexed path in the index record.
const INDEX_ENTRY: usize = 24;

/// A snapshot being written: its first block is held back until the end.
pub(crate) struct SnapshotWrite {
    /// First block of the record.
    start: u64,
    /// Payload bytes announced.
    len: u64,
    /// Payload bytes received so far.
    received: u64,
    /// The record's first block: header room, then the first payload bytes.
    first: Vec<u8>,
    /// Payload bytes past the first block not yet written (less than a block
    /// between calls).
    tail: Vec<u8>,
    /// Next block the tail goes to.
    next_block: u64,
    hasher: PayloadHasher,
}

impl<D: BlockDevice> BlockStore<D> {
    /// Start a snapshot of `len` payload bytes, taken at the committed
    /// checkpoint. Requires nothing staged and a checkpoint; checks the room
    /// for the snapshot, the index record and the checkpoint record up front.
    pub fn begin_snapshot(&mut self, len: u64) -> Result<(), Error> {
        let order = |reason| Err(Error::SnapshotOrder { reason });
        if self.staged != self.committed.pos {
            return order("a snapshot is taken with nothing staged");
        }
        if self.note.is_none() {
            return order("a snapshot needs a committed checkpoint");
        }
        self.ensure_current_format()?;
        if len as usize > MAX_SNAPSHOT_LEN || len > u64::from(u32::MAX) {
            return Err(Error::RecordTooLarge {
                len: len as usize,
                max: MAX_SNAPSHOT_LEN,
            });
        }
        let bs = D::BLOCK_SIZE;
        let needed = blocks_for(RECORD_HEADER_LEN + len as usize, bs)
            + blocks_for(RECORD_HEADER_LEN + self.index_record_len(), bs)
            + Self::checkpoint_reserve();
        let free = self.volume.block_count - self.staged.next_block;
        if needed > free {
            return Err(Error::DeviceFull { needed, free });
        }
        let start = self.staged.next_block;
        self.snapshot_write = Some(SnapshotWrite {
            start,
            len,
            received: 0,
            first: alloc::vec![0u8; bs],
            tail: Vec::with_capacity(2 * bs),
            next_block: start + 1,
            hasher: PayloadHasher::new(PayloadSum::CURRENT),
        });
        Ok(())
    }

    /// The next payload bytes of the snapshot begun. An error abandons it.
    pub fn write_snapshot(&mut self, bytes: &[u8]) -> Result<(), Error> {
        let r = self.write_snapshot_inner(bytes);
        if r.is_err() {
            self.abandon();
        }
        r
    }

    fn write_snapshot_inner(&mut self, mut bytes: &[u8]) -> Result<(), Error> {
        let bs = D::BLOCK_SIZE;
        let Some(w) = self.snapshot_write.as_mut() else {
            return Err(Error::SnapshotOrder {
                reason: "snapshot bytes without begin_snapshot",
            });
        };
        if w.received + bytes.len() as u64 > w.len {
            return Err(Error::SnapshotOrder {
                reason: "more snapshot bytes than announced",
            });
        }
        w.hasher.update(bytes);
        let in_first = (bs - RECORD_HEADER_LEN) as u64;
        if w.received < in_first {
            let n = (in_first - w.received).min(bytes.len() as u64) as usize;
            let at = RECORD_HEADER_LEN + w.received as usize;
            w.first[at..at + n].copy_from_slice(&bytes[..n]);
            w.received += n as u64;
            bytes = &bytes[n..];
        }
        w.received += bytes.len() as u64;
        w.tail.extend_from_slice(bytes);
        let whole = w.tail.len() / bs * bs;
        if whole > 0 {
            self.dev.get_mut().write(w.next_block, &w.tail[..whole])?;
            w.next_block += (whole / bs) as u64;
            w.tail.drain(..whole);
        }
        Ok(())
    }

    /// Write the snapshot record's first block and last partial block, the
    /// index record and a checkpoint record with the current note; flush;
    /// write the superblock; flush. Returns `Ok` once the snapshot is
    /// committed. An error abandons it (nothing committed changes).
    pub fn finish_snapshot(&mut self) -> Result<(), Error> {
        let r = self.finish_snapshot_inner();
        if r.is_err() {
            self.abandon();
        }
        r
    }

    fn finish_snapshot_inner(&mut self) -> Result<(), Error> {
        let bs = D::BLOCK_SIZE;
        let Some(mut w) = self.snapshot_write.take() else {
            return Err(Error::SnapshotOrder {
                reason: "finish_snapshot without begin_snapshot",
            });
        };
        if w.received != w.len {
            return Err(Error::SnapshotOrder {
                reason: "fewer snapshot bytes than announced",
            });
        }
        let header = Header {
            kind: RecordKind::Snapshot,
            len: w.len as u32,
            seq: self.staged.last_seq + 1,
            volume_id: self.volume.volume_id,
            prev: self.staged.last_sum,
            payload_kind: PayloadSum::CURRENT,
            payload_sum: core::mem::replace(&mut w.hasher, PayloadHasher::new(PayloadSum::CURRENT)).finish(),
        };
        let snapshot_sum = header.encode(&mut w.first);
        let blocks = header.blocks(bs);
        let dev = self.dev.get_mut();
        if !w.tail.is_empty() {
            w.tail.resize(bs, 0);
            dev.write(w.next_block, &w.tail)?;
        }
        dev.write(w.start, &w.first)?;
        let snapshot = Loc {
            block: w.start,
            len: w.len as u32,
        };
        let after_snapshot = self.staged.advance(blocks, snapshot_sum);

        let index = record::encode(
            RecordKind::Index,
            &self.index_payload(snapshot),
            &after_snapshot,
            &self.volume.volume_id,
            bs,
        );
        let index_block = after_snapshot.next_block;
        let after_index = after_snapshot.advance(index.header.blocks(bs), index.sum);
        let note = self.note.clone().expect("begin_snapshot checked the note");
        let checkpoint = record::encode(RecordKind::Checkpoint, &note, &after_index, &self.volume.volume_id, bs);
        let checkpoint_block = after_index.next_block;
        let end = after_index.advance(checkpoint.header.blocks(bs), checkpoint.sum);
        assert!(
            end.next_block <= self.volume.block_count,
            "begin_snapshot checked the room"
        );
        let dev = self.dev.get_mut();
        dev.write(index_block, &index.bytes)?;
        dev.write(checkpoint_block, &checkpoint.bytes)?;
        dev.flush()?;
        self.committed = Committed {
            pos: end,
            checkpoint_block,
            index_block,
            snapshot: Some(snapshot),
        };
        self.staged = end;
        self.sb_dirty = true;
        self.write_superblock()
    }

    /// Bytes of an index record for the committed index now.
    fn index_record_len(&self) -> usize {
        INDEX_PREAMBLE + INDEX_ENTRY * self.index.committed().len()
    }

    /// The index record's payload: where the snapshot is, then every
    /// committed path and its record.
    fn index_payload(&self, snapshot: Loc) -> Vec<u8> {
        let committed = self.index.committed();
        let mut out = alloc::vec![0u8; INDEX_PREAMBLE + INDEX_ENTRY * committed.len()];
        put_u64(&mut out, 0, snapshot.block);
        put_u64(&mut out, 8, u64::from(snapshot.len));
        put_u32(&mut out, 16, committed.len() as u32);
        for (i, (path, loc)) in committed.iter().enumerate() {
            let e = &mut out[INDEX_PREAMBLE + i * INDEX_ENTRY..][..INDEX_ENTRY];
            match path.kind {
                TileKind::Hash { level } => e[1] = level,
                TileKind::Entries => e[0] = 1,
            }
            put_u16(e, 2, path.width);
            put_u64(e, 4, path.index);
            put_u64(e, 12, loc.block);
            put_u32(e, 20, loc.len);
        }
        out
    }

    /// The committed snapshot's payload length, if there is one.
    pub fn snapshot_len(&self) -> Option<u64> {
        self.committed.snapshot.map(|l| u64::from(l.len))
    }

    /// A reader of the committed snapshot (its header checked now).
    pub fn snapshot_reader(&self) -> Result<Option<SnapshotReader>, Error> {
        let Some(loc) = self.committed.snapshot else {
            return Ok(None);
        };
        let header = self.read_header(loc, RecordKind::Snapshot)?;
        Ok(Some(SnapshotReader {
            loc,
            offset: 0,
            want: header.payload_sum,
            hasher: PayloadHasher::new(header.payload_kind),
        }))
    }
}

/// Decodes an index record's payload: the snapshot it names and the paths.
pub(crate) fn decode_index(payload: &[u8]) -> Option<(Loc, Vec<(TilePath, Loc)>)> {
    if payload.len() < INDEX_PREAMBLE {
        return None;
    }
    let snapshot = Loc {
        block: get_u64(payload, 0),
        len: u32::try_from(get_u64(payload, 8)).ok()?,
    };
    let count = get_u32(payload, 16) as usize;
    if payload.len() != INDEX_PREAMBLE + count.checked_mul(INDEX_ENTRY)? {
        return None;
    }
    let mut paths = Vec::with_capacity(count);
    for e in payload[INDEX_PREAMBLE..].chunks_exact(INDEX_ENTRY) {
        let width = get_u16(e, 2);
        let index = get_u64(e, 4);
        let path = match (e[0], e[1]) {
            (0, level) if level <= 63 => TilePath::hash(level, index, width),
            (1, 0) => TilePath::entries(index, width),
            _ => return None,
        };
        if !(1..=256).contains(&width) {
            return None;
        }
        let loc = Loc {
            block: get_u64(e, 12),
            len: get_u32(e, 20),
        };
        paths.push((path, loc));
    }
    Some((snapshot, paths))
}

/// Hands out a committed snapshot's payload in order, checking the record
/// checksum as the last byte is read.
#[derive(Clone, Debug)]
pub struct SnapshotReader {
    loc: Loc,
    offset: u64,
    want: [u8; 32],
    hasher: PayloadHasher,
}

impl SnapshotReader {
    /// Payload bytes in all.
    pub fn len(&self) -> u64 {
        u64::from(self.loc.len)
    }

    /// True for an empty snapshot.
    pub fn is_empty(&self) -> bool {
        self.loc.len == 0
    }

    /// Bytes handed out so far.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The next bytes (at most `max`), empty once all were read. The read
    /// that reaches the end fails with `Corrupt` if the payload does not
    /// match its checksum; then no byte handed out may be used.
    pub fn next<D: BlockDevice>(&mut self, store: &BlockStore<D>, max: usize) -> Result<Vec<u8>, Error> {
        let bs = D::BLOCK_SIZE as u64;
        let n = (self.len() - self.offset).min(max as u64);
        if n == 0 {
            return Ok(Vec::new());
        }
        let from = RECORD_HEADER_LEN as u64 + self.offset;
        let first = from / bs;
        let last = (from + n).div_ceil(bs);
        let blocks = store.read_blocks(self.loc.block + first, last - first)?;
        let at = (from - first * bs) as usize;
        let bytes = blocks[at..at + n as usize].to_vec();
        self.hasher.update(&bytes);
        self.offset += n;
        if self.offset == self.len() {
            let done = core::mem::replace(&mut self.hasher, PayloadHasher::new(PayloadSum::CURRENT));
            let got = done.finish();
            if got != self.want {
                return Err(Error::Corrupt {
                    block: self.loc.block,
                    reason: "snapshot payload fails its checksum",
                });
            }
        }
        Ok(bytes)
    }
}
