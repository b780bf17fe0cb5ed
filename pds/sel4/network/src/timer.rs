//! The network PD's alarm: the ARM generic timer's EL1 physical timer (`CNTP_*_EL0`),
//! which this SDK's seL4 (hypervisor mode, on the hypervisor timer itself) exports to user
//! level, interrupt PPI 30 in system.xml. smoltcp needs to be polled when a timer of TCP's
//! is due (retransmission, zero-window persist probes, keep-alive) even if no frame arrives;
//! without an alarm a lost segment or a missed window update stalls the connection until
//! the peer gives up. It also bounds how late an idle connection is closed.

/// Arms the alarm for counter value `at` (replacing any earlier one); it fires at once
/// if `at` has passed.
pub fn arm(at: u64) {
    // SAFETY: CNTP_CVAL_EL0/CNTP_CTL_EL0 are exported to EL0 (KernelArmExportPTMRUser); only
    // this PD gets the timer's interrupt, so nothing else relies on their values.
    unsafe {
        core::arch::asm!(
            "msr cntp_cval_el0, {at}",
            "msr cntp_ctl_el0, {on}",
            "isb",
            at = in(reg) at,
            on = in(reg) 1u64,
            options(nomem, nostack),
        )
    };
}

/// Disarms the alarm, which also lowers its (level) interrupt: call before acking it.
pub fn disarm() {
    // SAFETY: as `arm`.
    unsafe { core::arch::asm!("msr cntp_ctl_el0, {off}", "isb", off = in(reg) 0u64, options(nomem, nostack)) };
}
