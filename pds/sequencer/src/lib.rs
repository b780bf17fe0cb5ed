//! LedgerFS sequencer core: placeholder until the crate lands.
#![no_std]
