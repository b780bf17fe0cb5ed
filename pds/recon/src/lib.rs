//! Reconciliation, as a sans-IO core: the rules a safeguarding officer runs every day
//! (UK CASS 15, EMD2 Art. 7, PSD2 Art. 10), written once and used by the daemon's API, its
//! CLI and the verifier alike.
//!
//! - [`safeguarding`]: the internal reconciliation. At a cut-off, per currency, the
//!   *requirement* (what is owed to customers: Σ customer balances) against the *resource*
//!   (what is held for them: Σ safeguarding balances), and the shortfall or excess.
//! - [`matching`]: the external reconciliation. A bank's statement for a safeguarding
//!   account, against the ledger's postings to the account that mirrors it: `matched`, or
//!   the breaks (missing in ledger, missing in statement, amount differs, balance differs).
//! - [`entry`]: the break log's canonical entries (one per run, break and resolution), in a
//!   fixed key order like ledger entries, and [`entry::OpenBreaks`], the projection of
//!   which breaks are still open.
//!
//! Money is signed minor units (`i128`) in the account's currency; nothing here rounds.
#![no_std]

extern crate alloc;

pub mod entry;
pub mod matching;
pub mod money;
pub mod safeguarding;

pub use matching::{reconcile, Break, BreakKind, LedgerLine, Outcome, Statement, StatementLine};
pub use money::{format_signed, parse_signed};
pub use safeguarding::{breakdown, positions, Holding, KindTotal, Position};
