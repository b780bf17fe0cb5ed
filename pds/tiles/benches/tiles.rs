//! Micro benchmarks of the tiles core: RFC 6962 leaf and node hashing, `TileLog` append +
//! commit of a group of 8,189 entries, and inclusion / consistency proof generation
//! (from a `MemStore`) and verification. Quick by default; `make bench` passes longer
//! measurement times on the command line.

use std::time::Duration;

use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use ledgerfs_tiles::{
    consistency_proof, inclusion_proof, leaf_hash, node_hash, tree_root_from_tiles, verify_consistency,
    verify_inclusion, MemStore, TileLog,
};

/// Entries in a group commit, as in the standard workload.
const GROUP: usize = 8_189;
/// Size of the tree the proofs are taken from.
const TREE: u64 = 1 << 20;

/// A transfer-sized (~230 B) entry whose first bytes are `i`.
fn entry(i: u64) -> Vec<u8> {
    let mut e = vec![b'x'; 230];
    e[..8].copy_from_slice(&i.to_le_bytes());
    e
}

fn hashing(c: &mut Criterion) {
    let e = entry(7);
    let (l, r) = (leaf_hash(b"left"), leaf_hash(b"right"));
    let mut group = c.benchmark_group("tiles");
    group.throughput(Throughput::Elements(1));
    group.bench_function("leaf_hash_230B", |b| b.iter(|| leaf_hash(black_box(&e))));
    group.bench_function("node_hash", |b| b.iter(|| node_hash(black_box(&l), black_box(&r))));
    group.finish();
}

fn append_commit(c: &mut Criterion) {
    let entries: Vec<Vec<u8>> = (0..GROUP as u64).map(entry).collect();
    let mut log = TileLog::new();
    let mut writes = Vec::new();
    let mut group = c.benchmark_group("tiles");
    group.throughput(Throughput::Elements(GROUP as u64));
    group.bench_function("append_commit_8189", |b| {
        b.iter(|| {
            for e in &entries {
                log.append(e).expect("append");
            }
            writes.clear();
            let root = log.commit(&mut writes);
            log.mark_durable(log.size());
            root
        })
    });
    group.finish();
}

/// A `MemStore` holding a tree of `TREE` entries.
fn stored_tree() -> MemStore {
    let mut log = TileLog::new();
    let mut store = MemStore::new();
    let mut writes = Vec::new();
    for i in 0..TREE {
        log.append(&entry(i)).expect("append");
        if (i + 1) % 65_536 == 0 {
            writes.clear();
            log.commit(&mut writes);
            store.apply(&writes);
            log.mark_durable(log.size());
        }
    }
    store
}

fn proofs(c: &mut Criterion) {
    let store = stored_tree();
    let root = tree_root_from_tiles(&store, TREE).expect("root");
    let old = TREE / 3 + 17;
    let old_root = tree_root_from_tiles(&store, old).expect("old root");
    let mut next = 0u64;
    let mut group = c.benchmark_group("proofs");
    group.throughput(Throughput::Elements(1));
    group.bench_function("inclusion_generate_1M", |b| {
        b.iter_batched(
            || {
                next = (next + 7_919) % TREE;
                next
            },
            |index| inclusion_proof(&store, index, TREE).expect("proof"),
            BatchSize::SmallInput,
        )
    });
    let index = TREE / 2 + 5;
    let leaf = leaf_hash(&entry(index));
    let proof = inclusion_proof(&store, index, TREE).expect("proof");
    group.bench_function("inclusion_verify_1M", |b| {
        b.iter(|| verify_inclusion(black_box(&leaf), index, TREE, &proof, &root).expect("valid"))
    });
    group.bench_function("consistency_generate_1M", |b| {
        b.iter(|| consistency_proof(&store, black_box(old), TREE).expect("proof"))
    });
    let proof = consistency_proof(&store, old, TREE).expect("proof");
    group.bench_function("consistency_verify_1M", |b| {
        b.iter(|| verify_consistency(old, TREE, &old_root, black_box(&root), &proof).expect("valid"))
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
    targets = hashing, append_commit, proofs
}
criterion_main!(benches);
