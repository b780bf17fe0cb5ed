//! The JSON and text renderings of ledger state that both the HTTP API and the FUSE view
//! serve, so a balance reads the same whichever way it is fetched. Renderers read only
//! the committed view and the durable log; they never change anything.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde_json::{json, Value};

use ledgerfs_model::amount::format_signed;
use ledgerfs_model::entry::{AccountRecord, EntryBody};
use ledgerfs_model::time::format_timestamp;
use ledgerfs_model::Phase;
use ledgerfs_sequencer::Balance;
use ledgerfs_tiles::leaf_hash;

use crate::error::{Error, Result};
use crate::read::logread::LogReader;
use crate::read::statement::{self, Line, Side};
use crate::read::view::{AccountView, Committed};

/// Base64 of each hash.
pub fn b64_hashes(hashes: &[[u8; 32]]) -> Vec<String> {
    hashes.iter().map(|h| B64.encode(h)).collect()
}

/// A checkpoint as JSON.
pub fn checkpoint_json(c: &Committed) -> Value {
    json!({"size": c.size, "root": B64.encode(c.root), "note": c.note})
}

/// Posted debits and credits, their net, what pending transfers reserve, and (for a
/// limited account) what is available, as decimal strings.
/// The object is the sequencer core's (`write_balance_json`), the one the appliance's
/// console answers too.
pub fn balance_json(record: &AccountRecord, b: &Balance) -> Value {
    let mut text = String::with_capacity(160);
    ledgerfs_sequencer::write_balance_json(&mut text, b, record.currency, record.flags);
    serde_json::from_str(&text).expect("the core writes a JSON object")
}

/// An account, its balance and what it is consistent with.
pub fn account_json(a: &AccountView, size: u64) -> Value {
    let mut value = account_fields(a);
    value["index"] = json!(a.index);
    value["balance"] = balance_json(&a.record, &a.balance);
    value["postings"] = json!(a.postings.len());
    value["as_of_size"] = json!(size);
    value
}

/// What an account is: the fields every rendering of it shares.
fn account_fields(a: &AccountView) -> Value {
    json!({
        "id": a.record.id,
        "currency": a.record.currency.code(),
        "kind": a.record.kind.as_str(),
        "flags": a.record.flags.names().collect::<Vec<_>>(),
        "metadata": serde_json::from_str::<Value>(&a.record.metadata).unwrap_or(Value::Null),
    })
}

/// An inclusion proof of entry `index` in the tree of `size`, read from the tiles of the
/// current checkpoint (`current` ≥ `size`).
pub fn inclusion_json(reader: &LogReader, index: u64, size: u64, current: u64) -> Result<Value> {
    let bytes = reader.entry(index, current)?;
    let tiles = crate::read::logread::PrefixReader::new(reader.store(), current);
    let proof = ledgerfs_tiles::inclusion_proof(&tiles, index, size).map_err(Error::log_tiles)?;
    Ok(json!({"index": index, "size": size, "leaf_hash": B64.encode(leaf_hash(&bytes)), "proof": b64_hashes(&proof)}))
}

/// A C2SP tlog-proof@v1 receipt for entry `index` under the signed checkpoint `head`
/// (its note verbatim, cosignatures included), read from the tiles of the current
/// checkpoint (`current` ≥ `head.size`); the entry's bytes ride in its `extra` line.
pub fn tlog_proof(reader: &LogReader, index: u64, head: &Committed, current: u64) -> Result<String> {
    let entry = reader.entry(index, current)?;
    let tiles = crate::read::logread::PrefixReader::new(reader.store(), current);
    let hashes = ledgerfs_tiles::inclusion_proof(&tiles, index, head.size).map_err(Error::log_tiles)?;
    Ok(ledgerfs_witness::TlogProof {
        extra: Some(entry),
        index,
        hashes,
        checkpoint: head.note.clone(),
    }
    .encode())
}

/// `balance.json` of the FUSE view: the balance, the checkpoint it is consistent with,
/// and an inclusion proof of the account's last entry against that checkpoint.
pub fn balance_file(reader: &LogReader, a: &AccountView, committed: &Committed) -> Result<Value> {
    let last = a.postings.last().copied().unwrap_or(a.index);
    Ok(json!({
        "id": a.record.id,
        "currency": a.record.currency.code(),
        "kind": a.record.kind.as_str(),
        "balance": balance_json(&a.record, &a.balance),
        "as_of": checkpoint_json(committed),
        "last_entry": inclusion_json(reader, last, committed.size, committed.size)?,
    }))
}

/// `meta.json` of the FUSE view.
pub fn meta_file(a: &AccountView) -> Value {
    let mut value = account_fields(a);
    value["opened_at_index"] = json!(a.index);
    value
}

/// `tx.log`: one tab-separated line per posting, oldest first:
/// index, time, transfer id, side, signed amount, currency, counterparty, reference,
/// phase (`posted`, or `pending`, `post_pending`, `void_pending`, `expire_pending` for
/// two-phase ones: a pending line reserves its amount, a void's or an expiry's releases
/// it, a post's is what moved), and the posted net balance after it (`balance_after`).
pub fn tx_log(reader: &LogReader, a: &AccountView, size: u64) -> Result<String> {
    let mut out = String::new();
    statement::walk(reader, &a.record, &a.postings, size, |line| {
        let t = &line.transfer;
        let sign = if line.side == Side::Debit { "-" } else { "" };
        let b = &line.balance_after;
        out.push_str(&format!(
            "{}\t{}\t{}\t{}\t{sign}{}\t{}\t{}\t{}\t{}\t{}\n",
            line.index,
            format_timestamp(line.time),
            t.id,
            line.side.as_str(),
            t.amount.format(t.currency),
            t.currency,
            line.counterparty(),
            t.reference.replace(['\t', '\n'], " "),
            statement::phase_name(&t.phase),
            format_signed(b.credits_posted, b.debits_posted, t.currency),
        ));
        true
    })?;
    Ok(out)
}

/// The balance of an account as of log index `last` (inclusive): its postings up to
/// there, re-read from the log. `None` if the account did not exist yet.
pub fn balance_at(
    reader: &LogReader,
    record: &AccountRecord,
    opened: u64,
    postings: &[u64],
    last: u64,
    size: u64,
) -> Result<Option<Value>> {
    if last < opened {
        return Ok(None);
    }
    let upto = &postings[..postings.partition_point(|&i| i <= last)];
    let balance = statement::walk(reader, record, upto, size, |_| true)?;
    let at = reader.decoded(last, size)?;
    Ok(Some(json!({
        "id": record.id,
        "currency": record.currency.code(),
        "at_index": last,
        "at_time": format_timestamp(at.time),
        "balance": balance_json(record, &balance),
    })))
}

/// One statement line as JSON: the transfer from the account's side, and its balance
/// after it.
pub fn line_json(record: &AccountRecord, line: &Line) -> Value {
    let t = &line.transfer;
    let mut value = json!({
        "index": line.index,
        "time": format_timestamp(line.time),
        "id": t.id,
        "side": line.side.as_str(),
        "phase": statement::phase_name(&t.phase),
        "amount": t.amount.format(t.currency),
        "currency": t.currency.code(),
        "debit": t.debit,
        "credit": t.credit,
        "counterparty": line.counterparty(),
        "reference": t.reference,
        "balance_after": balance_json(record, &line.balance_after),
    });
    if let Some(pending_id) = t.phase.pending_id() {
        value["pending_id"] = json!(pending_id);
    }
    value
}

/// An account's pending transfers not yet posted or voided, oldest first, read from its
/// postings in the log (a resolution names the transfer it resolves), as of `size`.
pub fn pending_json(reader: &LogReader, a: &AccountView, size: u64) -> Result<Value> {
    let mut open: Vec<(String, Value)> = Vec::new();
    for &index in &a.postings {
        let entry = reader.decoded(index, size)?;
        let EntryBody::Transfer(t) = entry.body else { continue };
        match &t.phase {
            Phase::Pending => {
                let side = if t.debit == a.record.id { "debit" } else { "credit" };
                let mut value = json!({
                    "id": t.id,
                    "index": index,
                    "time": format_timestamp(entry.time),
                    "side": side,
                    "debit": t.debit,
                    "credit": t.credit,
                    "amount": t.amount.format(t.currency),
                    "reference": t.reference,
                });
                if t.timeout > 0 {
                    let expires = entry.time.saturating_add(t.timeout.saturating_mul(1_000_000_000));
                    value["timeout"] = json!(t.timeout);
                    value["expires_at"] = json!(format_timestamp(expires));
                }
                open.push((t.id, value));
            }
            Phase::Post { pending_id } | Phase::Void { pending_id } | Phase::Expire { pending_id } => {
                open.retain(|(id, _)| id != pending_id)
            }
            Phase::Single => {}
        }
    }
    Ok(json!({
        "id": a.record.id,
        "currency": a.record.currency.code(),
        "pending": open.into_iter().map(|(_, v)| v).collect::<Vec<_>>(),
        "as_of_size": size,
    }))
}

/// Document descriptors a transfer's metadata carries (`"documents": [...]`).
pub fn documents(metadata: &str) -> Option<Value> {
    let value: Value = serde_json::from_str(metadata).ok()?;
    let docs = value.get("documents")?;
    docs.is_array().then(|| docs.clone())
}
