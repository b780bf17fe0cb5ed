//! The stable result codes users see for every event of a batch. Codes are part of the
//! public API: never renumber or rename one, only add.

use core::fmt;

/// Outcome of one event of a batch. `Ok` and `Exists` are successes; everything else is
/// a rejection that changed nothing in the ledger.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ResultCode {
    /// Recorded at a new log index.
    Ok,
    /// Already recorded with identical fields (an idempotent retry); the original index is returned.
    Exists,
    /// The identifier is already recorded with different fields.
    IdExistsWithDifferentFields,
    /// The identifier is empty, too long, or uses characters outside `[A-Za-z0-9._:-]`.
    IdInvalid,
    /// The currency is not an ISO 4217 code this ledger knows.
    CurrencyInvalid,
    /// The account kind is not one of the documented kinds.
    KindInvalid,
    /// An account flag is unknown.
    FlagsInvalid,
    /// Both balance-limit flags were set on one account.
    FlagsConflict,
    /// Metadata is not a JSON object, holds a non-integer number, or nests too deeply.
    MetadataInvalid,
    /// Canonical metadata is larger than the limit.
    MetadataTooLarge,
    /// The reference is too long or holds control characters.
    ReferenceInvalid,
    /// The debit or credit account does not exist (see `field`).
    AccountNotFound,
    /// Debit and credit account are the same.
    SameAccount,
    /// The transfer currency differs from an account's currency (see `field`).
    CurrencyMismatch,
    /// The amount is not a positive plain decimal number.
    AmountInvalid,
    /// The amount has more decimal places than the currency's minor unit.
    AmountTooPrecise,
    /// The amount is larger than the ledger can represent.
    AmountTooLarge,
    /// The debit account has `debits_must_not_exceed_credits` and lacks the funds.
    InsufficientFunds,
    /// The credit account has `credits_must_not_exceed_debits` and would exceed it.
    ExceedsCredits,
    /// Posting would overflow the debit account's debits.
    OverflowsDebits,
    /// Posting would overflow the credit account's credits.
    OverflowsCredits,
    /// Another event of the same linked chain failed, so this one was not applied.
    LinkedEventFailed,
    /// The batch ended inside a linked chain (its last event has `linked: true`).
    LinkedEventChainOpen,
    /// The ledger holds as many accounts as it was configured for.
    AccountLimitReached,
    /// The ledger holds as many transfers as it was configured for.
    TransferLimitReached,
    /// A transfer flag is unknown, or more than one two-phase flag is set.
    TransferFlagsInvalid,
    /// `post_pending`/`void_pending` without a `pending_id`.
    PendingIdRequired,
    /// A `pending_id` on a transfer that resolves nothing.
    PendingIdMustBeEmpty,
    /// The `pending_id` is the transfer's own id.
    PendingIdMustBeDifferent,
    /// No transfer has the `pending_id`.
    PendingTransferNotFound,
    /// The transfer named by `pending_id` is not a pending one.
    PendingTransferNotPending,
    /// The pending transfer was already posted.
    PendingTransferAlreadyPosted,
    /// The pending transfer was already voided.
    PendingTransferAlreadyVoided,
    /// A given `debit` differs from the pending transfer's.
    PendingTransferHasDifferentDebit,
    /// A given `credit` differs from the pending transfer's.
    PendingTransferHasDifferentCredit,
    /// A given `currency` differs from the pending transfer's.
    PendingTransferHasDifferentCurrency,
    /// A post's `amount` is larger than the pending amount.
    ExceedsPendingAmount,
    /// A `void_pending` with an `amount`.
    AmountMustBeEmpty,
    /// The pending transfer's timeout passed: it was (or is about to be) released.
    PendingTransferExpired,
    /// A `timeout` on a transfer that is not `pending`.
    TimeoutReservedForPending,
    /// An `imported` event without its `time`.
    ImportedTimeRequired,
    /// A `time` on an event that is not `imported` (the ledger's clock stamps it).
    TimeReservedForImported,
    /// An imported event's `time` is after the ledger's clock.
    ImportedTimeInFuture,
    /// An imported event's `time` is not after the log's last entry.
    ImportedTimeMustIncrease,
    /// A valid RFC 3339 `time` the log cannot hold (before 1970, a leap second).
    TimeInvalid,
    /// The debit or credit account is closed (by a pending closing transfer).
    AccountClosed,
    /// `closing_debit` / `closing_credit` on a transfer that is not `pending`.
    ClosingTransferMustBePending,
    /// A transfer between client money (customer, safeguarding) and the firm's own money
    /// (operational, revenue, expense) without the `firm_funds` flag that declares it.
    FirmFundsUndeclared,
    /// `firm_funds` on a transfer that does not cross between client and firm money.
    FirmFundsNotCrossing,
}

impl ResultCode {
    /// Every code, in documentation order (used by docs and tests).
    pub const ALL: [ResultCode; 49] = [
        ResultCode::Ok,
        ResultCode::Exists,
        ResultCode::IdExistsWithDifferentFields,
        ResultCode::IdInvalid,
        ResultCode::CurrencyInvalid,
        ResultCode::KindInvalid,
        ResultCode::FlagsInvalid,
        ResultCode::FlagsConflict,
        ResultCode::MetadataInvalid,
        ResultCode::MetadataTooLarge,
        ResultCode::ReferenceInvalid,
        ResultCode::AccountNotFound,
        ResultCode::SameAccount,
        ResultCode::CurrencyMismatch,
        ResultCode::AmountInvalid,
        ResultCode::AmountTooPrecise,
        ResultCode::AmountTooLarge,
        ResultCode::InsufficientFunds,
        ResultCode::ExceedsCredits,
        ResultCode::OverflowsDebits,
        ResultCode::OverflowsCredits,
        ResultCode::LinkedEventFailed,
        ResultCode::LinkedEventChainOpen,
        ResultCode::AccountLimitReached,
        ResultCode::TransferLimitReached,
        ResultCode::TransferFlagsInvalid,
        ResultCode::PendingIdRequired,
        ResultCode::PendingIdMustBeEmpty,
        ResultCode::PendingIdMustBeDifferent,
        ResultCode::PendingTransferNotFound,
        ResultCode::PendingTransferNotPending,
        ResultCode::PendingTransferAlreadyPosted,
        ResultCode::PendingTransferAlreadyVoided,
        ResultCode::PendingTransferHasDifferentDebit,
        ResultCode::PendingTransferHasDifferentCredit,
        ResultCode::PendingTransferHasDifferentCurrency,
        ResultCode::ExceedsPendingAmount,
        ResultCode::AmountMustBeEmpty,
        ResultCode::PendingTransferExpired,
        ResultCode::TimeoutReservedForPending,
        ResultCode::ImportedTimeRequired,
        ResultCode::TimeReservedForImported,
        ResultCode::ImportedTimeInFuture,
        ResultCode::ImportedTimeMustIncrease,
        ResultCode::TimeInvalid,
        ResultCode::AccountClosed,
        ResultCode::ClosingTransferMustBePending,
        ResultCode::FirmFundsUndeclared,
        ResultCode::FirmFundsNotCrossing,
    ];

    /// The stable snake_case code users and scripts match on.
    pub fn as_str(self) -> &'static str {
        match self {
            ResultCode::Ok => "ok",
            ResultCode::Exists => "exists",
            ResultCode::IdExistsWithDifferentFields => "id_exists_with_different_fields",
            ResultCode::IdInvalid => "id_invalid",
            ResultCode::CurrencyInvalid => "currency_invalid",
            ResultCode::KindInvalid => "kind_invalid",
            ResultCode::FlagsInvalid => "flags_invalid",
            ResultCode::FlagsConflict => "flags_conflict",
            ResultCode::MetadataInvalid => "metadata_invalid",
            ResultCode::MetadataTooLarge => "metadata_too_large",
            ResultCode::ReferenceInvalid => "reference_invalid",
            ResultCode::AccountNotFound => "account_not_found",
            ResultCode::SameAccount => "same_account",
            ResultCode::CurrencyMismatch => "currency_mismatch",
            ResultCode::AmountInvalid => "amount_invalid",
            ResultCode::AmountTooPrecise => "amount_too_precise",
            ResultCode::AmountTooLarge => "amount_too_large",
            ResultCode::InsufficientFunds => "insufficient_funds",
            ResultCode::ExceedsCredits => "exceeds_credits",
            ResultCode::OverflowsDebits => "overflows_debits",
            ResultCode::OverflowsCredits => "overflows_credits",
            ResultCode::LinkedEventFailed => "linked_event_failed",
            ResultCode::LinkedEventChainOpen => "linked_event_chain_open",
            ResultCode::AccountLimitReached => "account_limit_reached",
            ResultCode::TransferLimitReached => "transfer_limit_reached",
            ResultCode::TransferFlagsInvalid => "transfer_flags_invalid",
            ResultCode::PendingIdRequired => "pending_id_required",
            ResultCode::PendingIdMustBeEmpty => "pending_id_must_be_empty",
            ResultCode::PendingIdMustBeDifferent => "pending_id_must_be_different",
            ResultCode::PendingTransferNotFound => "pending_transfer_not_found",
            ResultCode::PendingTransferNotPending => "pending_transfer_not_pending",
            ResultCode::PendingTransferAlreadyPosted => "pending_transfer_already_posted",
            ResultCode::PendingTransferAlreadyVoided => "pending_transfer_already_voided",
            ResultCode::PendingTransferHasDifferentDebit => "pending_transfer_has_different_debit",
            ResultCode::PendingTransferHasDifferentCredit => "pending_transfer_has_different_credit",
            ResultCode::PendingTransferHasDifferentCurrency => "pending_transfer_has_different_currency",
            ResultCode::ExceedsPendingAmount => "exceeds_pending_amount",
            ResultCode::AmountMustBeEmpty => "amount_must_be_empty",
            ResultCode::PendingTransferExpired => "pending_transfer_expired",
            ResultCode::TimeoutReservedForPending => "timeout_reserved_for_pending",
            ResultCode::ImportedTimeRequired => "imported_time_required",
            ResultCode::TimeReservedForImported => "time_reserved_for_imported",
            ResultCode::ImportedTimeInFuture => "imported_time_in_future",
            ResultCode::ImportedTimeMustIncrease => "imported_time_must_increase",
            ResultCode::TimeInvalid => "time_invalid",
            ResultCode::AccountClosed => "account_closed",
            ResultCode::ClosingTransferMustBePending => "closing_transfer_must_be_pending",
            ResultCode::FirmFundsUndeclared => "firm_funds_undeclared",
            ResultCode::FirmFundsNotCrossing => "firm_funds_not_crossing",
        }
    }

    /// A one-sentence explanation shown next to the code.
    pub fn description(self) -> &'static str {
        match self {
            ResultCode::Ok => "recorded",
            ResultCode::Exists => "already recorded with identical fields; the original index is returned",
            ResultCode::IdExistsWithDifferentFields => "the id is already recorded with different fields",
            ResultCode::IdInvalid => "ids are 1 to 64 characters from A-Z a-z 0-9 . _ : -",
            ResultCode::CurrencyInvalid => "not an ISO 4217 currency code known to this ledger",
            ResultCode::KindInvalid => "kind must be customer, safeguarding, operational, suspense, settlement, revenue or expense",
            ResultCode::FlagsInvalid => "flags may only be debits_must_not_exceed_credits or credits_must_not_exceed_debits",
            ResultCode::FlagsConflict => "an account cannot limit both debits and credits",
            ResultCode::MetadataInvalid => "metadata must be a JSON object of strings, integers, booleans, null, arrays and objects, at most 8 deep",
            ResultCode::MetadataTooLarge => "metadata is larger than 4096 bytes",
            ResultCode::ReferenceInvalid => "reference must be at most 256 bytes without control characters",
            ResultCode::AccountNotFound => "the account does not exist",
            ResultCode::SameAccount => "debit and credit account must differ",
            ResultCode::CurrencyMismatch => "the transfer currency differs from the account's currency",
            ResultCode::AmountInvalid => "amount must be a positive decimal string such as \"10.50\"",
            ResultCode::AmountTooPrecise => "amount has more decimal places than the currency's minor unit",
            ResultCode::AmountTooLarge => "amount is too large",
            ResultCode::InsufficientFunds => "the debit account's debits (posted and pending) would exceed its posted credits",
            ResultCode::ExceedsCredits => "the credit account's credits (posted and pending) would exceed its posted debits",
            ResultCode::OverflowsDebits => "the debit account's total debits would overflow",
            ResultCode::OverflowsCredits => "the credit account's total credits would overflow",
            ResultCode::LinkedEventFailed => "another event of the linked chain failed",
            ResultCode::LinkedEventChainOpen => "the batch ends inside a linked chain",
            ResultCode::AccountLimitReached => "the ledger's account capacity is full",
            ResultCode::TransferLimitReached => "the ledger's transfer capacity is full",
            ResultCode::TransferFlagsInvalid => "transfer flags may only be one of pending, post_pending or void_pending",
            ResultCode::PendingIdRequired => "post_pending and void_pending need the pending_id of the transfer they resolve",
            ResultCode::PendingIdMustBeEmpty => "only post_pending and void_pending take a pending_id",
            ResultCode::PendingIdMustBeDifferent => "a transfer cannot resolve itself",
            ResultCode::PendingTransferNotFound => "no transfer has that pending_id",
            ResultCode::PendingTransferNotPending => "the transfer named by pending_id was not a pending transfer",
            ResultCode::PendingTransferAlreadyPosted => "the pending transfer was already posted",
            ResultCode::PendingTransferAlreadyVoided => "the pending transfer was already voided",
            ResultCode::PendingTransferHasDifferentDebit => "debit differs from the pending transfer's (omit it, or repeat it)",
            ResultCode::PendingTransferHasDifferentCredit => "credit differs from the pending transfer's (omit it, or repeat it)",
            ResultCode::PendingTransferHasDifferentCurrency => "currency differs from the pending transfer's (omit it, or repeat it)",
            ResultCode::ExceedsPendingAmount => "a post may move at most the pending amount",
            ResultCode::AmountMustBeEmpty => "void_pending releases the whole pending amount: omit amount",
            ResultCode::PendingTransferExpired => "the pending transfer's timeout passed: its reservation was released",
            ResultCode::TimeoutReservedForPending => "timeout applies to pending transfers only",
            ResultCode::ImportedTimeRequired => "an imported event needs its original time",
            ResultCode::TimeReservedForImported => "time may be given for imported events only",
            ResultCode::ImportedTimeInFuture => "an imported event's time may not be in the future",
            ResultCode::ImportedTimeMustIncrease => "imported times must increase and follow the log's last entry",
            ResultCode::TimeInvalid => "the log cannot hold this time (before 1970, or a leap second)",
            ResultCode::AccountClosed => "the account is closed: void its closing transfer to reopen it",
            ResultCode::ClosingTransferMustBePending => "closing_debit and closing_credit need the pending flag",
            ResultCode::FirmFundsUndeclared => {
                "a transfer between client money (customer, safeguarding) and the firm's own money (operational, revenue, expense) needs the firm_funds flag"
            }
            ResultCode::FirmFundsNotCrossing => {
                "firm_funds declares a transfer between client money and the firm's own money; this one does not cross"
            }
        }
    }

    /// True for `Ok` and `Exists`: the event is (or already was) in the log.
    pub fn is_success(self) -> bool {
        matches!(self, ResultCode::Ok | ResultCode::Exists)
    }

    /// Looks a code up by its stable string.
    pub fn parse(text: &str) -> Option<ResultCode> {
        ResultCode::ALL.iter().copied().find(|c| c.as_str() == text)
    }
}

impl fmt::Display for ResultCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_round_trip() {
        for (i, a) in ResultCode::ALL.iter().enumerate() {
            assert_eq!(ResultCode::parse(a.as_str()), Some(*a));
            for b in &ResultCode::ALL[i + 1..] {
                assert_ne!(a.as_str(), b.as_str());
            }
        }
    }
}
