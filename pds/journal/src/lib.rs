//! The journal: where a sequenced group of log entries, together with the signed
//! checkpoint that covers it, becomes durable in one barrier before it is
//! acknowledged ("sequence durably first, integrate after"). Tiles and bundles are
//! written from journaled entries only, so a full tile is final the first time it
//! exists; the journal lets recovery finish what was acknowledged.
//!
//! This crate is the byte format and the recovery rule, nothing else: it never does
//! I/O. The host preallocates segment files (zero-filled, so a data sync touches no
//! metadata), writes records with [`encode_record`] one after another and makes
//! each durable with one data sync; at start-up it reads every segment, orders them
//! by [`SegmentHeader::seq`], decodes records with [`RecordReader`] and feeds them to
//! [`Recovery`], which says which entries are new since the published checkpoint.
//!
//! # Layout (all integers little-endian)
//!
//! A segment starts with a [`SEGMENT_HEADER_LEN`]-byte header block:
//! `magic "LFSJRNL1" (8) | version u32 | seq u64 | crc32 u32` (crc over the first
//! 20 bytes), then zeros. Records follow back to back:
//!
//! ```text
//! magic u32 "LFSR" | payload_len u32 | crc32 u32 (over magic, payload_len, payload)
//! payload: first_index u64 | entry_count u32 | note_len u32 | note bytes
//!          | entry_count × (entry_len u32 | entry bytes)
//! ```
//!
//! A record is valid only whole: a torn write, a zeroed tail or a stale record from
//! a recycled segment fails the magic, the bounds or the checksum, and reading stops
//! there. A stale record that happens to be intact is recognised by its index (it
//! is older than what precedes it) and skipped.
#![no_std]
#![warn(missing_docs)]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::vec::Vec;
use core::fmt;

/// Bytes of the segment header block (records start here, block-aligned).
pub const SEGMENT_HEADER_LEN: usize = 4096;
/// Magic of a segment header.
pub const SEGMENT_MAGIC: [u8; 8] = *b"LFSJRNL1";
/// Format version in the segment header.
pub const VERSION: u32 = 1;
/// Magic of a record ("LFSR").
pub const RECORD_MAGIC: u32 = u32::from_le_bytes(*b"LFSR");
/// Bytes before a record's payload.
pub const RECORD_HEADER_LEN: usize = 12;
/// Fixed payload bytes before the note.
const PAYLOAD_FIXED: usize = 16;

/// Why a journal could not be read or written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JournalError {
    /// A segment header is not a LedgerFS journal header (magic, version or checksum).
    BadSegmentHeader,
    /// A record would not fit the space given.
    RecordTooLarge {
        /// Bytes the record needs.
        needed: usize,
        /// Bytes available.
        available: usize,
    },
    /// The journal skips entries: a record starts after the index recovery needs
    /// next, so acknowledged entries are missing.
    Gap {
        /// The index recovery needed.
        expected: u64,
        /// The index the record starts at.
        found: u64,
    },
    /// A record whose checksum holds but whose contents are inconsistent.
    Malformed(&'static str),
}

impl fmt::Display for JournalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JournalError::BadSegmentHeader => write!(f, "not a LedgerFS journal segment (bad header)"),
            JournalError::RecordTooLarge { needed, available } => {
                write!(f, "a journal record of {needed} bytes does not fit the {available} bytes left")
            }
            JournalError::Gap { expected, found } => write!(
                f,
                "the journal has no record for entry {expected} (the next record starts at {found}): acknowledged entries are missing"
            ),
            JournalError::Malformed(why) => write!(f, "malformed journal record: {why}"),
        }
    }
}

impl core::error::Error for JournalError {}

/// A segment's header: which segment in the journal's order this file is now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentHeader {
    /// Position in the journal: a recycled segment gets a new, higher number.
    pub seq: u64,
}

impl SegmentHeader {
    /// The header block's meaningful bytes (the rest of the block is zero).
    pub fn encode(&self) -> [u8; 24] {
        let mut out = [0u8; 24];
        out[..8].copy_from_slice(&SEGMENT_MAGIC);
        out[8..12].copy_from_slice(&VERSION.to_le_bytes());
        out[12..20].copy_from_slice(&self.seq.to_le_bytes());
        let crc = crc32fast::hash(&out[..20]);
        out[20..24].copy_from_slice(&crc.to_le_bytes());
        out
    }

    /// Reads a header from the start of a segment.
    pub fn decode(bytes: &[u8]) -> Result<SegmentHeader, JournalError> {
        if bytes.len() < 24 || bytes[..8] != SEGMENT_MAGIC {
            return Err(JournalError::BadSegmentHeader);
        }
        let crc = u32::from_le_bytes(bytes[20..24].try_into().expect("4 bytes"));
        if crc != crc32fast::hash(&bytes[..20])
            || u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes")) != VERSION
        {
            return Err(JournalError::BadSegmentHeader);
        }
        Ok(SegmentHeader {
            seq: u64::from_le_bytes(bytes[12..20].try_into().expect("8 bytes")),
        })
    }
}

/// Bytes [`encode_record`] produces for these entries and note.
pub fn record_len<'a>(entries: impl Iterator<Item = &'a [u8]>, note_len: usize) -> usize {
    RECORD_HEADER_LEN + PAYLOAD_FIXED + note_len + entries.map(|e| 4 + e.len()).sum::<usize>()
}

/// Appends one record to `out`: entries `first_index..` and the signed checkpoint
/// `note` that covers them.
pub fn encode_record<'a>(first_index: u64, entries: impl Iterator<Item = &'a [u8]>, note: &[u8], out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(&RECORD_MAGIC.to_le_bytes());
    out.extend_from_slice(&[0u8; 8]); // payload_len and crc, filled below
    out.extend_from_slice(&first_index.to_le_bytes());
    let count_at = out.len();
    out.extend_from_slice(&[0u8; 4]);
    out.extend_from_slice(&(note.len() as u32).to_le_bytes());
    out.extend_from_slice(note);
    let mut count = 0u32;
    for entry in entries {
        out.extend_from_slice(&(entry.len() as u32).to_le_bytes());
        out.extend_from_slice(entry);
        count += 1;
    }
    out[count_at..count_at + 4].copy_from_slice(&count.to_le_bytes());
    let payload_len = (out.len() - start - RECORD_HEADER_LEN) as u32;
    out[start + 4..start + 8].copy_from_slice(&payload_len.to_le_bytes());
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&out[start..start + 8]);
    hasher.update(&out[start + RECORD_HEADER_LEN..]);
    let crc = hasher.finalize();
    out[start + 8..start + 12].copy_from_slice(&crc.to_le_bytes());
}

/// One record read back: borrowed from the segment's bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record<'a> {
    /// Index of the first entry.
    pub first_index: u64,
    /// The signed checkpoint (a C2SP signed note) covering `first_index + len`.
    pub note: &'a [u8],
    count: u32,
    entries: &'a [u8],
}

impl<'a> Record<'a> {
    /// Number of entries.
    pub fn len(&self) -> u64 {
        u64::from(self.count)
    }

    /// Whether the record holds no entry (never written by LedgerFS).
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The size of the log once this record's entries are in it.
    pub fn end(&self) -> u64 {
        self.first_index + self.len()
    }

    /// The entries, in log order.
    pub fn entries(&self) -> impl Iterator<Item = &'a [u8]> + Clone {
        let mut rest = self.entries;
        core::iter::from_fn(move || {
            if rest.len() < 4 {
                return None;
            }
            let len = u32::from_le_bytes(rest[..4].try_into().expect("4 bytes")) as usize;
            let entry = &rest[4..4 + len];
            rest = &rest[4 + len..];
            Some(entry)
        })
    }

    fn parse(payload: &'a [u8]) -> Result<Record<'a>, JournalError> {
        if payload.len() < PAYLOAD_FIXED {
            return Err(JournalError::Malformed("payload shorter than its fixed fields"));
        }
        let first_index = u64::from_le_bytes(payload[..8].try_into().expect("8 bytes"));
        let count = u32::from_le_bytes(payload[8..12].try_into().expect("4 bytes"));
        let note_len = u32::from_le_bytes(payload[12..16].try_into().expect("4 bytes")) as usize;
        let rest = &payload[PAYLOAD_FIXED..];
        if note_len > rest.len() {
            return Err(JournalError::Malformed("note runs past the record"));
        }
        let (note, entries) = rest.split_at(note_len);
        // Every entry must lie inside the payload, exactly.
        let mut cursor = entries;
        for _ in 0..count {
            if cursor.len() < 4 {
                return Err(JournalError::Malformed("entry length runs past the record"));
            }
            let len = u32::from_le_bytes(cursor[..4].try_into().expect("4 bytes")) as usize;
            if len > cursor.len() - 4 {
                return Err(JournalError::Malformed("entry runs past the record"));
            }
            cursor = &cursor[4 + len..];
        }
        if !cursor.is_empty() {
            return Err(JournalError::Malformed("bytes after the last entry"));
        }
        if first_index.checked_add(u64::from(count)).is_none() {
            return Err(JournalError::Malformed("index overflows"));
        }
        Ok(Record {
            first_index,
            note,
            count,
            entries,
        })
    }
}

/// Reads records back to back from a segment's bytes after its header, stopping
/// at the first one that is not whole and valid (the torn or stale tail).
pub struct RecordReader<'a> {
    bytes: &'a [u8],
    offset: usize,
    stopped: Option<JournalError>,
}

impl<'a> RecordReader<'a> {
    /// Reads `bytes`, which start at the first record (the segment's bytes from
    /// [`SEGMENT_HEADER_LEN`] on).
    pub fn new(bytes: &'a [u8]) -> Self {
        RecordReader {
            bytes,
            offset: 0,
            stopped: None,
        }
    }

    /// Offset just past the last valid record read (where the next one goes).
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// A checksummed record whose contents were inconsistent, if reading stopped at
    /// one (an implementation bug, never a torn write: reported, not dropped quietly).
    pub fn malformed(&self) -> Option<&JournalError> {
        self.stopped.as_ref()
    }
}

impl<'a> Iterator for RecordReader<'a> {
    type Item = Record<'a>;

    fn next(&mut self) -> Option<Record<'a>> {
        if self.stopped.is_some() {
            return None;
        }
        let rest = &self.bytes[self.offset..];
        if rest.len() < RECORD_HEADER_LEN {
            return None;
        }
        if u32::from_le_bytes(rest[..4].try_into().expect("4 bytes")) != RECORD_MAGIC {
            return None;
        }
        let payload_len = u32::from_le_bytes(rest[4..8].try_into().expect("4 bytes")) as usize;
        if payload_len > rest.len() - RECORD_HEADER_LEN {
            return None; // torn: the record runs past what was written
        }
        let payload = &rest[RECORD_HEADER_LEN..RECORD_HEADER_LEN + payload_len];
        let mut hasher = crc32fast::Hasher::new();
        hasher.update(&rest[..8]);
        hasher.update(payload);
        if hasher.finalize() != u32::from_le_bytes(rest[8..12].try_into().expect("4 bytes")) {
            return None; // torn or stale
        }
        match Record::parse(payload) {
            Ok(record) => {
                self.offset += RECORD_HEADER_LEN + payload_len;
                Some(record)
            }
            Err(e) => {
                self.stopped = Some(e);
                None
            }
        }
    }
}

/// What recovery does with one record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Every entry is already in the published log (or the record is a stale one
    /// from a recycled segment): skip it.
    Old,
    /// Entries from `skip` on are new: integrate them, in order.
    Apply {
        /// How many leading entries are already in the log.
        skip: u64,
    },
}

/// The recovery rule: given the size of the published (integrated) log, reads the
/// journal's records in order and says which entries must still be integrated.
/// Records must continue the log without a gap; the last applied record's note is
/// the checkpoint the store is at once recovery is done.
#[derive(Clone, Debug)]
pub struct Recovery {
    next: u64,
}

impl Recovery {
    /// Recovery of a log whose published checkpoint has `published_size` entries.
    pub fn new(published_size: u64) -> Self {
        Recovery { next: published_size }
    }

    /// The log's size once every record accepted so far is integrated.
    pub fn size(&self) -> u64 {
        self.next
    }

    /// Decides one record, in journal order.
    pub fn accept(&mut self, record: &Record<'_>) -> Result<Verdict, JournalError> {
        if record.end() <= self.next {
            return Ok(Verdict::Old);
        }
        if record.first_index > self.next {
            return Err(JournalError::Gap {
                expected: self.next,
                found: record.first_index,
            });
        }
        let skip = self.next - record.first_index;
        self.next = record.end();
        Ok(Verdict::Apply { skip })
    }
}

#[cfg(test)]
mod tests;
