//! A hostile client's cheapest attacks on memory, over real TCP with raw frames:
//! - a content header announcing a large body, then one byte of it, on many channels: the
//!   broker must hold what arrived, not what was announced (it reserved the announced size,
//!   so 2,047 channels x 16 MiB = 32 GiB raised the memory alarm for every publisher);
//! - a publish the user may not make (read-only permissions): its body is not kept while it
//!   arrives, and the answer is RabbitMQ's 403 once it has.
//!
//! Memory is measured by a counting allocator around the system's (`cap`), in this process, where
//! the broker runs: one test function, so no other test allocates meanwhile.

mod common;

use std::alloc::System;

use bytes::BytesMut;
use common::raw::RawClient;
use common::start_with;
use tokio::io::AsyncWriteExt;
use warren_amqp::{Frame, Method};
use warren_core::Limits;

/// Counts what is allocated (the `cap` crate's wrapper of the system allocator).
#[global_allocator]
static A: cap::Cap<System> = cap::Cap::new(System, usize::MAX);

fn live() -> isize {
    A.allocated() as isize
}

const MIB: isize = 1024 * 1024;

async fn open(c: &mut RawClient, ch: u16) {
    c.send(ch, &Method::ChannelOpen).await;
    match c.frame().await {
        Some(Frame::Method {
            method: Method::ChannelOpenOk,
            ..
        }) => {}
        other => panic!("expected channel.open-ok on {ch}, got {other:?}"),
    }
}

/// basic.publish to the default exchange and a header announcing `size` bytes.
fn publish_header(out: &mut BytesMut, ch: u16, queue: &str, size: u64) {
    warren_amqp::encode_method_frame(
        out,
        ch,
        &Method::BasicPublish(warren_amqp::BasicPublish {
            route: warren_amqp::Route::new("", queue).unwrap(),
            mandatory: false,
            immediate: false,
        }),
    );
    warren_amqp::encode_header_frame(out, ch, 60, size, &warren_amqp::RawProperties::default());
}

/// A round trip on channel `ch`: every frame sent before it has been handled.
async fn sync(c: &mut RawClient, ch: u16) {
    c.send(
        ch,
        &Method::BasicQos(warren_amqp::BasicQos {
            prefetch_size: 0,
            prefetch_count: 1,
            global: false,
        }),
    )
    .await;
    match c.frame().await {
        Some(Frame::Method {
            method: Method::BasicQosOk,
            ..
        }) => {}
        other => panic!("expected basic.qos-ok, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn announced_sizes_and_refused_publishes_cost_nothing() {
    let limits = Limits {
        max_message_size: 16 * 1024 * 1024,
        ..Limits::default()
    };
    let server = start_with(limits).await;

    // 1. 64 channels, each announcing 16 MiB and sending one byte of it.
    const CHANNELS: u16 = 64;
    let mut c = RawClient::connect(server.addr).await;
    c.handshake(0).await;
    for ch in 1..=CHANNELS + 1 {
        open(&mut c, ch).await;
    }
    sync(&mut c, CHANNELS + 1).await;
    let before = live();
    let mut out = BytesMut::new();
    for ch in 1..=CHANNELS {
        publish_header(&mut out, ch, "nowhere", 16 * 1024 * 1024);
        warren_amqp::encode_body_frames(&mut out, ch, b"x", 131_072);
    }
    c.sock.write_all(&out).await.unwrap();
    sync(&mut c, CHANNELS + 1).await;
    let grown = live() - before;
    assert!(
        grown < 8 * MIB,
        "64 one-byte bodies of announced 16 MiB hold {} MiB",
        grown / MIB
    );
    drop(c);

    // 2. A user who may only read publishes 8 MiB: while it arrives nothing is kept; at its
    // end the channel is closed with RabbitMQ's 403.
    let auth = server.broker.auth();
    auth.add_user("reader", "pw", &[]).unwrap();
    auth.set_permissions("reader", "/", "", "", ".*").unwrap();
    let mut r = RawClient::connect(server.addr).await;
    r.handshake_as("reader", "pw", 0).await;
    open(&mut r, 1).await;
    open(&mut r, 2).await;
    sync(&mut r, 2).await;
    let body = vec![7u8; 8 * 1024 * 1024];
    let mut out = BytesMut::with_capacity(body.len());
    let before = live();
    publish_header(&mut out, 1, "nowhere", body.len() as u64);
    warren_amqp::encode_body_frames(&mut out, 1, &body[..body.len() / 2], 131_072);
    r.sock.write_all(&out).await.unwrap();
    drop(out);
    sync(&mut r, 2).await;
    let grown = live() - before;
    assert!(
        grown < 2 * MIB,
        "a refused publish holds {} KiB of its body",
        grown / 1024
    );
    let mut out = BytesMut::new();
    warren_amqp::encode_body_frames(&mut out, 1, &body[body.len() / 2..], 131_072);
    r.sock.write_all(&out).await.unwrap();
    match r.frame().await {
        Some(Frame::Method {
            channel: 1,
            method: Method::ChannelClose(c),
        }) => {
            assert_eq!(c.reply_code, 403);
            assert_eq!(
                c.reply_text.as_str(),
                "ACCESS_REFUSED - write access to exchange 'amq.default' in vhost '/' refused for user 'reader'"
            );
        }
        other => panic!("expected channel.close 403, got {other:?}"),
    }
}
