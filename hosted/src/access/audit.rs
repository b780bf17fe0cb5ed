//! The audit sub-ledger: every read of ledger data, through the API or the FUSE mount,
//! becomes one entry of a second tlog-tiles log under `DIR/audit/log/` with its own
//! origin (`<origin>/audit`), signed by the same attestation domain. It is the SOC 2
//! processing-integrity trail: verifiable exactly like the ledger (`ledgerfs verify
//! --dir DIR/audit --vkey ...`), readable only by admins and auditors.
//!
//! Reads are not delayed by audit durability: records go through a bounded queue to a
//! writer thread that commits them in groups (at most [`AUDIT_GROUP`] per commit, at most
//! one commit per 50 ms). A full
//! queue blocks readers rather than dropping a record; a crash can lose at most the
//! records not yet committed (milliseconds). If storage fails, the writer keeps the
//! records and retries, so readers eventually block instead of going unrecorded. If
//! the writer thread is gone, recording fails ([`AuditUnavailable`]) and readers refuse
//! the read: the trail never fails open. [`Audit::status`] says which it is.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use ledgerfs_attest::VerifierKey;
use ledgerfs_model::audit::AuditEntry;

use crate::error::{Error, Result};
use crate::pipeline::logwriter::{open_sublog, sublog_checkpoint, LogId, LogWriter, SignMessage};

/// Directory of the audit log inside the data directory.
pub const AUDIT_DIR: &str = "audit";
/// Most records committed together.
pub const AUDIT_GROUP: usize = 8_192;
/// Records queued before readers wait.
const AUDIT_QUEUE: usize = 65_536;
/// Shortest time between two audit commits: read bursts are grouped, so the audit
/// trail costs a few durability barriers per second, not one per read.
const AUDIT_MIN_INTERVAL: Duration = Duration::from_millis(50);

/// One read, as handlers report it.
#[derive(Clone, Debug)]
pub struct AuditRecord {
    /// Token or user name.
    pub who: String,
    /// Role name.
    pub role: &'static str,
    /// `api` or `fuse`.
    pub via: &'static str,
    /// Reader's uid (FUSE).
    pub uid: Option<u32>,
    /// Resource read.
    pub what: String,
    /// Bytes served.
    pub bytes: u64,
    /// HTTP status, 0 for files.
    pub status: u16,
}

/// Handle for recording reads.
#[derive(Clone)]
pub struct Audit {
    queue: SyncSender<AuditRecord>,
    /// Records made durable so far (= audit log size).
    pub durable: Arc<AtomicU64>,
    health: Arc<Health>,
}

/// What the writer thread reports about itself.
#[derive(Debug)]
struct Health {
    /// Cleared when the writer thread ends, however it ends (a panic included).
    running: AtomicBool,
    /// Set while commits fail and the writer retries.
    retrying: AtomicBool,
}

/// Clears [`Health::running`] when the writer thread ends, unwinding included.
struct RunningGuard(Arc<Health>);

impl Drop for RunningGuard {
    fn drop(&mut self) {
        self.0.running.store(false, Ordering::Release);
    }
}

/// The state of the audit trail, for `/health` and for refusing reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuditStatus {
    /// Records are committed.
    Ok,
    /// Commits fail (storage); records are kept and retried, readers may wait.
    Retrying,
    /// The writer thread is gone: no read can be recorded, so reads are refused.
    Stopped,
}

/// A read could not be recorded: the audit writer is gone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditUnavailable;

impl From<AuditUnavailable> for Error {
    fn from(_: AuditUnavailable) -> Error {
        Error::AuditUnavailable("the audit trail writer stopped; reads cannot be recorded".into())
    }
}

/// Why [`Audit::try_record`] did not take a record.
#[derive(Debug)]
pub enum TryRecordError {
    /// The queue is full: here is the record back, to [`Audit::record`] (which blocks).
    Full(AuditRecord),
    /// The writer is gone.
    Unavailable,
}

impl Audit {
    /// Records a read (blocks only if the writer is far behind); fails if the writer is
    /// gone, and then the read must be refused.
    pub fn record(&self, record: AuditRecord) -> std::result::Result<(), AuditUnavailable> {
        self.queue.send(record).map_err(|_| AuditUnavailable)
    }

    /// Records a read without blocking; gives the record back if the queue is full.
    pub fn try_record(&self, record: AuditRecord) -> std::result::Result<(), TryRecordError> {
        match self.queue.try_send(record) {
            Ok(()) => Ok(()),
            Err(mpsc::TrySendError::Disconnected(_)) => Err(TryRecordError::Unavailable),
            Err(mpsc::TrySendError::Full(record)) => Err(TryRecordError::Full(record)),
        }
    }

    /// Whether reads can be recorded now (checked before serving one).
    pub fn available(&self) -> bool {
        self.status() != AuditStatus::Stopped
    }

    /// The state of the trail.
    pub fn status(&self) -> AuditStatus {
        if !self.health.running.load(Ordering::Acquire) {
            AuditStatus::Stopped
        } else if self.health.retrying.load(Ordering::Acquire) {
            AuditStatus::Retrying
        } else {
            AuditStatus::Ok
        }
    }

    /// A handle whose writer is gone, as after its thread died: for tests of the
    /// fail-closed paths.
    #[doc(hidden)]
    pub fn stopped() -> Audit {
        let (queue, records) = mpsc::sync_channel(1);
        drop(records);
        Audit {
            queue,
            durable: Arc::new(AtomicU64::new(0)),
            health: Arc::new(Health {
                running: AtomicBool::new(false),
                retrying: AtomicBool::new(false),
            }),
        }
    }
}

/// Origin of the audit log of a ledger with origin `origin`.
pub fn audit_origin(origin: &str) -> String {
    format!("{origin}/audit")
}

/// The audit log's signed checkpoint, if it exists, read before the attest thread starts
/// (so its attestor remembers what it signed).
pub fn existing_checkpoint(dir: &Path) -> Result<Option<Vec<u8>>> {
    sublog_checkpoint(dir, AUDIT_DIR)
}

/// Opens (verifying) or creates the audit log and starts its writer thread.
pub fn start(dir: &Path, vkey: &VerifierKey, origin: &str, signer: SyncSender<SignMessage>) -> Result<Audit> {
    let writer = open_sublog(
        dir,
        AUDIT_DIR,
        LogId::Audit,
        vkey,
        origin,
        signer,
        &mut |index, bytes| {
            serde_json::from_slice::<serde_json::Value>(bytes)
                .map(|_| ())
                .map_err(|e| Error::Corrupt {
                    path: format!("audit/log/tile/entries (entry {index})"),
                    reason: e.to_string(),
                })
        },
    )?;
    let durable = Arc::new(AtomicU64::new(writer.size()));
    let (queue, records) = mpsc::sync_channel(AUDIT_QUEUE);
    let counter = durable.clone();
    let health = Arc::new(Health {
        running: AtomicBool::new(true),
        retrying: AtomicBool::new(false),
    });
    let guard = RunningGuard(health.clone());
    thread::Builder::new()
        .name("audit".into())
        .spawn(move || audit_loop(writer, records, counter, guard))
        .map_err(|e| Error::Storage(e.to_string()))?;
    Ok(Audit { queue, durable, health })
}

fn audit_loop(mut writer: LogWriter, records: Receiver<AuditRecord>, durable: Arc<AtomicU64>, guard: RunningGuard) {
    // Dropped when this thread ends, however it ends: readers then refuse reads.
    let health = guard.0.clone();
    let _guard = guard;
    let mut batch: Vec<AuditRecord> = Vec::with_capacity(AUDIT_GROUP);
    let mut text = String::new();
    let mut ends: Vec<usize> = Vec::new();
    loop {
        if batch.is_empty() {
            match records.recv() {
                Ok(record) => batch.push(record),
                Err(_) => return,
            }
        }
        while batch.len() < AUDIT_GROUP {
            match records.try_recv() {
                Ok(record) => batch.push(record),
                Err(TryRecvError::Empty) | Err(TryRecvError::Disconnected) => break,
            }
        }
        let started = std::time::Instant::now();
        let result = writer.retry_pending().and_then(|_| {
            text.clear();
            ends.clear();
            let first = writer.size();
            let time = crate::clock::unix_nanos();
            for (i, r) in batch.iter().enumerate() {
                let entry = AuditEntry {
                    index: first + i as u64,
                    time,
                    who: r.who.as_str(),
                    role: r.role,
                    via: r.via,
                    uid: r.uid,
                    what: r.what.as_str(),
                    bytes: r.bytes,
                    status: r.status,
                };
                entry.write(&mut text);
                ends.push(text.len());
            }
            let starts = std::iter::once(0).chain(ends.iter().copied());
            let entries = starts.zip(ends.iter().copied()).map(|(s, e)| &text.as_bytes()[s..e]);
            writer.commit(entries)
        });
        match result {
            Ok(()) => {
                health.retrying.store(false, Ordering::Release);
                durable.store(writer.committed().size, Ordering::Release);
                batch.clear();
                thread::sleep(AUDIT_MIN_INTERVAL.saturating_sub(started.elapsed()));
            }
            Err(failure) => {
                health.retrying.store(true, Ordering::Release);
                eprintln!("ledgerfs: audit commit failed, retrying: {}", failure.error());
                if matches!(failure, crate::pipeline::logwriter::CommitFailure::CheckpointPending(_)) {
                    // Those records are on disk under the pending checkpoint.
                    batch.clear();
                }
                thread::sleep(Duration::from_millis(200));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> AuditRecord {
        AuditRecord {
            who: "t".into(),
            role: "admin",
            via: "api",
            uid: None,
            what: "/v1/checkpoint".into(),
            bytes: 0,
            status: 200,
        }
    }

    #[test]
    fn a_gone_writer_fails_closed() {
        let audit = Audit::stopped();
        assert_eq!(audit.status(), AuditStatus::Stopped);
        assert!(!audit.available());
        assert_eq!(audit.record(record()), Err(AuditUnavailable));
        assert!(matches!(audit.try_record(record()), Err(TryRecordError::Unavailable)));
        assert_eq!(Error::from(AuditUnavailable).code(), "audit_unavailable");
    }

    #[test]
    fn the_guard_reports_a_thread_that_panicked() {
        let health = Arc::new(Health {
            running: AtomicBool::new(true),
            retrying: AtomicBool::new(false),
        });
        let guard = RunningGuard(health.clone());
        let _ = thread::spawn(move || {
            let _guard = guard;
            panic!("audit writer dies");
        })
        .join();
        assert!(!health.running.load(Ordering::Acquire));
    }
}
