//! The LedgerFS daemon under test: `ledgerfs init` a store, spawn `ledgerfs serve` on a
//! free loopback port (optionally with `--mount`, or under a profiler), wait for
//! `/health`, and stop it with SIGTERM (it unmounts and exits cleanly).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::{Context, Result};
use crate::http::Api;
use crate::sysinfo::{self, Memory};

/// How long a start may take (replaying a 10M-entry store takes a while).
const START_TIMEOUT: Duration = Duration::from_secs(900);

/// A store made with `ledgerfs init`.
#[derive(Clone, Debug)]
pub struct Store {
    /// The daemon binary.
    pub bin: PathBuf,
    /// The data directory.
    pub dir: PathBuf,
    /// The admin bearer token.
    pub token: String,
}

impl Store {
    /// Runs `ledgerfs init --data DIR`.
    pub fn init(bin: &Path, dir: &Path) -> Result<Store> {
        let out = Command::new(bin)
            .args(["init", "--origin", "bench.ledgerfs.localhost/log", "--data"])
            .arg(dir)
            .output()
            .context(|| format!("running {} init", bin.display()))?;
        if !out.status.success() {
            return Err(format!(
                "ledgerfs init failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let token_path = dir.join("admin.token");
        let token = std::fs::read_to_string(&token_path)
            .context(|| token_path.display().to_string())?
            .trim()
            .to_string();
        Ok(Store {
            bin: bin.to_path_buf(),
            dir: dir.to_path_buf(),
            token,
        })
    }

    /// The log directory (tiles, bundles, checkpoint).
    pub fn log_dir(&self) -> PathBuf {
        self.dir.join("log")
    }
}

/// How to start the daemon.
#[derive(Clone, Debug, Default)]
pub struct Launch {
    /// Mount the FUSE view here.
    pub mount: Option<PathBuf>,
    /// Run it under this command (e.g. `valgrind --tool=callgrind ...`).
    pub wrapper: Vec<String>,
}

/// A running daemon.
pub struct Daemon {
    child: Child,
    /// Its API.
    pub api: Api,
    /// Time from spawn to `/health` answering.
    pub start_time: Duration,
}

impl Daemon {
    /// Spawns `serve` on `store` and waits for `/health`; `log` receives its stderr.
    pub fn start(store: &Store, launch: &Launch, log: &Path) -> Result<Daemon> {
        let port = sysinfo::free_port()?;
        let listen = format!("127.0.0.1:{port}");
        let stderr = File::create(log).context(|| log.display().to_string())?;
        let mut command = match launch.wrapper.split_first() {
            Some((program, args)) => {
                let mut c = Command::new(program);
                c.args(args).arg(&store.bin);
                c
            }
            None => Command::new(&store.bin),
        };
        command
            .arg("serve")
            .arg("--data")
            .arg(&store.dir)
            .args(["--listen", &listen])
            .env_remove("LEDGERFS_LISTEN")
            .env_remove("LEDGERFS_MOUNT")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr);
        if let Some(mount) = &launch.mount {
            command.arg("--mount").arg(mount);
        }
        let spawned = Instant::now();
        let child = command
            .spawn()
            .context(|| format!("spawning {}", store.bin.display()))?;
        let api = Api::new(&format!("http://{listen}"), &store.token);
        let mut daemon = Daemon {
            child,
            api,
            start_time: Duration::ZERO,
        };
        loop {
            if daemon.api.healthy() {
                daemon.start_time = spawned.elapsed();
                return Ok(daemon);
            }
            if let Ok(Some(status)) = daemon.child.try_wait() {
                return Err(format!("the daemon exited ({status}): {}", tail(log)));
            }
            if spawned.elapsed() > START_TIMEOUT {
                return Err(format!("the daemon did not answer /health in {START_TIMEOUT:?}"));
            }
            std::thread::sleep(Duration::from_micros(500));
        }
    }

    /// The daemon's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its peak and current resident memory.
    pub fn memory(&self) -> Result<Memory> {
        sysinfo::memory(self.pid())
    }

    /// SIGTERM, then wait (SIGKILL after `grace`).
    pub fn stop_within(mut self, grace: Duration) -> Result<()> {
        sysinfo::signal(self.pid(), libc::SIGTERM);
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        Err(format!("the daemon did not stop within {grace:?}; killed"))
    }

    /// SIGTERM with a 30-second grace.
    pub fn stop(self) -> Result<()> {
        self.stop_within(Duration::from_secs(30))
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            sysinfo::signal(self.child.id(), libc::SIGTERM);
            std::thread::sleep(Duration::from_millis(200));
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The last lines of a log file, for error messages.
pub fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().rev().take(5).collect();
    lines.into_iter().rev().collect::<Vec<_>>().join(" | ")
}
