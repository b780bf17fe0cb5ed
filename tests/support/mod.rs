//! Shared helpers for the end-to-end tests: make a store with the real `ledgerfs init`,
//! start the real daemon on a loopback port the kernel picks, talk to it over HTTP, stop or kill it.
#![allow(dead_code)]

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_ledgerfs")
}

/// Removes what earlier test processes left in the temp directory (their data
/// directories, daemon logs and any mount inside them), once per test process.
fn sweep_leftovers() {
    static SWEEP: std::sync::Once = std::sync::Once::new();
    SWEEP.call_once(|| {
        let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(rest) = name
                .strip_prefix("ledgerfs-e2e-")
                .or_else(|| name.strip_prefix("_tmp_ledgerfs-e2e-"))
            else {
                continue;
            };
            // Names are ledgerfs-e2e-<test>-<pid>-<n>...: skip live processes' directories.
            let pid = rest.split(['-', '_']).filter_map(|p| p.parse::<u32>().ok()).next();
            if pid.is_none_or(|pid| Path::new(&format!("/proc/{pid}")).exists()) {
                continue;
            }
            let path = entry.path();
            for mount in [path.clone(), path.join("mnt")] {
                let _ = Command::new("umount")
                    .arg("-l")
                    .arg(&mount)
                    .stderr(Stdio::null())
                    .status();
            }
            let _ = std::fs::remove_dir_all(&path).or_else(|_| std::fs::remove_file(&path));
        }
    });
}

/// A fresh, unique temporary directory.
pub fn temp_dir(name: &str) -> PathBuf {
    sweep_leftovers();
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "ledgerfs-e2e-{name}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `ledgerfs ARGS`, returning (success, stdout, stderr).
pub fn run(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(bin()).args(args).output().expect("run ledgerfs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `ledgerfs init` into `dir`.
pub fn init(dir: &Path) {
    let (ok, _, err) = run(&["init", "--data", dir.to_str().unwrap(), "--origin", "e2e.test/log"]);
    assert!(ok, "init failed: {err}");
}

/// The verifier key of the store in `dir` (`ledgerfs key`), without its newline.
pub fn log_vkey(dir: &Path) -> String {
    let (ok, out, err) = run(&["key", "--data", dir.to_str().unwrap()]);
    assert!(ok, "ledgerfs key failed: {err}");
    out.trim().to_string()
}

/// Sets a top-level `key = value` line of the store's config (the key must be there).
pub fn set_config(dir: &Path, key: &str, value: &str) {
    let path = dir.join("ledgerfs.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let prefix = format!("{key} = ");
    assert!(text.lines().any(|l| l.starts_with(&prefix)), "no {key} in the config");
    let edited: Vec<String> = text
        .lines()
        .map(|l| {
            if l.starts_with(&prefix) {
                format!("{prefix}{value}")
            } else {
                l.to_string()
            }
        })
        .collect();
    std::fs::write(&path, edited.join("\n") + "\n").unwrap();
}

/// Appends tokens to the config: (name, token, role, accounts).
pub fn add_token(dir: &Path, name: &str, token: &str, role: &str, accounts: &[&str]) {
    use sha2::{Digest, Sha256};
    let digest: String = Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let accounts: Vec<String> = accounts.iter().map(|a| format!("{a:?}")).collect();
    let text = format!(
        "\n[[tokens]]\nname = {name:?}\nsha256 = \"{digest}\"\nrole = \"{role}\"\naccounts = [{}]\n",
        accounts.join(", ")
    );
    let path = dir.join("ledgerfs.toml");
    let mut config = std::fs::read_to_string(&path).unwrap();
    config.push_str(&text);
    std::fs::write(path, config).unwrap();
}

/// A running daemon.
pub struct Daemon {
    pub child: Child,
    pub base: String,
    pub token: String,
    pub dir: PathBuf,
}

/// Where a daemon's stderr goes: outside its data directory, so the store's file
/// system can be remounted read-only under it.
pub fn daemon_log(dir: &Path) -> PathBuf {
    std::env::temp_dir().join(format!("{}.daemon.log", dir.display().to_string().replace('/', "_")))
}

/// Longest a daemon may take to start answering (replay of a test store is quick).
pub const START_DEADLINE: Duration = Duration::from_secs(60);
/// Longest a daemon may take to exit after SIGTERM: its own shutdown bound (10 s for
/// open requests, 5 s to unmount) plus slack.
pub const STOP_DEADLINE: Duration = Duration::from_secs(30);
/// Deadline of every HTTP request the helpers make.
pub const HTTP_DEADLINE: Duration = Duration::from_secs(120);

/// The address a daemon reports on stderr (`ledgerfs: serving http://ADDR ...`), once
/// it has bound its listener and written the whole line.
fn served_address(log: &Path) -> Option<String> {
    let text = std::fs::read_to_string(log).ok()?;
    let rest = text.split("ledgerfs: serving http://").nth(1)?;
    // Only a whole line: unbuffered stderr writes the line in pieces, so a read in between
    // sees "127.0.0.1:42" of "127.0.0.1:42985" (seen in crash trials: connection refused).
    let (line, _) = rest.split_once('\n')?;
    let addr = line.split_whitespace().next()?;
    Some(addr.to_string())
}

/// Waits for `child` to exit, at most `deadline`; `None` if it is still running.
pub fn wait_until(child: &mut Child, deadline: Duration) -> Option<std::process::ExitStatus> {
    let until = Instant::now() + deadline;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        if Instant::now() >= until {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl Daemon {
    /// Starts `ledgerfs serve` on `dir` and waits until it answers.
    pub fn start(dir: &Path) -> Daemon {
        Daemon::try_start(dir).unwrap_or_else(|e| panic!("daemon did not start: {e}"))
    }

    /// Starts the daemon; Err(stderr) if it exits instead of serving.
    pub fn try_start(dir: &Path) -> Result<Daemon, String> {
        Daemon::try_start_with(dir, &[])
    }

    /// Starts the daemon with extra `serve` arguments (e.g. `--mount DIR`). It listens on
    /// port 0 and the test reads the port the kernel chose from its stderr, so two tests
    /// can never be handed the same port.
    pub fn try_start_with(dir: &Path, extra: &[&str]) -> Result<Daemon, String> {
        let log_path = daemon_log(dir);
        let log = std::fs::File::create(&log_path).unwrap();
        let child = Command::new(bin())
            .args(["serve", "--data", dir.to_str().unwrap(), "--listen", "127.0.0.1:0"])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn daemon");
        // From here on the child is killed on every return and panic.
        let mut daemon = Daemon {
            child,
            base: String::new(),
            token: std::fs::read_to_string(dir.join("admin.token"))
                .unwrap()
                .trim()
                .to_string(),
            dir: dir.to_path_buf(),
        };
        let deadline = Instant::now() + START_DEADLINE;
        let mut last_error = String::from("no address yet");
        loop {
            if let Ok(Some(_)) = daemon.child.try_wait() {
                return Err(std::fs::read_to_string(&log_path).unwrap_or_default());
            }
            if daemon.base.is_empty() {
                if let Some(addr) = served_address(&log_path) {
                    daemon.base = format!("http://{addr}");
                }
            }
            if !daemon.base.is_empty() {
                match agent().get(&format!("{}/health", daemon.base)).call() {
                    Ok(_) => return Ok(daemon),
                    Err(e) => last_error = e.to_string(),
                }
            }
            assert!(
                Instant::now() < deadline,
                "daemon did not answer /health in {START_DEADLINE:?} (last: {last_error}); its log:\n{}",
                std::fs::read_to_string(&log_path).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends `signal` to the daemon.
    pub fn signal(&self, signal: i32) {
        // SAFETY: kill(2) on our own child's pid; no memory is involved.
        unsafe { libc::kill(self.child.id() as i32, signal) };
    }

    /// SIGTERM and wait at most [`STOP_DEADLINE`]; panics (after SIGKILL) if the
    /// daemon does not exit in time.
    pub fn stop(mut self) {
        self.signal(libc::SIGTERM);
        if wait_until(&mut self.child, STOP_DEADLINE).is_none() {
            panic!(
                "daemon did not exit within {STOP_DEADLINE:?} of SIGTERM; log:\n{}",
                std::fs::read_to_string(daemon_log(&self.dir)).unwrap_or_default()
            );
        }
    }

    /// SIGKILL and wait: a crash.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// GET with the admin token: (status, JSON body).
    pub fn get(&self, path: &str) -> (u16, Value) {
        self.get_as(&self.token, path)
    }

    /// GET with a given token.
    pub fn get_as(&self, token: &str, path: &str) -> (u16, Value) {
        let r = agent()
            .get(&format!("{}{path}", self.base))
            .set("Authorization", &format!("Bearer {token}"))
            .call();
        decode(r)
    }

    /// GET with a given token: (status, body text), for bodies that are not JSON or are
    /// kept verbatim (notes, proofs).
    pub fn get_text_as(&self, token: &str, path: &str) -> (u16, String) {
        let r = agent()
            .get(&format!("{}{path}", self.base))
            .set("Authorization", &format!("Bearer {token}"))
            .call();
        match r {
            Ok(r) => (r.status(), r.into_string().unwrap()),
            Err(ureq::Error::Status(s, r)) => (s, r.into_string().unwrap()),
            Err(e) => panic!("GET {path}: {e}"),
        }
    }

    /// POST JSON with the admin token.
    pub fn post(&self, path: &str, body: &str) -> (u16, Value) {
        self.post_as(&self.token, path, body)
    }

    /// POST JSON with a given token.
    pub fn post_as(&self, token: &str, path: &str, body: &str) -> (u16, Value) {
        let r = agent()
            .post(&format!("{}{path}", self.base))
            .set("Authorization", &format!("Bearer {token}"))
            .set("Content-Type", "application/json")
            .send_string(body);
        decode(r)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP agent whose every request has a deadline ([`HTTP_DEADLINE`]).
pub fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout_connect(Duration::from_secs(5))
        .timeout(HTTP_DEADLINE)
        .build()
}

/// (status, JSON) from a ureq result, for success and error statuses alike.
pub fn decode(r: Result<ureq::Response, ureq::Error>) -> (u16, Value) {
    match r {
        Ok(r) => (r.status(), r.into_json().unwrap_or(Value::Null)),
        Err(ureq::Error::Status(s, r)) => (s, r.into_json().unwrap_or(Value::Null)),
        Err(e) => panic!("transport error: {e}"),
    }
}

/// The result codes of a submit response.
pub fn codes(body: &Value) -> Vec<String> {
    body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap().to_string())
        .collect()
}

/// Net balance (credits - debits) in cents per account, and every transfer id, from the
/// entry bundles on disk.
pub fn balances_from_disk(
    dir: &std::path::Path,
) -> (
    std::collections::HashMap<String, i128>,
    std::collections::HashSet<String>,
) {
    // Everything integrated is on disk: the published checkpoint's entries, and those of
    // a newer integrated one still waiting for its witnesses.
    let size_of = |path: std::path::PathBuf| -> u64 {
        std::fs::read_to_string(path)
            .ok()
            .and_then(|note| note.lines().nth(1)?.parse().ok())
            .unwrap_or(0)
    };
    let size = size_of(dir.join("log/checkpoint")).max(size_of(dir.join("integrated.checkpoint")));
    let mut balances = std::collections::HashMap::new();
    let mut ids = std::collections::HashSet::new();
    let mut index = 0;
    while index < size {
        let n = index / 256;
        let width = (size - n * 256).min(256);
        let path = ledgerfs_tiles::TilePath {
            kind: ledgerfs_tiles::TileKind::Entries,
            index: n,
            width: width as u16,
        };
        let bundle = std::fs::read(dir.join("log").join(path.to_path())).unwrap();
        for entry in ledgerfs_tiles::BundleIter::new(&bundle) {
            let entry: Value = serde_json::from_slice(entry.unwrap()).unwrap();
            assert_eq!(entry["index"], index);
            if entry["type"] == "transfer" {
                ids.insert(entry["id"].as_str().unwrap().to_string());
                let (whole, frac) = entry["amount"].as_str().unwrap().split_once('.').unwrap();
                let cents: i128 = whole.parse::<i128>().unwrap() * 100 + frac.parse::<i128>().unwrap();
                *balances
                    .entry(entry["debit"].as_str().unwrap().to_string())
                    .or_default() -= cents;
                *balances
                    .entry(entry["credit"].as_str().unwrap().to_string())
                    .or_default() += cents;
            }
            index += 1;
        }
    }
    (balances, ids)
}

/// Decimal text ("-12.34") in cents.
pub fn cents(text: &str) -> i128 {
    let negative = text.starts_with('-');
    let (whole, frac) = text.trim_start_matches('-').split_once('.').unwrap();
    let value = whole.parse::<i128>().unwrap() * 100 + frac.parse::<i128>().unwrap();
    if negative {
        -value
    } else {
        value
    }
}

/// A running witness, killed on drop.
pub struct Witness {
    pub child: Child,
    pub base: String,
    pub vkey: String,
}

impl Drop for Witness {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn start_witness(dir: &std::path::Path) -> Witness {
    start_witness_at(dir, "127.0.0.1:0")
}

/// `ledgerfs witness init` of a witness called `name` for the log `log_vkey` in `dir`,
/// failing the test if it fails; its stdout (the witness's verifier key).
pub fn init_witness(dir: &Path, name: &str, log_vkey: &str) -> String {
    let (ok, out, err) = run(&[
        "witness",
        "init",
        "--data",
        dir.to_str().unwrap(),
        "--name",
        name,
        "--log",
        log_vkey,
    ]);
    assert!(ok, "witness init {name}: {out}{err}");
    out
}

/// A witness listening on `listen` (a restart keeps the address its policy names).
pub fn start_witness_at(dir: &std::path::Path, listen: &str) -> Witness {
    let mut child = Command::new(bin())
        .args(["witness", "serve", "--data", dir.to_str().unwrap(), "--listen", listen])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn witness");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(rest) = line.split("serving http://").nth(1) {
                let _ = tx.send(rest.split_whitespace().next().unwrap_or("").to_string());
            }
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the witness said where it listens");
    let vkey = std::fs::read_to_string(dir.join("witness.vkey"))
        .unwrap()
        .trim()
        .to_string();
    Witness {
        child,
        base: format!("http://{addr}"),
        vkey,
    }
}

pub fn have_python_cryptography() -> bool {
    Command::new("python3")
        .args(["-c", "import cryptography"])
        .status()
        .is_ok_and(|s| s.success())
}

/// Polls `probe` every 50 ms until it returns `Some`, failing after `deadline`.
pub fn eventually<T>(what: &str, deadline: Duration, mut probe: impl FnMut() -> Option<T>) -> T {
    let until = std::time::Instant::now() + deadline;
    loop {
        if let Some(v) = probe() {
            return v;
        }
        assert!(std::time::Instant::now() < until, "{what} within {deadline:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub fn published(d: &Daemon) -> (u64, String) {
    let (status, note) = d.get_text_as(&d.token, "/log/checkpoint");
    assert_eq!(status, 200, "{note}");
    (note.lines().nth(1).unwrap().parse().unwrap(), note)
}

pub fn metric(d: &Daemon, name: &str) -> String {
    let text = agent()
        .get(&format!("{}/metrics", d.base))
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    text.lines()
        .find(|l| l.starts_with(name))
        .unwrap_or_else(|| panic!("no {name} in /metrics:\n{text}"))
        .rsplit(' ')
        .next()
        .unwrap()
        .to_string()
}
