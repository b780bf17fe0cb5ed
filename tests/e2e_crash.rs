//! Crash tests: SIGKILL the daemon in the middle of a concurrent load, many times, and
//! check after each restart that every acknowledged transfer is present, that balances
//! equal an independent recomputation from the entry files on disk, that `ledgerfs
//! verify` accepts the log, that every full tile ever seen on disk (read while the load
//! runs, just before the kill, and after each recovery) keeps its bytes, and that the
//! published checkpoints never fork (one root per size) nor go back. A second trial runs
//! the same load with a witness and a 1-of-1 policy (fail-closed): every checkpoint ever
//! published, on disk or served at `/log/checkpoint`, carries the witness's cosignature.

mod support;

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use support::*;

/// Kill-and-recover trials in `make test`; `LEDGERFS_CRASH_ROUNDS` sets more (`make soak`).
const ROUNDS: usize = 200;
/// Trials with a witness (each round also waits for a cosignature, so fewer).
const WITNESSED_ROUNDS: usize = 100;
const WRITERS: usize = 4;
const ACCOUNTS: usize = 8;
/// The witness's name in the witnessed trial's policy (its cosignature lines start `— NAME `).
const WITNESS_NAME: &str = "witness.test/crash";

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// SHA-256 of every full tile and bundle on disk now (files under `.p/` are partial).
fn full_tiles_on_disk(dir: &Path) -> HashMap<String, [u8; 32]> {
    use sha2::{Digest, Sha256};
    let mut out = HashMap::new();
    let mut stack = vec![dir.join("log/tile")];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = path.to_string_lossy().into_owned();
            if name.ends_with(".p") || name.ends_with(".tmp") {
                continue;
            }
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(bytes) = std::fs::read(&path) {
                out.insert(name, Sha256::digest(&bytes).into());
            }
        }
    }
    out
}

/// Adds `now` to `seen`, failing if a full tile seen before has other bytes now.
fn check_immutable(seen: &mut HashMap<String, [u8; 32]>, now: HashMap<String, [u8; 32]>, when: &str) {
    for (path, hash) in now {
        if let Some(before) = seen.insert(path.clone(), hash) {
            assert_eq!(before, hash, "{when}: full tile {path} was rewritten with other bytes");
        }
    }
}

/// A trial's own rule on a published checkpoint (its size, its note).
type Rule = dyn Fn(u64, &str) -> Result<(), String>;

/// Every published checkpoint seen so far: one root per size, sizes never going back,
/// and the trial's own rule (a cosignature, in the witnessed trial) on each.
struct Published {
    roots: HashMap<u64, String>,
    largest: u64,
    rule: Box<Rule>,
}

impl Published {
    fn saw(&mut self, note: &str, when: &str) {
        let mut lines = note.lines();
        lines.next();
        let (Some(size), Some(root)) = (lines.next(), lines.next()) else {
            panic!("{when}: a published checkpoint that is not one:\n{note}");
        };
        let size: u64 = size.parse().unwrap();
        if let Some(before) = self.roots.insert(size, root.to_string()) {
            assert_eq!(before, root, "{when}: two roots published for size {size}");
        }
        assert!(
            size >= self.largest,
            "{when}: published size went back from {} to {size}",
            self.largest
        );
        self.largest = size;
        if let Err(why) = (self.rule)(size, note) {
            panic!("{when}: {why}:\n{note}");
        }
    }

    fn saw_on_disk(&mut self, dir: &Path, when: &str) {
        if let Ok(note) = std::fs::read_to_string(dir.join("log/checkpoint")) {
            self.saw(&note, when);
        }
    }
}

/// One crash trial: `rounds` kill-and-recover rounds under `WRITERS` clients on `dir`
/// (made by `ledgerfs init`), starting the daemon with `start`. `after_kill` inspects
/// the dead daemon's directory (and its log) before the restart.
fn trial(
    dir: &Path,
    default_rounds: usize,
    start: &dyn Fn() -> Daemon,
    published: &mut Published,
    after_kill: &dyn Fn(usize),
) {
    let d = start();
    let accounts: Vec<String> = (0..ACCOUNTS)
        .map(|i| format!(r#"{{"id":"acc{i}","currency":"EUR","flags":["debits_must_not_exceed_credits"]}}"#))
        .collect();
    d.post(
        "/v1/accounts",
        &format!(r#"[{{"id":"bank","currency":"EUR"}},{}]"#, accounts.join(",")),
    );
    let acknowledged: Arc<Mutex<Vec<String>>> = Arc::new(Mutex::new(Vec::new()));
    let seed = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() as u64 | 1;
    eprintln!("crash test seed {seed}");
    let mut rng = Rng(seed);
    let mut daemon = Some(d);
    let mut tiles_seen = HashMap::new();
    let rounds = std::env::var("LEDGERFS_CRASH_ROUNDS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .map(|r| r * default_rounds / ROUNDS)
        .unwrap_or(default_rounds)
        .max(1);
    let started = std::time::Instant::now();
    for round in 0..rounds {
        let d = daemon.take().unwrap_or_else(start);
        let stop = Arc::new(AtomicBool::new(false));
        let writers: Vec<_> = (0..WRITERS)
            .map(|w| {
                let (base, token) = (d.base.clone(), d.token.clone());
                let (acknowledged, stop) = (acknowledged.clone(), stop.clone());
                let mut rng = Rng(seed ^ ((round * WRITERS + w) as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
                std::thread::spawn(move || {
                    let mut n = 0;
                    while !stop.load(Ordering::Relaxed) {
                        let batch = 1 + (rng.next() % 4) as usize;
                        let transfers: Vec<(String, String)> = (0..batch)
                            .map(|_| {
                                n += 1;
                                let id = format!("r{round}w{w}n{n}");
                                let (from, to) = if rng.next() % 3 == 0 {
                                    ("bank".to_string(), format!("acc{}", rng.next() % ACCOUNTS as u64))
                                } else {
                                    (format!("acc{}", rng.next() % ACCOUNTS as u64), format!("acc{}", rng.next() % ACCOUNTS as u64))
                                };
                                let body = format!(
                                    r#"{{"id":"{id}","debit":"{from}","credit":"{to}","amount":"{}.{:02}","currency":"EUR"}}"#,
                                    rng.next() % 50,
                                    rng.next() % 100
                                );
                                (id, body)
                            })
                            .collect();
                        let body = format!("[{}]", transfers.iter().map(|t| t.1.as_str()).collect::<Vec<_>>().join(","));
                        let response = agent().post(&format!("{base}/v1/transfers"))
                            .set("Authorization", &format!("Bearer {token}"))
                            .set("Content-Type", "application/json")
                            .timeout(Duration::from_secs(10))
                            .send_string(&body);
                        let Ok(response) = response else { return };
                        let Ok(body) = response.into_json::<Value>() else { return };
                        let mut acked = acknowledged.lock().unwrap();
                        for (result, (id, _)) in body["results"].as_array().unwrap().iter().zip(&transfers) {
                            if result["code"] == "ok" || result["code"] == "exists" {
                                acked.push(id.clone());
                            }
                        }
                    }
                })
            })
            .collect();
        // A random moment: early (mid-start-up load) to late (mid-steady-state).
        std::thread::sleep(Duration::from_millis(5 + rng.next() % 60));
        check_immutable(&mut tiles_seen, full_tiles_on_disk(dir), "under load");
        published.saw_on_disk(dir, "under load");
        d.kill();
        stop.store(true, Ordering::Relaxed);
        for w in writers {
            w.join().unwrap();
        }
        // What a crash leaves: every full tile already on disk is final.
        check_immutable(&mut tiles_seen, full_tiles_on_disk(dir), "after the kill");
        published.saw_on_disk(dir, "after the kill");
        after_kill(round);
        // Recovery finishes what the journal acknowledged; then the disk holds it all.
        let d = start();
        let (expected, on_disk) = balances_from_disk(dir);
        check_immutable(&mut tiles_seen, full_tiles_on_disk(dir), "after recovery");
        published.saw_on_disk(dir, "after recovery");
        published.saw(&support::published(&d).1, "served after recovery");
        let acked = acknowledged.lock().unwrap().clone();
        for id in &acked {
            assert!(
                on_disk.contains(id),
                "round {round}: acknowledged transfer {id} was lost"
            );
        }
        // And the restarted daemon serves them (a sample, over HTTP).
        for id in acked.iter().step_by(acked.len() / 50 + 1) {
            let (status, _) = d.get(&format!("/v1/transfers/{id}"));
            assert_eq!(status, 200, "round {round}: acknowledged transfer {id} not served");
        }
        let mut total = 0i128;
        for (account, balance) in &expected {
            let (_, a) = d.get(&format!("/v1/accounts/{account}"));
            assert_eq!(
                cents(a["balance"]["net"].as_str().unwrap()),
                *balance,
                "round {round}: {account}"
            );
            total += balance;
        }
        assert_eq!(total, 0, "money is conserved");
        if round % 20 == 0 || round + 1 == rounds {
            eprintln!(
                "round {round}: {} acknowledged so far, all present ({:.1?})",
                acked.len(),
                started.elapsed()
            );
        }
        daemon = Some(d);
    }
    let d = daemon.take().unwrap();
    assert!(
        !acknowledged.lock().unwrap().is_empty(),
        "the load acknowledged something"
    );
    d.stop();
    published.saw_on_disk(dir, "after the last stop");
}

#[test]
fn sigkill_under_load_loses_no_acknowledged_transfer() {
    let dir = temp_dir("crash");
    init(&dir);
    let mut published = Published {
        roots: HashMap::new(),
        largest: 0,
        rule: Box::new(|_, _| Ok(())),
    };
    trial(&dir, ROUNDS, &|| Daemon::start(&dir), &mut published, &|_| {});
    let (ok, out, err) = run(&["verify", "--dir", dir.to_str().unwrap()]);
    assert!(ok, "verify after crashes: {out}{err}");
}

#[test]
fn sigkill_under_load_with_a_witness_publishes_only_cosigned_checkpoints() {
    let base = temp_dir("crash-witnessed");
    let dir = base.join("data");
    init(&dir);
    let vkey = log_vkey(&dir);
    let wdir = base.join("witness");
    init_witness(&wdir, WITNESS_NAME, &vkey);
    // One witness for the whole trial: the daemon dies under it, the witness does not.
    let witness = start_witness(&wdir);
    let policy = base.join("policy.txt");
    std::fs::write(
        &policy,
        format!("log {vkey}\nwitness W {} {}\nquorum W\n", witness.vkey, witness.base),
    )
    .unwrap();
    let initial_size = std::fs::read_to_string(dir.join("log/checkpoint"))
        .unwrap()
        .lines()
        .nth(1)
        .unwrap()
        .parse::<u64>()
        .unwrap();
    let cosigned = format!("\n\u{2014} {WITNESS_NAME} ");
    let mut published = Published {
        roots: HashMap::new(),
        largest: 0,
        rule: Box::new(move |size, note| {
            if size > initial_size && !note.contains(&cosigned) {
                return Err(format!(
                    "checkpoint {size} was published without the witness's cosignature"
                ));
            }
            Ok(())
        }),
    };
    let policy_arg = policy.to_str().unwrap().to_string();
    let start = || Daemon::try_start_with(&dir, &["--policy", &policy_arg]).unwrap();
    let log = daemon_log(&dir);
    trial(&dir, WITNESSED_ROUNDS, &start, &mut published, &|round| {
        // A witness refusing a fork would mean the log signed two roots for one size.
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        assert!(!text.contains("WITNESS CONFLICT"), "round {round}: {text}");
    });
    assert!(
        published.largest > initial_size,
        "something was witnessed and published"
    );
    eprintln!(
        "witnessed trial: {} cosigned checkpoints published, the last of size {}",
        published.roots.len(),
        published.largest
    );
    let (ok, out, err) = run(&[
        "verify",
        "--dir",
        dir.to_str().unwrap(),
        "--policy",
        policy.to_str().unwrap(),
        "--witnessed",
        dir.join("log/checkpoint").to_str().unwrap(),
    ]);
    assert!(ok, "verify with the policy after crashes: {out}{err}");
}
