//! The in-process ring (feature `alloc`): an `Arc`-shared [`OwnedRing`]
//! whose slots hold `MaybeUninit<T>`, so owned, non-`Copy` values (a
//! `Vec`, a `Box`) move from one thread's [`Sender`] to another's
//! [`Receiver`]. Same header, same protocol as the shared-memory ring; the
//! hosted daemon adds its own sleeping (thread park/unpark) on top of
//! `request_signal`/`needs_signal`.
//!
//! Must never: read an uninitialised slot, drop a value twice or leak one
//! (values still in the ring are dropped with it), or block.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::fmt;
use core::mem::MaybeUninit;

use crate::error::RingError;
use crate::header::RingHeader;
use crate::index::{ConsState, ProdState};
use crate::sync::{Arc, Cell, Ordering};

/// The shared storage of an in-process ring: header plus slots.
///
/// It exists as its own type so both ends can hold it through an `Arc` and
/// the last one to go drops whatever is still queued.
pub struct OwnedRing<T> {
    header: RingHeader,
    slots: Box<[Cell<MaybeUninit<T>>]>,
}

// SAFETY: values of `T` are moved between the two ends (hence `T: Send`);
// slots are only accessed as the ring protocol allows, which never lets the
// two ends touch the same slot at once.
unsafe impl<T: Send> Send for OwnedRing<T> {}
// SAFETY: as above; `&OwnedRing` is only used through one `Sender` and one
// `Receiver`.
unsafe impl<T: Send> Sync for OwnedRing<T> {}

impl<T> Drop for OwnedRing<T> {
    fn drop(&mut self) {
        // Both ends are gone (we are the last `Arc`), so the header holds
        // the final indices and every slot in `head..tail` is initialised.
        let head = self.header.head.load(Ordering::Acquire);
        let tail = self.header.tail.load(Ordering::Acquire);
        let mask = self.slots.len() - 1;
        let mut i = head;
        while i != tail {
            // SAFETY: slot `i` was written by a push and never popped.
            self.slots[i as usize & mask].with_mut(|p| unsafe { (*p).assume_init_drop() });
            i = i.wrapping_add(1);
        }
    }
}

impl<T> fmt::Debug for OwnedRing<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedRing")
            .field("header", &self.header)
            .field("capacity", &self.slots.len())
            .finish()
    }
}

/// Creates an in-process ring of `capacity` slots (a power of two in
/// `1..=2^31`) and returns its two ends.
pub fn channel<T: Send>(capacity: usize) -> Result<(Sender<T>, Receiver<T>), RingError> {
    crate::index::capacity_mask(capacity)?;
    let mut slots = Vec::with_capacity(capacity);
    slots.resize_with(capacity, || Cell::new(MaybeUninit::uninit()));
    let ring = Arc::new(OwnedRing {
        header: RingHeader::new(),
        slots: slots.into_boxed_slice(),
    });
    let prod = ProdState::attach(&ring.header, capacity)?;
    let cons = ConsState::attach(&ring.header, capacity)?;
    Ok((
        Sender {
            ring: ring.clone(),
            state: prod,
        },
        Receiver { ring, state: cons },
    ))
}

/// A value that could not be pushed, handed back with the reason.
#[derive(PartialEq, Eq)]
pub struct PushError<T> {
    /// Why: [`RingError::Full`] (or `Corrupt`, which cannot happen
    /// in-process).
    pub error: RingError,
    /// The value, returned to the caller unharmed.
    pub value: T,
}

impl<T> PushError<T> {
    /// Stable code of the underlying [`RingError`].
    pub fn code(&self) -> &'static str {
        self.error.code()
    }
}

impl<T> fmt::Debug for PushError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PushError")
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

impl<T> fmt::Display for PushError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.error, f)
    }
}

impl<T> core::error::Error for PushError<T> {}

/// The sending end of an in-process ring; exists to own the `tail`.
pub struct Sender<T> {
    ring: Arc<OwnedRing<T>>,
    state: ProdState,
}

/// The receiving end of an in-process ring; exists to own the `head`.
pub struct Receiver<T> {
    ring: Arc<OwnedRing<T>>,
    state: ConsState,
}

impl<T: Send> Sender<T> {
    /// Number of slots.
    pub fn capacity(&self) -> usize {
        self.state.capacity() as usize
    }

    /// Moves `value` into the ring, or hands it back if the ring is full.
    /// After a batch of pushes, call [`Sender::needs_signal`].
    pub fn try_push(&mut self, value: T) -> Result<(), PushError<T>> {
        let i = match self.state.reserve(&self.ring.header) {
            Ok(i) => i,
            Err(error) => return Err(PushError { error, value }),
        };
        // SAFETY: slot `i` is free (released or never used) and only we
        // access it until `publish`; it holds no live value, so
        // overwriting leaks nothing.
        self.ring.slots[i].with_mut(|p| unsafe {
            (*p).write(value);
        });
        self.state.publish(&self.ring.header);
        Ok(())
    }

    /// Whether the receiver is sleeping on an empty ring and must be woken
    /// (`true` withdraws the request: notify once). Call after pushing.
    pub fn needs_signal(&mut self) -> bool {
        self.state.needs_signal(&self.ring.header)
    }

    /// Before sleeping on a full ring: `true` means still full, sleep until
    /// the receiver wakes us; `false` means room appeared, push again.
    pub fn request_signal(&mut self) -> bool {
        // In-process the indices cannot be corrupt; treat it as "do not
        // sleep" so a caller would spin into the error from `try_push`.
        self.state.request_signal(&self.ring.header).unwrap_or(false)
    }

    /// Whether the [`Receiver`] has been dropped (nothing will be consumed
    /// any more).
    pub fn is_receiver_dropped(&self) -> bool {
        Arc::strong_count(&self.ring) == 1
    }
}

impl<T: Send> Receiver<T> {
    /// Number of slots.
    pub fn capacity(&self) -> usize {
        self.state.capacity() as usize
    }

    /// Items ready right now.
    pub fn len(&mut self) -> usize {
        self.state.available(&self.ring.header).unwrap_or(0) as usize
    }

    /// Whether no item is ready right now.
    pub fn is_empty(&mut self) -> bool {
        self.len() == 0
    }

    /// Moves the oldest value out: [`RingError::Empty`] if there is none.
    /// After a batch of pops, call [`Receiver::needs_signal`].
    pub fn try_pop(&mut self) -> Result<T, RingError> {
        let i = self.state.reserve(&self.ring.header)?;
        // SAFETY: slot `i` was published (initialised) and not yet
        // released; we move the value out and release the slot, so it is
        // never read or dropped again.
        let value = self.ring.slots[i].with(|p| unsafe { (*p).assume_init_read() });
        self.state.release(&self.ring.header);
        Ok(value)
    }

    /// Whether the sender is sleeping on a full ring and must be woken
    /// (`true` withdraws the request: notify once). Call after popping.
    pub fn needs_signal(&mut self) -> bool {
        self.state.needs_signal(&self.ring.header)
    }

    /// Before sleeping on an empty ring: `true` means still empty, sleep
    /// until the sender wakes us; `false` means an item arrived, pop again.
    pub fn request_signal(&mut self) -> bool {
        self.state.request_signal(&self.ring.header).unwrap_or(false)
    }

    /// Whether the [`Sender`] has been dropped (after draining what is
    /// left, nothing more will arrive).
    pub fn is_sender_dropped(&self) -> bool {
        Arc::strong_count(&self.ring) == 1
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}
