#![no_main]
//! Fuzz target `balance_proof`: see `ledgerfs_fuzz_checks::balance_proof` for what it checks.

libfuzzer_sys::fuzz_target!(|data: &[u8]| ledgerfs_fuzz_checks::balance_proof(data));
