//! A response and its bytes on the wire: status line, `Content-Type`, `Content-Length`,
//! `Cache-Control` where the tlog-tiles spec asks for one, `WWW-Authenticate: Bearer` on
//! `401`, `Retry-After` on `503`, and `Connection: close` when the connection ends.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write as _;

use ledgerfs_model::json::write_string;

use crate::codes::reason;

/// JSON bodies.
pub const JSON: &str = "application/json";
/// The checkpoint note and other text.
pub const TEXT: &str = "text/plain; charset=utf-8";
/// Tiles and entry bundles.
pub const OCTETS: &str = "application/octet-stream";
/// Prometheus' text exposition format (`/metrics`).
pub const METRICS: &str = "text/plain; version=0.0.4";

/// One response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// HTTP status.
    pub status: u16,
    /// `Content-Type`.
    pub content_type: &'static str,
    /// `Cache-Control`, when the resource says how long it may be kept.
    pub cache: Option<&'static str>,
    /// The body.
    pub body: Vec<u8>,
    /// The server closes the connection after it (a request it could not frame).
    pub close: bool,
}

impl Response {
    /// `200` with a JSON body.
    pub fn json(body: Vec<u8>) -> Response {
        Response::with(200, JSON, body)
    }

    /// A response of this status, type and body.
    pub fn with(status: u16, content_type: &'static str, body: Vec<u8>) -> Response {
        Response {
            status,
            content_type,
            cache: None,
            body,
            close: false,
        }
    }

    /// The API's error body with this status.
    pub fn error(status: u16, code: &str, message: &str) -> Response {
        let mut r = Response::with(status, JSON, error_body(code, message).into_bytes());
        r.close = matches!(status, 400 | 413 | 431) && code != "request_invalid" && code != "batch_too_large";
        r
    }

    /// The bytes to send; `keep_alive`: the client asked to keep the connection (the
    /// response's own `close` wins), `head_only`: a `HEAD` request (no body).
    pub fn encode(&self, keep_alive: bool, head_only: bool) -> Vec<u8> {
        let mut head = String::with_capacity(160);
        let _ = write!(
            head,
            "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n",
            self.status,
            reason(self.status),
            self.content_type,
            self.body.len()
        );
        if let Some(cache) = self.cache {
            let _ = write!(head, "Cache-Control: {cache}\r\n");
        }
        if self.status == 401 {
            head.push_str("WWW-Authenticate: Bearer\r\n");
        }
        if self.status == 503 {
            head.push_str("Retry-After: 1\r\n");
        }
        if !keep_alive || self.close {
            head.push_str("Connection: close\r\n");
        }
        head.push_str("\r\n");
        let mut out = head.into_bytes();
        if !head_only {
            out.extend_from_slice(&self.body);
        }
        out
    }

    /// The connection stays open after this response.
    pub fn keeps(&self, keep_alive: bool) -> bool {
        keep_alive && !self.close
    }
}

/// The API's error body, `{"error":{"code","message"}}`: the one writer of it for the
/// appliance (its network PD's own refusals and the sequencer PD's replies alike).
pub fn error_body(code: &str, message: &str) -> String {
    let mut out = String::from("{\"error\":{\"code\":");
    write_string(&mut out, code);
    out.push_str(",\"message\":");
    write_string(&mut out, message);
    out.push_str("}}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_form() {
        let r = Response::error(401, "unauthenticated", "send a \"token\"");
        let text = String::from_utf8(r.encode(true, false)).unwrap();
        assert!(text.starts_with("HTTP/1.1 401 Unauthorized\r\n"), "{text}");
        assert!(text.contains("WWW-Authenticate: Bearer\r\n"));
        assert!(
            text.ends_with("\r\n\r\n{\"error\":{\"code\":\"unauthenticated\",\"message\":\"send a \\\"token\\\"\"}}")
        );
        assert!(!text.contains("Connection: close"));
        let head = String::from_utf8(Response::json(b"{}".to_vec()).encode(false, true)).unwrap();
        assert!(
            head.contains("Content-Length: 2\r\n") && head.contains("Connection: close") && head.ends_with("\r\n\r\n")
        );
        assert!(Response::error(413, "request_too_large", "x").close);
    }
}
