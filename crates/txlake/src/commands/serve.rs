//! `txlake serve`: the REST API over the configured lake until Ctrl-C or SIGTERM.

use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::{Context as _, anyhow};
use txlake_server::AppState;
use txlake_sync::TxlakeConfig;

/// Serves the API of the lake in `config_path`.
pub async fn run(config: &crate::cli::ConfigArg, listen: Option<&str>) -> anyhow::Result<ExitCode> {
    let config = config.load()?;
    serve(config, listen, None).await
}

/// Serves `config`'s lake on `listen` (or `[server] listen`); `banner` is printed once the
/// server listens.
pub async fn serve(
    config: TxlakeConfig,
    listen: Option<&str>,
    banner: Option<&dyn Fn(SocketAddr)>,
) -> anyhow::Result<ExitCode> {
    let listen = listen.unwrap_or(&config.server.listen).to_string();
    let address: SocketAddr = tokio::net::lookup_host(&listen)
        .await
        .with_context(|| {
            format!("cannot resolve the listen address `{listen}` (expected host:port, e.g. 127.0.0.1:8080)")
        })?
        .next()
        .ok_or_else(|| anyhow!("the listen address `{listen}` resolves to nothing"))?;
    txlake_server::check_listen(&address, !config.auth.keys.is_empty()).map_err(|e| anyhow!(e))?;
    let state = AppState::open(config).await?;
    let listener = tokio::net::TcpListener::bind(address).await.with_context(|| {
        format!("cannot listen on {address} (is another server using the port? try --listen 127.0.0.1:8081)")
    })?;
    let bound = listener.local_addr()?;
    match banner {
        Some(banner) => banner(bound),
        None => {
            let mode = if state.keys.is_empty() { " (local mode: no API keys, loopback only)" } else { "" };
            println!("txlake on http://{bound}{mode}: the console at http://{bound}/, API reference at http://{bound}/docs");
        }
    }
    tracing::info!(address = %bound, "serving");
    txlake_server::serve(state, listener, shutdown_signal()).await.context("the server stopped on an error")?;
    println!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// Ctrl-C or SIGTERM (what Kubernetes sends before it stops a pod).
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}
