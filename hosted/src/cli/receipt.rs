//! `ledgerfs verify receipt FILE`: checks a C2SP tlog-proof receipt offline, with no
//! server: the entry (from `--entry`, or the receipt's `extra` line) is at the receipt's
//! index under its checkpoint, the checkpoint is signed by the log (`--vkey`) and, with
//! `--policy`, cosigned by a quorum of the policy's witnesses. `ledgerfs verify balance
//! FILE` checks a balance proof the same way: its tlog-proof of the balance commitment
//! entry, then the account's record (or absence) in that commitment.

use ledgerfs_attest::{verify_checkpoint, VerifierKey};
use ledgerfs_model::EntryBody;
use ledgerfs_witness::{Policy, TlogProof};

use crate::error::{Error, Result};

/// What a verified receipt established, for the report line.
#[derive(Debug)]
pub struct Checked {
    /// The entry's index.
    pub index: u64,
    /// The size of the checkpoint it is included under.
    pub size: u64,
    /// What the entry records (`transfer <id>`, `account <id>`).
    pub what: String,
    /// The witnesses whose cosignatures count towards the quorum (with a policy).
    pub cosigned_by: Vec<String>,
    /// The entry's bytes, as proved.
    pub entry: Vec<u8>,
}

/// Verifies `text` (a `.tlog-proof`): `entry` overrides the receipt's own copy; at least
/// one of `vkey` and `policy` says whose signatures the checkpoint must carry.
pub fn verify_receipt(
    text: &str,
    entry: Option<&[u8]>,
    vkey: Option<&VerifierKey>,
    policy: Option<&Policy>,
) -> Result<Checked> {
    let bad = |why: String| Error::Client(format!("the receipt does not verify: {why}"));
    if vkey.is_none() && policy.is_none() {
        return Err(Error::Client(
            "pass --vkey KEY or --policy POLICY: whose signature must the checkpoint carry?".into(),
        ));
    }
    let proof = TlogProof::parse(text).map_err(bad)?;
    let entry = match (entry, &proof.extra) {
        (Some(given), Some(own)) if given != own.as_slice() => {
            return Err(bad("the entry given is not the one the receipt carries".into()))
        }
        (Some(given), _) => given.to_vec(),
        (None, Some(own)) => own.clone(),
        (None, None) => return Err(Error::Client("the receipt carries no entry: pass --entry FILE".into())),
    };
    let checkpoint = proof.verify_inclusion(&entry).map_err(bad)?;
    if let Some(key) = vkey {
        verify_checkpoint(key, proof.checkpoint.as_bytes())
            .map_err(|e| bad(format!("the checkpoint is not signed by {}: {e}", key.name())))?;
    }
    let mut cosigned_by = Vec::new();
    if let Some(policy) = policy {
        let verdict = policy.check(proof.checkpoint.as_bytes()).map_err(bad)?;
        if !verdict.quorum_met {
            return Err(bad(format!(
                "its checkpoint is cosigned by {:?}, which does not meet the policy's quorum",
                verdict.cosigned_by
            )));
        }
        cosigned_by = verdict.cosigned_by;
    }
    let what = match ledgerfs_model::Entry::decode(&entry) {
        Ok(e) if e.index != proof.index => {
            return Err(bad(format!(
                "the entry says it is at index {}, not {}",
                e.index, proof.index
            )))
        }
        Ok(e) => match e.body {
            EntryBody::Account(a) => format!("account {}", a.id),
            EntryBody::Transfer(t) => format!("transfer {}", t.id),
            EntryBody::Commitment(c) => format!("balance commitment of {} accounts", c.accounts),
        },
        Err(_) => "an entry this version cannot decode".into(),
    };
    Ok(Checked {
        index: proof.index,
        size: checkpoint.size,
        what,
        cosigned_by,
        entry,
    })
}

/// What a verified balance proof established, for the report line.
#[derive(Debug)]
pub struct CheckedBalance {
    /// The account id proved.
    pub account: String,
    /// Its canonical balance record; `None`: no account has that id.
    pub record: Option<String>,
    /// The commitment and its entry's place under a signed checkpoint.
    pub proven: ledgerfs_sequencer::ProvenBalance,
    /// The commitment entry's receipt check.
    pub receipt: Checked,
}

/// Verifies a balance proof `text` offline: the file from `GET
/// /v1/accounts/{id}/balance-proof`, or a FUSE `balance.json` that carries one as
/// `balance_proof`. The commitment entry's tlog-proof is checked as
/// [`verify_receipt`] checks a receipt, then the record or absence against its root.
pub fn verify_balance(text: &str, vkey: Option<&VerifierKey>, policy: Option<&Policy>) -> Result<CheckedBalance> {
    let bad = |why: String| Error::Client(format!("the balance proof does not verify: {why}"));
    let inner = serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|v| v.get("balance_proof").map(|p| p.to_string()));
    let file = ledgerfs_sequencer::BalanceProofFile::decode(inner.as_deref().unwrap_or(text).as_bytes())
        .map_err(|e| bad(e.to_string()))?;
    let receipt = verify_receipt(&file.tlog_proof, None, vkey, policy)?;
    let proven = file
        .check(receipt.index, &receipt.entry)
        .map_err(|e| bad(e.to_string()))?;
    Ok(CheckedBalance {
        account: file.account,
        record: proven.record.clone(),
        proven,
        receipt,
    })
}
