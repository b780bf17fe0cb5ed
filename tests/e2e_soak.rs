//! Load with faults: many writers, entry-stream readers and FUSE readers at once, on a
//! small tmpfs that a filler repeatedly fills and frees, with a SIGTERM (timed) and a
//! SIGKILL in the middle. Afterwards every acknowledged transfer is on disk, money is
//! conserved, `ledgerfs verify` passes, and no request got a server error: the only 5xx
//! answers allowed are the documented refusals (507 `storage_full`, 503
//! `storage_unavailable`/`overloaded`, with nothing recorded). Prints what it counted.
//! `LEDGERFS_SOAK_SECONDS` sets the length (default 12; `make soak` runs longer).

mod support;

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::*;

const WRITERS: usize = 6;
const STREAMS: usize = 2;
const ACCOUNTS: usize = 8;
/// A stopping daemon must be gone within this (its grace for open requests is 10 s).
const SHUTDOWN_BOUND: Duration = Duration::from_secs(15);

#[derive(Default)]
struct Counts {
    acknowledged: AtomicU64,
    refused_storage: AtomicU64,
    refused_overload: AtomicU64,
    server_errors: AtomicU64,
    connection_errors: AtomicU64,
    stream_events: AtomicU64,
    fuse_reads: AtomicU64,
    fills: AtomicU64,
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout == b"0\n")
}

/// Unmounts on drop: the tmpfs (`umount -l`) and the FUSE mount (`fusermount3 -u -z`).
struct Unmount {
    tmpfs: PathBuf,
    fuse: Option<PathBuf>,
}

impl Drop for Unmount {
    fn drop(&mut self) {
        let quiet = |program: &str, args: &[&str], path: &Path| {
            let _ = Command::new(program)
                .args(args)
                .arg(path)
                .stderr(std::process::Stdio::null())
                .status();
        };
        if let Some(fuse) = &self.fuse {
            quiet("fusermount3", &["-u", "-z"], fuse);
        }
        quiet("umount", &["-l"], &self.tmpfs);
    }
}

/// One writer: batches of 1–6 transfers among funded accounts until `stop`.
fn writer(
    base: String,
    token: String,
    tag: String,
    stop: Arc<AtomicBool>,
    counts: Arc<Counts>,
    acked: Arc<Mutex<Vec<String>>>,
) {
    let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(20)).build();
    let mut n = 0u64;
    let mut rng = tag.bytes().fold(0x9E37_79B9_7F4A_7C15u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01B3)
    }) | 1;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    while !stop.load(Ordering::Relaxed) {
        let batch = 1 + (next() % 6) as usize;
        let transfers: Vec<(String, String)> = (0..batch)
            .map(|_| {
                n += 1;
                let id = format!("{tag}n{n}");
                let body = format!(
                    r#"{{"id":"{id}","debit":"acc{}","credit":"acc{}","amount":"0.{:02}","currency":"EUR"}}"#,
                    next() % ACCOUNTS as u64,
                    next() % ACCOUNTS as u64,
                    1 + next() % 99
                );
                (id, body)
            })
            .collect();
        let body = format!(
            "[{}]",
            transfers.iter().map(|t| t.1.as_str()).collect::<Vec<_>>().join(",")
        );
        let response = agent
            .post(&format!("{base}/v1/transfers"))
            .set("Authorization", &format!("Bearer {token}"))
            .set("Content-Type", "application/json")
            .send_string(&body);
        match response {
            Ok(r) => {
                let Ok(body) = r.into_json::<Value>() else {
                    counts.connection_errors.fetch_add(1, Ordering::Relaxed);
                    return;
                };
                let mut acked = acked.lock().unwrap();
                for (result, (id, _)) in body["results"].as_array().unwrap().iter().zip(&transfers) {
                    if result["code"] == "ok" || result["code"] == "exists" {
                        acked.push(id.clone());
                        counts.acknowledged.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            Err(ureq::Error::Status(status, r)) => {
                let body: Value = r.into_json().unwrap_or(Value::Null);
                let code = body["error"]["code"].as_str().unwrap_or("").to_string();
                match (status, code.as_str()) {
                    (507, "storage_full") | (503, "storage_unavailable") => {
                        counts.refused_storage.fetch_add(1, Ordering::Relaxed);
                        std::thread::sleep(Duration::from_millis(20));
                    }
                    (503, "overloaded") => {
                        counts.refused_overload.fetch_add(1, Ordering::Relaxed);
                        std::thread::sleep(Duration::from_millis(20));
                    }
                    _ => {
                        eprintln!("server error {status}: {body}");
                        counts.server_errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            // The daemon is stopping or was killed: this writer's round is over.
            Err(_) => {
                counts.connection_errors.fetch_add(1, Ordering::Relaxed);
                return;
            }
        }
    }
}

/// One entry-stream reader: follows `/v1/stream` from the start until it ends.
fn stream_reader(base: String, token: String, counts: Arc<Counts>) {
    let agent = ureq::AgentBuilder::new().timeout_read(Duration::from_secs(30)).build();
    let Ok(r) = agent
        .get(&format!("{base}/v1/stream?from=0"))
        .set("Authorization", &format!("Bearer {token}"))
        .call()
    else {
        return;
    };
    for line in BufReader::new(r.into_reader()).lines() {
        let Ok(line) = line else { return };
        if line.starts_with("data:") {
            counts.stream_events.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// One FUSE reader: reads every account's balance.json until `stop`.
fn fuse_reader(mnt: PathBuf, stop: Arc<AtomicBool>, counts: Arc<Counts>) {
    while !stop.load(Ordering::Relaxed) {
        for a in 0..ACCOUNTS {
            let mut text = String::new();
            let read = std::fs::File::open(mnt.join(format!("accounts/acc{a}/balance.json")))
                .and_then(|mut f| f.read_to_string(&mut text));
            if read.is_ok() {
                serde_json::from_str::<Value>(&text).expect("balance.json is JSON");
                counts.fuse_reads.fetch_add(1, Ordering::Relaxed);
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Fills the file system holding `dir` to ENOSPC, holds it, frees it, again, until `stop`.
fn filler(dir: PathBuf, stop: Arc<AtomicBool>, counts: Arc<Counts>) {
    let path = dir.join("filler");
    let chunk = vec![0xA5u8; 64 * 1024];
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(400));
        if let Ok(mut f) = std::fs::File::create(&path) {
            use std::io::Write;
            while f.write_all(&chunk).is_ok() {}
            counts.fills.fetch_add(1, Ordering::Relaxed);
        }
        std::thread::sleep(Duration::from_millis(250));
        let _ = std::fs::remove_file(&path);
    }
    let _ = std::fs::remove_file(&path);
}

/// The filler thread, running until stopped (restarts happen with it stopped: a daemon
/// may rightly fail to start on a full disk, and that is not what this test measures).
struct Filler {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<()>,
}

impl Filler {
    fn start(dir: &Path, counts: &Arc<Counts>) -> Filler {
        let stop = Arc::new(AtomicBool::new(false));
        let (dir, flag, counts) = (dir.to_path_buf(), stop.clone(), counts.clone());
        let thread = std::thread::spawn(move || filler(dir, flag, counts));
        Filler { stop, thread }
    }

    fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap();
    }
}

/// The clients of one daemon run.
struct Clients {
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Clients {
    fn start(
        d: &Daemon,
        mnt: Option<&Path>,
        round: usize,
        counts: &Arc<Counts>,
        acked: &Arc<Mutex<Vec<String>>>,
    ) -> Clients {
        let stop = Arc::new(AtomicBool::new(false));
        let mut threads = Vec::new();
        for w in 0..WRITERS {
            let (base, token, stop, counts, acked) = (
                d.base.clone(),
                d.token.clone(),
                stop.clone(),
                counts.clone(),
                acked.clone(),
            );
            threads.push(std::thread::spawn(move || {
                writer(base, token, format!("r{round}w{w}"), stop, counts, acked)
            }));
        }
        for _ in 0..STREAMS {
            let (base, token, counts) = (d.base.clone(), d.token.clone(), counts.clone());
            threads.push(std::thread::spawn(move || stream_reader(base, token, counts)));
        }
        if let Some(mnt) = mnt {
            let (mnt, stop, counts) = (mnt.to_path_buf(), stop.clone(), counts.clone());
            threads.push(std::thread::spawn(move || fuse_reader(mnt, stop, counts)));
        }
        Clients { stop, threads }
    }

    /// Stops and joins every client (after the daemon is gone, each ends on its own).
    fn join(self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads {
            t.join().unwrap();
        }
    }
}

fn start_daemon(dir: &Path, mnt: Option<&Path>) -> Daemon {
    match mnt {
        Some(mnt) => Daemon::try_start_with(dir, &["--mount", mnt.to_str().unwrap()]).expect("daemon with mount"),
        None => Daemon::start(dir),
    }
}

#[test]
fn load_with_a_filling_disk_sigterm_and_sigkill_loses_nothing() {
    if !is_root() {
        eprintln!("skipping: the soak test mounts a tmpfs (needs root)");
        return;
    }
    let seconds: u64 = std::env::var("LEDGERFS_SOAK_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(12);
    let phase = Duration::from_secs(seconds) / 3;
    // Room for the log the load writes (about 8 MiB a second here); the filler takes the rest.
    let size = format!("size={}m", 128 + 8 * seconds);
    let base = temp_dir("soak");
    let dir = base.join("data");
    std::fs::create_dir_all(&dir).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", &size, "tmpfs", dir.to_str().unwrap()])
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        eprintln!("skipping: cannot mount a tmpfs here");
        return;
    }
    let mut unmount = Unmount {
        tmpfs: dir.clone(),
        fuse: None,
    };
    init(&dir);
    set_config(&dir, "journal_segment_kib", "1024");
    let mnt_dir = base.join("mnt");
    std::fs::create_dir_all(&mnt_dir).unwrap();
    let fuse = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/fuse")
        .is_ok();
    let mnt = fuse.then_some(mnt_dir.as_path());
    match mnt {
        Some(mnt) => unmount.fuse = Some(mnt.to_path_buf()),
        None => eprintln!("soak: no /dev/fuse, running without FUSE readers"),
    }

    let d = Daemon::start(&dir);
    let accounts: Vec<String> = (0..ACCOUNTS)
        .map(|i| format!(r#"{{"id":"acc{i}","currency":"EUR"}}"#))
        .collect();
    assert_eq!(d.post("/v1/accounts", &format!("[{}]", accounts.join(","))).0, 200);
    d.stop();

    let counts = Arc::new(Counts::default());
    let acked = Arc::new(Mutex::new(Vec::new()));
    let mut shutdowns = Vec::new();

    // Phase 1, then SIGTERM under load on a filling disk: gone within the bound.
    let mut d = start_daemon(&dir, mnt);
    let clients = Clients::start(&d, mnt, 1, &counts, &acked);
    let filler = Filler::start(&dir, &counts);
    std::thread::sleep(phase);
    let started = Instant::now();
    d.signal(15);
    let status = wait_until(&mut d.child, SHUTDOWN_BOUND);
    shutdowns.push(started.elapsed());
    assert!(
        status.is_some(),
        "SIGTERM under load: the daemon did not exit in {SHUTDOWN_BOUND:?}"
    );
    clients.join();
    filler.stop();
    drop(d);

    // Phase 2, then SIGKILL (the dead daemon's FUSE mount is detached).
    let d = start_daemon(&dir, mnt);
    let clients = Clients::start(&d, mnt, 2, &counts, &acked);
    let filler = Filler::start(&dir, &counts);
    std::thread::sleep(phase);
    d.kill();
    if let Some(mnt) = mnt {
        let _ = Command::new("fusermount3").args(["-u", "-z"]).arg(mnt).status();
    }
    clients.join();
    filler.stop();

    // Phase 3 on the recovered store, then a clean stop under load.
    let d = start_daemon(&dir, mnt);
    let clients = Clients::start(&d, mnt, 3, &counts, &acked);
    let filler = Filler::start(&dir, &counts);
    std::thread::sleep(phase);
    filler.stop();
    let started = Instant::now();
    d.stop();
    shutdowns.push(started.elapsed());
    clients.join();

    // Recovery publishes whatever the journal holds; then the disk holds every
    // acknowledged transfer, money is conserved and the log verifies.
    let d = Daemon::start(&dir);
    let (balances, on_disk) = balances_from_disk(&dir);
    d.stop();
    let acked = acked.lock().unwrap().clone();
    let lost: Vec<&String> = acked.iter().filter(|id| !on_disk.contains(*id)).collect();
    let total: i128 = balances.values().sum();
    let (ok, out, err) = run(&["verify", "--dir", dir.to_str().unwrap()]);
    let c = &counts;
    eprintln!(
        "soak ({seconds} s, {WRITERS} writers, {STREAMS} stream readers, FUSE readers: {}): {} transfers acknowledged, \
         {} lost, {} requests refused for storage (507/503), {} refused as overloaded, {} server errors, {} connection \
         errors, {} stream events, {} FUSE reads, disk filled {} times, shutdown times {:?}",
        mnt.is_some(),
        acked.len(),
        lost.len(),
        c.refused_storage.load(Ordering::Relaxed),
        c.refused_overload.load(Ordering::Relaxed),
        c.server_errors.load(Ordering::Relaxed),
        c.connection_errors.load(Ordering::Relaxed),
        c.stream_events.load(Ordering::Relaxed),
        c.fuse_reads.load(Ordering::Relaxed),
        c.fills.load(Ordering::Relaxed),
        shutdowns
    );
    assert!(
        lost.is_empty(),
        "acknowledged transfers lost: {:?}",
        &lost[..lost.len().min(10)]
    );
    assert_eq!(total, 0, "money is conserved");
    assert_eq!(c.server_errors.load(Ordering::Relaxed), 0, "no server errors");
    assert!(!acked.is_empty(), "the load acknowledged something");
    assert!(ok, "verify after the soak: {out}{err}");
}
