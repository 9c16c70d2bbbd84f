//! `txlake init`: a starter configuration.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context as _, bail};

/// The starter configuration: a `demo` connection on the sample connector.
pub const STARTER_CONFIG: &str = r#"# txlake configuration. Reference: README.md, "Configuration".
# Any value may use ${ENV_VAR} (or ${ENV_VAR:-default}) so secrets stay out of this file.

[lake]
# file://./lake is relative to this file; also s3://bucket/prefix (AWS_* env vars or options).
url = "file://./lake"

[sync]
# A stream commits at a connector checkpoint once one of these is reached, and at the end.
commit_rows = 1000000
commit_interval_secs = 60

# A deterministic sample TX world: customers, employees, deals, tickets, surveys, journeys,
# courses and enrolments. `txlake connectors spec sample` lists every option.
[connections.demo]
connector = "sample"
config = { customers = 5000, employees = 200, days = 365, seed = 42 }
"#;

/// Writes `dir/txlake.toml`.
pub fn run(dir: &Path, force: bool) -> anyhow::Result<ExitCode> {
    let path = write_config(dir, force)?;
    println!("Wrote {}", path.display());
    println!();
    println!("Next:");
    let config = if dir == Path::new(".") { String::new() } else { format!(" --config {}", path.display()) };
    println!("  txlake sync{config}                      # load the sample data into the lake");
    println!("  txlake query{config} \"SELECT * FROM demo.tickets LIMIT 5\"");
    Ok(ExitCode::SUCCESS)
}

/// Writes the starter config into `dir`, refusing to overwrite unless `force`.
pub fn write_config(dir: &Path, force: bool) -> anyhow::Result<std::path::PathBuf> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create folder {}", dir.display()))?;
    let path = dir.join("txlake.toml");
    if path.exists() && !force {
        bail!("{} already exists; edit it, or run `txlake init --force` to overwrite it", path.display());
    }
    std::fs::write(&path, STARTER_CONFIG).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}
