#![no_main]
//! Fuzz target `note`: see `ledgerfs_fuzz_checks::note` for what it checks.

libfuzzer_sys::fuzz_target!(|data: &[u8]| ledgerfs_fuzz_checks::note(data));
