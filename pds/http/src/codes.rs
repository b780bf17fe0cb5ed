//! The HTTP status of each request-level error code: the one table the appliance's network
//! PD and the hosted daemon both answer with. Per-event results (`insufficient_funds`,
//! `exists`, ...) are not here: they travel inside a `200` batch reply.

/// The status a request-level error `code` is answered with. Codes of a request the
/// client got wrong are `400`; codes of a server that cannot serve now are `503` (or
/// `507` for a full disk); an unknown code is a server fault, `500`.
pub fn status_of(code: &str) -> u16 {
    match code {
        "request_malformed" | "request_invalid" | "batch_too_large" | "batch_empty" => 400,
        "unauthenticated" => 401,
        "forbidden" => 403,
        "not_found" => 404,
        "method_not_allowed" => 405,
        "request_timeout" => 408,
        "request_too_large" | "reply_too_large" => 413,
        "headers_too_large" => 431,
        "storage_full" => 507,
        "storage_unavailable"
        | "attest_refused"
        | "audit_unavailable"
        | "store_locked"
        | "overloaded"
        | "busy"
        | "too_many_connections"
        | "not_ready"
        | "snapshot_refused" => 503,
        _ => 500,
    }
}

/// The reason phrase of the statuses this crate answers with.
pub fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        413 => "Content Too Large",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        507 => "Insufficient Storage",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_faults_are_4xx_and_server_faults_5xx() {
        assert_eq!(status_of("request_invalid"), 400);
        assert_eq!(status_of("unauthenticated"), 401);
        assert_eq!(status_of("forbidden"), 403);
        assert_eq!(status_of("storage_full"), 507);
        assert_eq!(status_of("storage_unavailable"), 503);
        assert_eq!(status_of("something_new"), 500);
        for code in ["request_malformed", "batch_too_large", "not_found", "request_too_large"] {
            assert!((400..500).contains(&status_of(code)), "{code}");
            assert!(!reason(status_of(code)).is_empty());
        }
    }
}
