//! `txlake`: the command-line tool of txlake, the Total Experience (CX + EX) data platform.
//!
//! Each subcommand lives in its own module under [`commands`]; this file only parses the
//! command line, sets up logging and dispatches.

mod cli;
mod commands;
mod logging;
mod progress;

use clap::Parser as _;

/// mimalloc rather than glibc malloc: a sync allocates and frees large page and column buffers
/// on many threads, which glibc answers with page faults and contended frees; mimalloc made
/// `txlake bench connector` about 7 % faster. Its arena commits on use (`.cargo/config.toml`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    logging::init(cli.log_format, cli.quiet);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
