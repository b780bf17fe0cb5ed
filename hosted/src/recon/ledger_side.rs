//! The ledger's side of a reconciliation, read from the committed read model and the log:
//! a safeguarding account's postings on one business day (UTC) with its balance at the
//! day's start and end, and every customer and safeguarding account's posted totals at a
//! cut-off. Balances are replayed by the statement walk (`read::statement::walk`, the
//! sequencer core's `Posting`), never recomputed by a rule of this file.

use ledgerfs_model::time::{parse_rfc3339, UnixNanos};
use ledgerfs_recon::{Holding, LedgerLine};

use crate::error::Result;
use crate::read::logread::LogReader;
use crate::read::statement::{period, walk};
use crate::read::view::{AccountView, ViewState};

/// The UTC day `YYYY-MM-DD` as `[start, end)` in Unix nanoseconds, or `None` if it is not
/// a valid date.
pub fn day_bounds(date: &str) -> Option<(UnixNanos, UnixNanos)> {
    if date.len() != 10 {
        return None;
    }
    let start = parse_rfc3339(&format!("{date}T00:00:00Z")).ok().flatten()?;
    // Reject dates that do not round-trip (2026-02-30).
    if ledgerfs_model::time::format_timestamp(start).get(..10) != Some(date) {
        return None;
    }
    Some((start, start + 86_400 * 1_000_000_000))
}

/// The account's postings in `[start, end)` as ledger lines (debit minus credit, posted
/// amounts only: a reservation moves nothing until it is posted), and its posted balance
/// (debits − credits) at `start` and at `end`.
pub fn account_day(
    reader: &LogReader,
    account: &AccountView,
    size: u64,
    bounds: (UnixNanos, UnixNanos),
) -> Result<(Vec<LedgerLine>, i128, i128)> {
    let mut lines = Vec::new();
    // The mirror account is an asset: its bank-side amounts are debits minus credits.
    let (opening, closing) = period(
        reader,
        &account.record,
        &account.postings,
        size,
        bounds,
        |line, change, _| {
            lines.push(LedgerLine {
                index: line.index,
                id: line.transfer.id.clone(),
                reference: line.transfer.reference.clone(),
                amount: -change,
            })
        },
    )?;
    Ok((lines, -opening, -closing))
}

/// Every customer and safeguarding account's posted totals as of the first `cut` entries
/// (`cut == view.size`: the read model's balances as they are).
pub fn holdings(reader: &LogReader, view: &ViewState, cut: u64) -> Result<Vec<Holding>> {
    use ledgerfs_model::AccountKind::{Customer, Safeguarding};
    holdings_where(reader, view, cut, |a| matches!(a.record.kind, Customer | Safeguarding))
}

/// Every account's posted totals as of the first `cut` entries.
pub fn all_holdings(reader: &LogReader, view: &ViewState, cut: u64) -> Result<Vec<Holding>> {
    holdings_where(reader, view, cut, |_| true)
}

fn holdings_where(
    reader: &LogReader,
    view: &ViewState,
    cut: u64,
    wanted: impl Fn(&AccountView) -> bool,
) -> Result<Vec<Holding>> {
    let mut out = Vec::new();
    for a in view.accounts.iter().filter(|a| wanted(a)) {
        if a.index >= cut {
            continue;
        }
        let balance = if cut >= view.size {
            a.balance
        } else {
            let upto = &a.postings[..a.postings.partition_point(|&i| i < cut)];
            walk(reader, &a.record, upto, view.size, |_| true)?
        };
        out.push(Holding {
            kind: a.record.kind,
            currency: a.record.currency,
            debits: balance.debits_posted,
            credits: balance.credits_posted,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_utc_and_checked() {
        let (start, end) = day_bounds("2026-11-30").unwrap();
        assert_eq!(end - start, 86_400_000_000_000);
        assert_eq!(
            ledgerfs_model::time::format_timestamp(start),
            "2026-11-30T00:00:00.000000000Z"
        );
        for bad in ["2026-02-30", "2026-13-01", "26-11-30", "2026-11-30T", ""] {
            assert!(day_bounds(bad).is_none(), "{bad}");
        }
    }
}
