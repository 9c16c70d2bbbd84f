//! Log lines on stderr through `tracing`: human text or JSON, `RUST_LOG` to override.

use std::io::IsTerminal as _;

use tracing_subscriber::EnvFilter;

use crate::cli::LogFormat;

/// Installs the global subscriber. On a terminal only warnings show (progress bars tell the
/// rest); elsewhere (CI, containers) info lines do.
pub fn init(format: LogFormat, quiet: bool) {
    let default = if quiet {
        "error"
    } else if std::io::stderr().is_terminal() {
        "warn"
    } else {
        "warn,txlake=info,txlake_sync=info,txlake_lake=info"
    };
    // The Delta kernel logs an ERROR when probing a table that does not exist yet, which is
    // normal for a first sync, and delta-rs warns about its own MERGE metrics; real failures
    // reach the user through our own errors.
    let default = format!("{default},delta_kernel=off,buoyant_kernel=off,deltalake_core=error");
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    match format {
        LogFormat::Text => builder.with_target(false).init(),
        LogFormat::Json => builder.json().init(),
    }
}
