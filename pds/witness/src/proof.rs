//! C2SP tlog-proof@v1 (<https://c2sp.org/tlog-proof>): an offline-verifiable receipt that
//! an entry is in the log, as text — the entry's index, its Merkle inclusion proof, and
//! the checkpoint (with its cosignatures) it is included under. LedgerFS puts the entry
//! itself in the optional `extra` line, so a receipt alone re-derives the leaf hash (the
//! extra data is unauthenticated, but a wrong entry fails the inclusion proof).

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ledgerfs_attest::{parse_checkpoint_unverified, Checkpoint};
use ledgerfs_tiles::{leaf_hash, verify_inclusion, Hash};

/// The first line of every proof.
pub const HEADER: &str = "c2sp.org/tlog-proof@v1";
/// Most inclusion-proof lines (a tree of 2^63 entries needs 63).
const MAX_HASHES: usize = 63;

/// A parsed (or to-be-encoded) tlog-proof.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlogProof {
    /// Opaque extra data (LedgerFS: the entry's bytes).
    pub extra: Option<Vec<u8>>,
    /// The entry's zero-based index.
    pub index: u64,
    /// The inclusion proof, from the leaf's sibling up.
    pub hashes: Vec<Hash>,
    /// The checkpoint note, verbatim (signature and cosignature lines included).
    pub checkpoint: String,
}

impl TlogProof {
    /// The proof as text (`.tlog-proof`).
    pub fn encode(&self) -> String {
        let mut out = String::from(HEADER);
        out.push('\n');
        if let Some(extra) = &self.extra {
            out.push_str("extra ");
            out.push_str(&STANDARD.encode(extra));
            out.push('\n');
        }
        out.push_str(&format!("index {}\n", self.index));
        for h in &self.hashes {
            out.push_str(&STANDARD.encode(h));
            out.push('\n');
        }
        out.push('\n');
        out.push_str(&self.checkpoint);
        out
    }

    /// Parses a proof, strictly: the header, an optional `extra`, `index` in canonical
    /// decimal, at most 63 base64 hashes, an empty line, then the checkpoint.
    pub fn parse(text: &str) -> Result<TlogProof, String> {
        let mut rest = text;
        let mut next_line = || -> Result<&str, String> {
            let (l, r) = rest.split_once('\n').ok_or("the proof ends before its checkpoint")?;
            rest = r;
            Ok(l)
        };
        if next_line()? != HEADER {
            return Err(format!("the first line is not {HEADER:?}"));
        }
        let mut line = next_line()?;
        let mut extra = None;
        if let Some(b64) = line.strip_prefix("extra ") {
            extra = Some(STANDARD.decode(b64).map_err(|_| "the extra data is not base64")?);
            line = next_line()?;
        }
        let digits = line.strip_prefix("index ").ok_or("no `index` line")?;
        if digits.is_empty()
            || !digits.bytes().all(|b| b.is_ascii_digit())
            || (digits.len() > 1 && digits.starts_with('0'))
        {
            return Err("the index is not a canonical decimal".to_string());
        }
        let index: u64 = digits.parse().map_err(|_| "the index is too large")?;
        let mut hashes = Vec::new();
        loop {
            let l = next_line()?;
            if l.is_empty() {
                break;
            }
            if hashes.len() == MAX_HASHES {
                return Err("more than 63 proof hashes".to_string());
            }
            let bytes = STANDARD.decode(l).map_err(|_| "a proof hash is not base64")?;
            let hash: Hash = bytes.try_into().map_err(|_| "a proof hash is not 32 bytes")?;
            hashes.push(hash);
        }
        Ok(TlogProof {
            extra,
            index,
            hashes,
            checkpoint: rest.to_string(),
        })
    }

    /// Checks that `entry` is at `index` under the proof's checkpoint (its Merkle path
    /// only: whose signatures the checkpoint must carry is the caller's policy). Returns
    /// the checkpoint.
    pub fn verify_inclusion(&self, entry: &[u8]) -> Result<Checkpoint, String> {
        let checkpoint =
            parse_checkpoint_unverified(self.checkpoint.as_bytes()).map_err(|e| format!("checkpoint: {e}"))?;
        if self.index >= checkpoint.size {
            return Err(format!(
                "index {} is outside the checkpoint's tree of {}",
                self.index, checkpoint.size
            ));
        }
        verify_inclusion(
            &leaf_hash(entry),
            self.index,
            checkpoint.size,
            &self.hashes,
            &checkpoint.root,
        )
        .map_err(|e| format!("the inclusion proof does not lead to the checkpoint's root: {e:?}"))?;
        Ok(checkpoint)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ledgerfs_attest::{sign_checkpoint, SignerKey};
    use ledgerfs_tiles::node_hash;

    fn two_leaf_proof() -> (TlogProof, Vec<u8>) {
        let (a, b) = (b"first".to_vec(), b"second".to_vec());
        let root = node_hash(&leaf_hash(&a), &leaf_hash(&b));
        let key = SignerKey::from_seed("bank.example/ledger", [7; 32]).unwrap();
        let note = sign_checkpoint(
            &key,
            &Checkpoint {
                origin: "bank.example/ledger".into(),
                size: 2,
                root,
                extensions: Vec::new(),
            },
        )
        .unwrap();
        let proof = TlogProof {
            extra: Some(b.clone()),
            index: 1,
            hashes: alloc::vec![leaf_hash(&a)],
            checkpoint: note,
        };
        (proof, b)
    }

    #[test]
    fn a_proof_round_trips_and_verifies() {
        let (proof, entry) = two_leaf_proof();
        let text = proof.encode();
        assert!(text.starts_with("c2sp.org/tlog-proof@v1\nextra "));
        let parsed = TlogProof::parse(&text).unwrap();
        assert_eq!(parsed, proof);
        assert_eq!(parsed.verify_inclusion(&entry).unwrap().size, 2);
        assert!(parsed.verify_inclusion(b"forged").is_err(), "another entry");
        let mut moved = parsed.clone();
        moved.index = 0;
        assert!(moved.verify_inclusion(&entry).is_err(), "another index");
        let mut outside = parsed;
        outside.index = 2;
        assert!(outside.verify_inclusion(&entry).is_err());
    }

    #[test]
    fn malformed_proofs_are_refused() {
        let (proof, _) = two_leaf_proof();
        let good = proof.encode();
        for bad in [
            good.replacen("tlog-proof@v1", "tlog-proof@v2", 1),
            good.replacen("index 1", "index 01", 1),
            good.replacen("index 1", "index -1", 1),
            good.replacen("index 1\n", "", 1),
            good.replacen("extra ", "extra !", 1),
            "c2sp.org/tlog-proof@v1\nindex 0\n".to_string(),
        ] {
            assert!(TlogProof::parse(&bad).is_err(), "{bad:?}");
        }
        let no_extra = TlogProof { extra: None, ..proof };
        assert!(!no_extra.encode().contains("extra"));
        assert_eq!(TlogProof::parse(&no_extra.encode()).unwrap(), no_extra);
    }
}
