//! The durability sequence of a tlog-tiles log, written once for every store and every
//! envelope (the hosted committer and audit writer, the appliance's tiles domain):
//! append the entries, put every new file, `sync`, have the checkpoint signed, mark the
//! size durable in the tiles core, swap the checkpoint in. A failure before the
//! signature rolls the log and the store back to the durable size; a checkpoint that was
//! signed but could not be swapped in stays pending and is retried first, never
//! re-signed (an attestor refuses to sign two roots for one size).
//!
//! It never does I/O itself: the store and the signer are the caller's.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use crate::{Hash, TileError, TileLog, TileStore, TileWrite};

/// A signed checkpoint of the log: what the store's checkpoint file holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedHead {
    /// Tree size.
    pub size: u64,
    /// Root hash at that size.
    pub root: Hash,
    /// The signed note.
    pub note: String,
}

/// What went wrong in a commit step.
#[derive(Debug)]
pub enum CommitError<E> {
    /// The store failed.
    Store(E),
    /// The tiles core refused an entry.
    Tiles(TileError),
    /// The signer refused or could not be reached.
    Sign(String),
}

impl<E: fmt::Debug> fmt::Display for CommitError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CommitError::Store(e) => write!(f, "store: {e:?}"),
            CommitError::Tiles(e) => write!(f, "tiles: {e}"),
            CommitError::Sign(e) => write!(f, "signing: {e}"),
        }
    }
}

/// How far a failed commit got, which decides what the caller must roll back.
#[derive(Debug)]
pub enum CommitFailure<E> {
    /// Nothing of the commit is durable: the log is back at its durable size.
    NotWritten(CommitError<E>),
    /// The files are durable and the checkpoint signed but not swapped in: the entries
    /// stay (pending) and the swap is retried before the next commit.
    CheckpointPending(CommitError<E>),
}

impl<E> CommitFailure<E> {
    /// The underlying error.
    pub fn error(&self) -> &CommitError<E> {
        match self {
            CommitFailure::NotWritten(e) | CommitFailure::CheckpointPending(e) => e,
        }
    }
}

/// One log's writer.
pub struct LogWriter<S: TileStore> {
    tiles: TileLog,
    store: S,
    head: SignedHead,
    pending: Option<SignedHead>,
    writes: Vec<TileWrite>,
}

impl<S: TileStore> LogWriter<S> {
    /// A writer continuing a log whose checkpoint `head` is durable in `store`.
    pub fn new(tiles: TileLog, store: S, head: SignedHead) -> Self {
        assert_eq!(tiles.size(), head.size, "the tiles core is at the checkpoint");
        LogWriter {
            tiles,
            store,
            head,
            pending: None,
            writes: Vec::new(),
        }
    }

    /// The checkpoint on stable storage.
    pub fn head(&self) -> &SignedHead {
        &self.head
    }

    /// Size the next entry gets (a pending checkpoint's entries included).
    pub fn size(&self) -> u64 {
        self.tiles.size()
    }

    /// Whether a signed checkpoint awaits its swap.
    pub fn has_pending(&self) -> bool {
        self.pending.is_some()
    }

    /// The store (for reads and store-specific housekeeping).
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The files the last successful commit wrote.
    pub fn last_writes(&self) -> &[TileWrite] {
        &self.writes
    }

    /// Swaps in a pending checkpoint, if any: `Ok(true)` when one became durable.
    pub fn retry_pending(&mut self) -> Result<bool, CommitFailure<S::Error>> {
        let Some(pending) = self.pending.take() else {
            return Ok(false);
        };
        if let Err(e) = self.store.swap_checkpoint(pending.note.as_bytes()) {
            self.pending = Some(pending);
            return Err(CommitFailure::CheckpointPending(CommitError::Store(e)));
        }
        self.head = pending;
        Ok(true)
    }

    /// Makes `entries` durable under a new checkpoint signed by `sign(size, root)`.
    pub fn commit<'a>(
        &mut self,
        entries: impl Iterator<Item = &'a [u8]>,
        sign: impl FnOnce(u64, Hash) -> Result<String, String>,
    ) -> Result<(), CommitFailure<S::Error>> {
        assert!(self.pending.is_none(), "retry_pending first");
        let signed = self
            .write_tiles(entries)
            .and_then(|(size, root)| Ok((size, root, sign(size, root).map_err(CommitError::Sign)?)));
        let (size, root, note) = match signed {
            Ok(signed) => signed,
            Err(e) => {
                self.tiles.rollback();
                self.store.abandon();
                assert_eq!(self.tiles.size(), self.head.size, "rolled back to the durable size");
                return Err(CommitFailure::NotWritten(e));
            }
        };
        // The files are synced and the checkpoint signed: this size is never rolled back.
        self.tiles.mark_durable(size);
        self.pending = Some(SignedHead { size, root, note });
        self.retry_pending().map(|_| ())
    }

    fn write_tiles<'a>(
        &mut self,
        entries: impl Iterator<Item = &'a [u8]>,
    ) -> Result<(u64, Hash), CommitError<S::Error>> {
        for entry in entries {
            self.tiles.append(entry).map_err(CommitError::Tiles)?;
        }
        self.writes.clear();
        let root = self.tiles.commit(&mut self.writes);
        for write in &self.writes {
            self.store.put(&write.path, &write.bytes).map_err(CommitError::Store)?;
        }
        self.store.sync().map_err(CommitError::Store)?;
        Ok((self.tiles.size(), root))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{empty_root, verify_tree, MemStore};
    use alloc::format;

    fn writer() -> LogWriter<MemStore> {
        let head = SignedHead {
            size: 0,
            root: empty_root(),
            note: String::from("0"),
        };
        LogWriter::new(TileLog::new(), MemStore::new(), head)
    }

    #[test]
    fn commits_then_refuses_and_rolls_back_on_a_failed_signature() {
        let mut w = writer();
        let entries: Vec<Vec<u8>> = (0..300).map(|i| format!("entry {i}").into_bytes()).collect();
        w.commit(entries.iter().map(Vec::as_slice), |size, _| Ok(format!("{size}")))
            .unwrap();
        assert_eq!((w.head().size, w.size()), (300, 300));
        let more = [b"x".as_slice()];
        let failed = w.commit(more.into_iter(), |_, _| Err(String::from("refused")));
        assert!(matches!(failed, Err(CommitFailure::NotWritten(CommitError::Sign(_)))));
        assert_eq!(w.size(), 300, "rolled back");
        w.commit(more.into_iter(), |size, _| Ok(format!("{size}"))).unwrap();
        assert_eq!(w.head().size, 301);
        verify_tree(w.store(), 301, &w.head().root, &[], &mut |_| {}).expect("the stored tree verifies");
    }
}
