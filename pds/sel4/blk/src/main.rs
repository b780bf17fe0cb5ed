//! The blk protection domain: the virtio-blk driver, and the only PD that maps the virtio
//! MMIO window. It serves one client, the tiles PD, over a pair of `sel4-shared-ring-buffer`
//! rings of `ledgerfs_blkring::BlkRequest` descriptors (`blk_requests`: tiles → blk,
//! `blk_completions`: blk → tiles) and a data window (`blk_data`) mapped into both.
//!
//! Protocol: tiles enqueues requests, then makes a protected call on the blk channel; this
//! PD serves every queued request in order, each to completion, and enqueues one
//! completion per request before the call returns. Completions are polled from the
//! virtqueue (the device interrupt is not mapped), so the call is the only signal either
//! way. Every descriptor is checked by `ledgerfs_blkring::validate` before it reaches the
//! device; a ring whose indices are impossible is stopped and reported, never trusted.
//!
//! DMA: virtio-drivers with rust-sel4's `sel4-virtio-hal-impl`, which bounces every buffer
//! through `blk_dma`, a region whose physical address Microkit tells us (`setvar
//! region_paddr`). Device blocks are 512-byte sectors; the protocol's are 4 KiB.
#![no_std]
#![no_main]

use ledgerfs_blkring::{BLOCK_SIZE, BlkRequest, Checked, Status, validate};
use sel4_microkit::{
    Channel, Handler, Infallible, MessageInfo, debug_println, memory_region_symbol, protection_domain, var,
};
use sel4_shared_memory::SharedMemoryRef;
use sel4_shared_ring_buffer::{RingBuffers, roles::Use};
use sel4_virtio_hal_impl::HalImpl;
use virtio_drivers::device::blk::{SECTOR_SIZE, VirtIOBlk};
use virtio_drivers::transport::DeviceType;
use virtio_drivers::transport::mmio::MmioTransport;

/// Region sizes (system.xml).
const DMA_SIZE: usize = 0x40_0000;
const DATA_SIZE: usize = 0x40_0000;
const SECTORS_PER_BLOCK: usize = BLOCK_SIZE / SECTOR_SIZE;

type Rings = RingBuffers<'static, Use, fn(), BlkRequest>;

#[protection_domain(heap_size = 256 * 1024)]
fn init() -> BlkPd {
    HalImpl::init(
        DMA_SIZE,
        *var!(blk_dma_vaddr: usize = 0),
        *var!(blk_dma_paddr: usize = 0),
    );
    let mmio = *var!(virtio_mmio_vaddr: usize = 0);
    // SAFETY: system.xml maps the disk's MMIO page (QEMU virt's 0xa003000: transports
    // 24..=31) uncached into this PD only.
    let device = unsafe { ledgerfs_sel4_virtio::find(mmio, DeviceType::Block) }.map(|(_, t)| t);
    let device = device.and_then(|t| match VirtIOBlk::<HalImpl, _>::new(t) {
        Ok(d) => Some(d),
        Err(e) => {
            debug_println!("blk: virtio-blk init failed: {e:?}");
            None
        }
    });
    let blocks = device.as_ref().map_or(0, |d| d.capacity() / SECTORS_PER_BLOCK as u64);
    match &device {
        Some(d) if d.readonly() => debug_println!("blk: ready ({blocks} blocks of 4 KiB, read-only)"),
        Some(_) => debug_println!("blk: ready ({blocks} blocks of 4 KiB)"),
        None => debug_println!("blk: no virtio-blk device: every request fails (boot QEMU with a disk)"),
    }
    // SAFETY: system.xml maps both ring regions and the data window into this PD and tiles
    // only; tiles is the providing end and initialises the rings.
    let rings = unsafe {
        Rings::from_ptrs_using_default_initialization_strategy_for_role(
            SharedMemoryRef::new(memory_region_symbol!(blk_requests: *mut _)),
            SharedMemoryRef::new(memory_region_symbol!(blk_completions: *mut _)),
            || {},
        )
    };
    BlkPd {
        device,
        blocks,
        rings,
        data: memory_region_symbol!(blk_data: *mut u8).as_ptr(),
        stopped: false,
    }
}

struct BlkPd {
    device: Option<VirtIOBlk<HalImpl, MmioTransport<'static>>>,
    blocks: u64,
    rings: Rings,
    data: *mut u8,
    stopped: bool,
}

impl BlkPd {
    /// Serves every queued request; stops the rings for good if the peer corrupted them.
    fn serve_all(&mut self) {
        while !self.stopped {
            let req = match self.rings.free_mut().dequeue() {
                Ok(Some(req)) => req,
                Ok(None) => return,
                Err(_) => return self.stop("blk_requests"),
            };
            let mut done = req;
            let status = match validate(&req, self.blocks, DATA_SIZE) {
                Ok(Checked::Info) => {
                    done.block = self.blocks;
                    Status::Ok
                }
                Ok(op) => self.serve(op),
                Err(status) => status,
            };
            match self.rings.used_mut().enqueue_and_commit(done.completed(status)) {
                Ok(Ok(())) => {}
                Ok(Err(_)) => return self.stop("blk_completions (full: more than 512 requests in flight)"),
                Err(_) => return self.stop("blk_completions"),
            }
        }
    }

    fn stop(&mut self, ring: &str) {
        debug_println!("blk: {ring}: impossible ring index from tiles; ring stopped");
        self.stopped = true;
    }

    /// One checked request against the device, to completion.
    fn serve(&mut self, op: Checked) -> Status {
        let Some(dev) = self.device.as_mut() else {
            return Status::Io;
        };
        let result = match op {
            Checked::Read {
                device_offset,
                window_offset,
                len,
            } => {
                // SAFETY: `validate` bounded the range by DATA_SIZE; tiles waits in its
                // protected call while this PD uses the window.
                let buf = unsafe { core::slice::from_raw_parts_mut(self.data.add(window_offset), len) };
                dev.read_blocks((device_offset / SECTOR_SIZE as u64) as usize, buf)
            }
            Checked::Write {
                device_offset,
                window_offset,
                len,
            } => {
                // SAFETY: as for reads.
                let buf = unsafe { core::slice::from_raw_parts(self.data.add(window_offset), len) };
                dev.write_blocks((device_offset / SECTOR_SIZE as u64) as usize, buf)
            }
            Checked::Flush => dev.flush(),
            Checked::Info => Ok(()),
        };
        match result {
            Ok(()) => Status::Ok,
            Err(virtio_drivers::Error::Unsupported) => Status::Unsupported,
            Err(e) => {
                debug_println!("blk: device error: {e:?}");
                Status::Io
            }
        }
    }
}

impl Handler for BlkPd {
    type Error = Infallible;

    fn protected(&mut self, _channel: Channel, _msg_info: MessageInfo) -> Result<MessageInfo, Self::Error> {
        self.serve_all();
        Ok(MessageInfo::new(u64::from(self.stopped), 0))
    }
}
