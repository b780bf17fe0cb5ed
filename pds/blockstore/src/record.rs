//! Records of the data area: the header codec, payload limits, and the chain
//! rule that links each record to the one before it. The field table is in
//! the crate docs.
//!
//! Every record starts on a block boundary and is padded with zeros to one,
//! so writing a record never touches a block that holds another record.
//! This module never decides what a record *means* for the index or for
//! recovery; it only says whether bytes are a well-formed, checksummed
//! record that continues a given chain.

use alloc::vec;
use alloc::vec::Vec;

use ledgerfs_tiles::{TileKind, TilePath, FULL_TILE_BYTES, MAX_ENTRY_LEN, TILE_WIDTH};

use crate::codec::{blocks_for, get_array, get_u16, get_u32, get_u64, put_u16, put_u32, put_u64, sum, PayloadSum, Sum};

/// Magic at offset 0 of every record.
const REC_MAGIC: [u8; 8] = *b"LFSBREC1";

/// Bytes of the record header; the payload follows it directly.
pub const RECORD_HEADER_LEN: usize = 152;

/// Offset of the header checksum (SHA-256 of every header byte before it).
const HEADER_SUM_AT: usize = 120;

const _: () = assert!(HEADER_SUM_AT + 32 == RECORD_HEADER_LEN);

/// Largest hash-tile payload: a full tile (256 hashes of 32 bytes).
pub const MAX_HASH_TILE_LEN: usize = FULL_TILE_BYTES;

/// Largest entry-bundle payload: 256 entries of the largest size, each with
/// its 2-byte length prefix (16,777,472 bytes, 4097 blocks of 4 KiB).
pub const MAX_BUNDLE_LEN: usize = TILE_WIDTH as usize * (2 + MAX_ENTRY_LEN);

/// Largest checkpoint note (format version 3). A C2SP signed note with an Ed25519
/// signature and a few cosignatures is a few hundred bytes; an ML-DSA-44 signature
/// line adds about 3.3 KB (a 2,420-byte signature in base64). The checkpoint record
/// is then at most three 4 KiB blocks.
pub const MAX_NOTE_LEN: usize = 8192;

/// Largest snapshot payload: a `ledgerfs-snapshot` container of the sequencer's state
/// (about 32 bytes per transfer: 1 GiB is far above any appliance's limits).
pub const MAX_SNAPSHOT_LEN: usize = 1 << 30;

/// Largest index record payload: the committed index at its largest
/// (16 million paths of 24 bytes), with its 20-byte preamble.
pub const MAX_INDEX_LEN: usize = 20 + 24 * (1 << 24);

const KIND_TILE: u8 = 1;
const KIND_CHECKPOINT: u8 = 2;
const KIND_SNAPSHOT: u8 = 3;
const KIND_INDEX: u8 = 4;
const FAMILY_HASH: u8 = 0;
const FAMILY_ENTRIES: u8 = 1;
/// Highest hash-tile level C2SP allows in a path.
const MAX_PATH_LEVEL: u8 = 63;

/// The end of a record chain: where the next record goes and what it links to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ChainPos {
    /// First block after the last record (the next record starts here).
    pub next_block: u64,
    /// Sequence number of the last record (0: no record yet).
    pub last_seq: u64,
    /// Header checksum of the last record (the volume's genesis value if none).
    pub last_sum: Sum,
}

impl ChainPos {
    /// The position after appending a record of `blocks` blocks with checksum `sum`.
    pub fn advance(&self, blocks: u64, sum: Sum) -> ChainPos {
        ChainPos {
            next_block: self.next_block + blocks,
            last_seq: self.last_seq + 1,
            last_sum: sum,
        }
    }
}

/// What a record holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RecordKind {
    /// A hash tile or entry bundle, stored under this path.
    Tile(TilePath),
    /// A signed checkpoint note: the commit record.
    Checkpoint,
    /// A snapshot of the projections (opaque to the store): boot loads it
    /// instead of replaying the log from the start.
    Snapshot,
    /// The committed index as it was when written, and where the snapshot
    /// before it is: `open` starts its walk here instead of at block 2.
    Index,
}

impl RecordKind {
    /// Largest payload this kind may carry.
    pub fn max_payload(&self) -> usize {
        match self {
            RecordKind::Tile(TilePath {
                kind: TileKind::Hash { .. },
                ..
            }) => MAX_HASH_TILE_LEN,
            RecordKind::Tile(_) => MAX_BUNDLE_LEN,
            RecordKind::Checkpoint => MAX_NOTE_LEN,
            RecordKind::Snapshot => MAX_SNAPSHOT_LEN,
            RecordKind::Index => MAX_INDEX_LEN,
        }
    }
}

/// A decoded record header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Header {
    pub kind: RecordKind,
    /// Payload bytes.
    pub len: u32,
    /// Position in the chain: the previous record's `seq + 1`.
    pub seq: u64,
    /// The volume that wrote it.
    pub volume_id: [u8; 16],
    /// Header checksum of the previous record (genesis for the first).
    pub prev: Sum,
    /// How the payload is checksummed.
    pub payload_kind: PayloadSum,
    /// The payload's checksum.
    pub payload_sum: Sum,
}

impl Header {
    /// Blocks the whole record (header, payload, padding) occupies.
    pub fn blocks(&self, block_size: usize) -> u64 {
        blocks_for(RECORD_HEADER_LEN + self.len as usize, block_size)
    }

    /// Does this record continue the chain at `pos` on volume `volume_id`?
    pub fn follows(&self, pos: &ChainPos, volume_id: &[u8; 16]) -> bool {
        self.seq == pos.last_seq.wrapping_add(1) && self.prev == pos.last_sum && self.volume_id == *volume_id
    }

    /// Encode into the first [`RECORD_HEADER_LEN`] bytes of `out`; returns the
    /// header checksum, which is the record's checksum (it covers the payload's).
    pub fn encode(&self, out: &mut [u8]) -> Sum {
        let b = &mut out[..RECORD_HEADER_LEN];
        b.fill(0);
        b[0..8].copy_from_slice(&REC_MAGIC);
        match self.kind {
            RecordKind::Tile(p) => {
                b[8] = KIND_TILE;
                match p.kind {
                    TileKind::Hash { level } => {
                        b[9] = FAMILY_HASH;
                        b[10] = level;
                    }
                    TileKind::Entries => b[9] = FAMILY_ENTRIES,
                }
                put_u16(b, 12, p.width);
                put_u64(b, 16, p.index);
            }
            RecordKind::Checkpoint => b[8] = KIND_CHECKPOINT,
            RecordKind::Snapshot => b[8] = KIND_SNAPSHOT,
            RecordKind::Index => b[8] = KIND_INDEX,
        }
        b[11] = self.payload_kind.code();
        put_u32(b, 24, self.len);
        put_u64(b, 32, self.seq);
        b[40..56].copy_from_slice(&self.volume_id);
        b[56..88].copy_from_slice(&self.prev);
        b[88..120].copy_from_slice(&self.payload_sum);
        let s = sum(&b[..HEADER_SUM_AT]);
        b[HEADER_SUM_AT..].copy_from_slice(&s);
        s
    }

    /// Decode a header; `None` unless the magic, the checksum, every reserved
    /// byte and every field are exactly what [`Header::encode`] produces.
    pub fn decode(buf: &[u8]) -> Option<(Header, Sum)> {
        let b = buf.get(..RECORD_HEADER_LEN)?;
        if b[0..8] != REC_MAGIC {
            return None;
        }
        let s = sum(&b[..HEADER_SUM_AT]);
        if s != b[HEADER_SUM_AT..] {
            return None;
        }
        if b[14..16] != [0, 0] || b[28..32] != [0; 4] {
            return None;
        }
        let width = get_u16(b, 12);
        let index = get_u64(b, 16);
        let kind = match (b[8], b[9]) {
            (KIND_TILE, FAMILY_HASH) if b[10] <= MAX_PATH_LEVEL => TilePath::hash(b[10], index, width),
            (KIND_TILE, FAMILY_ENTRIES) if b[10] == 0 => TilePath::entries(index, width),
            (kind @ (KIND_CHECKPOINT | KIND_SNAPSHOT | KIND_INDEX), 0) if b[10] == 0 && width == 0 && index == 0 => {
                let kind = match kind {
                    KIND_CHECKPOINT => RecordKind::Checkpoint,
                    KIND_SNAPSHOT => RecordKind::Snapshot,
                    _ => RecordKind::Index,
                };
                return Self::finish(b, kind, s);
            }
            _ => return None,
        };
        if !(1..=256).contains(&width) {
            return None;
        }
        Self::finish(b, RecordKind::Tile(kind), s)
    }

    fn finish(b: &[u8], kind: RecordKind, s: Sum) -> Option<(Header, Sum)> {
        let payload_kind = PayloadSum::from_code(b[11])?;
        let h = Header {
            payload_kind,
            kind,
            len: get_u32(b, 24),
            seq: get_u64(b, 32),
            volume_id: get_array(b, 40),
            prev: get_array(b, 56),
            payload_sum: get_array(b, 88),
        };
        if h.len as usize > kind.max_payload() || h.seq == 0 || !payload_kind.well_formed(&h.payload_sum) {
            return None;
        }
        Some((h, s))
    }
}

/// A record ready to write: its blocks, header and checksum.
pub(crate) struct Encoded {
    /// Header, payload and zero padding, a whole number of blocks.
    pub bytes: Vec<u8>,
    /// The header as written.
    pub header: Header,
    /// The record's checksum (what the next record links to).
    pub sum: Sum,
}

/// Encode a record of `kind` continuing the chain at `pos`.
///
/// Panics if the payload exceeds the kind's limit (callers check first).
pub(crate) fn encode(
    kind: RecordKind,
    payload: &[u8],
    pos: &ChainPos,
    volume_id: &[u8; 16],
    block_size: usize,
) -> Encoded {
    assert!(payload.len() <= kind.max_payload(), "record payload above its limit");
    let header = Header {
        kind,
        len: payload.len() as u32,
        seq: pos.last_seq + 1,
        volume_id: *volume_id,
        prev: pos.last_sum,
        payload_kind: PayloadSum::CURRENT,
        payload_sum: PayloadSum::CURRENT.of(payload),
    };
    let mut bytes = vec![0u8; header.blocks(block_size) as usize * block_size];
    let s = header.encode(&mut bytes);
    bytes[RECORD_HEADER_LEN..RECORD_HEADER_LEN + payload.len()].copy_from_slice(payload);
    Encoded { bytes, header, sum: s }
}

/// The payload of a record read whole (`record` starts with its header),
/// if it is there in full and matches the header's payload checksum.
pub(crate) fn payload<'a>(header: &Header, record: &'a [u8]) -> Option<&'a [u8]> {
    let p = record.get(RECORD_HEADER_LEN..RECORD_HEADER_LEN + header.len as usize)?;
    (header.payload_kind.of(p) == header.payload_sum).then_some(p)
}
