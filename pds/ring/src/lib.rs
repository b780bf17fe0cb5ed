//! LedgerFS ring: a bounded single-producer/single-consumer queue in the
//! discipline of seL4 sDDF's `queue.h`, shared by two protection domains
//! (or two threads of the hosted daemon).
//!
//! * [`RingHeader`] — 128 bytes of atomics: free-running `u32` `tail`
//!   (producer-written) and `head` (consumer-written), and the
//!   `producer_wants_signal`/`consumer_wants_signal` flags so a side
//!   notifies its peer only when the peer asked.
//! * [`Producer`]/[`Consumer`] over a caller-provided `[Slot<T>]` of `Copy`
//!   items such as [`Descriptor`] — what maps onto seL4 shared memory.
//! * [`MessageSender`]/[`MessageReceiver`] — byte messages over one shared
//!   memory region (an active and a free ring of descriptors plus buffers),
//!   sDDF's buffer-ownership discipline, as two seL4 PDs use it.
//! * With feature `alloc`: `channel` → `Sender`/`Receiver` over an
//!   `Arc`-backed `OwnedRing` that moves owned, non-`Copy` values.
//!
//! The ordering and wake-up protocol is written down once, in `index.rs`.
//! A side that reads an impossible index from its peer returns
//! [`RingError::Corrupt`] and never touches the ring again.
//!
//! ```
//! use ledgerfs_ring::{split, Descriptor, RingError, RingHeader, Slot};
//!
//! let mut header = RingHeader::new();
//! let mut slots: [Slot<Descriptor>; 8] = Default::default();
//! let (mut tx, mut rx) = split(&mut header, &mut slots)?;
//!
//! tx.try_push(Descriptor { offset: 4096, len: 512, tag: 1 })?;
//! if tx.needs_signal() { /* the consumer sleeps: notify it once */ }
//! assert_eq!(rx.try_pop()?.len, 512);
//!
//! // Empty: announce, re-check, and only then sleep.
//! assert_eq!(rx.try_pop(), Err(RingError::Empty));
//! if rx.request_signal()? { /* wait for the notification, then pop again */ }
//! tx.try_push(Descriptor::default())?;
//! assert!(tx.needs_signal(), "the consumer asked, so the producer notifies");
//! # Ok::<(), RingError>(())
//! ```
//!
//! Must never: block, spin, sleep, notify, allocate (outside the `alloc`
//! feature), read clocks or make syscalls — the caller owns all of that
//! (it is `no_std` and sans-IO) — nor read a slot it was not handed by the
//! protocol.
#![no_std]
#![warn(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

#[cfg(any(feature = "alloc", test))]
extern crate alloc;
#[cfg(any(feature = "std", test))]
extern crate std;

#[cfg(any(feature = "std", test))]
pub mod blocking;
mod error;
mod header;
mod index;
#[cfg(any(feature = "alloc", test))]
mod owned;
#[cfg(not(all(loom, test)))]
mod region;
mod spsc;
mod sync;

#[cfg(all(test, loom))]
mod loom_tests;
#[cfg(all(test, not(loom)))]
mod model;
#[cfg(all(test, not(loom)))]
mod tests;

pub use error::RingError;
pub use header::{
    RingHeader, CONSUMER_WANTS_SIGNAL_OFFSET, HEADER_SIZE, HEAD_OFFSET, PRODUCER_WANTS_SIGNAL_OFFSET, TAIL_OFFSET,
};
#[cfg(any(feature = "alloc", test))]
pub use owned::{channel, OwnedRing, PushError, Receiver, Sender};
#[cfg(not(all(loom, test)))]
pub use region::{MessageReceiver, MessageSender, RegionLayout, SLOTS};
pub use spsc::{split, Consumer, Descriptor, Producer, Slot};
