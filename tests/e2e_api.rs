//! End-to-end tests of the real daemon over HTTP: round trips, idempotency, linked
//! chains, bad input, auth (401 vs 403, customer isolation), proofs checked with the
//! tiles core's verifier, streaming, restart recovery, corruption refusal, the
//! published tile tree and a full disk.

mod support;

use std::io::{BufRead, BufReader};
use std::time::Duration;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde_json::Value;
use support::*;

fn hash(text: &Value) -> [u8; 32] {
    B64.decode(text.as_str().unwrap()).unwrap().try_into().unwrap()
}

fn setup(name: &str) -> Daemon {
    let dir = temp_dir(name);
    init(&dir);
    add_token(&dir, "alice-app", "alice-secret", "customer", &["alice"]);
    add_token(&dir, "auditor", "auditor-secret", "auditor", &[]);
    let d = Daemon::start(&dir);
    let (status, body) = d.post(
        "/v1/accounts",
        r#"[{"id":"bank","currency":"EUR","kind":"settlement"},
            {"id":"alice","currency":"EUR","flags":["debits_must_not_exceed_credits"]},
            {"id":"bob","currency":"EUR","flags":["debits_must_not_exceed_credits"]},
            {"id":"yen","currency":"JPY"}]"#,
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(codes(&body), ["ok"; 4]);
    d
}

#[test]
fn transfers_balances_history_and_idempotency() {
    let d = setup("roundtrip");
    let (s, body) = d.post(
        "/v1/transfers",
        r#"[{"id":"t1","debit":"bank","credit":"alice","amount":"100.00","currency":"EUR","reference":"salary"},
            {"id":"t2","debit":"alice","credit":"bob","amount":"40.5","currency":"EUR","metadata":{"doc":{"name":"inv.pdf","sha256":"ab"}}}]"#,
    );
    assert_eq!(s, 200);
    assert_eq!(codes(&body), ["ok", "ok"]);
    assert_eq!(body["checkpoint"]["size"], 6);
    let (_, alice) = d.get("/v1/accounts/alice");
    assert_eq!(alice["balance"]["net"], "59.50");
    assert_eq!(alice["balance"]["debits"], "40.50");
    // Resubmission with the same body returns the original index; a different body is refused.
    let (_, again) = d.post(
        "/v1/transfers",
        r#"{"id":"t1","debit":"bank","credit":"alice","amount":"100.00","currency":"EUR","reference":"salary"}"#,
    );
    assert_eq!(codes(&again), ["exists"]);
    assert_eq!(again["results"][0]["index"], 4);
    // Every result that names an entry carries its commit time: an `exists` the original's.
    let time = body["results"][0]["time"]
        .as_str()
        .expect("ok results carry their time");
    assert!(time.ends_with('Z') && time.len() == 30, "{time}");
    assert!(
        body["results"][1]["time"].as_str().unwrap() > time,
        "times increase along the log"
    );
    assert_eq!(again["results"][0]["time"], time);
    let (_, changed) = d.post(
        "/v1/transfers",
        r#"{"id":"t1","debit":"bank","credit":"alice","amount":"1.00","currency":"EUR"}"#,
    );
    assert_eq!(codes(&changed), ["id_exists_with_different_fields"]);
    // Lookups, history, historical balances.
    let (s, t) = d.get("/v1/transfers/t2");
    assert_eq!(s, 200);
    assert_eq!(t["entry"]["amount"], "40.50");
    assert_eq!(t["entry"]["metadata"]["doc"]["sha256"], "ab");
    let (_, history) = d.get("/v1/accounts/alice/history");
    let ids: Vec<&str> = history["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["t1", "t2"]);
    let (_, page) = d.get("/v1/accounts/alice/history?limit=1");
    assert_eq!(page["next_after"], 4);
    let (_, at4) = d.get("/v1/accounts/alice/balance?at=4");
    assert_eq!(at4["balance"]["net"], "100.00");
    let (_, at_time) = d.get(&format!(
        "/v1/accounts/alice/balance?at={}",
        t["entry"]["time"].as_str().unwrap()
    ));
    assert_eq!(at_time["balance"]["net"], "59.50");
    let (s, _) = d.get("/v1/accounts/alice/balance?at=2026-13-01T00:00:00Z");
    assert_eq!(s, 400);
    let (s, _) = d.get("/v1/transfers/nope");
    assert_eq!(s, 404);
    let (s, entry) = d.get("/v1/entries/0");
    assert_eq!((s, entry["type"].as_str()), (200, Some("account")));
}

#[test]
fn rejections_are_precise_and_change_nothing() {
    let d = setup("rejections");
    let (_, before) = d.get("/v1/checkpoint");
    let cases = [
        (
            r#"{"id":"x","debit":"bank","credit":"alice","amount":"-1","currency":"EUR"}"#,
            "amount_invalid",
        ),
        (
            r#"{"id":"x","debit":"bank","credit":"alice","amount":"1.001","currency":"EUR"}"#,
            "amount_too_precise",
        ),
        (
            r#"{"id":"x","debit":"bank","credit":"alice","amount":"abc","currency":"EUR"}"#,
            "amount_invalid",
        ),
        (
            r#"{"id":"x","debit":"ghost","credit":"alice","amount":"1","currency":"EUR"}"#,
            "account_not_found",
        ),
        (
            r#"{"id":"x","debit":"bank","credit":"yen","amount":"1","currency":"EUR"}"#,
            "currency_mismatch",
        ),
        (
            r#"{"id":"x","debit":"bank","credit":"bank","amount":"1","currency":"EUR"}"#,
            "same_account",
        ),
        (
            r#"{"id":"x","debit":"alice","credit":"bob","amount":"1","currency":"EUR"}"#,
            "insufficient_funds",
        ),
        (
            r#"{"id":"x","debit":"bank","credit":"alice","amount":"1","currency":"XXX"}"#,
            "currency_invalid",
        ),
        (
            r#"{"id":"a/b","debit":"bank","credit":"alice","amount":"1","currency":"EUR"}"#,
            "id_invalid",
        ),
    ];
    for (body, code) in cases {
        let (s, r) = d.post("/v1/transfers", body);
        assert_eq!(s, 200);
        assert_eq!(codes(&r), [code], "{body}");
        assert!(r["results"][0]["message"].is_string());
    }
    // A linked chain fails as a whole.
    let (_, chain) = d.post(
        "/v1/transfers",
        r#"[{"id":"c1","debit":"bank","credit":"alice","amount":"5","currency":"EUR","linked":true},
            {"id":"c2","debit":"alice","credit":"bob","amount":"50","currency":"EUR"}]"#,
    );
    assert_eq!(codes(&chain), ["linked_event_failed", "insufficient_funds"]);
    // Request-level errors.
    let bad = [
        ("{", 400, "request_malformed"),
        ("[]", 400, "batch_empty"),
        (
            r#"{"id":"x","debit":"bank","credit":"alice","amount":1.5,"currency":"EUR"}"#,
            400,
            "request_invalid",
        ),
        (
            r#"{"id":"x","debit":"bank","credit":"alice","amount":"1","currency":"EUR","colour":"red"}"#,
            400,
            "request_invalid",
        ),
    ];
    for (body, status, code) in bad {
        let (s, r) = d.post("/v1/transfers", body);
        assert_eq!((s, r["error"]["code"].as_str().unwrap()), (status, code), "{body}");
    }
    let many = format!(
        "[{}]",
        vec![r#"{"id":"x","debit":"bank","credit":"alice","amount":"1","currency":"EUR"}"#; 8_190].join(",")
    );
    let (s, r) = d.post("/v1/transfers", &many);
    assert_eq!((s, r["error"]["code"].as_str().unwrap()), (400, "batch_too_large"));
    let wrong_type = agent()
        .post(&format!("{}/v1/transfers", d.base))
        .set("Authorization", &format!("Bearer {}", d.token))
        .set("Content-Type", "text/plain")
        .send_string("{}");
    let (s, r) = decode(wrong_type);
    assert_eq!(
        (s, r["error"]["code"].as_str().unwrap()),
        (415, "content_type_unsupported")
    );
    let (_, after) = d.get("/v1/checkpoint");
    assert_eq!(before["size"], after["size"], "nothing was logged");
}

#[test]
fn authentication_and_roles() {
    let d = setup("auth");
    let missing = decode(agent().get(&format!("{}/v1/accounts/alice", d.base)).call());
    assert_eq!(missing.0, 401);
    assert_eq!(missing.1["error"]["code"], "unauthenticated");
    assert_eq!(d.get_as("wrong-token", "/v1/accounts/alice").0, 401);
    // A customer sees its own account only, and may only debit its own accounts.
    assert_eq!(d.get_as("alice-secret", "/v1/accounts/alice").0, 200);
    let (s, body) = d.get_as("alice-secret", "/v1/accounts/bob");
    assert_eq!((s, body["error"]["code"].as_str().unwrap()), (403, "forbidden"));
    let (_, list) = d.get_as("alice-secret", "/v1/accounts");
    assert_eq!(list["accounts"].as_array().unwrap().len(), 1);
    let (s, _) = d.post_as(
        "alice-secret",
        "/v1/transfers",
        r#"{"id":"s","debit":"bob","credit":"alice","amount":"1","currency":"EUR"}"#,
    );
    assert_eq!(s, 403);
    let (s, _) = d.post_as("alice-secret", "/v1/accounts", r#"{"id":"mine","currency":"EUR"}"#);
    assert_eq!(s, 403);
    assert_eq!(d.get_as("alice-secret", "/log/checkpoint").0, 403);
    assert_eq!(d.get_as("alice-secret", "/v1/stream").0, 403);
    // An auditor reads everything but writes nothing.
    assert_eq!(d.get_as("auditor-secret", "/v1/accounts/bob").0, 200);
    assert_eq!(
        d.post_as("auditor-secret", "/v1/accounts", r#"{"id":"z","currency":"EUR"}"#)
            .0,
        403
    );
    assert_eq!(decode(agent().get(&format!("{}/health", d.base)).call()).0, 200);
}

#[test]
fn receipts_and_proofs_verify_offline() {
    let d = setup("proofs");
    // Sizes 1..3 never had a checkpoint of their own (the four accounts were one commit):
    // proofs at those sizes come from prefixes of the stored tiles.
    let (_, at4) = d.get("/v1/checkpoint");
    assert_eq!(at4["size"], 4);
    for from in 1..4u64 {
        let (s, c) = d.get(&format!("/v1/proofs/consistency?from={from}&to=4"));
        assert_eq!(s, 200, "{c}");
        assert_eq!(c["to_root"], at4["root"]);
        let path: Vec<[u8; 32]> = c["proof"].as_array().unwrap().iter().map(hash).collect();
        ledgerfs_tiles::verify_consistency(from, 4, &hash(&c["from_root"]), &hash(&c["to_root"]), &path)
            .expect("consistent with an unpublished older size");
        let (s, p) = d.get(&format!("/v1/proofs/inclusion?index={}&size={from}", from - 1));
        assert_eq!(s, 200, "{p}");
        let path: Vec<[u8; 32]> = p["proof"].as_array().unwrap().iter().map(hash).collect();
        ledgerfs_tiles::verify_inclusion(&hash(&p["leaf_hash"]), from - 1, from, &path, &hash(&p["root"]))
            .expect("inclusion at an unpublished older size");
        assert_eq!(p["root"], c["from_root"]);
    }
    let mut sizes = Vec::new();
    for i in 0..40 {
        let body = format!(r#"{{"id":"p{i}","debit":"bank","credit":"alice","amount":"1","currency":"EUR"}}"#);
        let (_, r) = d.post("/v1/transfers?receipt=true", &body);
        let proof = &r["proofs"][0];
        let checkpoint = &r["checkpoint"];
        let path: Vec<[u8; 32]> = proof["proof"].as_array().unwrap().iter().map(hash).collect();
        ledgerfs_tiles::verify_inclusion(
            &hash(&proof["leaf_hash"]),
            proof["index"].as_u64().unwrap(),
            checkpoint["size"].as_u64().unwrap(),
            &path,
            &hash(&checkpoint["root"]),
        )
        .expect("receipt proof verifies");
        sizes.push((checkpoint["size"].as_u64().unwrap(), hash(&checkpoint["root"])));
    }
    let (new_size, new_root) = *sizes.last().unwrap();
    for &(old_size, old_root) in sizes.iter().step_by(7) {
        let (_, c) = d.get(&format!("/v1/proofs/consistency?from={old_size}"));
        let path: Vec<[u8; 32]> = c["proof"].as_array().unwrap().iter().map(hash).collect();
        ledgerfs_tiles::verify_consistency(old_size, new_size, &old_root, &new_root, &path).expect("consistent");
    }
    let (_, p) = d.get("/v1/proofs/inclusion?index=3&size=10");
    assert_eq!(p["size"], 10);
    assert_eq!(d.get("/v1/proofs/inclusion?index=10&size=10").0, 400);
}

#[test]
fn stream_follows_new_entries() {
    let d = setup("stream");
    let response = agent()
        .get(&format!("{}/v1/stream?from=2", d.base))
        .set("Authorization", &format!("Bearer {}", d.token))
        .timeout(Duration::from_secs(20))
        .call()
        .unwrap();
    assert_eq!(response.header("content-type"), Some("text/event-stream"));
    let mut lines = BufReader::new(response.into_reader()).lines();
    let next_data = |lines: &mut std::io::Lines<BufReader<Box<dyn std::io::Read + Send + Sync>>>| -> (u64, Value) {
        let mut id = None;
        loop {
            let line = lines.next().unwrap().unwrap();
            if let Some(v) = line.strip_prefix("id: ") {
                id = Some(v.parse().unwrap());
            }
            if let Some(v) = line.strip_prefix("data: ") {
                return (id.unwrap(), serde_json::from_str(v).unwrap());
            }
        }
    };
    assert_eq!(next_data(&mut lines).0, 2);
    assert_eq!(next_data(&mut lines).0, 3);
    d.post(
        "/v1/transfers",
        r#"{"id":"live","debit":"bank","credit":"bob","amount":"3","currency":"EUR"}"#,
    );
    let (index, entry) = next_data(&mut lines);
    assert_eq!((index, entry["id"].as_str().unwrap()), (4, "live"));
}

#[test]
fn restart_recovers_and_corruption_is_refused() {
    let d = setup("restart");
    let early = d.dir.with_extension("early-checkpoint");
    std::fs::write(&early, std::fs::read(d.dir.join("log/checkpoint")).unwrap()).unwrap();
    for i in 0..300 {
        let body = format!(r#"{{"id":"r{i}","debit":"bank","credit":"alice","amount":"0.01","currency":"EUR"}}"#);
        assert_eq!(codes(&d.post("/v1/transfers", &body).1), ["ok"]);
    }
    let (_, before) = d.get("/v1/accounts/alice");
    let dir = d.dir.clone();
    let second = Daemon::try_start(&dir).err().expect("one process per store");
    assert!(second.contains("in use by another ledgerfs process"), "{second}");
    d.stop();
    let d = Daemon::start(&dir);
    let (_, after) = d.get("/v1/accounts/alice");
    assert_eq!(before["balance"], after["balance"]);
    assert_eq!(after["balance"]["net"], "3.00");
    // The published tree is byte-identical to the files, with the spec's headers.
    let r = agent()
        .get(&format!("{}/log/tile/0/000", d.base))
        .set("Authorization", &format!("Bearer {}", d.token))
        .call()
        .unwrap();
    assert_eq!(r.header("content-type"), Some("application/octet-stream"));
    assert!(r.header("cache-control").unwrap().contains("immutable"));
    let mut served = Vec::new();
    std::io::Read::read_to_end(&mut r.into_reader(), &mut served).unwrap();
    assert_eq!(served, std::fs::read(dir.join("log/tile/0/000")).unwrap());
    d.stop();
    let (ok, out, err) = run(&[
        "verify",
        "--dir",
        dir.to_str().unwrap(),
        "--older",
        early.to_str().unwrap(),
    ]);
    assert!(ok, "{out}{err}");
    assert!(
        out.contains("verified: size 304") && out.contains("1 older checkpoint(s) consistent"),
        "{out}"
    );
    // A checkpoint signed by the same key for a different tree at size 4 is a fork.
    let key =
        ledgerfs_attest::SignerKey::parse(std::fs::read_to_string(dir.join("attest.key")).unwrap().trim()).unwrap();
    let forged = ledgerfs_attest::Checkpoint {
        origin: "e2e.test/log".into(),
        size: 4,
        root: [7; 32],
        extensions: vec![],
    };
    let fork = dir.with_extension("fork-checkpoint");
    std::fs::write(&fork, ledgerfs_attest::sign_checkpoint(&key, &forged).unwrap()).unwrap();
    let (ok, _, err) = run(&[
        "verify",
        "--dir",
        dir.to_str().unwrap(),
        "--older",
        fork.to_str().unwrap(),
    ]);
    assert!(!ok && err.contains("fork"), "{err}");
    // Flip one byte of an entry: both verify and the daemon refuse, naming the file.
    let bundle = dir.join("log/tile/entries/000");
    let mut bytes = std::fs::read(&bundle).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x01;
    std::fs::write(&bundle, bytes).unwrap();
    let (ok, _, err) = run(&["verify", "--dir", dir.to_str().unwrap()]);
    assert!(!ok);
    assert!(err.contains("tile/entries/000") || err.contains("tile/0/000"), "{err}");
    // `ledgerfs check` replays everything and refuses. The daemon starts from the
    // snapshot its clean stop wrote and re-verifies only what follows it (documented);
    // without snapshots it replays everything and refuses too.
    let (ok, out, err) = run(&["check", "--data", dir.to_str().unwrap()]);
    assert!(!ok && err.contains("tile/"), "{out}{err}");
    std::fs::remove_dir_all(dir.join("snapshots")).unwrap();
    let refused = Daemon::try_start(&dir).err().expect("a corrupt store must not open");
    assert!(
        refused.contains("store_corrupt") && refused.contains("tile/"),
        "{refused}"
    );
}

#[test]
fn full_or_read_only_disk_refuses_writes_and_loses_nothing() {
    let dir = temp_dir("fulldisk");
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=512k", "tmpfs", dir.to_str().unwrap()])
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        eprintln!("skipping: cannot mount a tmpfs here (needs root)");
        return;
    }
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
    let _unmount = Unmount(dir.clone());
    let data = dir.join("data");
    init(&data);
    // A disk this small gets a small journal (segments of 128 KiB instead of 64 MiB).
    set_config(&data, "journal_segment_kib", "128");
    let d = Daemon::start(&data);
    d.post(
        "/v1/accounts",
        r#"[{"id":"a","currency":"EUR"},{"id":"b","currency":"EUR"}]"#,
    );
    let mut acknowledged = Vec::new();
    let mut saw_full = false;
    for i in 0..5_000 {
        let reference = "x".repeat(200);
        let body = format!(
            r#"{{"id":"f{i}","debit":"a","credit":"b","amount":"1","currency":"EUR","reference":"{reference}"}}"#
        );
        let (s, r) = d.post("/v1/transfers", &body);
        if s == 200 {
            acknowledged.push(format!("f{i}"));
        } else {
            assert_eq!((s, r["error"]["code"].as_str().unwrap()), (507, "storage_full"), "{r}");
            saw_full = true;
            break;
        }
    }
    assert!(saw_full, "the disk never filled");
    assert_eq!(d.get("/health").0, 200, "reads still work");
    let remount = |options: &str| {
        let status = std::process::Command::new("mount")
            .args(["-o", options, dir.to_str().unwrap()])
            .status();
        assert!(status.unwrap().success(), "remount {options}");
    };
    remount("remount,size=64m,ro");
    let (s, r) = d.post(
        "/v1/transfers",
        r#"{"id":"ro","debit":"a","credit":"b","amount":"1","currency":"EUR"}"#,
    );
    assert_eq!(
        (s, r["error"]["code"].as_str().unwrap()),
        (503, "storage_unavailable"),
        "read-only storage: {r}"
    );
    remount("remount,rw");
    let (s, r) = d.post(
        "/v1/transfers",
        r#"{"id":"after","debit":"a","credit":"b","amount":"1","currency":"EUR"}"#,
    );
    assert_eq!(
        (s, codes(&r)),
        (200, vec!["ok".to_string()]),
        "writes resume once space is back"
    );
    d.stop();
    let d = Daemon::start(&data);
    for id in acknowledged.iter().chain(std::iter::once(&"after".to_string())) {
        assert_eq!(
            d.get(&format!("/v1/transfers/{id}")).0,
            200,
            "acknowledged {id} survived"
        );
    }
    d.stop();
}

#[test]
fn every_read_is_in_the_verifiable_audit_trail() {
    let d = setup("audit");
    for _ in 0..5 {
        assert_eq!(d.get_as("alice-secret", "/v1/accounts/alice").0, 200);
    }
    assert_eq!(d.get_as("alice-secret", "/v1/accounts/bob").0, 403);
    // Reading the trail is itself restricted.
    assert_eq!(d.get_as("alice-secret", "/audit/checkpoint").0, 403);
    let read_checkpoint = || {
        let r = agent()
            .get(&format!("{}/audit/checkpoint", d.base))
            .set("Authorization", "Bearer auditor-secret")
            .call()
            .unwrap();
        r.into_string().unwrap()
    };
    let mut size = 0;
    for _ in 0..100 {
        size = read_checkpoint().lines().nth(1).unwrap().parse::<u64>().unwrap();
        if size >= 6 {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(size >= 6, "six reads recorded, saw {size}");
    assert!(read_checkpoint().starts_with("e2e.test/log/audit\n"));
    let dir = d.dir.clone();
    let vkey = log_vkey(&dir);
    d.stop();
    let audit = dir.join("audit");
    let (ok, out, err) = run(&["verify", "--dir", audit.to_str().unwrap(), "--vkey", vkey.trim()]);
    assert!(ok, "{out}{err}");
    let bundle = std::fs::read_dir(audit.join("log/tile/entries"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    // A partial bundle directory may hold several widths: read the widest.
    let text = String::from_utf8_lossy(
        &std::fs::read(if bundle.is_dir() {
            std::fs::read_dir(&bundle)
                .unwrap()
                .map(|e| e.unwrap().path())
                .max_by_key(|p| p.file_name().unwrap().to_string_lossy().parse::<u32>().unwrap_or(0))
                .unwrap()
        } else {
            bundle
        })
        .unwrap(),
    )
    .into_owned();
    assert!(
        text.contains(r#""who":"alice-app","role":"customer","via":"api","uid":null,"what":"/v1/accounts/alice""#),
        "{text}"
    );
    assert!(
        text.contains(r#""what":"/v1/accounts/bob","bytes":"#) && text.contains(r#""status":403"#),
        "{text}"
    );
    // DORA Art. 12(7): the integrity check start-up ran is on record, with its result.
    assert!(
        text.contains(
            r#""who":"ledgerfs","role":"system","via":"startup","uid":null,"what":"startup integrity check passed"#
        ),
        "{text}"
    );
}

/// Shutdown with a client following `/v1/stream`: the stream ends and the daemon exits
/// well within its shutdown bound (it used to wait for the stream forever).
#[test]
fn sigterm_ends_open_streams_and_exits() {
    let mut d = setup("shutdown");
    let response = agent()
        .get(&format!("{}/v1/stream?from=0", d.base))
        .set("Authorization", &format!("Bearer {}", d.token))
        .call()
        .unwrap();
    let mut lines = BufReader::new(response.into_reader()).lines();
    // The stream is live: it has sent the first entry.
    loop {
        let line = lines.next().expect("stream open").expect("stream readable");
        if line.starts_with("data: ") {
            break;
        }
    }
    let (ended, stream_ended) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        // Drain until the server ends the stream (EOF) or the connection fails.
        for line in lines {
            if line.is_err() {
                break;
            }
        }
        let _ = ended.send(());
    });
    let started = std::time::Instant::now();
    d.signal(libc::SIGTERM);
    let status = wait_until(&mut d.child, Duration::from_secs(8));
    let log = std::fs::read_to_string(daemon_log(&d.dir)).unwrap_or_default();
    let status = status.unwrap_or_else(|| panic!("still running 8 s after SIGTERM with an open stream:\n{log}"));
    assert!(status.success(), "{status}: {log}");
    assert!(log.contains("ledgerfs: stopped"), "{log}");
    stream_ended
        .recv_timeout(Duration::from_secs(5))
        .expect("the stream ended when the daemon stopped");
    eprintln!("stopped {:?} after SIGTERM", started.elapsed());
}

/// Reads racing commits: history, balances at an index and accounts are each rendered
/// from one snapshot, so every index they name is covered by the checkpoint they name
/// (a history read used to panic on `index < size` when a commit landed mid-request).
#[test]
fn reads_racing_commits_are_consistent() {
    let d = setup("race");
    let (base, token) = (d.base.clone(), d.token.clone());
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                n += 1;
                let body =
                    format!(r#"{{"id":"w{n}","debit":"bank","credit":"alice","amount":"0.01","currency":"EUR"}}"#);
                let r = agent()
                    .post(&format!("{base}/v1/transfers"))
                    .set("Authorization", &format!("Bearer {token}"))
                    .set("Content-Type", "application/json")
                    .send_string(&body);
                assert_eq!(decode(r).0, 200);
            }
            n
        })
    };
    let until = std::time::Instant::now() + Duration::from_secs(2);
    let mut reads = 0;
    while std::time::Instant::now() < until {
        let (status, history) = d.get("/v1/accounts/alice/history?limit=1000");
        assert_eq!(status, 200, "{history}");
        let (status, account) = d.get("/v1/accounts/alice");
        assert_eq!(status, 200, "{account}");
        assert_eq!(account["as_of_size"], account["checkpoint"]["size"], "{account}");
        let size = account["as_of_size"].as_u64().unwrap();
        let (status, at) = d.get(&format!("/v1/accounts/alice/balance?at={}", size - 1));
        assert_eq!(status, 200, "{at}");
        reads += 1;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let writes = writer.join().expect("writer");
    assert!(writes > 0 && reads > 0, "{writes} writes, {reads} reads");
}

/// Every error is the documented JSON `{"error":{"code","message"}}` with a stable
/// code: bad query strings and path parameters, wrong methods, unknown routes (axum
/// used to answer these in text/plain, or 405 with an empty body).
#[test]
fn every_error_is_json_with_a_stable_code() {
    let d = setup("errors");
    let cases: &[(&str, &str, u16, &str)] = &[
        ("GET", "/v1/proofs/inclusion?index=abc", 400, "request_invalid"),
        ("GET", "/v1/proofs/inclusion", 400, "request_invalid"),
        ("GET", "/v1/proofs/consistency?from=x", 400, "request_invalid"),
        ("GET", "/v1/accounts?limit=abc", 400, "request_invalid"),
        ("GET", "/v1/accounts?limit=0", 400, "request_invalid"),
        ("GET", "/v1/accounts/alice/history?limit=0", 400, "request_invalid"),
        ("GET", "/v1/accounts/alice/history?after=-1", 400, "request_invalid"),
        ("GET", "/v1/stream?from=abc", 400, "request_invalid"),
        ("POST", "/v1/transfers?receipt=yes", 400, "request_invalid"),
        ("GET", "/v1/entries/abc", 400, "request_invalid"),
        ("GET", "/v1/entries/99999", 404, "not_found"),
        ("GET", "/v1/accounts/alice/balance?at=99999", 400, "at_invalid"),
        (
            "GET",
            "/v1/accounts/alice/balance?at=2999-01-01T00:00:00Z",
            400,
            "at_invalid",
        ),
        ("GET", "/v1/accounts/alice/balance?at=yesterday", 400, "at_invalid"),
        ("PUT", "/v1/transfers", 405, "method_not_allowed"),
        ("DELETE", "/v1/accounts/alice", 405, "method_not_allowed"),
        ("POST", "/v1/checkpoint", 405, "method_not_allowed"),
        ("GET", "/v1/nope", 404, "not_found"),
        ("GET", "/nope", 404, "not_found"),
    ];
    for &(method, path, status, code) in cases {
        let r = agent()
            .request(method, &format!("{}{path}", d.base))
            .set("Authorization", &format!("Bearer {}", d.token))
            .set("Content-Type", "application/json")
            .send_string(r#"{"id":"t","debit":"bank","credit":"alice","amount":"1","currency":"EUR"}"#);
        let response = match r {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("{method} {path}: {e}"),
        };
        let what = format!("{method} {path}");
        assert_eq!(response.status(), status, "{what}");
        assert_eq!(response.header("content-type"), Some("application/json"), "{what}");
        let body: Value = response.into_json().unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(body["error"]["code"], code, "{what}: {body}");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(!message.is_empty(), "{what}: {body}");
    }
    // Messages name what the client sent, not internal types, and hint at amounts only
    // when an amount is the problem.
    let (status, body) = d.post("/v1/transfers", r#"[{"id":"t","debit":"bank"}]"#);
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("request_invalid")),
        "{body}"
    );
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("missing field"), "{message}");
    assert!(
        !message.contains("amounts are") && !message.contains("Json"),
        "{message}"
    );
    let (_, body) = d.post("/v1/transfers", "[3]");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("a transfer object") && !message.contains("Json"),
        "{message}"
    );
    // A time up to now (after the last entry) is the latest state; limits above the
    // page size are served as the page size.
    assert_eq!(d.get("/v1/accounts/alice/balance?at=2000-01-01T00:00:00Z").0, 404);
    let (status, body) = d.get("/v1/accounts?limit=100000");
    assert_eq!(status, 200, "{body}");
}

/// A second daemon on a locked store says so with its own code.
#[test]
fn a_locked_store_says_store_locked() {
    let d = setup("locked");
    let second = Daemon::try_start(&d.dir).err().expect("one process per store");
    assert!(second.contains("error[store_locked]"), "{second}");
}

/// `verify --dir` on a live store: the verifier has read a checkpoint whose partial
/// tiles a later commit replaced with full ones and deleted. Simulated exactly: the
/// store as it is now, with the checkpoint it had before the tiles filled up.
#[test]
fn verify_dir_reads_full_tiles_for_partials_deleted_mid_read() {
    let d = setup("verify-live");
    // The checkpoint file is published in the background: wait for each size.
    let published = |size: u64| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let note = std::fs::read(d.dir.join("log/checkpoint")).unwrap();
            if String::from_utf8_lossy(&note).lines().nth(1) == Some(&size.to_string()) {
                return note;
            }
            assert!(std::time::Instant::now() < deadline, "size {size} was never published");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    };
    let early = published(4);
    let accounts: Vec<String> = (0..300)
        .map(|i| format!(r#"{{"id":"v{i}","currency":"EUR"}}"#))
        .collect();
    assert_eq!(d.post("/v1/accounts", &format!("[{}]", accounts.join(","))).0, 200);
    published(304);
    // The publisher deletes superseded partials just after the checkpoint swap.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while d.dir.join("log/tile/entries/000.p").exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the partial bundle of size 4 is gone"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let dir = d.dir.clone();
    d.stop();
    std::fs::write(dir.join("log/checkpoint"), early).unwrap();
    let (ok, out, err) = run(&["verify", "--dir", dir.to_str().unwrap()]);
    assert!(ok, "{out}{err}");
    assert!(out.contains("verified: size 4"), "{out}");
}

/// A full batch is sequenced and committed in pieces (pipelining): linked chains stay
/// whole across piece boundaries, the answer covers every event, and `results=failures`
/// lists only the refusals, numbering the new entries from `first_index`.
#[test]
fn big_batches_are_pipelined_without_splitting_chains() {
    let d = setup("pipelined");
    let mut events = Vec::new();
    for i in 0..3000 {
        // Events 1020..1030 are one linked chain whose last transfer overdraws bob.
        let linked = (1020..1029).contains(&i);
        let (debit, amount) = if i == 1029 { ("bob", "1.00") } else { ("bank", "0.01") };
        events.push(format!(
            r#"{{"id":"p{i}","debit":"{debit}","credit":"alice","amount":"{amount}","currency":"EUR","linked":{linked}}}"#
        ));
    }
    let body = format!("[{}]", events.join(","));
    let (s, all) = d.post("/v1/transfers", &body);
    assert_eq!(s, 200, "{all}");
    let codes = codes(&all);
    assert_eq!(codes.len(), 3000);
    assert!(codes[..1020].iter().all(|c| c == "ok"));
    assert!(
        codes[1020..1029].iter().all(|c| c == "linked_event_failed"),
        "{:?}",
        &codes[1015..1035]
    );
    assert_eq!(codes[1029], "insufficient_funds");
    assert!(codes[1030..].iter().all(|c| c == "ok"));
    assert_eq!(all["accepted"], 2990);
    let (_, alice) = d.get("/v1/accounts/alice");
    assert_eq!(alice["balance"]["net"], "29.90");

    let failing = r#"[{"id":"f0","debit":"bank","credit":"bob","amount":"1.00","currency":"EUR"},
        {"id":"f1","debit":"nobody","credit":"bob","amount":"1.00","currency":"EUR"},
        {"id":"f2","debit":"bank","credit":"bob","amount":"2.00","currency":"EUR"}]"#;
    let (s, compact) = d.post("/v1/transfers?results=failures", failing);
    assert_eq!(s, 200, "{compact}");
    let results = compact["results"].as_array().unwrap();
    assert_eq!(results.len(), 1, "{compact}");
    assert_eq!(results[0]["event"], 1);
    assert_eq!(results[0]["code"], "account_not_found");
    assert_eq!(compact["accepted"], 2);
    let first = compact["first_index"].as_u64().unwrap();
    let (_, f2) = d.get("/v1/transfers/f2");
    assert_eq!(f2["index"].as_u64(), Some(first + 1), "{f2}");
    let (s, bad) = d.post("/v1/transfers?results=some", failing);
    assert_eq!((s, bad["error"]["code"].as_str()), (400, Some("request_invalid")));
}

#[test]
fn two_phase_transfers_reserve_post_and_void_and_survive_restart() {
    let d = setup("two-phase");
    let (_, body) = d.post(
        "/v1/transfers",
        r#"{"id":"fund","debit":"bank","credit":"alice","amount":"100.00","currency":"EUR"}"#,
    );
    assert_eq!(codes(&body), ["ok"]);
    // Authorise 60.00 (reserved: the limit counts it), then a second 60.00 is refused.
    let (s, body) = d.post(
        "/v1/transfers",
        r#"[{"id":"auth1","debit":"alice","credit":"bob","amount":"60.00","currency":"EUR","flags":["pending"]},
            {"id":"auth2","debit":"alice","credit":"bob","amount":"60.00","currency":"EUR","flags":["pending"]}]"#,
    );
    assert_eq!(
        (s, codes(&body)),
        (200, vec!["ok".to_string(), "insufficient_funds".into()])
    );
    let (_, alice) = d.get("/v1/accounts/alice/balance");
    let b = &alice["balance"];
    assert_eq!(
        (&b["debits"], &b["debits_pending"], &b["available"], &b["net"]),
        (&"0.00".into(), &"60.00".into(), &"40.00".into(), &"100.00".into()),
        "{alice}"
    );
    let (s, pending) = d.get("/v1/accounts/bob/pending");
    assert_eq!(s, 200, "{pending}");
    let open = pending["pending"].as_array().unwrap();
    assert_eq!(open.len(), 1, "{pending}");
    assert_eq!(
        (&open[0]["id"], &open[0]["side"], &open[0]["amount"]),
        (&"auth1".into(), &"credit".into(), &"60.00".into())
    );
    // Capture 45.00 of it (accounts and currency omitted: the pending transfer's); the
    // rest is released; a void afterwards is refused; a retry is idempotent.
    let capture = r#"{"id":"cap1","pending_id":"auth1","flags":["post_pending"],"amount":"45.00"}"#;
    let (s, body) = d.post("/v1/transfers", capture);
    assert_eq!((s, codes(&body)), (200, vec!["ok".to_string()]), "{body}");
    let cap_index = body["results"][0]["index"].as_u64().unwrap();
    let (_, again) = d.post("/v1/transfers", capture);
    assert_eq!(codes(&again), ["exists"]);
    let (_, body) = d.post(
        "/v1/transfers",
        r#"[{"id":"void1","pending_id":"auth1","flags":["void_pending"]},
            {"id":"cap2","pending_id":"nope","flags":["post_pending"]},
            {"id":"cap3","pending_id":"fund","flags":["post_pending"]},
            {"id":"x","debit":"alice","credit":"bob","amount":"1.00","currency":"EUR","flags":["pending"],"pending_id":"auth1"}]"#,
    );
    assert_eq!(
        codes(&body),
        [
            "pending_transfer_already_posted",
            "pending_transfer_not_found",
            "pending_transfer_not_pending",
            "pending_id_must_be_empty"
        ]
    );
    // A void releases everything.
    let (_, body) = d.post(
        "/v1/transfers",
        r#"[{"id":"auth3","debit":"alice","credit":"bob","amount":"5.00","currency":"EUR","flags":["pending"]},
            {"id":"void3","pending_id":"auth3","flags":["void_pending"]}]"#,
    );
    assert_eq!(codes(&body), ["ok", "ok"]);
    let check = |d: &Daemon| {
        let (_, alice) = d.get("/v1/accounts/alice/balance");
        let b = &alice["balance"];
        assert_eq!(
            (&b["debits"], &b["debits_pending"], &b["available"], &b["net"]),
            (&"45.00".into(), &"0.00".into(), &"55.00".into(), &"55.00".into()),
            "{alice}"
        );
        let (_, pending) = d.get("/v1/accounts/alice/pending");
        assert_eq!(pending["pending"], serde_json::json!([]), "{pending}");
        let (_, bob) = d.get("/v1/accounts/bob");
        assert_eq!(bob["balance"]["credits"], "45.00", "{bob}");
        assert_eq!(bob["balance"]["credits_pending"], "0.00", "{bob}");
        // The capture's entry names the pending transfer, its accounts and what it posted.
        let (_, t) = d.get("/v1/transfers/cap1");
        let e = &t["entry"];
        assert_eq!(
            (e["v"].as_u64(), &e["flags"], &e["pending_id"]),
            (Some(2), &serde_json::json!(["post_pending"]), &"auth1".into())
        );
        assert_eq!(
            (&e["debit"], &e["credit"], &e["amount"]),
            (&"alice".into(), &"bob".into(), &"45.00".into())
        );
        // Balance at an index replays the same rule: right after the capture.
        let (_, at) = d.get(&format!("/v1/accounts/alice/balance?at={cap_index}"));
        assert_eq!(at["balance"]["debits"], "45.00", "{at}");
        assert_eq!(at["balance"]["debits_pending"], "0.00", "{at}");
    };
    check(&d);
    // After a restart (replay, or the shutdown snapshot) the state is the same.
    let dir = d.dir.clone();
    d.stop();
    let d = Daemon::start(&dir);
    check(&d);
    let (ok, out, err) = run(&["verify", "--dir", dir.to_str().unwrap()]);
    assert!(ok, "{out}{err}");
}

#[test]
fn a_pending_transfer_with_a_timeout_expires_by_a_log_entry() {
    let d = setup("expiry");
    let (_, body) = d.post(
        "/v1/transfers",
        r#"[{"id":"fund","debit":"bank","credit":"alice","amount":"100.00","currency":"EUR"},
            {"id":"auth","debit":"alice","credit":"bob","amount":"30.00","currency":"EUR","flags":["pending"],"timeout":1},
            {"id":"x","debit":"alice","credit":"bob","amount":"1.00","currency":"EUR","timeout":5}]"#,
    );
    assert_eq!(codes(&body), ["ok", "ok", "timeout_reserved_for_pending"]);
    let (_, pending) = d.get("/v1/accounts/alice/pending");
    let open = &pending["pending"][0];
    assert_eq!(
        (&open["id"], &open["timeout"]),
        (&"auth".into(), &1.into()),
        "{pending}"
    );
    assert!(open["expires_at"].as_str().unwrap().ends_with('Z'), "{pending}");
    // The log's clock decides: the first batch sequenced after the timeout writes the
    // expiry entry before its own events, so the capture comes too late.
    std::thread::sleep(std::time::Duration::from_millis(1_300));
    let (_, body) = d.post(
        "/v1/transfers",
        r#"{"id":"cap","pending_id":"auth","flags":["post_pending"]}"#,
    );
    assert_eq!(codes(&body), ["pending_transfer_expired"]);
    let check = |d: &Daemon| {
        let (_, alice) = d.get("/v1/accounts/alice/balance");
        let b = &alice["balance"];
        assert_eq!(
            (&b["debits_pending"], &b["available"]),
            (&"0.00".into(), &"100.00".into()),
            "{alice}"
        );
        let (_, pending) = d.get("/v1/accounts/alice/pending");
        assert_eq!(pending["pending"], serde_json::json!([]), "{pending}");
        let (_, forged) = d.post(
            "/v1/transfers",
            r#"{"id":"f","pending_id":"auth","flags":["expire_pending"]}"#,
        );
        assert_eq!(codes(&forged), ["transfer_flags_invalid"]);
    };
    check(&d);
    let dir = d.dir.clone();
    d.stop();
    let d = Daemon::start(&dir);
    check(&d);
    let (ok, out, err) = run(&["verify", "--dir", dir.to_str().unwrap()]);
    assert!(ok, "{out}{err}");
}

#[test]
fn a_balancing_transfer_moves_at_most_the_balance_and_says_what_moved() {
    let d = setup("balancing");
    let (_, body) = d.post(
        "/v1/transfers",
        r#"[{"id":"fund","debit":"bank","credit":"alice","amount":"70.00","currency":"EUR"},
            {"id":"sweep","debit":"alice","credit":"bob","amount":"1000.00","currency":"EUR","flags":["balancing_debit"]},
            {"id":"more","debit":"alice","credit":"bob","amount":"1.00","currency":"EUR","flags":["balancing_debit"]}]"#,
    );
    assert_eq!(codes(&body), ["ok", "ok", "insufficient_funds"]);
    let (_, t) = d.get("/v1/transfers/sweep");
    assert_eq!(
        (&t["entry"]["amount"], &t["entry"]["flags"]),
        (&"70.00".into(), &serde_json::json!(["balancing_debit"])),
        "{t}"
    );
    let (_, alice) = d.get("/v1/accounts/alice/balance");
    assert_eq!(alice["balance"]["net"], "0.00", "{alice}");
}

#[test]
fn history_is_imported_with_its_original_times_resumably() {
    let dir = temp_dir("import");
    init(&dir);
    add_token(&dir, "alice-app", "alice-secret", "customer", &["alice"]);
    let d = Daemon::start(&dir);
    let file = dir.join("history.jsonl");
    let lines = [
        r#"{"type":"account","id":"bank","currency":"EUR","time":"2020-01-01T00:00:00Z"}"#,
        r#"{"type":"account","id":"alice","currency":"EUR","flags":["debits_must_not_exceed_credits"],"time":"2020-01-01T00:00:01Z"}"#,
        r#"{"v":1,"index":2,"time":"2020-01-02T09:00:00Z","type":"transfer","id":"old-1","debit":"bank","credit":"alice","amount":"100.00","currency":"EUR","reference":"salary","metadata":{},"linked":false}"#,
        r#"{"type":"transfer","id":"old-2","debit":"alice","credit":"bank","amount":"500.00","currency":"EUR","time":"2020-01-03T09:00:00Z"}"#,
        r#"{"type":"transfer","id":"old-3","debit":"alice","credit":"bank","amount":"5.00","currency":"EUR","time":"2020-01-04T09:00:00Z"}"#,
    ];
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    let import = |file: &std::path::Path| {
        run(&[
            "import",
            "--url",
            &d.base,
            "--token",
            &d.token,
            "--batch",
            "2",
            "--imported",
            file.to_str().unwrap(),
        ])
    };
    // old-2 overdraws alice: the import stops there, everything before it recorded.
    let (ok, out, err) = import(&file);
    assert!(!ok && err.contains("line 4: insufficient_funds"), "{out}{err}");
    let (_, t) = d.get("/v1/transfers/old-1");
    assert_eq!(t["entry"]["time"], "2020-01-02T09:00:00.000000000Z", "{t}");
    assert_eq!(t["entry"]["flags"], serde_json::json!(["imported"]), "{t}");
    // Fixed and run again: what was recorded answers exists, the rest goes in.
    std::fs::write(&file, lines.join("\n").replace("\"500.00\"", "\"50.00\"") + "\n").unwrap();
    let (ok, out, err) = import(&file);
    assert!(ok, "{out}{err}");
    assert!(out.contains("5 events, 2 recorded now, 3 already recorded"), "{out}");
    let (_, alice) = d.get("/v1/accounts/alice/balance");
    assert_eq!(alice["balance"]["net"], "45.00", "{alice}");
    // A CSV of new (not imported) events; the ledger's clock stamps them.
    let csv = dir.join("more.csv");
    std::fs::write(
        &csv,
        "type,id,debit,credit,amount,currency,reference\ntransfer,new-1,bank,alice,\"1.50\",EUR,\"rent, May\"\n",
    )
    .unwrap();
    let (ok, out, err) = run(&["import", "--url", &d.base, "--token", &d.token, csv.to_str().unwrap()]);
    assert!(ok && out.contains("1 recorded now"), "{out}{err}");
    let (_, t) = d.get("/v1/transfers/new-1");
    assert_eq!(t["entry"]["reference"], "rent, May", "{t}");
    // A customer may not back-date transfers.
    let (s, body) = d.post_as(
        "alice-secret",
        "/v1/transfers",
        r#"{"id":"x","debit":"alice","credit":"bank","amount":"1.00","currency":"EUR","flags":["imported"],"time":"2030-01-01T00:00:00Z"}"#,
    );
    assert_eq!(s, 403, "{body}");
    let (ok, out, err) = run(&["verify", "--dir", dir.to_str().unwrap()]);
    assert!(ok, "{out}{err}");
}

#[test]
fn a_closing_transfer_closes_an_account_until_it_is_voided() {
    let d = setup("closing");
    let (_, body) = d.post(
        "/v1/transfers",
        r#"[{"id":"fund","debit":"bank","credit":"alice","amount":"10.00","currency":"EUR"},
            {"id":"close","debit":"alice","credit":"bank","amount":"10.00","currency":"EUR","flags":["pending","closing_debit"]},
            {"id":"in","debit":"bank","credit":"alice","amount":"1.00","currency":"EUR"},
            {"id":"bad","debit":"bob","credit":"bank","amount":"1.00","currency":"EUR","flags":["closing_debit"]}]"#,
    );
    assert_eq!(
        codes(&body),
        ["ok", "ok", "account_closed", "closing_transfer_must_be_pending"]
    );
    assert_eq!(body["results"][2]["field"], "credit", "{body}");
    let closed = |d: &Daemon| d.get("/v1/accounts/alice/balance").1["balance"]["closed"] == true;
    assert!(closed(&d));
    let dir = d.dir.clone();
    d.stop();
    let d = Daemon::start(&dir);
    assert!(closed(&d), "closed across a restart");
    let (_, body) = d.post(
        "/v1/transfers",
        r#"[{"id":"reopen","pending_id":"close","flags":["void_pending"]},
            {"id":"in","debit":"bank","credit":"alice","amount":"1.00","currency":"EUR"}]"#,
    );
    assert_eq!(codes(&body), ["ok", "ok"]);
    assert!(!closed(&d));
}

#[test]
fn statements_filter_page_both_ways_and_carry_the_balance_after_each_posting() {
    let d = setup("statement");
    let (_, body) = d.post(
        "/v1/accounts",
        r#"[{"id":"carol","currency":"EUR","kind":"customer","metadata":{"segment":"retail","tier":2}},
            {"id":"fees","currency":"USD","kind":"revenue","metadata":{"segment":"internal"}}]"#,
    );
    assert_eq!(codes(&body), ["ok", "ok"]);
    // Ten transfers into alice, one out, a pending one and its capture.
    let mut batch = Vec::new();
    for i in 0..10 {
        batch.push(format!(
            r#"{{"id":"in-{i}","debit":"bank","credit":"alice","amount":"1.00","currency":"EUR","reference":"{}"}}"#,
            if i % 2 == 0 { "even" } else { "odd" }
        ));
    }
    batch.push(
        r#"{"id":"out","debit":"alice","credit":"bob","amount":"3.00","currency":"EUR","reference":"rent"}"#.into(),
    );
    batch.push(
        r#"{"id":"auth","debit":"alice","credit":"bank","amount":"2.00","currency":"EUR","flags":["pending"]}"#.into(),
    );
    batch.push(r#"{"id":"cap","pending_id":"auth","amount":"1.50","flags":["post_pending"]}"#.into());
    let (_, body) = d.post("/v1/transfers", &format!("[{}]", batch.join(",")));
    assert_eq!(codes(&body), ["ok"; 13], "{body}");

    // Every posting with the balance after it; the last one is the current balance.
    let (s, all) = d.get("/v1/accounts/alice/transfers");
    assert_eq!(s, 200, "{all}");
    let lines = all["transfers"].as_array().unwrap();
    assert_eq!(lines.len(), 13);
    assert_eq!(lines[0]["balance_after"]["net"], "1.00");
    assert_eq!(lines[10]["side"], "debit");
    assert_eq!(lines[10]["counterparty"], "bob");
    assert_eq!(lines[10]["balance_after"]["net"], "7.00");
    assert_eq!(lines[11]["phase"], "pending");
    assert_eq!(lines[11]["balance_after"]["debits_pending"], "2.00");
    assert_eq!(lines[12]["pending_id"], "auth");
    assert_eq!(lines[12]["balance_after"]["net"], "5.50");
    assert_eq!(lines[12]["balance_after"]["debits_pending"], "0.00");
    let (_, now) = d.get("/v1/accounts/alice/balance");
    assert_eq!(lines[12]["balance_after"], now["balance"]);
    assert_eq!((&all["next_after"], &all["next_before"]), (&Value::Null, &Value::Null));

    // Filters: direction, reference, phase, time range.
    let ids = |v: &Value, key: &str| -> Vec<String> {
        v[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| {
                l["id"]
                    .as_str()
                    .unwrap_or(l["transfer"].as_str().unwrap_or(""))
                    .to_string()
            })
            .collect()
    };
    let (_, debits) = d.get("/v1/accounts/alice/transfers?direction=debit");
    assert_eq!(ids(&debits, "transfers"), ["out", "auth", "cap"]);
    let (_, odd) = d.get("/v1/accounts/alice/transfers?reference=odd&direction=credit");
    assert_eq!(ids(&odd, "transfers"), ["in-1", "in-3", "in-5", "in-7", "in-9"]);
    let (_, two_phase) = d.get("/v1/accounts/alice/transfers?phase=pending,post_pending");
    assert_eq!(ids(&two_phase, "transfers"), ["auth", "cap"]);
    let from = lines[0]["time"].as_str().unwrap();
    let (_, none) = d.get(&format!("/v1/accounts/alice/transfers?to={from}"));
    assert_eq!(none["transfers"].as_array().unwrap().len(), 0, "to is exclusive");
    let (_, since) = d.get(&format!("/v1/accounts/alice/transfers?from={from}"));
    assert_eq!(since["transfers"].as_array().unwrap().len(), 13, "from is inclusive");

    // Paging forwards, then backwards from the end, covers the same lines.
    let mut forward = Vec::new();
    let mut path = "/v1/accounts/alice/transfers?limit=4".to_string();
    loop {
        let (s, page) = d.get(&path);
        assert_eq!(s, 200, "{page}");
        forward.extend(ids(&page, "transfers"));
        match page["next_after"].as_u64() {
            Some(after) => path = format!("/v1/accounts/alice/transfers?limit=4&after={after}"),
            None => break,
        }
    }
    let mut backward = Vec::new();
    let mut path = "/v1/accounts/alice/transfers?limit=4&before=18446744073709551615".to_string();
    loop {
        let (_, page) = d.get(&path);
        let mut page_ids = ids(&page, "transfers");
        page_ids.extend(backward);
        backward = page_ids;
        match page["next_before"].as_u64() {
            Some(before) => path = format!("/v1/accounts/alice/transfers?limit=4&before={before}"),
            None => break,
        }
    }
    assert_eq!(forward.len(), 13);
    assert_eq!(forward, backward);
    // Both bounds: the newest lines strictly between them.
    let (i1, i5) = (lines[1]["index"].as_u64().unwrap(), lines[5]["index"].as_u64().unwrap());
    let (_, between) = d.get(&format!("/v1/accounts/alice/transfers?after={i1}&before={i5}&limit=2"));
    assert_eq!(ids(&between, "transfers"), ["in-3", "in-4"]);
    assert!(
        between["next_before"].is_u64() && between["next_after"].is_u64(),
        "{between}"
    );

    // The balance history is the same walk, compact.
    let (_, history) = d.get("/v1/accounts/alice/balances?limit=2&before=18446744073709551615");
    let balances = history["balances"].as_array().unwrap();
    assert_eq!(ids(&history, "balances"), ["auth", "cap"]);
    assert_eq!(balances[1]["balance"], now["balance"]);
    assert!(history["next_before"].is_u64(), "{history}");

    // Bad filters are request_invalid and name the parameter.
    for (query, word) in [
        ("direction=sideways", "direction"),
        ("phase=posted,maybe", "phase"),
        ("from=yesterday", "from"),
        ("limit=0", "limit"),
        ("colour=red", "colour"),
    ] {
        let (s, body) = d.get(&format!("/v1/accounts/alice/transfers?{query}"));
        assert_eq!(s, 400, "{query}: {body}");
        assert_eq!(body["error"]["code"], "request_invalid", "{query}: {body}");
        assert!(
            body["error"]["message"].as_str().unwrap().contains(word),
            "{query}: {body}"
        );
    }
    assert_eq!(d.get("/v1/accounts/nobody/transfers").0, 404);
    // A customer reads its own statement only.
    assert_eq!(d.get_as("alice-secret", "/v1/accounts/alice/transfers").0, 200);
    assert_eq!(d.get_as("alice-secret", "/v1/accounts/bob/balances").0, 403);

    // Account listing by kind, currency and metadata.
    let list = |q: &str| -> Vec<String> {
        let (s, body) = d.get(&format!("/v1/accounts?{q}"));
        assert_eq!(s, 200, "{q}: {body}");
        body["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(list("kind=customer"), ["alice", "bob", "yen", "carol"]);
    assert_eq!(list("currency=USD"), ["fees"]);
    assert_eq!(list("metadata_key=segment"), ["carol", "fees"]);
    assert_eq!(list("metadata_key=segment&metadata_value=retail"), ["carol"]);
    assert_eq!(list("metadata_key=tier&metadata_value=2"), ["carol"]);
    assert_eq!(list("kind=customer&currency=EUR&limit=2"), ["alice", "bob"]);
    let (_, page) = d.get("/v1/accounts?kind=customer&limit=2");
    assert_eq!(page["next_after"], "bob");
    let (_, last) = d.get("/v1/accounts?kind=customer&after=yen");
    assert_eq!(last["next_after"], Value::Null, "{last}");
    assert_eq!(list("metadata_value=internal"), ["fees"], "a value under any key");
    assert!(list("currency=XXQ").is_empty(), "no account has an unknown currency");
    for q in ["kind=bank", "after=alice&limit=0"] {
        let (s, body) = d.get(&format!("/v1/accounts?{q}"));
        assert_eq!(
            (s, body["error"]["code"].as_str()),
            (400, Some("request_invalid")),
            "{q}: {body}"
        );
    }

    // The CLI asks the same questions.
    let (ok, out, err) = run(&[
        "transfers",
        "alice",
        "--url",
        &d.base,
        "--token",
        &d.token,
        "--direction",
        "debit",
        "--limit",
        "2",
    ]);
    assert!(
        ok && out.contains("\"out\"") && out.contains("next_after"),
        "{out}{err}"
    );
    let (ok, out, err) = run(&[
        "balances", "alice", "--url", &d.base, "--token", &d.token, "--before", "100",
    ]);
    assert!(ok && out.contains("balances"), "{out}{err}");
    let (ok, out, err) = run(&[
        "account",
        "list",
        "--url",
        &d.base,
        "--token",
        &d.token,
        "--metadata-key",
        "segment",
        "--metadata-value",
        "retail",
    ]);
    assert!(ok && out.contains("carol") && !out.contains("fees"), "{out}{err}");
}
