//! `ledgerfs image export`: turns an appliance disk image back into a plain tlog-tiles
//! directory (`checkpoint`, `tile/<L>/<N>…`, `tile/entries/<N>…`) that `ledgerfs verify
//! --dir` and any static web server accept, using the blockstore core itself to read the
//! volume (so every record is checked against its checksum and the hash chain on the
//! way out). With a verifier key it also writes `log.vkey`, which is where `verify --dir`
//! looks for the key, after checking that the key verifies the disk's checkpoint.
//!
//! Must never: write to the disk (it is opened read-only and the core's `open` never
//! writes), write into a directory that already holds anything, or leave a `checkpoint`
//! behind when any file failed (the checkpoint is written last, tiles synced first).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use ledgerfs_attest::{parse_checkpoint_unverified, verify_checkpoint, Checkpoint, VerifierKey};
use ledgerfs_blockstore::{BlockStore, CHECKPOINT_PATH};
use ledgerfs_tiles::{BundleIter, TileStore};

use crate::appliance::diskfile::{DiskFile, LastError};
use crate::error::{Error, Result};
use crate::storage::fs::Posix;
use crate::storage::fsutil;
use crate::storage::ledger::VKEY_FILE;

/// What an export wrote, for the summary the CLI prints.
#[derive(Debug)]
pub struct ExportSummary {
    /// Files written, the checkpoint and `log.vkey` included.
    pub files: usize,
    /// Bytes of tiles, bundles and checkpoint written.
    pub bytes: u64,
    /// Entries in the bundles a reader of the checkpoint uses (equals its size on a
    /// healthy volume).
    pub entries: u64,
    /// The checkpoint's origin, size and root.
    pub checkpoint: Checkpoint,
    /// Whether the checkpoint was verified with a key and `log.vkey` written.
    pub vkey_written: bool,
}

/// Reads a verifier key given as a file (e.g. `build/attest.vkey`, `DATA/log.vkey`) or
/// as the key string itself.
pub fn read_vkey_arg(arg: &str) -> Result<VerifierKey> {
    let path = Path::new(arg);
    let text = if path.is_file() {
        fs::read_to_string(path).map_err(|e| Error::io(path, e))?
    } else {
        arg.to_string()
    };
    VerifierKey::parse(text.trim()).map_err(|e| {
        Error::Client(format!(
            "--vkey {arg}: neither a readable key file nor a verifier key string ({e})"
        ))
    })
}

/// Translates a blockstore error about the disk `name` into the hosted error: damaged
/// data is `Corrupt` (naming the disk and the block), anything else `Image`, with the
/// OS's words for a device failure.
fn volume_error(name: &str, os: &LastError, e: ledgerfs_blockstore::Error) -> Error {
    use ledgerfs_blockstore::Error as B;
    match e {
        B::Corrupt { .. } => Error::Corrupt {
            path: name.to_string(),
            reason: e.to_string(),
        },
        B::NotFormatted => Error::Image(format!("{name}: not a LedgerFS volume ({e})")),
        B::Device(_) => match os.get() {
            Some(cause) => Error::Image(format!("{name}: {e} ({cause})")),
            None => Error::Image(format!("{name}: {e}")),
        },
        other => Error::Image(format!("{name}: {other}")),
    }
}

/// Refuses anything at `out` but a missing or empty directory.
fn check_out(out: &Path) -> Result<()> {
    if out.exists() && !out.is_dir() {
        return Err(Error::Client(format!(
            "{} exists and is not a directory",
            out.display()
        )));
    }
    match fs::read_dir(out).map(|mut entries| entries.next().is_some()) {
        Ok(true) => Err(Error::Client(format!(
            "{} is not empty: export writes into a new or empty directory only",
            out.display()
        ))),
        Ok(false) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(out, e)),
    }
}

/// Exports every committed file of the volume in `disk` into `out` (new or empty),
/// checkpoint last; with `vkey`, checks the checkpoint's signature first and writes the
/// key as `out/log.vkey` so `ledgerfs verify --dir OUT` needs no `--vkey`. On any error
/// the files written so far are removed again.
pub fn export(disk: &Path, out: &Path, vkey: Option<&VerifierKey>) -> Result<ExportSummary> {
    let name = disk.display().to_string();
    check_out(out)?;
    let dev = DiskFile::open_read_only(disk)?;
    let os = dev.last_error();
    let store = BlockStore::open(dev).map_err(|e| volume_error(&name, &os, e))?;
    let note = TileStore::checkpoint(&store)
        .map_err(|e| volume_error(&name, &os, e))?
        .ok_or_else(|| Error::Image(format!("{name}: the volume holds no checkpoint yet: nothing to export")))?;
    let checkpoint = match vkey {
        Some(key) => verify_checkpoint(key, &note).map_err(|e| {
            Error::Client(format!(
                "{name}: its checkpoint does not verify with the verifier key {} ({e})",
                key.encode()
            ))
        })?,
        None => parse_checkpoint_unverified(&note).map_err(|e| Error::Corrupt {
            path: format!("{name}: checkpoint"),
            reason: format!("not a checkpoint note ({e})"),
        })?,
    };
    let created = !out.exists();
    fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let mut written = Written {
        out: out.to_path_buf(),
        created,
        tops: Vec::new(),
        done: false,
    };
    let mut summary = ExportSummary {
        files: 0,
        bytes: 0,
        entries: 0,
        checkpoint,
        vkey_written: false,
    };
    // Entries: the widest bundle of each number counts (superseded partial bundles are
    // exported too, as the POSIX store keeps them until their full bundle exists).
    let mut widest: BTreeMap<u64, u64> = BTreeMap::new();
    let mut checkpoint_bytes = None;
    for file in ledgerfs_blockstore::export(&store) {
        let (path, bytes) = file.map_err(|e| volume_error(&name, &os, e))?;
        if path == CHECKPOINT_PATH {
            checkpoint_bytes = Some(bytes);
            continue;
        }
        if let Some(rest) = path.strip_prefix("tile/entries/") {
            let count = BundleIter::new(&bytes).count() as u64;
            let slot = widest.entry(bundle_index(rest)).or_default();
            *slot = (*slot).max(count);
        }
        written.write(&path, &bytes, false)?;
        summary.files += 1;
        summary.bytes += bytes.len() as u64;
    }
    summary.entries = widest.values().sum();
    // Tiles durable before the checkpoint that names them (as the POSIX store does).
    fsutil::sync_filesystem(&Posix, out)?;
    if let Some(key) = vkey {
        written.write(VKEY_FILE, format!("{}\n", key.encode()).as_bytes(), true)?;
        summary.files += 1;
        summary.vkey_written = true;
    }
    let bytes = checkpoint_bytes.unwrap_or(note);
    written.write(CHECKPOINT_PATH, &bytes, true)?;
    summary.files += 1;
    summary.bytes += bytes.len() as u64;
    written.done = true;
    Ok(summary)
}

/// The bundle number `N` of an entries path relative to `tile/entries/` (`x001/234`,
/// `005.p/17`): the digits of its segments before any `.p`.
fn bundle_index(rest: &str) -> u64 {
    let base = rest.split(".p").next().unwrap_or(rest);
    base.split('/')
        .map(|seg| seg.trim_start_matches('x'))
        .fold(0u64, |n, seg| n * 1000 + seg.parse::<u64>().unwrap_or(0))
}

/// Files an export has written, removed again unless the export completes.
struct Written {
    out: PathBuf,
    created: bool,
    tops: Vec<PathBuf>,
    done: bool,
}

impl Written {
    /// Writes `rel` (a path the blockstore produced) under the output directory;
    /// `atomic` files go through the temporary-file-and-rename discipline.
    fn write(&mut self, rel: &str, bytes: &[u8], atomic: bool) -> Result<()> {
        let rel_path = Path::new(rel);
        if rel_path.is_absolute() || rel.split('/').any(|seg| seg.is_empty() || seg == "." || seg == "..") {
            return Err(Error::Image(format!("refusing to export to the unsafe path {rel:?}")));
        }
        let top = self.out.join(rel_path.components().next().expect("a non-empty path"));
        if !self.tops.contains(&top) {
            self.tops.push(top);
        }
        let path = self.out.join(rel_path);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
        if atomic {
            fsutil::write_atomic(&Posix, &path, bytes, 0o644)
        } else {
            fs::write(&path, bytes).map_err(|e| Error::io(&path, e))
        }
    }
}

impl Drop for Written {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        for top in &self.tops {
            let _ = fs::remove_dir_all(top).or_else(|_| fs::remove_file(top));
        }
        if self.created {
            let _ = fs::remove_dir(&self.out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundle_index_reads_tlog_tiles_paths() {
        assert_eq!(bundle_index("000"), 0);
        assert_eq!(bundle_index("005.p/17"), 5);
        assert_eq!(bundle_index("x001/234"), 1234);
        assert_eq!(bundle_index("x001/x234/067.p/8"), 1_234_067);
    }
}
