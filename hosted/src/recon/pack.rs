//! The resolution pack (CASS 15): a self-contained directory an insolvency practitioner
//! can use without LedgerFS running. `ledgerfs resolution-pack --data DIR --out PACK
//! [--at INDEX]` writes:
//!
//! ```text
//! PACK/log/checkpoint, PACK/log/tile/...   the tlog-tiles log (byte copies of the store's files)
//! PACK/log.vkey                            the verifier key (note signer `origin+hash+key`)
//! PACK/balances.json                       every account's balance as of log index INDEX, its
//!                                          kind, flags and metadata, and an RFC 6962 inclusion
//!                                          proof of its last entry up to INDEX against the checkpoint
//! PACK/safeguarding.json                   requirement, resource and shortfall per currency at INDEX
//! PACK/safeguarding-<YYYY-MM>.csv, -<CCY>.svg   the month of INDEX: daily figures up to INDEX, and their chart
//! PACK/reconciliation/log/..., PACK/reconciliation/log.vkey   the break log (runs, breaks, resolutions)
//! PACK/README.md, PACK/check_pack.py       what the files are; a check with Python's standard library
//! ```
//!
//! `ledgerfs verify --dir PACK` checks all of it offline: the signed checkpoint, every tile,
//! every entry replayed (money conserved), then every balance in `balances.json` re-derived
//! by replaying the log to INDEX and every proof checked against the signed root, and the
//! break log with its own rules. Balances are derived, never trusted: a pack whose
//! `balances.json` differs from the log is refused.

use std::collections::HashMap;
use std::path::Path;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use ledgerfs_attest::{verify_checkpoint, VerifierKey};
use ledgerfs_model::entry::{Entry, EntryBody};
use ledgerfs_model::time::format_timestamp;
use ledgerfs_recon::{format_signed, positions, Holding};
use ledgerfs_sequencer::{EntryBuffer, Limits, Sequencer};
use ledgerfs_tiles::verify_inclusion;
use serde_json::{json, Value};

use crate::error::{Error, Result};
use crate::read::logread::LogReader;
use crate::read::render::{balance_json, inclusion_json};
use crate::recon::breaklog::RECON_DIR;
use crate::storage::ledger::{read_vkey, LOG_DIR, VKEY_FILE};
use crate::storage::tiles::PosixStore;

/// The pack's balances file.
pub const BALANCES_FILE: &str = "balances.json";

fn corrupt(path: &str, reason: impl Into<String>) -> Error {
    Error::Corrupt {
        path: path.into(),
        reason: reason.into(),
    }
}

/// Replays entries `0..=at` of a tree of `size`: the sequencer, each account's last entry
/// index, and the time of entry `at`.
fn replay_to(reader: &LogReader, size: u64, at: u64) -> Result<(Sequencer, HashMap<String, u64>, u64)> {
    let mut seq = Sequencer::new(Limits::unbounded());
    let mut scratch = EntryBuffer::new();
    let mut last: HashMap<String, u64> = HashMap::new();
    let mut time = 0;
    reader.for_each(0, at + 1, size, |i, bytes| {
        let entry = Entry::decode(bytes).map_err(|e| corrupt(&format!("log entry {i}"), e.to_string()))?;
        seq.replay(bytes, &mut scratch)
            .map_err(|e| corrupt(&format!("log entry {i}"), e.to_string()))?;
        match &entry.body {
            EntryBody::Account(a) => {
                last.insert(a.id.clone(), i);
            }
            EntryBody::Transfer(t) => {
                last.insert(t.debit.clone(), i);
                last.insert(t.credit.clone(), i);
            }
            EntryBody::Commitment(_) => {}
        }
        time = entry.time;
        Ok(())
    })?;
    Ok((seq, last, time))
}

/// What the pack's `balances.json` must say, derived from the log.
fn balances_doc(reader: &LogReader, size: u64, note: &str, root: &[u8; 32], at: u64) -> Result<Value> {
    let (seq, last, time) = replay_to(reader, size, at)?;
    let mut accounts = Vec::new();
    for a in seq.accounts() {
        let index = last.get(&a.record.id).copied().unwrap_or(a.index);
        accounts.push(json!({
            "id": a.record.id,
            "currency": a.record.currency.code(),
            "kind": a.record.kind.as_str(),
            "flags": a.record.flags.names().collect::<Vec<_>>(),
            "metadata": serde_json::from_str::<Value>(&a.record.metadata).unwrap_or(Value::Null),
            "opened_index": a.index,
            "balance": balance_json(&a.record, &a.balance),
            "last_entry": inclusion_json(reader, index, size, size)?,
        }));
    }
    let held = seq.accounts().iter().map(|a| Holding {
        kind: a.record.kind,
        currency: a.record.currency,
        debits: a.balance.debits_posted,
        credits: a.balance.credits_posted,
    });
    let safeguarding: Vec<Value> = positions(held)
        .iter()
        .map(|p| {
            let c = p.currency;
            json!({"currency": c.code(), "requirement": format_signed(p.requirement, c), "resource": format_signed(p.resource, c), "shortfall": format_signed(p.shortfall(), c), "excess": format_signed(p.excess(), c)})
        })
        .collect();
    Ok(json!({
        "checkpoint": {"size": size, "root": B64.encode(root), "note": note},
        "at_index": at,
        "at_time": format_timestamp(time),
        "accounts": accounts,
        "safeguarding": safeguarding,
    }))
}

fn copy_tree(from: &Path, to: &Path) -> Result<u64> {
    let mut copied = 0;
    std::fs::create_dir_all(to).map_err(|e| Error::io(to, e))?;
    for entry in std::fs::read_dir(from).map_err(|e| Error::io(from, e))? {
        let entry = entry.map_err(|e| Error::io(from, e))?;
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        if src.to_string_lossy().ends_with(crate::storage::fsutil::TMP_SUFFIX) {
            continue;
        }
        if entry.file_type().map_err(|e| Error::io(&src, e))?.is_dir() {
            copied += copy_tree(&src, &dst)?;
        } else {
            std::fs::copy(&src, &dst).map_err(|e| Error::io(&src, e))?;
            copied += 1;
        }
    }
    Ok(copied)
}

/// Writes a resolution pack of the store in `data` into `out` (new or empty), as of log
/// index `at` (default: the checkpoint's last entry), then checks it with
/// [`verify_pack`]. Returns the checkpoint size and `at`.
pub fn write_pack(data: &Path, out: &Path, at: Option<u64>) -> Result<(u64, u64)> {
    if out.exists() && std::fs::read_dir(out).map_err(|e| Error::io(out, e))?.next().is_some() {
        return Err(Error::Client(format!("{} exists and is not empty", out.display())));
    }
    let vkey = read_vkey(data)?;
    // The tiles first, then the checkpoint they hold: a live daemon may publish meanwhile,
    // and an older checkpoint over newer tiles is still a valid tree.
    let note_before = PosixStore::new(data.join(LOG_DIR))
        .read_checkpoint()?
        .ok_or_else(|| corrupt("log/checkpoint", "missing"))?;
    copy_tree(&data.join(LOG_DIR).join("tile"), &out.join(LOG_DIR).join("tile"))?;
    std::fs::write(out.join(LOG_DIR).join("checkpoint"), &note_before).map_err(|e| Error::io(out, e))?;
    std::fs::write(out.join(VKEY_FILE), format!("{}\n", vkey.encode())).map_err(|e| Error::io(out, e))?;
    let checkpoint = verify_checkpoint(&vkey, &note_before).map_err(|e| corrupt("log/checkpoint", e.to_string()))?;
    if checkpoint.size == 0 {
        return Err(Error::Client("the log is empty: nothing to pack".into()));
    }
    let at = at.unwrap_or(checkpoint.size - 1);
    if at >= checkpoint.size {
        return Err(Error::Client(format!(
            "--at {at} is beyond the checkpoint (size {})",
            checkpoint.size
        )));
    }
    let reader = LogReader::new(PosixStore::new(out.join(LOG_DIR)));
    let note = String::from_utf8_lossy(&note_before).into_owned();
    let doc = balances_doc(&reader, checkpoint.size, &note, &checkpoint.root, at)?;
    let pretty = |v: &Value| serde_json::to_string_pretty(v).expect("JSON prints") + "\n";
    std::fs::write(out.join(BALANCES_FILE), pretty(&doc)).map_err(|e| Error::io(out, e))?;
    std::fs::write(
        out.join("safeguarding.json"),
        pretty(&json!({"at_index": at, "at_time": doc["at_time"], "positions": doc["safeguarding"]})),
    )
    .map_err(|e| Error::io(out, e))?;
    let recon = data.join(RECON_DIR).join(LOG_DIR);
    if recon.join("checkpoint").exists() {
        let note = std::fs::read(recon.join("checkpoint")).map_err(|e| Error::io(&recon, e))?;
        if recon.join("tile").exists() {
            copy_tree(&recon.join("tile"), &out.join(RECON_DIR).join(LOG_DIR).join("tile"))?;
        }
        std::fs::create_dir_all(out.join(RECON_DIR).join(LOG_DIR)).map_err(|e| Error::io(out, e))?;
        std::fs::write(out.join(RECON_DIR).join(LOG_DIR).join("checkpoint"), note).map_err(|e| Error::io(out, e))?;
        std::fs::write(out.join(RECON_DIR).join(VKEY_FILE), format!("{}\n", vkey.encode()))
            .map_err(|e| Error::io(out, e))?;
    }
    // The month of INDEX: the safeguarding return's daily figures and their chart.
    let month = doc["at_time"].as_str().unwrap_or("").get(..7).unwrap_or("").to_string();
    let at_time = ledgerfs_model::time::parse_timestamp(doc["at_time"].as_str().unwrap_or("")).unwrap_or(0);
    if let Some((days, _)) = crate::recon::report::month(&reader, at + 1, &month, at_time)? {
        std::fs::write(
            out.join(format!("safeguarding-{month}.csv")),
            crate::recon::report::return_csv(&days),
        )
        .map_err(|e| Error::io(out, e))?;
        let currencies: std::collections::BTreeSet<_> = days
            .iter()
            .flat_map(|d| d.positions.iter().map(|p| p.currency.code().to_string()))
            .collect();
        for code in currencies {
            let currency = ledgerfs_model::Currency::from_code(&code).expect("a position's currency");
            let title = format!("Safeguarding {code} {month}: requirement and resource at each day's end");
            std::fs::write(
                out.join(format!("safeguarding-{month}-{code}.svg")),
                crate::recon::report::chart_svg(&days, currency, &title),
            )
            .map_err(|e| Error::io(out, e))?;
        }
    }
    std::fs::write(out.join("README.md"), PACK_README).map_err(|e| Error::io(out, e))?;
    std::fs::write(out.join("check_pack.py"), PACK_CHECK).map_err(|e| Error::io(out, e))?;
    verify_pack(out, &vkey)?;
    Ok((checkpoint.size, at))
}

/// Checks a pack's `balances.json` against its log: the checkpoint it names is the log's
/// (signed), every balance equals a replay of the log to `at_index`, every account is
/// there, and every inclusion proof leads to the signed root. Returns the accounts checked.
pub fn verify_pack(pack: &Path, vkey: &VerifierKey) -> Result<usize> {
    let text = std::fs::read(pack.join(BALANCES_FILE)).map_err(|e| Error::io(pack, e))?;
    let doc: Value = serde_json::from_slice(&text).map_err(|e| corrupt(BALANCES_FILE, e.to_string()))?;
    let note = PosixStore::new(pack.join(LOG_DIR))
        .read_checkpoint()?
        .ok_or_else(|| corrupt("log/checkpoint", "missing"))?;
    let checkpoint = verify_checkpoint(vkey, &note).map_err(|e| corrupt("log/checkpoint", e.to_string()))?;
    if doc["checkpoint"]["size"] != checkpoint.size || doc["checkpoint"]["root"] != B64.encode(checkpoint.root) {
        return Err(corrupt(
            BALANCES_FILE,
            "its checkpoint is not the pack's signed checkpoint",
        ));
    }
    let at = doc["at_index"]
        .as_u64()
        .ok_or_else(|| corrupt(BALANCES_FILE, "no at_index"))?;
    if at >= checkpoint.size {
        return Err(corrupt(BALANCES_FILE, "at_index is beyond the checkpoint"));
    }
    let reader = LogReader::new(PosixStore::new(pack.join(LOG_DIR)));
    let expected = balances_doc(
        &reader,
        checkpoint.size,
        doc["checkpoint"]["note"].as_str().unwrap_or(""),
        &checkpoint.root,
        at,
    )?;
    let accounts = doc["accounts"]
        .as_array()
        .ok_or_else(|| corrupt(BALANCES_FILE, "no accounts"))?;
    for (i, a) in accounts.iter().enumerate() {
        let proof = &a["last_entry"];
        let hash = |v: &Value| -> Option<[u8; 32]> { B64.decode(v.as_str()?).ok()?.try_into().ok() };
        let hashes: Option<Vec<[u8; 32]>> = proof["proof"].as_array().map(|p| p.iter().filter_map(hash).collect());
        let ok = match (hash(&proof["leaf_hash"]), proof["index"].as_u64(), hashes) {
            (Some(leaf), Some(index), Some(h)) => {
                verify_inclusion(&leaf, index, checkpoint.size, &h, &checkpoint.root).is_ok()
            }
            _ => false,
        };
        if !ok {
            return Err(corrupt(
                BALANCES_FILE,
                format!("account #{i}: its inclusion proof does not lead to the signed root"),
            ));
        }
    }
    if doc["accounts"] != expected["accounts"] || doc["safeguarding"] != expected["safeguarding"] {
        let differing = accounts
            .iter()
            .zip(expected["accounts"].as_array().into_iter().flatten())
            .find(|(a, b)| a != b)
            .map_or("the account list".to_string(), |(a, _)| format!("account {}", a["id"]));
        return Err(corrupt(
            BALANCES_FILE,
            format!("{differing} differs from a replay of the log to index {at}"),
        ));
    }
    Ok(accounts.len())
}

const PACK_README: &str = include_str!("pack_readme.md");
const PACK_CHECK: &str = include_str!("check_pack.py");
