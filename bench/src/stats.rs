//! Latency samples and their summaries: percentiles (nearest rank) and a down-sampled
//! cumulative distribution for the CDF plots.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Points kept of a CDF (enough for a smooth curve, small enough for results.json).
const CDF_POINTS: usize = 200;

/// Percentiles of a set of latencies, in microseconds.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Summary {
    /// Number of samples.
    pub count: usize,
    /// Mean.
    pub mean_us: f64,
    /// Median.
    pub p50_us: f64,
    /// 95th percentile.
    pub p95_us: f64,
    /// 99th percentile.
    pub p99_us: f64,
    /// Maximum.
    pub p100_us: f64,
}

/// Latency samples of one run.
#[derive(Clone, Debug, Default)]
pub struct Samples {
    nanos: Vec<u64>,
}

impl Samples {
    /// Room for `n` samples (allocated outside the timed region).
    pub fn with_capacity(n: usize) -> Samples {
        Samples {
            nanos: Vec::with_capacity(n),
        }
    }

    /// Records one latency.
    pub fn push(&mut self, d: Duration) {
        self.nanos.push(d.as_nanos().min(u128::from(u64::MAX)) as u64);
    }

    /// Adds another run's samples.
    pub fn merge(&mut self, other: Samples) {
        self.nanos.extend(other.nanos);
    }

    /// Sorts the samples (needed before `summary` and `cdf`).
    pub fn sort(&mut self) {
        self.nanos.sort_unstable();
    }

    /// The `q` quantile (0..=1) by nearest rank, in microseconds; 0 when empty.
    pub fn quantile_us(&self, q: f64) -> f64 {
        if self.nanos.is_empty() {
            return 0.0;
        }
        let rank = ((q * self.nanos.len() as f64).ceil() as usize).clamp(1, self.nanos.len());
        self.nanos[rank - 1] as f64 / 1_000.0
    }

    /// Percentiles of the sorted samples.
    pub fn summary(&self) -> Summary {
        let count = self.nanos.len();
        let mean_us = if count == 0 {
            0.0
        } else {
            self.nanos.iter().map(|&n| n as f64).sum::<f64>() / count as f64 / 1_000.0
        };
        Summary {
            count,
            mean_us,
            p50_us: self.quantile_us(0.50),
            p95_us: self.quantile_us(0.95),
            p99_us: self.quantile_us(0.99),
            p100_us: self.quantile_us(1.0),
        }
    }

    /// (latency µs, fraction at or below) for the sorted samples, down-sampled.
    pub fn cdf(&self) -> Vec<(f64, f64)> {
        let n = self.nanos.len();
        if n == 0 {
            return Vec::new();
        }
        let step = n.div_ceil(CDF_POINTS).max(1);
        let mut points: Vec<(f64, f64)> = (step - 1..n)
            .step_by(step)
            .map(|i| (self.nanos[i] as f64 / 1_000.0, (i + 1) as f64 / n as f64))
            .collect();
        if points.last().is_none_or(|p| p.1 < 1.0) {
            points.push((self.nanos[n - 1] as f64 / 1_000.0, 1.0));
        }
        points
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let mut s = Samples::default();
        for us in (1..=100).rev() {
            s.push(Duration::from_micros(us));
        }
        s.sort();
        let sum = s.summary();
        assert_eq!((sum.p50_us, sum.p99_us, sum.p100_us), (50.0, 99.0, 100.0));
        let cdf = s.cdf();
        assert_eq!(cdf.last(), Some(&(100.0, 1.0)));
    }
}
