//! The snapshot format: the state of the projections (the sequencer's accounts,
//! balances and transfer-id table, the read model) at one checkpoint, bound to that
//! checkpoint's size and root, so start-up loads it and replays only the log's tail.
//!
//! Snapshots are an optimisation, never a source of truth: a reader checks the
//! checksum, the format version and that the log's own root at `size` equals `root`
//! before trusting one, and ignores it otherwise (the log is replayed from the start).
//! The format is the same for the hosted daemon and the appliance; this crate is the
//! container and a byte writer/reader, and each core encodes its own section.
//!
//! # Layout (integers little-endian)
//!
//! ```text
//! magic "LFSSNAP1" (8) | version u32 | size u64 | root [32] | section_count u32
//! | section_count × (tag u32 | len u64 | bytes) | sha256 of everything before (32)
//! ```
#![no_std]
#![warn(missing_docs)]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::vec::Vec;
use core::fmt;

use sha2::{Digest, Sha256};

/// Magic at the start of a snapshot.
pub const MAGIC: [u8; 8] = *b"LFSSNAP1";
/// Format version (3: pending transfers carry their expiry and the sequencer the ids of
/// timed ones; 2 added pending totals. An older snapshot is ignored and the log replayed).
pub const VERSION: u32 = 3;
/// Section tag of the sequencer core's state.
pub const SECTION_SEQUENCER: u32 = 1;
/// Section tag of the hosted read model.
pub const SECTION_VIEW: u32 = 2;

/// Why a snapshot is refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SnapshotError {
    /// Not a snapshot, or a version this build does not read.
    BadHeader,
    /// The checksum does not match: damaged or torn.
    Checksum,
    /// Shorter than its own lengths say.
    Truncated,
    /// A section's contents are inconsistent.
    Malformed(&'static str),
    /// A section this reader needs is absent.
    MissingSection(u32),
}

impl fmt::Display for SnapshotError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SnapshotError::BadHeader => f.write_str("not a LedgerFS snapshot of this version"),
            SnapshotError::Checksum => f.write_str("checksum mismatch (damaged or torn)"),
            SnapshotError::Truncated => f.write_str("truncated"),
            SnapshotError::Malformed(why) => write!(f, "malformed: {why}"),
            SnapshotError::MissingSection(tag) => write!(f, "section {tag} missing"),
        }
    }
}

impl core::error::Error for SnapshotError {}

/// A checkpoint a snapshot is bound to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Binding {
    /// Log size the state is at.
    pub size: u64,
    /// The log's root hash at that size.
    pub root: [u8; 32],
}

impl Binding {
    /// The binding a snapshot's header names, read from its first bytes
    /// (at least 52) without checking the rest: a store checks a snapshot's
    /// binding before it has all of it. `None` unless the magic and version
    /// are this format's.
    pub fn peek(bytes: &[u8]) -> Option<Binding> {
        if bytes.len() < 52 || bytes[..8] != MAGIC || bytes[8..12] != VERSION.to_le_bytes() {
            return None;
        }
        Some(Binding {
            size: u64::from_le_bytes(bytes[12..20].try_into().ok()?),
            root: bytes[20..52].try_into().ok()?,
        })
    }
}

/// Assembles a snapshot from sections.
pub fn encode(binding: Binding, sections: &[(u32, &[u8])]) -> Vec<u8> {
    let framing = Framing::new(binding, sections);
    let mut out = Vec::with_capacity(framing.len(sections));
    for piece in framing.pieces(sections) {
        out.extend_from_slice(piece);
    }
    out
}

/// A snapshot's bytes other than its sections' (header, section prefixes, checksum), so
/// a host can write the snapshot piece by piece without copying the sections into one
/// buffer (at ten million transfers that copy is hundreds of megabytes).
#[derive(Clone, Debug)]
pub struct Framing {
    header: Vec<u8>,
    prefixes: Vec<[u8; 12]>,
    digest: [u8; 32],
}

impl Framing {
    /// The framing of a snapshot of these sections bound to `binding`.
    pub fn new(binding: Binding, sections: &[(u32, &[u8])]) -> Framing {
        let mut header = Vec::with_capacity(56);
        header.extend_from_slice(&MAGIC);
        header.extend_from_slice(&VERSION.to_le_bytes());
        header.extend_from_slice(&binding.size.to_le_bytes());
        header.extend_from_slice(&binding.root);
        header.extend_from_slice(&(sections.len() as u32).to_le_bytes());
        let mut h = Sha256::new();
        h.update(&header);
        let mut prefixes = Vec::with_capacity(sections.len());
        for (tag, bytes) in sections {
            let mut prefix = [0u8; 12];
            prefix[..4].copy_from_slice(&tag.to_le_bytes());
            prefix[4..].copy_from_slice(&(bytes.len() as u64).to_le_bytes());
            h.update(prefix);
            h.update(bytes);
            prefixes.push(prefix);
        }
        Framing {
            header,
            prefixes,
            digest: h.finalize().into(),
        }
    }

    /// The snapshot's pieces in order (the very `sections` given to [`Framing::new`]).
    pub fn pieces<'a>(&'a self, sections: &'a [(u32, &'a [u8])]) -> Vec<&'a [u8]> {
        assert_eq!(sections.len(), self.prefixes.len(), "the sections framed");
        let mut pieces = Vec::with_capacity(2 + 2 * sections.len());
        pieces.push(&self.header[..]);
        for (prefix, (_, bytes)) in self.prefixes.iter().zip(sections) {
            pieces.push(&prefix[..]);
            pieces.push(bytes);
        }
        pieces.push(&self.digest[..]);
        pieces
    }

    /// Total bytes of the snapshot.
    pub fn len(&self, sections: &[(u32, &[u8])]) -> usize {
        self.header.len() + sections.iter().map(|(_, b)| 12 + b.len()).sum::<usize>() + 32
    }
}

/// A snapshot checked for shape and checksum (not yet against the log).
#[derive(Debug)]
pub struct Snapshot<'a> {
    /// What it is bound to.
    pub binding: Binding,
    sections: Vec<(u32, &'a [u8])>,
}

impl<'a> Snapshot<'a> {
    /// Checks the checksum and the layout.
    pub fn decode(bytes: &'a [u8]) -> Result<Snapshot<'a>, SnapshotError> {
        if bytes.len() < 8 + 4 + 8 + 32 + 4 + 32 || bytes[..8] != MAGIC {
            return Err(SnapshotError::BadHeader);
        }
        let (body, digest) = bytes.split_at(bytes.len() - 32);
        if Sha256::digest(body).as_slice() != digest {
            return Err(SnapshotError::Checksum);
        }
        Self::parse(body)
    }

    /// Like [`Snapshot::decode`] without recomputing the checksum, for a host whose
    /// store has just checked these exact bytes against a checksum of its own (the
    /// appliance's block store checks its snapshot record's SHA-256 as it reads it);
    /// hashing tens of megabytes twice doubles a boot's cost. The layout is checked.
    pub fn decode_checked_by_store(bytes: &'a [u8]) -> Result<Snapshot<'a>, SnapshotError> {
        if bytes.len() < 8 + 4 + 8 + 32 + 4 + 32 || bytes[..8] != MAGIC {
            return Err(SnapshotError::BadHeader);
        }
        Self::parse(&bytes[..bytes.len() - 32])
    }

    /// The layout of a snapshot's bytes before its checksum.
    fn parse(body: &'a [u8]) -> Result<Snapshot<'a>, SnapshotError> {
        let mut r = Reader::new(&body[8..]);
        if r.u32()? != VERSION {
            return Err(SnapshotError::BadHeader);
        }
        let size = r.u64()?;
        let root = r.array32()?;
        let count = r.u32()?;
        let mut sections = Vec::new();
        for _ in 0..count {
            let tag = r.u32()?;
            let len = r.len()?;
            sections.push((tag, r.bytes(len)?));
        }
        if !r.is_empty() {
            return Err(SnapshotError::Malformed("bytes after the last section"));
        }
        Ok(Snapshot {
            binding: Binding { size, root },
            sections,
        })
    }

    /// The section with `tag`.
    pub fn section(&self, tag: u32) -> Result<&'a [u8], SnapshotError> {
        self.sections
            .iter()
            .find(|(t, _)| *t == tag)
            .map(|(_, b)| *b)
            .ok_or(SnapshotError::MissingSection(tag))
    }
}

/// Appends little-endian fields to a section.
#[derive(Debug, Default)]
pub struct Writer {
    /// The bytes written so far.
    pub buf: Vec<u8>,
}

impl Writer {
    /// An empty section.
    pub fn new() -> Self {
        Self::default()
    }

    /// A `u32`.
    pub fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    /// A `u64`.
    pub fn u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    /// A `u128`.
    pub fn u128(&mut self, v: u128) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    /// Length-prefixed bytes.
    pub fn bytes(&mut self, v: &[u8]) {
        self.u64(v.len() as u64);
        self.buf.extend_from_slice(v);
    }
}

/// Reads what [`Writer`] wrote, refusing to run past the end.
#[derive(Debug)]
pub struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    /// Reads `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        Reader { rest: bytes }
    }

    /// Whether everything was read.
    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], SnapshotError> {
        if n > self.rest.len() {
            return Err(SnapshotError::Truncated);
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    /// A `u32`.
    pub fn u32(&mut self) -> Result<u32, SnapshotError> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().expect("4 bytes")))
    }

    /// A `u64`.
    pub fn u64(&mut self) -> Result<u64, SnapshotError> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().expect("8 bytes")))
    }

    /// A `u128`.
    pub fn u128(&mut self) -> Result<u128, SnapshotError> {
        Ok(u128::from_le_bytes(self.take(16)?.try_into().expect("16 bytes")))
    }

    /// A 32-byte array.
    pub fn array32(&mut self) -> Result<[u8; 32], SnapshotError> {
        Ok(self.take(32)?.try_into().expect("32 bytes"))
    }

    /// A length that must fit what is left (a count of items of at least one byte).
    pub fn len(&mut self) -> Result<usize, SnapshotError> {
        let n = self.u64()?;
        if n > self.rest.len() as u64 {
            return Err(SnapshotError::Truncated);
        }
        Ok(n as usize)
    }

    /// `n` raw bytes.
    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], SnapshotError> {
        self.take(n)
    }

    /// Length-prefixed bytes (as [`Writer::bytes`] wrote them).
    pub fn prefixed(&mut self) -> Result<&'a [u8], SnapshotError> {
        let n = self.len()?;
        self.take(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peek_reads_the_binding_of_a_snapshot_and_nothing_else() {
        let b = Binding {
            size: 42,
            root: [7; 32],
        };
        let bytes = encode(b, &[(SECTION_SEQUENCER, b"state")]);
        assert_eq!(Binding::peek(&bytes), Some(b));
        assert_eq!(Binding::peek(&bytes[..52]), Some(b));
        assert_eq!(Binding::peek(&bytes[..51]), None);
        assert_eq!(
            Binding::peek(b"LFSSNAP0xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"),
            None
        );
    }
    use proptest::prelude::*;

    #[test]
    fn round_trips_and_refuses_damage() {
        let binding = Binding {
            size: 42,
            root: [7; 32],
        };
        let bytes = encode(binding, &[(SECTION_SEQUENCER, b"abc"), (SECTION_VIEW, b"")]);
        let snap = Snapshot::decode(&bytes).unwrap();
        assert_eq!(snap.binding, binding);
        assert_eq!(snap.section(SECTION_SEQUENCER).unwrap(), b"abc");
        assert_eq!(snap.section(SECTION_VIEW).unwrap(), b"");
        assert_eq!(snap.section(9), Err(SnapshotError::MissingSection(9)));
        for i in 0..bytes.len() {
            let mut damaged = bytes.clone();
            damaged[i] ^= 1;
            assert!(Snapshot::decode(&damaged).is_err(), "byte {i}");
        }
        for cut in 0..bytes.len() {
            assert!(Snapshot::decode(&bytes[..cut]).is_err(), "cut {cut}");
        }
    }

    #[test]
    fn the_reader_never_runs_past_the_end() {
        let mut w = Writer::new();
        w.u32(1);
        w.u64(2);
        w.u128(3);
        w.bytes(b"xyz");
        let mut r = Reader::new(&w.buf);
        assert_eq!((r.u32(), r.u64(), r.u128()), (Ok(1), Ok(2), Ok(3)));
        assert_eq!(r.prefixed(), Ok(b"xyz".as_slice()));
        assert!(r.is_empty());
        assert_eq!(r.u32(), Err(SnapshotError::Truncated));
    }

    proptest! {
        #[test]
        fn any_bytes_decode_without_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = Snapshot::decode(&bytes);
            let mut r = Reader::new(&bytes);
            while r.prefixed().is_ok() {}
        }
    }
}
