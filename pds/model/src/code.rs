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
}

impl ResultCode {
    /// Every code, in documentation order (used by docs and tests).
    pub const ALL: [ResultCode; 25] = [
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
            ResultCode::InsufficientFunds => "the debit account's debits would exceed its credits",
            ResultCode::ExceedsCredits => "the credit account's credits would exceed its debits",
            ResultCode::OverflowsDebits => "the debit account's total debits would overflow",
            ResultCode::OverflowsCredits => "the credit account's total credits would overflow",
            ResultCode::LinkedEventFailed => "another event of the linked chain failed",
            ResultCode::LinkedEventChainOpen => "the batch ends inside a linked chain",
            ResultCode::AccountLimitReached => "the ledger's account capacity is full",
            ResultCode::TransferLimitReached => "the ledger's transfer capacity is full",
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
