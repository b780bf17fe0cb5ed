//! The durability sequence of one tlog-tiles log, shared by the ledger committer and the
//! audit writer: append to the tiles core, write every new file as a temporary, `syncfs`,
//! rename, `syncfs`, have the attestation domain sign, swap the checkpoint. A checkpoint
//! that was signed but could not be swapped in stays pending and is retried first, never
//! re-signed: the attestation domain refuses to sign two roots for one size.

use std::sync::mpsc::{self, SyncSender};
use std::sync::Arc;

use ledgerfs_attest::{SignReply, SignRequest};
use ledgerfs_tiles::{TileLog, TileStore, TileWrite};

use crate::error::{Error, Result};
use crate::store::PosixStore;
use crate::view::Committed;

/// Which log a signature is for (the attestation domain keeps one attestor per origin).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogId {
    /// The ledger.
    Ledger,
    /// The audit trail of reads.
    Audit,
}

/// A request to the attestation thread.
pub type SignMessage = (LogId, SignRequest, SyncSender<SignReply>);

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

/// One log's writer state.
pub struct LogWriter {
    log: LogId,
    tiles: TileLog,
    store: PosixStore,
    committed: Arc<Committed>,
    pending: Option<Arc<Committed>>,
    sign: SyncSender<SignMessage>,
    writes: Vec<TileWrite>,
}

impl LogWriter {
    /// A writer continuing an opened log.
    pub fn new(
        log: LogId,
        tiles: TileLog,
        store: PosixStore,
        committed: Committed,
        sign: SyncSender<SignMessage>,
    ) -> Self {
        assert_eq!(tiles.size(), committed.size);
        LogWriter {
            log,
            tiles,
            store,
            committed: Arc::new(committed),
            pending: None,
            sign,
            writes: Vec::new(),
        }
    }

    /// The checkpoint on stable storage.
    pub fn committed(&self) -> &Arc<Committed> {
        &self.committed
    }

    /// Size the next entry will get (including a pending checkpoint's entries).
    pub fn size(&self) -> u64 {
        self.tiles.size()
    }

    /// Swaps in a pending checkpoint, if any. Returns it once it is durable.
    pub fn retry_pending(&mut self) -> std::result::Result<Option<Arc<Committed>>, CommitFailure> {
        let Some(pending) = self.pending.take() else {
            return Ok(None);
        };
        if let Err(e) = self.store.swap_checkpoint(pending.note.as_bytes()) {
            self.pending = Some(pending);
            return Err(CommitFailure::CheckpointPending(e));
        }
        self.committed = pending.clone();
        Ok(Some(pending))
    }

    /// Makes `entries` durable under a new signed checkpoint.
    pub fn commit<'a>(&mut self, entries: impl Iterator<Item = &'a [u8]>) -> std::result::Result<(), CommitFailure> {
        assert!(self.pending.is_none(), "retry_pending first");
        let (size, root) = match self
            .write_tiles(entries)
            .and_then(|(size, root)| Ok((size, root, self.sign_root(size, root)?)))
        {
            Ok((size, root, note)) => {
                let committed = Arc::new(Committed { size, root, note });
                // The files are synced: this size can no longer be rolled back.
                self.tiles.mark_durable(size);
                if let Err(e) = self.store.swap_checkpoint(committed.note.as_bytes()) {
                    self.pending = Some(committed);
                    return Err(CommitFailure::CheckpointPending(e));
                }
                self.committed = committed;
                (size, root)
            }
            Err(e) => {
                self.tiles.rollback();
                self.store.abandon();
                assert_eq!(self.tiles.size(), self.committed.size);
                return Err(CommitFailure::NotWritten(e));
            }
        };
        debug_assert_eq!((size, root), (self.committed.size, self.committed.root));
        for write in self.writes.iter().filter(|w| w.path.is_full()) {
            self.store.remove_partials(&write.path);
        }
        Ok(())
    }

    fn write_tiles<'a>(&mut self, entries: impl Iterator<Item = &'a [u8]>) -> Result<(u64, [u8; 32])> {
        for entry in entries {
            self.tiles.append(entry).map_err(|e| Error::Storage(e.to_string()))?;
        }
        self.writes.clear();
        let root = self.tiles.commit(&mut self.writes);
        for write in &self.writes {
            self.store.put(&write.path, &write.bytes)?;
        }
        self.store.sync()?;
        Ok((self.tiles.size(), root))
    }

    fn sign_root(&self, size: u64, root: [u8; 32]) -> Result<String> {
        sign(&self.sign, self.log, size, root)
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
