//! `txlake bench console`: the web console's speed on the quickstart lake. Each run starts a
//! fresh `txlake serve` (this binary) and, in headless Chromium, times from the moment the
//! process was spawned: the server answering, the scorecard's first contentful paint, and the
//! scorecard showing its numbers (median and range beside the 1 s target); then the size of
//! what the scorecard loads and of every console asset, raw and gzip-compressed (target
//! 500 kB). The browser side is `tests/browser/bench.js`, run through `tests/browser/run.sh`
//! (which installs Debian's chromium and playwright-core on first use).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, bail};

use super::bench::bench_dir;
use super::{init, sync};
use crate::cli::ConfigArg;

/// The browser tests' runner, relative to the repository's root.
const RUN_SCRIPT: &str = "tests/browser/run.sh";

/// Benchmarks the console over `lake` (a folder with a `txlake.toml`, or the quickstart's
/// config and sample world synced there first; default: a temporary folder), `runs` cold starts.
pub async fn run(lake: Option<PathBuf>, runs: usize) -> anyhow::Result<ExitCode> {
    if runs == 0 {
        bail!("--runs must be at least 1");
    }
    let script = [PathBuf::from(RUN_SCRIPT), Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(RUN_SCRIPT)]
        .into_iter()
        .find(|p| p.is_file())
        .ok_or_else(|| {
            anyhow::anyhow!(
                "the console benchmark needs {RUN_SCRIPT} from the txlake repository: run it from the repository's root"
            )
        })?;
    let (dir, temporary) = bench_dir(lake, "console")?;
    // The server and the browser run from elsewhere: give them absolute paths.
    let dir = dir.canonicalize().with_context(|| format!("cannot resolve {}", dir.display()))?;
    let config = dir.join("txlake.toml");
    if !config.exists() {
        init::write_config(&dir, false)?;
        println!("bench console: the quickstart's sample world → {}", dir.join("lake").display());
    }
    if !dir.join("lake").exists() {
        let code = sync::run(&ConfigArg::file(&config), &[], false, true).await?;
        if code != ExitCode::SUCCESS {
            bail!("the sample sync failed");
        }
    }
    let binary = std::env::current_exe().context("cannot find the txlake binary itself")?;
    let build = if cfg!(debug_assertions) { "debug" } else { "release" };
    if build == "debug" {
        println!("note: a debug build; build with --release for figures worth reporting");
    }
    let status = tokio::process::Command::new("bash")
        .arg(&script)
        .arg("--bench")
        .arg("--txlake")
        .arg(&binary)
        .arg("--config")
        .arg(&config)
        .args(["--runs", &runs.to_string(), "--build", build])
        .status()
        .await
        .with_context(|| format!("could not run {}", script.display()))?;
    if temporary {
        let _ = std::fs::remove_dir_all(&dir);
    }
    if !status.success() {
        bail!("{} --bench failed ({status})", script.display());
    }
    Ok(ExitCode::SUCCESS)
}
