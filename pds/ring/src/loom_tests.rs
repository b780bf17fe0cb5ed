//! loom model checks of the real ring code (atomics, fences and slot
//! accesses all go through loom when built with `--cfg loom`): FIFO with no
//! loss or duplication, no lost wake-up when either side sleeps on the
//! signal flags, and the owned ring's moves and drops — under loom's C11
//! memory model, including the SeqCst fences the wake-up protocol needs.
//!
//! Run: `RUSTFLAGS="--cfg loom" cargo test -p ledgerfs-ring --release --lib
//! --target-dir target/loom`.
//!
//! Must never: spin without `loom::thread::yield_now` (loom would explore an
//! unbounded loop), or use a std primitive loom cannot see.

use loom::sync::{Arc, Condvar, Mutex};
use loom::thread;
use std::boxed::Box;
use std::vec::Vec;

use crate::*;

/// A sticky binary notification, like an seL4 notification object or a
/// thread's park token: a signal sent before the wait is not lost.
struct Notification {
    pending: Mutex<bool>,
    cv: Condvar,
}

impl Notification {
    fn new() -> Self {
        Notification {
            pending: Mutex::new(false),
            cv: Condvar::new(),
        }
    }

    fn signal(&self) {
        *self.pending.lock().unwrap() = true;
        self.cv.notify_one();
    }

    fn wait(&self) {
        let mut p = self.pending.lock().unwrap();
        while !*p {
            p = self.cv.wait(p).unwrap();
        }
        *p = false;
    }
}

struct Shared<const N: usize> {
    header: RingHeader,
    slots: [Slot<u32>; N],
    wake_consumer: Notification,
    wake_producer: Notification,
}

impl<const N: usize> Shared<N> {
    fn new() -> Arc<Self> {
        Arc::new(Shared {
            header: RingHeader::new(),
            slots: core::array::from_fn(|_| Slot::new(u32::MAX)),
            wake_consumer: Notification::new(),
            wake_producer: Notification::new(),
        })
    }
}

fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut b = loom::model::Builder::new();
    if b.preemption_bound.is_none() {
        b.preemption_bound = Some(6);
    }
    b.check(f);
}

/// [`model`] with a smaller preemption bound, for models with many steps.
fn model_bounded(bound: usize, f: impl Fn() + Sync + Send + 'static) {
    let mut b = loom::model::Builder::new();
    if b.preemption_bound.is_none() {
        b.preemption_bound = Some(bound);
    }
    b.check(f);
}

/// Producer pushes `items`, sleeping on a full ring if `sleep` (else
/// yielding).
fn produce<const N: usize>(sh: &Shared<N>, items: u32, sleep: bool) {
    // SAFETY: the only producer of this ring.
    let mut p = unsafe { Producer::new(&sh.header, &sh.slots) }.unwrap();
    for i in 0..items {
        loop {
            match p.try_push(i) {
                Ok(()) => break,
                Err(RingError::Full) => {
                    if !sleep {
                        thread::yield_now();
                    } else if p.request_signal().unwrap() {
                        sh.wake_producer.wait();
                    }
                }
                Err(e) => panic!("{e}"),
            }
        }
        if p.needs_signal() {
            sh.wake_consumer.signal();
        }
    }
}

/// Consumer pops `items`, checking order, sleeping on an empty ring if
/// `sleep` (else yielding).
fn consume<const N: usize>(sh: &Shared<N>, items: u32, sleep: bool) {
    // SAFETY: the only consumer of this ring.
    let mut c = unsafe { Consumer::new(&sh.header, &sh.slots) }.unwrap();
    let mut got = Vec::new();
    while (got.len() as u32) < items {
        match c.try_pop() {
            Ok(v) => {
                got.push(v);
                if c.needs_signal() {
                    sh.wake_producer.signal();
                }
            }
            Err(RingError::Empty) => {
                if !sleep {
                    thread::yield_now();
                } else if c.request_signal().unwrap() {
                    sh.wake_consumer.wait();
                }
            }
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(got, (0..items).collect::<Vec<_>>(), "FIFO, no loss, no dup");
    assert_eq!(c.try_pop(), Err(RingError::Empty));
}

#[test]
fn fifo_no_loss_no_duplicate() {
    model(|| {
        let sh = Shared::<2>::new();
        let p = sh.clone();
        let t = thread::spawn(move || produce(&p, 3, false));
        consume(&sh, 3, false);
        t.join().unwrap();
    });
}

#[test]
fn consumer_sleeping_on_empty_is_always_woken() {
    model(|| {
        let sh = Shared::<2>::new();
        let p = sh.clone();
        let t = thread::spawn(move || produce(&p, 2, false));
        consume(&sh, 2, true);
        t.join().unwrap();
    });
}

#[test]
fn producer_sleeping_on_full_is_always_woken() {
    model(|| {
        let sh = Shared::<1>::new();
        let p = sh.clone();
        let t = thread::spawn(move || produce(&p, 2, true));
        consume(&sh, 2, false);
        t.join().unwrap();
    });
}

#[test]
fn both_sides_sleeping() {
    model(|| {
        let sh = Shared::<1>::new();
        let p = sh.clone();
        let t = thread::spawn(move || produce(&p, 2, true));
        consume(&sh, 2, true);
        t.join().unwrap();
    });
}

#[test]
fn owned_ring_moves_boxes_and_drops_leftovers() {
    model(|| {
        let (mut tx, mut rx) = channel::<Box<u32>>(2).unwrap();
        let t = thread::spawn(move || {
            for i in 0..3u32 {
                let mut v = Box::new(i);
                loop {
                    match tx.try_push(v) {
                        Ok(()) => break,
                        Err(e) => {
                            v = e.value;
                            thread::yield_now();
                        }
                    }
                }
            }
        });
        // Take one value, let the sender finish, take one more and drop the
        // receiver with one value left for the ring's Drop. loom checks
        // every slot access against the index protocol (a premature read
        // or overwrite is a reported race) and that the shared `Arc` is
        // freed exactly once.
        let mut got = Vec::new();
        while got.is_empty() {
            match rx.try_pop() {
                Ok(v) => got.push(*v),
                Err(_) => thread::yield_now(),
            }
        }
        t.join().unwrap();
        while let Ok(v) = rx.try_pop() {
            got.push(*v);
            if got.len() == 2 {
                break; // leave one behind for the ring's Drop
            }
        }
        assert_eq!(got, [0, 1]);
        drop(rx);
    });
}

/// The blocking ends (`crate::blocking`), with real park/unpark: every value
/// sent before the sender's drop is received, then `recv` ends; nothing hangs
/// (loom reports a deadlock if any interleaving leaves a thread parked).
#[test]
fn blocking_ring_delivers_everything_then_closes() {
    model_bounded(3, || {
        let (mut tx, mut rx) = crate::blocking::ring::<u32>(1).unwrap();
        let t = thread::spawn(move || {
            for i in 0..2u32 {
                tx.send(i).unwrap();
            }
            // tx dropped here: the close path.
        });
        let mut got = Vec::new();
        while let Some(v) = rx.recv() {
            got.push(v);
        }
        assert_eq!(got, [0, 1]);
        t.join().unwrap();
    });
}

/// A receiver that parks on an empty ring is woken by the sender's drop.
#[test]
fn blocking_receiver_is_woken_by_the_senders_close() {
    model(|| {
        let (tx, mut rx) = crate::blocking::ring::<u32>(2).unwrap();
        let t = thread::spawn(move || drop(tx));
        assert_eq!(rx.recv(), None);
        t.join().unwrap();
    });
}

/// A sender that parks on a full ring is woken by the receiver's drop and
/// gets its value back.
#[test]
fn blocking_sender_is_woken_by_the_receivers_close() {
    model(|| {
        let (mut tx, rx) = crate::blocking::ring::<u32>(1).unwrap();
        let t = thread::spawn(move || {
            let first = tx.send(1);
            let second = tx.send(2);
            (first.is_ok(), second)
        });
        drop(rx);
        let (_first_ok, second) = t.join().unwrap();
        // The ring has one slot: the second send can only fail, never hang.
        assert_eq!(second, Err(2));
    });
}

/// The mailbox's close path: every put before `close` reaches the taker, and a
/// taker waiting on an empty mailbox is woken by `close`.
#[test]
fn mailbox_delivers_every_put_then_closes() {
    model(|| {
        let mailbox = Arc::new(crate::blocking::Mailbox::<u32>::new());
        let m = mailbox.clone();
        let t = thread::spawn(move || {
            m.put(|slot| *slot.get_or_insert(0) += 1);
            m.put(|slot| *slot.get_or_insert(0) += 1);
            m.close();
        });
        let mut total = 0;
        while let Some(n) = mailbox.take() {
            total += n;
        }
        assert_eq!(total, 2);
        t.join().unwrap();
    });
}
