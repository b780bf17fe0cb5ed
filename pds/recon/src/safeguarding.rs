//! The internal reconciliation (CASS 15's daily internal safeguarding reconciliation, EMD2
//! Art. 7): per currency, the safeguarding *requirement* — the e-money owed to customers,
//! Σ of customer accounts' posted balances (credits − debits: a customer account is a
//! liability) — against the *resource* — what the firm holds for them, Σ of safeguarding
//! accounts' posted balances (debits − credits: each mirrors a bank account, an asset).
//! A resource below the requirement is a shortfall the firm must make good the same day;
//! above it, an excess it may withdraw.
//!
//! Pending (two-phase) amounts are not counted: a reservation has not moved the money.

use alloc::vec::Vec;

use ledgerfs_model::{AccountKind, Currency};

/// One account's posted totals, as a reconciliation reads them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Holding {
    /// What the account is for; only customer and safeguarding accounts count.
    pub kind: AccountKind,
    /// The account's currency.
    pub currency: Currency,
    /// Sum of posted debits (minor units).
    pub debits: u128,
    /// Sum of posted credits (minor units).
    pub credits: u128,
}

/// Requirement and resource in one currency.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Position {
    /// The currency.
    pub currency: Currency,
    /// Owed to customers: Σ customer (credits − debits).
    pub requirement: i128,
    /// Held for them: Σ safeguarding (debits − credits).
    pub resource: i128,
    /// Customer accounts counted.
    pub customer_accounts: u64,
    /// Safeguarding accounts counted.
    pub safeguarding_accounts: u64,
}

impl Position {
    /// Resource minus requirement: negative is a shortfall, positive an excess.
    pub fn difference(&self) -> i128 {
        self.resource - self.requirement
    }

    /// The shortfall (0 if none).
    pub fn shortfall(&self) -> i128 {
        (-self.difference()).max(0)
    }

    /// The excess (0 if none).
    pub fn excess(&self) -> i128 {
        self.difference().max(0)
    }
}

fn signed(a: u128) -> i128 {
    // Totals are bounded by the ledger's limits far below 2^127.
    i128::try_from(a).unwrap_or(i128::MAX)
}

/// The positions of every currency that has a customer or safeguarding account, sorted by
/// currency code.
pub fn positions(holdings: impl IntoIterator<Item = Holding>) -> Vec<Position> {
    let mut out: Vec<Position> = Vec::new();
    for h in holdings {
        if !matches!(h.kind, AccountKind::Customer | AccountKind::Safeguarding) {
            continue;
        }
        let at = match out.binary_search_by(|p| p.currency.code().cmp(h.currency.code())) {
            Ok(i) => i,
            Err(i) => {
                out.insert(
                    i,
                    Position {
                        currency: h.currency,
                        requirement: 0,
                        resource: 0,
                        customer_accounts: 0,
                        safeguarding_accounts: 0,
                    },
                );
                i
            }
        };
        let p = &mut out[at];
        if h.kind == AccountKind::Customer {
            p.requirement += signed(h.credits) - signed(h.debits);
            p.customer_accounts += 1;
        } else {
            p.resource += signed(h.debits) - signed(h.credits);
            p.safeguarding_accounts += 1;
        }
    }
    out
}

/// Posted totals of every account of one kind in one currency: the liabilities (and
/// assets) breakdown a safeguarding return and a regulator's report show.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KindTotal {
    /// The kind.
    pub kind: AccountKind,
    /// The currency.
    pub currency: Currency,
    /// Accounts counted.
    pub accounts: u64,
    /// Σ posted debits.
    pub debits: u128,
    /// Σ posted credits.
    pub credits: u128,
}

impl KindTotal {
    /// Credits minus debits (what a liability account owes; negative for an asset).
    pub fn net_credit(&self) -> i128 {
        signed(self.credits) - signed(self.debits)
    }
}

/// Totals per (kind, currency) of every account, sorted by kind (documentation order)
/// then currency code.
pub fn breakdown(holdings: impl IntoIterator<Item = Holding>) -> Vec<KindTotal> {
    let rank = |k: AccountKind| AccountKind::ALL.iter().position(|&x| x == k).unwrap_or(usize::MAX);
    let mut out: Vec<KindTotal> = Vec::new();
    for h in holdings {
        let key = |t: &KindTotal| (rank(t.kind), t.currency.code().as_bytes().to_vec());
        let wanted = (rank(h.kind), h.currency.code().as_bytes().to_vec());
        let at = match out.binary_search_by(|t| key(t).cmp(&wanted)) {
            Ok(i) => i,
            Err(i) => {
                out.insert(
                    i,
                    KindTotal {
                        kind: h.kind,
                        currency: h.currency,
                        accounts: 0,
                        debits: 0,
                        credits: 0,
                    },
                );
                i
            }
        };
        let t = &mut out[at];
        t.accounts += 1;
        t.debits += h.debits;
        t.credits += h.credits;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(kind: AccountKind, code: &str, debits: u128, credits: u128) -> Holding {
        Holding {
            kind,
            currency: Currency::from_code(code).unwrap(),
            debits,
            credits,
        }
    }

    #[test]
    fn requirement_against_resource_per_currency() {
        let p = positions([
            h(AccountKind::Customer, "EUR", 100, 1_100),
            h(AccountKind::Customer, "EUR", 0, 500),
            h(AccountKind::Safeguarding, "EUR", 1_400, 0),
            h(AccountKind::Operational, "EUR", 0, 99_999),
            h(AccountKind::Customer, "GBP", 0, 10),
            h(AccountKind::Safeguarding, "GBP", 25, 0),
        ]);
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].currency.code(), "EUR");
        assert_eq!(
            (p[0].requirement, p[0].resource, p[0].shortfall(), p[0].excess()),
            (1_500, 1_400, 100, 0)
        );
        assert_eq!((p[0].customer_accounts, p[0].safeguarding_accounts), (2, 1));
        assert_eq!((p[1].currency.code(), p[1].shortfall(), p[1].excess()), ("GBP", 0, 15));
    }

    #[test]
    fn breakdown_by_kind_and_currency() {
        let b = breakdown([
            h(AccountKind::Operational, "EUR", 5, 0),
            h(AccountKind::Customer, "GBP", 0, 7),
            h(AccountKind::Customer, "EUR", 1, 10),
            h(AccountKind::Customer, "EUR", 0, 4),
        ]);
        let rows: Vec<_> = b
            .iter()
            .map(|t| (t.kind.as_str(), t.currency.code(), t.accounts, t.net_credit()))
            .collect();
        assert_eq!(
            rows,
            [
                ("customer", "EUR", 2, 13),
                ("customer", "GBP", 1, 7),
                ("operational", "EUR", 1, -5)
            ]
        );
    }

    proptest::proptest! {
        /// Money moved between a customer and a safeguarding account (funding in, or
        /// redemption out) changes requirement and resource by the same amount.
        #[test]
        fn funding_keeps_the_difference(start in 0u128..1_000_000, moves in proptest::collection::vec(0u128..10_000, 0..20)) {
            let mut customer = h(AccountKind::Customer, "EUR", 0, start);
            let mut bank = h(AccountKind::Safeguarding, "EUR", start, 0);
            for m in moves {
                customer.credits += m;
                bank.debits += m;
            }
            let p = positions([customer, bank]);
            proptest::prop_assert_eq!(p[0].difference(), 0);
        }
    }
}
