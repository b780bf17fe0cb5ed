#![no_main]
//! Fuzz target `entry`: see `ledgerfs_fuzz_checks::entry` for what it checks.

libfuzzer_sys::fuzz_target!(|data: &[u8]| ledgerfs_fuzz_checks::entry(data));
