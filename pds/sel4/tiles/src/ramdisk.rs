//! A `BlockDevice` over a Microkit memory region: the stand-in for the virtio-blk PD of a
//! later slice. Writes are "durable" as soon as they are made (RAM), so `flush` is a
//! no-op; the contents do not survive a reboot.

use ledgerfs_blockstore::{BlockDevice, DeviceError};

pub struct RamDisk {
    base: *mut u8,
    blocks: u64,
}

impl RamDisk {
    /// # Safety
    /// `base..base + size` is memory mapped read/write into this PD only, for the PD's life.
    pub unsafe fn new(base: *mut u8, size: usize) -> RamDisk {
        RamDisk {
            base,
            blocks: (size / Self::BLOCK_SIZE) as u64,
        }
    }

    fn range(&self, block: u64, len: usize) -> Result<usize, DeviceError> {
        let count = (len / Self::BLOCK_SIZE) as u64;
        if len % Self::BLOCK_SIZE != 0 || block.checked_add(count).is_none_or(|end| end > self.blocks) {
            return Err(DeviceError::OutOfRange);
        }
        Ok(block as usize * Self::BLOCK_SIZE)
    }
}

impl BlockDevice for RamDisk {
    fn block_count(&self) -> u64 {
        self.blocks
    }

    fn read(&mut self, block: u64, buf: &mut [u8]) -> Result<(), DeviceError> {
        let at = self.range(block, buf.len())?;
        // SAFETY: inside the region (checked above); only this PD maps it.
        unsafe { core::ptr::copy_nonoverlapping(self.base.add(at), buf.as_mut_ptr(), buf.len()) };
        Ok(())
    }

    fn write(&mut self, block: u64, buf: &[u8]) -> Result<(), DeviceError> {
        let at = self.range(block, buf.len())?;
        // SAFETY: as in `read`.
        unsafe { core::ptr::copy_nonoverlapping(buf.as_ptr(), self.base.add(at), buf.len()) };
        Ok(())
    }

    fn flush(&mut self) -> Result<(), DeviceError> {
        Ok(())
    }
}
