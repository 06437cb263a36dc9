//! `wasmhook serve`: load the config, build every tenant, watch for changes and serve until
//! Ctrl-C or SIGTERM (then drain).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;

use crate::app::App;
use crate::config::Config;
use crate::http::Endpoints;

pub async fn serve(
    config: &Path,
    listen: Option<SocketAddr>,
    admin_listen: Option<SocketAddr>,
) -> anyhow::Result<()> {
    let started = Instant::now();
    crate::http::connections::raise_descriptor_limit();
    let config = Config::load(config, listen)?;
    let app = Arc::new(App::load(&config).await?);
    crate::events::configure(&app, &config)?;
    crate::reload::spawn(app.clone(), &config)?;
    let bind = |address: SocketAddr| async move {
        tokio::net::TcpListener::bind(address)
            .await
            .with_context(|| format!("cannot listen on {address}"))
    };
    let listener = bind(config.listen).await?;
    let admin = match admin_listen.or(config.admin_listen) {
        Some(address) => Some(bind(address).await?),
        None => None,
    };
    if let Some(admin) = &admin {
        tracing::info!(address = %admin.local_addr()?, "admin listening: /metrics and the detailed status");
    }
    tracing::info!(
        address = %listener.local_addr()?,
        tenants = app.tenants().len(),
        max_connections = app.connection_limits.total,
        startup_ms = started.elapsed().as_millis() as u64,
        "wasmhook listening"
    );
    // One shutdown signal for both listeners.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = stop.send(true);
    });
    let until_stopped = |mut stopped: tokio::sync::watch::Receiver<bool>| async move {
        let _ = stopped.wait_for(|stop| *stop).await;
    };
    match admin {
        None => {
            let endpoints = Endpoints::All;
            crate::http::serve_as(listener, app, endpoints, until_stopped(stopped)).await;
        }
        Some(admin) => {
            tokio::join!(
                crate::http::serve_as(
                    listener,
                    app.clone(),
                    Endpoints::Public,
                    until_stopped(stopped.clone())
                ),
                crate::http::serve_as(admin, app, Endpoints::Admin, until_stopped(stopped)),
            );
        }
    }
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
