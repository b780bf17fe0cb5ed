#![no_main]
//! Fuzz target `hosted_config`: see `ledgerfs_fuzz_checks::hosted_config` for what it checks.

libfuzzer_sys::fuzz_target!(|data: &[u8]| ledgerfs_fuzz_checks::hosted_config(data));
