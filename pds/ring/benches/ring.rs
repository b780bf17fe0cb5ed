//! Micro benchmarks of the SPSC ring core: enqueue + dequeue of one descriptor on one
//! thread (the protocol cost), and a million descriptors streamed from a producer thread
//! to a consumer thread (cache-line traffic between cores). Quick by default.

use std::time::Duration;

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use ledgerfs_ring::{split, Descriptor, RingError, RingHeader, Slot};

/// Slots in the benchmark ring.
const SLOTS: usize = 512;
/// Descriptors streamed per cross-thread iteration.
const STREAM: u64 = 1_000_000;

fn slots() -> Vec<Slot<Descriptor>> {
    (0..SLOTS).map(|_| Slot::default()).collect()
}

fn same_thread(c: &mut Criterion) {
    let mut header = RingHeader::new();
    let mut slots = slots();
    let (mut tx, mut rx) = split(&mut header, &mut slots).expect("fresh ring");
    let mut group = c.benchmark_group("ring");
    group.throughput(Throughput::Elements(1));
    group.bench_function("enqueue_dequeue", |b| {
        let mut tag = 0u32;
        b.iter(|| {
            tag = tag.wrapping_add(1);
            tx.try_push(Descriptor {
                offset: 4_096,
                len: 512,
                tag,
            })
            .expect("room");
            black_box(rx.try_pop().expect("item"))
        })
    });
    group.finish();
}

fn cross_thread(c: &mut Criterion) {
    let mut group = c.benchmark_group("ring");
    group.throughput(Throughput::Elements(STREAM));
    group.bench_function("cross_thread_1M", |b| {
        b.iter(|| {
            let mut header = RingHeader::new();
            let mut slots = slots();
            let (mut tx, mut rx) = split(&mut header, &mut slots).expect("fresh ring");
            std::thread::scope(|s| {
                s.spawn(move || {
                    let mut sent = 0u64;
                    while sent < STREAM {
                        match tx.try_push(Descriptor {
                            offset: sent,
                            len: 1,
                            tag: 0,
                        }) {
                            Ok(()) => sent += 1,
                            Err(RingError::Full) => std::hint::spin_loop(),
                            Err(e) => panic!("ring: {e:?}"),
                        }
                    }
                });
                let mut sum = 0u64;
                let mut got = 0u64;
                while got < STREAM {
                    match rx.try_pop() {
                        Ok(d) => {
                            sum = sum.wrapping_add(d.offset);
                            got += 1;
                        }
                        Err(RingError::Empty) => std::hint::spin_loop(),
                        Err(e) => panic!("ring: {e:?}"),
                    }
                }
                black_box(sum)
            })
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
    targets = same_thread, cross_thread
}
criterion_main!(benches);
