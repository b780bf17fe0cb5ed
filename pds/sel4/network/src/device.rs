//! smoltcp's `Device` over the net_driver's frame queues: a received frame is copied out
//! of `net_rx`, a frame to send is built in place and copied into `net_tx`.
//!
//! Back-pressure, not loss: a token is handed out only while `net_tx` has a free buffer.
//! When it has none, smoltcp keeps the segment in its socket buffer and sends it at a
//! later poll; [`Frames::tx_blocked`] tells the PD to ask the driver for a signal when a
//! buffer comes back. (Dropping the frame instead would need smoltcp's retransmission
//! timer to recover it, and this PD has no timer: the connection would stall.)

use alloc::vec::Vec;

use ledgerfs_ring::{MessageReceiver, MessageSender, RingError};
use smoltcp::phy::{self, DeviceCapabilities, Medium};
use smoltcp::time::Instant;

/// The two frame queues to the driver.
pub struct Frames {
    /// Received frames (driver → network).
    pub rx: MessageReceiver<'static>,
    /// Frames to send (network → driver).
    pub tx: MessageSender<'static>,
    /// Largest frame a queue buffer holds.
    pub buffer: usize,
    /// Frames smoltcp built that `net_tx` refused (should stay 0: tokens wait for room).
    pub tx_dropped: u64,
    /// smoltcp wanted to send and `net_tx` had no free buffer: wait for the driver.
    pub tx_blocked: bool,
    /// A frame was sent since the driver was last told.
    pub sent: bool,
    /// A frame was taken since the driver was last told.
    pub took: bool,
}

/// Ethernet's MTU plus its header: what the driver's receive buffers hold.
const MTU: usize = 1514;

impl phy::Device for Frames {
    type RxToken<'a> = RxToken;
    type TxToken<'a> = TxToken<'a>;

    fn receive(&mut self, _now: Instant) -> Option<(RxToken, TxToken<'_>)> {
        // A received frame may need an answer (an ACK): leave it queued until one fits.
        if !self.tx.has_room() {
            self.tx_blocked = true;
            return None;
        }
        let mut frame = alloc::vec![0; self.buffer];
        match self.rx.recv(&mut frame) {
            Ok((len, _)) => {
                self.took = true;
                frame.truncate(len);
                Some((RxToken(frame), TxToken(self)))
            }
            Err(RingError::Empty) => None,
            Err(_) => None,
        }
    }

    fn transmit(&mut self, _now: Instant) -> Option<TxToken<'_>> {
        if !self.tx.has_room() {
            self.tx_blocked = true;
            return None;
        }
        Some(TxToken(self))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = MTU;
        caps.max_burst_size = None;
        caps
    }
}

/// One received frame.
pub struct RxToken(Vec<u8>);

impl phy::RxToken for RxToken {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.0)
    }
}

/// Room for one frame to send.
pub struct TxToken<'a>(&'a mut Frames);

impl phy::TxToken for TxToken<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut frame = alloc::vec![0; len];
        let result = f(&mut frame);
        if len > self.0.buffer || self.0.tx.send(&frame, 0).is_err() {
            self.0.tx_dropped += 1;
        } else {
            self.0.sent = true;
        }
        result
    }
}
