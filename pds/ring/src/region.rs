//! A byte-message queue over one shared memory region, in sDDF's buffer
//! discipline: an *active* ring carries [`Descriptor`]s of filled buffers
//! from sender to receiver, a *free* ring hands the buffers back, and
//! ownership of a buffer moves only with its descriptor. This is what two
//! seL4 protection domains map (read/write, one region per direction).
//!
//! Layout (all offsets from the region base, which must be 64-byte aligned):
//!
//! ```text
//! 0                 active RingHeader (128 B)
//! 128               free RingHeader (128 B)
//! 256               active slots: SLOTS × Descriptor
//! 256 + 16·SLOTS    free slots:   SLOTS × Descriptor
//! data_offset       SLOTS buffers of buffer_size bytes (64-byte multiples)
//! ```
//!
//! Zeroed memory is a valid, empty queue: the sender owns every buffer it
//! has never used, so no start-up handshake is needed.
//!
//! Must never: hand a buffer to the peer and keep using it, trust a
//! descriptor without checking it names a whole buffer inside the data area
//! (an impossible one stops the queue with [`RingError::Corrupt`]), or form
//! a Rust reference to bytes the peer may write.

use crate::error::RingError;
use crate::header::{RingHeader, HEADER_SIZE};
use crate::spsc::{Consumer, Descriptor, Producer, Slot};

/// Slots in each ring of a queue, and buffers in its data area.
pub const SLOTS: usize = 64;

/// Where the parts of a queue sit in a region of a given size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RegionLayout {
    /// Offset of the first data buffer.
    pub data_offset: usize,
    /// Bytes per buffer: the largest message the queue carries.
    pub buffer_size: usize,
}

impl RegionLayout {
    /// The layout of a queue in `region_size` bytes, or `None` if it is too
    /// small to hold the rings and one 64-byte buffer per slot.
    pub const fn new(region_size: usize) -> Option<RegionLayout> {
        let data_offset = 2 * HEADER_SIZE + 2 * SLOTS * core::mem::size_of::<Descriptor>();
        if region_size < data_offset + SLOTS * 64 {
            return None;
        }
        let buffer_size = (region_size - data_offset) / SLOTS / 64 * 64;
        Some(RegionLayout {
            data_offset,
            buffer_size,
        })
    }
}

/// The two rings of a queue, viewed from one side.
struct Rings<'a> {
    active: &'a RingHeader,
    free: &'a RingHeader,
    active_slots: &'a [Slot<Descriptor>],
    free_slots: &'a [Slot<Descriptor>],
}

/// # Safety
/// As [`MessageSender::attach`].
unsafe fn rings<'a>(base: *mut u8) -> Rings<'a> {
    let slots = |i: usize| {
        let at = 2 * HEADER_SIZE + i * SLOTS * core::mem::size_of::<Descriptor>();
        // SAFETY: inside the region, aligned (offsets are multiples of 16).
        unsafe { Slot::from_raw_parts(base.add(at).cast::<Descriptor>(), SLOTS) }
    };
    // SAFETY: the caller guarantees a live, 64-aligned region; the headers
    // sit at offsets 0 and 128.
    unsafe {
        Rings {
            active: RingHeader::from_ptr(base.cast()),
            free: RingHeader::from_ptr(base.add(HEADER_SIZE).cast()),
            active_slots: slots(0),
            free_slots: slots(1),
        }
    }
}

/// Checks that a descriptor from the peer names one whole buffer.
fn check(layout: &RegionLayout, d: &Descriptor) -> Result<usize, RingError> {
    let offset = usize::try_from(d.offset).map_err(|_| RingError::Corrupt)?;
    let rel = offset.checked_sub(layout.data_offset).ok_or(RingError::Corrupt)?;
    if rel % layout.buffer_size != 0 || rel / layout.buffer_size >= SLOTS || d.len as usize > layout.buffer_size {
        return Err(RingError::Corrupt);
    }
    Ok(offset)
}

/// The sending end: copies each message into a buffer it owns and passes
/// the buffer to the receiver.
pub struct MessageSender<'a> {
    base: *mut u8,
    layout: RegionLayout,
    active: Producer<'a, Descriptor>,
    free: Consumer<'a, Descriptor>,
    /// Buffers `fresh..SLOTS` have never been sent and are ours.
    fresh: usize,
    dead: bool,
}

impl<'a> MessageSender<'a> {
    /// Attaches the sending side to the queue in `base..base + region_size`.
    ///
    /// # Safety
    /// The region must be valid for reads and writes for `'a`, 64-byte
    /// aligned, zeroed or left by earlier ends of this same protocol, and
    /// used during `'a` only by this sender and one [`MessageReceiver`].
    pub unsafe fn attach(base: *mut u8, region_size: usize) -> Result<Self, RingError> {
        let layout = RegionLayout::new(region_size).ok_or(RingError::BadCapacity)?;
        // SAFETY: forwarded from the caller.
        let r = unsafe { rings(base) };
        Ok(MessageSender {
            base,
            layout,
            // SAFETY: we are the only producer of `active` and the only
            // consumer of `free`.
            active: unsafe { Producer::new(r.active, r.active_slots)? },
            free: unsafe { Consumer::new(r.free, r.free_slots)? },
            fresh: 0,
            dead: false,
        })
    }

    /// The largest message [`MessageSender::send`] accepts.
    pub fn max_len(&self) -> usize {
        self.layout.buffer_size
    }

    /// Sends `message` with an opaque `tag`: [`RingError::Full`] if every
    /// buffer is with the receiver, [`RingError::TooLong`] if `message` is longer
    /// than [`MessageSender::max_len`].
    /// Afterwards call [`MessageSender::needs_signal`].
    pub fn send(&mut self, message: &[u8], tag: u32) -> Result<(), RingError> {
        if self.dead {
            return Err(RingError::Corrupt);
        }
        if message.len() > self.layout.buffer_size {
            return Err(RingError::TooLong);
        }
        let offset = match self.free.try_pop() {
            Ok(d) => check(&self.layout, &d).inspect_err(|_| self.dead = true)?,
            Err(RingError::Empty) if self.fresh < SLOTS => {
                self.fresh += 1;
                self.layout.data_offset + (self.fresh - 1) * self.layout.buffer_size
            }
            Err(RingError::Empty) => return Err(RingError::Full),
            Err(e) => return Err(e),
        };
        // SAFETY: the buffer at `offset` is ours (fresh or handed back) and
        // lies inside the region (`check`).
        unsafe { core::ptr::copy_nonoverlapping(message.as_ptr(), self.base.add(offset), message.len()) };
        let d = Descriptor {
            offset: offset as u64,
            len: message.len() as u32,
            tag,
        };
        self.active.try_push(d).inspect_err(|_| self.dead = true)
    }

    /// Whether [`MessageSender::send`] would find a buffer now: one never
    /// sent, or one the receiver handed back. Lets a caller that cannot
    /// keep a message (smoltcp's transmit token) decline before building it.
    pub fn has_room(&mut self) -> bool {
        !self.dead && (self.fresh < SLOTS || self.free.available().is_ok_and(|n| n > 0))
    }

    /// Whether the receiver sleeps on an empty queue: `true` obliges the
    /// caller to notify it once.
    pub fn needs_signal(&mut self) -> bool {
        self.active.needs_signal()
    }

    /// Before sleeping because [`MessageSender::send`] said `Full`: asks the
    /// receiver to notify when it hands a buffer back. `Ok(false)`: one came
    /// back meanwhile, retry at once.
    pub fn request_signal(&mut self) -> Result<bool, RingError> {
        self.free.request_signal()
    }
}

/// The receiving end: copies each message out and hands its buffer back.
pub struct MessageReceiver<'a> {
    base: *mut u8,
    layout: RegionLayout,
    active: Consumer<'a, Descriptor>,
    free: Producer<'a, Descriptor>,
    dead: bool,
}

impl<'a> MessageReceiver<'a> {
    /// Attaches the receiving side.
    ///
    /// # Safety
    /// As [`MessageSender::attach`], with the roles swapped.
    pub unsafe fn attach(base: *mut u8, region_size: usize) -> Result<Self, RingError> {
        let layout = RegionLayout::new(region_size).ok_or(RingError::BadCapacity)?;
        // SAFETY: forwarded from the caller.
        let r = unsafe { rings(base) };
        Ok(MessageReceiver {
            base,
            layout,
            // SAFETY: we are the only consumer of `active` and the only
            // producer of `free`.
            active: unsafe { Consumer::new(r.active, r.active_slots)? },
            free: unsafe { Producer::new(r.free, r.free_slots)? },
            dead: false,
        })
    }

    /// Takes the oldest message: copies it into `out` (which must hold
    /// [`RegionLayout::buffer_size`] bytes, or the message is cut there),
    /// hands the buffer back and returns `(len, tag)`. [`RingError::Empty`]
    /// if there is none; [`RingError::Corrupt`] for an impossible descriptor.
    /// Afterwards call [`MessageReceiver::needs_signal`].
    pub fn recv(&mut self, out: &mut [u8]) -> Result<(usize, u32), RingError> {
        if self.dead {
            return Err(RingError::Corrupt);
        }
        let d = self.active.try_pop()?;
        let offset = check(&self.layout, &d).inspect_err(|_| self.dead = true)?;
        let len = (d.len as usize).min(out.len());
        // SAFETY: the sender handed us this buffer (checked to be inside the
        // region) and does not write it until we give it back below.
        unsafe { core::ptr::copy_nonoverlapping(self.base.add(offset), out.as_mut_ptr(), len) };
        // The free ring has as many slots as there are buffers: never full.
        self.free.try_push(d).inspect_err(|_| self.dead = true)?;
        Ok((len, d.tag))
    }

    /// Whether the sender sleeps waiting for a buffer: `true` obliges the
    /// caller to notify it once.
    pub fn needs_signal(&mut self) -> bool {
        self.free.needs_signal()
    }

    /// Before sleeping on an empty queue. `Ok(false)`: a message arrived
    /// meanwhile, receive again before sleeping.
    pub fn request_signal(&mut self) -> Result<bool, RingError> {
        self.active.request_signal()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[repr(C, align(64))]
    struct Region([u8; 16384]);

    #[test]
    fn messages_and_buffers_round_trip() {
        let mut region = alloc::boxed::Box::new(Region([0; 16384]));
        let base = region.0.as_mut_ptr();
        let layout = RegionLayout::new(16384).unwrap();
        assert_eq!(layout.buffer_size, 192);
        let mut tx = unsafe { MessageSender::attach(base, 16384) }.unwrap();
        let mut rx = unsafe { MessageReceiver::attach(base, 16384) }.unwrap();
        let mut out = vec![0u8; layout.buffer_size];
        assert_eq!(rx.recv(&mut out), Err(RingError::Empty));
        assert_eq!(rx.request_signal(), Ok(true));
        // Three times the buffer count: buffers must come back through the free ring.
        for i in 0..3 * SLOTS as u32 {
            let msg = alloc::format!("message {i}");
            tx.send(msg.as_bytes(), i).unwrap();
            assert_eq!(tx.needs_signal(), i == 0, "only the first send wakes the sleeper");
            let (len, tag) = rx.recv(&mut out).unwrap();
            assert_eq!((&out[..len], tag), (msg.as_bytes(), i));
        }
        assert_eq!(tx.send(&[0; 193], 0), Err(RingError::TooLong));
    }

    #[test]
    fn full_then_refilled_and_corrupt_descriptor_stops() {
        let mut region = alloc::boxed::Box::new(Region([0; 16384]));
        let base = region.0.as_mut_ptr();
        let mut tx = unsafe { MessageSender::attach(base, 16384) }.unwrap();
        let mut rx = unsafe { MessageReceiver::attach(base, 16384) }.unwrap();
        for _ in 0..SLOTS {
            assert!(tx.has_room());
            tx.send(b"x", 0).unwrap();
        }
        assert!(!tx.has_room(), "every buffer is with the receiver");
        assert_eq!(tx.send(b"x", 0), Err(RingError::Full));
        assert_eq!(tx.request_signal(), Ok(true));
        let mut out = [0u8; 8];
        rx.recv(&mut out).unwrap();
        assert!(tx.has_room(), "a buffer came back");
        assert!(rx.needs_signal(), "the sender asked for a buffer");
        tx.send(b"y", 0).unwrap();
        // A forged descriptor pointing outside the data area.
        let r = unsafe { rings(base) };
        let mut forger = unsafe { Producer::new(r.active, r.active_slots) }.unwrap();
        let mut rx = unsafe { MessageReceiver::attach(base, 16384) }.unwrap();
        while rx.recv(&mut out).is_ok() {}
        forger
            .try_push(Descriptor {
                offset: 8,
                len: 1,
                tag: 0,
            })
            .unwrap();
        assert_eq!(rx.recv(&mut out), Err(RingError::Corrupt));
        assert_eq!(rx.recv(&mut out), Err(RingError::Corrupt), "stays stopped");
    }
}
