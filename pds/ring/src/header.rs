//! The shared ring header: the only memory both sides write. Two free-running
//! `u32` indices and two "wake me" flags, laid out as two 64-byte lines so
//! each side mostly writes its own cache line.
//!
//! Must never: hold anything but atomics (and never-touched padding), change
//! layout without changing [`HEADER_SIZE`] and the offset constants (the
//! other protection domain was compiled against them), or be read by a side
//! for the index that side owns once it has started (see `index.rs`).

use crate::sync::AtomicU32;

/// Size of [`RingHeader`] in bytes: what a shared-memory layout must reserve.
pub const HEADER_SIZE: usize = 128;
/// Byte offset of the producer-owned `tail` index.
pub const TAIL_OFFSET: usize = 0;
/// Byte offset of the `producer_wants_signal` flag (set by the producer,
/// cleared by the consumer).
pub const PRODUCER_WANTS_SIGNAL_OFFSET: usize = 4;
/// Byte offset of the consumer-owned `head` index.
pub const HEAD_OFFSET: usize = 64;
/// Byte offset of the `consumer_wants_signal` flag (set by the consumer,
/// cleared by the producer).
pub const CONSUMER_WANTS_SIGNAL_OFFSET: usize = 68;

/// The control block of one ring, shared by its producer and consumer.
///
/// It exists as a fixed `#[repr(C)]` layout so that it can sit at the start
/// of a shared-memory region mapped into two protection domains. All fields
/// are private: only [`crate::Producer`]/[`crate::Consumer`] (and the owned
/// ring) touch them, following the protocol documented in `index.rs`.
///
/// A zeroed header is a valid empty ring.
#[repr(C, align(64))]
pub struct RingHeader {
    /// Number of items ever published. Written only by the producer
    /// (Release), read by the consumer (Acquire).
    pub(crate) tail: AtomicU32,
    /// Non-zero: the producer found the ring full and sleeps until the
    /// consumer frees a slot and notifies it.
    pub(crate) producer_wants_signal: AtomicU32,
    _producer_line: [u8; 56],
    /// Number of items ever consumed. Written only by the consumer
    /// (Release), read by the producer (Acquire).
    pub(crate) head: AtomicU32,
    /// Non-zero: the consumer found the ring empty and sleeps until the
    /// producer publishes an item and notifies it.
    pub(crate) consumer_wants_signal: AtomicU32,
    _consumer_line: [u8; 56],
}

impl RingHeader {
    /// An empty ring (all zero), usable in a `static`.
    #[cfg(not(all(loom, test)))]
    pub const fn new() -> Self {
        RingHeader {
            tail: AtomicU32::new(0),
            producer_wants_signal: AtomicU32::new(0),
            _producer_line: [0; 56],
            head: AtomicU32::new(0),
            consumer_wants_signal: AtomicU32::new(0),
            _consumer_line: [0; 56],
        }
    }

    /// An empty ring (all zero).
    #[cfg(all(loom, test))]
    pub fn new() -> Self {
        RingHeader {
            tail: AtomicU32::new(0),
            producer_wants_signal: AtomicU32::new(0),
            _producer_line: [0; 56],
            head: AtomicU32::new(0),
            consumer_wants_signal: AtomicU32::new(0),
            _consumer_line: [0; 56],
        }
    }

    /// Views shared memory as a ring header.
    ///
    /// # Safety
    /// `ptr` must be non-null, 64-byte aligned, valid for reads and writes of
    /// [`HEADER_SIZE`] bytes for `'a`, and initialised (zeroed memory is an
    /// empty ring). Every other access to that memory during `'a` must be
    /// atomic (the peer's `Producer`/`Consumer`).
    #[cfg(not(all(loom, test)))]
    pub unsafe fn from_ptr<'a>(ptr: *mut RingHeader) -> &'a RingHeader {
        // SAFETY: the caller guarantees validity, alignment and atomic-only
        // access; all fields are atomics or padding nobody touches.
        unsafe { &*ptr }
    }
}

impl Default for RingHeader {
    fn default() -> Self {
        Self::new()
    }
}

impl core::fmt::Debug for RingHeader {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        use crate::sync::Ordering::Relaxed;
        f.debug_struct("RingHeader")
            .field("tail", &self.tail.load(Relaxed))
            .field("head", &self.head.load(Relaxed))
            .field("producer_wants_signal", &self.producer_wants_signal.load(Relaxed))
            .field("consumer_wants_signal", &self.consumer_wants_signal.load(Relaxed))
            .finish()
    }
}

#[cfg(not(all(loom, test)))]
const _: () = {
    assert!(core::mem::size_of::<RingHeader>() == HEADER_SIZE);
    assert!(core::mem::align_of::<RingHeader>() == 64);
    assert!(core::mem::offset_of!(RingHeader, tail) == TAIL_OFFSET);
    assert!(core::mem::offset_of!(RingHeader, producer_wants_signal) == PRODUCER_WANTS_SIGNAL_OFFSET);
    assert!(core::mem::offset_of!(RingHeader, head) == HEAD_OFFSET);
    assert!(core::mem::offset_of!(RingHeader, consumer_wants_signal) == CONSUMER_WANTS_SIGNAL_OFFSET);
};
