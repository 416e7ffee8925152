//! What the parts of a running controller share: the [`App`] (the database, this
//! controller's id and lease, the registry of its live connections) and a
//! connection's [`Handle`].

use crate::db::Db;
use crate::util::new_id;
use ksocket_proto::messages::Close;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

/// One connection of this controller, as the others see it.
pub struct Handle {
    pub conn_id: String,
    /// Operations may be waiting for this agent.
    pub wake: Notify,
    /// Close now, with [`Handle::stop_code`].
    pub stop: Notify,
    pub stop_code: AtomicU16,
    /// When it was registered (the lease check leaves newer ones alone).
    pub since: std::time::Instant,
}

impl Handle {
    pub fn new(conn_id: String) -> Handle {
        Handle {
            conn_id,
            wake: Notify::new(),
            stop: Notify::new(),
            stop_code: AtomicU16::new(0),
            since: std::time::Instant::now(),
        }
    }

    pub fn stop_with(&self, c: Close) {
        self.stop_code.store(c.code(), Ordering::SeqCst);
        self.stop.notify_one();
    }
}

pub struct App {
    pub db: Db,
    /// This process, in the leases it holds.
    pub controller_id: String,
    pub lease_ms: i64,
    /// The live connections of this controller, by token name.
    registry: Mutex<HashMap<String, Arc<Handle>>>,
    /// Run the lease check now (a NOTIFY said a slot moved).
    pub lease_check: Notify,
}

impl App {
    pub fn new(db: Db, lease_seconds: u64) -> App {
        App {
            db,
            controller_id: new_id("ctl"),
            lease_ms: i64::try_from(lease_seconds.saturating_mul(1000)).unwrap_or(i64::MAX),
            registry: Mutex::new(HashMap::new()),
            lease_check: Notify::new(),
        }
    }

    fn reg(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Handle>>> {
        self.registry.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers a connection that took the slot of `token`; a previous connection
    /// of this controller for the same token is told it was replaced.
    pub fn register(&self, token: &str, h: Arc<Handle>) {
        let old = self.reg().insert(token.to_string(), h);
        if let Some(old) = old {
            old.stop_with(Close::Replaced);
        }
    }

    pub fn unregister(&self, token: &str, conn_id: &str) {
        let mut r = self.reg();
        if r.get(token).is_some_and(|h| h.conn_id == conn_id) {
            r.remove(token);
        }
    }

    /// Wakes the connection of `agent` on this controller, if any.
    pub fn wake(&self, agent: &str) {
        if let Some(h) = self.reg().get(agent) {
            h.wake.notify_one();
        }
    }

    pub fn connections(&self) -> usize {
        self.reg().len()
    }

    /// Closes the connections of this controller whose lease moved elsewhere (4002)
    /// or whose token was revoked (4101).
    pub async fn check_leases(&self) {
        let started = std::time::Instant::now();
        let held = match self.db.leases_of(&self.controller_id).await {
            Ok(h) => h,
            Err(e) => {
                eprintln!("lease check: {e}");
                return;
            }
        };
        let held: HashSet<(String, String)> = held.into_iter().collect();
        let stale: Vec<(String, Arc<Handle>)> = self
            .reg()
            .iter()
            .filter(|(t, h)| {
                h.since < started && !held.contains(&((*t).clone(), h.conn_id.clone()))
            })
            .map(|(t, h)| (t.clone(), h.clone()))
            .collect();
        for (token, h) in stale {
            let revoked = matches!(
                self.db.token_by_name(&token).await,
                Ok(Some(t)) if t.revoked.is_some()
            );
            h.stop_with(if revoked {
                Close::Revoked
            } else {
                Close::Replaced
            });
        }
    }
}
