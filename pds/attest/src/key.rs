//! Ed25519 note keys in the signed-note text formats: the signer key
//! (`PRIVATE+KEY+<name>+<hash>+<base64>`, the Go `note` package format) and
//! the verifier key (`<name>+<hash>+<base64>`), plus the 4-byte key hash.
//!
//! Must never: let private key bytes leave [`SignerKey`] except through
//! [`SignerKey::encode`], print them in `Debug`, or keep temporary copies of
//! them un-wiped; must never accept a key whose hash does not match its name
//! and public key.

use alloc::string::String;
use core::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, Zeroizing};

use crate::error::KeyError;
use crate::mldsa::{MlDsaSigner, MlDsaVerifier, ALG_ML_DSA_44, ML_DSA_44_PUBLIC_KEY_LEN};

/// Signature-type byte of Ed25519 in the signed-note specification.
pub const ALG_ED25519: u8 = 0x01;

/// Prefix of a signer key string.
const PRIVATE_PREFIX: &str = "PRIVATE+KEY+";

/// Whether `name` may name a note key: non-empty, no whitespace (Unicode
/// White_Space, as Go's `unicode.IsSpace`), no `+`, and (stricter than the
/// specification, because such a note could never be verified) no control
/// character.
pub fn is_valid_key_name(name: &str) -> bool {
    !name.is_empty() && !name.chars().any(|c| c == '+' || c.is_whitespace() || c.is_control())
}

/// The signed-note key ID rule for every signature type:
/// `SHA-256(name || 0x0A || signature type || public key)[..4]`.
pub(crate) fn note_key_id(name: &str, signature_type: u8, public_key: &[u8]) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([b'\n', signature_type]);
    h.update(public_key);
    let digest = h.finalize();
    [digest[0], digest[1], digest[2], digest[3]]
}

/// The signed-note key hash of an Ed25519 key:
/// `SHA-256(name || 0x0A || 0x01 || public key)[..4]`.
pub fn ed25519_key_hash(name: &str, public_key: &[u8; 32]) -> [u8; 4] {
    note_key_id(name, ALG_ED25519, public_key)
}

/// Appends the 8 lowercase hex digits of `hash` to `out`.
pub(crate) fn push_hex(out: &mut String, hash: &[u8; 4]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for b in hash {
        out.push(HEX[usize::from(b >> 4)] as char);
        out.push(HEX[usize::from(b & 0x0f)] as char);
    }
}

/// Parses exactly 8 lowercase hex digits.
pub(crate) fn parse_hex_hash(s: &str) -> Result<[u8; 4], KeyError> {
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        }
    }
    let b = s.as_bytes();
    if b.len() != 8 {
        return Err(KeyError::BadKeyHash);
    }
    let mut out = [0u8; 4];
    for (i, pair) in b.chunks_exact(2).enumerate() {
        let hi = nibble(pair[0]).ok_or(KeyError::BadKeyHash)?;
        let lo = nibble(pair[1]).ok_or(KeyError::BadKeyHash)?;
        out[i] = (hi << 4) | lo;
    }
    Ok(out)
}

/// Decodes the `base64(0x01 || 32 bytes)` key field into the 32 key bytes,
/// wiping every intermediate buffer (the field may be a private seed).
fn decode_key_field(field: &str) -> Result<Zeroizing<[u8; 32]>, KeyError> {
    decode_key_field_of(field, ALG_ED25519)
}

/// Decodes `base64(alg || 32-byte key)` for a given signature-type byte.
pub(crate) fn decode_key_field_of(field: &str, alg: u8) -> Result<Zeroizing<[u8; 32]>, KeyError> {
    // A longer field cannot be a 33-byte key; refusing it early keeps the
    // decode buffer on the stack and bounded.
    if field.len() > 64 {
        return Err(KeyError::BadKeyLength);
    }
    let mut buf = Zeroizing::new([0u8; 48]);
    let n = STANDARD
        .decode_slice(field, &mut buf[..])
        .map_err(|_| KeyError::BadBase64)?;
    if n == 0 {
        return Err(KeyError::BadKeyLength);
    }
    if buf[0] != alg {
        return Err(KeyError::UnknownAlgorithm);
    }
    if n != 33 {
        return Err(KeyError::BadKeyLength);
    }
    let mut key = Zeroizing::new([0u8; 32]);
    key.copy_from_slice(&buf[1..33]);
    Ok(key)
}

/// Encodes `0x01 || key` as standard base64, wiping the temporary buffer.
fn encode_key_field(out: &mut String, key: &[u8; 32]) {
    encode_key_field_of(out, key, ALG_ED25519)
}

/// Encodes `alg || key` as standard base64, wiping the temporary buffer.
pub(crate) fn encode_key_field_of(out: &mut String, key: &[u8; 32], alg: u8) {
    let mut buf = Zeroizing::new([0u8; 33]);
    buf[0] = alg;
    buf[1..].copy_from_slice(key);
    STANDARD.encode_string(&buf[..], out);
}

/// The private half of a note key: signs note bodies.
///
/// It exists so that exactly one type ever holds private key bytes: the
/// Ed25519 seed lives here (wiped on drop by `ed25519-dalek`'s `zeroize`
/// support), is never printed by `Debug`, and the type is deliberately not
/// `Clone`.
pub struct SignerKey {
    name: String,
    key_hash: [u8; 4],
    signing: SigningKey,
    /// The ML-DSA-44 key derived from the same seed, when checkpoints carry both
    /// signatures ([`SignerKey::with_ml_dsa`]).
    ml_dsa: Option<MlDsaSigner>,
}

impl SignerKey {
    /// Builds a signer from a key name and a 32-byte Ed25519 seed (the
    /// adapter reads the seed from its secret store).
    pub fn from_seed(name: &str, seed: [u8; 32]) -> Result<Self, KeyError> {
        let mut seed = seed;
        let result = Self::from_seed_ref(name, &seed);
        seed.zeroize();
        result
    }

    fn from_seed_ref(name: &str, seed: &[u8; 32]) -> Result<Self, KeyError> {
        if !is_valid_key_name(name) {
            return Err(KeyError::BadName);
        }
        let signing = SigningKey::from_bytes(seed);
        let key_hash = ed25519_key_hash(name, signing.verifying_key().as_bytes());
        Ok(SignerKey {
            name: String::from(name),
            key_hash,
            signing,
            ml_dsa: None,
        })
    }

    /// This key with its ML-DSA-44 companion (derived from the same seed): checkpoints it
    /// signs then carry an ML-DSA-44 signature line after the Ed25519 one (C2SP
    /// tlog-checkpoint's recommendation), and a verifier may check either.
    pub fn with_ml_dsa(mut self) -> Self {
        let seed = Zeroizing::new(self.signing.to_bytes());
        self.ml_dsa = Some(MlDsaSigner::derive(&self.name, &seed));
        self
    }

    /// The ML-DSA-44 verifier key of [`SignerKey::with_ml_dsa`]'s companion (derived
    /// whether or not this key signs with it).
    pub fn ml_dsa_verifier(&self) -> VerifierKey {
        let verifier = match &self.ml_dsa {
            Some(signer) => signer.verifier(),
            None => MlDsaSigner::derive(&self.name, &Zeroizing::new(self.signing.to_bytes())).verifier(),
        };
        VerifierKey {
            name: self.name.clone(),
            key_hash: verifier.key_id(),
            key: PublicKey::MlDsa44(verifier),
        }
    }

    /// The ML-DSA-44 companion, when this key signs with it.
    pub(crate) fn ml_dsa(&self) -> Option<&MlDsaSigner> {
        self.ml_dsa.as_ref()
    }

    /// Parses a Go-format signer key `PRIVATE+KEY+<name>+<hash>+<base64>`,
    /// checking that the hash matches the public key derived from the seed.
    pub fn parse(private_key_string: &str) -> Result<Self, KeyError> {
        let rest = private_key_string
            .strip_prefix(PRIVATE_PREFIX)
            .ok_or(KeyError::MissingPrivatePrefix)?;
        let mut parts = rest.splitn(3, '+');
        let (Some(name), Some(hash16), Some(key64)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(KeyError::Malformed);
        };
        if !is_valid_key_name(name) {
            return Err(KeyError::BadName);
        }
        let hash = parse_hex_hash(hash16)?;
        let seed = decode_key_field(key64)?;
        let key = Self::from_seed_ref(name, &seed)?;
        if key.key_hash != hash {
            return Err(KeyError::KeyHashMismatch);
        }
        Ok(key)
    }

    /// Encodes the key as `PRIVATE+KEY+<name>+<hash>+<base64(0x01||seed)>`.
    ///
    /// The returned string is secret: it is for writing the key to its
    /// store once, never for logs.
    pub fn encode(&self) -> String {
        let mut out = String::with_capacity(PRIVATE_PREFIX.len() + self.name.len() + 10 + 44);
        out.push_str(PRIVATE_PREFIX);
        out.push_str(&self.name);
        out.push('+');
        push_hex(&mut out, &self.key_hash);
        out.push('+');
        let seed = Zeroizing::new(self.signing.to_bytes());
        encode_key_field(&mut out, &seed);
        out
    }

    /// The public half, to hand to whoever verifies this signer's notes.
    pub fn verifier(&self) -> VerifierKey {
        VerifierKey {
            name: self.name.clone(),
            key_hash: self.key_hash,
            key: PublicKey::Ed25519(self.signing.verifying_key()),
        }
    }

    /// The key name that appears in signature lines.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The 4-byte key hash that prefixes every signature of this key.
    pub fn key_hash(&self) -> [u8; 4] {
        self.key_hash
    }

    /// Signs `msg` (note text); private to the crate so that every signature
    /// goes through the note formatting rules.
    pub(crate) fn sign_raw(&self, msg: &[u8]) -> [u8; 64] {
        self.signing.sign(msg).to_bytes()
    }
}

impl fmt::Debug for SignerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut hash = String::new();
        push_hex(&mut hash, &self.key_hash);
        f.debug_struct("SignerKey")
            .field("name", &self.name)
            .field("key_hash", &hash)
            .finish_non_exhaustive()
    }
}

/// The public half of a note key: checks signatures made by one signer.
///
/// It exists so verifiers (clients, auditors, the adapter restoring its
/// state) can be configured with a single text string and nothing secret.
#[derive(Clone, PartialEq, Eq)]
pub struct VerifierKey {
    name: String,
    key_hash: [u8; 4],
    key: PublicKey,
}

/// The public key of a [`VerifierKey`]: Ed25519 signs the note text, ML-DSA-44 the
/// checkpoint's `cosigned_message` (see `crate::mldsa`).
#[derive(Clone, PartialEq, Eq)]
enum PublicKey {
    Ed25519(VerifyingKey),
    MlDsa44(MlDsaVerifier),
}

impl VerifierKey {
    /// Parses `<name>+<8 lowercase hex key hash>+<base64(0x01 || public key)>`, or an
    /// ML-DSA-44 key `<name>+<hash>+<base64(0x06 || 1312-byte public key)>`.
    pub fn parse(vkey: &str) -> Result<Self, KeyError> {
        let mut parts = vkey.splitn(3, '+');
        let (Some(name), Some(hash16), Some(key64)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(KeyError::Malformed);
        };
        if !is_valid_key_name(name) {
            return Err(KeyError::BadName);
        }
        let hash = parse_hex_hash(hash16)?;
        if key64.len() > 64 {
            return Self::parse_ml_dsa(name, hash, key64);
        }
        let key = decode_key_field(key64)?;
        if ed25519_key_hash(name, &key) != hash {
            return Err(KeyError::KeyHashMismatch);
        }
        Self::from_public_key(name, *key)
    }

    fn parse_ml_dsa(name: &str, hash: [u8; 4], key64: &str) -> Result<Self, KeyError> {
        // base64 of 1 + 1312 bytes is 1752 characters.
        if key64.len() != 1752 {
            return Err(KeyError::BadKeyLength);
        }
        let raw = STANDARD.decode(key64).map_err(|_| KeyError::BadBase64)?;
        if raw[0] != ALG_ML_DSA_44 {
            return Err(KeyError::UnknownAlgorithm);
        }
        if raw.len() != 1 + ML_DSA_44_PUBLIC_KEY_LEN {
            return Err(KeyError::BadKeyLength);
        }
        let verifier = MlDsaVerifier::from_public_key(name, &raw[1..]).ok_or(KeyError::InvalidPublicKey)?;
        if verifier.key_id() != hash {
            return Err(KeyError::KeyHashMismatch);
        }
        Ok(VerifierKey {
            name: String::from(name),
            key_hash: hash,
            key: PublicKey::MlDsa44(verifier),
        })
    }

    /// Builds a verifier from a name and raw 32-byte Ed25519 public key.
    pub fn from_public_key(name: &str, public_key: [u8; 32]) -> Result<Self, KeyError> {
        if !is_valid_key_name(name) {
            return Err(KeyError::BadName);
        }
        let key = VerifyingKey::from_bytes(&public_key).map_err(|_| KeyError::InvalidPublicKey)?;
        if key.is_weak() {
            return Err(KeyError::InvalidPublicKey);
        }
        Ok(VerifierKey {
            name: String::from(name),
            key_hash: ed25519_key_hash(name, &public_key),
            key: PublicKey::Ed25519(key),
        })
    }

    /// Encodes the key as `<name>+<hash>+<base64(0x01 || public key)>` (an ML-DSA-44
    /// key: `0x06 || public key`).
    pub fn encode(&self) -> String {
        let mut out = String::with_capacity(self.name.len() + 10 + 44);
        out.push_str(&self.name);
        out.push('+');
        push_hex(&mut out, &self.key_hash);
        out.push('+');
        match &self.key {
            PublicKey::Ed25519(key) => encode_key_field(&mut out, key.as_bytes()),
            PublicKey::MlDsa44(v) => {
                let mut raw = alloc::vec::Vec::with_capacity(1 + ML_DSA_44_PUBLIC_KEY_LEN);
                raw.push(ALG_ML_DSA_44);
                raw.extend_from_slice(v.public_key());
                STANDARD.encode_string(&raw, &mut out);
            }
        }
        out
    }

    /// The signature-type byte of the key: [`ALG_ED25519`] or `0x06` (ML-DSA-44).
    pub fn algorithm(&self) -> u8 {
        match self.key {
            PublicKey::Ed25519(_) => ALG_ED25519,
            PublicKey::MlDsa44(_) => ALG_ML_DSA_44,
        }
    }

    /// The ML-DSA-44 key, for an ML-DSA-44 verifier.
    pub(crate) fn ml_dsa(&self) -> Option<&MlDsaVerifier> {
        match &self.key {
            PublicKey::MlDsa44(v) => Some(v),
            PublicKey::Ed25519(_) => None,
        }
    }

    /// The key name signature lines must carry.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The 4-byte key hash signature lines must start with.
    pub fn key_hash(&self) -> [u8; 4] {
        self.key_hash
    }

    /// The raw 32-byte Ed25519 public key (`None` for an ML-DSA-44 key).
    pub fn public_key(&self) -> Option<[u8; 32]> {
        match &self.key {
            PublicKey::Ed25519(key) => Some(key.to_bytes()),
            PublicKey::MlDsa44(_) => None,
        }
    }

    /// The signature type byte followed by the raw public key: what makes two keys the
    /// same key whatever their names.
    pub fn key_material(&self) -> alloc::vec::Vec<u8> {
        let mut out = alloc::vec![self.algorithm()];
        match &self.key {
            PublicKey::Ed25519(key) => out.extend_from_slice(key.as_bytes()),
            PublicKey::MlDsa44(v) => out.extend_from_slice(v.public_key()),
        }
        out
    }

    /// Checks an Ed25519 signature over `msg` (strict RFC 8032 rules:
    /// canonical scalar, no small-order points); an ML-DSA-44 key signs no note text.
    pub(crate) fn verify_raw(&self, msg: &[u8], sig: &[u8]) -> bool {
        let PublicKey::Ed25519(key) = &self.key else {
            return false;
        };
        let Ok(bytes) = <[u8; 64]>::try_from(sig) else {
            return false;
        };
        let sig = ed25519_dalek::Signature::from_bytes(&bytes);
        key.verify_strict(msg, &sig).is_ok()
    }
}

impl fmt::Debug for VerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("VerifierKey").field(&self.encode()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The seed is wiped when a `SignerKey` drops: its only field holding
    /// private bytes is `ed25519-dalek`'s `SigningKey`, which (with the
    /// `zeroize` feature this crate enables) zeroizes itself on drop.
    #[test]
    fn signing_key_zeroizes_on_drop() {
        fn assert_zeroize_on_drop<T: zeroize::ZeroizeOnDrop>() {}
        assert_zeroize_on_drop::<SigningKey>();
    }

    #[test]
    fn hex_round_trip() {
        let mut s = String::new();
        push_hex(&mut s, &[0x00, 0x9f, 0xa0, 0xff]);
        assert_eq!(s, "009fa0ff");
        assert_eq!(parse_hex_hash(&s), Ok([0x00, 0x9f, 0xa0, 0xff]));
        assert_eq!(parse_hex_hash("009FA0FF"), Err(KeyError::BadKeyHash));
        assert_eq!(parse_hex_hash("009fa0f"), Err(KeyError::BadKeyHash));
        assert_eq!(parse_hex_hash("009fa0fg"), Err(KeyError::BadKeyHash));
        assert_eq!(parse_hex_hash("+09fa0ff"), Err(KeyError::BadKeyHash));
    }
}
