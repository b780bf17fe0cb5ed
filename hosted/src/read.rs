//! The read side: the in-memory read model (balances, postings), reads of the log's
//! tiles and bundles, and the JSON renderings (and balance proofs) the API and the FUSE
//! view share.

pub mod balance_proof;
pub mod logread;
pub mod monthly;
pub mod render;
pub mod statement;
pub mod view;
