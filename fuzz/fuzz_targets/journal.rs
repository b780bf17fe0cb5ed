#![no_main]
//! Fuzz target `journal`: see `ledgerfs_fuzz_checks::journal` for what it checks.

libfuzzer_sys::fuzz_target!(|data: &[u8]| ledgerfs_fuzz_checks::journal(data));
