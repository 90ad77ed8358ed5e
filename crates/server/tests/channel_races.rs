//! Every crossing of channel.close, channel.close-ok and channel.open on one channel id, over
//! raw frames, as RabbitMQ 3.10.8 answers them. The frames of each interleaving are written in
//! one go, so the broker reads them together, as it does when a client sends them back to back.
//!
//! RabbitMQ's rules (rabbit_reader / rabbit_channel): a channel the broker has closed stays
//! "closing" until the client's close-ok, ignoring everything else meanwhile except a
//! channel.close (answered with close-ok, the channel still closing) and a channel.open (a
//! second open, 504); a frame for a channel that does not exist (never opened, or gone after
//! its close handshake) opens a fresh one, so anything but channel.open there is 504
//! "expected 'channel.open'"; and a close-ok on an open channel is 503 "unimplemented method".
//!
//! Runs against RabbitMQ too: `COMPARE_AMQP_URL=amqp://guest:guest@HOST:PORT/%2f`.

mod common;

use bytes::BytesMut;
use common::raw::{put_publish, RawClient};
use common::{amqp_addr, start};
use warren_amqp::{
    encode_method_frame, reply_code as rc, BasicAck, BasicQos, ChannelClose, Method, QueueDeclare,
    ShortStr,
};

fn s(v: &str) -> ShortStr {
    ShortStr::try_from(v).expect("short string")
}

fn close(text: &str) -> Method {
    Method::ChannelClose(ChannelClose {
        reply_code: rc::REPLY_SUCCESS,
        reply_text: s(text),
        class_id: 0,
        method_id: 0,
    })
}

/// A name no exchange has (tests may share one external broker).
fn missing_exchange() -> String {
    format!("races-missing-{}", std::process::id())
}

/// Frames built up in order, written in one go.
#[derive(Default)]
struct Frames(BytesMut);

impl Frames {
    fn method(mut self, ch: u16, m: Method) -> Frames {
        encode_method_frame(&mut self.0, ch, &m);
        self
    }
    /// A publish to an exchange that does not exist: the broker closes the channel (404).
    fn publish_to_missing(mut self, ch: u16) -> Frames {
        put_publish(&mut self.0, ch, &missing_exchange(), "k", b"lost");
        self
    }
    fn publish_to_default(mut self, ch: u16, queue: &str) -> Frames {
        put_publish(&mut self.0, ch, "", queue, b"hello");
        self
    }
}

async fn connect(addr: std::net::SocketAddr) -> RawClient {
    let mut c = RawClient::connect(addr).await;
    c.handshake(0).await;
    c
}

async fn send(c: &mut RawClient, f: Frames) {
    c.write(&f.0).await;
}

async fn open(c: &mut RawClient, ch: u16) {
    send(c, Frames::default().method(ch, Method::ChannelOpen)).await;
    expect(c, ch, "channel.open_ok").await;
}

/// The next method must be `name` on `ch`.
async fn expect(c: &mut RawClient, ch: u16, name: &str) -> Method {
    let (got_ch, m) = c.method().await;
    assert_eq!(
        (got_ch, m.name()),
        (ch, name),
        "expected {name} on channel {ch}, got {m:?} on {got_ch}"
    );
    m
}

/// The next method must be the broker's channel.close 404 for the publish to the missing
/// exchange.
async fn expect_404_close(c: &mut RawClient, ch: u16) {
    let Method::ChannelClose(m) = expect(c, ch, "channel.close").await else {
        unreachable!()
    };
    let text = format!(
        "NOT_FOUND - no exchange '{}' in vhost '/'",
        missing_exchange()
    );
    assert_eq!(
        (m.reply_code, m.reply_text.as_str(), m.class_id, m.method_id),
        (rc::NOT_FOUND, text.as_str(), 60, 40)
    );
}

/// The next method must be connection.close with `code` and `text`.
async fn expect_connection_close(c: &mut RawClient, code: u16, text: &str, ids: (u16, u16)) {
    let Method::ConnectionClose(m) = expect(c, 0, "connection.close").await else {
        unreachable!()
    };
    assert_eq!(
        (m.reply_code, m.reply_text.as_str(), m.class_id, m.method_id),
        (code, text, ids.0, ids.1)
    );
    send(c, Frames::default().method(0, Method::ConnectionCloseOk)).await;
}

/// The connection still works: `ch` opens (again), and a message published on it to a fresh
/// queue can be fetched back.
async fn still_works(c: &mut RawClient, ch: u16) {
    open(c, ch).await;
    let q = format!("races-alive-{}-{ch}", std::process::id());
    let f = Frames::default()
        .method(
            ch,
            Method::QueueDeclare(QueueDeclare {
                queue: s(&q),
                exclusive: true,
                ..Default::default()
            }),
        )
        .publish_to_default(ch, &q)
        .method(
            ch,
            Method::BasicGet(warren_amqp::BasicGet {
                queue: s(&q),
                no_ack: true,
            }),
        );
    send(c, f).await;
    expect(c, ch, "queue.declare_ok").await;
    expect(c, ch, "basic.get_ok").await;
}

const SECOND_OPEN: &str = "CHANNEL_ERROR - second 'channel.open' seen";
const EXPECTED_OPEN: &str = "CHANNEL_ERROR - expected 'channel.open'";

/// The race: the client publishes to a missing exchange and closes the channel at once.
/// The closes cross; the broker answers the client's close with close-ok, and the client's
/// close-ok for the broker's close ends the channel without harm.
#[tokio::test]
async fn crossing_closes_then_the_clients_close_ok() {
    let server = start().await;
    let mut c = connect(amqp_addr(&server)).await;
    open(&mut c, 1).await;
    send(
        &mut c,
        Frames::default()
            .publish_to_missing(1)
            .method(1, close("bye")),
    )
    .await;
    expect_404_close(&mut c, 1).await;
    expect(&mut c, 1, "channel.close_ok").await;
    send(&mut c, Frames::default().method(1, Method::ChannelCloseOk)).await;
    still_works(&mut c, 1).await;
}

/// The same, with the client answering the broker's close before it reads the close-ok for its
/// own, and reopening the channel right after its close-ok.
#[tokio::test]
async fn crossing_closes_with_close_ok_and_reopen_back_to_back() {
    let server = start().await;
    let mut c = connect(amqp_addr(&server)).await;
    open(&mut c, 1).await;
    send(
        &mut c,
        Frames::default()
            .publish_to_missing(1)
            .method(1, close("bye")),
    )
    .await;
    expect_404_close(&mut c, 1).await;
    let f = Frames::default()
        .method(1, Method::ChannelCloseOk)
        .method(1, Method::ChannelOpen);
    send(&mut c, f).await;
    expect(&mut c, 1, "channel.close_ok").await;
    expect(&mut c, 1, "channel.open_ok").await;
    still_works(&mut c, 2).await;
}

/// Crossing closes, and a client that takes the close-ok for its own close as the end and
/// reopens without answering the broker's close: the channel is still closing, so that open is
/// a second one (504).
#[tokio::test]
async fn crossing_closes_then_reopen_without_close_ok_is_a_second_open() {
    let server = start().await;
    let mut c = connect(amqp_addr(&server)).await;
    open(&mut c, 1).await;
    send(
        &mut c,
        Frames::default()
            .publish_to_missing(1)
            .method(1, close("bye")),
    )
    .await;
    expect_404_close(&mut c, 1).await;
    expect(&mut c, 1, "channel.close_ok").await;
    send(&mut c, Frames::default().method(1, Method::ChannelOpen)).await;
    expect_connection_close(&mut c, rc::CHANNEL_ERROR, SECOND_OPEN, (20, 10)).await;
}

/// A channel the broker closed ignores every method and content frame until the client's
/// close-ok (the publish, a qos, a declare, even an ack of an unknown tag), and is usable again
/// after it.
#[tokio::test]
async fn a_closing_channel_ignores_everything_until_close_ok() {
    let server = start().await;
    let mut c = connect(amqp_addr(&server)).await;
    open(&mut c, 1).await;
    send(&mut c, Frames::default().publish_to_missing(1)).await;
    expect_404_close(&mut c, 1).await;
    let f = Frames::default()
        .publish_to_missing(1)
        .method(
            1,
            Method::BasicQos(BasicQos {
                prefetch_size: 0,
                prefetch_count: 5,
                global: false,
            }),
        )
        .method(
            1,
            Method::QueueDeclare(QueueDeclare {
                queue: s("races-ignored"),
                exclusive: true,
                ..Default::default()
            }),
        )
        .method(
            1,
            Method::BasicAck(BasicAck {
                delivery_tag: 99,
                multiple: false,
            }),
        )
        .method(1, Method::ChannelCloseOk)
        .method(1, Method::ChannelOpen);
    send(&mut c, f).await;
    // Nothing was answered before the open-ok.
    expect(&mut c, 1, "channel.open_ok").await;
    still_works(&mut c, 2).await;
}

/// A channel.close on a channel the broker is closing gets close-ok; the channel stays closing
/// until the close-ok, however many closes come.
#[tokio::test]
async fn closes_on_a_closing_channel_each_get_close_ok() {
    let server = start().await;
    let mut c = connect(amqp_addr(&server)).await;
    open(&mut c, 1).await;
    send(&mut c, Frames::default().publish_to_missing(1)).await;
    expect_404_close(&mut c, 1).await;
    let f = Frames::default()
        .method(1, close("one"))
        .method(1, close("two"));
    send(&mut c, f).await;
    expect(&mut c, 1, "channel.close_ok").await;
    expect(&mut c, 1, "channel.close_ok").await;
    let f = Frames::default()
        .method(1, Method::ChannelCloseOk)
        .method(1, Method::ChannelOpen);
    send(&mut c, f).await;
    expect(&mut c, 1, "channel.open_ok").await;
    still_works(&mut c, 2).await;
}

/// channel.open on a channel the broker is closing, before the close-ok: a second open (504).
#[tokio::test]
async fn open_on_a_closing_channel_is_a_second_open() {
    let server = start().await;
    let mut c = connect(amqp_addr(&server)).await;
    open(&mut c, 1).await;
    send(&mut c, Frames::default().publish_to_missing(1)).await;
    expect_404_close(&mut c, 1).await;
    send(&mut c, Frames::default().method(1, Method::ChannelOpen)).await;
    expect_connection_close(&mut c, rc::CHANNEL_ERROR, SECOND_OPEN, (20, 10)).await;
}

/// After the client's close and the broker's close-ok the channel is gone: a stray close-ok
/// (or close) for it is a frame on a channel not open (504 "expected 'channel.open'").
#[tokio::test]
async fn close_ok_after_the_close_handshake_is_expected_open() {
    let server = start().await;
    let mut c = connect(amqp_addr(&server)).await;
    open(&mut c, 1).await;
    send(&mut c, Frames::default().method(1, close("bye"))).await;
    expect(&mut c, 1, "channel.close_ok").await;
    send(&mut c, Frames::default().method(1, Method::ChannelCloseOk)).await;
    expect_connection_close(&mut c, rc::CHANNEL_ERROR, EXPECTED_OPEN, (20, 41)).await;
}

#[tokio::test]
async fn close_after_the_close_handshake_is_expected_open() {
    let server = start().await;
    let mut c = connect(amqp_addr(&server)).await;
    open(&mut c, 1).await;
    send(&mut c, Frames::default().method(1, close("bye"))).await;
    expect(&mut c, 1, "channel.close_ok").await;
    send(&mut c, Frames::default().method(1, close("again"))).await;
    expect_connection_close(&mut c, rc::CHANNEL_ERROR, EXPECTED_OPEN, (20, 40)).await;
}

/// After a broker-initiated close and the client's close-ok the channel is gone as well.
#[tokio::test]
async fn close_ok_twice_after_a_broker_close_is_expected_open() {
    let server = start().await;
    let mut c = connect(amqp_addr(&server)).await;
    open(&mut c, 1).await;
    send(&mut c, Frames::default().publish_to_missing(1)).await;
    expect_404_close(&mut c, 1).await;
    let f = Frames::default()
        .method(1, Method::ChannelCloseOk)
        .method(1, Method::ChannelCloseOk);
    send(&mut c, f).await;
    expect_connection_close(&mut c, rc::CHANNEL_ERROR, EXPECTED_OPEN, (20, 41)).await;
}

/// channel.close-ok on a channel never opened.
#[tokio::test]
async fn close_ok_on_a_channel_never_opened_is_expected_open() {
    let server = start().await;
    let mut c = connect(amqp_addr(&server)).await;
    send(&mut c, Frames::default().method(3, Method::ChannelCloseOk)).await;
    expect_connection_close(&mut c, rc::CHANNEL_ERROR, EXPECTED_OPEN, (20, 41)).await;
}

/// The client closes and reopens the channel without waiting for the close-ok. Warren has
/// forgotten the channel when it sends the close-ok, so the open opens a fresh one. RabbitMQ
/// forgets it only once the channel's process has told the reader, so an open read in the same
/// batch reaches the closing channel (504, second open), and one sent a little later opens a
/// fresh channel as here: a timing artefact the comparison allows for.
#[tokio::test]
async fn close_then_open_back_to_back() {
    let server = start().await;
    let mut c = connect(amqp_addr(&server)).await;
    open(&mut c, 1).await;
    let f = Frames::default()
        .method(1, close("bye"))
        .method(1, Method::ChannelOpen);
    send(&mut c, f).await;
    if std::env::var_os("COMPARE_AMQP_URL").is_some() {
        expect_connection_close(&mut c, rc::CHANNEL_ERROR, SECOND_OPEN, (20, 10)).await;
        return;
    }
    expect(&mut c, 1, "channel.close_ok").await;
    expect(&mut c, 1, "channel.open_ok").await;
    still_works(&mut c, 2).await;
}

/// A close-ok on an open channel (no close in flight either way): RabbitMQ's channel has no
/// clause for it, so it is an unimplemented method (503, a connection error).
#[tokio::test]
async fn close_ok_on_an_open_channel_is_command_invalid() {
    let server = start().await;
    let mut c = connect(amqp_addr(&server)).await;
    open(&mut c, 1).await;
    send(&mut c, Frames::default().method(1, Method::ChannelCloseOk)).await;
    let text = "COMMAND_INVALID - unimplemented method";
    expect_connection_close(&mut c, rc::COMMAND_INVALID, text, (20, 41)).await;
}

const NO_METHOD: &str = "UNEXPECTED_FRAME - expected method frame, got non method frame instead";
const NO_HEADER: &str =
    "UNEXPECTED_FRAME - expected content header for class 60, got non content header frame instead";

/// A publish (method only) on `ch`, its content to follow.
fn publish_method(f: Frames, ch: u16) -> Frames {
    f.method(
        ch,
        Method::BasicPublish(warren_amqp::BasicPublish {
            route: warren_amqp::Route::new("", "races-nowhere").expect("short names"),
            mandatory: false,
            immediate: false,
        }),
    )
}

fn header(mut f: Frames, ch: u16, body_size: u64) -> Frames {
    let props = warren_amqp::RawProperties::default();
    warren_amqp::encode_header_frame(&mut f.0, ch, 60, body_size, &props);
    f
}

fn body(mut f: Frames, ch: u16, payload: &[u8]) -> Frames {
    warren_amqp::encode_body_frames(&mut f.0, ch, payload, 131_072);
    f
}

/// A channel the broker is closing still checks the order of content frames, as RabbitMQ's
/// reader does for every channel: a body or a header with no publish before it is 505.
#[tokio::test]
async fn content_frames_without_a_publish_on_a_closing_channel_are_unexpected() {
    let server = start().await;
    for with_header in [false, true] {
        let mut c = connect(amqp_addr(&server)).await;
        open(&mut c, 1).await;
        send(&mut c, Frames::default().publish_to_missing(1)).await;
        expect_404_close(&mut c, 1).await;
        let f = if with_header {
            header(Frames::default(), 1, 4)
        } else {
            body(Frames::default(), 1, b"body")
        };
        send(&mut c, f.method(1, Method::ChannelCloseOk)).await;
        expect_connection_close(&mut c, rc::UNEXPECTED_FRAME, NO_METHOD, (0, 0)).await;
    }
}

/// A method where a publish's content header is due, on a closing channel (505).
#[tokio::test]
async fn method_before_the_content_of_a_publish_on_a_closing_channel_is_unexpected() {
    let server = start().await;
    let mut c = connect(amqp_addr(&server)).await;
    open(&mut c, 1).await;
    send(&mut c, Frames::default().publish_to_missing(1)).await;
    expect_404_close(&mut c, 1).await;
    let f = publish_method(Frames::default(), 1).method(1, Method::ChannelCloseOk);
    send(&mut c, f).await;
    expect_connection_close(&mut c, rc::UNEXPECTED_FRAME, NO_HEADER, (60, 40)).await;
}

/// Whole publishes on a closing channel (an empty body, a body in two frames) are dropped
/// without a word, and the close-ok after them ends the channel.
#[tokio::test]
async fn whole_publishes_on_a_closing_channel_are_dropped() {
    let server = start().await;
    let mut c = connect(amqp_addr(&server)).await;
    open(&mut c, 1).await;
    send(&mut c, Frames::default().publish_to_missing(1)).await;
    expect_404_close(&mut c, 1).await;
    let f = header(publish_method(Frames::default(), 1), 1, 0);
    let f = body(header(publish_method(f, 1), 1, 6), 1, b"two");
    let f = body(f, 1, b"ths")
        .method(1, Method::ChannelCloseOk)
        .method(1, Method::ChannelOpen);
    send(&mut c, f).await;
    expect(&mut c, 1, "channel.open_ok").await;
    still_works(&mut c, 2).await;
}

/// A channel.close where a publish's content header is due is a frame out of order (505), not
/// a close.
#[tokio::test]
async fn close_before_the_content_of_a_publish_is_unexpected() {
    let server = start().await;
    let mut c = connect(amqp_addr(&server)).await;
    open(&mut c, 1).await;
    send(
        &mut c,
        publish_method(Frames::default(), 1).method(1, close("bye")),
    )
    .await;
    expect_connection_close(&mut c, rc::UNEXPECTED_FRAME, NO_HEADER, (60, 40)).await;
}

/// A content header with no publish before it on an open channel: 505, reported with no method.
#[tokio::test]
async fn header_without_a_publish_on_an_open_channel_names_no_method() {
    let server = start().await;
    let mut c = connect(amqp_addr(&server)).await;
    open(&mut c, 1).await;
    send(&mut c, header(Frames::default(), 1, 4)).await;
    expect_connection_close(&mut c, rc::UNEXPECTED_FRAME, NO_METHOD, (0, 0)).await;
}
