//! LedgerFS domain model, shared by every protection domain and by the hosted daemon.
//!
//! It defines what an account, a transfer and a log entry *are*: identifiers, ISO 4217
//! currencies, exact amounts in minor units, the stable result codes users see, the
//! canonical (versioned, human-readable) entry encoding that is the ledger's source of
//! truth, and the parser for API request bodies. It never performs I/O, never reads a
//! clock and never uses floating point.
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod amount;
pub mod audit;
pub mod code;
pub mod currency;
pub mod entry;
pub mod event;
pub mod json;
pub mod limits;
pub mod request;
pub mod time;

pub use amount::Amount;
pub use code::ResultCode;
pub use currency::Currency;
pub use entry::{CommitmentRecord, Entry, EntryBody};
pub use event::{
    parse_transfer_flags, AccountFlags, AccountKind, Balancing, Closing, Event, Money, NewAccount, NewTransfer, Phase,
    TransferFlags,
};
