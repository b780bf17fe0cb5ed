//! Error types of the tiles core, each with a stable snake_case `code()` that
//! hosts log and match on, and a human `Display` message.
//!
//! Codes are part of the interface: never rename one. These types never carry
//! anything but plain data (paths, sizes, a storage error's `Debug` text).

use alloc::string::String;
use core::fmt;

/// Why an append, open, proof construction or tile read failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TileError {
    /// The entry is longer than [`crate::MAX_ENTRY_LEN`]; nothing was appended.
    EntryTooLarge {
        /// Length of the rejected entry in bytes.
        len: usize,
    },
    /// The tree already holds [`crate::MAX_TREE_SIZE`] entries.
    TreeFull,
    /// A size argument is above [`crate::MAX_TREE_SIZE`].
    SizeTooLarge {
        /// The rejected size.
        size: u64,
    },
    /// An entry bundle ends in the middle of a length prefix or an entry.
    BundleTruncated,
    /// An entry bundle holds a different number of entries than its width says,
    /// or has bytes after the last entry.
    BundleMalformed {
        /// The bundle's path.
        path: String,
    },
    /// The storage adapter returned an error (its `Debug` text is kept).
    Storage {
        /// Path being read.
        path: String,
        /// `Debug` rendering of the adapter's error.
        detail: String,
    },
    /// A file that must exist for this tree size is absent (and so is the full
    /// tile that could stand in for a missing partial one).
    Missing {
        /// The path that was looked for.
        path: String,
    },
    /// A tile has the wrong number of bytes for its width.
    BadLength {
        /// The tile's path.
        path: String,
        /// Bytes expected.
        expected: usize,
        /// Bytes found.
        actual: usize,
    },
    /// A full tile's Merkle root differs from the hash recorded for it in its
    /// parent tile one level up.
    TileMismatch {
        /// The full tile that does not match its parent entry.
        path: String,
    },
    /// An entry in a bundle does not hash to its level-0 tile entry.
    EntryMismatch {
        /// The bundle's path.
        path: String,
        /// Position of the entry within the bundle.
        position: usize,
    },
    /// The root rebuilt from stored tiles differs from the expected root.
    RootMismatch,
    /// A leaf index is not below the tree size.
    IndexOutOfRange {
        /// The index asked for.
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// A node is not a complete subtree of the tree (or its height is > 63).
    NodeOutOfRange {
        /// Node height (0 = leaf).
        height: u8,
        /// Node index at that height.
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// A consistency proof was asked for with `old_size > new_size`.
    InvalidRange {
        /// The older size.
        old_size: u64,
        /// The newer size.
        new_size: u64,
    },
}

impl TileError {
    /// Stable snake_case code for logs, metrics and host-side matching.
    pub fn code(&self) -> &'static str {
        match self {
            TileError::EntryTooLarge { .. } => "entry_too_large",
            TileError::TreeFull => "tree_full",
            TileError::SizeTooLarge { .. } => "size_too_large",
            TileError::BundleTruncated => "bundle_truncated",
            TileError::BundleMalformed { .. } => "bundle_malformed",
            TileError::Storage { .. } => "storage",
            TileError::Missing { .. } => "missing_file",
            TileError::BadLength { .. } => "bad_length",
            TileError::TileMismatch { .. } => "tile_mismatch",
            TileError::EntryMismatch { .. } => "entry_mismatch",
            TileError::RootMismatch => "root_mismatch",
            TileError::IndexOutOfRange { .. } => "index_out_of_range",
            TileError::NodeOutOfRange { .. } => "node_out_of_range",
            TileError::InvalidRange { .. } => "invalid_range",
        }
    }
}

impl fmt::Display for TileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TileError::EntryTooLarge { len } => {
                write!(f, "entry of {len} bytes exceeds the 65535-byte limit")
            }
            TileError::TreeFull => write!(f, "tree already holds 2^63 entries"),
            TileError::SizeTooLarge { size } => write!(f, "tree size {size} exceeds 2^63"),
            TileError::BundleTruncated => write!(f, "entry bundle is truncated"),
            TileError::BundleMalformed { path } => {
                write!(f, "{path}: entry count or trailing bytes do not match the width")
            }
            TileError::Storage { path, detail } => write!(f, "{path}: storage error: {detail}"),
            TileError::Missing { path } => write!(f, "{path}: missing"),
            TileError::BadLength { path, expected, actual } => write!(f, "{path}: {actual} bytes, expected {expected}"),
            TileError::TileMismatch { path } => {
                write!(f, "{path}: root differs from the hash recorded in its parent tile")
            }
            TileError::EntryMismatch { path, position } => {
                write!(f, "{path}: entry {position} does not hash to its level-0 tile entry")
            }
            TileError::RootMismatch => write!(f, "rebuilt root differs from the expected root"),
            TileError::IndexOutOfRange { index, size } => {
                write!(f, "index {index} is not below tree size {size}")
            }
            TileError::NodeOutOfRange { height, index, size } => write!(
                f,
                "node (height {height}, index {index}) is not a complete subtree of size {size}"
            ),
            TileError::InvalidRange { old_size, new_size } => {
                write!(f, "old size {old_size} is above new size {new_size}")
            }
        }
    }
}

/// Why an inclusion or consistency proof was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProofError {
    /// The leaf index is not below the tree size.
    IndexOutOfRange,
    /// `old_size > new_size`, or a size above 2^63.
    InvalidSizes,
    /// The proof has too many or too few hashes for these sizes.
    WrongProofLength,
    /// The proof does not lead to the (new) root.
    RootMismatch,
    /// A consistency proof does not lead to the old root.
    OldRootMismatch,
}

impl ProofError {
    /// Stable snake_case code for logs and host-side matching.
    pub fn code(&self) -> &'static str {
        match self {
            ProofError::IndexOutOfRange => "index_out_of_range",
            ProofError::InvalidSizes => "invalid_sizes",
            ProofError::WrongProofLength => "wrong_proof_length",
            ProofError::RootMismatch => "root_mismatch",
            ProofError::OldRootMismatch => "old_root_mismatch",
        }
    }
}

impl fmt::Display for ProofError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let msg = match self {
            ProofError::IndexOutOfRange => "leaf index is not below the tree size",
            ProofError::InvalidSizes => "tree sizes are out of order or above 2^63",
            ProofError::WrongProofLength => "proof has the wrong number of hashes",
            ProofError::RootMismatch => "proof does not lead to the root",
            ProofError::OldRootMismatch => "proof does not lead to the old root",
        };
        f.write_str(msg)
    }
}

/// What was wrong with one stored file during [`crate::verify_tree`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyReason {
    /// The file must exist for this tree size and does not.
    Missing,
    /// The storage adapter failed reading it (its `Debug` text).
    Storage(String),
    /// Wrong number of bytes for its width.
    BadLength {
        /// Bytes expected.
        expected: usize,
        /// Bytes found.
        actual: usize,
    },
    /// An entry bundle that does not parse into exactly `width` entries.
    MalformedBundle,
    /// A bundle entry's leaf hash differs from the level-0 tile, and the tile
    /// agrees with the rest of the tree (so the bundle is the bad file).
    EntryMismatch {
        /// Position of the first bad entry within the bundle.
        position: usize,
    },
    /// A hash tile's bytes differ from the ones recomputed from the entries.
    TileMismatch,
    /// A stored partial bundle (of an extra size) differs from the prefix of
    /// the bundle that holds those entries now.
    BundleMismatch,
    /// Every file matched, yet the recomputed root differs from the checkpoint.
    RootMismatch,
    /// A size argument is above 2^63, or an extra size above the tree size.
    InvalidSize,
}

/// First failure found by [`crate::verify_tree`], naming the file at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyError {
    /// Path of the bad file (`tile/...`), `checkpoint` for a root mismatch, or
    /// `extra_sizes` for a bad argument.
    pub path: String,
    /// What is wrong with it.
    pub reason: VerifyReason,
}

impl VerifyError {
    /// Stable snake_case code for logs and host-side matching.
    pub fn code(&self) -> &'static str {
        match self.reason {
            VerifyReason::Missing => "missing_file",
            VerifyReason::Storage(_) => "storage",
            VerifyReason::BadLength { .. } => "bad_length",
            VerifyReason::MalformedBundle => "bundle_malformed",
            VerifyReason::EntryMismatch { .. } => "entry_mismatch",
            VerifyReason::TileMismatch => "tile_mismatch",
            VerifyReason::BundleMismatch => "bundle_mismatch",
            VerifyReason::RootMismatch => "root_mismatch",
            VerifyReason::InvalidSize => "invalid_size",
        }
    }
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = &self.path;
        match &self.reason {
            VerifyReason::Missing => write!(f, "{path}: missing"),
            VerifyReason::Storage(d) => write!(f, "{path}: storage error: {d}"),
            VerifyReason::BadLength { expected, actual } => {
                write!(f, "{path}: {actual} bytes, expected {expected}")
            }
            VerifyReason::MalformedBundle => {
                write!(f, "{path}: bundle does not hold exactly its width in entries")
            }
            VerifyReason::EntryMismatch { position } => {
                write!(f, "{path}: entry {position} does not hash to its level-0 tile entry")
            }
            VerifyReason::TileMismatch => {
                write!(f, "{path}: bytes differ from the tile recomputed from the entries")
            }
            VerifyReason::BundleMismatch => {
                write!(f, "{path}: bytes differ from the entries stored in the newer bundle")
            }
            VerifyReason::RootMismatch => write!(f, "{path}: recomputed root differs"),
            VerifyReason::InvalidSize => write!(f, "{path}: size out of range"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn codes_are_snake_case_and_messages_nonempty() {
        let errs = [
            TileError::EntryTooLarge { len: 70_000 },
            TileError::TreeFull,
            TileError::SizeTooLarge { size: u64::MAX },
            TileError::BundleTruncated,
            TileError::BundleMalformed { path: "p".into() },
            TileError::Storage {
                path: "p".into(),
                detail: "d".into(),
            },
            TileError::Missing { path: "p".into() },
            TileError::BadLength {
                path: "p".into(),
                expected: 1,
                actual: 2,
            },
            TileError::TileMismatch { path: "p".into() },
            TileError::EntryMismatch {
                path: "p".into(),
                position: 3,
            },
            TileError::RootMismatch,
            TileError::IndexOutOfRange { index: 1, size: 1 },
            TileError::NodeOutOfRange {
                height: 1,
                index: 1,
                size: 1,
            },
            TileError::InvalidRange {
                old_size: 2,
                new_size: 1,
            },
        ];
        let mut codes = alloc::vec::Vec::new();
        for e in &errs {
            let c = e.code();
            assert!(c.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'));
            assert!(!e.to_string().is_empty());
            codes.push(c);
        }
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), errs.len());
        for p in [
            ProofError::IndexOutOfRange,
            ProofError::InvalidSizes,
            ProofError::WrongProofLength,
            ProofError::RootMismatch,
            ProofError::OldRootMismatch,
        ] {
            assert!(p.code().bytes().all(|b| b.is_ascii_lowercase() || b == b'_'));
            assert!(!p.to_string().is_empty());
        }
        let v = VerifyError {
            path: "tile/0/000".into(),
            reason: VerifyReason::TileMismatch,
        };
        assert_eq!(v.code(), "tile_mismatch");
        assert!(v.to_string().starts_with("tile/0/000"));
    }
}
