//! The one JSON rendering of a batch's per-event results, shared by the hosted HTTP API
//! and the seL4 sequencer PD's serial replies, so a result reads the same either way.

use alloc::string::String;

use ledgerfs_model::json::{write_string, write_u128};
use ledgerfs_model::ResultCode;

use crate::state::EventResult;

/// Which results a batch's answer lists.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ResultsShape {
    /// One result per event (the default).
    #[default]
    All,
    /// Only the refused events, as TigerBeetle answers: a batch that is all accepted
    /// answers `[]`, and its new entries are numbered from `first_index` in event order.
    Failures,
}

/// Appends `[{"event":i,"id":…,"code":…,"index":…|"message":…,"field":…},…]` for the
/// events named by `ids` and their `results` (all, or the refused ones only), and
/// returns how many were accepted.
pub fn write_results_json<'a>(
    out: &mut String,
    ids: impl IntoIterator<Item = &'a str>,
    results: &[EventResult],
    shape: ResultsShape,
) -> usize {
    write_results_json_with(out, ids, results, shape, |_, _| {})
}

/// [`write_results_json`], with `extra(result, out)` called inside each result object
/// after its own fields, to append more (`,"name":value`): the hosted API's per-result
/// receipts (`"tlog_proof"`).
pub fn write_results_json_with<'a>(
    out: &mut String,
    ids: impl IntoIterator<Item = &'a str>,
    results: &[EventResult],
    shape: ResultsShape,
    mut extra: impl FnMut(&EventResult, &mut String),
) -> usize {
    let mut accepted = 0;
    let mut first = true;
    out.push('[');
    for (i, (r, id)) in results.iter().zip(ids).enumerate() {
        if r.code.is_success() {
            accepted += 1;
            if shape == ResultsShape::Failures {
                continue;
            }
        }
        if !first {
            out.push(',');
        }
        first = false;
        out.push_str("{\"event\":");
        write_u128(out, i as u128);
        out.push_str(",\"id\":");
        write_string(out, id);
        out.push_str(",\"code\":\"");
        out.push_str(r.code.as_str());
        out.push('"');
        if let Some(index) = r.index {
            out.push_str(",\"index\":");
            write_u128(out, u128::from(index));
        }
        if let Some(time) = r.time {
            out.push_str(",\"time\":\"");
            ledgerfs_model::time::write_timestamp(time, out);
            out.push('"');
        }
        if !r.code.is_success() {
            out.push_str(",\"message\":");
            write_string(out, r.code.description());
        }
        if let Some(field) = r.field {
            out.push_str(",\"field\":\"");
            out.push_str(field);
            out.push('"');
        }
        extra(r, out);
        out.push('}');
    }
    out.push(']');
    accepted
}

/// The log index of the batch's first new entry (`ok`), if any: with
/// [`ResultsShape::Failures`] the new entries are `first_index`, `first_index + 1`, …
/// in event order.
pub fn first_new_index(results: &[EventResult]) -> Option<u64> {
    results.iter().find(|r| r.code == ResultCode::Ok).and_then(|r| r.index)
}

/// An account's balance as the JSON object every envelope answers (API, FUSE, the
/// appliance's console): `{"debits","credits","net","debits_pending","credits_pending"}`
/// (posted amounts and their net, then what pending transfers reserve) and, for a
/// limited account, `"available"`; amounts as decimal strings of `currency`.
pub fn write_balance_json(
    out: &mut String,
    b: &crate::Balance,
    currency: ledgerfs_model::Currency,
    flags: ledgerfs_model::AccountFlags,
) {
    use ledgerfs_model::amount::{format_signed, Amount};
    let amount = |key: &str, value: &str, out: &mut String| {
        out.push_str(key);
        out.push('"');
        out.push_str(value);
        out.push('"');
    };
    out.push('{');
    amount("\"debits\":", &Amount(b.debits_posted).format(currency), out);
    amount(",\"credits\":", &Amount(b.credits_posted).format(currency), out);
    amount(
        ",\"net\":",
        &format_signed(b.credits_posted, b.debits_posted, currency),
        out,
    );
    amount(",\"debits_pending\":", &Amount(b.debits_pending).format(currency), out);
    amount(
        ",\"credits_pending\":",
        &Amount(b.credits_pending).format(currency),
        out,
    );
    if let Some(available) = b.available(flags) {
        amount(",\"available\":", &Amount(available).format(currency), out);
    }
    if b.closed {
        out.push_str(",\"closed\":true");
    }
    out.push('}');
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn ok(index: u64) -> EventResult {
        EventResult {
            code: ResultCode::Ok,
            index: Some(index),
            field: None,
            time: Some(1_000_000_001),
        }
    }

    #[test]
    fn failures_only_lists_refusals_with_their_event_numbers() {
        let refused = EventResult {
            code: ResultCode::AccountNotFound,
            index: None,
            field: Some("debit"),
            time: None,
        };
        let results = vec![ok(7), refused, ok(8)];
        let mut all = String::new();
        assert_eq!(
            write_results_json(&mut all, ["a", "b", "c"], &results, ResultsShape::All),
            2
        );
        assert!(
            all.starts_with(
                "[{\"event\":0,\"id\":\"a\",\"code\":\"ok\",\"index\":7,\"time\":\"1970-01-01T00:00:01.000000001Z\"}"
            ),
            "{all}"
        );
        let mut failures = String::new();
        assert_eq!(
            write_results_json(&mut failures, ["a", "b", "c"], &results, ResultsShape::Failures),
            2
        );
        assert!(
            failures.starts_with("[{\"event\":1,\"id\":\"b\",\"code\":\"account_not_found\""),
            "{failures}"
        );
        assert!(failures.ends_with("\"field\":\"debit\"}]"), "{failures}");
        assert_eq!(first_new_index(&results), Some(7));
        let mut none = String::new();
        write_results_json(&mut none, ["a"], &[ok(1)], ResultsShape::Failures);
        assert_eq!(none, "[]");
    }
}
