//! What a request asks of the appliance's ledger. A route either is answered at once
//! (auth, unknown paths, bad parameters) or becomes one console command line for the
//! sequencer PD (the very commands the serial console takes, whose JSON bodies are the
//! hosted API's); [`respond`] turns the sequencer's reply into the response.
//!
//! Routes: `GET /health`, `GET /metrics` (no token, as on the hosted daemon);
//! `POST /v1/accounts`, `POST /v1/transfers` (admin, operator); `GET /v1/accounts/{id}`,
//! `GET /v1/checkpoint`, `GET /log/checkpoint`, `GET /log/tile/...` (any token).

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write as _;

use serde_json::Value;

use crate::auth::Tokens;
use crate::codes::status_of;
use crate::request::{Method, Request};
use crate::response::{self, Response};

/// The tag of a reply the sequencer PD sends the network PD, telling how to read its bytes.
pub mod reply_tag {
    /// A JSON reply (the console's), an `{"error":{...}}` body or a result.
    pub const JSON: u32 = 0;
    /// The bytes of a `/log/` file.
    pub const FILE: u32 = 1;
    /// No such `/log/` file.
    pub const NOT_FOUND: u32 = 2;
}

/// How the sequencer's reply to a route's command becomes its response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reply {
    /// The JSON reply as the body; an error body gets its code's status.
    Json,
    /// `{"checkpoint":NOTE}` becomes the hosted `{"size","root","note"}`.
    Checkpoint,
    /// `status` becomes `/health`'s `{"status":"ok","size","uptime_seconds"}`.
    Health,
    /// `status` becomes Prometheus text.
    Metrics,
    /// A `/log/` file with this `Cache-Control` (full tiles never change).
    LogFile {
        /// `Cache-Control`.
        cache: &'static str,
        /// The checkpoint note (text) rather than a tile (octets).
        text: bool,
    },
}

/// What to do with a request.
#[derive(Debug)]
pub enum Route {
    /// Send the sequencer this command line; answer with [`respond`] on its reply.
    Command {
        /// The console command.
        line: Vec<u8>,
        /// How its reply becomes the response.
        reply: Reply,
    },
    /// Answer with this now.
    Respond(Response),
}

/// Longest `/log/` path taken (`tile/entries/x001/x234/567.p/255` is 32 bytes).
const MAX_LOG_PATH: usize = 64;
/// Longest account id in a path.
const MAX_ID: usize = 256;

/// Routes one request.
pub fn route(req: &Request, tokens: &Tokens) -> Route {
    let path = req.path.as_str();
    let known_get = matches!(path, "/health" | "/metrics" | "/v1/checkpoint")
        || path.starts_with("/log/")
        || (path.starts_with("/v1/accounts/") && path.len() > "/v1/accounts/".len());
    let known_post = matches!(path, "/v1/accounts" | "/v1/transfers");
    match req.method {
        Method::Get if known_get => {}
        Method::Post if known_post => {}
        _ if known_get || known_post => {
            return Route::Respond(Response::error(
                405,
                "method_not_allowed",
                if known_post {
                    "this route takes POST"
                } else {
                    "this route takes GET"
                },
            ));
        }
        _ => return Route::Respond(Response::error(404, "not_found", "no such route")),
    }
    if !req.query.is_empty() {
        return Route::Respond(Response::error(
            400,
            "request_invalid",
            "the appliance's routes take no query parameters",
        ));
    }
    match path {
        "/health" => return command(b"status", Reply::Health),
        "/metrics" => return command(b"status", Reply::Metrics),
        _ => {}
    }
    let role = match tokens.authenticate(req.authorization.as_deref()) {
        Ok(role) => role,
        Err(response) => return Route::Respond(response),
    };
    if req.method == Method::Post {
        if !role.may_write() {
            let message = alloc::format!("role {} may not write", role.as_str());
            return Route::Respond(Response::error(403, "forbidden", &message));
        }
        let verb: &[u8] = if path == "/v1/accounts" {
            b"accounts "
        } else {
            b"transfers "
        };
        let mut line = Vec::with_capacity(verb.len() + req.body.len());
        line.extend_from_slice(verb);
        line.extend(
            req.body
                .iter()
                .map(|&b| if b == b'\n' || b == b'\r' { b' ' } else { b }),
        );
        return Route::Command {
            line,
            reply: Reply::Json,
        };
    }
    if path == "/v1/checkpoint" {
        return command(b"checkpoint", Reply::Checkpoint);
    }
    if let Some(file) = path.strip_prefix("/log/") {
        let valid = !file.is_empty()
            && file.len() <= MAX_LOG_PATH
            && file
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'/' || b == b'.');
        if !valid {
            return Route::Respond(Response::error(404, "not_found", "no such log file"));
        }
        let reply = match file {
            "checkpoint" => Reply::LogFile {
                cache: "no-cache",
                text: true,
            },
            f if f.contains(".p/") => Reply::LogFile {
                cache: "public, max-age=60",
                text: false,
            },
            _ => Reply::LogFile {
                cache: "public, max-age=31536000, immutable",
                text: false,
            },
        };
        let mut line = Vec::from(&b"log "[..]);
        line.extend_from_slice(file.as_bytes());
        return Route::Command { line, reply };
    }
    let id = &path["/v1/accounts/".len()..];
    match percent_decode(id) {
        Some(id) if !id.is_empty() && id.len() <= MAX_ID && !id.contains('/') => {
            let mut line = Vec::from(&b"balance "[..]);
            line.extend_from_slice(id.as_bytes());
            Route::Command {
                line,
                reply: Reply::Json,
            }
        }
        _ => Route::Respond(Response::error(404, "not_found", "account not found")),
    }
}

fn command(line: &[u8], reply: Reply) -> Route {
    Route::Command {
        line: line.to_vec(),
        reply,
    }
}

/// `%XX` decoding of a path segment; `None` if it is not UTF-8 or holds a control byte.
fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = core::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    let text = String::from_utf8(out).ok()?;
    (!text.chars().any(char::is_control) && !text.contains(' ')).then_some(text)
}

/// The response to a route's command, from the sequencer's reply (`tag` is a
/// [`reply_tag`]). `metrics` is the network PD's own Prometheus lines, appended to
/// `/metrics`.
pub fn respond(reply: Reply, tag: u32, bytes: &[u8], metrics: &str) -> Response {
    match (reply, tag) {
        (Reply::LogFile { cache, text }, reply_tag::FILE) => {
            let mut r = Response::with(
                200,
                if text { response::TEXT } else { response::OCTETS },
                bytes.to_vec(),
            );
            r.cache = Some(cache);
            r
        }
        (_, reply_tag::NOT_FOUND) => Response::error(404, "not_found", "no such log file"),
        (_, reply_tag::JSON) => json_reply(reply, bytes, metrics),
        _ => Response::error(500, "internal", "the sequencer answered in an unexpected form"),
    }
}

fn json_reply(reply: Reply, bytes: &[u8], metrics: &str) -> Response {
    let value: Value = match serde_json::from_slice(bytes) {
        Ok(v) => v,
        Err(_) => return Response::error(500, "internal", "the sequencer's reply is not JSON"),
    };
    if let Some(code) = value.pointer("/error/code").and_then(Value::as_str) {
        let status = status_of(code);
        if reply == Reply::Health {
            let body = alloc::format!("{{\"status\":\"unavailable\",\"reason\":\"{}\"}}", escape_code(code));
            return Response::with(503, response::JSON, body.into_bytes());
        }
        return Response::with(status, response::JSON, bytes.to_vec());
    }
    let field = |name: &str| value.pointer(name).and_then(Value::as_u64).unwrap_or(0);
    match reply {
        Reply::Json | Reply::LogFile { .. } => Response::json(bytes.to_vec()),
        Reply::Checkpoint => {
            let note = value.get("checkpoint").and_then(Value::as_str).unwrap_or("");
            let mut lines = note.lines();
            let (_, size, root) = (lines.next(), lines.next(), lines.next());
            let size: u64 = size.and_then(|s| s.parse().ok()).unwrap_or(0);
            let mut out = alloc::format!("{{\"size\":{size},\"root\":");
            ledgerfs_model::json::write_string(&mut out, root.unwrap_or(""));
            out.push_str(",\"note\":");
            ledgerfs_model::json::write_string(&mut out, note);
            out.push('}');
            Response::json(out.into_bytes())
        }
        Reply::Health => {
            let body = alloc::format!(
                "{{\"status\":\"ok\",\"size\":{},\"uptime_seconds\":{}}}",
                field("/status/durable"),
                field("/status/uptime_ms") / 1000
            );
            Response::json(body.into_bytes())
        }
        Reply::Metrics => {
            let mut text = String::new();
            for (name, help, kind, pointer) in [
                (
                    "ledgerfs_log_size",
                    "Entries covered by the durable checkpoint.",
                    "gauge",
                    "/status/durable",
                ),
                ("ledgerfs_accounts", "Accounts opened.", "gauge", "/status/accounts"),
                ("ledgerfs_transfers", "Transfers posted.", "gauge", "/status/transfers"),
                (
                    "ledgerfs_snapshot_size",
                    "Log size of the newest snapshot.",
                    "gauge",
                    "/status/snapshot",
                ),
                (
                    "ledgerfs_boot_replayed",
                    "Entries replayed at boot after the snapshot.",
                    "gauge",
                    "/status/boot_replayed",
                ),
            ] {
                let _ = write!(
                    text,
                    "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {}\n",
                    field(pointer)
                );
            }
            text.push_str(metrics);
            Response::with(200, response::METRICS, text.into_bytes())
        }
    }
}

fn escape_code(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::token_digest_hex;
    use crate::request::{parse, Limits, Parsed};

    fn tokens() -> Tokens {
        Tokens::parse(&alloc::format!(
            "{} admin\n{} auditor\n",
            token_digest_hex("adm"),
            token_digest_hex("aud")
        ))
        .unwrap()
    }

    fn req(text: &str) -> Request {
        let limits = Limits {
            max_head: 4096,
            max_body: 4096,
        };
        match parse(text.as_bytes(), &limits) {
            Parsed::Complete { request, .. } => request,
            other => panic!("{other:?}"),
        }
    }

    fn status(text: &str) -> u16 {
        match route(&req(text), &tokens()) {
            Route::Respond(r) => r.status,
            Route::Command { .. } => 0,
        }
    }

    fn line(text: &str) -> (String, Reply) {
        match route(&req(text), &tokens()) {
            Route::Command { line, reply } => (String::from_utf8(line).unwrap(), reply),
            Route::Respond(r) => panic!("{r:?}"),
        }
    }

    #[test]
    fn auth_is_401_then_403() {
        assert_eq!(status("GET /v1/checkpoint HTTP/1.1\r\n\r\n"), 401);
        assert_eq!(
            status("GET /v1/checkpoint HTTP/1.1\r\nAuthorization: Bearer x\r\n\r\n"),
            401
        );
        assert_eq!(
            status("POST /v1/transfers HTTP/1.1\r\nAuthorization: Bearer aud\r\nContent-Length: 2\r\n\r\n[]"),
            403
        );
        assert_eq!(status("GET /health HTTP/1.1\r\n\r\n"), 0);
        assert_eq!(status("GET /nope HTTP/1.1\r\n\r\n"), 404);
        assert_eq!(status("DELETE /v1/transfers HTTP/1.1\r\n\r\n"), 405);
        assert_eq!(status("GET /v1/transfers HTTP/1.1\r\n\r\n"), 405);
        assert_eq!(status("GET /health?x=1 HTTP/1.1\r\n\r\n"), 400);
    }

    #[test]
    fn routes_become_console_commands() {
        let auth = "Authorization: Bearer adm\r\n";
        let (l, r) = line(&alloc::format!(
            "POST /v1/transfers HTTP/1.1\r\n{auth}Content-Length: 5\r\n\r\n[\n{{}}]"
        ));
        assert_eq!((l.as_str(), r), ("transfers [ {}]", Reply::Json));
        assert_eq!(
            line(&alloc::format!("GET /v1/accounts/al%69ce HTTP/1.1\r\n{auth}\r\n")).0,
            "balance alice"
        );
        assert_eq!(
            status(&alloc::format!("GET /v1/accounts/a%20b HTTP/1.1\r\n{auth}\r\n")),
            404
        );
        let (l, r) = line(&alloc::format!("GET /log/tile/0/x001/002 HTTP/1.1\r\n{auth}\r\n"));
        assert_eq!(l, "log tile/0/x001/002");
        assert!(matches!(r, Reply::LogFile { cache, .. } if cache.contains("immutable")));
        let (_, r) = line(&alloc::format!("GET /log/tile/0/000.p/5 HTTP/1.1\r\n{auth}\r\n"));
        assert!(matches!(r, Reply::LogFile { cache, .. } if !cache.contains("immutable")));
        assert_eq!(status(&alloc::format!("GET /log/../x HTTP/1.1\r\n{auth}\r\n")), 0);
        assert_eq!(status(&alloc::format!("GET /log/a%2f HTTP/1.1\r\n{auth}\r\n")), 404);
    }

    #[test]
    fn replies_become_responses() {
        let r = respond(
            Reply::Json,
            reply_tag::JSON,
            br#"{"error":{"code":"storage_full","message":"m"}}"#,
            "",
        );
        assert_eq!(r.status, 507);
        let note = "ledgerfs.example/log\n7\nQUJD\n\n\u{2014} k sig\n";
        let mut body = String::from("{\"checkpoint\":");
        ledgerfs_model::json::write_string(&mut body, note);
        body.push('}');
        let r = respond(Reply::Checkpoint, reply_tag::JSON, body.as_bytes(), "");
        let v: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(
            (v["size"].as_u64(), v["root"].as_str(), v["note"].as_str()),
            (Some(7), Some("QUJD"), Some(note))
        );
        let status = br#"{"status":{"size":9,"durable":9,"accounts":2,"transfers":7,"snapshot":0,"boot_replayed":9,"ready_after_reset_ms":1,"uptime_ms":4500}}"#;
        let r = respond(Reply::Health, reply_tag::JSON, status, "");
        assert_eq!(r.body, br#"{"status":"ok","size":9,"uptime_seconds":4}"#);
        let r = respond(Reply::Metrics, reply_tag::JSON, status, "net_x 1\n");
        let text = String::from_utf8(r.body).unwrap();
        assert!(
            text.contains("\nledgerfs_transfers 7\n") && text.ends_with("net_x 1\n"),
            "{text}"
        );
        let r = respond(
            Reply::Health,
            reply_tag::JSON,
            br#"{"error":{"code":"storage_unavailable","message":"m"}}"#,
            "",
        );
        assert_eq!(r.status, 503);
        let file = Reply::LogFile {
            cache: "no-cache",
            text: true,
        };
        assert_eq!(respond(file, reply_tag::NOT_FOUND, b"", "").status, 404);
        assert_eq!(respond(file, reply_tag::FILE, b"note", "").cache, Some("no-cache"));
    }
}
