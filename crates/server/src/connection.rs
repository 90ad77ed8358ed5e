//! One client connection: the handshake, channel multiplexing, heartbeats, and the close
//! handshakes both ways.
//!
//! The connection task owns all its channels' state; nothing else touches it. It waits on four
//! things (see the `select!` in [`Connection::run`]): bytes from the socket, deliveries and events
//! from queues (its outbox), room in its writer, and the heartbeat timer. After each wake-up it
//! hands everything it encoded to the writer at once, so many frames go out in one syscall.

use rustc_hash::FxHashMap as HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::{sleep_until, Instant};
use tracing::{debug, info, warn};
use warren_amqp::{
    decode_frame, encode_heartbeat_frame, encode_method_frame, reply_code as rc, BasicCancel,
    ChannelClose, ConnectionClose, ConnectionStart, ConnectionTune, FieldTable, FieldValue, Frame,
    Method, ShortStr, PROTOCOL_HEADER,
};
use warren_core::stats::{bump, PublishStats};
use warren_core::{
    AmqpError, Broker, ConnEvent, ConnectionEntry, ConnectionId, Mailbox, Outbox, Queue, VHost,
};

use crate::auth;
use crate::channel::{content_without_publish, method_in_content, Channel, ChannelState, Ctx};
use crate::writer::WriteQueue;
use warren_auth::Identity;

/// Time a client has from TCP connect to connection.open-ok (RabbitMQ's handshake_timeout).
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Time we wait for connection.close-ok after sending connection.close.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(3);
/// Time we wait for the client to close its socket after our close-ok.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
/// Time between a client's connection.close and our close-ok. RabbitMQ answers only after
/// its channel processes have stopped, a few milliseconds later, and some clients depend on
/// that: aiormq's close path races its own reader when close-ok comes back at once (its
/// `test_connection_close_during_publish_drain` and `test_closing_waiter_cancellation`
/// fail against an instant close-ok and pass with this delay). Closing a connection is
/// never on a hot path, so we keep RabbitMQ's ordering rather than the fastest answer.
const CLOSE_OK_DELAY: Duration = Duration::from_millis(5);
/// Smallest frame_max a client may ask for.
const FRAME_MIN: u32 = 8192;
/// The read buffer: its size when idle, and when the client keeps it full.
const READ_BUF_MIN: usize = 4096;
/// Below this much room, a read buffer is replaced (see the read loop).
const READ_BUF_LOW: usize = 1024;
const READ_BUF_MAX: usize = 64 * 1024;

/// Outbox events taken per wake-up before writing (keeps latency bounded under load).
const EVENTS_PER_WAKEUP: usize = 512;
/// The class/method ids we report in a close caused by content frames (basic.publish).
const PUBLISH_IDS: (u16, u16) = (60, 40);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    AwaitStartOk,
    AwaitTuneOk,
    AwaitOpen,
    Open,
    /// We sent connection.close; wait for close-ok.
    Closing,
    /// We answered the client's connection.close with close-ok: the client closes the socket
    /// (the spec gives that job to the side that receives close-ok); we discard what still
    /// arrives until it does, or until [`DRAIN_TIMEOUT`].
    Draining,
    /// The client's connection.close was handled; close-ok goes out at the deadline.
    CloseOkPending,
    /// Done: flush and drop the socket.
    Closed,
}

#[derive(Debug, Default, Clone, Copy)]
struct ClientCaps {
    consumer_cancel_notify: bool,
    connection_blocked: bool,
    authentication_failure_close: bool,
}

pub struct Connection {
    id: ConnectionId,
    peer: SocketAddr,
    broker: Arc<Broker>,
    wq: Arc<WriteQueue>,
    outbox: Arc<Outbox>,
    out: BytesMut,
    state: State,
    frame_max: u32,
    channel_max: u16,
    heartbeat: u16,
    caps: ClientCaps,
    mechanism: String,
    user: Option<String>,
    /// Who logged in (set after connection.start-ok); checked by every channel operation.
    identity: Option<Identity>,
    vhost: Option<Arc<VHost>>,
    /// Boxed: a map allocates room for several entries at its first insert, and a channel
    /// is several hundred bytes, most of which a connection with one channel never uses.
    channels: HashMap<u16, Box<Channel>>,
    /// Channels with publisher confirms to write at the end of this wake-up.
    confirm_dirty: Vec<u16>,
    scratch: Vec<Arc<Queue>>,
    last_recv: Instant,
    last_send: Instant,
    deadline: Option<Instant>,
    /// This connection has published: a resource alarm blocks it.
    published: bool,
    /// A resource alarm is up (as of this wake-up).
    alarm_up: bool,
    /// Bytes read since the last `Broker::memory_grew`.
    read_unchecked: usize,
    /// Frames read before an alarm blocked us wait in the read buffer.
    held: bool,
    /// The clock of this wake-up (delivery times for the consumer timeout).
    now: Instant,
    /// We told the client connection.blocked and not yet connection.unblocked.
    blocked_sent: bool,
    /// Our local address and the client's properties, for the registry entry.
    local: Option<SocketAddr>,
    /// Over AMQPS.
    tls: bool,
    client_properties: FieldTable,
    /// This connection in the broker's registry, once open.
    entry: Option<Arc<ConnectionEntry>>,
}

/// A connection's read side that can tell, without reading, whether the peer has gone: it
/// closed its side (FIN) or the connection failed (RST). A blocked publisher is not read, so
/// this is how its hanging up is seen (once a second, from tokio's cached readiness: no
/// syscall).
pub(crate) trait PeerGone {
    fn peer_gone(&self) -> bool;
}

/// Whether the last readiness tokio saw on `s` says read-closed or error (`EPOLLRDHUP`,
/// reported even with unread data before the FIN).
fn read_closed(s: &TcpStream) -> bool {
    use std::future::Future;
    use std::task::{Context, Poll, Waker};
    let ready = std::pin::pin!(s.ready(tokio::io::Interest::READABLE));
    match ready.poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(Ok(r)) => r.is_read_closed() || r.is_error(),
        Poll::Ready(Err(_)) => true,
        Poll::Pending => false,
    }
}

impl PeerGone for tokio::net::tcp::OwnedReadHalf {
    fn peer_gone(&self) -> bool {
        read_closed(self.as_ref())
    }
}

/// The read half of an AMQPS connection, with a duplicate of its socket to ask.
struct TlsRead<R> {
    rd: R,
    probe: Option<TcpStream>,
}

impl<R: AsyncRead + Unpin> AsyncRead for TlsRead<R> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.rd).poll_read(cx, buf)
    }
}

impl<R> PeerGone for TlsRead<R> {
    fn peer_gone(&self) -> bool {
        self.probe.as_ref().is_some_and(read_closed)
    }
}

/// Serves one accepted TCP connection until it closes.
pub async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    broker: Arc<Broker>,
    shutdown: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let local = stream.local_addr().ok();
    let (rd, wr) = stream.into_split();
    serve_stream(rd, wr, peer, (local, false), broker, shutdown).await
}

/// Serves one accepted AMQPS connection: the TLS handshake (within the handshake timeout),
/// then AMQP as on a plain socket.
pub async fn serve_tls_connection(
    stream: TcpStream,
    acceptor: crate::tls::TlsAcceptor,
    peer: SocketAddr,
    broker: Arc<Broker>,
    shutdown: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let local = stream.local_addr().ok();
    let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
        Ok(Ok(tls)) => tls,
        Ok(Err(e)) => {
            warn!(%peer, "TLS handshake failed: {e}");
            return;
        }
        Err(_) => {
            debug!(%peer, "TLS handshake timed out");
            return;
        }
    };
    // A second handle on the socket under TLS, only to ask whether the peer is gone while
    // the connection is blocked (the TLS read half does not expose its socket).
    let probe = std::os::fd::AsFd::as_fd(tls.get_ref().0)
        .try_clone_to_owned()
        .map(std::net::TcpStream::from)
        .and_then(TcpStream::from_std)
        .ok();
    let (rd, wr) = tokio::io::split(tls);
    let rd = TlsRead { rd, probe };
    serve_stream(rd, wr, peer, (local, true), broker, shutdown).await
}

async fn serve_stream<R, W>(
    mut rd: R,
    mut wr: W,
    peer: SocketAddr,
    (local, tls): (Option<SocketAddr>, bool),
    broker: Arc<Broker>,
    shutdown: watch::Receiver<bool>,
) where
    R: AsyncRead + PeerGone + Unpin,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let mut header = [0u8; 8];
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, rd.read_exact(&mut header)).await {
        Ok(Ok(_)) => {}
        _ => return,
    }
    if header != PROTOCOL_HEADER {
        // The spec's answer to a protocol we do not speak: our header, then close.
        debug!(%peer, "bad protocol header {:?}", header);
        let _ = wr.write_all(&PROTOCOL_HEADER).await;
        let _ = wr.shutdown().await;
        return;
    }
    let wq = WriteQueue::new();
    tokio::spawn(wq.clone().run(wr));
    let (outbox, rx) = Outbox::new();
    let now = Instant::now();
    let mut conn = Connection {
        id: broker.next_connection_id(),
        peer,
        frame_max: broker.limits.frame_max,
        channel_max: broker.limits.channel_max,
        heartbeat: 0,
        broker,
        wq,
        outbox,
        out: BytesMut::new(),
        state: State::AwaitStartOk,
        caps: ClientCaps::default(),
        mechanism: String::new(),
        user: None,
        identity: None,
        vhost: None,
        channels: HashMap::default(),
        confirm_dirty: Vec::new(),
        scratch: Vec::new(),
        last_recv: now,
        last_send: now,
        deadline: Some(now + HANDSHAKE_TIMEOUT),
        published: false,
        alarm_up: false,
        read_unchecked: 0,
        held: false,
        blocked_sent: false,
        now,
        local,
        tls,
        client_properties: FieldTable::new(),
        entry: None,
    };
    conn.send_start();
    conn.run(rd, rx, shutdown).await;
}

fn server_properties() -> FieldTable {
    let mut caps = FieldTable::new();
    for c in [
        "publisher_confirms",
        "exchange_exchange_bindings",
        "basic.nack",
        "consumer_cancel_notify",
        "connection.blocked",
        "consumer_priorities",
        "authentication_failure_close",
        "per_consumer_qos",
        "direct_reply_to",
    ] {
        caps.insert(ShortStr::from_static(c), FieldValue::Bool(true));
    }
    let s = |v: &'static str| FieldValue::LongStr(bytes::Bytes::from_static(v.as_bytes()));
    let mut p = FieldTable::new();
    p.insert(
        ShortStr::from_static("capabilities"),
        FieldValue::Table(caps),
    );
    p.insert(ShortStr::from_static("product"), s("Warren"));
    p.insert(
        ShortStr::from_static("version"),
        s(env!("CARGO_PKG_VERSION")),
    );
    p.insert(ShortStr::from_static("platform"), s("Rust"));
    p.insert(ShortStr::from_static("cluster_name"), s("warren"));
    p.insert(ShortStr::from_static("copyright"), s("Warren authors"));
    p.insert(
        ShortStr::from_static("information"),
        s("An AMQP 0-9-1 broker compatible with RabbitMQ's clients"),
    );
    p
}

impl Connection {
    fn send(&mut self, channel: u16, m: &Method) {
        encode_method_frame(&mut self.out, channel, m);
    }

    fn send_start(&mut self) {
        self.send(
            0,
            &Method::ConnectionStart(ConnectionStart {
                version_major: 0,
                version_minor: 9,
                server_properties: server_properties(),
                mechanisms: bytes::Bytes::from_static(b"PLAIN AMQPLAIN"),
                locales: bytes::Bytes::from_static(b"en_US"),
            }),
        );
    }

    async fn run<R: AsyncRead + PeerGone + Unpin>(
        mut self,
        mut rd: R,
        mut rx: Mailbox,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let mut rbuf = BytesMut::with_capacity(READ_BUF_MIN);
        let mut alarm = self.broker.alarm();
        let mut heartbeat_tick = tokio::time::interval(Duration::from_secs(3600));
        // Checks the consumer timeout of the oldest unacked delivery of each channel.
        let mut ack_timeout_tick = tokio::time::interval(Duration::from_secs(1));
        let mut shutting_down = *shutdown.borrow();
        if shutting_down {
            return;
        }
        self.flush();
        loop {
            let open = self.state == State::Open;
            let can_deliver = open && !self.congested();
            // Under a resource alarm a publishing connection is not read: TCP pushes back on
            // the publisher, while its deliveries (and other connections) go on.
            self.alarm_up = alarm.borrow().is_some();
            let paused = self.published && self.alarm_up;
            let reading = !matches!(self.state, State::Closed) && !paused;
            let deadline = self.deadline;
            let spare = rbuf.capacity() - rbuf.len();
            tokio::select! {
                biased;
                _ = shutdown.changed(), if !shutting_down => {
                    shutting_down = true;
                    self.close_connection(AmqpError::new(
                        rc::CONNECTION_FORCED,
                        "broker forced connection closure with reason 'shutdown'",
                    ), (0, 0));
                }
                r = rd.read_buf(&mut rbuf), if reading => match r {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if let Some(e) = &self.entry {
                            bump(&e.recv_oct, n as u64);
                        }
                        // What a connection reads is what the broker allocates: past a few
                        // MiB the memory watermark is checked now, not at the next tick.
                        self.read_unchecked += n;
                        if self.read_unchecked >= Broker::MEMORY_CHECK_BYTES {
                            self.read_unchecked = 0;
                            self.broker.memory_grew();
                        }
                        self.last_recv = Instant::now();
                        self.process_frames(&mut rbuf);
                        let room = rbuf.capacity() - rbuf.len();
                        if n >= spare && room < READ_BUF_MIN {
                            // A read that filled the buffer means traffic: room for large
                            // batched reads.
                            rbuf.reserve(READ_BUF_MAX);
                        } else if room < READ_BUF_LOW {
                            // Otherwise a small buffer does (an empty one is reclaimed in
                            // place), so an idle connection holds 4 KiB, not 64. Not before
                            // it is nearly used up: what a frame's slices keep (a declared
                            // queue's name...) pins the buffer, and a fresh 4 KiB per small
                            // read made 10,000 declares pin 40 MB.
                            rbuf.reserve(READ_BUF_MIN);
                        }
                    }
                },
                ev = rx.recv(), if can_deliver => {
                    self.on_event(ev);
                    let mut n = 1;
                    while n < EVENTS_PER_WAKEUP && !self.congested() && self.state == State::Open {
                        match rx.try_recv() {
                            Some(ev) => self.on_event(ev),
                            None => break,
                        }
                        n += 1;
                    }
                }
                _ = self.wq.space.notified(), if open && !can_deliver => {}
                _ = alarm.changed() => {}
                _ = ack_timeout_tick.tick(), if open => {
                    rx.trim();
                    self.check_ack_timeouts();
                    self.check_credentials();
                    if paused && rd.peer_gone() {
                        // Blocked, so not read: its end of stream is seen only this way. Its
                        // channels are released now, not at the end of the alarm.
                        info!(peer = %self.peer, "client closed the connection while blocked");
                        self.state = State::Closed;
                    }
                }
                _ = heartbeat_tick.tick(), if self.heartbeat > 0 => {
                    if paused {
                        // We are not reading its heartbeats: the peer is not silent.
                        self.last_recv = Instant::now();
                    }
                    let hb = Duration::from_secs(u64::from(self.heartbeat));
                    if self.last_recv.elapsed() > hb * 2 {
                        warn!(peer = %self.peer, "missed heartbeats from client, timeout: {}s", self.heartbeat);
                        break;
                    }
                    if self.last_send.elapsed() >= hb / 2 && self.out.is_empty() {
                        encode_heartbeat_frame(&mut self.out);
                    }
                }
                _ = async { sleep_until(deadline.unwrap_or_else(Instant::now)).await }, if deadline.is_some() => {
                    if self.state == State::CloseOkPending {
                        // The client asked to close: its channels are undone and its exclusive
                        // queues gone before it hears close-ok, so what it (or anyone) does
                        // next sees the connection's state released.
                        self.cleanup(&mut rx);
                        self.send(0, &Method::ConnectionCloseOk);
                        self.state = State::Draining;
                        self.deadline = Some(Instant::now() + DRAIN_TIMEOUT);
                    } else if self.state != State::Open {
                        debug!(peer = %self.peer, "handshake or close timed out");
                        break;
                    }
                    self.deadline = None;
                }
            }
            if self.heartbeat > 0 && heartbeat_tick.period() == Duration::from_secs(3600) {
                let half = Duration::from_millis(u64::from(self.heartbeat) * 500);
                heartbeat_tick = tokio::time::interval_at(Instant::now() + half, half);
            }
            self.now = Instant::now();
            self.tell_blocked(alarm.borrow().clone());
            if self.held && alarm.borrow().is_none() {
                // Unblocked: the frames read before the alarm stopped us come first.
                self.held = false;
                self.alarm_up = false;
                self.process_frames(&mut rbuf);
            }
            if let Some(e) = &self.entry {
                e.channels.store(
                    self.channels.len() as u64,
                    std::sync::atomic::Ordering::Relaxed,
                );
            }
            self.flush();
            if self.outbox.take_starved() && self.state == State::Open {
                for ch in self.channels.values() {
                    for q in ch.consumer_queues() {
                        q.dispatch();
                    }
                }
            }
            if self.state == State::Closed || self.wq.has_failed() {
                break;
            }
        }
        self.cleanup(&mut rx);
        self.flush();
        self.wq.close();
        info!(peer = %self.peer, user = self.user.as_deref().unwrap_or(""), "connection closed");
    }

    /// An expired token (not refreshed with connection.update-secret) or a deleted vhost
    /// closes the connection (320), as in RabbitMQ.
    fn check_credentials(&mut self) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        if self.identity.as_ref().is_some_and(|i| i.is_expired_at(now)) {
            return self.close_connection(
                AmqpError::new(rc::CONNECTION_FORCED, "credential expired"),
                (0, 0),
            );
        }
        if let Some(v) = self.vhost.as_ref().filter(|v| v.is_deleted()) {
            let e = AmqpError::new(
                rc::CONNECTION_FORCED,
                format!("vhost '{}' is deleted", v.name),
            );
            self.close_connection(e, (0, 0));
        }
    }

    fn check_ack_timeouts(&mut self) {
        let now = Instant::now();
        let default_ms = self.broker.limits.consumer_timeout_ms;
        let late: Vec<(u16, AmqpError)> = self
            .channels
            .values()
            .filter(|c| c.state == ChannelState::Open)
            .filter_map(|c| c.ack_timeout(now, default_ms).map(|e| (c.id, e)))
            .collect();
        for (id, e) in late {
            warn!(peer = %self.peer, channel = id, "consumer timeout: {}", e.text);
            self.close_channel(id, e, (0, 0));
        }
    }

    /// Sends connection.blocked / unblocked as the alarm and this connection's publishing say
    /// (to clients that announced the capability).
    fn tell_blocked(&mut self, alarm: Option<String>) {
        if self.state != State::Open || !self.caps.connection_blocked {
            return;
        }
        match alarm {
            Some(reason) if self.published && !self.blocked_sent => {
                self.send(
                    0,
                    &Method::ConnectionBlocked(warren_amqp::ConnectionBlocked {
                        reason: short(&reason),
                    }),
                );
                self.blocked_sent = true;
            }
            None if self.blocked_sent => {
                self.send(0, &Method::ConnectionUnblocked);
                self.blocked_sent = false;
            }
            _ => {}
        }
    }

    /// Writes pending confirms and hands everything encoded to the writer.
    /// Too much written and not yet sent (handed to the writer, or still being encoded in
    /// `out`): take no more deliveries until the writer makes room. Counting `out` matters for
    /// large messages, which would otherwise pile up in one wake-up.
    fn congested(&self) -> bool {
        self.out.len() + self.wq.queued() >= crate::writer::WRITE_HIGH_WATER
    }

    fn flush(&mut self) {
        for id in self.confirm_dirty.drain(..) {
            if let Some(ch) = self.channels.get_mut(&id) {
                let before = ch.counts.confirm;
                ch.flush_confirms(&mut self.out);
                if let Some(e) = &self.entry {
                    bump(&e.counters.confirm, ch.counts.confirm - before);
                }
            }
        }
        if !self.out.is_empty() {
            if let Some(e) = &self.entry {
                bump(&e.send_oct, self.out.len() as u64);
            }
            self.last_send = Instant::now();
            self.wq.push(&mut self.out);
        }
    }

    fn process_frames(&mut self, rbuf: &mut BytesMut) {
        // RabbitMQ tolerates a frame of frame_max payload bytes (overhead not counted): so do we.
        let frame_max = self
            .frame_max
            .saturating_add(warren_amqp::FRAME_OVERHEAD as u32);
        loop {
            if matches!(
                self.state,
                State::Closed | State::Draining | State::CloseOkPending
            ) {
                rbuf.clear();
                return;
            }
            if self.published
                && self.alarm_up
                && rbuf.first() == Some(&warren_amqp::constants::frame_type::METHOD)
            {
                // Blocked, as RabbitMQ: a publisher's next method is not handled, even when
                // already read, until the alarm clears (the content of a message under way is).
                self.held = !rbuf.is_empty();
                return;
            }
            match decode_frame(rbuf, frame_max) {
                Ok(None) => return,
                Ok(Some(frame)) => self.on_frame(frame),
                Err(e) => {
                    // The stream cannot be parsed past this point: say why and hang up.
                    let err = AmqpError::new(e.reply_code(), &e);
                    warn!(peer = %self.peer, "closing connection: {}", err.text);
                    self.close_connection(err, (0, 0));
                    self.state = State::Closed;
                    rbuf.clear();
                    return;
                }
            }
        }
    }

    fn on_frame(&mut self, frame: Frame) {
        match self.state {
            State::AwaitStartOk | State::AwaitTuneOk | State::AwaitOpen => {
                self.on_handshake_frame(frame)
            }
            State::Open => self.on_open_frame(frame),
            State::Closing => match frame {
                Frame::Method {
                    channel: 0,
                    method: Method::ConnectionCloseOk,
                } => self.state = State::Closed,
                Frame::Method {
                    channel: 0,
                    method: Method::ConnectionClose(_),
                } => self.answer_close(),
                _ => {}
            },
            State::Draining | State::CloseOkPending | State::Closed => {}
        }
    }

    fn on_handshake_frame(&mut self, frame: Frame) {
        let Frame::Method { channel: 0, method } = frame else {
            if matches!(frame, Frame::Heartbeat { .. }) {
                return;
            }
            self.close_connection(
                AmqpError::unexpected_frame(
                    "expected a method frame on channel 0 during the handshake",
                ),
                (0, 0),
            );
            return;
        };
        let ids = (method.class_id(), method.method_id());
        match (self.state, method) {
            (State::AwaitStartOk, Method::ConnectionStartOk(m)) => {
                let caps = m
                    .client_properties
                    .get("capabilities")
                    .and_then(|v| v.as_table().cloned())
                    .unwrap_or_default();
                let cap = |k: &str| caps.get(k).and_then(|v| v.as_bool()).unwrap_or(false);
                self.caps = ClientCaps {
                    consumer_cancel_notify: cap("consumer_cancel_notify"),
                    connection_blocked: cap("connection.blocked"),
                    authentication_failure_close: cap("authentication_failure_close"),
                };
                self.mechanism = m.mechanism.to_string();
                self.client_properties = m.client_properties.clone();
                match auth::authenticate(&self.broker, m.mechanism.as_str(), &m.response, self.peer)
                {
                    Ok(identity) => {
                        self.user = Some(identity.username.clone());
                        self.identity = Some(identity);
                        let l = &self.broker.limits;
                        let tune = ConnectionTune {
                            channel_max: l.channel_max,
                            frame_max: l.frame_max,
                            heartbeat: l.heartbeat,
                        };
                        self.send(0, &Method::ConnectionTune(tune));
                        self.state = State::AwaitTuneOk;
                    }
                    Err(e) => {
                        // Never the password or token: only who, from where, and why.
                        warn!(peer = %self.peer, mechanism = %m.mechanism, "authentication failed: {e}");
                        let err = match e {
                            auth::AuthError::UnsupportedMechanism(_) => AmqpError::access_refused(&e),
                            _ => AmqpError::access_refused(format!(
                                "Login was refused using authentication mechanism {}. For details see the broker logfile.",
                                m.mechanism
                            )),
                        };
                        if self.caps.authentication_failure_close {
                            self.send(
                                0,
                                &Method::ConnectionClose(ConnectionClose {
                                    reply_code: err.code,
                                    reply_text: short(&err.text),
                                    class_id: 0,
                                    method_id: 0,
                                }),
                            );
                            // Give the client a moment to read the close (its close-ok or
                            // the deadline ends the connection): hanging up at once can
                            // reset the socket before the client has read why.
                            self.state = State::Closing;
                            self.deadline = Some(Instant::now() + CLOSE_TIMEOUT);
                        } else {
                            // As RabbitMQ: no close handshake after a failed login.
                            self.state = State::Closed;
                        }
                    }
                }
            }
            (State::AwaitTuneOk, Method::ConnectionTuneOk(t)) => {
                let l = self.broker.limits.clone();
                if t.frame_max != 0 && t.frame_max < FRAME_MIN {
                    return self.close_connection(
                        AmqpError::not_allowed(format!(
                            "frame_max={} < {FRAME_MIN} min size",
                            t.frame_max
                        )),
                        ids,
                    );
                }
                if t.frame_max > l.frame_max {
                    return self.close_connection(
                        AmqpError::not_allowed(format!(
                            "frame_max={} > {} max size",
                            t.frame_max, l.frame_max
                        )),
                        ids,
                    );
                }
                if t.channel_max > l.channel_max {
                    return self.close_connection(
                        AmqpError::not_allowed(format!(
                            "channel_max={} > {} max size",
                            t.channel_max, l.channel_max
                        )),
                        ids,
                    );
                }
                self.frame_max = if t.frame_max == 0 {
                    l.frame_max
                } else {
                    t.frame_max
                };
                self.channel_max = if t.channel_max == 0 {
                    l.channel_max
                } else {
                    t.channel_max
                };
                self.heartbeat = t.heartbeat;
                self.state = State::AwaitOpen;
            }
            (State::AwaitOpen, Method::ConnectionOpen(o)) => {
                let identity = self.identity.as_ref();
                match self.broker.vhost(o.virtual_host.as_str()) {
                    Some(_)
                        if !identity
                            .is_some_and(|i| i.can_access_vhost(o.virtual_host.as_str())) =>
                    {
                        let user = self.user.as_deref().unwrap_or("");
                        self.close_connection(
                            AmqpError::not_allowed(format!(
                                "access to vhost '{}' refused for user '{user}'",
                                o.virtual_host
                            )),
                            ids,
                        )
                    }
                    Some(v) => {
                        let user = self.user.as_deref().unwrap_or("");
                        if let Err(e) = crate::limits::check_connection(&self.broker, &v.name, user)
                        {
                            return self.close_connection(e, ids);
                        }
                        let entry = Arc::new(
                            ConnectionEntry::new(
                                self.id,
                                self.peer,
                                self.local,
                                self.user.clone().unwrap_or_default(),
                                v.name.to_string(),
                                (self.frame_max, self.channel_max, self.heartbeat),
                                self.mechanism.clone(),
                                &std::mem::take(&mut self.client_properties),
                                self.outbox.clone(),
                            )
                            .over_tls(self.tls),
                        );
                        self.broker.connections.register(entry.clone());
                        self.entry = Some(entry);
                        self.vhost = Some(v);
                        self.send(0, &Method::ConnectionOpenOk);
                        self.state = State::Open;
                        self.deadline = None;
                        info!(peer = %self.peer, vhost = %o.virtual_host, user = self.user.as_deref().unwrap_or(""), "connection open");
                    }
                    None => self.close_connection(
                        AmqpError::not_allowed(format!("vhost {} not found", o.virtual_host)),
                        ids,
                    ),
                }
            }
            (_, Method::ConnectionClose(_)) => self.answer_close(),
            (_, m) => self.close_connection(
                AmqpError::command_invalid(format!("unexpected {} during the handshake", m.name())),
                ids,
            ),
        }
    }

    fn on_open_frame(&mut self, frame: Frame) {
        match frame {
            Frame::Heartbeat { channel: 0 } => {}
            Frame::Heartbeat { .. } => self.close_connection(
                AmqpError::unexpected_frame("heartbeat frame on a channel other than 0"),
                (0, 0),
            ),
            Frame::Method { channel: 0, method } => self.on_connection_method(method),
            Frame::Method { channel, method } => self.on_channel_method(channel, method),
            Frame::Header { channel, header } => {
                if let Some(e) = &self.entry {
                    if !self.published {
                        e.published
                            .store(true, std::sync::atomic::Ordering::Relaxed);
                    }
                }
                self.published = true;
                let (class, size) = (header.class_id, header.body_size);
                self.on_content(
                    channel,
                    |ch| ch.discard_header(class, size),
                    |ch, ctx| ch.on_header(ctx, header),
                );
            }
            Frame::Body { channel, payload } => {
                let len = payload.len() as u64;
                self.on_content(
                    channel,
                    |ch| ch.discard_body(len),
                    |ch, ctx| ch.on_body(ctx, payload),
                );
            }
        }
    }

    fn on_connection_method(&mut self, method: Method) {
        let ids = (method.class_id(), method.method_id());
        match method {
            Method::ConnectionClose(c) => {
                debug!(peer = %self.peer, code = c.reply_code, text = %c.reply_text, "client closed the connection");
                self.close_all_channels();
                self.answer_close();
            }
            Method::ConnectionCloseOk => {}
            Method::ConnectionBlocked(_) | Method::ConnectionUnblocked => {}
            Method::ConnectionUpdateSecret(u) => {
                let user = self.user.clone().unwrap_or_default();
                // As RabbitMQ's `rabbit_access_control:update_state`: only a backend whose
                // credentials expire (tokens) looks at the new secret. A password login's
                // (the internal backend's) takes any secret and keeps its user and permissions.
                if !self.identity.as_ref().is_some_and(|i| i.is_token()) {
                    info!(peer = %self.peer, user = %user, "secret update: nothing to update for a password login");
                    self.send(0, &Method::ConnectionUpdateSecretOk);
                    return;
                }
                // The new token must be valid and for the same user.
                let secret = String::from_utf8_lossy(&u.new_secret);
                match auth::check_secret(&self.broker, &user, &secret, self.peer) {
                    Ok(identity) if identity.username == user => {
                        info!(peer = %self.peer, user = %user, "credential updated");
                        self.identity = Some(identity);
                        self.send(0, &Method::ConnectionUpdateSecretOk);
                    }
                    Ok(identity) => self.close_connection(
                        AmqpError::not_allowed(format!(
                            "Not allowed to change username ('{user}' to '{}')",
                            identity.username
                        )),
                        ids,
                    ),
                    Err(e) => {
                        warn!(peer = %self.peer, user = %user, "secret update refused: {e}");
                        // RabbitMQ's text (rabbit_reader), which names neither user nor cause.
                        self.close_connection(
                            AmqpError::not_allowed("New secret was refused by one of the backends"),
                            ids,
                        )
                    }
                }
            }
            // As RabbitMQ: anything but a connection method on channel 0 is a channel error.
            _ => self.close_connection(
                AmqpError::channel_error("unexpected method in connection state running"),
                ids,
            ),
        }
    }

    fn on_channel_method(&mut self, channel: u16, method: Method) {
        let ids = (method.class_id(), method.method_id());
        if method.class_id() == 10 {
            return self.close_connection(
                AmqpError::command_invalid(format!(
                    "{} is only allowed on channel 0",
                    method.name()
                )),
                ids,
            );
        }
        let Some(ch) = self.channels.get_mut(&channel) else {
            if let Method::ChannelOpen = method {
                // As RabbitMQ: the limit is on how many channels are open, not on their numbers.
                if self.channels.len() >= usize::from(self.channel_max) {
                    return self.close_connection(
                        AmqpError::not_allowed(format!(
                            "number of channels opened ({}) has reached the negotiated channel_max ({})",
                            self.channels.len(),
                            self.channel_max
                        )),
                        ids,
                    );
                }
                let user = self.user.as_deref().unwrap_or("");
                if let Err(e) =
                    crate::limits::check_channel(&self.broker, user, self.id, self.channels.len())
                {
                    return self.close_connection(e, ids);
                }
                self.channels
                    .insert(channel, Box::new(Channel::new(channel)));
                bump(&self.broker.churn.channels_opened, 1);
                self.send(channel, &Method::ChannelOpenOk);
                return;
            }
            return self.close_connection(AmqpError::channel_error("expected 'channel.open'"), ids);
        };
        // The frame order first, whatever the channel's state (as RabbitMQ's reader).
        if ch.expects_content() {
            let e = method_in_content(ch.expects_body());
            return self.close_connection(e, PUBLISH_IDS);
        }
        if ch.state == ChannelState::Closing {
            // As RabbitMQ's channel in its closing state: only the client's close-ok ends it. A
            // channel.close crossing ours gets close-ok and the channel goes on waiting for the
            // close-ok (which the client still sends, for our close); a channel.open is a second
            // open; everything else is dropped (a publish with its content).
            match method {
                Method::ChannelCloseOk => {
                    self.remove_channel(channel);
                }
                Method::ChannelClose(_) => self.send(channel, &Method::ChannelCloseOk),
                Method::ChannelOpen => self
                    .close_connection(AmqpError::channel_error("second 'channel.open' seen"), ids),
                Method::BasicPublish(_) => ch.discard_publish(),
                _ => {}
            }
            return;
        }
        match method {
            Method::ChannelOpen => {
                return self
                    .close_connection(AmqpError::channel_error("second 'channel.open' seen"), ids);
            }
            Method::ChannelClose(_) => {
                let _ = self.with_ctx(channel, |ch, ctx| {
                    ch.close(ctx);
                    Ok(())
                });
                self.remove_channel(channel);
                self.send(channel, &Method::ChannelCloseOk);
                return;
            }
            // Nothing to confirm: RabbitMQ's channel has no clause for it.
            Method::ChannelCloseOk => {
                return self
                    .close_connection(AmqpError::command_invalid("unimplemented method"), ids);
            }
            _ => {}
        }
        self.with_ctx_ids(channel, ids, |ch, ctx| ch.handle(ctx, method));
    }

    /// A content frame: `f` takes it on an open channel, `discard` on a closing one.
    fn on_content(
        &mut self,
        channel: u16,
        discard: impl FnOnce(&mut Channel) -> Result<(), AmqpError>,
        f: impl FnOnce(&mut Channel, &mut Ctx<'_>) -> Result<(), AmqpError>,
    ) {
        let Some(ch) = self.channels.get_mut(&channel) else {
            // Content for a channel that was never opened (channel 0 included): as RabbitMQ.
            return self.close_connection(content_without_publish(), (0, 0));
        };
        if !ch.expects_content() {
            return self.close_connection(content_without_publish(), (0, 0));
        }
        match ch.state {
            ChannelState::Closing => {
                if let Err(e) = discard(ch) {
                    self.close_connection(e, PUBLISH_IDS);
                }
            }
            ChannelState::Open => self.with_ctx_ids(channel, PUBLISH_IDS, f),
        }
    }

    /// Runs `f` on an open channel with its context; a soft error closes the channel, a hard one
    /// the connection, reporting `ids` as the failing method.
    fn with_ctx_ids(
        &mut self,
        channel: u16,
        ids: (u16, u16),
        f: impl FnOnce(&mut Channel, &mut Ctx<'_>) -> Result<(), AmqpError>,
    ) {
        if let Err(e) = self.with_ctx(channel, f) {
            if e.is_hard() {
                self.close_connection(e, ids);
            } else {
                self.close_channel(channel, e, ids);
            }
        }
    }

    fn with_ctx(
        &mut self,
        channel: u16,
        f: impl FnOnce(&mut Channel, &mut Ctx<'_>) -> Result<(), AmqpError>,
    ) -> Result<(), AmqpError> {
        let (Some(ch), Some(vhost), Some(identity)) = (
            self.channels.get_mut(&channel),
            self.vhost.as_ref(),
            self.identity.as_ref(),
        ) else {
            return Ok(());
        };
        let mut ctx = Ctx {
            conn_id: self.id,
            broker: &self.broker,
            vhost,
            identity,
            outbox: &self.outbox,
            out: &mut self.out,
            frame_max: self.frame_max,
            scratch: &mut self.scratch,
            now: self.now,
        };
        let before = ch.counts;
        let r = f(ch, &mut ctx);
        if let Some(e) = &self.entry {
            if ch.counts != before {
                e.counters.add(&ch.counts.since(&before));
            }
            if ch.publishes != PublishStats::default() {
                e.publishes.drain(&mut ch.publishes);
            }
        }
        if ch.has_confirms_pending() && self.confirm_dirty.last() != Some(&channel) {
            self.confirm_dirty.push(channel);
        }
        r
    }

    /// Answers the client's connection.close and waits for it to hang up.
    fn answer_close(&mut self) {
        self.state = State::CloseOkPending;
        self.deadline = Some(Instant::now() + CLOSE_OK_DELAY);
    }

    /// A soft error: the channel's work is undone and it waits for channel.close-ok.
    fn close_channel(&mut self, channel: u16, e: AmqpError, ids: (u16, u16)) {
        debug!(peer = %self.peer, channel, "channel error: {}", e.text);
        let _ = self.with_ctx(channel, |ch, ctx| {
            ch.close(ctx);
            Ok(())
        });
        self.send(
            channel,
            &Method::ChannelClose(ChannelClose {
                reply_code: e.code,
                reply_text: short(&e.text),
                class_id: ids.0,
                method_id: ids.1,
            }),
        );
    }

    /// A hard error (or shutdown): every channel is undone, connection.close goes out, and we
    /// wait a little for close-ok.
    fn close_connection(&mut self, e: AmqpError, ids: (u16, u16)) {
        if matches!(
            self.state,
            State::Closing | State::Draining | State::CloseOkPending | State::Closed
        ) {
            return;
        }
        if e.code != rc::CONNECTION_FORCED {
            warn!(peer = %self.peer, "closing connection: {}", e.text);
        }
        self.close_all_channels();
        self.send(
            0,
            &Method::ConnectionClose(ConnectionClose {
                reply_code: e.code,
                reply_text: short(&e.text),
                class_id: ids.0,
                method_id: ids.1,
            }),
        );
        self.state = State::Closing;
        self.deadline = Some(Instant::now() + CLOSE_TIMEOUT);
    }

    /// Forgets a closed channel, counting it for `rabbitmq_channels_closed_total`.
    fn remove_channel(&mut self, channel: u16) {
        if let Some(ch) = self.channels.remove(&channel) {
            self.channel_gone(&ch);
        }
    }

    /// A channel is gone: counted as closed, and no longer a publisher.
    fn channel_gone(&self, ch: &Channel) {
        bump(&self.broker.churn.channels_closed, 1);
        if ch.publisher {
            self.broker
                .churn
                .publishers
                .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        }
    }

    fn close_all_channels(&mut self) {
        let ids: Vec<u16> = self.channels.keys().copied().collect();
        for id in ids {
            let _ = self.with_ctx(id, |ch, ctx| {
                ch.close(ctx);
                Ok(())
            });
        }
    }

    fn on_event(&mut self, ev: ConnEvent) {
        match ev {
            ConnEvent::Deliver(d) => {
                let channel = d.consumer.channel;
                let live = self.state == State::Open
                    && self.channels.get(&channel).is_some_and(|ch| {
                        ch.state == ChannelState::Open && ch.has_consumer(&d.consumer)
                    });
                if live {
                    let _ = self.with_ctx(channel, |ch, ctx| {
                        ch.deliver(ctx, d);
                        Ok(())
                    });
                } else {
                    // The consumer went away while this was on its way: give it back.
                    d.consumer.release_credit(1);
                    d.queue.clone().return_undelivered(d);
                }
            }
            ConnEvent::ConsumerCancelled {
                channel,
                consumer_tag,
            } => {
                let ours = self
                    .channels
                    .get_mut(&channel)
                    .is_some_and(|ch| ch.consumer_cancelled(consumer_tag.as_str()));
                if ours && self.caps.consumer_cancel_notify && self.state == State::Open {
                    self.send(
                        channel,
                        &Method::BasicCancel(BasicCancel {
                            consumer_tag,
                            no_wait: true,
                        }),
                    );
                }
            }
            ConnEvent::Close(e) => self.close_connection(e, (0, 0)),
            ConnEvent::Confirm { channel, seq } => {
                self.on_store_confirm(channel, |ch| ch.store_confirmed(seq))
            }
            ConnEvent::Nack { channel, seq } => {
                self.on_store_confirm(channel, |ch| ch.store_refused(seq))
            }
            ConnEvent::Inspect(tx) => {
                let mut chans: Vec<_> = self.channels.values().map(|c| c.info()).collect();
                chans.sort_by_key(|c| c.number);
                let _ = tx.send(chans);
            }
        }
    }

    fn on_store_confirm(&mut self, channel: u16, f: impl FnOnce(&mut Channel)) {
        if let Some(ch) = self.channels.get_mut(&channel) {
            f(ch);
            if ch.has_confirms_pending() && self.confirm_dirty.last() != Some(&channel) {
                self.confirm_dirty.push(channel);
            }
        }
    }

    /// The connection is over: undelivered and unacked messages go back to their queues (in
    /// order: unacked first, then what was still in the outbox), exclusive queues are deleted.
    /// Runs when the client's connection.close is answered and again when the socket is gone;
    /// the second run finds nothing left to do.
    fn cleanup(&mut self, rx: &mut Mailbox) {
        let undelivered = rx.close().into_iter().filter_map(|ev| match ev {
            ConnEvent::Deliver(d) => Some(d),
            _ => None,
        });
        for d in undelivered {
            d.consumer.release_credit(1);
            d.queue.clone().return_undelivered(d);
        }
        self.close_all_channels();
        for (_, ch) in std::mem::take(&mut self.channels) {
            self.channel_gone(&ch);
        }
        if let Some(v) = &self.vhost {
            v.connection_closed(self.id);
        }
        if self.entry.take().is_some() {
            self.broker.connections.deregister(self.id);
        }
    }
}

/// Reply texts are shortstrs: cut at 255 bytes on a character boundary.
fn short(text: &str) -> ShortStr {
    let mut end = text.len().min(255);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    ShortStr::try_from(&text[..end]).unwrap_or_default()
}
