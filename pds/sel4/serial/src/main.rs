//! The serial protection domain: owns the PL011 (the only PD that maps it), turns typed
//! lines into messages on the `serial_to_seq` queue and prints each reply from the
//! `seq_to_serial` queue as one line. It notifies the sequencer only when the sequencer
//! asked (sDDF discipline) and understands no command itself.
#![no_std]
#![no_main]

extern crate alloc;

mod pl011;

use embedded_io::{Read, ReadReady};
use ledgerfs_console::{Input, LineBuffer};
use ledgerfs_ring::{MessageReceiver, MessageSender, RegionLayout, RingError};
use pl011::Pl011;
use sel4_microkit::{Channel, ChannelSet, Handler, Infallible, memory_region_symbol, protection_domain};

/// The PL011's receive interrupt (system.xml `<irq id="0">`).
const UART_IRQ: Channel = Channel::new(0);
/// The channel to the sequencer PD.
const SEQUENCER: Channel = Channel::new(1);
/// Size of each queue region (system.xml).
const QUEUE_SIZE: usize = 0x80_0000;

const BANNER: &str = "\nLedgerFS appliance: seL4 Microkit, PDs serial + sequencer + timer + tiles + attest + blk\n\
the ledger is a signed tlog-tiles log on the virtio-blk disk; it answers once `sequencer: ready` is printed\n\
commands: accounts JSON | transfers JSON | balance ID | checkpoint | status | snapshot | bench N   (the HTTP API's JSON bodies;\n          `@ID ` in front of a command tags its reply with \"command_id\":\"ID\")\n";

#[protection_domain(heap_size = 1024 * 1024)]
fn init() -> Serial {
    // SAFETY: system.xml maps the UART page uncached at `uart_base`, and each queue region
    // at its symbol, into this PD only (and the queues into the sequencer, the peer end).
    let (uart, to_seq, from_seq) = unsafe {
        (
            Pl011::new(memory_region_symbol!(uart_base: *mut u8)),
            MessageSender::attach(memory_region_symbol!(serial_to_seq: *mut u8).as_ptr(), QUEUE_SIZE),
            MessageReceiver::attach(memory_region_symbol!(seq_to_serial: *mut u8).as_ptr(), QUEUE_SIZE),
        )
    };
    let capacity = RegionLayout::new(QUEUE_SIZE).expect("queue region fits").buffer_size;
    let mut serial = Serial {
        uart,
        to_seq: to_seq.expect("serial_to_seq"),
        from_seq: from_seq.expect("seq_to_serial"),
        line: LineBuffer::new(capacity),
        capacity,
        reply: alloc::vec![0; capacity],
    };
    serial.print_replies();
    // Bytes typed before this PD ran sit in the FIFO, and QEMU raises the receive
    // interrupt only when the FIFO goes from empty to non-empty: drain it now, or the
    // console would never hear another byte. They were typed before the console was
    // there, perhaps with bytes lost: drop them and the rest of their line, so they
    // cannot garble the next command.
    serial.uart.clear_rx_interrupt();
    let mut last = None;
    let mut chunk = [0u8; 64];
    while let Ok(true) = (&serial.uart).read_ready() {
        let Ok(n) = (&serial.uart).read(&mut chunk);
        last = chunk[..n].last().copied().or(last);
    }
    if let Some(byte) = last {
        if byte != b'\r' && byte != b'\n' {
            serial.line.skip_line();
        }
        out(&serial.uart, b"(input typed during boot dropped up to its line end)\n");
    }
    // The banner last: a host that waits for it types into a console that listens.
    out(&serial.uart, BANNER.as_bytes());
    serial.read_uart();
    serial
}

/// The serial PD's state: the UART, both queue ends and the line being typed.
struct Serial {
    uart: Pl011,
    to_seq: MessageSender<'static>,
    from_seq: MessageReceiver<'static>,
    line: LineBuffer,
    /// Longest command line.
    capacity: usize,
    reply: alloc::vec::Vec<u8>,
}

impl Serial {
    /// Drains the receive FIFO: echoes, edits, and sends each complete line. The
    /// interrupt is cleared first, so a byte that arrives while draining raises it anew.
    fn read_uart(&mut self) {
        self.uart.clear_rx_interrupt();
        let mut chunk = [0u8; 64];
        while let Ok(true) = (&self.uart).read_ready() {
            let Ok(n) = (&self.uart).read(&mut chunk);
            for &byte in &chunk[..n] {
                self.take(byte);
            }
        }
    }

    /// Edits the line with one received byte, echoing it, and sends a complete line.
    fn take(&mut self, byte: u8) {
        match self.line.push(byte) {
            Input::Echo(b) => out(&self.uart, &[b]),
            Input::Erase => out(&self.uart, b"\x08 \x08"),
            Input::Line(line) => {
                out(&self.uart, b"\n");
                match self.to_seq.send(line, 0) {
                    Ok(()) => {}
                    Err(RingError::Full) => {
                        let reply =
                            "{\"error\":{\"code\":\"busy\",\"message\":\"the ledger's command queue is full: retry\"}}";
                        put_reply(
                            &self.uart,
                            &ledgerfs_console::tag(reply, ledgerfs_console::split(line).0),
                        );
                    }
                    Err(e) => report(&self.uart, "serial_to_seq", e),
                }
                if self.to_seq.needs_signal() {
                    SEQUENCER.notify();
                }
            }
            Input::TooLong(prefix) => {
                let reply = alloc::format!(
                    "{{\"error\":{{\"code\":\"request_too_large\",\"message\":\"a command line is at most {} bytes: send smaller batches\"}}}}",
                    self.capacity
                );
                out(&self.uart, b"\n");
                put_reply(
                    &self.uart,
                    &ledgerfs_console::tag(&reply, ledgerfs_console::split(prefix).0),
                );
            }
            Input::None => {}
        }
    }

    /// Prints every reply waiting in `seq_to_serial`, then asks to be notified of the next.
    fn print_replies(&mut self) {
        loop {
            match self.from_seq.recv(&mut self.reply) {
                Ok((len, _)) => {
                    // A reply starts a line of its own: a line being typed (already
                    // echoed) is echoed again after it.
                    let partial = self.line.partial();
                    if !partial.is_empty() {
                        out(&self.uart, b"\n");
                    }
                    out(&self.uart, &self.reply[..len]);
                    out(&self.uart, b"\n");
                    out(&self.uart, partial);
                }
                Err(RingError::Empty) => match self.from_seq.request_signal() {
                    Ok(false) => continue,
                    Ok(true) => break,
                    Err(e) => return report(&self.uart, "seq_to_serial", e),
                },
                Err(e) => return report(&self.uart, "seq_to_serial", e),
            }
        }
        if self.from_seq.needs_signal() {
            SEQUENCER.notify();
        }
    }
}

/// Writes bytes to the console (the UART's `embedded_io::Write`, which cannot fail).
fn out(uart: &Pl011, bytes: &[u8]) {
    let Ok(()) = embedded_io::Write::write_all(&mut &*uart, bytes);
}

/// Prints a reply of this PD's own (`busy`, `request_too_large`) as one line.
fn put_reply(uart: &Pl011, reply: &str) {
    out(uart, reply.as_bytes());
    out(uart, b"\n");
}

/// Reports a queue the peer corrupted; that queue is stopped for good.
fn report(uart: &Pl011, queue: &str, e: RingError) {
    out(uart, b"serial: queue ");
    out(uart, queue.as_bytes());
    out(uart, b" stopped: ");
    out(uart, e.code().as_bytes());
    out(uart, b"\n");
}

impl Handler for Serial {
    type Error = Infallible;

    fn notified(&mut self, channels: ChannelSet) -> Result<(), Self::Error> {
        if channels.contains(UART_IRQ) {
            self.read_uart();
            UART_IRQ.irq_ack().expect("irq ack");
        }
        if channels.contains(SEQUENCER) {
            self.print_replies();
        }
        Ok(())
    }
}
