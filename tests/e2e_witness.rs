//! End to end: three `ledgerfs witness` servers on loopback witness a running LedgerFS log
//! with the C2SP tlog-witness protocol. Each cosigns the first checkpoint (old 0) and the
//! next one with its consistency proof; a stale old size is 409 with the latest size; a
//! fork signed with the log's own key (the operator showing two histories) is refused;
//! a bad proof is 422; an unknown log 404; a restarted witness keeps its state; every
//! cosignature checks with `CosignatureVerifier` and with an independent Python check that
//! follows the spec text (when the `cryptography` package is there).

mod support;

use std::process::Command;
use std::time::Duration;

use ledgerfs_attest::{sign_checkpoint, Checkpoint, CosignatureVerifier, SignerKey};
use support::*;

/// POSTs an add-checkpoint body: (status, content type, body).
fn submit(w: &Witness, old: u64, proof: &[String], note: &str) -> (u16, String, String) {
    let mut body = format!("old {old}\n");
    for p in proof {
        body.push_str(p);
        body.push('\n');
    }
    body.push('\n');
    body.push_str(note);
    match agent().post(&format!("{}/add-checkpoint", w.base)).send_string(&body) {
        Ok(r) => (r.status(), r.content_type().to_string(), r.into_string().unwrap()),
        Err(ureq::Error::Status(s, r)) => (s, r.content_type().to_string(), r.into_string().unwrap()),
        Err(e) => panic!("{e}"),
    }
}

fn python_check(vkey: &str, note: &str, dir: &std::path::Path) {
    let have = Command::new("python3")
        .args(["-c", "import cryptography"])
        .status()
        .is_ok_and(|s| s.success());
    if !have {
        eprintln!("skipping the Python cosignature check: no cryptography package");
        return;
    }
    let file = dir.join("cosigned.note");
    std::fs::write(&file, note).unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/witness_check.py");
    let out = Command::new("python3")
        .args([script, vkey, file.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn three_witnesses_cosign_and_refuse_forks() {
    let base = temp_dir("witness");
    let dir = base.join("data");
    init(&dir);
    let d = Daemon::start(&dir);
    d.post(
        "/v1/accounts",
        r#"[{"id":"a","currency":"EUR"},{"id":"b","currency":"EUR"}]"#,
    );
    d.post(
        "/v1/transfers",
        r#"{"id":"t1","debit":"a","credit":"b","amount":"1.00","currency":"EUR"}"#,
    );
    let vkey = log_vkey(&dir);
    let mut witnesses = Vec::new();
    for i in 1..=3 {
        let wdir = base.join(format!("w{i}"));
        let out = init_witness(&wdir, &format!("witness.test/w{i}"), vkey.trim());
        assert!(out.starts_with(&format!("witness.test/w{i}+")), "{out}");
        witnesses.push((wdir.clone(), start_witness(&wdir)));
    }
    let (_, c1) = d.get("/v1/checkpoint");
    let (size1, note1) = (c1["size"].as_u64().unwrap(), c1["note"].as_str().unwrap().to_string());
    for (wdir, w) in &witnesses {
        let (status, kind, line) = submit(w, 0, &[], &note1);
        assert_eq!((status, kind.as_str()), (200, "text/plain"), "{line}");
        assert!(line.starts_with('\u{2014}') && line.ends_with('\n'), "{line}");
        let cosigned = format!("{note1}{line}");
        let verifier = CosignatureVerifier::parse(&w.vkey).unwrap();
        assert!(verifier.verify(cosigned.as_bytes()).is_ok());
        python_check(&w.vkey, &cosigned, wdir);
    }
    // The log grows: each witness gets the consistency proof from what it cosigned.
    d.post(
        "/v1/transfers",
        r#"{"id":"t2","debit":"a","credit":"b","amount":"2.00","currency":"EUR"}"#,
    );
    let (_, c2) = d.get(&format!("/v1/proofs/consistency?from={size1}"));
    let proof: Vec<String> = c2["proof"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h.as_str().unwrap().to_string())
        .collect();
    let note2 = c2["checkpoint"]["note"].as_str().unwrap().to_string();
    let size2 = c2["to"].as_u64().unwrap();
    for (_, w) in &witnesses {
        let (status, _, line) = submit(w, size1, &proof, &note2);
        assert_eq!(status, 200, "{line}");
    }
    let w1 = &witnesses[0].1;
    // A stale old size: 409 and the latest size.
    let (status, kind, body) = submit(w1, size1, &proof, &note2);
    assert_eq!(
        (status, kind.as_str(), body),
        (409, "text/x.tlog.size", format!("{size2}\n"))
    );
    // The operator (who holds the log key) signs another history at the same size: a fork.
    let key = SignerKey::parse(std::fs::read_to_string(dir.join("attest.key")).unwrap().trim()).unwrap();
    let fork = |size: u64, root: [u8; 32]| {
        sign_checkpoint(
            &key,
            &Checkpoint {
                origin: "e2e.test/log".into(),
                size,
                root,
                extensions: Vec::new(),
            },
        )
        .unwrap()
    };
    assert_eq!(
        submit(w1, size2, &[], &fork(size2, [7; 32])).0,
        409,
        "a second root at one size"
    );
    assert_eq!(
        submit(w1, size2, &proof, &fork(size2 + 3, [8; 32])).0,
        422,
        "an inconsistent larger tree"
    );
    // Another log's checkpoint, and a body that is not one.
    let stranger = SignerKey::from_seed("other.test/log", [5; 32]).unwrap();
    let other = sign_checkpoint(
        &stranger,
        &Checkpoint {
            origin: "other.test/log".into(),
            size: 1,
            root: [1; 32],
            extensions: Vec::new(),
        },
    )
    .unwrap();
    assert_eq!(submit(w1, 0, &[], &other).0, 404);
    let r = agent()
        .post(&format!("{}/add-checkpoint", w1.base))
        .send_string("hello");
    assert!(matches!(r, Err(ureq::Error::Status(400, _))));
    // The monitoring endpoint: the latest cosigned checkpoint.
    let latest = agent()
        .get(&format!("{}/checkpoint?origin=e2e.test/log", w1.base))
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    assert!(
        latest.starts_with(&note2) && latest.contains("\u{2014} witness.test/w1 "),
        "{latest}"
    );
    // A restarted witness keeps its state.
    let (wdir, w) = witnesses.remove(0);
    drop(w);
    // (It listens before it says so: the first request is served.)
    let w = start_witness(&wdir);
    let (status, _, body) = submit(&w, 0, &[], &note1);
    assert_eq!((status, body), (409, format!("{size2}\n")));

    // The log side: a C2SP tlog-policy with a 2-of-3 quorum, the collector, and the verifier.
    let all = [&w, &witnesses[0].1, &witnesses[1].1];
    let mut policy = format!("log {}\n", vkey.trim());
    for (i, x) in all.iter().enumerate() {
        policy.push_str(&format!("witness W{} {} {}\n", i + 1, x.vkey, x.base));
    }
    policy.push_str("group two-of-three 2 W1 W2 W3\nquorum two-of-three\n");
    let policy_file = base.join("policy.txt");
    std::fs::write(&policy_file, policy).unwrap();
    d.post(
        "/v1/transfers",
        r#"{"id":"t3","debit":"a","credit":"b","amount":"3.00","currency":"EUR"}"#,
    );
    let witnessed = base.join("witnessed.checkpoint");
    let collect = |out: &std::path::Path| {
        Command::new(bin())
            .args(["witness", "collect", "--url", &d.base, "--token", &d.token, "--policy"])
            .arg(&policy_file)
            .arg("--out")
            .arg(out)
            .output()
            .unwrap()
    };
    let out = collect(&witnessed);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let note = std::fs::read_to_string(&witnessed).unwrap();
    assert_eq!(note.matches("\n\u{2014} witness.test/").count(), 3, "{note}");
    let verify = |file: &std::path::Path| {
        run(&[
            "verify",
            "--url",
            &d.base,
            "--token",
            &d.token,
            "--vkey",
            vkey.trim(),
            "--policy",
            policy_file.to_str().unwrap(),
            "--witnessed",
            file.to_str().unwrap(),
        ])
    };
    let (ok, out, err) = verify(&witnessed);
    assert!(
        ok && out.contains("cosigned by 3") && out.contains("quorum met"),
        "{out}{err}"
    );
    // Two witnesses down: one cosignature, the quorum is not met, and the verifier says so.
    drop(w);
    drop(witnesses);
    let (_, third) = (0, start_witness(&base.join("w3")));
    let lonely = base.join("lonely.checkpoint");
    d.post(
        "/v1/transfers",
        r#"{"id":"t4","debit":"a","credit":"b","amount":"4.00","currency":"EUR"}"#,
    );
    let out = collect(&lonely);
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    let (ok, _, err) = verify(&lonely);
    assert!(!ok && err.contains("does not meet the policy's quorum"), "{err}");
    drop(third);
}

#[test]
fn the_daemon_publishes_only_witnessed_checkpoints() {
    let base = temp_dir("witnessed");
    let dir = base.join("data");
    init(&dir);
    let vkey = log_vkey(&dir);
    let mut witnesses = Vec::new();
    let mut policy = format!("log {vkey}\n");
    for i in 1..=3 {
        let wdir = base.join(format!("w{i}"));
        init_witness(&wdir, &format!("witness.test/w{i}"), &vkey);
        let w = start_witness(&wdir);
        policy.push_str(&format!("witness W{i} {} {}\n", w.vkey, w.base));
        witnesses.push((wdir, Some(w)));
    }
    policy.push_str("group two-of-three 2 W1 W2 W3\nquorum two-of-three\n");
    let policy_file = base.join("policy.txt");
    std::fs::write(&policy_file, &policy).unwrap();
    let policy_arg = ["--policy", policy_file.to_str().unwrap()];
    let d = Daemon::try_start_with(&dir, &policy_arg).unwrap();
    let w1_listen = witnesses[0]
        .1
        .as_ref()
        .unwrap()
        .base
        .trim_start_matches("http://")
        .to_string();
    d.post(
        "/v1/accounts",
        r#"[{"id":"a","currency":"EUR"},{"id":"b","currency":"EUR"}]"#,
    );

    // A receipt that waits for the witnesses: a tlog-proof per result under a checkpoint
    // that carries at least two cosignatures.
    let (status, r) = d.post(
        "/v1/transfers?receipt=witnessed,tlog-proof",
        r#"{"id":"t1","debit":"a","credit":"b","amount":"1.00","currency":"EUR"}"#,
    );
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["witnessed"], true, "{r}");
    let receipt = r["results"][0]["tlog_proof"]
        .as_str()
        .expect("a tlog_proof")
        .to_string();
    assert!(receipt.starts_with("c2sp.org/tlog-proof@v1\nextra "), "{receipt}");
    assert!(receipt.matches("\n\u{2014} witness.test/").count() >= 2, "{receipt}");
    let (size, note) = published(&d);
    assert!(
        size >= 3 && note.matches("\n\u{2014} witness.test/").count() >= 2,
        "{note}"
    );
    let file = base.join("t1.tlog-proof");
    std::fs::write(&file, &receipt).unwrap();
    let verify_receipt = |extra: &[&str]| {
        let mut args = vec!["verify", "receipt", file.to_str().unwrap()];
        args.extend_from_slice(extra);
        run(&args)
    };
    let (ok, out, err) = verify_receipt(&["--policy", policy_file.to_str().unwrap()]);
    assert!(
        ok && out.contains("transfer t1") && out.contains("quorum met"),
        "{out}{err}"
    );
    let (ok, _, err) = verify_receipt(&["--vkey", &vkey]);
    assert!(ok, "{err}");
    if have_python_cryptography() {
        let out = Command::new("python3")
            .args([
                concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/tlog_proof_check.py"),
                &vkey,
            ])
            .arg(&file)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    // Tampering: another entry, another index, a cosignature removed below the quorum.
    let index = r["results"][0]["index"].as_u64().unwrap();
    for (what, forged) in [
        (
            "index",
            receipt.replacen(&format!("index {index}\n"), &format!("index {}\n", index - 1), 1),
        ),
        ("entry", {
            let line = receipt.lines().nth(1).unwrap().to_string();
            let mut bytes = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, &line[6..]).unwrap();
            let last = bytes.len() - 1;
            bytes[last] ^= 1;
            receipt.replacen(
                &line,
                &format!(
                    "extra {}",
                    base64::Engine::encode(&base64::engine::general_purpose::STANDARD, bytes)
                ),
                1,
            )
        }),
        ("cosignatures", {
            let keep: Vec<&str> = receipt
                .lines()
                .filter(|l| !l.starts_with("\u{2014} witness.test/"))
                .collect();
            keep.join("\n") + "\n"
        }),
    ] {
        std::fs::write(&file, forged).unwrap();
        let (ok, _, err) = verify_receipt(&["--policy", policy_file.to_str().unwrap()]);
        assert!(!ok && err.contains("does not verify"), "a forged {what} passed: {err}");
    }
    // A balance proof under a cosigned checkpoint, checked with the policy; its
    // cosignatures stripped below the quorum, refused.
    let (status, proof) = d.get_text_as(&d.token, "/v1/accounts/b/balance-proof?witnessed=true");
    assert_eq!(status, 200, "{proof}");
    let proof_file = base.join("b.balance-proof.json");
    let verify_balance = |text: &str| {
        std::fs::write(&proof_file, text).unwrap();
        run(&[
            "verify",
            "balance",
            proof_file.to_str().unwrap(),
            "--policy",
            policy_file.to_str().unwrap(),
        ])
    };
    let (ok, out, err) = verify_balance(&proof);
    assert!(
        ok && out.contains("account \"b\" has") && out.contains("quorum met"),
        "{out}{err}"
    );
    let stripped: serde_json::Value = serde_json::from_str(&proof).unwrap();
    let tlog = stripped["tlog_proof"].as_str().unwrap();
    let keep: Vec<&str> = tlog
        .lines()
        .filter(|l| !l.starts_with("\u{2014} witness.test/"))
        .collect();
    let forged = proof.replace(
        &serde_json::to_string(tlog).unwrap(),
        &serde_json::to_string(&(keep.join("\n") + "\n")).unwrap(),
    );
    assert_ne!(forged, proof);
    let (ok, _, err) = verify_balance(&forged);
    assert!(!ok && err.contains("does not verify"), "{err}");
    // The proof wrote a commitment entry: the log is one longer.
    let size = d.get("/v1/checkpoint").1["size"].as_u64().unwrap();

    // The inclusion endpoint serves the same format.
    let (status, text) = d.get_text_as(
        &d.token,
        &format!("/v1/proofs/inclusion?index={index}&format=tlog-proof"),
    );
    assert_eq!(status, 200, "{text}");
    std::fs::write(&file, &text).unwrap();
    assert!(verify_receipt(&["--policy", policy_file.to_str().unwrap()]).0, "{text}");
    assert_eq!(metric(&d, "ledgerfs_witness_quorum_met"), "1");
    assert!(
        metric(&d, "ledgerfs_witness_latency_seconds{witness=\"W1\"}")
            .parse::<f64>()
            .unwrap()
            > 0.0
    );

    // Two witnesses down: writes are still acknowledged, the published checkpoint stays.
    witnesses[0].1 = None;
    witnesses[1].1 = None;
    let (before, _) = eventually("the last write published", Duration::from_secs(20), || {
        let p = published(&d);
        (p.0 == size).then_some(p)
    });
    let (status, r) = d.post(
        "/v1/transfers?receipt=witnessed&wait_ms=1000",
        r#"{"id":"t2","debit":"a","credit":"b","amount":"2.00","currency":"EUR"}"#,
    );
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["witnessed"], false, "{r}");
    assert!(r["checkpoint"]["size"].as_u64().unwrap() > before);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(published(&d).0, before, "an unwitnessed checkpoint was published");
    assert_eq!(metric(&d, "ledgerfs_witness_quorum_met"), "0");
    assert!(metric(&d, "ledgerfs_unpublished_entries").parse::<u64>().unwrap() >= 1);
    assert!(
        metric(&d, "ledgerfs_witness_failures_total{witness=\"W1\"}")
            .parse::<u64>()
            .unwrap()
            >= 1
    );

    // A crash while the quorum is missed: the store reopens from its integrated
    // checkpoint, the published one is still the witnessed one, nothing is lost.
    d.kill();
    let d = Daemon::try_start_with(&dir, &policy_arg).unwrap();
    assert_eq!(published(&d).0, before);
    let (_, t2) = d.get("/v1/transfers/t2");
    assert_eq!(t2["entry"]["amount"], "2.00", "{t2}");
    // One witness back (with its state): two of three again, and publication resumes.
    let (wdir, _) = &witnesses[0];
    witnesses[0].1 = Some(start_witness_at(wdir, &w1_listen));
    let (_, now) = d.get("/v1/checkpoint");
    let target = now["size"].as_u64().unwrap();
    let (_, note) = eventually("publication resumed", Duration::from_secs(30), || {
        let p = published(&d);
        (p.0 >= target).then_some(p)
    });
    assert!(note.matches("\n\u{2014} witness.test/").count() >= 2, "{note}");
    let witnessed = base.join("published.checkpoint");
    std::fs::write(&witnessed, &note).unwrap();
    let (ok, out, err) = run(&[
        "verify",
        "--url",
        &d.base,
        "--token",
        &d.token,
        "--vkey",
        &vkey,
        "--policy",
        policy_file.to_str().unwrap(),
        "--witnessed",
        witnessed.to_str().unwrap(),
    ]);
    assert!(ok && out.contains("quorum met"), "{out}{err}");
    d.stop();
}
