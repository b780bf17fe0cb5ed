//! Micro benchmarks of the model: canonical encoding of one transfer entry
//! (`Entry::write`, the bytes the Merkle tree commits to) and parsing of an 8,189-transfer
//! API request body (`parse_transfers`, what the daemon does before sequencing). Quick by
//! default (`make bench-quick`); `make bench` passes longer measurement times.

use std::time::Duration;

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use ledgerfs_model::entry::{Entry, EntryBody, TransferRecord};
use ledgerfs_model::request::parse_transfers;
use ledgerfs_model::{Amount, Currency};

fn transfer_entry(index: u64) -> Entry<String> {
    Entry {
        index,
        time: 1_795_000_000_000_000_000 + index,
        body: EntryBody::Transfer(TransferRecord {
            id: format!("bench-t{index}"),
            debit: "acc-0001234".into(),
            credit: "acc-0005678".into(),
            amount: Amount(12_345),
            currency: Currency::from_code("EUR").expect("EUR is known"),
            reference: String::new(),
            metadata: "{}".into(),
            linked: false,
            phase: ledgerfs_model::Phase::Single,
            timeout: 0,
            balancing: ledgerfs_model::Balancing::default(),
            imported: false,
            firm_funds: false,
            closing: ledgerfs_model::Closing::default(),
        }),
    }
}

fn entry_write(c: &mut Criterion) {
    let entry = transfer_entry(1_000_000);
    let mut out = String::with_capacity(512);
    let mut group = c.benchmark_group("model");
    group.throughput(Throughput::Elements(1));
    group.bench_function("entry_write", |b| {
        b.iter(|| {
            out.clear();
            black_box(&entry).write(&mut out);
            black_box(out.len())
        })
    });
    group.finish();
}

/// A request body of `n` transfers shaped like the standard workload's.
fn transfers_body(n: u64) -> Vec<u8> {
    let items: Vec<String> = (0..n)
        .map(|i| {
            format!(
                r#"{{"id":"s-{i}","debit":"acc-{:06}","credit":"acc-{:06}","amount":"{}.{:02}","currency":"EUR"}}"#,
                i * 7 % 10_000,
                (i * 13 + 1) % 10_000,
                i % 100,
                i % 97
            )
        })
        .collect();
    format!("[{}]", items.join(",")).into_bytes()
}

fn request_parse(c: &mut Criterion) {
    const BATCH: u64 = 8_189;
    let body = transfers_body(BATCH);
    let mut group = c.benchmark_group("model");
    group.throughput(Throughput::Elements(BATCH));
    group.bench_function("parse_transfers_8189", |b| {
        b.iter(|| parse_transfers(black_box(&body)).expect("valid body"))
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(200))
        .measurement_time(Duration::from_millis(600))
        .without_plots();
    targets = entry_write, request_parse
}
criterion_main!(benches);
