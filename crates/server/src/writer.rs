//! The connection's writer: frames from the connection task, written by a task of their own.
//!
//! Why a separate task: a client that is busy writing to us (publishing) and not reading must not
//! stop us from reading its frames, or both sides block on full socket buffers. The connection
//! task appends encoded frames to a shared buffer; the writer takes everything there in one go
//! and writes it with one syscall per wake-up, so frames are batched whatever their number.
//!
//! `queued` counts bytes handed over and not yet written: the connection stops taking deliveries
//! while it is above [`WRITE_HIGH_WATER`], which bounds what a slow reader can make us buffer.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::BytesMut;
use parking_lot::Mutex;
use tokio::io::AsyncWriteExt;
use tokio::sync::Notify;

/// Above this many unwritten bytes, the connection stops taking deliveries.
pub const WRITE_HIGH_WATER: usize = 1 << 20;

/// A buffer that grew past this (a burst of large messages) is let go once empty rather than
/// kept for reuse, so an idle connection does not hold on to its largest burst.
const KEEP_CAPACITY: usize = 2 << 20;

/// Empties `b`, keeping its allocation only if it is of ordinary size.
fn reset(b: &mut BytesMut) {
    if b.capacity() > KEEP_CAPACITY {
        *b = BytesMut::new();
    } else {
        b.clear();
    }
}

#[derive(Debug, Default)]
pub struct WriteQueue {
    buf: Mutex<BytesMut>,
    queued: AtomicUsize,
    closing: AtomicBool,
    /// Wakes the writer: there is something to write, or it should finish.
    wake: Notify,
    /// Wakes the connection: the writer made room.
    pub space: Notify,
    /// The writer has finished (flushed and shut down, or failed).
    pub done: Notify,
    failed: AtomicBool,
}

impl WriteQueue {
    pub fn new() -> Arc<WriteQueue> {
        Arc::new(WriteQueue::default())
    }

    /// Hands over everything in `out` (leaving it empty, usually with a reusable allocation).
    pub fn push(&self, out: &mut BytesMut) {
        if out.is_empty() {
            return;
        }
        let n = out.len();
        {
            let mut buf = self.buf.lock();
            if buf.is_empty() {
                std::mem::swap(&mut *buf, out);
            } else {
                buf.extend_from_slice(out);
            }
        }
        reset(out);
        self.queued.fetch_add(n, Ordering::Relaxed);
        self.wake.notify_one();
    }

    pub fn queued(&self) -> usize {
        self.queued.load(Ordering::Relaxed)
    }

    pub fn has_failed(&self) -> bool {
        self.failed.load(Ordering::Relaxed)
    }

    /// Asks the writer to write what is queued, shut the socket down and stop.
    pub fn close(&self) {
        self.closing.store(true, Ordering::Release);
        self.wake.notify_one();
    }

    /// The writer task's body.
    pub async fn run<W: tokio::io::AsyncWrite + Unpin>(self: Arc<Self>, mut socket: W) {
        loop {
            let chunk = {
                let mut buf = self.buf.lock();
                let chunk = (!buf.is_empty()).then(|| buf.split());
                // `split` leaves `buf` sharing the chunk's allocation: let go of a large one,
                // so it is freed once written.
                if buf.capacity() > KEEP_CAPACITY {
                    *buf = BytesMut::new();
                }
                chunk
            };
            match chunk {
                Some(chunk) => {
                    if socket.write_all(&chunk).await.is_err() {
                        self.failed.store(true, Ordering::Relaxed);
                        break;
                    }
                    self.queued.fetch_sub(chunk.len(), Ordering::Relaxed);
                    self.space.notify_one();
                }
                None if self.closing.load(Ordering::Acquire) => {
                    let _ = socket.shutdown().await;
                    break;
                }
                None => self.wake.notified().await,
            }
        }
        // Let a connection that waits for room or for the end see it.
        self.queued.store(0, Ordering::Relaxed);
        self.space.notify_one();
        self.done.notify_one();
    }
}
