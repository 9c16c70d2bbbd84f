//! Shows a running sync: progress bars on a terminal, plain log lines elsewhere (CI, cron,
//! Kubernetes jobs), nothing with `--quiet`.

use std::collections::BTreeMap;
use std::io::IsTerminal as _;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::Value;
use txlake_connector::{LogLevel, StreamMode};
use txlake_lake::{CommitSummary, RunRecord};
use txlake_sync::Observer;

/// The sync observer of the CLI.
pub struct SyncProgress {
    connection: String,
    bars: Option<Bars>,
    quiet: bool,
    last_percent: Mutex<u64>,
}

struct Bars {
    multi: MultiProgress,
    overall: ProgressBar,
    streams: Mutex<BTreeMap<String, ProgressBar>>,
}

impl SyncProgress {
    /// Bars when stderr is a terminal (and not quiet), log lines otherwise.
    pub fn new(connection: &str, quiet: bool) -> Self {
        let bars = (!quiet && std::io::stderr().is_terminal()).then(|| {
            let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(8));
            let overall = multi.add(ProgressBar::new(0));
            overall.set_style(
                ProgressStyle::with_template("{prefix:.bold} [{bar:30}] {pos}/{len} {msg} ({elapsed})")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            overall.set_prefix(connection.to_string());
            overall.set_message("reading");
            Bars { multi, overall, streams: Mutex::new(BTreeMap::new()) }
        });
        Self { connection: connection.to_string(), bars, quiet, last_percent: Mutex::new(0) }
    }

    /// Removes the bars once the run is over.
    pub fn finish(&self) {
        if let Some(bars) = &self.bars {
            bars.overall.finish_and_clear();
            for bar in bars.streams.lock().unwrap_or_else(|p| p.into_inner()).values() {
                bar.finish_and_clear();
            }
            let _ = bars.multi.clear();
        }
    }
}

impl Observer for SyncProgress {
    fn stream_started(&self, connection: &str, stream: &str, mode: StreamMode, resume_from: Option<&Value>) {
        let resumed = resume_from.map(|s| format!(", resuming from {s}")).unwrap_or_default();
        if let Some(bars) = &self.bars {
            let bar = bars.multi.add(ProgressBar::new_spinner());
            bar.set_style(
                ProgressStyle::with_template("  {spinner} {prefix:<20} {human_pos:>12} records {rate:>10}  {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner())
                    .with_key("rate", |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                        let _ = write!(w, "{:.0}/s", state.per_sec());
                    }),
            );
            bar.set_prefix(stream.to_string());
            bar.set_message(format!("{mode}{resumed}"));
            bar.enable_steady_tick(Duration::from_millis(250));
            bars.streams.lock().unwrap_or_else(|p| p.into_inner()).insert(stream.to_string(), bar);
        } else if !self.quiet {
            tracing::info!("{connection}.{stream}: {mode}{resumed}");
        }
    }

    fn records(&self, stream: &str, rows: u64) {
        if let Some(bars) = &self.bars
            && let Some(bar) = bars.streams.lock().unwrap_or_else(|p| p.into_inner()).get(stream)
        {
            bar.inc(rows);
        }
    }

    fn committed(&self, stream: &str, summary: &CommitSummary) {
        if self.bars.is_none() && !self.quiet {
            tracing::info!(
                "{}.{stream}: committed version {} ({} records)",
                self.connection,
                summary.version,
                summary.rows
            );
        }
    }

    fn log(&self, level: LogLevel, message: &str) {
        match (&self.bars, level) {
            (Some(bars), LogLevel::Warn | LogLevel::Info) => {
                let _ = bars.multi.println(format!("{}: {message}", self.connection));
            }
            (None, LogLevel::Warn) => tracing::warn!("{}: {message}", self.connection),
            (None, LogLevel::Info) => tracing::info!("{}: {message}", self.connection),
            (_, LogLevel::Debug) => tracing::debug!("{}: {message}", self.connection),
        }
    }

    fn progress(&self, done: u64, total: Option<u64>) {
        if let Some(bars) = &self.bars {
            if let Some(total) = total {
                bars.overall.set_length(total);
            }
            bars.overall.set_position(done);
        } else if let Some(total) = total.filter(|t| *t > 0) {
            let percent = done * 100 / total;
            let mut last = self.last_percent.lock().unwrap_or_else(|p| p.into_inner());
            if percent >= *last + 10 && !self.quiet {
                *last = percent - percent % 10;
                tracing::info!("{}: {percent}% read ({done}/{total})", self.connection);
            }
        }
    }

    fn stream_finished(&self, record: &RunRecord) {
        if let Some(bars) = &self.bars
            && let Some(bar) = bars.streams.lock().unwrap_or_else(|p| p.into_inner()).get(&record.stream)
        {
            bar.set_message(record.status.to_string());
        }
    }
}
