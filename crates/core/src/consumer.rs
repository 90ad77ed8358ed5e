//! Consumers, their prefetch credit, and the mailbox a queue delivers into.
//!
//! A queue never writes to a socket. It hands a [`Delivery`] to the consumer's connection through
//! that connection's [`Outbox`]; the connection assigns the delivery tag, records the unacked
//! delivery on its channel, encodes and writes the frames.
//!
//! Credit (the receiver's window): a consumer in manual-ack mode may hold at most `prefetch`
//! unacknowledged deliveries (0 = no limit), and all consumers of a channel together at most the
//! channel's global prefetch. Both counters are atomics shared between the queue (which takes
//! credit when it delivers) and the channel (which returns it on ack, nack, reject or close).
//! A consumer whose connection has too many deliveries not yet written gets nothing either, so a
//! slow reader cannot make the broker buffer without bound.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::Notify;
use warren_amqp::ShortStr;

use crate::error::AmqpError;
use crate::message::Message;
use crate::queue::Queue;

/// Identifies a client connection within the broker (exclusive queues, consumers).
pub type ConnectionId = u64;

/// Deliveries a connection may have waiting in its outbox before queues stop feeding it.
pub const OUTBOX_HIGH_WATER: usize = 2048;

/// Body bytes a connection may have waiting in its outbox before queues stop feeding it (one
/// delivery always gets through, whatever its size): with large messages the count above would
/// let a consumer that does not read pull gigabytes out of its queues.
pub const OUTBOX_HIGH_WATER_BYTES: usize = 1 << 20;

/// A mailbox capacity kept while idle; beyond it, an empty mailbox gives its memory back
/// ([`Mailbox::trim`]).
const KEEP_EVENTS: usize = 64;

/// What queues and the broker tell a connection.
#[derive(Debug)]
pub enum ConnEvent {
    /// A message for one of this connection's consumers.
    Deliver(Delivery),
    /// The broker cancelled a consumer (its queue was deleted).
    ConsumerCancelled {
        channel: u16,
        consumer_tag: ShortStr,
    },
    /// Close the connection with this error (shutdown, an operator's request).
    Close(AmqpError),
    /// The store has every publish of this channel up to `seq` (publisher confirms).
    Confirm { channel: u16, seq: u64 },
    /// The store could not take publish `seq` of this channel.
    Nack { channel: u16, seq: u64 },
    /// Describe your channels (management API); answered between two batches of work.
    Inspect(tokio::sync::oneshot::Sender<Vec<crate::registry::ChannelInfo>>),
}

#[derive(Debug)]
pub struct Delivery {
    pub consumer: Arc<Consumer>,
    pub queue: Arc<Queue>,
    pub message: Message,
    pub redelivered: bool,
    /// The message's id in the store, when it is stored (acked there when settled).
    pub stored: Option<warren_store::MsgId>,
    /// Its place in the queue's delivery order (a requeue puts it back there).
    pub order: u64,
    /// When it expires, in ms since the Unix epoch (0: never); kept if it is requeued.
    pub expires_at: u64,
}

/// A connection's inbound mailbox for deliveries and broker events: the sending side, shared
/// by the queues and the broker; the connection takes the events through its [`Mailbox`].
///
/// A locked queue rather than tokio's unbounded channel: it allocates nothing until the first
/// event (the channel allocates a block of 32 events, ~4.8 KiB, for every connection up front,
/// a quarter of an idle connection's memory), and the connection takes everything waiting with
/// one lock. Senders wake the connection only when the mailbox was empty.
#[derive(Debug, Default)]
pub struct Outbox {
    inbox: Mutex<Inbox>,
    wake: Notify,
    /// Deliveries sent and not yet taken by the connection, and their body bytes.
    pending: AtomicUsize,
    pending_bytes: AtomicUsize,
    /// Set when a queue skipped one of this connection's consumers because the outbox was
    /// full; the connection then asks its consumers' queues to dispatch again once it drained.
    starved: AtomicBool,
}

#[derive(Debug, Default)]
struct Inbox {
    events: VecDeque<ConnEvent>,
    /// The connection is gone: sends fail and give the event back.
    closed: bool,
}

impl Outbox {
    pub fn new() -> (Arc<Outbox>, Mailbox) {
        let outbox = Arc::new(Outbox::default());
        let mailbox = Mailbox {
            outbox: outbox.clone(),
            batch: VecDeque::new(),
        };
        (outbox, mailbox)
    }

    /// Sends an event; gives it back if the connection is gone.
    // The error is the event itself, handed back by move as tokio's `SendError` does; a
    // delivery holds its message inline, which is what the lint counts.
    #[allow(clippy::result_large_err)]
    pub fn send(&self, ev: ConnEvent) -> Result<(), ConnEvent> {
        let was_empty = {
            let mut inbox = self.inbox.lock();
            if inbox.closed {
                return Err(ev);
            }
            if let ConnEvent::Deliver(d) = &ev {
                self.pending.fetch_add(1, Ordering::Relaxed);
                self.pending_bytes
                    .fetch_add(d.message.body.len(), Ordering::Relaxed);
            }
            let was_empty = inbox.events.is_empty();
            inbox.events.push_back(ev);
            was_empty
        };
        if was_empty {
            self.wake.notify_one();
        }
        Ok(())
    }

    pub fn is_congested(&self) -> bool {
        self.pending.load(Ordering::Relaxed) >= OUTBOX_HIGH_WATER
            || self.pending_bytes.load(Ordering::Relaxed) >= OUTBOX_HIGH_WATER_BYTES
    }

    pub fn mark_starved(&self) {
        self.starved.store(true, Ordering::Relaxed);
    }

    /// Whether a queue skipped a consumer of this connection since the last call.
    pub fn take_starved(&self) -> bool {
        self.starved.load(Ordering::Relaxed) && self.starved.swap(false, Ordering::Relaxed)
    }

    fn taken(&self, ev: &ConnEvent) {
        if let ConnEvent::Deliver(d) = ev {
            self.pending.fetch_sub(1, Ordering::Relaxed);
            self.pending_bytes
                .fetch_sub(d.message.body.len(), Ordering::Relaxed);
        }
    }
}

/// The connection's receiving side of its [`Outbox`].
#[derive(Debug)]
pub struct Mailbox {
    outbox: Arc<Outbox>,
    /// Events taken from the inbox with one lock, handed out one by one.
    batch: VecDeque<ConnEvent>,
}

impl Mailbox {
    /// The next event, waiting for one. Cancel-safe: an event is taken only when returned.
    pub async fn recv(&mut self) -> ConnEvent {
        loop {
            if let Some(ev) = self.try_recv() {
                return ev;
            }
            // A send between the check above and this wait leaves a permit: no lost wake-up.
            self.outbox.wake.notified().await;
        }
    }

    /// The next event if there is one.
    pub fn try_recv(&mut self) -> Option<ConnEvent> {
        if self.batch.is_empty() {
            let mut inbox = self.outbox.inbox.lock();
            if inbox.events.is_empty() {
                return None;
            }
            // The emptied batch (with its capacity) becomes the inbox: no allocation.
            std::mem::swap(&mut inbox.events, &mut self.batch);
        }
        let ev = self.batch.pop_front()?;
        self.outbox.taken(&ev);
        Some(ev)
    }

    /// Refuses further events and takes those still waiting (the connection is closing).
    pub fn close(&mut self) -> Vec<ConnEvent> {
        let mut rest: Vec<ConnEvent> = self.batch.drain(..).collect();
        {
            let mut inbox = self.outbox.inbox.lock();
            inbox.closed = true;
            rest.extend(inbox.events.drain(..));
            inbox.events = VecDeque::new();
        }
        self.batch = VecDeque::new();
        for ev in &rest {
            self.outbox.taken(ev);
        }
        rest
    }

    /// Gives back the memory of a burst once the mailbox is empty (called now and then).
    pub fn trim(&mut self) {
        if !self.batch.is_empty() {
            return;
        }
        if self.batch.capacity() > KEEP_EVENTS {
            self.batch = VecDeque::new();
        }
        let mut inbox = self.outbox.inbox.lock();
        if inbox.events.is_empty() && inbox.events.capacity() > KEEP_EVENTS {
            inbox.events = VecDeque::new();
        }
    }
}

/// The channel-wide (global) prefetch window shared by all consumers of a channel.
#[derive(Debug, Default)]
pub struct ChannelLimit {
    /// 0 = unlimited.
    pub prefetch: AtomicU32,
    /// Unacked deliveries to consumers on this channel.
    pub in_flight: AtomicU32,
}

impl ChannelLimit {
    fn try_take(&self) -> bool {
        let limit = self.prefetch.load(Ordering::Relaxed);
        if limit == 0 {
            self.in_flight.fetch_add(1, Ordering::Relaxed);
            return true;
        }
        self.in_flight
            .fetch_update(Ordering::AcqRel, Ordering::Relaxed, |n| {
                (n < limit).then_some(n + 1)
            })
            .is_ok()
    }

    fn release(&self, n: u32) {
        let _ = self
            .in_flight
            .fetch_update(Ordering::AcqRel, Ordering::Relaxed, |v| {
                Some(v.saturating_sub(n))
            });
    }
}

/// One `basic.consume` subscription.
#[derive(Debug)]
pub struct Consumer {
    pub tag: ShortStr,
    pub channel: u16,
    pub connection: ConnectionId,
    pub no_ack: bool,
    pub exclusive: bool,
    /// Per-consumer prefetch (0 = unlimited), fixed at consume time as in RabbitMQ.
    pub prefetch: u32,
    /// `x-priority`: consumers with a higher priority get messages first while they have
    /// credit; lower ones only when all higher ones are full (0 unless asked).
    pub priority: i32,
    in_flight: AtomicU32,
    pub channel_limit: Arc<ChannelLimit>,
    pub outbox: Arc<Outbox>,
}

/// Why a consumer could not take a delivery right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoCredit {
    /// Its prefetch window (or its channel's) is full: it waits for an ack.
    Window,
    /// Its connection has not written what it already has.
    Congested,
}

impl Consumer {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        tag: ShortStr,
        channel: u16,
        connection: ConnectionId,
        no_ack: bool,
        exclusive: bool,
        prefetch: u32,
        channel_limit: Arc<ChannelLimit>,
        outbox: Arc<Outbox>,
    ) -> Consumer {
        Consumer {
            tag,
            channel,
            connection,
            no_ack,
            exclusive,
            prefetch,
            priority: 0,
            in_flight: AtomicU32::new(0),
            channel_limit,
            outbox,
        }
    }

    /// Sets the consumer's priority (`x-priority` of basic.consume).
    pub fn with_priority(mut self, priority: i32) -> Consumer {
        self.priority = priority;
        self
    }

    /// Takes one unit of credit for a delivery, or says why there is none.
    pub fn try_take_credit(&self) -> Result<(), NoCredit> {
        if self.outbox.is_congested() {
            return Err(NoCredit::Congested);
        }
        if self.no_ack {
            return Ok(());
        }
        if self.prefetch != 0 && self.in_flight.load(Ordering::Relaxed) >= self.prefetch {
            return Err(NoCredit::Window);
        }
        if !self.channel_limit.try_take() {
            return Err(NoCredit::Window);
        }
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Gives back credit for `n` settled (or undelivered) deliveries.
    pub fn release_credit(&self, n: u32) {
        if self.no_ack || n == 0 {
            return;
        }
        let _ = self
            .in_flight
            .fetch_update(Ordering::AcqRel, Ordering::Relaxed, |v| {
                Some(v.saturating_sub(n))
            });
        self.channel_limit.release(n);
    }

    pub fn unacked(&self) -> u32 {
        self.in_flight.load(Ordering::Relaxed)
    }
}
