//! The net_driver protection domain: the virtio-net driver, and the only PD that maps the
//! virtio-net device's MMIO page (QEMU virt's transports 16..=23; the device sits on
//! transport 23, `-device virtio-net-device,bus=virtio-mmio-bus.23`), its DMA region and
//! its interrupt. It knows nothing of IP: it moves whole Ethernet frames between the
//! device and the network PD over two ledgerfs-ring queues, `net_rx` (received frames,
//! driver → network) and `net_tx` (frames to send, network → driver), in sDDF's split of
//! a driver and its client.
//!
//! A received frame that finds `net_rx` full is dropped, as a NIC drops on a full ring:
//! TCP retransmits it. Frames to send are taken until `net_tx` is empty; each is handed to
//! the device and completed before the next (virtio-drivers' `send`).
//!
//! DMA: virtio-drivers with rust-sel4's `sel4-virtio-hal-impl`, which bounces every buffer
//! through `net_dma`, whose physical address Microkit tells us (`setvar region_paddr`).
#![no_std]
#![no_main]

extern crate alloc;

use ledgerfs_ring::{MessageReceiver, MessageSender, RegionLayout, RingError};
use sel4_microkit::{
    Channel, ChannelSet, Handler, Infallible, debug_println, memory_region_symbol, protection_domain, var,
};
use sel4_virtio_hal_impl::HalImpl;
use virtio_drivers::device::net::VirtIONet;
use virtio_drivers::transport::DeviceType;
use virtio_drivers::transport::mmio::MmioTransport;

/// The device's interrupt (system.xml `<irq id="0">`).
const DEVICE: Channel = Channel::new(0);
/// The channel to the network PD.
const NETWORK: Channel = Channel::new(1);
/// Region sizes (system.xml).
const DMA_SIZE: usize = 0x20_0000;
const FRAME_QUEUE_SIZE: usize = 0x4_0000;
/// The transport system.xml's interrupt belongs to (transport 23: IRQ 48 + 23).
const EXPECTED_SLOT: usize = 7;
/// Receive buffers in the device's queue, and their size (a frame plus virtio's header).
const QUEUE: usize = 16;
const BUFFER_LEN: usize = 2048;

type Device = VirtIONet<HalImpl, MmioTransport<'static>, QUEUE>;

#[protection_domain(heap_size = 512 * 1024)]
fn init() -> NetDriver {
    HalImpl::init(
        DMA_SIZE,
        *var!(net_dma_vaddr: usize = 0),
        *var!(net_dma_paddr: usize = 0),
    );
    let mmio = *var!(virtio_net_mmio_vaddr: usize = 0);
    // SAFETY: system.xml maps the card's MMIO page uncached into this PD only.
    let found = unsafe { ledgerfs_sel4_virtio::find(mmio, DeviceType::Network) };
    let device = match found {
        Some((slot, transport)) => {
            if slot != EXPECTED_SLOT {
                debug_println!(
                    "net_driver: virtio-net on transport {} of the page, not {EXPECTED_SLOT}: its interrupt is not ours",
                    16 + slot
                );
            }
            match Device::new(transport, BUFFER_LEN) {
                Ok(d) => Some(d),
                Err(e) => {
                    debug_println!("net_driver: virtio-net init failed: {e:?}");
                    None
                }
            }
        }
        None => None,
    };
    match &device {
        Some(d) => {
            let m = d.mac_address();
            debug_println!(
                "net_driver: ready (MAC {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x})",
                m[0],
                m[1],
                m[2],
                m[3],
                m[4],
                m[5]
            );
        }
        None => debug_println!("net_driver: no virtio-net device: the appliance has no network (boot QEMU with one)"),
    }
    // SAFETY: system.xml maps both frame queues into this PD and the network PD only; we
    // send on net_rx and receive on net_tx.
    let (to_network, from_network) = unsafe {
        (
            MessageSender::attach(memory_region_symbol!(net_rx: *mut u8).as_ptr(), FRAME_QUEUE_SIZE),
            MessageReceiver::attach(memory_region_symbol!(net_tx: *mut u8).as_ptr(), FRAME_QUEUE_SIZE),
        )
    };
    let frame = RegionLayout::new(FRAME_QUEUE_SIZE)
        .expect("frame queue fits")
        .buffer_size;
    let mut driver = NetDriver {
        device,
        to_network: to_network.expect("net_rx"),
        from_network: from_network.expect("net_tx"),
        frame: alloc::vec![0; frame],
        dropped: 0,
    };
    if let Some(d) = driver.device.as_mut() {
        d.ack_interrupt();
    }
    DEVICE.irq_ack().expect("irq ack");
    driver.pump();
    driver
}

/// The driver's state: the device and both frame queues.
struct NetDriver {
    device: Option<Device>,
    to_network: MessageSender<'static>,
    from_network: MessageReceiver<'static>,
    frame: alloc::vec::Vec<u8>,
    /// Received frames dropped on a full `net_rx`.
    dropped: u64,
}

impl NetDriver {
    /// Moves frames both ways until neither side has more, then sleeps with a signal
    /// requested from the network PD.
    fn pump(&mut self) {
        let Some(dev) = self.device.as_mut() else { return };
        // A queue's peer is notified only about what this PD did to it (sent a frame,
        // took one): asking `needs_signal` otherwise would consume the peer's request
        // and wake it for nothing, and two PDs doing that wake each other forever.
        let (mut sent, mut took) = (false, false);
        loop {
            let mut moved = false;
            while let Ok(rx) = dev.receive() {
                moved = true;
                match self.to_network.send(rx.packet(), 0) {
                    Ok(()) => sent = true,
                    Err(RingError::Full) | Err(RingError::TooLong) => {
                        self.dropped += 1;
                        if self.dropped.is_power_of_two() {
                            debug_println!("net_driver: {} received frames dropped (net_rx full)", self.dropped);
                        }
                    }
                    Err(e) => debug_println!("net_driver: net_rx: {e}"),
                }
                if dev.recycle_rx_buffer(rx).is_err() {
                    debug_println!("net_driver: a receive buffer could not be recycled");
                }
            }
            loop {
                match self.from_network.recv(&mut self.frame) {
                    Ok((len, _)) => {
                        moved = true;
                        took = true;
                        let mut tx = dev.new_tx_buffer(len);
                        tx.packet_mut().copy_from_slice(&self.frame[..len]);
                        if let Err(e) = dev.send(tx) {
                            debug_println!("net_driver: send failed: {e:?}");
                        }
                    }
                    Err(RingError::Empty) => match self.from_network.request_signal() {
                        Ok(false) => continue,
                        _ => break,
                    },
                    Err(e) => {
                        debug_println!("net_driver: net_tx stopped: {e}");
                        break;
                    }
                }
            }
            if !moved {
                break;
            }
        }
        if (sent && self.to_network.needs_signal()) | (took && self.from_network.needs_signal()) {
            NETWORK.notify();
        }
    }
}

impl Handler for NetDriver {
    type Error = Infallible;

    fn notified(&mut self, channels: ChannelSet) -> Result<(), Self::Error> {
        if channels.contains(DEVICE) {
            if let Some(d) = self.device.as_mut() {
                d.ack_interrupt();
            }
            DEVICE.irq_ack().expect("irq ack");
        }
        self.pump();
        Ok(())
    }
}
