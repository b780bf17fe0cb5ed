//! Micro benchmark: signing a checkpoint (`sign_checkpoint`, Ed25519 over the C2SP
//! checkpoint body), once per commit group, and verifying it. Quick by default.

use std::time::Duration;

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use ledgerfs_attest::{sign_checkpoint, verify_checkpoint, Checkpoint, SignerKey};

fn signing(c: &mut Criterion) {
    let key = SignerKey::from_seed("bench.example/log", [7; 32]).expect("valid key name");
    let verifier = key.verifier();
    let mut checkpoint = Checkpoint {
        origin: "bench.example/log".into(),
        size: 1_000_000,
        root: [0x5a; 32],
        extensions: Vec::new(),
    };
    let mut group = c.benchmark_group("attest");
    group.throughput(Throughput::Elements(1));
    group.bench_function("sign_checkpoint", |b| {
        b.iter(|| {
            checkpoint.size += 1;
            sign_checkpoint(&key, black_box(&checkpoint)).expect("signs")
        })
    });
    let note = sign_checkpoint(&key, &checkpoint).expect("signs");
    group.bench_function("verify_checkpoint", |b| {
        b.iter(|| verify_checkpoint(&verifier, black_box(note.as_bytes())).expect("verifies"))
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
    targets = signing
}
criterion_main!(benches);
