//! The closed-loop load generator: one thread per client, each with its own connection
//! and its own prebuilt requests, all released together; each client sends its next
//! request when the previous one is answered, until its requests run out or the time
//! limit passes. Every request's latency is recorded.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use indicatif::ProgressBar;

use crate::error::Result;
use crate::http::Posted;
use crate::stats::Samples;

/// One client connection of a system under test.
pub trait Worker: Send {
    /// A prebuilt request (a batch of transfers).
    type Request: Sync;
    /// Opens the connection before anything is timed.
    fn warm_up(&mut self) -> Result<()>;
    /// Sends one request and waits for its answer.
    fn call(&mut self, request: &Self::Request) -> Result<Posted>;
}

/// What a run measured.
#[derive(Debug, Default)]
pub struct Measured {
    /// Transfers accepted.
    pub accepted: u64,
    /// Transfers rejected by a ledger rule.
    pub rejected: u64,
    /// Requests answered.
    pub requests: u64,
    /// Requests that failed (transport or HTTP error); each stops its client.
    pub errors: u64,
    /// The first failure, if any.
    pub first_error: Option<String>,
    /// From the common start to the last client's last answer.
    pub elapsed: Duration,
    /// Latency of every answered request.
    pub samples: Samples,
}

struct ClientOutcome {
    accepted: u64,
    rejected: u64,
    requests: u64,
    error: Option<String>,
    samples: Samples,
    finished: Instant,
}

/// Runs `workers[i]` over `requests[i]` concurrently for at most `limit`.
pub fn run<W: Worker>(
    mut workers: Vec<W>,
    requests: &[Vec<W::Request>],
    limit: Duration,
    bar: &ProgressBar,
) -> Result<Measured> {
    assert_eq!(workers.len(), requests.len(), "one request list per client");
    for w in &mut workers {
        w.warm_up()?;
    }
    let done = AtomicU64::new(0);
    let barrier = Barrier::new(workers.len() + 1);
    let (outcomes, elapsed) = std::thread::scope(|s| {
        let handles: Vec<_> = workers
            .into_iter()
            .zip(requests)
            .map(|(mut worker, mine)| {
                let (done, barrier) = (&done, &barrier);
                s.spawn(move || {
                    let mut out = ClientOutcome {
                        accepted: 0,
                        rejected: 0,
                        requests: 0,
                        error: None,
                        samples: Samples::with_capacity(mine.len()),
                        finished: Instant::now(),
                    };
                    barrier.wait();
                    let deadline = Instant::now() + limit;
                    for request in mine {
                        if Instant::now() >= deadline {
                            break;
                        }
                        let sent = Instant::now();
                        match worker.call(request) {
                            Ok(posted) => {
                                out.samples.push(sent.elapsed());
                                out.accepted += posted.accepted;
                                out.rejected += posted.rejected;
                                out.requests += 1;
                                done.fetch_add(posted.accepted + posted.rejected, Ordering::Relaxed);
                            }
                            Err(e) => {
                                out.error = Some(e);
                                break;
                            }
                        }
                    }
                    out.finished = Instant::now();
                    out
                })
            })
            .collect();
        barrier.wait();
        let start = Instant::now();
        while !handles.iter().all(|h| h.is_finished()) {
            bar.set_position(done.load(Ordering::Relaxed));
            std::thread::sleep(Duration::from_millis(50));
        }
        let outcomes: Vec<ClientOutcome> = handles.into_iter().filter_map(|h| h.join().ok()).collect();
        let last = outcomes.iter().map(|o| o.finished).max().unwrap_or(start);
        (outcomes, last.saturating_duration_since(start))
    });
    bar.set_position(done.load(Ordering::Relaxed));
    let mut measured = Measured {
        elapsed,
        ..Measured::default()
    };
    for o in outcomes {
        measured.accepted += o.accepted;
        measured.rejected += o.rejected;
        measured.requests += o.requests;
        if let Some(e) = o.error {
            measured.errors += 1;
            measured.first_error.get_or_insert(e);
        }
        measured.samples.merge(o.samples);
    }
    measured.samples.sort();
    Ok(measured)
}
