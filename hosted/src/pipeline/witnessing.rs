//! Witnessed publication (C2SP tlog-witness, tlog-policy): the daemon submits each
//! integrated checkpoint to the witnesses of its policy in parallel, carrying the
//! consistency proof from the size each last cosigned, and publishes it as
//! `DIR/log/checkpoint` with the cosignature lines collected, only once they meet the
//! policy's quorum (fail-closed). Writes are acknowledged on durability regardless; a
//! checkpoint that misses the quorum stays integrated (its tiles durable, recovery
//! starts from it) and is submitted again, or a newer one instead. Fail-open
//! (`witness_fail_open = true`) publishes without the quorum and says so on stderr and
//! in `/metrics`.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ledgerfs_attest::VerifierKey;
use ledgerfs_witness::{Policy, PolicyWitness};

use crate::error::{Error, Result};
use crate::witness::submit::{self, Submission};

/// What the daemon knows of one witness, for the next submission and `/metrics`.
#[derive(Debug)]
pub struct WitnessStatus {
    /// The policy's witness.
    pub witness: PolicyWitness,
    /// The size it last cosigned (0 until it answers).
    pub cosigned: AtomicU64,
    /// Duration of its last answered submission, in microseconds.
    pub latency_micros: AtomicU64,
    /// Submissions it did not cosign (down, refused, conflict).
    pub failures: AtomicU64,
    /// Submissions it refused as a fork or a rollback.
    pub conflicts: AtomicU64,
}

/// The witnesses of the daemon's policy and how publication treats a missed quorum.
#[derive(Debug)]
pub struct Witnessing {
    policy: Policy,
    /// Publish without the quorum (logged) instead of holding the checkpoint back.
    pub fail_open: bool,
    agent: ureq::Agent,
    /// One per policy witness with a URL, in policy order.
    pub witnesses: Vec<WitnessStatus>,
    /// Whether the newest round met the quorum.
    pub quorum_met: AtomicBool,
    /// Checkpoints published without the quorum (fail-open only).
    pub unwitnessed_publications: AtomicU64,
    /// Rounds that missed the quorum.
    pub missed_rounds: AtomicU64,
}

/// The outcome of one round of submissions.
#[derive(Debug)]
pub struct Round {
    /// The checkpoint with every cosignature collected.
    pub cosigned: String,
    /// The policy names of the witnesses whose cosignature verified.
    pub cosigned_by: Vec<String>,
    /// Whether they meet the quorum.
    pub quorum_met: bool,
}

impl Witnessing {
    /// Loads the policy at `path` for the log `vkey` (its origin must be one of the
    /// policy's logs, under the same key: a policy for another log would never be met).
    pub fn load(path: &Path, vkey: &VerifierKey, fail_open: bool, timeout: Duration) -> Result<Witnessing> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let policy = Policy::parse(&text).map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
        if !policy.logs.iter().any(|l| l.key.encode() == vkey.encode()) {
            return Err(Error::Config(format!(
                "{}: the policy has no `log` line with this log's key {}",
                path.display(),
                vkey.encode()
            )));
        }
        let witnesses: Vec<WitnessStatus> = policy
            .witnesses
            .iter()
            .filter(|w| w.url.is_some())
            .map(|w| WitnessStatus {
                witness: w.clone(),
                cosigned: AtomicU64::new(0),
                latency_micros: AtomicU64::new(0),
                failures: AtomicU64::new(0),
                conflicts: AtomicU64::new(0),
            })
            .collect();
        if witnesses.is_empty() && !fail_open {
            eprintln!(
                "ledgerfs: the policy {} names no witness URL: no checkpoint can meet its quorum unless it is `none`",
                path.display()
            );
        }
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(timeout.min(Duration::from_secs(2)))
            .timeout(timeout)
            .build();
        Ok(Witnessing {
            policy,
            fail_open,
            agent,
            witnesses,
            quorum_met: AtomicBool::new(false),
            unwitnessed_publications: AtomicU64::new(0),
            missed_rounds: AtomicU64::new(0),
        })
    }

    /// Submits `note` (the log-signed checkpoint of `size` entries) to every witness at
    /// once and waits for all of them (each bounded by the timeout); `proof(old)` is the
    /// consistency proof from `old` to `size`. A witness that sees a fork refuses, and
    /// that is printed loudly.
    pub fn round(
        &self,
        note: &str,
        size: u64,
        proof: &(dyn Fn(u64) -> std::result::Result<Vec<String>, String> + Sync),
    ) -> Round {
        let answers: Vec<Option<String>> = std::thread::scope(|scope| {
            let handles: Vec<_> = self
                .witnesses
                .iter()
                .map(|status| {
                    scope.spawn(move || {
                        let started = Instant::now();
                        let known = status.cosigned.load(Ordering::Relaxed);
                        let answer = submit::submit(&self.agent, &status.witness, note, size, known, proof);
                        status
                            .latency_micros
                            .store(started.elapsed().as_micros() as u64, Ordering::Relaxed);
                        let name = &status.witness.name;
                        match answer {
                            Submission::Cosigned(line) => {
                                status.cosigned.store(size, Ordering::Relaxed);
                                Some(line)
                            }
                            Submission::Conflict(why) => {
                                status.failures.fetch_add(1, Ordering::Relaxed);
                                status.conflicts.fetch_add(1, Ordering::Relaxed);
                                eprintln!(
                                    "ledgerfs: WITNESS CONFLICT: witness {name} refused the checkpoint at size {size} as inconsistent with what it cosigned before ({why}); this log may have forked or been rolled back: investigate before trusting it"
                                );
                                None
                            }
                            Submission::Refused(why) => {
                                status.failures.fetch_add(1, Ordering::Relaxed);
                                eprintln!("ledgerfs: witness {name} refused the checkpoint at size {size}: {why}");
                                None
                            }
                            Submission::Down(why) => {
                                status.failures.fetch_add(1, Ordering::Relaxed);
                                eprintln!("ledgerfs: witness {name} did not answer for size {size}: {why}");
                                None
                            }
                        }
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap_or(None)).collect()
        });
        let mut cosigned = note.to_string();
        for line in answers.into_iter().flatten() {
            cosigned.push_str(&line);
        }
        let (cosigned_by, quorum_met) = match self.policy.check(cosigned.as_bytes()) {
            Ok(v) => (v.cosigned_by, v.quorum_met),
            Err(_) => (Vec::new(), false),
        };
        self.quorum_met.store(quorum_met, Ordering::Relaxed);
        if !quorum_met {
            self.missed_rounds.fetch_add(1, Ordering::Relaxed);
        }
        Round {
            cosigned,
            cosigned_by,
            quorum_met,
        }
    }

    /// Whether `note` (a published checkpoint with its cosignatures) meets the quorum.
    pub fn meets_quorum(&self, note: &str) -> bool {
        self.policy.check(note.as_bytes()).is_ok_and(|v| v.quorum_met)
    }

    /// `/metrics` lines: per witness its latency, failures, conflicts and lag behind
    /// `durable` (entries it has not cosigned yet).
    pub fn write_metrics(&self, out: &mut String, durable: u64) {
        let _ = writeln!(
            out,
            "# HELP ledgerfs_witness_quorum_met Whether the newest round of cosignatures met the policy's quorum.\n# TYPE ledgerfs_witness_quorum_met gauge\nledgerfs_witness_quorum_met {}",
            u8::from(self.quorum_met.load(Ordering::Relaxed))
        );
        let _ = writeln!(
            out,
            "# TYPE ledgerfs_witness_missed_rounds_total counter\nledgerfs_witness_missed_rounds_total {}\n# TYPE ledgerfs_witness_unwitnessed_publications_total counter\nledgerfs_witness_unwitnessed_publications_total {}",
            self.missed_rounds.load(Ordering::Relaxed),
            self.unwitnessed_publications.load(Ordering::Relaxed)
        );
        out.push_str("# TYPE ledgerfs_witness_latency_seconds gauge\n# TYPE ledgerfs_witness_failures_total counter\n# TYPE ledgerfs_witness_conflicts_total counter\n# TYPE ledgerfs_witness_lag_entries gauge\n");
        for s in &self.witnesses {
            let name = s.witness.name.replace(['"', '\\', '\n'], "_");
            let _ = writeln!(
                out,
                "ledgerfs_witness_latency_seconds{{witness=\"{name}\"}} {:.6}\nledgerfs_witness_failures_total{{witness=\"{name}\"}} {}\nledgerfs_witness_conflicts_total{{witness=\"{name}\"}} {}\nledgerfs_witness_lag_entries{{witness=\"{name}\"}} {}",
                s.latency_micros.load(Ordering::Relaxed) as f64 / 1e6,
                s.failures.load(Ordering::Relaxed),
                s.conflicts.load(Ordering::Relaxed),
                durable.saturating_sub(s.cosigned.load(Ordering::Relaxed)),
            );
        }
    }
}
