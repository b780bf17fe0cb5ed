//! The targets, checked against the results (reported, never asserted): each
//! row says what was measured, whether it meets the bar, and by how much it misses.

use crate::results::{same_workload, Results, System};

/// One target row.
pub struct Check {
    /// What the target is.
    pub target: String,
    /// The measured (or extrapolated) figure, formatted.
    pub measured: String,
    /// "met", "missed: ..." or "not measured".
    pub verdict: String,
}

/// Whether a bigger or a smaller figure is better.
#[derive(Clone, Copy)]
enum Better {
    Higher,
    Lower,
}

fn verdict(value: Option<f64>, bar: f64, better: Better) -> String {
    let Some(v) = value else {
        return "not measured".into();
    };
    match better {
        Better::Higher if v >= bar => "met".into(),
        Better::Lower if v < bar || (v - bar).abs() < f64::EPSILON => "met".into(),
        Better::Higher => format!(
            "**missed**: {:.0}% short ({:.2}× below)",
            100.0 * (bar - v) / bar,
            bar / v.max(1e-12)
        ),
        Better::Lower => format!("**missed**: {:.2}× over", v / bar),
    }
}

/// Formats a rate.
pub fn rate(v: f64) -> String {
    if v >= 100.0 {
        group(v.round() as u64)
    } else {
        format!("{v:.1}")
    }
}

/// Thousands separators.
pub fn group(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Formats microseconds as µs or ms.
pub fn micros(us: f64) -> String {
    if us >= 1_000.0 {
        format!("{:.2} ms", us / 1_000.0)
    } else {
        format!("{us:.0} µs")
    }
}

/// Every target row.
pub fn checks(r: &Results) -> Vec<Check> {
    let mut out = Vec::new();
    let mut row = |target: &str, value: Option<f64>, shown: String, bar: f64, better: Better| {
        out.push(Check {
            target: target.into(),
            measured: if value.is_some() { shown } else { "—".into() },
            verdict: verdict(value, bar, better),
        });
    };
    let standard = r
        .runs
        .iter()
        .find(|x| x.system == System::Ledgerfs && x.label.starts_with("standard") && !x.label.ends_with("10M"));
    let label = standard.map_or("standard".to_string(), |s| s.label.clone());
    let tps = standard.map(|s| s.transfers_per_second);
    row(
        &format!("{label}: ≥ 700,000 transfers/s"),
        tps,
        tps.map(rate).unwrap_or_default(),
        700_000.0,
        Better::Higher,
    );
    let p99 = standard.map(|s| s.latency.p99_us);
    row(
        &format!("{label}: p99 batch < 50 ms"),
        p99,
        p99.map(micros).unwrap_or_default(),
        50_000.0,
        Better::Lower,
    );
    let ten = r.run(System::Ledgerfs, "standard-10M");
    row(
        "standard-10M: ≥ 470,000 transfers/s",
        ten.map(|s| s.transfers_per_second),
        ten.map(|s| rate(s.transfers_per_second)).unwrap_or_default(),
        470_000.0,
        Better::Higher,
    );
    for (clients, bar_tps, bar_p99) in [(1usize, 4_000.0, 1_000.0), (32, 30_000.0, 5_000.0)] {
        let run = r.run(System::Ledgerfs, &format!("b1-c{clients}"));
        row(
            &format!("batch of 1, {clients} client(s): ≥ {} transfers/s", rate(bar_tps)),
            run.map(|s| s.transfers_per_second),
            run.map(|s| rate(s.transfers_per_second)).unwrap_or_default(),
            bar_tps,
            Better::Higher,
        );
        row(
            &format!("batch of 1, {clients} client(s): p99 ≤ {}", micros(bar_p99)),
            run.map(|s| s.latency.p99_us),
            run.map(|s| micros(s.latency.p99_us)).unwrap_or_default(),
            bar_p99,
            Better::Lower,
        );
    }
    // Ahead of TigerBeetle in the same run when it is given: LedgerFS ÷ TigerBeetle ≥ 1.
    for t in &r.tigerbeetle {
        let x = r
            .runs
            .iter()
            .find(|x| x.system == System::Ledgerfs && same_workload(&x.label, &t.label));
        let ratio = match (x, t.transfers_per_second) {
            (Some(x), Some(tb)) if tb > 0.0 => Some(x.transfers_per_second / tb),
            _ => None,
        };
        let name = x.map_or(t.label.clone(), |x| x.label.clone());
        row(
            &format!("{name}: ahead of TigerBeetle ({}) in the same run", t.label),
            ratio,
            match (x, t.transfers_per_second, ratio) {
                (Some(x), Some(tb), Some(q)) => {
                    format!("{q:.2}× ({} vs {}/s)", rate(x.transfers_per_second), rate(tb))
                }
                _ => String::new(),
            },
            1.0,
            Better::Higher,
        );
    }
    let read = r.reads.as_ref().map(|x| x.latency.p99_us);
    row(
        "balance read p99 < 100 µs",
        read,
        read.map(micros).unwrap_or_default(),
        100.0,
        Better::Lower,
    );
    let how = |measured: bool| if measured { "measured" } else { "extrapolated" };
    let restart = r.restart.as_ref();
    row(
        "restart of a 10M-entry store < 3 s",
        restart.map(|x| x.seconds_10m),
        restart
            .map(|x| format!("{:.1} s ({})", x.seconds_10m, how(x.measured_10m)))
            .unwrap_or_default(),
        3.0,
        Better::Lower,
    );
    let res = &r.resources;
    let have = res.transfers > 0;
    row(
        "memory < 1 GB for 10M transfers",
        have.then_some(res.memory_10m),
        format!("{:.2} GB ({})", res.memory_10m / 1e9, how(res.measured_10m)),
        1e9,
        Better::Lower,
    );
    row(
        "disk < 3 GB for 10M transfers",
        have.then_some(res.disk_10m),
        format!("{:.2} GB ({})", res.disk_10m / 1e9, how(res.measured_10m)),
        3e9,
        Better::Lower,
    );
    if let Some(fuse) = &r.fuse {
        for what in ["balance.json", "full tile"] {
            for (state, bar) in [("cold", 1_000.0), ("cached", 100.0)] {
                let label = format!("{what} via FUSE, {state}");
                let p99 = fuse
                    .latencies
                    .iter()
                    .find(|f| f.label == label)
                    .map(|f| f.latency.p99_us);
                row(
                    &format!("{label}: p99 < {}", micros(bar)),
                    p99,
                    p99.map(micros).unwrap_or_default(),
                    bar,
                    Better::Lower,
                );
            }
        }
        for state in ["cold", "cached"] {
            let mbps = |label: &str| fuse.cat.iter().find(|(l, _)| l == label).map(|x| x.1);
            let ratio = match (
                mbps(&format!("cat via FUSE, {state}")),
                mbps(&format!("cat on ext4, {state}")),
            ) {
                (Some(f), Some(e)) if f > 0.0 => Some(e / f),
                _ => None,
            };
            row(
                &format!("cat of every tile, {state}: FUSE time ≤ 2× ext4"),
                ratio,
                ratio.map(|x| format!("{x:.2}×")).unwrap_or_default(),
                2.0,
                Better::Lower,
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts() {
        assert_eq!(verdict(Some(800.0), 700.0, Better::Higher), "met");
        assert!(verdict(Some(350.0), 700.0, Better::Higher).contains("50% short"));
        assert!(verdict(Some(200.0), 100.0, Better::Lower).contains("2.00× over"));
        assert_eq!(verdict(None, 1.0, Better::Lower), "not measured");
        assert_eq!(group(1_234_567), "1,234,567");
    }

    #[test]
    fn tigerbeetle_rows_only_when_it_ran() {
        use crate::results::{RunResult, TigerBeetleRun};
        let mut r = Results::default();
        let run = |label: &str, tps: f64| RunResult {
            transfers_per_second: tps,
            ..RunResult::new(System::Ledgerfs, label.into(), 1, 1, crate::load::Measured::default())
        };
        r.runs.push(run("standard-200k", 250_000.0));
        r.runs.push(run("b1-c1", 800.0));
        assert!(!checks(&r).iter().any(|c| c.target.contains("TigerBeetle")));
        for (label, tps) in [
            ("standard-1M", Some(469_263.0)),
            ("b1-c1", Some(1_760.0)),
            ("b1-c32", None),
        ] {
            r.tigerbeetle.push(TigerBeetleRun {
                label: label.into(),
                transfers_per_second: tps,
                ..TigerBeetleRun::default()
            });
        }
        let c = checks(&r);
        let tb: Vec<&Check> = c.iter().filter(|c| c.target.contains("TigerBeetle")).collect();
        assert_eq!(tb.len(), 3);
        assert!(tb[0]
            .target
            .starts_with("standard-200k: ahead of TigerBeetle (standard-1M)"));
        assert!(tb[0].measured.starts_with("0.53×"), "{}", tb[0].measured);
        assert!(tb[0].verdict.contains("missed"));
        assert!(tb[1].verdict.contains("missed"));
        assert_eq!(tb[2].verdict, "not measured");
    }
}
