//! The timer protection domain: the appliance's clock, and the only PD that maps the PL031
//! real-time clock. At init it reads the RTC's wall-clock seconds once and anchors them to
//! the ARM generic timer's physical counter (`CNTPCT_EL0`, which seL4 exports to user
//! level on this platform); afterwards each protected call answers "now" as Unix
//! nanoseconds in message register 0: the anchor plus the counter's elapsed ticks.
//!
//! The answer never goes backwards within a boot (the counter is monotonic). Across boots
//! the sequencer core keeps entry times monotonic itself (it never stamps an entry earlier
//! than the last one), so a host clock that moved back cannot reorder the log.
#![no_std]
#![no_main]

use ledgerfs_sel4_clock::{counter, frequency, ticks_to_nanos};
use sel4_microkit::{Channel, Handler, Infallible, MessageInfo, debug_println, protection_domain, set_mr, var};

/// PL031 data register (RTCDR): seconds since the Unix epoch (QEMU: the host's clock).
const RTCDR: usize = 0x0;

#[protection_domain(heap_size = 16 * 1024)]
fn init() -> TimerPd {
    let rtc = *var!(rtc_base: usize = 0);
    // SAFETY: system.xml maps the PL031's register page, uncached and read-only, into this
    // PD only; RTCDR is a 32-bit read-only register.
    let seconds = unsafe { core::ptr::read_volatile((rtc + RTCDR) as *const u32) };
    let pd = TimerPd {
        anchor_nanos: u64::from(seconds) * 1_000_000_000,
        anchor_ticks: counter(),
        frequency: frequency(),
    };
    debug_println!("timer: ready (RTC {seconds} s since 1970, counter {} Hz)", pd.frequency);
    pd
}

struct TimerPd {
    anchor_nanos: u64,
    anchor_ticks: u64,
    frequency: u64,
}

impl TimerPd {
    fn now_nanos(&self) -> u64 {
        let elapsed = ticks_to_nanos(counter().wrapping_sub(self.anchor_ticks));
        self.anchor_nanos.saturating_add(elapsed)
    }
}

impl Handler for TimerPd {
    type Error = Infallible;

    fn protected(&mut self, _channel: Channel, _msg_info: MessageInfo) -> Result<MessageInfo, Self::Error> {
        set_mr(0, self.now_nanos());
        Ok(MessageInfo::new(0, 1))
    }
}
