//! The ledger as a read-only filesystem (FUSE, via `fuser`), so `ls`, `cat`, `grep`, `jq`,
//! `sha256sum`, `tail -f` and backup scripts work on it:
//!
//! ```text
//! accounts/<id>/{balance.json,tx.log,meta.json}   transactions/<id>.json   docs/<id>/metadata.json
//! log/checkpoint  log/tile/...  (byte-identical to the store)   proofs/<index>.json
//! events.log (tail -f follows it)   history/<index>/accounts/<id>/balance.json
//! accounts/<id>/statements/<YYYY-MM>.csv   reconciliation/<date>.json   breaks/open.json
//! ```
//!
//! Every file is rendered from one checkpoint when it is opened and the open file keeps
//! that snapshot; `events.log` is append-only, so reads serve the live log. Callers are
//! mapped from their uid to the API's roles (config `uids = [...]`; the daemon's own
//! user is an implicit admin); customers see only their own accounts, transfers and
//! documents, and get `EACCES` on `log/`, `proofs/`, `events.log` and `history/`.
//! Unmapped users get `EACCES`. Every mutation gets `EROFS`. Every file read is
//! recorded in the audit sub-ledger when the file is closed. Inode numbers are hashes of
//! paths, so they are stable across remounts. This module renders nothing itself: it
//! calls `render`, the same code the API serves.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs::File;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fuser::{
    BackingId, Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags, Generation, INodeNo, InitFlags,
    KernelConfig, LockOwner, OpenFlags, ReplyAttr, ReplyData, ReplyDirectory, ReplyDirectoryPlus, ReplyEmpty,
    ReplyEntry, ReplyOpen, Request,
};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use ledgerfs_model::entry::EntryBody;
use ledgerfs_tiles::{TileKind, TilePath, TILE_WIDTH};

use crate::access::audit::AuditRecord;
use crate::access::auth::{Caller, Tokens};
use crate::error::{Error, Result};
use crate::pipeline::engine::Engine;
use crate::read::logread::LogReader;
use crate::read::render;
use crate::read::view::Committed;

/// Entries returned per readdir call (the kernel pages through large directories).
const DIR_PAGE: usize = 256;
/// Rendered files kept (keyed by inode and checkpoint size).
const MAX_CACHED_FILES: usize = 4_096;
/// Attribute lifetime of immutable tiles.
const TTL_IMMUTABLE: Duration = Duration::from_secs(3_600);
/// Attribute lifetime of directories.
const TTL_DIR: Duration = Duration::from_secs(1);

/// Which file of an account directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum AccountFile {
    Balance,
    TxLog,
    Meta,
    Pending,
}

impl AccountFile {
    const ALL: [(&'static str, AccountFile); 4] = [
        ("balance.json", AccountFile::Balance),
        ("tx.log", AccountFile::TxLog),
        ("meta.json", AccountFile::Meta),
        ("pending.json", AccountFile::Pending),
    ];
}

/// A path of the mount, parsed.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Node {
    Root,
    Accounts,
    Account(String),
    AccountFile(String, AccountFile),
    Transactions,
    Transaction(String),
    Docs,
    DocsTransfer(String),
    DocsMetadata(String),
    Log,
    LogCheckpoint,
    /// A directory or file under `log/` other than the checkpoint, e.g. `tile/0/000`.
    LogTree(String),
    Proofs,
    Proof(u64),
    Events,
    History,
    HistoryAt(u64),
    HistoryAccounts(u64),
    HistoryAccount(u64, String),
    HistoryBalance(u64, String),
    /// `accounts/<id>/statements/`: one CSV per month since the account was opened.
    Statements(String),
    Statement(String, String),
    /// `reconciliation/`: one JSON file per business day reconciled (runs and breaks).
    Recon,
    ReconDay(String),
    /// `breaks/open.json`: the reconciliation breaks still open.
    Breaks,
    BreaksOpen,
}

impl Node {
    fn path(&self) -> String {
        match self {
            Node::Root => "/".into(),
            Node::Accounts => "/accounts".into(),
            Node::Account(id) => format!("/accounts/{id}"),
            Node::AccountFile(id, f) => {
                let name = AccountFile::ALL.iter().find(|(_, k)| k == f).expect("listed").0;
                format!("/accounts/{id}/{name}")
            }
            Node::Transactions => "/transactions".into(),
            Node::Transaction(id) => format!("/transactions/{id}.json"),
            Node::Docs => "/docs".into(),
            Node::DocsTransfer(id) => format!("/docs/{id}"),
            Node::DocsMetadata(id) => format!("/docs/{id}/metadata.json"),
            Node::Log => "/log".into(),
            Node::LogCheckpoint => "/log/checkpoint".into(),
            Node::LogTree(rel) => format!("/log/{rel}"),
            Node::Proofs => "/proofs".into(),
            Node::Proof(i) => format!("/proofs/{i}.json"),
            Node::Events => "/events.log".into(),
            Node::History => "/history".into(),
            Node::HistoryAt(i) => format!("/history/{i}"),
            Node::HistoryAccounts(i) => format!("/history/{i}/accounts"),
            Node::HistoryAccount(i, id) => format!("/history/{i}/accounts/{id}"),
            Node::HistoryBalance(i, id) => format!("/history/{i}/accounts/{id}/balance.json"),
            Node::Statements(id) => format!("/accounts/{id}/statements"),
            Node::Statement(id, month) => format!("/accounts/{id}/statements/{month}.csv"),
            Node::Recon => "/reconciliation".into(),
            Node::ReconDay(date) => format!("/reconciliation/{date}.json"),
            Node::Breaks => "/breaks".into(),
            Node::BreaksOpen => "/breaks/open.json".into(),
        }
    }

    /// Stable inode: the root is 1, every other node a hash of its path.
    fn ino(&self) -> INodeNo {
        if *self == Node::Root {
            return INodeNo::ROOT;
        }
        let digest = Sha256::digest(self.path().as_bytes());
        let h = u64::from_le_bytes(digest[..8].try_into().expect("8 bytes")) >> 1;
        INodeNo(h.max(2))
    }

    fn is_dir(&self, log_root: &Path) -> bool {
        match self {
            Node::LogTree(rel) => log_root.join(rel).is_dir(),
            Node::AccountFile(..)
            | Node::Transaction(_)
            | Node::DocsMetadata(_)
            | Node::LogCheckpoint
            | Node::Proof(_)
            | Node::Events
            | Node::HistoryBalance(..)
            | Node::Statement(..)
            | Node::ReconDay(_)
            | Node::BreaksOpen => false,
            _ => true,
        }
    }
}

/// What an open file serves.
enum Content {
    /// A snapshot rendered at open.
    Bytes(Arc<Vec<u8>>),
    /// An immutable tile file, read from disk (or passed through by the kernel).
    Tile(File),
    /// The live, append-only `events.log`.
    Events,
}

struct Handle {
    node: Node,
    content: Content,
    caller: Caller,
    uid: u32,
    served: u64,
    _backing: Option<BackingId>,
}

/// Rendered files by (inode, checkpoint size).
type RenderCache = HashMap<(INodeNo, u64), Arc<Vec<u8>>>;

/// The filesystem.
pub struct LedgerFs {
    engine: Engine,
    reader: Arc<LogReader>,
    tokens: Arc<Tokens>,
    owner_uid: u32,
    log_root: PathBuf,
    nodes: Mutex<HashMap<INodeNo, Node>>,
    handles: Mutex<HashMap<u64, Handle>>,
    rendered: Mutex<RenderCache>,
    next_fh: AtomicU64,
    passthrough: AtomicBool,
}

fn file_attr(ino: INodeNo, kind: FileType, size: u64, mtime: SystemTime) -> FileAttr {
    FileAttr {
        ino,
        size,
        blocks: size.div_ceil(512),
        atime: mtime,
        mtime,
        ctime: mtime,
        crtime: mtime,
        kind,
        perm: if kind == FileType::Directory { 0o555 } else { 0o444 },
        nlink: if kind == FileType::Directory { 2 } else { 1 },
        uid: 0,
        gid: 0,
        rdev: 0,
        flags: 0,
        blksize: 4096,
    }
}

/// Whether a stored tile file belongs to the tree of `size` (files being written for
/// the next checkpoint stay hidden, so the view is one checkpoint).
fn tile_visible(path: &TilePath, size: u64) -> bool {
    let count = match path.kind {
        TileKind::Entries => size,
        TileKind::Hash { level } => size >> (8 * u32::from(level)),
    };
    if path.is_full() {
        (path.index + 1) * TILE_WIDTH <= count
    } else {
        path.index == count / TILE_WIDTH && u64::from(path.width) <= count % TILE_WIDTH
    }
}

fn errno(e: &Error) -> Errno {
    match e {
        Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => Errno::ENOENT,
        _ => Errno::EIO,
    }
}

impl LedgerFs {
    /// A filesystem over the running engine.
    pub fn new(engine: Engine, reader: Arc<LogReader>, tokens: Arc<Tokens>) -> LedgerFs {
        let log_root = reader.store().root().to_path_buf();
        let mut nodes = HashMap::new();
        nodes.insert(INodeNo::ROOT, Node::Root);
        LedgerFs {
            engine,
            reader,
            tokens,
            // SAFETY: geteuid has no preconditions and cannot fail.
            owner_uid: unsafe { libc::geteuid() },
            log_root,
            nodes: Mutex::new(nodes),
            handles: Mutex::new(HashMap::new()),
            rendered: Mutex::new(HashMap::new()),
            next_fh: AtomicU64::new(1),
            passthrough: AtomicBool::new(false),
        }
    }

    fn caller(&self, req: &Request) -> std::result::Result<Caller, Errno> {
        self.tokens.for_uid(req.uid(), self.owner_uid).ok_or(Errno::EACCES)
    }

    fn committed(&self) -> Arc<Committed> {
        self.engine.view.committed().expect("an opened store has a checkpoint")
    }

    fn published(&self) -> SystemTime {
        self.engine
            .view
            .state
            .read()
            .expect("view lock")
            .published
            .unwrap_or(UNIX_EPOCH)
    }

    fn node(&self, ino: INodeNo) -> std::result::Result<Node, Errno> {
        self.nodes
            .lock()
            .expect("nodes lock")
            .get(&ino)
            .cloned()
            .ok_or(Errno::ENOENT)
    }

    fn remember(&self, node: &Node) -> INodeNo {
        let ino = node.ino();
        self.nodes.lock().expect("nodes lock").insert(ino, node.clone());
        ino
    }

    /// The log index of a durable transfer.
    fn transfer_index(&self, id: &str) -> Option<u64> {
        self.engine.transfer_index_blocking(id.to_string()).ok().flatten()
    }

    /// Whether a transfer touches one of the caller's accounts.
    fn may_see_transfer(&self, caller: &Caller, id: &str) -> bool {
        if caller.reads_everything() {
            return true;
        }
        let Some(index) = self.transfer_index(id) else {
            return false;
        };
        match self.reader.decoded(index, self.committed().size).map(|e| e.body) {
            Ok(body @ EntryBody::Transfer(_)) => caller.may_read_entry(&body),
            _ => false,
        }
    }

    /// Access policy: `Ok` to show the node, `ENOENT` to hide it, `EACCES` to refuse.
    fn check(&self, caller: &Caller, node: &Node) -> std::result::Result<(), Errno> {
        if caller.reads_everything() {
            return Ok(());
        }
        match node {
            Node::Root | Node::Accounts | Node::Transactions | Node::Docs => Ok(()),
            Node::Account(id) | Node::AccountFile(id, _) | Node::Statements(id) | Node::Statement(id, _) => {
                caller.may_read_account(id).then_some(()).ok_or(Errno::ENOENT)
            }
            Node::Transaction(id) | Node::DocsTransfer(id) | Node::DocsMetadata(id) => {
                self.may_see_transfer(caller, id).then_some(()).ok_or(Errno::ENOENT)
            }
            _ => Err(Errno::EACCES),
        }
    }

    /// The child `name` of `parent`, if it exists at the current checkpoint.
    fn child(&self, parent: &Node, name: &str) -> Option<Node> {
        let size = self.committed().size;
        let view = || self.engine.view.state.read().expect("view lock");
        let index_name = |s: &str| s.parse::<u64>().ok().filter(|i| i.to_string() == s);
        Some(match parent {
            Node::Root => match name {
                "accounts" => Node::Accounts,
                "transactions" => Node::Transactions,
                "docs" => Node::Docs,
                "log" => Node::Log,
                "proofs" => Node::Proofs,
                "events.log" => Node::Events,
                "history" => Node::History,
                "reconciliation" => Node::Recon,
                "breaks" => Node::Breaks,
                _ => return None,
            },
            Node::Accounts => {
                view().account(name)?;
                Node::Account(name.to_string())
            }
            Node::Account(id) if name == "statements" => Node::Statements(id.clone()),
            Node::Account(id) => {
                let (_, file) = AccountFile::ALL.iter().find(|(n, _)| *n == name)?;
                Node::AccountFile(id.clone(), *file)
            }
            Node::Statements(id) => {
                let month = name.strip_suffix(".csv")?;
                self.statement_months(id).ok()?.iter().find(|m| *m == month)?;
                Node::Statement(id.clone(), month.to_string())
            }
            Node::Recon => {
                let date = name.strip_suffix(".json")?;
                self.engine.recon.run_dates().iter().find(|d| *d == date)?;
                Node::ReconDay(date.to_string())
            }
            Node::Breaks if name == "open.json" => Node::BreaksOpen,
            Node::Transactions => {
                let id = name.strip_suffix(".json")?;
                self.transfer_index(id)?;
                Node::Transaction(id.to_string())
            }
            Node::Docs => {
                view().documents.iter().find(|(_, id)| id == name)?;
                Node::DocsTransfer(name.to_string())
            }
            Node::DocsTransfer(id) if name == "metadata.json" => Node::DocsMetadata(id.clone()),
            Node::Log => match name {
                "checkpoint" => Node::LogCheckpoint,
                "tile" => Node::LogTree("tile".into()),
                _ => return None,
            },
            Node::LogTree(rel) => {
                if name.ends_with(crate::storage::fsutil::TMP_SUFFIX) {
                    return None;
                }
                let child = format!("{rel}/{name}");
                let meta = std::fs::symlink_metadata(self.log_root.join(&child)).ok()?;
                // log/ is the published tree on disk: one checkpoint and its tiles.
                let published = self.engine.published.get().size;
                if meta.is_file() && !TilePath::parse(&child).is_some_and(|p| tile_visible(&p, published)) {
                    return None;
                }
                Node::LogTree(child)
            }
            Node::Proofs => {
                let i = index_name(name.strip_suffix(".json")?)?;
                (i < size).then_some(Node::Proof(i))?
            }
            Node::History => {
                let i = index_name(name)?;
                (i < size).then_some(Node::HistoryAt(i))?
            }
            Node::HistoryAt(i) if name == "accounts" => Node::HistoryAccounts(*i),
            Node::HistoryAccounts(i) => {
                (view().account(name)?.index <= *i).then_some(())?;
                Node::HistoryAccount(*i, name.to_string())
            }
            Node::HistoryAccount(i, id) if name == "balance.json" => Node::HistoryBalance(*i, id.clone()),
            _ => return None,
        })
    }

    /// Renders a regular file at the current checkpoint (cached per checkpoint).
    fn render(&self, node: &Node) -> std::result::Result<Arc<Vec<u8>>, Errno> {
        let committed = self.committed();
        // log/checkpoint is the published file (the tree on disk), which lags the view.
        let version = match node {
            Node::LogCheckpoint => self.engine.published.get().size,
            Node::ReconDay(_) | Node::BreaksOpen => self.engine.recon.size(),
            _ => committed.size,
        };
        let key = (node.ino(), version);
        if let Some(bytes) = self.rendered.lock().expect("render cache").get(&key) {
            return Ok(bytes.clone());
        }
        let (rendered_at, bytes) = self.render_uncached(node, &committed).map_err(|e| errno(&e))?;
        let bytes = Arc::new(bytes);
        let mut cache = self.rendered.lock().expect("render cache");
        if cache.len() >= MAX_CACHED_FILES {
            cache.clear();
        }
        cache.insert((node.ino(), rendered_at), bytes.clone());
        Ok(bytes)
    }

    /// Renders `node` at `committed` (account files at the checkpoint read with the
    /// account): the size rendered at and the bytes.
    fn render_uncached(&self, node: &Node, committed: &Committed) -> Result<(u64, Vec<u8>)> {
        let size = committed.size;
        let missing = || Error::Io {
            path: node.path(),
            source: std::io::Error::from(std::io::ErrorKind::NotFound),
        };
        let account = |id: &str| self.engine.view.account_snapshot(id).ok_or_else(missing);
        let json = |v: Value| Ok(format!("{}\n", serde_json::to_string_pretty(&v).expect("JSON prints")).into_bytes());
        let at = |size: u64, bytes: Result<Vec<u8>>| bytes.map(|b| (size, b));
        // Account files render the account and the checkpoint it is consistent with from
        // one read of the view (possibly newer than `committed`), so a balance, its
        // postings and its `as_of` always agree.
        match node {
            Node::AccountFile(id, AccountFile::Balance) => {
                let (committed, a) = account(id)?;
                let mut file = render::balance_file(&self.reader, &a, &committed)?;
                // The balance proof against the last balance commitment, when it still
                // shows the account as it is (README, "Balance proofs"). Reading a file
                // never writes the log, so otherwise it is null and says where to get one.
                let wait = crate::read::balance_proof::PROOF_WAIT;
                let proof = self.engine.last_balance_proof_blocking(id.clone(), wait).and_then(|p| {
                    p.map(|p| crate::read::balance_proof::assemble(&self.engine, &self.reader, id, &p))
                        .transpose()
                });
                let (proof, why) = match proof {
                    Ok(Some(proof)) => (serde_json::to_value(&proof).expect("a proof serialises"), None),
                    Ok(None) => (
                        Value::Null,
                        Some(json!({
                            "code": "balance_commitment_stale",
                            "message": format!("no balance commitment shows this balance yet: GET /v1/accounts/{id}/balance-proof writes one"),
                        })),
                    ),
                    Err(e) => (Value::Null, Some(json!({"code": e.code(), "message": e.to_string()}))),
                };
                file["balance_proof"] = proof;
                if let Some(why) = why {
                    file["balance_proof_error"] = why;
                }
                at(committed.size, json(file))
            }
            Node::AccountFile(id, AccountFile::Meta) => {
                let (committed, a) = account(id)?;
                at(committed.size, json(render::meta_file(&a)))
            }
            Node::AccountFile(id, AccountFile::Pending) => {
                let (committed, a) = account(id)?;
                at(
                    committed.size,
                    json(render::pending_json(&self.reader, &a, committed.size)?),
                )
            }
            Node::AccountFile(id, AccountFile::TxLog) => {
                let (committed, a) = account(id)?;
                at(
                    committed.size,
                    Ok(render::tx_log(&self.reader, &a, committed.size)?.into_bytes()),
                )
            }
            Node::Transaction(id) | Node::DocsMetadata(id) => {
                // A transfer made durable after this checkpoint is not in this view.
                let index = self.transfer_index(id).filter(|&i| i < size).ok_or_else(missing)?;
                let bytes = self.reader.entry(index, size)?;
                let entry: Value = serde_json::from_slice(&bytes).map_err(|_| missing())?;
                let value = if matches!(node, Node::Transaction(_)) {
                    json!({"index": index, "result": "ok", "entry": entry, "checkpoint": {"size": size, "root": render::checkpoint_json(committed)["root"]}})
                } else {
                    let documents = render::documents(&entry["metadata"].to_string()).unwrap_or(Value::Null);
                    json!({"transfer": id, "index": index, "documents": documents})
                };
                at(size, json(value))
            }
            Node::Proof(i) => {
                let mut proof = render::inclusion_json(&self.reader, *i, size, size)?;
                proof["checkpoint"] = render::checkpoint_json(committed);
                at(size, json(proof))
            }
            Node::HistoryBalance(i, id) => {
                let (_, a) = account(id)?;
                let postings = a.postings_below(size);
                let value = render::balance_at(&self.reader, &a.record, a.index, postings, *i, size)?;
                at(size, json(value.ok_or_else(missing)?))
            }
            Node::LogCheckpoint => {
                let published = self.engine.published.get();
                Ok((published.size, published.note.clone().into_bytes()))
            }
            Node::Statement(id, month) => {
                let (committed, a) = account(id)?;
                let rendered = crate::recon::statements::month_statement(
                    &self.reader,
                    &self.engine.recon,
                    &a,
                    committed.size,
                    month,
                )?
                .ok_or_else(missing)?;
                Ok((committed.size, rendered.statement.csv.into_bytes()))
            }
            Node::ReconDay(date) => {
                let version = self.engine.recon.size();
                at(version, json(self.engine.recon.day(date).ok_or_else(missing)?))
            }
            Node::BreaksOpen => {
                let version = self.engine.recon.size();
                let breaks: Vec<Value> = self.engine.recon.open_breaks().into_iter().map(|b| b.entry).collect();
                at(version, json(json!({"breaks": breaks})))
            }
            _ => Err(missing()),
        }
    }

    /// Attributes and their lifetime.
    fn attr(&self, node: &Node) -> std::result::Result<(FileAttr, Duration), Errno> {
        let ino = node.ino();
        if let Node::LogTree(rel) = node {
            let meta = std::fs::metadata(self.log_root.join(rel)).map_err(|_| Errno::ENOENT)?;
            let mtime = UNIX_EPOCH + Duration::new(meta.mtime().max(0) as u64, meta.mtime_nsec().max(0) as u32);
            if meta.is_dir() {
                return Ok((file_attr(ino, FileType::Directory, 0, mtime), TTL_DIR));
            }
            let full = TilePath::parse(rel).is_some_and(|p| p.is_full());
            let ttl = if full { TTL_IMMUTABLE } else { Duration::ZERO };
            return Ok((file_attr(ino, FileType::RegularFile, meta.len(), mtime), ttl));
        }
        let mtime = self.published();
        if node.is_dir(&self.log_root) {
            return Ok((file_attr(ino, FileType::Directory, 0, mtime), TTL_DIR));
        }
        let size = match node {
            Node::Events => self.engine.view.state.read().expect("view lock").events_bytes,
            _ => self.render(node)?.len() as u64,
        };
        Ok((file_attr(ino, FileType::RegularFile, size, mtime), Duration::ZERO))
    }

    /// One page of a directory: (offset to resume after, name, node).
    fn children(
        &self,
        node: &Node,
        caller: &Caller,
        offset: u64,
    ) -> std::result::Result<Vec<(u64, String, Node)>, Errno> {
        let committed = self.committed();
        let size = committed.size;
        let mut out = Vec::new();
        let fixed = |names: &[(&str, Node)]| -> Vec<(u64, String, Node)> {
            names
                .iter()
                .enumerate()
                .skip(offset as usize)
                .map(|(i, (n, node))| (i as u64 + 1, n.to_string(), node.clone()))
                .collect()
        };
        match node {
            Node::Root => {
                let all = [
                    ("accounts", Node::Accounts),
                    ("transactions", Node::Transactions),
                    ("docs", Node::Docs),
                    ("log", Node::Log),
                    ("proofs", Node::Proofs),
                    ("events.log", Node::Events),
                    ("history", Node::History),
                    ("reconciliation", Node::Recon),
                    ("breaks", Node::Breaks),
                ];
                let shown: Vec<(&str, Node)> = all.into_iter().filter(|(_, n)| self.check(caller, n).is_ok()).collect();
                out = fixed(&shown);
            }
            Node::Accounts => {
                let view = self.engine.view.state.read().expect("view lock");
                for (slot, a) in view.accounts.iter().enumerate().skip(offset as usize) {
                    if out.len() == DIR_PAGE {
                        break;
                    }
                    if caller.may_read_account(&a.record.id) {
                        out.push((slot as u64 + 1, a.record.id.clone(), Node::Account(a.record.id.clone())));
                    }
                }
            }
            Node::Account(id) => {
                let mut files: Vec<(&str, Node)> = AccountFile::ALL
                    .iter()
                    .map(|(n, f)| (*n, Node::AccountFile(id.clone(), *f)))
                    .collect();
                files.push(("statements", Node::Statements(id.clone())));
                out = fixed(&files);
            }
            Node::Statements(id) => {
                let months = self.statement_months(id).map_err(|e| errno(&e))?;
                let names: Vec<(String, Node)> = months
                    .into_iter()
                    .map(|m| (format!("{m}.csv"), Node::Statement(id.clone(), m)))
                    .collect();
                let refs: Vec<(&str, Node)> = names.iter().map(|(n, node)| (n.as_str(), node.clone())).collect();
                out = fixed(&refs);
            }
            Node::Recon => {
                let names: Vec<(String, Node)> = self
                    .engine
                    .recon
                    .run_dates()
                    .into_iter()
                    .map(|d| (format!("{d}.json"), Node::ReconDay(d)))
                    .collect();
                let refs: Vec<(&str, Node)> = names.iter().map(|(n, node)| (n.as_str(), node.clone())).collect();
                out = fixed(&refs);
            }
            Node::Breaks => out = fixed(&[("open.json", Node::BreaksOpen)]),
            Node::Transactions => out = self.transaction_page(caller, offset, size).map_err(|e| errno(&e))?,
            Node::Docs => {
                let docs = self.engine.view.state.read().expect("view lock").documents.clone();
                for (i, (_, id)) in docs.iter().enumerate().skip(offset as usize) {
                    if out.len() == DIR_PAGE {
                        break;
                    }
                    if self.may_see_transfer(caller, id) {
                        out.push((i as u64 + 1, id.clone(), Node::DocsTransfer(id.clone())));
                    }
                }
            }
            Node::DocsTransfer(id) => out = fixed(&[("metadata.json", Node::DocsMetadata(id.clone()))]),
            Node::Log => {
                out = fixed(&[
                    ("checkpoint", Node::LogCheckpoint),
                    ("tile", Node::LogTree("tile".into())),
                ])
            }
            Node::LogTree(rel) => {
                let mut names: Vec<String> = std::fs::read_dir(self.log_root.join(rel))
                    .map_err(|_| Errno::ENOENT)?
                    .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
                    .collect();
                names.sort();
                let mut position = 0u64;
                for name in names {
                    let Some(child) = self.child(node, &name) else { continue };
                    position += 1;
                    if position > offset {
                        out.push((position, name, child));
                    }
                }
            }
            Node::Proofs => {
                for i in offset..size.min(offset + DIR_PAGE as u64) {
                    out.push((i + 1, format!("{i}.json"), Node::Proof(i)));
                }
            }
            Node::HistoryAt(i) => out = fixed(&[("accounts", Node::HistoryAccounts(*i))]),
            Node::HistoryAccounts(i) => {
                let view = self.engine.view.state.read().expect("view lock");
                for (slot, a) in view.accounts.iter().enumerate().skip(offset as usize) {
                    if a.index > *i || out.len() == DIR_PAGE {
                        break;
                    }
                    out.push((
                        slot as u64 + 1,
                        a.record.id.clone(),
                        Node::HistoryAccount(*i, a.record.id.clone()),
                    ));
                }
            }
            Node::HistoryAccount(i, id) => out = fixed(&[("balance.json", Node::HistoryBalance(*i, id.clone()))]),
            // `history/` is not listed (one directory per log index): look entries up by name.
            Node::History => {}
            _ => return Err(Errno::ENOTDIR),
        }
        Ok(out)
    }

    /// The months of `id`'s statements: from the month it was opened to the current one.
    fn statement_months(&self, id: &str) -> Result<Vec<String>> {
        let Some((committed, a)) = self.engine.view.account_snapshot(id) else {
            return Ok(Vec::new());
        };
        let opened = self.reader.decoded(a.index, committed.size)?.time;
        let now = crate::clock::unix_nanos();
        let month_of = |t: u64| ledgerfs_model::time::format_timestamp(t)[..7].to_string();
        let (mut y, mut m): (u32, u32) = {
            let first = month_of(opened);
            (first[..4].parse().unwrap_or(1970), first[5..7].parse().unwrap_or(1))
        };
        let last = month_of(now.max(opened));
        let mut out = Vec::new();
        loop {
            let name = format!("{y:04}-{m:02}");
            let done = name >= last;
            out.push(name);
            if done || out.len() > 1200 {
                break;
            }
            (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
        }
        Ok(out)
    }

    /// A page of `transactions/`: offsets are log indices (or positions in a customer's postings).
    fn transaction_page(&self, caller: &Caller, offset: u64, size: u64) -> Result<Vec<(u64, String, Node)>> {
        let mut out = Vec::new();
        if caller.reads_everything() {
            let mut index = offset;
            while index < size && out.len() < DIR_PAGE {
                let end = size.min(index + DIR_PAGE as u64);
                self.reader.for_each(index, end, size, |i, bytes| {
                    if out.len() < DIR_PAGE {
                        if let Ok(EntryBody::Transfer(t)) = crate::read::logread::decode_at(i, bytes).map(|e| e.body) {
                            out.push((i + 1, format!("{}.json", t.id), Node::Transaction(t.id)));
                        }
                    }
                    Ok(())
                })?;
                index = out.last().map_or(end, |(next, _, _)| (*next).max(end.min(*next)));
                if out.len() < DIR_PAGE {
                    index = end;
                }
            }
            return Ok(out);
        }
        let mut postings: Vec<u64> = {
            let view = self.engine.view.state.read().expect("view lock");
            caller
                .accounts
                .iter()
                .filter_map(|id| view.account(id))
                .flat_map(|a| a.postings.iter().copied())
                .collect()
        };
        postings.sort_unstable();
        postings.dedup();
        for (position, &index) in postings.iter().enumerate().skip(offset as usize).take(DIR_PAGE) {
            if let EntryBody::Transfer(t) = self.reader.decoded(index, size)?.body {
                out.push((position as u64 + 1, format!("{}.json", t.id), Node::Transaction(t.id)));
            }
        }
        Ok(out)
    }

    /// Bytes of `events.log` at `offset` (each entry followed by a newline).
    fn read_events(&self, offset: u64, len: usize) -> Result<Vec<u8>> {
        let (size, total, bundle, start) = {
            let view = self.engine.view.state.read().expect("view lock");
            let size = view.committed.as_ref().map_or(0, |c| c.size);
            let b = view.bundle_starts.partition_point(|&s| s <= offset).saturating_sub(1);
            (
                size,
                view.events_bytes,
                b as u64,
                view.bundle_starts.get(b).copied().unwrap_or(0),
            )
        };
        let mut out = Vec::with_capacity(len);
        if offset >= total {
            return Ok(out);
        }
        let mut position = start;
        let mut index = bundle * TILE_WIDTH;
        while index < size && out.len() < len {
            let end = size.min(index + TILE_WIDTH);
            self.reader.for_each(index, end, size, |_, bytes| {
                for chunk in [bytes, b"\n".as_slice()] {
                    let chunk_end = position + chunk.len() as u64;
                    if chunk_end > offset && out.len() < len {
                        let from = offset.saturating_sub(position) as usize;
                        let take = (chunk.len() - from).min(len - out.len());
                        out.extend_from_slice(&chunk[from..from + take]);
                    }
                    position = chunk_end;
                }
                Ok(())
            })?;
            index = end;
        }
        Ok(out)
    }

    fn open_node(&self, req: &Request, node: Node, reply: ReplyOpen) {
        let caller = match self.caller(req).and_then(|c| self.check(&c, &node).map(|_| c)) {
            Ok(c) => c,
            Err(e) => return reply.error(e),
        };
        // A read that cannot be recorded is refused (EIO), never served unrecorded.
        if !self.engine.audit.available() {
            return reply.error(Errno::EIO);
        }
        let fh = self.next_fh.fetch_add(1, Ordering::Relaxed);
        let (content, flags, backing) = match &node {
            Node::Events => (Content::Events, FopenFlags::FOPEN_DIRECT_IO, None),
            Node::LogTree(rel) => {
                let Ok(file) = File::open(self.log_root.join(rel)) else {
                    return reply.error(Errno::ENOENT);
                };
                let full = TilePath::parse(rel).is_some_and(|p| p.is_full());
                let backing = if full && self.passthrough.load(Ordering::Relaxed) {
                    reply.open_backing(&file).ok()
                } else {
                    None
                };
                let flags = if backing.is_some() {
                    // The kernel reads the backing file itself; page-cache flags do not apply.
                    FopenFlags::empty()
                } else if full {
                    FopenFlags::FOPEN_KEEP_CACHE
                } else {
                    FopenFlags::FOPEN_DIRECT_IO
                };
                (Content::Tile(file), flags, backing)
            }
            _ if node.is_dir(&self.log_root) => return reply.error(Errno::EISDIR),
            _ => match self.render(&node) {
                Ok(bytes) => (Content::Bytes(bytes), FopenFlags::FOPEN_DIRECT_IO, None),
                Err(e) => return reply.error(e),
            },
        };
        let handle = Handle {
            node,
            content,
            caller,
            uid: req.uid(),
            served: 0,
            _backing: None,
        };
        match backing {
            Some(id) => {
                reply.opened_passthrough(FileHandle(fh), flags, &id);
                self.handles.lock().expect("handles").insert(
                    fh,
                    Handle {
                        _backing: Some(id),
                        ..handle
                    },
                );
            }
            None => {
                self.handles.lock().expect("handles").insert(fh, handle);
                reply.opened(FileHandle(fh), flags);
            }
        }
    }

    /// One page of the directory `ino` as the caller may see it.
    fn page(&self, req: &Request, ino: INodeNo, offset: u64) -> std::result::Result<Vec<(u64, String, Node)>, Errno> {
        let caller = self.caller(req)?;
        let node = self.node(ino)?;
        self.check(&caller, &node)?;
        self.children(&node, &caller, offset)
    }

    fn entry_reply(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
    ) -> std::result::Result<(FileAttr, Duration), Errno> {
        let caller = self.caller(req)?;
        let parent = self.node(parent)?;
        self.check(&caller, &parent)?;
        let name = name.to_str().ok_or(Errno::ENOENT)?;
        let node = self.child(&parent, name).ok_or(Errno::ENOENT)?;
        self.check(&caller, &node)?;
        let attr = self.attr(&node)?;
        self.remember(&node);
        Ok(attr)
    }
}

impl Filesystem for LedgerFs {
    fn init(&mut self, _req: &Request, config: &mut KernelConfig) -> std::io::Result<()> {
        // Zero-copy reads of immutable tiles where the kernel supports FUSE passthrough.
        // LEDGERFS_FUSE_PASSTHROUGH=0 forces ordinary reads (for comparison and tests).
        let wanted = std::env::var("LEDGERFS_FUSE_PASSTHROUGH").map_or(true, |v| v != "0");
        let enabled = wanted
            && config.add_capabilities(InitFlags::FUSE_PASSTHROUGH).is_ok()
            && config.set_max_stack_depth(1).is_ok();
        self.passthrough.store(enabled, Ordering::Relaxed);
        eprintln!(
            "ledgerfs: FUSE passthrough for immutable tiles: {}",
            if enabled { "on" } else { "off (ordinary reads)" }
        );
        Ok(())
    }

    fn lookup(&self, req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        match self.entry_reply(req, parent, name) {
            Ok((attr, ttl)) => reply.entry(&ttl, &attr, Generation(0)),
            Err(e) => reply.error(e),
        }
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        match self.node(ino).and_then(|node| self.attr(&node)) {
            Ok((attr, ttl)) => reply.attr(&ttl, &attr),
            Err(e) => reply.error(e),
        }
    }

    fn open(&self, req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        if flags.0 & libc::O_ACCMODE != libc::O_RDONLY {
            return reply.error(Errno::EROFS);
        }
        match self.node(ino) {
            Ok(node) => self.open_node(req, node, reply),
            Err(e) => reply.error(e),
        }
    }

    fn read(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock: Option<LockOwner>,
        reply: ReplyData,
    ) {
        let mut handles = self.handles.lock().expect("handles");
        let Some(handle) = handles.get_mut(&fh.0) else {
            return reply.error(Errno::EBADF);
        };
        let data = match &handle.content {
            Content::Bytes(bytes) => {
                let start = (offset as usize).min(bytes.len());
                let end = (start + size as usize).min(bytes.len());
                bytes[start..end].to_vec()
            }
            Content::Tile(file) => {
                let mut buf = vec![0u8; size as usize];
                match file.read_at(&mut buf, offset) {
                    Ok(n) => {
                        buf.truncate(n);
                        buf
                    }
                    Err(_) => return reply.error(Errno::EIO),
                }
            }
            Content::Events => {
                drop(handles);
                return match self.read_events(offset, size as usize) {
                    Ok(data) => {
                        if let Some(h) = self.handles.lock().expect("handles").get_mut(&fh.0) {
                            h.served += data.len() as u64;
                        }
                        reply.data(&data)
                    }
                    Err(e) => reply.error(errno(&e)),
                };
            }
        };
        handle.served += data.len() as u64;
        reply.data(&data);
    }

    fn release(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        _lock: Option<LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        let handle = self.handles.lock().expect("handles").remove(&fh.0);
        reply.ok();
        if let Some(h) = handle {
            let bytes = match (&h.content, &h._backing) {
                // Passed-through reads never reach us: record the file's size.
                (Content::Tile(file), Some(_)) => file.metadata().map_or(0, |m| m.len()),
                _ => h.served,
            };
            let recorded = self.engine.audit.record(AuditRecord {
                who: h.caller.name.clone(),
                role: h.caller.role.as_str(),
                via: "fuse",
                uid: Some(h.uid),
                what: h.node.path(),
                bytes,
                status: 0,
            });
            if recorded.is_err() {
                // Opens are refused from now on (`open_node`); this one raced the writer's end.
                eprintln!(
                    "ledgerfs: audit trail unavailable: the read of {} went unrecorded",
                    h.node.path()
                );
            }
        }
    }

    fn opendir(&self, req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        let allowed = self
            .caller(req)
            .and_then(|c| self.node(ino).and_then(|n| self.check(&c, &n)));
        match allowed {
            Ok(()) => reply.opened(FileHandle(0), FopenFlags::empty()),
            Err(e) => reply.error(e),
        }
    }

    fn readdir(&self, req: &Request, ino: INodeNo, _fh: FileHandle, offset: u64, mut reply: ReplyDirectory) {
        let page = self.page(req, ino, offset);
        match page {
            Ok(entries) => {
                for (next, name, node) in entries {
                    let kind = if node.is_dir(&self.log_root) {
                        FileType::Directory
                    } else {
                        FileType::RegularFile
                    };
                    let ino = self.remember(&node);
                    if reply.add(ino, next, kind, &name) {
                        break;
                    }
                }
                reply.ok();
            }
            Err(e) => reply.error(e),
        }
    }

    fn readdirplus(&self, req: &Request, ino: INodeNo, _fh: FileHandle, offset: u64, mut reply: ReplyDirectoryPlus) {
        let page = self.page(req, ino, offset);
        match page {
            Ok(entries) => {
                for (next, name, node) in entries {
                    let Ok((attr, ttl)) = self.attr(&node) else { continue };
                    self.remember(&node);
                    if reply.add(attr.ino, next, &name, &ttl, &attr, Generation(0)) {
                        break;
                    }
                }
                reply.ok();
            }
            Err(e) => reply.error(e),
        }
    }

    fn setattr(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _mode: Option<u32>,
        _uid: Option<u32>,
        _gid: Option<u32>,
        _size: Option<u64>,
        _atime: Option<fuser::TimeOrNow>,
        _mtime: Option<fuser::TimeOrNow>,
        _ctime: Option<SystemTime>,
        _fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        reply.error(Errno::EROFS);
    }

    fn mkdir(&self, _req: &Request, _parent: INodeNo, _name: &OsStr, _mode: u32, _umask: u32, reply: ReplyEntry) {
        reply.error(Errno::EROFS);
    }

    fn mknod(&self, _req: &Request, _p: INodeNo, _n: &OsStr, _m: u32, _u: u32, _r: u32, reply: ReplyEntry) {
        reply.error(Errno::EROFS);
    }

    fn unlink(&self, _req: &Request, _parent: INodeNo, _name: &OsStr, reply: ReplyEmpty) {
        reply.error(Errno::EROFS);
    }

    fn rmdir(&self, _req: &Request, _parent: INodeNo, _name: &OsStr, reply: ReplyEmpty) {
        reply.error(Errno::EROFS);
    }

    fn write(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _offset: u64,
        _data: &[u8],
        _write_flags: fuser::WriteFlags,
        _flags: OpenFlags,
        _lock: Option<LockOwner>,
        reply: fuser::ReplyWrite,
    ) {
        reply.error(Errno::EROFS);
    }
}

/// Detaches a mount lazily (it disappears now; open files fail once the daemon exits).
pub fn detach(mountpoint: &Path) {
    let quiet = |program: &str, args: &[&str]| {
        std::process::Command::new(program)
            .args(args)
            .arg(mountpoint)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if !quiet("fusermount3", &["-u", "-z"]) {
        quiet("umount", &["-l"]);
    }
}

/// Unmounts a stale mount a crashed run left (the mount point answers ENOTCONN).
pub fn clean_stale_mount(mountpoint: &Path) {
    if let Err(e) = std::fs::metadata(mountpoint) {
        if e.raw_os_error() == Some(libc::ENOTCONN) {
            eprintln!("ledgerfs: cleaning a stale mount at {}", mountpoint.display());
            detach(mountpoint);
        }
    }
}

/// Whether the mount may serve other users (`allow_other`): always for root, otherwise
/// only when /etc/fuse.conf says `user_allow_other` (fusermount3 refuses it elsewise).
fn other_users_allowed() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        return true;
    }
    std::fs::read_to_string("/etc/fuse.conf")
        .map(|text| text.lines().any(|line| line.trim() == "user_allow_other"))
        .unwrap_or(false)
}

/// Mounts the filesystem at `mountpoint` on background threads; unmounts on drop.
pub fn mount(mountpoint: &Path, fs: LedgerFs) -> Result<fuser::BackgroundSession> {
    clean_stale_mount(mountpoint);
    std::fs::create_dir_all(mountpoint).map_err(|e| Error::io(mountpoint, e))?;
    let mut config = fuser::Config::default();
    config.mount_options = vec![
        fuser::MountOption::FSName("ledgerfs".into()),
        fuser::MountOption::Subtype("ledgerfs".into()),
        fuser::MountOption::RO,
        fuser::MountOption::NoExec,
        fuser::MountOption::NoSuid,
        fuser::MountOption::NoDev,
    ];
    config.acl = if other_users_allowed() {
        fuser::SessionACL::All
    } else {
        eprintln!(
            "ledgerfs: mounting for the daemon's user only: other users need root or `user_allow_other` in /etc/fuse.conf"
        );
        fuser::SessionACL::Owner
    };
    config.n_threads = Some(2);
    fuser::spawn_mount(fs, mountpoint, &config).map_err(|e| {
        Error::Config(format!(
            "cannot mount FUSE at {}: {e} (needs /dev/fuse and fusermount3 from the fuse3 package; \
             unprivileged users also need `user_allow_other` in /etc/fuse.conf)",
            mountpoint.display()
        ))
    })
}
