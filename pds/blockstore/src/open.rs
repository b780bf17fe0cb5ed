//! `format` (write a fresh, empty volume) and `open` (pick the newest valid
//! superblock, rebuild, recover).
//!
//! `open` never writes: a host tool can open a disk image to export it
//! without changing a byte. What recovery adopted is written into the next
//! superblock by the next `swap_checkpoint`.

use crate::codec::{get_u64, sum, sum_parts};
use crate::device::BlockDevice;
use crate::error::Error;
use crate::index::Index;
use crate::record::ChainPos;
use crate::store::{BlockStore, Committed, Limits};
use crate::superblock::{newest, Superblock, Volume, SB_MAGIC, SUPERBLOCK_LEN};
use crate::{DATA_START, FORMAT_VERSION, MIN_DEVICE_BLOCKS};

/// Domain separation for the chain's genesis value.
const GENESIS_LABEL: &[u8] = b"LedgerFS blockstore genesis v1";

/// Is `D::BLOCK_SIZE` one this format supports?
fn check_block_size<D: BlockDevice>() -> Result<(), Error> {
    let bs = D::BLOCK_SIZE;
    if !bs.is_power_of_two() || !(512..=65_536).contains(&bs) {
        return Err(Error::Geometry {
            reason: "block size must be a power of two in 512..=65536",
        });
    }
    Ok(())
}

/// Write number of a checksummed superblock in `block`, whatever it says
/// otherwise (so `format` can number its own above it).
fn raw_seq(block: &[u8]) -> Option<u64> {
    let valid =
        block[0..8] == SB_MAGIC && sum(&block[..SUPERBLOCK_LEN - 32]) == block[SUPERBLOCK_LEN - 32..SUPERBLOCK_LEN];
    valid.then(|| get_u64(block, 16))
}

impl<D: BlockDevice> BlockStore<D> {
    /// Make `device` an empty volume and open it.
    ///
    /// `volume_id` must be unique per format (random bytes or a timestamp):
    /// it and the old superblocks' write numbers seed the record chain, so no
    /// record of an earlier format can ever be taken for one of this one.
    /// Writes the first data block (zeros) and both superblocks, numbered
    /// above any superblock found, with a flush after each step: a crash
    /// leaves either the old volume or the new empty one.
    pub fn format(mut device: D, volume_id: [u8; 16]) -> Result<Self, Error> {
        check_block_size::<D>()?;
        let bs = D::BLOCK_SIZE;
        let block_count = device.block_count();
        if block_count < MIN_DEVICE_BLOCKS {
            return Err(Error::Geometry {
                reason: "device is smaller than the minimum volume",
            });
        }
        let mut block = alloc::vec![0u8; bs];
        let mut base = 0u64;
        for at in 0..2 {
            device.read(at, &mut block)?;
            if let Some(seq) = raw_seq(&block) {
                base = base.max(seq.saturating_add(1));
            }
        }
        assert!(base < u64::MAX - 2, "superblock write numbers exhausted");
        let genesis = sum_parts(&[GENESIS_LABEL, &volume_id, &base.to_le_bytes()]);
        let volume = Volume {
            block_size: bs as u32,
            block_count,
            volume_id,
            genesis,
        };
        block.fill(0);
        device.write(DATA_START, &block)?;
        device.flush()?;
        for seq in [base, base + 1] {
            let sb = Superblock {
                seq,
                volume,
                tip: ChainPos {
                    next_block: DATA_START,
                    last_seq: 0,
                    last_sum: genesis,
                },
                checkpoint_block: 0,
                index_block: 0,
                version: FORMAT_VERSION,
            };
            sb.encode(&mut block);
            device.write(sb.home(), &block)?;
        }
        device.flush()?;
        Self::open(device)
    }

    /// What an appliance does with its disk at boot: open the volume, or format the
    /// device if it is *blank* (both superblock blocks all zero, as a new disk or a
    /// fresh image file is). A device that is neither (damaged superblocks, another
    /// format) is refused with `open`'s error and left untouched: formatting over it
    /// could destroy a ledger. Returns the store and whether it was formatted.
    pub fn open_or_format_blank(mut device: D, volume_id: [u8; 16]) -> Result<(Self, bool), Error> {
        check_block_size::<D>()?;
        if device.block_count() < MIN_DEVICE_BLOCKS {
            return Err(Error::Geometry {
                reason: "device is smaller than the minimum volume",
            });
        }
        let mut head = alloc::vec![0u8; 2 * D::BLOCK_SIZE];
        device.read(0, &mut head)?;
        if head.iter().all(|&b| b == 0) {
            Self::format(device, volume_id).map(|store| (store, true))
        } else {
            Self::open(device).map(|store| (store, false))
        }
    }

    /// Open a formatted volume with the default [`Limits`].
    pub fn open(device: D) -> Result<Self, Error> {
        Self::open_with(device, Limits::default())
    }

    /// Open a formatted volume: take the newest valid superblock, rebuild the
    /// index from the chain it names, then follow the chain past its end and
    /// adopt every complete commit found there (a crash between the
    /// checkpoint record's flush and the superblock's). Writes nothing.
    pub fn open_with(mut device: D, limits: Limits) -> Result<Self, Error> {
        check_block_size::<D>()?;
        let bs = D::BLOCK_SIZE;
        if device.block_count() < MIN_DEVICE_BLOCKS {
            return Err(Error::Geometry {
                reason: "device is smaller than the minimum volume",
            });
        }
        let mut found = [None, None];
        let mut block = alloc::vec![0u8; bs];
        for (at, slot) in found.iter_mut().enumerate() {
            device.read(at as u64, &mut block)?;
            *slot = Superblock::decode(&block, at as u64)?;
        }
        let sb = newest(found[0], found[1]).ok_or(Error::NotFormatted)?;
        if sb.volume.block_size as usize != bs {
            return Err(Error::Geometry {
                reason: "block size differs from the one recorded at format",
            });
        }
        if sb.volume.block_count > device.block_count() || sb.volume.block_count < MIN_DEVICE_BLOCKS {
            return Err(Error::Geometry {
                reason: "device is smaller than the volume recorded at format",
            });
        }
        let start = ChainPos {
            next_block: DATA_START,
            last_seq: 0,
            last_sum: sb.volume.genesis,
        };
        let mut store = BlockStore {
            dev: core::cell::RefCell::new(crate::combine::Combined::new(device)),
            volume: sb.volume,
            sb_seq: sb.seq,
            sb_version: sb.version,
            sb_dirty: false,
            committed: Committed {
                pos: start,
                checkpoint_block: 0,
                index_block: 0,
                snapshot: None,
            },
            note: None,
            staged: start,
            index: Index::new(limits.max_index_entries),
            opened_from_index: false,
            snapshot_write: None,
        };
        store.rebuild_committed(&sb)?;
        store.recover_tail()?;
        Ok(store)
    }
}
