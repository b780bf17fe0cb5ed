//! An account's statement for one calendar month (PSD2 Art. 57/58): every posting of the
//! month with its reference, signed amount, charges and exchange rate where the transfer's
//! metadata gives them (`"charges"`, `"exchange_rate"`), value date and the balance after
//! it, with the opening and closing balances. Rendered from the log by the statement walk
//! (the sequencer core's posting rule), as CSV and as JSON, deterministically: a closed
//! month renders to the same bytes on every run, which is what lets its SHA-256, recorded
//! once, prove it unchanged.

use ledgerfs_model::entry::AccountRecord;
use ledgerfs_model::time::{format_timestamp, UnixNanos};
use ledgerfs_recon::format_signed;
use serde_json::{json, Value};

use crate::error::Result;
use crate::read::logread::LogReader;
use crate::read::statement::{period, Side};

/// Both renderings of one month.
pub struct MonthStatement {
    /// `text/csv` bytes.
    pub csv: String,
    /// `application/json` bytes.
    pub json: String,
    /// Postings in the month.
    pub lines: usize,
    /// Balance (credits − debits, posted) at the month's end.
    pub closing: String,
}

fn metadata_text(metadata: &str, key: &str) -> String {
    serde_json::from_str::<Value>(metadata)
        .ok()
        .and_then(|m| match &m[key] {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
        .unwrap_or_default()
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// Renders the account's postings in `[start, end)` among the first `size` entries.
pub fn render(
    reader: &LogReader,
    record: &AccountRecord,
    postings: &[u64],
    size: u64,
    month: &str,
    bounds: (UnixNanos, UnixNanos),
) -> Result<MonthStatement> {
    let c = record.currency;
    let mut rows: Vec<Value> = Vec::new();
    let mut csv = String::from(
        "index,time,value_date,id,reference,counterparty,amount,currency,charges,exchange_rate,balance_after\n",
    );
    let (opening, closing) = period(reader, record, postings, size, bounds, |line, change, after| {
        let t = &line.transfer;
        let amount = format_signed(change, c);
        let (charges, rate) = (
            metadata_text(&t.metadata, "charges"),
            metadata_text(&t.metadata, "exchange_rate"),
        );
        let time = format_timestamp(line.time);
        let balance = format_signed(after, c);
        csv.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{},{}\n",
            line.index,
            time,
            &time[..10],
            csv_field(&t.id),
            csv_field(&t.reference),
            csv_field(line.counterparty()),
            amount,
            c.code(),
            csv_field(&charges),
            csv_field(&rate),
            balance
        ));
        rows.push(json!({
            "index": line.index,
            "time": time,
            "value_date": &time[..10],
            "id": t.id,
            "reference": t.reference,
            "side": if line.side == Side::Debit { "debit" } else { "credit" },
            "counterparty": line.counterparty(),
            "amount": amount,
            "charges": charges,
            "exchange_rate": rate,
            "balance_after": balance,
        }));
    })?;
    let lines = rows.len();
    let doc = json!({
        "account": record.id,
        "currency": c.code(),
        "month": month,
        "opening_balance": format_signed(opening, c),
        "closing_balance": format_signed(closing, c),
        "transactions": rows,
    });
    Ok(MonthStatement {
        csv,
        json: serde_json::to_string_pretty(&doc).expect("JSON prints") + "\n",
        lines,
        closing: format_signed(closing, c),
    })
}
