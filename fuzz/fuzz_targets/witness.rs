#![no_main]
//! Fuzz target `witness`: see `ledgerfs_fuzz_checks::witness` for what it checks.

libfuzzer_sys::fuzz_target!(|data: &[u8]| ledgerfs_fuzz_checks::witness(data));
