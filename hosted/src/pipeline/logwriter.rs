//! The hosted adapter of the tiles core's `LogWriter` (the one durability sequence: put,
//! sync, sign, mark durable, swap; pending checkpoints retried, never re-signed), used by
//! the ledger committer and the audit writer: it signs through the attestation thread,
//! shares the durable checkpoint as `Committed`, and deletes partial tiles once their
//! full tile is durable (POSIX housekeeping).

use std::sync::mpsc::{self, SyncSender};
use std::sync::Arc;

use ledgerfs_attest::{SignReply, SignRequest};
use ledgerfs_tiles::{CommitError, TileLog};

use crate::error::{Error, Result};
use crate::read::view::Committed;
use crate::storage::journal::Journal;
use crate::storage::tiles::PosixStore;

/// Which log a signature is for (the attestation domain keeps one attestor per origin).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogId {
    /// The ledger.
    Ledger,
    /// The audit trail of reads.
    Audit,
    /// The break log of reconciliations.
    Recon,
}

/// A request to the attestation thread.
pub type SignMessage = (LogId, SignRequest, SyncSender<SignReply>);

/// How a log writer has its checkpoints signed.
pub enum Signer {
    /// By the attestation thread, the only holder of the key (the daemon).
    Thread(SyncSender<SignMessage>),
    /// By an attestor called in place (the deterministic simulator, which has no threads).
    Direct(Box<dyn FnMut(SignRequest) -> SignReply + Send>),
}

impl Signer {
    fn sign(&mut self, log: LogId, size: u64, root: [u8; 32]) -> std::result::Result<String, String> {
        match self {
            Signer::Thread(channel) => sign(channel, log, size, root).map_err(|e| e.to_string()),
            Signer::Direct(attestor) => match attestor(SignRequest { size, root }) {
                SignReply::Signed { note } => Ok(note),
                refused => Err(Error::Attest(format!("{refused:?}")).to_string()),
            },
        }
    }
}

/// How far a failed commit got, which decides what must be rolled back.
#[derive(Debug)]
pub enum CommitFailure {
    /// Nothing of this commit is on disk: the log is back at its durable size.
    NotWritten(Error),
    /// The files are synced and the checkpoint signed but not swapped in: the entries
    /// stay (pending) and the swap is retried before the next commit.
    CheckpointPending(Error),
}

impl CommitFailure {
    /// The underlying error.
    pub fn error(&self) -> &Error {
        match self {
            CommitFailure::NotWritten(e) | CommitFailure::CheckpointPending(e) => e,
        }
    }
}

fn hosted_error(e: CommitError<Error>) -> Error {
    match e {
        CommitError::Store(e) => e,
        CommitError::Tiles(e) => Error::Storage(e.to_string()),
        CommitError::Sign(e) => Error::Attest(e),
    }
}

fn hosted_failure(f: ledgerfs_tiles::CommitFailure<Error>) -> CommitFailure {
    match f {
        ledgerfs_tiles::CommitFailure::NotWritten(e) => CommitFailure::NotWritten(hosted_error(e)),
        ledgerfs_tiles::CommitFailure::CheckpointPending(e) => CommitFailure::CheckpointPending(hosted_error(e)),
    }
}

/// One log's writer.
pub struct LogWriter {
    log: LogId,
    core: ledgerfs_tiles::LogWriter<PosixStore>,
    committed: Arc<Committed>,
    sign: Signer,
}

impl LogWriter {
    /// A writer continuing an opened log.
    pub fn new(log: LogId, tiles: TileLog, store: PosixStore, committed: Committed, sign: Signer) -> Self {
        LogWriter {
            log,
            core: ledgerfs_tiles::LogWriter::new(tiles, store, committed.clone()),
            committed: Arc::new(committed),
            sign,
        }
    }

    /// The checkpoint on stable storage.
    pub fn committed(&self) -> &Arc<Committed> {
        &self.committed
    }

    /// The files the last commit staged or left to the host (full tiles and the partial
    /// right edge).
    pub fn last_writes(&self) -> &[ledgerfs_tiles::TileWrite] {
        self.core.last_writes()
    }

    /// Size the next entry will get (including a pending checkpoint's entries).
    pub fn size(&self) -> u64 {
        self.core.size()
    }

    /// Swaps in a pending checkpoint, if any. Returns it once it is durable.
    pub fn retry_pending(&mut self) -> std::result::Result<Option<Arc<Committed>>, CommitFailure> {
        if self.core.retry_pending().map_err(hosted_failure)? {
            self.refresh();
            return Ok(Some(self.committed.clone()));
        }
        Ok(None)
    }

    /// Finishes a pending checkpoint of a journaled log, if any (appending `entries`, the
    /// pending commit's, to the journal again if that is what it waits for). Returns it
    /// once it is the durable head.
    pub fn retry_pending_journaled<'a>(
        &mut self,
        journal: &mut Journal,
        entries: impl Iterator<Item = &'a [u8]> + Clone,
    ) -> std::result::Result<Option<Arc<Committed>>, CommitFailure> {
        let append = |first, note: &str| journal.append(first, entries, note);
        if self.core.retry_pending_with(append).map_err(hosted_failure)? {
            self.refresh();
            return Ok(Some(self.committed.clone()));
        }
        Ok(None)
    }

    /// Makes `entries` durable in `journal` under a new signed checkpoint, then reveals
    /// their tiles (see the tiles core's `commit_journaled`). The full tiles revealed are
    /// added to `full`: their partials may go once a published checkpoint covers them.
    pub fn commit_journaled<'a>(
        &mut self,
        journal: &mut Journal,
        entries: impl Iterator<Item = &'a [u8]> + Clone,
        full: &mut Vec<ledgerfs_tiles::TilePath>,
    ) -> std::result::Result<(), CommitFailure> {
        let (signer, log) = (&mut self.sign, self.log);
        let signer = |size, root| signer.sign(log, size, root);
        let append = |first, note: &str| journal.append(first, entries.clone(), note);
        self.core
            .commit_journaled(entries.clone(), signer, append)
            .map_err(hosted_failure)?;
        full.extend(
            self.core
                .last_writes()
                .iter()
                .filter(|w| w.path.is_full())
                .map(|w| w.path),
        );
        self.refresh();
        Ok(())
    }

    /// Makes `entries` durable under a new signed checkpoint.
    pub fn commit<'a>(&mut self, entries: impl Iterator<Item = &'a [u8]>) -> std::result::Result<(), CommitFailure> {
        let (signer, log) = (&mut self.sign, self.log);
        let signer = |size, root| signer.sign(log, size, root);
        self.core.commit(entries, signer).map_err(hosted_failure)?;
        self.refresh();
        for write in self.core.last_writes().iter().filter(|w| w.path.is_full()) {
            self.core.store().remove_partials(&write.path);
        }
        Ok(())
    }

    fn refresh(&mut self) {
        self.committed = Arc::new(self.core.head().clone());
    }
}

/// Asks the attestation thread to sign a checkpoint of `log`.
pub fn sign(channel: &SyncSender<SignMessage>, log: LogId, size: u64, root: [u8; 32]) -> Result<String> {
    let (reply_tx, reply_rx) = mpsc::sync_channel(1);
    let stopped = || Error::Attest("the attestation domain stopped".into());
    channel
        .send((log, SignRequest { size, root }, reply_tx))
        .map_err(|_| stopped())?;
    match reply_rx.recv().map_err(|_| stopped())? {
        SignReply::Signed { note } => Ok(note),
        refused => Err(Error::Attest(format!("{refused:?}"))),
    }
}

/// The signed checkpoint of the sub-ledger in `DIR/<sub>/log/` (the audit trail, the break
/// log), if it exists: read before the attest thread starts, so that the sub-ledger's
/// attestor remembers what it signed.
pub fn sublog_checkpoint(dir: &std::path::Path, sub: &str) -> Result<Option<Vec<u8>>> {
    PosixStore::new(dir.join(sub).join(crate::storage::ledger::LOG_DIR)).read_checkpoint()
}

/// Opens the sub-ledger in `DIR/<sub>/log/` — created with a signed empty checkpoint the
/// first time — verifying every tile and feeding every entry to `on_entry`, and returns
/// its writer, signing through the attestation thread as `log`. The one opening of every
/// sub-ledger (the audit trail, the break log).
pub fn open_sublog(
    dir: &std::path::Path,
    sub: &str,
    log: LogId,
    vkey: &ledgerfs_attest::VerifierKey,
    origin: &str,
    signer: SyncSender<SignMessage>,
    on_entry: &mut dyn FnMut(u64, &[u8]) -> Result<()>,
) -> Result<LogWriter> {
    use ledgerfs_tiles::TileStore as _;
    let log_dir = dir.join(sub).join(crate::storage::ledger::LOG_DIR);
    std::fs::create_dir_all(&log_dir).map_err(|e| Error::io(&log_dir, e))?;
    let mut store = PosixStore::new(log_dir.clone());
    if store.read_checkpoint()?.is_none() {
        let note = sign(&signer, log, 0, ledgerfs_tiles::empty_root())?;
        store.swap_checkpoint(note.as_bytes())?;
    }
    let (tiles, committed) = crate::storage::ledger::open_log(&log_dir, vkey, origin, &mut |_, _| {}, on_entry)?;
    Ok(LogWriter::new(
        log,
        tiles,
        PosixStore::new(log_dir),
        committed,
        Signer::Thread(signer),
    ))
}
