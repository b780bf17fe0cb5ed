//! Framing one HTTP/1.1 request out of the bytes a connection has received so far
//! (httparse for the head). Bounded: a head longer than [`Limits::max_head`] is `431`, a
//! body longer than [`Limits::max_body`] is `413`, and chunked bodies are refused (`400`,
//! send `Content-Length`), so a request never needs more than `max_head + max_body` bytes.

use alloc::string::String;
use alloc::vec::Vec;

use crate::response::Response;

/// The largest request a connection may send.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Request line and headers, in bytes.
    pub max_head: usize,
    /// Body, in bytes.
    pub max_body: usize,
}

/// The methods the API routes; anything else is answered `405`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// `GET` (and `HEAD`, answered without a body).
    Get,
    /// `POST`.
    Post,
    /// Any other method.
    Other,
}

/// One framed request.
#[derive(Clone, Debug)]
pub struct Request {
    /// Its method.
    pub method: Method,
    /// `HEAD`: answer as `GET`, without the body.
    pub head_only: bool,
    /// The path, without the query.
    pub path: String,
    /// The query, without `?` (empty when there is none).
    pub query: String,
    /// The `Authorization` header's value.
    pub authorization: Option<String>,
    /// The connection stays open after the response (HTTP/1.1 without `Connection: close`,
    /// or HTTP/1.0 with `Connection: keep-alive`).
    pub keep_alive: bool,
    /// The body.
    pub body: Vec<u8>,
}

/// What the bytes received so far hold.
#[derive(Debug)]
pub enum Parsed {
    /// Not a whole request yet: read more.
    Partial,
    /// A request, which took the first `consumed` bytes.
    Complete {
        /// The request.
        request: Request,
        /// Bytes of the buffer it took (the next request starts there).
        consumed: usize,
    },
    /// Not a request this server takes: send this response and close.
    Invalid(Response),
}

/// Most headers a request may carry.
const MAX_HEADERS: usize = 32;

/// Frames the first request in `buf`.
pub fn parse(buf: &[u8], limits: &Limits) -> Parsed {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let head = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) if n <= limits.max_head => n,
        Ok(httparse::Status::Partial) if buf.len() <= limits.max_head => return Parsed::Partial,
        Ok(_) | Err(httparse::Error::TooManyHeaders) => {
            return Parsed::Invalid(Response::error(
                431,
                "headers_too_large",
                "the request line and headers are too large",
            ));
        }
        Err(e) => {
            return Parsed::Invalid(Response::error(
                400,
                "request_malformed",
                &alloc::format!("not an HTTP/1.1 request: {e}"),
            ));
        }
    };
    let (method, head_only) = match req.method.unwrap_or("") {
        "GET" => (Method::Get, false),
        "HEAD" => (Method::Get, true),
        "POST" => (Method::Post, false),
        _ => (Method::Other, false),
    };
    let target = req.path.unwrap_or("/");
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p, q),
        None => (target, ""),
    };
    let http10 = req.version == Some(0);
    let mut keep_alive = !http10;
    let mut authorization = None;
    let mut length: Option<usize> = None;
    for h in req.headers.iter() {
        let value = core::str::from_utf8(h.value).unwrap_or("").trim();
        if h.name.eq_ignore_ascii_case("connection") {
            if value.eq_ignore_ascii_case("close") {
                keep_alive = false;
            } else if value.eq_ignore_ascii_case("keep-alive") {
                keep_alive = true;
            }
        } else if h.name.eq_ignore_ascii_case("authorization") {
            authorization = Some(String::from(value));
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            return Parsed::Invalid(Response::error(
                400,
                "request_invalid",
                "chunked bodies are not accepted: send Content-Length",
            ));
        } else if h.name.eq_ignore_ascii_case("content-length") {
            match value.parse::<usize>() {
                Ok(n) if length.is_none() || length == Some(n) => length = Some(n),
                _ => {
                    return Parsed::Invalid(Response::error(
                        400,
                        "request_malformed",
                        "Content-Length is not one decimal number",
                    ));
                }
            }
        }
    }
    let length = length.unwrap_or(0);
    if length > limits.max_body {
        return Parsed::Invalid(Response::error(
            413,
            "request_too_large",
            &alloc::format!(
                "a request body is at most {} bytes: send smaller batches",
                limits.max_body
            ),
        ));
    }
    if buf.len() - head < length {
        return Parsed::Partial;
    }
    Parsed::Complete {
        request: Request {
            method,
            head_only,
            path: String::from(path),
            query: String::from(query),
            authorization,
            keep_alive,
            body: buf[head..head + length].to_vec(),
        },
        consumed: head + length,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const LIMITS: Limits = Limits {
        max_head: 256,
        max_body: 64,
    };

    fn complete(buf: &[u8]) -> (Request, usize) {
        match parse(buf, &LIMITS) {
            Parsed::Complete { request, consumed } => (request, consumed),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn frames_a_post_and_what_follows_it() {
        let buf = b"POST /v1/transfers?x=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nAuthorization: Bearer t\r\n\r\n[]GET /health HTTP/1.1\r\n\r\n";
        let (req, n) = complete(buf);
        assert_eq!(
            (req.method, req.path.as_str(), req.query.as_str()),
            (Method::Post, "/v1/transfers", "x=1")
        );
        assert_eq!(req.body, b"[]");
        assert_eq!(req.authorization.as_deref(), Some("Bearer t"));
        assert!(req.keep_alive);
        let (next, m) = complete(&buf[n..]);
        assert_eq!((next.path.as_str(), n + m), ("/health", buf.len()));
    }

    #[test]
    fn partial_until_the_body_is_whole() {
        assert!(matches!(parse(b"GET / HTTP/1.1\r\n", &LIMITS), Parsed::Partial));
        assert!(matches!(
            parse(b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nab", &LIMITS),
            Parsed::Partial
        ));
    }

    #[test]
    fn refuses_what_would_hold_memory() {
        let big = b"POST / HTTP/1.1\r\nContent-Length: 65\r\n\r\n";
        assert!(matches!(parse(big, &LIMITS), Parsed::Invalid(r) if r.status == 413));
        let long = [b'a'; 300];
        assert!(matches!(parse(&long, &LIMITS), Parsed::Invalid(r) if r.status == 400 || r.status == 431));
        let mut head = b"GET /".to_vec();
        head.extend_from_slice(&[b'a'; 300]);
        assert!(matches!(parse(&head, &LIMITS), Parsed::Invalid(r) if r.status == 431));
        let chunked = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert!(matches!(parse(chunked, &LIMITS), Parsed::Invalid(r) if r.status == 400));
        let two = b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab";
        assert!(matches!(parse(two, &LIMITS), Parsed::Invalid(r) if r.status == 400));
    }

    #[test]
    fn close_and_http10() {
        let (r, _) = complete(b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n");
        assert!(!r.keep_alive);
        let (r, _) = complete(b"GET / HTTP/1.0\r\n\r\n");
        assert!(!r.keep_alive);
        let (r, _) = complete(b"HEAD / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        assert!(r.keep_alive && r.head_only);
    }

    proptest! {
        /// Hostile bytes never panic, and a complete request never claims more than it was given.
        #[test]
        fn any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            if let Parsed::Complete { consumed, request } = parse(&bytes, &LIMITS) {
                prop_assert!(consumed <= bytes.len());
                prop_assert!(request.body.len() <= LIMITS.max_body);
            }
        }
    }
}
