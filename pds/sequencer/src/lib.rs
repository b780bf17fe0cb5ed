//! The sequencer protection domain's logic: it validates each event of a batch against
//! the ledger state, applies double-entry postings, enforces balance limits and linked
//! (all-or-nothing) chains, remembers every transfer id for idempotent retries, and
//! assigns each accepted event its log index, time and canonical entry bytes.
//!
//! It is a sans-IO state machine: batches in, results and entries out. It never reads a
//! clock (the adapter passes `now`), never touches storage, and never changes state for
//! a rejected event. Replaying the log through [`Sequencer::replay`] re-executes every
//! entry and insists on byte-identical output, so a projection rebuilt from the log is
//! exactly the state that wrote it.
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod balance_proof;
mod chunks;
pub mod commitment;
mod durability;
mod entries;
mod fingerprint;
mod render;
mod snapshot;
mod state;

pub use balance_proof::{BalanceProofError, BalanceProofFile, ProvenBalance};
pub use chunks::chain_chunks;
pub use commitment::{BalanceTree, MembershipProof, RecordProof};
pub use durability::{CommitGate, Notice, NoticeError};
pub use entries::{two_mut, Balance, EntryBuffer, Posting};
pub use render::{first_new_index, write_balance_json, write_results_json, write_results_json_with, ResultsShape};
pub use state::{
    Account, CommittedProof, EventResult, Limits, ReplayError, Sequencer, ENTRIES_PER_ACCOUNT_PER_COMMITMENT,
};
