//! The POSIX implementation of the tiles core's `TileStore`: the tlog-tiles tree under
//! `DIR/log/`, exactly as the spec lays it out, so any static web server can publish it.
//!
//! Every new file is written as `*.tmp` and renamed into place, so a reader never sees a
//! torn file. Two disciplines (see the tiles core's `LogWriter`):
//!
//! - **Journaled** (the ledger, [`PosixStore::journaled`]): `put` stages `*.tmp` files
//!   and `sync` renames them into place without a barrier. The commit is already durable
//!   in the journal (`crate::journal`) when `sync` runs, so every file that appears is
//!   derived from durable entries and is final: a full tile is never rewritten with other
//!   bytes. The `checkpoint` file is replaced by [`publish_checkpoint`] in the background,
//!   only after one `syncfs` has made every tile it covers durable, so whatever is in
//!   `DIR/log/` at any instant, crash or not, is a valid tlog-tiles tree; recovery
//!   re-integrates from the journal whatever the page cache lost.
//! - **Barriers** (the audit trail, [`PosixStore::new`]): one `syncfs` makes the new
//!   files' bytes durable before their rename (barrier 1); `swap_checkpoint` writes
//!   `checkpoint.tmp`, calls `syncfs` again (barrier 2), renames it into place and
//!   fsyncs the directory (barrier 3).
//!
//! Partial tiles are deleted only once their full tile is durable. `syncfs` is used
//! because one call costs far less than an fsync per file (see README).

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use ledgerfs_tiles::{TilePath, TileReader, TileStore};

use crate::error::{Error, Result};
use crate::fsutil;

/// Name of the checkpoint file inside the log directory.
pub const CHECKPOINT_FILE: &str = "checkpoint";

/// A tlog-tiles tree on a POSIX file system.
#[derive(Debug)]
pub struct PosixStore {
    root: PathBuf,
    pending: Vec<PathBuf>,
    barriers: bool,
}

impl PosixStore {
    /// The barrier-discipline store rooted at `root` (a `log` directory); also the
    /// read-only view of any store.
    pub fn new(root: PathBuf) -> PosixStore {
        PosixStore {
            root,
            pending: Vec::new(),
            barriers: true,
        }
    }

    /// The journaled store rooted at `root`: `sync` reveals staged files without a
    /// barrier, because the commit is durable in the journal before it is called.
    pub fn journaled(root: PathBuf) -> PosixStore {
        PosixStore {
            root,
            pending: Vec::new(),
            barriers: false,
        }
    }

    /// The log directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Absolute path of a tile or bundle.
    pub fn file_path(&self, path: &TilePath) -> PathBuf {
        self.root.join(path.to_path())
    }

    /// Forgets the files of a commit that failed, deleting their temporaries, so the
    /// next commit starts clean (the tiles core re-emits what it needs).
    pub fn abandon(&mut self) {
        for file in self.pending.drain(..) {
            let _ = fs::remove_file(fsutil::tmp_path(&file));
        }
    }

    /// Deletes every partial version of a tile that is now full and durable.
    pub fn remove_partials(&self, full: &TilePath) {
        let mut dir = self.file_path(full).into_os_string();
        dir.push(".p");
        // Best effort: a leftover partial is harmless (the full tile supersedes it).
        let _ = fs::remove_dir_all(PathBuf::from(dir));
    }

    /// Deletes `*.tmp` files a crash left behind (they were never referenced).
    pub fn remove_temporaries(&self) -> Result<usize> {
        let mut removed = 0;
        let mut stack = vec![self.root.clone()];
        while let Some(dir) = stack.pop() {
            let entries = match fs::read_dir(&dir) {
                Ok(entries) => entries,
                Err(e) if e.kind() == ErrorKind::NotFound => continue,
                Err(e) => return Err(Error::io(&dir, e)),
            };
            for entry in entries {
                let entry = entry.map_err(|e| Error::io(&dir, e))?;
                let path = entry.path();
                if entry.file_type().map_err(|e| Error::io(&path, e))?.is_dir() {
                    stack.push(path);
                } else if path.to_string_lossy().ends_with(fsutil::TMP_SUFFIX) {
                    fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
                    removed += 1;
                }
            }
        }
        Ok(removed)
    }

    /// Reads the checkpoint file.
    pub fn read_checkpoint(&self) -> Result<Option<Vec<u8>>> {
        let path = self.root.join(CHECKPOINT_FILE);
        match fs::read(&path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(&path, e)),
        }
    }
}

impl TileReader for PosixStore {
    type Error = Error;

    fn read(&self, path: &TilePath) -> Result<Option<Vec<u8>>> {
        let file = self.file_path(path);
        match fs::read(&file) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(&file, e)),
        }
    }
}

impl TileStore for PosixStore {
    fn put(&mut self, path: &TilePath, bytes: &[u8]) -> Result<()> {
        let file = self.file_path(path);
        if path.is_full() {
            // Immutable: a full tile under an earlier checkpoint is never rewritten.
            if let Ok(existing) = fs::read(&file) {
                if existing == bytes {
                    return Ok(());
                }
            }
        }
        let parent = file.parent().expect("tile paths have a parent");
        fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        fsutil::write_tmp(&file, bytes, 0o644, false)?;
        self.pending.push(file);
        Ok(())
    }

    /// Barriers: the new files' bytes are durable (barrier 1), then they take their
    /// names, which become durable at barrier 2 inside `swap_checkpoint`. Journaled: the
    /// staged files take their names at once (their entries are durable already).
    fn sync(&mut self) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        if self.barriers {
            fsutil::sync_filesystem(&self.root)?;
        }
        for file in self.pending.drain(..) {
            fsutil::rename_into_place(&file)?;
        }
        Ok(())
    }

    /// Barriers 2 and 3: tile names and the new checkpoint's bytes durable, then the
    /// checkpoint renamed into place and its directory fsynced.
    fn swap_checkpoint(&mut self, note: &[u8]) -> Result<()> {
        assert!(self.pending.is_empty(), "tiles are synced before the checkpoint");
        let path = self.root.join(CHECKPOINT_FILE);
        fsutil::write_tmp(&path, note, 0o644, false)?;
        fsutil::sync_filesystem(&self.root)?;
        fsutil::rename_into_place(&path)?;
        fsutil::sync_dir(&self.root)
    }

    fn checkpoint(&self) -> Result<Option<Vec<u8>>> {
        self.read_checkpoint()
    }

    fn abandon(&mut self) {
        PosixStore::abandon(self);
    }
}

/// Publishes `note` as the `checkpoint` file of the journaled log at `root`: one `syncfs`
/// makes every tile revealed so far durable, then the note is written, synced and renamed
/// into place, and the directory fsynced (so a journal segment may be recycled after).
/// Then the partial tiles that `full` tiles (durable now) supersede are deleted.
pub fn publish_checkpoint(root: &Path, note: &[u8], full: &[TilePath]) -> Result<()> {
    fsutil::sync_filesystem(root)?;
    let path = root.join(CHECKPOINT_FILE);
    fsutil::write_tmp(&path, note, 0o644, true)?;
    fsutil::rename_into_place(&path)?;
    fsutil::sync_dir(root)?;
    let store = PosixStore::new(root.to_path_buf());
    for tile in full {
        store.remove_partials(tile);
    }
    Ok(())
}
