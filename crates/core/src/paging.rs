//! Paging message bodies out of memory when the broker's memory is under pressure, as
//! RabbitMQ does past `vm_memory_high_watermark_paging_ratio` of its high watermark.
//!
//! Bodies go to a second instance of the message store, the *transient store*
//! (`<data-dir>/messages/transient/`): never fsynced, wiped at every start (nothing in it
//! outlives the process, so nothing in it is recovered). Under pressure:
//! - a queue keeps in memory only the bodies of its first [`PAGING_WINDOW`] ready messages
//!   (and at most [`PAGING_WINDOW_BYTES`] of them); a message published behind that window goes
//!   to the transient store at once (a persistent one on a durable queue is in the message
//!   store already and only drops its body);
//! - the resource monitor calls [`crate::Broker::page_out`], which writes out (or drops, for
//!   stored messages) the bodies queues hold behind their windows.
//!
//! A paged message is read back when it reaches the head of its queue and leaves the
//! transient store there (acked at once: from then on it lives in memory as any delivery),
//! so its space is freed as consumers read and a segment file is deleted once every message
//! in it was read, purged or deleted. A confirm for a paged transient message never waits for
//! anything: the transient store is never synced to disk.
//!
//! Invariants:
//! - Below the pressure threshold a transient message costs one relaxed atomic load more
//!   than before (no syscall, no allocation, no lock).
//! - The transient store's queue ids are per queue *instance* (a counter, not the queue's
//!   name): a queue deleted and declared again never sees the old one's messages.
//! - The transient store's lock is a leaf: taken under a queue's lock, never the other way.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use bytes::BytesMut;
use parking_lot::Mutex;
use warren_store::{Meta, MsgId, QueueId, Store, StoreError, StoreOptions};

use crate::durable::{decode_message, encode_header};
use crate::message::Message;

/// Under pressure, the ready messages at a queue's head that keep their bodies in memory.
pub const PAGING_WINDOW: usize = 64;
/// ... and at most this many bytes of them.
pub const PAGING_WINDOW_BYTES: u64 = 1 << 20;
/// Bytes [`crate::Queue::page_out`] writes per hold of a queue's lock.
pub(crate) const PAGE_BATCH_BYTES: u64 = 4 << 20;

/// The transient store and the pressure flag.
#[derive(Debug)]
pub struct Pager {
    store: Store,
    pressure: AtomicBool,
    /// Written since the last [`Pager::flush`].
    dirty: AtomicBool,
    next_queue: AtomicU64,
    header: Mutex<BytesMut>,
}

impl Pager {
    /// Wipes `dir` (what a previous run paged out is gone with it) and opens an empty,
    /// never-fsynced store there.
    pub fn open(dir: &Path) -> Result<Pager, StoreError> {
        match std::fs::remove_dir_all(dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e.into()),
        }
        let opts = StoreOptions {
            fsync: false,
            ..StoreOptions::default()
        };
        let (store, _) = Store::open(dir, opts)?;
        Ok(Pager {
            store,
            pressure: AtomicBool::new(false),
            dirty: AtomicBool::new(false),
            next_queue: AtomicU64::new(0),
            header: Mutex::new(BytesMut::with_capacity(600)),
        })
    }

    /// Is memory under pressure (bodies are paged out)?
    #[inline]
    pub fn under_pressure(&self) -> bool {
        self.pressure.load(Ordering::Relaxed)
    }

    /// Set by the resource monitor. Stored only on a change, so publishers' loads of the
    /// flag keep hitting a shared cache line.
    pub fn set_pressure(&self, on: bool) {
        if self.pressure.load(Ordering::Relaxed) != on {
            self.pressure.store(on, Ordering::Relaxed);
            if on {
                tracing::info!("memory pressure: message bodies are paged out to disk");
            } else {
                tracing::info!("memory pressure over: message bodies stay in memory");
            }
        }
    }

    /// A fresh transient-store id for a queue instance.
    pub(crate) fn new_queue(&self) -> QueueId {
        let n = self.next_queue.fetch_add(1, Ordering::Relaxed);
        self.store.queue_id(&n.to_string())
    }

    /// Writes `message` out for queue `queue`.
    pub(crate) fn write(&self, queue: QueueId, message: &Message) -> Result<MsgId, StoreError> {
        let mut header = self.header.lock();
        encode_header(&mut header, message);
        let r = self.store.append_meta(
            &[&header, &message.properties.0, &message.body],
            &[queue],
            Meta::NONE,
        );
        drop(header);
        self.dirty.store(true, Ordering::Relaxed);
        r.map(|(id, _)| id)
    }

    /// Reads message `id` of `queue` back; it leaves the transient store.
    pub(crate) fn read(&self, queue: QueueId, id: MsgId) -> Option<Message> {
        let m = match self.store.read_msg(id) {
            Ok(record) => decode_message(record),
            Err(e) => {
                tracing::warn!("transient store: message {id} unreadable: {e}");
                None
            }
        };
        self.release(queue, &[id]);
        m
    }

    /// Drops messages of `queue` (purged, expired, dropped...).
    pub(crate) fn release(&self, queue: QueueId, ids: &[MsgId]) {
        if let Err(e) = self.store.ack(queue, ids) {
            tracing::warn!("transient store: ack failed: {e}");
        }
        self.dirty.store(true, Ordering::Relaxed);
    }

    /// Drops everything of a deleted queue.
    pub(crate) fn delete_queue(&self, queue: QueueId) {
        if let Err(e) = self.store.delete_queue(queue) {
            tracing::warn!("transient store: queue delete failed: {e}");
        }
        self.dirty.store(true, Ordering::Relaxed);
    }

    /// Hands buffered writes to the OS and compacts the journal when it grew (never fsyncs).
    /// Called by the resource monitor.
    pub fn flush(&self) {
        if self.dirty.swap(false, Ordering::Relaxed) {
            if let Err(e) = self.store.sync() {
                tracing::warn!("transient store: write-out failed: {e}");
            }
        }
        // A few paged bodies of a slow queue must not pin the transient store's segments
        // either: one compaction step per call while it has work (see Store::compact_segments).
        if self.store.wants_compaction() {
            if let Err(e) = self.store.compact_segments(4 << 20) {
                tracing::warn!("transient store: segment compaction failed: {e}");
            }
        }
    }

    /// Messages in the transient store.
    pub fn live_messages(&self) -> usize {
        self.store.live_messages()
    }

    /// Bytes of the transient store's files.
    pub fn disk_usage(&self) -> u64 {
        self.store.disk_usage()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use warren_amqp::{RawProperties, Route};

    #[test]
    fn a_reopened_transient_store_is_empty_and_acked_messages_leave_it() {
        let dir = tempfile::tempdir().unwrap();
        let at = dir.path().join("transient");
        let p = Pager::open(&at).unwrap();
        let q = p.new_queue();
        let m = Message::new(
            Route::new("ex", "rk").unwrap(),
            RawProperties(Bytes::from_static(&[0x10, 0x00, 1])),
            Bytes::from(vec![7u8; 70_000]),
        );
        let ids: Vec<MsgId> = (0..3).map(|_| p.write(q, &m).unwrap()).collect();
        assert_eq!(p.live_messages(), 3);
        let back = p.read(q, ids[0]).unwrap();
        assert_eq!((&back.body, back.exchange()), (&m.body, "ex"));
        assert_eq!(p.live_messages(), 2);
        p.release(q, &ids[1..2]);
        assert_eq!(p.live_messages(), 1);
        p.flush();
        drop(p);
        let p = Pager::open(&at).unwrap();
        assert_eq!(p.live_messages(), 0);
        assert!(p.read(q, ids[2]).is_none());
    }
}
