//! Durability for persistent messages on durable queues: the store thread and its group commit.
//!
//! Messages that must survive a crash (delivery-mode 2, routed to a durable queue) do not enter
//! their queues from the publishing connection. They go, in publish order, to one store thread,
//! which appends each message once (whatever the number of queues), fsyncs once for everything it
//! took in the same turn (group commit), and only then enqueues them and sends the publisher
//! confirms the fsync covers. Acks, purges and deletions of durable queues go the same way and
//! are written with the next batch.
//!
//! Invariants:
//! - A confirm for a persistent message is sent only after the fsync that covers its record.
//! - A message enters a durable queue only after it is on disk, so a consumer can never see a
//!   message that a crash would take back.
//! - Transient messages cost no disk I/O; they pass through this thread only when a channel has
//!   persistent messages in flight to keep the channel's per-queue order.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};
use warren_amqp::{RawProperties, ShortStr};
use warren_store::{Location, MsgId, QueueId, Store};

use crate::consumer::{ConnEvent, Outbox};
use crate::message::Message;
use crate::queue::Queue;

/// Where a publisher confirm goes once the store has the message.
#[derive(Debug)]
pub struct ConfirmTicket {
    pub outbox: Arc<Outbox>,
    pub channel: u16,
    pub seq: u64,
}

/// Work for the store thread.
#[derive(Debug)]
pub enum StoreOp {
    /// Write (if `persist`) then enqueue into `queues`, then confirm.
    Publish {
        message: Arc<Message>,
        queues: Vec<Arc<Queue>>,
        persist: bool,
        confirm: Option<ConfirmTicket>,
        /// The publishing channel, told with a channel error if the write fails and it is
        /// not in confirm mode (a nack tells it otherwise).
        origin: Option<(Arc<Outbox>, u16)>,
        /// The channel's count of publishes in flight here, decremented when done.
        inflight: Arc<AtomicUsize>,
    },
    Ack {
        queue: QueueId,
        msg: MsgId,
    },
    AckMany {
        queue: QueueId,
        msgs: Vec<MsgId>,
    },
    DeleteQueue {
        queue: QueueId,
    },
    /// Answered once everything submitted before it is on disk (clean shutdown).
    Barrier(mpsc::Sender<()>),
}

/// The handle the broker holds: the store and the way to its thread.
#[derive(Debug)]
pub struct Durability {
    pub store: Arc<Store>,
    tx: mpsc::Sender<StoreOp>,
}

/// Most operations taken in one group commit.
const BATCH_MAX: usize = 4096;

impl Durability {
    /// Starts the store thread.
    pub fn start(store: Store) -> Arc<Durability> {
        let store = Arc::new(store);
        let (tx, rx) = mpsc::channel();
        let s = store.clone();
        std::thread::Builder::new()
            .name("warren-store".into())
            .spawn(move || store_thread(s, rx))
            .expect("the store thread starts");
        Arc::new(Durability { store, tx })
    }

    pub fn submit(&self, op: StoreOp) {
        if let Err(mpsc::SendError(op)) = self.tx.send(op) {
            // The store thread died (it only does after a fatal I/O error, logged there):
            // refuse what needed the disk.
            fail(op);
        }
    }

    /// Waits until everything submitted so far is written and synced.
    pub fn flush(&self) {
        let (tx, rx) = mpsc::channel();
        if self.tx.send(StoreOp::Barrier(tx)).is_ok() {
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

fn fail(op: StoreOp) {
    if let StoreOp::Publish {
        confirm,
        origin,
        inflight,
        ..
    } = op
    {
        inflight.fetch_sub(1, Ordering::AcqRel);
        if let Some(t) = confirm {
            let _ = t.outbox.send(ConnEvent::Nack {
                channel: t.channel,
                seq: t.seq,
            });
        } else if let Some((outbox, channel)) = origin {
            let _ = outbox.send(ConnEvent::ChannelError {
                channel,
                error: crate::error::AmqpError::internal_error(
                    "a persistent message could not be written to disk (disk full or failing); see the broker log",
                ),
            });
        }
    }
}

struct Written {
    message: Arc<Message>,
    queues: Vec<Arc<Queue>>,
    stored: Option<(MsgId, Location)>,
    /// A queue refused the message (x-overflow reject-publish): the publisher gets a nack.
    refused: bool,
    confirm: Option<ConfirmTicket>,
    origin: Option<(Arc<Outbox>, u16)>,
    inflight: Arc<AtomicUsize>,
}

fn store_thread(store: Arc<Store>, rx: mpsc::Receiver<StoreOp>) {
    let mut batch: Vec<Written> = Vec::new();
    let mut header = BytesMut::with_capacity(600);
    let mut ids: Vec<QueueId> = Vec::new();
    while let Ok(first) = rx.recv() {
        let mut dirty = false;
        let mut failed = false;
        let mut barriers = Vec::new();
        let mut op = Some(first);
        let mut n = 0;
        while let Some(o) = op.take() {
            n += 1;
            match o {
                StoreOp::Publish {
                    message,
                    mut queues,
                    persist,
                    confirm,
                    origin,
                    inflight,
                } => {
                    // Queues that refuse it (full, reject-publish) cost no disk write.
                    let before = queues.len();
                    queues.retain(|q| !q.refuses(message.body.len() as u64));
                    let refused = queues.len() != before;
                    let mut stored = None;
                    if persist && !failed && !queues.is_empty() {
                        ids.clear();
                        ids.extend(queues.iter().filter_map(|q| q.store_id()));
                        encode_header(&mut header, &message);
                        match store.append(&[&header, &message.properties.0, &message.body], &ids) {
                            Ok(s) => {
                                stored = Some(s);
                                dirty = true;
                            }
                            Err(e) => {
                                tracing::error!("store append failed: {e}");
                                failed = true;
                            }
                        }
                    }
                    if persist && stored.is_none() && !queues.is_empty() {
                        fail(StoreOp::Publish {
                            message,
                            queues,
                            persist,
                            confirm,
                            origin,
                            inflight,
                        });
                    } else {
                        batch.push(Written {
                            message,
                            queues,
                            stored,
                            refused,
                            confirm,
                            origin,
                            inflight,
                        });
                    }
                }
                StoreOp::Ack { queue, msg } => {
                    dirty = true;
                    if let Err(e) = store.ack(queue, &[msg]) {
                        tracing::error!("store ack failed: {e}");
                    }
                }
                StoreOp::AckMany { queue, msgs } => {
                    dirty = true;
                    if let Err(e) = store.ack(queue, &msgs) {
                        tracing::error!("store ack failed: {e}");
                    }
                }
                StoreOp::Barrier(done) => {
                    dirty = true;
                    barriers.push(done);
                }
                StoreOp::DeleteQueue { queue } => {
                    dirty = true;
                    if let Err(e) = store.delete_queue(queue) {
                        tracing::error!("store queue delete failed: {e}");
                    }
                }
            }
            if n < BATCH_MAX {
                op = rx.try_recv().ok();
            }
        }
        // Group commit: one fsync covers every record of this turn.
        let synced = !dirty
            || match store.sync() {
                Ok(()) => true,
                Err(e) => {
                    tracing::error!("store sync failed: {e}");
                    false
                }
            };
        let mut confirm: Option<ConfirmTicket> = None;
        for w in batch.drain(..) {
            if w.stored.is_some() && !synced {
                fail(StoreOp::Publish {
                    message: w.message,
                    queues: w.queues,
                    persist: true,
                    confirm: w.confirm,
                    origin: w.origin,
                    inflight: w.inflight,
                });
                continue;
            }
            let mut refused = w.refused;
            for q in &w.queues {
                refused |= !match w.stored {
                    Some((id, loc)) => q.publish_stored(w.message.clone(), id, loc),
                    None => q.publish(w.message.clone()),
                };
            }
            w.inflight.fetch_sub(1, Ordering::AcqRel);
            if refused {
                if let Some(t) = w.confirm {
                    // Earlier confirms first, so "done up to" never covers this one.
                    if let Some(p) = confirm.take() {
                        send_confirm(p);
                    }
                    let _ = t.outbox.send(ConnEvent::Nack {
                        channel: t.channel,
                        seq: t.seq,
                    });
                }
                continue;
            }
            if let Some(t) = w.confirm {
                // One event per run of confirms for the same channel: "done up to seq".
                match confirm.take() {
                    Some(p) if Arc::ptr_eq(&p.outbox, &t.outbox) && p.channel == t.channel => {}
                    Some(p) => send_confirm(p),
                    None => {}
                }
                confirm = Some(t);
            }
        }
        if let Some(p) = confirm {
            send_confirm(p);
        }
        for b in barriers.drain(..) {
            let _ = b.send(());
        }
    }
}

fn send_confirm(t: ConfirmTicket) {
    let _ = t.outbox.send(ConnEvent::Confirm {
        channel: t.channel,
        seq: t.seq,
    });
}

/// exchange (shortstr), routing key (shortstr), properties length (u32); then the properties
/// and the body follow as their own parts of the record.
fn encode_header(buf: &mut BytesMut, m: &Message) {
    buf.clear();
    buf.put_u8(m.exchange.len() as u8);
    buf.put_slice(m.exchange.as_bytes());
    buf.put_u8(m.routing_key.len() as u8);
    buf.put_slice(m.routing_key.as_bytes());
    buf.put_u32(m.properties.0.len() as u32);
}

/// Decodes a stored record back into a message (zero-copy slices of `record`).
pub fn decode_message(record: Bytes) -> Option<Message> {
    let mut at = 0usize;
    let short = |at: &mut usize| -> Option<ShortStr> {
        let len = usize::from(*record.get(*at)?);
        let s = record.get(*at + 1..*at + 1 + len)?;
        let v = ShortStr::try_from(std::str::from_utf8(s).ok()?).ok()?;
        *at += 1 + len;
        Some(v)
    };
    let exchange = short(&mut at)?;
    let routing_key = short(&mut at)?;
    let plen = u32::from_be_bytes(record.get(at..at + 4)?.try_into().ok()?) as usize;
    at += 4;
    if record.len() < at + plen {
        return None;
    }
    let properties = RawProperties(record.slice(at..at + plen));
    let body = record.slice(at + plen..);
    Some(Message {
        exchange,
        routing_key,
        properties,
        body,
    })
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
        let m = Message {
            exchange: ShortStr::from_static("ex"),
            routing_key: ShortStr::from_static("a.b"),
            properties: RawProperties(Bytes::from_static(&[0x10, 0x00, 2])),
            body: Bytes::from_static(b"payload"),
        };
        let mut h = BytesMut::new();
        encode_header(&mut h, &m);
        let mut rec = h.to_vec();
        rec.extend_from_slice(&m.properties.0);
        rec.extend_from_slice(&m.body);
        let back = decode_message(Bytes::from(rec.clone())).unwrap();
        assert_eq!(back.exchange, m.exchange);
        assert_eq!(back.routing_key, m.routing_key);
        assert_eq!(back.properties, m.properties);
        assert_eq!(back.body, m.body);
        for cut in 0..h.len() + 3 {
            assert!(
                decode_message(Bytes::from(rec[..cut].to_vec())).is_none() || cut >= h.len() + 3
            );
        }
    }
}
