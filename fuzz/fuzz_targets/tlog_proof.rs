#![no_main]
//! Fuzz target `tlog_proof`: see `ledgerfs_fuzz_checks::tlog_proof` for what it checks.

libfuzzer_sys::fuzz_target!(|data: &[u8]| ledgerfs_fuzz_checks::tlog_proof(data));
