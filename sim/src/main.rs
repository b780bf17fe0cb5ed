//! `ledgerfs-sim`: runs seeded trials of the pipeline simulator and prints seeds per
//! second and the faults injected.
//!
//! ```text
//! ledgerfs-sim                  # seeds from a random start, until stopped
//! ledgerfs-sim --seeds 500      # 500 seeds from 0
//! SEED=1234 ledgerfs-sim        # replay one seed exactly (prints its report)
//! ledgerfs-sim --steps 2000     # longer trials
//! ```

use std::time::Instant;

use ledgerfs_sim::trial::{Report, Trial};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .map(|v| {
                v.parse::<u64>()
                    .unwrap_or_else(|_| die(&format!("{name} takes a number")))
            })
    };
    let steps = flag("--steps").unwrap_or(400);
    let scratch = ledgerfs_sim::scratch_dir();
    if let Ok(seed) = std::env::var("SEED") {
        let seed = seed.parse().unwrap_or_else(|_| die("SEED must be a number"));
        match Trial::new(seed, &scratch).and_then(|t| t.run(steps)) {
            Ok(report) => println!("seed {seed}: ok\n{report:#?}"),
            Err(e) => die(&e),
        }
        return;
    }
    let (first, count) = match flag("--seeds") {
        Some(n) => (flag("--from").unwrap_or(0), Some(n)),
        None => (
            flag("--from").unwrap_or_else(|| std::process::id() as u64 * 1_000_003),
            None,
        ),
    };
    let started = Instant::now();
    let mut total = Report::default();
    let mut seed = first;
    let mut done = 0u64;
    loop {
        if count.is_some_and(|n| done >= n) {
            break;
        }
        match Trial::new(seed, &scratch).and_then(|t| t.run(steps)) {
            Ok(r) => add(&mut total, &r),
            Err(e) => die(&format!("{e}\nreplay: SEED={seed} ledgerfs-sim --steps {steps}")),
        }
        done += 1;
        seed += 1;
        if done % 50 == 0 || count == Some(done) {
            let secs = started.elapsed().as_secs_f64();
            println!(
                "{done} seeds ({first}..{seed}) in {secs:.1} s: {:.1} seeds/s; acked {} batches / {} entries, refused {}, commits {}, publications {}, snapshots {}, recoveries {} (+{} failed opens); injected: {} EIO, {} ENOSPC, {} power cuts, {} lost and {} torn writes, {} lost names",
                done as f64 / secs,
                total.acked_batches,
                total.acked_entries,
                total.refused_batches,
                total.commits,
                total.publications,
                total.snapshots,
                total.recoveries,
                total.failed_opens,
                total.injected.eio,
                total.injected.enospc,
                total.injected.crashes,
                total.injected.lost_writes,
                total.injected.torn_writes,
                total.injected.lost_names,
            );
        }
    }
}

fn add(total: &mut Report, r: &Report) {
    total.steps += r.steps;
    total.acked_batches += r.acked_batches;
    total.acked_entries += r.acked_entries;
    total.refused_batches += r.refused_batches;
    total.commits += r.commits;
    total.publications += r.publications;
    total.snapshots += r.snapshots;
    total.recoveries += r.recoveries;
    total.failed_opens += r.failed_opens;
    let (t, i) = (&mut total.injected, &r.injected);
    t.eio += i.eio;
    t.enospc += i.enospc;
    t.crashes += i.crashes;
    t.lost_writes += i.lost_writes;
    t.torn_writes += i.torn_writes;
    t.lost_names += i.lost_names;
}

fn die(message: &str) -> ! {
    eprintln!("ledgerfs-sim: {message}");
    std::process::exit(1)
}
