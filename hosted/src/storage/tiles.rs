//! The POSIX implementation of the tiles core's `TileStore`: the tlog-tiles tree under
//! `DIR/log/`, exactly as the spec lays it out, so any static web server can publish it.
//!
//! Every new file is written as `*.tmp` and renamed into place, so a reader never sees a
//! torn file. Two disciplines (see the tiles core's `LogWriter`):
//!
//! - **Journaled** (the ledger, [`PosixStore::journaled`]): `put` stages `*.tmp` files
//!   of full tiles and bundles and `sync` renames them into place without a barrier; the
//!   partial right edge lives in memory ([`RightEdge`], which readers consult first) and
//!   is written to disk only when a checkpoint is published. The commit is already durable
//!   in the journal (`crate::storage::journal`) when `sync` runs, so every file that appears is
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

use std::collections::BTreeMap;
use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use ledgerfs_tiles::{BundleIter, TileKind, TilePath, TileReader, TileStore, TileWrite};

use crate::error::{Error, Result};
use crate::storage::fs::{posix, Fs};
use crate::storage::fsutil;

/// Name of the checkpoint file inside the log directory.
pub const CHECKPOINT_FILE: &str = "checkpoint";

/// A tlog-tiles tree on a POSIX file system.
#[derive(Debug)]
pub struct PosixStore {
    root: PathBuf,
    fs: Arc<dyn Fs>,
    pending: Vec<PathBuf>,
    barriers: bool,
    edge: Option<Arc<RightEdge>>,
}

/// The newest partial tiles and bundles of the journaled log (its right edge), kept in
/// memory so a commit creates no file for them: readers at the durable size read them
/// here, the publisher writes them when it publishes a checkpoint. A partial of width
/// `w` is the prefix of any wider version, so readers at older sizes are answered too.
#[derive(Debug, Default)]
pub struct RightEdge {
    /// Keyed by the full tile's path.
    tiles: RwLock<BTreeMap<TilePath, EdgeTile>>,
}

/// One partial kept by [`RightEdge`]: its width and bytes.
type EdgeTile = (u16, Arc<Vec<u8>>);

impl RightEdge {
    /// Takes in a commit's files: partials replace their tile's entry; a full tile
    /// removes it (disk has it now).
    pub fn apply(&self, writes: &[TileWrite]) {
        let mut tiles = self.tiles.write().expect("edge lock");
        for write in writes {
            if write.path.is_full() {
                tiles.remove(&write.path);
            } else {
                tiles.insert(write.path.to_full(), (write.path.width, Arc::new(write.bytes.clone())));
            }
        }
    }

    /// The partial `path`, cut from the newest version kept, if that is at least as wide.
    pub fn get(&self, path: &TilePath) -> Option<Vec<u8>> {
        let tiles = self.tiles.read().expect("edge lock");
        let (width, bytes) = tiles.get(&path.to_full())?;
        (*width >= path.width).then(|| prefix(path, bytes))
    }

    /// Every partial kept, with its path: the right edge to publish.
    pub fn snapshot(&self) -> Vec<(TilePath, Arc<Vec<u8>>)> {
        let tiles = self.tiles.read().expect("edge lock");
        tiles
            .iter()
            .map(|(full, (width, bytes))| (TilePath { width: *width, ..*full }, bytes.clone()))
            .collect()
    }
}

/// The first `path.width` hashes or entries of a wider version of the tile or bundle.
pub fn prefix(path: &TilePath, bytes: &[u8]) -> Vec<u8> {
    let width = usize::from(path.width);
    match path.kind {
        TileKind::Hash { .. } => bytes[..(width * 32).min(bytes.len())].to_vec(),
        TileKind::Entries => {
            let mut iter = BundleIter::new(bytes);
            for _ in 0..width {
                if iter.next().is_none() {
                    break;
                }
            }
            bytes[..bytes.len() - iter.remaining().len()].to_vec()
        }
    }
}

impl PosixStore {
    /// The barrier-discipline store rooted at `root` (a `log` directory); also the
    /// read-only view of any store.
    pub fn new(root: PathBuf) -> PosixStore {
        PosixStore {
            root,
            fs: posix(),
            pending: Vec::new(),
            barriers: true,
            edge: None,
        }
    }

    /// This store, answering partial reads from `edge` first (the journaled log's
    /// readers).
    pub fn with_edge(mut self, edge: Arc<RightEdge>) -> PosixStore {
        self.edge = Some(edge);
        self
    }

    /// The journaled store rooted at `root`: `sync` reveals staged files without a
    /// barrier, because the commit is durable in the journal before it is called.
    pub fn journaled(root: PathBuf) -> PosixStore {
        PosixStore {
            root,
            fs: posix(),
            pending: Vec::new(),
            barriers: false,
            edge: None,
        }
    }

    /// This store, writing through `fs` (the simulator's) instead of the real one.
    pub fn with_fs(mut self, fs: Arc<dyn Fs>) -> PosixStore {
        self.fs = fs;
        self
    }

    /// The file system it writes through.
    pub fn fs(&self) -> &Arc<dyn Fs> {
        &self.fs
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
            let _ = self.fs.remove_file(&fsutil::tmp_path(&file));
        }
    }

    /// Deletes every partial version of a tile that is now full and durable.
    pub fn remove_partials(&self, full: &TilePath) {
        let mut dir = self.file_path(full).into_os_string();
        dir.push(".p");
        // Best effort: a leftover partial is harmless (the full tile supersedes it).
        let _ = self.fs.remove_dir_all(&PathBuf::from(dir));
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
                    self.fs.remove_file(&path).map_err(|e| Error::io(&path, e))?;
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
        if let Some(bytes) = self.edge.as_ref().filter(|_| !path.is_full()).and_then(|e| e.get(path)) {
            return Ok(Some(bytes));
        }
        let file = self.file_path(path);
        match fs::read(&file) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == ErrorKind::NotFound && !path.is_full() => self.read_wider(path),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(&file, e)),
        }
    }
}

impl PosixStore {
    /// A partial of a width no checkpoint file was published at (a snapshot's size, an
    /// acknowledged but unpublished checkpoint), cut from the narrowest wider partial on
    /// disk: a partial of width `w` is the prefix of every wider one.
    fn read_wider(&self, path: &TilePath) -> Result<Option<Vec<u8>>> {
        let mut dir = self.file_path(&path.to_full()).into_os_string();
        dir.push(".p");
        let Ok(entries) = fs::read_dir(PathBuf::from(&dir)) else {
            return Ok(None);
        };
        let wider = entries
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse::<u16>().ok())
            .filter(|&w| w > path.width)
            .min();
        let Some(width) = wider else {
            return Ok(None);
        };
        let file = PathBuf::from(dir).join(width.to_string());
        match fs::read(&file) {
            Ok(bytes) => Ok(Some(prefix(path, &bytes))),
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
        fsutil::create_dir_all(&*self.fs, parent)?;
        fsutil::write_tmp(&*self.fs, &file, bytes, 0o644, false)?;
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
            fsutil::sync_filesystem(&*self.fs, &self.root)?;
        }
        // A file leaves the list only once it has its name: a rename that fails is
        // retried with the rest by the next `sync` (the commit stays pending till then).
        while let Some(file) = self.pending.first() {
            match fsutil::rename_into_place(&*self.fs, file) {
                Ok(()) => {}
                // An earlier attempt renamed it and then reported a failure.
                Err(_) if !fsutil::tmp_path(file).exists() && file.exists() => {}
                Err(e) => return Err(e),
            }
            self.pending.remove(0);
        }
        Ok(())
    }

    /// Barriers 2 and 3: tile names and the new checkpoint's bytes durable, then the
    /// checkpoint renamed into place and its directory fsynced.
    fn swap_checkpoint(&mut self, note: &[u8]) -> Result<()> {
        assert!(self.pending.is_empty(), "tiles are synced before the checkpoint");
        let path = self.root.join(CHECKPOINT_FILE);
        let fs = &*self.fs;
        fsutil::write_tmp(fs, &path, note, 0o644, false)?;
        fsutil::sync_filesystem(fs, &self.root)?;
        fsutil::rename_into_place(fs, &path)?;
        fsutil::sync_dir(fs, &self.root)
    }

    fn checkpoint(&self) -> Result<Option<Vec<u8>>> {
        self.read_checkpoint()
    }

    fn abandon(&mut self) {
        PosixStore::abandon(self);
    }
}

/// Name of the integrated-checkpoint file in the data directory: the newest
/// log-signed checkpoint whose tiles are all durable in `DIR/log/` but which has not
/// been published (its witnesses have not met the policy's quorum yet, or recovery
/// integrated it). Private to the daemon, never under `log/`: readers see only the
/// published `checkpoint`. Recovery starts from the larger of the two.
pub const INTEGRATED_FILE: &str = "integrated.checkpoint";

/// How a new `checkpoint` file is revealed: `rename` moves the staged, synced file into
/// place and fsyncs the directory; the caller runs it while its own readers of the
/// published checkpoint (HTTP, FUSE) cannot look, so they and the disk switch together
/// (see `Published::install` in the engine). `&mut |rename| rename()` when nobody reads.
pub type Reveal<'a> = &'a mut dyn FnMut(&mut dyn FnMut() -> Result<()>) -> Result<()>;

/// Publishes `note` as the `checkpoint` file of the journaled log at `root`: the right
/// edge `partials` of its size are written (each once), one `syncfs` makes them and every
/// tile revealed so far durable, then the note is written and synced as `checkpoint.tmp`,
/// renamed into place under `reveal` and the directory fsynced (so a journal segment may
/// be recycled after). Then the partial tiles that `full` tiles (durable now) supersede
/// are deleted.
pub fn publish_checkpoint(
    fs: &Arc<dyn Fs>,
    root: &Path,
    note: &[u8],
    partials: &[(TilePath, Arc<Vec<u8>>)],
    full: &[TilePath],
    reveal: Reveal<'_>,
) -> Result<()> {
    make_tiles_durable(fs, root, partials)?;
    replace_durably(fs, &root.join(CHECKPOINT_FILE), note, reveal)?;
    remove_superseded_partials(fs, root, full);
    Ok(())
}

/// The witnessed discipline's first step: the right edge and every tile revealed so far
/// durable (as [`publish_checkpoint`]), then `note` recorded as the integrated checkpoint
/// (`DIR/integrated.checkpoint`, beside `root`) instead of the published one. Journal
/// segments below it may be recycled after; the `checkpoint` file waits for witnesses.
pub fn integrate_checkpoint(
    fs: &Arc<dyn Fs>,
    root: &Path,
    note: &[u8],
    partials: &[(TilePath, Arc<Vec<u8>>)],
    full: &[TilePath],
) -> Result<()> {
    make_tiles_durable(fs, root, partials)?;
    replace_durably(fs, &integrated_path(root), note, &mut |rename| rename())?;
    // A partial may go once its full tile is durable, whatever checkpoint is published
    // (tlog-tiles: readers fall back to the full tile).
    remove_superseded_partials(fs, root, full);
    Ok(())
}

/// The integrated-checkpoint file of the log at `root` (`DIR/log` → `DIR/integrated.checkpoint`).
pub fn integrated_path(root: &Path) -> PathBuf {
    root.parent().unwrap_or(root).join(INTEGRATED_FILE)
}

/// Replaces the `checkpoint` file of `root` with `note` (its tiles are durable already:
/// [`integrate_checkpoint`] ran for its size): written and synced, then renamed under
/// `reveal` and the directory fsynced.
pub fn publish_integrated(fs: &Arc<dyn Fs>, root: &Path, note: &[u8], reveal: Reveal<'_>) -> Result<()> {
    replace_durably(fs, &root.join(CHECKPOINT_FILE), note, reveal)
}

fn make_tiles_durable(fs: &Arc<dyn Fs>, root: &Path, partials: &[(TilePath, Arc<Vec<u8>>)]) -> Result<()> {
    for (path, bytes) in partials {
        let file = root.join(path.to_path());
        if file.exists() {
            continue; // a partial of one width always holds the same bytes
        }
        let parent = file.parent().expect("tile paths have a parent");
        fsutil::create_dir_all(&**fs, parent)?;
        fsutil::write_tmp(&**fs, &file, bytes, 0o644, false)?;
        fsutil::rename_into_place(&**fs, &file)?;
    }
    fsutil::sync_filesystem(&**fs, root)
}

fn replace_durably(fs: &Arc<dyn Fs>, path: &Path, bytes: &[u8], reveal: Reveal<'_>) -> Result<()> {
    fsutil::write_tmp(&**fs, path, bytes, 0o644, true)?;
    reveal(&mut || {
        fsutil::rename_into_place(&**fs, path)?;
        fsutil::sync_dir(&**fs, path.parent().expect("a file in a directory"))
    })
}

fn remove_superseded_partials(fs: &Arc<dyn Fs>, root: &Path, full: &[TilePath]) {
    let store = PosixStore::new(root.to_path_buf()).with_fs(fs.clone());
    for tile in full {
        store.remove_partials(tile);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ledgerfs_tiles::TILE_WIDTH;

    #[test]
    fn the_right_edge_answers_every_narrower_partial_and_forgets_full_tiles() {
        let edge = RightEdge::default();
        let hashes: Vec<u8> = (0..10 * 32).map(|i| i as u8).collect();
        edge.apply(&[TileWrite {
            path: TilePath::hash(0, 3, 10),
            bytes: hashes.clone(),
        }]);
        assert_eq!(edge.get(&TilePath::hash(0, 3, 4)), Some(hashes[..128].to_vec()));
        assert_eq!(edge.get(&TilePath::hash(0, 3, 10)), Some(hashes.clone()));
        assert_eq!(edge.get(&TilePath::hash(0, 3, 11)), None, "never wider than kept");
        assert_eq!(edge.get(&TilePath::hash(1, 3, 4)), None, "other levels are other tiles");
        assert_eq!(edge.snapshot().len(), 1);
        edge.apply(&[TileWrite {
            path: TilePath::hash(0, 3, TILE_WIDTH as u16),
            bytes: vec![0; 8192],
        }]);
        assert_eq!(edge.get(&TilePath::hash(0, 3, 4)), None, "disk has the full tile now");
        let mut bundle = Vec::new();
        for e in [b"a".as_slice(), b"bc", b"def"] {
            bundle.extend((e.len() as u16).to_be_bytes());
            bundle.extend(e);
        }
        edge.apply(&[TileWrite {
            path: TilePath::entries(0, 3),
            bytes: bundle.clone(),
        }]);
        assert_eq!(edge.get(&TilePath::entries(0, 2)), Some(bundle[..7].to_vec()));
    }
}
