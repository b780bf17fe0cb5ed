//! C2SP tlog-cosignature (<https://c2sp.org/tlog-cosignature>), Ed25519 `cosignature/v1`:
//! what a witness signs when it has checked a checkpoint is consistent with everything it
//! saw of that log, and what a log's clients verify. The signed message is
//! `cosignature/v1\ntime <T>\n` followed by the checkpoint's note body; the signature line
//! is `— <name> base64(key ID || u64 big-endian T || 64-byte signature)`, with the key ID
//! `SHA-256(name || "\n" || 0x04 || public key)[:4]` and verifier keys
//! `<name>+<hex key ID>+base64(0x04 || public key)`.

use alloc::string::String;
use alloc::vec::Vec;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use zeroize::Zeroize;

use crate::error::{KeyError, NoteError};
use crate::key::{decode_key_field_of, encode_key_field_of, is_valid_key_name, parse_hex_hash, push_hex};
use crate::note::split_note;

/// Signature-type byte of Ed25519 `cosignature/v1`.
pub const ALG_COSIGNATURE_V1: u8 = 0x04;

/// `SHA-256(name || 0x0A || 0x04 || public key)[..4]`.
pub fn cosignature_key_id(name: &str, public_key: &[u8; 32]) -> [u8; 4] {
    crate::key::note_key_id(name, ALG_COSIGNATURE_V1, public_key)
}

fn message(body: &str, time: u64) -> Vec<u8> {
    let mut m = Vec::with_capacity(body.len() + 40);
    m.extend_from_slice(b"cosignature/v1\ntime ");
    m.extend_from_slice(alloc::format!("{time}").as_bytes());
    m.push(b'\n');
    m.extend_from_slice(body.as_bytes());
    m
}

/// A witness's private key: makes cosignature lines. Not `Clone`, never printed.
pub struct CosignerKey {
    name: String,
    key_id: [u8; 4],
    signing: SigningKey,
}

impl CosignerKey {
    /// A cosigner named `name` (a schema-less URL) from a 32-byte Ed25519 seed.
    pub fn from_seed(name: &str, seed: [u8; 32]) -> Result<CosignerKey, KeyError> {
        let mut seed = seed;
        if !is_valid_key_name(name) {
            seed.zeroize();
            return Err(KeyError::BadName);
        }
        let signing = SigningKey::from_bytes(&seed);
        seed.zeroize();
        let key_id = cosignature_key_id(name, signing.verifying_key().as_bytes());
        Ok(CosignerKey {
            name: name.into(),
            key_id,
            signing,
        })
    }

    /// Parses `PRIVATE+KEY+<name>+<hex key ID>+base64(0x04 || seed)`.
    pub fn parse(text: &str) -> Result<CosignerKey, KeyError> {
        let rest = text.trim().strip_prefix("PRIVATE+KEY+").ok_or(KeyError::Malformed)?;
        // The name has no `+`; the base64 key may.
        let mut parts = rest.splitn(3, '+');
        let (Some(name), Some(hash), Some(key64)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(KeyError::Malformed);
        };
        let id = parse_hex_hash(hash)?;
        let seed = decode_key_field_of(key64, ALG_COSIGNATURE_V1)?;
        let key = CosignerKey::from_seed(name, *seed)?;
        if key.key_id != id {
            return Err(KeyError::KeyHashMismatch);
        }
        Ok(key)
    }

    /// The private key string [`CosignerKey::parse`] reads (keep it secret).
    pub fn encode(&self) -> String {
        let mut out = String::from("PRIVATE+KEY+");
        out.push_str(&self.name);
        out.push('+');
        push_hex(&mut out, &self.key_id);
        out.push('+');
        encode_key_field_of(&mut out, &self.signing.to_bytes(), ALG_COSIGNATURE_V1);
        out
    }

    /// The public verifier key.
    pub fn verifier(&self) -> CosignatureVerifier {
        CosignatureVerifier {
            name: self.name.clone(),
            key_id: self.key_id,
            key: self.signing.verifying_key(),
        }
    }

    /// The cosignature line (ending in `\n`) over a checkpoint whose note body (its text up
    /// to the blank line, ending in `\n`) is `body`, made at POSIX time `time`.
    pub fn cosign(&self, body: &str, time: u64) -> String {
        let sig = self.signing.sign(&message(body, time)).to_bytes();
        let mut raw = [0u8; 76];
        raw[..4].copy_from_slice(&self.key_id);
        raw[4..12].copy_from_slice(&time.to_be_bytes());
        raw[12..].copy_from_slice(&sig);
        let mut line = String::from("\u{2014} ");
        line.push_str(&self.name);
        line.push(' ');
        STANDARD.encode_string(raw, &mut line);
        line.push('\n');
        line
    }
}

/// A witness's public key, as clients and policies name it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CosignatureVerifier {
    name: String,
    key_id: [u8; 4],
    key: VerifyingKey,
}

impl CosignatureVerifier {
    /// Parses `<name>+<hex key ID>+base64(0x04 || public key)`.
    pub fn parse(vkey: &str) -> Result<CosignatureVerifier, KeyError> {
        let mut parts = vkey.trim().splitn(3, '+');
        let (Some(name), Some(hash), Some(key64)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(KeyError::Malformed);
        };
        if !is_valid_key_name(name) {
            return Err(KeyError::BadName);
        }
        let id = parse_hex_hash(hash)?;
        let public = decode_key_field_of(key64, ALG_COSIGNATURE_V1)?;
        if cosignature_key_id(name, &public) != id {
            return Err(KeyError::KeyHashMismatch);
        }
        let key = VerifyingKey::from_bytes(&public).map_err(|_| KeyError::InvalidPublicKey)?;
        if key.is_weak() {
            return Err(KeyError::InvalidPublicKey);
        }
        Ok(CosignatureVerifier {
            name: name.into(),
            key_id: id,
            key,
        })
    }

    /// The verifier key string.
    pub fn encode(&self) -> String {
        let mut out = self.name.clone();
        out.push('+');
        push_hex(&mut out, &self.key_id);
        out.push('+');
        encode_key_field_of(&mut out, self.key.as_bytes(), ALG_COSIGNATURE_V1);
        out
    }

    /// The witness's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The raw 32-byte Ed25519 public key (two vkeys wrapping it are the same witness).
    pub fn public_key(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    /// Finds this witness's cosignature among `note`'s signature lines and checks it:
    /// the time it was made, or why not. Other lines are ignored.
    pub fn verify(&self, note: &[u8]) -> Result<u64, NoteError> {
        let text = core::str::from_utf8(note).map_err(|_| NoteError::NotUtf8)?;
        let (body, sigs) = split_note(text)?;
        for line in sigs.lines() {
            let Some(rest) = line.strip_prefix("\u{2014} ") else {
                return Err(NoteError::BadSignatureLine);
            };
            let Some((name, b64)) = rest.split_once(' ') else {
                return Err(NoteError::BadSignatureLine);
            };
            if name != self.name {
                continue;
            }
            let raw = STANDARD.decode(b64).map_err(|_| NoteError::BadSignatureBase64)?;
            if raw.len() != 76 || raw[..4] != self.key_id {
                continue;
            }
            let time = u64::from_be_bytes(raw[4..12].try_into().expect("8 bytes"));
            let sig = ed25519_dalek::Signature::from_bytes(&raw[12..].try_into().expect("64 bytes"));
            return match self.key.verify_strict(&message(body, time), &sig) {
                Ok(()) => Ok(time),
                Err(_) => Err(NoteError::InvalidSignature),
            };
        }
        Err(NoteError::NoSignatures)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &str = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";

    #[test]
    fn cosignatures_round_trip_and_refuse_tampering() {
        let key = CosignerKey::from_seed("witness.example/w1", [9; 32]).unwrap();
        let parsed = CosignerKey::parse(&key.encode()).unwrap();
        assert_eq!(parsed.verifier(), key.verifier());
        // Keys whose base64 holds a `+` parse too.
        for seed in 0..64u8 {
            let k = CosignerKey::from_seed("w", [seed; 32]).unwrap();
            assert_eq!(CosignerKey::parse(&k.encode()).unwrap().verifier(), k.verifier());
            assert_eq!(
                CosignatureVerifier::parse(&k.verifier().encode()).unwrap(),
                k.verifier()
            );
        }
        let v = CosignatureVerifier::parse(&key.verifier().encode()).unwrap();
        let line = key.cosign(BODY, 1_679_315_147);
        assert!(line.starts_with("\u{2014} witness.example/w1 ") && line.ends_with('\n'));
        let note = alloc::format!("{BODY}\n\u{2014} example.com/behind-the-sofa AAAA\n{line}");
        assert_eq!(v.verify(note.as_bytes()), Ok(1_679_315_147));
        let other = alloc::format!("{}\n{line}", BODY.replace("20852163", "20852164"));
        assert_eq!(v.verify(other.as_bytes()), Err(NoteError::InvalidSignature));
        let stranger = CosignerKey::from_seed("witness.example/w2", [9; 32])
            .unwrap()
            .verifier();
        assert_eq!(stranger.verify(note.as_bytes()), Err(NoteError::NoSignatures));
        assert!(CosignatureVerifier::parse("a+00000000+AAAA").is_err());
    }
}
