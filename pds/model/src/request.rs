//! Parsing of API request bodies into events. One object or an array of objects; unknown
//! fields, wrong JSON types and oversized batches are request-level errors (nothing is
//! sequenced). Everything about a field's *value* is left to the sequencer, which
//! reports it per event with a result code.

use crate::event::INVALID_TIME;
use crate::time::parse_rfc3339;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;
use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::event::{Event, NewAccount, NewTransfer};
use crate::limits::MAX_BATCH_EVENTS;

/// Why a whole request body was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RequestError {
    /// Not well-formed JSON.
    Malformed(String),
    /// Well-formed, but not the documented shape (unknown field, wrong type, missing field).
    Invalid(String),
    /// More events than one batch may carry.
    BatchTooLarge(usize),
    /// An empty array.
    BatchEmpty,
}

impl RequestError {
    /// Stable code for the API's error body.
    pub fn code(&self) -> &'static str {
        match self {
            RequestError::Malformed(_) => "request_malformed",
            RequestError::Invalid(_) => "request_invalid",
            RequestError::BatchTooLarge(_) => "batch_too_large",
            RequestError::BatchEmpty => "batch_empty",
        }
    }
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestError::Malformed(m) => write!(f, "request body is not valid JSON: {m}"),
            RequestError::Invalid(m) => write!(f, "{m}"),
            RequestError::BatchTooLarge(n) => {
                write!(f, "a batch holds at most {MAX_BATCH_EVENTS} events, this one has {n}")
            }
            RequestError::BatchEmpty => f.write_str("the batch is empty"),
        }
    }
}

fn default_kind() -> String {
    "customer".to_string()
}

fn empty_object() -> serde_json::Map<String, serde_json::Value> {
    serde_json::Map::new()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AccountJson {
    id: String,
    currency: String,
    #[serde(default = "default_kind")]
    kind: String,
    #[serde(default)]
    flags: Vec<String>,
    #[serde(default = "empty_object")]
    metadata: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    linked: bool,
    #[serde(default, deserialize_with = "present_string")]
    time: Option<String>,
}

/// An imported event's `time`: any RFC 3339 date-time (a request that is not one is
/// malformed: 400), converted to UTC; [`INVALID_TIME`] for a valid one the log cannot hold
/// (before 1970), so that event alone is refused (`time_invalid`).
fn event_time(time: Option<String>, what: &str, i: usize, count: usize) -> Result<u64, RequestError> {
    let Some(text) = time else { return Ok(0) };
    match parse_rfc3339(&text) {
        Ok(Some(t)) if t > 0 && t < INVALID_TIME => Ok(t),
        Ok(_) => Ok(INVALID_TIME),
        Err(_) => Err(RequestError::Invalid(match count {
            1 => format!("`time` is not an RFC 3339 date-time: {text:?}"),
            _ => format!("{what} {i}: `time` is not an RFC 3339 date-time: {text:?}"),
        })),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TransferJson {
    id: String,
    #[serde(default, deserialize_with = "present_string")]
    debit: Option<String>,
    #[serde(default, deserialize_with = "present_string")]
    credit: Option<String>,
    #[serde(default, deserialize_with = "present_string")]
    amount: Option<String>,
    #[serde(default, deserialize_with = "present_string")]
    currency: Option<String>,
    #[serde(default)]
    reference: String,
    #[serde(default = "empty_object")]
    metadata: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    linked: bool,
    #[serde(default)]
    flags: Vec<String>,
    #[serde(default, deserialize_with = "present_string")]
    pending_id: Option<String>,
    /// Seconds (TigerBeetle's u32): larger values are refused as malformed.
    #[serde(default)]
    timeout: u32,
    #[serde(default, deserialize_with = "present_string")]
    time: Option<String>,
}

/// A field that may be absent but, when present, must be a string (not `null`).
fn present_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    String::deserialize(d).map(Some)
}

fn metadata_text(value: &serde_json::Map<String, serde_json::Value>) -> String {
    serde_json::to_string(value).expect("a parsed JSON value serialises")
}

/// Parses `POST /v1/accounts`: one account object or an array of them.
pub fn parse_accounts(body: &[u8]) -> Result<Vec<Event>, RequestError> {
    let accounts = parse_batch::<AccountJson>(body, "account")?;
    let count = accounts.len();
    accounts
        .into_iter()
        .enumerate()
        .map(|(i, a)| {
            Ok(Event::Account(NewAccount {
                time: event_time(a.time, "account", i, count)?,
                id: a.id,
                currency: a.currency,
                kind: a.kind,
                flags: a.flags,
                metadata: metadata_text(&a.metadata),
                linked: a.linked,
            }))
        })
        .collect()
}

/// Parses `POST /v1/transfers`: one transfer object or an array of them. `debit`,
/// `credit`, `amount` and `currency` are required, except on a resolution (one with a
/// `pending_id`: `post_pending`/`void_pending`), which takes them from the pending
/// transfer when they are omitted.
pub fn parse_transfers(body: &[u8]) -> Result<Vec<Event>, RequestError> {
    let transfers = parse_batch::<TransferJson>(body, "transfer")?;
    let count = transfers.len();
    let mut events = Vec::with_capacity(count);
    for (i, t) in transfers.into_iter().enumerate() {
        // A resolution (it names a `pending_id`) takes what it omits from the pending
        // transfer; whether its flags fit is answered per event.
        let resolves = t.pending_id.is_some();
        let field = |value: Option<String>, name: &str| match value {
            Some(v) => Ok(v),
            None if resolves => Ok(String::new()),
            None => Err(RequestError::Invalid(match count {
                1 => format!("missing field `{name}`"),
                _ => format!("transfer {i}: missing field `{name}`"),
            })),
        };
        events.push(Event::Transfer(NewTransfer {
            debit: field(t.debit, "debit")?,
            credit: field(t.credit, "credit")?,
            amount: field(t.amount, "amount")?,
            currency: field(t.currency, "currency")?,
            id: t.id,
            reference: t.reference,
            metadata: metadata_text(&t.metadata),
            linked: t.linked,
            flags: t.flags,
            pending_id: t.pending_id.unwrap_or_default(),
            timeout: u64::from(t.timeout),
            time: event_time(t.time, "transfer", i, count)?,
        }));
    }
    Ok(events)
}

fn parse_batch<T: DeserializeOwned>(body: &[u8], what: &str) -> Result<Vec<T>, RequestError> {
    let first = body.iter().copied().find(|b| !b.is_ascii_whitespace());
    let items: Vec<T> = if first == Some(b'[') {
        // Fast path: straight into the typed structs; on failure, find the culprit.
        serde_json::from_slice(body).map_err(|e| explain(body, what, e))?
    } else {
        let one: T = serde_json::from_slice(body).map_err(|e| explain(body, what, e))?;
        alloc::vec![one]
    };
    if items.is_empty() {
        return Err(RequestError::BatchEmpty);
    }
    if items.len() > MAX_BATCH_EVENTS {
        return Err(RequestError::BatchTooLarge(items.len()));
    }
    Ok(items)
}

/// Turns a serde error into a message naming the offending event, when it can.
fn explain(body: &[u8], what: &str, error: serde_json::Error) -> RequestError {
    use serde_json::error::Category;
    match error.classify() {
        Category::Syntax | Category::Eof | Category::Io => RequestError::Malformed(error.to_string()),
        Category::Data => {
            let hint = match serde_json::from_slice::<serde_json::Value>(body) {
                Ok(serde_json::Value::Array(items)) => {
                    if items.len() > MAX_BATCH_EVENTS {
                        return RequestError::BatchTooLarge(items.len());
                    }
                    items
                        .iter()
                        .position(|item| !item.is_object() || item_error(item, what).is_some())
                        .map(|i| format!("{what} {i}: "))
                }
                _ => None,
            };
            let message = clean_message(&strip_position(&error.to_string()), what);
            // The amount hint only where it applies: a number where a string belongs.
            let number_for_string = message.contains("expected a string")
                && (message.contains("integer") || message.contains("floating point"));
            let amount_hint = if number_for_string {
                "; amounts are decimal strings such as \"10.50\""
            } else {
                ""
            };
            RequestError::Invalid(format!("{}{message}{amount_hint}", hint.unwrap_or_default()))
        }
    }
}

fn item_error(item: &serde_json::Value, what: &str) -> Option<()> {
    let ok = if what == "account" {
        serde_json::from_value::<AccountJson>(item.clone()).is_ok()
    } else {
        serde_json::from_value::<TransferJson>(item.clone()).is_ok()
    };
    (!ok).then_some(())
}

/// Serde names the internal structs (`struct TransferJson`); say what the client sent.
fn clean_message(message: &str, what: &str) -> String {
    let object = if what == "account" {
        "an account object"
    } else {
        "a transfer object"
    };
    message
        .replace("struct AccountJson", object)
        .replace("struct TransferJson", object)
        .replace("expected a map", "expected a JSON object (metadata is an object)")
}

fn strip_position(message: &str) -> String {
    match message.find(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_must_be_an_object_or_the_request_is_invalid() {
        let err =
            parse_transfers(br#"{"id":"t","debit":"a","credit":"b","amount":"1","currency":"EUR","metadata":[1]}"#)
                .unwrap_err();
        assert_eq!(err.code(), "request_invalid");
        assert!(err.to_string().contains("metadata is an object"), "{err}");
        let ok = parse_accounts(br#"{"id":"a","currency":"EUR","metadata":{"b":1,"a":2}}"#).unwrap();
        let Event::Account(a) = &ok[0] else { panic!() };
        assert_eq!(a.metadata, r#"{"a":2,"b":1}"#);
    }

    #[test]
    fn a_resolution_may_omit_what_the_pending_transfer_says_and_nothing_may_be_null() {
        let post = parse_transfers(br#"{"id":"c","pending_id":"p","flags":["post_pending"]}"#).unwrap();
        let Event::Transfer(t) = &post[0] else { panic!() };
        assert_eq!(
            (t.debit.as_str(), t.amount.as_str(), t.pending_id.as_str()),
            ("", "", "p")
        );
        let plain = parse_transfers(br#"[{"id":"t","debit":"a","credit":"b","currency":"EUR"}]"#).unwrap_err();
        assert_eq!(plain.to_string(), "missing field `amount`");
        let null = parse_transfers(br#"{"id":"c","pending_id":"p","flags":["post_pending"],"amount":null}"#);
        assert_eq!(null.unwrap_err().code(), "request_invalid");
    }

    #[test]
    fn one_or_many() {
        let one = parse_transfers(br#"{"id":"t","debit":"a","credit":"b","amount":"1.00","currency":"EUR"}"#).unwrap();
        assert_eq!(one.len(), 1);
        let Event::Transfer(t) = &one[0] else { panic!() };
        assert_eq!(t.metadata, "{}");
        assert!(!t.linked);
        let many = parse_accounts(
            br#"[{"id":"a","currency":"EUR"},{"id":"b","currency":"EUR","kind":"safeguarding","linked":true}]"#,
        )
        .unwrap();
        assert_eq!(many.len(), 2);
        assert!(many[1].linked());
    }

    #[test]
    fn refusals() {
        assert_eq!(parse_accounts(b"{").unwrap_err().code(), "request_malformed");
        assert_eq!(parse_accounts(b"[]").unwrap_err(), RequestError::BatchEmpty);
        let unknown =
            parse_accounts(br#"[{"id":"a","currency":"EUR"},{"id":"b","currency":"EUR","colour":"red"}]"#).unwrap_err();
        assert_eq!(unknown.code(), "request_invalid");
        assert!(
            unknown.to_string().starts_with("account 1: unknown field `colour`"),
            "{unknown}"
        );
        assert!(!unknown.to_string().contains("amounts are"), "{unknown}");
        let float =
            parse_transfers(br#"{"id":"t","debit":"a","credit":"b","amount":1.5,"currency":"EUR"}"#).unwrap_err();
        assert_eq!(float.code(), "request_invalid");
        assert!(
            float
                .to_string()
                .ends_with("amounts are decimal strings such as \"10.50\""),
            "{float}"
        );
        for body in [&br#"[1]"#[..], br#""text""#, br#"[{"id":"t"}]"#] {
            let e = parse_transfers(body).unwrap_err().to_string();
            assert!(!e.contains("TransferJson") && !e.contains("amounts are"), "{e}");
        }
        let e = parse_accounts(br#"[7]"#).unwrap_err().to_string();
        assert!(e.contains("an account object") && !e.contains("AccountJson"), "{e}");
        let too_many = alloc::format!(
            "[{}]",
            alloc::vec![r#"{"id":"a","currency":"EUR"}"#; MAX_BATCH_EVENTS + 1].join(",")
        );
        assert_eq!(
            parse_accounts(too_many.as_bytes()).unwrap_err(),
            RequestError::BatchTooLarge(MAX_BATCH_EVENTS + 1)
        );
    }
}
