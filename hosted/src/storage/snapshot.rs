//! Snapshots of the projections on disk (`DIR/snapshots/<size>.snap`, the format of the
//! `ledgerfs-snapshot` core): written in the background every
//! [`crate::config::Config::snapshot_every`] entries, loaded at start-up so only the log's
//! tail is replayed. A snapshot is trusted only if its checksum holds and the log's own
//! root at its size (rebuilt from the tiles on disk) equals the root it is bound to;
//! anything else is ignored with a message, and the log is replayed from the start.

use std::fs;
use std::path::{Path, PathBuf};

use ledgerfs_sequencer::{Limits, Sequencer};
use ledgerfs_snapshot::{Binding, Snapshot, Writer, SECTION_SEQUENCER, SECTION_VIEW};
use ledgerfs_tiles::TileLog;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::read::logread::LogReader;
use crate::read::view::ViewState;
use crate::storage::fs::Fs;
use crate::storage::fsutil;
use crate::storage::tiles::PosixStore;

/// Directory of the snapshots inside a data directory.
pub const SNAPSHOT_DIR: &str = "snapshots";
/// Snapshots kept (the newest ones); older ones are deleted after a new one is durable.
const KEEP: usize = 2;

/// A snapshot's sections for the state at `binding` (a fully durable sequencer and the
/// read model at the same size), encoded; written by [`write`] without joining them.
pub struct Encoded {
    /// The checkpoint it is bound to.
    pub binding: Binding,
    sequencer: Vec<u8>,
    view: Vec<u8>,
}

impl Encoded {
    fn sections(&self) -> [(u32, &[u8]); 2] {
        [(SECTION_SEQUENCER, &self.sequencer), (SECTION_VIEW, &self.view)]
    }

    /// The snapshot file's size.
    pub fn len(&self) -> usize {
        let sections = self.sections();
        ledgerfs_snapshot::Framing::new(self.binding, &sections).len(&sections)
    }

    /// Whether it is empty (never: a snapshot has a header).
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The whole file as one buffer (tests and tools).
    pub fn to_bytes(&self) -> Vec<u8> {
        ledgerfs_snapshot::encode(self.binding, &self.sections())
    }
}

/// Encodes the state at `binding`.
pub fn encode(binding: Binding, sequencer: &Sequencer, view: &ViewState) -> Encoded {
    assert_eq!(sequencer.next_index(), binding.size);
    assert_eq!(view.size, binding.size);
    let mut seq = Writer::new();
    sequencer.encode_snapshot(&mut seq);
    let mut v = Writer::new();
    view.encode_snapshot(&mut v);
    Encoded {
        binding,
        sequencer: seq.buf,
        view: v.buf,
    }
}

/// Writes a snapshot durably (temporary file, fsync, rename, directory fsync), piece by
/// piece from its sections, and deletes all but the newest few.
pub fn write(fs: &dyn Fs, data: &Path, snapshot: &Encoded) -> Result<PathBuf> {
    let size = snapshot.binding.size;
    let dir = data.join(SNAPSHOT_DIR);
    fsutil::create_dir_all(fs, &dir)?;
    fsutil::sync_dir(fs, data)?;
    let path = dir.join(file_name(size));
    let sections = snapshot.sections();
    let framing = ledgerfs_snapshot::Framing::new(snapshot.binding, &sections);
    fsutil::write_atomic_parts(fs, &path, &framing.pieces(&sections), 0o644)?;
    let mut all = list(data);
    all.sort_by_key(|(size, _)| std::cmp::Reverse(*size));
    for (_, old) in all.into_iter().skip(KEEP) {
        let _ = fs.remove_file(&old);
    }
    Ok(path)
}

fn file_name(size: u64) -> String {
    format!("{size:020}.snap")
}

/// Every snapshot file with the size in its name, in no order.
pub fn list(data: &Path) -> Vec<(u64, PathBuf)> {
    let Ok(entries) = fs::read_dir(data.join(SNAPSHOT_DIR)) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| {
            let path = e.path();
            let size = path.file_name()?.to_str()?.strip_suffix(".snap")?.parse().ok()?;
            Some((size, path))
        })
        .collect()
}

/// A snapshot loaded and checked against the log.
pub struct Loaded {
    /// The size it is at.
    pub size: u64,
    /// The sequencer at that size.
    pub sequencer: Sequencer,
    /// The read model at that size.
    pub view: ViewState,
    /// The tiles core at that size (its right edge read from the tiles on disk).
    pub tiles: TileLog,
}

/// Loads one snapshot file and checks it against the log in `store` (whose published
/// checkpoint has `published` entries).
pub fn load(path: &Path, limits: Limits, store: &PosixStore, published: u64) -> Result<Loaded> {
    let invalid = |reason: String| Error::Corrupt {
        path: format!(
            "{SNAPSHOT_DIR}/{}",
            path.file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
        ),
        reason,
    };
    let bytes = fs::read(path).map_err(|e| Error::io(path, e))?;
    let snapshot = Snapshot::decode(&bytes).map_err(|e| invalid(e.to_string()))?;
    let Binding { size, root } = snapshot.binding;
    if size > published {
        return Err(invalid(format!("it is at size {size}, beyond the log's {published}")));
    }
    let tiles = TileLog::open(store, size, &root).map_err(|e| {
        invalid(format!(
            "the log's root at size {size} is not the one it is bound to ({e})"
        ))
    })?;
    let section = |tag| snapshot.section(tag).map_err(|e| invalid(e.to_string()));
    let sequencer =
        Sequencer::from_snapshot(section(SECTION_SEQUENCER)?, limits).map_err(|e| invalid(e.to_string()))?;
    let view =
        ViewState::from_snapshot(section(SECTION_VIEW)?, sequencer.accounts()).map_err(|e| invalid(e.to_string()))?;
    if sequencer.next_index() != size || view.size != size {
        return Err(invalid("its sections are at other sizes than its binding".into()));
    }
    Ok(Loaded {
        size,
        sequencer,
        view,
        tiles,
    })
}

/// The newest snapshot that checks out, trying newer ones first; each refused one is
/// reported through `warn` and skipped. `None` when there is none to use.
pub fn load_newest(
    data: &Path,
    limits: Limits,
    store: &PosixStore,
    published: u64,
    warn: &mut dyn FnMut(String),
) -> Option<Loaded> {
    let mut all = list(data);
    all.sort_by_key(|(size, _)| std::cmp::Reverse(*size));
    for (_, path) in all {
        match load(&path, limits, store, published) {
            Ok(loaded) => return Some(loaded),
            Err(e) => warn(format!("ignoring snapshot {}: {e}", path.display())),
        }
    }
    None
}

/// Checks every snapshot of the store in `data` against a replay of its log from the
/// start (`ledgerfs verify --snapshots`): each must load (checksum, root binding) and
/// hold exactly the state the replay reaches at its size. Returns how many were checked.
pub fn check_all(data: &Path, vkey: &ledgerfs_attest::VerifierKey) -> Result<usize> {
    let config = Config::load(data)?;
    let limits = Limits {
        max_accounts: config.max_accounts,
        max_transfers: config.max_transfers,
        reserve_transfers: 0,
    };
    let log_dir = data.join(crate::storage::ledger::LOG_DIR);
    let published = crate::storage::ledger::read_published(&log_dir, vkey, &config.origin)?;
    let store = PosixStore::new(log_dir.clone());
    let reader = LogReader::new(PosixStore::new(log_dir));
    let mut all = list(data);
    all.sort_by_key(|(size, _)| *size);
    for (_, path) in &all {
        let loaded = load(path, limits, &store, published.size)?;
        let mut sequencer = Sequencer::new(limits);
        let mut view = ViewState::default();
        let mut scratch = ledgerfs_sequencer::EntryBuffer::new();
        reader.for_each(0, loaded.size, published.size, |index, bytes| {
            sequencer.replay(bytes, &mut scratch).map_err(|e| Error::Corrupt {
                path: format!("log (entry {index})"),
                reason: e.to_string(),
            })?;
            view.apply(&scratch);
            Ok(())
        })?;
        let differs = |what: &str| Error::Corrupt {
            path: format!("{SNAPSHOT_DIR}/{}", file_name(loaded.size)),
            reason: format!("its {what} differs from a replay of the log"),
        };
        if sequencer != loaded.sequencer {
            return Err(differs("sequencer state"));
        }
        let (mut a, mut b) = (Writer::new(), Writer::new());
        view.encode_snapshot(&mut a);
        loaded.view.encode_snapshot(&mut b);
        if a.buf != b.buf {
            return Err(differs("read model"));
        }
    }
    Ok(all.len())
}
