//! Replays every seed and every crash reproducer of every fuzz target through the same
//! check the target runs, on the stable toolchain (no libFuzzer): `fuzz/corpus/<target>/*`
//! and `fuzz/regressions/<target>/*` (inputs that once broke a decoder). A new target
//! without a corpus fails here.

use std::fs;
use std::path::Path;

use ledgerfs_fuzz_checks::TARGETS;

fn replay(dir: &Path, check: ledgerfs_fuzz_checks::Check, required: bool) -> usize {
    let Ok(read) = fs::read_dir(dir) else {
        assert!(!required, "{} is missing", dir.display());
        return 0;
    };
    let mut files: Vec<_> = read.map(|e| e.unwrap().path()).filter(|p| p.is_file()).collect();
    files.sort();
    for file in &files {
        let data = fs::read(file).unwrap();
        if let Err(panic) = std::panic::catch_unwind(|| check(&data)) {
            panic!(
                "{}: the check failed: {:?}",
                file.display(),
                panic.downcast_ref::<String>()
            );
        }
    }
    files.len()
}

#[test]
fn every_corpus_replays() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let mut total = 0;
    for (name, check) in TARGETS {
        let seeds = replay(&root.join("corpus").join(name), *check, true);
        assert!(seeds > 0, "fuzz/corpus/{name} has no seed");
        let regressions = replay(&root.join("regressions").join(name), *check, false);
        println!("{name}: {seeds} seeds, {regressions} regressions replayed");
        total += seeds + regressions;
    }
    println!("{total} inputs replayed");
}

#[test]
fn every_target_has_a_fuzz_target_file() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    for (name, _) in TARGETS {
        let file = root.join("fuzz_targets").join(format!("{name}.rs"));
        assert!(file.is_file(), "{} is missing", file.display());
    }
}
