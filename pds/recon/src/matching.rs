//! The external reconciliation: a bank's statement for one safeguarding account and one
//! day, against the ledger's postings that day to the account mirroring it.
//!
//! Signs are the bank's: a statement credit (money into the bank account) is positive.
//! On the ledger the mirror account is an asset, so the same money is a *debit* of it:
//! a ledger line's amount is its debit minus its credit.
//!
//! The rule, in order (deterministic, so a re-run over the same inputs gives the same
//! breaks):
//! 1. A statement line matches the first unmatched ledger line whose transfer reference
//!    or transfer id equals the line's reference and whose amount is equal.
//! 2. A line left over whose reference names an unmatched ledger line of another amount:
//!    `amount_differs` (both are used up).
//! 3. Lines still left: `missing_in_ledger`; ledger lines still left:
//!    `missing_in_statement`.
//! 4. The statement's closing balance against the ledger's balance at the end of the day,
//!    and its opening balance (when it has one) against the balance at the start:
//!    `balance_differs`.
//!
//! References are the matching key: a line without one can only be a break.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use ledgerfs_model::Currency;

/// A bank statement, as parsed from camt.053 or CSV.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Statement {
    /// The statement's currency (the account's).
    pub currency: Currency,
    /// Balance at the start of the day, when the statement gives one.
    pub opening: Option<i128>,
    /// Balance at the end of the day.
    pub closing: i128,
    /// Booked entries, in statement order.
    pub lines: Vec<StatementLine>,
}

/// One booked entry of a statement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatementLine {
    /// The payment's reference (end-to-end id, entry reference or remittance text).
    pub reference: String,
    /// Signed minor units: positive for a credit to the bank account.
    pub amount: i128,
    /// Booking date, `YYYY-MM-DD`.
    pub date: String,
}

/// One posting of the mirror account on the ledger.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LedgerLine {
    /// The transfer's log index.
    pub index: u64,
    /// The transfer's id.
    pub id: String,
    /// The transfer's reference.
    pub reference: String,
    /// Signed minor units: debit minus credit of the mirror account.
    pub amount: i128,
}

/// What kind of difference a break is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum BreakKind {
    /// The bank booked it; the ledger has no posting for it.
    MissingInLedger,
    /// The ledger posted it; the bank's statement does not show it.
    MissingInStatement,
    /// Both have it, for different amounts.
    AmountDiffers,
    /// The statement's opening or closing balance is not the ledger's.
    BalanceDiffers,
    /// The internal reconciliation found less held than owed.
    Shortfall,
}

impl BreakKind {
    /// The name in API bodies and break-log entries.
    pub fn as_str(self) -> &'static str {
        match self {
            BreakKind::MissingInLedger => "missing_in_ledger",
            BreakKind::MissingInStatement => "missing_in_statement",
            BreakKind::AmountDiffers => "amount_differs",
            BreakKind::BalanceDiffers => "balance_differs",
            BreakKind::Shortfall => "shortfall",
        }
    }

    /// Parses [`BreakKind::as_str`]'s names.
    pub fn parse(text: &str) -> Option<BreakKind> {
        [
            BreakKind::MissingInLedger,
            BreakKind::MissingInStatement,
            BreakKind::AmountDiffers,
            BreakKind::BalanceDiffers,
            BreakKind::Shortfall,
        ]
        .into_iter()
        .find(|k| k.as_str() == text)
    }
}

/// One difference between the statement and the ledger.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Break {
    /// What differs.
    pub kind: BreakKind,
    /// The reference involved (`opening`/`closing` for a balance).
    pub reference: String,
    /// The statement's amount, if it has one.
    pub statement_amount: Option<i128>,
    /// The ledger's amount, if it has one.
    pub ledger_amount: Option<i128>,
    /// The ledger transfer's index, if one is involved.
    pub ledger_index: Option<u64>,
}

/// The result of one reconciliation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// Statement lines matched to a ledger posting.
    pub matched: usize,
    /// Every difference, statement lines first (in statement order), then ledger lines
    /// (in log order), then balances.
    pub breaks: Vec<Break>,
}

impl Outcome {
    /// Whether statement and ledger agree entirely.
    pub fn is_matched(&self) -> bool {
        self.breaks.is_empty()
    }
}

/// Reconciles `statement` against the mirror account's `ledger` lines of the same day,
/// whose balance was `ledger_opening` at the start of the day and `ledger_closing` at
/// its end.
pub fn reconcile(statement: &Statement, ledger: &[LedgerLine], ledger_opening: i128, ledger_closing: i128) -> Outcome {
    // Ledger lines by each key they answer to (reference and id), oldest first.
    let mut by_key: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, l) in ledger.iter().enumerate() {
        for key in [l.reference.as_str(), l.id.as_str()] {
            if !key.is_empty() {
                let slot = by_key.entry(key).or_default();
                if slot.last() != Some(&i) {
                    slot.push(i);
                }
            }
        }
    }
    let mut used = alloc::vec![false; ledger.len()];
    let mut line_match: Vec<Option<usize>> = alloc::vec![None; statement.lines.len()];
    let candidates = |reference: &str| by_key.get(reference).map(Vec::as_slice).unwrap_or(&[]);
    for (s, line) in statement.lines.iter().enumerate() {
        let found = candidates(&line.reference)
            .iter()
            .copied()
            .find(|&i| !used[i] && ledger[i].amount == line.amount);
        if let Some(i) = found {
            used[i] = true;
            line_match[s] = Some(i);
        }
    }
    let mut outcome = Outcome {
        matched: line_match.iter().filter(|m| m.is_some()).count(),
        breaks: Vec::new(),
    };
    for (s, line) in statement.lines.iter().enumerate() {
        if line_match[s].is_some() {
            continue;
        }
        let other = candidates(&line.reference).iter().copied().find(|&i| !used[i]);
        match other {
            Some(i) => {
                used[i] = true;
                outcome.breaks.push(Break {
                    kind: BreakKind::AmountDiffers,
                    reference: line.reference.clone(),
                    statement_amount: Some(line.amount),
                    ledger_amount: Some(ledger[i].amount),
                    ledger_index: Some(ledger[i].index),
                });
            }
            None => outcome.breaks.push(Break {
                kind: BreakKind::MissingInLedger,
                reference: line.reference.clone(),
                statement_amount: Some(line.amount),
                ledger_amount: None,
                ledger_index: None,
            }),
        }
    }
    for (i, l) in ledger.iter().enumerate() {
        if !used[i] {
            outcome.breaks.push(Break {
                kind: BreakKind::MissingInStatement,
                reference: if l.reference.is_empty() {
                    l.id.clone()
                } else {
                    l.reference.clone()
                },
                statement_amount: None,
                ledger_amount: Some(l.amount),
                ledger_index: Some(l.index),
            });
        }
    }
    let balances = [
        ("opening", statement.opening, ledger_opening),
        ("closing", Some(statement.closing), ledger_closing),
    ];
    for (name, stated, ours) in balances {
        if let Some(stated) = stated {
            if stated != ours {
                outcome.breaks.push(Break {
                    kind: BreakKind::BalanceDiffers,
                    reference: name.into(),
                    statement_amount: Some(stated),
                    ledger_amount: Some(ours),
                    ledger_index: None,
                });
            }
        }
    }
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    fn eur() -> Currency {
        Currency::from_code("EUR").unwrap()
    }

    fn line(reference: &str, amount: i128) -> StatementLine {
        StatementLine {
            reference: reference.to_string(),
            amount,
            date: "2026-11-30".to_string(),
        }
    }

    fn posting(index: u64, id: &str, reference: &str, amount: i128) -> LedgerLine {
        LedgerLine {
            index,
            id: id.to_string(),
            reference: reference.to_string(),
            amount,
        }
    }

    fn statement(lines: Vec<StatementLine>, closing: i128) -> Statement {
        Statement {
            currency: eur(),
            opening: Some(1_000),
            closing,
            lines,
        }
    }

    #[test]
    fn a_statement_that_matches() {
        let ledger = [posting(5, "t1", "INV-1", 500), posting(6, "t2", "", -200)];
        let s = statement(alloc::vec![line("INV-1", 500), line("t2", -200)], 1_300);
        let o = reconcile(&s, &ledger, 1_000, 1_300);
        assert!(o.is_matched(), "{o:?}");
        assert_eq!(o.matched, 2);
    }

    #[test]
    fn every_kind_of_break() {
        let ledger = [
            posting(5, "t1", "INV-1", 500),
            posting(6, "t2", "INV-2", 250),
            posting(7, "t3", "INV-3", 75),
        ];
        let s = statement(
            alloc::vec![line("INV-1", 500), line("INV-2", 205), line("INV-9", 40)],
            1_745,
        );
        let o = reconcile(&s, &ledger, 1_000, 1_825);
        let kinds: Vec<_> = o.breaks.iter().map(|b| (b.kind, b.reference.as_str())).collect();
        assert_eq!(
            kinds,
            [
                (BreakKind::AmountDiffers, "INV-2"),
                (BreakKind::MissingInLedger, "INV-9"),
                (BreakKind::MissingInStatement, "INV-3"),
                (BreakKind::BalanceDiffers, "closing"),
            ]
        );
        assert_eq!(o.matched, 1);
        assert_eq!(o.breaks[0].ledger_index, Some(6));
        assert_eq!(
            (o.breaks[3].statement_amount, o.breaks[3].ledger_amount),
            (Some(1_745), Some(1_825))
        );
    }

    #[test]
    fn duplicates_match_one_for_one_and_opening_is_checked() {
        let ledger = [posting(1, "a", "R", 10), posting(2, "b", "R", 10)];
        let s = statement(alloc::vec![line("R", 10), line("R", 10), line("R", 10)], 1_030);
        let o = reconcile(&s, &ledger, 999, 1_020);
        assert_eq!(o.matched, 2);
        let kinds: Vec<_> = o.breaks.iter().map(|b| b.kind).collect();
        assert_eq!(
            kinds,
            [
                BreakKind::MissingInLedger,
                BreakKind::BalanceDiffers,
                BreakKind::BalanceDiffers
            ]
        );
        assert_eq!(o.breaks[1].reference, "opening");
    }

    proptest::proptest! {
        /// A statement that is the ledger's own postings, in any order, always matches; and
        /// every line is accounted for exactly once (matched or a break) in any case.
        #[test]
        fn the_ledger_matches_itself(amounts in proptest::collection::vec(-1_000i128..1_000, 0..30), rotate in 0usize..30, drop in proptest::option::of(0usize..30)) {
            let ledger: Vec<LedgerLine> = amounts.iter().enumerate()
                .map(|(i, &a)| posting(i as u64, &alloc::format!("t{i}"), &alloc::format!("R{}", i % 4), a)).collect();
            let mut lines: Vec<StatementLine> = ledger.iter().map(|l| line(&l.reference, l.amount)).collect();
            if !lines.is_empty() { let r = rotate % lines.len(); lines.rotate_left(r); }
            let total: i128 = amounts.iter().sum();
            let o = reconcile(&statement(lines.clone(), 1_000 + total), &ledger, 1_000, 1_000 + total);
            proptest::prop_assert!(o.is_matched());
            if let Some(d) = drop.filter(|&d| d < lines.len()) {
                lines.remove(d);
                let o = reconcile(&statement(lines.clone(), 1_000 + total), &ledger, 1_000, 1_000 + total);
                let statement_side = o.matched + o.breaks.iter().filter(|b| b.statement_amount.is_some() && b.kind != BreakKind::BalanceDiffers).count();
                let ledger_side = o.matched + o.breaks.iter().filter(|b| b.ledger_index.is_some()).count();
                proptest::prop_assert_eq!(statement_side, lines.len());
                proptest::prop_assert_eq!(ledger_side, ledger.len());
            }
        }
    }
}
