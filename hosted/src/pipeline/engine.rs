//! The hosted composition of the cores: the sequencer, tiles and attestation domains
//! each run on their own thread. The sequencer-to-committer link is the very SPSC ring
//! core the seL4 image uses (`ledgerfs-ring`, with park/unpark as notifications); the
//! many-producer ingress and the one-slot sign exchange are bounded std queues. The pipeline overlaps sequencing of one
//! group with hashing and writing of the previous one (group commit).
//!
//! ```text
//!  HTTP handlers ──ingress──▶ sequencer ──groups──▶ committer ──sign──▶ attest
//!        ▲                    (Sequencer core)      (TileLog core,     (Attestor core,
//!        └────────── replies after the checkpoint ── POSIX store)        the key)
//! ```
//!
//! Nothing is acknowledged before the group's entries and the signed checkpoint covering
//! them are durable in the journal (one `fdatasync`); their tiles and bundles are then
//! revealed, and a publisher thread replaces `DIR/log/checkpoint` in the background once
//! those tiles are durable (see `crate::storage::tiles`). If storage fails before the signature,
//! the group and every group sequenced after it are refused, the sequencer rolls back
//! to the durable size, and writes resume when storage works again.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Instant;

use ledgerfs_attest::Attestor;
use ledgerfs_model::Event;
use ledgerfs_sequencer::{CommittedProof, EntryBuffer, EventResult, Notice, Sequencer};
use tokio::sync::{oneshot, watch};

use crate::access::audit::{self, Audit};
use crate::error::{Error, Result};
use crate::pipeline::commit::{CommitStage, Handed, Publication};
use crate::pipeline::logwriter::{CommitFailure, LogId, LogWriter, SignMessage, Signer};
use crate::pipeline::witnessing::Witnessing;
use crate::read::view::{Committed, View};
use crate::recon::breaklog::{self, BreakLog};
use crate::storage::fs::Fs;
use crate::storage::ledger::{self, Opened};
use crate::storage::tiles::{PosixStore, RightEdge};
use ledgerfs_ring::blocking::{ring, Mailbox, RingReceiver, RingSender};

/// Most requests queued at the sequencer; beyond it a submit is refused `overloaded`.
const INGRESS_DEPTH: usize = 1_024;
/// Most events submitted and not yet answered; beyond it a submit is refused `overloaded`
/// (503 with `Retry-After`), so memory and latency stay bounded under any load.
pub const MAX_INFLIGHT_EVENTS: usize = 16 * ledgerfs_model::limits::MAX_BATCH_EVENTS;
/// Most request-body bytes submitted and not yet answered (same refusal).
pub const MAX_INFLIGHT_BYTES: usize = 256 * 1024 * 1024;
/// Groups queued between sequencer and committer (a power of two). The committer merges
/// whatever is queued into one commit, so a deep queue means bigger group commits, not
/// more latency.
const GROUP_DEPTH: usize = 64;
/// Most entries the committer puts under one checkpoint (bounds commit latency).
const COMMIT_MAX_ENTRIES: usize = 8 * ledgerfs_model::limits::MAX_BATCH_EVENTS;
/// Most events gathered into one commit group.
const GROUP_MAX_EVENTS: usize = 4 * ledgerfs_model::limits::MAX_BATCH_EVENTS;
/// Events a big batch is cut into for pipelining (at linked-chain boundaries): each
/// piece is sequenced, then handed to the committer while the next one is sequenced.
const PIECE_EVENTS: usize = 1_024;
/// Least time between two publications of the checkpoint file (each costs a `syncfs`);
/// readers of the API and FUSE see every durable checkpoint at once regardless.
const PUBLISH_INTERVAL: std::time::Duration = std::time::Duration::from_millis(25);

/// The outcome of a batch, sent once it is durable.
#[derive(Debug)]
pub struct BatchOutcome {
    /// One result per event.
    pub results: Vec<EventResult>,
    /// The events as submitted, handed back so the handler that parsed them renders
    /// their ids and frees them on its own thread (not the sequencer's hot path).
    pub events: Vec<Event>,
    /// The checkpoint covering every accepted event.
    pub committed: Arc<Committed>,
}

/// Requests the sequencer thread serves.
enum Command {
    Submit {
        events: Vec<Event>,
        reply: oneshot::Sender<Result<BatchOutcome>>,
    },
    LookupTransfer {
        id: String,
        reply: oneshot::Sender<Option<u64>>,
    },
    /// What the last balance commitment proves about an account id; when the last one
    /// no longer shows it as it is, a new commitment entry is written first (`commit`)
    /// or the answer is `None`.
    ProveBalance {
        id: String,
        commit: bool,
        reply: oneshot::Sender<Option<CommittedProof>>,
    },
    /// Clean shutdown: take a snapshot now (if anything is new since the last one),
    /// written before the reply, so the next start replays nothing.
    SnapshotNow { reply: oneshot::Sender<()> },
}

struct Waiter {
    reply: oneshot::Sender<Result<BatchOutcome>>,
    results: Vec<EventResult>,
    events: Vec<Event>,
}

struct Group {
    epoch: u64,
    entries: EntryBuffer,
    waiters: Vec<Waiter>,
}

impl Group {
    fn new(epoch: u64) -> Group {
        Group {
            epoch,
            entries: EntryBuffer::new(),
            waiters: Vec::new(),
        }
    }
}

/// Counters for `/metrics`.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Batches acknowledged.
    pub batches: AtomicU64,
    /// Events submitted.
    pub events: AtomicU64,
    /// Entries made durable.
    pub entries: AtomicU64,
    /// Commit groups made durable.
    pub commits: AtomicU64,
    /// Total nanoseconds spent in commits (write + sync + sign + checkpoint).
    pub commit_nanos: AtomicU64,
    /// Commits that failed on storage.
    pub storage_failures: AtomicU64,
}

/// Handle to the running pipeline.
#[derive(Clone)]
pub struct Engine {
    ingress: SyncSender<Command>,
    /// The committed read model.
    pub view: Arc<View>,
    /// Durable size notifications (for streaming).
    pub durable: watch::Receiver<u64>,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// The audit trail of reads.
    pub audit: Audit,
    /// The signed log of reconciliation runs, breaks and resolutions.
    pub recon: Arc<BreakLog>,
    /// The journaled log's partial tiles, for readers (see [`RightEdge`]).
    pub edge: Arc<RightEdge>,
    /// The checkpoint published as `DIR/log/checkpoint` (what `/log/` and the FUSE
    /// `log/` directory show: the tree on disk).
    pub published: Arc<Published>,
    /// The witnesses of the policy, when publication waits for their cosignatures.
    pub witnessing: Option<Arc<Witnessing>>,
    /// Events and bytes submitted and not yet answered.
    inflight: Arc<Inflight>,
    /// The data directory's exclusive lock, held for the life of the engine.
    _lock: Arc<std::fs::File>,
}

/// The newest checkpoint in `DIR/log/checkpoint` (with its cosignatures, when a policy
/// asks for witnesses), kept by the publisher or the witnessing thread.
#[derive(Debug)]
pub struct Published {
    head: std::sync::RwLock<Arc<Committed>>,
    /// Whether that checkpoint meets the policy's quorum.
    witnessed: std::sync::atomic::AtomicBool,
    /// Its size, for waiters (`?receipt=witnessed`).
    size: watch::Sender<u64>,
}

impl Published {
    fn new(head: Committed, witnessed: bool) -> Published {
        let (size, _) = watch::channel(head.size);
        Published {
            head: std::sync::RwLock::new(Arc::new(head)),
            witnessed: std::sync::atomic::AtomicBool::new(witnessed),
            size,
        }
    }

    /// The published checkpoint.
    pub fn get(&self) -> Arc<Committed> {
        self.head.read().expect("published lock").clone()
    }

    /// The published checkpoint and whether it meets the policy's quorum.
    pub fn get_witnessed(&self) -> (Arc<Committed>, bool) {
        let head = self.head.read().expect("published lock");
        (head.clone(), self.witnessed.load(Ordering::Acquire))
    }

    /// The checkpoint a receipt of entry `index` goes under: the published one when it
    /// meets the policy's quorum and covers the entry, else `committed` (the newest
    /// signed one).
    pub fn receipt_head(&self, committed: Arc<Committed>, index: u64) -> Arc<Committed> {
        let (published, witnessed) = self.get_witnessed();
        if witnessed && published.size > index {
            published
        } else {
            committed
        }
    }

    /// Watches the published size.
    pub fn watch(&self) -> watch::Receiver<u64> {
        self.size.subscribe()
    }

    /// Makes `head` the published checkpoint: `rename` puts its file in place on disk
    /// while readers of this one wait, so no reader sees the disk ahead of `/log/` or
    /// behind it (a client reading both never sees the checkpoint go back). The wait is
    /// one rename and one directory fsync; the note was written and synced before.
    fn install(&self, head: Committed, witnessed: bool, rename: &mut dyn FnMut() -> Result<()>) -> Result<()> {
        let size = head.size;
        {
            let mut slot = self.head.write().expect("published lock");
            rename()?;
            *slot = Arc::new(head);
            self.witnessed.store(witnessed, Ordering::Release);
        }
        self.size.send_replace(size);
        Ok(())
    }
}

/// What is in flight between the handlers and the reply, bounded by
/// [`MAX_INFLIGHT_EVENTS`] and [`MAX_INFLIGHT_BYTES`].
#[derive(Debug, Default)]
pub struct Inflight {
    events: std::sync::atomic::AtomicUsize,
    bytes: std::sync::atomic::AtomicUsize,
}

/// A reservation of in-flight room, given back when the submit is answered.
struct Reservation {
    inflight: Arc<Inflight>,
    events: usize,
    bytes: usize,
}

impl Inflight {
    fn reserve(self: &Arc<Self>, events: usize, bytes: usize) -> Result<Reservation> {
        let held_events = self.events.fetch_add(events, Ordering::AcqRel) + events;
        let held_bytes = self.bytes.fetch_add(bytes, Ordering::AcqRel) + bytes;
        let reservation = Reservation {
            inflight: self.clone(),
            events,
            bytes,
        };
        // A batch alone always fits (one batch is at most the request limits).
        if (held_events > MAX_INFLIGHT_EVENTS && held_events != events)
            || (held_bytes > MAX_INFLIGHT_BYTES && held_bytes != bytes)
        {
            return Err(Error::Overloaded(format!(
                "{held_events} events ({held_bytes} bytes) in flight exceed the limit of {MAX_INFLIGHT_EVENTS} events ({MAX_INFLIGHT_BYTES} bytes); retry shortly"
            )));
        }
        Ok(reservation)
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.inflight.events.fetch_sub(self.events, Ordering::AcqRel);
        self.inflight.bytes.fetch_sub(self.bytes, Ordering::AcqRel);
    }
}

/// The domain threads: a panic in one of them takes the whole process down (with a
/// message naming it), never leaving a daemon that answers `/health` while its writes
/// hang. A supervisor (systemd) restarts it; recovery is automatic.
pub const DOMAIN_THREADS: &[&str] = &["sequencer", "committer", "attest", "publisher", "witnessing", "audit"];

/// Installs the panic hook that aborts the process when a domain thread panics (the
/// default hook prints the panic first). Other threads (HTTP handlers) unwind as usual.
pub fn install_domain_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            default(info);
            let current = thread::current();
            if let Some(name) = current.name().filter(|n| DOMAIN_THREADS.contains(n)) {
                eprintln!(
                    "ledgerfs: the {name} domain thread panicked; exiting so a supervisor restarts the daemon (recovery from the log is automatic)"
                );
                std::process::abort();
            }
        }));
    });
}

impl Engine {
    /// Starts the three domain threads on an opened store.
    pub fn start(dir: PathBuf, opened: Opened) -> Result<Engine> {
        let Opened {
            config,
            sequencer,
            tiles,
            view,
            committed,
            published,
            lock,
            journal,
            from_snapshot: _,
            fs,
        } = opened;
        install_domain_panic_hook();
        let corrupt = |path: &str, e: ledgerfs_attest::NoteError| Error::Corrupt {
            path: path.into(),
            reason: e.to_string(),
        };
        let mut ledger_key = ledger::read_signer_key(&dir)?;
        if config.ml_dsa_44 {
            ledger_key = ledger_key.with_ml_dsa();
        }
        let ledger_attestor = Attestor::new(ledger_key, config.origin.clone())
            .with_last_signed_note(committed.note.as_bytes())
            .map_err(|e| corrupt("log/checkpoint", e))?;
        let audit_origin = audit::audit_origin(&config.origin);
        let mut audit_attestor = Attestor::new(ledger::read_signer_key(&dir)?, audit_origin.clone());
        if let Some(note) = audit::existing_checkpoint(&dir)? {
            audit_attestor = audit_attestor
                .with_last_signed_note(&note)
                .map_err(|e| corrupt("audit/log/checkpoint", e))?;
        }
        let recon_origin = breaklog::recon_origin(&config.origin);
        let mut recon_attestor = Attestor::new(ledger::read_signer_key(&dir)?, recon_origin.clone());
        if let Some(note) = breaklog::existing_checkpoint(&dir)? {
            recon_attestor = recon_attestor
                .with_last_signed_note(&note)
                .map_err(|e| corrupt("reconciliation/log/checkpoint", e))?;
        }
        let view = Arc::new(View {
            state: std::sync::RwLock::new(view),
        });
        let metrics = Arc::new(Metrics::default());
        let (durable_tx, durable_rx) = watch::channel(committed.size);
        let (ingress_tx, ingress_rx) = mpsc::sync_channel(INGRESS_DEPTH);
        let (group_tx, group_rx) = ring::<Group>(GROUP_DEPTH).expect("GROUP_DEPTH is a power of two");
        let (sign_tx, sign_rx) = mpsc::sync_channel::<SignMessage>(2);
        let shared = Arc::new(Shared {
            durable: AtomicU64::new(committed.size),
            failure: Mutex::new(None),
        });

        thread::Builder::new()
            .name("attest".into())
            .spawn(move || attest_loop(ledger_attestor, audit_attestor, recon_attestor, sign_rx))
            .map_err(|e| Error::Storage(e.to_string()))?;
        let vkey = ledger::read_vkey(&dir)?;
        let audit = audit::start(&dir, &vkey, &audit_origin, sign_tx.clone())?;
        let recon = Arc::new(BreakLog::open(&dir, &vkey, &recon_origin, sign_tx.clone())?);
        let publication = Arc::new(Mailbox::<Publication>::new());
        let log_dir = dir.join(ledger::LOG_DIR);
        let witnessing = match &config.policy {
            Some(path) => {
                let path = dir.join(path);
                let timeout = std::time::Duration::from_millis(config.witness_timeout_ms.max(1));
                let w = Witnessing::load(&path, &vkey, config.witness_fail_open, timeout)?;
                eprintln!(
                    "ledgerfs: checkpoints are published once the witnesses of {} cosign them ({}; {} witnesses)",
                    path.display(),
                    if w.fail_open {
                        "fail-open: published without the quorum when it is missed"
                    } else {
                        "fail-closed"
                    },
                    w.witnesses.len()
                );
                Some(Arc::new(w))
            }
            None => None,
        };
        // What start-up integrated beyond the published checkpoint is published now
        // (without witnesses), or offered to the witnesses first.
        let mut published = published;
        if witnessing.is_none() && committed.size > published.size {
            crate::storage::tiles::publish_integrated(&fs, &log_dir, committed.note.as_bytes(), &mut |rename| {
                rename()
            })?;
            published = committed.clone();
        }
        let witnessed = witnessing.as_ref().is_some_and(|w| w.meets_quorum(&published.note));
        let published_head = Arc::new(Published::new(published, witnessed));
        let integrated = Arc::new(AtomicU64::new(committed.size));
        let edge = Arc::new(RightEdge::default());
        let offers = witnessing.as_ref().map(|_| Arc::new(Mailbox::<Committed>::new()));
        {
            let (publication, integrated, offers) = (publication.clone(), integrated.clone(), offers.clone());
            let (root, fs, head) = (log_dir.clone(), fs.clone(), published_head.clone());
            thread::Builder::new()
                .name("publisher".into())
                .spawn(move || publish_loop(&fs, &root, &publication, &head, &integrated, offers.as_deref()))
                .map_err(|e| Error::Storage(e.to_string()))?;
        }
        if let (Some(w), Some(offers)) = (witnessing.clone(), offers.clone()) {
            if !witnessed || committed.size > published_head.get().size {
                offers.put(|slot| *slot = Some(committed.clone()));
            }
            let (root, fs, head, edge) = (log_dir.clone(), fs.clone(), published_head.clone(), edge.clone());
            thread::Builder::new()
                .name("witnessing".into())
                .spawn(move || witness_loop(&w, &offers, &fs, &root, &head, edge))
                .map_err(|e| Error::Storage(e.to_string()))?;
        }
        let writer = LogWriter::new(
            LogId::Ledger,
            tiles,
            PosixStore::journaled(log_dir.clone()).with_fs(fs.clone()),
            committed,
            Signer::Thread(sign_tx),
        );
        let committer = Committer {
            stage: CommitStage::new(writer, journal, edge.clone(), log_dir),
            publication,
            integrated,
            view: view.clone(),
            durable: durable_tx,
            shared: shared.clone(),
            metrics: metrics.clone(),
        };
        thread::Builder::new()
            .name("committer".into())
            .spawn(move || committer.run(group_rx))
            .map_err(|e| Error::Storage(e.to_string()))?;
        let seq_metrics = metrics.clone();
        let snapshots = Snapshots {
            fs,
            data: dir.clone(),
            every: config.snapshot_every,
            last: view.state.read().expect("view lock").size,
            view: view.clone(),
        };
        thread::Builder::new()
            .name("sequencer".into())
            .spawn(move || sequencer_loop(sequencer, ingress_rx, group_tx, shared, seq_metrics, snapshots))
            .map_err(|e| Error::Storage(e.to_string()))?;
        Ok(Engine {
            ingress: ingress_tx,
            view,
            durable: durable_rx,
            metrics,
            audit,
            recon,
            edge,
            published: published_head,
            witnessing,
            inflight: Arc::new(Inflight::default()),
            _lock: Arc::new(lock),
        })
    }

    /// Submits a batch of `bytes` request bytes; resolves once it is durable (or
    /// refused). Never waits for room: beyond the in-flight bounds or a full ingress
    /// queue it answers [`Error::Overloaded`] at once.
    pub async fn submit(&self, events: Vec<Event>, bytes: usize) -> Result<BatchOutcome> {
        let _reservation = self.inflight.reserve(events.len(), bytes)?;
        let (reply, rx) = oneshot::channel();
        let command = Command::Submit { events, reply };
        self.ingress.try_send(command).map_err(|e| match e {
            mpsc::TrySendError::Full(_) => Error::Overloaded(format!(
                "{INGRESS_DEPTH} requests are queued for the sequencer; retry shortly"
            )),
            mpsc::TrySendError::Disconnected(_) => Error::Storage("the sequencer stopped".into()),
        })?;
        rx.await.map_err(|_| Error::Storage("the pipeline stopped".into()))?
    }

    /// The durable index of a transfer id, from a non-async thread (the FUSE workers).
    pub fn transfer_index_blocking(&self, id: String) -> Result<Option<u64>> {
        let (reply, rx) = oneshot::channel();
        self.ingress
            .send(Command::LookupTransfer { id, reply })
            .map_err(|_| Error::Storage("the sequencer stopped".into()))?;
        rx.blocking_recv()
            .map_err(|_| Error::Storage("the sequencer stopped".into()))
    }

    /// At clean shutdown (no more writes coming): has the sequencer write a snapshot of
    /// everything durable, waiting at most `grace`, so the next start replays nothing.
    pub fn snapshot_for_shutdown(&self, grace: std::time::Duration) {
        let (reply, rx) = oneshot::channel();
        if self.ingress.send(Command::SnapshotNow { reply }).is_err() {
            return;
        }
        let (done, finished) = mpsc::channel();
        let _ = thread::Builder::new().name("snapshot-wait".into()).spawn(move || {
            let _ = done.send(rx.blocking_recv());
        });
        if finished.recv_timeout(grace).is_err() {
            eprintln!("ledgerfs: the shutdown snapshot did not finish in {grace:?}; the next start replays the tail");
        }
    }

    /// A balance proof's commitment side for `id`, once its commitment entry is durable
    /// (waiting at most `wait`): the sequencer writes a new commitment entry when the
    /// last one no longer shows the account as it is. The caller checks the entry at
    /// `index` is the commitment (a storage failure may have replaced it).
    pub async fn prove_balance(&self, id: String, wait: std::time::Duration) -> Result<CommittedProof> {
        let proof = self.ask_proof(id, true)?.await.map_err(|_| stopped())?;
        let proof = proof.expect("asked to commit, the sequencer always proves");
        let mut durable = self.durable.clone();
        let covered = tokio::time::timeout(wait, durable.wait_for(|&size| size > proof.index))
            .await
            .map(|r| r.is_ok());
        match covered {
            Ok(true) => Ok(proof),
            Ok(false) => Err(stopped()),
            Err(_) => Err(not_durable(&proof, wait)),
        }
    }

    /// What the last balance commitment proves about `id` if it still shows the account
    /// as it is (`None` otherwise), from a non-async thread (the FUSE workers), once the
    /// entry is durable (waiting at most `wait`). Never writes an entry: reading a file
    /// does not change the log.
    pub fn last_balance_proof_blocking(&self, id: String, wait: std::time::Duration) -> Result<Option<CommittedProof>> {
        let Some(proof) = self.ask_proof(id, false)?.blocking_recv().map_err(|_| stopped())? else {
            return Ok(None);
        };
        let deadline = Instant::now() + wait;
        while *self.durable.borrow() <= proof.index {
            if Instant::now() > deadline {
                return Err(not_durable(&proof, wait));
            }
            thread::sleep(std::time::Duration::from_millis(1));
        }
        Ok(Some(proof))
    }

    fn ask_proof(&self, id: String, commit: bool) -> Result<oneshot::Receiver<Option<CommittedProof>>> {
        let (reply, rx) = oneshot::channel();
        self.ingress
            .try_send(Command::ProveBalance { id, commit, reply })
            .map_err(|e| match e {
                mpsc::TrySendError::Full(_) => Error::Overloaded("the sequencer's queue is full; retry shortly".into()),
                mpsc::TrySendError::Disconnected(_) => stopped(),
            })?;
        Ok(rx)
    }

    /// The durable index of a transfer id, asked of the sequencer domain.
    pub async fn transfer_index(&self, id: String) -> Result<Option<u64>> {
        let (reply, rx) = oneshot::channel();
        self.ingress
            .try_send(Command::LookupTransfer { id, reply })
            .map_err(|e| match e {
                mpsc::TrySendError::Full(_) => Error::Overloaded("the sequencer's queue is full; retry shortly".into()),
                mpsc::TrySendError::Disconnected(_) => Error::Storage("the sequencer stopped".into()),
            })?;
        rx.await.map_err(|_| Error::Storage("the sequencer stopped".into()))
    }
}

fn stopped() -> Error {
    Error::Storage("the sequencer stopped".into())
}

fn not_durable(proof: &CommittedProof, wait: std::time::Duration) -> Error {
    Error::Overloaded(format!(
        "the balance commitment at index {} is not durable after {wait:?}; retry shortly",
        proof.index
    ))
}

/// State the sequencer and committer threads share.
struct Shared {
    /// Entries below this are durable.
    durable: AtomicU64,
    /// Set by the committer when storage failed (a `Notice::Failed`).
    failure: Mutex<Option<Notice>>,
}

/// When and where the sequencer thread takes snapshots.
struct Snapshots {
    fs: Arc<dyn Fs>,
    data: PathBuf,
    /// Entries between snapshots (0: never).
    every: u64,
    /// Size of the last snapshot taken (or of the state opened).
    last: u64,
    view: Arc<View>,
}

impl Snapshots {
    /// Every `every` entries: once everything sequenced is durable (nothing is in flight
    /// then, so the read model stands still at the same size), encode the sequencer and
    /// the read model together and write them on a background thread.
    fn maybe_take(&mut self, sequencer: &mut Sequencer, shared: &Shared) {
        let size = sequencer.next_index();
        if self.every == 0 || size < self.last + self.every {
            return;
        }
        if let Some((size, bytes)) = self.encode(sequencer, shared) {
            let (fs, data) = (self.fs.clone(), self.data.clone());
            let _ = thread::Builder::new()
                .name("snapshot".into())
                .spawn(move || write_snapshot(&*fs, &data, size, &bytes));
        }
    }

    /// At clean shutdown: a snapshot of whatever is new since the last one, written
    /// before returning.
    fn take_now(&mut self, sequencer: &mut Sequencer, shared: &Shared) {
        if self.every == 0 || sequencer.next_index() == self.last {
            return;
        }
        if let Some((size, bytes)) = self.encode(sequencer, shared) {
            write_snapshot(&*self.fs, &self.data, size, &bytes);
        }
    }

    /// Once everything sequenced is durable (nothing is in flight then, so the read
    /// model stands still at the same size), encodes the sequencer and the read model
    /// together, bound to the checkpoint at that size.
    fn encode(
        &mut self,
        sequencer: &mut Sequencer,
        shared: &Shared,
    ) -> Option<(u64, crate::storage::snapshot::Encoded)> {
        let size = sequencer.next_index();
        let deadline = Instant::now() + std::time::Duration::from_secs(5);
        while shared.durable.load(Ordering::Acquire) < size {
            if Instant::now() > deadline || shared.failure.lock().expect("failure lock").is_some() {
                return None; // try again after the next batch
            }
            thread::sleep(std::time::Duration::from_micros(200));
        }
        sequencer.mark_durable(size);
        let bytes = {
            let state = self.view.state.read().expect("view lock");
            let committed = state
                .committed
                .clone()
                .filter(|c| c.size == size && state.size == size)?;
            let binding = ledgerfs_snapshot::Binding {
                size,
                root: committed.root,
            };
            crate::storage::snapshot::encode(binding, sequencer, &state)
        };
        self.last = size;
        Some((size, bytes))
    }
}

fn write_snapshot(fs: &dyn Fs, data: &std::path::Path, size: u64, bytes: &crate::storage::snapshot::Encoded) {
    match crate::storage::snapshot::write(fs, data, bytes) {
        Ok(path) => eprintln!(
            "ledgerfs: snapshot at size {size}: {} ({} bytes)",
            path.display(),
            bytes.len()
        ),
        Err(e) => eprintln!("ledgerfs: writing the snapshot at size {size} failed: {e}"),
    }
}

fn sequencer_loop(
    mut sequencer: Sequencer,
    ingress: Receiver<Command>,
    mut groups: RingSender<Group>,
    shared: Arc<Shared>,
    metrics: Arc<Metrics>,
    mut snapshots: Snapshots,
) {
    let mut next: Option<Command> = None;
    loop {
        snapshots.maybe_take(&mut sequencer, &shared);
        let first = match next.take() {
            Some(command) => command,
            None => match ingress.recv() {
                Ok(command) => command,
                Err(_) => return,
            },
        };
        // The core ignores a durable size it is already past (after a failure it may
        // count a pending checkpoint's entries as durable before the head moves).
        let notice = Notice::Durable {
            size: shared.durable.load(Ordering::Acquire),
        };
        sequencer
            .apply_notice(notice)
            .expect("the committer reports sizes it was given");
        if let Some(notice) = shared.failure.lock().expect("failure lock").take() {
            // Every group of the failed epoch is refused by the committer's gate.
            sequencer.apply_notice(notice).expect("one failure per epoch");
        }
        let epoch = sequencer.epoch();
        let mut group = Group::new(epoch);
        let mut events_in_group = 0;
        let mut command = Some(first);
        while let Some(c) = command.take() {
            match c {
                Command::LookupTransfer { id, reply } => {
                    let durable = shared.durable.load(Ordering::Acquire);
                    let index = sequencer.transfer_index(&id).filter(|&i| i < durable);
                    let _ = reply.send(index);
                }
                Command::ProveBalance { id, commit, reply } => {
                    let proof = match sequencer.prove_committed(&id) {
                        None if commit => {
                            // The new entry rides with this group to durability.
                            sequencer.commit_now(crate::clock::unix_nanos(), &mut group.entries);
                            let proof = sequencer.prove_committed(&id);
                            assert!(proof.is_some(), "a commitment just written proves every id");
                            proof
                        }
                        proof => proof,
                    };
                    let _ = reply.send(proof);
                }
                Command::SnapshotNow { reply } => {
                    // Everything queued before it is in this group or already sent.
                    if !group.waiters.is_empty() || !group.entries.is_empty() {
                        let full = std::mem::replace(&mut group, Group::new(epoch));
                        if groups.send(full).is_err() {
                            return;
                        }
                    }
                    snapshots.take_now(&mut sequencer, &shared);
                    let _ = reply.send(());
                }
                Command::Submit { events, reply } => {
                    if events_in_group > 0 && events_in_group + events.len() > GROUP_MAX_EVENTS {
                        next = Some(Command::Submit { events, reply });
                        break;
                    }
                    metrics.events.fetch_add(events.len() as u64, Ordering::Relaxed);
                    let mut results = Vec::with_capacity(events.len());
                    // Pipelining: a big batch goes to the committer piece by piece, so
                    // the committer hashes and writes one piece while the next is
                    // sequenced. Its reply rides with the last piece (groups commit in
                    // order, so that commit covers every piece before it).
                    // One clock reading per batch: expiries due by then are written
                    // before its first piece, so its new entries follow in event order.
                    let now = crate::clock::unix_nanos();
                    let mut pieces = ledgerfs_sequencer::chain_chunks(&events, PIECE_EVENTS).peekable();
                    while let Some(piece) = pieces.next() {
                        events_in_group += piece.len();
                        sequencer.execute(&events[piece], now, &mut results, &mut group.entries);
                        if pieces.peek().is_some() && group.entries.len() >= PIECE_EVENTS {
                            let full = std::mem::replace(&mut group, Group::new(epoch));
                            if groups.send(full).is_err() {
                                return;
                            }
                        }
                    }
                    drop(pieces);
                    group.waiters.push(Waiter { reply, results, events });
                }
            }
            command = match ingress.try_recv() {
                Ok(c) => Some(c),
                Err(TryRecvError::Empty) => None,
                Err(TryRecvError::Disconnected) => None,
            };
        }
        if group.waiters.is_empty() && group.entries.is_empty() {
            continue;
        }
        if groups.send(group).is_err() {
            return;
        }
    }
}

/// The attestation domain: the only thread that holds the signing key, one attestor
/// per log origin, each refusing rollbacks and forks of its own log.
fn attest_loop(mut ledger: Attestor, mut audit: Attestor, mut recon: Attestor, requests: Receiver<SignMessage>) {
    while let Ok((log, request, reply)) = requests.recv() {
        let attestor = match log {
            LogId::Ledger => &mut ledger,
            LogId::Audit => &mut audit,
            LogId::Recon => &mut recon,
        };
        let _ = reply.send(attestor.handle(&request));
    }
}

/// The publisher: replaces `DIR/log/checkpoint` with the newest durable checkpoint once
/// its tiles are durable (one `syncfs`), at most every [`PUBLISH_INTERVAL`], and lets the
/// committer recycle journal segments the checkpoint covers. With witnesses (`offers`)
/// it records the checkpoint as integrated instead and offers it to the witnessing
/// thread, which publishes it once cosigned. On failure it keeps the work and tries
/// again; writes go on meanwhile (the journal holds them).
fn publish_loop(
    fs: &Arc<dyn Fs>,
    root: &std::path::Path,
    publication: &Mailbox<Publication>,
    head: &Published,
    integrated: &AtomicU64,
    offers: Option<&Mailbox<Committed>>,
) {
    while let Some(job) = publication.take() {
        let done = match offers {
            None => crate::pipeline::commit::publish(fs, root, &job, &mut |rename| {
                head.install(job.head.clone(), false, rename)
            }),
            Some(_) => crate::pipeline::commit::integrate(fs, root, &job),
        };
        match done {
            Ok(()) => {
                integrated.store(job.head.size, Ordering::Release);
                if let Some(offers) = offers {
                    offers.put(|slot| *slot = Some(job.head));
                }
            }
            Err(e) => {
                eprintln!("ledgerfs: publishing the checkpoint failed, retrying: {e}");
                publication.put(|slot| match slot {
                    Some(newer) => newer.full.extend(job.full),
                    None => *slot = Some(job),
                });
                thread::sleep(std::time::Duration::from_secs(1));
            }
        }
        thread::sleep(PUBLISH_INTERVAL);
    }
    if let Some(offers) = offers {
        offers.close();
    }
}

/// Least and most time between two rounds of submissions that missed the quorum.
const WITNESS_RETRY: (std::time::Duration, std::time::Duration) =
    (std::time::Duration::from_millis(200), std::time::Duration::from_secs(5));

/// The witnessing thread: submits the newest integrated checkpoint to the policy's
/// witnesses and publishes it with their cosignatures once they meet the quorum (or at
/// once, fail-open). A missed quorum leaves the published checkpoint where it is and
/// tries again, with the newest checkpoint, after a backoff.
fn witness_loop(
    w: &Witnessing,
    offers: &Mailbox<Committed>,
    fs: &Arc<dyn Fs>,
    root: &std::path::Path,
    head: &Published,
    edge: Arc<RightEdge>,
) {
    let store = PosixStore::new(root.to_path_buf()).with_edge(edge);
    let mut backoff = WITNESS_RETRY.0;
    while let Some(next) = offers.take() {
        if next.size < head.get().size {
            continue;
        }
        let proof = |old: u64| -> std::result::Result<Vec<String>, String> {
            let tiles = crate::read::logread::PrefixReader::new(&store, next.size);
            ledgerfs_tiles::consistency_proof(&tiles, old, next.size)
                .map(|p| crate::read::render::b64_hashes(&p))
                .map_err(|e| format!("{e:?}"))
        };
        let round = w.round(&next.note, next.size, &proof);
        if round.quorum_met || w.fail_open {
            if !round.quorum_met {
                w.unwitnessed_publications.fetch_add(1, Ordering::Relaxed);
                eprintln!(
                    "ledgerfs: FAIL-OPEN: publishing the checkpoint at size {} cosigned only by {:?}, below the policy's quorum",
                    next.size, round.cosigned_by
                );
            }
            let cosigned = Committed {
                note: round.cosigned.clone(),
                ..next.clone()
            };
            match crate::storage::tiles::publish_integrated(fs, root, round.cosigned.as_bytes(), &mut |rename| {
                head.install(cosigned.clone(), round.quorum_met, rename)
            }) {
                Ok(()) => {
                    backoff = WITNESS_RETRY.0;
                    thread::sleep(PUBLISH_INTERVAL);
                    continue;
                }
                Err(e) => eprintln!("ledgerfs: publishing the witnessed checkpoint failed, retrying: {e}"),
            }
        } else {
            eprintln!(
                "ledgerfs: the checkpoint at size {} is not published: cosigned by {:?}, below the policy's quorum (fail-closed; writes are still acknowledged); retrying in {backoff:?}",
                next.size, round.cosigned_by
            );
        }
        offers.put(|slot| {
            if slot.is_none() {
                *slot = Some(next);
            }
        });
        thread::sleep(backoff);
        backoff = (backoff * 2).min(WITNESS_RETRY.1);
    }
}

struct Committer {
    stage: CommitStage,
    publication: Arc<Mailbox<Publication>>,
    /// Size of the newest checkpoint whose tiles are durable (published, or integrated
    /// awaiting witnesses): journal segments below it may be recycled.
    integrated: Arc<AtomicU64>,
    view: Arc<View>,
    durable: watch::Sender<u64>,
    shared: Arc<Shared>,
    metrics: Arc<Metrics>,
}

impl Committer {
    fn run(mut self, mut groups: RingReceiver<Group>) {
        // Fault injection for the supervision test: panic at the Nth commit.
        let panic_at: Option<u64> = std::env::var("LEDGERFS_TEST_PANIC_AT_COMMIT")
            .ok()
            .and_then(|v| v.parse().ok());
        while let Some(first) = groups.recv() {
            if panic_at == Some(self.metrics.commits.load(Ordering::Relaxed)) {
                panic!("injected fault: LEDGERFS_TEST_PANIC_AT_COMMIT");
            }
            // Group commit: everything the sequencer queued while the last commit ran
            // shares this commit's barriers and signature.
            let mut batch = vec![first];
            let mut entries = batch[0].entries.len();
            let mut bytes = batch[0].entries.byte_len();
            // A commit is one journal record: stop merging at a quarter of a segment.
            let max_bytes = self.stage.max_commit_bytes();
            while entries < COMMIT_MAX_ENTRIES && bytes < max_bytes {
                let Some(group) = groups.try_recv() else { break };
                entries += group.entries.len();
                bytes += group.entries.byte_len();
                batch.push(group);
            }
            let started = Instant::now();
            let handed = batch
                .into_iter()
                .map(|g| Handed {
                    epoch: g.epoch,
                    entries: g.entries,
                    payload: g.waiters,
                })
                .collect();
            let turn = self.stage.turn(handed, self.integrated.load(Ordering::Acquire));
            for waiters in turn.refused {
                self.refuse(waiters, "an earlier write in the pipeline failed; retry");
            }
            for entries in &turn.durable {
                self.publish(entries);
            }
            for publication in turn.publications {
                self.announce(publication);
            }
            match turn.outcome {
                Ok(waiters) if waiters.is_empty() => {}
                Ok(waiters) => {
                    let m = &self.metrics;
                    m.commits.fetch_add(1, Ordering::Relaxed);
                    m.commit_nanos
                        .fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
                    m.entries
                        .fetch_add(turn.durable.iter().map(|b| b.len() as u64).sum(), Ordering::Relaxed);
                    for waiter in waiters.into_iter().flatten() {
                        self.metrics.batches.fetch_add(1, Ordering::Relaxed);
                        let outcome = BatchOutcome {
                            results: waiter.results,
                            events: waiter.events,
                            committed: self.stage.committed().clone(),
                        };
                        let _ = waiter.reply.send(Ok(outcome));
                    }
                }
                Err((failure, waiters, notice)) => self.fail(waiters.into_iter().flatten().collect(), failure, notice),
            }
        }
        self.publication.close();
    }

    /// Tells the publisher the newest durable checkpoint.
    fn announce(&self, publication: Publication) {
        self.publication.put(|slot| match slot {
            Some(job) => job.absorb(publication),
            None => *slot = Some(publication),
        });
    }

    fn fail(&mut self, waiters: Vec<Waiter>, failure: CommitFailure, notice: Notice) {
        self.metrics.storage_failures.fetch_add(1, Ordering::Relaxed);
        let unknown = matches!(failure, CommitFailure::CheckpointPending(_));
        let error = failure.error();
        eprintln!("ledgerfs: commit failed, refusing writes until storage recovers: {error}");
        *self.shared.failure.lock().expect("failure lock") = Some(notice);
        let full = matches!(error, Error::StorageFull(_));
        let why = if unknown {
            format!("{error}; this batch's entries are on disk but its checkpoint is not: its outcome is decided when storage recovers (retrying with the same ids is safe)")
        } else {
            error.to_string()
        };
        for waiter in waiters {
            let _ = waiter.reply.send(Err(if full {
                Error::StorageFull(why.clone())
            } else {
                Error::Storage(why.clone())
            }));
        }
    }

    /// Makes durable entries visible to readers and tells the sequencer.
    fn publish(&mut self, entries: &EntryBuffer) {
        let committed = self.stage.committed().clone();
        {
            let mut state = self.view.state.write().expect("view lock");
            state.apply(entries);
            state.committed = Some(committed.clone());
            state.published = Some(std::time::SystemTime::now());
        }
        self.shared.durable.store(committed.size, Ordering::Release);
        let _ = self.durable.send(committed.size);
    }

    fn refuse(&self, waiters: Vec<Waiter>, why: &str) {
        for waiter in waiters {
            let _ = waiter.reply.send(Err(Error::Storage(why.into())));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_flight_room_is_bounded_and_given_back() {
        let inflight = Arc::new(Inflight::default());
        let a = inflight.reserve(MAX_INFLIGHT_EVENTS, 10).unwrap();
        let refused = inflight.reserve(1, 10).err().expect("over the event bound");
        assert_eq!(refused.code(), "overloaded");
        drop(a);
        let b = inflight.reserve(1, 10).unwrap();
        // One batch alone always fits, whatever its size.
        drop(b);
        let big = inflight
            .reserve(2 * MAX_INFLIGHT_EVENTS, MAX_INFLIGHT_BYTES + 1)
            .unwrap();
        assert!(inflight.reserve(1, 1).is_err());
        drop(big);
        assert_eq!(inflight.events.load(Ordering::Relaxed), 0);
        assert_eq!(inflight.bytes.load(Ordering::Relaxed), 0);
    }
}
