#![no_main]
//! Fuzz target `tile_path`: see `ledgerfs_fuzz_checks::tile_path` for what it checks.

libfuzzer_sys::fuzz_target!(|data: &[u8]| ledgerfs_fuzz_checks::tile_path(data));
