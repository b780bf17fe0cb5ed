//! `ledgerfs serve`: open (and verify) the store, start the domain threads, serve HTTP
//! until SIGINT/SIGTERM. Acknowledged writes are already durable, so stopping needs no
//! flush: on a signal, new connections stop, entry streams end, open requests get at most
//! [`SHUTDOWN_GRACE`] to finish (then never get an answer), and the FUSE view unmounts.

use std::future::IntoFuture;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use crate::access::auth::Tokens;
use crate::api::{router, AppState};
use crate::error::{Error, Result};
use crate::fuse::{self, LedgerFs};
use crate::pipeline::engine::Engine;
use crate::read::logread::LogReader;
use crate::storage::ledger;
use crate::storage::tiles::PosixStore;

/// Opens the store with a progress bar on stderr.
pub fn open_with_progress(dir: &Path, from: ledger::Start) -> Result<ledger::Opened> {
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("replaying log {bar:30} {pos}/{len} entries ({per_sec}, eta {eta})")
            .expect("valid template"),
    );
    let opened = ledger::open(dir, from, &mut |done, total| {
        bar.set_length(total);
        bar.set_position(done);
    });
    bar.finish_and_clear();
    opened
}

/// What `serve` exposes.
pub struct ServeOptions {
    /// Override of the config's listen address.
    pub listen: Option<String>,
    /// Where to mount the FUSE view, if anywhere.
    pub mount: Option<PathBuf>,
    /// Whether to serve HTTP (false for `ledgerfs mount`).
    pub http: bool,
    /// Override of the config's witness policy.
    pub policy: Option<PathBuf>,
}

/// Runs the daemon until SIGINT/SIGTERM, then unmounts and stops.
pub fn serve(dir: &Path, options: ServeOptions) -> Result<()> {
    let started = Instant::now();
    let mut opened = open_with_progress(dir, ledger::Start::NewestSnapshot)?;
    if let Some(policy) = options.policy {
        let absolute = std::path::absolute(&policy).map_err(|e| Error::io(&policy, e))?;
        opened.config.policy = Some(absolute.to_string_lossy().into_owned());
    }
    let mut config = opened.config.clone();
    if let Some(listen) = options.listen {
        config.listen = listen;
        config.validate()?;
    }
    let from = match opened.from_snapshot {
        Some(size) => format!(
            "from the snapshot at size {size}, replaying {}",
            opened.committed.size - size
        ),
        None => "replaying the whole log".to_string(),
    };
    eprintln!(
        "ledgerfs: opened {} at size {} ({} accounts) in {:.2?} ({from})",
        dir.display(),
        opened.committed.size,
        opened.view.accounts.len(),
        started.elapsed()
    );
    let integrity = format!(
        "startup integrity check passed: checkpoint signature, every tile up to size {} root {}, {} accounts ({from}, every replayed entry checked by the sequencer core)",
        opened.committed.size,
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, opened.committed.root),
        opened.view.accounts.len(),
    );
    let engine = Engine::start(dir.to_path_buf(), opened)?;
    // DORA Art. 12(7): the check start-up ran after a restart or a crash, in the audit trail.
    let _ = engine.audit.record(crate::access::audit::AuditRecord {
        who: "ledgerfs".into(),
        role: "system",
        via: "startup",
        uid: None,
        what: integrity,
        bytes: 0,
        status: 200,
    });
    let stopping_engine = engine.clone();
    let reader = Arc::new(LogReader::new(
        PosixStore::new(dir.join(ledger::LOG_DIR)).with_edge(engine.edge.clone()),
    ));
    let tokens = Arc::new(Tokens::watching(dir.to_path_buf(), &config));
    let session = match &options.mount {
        Some(mountpoint) => {
            let fs = LedgerFs::new(engine.clone(), reader.clone(), tokens.clone());
            let session = fuse::mount(mountpoint, fs)?;
            eprintln!("ledgerfs: mounted the ledger read-only at {}", mountpoint.display());
            Some(session)
        }
        None => None,
    };
    let (stopping, shutdown) = tokio::sync::watch::channel(false);
    let state = AppState {
        engine,
        reader,
        tokens,
        started,
        shutdown: shutdown.clone(),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::Storage(e.to_string()))?;
    let served = runtime.block_on(async move {
        if !options.http {
            shutdown_signal().await;
            return Ok(());
        }
        let listener = tokio::net::TcpListener::bind(&config.listen)
            .await
            .map_err(|e| Error::Config(format!("cannot listen on {}: {e}", config.listen)))?;
        // The bound address, not the configured one: `--listen 127.0.0.1:0` picks a port.
        let bound = listener
            .local_addr()
            .map_err(|e| Error::Config(format!("cannot listen on {}: {e}", config.listen)))?;
        eprintln!("ledgerfs: serving http://{bound} (origin {})", config.origin);
        let mut drained = shutdown.clone();
        let server = axum::serve(listener, router(state))
            .with_graceful_shutdown(async move {
                let _ = drained.wait_for(|stopping| *stopping).await;
            })
            .into_future();
        tokio::pin!(server);
        tokio::select! {
            result = &mut server => result.map_err(|e| Error::Storage(e.to_string())),
            () = shutdown_signal() => {
                eprintln!("ledgerfs: stopping (at most {SHUTDOWN_GRACE:?} for open requests)");
                let _ = stopping.send(true);
                match tokio::time::timeout(SHUTDOWN_GRACE, server).await {
                    Ok(result) => result.map_err(|e| Error::Storage(e.to_string())),
                    Err(_) => {
                        eprintln!("ledgerfs: open requests did not finish in {SHUTDOWN_GRACE:?}; stopping anyway");
                        Ok(())
                    }
                }
            }
        }
    });
    // Tasks still running (a request abandoned above, a blocked audit write) must not
    // keep the process alive: dropping a runtime would wait for them without a bound.
    runtime.shutdown_timeout(Duration::from_secs(1));
    // No more writes: a snapshot of the final state makes the next start replay nothing.
    stopping_engine.snapshot_for_shutdown(SNAPSHOT_GRACE);
    if let (Some(session), Some(mountpoint)) = (session, &options.mount) {
        unmount(session, mountpoint);
    }
    served?;
    eprintln!("ledgerfs: stopped");
    Ok(())
}

/// How long a stopping daemon waits for open HTTP requests before it stops anyway
/// (entry streams end at once; this bounds slow reads and writes in flight).
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// How long a stopping daemon waits for its final snapshot (10M transfers take a few
/// seconds); past it the daemon stops anyway and the next start replays the tail.
const SNAPSHOT_GRACE: Duration = Duration::from_secs(60);

/// How long unmounting may take before the mount is detached lazily.
const UNMOUNT_GRACE: Duration = Duration::from_secs(5);

/// Unmounts the FUSE view within [`UNMOUNT_GRACE`]; if it is busy (a file is still open)
/// or the session thread does not finish, detaches it lazily rather than leave a stale
/// mount or hang.
fn unmount(session: fuser::BackgroundSession, mountpoint: &Path) {
    let (done, finished) = std::sync::mpsc::channel();
    let spawned = std::thread::Builder::new().name("unmount".into()).spawn(move || {
        let _ = done.send(session.umount_and_join());
    });
    let outcome = match spawned {
        Ok(_) => finished
            .recv_timeout(UNMOUNT_GRACE)
            .unwrap_or_else(|_| Err(std::io::Error::other(format!("not done in {UNMOUNT_GRACE:?}")))),
        Err(e) => Err(e),
    };
    if let Err(e) = outcome {
        eprintln!("ledgerfs: unmount: {e}; detaching {} lazily", mountpoint.display());
        fuse::detach(mountpoint);
    }
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
