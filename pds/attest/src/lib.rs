//! LedgerFS attestation core: tree heads as C2SP checkpoints
//! (<https://c2sp.org/tlog-checkpoint>) in C2SP signed notes
//! (<https://c2sp.org/signed-note>) with Ed25519 keys in the Go
//! `golang.org/x/mod/sumdb/note` key formats (and, on request, ML-DSA-44 signature
//! lines next to them: [`SignerKey::with_ml_dsa`]), and the [`Attestor`] state
//! machine that owns the log key and refuses rollbacks and forks.
//!
//! ```
//! use ledgerfs_attest::{verify_checkpoint, Attestor, SignReply, SignRequest, SignerKey};
//!
//! let key = SignerKey::from_seed("example.com/log", [7; 32]).unwrap();
//! let verifier = key.verifier(); // publish verifier.encode()
//! let mut attestor = Attestor::new(key, "example.com/log".into());
//!
//! let reply = attestor.handle(&SignRequest { size: 10, root: [1; 32] });
//! let SignReply::Signed { note } = reply else { panic!("{reply:?}") };
//! let cp = verify_checkpoint(&verifier, note.as_bytes()).unwrap();
//! assert_eq!((cp.origin.as_str(), cp.size), ("example.com/log", 10));
//!
//! // The attestor will not sign a smaller tree, nor another root at 10.
//! let rollback = attestor.handle(&SignRequest { size: 9, root: [1; 32] });
//! assert_eq!(rollback.refusal_code(), Some("rollback"));
//! let fork = attestor.handle(&SignRequest { size: 10, root: [2; 32] });
//! assert_eq!(fork.refusal_code(), Some("fork"));
//! ```
//!
//! Must never: do I/O, read clocks or randomness, spawn threads or make
//! syscalls (it is `no_std` and sans-IO: bytes in, bytes out), panic on
//! untrusted input, or let private key bytes escape [`SignerKey`].
//!
//! Bounds: notes are at most [`MAX_NOTE_LEN`] bytes with at most
//! [`MAX_SIGNATURES`] signature lines.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;

mod attestor;
mod checkpoint;
mod cosignature;
mod error;
mod key;
mod mldsa;
mod note;

pub use attestor::{Attestor, Refusal, SignReply, SignRequest};
pub use checkpoint::{parse_checkpoint_unverified, sign_checkpoint, verify_checkpoint, Checkpoint};
pub use cosignature::{cosignature_key_id, CosignatureVerifier, CosignerKey, ALG_COSIGNATURE_V1};
pub use error::{KeyError, NoteError};
pub use key::{ed25519_key_hash, is_valid_key_name, SignerKey, VerifierKey, ALG_ED25519};
pub use mldsa::{ml_dsa_key_id, MlDsaSigner, MlDsaVerifier, ALG_ML_DSA_44, ML_DSA_44_PUBLIC_KEY_LEN};
pub use note::{sign_note, verify_note, MAX_NOTE_LEN, MAX_SIGNATURES};
