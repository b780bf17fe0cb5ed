//! The two alternating superblocks (blocks 0 and 1): encoding, decoding and
//! choosing the newest valid one. The field table is in the crate docs.
//!
//! A superblock only *bounds* recovery: it names the end of a record chain
//! that was durable when it was written. It must never be written over the
//! only valid copy: write number `n` always goes to block `n % 2`, and `n`
//! advances only after the previous write's flush completed.

use crate::codec::{get_array, get_u32, get_u64, put_u32, put_u64, sum, Sum};
use crate::error::Error;
use crate::record::ChainPos;
use crate::FORMAT_VERSION;

/// Magic at offset 0 of a superblock.
pub(crate) const SB_MAGIC: [u8; 8] = *b"LFSBSUP1";

/// Bytes of a superblock that carry data; the rest of the block is zero.
pub const SUPERBLOCK_LEN: usize = 176;

/// Offset of the checksum (SHA-256 of every byte before it).
const SUM_AT: usize = 144;

/// Where version 1 (no index record field) kept its checksum; still read.
const V1_SUM_AT: usize = 136;

const _: () = assert!(SUM_AT + 32 == SUPERBLOCK_LEN);

/// What never changes after `format`: geometry and identity of the volume.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Volume {
    /// Bytes per block.
    pub block_size: u32,
    /// Blocks the format uses (the device may be larger).
    pub block_count: u64,
    /// Caller-chosen identity, copied into every record.
    pub volume_id: [u8; 16],
    /// Chain value the first record links to.
    pub genesis: Sum,
}

/// One decoded superblock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Superblock {
    /// Write number; this copy lives in block `seq % 2`.
    pub seq: u64,
    /// The volume it describes.
    pub volume: Volume,
    /// End of the committed chain: next free block, last record's seq and checksum.
    pub tip: ChainPos,
    /// First block of the last checkpoint record (0: none yet).
    pub checkpoint_block: u64,
    /// First block of the newest index record in the chain (0: none; `open`
    /// then walks the chain from its start).
    pub index_block: u64,
    /// Format version it was written with (every new one: [`FORMAT_VERSION`]).
    pub version: u32,
}

impl Superblock {
    /// The block this superblock is written to.
    pub fn home(&self) -> u64 {
        self.seq % 2
    }

    /// Encode into `block` (at least [`SUPERBLOCK_LEN`] bytes; zeroes the rest).
    pub fn encode(&self, block: &mut [u8]) {
        assert!(block.len() >= SUPERBLOCK_LEN);
        block.fill(0);
        block[0..8].copy_from_slice(&SB_MAGIC);
        put_u32(block, 8, FORMAT_VERSION);
        put_u32(block, 12, self.volume.block_size);
        put_u64(block, 16, self.seq);
        put_u64(block, 24, self.volume.block_count);
        block[32..48].copy_from_slice(&self.volume.volume_id);
        block[48..80].copy_from_slice(&self.volume.genesis);
        put_u64(block, 80, self.tip.next_block);
        put_u64(block, 88, self.tip.last_seq);
        block[96..128].copy_from_slice(&self.tip.last_sum);
        put_u64(block, 128, self.checkpoint_block);
        put_u64(block, 136, self.index_block);
        let s = sum(&block[..SUM_AT]);
        block[SUM_AT..SUPERBLOCK_LEN].copy_from_slice(&s);
    }

    /// Decode the superblock stored in block `at` (0 or 1).
    ///
    /// `Ok(None)`: not a superblock (blank, torn, or another format's data).
    /// `Err`: a checksummed superblock that is unusable (another version,
    /// or fields that no writer of this format produces).
    pub fn decode(block: &[u8], at: u64) -> Result<Option<Superblock>, Error> {
        assert!(at < 2 && block.len() >= SUPERBLOCK_LEN);
        if block[0..8] != SB_MAGIC {
            return Ok(None);
        }
        let version = get_u32(block, 8);
        let sum_at = if version == 1 { V1_SUM_AT } else { SUM_AT };
        if sum(&block[..sum_at]) != block[sum_at..sum_at + 32] {
            return Ok(None);
        }
        if !(1..=FORMAT_VERSION).contains(&version) {
            return Err(Error::Geometry {
                reason: "superblock has an unsupported format version",
            });
        }
        let sb = Superblock {
            seq: get_u64(block, 16),
            volume: Volume {
                block_size: get_u32(block, 12),
                block_count: get_u64(block, 24),
                volume_id: get_array(block, 32),
                genesis: get_array(block, 48),
            },
            tip: ChainPos {
                next_block: get_u64(block, 80),
                last_seq: get_u64(block, 88),
                last_sum: get_array(block, 96),
            },
            checkpoint_block: get_u64(block, 128),
            index_block: if version == 1 { 0 } else { get_u64(block, 136) },
            version,
        };
        let corrupt = |reason| Err(Error::Corrupt { block: at, reason });
        if sb.home() != at {
            return corrupt("superblock sequence number does not match its block");
        }
        let t = &sb.tip;
        if t.next_block < crate::DATA_START || t.next_block > sb.volume.block_count {
            return corrupt("superblock end is outside the data area");
        }
        let empty = t.last_seq == 0;
        if empty != (sb.checkpoint_block == 0)
            || empty != (t.next_block == crate::DATA_START)
            || empty != (t.last_sum == sb.volume.genesis)
            || (!empty && !(crate::DATA_START..t.next_block).contains(&sb.checkpoint_block))
        {
            return corrupt("superblock fields disagree");
        }
        if sb.index_block != 0 && !(crate::DATA_START..t.next_block).contains(&sb.index_block) {
            return corrupt("superblock index record is outside the chain");
        }
        Ok(Some(sb))
    }
}

/// The newest valid superblock among the two copies (`None`: neither valid).
/// Their write numbers differ in parity, so the higher one wins outright; a
/// newer `format` always writes higher numbers than any it found.
pub(crate) fn newest(a: Option<Superblock>, b: Option<Superblock>) -> Option<Superblock> {
    match (a, b) {
        (Some(x), Some(y)) => Some(if x.seq > y.seq { x } else { y }),
        (x, y) => x.or(y),
    }
}
