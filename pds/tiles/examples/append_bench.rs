//! Rough append/commit throughput of `TileLog` (run with `--release`):
//! `cargo run -p ledgerfs-tiles --release --example append_bench -- [entries] [entry_len] [batch]`.
//! Measures the core only: writes are produced and dropped, never stored.

use std::time::Instant;

use ledgerfs_tiles::{leaf_hash, TileLog};

fn main() {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<u64>().expect("number"));
    let entries = args.next().unwrap_or(2_000_000);
    let entry_len = args.next().unwrap_or(100) as usize;
    let batch = args.next().unwrap_or(4_096);
    let mut entry = vec![0u8; entry_len];
    let mut log = TileLog::new();
    let mut writes = Vec::new();
    let mut bytes_out = 0usize;

    let start = Instant::now();
    for i in 0..entries {
        entry[..8.min(entry_len)].copy_from_slice(&i.to_le_bytes()[..8.min(entry_len)]);
        log.append(&entry).expect("append");
        if (i + 1) % batch == 0 {
            writes.clear();
            log.commit(&mut writes);
            bytes_out += writes.iter().map(|w| w.bytes.len()).sum::<usize>();
            log.mark_durable(log.size());
        }
    }
    writes.clear();
    let root = log.commit(&mut writes);
    let secs = start.elapsed().as_secs_f64();
    println!(
        "append+commit: {entries} entries of {entry_len} B, batch {batch}: {:.0} entries/s ({:.1} MB written), root {:02x}{:02x}..",
        entries as f64 / secs,
        bytes_out as f64 / 1e6,
        root[0],
        root[1]
    );

    // The same with leaf hashes precomputed (what `append_hashed` saves the sequencer thread).
    let leaves: Vec<[u8; 32]> = (0..entries)
        .map(|i| {
            entry[..8.min(entry_len)].copy_from_slice(&i.to_le_bytes()[..8.min(entry_len)]);
            leaf_hash(&entry)
        })
        .collect();
    let mut log = TileLog::new();
    let start = Instant::now();
    for (i, leaf) in leaves.iter().enumerate() {
        entry[..8.min(entry_len)].copy_from_slice(&(i as u64).to_le_bytes()[..8.min(entry_len)]);
        log.append_hashed(&entry, leaf).expect("append");
        if (i as u64 + 1) % batch == 0 {
            writes.clear();
            log.commit(&mut writes);
            log.mark_durable(log.size());
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!("append_hashed+commit: {:.0} entries/s", entries as f64 / secs);
}
