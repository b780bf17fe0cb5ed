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
