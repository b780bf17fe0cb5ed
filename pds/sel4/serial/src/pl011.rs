//! A minimal ARM PL011 UART driver (QEMU virt's console at 0x0900_0000): polled
//! transmit, interrupt-driven receive.
//!
//! The console's byte streams go through `embedded-io`'s traits, implemented for
//! `&Pl011` (as std does for `&File`): [`embedded_io::Write`] (polled, `\n` sent as
//! `\r\n` for terminals) and [`embedded_io::Read`] with [`embedded_io::ReadReady`], so
//! the PD reads only what the FIFO holds and never blocks on receive.
//!
//! Must never: touch registers other than the ones named here, or block on receive when
//! `read_ready` said no byte is there.

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
        uart.store(ICR, 0x7ff);
        uart.store(IMSC, INT_RX);
        uart
    }

    fn load(&self, reg: usize) -> u32 {
        // SAFETY: `reg` is a PL011 register inside the mapped page.
        unsafe { self.base.add(reg).cast::<u32>().read_volatile() }
    }

    fn store(&self, reg: usize, value: u32) {
        // SAFETY: as in `read`.
        unsafe { self.base.add(reg).cast::<u32>().write_volatile(value) }
    }

    /// Writes one byte, waiting while the transmit FIFO is full.
    fn put(&self, byte: u8) {
        while self.load(FR) & FR_TXFF != 0 {
            core::hint::spin_loop();
        }
        self.store(DR, u32::from(byte));
    }

    fn rx_ready(&self) -> bool {
        self.load(FR) & FR_RXFE == 0
    }

    /// Clears the receive interrupts (before draining with [`Pl011::get`]: QEMU raises
    /// them again only when the FIFO goes from empty to non-empty).
    pub fn clear_rx_interrupt(&self) {
        self.store(ICR, INT_RX);
    }
}

impl embedded_io::ErrorType for &Pl011 {
    type Error = core::convert::Infallible;
}

impl embedded_io::Write for &Pl011 {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        for &b in buf {
            if b == b'\n' {
                self.put(b'\r');
            }
            self.put(b);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> Result<(), Self::Error> {
        // Bytes in the transmit FIFO leave on their own; nothing is buffered here.
        Ok(())
    }
}

impl embedded_io::ReadReady for &Pl011 {
    fn read_ready(&mut self) -> Result<bool, Self::Error> {
        Ok(self.rx_ready())
    }
}

impl embedded_io::Read for &Pl011 {
    /// Waits for a first byte (callers ask `read_ready` first), then takes what the FIFO
    /// holds, up to `buf.len()`.
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        if buf.is_empty() {
            return Ok(0);
        }
        while !self.rx_ready() {
            core::hint::spin_loop();
        }
        let mut n = 0;
        while n < buf.len() && self.rx_ready() {
            buf[n] = self.load(DR) as u8;
            n += 1;
        }
        Ok(n)
    }
}
