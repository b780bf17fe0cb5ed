//! End-to-end test of `ledgerfs token add|list|revoke` against a running daemon: a
//! customer token made while it serves works at once (200 on its own account, 403 on
//! another), and stops working (401) once revoked, without a restart.

mod support;

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::*;

/// Longest a `token` command may take (it reads and rewrites one small file).
const COMMAND_DEADLINE: Duration = Duration::from_secs(30);
/// Longest a token change may take to reach the daemon (it looks once a second).
const RELOAD_DEADLINE: Duration = Duration::from_secs(10);

/// Runs `ledgerfs ARGS` with a deadline (killed on expiry): (success, stdout, stderr).
fn ledgerfs(args: &[&str]) -> (bool, String, String) {
    let mut child = Command::new(bin())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ledgerfs");
    let status = wait_until(&mut child, COMMAND_DEADLINE);
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
        panic!("ledgerfs {args:?} did not finish within {COMMAND_DEADLINE:?}");
    }
    let mut out = String::new();
    let mut err = String::new();
    child.stdout.take().unwrap().read_to_string(&mut out).unwrap();
    child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    (status.unwrap().success(), out, err)
}

/// Polls GET `path` with `token` until it answers `want`, at most [`RELOAD_DEADLINE`].
fn eventually(d: &Daemon, token: &str, path: &str, want: u16) {
    let until = Instant::now() + RELOAD_DEADLINE;
    loop {
        let (status, body) = d.get_as(token, path);
        if status == want {
            return;
        }
        assert!(
            Instant::now() < until,
            "GET {path} still answers {status} ({body}), not {want}, after {RELOAD_DEADLINE:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn tokens_added_and_revoked_while_the_daemon_runs() {
    let dir = temp_dir("tokens");
    init(&dir);
    let data = dir.to_str().unwrap();
    let d = Daemon::start(&dir);
    let (status, body) = d.post(
        "/v1/accounts",
        r#"[{"id":"alice","currency":"EUR"},{"id":"bob","currency":"EUR"}]"#,
    );
    assert_eq!(status, 200, "{body}");
    let pid = d.child.id();

    let (ok, out, err) = ledgerfs(&[
        "token",
        "add",
        "--data",
        data,
        "--name",
        "alice-app",
        "--role",
        "customer",
        "--account",
        "alice",
        "--uid",
        "4242",
    ]);
    assert!(ok, "token add failed: {err}");
    let token = out.trim().to_string();
    assert!(token.starts_with("lfs_") && token.len() > 40, "{out:?}");
    let config = std::fs::read_to_string(dir.join("ledgerfs.toml")).unwrap();
    assert!(!config.contains(&token), "the config must hold only the digest");

    eventually(&d, &token, "/v1/accounts/alice", 200);
    let (status, body) = d.get_as(&token, "/v1/accounts/bob");
    assert_eq!(status, 403, "{body}");

    let (ok, out, err) = ledgerfs(&["token", "list", "--data", data]);
    assert!(ok, "token list failed: {err}");
    let line = out.lines().find(|l| l.starts_with("alice-app")).expect(&out);
    assert!(
        line.contains("customer") && line.contains("alice") && line.contains("4242"),
        "{line}"
    );
    assert!(out.lines().any(|l| l.starts_with("admin ")), "{out}");
    assert!(!out.contains("sha256") && !out.chars().any(|c| c == '='), "{out}");

    // Refused changes leave the config alone.
    let (ok, _, err) = ledgerfs(&[
        "token",
        "add",
        "--data",
        data,
        "--name",
        "alice-app",
        "--role",
        "auditor",
    ]);
    assert!(!ok && err.contains("exists"), "{err}");
    let (ok, _, err) = ledgerfs(&["token", "add", "--data", data, "--name", "c", "--role", "customer"]);
    assert!(!ok && err.contains("no accounts"), "{err}");
    let (ok, _, err) = ledgerfs(&["token", "revoke", "--data", data, "--name", "admin"]);
    assert!(!ok && err.contains("last admin"), "{err}");
    let (ok, _, err) = ledgerfs(&["token", "revoke", "--data", data, "--name", "nobody"]);
    assert!(!ok && err.contains("no token named"), "{err}");

    let (ok, out, err) = ledgerfs(&["token", "revoke", "--data", data, "--name", "alice-app"]);
    assert!(ok, "token revoke failed: {err}");
    assert!(out.contains("alice-app"), "{out}");
    eventually(&d, &token, "/v1/accounts/alice", 401);
    let (status, _) = d.get("/v1/accounts/bob");
    assert_eq!(status, 200, "the admin token still works");

    let mut d = d;
    assert!(d.child.try_wait().unwrap().is_none(), "the daemon kept running");
    assert_eq!(d.child.id(), pid);
    d.stop();
    let log = std::fs::read_to_string(daemon_log(&dir)).unwrap_or_default();
    assert!(log.contains("tokens reloaded"), "{log}");
}
