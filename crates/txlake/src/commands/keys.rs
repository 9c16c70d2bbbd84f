//! `txlake keys create`: a new API key, printed once, and the config lines that accept it.

use std::process::ExitCode;

use anyhow::anyhow;
use txlake_server::auth::{Role, config_snippet, generate_key};

use crate::cli::KeysCommand;

/// Runs a `keys` subcommand.
pub fn run(command: KeysCommand) -> anyhow::Result<ExitCode> {
    match command {
        KeysCommand::Create { name, role } => {
            let role: Role = role.parse().map_err(|e| anyhow!("--role: {e}"))?;
            let key = generate_key();
            println!("API key for {name} ({role:?}, shown once; store it in a password manager or a secret):");
            println!();
            println!("  {}", key.key);
            println!();
            println!("Add these lines to txlake.toml (only the key's SHA-256 is stored) and restart `txlake serve`:");
            println!();
            print!("{}", config_snippet(&name, role, &key.sha256));
            Ok(ExitCode::SUCCESS)
        }
    }
}
