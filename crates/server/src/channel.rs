//! One AMQP channel: method dispatch, publish assembly, confirms, transactions, consumers and
//! the unacknowledged deliveries it owes the queues.
//!
//! Invariants:
//! - Delivery tags start at 1 and grow by one per delivery (consumer or basic.get) on this channel;
//!   `unacked` holds the outstanding ones in tag order.
//! - Every unacked delivery is settled exactly once: by ack/nack/reject, or by requeue when the
//!   channel closes. Credit taken by a queue for a delivery is given back at that moment.
//! - In confirm mode every publish gets exactly one ack or nack, in publish order; consecutive
//!   acks are coalesced into one `multiple` ack per batch of frames.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use crate::access;

mod framing;

use bytes::{Bytes, BytesMut};
use framing::Discard;
pub use framing::{content_without_publish, method_in_content};
use warren_amqp::{
    encode_ack_frame, encode_body_frames, encode_header_frame, encode_method_frame,
    encode_nack_frame, reply_code as rc, BasicGetOk, BasicPublish, BasicReturn, ContentHeader,
    Method, RawProperties, Route, ShortStr,
};
use warren_auth::{Access, ResourceKind};
use warren_core::definitions::BindingDef;
use warren_core::durable::LOG_EVERY;
use warren_core::vhost::{REPLY_QUEUE, REPLY_QUEUE_PREFIX};
use warren_core::{
    generate_consumer_tag, AmqpError, Broker, ChannelLimit, ConfirmTicket, ConnectionId, Consumer,
    Destination, Exchange, Gone, LogLimit, Message, Outbox, Queue, Result, Returned, VHost,
};

/// Class id of `basic`, the only class with content.
const BASIC_CLASS: u16 = 60;

/// What a channel needs from its connection while it handles a method.
pub struct Ctx<'a> {
    pub conn_id: ConnectionId,
    pub broker: &'a Broker,
    pub vhost: &'a Arc<VHost>,
    /// Who is connected: every operation is checked against its permissions.
    pub identity: &'a warren_auth::Identity,
    pub outbox: &'a Arc<Outbox>,
    pub out: &'a mut BytesMut,
    pub frame_max: u32,
    /// Reused by routing so a publish allocates no vector.
    pub scratch: &'a mut Vec<Arc<Queue>>,
    /// The connection's clock, read once per wake-up.
    pub now: tokio::time::Instant,
}

#[derive(Debug)]
pub struct Unacked {
    pub tag: u64,
    pub queue: Arc<Queue>,
    pub message: Message,
    /// None for basic.get deliveries, which take no credit.
    pub consumer: Option<Arc<Consumer>>,
    /// The message's id in the store (acked there when settled).
    pub stored: Option<warren_store::MsgId>,
    /// Its place in the queue's delivery order (a requeue puts it back there).
    pub order: u64,
    /// When it expires (ms since the Unix epoch, 0: never), kept if it is requeued.
    pub expires_at: u64,
    /// When it was delivered (the connection's clock of this wake-up), for the consumer
    /// timeout.
    pub delivered_at: tokio::time::Instant,
}

// The queue's `memory` estimate counts an unacknowledged delivery as this entry plus its body.
const _: () =
    assert!(std::mem::size_of::<Unacked>() as u64 == warren_core::queue::UNACKED_ENTRY_BYTES);

impl Unacked {
    /// Its queue, and what goes back there to settle it.
    fn returned(self) -> (Arc<Queue>, Returned) {
        let r = Returned {
            message: self.message,
            stored: self.stored,
            order: self.order,
            expires_at: self.expires_at,
        };
        (self.queue, r)
    }
}

#[derive(Debug)]
struct ChannelConsumer {
    consumer: Arc<Consumer>,
    queue: Arc<Queue>,
}

/// A publish whose content is still arriving.
#[derive(Debug)]
struct PendingPublish {
    method: BasicPublish,
    header: Option<ContentHeader>,
    body: BytesMut,
    /// The body when it came in exactly one frame (zero-copy).
    single: Option<Bytes>,
    received: u64,
    /// The user may not publish to this exchange: the body is counted, not kept, and the
    /// error is the answer once it has all arrived (as RabbitMQ, which checks after the
    /// content): a refused publish costs no memory.
    refused: Option<AmqpError>,
}

#[derive(Debug)]
enum TxOp {
    Publish {
        exchange: Arc<Exchange>,
        message: Message,
        mandatory: bool,
    },
    Settle {
        tag: u64,
        multiple: bool,
        ack: bool,
        requeue: bool,
    },
}

/// Where a publish stands for its publisher confirm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Confirm {
    /// With the store, waiting for the fsync.
    Waiting,
    /// With the store, and already refused by a queue that took no disk path: nack when done.
    WaitingNack,
    Ack,
    Nack,
}

#[derive(Debug, PartialEq, Eq)]
pub enum ChannelState {
    Open,
    /// We sent channel.close and wait for close-ok. Other methods and content are dropped
    /// (their frame order still checked); a channel.close is answered with close-ok and a
    /// channel.open is a second open (see connection.rs `on_channel_method`).
    Closing,
}

#[derive(Debug)]
pub struct Channel {
    pub id: u16,
    pub state: ChannelState,
    pending: Option<PendingPublish>,
    /// Closing: what is still to come of a publish, dropped (see `framing`).
    discard: Option<Discard>,
    consumers: HashMap<ShortStr, ChannelConsumer>,
    pub unacked: VecDeque<Unacked>,
    next_tag: u64,
    /// basic.qos prefetch for consumers created from now on (0 = unlimited).
    consumer_prefetch: u32,
    limit: Arc<ChannelLimit>,
    confirm: bool,
    next_publish_seq: u64,
    /// Publish sequence numbers to ack at the end of this batch: (first, last).
    /// Publisher confirms not yet written, in publish order.
    confirms: VecDeque<(u64, Confirm)>,
    /// Reused list of store queue ids for one publish.
    store_ids: Vec<warren_store::QueueId>,
    /// A persistent message could not be written and this channel is not in confirm mode:
    /// the connection closes the channel with an error (see `take_store_failure`).
    store_failed: bool,
    tx: Option<Vec<TxOp>>,
    last_queue: Option<ShortStr>,
    /// Message counts (management API); the connection adds what each call counted to its
    /// registry entry.
    pub counts: warren_core::MessageStats,
    /// Publishes on confirm/tx mode and body sizes (Prometheus); drained the same way.
    pub publishes: warren_core::stats::PublishStats,
    /// Has published: counted in the broker's publishers until it closes.
    pub publisher: bool,
    /// The last exchange this channel was allowed to publish to, with the permission
    /// generation of that answer (saves a permission check per message).
    write_allowed: Option<(ShortStr, u64)>,
    /// Direct reply-to: the private queue of this channel's `amq.rabbitmq.reply-to` consumer.
    reply_queue: Option<Arc<Queue>>,
}

impl Channel {
    pub fn new(id: u16) -> Channel {
        Channel {
            id,
            state: ChannelState::Open,
            pending: None,
            discard: None,
            consumers: HashMap::new(),
            unacked: VecDeque::new(),
            next_tag: 1,
            consumer_prefetch: 0,
            limit: Arc::new(ChannelLimit::default()),
            confirm: false,
            next_publish_seq: 1,
            confirms: VecDeque::new(),
            store_ids: Vec::new(),
            store_failed: false,
            tx: None,
            last_queue: None,
            counts: warren_core::MessageStats::default(),
            publishes: Default::default(),
            publisher: false,
            write_allowed: None,
            reply_queue: None,
        }
    }

    fn reply(&self, ctx: &mut Ctx<'_>, m: &Method) {
        encode_method_frame(ctx.out, self.id, m);
    }

    /// Handles one method addressed to this open channel.
    pub fn handle(&mut self, ctx: &mut Ctx<'_>, method: Method) -> Result<()> {
        match method {
            Method::ChannelFlow(f) => {
                if f.active {
                    self.reply(
                        ctx,
                        &Method::ChannelFlowOk(warren_amqp::ChannelFlowOk { active: true }),
                    );
                    Ok(())
                } else {
                    // RabbitMQ refuses to pause a channel this way: so do we.
                    Err(AmqpError::not_implemented("active=false"))
                }
            }
            Method::ChannelFlowOk(_) => Ok(()),
            Method::ExchangeDeclare(m) => {
                if !m.passive {
                    access::declare_exchange(ctx, &m.exchange, &m.arguments)?;
                }
                if m.durable && !m.passive {
                    // Saved before the declare-ok; not made if it cannot be saved (541).
                    ctx.broker.change_durably(
                        || {
                            let existed = ctx.vhost.exchange(&m.exchange).is_ok();
                            ctx.vhost.declare_exchange(&m)?;
                            Ok((!existed, !existed))
                        },
                        |created| {
                            if *created {
                                let _ = ctx.vhost.delete_exchange(&m.exchange, false);
                            }
                        },
                    )?;
                } else {
                    ctx.vhost.declare_exchange(&m)?;
                }
                if !m.no_wait {
                    self.reply(ctx, &Method::ExchangeDeclareOk);
                }
                Ok(())
            }
            Method::ExchangeDelete(m) => {
                ctx.vhost.check_exchange_deletable(&m.exchange)?;
                access::exchange(ctx, Access::Configure, &m.exchange)?;
                let durable = ctx.vhost.exchange(&m.exchange).is_ok_and(|x| x.durable);
                let delete = || ctx.vhost.delete_exchange(&m.exchange, m.if_unused);
                if durable {
                    let gone = Gone::Exchange {
                        vhost: &ctx.vhost.name,
                        name: &m.exchange,
                    };
                    ctx.broker.remove_durably(gone, delete)?;
                } else {
                    delete()?;
                }
                if !m.no_wait {
                    self.reply(ctx, &Method::ExchangeDeleteOk);
                }
                Ok(())
            }
            Method::ExchangeBind(m) => {
                let dest = (ResourceKind::Exchange, m.destination.as_str());
                access::binding(ctx, dest, &m.source, &m.routing_key)?;
                let bind = || {
                    ctx.vhost
                        .bind_exchange(&m.destination, &m.source, &m.routing_key, &m.arguments)
                };
                if durable_pair(ctx, &m.source, &m.destination) {
                    ctx.broker.change_durably(
                        || bind().map(|new| (new, new)),
                        |new| {
                            if *new {
                                let dest = Destination::Exchange(m.destination.clone());
                                ctx.vhost
                                    .undo_bind(&m.source, dest, &m.routing_key, &m.arguments);
                            }
                        },
                    )?;
                } else {
                    bind()?;
                }
                if !m.no_wait {
                    self.reply(ctx, &Method::ExchangeBindOk);
                }
                Ok(())
            }
            Method::ExchangeUnbind(m) => {
                let dest = (ResourceKind::Exchange, m.destination.as_str());
                access::binding(ctx, dest, &m.source, &m.routing_key)?;
                let unbind = || {
                    ctx.vhost.unbind_exchange(
                        &m.destination,
                        &m.source,
                        &m.routing_key,
                        &m.arguments,
                    )
                };
                if durable_pair(ctx, &m.source, &m.destination) {
                    let def = BindingDef::new(
                        &ctx.vhost.name,
                        &m.source,
                        "exchange",
                        &m.destination,
                        &m.routing_key,
                        &m.arguments,
                    );
                    ctx.broker.remove_durably(Gone::Binding(&def), unbind)?;
                } else {
                    unbind()?;
                }
                if !m.no_wait {
                    self.reply(ctx, &Method::ExchangeUnbindOk);
                }
                Ok(())
            }
            Method::QueueDeclare(m)
                if m.queue.as_str() == REPLY_QUEUE
                    || m.queue.as_str().starts_with(REPLY_QUEUE_PREFIX) =>
            {
                // The direct reply-to pseudo queue always "exists", and so does the address of
                // a live reply consumer, passive or not (as in RabbitMQ: 0 messages, 1
                // consumer); any other `amq.rabbitmq.reply-to.*` name is not found.
                if m.queue.as_str() != REPLY_QUEUE && !ctx.vhost.has_reply_queue(&m.queue) {
                    return Err(AmqpError::not_found(format!(
                        "no queue '{}' in vhost '{}'",
                        m.queue, ctx.vhost.name
                    )));
                }
                if !m.no_wait {
                    self.reply(
                        ctx,
                        &Method::QueueDeclareOk(warren_amqp::QueueDeclareOk {
                            queue: m.queue,
                            message_count: 0,
                            consumer_count: 1,
                        }),
                    );
                }
                Ok(())
            }
            Method::QueueDeclare(m) => {
                if !m.passive {
                    // A server-named queue is checked under a name of the same form.
                    let name = if m.queue.is_empty() {
                        warren_core::generate_queue_name()
                    } else {
                        m.queue.clone()
                    };
                    access::declare_queue(ctx, &name, &m.arguments)?;
                }
                let declare = || ctx.vhost.declare_queue(ctx.conn_id, &m);
                let d = if m.durable && !m.exclusive && !m.passive {
                    // Saved before the declare-ok; not made if it cannot be saved (541).
                    ctx.broker.change_durably(
                        || {
                            let d = declare()?;
                            let created = d.created;
                            Ok((d, created))
                        },
                        |d| {
                            if d.created {
                                let _ = ctx.vhost.remove_queue(&d.queue, false, false);
                            }
                        },
                    )?
                } else {
                    declare()?
                };
                self.last_queue = Some(d.queue.name.clone());
                if !m.no_wait {
                    self.reply(
                        ctx,
                        &Method::QueueDeclareOk(warren_amqp::QueueDeclareOk {
                            queue: d.queue.name.clone(),
                            message_count: d.message_count,
                            consumer_count: d.consumer_count,
                        }),
                    );
                }
                Ok(())
            }
            Method::QueueBind(m) => {
                let name = self.queue_name(&m.queue)?;
                let dest = (ResourceKind::Queue, name.as_str());
                access::binding(ctx, dest, &m.exchange, &m.routing_key)?;
                let q = self.queue(ctx, &m.queue)?;
                let key = if m.routing_key.is_empty() && m.queue.is_empty() {
                    q.name.clone()
                } else {
                    m.routing_key.clone()
                };
                let bind = || ctx.vhost.bind_queue(&q, &m.exchange, &key, &m.arguments);
                if q.durable && q.exclusive_owner.is_none() {
                    ctx.broker.change_durably(
                        || bind().map(|new| (new, new)),
                        |new| {
                            if *new {
                                let dest = Destination::Queue(q.clone());
                                ctx.vhost.undo_bind(&m.exchange, dest, &key, &m.arguments);
                            }
                        },
                    )?;
                } else {
                    bind()?;
                }
                if !m.no_wait {
                    self.reply(ctx, &Method::QueueBindOk);
                }
                Ok(())
            }
            Method::QueueUnbind(m) => {
                let name = self.queue_name(&m.queue)?;
                let dest = (ResourceKind::Queue, name.as_str());
                access::binding(ctx, dest, &m.exchange, &m.routing_key)?;
                // As for queue.bind: no queue and no key mean the last declared queue's name.
                let key = if m.routing_key.is_empty() && m.queue.is_empty() {
                    name.clone()
                } else {
                    m.routing_key.clone()
                };
                // As in RabbitMQ, a missing queue, exchange or binding is no error.
                let unbind = || {
                    ctx.vhost.unbind_queue_named(
                        &name,
                        ctx.conn_id,
                        &m.exchange,
                        &key,
                        &m.arguments,
                    )
                };
                let durable = ctx
                    .vhost
                    .queue(&name, ctx.conn_id)
                    .is_ok_and(|q| q.durable && q.exclusive_owner.is_none());
                if durable {
                    let def = BindingDef::new(
                        &ctx.vhost.name,
                        &m.exchange,
                        "queue",
                        &name,
                        &key,
                        &m.arguments,
                    );
                    ctx.broker.remove_durably(Gone::Binding(&def), unbind)?;
                } else {
                    unbind()?;
                }
                self.reply(ctx, &Method::QueueUnbindOk);
                Ok(())
            }
            Method::QueuePurge(m) => {
                access::queue(ctx, Access::Read, &self.queue_name(&m.queue)?)?;
                let q = self.queue(ctx, &m.queue)?;
                let n = q.purge();
                if !m.no_wait {
                    self.reply(
                        ctx,
                        &Method::QueuePurgeOk(warren_amqp::QueuePurgeOk { message_count: n }),
                    );
                }
                Ok(())
            }
            Method::QueueDelete(m) => {
                let name = self.queue_name(&m.queue)?;
                access::queue(ctx, Access::Configure, &name)?;
                // Only a durable queue is in the definitions file: deleting a transient one
                // must not cost a rewrite of it.
                let durable = ctx
                    .vhost
                    .queue(&name, ctx.conn_id)
                    .is_ok_and(|q| q.durable && q.exclusive_owner.is_none());
                let delete = || {
                    ctx.vhost
                        .delete_queue(&name, ctx.conn_id, m.if_unused, m.if_empty)
                };
                let n = if durable {
                    let gone = Gone::Queue {
                        vhost: &ctx.vhost.name,
                        name: &name,
                    };
                    ctx.broker.remove_durably(gone, delete)?
                } else {
                    delete()?
                };
                if !m.no_wait {
                    self.reply(
                        ctx,
                        &Method::QueueDeleteOk(warren_amqp::QueueDeleteOk { message_count: n }),
                    );
                }
                Ok(())
            }
            Method::BasicQos(m) => {
                if m.prefetch_size != 0 {
                    return Err(AmqpError::not_implemented(format!(
                        "prefetch_size!=0 ({})",
                        m.prefetch_size
                    )));
                }
                let count = u32::from(m.prefetch_count);
                if m.global {
                    self.limit
                        .prefetch
                        .store(count, std::sync::atomic::Ordering::Relaxed);
                    // A larger window may let waiting messages through now.
                    self.kick_queues();
                } else {
                    self.consumer_prefetch = count;
                }
                self.reply(ctx, &Method::BasicQosOk);
                Ok(())
            }
            Method::BasicConsume(m) => {
                access::queue(ctx, Access::Read, &self.queue_name(&m.queue)?)?;
                let direct_reply = m.queue.as_str() == REPLY_QUEUE;
                let q = if direct_reply {
                    if !m.no_ack {
                        return Err(AmqpError::precondition_failed(
                            "reply consumer cannot acknowledge",
                        ));
                    }
                    if self.reply_queue.is_some() {
                        return Err(AmqpError::precondition_failed("reply consumer already set"));
                    }
                    ctx.vhost.create_reply_queue(ctx.conn_id)
                } else {
                    self.queue(ctx, &m.queue)?
                };
                let priority =
                    warren_core::arguments::consumer_priority(&m.arguments, &q.describe())?;
                let tag = if m.consumer_tag.is_empty() {
                    generate_consumer_tag()
                } else {
                    m.consumer_tag.detached()
                };
                if self.consumers.contains_key(tag.as_str()) {
                    return Err(AmqpError::not_allowed(format!(
                        "attempt to reuse consumer tag '{tag}'"
                    )));
                }
                let consumer = Arc::new(
                    Consumer::new(
                        tag.clone(),
                        self.id,
                        ctx.conn_id,
                        m.no_ack,
                        m.exclusive,
                        self.consumer_prefetch,
                        self.limit.clone(),
                        ctx.outbox.clone(),
                    )
                    .with_priority(priority),
                );
                // consume-ok goes out before any delivery: deliveries come through the outbox,
                // which the connection reads only after this method's reply is written.
                let mark = ctx.out.len();
                if !m.no_wait {
                    self.reply(
                        ctx,
                        &Method::BasicConsumeOk(warren_amqp::BasicConsumeOk {
                            consumer_tag: tag.clone(),
                        }),
                    );
                }
                if let Err(e) = q.consume(consumer.clone()) {
                    // Take the reply back: the channel closes instead.
                    ctx.out.truncate(mark);
                    if direct_reply {
                        ctx.vhost.remove_reply_queue(&q);
                    }
                    return Err(e);
                }
                if direct_reply {
                    self.reply_queue = Some(q.clone());
                }
                self.consumers
                    .insert(tag, ChannelConsumer { consumer, queue: q });
                Ok(())
            }
            Method::BasicCancel(m) => {
                self.cancel_consumer(ctx, m.consumer_tag.as_str());
                if !m.no_wait {
                    self.reply(
                        ctx,
                        &Method::BasicCancelOk(warren_amqp::BasicCancelOk {
                            consumer_tag: m.consumer_tag,
                        }),
                    );
                }
                Ok(())
            }
            // A client confirming our server-initiated cancel.
            Method::BasicCancelOk(_) => Ok(()),
            Method::BasicPublish(m) => {
                if m.immediate {
                    return Err(AmqpError::not_implemented("immediate=true"));
                }
                let refused = self.check_publish(ctx, &m.route).err();
                self.pending = Some(PendingPublish {
                    method: m,
                    header: None,
                    body: BytesMut::new(),
                    single: None,
                    received: 0,
                    refused,
                });
                Ok(())
            }
            Method::BasicGet(m) => {
                access::queue(ctx, Access::Read, &self.queue_name(&m.queue)?)?;
                let q = self.queue(ctx, &m.queue)?;
                match q.get(m.no_ack) {
                    None => {
                        self.counts.get_empty += 1;
                        self.reply(ctx, &Method::BasicGetEmpty)
                    }
                    Some(got) => {
                        if m.no_ack {
                            self.counts.get_no_ack += 1;
                        } else {
                            self.counts.get += 1;
                        }
                        self.counts.redeliver += u64::from(got.redelivered);
                        let tag = self.next_tag;
                        self.next_tag += 1;
                        let ok = Method::BasicGetOk(BasicGetOk {
                            delivery_tag: tag,
                            redelivered: got.redelivered,
                            exchange: got.message.route.exchange_short(),
                            routing_key: got.message.route.routing_key_short(),
                            message_count: got.remaining,
                        });
                        self.reply(ctx, &ok);
                        write_content(ctx, self.id, &got.message);
                        if !m.no_ack {
                            self.unacked.push_back(Unacked {
                                tag,
                                queue: q,
                                message: got.message,
                                consumer: None,
                                stored: got.stored,
                                order: got.order,
                                expires_at: got.expires_at,
                                delivered_at: ctx.now,
                            });
                        }
                    }
                }
                Ok(())
            }
            Method::BasicAck(m) => self.settle(ctx, m.delivery_tag, m.multiple, true, false),
            Method::BasicNack(m) => self.settle(ctx, m.delivery_tag, m.multiple, false, m.requeue),
            Method::BasicReject(m) => self.settle(ctx, m.delivery_tag, false, false, m.requeue),
            Method::BasicRecoverAsync(m) => {
                if !m.requeue {
                    return Err(AmqpError::not_implemented("requeue=false"));
                }
                self.requeue_all_unacked();
                Ok(())
            }
            Method::BasicRecover(m) => {
                if !m.requeue {
                    return Err(AmqpError::not_implemented("requeue=false"));
                }
                self.requeue_all_unacked();
                self.reply(ctx, &Method::BasicRecoverOk);
                Ok(())
            }
            Method::ConfirmSelect(m) => {
                if self.tx.is_some() {
                    return Err(AmqpError::precondition_failed(
                        "cannot switch from tx to confirm mode",
                    ));
                }
                self.confirm = true;
                if !m.no_wait {
                    self.reply(ctx, &Method::ConfirmSelectOk);
                }
                Ok(())
            }
            Method::TxSelect => {
                if self.confirm {
                    return Err(AmqpError::precondition_failed(
                        "cannot switch from confirm to tx mode",
                    ));
                }
                self.tx.get_or_insert_with(Vec::new);
                self.reply(ctx, &Method::TxSelectOk);
                Ok(())
            }
            Method::TxCommit => {
                let Some(ops) = self.tx.replace(Vec::new()) else {
                    return Err(AmqpError::precondition_failed(
                        "channel is not transactional",
                    ));
                };
                for op in ops {
                    match op {
                        TxOp::Publish {
                            exchange,
                            message,
                            mandatory,
                        } => {
                            self.route(ctx, &exchange, message, mandatory);
                            self.check_store_failure()?;
                        }
                        TxOp::Settle {
                            tag,
                            multiple,
                            ack,
                            requeue,
                        } => self.apply_settle(tag, multiple, ack, requeue)?,
                    }
                }
                self.reply(ctx, &Method::TxCommitOk);
                Ok(())
            }
            Method::TxRollback => {
                let Some(ops) = self.tx.as_mut() else {
                    return Err(AmqpError::precondition_failed(
                        "channel is not transactional",
                    ));
                };
                ops.clear();
                self.reply(ctx, &Method::TxRollbackOk);
                Ok(())
            }
            other => Err(AmqpError::command_invalid(format!(
                "unexpected method {} on channel {}",
                other.name(),
                self.id
            ))),
        }
    }

    /// Resolves a queue name from a method ("" = the last queue declared on this channel).
    fn queue_name(&self, name: &ShortStr) -> Result<ShortStr> {
        if !name.is_empty() {
            return Ok(name.clone());
        }
        self.last_queue
            .clone()
            .ok_or_else(|| AmqpError::not_found("no previously declared queue"))
    }

    fn queue(&self, ctx: &Ctx<'_>, name: &ShortStr) -> Result<Arc<Queue>> {
        let name = self.queue_name(name)?;
        ctx.vhost.queue(&name, ctx.conn_id)
    }

    /// A content header frame arrived for this channel.
    pub fn on_header(&mut self, ctx: &mut Ctx<'_>, header: ContentHeader) -> Result<()> {
        let Some(p) = self.pending.as_mut() else {
            return Err(AmqpError::unexpected_frame(
                "expected method frame, got non method frame instead",
            ));
        };
        if p.header.is_some() {
            return Err(AmqpError::unexpected_frame(
                "expected content body, got non content body frame instead",
            ));
        }
        if header.class_id != BASIC_CLASS {
            return Err(AmqpError::unexpected_frame(format!(
                "expected content header for class {BASIC_CLASS}, got class {} instead",
                header.class_id
            )));
        }
        let max = ctx.broker.limits.max_message_size;
        if header.body_size > max {
            let size = header.body_size;
            // The channel closes; its body frames, still to come, will be dropped.
            p.header = Some(header);
            return Err(AmqpError::precondition_failed(format!(
                "message size {size} is larger than configured max size {max}"
            )));
        }
        let done = header.body_size == 0;
        p.header = Some(header);
        if done {
            self.finish_publish(ctx)?;
        }
        Ok(())
    }

    /// A body frame arrived for this channel.
    pub fn on_body(&mut self, ctx: &mut Ctx<'_>, payload: Bytes) -> Result<()> {
        let Some(p) = self.pending.as_mut() else {
            return Err(AmqpError::unexpected_frame(
                "expected method frame, got non method frame instead",
            ));
        };
        let Some(header) = p.header.as_ref() else {
            return Err(AmqpError::unexpected_frame(format!(
                "expected content header for class {BASIC_CLASS}, got non content header frame instead"
            )));
        };
        let size = header.body_size;
        p.received += payload.len() as u64;
        if p.received > size {
            return Err(AmqpError::frame_error(format!(
                "body frames carry {} bytes, more than the {size} announced",
                p.received
            )));
        }
        if p.refused.is_some() {
            // Counted, not kept.
        } else if p.received == size && p.single.is_none() && p.body.is_empty() {
            p.single = Some(payload);
        } else {
            if let Some(first) = p.single.take() {
                p.body.extend_from_slice(&first);
            }
            // Grown with what arrives (amortized doubling), never reserved for the size the
            // header announced: one byte of body after a header announcing 16 MiB must not
            // cost 16 MiB (2,047 such channels reserved 32 GiB and raised the memory alarm).
            p.body.extend_from_slice(&payload);
        }
        if p.received == size {
            self.finish_publish(ctx)?;
        }
        Ok(())
    }

    fn finish_publish(&mut self, ctx: &mut Ctx<'_>) -> Result<()> {
        let Some(p) = self.pending.take() else {
            return Ok(());
        };
        let Some(header) = p.header else {
            return Ok(());
        };
        let body = match p.single {
            Some(b) => b,
            None => p.body.freeze(),
        };
        // As RabbitMQ, a publish counts as received (and the channel as a publisher) before
        // its exchange is looked up.
        if !self.publisher {
            self.publisher = true;
            warren_core::stats::bump(&ctx.broker.churn.publishers, 1);
        }
        self.publishes
            .observe(body.len() as u64, self.confirm || self.tx.is_some());
        if let Some(e) = header.properties.expiration() {
            warren_core::arguments::parse_expiration(&e)?;
        }
        if let Some(e) = p.refused {
            return Err(e);
        }
        access::publisher_user_id(ctx, header.properties.user_id())?;
        let exchange = ctx.vhost.exchange(p.method.exchange())?;
        access::topic(ctx, Access::Write, &exchange, p.method.routing_key())?;
        if exchange.internal {
            return Err(AmqpError::access_refused(format!(
                "cannot publish to internal exchange '{}' in vhost '{}'",
                exchange.name, ctx.vhost.name
            )));
        }
        let mut properties = header.properties;
        if let Some(reply_to) = properties.reply_to() {
            if reply_to.as_str() == REPLY_QUEUE {
                properties = self.direct_reply_address(properties)?;
            }
        }
        let message = Message::new(p.method.route, properties, body);
        if let Some(ops) = self.tx.as_mut() {
            ops.push(TxOp::Publish {
                exchange,
                message,
                mandatory: p.method.mandatory,
            });
            return Ok(());
        }
        self.route(ctx, &exchange, message, p.method.mandatory);
        self.check_store_failure()
    }

    /// Write permission on the exchange of a publish, remembered while permissions do not
    /// change (one atomic load per message instead of a lock and a regex search).
    fn check_publish(&mut self, ctx: &Ctx<'_>, route: &Route) -> Result<()> {
        let generation = ctx.identity.generation();
        let exchange = route.exchange();
        if self
            .write_allowed
            .as_ref()
            .is_some_and(|(x, g)| x.as_str() == exchange && *g == generation)
        {
            return Ok(());
        }
        access::exchange(ctx, Access::Write, exchange)?;
        self.write_allowed = Some((route.exchange_short(), generation));
        Ok(())
    }

    /// Direct reply-to: a request naming `amq.rabbitmq.reply-to` as its reply address gets this
    /// channel's private reply queue instead (406 if the channel does not consume replies).
    fn direct_reply_address(&self, properties: RawProperties) -> Result<RawProperties> {
        let Some(q) = &self.reply_queue else {
            return Err(AmqpError::precondition_failed(
                "fast reply consumer does not exist",
            ));
        };
        let mut props = properties
            .decode()
            .map_err(|e| AmqpError::frame_error(format!("malformed properties: {e}")))?;
        props.reply_to = Some(q.name.clone());
        Ok(props.encode())
    }

    /// A persistent message this channel published could not be written and no nack could
    /// tell the publisher: the connection is closed (541) rather than lose it silently.
    fn check_store_failure(&mut self) -> Result<()> {
        if std::mem::take(&mut self.store_failed) {
            return Err(AmqpError::internal_error(
                "a persistent message could not be written to disk (disk full or failing); see the broker log",
            ));
        }
        Ok(())
    }

    fn route(
        &mut self,
        ctx: &mut Ctx<'_>,
        exchange: &Arc<Exchange>,
        message: Message,
        mandatory: bool,
    ) {
        let mut scratch = std::mem::take(ctx.scratch);
        let mut message = match ctx.vhost.route_message(exchange, &message, &mut scratch) {
            Some(without_bcc) => without_bcc,
            None => message,
        };
        let routed = scratch.len();
        self.counts.publish += 1;
        if routed == 0 {
            if mandatory {
                self.counts.return_unroutable += 1;
            } else {
                self.counts.drop_unroutable += 1;
            }
        }
        let seq = self.confirm.then(|| {
            let seq = self.next_publish_seq;
            self.next_publish_seq += 1;
            seq
        });
        // Persistent messages for durable queues are appended to the store (once, whatever
        // the number of queues) and enqueued at once; only their confirm waits for the fsync.
        let durability = ctx.broker.durability().filter(|_| message.is_persistent());
        let mut rejected = false;
        let mut stored_ids = std::mem::take(&mut self.store_ids);
        stored_ids.clear();
        // Each queue gets a clone of the message (reference counts), except the last one,
        // which takes it when nothing is left to do with it: no queue stores it (below) and,
        // having been routed, it is not returned.
        let stores = |q: &Arc<Queue>| durability.is_some() && q.store_id().is_some();
        let takes = if scratch.iter().any(stores) {
            None
        } else {
            scratch.len().checked_sub(1)
        };
        for (i, q) in scratch.iter().enumerate() {
            match (durability, q.store_id()) {
                (Some(_), Some(id)) if !q.refuses(message.body.len() as u64) => stored_ids.push(id),
                (Some(_), Some(_)) => {
                    q.refuse(&message);
                    rejected = true;
                }
                _ if takes == Some(i) => rejected |= !q.publish(std::mem::take(&mut message)),
                _ => rejected |= !q.publish(message.clone()),
            }
        }
        let mut await_sync = false;
        let mut stored_msg = 0;
        if let (Some(d), false) = (durability, stored_ids.is_empty()) {
            match d.append(&message, &stored_ids) {
                Ok((id, _)) => {
                    await_sync = true;
                    stored_msg = id;
                    // The queues it was stored for: not those that refused it above.
                    let stored_for =
                        |q: &&Arc<Queue>| q.store_id().is_some_and(|qid| stored_ids.contains(&qid));
                    for q in scratch.iter().filter(stored_for) {
                        rejected |= !q.publish_stored(message.clone(), id);
                    }
                }
                Err(e) => {
                    static STORE_FAILED: LogLimit = LogLimit::new(LOG_EVERY);
                    warren_core::limited!(
                        error,
                        STORE_FAILED,
                        "could not store a persistent message: {e}"
                    );
                    if seq.is_none() {
                        self.store_failed = true;
                    }
                    rejected = true;
                }
            }
        }
        self.store_ids = stored_ids;
        scratch.clear();
        *ctx.scratch = scratch;
        if routed == 0 && mandatory {
            self.reply(
                ctx,
                &Method::BasicReturn(BasicReturn {
                    reply_code: rc::NO_ROUTE,
                    reply_text: ShortStr::from_static("NO_ROUTE"),
                    exchange: message.route.exchange_short(),
                    routing_key: message.route.routing_key_short(),
                }),
            );
            write_content(ctx, self.id, &message);
        }
        let Some(seq) = seq else { return };
        match (await_sync, durability) {
            (true, Some(d)) => {
                let st = if rejected {
                    Confirm::WaitingNack
                } else {
                    Confirm::Waiting
                };
                self.confirms.push_back((seq, st));
                d.confirm_after_sync(ConfirmTicket {
                    outbox: ctx.outbox.clone(),
                    channel: self.id,
                    seq,
                    msg: stored_msg,
                });
            }
            _ => {
                let st = if rejected {
                    Confirm::Nack
                } else {
                    Confirm::Ack
                };
                self.confirms.push_back((seq, st));
            }
        }
    }

    /// The store has every publish of this channel up to `seq`.
    pub fn store_confirmed(&mut self, seq: u64) {
        for (s, st) in self.confirms.iter_mut() {
            if *s > seq {
                break;
            }
            match *st {
                Confirm::Waiting => *st = Confirm::Ack,
                Confirm::WaitingNack => *st = Confirm::Nack,
                _ => {}
            }
        }
    }

    /// The store could not take publish `seq`.
    pub fn store_refused(&mut self, seq: u64) {
        if let Some((_, st)) = self.confirms.iter_mut().find(|(s, _)| *s == seq) {
            *st = Confirm::Nack;
        }
    }

    pub fn has_confirms_pending(&self) -> bool {
        self.confirms
            .front()
            .is_some_and(|(_, st)| !matches!(st, Confirm::Waiting | Confirm::WaitingNack))
    }

    /// Writes the confirms that are decided, in publish order: a run of acks as one
    /// `multiple` ack, nacks one by one (after the acks before them).
    pub fn flush_confirms(&mut self, out: &mut BytesMut) {
        let mut run: Option<(u64, usize)> = None;
        while let Some(&(seq, st)) = self.confirms.front() {
            match st {
                Confirm::Waiting | Confirm::WaitingNack => break,
                Confirm::Ack => {
                    self.counts.confirm += 1;
                    run = Some((seq, run.map_or(1, |(_, n)| n + 1)))
                }
                Confirm::Nack => {
                    if let Some((last, n)) = run.take() {
                        encode_ack_frame(out, self.id, last, n > 1);
                    }
                    encode_nack_frame(out, self.id, seq, false, false);
                }
            }
            self.confirms.pop_front();
        }
        if let Some((last, n)) = run {
            encode_ack_frame(out, self.id, last, n > 1);
        }
    }

    /// basic.ack / nack / reject.
    fn settle(
        &mut self,
        _ctx: &mut Ctx<'_>,
        tag: u64,
        multiple: bool,
        ack: bool,
        requeue: bool,
    ) -> Result<()> {
        if let Some(ops) = self.tx.as_mut() {
            // Checked now, applied on commit.
            if (!multiple || tag != 0) && !self.unacked.iter().any(|u| u.tag == tag) {
                return Err(AmqpError::precondition_failed(format!(
                    "unknown delivery tag {tag}"
                )));
            }
            ops.push(TxOp::Settle {
                tag,
                multiple,
                ack,
                requeue,
            });
            return Ok(());
        }
        self.apply_settle(tag, multiple, ack, requeue)
    }

    fn apply_settle(&mut self, tag: u64, multiple: bool, ack: bool, requeue: bool) -> Result<()> {
        let unknown = || AmqpError::precondition_failed(format!("unknown delivery tag {tag}"));
        if multiple {
            let n = if tag == 0 {
                self.unacked.len()
            } else {
                if !self.unacked.iter().any(|u| u.tag == tag) {
                    return Err(unknown());
                }
                self.unacked.partition_point(|u| u.tag <= tag)
            };
            let taken: Vec<Unacked> = self.unacked.drain(..n).collect();
            if ack {
                self.counts.ack += taken.len() as u64;
                settle_by_queue(taken, |q, msgs| q.settle_many(&msgs));
            } else if !requeue {
                settle_by_queue(taken, |q, msgs| q.reject(msgs));
            } else {
                settle_by_queue(taken, |q, msgs| q.requeue(msgs));
            }
        } else {
            // The common case, one ack in tag order, allocates nothing.
            let pos = if self.unacked.front().is_some_and(|u| u.tag == tag) {
                Some(0)
            } else {
                self.unacked.binary_search_by_key(&tag, |u| u.tag).ok()
            };
            let u = pos
                .and_then(|i| self.unacked.remove(i))
                .ok_or_else(unknown)?;
            if let Some(c) = &u.consumer {
                c.release_credit(1);
            }
            if ack {
                self.counts.ack += 1;
                u.queue.settle(&u.message, u.stored);
            } else if !requeue {
                let (q, r) = u.returned();
                q.reject(std::iter::once(r));
            } else {
                let (q, r) = u.returned();
                q.requeue(std::iter::once(r));
            }
        }
        if self
            .limit
            .prefetch
            .load(std::sync::atomic::Ordering::Relaxed)
            != 0
        {
            self.kick_queues();
        }
        Ok(())
    }

    /// Asks every queue this channel consumes from to deliver again.
    fn kick_queues(&self) {
        for c in self.consumers.values() {
            c.queue.dispatch();
        }
    }

    fn requeue_all_unacked(&mut self) {
        let taken: Vec<Unacked> = self.unacked.drain(..).collect();
        settle_by_queue(taken, |q, msgs| q.requeue(msgs));
    }

    fn cancel_consumer(&mut self, ctx: &mut Ctx<'_>, tag: &str) {
        if let Some(c) = self.consumers.remove(tag) {
            if self
                .reply_queue
                .as_ref()
                .is_some_and(|r| Arc::ptr_eq(r, &c.queue))
            {
                self.reply_queue = None;
                c.queue.cancel(&c.consumer);
                ctx.vhost.remove_reply_queue(&c.queue);
                return;
            }
            if c.queue.cancel(&c.consumer) {
                let _ = ctx.vhost.remove_queue(&c.queue, false, false);
                if c.queue.durable {
                    ctx.broker.definitions_changed();
                }
            }
        }
    }

    /// The broker cancelled a consumer (its queue is gone). Returns whether it was ours.
    pub fn consumer_cancelled(&mut self, tag: &str) -> bool {
        self.consumers.remove(tag).is_some()
    }

    /// Is this consumer object still subscribed on this channel?
    pub fn has_consumer(&self, consumer: &Arc<Consumer>) -> bool {
        self.consumers
            .get(consumer.tag.as_str())
            .is_some_and(|c| Arc::ptr_eq(&c.consumer, consumer))
    }

    /// Writes a delivery for one of this channel's consumers and records it if it needs an ack.
    pub fn deliver(&mut self, ctx: &mut Ctx<'_>, d: warren_core::Delivery) {
        let tag = self.next_tag;
        self.next_tag += 1;
        warren_amqp::encode_deliver_frame_route(
            ctx.out,
            self.id,
            d.consumer.tag.as_str(),
            tag,
            d.redelivered,
            &d.message.route,
        );
        write_content(ctx, self.id, &d.message);
        if d.consumer.no_ack {
            self.counts.deliver_no_ack += 1;
        } else {
            self.counts.deliver += 1;
        }
        self.counts.redeliver += u64::from(d.redelivered);
        if !d.consumer.no_ack {
            self.unacked.push_back(Unacked {
                tag,
                queue: d.queue,
                message: d.message,
                consumer: Some(d.consumer),
                stored: d.stored,
                order: d.order,
                expires_at: d.expires_at,
                delivered_at: ctx.now,
            });
        } else if let Some(id) = d.stored {
            // Written to the client: a no-ack delivery is settled now.
            d.queue.ack_stored(id);
        }
    }

    /// The channel is going away: cancel its consumers and requeue what it did not settle.
    pub fn close(&mut self, ctx: &mut Ctx<'_>) {
        let tags: Vec<ShortStr> = self.consumers.keys().cloned().collect();
        for t in tags {
            self.cancel_consumer(ctx, &t);
        }
        self.requeue_all_unacked();
        self.discard_pending();
        self.state = ChannelState::Closing;
    }

    /// The consumer timeout: if the oldest unacked delivery has waited longer than its queue's
    /// `x-consumer-timeout` (or the broker's default), the error that closes the channel.
    pub fn ack_timeout(&self, now: tokio::time::Instant, default_ms: u64) -> Option<AmqpError> {
        let u = self.unacked.front()?;
        let ms = u
            .queue
            .effective_args()
            .consumer_timeout
            .unwrap_or(default_ms);
        if ms == 0 || now.duration_since(u.delivered_at).as_millis() < u128::from(ms) {
            return None;
        }
        Some(AmqpError::precondition_failed(format!(
            "delivery acknowledgement on channel {} timed out. Timeout value used: {ms} ms. \
             This timeout value can be configured, see consumers doc guide to learn more",
            self.id
        )))
    }

    /// Queues this channel consumes from (to kick after its connection drained its outbox).
    pub fn consumer_queues(&self) -> impl Iterator<Item = &Arc<Queue>> {
        self.consumers.values().map(|c| &c.queue)
    }

    /// This channel as the management API shows it.
    pub fn info(&self) -> warren_core::ChannelInfo {
        warren_core::ChannelInfo {
            number: self.id,
            prefetch_count: self.consumer_prefetch,
            global_prefetch_count: self
                .limit
                .prefetch
                .load(std::sync::atomic::Ordering::Relaxed),
            messages_unacknowledged: self.unacked.len() as u64,
            messages_unconfirmed: self.confirms.len() as u64,
            messages_uncommitted: self.tx.as_ref().map_or(0, |t| t.len() as u64),
            consumer_count: self.consumers.len() as u64,
            confirm: self.confirm,
            transactional: self.tx.is_some(),
            closing: self.state == ChannelState::Closing,
            counts: self.counts,
        }
    }
}

/// Is an exchange-to-exchange binding between these two in the definitions (both durable)?
fn durable_pair(ctx: &Ctx<'_>, source: &str, destination: &str) -> bool {
    let durable = |name: &str| ctx.vhost.exchange(name).is_ok_and(|x| x.durable);
    durable(source) && durable(destination)
}

/// Groups settled deliveries by queue (keeping tag order), gives credit back to consumers, and
/// calls `f` once per queue with its messages.
type Settled = Vec<Returned>;

fn settle_by_queue(taken: Vec<Unacked>, mut f: impl FnMut(&Arc<Queue>, Settled)) {
    if taken.is_empty() {
        return;
    }
    let mut groups: Vec<(Arc<Queue>, Settled)> = Vec::new();
    for u in taken {
        if let Some(c) = &u.consumer {
            c.release_credit(1);
        }
        let (queue, r) = u.returned();
        match groups.iter_mut().find(|(q, _)| Arc::ptr_eq(q, &queue)) {
            Some((_, v)) => v.push(r),
            None => groups.push((queue, vec![r])),
        }
    }
    for (q, msgs) in groups {
        f(&q, msgs);
    }
}

/// Content header and body frames of a message, as sent with deliver, get-ok and return.
pub fn write_content(ctx: &mut Ctx<'_>, channel: u16, message: &Message) {
    encode_header_frame(
        ctx.out,
        channel,
        BASIC_CLASS,
        message.body.len() as u64,
        &message.properties,
    );
    encode_body_frames(ctx.out, channel, &message.body, ctx.frame_max);
}
