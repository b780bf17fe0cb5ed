//! The break log's canonical entries. The break log is a signed tlog-tiles sub-ledger of
//! its own (like the audit trail): every reconciliation run, every break it found and every
//! resolution is one entry, compact JSON in a fixed key order, so that the history of
//! reconciliations is as verifiable as the ledger. A break's id is its entry's index; a
//! resolution names it.
//!
//! ```text
//! {"v":1,"index":0,"time":"...","type":"run","kind":"external","account":"safe_eur","date":"2026-11-30","at_index":42,"currency":"EUR","statement_sha256":"9f..","matched":3,"breaks":1,"by":"ops"}
//! {"v":1,"index":1,"time":"...","type":"break","run":0,"kind":"amount_differs","account":"safe_eur","date":"2026-11-30","currency":"EUR","reference":"INV-2","statement_amount":"2.05","ledger_amount":"2.50","ledger_index":17}
//! {"v":1,"index":2,"time":"...","type":"resolution","break":1,"by":"ops","reason":"bank fee","transfer_index":58}
//! ```

use alloc::collections::BTreeMap;
use alloc::string::String;
use core::fmt::Write;

use ledgerfs_model::json::write_string;
use ledgerfs_model::limits::ENTRY_VERSION;
use ledgerfs_model::time::{write_timestamp, UnixNanos};
use ledgerfs_model::Currency;

use crate::matching::{Break, BreakKind};
use crate::money::format_signed;
use crate::safeguarding::Position;

/// Longest free text (reason, reference) kept in an entry; longer is refused by callers.
pub const MAX_TEXT_LEN: usize = 1_024;

/// Which reconciliation a run was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunKind {
    /// A bank statement against a safeguarding account's postings.
    External,
    /// Customer balances against safeguarding balances.
    Internal,
}

impl RunKind {
    /// The name in entries and API bodies.
    pub fn as_str(self) -> &'static str {
        match self {
            RunKind::External => "external",
            RunKind::Internal => "internal",
        }
    }
}

/// The fields every entry starts with.
fn head(out: &mut String, index: u64, time: UnixNanos, kind: &str) {
    write!(out, "{{\"v\":{ENTRY_VERSION},\"index\":{index},\"time\":\"").expect("String write");
    write_timestamp(time, out);
    out.push_str("\",\"type\":\"");
    out.push_str(kind);
    out.push('"');
}

fn field(out: &mut String, name: &str, text: &str) {
    write!(out, ",\"{name}\":").expect("String write");
    write_string(out, text);
}

fn amount(out: &mut String, name: &str, value: Option<i128>, currency: Currency) {
    match value {
        Some(v) => field(out, name, &format_signed(v, currency)),
        None => write!(out, ",\"{name}\":null").expect("String write"),
    }
}

/// What a run entry says.
#[derive(Clone, Debug)]
pub struct Run<'a> {
    /// Internal or external.
    pub kind: RunKind,
    /// The safeguarding account reconciled (external), or empty.
    pub account: &'a str,
    /// The business day, `YYYY-MM-DD`.
    pub date: &'a str,
    /// The ledger's size the run read (its cut-off).
    pub at_index: u64,
    /// The statement's currency (external), if any.
    pub currency: Option<Currency>,
    /// SHA-256 (hex) of the statement file as received (external), or empty.
    pub statement_sha256: &'a str,
    /// Statement lines matched (external).
    pub matched: usize,
    /// Breaks recorded after this entry.
    pub breaks: usize,
    /// The positions (internal).
    pub positions: &'a [Position],
    /// Who ran it (token or user name).
    pub by: &'a str,
}

/// Appends a run entry.
pub fn write_run(out: &mut String, index: u64, time: UnixNanos, run: &Run<'_>) {
    head(out, index, time, "run");
    field(out, "kind", run.kind.as_str());
    field(out, "account", run.account);
    field(out, "date", run.date);
    write!(out, ",\"at_index\":{}", run.at_index).expect("String write");
    field(out, "currency", run.currency.as_ref().map_or("", Currency::code));
    field(out, "statement_sha256", run.statement_sha256);
    write!(out, ",\"matched\":{},\"breaks\":{}", run.matched, run.breaks).expect("String write");
    out.push_str(",\"positions\":[");
    for (i, p) in run.positions.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('{');
        out.push_str("\"currency\":");
        write_string(out, p.currency.code());
        amount(out, "requirement", Some(p.requirement), p.currency);
        amount(out, "resource", Some(p.resource), p.currency);
        amount(out, "shortfall", Some(p.shortfall()), p.currency);
        amount(out, "excess", Some(p.excess()), p.currency);
        out.push('}');
    }
    out.push(']');
    field(out, "by", run.by);
    out.push('}');
}

/// Where a break was found.
#[derive(Clone, Copy, Debug)]
pub struct BreakContext<'a> {
    /// Index of the run entry.
    pub run: u64,
    /// The account reconciled.
    pub account: &'a str,
    /// The business day.
    pub date: &'a str,
    /// The currency of the amounts.
    pub currency: Currency,
}

/// Appends a break entry.
pub fn write_break(out: &mut String, index: u64, time: UnixNanos, at: &BreakContext<'_>, b: &Break) {
    head(out, index, time, "break");
    write!(out, ",\"run\":{}", at.run).expect("String write");
    field(out, "kind", b.kind.as_str());
    field(out, "account", at.account);
    field(out, "date", at.date);
    field(out, "currency", at.currency.code());
    field(out, "reference", &b.reference);
    amount(out, "statement_amount", b.statement_amount, at.currency);
    amount(out, "ledger_amount", b.ledger_amount, at.currency);
    match b.ledger_index {
        Some(i) => write!(out, ",\"ledger_index\":{i}").expect("String write"),
        None => out.push_str(",\"ledger_index\":null"),
    }
    out.push('}');
}

/// Appends a resolution entry: break `breaks` is closed by `by`, for `reason`, with the
/// correcting transfer at `transfer_index` if there is one.
pub fn write_resolution(
    out: &mut String,
    index: u64,
    time: UnixNanos,
    resolves: u64,
    by: &str,
    reason: &str,
    transfer_index: Option<u64>,
) {
    head(out, index, time, "resolution");
    write!(out, ",\"break\":{resolves}").expect("String write");
    field(out, "by", by);
    field(out, "reason", reason);
    match transfer_index {
        Some(i) => write!(out, ",\"transfer_index\":{i}").expect("String write"),
        None => out.push_str(",\"transfer_index\":null"),
    }
    out.push('}');
}

/// Appends a statement entry: the closed month `month` of `account` was produced once,
/// as CSV and JSON with these SHA-256 digests (hex); it never changes.
#[allow(clippy::too_many_arguments)]
pub fn write_statement(
    out: &mut String,
    index: u64,
    time: UnixNanos,
    account: &str,
    month: &str,
    csv_sha256: &str,
    json_sha256: &str,
    lines: usize,
) {
    head(out, index, time, "statement");
    field(out, "account", account);
    field(out, "month", month);
    field(out, "csv_sha256", csv_sha256);
    field(out, "json_sha256", json_sha256);
    write!(out, ",\"lines\":{lines}").expect("String write");
    out.push('}');
}

/// An open break, as the projection keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenBreak {
    /// When it was recorded.
    pub time: UnixNanos,
    /// What differs.
    pub kind: BreakKind,
}

/// Why a resolution is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResolveError {
    /// No break has that index.
    Unknown,
    /// It was resolved already.
    AlreadyResolved,
}

/// The projection of the break log that says which breaks are open: rebuilt by feeding
/// it every entry in order, kept up to date by feeding it each new one.
#[derive(Clone, Debug, Default)]
pub struct OpenBreaks {
    open: BTreeMap<u64, OpenBreak>,
    resolved: BTreeMap<u64, u64>,
}

impl OpenBreaks {
    /// A break was recorded at `index`.
    pub fn record(&mut self, index: u64, time: UnixNanos, kind: BreakKind) {
        self.open.insert(index, OpenBreak { time, kind });
    }

    /// Whether break `index` may be resolved now (the one rule for resolutions).
    pub fn check(&self, index: u64) -> Result<(), ResolveError> {
        if self.open.contains_key(&index) {
            Ok(())
        } else if self.resolved.contains_key(&index) {
            Err(ResolveError::AlreadyResolved)
        } else {
            Err(ResolveError::Unknown)
        }
    }

    /// Break `index` was resolved by the entry at `by_entry`.
    pub fn resolve(&mut self, index: u64, by_entry: u64) -> Result<(), ResolveError> {
        self.check(index)?;
        self.open.remove(&index);
        self.resolved.insert(index, by_entry);
        Ok(())
    }

    /// The open breaks, oldest first.
    pub fn open(&self) -> impl Iterator<Item = (u64, &OpenBreak)> {
        self.open.iter().map(|(i, b)| (*i, b))
    }

    /// How many are open.
    pub fn len(&self) -> usize {
        self.open.len()
    }

    /// Whether none is open.
    pub fn is_empty(&self) -> bool {
        self.open.is_empty()
    }

    /// The entry that resolved break `index`, if it was.
    pub fn resolution(&self, index: u64) -> Option<u64> {
        self.resolved.get(&index).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_canonical_json() {
        let eur = Currency::from_code("EUR").unwrap();
        let mut out = String::new();
        let b = Break {
            kind: BreakKind::AmountDiffers,
            reference: "INV-\"2\"".into(),
            statement_amount: Some(205),
            ledger_amount: Some(250),
            ledger_index: Some(17),
        };
        let at = BreakContext {
            run: 0,
            account: "safe_eur",
            date: "2026-11-30",
            currency: eur,
        };
        write_break(&mut out, 1, 0, &at, &b);
        assert_eq!(
            out,
            r#"{"v":1,"index":1,"time":"1970-01-01T00:00:00.000000000Z","type":"break","run":0,"kind":"amount_differs","account":"safe_eur","date":"2026-11-30","currency":"EUR","reference":"INV-\"2\"","statement_amount":"2.05","ledger_amount":"2.50","ledger_index":17}"#
        );
        out.clear();
        write_resolution(&mut out, 2, 0, 1, "ops", "bank fee", None);
        assert!(out.ends_with(r#""type":"resolution","break":1,"by":"ops","reason":"bank fee","transfer_index":null}"#));
    }

    #[test]
    fn a_break_is_resolved_once() {
        let mut open = OpenBreaks::default();
        open.record(1, 10, BreakKind::MissingInLedger);
        open.record(2, 10, BreakKind::BalanceDiffers);
        assert_eq!(open.check(7), Err(ResolveError::Unknown));
        assert_eq!(open.resolve(1, 3), Ok(()));
        assert_eq!(open.resolve(1, 4), Err(ResolveError::AlreadyResolved));
        assert_eq!(open.len(), 1);
        assert_eq!(open.resolution(1), Some(3));
        assert_eq!(open.open().next().map(|(i, _)| i), Some(2));
    }
}
