//! A consumer that does not read its socket must not make the broker buffer its queue: once
//! its connection holds about a megabyte of deliveries (outbox and write buffer) and the socket
//! is full, the rest stays in the queue, whatever the size of the messages.

mod common;

use bytes::BytesMut;
use common::raw::RawClient;
use common::{amqp_url, start, within};
use lapin::options::*;
use lapin::types::FieldTable;
use lapin::{BasicProperties, Connection, ConnectionProperties};
use warren_amqp::{BasicConsume, Method, ShortStr};

const MESSAGES: u32 = 200;
const SIZE: usize = 256 * 1024;

#[tokio::test]
async fn a_consumer_that_does_not_read_leaves_its_messages_in_the_queue() {
    let server = start().await;
    let conn = within(Connection::connect(
        &amqp_url(&server),
        ConnectionProperties::default(),
    ))
    .await
    .unwrap();
    let ch = within(conn.create_channel()).await.unwrap();
    within(ch.queue_declare(
        "slow",
        QueueDeclareOptions::default(),
        FieldTable::default(),
    ))
    .await
    .unwrap();

    // A no-ack consumer with a small receive buffer, which then stops reading.
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.set_recv_buffer_size(64 * 1024).unwrap();
    let sock = within(sock.connect(server.addr)).await.unwrap();
    let mut slow = RawClient {
        sock,
        buf: BytesMut::new(),
    };
    tokio::io::AsyncWriteExt::write_all(&mut slow.sock, &warren_amqp::PROTOCOL_HEADER)
        .await
        .unwrap();
    slow.handshake(0).await;
    slow.send(1, &Method::ChannelOpen).await;
    slow.frame().await.expect("channel.open-ok");
    slow.send(
        1,
        &Method::BasicConsume(BasicConsume {
            queue: ShortStr::from_static("slow"),
            consumer_tag: ShortStr::from_static("slow"),
            no_local: false,
            no_ack: true,
            exclusive: false,
            no_wait: false,
            arguments: warren_amqp::FieldTable::new(),
        }),
    )
    .await;
    slow.frame().await.expect("basic.consume-ok");

    let body = vec![7u8; SIZE];
    for _ in 0..MESSAGES {
        within(ch.basic_publish(
            "",
            "slow",
            BasicPublishOptions::default(),
            &body,
            BasicProperties::default(),
        ))
        .await
        .unwrap();
    }
    // Wait until the broker has taken what it will (the count stops moving), then look.
    let ready = || async {
        within(ch.queue_declare(
            "slow",
            QueueDeclareOptions {
                passive: true,
                ..Default::default()
            },
            FieldTable::default(),
        ))
        .await
        .unwrap()
        .message_count()
    };
    let mut last = ready().await;
    loop {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let now = ready().await;
        if now == last {
            break;
        }
        last = now;
    }
    // About 1 MiB in the outbox, 1 MiB encoded, and what the sockets hold (a few MiB): far
    // from the 50 MiB published. Before the byte limit every message left the queue.
    assert!(
        last >= MESSAGES / 2,
        "only {last} of {MESSAGES} messages of {SIZE} bytes stayed in the queue"
    );
    // Nothing was lost: once the consumer reads, it gets every message.
    let mut got = 0u64;
    while got < u64::from(MESSAGES) * SIZE as u64 {
        let frame = slow.frame().await.expect("the broker keeps delivering");
        if let warren_amqp::Frame::Body { payload, .. } = frame {
            got += payload.len() as u64;
        }
    }
    drop(slow);
    drop(ch);
    let _ = conn.close(200, "bye").await;
}
