#![no_main]
//! Fuzz target `blkring`: see `ledgerfs_fuzz_checks::blkring` for what it checks.

libfuzzer_sys::fuzz_target!(|data: &[u8]| ledgerfs_fuzz_checks::blkring(data));
