//! The durability protocol between the sequencer and the committer that stores its
//! entries (the hosted daemon's committer thread, the appliance's tiles PD), written
//! once. The sequencer hands entries on as soon as they are sequenced and goes on
//! sequencing on top of them; the committer reports what became durable, or that
//! storage failed and which size it kept.
//!
//! A failure makes every entry sequenced beyond the kept size void, including groups
//! already on their way to the committer. So each group carries the sequencer's
//! *epoch*: after a failure in epoch `e`, the committer's [`CommitGate`] refuses every
//! group of epoch `e` or older without storing it, and the sequencer, on the notice,
//! rolls back to the kept size and starts epoch `e + 1`. Nothing sequenced on top of
//! lost entries is ever stored; nothing durable is ever rolled back.

use crate::state::Sequencer;

/// What the committer reports to the sequencer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Notice {
    /// Entries below `size` are durable.
    Durable {
        /// The new durable size.
        size: u64,
    },
    /// Storage failed in `epoch`: entries from `kept` on were not stored (entries below
    /// it are, or will be once storage recovers: a signed, pending checkpoint).
    Failed {
        /// The size the committer kept.
        kept: u64,
        /// The epoch of the newest group of the failed commit.
        epoch: u64,
    },
}

/// A notice the sequencer cannot apply (a committer bug or a forged message): it is
/// ignored and reported, never allowed to corrupt the state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoticeError {
    /// The size is below the durable size or beyond what was sequenced.
    OutOfRange {
        /// The size the notice named.
        size: u64,
        /// The sequencer's durable size.
        durable: u64,
        /// The sequencer's next index.
        next: u64,
    },
    /// A failure of another epoch than the current one.
    WrongEpoch {
        /// The epoch the notice named.
        epoch: u64,
        /// The sequencer's epoch.
        current: u64,
    },
}

impl Sequencer {
    /// The epoch new entries belong to (the number of storage failures survived); every
    /// group handed to the committer carries it.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// Applies the committer's notice: marks entries durable, or after a failure rolls
    /// back to the kept size (which becomes durable) and starts a new epoch. A durable
    /// size at or below the current one changes nothing (the durable size only grows;
    /// after a failure it may already include a pending checkpoint's entries).
    pub fn apply_notice(&mut self, notice: Notice) -> Result<(), NoticeError> {
        let size = match notice {
            Notice::Durable { size } if size <= self.durable_size() => return Ok(()),
            Notice::Durable { size } | Notice::Failed { kept: size, .. } => size,
        };
        if !(self.durable_size()..=self.next_index()).contains(&size) {
            return Err(NoticeError::OutOfRange {
                size,
                durable: self.durable_size(),
                next: self.next_index(),
            });
        }
        match notice {
            Notice::Durable { size } => self.mark_durable(size),
            Notice::Failed { kept, epoch } => {
                if epoch != self.epoch {
                    return Err(NoticeError::WrongEpoch {
                        epoch,
                        current: self.epoch,
                    });
                }
                self.mark_durable(kept);
                self.roll_back_to(kept);
                self.epoch += 1;
            }
        }
        Ok(())
    }
}

/// The committer's half: which groups may still be stored.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CommitGate {
    failed: Option<u64>,
}

impl CommitGate {
    /// Whether a group of `epoch` may be stored (it was not sequenced on top of entries
    /// a failure voided).
    pub fn admits(&self, epoch: u64) -> bool {
        self.failed.is_none_or(|failed| epoch > failed)
    }

    /// Storage failed for a commit whose newest group is of `epoch`, keeping `kept`
    /// entries: the notice to send the sequencer.
    pub fn fail(&mut self, kept: u64, epoch: u64) -> Notice {
        self.failed = Some(self.failed.map_or(epoch, |failed| failed.max(epoch)));
        Notice::Failed { kept, epoch }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{EntryBuffer, Limits};
    use alloc::string::ToString;
    use ledgerfs_model::{Event, NewAccount};

    fn open(seq: &mut Sequencer, id: &str, now: u64) {
        let event = Event::Account(NewAccount {
            id: id.to_string(),
            currency: "EUR".to_string(),
            kind: "customer".to_string(),
            flags: alloc::vec::Vec::new(),
            metadata: "{}".to_string(),
            linked: false,
            time: 0,
        });
        let (mut results, mut entries) = (alloc::vec::Vec::new(), EntryBuffer::new());
        seq.execute(&[event], now, &mut results, &mut entries);
        assert_eq!(entries.len(), 1, "{results:?}");
    }

    #[test]
    fn a_failure_rolls_back_to_the_kept_size_and_the_gate_refuses_the_old_epoch() {
        let mut seq = Sequencer::new(Limits::default());
        let mut gate = CommitGate::default();
        for (i, id) in ["a", "b", "c", "d"].iter().enumerate() {
            open(&mut seq, id, 10 + i as u64);
        }
        seq.apply_notice(Notice::Durable { size: 1 }).unwrap();
        assert!(gate.admits(seq.epoch()));
        // The commit of entries 1..3 failed with entry 1..2 kept (a pending checkpoint).
        let notice = gate.fail(2, seq.epoch());
        assert!(!gate.admits(0), "groups sequenced before the notice are refused");
        seq.apply_notice(notice).unwrap();
        assert_eq!((seq.next_index(), seq.durable_size(), seq.epoch()), (2, 2, 1));
        assert!(seq.account("c").is_none() && seq.account("b").is_some());
        assert!(gate.admits(seq.epoch()));
        // Impossible notices change nothing.
        assert_eq!(
            seq.apply_notice(Notice::Durable { size: 9 }),
            Err(NoticeError::OutOfRange {
                size: 9,
                durable: 2,
                next: 2
            })
        );
        assert_eq!(
            seq.apply_notice(Notice::Failed { kept: 2, epoch: 0 }),
            Err(NoticeError::WrongEpoch { epoch: 0, current: 1 })
        );
        assert_eq!((seq.next_index(), seq.durable_size(), seq.epoch()), (2, 2, 1));
    }
}
