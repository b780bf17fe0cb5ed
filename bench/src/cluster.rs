//! A throw-away PostgreSQL 15 cluster: `initdb` into a temporary directory, listening
//! on a free loopback port with fsync and synchronous_commit on, started and stopped
//! with `pg_ctl`, deleted when dropped. PostgreSQL refuses to run as root, so as root
//! the cluster belongs to the `postgres` user (created by the Debian package, which
//! `scripts/bench-setup.sh` installs) and every command runs through `runuser`.

use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{Context, Result};
use crate::sysinfo;

/// The settings the baseline runs with (all else is PostgreSQL's default).
pub const SETTINGS: &[(&str, &str)] = &[
    ("fsync", "on"),
    ("synchronous_commit", "on"),
    ("full_page_writes", "on"),
    ("wal_sync_method", "fdatasync"),
    ("max_connections", "100"),
];

/// A running (or stopped) cluster.
pub struct Cluster {
    bin: PathBuf,
    root: PathBuf,
    data: PathBuf,
    /// Loopback port it listens on.
    pub port: u16,
    owner: Option<(libc::uid_t, libc::gid_t)>,
    running: bool,
}

fn postgres_user() -> Result<(libc::uid_t, libc::gid_t)> {
    let name = CString::new("postgres").map_err(|e| e.to_string())?;
    // SAFETY: a valid C string; getpwnam returns null or a pointer to static data that
    // is read at once, before any other getpw* call.
    let pw = unsafe { libc::getpwnam(name.as_ptr()) };
    if pw.is_null() {
        return Err("running as root needs a `postgres` user: run scripts/bench-setup.sh".into());
    }
    // SAFETY: non-null, points to a valid passwd record.
    Ok(unsafe { ((*pw).pw_uid, (*pw).pw_gid) })
}

fn chown_tree(path: &Path, uid: libc::uid_t, gid: libc::gid_t) -> Result<()> {
    std::os::unix::fs::chown(path, Some(uid), Some(gid)).context(|| format!("chown {}", path.display()))?;
    if path.is_dir() {
        for entry in std::fs::read_dir(path).context(|| path.display().to_string())? {
            let entry = entry.context(|| path.display().to_string())?;
            chown_tree(&entry.path(), uid, gid)?;
        }
    }
    Ok(())
}

impl Cluster {
    /// `initdb` a cluster under `root` (an empty directory on the disk under test).
    pub fn create(bin: &Path, root: &Path) -> Result<Cluster> {
        for tool in ["initdb", "pg_ctl", "postgres"] {
            if !bin.join(tool).exists() {
                return Err(format!(
                    "{} not found: run scripts/bench-setup.sh (installs PostgreSQL 15)",
                    bin.join(tool).display()
                ));
            }
        }
        std::fs::create_dir_all(root).context(|| root.display().to_string())?;
        let owner = if sysinfo::is_root() {
            Some(postgres_user()?)
        } else {
            None
        };
        if let Some((uid, gid)) = owner {
            use std::os::unix::fs::PermissionsExt;
            chown_tree(root, uid, gid)?;
            std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o700))
                .context(|| root.display().to_string())?;
        }
        let cluster = Cluster {
            bin: bin.to_path_buf(),
            root: root.to_path_buf(),
            data: root.join("data"),
            port: sysinfo::free_port()?,
            owner,
            running: false,
        };
        cluster.run(
            "initdb",
            &[
                "-D",
                &cluster.data.to_string_lossy(),
                "-U",
                "bench",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-instructions",
            ],
        )?;
        let mut conf = format!(
            "\n# ledgerfs-bench\nlisten_addresses = '127.0.0.1'\nport = {}\nunix_socket_directories = '{}'\n",
            cluster.port,
            root.display()
        );
        for (name, value) in SETTINGS {
            conf.push_str(&format!("{name} = {value}\n"));
        }
        let path = cluster.data.join("postgresql.conf");
        let mut text = std::fs::read_to_string(&path).context(|| path.display().to_string())?;
        text.push_str(&conf);
        std::fs::write(&path, text).context(|| path.display().to_string())?;
        Ok(cluster)
    }

    /// Runs one of the cluster's tools as the cluster's owner.
    fn run(&self, tool: &str, args: &[&str]) -> Result<()> {
        let program = self.bin.join(tool);
        let mut command = if self.owner.is_some() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&program);
            c
        } else {
            Command::new(&program)
        };
        let out = command
            .args(args)
            .current_dir(&self.root)
            .output()
            .context(|| format!("running {tool}"))?;
        if !out.status.success() {
            return Err(format!(
                "{tool} failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(())
    }

    /// Starts the server and waits until it accepts connections.
    pub fn start(&mut self) -> Result<()> {
        let log = self.root.join("postgres.log");
        self.run(
            "pg_ctl",
            &[
                "-D",
                &self.data.to_string_lossy(),
                "-l",
                &log.to_string_lossy(),
                "-w",
                "-t",
                "120",
                "start",
            ],
        )?;
        self.running = true;
        Ok(())
    }

    /// Stops the server (fast shutdown).
    pub fn stop(&mut self) -> Result<()> {
        if !self.running {
            return Ok(());
        }
        self.running = false;
        self.run(
            "pg_ctl",
            &["-D", &self.data.to_string_lossy(), "-m", "fast", "-w", "stop"],
        )
    }

    /// libpq connection string.
    pub fn conninfo(&self) -> String {
        format!("host=127.0.0.1 port={} user=bench dbname=postgres", self.port)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            eprintln!("ledgerfs-bench: stopping PostgreSQL: {e}");
        }
        let _ = std::fs::remove_dir_all(&self.root);
    }
}
