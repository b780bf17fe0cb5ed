//! The hosted envelope of LedgerFS: the very `no_std` cores of `pds/` composed on Linux
//! threads, with POSIX tlog-tiles storage, the HTTP API and the CLI. No ledger rule is
//! implemented here; this crate only moves bytes between the cores, the disk and the
//! network.
//!
//! Its parts: [`pipeline`] (the write path's threads), [`storage`] (log, journal,
//! snapshots, recovery), [`read`] (the read model and renderings), [`access`] (tokens and
//! the audit trail), [`api`] (HTTP), [`fuse`] (the mounted view), [`serve`] (composing
//! them into the daemon), [`cli`] and [`appliance`] (host tools).

pub mod access;
pub mod api;
pub mod appliance;
pub mod cli;
pub mod clock;
pub mod config;
pub mod error;
pub mod fuse;
pub mod pipeline;
pub mod read;
pub mod recon;
pub mod serve;
pub mod storage;
pub mod witness;
