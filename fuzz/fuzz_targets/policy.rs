#![no_main]
//! Fuzz target `policy`: see `ledgerfs_fuzz_checks::policy` for what it checks.

libfuzzer_sys::fuzz_target!(|data: &[u8]| ledgerfs_fuzz_checks::policy(data));
