//! Unit and stress tests of the real ring code: FIFO across the `u32` wrap,
//! full/empty, the signal flags, exhaustive corrupt-index handling, the
//! owned ring's moves and drops, and two-thread runs of a million items
//! (spinning on the shared-memory ring, parking on the owned ring).
//!
//! Must never: sleep for timing or rely on a scheduler's luck to pass;
//! every wait here is the ring's own signal protocol or a bounded spin.

use std::boxed::Box;
use std::format;
use std::sync::atomic::{AtomicUsize, Ordering as StdOrdering};
use std::sync::Arc as StdArc;
use std::thread;
use std::vec::Vec;

use crate::sync::Ordering;
use crate::*;

fn slots<T: Copy + Default, const N: usize>() -> [Slot<T>; N] {
    core::array::from_fn(|_| Slot::default())
}

fn desc(i: u64) -> Descriptor {
    Descriptor {
        offset: i * 4096,
        len: (i % 4096) as u32,
        tag: i as u32 ^ 0xdead_beef,
    }
}

#[test]
fn fifo_across_index_wrap() {
    for start in [0u32, u32::MAX - 5, u32::MAX, 1 << 31] {
        let mut h = RingHeader::new();
        h.tail.store(start, Ordering::Relaxed);
        h.head.store(start, Ordering::Relaxed);
        let mut s = slots::<Descriptor, 4>();
        let (mut p, mut c) = split(&mut h, &mut s).unwrap();
        assert_eq!(p.capacity(), 4);
        assert_eq!(c.capacity(), 4);
        let mut next_in = 0u64;
        let mut next_out = 0u64;
        for round in 0..50u64 {
            let n = round % 5;
            for _ in 0..n {
                match p.try_push(desc(next_in)) {
                    Ok(()) => next_in += 1,
                    Err(e) => {
                        assert_eq!(e, RingError::Full);
                        assert_eq!(next_in - next_out, 4);
                    }
                }
            }
            assert_eq!(c.available().unwrap() as u64, next_in - next_out);
            assert_eq!(p.free_slots().unwrap() as u64, 4 - (next_in - next_out));
            for _ in 0..(round % 3) {
                match c.try_pop() {
                    Ok(d) => {
                        assert_eq!(d, desc(next_out));
                        next_out += 1;
                    }
                    Err(e) => {
                        assert_eq!(e, RingError::Empty);
                        assert_eq!(next_in, next_out);
                    }
                }
            }
        }
        while let Ok(d) = c.try_pop() {
            assert_eq!(d, desc(next_out));
            next_out += 1;
        }
        assert_eq!(next_in, next_out);
        assert!(next_in > 20);
    }
}

#[test]
fn full_and_empty() {
    let mut h = RingHeader::new();
    let mut s = slots::<u32, 2>();
    let (mut p, mut c) = split(&mut h, &mut s).unwrap();
    assert_eq!(c.try_pop(), Err(RingError::Empty));
    p.try_push(1).unwrap();
    p.try_push(2).unwrap();
    assert_eq!(p.try_push(3), Err(RingError::Full));
    assert_eq!(c.try_pop(), Ok(1));
    p.try_push(3).unwrap();
    assert_eq!(c.try_pop(), Ok(2));
    assert_eq!(c.try_pop(), Ok(3));
    assert_eq!(c.try_pop(), Err(RingError::Empty));
}

#[test]
fn capacity_one_works() {
    let mut h = RingHeader::new();
    let mut s = slots::<u8, 1>();
    let (mut p, mut c) = split(&mut h, &mut s).unwrap();
    for i in 0..10 {
        p.try_push(i).unwrap();
        assert_eq!(p.try_push(99), Err(RingError::Full));
        assert_eq!(c.try_pop(), Ok(i));
    }
}

#[test]
fn bad_capacity() {
    let mut h = RingHeader::new();
    let mut s: [Slot<u8>; 3] = slots();
    assert_eq!(split(&mut h, &mut s).unwrap_err(), RingError::BadCapacity);
    let mut s: [Slot<u8>; 0] = [];
    assert_eq!(split(&mut h, &mut s).unwrap_err(), RingError::BadCapacity);
    assert_eq!(channel::<u8>(6).unwrap_err(), RingError::BadCapacity);
    assert_eq!(channel::<u8>(0).unwrap_err(), RingError::BadCapacity);
}

#[test]
fn consumer_signal_protocol() {
    let mut h = RingHeader::new();
    let mut s = slots::<u32, 4>();
    let (mut p, mut c) = split(&mut h, &mut s).unwrap();
    // Nobody asked: no notification.
    p.try_push(1).unwrap();
    assert!(!p.needs_signal());
    // Items present: the request is withdrawn at once.
    assert_eq!(c.request_signal(), Ok(false));
    assert!(!p.needs_signal());
    assert_eq!(c.try_pop(), Ok(1));
    // Empty: the request stands, and the next publish answers it once.
    assert_eq!(c.request_signal(), Ok(true));
    p.try_push(2).unwrap();
    assert!(p.needs_signal());
    assert!(!p.needs_signal());
    p.try_push(3).unwrap();
    assert!(!p.needs_signal());
}

#[test]
fn producer_signal_protocol() {
    let mut h = RingHeader::new();
    let mut s = slots::<u32, 2>();
    let (mut p, mut c) = split(&mut h, &mut s).unwrap();
    p.try_push(1).unwrap();
    assert_eq!(p.request_signal(), Ok(false), "not full: do not sleep");
    assert!(!c.needs_signal());
    p.try_push(2).unwrap();
    assert_eq!(p.request_signal(), Ok(true), "full: sleep");
    assert_eq!(c.try_pop(), Ok(1));
    assert!(c.needs_signal());
    assert!(!c.needs_signal());
}

/// What happens when the consumer publishes `head` (producer's view):
/// for every ring state of a capacity-4 ring and every `head` in a window
/// around it, the producer accepts exactly the possible heads and, having
/// seen an impossible one, refuses everything for good without writing a
/// slot.
#[test]
fn producer_detects_every_impossible_head() {
    const CAP: u32 = 4;
    for base in [0u32, u32::MAX - 2, 1 << 31] {
        for used in 0..=CAP {
            for d in -10i64..=10 {
                let mut h = RingHeader::new();
                let head0 = base;
                let tail = base.wrapping_add(used);
                h.head.store(head0, Ordering::Relaxed);
                h.tail.store(tail, Ordering::Relaxed);
                let mut s = slots::<u32, 4>();
                for slot in s.iter_mut() {
                    *slot.get_mut() = 0x5151;
                }
                let (mut p, _c) = split(&mut h, &mut s).unwrap();
                let bogus = (i64::from(head0) + d).rem_euclid(1 << 32) as u32;
                p.header.head.store(bogus, Ordering::Relaxed);
                let possible = (0..=i64::from(used)).contains(&d);
                let r = p.try_push(7);
                if possible {
                    let free = CAP - (used - d as u32);
                    assert_eq!(r.is_ok(), free > 0, "used={used} d={d}");
                    if free == 0 {
                        assert_eq!(r, Err(RingError::Full));
                    }
                } else {
                    assert_eq!(r, Err(RingError::Corrupt), "used={used} d={d}");
                    // Poisoned for good, even if the index is repaired.
                    p.header.head.store(head0, Ordering::Relaxed);
                    assert_eq!(p.try_push(8), Err(RingError::Corrupt));
                    assert_eq!(p.free_slots(), Err(RingError::Corrupt));
                    assert_eq!(p.request_signal(), Err(RingError::Corrupt));
                    p.header.consumer_wants_signal.store(1, Ordering::Relaxed);
                    assert!(!p.needs_signal());
                    // Nothing was written and tail was not moved.
                    assert_eq!(p.header.tail.load(Ordering::Relaxed), tail);
                    assert!(p.slots.iter().all(|s| s.0.with(|v| unsafe { *v }) == 0x5151));
                }
            }
        }
    }
}

/// The consumer's mirror image: it accepts exactly the tails in
/// `last_tail..=head + capacity` and never reads a slot otherwise.
#[test]
fn consumer_detects_every_impossible_tail() {
    const CAP: u32 = 4;
    for base in [0u32, u32::MAX - 2, 1 << 31] {
        for avail in 0..=CAP {
            for d in -10i64..=10 {
                let mut h = RingHeader::new();
                let head = base;
                let tail0 = base.wrapping_add(avail);
                h.head.store(head, Ordering::Relaxed);
                h.tail.store(tail0, Ordering::Relaxed);
                let mut s = slots::<u32, 4>();
                let (_p, mut c) = split(&mut h, &mut s).unwrap();
                let bogus = (i64::from(tail0) + d).rem_euclid(1 << 32) as u32;
                c.header.tail.store(bogus, Ordering::Relaxed);
                let possible = (0..=i64::from(CAP - avail)).contains(&d);
                let r = c.try_pop();
                if possible {
                    let n = avail as i64 + d;
                    assert_eq!(r.is_ok(), n > 0, "avail={avail} d={d}");
                    if n == 0 {
                        assert_eq!(r, Err(RingError::Empty));
                    }
                } else {
                    assert_eq!(r, Err(RingError::Corrupt), "avail={avail} d={d}");
                    c.header.tail.store(tail0, Ordering::Relaxed);
                    assert_eq!(c.try_pop(), Err(RingError::Corrupt));
                    assert_eq!(c.available(), Err(RingError::Corrupt));
                    assert_eq!(c.request_signal(), Err(RingError::Corrupt));
                    c.header.producer_wants_signal.store(1, Ordering::Relaxed);
                    assert!(!c.needs_signal());
                    assert_eq!(c.header.head.load(Ordering::Relaxed), head);
                }
            }
        }
    }
}

#[test]
fn attach_refuses_an_impossible_header() {
    let mut h = RingHeader::new();
    h.tail.store(5, Ordering::Relaxed);
    let mut s = slots::<u32, 4>();
    assert_eq!(split(&mut h, &mut s).unwrap_err(), RingError::Corrupt);
    let mut h = RingHeader::new();
    h.head.store(1, Ordering::Relaxed);
    assert_eq!(split(&mut h, &mut s).unwrap_err(), RingError::Corrupt);
    // Exactly full is fine.
    let mut h = RingHeader::new();
    h.tail.store(4, Ordering::Relaxed);
    let (_, mut c) = split(&mut h, &mut s).unwrap();
    assert_eq!(c.available(), Ok(4));
}

#[test]
fn error_codes_and_display() {
    for (e, code) in [
        (RingError::Full, "full"),
        (RingError::Empty, "empty"),
        (RingError::Corrupt, "corrupt"),
        (RingError::BadCapacity, "bad_capacity"),
        (RingError::TooLong, "too_long"),
    ] {
        assert_eq!(e.code(), code);
        assert!(format!("{e}").starts_with(code));
    }
}

#[test]
fn layouts_are_fixed() {
    assert_eq!(core::mem::size_of::<RingHeader>(), HEADER_SIZE);
    assert_eq!(core::mem::size_of::<Descriptor>(), 16);
    assert_eq!(core::mem::size_of::<Slot<Descriptor>>(), 16);
    assert_eq!(core::mem::align_of::<Slot<Descriptor>>(), 8);
}

/// The shared-memory path: header and slots carved out of one raw,
/// zeroed region, as a protection domain would see its mapping.
#[test]
fn raw_shared_memory_region() {
    #[repr(C, align(64))]
    struct Region([u8; HEADER_SIZE + 8 * 16]);
    let mut region = Box::new(Region([0; HEADER_SIZE + 8 * 16]));
    let base = region.0.as_mut_ptr();
    // SAFETY: the region is zeroed, 64-byte aligned, large enough, and
    // only used through the two ends below.
    let (header, ring_slots) = unsafe {
        (
            RingHeader::from_ptr(base.cast::<RingHeader>()),
            Slot::from_raw_parts(base.add(HEADER_SIZE).cast::<Descriptor>(), 8),
        )
    };
    // SAFETY: one producer and one consumer.
    let mut p = unsafe { Producer::new(header, ring_slots) }.unwrap();
    let mut c = unsafe { Consumer::new(header, ring_slots) }.unwrap();
    for i in 0..20 {
        p.try_push(desc(i)).unwrap();
        assert_eq!(c.try_pop(), Ok(desc(i)));
    }
    // The published indices sit at the documented offsets.
    let tail = u32::from_ne_bytes(region.0[TAIL_OFFSET..TAIL_OFFSET + 4].try_into().unwrap());
    let head = u32::from_ne_bytes(region.0[HEAD_OFFSET..HEAD_OFFSET + 4].try_into().unwrap());
    assert_eq!((tail, head), (20, 20));
}

// ------------------------------------------------------------ owned ring

/// Counts drops, to prove every value is dropped exactly once.
struct Tracked {
    id: u64,
    drops: StdArc<AtomicUsize>,
    _payload: Vec<u8>,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.drops.fetch_add(1, StdOrdering::SeqCst);
    }
}

#[test]
fn owned_ring_moves_values_and_drops_leftovers() {
    let drops = StdArc::new(AtomicUsize::new(0));
    let make = |id| Tracked {
        id,
        drops: drops.clone(),
        _payload: std::vec![id as u8; 3],
    };
    let (mut tx, mut rx) = channel::<Tracked>(4).unwrap();
    assert_eq!(tx.capacity(), 4);
    for id in 0..4 {
        tx.try_push(make(id)).unwrap();
    }
    let back = tx.try_push(make(99)).unwrap_err();
    assert_eq!(back.error, RingError::Full);
    assert_eq!(back.value.id, 99);
    drop(back);
    assert_eq!(drops.load(StdOrdering::SeqCst), 1);
    assert_eq!(rx.len(), 4);
    assert_eq!(rx.try_pop().unwrap().id, 0);
    assert_eq!(rx.try_pop().unwrap().id, 1);
    assert_eq!(drops.load(StdOrdering::SeqCst), 3);
    // Wrap around with leftovers in the ring.
    tx.try_push(make(4)).unwrap();
    tx.try_push(make(5)).unwrap();
    assert!(!tx.is_receiver_dropped());
    drop(rx);
    assert!(tx.is_receiver_dropped());
    assert_eq!(drops.load(StdOrdering::SeqCst), 3, "leftovers live until the ring goes");
    drop(tx);
    assert_eq!(drops.load(StdOrdering::SeqCst), 7, "ids 2..=5 dropped with the ring");
}

#[test]
fn owned_ring_signal_flags() {
    let (mut tx, mut rx) = channel::<Box<u32>>(1).unwrap();
    assert!(rx.is_empty());
    assert!(rx.request_signal());
    tx.try_push(Box::new(1)).unwrap();
    assert!(tx.needs_signal());
    assert!(tx.request_signal(), "full");
    assert_eq!(*rx.try_pop().unwrap(), 1);
    assert!(rx.needs_signal());
    assert!(!tx.request_signal(), "room again");
    assert_eq!(rx.try_pop().unwrap_err(), RingError::Empty);
    drop(tx);
    assert!(rx.is_sender_dropped());
}

// ------------------------------------------------------------ stress

const STRESS_ITEMS: u64 = 1_000_000;

/// Two threads, a small shared-memory-style ring, a million descriptors,
/// spinning (with `yield_now`) on full/empty.
#[test]
fn stress_shared_ring_two_threads_spinning() {
    let mut h = RingHeader::new();
    let mut s = slots::<Descriptor, 64>();
    let (mut p, mut c) = split(&mut h, &mut s).unwrap();
    thread::scope(|scope| {
        scope.spawn(move || {
            for i in 0..STRESS_ITEMS {
                loop {
                    match p.try_push(desc(i)) {
                        Ok(()) => break,
                        Err(RingError::Full) => thread::yield_now(),
                        Err(e) => panic!("{e}"),
                    }
                }
            }
        });
        let mut next = 0u64;
        while next < STRESS_ITEMS {
            match c.try_pop() {
                Ok(d) => {
                    assert_eq!(d, desc(next));
                    next += 1;
                }
                Err(RingError::Empty) => thread::yield_now(),
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(c.try_pop(), Err(RingError::Empty));
    });
}

/// Two threads, an owned ring of boxed values, a million items, and both
/// sides *sleeping* (park/unpark) through the signal flags: a lost wake-up
/// would hang this test.
#[test]
fn stress_owned_ring_two_threads_parking() {
    let (mut tx, mut rx) = channel::<Box<u64>>(16).unwrap();
    let producer_thread = thread::current();
    let parks = StdArc::new(AtomicUsize::new(0));
    let consumer_parks = parks.clone();
    let consumer = thread::spawn(move || {
        let mut next = 0u64;
        while next < STRESS_ITEMS {
            match rx.try_pop() {
                Ok(v) => {
                    assert_eq!(*v, next);
                    next += 1;
                    if rx.needs_signal() {
                        producer_thread.unpark();
                    }
                }
                Err(RingError::Empty) => {
                    if rx.request_signal() {
                        consumer_parks.fetch_add(1, StdOrdering::Relaxed);
                        thread::park();
                    }
                }
                Err(e) => panic!("{e}"),
            }
        }
        next
    });
    let consumer_thread = consumer.thread().clone();
    for i in 0..STRESS_ITEMS {
        let mut v = Box::new(i);
        loop {
            match tx.try_push(v) {
                Ok(()) => break,
                Err(PushError {
                    error: RingError::Full,
                    value,
                }) => {
                    v = value;
                    if tx.request_signal() {
                        parks.fetch_add(1, StdOrdering::Relaxed);
                        thread::park();
                    }
                }
                Err(e) => panic!("{}", e.error),
            }
        }
        if tx.needs_signal() {
            consumer_thread.unpark();
        }
    }
    assert_eq!(consumer.join().unwrap(), STRESS_ITEMS);
}
