//! The attestation domain's state machine: it owns the log's signing key and
//! turns sign requests into signed checkpoints, enforcing the domain's own
//! safety rules (never sign a rollback, never sign a fork). Messages in,
//! messages out; the adapter around it does all I/O and persistence.
//!
//! Must never: sign a size smaller than the last one it signed, sign a
//! second root for a size it already signed, forget its last signed
//! checkpoint after a refusal, or do I/O of any kind.

use alloc::string::String;
use core::fmt;

use serde::{Deserialize, Serialize};

use crate::checkpoint::{sign_checkpoint, verify_checkpoint, Checkpoint};
use crate::error::NoteError;
use crate::key::{SignerKey, VerifierKey};

/// A request to sign the tree head `(size, root)` under the attestor's
/// origin. It is the message that crosses the ring into the attestation
/// domain (serde, e.g. postcard).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SignRequest {
    /// Tree size to attest.
    pub size: u64,
    /// Root hash of the tree at `size`.
    pub root: [u8; 32],
}

/// Why the attestor declined to sign; serde-friendly so it can cross a ring.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Refusal {
    /// The requested size is smaller than the last signed size.
    Rollback {
        /// Size of the last checkpoint signed.
        last_size: u64,
        /// Size that was requested.
        requested_size: u64,
    },
    /// The size was already signed with a different root.
    Fork {
        /// The size that was signed twice with different roots.
        size: u64,
    },
    /// The attestor's origin cannot be a checkpoint origin (empty or holds
    /// a control character).
    BadOrigin,
    /// The checkpoint note would exceed the note size bound.
    TooLarge,
}

impl Refusal {
    /// Stable machine-readable code for logs, metrics and tests.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::Rollback { .. } => "rollback",
            Refusal::Fork { .. } => "fork",
            Refusal::BadOrigin => "bad_origin",
            Refusal::TooLarge => "note_too_large",
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Rollback {
                last_size,
                requested_size,
            } => write!(
                f,
                "rollback: asked to sign size {requested_size} after size {last_size}"
            ),
            Refusal::Fork { size } => {
                write!(f, "fork: size {size} was already signed with another root")
            }
            Refusal::BadOrigin => write!(f, "bad_origin: origin cannot be a checkpoint origin"),
            Refusal::TooLarge => write!(f, "note_too_large: checkpoint note exceeds the bound"),
        }
    }
}

/// The attestor's answer to a [`SignRequest`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SignReply {
    /// The signed checkpoint note, ready to publish.
    Signed {
        /// Complete note text: checkpoint body, blank line, signature line.
        note: String,
    },
    /// The request was refused; nothing was signed.
    Refused(Refusal),
}

impl SignReply {
    /// `None` if signed, otherwise the refusal's stable code.
    pub fn refusal_code(&self) -> Option<&'static str> {
        match self {
            SignReply::Signed { .. } => None,
            SignReply::Refused(r) => Some(r.code()),
        }
    }
}

/// Owns the log key and signs checkpoints that extend what it signed
/// before; exists so that the rollback/fork rules live next to the key, in
/// the domain that cannot be talked out of them.
#[derive(Debug)]
pub struct Attestor {
    key: SignerKey,
    origin: String,
    last_signed: Option<(u64, [u8; 32])>,
}

impl Attestor {
    /// A fresh attestor that has never signed. An invalid `origin` is not
    /// rejected here; every request is then refused with
    /// [`Refusal::BadOrigin`].
    pub fn new(key: SignerKey, origin: String) -> Self {
        Attestor {
            key,
            origin,
            last_signed: None,
        }
    }

    /// Restores the memory of the last signed checkpoint (read by the
    /// adapter from storage at start-up), so the rules hold across restarts.
    pub fn with_last_signed(mut self, size: u64, root: [u8; 32]) -> Self {
        self.last_signed = Some((size, root));
        self
    }

    /// Restores the last signed checkpoint from its stored note, checking
    /// that this attestor's key signed it and that its origin is ours.
    pub fn with_last_signed_note(mut self, note: &[u8]) -> Result<Self, NoteError> {
        self.restore_last_signed_note(note)?;
        Ok(self)
    }

    /// In-place form of [`Attestor::with_last_signed_note`], for an adapter that learns the
    /// stored note after start-up (the appliance's attest PD hears it from tiles at boot).
    /// Nothing changes when the note does not verify.
    pub fn restore_last_signed_note(&mut self, note: &[u8]) -> Result<(), NoteError> {
        let cp = verify_checkpoint(&self.key.verifier(), note)?;
        if cp.origin != self.origin {
            return Err(NoteError::OriginMismatch);
        }
        self.last_signed = Some((cp.size, cp.root));
        Ok(())
    }

    /// The last `(size, root)` signed, if any.
    pub fn last_signed(&self) -> Option<(u64, [u8; 32])> {
        self.last_signed
    }

    /// The origin line of every checkpoint this attestor signs.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The public key that verifies this attestor's checkpoints.
    pub fn verifier(&self) -> VerifierKey {
        self.key.verifier()
    }

    /// Answers one sign request. Signing the same `(size, root)` again is
    /// allowed and returns the same note (Ed25519 is deterministic), so an
    /// adapter may retry after a crash.
    pub fn handle(&mut self, req: &SignRequest) -> SignReply {
        if let Some((last_size, last_root)) = self.last_signed {
            if req.size < last_size {
                return SignReply::Refused(Refusal::Rollback {
                    last_size,
                    requested_size: req.size,
                });
            }
            if req.size == last_size && req.root != last_root {
                return SignReply::Refused(Refusal::Fork { size: req.size });
            }
        }
        let cp = Checkpoint {
            origin: self.origin.clone(),
            size: req.size,
            root: req.root,
            extensions: alloc::vec::Vec::new(),
        };
        match sign_checkpoint(&self.key, &cp) {
            Ok(note) => {
                self.last_signed = Some((req.size, req.root));
                SignReply::Signed { note }
            }
            Err(NoteError::TooLarge) => SignReply::Refused(Refusal::TooLarge),
            Err(_) => SignReply::Refused(Refusal::BadOrigin),
        }
    }
}
