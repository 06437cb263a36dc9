//! Hot reload: when the configuration or a rule file changes (or on SIGHUP), build a complete new
//! tenant set off the request path and swap it in atomically.
//!
//! - **Never worse than before.** A file that fails to load leaves the last good version serving:
//!   a configuration that cannot be read or parsed changes nothing, and a tenant whose definition
//!   or rule fails keeps its previous version (see [`Tenants::rebuild`]). The error is logged with
//!   file and reason and shown by `GET /readyz`.
//! - **No dropped calls.** Calls in flight finish on the snapshot they started with; new calls see
//!   the new one. Compilation runs on the blocking pool, never on a request thread.
//! - **Watching that survives real deployments.** The watcher follows the *folders* holding the
//!   config and rule files, not the files, so that every way of replacing a file is seen: editors
//!   that write a temporary file and rename it, `cp` over the file, and the Kubernetes ConfigMap
//!   layout, where the files are symlinks through a `..data` symlink that is swapped atomically.
//!   Bursts of events are coalesced into one reload.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use notify::event::{AccessKind, AccessMode, EventKind, ModifyKind};
use notify::{RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::mpsc;

use crate::app::{App, ReloadOutcome};
use crate::config::{Config, ConfigError};
use crate::tenant::{Route, Tenants};

/// How long to wait after the first change before reloading, so a burst of events (a `cp`, a
/// ConfigMap swap, an editor's save) becomes one reload.
const SETTLE: Duration = Duration::from_millis(50);

/// Why a reload runs, for its first log line.
#[derive(Debug, Clone)]
pub enum Cause {
    /// SIGHUP.
    Signal,
    /// These watched files changed (or a ConfigMap's `..data` link was swapped).
    Changed(BTreeSet<PathBuf>),
}

impl Cause {
    /// Two causes seen within one settle period, as one.
    fn merge(self, other: Cause) -> Cause {
        match (self, other) {
            (Cause::Changed(mut a), Cause::Changed(b)) => {
                a.extend(b);
                Cause::Changed(a)
            }
            (Cause::Changed(files), Cause::Signal) | (Cause::Signal, Cause::Changed(files)) => {
                Cause::Changed(files)
            }
            (Cause::Signal, Cause::Signal) => Cause::Signal,
        }
    }
}

impl std::fmt::Display for Cause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Cause::Signal => f.write_str("SIGHUP"),
            Cause::Changed(files) => {
                let names: Vec<_> = files
                    .iter()
                    .map(|file| file.display().to_string())
                    .collect();
                write!(f, "changed: {}", names.join(", "))
            }
        }
    }
}

/// Reloads `app` from its configuration file. Returns the configuration that was applied, or why
/// the file as a whole could not be loaded (the previous version keeps serving). Logs when it
/// starts (and why), each route that now serves another rule version, and how it ended.
pub async fn reload(app: &Arc<App>, cause: Cause) -> Result<Config, ConfigError> {
    let _one_at_a_time = app.reloading.lock().await;
    tracing::info!(%cause, "reloading the configuration");
    let started = Instant::now();
    let previous = app.tenants();
    let file = app.config_file.clone();
    let config = tokio::task::spawn_blocking(move || Config::load_lenient(&file, None))
        .await
        .expect("reading a configuration does not panic");
    let built = match config {
        Ok(config) => {
            let pulled = app.registry.pull_all(&config).await;
            let (building, kept) = (app.clone(), previous.clone());
            tokio::task::spawn_blocking(move || {
                let tenants = Tenants::rebuild(&config, &building.runtime, &pulled, &kept);
                Ok((config, tenants))
            })
            .await
            .expect("building a tenant set does not panic")
        }
        Err(error) => Err(error),
    };

    let outcome = built.map(|(config, tenants)| {
        let mut file_listen = app.file_listen.lock().unwrap_or_else(|e| e.into_inner());
        if config.file_listen != *file_listen {
            tracing::warn!(listen = %config.file_listen, "a new listen address takes effect at restart");
            *file_listen = config.file_listen;
        }
        drop(file_listen);
        for (tenant, errors) in &tenants.errors {
            for error in errors {
                tracing::error!(tenant, %error, "tenant failed to load; its previous version (if any) keeps serving");
            }
        }
        let (serving, failed) = (tenants.len(), tenants.errors.len());
        app.swap(tenants);
        // After the swap, so that what a line says is already what `/readyz` shows and serves.
        log_changes(&previous, &app.tenants());
        reload_tls(app, &config);
        if let Err(error) = crate::events::configure(app, &config) {
            tracing::error!(%error, "event routes loaded, but their deliveries get 503 until the queue opens");
        }
        (config, serving, failed)
    });
    // The outcome is visible in `/readyz` before the line that says the reload ended.
    let error = outcome.as_ref().err().map(ToString::to_string);
    *app.last_reload.lock().unwrap_or_else(|e| e.into_inner()) = Some(ReloadOutcome {
        at: SystemTime::now(),
        error,
    });
    match outcome {
        Ok((config, serving, failed)) => {
            let elapsed_ms = started.elapsed().as_secs_f64() * 1e3;
            tracing::info!(serving, failed, elapsed_ms, "configuration reloaded");
            app.metrics.reload(failed == 0);
            Ok(config)
        }
        Err(error) => {
            tracing::error!(%error, "reload failed; the previous configuration keeps serving");
            app.metrics.reload(false);
            Err(error)
        }
    }
}

/// Reads the hook listener's certificate and key again: a new pair serves from the next
/// handshake on, a broken one is logged and shown, and the old pair keeps serving.
fn reload_tls(app: &App, config: &Config) {
    match (&app.tls, &config.tls) {
        (Some(certificates), Some(files)) => match certificates.reload(files) {
            Ok(true) => {
                tracing::info!(certificate = %files.cert.display(), "TLS certificate replaced; new connections get it")
            }
            Ok(false) => {}
            Err(error) => {
                tracing::error!(%error, "TLS certificate not replaced; the previous one keeps serving")
            }
        },
        (None, Some(_)) => {
            tracing::warn!("[tls] takes effect at restart; the listener stays plain HTTP")
        }
        (Some(_), None) => {
            tracing::warn!("removing [tls] takes effect at restart; the listener stays HTTPS")
        }
        (None, None) => {}
    }
}

/// One line per route whose rule (by content) changed, was added or went away, and per tenant
/// removed, so an operator sees exactly what a reload deployed: old → new sha256.
fn log_changes(previous: &Tenants, next: &Tenants) {
    let key = |route: &Route| (route.event_type.clone(), route.request_type.clone());
    for tenant in next.iter() {
        let old = previous.get(&tenant.id);
        if old.is_some_and(|old| Arc::ptr_eq(old, tenant)) {
            continue;
        }
        let old_routes = old.into_iter().flat_map(|old| old.routes.iter());
        let mut old_routes: HashMap<_, &Route> = old_routes.map(|r| (key(r), r)).collect();
        for route in tenant.routes.iter() {
            let was = old_routes.remove(&key(route));
            let old_sha256 = was.map_or("none", |r| r.rule.sha256.as_str());
            if old_sha256 != route.rule.sha256
                || was.is_some_and(|r| r.rule_source != route.rule_source)
            {
                tracing::info!(
                    tenant = %tenant.id,
                    route = %route.label(),
                    rule = %route.rule_source,
                    digest = route.rule_digest.as_deref(),
                    old_sha256,
                    new_sha256 = %route.rule.sha256,
                    "route serves a new rule version"
                );
            }
        }
        for gone in old_routes.values() {
            tracing::info!(tenant = %tenant.id, route = %gone.label(), "route removed");
        }
    }
    for tenant in previous.iter() {
        if next.get(&tenant.id).is_none() {
            tracing::info!(tenant = %tenant.id, "tenant removed");
        }
    }
}

/// Starts reloading `app` on SIGHUP and, if `config.watch`, whenever one of its files changes.
pub fn spawn(app: Arc<App>, config: &Config) -> anyhow::Result<()> {
    let (changed, mut changes) = mpsc::unbounded_channel();
    #[cfg(unix)]
    {
        let changed = changed.clone();
        let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
        tokio::spawn(async move {
            while hangup.recv().await.is_some() && changed.send(Cause::Signal).is_ok() {}
        });
    }
    let mut watch = if config.watch {
        Some(FileWatch::new(changed)?)
    } else {
        None
    };
    if let Some(watch) = &mut watch {
        watch.follow(config);
    }
    tokio::spawn(async move {
        while let Some(mut cause) = changes.recv().await {
            tokio::time::sleep(SETTLE).await;
            while let Ok(more) = changes.try_recv() {
                cause = cause.merge(more);
            }
            if let (Ok(config), Some(watch)) = (reload(&app, cause).await, &mut watch) {
                watch.follow(&config);
            }
        }
    });
    Ok(())
}

/// A filesystem watcher on the folders of the config and rule files, reporting changes to the
/// files themselves (or to a ConfigMap's `..data` link) on a channel.
struct FileWatch {
    watcher: RecommendedWatcher,
    folders: BTreeSet<PathBuf>,
    /// The files whose changes matter, under every name they are reached by.
    files: Arc<Mutex<HashSet<PathBuf>>>,
}

impl FileWatch {
    fn new(changed: mpsc::UnboundedSender<Cause>) -> notify::Result<FileWatch> {
        let files: Arc<Mutex<HashSet<PathBuf>>> = Arc::default();
        let relevant = files.clone();
        let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            let Ok(event) = event else { return };
            let writes = matches!(
                event.kind,
                EventKind::Create(_)
                    | EventKind::Remove(_)
                    | EventKind::Modify(
                        ModifyKind::Data(_) | ModifyKind::Name(_) | ModifyKind::Any
                    )
                    | EventKind::Access(AccessKind::Close(AccessMode::Write))
            );
            let files = relevant.lock().unwrap_or_else(|e| e.into_inner());
            let ours: BTreeSet<PathBuf> = event
                .paths
                .into_iter()
                .filter(|path| {
                    files.contains(path)
                        || path
                            .file_name()
                            .is_some_and(|name| name.to_string_lossy().starts_with(".."))
                })
                .collect();
            if writes && !ours.is_empty() {
                let _ = changed.send(Cause::Changed(ours));
            }
        })?;
        Ok(FileWatch {
            watcher,
            folders: BTreeSet::new(),
            files,
        })
    }

    /// Watches the folders of `config`'s file, its rule files and TLS files (and of their symlink
    /// targets).
    fn follow(&mut self, config: &Config) {
        let rules = config
            .tenants
            .iter()
            .flat_map(|t| &t.routes)
            .flat_map(|r| std::iter::once(&r.rule).chain(r.shadow.as_ref().map(|s| &s.rule)))
            .filter_map(|source| source.file().map(ToOwned::to_owned));
        let tls = config
            .tls
            .iter()
            .flat_map(|tls| [tls.cert.clone(), tls.key.clone()]);
        let mut files = HashSet::new();
        for file in std::iter::once(config.file.clone()).chain(rules).chain(tls) {
            if let Ok(target) = file.canonicalize() {
                files.insert(target);
            }
            files.insert(file);
        }
        let folders: BTreeSet<PathBuf> = files
            .iter()
            .filter_map(|file| file.parent().map(Path::to_path_buf))
            .collect();
        for gone in self.folders.difference(&folders) {
            let _ = self.watcher.unwatch(gone);
        }
        for new in folders.difference(&self.folders) {
            if let Err(error) = self.watcher.watch(new, RecursiveMode::NonRecursive) {
                tracing::warn!(folder = %new.display(), %error, "cannot watch for changes");
            }
        }
        self.folders = folders;
        *self.files.lock().unwrap_or_else(|e| e.into_inner()) = files;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causes_seen_within_one_settle_period_become_one_naming_every_file() {
        let changed = |name: &str| Cause::Changed(BTreeSet::from([PathBuf::from(name)]));
        let merged = changed("/c/rule.wasm")
            .merge(Cause::Signal)
            .merge(changed("/c/config.toml"));
        assert_eq!(merged.to_string(), "changed: /c/config.toml, /c/rule.wasm");
        assert_eq!(Cause::Signal.merge(Cause::Signal).to_string(), "SIGHUP");
    }
}
