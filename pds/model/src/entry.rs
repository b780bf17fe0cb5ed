//! The canonical log entry: one compact JSON object per accepted event, with a fixed
//! key order, amounts as decimal strings and RFC 3339 times, so that `cat` can read the
//! ledger in a hundred years. The bytes written here are what the Merkle tree commits
//! to; decoding insists the bytes are exactly canonical, so one event has one encoding.
//!
//! ```text
//! {"v":1,"index":0,"time":"2026-11-21T10:00:00.000000000Z","type":"account","id":"acc_1","currency":"EUR","kind":"customer","flags":["debits_must_not_exceed_credits"],"metadata":{}}
//! {"v":1,"index":1,"time":"2026-11-21T10:00:00.000000001Z","type":"transfer","id":"tx_1","debit":"acc_0","credit":"acc_1","amount":"10.50","currency":"EUR","reference":"","metadata":{},"linked":false}
//! {"v":2,"index":2,"time":"2026-11-21T10:00:00.000000002Z","type":"transfer","id":"auth_1","debit":"acc_1","credit":"acc_0","amount":"5.00","currency":"EUR","reference":"","metadata":{},"linked":false,"flags":["pending"]}
//! {"v":2,"index":3,"time":"2026-11-21T10:00:00.000000003Z","type":"transfer","id":"cap_1","debit":"acc_1","credit":"acc_0","amount":"4.00","currency":"EUR","reference":"","metadata":{},"linked":false,"flags":["post_pending"],"pending_id":"auth_1"}
//! {"v":3,"index":4,"time":"2026-11-21T10:00:00.000000004Z","type":"balance_commitment","accounts":2,"root":"5d0f…(64 hex digits)"}
//! ```
//!
//! A balance commitment (version 3) is the sequencer's own entry: the root of the tree
//! over every account's balance record as of the entries before it (see the sequencer's
//! `commitment` module), so a balance can be proved from a signed checkpoint.
//!
//! Two-phase transfers (version 2) add `flags` and, for a post or void, `pending_id`; a
//! post's `amount` is what it posted, a void's what it released, and both name the
//! pending transfer's accounts and currency. A pending transfer may carry a `timeout` (in
//! seconds, after its flags); when it passes, the sequencer writes an expiry: a version-2
//! transfer entry with `"flags":["expire_pending"]` whose `id` and `pending_id` are the
//! pending transfer's and whose `amount` is what it released. Balancing flags
//! (`balancing_debit`, `balancing_credit`, after the phase flag) make a version-2 entry
//! too; its `amount` is what moved after clamping.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::{self, Write};
use serde::Deserialize;

use crate::amount::Amount;
use crate::currency::Currency;
use crate::event::{parse_transfer_flags, AccountFlags, AccountKind, Balancing, Closing, Phase, FIRM_FUNDS};
use crate::json::{decode_hex, write_hex, write_string, write_u128};
use crate::limits::{ENTRY_VERSION, ENTRY_VERSION_COMMITMENT, ENTRY_VERSION_TWO_PHASE, MAX_ENTRY_LEN};
use crate::time::{parse_timestamp, write_timestamp, UnixNanos};

/// One log entry: its position, its sequencing time and what happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry<S = String> {
    /// Position in the log (0-based), equal to the Merkle leaf index.
    pub index: u64,
    /// Sequencing time; never decreases along the log.
    pub time: UnixNanos,
    /// The accepted event.
    pub body: EntryBody<S>,
}

/// The accepted event an entry records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EntryBody<S = String> {
    /// An account was opened.
    Account(AccountRecord<S>),
    /// A transfer was posted.
    Transfer(TransferRecord<S>),
    /// The sequencer committed to every account's balance (a balance commitment).
    Commitment(CommitmentRecord),
}

/// A balance commitment: the root of the Merkle tree over every account's canonical
/// balance record, sorted by id, as of the log size equal to the entry's own index
/// (the entries before it). The sequencer writes it; replay re-derives and compares it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CommitmentRecord {
    /// Number of balance records (accounts) in the tree.
    pub accounts: u64,
    /// The tree's RFC 6962 root.
    pub root: [u8; 32],
}

/// An opened account, validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountRecord<S = String> {
    /// Unique identifier.
    pub id: S,
    /// Currency (ledger) of the account.
    pub currency: Currency,
    /// What the account is for.
    pub kind: AccountKind,
    /// Balance limits.
    pub flags: AccountFlags,
    /// Canonical metadata JSON object text.
    pub metadata: S,
}

/// A posted transfer, validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransferRecord<S = String> {
    /// Unique identifier.
    pub id: S,
    /// Account debited.
    pub debit: S,
    /// Account credited.
    pub credit: S,
    /// Amount in minor units of `currency`.
    pub amount: Amount,
    /// Currency of the transfer and both accounts.
    pub currency: Currency,
    /// Free-text reference.
    pub reference: S,
    /// Canonical metadata JSON object text.
    pub metadata: S,
    /// Whether it was linked to the next event of its batch.
    pub linked: bool,
    /// Posted at once, pending, or resolving a pending transfer.
    pub phase: Phase<S>,
    /// A pending transfer's timeout in seconds (0: none): it expires at `time` plus this.
    pub timeout: u64,
    /// Balancing flags: `amount` is what moved after clamping.
    pub balancing: Balancing,
    /// Closing flags (a pending transfer that closes its accounts).
    pub closing: Closing,
    /// Migrated from another system: `time` is its original time.
    pub imported: bool,
    /// Declared a movement between client money and the firm's own (`firm_funds`).
    pub firm_funds: bool,
}

/// Why bytes are not a valid canonical entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryError {
    /// Not UTF-8 JSON of the entry shape.
    Malformed,
    /// A version this code does not read.
    UnsupportedVersion,
    /// A field holds a value no valid entry can hold.
    InvalidField(&'static str),
    /// Valid content, but not byte-identical to its canonical encoding.
    NotCanonical,
    /// Longer than an entry bundle can hold.
    TooLong,
}

impl EntryError {
    /// Stable code for messages and logs.
    pub fn code(&self) -> &'static str {
        match self {
            EntryError::Malformed => "entry_malformed",
            EntryError::UnsupportedVersion => "entry_version_unsupported",
            EntryError::InvalidField(_) => "entry_field_invalid",
            EntryError::NotCanonical => "entry_not_canonical",
            EntryError::TooLong => "entry_too_long",
        }
    }
}

impl fmt::Display for EntryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EntryError::InvalidField(field) => write!(f, "{}: field {field}", self.code()),
            _ => f.write_str(self.code()),
        }
    }
}

impl<S: AsRef<str>> Entry<S> {
    /// Appends the canonical encoding to `out` (no trailing newline).
    pub fn write(&self, out: &mut String) {
        let version = match &self.body {
            EntryBody::Transfer(t)
                if t.phase.flag().is_some() || t.balancing.any() || t.closing.any() || t.imported || t.firm_funds =>
            {
                ENTRY_VERSION_TWO_PHASE
            }
            EntryBody::Commitment(_) => ENTRY_VERSION_COMMITMENT,
            _ => ENTRY_VERSION,
        };
        out.push_str("{\"v\":");
        write_u128(out, u128::from(version));
        out.push_str(",\"index\":");
        write_u128(out, u128::from(self.index));
        out.push_str(",\"time\":\"");
        write_timestamp(self.time, out);
        out.push('"');
        match &self.body {
            EntryBody::Commitment(c) => {
                out.push_str(",\"type\":\"balance_commitment\",\"accounts\":");
                write_u128(out, u128::from(c.accounts));
                out.push_str(",\"root\":\"");
                write_hex(out, &c.root);
                out.push('"');
            }
            EntryBody::Account(a) => {
                out.push_str(",\"type\":\"account\",\"id\":");
                write_string(out, a.id.as_ref());
                write!(
                    out,
                    ",\"currency\":\"{}\",\"kind\":\"{}\",\"flags\":[",
                    a.currency,
                    a.kind.as_str()
                )
                .expect("writing to a String cannot fail");
                for (i, name) in a.flags.names().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_string(out, name);
                }
                out.push_str("],\"metadata\":");
                out.push_str(a.metadata.as_ref());
            }
            EntryBody::Transfer(t) => {
                out.push_str(",\"type\":\"transfer\",\"id\":");
                write_string(out, t.id.as_ref());
                out.push_str(",\"debit\":");
                write_string(out, t.debit.as_ref());
                out.push_str(",\"credit\":");
                write_string(out, t.credit.as_ref());
                out.push_str(",\"amount\":\"");
                t.amount.write(t.currency, out);
                out.push_str("\",\"currency\":\"");
                out.push_str(t.currency.code());
                out.push_str("\",\"reference\":");
                write_string(out, t.reference.as_ref());
                out.push_str(",\"metadata\":");
                out.push_str(t.metadata.as_ref());
                out.push_str(if t.linked {
                    ",\"linked\":true"
                } else {
                    ",\"linked\":false"
                });
                let imported = t.imported.then_some(AccountFlags::IMPORTED);
                let mut flags = t
                    .phase
                    .flag()
                    .into_iter()
                    .chain(t.balancing.names())
                    .chain(t.closing.names())
                    .chain(imported)
                    .chain(t.firm_funds.then_some(FIRM_FUNDS))
                    .peekable();
                if flags.peek().is_some() {
                    out.push_str(",\"flags\":[");
                    for (i, flag) in flags.enumerate() {
                        if i > 0 {
                            out.push(',');
                        }
                        out.push('"');
                        out.push_str(flag);
                        out.push('"');
                    }
                    out.push(']');
                }
                if let Some(pending_id) = t.phase.pending_id() {
                    out.push_str(",\"pending_id\":");
                    write_string(out, pending_id);
                }
                if t.timeout > 0 {
                    out.push_str(",\"timeout\":");
                    write_u128(out, u128::from(t.timeout));
                }
            }
        }
        out.push('}');
    }

    /// The canonical encoding as a new string.
    pub fn encode(&self) -> String {
        let mut out = String::with_capacity(256);
        self.write(&mut out);
        out
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    v: u32,
    index: u64,
    time: String,
    #[serde(rename = "type")]
    event_type: String,
    id: Option<String>,
    currency: Option<String>,
    kind: Option<String>,
    flags: Option<Vec<String>>,
    metadata: Option<serde_json::Value>,
    debit: Option<String>,
    credit: Option<String>,
    amount: Option<String>,
    reference: Option<String>,
    linked: Option<bool>,
    pending_id: Option<String>,
    timeout: Option<u64>,
    accounts: Option<u64>,
    root: Option<String>,
}

impl Entry<String> {
    /// Decodes canonical entry bytes; anything but the exact canonical encoding of a
    /// valid entry is refused.
    pub fn decode(bytes: &[u8]) -> Result<Entry<String>, EntryError> {
        if bytes.len() > MAX_ENTRY_LEN {
            return Err(EntryError::TooLong);
        }
        let raw: RawEntry = serde_json::from_slice(bytes).map_err(|_| EntryError::Malformed)?;
        if ![ENTRY_VERSION, ENTRY_VERSION_TWO_PHASE, ENTRY_VERSION_COMMITMENT].contains(&raw.v) {
            return Err(EntryError::UnsupportedVersion);
        }
        let time = parse_timestamp(&raw.time).ok_or(EntryError::InvalidField("time"))?;
        if raw.event_type == "balance_commitment" {
            let accounts = raw.accounts.ok_or(EntryError::InvalidField("accounts"))?;
            let root = raw.root.as_deref().and_then(decode_hex);
            let body = EntryBody::Commitment(CommitmentRecord {
                accounts,
                root: root.ok_or(EntryError::InvalidField("root"))?,
            });
            return Entry::canonical(raw.index, time, body, bytes);
        }
        let id = raw.id.ok_or(EntryError::InvalidField("id"))?;
        let currency = raw.currency.as_deref().and_then(Currency::from_code);
        let currency = currency.ok_or(EntryError::InvalidField("currency"))?;
        let metadata = match raw.metadata {
            Some(value) if value.is_object() => serde_json::to_string(&value).map_err(|_| EntryError::Malformed)?,
            _ => return Err(EntryError::InvalidField("metadata")),
        };
        let body = match raw.event_type.as_str() {
            "account" => {
                let kind = raw.kind.as_deref().and_then(AccountKind::parse);
                let flags = AccountFlags::parse(raw.flags.as_deref().unwrap_or(&[]));
                EntryBody::Account(AccountRecord {
                    id,
                    currency,
                    kind: kind.ok_or(EntryError::InvalidField("kind"))?,
                    flags: flags.map_err(|_| EntryError::InvalidField("flags"))?,
                    metadata,
                })
            }
            "transfer" => {
                let amount_text = raw.amount.ok_or(EntryError::InvalidField("amount"))?;
                let amount = Amount::parse(&amount_text, currency).map_err(|_| EntryError::InvalidField("amount"))?;
                let flags = raw.flags.unwrap_or_default();
                let pending_id = raw.pending_id.unwrap_or_default();
                let parsed =
                    parse_transfer_flags(&flags, &pending_id).map_err(|_| EntryError::InvalidField("flags"))?;
                let (phase, balancing, closing, imported, firm_funds) = (
                    parsed.phase.to_owned(),
                    parsed.balancing,
                    parsed.closing,
                    parsed.imported,
                    parsed.firm_funds,
                );
                let timeout = raw.timeout.unwrap_or(0);
                let expires = matches!(phase, Phase::Expire { .. });
                if (timeout > 0 && phase != Phase::Pending) || (expires && pending_id != id) {
                    return Err(EntryError::InvalidField(if expires { "id" } else { "timeout" }));
                }
                EntryBody::Transfer(TransferRecord {
                    phase,
                    timeout,
                    balancing,
                    closing,
                    imported,
                    firm_funds,
                    id,
                    debit: raw.debit.ok_or(EntryError::InvalidField("debit"))?,
                    credit: raw.credit.ok_or(EntryError::InvalidField("credit"))?,
                    amount,
                    currency,
                    reference: raw.reference.ok_or(EntryError::InvalidField("reference"))?,
                    metadata,
                    linked: raw.linked.ok_or(EntryError::InvalidField("linked"))?,
                })
            }
            _ => return Err(EntryError::InvalidField("type")),
        };
        Entry::canonical(raw.index, time, body, bytes)
    }

    /// The entry, if `bytes` are exactly its canonical encoding.
    fn canonical(index: u64, time: UnixNanos, body: EntryBody, bytes: &[u8]) -> Result<Entry<String>, EntryError> {
        let entry = Entry { index, time, body };
        if entry.encode().as_bytes() != bytes {
            return Err(EntryError::NotCanonical);
        }
        Ok(entry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::borrow::ToOwned;

    fn eur() -> Currency {
        Currency::from_code("EUR").unwrap()
    }

    fn transfer() -> Entry {
        Entry {
            index: 1,
            time: 1_795_000_000_000_000_001,
            body: EntryBody::Transfer(TransferRecord {
                id: "tx_1".to_owned(),
                debit: "acc_0".to_owned(),
                credit: "acc_1".to_owned(),
                amount: Amount(1050),
                currency: eur(),
                reference: "inv \"7\"".to_owned(),
                metadata: r#"{"doc":{"sha256":"ab"}}"#.to_owned(),
                linked: false,
                phase: Phase::Single,
                timeout: 0,
                balancing: Balancing::default(),
                imported: false,
                firm_funds: false,
                closing: Closing::default(),
            }),
        }
    }

    #[test]
    fn golden_transfer() {
        assert_eq!(
            transfer().encode(),
            r#"{"v":1,"index":1,"time":"2026-11-18T11:06:40.000000001Z","type":"transfer","id":"tx_1","debit":"acc_0","credit":"acc_1","amount":"10.50","currency":"EUR","reference":"inv \"7\"","metadata":{"doc":{"sha256":"ab"}},"linked":false}"#
        );
        assert_eq!(Entry::decode(transfer().encode().as_bytes()), Ok(transfer()));
    }

    #[test]
    fn golden_balance_commitment_is_version_3() {
        let mut root = [0u8; 32];
        root[0] = 0xab;
        root[31] = 0x01;
        let entry = Entry {
            index: 4,
            time: 1_795_000_000_000_000_004,
            body: EntryBody::Commitment(CommitmentRecord { accounts: 2, root }),
        };
        let text = entry.encode();
        assert_eq!(
            text,
            r#"{"v":3,"index":4,"time":"2026-11-18T11:06:40.000000004Z","type":"balance_commitment","accounts":2,"root":"ab00000000000000000000000000000000000000000000000000000000000001"}"#
        );
        assert_eq!(Entry::decode(text.as_bytes()), Ok(entry));
        for (bad, why) in [
            (text.replace("\"v\":3", "\"v\":1"), EntryError::NotCanonical),
            (text.replace("ab00", "AB00"), EntryError::NotCanonical),
            (text.replace("ab00", "ab0"), EntryError::InvalidField("root")),
            (text.replace("ab00", "zz00"), EntryError::InvalidField("root")),
            (
                text.replace(",\"accounts\":2", ""),
                EntryError::InvalidField("accounts"),
            ),
            (text.replace("}", ",\"id\":\"x\"}"), EntryError::NotCanonical),
        ] {
            assert_eq!(Entry::decode(bad.as_bytes()), Err(why), "{bad}");
        }
        // A transfer without an id or currency is refused by field, not accepted.
        let no_id = transfer().encode().replace("\"id\":\"tx_1\",", "");
        assert_eq!(Entry::decode(no_id.as_bytes()), Err(EntryError::InvalidField("id")));
    }

    #[test]
    fn golden_two_phase_transfers_are_version_2() {
        let mut pending = transfer();
        let EntryBody::Transfer(t) = &mut pending.body else {
            unreachable!()
        };
        t.phase = Phase::Pending;
        let text = pending.encode();
        assert!(
            text.starts_with("{\"v\":2,") && text.ends_with(",\"linked\":false,\"flags\":[\"pending\"]}"),
            "{text}"
        );
        assert_eq!(Entry::decode(text.as_bytes()), Ok(pending.clone()));
        let mut post = pending.clone();
        let EntryBody::Transfer(t) = &mut post.body else {
            unreachable!()
        };
        t.phase = Phase::Post {
            pending_id: "auth_1".to_owned(),
        };
        let text = post.encode();
        assert!(
            text.ends_with(",\"flags\":[\"post_pending\"],\"pending_id\":\"auth_1\"}"),
            "{text}"
        );
        assert_eq!(Entry::decode(text.as_bytes()), Ok(post));
        // The version follows the content: a v1 label on a two-phase entry is refused.
        let relabelled = pending.encode().replacen("{\"v\":2", "{\"v\":1", 1);
        assert_eq!(Entry::decode(relabelled.as_bytes()), Err(EntryError::NotCanonical));
        let odd = pending.encode().replace("[\"pending\"]", "[\"pending\",\"pending\"]");
        assert_eq!(Entry::decode(odd.as_bytes()), Err(EntryError::InvalidField("flags")));
    }

    #[test]
    fn golden_balancing_flags_follow_the_phase_flag() {
        let mut t = transfer();
        let EntryBody::Transfer(r) = &mut t.body else {
            unreachable!()
        };
        r.phase = Phase::Pending;
        r.balancing = Balancing {
            debit: true,
            credit: true,
        };
        let text = t.encode();
        assert!(
            text.starts_with("{\"v\":2,")
                && text.ends_with(",\"flags\":[\"pending\",\"balancing_debit\",\"balancing_credit\"]}"),
            "{text}"
        );
        assert_eq!(Entry::decode(text.as_bytes()), Ok(t.clone()));
        let swapped = text.replace(
            "\"balancing_debit\",\"balancing_credit\"",
            "\"balancing_credit\",\"balancing_debit\"",
        );
        assert_eq!(Entry::decode(swapped.as_bytes()), Err(EntryError::NotCanonical));
        let twice = text.replace("\"balancing_credit\"]", "\"balancing_debit\"]");
        assert_eq!(Entry::decode(twice.as_bytes()), Err(EntryError::InvalidField("flags")));
    }

    #[test]
    fn golden_timeouts_and_expiries() {
        let mut pending = transfer();
        let EntryBody::Transfer(t) = &mut pending.body else {
            unreachable!()
        };
        t.phase = Phase::Pending;
        t.timeout = 3600;
        let text = pending.encode();
        assert!(text.ends_with(",\"flags\":[\"pending\"],\"timeout\":3600}"), "{text}");
        assert_eq!(Entry::decode(text.as_bytes()), Ok(pending.clone()));
        let zero = text.replace("\"timeout\":3600", "\"timeout\":0");
        assert_eq!(Entry::decode(zero.as_bytes()), Err(EntryError::NotCanonical));
        let single = transfer()
            .encode()
            .replace("\"linked\":false}", "\"linked\":false,\"timeout\":5}");
        assert_eq!(
            Entry::decode(single.as_bytes()),
            Err(EntryError::InvalidField("timeout"))
        );

        let mut expiry = transfer();
        let EntryBody::Transfer(t) = &mut expiry.body else {
            unreachable!()
        };
        t.phase = Phase::Expire {
            pending_id: "tx_1".to_owned(),
        };
        let text = expiry.encode();
        assert!(
            text.starts_with("{\"v\":2,") && text.ends_with(",\"flags\":[\"expire_pending\"],\"pending_id\":\"tx_1\"}"),
            "{text}"
        );
        assert_eq!(Entry::decode(text.as_bytes()), Ok(expiry));
        let other = text.replace("\"pending_id\":\"tx_1\"", "\"pending_id\":\"tx_2\"");
        assert_eq!(Entry::decode(other.as_bytes()), Err(EntryError::InvalidField("id")));
    }

    #[test]
    fn golden_account() {
        let account = Entry {
            index: 0,
            time: 0,
            body: EntryBody::Account(AccountRecord {
                id: "acc_1".to_owned(),
                currency: eur(),
                kind: AccountKind::Customer,
                flags: AccountFlags {
                    debits_must_not_exceed_credits: true,
                    credits_must_not_exceed_debits: false,
                    imported: false,
                },
                metadata: "{}".to_owned(),
            }),
        };
        let text = account.encode();
        assert_eq!(
            text,
            r#"{"v":1,"index":0,"time":"1970-01-01T00:00:00.000000000Z","type":"account","id":"acc_1","currency":"EUR","kind":"customer","flags":["debits_must_not_exceed_credits"],"metadata":{}}"#
        );
        assert_eq!(Entry::decode(text.as_bytes()), Ok(account));
    }

    #[test]
    fn refuses_non_canonical() {
        let text = transfer().encode();
        let spaced = text.replace(",\"debit\"", ", \"debit\"");
        assert_eq!(Entry::decode(spaced.as_bytes()), Err(EntryError::NotCanonical));
        let short_amount = text.replace("\"10.50\"", "\"10.5\"");
        assert_eq!(Entry::decode(short_amount.as_bytes()), Err(EntryError::NotCanonical));
        let v2 = text.replace("{\"v\":1", "{\"v\":2");
        assert_eq!(Entry::decode(v2.as_bytes()), Err(EntryError::NotCanonical));
        let v3 = text.replace("{\"v\":1", "{\"v\":3");
        assert_eq!(Entry::decode(v3.as_bytes()), Err(EntryError::NotCanonical));
        let v4 = text.replace("{\"v\":1", "{\"v\":4");
        assert_eq!(Entry::decode(v4.as_bytes()), Err(EntryError::UnsupportedVersion));
        let extra = text.replace("\"linked\":false", "\"linked\":false,\"x\":1");
        assert_eq!(Entry::decode(extra.as_bytes()), Err(EntryError::Malformed));
        assert_eq!(Entry::decode(b"\xff"), Err(EntryError::Malformed));
    }
}
