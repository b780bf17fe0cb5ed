//! The committer's storage step without its thread: finish a pending checkpoint, make
//! room in the journal, journal a group commit under one signed checkpoint, reveal its
//! tiles, and (the publisher's step) publish the checkpoint file. The daemon's committer
//! and publisher threads call these; the deterministic simulator (`sim/`) calls the very
//! same functions on a simulated file system, one step at a time.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ledgerfs_sequencer::{CommitGate, EntryBuffer, Notice};
use ledgerfs_tiles::TilePath;

use crate::error::Result;
use crate::pipeline::logwriter::{CommitFailure, LogWriter};
use crate::read::view::Committed;
use crate::storage::fs::Fs;
use crate::storage::journal::Journal;
use crate::storage::tiles::{Reveal, RightEdge};

/// Room the next signed note may need beyond the current one's length.
const NOTE_MARGIN: usize = 256;

/// What the publisher should make the `checkpoint` file next.
#[derive(Debug, Clone)]
pub struct Publication {
    /// The newest durable checkpoint.
    pub head: Committed,
    /// The right edge at that size (written with the checkpoint).
    pub partials: Vec<(TilePath, Arc<Vec<u8>>)>,
    /// Full tiles revealed since the last publication (their partials go after it).
    pub full: Vec<TilePath>,
}

impl Publication {
    /// Folds a newer publication into this one (the newest head wins; full tiles add up).
    pub fn absorb(&mut self, newer: Publication) {
        self.head = newer.head;
        self.partials = newer.partials;
        self.full.extend(newer.full);
    }
}

/// The publisher's step: the right edge, one `syncfs`, then the checkpoint file, renamed
/// into place under `reveal` (see `crate::storage::tiles::publish_checkpoint`).
pub fn publish(fs: &Arc<dyn Fs>, log_dir: &Path, job: &Publication, reveal: Reveal<'_>) -> Result<()> {
    crate::storage::tiles::publish_checkpoint(fs, log_dir, job.head.note.as_bytes(), &job.partials, &job.full, reveal)
}

/// The witnessed publisher's step: the right edge, one `syncfs`, then the checkpoint
/// recorded as integrated, not published (see
/// `crate::storage::tiles::integrate_checkpoint`); the witnessing thread publishes it.
pub fn integrate(fs: &Arc<dyn Fs>, log_dir: &Path, job: &Publication) -> Result<()> {
    crate::storage::tiles::integrate_checkpoint(fs, log_dir, job.head.note.as_bytes(), &job.partials, &job.full)
}

/// The ledger's committer state: its log writer, journal and right edge, and the entries
/// of a commit whose checkpoint is signed but not yet durable.
pub struct CommitStage {
    writer: LogWriter,
    journal: Journal,
    edge: Arc<RightEdge>,
    log_dir: PathBuf,
    /// Entries under a checkpoint that is signed but not yet durable.
    pending_entries: Vec<EntryBuffer>,
    /// Refuses groups sequenced on top of a failed commit (the sequencer core's rule).
    gate: CommitGate,
}

/// A group the sequencer handed on: its epoch, its entries, and what the caller keeps
/// with it (the daemon: the waiting batches; the simulator: its clients' batches).
pub struct Handed<T> {
    /// The sequencer's epoch when it sequenced the group.
    pub epoch: u64,
    /// The group's entries.
    pub entries: EntryBuffer,
    /// The caller's.
    pub payload: T,
}

/// What one committer turn did.
pub struct Turn<T> {
    /// Groups refused without being stored: sequenced on top of a failed commit.
    pub refused: Vec<T>,
    /// Entries durable now, in log order (a finished pending commit's, then this
    /// commit's): read models apply them.
    pub durable: Vec<EntryBuffer>,
    /// What to publish, oldest first (fold them into the publisher's mailbox).
    pub publications: Vec<Publication>,
    /// The payloads of the groups stored now, or those of the failed commit with the
    /// failure and the notice for the sequencer.
    pub outcome: std::result::Result<Vec<T>, (CommitFailure, Vec<T>, Notice)>,
}

/// A group commit that is durable.
pub struct Durable {
    /// The buffers given, in log order (their entries are durable now).
    pub buffers: Vec<EntryBuffer>,
    /// What to publish, when the commit added entries.
    pub publication: Option<Publication>,
}

impl CommitStage {
    /// The stage of an opened store (`log_dir` is its `DIR/log`).
    pub fn new(writer: LogWriter, journal: Journal, edge: Arc<RightEdge>, log_dir: PathBuf) -> CommitStage {
        CommitStage {
            writer,
            journal,
            edge,
            log_dir,
            pending_entries: Vec::new(),
            gate: CommitGate::default(),
        }
    }

    /// One turn of the committer: refuses the groups the gate does not admit, finishes
    /// a pending checkpoint, then commits the others under one checkpoint (one journal
    /// record). On failure the gate records it and the notice for the sequencer is
    /// returned: every entry beyond the kept size is void, and so is every group of
    /// its epoch still on its way.
    pub fn turn<T>(&mut self, groups: Vec<Handed<T>>, published: u64) -> Turn<T> {
        let mut turn = Turn {
            refused: Vec::new(),
            durable: Vec::new(),
            publications: Vec::new(),
            outcome: Ok(Vec::new()),
        };
        let (mut buffers, mut payloads, mut epoch) = (Vec::new(), Vec::new(), None);
        for group in groups {
            if self.gate.admits(group.epoch) {
                epoch = epoch.max(Some(group.epoch));
                buffers.push(group.entries);
                payloads.push(group.payload);
            } else {
                turn.refused.push(group.payload);
            }
        }
        let Some(epoch) = epoch else {
            return turn;
        };
        let result = self.finish_pending().and_then(|finished| {
            if let Some((entries, publication)) = finished {
                turn.durable.extend(entries);
                turn.publications.push(publication);
            }
            self.commit(buffers, published)
        });
        turn.outcome = match result {
            Ok(durable) => {
                turn.durable.extend(durable.buffers);
                turn.publications.extend(durable.publication);
                Ok(payloads)
            }
            Err(failure) => {
                // Entries under a pending checkpoint stay; everything after is void.
                let notice = self.gate.fail(self.size(), epoch);
                Err((failure, payloads, notice))
            }
        };
        turn
    }

    /// The durable checkpoint.
    pub fn committed(&self) -> &Arc<Committed> {
        self.writer.committed()
    }

    /// Size the next entry gets (a pending checkpoint's entries included): what the
    /// sequencer keeps after a failure.
    pub fn size(&self) -> u64 {
        self.writer.size()
    }

    /// The log directory.
    pub fn log_dir(&self) -> &Path {
        &self.log_dir
    }

    /// Journal segments (live, spare).
    pub fn journal_segments(&self) -> (usize, usize) {
        self.journal.segments()
    }

    /// Finishes a pending checkpoint, if any: its entries, durable now, to publish.
    pub fn finish_pending(&mut self) -> std::result::Result<Option<(Vec<EntryBuffer>, Publication)>, CommitFailure> {
        let pending = self.pending_entries.iter().flat_map(|b| b.iter());
        if self
            .writer
            .retry_pending_journaled(&mut self.journal, pending)?
            .is_none()
        {
            return Ok(None);
        }
        // The pending commit's files are its last writes: its right edge and full tiles
        // are revealed now, as a commit that succeeds at once reveals them.
        self.edge.apply(self.writer.last_writes());
        let full = self
            .writer
            .last_writes()
            .iter()
            .filter(|w| w.path.is_full())
            .map(|w| w.path)
            .collect();
        let entries = std::mem::take(&mut self.pending_entries);
        Ok(Some((entries, self.publication(full))))
    }

    /// Commits `buffers` (consecutive groups, in log order, starting at the durable size)
    /// under one checkpoint: one journal record. `published` is the size of the
    /// published checkpoint (journal segments below it are recycled first). Call
    /// [`CommitStage::finish_pending`] first.
    pub fn commit(&mut self, buffers: Vec<EntryBuffer>, published: u64) -> std::result::Result<Durable, CommitFailure> {
        let mut next = self.writer.committed().size;
        for entries in buffers.iter().filter(|b| !b.is_empty()) {
            assert_eq!(entries.first_index(), Some(next), "groups arrive in log order");
            next += entries.len() as u64;
        }
        if next == self.writer.committed().size {
            return Ok(Durable {
                buffers,
                publication: None,
            });
        }
        // Room in the journal first: nothing after the signature may fail for space.
        let entries = buffers.iter().flat_map(|b| b.iter());
        let note_len = self.writer.committed().note.len() + NOTE_MARGIN;
        self.journal.release(published);
        self.journal
            .make_room(entries.clone(), note_len)
            .map_err(CommitFailure::NotWritten)?;
        let mut full = Vec::new();
        match self.writer.commit_journaled(&mut self.journal, entries, &mut full) {
            Ok(()) => {
                // Before the view moves: a reader at the new size finds its partials.
                self.edge.apply(self.writer.last_writes());
                let publication = Some(self.publication(full));
                Ok(Durable { buffers, publication })
            }
            Err(failure) => {
                if matches!(failure, CommitFailure::CheckpointPending(_)) {
                    self.pending_entries = buffers;
                }
                Err(failure)
            }
        }
    }

    /// Most bytes of entries one commit may carry (a quarter of a journal segment).
    pub fn max_commit_bytes(&self) -> usize {
        self.journal.max_record_bytes() / 4
    }

    fn publication(&self, full: Vec<TilePath>) -> Publication {
        Publication {
            head: Committed::clone(self.writer.committed()),
            partials: self.edge.snapshot(),
            full,
        }
    }
}
