//! SVG plots for the report, drawn with `plotters`: throughput against clients and
//! against batch size, and latency CDFs. Log axes are drawn by plotting log10 values on
//! linear axes with power-of-ten labels, so every chart is the same simple kind.

use std::path::Path;

use plotters::prelude::*;

use crate::error::Result;
use crate::results::{Results, RunResult, System};

/// One line of a chart.
struct Series {
    name: String,
    color: RGBColor,
    points: Vec<(f64, f64)>,
}

/// An axis: its label and whether it is logarithmic.
struct Axis<'a> {
    label: &'a str,
    log: bool,
}

const LEDGERFS: [RGBColor; 4] = [
    RGBColor(31, 119, 180),
    RGBColor(23, 190, 207),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
];
const POSTGRES: [RGBColor; 4] = [
    RGBColor(214, 39, 40),
    RGBColor(255, 127, 14),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
];

fn palette(system: System, i: usize) -> RGBColor {
    match system {
        System::Ledgerfs => LEDGERFS[i % LEDGERFS.len()],
        System::Postgres => POSTGRES[i % POSTGRES.len()],
    }
}

fn scale(v: f64, log: bool) -> f64 {
    if log {
        v.max(1e-9).log10()
    } else {
        v
    }
}

fn tick(v: f64, log: bool) -> String {
    let v = if log { 10f64.powf(v) } else { v };
    if v.abs() >= 1e6 {
        format!("{}M", trim(v / 1e6))
    } else if v.abs() >= 1e3 {
        format!("{}k", trim(v / 1e3))
    } else {
        trim(v)
    }
}

fn trim(v: f64) -> String {
    let s = format!("{v:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn chart(path: &Path, title: &str, x: Axis, y: Axis, series: &[Series]) -> Result<()> {
    let pts = || series.iter().flat_map(|s| s.points.iter());
    if pts().next().is_none() {
        return Ok(());
    }
    let bounds = |f: fn(&(f64, f64)) -> f64, log: bool| {
        let (lo, hi) = pts()
            .map(|p| scale(f(p), log))
            .fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
        let pad = ((hi - lo) * 0.05).max(if log { 0.1 } else { 1e-9 });
        (lo - pad, hi + pad)
    };
    let (x0, x1) = bounds(|p| p.0, x.log);
    let (y0, y1) = bounds(|p| p.1, y.log);
    let y0 = if y.log { y0 } else { y0.min(0.0) };
    let draw = || -> std::result::Result<(), Box<dyn std::error::Error>> {
        let root = SVGBackend::new(path, (820, 500)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut c = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(45)
            .y_label_area_size(70)
            .build_cartesian_2d(x0..x1, y0..y1)?;
        let (xl, yl) = (x.log, y.log);
        c.configure_mesh()
            .x_desc(x.label)
            .y_desc(y.label)
            .x_label_formatter(&|v| tick(*v, xl))
            .y_label_formatter(&|v| tick(*v, yl))
            .draw()?;
        for s in series {
            let color = s.color;
            let points: Vec<(f64, f64)> = s.points.iter().map(|p| (scale(p.0, xl), scale(p.1, yl))).collect();
            c.draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))?
                .label(s.name.clone())
                .legend(move |(px, py)| PathElement::new(vec![(px, py), (px + 18, py)], color.stroke_width(2)));
            if points.len() <= 12 {
                c.draw_series(points.into_iter().map(|p| Circle::new(p, 3, color.filled())))?;
            }
        }
        c.configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .position(SeriesLabelPosition::LowerRight)
            .draw()?;
        root.present()?;
        Ok(())
    };
    draw().map_err(|e| format!("plotting {}: {e}", path.display()))
}

fn runs(r: &Results, system: System, batch: usize) -> Vec<&RunResult> {
    let mut v: Vec<&RunResult> = r
        .runs
        .iter()
        .filter(|x| x.system == system && x.batch == batch && x.label.starts_with('b'))
        .collect();
    v.sort_by_key(|x| x.clients);
    v
}

/// Writes every plot into `dir`; returns the file names written.
pub fn write_all(r: &Results, dir: &Path) -> Result<Vec<String>> {
    let mut written = Vec::new();
    let mut save = |name: &str, title: &str, x: Axis, y: Axis, series: Vec<Series>| -> Result<()> {
        if series.iter().any(|s| !s.points.is_empty()) {
            chart(&dir.join(name), title, x, y, &series)?;
            written.push(name.to_string());
        }
        Ok(())
    };

    let mut by_clients = Vec::new();
    for system in [System::Ledgerfs, System::Postgres] {
        for (j, batch) in [1usize, 100].into_iter().enumerate() {
            let points: Vec<(f64, f64)> = runs(r, system, batch)
                .iter()
                .map(|x| (x.clients as f64, x.transfers_per_second))
                .collect();
            if !points.is_empty() {
                by_clients.push(Series {
                    name: format!("{} batch {batch}", system.name()),
                    color: palette(system, j),
                    points,
                });
            }
        }
    }
    save(
        "throughput_clients.svg",
        "Transfers/s vs concurrent clients",
        Axis {
            label: "clients",
            log: true,
        },
        Axis {
            label: "transfers/s",
            log: true,
        },
        by_clients,
    )?;

    let mut by_batch = Vec::new();
    for system in [System::Ledgerfs, System::Postgres] {
        let mut points: Vec<(f64, f64)> = r
            .runs
            .iter()
            .filter(|x| x.system == system && x.clients == 1)
            .map(|x| (x.batch as f64, x.transfers_per_second))
            .collect();
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        points.dedup_by(|a, b| a.0 == b.0);
        by_batch.push(Series {
            name: format!("{}, 1 client", system.name()),
            color: palette(system, 0),
            points,
        });
    }
    save(
        "throughput_batch.svg",
        "Transfers/s vs batch size (one client)",
        Axis {
            label: "transfers per request / transaction",
            log: true,
        },
        Axis {
            label: "transfers/s",
            log: true,
        },
        by_batch,
    )?;

    for batch in [1usize, 100] {
        let mut cdfs = Vec::new();
        for system in [System::Ledgerfs, System::Postgres] {
            for (i, run) in runs(r, system, batch).into_iter().enumerate() {
                cdfs.push(Series {
                    name: format!("{} {} client(s)", system.name(), run.clients),
                    color: palette(system, i),
                    points: run.cdf.iter().map(|&(us, f)| (us / 1_000.0, f)).collect(),
                });
            }
        }
        save(
            &format!("latency_cdf_batch{batch}.svg"),
            &format!("Request latency CDF, batches of {batch}"),
            Axis {
                label: "latency (ms)",
                log: true,
            },
            Axis {
                label: "fraction of requests",
                log: false,
            },
            cdfs,
        )?;
    }

    let mut standard = Vec::new();
    for (i, run) in r
        .runs
        .iter()
        .filter(|x| x.system == System::Ledgerfs && x.label.starts_with("standard"))
        .enumerate()
    {
        standard.push(Series {
            name: format!("LedgerFS {} (per 8,189 batch)", run.label),
            color: palette(System::Ledgerfs, i),
            points: run.cdf.iter().map(|&(us, f)| (us / 1_000.0, f)).collect(),
        });
    }
    if let Some(reads) = &r.reads {
        standard.push(Series {
            name: "LedgerFS balance read".into(),
            color: palette(System::Ledgerfs, 3),
            points: reads.cdf.iter().map(|&(us, f)| (us / 1_000.0, f)).collect(),
        });
    }
    save(
        "latency_cdf_standard.svg",
        "Standard workload batch latency and balance read latency",
        Axis {
            label: "latency (ms)",
            log: true,
        },
        Axis {
            label: "fraction",
            log: false,
        },
        standard,
    )?;
    Ok(written)
}
