//! The consumer timeout of the config file (`[limits] consumer_timeout`, ms) on the real
//! binary: a delivery left unacked longer closes its channel with RabbitMQ's 406, and the
//! message goes back to its queue; a queue's `x-consumer-timeout` wins over it.

mod common;

use std::time::Duration;

use common::BrokerProcess;
use futures_lite::StreamExt;
use lapin::options::*;
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};

const WAIT: Duration = Duration::from_secs(10);

async fn within<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(WAIT, f)
        .await
        .expect("timed out waiting for the broker")
}

/// Consumes one message from `queue` on a new channel and never acks it: the error the
/// channel is closed with.
async fn hold_one(conn: &Connection, queue: &str) -> (Channel, lapin::Error) {
    let ch = within(conn.create_channel()).await.unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let tx = std::sync::Mutex::new(Some(tx));
    ch.on_error(move |e| {
        if let Some(tx) = tx.lock().ok().and_then(|mut t| t.take()) {
            let _ = tx.send(e);
        }
    });
    let mut c = within(ch.basic_consume(
        queue,
        "holder",
        BasicConsumeOptions::default(),
        FieldTable::default(),
    ))
    .await
    .unwrap();
    let d = within(c.next()).await.unwrap().unwrap();
    assert!(!d.redelivered);
    let e = within(rx).await.unwrap();
    (ch, e)
}

#[tokio::test]
async fn the_configured_consumer_timeout_closes_a_channel_holding_a_delivery() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("warren.toml");
    std::fs::write(&config, "[limits]\nconsumer_timeout = 500\n").unwrap();
    let b = BrokerProcess::start_with(dir.path(), &["--config", config.to_str().unwrap()]);
    let conn = within(Connection::connect(
        &b.url(),
        ConnectionProperties::default(),
    ))
    .await
    .unwrap();
    let ch = within(conn.create_channel()).await.unwrap();
    let mut long = FieldTable::default();
    long.insert("x-consumer-timeout".into(), AMQPValue::LongInt(600_000));
    for (q, args) in [("held", FieldTable::default()), ("patient", long)] {
        within(ch.queue_declare(q, QueueDeclareOptions::default(), args))
            .await
            .unwrap();
        within(ch.basic_publish(
            "",
            q,
            BasicPublishOptions::default(),
            b"unacked",
            BasicProperties::default(),
        ))
        .await
        .unwrap();
    }
    // A queue whose own x-consumer-timeout is long: its delivery may wait (the patient
    // consumer's channel must still be open after the short one was closed).
    let patient = within(conn.create_channel()).await.unwrap();
    let mut pc = within(patient.basic_consume(
        "patient",
        "patient",
        BasicConsumeOptions::default(),
        FieldTable::default(),
    ))
    .await
    .unwrap();
    within(pc.next()).await.unwrap().unwrap();
    let (_held, e) = hold_one(&conn, "held").await;
    match e {
        lapin::Error::ProtocolError(e) => {
            assert_eq!(e.get_id(), 406);
            assert_eq!(
                e.get_message().as_str(),
                "PRECONDITION_FAILED - delivery acknowledgement on channel 3 timed out. \
                 Timeout value used: 500 ms. This timeout value can be configured, see \
                 consumers doc guide to learn more"
            );
        }
        other => panic!("{other:?}"),
    }
    // the message is back in its queue, redelivered
    let m = within(ch.basic_get("held", BasicGetOptions { no_ack: true }))
        .await
        .unwrap()
        .expect("the unacked message went back");
    assert!(m.delivery.redelivered);
    assert!(
        patient.status().connected(),
        "the patient consumer kept its channel"
    );
}
