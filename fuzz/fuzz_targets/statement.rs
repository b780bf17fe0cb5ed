#![no_main]
//! Fuzz target `statement`: see `ledgerfs_fuzz_checks::statement` for what it checks.

libfuzzer_sys::fuzz_target!(|data: &[u8]| ledgerfs_fuzz_checks::statement(data));
