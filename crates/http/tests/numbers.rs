//! The numbers tools read from the management API, in RabbitMQ 3.10.8's shapes and meaning,
//! over real HTTP with real AMQP traffic. Every test runs against Warren, or against a
//! RabbitMQ with `COMPARE_HTTP_URL` (and `COMPARE_AMQP_URL`) set (see compat.rs); RabbitMQ
//! emits its stats every 5 s, so the tests poll until the traffic shows.

mod common;

use std::time::Duration;

use common::{target, within, Target, WAIT};
use lapin::options::*;
use lapin::types::FieldTable;
use lapin::BasicProperties;
use reqwest::{Method, StatusCode};
use serde_json::Value;

/// Polls `path` until `pred` holds on its JSON (RabbitMQ's stats lag up to 5 s; a stats
/// interval of Warren's is 200 ms in tests). Bounded: a broken broker fails the test.
async fn until(t: &Target, path: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + WAIT + Duration::from_secs(10);
    loop {
        let (s, v) = t.call(Method::GET, path, None).await;
        if s == StatusCode::OK && pred(&v) {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting on {path}; last: {v:#}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn connect(t: &Target) -> lapin::Connection {
    within(lapin::Connection::connect(
        &t.amqp_url,
        lapin::ConnectionProperties::default(),
    ))
    .await
    .expect("lapin connects as guest")
}

async fn declare(ch: &lapin::Channel, name: &str, durable: bool) {
    // A queue left by an earlier run against a shared RabbitMQ goes first.
    let _ = within(ch.queue_delete(name, QueueDeleteOptions::default())).await;
    within(ch.queue_declare(
        name,
        QueueDeclareOptions {
            durable,
            ..Default::default()
        },
        FieldTable::default(),
    ))
    .await
    .unwrap();
}

/// Publishes `body` to `queue` through the default exchange and waits for its confirm (the
/// channel is in confirm mode).
async fn publish(ch: &lapin::Channel, exchange: &str, key: &str, body: &[u8], persistent: bool) {
    let props = BasicProperties::default().with_delivery_mode(if persistent { 2 } else { 1 });
    let confirm =
        within(ch.basic_publish(exchange, key, BasicPublishOptions::default(), body, props))
            .await
            .unwrap();
    assert!(within(confirm).await.unwrap().is_ack());
}

fn n(v: &Value, field: &str) -> u64 {
    v[field]
        .as_u64()
        .unwrap_or_else(|| panic!("{field} is not a number in {v:#}"))
}

/// RabbitMQ counts a queue's persistent messages (delivery-mode 2 on a durable queue) ready
/// and unacknowledged, and their body bytes; message_bytes and the `_ram` numbers cover the
/// unacknowledged ones too. On a transient queue no message is persistent. (Checked against
/// RabbitMQ 3.10.8: 3 persistent bodies of 100 bytes and 2 transient of 10, 2 of the
/// persistent delivered unacked -> messages_persistent 3, message_bytes_persistent 300,
/// message_bytes 320, ready 120, unacknowledged 200, messages_ram 5, message_bytes_ram 320.)
#[tokio::test]
async fn queue_counts_persistent_messages_and_their_bytes() {
    let t = target().await;
    let conn = connect(&t).await;
    let ch = within(conn.create_channel()).await.unwrap();
    within(ch.confirm_select(ConfirmSelectOptions::default()))
        .await
        .unwrap();
    declare(&ch, "numbers-durable", true).await;
    declare(&ch, "numbers-transient", false).await;
    for _ in 0..3 {
        publish(&ch, "", "numbers-durable", &[b'p'; 100], true).await;
        publish(&ch, "", "numbers-transient", &[b'p'; 100], true).await;
    }
    for _ in 0..2 {
        publish(&ch, "", "numbers-durable", &[b't'; 10], false).await;
    }
    let consumer_ch = within(conn.create_channel()).await.unwrap();
    within(consumer_ch.basic_qos(2, BasicQosOptions::default()))
        .await
        .unwrap();
    let _consumer = within(consumer_ch.basic_consume(
        "numbers-durable",
        "numbers-c",
        BasicConsumeOptions::default(),
        FieldTable::default(),
    ))
    .await
    .unwrap();
    let q = until(&t, "/api/queues/%2F/numbers-durable", |q| {
        q["messages_unacknowledged"] == 2 && q["messages"] == 5 && q["message_bytes"] == 320
    })
    .await;
    assert_eq!(n(&q, "messages_persistent"), 3, "{q:#}");
    assert_eq!(n(&q, "message_bytes_persistent"), 300);
    assert_eq!(n(&q, "message_bytes"), 320);
    assert_eq!(n(&q, "message_bytes_ready"), 120);
    assert_eq!(n(&q, "message_bytes_unacknowledged"), 200);
    assert_eq!(n(&q, "messages_ram"), 5);
    assert_eq!(n(&q, "message_bytes_ram"), 320);
    assert_eq!(n(&q, "messages_ready_ram"), 3);
    assert_eq!(n(&q, "messages_unacknowledged_ram"), 2);
    assert_eq!(n(&q, "messages_paged_out"), 0);
    assert_eq!(n(&q, "message_bytes_paged_out"), 0);
    // The queue holds at least the bodies it has in memory.
    assert!(n(&q, "memory") >= 320, "{q:#}");

    let tq = until(&t, "/api/queues/%2F/numbers-transient", |q| {
        q["messages"] == 3 && q["message_bytes"] == 300
    })
    .await;
    assert_eq!(n(&tq, "messages_persistent"), 0, "{tq:#}");
    assert_eq!(n(&tq, "message_bytes_persistent"), 0);
    assert_eq!(n(&tq, "message_bytes"), 300);
    assert!(n(&tq, "memory") >= 300, "{tq:#}");

    // Acking the two deliveries (both persistent) leaves one persistent message.
    within(consumer_ch.basic_cancel("numbers-c", BasicCancelOptions::default()))
        .await
        .unwrap();
    within(consumer_ch.basic_ack(2, BasicAckOptions { multiple: true }))
        .await
        .unwrap();
    let q = until(&t, "/api/queues/%2F/numbers-durable", |q| {
        q["messages_unacknowledged"] == 0 && q["messages"] == 3 && q["message_bytes"] == 120
    })
    .await;
    assert_eq!(n(&q, "messages_persistent"), 1, "{q:#}");
    assert_eq!(n(&q, "message_bytes_persistent"), 100);
    assert_eq!(n(&q, "message_bytes"), 120);
    assert_eq!(n(&q, "message_bytes_unacknowledged"), 0);
    // A nack with requeue puts a persistent message back among the ready ones, still counted.
    let got = within(ch.basic_get("numbers-durable", BasicGetOptions::default()))
        .await
        .unwrap()
        .expect("a message");
    let q = until(&t, "/api/queues/%2F/numbers-durable", |q| {
        q["messages_unacknowledged"] == 1 && q["message_bytes_unacknowledged"] == 100
    })
    .await;
    assert_eq!(n(&q, "messages_persistent"), 1, "{q:#}");
    assert_eq!(n(&q, "message_bytes_unacknowledged"), 100);
    within(got.delivery.nack(BasicNackOptions {
        requeue: true,
        ..Default::default()
    }))
    .await
    .unwrap();
    let q = until(&t, "/api/queues/%2F/numbers-durable", |q| {
        q["messages_unacknowledged"] == 0
            && q["messages_ready"] == 3
            && q["message_bytes_unacknowledged"] == 0
    })
    .await;
    assert_eq!(n(&q, "messages_persistent"), 1, "{q:#}");
    assert_eq!(n(&q, "message_bytes_ready"), 120);
    for name in ["numbers-durable", "numbers-transient"] {
        within(ch.queue_delete(name, QueueDeleteOptions::default()))
            .await
            .unwrap();
    }
}
