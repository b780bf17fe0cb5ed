//! The tiles protection domain: receives entry batches (`CommitRequest`) from the
//! sequencer over `seq_to_tiles`, appends them to a `ledgerfs_tiles::TileLog`, stores the
//! files in a `ledgerfs_blockstore::BlockStore`, has the attest PD sign the new tree head
//! and swaps the checkpoint in; then tells the sequencer the durable size over
//! `tiles_to_seq` (`DurabilityNotice`). It also answers the sequencer's checkpoint query
//! with the current signed note.
//!
//! The durability sequence is the tiles core's `LogWriter`, the same one the hosted daemon
//! uses: append, put every file, sync, sign, `mark_durable`, swap the checkpoint. A
//! checkpoint signed but not swapped in stays pending and is retried, never re-signed.
//! Any earlier failure rolls the log and the store back and reports `Failed`.
//!
//! Storage: the blk PD's virtio-blk disk, through `ringdisk::RingDisk`. At boot tiles
//! recovers the volume (`BlockStore::open`: newest valid superblock, checksummed record
//! chain, the signed checkpoint as commit record), has attest check the checkpoint's
//! signature and remember it, and rebuilds the Merkle state (`TileLog::open`); then it serves
//! the sequencer's snapshot and replay requests. A blank disk (both superblock blocks zero)
//! is formatted; any other unreadable volume is refused, never formatted over.
//!
//! Snapshots: the sequencer's pieces (`SnapshotPiece`) become the block store's snapshot
//! records (`begin_snapshot`, `write_snapshot`, `finish_snapshot`), the first piece only if
//! bound to the durable head; at boot the newest one goes back piece by piece
//! (`SnapshotGot`), after checking that the log's root at its size is the one it is bound
//! to, the last piece only once the record's checksum matched.
#![no_std]
#![no_main]

extern crate alloc;

mod ringdisk;

use alloc::string::String;
use alloc::vec::Vec;

use ledgerfs_attest::{SignReply, SignRequest, parse_checkpoint_unverified};
use ledgerfs_blockstore::{BlockStore, DeviceError, Error as StoreError, SnapshotReader};
use ledgerfs_proto::{
    CommitRequest, DurabilityNotice, LogFile, LogRead, ReplayReply, ReplayRequest, SnapshotGet, SnapshotGot,
    SnapshotPiece, SnapshotPut, attest_tag, decode, encode_vec, tiles_tag,
};
use ledgerfs_ring::{MessageReceiver, MessageSender, RegionLayout, RingError};
use ledgerfs_sel4_clock::counter;
use ledgerfs_sequencer::{CommitGate, Notice};
use ledgerfs_tiles::{
    CommitError, CommitFailure, LogWriter, SignedHead, TileLog, TilePath, TileReader, TileStore, empty_root,
    read_entries, tree_root_from_tiles,
};
use ringdisk::RingDisk;
use sel4_microkit::{
    Channel, ChannelSet, Handler, Infallible, MessageInfo, debug_println, memory_region_symbol, protection_domain,
};

/// The channel to the sequencer PD.
const SEQUENCER: Channel = Channel::new(2);
/// The protected-procedure channel into the attest PD.
const ATTEST: Channel = Channel::new(3);
/// Region sizes (system.xml).
const SEQ_TO_TILES_SIZE: usize = 0x400_0000;
const TILES_TO_SEQ_SIZE: usize = 0x200_0000;
const ATTEST_QUEUE_SIZE: usize = 0x10_0000;
const BLK_DATA_SIZE: usize = 0x40_0000;

type Store = BlockStore<RingDisk>;

/// Tiles' heap: the `tiles_heap` region (system.xml), out of the loader image.
#[global_allocator]
static HEAP: ledgerfs_sel4_heap::RegionHeap = ledgerfs_sel4_heap::RegionHeap::new();
/// Its size (system.xml's `tiles_heap`): the staged tiles, the index and snapshot pieces.
const HEAP_SIZE: usize = 48 * 1024 * 1024;

#[protection_domain]
fn init() -> TilesPd {
    ledgerfs_sel4_heap::install(&HEAP, memory_region_symbol!(tiles_heap: *mut u8).as_ptr(), HEAP_SIZE);
    // SAFETY: system.xml maps each region at its symbol into this PD and the named peer
    // only (the blk rings and data window into this PD and blk only).
    let (from_seq, to_seq, to_attest, from_attest, disk) = unsafe {
        (
            MessageReceiver::attach(memory_region_symbol!(seq_to_tiles: *mut u8).as_ptr(), SEQ_TO_TILES_SIZE),
            MessageSender::attach(memory_region_symbol!(tiles_to_seq: *mut u8).as_ptr(), TILES_TO_SEQ_SIZE),
            MessageSender::attach(
                memory_region_symbol!(tiles_to_attest: *mut u8).as_ptr(),
                ATTEST_QUEUE_SIZE,
            ),
            MessageReceiver::attach(
                memory_region_symbol!(attest_to_tiles: *mut u8).as_ptr(),
                ATTEST_QUEUE_SIZE,
            ),
            RingDisk::attach(
                memory_region_symbol!(blk_requests: *mut _),
                memory_region_symbol!(blk_completions: *mut _),
                memory_region_symbol!(blk_data: *mut u8).as_ptr(),
                BLK_DATA_SIZE,
            ),
        )
    };
    let mut signer = Signer {
        to_attest: to_attest.expect("tiles_to_attest"),
        from_attest: from_attest.expect("attest_to_tiles"),
        buf: alloc::vec![0; RegionLayout::new(ATTEST_QUEUE_SIZE).expect("queue region fits").buffer_size],
    };
    let started = counter();
    let writer = match disk {
        Ok(disk) => recover(disk, &mut signer),
        Err(e) => Err(alloc::format!("the blk PD answers no device ({e})")),
    };
    match &writer {
        Ok(w) => {
            let stats = w.store().stats();
            debug_println!(
                "tiles: ready in {} ms (log size {}, volume {} blocks of 4 KiB, {} records, {}; snapshot of {} bytes)",
                ledgerfs_sel4_clock::ticks_to_nanos(counter().wrapping_sub(started)) / 1_000_000,
                w.head().size,
                stats.block_count,
                stats.committed_records,
                if stats.opened_from_index {
                    "index loaded from its record"
                } else {
                    "index rebuilt from the whole chain"
                },
                stats.snapshot_bytes
            )
        }
        Err(e) => debug_println!("tiles: FAILED: {e}; the ledger serves nothing until the disk is fixed"),
    }
    let mut pd = TilesPd {
        writer,
        signer,
        gate: CommitGate::default(),
        snapshot_in: None,
        snapshot_out: None,
        from_seq: from_seq.expect("seq_to_tiles"),
        to_seq: to_seq.expect("tiles_to_seq"),
        buf: alloc::vec![0; RegionLayout::new(SEQ_TO_TILES_SIZE).expect("queue region fits").buffer_size],
    };
    pd.pump();
    pd
}

/// Opens the volume on `disk` (formatting a blank one) and rebuilds the log writer at its
/// signed checkpoint, which attest must recognise as its own.
fn recover(disk: RingDisk, signer: &mut Signer) -> Result<LogWriter<Store>, String> {
    // A fresh volume id per format: the boot-time counter value makes it unique per disk.
    let mut volume_id = *b"ledgerfs\0\0\0\0\0\0\0\0";
    volume_id[8..].copy_from_slice(&counter().to_le_bytes());
    let (store, formatted) = BlockStore::open_or_format_blank(disk, volume_id)
        .map_err(|e| alloc::format!("the volume does not open (a non-blank disk is never formatted): {e}"))?;
    let note = store
        .checkpoint()
        .map_err(|e| alloc::format!("reading the checkpoint: {e}"))?;
    // No checkpoint: formatted now, or a boot that ended between format and the first
    // checkpoint (the checkpoint is the commit record: nothing was ever committed).
    let Some(note) = note else {
        if !formatted {
            debug_println!("tiles: the volume holds no commit yet: signing the empty tree");
        }
        return first_checkpoint(store, signer);
    };
    signer.resume(&note)?;
    // Attest verified the signature just now; here only the tree head is read.
    let cp = parse_checkpoint_unverified(&note).map_err(|e| alloc::format!("the checkpoint does not parse: {e}"))?;
    let text = String::from_utf8(note).map_err(|_| String::from("the checkpoint is not UTF-8"))?;
    let log = TileLog::open(&store, cp.size, &cp.root).map_err(|e| alloc::format!("the tiles disagree: {e}"))?;
    let head = SignedHead {
        size: cp.size,
        root: cp.root,
        note: text,
    };
    Ok(LogWriter::new(log, store, head))
}

/// Signs the empty tree of a freshly formatted volume (as `ledgerfs init` does).
fn first_checkpoint(mut store: Store, signer: &mut Signer) -> Result<LogWriter<Store>, String> {
    let note = signer.sign(0, empty_root())?;
    store
        .swap_checkpoint(note.as_bytes())
        .map_err(|e| alloc::format!("storing the first checkpoint: {e}"))?;
    debug_println!("tiles: formatted a blank disk");
    let head = SignedHead {
        size: 0,
        root: empty_root(),
        note,
    };
    Ok(LogWriter::new(TileLog::new(), store, head))
}

struct TilesPd {
    /// The log, or why the disk could not be recovered.
    writer: Result<LogWriter<Store>, String>,
    signer: Signer,
    /// Refuses requests sequenced on top of a failed commit (the sequencer core's rule).
    gate: CommitGate,
    /// The snapshot being stored: the offset of the next piece expected.
    snapshot_in: Option<u64>,
    /// The snapshot being read back at boot.
    snapshot_out: Option<SnapshotReader>,
    from_seq: MessageReceiver<'static>,
    to_seq: MessageSender<'static>,
    buf: Vec<u8>,
}

/// The way to the attest PD: one request on its ring, one protected call, one reply.
struct Signer {
    to_attest: MessageSender<'static>,
    from_attest: MessageReceiver<'static>,
    buf: Vec<u8>,
}

impl Signer {
    /// One request to attest under `tag` and its reply (into `self.buf`): its length.
    fn call(&mut self, bytes: &[u8], tag: u32) -> Result<usize, String> {
        self.to_attest
            .send(bytes, tag)
            .map_err(|e| alloc::format!("tiles_to_attest: {e}"))?;
        ATTEST.pp_call(MessageInfo::new(0, 0));
        let (len, _) = self
            .from_attest
            .recv(&mut self.buf)
            .map_err(|e| alloc::format!("attest_to_tiles: {e}"))?;
        Ok(len)
    }

    /// Has the attest PD sign `(size, root)`.
    fn sign(&mut self, size: u64, root: [u8; 32]) -> Result<String, String> {
        let req = encode_vec(&SignRequest { size, root }).map_err(|_| String::from("sign request encodes"))?;
        let len = self.call(&req, attest_tag::SIGN)?;
        match decode::<SignReply>(&self.buf[..len]) {
            Ok(SignReply::Signed { note }) => Ok(note),
            Ok(SignReply::Refused(r)) => Err(alloc::format!("attest refused: {r}")),
            Err(_) => Err(String::from("malformed sign reply")),
        }
    }

    /// Tells attest the checkpoint recovered from disk; attest refuses one it did not sign.
    fn resume(&mut self, note: &[u8]) -> Result<(), String> {
        let len = self.call(note, attest_tag::RESUME)?;
        match len {
            0 => Ok(()),
            _ => Err(String::from_utf8_lossy(&self.buf[..len]).into_owned()),
        }
    }
}

impl TilesPd {
    /// Serves every waiting sequencer message, then sleeps with a signal requested.
    fn pump(&mut self) {
        if let Ok(writer) = &mut self.writer
            && let Ok(true) = writer.retry_pending()
        {
            let size = writer.head().size;
            let root = writer.head().root;
            self.notify_seq(DurabilityNotice::Durable { size, root });
        }
        loop {
            let (len, tag) = match self.from_seq.recv(&mut self.buf) {
                Ok(m) => m,
                Err(RingError::Empty) if self.from_seq.request_signal() == Ok(false) => continue,
                Err(RingError::Empty) => break,
                Err(e) => break debug_println!("tiles: seq_to_tiles stopped: {e}"),
            };
            match tag {
                tiles_tag::COMMIT => match decode::<CommitRequest>(&self.buf[..len]) {
                    Ok(req) => {
                        if let Some(notice) = self.commit(&req) {
                            self.notify_seq(notice);
                        }
                    }
                    Err(_) => debug_println!("tiles: malformed commit request; ignored"),
                },
                tiles_tag::CHECKPOINT => {
                    let note = match &self.writer {
                        Ok(w) => w.store().checkpoint().ok().flatten().unwrap_or_default(),
                        Err(_) => Vec::new(),
                    };
                    self.send_seq(&note, tiles_tag::CHECKPOINT);
                }
                tiles_tag::REPLAY => match decode::<ReplayRequest>(&self.buf[..len]) {
                    Ok(req) => {
                        let reply = self.replay(req.from);
                        let bytes = encode_vec(&reply).expect("a replay reply encodes");
                        self.send_seq(&bytes, tiles_tag::REPLAY);
                    }
                    Err(_) => debug_println!("tiles: malformed replay request; ignored"),
                },
                tiles_tag::SNAPSHOT_PUT => {
                    let reply = match decode::<SnapshotPiece>(&self.buf[..len]) {
                        Ok(piece) => self.store_piece(&piece),
                        Err(_) => SnapshotPut::Refused {
                            reason: String::from("malformed snapshot piece"),
                        },
                    };
                    if let SnapshotPut::Refused { reason } = &reply {
                        debug_println!("tiles: snapshot not stored: {reason}");
                    }
                    let bytes = encode_vec(&reply).expect("a snapshot reply encodes");
                    self.send_seq(&bytes, tiles_tag::SNAPSHOT_PUT);
                }
                tiles_tag::SNAPSHOT_GET => {
                    let reply = match decode::<SnapshotGet>(&self.buf[..len]) {
                        Ok(get) => self.snapshot_piece(get.offset),
                        Err(_) => SnapshotGot::Failed {
                            reason: String::from("malformed snapshot request"),
                        },
                    };
                    if let SnapshotGot::Failed { reason } = &reply {
                        debug_println!("tiles: snapshot not loaded: {reason}");
                    }
                    let bytes = encode_vec(&reply).expect("a snapshot piece encodes");
                    self.send_seq(&bytes, tiles_tag::SNAPSHOT_GET);
                }
                tiles_tag::LOG_READ => {
                    let reply = match decode::<LogRead>(&self.buf[..len]) {
                        Ok(read) => self.log_file(&read.path),
                        Err(_) => LogFile::Missing,
                    };
                    let bytes = encode_vec(&reply).expect("a log file encodes");
                    self.send_seq(&bytes, tiles_tag::LOG_READ);
                }
                _ => debug_println!("tiles: unknown message tag {tag}; ignored"),
            }
        }
        if self.to_seq.needs_signal() | self.from_seq.needs_signal() {
            SEQUENCER.notify();
        }
    }

    /// A file of the published tree (`/log/...` on the network): the checkpoint note or
    /// a tile the block store holds. Between commits everything it holds is durable and
    /// covered by the checkpoint, so a full tile served here never changes.
    fn log_file(&self, path: &str) -> LogFile {
        let Ok(writer) = &self.writer else {
            return LogFile::Failed {
                reason: String::from("the disk could not be recovered"),
            };
        };
        let read = if path == "checkpoint" {
            writer.store().checkpoint()
        } else {
            match TilePath::parse(path) {
                Some(tile) => writer.store().read(&tile),
                None => return LogFile::Missing,
            }
        };
        match read {
            Ok(Some(bytes)) => LogFile::Found(bytes),
            Ok(None) => LogFile::Missing,
            Err(e) => LogFile::Failed {
                reason: alloc::format!("reading {path}: {e}"),
            },
        }
    }

    /// The durable entries from `from` on, at most one entry bundle and one queue buffer.
    fn replay(&self, from: u64) -> ReplayReply {
        let writer = match &self.writer {
            Ok(w) => w,
            Err(e) => return ReplayReply::Failed { reason: e.clone() },
        };
        let size = writer.head().size;
        // Room for postcard's length prefixes: entries are short (a few hundred bytes).
        let budget = self.to_seq.max_len() / 2;
        match read_entries(writer.store(), size, from, budget) {
            Ok(entries) => ReplayReply::Entries {
                first_index: from,
                size,
                root: writer.head().root,
                entries,
            },
            Err(e) => {
                let reason = alloc::format!("reading entries from {from}: {e}");
                debug_println!("tiles: replay failed: {reason}");
                ReplayReply::Failed { reason }
            }
        }
    }

    /// Stores one piece of the sequencer's snapshot; the first must be bound to the
    /// durable head with nothing in flight, the last commits it (`BlockStore`'s
    /// snapshot records). A commit request in between abandons it.
    fn store_piece(&mut self, piece: &SnapshotPiece) -> SnapshotPut {
        let refused = |reason: String| SnapshotPut::Refused { reason };
        let Ok(writer) = &mut self.writer else {
            return refused(String::from("the disk could not be recovered"));
        };
        if piece.offset == 0 {
            let head = writer.head();
            match binding_of(&piece.bytes) {
                Some((size, root)) if size == head.size && root == head.root && writer.size() == size => {}
                _ => return refused(String::from("the snapshot is not bound to the durable checkpoint")),
            }
            if writer.has_pending() {
                return refused(String::from("a checkpoint is pending"));
            }
            if let Err(e) = writer.store_mut().begin_snapshot(piece.total) {
                return refused(alloc::format!("{e}"));
            }
            self.snapshot_in = Some(0);
        }
        if self.snapshot_in != Some(piece.offset) || writer.has_pending() {
            self.snapshot_in = None;
            writer.store_mut().abandon();
            return refused(String::from("snapshot piece out of order"));
        }
        let end = piece.offset + piece.bytes.len() as u64;
        let store = writer.store_mut();
        let written = store
            .write_snapshot(&piece.bytes)
            .and_then(|()| match end == piece.total {
                true => store.finish_snapshot(),
                false => Ok(()),
            });
        match written {
            Err(e) => {
                self.snapshot_in = None;
                refused(alloc::format!("{e}"))
            }
            Ok(()) if end == piece.total => {
                self.snapshot_in = None;
                debug_println!(
                    "tiles: snapshot at {} stored ({} bytes)",
                    writer.head().size,
                    piece.total
                );
                SnapshotPut::Stored {
                    size: writer.head().size,
                }
            }
            Ok(()) => {
                self.snapshot_in = Some(end);
                SnapshotPut::Next { offset: end }
            }
        }
    }

    /// The piece of the newest snapshot at `offset` (boot). At offset 0 the snapshot's
    /// binding is checked against the log; the last piece only after its checksum.
    fn snapshot_piece(&mut self, offset: u64) -> SnapshotGot {
        let failed = |reason: String| SnapshotGot::Failed { reason };
        let Ok(writer) = &self.writer else {
            return failed(String::from("the disk could not be recovered"));
        };
        let store = writer.store();
        if offset == 0 {
            self.snapshot_out = match store.snapshot_reader() {
                Ok(Some(r)) => Some(r),
                Ok(None) => return SnapshotGot::None,
                Err(e) => return failed(alloc::format!("{e}")),
            };
        }
        let Some(reader) = self.snapshot_out.as_mut() else {
            return failed(String::from("snapshot request out of order"));
        };
        if reader.offset() != offset {
            self.snapshot_out = None;
            return failed(String::from("snapshot request out of order"));
        }
        // Room for postcard's framing in one queue buffer.
        let max = self.to_seq.max_len() - 64;
        let bytes = match reader.next(store, max) {
            Ok(bytes) => bytes,
            Err(e) => {
                self.snapshot_out = None;
                return failed(alloc::format!("{e}"));
            }
        };
        let total = reader.len();
        if offset == 0 {
            let head = writer.head().size;
            let bound = match binding_of(&bytes) {
                Some((size, root)) if size <= head => tree_root_from_tiles(store, size).ok() == Some(root),
                _ => false,
            };
            if !bound {
                self.snapshot_out = None;
                return failed(String::from("the snapshot is not bound to this log"));
            }
        }
        if offset + bytes.len() as u64 == total {
            self.snapshot_out = None;
        }
        SnapshotGot::Piece { offset, total, bytes }
    }

    fn notify_seq(&mut self, notice: DurabilityNotice) {
        let bytes = encode_vec(&notice).expect("a notice encodes");
        self.send_seq(&bytes, tiles_tag::COMMIT);
    }

    fn send_seq(&mut self, bytes: &[u8], tag: u32) {
        if let Err(e) = self.to_seq.send(bytes, tag) {
            debug_println!("tiles: tiles_to_seq: {e}");
        }
    }

    /// Makes one batch durable under a new signed checkpoint. `None`: signed but the swap
    /// failed (pending; the notice follows when a retry succeeds).
    fn commit(&mut self, req: &CommitRequest) -> Option<DurabilityNotice> {
        let Ok(writer) = &mut self.writer else {
            return Some(failed(&mut self.gate, req, false));
        };
        if !self.gate.admits(req.epoch) || writer.has_pending() || req.first_index != writer.size() {
            debug_println!(
                "tiles: commit at {} refused (log size {})",
                req.first_index,
                writer.size()
            );
            return Some(failed(&mut self.gate, req, false));
        }
        let signer = &mut self.signer;
        let entries = req.entries.iter().map(Vec::as_slice);
        match writer.commit(entries, |size, root| signer.sign(size, root)) {
            Ok(()) => Some(DurabilityNotice::Durable {
                size: writer.head().size,
                root: writer.head().root,
            }),
            Err(CommitFailure::CheckpointPending(e)) => {
                debug_println!("tiles: checkpoint at {} pending: {e}", writer.size());
                None
            }
            Err(CommitFailure::NotWritten(e)) => {
                debug_println!("tiles: commit at {} failed: {e}", req.first_index);
                let full = matches!(
                    e,
                    CommitError::Store(StoreError::DeviceFull { .. } | StoreError::Device(DeviceError::NoSpace))
                );
                Some(failed(&mut self.gate, req, full))
            }
        }
    }
}

/// The size and root a snapshot container's header names.
fn binding_of(bytes: &[u8]) -> Option<(u64, [u8; 32])> {
    ledgerfs_snapshot::Binding::peek(bytes).map(|b| (b.size, b.root))
}

/// The notice for a request whose entries were not stored: the gate records the failure
/// (the sequencer core rolls back to the request's first index and starts a new epoch).
fn failed(gate: &mut CommitGate, req: &CommitRequest, full: bool) -> DurabilityNotice {
    match gate.fail(req.first_index, req.epoch) {
        Notice::Failed { kept, epoch } => DurabilityNotice::Failed {
            size: kept,
            epoch,
            full,
        },
        Notice::Durable { .. } => unreachable!("the gate reports failures"),
    }
}

impl Handler for TilesPd {
    type Error = Infallible;

    fn notified(&mut self, _channels: ChannelSet) -> Result<(), Self::Error> {
        self.pump();
        Ok(())
    }
}
