//! The balance proof file: what `GET /v1/accounts/{id}/balance-proof` serves, FUSE
//! `balance.json` carries and `ledgerfs verify balance` checks offline. It binds one
//! account's balance record (or its absence) to a balance commitment entry, and that
//! entry to a signed, possibly cosigned, checkpoint:
//!
//! ```text
//! {"format":"ledgerfs-balance-proof/v1","account":"alice",
//!  "record":{"record":"{\"id\":\"alice\",...}","position":0,"path":["5d0f...",...]},
//!  "before":null,"after":null,
//!  "tlog_proof":"c2sp.org/tlog-proof@v1\nextra ...\nindex 41\n...\n\n<checkpoint>"}
//! ```
//!
//! `record` is set for an account that exists; for one that does not, `before` and
//! `after` are the records that bracket its id (either may be null at an end of the
//! tree). `tlog_proof` is a C2SP tlog-proof of the commitment entry, which it carries as
//! its `extra` data. This module checks the commitment side; the checkpoint's
//! signatures are the tlog-proof verifier's job.

use alloc::string::String;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

use ledgerfs_model::entry::{CommitmentRecord, Entry, EntryBody};
use ledgerfs_model::json::{decode_hex, write_hex};
use ledgerfs_tiles::Hash;

use crate::commitment::{verify_membership, CommitmentError, MembershipProof, RecordProof};

/// The `format` every balance proof file carries.
pub const BALANCE_PROOF_FORMAT: &str = "ledgerfs-balance-proof/v1";

/// A record proof as the file spells it: hashes in lowercase hex.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordProofFile {
    /// The canonical balance record.
    pub record: String,
    /// Its position among the records sorted by account id.
    pub position: u64,
    /// Sibling hashes from the leaf up, hex.
    pub path: Vec<String>,
}

/// The balance proof file (see the module doc).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BalanceProofFile {
    /// Always [`BALANCE_PROOF_FORMAT`].
    pub format: String,
    /// The account id the proof is about.
    pub account: String,
    /// The account's record and path, when it exists.
    pub record: Option<RecordProofFile>,
    /// For an absent id: the greatest record with a smaller id.
    pub before: Option<RecordProofFile>,
    /// For an absent id: the least record with a greater id.
    pub after: Option<RecordProofFile>,
    /// C2SP tlog-proof of the commitment entry (which it carries as `extra`).
    pub tlog_proof: String,
}

/// Why a balance proof file does not check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BalanceProofError {
    /// Not a balance proof file of this format.
    Malformed(&'static str),
    /// The proven entry is not a balance commitment at the proof's index.
    NotACommitment,
    /// The record or absence does not check against the commitment.
    Commitment(CommitmentError),
}

impl core::fmt::Display for BalanceProofError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            BalanceProofError::Malformed(why) => write!(f, "not a balance proof: {why}"),
            BalanceProofError::NotACommitment => f.write_str("the proven entry is not a balance commitment"),
            BalanceProofError::Commitment(e) => write!(f, "the balance does not check against the commitment: {e}"),
        }
    }
}

/// What a checked balance proof established.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProvenBalance {
    /// Log index of the commitment entry (the balances are as of the entries before it).
    pub index: u64,
    /// The commitment it checked against.
    pub commitment: CommitmentRecord,
    /// The account's balance record; `None`: no such account.
    pub record: Option<String>,
}

fn to_file(p: &RecordProof) -> RecordProofFile {
    RecordProofFile {
        record: p.record.clone(),
        position: p.position,
        path: p.path.iter().map(hex).collect(),
    }
}

fn from_file(p: &RecordProofFile) -> Result<RecordProof, BalanceProofError> {
    let path = p.path.iter().map(|h| unhex(h)).collect::<Option<Vec<Hash>>>();
    Ok(RecordProof {
        record: p.record.clone(),
        position: p.position,
        path: path.ok_or(BalanceProofError::Malformed("a path hash is not 64 hex digits"))?,
    })
}

fn hex(h: &Hash) -> String {
    let mut out = String::with_capacity(64);
    write_hex(&mut out, h);
    out
}

/// A path hash: 64 lowercase hex digits (one spelling per proof).
fn unhex(text: &str) -> Option<Hash> {
    decode_hex(text).filter(|h| hex(h) == text)
}

impl BalanceProofFile {
    /// The file for `account` from what the sequencer proved and the commitment entry's
    /// tlog-proof.
    pub fn new(account: &str, proof: &MembershipProof, tlog_proof: String) -> BalanceProofFile {
        let (record, before, after) = match proof {
            MembershipProof::Present(p) => (Some(to_file(p)), None, None),
            MembershipProof::Absent { before, after } => {
                (None, before.as_ref().map(to_file), after.as_ref().map(to_file))
            }
        };
        BalanceProofFile {
            format: String::from(BALANCE_PROOF_FORMAT),
            account: String::from(account),
            record,
            before,
            after,
            tlog_proof,
        }
    }

    /// Parses a balance proof file (JSON); anything else is refused, never a panic.
    pub fn decode(bytes: &[u8]) -> Result<BalanceProofFile, BalanceProofError> {
        let file: BalanceProofFile =
            serde_json::from_slice(bytes).map_err(|_| BalanceProofError::Malformed("not JSON of the file's shape"))?;
        if file.format != BALANCE_PROOF_FORMAT {
            return Err(BalanceProofError::Malformed("format is not ledgerfs-balance-proof/v1"));
        }
        if file.record.is_some() && (file.before.is_some() || file.after.is_some()) {
            return Err(BalanceProofError::Malformed("a record and an absence together"));
        }
        Ok(file)
    }

    /// The file as JSON text.
    pub fn encode(&self) -> String {
        serde_json::to_string(self).expect("a balance proof file always serialises")
    }

    /// The membership proof the file spells.
    pub fn membership(&self) -> Result<MembershipProof, BalanceProofError> {
        Ok(match &self.record {
            Some(p) => MembershipProof::Present(from_file(p)?),
            None => MembershipProof::Absent {
                before: self.before.as_ref().map(from_file).transpose()?,
                after: self.after.as_ref().map(from_file).transpose()?,
            },
        })
    }

    /// Checks the commitment side, given the entry the tlog-proof proves at `index`
    /// (already checked against a signed checkpoint): the entry is a balance
    /// commitment at that index, and the record (or absence) is in it.
    pub fn check(&self, index: u64, entry: &[u8]) -> Result<ProvenBalance, BalanceProofError> {
        let commitment = match Entry::decode(entry) {
            Ok(Entry {
                index: at,
                body: EntryBody::Commitment(c),
                ..
            }) if at == index => c,
            _ => return Err(BalanceProofError::NotACommitment),
        };
        let record = verify_membership(
            &self.account,
            &self.membership()?,
            commitment.accounts,
            &commitment.root,
        )
        .map_err(BalanceProofError::Commitment)?;
        Ok(ProvenBalance {
            index,
            commitment,
            record,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{EntryBuffer, Limits, Sequencer};
    use alloc::string::ToString;
    use alloc::vec;
    use ledgerfs_model::{Event, NewAccount};

    fn ledger() -> (Sequencer, EntryBuffer) {
        let mut seq = Sequencer::new(Limits::default());
        let mut entries = EntryBuffer::new();
        let mut results = Vec::new();
        let events: Vec<Event> = ["alice", "bob", "carol"]
            .iter()
            .map(|id| {
                Event::Account(NewAccount {
                    id: id.to_string(),
                    currency: "EUR".into(),
                    kind: "customer".into(),
                    flags: vec![],
                    metadata: "{}".into(),
                    linked: false,
                    time: 0,
                })
            })
            .collect();
        seq.execute(&events, 1_000, &mut results, &mut entries);
        seq.commit_now(2_000, &mut entries);
        (seq, entries)
    }

    #[test]
    fn a_proof_round_trips_and_checks_present_and_absent() {
        let (seq, entries) = ledger();
        let entry = entries.get(3);
        for (id, present) in [("bob", true), ("bobby", false), ("zed", false), ("a", false)] {
            let p = seq.prove_committed(id).expect("a fresh commitment proves every id");
            assert_eq!(p.index, 3);
            let file = BalanceProofFile::new(id, &p.proof, "unused here".into());
            let back = BalanceProofFile::decode(file.encode().as_bytes()).unwrap();
            assert_eq!(back, file);
            let proven = back.check(3, entry).unwrap();
            assert_eq!(proven.record.is_some(), present, "{id}");
            assert_eq!(proven.commitment.accounts, 3);
        }
    }

    #[test]
    fn tampering_is_refused() {
        let (seq, entries) = ledger();
        let entry = entries.get(3);
        let p = seq.prove_committed("bob").unwrap();
        let file = BalanceProofFile::new("bob", &p.proof, String::new());
        let mut richer = file.clone();
        richer.record.as_mut().unwrap().record = file.record.as_ref().unwrap().record.replace("0.00", "9.00");
        assert!(matches!(richer.check(3, entry), Err(BalanceProofError::Commitment(_))));
        let mut other = file.clone();
        other.account = "alice".into();
        assert!(matches!(other.check(3, entry), Err(BalanceProofError::Commitment(_))));
        // The entry must be the commitment, at the index the tlog-proof proved.
        assert_eq!(file.check(2, entry), Err(BalanceProofError::NotACommitment));
        assert_eq!(file.check(0, entries.get(0)), Err(BalanceProofError::NotACommitment));
        let text = file.encode();
        for bad in [
            text.replace("ledgerfs-balance-proof/v1", "v2"),
            text.replace("\"before\":null", "\"before\":null,\"x\":1"),
            text.replace("\"path\":[\"", "\"path\":[\"zz"),
            String::from("{"),
        ] {
            let refused = BalanceProofFile::decode(bad.as_bytes()).and_then(|f| f.check(3, entry));
            assert!(matches!(refused, Err(BalanceProofError::Malformed(_))), "{bad}");
        }
    }
}
