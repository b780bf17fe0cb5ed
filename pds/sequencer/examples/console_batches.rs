//! The appliance's `bench` path natively, for profiling what the sequencer PD spends its
//! time on under emulation (QEMU TCG's cost follows the instructions executed):
//! `transfers` request bodies of 2,048 bench transfers parsed by `ledgerfs-model`,
//! executed by the core, answered with the results JSON, exactly as
//! `pds/sel4/sequencer/src/command.rs` does. Run it under `perf stat`/`perf record`:
//! `cargo run --release -p ledgerfs-sequencer --example console_batches -- 100000`.

use std::time::Instant;

use ledgerfs_model::request::{parse_accounts, parse_transfers};
use ledgerfs_model::time::UnixNanos;
use ledgerfs_sequencer::{write_results_json, EntryBuffer, Limits, ResultsShape, Sequencer};

fn body(from: u64, n: u64) -> Vec<u8> {
    let mut out = String::from("[");
    for i in from..from + n {
        if i > from {
            out.push(',');
        }
        out.push_str(&format!(
            r#"{{"id":"bench-0-{i}","debit":"bench-source","credit":"bench-sink","amount":"0.01","currency":"EUR"}}"#
        ));
    }
    out.push(']');
    out.into_bytes()
}

fn main() {
    let total: u64 = std::env::args()
        .nth(1)
        .map_or(100_000, |n| n.parse().expect("a number"));
    let mut seq = Sequencer::new(Limits::default());
    let mut entries = EntryBuffer::new();
    let mut results = Vec::new();
    let accounts =
        parse_accounts(br#"[{"id":"bench-source","currency":"EUR"},{"id":"bench-sink","currency":"EUR"}]"#).unwrap();
    seq.execute(&accounts, 1_800_000_000_000_000_000, &mut results, &mut entries);
    seq.mark_durable(seq.next_index());
    let bodies: Vec<Vec<u8>> = (0..total.div_ceil(2048))
        .map(|b| body(b * 2048, (total - b * 2048).min(2048)))
        .collect();
    let (mut parsing, mut executing, mut replying) = (0.0, 0.0, 0.0);
    let mut bytes = 0;
    for (k, body) in bodies.iter().enumerate() {
        let t0 = Instant::now();
        let events = parse_transfers(body).expect("bench transfers parse");
        let t1 = Instant::now();
        results.clear();
        entries.clear();
        seq.execute(
            &events,
            1_800_000_000_000_000_000 + k as UnixNanos,
            &mut results,
            &mut entries,
        );
        seq.mark_durable(seq.next_index()); // as tiles' durability notice does
        let t2 = Instant::now();
        let mut out = String::from("{\"results\":");
        write_results_json(&mut out, events.iter().map(|e| e.id()), &results, ResultsShape::All);
        bytes += out.len();
        let t3 = Instant::now();
        parsing += (t1 - t0).as_secs_f64();
        executing += (t2 - t1).as_secs_f64();
        replying += (t3 - t2).as_secs_f64();
    }
    let per = |s: f64| s * 1e9 / total as f64;
    println!(
        "{total} transfers: parse {:.0} ns, execute {:.0} ns, reply {:.0} ns per transfer ({bytes} reply bytes)",
        per(parsing),
        per(executing),
        per(replying)
    );
}
