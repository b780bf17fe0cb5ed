//! End to end: post-quantum checkpoint signatures. With `ml_dsa_44 = true` the daemon
//! signs every checkpoint with Ed25519 and ML-DSA-44 (C2SP tlog-cosignature's type 0x06,
//! under the origin); `ledgerfs key --ml-dsa` prints the ML-DSA-44 verifier key, and the
//! verifier (`ledgerfs verify --url`, `verify --dir`, `verify receipt`) accepts either key.
//! An independent Python check (`tests/ml_dsa_check.py`, OpenSSL's FIPS 204 through the
//! `cryptography` package) verifies the signature from the spec text and re-derives the
//! key from the attest key as documented. A restart reads its dual-signed checkpoint back.

mod support;

use support::*;

#[test]
fn checkpoints_carry_ed25519_and_ml_dsa_44_signatures() {
    let base = temp_dir("post-quantum");
    let dir = base.join("data");
    init(&dir);
    set_config(&dir, "ml_dsa_44", "true");
    let d = Daemon::start(&dir);
    d.post(
        "/v1/accounts",
        r#"[{"id":"a","currency":"EUR"},{"id":"b","currency":"EUR"}]"#,
    );
    let (status, r) = d.post(
        "/v1/transfers?receipt=tlog-proof",
        r#"{"id":"t1","debit":"a","credit":"b","amount":"1.00","currency":"EUR"}"#,
    );
    assert_eq!(status, 200, "{r}");
    let (_, c) = d.get("/v1/checkpoint");
    let note = c["note"].as_str().unwrap().to_string();
    assert_eq!(note.matches("\n\u{2014} e2e.test/log ").count(), 2, "{note}");
    let (ok, pq, err) = run(&["key", "--data", dir.to_str().unwrap(), "--ml-dsa"]);
    assert!(ok, "{err}");
    let pq = pq.trim().to_string();
    assert!(pq.starts_with("e2e.test/log+") && pq.len() > 1700, "{pq}");
    let ed = log_vkey(&dir);
    for key in [&pq, &ed] {
        let (ok, out, err) = run(&["verify", "--url", &d.base, "--token", &d.token, "--vkey", key]);
        assert!(ok, "{out}{err}");
    }
    let receipt = base.join("t1.tlog-proof");
    std::fs::write(&receipt, r["results"][0]["tlog_proof"].as_str().unwrap()).unwrap();
    let (ok, out, err) = run(&["verify", "receipt", receipt.to_str().unwrap(), "--vkey", &pq]);
    assert!(ok && out.contains("transfer t1"), "{out}{err}");
    let note_file = base.join("checkpoint.note");
    std::fs::write(&note_file, &note).unwrap();
    if have_python_cryptography() {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/ml_dsa_check.py");
        let out = std::process::Command::new("python3")
            .args([script, &pq, note_file.to_str().unwrap()])
            .arg(dir.join("attest.key"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        // The same script refuses a note whose root was changed.
        let lines: Vec<&str> = note.lines().collect();
        // Another first character: its six bits are all root bits (the last one's are not).
        let other = if lines[2].starts_with('A') { "B" } else { "A" };
        let forged = note.replacen(lines[2], &format!("{other}{}", &lines[2][1..]), 1);
        std::fs::write(&note_file, forged).unwrap();
        let out = std::process::Command::new("python3")
            .args([script, &pq, note_file.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(!out.status.success(), "a forged root passed the Python check");
    }
    // Restart: the attestor reads its dual-signed checkpoint back and keeps signing both.
    d.stop();
    let d = Daemon::start(&dir);
    d.post(
        "/v1/transfers",
        r#"{"id":"t2","debit":"a","credit":"b","amount":"2.00","currency":"EUR"}"#,
    );
    d.stop();
    let (ok, out, err) = run(&["verify", "--dir", dir.to_str().unwrap(), "--vkey", &pq]);
    assert!(ok, "{out}{err}");
}
