//! `ledgerfs appliance` against a tiny fake appliance: a unix-socket server thread that
//! behaves like the console QEMU exposes (`-serial unix:PATH,server=on,wait=off`): it
//! echoes each typed line, prints a debug line that is not JSON, then answers with one
//! JSON line (tagged with the command's id, as the console protocol says), sometimes split
//! across writes. Checks what the CLI sends, prints and exits with, including error
//! replies, a late reply to an earlier command (discarded), a silent appliance (timeout)
//! and no appliance.

mod support;

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::*;

const NOTE: &str = "e2e.test/log\n5\nV2hhdGV2ZXIgdGhlIHJvb3QgaXMsIDMyIGJ5dGVzLiE=\n\n\u{2014} e2e.test/log AbCdEf==\n";

/// The reply the fake gives to one command line; `None`: it never answers.
fn reply(line: &str) -> Option<String> {
    let reply = match line {
        "balance alice" => json!({"id":"alice","currency":"EUR",
            "balance":{"debits":"40.50","credits":"100.00","net":"59.50"},"as_of_size":5}),
        "balance nobody" => json!({"error":{"code":"not_found","message":"no such account"}}),
        "busy" => json!({"error":{"code":"busy"}}),
        "checkpoint" => json!({ "checkpoint": NOTE }),
        "status" => json!({"size":5,"ready_ms":812}),
        "hang" => return None,
        "garbage" => return Some("{not json".into()),
        _ if line.starts_with("bench ") => {
            json!({"transfers": line[6..].parse::<u64>().unwrap(), "transfers_per_s": 12345.5})
        }
        _ => json!({ "received": line }),
    };
    Some(reply.to_string())
}

/// A reply the fake still owes to a command that timed out, sent before the next one's.
static LATE: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);

/// Serves one console connection until the client goes away.
fn serve(mut stream: UnixStream) {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while let Ok(1) = stream.read(&mut byte) {
        if byte[0] != b'\r' && byte[0] != b'\n' {
            line.push(byte[0]);
            continue;
        }
        if line.is_empty() {
            continue;
        }
        let typed = String::from_utf8(std::mem::take(&mut line)).unwrap();
        // The console echoes what was typed, then the PDs' own output interleaves.
        let _ = stream.write_all(format!("{typed}\ntiles: commit at 5 (debug noise)\r\n").as_bytes());
        // `@ID command`: the reply carries `"command_id":"ID"` first (the console protocol).
        let (id, text) = match typed.strip_prefix('@').and_then(|t| t.split_once(' ')) {
            Some((id, text)) => (Some(id.to_string()), text.to_string()),
            None => (None, typed.clone()),
        };
        let tag = |reply: String| match &id {
            Some(id) => format!("{{\"command_id\":\"{id}\",{}", &reply[1..]),
            None => reply,
        };
        // A reply still owed to an earlier command (one that timed out) comes first.
        if let Some(late) = LATE.lock().unwrap().take() {
            let _ = stream.write_all(format!("{late}\r\n").as_bytes());
        }
        if text == "late" {
            *LATE.lock().unwrap() = Some(tag(json!({"balance":{"net":"LATE"}}).to_string()));
            continue;
        }
        if let Some(reply) = reply(&text).map(tag) {
            let (a, b) = reply.split_at(reply.len() / 2);
            let _ = stream.write_all(a.as_bytes());
            std::thread::sleep(Duration::from_millis(20));
            let _ = stream.write_all(format!("{b}\r\n").as_bytes());
        }
    }
}

/// Starts the fake appliance; returns its socket path.
fn fake_appliance(dir: &Path) -> PathBuf {
    let socket = dir.join("console.sock");
    let listener = UnixListener::bind(&socket).unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || serve(stream));
        }
    });
    socket
}

/// `ledgerfs appliance --serial SOCKET ARGS…`.
fn appliance(socket: &Path, args: &[&str]) -> (bool, String, String) {
    let mut all = vec!["appliance", "--serial", socket.to_str().unwrap()];
    all.extend_from_slice(args);
    run(&all)
}

fn json_out(stdout: &str) -> Value {
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
}

#[test]
fn replies_are_printed_and_errors_exit_non_zero() {
    let dir = temp_dir("appliance");
    let socket = fake_appliance(&dir);

    // A reply: pretty JSON on stdout, the console's other lines nowhere.
    let (ok, stdout, stderr) = appliance(&socket, &["balance", "alice"]);
    assert!(ok, "{stderr}");
    assert_eq!(json_out(&stdout)["balance"]["net"], "59.50");
    assert!(stdout.contains("\n  "), "pretty-printed: {stdout}");
    assert!(stderr.is_empty(), "{stderr}");

    // --verbose: the echo and the debug line go to stderr; --raw: the line as received.
    let (ok, stdout, stderr) = appliance(&socket, &["--verbose", "--raw", "status"]);
    assert!(ok, "{stderr}");
    assert_eq!(stdout, format!("{}\n", reply("status").unwrap()));
    assert!(stderr.contains("tiles: commit at 5 (debug noise)"), "{stderr}");
    assert!(
        stderr.lines().any(|l| l.starts_with('@') && l.ends_with(" status")),
        "the echo, with its command id: {stderr}"
    );

    // The checkpoint prints as the signed note text.
    let (ok, stdout, _) = appliance(&socket, &["checkpoint"]);
    assert!(ok);
    assert_eq!(stdout, NOTE);

    let (ok, stdout, _) = appliance(&socket, &["bench", "1000"]);
    assert!(ok);
    assert_eq!(json_out(&stdout)["transfers"], 1000);

    // An error reply: printed, and exit status 1 with the code on stderr.
    let (ok, stdout, stderr) = appliance(&socket, &["balance", "nobody"]);
    assert!(!ok);
    assert_eq!(json_out(&stdout)["error"]["code"], "not_found");
    assert!(
        stderr.contains("error[appliance_error]: the appliance answered not_found: no such account"),
        "{stderr}"
    );
    let (ok, _, stderr) = appliance(&socket, &["raw", "busy"]);
    assert!(!ok && stderr.contains("answered busy"), "{stderr}");

    // A line starting with `{` that is not JSON is not a reply to trust.
    let (ok, _, stderr) = appliance(&socket, &["raw", "garbage"]);
    assert!(!ok && stderr.contains("not valid JSON"), "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn commands_are_sent_as_one_line() {
    let dir = temp_dir("appliance-send");
    let socket = fake_appliance(&dir);
    let received = |args: &[&str]| {
        let (ok, stdout, stderr) = appliance(&socket, args);
        assert!(ok, "{args:?}: {stderr}");
        json_out(&stdout)["received"].as_str().unwrap().to_string()
    };

    // JSON across lines becomes one line with the same meaning.
    let line = received(&["accounts", "[\n {\"id\": \"alice\",\n  \"currency\": \"EUR\"}\n]\n"]);
    assert_eq!(line, "accounts [  {\"id\": \"alice\",   \"currency\": \"EUR\"} ]");

    // Shortcuts build the API's JSON from flags.
    let line = received(&[
        "account",
        "create",
        "alice",
        "--currency",
        "EUR",
        "--flag",
        "debits_must_not_exceed_credits",
    ]);
    let body: Value = serde_json::from_str(line.strip_prefix("accounts ").unwrap()).unwrap();
    assert_eq!(
        body,
        json!({"id":"alice","currency":"EUR","kind":"customer","flags":["debits_must_not_exceed_credits"]})
    );
    let line = received(&[
        "transfer",
        "--id",
        "t1",
        "--debit",
        "a",
        "--credit",
        "b",
        "--amount",
        "1.50",
        "--currency",
        "EUR",
    ]);
    let body: Value = serde_json::from_str(line.strip_prefix("transfers ").unwrap()).unwrap();
    assert_eq!(body["amount"], "1.50");
    assert_eq!(body["reference"], "");

    // raw: anything, as is; a command that itself starts with `{` is not mistaken for
    // its own echo.
    assert_eq!(received(&["raw", "accounts", "--not-a-flag"]), "accounts --not-a-flag");
    assert_eq!(received(&["raw", "{\"x\":1}"]), "{\"x\":1}");

    // `-` reads the JSON from stdin.
    let mut child = Command::new(bin())
        .args(["appliance", "--serial", socket.to_str().unwrap(), "transfers", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"{\"id\":\"t9\",\n\"amount\":\"2.00\"}\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        json_out(&stdout)["received"],
        "transfers {\"id\":\"t9\", \"amount\":\"2.00\"}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_silent_or_missing_appliance_fails_cleanly() {
    let dir = temp_dir("appliance-timeout");
    let socket = fake_appliance(&dir);
    let started = Instant::now();
    let (ok, stdout, stderr) = appliance(&socket, &["--timeout", "0.5", "raw", "hang"]);
    assert!(!ok);
    assert!(stdout.is_empty(), "{stdout}");
    assert!(stderr.contains("no reply from the appliance within 0.5 s"), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(10), "the timeout held");

    // A reply that comes after its command timed out never answers the next command.
    let (ok, _, stderr) = appliance(&socket, &["--timeout", "0.3", "raw", "late"]);
    assert!(!ok && stderr.contains("no reply"), "{stderr}");
    let (ok, stdout, stderr) = appliance(&socket, &["--verbose", "balance", "alice"]);
    assert!(ok, "{stderr}");
    assert_eq!(json_out(&stdout)["balance"]["net"], "59.50", "not the late reply");
    assert!(stderr.contains("not the reply to this command, discarded"), "{stderr}");

    let (ok, _, stderr) = appliance(&dir.join("nothing.sock"), &["status"]);
    assert!(
        !ok && stderr.contains("cannot connect to the appliance console"),
        "{stderr}"
    );

    let (ok, _, stderr) = run(&["appliance", "status"]);
    assert!(!ok && stderr.contains("--serial"), "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}
