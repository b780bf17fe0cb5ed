//! `ledgerfs witness`: a small, separate C2SP tlog-witness server another institution can
//! run. `init` makes its Ed25519 cosigner key and the list of logs it witnesses; `serve`
//! answers `POST /add-checkpoint` with the `ledgerfs-witness` core, persisting the new
//! state durably (temporary file, fsync, rename, directory fsync) before it answers, under
//! one lock (so no two requests can roll the record back), and serves the latest cosigned
//! checkpoint of each log to monitors (`GET /checkpoint?origin=O`, `GET /checkpoints`).
//!
//! ```text
//! WDIR/witness.key    PRIVATE+KEY+<name>+<id>+base64(0x04 || seed)   (mode 0600)
//! WDIR/witness.vkey   <name>+<id>+base64(0x04 || public key)
//! WDIR/witness.toml   name, and one [[logs]] per witnessed log (origin, vkey)
//! WDIR/state.json     the latest cosigned checkpoint per origin
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use ledgerfs_attest::{CosignerKey, VerifierKey};
use ledgerfs_witness::{add_checkpoint, Latest, Log};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::storage::fs::posix;
use crate::storage::fsutil;

pub mod submit;

use submit::Submission;

const KEY_FILE: &str = "witness.key";
const VKEY_FILE: &str = "witness.vkey";
const CONFIG_FILE: &str = "witness.toml";
const STATE_FILE: &str = "state.json";
/// Largest request body (a checkpoint with many cosignatures and 63 proof lines).
const MAX_BODY: usize = 64 * 1024;

#[derive(Serialize, Deserialize)]
struct Config {
    name: String,
    logs: Vec<LogConfig>,
}

#[derive(Serialize, Deserialize)]
struct LogConfig {
    origin: String,
    vkey: String,
}

#[derive(Serialize, Deserialize, Default)]
struct Stored {
    logs: BTreeMap<String, StoredLatest>,
}

#[derive(Serialize, Deserialize)]
struct StoredLatest {
    size: u64,
    root: String,
    note: String,
}

/// Creates a witness in `dir` (new or empty) named `name` for the logs whose verifier
/// keys are `logs` (each key's name is the log's origin). Returns its verifier key.
pub fn init(dir: &Path, name: &str, logs: &[String]) -> Result<String> {
    if dir.join(KEY_FILE).exists() {
        return Err(Error::AlreadyInitialised(dir.display().to_string()));
    }
    let mut configs = Vec::new();
    for text in logs {
        let key = VerifierKey::parse(text.trim()).map_err(|e| Error::Config(format!("--log {text}: {e}")))?;
        configs.push(LogConfig {
            origin: key.name().to_string(),
            vkey: key.encode(),
        });
    }
    if configs.is_empty() {
        return Err(Error::Config("give at least one --log VKEY".into()));
    }
    let mut seed = [0u8; 32];
    getrandom::getrandom(&mut seed).expect("the OS provides randomness");
    let key = CosignerKey::from_seed(name, seed).map_err(|e| Error::Config(format!("--name {name:?}: {e}")))?;
    let fs = posix();
    fsutil::create_dir_all(&*fs, dir)?;
    fsutil::write_secret(&*fs, &dir.join(KEY_FILE), format!("{}\n", key.encode()).as_bytes())?;
    let vkey = key.verifier().encode();
    fsutil::write_atomic(&*fs, &dir.join(VKEY_FILE), format!("{vkey}\n").as_bytes(), 0o644)?;
    let config = toml::to_string(&Config {
        name: name.to_string(),
        logs: configs,
    })
    .map_err(|e| Error::Config(e.to_string()))?;
    fsutil::write_atomic(&*fs, &dir.join(CONFIG_FILE), config.as_bytes(), 0o644)?;
    Ok(vkey)
}

struct Witness {
    dir: PathBuf,
    key: CosignerKey,
    logs: Vec<Log>,
    state: Mutex<ledgerfs_witness::State>,
}

fn read(dir: &Path, name: &str) -> Result<String> {
    std::fs::read_to_string(dir.join(name)).map_err(|e| Error::io(&dir.join(name), e))
}

fn load(dir: &Path) -> Result<Witness> {
    let key = CosignerKey::parse(&read(dir, KEY_FILE)?).map_err(|e| Error::Config(format!("{KEY_FILE}: {e}")))?;
    let config: Config =
        toml::from_str(&read(dir, CONFIG_FILE)?).map_err(|e| Error::Config(format!("{CONFIG_FILE}: {e}")))?;
    let mut logs = Vec::new();
    for l in config.logs {
        let vkey =
            VerifierKey::parse(&l.vkey).map_err(|e| Error::Config(format!("{CONFIG_FILE}: {}: {e}", l.origin)))?;
        logs.push(Log {
            origin: l.origin,
            keys: vec![vkey],
        });
    }
    let mut state = ledgerfs_witness::State::new();
    if dir.join(STATE_FILE).exists() {
        let stored: Stored = serde_json::from_str(&read(dir, STATE_FILE)?).map_err(|e| Error::Corrupt {
            path: STATE_FILE.into(),
            reason: e.to_string(),
        })?;
        for (origin, l) in stored.logs {
            let root: [u8; 32] = B64
                .decode(&l.root)
                .ok()
                .and_then(|r| r.try_into().ok())
                .ok_or_else(|| Error::Corrupt {
                    path: STATE_FILE.into(),
                    reason: format!("{origin}: root is not a base64 hash"),
                })?;
            state.insert(
                origin,
                Latest {
                    size: l.size,
                    root,
                    note: l.note,
                },
            );
        }
    }
    Ok(Witness {
        dir: dir.to_path_buf(),
        key,
        logs,
        state: Mutex::new(state),
    })
}

fn persist(dir: &Path, state: &ledgerfs_witness::State) -> Result<()> {
    let stored = Stored {
        logs: state
            .iter()
            .map(|(o, l)| {
                (
                    o.clone(),
                    StoredLatest {
                        size: l.size,
                        root: B64.encode(l.root),
                        note: l.note.clone(),
                    },
                )
            })
            .collect(),
    };
    let text = serde_json::to_string_pretty(&stored).expect("JSON prints");
    fsutil::write_atomic(&*posix(), &dir.join(STATE_FILE), text.as_bytes(), 0o644)
}

async fn add(State(w): State<Arc<Witness>>, body: Bytes) -> Response {
    if body.len() > MAX_BODY {
        return (StatusCode::PAYLOAD_TOO_LARGE, "the request is too large\n").into_response();
    }
    let answer = tokio::task::spawn_blocking(move || {
        // Check and persist under one lock: no request can roll another's record back.
        let mut state = w.state.lock().expect("witness state lock");
        let answer = add_checkpoint(&w.logs, &state, &w.key, &body, crate::clock::unix_secs());
        if let Some((origin, latest)) = &answer.record {
            let mut next = state.clone();
            next.insert(origin.clone(), latest.clone());
            if let Err(e) = persist(&w.dir, &next) {
                eprintln!("ledgerfs witness: persisting the state failed: {e}");
                return None;
            }
            *state = next;
        }
        Some(answer)
    })
    .await
    .ok()
    .flatten();
    match answer {
        Some(a) => (
            StatusCode::from_u16(a.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            [(header::CONTENT_TYPE, a.content_type)],
            a.body,
        )
            .into_response(),
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            "the witness cannot persist its state now\n",
        )
            .into_response(),
    }
}

#[derive(Deserialize)]
struct OriginQuery {
    origin: String,
}

async fn checkpoint(State(w): State<Arc<Witness>>, Query(q): Query<OriginQuery>) -> Response {
    let state = w.state.lock().expect("witness state lock");
    match state.get(&q.origin) {
        Some(l) => ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], l.note.clone()).into_response(),
        None => (StatusCode::NOT_FOUND, "no checkpoint cosigned for that origin\n").into_response(),
    }
}

async fn checkpoints(State(w): State<Arc<Witness>>) -> Response {
    let state = w.state.lock().expect("witness state lock");
    let all: BTreeMap<&String, serde_json::Value> = state
        .iter()
        .map(|(o, l)| {
            (
                o,
                serde_json::json!({"size": l.size, "root": B64.encode(l.root), "note": l.note}),
            )
        })
        .collect();
    axum::Json(serde_json::json!({"witness": w.key.verifier().encode(), "logs": all})).into_response()
}

/// Serves the witness in `dir` on `listen` until SIGINT/SIGTERM.
pub fn serve(dir: &Path, listen: &str) -> Result<()> {
    let witness = Arc::new(load(dir)?);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::Storage(e.to_string()))?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| Error::Config(format!("listen {listen}: {e}")))?;
        let bound = listener.local_addr().map_err(|e| Error::Storage(e.to_string()))?;
        eprintln!(
            "ledgerfs witness: serving http://{bound} as {} ({} logs)",
            witness.key.verifier().encode(),
            witness.logs.len()
        );
        let app = Router::new()
            .route("/add-checkpoint", post(add))
            .route("/checkpoint", get(checkpoint))
            .route("/checkpoints", get(checkpoints))
            .with_state(witness);
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let mut term =
                    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM");
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            })
            .await
            .map_err(|e| Error::Storage(e.to_string()))
    })
}

/// Collects cosignatures on `log`'s published checkpoint (`/log/checkpoint`) from every
/// witness of `policy` that has a URL (see [`submit::submit`]; consistency proofs come
/// from the log's `/v1/proofs/consistency`). Returns the checkpoint with every
/// cosignature that verifies, and the policy's verdict on it. A witness that is down or
/// refuses is skipped (its reason printed).
pub fn collect(
    log: &crate::cli::client::Client,
    policy: &ledgerfs_witness::Policy,
) -> Result<(String, ledgerfs_witness::Verdict)> {
    // The published checkpoint: the tree readers and mirrors see under /log/.
    let published = log.get_text("/log/checkpoint")?;
    let size = ledgerfs_attest::parse_checkpoint_unverified(published.as_bytes())
        .map_err(|e| Error::Client(format!("/log/checkpoint: {e}")))?
        .size;
    // The log's own signature only: cosignatures it already carries are collected anew.
    let note = strip_cosignatures(&published, policy);
    let agent = ureq::AgentBuilder::new()
        .timeout_connect(std::time::Duration::from_secs(5))
        .timeout(std::time::Duration::from_secs(15))
        .build();
    let proof = |old: u64| -> std::result::Result<Vec<String>, String> {
        let proof = log
            .get(&format!("/v1/proofs/consistency?from={old}&to={size}"))
            .map_err(|e| e.to_string())?;
        Ok(proof["proof"]
            .as_array()
            .map(|a| a.iter().filter_map(|h| h.as_str().map(str::to_string)).collect())
            .unwrap_or_default())
    };
    let mut lines = String::new();
    for w in policy.witnesses.iter().filter(|w| w.url.is_some()) {
        match submit::submit(&agent, w, &note, size, 0, &proof) {
            Submission::Cosigned(line) => lines.push_str(&line),
            Submission::Conflict(why) => eprintln!("ledgerfs witness collect: {}: CONFLICT: {why}", w.name),
            Submission::Refused(why) => eprintln!("ledgerfs witness collect: {}: refused: {why}", w.name),
            Submission::Down(why) => eprintln!("ledgerfs witness collect: {}: unreachable: {why}", w.name),
        }
    }
    let cosigned = format!("{note}{lines}");
    let verdict = policy.check(cosigned.as_bytes()).map_err(Error::Client)?;
    Ok((cosigned, verdict))
}

/// `note` without the signature lines of `policy`'s witnesses (a published checkpoint
/// carries them; a submission sends the log's signature alone).
pub fn strip_cosignatures(note: &str, policy: &ledgerfs_witness::Policy) -> String {
    let Some(split) = note.rfind("\n\n") else {
        return note.to_string();
    };
    let (body, signatures) = note.split_at(split + 2);
    let mut out = body.to_string();
    for line in signatures.lines() {
        let name = line.strip_prefix("\u{2014} ").and_then(|l| l.split(' ').next());
        if name.is_some_and(|n| policy.witnesses.iter().any(|w| w.key.name() == n)) {
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}
