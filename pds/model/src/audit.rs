//! The canonical entry of the audit sub-ledger: one compact JSON object per read of
//! ledger data (who, through what, which resource, how many bytes, when), in a fixed key
//! order like ledger entries, so the audit trail is as verifiable and as readable.
//!
//! ```text
//! {"v":1,"index":0,"time":"2026-11-21T10:00:00.000000000Z","who":"alice-app","role":"customer","via":"api","uid":null,"what":"/v1/accounts/alice","bytes":312,"status":200}
//! ```

use alloc::string::String;
use core::fmt::Write;

use crate::json::write_string;
use crate::limits::ENTRY_VERSION;
use crate::time::{write_timestamp, UnixNanos};

/// Longest resource name recorded (longer ones are cut at a character boundary).
pub const MAX_AUDIT_WHAT_LEN: usize = 1_024;

/// One recorded read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEntry<S = String> {
    /// Position in the audit log.
    pub index: u64,
    /// When the read was recorded.
    pub time: UnixNanos,
    /// Token or user name of the reader.
    pub who: S,
    /// Role the reader acted in.
    pub role: S,
    /// `api` or `fuse`.
    pub via: S,
    /// The reader's uid, for FUSE reads.
    pub uid: Option<u32>,
    /// The resource read (URL path and query, or file path in the mount).
    pub what: S,
    /// Bytes served.
    pub bytes: u64,
    /// HTTP status, or 0 for file reads.
    pub status: u16,
}

impl<S: AsRef<str>> AuditEntry<S> {
    /// Appends the canonical encoding to `out`.
    pub fn write(&self, out: &mut String) {
        write!(out, "{{\"v\":{ENTRY_VERSION},\"index\":{},\"time\":\"", self.index).expect("String write");
        write_timestamp(self.time, out);
        out.push_str("\",\"who\":");
        write_string(out, self.who.as_ref());
        out.push_str(",\"role\":");
        write_string(out, self.role.as_ref());
        out.push_str(",\"via\":");
        write_string(out, self.via.as_ref());
        match self.uid {
            Some(uid) => write!(out, ",\"uid\":{uid}").expect("String write"),
            None => out.push_str(",\"uid\":null"),
        }
        out.push_str(",\"what\":");
        let what = self.what.as_ref();
        let mut cut = what.len().min(MAX_AUDIT_WHAT_LEN);
        while !what.is_char_boundary(cut) {
            cut -= 1;
        }
        write_string(out, &what[..cut]);
        write!(out, ",\"bytes\":{},\"status\":{}}}", self.bytes, self.status).expect("String write");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn golden() {
        let entry = AuditEntry {
            index: 3,
            time: 0,
            who: "alice-app",
            role: "customer",
            via: "fuse",
            uid: Some(1000),
            what: "/accounts/alice/balance.json",
            bytes: 42,
            status: 0,
        };
        let mut out = String::new();
        entry.write(&mut out);
        assert_eq!(
            out,
            r#"{"v":1,"index":3,"time":"1970-01-01T00:00:00.000000000Z","who":"alice-app","role":"customer","via":"fuse","uid":1000,"what":"/accounts/alice/balance.json","bytes":42,"status":0}"#
        );
        let value: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(value["bytes"], 42);
    }
}
