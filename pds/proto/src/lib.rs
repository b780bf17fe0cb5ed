//! The messages that cross the rings between protection domains, and their postcard
//! encoding. Each message names its sender and receiver in its doc comment. Bounds:
//! a message is at most [`MAX_MESSAGE_BYTES`]; decoding never trusts a length it has
//! not checked and never panics on hostile bytes.
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

mod bytes;

use alloc::string::String;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

use ledgerfs_model::{Event, ResultCode};
use ledgerfs_sequencer::EventResult;

/// Largest encoded message (a full batch of 8,189 events of up to ~2 KiB).
pub const MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;

/// Ingress (serial/API adapter) → sequencer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SequencerRequest {
    /// Sequence a batch; `now` is the adapter's clock reading.
    Submit {
        /// Correlates the reply.
        request_id: u64,
        /// Unix nanoseconds.
        now: u64,
        /// The batch.
        events: Vec<Event>,
    },
    /// Where is this transfer in the durable log?
    LookupTransfer {
        /// Correlates the reply.
        request_id: u64,
        /// Transfer id.
        id: String,
    },
}

/// Tiles → sequencer: what became durable, or what must be rolled back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DurabilityNotice {
    /// Entries below `size` are durable, under a signed checkpoint of `root`.
    Durable {
        /// New durable size.
        size: u64,
        /// The tree's root at that size (a snapshot is bound to it).
        root: [u8; 32],
    },
    /// Storage failed; entries from `size` on were not stored.
    Failed {
        /// Durable size to roll back to.
        size: u64,
        /// The sequencer epoch of the failed request (see the sequencer core's
        /// `durability` rule: requests of this epoch or older are refused).
        epoch: u64,
        /// The store ran out of space (the API's `storage_full`), rather than failing
        /// (`storage_unavailable`).
        full: bool,
    },
}

impl DurabilityNotice {
    /// The notice for the sequencer core's `apply_notice`.
    pub fn to_core(self) -> ledgerfs_sequencer::Notice {
        match self {
            DurabilityNotice::Durable { size, .. } => ledgerfs_sequencer::Notice::Durable { size },
            DurabilityNotice::Failed { size, epoch, .. } => ledgerfs_sequencer::Notice::Failed { kept: size, epoch },
        }
    }
}

/// One event's result on the wire: the code's position in [`ResultCode::ALL`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireResult {
    /// Index into [`ResultCode::ALL`].
    pub code: u8,
    /// Log index for successes.
    pub index: Option<u64>,
    /// 0 none, 1 debit, 2 credit.
    pub field: u8,
    /// Commit time of a new entry (Unix nanoseconds).
    pub time: Option<u64>,
}

impl From<EventResult> for WireResult {
    fn from(r: EventResult) -> WireResult {
        let code = ResultCode::ALL
            .iter()
            .position(|c| *c == r.code)
            .expect("every code is listed") as u8;
        let field = match r.field {
            None => 0,
            Some("debit") => 1,
            Some(_) => 2,
        };
        WireResult {
            code,
            index: r.index,
            field,
            time: r.time,
        }
    }
}

impl WireResult {
    /// Back to the core type; `None` for a code this build does not know.
    pub fn to_result(self) -> Option<EventResult> {
        let code = *ResultCode::ALL.get(usize::from(self.code))?;
        let field = match self.field {
            0 => None,
            1 => Some("debit"),
            2 => Some("credit"),
            _ => return None,
        };
        Some(EventResult {
            code,
            index: self.index,
            field,
            time: self.time,
        })
    }
}

/// Sequencer → ingress: the batch's results, sent once the tiles domain reports them durable.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SequencerReply {
    /// Results of a `Submit`.
    Results {
        /// From the request.
        request_id: u64,
        /// One per event.
        results: Vec<WireResult>,
        /// Durable size covering them.
        size: u64,
    },
    /// Answer to `LookupTransfer`.
    TransferIndex {
        /// From the request.
        request_id: u64,
        /// Durable index, if recorded.
        index: Option<u64>,
    },
    /// The batch could not be made durable.
    Refused {
        /// From the request.
        request_id: u64,
        /// Stable error code (`storage_full`, `storage_unavailable`).
        code: String,
    },
}

/// Sequencer → tiles: entries to append, hash, store and have signed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitRequest {
    /// Rollback epoch of the sequencer (groups from a rolled-back epoch are refused).
    pub epoch: u64,
    /// Log index of the first entry.
    pub first_index: u64,
    /// Canonical entry bytes, in order.
    #[serde(with = "bytes::list")]
    pub entries: Vec<Vec<u8>>,
}

/// The ledgerfs-ring message tags between the sequencer and tiles PDs.
pub mod tiles_tag {
    /// Sequencer → tiles: a postcard [`CommitRequest`](super::CommitRequest); tiles →
    /// sequencer: a postcard [`DurabilityNotice`](super::DurabilityNotice).
    pub const COMMIT: u32 = 1;
    /// Sequencer → tiles: an empty query; tiles → sequencer: the current signed
    /// checkpoint note (its text).
    pub const CHECKPOINT: u32 = 2;
    /// Sequencer → tiles: a postcard [`ReplayRequest`](super::ReplayRequest) (at boot);
    /// tiles → sequencer: a postcard [`ReplayReply`](super::ReplayReply).
    pub const REPLAY: u32 = 3;
    /// Sequencer → tiles: a postcard [`SnapshotPiece`](super::SnapshotPiece); tiles →
    /// sequencer: a postcard [`SnapshotPut`](super::SnapshotPut) for each piece.
    pub const SNAPSHOT_PUT: u32 = 4;
    /// Sequencer → tiles, at boot: a postcard [`SnapshotGet`](super::SnapshotGet); tiles →
    /// sequencer: a postcard [`SnapshotGot`](super::SnapshotGot).
    pub const SNAPSHOT_GET: u32 = 5;
    /// Sequencer → tiles: a postcard [`LogRead`](super::LogRead) (a `/log/` file the
    /// network PD was asked for); tiles → sequencer: a postcard [`LogFile`](super::LogFile).
    pub const LOG_READ: u32 = 6;
}

/// Sequencer → tiles: read one file of the published tlog-tiles tree, by its path under
/// `/log/` (`checkpoint`, `tile/0/x001/234`, `tile/entries/000.p/5`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogRead {
    /// The path under `/log/`.
    pub path: String,
}

/// Tiles → sequencer: the file a [`LogRead`] asked for. Only files of the durable,
/// signed tree are served: what a reader sees is never rewritten.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LogFile {
    /// Its bytes.
    Found(#[serde(with = "bytes::one")] Vec<u8>),
    /// No such file (or not a tlog-tiles path).
    Missing,
    /// The disk could not be read.
    Failed {
        /// Why.
        reason: String,
    },
}

/// Sequencer → tiles: the next piece of a snapshot (a `ledgerfs-snapshot` container of the
/// sequencer's state, bound to the durable checkpoint's size and root). Pieces come in
/// order, one at a time (the next after tiles answered [`SnapshotPut::Next`]); the one
/// that reaches `total` finishes the snapshot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotPiece {
    /// Offset of `bytes` in the container.
    pub offset: u64,
    /// Container bytes in all.
    pub total: u64,
    /// The piece.
    #[serde(with = "bytes::one")]
    pub bytes: Vec<u8>,
}

/// Tiles → sequencer: what became of a snapshot piece.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SnapshotPut {
    /// Stored; send the piece at `offset`.
    Next {
        /// Offset of the next piece.
        offset: u64,
    },
    /// The snapshot is committed on disk, bound to the log at `size`.
    Stored {
        /// Log size of the snapshot.
        size: u64,
    },
    /// Not stored (the log moved on, the disk is full, a piece out of order): the
    /// sequencer goes on without it and tries again later.
    Refused {
        /// Why, for the console.
        reason: String,
    },
}

/// Sequencer → tiles, at boot: the snapshot's bytes from `offset` on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotGet {
    /// Offset of the piece wanted (0 first, then each piece's end).
    pub offset: u64,
}

/// Tiles → sequencer: the next piece of the newest snapshot on disk.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SnapshotGot {
    /// Container bytes `offset..offset + bytes.len()` of `total`. The piece that reaches
    /// `total` is sent only once the record's checksum matched, and tiles checked at
    /// the first piece that the log's root at the snapshot's size is the one it is
    /// bound to.
    Piece {
        /// Offset of `bytes`.
        offset: u64,
        /// Container bytes in all.
        total: u64,
        /// The piece.
        #[serde(with = "bytes::one")]
        bytes: Vec<u8>,
    },
    /// No snapshot on disk: replay the log from the start.
    None,
    /// The snapshot cannot be used (damaged, bound to another log): replay from the start.
    Failed {
        /// Why, for the console.
        reason: String,
    },
}

/// Sequencer → tiles, at boot: send the durable entries from index `from` on, so the
/// sequencer rebuilds its state from the log (the log is the truth; the sequencer's state is
/// a projection of it). The sequencer pulls one [`ReplayReply`] per request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplayRequest {
    /// Index of the first entry wanted.
    pub from: u64,
}

/// Tiles → sequencer: the next entries of the recovered log, or why there are none.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReplayReply {
    /// Entries `first_index..first_index + entries.len()` of a log of `size` durable
    /// entries; no entries means the replay is complete (`first_index == size`).
    Entries {
        /// Index of the first entry here (the request's `from`).
        first_index: u64,
        /// Size of the durable, signed log tiles recovered.
        size: u64,
        /// The tree's root at `size`.
        root: [u8; 32],
        /// Canonical entry bytes, in order.
        #[serde(with = "bytes::list")]
        entries: Vec<Vec<u8>>,
    },
    /// Tiles could not recover the log (corrupt volume, unsigned checkpoint, device error):
    /// the appliance serves nothing until the disk is repaired or replaced.
    Failed {
        /// What tiles found, for the console.
        reason: String,
    },
}

/// The ledgerfs-ring message tags between the tiles and attest PDs.
pub mod attest_tag {
    /// Tiles → attest: a postcard `ledgerfs_attest::SignRequest`; attest → tiles: a postcard
    /// `SignReply`.
    pub const SIGN: u32 = 0;
    /// Tiles → attest, at boot: the checkpoint note recovered from disk; attest checks its
    /// signature with its own key and refuses to sign anything older or forked from it.
    /// Attest → tiles: empty on success, else the reason as text.
    pub const RESUME: u32 = 1;
}

/// Why a message could not be encoded or decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WireError {
    /// The buffer is too small or the message too large.
    TooLarge,
    /// The bytes are not a valid message.
    Malformed,
}

/// Encodes `message` into `buffer`, returning the used prefix.
pub fn encode<'a, T: Serialize>(message: &T, buffer: &'a mut [u8]) -> Result<&'a mut [u8], WireError> {
    postcard::to_slice(message, buffer).map_err(|_| WireError::TooLarge)
}

/// Encodes `message` into a new vector.
pub fn encode_vec<T: Serialize>(message: &T) -> Result<Vec<u8>, WireError> {
    let bytes = postcard::to_allocvec(message).map_err(|_| WireError::Malformed)?;
    if bytes.len() > MAX_MESSAGE_BYTES {
        return Err(WireError::TooLarge);
    }
    Ok(bytes)
}

/// Decodes a message, refusing oversized or malformed input.
pub fn decode<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, WireError> {
    if bytes.len() > MAX_MESSAGE_BYTES {
        return Err(WireError::TooLarge);
    }
    postcard::from_bytes(bytes).map_err(|_| WireError::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec;
    use ledgerfs_model::NewTransfer;
    use proptest::prelude::*;

    fn submit() -> SequencerRequest {
        SequencerRequest::Submit {
            request_id: 7,
            now: 1_795_000_000_000_000_000,
            events: vec![Event::Transfer(NewTransfer {
                id: "t1".to_string(),
                debit: "a".to_string(),
                credit: "b".to_string(),
                amount: "10.50".to_string(),
                currency: "EUR".to_string(),
                reference: String::new(),
                metadata: "{}".to_string(),
                linked: true,
                flags: Vec::new(),
                pending_id: String::new(),
                timeout: 0,
                time: 0,
            })],
        }
    }

    /// The `/log/` file messages round-trip, and a truncated or garbage one is refused,
    /// never misread.
    #[test]
    fn log_file_messages_round_trip() {
        let read = LogRead {
            path: "tile/entries/x001/234.p/5".to_string(),
        };
        assert_eq!(decode::<LogRead>(&encode_vec(&read).unwrap()).unwrap(), read);
        for file in [
            LogFile::Found(vec![0, 1, 2, 255]),
            LogFile::Missing,
            LogFile::Failed {
                reason: "reading checkpoint: io".to_string(),
            },
        ] {
            let bytes = encode_vec(&file).unwrap();
            assert_eq!(decode::<LogFile>(&bytes).unwrap(), file);
            if bytes.len() > 1 {
                assert!(decode::<LogFile>(&bytes[..bytes.len() - 1]).is_err());
            }
        }
        assert!(decode::<LogFile>(&[9]).is_err());
    }

    /// The byte-string encoding is postcard's encoding of a sequence of `u8`: the same
    /// bytes on the wire as before it.
    #[test]
    fn byte_strings_keep_the_sequence_wire_format() {
        #[derive(Serialize)]
        struct Plain {
            offset: u64,
            total: u64,
            bytes: Vec<u8>,
        }
        #[derive(Serialize)]
        struct PlainCommit {
            epoch: u64,
            first_index: u64,
            entries: Vec<Vec<u8>>,
        }
        let piece = SnapshotPiece {
            offset: 300,
            total: 70_000,
            bytes: (0..300u32).map(|i| i as u8).collect(),
        };
        let plain = Plain {
            offset: 300,
            total: 70_000,
            bytes: piece.bytes.clone(),
        };
        assert_eq!(encode_vec(&piece).unwrap(), postcard::to_allocvec(&plain).unwrap());
        let commit = CommitRequest {
            epoch: 2,
            first_index: 9,
            entries: vec![vec![1, 2, 3], Vec::new(), vec![7; 200]],
        };
        let plain = PlainCommit {
            epoch: 2,
            first_index: 9,
            entries: commit.entries.clone(),
        };
        let bytes = encode_vec(&commit).unwrap();
        assert_eq!(bytes, postcard::to_allocvec(&plain).unwrap());
        assert_eq!(decode::<CommitRequest>(&bytes).unwrap(), commit);
    }

    #[test]
    fn round_trips() {
        let bytes = encode_vec(&submit()).unwrap();
        assert_eq!(decode::<SequencerRequest>(&bytes).unwrap(), submit());
        let mut small = [0u8; 8];
        assert_eq!(encode(&submit(), &mut small).unwrap_err(), WireError::TooLarge);
        for code in ResultCode::ALL {
            let r = EventResult {
                code,
                index: Some(3),
                field: Some("credit"),
                time: Some(9),
            };
            assert_eq!(WireResult::from(r).to_result(), Some(r));
        }
    }

    proptest! {
        #[test]
        fn hostile_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
            let _ = decode::<SequencerRequest>(&bytes);
            let _ = decode::<CommitRequest>(&bytes);
            let _ = decode::<SequencerReply>(&bytes);
            let _ = decode::<SnapshotPiece>(&bytes);
            let _ = decode::<SnapshotPut>(&bytes);
            let _ = decode::<SnapshotGot>(&bytes);
        }
    }
}
