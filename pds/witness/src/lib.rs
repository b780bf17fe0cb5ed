//! A transparency-log witness (C2SP tlog-witness, <https://c2sp.org/tlog-witness>) as a
//! sans-IO state machine: it takes an `add-checkpoint` request body and the witness's
//! state, and answers with the HTTP status, the body, and — when it cosigns — the new
//! state, which the adapter must persist durably *before* sending the answer (and must
//! check and persist under one lock: the spec's rollback race).
//!
//! The rules, in the spec's order: a body of `old <size>`, at most 63 base64 proof lines,
//! an empty line and a checkpoint (else `400`); an origin the witness does not know is
//! `404`; no valid signature from a trusted key of that log is `403`; an old size above the
//! checkpoint's is `400`; an old size other than the latest cosigned one is `409` with that
//! size (`text/x.tlog.size`); the same size with another root is `409`; a consistency
//! proof that does not verify is `422`. Then the witness cosigns (`cosignature/v1`) and
//! records the checkpoint.
#![no_std]

extern crate alloc;

pub mod policy;
pub mod proof;

pub use policy::{Policy, PolicyLog, PolicyWitness, Verdict};
pub use proof::TlogProof;

use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ledgerfs_attest::{parse_checkpoint_unverified, verify_checkpoint, CosignerKey, VerifierKey};
use ledgerfs_tiles::{empty_root, verify_consistency};

/// Most consistency proof lines a request may carry.
pub const MAX_PROOF_LINES: usize = 63;

/// A log the witness is configured for: its origin and the keys it trusts for it.
#[derive(Clone, Debug)]
pub struct Log {
    /// The checkpoint origin line.
    pub origin: String,
    /// Verifier keys of the log.
    pub keys: Vec<VerifierKey>,
}

/// The latest checkpoint the witness cosigned for one log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Latest {
    /// Tree size.
    pub size: u64,
    /// Root hash.
    pub root: [u8; 32],
    /// The checkpoint as submitted plus this witness's cosignature (for monitors).
    pub note: String,
}

/// The witness's state: the latest cosigned checkpoint per origin.
pub type State = BTreeMap<String, Latest>;

/// What to answer.
#[derive(Debug, PartialEq, Eq)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// `Content-Type` of the body.
    pub content_type: &'static str,
    /// The body.
    pub body: String,
    /// On `200`: the origin and its new latest checkpoint, to persist before answering.
    pub record: Option<(String, Latest)>,
}

fn refuse(status: u16, message: &str) -> Answer {
    Answer {
        status,
        content_type: "text/plain; charset=utf-8",
        body: alloc::format!("{message}\n"),
        record: None,
    }
}

/// A parsed `add-checkpoint` body.
struct Request<'a> {
    old: u64,
    proof: Vec<[u8; 32]>,
    note: &'a str,
}

fn parse(body: &[u8]) -> Result<Request<'_>, &'static str> {
    let text = core::str::from_utf8(body).map_err(|_| "the body is not UTF-8")?;
    let (first, mut rest) = text.split_once('\n').ok_or("no old size line")?;
    let old = first
        .strip_prefix("old ")
        .ok_or("the first line must be `old <size>`")?;
    if old.is_empty() || (old.len() > 1 && old.starts_with('0')) || !old.bytes().all(|b| b.is_ascii_digit()) {
        return Err("the old size must be a decimal without leading zeroes");
    }
    let old: u64 = old.parse().map_err(|_| "the old size is too large")?;
    let mut proof = Vec::new();
    loop {
        let (line, after) = rest.split_once('\n').ok_or("no empty line before the checkpoint")?;
        rest = after;
        if line.is_empty() {
            break;
        }
        if proof.len() == MAX_PROOF_LINES {
            return Err("more than 63 consistency proof lines");
        }
        let hash = STANDARD.decode(line).map_err(|_| "a proof line is not base64")?;
        proof.push(hash.try_into().map_err(|_| "a proof line is not a 32-byte hash")?);
    }
    Ok(Request { old, proof, note: rest })
}

/// Answers one `add-checkpoint` request with body `body`, at POSIX time `now`.
pub fn add_checkpoint(logs: &[Log], state: &State, key: &CosignerKey, body: &[u8], now: u64) -> Answer {
    let request = match parse(body) {
        Ok(r) => r,
        Err(why) => return refuse(400, why),
    };
    let Ok(unverified) = parse_checkpoint_unverified(request.note.as_bytes()) else {
        return refuse(400, "the checkpoint does not parse");
    };
    let Some(log) = logs.iter().find(|l| l.origin == unverified.origin) else {
        return refuse(404, "unknown log origin");
    };
    let Some(checkpoint) = log
        .keys
        .iter()
        .find_map(|k| verify_checkpoint(k, request.note.as_bytes()).ok())
    else {
        return refuse(403, "no valid signature from a key this witness trusts for the log");
    };
    if request.old > checkpoint.size {
        return refuse(400, "the old size is larger than the checkpoint's");
    }
    let latest = state.get(&log.origin);
    let latest_size = latest.map_or(0, |l| l.size);
    if request.old != latest_size {
        return Answer {
            status: 409,
            content_type: "text/x.tlog.size",
            body: alloc::format!("{latest_size}\n"),
            record: None,
        };
    }
    let old_root = latest.map_or(empty_root(), |l| l.root);
    if request.old == checkpoint.size && old_root != checkpoint.root && request.old > 0 {
        return refuse(
            409,
            "a different root at the size this witness cosigned: the log forked",
        );
    }
    if verify_consistency(
        request.old,
        checkpoint.size,
        &old_root,
        &checkpoint.root,
        &request.proof,
    )
    .is_err()
    {
        return refuse(422, "the consistency proof does not verify");
    }
    let body_text = &request.note[..request.note.rfind("\n\n").map_or(0, |i| i + 1)];
    let line = key.cosign(body_text, now);
    let mut note = request.note.to_string();
    note.push_str(&line);
    Answer {
        status: 200,
        content_type: "text/plain; charset=utf-8",
        body: line,
        record: Some((
            log.origin.clone(),
            Latest {
                size: checkpoint.size,
                root: checkpoint.root,
                note,
            },
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ledgerfs_attest::{sign_checkpoint, Checkpoint, CosignatureVerifier, SignerKey};
    use ledgerfs_tiles::{leaf_hash, node_hash};

    type Hash = [u8; 32];

    fn split(n: usize) -> usize {
        let mut k = 1;
        while k * 2 < n {
            k *= 2;
        }
        k
    }

    fn mth(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => empty_root(),
            1 => leaves[0],
            n => {
                let k = split(n);
                node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
            }
        }
    }

    /// RFC 6962 §2.1.2 SUBPROOF, as the RFC writes it.
    fn subproof(m: usize, leaves: &[Hash], whole: bool) -> Vec<Hash> {
        let n = leaves.len();
        if m == n {
            return if whole { Vec::new() } else { alloc::vec![mth(leaves)] };
        }
        let k = split(n);
        if m <= k {
            let mut p = subproof(m, &leaves[..k], whole);
            p.push(mth(&leaves[k..]));
            p
        } else {
            let mut p = subproof(m - k, &leaves[k..], false);
            p.push(mth(&leaves[..k]));
            p
        }
    }

    struct Fixture {
        log_key: SignerKey,
        leaves: Vec<Hash>,
        logs: Vec<Log>,
        witness: CosignerKey,
    }

    fn fixture() -> Fixture {
        let log_key = SignerKey::from_seed("bank.example/ledger", [1; 32]).unwrap();
        let logs = alloc::vec![Log {
            origin: "bank.example/ledger".into(),
            keys: alloc::vec![log_key.verifier()],
        }];
        let leaves = (0..40u32).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        Fixture {
            log_key,
            leaves,
            logs,
            witness: CosignerKey::from_seed("witness.example/w1", [2; 32]).unwrap(),
        }
    }

    fn note(key: &SignerKey, origin: &str, size: u64, root: Hash) -> String {
        sign_checkpoint(
            key,
            &Checkpoint {
                origin: origin.into(),
                size,
                root,
                extensions: Vec::new(),
            },
        )
        .unwrap()
    }

    fn body(old: u64, proof: &[Hash], note: &str) -> Vec<u8> {
        let mut b = alloc::format!("old {old}\n");
        for h in proof {
            b.push_str(&STANDARD.encode(h));
            b.push('\n');
        }
        b.push('\n');
        b.push_str(note);
        b.into_bytes()
    }

    #[test]
    fn cosigns_consistent_checkpoints_and_refuses_the_rest() {
        let f = fixture();
        let mut state = State::new();
        let cp = |size: usize| note(&f.log_key, "bank.example/ledger", size as u64, mth(&f.leaves[..size]));
        // First submission: old 0, no proof.
        let a = add_checkpoint(&f.logs, &state, &f.witness, &body(0, &[], &cp(10)), 1_700_000_000);
        assert_eq!(a.status, 200, "{}", a.body);
        let (origin, latest) = a.record.clone().unwrap();
        assert_eq!((origin.as_str(), latest.size), ("bank.example/ledger", 10));
        let cosigned = alloc::format!("{}{}", cp(10), a.body);
        assert_eq!(f.witness.verifier().verify(cosigned.as_bytes()), Ok(1_700_000_000));
        assert_eq!(
            CosignatureVerifier::parse(&f.witness.verifier().encode())
                .unwrap()
                .verify(latest.note.as_bytes()),
            Ok(1_700_000_000)
        );
        state.insert(origin, latest);
        // Growth with a consistency proof.
        let proof = subproof(10, &f.leaves[..25], true);
        let a = add_checkpoint(&f.logs, &state, &f.witness, &body(10, &proof, &cp(25)), 1_700_000_001);
        assert_eq!(a.status, 200, "{}", a.body);
        state.insert("bank.example/ledger".into(), a.record.unwrap().1);
        // A stale old size: 409 with the latest size.
        let a = add_checkpoint(&f.logs, &state, &f.witness, &body(10, &proof, &cp(25)), 0);
        assert_eq!(
            (a.status, a.content_type, a.body.as_str()),
            (409, "text/x.tlog.size", "25\n")
        );
        // Same size, same root: cosigned again; another root at that size: 409 (a fork).
        assert_eq!(
            add_checkpoint(&f.logs, &state, &f.witness, &body(25, &[], &cp(25)), 0).status,
            200
        );
        let forked = note(&f.log_key, "bank.example/ledger", 25, [7; 32]);
        assert_eq!(
            add_checkpoint(&f.logs, &state, &f.witness, &body(25, &[], &forked), 0).status,
            409
        );
        // A forked history at a larger size: its proof cannot verify.
        let mut other = f.leaves.clone();
        other[3] = leaf_hash(b"rewritten");
        let forked = note(&f.log_key, "bank.example/ledger", 30, mth(&other[..30]));
        let bad = subproof(25, &other[..30], true);
        assert_eq!(
            add_checkpoint(&f.logs, &state, &f.witness, &body(25, &bad, &forked), 0).status,
            422
        );
        // Unknown origin, untrusted key, old above size, malformed bodies.
        let stranger = SignerKey::from_seed("other.example/log", [3; 32]).unwrap();
        let unknown = note(&stranger, "other.example/log", 1, f.leaves[0]);
        assert_eq!(
            add_checkpoint(&f.logs, &state, &f.witness, &body(0, &[], &unknown), 0).status,
            404
        );
        let impostor = SignerKey::from_seed("bank.example/ledger", [4; 32]).unwrap();
        let signed_by_impostor = note(&impostor, "bank.example/ledger", 30, mth(&f.leaves[..30]));
        assert_eq!(
            add_checkpoint(&f.logs, &state, &f.witness, &body(25, &[], &signed_by_impostor), 0).status,
            403
        );
        assert_eq!(
            add_checkpoint(&f.logs, &state, &f.witness, &body(40, &[], &cp(30)), 0).status,
            400
        );
        for bad in [&b"old 01\n\n"[..], b"new 1\n\n", b"old 0\nnot base64!\n\n", b"old 0\n"] {
            assert_eq!(add_checkpoint(&f.logs, &state, &f.witness, bad, 0).status, 400);
        }
        let too_long: Vec<Hash> = alloc::vec![[0; 32]; 64];
        assert_eq!(
            add_checkpoint(&f.logs, &state, &f.witness, &body(25, &too_long, &cp(30)), 0).status,
            400
        );
    }
}
