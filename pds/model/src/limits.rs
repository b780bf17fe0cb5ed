//! Explicit, named limits on everything a request can carry. Every bound the ledger
//! enforces lives here so documentation and tests can cite one place.

/// Most events in one request batch (TigerBeetle's batch size, so a batch of accounts
/// or transfers plus its framing fits one 1 MiB message).
pub const MAX_BATCH_EVENTS: usize = 8_189;
/// Longest account or transfer identifier, in bytes.
pub const MAX_ID_LEN: usize = 64;
/// Longest transfer reference, in bytes.
pub const MAX_REFERENCE_LEN: usize = 256;
/// Largest canonical metadata object, in bytes.
pub const MAX_METADATA_LEN: usize = 4_096;
/// Deepest nesting accepted inside metadata.
pub const MAX_METADATA_DEPTH: usize = 8;
/// Longest decimal amount text accepted, in bytes.
pub const MAX_AMOUNT_TEXT_LEN: usize = 40;
/// Largest request body the API accepts, in bytes (8,189 transfers of ~1 KiB each).
pub const MAX_REQUEST_BYTES: usize = 16 * 1024 * 1024;
/// Largest log entry: tlog-tiles entry bundles prefix each entry with a u16 length.
pub const MAX_ENTRY_LEN: usize = 65_535;
/// Version of the canonical entry format written by this code.
pub const ENTRY_VERSION: u32 = 1;
/// Version of a two-phase transfer's entry (one with `flags`; version 1 entries are
/// unchanged, so older stores replay as they are and older readers refuse what they
/// cannot interpret).
pub const ENTRY_VERSION_TWO_PHASE: u32 = 2;
/// Version of a balance commitment entry (a new entry type: older readers refuse it by
/// its version rather than misread it).
pub const ENTRY_VERSION_COMMITMENT: u32 = 3;
