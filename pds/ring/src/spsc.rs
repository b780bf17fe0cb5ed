//! The shared-memory ring: a [`RingHeader`] plus a caller-provided slice of
//! [`Slot`]s holding `Copy` values (in practice [`Descriptor`]s pointing
//! into a data region), driven by one [`Producer`] and one [`Consumer`].
//!
//! Must never: allocate, read a slot the producer has not published, write
//! a slot the consumer has not released, or touch the ring again after
//! either side saw a corrupt index.

use core::marker::PhantomData;

use crate::error::RingError;
use crate::header::RingHeader;
use crate::index::{ConsState, ProdState};
use crate::sync::Cell;

/// One slot of a shared ring, holding a `T` that the producer overwrites and
/// the consumer copies out.
///
/// It exists to give the slot array interior mutability with the same
/// layout as `[T]` (it is `repr(transparent)` over `T`), so that a slot
/// array can be a shared-memory region.
#[repr(transparent)]
pub struct Slot<T>(pub(crate) Cell<T>);

// SAFETY: a `Slot` is only read or written through `Producer`/`Consumer`,
// which the ring protocol keeps from ever accessing the same slot at once
// (constructing them is `unsafe` or needs `&mut` to the slots); values move
// between threads, hence `T: Send`.
unsafe impl<T: Send> Sync for Slot<T> {}

impl<T> Slot<T> {
    /// A slot holding `value` (any value: it is overwritten before it is
    /// ever handed to a consumer).
    #[cfg(not(all(loom, test)))]
    pub const fn new(value: T) -> Self {
        Slot(Cell::new(value))
    }

    /// A slot holding `value`.
    #[cfg(all(loom, test))]
    pub fn new(value: T) -> Self {
        Slot(Cell::new(value))
    }

    /// Direct access while nobody else can touch the slot.
    pub fn get_mut(&mut self) -> &mut T {
        self.0.get_mut()
    }

    /// Views shared memory holding `len` initialised `T`s as slots.
    ///
    /// # Safety
    /// `ptr` must be non-null, aligned for `T`, valid for reads and writes
    /// of `len` `T`s for `'a`, and initialised. During `'a` that memory may
    /// only be accessed through one `Producer` and one `Consumer` of the
    /// same ring. If the peer is not trusted, every bit pattern must be a
    /// valid `T` (true of [`Descriptor`]).
    #[cfg(not(all(loom, test)))]
    pub unsafe fn from_raw_parts<'a>(ptr: *mut T, len: usize) -> &'a [Slot<T>] {
        // SAFETY: `Slot<T>` is `repr(transparent)` over `UnsafeCell<T>`,
        // which has the layout of `T`; the caller guarantees the rest.
        unsafe { core::slice::from_raw_parts(ptr.cast::<Slot<T>>(), len) }
    }
}

impl<T: Default> Default for Slot<T> {
    fn default() -> Self {
        Slot::new(T::default())
    }
}

/// A buffer descriptor: the usual item of a shared ring, naming a region of
/// a data area both domains map (sDDF's `{io_or_offset, len}`).
///
/// It exists so both sides of a protection-domain boundary agree on one
/// 16-byte, padding-free layout for which every bit pattern is valid.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Descriptor {
    /// Byte offset of the buffer inside the shared data region.
    pub offset: u64,
    /// Length of the buffer in bytes.
    pub len: u32,
    /// Opaque to the ring: a request id, flags, or whatever the two sides
    /// agree on.
    pub tag: u32,
}

const _: () = assert!(core::mem::size_of::<Descriptor>() == 16);

/// The writing end of a shared ring.
///
/// It exists so that exactly one party owns the `tail` index: it keeps the
/// authoritative tail privately and only publishes it.
pub struct Producer<'a, T: Copy> {
    pub(crate) header: &'a RingHeader,
    pub(crate) slots: &'a [Slot<T>],
    state: ProdState,
    /// Not `Sync`: one producer is driven by one thread at a time.
    _not_sync: PhantomData<core::cell::Cell<()>>,
}

/// The reading end of a shared ring.
///
/// It exists so that exactly one party owns the `head` index: it keeps the
/// authoritative head privately and only publishes it.
pub struct Consumer<'a, T: Copy> {
    pub(crate) header: &'a RingHeader,
    pub(crate) slots: &'a [Slot<T>],
    state: ConsState,
    _not_sync: PhantomData<core::cell::Cell<()>>,
}

/// Splits an in-process ring into its two ends. The `&mut` borrows prove
/// that no other end exists, so this is safe.
///
/// Indices already in the header are kept (a zeroed header is empty).
pub fn split<'a, T: Copy>(
    header: &'a mut RingHeader,
    slots: &'a mut [Slot<T>],
) -> Result<(Producer<'a, T>, Consumer<'a, T>), RingError> {
    let header: &'a RingHeader = header;
    let slots: &'a [Slot<T>] = slots;
    // SAFETY: the exclusive borrows above guarantee these are the only two
    // ends for `'a`.
    unsafe { Ok((Producer::new(header, slots)?, Consumer::new(header, slots)?)) }
}

impl<'a, T: Copy> Producer<'a, T> {
    /// Attaches the producing side to a ring (typically shared memory).
    ///
    /// Fails with [`RingError::BadCapacity`] unless `slots.len()` is a power
    /// of two in `1..=2^31`, and with [`RingError::Corrupt`] if the header's
    /// indices are already impossible.
    ///
    /// # Safety
    /// For `'a`, no other `Producer` of this ring may exist, and the only
    /// other access to `header` and `slots` is one `Consumer` (possibly in
    /// another protection domain, running this same protocol).
    pub unsafe fn new(header: &'a RingHeader, slots: &'a [Slot<T>]) -> Result<Self, RingError> {
        Ok(Producer {
            header,
            slots,
            state: ProdState::attach(header, slots.len())?,
            _not_sync: PhantomData,
        })
    }

    /// Number of slots.
    pub fn capacity(&self) -> usize {
        self.state.capacity() as usize
    }

    /// Slots free right now (reads the consumer's index).
    pub fn free_slots(&mut self) -> Result<usize, RingError> {
        Ok(self.state.free(self.header)? as usize)
    }

    /// Appends `item`: [`RingError::Full`] if there is no room,
    /// [`RingError::Corrupt`] if the consumer's index is impossible.
    /// After a batch of pushes, call [`Producer::needs_signal`].
    pub fn try_push(&mut self, item: T) -> Result<(), RingError> {
        let i = self.state.reserve(self.header)?;
        // SAFETY: `reserve` proved slot `i` is released by the consumer and
        // not yet published, so only we access it until `publish`.
        // Volatile: the slot may be shared memory another domain reads.
        self.slots[i]
            .0
            .with_mut(|p| unsafe { core::ptr::write_volatile(p, item) });
        self.state.publish(self.header);
        Ok(())
    }

    /// Whether the consumer asked to be notified (it is sleeping on an empty
    /// ring). `true` withdraws the request and obliges the caller to send
    /// one notification. Call after publishing (once per batch is enough).
    pub fn needs_signal(&mut self) -> bool {
        self.state.needs_signal(self.header)
    }

    /// Before sleeping on a full ring: asks the consumer to notify us when
    /// it frees a slot. `Ok(true)`: still full, sleep until notified, then
    /// retry; `Ok(false)`: room appeared meanwhile, do not sleep.
    pub fn request_signal(&mut self) -> Result<bool, RingError> {
        self.state.request_signal(self.header)
    }
}

impl<'a, T: Copy> Consumer<'a, T> {
    /// Attaches the consuming side to a ring (typically shared memory).
    ///
    /// Fails like [`Producer::new`].
    ///
    /// # Safety
    /// For `'a`, no other `Consumer` of this ring may exist, and the only
    /// other access to `header` and `slots` is one `Producer`.
    pub unsafe fn new(header: &'a RingHeader, slots: &'a [Slot<T>]) -> Result<Self, RingError> {
        Ok(Consumer {
            header,
            slots,
            state: ConsState::attach(header, slots.len())?,
            _not_sync: PhantomData,
        })
    }

    /// Number of slots.
    pub fn capacity(&self) -> usize {
        self.state.capacity() as usize
    }

    /// Items ready right now (reads the producer's index).
    pub fn available(&mut self) -> Result<usize, RingError> {
        Ok(self.state.available(self.header)? as usize)
    }

    /// Takes the oldest item: [`RingError::Empty`] if there is none,
    /// [`RingError::Corrupt`] if the producer's index is impossible.
    /// After a batch of pops, call [`Consumer::needs_signal`].
    pub fn try_pop(&mut self) -> Result<T, RingError> {
        let i = self.state.reserve(self.header)?;
        // SAFETY: `reserve` proved slot `i` is published and not yet
        // released, so the producer does not write it until `release`.
        let item = self.slots[i].0.with(|p| unsafe { core::ptr::read_volatile(p) });
        self.state.release(self.header);
        Ok(item)
    }

    /// Whether the producer asked to be notified (it is sleeping on a full
    /// ring). `true` withdraws the request and obliges the caller to send
    /// one notification. Call after releasing.
    pub fn needs_signal(&mut self) -> bool {
        self.state.needs_signal(self.header)
    }

    /// Before sleeping on an empty ring: asks the producer to notify us when
    /// it publishes. `Ok(true)`: still empty, sleep until notified, then
    /// retry; `Ok(false)`: an item arrived meanwhile, do not sleep.
    pub fn request_signal(&mut self) -> Result<bool, RingError> {
        self.state.request_signal(self.header)
    }
}

impl<T: Copy> core::fmt::Debug for Producer<'_, T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Producer")
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl<T: Copy> core::fmt::Debug for Consumer<'_, T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Consumer")
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}
