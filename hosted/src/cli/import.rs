//! `ledgerfs import FILE`: migrates accounts and transfers from the system being replaced
//! through the public API, in batches, with a progress line, resumable after any failure.
//!
//! Input: JSON lines (one object per line, `"type":"account"` or `"transfer"`, the API's
//! fields; a LedgerFS entry line works as is: its `v` and `index` are dropped) or CSV with
//! a header row (`.csv`, or `--format csv`): columns named like the API's fields plus
//! `type`; `flags` holds names separated by `|`, `metadata` a JSON object, `linked` and
//! `timeout` their values; empty cells are left out. `--imported` marks every event
//! `imported` so it keeps its `time` (the original timestamp: strictly increasing, never in
//! the future, after the log's last entry).
//!
//! Consecutive lines of one type go in one batch (`--batch`, default 1,000). A batch whose
//! events are all `ok` or `exists` moves on; the first refusal stops the import with its
//! line number and code, everything before it recorded. Ids make a rerun idempotent: what
//! was recorded answers `exists`, so running the same file again after fixing the line
//! resumes where it stopped.
//!
//! Must never: reorder events (later ones may depend on earlier ones), or go past a refused
//! event.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::time::Instant;

use serde_json::{Map, Value};

use ledgerfs_model::AccountFlags;

use crate::cli::client::Client;
use crate::error::{Error, Result};

/// How the input file is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// One JSON object per line.
    JsonLines,
    /// RFC 4180 CSV with a header row.
    Csv,
}

impl Format {
    /// `csv` for a `.csv` file, else JSON lines.
    pub fn of(path: &Path) -> Format {
        match path.extension().and_then(|e| e.to_str()) {
            Some(e) if e.eq_ignore_ascii_case("csv") => Format::Csv,
            _ => Format::JsonLines,
        }
    }
}

/// What an import did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Events read.
    pub events: u64,
    /// Recorded now.
    pub ok: u64,
    /// Already recorded (a rerun).
    pub exists: u64,
}

/// The flag that keeps an event's own time.
const IMPORTED: &str = AccountFlags::IMPORTED;

/// One event to send: its line number, whether it is an account, and its API object.
struct Line {
    number: u64,
    account: bool,
    object: Map<String, Value>,
}

/// Imports `path` through `client`.
pub fn run(client: &Client, path: &Path, format: Format, batch: usize, imported: bool) -> Result<Summary> {
    let file = std::fs::File::open(path).map_err(|e| Error::Client(format!("{}: {e}", path.display())))?;
    let total = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let mut reader = std::io::BufReader::new(file);
    let mut progress = Progress::new(total);
    let mut summary = Summary::default();
    let mut header: Option<Vec<String>> = None;
    let mut pending: Vec<Line> = Vec::new();
    let mut number = 0u64;
    let mut read = 0u64;
    let mut text = String::new();
    loop {
        text.clear();
        let n = reader
            .read_line(&mut text)
            .map_err(|e| Error::Client(format!("{}: {e}", path.display())))?;
        if n == 0 {
            break;
        }
        number += 1;
        read += n as u64;
        // A CSV field may hold a line break inside quotes: read on until it closes.
        while format == Format::Csv && text.matches('"').count() % 2 == 1 {
            let more = reader
                .read_line(&mut text)
                .map_err(|e| Error::Client(format!("{}: {e}", path.display())))?;
            if more == 0 {
                return Err(bad_line(number, "an unterminated quoted field"));
            }
            read += more as u64;
        }
        let trimmed = text.trim_end_matches(['\r', '\n']);
        if trimmed.trim().is_empty() {
            continue;
        }
        let object = match format {
            Format::JsonLines => json_object(trimmed).map_err(|why| bad_line(number, &why))?,
            Format::Csv => {
                let fields = csv_fields(trimmed).map_err(|why| bad_line(number, &why))?;
                match &header {
                    None => {
                        header = Some(fields);
                        continue;
                    }
                    Some(names) => csv_object(names, fields).map_err(|why| bad_line(number, &why))?,
                }
            }
        };
        let line = event(number, object, imported).map_err(|why| bad_line(number, &why))?;
        if pending.first().is_some_and(|first| first.account != line.account) || pending.len() >= batch {
            send(client, &mut pending, &mut summary)?;
            progress.show(read, &summary);
        }
        pending.push(line);
    }
    send(client, &mut pending, &mut summary)?;
    progress.show(read, &summary);
    progress.done();
    Ok(summary)
}

fn bad_line(number: u64, why: &str) -> Error {
    Error::Client(format!("line {number}: {why}; nothing from this line on was sent"))
}

/// A JSON line's object.
fn json_object(text: &str) -> std::result::Result<Map<String, Value>, String> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err("not a JSON object".into()),
        Err(e) => Err(format!("not JSON ({e})")),
    }
}

/// The fields of one CSV record (RFC 4180: `"` quotes, `""` inside quotes is a quote).
fn csv_fields(text: &str) -> std::result::Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') if field.is_empty() => quoted = true,
            (false, ',') => fields.push(std::mem::take(&mut field)),
            (false, '"') => return Err("a quote inside an unquoted field".into()),
            (false, c) => field.push(c),
        }
    }
    if quoted {
        return Err("an unterminated quoted field".into());
    }
    fields.push(field);
    Ok(fields)
}

/// A CSV record as the API's object: named by the header, empty cells left out.
fn csv_object(names: &[String], fields: Vec<String>) -> std::result::Result<Map<String, Value>, String> {
    if fields.len() != names.len() {
        return Err(format!("{} fields where the header has {}", fields.len(), names.len()));
    }
    let mut object = Map::new();
    for (name, field) in names.iter().zip(fields) {
        if field.is_empty() {
            continue;
        }
        let value = match name.as_str() {
            "flags" => Value::Array(field.split('|').map(|f| Value::String(f.trim().into())).collect()),
            "metadata" => serde_json::from_str(&field).map_err(|e| format!("metadata is not JSON ({e})"))?,
            "linked" => Value::Bool(match field.as_str() {
                "true" => true,
                "false" => false,
                _ => return Err(format!("linked is {field:?}, not true or false")),
            }),
            "timeout" => Value::Number(
                field
                    .parse::<u64>()
                    .map_err(|_| format!("timeout is {field:?}"))?
                    .into(),
            ),
            _ => Value::String(field),
        };
        object.insert(name.trim().to_string(), value);
    }
    Ok(object)
}

/// One input object as an API event: its type taken off, an entry line's `v` and `index`
/// dropped, and with `imported` the flag added (its `time` is then required).
fn event(number: u64, mut object: Map<String, Value>, imported: bool) -> std::result::Result<Line, String> {
    let account = match object.remove("type").as_ref().and_then(Value::as_str) {
        Some("account") => true,
        Some("transfer") => false,
        Some(other) => return Err(format!("type {other:?} is neither account nor transfer")),
        None => return Err("no \"type\" (account or transfer)".into()),
    };
    object.remove("v");
    object.remove("index");
    if imported {
        if !object.contains_key("time") {
            return Err("--imported needs a \"time\" on every line".into());
        }
        let flags = object.entry("flags").or_insert_with(|| Value::Array(Vec::new()));
        match flags {
            Value::Array(list) if !list.iter().any(|f| f == IMPORTED) => list.push(IMPORTED.into()),
            Value::Array(_) => {}
            _ => return Err("flags is not a list".into()),
        }
    }
    Ok(Line {
        number,
        account,
        object,
    })
}

/// Sends the batch in `pending` (emptied); the first refused event stops the import.
fn send(client: &Client, pending: &mut Vec<Line>, summary: &mut Summary) -> Result<()> {
    if pending.is_empty() {
        return Ok(());
    }
    let path = if pending[0].account {
        "/v1/accounts"
    } else {
        "/v1/transfers"
    };
    let body = Value::Array(pending.iter().map(|l| Value::Object(l.object.clone())).collect());
    let reply = client.post(path, &body).map_err(|e| {
        Error::Client(format!(
            "lines {}..={}: {e}; every line before {} is recorded: fix and run the import again",
            pending[0].number,
            pending[pending.len() - 1].number,
            pending[0].number
        ))
    })?;
    let results = reply["results"].as_array().cloned().unwrap_or_default();
    if results.len() != pending.len() {
        return Err(Error::Client(format!(
            "the daemon answered {} results for {} events",
            results.len(),
            pending.len()
        )));
    }
    for (line, result) in pending.iter().zip(&results) {
        summary.events += 1;
        match result["code"].as_str() {
            Some("ok") => summary.ok += 1,
            Some("exists") => summary.exists += 1,
            code => {
                let message = result["message"].as_str().unwrap_or("");
                return Err(Error::Client(format!(
                    "line {}: {} ({message}); every line before it is recorded: fix it and run the import again",
                    line.number,
                    code.unwrap_or("refused"),
                )));
            }
        }
    }
    pending.clear();
    Ok(())
}

/// The progress line on stderr: a bar on a terminal, a line every few seconds otherwise.
struct Progress {
    total: u64,
    started: Instant,
    last: Instant,
    terminal: bool,
}

impl Progress {
    fn new(total: u64) -> Progress {
        Progress {
            total,
            started: Instant::now(),
            last: Instant::now(),
            terminal: std::io::stderr().is_terminal(),
        }
    }

    fn show(&mut self, read: u64, s: &Summary) {
        let wait = if self.terminal { 0.1 } else { 5.0 };
        if self.last.elapsed().as_secs_f64() < wait {
            return;
        }
        self.last = Instant::now();
        let share = if self.total == 0 {
            1.0
        } else {
            read as f64 / self.total as f64
        };
        let filled = (share * 30.0).round() as usize;
        let rate = s.events as f64 / self.started.elapsed().as_secs_f64().max(1e-3);
        let text = format!(
            "[{}{}] {:>3.0}%  {} events ({} new, {} already there), {:.0}/s",
            "#".repeat(filled.min(30)),
            " ".repeat(30 - filled.min(30)),
            share * 100.0,
            s.events,
            s.ok,
            s.exists,
            rate
        );
        let mut err = std::io::stderr();
        let _ = if self.terminal {
            write!(err, "\r{text}")
        } else {
            writeln!(err, "{text}")
        };
    }

    fn done(&self) {
        if self.terminal {
            let _ = writeln!(std::io::stderr());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_records_follow_rfc_4180() {
        assert_eq!(csv_fields("a,b,,c").unwrap(), ["a", "b", "", "c"]);
        assert_eq!(
            csv_fields(r#""x, y","say ""hi""",z"#).unwrap(),
            ["x, y", "say \"hi\"", "z"]
        );
        assert!(csv_fields(r#""open"#).is_err());
        assert!(csv_fields(r#"a"b"#).is_err());
        let names: Vec<String> = ["type", "id", "flags", "metadata", "linked", "reference"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let o = csv_object(
            &names,
            csv_fields(r#"transfer,t1,pending|imported,"{""a"":1}",true,"#).unwrap(),
        )
        .unwrap();
        assert_eq!(
            Value::Object(o),
            serde_json::json!({"type":"transfer","id":"t1","flags":["pending","imported"],"metadata":{"a":1},"linked":true})
        );
        assert!(csv_object(&names, vec!["x".into()]).is_err());
    }

    #[test]
    fn entry_lines_become_api_events() {
        let entry = r#"{"v":2,"index":4,"time":"2026-01-01T00:00:00Z","type":"transfer","id":"t","debit":"a","credit":"b","amount":"1.00","currency":"EUR","reference":"","metadata":{},"linked":false}"#;
        let line = event(7, json_object(entry).unwrap(), true).unwrap();
        assert!(!line.account);
        assert!(!line.object.contains_key("v") && !line.object.contains_key("index"));
        assert_eq!(line.object["flags"], serde_json::json!(["imported"]));
        let no_time = json_object(r#"{"type":"account","id":"a","currency":"EUR"}"#).unwrap();
        assert!(event(1, no_time.clone(), true).is_err());
        assert!(event(1, no_time, false).unwrap().account);
        assert!(event(1, json_object(r#"{"id":"a"}"#).unwrap(), false).is_err());
    }
}
