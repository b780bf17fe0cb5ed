//! Progress display: an overall bar of the suite's steps and one bar per run (transfers
//! done, rate), on stderr; one summary line per finished run, also when not a terminal.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

/// The suite's progress display.
pub struct Progress {
    multi: MultiProgress,
    overall: ProgressBar,
    terminal: bool,
}

impl Progress {
    /// A display for `steps` steps.
    pub fn new(steps: u64) -> Progress {
        let multi = MultiProgress::new();
        let overall = multi.add(ProgressBar::new(steps));
        overall.set_style(
            ProgressStyle::with_template("{elapsed_precise} [{bar:30.cyan/blue}] {pos}/{len} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        overall.enable_steady_tick(Duration::from_millis(200));
        Progress {
            multi,
            overall,
            terminal: std::io::stderr().is_terminal(),
        }
    }

    /// Starts the next step.
    pub fn step(&self, what: &str) {
        self.overall.inc(1);
        self.overall.set_message(what.to_string());
        if !self.terminal {
            eprintln!(
                "[{}/{}] {what}",
                self.overall.position(),
                self.overall.length().unwrap_or(0)
            );
        }
    }

    /// A bar for one run of `len` items.
    pub fn bar(&self, len: u64, what: &str) -> ProgressBar {
        let bar = self.multi.add(ProgressBar::new(len));
        bar.set_style(
            ProgressStyle::with_template("  {prefix:24} [{bar:30.green/white}] {human_pos}/{human_len} ({per_sec})")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.set_prefix(what.to_string());
        bar
    }

    /// Prints a line above the bars.
    pub fn line(&self, text: &str) {
        if self.terminal {
            let _ = self.multi.println(text);
        } else {
            eprintln!("{text}");
        }
    }

    /// Removes the bars.
    pub fn finish(&self) {
        self.overall.finish_and_clear();
    }
}
