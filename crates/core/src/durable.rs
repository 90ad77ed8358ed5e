//! Durability for persistent messages on durable queues: synchronous appends, a syncer thread
//! for group commit, and publisher confirms after the fsync.
//!
//! A persistent message routed to durable queues is appended to the store by the publishing
//! connection itself (a buffered write under the store's lock, no syscall per message), written
//! once whatever the number of queues, and enqueued right away with its store id, so the
//! channel's next method (a `basic.get`, say) sees it, as in RabbitMQ. What waits is only the
//! publisher confirm: it is handed to the syncer thread, which fsyncs once for every record
//! appended so far (group commit: while one fsync runs, the next batch gathers) and then sends
//! the confirms that fsync covers. Acks are buffered the same way and reach the disk with the
//! next fsync (at most [`ACK_SYNC_INTERVAL`] later).
//!
//! Invariants:
//! - A confirm for a persistent message is sent only after the fsync that covers its record.
//! - Transient messages and non-durable queues cost no disk I/O.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Weak};
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use parking_lot::Mutex;
use warren_amqp::{RawProperties, Route};
use warren_store::{Location, Meta, MsgId, QueueId, Store, StoreError};

use crate::consumer::{ConnEvent, Outbox};
use crate::log_limit::LogLimit;
use crate::message::Message;
use crate::paging::Pager;
use crate::queue::Queue;

/// Longest time an ack stays only in memory before the syncer writes it out.
pub const ACK_SYNC_INTERVAL: Duration = Duration::from_millis(200);

/// A repeated store error is logged at most this often (see `log_limit.rs`).
pub const LOG_EVERY: Duration = Duration::from_secs(5);

/// Where a publisher confirm goes once the store has the message on disk.
#[derive(Debug)]
pub struct ConfirmTicket {
    pub outbox: Arc<Outbox>,
    pub channel: u16,
    pub seq: u64,
    /// The stored message: if the sync fails, it is taken back out of its queues and the
    /// store before the nack, so that the nack means "not stored".
    pub msg: MsgId,
}

/// The durable queues by store id (the latest queue object of each), for taking back the
/// messages of a failed sync.
type QueueMap = Arc<Mutex<HashMap<QueueId, Weak<Queue>>>>;

#[derive(Debug)]
enum SyncOp {
    Confirm(ConfirmTicket),
    /// Answered once everything appended before it is on disk (clean shutdown).
    Barrier(mpsc::Sender<()>),
}

/// The handle the broker holds: the store and the way to its syncer thread.
#[derive(Debug)]
pub struct Durability {
    pub store: Arc<Store>,
    tx: Mutex<mpsc::Sender<SyncOp>>,
    /// Something (an ack, a purge) was written since the last fsync.
    dirty: Arc<AtomicBool>,
    /// Reused encoding buffer for record headers.
    header: Mutex<BytesMut>,
    /// Where bodies go under memory pressure (see paging.rs), once enabled.
    pager: std::sync::OnceLock<Arc<Pager>>,
    queues: QueueMap,
}

impl Durability {
    /// Starts the syncer thread.
    pub fn start(store: Store) -> Arc<Durability> {
        let store = Arc::new(store);
        let (tx, rx) = mpsc::channel();
        let dirty = Arc::new(AtomicBool::new(false));
        let queues = QueueMap::default();
        let (s, d, q) = (store.clone(), dirty.clone(), queues.clone());
        std::thread::Builder::new()
            .name("warren-sync".into())
            .spawn(move || syncer(s, d, q, rx))
            .expect("the syncer thread starts");
        Arc::new(Durability {
            store,
            tx: Mutex::new(tx),
            dirty,
            header: Mutex::new(BytesMut::with_capacity(600)),
            pager: std::sync::OnceLock::new(),
            queues,
        })
    }

    /// Notes the queue object of store id `id` (a durable queue just made).
    pub(crate) fn register(&self, id: QueueId, queue: &Arc<Queue>) {
        let mut map = self.queues.lock();
        map.retain(|_, q| q.strong_count() > 0);
        map.insert(id, Arc::downgrade(queue));
    }

    /// Gives the broker a transient store to page bodies out to under memory pressure
    /// (before any queue exists: queues take it when they are made).
    pub fn enable_paging(&self, pager: Pager) {
        let _ = self.pager.set(Arc::new(pager));
    }

    /// The pager, if paging is enabled.
    pub fn pager(&self) -> Option<&Arc<Pager>> {
        self.pager.get()
    }

    /// Appends a message for `queues` (store ids); durable after the next sync. Its priority
    /// and the expiry its own `expiration` gives it go into the store's index with it (and
    /// the store notes the time), so that recovery restores both without reading the body.
    pub fn append(
        &self,
        message: &Message,
        queues: &[QueueId],
    ) -> Result<(MsgId, Location), StoreError> {
        let meta = stored_meta(message);
        let mut header = self.header.lock();
        encode_header(&mut header, message);
        self.store.append_meta(
            &[&header, &message.properties.0, &message.body],
            queues,
            meta,
        )
    }

    /// Sends `ticket`'s confirm after the next fsync.
    pub fn confirm_after_sync(&self, ticket: ConfirmTicket) {
        if let Err(mpsc::SendError(SyncOp::Confirm(t))) =
            self.tx.lock().send(SyncOp::Confirm(ticket))
        {
            let _ = t.outbox.send(ConnEvent::Nack {
                channel: t.channel,
                seq: t.seq,
            });
        }
    }

    /// Acknowledges stored messages of a queue (written with the next sync).
    pub fn ack(&self, queue: QueueId, msgs: &[MsgId]) {
        if let Err(e) = self.store.ack(queue, msgs) {
            static ACK_FAILED: LogLimit = LogLimit::new(LOG_EVERY);
            crate::limited!(error, ACK_FAILED, "store ack failed: {e}");
        }
        self.dirty.store(true, Ordering::Release);
    }

    pub fn delete_queue(&self, queue: QueueId) {
        if let Err(e) = self.store.delete_queue(queue) {
            static DELETE_FAILED: LogLimit = LogLimit::new(LOG_EVERY);
            crate::limited!(error, DELETE_FAILED, "store queue delete failed: {e}");
        }
        self.dirty.store(true, Ordering::Release);
    }

    /// Waits until everything written so far is synced.
    pub fn flush(&self) {
        let (tx, rx) = mpsc::channel();
        if self.tx.lock().send(SyncOp::Barrier(tx)).is_ok() {
            let _ = rx.recv();
        }
    }

    /// The store id of a queue, from its vhost and name.
    pub fn queue_id(&self, vhost: &str, name: &str) -> QueueId {
        self.store.queue_id(&queue_key(vhost, name))
    }
}

/// The store's name for a queue: unambiguous whatever characters the names hold.
pub fn queue_key(vhost: &str, name: &str) -> String {
    format!("{}:{vhost}/{name}", vhost.len())
}

/// Splits a [`queue_key`] back into (vhost, name).
pub fn parse_queue_key(key: &str) -> Option<(&str, &str)> {
    let (len, rest) = key.split_once(':')?;
    let len: usize = len.parse().ok()?;
    let vhost = rest.get(..len)?;
    let name = rest.get(len..)?.strip_prefix('/')?;
    Some((vhost, name))
}

/// Segment compaction moves at most this many bytes between two looks at the confirms.
const COMPACT_STEP: u64 = 4 << 20;

fn syncer(store: Arc<Store>, dirty: Arc<AtomicBool>, queues: QueueMap, rx: mpsc::Receiver<SyncOp>) {
    let mut tickets: Vec<ConfirmTicket> = Vec::new();
    let mut barriers = Vec::new();
    let mut compacting = false;
    loop {
        // While segments are being compacted, a step follows each batch without waiting.
        let wait = if compacting {
            Duration::ZERO
        } else {
            ACK_SYNC_INTERVAL
        };
        match rx.recv_timeout(wait) {
            Ok(op) => push(op, &mut tickets, &mut barriers),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => return,
        }
        // Everything queued up while the previous fsync ran joins this one.
        while let Ok(op) = rx.try_recv() {
            push(op, &mut tickets, &mut barriers);
        }
        let acks_pending = dirty.swap(false, Ordering::AcqRel);
        if !tickets.is_empty() || !barriers.is_empty() || acks_pending {
            sync_and_confirm(&store, &queues, &mut tickets, &mut barriers);
        }
        compacting = store.wants_compaction() && compact_step(&store);
    }
}

/// One step of segment compaction (see `Store::compact_segments`); whether there is more.
fn compact_step(store: &Store) -> bool {
    match store.compact_segments(COMPACT_STEP) {
        Ok(step) => step.moved > 0,
        Err(e) => {
            static COMPACT_FAILED: LogLimit = LogLimit::new(LOG_EVERY);
            crate::limited!(warn, COMPACT_FAILED, "store segment compaction failed: {e}");
            false
        }
    }
}

/// One group commit: syncs, then sends the confirms (nacks if the sync failed) it covers.
fn sync_and_confirm(
    store: &Store,
    queues: &QueueMap,
    tickets: &mut Vec<ConfirmTicket>,
    barriers: &mut Vec<mpsc::Sender<()>>,
) {
    let ok = match store.sync() {
        Ok(()) => true,
        Err(e) => {
            static SYNC_FAILED: LogLimit = LogLimit::new(LOG_EVERY);
            crate::limited!(error, SYNC_FAILED, "store sync failed: {e}");
            false
        }
    };
    if !ok {
        unstore(store, queues, tickets);
    }
    // One event per run of tickets for the same channel: "done up to seq".
    let mut run: Option<ConfirmTicket> = None;
    for t in tickets.drain(..) {
        if !ok {
            let _ = t.outbox.send(ConnEvent::Nack {
                channel: t.channel,
                seq: t.seq,
            });
            continue;
        }
        match run.take() {
            Some(p) if Arc::ptr_eq(&p.outbox, &t.outbox) && p.channel == t.channel => {}
            Some(p) => send_confirm(p),
            None => {}
        }
        run = Some(t);
    }
    if let Some(p) = run {
        send_confirm(p);
    }
    for b in barriers.drain(..) {
        let _ = b.send(());
    }
}

/// The messages of a failed sync leave their queues (those not delivered yet) and the store
/// (their `Publish` and an `Ack` reach the disk together, or neither does), so that their
/// nack means "not stored": they are not delivered later and do not come back at a restart.
/// A message a consumer already has stays with it (as in RabbitMQ, the nack says the broker
/// did not take responsibility for it, not that nobody saw it); it is not stored either.
fn unstore(store: &Store, queues: &QueueMap, tickets: &[ConfirmTicket]) {
    let map = queues.lock();
    for t in tickets {
        for qid in store.queues_of(t.msg) {
            if let Some(q) = map.get(&qid).and_then(Weak::upgrade) {
                q.withdraw_stored(t.msg);
            }
            if let Err(e) = store.ack(qid, &[t.msg]) {
                static UNSTORE_FAILED: LogLimit = LogLimit::new(LOG_EVERY);
                crate::limited!(
                    error,
                    UNSTORE_FAILED,
                    "store: taking back a nacked message failed: {e}"
                );
            }
        }
    }
}

fn push(op: SyncOp, tickets: &mut Vec<ConfirmTicket>, barriers: &mut Vec<mpsc::Sender<()>>) {
    match op {
        SyncOp::Confirm(t) => tickets.push(t),
        SyncOp::Barrier(b) => barriers.push(b),
    }
}

fn send_confirm(t: ConfirmTicket) {
    let _ = t.outbox.send(ConnEvent::Confirm {
        channel: t.channel,
        seq: t.seq,
    });
}

/// The store's [`Meta`] for a message: its priority property and the absolute expiry of its
/// `expiration` property (a queue's `x-message-ttl` is the queue's, applied at recovery from
/// the publish time the store keeps).
fn stored_meta(m: &Message) -> Meta {
    let priority = m.properties.priority().unwrap_or(0);
    let expires_at = m
        .properties
        .expiration()
        .and_then(|e| crate::arguments::parse_expiration(&e).ok())
        .map_or(0, |ttl| crate::queue::now_ms().saturating_add(ttl).max(1));
    Meta::new(priority, expires_at)
}

/// exchange (shortstr), routing key (shortstr), properties length (u32); then the properties
/// and the body follow as their own parts of the record.
pub(crate) fn encode_header(buf: &mut BytesMut, m: &Message) {
    buf.clear();
    // The route is both short strings with their length bytes.
    buf.put_slice(m.route.as_bytes());
    buf.put_u32(m.properties.0.len() as u32);
}

/// Decodes a stored record back into a message (zero-copy slices of `record`).
pub fn decode_message(record: Bytes) -> Option<Message> {
    let mut rest = record.clone();
    let route = Route::decode(&mut rest).ok()?;
    let mut at = record.len() - rest.len();
    let plen = u32::from_be_bytes(record.get(at..at + 4)?.try_into().ok()?) as usize;
    at += 4;
    if record.len() < at + plen {
        return None;
    }
    let properties = RawProperties(record.slice(at..at + plen));
    let body = record.slice(at + plen..);
    Some(Message::new(route, properties, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_keys_round_trip_whatever_the_names() {
        for (v, n) in [("/", "q"), ("a/b", "c/d"), ("", ""), ("x:y", "1:2/3")] {
            assert_eq!(parse_queue_key(&queue_key(v, n)), Some((v, n)));
        }
        assert_eq!(parse_queue_key("nonsense"), None);
    }

    #[test]
    fn messages_round_trip_through_the_record_format() {
        let m = Message::new(
            Route::new("ex", "a.b").unwrap(),
            RawProperties(Bytes::from_static(&[0x10, 0x00, 2])),
            Bytes::from_static(b"payload"),
        );
        let mut h = BytesMut::new();
        encode_header(&mut h, &m);
        let mut rec = h.to_vec();
        rec.extend_from_slice(&m.properties.0);
        rec.extend_from_slice(&m.body);
        let back = decode_message(Bytes::from(rec.clone())).unwrap();
        assert_eq!(back.exchange(), "ex");
        assert_eq!(back.routing_key(), "a.b");
        // the same bytes as two short strings written one after the other
        assert_eq!(&rec[..7], b"\x02ex\x03a.b");
        assert_eq!(back.properties, m.properties);
        assert_eq!(back.body, m.body);
        // every cut inside the header or the properties is refused, never a panic
        for cut in 0..h.len() + m.properties.0.len() {
            assert!(
                decode_message(Bytes::from(rec[..cut].to_vec())).is_none(),
                "cut {cut}"
            );
        }
    }
}
