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
    std::fs::write(&config, "[resources]\nmemory_high_watermark = \"64KiB\"\n").unwrap();
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
            .any(|l| l.contains("resource alarm: low on memory"))
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

/// Queue depth as seen by a connection that never publishes (so it is never blocked).
async fn depth(ch: &lapin::Channel, queue: &str) -> u32 {
    ch.queue_declare(
        queue,
        QueueDeclareOptions {
            passive: true,
            ..Default::default()
        },
        FieldTable::default(),
    )
    .await
    .unwrap()
    .message_count()
}

#[tokio::test]
async fn a_blocked_publisher_resumes_when_a_consumer_drains_the_queue() {
    const MESSAGES: u32 = 120;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("warren.toml");
    // 120 messages of 1 MiB cannot all fit under a 40 MiB watermark (with paging off: a
    // paging ratio above 1 never pages, as in RabbitMQ, so the bodies stay in memory).
    std::fs::write(
        &config,
        "[resources]\nmemory_high_watermark = \"40MiB\"\nmemory_high_watermark_paging_ratio = 1.5\n",
    )
    .unwrap();
    let b = BrokerProcess::start_with(dir.path(), &["--config", config.to_str().unwrap()]);
    let wait = Duration::from_secs(60);
    let connect = || {
        let url = b.url();
        async move {
            tokio::time::timeout(
                wait,
                Connection::connect(&url, ConnectionProperties::default()),
            )
            .await
            .unwrap()
            .unwrap()
        }
    };
    let publisher = connect().await;
    let pch = publisher.create_channel().await.unwrap();
    pch.queue_declare(
        "flood",
        QueueDeclareOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    pch.confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    let flood = tokio::spawn(async move {
        let body = vec![7u8; 1 << 20];
        let mut confirms = Vec::new();
        for _ in 0..MESSAGES {
            // Paced so the monitor (sampling every 250 ms) sees the watermark crossed well
            // before everything is in.
            tokio::time::sleep(Duration::from_millis(20)).await;
            confirms.push(
                pch.basic_publish(
                    "",
                    "flood",
                    BasicPublishOptions::default(),
                    &body,
                    BasicProperties::default(),
                )
                .await
                .unwrap(),
            );
        }
        let mut acked = 0;
        for c in confirms {
            if c.await.unwrap().is_ack() {
                acked += 1;
            }
        }
        (acked, publisher)
    });
    // The alarm goes up once the queue holds more than the watermark...
    let mut raised = false;
    for _ in 0..300 {
        if b.drain_log()
            .iter()
            .any(|l| l.contains("resource alarm: low on memory"))
        {
            raised = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(raised, "the memory alarm was not raised");
    // ...and the publisher is held back: the depth stops growing short of everything.
    let watcher = connect().await;
    let wch = watcher.create_channel().await.unwrap();
    let mut last = depth(&wch, "flood").await;
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = depth(&wch, "flood").await;
        if now == last {
            break;
        }
        last = now;
    }
    assert!(
        last < MESSAGES,
        "all {MESSAGES} messages got in despite the alarm"
    );
    assert!(!flood.is_finished(), "the publisher was not held back");
    // A consumer drains the queue: memory falls, the alarm clears, the publisher resumes and
    // every message arrives.
    let cch = watcher.create_channel().await.unwrap();
    let mut consumer = cch
        .basic_consume(
            "flood",
            "drain",
            BasicConsumeOptions {
                no_ack: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();
    let mut received = 0;
    while received < MESSAGES {
        let d = tokio::time::timeout(wait, futures_lite::StreamExt::next(&mut consumer))
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "the publisher never resumed ({received} received); log: {:#?}",
                    b.drain_log()
                )
            })
            .unwrap()
            .unwrap();
        assert_eq!(d.data.len(), 1 << 20);
        received += 1;
    }
    let (acked, _publisher) = tokio::time::timeout(wait, flood).await.unwrap().unwrap();
    assert_eq!(acked, MESSAGES);
    assert!(b
        .drain_log()
        .iter()
        .any(|l| l.contains("resource alarm cleared")));
}
