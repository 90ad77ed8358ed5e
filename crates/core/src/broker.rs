//! The broker: its virtual hosts and the limits every connection shares.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use parking_lot::RwLock;
use warren_amqp::ShortStr;

use crate::consumer::ConnectionId;
use crate::definitions::Definitions;
use crate::durable::{parse_queue_key, Durability};
use crate::vhost::VHost;

/// Limits and defaults the protocol layer negotiates with.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest frame we accept and offer in connection.tune (bytes, including frame overhead).
    pub frame_max: u32,
    pub channel_max: u16,
    /// Heartbeat interval we propose (seconds; 0 = off).
    pub heartbeat: u16,
    /// Largest message body accepted (406 above it).
    pub max_message_size: u64,
    /// A delivery unacked for longer closes its channel with 406 (ms; 0 = never). Queues
    /// override it with `x-consumer-timeout`. RabbitMQ's default: 30 minutes.
    pub consumer_timeout_ms: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            frame_max: 131_072,
            channel_max: 2047,
            heartbeat: 60,
            max_message_size: 16 * 1024 * 1024,
            consumer_timeout_ms: 30 * 60 * 1000,
        }
    }
}

#[derive(Debug)]
pub struct Broker {
    pub limits: Limits,
    vhosts: RwLock<HashMap<String, Arc<VHost>>>,
    next_connection: AtomicU64,
    durability: Arc<OnceLock<Arc<Durability>>>,
    /// A resource alarm (memory or disk) in force, with its reason; publishers are blocked.
    alarm: tokio::sync::watch::Sender<Option<String>>,
    /// Woken when connections have read a lot since the resource monitor's last sample
    /// (`Broker::memory_grew`), so a flood meets the watermark at once, not at the next tick.
    memory_grew: tokio::sync::Notify,
    /// Where durable definitions are saved, and the lock that orders durable changes
    /// (`definitions_file.rs`).
    pub(crate) definitions_file: crate::definitions_file::DefinitionsFile,
    /// The open connections (management API, metrics).
    pub connections: crate::registry::ConnectionRegistry,
    /// Channel and queue churn since start (Prometheus metrics).
    pub churn: Arc<crate::stats::Churn>,
    /// Users, passwords, permissions (exported with the definitions).
    auth: warren_auth::AuthDb,
    /// Verifies JWT access tokens, when `[jwt]` is configured.
    jwt: RwLock<Option<Arc<warren_auth::JwtVerifier>>>,
    /// Runtime parameters (vhost limits, federation upstreams, shovels, cluster name...).
    parameters: crate::parameters::Parameters,
}

impl Broker {
    /// A broker with the default vhost "/".
    pub fn new(limits: Limits) -> Broker {
        let b = Broker {
            limits,
            vhosts: RwLock::new(HashMap::new()),
            next_connection: AtomicU64::new(1),
            definitions_file: Default::default(),
            durability: Arc::new(OnceLock::new()),
            alarm: tokio::sync::watch::channel(None).0,
            memory_grew: tokio::sync::Notify::new(),
            connections: Default::default(),
            churn: Default::default(),
            auth: warren_auth::AuthDb::with_default_user(),
            jwt: RwLock::new(None),
            parameters: Default::default(),
        };
        b.add_vhost("/");
        b
    }

    /// The user database (a fresh broker has RabbitMQ's `guest`/`guest`, loopback only).
    pub fn auth(&self) -> &warren_auth::AuthDb {
        &self.auth
    }

    /// The runtime parameters (see [`crate::parameters`]).
    pub fn parameters(&self) -> &crate::parameters::Parameters {
        &self.parameters
    }

    /// The JWT verifier, if tokens are accepted.
    pub fn jwt_verifier(&self) -> Option<Arc<warren_auth::JwtVerifier>> {
        self.jwt.read().clone()
    }

    pub fn set_jwt_verifier(&self, v: Option<Arc<warren_auth::JwtVerifier>>) {
        *self.jwt.write() = v;
    }

    /// Deletes a vhost with everything in it: its queues (and their messages), exchanges,
    /// bindings and the permissions users had there. Connections open on it are closed by
    /// their connection task (320, "vhost 'x' is deleted"). Returns false if there was no
    /// such vhost. The definitions file loses the vhost first: if it cannot be written,
    /// nothing is deleted (541).
    pub fn delete_vhost(&self, name: &str) -> crate::Result<bool> {
        self.remove_durably(crate::definitions_file::Gone::Vhost(name), || {
            Ok(self.delete_vhost_unsaved(name))
        })
    }

    /// [`Broker::delete_vhost`] without saving the definitions file (start-up, before it is
    /// set; an undo of a vhost creation that could not be saved).
    pub fn delete_vhost_unsaved(&self, name: &str) -> bool {
        let Some(v) = self.vhosts.write().remove(name) else {
            return false;
        };
        v.mark_deleted();
        for q in v.queues() {
            let _ = v.remove_queue(&q, false, false);
        }
        self.auth.delete_vhost(name);
        self.parameters.clear_vhost(name);
        tracing::info!("vhost '{name}' deleted");
        true
    }

    pub fn add_vhost(&self, name: &str) -> Arc<VHost> {
        let mut map = self.vhosts.write();
        map.entry(name.to_string())
            .or_insert_with(|| {
                let n = ShortStr::try_from(name).unwrap_or_else(|_| ShortStr::from_static("/"));
                VHost::new(n, self.durability.clone(), self.churn.clone())
            })
            .clone()
    }

    pub fn vhost(&self, name: &str) -> Option<Arc<VHost>> {
        self.vhosts.read().get(name).cloned()
    }

    pub fn vhosts(&self) -> Vec<Arc<VHost>> {
        self.vhosts.read().values().cloned().collect()
    }

    /// The users and parameters sections, for an export.
    pub(crate) fn retained_definitions(&self) -> Definitions {
        let (parameters, global_parameters) = self.export_parameters();
        Definitions {
            users: self.auth.users(),
            permissions: self.auth.permissions(),
            topic_permissions: self.auth.topic_permissions(),
            parameters,
            global_parameters,
            ..Definitions::default()
        }
    }

    /// Raises (Some(reason)) or clears (None) the resource alarm. While it is raised,
    /// connections that publish are sent connection.blocked and no longer read.
    pub fn set_alarm(&self, reason: Option<String>) {
        self.alarm.send_if_modified(|cur| {
            if *cur == reason {
                return false;
            }
            match &reason {
                Some(r) => tracing::warn!("resource alarm: {r}; publishers are blocked"),
                None => tracing::info!("resource alarm cleared; publishers are unblocked"),
            }
            *cur = reason;
            true
        });
    }

    /// The resource alarm in force, if any.
    pub fn current_alarm(&self) -> Option<String> {
        self.alarm.borrow().clone()
    }

    /// Follows the resource alarm.
    pub fn alarm(&self) -> tokio::sync::watch::Receiver<Option<String>> {
        self.alarm.subscribe()
    }

    /// A connection has read [`Broker::MEMORY_CHECK_BYTES`] since it last said so: the
    /// resource monitor samples memory now (wake-ups coalesce while it is busy).
    pub fn memory_grew(&self) {
        self.memory_grew.notify_one();
    }

    /// Bytes a connection reads between two [`Broker::memory_grew`] calls.
    pub const MEMORY_CHECK_BYTES: usize = 4 << 20;

    /// Resolves at the next [`Broker::memory_grew`] (the resource monitor waits on it).
    pub async fn memory_grown(&self) {
        self.memory_grew.notified().await
    }

    /// Gives the broker its message store. Call before any durable queue exists (at start-up,
    /// before importing definitions), so every durable queue gets its place in the store.
    pub fn enable_durability(&self, d: Arc<Durability>) {
        let _ = self.durability.set(d);
    }

    pub fn durability(&self) -> Option<&Arc<Durability>> {
        self.durability.get()
    }

    /// The transient store bodies are paged out to under memory pressure, if enabled.
    pub fn pager(&self) -> Option<&Arc<crate::paging::Pager>> {
        self.durability().and_then(|d| d.pager())
    }

    /// Under memory pressure: every queue writes out (or drops, for stored messages) the
    /// bodies it holds behind its paging window. Blocking (disk writes): run it off the
    /// async runtime.
    pub fn page_out(&self) {
        if self.pager().is_none_or(|p| !p.under_pressure()) {
            return;
        }
        for v in self.vhosts() {
            for q in v.queues() {
                q.page_out();
            }
        }
    }

    /// Puts the messages the store recovered back into their queues. The definitions are
    /// the truth about what exists: messages of a queue (or a whole vhost) the definitions no
    /// longer have were deleted with it (`warren vhost delete` runs without the store, and a
    /// definitions file may be edited by hand) and are dropped from the store, as RabbitMQ
    /// deletes the message directories of queues it does not recover. Nothing deleted comes
    /// back, and a queue declared later under the same name starts empty. Returns (queues,
    /// messages) recovered.
    ///
    /// Messages keep their priority and their expiry; those whose time passed while the broker
    /// was down expire (and are dead-lettered) once every queue has its messages back.
    pub fn recover_messages(&self, recovered: &warren_store::Recovered) -> (usize, usize) {
        let (mut queues, mut messages) = (0, 0);
        let mut filled = Vec::new();
        let mut keys: Vec<&String> = recovered.queues.keys().collect();
        keys.sort();
        for key in keys {
            let entries = &recovered.queues[key];
            if entries.is_empty() {
                continue;
            }
            let Some((vhost, name)) = parse_queue_key(key) else {
                tracing::warn!("store has messages for an unparsable queue key {key:?}; skipped");
                continue;
            };
            let queue = self.vhost(vhost).map(|v| v.queue(name, 0));
            let q = match queue {
                Some(Ok(q)) if q.store_id().is_some() => q,
                _ => {
                    let what = match queue {
                        None => "its vhost no longer exists",
                        Some(Err(_)) => "the queue no longer exists",
                        Some(Ok(_)) => "the queue is no longer durable",
                    };
                    tracing::warn!(
                        "dropping {} stored messages of queue '{name}' in vhost '{vhost}': {what}",
                        entries.len()
                    );
                    if let Some(d) = self.durability() {
                        d.delete_queue(d.queue_id(vhost, name));
                    }
                    continue;
                }
            };
            q.recover(entries, |id| recovered.published_at(id));
            filled.push(q);
            queues += 1;
            messages += entries.len();
        }
        for q in filled {
            q.expire_due();
        }
        (queues, messages)
    }

    pub fn next_connection_id(&self) -> ConnectionId {
        self.next_connection.fetch_add(1, Ordering::Relaxed)
    }
}
