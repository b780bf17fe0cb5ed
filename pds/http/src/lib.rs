//! The LedgerFS HTTP/1.1 API core, as a sans-IO library: the appliance's network PD feeds it
//! the bytes a connection received and writes out the bytes it returns; the hosted daemon
//! (axum) shares its table of error codes and statuses. One parser, one set of codes:
//!
//! - [`request`]: frames one request out of a connection's bytes, with the head and body
//!   limits that keep a hostile client from holding memory;
//! - [`auth`]: bearer tokens checked against SHA-256 digests (only digests are provisioned),
//!   each with a role; `401` without a known token, `403` when the role may not;
//! - [`route`]: what a request asks of the ledger, as a console command line for the
//!   sequencer PD, and how its reply becomes a response;
//! - [`codes`]: the HTTP status of every request-level error code;
//! - [`response`]: the response and its bytes on the wire.
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod auth;
pub mod codes;
pub mod request;
pub mod response;
pub mod route;

pub use auth::{Role, Tokens};
pub use codes::status_of;
pub use request::{Limits, Method, Parsed, Request};
pub use response::Response;
pub use route::{Reply, Route};
