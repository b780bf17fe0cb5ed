//! An account's statement: its postings walked once, oldest first, each with the balance
//! after it. The one walk behind `tx.log`, `?at=` balances, the transfer queries and the
//! balance history, so a balance after a posting reads the same on every route. The
//! balance is replayed with the sequencer core's `Posting`, never recomputed by a rule of
//! its own.

use std::collections::{HashMap, VecDeque};

use ledgerfs_model::entry::{AccountRecord, EntryBody, TransferRecord};
use ledgerfs_model::event::PHASE_FLAGS;
use ledgerfs_model::time::UnixNanos;
use ledgerfs_model::{Closing, Phase};
use ledgerfs_sequencer::{Balance, Posting};

use crate::error::Result;
use crate::read::logread::LogReader;

/// Which side of a transfer the account is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// The account is debited.
    Debit,
    /// The account is credited.
    Credit,
}

impl Side {
    /// The name queries and renderings use.
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Debit => "debit",
            Side::Credit => "credit",
        }
    }

    /// Parses `debit` or `credit`.
    pub fn parse(text: &str) -> Option<Side> {
        match text {
            "debit" => Some(Side::Debit),
            "credit" => Some(Side::Credit),
            _ => None,
        }
    }
}

/// The phase names a statement line carries: `posted` for a transfer posted at once, and
/// the model's two-phase flags for the others.
pub const PHASES: [&str; 5] = [POSTED, PHASE_FLAGS[0], PHASE_FLAGS[1], PHASE_FLAGS[2], PHASE_FLAGS[3]];

/// The phase name of a transfer posted at once (it has no flag).
const POSTED: &str = "posted";

/// The name of a transfer's phase on a statement line.
pub fn phase_name<S: AsRef<str>>(phase: &Phase<S>) -> &'static str {
    phase.flag().unwrap_or(POSTED)
}

/// One posting of the account, with the balance right after it.
#[derive(Clone, Debug)]
pub struct Line {
    /// Log index of the transfer.
    pub index: u64,
    /// Its commit (or imported) time.
    pub time: UnixNanos,
    /// The transfer as logged.
    pub transfer: TransferRecord<String>,
    /// The account's side of it.
    pub side: Side,
    /// The account's balance after it.
    pub balance_after: Balance,
}

impl Line {
    /// The other account of the transfer.
    pub fn counterparty(&self) -> &str {
        match self.side {
            Side::Debit => &self.transfer.credit,
            Side::Credit => &self.transfer.debit,
        }
    }
}

/// Walks the postings (oldest first, all below `size`) and calls `visit` on each line;
/// `visit` returns `false` to stop. Returns the balance after the last line visited.
pub fn walk(
    reader: &LogReader,
    record: &AccountRecord,
    postings: &[u64],
    size: u64,
    mut visit: impl FnMut(&Line) -> bool,
) -> Result<Balance> {
    let mut balance = Balance::default();
    // What each pending transfer of the account reserved, and which accounts it closes.
    let mut reserved: HashMap<String, (u128, Closing)> = HashMap::new();
    for &index in postings {
        let entry = reader.decoded(index, size)?;
        let EntryBody::Transfer(t) = entry.body else { continue };
        if t.phase == Phase::Pending {
            reserved.insert(t.id.clone(), (t.amount.0, t.closing));
        }
        let (held, closing) = match t.phase.pending_id().and_then(|id| reserved.remove(id)) {
            Some(found) => found,
            None => (0, t.closing),
        };
        let posting = Posting::for_transfer(&t.phase, 0, 1, t.amount.0, held, false, closing);
        let side = if t.debit == record.id {
            posting.apply_debit(&mut balance);
            Side::Debit
        } else {
            posting.apply_credit(&mut balance);
            Side::Credit
        };
        let line = Line {
            index,
            time: entry.time,
            transfer: t,
            side,
            balance_after: balance,
        };
        if !visit(&line) {
            break;
        }
    }
    Ok(balance)
}

/// Walks the postings (all below `size`) of a period `[start, end)`: `visit(line, change,
/// after)` for each line in it that moved the posted balance, where `after` is the posted
/// net (credits − debits) after the line and `change` what the line moved. Returns the
/// posted net at `start` and at `end`. The one period walk behind a business day's
/// reconciliation and a month's statement.
pub fn period(
    reader: &LogReader,
    record: &AccountRecord,
    postings: &[u64],
    size: u64,
    (start, end): (UnixNanos, UnixNanos),
    mut visit: impl FnMut(&Line, i128, i128),
) -> Result<(i128, i128)> {
    let net = |b: &Balance| b.credits_posted as i128 - b.debits_posted as i128;
    let (mut opening, mut before) = (0i128, 0i128);
    walk(reader, record, postings, size, |line| {
        if line.time >= end {
            return false;
        }
        let after = net(&line.balance_after);
        if line.time < start {
            opening = after;
        } else if after != before {
            visit(line, after - before, after);
        }
        before = after;
        true
    })?;
    Ok((opening, before))
}

/// Which lines a query wants. Every condition given must hold.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    /// Committed at or after this time.
    pub from: Option<UnixNanos>,
    /// Committed before this time.
    pub to: Option<UnixNanos>,
    /// Exactly this reference.
    pub reference: Option<String>,
    /// One of these phases (names from [`PHASES`]); empty: any.
    pub phases: Vec<&'static str>,
    /// This side only.
    pub side: Option<Side>,
}

impl Filter {
    /// Whether a line passes.
    pub fn matches(&self, line: &Line) -> bool {
        self.from.is_none_or(|from| line.time >= from)
            && self.to.is_none_or(|to| line.time < to)
            && self.reference.as_deref().is_none_or(|r| line.transfer.reference == r)
            && (self.phases.is_empty() || self.phases.contains(&phase_name(&line.transfer.phase)))
            && self.side.is_none_or(|side| line.side == side)
    }

    /// Whether no line from here on can pass (entry times strictly increase).
    fn past_the_end(&self, line: &Line) -> bool {
        self.to.is_some_and(|to| line.time >= to)
    }
}

/// Where a page lies: strictly between `after` and `before` (log indices); with a
/// `before`, the newest matching lines below it, else the oldest above `after`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Cursor {
    /// Only lines after this index.
    pub after: Option<u64>,
    /// Only lines before this index, the newest of them.
    pub before: Option<u64>,
}

/// One page of matching lines, oldest first, and whether more match on either side.
#[derive(Debug, Default)]
pub struct Page {
    /// The lines.
    pub lines: Vec<Line>,
    /// Matching lines exist before the first one.
    pub more_before: bool,
    /// Matching lines exist after the last one.
    pub more_after: bool,
}

impl Page {
    /// The cursor for the next page forwards, if there is one.
    pub fn next_after(&self) -> Option<u64> {
        self.more_after.then(|| self.lines.last().map(|l| l.index)).flatten()
    }

    /// The cursor for the next page backwards, if there is one.
    pub fn next_before(&self) -> Option<u64> {
        self.more_before.then(|| self.lines.first().map(|l| l.index)).flatten()
    }
}

/// One page of an account's statement. The walk starts at the account's first posting
/// (the balance after each line needs every earlier one) and stops as soon as the page
/// and its `more_*` flags are known.
pub fn page(
    reader: &LogReader,
    record: &AccountRecord,
    postings: &[u64],
    size: u64,
    filter: &Filter,
    cursor: Cursor,
    limit: usize,
) -> Result<Page> {
    let mut page = Page::default();
    // With a `before`, a sliding window of the newest lines; else the first `limit`.
    let mut window: VecDeque<Line> = VecDeque::with_capacity(limit + 1);
    walk(reader, record, postings, size, |line| {
        if filter.past_the_end(line) {
            return false;
        }
        if !filter.matches(line) {
            return true;
        }
        if cursor.after.is_some_and(|after| line.index <= after) {
            page.more_before = true;
            return true;
        }
        if cursor.before.is_some_and(|before| line.index >= before) {
            page.more_after = true;
            return false;
        }
        if cursor.before.is_none() && window.len() == limit {
            page.more_after = true;
            return false;
        }
        window.push_back(line.clone());
        if window.len() > limit {
            window.pop_front();
            page.more_before = true;
        }
        true
    })?;
    page.lines = window.into();
    Ok(page)
}
