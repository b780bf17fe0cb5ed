//! Micro benchmarks of the sequencer core on the standard workload's shape (10,000
//! funded accounts with the overdraft rule, uniform random pairs): `execute` on batches
//! of 8,189 transfers (reported per transfer), and `replay` of a logged ledger (reported
//! per entry; the report scales it to a million). Quick by default.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use ledgerfs_model::{Event, NewAccount, NewTransfer};
use ledgerfs_sequencer::{EntryBuffer, Limits, Sequencer};

/// Accounts in the workload.
const ACCOUNTS: u64 = 10_000;
/// Transfers per batch (the API's largest batch).
const BATCH: usize = 8_189;
/// Entries replayed per iteration.
const REPLAY_TRANSFERS: u64 = 90_000;

/// SplitMix64: a fixed-seed generator, so every run sees the same pairs.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

fn account(id: String, flags: &[&str]) -> Event {
    Event::Account(NewAccount {
        id,
        currency: "EUR".into(),
        kind: "customer".into(),
        flags: flags.iter().map(|f| f.to_string()).collect(),
        metadata: "{}".into(),
        linked: false,
        time: 0,
    })
}

fn transfer(id: String, debit: String, credit: String, amount: String) -> Event {
    Event::Transfer(NewTransfer {
        id,
        debit,
        credit,
        amount,
        currency: "EUR".into(),
        reference: String::new(),
        metadata: "{}".into(),
        linked: false,
        flags: Vec::new(),
        pending_id: String::new(),
        timeout: 0,
        time: 0,
    })
}

/// Opening and funding events: a funding account and `ACCOUNTS` funded customers.
fn setup_events() -> Vec<Event> {
    let mut events = vec![account("funding".into(), &[])];
    for a in 0..ACCOUNTS {
        events.push(account(format!("acc-{a:07}"), &["debits_must_not_exceed_credits"]));
    }
    for a in 0..ACCOUNTS {
        events.push(transfer(
            format!("fund-{a}"),
            "funding".into(),
            format!("acc-{a:07}"),
            "1000000.00".into(),
        ));
    }
    events
}

/// `n` uniform random transfers with ids `prefix-<n>`.
fn random_transfers(rng: &mut Rng, prefix: &str, first: u64, n: usize) -> Vec<Event> {
    (0..n as u64)
        .map(|i| {
            let debit = rng.next() % ACCOUNTS;
            let credit = (debit + 1 + rng.next() % (ACCOUNTS - 1)) % ACCOUNTS;
            let cents = 1 + rng.next() % 10_000;
            transfer(
                format!("{prefix}-{}", first + i),
                format!("acc-{debit:07}"),
                format!("acc-{credit:07}"),
                format!("{}.{:02}", cents / 100, cents % 100),
            )
        })
        .collect()
}

/// Runs `events` through `seq` in API-sized batches, returning the entries.
fn execute_all(seq: &mut Sequencer, events: &[Event], now: &mut u64) -> EntryBuffer {
    let mut entries = EntryBuffer::new();
    let mut results = Vec::new();
    for chunk in events.chunks(BATCH) {
        *now += 1_000_000;
        seq.execute(chunk, *now, &mut results, &mut entries);
    }
    seq.mark_durable(seq.next_index());
    entries
}

fn execute(c: &mut Criterion) {
    let mut seq = Sequencer::new(Limits::default());
    let mut now = 1_795_000_000_000_000_000u64;
    execute_all(&mut seq, &setup_events(), &mut now);
    let mut rng = Rng(42);
    let mut next = 0u64;
    let mut results = Vec::with_capacity(BATCH);
    let mut entries = EntryBuffer::new();
    let mut group = c.benchmark_group("sequencer");
    group.throughput(Throughput::Elements(BATCH as u64));
    group.bench_function("execute_8189", |b| {
        b.iter_batched(
            || {
                next += BATCH as u64;
                random_transfers(&mut rng, "t", next, BATCH)
            },
            |batch| {
                results.clear();
                entries.clear();
                now += 1_000_000;
                seq.execute(&batch, now, &mut results, &mut entries);
                seq.mark_durable(seq.next_index());
                batch
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

fn replay(c: &mut Criterion) {
    let mut seq = Sequencer::new(Limits::default());
    let mut now = 1_795_000_000_000_000_000u64;
    let mut events = setup_events();
    events.extend(random_transfers(&mut Rng(7), "r", 0, REPLAY_TRANSFERS as usize));
    let log = execute_all(&mut seq, &events, &mut now);
    let mut group = c.benchmark_group("sequencer");
    group.throughput(Throughput::Elements(log.len() as u64));
    group.bench_function("replay_110k", |b| {
        b.iter_batched(
            || Sequencer::new(Limits::default()),
            |mut fresh| {
                let mut scratch = EntryBuffer::new();
                for bytes in log.iter() {
                    fresh.replay(bytes, &mut scratch).expect("replays");
                }
                fresh
            },
            BatchSize::PerIteration,
        )
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
    targets = execute, replay
}
criterion_main!(benches);
