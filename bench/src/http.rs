//! A blocking HTTP/1.1 client with keep-alive (one `ureq` agent, so one pooled
//! connection, per client thread) that speaks just enough of the LedgerFS API.

use std::io::Read;
use std::time::Duration;

/// One client of the daemon's API.
#[derive(Clone)]
pub struct Api {
    agent: ureq::Agent,
    base: String,
    auth: String,
}

/// What a batch submission reported.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Posted {
    /// Events accepted (`ok` or `exists`).
    pub accepted: u64,
    /// Events rejected.
    pub rejected: u64,
}

impl Api {
    /// A client for `base` (e.g. `http://127.0.0.1:8080`) with a bearer token.
    pub fn new(base: &str, token: &str) -> Api {
        let agent = ureq::AgentBuilder::new()
            .timeout(Duration::from_secs(120))
            .max_idle_connections_per_host(4)
            .build();
        Api {
            agent,
            base: base.trim_end_matches('/').to_string(),
            auth: format!("Bearer {token}"),
        }
    }

    /// A fresh client (its own connection) for another thread.
    pub fn fresh(&self) -> Api {
        let token = self.auth.trim_start_matches("Bearer ");
        Api::new(&self.base, token)
    }

    /// POSTs a prebuilt JSON body to `path` and counts accepted and rejected events.
    pub fn post_batch(&self, path: &str, body: &[u8]) -> Result<Posted, String> {
        let response = self
            .agent
            .post(&format!("{}{path}", self.base))
            .set("Authorization", &self.auth)
            .set("Content-Type", "application/json")
            .send_bytes(body);
        let text = read_body(response)?;
        Ok(Posted {
            accepted: number_after(&text, "\"accepted\":")
                .ok_or_else(|| format!("no `accepted` in {}", clip(&text)))?,
            rejected: number_after(&text, "\"rejected\":").unwrap_or(0),
        })
    }

    /// GETs `path`, returning the body.
    pub fn get(&self, path: &str) -> Result<Vec<u8>, String> {
        let response = self
            .agent
            .get(&format!("{}{path}", self.base))
            .set("Authorization", &self.auth)
            .call();
        read_body(response)
    }

    /// GETs `/health` with a short timeout; true when the daemon answers 200.
    pub fn healthy(&self) -> bool {
        self.agent
            .get(&format!("{}/health", self.base))
            .timeout(Duration::from_millis(200))
            .call()
            .is_ok_and(|r| r.status() == 200)
    }
}

fn read_body(response: Result<ureq::Response, ureq::Error>) -> Result<Vec<u8>, String> {
    match response {
        Ok(r) => {
            let mut body = Vec::new();
            r.into_reader()
                .take(64 << 20)
                .read_to_end(&mut body)
                .map_err(|e| format!("reading the response: {e}"))?;
            Ok(body)
        }
        Err(ureq::Error::Status(code, r)) => {
            let text = r.into_string().unwrap_or_default();
            Err(format!("HTTP {code}: {}", clip(text.as_bytes())))
        }
        Err(e) => Err(e.to_string()),
    }
}

/// The unsigned number right after the first `key` in `text` (responses are small
/// flat JSON at the top: a scan is much cheaper than parsing 8,189 results).
pub fn number_after(text: &[u8], key: &str) -> Option<u64> {
    let at = text.windows(key.len()).position(|w| w == key.as_bytes())? + key.len();
    let digits: Vec<u8> = text[at..].iter().copied().take_while(u8::is_ascii_digit).collect();
    std::str::from_utf8(&digits).ok()?.parse().ok()
}

fn clip(text: &[u8]) -> String {
    String::from_utf8_lossy(&text[..text.len().min(300)]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_counts() {
        let body = br#"{"accepted":8189,"checkpoint":{"size":3},"rejected":2,"results":[]}"#;
        assert_eq!(number_after(body, "\"accepted\":"), Some(8189));
        assert_eq!(number_after(body, "\"rejected\":"), Some(2));
        assert_eq!(number_after(body, "\"missing\":"), None);
    }
}
