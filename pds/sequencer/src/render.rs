//! The one JSON rendering of a batch's per-event results, shared by the hosted HTTP API
//! and the seL4 sequencer PD's serial replies, so a result reads the same either way.

use alloc::string::String;
use core::fmt::Write as _;

use ledgerfs_model::json::write_string;

use crate::state::EventResult;

/// Appends `[{"event":i,"id":…,"code":…,"index":…|"message":…,"field":…},…]` for the
/// events named by `ids` and their `results`, and returns how many were accepted.
pub fn write_results_json<'a>(
    out: &mut String,
    ids: impl IntoIterator<Item = &'a str>,
    results: &[EventResult],
) -> usize {
    let mut accepted = 0;
    out.push('[');
    for (i, (r, id)) in results.iter().zip(ids).enumerate() {
        if i > 0 {
            out.push(',');
        }
        write!(out, "{{\"event\":{i},\"id\":").expect("String write");
        write_string(out, id);
        write!(out, ",\"code\":\"{}\"", r.code.as_str()).expect("String write");
        if let Some(index) = r.index {
            write!(out, ",\"index\":{index}").expect("String write");
        }
        if r.code.is_success() {
            accepted += 1;
        } else {
            out.push_str(",\"message\":");
            write_string(out, r.code.description());
        }
        if let Some(field) = r.field {
            write!(out, ",\"field\":\"{field}\"").expect("String write");
        }
        out.push('}');
    }
    out.push(']');
    accepted
}
