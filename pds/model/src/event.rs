//! Events as clients submit them (accounts to create, transfers to post), before the
//! sequencer validates them, and the per-event validation rules that need no ledger
//! state. Fields stay as the client's text so that every rejection is reported by the
//! sequencer with its code, inside the batch, in order.

use alloc::string::String;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

use crate::code::ResultCode;
use crate::limits::{MAX_ID_LEN, MAX_REFERENCE_LEN};

/// One event of a batch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Event {
    /// Open an account.
    Account(NewAccount),
    /// Post a double-entry transfer.
    Transfer(NewTransfer),
}

impl Event {
    /// Whether this event chains to the next one (all-or-nothing group).
    pub fn linked(&self) -> bool {
        match self {
            Event::Account(a) => a.linked,
            Event::Transfer(t) => t.linked,
        }
    }

    /// The client-chosen identifier.
    pub fn id(&self) -> &str {
        match self {
            Event::Account(a) => &a.id,
            Event::Transfer(t) => &t.id,
        }
    }
}

/// An account as requested: `{"id", "currency", "kind", "flags", "metadata"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewAccount {
    /// Client-chosen unique identifier.
    pub id: String,
    /// ISO 4217 code; the account's ledger.
    pub currency: String,
    /// One of the [`AccountKind`] names.
    pub kind: String,
    /// Names of [`AccountFlags`].
    pub flags: Vec<String>,
    /// Raw JSON text of the metadata object.
    pub metadata: String,
    /// Chains this event to the next one.
    pub linked: bool,
    /// With the `imported` flag: the original time (Unix nanoseconds; 0 otherwise).
    pub time: u64,
}

/// A transfer as requested: `{"id", "debit", "credit", "amount", "currency", "reference",
/// "metadata", "linked", "flags", "pending_id"}`. A `post_pending`/`void_pending` may leave
/// `debit`, `credit`, `currency` and (post: the full amount; void: always) `amount` empty:
/// they are the pending transfer's.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewTransfer {
    /// Client-chosen unique identifier.
    pub id: String,
    /// Account debited.
    pub debit: String,
    /// Account credited.
    pub credit: String,
    /// Decimal text, e.g. "10.50".
    pub amount: String,
    /// ISO 4217 code; must match both accounts.
    pub currency: String,
    /// Free text for the counterparties (invoice number, payment reference).
    pub reference: String,
    /// Raw JSON text of the metadata object (may hold document descriptors).
    pub metadata: String,
    /// Chains this event to the next one.
    pub linked: bool,
    /// Two-phase flags: none, or one of `pending`, `post_pending`, `void_pending`.
    pub flags: Vec<String>,
    /// The pending transfer a `post_pending`/`void_pending` resolves (empty otherwise).
    pub pending_id: String,
    /// Seconds after which a `pending` transfer not yet posted or voided expires (0:
    /// never). Only a pending transfer may have one.
    pub timeout: u64,
    /// With the `imported` flag: the original time (Unix nanoseconds; 0 otherwise).
    pub time: u64,
}

/// What a transfer does in the two-phase model (TigerBeetle's): post at once, reserve,
/// or resolve a reservation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Phase<S = String> {
    /// Posted at once (no flag).
    Single,
    /// Reserves the amount: pending debits and credits, limits counting them.
    Pending,
    /// Posts (all or part of) the pending transfer `pending_id`; the rest is released.
    Post {
        /// Id of the pending transfer.
        pending_id: S,
    },
    /// Releases the pending transfer `pending_id`.
    Void {
        /// Id of the pending transfer.
        pending_id: S,
    },
    /// Releases the pending transfer `pending_id` because its timeout passed. Written by
    /// the sequencer only (its entry's `id` is the pending transfer's); a request asking
    /// for it is refused.
    Expire {
        /// Id of the pending transfer.
        pending_id: S,
    },
}

/// The flag of a pending transfer ([`Phase::Pending`]).
pub const PENDING: &str = "pending";
/// The flag of a post ([`Phase::Post`]).
pub const POST_PENDING: &str = "post_pending";
/// The flag of a void ([`Phase::Void`]).
pub const VOID_PENDING: &str = "void_pending";
/// The flag of an expiry entry ([`Phase::Expire`]): the ledger writes it, requests may not.
pub const EXPIRE_PENDING: &str = "expire_pending";
/// Every two-phase flag, in the order of [`Phase`]'s variants: what readers (queries,
/// renderings) may name a phase by.
pub const PHASE_FLAGS: [&str; 4] = [PENDING, POST_PENDING, VOID_PENDING, EXPIRE_PENDING];

impl<S: AsRef<str>> Phase<S> {
    /// The flag naming this phase in requests and entries (`None` for a single-phase one).
    pub fn flag(&self) -> Option<&'static str> {
        match self {
            Phase::Single => None,
            Phase::Pending => Some(PENDING),
            Phase::Post { .. } => Some(POST_PENDING),
            Phase::Void { .. } => Some(VOID_PENDING),
            Phase::Expire { .. } => Some(EXPIRE_PENDING),
        }
    }

    /// The pending transfer this one resolves.
    pub fn pending_id(&self) -> Option<&str> {
        match self {
            Phase::Post { pending_id } | Phase::Void { pending_id } | Phase::Expire { pending_id } => {
                Some(pending_id.as_ref())
            }
            _ => None,
        }
    }
}

/// Balancing flags (TigerBeetle's): the amount is a maximum, clamped to what the debit
/// account can give (`balancing_debit`: its posted credits less its posted and pending
/// debits) and/or the credit account can take (`balancing_credit`: its posted debits less
/// its posted and pending credits); the entry records what moved.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Balancing {
    /// Clamp to the debit account's balance.
    pub debit: bool,
    /// Clamp to the credit account's balance.
    pub credit: bool,
}

impl Balancing {
    /// Either flag set.
    pub fn any(self) -> bool {
        self.debit || self.credit
    }

    /// The flags' names, in canonical order.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        [(self.debit, "balancing_debit"), (self.credit, "balancing_credit")]
            .into_iter()
            .filter_map(|(set, name)| set.then_some(name))
    }
}

/// Closing flags (TigerBeetle's), on a pending transfer only: while it is pending (and
/// once posted) the debit (`closing_debit`) and/or credit (`closing_credit`) account is
/// closed and refuses new transfers (`account_closed`); voiding it, or its expiry, reopens.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Closing {
    /// Closes the debit account.
    pub debit: bool,
    /// Closes the credit account.
    pub credit: bool,
}

impl Closing {
    /// Either flag set.
    pub fn any(self) -> bool {
        self.debit || self.credit
    }

    /// The flags' names, in canonical order.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        [(self.debit, "closing_debit"), (self.credit, "closing_credit")]
            .into_iter()
            .filter_map(|(set, name)| set.then_some(name))
    }
}

/// An event's `time` that was given but is not a valid RFC 3339 UTC time (the event is
/// refused with `time_invalid`).
pub const INVALID_TIME: u64 = u64::MAX;

/// What a transfer's `flags` ask for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransferFlags<'a> {
    /// Single, pending, or a resolution.
    pub phase: Phase<&'a str>,
    /// Balancing flags.
    pub balancing: Balancing,
    /// Closing flags.
    pub closing: Closing,
    /// Migrated with its original time (`imported`).
    pub imported: bool,
    /// Declares a movement between client money and the firm's own money (`firm_funds`).
    pub firm_funds: bool,
}

/// The flag that declares a transfer between client money (customer, safeguarding accounts)
/// and the firm's own money (operational, revenue, expense): a fee, a refund, a safeguarding
/// top-up. Fund segregation (CASS 15) refuses such a transfer without it.
pub const FIRM_FUNDS: &str = "firm_funds";

/// The phase and balancing flags a transfer's `flags` and `pending_id` ask for, or the code
/// refusing them: at most one phase flag (`pending`, `post_pending`, `void_pending`,
/// `expire_pending`), each balancing flag and `imported` at most once, and balancing only
/// on a transfer that moves its own amount (single or pending), never on a resolution.
pub fn parse_transfer_flags<'a>(flags: &[String], pending_id: &'a str) -> Result<TransferFlags<'a>, crate::ResultCode> {
    use crate::ResultCode as C;
    let mut phase = Phase::Single;
    let mut balancing = Balancing::default();
    let mut imported = false;
    let mut closing = Closing::default();
    let mut firm_funds = false;
    for flag in flags {
        let (slot, set) = match flag.as_str() {
            FIRM_FUNDS => (&mut firm_funds, true),
            "balancing_debit" => (&mut balancing.debit, true),
            "balancing_credit" => (&mut balancing.credit, true),
            "closing_debit" => (&mut closing.debit, true),
            "closing_credit" => (&mut closing.credit, true),
            AccountFlags::IMPORTED => (&mut imported, true),
            other => {
                if phase != Phase::Single {
                    return Err(C::TransferFlagsInvalid);
                }
                phase = match other {
                    PENDING => Phase::Pending,
                    POST_PENDING => Phase::Post { pending_id },
                    VOID_PENDING => Phase::Void { pending_id },
                    EXPIRE_PENDING => Phase::Expire { pending_id },
                    _ => return Err(C::TransferFlagsInvalid),
                };
                continue;
            }
        };
        if *slot {
            return Err(C::TransferFlagsInvalid);
        }
        *slot = set;
    }
    if (balancing.any() || firm_funds) && !matches!(phase, Phase::Single | Phase::Pending) {
        return Err(C::TransferFlagsInvalid);
    }
    if closing.any() && phase != Phase::Pending {
        return Err(C::ClosingTransferMustBePending);
    }
    match (&phase, pending_id.is_empty()) {
        (Phase::Post { .. } | Phase::Void { .. } | Phase::Expire { .. }, true) => Err(C::PendingIdRequired),
        (Phase::Single | Phase::Pending, false) => Err(C::PendingIdMustBeEmpty),
        _ => Ok(TransferFlags {
            phase,
            balancing,
            closing,
            imported,
            firm_funds,
        }),
    }
}

impl<'a> Phase<&'a str> {
    /// The phase a request's `flags` and `pending_id` ask for, or the code refusing them
    /// (balancing flags aside: see [`parse_transfer_flags`]).
    pub fn parse(flags: &[String], pending_id: &'a str) -> Result<Phase<&'a str>, crate::ResultCode> {
        parse_transfer_flags(flags, pending_id).map(|f| f.phase)
    }

    /// An owned copy.
    pub fn to_owned(&self) -> Phase<String> {
        match self {
            Phase::Single => Phase::Single,
            Phase::Pending => Phase::Pending,
            Phase::Post { pending_id } => Phase::Post {
                pending_id: (*pending_id).into(),
            },
            Phase::Void { pending_id } => Phase::Void {
                pending_id: (*pending_id).into(),
            },
            Phase::Expire { pending_id } => Phase::Expire {
                pending_id: (*pending_id).into(),
            },
        }
    }
}

/// What an account is for; reports group balances by kind (e.g. safeguarding).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AccountKind {
    /// A customer's e-money or deposit account.
    Customer,
    /// Funds held in a safeguarding account for customers.
    Safeguarding,
    /// The institution's own operating funds.
    Operational,
    /// Unreconciled items awaiting investigation.
    Suspense,
    /// Clearing and settlement with other institutions.
    Settlement,
    /// Fee and interest income.
    Revenue,
    /// Costs.
    Expense,
}

impl AccountKind {
    /// Every kind, in documentation order.
    pub const ALL: [AccountKind; 7] = [
        AccountKind::Customer,
        AccountKind::Safeguarding,
        AccountKind::Operational,
        AccountKind::Suspense,
        AccountKind::Settlement,
        AccountKind::Revenue,
        AccountKind::Expense,
    ];

    /// The stable name used in requests, entries and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            AccountKind::Customer => "customer",
            AccountKind::Safeguarding => "safeguarding",
            AccountKind::Operational => "operational",
            AccountKind::Suspense => "suspense",
            AccountKind::Settlement => "settlement",
            AccountKind::Revenue => "revenue",
            AccountKind::Expense => "expense",
        }
    }

    /// Parses a stable name.
    pub fn parse(text: &str) -> Option<AccountKind> {
        AccountKind::ALL.iter().copied().find(|k| k.as_str() == text)
    }

    /// Whose money the account holds, for fund segregation.
    pub fn money(self) -> Money {
        match self {
            AccountKind::Customer | AccountKind::Safeguarding => Money::Client,
            AccountKind::Operational | AccountKind::Revenue | AccountKind::Expense => Money::Firm,
            AccountKind::Suspense | AccountKind::Settlement => Money::Neutral,
        }
    }
}

/// Whose money an account kind holds (CASS 15's segregation of client money).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Money {
    /// Owed to customers, or held for them.
    Client,
    /// The firm's own.
    Firm,
    /// Passing through (suspense, settlement): either side's.
    Neutral,
}

impl Money {
    /// Whether a transfer between accounts holding `self` and `other` moves money between
    /// client money and the firm's own (so must declare it with [`FIRM_FUNDS`]).
    pub fn crosses(self, other: Money) -> bool {
        matches!(
            (self, other),
            (Money::Client, Money::Firm) | (Money::Firm, Money::Client)
        )
    }
}

/// Balance limits an account enforces on every posting.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct AccountFlags {
    /// Debits may never exceed credits (a customer cannot overdraw).
    pub debits_must_not_exceed_credits: bool,
    /// Credits may never exceed debits (an asset account cannot go negative).
    pub credits_must_not_exceed_debits: bool,
    /// Migrated from another system with its original `time` (no effect on balances).
    pub imported: bool,
}

impl AccountFlags {
    /// Name of the debit-limit flag.
    pub const DEBITS_LIMIT: &'static str = "debits_must_not_exceed_credits";
    /// Name of the credit-limit flag.
    pub const CREDITS_LIMIT: &'static str = "credits_must_not_exceed_debits";
    /// Name of the imported flag (accounts and transfers).
    pub const IMPORTED: &'static str = "imported";

    /// Parses flag names; duplicates are allowed, unknown names and both limits are not.
    pub fn parse<S: AsRef<str>>(names: &[S]) -> Result<AccountFlags, ResultCode> {
        let mut flags = AccountFlags::default();
        for name in names {
            match name.as_ref() {
                Self::DEBITS_LIMIT => flags.debits_must_not_exceed_credits = true,
                Self::CREDITS_LIMIT => flags.credits_must_not_exceed_debits = true,
                Self::IMPORTED => flags.imported = true,
                _ => return Err(ResultCode::FlagsInvalid),
            }
        }
        if flags.debits_must_not_exceed_credits && flags.credits_must_not_exceed_debits {
            return Err(ResultCode::FlagsConflict);
        }
        Ok(flags)
    }

    /// Flag names in canonical order.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        let debit = self.debits_must_not_exceed_credits.then_some(Self::DEBITS_LIMIT);
        let credit = self.credits_must_not_exceed_debits.then_some(Self::CREDITS_LIMIT);
        let imported = self.imported.then_some(Self::IMPORTED);
        debit.into_iter().chain(credit).chain(imported)
    }
}

/// Checks an account or transfer identifier: 1..=64 bytes of `[A-Za-z0-9._:-]`.
/// The alphabet keeps ids safe as file names in the FUSE view and in URLs.
pub fn validate_id(id: &str) -> Result<(), ResultCode> {
    let ok = !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id != "."
        && id != ".."
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(ResultCode::IdInvalid)
    }
}

/// Checks a transfer reference: at most 256 bytes, no control characters.
pub fn validate_reference(reference: &str) -> Result<(), ResultCode> {
    if reference.len() > MAX_REFERENCE_LEN || reference.chars().any(char::is_control) {
        return Err(ResultCode::ReferenceInvalid);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        for good in ["a", "acc_001", "tx:2026-11-21.1", &"x".repeat(64)] {
            assert_eq!(validate_id(good), Ok(()), "{good}");
        }
        for bad in ["", ".", "..", "a/b", "a b", "é", &"x".repeat(65), "a\n"] {
            assert_eq!(validate_id(bad), Err(ResultCode::IdInvalid), "{bad}");
        }
    }

    #[test]
    fn flags() {
        assert_eq!(AccountFlags::parse::<&str>(&[]), Ok(AccountFlags::default()));
        let f = AccountFlags::parse(&["debits_must_not_exceed_credits"]).unwrap();
        assert!(f.debits_must_not_exceed_credits);
        assert_eq!(f.names().count(), 1);
        assert_eq!(AccountFlags::parse(&["nope"]), Err(ResultCode::FlagsInvalid));
        assert_eq!(
            AccountFlags::parse(&[AccountFlags::DEBITS_LIMIT, AccountFlags::CREDITS_LIMIT]),
            Err(ResultCode::FlagsConflict)
        );
    }

    #[test]
    fn references() {
        assert_eq!(validate_reference("invoice 42 — März"), Ok(()));
        assert_eq!(validate_reference("a\tb"), Err(ResultCode::ReferenceInvalid));
        assert_eq!(validate_reference(&"r".repeat(257)), Err(ResultCode::ReferenceInvalid));
    }
}
