//! LedgerFS attestation core: tree heads as C2SP checkpoints
//! (https://c2sp.org/tlog-checkpoint) in C2SP signed notes
//! (https://c2sp.org/signed-note) with Ed25519 keys in the Go
//! `golang.org/x/mod/sumdb/note` key formats, and the [`Attestor`] state
//! machine that owns the log key and refuses rollbacks and forks.
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
mod error;
mod key;
mod note;

pub use attestor::{Attestor, Refusal, SignReply, SignRequest};
pub use checkpoint::{sign_checkpoint, verify_checkpoint, Checkpoint};
pub use error::{KeyError, NoteError};
pub use key::{ed25519_key_hash, is_valid_key_name, SignerKey, VerifierKey, ALG_ED25519};
pub use note::{sign_note, verify_note, MAX_NOTE_LEN, MAX_SIGNATURES};
