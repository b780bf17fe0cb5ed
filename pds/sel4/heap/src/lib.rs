//! A PD's heap in a Microkit memory region (system.xml) instead of `.bss`.
//!
//! A `.bss` heap (`#[protection_domain(heap_size = ..)]`) is part of the PD's ELF image,
//! and Microkit's loader image carries every PD image in full, zeros included: with
//! tiles' 48 MiB and network's 24 MiB heaps the loader image was 82 MiB, which QEMU
//! loads and the loader copies at every boot. A memory region is created at boot from
//! untyped memory instead (the kernel clears it), so it costs the image nothing. Each PD
//! declares `#[global_allocator] static HEAP: RegionHeap = RegionHeap::new();` and calls
//! [`install`] first thing in `init`, before anything allocates.
#![no_std]

use one_shot_mutex::sync::RawOneShotMutex;
use sel4_dlmalloc::{DeferredStaticDlmalloc, StaticHeapBounds};

/// The allocator of a PD whose heap is a memory region; its bounds are set by [`install`].
pub type RegionHeap = DeferredStaticDlmalloc<RawOneShotMutex>;

/// Gives `heap` the `size` bytes at `base` (a region system.xml maps into this PD alone,
/// read/write, at least `size` bytes long). Panics if called twice.
pub fn install(heap: &RegionHeap, base: *mut u8, size: usize) {
    heap.set_bounds(StaticHeapBounds::new(base, size))
        .expect("the heap is set once");
}
