//! The HTTP JSON API (`/v1/...`), the read-only tlog-tiles tree (`/log/...`), the entry
//! stream (server-sent events), `/metrics` and `/health`. Handlers only translate: every
//! ledger rule runs in the cores behind the engine. See `docs/openapi.yaml`.

mod reconciliation;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};

use ledgerfs_model::entry::{AccountRecord, Entry};
use ledgerfs_model::limits::MAX_REQUEST_BYTES;
use ledgerfs_model::request::{parse_accounts, parse_transfers};
use ledgerfs_model::time::parse_timestamp;
use ledgerfs_model::{Event, ResultCode};
use ledgerfs_sequencer::ResultsShape;
use ledgerfs_tiles::TilePath;

use crate::access::audit::{AuditRecord, AuditStatus, AuditUnavailable, TryRecordError};
use crate::access::auth::{Caller, Tokens};
use crate::config::Role;
use crate::error::Error;
use crate::pipeline::engine::{BatchOutcome, Engine};
use crate::read::logread::LogReader;
use crate::read::render::{self, account_json, b64_hashes, checkpoint_json};
use crate::read::statement;
use crate::read::view::Committed;

/// Most entries one history page or stream catch-up read returns.
const MAX_PAGE: usize = 1_000;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The running pipeline.
    pub engine: Engine,
    /// Entry reader over the log directory.
    pub reader: Arc<LogReader>,
    /// Token table.
    pub tokens: Arc<Tokens>,
    /// Start time, for `/health`.
    pub started: Instant,
    /// Becomes `true` when the daemon is stopping: long-lived responses (the entry
    /// stream) end so that graceful shutdown can finish.
    pub shutdown: tokio::sync::watch::Receiver<bool>,
}

/// An API error: status, stable code, message.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    fn not_found(what: &str) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("{what} not found"))
    }

    fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> ApiError {
        // The one table of codes and statuses, shared with the appliance's network PD.
        let status =
            StatusCode::from_u16(ledgerfs_http::status_of(e.code())).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        ApiError::new(status, e.code(), e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Json(json!({"error": {"code": self.code, "message": self.message}}));
        let mut response = (self.status, body).into_response();
        if self.code == "overloaded" {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

type ApiResult<T> = std::result::Result<T, ApiError>;

/// `Query<T>` whose rejection is the API's JSON error (`400 request_invalid`), not
/// axum's plain-text one.
struct ApiQuery<T>(T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(value)) => Ok(ApiQuery(value)),
            Err(rejection) => {
                let text = rejection.body_text();
                let detail = text
                    .strip_prefix("Failed to deserialize query string: ")
                    .unwrap_or(&text);
                Err(ApiError::bad_request(
                    "request_invalid",
                    format!("bad query string: {detail}"),
                ))
            }
        }
    }
}

/// `Path<T>` whose rejection is the API's JSON error (`400 request_invalid`).
struct ApiPath<T>(T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(ApiPath(value)),
            Err(rejection) => {
                let text = rejection.body_text();
                let detail = text.strip_prefix("Invalid URL: ").unwrap_or(&text);
                Err(ApiError::bad_request("request_invalid", format!("bad path: {detail}")))
            }
        }
    }
}

/// `limit` of a page: 1 to [`MAX_PAGE`] (larger values are served as [`MAX_PAGE`]);
/// 0 is refused, by every paged route alike.
fn page_limit(limit: Option<usize>) -> ApiResult<usize> {
    match limit {
        None => Ok(100),
        Some(0) => Err(ApiError::bad_request(
            "request_invalid",
            format!("limit must be between 1 and {MAX_PAGE}"),
        )),
        Some(n) => Ok(n.min(MAX_PAGE)),
    }
}

/// The router with every route.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/v1/accounts", post(create_accounts).get(list_accounts))
        .route("/v1/accounts/{id}", get(get_account))
        .route("/v1/accounts/{id}/pending", get(get_pending))
        .route("/v1/accounts/{id}/balance", get(get_balance))
        .route("/v1/accounts/{id}/balance-proof", get(get_balance_proof))
        .route("/v1/accounts/{id}/history", get(get_history))
        .route("/v1/accounts/{id}/transfers", get(get_statement))
        .route("/v1/accounts/{id}/balances", get(get_balance_history))
        .route("/v1/transfers", post(create_transfers))
        .route("/v1/transfers/{id}", get(get_transfer))
        .route("/v1/entries/{index}", get(get_entry))
        .route("/v1/checkpoint", get(get_checkpoint))
        .route("/v1/proofs/inclusion", get(inclusion))
        .route("/v1/proofs/consistency", get(consistency))
        .route("/v1/stream", get(stream))
        .route("/log/{*path}", get(log_file))
        .route("/audit/{*path}", get(audit_file))
        .route("/v1/safeguarding", get(reconciliation::get_safeguarding))
        .route("/v1/reconciliations", post(reconciliation::post_external))
        .route("/v1/reconciliations/internal", post(reconciliation::post_internal))
        .route("/v1/reconciliations/breaks", get(reconciliation::get_breaks))
        .route(
            "/v1/reconciliations/breaks/{id}/resolve",
            post(reconciliation::post_resolve),
        )
        .route("/reconciliation/{*path}", get(reconciliation::recon_file))
        .route("/v1/reports/safeguarding", get(reconciliation::get_safeguarding_return))
        .route(
            "/v1/reports/safeguarding.svg",
            get(reconciliation::get_safeguarding_chart),
        )
        .route("/v1/reports/liabilities", get(reconciliation::get_liabilities))
        .route(
            "/v1/accounts/{id}/statements/{month}",
            get(reconciliation::get_month_statement),
        )
        .fallback(|| async { ApiError::not_found("route") })
        .method_not_allowed_fallback(|request: axum::extract::Request| async move {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                format!("{} is not allowed on {}", request.method(), request.uri().path()),
            )
        })
        .layer(axum::middleware::from_fn_with_state(state.clone(), audit_reads))
        .with_state(state)
}

/// Records every read of ledger data in the audit sub-ledger (after the response is
/// built, so the record carries the status and the bytes served).
async fn audit_reads(
    State(state): State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let path = request.uri().path();
    let audited = request.method() == axum::http::Method::GET && path != "/health" && path != "/metrics";
    let what = request
        .uri()
        .path_and_query()
        .map(|p| p.to_string())
        .unwrap_or_default();
    let header = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let caller = state.tokens.authenticate(header);
    // A read that cannot be recorded is refused, never served unrecorded.
    if audited && !state.engine.audit.available() {
        return ApiError::from(Error::from(AuditUnavailable)).into_response();
    }
    let response = next.run(request).await;
    if audited {
        use axum::body::HttpBody;
        let record = AuditRecord {
            who: caller
                .as_ref()
                .map_or_else(|| "anonymous".to_string(), |c| c.name.clone()),
            role: caller.as_ref().map_or("none", |c| c.role.as_str()),
            via: "api",
            uid: None,
            what,
            bytes: response.body().size_hint().exact().unwrap_or(0),
            status: response.status().as_u16(),
        };
        let audit = state.engine.audit.clone();
        let recorded = match audit.try_record(record) {
            Ok(()) => Ok(()),
            Err(TryRecordError::Full(record)) => tokio::task::spawn_blocking(move || audit.record(record))
                .await
                .unwrap_or(Err(AuditUnavailable)),
            Err(TryRecordError::Unavailable) => Err(AuditUnavailable),
        };
        if let Err(unavailable) = recorded {
            // The writer went away while the response was built: drop it unsent.
            return ApiError::from(Error::from(unavailable)).into_response();
        }
    }
    response
}

fn caller(state: &AppState, headers: &HeaderMap) -> ApiResult<Caller> {
    let header = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    state.tokens.authenticate(header).ok_or_else(|| {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "send `Authorization: Bearer <token>` with a configured token",
        )
    })
}

fn require_everything(caller: &Caller) -> ApiResult<()> {
    if caller.reads_everything() {
        Ok(())
    } else {
        Err(ApiError::forbidden(format!(
            "role {} may not read this",
            caller.role.as_str()
        )))
    }
}

fn committed(state: &AppState) -> Arc<Committed> {
    state.engine.view.committed().expect("an opened store has a checkpoint")
}

/// `200 {"status":"ok"}` when the daemon serves reads and writes; otherwise `503` with
/// `status` `degraded` (it works, slowly) or `unavailable` (reads are refused) and a
/// `reason` with a stable code.
async fn health(State(state): State<AppState>) -> Response {
    let mut body = json!({
        "status": "ok",
        "size": committed(&state).size,
        "uptime_seconds": state.started.elapsed().as_secs(),
        "audit": "ok",
    });
    let problem = match state.engine.audit.status() {
        AuditStatus::Ok => None,
        AuditStatus::Retrying => Some((
            "degraded",
            "retrying",
            "audit_retrying",
            "audit trail commits fail (storage); records are kept and retried, reads may wait",
        )),
        AuditStatus::Stopped => Some((
            "unavailable",
            "stopped",
            "audit_unavailable",
            "the audit trail writer stopped; reads cannot be recorded and are refused until restart",
        )),
    };
    let Some((status, audit, code, message)) = problem else {
        return Json(body).into_response();
    };
    body["status"] = json!(status);
    body["audit"] = json!(audit);
    body["reason"] = json!({"code": code, "message": message});
    (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
}

async fn metrics(State(state): State<AppState>) -> Response {
    let m = &state.engine.metrics;
    let open_breaks = state.engine.recon.open_breaks();
    let now = crate::clock::unix_nanos();
    let view = state.engine.view.state.read().expect("view lock");
    let text = format!(
        "# HELP ledgerfs_log_size Entries covered by the durable checkpoint.\n# TYPE ledgerfs_log_size gauge\nledgerfs_log_size {}\n\
         # HELP ledgerfs_accounts Accounts opened.\n# TYPE ledgerfs_accounts gauge\nledgerfs_accounts {}\n\
         # HELP ledgerfs_transfers Transfers posted.\n# TYPE ledgerfs_transfers gauge\nledgerfs_transfers {}\n\
         # HELP ledgerfs_batches_total Batches acknowledged.\n# TYPE ledgerfs_batches_total counter\nledgerfs_batches_total {}\n\
         # HELP ledgerfs_events_total Events submitted.\n# TYPE ledgerfs_events_total counter\nledgerfs_events_total {}\n\
         # HELP ledgerfs_commits_total Group commits made durable.\n# TYPE ledgerfs_commits_total counter\nledgerfs_commits_total {}\n\
         # HELP ledgerfs_commit_seconds_total Time spent committing.\n# TYPE ledgerfs_commit_seconds_total counter\nledgerfs_commit_seconds_total {:.6}\n\
         # HELP ledgerfs_storage_failures_total Commits that failed on storage.\n# TYPE ledgerfs_storage_failures_total counter\nledgerfs_storage_failures_total {}\n\
         # HELP ledgerfs_recon_breaks_open Reconciliation breaks not yet resolved.\n# TYPE ledgerfs_recon_breaks_open gauge\nledgerfs_recon_breaks_open {}\n\
         # HELP ledgerfs_recon_oldest_open_break_seconds Age of the oldest open reconciliation break (0: none).\n# TYPE ledgerfs_recon_oldest_open_break_seconds gauge\nledgerfs_recon_oldest_open_break_seconds {}\n",
        view.size,
        view.accounts.len(),
        view.transfers,
        m.batches.load(Ordering::Relaxed),
        m.events.load(Ordering::Relaxed),
        m.commits.load(Ordering::Relaxed),
        m.commit_nanos.load(Ordering::Relaxed) as f64 / 1e9,
        m.storage_failures.load(Ordering::Relaxed),
        open_breaks.len(),
        open_breaks.first().map_or(0, |b| now.saturating_sub(b.time) / 1_000_000_000),
    );
    let durable = view.size;
    drop(view);
    let mut text = text;
    let (published, witnessed) = state.engine.published.get_witnessed();
    use std::fmt::Write as _;
    let _ = writeln!(
        text,
        "# HELP ledgerfs_published_size Entries covered by the published checkpoint (`/log/checkpoint`).\n# TYPE ledgerfs_published_size gauge\nledgerfs_published_size {}\n# HELP ledgerfs_unpublished_entries Durable entries the published checkpoint does not cover yet.\n# TYPE ledgerfs_unpublished_entries gauge\nledgerfs_unpublished_entries {}",
        published.size,
        durable.saturating_sub(published.size)
    );
    if let Some(w) = &state.engine.witnessing {
        let _ = writeln!(
            text,
            "# HELP ledgerfs_published_witnessed Whether the published checkpoint meets the witness policy's quorum.\n# TYPE ledgerfs_published_witnessed gauge\nledgerfs_published_witnessed {}",
            u8::from(witnessed)
        );
        w.write_metrics(&mut text, durable);
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

#[derive(Deserialize)]
struct SubmitQuery {
    /// Comma-separated receipt forms: `true`/`json` (inclusion proofs as JSON),
    /// `tlog-proof` (a C2SP tlog-proof per result), `witnessed` (wait for a checkpoint
    /// that meets the witness policy's quorum first).
    receipt: Option<String>,
    /// `all` (default) or `failures`.
    results: Option<String>,
    /// With `receipt=witnessed`: the longest wait in milliseconds (default 10,000, at
    /// most 60,000).
    wait_ms: Option<u64>,
}

/// The receipts a write asked for.
#[derive(Clone, Copy, Default)]
struct Receipts {
    json: bool,
    tlog_proof: bool,
    witnessed: bool,
}

/// Default and largest wait for `receipt=witnessed`.
const WITNESSED_WAIT_MS: (u64, u64) = (10_000, 60_000);

impl SubmitQuery {
    fn receipts(&self) -> ApiResult<Receipts> {
        let mut r = Receipts::default();
        for form in self.receipt.as_deref().unwrap_or("false").split(',') {
            match form.trim() {
                "false" => {}
                "true" | "json" => r.json = true,
                "tlog-proof" => r.tlog_proof = true,
                "witnessed" => r.witnessed = true,
                other => {
                    return Err(ApiError::bad_request(
                        "request_invalid",
                        format!(
                            "receipt is a comma-separated list of `json`, `tlog-proof` and `witnessed`, not {other:?}"
                        ),
                    ))
                }
            }
        }
        if r.witnessed && !r.tlog_proof {
            r.json = true;
        }
        Ok(r)
    }

    fn shape(&self) -> ApiResult<ResultsShape> {
        match self.results.as_deref() {
            None | Some("all") => Ok(ResultsShape::All),
            Some("failures") => Ok(ResultsShape::Failures),
            Some(other) => Err(ApiError::bad_request(
                "request_invalid",
                format!("results must be `all` or `failures`, not {other:?}"),
            )),
        }
    }
}

async fn read_json_body(headers: &HeaderMap, body: Body) -> ApiResult<Bytes> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .eq_ignore_ascii_case("application/json")
    {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "content_type_unsupported",
            "send `Content-Type: application/json`",
        ));
    }
    axum::body::to_bytes(body, MAX_REQUEST_BYTES).await.map_err(|_| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "request_too_large",
            format!("request bodies are limited to {MAX_REQUEST_BYTES} bytes"),
        )
    })
}

async fn create_accounts(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<SubmitQuery>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let caller = caller(&state, &headers)?;
    if !caller.may_open_accounts() {
        return Err(ApiError::forbidden(format!(
            "role {} may not open accounts",
            caller.role.as_str()
        )));
    }
    let body = read_json_body(&headers, body).await?;
    let events = parse_accounts(&body).map_err(|e| ApiError::bad_request(e.code(), e.to_string()))?;
    submit(&state, events, body.len(), &query).await
}

async fn create_transfers(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<SubmitQuery>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let caller = caller(&state, &headers)?;
    let body = read_json_body(&headers, body).await?;
    let events = parse_transfers(&body).map_err(|e| ApiError::bad_request(e.code(), e.to_string()))?;
    for event in &events {
        if let Event::Transfer(t) = event {
            if !caller.may_debit(&t.debit) {
                return Err(ApiError::forbidden(format!(
                    "{} may not debit account {:?}",
                    caller.name, t.debit
                )));
            }
            if !caller.may_import() && t.flags.iter().any(|f| f == ledgerfs_model::AccountFlags::IMPORTED) {
                return Err(ApiError::forbidden(format!(
                    "role {} may not record imported transfers",
                    caller.role.as_str()
                )));
            }
        }
    }
    submit(&state, events, body.len(), &query).await
}

/// Submits a batch and writes the response directly as JSON text: a batch of 8,189
/// results is on the hot path, where building a `Value` per result costs more than the
/// ledger work.
/// Waits (at most `wait_ms`, default and cap [`WITNESSED_WAIT_MS`]) until the published
/// checkpoint meets the policy's quorum and covers `size` entries.
async fn wait_witnessed(engine: &Engine, size: u64, wait_ms: Option<u64>) {
    let covers = |(c, ok): (Arc<Committed>, bool)| ok && c.size >= size;
    let wait = wait_ms.unwrap_or(WITNESSED_WAIT_MS.0).min(WITNESSED_WAIT_MS.1);
    let mut sizes = engine.published.watch();
    let _ = tokio::time::timeout(std::time::Duration::from_millis(wait), async {
        while !covers(engine.published.get_witnessed()) {
            if sizes.changed().await.is_err() {
                return;
            }
        }
    })
    .await;
}

async fn submit(state: &AppState, events: Vec<Event>, bytes: usize, query: &SubmitQuery) -> ApiResult<Response> {
    use std::fmt::Write as _;
    let shape = query.shape()?;
    let receipts = query.receipts()?;
    let BatchOutcome {
        mut results,
        events,
        committed,
    } = state.engine.submit(events, bytes).await?;
    // With witnesses: receipts are against the newest published checkpoint that meets
    // the quorum and covers the batch, waited for (bounded) when asked.
    let mut witnessed = None;
    let mut receipt_head = committed.clone();
    if state.engine.witnessing.is_some() {
        let covers = |c: &Committed, ok: bool| ok && c.size >= committed.size;
        if receipts.witnessed {
            wait_witnessed(&state.engine, committed.size, query.wait_ms).await;
        }
        let (published, ok) = state.engine.published.get_witnessed();
        witnessed = Some(covers(&published, ok));
        if covers(&published, ok) {
            receipt_head = published;
        }
    }
    let current = committed.size.max(self::committed(state).size);
    // An `exists` result names the original entry; its commit time is in the log.
    for r in results
        .iter_mut()
        .filter(|r| r.code == ResultCode::Exists && r.time.is_none())
    {
        let index = r.index.expect("exists carries the original's index");
        r.time = Some(state.reader.decoded(index, committed.size)?.time);
    }
    let mut out = String::with_capacity(64 * results.len() + 512);
    out.push_str("{\"results\":");
    let mut proof_error = None;
    let accepted = ledgerfs_sequencer::write_results_json_with(
        &mut out,
        events.iter().map(Event::id),
        &results,
        shape,
        |r, out| {
            let Some(index) = r.index.filter(|_| receipts.tlog_proof && r.code.is_success()) else {
                return;
            };
            match render::tlog_proof(&state.reader, index, &receipt_head, current) {
                Ok(text) => {
                    out.push_str(",\"tlog_proof\":");
                    out.push_str(&Value::String(text).to_string());
                }
                Err(e) => proof_error = Some(e),
            }
        },
    );
    if let Some(e) = proof_error {
        return Err(e.into());
    }
    if shape == ResultsShape::Failures {
        if let Some(first) = ledgerfs_sequencer::first_new_index(&results) {
            write!(out, ",\"first_index\":{first}").expect("String write");
        }
    }
    write!(
        out,
        ",\"accepted\":{accepted},\"rejected\":{},\"checkpoint\":{}",
        results.len() - accepted,
        checkpoint_json(&committed)
    )
    .expect("String write");
    if let Some(witnessed) = witnessed {
        write!(out, ",\"witnessed\":{witnessed}").expect("String write");
        if receipt_head.size != committed.size {
            write!(out, ",\"witnessed_checkpoint\":{}", checkpoint_json(&receipt_head)).expect("String write");
        }
    }
    if receipts.json {
        let mut proofs = Vec::new();
        for r in results.iter().filter(|r| r.code.is_success()) {
            let index = r.index.expect("successes carry an index");
            proofs.push(render::inclusion_json(
                &state.reader,
                index,
                receipt_head.size,
                current,
            )?);
        }
        write!(out, ",\"proofs\":{}", Value::Array(proofs)).expect("String write");
    }
    out.push('}');
    Ok(([(header::CONTENT_TYPE, "application/json")], out).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AccountListQuery {
    after: Option<String>,
    limit: Option<usize>,
    kind: Option<String>,
    currency: Option<String>,
    metadata_key: Option<String>,
    metadata_value: Option<String>,
}

/// Which accounts a listing wants; every condition given must hold.
struct AccountFilter {
    kind: Option<ledgerfs_model::AccountKind>,
    /// `Some(None)`: a code that is no currency, so no account matches.
    currency: Option<Option<ledgerfs_model::Currency>>,
    /// A key (any, if `None`) and the value it must have (any, if `None`).
    metadata: Option<(Option<String>, Option<String>)>,
}

impl AccountFilter {
    fn parse(q: &AccountListQuery) -> ApiResult<AccountFilter> {
        let invalid = |message: String| ApiError::bad_request("request_invalid", message);
        let kind = q
            .kind
            .as_deref()
            .map(|k| {
                ledgerfs_model::AccountKind::parse(k).ok_or_else(|| {
                    let kinds: Vec<_> = ledgerfs_model::AccountKind::ALL.iter().map(|k| k.as_str()).collect();
                    invalid(format!("`kind` is one of {}", kinds.join(", ")))
                })
            })
            .transpose()?;
        // A code no account can have matches none (not an error: the answer is known).
        let currency = q.currency.as_deref().map(ledgerfs_model::Currency::from_code);
        let metadata = match (&q.metadata_key, &q.metadata_value) {
            (None, None) => None,
            (key, value) => Some((key.clone(), value.clone())),
        };
        Ok(AccountFilter {
            kind,
            currency,
            metadata,
        })
    }

    /// Whether an account passes. A metadata value matches a string value exactly, or
    /// any other value parsed as JSON (`2`, `true`); without a key, any key's value.
    fn matches(&self, record: &AccountRecord) -> bool {
        if self.kind.is_some_and(|k| k != record.kind) || self.currency.is_some_and(|c| c != Some(record.currency)) {
            return false;
        }
        let Some((key, want)) = &self.metadata else { return true };
        let Ok(Value::Object(metadata)) = serde_json::from_str::<Value>(&record.metadata) else {
            return false;
        };
        let value_matches = |value: &Value| match (value, want) {
            (_, None) => true,
            (Value::String(text), Some(want)) => text == want,
            (other, Some(want)) => serde_json::from_str::<Value>(want).is_ok_and(|w| w == *other),
        };
        match key {
            Some(key) => metadata.get(key).is_some_and(value_matches),
            None => metadata.values().any(value_matches),
        }
    }
}

async fn list_accounts(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<AccountListQuery>,
) -> ApiResult<Json<Value>> {
    let caller = caller(&state, &headers)?;
    let filter = AccountFilter::parse(&q)?;
    let limit = page_limit(q.limit)?;
    let view = state.engine.view.state.read().expect("view lock");
    let start = match &q.after {
        Some(after) => view.slots.get(after.as_str()).map_or(0, |&s| s as usize + 1),
        None => 0,
    };
    let mut matching = view.accounts[start..]
        .iter()
        .filter(|a| caller.may_read_account(&a.record.id) && filter.matches(&a.record));
    let page: Vec<Value> = matching
        .by_ref()
        .take(limit)
        .map(|a| account_json(a, view.size))
        .collect();
    let more = matching.next().is_some();
    let next = more.then(|| page.last().map(|a| a["id"].clone())).flatten();
    Ok(Json(json!({"accounts": page, "next_after": next})))
}

fn may_read_account(caller: &Caller, id: &str) -> ApiResult<()> {
    if caller.may_read_account(id) {
        Ok(())
    } else {
        Err(ApiError::forbidden(format!(
            "{} may not read account {id:?}",
            caller.name
        )))
    }
}

async fn get_account(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Value>> {
    // The balance and the checkpoint it is consistent with, from one read of the view.
    let (committed, a) = readable_account(&state, &headers, &id)?;
    let mut account = account_json(&a, committed.size);
    account["checkpoint"] = checkpoint_json(&committed);
    Ok(Json(account))
}

/// An account the caller may read, and the checkpoint it is consistent with, from one
/// read of the view.
fn readable_account(
    state: &AppState,
    headers: &HeaderMap,
    id: &str,
) -> ApiResult<(Arc<Committed>, crate::read::view::AccountView)> {
    let caller = caller(state, headers)?;
    may_read_account(&caller, id)?;
    state
        .engine
        .view
        .account_snapshot(id)
        .ok_or_else(|| ApiError::not_found("account"))
}

/// The account's pending transfers, not yet posted or voided.
async fn get_pending(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Value>> {
    let (committed, a) = readable_account(&state, &headers, &id)?;
    let reader = state.reader.clone();
    let value = tokio::task::spawn_blocking(move || render::pending_json(&reader, &a, committed.size))
        .await
        .map_err(|e| ApiError::from(Error::Storage(e.to_string())))??;
    Ok(Json(value))
}

/// The filters and cursor of a statement query (`/transfers`, `/balances`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StatementQuery {
    from: Option<String>,
    to: Option<String>,
    reference: Option<String>,
    phase: Option<String>,
    direction: Option<String>,
    after: Option<u64>,
    before: Option<u64>,
    limit: Option<usize>,
}

impl StatementQuery {
    /// The core's filter and cursor, or `400 request_invalid` naming what is wrong.
    fn parse(&self) -> ApiResult<(statement::Filter, statement::Cursor, usize)> {
        let invalid = |message: String| ApiError::bad_request("request_invalid", message);
        let time = |name: &str, text: &Option<String>| -> ApiResult<Option<u64>> {
            text.as_deref()
                .map(|t| {
                    parse_timestamp(t)
                        .ok_or_else(|| invalid(format!("`{name}` is an RFC 3339 UTC time like 2026-11-21T10:00:00Z")))
                })
                .transpose()
        };
        let mut phases = Vec::new();
        for name in self.phase.iter().flat_map(|p| p.split(',')) {
            let known = statement::PHASES.iter().find(|&&p| p == name).ok_or_else(|| {
                invalid(format!(
                    "`phase` is a comma-separated list of {}",
                    statement::PHASES.join(", ")
                ))
            })?;
            phases.push(*known);
        }
        let side = self
            .direction
            .as_deref()
            .map(|d| statement::Side::parse(d).ok_or_else(|| invalid("`direction` is debit or credit".into())))
            .transpose()?;
        let cursor = statement::Cursor {
            after: self.after,
            before: self.before,
        };
        let filter = statement::Filter {
            from: time("from", &self.from)?,
            to: time("to", &self.to)?,
            reference: self.reference.clone(),
            phases,
            side,
        };
        Ok((filter, cursor, page_limit(self.limit)?))
    }
}

/// One page of an account's statement, read in a blocking task, with `render` turning
/// each line into JSON.
async fn statement_page(
    state: AppState,
    headers: HeaderMap,
    id: String,
    q: StatementQuery,
    key: &'static str,
    render: fn(&AccountRecord, &statement::Line) -> Value,
) -> ApiResult<Json<Value>> {
    let (committed, a) = readable_account(&state, &headers, &id)?;
    let (filter, cursor, limit) = q.parse()?;
    let reader = state.reader.clone();
    let page = tokio::task::spawn_blocking(move || {
        statement::page(&reader, &a.record, &a.postings, committed.size, &filter, cursor, limit)
            .map(|page| (page, a.record, committed.size))
    })
    .await
    .map_err(|e| ApiError::from(Error::Storage(e.to_string())))??;
    let (page, record, size) = page;
    let lines: Vec<Value> = page.lines.iter().map(|l| render(&record, l)).collect();
    Ok(Json(json!({
        "account": id,
        "currency": record.currency.code(),
        key: lines,
        "next_after": page.next_after(),
        "next_before": page.next_before(),
        "as_of_size": size,
    })))
}

/// The account's transfers, filtered and paged both ways, each with the balance after it.
async fn get_statement(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<StatementQuery>,
) -> ApiResult<Json<Value>> {
    statement_page(state, headers, id, q, "transfers", render::line_json).await
}

/// The account's balance history: the balance after each of its postings.
async fn get_balance_history(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<StatementQuery>,
) -> ApiResult<Json<Value>> {
    statement_page(state, headers, id, q, "balances", |record, line| {
        json!({
            "index": line.index,
            "time": ledgerfs_model::time::format_timestamp(line.time),
            "transfer": line.transfer.id,
            "balance": render::balance_json(record, &line.balance_after),
        })
    })
    .await
}

#[derive(Deserialize)]
struct BalanceQuery {
    at: Option<String>,
}

/// Resolves `at` (a log index, or an RFC 3339 time) to the last index it includes.
fn resolve_at(state: &AppState, at: &str, size: u64) -> ApiResult<Option<u64>> {
    if at.bytes().all(|b| b.is_ascii_digit()) {
        let index: u64 = at
            .parse()
            .map_err(|_| ApiError::bad_request("at_invalid", "index too large"))?;
        if index >= size {
            return Err(ApiError::bad_request(
                "at_invalid",
                format!("index {index} is beyond the log size {size}"),
            ));
        }
        return Ok(Some(index));
    }
    let time = parse_timestamp(at).ok_or_else(|| {
        ApiError::bad_request(
            "at_invalid",
            "`at` is a log index or an RFC 3339 UTC time like 2026-11-21T10:00:00Z",
        )
    })?;
    // Like an index beyond the log, a time the ledger has not reached is refused: the
    // state as of then is not known yet.
    let now = crate::clock::unix_nanos();
    if time > now {
        return Err(ApiError::bad_request("at_invalid", format!("{at} is in the future")));
    }
    // The last entry at or before `time`: one before the first entry after it.
    Ok(state.reader.count_before(time.saturating_add(1), size)?.checked_sub(1))
}

async fn get_balance(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<BalanceQuery>,
) -> ApiResult<Json<Value>> {
    // One read of the view: the postings and the size they are resolved against.
    let (committed, a) = readable_account(&state, &headers, &id)?;
    let Some(at) = q.at else {
        let balance = render::balance_json(&a.record, &a.balance);
        return Ok(Json(
            json!({"id": id, "balance": balance, "as_of_size": committed.size}),
        ));
    };
    let reader = state.reader.clone();
    let state2 = state.clone();
    let result = tokio::task::spawn_blocking(move || -> ApiResult<Value> {
        let last = resolve_at(&state2, &at, committed.size)?;
        let found = match last {
            Some(last) => render::balance_at(&reader, &a.record, a.index, &a.postings, last, committed.size)?,
            None => None,
        };
        found.ok_or_else(|| ApiError::not_found("account at that point of the log"))
    })
    .await
    .map_err(|e| ApiError::from(Error::Storage(e.to_string())))??;
    Ok(Json(result))
}

/// A balance proof (README, "Balance proofs"): the account's balance record (or, for an
/// id no account has, the two records that bracket it) in the last balance commitment,
/// and a tlog-proof of that commitment entry. A commitment entry is written first when
/// the last one no longer shows the account as it is.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BalanceProofQuery {
    /// With witnesses: wait (bounded) until a checkpoint that meets the quorum covers
    /// the commitment, and prove it under that one.
    witnessed: Option<bool>,
    /// Longest wait for `witnessed`, in milliseconds.
    wait_ms: Option<u64>,
}

async fn get_balance_proof(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<BalanceProofQuery>,
) -> ApiResult<Response> {
    let caller = caller(&state, &headers)?;
    may_read_account(&caller, &id)?;
    if let Err(code) = ledgerfs_model::event::validate_id(&id) {
        return Err(ApiError::bad_request(
            code.as_str(),
            format!("{id:?} is not an account id (1 to 64 of A-Z a-z 0-9 . _ : -)"),
        ));
    }
    let wait = crate::read::balance_proof::PROOF_WAIT;
    let proof = state.engine.prove_balance(id.clone(), wait).await?;
    if q.witnessed == Some(true) && state.engine.witnessing.is_some() {
        wait_witnessed(&state.engine, proof.index + 1, q.wait_ms).await;
    }
    let file = tokio::task::spawn_blocking(move || {
        crate::read::balance_proof::assemble(&state.engine, &state.reader, &id, &proof)
    })
    .await
    .map_err(|e| ApiError::from(Error::Storage(e.to_string())))??;
    Ok(([(header::CONTENT_TYPE, "application/json")], file.encode()).into_response())
}

#[derive(Deserialize)]
struct HistoryQuery {
    after: Option<u64>,
    limit: Option<usize>,
}

async fn get_history(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<HistoryQuery>,
) -> ApiResult<Json<Value>> {
    let caller = caller(&state, &headers)?;
    may_read_account(&caller, &id)?;
    let limit = page_limit(q.limit)?;
    // The size and the postings from one read of the view, so that every index read
    // below is covered by the tree it is read from.
    let (size, indices) = {
        let view = state.engine.view.state.read().expect("view lock");
        view.history_page(&id, q.after, limit)
            .ok_or_else(|| ApiError::not_found("account"))?
    };
    let mut entries = Vec::with_capacity(indices.len());
    for &index in &indices {
        let bytes = state.reader.entry(index, size)?;
        entries.push(serde_json::from_slice::<Value>(&bytes).unwrap_or(Value::Null));
    }
    let next = (indices.len() == limit).then(|| indices.last().copied()).flatten();
    Ok(Json(json!({"account": id, "entries": entries, "next_after": next})))
}

async fn get_transfer(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Value>> {
    let caller = caller(&state, &headers)?;
    let index = state
        .engine
        .transfer_index(id)
        .await?
        .ok_or_else(|| ApiError::not_found("transfer"))?;
    let (entry, value) = read_entry(&state, index)?;
    if !caller.may_read_entry(&entry.body) {
        return Err(ApiError::forbidden("the transfer touches none of your accounts"));
    }
    Ok(Json(json!({"index": index, "entry": value})))
}

fn read_entry(state: &AppState, index: u64) -> ApiResult<(Entry, Value)> {
    let size = committed(state).size;
    if index >= size {
        return Err(ApiError::not_found("entry"));
    }
    let bytes = state.reader.entry(index, size)?;
    let entry = crate::read::logread::decode_at(index, &bytes)?;
    let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Ok((entry, value))
}

async fn get_entry(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiPath(index): ApiPath<u64>,
) -> ApiResult<Json<Value>> {
    let caller = caller(&state, &headers)?;
    let (entry, value) = read_entry(&state, index)?;
    if !caller.may_read_entry(&entry.body) {
        return Err(ApiError::forbidden("the entry touches none of your accounts"));
    }
    Ok(Json(value))
}

async fn get_checkpoint(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<Json<Value>> {
    caller(&state, &headers)?;
    Ok(Json(checkpoint_json(&committed(&state))))
}

#[derive(Deserialize)]
struct InclusionQuery {
    index: u64,
    size: Option<u64>,
    /// `json` (default) or `tlog-proof` (C2SP tlog-proof@v1 text, under the newest
    /// published witnessed checkpoint that covers the entry, else the newest signed one).
    format: Option<String>,
}

async fn inclusion(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<InclusionQuery>,
) -> ApiResult<Response> {
    let caller = caller(&state, &headers)?;
    let committed = committed(&state);
    let size = q.size.unwrap_or(committed.size);
    if size > committed.size || q.index >= size {
        return Err(ApiError::bad_request(
            "range_invalid",
            format!("need index < size <= {}", committed.size),
        ));
    }
    let (entry, _) = read_entry(&state, q.index)?;
    if !caller.may_read_entry(&entry.body) {
        return Err(ApiError::forbidden("the entry touches none of your accounts"));
    }
    match q.format.as_deref() {
        None | Some("json") => {}
        Some("tlog-proof") => {
            let head = state.engine.published.receipt_head(committed.clone(), q.index);
            if q.size.is_some_and(|s| s != head.size) {
                return Err(ApiError::bad_request(
                    "range_invalid",
                    format!(
                        "a tlog-proof is under a signed checkpoint: omit `size` (it is {})",
                        head.size
                    ),
                ));
            }
            let text = render::tlog_proof(&state.reader, q.index, &head, committed.size)?;
            return Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response());
        }
        Some(other) => {
            return Err(ApiError::bad_request(
                "request_invalid",
                format!("format is `json` or `tlog-proof`, not {other:?}"),
            ))
        }
    }
    let mut proof = render::inclusion_json(&state.reader, q.index, size, committed.size)?;
    let tiles = crate::read::logread::PrefixReader::new(state.reader.store(), committed.size);
    let root = ledgerfs_tiles::tree_root_from_tiles(&tiles, size).map_err(|e| ApiError::from(Error::log_tiles(e)))?;
    proof["root"] = json!(B64.encode(root));
    proof["checkpoint"] = checkpoint_json(&committed);
    Ok(Json(proof).into_response())
}

#[derive(Deserialize)]
struct ConsistencyQuery {
    from: u64,
    to: Option<u64>,
}

async fn consistency(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<ConsistencyQuery>,
) -> ApiResult<Json<Value>> {
    caller(&state, &headers)?;
    let committed = committed(&state);
    let to = q.to.unwrap_or(committed.size);
    if to > committed.size || q.from > to {
        return Err(ApiError::bad_request(
            "range_invalid",
            format!("need from <= to <= {}", committed.size),
        ));
    }
    let store = &crate::read::logread::PrefixReader::new(state.reader.store(), committed.size);
    let tile_error = |e| ApiError::from(Error::log_tiles(e));
    let proof = ledgerfs_tiles::consistency_proof(store, q.from, to).map_err(tile_error)?;
    let from_root = ledgerfs_tiles::tree_root_from_tiles(store, q.from).map_err(tile_error)?;
    let to_root = ledgerfs_tiles::tree_root_from_tiles(store, to).map_err(tile_error)?;
    Ok(Json(json!({
        "from": q.from, "to": to,
        "from_root": B64.encode(from_root), "to_root": B64.encode(to_root),
        "proof": b64_hashes(&proof),
        "checkpoint": checkpoint_json(&committed),
    })))
}

#[derive(Deserialize)]
struct StreamQuery {
    from: Option<u64>,
}

async fn stream(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<StreamQuery>,
) -> ApiResult<Response> {
    let caller = caller(&state, &headers)?;
    require_everything(&caller)?;
    let resume = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .map(|last| last + 1);
    let start = resume.or(q.from).unwrap_or(0);
    let durable = state.engine.durable.clone();
    let reader = state.reader.clone();
    let shutdown = state.shutdown.clone();
    let events = futures_util::stream::unfold(
        (start, durable, Vec::<(u64, Vec<u8>)>::new()),
        move |(mut next, mut durable, mut buffered)| {
            let reader = reader.clone();
            let mut shutdown = shutdown.clone();
            async move {
                loop {
                    if *shutdown.borrow_and_update() {
                        // The daemon is stopping: end the stream (the client resumes
                        // with Last-Event-ID against the next daemon).
                        return None;
                    }
                    if !buffered.is_empty() {
                        let (index, bytes) = buffered.remove(0);
                        let text = String::from_utf8_lossy(&bytes).into_owned();
                        let event = SseEvent::default().id(index.to_string()).event("entry").data(text);
                        return Some((Ok::<_, std::convert::Infallible>(event), (next, durable, buffered)));
                    }
                    let size = *durable.borrow_and_update();
                    if next < size {
                        let to = size.min(next + MAX_PAGE as u64);
                        let mut batch = Vec::new();
                        let read = reader.for_each(next, to, size, |i, b| {
                            batch.push((i, b.to_vec()));
                            Ok(())
                        });
                        if read.is_err() {
                            return None;
                        }
                        next = to;
                        buffered = batch;
                        continue;
                    }
                    tokio::select! {
                        changed = durable.changed() => {
                            if changed.is_err() {
                                return None;
                            }
                        }
                        _ = shutdown.wait_for(|stopping| *stopping) => return None,
                    }
                }
            }
        },
    );
    Ok(Sse::new(events).keep_alive(KeepAlive::default()).into_response())
}

async fn log_file(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiPath(path): ApiPath<String>,
) -> ApiResult<Response> {
    let caller = caller(&state, &headers)?;
    require_everything(&caller)?;
    let root = state.reader.store().root();
    if path == "checkpoint" {
        // `/log/` is the published tree on disk (what a static web server would serve).
        let note = state.engine.published.get().note.clone();
        return Ok((
            [
                (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            note,
        )
            .into_response());
    }
    let tile = TilePath::parse(&path).ok_or_else(|| ApiError::not_found("tile"))?;
    let bytes = std::fs::read(root.join(tile.to_path())).map_err(|_| ApiError::not_found("tile"))?;
    let cache = if tile.is_full() {
        "public, max-age=31536000, immutable"
    } else {
        "public, max-age=60"
    };
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream"),
            (header::CACHE_CONTROL, cache),
        ],
        bytes,
    )
        .into_response())
}

/// The audit sub-ledger's tile tree: admins and auditors only.
async fn audit_file(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiPath(path): ApiPath<String>,
) -> ApiResult<Response> {
    let caller = caller(&state, &headers)?;
    if !matches!(caller.role, Role::Admin | Role::Auditor) {
        return Err(ApiError::forbidden("only admins and auditors read the audit trail"));
    }
    sublog_file(&state, crate::access::audit::AUDIT_DIR, &path)
}

/// A file of a sub-ledger's tlog-tiles tree (`DIR/<sub>/log/`: the audit trail, the break
/// log), with the spec's content types and cache headers.
fn sublog_file(state: &AppState, sub: &str, path: &str) -> ApiResult<Response> {
    let root = state
        .reader
        .store()
        .root()
        .parent()
        .expect("log has a parent")
        .join(sub)
        .join("log");
    let (file, content_type, cache) = if path == "checkpoint" {
        (root.join("checkpoint"), "text/plain; charset=utf-8", "no-cache")
    } else {
        let tile = TilePath::parse(path).ok_or_else(|| ApiError::not_found("tile"))?;
        let cache = if tile.is_full() {
            "public, max-age=31536000, immutable"
        } else {
            "public, max-age=60"
        };
        (root.join(tile.to_path()), "application/octet-stream", cache)
    };
    let bytes = std::fs::read(file).map_err(|_| ApiError::not_found("tile"))?;
    Ok((
        [(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, cache)],
        bytes,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::IntoFuture;

    /// A daemon's router over a fresh store, served on a loopback port the kernel picks,
    /// with `audit` replacing the real trail: (runtime, base URL, admin token).
    fn serve_with(name: &str, audit: Option<crate::access::audit::Audit>) -> (tokio::runtime::Runtime, String, String) {
        let dir = std::env::temp_dir().join(format!("ledgerfs-api-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let init = crate::storage::ledger::init(&dir, Some("api.test/log".into())).unwrap();
        let token = std::fs::read_to_string(&init.admin_token_path)
            .unwrap()
            .trim()
            .to_string();
        let opened =
            crate::storage::ledger::open(&dir, crate::storage::ledger::Start::NewestSnapshot, &mut |_, _| {}).unwrap();
        let tokens = Arc::new(Tokens::from_config(&opened.config));
        let mut engine = Engine::start(dir.clone(), opened).unwrap();
        if let Some(audit) = audit {
            engine.audit = audit;
        }
        let reader = Arc::new(LogReader::new(crate::storage::tiles::PosixStore::new(
            dir.join(crate::storage::ledger::LOG_DIR),
        )));
        let (_stopping, shutdown) = tokio::sync::watch::channel(false);
        let state = AppState {
            engine,
            reader,
            tokens,
            started: Instant::now(),
            shutdown,
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        runtime.spawn(axum::serve(listener, router(state)).into_future());
        (runtime, base, token)
    }

    fn get(base: &str, path: &str, token: &str) -> (u16, Value) {
        let agent = ureq::AgentBuilder::new()
            .timeout(std::time::Duration::from_secs(20))
            .build();
        let r = agent
            .get(&format!("{base}{path}"))
            .set("Authorization", &format!("Bearer {token}"))
            .call();
        match r {
            Ok(r) => (r.status(), r.into_json().unwrap_or(Value::Null)),
            Err(ureq::Error::Status(s, r)) => (s, r.into_json().unwrap_or(Value::Null)),
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn reads_are_refused_when_the_audit_trail_is_gone() {
        let (_runtime, base, token) = serve_with("audit-ok", None);
        let (status, health) = get(&base, "/health", "");
        assert_eq!((status, &health["status"]), (200, &json!("ok")), "{health}");
        assert_eq!(get(&base, "/v1/checkpoint", &token).0, 200);

        let (_runtime, base, token) = serve_with("audit-gone", Some(crate::access::audit::Audit::stopped()));
        for path in ["/v1/checkpoint", "/v1/accounts", "/log/checkpoint", "/v1/entries/0"] {
            let (status, body) = get(&base, path, &token);
            assert_eq!(status, 503, "{path}: {body}");
            assert_eq!(body["error"]["code"], "audit_unavailable", "{path}: {body}");
        }
        let (status, health) = get(&base, "/health", "");
        assert_eq!(status, 503, "{health}");
        assert_eq!(health["status"], "unavailable", "{health}");
        assert_eq!(health["reason"]["code"], "audit_unavailable", "{health}");
    }
}
