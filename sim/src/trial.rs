//! One seeded trial of the whole hosted write pipeline, VOPR-style: the real sequencer
//! core, the committer's storage step (`CommitStage`: journal, tiles, signature through
//! the real attestor), the publisher's step, snapshots and recovery (`ledger::open_on`)
//! run one step at a time, in an order a seeded scheduler picks, on [`SimFs`]. Clients
//! submit batches and retry what was refused or left undecided, with the same ids.
//!
//! After every step the trial checks what the daemon promises; at every power cut it
//! checks what a reader of `DIR/log` may rely on; after every recovery, what clients
//! were promised:
//! - no acknowledged entry is lost or changed, no acknowledged id forgotten;
//! - money is conserved per currency (debits posted = credits posted);
//! - every checkpoint ever acknowledged or published stays consistent with the log (no
//!   fork, no roll-back), and the published one never goes back;
//! - the published `checkpoint` file and the tiles it covers form a valid tlog-tiles tree
//!   at every power cut, before any recovery;
//! - no full tile, once seen, ever has other bytes;
//! - the state rebuilt from snapshots equals the one replayed from the first entry,
//!   and at the end equals the live state.
//!
//! The threads and their hand-offs are not simulated here: the loom models cover those.

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ledgerfs_attest::Attestor;
use ledgerfs_hosted::config::Config;
use ledgerfs_hosted::pipeline::commit::{self, CommitStage, Handed, Publication};
use ledgerfs_hosted::pipeline::logwriter::{LogId, LogWriter, Signer};
use ledgerfs_hosted::read::logread::LogReader;
use ledgerfs_hosted::read::view::ViewState;
use ledgerfs_hosted::storage::fs::Fs;
use ledgerfs_hosted::storage::ledger::{self, Start};
use ledgerfs_hosted::storage::snapshot;
use ledgerfs_hosted::storage::tiles::{PosixStore, RightEdge};
use ledgerfs_model::{Event, NewAccount, NewTransfer, ResultCode};
use ledgerfs_sequencer::{EntryBuffer, EventResult, Notice, Sequencer};
use ledgerfs_tiles::TileLog;
use sha2::{Digest, Sha256};

use crate::rng::Rng;
use crate::simfs::{Faults, Injected, SimFs};

/// What one trial did.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// Steps run.
    pub steps: u64,
    /// Batches acknowledged.
    pub acked_batches: u64,
    /// Entries acknowledged.
    pub acked_entries: u64,
    /// Batches refused (storage failed, or sequenced on top of a failure) and retried.
    pub refused_batches: u64,
    /// Group commits that became durable.
    pub commits: u64,
    /// Checkpoint files published.
    pub publications: u64,
    /// Snapshots written.
    pub snapshots: u64,
    /// Recoveries (store opened after a power cut).
    pub recoveries: u64,
    /// Openings that failed on an injected fault and were retried.
    pub failed_opens: u64,
    /// Faults the file system injected.
    pub injected: Injected,
}

/// The steps a trial takes, and where it runs.
#[derive(Clone, Debug)]
pub struct Options {
    /// Scheduler steps before the final drain.
    pub steps: u64,
    /// Parent of the trial's store directory (a tmpfs is fastest).
    pub scratch: PathBuf,
}

/// A batch a client submitted, and what the sequencer answered for it.
struct Batch {
    events: Vec<Event>,
    results: Vec<EventResult>,
}

/// Entries sequenced together and handed to the committer.
struct Group {
    epoch: u64,
    entries: EntryBuffer,
    batches: Vec<Batch>,
}

/// Everything a power cut destroys: the domains' memory.
struct Live {
    sequencer: Sequencer,
    stage: CommitStage,
    view: ViewState,
    queue: VecDeque<Group>,
    /// A failure notice on its way to the sequencer.
    notice: Option<Notice>,
    /// The publisher's mailbox.
    publication: Option<Publication>,
    published: u64,
    _lock: std::fs::File,
}

/// What clients were told, and what readers saw: survives power cuts.
#[derive(Default)]
struct Oracle {
    /// Acknowledged entries by index.
    acked: BTreeMap<u64, Vec<u8>>,
    /// Acknowledged ids and the index each was recorded at.
    ids: BTreeMap<String, u64>,
    /// Every checkpoint acknowledged or published: size → root.
    checkpoints: BTreeMap<u64, [u8; 32]>,
    /// Size of the newest checkpoint file published (a sync of its directory returned).
    published: u64,
    /// SHA-256 of every full tile seen.
    tiles: BTreeMap<PathBuf, [u8; 32]>,
    /// Batches to submit again (refused, or of unknown outcome).
    retry: Vec<Vec<Event>>,
    accounts: Vec<String>,
    next_id: u64,
}

/// One trial.
pub struct Trial {
    seed: u64,
    rng: Rng,
    dir: PathBuf,
    log_dir: PathBuf,
    fs: Arc<SimFs>,
    faults: Faults,
    live: Option<Live>,
    oracle: Oracle,
    report: Report,
    clock: u64,
    /// Print every step (`SIM_TRACE=1`).
    trace: bool,
}

type Outcome<T> = Result<T, String>;

impl Trial {
    /// Sets up a fresh store for `seed` under `scratch`.
    pub fn new(seed: u64, scratch: &Path) -> Outcome<Trial> {
        let dir = scratch.join(format!("ledgerfs-sim-{}-{seed}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        ledger::init(&dir, Some("sim.ledgerfs.test/ledger".into())).map_err(|e| e.to_string())?;
        let mut config = Config::load(&dir).map_err(|e| e.to_string())?;
        config.journal_segment_kib = 64; // small segments: roll-over and recycling happen
        config.save(&dir).map_err(|e| e.to_string())?;
        let mut rng = Rng::new(seed);
        let faults = Faults {
            eio_ppm: [0, 2_000, 10_000, 40_000][rng.below(4) as usize],
            capacity: if rng.chance(30) {
                600_000 + rng.below(600_000)
            } else {
                0
            },
        };
        let fs = Arc::new(SimFs::adopt(&dir, rng.next_u64(), faults).map_err(|e| e.to_string())?);
        Ok(Trial {
            seed,
            rng,
            log_dir: dir.join(ledger::LOG_DIR),
            dir,
            fs,
            faults,
            live: None,
            oracle: Oracle::default(),
            report: Report::default(),
            clock: 1_798_761_600_000_000_000, // 2027-01-01
            trace: std::env::var_os("SIM_TRACE").is_some(),
        })
    }

    /// Runs the trial: `steps` scheduler steps, then a drain without faults, a last
    /// power cut and the final checks. Returns what it did, or the first violation.
    pub fn run(mut self, steps: u64) -> Outcome<Report> {
        let result = self.run_inner(steps);
        let _ = std::fs::remove_dir_all(&self.dir);
        result.map_err(|e| format!("seed {}: {e}", self.seed))
    }

    fn run_inner(&mut self, steps: u64) -> Outcome<Report> {
        self.recover(Start::NewestSnapshot)?;
        for _ in 0..steps {
            self.report.steps += 1;
            let pick = self.rng.below(100);
            if self.trace {
                let step = self.report.steps;
                let live = self.live();
                eprintln!(
                    "step {}: pick {pick} seq {} durable {} queue {} published {} epoch {}",
                    step,
                    live.sequencer.next_index(),
                    live.stage.committed().size,
                    live.queue.len(),
                    live.published,
                    live.sequencer.epoch()
                );
            }
            match pick {
                0..=44 => self.submit()?,
                45..=79 => self.commit()?,
                80..=91 => self.publish()?,
                92..=94 => self.snapshot()?,
                95..=97 => self.crash()?,
                _ => self.free_space(),
            }
            self.check_live()?;
        }
        // Drain: no more faults, everything retried until acknowledged.
        self.fs.set_faults(Faults::default());
        for _ in 0..64 {
            if self.oracle.retry.is_empty() && self.live().queue.is_empty() && self.live().notice.is_none() {
                break;
            }
            self.submit_retries()?;
            while !self.live().queue.is_empty() {
                self.commit()?;
            }
        }
        if !self.oracle.retry.is_empty() {
            return Err("batches still refused after the drain".into());
        }
        self.publish()?;
        self.snapshot()?;
        let live = self.live.as_ref().expect("live").sequencer.clone();
        self.crash_and_check_tree()?;
        self.recover(Start::FullReplay)?;
        if self.live().sequencer != live {
            return Err("the state replayed after the last power cut differs from the live state".into());
        }
        self.report.injected = self.fs.injected();
        Ok(self.report.clone())
    }

    fn live(&mut self) -> &mut Live {
        self.live.as_mut().expect("the store is open")
    }

    fn now(&mut self) -> u64 {
        self.clock += 1 + self.rng.below(5_000_000);
        self.clock
    }

    // ---- the clients and the sequencer ----------------------------------------------

    fn new_batch(&mut self) -> Vec<Event> {
        if let Some(i) = (!self.oracle.retry.is_empty() && self.rng.chance(30))
            .then(|| self.rng.below(self.oracle.retry.len() as u64) as usize)
        {
            return self.oracle.retry.swap_remove(i);
        }
        // At most ~30 KiB of entries: a batch fits the trial's 64 KiB journal segments.
        let most = if self.rng.chance(10) { 120 } else { 12 };
        let n = 1 + self.rng.below(most);
        let mut events = Vec::with_capacity(n as usize);
        for _ in 0..n {
            self.oracle.next_id += 1;
            let id = format!("s{}-{}", self.seed, self.oracle.next_id);
            if self.oracle.accounts.len() < 4 || self.rng.chance(5) {
                let currency = if self.rng.chance(80) { "EUR" } else { "GBP" };
                let flags = match self.rng.below(3) {
                    0 => vec!["debits_must_not_exceed_credits".to_string()],
                    _ => Vec::new(),
                };
                self.oracle.accounts.push(id.clone());
                events.push(Event::Account(NewAccount {
                    id,
                    currency: currency.into(),
                    kind: "customer".into(),
                    flags,
                    metadata: "{}".into(),
                    linked: false,
                    time: 0,
                }));
            } else {
                let pick =
                    |rng: &mut Rng, accounts: &[String]| accounts[rng.below(accounts.len() as u64) as usize].clone();
                let (debit, credit) = (
                    pick(&mut self.rng, &self.oracle.accounts),
                    pick(&mut self.rng, &self.oracle.accounts),
                );
                let amount = format!("{}.{:02}", self.rng.below(500), self.rng.below(100));
                let mut transfer = NewTransfer {
                    id,
                    debit,
                    credit,
                    amount,
                    currency: "EUR".into(),
                    reference: String::new(),
                    metadata: "{}".into(),
                    linked: self.rng.chance(15),
                    flags: Vec::new(),
                    pending_id: String::new(),
                    timeout: 0,
                    time: 0,
                };
                // Two-phase: reserve, or resolve an earlier transfer (pending or not).
                match self.rng.below(10) {
                    0 | 1 => transfer.flags = vec!["pending".into()],
                    2 | 3 if self.oracle.next_id > 2 => {
                        let earlier = 1 + self.rng.below(self.oracle.next_id - 1);
                        let flag = if self.rng.chance(60) {
                            "post_pending"
                        } else {
                            "void_pending"
                        };
                        transfer.flags = vec![flag.into()];
                        transfer.pending_id = format!("s{}-{earlier}", self.seed);
                        transfer.debit.clear();
                        transfer.credit.clear();
                        transfer.currency.clear();
                        if flag == "void_pending" || self.rng.chance(50) {
                            transfer.amount.clear();
                        }
                    }
                    _ => {}
                }
                events.push(Event::Transfer(transfer));
            }
        }
        events
    }

    /// One turn of the sequencer: the notice it was sent, then a few batches sequenced
    /// into one group for the committer.
    fn submit(&mut self) -> Outcome<()> {
        if self.live().queue.len() >= 8 {
            return Ok(()); // the ring to the committer is full: the sequencer waits
        }
        let batches: Vec<_> = (0..1 + self.rng.below(3)).map(|_| self.new_batch()).collect();
        self.sequence(batches)
    }

    fn submit_retries(&mut self) -> Outcome<()> {
        let batches = std::mem::take(&mut self.oracle.retry);
        let mut batches = batches.into_iter().peekable();
        while batches.peek().is_some() {
            let group: Vec<_> = batches.by_ref().take(2).collect();
            self.sequence(group)?;
        }
        Ok(())
    }

    fn sequence(&mut self, batches: Vec<Vec<Event>>) -> Outcome<()> {
        let now = self.now();
        let live = self.live();
        if let Some(notice) = live.notice.take() {
            live.sequencer
                .apply_notice(notice)
                .map_err(|e| format!("the sequencer refused the committer's notice: {e:?}"))?;
        }
        let mut group = Group {
            epoch: live.sequencer.epoch(),
            entries: EntryBuffer::new(),
            batches: Vec::new(),
        };
        for events in batches {
            let mut results = Vec::new();
            live.sequencer.execute(&events, now, &mut results, &mut group.entries);
            group.batches.push(Batch { events, results });
        }
        if !group.batches.is_empty() {
            live.queue.push_back(group);
        }
        Ok(())
    }

    // ---- the committer and the publisher --------------------------------------------

    /// One turn of the committer: the groups queued (some of them), one group commit,
    /// by the daemon's own `CommitStage::turn`.
    fn commit(&mut self) -> Outcome<()> {
        let queued = self.live().queue.len().max(1) as u64;
        let take = 1 + self.rng.below(queued) as usize;
        let live = self.live.as_mut().expect("open");
        let n = take.min(live.queue.len());
        let groups: Vec<Handed<Vec<Batch>>> = live
            .queue
            .drain(..n)
            .map(|g| Handed {
                epoch: g.epoch,
                entries: g.entries,
                payload: g.batches,
            })
            .collect();
        if groups.is_empty() {
            return Ok(());
        }
        let turn = live.stage.turn(groups, live.published);
        for entries in &turn.durable {
            live.view.apply(entries);
        }
        // Every full tile the turn revealed: seen now, never to change.
        let full: Vec<PathBuf> = turn
            .publications
            .iter()
            .flat_map(|p| p.full.iter().map(|t| self.log_dir.join(t.to_path())))
            .collect();
        for publication in turn.publications {
            announce(&mut live.publication, publication);
        }
        let head = live.stage.committed().clone();
        live.view.committed = Some(head.clone());
        live.sequencer
            .apply_notice(Notice::Durable { size: head.size })
            .map_err(|e| format!("durable notice refused: {e:?}"))?;
        let refused: Vec<Batch> = turn.refused.into_iter().flatten().collect();
        match turn.outcome {
            Ok(batches) => {
                if !batches.is_empty() {
                    self.report.commits += 1;
                    self.oracle.checkpoints.insert(head.size, head.root);
                }
                self.acknowledge(&turn.durable, batches.into_iter().flatten().collect())?;
            }
            Err((_failure, batches, notice)) => {
                // Refused (nothing stored) or undecided (a pending checkpoint): the
                // clients retry with the same ids either way.
                live.notice = Some(notice);
                self.refuse(batches.into_iter().flatten().collect());
            }
        }
        self.refuse(refused);
        for path in full {
            self.see_tile(&path)?;
        }
        Ok(())
    }

    fn refuse(&mut self, batches: Vec<Batch>) {
        for batch in batches {
            self.report.refused_batches += 1;
            self.oracle.retry.push(batch.events);
        }
    }

    /// Records what the clients of a durable commit were told.
    fn acknowledge(&mut self, buffers: &[EntryBuffer], batches: Vec<Batch>) -> Outcome<()> {
        let mut entries = BTreeMap::new();
        for buffer in buffers {
            let first = buffer.first_index().unwrap_or(0);
            for i in 0..buffer.len() {
                entries.insert(first + i as u64, buffer.get(i).to_vec());
            }
        }
        for batch in batches {
            self.report.acked_batches += 1;
            for (event, result) in batch.events.iter().zip(&batch.results) {
                let id = match event {
                    Event::Account(a) => &a.id,
                    Event::Transfer(t) => &t.id,
                };
                let Some(index) = result.index else { continue };
                match result.code {
                    ResultCode::Ok => {
                        let bytes = entries
                            .get(&index)
                            .ok_or_else(|| format!("acknowledged index {index} is not in its commit"))?;
                        self.oracle.acked.insert(index, bytes.clone());
                        self.report.acked_entries += 1;
                    }
                    ResultCode::Exists => {}
                    _ => continue,
                }
                if let Some(&before) = self.oracle.ids.get(id) {
                    if before != index {
                        return Err(format!("{id} was acknowledged at {before} and now at {index}"));
                    }
                }
                self.oracle.ids.insert(id.clone(), index);
            }
        }
        Ok(())
    }

    /// One turn of the publisher.
    fn publish(&mut self) -> Outcome<()> {
        let fs: Arc<dyn Fs> = self.fs.clone();
        let live = self.live.as_mut().expect("open");
        let Some(job) = live.publication.take() else {
            return Ok(());
        };
        match commit::publish(&fs, &self.log_dir, &job, &mut |rename| rename()) {
            Ok(()) => {
                live.published = job.head.size;
                self.report.publications += 1;
                if job.head.size < self.oracle.published {
                    return Err("a publication went back".into());
                }
                self.oracle.published = job.head.size;
                self.oracle.checkpoints.insert(job.head.size, job.head.root);
            }
            Err(_) => {
                let newer = live.publication.take();
                live.publication = Some(job);
                if let Some(newer) = newer {
                    announce(&mut live.publication, newer);
                }
            }
        }
        Ok(())
    }

    /// A snapshot, when everything sequenced is durable (as the daemon takes them).
    fn snapshot(&mut self) -> Outcome<()> {
        let dir = self.dir.clone();
        let fs = self.fs.clone();
        let live = self.live();
        let size = live.sequencer.next_index();
        let head = live.stage.committed().clone();
        if head.size != size || live.view.size != size || live.notice.is_some() || !live.queue.is_empty() {
            return Ok(());
        }
        live.sequencer.mark_durable(size);
        let binding = ledgerfs_snapshot::Binding { size, root: head.root };
        let bytes = snapshot::encode(binding, &live.sequencer, &live.view);
        if snapshot::write(&*fs, &dir, &bytes).is_ok() {
            self.report.snapshots += 1;
        }
        Ok(())
    }

    fn free_space(&mut self) {
        if self.faults.capacity > 0 {
            self.faults.capacity += 200_000;
            let mut now = self.fs.faults();
            now.capacity = self.faults.capacity;
            self.fs.set_faults(now);
        }
    }

    // ---- power cuts and recovery ----------------------------------------------------

    fn crash(&mut self) -> Outcome<()> {
        self.crash_and_check_tree()?;
        let from = if self.rng.chance(30) {
            Start::FullReplay
        } else {
            Start::NewestSnapshot
        };
        self.recover(from)
    }

    /// A power cut; then what a static web server would publish from `DIR/log` must be
    /// a valid tree at a checkpoint no older than the last one published.
    fn crash_and_check_tree(&mut self) -> Outcome<()> {
        // Acknowledged batches are remembered; the rest is retried by its clients.
        if let Some(live) = self.live.take() {
            for group in live.queue {
                self.refuse(group.batches);
            }
        }
        self.fs
            .crash()
            .map_err(|e| format!("the simulated power cut failed: {e}"))?;
        let vkey = ledger::read_vkey(&self.dir).map_err(|e| e.to_string())?;
        let origin = Config::load(&self.dir).map_err(|e| e.to_string())?.origin;
        let published = ledger::read_published(&self.log_dir, &vkey, &origin)
            .map_err(|e| format!("after a power cut, DIR/log has no valid checkpoint: {e}"))?;
        if published.size < self.oracle.published {
            return Err(format!(
                "after a power cut the published checkpoint went back from {} to {}",
                self.oracle.published, published.size
            ));
        }
        ledger::replay_log(&self.log_dir, &published, None, &mut |_, _| {}, &mut |_, _| Ok(()))
            .map_err(|e| format!("after a power cut, DIR/log is not a valid tree: {e}"))?;
        Ok(())
    }

    /// Opens the store as the daemon does (faults and all: a failed open is retried, as
    /// systemd restarts the daemon), then checks every promise made before the cut.
    fn recover(&mut self, from: Start) -> Outcome<()> {
        let fs: Arc<dyn Fs> = self.fs.clone();
        let mut attempts = 0;
        let opened = loop {
            match ledger::open_on(fs.clone(), &self.dir, from, &mut |_, _| {}) {
                Ok(opened) => break opened,
                Err(e @ ledgerfs_hosted::error::Error::Corrupt { .. }) => {
                    return Err(format!("recovery refused the store: {e}"))
                }
                Err(e) => {
                    self.report.failed_opens += 1;
                    attempts += 1;
                    if attempts == 20 {
                        // Storage that keeps failing: the operator fixes it.
                        self.fs.set_faults(Faults::default());
                    }
                    if attempts > 40 {
                        return Err(format!("the store does not open without faults: {e}"));
                    }
                }
            }
        };
        self.fs.set_faults(Faults {
            eio_ppm: self.faults.eio_ppm,
            capacity: self.faults.capacity,
        });
        self.report.recoveries += 1;
        let key = ledger::read_signer_key(&self.dir).map_err(|e| e.to_string())?;
        let mut attestor = Attestor::new(key, opened.config.origin.clone())
            .with_last_signed_note(opened.committed.note.as_bytes())
            .map_err(|e| e.to_string())?;
        let signer = Signer::Direct(Box::new(move |request| attestor.handle(&request)));
        let writer = LogWriter::new(
            LogId::Ledger,
            opened.tiles,
            PosixStore::journaled(self.log_dir.clone()).with_fs(fs),
            opened.committed.clone(),
            signer,
        );
        let edge = Arc::new(RightEdge::default());
        let live = Live {
            sequencer: opened.sequencer,
            stage: CommitStage::new(writer, opened.journal, edge, self.log_dir.clone()),
            view: opened.view,
            queue: VecDeque::new(),
            notice: None,
            publication: None,
            published: opened.committed.size,
            _lock: opened.lock,
        };
        if from == Start::NewestSnapshot && opened.from_snapshot.is_some() && self.rng.chance(50) {
            self.compare_with_full_replay(live)?;
        } else {
            self.live = Some(live);
        }
        self.check_promises()
    }

    /// The state rebuilt from a snapshot must equal the state replayed from the start.
    fn compare_with_full_replay(&mut self, live: Live) -> Outcome<()> {
        let (sequencer, view) = (live.sequencer.clone(), view_bytes(&live.view));
        drop(live);
        let fs: Arc<dyn Fs> = self.fs.clone();
        self.fs.set_faults(Faults::default());
        let full = ledger::open_on(fs, &self.dir, Start::FullReplay, &mut |_, _| {})
            .map_err(|e| format!("full replay after a snapshot start failed: {e}"))?;
        if full.sequencer != sequencer || view_bytes(&full.view) != view {
            return Err("the state from the snapshot differs from the full replay".into());
        }
        drop(full);
        self.recover(Start::NewestSnapshot)
    }

    fn check_promises(&mut self) -> Outcome<()> {
        let live = self.live.as_ref().expect("open");
        let size = live.stage.committed().size;
        if let Some((&last, _)) = self.oracle.acked.last_key_value() {
            if last >= size {
                return Err(format!("acknowledged entry {last} is beyond the recovered size {size}"));
            }
        }
        let reader = LogReader::new(PosixStore::new(self.log_dir.clone()));
        for (&index, bytes) in &self.oracle.acked {
            let stored = reader
                .entry(index, size)
                .map_err(|e| format!("acknowledged entry {index} cannot be read: {e}"))?;
            if &stored != bytes {
                return Err(format!("acknowledged entry {index} changed"));
            }
        }
        for (id, &index) in &self.oracle.ids {
            let found = live
                .sequencer
                .transfer_index(id)
                .or_else(|| live.sequencer.account(id).map(|a| a.index));
            if found != Some(index) {
                return Err(format!("acknowledged {id} at {index} is now at {found:?}"));
            }
        }
        let store = PosixStore::new(self.log_dir.clone());
        for (&at, root) in self.oracle.checkpoints.iter().filter(|(&s, _)| s <= size) {
            TileLog::open(&store, at, root)
                .map_err(|e| format!("the checkpoint at size {at} no longer matches the log: {e}"))?;
        }
        if let Some((&newest, _)) = self.oracle.checkpoints.last_key_value() {
            if newest > size {
                return Err(format!("recovered at {size}, behind the checkpoint at {newest}"));
            }
        }
        let tiles: Vec<PathBuf> = self.oracle.tiles.keys().cloned().collect();
        for path in tiles {
            self.see_tile(&path)?;
        }
        self.check_live()
    }

    /// Records a full tile's hash the first time it is seen; it must never change.
    fn see_tile(&mut self, path: &Path) -> Outcome<()> {
        let Ok(bytes) = std::fs::read(path) else {
            return Ok(()); // lost with the page cache; recovery writes it again
        };
        let hash: [u8; 32] = Sha256::digest(&bytes).into();
        match self.oracle.tiles.insert(path.to_path_buf(), hash) {
            Some(before) if before != hash => Err(format!("full tile {} was rewritten", path.display())),
            _ => Ok(()),
        }
    }

    /// Money is conserved per currency, posted and pending, and the read model holds
    /// the sequencer's balances wherever it is at the same size.
    fn check_live(&mut self) -> Outcome<()> {
        let live = self.live.as_ref().expect("open");
        let mut sums: BTreeMap<&str, (u128, u128, u128, u128)> = BTreeMap::new();
        for account in live.sequencer.accounts() {
            let (b, sum) = (account.balance, sums.entry(account.record.currency.code()).or_default());
            sum.0 += b.debits_posted;
            sum.1 += b.credits_posted;
            sum.2 += b.debits_pending;
            sum.3 += b.credits_pending;
        }
        for (currency, (debits, credits, debits_pending, credits_pending)) in sums {
            if debits != credits || debits_pending != credits_pending {
                return Err(format!(
                    "{currency}: debits {debits}/{debits_pending} pending ≠ credits {credits}/{credits_pending} pending"
                ));
            }
        }
        if live.view.size == live.sequencer.next_index() {
            for account in live.sequencer.accounts() {
                let seen = live.view.account(&account.record.id).map(|a| a.balance);
                if seen != Some(account.balance) {
                    return Err(format!("the read model's balance of {} differs", account.record.id));
                }
            }
        }
        Ok(())
    }
}

fn announce(slot: &mut Option<Publication>, publication: Publication) {
    match slot {
        Some(job) => job.absorb(publication),
        None => *slot = Some(publication),
    }
}

fn view_bytes(view: &ViewState) -> Vec<u8> {
    let mut w = ledgerfs_snapshot::Writer::new();
    view.encode_snapshot(&mut w);
    w.buf
}
