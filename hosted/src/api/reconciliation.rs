//! The reconciliation routes (compliance: CASS 15, EMD2 Art. 7, PSD2 Art. 10):
//!
//! - `GET /v1/safeguarding[?at=|date=]`: requirement, resource and shortfall per currency;
//! - `POST /v1/reconciliations/internal[?at=|date=]`: the same, recorded as a run in the
//!   break log, a shortfall recorded as a break;
//! - `POST /v1/reconciliations?account=ID&date=YYYY-MM-DD`: a bank statement (camt.053 XML
//!   or CSV) against a safeguarding account's postings that day, recorded with its breaks;
//! - `GET /v1/reconciliations/breaks[?status=open|all]` and
//!   `POST /v1/reconciliations/breaks/{id}/resolve`;
//! - `/reconciliation/...`: the break log's tlog-tiles files.
//!
//! Admins run reconciliations and resolve breaks; every role that reads everything
//! (admin, operator, auditor, regulator) reads them; customers do not. The rules are `ledgerfs-recon`'s; this file only moves data in and out.

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use ledgerfs_model::time::format_timestamp;
use ledgerfs_model::{AccountKind, Currency};
use ledgerfs_recon::entry::{
    write_break, write_resolution, write_run, BreakContext, ResolveError, Run, RunKind, MAX_TEXT_LEN,
};
use ledgerfs_recon::{breakdown, format_signed, positions, reconcile, Break, BreakKind, KindTotal, Position};
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::{caller, resolve_at, ApiError, ApiPath, ApiQuery, ApiResult, AppState, MAX_REQUEST_BYTES};
use crate::access::auth::Caller;
use crate::config::Role;
use crate::error::Error;
use crate::recon::breaklog::{AppendError, RECON_DIR};
use crate::recon::ledger_side::{account_day, all_holdings, day_bounds, holdings};
use crate::recon::report;
use crate::recon::statement::{self, Format};
use crate::recon::statements::month_statement;

fn may_run(caller: &Caller) -> ApiResult<()> {
    if caller.role == Role::Admin {
        Ok(())
    } else {
        Err(ApiError::forbidden(format!(
            "role {} may not run or resolve reconciliations",
            caller.role.as_str()
        )))
    }
}

fn may_read(caller: &Caller) -> ApiResult<()> {
    // Every role that reads everything (not customers), as in the FUSE view.
    if caller.reads_everything() {
        Ok(())
    } else {
        Err(ApiError::forbidden(format!(
            "role {} may not read reconciliations",
            caller.role.as_str()
        )))
    }
}

fn blocking_error(e: tokio::task::JoinError) -> ApiError {
    ApiError::from(Error::Storage(e.to_string()))
}

fn append_error(e: AppendError) -> ApiError {
    match e {
        AppendError::Failed(e) => ApiError::from(e),
        AppendError::Exists => ApiError::new(StatusCode::CONFLICT, "exists", "recorded already"),
        AppendError::Refused(ResolveError::Unknown) => ApiError::not_found("break"),
        AppendError::Refused(ResolveError::AlreadyResolved) => {
            ApiError::new(StatusCode::CONFLICT, "break_resolved", "the break is resolved already")
        }
    }
}

/// `at` (an index or RFC 3339 time, inclusive) or `date` (end of that UTC day).
#[derive(Deserialize)]
pub(super) struct CutQuery {
    at: Option<String>,
    date: Option<String>,
}

/// The cut-off: how many entries a reconciliation reads, and the business day it is for.
fn cut_off(state: &AppState, q: &CutQuery, size: u64) -> ApiResult<(u64, String)> {
    match (&q.at, &q.date) {
        (Some(_), Some(_)) => Err(ApiError::bad_request(
            "request_invalid",
            "give `at` or `date`, not both",
        )),
        (Some(at), None) => {
            let cut = resolve_at(state, at, size)?.map_or(0, |last| last + 1);
            let day = match cut {
                0 => String::new(),
                n => format_timestamp(state.reader.decoded(n - 1, size)?.time)[..10].to_string(),
            };
            Ok((cut, day))
        }
        (None, Some(date)) => {
            let (_, end) = day_bounds(date).ok_or_else(|| bad_date(date))?;
            Ok((state.reader.count_before(end, size)?, date.clone()))
        }
        (None, None) => Ok((size, format_timestamp(crate::clock::unix_nanos())[..10].to_string())),
    }
}

fn bad_date(date: &str) -> ApiError {
    ApiError::bad_request("date_invalid", format!("{date:?} is not a date like 2026-11-30"))
}

fn position_json(p: &Position) -> Value {
    let c = p.currency;
    json!({
        "currency": c.code(),
        "requirement": format_signed(p.requirement, c),
        "resource": format_signed(p.resource, c),
        "shortfall": format_signed(p.shortfall(), c),
        "excess": format_signed(p.excess(), c),
        "customer_accounts": p.customer_accounts,
        "safeguarding_accounts": p.safeguarding_accounts,
    })
}

/// The positions at a cut-off, computed off the async runtime.
async fn positions_at(state: &AppState, q: &CutQuery) -> ApiResult<(u64, String, Vec<Position>)> {
    let size = state.engine.view.size();
    let (cut, day) = cut_off(state, q, size)?;
    let (view, reader) = (state.engine.view.clone(), state.reader.clone());
    let held = tokio::task::spawn_blocking(move || {
        let view = view.state.read().expect("view lock");
        holdings(&reader, &view, cut)
    })
    .await
    .map_err(blocking_error)??;
    Ok((cut, day, positions(held)))
}

/// `GET /v1/safeguarding`: the internal reconciliation's figures, not recorded.
pub(super) async fn get_safeguarding(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<CutQuery>,
) -> ApiResult<Json<Value>> {
    may_read(&caller(&state, &headers)?)?;
    let (cut, day, positions) = positions_at(&state, &q).await?;
    Ok(Json(json!({
        "at_size": cut,
        "date": day,
        "positions": positions.iter().map(position_json).collect::<Vec<_>>(),
    })))
}

/// `POST /v1/reconciliations/internal`: the internal reconciliation, recorded.
pub(super) async fn post_internal(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<CutQuery>,
) -> ApiResult<Json<Value>> {
    let who = caller(&state, &headers)?;
    may_run(&who)?;
    let (cut, day, positions) = positions_at(&state, &q).await?;
    let shortfalls: Vec<(Currency, Break)> = positions
        .iter()
        .filter(|p| p.shortfall() > 0)
        .map(|p| {
            let b = Break {
                kind: BreakKind::Shortfall,
                reference: p.currency.code().to_string(),
                statement_amount: Some(p.resource),
                ledger_amount: Some(p.requirement),
                ledger_index: None,
            };
            (p.currency, b)
        })
        .collect();
    let log = state.engine.recon.clone();
    let (p2, s2, day2, name) = (positions.clone(), shortfalls.clone(), day.clone(), who.name.clone());
    let run = tokio::task::spawn_blocking(move || {
        log.append(
            |_| Ok(()),
            |first, time| {
                let mut texts = vec![String::new()];
                write_run(
                    &mut texts[0],
                    first,
                    time,
                    &Run {
                        kind: RunKind::Internal,
                        account: "",
                        date: &day2,
                        at_index: cut,
                        currency: None,
                        statement_sha256: "",
                        matched: 0,
                        breaks: s2.len(),
                        positions: &p2,
                        by: &name,
                    },
                );
                for (i, (currency, b)) in s2.iter().enumerate() {
                    let mut t = String::new();
                    let at = BreakContext {
                        run: first,
                        account: "",
                        date: &day2,
                        currency: *currency,
                    };
                    write_break(&mut t, first + 1 + i as u64, time, &at, b);
                    texts.push(t);
                }
                texts
            },
        )
    })
    .await
    .map_err(blocking_error)?
    .map_err(append_error)?;
    Ok(Json(json!({
        "run": run,
        "kind": "internal",
        "result": if shortfalls.is_empty() { "matched" } else { "breaks" },
        "at_size": cut,
        "date": day,
        "positions": positions.iter().map(position_json).collect::<Vec<_>>(),
        "breaks": shortfalls.iter().enumerate().map(|(i, (c, b))| break_json(run + 1 + i as u64, b, *c)).collect::<Vec<_>>(),
    })))
}

fn break_json(id: u64, b: &Break, currency: Currency) -> Value {
    let amount = |v: Option<i128>| v.map(|v| format_signed(v, currency));
    json!({
        "id": id,
        "kind": b.kind.as_str(),
        "reference": b.reference,
        "statement_amount": amount(b.statement_amount),
        "ledger_amount": amount(b.ledger_amount),
        "ledger_index": b.ledger_index,
    })
}

#[derive(Deserialize)]
pub(super) struct ExternalQuery {
    account: Option<String>,
    date: Option<String>,
}

/// `POST /v1/reconciliations?account=&date=`: a bank statement against the ledger.
pub(super) async fn post_external(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<ExternalQuery>,
    body: Body,
) -> ApiResult<Json<Value>> {
    let who = caller(&state, &headers)?;
    may_run(&who)?;
    let account_id = q
        .account
        .ok_or_else(|| ApiError::bad_request("request_invalid", "give the safeguarding account: ?account=ID"))?;
    let date = q
        .date
        .ok_or_else(|| ApiError::bad_request("request_invalid", "give the statement's day: ?date=YYYY-MM-DD"))?;
    let bounds = day_bounds(&date).ok_or_else(|| bad_date(&date))?;
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let bytes = axum::body::to_bytes(body, MAX_REQUEST_BYTES).await.map_err(|_| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "request_too_large",
            format!("request bodies are limited to {MAX_REQUEST_BYTES} bytes"),
        )
    })?;
    let format = Format::detect(content_type, &bytes).ok_or_else(|| {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "content_type_unsupported",
            "send a camt.053 statement as `Content-Type: application/xml`, or CSV as `text/csv`",
        )
    })?;
    let (committed, account) = state
        .engine
        .view
        .account_snapshot(&account_id)
        .ok_or_else(|| ApiError::not_found("account"))?;
    if account.record.kind != AccountKind::Safeguarding {
        return Err(ApiError::bad_request(
            "account_not_safeguarding",
            format!(
                "{account_id} is a {} account; statements reconcile safeguarding accounts",
                account.record.kind.as_str()
            ),
        ));
    }
    let currency = account.record.currency;
    let parsed =
        statement::parse(format, &bytes, currency).map_err(|m| ApiError::bad_request("statement_invalid", m))?;
    if let Some(stated) = parsed.date.as_deref().filter(|d| *d != date) {
        return Err(ApiError::bad_request(
            "statement_invalid",
            format!("the statement's closing balance is dated {stated}, not {date}"),
        ));
    }
    let sha = crate::storage::ledger::hex(&Sha256::digest(&bytes));
    let sha_out = sha.clone();
    let size = committed.size;
    let (reader, log) = (state.reader.clone(), state.engine.recon.clone());
    let (name, date2, id2) = (who.name.clone(), date.clone(), account_id.clone());
    let (run, outcome, opening, closing, parsed) = tokio::task::spawn_blocking(move || {
        let (lines, opening, closing) = account_day(&reader, &account, size, bounds)?;
        let outcome = reconcile(&parsed.statement, &lines, opening, closing);
        let run = log
            .append(
                |_| Ok(()),
                |first, time| {
                    let mut texts = vec![String::new()];
                    write_run(
                        &mut texts[0],
                        first,
                        time,
                        &Run {
                            kind: RunKind::External,
                            account: &id2,
                            date: &date2,
                            at_index: size,
                            currency: Some(currency),
                            statement_sha256: &sha,
                            matched: outcome.matched,
                            breaks: outcome.breaks.len(),
                            positions: &[],
                            by: &name,
                        },
                    );
                    let at = BreakContext {
                        run: first,
                        account: &id2,
                        date: &date2,
                        currency,
                    };
                    for (i, b) in outcome.breaks.iter().enumerate() {
                        let mut t = String::new();
                        write_break(&mut t, first + 1 + i as u64, time, &at, b);
                        texts.push(t);
                    }
                    texts
                },
            )
            .map_err(append_error)?;
        Ok::<_, ApiError>((run, outcome, opening, closing, parsed))
    })
    .await
    .map_err(blocking_error)??;
    let amount = |v: i128| format_signed(v, currency);
    Ok(Json(json!({
        "run": run,
        "kind": "external",
        "account": account_id,
        "date": date,
        "result": if outcome.is_matched() { "matched" } else { "breaks" },
        "matched": outcome.matched,
        "at_size": size,
        "statement": {
            "bank_account": parsed.bank_account,
            "lines": parsed.statement.lines.len(),
            "opening": parsed.statement.opening.map(amount),
            "closing": amount(parsed.statement.closing),
            "sha256": sha_out,
        },
        "ledger": {"opening": amount(opening), "closing": amount(closing)},
        "breaks": outcome.breaks.iter().enumerate().map(|(i, b)| break_json(run + 1 + i as u64, b, currency)).collect::<Vec<_>>(),
    })))
}

#[derive(Deserialize)]
pub(super) struct BreaksQuery {
    status: Option<String>,
}

/// `GET /v1/reconciliations/breaks`: open breaks (or all, with their resolutions).
pub(super) async fn get_breaks(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<BreaksQuery>,
) -> ApiResult<Json<Value>> {
    may_read(&caller(&state, &headers)?)?;
    let now = crate::clock::unix_nanos();
    let breaks: Vec<Value> = match q.status.as_deref().unwrap_or("open") {
        "open" => state
            .engine
            .recon
            .open_breaks()
            .into_iter()
            .map(|b| {
                let mut v = b.entry;
                v["status"] = json!("open");
                v["age_seconds"] = json!(now.saturating_sub(b.time) / 1_000_000_000);
                v
            })
            .collect(),
        "all" => state
            .engine
            .recon
            .all_breaks()
            .into_iter()
            .map(|(mut v, resolution)| {
                v["status"] = json!(if resolution.is_some() { "resolved" } else { "open" });
                v["resolution"] = resolution.unwrap_or(Value::Null);
                v
            })
            .collect(),
        other => {
            return Err(ApiError::bad_request(
                "request_invalid",
                format!("status is open or all, not {other:?}"),
            ))
        }
    };
    Ok(Json(json!({"breaks": breaks})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Resolution {
    reason: String,
    transfer_index: Option<u64>,
}

/// `POST /v1/reconciliations/breaks/{id}/resolve`: closes a break, recorded in the log.
pub(super) async fn post_resolve(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiPath(id): ApiPath<String>,
    body: Body,
) -> ApiResult<Json<Value>> {
    let who = caller(&state, &headers)?;
    may_run(&who)?;
    let target: u64 = id.parse().map_err(|_| ApiError::not_found("break"))?;
    let bytes = super::read_json_body(&headers, body).await?;
    let r: Resolution = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request("request_malformed", format!("request body: {e}")))?;
    if r.reason.trim().is_empty() || r.reason.len() > MAX_TEXT_LEN {
        return Err(ApiError::bad_request(
            "request_invalid",
            format!("reason is required, at most {MAX_TEXT_LEN} bytes"),
        ));
    }
    let size = state.engine.view.size();
    if let Some(index) = r.transfer_index {
        let is_transfer = index < size
            && matches!(
                state.reader.decoded(index, size)?.body,
                ledgerfs_model::EntryBody::Transfer(_)
            );
        if !is_transfer {
            return Err(ApiError::bad_request(
                "request_invalid",
                format!("transfer_index {index} is not a transfer in the log (size {size})"),
            ));
        }
    }
    let log = state.engine.recon.clone();
    let name = who.name.clone();
    let reason = r.reason.clone();
    let index = tokio::task::spawn_blocking(move || {
        log.append(
            |p| p.open.check(target).map_err(AppendError::Refused),
            |first, time| {
                let mut t = String::new();
                write_resolution(&mut t, first, time, target, &name, &reason, r.transfer_index);
                vec![t]
            },
        )
    })
    .await
    .map_err(blocking_error)?
    .map_err(append_error)?;
    Ok(Json(json!({
        "break": target,
        "resolution": index,
        "by": who.name,
        "reason": r.reason,
        "transfer_index": r.transfer_index,
    })))
}

/// `/reconciliation/{path}`: the break log's tlog-tiles files, for `ledgerfs verify --url`.
pub(super) async fn recon_file(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiPath(path): ApiPath<String>,
) -> ApiResult<Response> {
    may_read(&caller(&state, &headers)?)?;
    super::sublog_file(&state, RECON_DIR, &path).map(IntoResponse::into_response)
}

#[derive(Deserialize)]
pub(super) struct ReportQuery {
    month: Option<String>,
    format: Option<String>,
    currency: Option<String>,
}

/// Whether the report is wanted as CSV (`format=csv`) or JSON (default).
fn wants_csv(format: Option<&str>) -> ApiResult<bool> {
    match format {
        None | Some("json") => Ok(false),
        Some("csv") => Ok(true),
        Some(other) => Err(ApiError::bad_request(
            "request_invalid",
            format!("format is json or csv, not {other:?}"),
        )),
    }
}

async fn month_report(
    state: &AppState,
    month: Option<String>,
) -> ApiResult<(String, Vec<report::Day>, Vec<KindTotal>)> {
    let month = month.ok_or_else(|| ApiError::bad_request("request_invalid", "give the month: ?month=YYYY-MM"))?;
    let size = state.engine.view.size();
    let reader = state.reader.clone();
    let m = month.clone();
    let found = tokio::task::spawn_blocking(move || report::month(&reader, size, &m, crate::clock::unix_nanos()))
        .await
        .map_err(blocking_error)??;
    let (days, totals) =
        found.ok_or_else(|| ApiError::bad_request("date_invalid", format!("{month:?} is not a month like 2026-11")))?;
    Ok((month, days, totals))
}

fn totals_json(rows: &[KindTotal]) -> Vec<Value> {
    rows.iter()
        .map(|t| {
            let c = t.currency;
            json!({
                "kind": t.kind.as_str(),
                "currency": c.code(),
                "accounts": t.accounts,
                "debits": format_signed(t.debits as i128, c),
                "credits": format_signed(t.credits as i128, c),
                "net_credit": format_signed(t.net_credit(), c),
            })
        })
        .collect()
}

fn csv_response(body: String) -> Response {
    ([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], body).into_response()
}

/// `GET /v1/reports/safeguarding?month=`: the monthly safeguarding return's daily figures
/// and the breakdown of balances by kind and currency at the month's (or today's) end.
pub(super) async fn get_safeguarding_return(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<ReportQuery>,
) -> ApiResult<Response> {
    may_read(&caller(&state, &headers)?)?;
    let csv = wants_csv(q.format.as_deref())?;
    let (month, days, totals) = month_report(&state, q.month).await?;
    if csv {
        return Ok(csv_response(report::return_csv(&days)));
    }
    let daily: Vec<Value> = days
        .iter()
        .map(|d| json!({"date": d.date, "positions": d.positions.iter().map(position_json).collect::<Vec<_>>()}))
        .collect();
    let shortfall_days = days
        .iter()
        .filter(|d| d.positions.iter().any(|p| p.shortfall() > 0))
        .count();
    Ok(Json(json!({
        "month": month,
        "days": daily,
        "shortfall_days": shortfall_days,
        "breakdown": totals_json(&totals),
    }))
    .into_response())
}

/// `GET /v1/reports/safeguarding.svg?month=&currency=`: the chart of requirement and
/// resource per day.
pub(super) async fn get_safeguarding_chart(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<ReportQuery>,
) -> ApiResult<Response> {
    may_read(&caller(&state, &headers)?)?;
    let code = q.currency.clone().unwrap_or_else(|| "EUR".into());
    let currency = Currency::from_code(&code)
        .ok_or_else(|| ApiError::bad_request("currency_invalid", format!("{code:?} is not an ISO 4217 code")))?;
    let (month, days, _) = month_report(&state, q.month).await?;
    let title = format!(
        "Safeguarding {} {month}: requirement and resource at each day's end",
        currency.code()
    );
    Ok((
        [(header::CONTENT_TYPE, "image/svg+xml")],
        report::chart_svg(&days, currency, &title),
    )
        .into_response())
}

#[derive(Deserialize)]
pub(super) struct LiabilitiesQuery {
    at: Option<String>,
    date: Option<String>,
    format: Option<String>,
}

/// `GET /v1/reports/liabilities`: balances by kind and currency at a cut-off.
pub(super) async fn get_liabilities(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<LiabilitiesQuery>,
) -> ApiResult<Response> {
    may_read(&caller(&state, &headers)?)?;
    let csv = wants_csv(q.format.as_deref())?;
    let size = state.engine.view.size();
    let (cut, day) = cut_off(&state, &CutQuery { at: q.at, date: q.date }, size)?;
    let (view, reader) = (state.engine.view.clone(), state.reader.clone());
    let totals = tokio::task::spawn_blocking(move || {
        let view = view.state.read().expect("view lock");
        all_holdings(&reader, &view, cut).map(breakdown)
    })
    .await
    .map_err(blocking_error)??;
    if csv {
        return Ok(csv_response(report::breakdown_csv(&totals)));
    }
    Ok(Json(json!({"at_size": cut, "date": day, "breakdown": totals_json(&totals)})).into_response())
}

#[derive(Deserialize)]
pub(super) struct StatementQuery {
    format: Option<String>,
}

/// `GET /v1/accounts/{id}/statements/{month}`: the account's statement for a calendar
/// month, CSV or JSON; a closed month is recorded once and never changes
/// (`crate::recon::statements`).
pub(super) async fn get_month_statement(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiPath((id, month)): ApiPath<(String, String)>,
    ApiQuery(q): ApiQuery<StatementQuery>,
) -> ApiResult<Response> {
    let csv = wants_csv(q.format.as_deref())?;
    let (committed, account) = super::readable_account(&state, &headers, &id)?;
    let (reader, log, m) = (state.reader.clone(), state.engine.recon.clone(), month.clone());
    let rendered = tokio::task::spawn_blocking(move || month_statement(&reader, &log, &account, committed.size, &m))
        .await
        .map_err(blocking_error)??
        .ok_or_else(|| ApiError::bad_request("date_invalid", format!("{month:?} is not a month like 2026-11")))?;
    let (body, content_type, sha) = match csv {
        true => (rendered.statement.csv, "text/csv; charset=utf-8", rendered.csv_sha256),
        false => (rendered.statement.json, "application/json", rendered.json_sha256),
    };
    let closed = rendered.closed;
    let cache = if closed {
        "private, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (header::CACHE_CONTROL, cache.to_string()),
            (header::ETAG, format!("\"{sha}\"")),
            (
                header::HeaderName::from_static("ledgerfs-statement"),
                if closed { "closed".into() } else { "open".into() },
            ),
        ],
        body,
    )
        .into_response())
}
