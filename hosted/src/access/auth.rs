//! Bearer tokens to roles. Tokens are compared by SHA-256 digest, so the config holds no
//! secret. Missing or unknown token: 401. Known token, action not allowed: 403.
//!
//! The daemon picks up token changes (`ledgerfs token add|revoke`, or an edit of
//! `ledgerfs.toml`) without a restart: when a request needs the tokens and at least
//! [`RELOAD_INTERVAL`] has passed since the last look, it stats the config file and
//! re-reads it if its identity (device, inode, size, mtime, ctime) changed. Writers
//! replace the file atomically (temporary file, fsync, rename), so a reader sees the old
//! file or the new one, never a torn one. Timestamps are coarse on some file systems, so
//! a file modified less than [`SETTLE`] before it was read is read again at the next
//! look even if its stamp looks the same: two changes within one timestamp tick are
//! never missed. A file that does not parse or validate (a half-saved hand edit) leaves
//! the previous tokens in force and is logged once; it is retried at every look.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant, SystemTime};

use crate::config::{Config, Role};
use crate::storage::ledger::token_digest;

/// The longest a token change takes to reach a busy daemon.
pub const RELOAD_INTERVAL: Duration = Duration::from_secs(1);
/// A config file younger than this when read is read again at the next look.
const SETTLE: Duration = Duration::from_secs(2);

/// Who is calling.
#[derive(Clone, Debug)]
pub struct Caller {
    /// Token name from the config.
    pub name: String,
    /// Role of the token.
    pub role: Role,
    /// Accounts a customer owns.
    pub accounts: Vec<String>,
}

impl Caller {
    /// May read every account, transfer, proof and the log.
    pub fn reads_everything(&self) -> bool {
        self.role != Role::Customer
    }

    /// May read this account.
    pub fn may_read_account(&self, id: &str) -> bool {
        self.reads_everything() || self.accounts.iter().any(|a| a == id)
    }

    /// May read this log entry: an account entry with the account, a transfer with
    /// either of its accounts, a balance commitment always (it is what every balance
    /// proof is checked against, and names no account). The one visibility rule of the
    /// API and the FUSE view.
    pub fn may_read_entry(&self, body: &ledgerfs_model::entry::EntryBody) -> bool {
        use ledgerfs_model::entry::EntryBody;
        match body {
            EntryBody::Transfer(t) => self.may_read_account(&t.debit) || self.may_read_account(&t.credit),
            EntryBody::Account(a) => self.may_read_account(&a.id),
            EntryBody::Commitment(_) => true,
        }
    }

    /// May open accounts.
    pub fn may_open_accounts(&self) -> bool {
        matches!(self.role, Role::Admin | Role::Operator)
    }

    /// May record imported events (history migrated with its original times): the
    /// ledger's own staff only, never a customer.
    pub fn may_import(&self) -> bool {
        matches!(self.role, Role::Admin | Role::Operator)
    }

    /// May post a transfer debiting `debit`.
    pub fn may_debit(&self, debit: &str) -> bool {
        matches!(self.role, Role::Admin | Role::Operator)
            || (self.role == Role::Customer && self.may_read_account(debit))
    }
}

/// One config's tokens: digests and uids to callers.
#[derive(Debug, Default)]
struct Table {
    by_digest: HashMap<String, Caller>,
    by_uid: HashMap<u32, Caller>,
}

impl Table {
    fn from_config(config: &Config) -> Table {
        let mut table = Table::default();
        for t in &config.tokens {
            let caller = Caller {
                name: t.name.clone(),
                role: t.role,
                accounts: t.accounts.clone(),
            };
            for &uid in &t.uids {
                table.by_uid.insert(uid, caller.clone());
            }
            table.by_digest.insert(t.sha256.to_ascii_lowercase(), caller);
        }
        table
    }
}

/// What identifies one version of the config file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Stamp {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl Stamp {
    fn of(meta: &std::fs::Metadata) -> Stamp {
        use std::os::unix::fs::MetadataExt;
        Stamp {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
        }
    }
}

/// Where the tokens come from and when they were last looked at.
#[derive(Debug)]
struct Watch {
    dir: PathBuf,
    interval: Duration,
    next_look: Instant,
    /// The stamp of the file the tokens were last read from (None: not read yet).
    read: Option<Stamp>,
    /// Whether that file was old enough when read that an unchanged stamp means
    /// unchanged content.
    settled: bool,
    /// The stamp of a file that failed to load (logged once).
    failed: Option<Option<Stamp>>,
}

/// Token digests to callers, reloaded from `DIR/ledgerfs.toml` when it changes.
#[derive(Debug)]
pub struct Tokens {
    table: RwLock<Arc<Table>>,
    watch: Option<Mutex<Watch>>,
}

impl Tokens {
    /// From a config, fixed for the life of the value.
    pub fn from_config(config: &Config) -> Tokens {
        Tokens {
            table: RwLock::new(Arc::new(Table::from_config(config))),
            watch: None,
        }
    }

    /// From `config` (just loaded from `dir`), then from `dir`'s config file whenever
    /// it changes (looked at on use, at most once per [`RELOAD_INTERVAL`]; the first
    /// look re-reads it, in case it changed while the store was being opened).
    pub fn watching(dir: PathBuf, config: &Config) -> Tokens {
        Tokens::watching_every(dir, config, RELOAD_INTERVAL)
    }

    fn watching_every(dir: PathBuf, config: &Config, interval: Duration) -> Tokens {
        Tokens {
            table: RwLock::new(Arc::new(Table::from_config(config))),
            watch: Some(Mutex::new(Watch {
                dir,
                interval,
                next_look: Instant::now(),
                read: None,
                settled: false,
                failed: None,
            })),
        }
    }

    /// The current table, after a look at the config file if one is due.
    fn table(&self) -> Arc<Table> {
        if let Some(watch) = &self.watch {
            // A request arriving while another looks uses the tokens in force.
            if let Ok(mut watch) = watch.try_lock() {
                let now = Instant::now();
                if now >= watch.next_look {
                    watch.next_look = now + watch.interval;
                    self.look(&mut watch);
                }
            }
        }
        self.table.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Re-reads the config file if it changed (or may have: see the module docs).
    fn look(&self, watch: &mut Watch) {
        let path = Config::path(&watch.dir);
        // Stat before reading: a change in between is caught by the next look.
        let meta = std::fs::metadata(&path).ok();
        let stamp = meta.as_ref().map(Stamp::of);
        if watch.settled && stamp.is_some() && stamp == watch.read {
            return;
        }
        let read_at = SystemTime::now();
        match Config::read_file(&watch.dir).and_then(|c| c.validate().map(|()| c)) {
            Ok(config) => {
                let table = Table::from_config(&config);
                let changed = watch.read.is_some() && watch.read != stamp;
                *self.table.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(table);
                let settled = meta
                    .and_then(|m| m.modified().ok())
                    .and_then(|m| read_at.duration_since(m).ok())
                    .is_some_and(|age| age >= SETTLE);
                watch.read = stamp;
                watch.settled = settled;
                watch.failed = None;
                if changed {
                    eprintln!(
                        "ledgerfs: tokens reloaded from {} ({} tokens)",
                        path.display(),
                        config.tokens.len()
                    );
                }
            }
            Err(e) => {
                if watch.failed != Some(stamp) {
                    eprintln!("ledgerfs: keeping the previous tokens: {e}");
                }
                watch.failed = Some(stamp);
                watch.settled = false;
            }
        }
    }

    /// The caller a local user acts as in the FUSE mount: the token listing the uid, or
    /// for the user running the daemon, an implicit admin named `owner`.
    pub fn for_uid(&self, uid: u32, owner_uid: u32) -> Option<Caller> {
        if let Some(caller) = self.table().by_uid.get(&uid) {
            return Some(caller.clone());
        }
        (uid == owner_uid).then(|| Caller {
            name: "owner".into(),
            role: Role::Admin,
            accounts: Vec::new(),
        })
    }

    /// The caller an `Authorization` header value names.
    pub fn authenticate(&self, header: Option<&str>) -> Option<Caller> {
        let token = header?.strip_prefix("Bearer ")?.trim();
        self.table().by_digest.get(&token_digest(token)).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TokenConfig;

    fn customer(name: &str, token: &str, account: &str) -> TokenConfig {
        TokenConfig {
            name: name.into(),
            sha256: token_digest(token),
            role: Role::Customer,
            accounts: vec![account.into()],
            uids: vec![4242],
        }
    }

    #[test]
    fn token_changes_reach_a_watching_table() {
        let dir = std::env::temp_dir().join(format!("ledgerfs-auth-reload-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut config = Config::new("t/x".into());
        config.tokens.push(TokenConfig {
            name: "admin".into(),
            sha256: token_digest("root"),
            role: Role::Admin,
            accounts: Vec::new(),
            uids: Vec::new(),
        });
        config.save(&dir).unwrap();
        let tokens = Tokens::watching_every(dir.clone(), &config, Duration::ZERO);
        let who = |t: &str| tokens.authenticate(Some(&format!("Bearer {t}"))).map(|c| c.name);
        assert_eq!(who("root").as_deref(), Some("admin"));
        assert_eq!(who("alice-secret"), None);
        // Two changes in quick succession (possibly within one mtime tick) are both seen.
        Config::edit(&dir, |c| c.add_token(customer("alice", "alice-secret", "alice"))).unwrap();
        assert_eq!(who("alice-secret").as_deref(), Some("alice"));
        assert_eq!(
            tokens.for_uid(4242, 0).map(|c| c.accounts),
            Some(vec!["alice".to_string()])
        );
        Config::edit(&dir, |c| c.revoke_token("alice").map(drop)).unwrap();
        assert_eq!(who("alice-secret"), None);
        assert!(tokens.for_uid(4242, 0).is_none());
        // A broken file leaves the tokens in force.
        std::fs::write(Config::path(&dir), "tokens = [").unwrap();
        assert_eq!(who("root").as_deref(), Some("admin"));
        // A fixed table never changes; a watching one looks at most once per interval.
        let fixed = Tokens::from_config(&config);
        let slow = Tokens::watching_every(dir.clone(), &config, Duration::from_secs(3600));
        config.save(&dir).unwrap();
        assert!(slow.authenticate(Some("Bearer root")).is_some());
        Config::edit(&dir, |c| c.add_token(customer("bob", "bob-secret", "bob"))).unwrap();
        assert!(slow.authenticate(Some("Bearer bob-secret")).is_none());
        assert!(fixed.authenticate(Some("Bearer bob-secret")).is_none());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
