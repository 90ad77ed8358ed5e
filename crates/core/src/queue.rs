//! A queue: its ready messages, its consumers, and the dispatch loop that feeds them.
//!
//! Invariants:
//! - One owner: all state sits behind one short-held mutex; every operation (publish, dispatch,
//!   requeue, consume, cancel, get) takes it once.
//! - Order is kept: messages are delivered in the order they were enqueued; requeued messages go
//!   back to the head, in their original order, flagged `redelivered`.
//! - A message leaves `ready` only into a consumer that took credit for it, into `basic.get`, or
//!   by purge/delete. If a connection is gone before it takes a delivery, the message comes back.
//! - Consumers are served by priority (`x-priority`): the highest-priority consumers with
//!   credit get messages, round-robin among equals; lower ones only while all higher ones are
//!   full. `consumers` is kept sorted by priority, highest first, in arrival order among equals.
//! - With `x-single-active-consumer`, only `consumers[0]` (the active one) gets messages; when
//!   it goes, the highest-priority, longest-waiting consumer takes over.
//! - Memory stays flat however long a durable queue gets: past [`MEMORY_WINDOW`] ready
//!   messages (or [`MEMORY_WINDOW_BYTES`] of bodies), a stored message is kept as its disk
//!   location only (16 bytes) and its body is read back when it reaches the head.
//! - Under memory pressure any queue keeps only the bodies of its head in memory; the others
//!   are paged out to the transient store (see paging.rs) and read back at the head.
//! - A ready message costs a 32-byte entry in its priority level's FIFO; the message itself
//!   (a [`Message`] value, 96 bytes) sits in the backlog's slab while it is in memory, so
//!   entries of messages left on disk stay 32 bytes.

use std::collections::VecDeque;
use std::sync::{Arc, Weak};

use parking_lot::{Mutex, MutexGuard};
use warren_amqp::{FieldTable, ShortStr};
use warren_store::{MsgId, QueueId, RecoveredMsg};

const _: () = assert!(std::mem::size_of::<Entry>() == 32);
const _: () = assert!(std::mem::size_of::<Slot>() == std::mem::size_of::<Message>());

use crate::arguments::{Overflow, QueueArgs};
use crate::consumer::{ConnEvent, ConnectionId, Consumer, Delivery, NoCredit};
use crate::deadletter::{dead_letter, Reason};
use crate::durable::{decode_message, Durability};
use crate::error::{AmqpError, Result};
use crate::message::Message;
use crate::paging::{Pager, PAGE_BATCH_BYTES, PAGING_WINDOW, PAGING_WINDOW_BYTES};
use crate::stats::bump;
use crate::vhost::VHost;

/// Ready messages of a durable queue kept with their bodies in memory; the rest wait on disk.
pub const MEMORY_WINDOW: usize = 4096;
/// ... and at most this many bytes of their bodies.
pub const MEMORY_WINDOW_BYTES: u64 = 16 << 20;

/// What an unacknowledged delivery costs its channel besides its body (the channel's entry:
/// tag, queue, message, consumer, store id, order, expiry, time), counted in the queue's
/// `memory` estimate.
pub const UNACKED_ENTRY_BYTES: u64 = 168;

#[derive(Debug)]
pub struct Queue {
    pub name: ShortStr,
    pub vhost: ShortStr,
    pub durable: bool,
    /// The connection that declared an exclusive queue; no one else may use it.
    pub exclusive_owner: Option<ConnectionId>,
    pub auto_delete: bool,
    pub arguments: FieldTable,
    /// The arguments, checked and parsed.
    pub args: QueueArgs,
    /// Set for durable queues when the broker has a message store.
    store: Option<(Arc<Durability>, QueueId)>,
    /// Where bodies go under memory pressure, and this queue's id there (taken on first use).
    pager: Option<(Arc<Pager>, std::sync::OnceLock<QueueId>)>,
    /// The vhost, for dead-lettering.
    vhost_ref: Weak<VHost>,
    /// When the queue was last used (declared, consumed from, got from), ms since the epoch:
    /// `x-expires` deletes it once unused for that long.
    last_used: std::sync::atomic::AtomicU64,
    /// Message counters for the management API (relaxed atomics, read at scrape time).
    pub counters: crate::stats::MessageCounters,
    /// Set when a message with a TTL is enqueued, cleared once the queue is empty: tells the
    /// housekeeping timer which queues to look at for expired messages.
    ttl_pending: std::sync::atomic::AtomicBool,
    state: Mutex<QueueState>,
}

/// A queue's state at one instant, for the management API.
#[derive(Debug, Clone)]
pub struct QueueInfo {
    pub messages_ready: u64,
    pub messages_unacknowledged: u64,
    pub message_bytes_ready: u64,
    /// Body bytes of the unacknowledged deliveries.
    pub message_bytes_unacknowledged: u64,
    /// Ready + unacknowledged messages that are persistent as RabbitMQ counts them
    /// (delivery-mode 2 on a durable queue), and their body bytes.
    pub messages_persistent: u64,
    pub message_bytes_persistent: u64,
    /// Ready messages whose bodies are in memory (the others wait on disk: in the message
    /// store past the memory window, or paged out), and their body bytes.
    pub messages_ready_ram: u64,
    pub message_bytes_ready_ram: u64,
    /// An estimate of the memory the queue holds, in bytes: see [`Queue::info`].
    pub memory: u64,
    pub consumers: Vec<ConsumerInfo>,
    /// ms since the Unix epoch the queue was last used.
    pub last_used: u64,
}

/// One consumer of a queue, for the management API.
#[derive(Debug, Clone)]
pub struct ConsumerInfo {
    pub tag: ShortStr,
    pub channel: u16,
    pub connection: ConnectionId,
    pub no_ack: bool,
    pub exclusive: bool,
    pub prefetch: u32,
    pub unacked: u32,
    /// `x-priority` of basic.consume.
    pub priority: i32,
    /// False for the waiting consumers of a single-active-consumer queue.
    pub active: bool,
}

#[derive(Debug, Default)]
struct QueueState {
    ready: Backlog,
    /// Sorted by priority, highest first (see the module notes).
    consumers: Vec<Arc<Consumer>>,
    /// Round-robin cursor into `consumers` (within the priority group being served).
    next: usize,
    /// Deliveries (to consumers or basic.get) not yet settled.
    unacked: usize,
    /// Their body bytes, and how many of them (and of their bytes) are persistent (see
    /// [`Queue::counts_persistent`]).
    unacked_bytes: u64,
    unacked_persistent: u64,
    unacked_persistent_bytes: u64,
    deleted: bool,
    /// An auto-delete queue is deleted when its last consumer goes, once it has had one.
    had_consumer: bool,
    /// Messages to dead-letter once the lock is released (see [`Locked`]).
    dead: Vec<(Ready, Reason)>,
    /// The arguments with the applying policy merged in: what the queue obeys.
    effective: QueueArgs,
    /// The name of the policy that applies, if any.
    policy: Option<ShortStr>,
}

impl QueueState {
    /// One more unacknowledged delivery, of `size` body bytes.
    fn took(&mut self, size: u64, persistent: bool) {
        self.unacked += 1;
        self.unacked_bytes += size;
        if persistent {
            self.unacked_persistent += 1;
            self.unacked_persistent_bytes += size;
        }
    }
}

/// The queue's lock, which dead-letters what the locked section dropped once it is released
/// (dead-lettering publishes to other queues, maybe this one: never under this lock).
struct Locked<'a> {
    queue: &'a Queue,
    guard: Option<MutexGuard<'a, QueueState>>,
}

impl std::ops::Deref for Locked<'_> {
    type Target = QueueState;
    fn deref(&self) -> &QueueState {
        self.guard.as_ref().expect("held until drop")
    }
}

impl std::ops::DerefMut for Locked<'_> {
    fn deref_mut(&mut self) -> &mut QueueState {
        self.guard.as_mut().expect("held until drop")
    }
}

impl Drop for Locked<'_> {
    fn drop(&mut self) {
        let dead = self
            .guard
            .as_mut()
            .map(|g| std::mem::take(&mut g.dead))
            .unwrap_or_default();
        self.guard = None;
        if !dead.is_empty() {
            self.queue.flush_dead(dead);
        }
    }
}

/// One ready message on its way into or out of the backlog (which keeps it as an [`Entry`]).
#[derive(Debug)]
struct Ready {
    /// The message, or None when only its store id is kept (the store knows where it is).
    body: Option<Message>,
    /// The message's id in the store plus one (0: not stored).
    stored: u64,
    /// When the message expires, in ms since the Unix epoch (0: never).
    expires_at: u64,
    /// Body bytes, for x-max-length-bytes.
    size: u32,
    redelivered: bool,
    /// Priority level (0 unless the queue has x-max-priority).
    priority: u8,
    /// `stored` is an id in the transient store (paged out under memory pressure), not in
    /// the message store.
    paged: bool,
    /// Persistent as RabbitMQ counts it (`messages_persistent`): delivery-mode 2 on a durable
    /// queue (see [`Queue::counts_persistent`]).
    persistent: bool,
}

/// No slot: the message is on disk only.
const NO_SLOT: u32 = u32::MAX;

/// One ready message as the backlog keeps it: 32 bytes, so a queue of millions stays small.
/// The fields are those of [`Ready`]; the message itself is in [`Backlog::messages`].
#[derive(Debug)]
struct Entry {
    /// The message's index in the backlog's slab, or [`NO_SLOT`].
    slot: u32,
    size: u32,
    stored: u64,
    expires_at: u64,
    redelivered: bool,
    priority: u8,
    paged: bool,
    persistent: bool,
}

/// The messages of a backlog's entries that are in memory, each at a fixed index until it
/// leaves; freed slots are reused (most recently freed first, while still in cache).
///
/// Slots live in chunks rather than one vector: a backlog growing by millions never copies
/// what it already holds (a doubling vector moved ~100 bytes per message each time, which cost
/// S6's publish ~9%), and an emptied slab gives its chunks back. Chunk 0 holds slots
/// `0..SLAB_CHUNK` and grows as a vector does (a queue of a few messages stays small); chunk
/// `i >= 1` holds `SLAB_CHUNK << (i - 1)` slots from `SLAB_CHUNK << (i - 1)` on, allocated
/// at its full size, so large backlogs get large chunks.
#[derive(Debug)]
struct Slab {
    chunks: Vec<Vec<Slot>>,
    /// The first free slot (each free slot names the next), or [`NO_SLOT`].
    free: u32,
    len: usize,
}

#[derive(Debug)]
enum Slot {
    Full(Message),
    Free(u32),
}

/// Slots of chunk 0 (about 100 KiB of messages at most), the one an emptied slab keeps.
const SLAB_CHUNK: usize = 1024;

/// The chunk holding slot `at`, and the slot's index in it.
fn chunk_of(at: usize) -> (usize, usize) {
    if at < SLAB_CHUNK {
        return (0, at);
    }
    let i = (usize::BITS - (at / SLAB_CHUNK).leading_zeros()) as usize;
    (i, at - (SLAB_CHUNK << (i - 1)))
}

impl Default for Slab {
    fn default() -> Self {
        Slab {
            chunks: Vec::new(),
            free: NO_SLOT,
            len: 0,
        }
    }
}

impl Slab {
    /// Slots made so far (full or free).
    fn slots(&self) -> usize {
        match self.chunks.len() {
            0 => 0,
            1 => self.chunks[0].len(),
            n => (SLAB_CHUNK << (n - 2)) + self.chunks[n - 1].len(),
        }
    }

    fn slot(&mut self, at: u32) -> Option<&mut Slot> {
        let (c, i) = chunk_of(at as usize);
        self.chunks.get_mut(c)?.get_mut(i)
    }

    fn insert(&mut self, m: Message) -> u32 {
        self.len += 1;
        let free = self.free;
        if let Some(slot) = self.slot(free) {
            let Slot::Free(next) = std::mem::replace(slot, Slot::Full(m)) else {
                unreachable!("the free list holds free slots only");
            };
            self.free = next;
            return free;
        }
        let at = u32::try_from(self.slots())
            .ok()
            .filter(|&i| i != NO_SLOT)
            .expect("fewer than 4 billion messages in memory");
        let (c, _) = chunk_of(at as usize);
        if c == self.chunks.len() {
            let size = if c == 0 { 0 } else { SLAB_CHUNK << (c - 1) };
            self.chunks.push(Vec::with_capacity(size));
        }
        self.chunks[c].push(Slot::Full(m));
        at
    }

    fn take(&mut self, at: u32) -> Option<Message> {
        let free = self.free;
        let slot = self.slot(at)?;
        if matches!(slot, Slot::Free(_)) {
            return None;
        }
        let Slot::Full(m) = std::mem::replace(slot, Slot::Free(free)) else {
            return None;
        };
        self.free = at;
        self.len -= 1;
        if self.len == 0 {
            self.clear();
        }
        Some(m)
    }

    fn clear(&mut self) {
        self.chunks.truncate(1);
        if let Some(c) = self.chunks.first_mut() {
            c.clear();
            c.shrink_to(SLAB_CHUNK);
        }
        self.free = NO_SLOT;
        self.len = 0;
    }
}

/// Ready messages, one FIFO per priority level (one level for an ordinary queue).
#[derive(Debug)]
struct Backlog {
    levels: Vec<VecDeque<Entry>>,
    /// Per level, the delivery orders of the requeued entries at its front, ascending: a
    /// requeued message goes back to its original place among them (RabbitMQ puts it back
    /// "to its original position in its queue"), and always ahead of the never-delivered
    /// ones, which are all newer. Empty unless something was requeued.
    requeued: Vec<VecDeque<u64>>,
    /// The order the next message taken for delivery gets.
    next_order: u64,
    messages: Slab,
    len: usize,
    bytes: u64,
    /// Body bytes of the messages in the slab.
    mem_bytes: u64,
    /// Entries (and their body bytes) of persistent messages (`Ready::persistent`).
    persistent: usize,
    persistent_bytes: u64,
}

impl Default for Backlog {
    fn default() -> Self {
        Backlog::new(0)
    }
}

impl Backlog {
    fn new(max_priority: u8) -> Backlog {
        Backlog {
            levels: (0..=max_priority).map(|_| VecDeque::new()).collect(),
            requeued: (0..=max_priority).map(|_| VecDeque::new()).collect(),
            next_order: 0,
            messages: Slab::default(),
            len: 0,
            bytes: 0,
            mem_bytes: 0,
            persistent: 0,
            persistent_bytes: 0,
        }
    }

    fn len(&self) -> usize {
        self.len
    }

    fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The level for `r` and its entry (its message moves into the slab).
    fn pack(&mut self, r: Ready) -> (usize, Entry) {
        self.len += 1;
        self.bytes += u64::from(r.size);
        if r.persistent {
            self.persistent += 1;
            self.persistent_bytes += u64::from(r.size);
        }
        let slot = match r.body {
            Some(m) => {
                self.mem_bytes += u64::from(r.size);
                self.messages.insert(m)
            }
            None => NO_SLOT,
        };
        let level = usize::from(r.priority).min(self.levels.len() - 1);
        let entry = Entry {
            slot,
            size: r.size,
            stored: r.stored,
            expires_at: r.expires_at,
            redelivered: r.redelivered,
            priority: r.priority,
            paged: r.paged,
            persistent: r.persistent,
        };
        (level, entry)
    }

    fn push_back(&mut self, r: Ready) {
        let (l, e) = self.pack(r);
        self.levels[l].push_back(e);
    }

    /// Puts back a message taken for delivery with [`Backlog::take_order`]'s `order`: where it
    /// was, ahead of everything never delivered of its level.
    fn put_back(&mut self, r: Ready, order: u64) {
        let (l, e) = self.pack(r);
        let side = &mut self.requeued[l];
        let at = side.partition_point(|&o| o < order);
        side.insert(at, order);
        self.levels[l].insert(at, e);
    }

    /// The delivery order of a message just taken with `pop_front` for delivery.
    fn take_order(&mut self) -> u64 {
        let o = self.next_order;
        self.next_order += 1;
        o
    }

    /// The next message to deliver: the oldest of the highest priority.
    fn front(&self) -> Option<&Entry> {
        self.levels.iter().rev().find_map(|l| l.front())
    }

    fn pop_front(&mut self) -> Option<Ready> {
        let (l, e) = self
            .levels
            .iter_mut()
            .enumerate()
            .rev()
            .find_map(|(i, l)| l.pop_front().map(|e| (i, e)))?;
        self.requeued[l].pop_front();
        self.len -= 1;
        self.bytes -= u64::from(e.size);
        if e.persistent {
            self.persistent -= 1;
            self.persistent_bytes -= u64::from(e.size);
        }
        let body = match e.slot {
            NO_SLOT => None,
            at => {
                self.mem_bytes -= u64::from(e.size);
                self.messages.take(at)
            }
        };
        Some(Ready {
            body,
            stored: e.stored,
            expires_at: e.expires_at,
            size: e.size,
            redelivered: e.redelivered,
            priority: e.priority,
            paged: e.paged,
            persistent: e.persistent,
        })
    }

    /// Are the bodies in memory more than the paging window holds (see paging.rs)?
    fn beyond_paging_window(&self) -> bool {
        self.messages.len > PAGING_WINDOW || self.mem_bytes > PAGING_WINDOW_BYTES
    }

    /// Would a message pushed now land behind the paging window?
    fn behind_paging_window(&self) -> bool {
        self.len >= PAGING_WINDOW || self.mem_bytes >= PAGING_WINDOW_BYTES
    }

    /// Pages out the bodies behind the paging window (in delivery order: the highest
    /// priority level first, each from its head), until about `budget` bytes were handled:
    /// `write` puts a transient body in the transient store (its id, or None when it could
    /// not: then the walk stops); a stored one is only dropped. Returns whether bodies
    /// behind the window are left.
    fn page_out(&mut self, budget: u64, mut write: impl FnMut(&Message) -> Option<MsgId>) -> bool {
        let (mut pos, mut head_bytes, mut kept, mut done) = (0usize, 0u64, 0usize, 0u64);
        let Backlog {
            levels,
            messages,
            mem_bytes,
            ..
        } = self;
        for level in levels.iter_mut().rev() {
            for e in level.iter_mut() {
                if messages.len == kept {
                    return false;
                }
                head_bytes += u64::from(e.size);
                pos += 1;
                if e.slot == NO_SLOT {
                    continue;
                }
                if pos <= PAGING_WINDOW && head_bytes <= PAGING_WINDOW_BYTES {
                    kept += 1;
                    continue;
                }
                if done >= budget {
                    return true;
                }
                let Some(m) = messages.take(e.slot) else {
                    e.slot = NO_SLOT;
                    continue;
                };
                if e.stored == 0 || e.paged {
                    match write(&m) {
                        Some(id) => {
                            e.stored = stored_field(Some(id));
                            e.paged = true;
                        }
                        None => {
                            e.slot = messages.insert(m);
                            return false;
                        }
                    }
                }
                e.slot = NO_SLOT;
                *mem_bytes -= u64::from(e.size);
                done += u64::from(e.size).max(1);
            }
        }
        false
    }

    /// Takes the ready entry of stored message `id` (not paged) out, searching from the
    /// newest; None if no ready entry holds it.
    fn withdraw(&mut self, id: MsgId) -> Option<Entry> {
        let want = stored_field(Some(id));
        for (l, level) in self.levels.iter_mut().enumerate() {
            let Some(i) = level.iter().rposition(|e| e.stored == want && !e.paged) else {
                continue;
            };
            let e = level.remove(i)?;
            if i < self.requeued[l].len() {
                self.requeued[l].remove(i);
            }
            self.len -= 1;
            self.bytes -= u64::from(e.size);
            if e.persistent {
                self.persistent -= 1;
                self.persistent_bytes -= u64::from(e.size);
            }
            if e.slot != NO_SLOT {
                self.mem_bytes -= u64::from(e.size);
                self.messages.take(e.slot);
            }
            return Some(e);
        }
        None
    }

    /// Empties the backlog: its entries (their messages are dropped).
    fn drain(&mut self) -> impl Iterator<Item = Entry> + '_ {
        self.len = 0;
        self.bytes = 0;
        self.mem_bytes = 0;
        self.persistent = 0;
        self.persistent_bytes = 0;
        self.messages.clear();
        self.requeued.iter_mut().for_each(VecDeque::clear);
        self.levels.iter_mut().flat_map(|l| l.drain(..))
    }
}

/// Milliseconds since the Unix epoch (message expiry).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn stored_id(stored: u64) -> Option<MsgId> {
    stored.checked_sub(1)
}

/// Chooses the consumer for the next message and takes its credit: the first priority group
/// (consumers sorted highest first) with a consumer that has credit, round-robin within it.
/// With a single active consumer only `consumers[0]` is a candidate.
fn pick_consumer(st: &mut QueueState, single_active: bool) -> Option<usize> {
    let n = if single_active {
        st.consumers.len().min(1)
    } else {
        st.consumers.len()
    };
    // Most queues have one priority level: skip the group scan then.
    let uniform = n == 0 || st.consumers[0].priority == st.consumers[n - 1].priority;
    let mut start = 0;
    while start < n {
        let end = if uniform {
            n
        } else {
            let prio = st.consumers[start].priority;
            start
                + st.consumers[start..n]
                    .iter()
                    .position(|c| c.priority != prio)
                    .unwrap_or(n - start)
        };
        let len = end - start;
        let first = if (start..end).contains(&st.next) {
            st.next - start
        } else {
            0
        };
        for i in 0..len {
            let idx = start + (first + i) % len;
            match st.consumers[idx].try_take_credit() {
                Ok(()) => {
                    st.next = if idx + 1 < end { idx + 1 } else { start };
                    return Some(idx);
                }
                Err(NoCredit::Congested) => st.consumers[idx].outbox.mark_starved(),
                Err(NoCredit::Window) => {}
            }
        }
        start = end;
    }
    None
}

fn stored_field(id: Option<MsgId>) -> u64 {
    id.map_or(0, |i| i + 1)
}

/// A delivered message coming back to its queue to be settled: acked, rejected or requeued.
#[derive(Debug)]
pub struct Returned {
    pub message: Message,
    /// The store's id when the message is on disk and must be acked there.
    pub stored: Option<MsgId>,
    /// Its place in the queue's delivery order, from the delivery: a requeue puts it back there.
    pub order: u64,
    /// When it expires (ms since the Unix epoch, 0: never): a requeue keeps it, as RabbitMQ.
    pub expires_at: u64,
}

impl From<Delivery> for Returned {
    fn from(d: Delivery) -> Returned {
        Returned {
            message: d.message,
            stored: d.stored,
            order: d.order,
            expires_at: d.expires_at,
        }
    }
}

/// What `basic.get` takes from a queue.
#[derive(Debug)]
pub struct Got {
    pub message: Message,
    pub redelivered: bool,
    /// The store's id when the message is on disk and must be acked there.
    pub stored: Option<MsgId>,
    /// Its place in the queue's delivery order (see [`Returned`]).
    pub order: u64,
    /// When it expires (see [`Returned`]).
    pub expires_at: u64,
    /// Messages left ready after this one.
    pub remaining: u32,
}

impl Queue {
    pub fn new(
        name: ShortStr,
        vhost: ShortStr,
        durable: bool,
        exclusive_owner: Option<ConnectionId>,
        auto_delete: bool,
        arguments: FieldTable,
        args: QueueArgs,
    ) -> Queue {
        let state = QueueState {
            ready: Backlog::new(args.max_priority.unwrap_or(0)),
            effective: args.clone(),
            ..QueueState::default()
        };
        Queue {
            name,
            vhost,
            durable,
            exclusive_owner,
            auto_delete,
            arguments,
            args,
            store: None,
            pager: None,
            vhost_ref: Weak::new(),
            last_used: std::sync::atomic::AtomicU64::new(now_ms()),
            counters: Default::default(),
            ttl_pending: std::sync::atomic::AtomicBool::new(false),
            state: Mutex::new(state),
        }
    }

    /// A queue entry for `message`, with its priority, size and expiry (without the message:
    /// callers move it in, or a clone, or leave it on disk).
    fn entry(&self, st: &QueueState, message: &Message, stored: Option<MsgId>) -> Ready {
        let priority = match self.args.max_priority {
            Some(max) => message.properties.priority().unwrap_or(0).min(max),
            None => 0,
        };
        let msg_ttl = message
            .properties
            .expiration()
            .and_then(|e| crate::arguments::parse_expiration(&e).ok());
        let ttl = match (st.effective.message_ttl, msg_ttl) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if ttl.is_some() {
            self.ttl_pending
                .store(true, std::sync::atomic::Ordering::Relaxed);
        }
        Ready {
            body: None,
            stored: stored_field(stored),
            expires_at: ttl.map_or(0, |t| now_ms().saturating_add(t).max(1)),
            size: u32::try_from(message.body.len()).unwrap_or(u32::MAX),
            redelivered: false,
            priority,
            paged: false,
            persistent: self.counts_persistent(message, stored),
        }
    }

    /// Is `message` (in the store as `stored`) persistent as RabbitMQ counts it: delivery-mode 2
    /// on a durable queue. With a message store that is exactly the stored ones (a paged-out
    /// transient body is not `stored` here), so the properties are only read on a durable
    /// queue of a broker without a store.
    fn counts_persistent(&self, message: &Message, stored: Option<MsgId>) -> bool {
        stored.is_some() || (self.durable && self.store.is_none() && message.is_persistent())
    }

    /// One unacknowledged delivery of `message` is settled (acked, rejected or requeued).
    fn settled_locked(&self, st: &mut QueueState, message: &Message, stored: Option<MsgId>) {
        let size = message.body.len() as u64;
        st.unacked = st.unacked.saturating_sub(1);
        st.unacked_bytes = st.unacked_bytes.saturating_sub(size);
        if self.counts_persistent(message, stored) {
            st.unacked_persistent = st.unacked_persistent.saturating_sub(1);
            st.unacked_persistent_bytes = st.unacked_persistent_bytes.saturating_sub(size);
        }
    }

    /// Would one more message of `extra_bytes` take the queue past x-max-length /
    /// x-max-length-bytes (RabbitMQ's `will_overflow`)?
    fn is_full(&self, st: &QueueState, extra_bytes: u64) -> bool {
        st.effective
            .max_length
            .is_some_and(|m| st.ready.len() as u64 >= m)
            || st
                .effective
                .max_length_bytes
                .is_some_and(|m| st.ready.bytes + extra_bytes > m)
    }

    /// Under reject-publish(-dlx): is a message of `size` bytes refused? (Checked before it is
    /// enqueued, even when a consumer is waiting, as in RabbitMQ: at x-max-length 0 every
    /// publish is refused.)
    fn refuses_locked(&self, st: &QueueState, size: u64) -> bool {
        st.effective.overflow != Overflow::DropHead && self.is_full(st, size)
    }

    /// Under drop-head: drops (or dead-letters) messages from the head until the queue is
    /// within its limits. Called after a message was enqueued and delivered what it could, as
    /// RabbitMQ's `maybe_drop_head`: a message goes to a waiting consumer whatever the limits,
    /// and one that alone exceeds them (x-max-length 0, a body above x-max-length-bytes) is
    /// accepted, then dropped (dead-lettered) with the rest.
    fn drop_head(&self, st: &mut QueueState) {
        if st.effective.overflow != Overflow::DropHead {
            return;
        }
        while st
            .effective
            .max_length
            .is_some_and(|m| st.ready.len() as u64 > m)
            || st
                .effective
                .max_length_bytes
                .is_some_and(|m| st.ready.bytes > m)
        {
            let Some(old) = st.ready.pop_front() else {
                break;
            };
            self.discard(st, old, Reason::MaxLen);
        }
    }

    /// Drops expired messages at the head (classic queues expire from the head, as RabbitMQ).
    fn expire_head(&self, st: &mut QueueState) {
        let mut now = 0;
        while let Some(r) = st.ready.front() {
            if r.expires_at == 0 {
                return;
            }
            if now == 0 {
                now = now_ms();
            }
            if r.expires_at > now {
                return;
            }
            if let Some(old) = st.ready.pop_front() {
                self.discard(st, old, Reason::Expired);
            }
        }
    }

    /// Expires (and dead-letters) the messages at the head whose time has come, as RabbitMQ's
    /// expiry timer does, so a TTL + dead-letter "delay queue" works with nobody reading it.
    /// Called by the housekeeping timer; a queue that never had a TTL'd message costs a load.
    pub fn expire_due(&self) {
        if !self.ttl_pending.load(std::sync::atomic::Ordering::Relaxed) {
            return;
        }
        let mut st = self.lock();
        self.expire_head(&mut st);
        if st.ready.is_empty() {
            self.ttl_pending
                .store(false, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// Gives a durable queue its place in the message store.
    pub fn with_store(mut self, durability: Option<&Arc<Durability>>) -> Queue {
        // Every queue may page bodies out, durable or not.
        self.pager = durability
            .and_then(|d| d.pager())
            .map(|p| (p.clone(), std::sync::OnceLock::new()));
        if self.durable && self.exclusive_owner.is_none() {
            if let Some(d) = durability {
                let id = d.queue_id(&self.vhost, &self.name);
                self.store = Some((d.clone(), id));
            }
        }
        self
    }

    /// Marks the queue used now (declare, consume, get), for `x-expires`.
    pub fn touch(&self) {
        self.last_used
            .store(now_ms(), std::sync::atomic::Ordering::Relaxed);
    }

    /// Has an `x-expires` queue gone unused (no consumers, no get, no redeclare) for that long?
    pub fn is_expired(&self, now: u64) -> bool {
        let st = self.state.lock();
        let Some(ttl) = st.effective.expires else {
            return false;
        };
        let idle = now.saturating_sub(self.last_used.load(std::sync::atomic::Ordering::Relaxed));
        idle >= ttl && st.consumers.is_empty()
    }

    /// Attaches the queue to its vhost (dead-lettering routes through it).
    pub fn with_vhost(mut self, vhost: Weak<VHost>) -> Queue {
        self.vhost_ref = vhost;
        self
    }

    fn lock(&self) -> Locked<'_> {
        Locked {
            queue: self,
            guard: Some(self.state.lock()),
        }
    }

    /// A message leaves the queue for good: to the dead-letter exchange if there is one
    /// (after the lock is released), else acked in the store.
    fn discard(&self, st: &mut QueueState, r: Ready, reason: Reason) {
        if st.effective.dead_letter_exchange.is_some() {
            st.dead.push((r, reason));
        } else if let Some(id) = stored_id(r.stored) {
            if r.paged {
                self.release_paged(&[id]);
            } else {
                self.ack_stored(id);
            }
        }
    }

    /// The pager and this queue's id in the transient store.
    fn paged_queue(&self) -> Option<(&Pager, QueueId)> {
        let (p, id) = self.pager.as_ref()?;
        Some((p, *id.get_or_init(|| p.new_queue())))
    }

    /// Paged messages of this queue leave the transient store.
    fn release_paged(&self, ids: &[MsgId]) {
        if let Some((p, qid)) = self.paged_queue() {
            p.release(qid, ids);
        }
    }

    /// Is memory under pressure, with bodies to be paged out?
    #[inline]
    fn paging(&self) -> bool {
        self.pager.as_ref().is_some_and(|(p, _)| p.under_pressure())
    }

    /// Under memory pressure: writes out (or drops, for stored messages) the bodies this
    /// queue holds behind its paging window, a batch per hold of the lock.
    pub fn page_out(&self) {
        if self.pager.is_none() {
            return;
        }
        loop {
            let mut st = self.lock();
            if st.deleted || !st.ready.beyond_paging_window() {
                return;
            }
            let Some((pager, qid)) = self.paged_queue() else {
                return;
            };
            let more = st.ready.page_out(PAGE_BATCH_BYTES, |m| {
                pager
                    .write(qid, m)
                    .map_err(|e| tracing::warn!("{}: paging out failed: {e}", self.describe()))
                    .ok()
            });
            if !more {
                return;
            }
        }
    }

    fn flush_dead(&self, dead: Vec<(Ready, Reason)>) {
        let vhost = self.vhost_ref.upgrade();
        for (r, reason) in dead {
            let Some((message, stored, _)) = self.materialize(r) else {
                continue;
            };
            if let Some(v) = &vhost {
                dead_letter(v, self, &message, reason);
            }
            if let Some(id) = stored {
                self.ack_stored(id);
            }
        }
    }

    /// Rejected deliveries (nack/reject without requeue): settled, and dead-lettered if the
    /// queue has a dead-letter exchange.
    pub fn reject<I>(self: &Arc<Self>, settled: I)
    where
        I: IntoIterator<Item = Returned>,
        I::IntoIter: ExactSizeIterator,
    {
        let settled = settled.into_iter();
        let mut st = self.lock();
        for Returned {
            message, stored, ..
        } in settled
        {
            self.settled_locked(&mut st, &message, stored);
            let mut r = self.entry(&st, &message, stored);
            r.body = Some(message);
            self.discard(&mut st, r, Reason::Rejected);
        }
        self.dispatch_locked(&mut st);
    }

    /// The queue's id in the message store, if its persistent messages are stored.
    pub fn store_id(&self) -> Option<QueueId> {
        self.store.as_ref().map(|(_, id)| *id)
    }

    /// "queue 'q' in vhost '/'", the way RabbitMQ names a queue in its messages.
    pub fn describe(&self) -> String {
        format!("queue '{}' in vhost '{}'", self.name, self.vhost)
    }

    /// Exclusive queues may only be used by the connection that declared them (405).
    pub fn check_access(&self, conn: ConnectionId) -> Result<()> {
        match self.exclusive_owner {
            Some(owner) if owner != conn => Err(AmqpError::resource_locked(format!(
                "cannot obtain exclusive access to locked {}. It could be originally declared on \
                 another connection or the exclusive property value does not match that of the \
                 original declaration.",
                self.describe()
            ))),
            _ => Ok(()),
        }
    }

    pub fn message_count(&self) -> u32 {
        let mut st = self.lock();
        self.expire_head(&mut st);
        st.ready.len() as u32
    }

    pub fn consumer_count(&self) -> u32 {
        self.lock().consumers.len() as u32
    }

    /// (ready, consumers) in one lock.
    pub fn counts(&self) -> (u32, u32) {
        let mut st = self.lock();
        self.expire_head(&mut st);
        (st.ready.len() as u32, st.consumers.len() as u32)
    }

    /// Counts and consumers in one lock (management API).
    pub fn info(&self) -> QueueInfo {
        let mut st = self.lock();
        self.expire_head(&mut st);
        let b = &st.ready;
        // What the queue holds: itself, its entries (a slot per message in memory, an entry
        // per ready message, with the capacity each holds), the bodies of its ready messages in
        // memory, and those of its unacknowledged deliveries (kept by their channels until
        // settled). A body shared with other queues counts in each.
        let entries = b.levels.iter().map(VecDeque::capacity).sum::<usize>()
            * std::mem::size_of::<Entry>()
            + b.requeued.iter().map(VecDeque::capacity).sum::<usize>() * 8
            + b.messages.slots() * std::mem::size_of::<Slot>()
            + st.consumers.capacity() * std::mem::size_of::<Arc<Consumer>>()
            + st.consumers.len() * std::mem::size_of::<Consumer>();
        let memory = (std::mem::size_of::<Queue>() + entries) as u64
            + b.mem_bytes
            + st.unacked_bytes
            + st.unacked as u64 * UNACKED_ENTRY_BYTES;
        QueueInfo {
            messages_ready: st.ready.len() as u64,
            messages_unacknowledged: st.unacked as u64,
            message_bytes_ready: st.ready.bytes,
            message_bytes_unacknowledged: st.unacked_bytes,
            messages_persistent: st.ready.persistent as u64 + st.unacked_persistent,
            message_bytes_persistent: st.ready.persistent_bytes + st.unacked_persistent_bytes,
            messages_ready_ram: st.ready.messages.len as u64,
            message_bytes_ready_ram: st.ready.mem_bytes,
            memory,
            consumers: st
                .consumers
                .iter()
                .enumerate()
                .map(|(i, c)| ConsumerInfo {
                    tag: c.tag.clone(),
                    channel: c.channel,
                    connection: c.connection,
                    no_ack: c.no_ack,
                    exclusive: c.exclusive,
                    prefetch: c.prefetch,
                    unacked: c.unacked(),
                    priority: c.priority,
                    active: i == 0 || !self.args.single_active_consumer,
                })
                .collect(),
            last_used: self.last_used.load(std::sync::atomic::Ordering::Relaxed),
        }
    }

    pub fn is_deleted(&self) -> bool {
        self.lock().deleted
    }

    /// Enqueues a message that is not (to be) stored, and delivers what consumers have credit
    /// for. Returns false if the queue refused it (full, with x-overflow reject-publish).
    pub fn publish(self: &Arc<Self>, message: Message) -> bool {
        let mut st = self.lock();
        if st.deleted {
            return true;
        }
        if self.refuses_locked(&st, message.body.len() as u64) {
            self.refused(&mut st, &message);
            return false;
        }
        let mut r = self.entry(&st, &message, None);
        if self.paging() && st.ready.behind_paging_window() {
            self.page(&mut r, message);
        } else {
            r.body = Some(message);
        }
        st.ready.push_back(r);
        bump(&self.counters.publish, 1);
        self.dispatch_locked(&mut st);
        self.drop_head(&mut st);
        self.expire_head(&mut st);
        true
    }

    /// Under memory pressure: `message` goes to the transient store (in memory if it cannot).
    #[cold]
    fn page(&self, r: &mut Ready, message: Message) {
        let written = self.paged_queue().and_then(|(p, qid)| {
            p.write(qid, &message)
                .map_err(|e| tracing::warn!("{}: paging out failed: {e}", self.describe()))
                .ok()
        });
        match written {
            Some(id) => {
                r.stored = stored_field(Some(id));
                r.paged = true;
            }
            None => r.body = Some(message),
        }
    }

    /// A message the full queue refused: with reject-publish-dlx it is dead-lettered.
    fn refused(&self, st: &mut QueueState, message: &Message) {
        if st.effective.overflow == Overflow::RejectPublishDlx {
            let mut r = self.entry(st, message, None);
            r.body = Some(message.clone());
            self.discard(st, r, Reason::MaxLen);
        }
    }

    /// The channel found this queue full (reject-publish) before storing a message for it.
    pub fn refuse(&self, message: &Message) {
        let mut st = self.lock();
        self.refused(&mut st, message);
    }

    /// Would a publish be refused right now (reject-publish and full)? Asked before writing
    /// to the store, so a refused message costs no disk I/O.
    pub fn refuses(&self, size: u64) -> bool {
        let st = self.lock();
        self.refuses_locked(&st, size)
    }

    /// Enqueues a message appended to the store (durable with the next sync). Returns false if
    /// the queue refused it (then it is acked in the store at once).
    pub fn publish_stored(self: &Arc<Self>, message: Message, id: MsgId) -> bool {
        let mut st = self.lock();
        if st.deleted || self.refuses_locked(&st, message.body.len() as u64) {
            let refused = !st.deleted;
            if refused {
                self.refused(&mut st, &message);
            }
            drop(st);
            self.ack_stored(id);
            return !refused;
        }
        let mut r = self.entry(&st, &message, Some(id));
        let in_window = st.ready.len() < MEMORY_WINDOW
            && st.ready.mem_bytes < MEMORY_WINDOW_BYTES
            && !(self.paging() && st.ready.behind_paging_window());
        r.body = in_window.then_some(message);
        st.ready.push_back(r);
        bump(&self.counters.publish, 1);
        self.dispatch_locked(&mut st);
        self.drop_head(&mut st);
        self.expire_head(&mut st);
        true
    }

    /// Puts back messages recovered from the store at start-up (bodies stay on disk). They
    /// may have been delivered before the restart, so they are flagged redelivered.
    ///
    /// Each keeps its priority level and its expiry, as in RabbitMQ: the earlier of its own
    /// (the store kept the absolute time its `expiration` gave it) and the queue's
    /// `x-message-ttl` counted from when it was published (`published_at`, from the store's
    /// clock; the recovery time for a message stored before the store kept one). Messages
    /// whose time passed while the broker was down are left for [`Queue::expire_due`], which
    /// the caller runs once every queue is back (their dead letters then follow the recovered
    /// messages of the queues they go to).
    pub fn recover(&self, entries: &[RecoveredMsg], published_at: impl Fn(MsgId) -> Option<u64>) {
        let mut st = self.lock();
        let now = now_ms();
        let queue_ttl = st.effective.message_ttl;
        let max_priority = self.args.max_priority;
        let mut expiring = false;
        for m in entries {
            let own = Some(m.meta.expires_at()).filter(|&e| e != 0);
            let by_queue =
                queue_ttl.map(|ttl| published_at(m.id).unwrap_or(now).saturating_add(ttl).max(1));
            let expires_at = match (own, by_queue) {
                (Some(a), Some(b)) => a.min(b),
                (a, b) => a.or(b).unwrap_or(0),
            };
            expiring |= expires_at != 0;
            st.ready.push_back(Ready {
                body: None,
                stored: stored_field(Some(m.id)),
                expires_at,
                size: m.loc.len,
                redelivered: true,
                priority: max_priority.map_or(0, |max| m.meta.priority().min(max)),
                paged: false,
                persistent: true,
            });
        }
        if expiring {
            self.ttl_pending
                .store(true, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// Tells the store a message of this queue is settled for good.
    /// Takes stored message `id` back out of the ready messages (its store sync failed and
    /// its publisher was nacked); whether it was there (not yet delivered).
    pub fn withdraw_stored(&self, id: MsgId) -> bool {
        self.lock().ready.withdraw(id).is_some()
    }

    pub fn ack_stored(&self, id: MsgId) {
        if let Some((d, qid)) = &self.store {
            d.ack(*qid, &[id]);
        }
    }

    /// The message of a ready entry, read back from disk if it is not in memory. None if the
    /// record is unreadable (reported, and dropped from the store).
    fn materialize(&self, r: Ready) -> Option<(Message, Option<MsgId>, bool)> {
        let id = stored_id(r.stored);
        if r.paged {
            // Back in memory for good: it leaves the transient store.
            let read = match (r.body, self.paged_queue(), id) {
                (Some(m), qp, Some(id)) => {
                    if let Some((p, qid)) = qp {
                        p.release(qid, &[id]);
                    }
                    Some(m)
                }
                (None, Some((p, qid)), Some(id)) => p.read(qid, id),
                _ => None,
            };
            let Some(m) = read else {
                tracing::warn!(
                    "{}: paged message {id:?} is unreadable; dropped",
                    self.describe()
                );
                return None;
            };
            return Some((m, None, r.redelivered));
        }
        let message = match r.body {
            Some(m) => m,
            None => {
                let read = self
                    .store
                    .as_ref()
                    .zip(id)
                    .and_then(|((d, _), id)| d.store.read_msg(id).ok())
                    .and_then(decode_message);
                match read {
                    Some(m) => m,
                    None => {
                        tracing::warn!(
                            "{}: stored message {id:?} is unreadable; dropped",
                            self.describe()
                        );
                        if let Some(id) = id {
                            self.ack_stored(id);
                        }
                        return None;
                    }
                }
            }
        };
        Some((message, id, r.redelivered))
    }

    /// Delivers ready messages to consumers with credit; call after credit came back.
    pub fn dispatch(self: &Arc<Self>) {
        let mut st = self.lock();
        self.dispatch_locked(&mut st);
    }

    fn dispatch_locked(self: &Arc<Self>, st: &mut QueueState) {
        while !st.ready.is_empty() && !st.consumers.is_empty() {
            self.expire_head(st);
            if st.ready.is_empty() {
                break;
            }
            let Some(idx) = pick_consumer(st, self.args.single_active_consumer) else {
                break;
            };
            let Some(ready) = st.ready.pop_front() else {
                break;
            };
            let expires_at = ready.expires_at;
            let Some((message, stored, redelivered)) = self.materialize(ready) else {
                st.consumers[idx].release_credit(1);
                continue;
            };
            let order = st.ready.take_order();
            let consumer = st.consumers[idx].clone();
            let no_ack = consumer.no_ack;
            let (size, persistent) = (
                message.body.len() as u64,
                self.counts_persistent(&message, stored),
            );
            let delivery = Delivery {
                consumer,
                queue: self.clone(),
                message,
                redelivered,
                stored,
                order,
                expires_at,
            };
            match st.consumers[idx].outbox.send(ConnEvent::Deliver(delivery)) {
                Ok(()) => {
                    // A no-ack delivery of a stored message is acked in the store by the
                    // connection once it has written it (see Channel::deliver).
                    if !no_ack {
                        st.took(size, persistent);
                        bump(&self.counters.deliver, 1);
                    } else {
                        bump(&self.counters.deliver_no_ack, 1);
                    }
                    if redelivered {
                        bump(&self.counters.redeliver, 1);
                    }
                }
                Err(ConnEvent::Deliver(d)) => {
                    // The connection is gone: keep the message, drop the consumer.
                    d.consumer.release_credit(1);
                    let redelivered = d.redelivered;
                    self.put_back(st, d.into(), redelivered);
                    st.consumers.remove(idx);
                    st.next = 0;
                }
                Err(_) => unreachable!("send gives back the event it was given"),
            }
        }
    }

    /// Adds a consumer. Refuses if an exclusive consumer holds the queue, or if `consumer` wants
    /// exclusivity and others are there (403, as RabbitMQ).
    pub fn consume(self: &Arc<Self>, consumer: Arc<Consumer>) -> Result<()> {
        self.touch();
        let mut st = self.lock();
        if st.deleted {
            return Err(AmqpError::not_found(format!(
                "no queue '{}' in vhost '{}'",
                self.name, self.vhost
            )));
        }
        let exclusive_taken = st.consumers.iter().any(|c| c.exclusive);
        if exclusive_taken
            || (consumer.exclusive && !st.consumers.is_empty())
            || (consumer.exclusive && self.args.single_active_consumer)
        {
            return Err(AmqpError::access_refused(format!(
                "{} in exclusive use",
                self.describe()
            )));
        }
        // Highest priority first, arrival order among equals. A single-active-consumer queue
        // keeps its active consumer (index 0) whatever the newcomer's priority.
        let from = usize::from(self.args.single_active_consumer && !st.consumers.is_empty());
        let at = from
            + st.consumers[from..]
                .iter()
                .position(|c| c.priority < consumer.priority)
                .unwrap_or(st.consumers.len() - from);
        st.consumers.insert(at, consumer);
        if at <= st.next && st.consumers.len() > 1 {
            st.next += 1;
        }
        st.had_consumer = true;
        self.dispatch_locked(&mut st);
        Ok(())
    }

    /// Removes a consumer. Returns true if the queue is auto-delete and just lost its last
    /// consumer: the caller (the vhost) then deletes it.
    pub fn cancel(self: &Arc<Self>, consumer: &Arc<Consumer>) -> bool {
        self.touch();
        let mut st = self.lock();
        let before = st.consumers.len();
        st.consumers.retain(|c| !Arc::ptr_eq(c, consumer));
        if st.consumers.len() != before {
            st.next = 0;
            // Another consumer may take over (single active consumer) or get what this one
            // could not take.
            self.dispatch_locked(&mut st);
        }
        self.auto_delete && st.had_consumer && st.consumers.is_empty() && !st.deleted
    }

    /// `basic.get`: takes the head message, if any. With `no_ack` it is settled at once.
    pub fn get(&self, no_ack: bool) -> Option<Got> {
        self.touch();
        let mut st = self.lock();
        loop {
            self.expire_head(&mut st);
            let ready = st.ready.pop_front()?;
            let expires_at = ready.expires_at;
            let Some((message, stored, redelivered)) = self.materialize(ready) else {
                continue;
            };
            let order = st.ready.take_order();
            if !no_ack {
                let persistent = self.counts_persistent(&message, stored);
                st.took(message.body.len() as u64, persistent);
                bump(&self.counters.get, 1);
            } else {
                bump(&self.counters.get_no_ack, 1);
                if let Some(id) = stored {
                    self.ack_stored(id);
                }
            }
            if redelivered {
                bump(&self.counters.redeliver, 1);
            }
            return Some(Got {
                message,
                redelivered,
                stored,
                order,
                expires_at,
                remaining: st.ready.len() as u32,
            });
        }
    }

    /// One delivery was acknowledged (or rejected without requeue): its consumer's credit is
    /// back, so deliver what it allows; a stored message is acked in the store.
    pub fn settle(self: &Arc<Self>, message: &Message, stored: Option<MsgId>) {
        if let Some(id) = stored {
            self.ack_stored(id);
        }
        bump(&self.counters.ack, 1);
        let mut st = self.lock();
        self.settled_locked(&mut st, message, stored);
        self.dispatch_locked(&mut st);
    }

    /// Several deliveries settled at once (multiple ack, nack...).
    pub fn settle_many(self: &Arc<Self>, settled: &[Returned]) {
        for r in settled {
            if let Some(id) = r.stored {
                self.ack_stored(id);
            }
        }
        bump(&self.counters.ack, settled.len() as u64);
        let mut st = self.lock();
        for r in settled {
            self.settled_locked(&mut st, &r.message, r.stored);
        }
        self.dispatch_locked(&mut st);
    }

    /// Puts unacknowledged messages back where they were in the queue (whatever order they
    /// come in), marked redelivered, and delivers again.
    pub fn requeue<I>(self: &Arc<Self>, messages: I)
    where
        I: IntoIterator<Item = Returned>,
    {
        let mut st = self.lock();
        for r in messages {
            self.settled_locked(&mut st, &r.message, r.stored);
            if !st.deleted {
                self.put_back(&mut st, r, true);
            }
        }
        self.dispatch_locked(&mut st);
    }

    /// A delivered message back at its place in the queue. It keeps its priority and its
    /// original expiry (as RabbitMQ: the TTL clock is not restarted), so an expired message
    /// that comes back is dead-lettered from the head like any other.
    fn put_back(&self, st: &mut QueueState, r: Returned, redelivered: bool) {
        let mut ready = self.entry(st, &r.message, r.stored);
        ready.body = Some(r.message);
        ready.redelivered = redelivered;
        ready.expires_at = r.expires_at;
        st.ready.put_back(ready, r.order);
    }

    /// Puts back a delivery that never reached the client (still in a closed connection's
    /// mailbox): its redelivered flag stays as it was.
    pub fn return_undelivered(self: &Arc<Self>, d: Delivery) {
        let mut st = self.lock();
        if !d.consumer.no_ack {
            self.settled_locked(&mut st, &d.message, d.stored);
        }
        if !st.deleted {
            let redelivered = d.redelivered;
            self.put_back(&mut st, d.into(), redelivered);
        }
        self.dispatch_locked(&mut st);
    }

    /// What the queue obeys now: its arguments with the applying policy merged in.
    pub fn effective_args(&self) -> QueueArgs {
        self.state.lock().effective.clone()
    }

    /// The name of the policy that applies to this queue, if any.
    pub fn policy_name(&self) -> Option<ShortStr> {
        self.state.lock().policy.clone()
    }

    /// Applies a policy (or none): the merged settings take effect at once, as in RabbitMQ
    /// (a shorter TTL expires messages now, a smaller max-length drops or dead-letters the
    /// oldest under drop-head).
    pub fn apply_policy(self: &Arc<Self>, policy: Option<&crate::policy::Policy>) {
        let mut st = self.lock();
        st.effective = crate::policy::effective_queue_args(&self.args, policy);
        st.policy = policy.map(|p| p.name.clone());
        self.drop_head(&mut st);
        self.expire_head(&mut st);
        self.dispatch_locked(&mut st);
    }

    /// Drops all ready messages; returns how many.
    pub fn purge(&self) -> u32 {
        let mut st = self.lock();
        let n = st.ready.len() as u32;
        let mut paged = Vec::new();
        let ids: Vec<MsgId> = st
            .ready
            .drain()
            .filter_map(|r| match stored_id(r.stored) {
                Some(id) if r.paged => {
                    paged.push(id);
                    None
                }
                id => id,
            })
            .collect();
        drop(st);
        if let (Some((d, qid)), false) = (&self.store, ids.is_empty()) {
            d.ack(*qid, &ids);
            // Durable before purge-ok, as every other durable change: the acks are fsynced
            // now, not with the next ack sync (up to 200 ms later), so a crash right after
            // the reply does not bring the messages back. It waits for one fsync of the
            // syncer thread (group commit); a purge is rare, and RabbitMQ's is synchronous.
            d.flush();
        }
        if !paged.is_empty() {
            self.release_paged(&paged);
        }
        n
    }

    /// Checks delete preconditions and marks the queue deleted; consumers are told their
    /// subscription is gone. Returns the number of ready messages dropped.
    pub fn delete(&self, if_unused: bool, if_empty: bool) -> Result<u32> {
        let mut st = self.lock();
        if if_unused && !st.consumers.is_empty() {
            return Err(AmqpError::precondition_failed(format!(
                "{} in use",
                self.describe()
            )));
        }
        if if_empty && !st.ready.is_empty() {
            return Err(AmqpError::precondition_failed(format!(
                "{} not empty",
                self.describe()
            )));
        }
        st.deleted = true;
        let n = st.ready.len() as u32;
        st.ready.drain().for_each(drop);
        for c in st.consumers.drain(..) {
            let _ = c.outbox.send(ConnEvent::ConsumerCancelled {
                channel: c.channel,
                consumer_tag: c.tag.clone(),
            });
        }
        drop(st);
        if let Some((d, qid)) = &self.store {
            d.delete_queue(*qid);
        }
        if let Some((p, qid)) = self
            .pager
            .as_ref()
            .and_then(|(p, id)| Some((p, *id.get()?)))
        {
            p.delete_queue(qid);
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use warren_amqp::{RawProperties, Route};

    fn ready(body: Option<&'static str>, stored: u64, priority: u8) -> Ready {
        Ready {
            body: body.map(|b| {
                Message::new(
                    Route::default(),
                    RawProperties::default(),
                    Bytes::from_static(b.as_bytes()),
                )
            }),
            stored,
            expires_at: 0,
            size: body.map_or(7, |b| b.len() as u32),
            redelivered: false,
            priority,
            paged: false,
            persistent: false,
        }
    }

    fn pop(b: &mut Backlog) -> Option<(Option<Bytes>, u64)> {
        b.pop_front().map(|r| (r.body.map(|m| m.body), r.stored))
    }

    #[test]
    fn the_backlog_keeps_order_with_messages_in_memory_or_on_disk() {
        let mut b = Backlog::new(1);
        b.push_back(ready(Some("a"), 0, 0));
        b.push_back(ready(None, 5, 0));
        b.push_back(ready(Some("hi"), 0, 1));
        b.put_back(ready(Some("c"), 0, 0), 0);
        b.push_back(ready(None, 6, 1));
        assert_eq!((b.len(), b.bytes), (5, 1 + 7 + 2 + 1 + 7));
        assert_eq!(b.messages.len, 3);
        assert_eq!(pop(&mut b), Some((Some(Bytes::from_static(b"hi")), 0)));
        assert_eq!(pop(&mut b), Some((None, 6)));
        assert_eq!(pop(&mut b), Some((Some(Bytes::from_static(b"c")), 0)));
        // a freed slot is reused before the slab grows
        b.push_back(ready(Some("d"), 0, 0));
        assert_eq!(b.messages.slots(), 3);
        assert_eq!(pop(&mut b), Some((Some(Bytes::from_static(b"a")), 0)));
        assert_eq!(pop(&mut b), Some((None, 5)));
        assert_eq!(pop(&mut b), Some((Some(Bytes::from_static(b"d")), 0)));
        assert_eq!(pop(&mut b), None);
        assert_eq!((b.len(), b.bytes, b.messages.len), (0, 0, 0));
        // emptied: the slab starts over
        assert_eq!(b.messages.slots(), 0);
        assert_eq!(b.messages.free, NO_SLOT);
    }

    #[test]
    fn a_withdrawn_stored_message_leaves_the_backlog_and_its_counts() {
        let mut b = Backlog::new(1);
        b.push_back(ready(Some("a"), stored_field(Some(1)), 0));
        b.push_back(ready(None, stored_field(Some(2)), 1));
        b.put_back(ready(Some("bb"), stored_field(Some(3)), 0), 0);
        b.push_back(ready(Some("ccc"), stored_field(Some(4)), 0));
        assert_eq!((b.len(), b.bytes, b.mem_bytes), (4, 1 + 7 + 2 + 3, 6));
        assert!(b.withdraw(9).is_none(), "not there");
        assert!(b.withdraw(4).is_some());
        assert!(b.withdraw(3).is_some(), "a requeued one, with its place");
        assert!(b.withdraw(4).is_none(), "only once");
        assert_eq!((b.len(), b.bytes, b.mem_bytes), (2, 1 + 7, 1));
        assert_eq!(b.messages.len, 1);
        assert!(b.requeued[0].is_empty());
        assert_eq!(pop(&mut b), Some((None, stored_field(Some(2)))));
        assert_eq!(
            pop(&mut b),
            Some((Some(Bytes::from_static(b"a")), stored_field(Some(1))))
        );
        assert_eq!(pop(&mut b), None);
    }

    #[test]
    fn messages_put_back_in_any_order_return_to_their_places() {
        let mut b = Backlog::new(1);
        for (id, prio) in [(1, 0), (2, 1), (3, 0), (4, 0)] {
            b.push_back(ready(None, id, prio));
        }
        // taken for delivery: 2 (priority 1) first, then 1, 3, 4
        let mut taken = Vec::new();
        for _ in 0..4 {
            let r = b.pop_front().unwrap();
            taken.push((r, b.take_order()));
        }
        assert_eq!(b.len(), 0);
        b.push_back(ready(None, 5, 0));
        // back in a scrambled order: 4, 2, 1 (3 stays out)
        let mut put = |i: usize| {
            let (r, o) = std::mem::replace(&mut taken[i], (ready(None, 0, 0), 0));
            b.put_back(r, o);
        };
        put(3);
        put(0);
        put(1);
        let order: Vec<u64> = std::iter::from_fn(|| pop(&mut b).map(|(_, id)| id)).collect();
        assert_eq!(order, [2, 1, 4, 5]);
        assert!(b.requeued.iter().all(VecDeque::is_empty));
    }

    #[test]
    fn slab_chunks_double_and_cover_every_slot_once() {
        let mut next = 0;
        for c in 0..6 {
            let size = if c == 0 {
                SLAB_CHUNK
            } else {
                SLAB_CHUNK << (c - 1)
            };
            for i in [0, 1, size - 1] {
                assert_eq!(chunk_of(next + i), (c, i));
            }
            next += size;
        }
    }

    #[test]
    fn paging_out_keeps_the_window_writes_transient_bodies_and_drops_stored_ones() {
        let mut b = Backlog::new(1);
        // priority 1 is delivered first: its 10 messages are the head of the window
        for i in 0..10u64 {
            b.push_back(ready(Some("h"), 0, 1));
            let _ = i;
        }
        for i in 0..200u64 {
            // every other one persistent and stored (id i + 1)
            let stored = if i % 2 == 0 { 0 } else { i + 1 };
            b.push_back(ready(Some("m"), stored, 0));
        }
        b.push_back(ready(None, 999, 0));
        assert!(b.beyond_paging_window() && b.behind_paging_window());
        let mut written = Vec::new();
        let mut next = 1000;
        // a small budget: one batch is not enough
        assert!(b.page_out(10, |m| {
            written.push(m.body.clone());
            next += 1;
            Some(next)
        }));
        while b.page_out(u64::MAX, |m| {
            written.push(m.body.clone());
            next += 1;
            Some(next)
        }) {}
        assert_eq!(
            (b.messages.len, b.mem_bytes),
            (PAGING_WINDOW, PAGING_WINDOW as u64)
        );
        assert!(!b.beyond_paging_window());
        // 200 - (64 - 10) messages of level 0 left the window; half were transient
        assert_eq!(written.len(), (200 - (PAGING_WINDOW - 10)) / 2);
        let all: Vec<Ready> = std::iter::from_fn(|| b.pop_front()).collect();
        assert_eq!(all.len(), 211);
        for (i, r) in all.iter().enumerate() {
            let in_window = i < PAGING_WINDOW;
            assert_eq!(r.body.is_some(), in_window, "message {i}");
            if !in_window && i < 210 {
                let persistent = (i - 10) % 2 == 1;
                assert_eq!(r.paged, !persistent, "message {i}");
                assert_ne!(r.stored, 0);
            }
        }
        assert_eq!((b.mem_bytes, b.messages.len), (0, 0));
        // a failed write stops the walk and keeps the body
        for _ in 0..PAGING_WINDOW + 2 {
            b.push_back(ready(Some("m"), 0, 0));
        }
        assert!(!b.page_out(u64::MAX, |_| None));
        assert_eq!(b.messages.len, PAGING_WINDOW + 2);
    }

    #[test]
    fn an_emptied_slab_gives_a_burst_s_memory_back() {
        let mut b = Backlog::new(0);
        for _ in 0..SLAB_CHUNK * 4 {
            b.push_back(ready(Some("m"), 0, 0));
        }
        assert_eq!(b.messages.chunks.len(), 3);
        while b.pop_front().is_some() {}
        assert_eq!(b.messages.chunks.len(), 1);
        for _ in 0..10 {
            b.push_back(ready(Some("m"), 0, 0));
        }
        let ids: Vec<u64> = b.drain().map(|e| e.stored).collect();
        assert_eq!(ids.len(), 10);
        assert_eq!((b.len(), b.messages.len), (0, 0));
        assert_eq!(b.messages.slots(), 0);
    }
}
