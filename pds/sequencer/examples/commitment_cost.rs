//! What a balance commitment costs: the first (full) commitment, a commitment after a
//! standard-workload window of transfers (8,189 transfers on random accounts), and one
//! after a single transfer, at 10,000 and 1,000,000 accounts. Then the standard
//! workload (1,000,000 transfers in batches of 8,189 between random accounts) through
//! the sequencer core, with the commitment entries `balance_commitment_every = 100000`
//! writes timed apart: their share of the sequencer's time (an upper bound on their
//! share of end-to-end time, where HTTP, hashing and storage add time that commitments
//! do not touch). A share, not two throughputs: this VM's runs vary by more than it.
//!
//! `cargo run --release -p ledgerfs-sequencer --example commitment_cost`

use std::time::Instant;

use ledgerfs_model::entry::AccountRecord;
use ledgerfs_model::event::{AccountFlags, AccountKind};
use ledgerfs_model::Currency;
use ledgerfs_model::{Event, NewAccount, NewTransfer};
use ledgerfs_sequencer::{
    Account, Balance, BalanceTree, EntryBuffer, Limits, Sequencer, ENTRIES_PER_ACCOUNT_PER_COMMITMENT,
};

fn main() {
    for n in [10_000usize, 1_000_000] {
        let mut accounts: Vec<Account> = (0..n)
            .map(|i| Account {
                record: AccountRecord {
                    id: format!("acc_{i:08}"),
                    currency: Currency::from_code("EUR").expect("EUR"),
                    kind: AccountKind::parse("customer").expect("kind"),
                    flags: AccountFlags::default(),
                    metadata: "{}".into(),
                },
                index: i as u64,
                balance: Balance::default(),
            })
            .collect();
        let mut tree = BalanceTree::new();
        let t = Instant::now();
        tree.update(&accounts);
        let full = t.elapsed();
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % n as u64) as u32
        };
        let mut window = |tree: &mut BalanceTree, accounts: &mut Vec<Account>, transfers: usize| {
            for _ in 0..transfers {
                let (d, c) = (next(), next());
                accounts[d as usize].balance.debits_posted += 1;
                accounts[c as usize].balance.credits_posted += 1;
                tree.mark(d);
                tree.mark(c);
            }
            let t = Instant::now();
            tree.update(accounts);
            t.elapsed()
        };
        let batch = window(&mut tree, &mut accounts, 8_189);
        let one = window(&mut tree, &mut accounts, 1);
        // Periodic commitments come twenty entries per account apart: by then nearly
        // every account changed.
        let spaced = window(&mut tree, &mut accounts, 20 * n);
        println!(
            "{n:>9} accounts: first commitment {:>8.2} ms, after 8,189 transfers {:>7.2} ms, after 1 transfer {:>6.1} µs, after {} transfers {:>8.2} ms",
            full.as_secs_f64() * 1e3,
            batch.as_secs_f64() * 1e3,
            one.as_secs_f64() * 1e6,
            20 * n,
            spaced.as_secs_f64() * 1e3
        );
    }
    standard_workload(10_000, 1_000_000, 100_000);
}

/// Runs `transfers` transfers over `n` accounts through the sequencer, with the periodic
/// commitments of `balance_commitment_every = every` timed apart, and prints their share.
fn standard_workload(n: usize, transfers: usize, every: u64) {
    let accounts: Vec<Event> = (0..n)
        .map(|i| {
            Event::Account(NewAccount {
                id: format!("acc_{i:08}"),
                currency: "EUR".into(),
                kind: "customer".into(),
                flags: Vec::new(),
                metadata: "{}".into(),
                linked: false,
                time: 0,
            })
        })
        .collect();
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n as u64
    };
    let events: Vec<Event> = (0..transfers)
        .map(|i| {
            let (d, mut c) = (next(), next());
            if c == d {
                c = (c + 1) % n as u64;
            }
            Event::Transfer(NewTransfer {
                id: format!("t{i}"),
                debit: format!("acc_{d:08}"),
                credit: format!("acc_{c:08}"),
                amount: "1.00".into(),
                currency: "EUR".into(),
                reference: String::new(),
                metadata: "{}".into(),
                linked: false,
                flags: Vec::new(),
                pending_id: String::new(),
                timeout: 0,
                time: 0,
            })
        })
        .collect();
    let mut seq = Sequencer::new(Limits {
        max_accounts: n,
        max_transfers: transfers * 2,
        reserve_transfers: transfers,
    });
    let (mut results, mut entries) = (Vec::new(), EntryBuffer::new());
    for chunk in accounts.chunks(8_189) {
        seq.execute(chunk, 1, &mut results, &mut entries);
        seq.mark_durable(seq.next_index());
        entries.clear();
    }
    // The sequencer's own rule, timed apart: after each batch that crosses a multiple of
    // the interval, the commitment entry it would write.
    let interval = every.max(ENTRIES_PER_ACCOUNT_PER_COMMITMENT * n as u64);
    let (mut sequencing, mut committing, mut taken) = (0f64, 0f64, 0);
    for (i, chunk) in events.chunks(8_189).enumerate() {
        results.clear();
        entries.clear();
        let start = seq.next_index();
        let t = Instant::now();
        seq.execute(chunk, 2 + i as u64, &mut results, &mut entries);
        sequencing += t.elapsed().as_secs_f64();
        if start / interval < seq.next_index() / interval {
            let t = Instant::now();
            seq.commit_now(2 + i as u64, &mut entries);
            committing += t.elapsed().as_secs_f64();
            taken += 1;
        }
        seq.mark_durable(seq.next_index());
    }
    println!(
        "{n:>9} accounts, standard workload ({transfers} transfers): sequencing {:.0} ms ({:.0}/s), {taken} commitments (one per {interval} entries) {:.1} ms: {:.1}% of sequencing",
        sequencing * 1e3,
        transfers as f64 / sequencing,
        committing * 1e3,
        100.0 * committing / sequencing
    );
}
