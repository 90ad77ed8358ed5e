//! A virtual host: its exchanges, queues and bindings, and the routing of published messages.
//!
//! Lock order (never taken the other way round): the exchange map, then one exchange's bindings,
//! then one queue's state. Routing reads the first two and releases them before it enqueues.

use std::sync::{Arc, OnceLock, Weak};

use parking_lot::RwLock;
use rand::Rng;
use rustc_hash::FxHashMap as HashMap;
use warren_amqp::{ExchangeDeclare, FieldTable, FieldValue, QueueDeclare, RawProperties, ShortStr};

use crate::arguments::QueueArgs;
use crate::consumer::ConnectionId;
use crate::durable::Durability;
use crate::error::{AmqpError, Result};
use crate::exchange::{Destination, Exchange, ExchangeKind};
use crate::message::Message;
use crate::policy::{self, Policy};
use crate::queue::Queue;

mod bindings;

pub use bindings::check_not_default_exchange;

/// The exchanges every vhost has: the default one and the `amq.*` set.
const STANDARD_EXCHANGES: [(&str, ExchangeKind); 6] = [
    ("", ExchangeKind::Direct),
    ("amq.direct", ExchangeKind::Direct),
    ("amq.fanout", ExchangeKind::Fanout),
    ("amq.topic", ExchangeKind::Topic),
    ("amq.headers", ExchangeKind::Headers),
    ("amq.match", ExchangeKind::Headers),
];

/// Queue arguments compared when a queue is declared again (RabbitMQ's list).
const QUEUE_EQUIVALENCE_ARGS: [&str; 11] = [
    "x-expires",
    "x-message-ttl",
    "x-dead-letter-exchange",
    "x-dead-letter-routing-key",
    "x-max-length",
    "x-max-length-bytes",
    "x-max-priority",
    "x-overflow",
    "x-queue-mode",
    "x-single-active-consumer",
    "x-queue-type",
];

#[derive(Debug)]
pub struct VHost {
    pub name: ShortStr,
    /// The broker's message store, once it has one (shared by all vhosts).
    durability: Arc<OnceLock<Arc<Durability>>>,
    exchanges: RwLock<HashMap<ShortStr, Arc<Exchange>>>,
    queues: RwLock<HashMap<ShortStr, Arc<Queue>>>,
    /// Direct reply-to: one private queue per channel consuming `amq.rabbitmq.reply-to`, found
    /// by its generated name (routing key on the default exchange), never listed as a queue.
    reply_queues: RwLock<HashMap<ShortStr, Arc<Queue>>>,
    /// Policies, applied to matching queues and exchanges (see [`crate::policy`]).
    policies: RwLock<Vec<Policy>>,
    /// This vhost, for its queues (dead-lettering routes through it).
    this: Weak<VHost>,
    /// Message counts of the queues deleted so far, so vhost totals never go down.
    pub retired: crate::stats::MessageCounters,
    /// The broker's channel and queue churn counters.
    churn: Arc<crate::stats::Churn>,
    /// Set by `Broker::delete_vhost`: connections still open on it close.
    deleted: std::sync::atomic::AtomicBool,
    /// Description, tags, default queue type (management API and definitions only).
    pub metadata: RwLock<crate::vhost_meta::VHostMetadata>,
    /// The vhost limit `max-queues` (`u64::MAX`: none), set from its `vhost-limits`
    /// parameter (see [`crate::parameters`]).
    max_queues: std::sync::atomic::AtomicU64,
}

/// Result of `queue.declare`.
#[derive(Debug)]
pub struct Declared {
    pub queue: Arc<Queue>,
    pub message_count: u32,
    pub consumer_count: u32,
    /// Did this declare create the queue (rather than find it)?
    pub created: bool,
}

fn bool_str(b: bool) -> &'static str {
    if b {
        "true"
    } else {
        "false"
    }
}

/// A field value as RabbitMQ prints it in its equivalence errors (Erlang's `~s` for strings,
/// `~p` for the rest).
fn plain_value(v: &FieldValue) -> String {
    match v {
        FieldValue::LongStr(b) | FieldValue::ByteArray(b) => {
            String::from_utf8_lossy(b).into_owned()
        }
        FieldValue::Bool(b) => b.to_string(),
        FieldValue::F32(f) => format!("{f:?}"),
        FieldValue::F64(f) => format!("{f:?}"),
        FieldValue::Timestamp(t) => t.to_string(),
        other => match other.as_i64() {
            Some(n) => n.to_string(),
            None => format!("{other:?}"),
        },
    }
}

/// `none`, or "the value 'V' of type 'T'" (RabbitMQ's `rabbit_misc:val/1`).
fn value_description(v: Option<&FieldValue>) -> String {
    match v {
        None => "none".to_string(),
        Some(v) => format!(
            "the value '{}' of type '{}'",
            plain_value(v),
            crate::arguments::type_name(v)
        ),
    }
}

/// RabbitMQ's `type_class`: all integer types are one class, both float types another.
fn same_value(a: &FieldValue, b: &FieldValue) -> bool {
    let float = |v: &FieldValue| match v {
        FieldValue::F32(f) => Some(f64::from(*f)),
        FieldValue::F64(f) => Some(*f),
        _ => None,
    };
    match (a.as_i64(), b.as_i64(), float(a), float(b)) {
        (Some(x), Some(y), _, _) => x == y,
        (_, _, Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

/// The equivalence check of one argument on redeclare (RabbitMQ's
/// `rabbit_misc:assert_args_equivalence`): the same value of the same type class, or the 406
/// with RabbitMQ's text.
fn assert_arg_equivalence(
    key: &str,
    got: Option<&FieldValue>,
    cur: Option<&FieldValue>,
    what: &str,
) -> Result<()> {
    let message = match (got, cur) {
        (None, None) => return Ok(()),
        (Some(g), Some(c)) if same_value(g, c) => return Ok(()),
        (Some(g), Some(c)) => format!(
            "received '{}' but current is '{}'",
            plain_value(g),
            plain_value(c)
        ),
        _ => format!(
            "received {} but current is {}",
            value_description(got),
            value_description(cur)
        ),
    };
    Err(AmqpError::precondition_failed(format!(
        "inequivalent arg '{key}' for {what}: {message}"
    )))
}

impl VHost {
    /// A vhost with the standard exchanges.
    pub fn new(
        name: ShortStr,
        durability: Arc<OnceLock<Arc<Durability>>>,
        churn: Arc<crate::stats::Churn>,
    ) -> Arc<VHost> {
        Arc::new_cyclic(|this| VHost::build(name, durability, churn, this.clone()))
    }

    fn build(
        name: ShortStr,
        durability: Arc<OnceLock<Arc<Durability>>>,
        churn: Arc<crate::stats::Churn>,
        this: Weak<VHost>,
    ) -> VHost {
        let exchanges = STANDARD_EXCHANGES
            .iter()
            .map(|(n, kind)| {
                let name = ShortStr::from_static(n);
                let x = Exchange::new(name.clone(), *kind, true, false, false, FieldTable::new());
                (name, Arc::new(x))
            })
            .collect();
        VHost {
            name,
            durability,
            exchanges: RwLock::new(exchanges),
            queues: RwLock::new(HashMap::default()),
            reply_queues: RwLock::new(HashMap::default()),
            policies: RwLock::new(Vec::new()),
            this,
            retired: Default::default(),
            churn,
            deleted: std::sync::atomic::AtomicBool::new(false),
            metadata: RwLock::new(Default::default()),
            max_queues: std::sync::atomic::AtomicU64::new(u64::MAX),
        }
    }

    /// Sets the vhost limit `max-queues` (None: no limit); existing queues stay.
    pub fn set_max_queues(&self, max: Option<u64>) {
        self.max_queues.store(
            max.unwrap_or(u64::MAX),
            std::sync::atomic::Ordering::Relaxed,
        );
    }

    /// Has this vhost been deleted (see `Broker::delete_vhost`)?
    pub fn is_deleted(&self) -> bool {
        self.deleted.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub(crate) fn mark_deleted(&self) {
        self.deleted
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    fn no_exchange(&self, name: &str) -> AmqpError {
        AmqpError::not_found(format!("no exchange '{name}' in vhost '{}'", self.name))
    }

    fn no_queue(&self, name: &str) -> AmqpError {
        AmqpError::not_found(format!("no queue '{name}' in vhost '{}'", self.name))
    }

    fn describe_exchange(&self, name: &str) -> String {
        format!("exchange '{name}' in vhost '{}'", self.name)
    }

    pub fn exchange(&self, name: &str) -> Result<Arc<Exchange>> {
        self.exchanges
            .read()
            .get(name)
            .cloned()
            .ok_or_else(|| self.no_exchange(name))
    }

    pub fn exchanges(&self) -> Vec<Arc<Exchange>> {
        self.exchanges.read().values().cloned().collect()
    }

    pub fn queues(&self) -> Vec<Arc<Queue>> {
        self.queues.read().values().cloned().collect()
    }

    /// Looks up a queue the connection may use (404 if absent, 405 if another's exclusive queue).
    pub fn queue(&self, name: &str, conn: ConnectionId) -> Result<Arc<Queue>> {
        let q = self
            .queues
            .read()
            .get(name)
            .cloned()
            .ok_or_else(|| self.no_queue(name))?;
        q.check_access(conn)?;
        Ok(q)
    }

    pub fn declare_exchange(&self, m: &ExchangeDeclare) -> Result<()> {
        let name = m.exchange.as_str();
        // Even a passive declare of the default exchange is refused, as in RabbitMQ.
        if name.is_empty() {
            return Err(AmqpError::access_refused(
                "operation not permitted on the default exchange",
            ));
        }
        if m.passive {
            return self.exchange(name).map(|_| ());
        }
        let Some(kind) = ExchangeKind::parse(m.kind.as_str()) else {
            return Err(AmqpError::command_invalid(format!(
                "unknown exchange type '{}'",
                m.kind
            )));
        };
        let existing = self.exchanges.read().get(name).cloned();
        if let Some(x) = existing {
            return self.exchange_equivalent(&x, kind, m);
        }
        if name.starts_with("amq.") {
            return Err(AmqpError::access_refused(format!(
                "exchange name '{name}' contains reserved prefix 'amq.*'"
            )));
        }
        let mut map = self.exchanges.write();
        if let Some(x) = map.get(name) {
            let x = x.clone();
            drop(map);
            return self.exchange_equivalent(&x, kind, m);
        }
        // Long-lived: detached from the frame they came in (see `ShortStr::detached`).
        let name = m.exchange.detached();
        let x = Exchange::new(
            name.clone(),
            kind,
            m.durable,
            m.auto_delete,
            m.internal,
            m.arguments.detached(),
        );
        x.apply_policy(self.exchange_policy(&name).as_ref());
        map.insert(name, Arc::new(x));
        Ok(())
    }

    fn exchange_equivalent(
        &self,
        x: &Exchange,
        kind: ExchangeKind,
        m: &ExchangeDeclare,
    ) -> Result<()> {
        let what = self.describe_exchange(&x.name);
        let mismatch = |arg: &str, got: &str, cur: &str| {
            Err(AmqpError::precondition_failed(format!(
                "inequivalent arg '{arg}' for {what}: received '{got}' but current is '{cur}'"
            )))
        };
        if x.kind != kind {
            return mismatch("type", kind.as_str(), x.kind.as_str());
        }
        if x.durable != m.durable {
            return mismatch("durable", bool_str(m.durable), bool_str(x.durable));
        }
        if x.auto_delete != m.auto_delete {
            return mismatch(
                "auto_delete",
                bool_str(m.auto_delete),
                bool_str(x.auto_delete),
            );
        }
        if x.internal != m.internal {
            return mismatch("internal", bool_str(m.internal), bool_str(x.internal));
        }
        let key = "alternate-exchange";
        assert_arg_equivalence(key, m.arguments.get(key), x.arguments.get(key), &what)
    }

    /// The default exchange and the `amq.*` ones (present or not) cannot be deleted: 403 with
    /// RabbitMQ's texts, which it checks before permissions and before looking the exchange up.
    pub fn check_exchange_deletable(&self, name: &str) -> Result<()> {
        bindings::check_not_default_exchange(name)?;
        if name.starts_with("amq.") {
            return Err(AmqpError::access_refused(format!(
                "deletion of system {} not allowed",
                self.describe_exchange(name)
            )));
        }
        Ok(())
    }

    pub fn delete_exchange(&self, name: &str, if_unused: bool) -> Result<()> {
        self.check_exchange_deletable(name)?;
        let mut map = self.exchanges.write();
        let Some(x) = map.get(name).cloned() else {
            // Deleting an exchange that is not there succeeds, as in RabbitMQ 3.x.
            return Ok(());
        };
        if if_unused && x.has_bindings() {
            return Err(AmqpError::precondition_failed(format!(
                "{} in use",
                self.describe_exchange(name)
            )));
        }
        map.remove(name);
        let others: Vec<Arc<Exchange>> = map.values().cloned().collect();
        drop(map);
        let dest = Destination::Exchange(x.name.clone());
        self.unbind_everywhere(&others, &dest);
        Ok(())
    }

    /// Removes all bindings to `dest`, then deletes auto-delete exchanges left without bindings.
    fn unbind_everywhere(&self, exchanges: &[Arc<Exchange>], dest: &Destination) {
        for x in exchanges {
            if x.unbind_destination(dest) > 0 {
                self.maybe_auto_delete(x);
            }
        }
    }

    fn maybe_auto_delete(&self, x: &Arc<Exchange>) {
        if x.auto_delete && !x.has_bindings() {
            let _ = self.delete_exchange(&x.name, true);
        }
    }

    /// `queue.declare`, including passive declares, server-named queues and the equivalence
    /// check on redeclare.
    pub fn declare_queue(&self, conn: ConnectionId, m: &QueueDeclare) -> Result<Declared> {
        let name = if m.queue.is_empty() && !m.passive {
            generate_queue_name()
        } else {
            m.queue.clone()
        };
        if m.passive {
            let q = self.queue(&name, conn)?;
            q.touch();
            let (message_count, consumer_count) = q.counts();
            return Ok(Declared {
                queue: q,
                message_count,
                consumer_count,
                created: false,
            });
        }
        if name.starts_with("amq.") && !m.queue.is_empty() {
            return Err(AmqpError::access_refused(format!(
                "queue name '{name}' contains reserved prefix 'amq.*'"
            )));
        }
        crate::stats::bump(&self.churn.queues_declared, 1);
        let mut map = self.queues.write();
        if let Some(q) = map.get(name.as_str()).cloned() {
            drop(map);
            q.check_access(conn)?;
            self.queue_equivalent(&q, m)?;
            q.touch();
            let (message_count, consumer_count) = q.counts();
            return Ok(Declared {
                queue: q,
                message_count,
                consumer_count,
                created: false,
            });
        }
        let max = self.max_queues.load(std::sync::atomic::Ordering::Relaxed);
        if map.len() as u64 >= max {
            // RabbitMQ's words (rabbit_amqqueue): the limit counts every queue of the vhost.
            return Err(AmqpError::precondition_failed(format!(
                "cannot declare queue '{name}': queue limit in vhost '{}' ({max}) is reached",
                self.name
            )));
        }
        let args = QueueArgs::parse(
            &m.arguments,
            &format!("queue '{name}' in vhost '{}'", self.name),
        )?;
        // Long-lived: detached from the frame they came in (see `ShortStr::detached`).
        let name = name.detached();
        let q = Arc::new(
            Queue::new(
                name.clone(),
                self.name.clone(),
                m.durable,
                m.exclusive.then_some(conn),
                m.auto_delete,
                m.arguments.detached(),
                args,
            )
            .with_store(self.durability.get())
            .with_vhost(self.this.clone()),
        );
        if let (Some(d), Some(id)) = (self.durability.get(), q.store_id()) {
            d.register(id, &q);
        }
        if let Some(p) = self.queue_policy(&name) {
            q.apply_policy(Some(&p));
        }
        map.insert(name, q.clone());
        crate::stats::bump(&self.churn.queues_created, 1);
        Ok(Declared {
            queue: q,
            message_count: 0,
            consumer_count: 0,
            created: true,
        })
    }

    fn queue_equivalent(&self, q: &Queue, m: &QueueDeclare) -> Result<()> {
        let what = q.describe();
        let mismatch = |arg: &str, got: bool, cur: bool| {
            Err(AmqpError::precondition_failed(format!(
                "inequivalent arg '{arg}' for {what}: received '{}' but current is '{}'",
                bool_str(got),
                bool_str(cur)
            )))
        };
        // Exclusivity first, then durable, auto_delete and the arguments (RabbitMQ's order).
        if q.exclusive_owner.is_some() != m.exclusive {
            return Err(q.check_access(ConnectionId::MAX).err().unwrap_or_else(|| {
                AmqpError::resource_locked(format!(
                    "cannot obtain exclusive access to locked {what}. It could be originally \
                     declared on another connection or the exclusive property value does not \
                     match that of the original declaration."
                ))
            }));
        }
        if q.durable != m.durable {
            return mismatch("durable", m.durable, q.durable);
        }
        if q.auto_delete != m.auto_delete {
            return mismatch("auto_delete", m.auto_delete, q.auto_delete);
        }
        for key in QUEUE_EQUIVALENCE_ARGS {
            let (mut got, mut cur) = (m.arguments.get(key), q.arguments.get(key));
            if key == "x-queue-type" {
                // Classic is the default type: naming it or not is the same queue.
                let classic =
                    |v: Option<&FieldValue>| v.is_some_and(|v| v.as_str() == Some("classic"));
                if classic(got) && cur.is_none() {
                    got = None;
                } else if classic(cur) && got.is_none() {
                    cur = None;
                }
            }
            assert_arg_equivalence(key, got, cur, &what)?;
        }
        Ok(())
    }

    /// Deletes a queue (if it is there): consumers are cancelled, bindings removed.
    /// Returns the number of messages dropped.
    pub fn delete_queue(
        &self,
        name: &str,
        conn: ConnectionId,
        if_unused: bool,
        if_empty: bool,
    ) -> Result<u32> {
        let q = match self.queue(name, conn) {
            Ok(q) => q,
            // Deleting a queue that is not there succeeds with a count of 0, as in RabbitMQ.
            Err(e) if e.code == warren_amqp::reply_code::NOT_FOUND => return Ok(0),
            Err(e) => return Err(e),
        };
        self.remove_queue(&q, if_unused, if_empty)
    }

    /// Deletes this very queue object (auto-delete, exclusive cleanup, delete).
    pub fn remove_queue(&self, q: &Arc<Queue>, if_unused: bool, if_empty: bool) -> Result<u32> {
        let n = q.delete(if_unused, if_empty)?;
        {
            let mut map = self.queues.write();
            if map.get(q.name.as_str()).is_some_and(|x| Arc::ptr_eq(x, q)) {
                map.remove(q.name.as_str());
                self.retired.add(&q.counters.snapshot());
                crate::stats::bump(&self.churn.queues_deleted, 1);
            }
        }
        let exchanges = self.exchanges();
        self.unbind_everywhere(&exchanges, &Destination::Queue(q.clone()));
        Ok(n)
    }

    /// Expires due messages in every queue (see [`Queue::expire_due`]).
    pub fn expire_messages(&self) {
        for q in self.queues() {
            q.expire_due();
        }
    }

    /// Deletes the `x-expires` queues that have gone unused for their time; returns how many of
    /// them were durable (in the definitions file, which then needs saving).
    pub fn expire_queues(&self) -> usize {
        let now = crate::queue::now_ms();
        let expired: Vec<Arc<Queue>> = self
            .queues
            .read()
            .values()
            .filter(|q| q.is_expired(now))
            .cloned()
            .collect();
        for q in &expired {
            tracing::info!("{} expired (x-expires) and was deleted", q.describe());
            let _ = self.remove_queue(q, false, false);
        }
        expired
            .iter()
            .filter(|q| q.durable && q.exclusive_owner.is_none())
            .count()
    }

    fn queue_policy(&self, name: &str) -> Option<Policy> {
        policy::select(&self.policies.read(), |p| p.applies_to_queue(name)).cloned()
    }

    fn exchange_policy(&self, name: &str) -> Option<Policy> {
        policy::select(&self.policies.read(), |p| p.applies_to_exchange(name)).cloned()
    }

    /// Adds or replaces a policy (by name) and applies the policies again everywhere.
    pub fn set_policy(&self, p: Policy) {
        {
            let mut ps = self.policies.write();
            match ps.iter_mut().find(|x| x.name == p.name) {
                Some(slot) => *slot = p,
                None => ps.push(p),
            }
        }
        self.reapply_policies();
    }

    /// Removes a policy; false if there was none by that name.
    pub fn clear_policy(&self, name: &str) -> bool {
        let removed = {
            let mut ps = self.policies.write();
            let before = ps.len();
            ps.retain(|p| p.name.as_str() != name);
            ps.len() != before
        };
        if removed {
            self.reapply_policies();
        }
        removed
    }

    /// The vhost's policies, in the order they were set.
    pub fn policies(&self) -> Vec<Policy> {
        self.policies.read().clone()
    }

    fn reapply_policies(&self) {
        let ps = self.policies();
        for q in self.queues() {
            let p = policy::select(&ps, |p| p.applies_to_queue(&q.name));
            if p.is_some() || q.policy_name().is_some() {
                q.apply_policy(p);
            }
        }
        for x in self.exchanges() {
            x.apply_policy(policy::select(&ps, |p| p.applies_to_exchange(&x.name)));
        }
    }

    /// Direct reply-to: a private queue for one channel's `amq.rabbitmq.reply-to` consumer,
    /// named `amq.rabbitmq.reply-to.<random>`; replies published to the default exchange with
    /// that name as routing key reach it. Not listed among the vhost's queues.
    pub fn create_reply_queue(&self, conn: ConnectionId) -> Arc<Queue> {
        let name = generate_name(REPLY_QUEUE_PREFIX);
        let q = Arc::new(
            Queue::new(
                name.clone(),
                self.name.clone(),
                false,
                Some(conn),
                true,
                FieldTable::new(),
                QueueArgs::default(),
            )
            .with_vhost(self.this.clone()),
        );
        self.reply_queues.write().insert(name, q.clone());
        q
    }

    /// Is `name` the reply address of a live direct reply-to consumer?
    pub fn has_reply_queue(&self, name: &str) -> bool {
        self.reply_queues.read().contains_key(name)
    }

    /// The reply consumer is gone: replies to its name are unroutable from now on.
    pub fn remove_reply_queue(&self, q: &Arc<Queue>) {
        self.reply_queues.write().remove(q.name.as_str());
        let _ = q.delete(false, false);
    }

    /// A connection closed: its exclusive queues go with it.
    pub fn connection_closed(&self, conn: ConnectionId) {
        let mine: Vec<Arc<Queue>> = self
            .queues
            .read()
            .values()
            .filter(|q| q.exclusive_owner == Some(conn))
            .cloned()
            .collect();
        for q in mine {
            let _ = self.remove_queue(&q, false, false);
        }
    }

    /// Finds the queues a message published to `exchange` with `routing_key` goes to (see
    /// [`VHost::route_keys`]). `out` is cleared first and holds each queue once.
    pub fn route(
        &self,
        exchange: &Arc<Exchange>,
        routing_key: &str,
        properties: &RawProperties,
        out: &mut Vec<Arc<Queue>>,
    ) {
        self.route_keys(exchange, &[routing_key], properties, out);
    }

    /// Finds the queues a message with these routing keys (its own, then its `CC` and `BCC`
    /// keys) goes to, as RabbitMQ's `rabbit_exchange:route` does: each exchange reached is
    /// asked for all the keys at once, follows its exchange-to-exchange bindings, and hands the
    /// message to its alternate exchange only when none of its bindings matched any key. Each
    /// exchange is visited once, so cycles end. `out` is cleared first and holds each queue once.
    pub fn route_keys(
        &self,
        exchange: &Arc<Exchange>,
        keys: &[&str],
        properties: &RawProperties,
        out: &mut Vec<Arc<Queue>>,
    ) {
        out.clear();
        let mut pending: Vec<ShortStr> = Vec::new();
        self.route_exchange(exchange, keys, properties, out, &mut pending);
        if pending.is_empty() {
            return;
        }
        let mut visited: Vec<ShortStr> = vec![exchange.name.clone()];
        while let Some(name) = pending.pop() {
            if visited.contains(&name) {
                continue;
            }
            visited.push(name.clone());
            let Ok(x) = self.exchange(&name) else {
                continue;
            };
            self.route_exchange(&x, keys, properties, out, &mut pending);
        }
    }

    /// One exchange's share of [`VHost::route_keys`]: the queues its bindings match go to
    /// `out`, the exchanges they match (or its alternate exchange, if nothing matched) to
    /// `pending`.
    fn route_exchange(
        &self,
        x: &Exchange,
        keys: &[&str],
        properties: &RawProperties,
        out: &mut Vec<Arc<Queue>>,
        pending: &mut Vec<ShortStr>,
    ) {
        let mut push = |q: &Arc<Queue>| {
            if !out.iter().any(|x| Arc::ptr_eq(x, q)) {
                out.push(q.clone());
            }
        };
        if x.is_default() {
            // The default exchange has no alternate exchange (as in RabbitMQ).
            for key in keys {
                let found = self.queues.read().get(*key).cloned().or_else(|| {
                    key.starts_with(REPLY_QUEUE_PREFIX)
                        .then(|| self.reply_queues.read().get(*key).cloned())
                        .flatten()
                });
                if let Some(q) = found {
                    push(&q);
                }
            }
            return;
        }
        // Fanout and headers exchanges do not look at the key: one pass is all of them.
        let keys = match x.kind {
            ExchangeKind::Fanout | ExchangeKind::Headers => &keys[..keys.len().min(1)],
            ExchangeKind::Direct | ExchangeKind::Topic => keys,
        };
        let mut matched = false;
        for key in keys {
            x.route(key, properties, &mut |d| {
                matched = true;
                match d {
                    Destination::Queue(q) => push(q),
                    Destination::Exchange(name) => pending.push(name.clone()),
                }
            });
        }
        if !matched {
            if let Some(ae) = x.alternate_exchange() {
                pending.push(ae);
            }
        }
    }

    /// Routes a message as a client publish does: its routing key plus the ones in its `CC`
    /// and `BCC` headers (sender-selected distribution), all at once (the alternate exchange
    /// gets it only if none of them matched). Returns the message to deliver when it must
    /// differ from `message` (`BCC` is removed before delivery). Counts the publish on the
    /// exchange (`publish_in`, and `publish_out` for each queue reached).
    pub fn route_message(
        &self,
        exchange: &Arc<Exchange>,
        message: &Message,
        out: &mut Vec<Arc<Queue>>,
    ) -> Option<Message> {
        let without_bcc = self.route_cc(exchange, message, out);
        exchange.count_publish(out.len());
        without_bcc
    }

    fn route_cc(
        &self,
        exchange: &Arc<Exchange>,
        message: &Message,
        out: &mut Vec<Arc<Queue>>,
    ) -> Option<Message> {
        // Decoding the headers table costs allocations: only when the raw properties can hold
        // a "CC" or "BCC" key (a shortstr: length byte, then the name) is it worth it.
        let raw = &message.properties.0[..];
        let may_have_cc =
            raw.windows(3).any(|w| w == b"\x02CC") || raw.windows(4).any(|w| w == b"\x03BCC");
        let headers = if may_have_cc && message.properties.has_headers() {
            message
                .properties
                .headers()
                .filter(|h| h.get("CC").is_some() || h.get("BCC").is_some())
        } else {
            None
        };
        let Some(headers) = headers else {
            self.route(exchange, message.routing_key(), &message.properties, out);
            return None;
        };
        let mut keys = vec![message.routing_key()];
        keys.extend(header_routes(&headers));
        self.route_keys(exchange, &keys, &message.properties, out);
        headers.get("BCC")?;
        // BCC is a secret of the publisher: removed before delivery.
        let mut props = message.properties.decode().ok()?;
        let mut headers = props.headers.take()?;
        headers.remove("BCC")?;
        props.headers = Some(headers);
        Some(Message {
            properties: props.encode(),
            ..message.clone()
        })
    }

    /// Routes and enqueues a message; returns the number of queues it reached. Each queue
    /// but the last gets a clone; the last takes `message`.
    pub fn publish(
        &self,
        exchange: &Arc<Exchange>,
        message: Message,
        scratch: &mut Vec<Arc<Queue>>,
    ) -> usize {
        self.route(
            exchange,
            message.routing_key(),
            &message.properties,
            scratch,
        );
        if let Some((last, others)) = scratch.split_last() {
            for q in others {
                q.publish(message.clone());
            }
            last.publish(message);
        }
        scratch.len()
    }
}

impl VHost {
    /// Routes (with its `CC` keys, as a client's publish) and enqueues a message the broker
    /// itself publishes (dead-lettering, the management API): persistent messages for durable
    /// queues are stored first, as a client's would be. `skip` lets the
    /// caller drop some destinations (dead-letter cycles). Returns the queues reached.
    pub fn publish_internal(
        &self,
        exchange: &Arc<Exchange>,
        message: Message,
        skip: impl Fn(&Queue) -> bool,
    ) -> usize {
        let mut targets = Vec::new();
        // Not counted on the exchange here: RabbitMQ's exchange stats come from channels, so
        // dead letters count nothing; the management API counts its own publishes.
        let message = self
            .route_cc(exchange, &message, &mut targets)
            .unwrap_or(message);
        targets.retain(|q| !skip(q));
        let durability = self.durability.get().filter(|_| message.is_persistent());
        let ids: Vec<_> = targets.iter().filter_map(|q| q.store_id()).collect();
        let stored = match (durability, ids.is_empty()) {
            (Some(d), false) => match d.append(&message, &ids) {
                Ok((id, _)) => Some(id),
                Err(e) => {
                    static DLX_STORE_FAILED: crate::LogLimit =
                        crate::LogLimit::new(crate::durable::LOG_EVERY);
                    crate::limited!(
                        error,
                        DLX_STORE_FAILED,
                        "could not store a dead-lettered message: {e}"
                    );
                    None
                }
            },
            _ => None,
        };
        for q in &targets {
            match (stored, q.store_id()) {
                (Some(id), Some(_)) => {
                    q.publish_stored(message.clone(), id);
                }
                _ => {
                    q.publish(message.clone());
                }
            }
        }
        targets.len()
    }
}

/// The routing keys of a message's `CC` and `BCC` headers (arrays of strings), in that order.
pub fn header_routes(headers: &FieldTable) -> impl Iterator<Item = &str> {
    ["CC", "BCC"].into_iter().flat_map(move |k| {
        headers
            .get(k)
            .and_then(FieldValue::as_array)
            .unwrap_or_default()
            .iter()
            .filter_map(FieldValue::as_str)
    })
}

/// A server-generated name: `prefix` and 22 URL-safe base64 characters, as RabbitMQ makes them.
fn generate_name(prefix: &str) -> ShortStr {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut rng = rand::thread_rng();
    let mut s = String::with_capacity(prefix.len() + 22);
    s.push_str(prefix);
    for _ in 0..22 {
        s.push(ALPHABET[rng.gen_range(0..64)] as char);
    }
    ShortStr::try_from(s).expect("short prefixes fit a shortstr")
}

/// The pseudo queue a client consumes from for direct reply-to (RabbitMQ's RPC shortcut).
pub const REPLY_QUEUE: &str = "amq.rabbitmq.reply-to";
/// The prefix of the per-channel reply addresses the broker hands out.
pub const REPLY_QUEUE_PREFIX: &str = "amq.rabbitmq.reply-to.";

/// A server-named queue: `amq.gen-...`.
pub fn generate_queue_name() -> ShortStr {
    generate_name("amq.gen-")
}

/// A server-generated consumer tag: `amq.ctag-...`.
pub fn generate_consumer_tag() -> ShortStr {
    generate_name("amq.ctag-")
}
