#![no_main]
//! Fuzz target `balance_membership`: see `ledgerfs_fuzz_checks::balance_membership` for what it checks.

libfuzzer_sys::fuzz_target!(|data: &[u8]| ledgerfs_fuzz_checks::balance_membership(data));
