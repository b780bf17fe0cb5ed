//! Blocking ends for the in-process rings that join the domain threads: the same
//! single-producer/single-consumer ring core (`ledgerfs-ring`) the seL4 image uses, with
//! thread park/unpark standing in for seL4 notifications. A side sleeps only after
//! asking its peer for a signal, and a peer signals only when asked (sDDF discipline).

use std::sync::{Arc, OnceLock};
use std::thread::{self, Thread};

use ledgerfs_ring::{channel, PushError, Receiver, RingError, Sender};

/// Who to wake: each end registers its thread on first use.
#[derive(Default)]
struct Parties {
    sender: OnceLock<Thread>,
    receiver: OnceLock<Thread>,
}

/// The producing end.
pub struct RingSender<T: Send> {
    ring: Sender<T>,
    parties: Arc<Parties>,
}

/// The consuming end.
pub struct RingReceiver<T: Send> {
    ring: Receiver<T>,
    parties: Arc<Parties>,
}

/// A ring of `capacity` slots (a power of two).
pub fn ring<T: Send>(capacity: usize) -> (RingSender<T>, RingReceiver<T>) {
    let (tx, rx) = channel(capacity).expect("ring capacity is a power of two");
    let parties = Arc::new(Parties::default());
    (
        RingSender {
            ring: tx,
            parties: parties.clone(),
        },
        RingReceiver { ring: rx, parties },
    )
}

impl<T: Send> RingSender<T> {
    /// Pushes `value`, sleeping while the ring is full; gives it back if the receiver is gone.
    pub fn send(&mut self, mut value: T) -> Result<(), T> {
        self.parties.sender.get_or_init(thread::current);
        loop {
            match self.ring.try_push(value) {
                Ok(()) => {
                    if self.ring.needs_signal() {
                        if let Some(receiver) = self.parties.receiver.get() {
                            receiver.unpark();
                        }
                    }
                    return Ok(());
                }
                Err(PushError {
                    error: RingError::Full,
                    value: back,
                }) => {
                    value = back;
                    if self.ring.is_receiver_dropped() {
                        return Err(value);
                    }
                    if self.ring.request_signal() {
                        thread::park();
                    }
                }
                Err(PushError { value: back, .. }) => return Err(back),
            }
        }
    }
}

impl<T: Send> RingReceiver<T> {
    /// Pops the oldest value, sleeping while the ring is empty; `None` once the sender
    /// is gone and the ring is drained.
    pub fn recv(&mut self) -> Option<T> {
        self.parties.receiver.get_or_init(thread::current);
        loop {
            match self.ring.try_pop() {
                Ok(value) => {
                    if self.ring.needs_signal() {
                        if let Some(sender) = self.parties.sender.get() {
                            sender.unpark();
                        }
                    }
                    return Some(value);
                }
                Err(RingError::Empty) => {
                    if self.ring.is_sender_dropped() && self.ring.is_empty() {
                        return None;
                    }
                    if self.ring.request_signal() {
                        thread::park();
                    }
                }
                Err(_) => return None,
            }
        }
    }
}

impl<T: Send> RingReceiver<T> {
    /// Pops the oldest value if one is ready, without sleeping.
    pub fn try_recv(&mut self) -> Option<T> {
        let value = self.ring.try_pop().ok()?;
        if self.ring.needs_signal() {
            if let Some(sender) = self.parties.sender.get() {
                sender.unpark();
            }
        }
        Some(value)
    }
}

impl<T: Send> Drop for RingSender<T> {
    fn drop(&mut self) {
        if let Some(receiver) = self.parties.receiver.get() {
            receiver.unpark();
        }
    }
}

impl<T: Send> Drop for RingReceiver<T> {
    fn drop(&mut self) {
        if let Some(sender) = self.parties.sender.get() {
            sender.unpark();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moves_values_in_order_across_threads() {
        let (mut tx, mut rx) = ring::<Vec<u64>>(2);
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
}
