//! LedgerFS ring core: placeholder until the crate lands.
#![no_std]
