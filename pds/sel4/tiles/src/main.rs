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
//! Storage in this slice: a RAM disk (`ramdisk` region, mapped only here), formatted at
//! boot. The virtio-blk PD and recovery across reboots are a later slice.
#![no_std]
#![no_main]

extern crate alloc;

mod ramdisk;

use alloc::string::String;
use alloc::vec::Vec;

use ledgerfs_attest::{SignReply, SignRequest};
use ledgerfs_blockstore::BlockStore;
use ledgerfs_proto::{CommitRequest, DurabilityNotice, decode, encode_vec, tiles_tag};
use ledgerfs_ring::{MessageReceiver, MessageSender, RegionLayout, RingError};
use ledgerfs_tiles::{CommitFailure, LogWriter, SignedHead, TileLog, TileStore, empty_root};
use ramdisk::RamDisk;
use sel4_microkit::{
    Channel, ChannelSet, Handler, Infallible, MessageInfo, debug_println, memory_region_symbol, protection_domain,
};

/// The channel to the sequencer PD.
const SEQUENCER: Channel = Channel::new(2);
/// The protected-procedure channel into the attest PD.
const ATTEST: Channel = Channel::new(3);
/// Region sizes (system.xml).
const SEQ_TO_TILES_SIZE: usize = 0x100_0000;
const TILES_TO_SEQ_SIZE: usize = 0x1_0000;
const ATTEST_QUEUE_SIZE: usize = 0x1_0000;
const RAMDISK_SIZE: usize = 0x100_0000;
/// The RAM disk's volume id (fixed: nothing persists across boots yet).
const VOLUME_ID: [u8; 16] = *b"ledgerfs-ramdisk";

#[protection_domain(heap_size = 32 * 1024 * 1024)]
fn init() -> TilesPd {
    // SAFETY: system.xml maps each region at its symbol into this PD and the named peer
    // only (the RAM disk into this PD only).
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
            RamDisk::new(memory_region_symbol!(ramdisk: *mut u8).as_ptr(), RAMDISK_SIZE),
        )
    };
    let mut store = BlockStore::format(disk, VOLUME_ID).expect("format the RAM disk");
    let mut signer = Signer {
        to_attest: to_attest.expect("tiles_to_attest"),
        from_attest: from_attest.expect("attest_to_tiles"),
        buf: alloc::vec![0; RegionLayout::new(ATTEST_QUEUE_SIZE).expect("queue region fits").buffer_size],
    };
    // The empty tree gets a signed checkpoint too (as `ledgerfs init` does).
    let note = signer.sign(0, empty_root()).expect("attest signs the empty tree");
    store.swap_checkpoint(note.as_bytes()).expect("store the first checkpoint");
    let head = SignedHead {
        size: 0,
        root: empty_root(),
        note,
    };
    let mut pd = TilesPd {
        writer: LogWriter::new(TileLog::new(), store, head),
        signer,
        from_seq: from_seq.expect("seq_to_tiles"),
        to_seq: to_seq.expect("tiles_to_seq"),
        buf: alloc::vec![0; RegionLayout::new(SEQ_TO_TILES_SIZE).expect("queue region fits").buffer_size],
    };
    debug_println!(
        "tiles: ready (RAM disk {} KiB, not persistent; checkpoint size 0)",
        RAMDISK_SIZE / 1024
    );
    pd.pump();
    pd
}

struct TilesPd {
    writer: LogWriter<BlockStore<RamDisk>>,
    signer: Signer,
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
    /// Has the attest PD sign `(size, root)`.
    fn sign(&mut self, size: u64, root: [u8; 32]) -> Result<String, String> {
        let req = encode_vec(&SignRequest { size, root }).map_err(|_| String::from("sign request encodes"))?;
        self.to_attest
            .send(&req, 0)
            .map_err(|e| alloc::format!("tiles_to_attest: {e}"))?;
        ATTEST.pp_call(MessageInfo::new(0, 0));
        let (len, _) = self
            .from_attest
            .recv(&mut self.buf)
            .map_err(|e| alloc::format!("attest_to_tiles: {e}"))?;
        match decode::<SignReply>(&self.buf[..len]) {
            Ok(SignReply::Signed { note }) => Ok(note),
            Ok(SignReply::Refused(r)) => Err(alloc::format!("attest refused: {r}")),
            Err(_) => Err(String::from("malformed sign reply")),
        }
    }
}

impl TilesPd {
    /// Serves every waiting sequencer message, then sleeps with a signal requested.
    fn pump(&mut self) {
        if let Ok(true) = self.writer.retry_pending() {
            let size = self.writer.head().size;
            self.notify_seq(DurabilityNotice::Durable { size });
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
                    let note = self.writer.store().checkpoint().ok().flatten().unwrap_or_default();
                    self.send_seq(&note, tiles_tag::CHECKPOINT);
                }
                _ => debug_println!("tiles: unknown message tag {tag}; ignored"),
            }
        }
        if self.to_seq.needs_signal() | self.from_seq.needs_signal() {
            SEQUENCER.notify();
        }
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
        let failed = DurabilityNotice::Failed { size: req.first_index };
        if self.writer.has_pending() || req.first_index != self.writer.size() {
            debug_println!(
                "tiles: commit at {} refused (log size {})",
                req.first_index,
                self.writer.size()
            );
            return Some(failed);
        }
        let signer = &mut self.signer;
        let entries = req.entries.iter().map(Vec::as_slice);
        match self.writer.commit(entries, |size, root| signer.sign(size, root)) {
            Ok(()) => Some(DurabilityNotice::Durable {
                size: self.writer.head().size,
            }),
            Err(CommitFailure::CheckpointPending(e)) => {
                debug_println!("tiles: checkpoint at {} pending: {e}", self.writer.size());
                None
            }
            Err(CommitFailure::NotWritten(e)) => {
                debug_println!("tiles: commit at {} failed: {e}", req.first_index);
                Some(failed)
            }
        }
    }
}

impl Handler for TilesPd {
    type Error = Infallible;

    fn notified(&mut self, _channels: ChannelSet) -> Result<(), Self::Error> {
        self.pump();
        Ok(())
    }
}
