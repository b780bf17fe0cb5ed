#![no_main]
//! Fuzz target `keys`: see `ledgerfs_fuzz_checks::keys` for what it checks.

libfuzzer_sys::fuzz_target!(|data: &[u8]| ledgerfs_fuzz_checks::keys(data));
