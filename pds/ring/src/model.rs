//! An exhaustive model check of the ring protocol, written for this crate:
//! the producer's and consumer's shared-memory steps (index loads and
//! stores, slot reads and writes, flag set/check/clear, sleep/notify) as two
//! small state machines, with every interleaving explored from small
//! capacities. It proves, for those sizes: no lost item, no duplicate, FIFO
//! order, no read of an unwritten slot, no lost wake-up (no state where a
//! side sleeps forever), and that the corrupt-index checks in `index.rs`
//! stop a side before it touches a slot. Mutants of the protocol (missing
//! re-check, publish-before-write, ...) must each be caught, which shows
//! the model is not vacuous.
//!
//! Must never: be the only evidence about memory ordering — it explores
//! sequentially consistent interleavings; weak-memory behaviour of the real
//! code is what the loom tests (`--cfg loom`) check.

use std::collections::HashSet;
use std::vec::Vec;

use crate::index::{head_is_possible, tail_is_possible};

/// Deliberate protocol bugs the model must catch.
#[derive(Clone, Copy, Debug, Default)]
struct Mutant {
    /// Sleep right after setting the flag, without re-checking the index.
    skip_recheck: bool,
    /// Producer publishes `tail` before writing the slot.
    publish_before_write: bool,
    /// Consumer publishes `head` before reading the slot.
    release_before_read: bool,
    /// Producer never checks `consumer_wants_signal`.
    producer_never_signals: bool,
    /// Consumer never checks `producer_wants_signal`.
    consumer_never_signals: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Pc {
    /// Load the peer's index.
    LoadPeer,
    /// Producer: write the slot; consumer: read the slot.
    Slot,
    /// Store our own index (publish / release).
    Publish,
    /// Load the peer's wants-signal flag (after the fence).
    CheckFlag,
    /// Store 0 to the peer's flag (it was seen set).
    ClearFlag,
    /// Send the notification (set the peer's sticky token).
    Notify,
    /// Store 1 to our wants-signal flag.
    SetWant,
    /// Re-load the peer's index after announcing.
    Recheck,
    /// Store 0 to our wants-signal flag (withdraw).
    ClearWant,
    /// Blocked until a notification token is available.
    Sleep,
    Done,
    /// Stopped for good after a corrupt index.
    Stopped,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct State {
    tail: u32,
    head: u32,
    producer_wants: bool,
    consumer_wants: bool,
    slots: Vec<u32>,
    /// Sticky notification tokens (seL4 notification / unpark token).
    producer_token: bool,
    consumer_token: bool,
    p_pc: Pc,
    p_tail: u32,
    p_last_head: u32,
    p_next: u32,
    c_pc: Pc,
    c_head: u32,
    c_last_tail: u32,
    c_next: u32,
    /// Adversarial producer only: how many bogus tails it has written.
    bogus_writes: u8,
}

#[derive(Debug, PartialEq, Eq)]
enum Violation {
    WrongItem { expected: u32, got: u32 },
    Stuck { p: Pc, c: Pc },
    ReadOutsideWindow,
}

struct Model {
    cap: u32,
    items: u32,
    start: u32,
    mutant: Mutant,
    /// Replace the producer by an adversary writing arbitrary tails.
    adversarial_producer: bool,
}

const GARBAGE: u32 = u32::MAX;

impl Model {
    fn initial(&self) -> State {
        State {
            tail: self.start,
            head: self.start,
            producer_wants: false,
            consumer_wants: false,
            slots: std::vec![GARBAGE; self.cap as usize],
            producer_token: false,
            consumer_token: false,
            p_pc: Pc::LoadPeer,
            p_tail: self.start,
            p_last_head: self.start,
            p_next: 0,
            c_pc: Pc::LoadPeer,
            c_head: self.start,
            c_last_tail: self.start,
            c_next: 0,
            bogus_writes: 0,
        }
    }

    fn slot(&self, index: u32) -> usize {
        (index & (self.cap - 1)) as usize
    }

    /// All successors of `s` by one producer step.
    fn producer_steps(&self, s: &State, out: &mut Vec<State>) {
        if self.adversarial_producer {
            // Any tail near the honest window, a bounded number of times,
            // plus honest-looking slot contents.
            if s.bogus_writes < 2 {
                for d in [0u32, 1, 2, self.cap, self.cap + 1, u32::MAX, u32::MAX - 1] {
                    let mut n = s.clone();
                    n.tail = s.c_head.wrapping_add(d);
                    n.bogus_writes += 1;
                    out.push(n);
                }
            }
            return;
        }
        let mut n = s.clone();
        let m = self.mutant;
        match s.p_pc {
            Pc::LoadPeer => {
                if !head_is_possible(s.p_tail, s.p_last_head, s.head) {
                    n.p_pc = Pc::Stopped;
                } else {
                    n.p_last_head = s.head;
                    let used = s.p_tail.wrapping_sub(s.head);
                    n.p_pc = if used == self.cap {
                        Pc::SetWant
                    } else if m.publish_before_write {
                        Pc::Publish
                    } else {
                        Pc::Slot
                    };
                }
            }
            Pc::Slot => {
                let i = self.slot(s.p_tail);
                n.slots[i] = s.p_next;
                if m.publish_before_write {
                    // The tail is already public; only now the slot.
                    n.p_tail = s.p_tail.wrapping_add(1);
                    n.p_next += 1;
                    n.p_pc = Pc::CheckFlag;
                } else {
                    n.p_pc = Pc::Publish;
                }
            }
            Pc::Publish => {
                if m.publish_before_write {
                    // Publish first; `p_tail` still names the slot to write.
                    n.tail = s.p_tail.wrapping_add(1);
                    n.p_pc = Pc::Slot;
                } else {
                    n.p_tail = s.p_tail.wrapping_add(1);
                    n.tail = n.p_tail;
                    n.p_next += 1;
                    n.p_pc = Pc::CheckFlag;
                }
            }
            Pc::CheckFlag => {
                n.p_pc = if m.producer_never_signals || !s.consumer_wants {
                    self.producer_after_push(&n)
                } else {
                    Pc::ClearFlag
                };
            }
            Pc::ClearFlag => {
                n.consumer_wants = false;
                n.p_pc = Pc::Notify;
            }
            Pc::Notify => {
                n.consumer_token = true;
                n.p_pc = self.producer_after_push(&n);
            }
            Pc::SetWant => {
                n.producer_wants = true;
                n.p_pc = if m.skip_recheck { Pc::Sleep } else { Pc::Recheck };
            }
            Pc::Recheck => {
                if !head_is_possible(s.p_tail, s.p_last_head, s.head) {
                    n.p_pc = Pc::Stopped;
                } else {
                    n.p_last_head = s.head;
                    let used = s.p_tail.wrapping_sub(s.head);
                    n.p_pc = if used < self.cap { Pc::ClearWant } else { Pc::Sleep };
                }
            }
            Pc::ClearWant => {
                n.producer_wants = false;
                n.p_pc = Pc::LoadPeer;
            }
            Pc::Sleep => {
                if !s.producer_token {
                    return; // blocked
                }
                n.producer_token = false;
                n.p_pc = Pc::LoadPeer;
            }
            Pc::Done | Pc::Stopped => return,
        }
        out.push(n);
    }

    fn producer_after_push(&self, n: &State) -> Pc {
        if n.p_next == self.items {
            Pc::Done
        } else {
            Pc::LoadPeer
        }
    }

    /// All successors of `s` by one consumer step; `Err` on a violation.
    fn consumer_steps(&self, s: &State, out: &mut Vec<State>) -> Result<(), Violation> {
        let mut n = s.clone();
        let m = self.mutant;
        match s.c_pc {
            Pc::LoadPeer => {
                if !tail_is_possible(s.c_head, s.c_last_tail, s.tail, self.cap) {
                    n.c_pc = Pc::Stopped;
                } else {
                    n.c_last_tail = s.tail;
                    let avail = s.tail.wrapping_sub(s.c_head);
                    n.c_pc = if avail == 0 {
                        Pc::SetWant
                    } else if m.release_before_read {
                        Pc::Publish
                    } else {
                        Pc::Slot
                    };
                }
            }
            Pc::Slot => {
                let avail = s.c_last_tail.wrapping_sub(s.c_head);
                let held = if m.release_before_read {
                    s.c_head.wrapping_sub(1)
                } else {
                    s.c_head
                };
                if !m.release_before_read && (avail == 0 || avail > self.cap) {
                    return Err(Violation::ReadOutsideWindow);
                }
                let got = s.slots[self.slot(held)];
                if !self.adversarial_producer && got != s.c_next {
                    return Err(Violation::WrongItem {
                        expected: s.c_next,
                        got,
                    });
                }
                n.c_next += 1;
                n.c_pc = if m.release_before_read {
                    Pc::CheckFlag
                } else {
                    Pc::Publish
                };
            }
            Pc::Publish => {
                n.c_head = s.c_head.wrapping_add(1);
                n.head = n.c_head;
                n.c_pc = if m.release_before_read { Pc::Slot } else { Pc::CheckFlag };
            }
            Pc::CheckFlag => {
                n.c_pc = if m.consumer_never_signals || !s.producer_wants {
                    self.consumer_after_pop(&n)
                } else {
                    Pc::ClearFlag
                };
            }
            Pc::ClearFlag => {
                n.producer_wants = false;
                n.c_pc = Pc::Notify;
            }
            Pc::Notify => {
                n.producer_token = true;
                n.c_pc = self.consumer_after_pop(&n);
            }
            Pc::SetWant => {
                n.consumer_wants = true;
                n.c_pc = if m.skip_recheck { Pc::Sleep } else { Pc::Recheck };
            }
            Pc::Recheck => {
                if !tail_is_possible(s.c_head, s.c_last_tail, s.tail, self.cap) {
                    n.c_pc = Pc::Stopped;
                } else {
                    n.c_last_tail = s.tail;
                    n.c_pc = if s.tail != s.c_head { Pc::ClearWant } else { Pc::Sleep };
                }
            }
            Pc::ClearWant => {
                n.consumer_wants = false;
                n.c_pc = Pc::LoadPeer;
            }
            Pc::Sleep => {
                if !s.consumer_token {
                    return Ok(()); // blocked
                }
                n.consumer_token = false;
                n.c_pc = Pc::LoadPeer;
            }
            Pc::Done | Pc::Stopped => return Ok(()),
        }
        out.push(n);
        Ok(())
    }

    fn consumer_after_pop(&self, n: &State) -> Pc {
        if !self.adversarial_producer && n.c_next == self.items {
            Pc::Done
        } else {
            Pc::LoadPeer
        }
    }

    /// Explores every interleaving; returns the number of distinct states.
    fn check(&self) -> Result<usize, Violation> {
        let mut seen = HashSet::new();
        let mut stack = std::vec![self.initial()];
        seen.insert(stack[0].clone());
        let mut next = Vec::new();
        while let Some(s) = stack.pop() {
            next.clear();
            self.producer_steps(&s, &mut next);
            self.consumer_steps(&s, &mut next)?;
            if next.is_empty() && !self.adversarial_producer {
                // Nothing can move: both must have finished, with every
                // item delivered.
                if s.p_pc != Pc::Done || s.c_pc != Pc::Done {
                    return Err(Violation::Stuck { p: s.p_pc, c: s.c_pc });
                }
                assert_eq!(s.c_next, self.items);
                assert_eq!(s.tail, s.head);
            }
            for n in next.drain(..) {
                if seen.insert(n.clone()) {
                    stack.push(n);
                }
            }
        }
        Ok(seen.len())
    }
}

fn honest(cap: u32, items: u32, start: u32, mutant: Mutant) -> Model {
    Model {
        cap,
        items,
        start,
        mutant,
        adversarial_producer: false,
    }
}

#[test]
fn protocol_is_correct_for_small_rings() {
    for (cap, items) in [(1, 3), (2, 5), (4, 9)] {
        for start in [0, u32::MAX - 1] {
            let states = honest(cap, items, start, Mutant::default())
                .check()
                .unwrap_or_else(|v| panic!("cap={cap} items={items} start={start}: {v:?}"));
            assert!(states > 100, "suspiciously small state space: {states}");
        }
    }
}

#[test]
fn model_catches_missing_recheck() {
    let m = Mutant {
        skip_recheck: true,
        ..Mutant::default()
    };
    assert!(matches!(honest(2, 3, 0, m).check(), Err(Violation::Stuck { .. })));
}

#[test]
fn model_catches_missing_notifications() {
    let m = Mutant {
        producer_never_signals: true,
        ..Mutant::default()
    };
    assert!(matches!(honest(2, 3, 0, m).check(), Err(Violation::Stuck { .. })));
    let m = Mutant {
        consumer_never_signals: true,
        ..Mutant::default()
    };
    assert!(matches!(honest(1, 3, 0, m).check(), Err(Violation::Stuck { .. })));
}

#[test]
fn model_catches_publish_before_write() {
    let m = Mutant {
        publish_before_write: true,
        ..Mutant::default()
    };
    assert!(matches!(honest(2, 3, 0, m).check(), Err(Violation::WrongItem { .. })));
}

#[test]
fn model_catches_release_before_read() {
    let m = Mutant {
        release_before_read: true,
        ..Mutant::default()
    };
    assert!(matches!(honest(1, 3, 0, m).check(), Err(Violation::WrongItem { .. })));
}

/// Against a producer that writes arbitrary tails, the consumer's checks
/// (the real `tail_is_possible`) stop it before it reads any slot outside
/// `head..head + capacity`, in every interleaving.
#[test]
fn consumer_never_reads_outside_the_window_under_an_adversary() {
    for cap in [1, 2, 4] {
        for start in [0, u32::MAX - 1] {
            let model = Model {
                cap,
                items: 0,
                start,
                mutant: Mutant::default(),
                adversarial_producer: true,
            };
            let states = model.check().unwrap();
            assert!(states > 50, "suspiciously small state space: {states}");
        }
    }
}
