//! The tiles PD's `BlockDevice`: requests on the `sel4-shared-ring-buffer` rings to the blk
//! PD (virtio-blk), data through the `blk_data` window, one protected call per request.
//! The request format, validation and chunking are `ledgerfs_blkring`'s; this file only
//! moves descriptors and bytes.

use ledgerfs_blkring::{BLOCK_SIZE, BlkRequest, Op, chunks, completion_result};
use ledgerfs_blockstore::{BlockDevice, DeviceError};
use sel4_microkit::{Channel, MessageInfo};
use sel4_shared_memory::SharedMemoryRef;
use sel4_shared_ring_buffer::{RawRingBuffer, RingBuffers, roles::Provide};

/// The protected-procedure channel into the blk PD.
const BLK: Channel = Channel::new(4);

/// A block device served by the blk PD.
pub struct RingDisk {
    rings: RingBuffers<'static, Provide, fn(), BlkRequest>,
    data: *mut u8,
    window: usize,
    blocks: u64,
    next_id: u32,
}

impl RingDisk {
    /// Attaches to the rings and window and asks blk for the device size.
    ///
    /// # Safety
    /// The pointers are the `blk_requests`, `blk_completions` and `blk_data` regions, mapped
    /// read/write into this PD and blk only, for the PD's life; `window` is the data
    /// region's size.
    pub unsafe fn attach(
        requests: core::ptr::NonNull<RawRingBuffer<BlkRequest>>,
        completions: core::ptr::NonNull<RawRingBuffer<BlkRequest>>,
        data: *mut u8,
        window: usize,
    ) -> Result<RingDisk, DeviceError> {
        // SAFETY: per this function's contract; this PD is the providing end and
        // initialises the ring indices.
        let rings = unsafe {
            RingBuffers::from_ptrs_using_default_initialization_strategy_for_role(
                SharedMemoryRef::new(requests),
                SharedMemoryRef::new(completions),
                (|| {}) as fn(),
            )
        };
        let mut disk = RingDisk {
            rings,
            data,
            window,
            blocks: 0,
            next_id: 0,
        };
        disk.blocks = disk.call(BlkRequest::new(Op::Info, 0, 0, 0, 0))?.block;
        Ok(disk)
    }

    /// One request, served before the protected call returns.
    fn call(&mut self, mut req: BlkRequest) -> Result<BlkRequest, DeviceError> {
        self.next_id = self.next_id.wrapping_add(1);
        req.id = self.next_id;
        match self.rings.free_mut().enqueue_and_commit(req) {
            Ok(Ok(())) => {}
            _ => return Err(DeviceError::Io),
        }
        let stopped = BLK.pp_call(MessageInfo::new(0, 0)).label() != 0;
        match self.rings.used_mut().dequeue() {
            Ok(Some(done)) if done.id == req.id && !stopped => completion_result(&done).map(|()| done),
            _ => Err(DeviceError::Io),
        }
    }

    fn window(&mut self, len: usize) -> &mut [u8] {
        assert!(len <= self.window);
        // SAFETY: `blk_data` is `window` bytes mapped here; blk touches it only while this
        // PD waits in `call`.
        unsafe { core::slice::from_raw_parts_mut(self.data, len) }
    }
}

impl BlockDevice for RingDisk {
    const BLOCK_SIZE: usize = BLOCK_SIZE;

    fn block_count(&self) -> u64 {
        self.blocks
    }

    fn read(&mut self, block: u64, buf: &mut [u8]) -> Result<(), DeviceError> {
        for (b, range) in chunks(block, buf.len(), self.window) {
            let count = (range.len() / BLOCK_SIZE) as u32;
            self.call(BlkRequest::new(Op::Read, 0, b, count, 0))?;
            buf[range.clone()].copy_from_slice(self.window(range.len()));
        }
        Ok(())
    }

    fn write(&mut self, block: u64, buf: &[u8]) -> Result<(), DeviceError> {
        for (b, range) in chunks(block, buf.len(), self.window) {
            let count = (range.len() / BLOCK_SIZE) as u32;
            self.window(range.len()).copy_from_slice(&buf[range]);
            self.call(BlkRequest::new(Op::Write, 0, b, count, 0))?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), DeviceError> {
        self.call(BlkRequest::new(Op::Flush, 0, 0, 0, 0)).map(|_| ())
    }
}
