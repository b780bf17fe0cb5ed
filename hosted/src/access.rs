//! Who may read what, and the record of every read: bearer tokens and roles, and the
//! audit trail (a second verifiable log).

pub mod audit;
pub mod auth;
