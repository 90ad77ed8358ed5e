//! Where a requeued message goes: back to its original position in the queue (RabbitMQ: "placed
//! to its original position in its queue, if possible"), whatever order the rejects come in,
//! and within its own priority level. Runs against RabbitMQ too (`COMPARE_AMQP_URL`, see
//! `common::amqp_url`).

mod common;

use common::{amqp_url, start, within};
use lapin::options::*;
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};

async fn open(server: &warren_server::RunningServer) -> (Connection, Channel) {
    let conn = within(Connection::connect(
        &amqp_url(server),
        ConnectionProperties::default(),
    ))
    .await
    .unwrap();
    let ch = within(conn.create_channel()).await.unwrap();
    within(ch.confirm_select(ConfirmSelectOptions::default()))
        .await
        .unwrap();
    (conn, ch)
}

async fn declare(ch: &Channel, queue: &str, max_priority: Option<i32>) {
    let mut args = FieldTable::default();
    if let Some(p) = max_priority {
        args.insert("x-max-priority".into(), AMQPValue::LongInt(p));
    }
    within(ch.queue_delete(queue, QueueDeleteOptions::default()))
        .await
        .unwrap();
    within(ch.queue_declare(queue, QueueDeclareOptions::default(), args))
        .await
        .unwrap();
}

async fn publish(ch: &Channel, queue: &str, body: &str, priority: Option<u8>) {
    let mut props = BasicProperties::default();
    if let Some(p) = priority {
        props = props.with_priority(p);
    }
    let c = within(ch.basic_publish(
        "",
        queue,
        BasicPublishOptions::default(),
        body.as_bytes(),
        props,
    ))
    .await
    .unwrap();
    assert!(within(c).await.unwrap().is_ack());
}

/// basic.get with manual ack: (body, delivery tag, redelivered).
async fn get(ch: &Channel, queue: &str) -> Option<(String, u64, bool)> {
    within(ch.basic_get(queue, BasicGetOptions { no_ack: false }))
        .await
        .unwrap()
        .map(|m| {
            (
                String::from_utf8(m.delivery.data.clone()).unwrap(),
                m.delivery.delivery_tag,
                m.delivery.redelivered,
            )
        })
}

async fn reject(ch: &Channel, tag: u64) {
    within(ch.basic_reject(tag, BasicRejectOptions { requeue: true }))
        .await
        .unwrap();
}

/// Gets everything left with no ack: the bodies in delivery order, and their redelivered flags.
async fn drain(ch: &Channel, queue: &str) -> (Vec<String>, Vec<bool>) {
    let mut bodies = Vec::new();
    let mut flags = Vec::new();
    while let Some(m) = within(ch.basic_get(queue, BasicGetOptions { no_ack: true }))
        .await
        .unwrap()
    {
        bodies.push(String::from_utf8(m.delivery.data.clone()).unwrap());
        flags.push(m.delivery.redelivered);
    }
    (bodies, flags)
}

#[tokio::test]
async fn rejects_in_any_order_put_messages_back_where_they_were() {
    let server = start().await;
    let (_conn, ch) = open(&server).await;
    let q = "requeue-order";
    declare(&ch, q, None).await;
    for m in ["m0", "m1", "m2"] {
        publish(&ch, q, m, None).await;
    }
    let mut tags = Vec::new();
    for _ in 0..3 {
        tags.push(get(&ch, q).await.unwrap().1);
    }
    // a message published while the others are out comes after them
    publish(&ch, q, "m3", None).await;
    for i in [2, 0, 1] {
        reject(&ch, tags[i]).await;
    }
    let (bodies, redelivered) = drain(&ch, q).await;
    assert_eq!(bodies, ["m0", "m1", "m2", "m3"]);
    assert_eq!(redelivered, [true, true, true, false]);
    within(ch.queue_delete(q, QueueDeleteOptions::default()))
        .await
        .unwrap();
}

/// kombu's `test_PyAMQPPriority::test_publish_requeue_consume`, the way Celery uses it.
#[tokio::test]
async fn requeued_messages_keep_their_place_within_their_priority() {
    let server = start().await;
    let (_conn, ch) = open(&server).await;
    let q = "requeue-priority";
    declare(&ch, q, Some(10)).await;
    publish(&ch, q, "first", Some(3)).await;
    publish(&ch, q, "second", Some(6)).await;
    publish(&ch, q, "third", Some(3)).await;
    let mut got = Vec::new();
    while let Some((body, tag, _)) = get(&ch, q).await {
        got.push((body, tag));
    }
    let order: Vec<&str> = got.iter().map(|(b, _)| b.as_str()).collect();
    assert_eq!(order, ["second", "first", "third"]);
    // requeued one by one in the order received
    for (_, tag) in &got {
        reject(&ch, *tag).await;
    }
    publish(&ch, q, "fourth", Some(9)).await;
    let (bodies, _) = drain(&ch, q).await;
    assert_eq!(bodies, ["fourth", "second", "first", "third"]);
    within(ch.queue_delete(q, QueueDeleteOptions::default()))
        .await
        .unwrap();
}

/// The number of messages ready in `queue` (a passive declare).
async fn ready(ch: &Channel, queue: &str) -> u32 {
    within(ch.queue_declare(
        queue,
        QueueDeclareOptions {
            passive: true,
            ..Default::default()
        },
        FieldTable::default(),
    ))
    .await
    .unwrap()
    .message_count()
}

#[tokio::test]
async fn a_requeued_message_keeps_its_expiry() {
    // RabbitMQ keeps a requeued message's original expiry: once its TTL has passed it is
    // dead-lettered from the head like the others (it does not block the queue's expiry).
    let server = start().await;
    let (_conn, ch) = open(&server).await;
    declare(&ch, "rq-ttl-dead", None).await;
    let mut args = FieldTable::default();
    args.insert("x-message-ttl".into(), AMQPValue::LongInt(300));
    args.insert(
        "x-dead-letter-exchange".into(),
        AMQPValue::LongString("".into()),
    );
    args.insert(
        "x-dead-letter-routing-key".into(),
        AMQPValue::LongString("rq-ttl-dead".into()),
    );
    within(ch.queue_delete("rq-ttl", QueueDeleteOptions::default()))
        .await
        .unwrap();
    within(ch.queue_declare("rq-ttl", QueueDeclareOptions::default(), args))
        .await
        .unwrap();
    publish(&ch, "rq-ttl", "a", None).await;
    publish(&ch, "rq-ttl", "b", None).await;
    let (body, tag, _) = get(&ch, "rq-ttl").await.expect("a message");
    assert_eq!(body, "a");
    reject(&ch, tag).await;
    // Both expire (a included) and are dead-lettered in order; nothing stays behind.
    within(async {
        while ready(&ch, "rq-ttl-dead").await < 2 {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    })
    .await;
    assert_eq!(ready(&ch, "rq-ttl").await, 0);
    let (bodies, _) = drain(&ch, "rq-ttl-dead").await;
    assert_eq!(bodies, ["a", "b"]);
}
