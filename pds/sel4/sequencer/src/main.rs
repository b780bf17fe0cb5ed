//! The sequencer protection domain: receives command lines from the serial PD over the
//! `serial_to_seq` queue, runs them through the ledgerfs-sequencer core and sends one
//! JSON reply per command back over `seq_to_serial`. It notifies the serial PD only when
//! serial asked (sDDF discipline); with a full reply queue it stops taking commands
//! until serial hands buffers back (backpressure, nothing dropped).
//!
//! Time: a fixed `now` (below) for this slice; the sequencer core keeps entry times
//! strictly increasing from it. The timer PD of a later slice replaces it.
#![no_std]
#![no_main]

extern crate alloc;

mod command;

use alloc::string::String;
use alloc::vec::Vec;

use ledgerfs_model::time::UnixNanos;
use ledgerfs_ring::{MessageReceiver, MessageSender, RegionLayout, RingError};
use ledgerfs_sequencer::{EntryBuffer, Limits, Sequencer};
use sel4_microkit::{Channel, ChannelSet, Handler, Infallible, debug_println, memory_region_symbol, protection_domain};

/// The channel to the serial PD.
const SERIAL: Channel = Channel::new(1);
/// Size of each queue region (system.xml).
const QUEUE_SIZE: usize = 0x20_0000;
/// 2026-11-21T10:00:00Z: every batch of this slice is sequenced "now" (no clock yet).
const NOW: UnixNanos = 1_795_255_200_000_000_000;

#[protection_domain(heap_size = 64 * 1024 * 1024)]
fn init() -> SequencerPd {
    // SAFETY: system.xml maps each queue region at its symbol into this PD and the serial
    // PD only; we are the receiving end of one and the sending end of the other.
    let (from_serial, to_serial) = unsafe {
        (
            MessageReceiver::attach(memory_region_symbol!(serial_to_seq: *mut u8).as_ptr(), QUEUE_SIZE),
            MessageSender::attach(memory_region_symbol!(seq_to_serial: *mut u8).as_ptr(), QUEUE_SIZE),
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
        line: alloc::vec![0; RegionLayout::new(QUEUE_SIZE).expect("queue region fits").buffer_size],
        pending: None,
    };
    let ready = alloc::format!(
        "sequencer: ready ({} accounts, {} transfers max; in memory; fixed time)",
        limits.max_accounts,
        limits.max_transfers
    );
    pd.pending = Some(ready);
    pd.pump();
    pd
}

/// The sequencer PD's state: the core, both queue ends and an unsent reply.
struct SequencerPd {
    seq: Sequencer,
    entries: EntryBuffer,
    from_serial: MessageReceiver<'static>,
    to_serial: MessageSender<'static>,
    line: Vec<u8>,
    pending: Option<String>,
}

impl SequencerPd {
    /// Answers every waiting command, then sleeps with a signal requested.
    fn pump(&mut self) {
        let mut wake_serial = false;
        loop {
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
            match self.from_serial.recv(&mut self.line) {
                Ok((len, _tag)) => {
                    let line = &self.line[..len];
                    self.pending = Some(command::run(&mut self.seq, &mut self.entries, line, NOW));
                }
                Err(RingError::Empty) if self.from_serial.request_signal() == Ok(false) => {}
                Err(RingError::Empty) => break,
                Err(e) => break debug_println!("sequencer: serial_to_seq stopped: {e}"),
            }
        }
        if wake_serial | self.from_serial.needs_signal() {
            SERIAL.notify();
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
