//! Exchanges and their bindings: where a published message goes.
//!
//! Each exchange keeps the list of its bindings (for listing, unbinding and equality) and an index
//! shaped for its type, so routing a message never scans all bindings except for headers
//! exchanges, whose rule needs every binding's arguments anyway.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::RwLock;
use rustc_hash::FxHashMap as HashMap;
use warren_amqp::{FieldTable, RawProperties, ShortStr};

use crate::headers::headers_match;
use crate::queue::Queue;
use crate::topic::TopicTrie;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExchangeKind {
    Direct,
    Fanout,
    Topic,
    Headers,
}

impl ExchangeKind {
    pub fn parse(s: &str) -> Option<ExchangeKind> {
        match s {
            "direct" => Some(ExchangeKind::Direct),
            "fanout" => Some(ExchangeKind::Fanout),
            "topic" => Some(ExchangeKind::Topic),
            "headers" => Some(ExchangeKind::Headers),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ExchangeKind::Direct => "direct",
            ExchangeKind::Fanout => "fanout",
            ExchangeKind::Topic => "topic",
            ExchangeKind::Headers => "headers",
        }
    }
}

impl fmt::Display for ExchangeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a binding sends messages: a queue (held directly, so routing needs no lookup) or
/// another exchange (by name: exchange-to-exchange bindings may form cycles).
#[derive(Debug, Clone)]
pub enum Destination {
    Queue(Arc<Queue>),
    Exchange(ShortStr),
}

impl PartialEq for Destination {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Destination::Queue(a), Destination::Queue(b)) => Arc::ptr_eq(a, b),
            (Destination::Exchange(a), Destination::Exchange(b)) => a == b,
            _ => false,
        }
    }
}

impl Destination {
    pub fn name(&self) -> &ShortStr {
        match self {
            Destination::Queue(q) => &q.name,
            Destination::Exchange(e) => e,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Binding {
    pub destination: Destination,
    pub routing_key: ShortStr,
    pub arguments: FieldTable,
}

#[derive(Debug, Default)]
struct Bindings {
    all: Vec<Binding>,
    /// direct: routing key -> destinations
    direct: HashMap<ShortStr, Vec<Destination>>,
    /// topic: pattern trie
    topic: TopicTrie<Destination>,
}

/// An exchange's message counts, RabbitMQ's `publish_in` and `publish_out`: relaxed atomics
/// (one uncontended `fetch_add` each per publish, never a lock), read when asked.
#[derive(Debug, Default)]
pub struct ExchangeCounters {
    /// Messages published to this exchange (by a client or the management API).
    pub publish_in: AtomicU64,
    /// Messages routed out of it: one per queue a message published to this exchange reached,
    /// through exchange-to-exchange bindings and alternate exchanges too (those exchanges
    /// count nothing themselves, as in RabbitMQ).
    pub publish_out: AtomicU64,
}

impl ExchangeCounters {
    /// (publish_in, publish_out) now.
    pub fn snapshot(&self) -> (u64, u64) {
        (
            self.publish_in.load(Ordering::Relaxed),
            self.publish_out.load(Ordering::Relaxed),
        )
    }
}

#[derive(Debug)]
pub struct Exchange {
    pub name: ShortStr,
    pub kind: ExchangeKind,
    pub durable: bool,
    pub auto_delete: bool,
    pub internal: bool,
    pub arguments: FieldTable,
    bindings: RwLock<Bindings>,
    /// The applying policy: its name and its `alternate-exchange`, if any. Read only for
    /// unroutable messages, never on the routing path.
    policy: RwLock<Option<(ShortStr, Option<ShortStr>)>>,
    pub counters: ExchangeCounters,
}

impl Exchange {
    /// The alternate exchange: the `alternate-exchange` argument, else the policy's (the
    /// argument wins, as in RabbitMQ).
    pub fn alternate_exchange(&self) -> Option<ShortStr> {
        if let Some(ae) = self
            .arguments
            .get("alternate-exchange")
            .and_then(|v| v.as_str())
        {
            return ShortStr::try_from(ae).ok();
        }
        self.policy.read().as_ref().and_then(|(_, ae)| ae.clone())
    }

    /// Applies a policy (or none).
    pub fn apply_policy(&self, policy: Option<&crate::policy::Policy>) {
        *self.policy.write() = policy.map(|p| (p.name.clone(), p.alternate_exchange.clone()));
    }

    /// The name of the policy that applies to this exchange, if any.
    pub fn policy_name(&self) -> Option<ShortStr> {
        self.policy.read().as_ref().map(|(n, _)| n.clone())
    }

    pub fn new(
        name: ShortStr,
        kind: ExchangeKind,
        durable: bool,
        auto_delete: bool,
        internal: bool,
        arguments: FieldTable,
    ) -> Exchange {
        Exchange {
            name,
            kind,
            durable,
            auto_delete,
            internal,
            arguments,
            policy: RwLock::new(None),
            bindings: RwLock::new(Bindings::default()),
            counters: ExchangeCounters::default(),
        }
    }

    /// Counts a message published to this exchange that reached `routed` queues.
    #[inline]
    pub fn count_publish(&self, routed: usize) {
        crate::stats::bump(&self.counters.publish_in, 1);
        crate::stats::bump(&self.counters.publish_out, routed as u64);
    }

    /// The nameless default exchange routes by queue name and has no explicit bindings.
    pub fn is_default(&self) -> bool {
        self.name.is_empty()
    }

    /// Adds a binding; binding twice is a no-op. Returns whether it was new.
    pub fn bind(&self, binding: Binding) -> bool {
        let mut b = self.bindings.write();
        if b.all.contains(&binding) {
            return false;
        }
        match self.kind {
            ExchangeKind::Direct => b
                .direct
                .entry(binding.routing_key.clone())
                .or_default()
                .push(binding.destination.clone()),
            ExchangeKind::Topic => b
                .topic
                .insert(binding.routing_key.as_str(), binding.destination.clone()),
            ExchangeKind::Fanout | ExchangeKind::Headers => {}
        }
        b.all.push(binding);
        true
    }

    /// Whether this exact binding exists.
    pub fn has_binding(&self, binding: &Binding) -> bool {
        self.bindings.read().all.iter().any(|x| x == binding)
    }

    /// Removes a binding; returns whether it existed.
    pub fn unbind(&self, binding: &Binding) -> bool {
        let mut b = self.bindings.write();
        let Some(pos) = b.all.iter().position(|x| x == binding) else {
            return false;
        };
        b.all.remove(pos);
        Self::unindex(&mut b, self.kind, binding);
        true
    }

    fn unindex(b: &mut Bindings, kind: ExchangeKind, binding: &Binding) {
        match kind {
            ExchangeKind::Direct => {
                if let Some(v) = b.direct.get_mut(binding.routing_key.as_str()) {
                    if let Some(i) = v.iter().position(|d| d == &binding.destination) {
                        v.remove(i);
                    }
                    if v.is_empty() {
                        b.direct.remove(binding.routing_key.as_str());
                    }
                }
            }
            ExchangeKind::Topic => {
                b.topic
                    .remove(binding.routing_key.as_str(), &binding.destination);
            }
            ExchangeKind::Fanout | ExchangeKind::Headers => {}
        }
    }

    /// Removes every binding to `dest` (its queue or exchange is being deleted). Returns how
    /// many went.
    pub fn unbind_destination(&self, dest: &Destination) -> usize {
        let mut b = self.bindings.write();
        let gone: Vec<Binding> = b
            .all
            .iter()
            .filter(|x| &x.destination == dest)
            .cloned()
            .collect();
        if gone.is_empty() {
            return 0;
        }
        b.all.retain(|x| &x.destination != dest);
        for g in &gone {
            Self::unindex(&mut b, self.kind, g);
        }
        gone.len()
    }

    pub fn has_bindings(&self) -> bool {
        !self.bindings.read().all.is_empty()
    }

    pub fn bindings(&self) -> Vec<Binding> {
        self.bindings.read().all.clone()
    }

    /// Calls `f` for each destination a message with this key and properties goes to (a
    /// destination may be reported more than once; the vhost deduplicates).
    pub fn route(
        &self,
        routing_key: &str,
        properties: &RawProperties,
        f: &mut impl FnMut(&Destination),
    ) {
        let b = self.bindings.read();
        match self.kind {
            ExchangeKind::Direct => {
                if let Some(v) = b.direct.get(routing_key) {
                    v.iter().for_each(&mut *f);
                }
            }
            ExchangeKind::Fanout => b.all.iter().for_each(|x| f(&x.destination)),
            ExchangeKind::Topic => b.topic.for_each_match(routing_key, f),
            ExchangeKind::Headers => {
                if b.all.is_empty() {
                    return;
                }
                let headers = properties.headers();
                for x in &b.all {
                    if headers_match(&x.arguments, headers.as_ref()) {
                        f(&x.destination);
                    }
                }
            }
        }
    }
}
