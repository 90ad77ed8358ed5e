//! The live connections, for introspection (management API, metrics) and for closing one.
//!
//! A connection registers itself once it is open and leaves when it closes. What never changes
//! (peer, user, vhost, negotiated limits) is stored plainly; what changes is atomics the
//! connection updates per read/write batch, or asked of the connection task itself
//! ([`ConnEvent::Inspect`]) when someone looks, so the message path pays nothing for it.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::RwLock;
use rustc_hash::FxHashMap as HashMap;

use crate::consumer::{ConnEvent, ConnectionId, Outbox};
use crate::error::AmqpError;
use crate::stats::{MessageCounters, MessageStats, PublishCounters, PublishStats};

/// One open connection as others may see it.
#[derive(Debug)]
pub struct ConnectionEntry {
    pub id: ConnectionId,
    /// RabbitMQ's connection name: "peer_host:peer_port -> host:port".
    pub name: String,
    pub peer: SocketAddr,
    pub local: Option<SocketAddr>,
    pub user: String,
    pub vhost: String,
    /// ms since the Unix epoch.
    pub connected_at: u64,
    pub frame_max: u32,
    pub channel_max: u16,
    pub heartbeat: u16,
    pub auth_mechanism: String,
    /// The client's properties (product, version, connection_name, capabilities...) as JSON
    /// text: one allocation of a few hundred bytes per connection, where a JSON value tree
    /// took ~1.3 KiB in dozens of small ones; parsed when someone looks
    /// ([`ConnectionEntry::client_properties`]).
    client_properties: Box<str>,
    pub counters: MessageCounters,
    /// Publishes on confirm channels and body sizes (Prometheus).
    pub publishes: PublishCounters,
    pub recv_oct: AtomicU64,
    pub send_oct: AtomicU64,
    pub channels: AtomicU64,
    /// The connection has published (a resource alarm blocks it).
    pub published: AtomicBool,
    /// Over TLS (AMQPS).
    pub tls: bool,
    outbox: Arc<Outbox>,
}

impl ConnectionEntry {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        id: ConnectionId,
        peer: SocketAddr,
        local: Option<SocketAddr>,
        user: String,
        vhost: String,
        limits: (u32, u16, u16),
        auth_mechanism: String,
        client_properties: &warren_amqp::FieldTable,
        outbox: Arc<Outbox>,
    ) -> ConnectionEntry {
        let client_properties =
            serde_json::Value::Object(crate::definitions::table_to_json(client_properties))
                .to_string()
                .into_boxed_str();
        let name = match local {
            Some(l) => format!("{peer} -> {l}"),
            None => peer.to_string(),
        };
        ConnectionEntry {
            id,
            name,
            peer,
            local,
            user,
            vhost,
            connected_at: crate::queue::now_ms(),
            frame_max: limits.0,
            channel_max: limits.1,
            heartbeat: limits.2,
            auth_mechanism,
            client_properties,
            counters: MessageCounters::default(),
            publishes: PublishCounters::default(),
            recv_oct: AtomicU64::new(0),
            send_oct: AtomicU64::new(0),
            channels: AtomicU64::new(0),
            published: AtomicBool::new(false),
            tls: false,
            outbox,
        }
    }

    /// The client's properties as a JSON object.
    pub fn client_properties(&self) -> serde_json::Value {
        serde_json::from_str(&self.client_properties).unwrap_or_default()
    }

    /// Marks an AMQPS connection.
    pub fn over_tls(mut self, tls: bool) -> ConnectionEntry {
        self.tls = tls;
        self
    }

    /// Asks the connection to close with `error` (320 CONNECTION_FORCED for an operator).
    /// False if it is already gone.
    pub fn close(&self, error: AmqpError) -> bool {
        self.outbox.send(ConnEvent::Close(error)).is_ok()
    }

    /// Asks the connection task for its channels; the answer comes on the receiver (None if
    /// the connection is gone). The connection answers between two batches of work, so a
    /// caller should bound its wait: a connection whose writer is full answers late.
    pub fn inspect(&self) -> Option<tokio::sync::oneshot::Receiver<Vec<ChannelInfo>>> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.outbox.send(ConnEvent::Inspect(tx)).ok()?;
        Some(rx)
    }
}

/// A channel as its connection task describes it.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ChannelInfo {
    pub number: u16,
    /// basic.qos prefetch for new consumers (0 = unlimited).
    pub prefetch_count: u32,
    /// basic.qos global prefetch (0 = unlimited).
    pub global_prefetch_count: u32,
    pub messages_unacknowledged: u64,
    pub messages_unconfirmed: u64,
    pub messages_uncommitted: u64,
    pub consumer_count: u64,
    pub confirm: bool,
    pub transactional: bool,
    pub closing: bool,
    /// The channel's message counts since it opened.
    pub counts: crate::stats::MessageStats,
}

/// The broker's open connections.
#[derive(Debug, Default)]
pub struct ConnectionRegistry {
    conns: RwLock<HashMap<ConnectionId, Arc<ConnectionEntry>>>,
    /// Counts of connections that have closed, so totals never go down.
    retired: MessageCounters,
    retired_publishes: PublishCounters,
    /// Connections opened and closed since start (RabbitMQ's connection_created/closed).
    opened: AtomicU64,
    closed: AtomicU64,
}

impl ConnectionRegistry {
    pub fn register(&self, e: Arc<ConnectionEntry>) {
        self.opened.fetch_add(1, Ordering::Relaxed);
        self.conns.write().insert(e.id, e);
    }

    pub fn deregister(&self, id: ConnectionId) {
        if let Some(e) = self.conns.write().remove(&id) {
            self.closed.fetch_add(1, Ordering::Relaxed);
            self.retired.add(&e.counters.snapshot());
            self.retired_publishes.add(&e.publishes.snapshot());
        }
    }

    pub fn get(&self, id: ConnectionId) -> Option<Arc<ConnectionEntry>> {
        self.conns.read().get(&id).cloned()
    }

    pub fn by_name(&self, name: &str) -> Option<Arc<ConnectionEntry>> {
        self.conns.read().values().find(|e| e.name == name).cloned()
    }

    pub fn list(&self) -> Vec<Arc<ConnectionEntry>> {
        self.conns.read().values().cloned().collect()
    }

    pub fn len(&self) -> usize {
        self.conns.read().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// (opened, closed) since start.
    pub fn churn(&self) -> (u64, u64) {
        (
            self.opened.load(Ordering::Relaxed),
            self.closed.load(Ordering::Relaxed),
        )
    }

    /// Counts a message published other than over AMQP (the management API), so publish
    /// totals include it.
    pub fn count_external_publish(&self) {
        crate::stats::bump(&self.retired.publish, 1);
    }

    /// [`PublishStats`] totals over open and closed connections.
    pub fn publish_totals(&self) -> PublishStats {
        let mut t = self.retired_publishes.snapshot();
        for e in self.conns.read().values() {
            t.add(&e.publishes.snapshot());
        }
        t
    }

    /// Totals over open and closed connections.
    pub fn totals(&self) -> MessageStats {
        let mut t = self.retired.snapshot();
        for e in self.conns.read().values() {
            t.add(&e.counters.snapshot());
        }
        t
    }
}
