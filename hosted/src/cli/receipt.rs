//! `ledgerfs verify receipt FILE`: checks a C2SP tlog-proof receipt offline, with no
//! server: the entry (from `--entry`, or the receipt's `extra` line) is at the receipt's
//! index under its checkpoint, the checkpoint is signed by the log (`--vkey`) and, with
//! `--policy`, cosigned by a quorum of the policy's witnesses.

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
    })
}
