//! `wasmhook serve`: load the config, build every tenant, watch for changes and serve until
//! Ctrl-C or SIGTERM (then drain).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;

use crate::app::App;
use crate::config::Config;

pub async fn serve(config: &Path, listen: Option<SocketAddr>) -> anyhow::Result<()> {
    let started = Instant::now();
    crate::http::connections::raise_descriptor_limit();
    let config = Config::load(config, listen)?;
    let app = Arc::new(App::load(&config)?);
    crate::reload::spawn(app.clone(), &config)?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    tracing::info!(
        address = %listener.local_addr()?,
        tenants = app.tenants().len(),
        max_connections = app.connection_limits.total,
        startup_ms = started.elapsed().as_millis() as u64,
        "wasmhook listening"
    );
    crate::http::serve(listener, app, shutdown_signal()).await;
    Ok(())
}

/// Completes on Ctrl-C or SIGTERM.
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
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! { () = ctrl_c => {}, () = terminate => {} }
}
