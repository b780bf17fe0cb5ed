//! A flat buffer of encoded entries: one allocation for a whole batch instead of one per
//! entry, so the hot path does not allocate per transfer.

use alloc::string::String;
use alloc::vec::Vec;

/// What an entry did to balances, so read models need not parse entry JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Posting {
    /// The account in this slot (opening order) was opened.
    Opened {
        /// Slot of the new account.
        slot: u32,
    },
    /// `amount` minor units moved from the debit slot to the credit slot.
    Transfer {
        /// Slot of the debited account.
        debit: u32,
        /// Slot of the credited account.
        credit: u32,
        /// Minor units.
        amount: u128,
        /// The transfer carries non-empty metadata (read models look inside only then).
        has_metadata: bool,
    },
    /// A pending transfer reserved `amount`: pending debits and credits grow.
    Reserve {
        /// Slot of the debited account.
        debit: u32,
        /// Slot of the credited account.
        credit: u32,
        /// Minor units reserved.
        amount: u128,
        /// The transfer carries non-empty metadata.
        has_metadata: bool,
        /// The accounts it closes (`closing_debit`, `closing_credit`).
        closes: ledgerfs_model::Closing,
    },
    /// A pending transfer of `pending` was resolved: `posted` of it moved (0: voided),
    /// the rest released.
    Resolve {
        /// Slot of the debited account.
        debit: u32,
        /// Slot of the credited account.
        credit: u32,
        /// Minor units the pending transfer had reserved.
        pending: u128,
        /// Minor units posted (at most `pending`).
        posted: u128,
        /// The transfer carries non-empty metadata.
        has_metadata: bool,
        /// The accounts it reopens: a void or expiry of a closing transfer.
        reopens: ledgerfs_model::Closing,
    },
    /// The sequencer committed to every balance (a balance commitment entry): no
    /// balance changes.
    Committed,
}

/// An account's four totals in minor units, and whether it is closed. [`Posting::apply`]
/// is the one rule that changes them, for the sequencer and every read model alike.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Balance {
    /// Closed by a pending closing transfer (not voided): new transfers are refused.
    pub closed: bool,
    /// Sum of posted debits.
    pub debits_posted: u128,
    /// Sum of posted credits.
    pub credits_posted: u128,
    /// Sum of debits reserved by pending transfers.
    pub debits_pending: u128,
    /// Sum of credits reserved by pending transfers.
    pub credits_pending: u128,
}

impl Posting {
    /// The debited and credited slots, for a transfer of any phase.
    pub fn accounts(&self) -> Option<(u32, u32)> {
        match *self {
            Posting::Opened { .. } | Posting::Committed => None,
            Posting::Transfer { debit, credit, .. }
            | Posting::Reserve { debit, credit, .. }
            | Posting::Resolve { debit, credit, .. } => Some((debit, credit)),
        }
    }

    /// Whether the transfer carries non-empty metadata.
    pub fn has_metadata(&self) -> bool {
        match *self {
            Posting::Opened { .. } | Posting::Committed => false,
            Posting::Transfer { has_metadata, .. }
            | Posting::Reserve { has_metadata, .. }
            | Posting::Resolve { has_metadata, .. } => has_metadata,
        }
    }

    /// The posting of a transfer of `phase` moving `amount` (for a resolution: posting
    /// it, or releasing it when voided) between the slots; `reserved` is what the pending
    /// transfer it resolves had reserved; `closing`: a pending transfer's own closing flags,
    /// or those of the pending transfer a resolution resolves. The one place a phase becomes
    /// a balance change.
    pub fn for_transfer<S>(
        phase: &ledgerfs_model::Phase<S>,
        debit: u32,
        credit: u32,
        amount: u128,
        reserved: u128,
        has_metadata: bool,
        closing: ledgerfs_model::Closing,
    ) -> Posting {
        use ledgerfs_model::Phase;
        match phase {
            Phase::Single => Posting::Transfer {
                debit,
                credit,
                amount,
                has_metadata,
            },
            Phase::Pending => Posting::Reserve {
                debit,
                credit,
                amount,
                has_metadata,
                closes: closing,
            },
            // Posting a closing transfer keeps its accounts closed.
            Phase::Post { .. } => Posting::Resolve {
                debit,
                credit,
                pending: reserved,
                posted: amount,
                has_metadata,
                reopens: ledgerfs_model::Closing::default(),
            },
            Phase::Void { .. } | Phase::Expire { .. } => Posting::Resolve {
                debit,
                credit,
                pending: reserved,
                posted: 0,
                has_metadata,
                reopens: closing,
            },
        }
    }

    /// Applies the posting to its debit and credit accounts' balances (checked by the
    /// sequencer before it is ever produced, so it cannot overflow or underflow).
    pub fn apply(&self, debit: &mut Balance, credit: &mut Balance) {
        self.apply_debit(debit);
        self.apply_credit(credit);
    }

    /// Applies the posting to the debited account's balance.
    pub fn apply_debit(&self, b: &mut Balance) {
        match *self {
            Posting::Opened { .. } | Posting::Committed => {}
            Posting::Transfer { amount, .. } => b.debits_posted += amount,
            Posting::Reserve { amount, closes, .. } => {
                b.debits_pending += amount;
                b.closed |= closes.debit;
            }
            Posting::Resolve {
                pending,
                posted,
                reopens,
                ..
            } => {
                b.debits_pending -= pending;
                b.debits_posted += posted;
                b.closed &= !reopens.debit;
            }
        }
    }

    /// Applies the posting to the credited account's balance.
    pub fn apply_credit(&self, b: &mut Balance) {
        match *self {
            Posting::Opened { .. } | Posting::Committed => {}
            Posting::Transfer { amount, .. } => b.credits_posted += amount,
            Posting::Reserve { amount, closes, .. } => {
                b.credits_pending += amount;
                b.closed |= closes.credit;
            }
            Posting::Resolve {
                pending,
                posted,
                reopens,
                ..
            } => {
                b.credits_pending -= pending;
                b.credits_posted += posted;
                b.closed &= !reopens.credit;
            }
        }
    }

    /// Undoes [`Posting::apply`].
    pub fn undo(&self, debit: &mut Balance, credit: &mut Balance) {
        match *self {
            Posting::Opened { .. } | Posting::Committed => {}
            Posting::Transfer { amount, .. } => {
                debit.debits_posted -= amount;
                credit.credits_posted -= amount;
            }
            Posting::Reserve { amount, closes, .. } => {
                debit.debits_pending -= amount;
                credit.credits_pending -= amount;
                // An account is closed by one transfer at a time (a closed one refuses more).
                debit.closed &= !closes.debit;
                credit.closed &= !closes.credit;
            }
            Posting::Resolve {
                pending,
                posted,
                reopens,
                ..
            } => {
                debit.debits_pending += pending;
                credit.credits_pending += pending;
                debit.debits_posted -= posted;
                credit.credits_posted -= posted;
                debit.closed |= reopens.debit;
                credit.closed |= reopens.credit;
            }
        }
    }
}

impl Balance {
    /// What the account can still be debited without its debits (posted and pending)
    /// passing its posted credits: the limit of a `debits_must_not_exceed_credits` account
    /// and what a `balancing_debit` moves at most.
    pub fn room_to_debit(&self) -> u128 {
        self.credits_posted
            .saturating_sub(self.debits_posted.saturating_add(self.debits_pending))
    }

    /// What the account can still be credited without its credits (posted and pending)
    /// passing its posted debits (`credits_must_not_exceed_debits`, `balancing_credit`).
    pub fn room_to_credit(&self) -> u128 {
        self.debits_posted
            .saturating_sub(self.credits_posted.saturating_add(self.credits_pending))
    }

    /// What the account can still be debited (a `debits_must_not_exceed_credits`
    /// account) or credited (`credits_must_not_exceed_debits`) counting pending
    /// amounts; `None` for an account without a limit.
    pub fn available(&self, flags: ledgerfs_model::AccountFlags) -> Option<u128> {
        if flags.debits_must_not_exceed_credits {
            return Some(self.room_to_debit());
        }
        if flags.credits_must_not_exceed_debits {
            return Some(self.room_to_credit());
        }
        None
    }
}

/// Two distinct elements of a slice, mutably (a posting's two accounts).
pub fn two_mut<T>(items: &mut [T], a: u32, b: u32) -> (&mut T, &mut T) {
    let (a, b) = (a as usize, b as usize);
    assert_ne!(a, b, "a posting's accounts differ");
    if a < b {
        let (left, right) = items.split_at_mut(b);
        (&mut left[a], &mut right[0])
    } else {
        let (left, right) = items.split_at_mut(a);
        (&mut right[0], &mut left[b])
    }
}

/// Entries produced by one or more batches, in log order, each with its posting.
#[derive(Clone, Debug, Default)]
pub struct EntryBuffer {
    text: String,
    ends: Vec<usize>,
    postings: Vec<Posting>,
    first_index: Option<u64>,
}

impl EntryBuffer {
    /// An empty buffer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of entries held.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// True when no entry is held.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Log index of the first entry held.
    pub fn first_index(&self) -> Option<u64> {
        self.first_index
    }

    /// Entry `i` of the buffer (not the log index).
    pub fn get(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.text.as_bytes()[start..self.ends[i]]
    }

    /// The posting of entry `i` of the buffer.
    pub fn posting(&self, i: usize) -> Posting {
        self.postings[i]
    }

    /// Bytes of all entries held.
    pub fn byte_len(&self) -> usize {
        self.text.len()
    }

    /// Iterates the entries in order.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> + Clone + '_ {
        (0..self.len()).map(|i| self.get(i))
    }

    /// Empties the buffer, keeping its capacity.
    pub fn clear(&mut self) {
        self.text.clear();
        self.ends.clear();
        self.postings.clear();
        self.first_index = None;
    }

    /// Appends one entry for log `index`, written by `write`.
    pub(crate) fn push_with(&mut self, index: u64, posting: Posting, write: impl FnOnce(&mut String)) {
        match self.first_index {
            None => self.first_index = Some(index),
            Some(first) => assert_eq!(first + self.ends.len() as u64, index, "entries must be contiguous"),
        }
        write(&mut self.text);
        self.ends.push(self.text.len());
        self.postings.push(posting);
    }

    /// Drops entries from position `len` on (rolling back a failed linked chain).
    pub(crate) fn truncate(&mut self, len: usize) {
        assert!(len <= self.ends.len());
        let end = if len == 0 { 0 } else { self.ends[len - 1] };
        self.text.truncate(end);
        self.ends.truncate(len);
        self.postings.truncate(len);
        if len == 0 {
            self.first_index = None;
        }
    }
}
