//! RabbitMQ's queue arguments over a real client: message TTL (per queue and per message),
//! priorities, length limits with each overflow mode, and refusal of invalid arguments.

mod common;

use std::time::Duration;

use common::{amqp_url, next_channel_error, start, within};
use lapin::options::*;
use lapin::publisher_confirm::Confirmation;
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};

async fn channel(server: &warren_server::RunningServer) -> (Connection, Channel) {
    let conn = within(Connection::connect(
        &amqp_url(server),
        ConnectionProperties::default(),
    ))
    .await
    .unwrap();
    let ch = within(conn.create_channel()).await.unwrap();
    (conn, ch)
}

fn args(pairs: &[(&str, AMQPValue)]) -> FieldTable {
    let mut t = FieldTable::default();
    for (k, v) in pairs {
        t.insert((*k).into(), v.clone());
    }
    t
}

async fn declare(ch: &Channel, name: &str, a: FieldTable) -> Result<u32, u16> {
    match within(ch.queue_declare(name, QueueDeclareOptions::default(), a)).await {
        Ok(q) => Ok(q.message_count()),
        Err(lapin::Error::ProtocolError(e)) => Err(e.get_id()),
        Err(e) => panic!("{e:?}"),
    }
}

async fn publish(ch: &Channel, q: &str, body: &[u8], props: BasicProperties) -> Confirmation {
    within(
        within(ch.basic_publish("", q, BasicPublishOptions::default(), body, props))
            .await
            .unwrap(),
    )
    .await
    .unwrap()
}

async fn drain(ch: &Channel, q: &str) -> Vec<String> {
    let mut v = Vec::new();
    while let Some(m) = within(ch.basic_get(q, BasicGetOptions { no_ack: true }))
        .await
        .unwrap()
    {
        v.push(String::from_utf8(m.delivery.data.clone()).unwrap());
    }
    v
}

#[tokio::test]
async fn per_message_and_per_queue_ttl_expire_messages() {
    let server = start().await;
    let (_c, ch) = channel(&server).await;
    within(ch.confirm_select(ConfirmSelectOptions::default()))
        .await
        .unwrap();
    declare(&ch, "ttl-msg", FieldTable::default())
        .await
        .unwrap();
    publish(
        &ch,
        "ttl-msg",
        b"short",
        BasicProperties::default().with_expiration("100".into()),
    )
    .await;
    publish(
        &ch,
        "ttl-msg",
        b"long",
        BasicProperties::default().with_expiration("60000".into()),
    )
    .await;
    declare(
        &ch,
        "ttl-q",
        args(&[("x-message-ttl", AMQPValue::LongInt(100))]),
    )
    .await
    .unwrap();
    publish(&ch, "ttl-q", b"gone", BasicProperties::default()).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(drain(&ch, "ttl-msg").await, ["long"]);
    assert_eq!(
        declare(
            &ch,
            "ttl-q",
            args(&[("x-message-ttl", AMQPValue::LongInt(100))])
        )
        .await,
        Ok(0)
    );
    assert!(drain(&ch, "ttl-q").await.is_empty());
}

#[tokio::test]
async fn an_invalid_expiration_closes_the_channel_with_406() {
    let server = start().await;
    let (_c, ch) = channel(&server).await;
    declare(&ch, "bad-exp", FieldTable::default())
        .await
        .unwrap();
    let rx = next_channel_error(&ch);
    within(ch.basic_publish(
        "",
        "bad-exp",
        BasicPublishOptions::default(),
        b"x",
        BasicProperties::default().with_expiration("-5".into()),
    ))
    .await
    .unwrap();
    match within(rx).await.unwrap() {
        lapin::Error::ProtocolError(e) => assert_eq!(e.get_id(), 406),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn priority_queue_delivers_highest_first_and_requeue_keeps_priority() {
    let server = start().await;
    let (_c, ch) = channel(&server).await;
    within(ch.confirm_select(ConfirmSelectOptions::default()))
        .await
        .unwrap();
    declare(
        &ch,
        "prio",
        args(&[("x-max-priority", AMQPValue::ShortShortUInt(10))]),
    )
    .await
    .unwrap();
    for (body, p) in [
        ("p1", 1),
        ("p5", 5),
        ("none", 0),
        ("p9", 9),
        ("p20", 20),
        ("p5b", 5),
    ] {
        let props = if body == "none" {
            BasicProperties::default()
        } else {
            BasicProperties::default().with_priority(p)
        };
        publish(&ch, "prio", body.as_bytes(), props).await;
    }
    // 20 is capped at the queue's maximum (10), so it comes first
    let first = within(ch.basic_get("prio", BasicGetOptions { no_ack: false }))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.delivery.data, b"p20");
    first
        .delivery
        .nack(BasicNackOptions {
            requeue: true,
            multiple: false,
        })
        .await
        .unwrap();
    assert_eq!(
        drain(&ch, "prio").await,
        ["p20", "p9", "p5", "p5b", "p1", "none"]
    );
}

#[tokio::test]
async fn max_length_drops_the_head_by_default() {
    let server = start().await;
    let (_c, ch) = channel(&server).await;
    within(ch.confirm_select(ConfirmSelectOptions::default()))
        .await
        .unwrap();
    declare(
        &ch,
        "maxlen",
        args(&[("x-max-length", AMQPValue::LongInt(2))]),
    )
    .await
    .unwrap();
    for b in ["1", "2", "3"] {
        assert!(matches!(
            publish(&ch, "maxlen", b.as_bytes(), BasicProperties::default()).await,
            Confirmation::Ack(_)
        ));
    }
    assert_eq!(drain(&ch, "maxlen").await, ["2", "3"]);
    declare(
        &ch,
        "maxbytes",
        args(&[("x-max-length-bytes", AMQPValue::LongInt(10))]),
    )
    .await
    .unwrap();
    for b in ["aaaa", "bbbb", "cccc"] {
        publish(&ch, "maxbytes", b.as_bytes(), BasicProperties::default()).await;
    }
    assert_eq!(drain(&ch, "maxbytes").await, ["bbbb", "cccc"]);
}

#[tokio::test]
async fn reject_publish_nacks_the_publisher_and_keeps_the_queue() {
    let server = start().await;
    let (_c, ch) = channel(&server).await;
    within(ch.confirm_select(ConfirmSelectOptions::default()))
        .await
        .unwrap();
    let a = args(&[
        ("x-max-length", AMQPValue::LongInt(1)),
        ("x-overflow", AMQPValue::LongString("reject-publish".into())),
    ]);
    declare(&ch, "reject", a).await.unwrap();
    assert!(matches!(
        publish(&ch, "reject", b"accepted", BasicProperties::default()).await,
        Confirmation::Ack(_)
    ));
    assert!(matches!(
        publish(&ch, "reject", b"rejected", BasicProperties::default()).await,
        Confirmation::Nack(_)
    ));
    assert_eq!(drain(&ch, "reject").await, ["accepted"]);
    // room again: accepted again
    assert!(matches!(
        publish(&ch, "reject", b"again", BasicProperties::default()).await,
        Confirmation::Ack(_)
    ));
}

#[tokio::test]
async fn invalid_queue_arguments_are_refused_with_406() {
    let server = start().await;
    let conn = within(Connection::connect(
        &amqp_url(&server),
        ConnectionProperties::default(),
    ))
    .await
    .unwrap();
    for a in [
        args(&[("x-message-ttl", AMQPValue::LongInt(-1))]),
        args(&[("x-max-length", AMQPValue::LongString("ten".into()))]),
        args(&[("x-overflow", AMQPValue::LongString("explode".into()))]),
        args(&[("x-max-priority", AMQPValue::LongInt(1000))]),
        args(&[("x-expires", AMQPValue::LongInt(0))]),
        args(&[("x-queue-type", AMQPValue::LongString("stream".into()))]),
    ] {
        let ch = within(conn.create_channel()).await.unwrap();
        assert_eq!(declare(&ch, "bad-args", a.clone()).await, Err(406), "{a:?}");
    }
}
