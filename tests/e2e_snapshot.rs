//! Snapshots: the daemon writes them every `snapshot_every` entries, a restart loads
//! the newest and replays only the tail (with the same balances as a full replay),
//! `ledgerfs verify --snapshots` checks each against a replay of the log, and a damaged
//! snapshot is ignored with a message while the store still opens.

mod support;

use std::time::{Duration, Instant};

use support::*;

fn balances(d: &Daemon) -> Vec<String> {
    (0..4)
        .map(|i| {
            let (_, a) = d.get(&format!("/v1/accounts/s{i}"));
            a["balance"]["net"].as_str().unwrap().to_string()
        })
        .collect()
}

fn snapshots(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut all: Vec<_> = std::fs::read_dir(dir.join("snapshots"))
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "snap"))
                .collect()
        })
        .unwrap_or_default();
    all.sort();
    all
}

#[test]
fn restart_from_a_snapshot_equals_a_full_replay_and_damage_is_ignored() {
    let dir = temp_dir("snapshot");
    init(&dir);
    set_config(&dir, "snapshot_every", "100");
    let d = Daemon::start(&dir);
    let accounts: Vec<String> = (0..4).map(|i| format!(r#"{{"id":"s{i}","currency":"EUR"}}"#)).collect();
    assert_eq!(d.post("/v1/accounts", &format!("[{}]", accounts.join(","))).0, 200);
    for batch in 0..7 {
        let transfers: Vec<String> = (0..50)
            .map(|i| {
                let n = batch * 50 + i;
                format!(
                    r#"{{"id":"t{n}","debit":"s{}","credit":"s{}","amount":"{}.{:02}","currency":"EUR"}}"#,
                    n % 4,
                    (n + 1) % 4,
                    n % 7,
                    n % 100
                )
            })
            .collect();
        let (s, r) = d.post("/v1/transfers", &format!("[{}]", transfers.join(",")));
        assert_eq!(s, 200, "{r}");
    }
    // Snapshots are written in the background.
    let deadline = Instant::now() + Duration::from_secs(20);
    while snapshots(&dir).len() < 2 {
        assert!(Instant::now() < deadline, "no snapshots were written");
        std::thread::sleep(Duration::from_millis(20));
    }
    let before = balances(&d);
    let (_, checkpoint) = d.get("/v1/checkpoint");
    d.stop();

    // A clean stop wrote a snapshot of the final state: the restart loads it and
    // replays nothing; same state.
    let d = Daemon::start(&dir);
    let log = std::fs::read_to_string(daemon_log(&dir)).unwrap();
    let size = checkpoint["size"].as_u64().unwrap();
    assert!(
        log.contains(&format!("from the snapshot at size {size}, replaying 0")),
        "{log}"
    );
    assert_eq!(balances(&d), before);
    let (_, again) = d.get("/v1/checkpoint");
    assert_eq!(again["size"], checkpoint["size"]);
    let retry = r#"{"id":"t1","debit":"s1","credit":"s2","amount":"1.01","currency":"EUR"}"#;
    assert_eq!(
        d.post("/v1/transfers", retry).1["results"][0]["code"],
        "exists",
        "the id table came back"
    );
    d.stop();

    let (ok, out, err) = run(&["verify", "--dir", dir.to_str().unwrap(), "--snapshots"]);
    assert!(ok && out.contains("snapshots: 2 checked"), "{out}{err}");

    // Damage every snapshot: each is ignored with a message, the store opens by replay.
    for path in snapshots(&dir) {
        let mut bytes = std::fs::read(&path).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0xff;
        std::fs::write(&path, bytes).unwrap();
    }
    let d = Daemon::start(&dir);
    let log = std::fs::read_to_string(daemon_log(&dir)).unwrap();
    assert!(
        log.contains("ignoring snapshot") && log.contains("replaying the whole log"),
        "{log}"
    );
    assert_eq!(balances(&d), before);
    d.stop();
    let (ok, out, err) = run(&["verify", "--dir", dir.to_str().unwrap(), "--snapshots"]);
    assert!(!ok, "a damaged snapshot fails verify --snapshots: {out}{err}");
}
