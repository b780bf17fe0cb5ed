#![no_main]
//! Fuzz target `proto`: see `ledgerfs_fuzz_checks::proto` for what it checks.

libfuzzer_sys::fuzz_target!(|data: &[u8]| ledgerfs_fuzz_checks::proto(data));
