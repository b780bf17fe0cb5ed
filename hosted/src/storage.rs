//! The daemon's disk: the tlog-tiles tree (`DIR/log/`), the journal that makes a commit
//! durable, snapshots of the projections, and opening a store (recovery and replay).

pub mod fs;
pub mod fsutil;
pub mod journal;
pub mod ledger;
pub mod snapshot;
pub mod tiles;
