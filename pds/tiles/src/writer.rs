//! The durability sequences of a tlog-tiles log, written once for every store and every
//! envelope (the hosted committer and audit writer, the appliance's tiles domain). Two
//! disciplines share the staging and signing steps:
//!
//! - **Barriers** ([`LogWriter::commit`]): append the entries, put every new file,
//!   `sync`, have the checkpoint signed, mark the size durable, swap the checkpoint in.
//! - **Journal** ([`LogWriter::commit_journaled`]): append, put every new *full* tile and
//!   bundle (staged, invisible), have the checkpoint signed, append the entries with the
//!   signed note to the host's journal (one barrier: the commit is durable and may be
//!   acknowledged), then `sync` reveals the staged files. Files therefore only ever
//!   appear from durable entries, so a full tile is final the first time it exists. The
//!   new right edge (partial tiles and bundle) is left in [`LogWriter::last_writes`] for
//!   the host, which serves it from memory and writes it when it publishes a checkpoint
//!   file, in the background, after its tiles are durable.
//!
//! A failure before the signature rolls the log and the store back to the durable size.
//! After the signature nothing is rolled back: a checkpoint that was signed but not yet
//! journaled, revealed or swapped in stays pending and is retried first, never re-signed
//! (an attestor refuses to sign two roots for one size).
//!
//! It never does I/O itself: the store, the journal and the signer are the caller's.

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

/// Which step a signed checkpoint still waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PendingStep {
    /// Barriers: the checkpoint swap.
    Swap,
    /// Journal: the journal append (the entries are not known to be durable).
    Journal,
    /// Journal: the entries are durable; their staged files are not yet revealed.
    Reveal,
}

/// Which durability discipline a commit follows.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Discipline {
    Barriers,
    Journal,
}

/// One log's writer.
pub struct LogWriter<S: TileStore> {
    tiles: TileLog,
    store: S,
    head: SignedHead,
    pending: Option<(PendingStep, SignedHead)>,
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

    /// Whether a signed checkpoint awaits a step.
    pub fn has_pending(&self) -> bool {
        self.pending.is_some()
    }

    /// The step a signed checkpoint awaits, if any.
    pub fn pending_step(&self) -> Option<PendingStep> {
        self.pending.as_ref().map(|(step, _)| *step)
    }

    /// The store (for reads and store-specific housekeeping).
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The store, for writes the store orders itself between commits (the
    /// block store's snapshots). Never call it with a checkpoint pending.
    pub fn store_mut(&mut self) -> &mut S {
        assert!(self.pending.is_none(), "no store writes while a checkpoint is pending");
        &mut self.store
    }

    /// The files the last successful commit wrote.
    pub fn last_writes(&self) -> &[TileWrite] {
        &self.writes
    }

    /// Finishes a pending checkpoint, if any: `Ok(true)` when one became the durable
    /// head. `journal(first_index, note)` is called if the journal append is what it
    /// waits for; it must append the very entries of that commit again (the caller
    /// keeps them until this succeeds).
    pub fn retry_pending_with(
        &mut self,
        journal: impl FnOnce(u64, &str) -> Result<(), S::Error>,
    ) -> Result<bool, CommitFailure<S::Error>> {
        let Some((step, pending)) = self.pending.take() else {
            return Ok(false);
        };
        let failed = |this: &mut Self, step, pending, e| {
            this.pending = Some((step, pending));
            Err(CommitFailure::CheckpointPending(CommitError::Store(e)))
        };
        match step {
            PendingStep::Swap => {
                if let Err(e) = self.store.swap_checkpoint(pending.note.as_bytes()) {
                    return failed(self, step, pending, e);
                }
            }
            PendingStep::Journal | PendingStep::Reveal => {
                if step == PendingStep::Journal {
                    if let Err(e) = journal(self.head.size, &pending.note) {
                        return failed(self, step, pending, e);
                    }
                    // Durable: this size is never rolled back.
                    self.tiles.mark_durable(pending.size);
                }
                if let Err(e) = self.store.sync() {
                    return failed(self, PendingStep::Reveal, pending, e);
                }
            }
        }
        self.head = pending;
        Ok(true)
    }

    /// [`LogWriter::retry_pending_with`] for the barrier discipline (no journal).
    pub fn retry_pending(&mut self) -> Result<bool, CommitFailure<S::Error>> {
        assert_ne!(
            self.pending_step(),
            Some(PendingStep::Journal),
            "a journaled writer retries with its journal"
        );
        self.retry_pending_with(|_, _| unreachable!("no journal step is pending"))
    }

    /// Makes `entries` durable under a new checkpoint signed by `sign(size, root)`.
    pub fn commit<'a>(
        &mut self,
        entries: impl Iterator<Item = &'a [u8]>,
        sign: impl FnOnce(u64, Hash) -> Result<String, String>,
    ) -> Result<(), CommitFailure<S::Error>> {
        assert!(self.pending.is_none(), "retry_pending first");
        let (size, root, note) = self.stage_and_sign(entries, Discipline::Barriers, sign)?;
        // The files are synced and the checkpoint signed: this size is never rolled back.
        self.tiles.mark_durable(size);
        self.pending = Some((PendingStep::Swap, SignedHead { size, root, note }));
        self.retry_pending().map(|_| ())
    }

    /// Makes `entries` durable through the host's journal: stage their files, have the
    /// checkpoint signed by `sign(size, root)`, `journal(first_index, note)` (which must
    /// append `entries` and the note durably), then reveal the files with `sync`. The
    /// store's `checkpoint` file is not touched: publishing it, once the tiles are
    /// durable, is the host's background step.
    pub fn commit_journaled<'a>(
        &mut self,
        entries: impl Iterator<Item = &'a [u8]>,
        sign: impl FnOnce(u64, Hash) -> Result<String, String>,
        journal: impl FnOnce(u64, &str) -> Result<(), S::Error>,
    ) -> Result<(), CommitFailure<S::Error>> {
        assert!(self.pending.is_none(), "retry_pending_with first");
        let (size, root, note) = self.stage_and_sign(entries, Discipline::Journal, sign)?;
        // Signed: from here on the commit is only ever finished, never undone.
        self.pending = Some((PendingStep::Journal, SignedHead { size, root, note }));
        self.retry_pending_with(journal).map(|_| ())
    }

    /// The steps both disciplines share: append, put the files (barriers: all of them,
    /// then `sync`; journal: the full ones, staged), have the checkpoint signed. Any
    /// failure rolls the log and the store back to the durable size.
    fn stage_and_sign<'a>(
        &mut self,
        entries: impl Iterator<Item = &'a [u8]>,
        discipline: Discipline,
        sign: impl FnOnce(u64, Hash) -> Result<String, String>,
    ) -> Result<(u64, Hash, String), CommitFailure<S::Error>> {
        let signed = self
            .stage_tiles(entries, discipline == Discipline::Journal)
            .and_then(|staged| {
                if discipline == Discipline::Barriers {
                    self.store.sync().map_err(CommitError::Store)?;
                }
                Ok(staged)
            })
            .and_then(|(size, root)| Ok((size, root, sign(size, root).map_err(CommitError::Sign)?)));
        signed.map_err(|e| {
            self.tiles.rollback();
            self.store.abandon();
            assert_eq!(self.tiles.size(), self.head.size, "rolled back to the durable size");
            CommitFailure::NotWritten(e)
        })
    }

    /// Appends, commits the tiles core and puts its files (only the full ones when
    /// `full_only`: the partial right edge is then the host's to keep).
    fn stage_tiles<'a>(
        &mut self,
        entries: impl Iterator<Item = &'a [u8]>,
        full_only: bool,
    ) -> Result<(u64, Hash), CommitError<S::Error>> {
        for entry in entries {
            self.tiles.append(entry).map_err(CommitError::Tiles)?;
        }
        self.writes.clear();
        let root = self.tiles.commit(&mut self.writes);
        for write in self.writes.iter().filter(|w| !full_only || w.path.is_full()) {
            self.store.put(&write.path, &write.bytes).map_err(CommitError::Store)?;
        }
        Ok((self.tiles.size(), root))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{empty_root, verify_tree, MemStore, TileReader};
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

    /// A MemStore whose errors the test can make up.
    struct Flaky(MemStore);
    impl crate::TileReader for Flaky {
        type Error = &'static str;
        fn read(&self, path: &crate::TilePath) -> Result<Option<Vec<u8>>, &'static str> {
            Ok(self.0.read(path).unwrap())
        }
    }
    impl TileStore for Flaky {
        fn put(&mut self, path: &crate::TilePath, bytes: &[u8]) -> Result<(), &'static str> {
            self.0.put(path, bytes).map_err(|_| "put")
        }
        fn sync(&mut self) -> Result<(), &'static str> {
            Ok(())
        }
        fn swap_checkpoint(&mut self, note: &[u8]) -> Result<(), &'static str> {
            self.0.swap_checkpoint(note).map_err(|_| "swap")
        }
        fn checkpoint(&self) -> Result<Option<Vec<u8>>, &'static str> {
            Ok(self.0.checkpoint().unwrap())
        }
    }

    #[test]
    fn a_journaled_commit_reveals_files_only_after_the_journal_and_never_re_signs() {
        let head = SignedHead {
            size: 0,
            root: empty_root(),
            note: String::from("0"),
        };
        let mut w = LogWriter::new(TileLog::new(), Flaky(MemStore::new()), head);
        let entries: Vec<Vec<u8>> = (0..300).map(|i| format!("entry {i}").into_bytes()).collect();
        let mut journaled = Vec::new();
        w.commit_journaled(
            entries.iter().map(Vec::as_slice),
            |size, _| Ok(format!("{size}")),
            |first, note| {
                journaled.push((first, String::from(note)));
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(journaled, [(0, String::from("300"))]);
        // The right edge is the host's: it keeps the newest version of each partial.
        let mut edge: Vec<TileWrite> = w.last_writes().iter().filter(|w| !w.path.is_full()).cloned().collect();
        assert_eq!((w.head().size, w.size()), (300, 300));
        // A journal failure after the signature keeps the commit pending, never rolled back.
        let more = [b"x".as_slice()];
        let mut signatures = 0;
        let failed = w.commit_journaled(
            more.into_iter(),
            |size, _| {
                signatures += 1;
                Ok(format!("{size}"))
            },
            |_, _| Err("journal"),
        );
        assert!(matches!(failed, Err(CommitFailure::CheckpointPending(_))));
        assert_eq!(
            (w.head().size, w.size(), w.pending_step()),
            (300, 301, Some(PendingStep::Journal))
        );
        let mut retried = None;
        assert!(w
            .retry_pending_with(|first, note| {
                retried = Some((first, String::from(note)));
                Ok(())
            })
            .unwrap());
        assert_eq!(retried, Some((300, String::from("301"))));
        assert_eq!((signatures, w.head().size, w.pending_step()), (1, 301, None));
        // Only full files were put; the right edge is the host's to write when it publishes.
        let mut published = w.store().0.clone();
        for write in w.last_writes() {
            if write.path.is_full() {
                assert!(published.read(&write.path).unwrap().is_some());
            } else {
                edge.push(write.clone());
            }
        }
        for write in &edge {
            published.put(&write.path, &write.bytes).unwrap();
        }
        verify_tree(&published, 301, &w.head().root, &[], &mut |_| {}).expect("the stored tree verifies");
    }
}
