//! The simulator's fixed budget in `make test`: seeds 0..SIM_SEEDS (default 100) of 400
//! steps each, about a minute. A failure names its seed; `SEED=<n> cargo run -p
//! ledgerfs-sim` replays it exactly. `make sim` runs new seeds until stopped.

use ledgerfs_sim::trial::Trial;

#[test]
fn seeded_trials_keep_every_promise() {
    let seeds: u64 = std::env::var("SIM_SEEDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let scratch = ledgerfs_sim::scratch_dir();
    let (mut acked, mut crashes, mut eio) = (0, 0, 0);
    for seed in 0..seeds {
        let report = Trial::new(seed, &scratch)
            .and_then(|t| t.run(400))
            .unwrap_or_else(|e| panic!("{e}\nreplay: SEED={seed} cargo run -p ledgerfs-sim"));
        acked += report.acked_entries;
        crashes += report.injected.crashes;
        eio += report.injected.eio;
    }
    println!(
        "{seeds} seeds: {acked} entries acknowledged, {crashes} power cuts, {eio} EIO injected, 0 promises broken"
    );
    assert!(crashes > seeds, "the trials cut the power");
}

#[test]
fn a_seed_replays_exactly() {
    let scratch = ledgerfs_sim::scratch_dir();
    let run = || Trial::new(3, &scratch).and_then(|t| t.run(200)).expect("seed 3 passes");
    let (a, b) = (run(), run());
    assert_eq!(format!("{a:?}"), format!("{b:?}"));
}
