//! A minimal ARM PL011 UART driver (QEMU virt's console at 0x0900_0000): polled
//! transmit, interrupt-driven receive.
//!
//! Must never: touch registers other than the ones named here, or block on receive.

use core::ptr::NonNull;

const DR: usize = 0x00;
const FR: usize = 0x18;
const IMSC: usize = 0x38;
const ICR: usize = 0x44;
const FR_RXFE: u32 = 1 << 4;
const FR_TXFF: u32 = 1 << 5;
/// Receive and receive-timeout interrupts.
const INT_RX: u32 = (1 << 4) | (1 << 6);

/// A PL011 mapped uncached into this PD.
pub struct Pl011 {
    base: NonNull<u8>,
}

impl Pl011 {
    /// Takes the UART at `base` and enables its receive interrupts (the firmware or
    /// QEMU has already enabled the UART itself).
    ///
    /// # Safety
    /// `base` maps the PL011's 4 KiB register page, uncached, and nothing else in
    /// this PD accesses it.
    pub unsafe fn new(base: NonNull<u8>) -> Self {
        let uart = Pl011 { base };
        uart.write(ICR, 0x7ff);
        uart.write(IMSC, INT_RX);
        uart
    }

    fn read(&self, reg: usize) -> u32 {
        // SAFETY: `reg` is a PL011 register inside the mapped page.
        unsafe { self.base.add(reg).cast::<u32>().read_volatile() }
    }

    fn write(&self, reg: usize, value: u32) {
        // SAFETY: as in `read`.
        unsafe { self.base.add(reg).cast::<u32>().write_volatile(value) }
    }

    /// Writes one byte, waiting while the transmit FIFO is full.
    pub fn put(&self, byte: u8) {
        while self.read(FR) & FR_TXFF != 0 {
            core::hint::spin_loop();
        }
        self.write(DR, u32::from(byte));
    }

    /// Writes bytes, turning `\n` into `\r\n` for terminals.
    pub fn put_all(&self, bytes: &[u8]) {
        for &b in bytes {
            if b == b'\n' {
                self.put(b'\r');
            }
            self.put(b);
        }
    }

    /// The next received byte, if the receive FIFO holds one.
    pub fn get(&self) -> Option<u8> {
        (self.read(FR) & FR_RXFE == 0).then(|| self.read(DR) as u8)
    }

    /// Clears the receive interrupts (before draining with [`Pl011::get`]: QEMU raises
    /// them again only when the FIFO goes from empty to non-empty).
    pub fn clear_rx_interrupt(&self) {
        self.write(ICR, INT_RX);
    }
}
