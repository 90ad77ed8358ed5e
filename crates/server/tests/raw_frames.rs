//! Malformed and edge-case frames over a raw TCP socket: every byte is ours, so we can send what
//! no client library would. Each case checks the close the broker answers with (reply code as
//! RabbitMQ sends it), and that a well-behaved connection opened beforehand is unaffected.
//!
//! Set `WARREN_RAW_TARGET=127.0.0.1:5673` to run the cases that need no special broker setup
//! against another broker (a RabbitMQ node) instead of an in-process Warren, to compare.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use warren_amqp::{
    decode_frame, encode_body_frames, encode_header_frame, encode_heartbeat_frame,
    encode_method_frame, reply_code as rc, BasicGet, BasicPublish, BasicQos, ChannelClose,
    ConnectionClose, ConnectionOpen, ConnectionStartOk, ConnectionTuneOk, DecodeError, FieldTable,
    Frame, Method, QueueDeclare, RawProperties, Route, ShortStr, FRAME_END, PROTOCOL_HEADER,
};
use warren_core::{Broker, Limits};
use warren_server::RunningServer;

/// Every wait is bounded: a broken broker fails the test instead of hanging it.
const WAIT: Duration = Duration::from_secs(10);

async fn within<T>(what: &str, f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(WAIT, f)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

fn s(v: &str) -> ShortStr {
    ShortStr::try_from(v).expect("short string")
}

/// A queue name unique to this process and call (tests may share one external broker).
fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "raw-{prefix}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// The broker under test: an in-process Warren, or `WARREN_RAW_TARGET` when set.
struct Target {
    addr: SocketAddr,
    _server: Option<RunningServer>,
}

async fn target() -> Target {
    if let Ok(a) = std::env::var("WARREN_RAW_TARGET") {
        return Target {
            addr: a.parse().expect("WARREN_RAW_TARGET is host:port"),
            _server: None,
        };
    }
    let server = warren(Limits::default()).await;
    Target {
        addr: server.addr,
        _server: Some(server),
    }
}

async fn warren(limits: Limits) -> RunningServer {
    RunningServer::start("127.0.0.1:0", Arc::new(Broker::new(limits)))
        .await
        .expect("server starts on a free port")
}

struct Raw {
    sock: TcpStream,
    buf: BytesMut,
    /// What the broker offered in connection.tune.
    tune_frame_max: u32,
    tune_channel_max: u16,
}

impl Raw {
    /// TCP connect only: nothing sent yet.
    async fn tcp(addr: SocketAddr) -> Raw {
        let sock = within("connect", TcpStream::connect(addr))
            .await
            .expect("connects");
        Raw {
            sock,
            buf: BytesMut::new(),
            tune_frame_max: 0,
            tune_channel_max: 0,
        }
    }

    /// Handshake with the frame_max/channel_max the broker offers, and channel 1 open.
    async fn open(addr: SocketAddr) -> Raw {
        Raw::open_with(addr, None, None).await
    }

    /// Handshake answering tune with our own frame_max / channel_max (None: accept the offer),
    /// then opens channel 1.
    async fn open_with(addr: SocketAddr, frame_max: Option<u32>, channel_max: Option<u16>) -> Raw {
        let mut c = Raw::tcp(addr).await;
        c.write(&PROTOCOL_HEADER).await;
        match c.method().await {
            (0, Method::ConnectionStart(st)) => {
                assert_eq!((st.version_major, st.version_minor), (0, 9));
                let mechs = String::from_utf8_lossy(&st.mechanisms).to_string();
                assert!(mechs.split(' ').any(|m| m == "PLAIN"), "mechanisms {mechs}");
            }
            other => panic!("expected connection.start, got {other:?}"),
        }
        c.send(
            0,
            ConnectionStartOk {
                client_properties: FieldTable::new(),
                mechanism: s("PLAIN"),
                response: Bytes::from_static(b"\0guest\0guest"),
                locale: s("en_US"),
            },
        )
        .await;
        let tune = match c.method().await {
            (0, Method::ConnectionTune(t)) => t,
            other => panic!("expected connection.tune, got {other:?}"),
        };
        c.tune_frame_max = tune.frame_max;
        c.tune_channel_max = tune.channel_max;
        c.send(
            0,
            ConnectionTuneOk {
                channel_max: channel_max.unwrap_or(tune.channel_max),
                frame_max: frame_max.unwrap_or(tune.frame_max),
                heartbeat: 0,
            },
        )
        .await;
        c.send(
            0,
            ConnectionOpen {
                virtual_host: s("/"),
            },
        )
        .await;
        match c.method().await {
            (0, Method::ConnectionOpenOk) => {}
            other => panic!("expected connection.open-ok, got {other:?}"),
        }
        c.open_channel(1).await;
        c
    }

    async fn open_channel(&mut self, ch: u16) {
        self.send(ch, Method::ChannelOpen).await;
        match self.method().await {
            (c, Method::ChannelOpenOk) if c == ch => {}
            other => panic!("expected channel.open-ok on {ch}, got {other:?}"),
        }
    }

    /// Writes bytes; a broker that already hung up is not an error here (the tests check
    /// what it said before).
    async fn write(&mut self, bytes: &[u8]) {
        let _ = self.sock.write_all(bytes).await;
    }

    async fn send(&mut self, ch: u16, m: impl Into<Method>) {
        let mut out = BytesMut::new();
        encode_method_frame(&mut out, ch, &m.into());
        self.write(&out).await;
    }

    /// The next frame, or None at end of stream (or reset).
    async fn frame(&mut self) -> Option<Frame> {
        within("a frame from the broker", async {
            loop {
                if let Some(f) = decode_frame(&mut self.buf, 0).expect("broker frames decode") {
                    return Some(f);
                }
                match self.sock.read_buf(&mut self.buf).await {
                    Ok(0) | Err(_) => return None,
                    Ok(_) => {}
                }
            }
        })
        .await
    }

    /// The next method frame (heartbeats skipped).
    async fn method(&mut self) -> (u16, Method) {
        loop {
            match self.frame().await {
                Some(Frame::Method { channel, method }) => return (channel, method),
                Some(Frame::Heartbeat { .. }) => {}
                Some(other) => panic!("expected a method frame, got {other:?}"),
                None => panic!("the broker closed the socket while we waited for a method"),
            }
        }
    }

    /// Reads until connection.close arrives (anything else in between is skipped), answers
    /// close-ok, and returns the close.
    async fn connection_close(&mut self) -> ConnectionClose {
        loop {
            match self.frame().await {
                Some(Frame::Method {
                    channel: 0,
                    method: Method::ConnectionClose(c),
                }) => {
                    self.send(0, Method::ConnectionCloseOk).await;
                    return c;
                }
                Some(_) => {}
                None => panic!("the broker hung up without connection.close"),
            }
        }
    }

    /// Reads until channel.close arrives on `ch` and answers close-ok; a connection.close
    /// instead fails the test.
    async fn channel_close(&mut self, ch: u16) -> ChannelClose {
        loop {
            match self.frame().await {
                Some(Frame::Method {
                    channel,
                    method: Method::ChannelClose(c),
                }) if channel == ch => {
                    self.send(ch, Method::ChannelCloseOk).await;
                    return c;
                }
                Some(Frame::Method {
                    method: Method::ConnectionClose(c),
                    ..
                }) => panic!("expected channel.close on {ch}, got connection.close {c:?}"),
                Some(_) => {}
                None => panic!("the broker hung up, expected channel.close on {ch}"),
            }
        }
    }

    /// Reads until the broker hangs up; returns the frames seen meanwhile.
    async fn until_eof(&mut self) -> Vec<Frame> {
        let mut seen = Vec::new();
        while let Some(f) = self.frame().await {
            seen.push(f);
        }
        seen
    }

    /// Declares a fresh queue, publishes to it through the default exchange and reads the
    /// message back with basic.get: the proof that this connection still works.
    async fn still_works(&mut self, ch: u16) {
        let q = unique("alive");
        self.send(
            ch,
            QueueDeclare {
                queue: s(&q),
                auto_delete: false,
                exclusive: true,
                ..Default::default()
            },
        )
        .await;
        match self.method().await {
            (c, Method::QueueDeclareOk(ok)) if c == ch => assert_eq!(ok.queue, q.as_str()),
            other => panic!("expected queue.declare-ok, got {other:?}"),
        }
        let body = format!("still alive on {q}");
        let wire = publish_frames(ch, "", &q, body.as_bytes(), 131_072);
        self.write(&wire).await;
        self.send(
            ch,
            BasicGet {
                queue: s(&q),
                no_ack: true,
            },
        )
        .await;
        match self.method().await {
            (c, Method::BasicGetOk(ok)) if c == ch => {
                assert_eq!(ok.routing_key, q.as_str());
                assert_eq!(ok.message_count, 0);
            }
            other => panic!("expected basic.get-ok, got {other:?}"),
        }
        match self.frame().await {
            Some(Frame::Header { channel, header }) if channel == ch => {
                assert_eq!(header.body_size, body.len() as u64)
            }
            other => panic!("expected a content header, got {other:?}"),
        }
        match self.frame().await {
            Some(Frame::Body { channel, payload }) if channel == ch => {
                assert_eq!(&payload[..], body.as_bytes())
            }
            other => panic!("expected a content body, got {other:?}"),
        }
    }
}

/// basic.publish + content header + body frames, as one buffer.
fn publish_frames(ch: u16, exchange: &str, key: &str, body: &[u8], frame_max: u32) -> BytesMut {
    let mut out = BytesMut::new();
    encode_method_frame(
        &mut out,
        ch,
        &BasicPublish {
            route: Route::from_short(&s(exchange), &s(key)),
            ..Default::default()
        }
        .into(),
    );
    encode_header_frame(
        &mut out,
        ch,
        60,
        body.len() as u64,
        &RawProperties::default(),
    );
    encode_body_frames(&mut out, ch, body, frame_max);
    out
}

/// A frame with an arbitrary type, channel, payload and end octet.
fn raw_frame(kind: u8, ch: u16, payload: &[u8], end: u8) -> BytesMut {
    let mut out = BytesMut::new();
    out.put_u8(kind);
    out.put_u16(ch);
    out.put_u32(payload.len() as u32);
    out.put_slice(payload);
    out.put_u8(end);
    out
}

/// Runs `bad` on a fresh connection (channel 1 open) and checks it ends in connection.close with
/// `code`; a witness connection opened before must still work after that.
async fn assert_connection_error<F, Fut>(code: u16, bad: F) -> ConnectionClose
where
    F: FnOnce(Raw) -> Fut,
    Fut: std::future::Future<Output = Raw>,
{
    let t = target().await;
    let mut witness = Raw::open(t.addr).await;
    let c = Raw::open(t.addr).await;
    let mut c = bad(c).await;
    let close = c.connection_close().await;
    assert_eq!(
        close.reply_code, code,
        "reply code (text {:?})",
        close.reply_text
    );
    assert!(
        close
            .reply_text
            .starts_with(warren_amqp::reply_code_name(code)),
        "reply text {:?} names the code",
        close.reply_text
    );
    // After close-ok the broker drops the socket (at the latest when we hang up).
    drop(c);
    witness.still_works(1).await;
    // And new connections are still accepted.
    Raw::open(t.addr).await.still_works(1).await;
    close
}

#[tokio::test]
async fn wrong_protocol_header_gets_ours_back_then_close() {
    let t = target().await;
    let mut witness = Raw::open(t.addr).await;
    for header in [
        *b"AMQP\x00\x00\x08\x00",
        *b"GET / HT",
        *b"AMQP\x01\x01\x00\x0a",
    ] {
        let mut c = Raw::tcp(t.addr).await;
        c.write(&header).await;
        // Warren shuts the socket down gracefully; RabbitMQ resets it after its header.
        let mut got = Vec::new();
        within("the broker to hang up", async {
            let mut chunk = [0u8; 64];
            loop {
                match c.sock.read(&mut chunk).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => got.extend_from_slice(&chunk[..n]),
                }
            }
        })
        .await;
        assert_eq!(got, PROTOCOL_HEADER, "answer to header {header:?}");
    }
    witness.still_works(1).await;
}

#[tokio::test]
async fn bad_frame_end_octet_is_frame_error() {
    assert_connection_error(rc::FRAME_ERROR, |mut c| async move {
        let mut f = BytesMut::new();
        encode_method_frame(
            &mut f,
            1,
            &QueueDeclare {
                queue: s(&unique("end")),
                exclusive: true,
                ..Default::default()
            }
            .into(),
        );
        let last = f.len() - 1;
        assert_eq!(f[last], FRAME_END);
        f[last] = 0x00;
        c.write(&f).await;
        c
    })
    .await;
}

#[tokio::test]
async fn unknown_frame_type_is_frame_error() {
    assert_connection_error(rc::FRAME_ERROR, |mut c| async move {
        c.write(&raw_frame(9, 1, b"hello", FRAME_END)).await;
        c
    })
    .await;
}

#[tokio::test]
async fn method_on_a_channel_never_opened_is_channel_error() {
    let close = assert_connection_error(rc::CHANNEL_ERROR, |mut c| async move {
        c.send(
            7,
            QueueDeclare {
                queue: s(&unique("unopened")),
                exclusive: true,
                ..Default::default()
            },
        )
        .await;
        c
    })
    .await;
    assert_eq!((close.class_id, close.method_id), (50, 10));
}

#[tokio::test]
async fn second_channel_open_is_channel_error() {
    assert_connection_error(rc::CHANNEL_ERROR, |mut c| async move {
        c.send(1, Method::ChannelOpen).await;
        c
    })
    .await;
}

#[tokio::test]
async fn connection_method_on_a_channel_is_command_invalid() {
    assert_connection_error(rc::COMMAND_INVALID, |mut c| async move {
        c.send(
            1,
            ConnectionOpen {
                virtual_host: s("/"),
            },
        )
        .await;
        c
    })
    .await;
}

#[tokio::test]
async fn truncated_method_payload_is_a_decode_error() {
    // queue.declare whose queue-name shortstr announces 20 bytes but the frame ends after 3:
    // the frame itself is well formed (size matches), its method arguments are not.
    let mut payload = BytesMut::new();
    payload.put_u16(50);
    payload.put_u16(10);
    payload.put_u16(0); // ticket
    payload.put_u8(20);
    payload.put_slice(b"abc");
    let expected = DecodeError::Truncated.reply_code();
    assert_eq!(
        expected,
        rc::FRAME_ERROR,
        "RabbitMQ: 'FRAME_ERROR - cannot decode'"
    );
    assert_connection_error(expected, |mut c| async move {
        c.write(&raw_frame(1, 1, &payload, FRAME_END)).await;
        c
    })
    .await;
}

#[tokio::test]
async fn unknown_method_id_is_not_implemented() {
    // RabbitMQ drops the socket without a close here (its reader crashes on unknown_method_id);
    // Warren answers 540, the spec's code for an unsupported method.
    if std::env::var("WARREN_RAW_TARGET").is_ok() {
        return;
    }
    let mut payload = BytesMut::new();
    payload.put_u16(50);
    payload.put_u16(99);
    assert_connection_error(
        DecodeError::UnknownMethod {
            class_id: 50,
            method_id: 99,
        }
        .reply_code(),
        |mut c| async move {
            c.write(&raw_frame(1, 1, &payload, FRAME_END)).await;
            c
        },
    )
    .await;
}

#[tokio::test]
async fn content_header_without_publish_is_unexpected_frame() {
    assert_connection_error(rc::UNEXPECTED_FRAME, |mut c| async move {
        let mut f = BytesMut::new();
        encode_header_frame(&mut f, 1, 60, 5, &RawProperties::default());
        f.extend_from_slice(&raw_frame(3, 1, b"hello", FRAME_END));
        c.write(&f).await;
        c
    })
    .await;
}

#[tokio::test]
async fn body_without_header_is_unexpected_frame() {
    assert_connection_error(rc::UNEXPECTED_FRAME, |mut c| async move {
        let mut f = BytesMut::new();
        encode_method_frame(
            &mut f,
            1,
            &BasicPublish {
                route: Route::from_short(&s(""), &s("nowhere")),
                ..Default::default()
            }
            .into(),
        );
        f.extend_from_slice(&raw_frame(3, 1, b"hello", FRAME_END));
        c.write(&f).await;
        c
    })
    .await;
}

#[tokio::test]
async fn method_while_body_expected_is_unexpected_frame() {
    assert_connection_error(rc::UNEXPECTED_FRAME, |mut c| async move {
        let mut f = BytesMut::new();
        encode_method_frame(
            &mut f,
            1,
            &BasicPublish {
                route: Route::from_short(&s(""), &s("nowhere")),
                ..Default::default()
            }
            .into(),
        );
        encode_header_frame(&mut f, 1, 60, 10, &RawProperties::default());
        f.extend_from_slice(&raw_frame(3, 1, b"12345", FRAME_END));
        // 5 of 10 body bytes so far: a method now is out of place.
        encode_method_frame(
            &mut f,
            1,
            &QueueDeclare {
                queue: s(&unique("mid-body")),
                exclusive: true,
                ..Default::default()
            }
            .into(),
        );
        c.write(&f).await;
        c
    })
    .await;
}

#[tokio::test]
async fn method_while_header_expected_is_unexpected_frame() {
    assert_connection_error(rc::UNEXPECTED_FRAME, |mut c| async move {
        let mut f = BytesMut::new();
        encode_method_frame(
            &mut f,
            1,
            &BasicPublish {
                route: Route::from_short(&s(""), &s("nowhere")),
                ..Default::default()
            }
            .into(),
        );
        encode_method_frame(
            &mut f,
            1,
            &BasicPublish {
                route: Route::from_short(&s(""), &s("nowhere")),
                ..Default::default()
            }
            .into(),
        );
        c.write(&f).await;
        c
    })
    .await;
}

/// Warren closes with 501 as soon as the body frames carry more than the header announced.
/// RabbitMQ 3.10 does not check this at all: it keeps the message open forever (the surplus
/// makes its remaining size negative, so it never reaches 0) and a following method frame on
/// the channel is then refused with 505 UNEXPECTED_FRAME.
#[tokio::test]
async fn body_larger_than_announced_is_frame_error() {
    if std::env::var("WARREN_RAW_TARGET").is_ok() {
        return;
    }
    assert_connection_error(rc::FRAME_ERROR, |mut c| async move {
        let mut f = BytesMut::new();
        encode_method_frame(
            &mut f,
            1,
            &BasicPublish {
                route: Route::from_short(&s(""), &s("nowhere")),
                ..Default::default()
            }
            .into(),
        );
        encode_header_frame(&mut f, 1, 60, 5, &RawProperties::default());
        f.extend_from_slice(&raw_frame(3, 1, b"0123456789", FRAME_END));
        c.write(&f).await;
        c
    })
    .await;
}

#[tokio::test]
async fn frame_larger_than_frame_max_is_frame_error() {
    // The broker's own limit (what it offered in tune).
    assert_connection_error(rc::FRAME_ERROR, |mut c| async move {
        let max = c.tune_frame_max;
        assert!(max >= 4096, "tune offers frame_max {max}");
        // One body frame of max + 9 bytes. (A payload of exactly frame_max, 8 bytes over the
        // limit, is tolerated by RabbitMQ: see the ignored test below.)
        let body = vec![7u8; max as usize + 1];
        let mut f = BytesMut::new();
        encode_method_frame(
            &mut f,
            1,
            &BasicPublish {
                route: Route::from_short(&s(""), &s("nowhere")),
                ..Default::default()
            }
            .into(),
        );
        encode_header_frame(&mut f, 1, 60, body.len() as u64, &RawProperties::default());
        encode_body_frames(&mut f, 1, &body, 0);
        c.write(&f).await;
        c
    })
    .await;
}

#[tokio::test]
async fn frame_larger_than_negotiated_smaller_frame_max_is_frame_error() {
    let t = target().await;
    let mut witness = Raw::open(t.addr).await;
    // We ask for 8192 in tune-ok: a 9000-byte frame is then too large, though the broker's
    // own limit would allow it; an 8192-byte frame is fine.
    let mut c = Raw::open_with(t.addr, Some(8192), None).await;
    let q = unique("fmax");
    c.send(
        1,
        QueueDeclare {
            queue: s(&q),
            exclusive: true,
            ..Default::default()
        },
    )
    .await;
    assert!(matches!(c.method().await, (1, Method::QueueDeclareOk(_))));
    c.write(&publish_frames(1, "", &q, &[1u8; 8192 - 8], 8192))
        .await;
    c.send(
        1,
        BasicGet {
            queue: s(&q),
            no_ack: true,
        },
    )
    .await;
    match c.method().await {
        (1, Method::BasicGetOk(_)) => {}
        other => panic!("expected get-ok, got {other:?}"),
    }
    match c.frame().await {
        Some(Frame::Header { header, .. }) => assert_eq!(header.body_size, 8184),
        other => panic!("expected a header, got {other:?}"),
    }
    // The broker splits deliveries to our frame_max too.
    match c.frame().await {
        Some(Frame::Body { payload, .. }) => assert_eq!(payload.len(), 8184),
        other => panic!("expected one body frame, got {other:?}"),
    }
    c.write(&publish_frames(1, "", &q, &[1u8; 9000 - 8], 0))
        .await;
    let close = c.connection_close().await;
    assert_eq!(close.reply_code, rc::FRAME_ERROR, "{:?}", close.reply_text);
    drop(c);
    witness.still_works(1).await;
}

#[tokio::test]
async fn heartbeat_frames_are_accepted() {
    let t = target().await;
    let mut c = Raw::open(t.addr).await;
    let mut hb = BytesMut::new();
    for _ in 0..5 {
        encode_heartbeat_frame(&mut hb);
    }
    c.write(&hb).await;
    c.still_works(1).await;
    // Interleaved with content frames of a publish, too.
    let q = unique("hb");
    c.send(
        1,
        QueueDeclare {
            queue: s(&q),
            exclusive: true,
            ..Default::default()
        },
    )
    .await;
    assert!(matches!(c.method().await, (1, Method::QueueDeclareOk(_))));
    let mut f = BytesMut::new();
    encode_method_frame(
        &mut f,
        1,
        &BasicPublish {
            route: Route::from_short(&s(""), &s(&q)),
            ..Default::default()
        }
        .into(),
    );
    encode_heartbeat_frame(&mut f);
    encode_header_frame(&mut f, 1, 60, 4, &RawProperties::default());
    encode_heartbeat_frame(&mut f);
    f.extend_from_slice(&raw_frame(3, 1, b"ab", FRAME_END));
    encode_heartbeat_frame(&mut f);
    f.extend_from_slice(&raw_frame(3, 1, b"cd", FRAME_END));
    c.write(&f).await;
    c.send(
        1,
        BasicGet {
            queue: s(&q),
            no_ack: true,
        },
    )
    .await;
    assert!(matches!(c.method().await, (1, Method::BasicGetOk(_))));
    assert!(matches!(c.frame().await, Some(Frame::Header { .. })));
    match c.frame().await {
        Some(Frame::Body { payload, .. }) => assert_eq!(&payload[..], b"abcd"),
        other => panic!("expected the body, got {other:?}"),
    }
}

#[tokio::test]
async fn message_larger_than_max_message_size_closes_only_its_channel() {
    let server = warren(Limits {
        max_message_size: 1024,
        ..Default::default()
    })
    .await;
    let mut c = Raw::open(server.addr).await;
    c.open_channel(2).await;
    let q = unique("big");
    c.send(
        2,
        QueueDeclare {
            queue: s(&q),
            exclusive: true,
            ..Default::default()
        },
    )
    .await;
    assert!(matches!(c.method().await, (2, Method::QueueDeclareOk(_))));
    // Exactly the limit is fine...
    c.write(&publish_frames(1, "", &q, &[b'x'; 1024], 0)).await;
    // ...one byte more is not.
    c.write(&publish_frames(1, "", &q, &[b'y'; 1025], 0)).await;
    let close = c.channel_close(1).await;
    assert_eq!(
        close.reply_code,
        rc::PRECONDITION_FAILED,
        "{:?}",
        close.reply_text
    );
    assert_eq!((close.class_id, close.method_id), (60, 40));
    // The connection and its other channel carry on; only the message at the limit arrived.
    c.send(
        2,
        BasicGet {
            queue: s(&q),
            no_ack: true,
        },
    )
    .await;
    match c.method().await {
        (2, Method::BasicGetOk(ok)) => assert_eq!(ok.message_count, 0),
        other => panic!("expected get-ok, got {other:?}"),
    }
    match c.frame().await {
        Some(Frame::Header { header, .. }) => assert_eq!(header.body_size, 1024),
        other => panic!("expected a header, got {other:?}"),
    }
    assert!(matches!(c.frame().await, Some(Frame::Body { .. })));
    c.still_works(2).await;
    // The closed channel's number can be opened again.
    c.open_channel(1).await;
    c.still_works(1).await;
    server.stop().await;
}

#[tokio::test]
async fn random_garbage_never_takes_the_broker_down() {
    let t = target().await;
    let mut witness = Raw::open(t.addr).await;
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        // xorshift64*
        seed ^= seed >> 12;
        seed ^= seed << 25;
        seed ^= seed >> 27;
        seed.wrapping_mul(0x2545_F491_4F6C_DD1D)
    };
    for round in 0..40 {
        let len = 1 + (next() % 3000) as usize;
        let garbage: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        let mut c = if round % 2 == 0 {
            // Garbage in place of the protocol header...
            Raw::tcp(t.addr).await
        } else {
            // ...or after a good handshake.
            Raw::open(t.addr).await
        };
        c.write(&garbage).await;
        // Whatever the broker answers must at least be well-formed frames (or its header).
        let _ = tokio::time::timeout(Duration::from_millis(50), c.sock.read_buf(&mut c.buf)).await;
        drop(c);
    }
    // Garbage whose first frame header is valid but whose size is huge, then a hang-up.
    let mut c = Raw::open(t.addr).await;
    c.write(&[1, 0, 1, 0x7f, 0xff, 0xff, 0xff, 1, 2, 3]).await;
    let close = c.connection_close().await;
    assert_eq!(close.reply_code, rc::FRAME_ERROR);
    drop(c);
    witness.still_works(1).await;
    Raw::open(t.addr).await.still_works(1).await;
}

#[tokio::test]
async fn publish_immediate_is_not_implemented() {
    assert_connection_error(rc::NOT_IMPLEMENTED, |mut c| async move {
        let mut f = BytesMut::new();
        encode_method_frame(
            &mut f,
            1,
            &BasicPublish {
                route: Route::from_short(&s(""), &s("nowhere")),
                immediate: true,
                ..Default::default()
            }
            .into(),
        );
        encode_header_frame(&mut f, 1, 60, 2, &RawProperties::default());
        f.extend_from_slice(&raw_frame(3, 1, b"hi", FRAME_END));
        c.write(&f).await;
        c
    })
    .await;
}

#[tokio::test]
async fn qos_prefetch_size_is_not_implemented() {
    let close = assert_connection_error(rc::NOT_IMPLEMENTED, |mut c| async move {
        c.send(
            1,
            BasicQos {
                prefetch_size: 4096,
                prefetch_count: 10,
                global: false,
            },
        )
        .await;
        c
    })
    .await;
    assert_eq!((close.class_id, close.method_id), (60, 10));
}

/// channel_max limits how many channels are open at once, not their numbers (RabbitMQ's
/// rabbit_reader does the same): channel 100 opens under channel_max 4, and the fifth open
/// channel is refused with 530 NOT_ALLOWED.
#[tokio::test]
async fn channel_max_limits_the_number_of_open_channels_not_their_ids() {
    let t = target().await;
    let mut witness = Raw::open(t.addr).await;
    let mut c = Raw::open_with(t.addr, None, Some(4)).await;
    assert!(c.tune_channel_max > 4);
    c.open_channel(100).await;
    c.still_works(100).await;
    c.open_channel(2).await;
    c.open_channel(3).await;
    // Four open now (1, 2, 3, 100).
    c.send(5, Method::ChannelOpen).await;
    let close = c.connection_close().await;
    assert_eq!(close.reply_code, rc::NOT_ALLOWED, "{:?}", close.reply_text);
    drop(c);
    witness.still_works(1).await;
}

#[tokio::test]
async fn client_close_gets_close_ok() {
    let t = target().await;
    let mut c = Raw::open(t.addr).await;
    c.open_channel(2).await;
    c.send(
        0,
        ConnectionClose {
            reply_code: rc::REPLY_SUCCESS,
            reply_text: s("bye"),
            class_id: 0,
            method_id: 0,
        },
    )
    .await;
    match c.method().await {
        (0, Method::ConnectionCloseOk) => {}
        other => panic!("expected connection.close-ok, got {other:?}"),
    }
    // Nothing else follows; the connection ends once we hang up (or the broker does).
    c.sock.shutdown().await.expect("shutdown");
    let rest = c.until_eof().await;
    assert!(rest.is_empty(), "frames after close-ok: {rest:?}");
}

#[tokio::test]
async fn channel_close_handshake_both_ways() {
    let t = target().await;
    let mut c = Raw::open(t.addr).await;
    c.open_channel(2).await;
    // Client-initiated.
    c.send(
        2,
        ChannelClose {
            reply_code: rc::REPLY_SUCCESS,
            reply_text: s("done"),
            class_id: 0,
            method_id: 0,
        },
    )
    .await;
    match c.method().await {
        (2, Method::ChannelCloseOk) => {}
        other => panic!("expected channel.close-ok, got {other:?}"),
    }
    // Broker-initiated (404 on a queue that does not exist).
    c.send(
        1,
        QueueDeclare {
            queue: s(&unique("missing")),
            passive: true,
            ..Default::default()
        },
    )
    .await;
    let close = c.channel_close(1).await;
    assert_eq!(close.reply_code, rc::NOT_FOUND);
    assert_eq!((close.class_id, close.method_id), (50, 10));
    // Both numbers are usable again.
    c.open_channel(1).await;
    c.open_channel(2).await;
    c.still_works(1).await;
    c.still_works(2).await;
}

#[tokio::test]
async fn shutdown_sends_connection_forced_to_open_connections() {
    let server = warren(Limits::default()).await;
    let mut c = Raw::open(server.addr).await;
    c.still_works(1).await;
    let stopping = tokio::spawn(server.stop());
    let close = c.connection_close().await;
    assert_eq!(
        close.reply_code,
        rc::CONNECTION_FORCED,
        "{:?}",
        close.reply_text
    );
    // Our close-ok lets the broker finish: it hangs up and stop() returns.
    let rest = c.until_eof().await;
    assert!(rest.is_empty(), "frames after connection.close: {rest:?}");
    within("stop() to return", stopping)
        .await
        .expect("stop task");
}

// ---------------------------------------------------------------------------------------------
// RabbitMQ 3.10 behaviours Warren does not match yet (checked with WARREN_RAW_TARGET against a
// RabbitMQ node). Each test asserts what RabbitMQ does; run them with `-- --ignored`.

/// A content header on a channel that was never opened: RabbitMQ's per-channel command assembler
/// sees a non-method frame first and answers 505 UNEXPECTED_FRAME ("expected method frame, got
/// non method frame instead"); Warren answers 504 CHANNEL_ERROR ("expected 'channel.open'").
#[tokio::test]
async fn content_frames_on_a_channel_never_opened_are_unexpected_frame() {
    assert_connection_error(rc::UNEXPECTED_FRAME, |mut c| async move {
        let mut f = BytesMut::new();
        encode_header_frame(&mut f, 9, 60, 5, &RawProperties::default());
        c.write(&f).await;
        c
    })
    .await;
    assert_connection_error(rc::UNEXPECTED_FRAME, |mut c| async move {
        c.write(&raw_frame(3, 9, b"hello", FRAME_END)).await;
        c
    })
    .await;
}

/// A content header on channel 0: RabbitMQ 505 UNEXPECTED_FRAME; Warren 504 CHANNEL_ERROR.
#[tokio::test]
async fn content_header_on_channel_zero_is_unexpected_frame() {
    assert_connection_error(rc::UNEXPECTED_FRAME, |mut c| async move {
        let mut f = BytesMut::new();
        encode_header_frame(&mut f, 0, 60, 1, &RawProperties::default());
        c.write(&f).await;
        c
    })
    .await;
}

/// A channel-class method on channel 0: RabbitMQ 504 CHANNEL_ERROR ("unexpected method in
/// connection state running"); Warren 503 COMMAND_INVALID.
#[tokio::test]
async fn queue_method_on_channel_zero_is_channel_error() {
    let close = assert_connection_error(rc::CHANNEL_ERROR, |mut c| async move {
        c.send(
            0,
            QueueDeclare {
                queue: s(&unique("ch0")),
                exclusive: true,
                ..Default::default()
            },
        )
        .await;
        c
    })
    .await;
    assert_eq!((close.class_id, close.method_id), (50, 10));
}

/// A heartbeat frame on a channel other than 0: RabbitMQ 505 UNEXPECTED_FRAME; Warren ignores it.
#[tokio::test]
async fn heartbeat_on_a_nonzero_channel_is_unexpected_frame() {
    assert_connection_error(rc::UNEXPECTED_FRAME, |mut c| async move {
        c.write(&raw_frame(8, 1, b"", FRAME_END)).await;
        c
    })
    .await;
}

/// RabbitMQ's reader tolerates frames up to 8 bytes over frame_max (`?FRAME_SIZE_FUDGE`: a
/// payload of exactly frame_max) and only refuses beyond that; Warren refuses 501 as soon as
/// payload + 8 > frame_max.
#[tokio::test]
async fn frame_payload_of_exactly_frame_max_is_tolerated() {
    let t = target().await;
    let mut c = Raw::open(t.addr).await;
    let q = unique("fudge");
    c.send(
        1,
        QueueDeclare {
            queue: s(&q),
            exclusive: true,
            ..Default::default()
        },
    )
    .await;
    assert!(matches!(c.method().await, (1, Method::QueueDeclareOk(_))));
    let body = vec![3u8; c.tune_frame_max as usize];
    c.write(&publish_frames(1, "", &q, &body, 0)).await;
    c.send(
        1,
        BasicGet {
            queue: s(&q),
            no_ack: true,
        },
    )
    .await;
    match c.method().await {
        (1, Method::BasicGetOk(_)) => {}
        other => panic!("expected get-ok, got {other:?}"),
    }
    match c.frame().await {
        Some(Frame::Header { header, .. }) => assert_eq!(header.body_size, body.len() as u64),
        other => panic!("expected a header, got {other:?}"),
    }
}

/// RabbitMQ 3.10 accepts any frame_max >= 4096 in tune-ok (the spec's frame-min-size, also
/// `warren_amqp::FRAME_MIN_SIZE`); Warren refuses below 8192 with 530 (newer RabbitMQ releases
/// raised their minimum to 8192).
#[tokio::test]
#[ignore = "Warren follows issue 2 (and RabbitMQ 4): frame_max below 8192 is refused with 530; RabbitMQ 3.10 accepts 4096"]
async fn tune_ok_frame_max_4096_is_accepted() {
    let t = target().await;
    let mut c = Raw::open_with(t.addr, Some(warren_amqp::FRAME_MIN_SIZE), None).await;
    c.still_works(1).await;
}

/// A method frame arriving while body frames are expected: RabbitMQ says "expected content body,
/// got non content body frame instead" and reports basic.publish (60, 40) as the failing method;
/// Warren says "expected content header ..." and reports the method that arrived.
#[tokio::test]
async fn method_while_body_expected_reports_like_rabbitmq() {
    let close = assert_connection_error(rc::UNEXPECTED_FRAME, |mut c| async move {
        let mut f = publish_frames(1, "", "nowhere", b"", 0);
        f.clear();
        encode_method_frame(
            &mut f,
            1,
            &BasicPublish {
                route: Route::from_short(&s(""), &s("nowhere")),
                ..Default::default()
            }
            .into(),
        );
        encode_header_frame(&mut f, 1, 60, 10, &RawProperties::default());
        encode_method_frame(
            &mut f,
            1,
            &QueueDeclare {
                queue: s(&unique("mid-body")),
                exclusive: true,
                ..Default::default()
            }
            .into(),
        );
        c.write(&f).await;
        c
    })
    .await;
    assert_eq!(
        close.reply_text,
        "UNEXPECTED_FRAME - expected content body, got non content body frame instead"
    );
    assert_eq!((close.class_id, close.method_id), (60, 40));
}
