//! Each side's private view of the ring indices, and the whole
//! synchronisation protocol: which index is published when, with which
//! ordering, how a peer's index is checked, and how the "wake me" flags
//! avoid lost wake-ups. Both the slice ring and the owned ring run on these
//! two state machines, so the protocol exists exactly once.
//!
//! Must never: re-read the index this side owns from shared memory after
//! attaching (the peer could have scribbled on it), use a peer index without
//! checking it, touch a slot (that is the caller's job, between `reserve`
//! and `publish`/`release`), or keep working after a corrupt index.
//!
//! # Protocol
//!
//! Indices are free-running `u32` counters; slot `i` lives at `i & mask`.
//! `tail - head` (wrapping) is the number of items in flight, always in
//! `0..=capacity`.
//!
//! * Producer push: read `head` (Acquire) → check it → write slot
//!   `tail & mask` → store `tail + 1` (Release). The Release store publishes
//!   the slot write; the Acquire load makes the consumer's last read of the
//!   slot happen before we overwrite it.
//! * Consumer pop: read `tail` (Acquire) → check it → read slot
//!   `head & mask` → store `head + 1` (Release). Symmetric.
//!
//! Sleeping (consumer on empty; the producer on full is the mirror image):
//!
//! ```text
//! consumer                                 producer
//! C1 consumer_wants_signal = 1             P1 write slot; tail = t+1 (Release)
//! C2 fence(SeqCst)                         P2 fence(SeqCst)
//! C3 re-read tail (Acquire):               P3 if consumer_wants_signal != 0:
//!      items? flag = 0, don't sleep        P4   consumer_wants_signal = 0
//! C4 wait for a notification               P5   notify
//! ```
//!
//! The two SeqCst fences are totally ordered. If C2 comes first, P3 sees the
//! flag (or a later value: a 0 written at C3 because the consumer saw the
//! item and will not sleep, or a 0 from an earlier P4 that is followed by
//! its own P5) and so a notification follows; if P2 comes first, C3 sees
//! the new tail and the consumer does not sleep. Either way an item is
//! never left behind a sleeping consumer.
//!
//! P4 is a plain store, as in sDDF, not a swap: it may erase a request the
//! consumer made after P3's load, but P5 then notifies anyway, and that
//! notification cannot have been consumed by a wait that ended before the
//! erased request (the erasing store would then happen before the request,
//! not after it). The cost is an occasional spurious wake-up, never a lost
//! one; the gain is no read-modify-write on shared memory, and a protocol
//! loom can check exactly (loom mis-orders stores racing with a swap,
//! tokio-rs/loom#254).
//!
//! The notification primitive must be sticky (seL4 notifications, thread
//! park/unpark tokens): a signal sent just before the wait is not lost.
//! Wake-ups may be spurious, so callers always loop back to `try_pop`.

use crate::error::RingError;
use crate::header::RingHeader;
use crate::sync::{fence, Ordering};

/// `capacity - 1` if `capacity` is a power of two in `1..=2^31`.
pub(crate) fn capacity_mask(capacity: usize) -> Result<u32, RingError> {
    if capacity == 0 || !capacity.is_power_of_two() {
        return Err(RingError::BadCapacity);
    }
    let cap = u32::try_from(capacity).map_err(|_| RingError::BadCapacity)?;
    if cap > 1 << 31 {
        return Err(RingError::BadCapacity);
    }
    Ok(cap - 1)
}

/// Whether the producer may believe a freshly read `head`: the consumer's
/// index only moves forward (from `last_head`) and never passes `tail`.
#[inline]
pub(crate) fn head_is_possible(tail: u32, last_head: u32, head: u32) -> bool {
    head.wrapping_sub(last_head) <= tail.wrapping_sub(last_head)
}

/// Whether the consumer may believe a freshly read `tail`: the producer's
/// index only moves forward (from `last_tail`) and never gets more than
/// `capacity` ahead of `head`.
#[inline]
pub(crate) fn tail_is_possible(head: u32, last_tail: u32, tail: u32, capacity: u32) -> bool {
    tail.wrapping_sub(last_tail) <= head.wrapping_add(capacity).wrapping_sub(last_tail)
}

/// The producer's private state.
#[derive(Debug)]
pub(crate) struct ProdState {
    /// Authoritative tail; the header copy is only ever written from this.
    tail: u32,
    /// Last head read from the consumer (already checked).
    last_head: u32,
    mask: u32,
    poisoned: bool,
}

impl ProdState {
    /// Attaches to a header (read once: our own `tail`, the peer's `head`).
    pub(crate) fn attach(hdr: &RingHeader, capacity: usize) -> Result<Self, RingError> {
        let mask = capacity_mask(capacity)?;
        let tail = hdr.tail.load(Ordering::Relaxed);
        let head = hdr.head.load(Ordering::Acquire);
        if tail.wrapping_sub(head) > mask + 1 {
            return Err(RingError::Corrupt);
        }
        Ok(ProdState {
            tail,
            last_head: head,
            mask,
            poisoned: false,
        })
    }

    pub(crate) fn capacity(&self) -> u32 {
        self.mask + 1
    }

    /// Reads and checks the consumer's `head`; returns the items in flight.
    fn used(&mut self, hdr: &RingHeader) -> Result<u32, RingError> {
        if self.poisoned {
            return Err(RingError::Corrupt);
        }
        // Acquire: the consumer's reads of the slots it released happen
        // before our next overwrite of them.
        let head = hdr.head.load(Ordering::Acquire);
        if !head_is_possible(self.tail, self.last_head, head) {
            self.poisoned = true;
            return Err(RingError::Corrupt);
        }
        self.last_head = head;
        Ok(self.tail.wrapping_sub(head))
    }

    /// Free slots right now.
    pub(crate) fn free(&mut self, hdr: &RingHeader) -> Result<u32, RingError> {
        Ok(self.capacity() - self.used(hdr)?)
    }

    /// The slot index to write next, if the ring has room.
    pub(crate) fn reserve(&mut self, hdr: &RingHeader) -> Result<usize, RingError> {
        if self.used(hdr)? == self.capacity() {
            return Err(RingError::Full);
        }
        Ok((self.tail & self.mask) as usize)
    }

    /// Publishes the slot written since `reserve`.
    pub(crate) fn publish(&mut self, hdr: &RingHeader) {
        self.tail = self.tail.wrapping_add(1);
        // Release: the slot write above is visible to a consumer that reads
        // this tail with Acquire.
        hdr.tail.store(self.tail, Ordering::Release);
    }

    /// Steps P2–P4: whether the consumer asked to be woken; if so, clears
    /// its request and the caller must notify (P5).
    pub(crate) fn needs_signal(&self, hdr: &RingHeader) -> bool {
        if self.poisoned {
            return false;
        }
        // P2: orders our earlier tail store before the flag load against
        // the consumer's C1/C2/C3.
        fence(Ordering::SeqCst);
        // P3: did the consumer ask?
        if hdr.consumer_wants_signal.load(Ordering::Relaxed) == 0 {
            return false;
        }
        // P4: withdraw the request we are about to answer (see the module
        // docs for why a plain store is enough).
        hdr.consumer_wants_signal.store(0, Ordering::Relaxed);
        true
    }

    /// Mirror of C1–C3 for a full ring: asks the consumer to notify us when
    /// it frees a slot. `Ok(true)`: still full, the caller may sleep;
    /// `Ok(false)`: room appeared, request withdrawn, push again.
    pub(crate) fn request_signal(&mut self, hdr: &RingHeader) -> Result<bool, RingError> {
        if self.poisoned {
            return Err(RingError::Corrupt);
        }
        // C1 (mirrored).
        hdr.producer_wants_signal.store(1, Ordering::Relaxed);
        // C2: orders the flag store before the head re-read against the
        // consumer's release-then-fence-then-flag-check.
        fence(Ordering::SeqCst);
        // C3: re-check after announcing, so a slot freed between our failed
        // push and the flag store is not slept through.
        if self.used(hdr)? < self.capacity() {
            hdr.producer_wants_signal.store(0, Ordering::Relaxed);
            return Ok(false);
        }
        Ok(true)
    }
}

/// The consumer's private state.
#[derive(Debug)]
pub(crate) struct ConsState {
    /// Authoritative head; the header copy is only ever written from this.
    head: u32,
    /// Last tail read from the producer (already checked).
    last_tail: u32,
    mask: u32,
    poisoned: bool,
}

impl ConsState {
    /// Attaches to a header (read once: our own `head`, the peer's `tail`).
    pub(crate) fn attach(hdr: &RingHeader, capacity: usize) -> Result<Self, RingError> {
        let mask = capacity_mask(capacity)?;
        let head = hdr.head.load(Ordering::Relaxed);
        let tail = hdr.tail.load(Ordering::Acquire);
        if tail.wrapping_sub(head) > mask + 1 {
            return Err(RingError::Corrupt);
        }
        Ok(ConsState {
            head,
            last_tail: tail,
            mask,
            poisoned: false,
        })
    }

    pub(crate) fn capacity(&self) -> u32 {
        self.mask + 1
    }

    /// Reads and checks the producer's `tail`; returns the items available.
    pub(crate) fn available(&mut self, hdr: &RingHeader) -> Result<u32, RingError> {
        if self.poisoned {
            return Err(RingError::Corrupt);
        }
        // Acquire: the producer's slot writes before this tail are visible.
        let tail = hdr.tail.load(Ordering::Acquire);
        if !tail_is_possible(self.head, self.last_tail, tail, self.capacity()) {
            self.poisoned = true;
            return Err(RingError::Corrupt);
        }
        self.last_tail = tail;
        Ok(tail.wrapping_sub(self.head))
    }

    /// The slot index to read next, if an item is available.
    pub(crate) fn reserve(&mut self, hdr: &RingHeader) -> Result<usize, RingError> {
        if self.available(hdr)? == 0 {
            return Err(RingError::Empty);
        }
        Ok((self.head & self.mask) as usize)
    }

    /// Hands the slot read since `reserve` back to the producer.
    pub(crate) fn release(&mut self, hdr: &RingHeader) {
        self.head = self.head.wrapping_add(1);
        // Release: our read of the slot happens before the producer, having
        // read this head with Acquire, overwrites it.
        hdr.head.store(self.head, Ordering::Release);
    }

    /// Mirror of P2–P4: whether the producer asked to be woken (it found
    /// the ring full); if so, clears its request and the caller notifies.
    pub(crate) fn needs_signal(&self, hdr: &RingHeader) -> bool {
        if self.poisoned {
            return false;
        }
        // Orders our earlier head store before the flag load.
        fence(Ordering::SeqCst);
        if hdr.producer_wants_signal.load(Ordering::Relaxed) == 0 {
            return false;
        }
        hdr.producer_wants_signal.store(0, Ordering::Relaxed);
        true
    }

    /// Steps C1–C3 for an empty ring. `Ok(true)`: still empty, the caller
    /// may sleep until notified; `Ok(false)`: an item arrived, request
    /// withdrawn, pop again.
    pub(crate) fn request_signal(&mut self, hdr: &RingHeader) -> Result<bool, RingError> {
        if self.poisoned {
            return Err(RingError::Corrupt);
        }
        // C1: announce that we are about to sleep.
        hdr.consumer_wants_signal.store(1, Ordering::Relaxed);
        // C2: orders the flag store before the tail re-read against the
        // producer's P1/P2/P3.
        fence(Ordering::SeqCst);
        // C3: re-check after announcing; an item published between our
        // failed pop and C1 is seen here instead of being slept through.
        if self.available(hdr)? > 0 {
            hdr.consumer_wants_signal.store(0, Ordering::Relaxed);
            return Ok(false);
        }
        Ok(true)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn capacity_rules() {
        assert_eq!(capacity_mask(0), Err(RingError::BadCapacity));
        assert_eq!(capacity_mask(3), Err(RingError::BadCapacity));
        assert_eq!(capacity_mask(1), Ok(0));
        assert_eq!(capacity_mask(64), Ok(63));
        assert_eq!(capacity_mask(1 << 31), Ok((1 << 31) - 1));
        #[cfg(target_pointer_width = "64")]
        assert_eq!(capacity_mask(1 << 32), Err(RingError::BadCapacity));
    }

    /// Exhaustive over every (last_head, tail, head) near zero and near the
    /// u32 wrap: the producer believes exactly the heads in
    /// `last_head..=tail`.
    #[test]
    fn head_check_is_exact() {
        let cap = 4u32;
        for base in [0u32, u32::MAX - 5, 1 << 31] {
            for lh_off in 0..8u32 {
                let last_head = base.wrapping_add(lh_off);
                for used in 0..=cap {
                    let tail = last_head.wrapping_add(used);
                    for d in -12i64..=12 {
                        let head = (i64::from(last_head) + d).rem_euclid(1 << 32) as u32;
                        let want = (0..=i64::from(used)).contains(&d);
                        assert_eq!(
                            head_is_possible(tail, last_head, head),
                            want,
                            "tail={tail} last_head={last_head} head={head}"
                        );
                    }
                }
            }
        }
    }

    /// Exhaustive likewise: the consumer believes exactly the tails in
    /// `last_tail..=head + capacity`.
    #[test]
    fn tail_check_is_exact() {
        let cap = 4u32;
        for base in [0u32, u32::MAX - 5, 1 << 31] {
            for h_off in 0..8u32 {
                let head = base.wrapping_add(h_off);
                for avail in 0..=cap {
                    let last_tail = head.wrapping_add(avail);
                    for d in -12i64..=12 {
                        let tail = (i64::from(last_tail) + d).rem_euclid(1 << 32) as u32;
                        let want = (0..=i64::from(cap - avail)).contains(&d);
                        assert_eq!(
                            tail_is_possible(head, last_tail, tail, cap),
                            want,
                            "head={head} last_tail={last_tail} tail={tail}"
                        );
                    }
                }
            }
        }
    }
}
