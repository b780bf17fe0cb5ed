//! End-to-end safeguarding reconciliation against a running daemon, with real ISO 20022
//! camt.053 files and a CSV statement (tests/fixtures/statements/, their day replaced by
//! the day the ledger posted on): a statement that matches, one with a wrong closing
//! balance, one with a line the ledger lacks; the correcting transfer and a rerun that
//! matches; the internal reconciliation and its shortfall; resolutions (once each); the
//! break log surviving a restart and passing `ledgerfs verify`; and the refusals.

mod support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use support::*;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/statements");

/// A fixture with its day set to `day`.
fn fixture(name: &str, day: &str) -> String {
    std::fs::read_to_string(Path::new(FIXTURES).join(name))
        .unwrap()
        .replace("2026-11-30", day)
}

/// POSTs a statement body of `content_type`: (status, JSON).
fn post_statement(d: &Daemon, token: &str, query: &str, content_type: &str, body: &str) -> (u16, Value) {
    decode(
        agent()
            .post(&format!("{}/v1/reconciliations{query}", d.base))
            .set("Authorization", &format!("Bearer {token}"))
            .set("Content-Type", content_type)
            .send_string(body),
    )
}

fn kinds(body: &Value) -> Vec<(String, String)> {
    body["breaks"]
        .as_array()
        .unwrap_or_else(|| panic!("no breaks in {body}"))
        .iter()
        .map(|b| {
            (
                b["kind"].as_str().unwrap().to_string(),
                b["reference"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Runs `ledgerfs ARGS` with a deadline: (exit code, stdout, stderr).
fn cli(args: &[&str]) -> (Option<i32>, String, String) {
    let mut child = Command::new(bin())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ledgerfs");
    let status = wait_until(&mut child, Duration::from_secs(30));
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
        panic!("ledgerfs {args:?} did not finish in 30 s");
    }
    let out = child.wait_with_output().unwrap();
    (
        status.unwrap().code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn statements_breaks_resolutions_and_the_break_log() {
    let dir = temp_dir("recon");
    init(&dir);
    add_token(&dir, "audit-team", "auditor-token", "auditor", &[]);
    add_token(&dir, "alice-app", "alice-token", "customer", &["alice"]);
    let d = Daemon::start(&dir);
    let (status, body) = d.post(
        "/v1/accounts",
        r#"[{"id":"safe_eur","currency":"EUR","kind":"safeguarding"},
            {"id":"alice","currency":"EUR","kind":"customer"},
            {"id":"bob","currency":"EUR","kind":"customer"},
            {"id":"ops","currency":"EUR","kind":"operational"}]"#,
    );
    assert_eq!((status, codes(&body)), (200, vec!["ok".to_string(); 4]), "{body}");
    let (status, body) = d.post(
        "/v1/transfers",
        r#"[{"id":"t1","debit":"safe_eur","credit":"alice","amount":"1000.00","currency":"EUR","reference":"FUND-ALICE"},
            {"id":"t2","debit":"safe_eur","credit":"bob","amount":"250.00","currency":"EUR","reference":"FUND-BOB"},
            {"id":"t3","debit":"bob","credit":"safe_eur","amount":"100.00","currency":"EUR","reference":"REDEEM-BOB"}]"#,
    );
    assert_eq!((status, codes(&body)), (200, vec!["ok".to_string(); 3]), "{body}");
    let day = body["results"][0]["time"].as_str().unwrap()[..10].to_string();
    let at = format!("?account=safe_eur&date={day}");
    let data = dir.to_str().unwrap();

    // Internal: owed 1,150.00 to customers, 1,150.00 held.
    let (status, body) = d.get("/v1/safeguarding");
    assert_eq!(status, 200, "{body}");
    let eur = &body["positions"][0];
    assert_eq!(
        (
            eur["currency"].as_str(),
            eur["requirement"].as_str(),
            eur["resource"].as_str(),
            eur["shortfall"].as_str()
        ),
        (Some("EUR"), Some("1150.00"), Some("1150.00"), Some("0.00")),
        "{body}"
    );

    // A statement that matches: the CLI exits 0.
    let matched = dir.join("matched.xml");
    std::fs::write(&matched, fixture("matched.xml", &day)).unwrap();
    let url = ["--url", &d.base, "--token", &d.token];
    let (code, out, err) = cli(&[
        &[
            "recon",
            "--statement",
            matched.to_str().unwrap(),
            "--account",
            "safe_eur",
            "--date",
            &day,
        ][..],
        &url[..],
    ]
    .concat());
    assert_eq!(code, Some(0), "{out}{err}");
    let body: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (body["result"].as_str(), body["matched"].as_u64()),
        (Some("matched"), Some(3)),
        "{body}"
    );
    assert_eq!(body["statement"]["bank_account"], "GB33BUKB20201555555555");

    // A wrong closing balance: one break, recorded.
    let (status, body) = post_statement(
        &d,
        &d.token,
        &at,
        "application/xml",
        &fixture("wrong_balance.xml", &day),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(kinds(&body), [("balance_differs".to_string(), "closing".to_string())]);
    assert_eq!(
        (
            body["breaks"][0]["statement_amount"].as_str(),
            body["breaks"][0]["ledger_amount"].as_str()
        ),
        (Some("1200.00"), Some("1150.00"))
    );
    let balance_break = body["breaks"][0]["id"].as_u64().unwrap();

    // A line the ledger lacks (the bank's fee): the CLI exits 2 and prints the breaks.
    let missing = dir.join("missing_line.xml");
    std::fs::write(&missing, fixture("missing_line.xml", &day)).unwrap();
    let (code, out, err) = cli(&[
        &[
            "recon",
            "--statement",
            missing.to_str().unwrap(),
            "--account",
            "safe_eur",
            "--date",
            &day,
        ][..],
        &url[..],
    ]
    .concat());
    assert_eq!(code, Some(2), "{out}{err}");
    let body: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        kinds(&body),
        [
            ("missing_in_ledger".to_string(), "FEE-NOV".to_string()),
            ("balance_differs".to_string(), "closing".to_string())
        ]
    );
    assert_eq!(body["breaks"][0]["statement_amount"], "-5.00");
    let fee_breaks: Vec<u64> = body["breaks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["id"].as_u64().unwrap())
        .collect();

    let (status, body) = d.get("/v1/reconciliations/breaks");
    assert_eq!(
        (status, body["breaks"].as_array().map(Vec::len)),
        (200, Some(3)),
        "{body}"
    );
    let (_, metrics) = {
        let r = agent().get(&format!("{}/metrics", d.base)).call().unwrap();
        (r.status(), r.into_string().unwrap())
    };
    assert!(metrics.contains("ledgerfs_recon_breaks_open 3\n"), "{metrics}");

    // The correcting transfer: the firm pays the fee out of its own money.
    let (status, body) = d.post(
        "/v1/transfers",
        r#"[{"id":"t4","debit":"ops","credit":"safe_eur","amount":"5.00","currency":"EUR","reference":"FEE-NOV","flags":["firm_funds"]}]"#,
    );
    assert_eq!((status, codes(&body)), (200, vec!["ok".to_string()]), "{body}");
    let fee_index = body["results"][0]["index"].as_u64().unwrap();
    // Fund segregation: the firm's money reaches client money only when declared.
    let (status, body) = d.post(
        "/v1/transfers",
        r#"[{"id":"t5","debit":"ops","credit":"alice","amount":"1.00","currency":"EUR"},
            {"id":"t6","debit":"safe_eur","credit":"alice","amount":"1.00","currency":"EUR","flags":["firm_funds"]}]"#,
    );
    assert_eq!(
        (status, codes(&body)),
        (
            200,
            vec![
                "firm_funds_undeclared".to_string(),
                "firm_funds_not_crossing".to_string()
            ]
        ),
        "{body}"
    );
    // The same statement now matches, and so does its CSV export.
    let (status, body) = post_statement(&d, &d.token, &at, "application/xml", &fixture("missing_line.xml", &day));
    assert_eq!((status, body["result"].as_str()), (200, Some("matched")), "{body}");
    let (status, body) = post_statement(&d, &d.token, &at, "text/csv", &fixture("corrected.csv", &day));
    assert_eq!(
        (status, body["result"].as_str(), body["matched"].as_u64()),
        (200, Some("matched"), Some(4)),
        "{body}"
    );

    // The fee left the safeguarding account: 1,145.00 held for 1,150.00 owed.
    let (status, body) = d.post(&format!("/v1/reconciliations/internal?date={day}"), "{}");
    assert_eq!(status, 200, "{body}");
    assert_eq!(kinds(&body), [("shortfall".to_string(), "EUR".to_string())]);
    assert_eq!(body["positions"][0]["shortfall"], "5.00");
    let shortfall = body["breaks"][0]["id"].as_u64().unwrap();

    // Resolutions: with the correcting transfer, once each.
    for id in &fee_breaks {
        let (status, body) = d.post(
            &format!("/v1/reconciliations/breaks/{id}/resolve"),
            &format!(r#"{{"reason":"bank fee posted","transfer_index":{fee_index}}}"#),
        );
        assert_eq!(status, 200, "{body}");
    }
    let (status, body) = d.post(
        &format!("/v1/reconciliations/breaks/{}/resolve", fee_breaks[0]),
        r#"{"reason":"again"}"#,
    );
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("break_resolved")),
        "{body}"
    );
    let (status, _) = d.post("/v1/reconciliations/breaks/99999/resolve", r#"{"reason":"x"}"#);
    assert_eq!(status, 404);
    let (status, body) = d.post(
        &format!("/v1/reconciliations/breaks/{shortfall}/resolve"),
        r#"{"reason":""}"#,
    );
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("request_invalid")));
    let (code, out, err) = cli(&[
        &[
            "recon",
            "resolve",
            &balance_break.to_string(),
            "--reason",
            "statement misread",
        ][..],
        &url[..],
    ]
    .concat());
    assert_eq!(code, Some(0), "{out}{err}");

    // The monthly return, its chart and the liabilities breakdown.
    let month = &day[..7];
    let (status, body) = d.get(&format!("/v1/reports/safeguarding?month={month}"));
    assert_eq!(status, 200, "{body}");
    let today = body["days"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["date"] == day.as_str())
        .cloned()
        .unwrap();
    assert_eq!(today["positions"][0]["shortfall"], "5.00", "{today}");
    assert!(body["shortfall_days"].as_u64().unwrap() >= 1);
    let ops = body["breakdown"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["kind"] == "operational")
        .cloned()
        .unwrap();
    assert_eq!(
        (ops["accounts"].as_u64(), ops["net_credit"].as_str()),
        (Some(1), Some("-5.00")),
        "{ops}"
    );
    let fetch = |path: &str| {
        let r = agent()
            .get(&format!("{}{path}", d.base))
            .set("Authorization", &format!("Bearer {}", d.token))
            .call()
            .unwrap();
        (r.content_type().to_string(), r.into_string().unwrap())
    };
    let (kind, csv) = fetch(&format!("/v1/reports/safeguarding?month={month}&format=csv"));
    assert_eq!(kind, "text/csv");
    assert!(
        csv.starts_with("date,currency,requirement,resource,shortfall,excess\n"),
        "{csv}"
    );
    assert!(csv.contains(&format!("{day},EUR,1150.00,1145.00,5.00,0.00\n")), "{csv}");
    let (kind, svg) = fetch(&format!("/v1/reports/safeguarding.svg?month={month}&currency=EUR"));
    assert_eq!(kind, "image/svg+xml");
    assert!(
        svg.starts_with("<svg") && svg.contains(&format!("{day} shortfall 5.00")),
        "{svg}"
    );
    let (_, csv) = fetch("/v1/reports/liabilities?format=csv");
    assert!(csv.contains("customer,EUR,2,100.00,1250.00,1150.00\n"), "{csv}");
    let (status, body) = d.get("/v1/reports/safeguarding?month=2026-13");
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("date_invalid")));

    // Who may do what.
    let (status, _) = post_statement(
        &d,
        "auditor-token",
        &at,
        "application/xml",
        &fixture("matched.xml", &day),
    );
    assert_eq!(status, 403, "an auditor reads reconciliations, never runs them");
    let (status, body) = d.get_as("auditor-token", "/v1/reconciliations/breaks?status=all");
    assert_eq!(
        (status, body["breaks"].as_array().map(Vec::len)),
        (200, Some(4)),
        "{body}"
    );
    let (status, _) = d.get_as("alice-token", "/v1/safeguarding");
    assert_eq!(status, 403);

    // Refusals, each with its code; none is recorded.
    let size_before = d.get("/v1/reconciliations/breaks?status=all").1["breaks"]
        .as_array()
        .unwrap()
        .len();
    for (query, content_type, body, status, code) in [
        (
            format!("?account=alice&date={day}"),
            "application/xml",
            fixture("matched.xml", &day),
            400,
            "account_not_safeguarding",
        ),
        (
            format!("?account=nobody&date={day}"),
            "application/xml",
            fixture("matched.xml", &day),
            404,
            "not_found",
        ),
        (
            at.clone(),
            "application/xml",
            "<Document><BkToCstmrStmt>".to_string(),
            400,
            "statement_invalid",
        ),
        (
            at.clone(),
            "application/xml",
            fixture("matched.xml", "2020-01-01"),
            400,
            "statement_invalid",
        ),
        (
            at.clone(),
            "image/png",
            "x".to_string(),
            415,
            "content_type_unsupported",
        ),
        (
            "?account=safe_eur&date=2026-02-30".to_string(),
            "text/csv",
            "x".to_string(),
            400,
            "date_invalid",
        ),
        (
            "?account=safe_eur".to_string(),
            "text/csv",
            "x".to_string(),
            400,
            "request_invalid",
        ),
    ] {
        let (got, reply) = post_statement(&d, &d.token, &query, content_type, &body);
        assert_eq!(
            (got, reply["error"]["code"].as_str()),
            (status, Some(code)),
            "{query}: {reply}"
        );
        assert!(reply["error"]["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    assert_eq!(
        d.get("/v1/reconciliations/breaks?status=all").1["breaks"]
            .as_array()
            .unwrap()
            .len(),
        size_before
    );

    // A restart keeps the break log: one open break (the shortfall), the rest resolved.
    d.stop();
    let d = Daemon::start(&dir);
    let (_, body) = d.get("/v1/reconciliations/breaks");
    let open: Vec<u64> = body["breaks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["index"].as_u64().unwrap())
        .collect();
    assert_eq!(open, [shortfall], "{body}");
    d.stop();

    // The break log verifies offline, like the ledger.
    let vkey = log_vkey(Path::new(data));
    let recon = dir.join("reconciliation");
    let (ok, out, err) = run(&["verify", "--dir", recon.to_str().unwrap(), "--vkey", vkey.trim()]);
    assert!(ok && out.contains("verified"), "{out}{err}");

    // The resolution pack: written, then checked offline after the store is gone.
    let packs = temp_dir("recon-packs");
    let pack = packs.join("pack");
    let early = packs.join("early");
    let (ok, out, err) = run(&["resolution-pack", "--data", data, "--out", pack.to_str().unwrap()]);
    assert!(ok, "{out}{err}");
    let (ok, out, err) = run(&[
        "resolution-pack",
        "--data",
        data,
        "--out",
        early.to_str().unwrap(),
        "--at",
        "5",
    ]);
    assert!(ok, "{out}{err}");
    let (ok, _, err) = run(&["resolution-pack", "--data", data, "--out", pack.to_str().unwrap()]);
    assert!(!ok && err.contains("not empty"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
    let (ok, out, err) = run(&["verify", "--dir", pack.to_str().unwrap()]);
    assert!(ok, "{out}{err}");
    assert!(
        out.contains("resolution pack: 4 balances equal to a replay") && out.contains("break log: verified"),
        "{out}"
    );
    let balances: Value = serde_json::from_str(&std::fs::read_to_string(pack.join("balances.json")).unwrap()).unwrap();
    let alice = balances["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == "alice")
        .unwrap();
    assert_eq!(alice["balance"]["net"], "1000.00", "{alice}");
    assert_eq!(balances["safeguarding"][0]["shortfall"], "5.00");
    let month = &balances["at_time"].as_str().unwrap()[..7];
    let csv = std::fs::read_to_string(pack.join(format!("safeguarding-{month}.csv"))).unwrap();
    assert!(csv.contains(",EUR,1150.00,1145.00,5.00,0.00\n"), "{csv}");
    assert!(
        std::fs::read_to_string(pack.join(format!("safeguarding-{month}-EUR.svg")))
            .unwrap()
            .starts_with("<svg")
    );
    // At index 5 (accounts opened, t1 and t2 posted): bob's redemption has not happened.
    let early_doc: Value =
        serde_json::from_str(&std::fs::read_to_string(early.join("balances.json")).unwrap()).unwrap();
    let bob = early_doc["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == "bob")
        .unwrap();
    assert_eq!(
        (early_doc["at_index"].as_u64(), bob["balance"]["net"].as_str()),
        (Some(5), Some("250.00")),
        "{bob}"
    );
    // The pack's own check, with Python's standard library, following the specs.
    let out = Command::new("python3")
        .arg(pack.join("check_pack.py"))
        .arg(&pack)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("4 accounts proven into the root"));
    // A balance altered in the pack is refused: balances are re-derived, never trusted.
    let tampered =
        std::fs::read_to_string(pack.join("balances.json"))
            .unwrap()
            .replacen("\"1000.00\"", "\"1900.00\"", 1);
    std::fs::write(pack.join("balances.json"), tampered).unwrap();
    let (ok, out, err) = run(&["verify", "--dir", pack.to_str().unwrap()]);
    assert!(!ok && err.contains("differs from a replay of the log"), "{out}{err}");
}

/// A closed month's statement (PSD2 Art. 57/58) is produced once: its SHA-256 goes into
/// the break log, and it is byte-identical on every later request and after a restart;
/// the current month is open (not recorded); a customer reads only its own.
#[test]
fn closed_month_statements_never_change() {
    let dir = temp_dir("recon-statements");
    init(&dir);
    add_token(&dir, "alice-app", "alice-token", "customer", &["alice"]);
    let d = Daemon::start(&dir);
    // History migrated into October 2026 (imported, with its original times), then today.
    let (status, body) = d.post(
        "/v1/accounts",
        r#"[{"id":"safe","currency":"EUR","kind":"safeguarding","flags":["imported"],"time":"2026-10-01T08:00:00Z"},
            {"id":"alice","currency":"EUR","flags":["imported"],"time":"2026-10-01T08:00:01Z"},
            {"id":"bob","currency":"EUR","flags":["imported"],"time":"2026-10-01T08:00:02Z"}]"#,
    );
    assert_eq!((status, codes(&body)), (200, vec!["ok".to_string(); 3]), "{body}");
    let (status, body) = d.post(
        "/v1/transfers",
        r#"[{"id":"o1","debit":"safe","credit":"alice","amount":"500.00","currency":"EUR","reference":"top-up, October","flags":["imported"],"time":"2026-10-05T09:00:00Z"},
            {"id":"o2","debit":"alice","credit":"bob","amount":"120.00","currency":"USD","reference":"x","flags":["imported"],"time":"2026-10-20T09:00:00Z"},
            {"id":"o3","debit":"alice","credit":"bob","amount":"120.00","currency":"EUR","reference":"rent","metadata":{"exchange_rate":"1.0850","charges":"0.50"},"flags":["imported"],"time":"2026-10-20T09:00:01Z"},
            {"id":"n1","debit":"bob","credit":"alice","amount":"1.00","currency":"EUR","reference":"now"}]"#,
    );
    assert_eq!(
        codes(&body),
        ["ok", "currency_mismatch", "ok", "ok"].map(String::from).to_vec(),
        "{body} {status}"
    );
    let get = |token: &str, path: &str| {
        let r = agent()
            .get(&format!("{}{path}", d.base))
            .set("Authorization", &format!("Bearer {token}"))
            .call();
        match r {
            Ok(r) => (
                r.status(),
                r.header("ledgerfs-statement").unwrap_or("").to_string(),
                r.header("etag").unwrap_or("").to_string(),
                r.into_string().unwrap(),
            ),
            Err(ureq::Error::Status(s, r)) => (s, String::new(), String::new(), r.into_string().unwrap()),
            Err(e) => panic!("{e}"),
        }
    };
    let (status, state, etag, csv) = get(&d.token, "/v1/accounts/alice/statements/2026-10?format=csv");
    assert_eq!((status, state.as_str()), (200, "closed"), "{csv}");
    assert_eq!(
        csv,
        "index,time,value_date,id,reference,counterparty,amount,currency,charges,exchange_rate,balance_after\n\
         3,2026-10-05T09:00:00.000000000Z,2026-10-05,o1,\"top-up, October\",safe,500.00,EUR,,,500.00\n\
         4,2026-10-20T09:00:01.000000000Z,2026-10-20,o3,rent,bob,-120.00,EUR,0.50,1.0850,380.00\n"
    );
    let (_, _, json_etag, json) = get("alice-token", "/v1/accounts/alice/statements/2026-10");
    let doc: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        (doc["opening_balance"].as_str(), doc["closing_balance"].as_str()),
        (Some("0.00"), Some("380.00"))
    );
    assert_eq!(get("alice-token", "/v1/accounts/bob/statements/2026-10").0, 403);
    assert_eq!(get(&d.token, "/v1/accounts/alice/statements/2026-13").0, 400);
    let this_month = &body["results"][3]["time"].as_str().unwrap()[..7];
    let (status, state, _, _) = get(&d.token, &format!("/v1/accounts/alice/statements/{this_month}"));
    assert_eq!((status, state.as_str()), (200, "open"));
    // Again, and after a restart: the same bytes, the digest recorded once.
    assert_eq!(get(&d.token, "/v1/accounts/alice/statements/2026-10?format=csv").3, csv);
    d.stop();
    let d = Daemon::start(&dir);
    let again = |format: &str| {
        agent()
            .get(&format!("{}/v1/accounts/alice/statements/2026-10{format}", d.base))
            .set("Authorization", &format!("Bearer {}", d.token))
            .call()
            .unwrap()
            .into_string()
            .unwrap()
    };
    assert_eq!(again("?format=csv"), csv);
    assert_eq!(again(""), json);
    assert!(etag.len() == 66 && json_etag.len() == 66, "{etag} {json_etag}");
    d.stop();
    let vkey = log_vkey(&dir);
    let (ok, out, err) = run(&[
        "verify",
        "--dir",
        dir.join("reconciliation").to_str().unwrap(),
        "--vkey",
        vkey.trim(),
    ]);
    assert!(ok, "{out}{err}");
    // One entry: the October statement, recorded once however often it was read.
    let note = std::fs::read_to_string(dir.join("reconciliation/log/checkpoint")).unwrap();
    assert_eq!(note.lines().nth(1), Some("1"), "{note}");
}
