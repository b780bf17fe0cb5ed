//! C2SP signed notes (<https://c2sp.org/signed-note>) with one Ed25519 key:
//! produce `body || "\n" || "— <name> <base64(hash || sig)>\n"` and check
//! that a received note carries a valid signature from one given key.
//!
//! Must never: return a body that was not covered by a verified signature,
//! accept a signature line from the verifier's key that fails to verify,
//! read past [`MAX_NOTE_LEN`] bytes of input, or do more than
//! [`MAX_SIGNATURES`] lines of work.

use alloc::string::String;
use alloc::vec::Vec;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use crate::error::NoteError;
use crate::key::{is_valid_key_name, SignerKey, VerifierKey};

/// Largest note (text, blank line and signature lines) accepted or produced,
/// in bytes. A checkpoint with a handful of signatures is a few hundred
/// bytes; 64 KiB leaves room for extension lines and post-quantum
/// cosignatures while bounding the work an untrusted note can cause.
pub const MAX_NOTE_LEN: usize = 64 * 1024;

/// Most signature lines a note may carry (the Go `note` package's limit;
/// the specification requires accepting at least 16).
pub const MAX_SIGNATURES: usize = 100;

/// Start of every signature line: U+2014 EM DASH, then a space.
const SIG_PREFIX: &str = "\u{2014} ";

/// Length of `base64(4-byte hash || 64-byte Ed25519 signature)`.
const ED25519_SIG_B64_LEN: usize = 92;

/// Rejects ASCII control characters other than newline, which signed notes
/// must not contain.
pub(crate) fn check_note_chars(text: &str) -> Result<(), NoteError> {
    if text.bytes().any(|b| b < 0x20 && b != b'\n') {
        return Err(NoteError::ControlCharacter);
    }
    Ok(())
}

/// Checks that `body` can be the text of a note: non-empty, ends in a
/// newline, no control characters other than newline.
pub(crate) fn check_body(body: &str) -> Result<(), NoteError> {
    if !body.ends_with('\n') {
        return Err(NoteError::BodyNotNewlineTerminated);
    }
    check_note_chars(body)
}

/// Signs `body` (which must end in `'\n'`) and returns the complete note:
/// the body, a blank line and one signature line.
///
/// It exists so callers never assemble signature lines by hand.
pub fn sign_note(key: &SignerKey, body: &str) -> Result<String, NoteError> {
    check_body(body)?;
    let note_len = body.len() + 1 + SIG_PREFIX.len() + key.name().len() + 1 + ED25519_SIG_B64_LEN + 1;
    if note_len > MAX_NOTE_LEN {
        return Err(NoteError::TooLarge);
    }
    let mut raw = [0u8; 68];
    raw[..4].copy_from_slice(&key.key_hash());
    raw[4..].copy_from_slice(&key.sign_raw(body.as_bytes()));

    let mut note = String::with_capacity(note_len);
    note.push_str(body);
    note.push('\n');
    note.push_str(SIG_PREFIX);
    note.push_str(key.name());
    note.push(' ');
    STANDARD.encode_string(raw, &mut note);
    note.push('\n');
    debug_assert_eq!(note.len(), note_len);
    Ok(note)
}

/// One parsed signature line.
struct SigLine<'a> {
    name: &'a str,
    hash: [u8; 4],
    sig: Vec<u8>,
}

/// Parses `— <name> <base64>` (without its newline).
fn parse_sig_line(line: &str) -> Result<SigLine<'_>, NoteError> {
    let rest = line.strip_prefix(SIG_PREFIX).ok_or(NoteError::BadSignatureLine)?;
    let (name, b64) = rest.split_once(' ').ok_or(NoteError::BadSignatureLine)?;
    if !is_valid_key_name(name) {
        return Err(NoteError::BadKeyName);
    }
    if b64.is_empty() {
        return Err(NoteError::BadSignatureLine);
    }
    let raw = STANDARD.decode(b64).map_err(|_| NoteError::BadSignatureBase64)?;
    if raw.len() < 5 {
        return Err(NoteError::SignatureTooShort);
    }
    let hash = [raw[0], raw[1], raw[2], raw[3]];
    Ok(SigLine {
        name,
        hash,
        sig: raw[4..].to_vec(),
    })
}

/// Splits a note into its text (ending in `'\n'`) and its signature lines: the text
/// is separated from the signatures by the *last* blank line. Checks nothing else.
pub(crate) fn split_note(text: &str) -> Result<(&str, &str), NoteError> {
    let split = text.rfind("\n\n").ok_or(NoteError::MissingBlankLine)?;
    Ok((&text[..=split], &text[split + 2..]))
}

/// Checks `note` and returns its text (the body, ending in `'\n'`) if it
/// carries a valid signature from `key`.
///
/// Signature lines from other keys (another name, or another key hash under
/// the same name) are parsed for well-formedness and otherwise ignored, as
/// the specification requires; every line from `key` must verify. The whole
/// note is parsed before any signature is checked, so a malformed note is
/// rejected the same way wherever the defect is.
pub fn verify_note(key: &VerifierKey, note: &[u8]) -> Result<String, NoteError> {
    let (body, ours) = signatures_by(key, note)?;
    for sig in &ours {
        if !key.verify_raw(body.as_bytes(), sig) {
            return Err(NoteError::InvalidSignature);
        }
    }
    Ok(String::from(body))
}

/// The note's text and the bytes (after the key hash) of every signature line from
/// `key`'s name and key hash, after checking the whole note's shape; at least one.
pub(crate) fn signatures_by<'a>(key: &VerifierKey, note: &'a [u8]) -> Result<(&'a str, Vec<Vec<u8>>), NoteError> {
    if note.len() > MAX_NOTE_LEN {
        return Err(NoteError::TooLarge);
    }
    let text = core::str::from_utf8(note).map_err(|_| NoteError::NotUtf8)?;
    check_note_chars(text)?;

    let (body, sigs) = split_note(text)?;
    if sigs.is_empty() {
        return Err(NoteError::NoSignatures);
    }
    let Some(sigs) = sigs.strip_suffix('\n') else {
        return Err(NoteError::UnterminatedSignatureLine);
    };
    if sigs.split('\n').count() > MAX_SIGNATURES {
        return Err(NoteError::TooManySignatures);
    }

    let mut ours: Vec<Vec<u8>> = Vec::new();
    let mut name_with_other_hash = false;
    for line in sigs.split('\n') {
        let parsed = parse_sig_line(line)?;
        if parsed.name == key.name() {
            if parsed.hash == key.key_hash() {
                ours.push(parsed.sig);
            } else {
                name_with_other_hash = true;
            }
        }
    }

    if ours.is_empty() {
        return Err(if name_with_other_hash {
            NoteError::KeyHashMismatch
        } else {
            NoteError::NoSignatureFromKey
        });
    }
    Ok((body, ours))
}
