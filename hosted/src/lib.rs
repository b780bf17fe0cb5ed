//! The hosted envelope of LedgerFS: the very `no_std` cores of `pds/` composed on Linux
//! threads, with POSIX tlog-tiles storage, the HTTP API and the CLI. No ledger rule is
//! implemented here; this crate only moves bytes between the cores, the disk and the
//! network.

pub mod api;
pub mod appliance;
pub mod audit;
pub mod auth;
pub mod client;
pub mod config;
pub mod diskfile;
pub mod engine;
pub mod error;
pub mod fsutil;
pub mod fuse;
pub mod image;
pub mod journal;
pub mod ledger;
pub mod logread;
pub mod logwriter;
pub mod render;
pub mod serve;
pub mod snapshot;
pub mod store;
pub mod verify;
pub mod view;
