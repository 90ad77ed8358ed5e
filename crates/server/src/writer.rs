//! The connection's writer: frames from the connection task, written by a task of their own.
//!
//! Why a separate task: a client that is busy writing to us (publishing) and not reading must not
//! stop us from reading its frames, or both sides block on full socket buffers. The connection
//! task appends encoded frames to a shared buffer; the writer takes everything there in one go
//! and writes it with one syscall per wake-up, so frames are batched whatever their number.
//!
//! On a plain TCP socket the connection task also writes directly when the writer is idle and
//! nothing is waiting: one non-blocking `write` instead of waking another task, which may run on
//! the other core (a delivery at a low rate then costs one thread wake-up less). Whatever the
//! socket does not take at once goes to the writer, so order is kept: the connection writes
//! directly only while the writer holds nothing, under the lock that hands work to it.
//!
//! `queued` counts bytes handed over and not yet written: the connection stops taking deliveries
//! while it is above [`WRITE_HIGH_WATER`], which bounds what a slow reader can make us buffer.

use std::future::Future;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::{Buf, BytesMut};
use parking_lot::Mutex;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
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

/// What the writer task writes to.
pub trait Sink: Send + 'static {
    fn write_all<'a>(
        &'a mut self,
        buf: &'a [u8],
    ) -> impl Future<Output = io::Result<()>> + Send + 'a;
    fn shutdown(self) -> impl Future<Output = ()> + Send;
}

/// Any byte stream (TLS): written only by the writer task.
pub struct Stream<W>(pub W);

impl<W: AsyncWrite + Unpin + Send + 'static> Sink for Stream<W> {
    async fn write_all<'a>(&'a mut self, buf: &'a [u8]) -> io::Result<()> {
        self.0.write_all(buf).await
    }

    async fn shutdown(mut self) {
        let _ = self.0.shutdown().await;
    }
}

/// A plain TCP socket, shared with the connection task for direct writes.
pub struct Tcp(pub Arc<OwnedWriteHalf>);

impl Sink for Tcp {
    async fn write_all<'a>(&'a mut self, mut buf: &'a [u8]) -> io::Result<()> {
        while !buf.is_empty() {
            self.0.writable().await?;
            match self.0.try_write(buf) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => buf = &buf[n..],
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// The write half shuts the socket's sending side down when its last owner lets go.
    async fn shutdown(self) {}
}

#[derive(Debug, Default)]
struct Shared {
    /// Handed over, not yet taken by the writer.
    buf: BytesMut,
    /// The writer is writing a chunk it took: nobody else may write meanwhile.
    busy: bool,
    /// The socket, when the connection may write to it directly.
    direct: Option<Arc<OwnedWriteHalf>>,
}

#[derive(Debug, Default)]
pub struct WriteQueue {
    shared: Mutex<Shared>,
    queued: AtomicUsize,
    closing: AtomicBool,
    /// Wakes the writer: there is something to write, or it should finish.
    wake: Notify,
    /// Wakes the connection: the writer made room.
    pub space: Notify,
    failed: AtomicBool,
}

impl WriteQueue {
    pub fn new() -> Arc<WriteQueue> {
        Arc::new(WriteQueue::default())
    }

    /// A queue whose owner may also write to `socket` directly while the writer is idle.
    pub fn with_direct(socket: Arc<OwnedWriteHalf>) -> Arc<WriteQueue> {
        let wq = WriteQueue::default();
        wq.shared.lock().direct = Some(socket);
        Arc::new(wq)
    }

    /// Hands over everything in `out` (leaving it empty, usually with a reusable allocation):
    /// written at once if the socket takes it and nothing is ahead of it, else by the writer.
    pub fn push(&self, out: &mut BytesMut) {
        if out.is_empty() {
            return;
        }
        {
            let mut sh = self.shared.lock();
            if sh.buf.is_empty() && !sh.busy {
                if let Some(sock) = &sh.direct {
                    match sock.try_write(out) {
                        Ok(n) if n == out.len() => {
                            reset(out);
                            return;
                        }
                        Ok(n) => out.advance(n),
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                        Err(_) => {
                            // The peer is gone: the connection sees `has_failed` and ends.
                            self.failed.store(true, Ordering::Relaxed);
                            reset(out);
                            return;
                        }
                    }
                }
            }
            let n = out.len();
            if sh.buf.is_empty() {
                std::mem::swap(&mut sh.buf, out);
            } else {
                sh.buf.extend_from_slice(out);
            }
            self.queued.fetch_add(n, Ordering::Relaxed);
        }
        reset(out);
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
    pub async fn run<S: Sink>(self: Arc<Self>, mut socket: S) {
        loop {
            let chunk = {
                let mut sh = self.shared.lock();
                let chunk = (!sh.buf.is_empty()).then(|| sh.buf.split());
                // `split` leaves `buf` sharing the chunk's allocation: let go of a large one,
                // so it is freed once written.
                if sh.buf.capacity() > KEEP_CAPACITY {
                    sh.buf = BytesMut::new();
                }
                sh.busy = chunk.is_some();
                if chunk.is_none() && self.closing.load(Ordering::Acquire) {
                    sh.direct = None;
                }
                chunk
            };
            match chunk {
                Some(chunk) => {
                    if socket.write_all(&chunk).await.is_err() {
                        self.failed.store(true, Ordering::Relaxed);
                        self.shared.lock().direct = None;
                        break;
                    }
                    self.queued.fetch_sub(chunk.len(), Ordering::Relaxed);
                    self.space.notify_one();
                }
                None if self.closing.load(Ordering::Acquire) => {
                    socket.shutdown().await;
                    break;
                }
                None => self.wake.notified().await,
            }
        }
        // Let a connection that waits for room see it.
        self.queued.store(0, Ordering::Relaxed);
        self.space.notify_one();
    }
}
