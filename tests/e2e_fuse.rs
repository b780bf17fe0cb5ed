//! End-to-end tests of the FUSE view on a real mount: every file kind, JSON validity,
//! byte-identical tiles, `tail -f`, EROFS on every mutation, access by uid, audit records
//! for file reads, snapshot-per-open, and stable inodes across a daemon restart.
//! Skips (with a message) where FUSE cannot be mounted (no /dev/fuse or not root).

mod support;

use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use sha2::{Digest, Sha256};
use support::*;

const CUSTOMER_UID: u32 = 1000;
const AUDITOR_UID: u32 = 1001;
const STRANGER_UID: u32 = 65534;
/// Log size after setup: 3 accounts, 2 transfers, 260 more accounts.
const SIZE: u64 = 265;

fn fuse_available() -> bool {
    let root = std::process::id() > 0 && unsafe_is_root();
    let dev = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/fuse")
        .is_ok();
    if !(root && dev) {
        eprintln!("skipping: FUSE tests need root and /dev/fuse (fuse3)");
    }
    root && dev
}

fn unsafe_is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout == b"0\n")
        .unwrap_or(false)
}

/// Runs a command as another uid (setpriv from util-linux).
fn as_uid(uid: u32, args: &[&str]) -> (bool, String, String) {
    let out = Command::new("setpriv")
        .args([
            &format!("--reuid={uid}"),
            &format!("--regid={uid}"),
            "--clear-groups",
            "--",
        ])
        .args(args)
        .output()
        .expect("setpriv");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

struct Mounted {
    daemon: Daemon,
    mnt: PathBuf,
}

fn start(dir: &Path, mnt: &Path) -> Mounted {
    let daemon = Daemon::try_start_with(dir, &["--mount", mnt.to_str().unwrap()]).expect("daemon with mount");
    Mounted {
        daemon,
        mnt: mnt.to_path_buf(),
    }
}

fn setup(name: &str) -> (PathBuf, Mounted) {
    let base = temp_dir(name);
    let dir = base.join("data");
    init(&dir);
    add_token(&dir, "alice-app", "alice-secret", "customer", &["alice"]);
    let config = dir.join("ledgerfs.toml");
    let text = std::fs::read_to_string(&config).unwrap().replace(
        "name = \"alice-app\"",
        &format!("name = \"alice-app\"\nuids = [{CUSTOMER_UID}]"),
    );
    std::fs::write(&config, text).unwrap();
    add_token(&dir, "auditor", "auditor-secret", "auditor", &[]);
    let text = std::fs::read_to_string(&config).unwrap().replace(
        "name = \"auditor\"",
        &format!("name = \"auditor\"\nuids = [{AUDITOR_UID}]"),
    );
    std::fs::write(&config, text).unwrap();
    let m = start(&dir, &base.join("mnt"));
    let d = &m.daemon;
    d.post(
        "/v1/accounts",
        r#"[{"id":"bank","currency":"EUR"},{"id":"alice","currency":"EUR"},{"id":"bob","currency":"EUR"}]"#,
    );
    d.post(
        "/v1/transfers",
        r#"[{"id":"t1","debit":"bank","credit":"alice","amount":"10.50","currency":"EUR","reference":"salary",
             "metadata":{"documents":[{"name":"payslip.pdf","type":"application/pdf","sha256":"9f86d081884c7d65"}]}},
            {"id":"t2","debit":"bank","credit":"bob","amount":"3","currency":"EUR"}]"#,
    );
    // Enough entries for full tiles (256 per tile).
    let many: Vec<String> = (0..260)
        .map(|i| format!(r#"{{"id":"c{i}","currency":"EUR"}}"#))
        .collect();
    d.post("/v1/accounts", &format!("[{}]", many.join(",")));
    (dir, m)
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn sha256(bytes: &[u8]) -> Vec<u8> {
    Sha256::digest(bytes).to_vec()
}

#[test]
fn the_ledger_as_a_read_only_filesystem() {
    if !fuse_available() {
        return;
    }
    let (dir, m) = setup("fuse");
    let mnt = &m.mnt;
    // Layout and every file kind.
    let mut top: Vec<String> = std::fs::read_dir(mnt)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    top.sort();
    assert_eq!(
        top,
        [
            "accounts",
            "breaks",
            "docs",
            "events.log",
            "history",
            "log",
            "proofs",
            "reconciliation",
            "transactions"
        ]
    );
    let balance = read_json(&mnt.join("accounts/alice/balance.json"));
    assert_eq!(balance["balance"]["net"], "10.50");
    assert_eq!(balance["as_of"]["size"], SIZE);
    let proof = &balance["last_entry"];
    let hashes: Vec<[u8; 32]> = proof["proof"].as_array().unwrap().iter().map(b64).collect();
    ledgerfs_tiles::verify_inclusion(
        &b64(&proof["leaf_hash"]),
        proof["index"].as_u64().unwrap(),
        SIZE,
        &hashes,
        &b64(&balance["as_of"]["root"]),
    )
    .expect("balance.json carries a valid inclusion proof");
    assert_eq!(read_json(&mnt.join("accounts/alice/meta.json"))["currency"], "EUR");
    assert_eq!(
        read_json(&mnt.join("accounts/alice/pending.json"))["pending"],
        serde_json::json!([])
    );
    let tx_log = std::fs::read_to_string(mnt.join("accounts/alice/tx.log")).unwrap();
    assert!(
        tx_log.starts_with("3\t") && tx_log.contains("\tt1\tcredit\t10.50\tEUR\tbank\tsalary\tposted\t10.50\n"),
        "{tx_log}"
    );
    assert_eq!(read_json(&mnt.join("transactions/t1.json"))["entry"]["amount"], "10.50");
    assert_eq!(
        read_json(&mnt.join("docs/t1/metadata.json"))["documents"][0]["sha256"],
        "9f86d081884c7d65"
    );
    assert_eq!(read_json(&mnt.join("proofs/3.json"))["index"], 3);
    assert_eq!(
        read_json(&mnt.join("history/3/accounts/alice/balance.json"))["balance"]["net"],
        "10.50"
    );
    assert_eq!(
        read_json(&mnt.join("history/2/accounts/alice/balance.json"))["balance"]["net"],
        "0.00"
    );
    let events = std::fs::read_to_string(mnt.join("events.log")).unwrap();
    assert_eq!(events.lines().count() as u64, SIZE);
    assert!(events.lines().all(|l| serde_json::from_str::<Value>(l).is_ok()));
    // stat before read: sizes are right.
    for file in ["accounts/alice/balance.json", "events.log", "log/checkpoint"] {
        let len = std::fs::metadata(mnt.join(file)).unwrap().len();
        assert_eq!(len, std::fs::read(mnt.join(file)).unwrap().len() as u64, "{file}");
    }
    // log/ is the published tree, byte-identical to the store's; the publisher replaces
    // the checkpoint file in the background (after a syncfs), so wait for it to cover
    // every entry.
    let deadline = Instant::now() + Duration::from_secs(10);
    let published_size = |note: Vec<u8>| String::from_utf8(note).unwrap().lines().nth(1).map(str::to_string);
    while std::fs::read(mnt.join("log/checkpoint")).unwrap() != std::fs::read(dir.join("log/checkpoint")).unwrap()
        || published_size(std::fs::read(mnt.join("log/checkpoint")).unwrap()) != Some(SIZE.to_string())
    {
        assert!(Instant::now() < deadline, "the checkpoint file was never published");
        std::thread::sleep(Duration::from_millis(10));
    }
    for rel in [
        "tile/0/000",
        "tile/entries/000",
        "tile/0/001.p/9",
        "tile/entries/001.p/9",
        "tile/1/000.p/1",
    ] {
        let served = std::fs::read(mnt.join("log").join(rel)).unwrap_or_else(|e| {
            panic!(
                "{rel}: {e}: {:?}",
                std::fs::read_dir(mnt.join("log/tile")).map(|d| d.map(|e| e.unwrap().file_name()).collect::<Vec<_>>())
            )
        });
        assert_eq!(
            sha256(&served),
            sha256(&std::fs::read(dir.join("log").join(rel)).unwrap()),
            "{rel}"
        );
    }
    // Read-only: every mutation is EROFS and nothing changes.
    let erofs = |r: std::io::Result<()>| assert_eq!(r.unwrap_err().raw_os_error(), Some(libc_erofs()));
    erofs(std::fs::write(mnt.join("accounts/alice/meta.json"), b"x"));
    erofs(std::fs::write(mnt.join("new.txt"), b"x"));
    erofs(std::fs::create_dir(mnt.join("dir")));
    erofs(std::fs::remove_file(mnt.join("events.log")));
    erofs(std::fs::rename(mnt.join("events.log"), mnt.join("e.log")));
    erofs(std::fs::set_permissions(
        mnt.join("events.log"),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    ));
    erofs(
        std::fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(mnt.join("events.log"))
            .map(|_| ()),
    );
    // A file opened keeps the state it was opened at.
    let mut open_balance = std::fs::File::open(mnt.join("accounts/alice/balance.json")).unwrap();
    let mut first = [0u8; 1];
    open_balance.read_exact(&mut first).unwrap();
    // tail -f follows new entries.
    let mut tail = Command::new("tail")
        .args(["-n", "0", "-f"])
        .arg(mnt.join("events.log"))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    m.daemon.post(
        "/v1/transfers",
        r#"{"id":"t3","debit":"bank","credit":"alice","amount":"1","currency":"EUR"}"#,
    );
    // Read the first line on a helper thread so that a `tail` that never prints fails
    // the test after a deadline instead of hanging it; `tail` is killed either way.
    let stdout = tail.stdout.take().unwrap();
    let (sent, first_line) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = sent.send(BufReader::new(stdout).lines().next());
    });
    let line = first_line.recv_timeout(Duration::from_secs(20));
    let _ = tail.kill();
    let _ = tail.wait();
    let line = line
        .expect("tail -f printed the new entry within 20 s")
        .expect("tail -f printed a line")
        .unwrap();
    assert_eq!(serde_json::from_str::<Value>(&line).unwrap()["id"], "t3");
    let mut rest = Vec::new();
    open_balance.read_to_end(&mut rest).unwrap();
    let snapshot: Value = serde_json::from_slice(&[&first[..], &rest].concat()).unwrap();
    assert_eq!(snapshot["as_of"]["size"], SIZE, "the open file kept its checkpoint");
    assert_eq!(
        read_json(&mnt.join("accounts/alice/balance.json"))["as_of"]["size"],
        SIZE + 1
    );
    // A pending transfer shows in balance.json, pending.json and tx.log at once.
    m.daemon.post(
        "/v1/transfers",
        r#"{"id":"hold","debit":"alice","credit":"bank","amount":"2","currency":"EUR","flags":["pending"],"timeout":3600}"#,
    );
    let balance = read_json(&mnt.join("accounts/alice/balance.json"))["balance"].clone();
    assert_eq!(
        (&balance["net"], &balance["debits_pending"]),
        (&"11.50".into(), &"2.00".into()),
        "{balance}"
    );
    let pending = read_json(&mnt.join("accounts/alice/pending.json"))["pending"].clone();
    assert_eq!(
        (&pending[0]["id"], &pending[0]["amount"]),
        (&"hold".into(), &"2.00".into()),
        "{pending}"
    );
    assert!(pending[0]["expires_at"].is_string(), "{pending}");
    let tx_log = std::fs::read_to_string(mnt.join("accounts/alice/tx.log")).unwrap();
    assert!(
        tx_log.ends_with("\thold\tdebit\t-2.00\tEUR\tbank\t\tpending\t11.50\n"),
        "{tx_log}"
    );
    m.daemon.post(
        "/v1/transfers",
        r#"{"id":"release","pending_id":"hold","flags":["void_pending"]}"#,
    );
    assert_eq!(
        read_json(&mnt.join("accounts/alice/pending.json"))["pending"],
        serde_json::json!([])
    );
    // Access by uid: strangers are refused, customers see their own accounts only.
    let (ok, _, err) = as_uid(STRANGER_UID, &["ls", mnt.to_str().unwrap()]);
    assert!(!ok && err.contains("Permission denied"), "{err}");
    let (ok, out, _) = as_uid(CUSTOMER_UID, &["ls", mnt.join("accounts").to_str().unwrap()]);
    assert!(ok);
    assert_eq!(out.trim(), "alice");
    let (ok, out, _) = as_uid(CUSTOMER_UID, &["ls", mnt.join("transactions").to_str().unwrap()]);
    assert!(ok);
    assert_eq!(
        out.split_whitespace().collect::<Vec<_>>(),
        ["hold.json", "release.json", "t1.json", "t3.json"]
    );
    let (ok, _, err) = as_uid(
        CUSTOMER_UID,
        &["cat", mnt.join("accounts/bob/balance.json").to_str().unwrap()],
    );
    assert!(!ok && err.contains("No such file"), "{err}");
    let (ok, _, err) = as_uid(CUSTOMER_UID, &["cat", mnt.join("log/checkpoint").to_str().unwrap()]);
    assert!(!ok && err.contains("Permission denied"), "{err}");
    let (ok, out, _) = as_uid(
        CUSTOMER_UID,
        &["cat", mnt.join("accounts/alice/balance.json").to_str().unwrap()],
    );
    assert!(ok && out.contains("\"net\": \"11.50\""), "{out}");
    let (ok, _, _) = as_uid(
        AUDITOR_UID,
        &["cat", mnt.join("accounts/bob/balance.json").to_str().unwrap()],
    );
    assert!(ok, "auditors read everything");
    // Compliance files: this month's statement (open), the open breaks; customers read
    // their own statements and no reconciliation.
    let month = ledgerfs_model::time::format_timestamp(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64,
    )[..7]
        .to_string();
    let statement = std::fs::read_to_string(mnt.join(format!("accounts/alice/statements/{month}.csv"))).unwrap();
    assert!(
        statement.starts_with("index,time,value_date,id,reference,"),
        "{statement}"
    );
    assert!(statement.contains(",t1,salary,bank,10.50,EUR,"), "{statement}");
    assert_eq!(
        read_json(&mnt.join("breaks/open.json")),
        serde_json::json!({"breaks": []})
    );
    let (status, run) = m.daemon.post("/v1/reconciliations/internal", "{}");
    assert_eq!(status, 200, "{run}");
    let day = read_json(&mnt.join(format!("reconciliation/{}.json", run["date"].as_str().unwrap())));
    assert_eq!(day["runs"][0]["index"], run["run"], "{day}");
    assert_eq!(day["runs"][0]["kind"], "internal");
    let (ok, out, _) = as_uid(
        CUSTOMER_UID,
        &["ls", mnt.join("accounts/alice/statements").to_str().unwrap()],
    );
    assert!(ok && out.contains(&format!("{month}.csv")), "{out}");
    let (ok, _, err) = as_uid(CUSTOMER_UID, &["cat", mnt.join("breaks/open.json").to_str().unwrap()]);
    assert!(!ok && err.contains("Permission denied"), "{err}");
    // Every file read is in the audit trail, with the reader's uid.
    let deadline = Instant::now() + Duration::from_secs(10);
    let audit_text = loop {
        let text = audit_entries(&dir);
        if text.contains(&format!("\"who\":\"alice-app\",\"role\":\"customer\",\"via\":\"fuse\",\"uid\":{CUSTOMER_UID},\"what\":\"/accounts/alice/balance.json\"")) || Instant::now() > deadline {
            break text;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        audit_text.contains(&format!(
            "\"uid\":{CUSTOMER_UID},\"what\":\"/accounts/alice/balance.json\""
        )),
        "{audit_text}"
    );
    assert!(
        audit_text.contains("\"via\":\"fuse\",\"uid\":0,\"what\":\"/events.log\""),
        "{audit_text}"
    );
    // Inode numbers are stable across a restart and remount.
    let ino = std::fs::metadata(mnt.join("accounts/alice/balance.json"))
        .unwrap()
        .ino();
    let mnt = mnt.clone();
    m.daemon.stop();
    assert!(
        std::fs::read_dir(&mnt).unwrap().next().is_none(),
        "unmounted on SIGTERM"
    );
    let m = start(&dir, &mnt);
    assert_eq!(
        std::fs::metadata(mnt.join("accounts/alice/balance.json"))
            .unwrap()
            .ino(),
        ino
    );
    assert_eq!(
        read_json(&mnt.join("accounts/alice/balance.json"))["balance"]["net"],
        "11.50"
    );
    // Balance proofs: reading never writes the log, so until a commitment shows alice
    // the file says where to get one; once the API wrote one, the file carries it.
    let balance = read_json(&mnt.join("accounts/alice/balance.json"));
    assert!(balance["balance_proof"].is_null(), "{balance}");
    assert_eq!(balance["balance_proof_error"]["code"], "balance_commitment_stale");
    let (status, proof) = m.daemon.get("/v1/accounts/alice/balance-proof");
    assert_eq!(status, 200, "{proof}");
    let balance = read_json(&mnt.join("accounts/alice/balance.json"));
    assert_eq!(balance["balance_proof"], proof, "{balance}");
    let file = dir.join("../alice-balance.json");
    std::fs::copy(mnt.join("accounts/alice/balance.json"), &file).unwrap();
    let (ok, out, err) = support::run(&["verify", "balance", file.to_str().unwrap(), "--vkey", &log_vkey(&dir)]);
    assert!(ok && out.contains("\"credits_posted\":\"11.50\""), "{out}{err}");
    m.daemon.stop();
}

fn audit_entries(dir: &Path) -> String {
    let mut text = String::new();
    let mut stack = vec![dir.join("audit/log/tile/entries")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            if e.path().is_dir() {
                stack.push(e.path());
            } else {
                text.push_str(&String::from_utf8_lossy(&std::fs::read(e.path()).unwrap()));
            }
        }
    }
    text
}

fn b64(v: &Value) -> [u8; 32] {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(v.as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap()
}

fn libc_erofs() -> i32 {
    30
}

/// SIGTERM with an entry stream open and a file of the mount open: the daemon still
/// exits within its bound and the mount goes away (it used to hang with the mount up).
#[test]
fn sigterm_with_an_open_stream_exits_and_unmounts() {
    if !fuse_available() {
        return;
    }
    let base = temp_dir("fuse-shutdown");
    let dir = base.join("data");
    init(&dir);
    let mnt = base.join("mnt");
    let mut m = start(&dir, &mnt);
    m.daemon.post("/v1/accounts", r#"[{"id":"bank","currency":"EUR"}]"#);
    let response = agent()
        .get(&format!("{}/v1/stream?from=0", m.daemon.base))
        .set("Authorization", &format!("Bearer {}", m.daemon.token))
        .call()
        .unwrap();
    let mut stream = BufReader::new(response.into_reader());
    let mut line = String::new();
    while !line.starts_with("data: ") {
        line.clear();
        stream.read_line(&mut line).unwrap();
    }
    let open_file = std::fs::File::open(mnt.join("events.log")).unwrap();
    m.daemon.signal(libc::SIGTERM);
    let status = wait_until(&mut m.daemon.child, Duration::from_secs(20));
    let log = std::fs::read_to_string(daemon_log(&dir)).unwrap_or_default();
    assert!(status.is_some(), "still running 20 s after SIGTERM:\n{log}");
    drop(open_file);
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::fs::read_dir(&mnt).map(|mut d| d.next().is_some()).unwrap_or(true) {
        assert!(Instant::now() < deadline, "still mounted after stop:\n{log}");
        std::thread::sleep(Duration::from_millis(50));
    }
}
