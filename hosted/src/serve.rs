//! `ledgerfs serve`: open (and verify) the store, start the domain threads, serve HTTP
//! until SIGINT/SIGTERM. Acknowledged writes are already durable, so stopping needs no
//! flush; in-flight requests simply never get an answer.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};

use crate::api::{router, AppState};
use crate::auth::Tokens;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::ledger;
use crate::logread::LogReader;
use crate::store::PosixStore;

/// Opens the store with a progress bar on stderr.
pub fn open_with_progress(dir: &Path) -> Result<ledger::Opened> {
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("replaying log {bar:30} {pos}/{len} entries ({per_sec}, eta {eta})")
            .expect("valid template"),
    );
    let opened = ledger::open(dir, &mut |done, total| {
        bar.set_length(total);
        bar.set_position(done);
    });
    bar.finish_and_clear();
    opened
}

/// Runs the daemon until a signal.
pub fn serve(dir: &Path, listen: Option<String>) -> Result<()> {
    let started = Instant::now();
    let opened = open_with_progress(dir)?;
    let mut config = opened.config.clone();
    if let Some(listen) = listen {
        config.listen = listen;
        config.validate()?;
    }
    eprintln!(
        "ledgerfs: opened {} at size {} ({} accounts) in {:.2?}",
        dir.display(),
        opened.committed.size,
        opened.view.accounts.len(),
        started.elapsed()
    );
    let engine = Engine::start(dir.to_path_buf(), opened)?;
    let state = AppState {
        engine,
        reader: Arc::new(LogReader::new(PosixStore::new(dir.join(ledger::LOG_DIR)))),
        tokens: Arc::new(Tokens::from_config(&config)),
        started,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::Storage(e.to_string()))?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&config.listen)
            .await
            .map_err(|e| Error::Config(format!("cannot listen on {}: {e}", config.listen)))?;
        eprintln!("ledgerfs: serving http://{} (origin {})", config.listen, config.origin);
        axum::serve(listener, router(state))
            .with_graceful_shutdown(shutdown_signal())
            .await
            .map_err(|e| Error::Storage(e.to_string()))
    })?;
    eprintln!("ledgerfs: stopped");
    Ok(())
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
