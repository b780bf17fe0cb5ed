//! The in-image throughput run (`bench N`): N generated transfers sequenced end to end,
//! exactly like console commands (JSON request parsing, the sequencer core, tiles, the
//! blk disk, attest's signature), in batches of [`BATCH`], each batch durable under a
//! signed checkpoint before the next starts. Only the serial transport is left out.

use alloc::string::String;
use alloc::vec::Vec;
use ledgerfs_model::json::write_u128;

/// Transfers per batch: one commit (about 300 bytes per entry, well inside one
/// `seq_to_tiles` buffer of 1 MiB).
pub const BATCH: u64 = 2048;
/// Largest run one command may ask for (the core's transfer limit bounds it anyway).
pub const MAX_TRANSFERS: u64 = 1_000_000;

/// The accounts every run moves money between (opened by the first run).
pub const ACCOUNTS: &[u8] = br#"[{"id":"bench-source","currency":"EUR"},{"id":"bench-sink","currency":"EUR"}]"#;

/// One run in progress.
pub struct BenchRun {
    /// Transfers asked for.
    pub total: u64,
    /// Transfers generated so far.
    pub sent: u64,
    /// Transfers the core accepted.
    pub accepted: u64,
    /// Commits made.
    pub batches: u64,
    /// Log size when the run started: makes transfer ids unique across runs.
    pub run: u64,
    /// Counter value at the start.
    pub started: u64,
    /// Counter ticks spent building request bodies (what a client does elsewhere).
    pub generating: u64,
    /// Counter ticks in the sequencer's own work: parsing, the core, the reply.
    pub sequencing: u64,
    /// Counter ticks handing the entries to tiles (encoding the commit request).
    pub handing_off: u64,
    /// Counter ticks from the hand-off to the durability notice (tiles, blk, attest).
    pub committing: u64,
    /// Counter value when the last commit was handed to tiles.
    pub handed_at: u64,
}

impl BenchRun {
    /// A run of `total` transfers starting at log size `run`, counter `started`.
    pub fn new(total: u64, run: u64, started: u64) -> BenchRun {
        BenchRun {
            total,
            sent: 0,
            accepted: 0,
            batches: 0,
            run,
            started,
            generating: 0,
            sequencing: 0,
            handing_off: 0,
            committing: 0,
            handed_at: 0,
        }
    }

    /// The next batch as a `transfers` request body, or `None` when all were sent.
    pub fn next_batch(&mut self) -> Option<Vec<u8>> {
        let n = (self.total - self.sent).min(BATCH);
        if n == 0 {
            return None;
        }
        // Written piece by piece rather than with `write!`: a client builds its request
        // on its own machine, so the run should spend its time on what the ledger does
        // with one, not on `core::fmt` (which is slow under emulation).
        let mut out = String::with_capacity(n as usize * 110);
        out.push('[');
        for i in self.sent..self.sent + n {
            if i > self.sent {
                out.push(',');
            }
            out.push_str(r#"{"id":"bench-"#);
            write_u128(&mut out, u128::from(self.run));
            out.push('-');
            write_u128(&mut out, u128::from(i));
            out.push_str(r#"","debit":"bench-source","credit":"bench-sink","amount":"0.01","currency":"EUR"}"#);
        }
        out.push(']');
        self.sent += n;
        self.batches += 1;
        Some(out.into_bytes())
    }

    /// The final reply: the rate, and where the time went (`to_nanos` converts counter
    /// ticks), so a profile under emulation needs no other tool.
    pub fn report(&self, elapsed_nanos: u64, size: u64, to_nanos: impl Fn(u64) -> u64) -> String {
        let rate = if elapsed_nanos == 0 {
            0
        } else {
            (u128::from(self.accepted) * 1_000_000_000 / u128::from(elapsed_nanos)) as u64
        };
        alloc::format!(
            "{{\"bench\":{{\"transfers\":{},\"accepted\":{},\"batches\":{},\"batch\":{BATCH},\"milliseconds\":{},\"transfers_per_s\":{rate},\"generating_ms\":{},\"sequencing_ms\":{},\"handing_off_ms\":{},\"committing_ms\":{}}},\"size\":{size}}}",
            self.total,
            self.accepted,
            self.batches,
            elapsed_nanos / 1_000_000,
            to_nanos(self.generating) / 1_000_000,
            to_nanos(self.sequencing) / 1_000_000,
            to_nanos(self.handing_off) / 1_000_000,
            to_nanos(self.committing) / 1_000_000
        )
    }
}
