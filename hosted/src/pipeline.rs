//! The write pipeline: the sequencer, committer, attest and publisher threads that carry
//! a batch from the HTTP handler to a durable, signed, published log.

pub mod commit;
pub mod engine;
pub mod logwriter;
pub mod witnessing;
