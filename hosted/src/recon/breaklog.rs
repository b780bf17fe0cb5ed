//! The break log: a signed tlog-tiles sub-ledger under `DIR/reconciliation/log/` with its
//! own origin (`<origin>/reconciliation`), signed by the attestation domain like the
//! ledger and the audit trail. Every reconciliation run, every break it found and every
//! resolution is one entry (`ledgerfs_recon::entry`), written before the run's answer is
//! sent: a reconciliation the API reported is on disk, signed. `ledgerfs verify --dir
//! DIR/reconciliation --vkey ...` checks it, resolutions included.
//!
//! Runs are rare (a few per account per day), so a run commits its entries itself, under
//! the log's lock, and the open-break projection is updated only after the commit.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::mpsc::SyncSender;
use std::sync::Mutex;

use ledgerfs_attest::VerifierKey;
use ledgerfs_model::time::parse_timestamp;
use ledgerfs_recon::entry::{OpenBreak, OpenBreaks, ResolveError};
use ledgerfs_recon::BreakKind;

use serde_json::Value;

use crate::error::{Error, Result};
use crate::pipeline::logwriter::{open_sublog, sublog_checkpoint, CommitFailure, LogId, LogWriter, SignMessage};

/// Directory of the break log inside the data directory.
pub const RECON_DIR: &str = "reconciliation";

/// Origin of the break log of a ledger with origin `origin`.
pub fn recon_origin(origin: &str) -> String {
    format!("{origin}/reconciliation")
}

/// The break log's signed checkpoint, if it exists (for the attestor's memory).
pub fn existing_checkpoint(dir: &Path) -> Result<Option<Vec<u8>>> {
    sublog_checkpoint(dir, RECON_DIR)
}

/// What the break log's entries establish, rebuilt by feeding them in order.
#[derive(Debug, Default)]
pub struct Projection {
    /// Which breaks are open.
    pub open: OpenBreaks,
    /// Indices of run entries.
    pub runs: BTreeMap<u64, ()>,
    /// Closed-month statements produced: (account, month) to (CSV, JSON) SHA-256 hex.
    pub statements: BTreeMap<(String, String), (String, String)>,
}

/// Feeds one break-log entry to the projection, checking what the log's rules require:
/// the entry's index is its position, a break names an earlier run, a resolution names an
/// open break, a month's statement is recorded once. The daemon's start-up and `ledgerfs
/// verify` both use this, so both hold the log to the same rules.
pub fn apply(p: &mut Projection, index: u64, entry: &[u8]) -> std::result::Result<Value, String> {
    let value: Value = serde_json::from_slice(entry).map_err(|e| e.to_string())?;
    if value["index"] != index {
        return Err("index field differs from its position".into());
    }
    let time = value["time"]
        .as_str()
        .and_then(parse_timestamp)
        .ok_or("no valid time")?;
    match value["type"].as_str() {
        Some("run") => {
            p.runs.insert(index, ());
        }
        Some("break") => {
            let run = value["run"].as_u64().ok_or("a break without its run")?;
            if !p.runs.contains_key(&run) {
                return Err(format!("a break of run {run}, which is not an earlier run entry"));
            }
            let kind = value["kind"]
                .as_str()
                .and_then(BreakKind::parse)
                .ok_or("an unknown break kind")?;
            p.open.record(index, time, kind);
        }
        Some("resolution") => {
            let target = value["break"].as_u64().ok_or("a resolution without its break")?;
            p.open.resolve(target, index).map_err(|e| match e {
                ResolveError::Unknown => format!("a resolution of {target}, which is no break"),
                ResolveError::AlreadyResolved => format!("a second resolution of break {target}"),
            })?;
        }
        Some("statement") => {
            let text = |k: &str| {
                value[k]
                    .as_str()
                    .map(str::to_string)
                    .ok_or(format!("a statement without {k}"))
            };
            let key = (text("account")?, text("month")?);
            if p.statements.contains_key(&key) {
                return Err(format!("a second statement of {} for {}", key.0, key.1));
            }
            p.statements.insert(key, (text("csv_sha256")?, text("json_sha256")?));
        }
        _ => return Err("type must be run, break, resolution or statement".into()),
    }
    Ok(value)
}

struct Inner {
    writer: LogWriter,
    p: Projection,
    /// Every break entry and every resolution entry, by index (they are few).
    entries: BTreeMap<u64, Value>,
}

/// The daemon's break log.
pub struct BreakLog {
    inner: Mutex<Inner>,
}

/// An open break as readers see it.
#[derive(Clone, Debug)]
pub struct OpenEntry {
    /// Its id (entry index).
    pub id: u64,
    /// When it was recorded.
    pub time: u64,
    /// Its entry.
    pub entry: Value,
}

/// Why appending failed.
#[derive(Debug)]
pub enum AppendError {
    /// The resolution is refused by the log's rules.
    Refused(ResolveError),
    /// What was to be recorded once is recorded already.
    Exists,
    /// Storage or signing failed; nothing was recorded.
    Failed(Error),
}

impl BreakLog {
    /// Opens (verifying every tile and entry) or creates the break log.
    pub fn open(dir: &Path, vkey: &VerifierKey, origin: &str, signer: SyncSender<SignMessage>) -> Result<BreakLog> {
        let (mut p, mut entries) = (Projection::default(), BTreeMap::new());
        let writer = open_sublog(
            dir,
            RECON_DIR,
            LogId::Recon,
            vkey,
            origin,
            signer,
            &mut |index, bytes| {
                let value = apply(&mut p, index, bytes).map_err(|reason| Error::Corrupt {
                    path: format!("{RECON_DIR}/log/tile/entries (entry {index})"),
                    reason,
                })?;
                if value["type"] != "statement" {
                    entries.insert(index, value);
                }
                Ok(())
            },
        )?;
        Ok(BreakLog {
            inner: Mutex::new(Inner { writer, p, entries }),
        })
    }

    /// Appends the entries `build(first_index, time)` returns, durably and signed, and
    /// returns the first one's index. `check`, run under the log's lock first, may refuse.
    pub fn append(
        &self,
        check: impl FnOnce(&Projection) -> std::result::Result<(), AppendError>,
        build: impl FnOnce(u64, u64) -> Vec<String>,
    ) -> std::result::Result<u64, AppendError> {
        let mut inner = self.inner.lock().expect("break log lock");
        check(&inner.p)?;
        if let Err(f) = inner.writer.retry_pending() {
            return Err(AppendError::Failed(failure(f)));
        }
        let first = inner.writer.size();
        let texts = build(first, crate::clock::unix_nanos());
        match inner.writer.commit(texts.iter().map(|t| t.as_bytes())) {
            // Pending: synced and signed, its swap retried before the next commit.
            Ok(()) | Err(CommitFailure::CheckpointPending(_)) => {}
            Err(f) => return Err(AppendError::Failed(failure(f))),
        }
        let Inner { p, entries, .. } = &mut *inner;
        for (i, text) in texts.iter().enumerate() {
            let index = first + i as u64;
            let value = apply(p, index, text.as_bytes()).expect("entries this daemon built follow the rules");
            if value["type"] != "statement" {
                entries.insert(index, value);
            }
        }
        Ok(first)
    }

    /// The open breaks, oldest first.
    pub fn open_breaks(&self) -> Vec<OpenEntry> {
        let inner = self.inner.lock().expect("break log lock");
        inner
            .p
            .open
            .open()
            .map(|(id, b): (u64, &OpenBreak)| OpenEntry {
                id,
                time: b.time,
                entry: inner.entries.get(&id).cloned().unwrap_or(Value::Null),
            })
            .collect()
    }

    /// The business days reconciliation runs were made for, oldest first.
    pub fn run_dates(&self) -> Vec<String> {
        let inner = self.inner.lock().expect("break log lock");
        let mut dates: Vec<String> = inner
            .entries
            .values()
            .filter(|v| v["type"] == "run")
            .filter_map(|v| v["date"].as_str().map(str::to_string))
            .filter(|d| !d.is_empty())
            .collect();
        dates.sort();
        dates.dedup();
        dates
    }

    /// The runs made for business day `date`, each with its breaks and their status.
    pub fn day(&self, date: &str) -> Option<Value> {
        let inner = self.inner.lock().expect("break log lock");
        let runs: Vec<Value> = inner
            .entries
            .iter()
            .filter(|(_, v)| v["type"] == "run" && v["date"] == date)
            .map(|(index, run)| {
                let breaks: Vec<Value> = inner
                    .entries
                    .iter()
                    .filter(|(_, b)| b["type"] == "break" && b["run"] == *index)
                    .map(|(id, b)| {
                        let mut b = b.clone();
                        let resolution = inner
                            .p
                            .open
                            .resolution(*id)
                            .and_then(|r| inner.entries.get(&r).cloned());
                        b["status"] = Value::from(if resolution.is_some() { "resolved" } else { "open" });
                        b["resolution"] = resolution.unwrap_or(Value::Null);
                        b
                    })
                    .collect();
                let mut run = run.clone();
                run["break_entries"] = Value::from(breaks);
                run
            })
            .collect();
        (!runs.is_empty()).then(|| serde_json::json!({"date": date, "runs": runs}))
    }

    /// Every break, open or not, with its resolution entry if it has one.
    pub fn all_breaks(&self) -> Vec<(Value, Option<Value>)> {
        let inner = self.inner.lock().expect("break log lock");
        inner
            .entries
            .iter()
            .filter(|(_, v)| v["type"] == "break")
            .map(|(id, v)| {
                let resolution = inner
                    .p
                    .open
                    .resolution(*id)
                    .and_then(|r| inner.entries.get(&r).cloned());
                (v.clone(), resolution)
            })
            .collect()
    }

    /// The recorded digests (CSV, JSON) of `account`'s statement for `month`, if produced.
    pub fn statement(&self, account: &str, month: &str) -> Option<(String, String)> {
        let inner = self.inner.lock().expect("break log lock");
        inner
            .p
            .statements
            .get(&(account.to_string(), month.to_string()))
            .cloned()
    }

    /// Entries in the log.
    pub fn size(&self) -> u64 {
        self.inner.lock().expect("break log lock").writer.size()
    }
}

fn failure(f: CommitFailure) -> Error {
    match f {
        CommitFailure::NotWritten(e) | CommitFailure::CheckpointPending(e) => e,
    }
}
