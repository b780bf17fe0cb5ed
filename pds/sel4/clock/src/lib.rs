//! The ARM generic timer's physical counter (`CNTPCT_EL0`), which the Microkit SDK's seL4
//! configuration exports to user level (KernelArmExportPCNTUser): every PD may read it
//! without a capability. The PDs use it for elapsed times (boot-to-ready, benchmarks) and
//! unique values; wall-clock time comes from the timer PD alone (it maps the RTC).
#![no_std]

/// The counter's current value (ticks since the machine was reset).
pub fn counter() -> u64 {
    let v: u64;
    // SAFETY: reading CNTPCT_EL0 has no side effects; seL4 enables EL0 access. The ISB
    // keeps the read from being hoisted above earlier instructions.
    unsafe { core::arch::asm!("isb", "mrs {}, cntpct_el0", out(reg) v, options(nomem, nostack)) };
    v
}

/// The counter's frequency in Hz.
pub fn frequency() -> u64 {
    let v: u64;
    // SAFETY: CNTFRQ_EL0 is readable at EL0 whenever a counter is exported.
    unsafe { core::arch::asm!("mrs {}, cntfrq_el0", out(reg) v, options(nomem, nostack)) };
    v
}

/// `ticks` of the counter in nanoseconds.
pub fn ticks_to_nanos(ticks: u64) -> u64 {
    (u128::from(ticks) * 1_000_000_000 / u128::from(frequency().max(1))) as u64
}
