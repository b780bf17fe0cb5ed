#![no_main]
//! Fuzz target `http_request`: see `ledgerfs_fuzz_checks::http_request` for what it checks.

libfuzzer_sys::fuzz_target!(|data: &[u8]| ledgerfs_fuzz_checks::http_request(data));
