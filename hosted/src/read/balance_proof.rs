//! Balance proofs for readers (the API's `balance-proof` and FUSE `balance.json`): the
//! sequencer's proof against its last balance commitment, that commitment entry read
//! back from the durable log and checked, and a C2SP tlog-proof of the entry under the
//! newest checkpoint a receipt goes under (see [`crate::pipeline::engine::Published::receipt_head`]).

use std::time::Duration;

use ledgerfs_model::entry::{Entry, EntryBody};
use ledgerfs_sequencer::{BalanceProofFile, CommittedProof};

use crate::error::{Error, Result};
use crate::pipeline::engine::Engine;
use crate::read::logread::LogReader;
use crate::read::render;

/// Longest wait for a new commitment entry to become durable.
pub const PROOF_WAIT: Duration = Duration::from_secs(10);

/// The balance proof file for `id` from what the sequencer proved (its entry durable).
pub fn assemble(engine: &Engine, reader: &LogReader, id: &str, proof: &CommittedProof) -> Result<BalanceProofFile> {
    let committed = engine
        .view
        .committed()
        .filter(|c| c.size > proof.index)
        .ok_or_else(|| Error::Overloaded("the balance commitment is not durable yet; retry shortly".into()))?;
    let bytes = reader.entry(proof.index, committed.size)?;
    // A storage failure between the proof and its durability puts another entry there.
    match Entry::decode(&bytes) {
        Ok(e) if e.body == EntryBody::Commitment(proof.commitment) => {}
        _ => {
            return Err(Error::Overloaded(
                "the balance commitment was lost to a storage failure before it was durable; retry".into(),
            ))
        }
    }
    let head = engine.published.receipt_head(committed.clone(), proof.index);
    let tlog_proof = render::tlog_proof(reader, proof.index, &head, committed.size)?;
    Ok(BalanceProofFile::new(id, &proof.proof, tlog_proof))
}
