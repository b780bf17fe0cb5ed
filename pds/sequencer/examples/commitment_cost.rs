//! What a balance commitment costs: the first (full) commitment, a commitment after a
//! standard-workload window of transfers (8,189 transfers on random accounts), and one
//! after a single transfer, at 10,000 and 1,000,000 accounts.
//!
//! `cargo run --release -p ledgerfs-sequencer --example commitment_cost`

use std::time::Instant;

use ledgerfs_model::entry::AccountRecord;
use ledgerfs_model::event::{AccountFlags, AccountKind};
use ledgerfs_model::Currency;
use ledgerfs_sequencer::{Account, Balance, BalanceTree};

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
        println!(
            "{n:>9} accounts: first commitment {:>8.2} ms, after 8,189 transfers {:>7.2} ms, after 1 transfer {:>6.1} µs",
            full.as_secs_f64() * 1e3,
            batch.as_secs_f64() * 1e3,
            one.as_secs_f64() * 1e6
        );
    }
}
