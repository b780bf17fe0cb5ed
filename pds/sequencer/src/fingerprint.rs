//! Compact, collision-resistant keys for the transfer-id table: 128 bits of SHA-256.
//! Keeping 32 bytes per transfer (key, index, body digest) instead of the ids themselves
//! is what lets ten million transfers fit in a few hundred megabytes.

use core::hash::{BuildHasher, Hasher};
use sha2::{Digest, Sha256};

use ledgerfs_model::entry::TransferRecord;

/// First 128 bits of SHA-256 of a transfer id.
pub fn id_fingerprint(id: &str) -> u128 {
    let digest = Sha256::digest(id.as_bytes());
    u128::from_le_bytes(digest[..16].try_into().expect("16 bytes"))
}

/// First 64 bits of SHA-256 over every field a retry must repeat exactly.
pub fn body_digest<S: AsRef<str>>(t: &TransferRecord<S>) -> u64 {
    let mut h = Sha256::new();
    for field in [
        t.id.as_ref(),
        t.debit.as_ref(),
        t.credit.as_ref(),
        t.currency.code(),
        t.reference.as_ref(),
        t.metadata.as_ref(),
    ] {
        h.update((field.len() as u32).to_le_bytes());
        h.update(field.as_bytes());
    }
    h.update(t.amount.0.to_le_bytes());
    h.update([u8::from(t.linked)]);
    // Two-phase fields only when present, so single-phase digests (in snapshots and
    // tables built before two-phase transfers) are unchanged.
    if let Some(flag) = t.phase.flag() {
        let pending_id = t.phase.pending_id().unwrap_or_default();
        for field in [flag, pending_id] {
            h.update((field.len() as u32).to_le_bytes());
            h.update(field.as_bytes());
        }
    }
    // Likewise a timeout and balancing flags.
    if t.timeout > 0 {
        h.update(b"timeout");
        h.update(t.timeout.to_le_bytes());
    }
    if t.imported {
        h.update(b"imported");
    }
    for name in t.balancing.names().chain(t.closing.names()) {
        h.update((name.len() as u32).to_le_bytes());
        h.update(name.as_bytes());
    }
    let digest = h.finalize();
    u64::from_le_bytes(digest[..8].try_into().expect("8 bytes"))
}

/// The keys are already uniform (SHA-256), so hashing them again would be wasted work.
#[derive(Clone, Copy, Default)]
pub struct FingerprintHasher(u64);

impl Hasher for FingerprintHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes.iter().take(8) {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }

    fn write_u128(&mut self, value: u128) {
        self.0 = value as u64;
    }
}

/// Builds [`FingerprintHasher`]s for the transfer table.
#[derive(Clone, Copy, Default)]
pub struct FingerprintBuildHasher;

impl BuildHasher for FingerprintBuildHasher {
    type Hasher = FingerprintHasher;

    fn build_hasher(&self) -> FingerprintHasher {
        FingerprintHasher(0)
    }
}
