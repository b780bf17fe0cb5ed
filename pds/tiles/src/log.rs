//! The appender state machine: holds the right edge of the log (the partial
//! hash tile at each level and the partial entry bundle), turns appends into
//! tiles, and hands the host exactly the files to write at each commit.
//!
//! Commit protocol (the host's side):
//! 1. `append`/`append_hashed` entries (no IO, no per-entry allocation);
//! 2. `commit(&mut writes)` → root; `put` every write, `sync`, then sign and
//!    `swap_checkpoint` for that root and size;
//! 3. on success `mark_durable(size)`; on any storage failure `rollback()`,
//!    which returns to the last durable size (and discards later commits).
//!
//! This module never does IO and never reads a clock; it only fills buffers.

use alloc::collections::VecDeque;
use alloc::vec::Vec;
use core::fmt;

use crate::bundle::{bundle_push, BundleIter};
use crate::edge::Edge;
use crate::error::TileError;
use crate::path::{level_count, partial_at, TilePath};
use crate::store::{read_bundle, TileReader};
use crate::{leaf_hash, Hash, MAX_ENTRY_LEN, MAX_TREE_SIZE};

/// Most commits that may await [`TileLog::mark_durable`] at once. A host that
/// never calls `mark_durable` trips an assertion here instead of silently
/// keeping a rollback point that storage has long since passed.
pub const MAX_INFLIGHT_COMMITS: usize = 16;

/// One file the host must store: a newly full tile or bundle (immutable), or
/// the new partial tile/bundle of a level's right edge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TileWrite {
    /// Where to store it.
    pub path: TilePath,
    /// Exactly the bytes to store.
    pub bytes: Vec<u8>,
}

/// The right edge at one commit: enough to rebuild the appender state there.
#[derive(Clone)]
struct Snapshot {
    size: u64,
    /// Partial tiles, level 0 first (the [`Edge::snapshot_into`] layout).
    partials: Vec<Hash>,
    /// Encoded partial bundle.
    bundle: Vec<u8>,
}

impl Snapshot {
    fn empty() -> Self {
        Snapshot {
            size: 0,
            partials: Vec::new(),
            bundle: Vec::new(),
        }
    }
}

/// The appender: the Merkle state of a tiled log and the files it still owes
/// storage. Holds one 8 KiB buffer per level (at most 8), the partial bundle,
/// the full tiles made since the last commit, and one snapshot per commit not
/// yet marked durable.
#[derive(Clone)]
pub struct TileLog {
    edge: Edge,
    /// Encoded entries `size & !255 .. size`.
    bundle: Vec<u8>,
    /// Full tiles and bundles completed since the last commit.
    pending: Vec<TileWrite>,
    /// Size at the last commit (or at `new`/`open`/`rollback`).
    committed_size: u64,
    /// Rollback target: the last size the host said is durable.
    durable: Snapshot,
    /// Commits after `durable`, oldest first.
    inflight: VecDeque<Snapshot>,
}

impl Default for TileLog {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for TileLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TileLog")
            .field("size", &self.edge.size())
            .field("committed_size", &self.committed_size)
            .field("durable_size", &self.durable.size)
            .field("inflight_commits", &self.inflight.len())
            .field("pending_writes", &self.pending.len())
            .finish()
    }
}

impl TileLog {
    /// An empty log (size 0, root SHA-256("")), durable by definition.
    pub fn new() -> Self {
        TileLog {
            edge: Edge::new(),
            bundle: Vec::new(),
            pending: Vec::new(),
            committed_size: 0,
            durable: Snapshot::empty(),
            inflight: VecDeque::new(),
        }
    }

    /// Rebuild the appender state for an existing tree of `size` from stored
    /// files, checking that the rebuilt root equals `expected_root`.
    ///
    /// Reads only the right edge: the partial hash tile of `size` at each level
    /// (at most 8 files) and the partial entry bundle. A deleted partial file is
    /// replaced by the prefix of its full file. Checks the root (which covers
    /// every partial hash tile) and that each entry of the partial bundle
    /// hashes to its level-0 tile entry. Full tiles are not read: appending
    /// never needs them (use [`crate::verify_tree`] to audit them).
    pub fn open<R: TileReader>(reader: &R, size: u64, expected_root: &Hash) -> Result<Self, TileError> {
        let edge = crate::hashes::edge_from_tiles(reader, size)?;
        if edge.root() != *expected_root {
            return Err(TileError::RootMismatch);
        }
        let bundle = match partial_at(size, 0, true) {
            None => Vec::new(),
            Some(p) => {
                let bytes = read_bundle(reader, &p)?;
                let level0 = edge.partial(0);
                // read_bundle guarantees exactly p.width entries.
                assert_eq!(level0.len(), usize::from(p.width));
                for (position, (entry, want)) in BundleIter::new(&bytes).zip(level0).enumerate() {
                    let entry = entry.map_err(|_| TileError::BundleMalformed { path: p.to_path() })?;
                    if leaf_hash(entry) != *want {
                        return Err(TileError::EntryMismatch {
                            path: p.to_path(),
                            position,
                        });
                    }
                }
                bytes
            }
        };
        let mut partials = Vec::with_capacity(Edge::partials_len(size));
        edge.snapshot_into(&mut partials);
        let durable = Snapshot {
            size,
            partials,
            bundle: bundle.clone(),
        };
        Ok(TileLog {
            edge,
            bundle,
            pending: Vec::new(),
            committed_size: size,
            durable,
            inflight: VecDeque::new(),
        })
    }

    /// Append an entry; returns its index. Fails without changing anything if
    /// the entry exceeds [`MAX_ENTRY_LEN`] or the tree is full (2^63 entries).
    #[inline]
    pub fn append(&mut self, entry: &[u8]) -> Result<u64, TileError> {
        self.check_append(entry)?;
        let leaf = leaf_hash(entry);
        Ok(self.append_unchecked(entry, &leaf))
    }

    /// Append an entry whose leaf hash the caller already computed (so another
    /// thread can hash in parallel); the caller guarantees
    /// `leaf == leaf_hash(entry)` (checked only in debug builds).
    #[inline]
    pub fn append_hashed(&mut self, entry: &[u8], leaf: &Hash) -> Result<u64, TileError> {
        self.check_append(entry)?;
        debug_assert_eq!(*leaf, leaf_hash(entry), "append_hashed: leaf is not leaf_hash(entry)");
        Ok(self.append_unchecked(entry, leaf))
    }

    #[inline]
    fn check_append(&self, entry: &[u8]) -> Result<(), TileError> {
        if entry.len() > MAX_ENTRY_LEN {
            return Err(TileError::EntryTooLarge { len: entry.len() });
        }
        if self.edge.size() >= MAX_TREE_SIZE {
            return Err(TileError::TreeFull);
        }
        Ok(())
    }

    #[inline]
    fn append_unchecked(&mut self, entry: &[u8], leaf: &Hash) -> u64 {
        let index = self.edge.size();
        if bundle_push(&mut self.bundle, entry).is_err() {
            unreachable!("entry length was checked");
        }
        let pending = &mut self.pending;
        self.edge.push_infallible(leaf, |level, tile_index, tile| {
            pending.push(TileWrite {
                path: TilePath::hash(level as u8, tile_index, 256),
                bytes: tile.as_flattened().to_vec(),
            });
        });
        if (index + 1) & 0xff == 0 {
            // The bundle is full: hand the buffer over, start a new one of the
            // same capacity (one allocation per 256 entries).
            let cap = self.bundle.len();
            let full = core::mem::replace(&mut self.bundle, Vec::with_capacity(cap));
            self.pending.push(TileWrite {
                path: TilePath::entries(index >> 8, 256),
                bytes: full,
            });
        }
        index
    }

    /// Emit every file that changed since the last commit: each tile/bundle
    /// that became full (once; immutable) and, for each level whose right
    /// edge moved, the partial tile/bundle at its new width. Returns the root
    /// for `size()`. The commit stays rollback-able until
    /// [`TileLog::mark_durable`] is called for its size.
    ///
    /// Panics if [`MAX_INFLIGHT_COMMITS`] commits already await `mark_durable`.
    pub fn commit(&mut self, writes: &mut Vec<TileWrite>) -> Hash {
        writes.append(&mut self.pending);
        let size = self.edge.size();
        let prev = self.committed_size;
        if size != prev {
            assert!(size > prev);
            for level in 0..level_count(size) {
                if let Some(p) = partial_at(size, level, false) {
                    if partial_at(prev, level, false) != Some(p) {
                        let hashes = self.edge.partial(level);
                        assert_eq!(hashes.len(), usize::from(p.width));
                        writes.push(TileWrite {
                            path: p,
                            bytes: hashes.as_flattened().to_vec(),
                        });
                    }
                }
            }
            if let Some(p) = partial_at(size, 0, true) {
                // The bundle always moves when level 0 does.
                writes.push(TileWrite {
                    path: p,
                    bytes: self.bundle.clone(),
                });
            }
            assert!(
                self.inflight.len() < MAX_INFLIGHT_COMMITS,
                "TileLog::commit: {MAX_INFLIGHT_COMMITS} commits await mark_durable"
            );
            let mut partials = Vec::with_capacity(Edge::partials_len(size));
            self.edge.snapshot_into(&mut partials);
            self.inflight.push_back(Snapshot {
                size,
                partials,
                bundle: self.bundle.clone(),
            });
            self.committed_size = size;
        }
        self.edge.root()
    }

    /// Tell the log that the commit at `size` is durable (its files synced and
    /// its checkpoint swapped): `rollback` will no longer undo it or anything
    /// before it.
    ///
    /// Panics if `size` is not the size of the durable point or of a commit
    /// made since (a host bug: it would confirm something never written).
    pub fn mark_durable(&mut self, size: u64) {
        assert!(
            size >= self.durable.size,
            "mark_durable: size is below the durable size"
        );
        assert!(size <= self.committed_size, "mark_durable: size was never committed");
        while let Some(front) = self.inflight.front() {
            if front.size > size {
                break;
            }
            self.durable = self.inflight.pop_front().expect("front exists");
        }
        assert_eq!(self.durable.size, size, "mark_durable: size is not a commit size");
    }

    /// Discard everything appended since the last durable point (the last
    /// [`TileLog::mark_durable`], or `new`/`open`), including commits whose
    /// storage failed; used when storage failed. The next commit re-emits every
    /// file needed from that point, so the host's `put` must overwrite.
    pub fn rollback(&mut self) {
        self.pending.clear();
        self.inflight.clear();
        self.edge.reset_to(self.durable.size, &self.durable.partials);
        self.bundle.clear();
        self.bundle.extend_from_slice(&self.durable.bundle);
        self.committed_size = self.durable.size;
    }

    /// Number of entries appended (committed or not).
    #[inline]
    pub fn size(&self) -> u64 {
        self.edge.size()
    }

    /// Size at the last commit.
    pub fn committed_size(&self) -> u64 {
        self.committed_size
    }

    /// Size `rollback` returns to.
    pub fn durable_size(&self) -> u64 {
        self.durable.size
    }

    /// RFC 6962 root of the current tree (`size()` entries, committed or not);
    /// at most 62 node hashes.
    pub fn root(&self) -> Hash {
        self.edge.root()
    }
}

#[cfg(test)]
mod tests;
