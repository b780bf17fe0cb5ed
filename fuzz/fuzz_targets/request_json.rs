#![no_main]
//! Fuzz target `request_json`: see `ledgerfs_fuzz_checks::request_json` for what it checks.

libfuzzer_sys::fuzz_target!(|data: &[u8]| ledgerfs_fuzz_checks::request_json(data));
