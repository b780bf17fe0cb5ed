//! Errors of the hosted daemon and CLI, each with a stable code that the API returns
//! and the documentation lists.

use std::fmt;
use std::path::Path;

/// Result with the hosted [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

/// Everything that can go wrong outside the cores.
#[derive(Debug)]
pub enum Error {
    /// A file or directory operation failed.
    Io {
        /// The file involved.
        path: String,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The config file is wrong.
    Config(String),
    /// The store exists but fails verification; names the file.
    Corrupt {
        /// The file that failed.
        path: String,
        /// Why.
        reason: String,
    },
    /// No store at the data directory.
    NotInitialised(String),
    /// `init` on a directory that already holds a store.
    AlreadyInitialised(String),
    /// The storage device is full.
    StorageFull(String),
    /// Any other storage failure after which writes are refused until recovery.
    Storage(String),
    /// The attestation domain refused to sign.
    Attest(String),
    /// A client-side failure (CLI talking to a daemon).
    Client(String),
    /// A disk image cannot be read as a LedgerFS volume (not formatted, wrong geometry,
    /// device errors); a damaged volume is `Corrupt`.
    Image(String),
    /// Too much is in flight (events or bytes queued for the sequencer): retry shortly.
    Overloaded(String),
    /// The appliance's console failed us: no connection, no reply in time, or a reply
    /// carrying an `"error"` member.
    Appliance(String),
    /// A read could not be recorded in the audit trail, so it is refused.
    AuditUnavailable(String),
    /// Another process holds the store's lock.
    StoreLocked(String),
}

impl Error {
    /// The tiles core could not read the stored log (a missing or inconsistent tile): the
    /// store is damaged. One mapping for every proof and root the API and FUSE serve.
    pub fn log_tiles(e: ledgerfs_tiles::TileError) -> Error {
        Error::Corrupt {
            path: "log/tile".into(),
            reason: format!("{e:?}"),
        }
    }

    /// Wraps an I/O error with the path it concerns; ENOSPC becomes `StorageFull`.
    pub fn io(path: &Path, source: std::io::Error) -> Error {
        if source.raw_os_error() == Some(libc::ENOSPC) {
            return Error::StorageFull(format!("{}: {source}", path.display()));
        }
        Error::Io {
            path: path.display().to_string(),
            source,
        }
    }

    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Io { .. } => "io_error",
            Error::Config(_) => "config_invalid",
            Error::Overloaded(_) => "overloaded",
            Error::Corrupt { .. } => "store_corrupt",
            Error::NotInitialised(_) => "store_not_initialised",
            Error::AlreadyInitialised(_) => "store_exists",
            Error::StorageFull(_) => "storage_full",
            Error::Storage(_) => "storage_unavailable",
            Error::Attest(_) => "attest_refused",
            Error::Client(_) => "client_error",
            Error::Image(_) => "image_invalid",
            Error::Appliance(_) => "appliance_error",
            Error::AuditUnavailable(_) => "audit_unavailable",
            Error::StoreLocked(_) => "store_locked",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io { path, source } => write!(f, "{path}: {source}"),
            Error::Config(m) => write!(f, "config: {m}"),
            Error::Corrupt { path, reason } => write!(f, "store is corrupt: {path}: {reason}"),
            Error::NotInitialised(dir) => write!(f, "no store in {dir}: run `ledgerfs init --data {dir}` first"),
            Error::AlreadyInitialised(dir) => write!(f, "{dir} already holds a store"),
            Error::StorageFull(m) => write!(f, "storage is full: {m}"),
            Error::Storage(m) => write!(f, "storage failed: {m}"),
            Error::Attest(m) => write!(f, "attestation refused: {m}"),
            Error::Client(m) | Error::Image(m) | Error::Appliance(m) | Error::Overloaded(m) => write!(f, "{m}"),
            Error::AuditUnavailable(m) => write!(f, "audit trail unavailable: {m}"),
            Error::StoreLocked(m) => write!(f, "store is locked: {m}"),
        }
    }
}

impl std::error::Error for Error {}
