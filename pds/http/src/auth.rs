//! Bearer tokens, as the hosted daemon's configuration holds them: only the SHA-256 digest
//! of each token is provisioned (an image holds no token itself), each with a role.
//! `401 unauthenticated` without a known token; `403 forbidden` when its role may not.

use alloc::string::String;
use alloc::vec::Vec;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::response::Response;

/// What a token may do: one set of roles for the hosted daemon's configuration and the
/// appliance's token table (which takes every role but `customer`, whose account list
/// only the hosted configuration can give).
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
    /// Reads its own accounts and posts transfers debiting them (hosted only).
    Customer,
}

impl Role {
    /// The stable name used in configuration, token tables and errors.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Operator => "operator",
            Role::Auditor => "auditor",
            Role::Regulator => "regulator",
            Role::Customer => "customer",
        }
    }

    /// Opens accounts and posts transfers.
    pub fn may_write(self) -> bool {
        matches!(self, Role::Admin | Role::Operator)
    }

    fn parse(name: &str) -> Option<Role> {
        [Role::Admin, Role::Operator, Role::Auditor, Role::Regulator]
            .into_iter()
            .find(|r| r.as_str() == name)
    }
}

/// The token table: digests and roles.
#[derive(Clone, Debug, Default)]
pub struct Tokens {
    entries: Vec<([u8; 32], Role)>,
}

/// The lowercase hex SHA-256 of a token, as token tables hold it.
pub fn token_digest_hex(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    let mut out = String::with_capacity(64);
    for b in digest {
        out.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
        out.push(char::from(b"0123456789abcdef"[usize::from(b & 15)]));
    }
    out
}

impl Tokens {
    /// Parses a token table: one `SHA256HEX ROLE` per line; `#` starts a comment. A line
    /// that is not one is an error naming it (an image is not built with a bad table).
    pub fn parse(text: &str) -> Result<Tokens, String> {
        let mut entries = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let mut words = line.split_ascii_whitespace();
            let (Some(hex), Some(role), None) = (words.next(), words.next(), words.next()) else {
                return Err(alloc::format!("line {}: expected `SHA256HEX ROLE`", n + 1));
            };
            let digest = decode_hex(hex).ok_or_else(|| alloc::format!("line {}: not 64 hex digits", n + 1))?;
            let role = Role::parse(role)
                .ok_or_else(|| alloc::format!("line {}: role is admin, operator, auditor or regulator", n + 1))?;
            entries.push((digest, role));
        }
        Ok(Tokens { entries })
    }

    /// The role of the bearer token in an `Authorization` header value.
    pub fn authenticate(&self, header: Option<&str>) -> Result<Role, Response> {
        let token = header.and_then(|h| h.strip_prefix("Bearer ")).map(str::trim);
        let digest: Option<[u8; 32]> = token.map(|t| Sha256::digest(t.as_bytes()).into());
        digest
            .and_then(|d| self.entries.iter().find(|(e, _)| *e == d).map(|(_, role)| *role))
            .ok_or_else(|| {
                Response::error(
                    401,
                    "unauthenticated",
                    "send `Authorization: Bearer <token>` with a provisioned token",
                )
            })
    }

    /// Tokens in the table.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// No tokens: every request but `/health` is `401`.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Thirty-two bytes from 64 hex digits: the model's one decoder, re-exported where
/// token digests are read.
pub use ledgerfs_model::json::decode_hex;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_only_and_roles() {
        let table = alloc::format!(
            "# appliance tokens\n{} admin\n{} auditor\n",
            token_digest_hex("root-token"),
            token_digest_hex("read-token")
        );
        let tokens = Tokens::parse(&table).unwrap();
        assert_eq!(tokens.len(), 2);
        assert_eq!(tokens.authenticate(Some("Bearer root-token")), Ok(Role::Admin));
        assert_eq!(tokens.authenticate(Some("Bearer read-token")), Ok(Role::Auditor));
        assert!(!Role::Auditor.may_write() && Role::Admin.may_write());
        for bad in [None, Some("Bearer nope"), Some("root-token"), Some("Basic cm9vdA==")] {
            assert_eq!(tokens.authenticate(bad).unwrap_err().status, 401, "{bad:?}");
        }
        assert!(Tokens::parse("abc admin").is_err());
        assert!(Tokens::parse(&alloc::format!("{} king", token_digest_hex("x"))).is_err());
    }
}
