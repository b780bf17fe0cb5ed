//! The in-memory index: tile path → where its newest record is. Two layers:
//! `committed` (covered by the last checkpoint) and `staged` (put since, not
//! yet committed). The same rules run when writing and when rebuilding at
//! `open`, so both produce the same index.
//!
//! Rules:
//! - a staged record supersedes any earlier staged record of the same path;
//! - a committed full tile is immutable: a differing rewrite is refused by the
//!   store before it reaches here, and one found on disk is corruption;
//! - when a commit makes a full tile durable, every partial version of that
//!   tile leaves the index (exactly what the POSIX store deletes), which keeps
//!   the index near `2 × size / 256 + 9 × 255` entries.
//!
//! This module never touches the device; it must never let the number of
//! distinct paths exceed its limit.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use ledgerfs_tiles::TilePath;

use crate::error::Error;

/// Where a record is: its first block and payload length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Loc {
    /// First block of the record (its header).
    pub block: u64,
    /// Payload bytes.
    pub len: u32,
}

/// Path → newest record, committed and staged.
#[derive(Debug)]
pub(crate) struct Index {
    committed: BTreeMap<TilePath, Loc>,
    staged: BTreeMap<TilePath, Loc>,
    /// Staged paths that are not in `committed` (so the distinct total is
    /// `committed.len() + staged_new`).
    staged_new: usize,
    max: usize,
}

impl Index {
    /// An empty index holding at most `max` distinct paths.
    pub fn new(max: usize) -> Index {
        Index {
            committed: BTreeMap::new(),
            staged: BTreeMap::new(),
            staged_new: 0,
            max,
        }
    }

    /// Distinct paths indexed (committed and staged).
    pub fn len(&self) -> usize {
        self.committed.len() + self.staged_new
    }

    /// Newest record of `path`, staged first.
    pub fn get(&self, path: &TilePath) -> Option<Loc> {
        self.staged.get(path).or_else(|| self.committed.get(path)).copied()
    }

    /// Committed record of `path`, ignoring anything staged.
    pub fn get_committed(&self, path: &TilePath) -> Option<Loc> {
        self.committed.get(path).copied()
    }

    /// Every committed path in path order.
    pub fn committed(&self) -> &BTreeMap<TilePath, Loc> {
        &self.committed
    }

    /// Would staging `path` fit under the limit?
    pub fn check_room(&self, path: &TilePath) -> Result<(), Error> {
        let new = !self.staged.contains_key(path) && !self.committed.contains_key(path);
        if new && self.len() >= self.max {
            return Err(Error::IndexFull { max: self.max });
        }
        Ok(())
    }

    /// Stage `path` at `loc`. The caller checked the room and, for a full
    /// tile, that it is not committed.
    pub fn stage(&mut self, path: TilePath, loc: Loc) {
        assert!(
            !(path.is_full() && self.committed.contains_key(&path)),
            "committed full tiles are immutable"
        );
        let in_committed = self.committed.contains_key(&path);
        if self.staged.insert(path, loc).is_none() && !in_committed {
            self.staged_new += 1;
        }
        assert!(self.len() <= self.max, "index above its limit");
    }

    /// Forget everything, committed and staged (a failed start from an index
    /// record falls back to walking the whole chain).
    pub fn clear(&mut self) {
        self.committed.clear();
        self.discard_staged();
    }

    /// Take `paths` as the committed index (read from an index record).
    /// Refuses more paths than the limit and a path listed twice.
    pub fn load(&mut self, paths: Vec<(TilePath, Loc)>) -> Result<(), Error> {
        assert!(
            self.committed.is_empty() && self.staged.is_empty(),
            "load into an empty index"
        );
        if paths.len() > self.max {
            return Err(Error::IndexFull { max: self.max });
        }
        let count = paths.len();
        self.committed.extend(paths);
        if self.committed.len() != count {
            self.committed.clear();
            return Err(Error::Corrupt {
                block: 0,
                reason: "index record lists a path twice",
            });
        }
        Ok(())
    }

    /// Forget everything staged.
    pub fn discard_staged(&mut self) {
        self.staged.clear();
        self.staged_new = 0;
    }

    /// Make everything staged committed, then drop every partial version of
    /// each full tile that this commit made durable.
    pub fn commit_staged(&mut self) {
        let staged = core::mem::take(&mut self.staged);
        self.staged_new = 0;
        let fulls: Vec<TilePath> = staged.keys().filter(|p| p.is_full()).copied().collect();
        self.committed.extend(staged);
        for full in fulls {
            let lo = TilePath { width: 1, ..full };
            let hi = TilePath { width: 255, ..full };
            let partials: Vec<TilePath> = self.committed.range(lo..=hi).map(|(p, _)| *p).collect();
            for p in partials {
                self.committed.remove(&p);
            }
        }
        assert!(self.len() <= self.max, "index above its limit");
    }
}
