//! The one place the driver PDs find their device: QEMU virt packs virtio-mmio transports
//! 0x200 bytes apart, so the 4 KiB page a driver maps holds eight of them. A driver reads
//! each transport's header once (highest first: QEMU fills the highest free one first)
//! and drives only the one of its device type.
#![no_std]

use core::ptr::NonNull;

use virtio_drivers::transport::mmio::{MmioTransport, VirtIOHeader};
use virtio_drivers::transport::{DeviceType, Transport};

/// A mapped MMIO page.
pub const MMIO_PAGE: usize = 0x1000;
/// One virtio-mmio transport's registers.
pub const TRANSPORT_SIZE: usize = 0x200;

/// The transport of `kind` in the page mapped at `page`, and its slot in the page (0..8).
///
/// # Safety
/// `page` must be a mapping of [`MMIO_PAGE`] bytes of virtio-mmio device registers
/// (uncached), used by this PD alone for the rest of its life.
pub unsafe fn find(page: usize, kind: DeviceType) -> Option<(usize, MmioTransport<'static>)> {
    (0..MMIO_PAGE / TRANSPORT_SIZE).rev().find_map(|slot| {
        let header = NonNull::new((page + slot * TRANSPORT_SIZE) as *mut VirtIOHeader)?;
        // SAFETY: forwarded from the caller; each transport is TRANSPORT_SIZE bytes.
        let transport = unsafe { MmioTransport::new(header, TRANSPORT_SIZE) }.ok()?;
        (transport.device_type() == kind).then_some((slot, transport))
    })
}
