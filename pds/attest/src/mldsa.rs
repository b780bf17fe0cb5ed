//! ML-DSA-44 checkpoint signatures, as C2SP tlog-checkpoint recommends and
//! tlog-cosignature (<https://c2sp.org/tlog-cosignature>) specifies: a log signs its own
//! checkpoint as a timestamped ML-DSA-44 subtree cosignature (signature type `0x06`) under
//! its origin, next to its Ed25519 line, so a verifier may check either. The signed message
//! is the `cosigned_message` structure
//!
//! ```text
//! "subtree/v1\n\0" || u8 len || cosigner name || u64 timestamp || u8 len || origin
//!                  || u64 start (0) || u64 end (the size) || 32-byte root
//! ```
//!
//! and the line is `— <name> base64(key ID || u64 timestamp || 2420-byte signature)`, with
//! the key ID `SHA-256(name || "\n" || 0x06 || 1312-byte public key)[:4]` and verifier keys
//! `<name>+<hex key ID>+base64(0x06 || public key)`. The log signs with timestamp 0 (it
//! makes no "largest tree observed" statement, which the specification allows) and
//! deterministically, so re-signing a checkpoint gives the same note, as with Ed25519.
//!
//! Must never: accept a checkpoint with extension lines on an ML-DSA signature (the
//! message does not cover them), or let the seed escape [`MlDsaSigner`].

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ml_dsa::{EncodedSignature, EncodedVerifyingKey, MlDsa44, Signature, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::checkpoint::Checkpoint;
use crate::error::NoteError;

/// Signature-type byte of a timestamped ML-DSA-44 (sub)tree cosignature.
pub const ALG_ML_DSA_44: u8 = 0x06;
/// Bytes of an ML-DSA-44 public key.
pub const ML_DSA_44_PUBLIC_KEY_LEN: usize = 1312;
/// Bytes of an ML-DSA-44 signature.
pub const ML_DSA_44_SIGNATURE_LEN: usize = 2420;

/// `SHA-256(name || 0x0A || 0x06 || public key)[..4]`.
pub fn ml_dsa_key_id(name: &str, public_key: &[u8]) -> [u8; 4] {
    crate::key::note_key_id(name, ALG_ML_DSA_44, public_key)
}

/// The `cosigned_message` of a checkpoint (start 0, end its size), or `None` when a name
/// or the origin is longer than its one-byte length prefix allows.
fn cosigned_message(name: &str, timestamp: u64, cp: &Checkpoint) -> Option<Vec<u8>> {
    let (name_len, origin_len) = (u8::try_from(name.len()).ok()?, u8::try_from(cp.origin.len()).ok()?);
    let mut m = Vec::with_capacity(12 + 1 + name.len() + 8 + 1 + cp.origin.len() + 16 + 32);
    m.extend_from_slice(b"subtree/v1\n\0");
    m.push(name_len);
    m.extend_from_slice(name.as_bytes());
    m.extend_from_slice(&timestamp.to_be_bytes());
    m.push(origin_len);
    m.extend_from_slice(cp.origin.as_bytes());
    m.extend_from_slice(&0u64.to_be_bytes());
    m.extend_from_slice(&cp.size.to_be_bytes());
    m.extend_from_slice(&cp.root);
    Some(m)
}

/// The log's ML-DSA-44 key, derived from its Ed25519 seed (one secret to keep, as
/// today): seed = SHA-256("LedgerFS ML-DSA-44 checkpoint key v1\n" || Ed25519 seed).
/// Not `Clone`, never printed.
pub struct MlDsaSigner {
    name: String,
    key_id: [u8; 4],
    key: Box<SigningKey<MlDsa44>>,
    public: Box<[u8]>,
}

impl MlDsaSigner {
    /// The key named `name` derived from a 32-byte Ed25519 seed.
    pub(crate) fn derive(name: &str, ed25519_seed: &[u8; 32]) -> MlDsaSigner {
        let mut h = Sha256::new();
        h.update(b"LedgerFS ML-DSA-44 checkpoint key v1\n");
        h.update(ed25519_seed);
        let seed = Zeroizing::new(<[u8; 32]>::from(h.finalize()));
        let key = Box::new(SigningKey::<MlDsa44>::from_seed(&(*seed).into()));
        let public: Box<[u8]> = key.expanded_key().verifying_key().encode().as_slice().into();
        MlDsaSigner {
            name: name.into(),
            key_id: ml_dsa_key_id(name, &public),
            key,
            public,
        }
    }

    /// The verifier key text `<name>+<hex key ID>+base64(0x06 || public key)`.
    pub fn verifier(&self) -> MlDsaVerifier {
        MlDsaVerifier::from_public_key(&self.name, &self.public).expect("an encoded ML-DSA key decodes")
    }

    /// The signature line (ending in `\n`) over `cp`, timestamp 0; `None` when the
    /// origin or name is too long for the message's length prefixes.
    pub(crate) fn sign_line(&self, cp: &Checkpoint) -> Option<String> {
        let message = cosigned_message(&self.name, 0, cp)?;
        let sig = self.key.expanded_key().sign_deterministic(&message, &[]).ok()?.encode();
        let mut raw = Vec::with_capacity(4 + 8 + ML_DSA_44_SIGNATURE_LEN);
        raw.extend_from_slice(&self.key_id);
        raw.extend_from_slice(&0u64.to_be_bytes());
        raw.extend_from_slice(sig.as_slice());
        let mut line = String::from("\u{2014} ");
        line.push_str(&self.name);
        line.push(' ');
        STANDARD.encode_string(&raw, &mut line);
        line.push('\n');
        Some(line)
    }
}

impl core::fmt::Debug for MlDsaSigner {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("MlDsaSigner")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// An ML-DSA-44 verifier key: checks a log's (or a cosigner's) ML-DSA-44 checkpoint
/// signatures.
#[derive(Clone, PartialEq, Eq)]
pub struct MlDsaVerifier {
    name: String,
    key_id: [u8; 4],
    public: Box<[u8]>,
}

impl MlDsaVerifier {
    /// From a name and the 1312-byte public key.
    pub fn from_public_key(name: &str, public: &[u8]) -> Option<MlDsaVerifier> {
        let encoded = EncodedVerifyingKey::<MlDsa44>::try_from(public).ok()?;
        // Decoding never fails for the right length; re-encoding must give the same
        // bytes, so one key has one text.
        if VerifyingKey::<MlDsa44>::decode(&encoded).encode().as_slice() != public {
            return None;
        }
        Some(MlDsaVerifier {
            name: name.into(),
            key_id: ml_dsa_key_id(name, public),
            public: public.into(),
        })
    }

    /// The key name signature lines must carry.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The 4-byte key ID signature lines must start with.
    pub fn key_id(&self) -> [u8; 4] {
        self.key_id
    }

    /// The 1312-byte public key.
    pub fn public_key(&self) -> &[u8] {
        &self.public
    }

    /// Checks one signature line's bytes (after the key ID: timestamp, signature) over `cp`.
    pub(crate) fn verify(&self, cp: &Checkpoint, raw: &[u8]) -> Result<(), NoteError> {
        if !cp.extensions.is_empty() {
            // The ML-DSA message does not cover extension lines: nothing would vouch
            // for them.
            return Err(NoteError::BadExtension);
        }
        if raw.len() != 8 + ML_DSA_44_SIGNATURE_LEN {
            return Err(NoteError::InvalidSignature);
        }
        let timestamp = u64::from_be_bytes(raw[..8].try_into().expect("8 bytes"));
        if timestamp > i64::MAX as u64 {
            return Err(NoteError::InvalidSignature);
        }
        let message = cosigned_message(&self.name, timestamp, cp).ok_or(NoteError::InvalidSignature)?;
        let encoded = EncodedSignature::<MlDsa44>::try_from(&raw[8..]).map_err(|_| NoteError::InvalidSignature)?;
        let sig = Signature::<MlDsa44>::decode(&encoded).ok_or(NoteError::InvalidSignature)?;
        let key =
            EncodedVerifyingKey::<MlDsa44>::try_from(&self.public[..]).map_err(|_| NoteError::InvalidSignature)?;
        if VerifyingKey::<MlDsa44>::decode(&key).verify_with_context(&message, &[], &sig) {
            Ok(())
        } else {
            Err(NoteError::InvalidSignature)
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::{verify_checkpoint, Attestor, NoteError, SignReply, SignRequest, SignerKey, VerifierKey};
    use alloc::string::ToString;

    const ORIGIN: &str = "example.com/log";

    fn signed(root: [u8; 32]) -> (alloc::string::String, VerifierKey, VerifierKey) {
        let key = SignerKey::from_seed(ORIGIN, [7; 32]).unwrap().with_ml_dsa();
        let (ed, pq) = (key.verifier(), key.ml_dsa_verifier());
        let mut attestor = Attestor::new(key, ORIGIN.into());
        let SignReply::Signed { note } = attestor.handle(&SignRequest { size: 10, root }) else {
            panic!("signed")
        };
        (note, ed, pq)
    }

    #[test]
    fn a_dual_signed_checkpoint_verifies_with_either_key() {
        let (note, ed, pq) = signed([1; 32]);
        assert_eq!(note.matches("\n\u{2014} example.com/log ").count(), 2, "{note}");
        for key in [&ed, &pq] {
            let cp = verify_checkpoint(key, note.as_bytes()).unwrap();
            assert_eq!((cp.size, cp.root), (10, [1; 32]));
        }
        // The ML-DSA verifier key round-trips through its text, and differs from the
        // Ed25519 one only in what it is.
        let text = pq.encode();
        assert!(text.len() > 1700 && text.starts_with("example.com/log+"), "{text}");
        assert_eq!(VerifierKey::parse(&text).unwrap(), pq);
        assert_eq!(pq.algorithm(), 0x06);
        assert_eq!(pq.public_key(), None);
        assert_eq!(pq.key_material().len(), 1 + 1312);
        // Deterministic: the same request signs the same note.
        assert_eq!(signed([1; 32]).0, note);
    }

    #[test]
    fn tampering_is_refused_by_the_ml_dsa_key() {
        let (note, _, pq) = signed([1; 32]);
        // Another root under the same signature lines.
        let other = signed([2; 32]).0;
        let forged = alloc::format!(
            "{}{}",
            &other[..other.find("\n\n").unwrap() + 2],
            &note[note.find("\n\n").unwrap() + 2..]
        );
        assert_eq!(
            verify_checkpoint(&pq, forged.as_bytes()),
            Err(NoteError::InvalidSignature)
        );
        // Only the Ed25519 line: the name signed, but not with the ML-DSA key.
        let ed_only = &note[..note.rfind("\u{2014} ").unwrap()];
        assert_eq!(
            verify_checkpoint(&pq, ed_only.as_bytes()),
            Err(NoteError::KeyHashMismatch)
        );
        // A flipped byte in the ML-DSA signature.
        let line_start = note.rfind("\u{2014} ").unwrap() + ORIGIN.len() + 5;
        let mut bytes = note.clone().into_bytes();
        bytes[line_start + 40] = if bytes[line_start + 40] == b'A' { b'B' } else { b'A' };
        assert_eq!(verify_checkpoint(&pq, &bytes), Err(NoteError::InvalidSignature));
        // Extension lines are not covered by the ML-DSA message: refused.
        let body_end = note.find("\n\n").unwrap() + 1;
        let extended = alloc::format!("{}ext\n{}", &note[..body_end], &note[body_end..]);
        assert_eq!(
            verify_checkpoint(&pq, extended.as_bytes()),
            Err(NoteError::BadExtension)
        );
        // A malformed key text is refused, not a panic.
        let text = pq.encode();
        for bad in [
            text.replace("+B", "+A"),
            text[..text.len() - 4].to_string(),
            alloc::format!("{text}AAAA"),
        ] {
            assert!(VerifierKey::parse(&bad).is_err(), "{bad}");
        }
    }
}
