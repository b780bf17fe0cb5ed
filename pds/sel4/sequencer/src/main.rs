//! The sequencer protection domain: receives command lines from the serial PD over the
//! `serial_to_seq` queue, runs them through the ledgerfs-sequencer core and sends one
//! JSON reply per command back over `seq_to_serial`. It notifies the serial PD only when
//! serial asked (sDDF discipline); with a full reply queue it stops taking commands
//! until serial hands buffers back (backpressure, nothing dropped).
//!
//! Durability: the entries of each command go to the tiles PD (`seq_to_tiles`, a
//! `CommitRequest`); the reply is sent only when tiles reports them durable under a signed
//! checkpoint (`tiles_to_seq`, a `DurabilityNotice`), and `mark_durable` is called then. A
//! `Failed` notice rolls the core back to the durable size. One command is in flight at a
//! time: serial's next line waits in its queue meanwhile.
//!
//! Time: a fixed `now` (below) for this slice; the sequencer core keeps entry times
//! strictly increasing from it. The timer PD of a later slice replaces it.
#![no_std]
#![no_main]

extern crate alloc;

mod command;

use alloc::string::String;
use alloc::vec::Vec;

use command::Outcome;
use ledgerfs_model::time::UnixNanos;
use ledgerfs_proto::{CommitRequest, DurabilityNotice, decode, encode_vec, tiles_tag};
use ledgerfs_ring::{MessageReceiver, MessageSender, RegionLayout, RingError};
use ledgerfs_sequencer::{EntryBuffer, Limits, Sequencer};
use sel4_microkit::{Channel, ChannelSet, Handler, Infallible, debug_println, memory_region_symbol, protection_domain};

/// The channel to the serial PD.
const SERIAL: Channel = Channel::new(1);
/// The channel to the tiles PD.
const TILES: Channel = Channel::new(2);
/// Size of each queue region to and from serial (system.xml).
const QUEUE_SIZE: usize = 0x20_0000;
/// Sizes of the queue regions to and from tiles (system.xml).
const SEQ_TO_TILES_SIZE: usize = 0x100_0000;
const TILES_TO_SEQ_SIZE: usize = 0x1_0000;
/// 2026-11-21T10:00:00Z: every batch of this slice is sequenced "now" (no clock yet).
const NOW: UnixNanos = 1_795_255_200_000_000_000;

#[protection_domain(heap_size = 64 * 1024 * 1024)]
fn init() -> SequencerPd {
    // SAFETY: system.xml maps each queue region at its symbol into this PD and its peer
    // (serial or tiles) only; we are the receiving end of one and the sending end of the other.
    let (from_serial, to_serial, to_tiles, from_tiles) = unsafe {
        (
            MessageReceiver::attach(memory_region_symbol!(serial_to_seq: *mut u8).as_ptr(), QUEUE_SIZE),
            MessageSender::attach(memory_region_symbol!(seq_to_serial: *mut u8).as_ptr(), QUEUE_SIZE),
            MessageSender::attach(memory_region_symbol!(seq_to_tiles: *mut u8).as_ptr(), SEQ_TO_TILES_SIZE),
            MessageReceiver::attach(memory_region_symbol!(tiles_to_seq: *mut u8).as_ptr(), TILES_TO_SEQ_SIZE),
        )
    };
    let limits = Limits {
        max_accounts: 10_000,
        max_transfers: 100_000,
        reserve_transfers: 1024,
    };
    let mut pd = SequencerPd {
        seq: Sequencer::new(limits),
        entries: EntryBuffer::new(),
        from_serial: from_serial.expect("serial_to_seq"),
        to_serial: to_serial.expect("seq_to_serial"),
        to_tiles: to_tiles.expect("seq_to_tiles"),
        from_tiles: from_tiles.expect("tiles_to_seq"),
        waiting: None,
        tiles_msg: alloc::vec![0; RegionLayout::new(TILES_TO_SEQ_SIZE).expect("queue region fits").buffer_size],
        line: alloc::vec![0; RegionLayout::new(QUEUE_SIZE).expect("queue region fits").buffer_size],
        pending: None,
    };
    let ready = alloc::format!(
        "sequencer: ready ({} accounts, {} transfers max; durable via tiles; fixed time)",
        limits.max_accounts,
        limits.max_transfers
    );
    pd.pending = Some(ready);
    pd.pump();
    pd
}

/// What the PD waits for from tiles before it takes the next command.
enum Waiting {
    /// Entries below `size` durable; then send `reply`.
    Durable { size: u64, reply: String },
    /// The current checkpoint note.
    Checkpoint,
}

/// The sequencer PD's state: the core, the queue ends, an unsent reply and what it
/// waits for from tiles.
struct SequencerPd {
    seq: Sequencer,
    entries: EntryBuffer,
    from_serial: MessageReceiver<'static>,
    to_serial: MessageSender<'static>,
    to_tiles: MessageSender<'static>,
    from_tiles: MessageReceiver<'static>,
    waiting: Option<Waiting>,
    tiles_msg: Vec<u8>,
    line: Vec<u8>,
    pending: Option<String>,
}

impl SequencerPd {
    /// Answers every waiting command, then sleeps with a signal requested.
    fn pump(&mut self) {
        let mut wake_serial = false;
        let mut wake_tiles = false;
        loop {
            self.take_tiles_messages();
            if let Some(reply) = self.pending.take() {
                match self.to_serial.send(reply.as_bytes(), 0) {
                    Ok(()) => wake_serial |= self.to_serial.needs_signal(),
                    Err(RingError::Full) if self.to_serial.request_signal() == Ok(false) => {
                        self.pending = Some(reply);
                        continue;
                    }
                    Err(RingError::Full) => {
                        self.pending = Some(reply);
                        break;
                    }
                    Err(RingError::BadCapacity) => self.pending = Some(too_large()),
                    Err(e) => break debug_println!("sequencer: seq_to_serial stopped: {e}"),
                }
            }
            if self.pending.is_some() {
                continue;
            }
            if self.waiting.is_some() {
                match self.from_tiles.request_signal() {
                    Ok(false) => continue,
                    Ok(true) => break,
                    Err(e) => break debug_println!("sequencer: tiles_to_seq stopped: {e}"),
                }
            }
            match self.from_serial.recv(&mut self.line) {
                Ok((len, _tag)) => {
                    let line = &self.line[..len];
                    match command::run(&mut self.seq, &mut self.entries, line, NOW) {
                        Outcome::Reply(reply) => self.pending = Some(reply),
                        Outcome::Commit(reply) => self.commit(reply),
                        Outcome::Checkpoint => self.ask_tiles(&[], tiles_tag::CHECKPOINT, Waiting::Checkpoint),
                    }
                    wake_tiles |= self.to_tiles.needs_signal();
                }
                Err(RingError::Empty) if self.from_serial.request_signal() == Ok(false) => {}
                Err(RingError::Empty) => break,
                Err(e) => break debug_println!("sequencer: serial_to_seq stopped: {e}"),
            }
        }
        if wake_serial | self.from_serial.needs_signal() {
            SERIAL.notify();
        }
        if wake_tiles | self.from_tiles.needs_signal() {
            TILES.notify();
        }
    }

    /// Hands the last command's entries to tiles; `reply` waits for their durability.
    fn commit(&mut self, reply: String) {
        let request = CommitRequest {
            epoch: 0,
            first_index: self.entries.first_index().expect("a commit has entries"),
            entries: self.entries.iter().map(<[u8]>::to_vec).collect(),
        };
        let size = self.seq.next_index();
        match encode_vec(&request) {
            Ok(bytes) => self.ask_tiles(&bytes, tiles_tag::COMMIT, Waiting::Durable { size, reply }),
            Err(_) => self.storage_failed(self.seq.durable_size()),
        }
    }

    /// Sends one message to tiles and waits for `waiting`; a message tiles cannot take
    /// fails the command (entries rolled back).
    fn ask_tiles(&mut self, bytes: &[u8], tag: u32, waiting: Waiting) {
        match self.to_tiles.send(bytes, tag) {
            Ok(()) => self.waiting = Some(waiting),
            Err(e) => {
                debug_println!("sequencer: seq_to_tiles: {e}");
                let durable = self.seq.durable_size();
                self.storage_failed(durable);
            }
        }
    }

    /// Entries from `size` on were not stored: undo them and fail the command.
    fn storage_failed(&mut self, size: u64) {
        self.seq.roll_back_to(size);
        self.waiting = None;
        self.pending = Some(command::error(
            "storage_failed",
            "the entries were not stored; nothing changed",
        ));
    }

    /// Applies every message waiting from tiles.
    fn take_tiles_messages(&mut self) {
        loop {
            let (len, tag) = match self.from_tiles.recv(&mut self.tiles_msg) {
                Ok(m) => m,
                Err(RingError::Empty) => return,
                Err(e) => return debug_println!("sequencer: tiles_to_seq stopped: {e}"),
            };
            let bytes = &self.tiles_msg[..len];
            match (tag, self.waiting.take()) {
                (tiles_tag::CHECKPOINT, Some(Waiting::Checkpoint)) => self.pending = Some(command::checkpoint(bytes)),
                (tiles_tag::COMMIT, waiting) => match decode::<DurabilityNotice>(bytes) {
                    Ok(DurabilityNotice::Durable { size })
                        if (self.seq.durable_size()..=self.seq.next_index()).contains(&size) =>
                    {
                        self.seq.mark_durable(size);
                        match waiting {
                            Some(Waiting::Durable { size: want, reply }) if size >= want => self.pending = Some(reply),
                            other => self.waiting = other,
                        }
                    }
                    Ok(DurabilityNotice::Failed { size })
                        if (self.seq.durable_size()..=self.seq.next_index()).contains(&size) =>
                    {
                        self.storage_failed(size)
                    }
                    _ => {
                        debug_println!("sequencer: impossible notice from tiles; ignored");
                        self.waiting = waiting;
                    }
                },
                (tag, waiting) => {
                    debug_println!("sequencer: unexpected message (tag {tag}) from tiles; ignored");
                    self.waiting = waiting;
                }
            }
        }
    }
}

/// The reply to a batch whose results do not fit one queue buffer.
fn too_large() -> String {
    String::from("{\"error\":{\"code\":\"reply_too_large\",\"message\":\"send smaller batches\"}}")
}

impl Handler for SequencerPd {
    type Error = Infallible;

    fn notified(&mut self, _channels: ChannelSet) -> Result<(), Self::Error> {
        self.pump();
        Ok(())
    }
}
