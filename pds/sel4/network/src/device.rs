//! smoltcp's `Device` over the net_driver's frame queues: a received frame is copied out
//! of `net_rx`, a frame to send is built in place and copied into `net_tx`.

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
    /// Frames smoltcp built that `net_tx` had no room for (dropped; TCP retransmits).
    pub tx_dropped: u64,
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
