//! The randomized crash test: real `TileLog` commits through the store on a
//! simulated device, power cut at a random operation of a random commit,
//! reboot under a random crash mode, and check:
//! - 0 acknowledged commits lost: the recovered checkpoint is the last one
//!   whose `swap_checkpoint` returned `Ok`, or the commit in flight;
//! - 0 corrupt state accepted: the recovered tiles verify (`verify_tree`)
//!   against the recovered checkpoint, every acknowledged checkpoint is a
//!   prefix with its own root, and `TileLog::open` continues from it;
//! - the store keeps working: more commits, more crashes, a clean reopen.
//!
//! Statistics print with `cargo test -p ledgerfs-blockstore -- --nocapture`.

use std::println;
use std::time::Instant;
use std::vec;
use std::vec::Vec;

use ledgerfs_tiles::{empty_root, Hash, TileLog, TileStore, TileWrite};

use super::{assert_verifies, checkpoint_of, commit_entries, entry, note, CrashMode, Rng, SimDevice};
use crate::codec::blocks_for;
use crate::device::DeviceError;
use crate::record::RECORD_HEADER_LEN;
use crate::store::BlockStore;

/// Trials (each formats a fresh device and runs 1..=3 crash cycles).
const TRIALS: u64 = 10_000;

/// Where in a commit the power was cut.
const PHASES: [&str; 5] = [
    "during tile record writes",
    "during the checkpoint record write",
    "during the superblock write",
    "during the commit's one flush",
    "after the flush (acknowledged)",
];

#[derive(Default, Debug)]
struct Tally {
    crashes: u64,
    phases: [u64; 5],
    modes: [u64; 3],
    acked_commits: u64,
    acked_checked_after_crash: u64,
    inflight_recovered: u64,
    inflight_dropped: u64,
    device_full: u64,
    injected_errors: u64,
    signer_refusals: u64,
    post_recovery_commits: u64,
}

/// Phase of a cut `cut` operations into a commit with `tile_ops` block
/// writes, and a superblock write if `superblock`.
fn phase_of(cut: u64, tile_ops: u64, superblock: bool) -> usize {
    match cut.checked_sub(tile_ops) {
        None => 0,
        Some(0) => 1,
        Some(1) if superblock => 2,
        Some(n) if n == 1 + u64::from(superblock) => 3,
        Some(_) => 4,
    }
}

#[test]
fn randomized_power_cuts_lose_nothing_acknowledged_and_accept_nothing_corrupt() {
    let started = Instant::now();
    let mut t = Tally::default();
    for seed in 0..TRIALS {
        trial(seed, &mut t);
    }
    println!("crash trials: {TRIALS} in {:.2?}", started.elapsed());
    println!(
        "  power cuts: {} (modes lose/in-order/reorder: {:?})",
        t.crashes, t.modes
    );
    for (name, n) in PHASES.iter().zip(t.phases) {
        println!("    cut {name}: {n}");
    }
    println!(
        "  acknowledged commits: {} ({} re-checked after a crash; 0 lost)",
        t.acked_commits, t.acked_checked_after_crash
    );
    println!(
        "  commits in flight at the cut: {} recovered, {} rolled back; commits after recovery: {}",
        t.inflight_recovered, t.inflight_dropped, t.post_recovery_commits
    );
    println!(
        "  rolled back without a crash: device full {}, injected device errors {}, signer refusals {}",
        t.device_full, t.injected_errors, t.signer_refusals
    );
    assert!(
        t.phases.iter().all(|&n| n > 0),
        "every cut point was hit: {:?}",
        t.phases
    );
    assert!(t.modes.iter().all(|&n| n > 0));
    assert!(t.inflight_recovered > 0 && t.inflight_dropped > 0);
    assert!(t.device_full > 0 && t.injected_errors > 0 && t.signer_refusals > 0);
}

/// How one commit ended, from the host's side.
enum Outcome {
    /// `swap_checkpoint` returned `Ok`.
    Acked,
    /// Refused before the checkpoint (storage error or the signer said no):
    /// the host rolled its log back.
    RolledBack(&'static str),
    /// The power went out.
    PowerCut,
}

/// The hosted log writer's protocol for one commit: put all, sync (nothing
/// for this store), "sign"
/// (which may refuse: rollback and abandon), mark durable, swap (retried
/// once, as a pending checkpoint is).
fn host_commit(
    store: &mut BlockStore<SimDevice>,
    log: &mut TileLog,
    writes: &[TileWrite],
    size: u64,
    root: &Hash,
    signer_refuses: bool,
) -> Outcome {
    let written = writes
        .iter()
        .try_for_each(|w| store.put(&w.path, &w.bytes))
        .and_then(|()| store.sync());
    if let Err(e) = written {
        if store.device_mut().dead {
            return Outcome::PowerCut;
        }
        log.rollback();
        return Outcome::RolledBack(e.code());
    }
    if signer_refuses {
        log.rollback();
        store.abandon();
        return Outcome::RolledBack("signer");
    }
    log.mark_durable(size);
    let n = note(size, root);
    for _attempt in 0..2 {
        match store.swap_checkpoint(&n) {
            Ok(()) => return Outcome::Acked,
            Err(_) if store.device_mut().dead => return Outcome::PowerCut,
            Err(e) => assert_eq!(e.code(), "device", "only injected errors here"),
        }
    }
    panic!("a retried swap failed again without a new injected error");
}

fn trial(seed: u64, t: &mut Tally) {
    let mut rng = Rng(seed.wrapping_mul(0x2545_f491_4f6c_dd1d) ^ 0x5eed);
    let blocks = rng.range(24, 700);
    let vid: [u8; 16] = seed.to_le_bytes().repeat(2).try_into().unwrap();
    let mut store = BlockStore::format(SimDevice::new(blocks), vid).expect("format");
    let mut log = TileLog::new();
    let mut acked: Vec<(u64, Hash)> = Vec::new();
    let mut gen = seed << 8;
    for _cycle in 0..rng.range(1, 3) {
        let commits = rng.range(1, 6);
        let crash_at = rng.below(commits);
        let mode = [CrashMode::LoseUnflushed, CrashMode::InOrder, CrashMode::Reorder][rng.below(3) as usize];
        let mut inflight = None;
        let mut phase = Some(4);
        let mut retry_count = None;
        for c in 0..commits {
            gen += 1;
            // After a refusal the host often retries a batch of the same size
            // (other entries): same record shapes at the same blocks.
            let most = [3, 40, 300][rng.below(3) as usize];
            let n = retry_count.take().unwrap_or_else(|| rng.range(1, most));
            for _ in 0..n {
                let i = log.size();
                log.append(&entry(gen, i)).unwrap();
            }
            let mut writes = Vec::new();
            let root = log.commit(&mut writes);
            let size = log.size();
            let tile_ops: u64 = writes
                .iter()
                .map(|w| blocks_for(RECORD_HEADER_LEN + w.bytes.len(), 4096))
                .sum();
            let superblock = store.sb_dirty;
            let ops = tile_ops + 2 + u64::from(superblock);
            let mut signer_refuses = false;
            if c == crash_at {
                let cut = rng.below(ops + 1);
                store.device_mut().arm_cut(cut);
                phase = Some(phase_of(cut, tile_ops, superblock));
            } else if rng.below(5) == 0 {
                store.device_mut().arm_failure(rng.below(ops), DeviceError::Io);
                t.injected_errors += 1;
            } else {
                signer_refuses = rng.below(8) == 0;
            }
            let outcome = host_commit(&mut store, &mut log, &writes, size, &root, signer_refuses);
            store.device_mut().disarm_failure();
            match outcome {
                Outcome::Acked => {
                    acked.push((size, root));
                    t.acked_commits += 1;
                }
                Outcome::PowerCut => inflight = Some((size, root)),
                Outcome::RolledBack(why) => {
                    retry_count = Some(size - log.size());
                    match why {
                        "device_full" => t.device_full += 1,
                        "signer" => t.signer_refusals += 1,
                        other => assert_eq!(other, "device", "seed {seed}"),
                    }
                    if c == crash_at {
                        phase = None; // the commit failed before the cut
                    }
                }
            }
            if c == crash_at {
                break;
            }
        }
        if let Some(p) = phase {
            t.phases[p] += 1;
        }
        t.modes[mode as usize] += 1;
        t.crashes += 1;
        // Power cut (a cut not reached comes right after the final flush) and reboot.
        let rebooted = store.into_device().crash(mode, &mut rng);
        store = BlockStore::open(rebooted).unwrap_or_else(|e| panic!("seed {seed}: open after a crash: {e}"));
        let recovered = checkpoint_of(&store);
        let last = acked.last().copied().unwrap_or((0, empty_root()));
        if recovered == last {
            if inflight.is_some() {
                t.inflight_dropped += 1;
            }
        } else {
            assert_eq!(
                Some(recovered),
                inflight,
                "seed {seed}: recovered neither the last acknowledged commit nor the one in flight"
            );
            acked.push(recovered);
            t.inflight_recovered += 1;
        }
        t.acked_checked_after_crash += acked.len() as u64;
        log = assert_verifies(&store, &acked);
    }
    // The store keeps working after recovery: one more commit, a clean reopen.
    match commit_entries(&mut store, &mut log, gen + 1, rng.range(1, 50)) {
        Ok((_, size, root)) => {
            acked.push((size, root));
            t.post_recovery_commits += 1;
        }
        Err(e) => assert_eq!(e.code(), "device_full", "seed {seed}: {e}"),
    }
    let store = BlockStore::open(store.into_device()).expect("clean reopen");
    assert_eq!(
        checkpoint_of(&store),
        acked.last().copied().unwrap_or((0, empty_root()))
    );
    assert_verifies(&store, &acked);
}

#[test]
fn phase_classification() {
    assert_eq!(phase_of(0, 3, true), 0);
    assert_eq!(phase_of(2, 3, true), 0);
    assert_eq!(phase_of(3, 3, true), 1);
    assert_eq!(phase_of(4, 3, true), 2);
    assert_eq!(phase_of(5, 3, true), 3);
    assert_eq!(phase_of(6, 3, true), 4);
    assert_eq!(phase_of(4, 3, false), 3);
    assert_eq!(phase_of(5, 3, false), 4);
    assert_eq!(vec![PHASES.len()], vec![5]);
}
