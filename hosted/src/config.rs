//! The daemon's configuration: `DIR/ledgerfs.toml`, written by `ledgerfs init`, with
//! environment overrides (`LEDGERFS_LISTEN`). Tokens are stored as SHA-256 digests, so
//! the config file holds no secret; roles and customer account lists live here too.

use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Name of the config file inside the data directory.
pub const CONFIG_FILE: &str = "ledgerfs.toml";
/// Default API address: loopback only.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// What a bearer token may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Everything, including opening accounts and reading the audit trail.
    Admin,
    /// Opens accounts and posts transfers; reads everything but the audit trail.
    Operator,
    /// Reads everything, including the audit trail; writes nothing.
    Auditor,
    /// Reads everything a supervisor needs (balances, reports, log); writes nothing.
    Regulator,
    /// Reads its own accounts and posts transfers debiting them.
    Customer,
}

impl Role {
    /// The stable name used in config and errors.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Operator => "operator",
            Role::Auditor => "auditor",
            Role::Regulator => "regulator",
            Role::Customer => "customer",
        }
    }
}

/// One configured bearer token.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenConfig {
    /// Who holds it (shown in audit records).
    pub name: String,
    /// Lower-case hex SHA-256 of the token text.
    pub sha256: String,
    /// What it may do.
    pub role: Role,
    /// For customers: the accounts they own.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accounts: Vec<String>,
    /// Local users (uids) who act with this token's role in the FUSE mount.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub uids: Vec<u32>,
}

/// The whole config file.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Checkpoint origin line and signing key name, fixed at init.
    pub origin: String,
    /// API listen address.
    #[serde(default = "default_listen")]
    pub listen: String,
    /// Most accounts the sequencer will hold.
    #[serde(default = "default_max_accounts")]
    pub max_accounts: usize,
    /// Most transfers the sequencer will hold.
    #[serde(default = "default_max_transfers")]
    pub max_transfers: usize,
    /// Transfer-id table capacity reserved at start-up (32 bytes each; avoids rehashing
    /// pauses while the ledger grows to this size).
    #[serde(default = "default_reserve_transfers")]
    pub reserve_transfers: usize,
    /// Size of each preallocated journal segment file in KiB (see README, "The write
    /// path"); a commit must fit one segment. Small disks may lower it (minimum 64).
    #[serde(default = "default_journal_segment_kib")]
    pub journal_segment_kib: u64,
    /// A snapshot of the projections is written every this many entries (0: never), so
    /// start-up replays only the log's tail.
    #[serde(default = "default_snapshot_every")]
    pub snapshot_every: u64,
    /// Bearer tokens.
    #[serde(default)]
    pub tokens: Vec<TokenConfig>,
}

fn default_snapshot_every() -> u64 {
    1_000_000
}

fn default_journal_segment_kib() -> u64 {
    64 * 1024
}

fn default_listen() -> String {
    DEFAULT_LISTEN.to_string()
}

fn default_max_accounts() -> usize {
    1_000_000
}

fn default_max_transfers() -> usize {
    100_000_000
}

fn default_reserve_transfers() -> usize {
    1_000_000
}

impl Config {
    /// A fresh config for `init`.
    pub fn new(origin: String) -> Config {
        Config {
            origin,
            listen: default_listen(),
            journal_segment_kib: default_journal_segment_kib(),
            snapshot_every: default_snapshot_every(),
            max_accounts: default_max_accounts(),
            max_transfers: default_max_transfers(),
            reserve_transfers: default_reserve_transfers(),
            tokens: Vec::new(),
        }
    }

    /// Path of the config file in `dir`.
    pub fn path(dir: &Path) -> PathBuf {
        dir.join(CONFIG_FILE)
    }

    /// Reads `DIR/ledgerfs.toml` and applies environment overrides.
    pub fn load(dir: &Path) -> Result<Config> {
        let path = Config::path(dir);
        let text = fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        let mut config: Config =
            toml::from_str(&text).map_err(|e| Error::Config(format!("{}: {}", path.display(), e.message())))?;
        if let Ok(listen) = std::env::var("LEDGERFS_LISTEN") {
            config.listen = listen;
        }
        config.validate()?;
        Ok(config)
    }

    /// Checks values a typo could break.
    pub fn validate(&self) -> Result<()> {
        self.listen
            .parse::<SocketAddr>()
            .map_err(|_| Error::Config(format!("listen address {:?} is not IP:PORT", self.listen)))?;
        for token in &self.tokens {
            if token.sha256.len() != 64 || !token.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(Error::Config(format!(
                    "token {:?}: sha256 must be 64 hex digits",
                    token.name
                )));
            }
            if token.role == Role::Customer && token.accounts.is_empty() {
                return Err(Error::Config(format!(
                    "customer token {:?} lists no accounts",
                    token.name
                )));
            }
        }
        Ok(())
    }

    /// Writes the config file (used by `init` and `token add`).
    pub fn save(&self, dir: &Path) -> Result<()> {
        let text = format!(
            "# LedgerFS configuration. Tokens are stored as SHA-256 digests; see README.md.\n{}",
            toml::to_string_pretty(self).map_err(|e| Error::Config(e.to_string()))?
        );
        crate::fsutil::write_atomic(&Config::path(dir), text.as_bytes(), 0o644)
    }
}
