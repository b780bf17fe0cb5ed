//! The daemon's configuration: `DIR/ledgerfs.toml`, written by `ledgerfs init`, with
//! environment overrides (`LEDGERFS_LISTEN`). Tokens are stored as SHA-256 digests, so
//! the config file holds no secret; roles and customer account lists live here too.
//! `ledgerfs token add|revoke` change the tokens through [`Config::edit`]; a running
//! daemon reloads them (see [`crate::access::auth`]).

use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Name of the config file inside the data directory.
pub const CONFIG_FILE: &str = "ledgerfs.toml";
/// Default API address: loopback only.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// What a bearer token may do: the roles of `ledgerfs-http`, which the appliance's
/// token table uses too.
pub use ledgerfs_http::Role;

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
    /// Fund segregation (CASS 15): a transfer between client money (customer and
    /// safeguarding accounts) and the firm's own money (operational, revenue, expense)
    /// must carry the `firm_funds` flag, else `firm_funds_undeclared`. On by default.
    #[serde(default = "default_fund_segregation")]
    pub fund_segregation: bool,
    /// The sequencer appends a balance commitment entry after a batch that crosses a
    /// multiple of this many entries (0: only when a balance proof asks for one). See
    /// README, "Balance proofs".
    #[serde(default = "default_balance_commitment_every")]
    pub balance_commitment_every: u64,
    /// ... and at least this many entries per account apart (0: no such floor), so
    /// their cost stays near 2% of sequencing however many accounts there are.
    #[serde(default = "default_balance_commitment_per_account")]
    pub balance_commitment_per_account: u64,
    /// A C2SP tlog-policy file (relative to the data directory, or absolute): each
    /// checkpoint is submitted to its witnesses and published as `log/checkpoint` with
    /// their cosignatures once they meet its quorum (README, "Witnesses").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// Publish checkpoints that miss the policy's quorum anyway (logged on stderr and
    /// counted in `/metrics`). Off: publication is fail-closed.
    #[serde(default)]
    pub witness_fail_open: bool,
    /// Longest wait for one witness's answer, in milliseconds.
    #[serde(default = "default_witness_timeout_ms")]
    pub witness_timeout_ms: u64,
    /// Sign each checkpoint with ML-DSA-44 too, after the Ed25519 line (C2SP
    /// tlog-checkpoint's post-quantum recommendation; README, "Post-quantum
    /// signatures"). `ledgerfs key --ml-dsa` prints its verifier key.
    #[serde(default)]
    pub ml_dsa_44: bool,
    /// Bearer tokens.
    #[serde(default)]
    pub tokens: Vec<TokenConfig>,
}

fn default_witness_timeout_ms() -> u64 {
    5_000
}

fn default_fund_segregation() -> bool {
    true
}

fn default_balance_commitment_every() -> u64 {
    100_000
}

fn default_balance_commitment_per_account() -> u64 {
    ledgerfs_sequencer::ENTRIES_PER_ACCOUNT_PER_COMMITMENT
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
            fund_segregation: default_fund_segregation(),
            balance_commitment_every: default_balance_commitment_every(),
            balance_commitment_per_account: default_balance_commitment_per_account(),
            max_accounts: default_max_accounts(),
            max_transfers: default_max_transfers(),
            reserve_transfers: default_reserve_transfers(),
            policy: None,
            witness_fail_open: false,
            witness_timeout_ms: default_witness_timeout_ms(),
            ml_dsa_44: false,
            tokens: Vec::new(),
        }
    }

    /// Path of the config file in `dir`.
    pub fn path(dir: &Path) -> PathBuf {
        dir.join(CONFIG_FILE)
    }

    /// Reads `DIR/ledgerfs.toml` and applies environment overrides.
    pub fn load(dir: &Path) -> Result<Config> {
        let mut config = Config::read_file(dir)?;
        if let Ok(listen) = std::env::var("LEDGERFS_LISTEN") {
            config.listen = listen;
        }
        config.validate()?;
        Ok(config)
    }

    /// Parses `DIR/ledgerfs.toml` as written: no environment overrides, not validated.
    pub fn read_file(dir: &Path) -> Result<Config> {
        let path = Config::path(dir);
        let text = crate::storage::fsutil::read_store_file(dir, &path)?;
        toml::from_str(&text).map_err(|e| Error::Config(format!("{}: {}", path.display(), e.message())))
    }

    /// Changes the config file under `DIR/config.lock` (so concurrent `token`
    /// commands never lose each other's changes): reads it as written, applies `change`,
    /// validates and saves it atomically. A running daemon picks up token changes
    /// within [`crate::access::auth::RELOAD_INTERVAL`].
    pub fn edit<T>(dir: &Path, change: impl FnOnce(&mut Config) -> Result<T>) -> Result<T> {
        let _lock = lock_config(dir)?;
        let mut config = Config::read_file(dir)?;
        let out = change(&mut config)?;
        config.validate()?;
        config.save(dir)?;
        Ok(out)
    }

    /// Adds a token (`ledgerfs token add`): refuses a name already used, a uid another
    /// token already maps, and (on validation) a customer without accounts.
    pub fn add_token(&mut self, token: TokenConfig) -> Result<()> {
        if token.name.trim().is_empty() || token.name.chars().any(char::is_control) {
            return Err(Error::Config(format!(
                "token name {:?} is empty or unprintable",
                token.name
            )));
        }
        if self.tokens.iter().any(|t| t.name == token.name) {
            return Err(Error::Config(format!(
                "a token named {:?} exists (revoke it first)",
                token.name
            )));
        }
        if let Some(t) = self
            .tokens
            .iter()
            .find(|t| t.uids.iter().any(|u| token.uids.contains(u)))
        {
            return Err(Error::Config(format!(
                "token {:?} already maps one of the uids {:?}",
                t.name, token.uids
            )));
        }
        if token.role != Role::Customer && !token.accounts.is_empty() {
            return Err(Error::Config(format!(
                "--account is for customer tokens; a {} reads every account",
                token.role.as_str()
            )));
        }
        self.tokens.push(token);
        Ok(())
    }

    /// Removes the token `name` (`ledgerfs token revoke`); refuses to remove the last
    /// admin token, without which nobody could open accounts over HTTP.
    pub fn revoke_token(&mut self, name: &str) -> Result<TokenConfig> {
        let at = self
            .tokens
            .iter()
            .position(|t| t.name == name)
            .ok_or_else(|| Error::Config(format!("no token named {name:?}")))?;
        let admins = self.tokens.iter().filter(|t| t.role == Role::Admin).count();
        if self.tokens[at].role == Role::Admin && admins == 1 {
            return Err(Error::Config(format!("{name:?} is the last admin token")));
        }
        Ok(self.tokens.remove(at))
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

    /// Writes the config file atomically (used by `init` and, through [`Config::edit`],
    /// the `token` commands).
    pub fn save(&self, dir: &Path) -> Result<()> {
        let text = format!(
            "# LedgerFS configuration. Tokens are stored as SHA-256 digests; see README.md.\n{}",
            toml::to_string_pretty(self).map_err(|e| Error::Config(e.to_string()))?
        );
        crate::storage::fsutil::write_atomic(&crate::storage::fs::Posix, &Config::path(dir), text.as_bytes(), 0o644)
    }
}

/// Name of the lock file the `token` commands hold while they change the config.
pub const CONFIG_LOCK_FILE: &str = "config.lock";

/// Takes `DIR/config.lock` exclusively (waiting at most 10 s for another writer).
fn lock_config(dir: &Path) -> Result<fs::File> {
    use std::os::fd::AsRawFd;
    if !Config::path(dir).exists() {
        return Err(Error::NotInitialised(dir.display().to_string()));
    }
    let path = dir.join(CONFIG_LOCK_FILE);
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| Error::io(&path, e))?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        // SAFETY: flock on a descriptor we own; no memory is shared with the kernel.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
            return Ok(file);
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::WouldBlock || std::time::Instant::now() > deadline {
            return Err(Error::io(&path, e));
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(name: &str, role: Role, accounts: &[&str], uids: &[u32]) -> TokenConfig {
        TokenConfig {
            name: name.into(),
            sha256: "ab".repeat(32),
            role,
            accounts: accounts.iter().map(|a| a.to_string()).collect(),
            uids: uids.to_vec(),
        }
    }

    #[test]
    fn tokens_are_added_and_revoked_with_checks() {
        let mut c = Config::new("t/x".into());
        c.add_token(token("admin", Role::Admin, &[], &[])).unwrap();
        c.add_token(token("alice", Role::Customer, &["alice"], &[1000]))
            .unwrap();
        assert!(c.add_token(token("alice", Role::Auditor, &[], &[])).is_err());
        assert!(c.add_token(token("bob", Role::Customer, &["bob"], &[1000])).is_err());
        assert!(c.add_token(token("ops", Role::Operator, &["x"], &[])).is_err());
        assert!(c.add_token(token(" ", Role::Auditor, &[], &[])).is_err());
        c.add_token(token("bob", Role::Customer, &[], &[])).unwrap();
        assert!(c.validate().is_err(), "a customer without accounts");
        c.revoke_token("bob").unwrap();
        assert!(c.revoke_token("bob").is_err());
        assert!(c.revoke_token("admin").is_err(), "the last admin");
        assert_eq!(c.revoke_token("alice").unwrap().uids, [1000]);
    }

    #[test]
    fn edit_keeps_the_file_as_written() {
        let dir = std::env::temp_dir().join(format!("ledgerfs-config-edit-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        assert!(matches!(Config::edit(&dir, |_| Ok(())), Err(Error::NotInitialised(_))));
        let mut c = Config::new("t/x".into());
        c.add_token(token("admin", Role::Admin, &[], &[])).unwrap();
        c.save(&dir).unwrap();
        Config::edit(&dir, |c| {
            c.add_token(token("carol", Role::Customer, &["c1", "c2"], &[7]))
        })
        .unwrap();
        let err = Config::edit(&dir, |c| c.add_token(token("dave", Role::Customer, &[], &[])));
        assert!(err.is_err());
        let back = Config::read_file(&dir).unwrap();
        assert_eq!(back.tokens.len(), 2);
        assert_eq!(back.tokens[1].accounts, ["c1", "c2"]);
        assert_eq!(back.listen, DEFAULT_LISTEN);
        let _ = fs::remove_dir_all(&dir);
    }
}
