//! Resource alarms: a publishing connection gets connection.blocked and is no longer read
//! (TCP pushes back on the publisher); consumers keep receiving; connection.unblocked when the
//! alarm clears, and the held-back publishes then go through.

mod common;

use std::time::Duration;

use common::raw::RawClient;
use common::{amqp_url, start, within};
use futures_lite::StreamExt;
use lapin::options::*;
use lapin::types::FieldTable;
use lapin::{Connection, ConnectionProperties};
use warren_amqp::{Frame, Method};

#[tokio::test]
async fn publishers_are_blocked_under_an_alarm_and_resume_after_it() {
    let server = start().await;
    // the consumer's side first
    let conn = within(Connection::connect(
        &amqp_url(&server),
        ConnectionProperties::default(),
    ))
    .await
    .unwrap();
    let ch = within(conn.create_channel()).await.unwrap();
    within(ch.queue_declare(
        "work",
        QueueDeclareOptions::default(),
        FieldTable::default(),
    ))
    .await
    .unwrap();
    let mut consumer = within(ch.basic_consume(
        "work",
        "c",
        BasicConsumeOptions {
            no_ack: true,
            ..Default::default()
        },
        FieldTable::default(),
    ))
    .await
    .unwrap();

    server.broker.set_alarm(Some("low on memory".into()));
    let mut publisher = RawClient::connect(server.addr).await;
    publisher.handshake(0).await;
    publisher.send(1, &Method::ChannelOpen).await;
    assert!(matches!(
        publisher.frame().await,
        Some(Frame::Method {
            method: Method::ChannelOpenOk,
            ..
        })
    ));
    publisher.publish(1, "work", b"first").await;
    match publisher.frame().await {
        Some(Frame::Method {
            channel: 0,
            method: Method::ConnectionBlocked(b),
        }) => {
            assert_eq!(b.reason.as_str(), "low on memory")
        }
        other => panic!("expected connection.blocked, got {other:?}"),
    }
    // what was read before the block is delivered; consumers are not blocked
    let d = within(consumer.next()).await.unwrap().unwrap();
    assert_eq!(d.data, b"first");
    // a publish sent while blocked is not read
    publisher.publish(1, "work", b"held").await;
    let held = tokio::time::timeout(Duration::from_millis(300), consumer.next()).await;
    assert!(held.is_err(), "a blocked connection's publish went through");

    server.broker.set_alarm(None);
    match publisher.frame().await {
        Some(Frame::Method {
            channel: 0,
            method: Method::ConnectionUnblocked,
        }) => {}
        other => panic!("expected connection.unblocked, got {other:?}"),
    }
    let d = within(consumer.next()).await.unwrap().unwrap();
    assert_eq!(d.data, b"held");
}

/// Blocked connections are not read, so a publisher that hangs up is seen only by asking the
/// socket; it is released at once, not when the alarm clears (with heartbeat 0, never).
#[tokio::test]
async fn a_blocked_publisher_that_hangs_up_is_released() {
    let server = start().await;
    server.broker.set_alarm(Some("low on memory".into()));
    let mut p = RawClient::connect(server.addr).await;
    p.handshake(0).await;
    p.send(1, &Method::ChannelOpen).await;
    assert!(matches!(
        p.frame().await,
        Some(Frame::Method {
            method: Method::ChannelOpenOk,
            ..
        })
    ));
    p.publish(1, "nowhere", b"x").await;
    match p.frame().await {
        Some(Frame::Method {
            method: Method::ConnectionBlocked(_),
            ..
        }) => {}
        other => panic!("expected connection.blocked, got {other:?}"),
    }
    assert_eq!(server.broker.connections.list().len(), 1);
    // Blocked, and heartbeat 0: only its hanging up can end it. The alarm stays on.
    drop(p);
    within(async {
        while !server.broker.connections.list().is_empty() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(server.broker.alarm().borrow().is_some());
}
