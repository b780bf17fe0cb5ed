//! The CLI's own parts beyond the daemon: the HTTP client of `ledgerfs account|transfer|…`
//! and the offline verifier of `ledgerfs verify`.

pub mod client;
pub mod verify;
