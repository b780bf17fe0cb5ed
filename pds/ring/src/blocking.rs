//! Blocking ends for the in-process ring (feature `std`): the same SPSC ring and
//! sDDF signalling discipline as the seL4 image, with thread park/unpark standing
//! in for seL4 notifications. It lives in the core, not in the daemon, so that
//! loom can model its wake-up and close paths together with the ring itself.
//!
//! The protocol: a side sleeps only after asking its peer for a signal and seeing
//! the ring still empty (or full), and a peer signals only when asked. Closing is
//! explicit: a dropped end sets its `closed` flag *before* waking its peer, and a
//! side re-checks the peer's flag after asking for a signal and before parking.
//! The parked thread of each side is registered under a mutex before it first asks
//! for a signal, so the closing side either finds the thread to unpark or the
//! sleeping side, registering after the close, sees the flag. Either way no
//! wake-up is lost (the previous version read the peer's liveness from the `Arc`
//! count, which the dropping end released only after its wake-up).
//!
//! Must never: park without re-checking the peer's `closed` flag, or wake before
//! setting its own.

use crate::owned::{channel, PushError, Receiver, Sender};
use crate::sync::{Arc, AtomicBool, Condvar, Mutex, Ordering, Parker};
use crate::RingError;

/// Who to wake, and who has gone: shared by both ends.
struct Parties {
    sender: Parker,
    receiver: Parker,
    sender_closed: AtomicBool,
    receiver_closed: AtomicBool,
}

impl Parties {
    fn new() -> Self {
        Parties {
            sender: Parker::new(),
            receiver: Parker::new(),
            sender_closed: AtomicBool::new(false),
            receiver_closed: AtomicBool::new(false),
        }
    }

    fn wake(parker: &Parker) {
        parker.unpark();
    }

    fn register(parker: &Parker) {
        parker.register();
    }
}

/// The producing end: [`RingSender::send`] sleeps while the ring is full.
pub struct RingSender<T: Send> {
    ring: Sender<T>,
    parties: Arc<Parties>,
    registered: bool,
}

/// The consuming end: [`RingReceiver::recv`] sleeps while the ring is empty.
pub struct RingReceiver<T: Send> {
    ring: Receiver<T>,
    parties: Arc<Parties>,
    registered: bool,
}

/// A blocking ring of `capacity` slots (a power of two).
pub fn ring<T: Send>(capacity: usize) -> Result<(RingSender<T>, RingReceiver<T>), RingError> {
    let (tx, rx) = channel(capacity)?;
    let parties = Arc::new(Parties::new());
    Ok((
        RingSender {
            ring: tx,
            parties: parties.clone(),
            registered: false,
        },
        RingReceiver {
            ring: rx,
            parties,
            registered: false,
        },
    ))
}

impl<T: Send> RingSender<T> {
    /// Pushes `value`, sleeping while the ring is full; gives it back once the
    /// receiver is gone.
    pub fn send(&mut self, mut value: T) -> Result<(), T> {
        loop {
            if self.parties.receiver_closed.load(Ordering::SeqCst) {
                return Err(value);
            }
            match self.ring.try_push(value) {
                Ok(()) => {
                    if self.ring.needs_signal() {
                        Parties::wake(&self.parties.receiver);
                    }
                    return Ok(());
                }
                Err(PushError {
                    error: RingError::Full,
                    value: back,
                }) => {
                    value = back;
                    if !self.registered {
                        Parties::register(&self.parties.sender);
                        self.registered = true;
                    }
                    if self.ring.request_signal() && !self.parties.receiver_closed.load(Ordering::SeqCst) {
                        self.parties.sender.park();
                    }
                }
                Err(PushError { value: back, .. }) => return Err(back),
            }
        }
    }
}

impl<T: Send> RingReceiver<T> {
    /// Pops the oldest value, sleeping while the ring is empty; `None` once the
    /// sender is gone and the ring is drained.
    pub fn recv(&mut self) -> Option<T> {
        loop {
            // Read the flag before trying: a value pushed before the close is
            // then seen by the pop below.
            let closed = self.parties.sender_closed.load(Ordering::SeqCst);
            if let Some(value) = self.try_recv() {
                return Some(value);
            }
            if closed {
                return None;
            }
            if !self.registered {
                Parties::register(&self.parties.receiver);
                self.registered = true;
            }
            if self.ring.request_signal() && !self.parties.sender_closed.load(Ordering::SeqCst) {
                self.parties.receiver.park();
            }
        }
    }

    /// Pops the oldest value if one is ready, without sleeping.
    pub fn try_recv(&mut self) -> Option<T> {
        let value = self.ring.try_pop().ok()?;
        if self.ring.needs_signal() {
            Parties::wake(&self.parties.sender);
        }
        Some(value)
    }
}

impl<T: Send> Drop for RingSender<T> {
    fn drop(&mut self) {
        self.parties.sender_closed.store(true, Ordering::SeqCst);
        Parties::wake(&self.parties.receiver);
    }
}

impl<T: Send> Drop for RingReceiver<T> {
    fn drop(&mut self) {
        self.parties.receiver_closed.store(true, Ordering::SeqCst);
        Parties::wake(&self.parties.sender);
    }
}

/// A one-slot hand-off between two threads where only the newest state matters
/// (the committer telling the publisher what to publish next): `put` merges into
/// the slot and wakes the taker; `take` sleeps until the slot is full or the
/// mailbox is closed. Closing wakes the taker, which still gets what was put.
pub struct Mailbox<T> {
    slot: Mutex<(Option<T>, bool)>,
    ready: Condvar,
}

impl<T> Default for Mailbox<T> {
    fn default() -> Self {
        Mailbox {
            slot: Mutex::new((None, false)),
            ready: Condvar::new(),
        }
    }
}

impl<T> Mailbox<T> {
    /// An empty, open mailbox.
    pub fn new() -> Self {
        Self::default()
    }

    /// Merges into the slot with `merge` (which sees what is not yet taken) and wakes
    /// the taker.
    pub fn put(&self, merge: impl FnOnce(&mut Option<T>)) {
        let mut slot = self.slot.lock().expect("mailbox lock");
        merge(&mut slot.0);
        drop(slot);
        self.ready.notify_one();
    }

    /// Waits for the slot and empties it; `None` once closed and empty.
    pub fn take(&self) -> Option<T> {
        let mut slot = self.slot.lock().expect("mailbox lock");
        loop {
            if let Some(value) = slot.0.take() {
                return Some(value);
            }
            if slot.1 {
                return None;
            }
            slot = self.ready.wait(slot).expect("mailbox lock");
        }
    }

    /// No more puts will come: the taker drains the slot, then gets `None`.
    pub fn close(&self) {
        self.slot.lock().expect("mailbox lock").1 = true;
        self.ready.notify_all();
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::thread;
    use std::vec;
    use std::vec::Vec;

    #[test]
    fn moves_values_in_order_across_threads() {
        let (mut tx, mut rx) = ring::<Vec<u64>>(2).unwrap();
        let consumer = thread::spawn(move || {
            let mut next = 0;
            while let Some(v) = rx.recv() {
                assert_eq!(v, vec![next]);
                next += 1;
            }
            next
        });
        for i in 0..20_000u64 {
            tx.send(vec![i]).unwrap();
        }
        drop(tx);
        assert_eq!(consumer.join().unwrap(), 20_000);
    }

    #[test]
    fn a_sender_blocked_on_a_full_ring_gets_its_value_back_when_the_receiver_goes() {
        let (mut tx, rx) = ring::<u64>(1).unwrap();
        tx.send(1).unwrap();
        let sender = thread::spawn(move || tx.send(2));
        thread::sleep(std::time::Duration::from_millis(20));
        drop(rx);
        assert_eq!(sender.join().unwrap(), Err(2));
    }

    #[test]
    fn a_receiver_waiting_on_an_empty_ring_ends_when_the_sender_goes() {
        let (tx, mut rx) = ring::<u64>(4).unwrap();
        let receiver = thread::spawn(move || rx.recv());
        thread::sleep(std::time::Duration::from_millis(20));
        drop(tx);
        assert_eq!(receiver.join().unwrap(), None);
    }

    #[test]
    fn a_mailbox_merges_puts_and_hands_the_last_state_over_before_closing() {
        let mailbox = Arc::new(Mailbox::<Vec<u32>>::new());
        let taker = {
            let mailbox = mailbox.clone();
            thread::spawn(move || {
                let mut got = Vec::new();
                while let Some(batch) = mailbox.take() {
                    got.extend(batch);
                }
                got
            })
        };
        for i in 0..1_000 {
            mailbox.put(|slot| slot.get_or_insert_with(Vec::new).push(i));
        }
        mailbox.close();
        assert_eq!(taker.join().unwrap(), (0..1_000).collect::<Vec<_>>());
    }
}
