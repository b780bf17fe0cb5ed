//! Micro benchmark: canonical encoding of one transfer entry (`Entry::write`), the bytes
//! the Merkle tree commits to. Quick by default (`make bench-quick`); `make bench`
//! passes longer measurement times on the command line.

use std::time::Duration;

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use ledgerfs_model::entry::{Entry, EntryBody, TransferRecord};
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

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(200))
        .measurement_time(Duration::from_millis(600))
        .without_plots();
    targets = entry_write
}
criterion_main!(benches);
