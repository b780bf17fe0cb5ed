//! `ledgerfs verify`: full offline verification of a log, from a directory or over
//! HTTP, needing only the verifier key. It checks the checkpoint signature, recomputes
//! every hash tile from the entry bundles (so every tile is checked against its parent up
//! to the signed root), checks older checkpoints are consistent with the current one,
//! and replays every entry through the sequencer core (canonical entries, valid
//! postings, money conserved). It trusts nothing the server says about itself.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressStyle};
use ledgerfs_attest::{verify_checkpoint, VerifierKey};
use ledgerfs_sequencer::{EntryBuffer, Limits, Sequencer};
use ledgerfs_tiles::{read_entries, verify_tree, TileKind, TilePath, TileReader, TILE_WIDTH};

use crate::error::{Error, Result};
use crate::storage::tiles::PosixStore;

/// Where the log is read from.
pub enum Source {
    /// A `log/` directory (or a data directory holding one).
    Dir(PathBuf),
    /// A server publishing `/log/...`, with an optional bearer token.
    Url {
        /// Base URL (the `/log/` tree lives under it).
        base: String,
        /// Bearer token for servers that require one.
        token: Option<String>,
    },
}

/// Reads tiles over HTTP.
pub struct HttpReader {
    base: String,
    token: Option<String>,
    agent: ureq::Agent,
}

impl HttpReader {
    fn get(&self, path: &str) -> Result<Option<Vec<u8>>> {
        let url = format!("{}/log/{path}", self.base.trim_end_matches('/'));
        let mut request = self.agent.get(&url);
        if let Some(token) = &self.token {
            request = request.set("Authorization", &format!("Bearer {token}"));
        }
        match request.call() {
            Ok(response) => {
                let mut bytes = Vec::new();
                std::io::Read::read_to_end(&mut response.into_reader(), &mut bytes)
                    .map_err(|e| Error::Client(format!("{url}: {e}")))?;
                Ok(Some(bytes))
            }
            Err(ureq::Error::Status(404, _)) => Ok(None),
            Err(e) => Err(Error::Client(format!("{url}: {e}"))),
        }
    }
}

impl TileReader for HttpReader {
    type Error = Error;
    fn read(&self, path: &TilePath) -> Result<Option<Vec<u8>>> {
        self.get(&path.to_path())
    }
}

enum AnyReader {
    Dir(PosixStore),
    Http(HttpReader),
}

impl TileReader for AnyReader {
    type Error = Error;
    fn read(&self, path: &TilePath) -> Result<Option<Vec<u8>>> {
        match self {
            AnyReader::Dir(store) => store.read(path),
            AnyReader::Http(http) => http.read(path),
        }
    }
}

impl AnyReader {
    fn checkpoint(&self) -> Result<Vec<u8>> {
        let note = match self {
            AnyReader::Dir(store) => store.read_checkpoint()?,
            AnyReader::Http(http) => http.get("checkpoint")?,
        };
        note.ok_or_else(|| Error::Corrupt {
            path: "checkpoint".into(),
            reason: "missing".into(),
        })
    }
}

/// What a successful verification established.
#[derive(Debug)]
pub struct Report {
    /// Verified tree size.
    pub size: u64,
    /// Verified root (base64).
    pub root: String,
    /// Accounts rebuilt.
    pub accounts: usize,
    /// Older checkpoints found consistent.
    pub older_checkpoints: usize,
}

/// Resolves a directory argument: a data directory (with `log/`) or a log directory.
pub fn log_dir(dir: &Path) -> PathBuf {
    if dir.join("log").join("checkpoint").exists() {
        dir.join("log")
    } else {
        dir.to_path_buf()
    }
}

/// Verifies everything; `older` are signed checkpoints saved earlier.
pub fn verify(source: Source, vkey: &VerifierKey, older: &[Vec<u8>], show_progress: bool) -> Result<Report> {
    let reader = match source {
        Source::Dir(dir) => AnyReader::Dir(PosixStore::new(log_dir(&dir))),
        Source::Url { base, token } => AnyReader::Http(HttpReader {
            base,
            token,
            agent: ureq::agent(),
        }),
    };
    let note = reader.checkpoint()?;
    let corrupt = |path: &str, reason: String| Error::Corrupt {
        path: path.into(),
        reason,
    };
    let checkpoint = verify_checkpoint(vkey, &note).map_err(|e| corrupt("checkpoint", e.to_string()))?;
    let mut older_sizes = Vec::new();
    let mut older_roots = Vec::new();
    for (i, old) in older.iter().enumerate() {
        let old =
            verify_checkpoint(vkey, old).map_err(|e| corrupt(&format!("older checkpoint #{i}"), e.to_string()))?;
        if old.origin != checkpoint.origin || old.size > checkpoint.size {
            return Err(corrupt(
                &format!("older checkpoint #{i}"),
                "different origin or larger than the current one".into(),
            ));
        }
        older_sizes.push(old.size);
        older_roots.push(old.root);
    }
    let bar = progress_bar(show_progress, checkpoint.size, "verifying tiles");
    let roots = verify_tree(&reader, checkpoint.size, &checkpoint.root, &older_sizes, &mut |done| {
        bar.set_position(done)
    })
    .map_err(|e| corrupt(&e.path, e.to_string()))?;
    bar.finish_and_clear();
    for (i, ((size, root), expected)) in roots.iter().zip(&older_roots).enumerate() {
        if root != expected {
            return Err(corrupt(
                &format!("older checkpoint #{i}"),
                format!("root at size {size} differs: the log was rewritten (a fork)"),
            ));
        }
    }
    // The audit trail is a log of reads, not of ledger events: check its entries' shape.
    let accounts = if checkpoint.origin.ends_with("/audit") {
        check_audit_entries(&reader, checkpoint.size)?;
        0
    } else if checkpoint.origin.ends_with("/reconciliation") {
        check_recon_entries(&reader, checkpoint.size)?;
        0
    } else {
        replay(&reader, checkpoint.size, show_progress)?
    };
    use base64::Engine as _;
    Ok(Report {
        size: checkpoint.size,
        root: base64::engine::general_purpose::STANDARD.encode(checkpoint.root),
        accounts,
        older_checkpoints: older.len(),
    })
}

/// Replays every entry through the sequencer core and checks conservation.
fn replay(reader: &AnyReader, size: u64, show_progress: bool) -> Result<usize> {
    let bar = progress_bar(show_progress, size, "replaying entries");
    let mut sequencer = Sequencer::new(Limits::unbounded());
    let mut scratch = EntryBuffer::new();
    for_each_entry(reader, size, &mut |index, path, entry| {
        sequencer.replay(entry, &mut scratch).map_err(|e| Error::Corrupt {
            path: format!("{path} (entry {index})"),
            reason: e.to_string(),
        })?;
        if index % TILE_WIDTH == 0 {
            bar.set_position(index);
        }
        Ok(())
    })?;
    bar.finish_and_clear();
    let mut totals: BTreeMap<&str, (u128, u128, u128, u128)> = BTreeMap::new();
    for account in sequencer.accounts() {
        let t = totals.entry(account.record.currency.code()).or_default();
        t.0 += account.balance.debits_posted;
        t.1 += account.balance.credits_posted;
        t.2 += account.balance.debits_pending;
        t.3 += account.balance.credits_pending;
    }
    if let Some((currency, _)) = totals.iter().find(|(_, (d, c, dp, cp))| d != c || dp != cp) {
        return Err(Error::Corrupt {
            path: "log".into(),
            reason: format!("{currency} debits and credits differ"),
        });
    }
    Ok(sequencer.accounts().len())
}

/// Audit entries are JSON objects carrying their own index.
fn check_audit_entries(reader: &AnyReader, size: u64) -> Result<()> {
    for_each_entry(reader, size, &mut |index, path, entry| {
        let value: serde_json::Value = serde_json::from_slice(entry).map_err(|e| Error::Corrupt {
            path: format!("{path} (entry {index})"),
            reason: e.to_string(),
        })?;
        if value["index"] != index {
            return Err(Error::Corrupt {
                path: format!("{path} (entry {index})"),
                reason: "index field differs from its position".into(),
            });
        }
        Ok(())
    })
}

/// Break-log entries follow the log's rules (`breaklog::apply`, the daemon's own): each
/// break names an earlier run, each resolution an open break, once.
fn check_recon_entries(reader: &AnyReader, size: u64) -> Result<()> {
    let mut projection = crate::recon::breaklog::Projection::default();
    for_each_entry(reader, size, &mut |index, path, entry| {
        crate::recon::breaklog::apply(&mut projection, index, entry)
            .map(|_| ())
            .map_err(|reason| Error::Corrupt {
                path: format!("{path} (entry {index})"),
                reason,
            })
    })
}

/// A visitor of `(index, bundle path, entry bytes)`.
type EntryVisitor<'a> = dyn FnMut(u64, &str, &[u8]) -> Result<()> + 'a;

/// Calls `f(index, bundle path, entry)` for every entry of a tree of `size`. Bundles are
/// read by the tiles core (`read_entries`: exact width, and the full bundle standing in
/// for a partial one a live store deleted mid-read), never by a rule of this file.
fn for_each_entry(reader: &AnyReader, size: u64, f: &mut EntryVisitor<'_>) -> Result<()> {
    let mut index = 0u64;
    while index < size {
        let n = index / TILE_WIDTH;
        let width = (size - n * TILE_WIDTH).min(TILE_WIDTH);
        let name = TilePath {
            kind: TileKind::Entries,
            index: n,
            width: width as u16,
        }
        .to_path();
        let entries = read_entries(reader, size, index, usize::MAX).map_err(|e| Error::Corrupt {
            path: name.clone(),
            reason: e.to_string(),
        })?;
        for entry in &entries {
            f(index, &name, entry)?;
            index += 1;
        }
    }
    Ok(())
}

fn progress_bar(show: bool, len: u64, what: &str) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template(&format!("{what} {{bar:30}} {{pos}}/{{len}} ({{per_sec}}, eta {{eta}})"))
            .expect("valid template"),
    );
    bar
}
