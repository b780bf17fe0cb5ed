//! Creating a store (`init`) and opening one (recovery): the published checkpoint's
//! signature is verified, every entry is re-hashed and replayed through the sequencer
//! core, and every stored tile is compared byte for byte with the tiles the entries
//! imply. Then the journal's records beyond the published checkpoint (acknowledged, not
//! yet published) are integrated: their signed notes verified, their entries replayed,
//! their tiles written (identical bytes to any a reader may have seen) and the newest
//! checkpoint published. A store that fails any check refuses to open, naming the file.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ledgerfs_attest::{verify_checkpoint, Checkpoint, SignerKey, VerifierKey};
use ledgerfs_sequencer::{EntryBuffer, Limits, Sequencer};
use ledgerfs_tiles::{empty_root, TileLog, TileReader, TileStore, TileWrite, TILE_WIDTH};

use crate::config::{Config, Role, TokenConfig};
use crate::error::{Error, Result};
use crate::read::logread::LogReader;
use crate::read::view::{Committed, ViewState};
use crate::storage::fs::{posix, Fs, Posix};
use crate::storage::fsutil;
use crate::storage::journal::{Journal, Recovered};
use crate::storage::tiles::PosixStore;

/// File holding the attestation domain's private key (mode 0600).
pub const KEY_FILE: &str = "attest.key";
/// File holding the verifier key.
pub const VKEY_FILE: &str = "log.vkey";
/// File holding the first admin token (mode 0600).
pub const ADMIN_TOKEN_FILE: &str = "admin.token";
/// Directory of the tlog-tiles tree.
pub const LOG_DIR: &str = "log";
/// Entries re-hashed between tile comparisons while opening.
const OPEN_COMMIT_EVERY: u64 = 16 * TILE_WIDTH;

/// What `init` made.
#[derive(Debug)]
pub struct Initialised {
    /// The verifier key string.
    pub vkey: String,
    /// Where the admin token is.
    pub admin_token_path: PathBuf,
    /// The checkpoint origin.
    pub origin: String,
}

/// Random bytes from the OS.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    getrandom::getrandom(&mut bytes).expect("the OS provides randomness");
    bytes
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 of a token, as stored in the config.
pub fn token_digest(token: &str) -> String {
    use sha2::{Digest, Sha256};
    hex(&Sha256::digest(token.as_bytes()))
}

/// A new bearer token (`lfs_` and 192 random bits in hex); only its digest is stored.
pub fn new_token() -> String {
    format!("lfs_{}", hex(&random_bytes::<24>()))
}

/// Creates a new store in `dir`.
pub fn init(dir: &Path, origin: Option<String>) -> Result<Initialised> {
    let log = dir.join(LOG_DIR);
    if log.join(crate::storage::tiles::CHECKPOINT_FILE).exists() || Config::path(dir).exists() {
        return Err(Error::AlreadyInitialised(dir.display().to_string()));
    }
    fs::create_dir_all(&log).map_err(|e| Error::io(&log, e))?;
    let origin = origin.unwrap_or_else(|| format!("ledgerfs.localhost/{}", hex(&random_bytes::<4>())));
    let key = SignerKey::from_seed(&origin, random_bytes::<32>())
        .map_err(|e| Error::Config(format!("origin {origin:?} cannot name a key: {e}")))?;
    let vkey = key.verifier().encode();
    let fs = &Posix;
    fsutil::write_secret(fs, &dir.join(KEY_FILE), format!("{}\n", key.encode()).as_bytes())?;
    fsutil::write_atomic(fs, &dir.join(VKEY_FILE), format!("{vkey}\n").as_bytes(), 0o644)?;
    let token = new_token();
    let admin_token_path = dir.join(ADMIN_TOKEN_FILE);
    fsutil::write_secret(fs, &admin_token_path, format!("{token}\n").as_bytes())?;
    let mut config = Config::new(origin.clone());
    config.tokens.push(TokenConfig {
        name: "admin".into(),
        sha256: token_digest(&token),
        role: Role::Admin,
        accounts: Vec::new(),
        uids: Vec::new(),
    });
    config.save(dir)?;
    // The empty tree gets a signed checkpoint too, so every store opens the same way.
    let checkpoint = Checkpoint {
        origin: origin.clone(),
        size: 0,
        root: empty_root(),
        extensions: Vec::new(),
    };
    let note = ledgerfs_attest::sign_checkpoint(&key, &checkpoint).map_err(|e| Error::Attest(e.to_string()))?;
    PosixStore::new(log).swap_checkpoint(note.as_bytes())?;
    Ok(Initialised {
        vkey,
        admin_token_path,
        origin,
    })
}

/// Reads the verifier key of a store.
pub fn read_vkey(dir: &Path) -> Result<VerifierKey> {
    let text = fsutil::read_store_file(dir, &dir.join(VKEY_FILE))?;
    VerifierKey::parse(text.trim()).map_err(|e| Error::Corrupt {
        path: VKEY_FILE.into(),
        reason: e.to_string(),
    })
}

/// Reads the signer key (only the attestation thread calls this).
pub fn read_signer_key(dir: &Path) -> Result<SignerKey> {
    let path = dir.join(KEY_FILE);
    let text = fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    SignerKey::parse(text.trim()).map_err(|e| Error::Corrupt {
        path: KEY_FILE.into(),
        reason: e.to_string(),
    })
}

/// A store opened and fully checked: the cores' state at its checkpoint.
pub struct Opened {
    /// The config.
    pub config: Config,
    /// The sequencer core, replayed to the checkpoint.
    pub sequencer: Sequencer,
    /// The tiles core at the checkpoint.
    pub tiles: TileLog,
    /// The read model at the checkpoint.
    pub view: ViewState,
    /// The checkpoint: the newest durable one (published, integrated, or finished from
    /// the journal).
    pub committed: Committed,
    /// The checkpoint in `DIR/log/checkpoint` (with any cosignatures): what readers of
    /// the tree on disk see. Behind `committed` until the engine publishes that.
    pub published: Committed,
    /// The exclusive lock on the data directory, held while the store is open.
    pub lock: std::fs::File,
    /// The journal, positioned after its last record.
    pub journal: Journal,
    /// The size of the snapshot the projections were loaded from, if one was used.
    pub from_snapshot: Option<u64>,
    /// The file system the store writes through.
    pub fs: Arc<dyn Fs>,
}

/// Name of the lock file: one process at a time may open a store.
pub const LOCK_FILE: &str = "lock";

/// Takes the store's exclusive lock, or says which process must stop first.
pub fn lock_store(dir: &Path) -> Result<std::fs::File> {
    use std::os::fd::AsRawFd;
    let path = dir.join(LOCK_FILE);
    if !path.exists() {
        std::fs::File::create(&path).map_err(|e| Error::io(&path, e))?;
    }
    // Read-only: a descriptor open for writing would keep the file system from being
    // remounted read-only under a running daemon.
    let file = std::fs::File::open(&path).map_err(|e| Error::io(&path, e))?;
    // SAFETY: flock on a descriptor we own; no memory is shared with the kernel.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc != 0 {
        return Err(Error::StoreLocked(format!(
            "{} is in use by another ledgerfs process (stop it first; `ledgerfs verify --dir` reads a live store safely)",
            dir.display()
        )));
    }
    Ok(file)
}

/// Verifies a checkpoint note against the store's key and origin.
pub fn check_checkpoint(note: &[u8], vkey: &VerifierKey, origin: &str) -> Result<Committed> {
    let corrupt = |reason: String| Error::Corrupt {
        path: "log/checkpoint".into(),
        reason,
    };
    let checkpoint = verify_checkpoint(vkey, note).map_err(|e| corrupt(e.to_string()))?;
    if checkpoint.origin != origin {
        return Err(corrupt(format!("origin {:?}, expected {origin:?}", checkpoint.origin)));
    }
    let note = String::from_utf8(note.to_vec()).map_err(|_| corrupt("not UTF-8".into()))?;
    Ok(Committed {
        size: checkpoint.size,
        root: checkpoint.root,
        note,
    })
}

/// Where opening a store starts rebuilding its projections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Start {
    /// From the newest snapshot that checks out (the daemon's start): only the entries
    /// after it are replayed and their tiles re-verified.
    NewestSnapshot,
    /// From the first entry, ignoring snapshots (`ledgerfs check`): every entry is
    /// replayed and every tile re-verified.
    FullReplay,
}

/// Opens the store in `dir`, verifying the signed checkpoint, finishing the journal and
/// replaying the log from `from`; `progress(done, total)` reports replay.
pub fn open(dir: &Path, from: Start, progress: &mut dyn FnMut(u64, u64)) -> Result<Opened> {
    open_on(posix(), dir, from, progress)
}

/// [`open`], writing through `fs` (the simulator's file system, or the real one).
pub fn open_on(fs: Arc<dyn Fs>, dir: &Path, from: Start, progress: &mut dyn FnMut(u64, u64)) -> Result<Opened> {
    let config = Config::load(dir).map_err(|e| match e {
        Error::Io { .. } if !Config::path(dir).exists() => Error::NotInitialised(dir.display().to_string()),
        other => other,
    })?;
    let vkey = read_vkey(dir)?;
    let lock = lock_store(dir)?;
    let limits = Limits {
        max_accounts: config.max_accounts,
        max_transfers: config.max_transfers,
        reserve_transfers: config.reserve_transfers,
    };
    let log_dir = dir.join(LOG_DIR);
    let store = PosixStore::new(log_dir.clone()).with_fs(fs.clone());
    store.remove_temporaries()?;
    let published = read_published(&log_dir, &vkey, &config.origin)?;
    // Where integration stopped: the published checkpoint, or a newer integrated one
    // whose witnesses had not met the quorum (its tiles are durable).
    let base = match read_integrated(&log_dir, &vkey, &config.origin)? {
        Some(integrated) if integrated.size > published.size => integrated,
        _ => published.clone(),
    };
    // First finish what the journal acknowledged beyond it (the tiles and the
    // integrated checkpoint), so the log on disk holds every acknowledged entry. The
    // engine publishes the `checkpoint` file (after its witnesses, if any, cosign).
    let (mut journal, recovered) = Journal::open(fs.clone(), dir, config.journal_segment_kib * 1024, base.size)?;
    let committed = if recovered.is_empty() {
        base
    } else {
        let edge = TileLog::open(&store, base.size, &base.root).map_err(|e| Error::Corrupt {
            path: "log/checkpoint".into(),
            reason: format!("the tiles do not match the checkpoint's root: {e}"),
        })?;
        integrate_journal(&fs, &log_dir, edge, base, &recovered, &vkey, &config.origin)?
    };
    // Then the projections: from the newest snapshot that checks out against the log,
    // replaying only the tail, or from the start.
    let snapshot = match from {
        Start::NewestSnapshot => crate::storage::snapshot::load_newest(dir, limits, &store, committed.size, &mut |m| {
            eprintln!("ledgerfs: {m}; replaying the log instead")
        }),
        Start::FullReplay => None,
    };
    let from_snapshot = snapshot.as_ref().map(|s| s.size);
    let (mut sequencer, mut view, start) = match snapshot {
        Some(s) => (s.sequencer, s.view, Some((s.size, s.tiles))),
        None => (Sequencer::new(limits), ViewState::default(), None),
    };
    let mut scratch = EntryBuffer::new();
    let mut on_entry = |index, bytes: &[u8]| {
        sequencer
            .replay(bytes, &mut scratch)
            .map_err(|e| corrupt_entry(index, e.to_string()))?;
        view.apply(&scratch);
        Ok(())
    };
    let tiles = replay_log(&log_dir, &committed, start, progress, &mut on_entry)?;
    journal.release(committed.size);
    sequencer.mark_durable(committed.size);
    view.committed = Some(std::sync::Arc::new(committed.clone()));
    view.published = Some(std::time::SystemTime::now());
    let sequencer = sequencer
        .with_fund_segregation(config.fund_segregation)
        .with_balance_commitments(config.balance_commitment_every, config.balance_commitment_per_account);
    Ok(Opened {
        config,
        sequencer,
        tiles,
        view,
        committed,
        published,
        lock,
        journal,
        from_snapshot,
        fs,
    })
}

/// Finishes what the journal acknowledged beyond the published checkpoint: each record's
/// signed note is verified, its entries appended to `tiles` (the log's right edge at the
/// published size), the root must match the note, the tiles are written (a full tile
/// already on disk holds the same bytes, or it was lost with the page cache and is
/// written again), and the newest note is recorded as the integrated checkpoint (the
/// engine publishes it, after its witnesses if a policy asks for them). The
/// entries are replayed afterwards with the rest of the log.
fn integrate_journal(
    fs: &Arc<dyn Fs>,
    log_dir: &Path,
    mut tiles: TileLog,
    published: Committed,
    records: &[Recovered],
    vkey: &VerifierKey,
    origin: &str,
) -> Result<Committed> {
    let mut committed = published;
    let mut store = PosixStore::journaled(log_dir.to_path_buf()).with_fs(fs.clone());
    let mut writes = Vec::new();
    let mut full = Vec::new();
    for record in records {
        let journaled = |reason: String| Error::Corrupt {
            path: format!("journal (record at entry {})", record.first_index),
            reason,
        };
        let note = check_checkpoint(&record.note, vkey, origin).map_err(|e| journaled(e.to_string()))?;
        let end = record.first_index + record.entries.len() as u64;
        if note.size != end || record.first_index != tiles.size() {
            return Err(journaled(format!(
                "entries {}..{end} under a checkpoint of size {} do not continue a log of size {}",
                record.first_index,
                note.size,
                tiles.size()
            )));
        }
        for (i, entry) in record.entries.iter().enumerate() {
            let index = record.first_index + i as u64;
            tiles.append(entry).map_err(|e| corrupt_entry(index, e.to_string()))?;
        }
        writes.clear();
        let root = tiles.commit(&mut writes);
        if root != note.root {
            return Err(journaled(
                "the root of its entries does not match its signed checkpoint".into(),
            ));
        }
        for write in &writes {
            store.put(&write.path, &write.bytes)?;
            if write.path.is_full() {
                full.push(write.path);
            }
        }
        store.sync()?;
        tiles.mark_durable(end);
        committed = note;
    }
    crate::storage::tiles::integrate_checkpoint(fs, log_dir, committed.note.as_bytes(), &[], &full)?;
    Ok(committed)
}

/// Opens any tlog-tiles log this daemon writes (the ledger or the audit trail): checks
/// the signed checkpoint, feeds every entry to `on_entry` in order, re-hashes them and
/// compares every stored tile byte for byte. Returns the tiles core at the checkpoint.
pub fn open_log(
    log_dir: &Path,
    vkey: &VerifierKey,
    origin: &str,
    progress: &mut dyn FnMut(u64, u64),
    on_entry: &mut dyn FnMut(u64, &[u8]) -> Result<()>,
) -> Result<(TileLog, Committed)> {
    PosixStore::new(log_dir.to_path_buf()).remove_temporaries()?;
    let committed = read_published(log_dir, vkey, origin)?;
    let tiles = replay_log(log_dir, &committed, None, progress, on_entry)?;
    Ok((tiles, committed))
}

fn log_name(log_dir: &Path, file: &str) -> String {
    format!(
        "{}/{file}",
        log_dir.file_name().map_or("log".into(), |n| n.to_string_lossy())
    )
}

/// Reads and verifies a log's published checkpoint file.
pub fn read_published(log_dir: &Path, vkey: &VerifierKey, origin: &str) -> Result<Committed> {
    let note = PosixStore::new(log_dir.to_path_buf())
        .read_checkpoint()?
        .ok_or_else(|| Error::Corrupt {
            path: log_name(log_dir, "checkpoint"),
            reason: "missing".into(),
        })?;
    check_checkpoint(&note, vkey, origin)
}

/// Reads the integrated checkpoint (`DIR/integrated.checkpoint`), if there is one; a
/// present file must verify like the published one.
pub fn read_integrated(log_dir: &Path, vkey: &VerifierKey, origin: &str) -> Result<Option<Committed>> {
    let path = crate::storage::tiles::integrated_path(log_dir);
    let note = match fs::read(&path) {
        Ok(note) => note,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(&path, e)),
    };
    check_checkpoint(&note, vkey, origin).map(Some).map_err(|e| match e {
        Error::Corrupt { reason, .. } => Error::Corrupt {
            path: crate::storage::tiles::INTEGRATED_FILE.into(),
            reason,
        },
        other => other,
    })
}

/// Replays a log up to its checkpoint `committed`: from the start, or from `start`
/// (a snapshot's size and the tiles core there, whose root was checked against the
/// tiles). Every entry after the start is fed to `on_entry`, re-hashed, and every tile
/// it implies compared byte for byte with the stored one.
pub fn replay_log(
    log_dir: &Path,
    committed: &Committed,
    start: Option<(u64, TileLog)>,
    progress: &mut dyn FnMut(u64, u64),
    on_entry: &mut dyn FnMut(u64, &[u8]) -> Result<()>,
) -> Result<TileLog> {
    let store = PosixStore::new(log_dir.to_path_buf());
    let name = |file: &str| log_name(log_dir, file);
    let (from, mut tiles) = start.unwrap_or_else(|| (0, TileLog::new()));
    let reader = LogReader::new(PosixStore::new(log_dir.to_path_buf()));
    let mut writes: Vec<TileWrite> = Vec::new();
    let size = committed.size;
    reader.for_each(from, size, size, |index, bytes| {
        tiles.append(bytes).map_err(|e| corrupt_entry(index, e.to_string()))?;
        on_entry(index, bytes)?;
        let done = index + 1;
        if done % OPEN_COMMIT_EVERY == 0 {
            writes.clear();
            tiles.commit(&mut writes);
            tiles.mark_durable(done);
            compare_tiles(&store, &writes, true)?;
            progress(done, size);
        }
        Ok(())
    })?;
    writes.clear();
    let root = tiles.commit(&mut writes);
    tiles.mark_durable(size);
    compare_tiles(&store, &writes, false)?;
    for path in ledgerfs_tiles::partial_tiles_for_size(size).iter() {
        if store.read(path)?.is_none() {
            return Err(Error::Corrupt {
                path: name(&path.to_path()),
                reason: "missing".into(),
            });
        }
    }
    if root != committed.root {
        return Err(Error::Corrupt {
            path: name("checkpoint"),
            reason: "root hash does not match the entries".into(),
        });
    }
    progress(size, size);
    Ok(tiles)
}

fn corrupt_entry(index: u64, reason: String) -> Error {
    Error::Corrupt {
        path: format!("log/{} (entry {index})", crate::read::logread::bundle_path(index)),
        reason,
    }
}

/// Every stored tile must equal the one the entries imply.
fn compare_tiles(store: &PosixStore, writes: &[TileWrite], only_full: bool) -> Result<()> {
    for write in writes {
        if only_full && !write.path.is_full() {
            continue;
        }
        let stored = store.read(&write.path)?;
        let path = format!("log/{}", write.path.to_path());
        match stored {
            None => {
                return Err(Error::Corrupt {
                    path,
                    reason: "missing".into(),
                })
            }
            Some(bytes) if bytes != write.bytes => {
                return Err(Error::Corrupt {
                    path,
                    reason: "contents differ from the entries' hashes".into(),
                })
            }
            Some(_) => {}
        }
    }
    Ok(())
}
