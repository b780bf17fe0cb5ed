//! Bearer tokens to roles. Tokens are compared by SHA-256 digest, so the config holds no
//! secret. Missing or unknown token: 401. Known token, action not allowed: 403.

use std::collections::HashMap;

use crate::config::{Config, Role};
use crate::ledger::token_digest;

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

    /// May open accounts.
    pub fn may_open_accounts(&self) -> bool {
        matches!(self.role, Role::Admin | Role::Operator)
    }

    /// May post a transfer debiting `debit`.
    pub fn may_debit(&self, debit: &str) -> bool {
        matches!(self.role, Role::Admin | Role::Operator)
            || (self.role == Role::Customer && self.may_read_account(debit))
    }
}

/// Token digests to callers.
#[derive(Clone, Debug, Default)]
pub struct Tokens {
    by_digest: HashMap<String, Caller>,
    by_uid: HashMap<u32, Caller>,
}

impl Tokens {
    /// From the config.
    pub fn from_config(config: &Config) -> Tokens {
        let mut tokens = Tokens::default();
        for t in &config.tokens {
            let caller = Caller {
                name: t.name.clone(),
                role: t.role,
                accounts: t.accounts.clone(),
            };
            for &uid in &t.uids {
                tokens.by_uid.insert(uid, caller.clone());
            }
            tokens.by_digest.insert(t.sha256.to_ascii_lowercase(), caller);
        }
        tokens
    }

    /// The caller a local user acts as in the FUSE mount: the token listing the uid, or
    /// for the user running the daemon, an implicit admin named `owner`.
    pub fn for_uid(&self, uid: u32, owner_uid: u32) -> Option<Caller> {
        if let Some(caller) = self.by_uid.get(&uid) {
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
        self.by_digest.get(&token_digest(token)).cloned()
    }
}
