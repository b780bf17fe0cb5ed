//! Error types of the attestation core: why a key string, a note or a
//! checkpoint was rejected, each with a stable snake_case code.
//!
//! Must never: carry key material or note contents inside an error (errors
//! end up in logs), or change an existing code (operators, tests and the
//! adapters match on them).

use core::fmt;

/// Why a signer or verifier key (string or raw material) was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyError {
    /// The key string does not have the `name+hash+key` shape.
    Malformed,
    /// A signer key string does not start with `PRIVATE+KEY+`.
    MissingPrivatePrefix,
    /// The key name is empty, or holds whitespace, `+` or a control character.
    BadName,
    /// The key hash field is not exactly 8 lowercase hex digits.
    BadKeyHash,
    /// The key field is not canonical standard base64.
    BadBase64,
    /// The key's algorithm byte is not `0x01` (Ed25519).
    UnknownAlgorithm,
    /// The key is not 1 + 32 bytes long.
    BadKeyLength,
    /// The key hash in the string is not the hash of this name and key.
    KeyHashMismatch,
    /// The 32 bytes are not a usable Ed25519 public key (not a curve point,
    /// or of small order).
    InvalidPublicKey,
}

impl KeyError {
    /// Stable machine-readable code for logs, metrics and tests.
    pub fn code(&self) -> &'static str {
        match self {
            KeyError::Malformed => "malformed_key",
            KeyError::MissingPrivatePrefix => "missing_private_prefix",
            KeyError::BadName => "bad_key_name",
            KeyError::BadKeyHash => "bad_key_hash",
            KeyError::BadBase64 => "bad_key_base64",
            KeyError::UnknownAlgorithm => "unknown_algorithm",
            KeyError::BadKeyLength => "bad_key_length",
            KeyError::KeyHashMismatch => "key_hash_mismatch",
            KeyError::InvalidPublicKey => "invalid_public_key",
        }
    }
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            KeyError::Malformed => "key string is not name+hash+key",
            KeyError::MissingPrivatePrefix => "signer key does not start with PRIVATE+KEY+",
            KeyError::BadName => "key name is empty or holds whitespace, '+' or a control character",
            KeyError::BadKeyHash => "key hash is not 8 lowercase hex digits",
            KeyError::BadBase64 => "key is not canonical standard base64",
            KeyError::UnknownAlgorithm => "key algorithm is not Ed25519 (0x01)",
            KeyError::BadKeyLength => "key is not 33 bytes (algorithm byte + 32)",
            KeyError::KeyHashMismatch => "key hash does not match name and key",
            KeyError::InvalidPublicKey => "not a usable Ed25519 public key",
        };
        write!(f, "{}: {}", self.code(), text)
    }
}

/// Why a note, a note body or a checkpoint was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NoteError {
    /// The note (or the note a body would make) is longer than
    /// [`crate::MAX_NOTE_LEN`] bytes.
    TooLarge,
    /// The note is not valid UTF-8.
    NotUtf8,
    /// The note holds an ASCII control character other than newline.
    ControlCharacter,
    /// No blank line separates the text from the signatures.
    MissingBlankLine,
    /// The text (body) is empty or does not end in a newline.
    BodyNotNewlineTerminated,
    /// Nothing follows the blank line.
    NoSignatures,
    /// The last signature line does not end in a newline.
    UnterminatedSignatureLine,
    /// A line after the blank line is not `— <name> <base64>`.
    BadSignatureLine,
    /// A signature line's key name is empty, or holds `+`, whitespace or a
    /// control character.
    BadKeyName,
    /// A signature line's signature is not canonical standard base64.
    BadSignatureBase64,
    /// A signature decodes to fewer than 5 bytes (4-byte key hash + at least
    /// one signature byte).
    SignatureTooShort,
    /// More than [`crate::MAX_SIGNATURES`] signature lines.
    TooManySignatures,
    /// A signature line names the verifier's key (name and hash) but the
    /// signature does not verify.
    InvalidSignature,
    /// No line is from the verifier's key, but a line carries its name with
    /// another key hash (a different key under the same name).
    KeyHashMismatch,
    /// No signature line is from the verifier's key at all.
    NoSignatureFromKey,
    /// The checkpoint body has fewer than three lines.
    TooFewLines,
    /// The checkpoint origin is empty or holds a newline or control character.
    BadOrigin,
    /// The tree size is not canonical decimal (no sign, no leading zero
    /// unless it is `0`) or does not fit in 64 bits.
    BadSize,
    /// The root hash line is not canonical standard base64.
    BadRootBase64,
    /// The root hash does not decode to exactly 32 bytes.
    BadRootLength,
    /// An extension line is empty or holds a newline or control character.
    BadExtension,
    /// The checkpoint's origin is not the one expected.
    OriginMismatch,
}

impl NoteError {
    /// Stable machine-readable code for logs, metrics and tests.
    pub fn code(&self) -> &'static str {
        match self {
            NoteError::TooLarge => "note_too_large",
            NoteError::NotUtf8 => "not_utf8",
            NoteError::ControlCharacter => "control_character",
            NoteError::MissingBlankLine => "missing_blank_line",
            NoteError::BodyNotNewlineTerminated => "body_not_newline_terminated",
            NoteError::NoSignatures => "no_signatures",
            NoteError::UnterminatedSignatureLine => "unterminated_signature_line",
            NoteError::BadSignatureLine => "bad_signature_line",
            NoteError::BadKeyName => "bad_key_name",
            NoteError::BadSignatureBase64 => "bad_signature_base64",
            NoteError::SignatureTooShort => "signature_too_short",
            NoteError::TooManySignatures => "too_many_signatures",
            NoteError::InvalidSignature => "invalid_signature",
            NoteError::KeyHashMismatch => "key_hash_mismatch",
            NoteError::NoSignatureFromKey => "no_signature_from_key",
            NoteError::TooFewLines => "too_few_lines",
            NoteError::BadOrigin => "bad_origin",
            NoteError::BadSize => "bad_size",
            NoteError::BadRootBase64 => "bad_root_base64",
            NoteError::BadRootLength => "bad_root_length",
            NoteError::BadExtension => "bad_extension",
            NoteError::OriginMismatch => "origin_mismatch",
        }
    }
}

impl fmt::Display for NoteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            NoteError::TooLarge => "note exceeds the size bound",
            NoteError::NotUtf8 => "note is not valid UTF-8",
            NoteError::ControlCharacter => "note holds a control character other than newline",
            NoteError::MissingBlankLine => "no blank line before the signatures",
            NoteError::BodyNotNewlineTerminated => "note text is empty or does not end in newline",
            NoteError::NoSignatures => "no signature lines",
            NoteError::UnterminatedSignatureLine => "last signature line does not end in newline",
            NoteError::BadSignatureLine => "signature line is not '— <name> <base64>'",
            NoteError::BadKeyName => "signature line has an invalid key name",
            NoteError::BadSignatureBase64 => "signature is not canonical standard base64",
            NoteError::SignatureTooShort => "signature shorter than 5 bytes",
            NoteError::TooManySignatures => "too many signature lines",
            NoteError::InvalidSignature => "signature from the verifier's key does not verify",
            NoteError::KeyHashMismatch => "signature carries the verifier's name with another key hash",
            NoteError::NoSignatureFromKey => "no signature from the verifier's key",
            NoteError::TooFewLines => "checkpoint has fewer than three lines",
            NoteError::BadOrigin => "checkpoint origin is empty or holds a control character",
            NoteError::BadSize => "checkpoint size is not canonical decimal u64",
            NoteError::BadRootBase64 => "checkpoint root hash is not canonical base64",
            NoteError::BadRootLength => "checkpoint root hash is not 32 bytes",
            NoteError::BadExtension => "checkpoint extension line is empty or malformed",
            NoteError::OriginMismatch => "checkpoint origin is not the expected one",
        };
        write!(f, "{}: {}", self.code(), text)
    }
}

impl core::error::Error for KeyError {}
impl core::error::Error for NoteError {}
