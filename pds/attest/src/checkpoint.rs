//! Transparency-log checkpoints (<https://c2sp.org/tlog-checkpoint>): the
//! note body `<origin>\n<size>\n<base64 root>\n[<extension>\n]*`, its exact
//! parser, and signing/verifying a checkpoint as a signed note.
//!
//! Must never: accept a body that does not re-encode to the same bytes
//! (non-canonical size or base64, empty lines), or return a checkpoint from
//! a note whose signature did not verify.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use crate::error::NoteError;
use crate::key::{SignerKey, VerifierKey};
use crate::note::{check_body, sign_note, signatures_by, verify_note, MAX_NOTE_LEN};

/// A log's signed statement "my tree of `size` leaves has root `root`".
///
/// It exists as a plain value so the sequencer, the attestor and clients
/// share one exact text encoding of a tree head.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Checkpoint {
    /// Log identity, e.g. `example.com/log42`; non-empty, one line.
    pub origin: String,
    /// Number of leaves in the tree.
    pub size: u64,
    /// RFC 6962 Merkle tree hash at `size`.
    pub root: [u8; 32],
    /// Opaque extension lines (without their newline); each non-empty.
    pub extensions: Vec<String>,
}

/// Whether `line` may be a single non-empty body line.
fn is_valid_line(line: &str) -> bool {
    !line.is_empty() && !line.bytes().any(|b| b < 0x20)
}

/// Parses canonical decimal: digits only, no leading zero unless `0`.
fn parse_size(s: &str) -> Result<u64, NoteError> {
    let b = s.as_bytes();
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) || (b.len() > 1 && b[0] == b'0') {
        return Err(NoteError::BadSize);
    }
    s.parse::<u64>().map_err(|_| NoteError::BadSize)
}

impl Checkpoint {
    /// The exact note text for this checkpoint. It does not validate: use
    /// [`Checkpoint::validate`] (or [`sign_checkpoint`]) for values that did
    /// not come from [`Checkpoint::parse_body`].
    pub fn body(&self) -> String {
        let mut out = format!("{}\n{}\n", self.origin, self.size);
        STANDARD.encode_string(self.root, &mut out);
        out.push('\n');
        for ext in &self.extensions {
            out.push_str(ext);
            out.push('\n');
        }
        out
    }

    /// Checks that [`Checkpoint::body`] yields a body that parses back to
    /// this exact value and fits in a note.
    pub fn validate(&self) -> Result<(), NoteError> {
        if !is_valid_line(&self.origin) {
            return Err(NoteError::BadOrigin);
        }
        if !self.extensions.iter().all(|e| is_valid_line(e)) {
            return Err(NoteError::BadExtension);
        }
        let len = self.origin.len()
            + 1
            + 20 // u64 decimal at most
            + 1
            + 44
            + 1
            + self.extensions.iter().map(|e| e.len() + 1).sum::<usize>();
        if len > MAX_NOTE_LEN {
            return Err(NoteError::TooLarge);
        }
        Ok(())
    }

    /// Parses a checkpoint body (the note text, ending in `'\n'`), rejecting
    /// anything that [`Checkpoint::body`] would not produce.
    pub fn parse_body(text: &str) -> Result<Checkpoint, NoteError> {
        if text.len() > MAX_NOTE_LEN {
            return Err(NoteError::TooLarge);
        }
        check_body(text)?;
        let mut lines = text[..text.len() - 1].split('\n');
        let origin = lines.next().unwrap_or("");
        let size_line = lines.next();
        let root_line = lines.next();
        let (Some(size_line), Some(root_line)) = (size_line, root_line) else {
            return Err(NoteError::TooFewLines);
        };
        if origin.is_empty() {
            return Err(NoteError::BadOrigin);
        }
        let size = parse_size(size_line)?;
        let root_bytes = STANDARD.decode(root_line).map_err(|_| NoteError::BadRootBase64)?;
        let root: [u8; 32] = root_bytes.as_slice().try_into().map_err(|_| NoteError::BadRootLength)?;
        let mut extensions = Vec::new();
        for ext in lines {
            if ext.is_empty() {
                return Err(NoteError::BadExtension);
            }
            extensions.push(String::from(ext));
        }
        Ok(Checkpoint {
            origin: String::from(origin),
            size,
            root,
            extensions,
        })
    }
}

/// Validates `checkpoint` and signs its body, returning the signed note: the Ed25519
/// signature line, then the ML-DSA-44 one when the key has that companion
/// ([`SignerKey::with_ml_dsa`]).
pub fn sign_checkpoint(key: &SignerKey, checkpoint: &Checkpoint) -> Result<String, NoteError> {
    checkpoint.validate()?;
    let mut note = sign_note(key, &checkpoint.body())?;
    if let Some(pq) = key.ml_dsa() {
        if !checkpoint.extensions.is_empty() {
            // The ML-DSA-44 message would not cover them.
            return Err(NoteError::BadExtension);
        }
        note.push_str(&pq.sign_line(checkpoint).ok_or(NoteError::BadOrigin)?);
        if note.len() > MAX_NOTE_LEN {
            return Err(NoteError::TooLarge);
        }
    }
    Ok(note)
}

/// Verifies `note` with `key` and parses its body as a checkpoint: an Ed25519 key
/// checks its signature over the note text, an ML-DSA-44 key its signature over the
/// checkpoint's `cosigned_message` (and refuses extension lines, which that leaves
/// unsigned).
///
/// The origin and the key name are independent: the caller checks that the
/// origin is the log it expects.
pub fn verify_checkpoint(key: &VerifierKey, note: &[u8]) -> Result<Checkpoint, NoteError> {
    let Some(pq) = key.ml_dsa() else {
        let body = verify_note(key, note)?;
        return Checkpoint::parse_body(&body);
    };
    let (body, ours) = signatures_by(key, note)?;
    let checkpoint = Checkpoint::parse_body(body)?;
    for sig in &ours {
        pq.verify(&checkpoint, sig)?;
    }
    Ok(checkpoint)
}

/// Parses the checkpoint in `note` *without* checking any signature, for a reader that
/// learns about them elsewhere: the appliance's tiles PD, whose attest PD verifies the
/// same note with its key, and `ledgerfs image export` without a key, whose output
/// `ledgerfs verify` checks. The text ends at the note's last blank line, exactly as
/// [`verify_checkpoint`] reads it.
pub fn parse_checkpoint_unverified(note: &[u8]) -> Result<Checkpoint, NoteError> {
    if note.len() > crate::note::MAX_NOTE_LEN {
        return Err(NoteError::TooLarge);
    }
    let text = core::str::from_utf8(note).map_err(|_| NoteError::NotUtf8)?;
    let (body, _) = crate::note::split_note(text)?;
    Checkpoint::parse_body(body)
}
