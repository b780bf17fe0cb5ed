//! The console commands: `accounts JSON`, `transfers JSON` (the HTTP API's request
//! bodies, parsed by ledgerfs-model), `balance ID`, `checkpoint`, `status`, `snapshot`, `log PATH`
//! (a file of the published tree) and `bench N`,
//! each answered with one JSON line.
//! Every ledger rule is the sequencer core's; this module only parses and renders.
//!
//! Must never: change ledger state except through `Sequencer::execute`.
//!
//! Durability: a command that produced entries answers with [`Outcome::Commit`]; the PD
//! hands the entries to the tiles PD and sends the reply (and calls `mark_durable`) only
//! once tiles reports them durable.

use alloc::string::String;
use core::fmt::Write as _;

use ledgerfs_model::json::write_string;
use ledgerfs_model::request::{parse_accounts, parse_transfers};
use ledgerfs_model::time::UnixNanos;
use ledgerfs_sequencer::{EntryBuffer, ResultsShape, Sequencer, write_balance_json, write_results_json};

/// What a command line asks of the PD.
pub enum Outcome {
    /// Send this reply now.
    Reply(String),
    /// Make `entries` durable (tiles), then send this reply.
    Commit(String),
    /// Ask tiles for the current signed checkpoint and print it.
    Checkpoint,
    /// Report the PD's state (`status`).
    Status,
    /// Store a snapshot of the state now (`snapshot`), so the next boot replays nothing.
    Snapshot,
    /// Run the in-image throughput benchmark with this many transfers (`bench N`).
    Bench(u64),
    /// Read this file of the published tree (`log PATH`, the network PD's `/log/PATH`).
    Log(String),
}

/// Runs one command line against the ledger.
pub fn run(seq: &mut Sequencer, entries: &mut EntryBuffer, line: &[u8], now: UnixNanos) -> Outcome {
    let line = line.trim_ascii();
    let (verb, rest) = match line.iter().position(|&b| b == b' ') {
        Some(i) => (&line[..i], line[i + 1..].trim_ascii()),
        None => (line, &b""[..]),
    };
    let events = match verb {
        b"accounts" => parse_accounts(rest),
        b"transfers" => parse_transfers(rest),
        b"balance" => return Outcome::Reply(balance(seq, rest)),
        b"checkpoint" if rest.is_empty() => return Outcome::Checkpoint,
        b"status" if rest.is_empty() => return Outcome::Status,
        b"snapshot" if rest.is_empty() => return Outcome::Snapshot,
        b"log" if !rest.is_empty() => {
            return match core::str::from_utf8(rest) {
                Ok(path) => Outcome::Log(String::from(path)),
                Err(_) => Outcome::Reply(error("not_found", "no such log file")),
            };
        }
        b"bench" => {
            return match core::str::from_utf8(rest).ok().and_then(|n| n.parse::<u64>().ok()) {
                Some(n) if (1..=crate::bench::MAX_TRANSFERS).contains(&n) => Outcome::Bench(n),
                _ => Outcome::Reply(error("request_invalid", "bench N: N transfers, 1..=1000000")),
            };
        }
        _ => {
            return Outcome::Reply(error(
                "command_unknown",
                "commands: accounts JSON | transfers JSON | balance ID | checkpoint | status | snapshot | log PATH | bench N",
            ));
        }
    };
    let events = match events {
        Ok(events) => events,
        Err(e) => return Outcome::Reply(error(e.code(), &alloc::format!("{e}"))),
    };
    let mut results = alloc::vec::Vec::with_capacity(events.len());
    entries.clear();
    seq.execute(&events, now, &mut results, entries);
    let mut out = String::from("{\"results\":");
    let accepted = write_results_json(&mut out, events.iter().map(|e| e.id()), &results, ResultsShape::All);
    let rejected = results.len() - accepted;
    write!(
        out,
        ",\"accepted\":{accepted},\"rejected\":{rejected},\"size\":{}}}",
        seq.next_index()
    )
    .expect("String write");
    if entries.is_empty() {
        Outcome::Reply(out)
    } else {
        Outcome::Commit(out)
    }
}

/// `{"checkpoint":NOTE}`: the signed checkpoint note as one JSON string.
pub fn checkpoint(note: &[u8]) -> String {
    let mut out = String::from("{\"checkpoint\":");
    write_string(&mut out, &String::from_utf8_lossy(note));
    out.push('}');
    out
}

/// `{"id","currency","kind","flags","metadata","balance":{...},"as_of_size"}` of one account (the balance object
/// is the core's, the one the daemon's API answers too).
fn balance(seq: &Sequencer, id: &[u8]) -> String {
    let Some(a) = core::str::from_utf8(id).ok().and_then(|id| seq.account(id)) else {
        return error("not_found", "no such account");
    };
    let c = a.record.currency;
    let mut out = String::from("{\"id\":");
    write_string(&mut out, &a.record.id);
    write!(
        out,
        ",\"currency\":\"{}\",\"kind\":\"{}\",\"flags\":[",
        c.code(),
        a.record.kind.as_str()
    )
    .expect("String write");
    for (i, flag) in a.record.flags.names().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_string(&mut out, flag);
    }
    out.push_str("],\"metadata\":");
    // Canonical metadata is JSON text already (the log's own form).
    out.push_str(if a.record.metadata.is_empty() {
        "null"
    } else {
        &a.record.metadata
    });
    out.push_str(",\"balance\":");
    write_balance_json(&mut out, &a.balance, c, a.record.flags);
    write!(out, ",\"as_of_size\":{}}}", seq.next_index()).expect("String write");
    out
}

/// The API's error body (ledgerfs-http's, the one the network PD answers with too).
pub fn error(code: &str, message: &str) -> String {
    ledgerfs_http::response::error_body(code, message)
}
