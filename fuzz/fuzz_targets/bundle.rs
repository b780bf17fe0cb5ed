#![no_main]
//! Fuzz target `bundle`: see `ledgerfs_fuzz_checks::bundle` for what it checks.

libfuzzer_sys::fuzz_target!(|data: &[u8]| ledgerfs_fuzz_checks::bundle(data));
