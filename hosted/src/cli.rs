//! The CLI's own parts beyond the daemon: the HTTP client of `ledgerfs account|transfer|…`,
//! `ledgerfs import` (history migration through the API) and the offline verifier of
//! `ledgerfs verify`.

pub mod client;
pub mod import;
pub mod receipt;
pub mod verify;
