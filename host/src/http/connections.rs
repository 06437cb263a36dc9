//! Open connections: capped in total and per client address, idle ones closed first when full,
//! and all of them drained on shutdown.
//!
//! Draining takes two steps, so that a client keeping connections alive (a load balancer's pool,
//! or Okta behind an L4 Service) loses no call. First every connection's next answer says
//! `connection: close`: the client sends its following call on a new connection, which reaches
//! another replica, and the server closes the connection only after an answer, which no request
//! can race. After a grace period the connections still idle are closed (a client that sends on
//! a connection idle that long at that very moment is the one case left: keep its idle timeout
//! under the grace), and the requests still in flight finish.
//!
//! Idle connections cost a file descriptor each and nothing else, so a stranger can open
//! thousands without any credential. Without a cap they run the process out of descriptors and
//! Okta's next call cannot even be accepted. With the cap, a new connection that finds the
//! server full makes room by closing the longest-open *idle* connection (one not serving a
//! request: a client still sending its headers counts as idle); only when every connection is
//! busy is the new one refused. Okta, whose connections carry requests, is never the one closed
//! while it is being answered (a closed connection finishes its request first).

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

/// Descriptors kept free for everything that is not a client connection (listeners, rule and
/// config files, the JWKS client, the file watcher).
pub const RESERVED_DESCRIPTORS: u64 = 64;
/// Most connections by default, whatever the descriptor limit.
pub const DEFAULT_MAX_CONNECTIONS: usize = 16_384;

/// Raises the soft limit on open files to the hard limit (the soft default, often 1,024, is
/// far below what a server holding keep-alive connections needs) and returns the soft limit
/// now in force.
pub fn raise_descriptor_limit() -> u64 {
    #[cfg(target_os = "linux")]
    {
        use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
        let limit = getrlimit(Resource::Nofile);
        if limit.current < limit.maximum {
            let raised = Rlimit {
                current: limit.maximum,
                maximum: limit.maximum,
            };
            if let Err(error) = setrlimit(Resource::Nofile, raised) {
                tracing::warn!(%error, "cannot raise the open-file limit");
            }
        }
        descriptor_limit()
    }
    #[cfg(not(target_os = "linux"))]
    descriptor_limit()
}

/// The soft limit on open files (unlimited counts as `u64::MAX`).
pub fn descriptor_limit() -> u64 {
    #[cfg(target_os = "linux")]
    {
        rustix::process::getrlimit(rustix::process::Resource::Nofile)
            .current
            .unwrap_or(u64::MAX)
    }
    #[cfg(not(target_os = "linux"))]
    1024
}

/// How many connections may be open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    pub total: usize,
    pub per_client: usize,
}

impl ConnectionLimits {
    /// The configured limits, each defaulting to what the process's descriptor limit allows
    /// (the per-client limit defaults to the total: behind a proxy every connection comes from
    /// one address, and Okta itself calls from few).
    pub fn resolve(total: Option<usize>, per_client: Option<usize>, descriptors: u64) -> Self {
        let available = descriptors.saturating_sub(RESERVED_DESCRIPTORS).max(1);
        let total = total.unwrap_or_else(|| {
            usize::try_from(available)
                .map_or(DEFAULT_MAX_CONNECTIONS, |n| n.min(DEFAULT_MAX_CONNECTIONS))
        });
        ConnectionLimits {
            total,
            per_client: per_client.unwrap_or(total).min(total),
        }
    }
}

/// The open connections.
pub struct Connections {
    limits: ConnectionLimits,
    /// Set when the drain begins: answers then carry `connection: close`.
    draining: AtomicBool,
    state: Mutex<State>,
    /// Signalled whenever a connection closes, for the shutdown drain.
    closed: Notify,
}

#[derive(Default)]
struct State {
    /// By id, which grows with every connection: the first entries are the oldest.
    open: BTreeMap<u64, Entry>,
    per_client: HashMap<IpAddr, usize>,
    next_id: u64,
}

struct Entry {
    client: IpAddr,
    busy: Arc<AtomicBool>,
    close: Arc<Notify>,
}

/// Why a new connection is not admitted.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// The server is full and every connection is serving a request.
    Full,
    /// The client's own connections are at its limit and all serving requests.
    ClientFull,
}

/// A connection's place among the open ones; dropping it frees the place.
pub struct Admitted {
    /// The connections it is one of (its answers say `connection: close` while they drain).
    pub connections: Arc<Connections>,
    id: u64,
    /// Set while the connection serves a request.
    pub busy: Arc<AtomicBool>,
    /// Notified when the connection should close (to make room, or at shutdown).
    pub close: Arc<Notify>,
    /// Whether an idle connection was closed to make room for this one.
    pub evicted: bool,
}

impl Connections {
    pub fn new(limits: ConnectionLimits) -> Arc<Self> {
        Arc::new(Connections {
            limits,
            draining: AtomicBool::new(false),
            state: Mutex::default(),
            closed: Notify::new(),
        })
    }

    pub fn limits(&self) -> ConnectionLimits {
        self.limits
    }

    /// Admits a connection from `client`, first closing the oldest idle connection (of that
    /// client, when it is the client that is at its limit) if there is no room.
    pub fn admit(self: &Arc<Self>, client: IpAddr) -> Result<Admitted, Refused> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let from_client = state.per_client.get(&client).copied().unwrap_or(0);
        let evicted = if from_client >= self.limits.per_client {
            state.evict_idle(Some(client)).ok_or(Refused::ClientFull)?;
            true
        } else if state.open.len() >= self.limits.total {
            state.evict_idle(None).ok_or(Refused::Full)?;
            true
        } else {
            false
        };
        let id = state.next_id;
        state.next_id += 1;
        let busy = Arc::new(AtomicBool::new(false));
        let close = Arc::new(Notify::new());
        state.open.insert(
            id,
            Entry {
                client,
                busy: busy.clone(),
                close: close.clone(),
            },
        );
        *state.per_client.entry(client).or_default() += 1;
        Ok(Admitted {
            connections: self.clone(),
            id,
            busy,
            close,
            evicted,
        })
    }

    /// Connections open now.
    pub fn len(&self) -> usize {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .open
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drains every connection: their answers say `connection: close` from now on; after
    /// `grace`, those that are still open are asked to close once their request in flight (if
    /// any) is answered. Returns when all have closed.
    pub async fn drain(&self, grace: std::time::Duration) {
        self.draining.store(true, Ordering::Release);
        let _ = tokio::time::timeout(grace, self.closed_all()).await;
        loop {
            let closed = self.closed.notified();
            {
                let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
                if state.open.is_empty() {
                    return;
                }
                for entry in state.open.values() {
                    entry.close.notify_one();
                }
            }
            closed.await;
        }
    }

    /// Whether the drain has begun.
    pub fn draining(&self) -> bool {
        self.draining.load(Ordering::Acquire)
    }

    /// Returns once no connection is open.
    async fn closed_all(&self) {
        loop {
            let closed = self.closed.notified();
            if self.is_empty() {
                return;
            }
            closed.await;
        }
    }

    fn remove(&self, id: u64) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(entry) = state.open.remove(&id) {
            state.forget_client(entry.client);
        }
        drop(state);
        self.closed.notify_waiters();
    }
}

impl State {
    /// Closes the oldest idle connection (of `client`, if given) and stops counting it at once,
    /// so the new connection can take its place. `None` when every candidate is busy.
    fn evict_idle(&mut self, client: Option<IpAddr>) -> Option<()> {
        let id = self.open.iter().find_map(|(id, entry)| {
            let candidate = client.is_none_or(|client| entry.client == client);
            (candidate && !entry.busy.load(Ordering::Acquire)).then_some(*id)
        })?;
        let entry = self.open.remove(&id)?;
        entry.close.notify_one();
        self.forget_client(entry.client);
        Some(())
    }

    fn forget_client(&mut self, client: IpAddr) {
        if let Some(count) = self.per_client.get_mut(&client) {
            *count -= 1;
            if *count == 0 {
                self.per_client.remove(&client);
            }
        }
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        self.connections.remove(self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 2));

    fn limits(total: usize, per_client: usize) -> Arc<Connections> {
        Connections::new(ConnectionLimits { total, per_client })
    }

    #[test]
    fn a_full_server_closes_the_oldest_idle_connection_first() {
        let connections = limits(2, 2);
        let oldest = connections.admit(A).unwrap();
        let busy = connections.admit(B).unwrap();
        busy.busy.store(true, Ordering::Release);
        let newest = connections.admit(B).unwrap();
        assert_eq!(connections.len(), 2, "the idle one made room");
        // The oldest was asked to close: its notification is stored.
        futures_ready(oldest.close.notified());
        drop(oldest);
        assert_eq!(connections.len(), 2);
        newest.busy.store(true, Ordering::Release);
        assert!(
            matches!(connections.admit(A), Err(Refused::Full)),
            "all busy"
        );
    }

    #[test]
    fn a_client_at_its_limit_makes_room_only_among_its_own_connections() {
        let connections = limits(10, 1);
        let a = connections.admit(A).unwrap();
        let _b = connections.admit(B).unwrap();
        a.busy.store(true, Ordering::Release);
        assert!(matches!(connections.admit(A), Err(Refused::ClientFull)));
        a.busy.store(false, Ordering::Release);
        let _a2 = connections.admit(A).unwrap();
        assert_eq!(
            connections.len(),
            2,
            "A's idle connection was replaced, B's kept"
        );
    }

    #[test]
    fn limits_default_to_what_the_descriptors_allow() {
        let limits = ConnectionLimits::resolve(None, None, 1024);
        assert_eq!(limits.total, 1024 - RESERVED_DESCRIPTORS as usize);
        assert_eq!(limits.per_client, limits.total);
        let limits = ConnectionLimits::resolve(None, Some(50), 1 << 20);
        assert_eq!(
            (limits.total, limits.per_client),
            (DEFAULT_MAX_CONNECTIONS, 50)
        );
        assert_eq!(
            ConnectionLimits::resolve(Some(10), Some(50), 1024).per_client,
            10
        );
    }

    /// Asserts that `notified` completes at once (a stored notification).
    fn futures_ready(notified: tokio::sync::futures::Notified<'_>) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        runtime.block_on(async {
            tokio::time::timeout(std::time::Duration::from_millis(100), notified)
                .await
                .expect("the connection was asked to close");
        });
    }
}
