//! The memory alarm of the real binary, with a watermark small enough to be crossed at once:
//! the alarm is logged, and a publishing client is no longer read (its next method gets no
//! answer), while a connection that has not published is still served.

mod common;

use std::time::Duration;

use common::BrokerProcess;
use lapin::options::*;
use lapin::types::FieldTable;
use lapin::{BasicProperties, Connection, ConnectionProperties};

#[tokio::test]
async fn a_small_memory_watermark_blocks_publishers() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("warren.toml");
    std::fs::write(&config, "[resources]\nmemory_high_watermark = \"1MiB\"\n").unwrap();
    let b = BrokerProcess::start_with(dir.path(), &["--config", config.to_str().unwrap()]);
    let wait = Duration::from_secs(10);
    let publisher = tokio::time::timeout(
        wait,
        Connection::connect(&b.url(), ConnectionProperties::default()),
    )
    .await
    .unwrap()
    .unwrap();
    let ch = publisher.create_channel().await.unwrap();
    ch.queue_declare(
        "alarm-q",
        QueueDeclareOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    // the monitor samples every 250 ms: the alarm is up once it is logged
    let mut logged = false;
    for _ in 0..40 {
        if b.drain_log()
            .iter()
            .any(|l| l.contains("resource alarm: memory alarm"))
        {
            logged = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(logged, "the memory alarm was not raised");
    ch.basic_publish(
        "",
        "alarm-q",
        BasicPublishOptions::default(),
        b"x",
        BasicProperties::default(),
    )
    .await
    .unwrap();
    // blocked: nothing this connection sends is read any more
    let answer = tokio::time::timeout(
        Duration::from_millis(700),
        ch.queue_declare(
            "alarm-q",
            QueueDeclareOptions {
                passive: true,
                ..Default::default()
            },
            FieldTable::default(),
        ),
    )
    .await;
    assert!(
        answer.is_err(),
        "a blocked publisher was answered: {answer:?}"
    );
    // a connection that only consumes is still served, and sees the message
    let consumer = tokio::time::timeout(
        wait,
        Connection::connect(&b.url(), ConnectionProperties::default()),
    )
    .await
    .unwrap()
    .unwrap();
    let cch = consumer.create_channel().await.unwrap();
    let got = tokio::time::timeout(
        wait,
        cch.basic_get("alarm-q", BasicGetOptions { no_ack: true }),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(got.map(|m| m.delivery.data.clone()), Some(b"x".to_vec()));
}
