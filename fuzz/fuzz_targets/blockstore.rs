#![no_main]
//! Fuzz target `blockstore`: see `ledgerfs_fuzz_checks::blockstore` for what it checks.

libfuzzer_sys::fuzz_target!(|data: &[u8]| ledgerfs_fuzz_checks::blockstore(data));
