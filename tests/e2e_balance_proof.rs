//! End to end: balance proofs. A running daemon proves an account's balance (and an
//! unknown id's absence) with a balance commitment entry it writes on demand, proves it
//! again from the same entry while nothing changed, writes commitments every N entries
//! when configured, and refuses bad ids and other customers' accounts. After the daemon
//! is gone, `ledgerfs verify balance` checks each proof offline with the log's key, and
//! refuses a tampered record, path, absence, commitment or checkpoint (and so does an
//! independent Python check of the formats, `tests/balance_proof_check.py`); `ledgerfs
//! verify --dir` re-derives every commitment by replay.

mod support;

use serde_json::Value;
use support::*;

/// GETs a balance proof: (status, body text).
fn balance_proof(d: &Daemon, token: &str, id: &str) -> (u16, String) {
    d.get_text_as(token, &format!("/v1/accounts/{id}/balance-proof"))
}

fn index_of(proof: &str) -> u64 {
    let file: Value = serde_json::from_str(proof).unwrap();
    let text = file["tlog_proof"].as_str().unwrap();
    let line = text.lines().find(|l| l.starts_with("index ")).unwrap();
    line[6..].parse().unwrap()
}

#[test]
fn balances_are_proved_from_commitment_entries_and_checked_offline() {
    let base = temp_dir("balance-proof");
    let dir = base.join("data");
    init(&dir);
    add_token(&dir, "alice-app", "alice-token", "customer", &["alice"]);
    let d = Daemon::start(&dir);
    let (status, r) = d.post(
        "/v1/accounts",
        r#"[{"id":"bank","currency":"EUR"},{"id":"alice","currency":"EUR"},{"id":"carol","currency":"EUR"}]"#,
    );
    assert_eq!(status, 200, "{r}");
    let (status, r) = d.post(
        "/v1/transfers",
        r#"[{"id":"t1","debit":"bank","credit":"alice","amount":"10.50","currency":"EUR"},
            {"id":"t2","debit":"bank","credit":"carol","amount":"3.00","currency":"EUR"}]"#,
    );
    assert_eq!(status, 200, "{r}");
    let (_, c) = d.get("/v1/checkpoint");
    assert_eq!(c["size"], 5);

    // The first proof writes a commitment entry (index 5) and proves alice under it.
    let (status, alice) = balance_proof(&d, &d.token, "alice");
    assert_eq!(status, 200, "{alice}");
    let file: Value = serde_json::from_str(&alice).unwrap();
    assert_eq!(file["format"], "ledgerfs-balance-proof/v1");
    let record: Value = serde_json::from_str(file["record"]["record"].as_str().unwrap()).unwrap();
    assert_eq!(record["credits_posted"], "10.50", "{record}");
    assert_eq!(index_of(&alice), 5);
    let (status, entry) = d.get("/v1/entries/5");
    assert_eq!(status, 200, "{entry}");
    assert_eq!(entry["type"], "balance_commitment", "{entry}");
    assert_eq!((entry["v"].as_u64(), entry["accounts"].as_u64()), (Some(3), Some(3)));
    // Nothing changed: the same entry proves it again, and carol, and an absence.
    let (_, again) = balance_proof(&d, &d.token, "alice");
    assert_eq!(index_of(&again), 5);
    let (_, carol) = balance_proof(&d, &d.token, "carol");
    assert_eq!(index_of(&carol), 5);
    let (status, nobody) = balance_proof(&d, &d.token, "bob");
    assert_eq!(status, 200, "{nobody}");
    let absent: Value = serde_json::from_str(&nobody).unwrap();
    assert!(absent["record"].is_null() && absent["before"].is_object() && absent["after"].is_object());
    assert_eq!(index_of(&nobody), 5);
    // The customer's own account, yes; another's, no; a bad id is a clear 400.
    let (status, own) = balance_proof(&d, "alice-token", "alice");
    assert_eq!((status, index_of(&own)), (200, 5), "{own}");
    let (status, body) = balance_proof(&d, "alice-token", "carol");
    assert_eq!(status, 403, "{body}");
    let (status, body) = balance_proof(&d, &d.token, "bad%20id");
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("\"code\":\"id_invalid\""), "{body}");

    // A change to alice: her next proof needs (and gets) a new commitment; carol's old
    // one is still current.
    let (status, r) = d.post(
        "/v1/transfers",
        r#"{"id":"t3","debit":"alice","credit":"bank","amount":"0.50","currency":"EUR"}"#,
    );
    assert_eq!(status, 200, "{r}");
    let (_, carol_again) = balance_proof(&d, &d.token, "carol");
    assert_eq!(index_of(&carol_again), 5);
    let (_, alice_now) = balance_proof(&d, &d.token, "alice");
    assert_eq!(index_of(&alice_now), 7);
    let record: Value = serde_json::from_str(
        serde_json::from_str::<Value>(&alice_now).unwrap()["record"]["record"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(record["debits_posted"], "0.50");
    d.stop();

    // Periodic commitments: every 4 entries, after the batch that crosses a multiple.
    set_config(&dir, "balance_commitment_every", "4");
    set_config(&dir, "balance_commitment_per_account", "0");
    let d = Daemon::start(&dir);
    for i in 0..8 {
        let body = format!(r#"{{"id":"p{i}","debit":"bank","credit":"carol","amount":"1.00","currency":"EUR"}}"#);
        assert_eq!(d.post("/v1/transfers", &body).0, 200);
    }
    let (_, c) = d.get("/v1/checkpoint");
    let size = c["size"].as_u64().unwrap();
    let commitments = (8..size)
        .filter(|i| d.get(&format!("/v1/entries/{i}")).1["type"] == "balance_commitment")
        .count();
    assert_eq!(
        (size, commitments),
        (18, 2),
        "8 + 8 transfers + commitments at 12 and 16"
    );
    d.stop();

    // Offline, with the log's key only.
    let vkey = log_vkey(&dir);
    let check = |name: &str, text: &str| {
        let path = base.join(format!("{name}.json"));
        std::fs::write(&path, text).unwrap();
        run(&["verify", "balance", path.to_str().unwrap(), "--vkey", &vkey])
    };
    let (ok, out, err) = check("alice", &alice);
    assert!(
        ok && out.contains("verified balance: account \"alice\" has {\"id\":\"alice\"")
            && out.contains("as of log size 5"),
        "{out}{err}"
    );
    let (ok, out, err) = check("bob", &nobody);
    assert!(ok && out.contains("no account has id \"bob\""), "{out}{err}");
    assert!(check("alice-now", &alice_now).0);
    let path_hash = file["record"]["path"][0].as_str().unwrap().to_string();
    let flipped = format!(
        "{}{}",
        if path_hash.starts_with('0') { "1" } else { "0" },
        &path_hash[1..]
    );
    let tlog = file["tlog_proof"].as_str().unwrap();
    let forged_checkpoint = {
        let mut t = tlog.to_string();
        let sig = t.rfind("\u{2014} ").unwrap();
        t.replace_range(sig + 20..sig + 24, "AAAA");
        t
    };
    for (what, forged) in [
        ("record", alice.replace("10.50", "99.50")),
        ("path", alice.replace(&path_hash, &flipped)),
        (
            "account",
            alice.replace("\"account\":\"alice\"", "\"account\":\"carol\""),
        ),
        (
            "absence",
            nobody.replace("\"account\":\"bob\"", "\"account\":\"alice\""),
        ),
        (
            "commitment",
            alice.replace(
                &serde_json::to_string(tlog).unwrap(),
                &serde_json::to_string(&tlog.replace("index 5\n", "index 4\n")).unwrap(),
            ),
        ),
        (
            "checkpoint",
            alice.replace(
                &serde_json::to_string(tlog).unwrap(),
                &serde_json::to_string(&forged_checkpoint).unwrap(),
            ),
        ),
        ("file", "{\"format\":\"x\"}".to_string()),
    ] {
        let (ok, out, err) = check("forged", &forged);
        assert!(
            !ok && err.contains("does not verify"),
            "a forged {what} passed: {out}{err}"
        );
    }
    // The same proofs checked by an independent script that follows the formats' text.
    if have_python_cryptography() {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/balance_proof_check.py");
        for (name, text, expect) in [
            ("alice", &alice, "present {\"id\":\"alice\""),
            ("bob", &nobody, "absent"),
            ("forged", &alice.replace("10.50", "99.50"), ""),
        ] {
            let path = base.join(format!("{name}.py.json"));
            std::fs::write(&path, text).unwrap();
            let out = std::process::Command::new("python3")
                .args([script, &vkey, path.to_str().unwrap()])
                .output()
                .unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout);
            if expect.is_empty() {
                assert!(!out.status.success(), "the script passed a forged record: {stdout}");
            } else {
                assert!(
                    out.status.success() && stdout.contains(expect),
                    "{stdout}{}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
    }
    // The whole store: replay re-derives every commitment entry.
    let (ok, out, err) = run(&["verify", "--dir", dir.to_str().unwrap()]);
    assert!(ok, "{out}{err}");
}
