//! The CLI's HTTP client: `ledgerfs account|transfer|balance|history|proof` talk to a
//! running daemon through the same public API any client uses.

use serde_json::Value;

use crate::error::{Error, Result};

/// A daemon to talk to.
pub struct Client {
    base: String,
    token: String,
    agent: ureq::Agent,
}

impl Client {
    /// A client for `base` (e.g. `http://127.0.0.1:8080`) with a bearer token.
    pub fn new(base: &str, token: String) -> Client {
        Client {
            base: base.trim_end_matches('/').to_string(),
            token,
            agent: ureq::agent(),
        }
    }

    /// GET a JSON resource.
    pub fn get(&self, path: &str) -> Result<Value> {
        let request = self.agent.get(&format!("{}{path}", self.base));
        self.finish(request.set("Authorization", &format!("Bearer {}", self.token)).call())
    }

    /// GET a text resource (e.g. `/log/checkpoint`).
    pub fn get_text(&self, path: &str) -> Result<String> {
        let request = self.agent.get(&format!("{}{path}", self.base));
        match request.set("Authorization", &format!("Bearer {}", self.token)).call() {
            Ok(r) => r.into_string().map_err(|e| Error::Client(format!("bad response: {e}"))),
            Err(ureq::Error::Status(status, _)) => Err(Error::Client(format!("HTTP {status} for {path}"))),
            Err(e) => Err(Error::Client(format!("cannot reach {}: {e}", self.base))),
        }
    }

    /// POST a JSON body.
    pub fn post(&self, path: &str, body: &Value) -> Result<Value> {
        let request = self.agent.post(&format!("{}{path}", self.base));
        self.finish(
            request
                .set("Authorization", &format!("Bearer {}", self.token))
                .send_json(body.clone()),
        )
    }

    /// POST raw bytes of a media type (a bank statement).
    pub fn post_bytes(&self, path: &str, content_type: &str, body: &[u8]) -> Result<Value> {
        let request = self.agent.post(&format!("{}{path}", self.base));
        self.finish(
            request
                .set("Authorization", &format!("Bearer {}", self.token))
                .set("Content-Type", content_type)
                .send_bytes(body),
        )
    }

    fn finish(&self, response: std::result::Result<ureq::Response, ureq::Error>) -> Result<Value> {
        match response {
            Ok(r) => r.into_json().map_err(|e| Error::Client(format!("bad response: {e}"))),
            Err(ureq::Error::Status(status, r)) => {
                let body: Value = r.into_json().unwrap_or(Value::Null);
                let code = body["error"]["code"].as_str().unwrap_or("http_error");
                let message = body["error"]["message"].as_str().unwrap_or("");
                Err(Error::Client(format!("HTTP {status} {code}: {message}")))
            }
            Err(e) => Err(Error::Client(format!("cannot reach {}: {e}", self.base))),
        }
    }
}

/// Percent-encodes a path segment (ids are `[A-Za-z0-9._:-]`, but be safe).
pub fn segment(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
