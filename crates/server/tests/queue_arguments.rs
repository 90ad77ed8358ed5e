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

fn header<'a>(d: &'a lapin::message::Delivery, k: &str) -> Option<&'a AMQPValue> {
    d.properties.headers().as_ref()?.inner().get(k)
}

fn first_death(d: &lapin::message::Delivery) -> lapin::types::FieldTable {
    match header(d, "x-death") {
        Some(AMQPValue::FieldArray(a)) => match a.as_slice().first() {
            Some(AMQPValue::FieldTable(t)) => t.clone(),
            other => panic!("x-death entry {other:?}"),
        },
        other => panic!("x-death {other:?}"),
    }
}

fn text(v: Option<&AMQPValue>) -> String {
    match v {
        Some(AMQPValue::LongString(s)) => s.to_string(),
        other => panic!("not a string: {other:?}"),
    }
}

/// A queue dead-lettering to the default exchange with the routing key `dlq`.
async fn with_dlq(ch: &Channel, name: &str, extra: &[(&str, AMQPValue)]) {
    declare(ch, "dlq", FieldTable::default()).await.unwrap();
    let mut a = vec![
        ("x-dead-letter-exchange", AMQPValue::LongString("".into())),
        (
            "x-dead-letter-routing-key",
            AMQPValue::LongString("dlq".into()),
        ),
    ];
    a.extend(extra.iter().cloned());
    declare(ch, name, args(&a)).await.unwrap();
}

async fn get_one(ch: &Channel, q: &str) -> lapin::message::Delivery {
    within(ch.basic_get(q, BasicGetOptions { no_ack: true }))
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("{q} is empty"))
        .delivery
}

#[tokio::test]
async fn rejected_messages_are_dead_lettered_with_x_death() {
    let server = start().await;
    let (_c, ch) = channel(&server).await;
    with_dlq(&ch, "work", &[]).await;
    publish_plain(
        &ch,
        "work",
        b"bad",
        BasicProperties::default().with_message_id("m1".into()),
    )
    .await;
    let m = within(ch.basic_get("work", BasicGetOptions { no_ack: false }))
        .await
        .unwrap()
        .unwrap();
    m.delivery
        .reject(BasicRejectOptions { requeue: false })
        .await
        .unwrap();
    let d = get_one(&ch, "dlq").await;
    assert_eq!(d.data, b"bad");
    assert_eq!(d.routing_key.as_str(), "dlq");
    assert_eq!(
        d.properties.message_id().as_ref().map(|s| s.as_str()),
        Some("m1")
    );
    let death = first_death(&d);
    assert_eq!(text(death.inner().get("reason")), "rejected");
    assert_eq!(text(death.inner().get("queue")), "work");
    assert_eq!(text(death.inner().get("exchange")), "");
    assert!(matches!(
        death.inner().get("count"),
        Some(AMQPValue::LongLongInt(1))
    ));
    assert!(matches!(
        death.inner().get("time"),
        Some(AMQPValue::Timestamp(_))
    ));
    match death.inner().get("routing-keys") {
        Some(AMQPValue::FieldArray(a)) => {
            assert_eq!(a.as_slice(), &[AMQPValue::LongString("work".into())])
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(text(header(&d, "x-first-death-reason")), "rejected");
    assert_eq!(text(header(&d, "x-first-death-queue")), "work");
    assert_eq!(text(header(&d, "x-last-death-reason")), "rejected");
    // nack without requeue too
    publish_plain(&ch, "work", b"bad2", BasicProperties::default()).await;
    let m = within(ch.basic_get("work", BasicGetOptions { no_ack: false }))
        .await
        .unwrap()
        .unwrap();
    m.delivery
        .nack(BasicNackOptions {
            requeue: false,
            multiple: false,
        })
        .await
        .unwrap();
    assert_eq!(get_one(&ch, "dlq").await.data, b"bad2");
}

#[tokio::test]
async fn expired_messages_are_dead_lettered_and_lose_their_ttl() {
    let server = start().await;
    let (_c, ch) = channel(&server).await;
    with_dlq(&ch, "short-lived", &[]).await;
    publish_plain(
        &ch,
        "short-lived",
        b"late",
        BasicProperties::default().with_expiration("50".into()),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    // expiry happens at the head: any look at the queue makes it
    assert_eq!(
        declare(
            &ch,
            "short-lived",
            args(&[
                ("x-dead-letter-exchange", AMQPValue::LongString("".into())),
                (
                    "x-dead-letter-routing-key",
                    AMQPValue::LongString("dlq".into())
                ),
            ])
        )
        .await,
        Ok(0)
    );
    let d = get_one(&ch, "dlq").await;
    assert_eq!(d.data, b"late");
    assert_eq!(
        d.properties.expiration(),
        &None,
        "the per-message TTL is removed"
    );
    let death = first_death(&d);
    assert_eq!(text(death.inner().get("reason")), "expired");
    assert_eq!(text(death.inner().get("original-expiration")), "50");
}

#[tokio::test]
async fn max_length_drops_and_reject_publish_dlx_dead_letter_with_maxlen() {
    let server = start().await;
    let (_c, ch) = channel(&server).await;
    within(ch.confirm_select(ConfirmSelectOptions::default()))
        .await
        .unwrap();
    with_dlq(&ch, "capped", &[("x-max-length", AMQPValue::LongInt(1))]).await;
    publish(&ch, "capped", b"old", BasicProperties::default()).await;
    publish(&ch, "capped", b"new", BasicProperties::default()).await;
    let d = get_one(&ch, "dlq").await;
    assert_eq!(
        (
            d.data.as_slice(),
            text(first_death(&d).inner().get("reason")).as_str()
        ),
        (&b"old"[..], "maxlen")
    );
    declare(&ch, "dlq2", FieldTable::default()).await.unwrap();
    let a = args(&[
        ("x-max-length", AMQPValue::LongInt(1)),
        (
            "x-overflow",
            AMQPValue::LongString("reject-publish-dlx".into()),
        ),
        ("x-dead-letter-exchange", AMQPValue::LongString("".into())),
        (
            "x-dead-letter-routing-key",
            AMQPValue::LongString("dlq2".into()),
        ),
    ]);
    declare(&ch, "strict", a).await.unwrap();
    assert!(matches!(
        publish(&ch, "strict", b"kept", BasicProperties::default()).await,
        Confirmation::Ack(_)
    ));
    assert!(matches!(
        publish(&ch, "strict", b"refused", BasicProperties::default()).await,
        Confirmation::Nack(_)
    ));
    assert_eq!(drain(&ch, "strict").await, ["kept"]);
    assert_eq!(get_one(&ch, "dlq2").await.data, b"refused");
}

#[tokio::test]
async fn an_expiry_cycle_back_to_the_same_queue_ends() {
    // loop dead-letters (on expiry) to a fanout bound to loop itself and to an observer: the
    // observer sees the message once; without cycle detection it would see it at every look.
    let server = start().await;
    let (_c, ch) = channel(&server).await;
    within(ch.exchange_declare(
        "loopx",
        lapin::ExchangeKind::Fanout,
        ExchangeDeclareOptions::default(),
        FieldTable::default(),
    ))
    .await
    .unwrap();
    let a = args(&[
        ("x-message-ttl", AMQPValue::LongInt(30)),
        (
            "x-dead-letter-exchange",
            AMQPValue::LongString("loopx".into()),
        ),
    ]);
    declare(&ch, "loop", a.clone()).await.unwrap();
    declare(&ch, "observer", FieldTable::default())
        .await
        .unwrap();
    for q in ["loop", "observer"] {
        within(ch.queue_bind(
            q,
            "loopx",
            "",
            QueueBindOptions::default(),
            FieldTable::default(),
        ))
        .await
        .unwrap();
    }
    publish_plain(&ch, "loop", b"round", BasicProperties::default()).await;
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(declare(&ch, "loop", a.clone()).await, Ok(0));
    }
    assert_eq!(
        drain(&ch, "observer").await,
        ["round"],
        "dead-lettered exactly once"
    );
}

async fn publish_plain(ch: &Channel, q: &str, body: &[u8], props: BasicProperties) {
    within(ch.basic_publish("", q, BasicPublishOptions::default(), body, props))
        .await
        .unwrap();
}

#[tokio::test]
async fn an_unacked_delivery_past_the_consumer_timeout_closes_its_channel() {
    let server = start().await;
    let (conn, ch) = channel(&server).await;
    let a = args(&[("x-consumer-timeout", AMQPValue::LongInt(300))]);
    declare(&ch, "slow", a).await.unwrap();
    publish_plain(&ch, "slow", b"take your time", BasicProperties::default()).await;
    let consumer_ch = within(conn.create_channel()).await.unwrap();
    let rx = next_channel_error(&consumer_ch);
    let mut c = within(consumer_ch.basic_consume(
        "slow",
        "c",
        BasicConsumeOptions::default(),
        FieldTable::default(),
    ))
    .await
    .unwrap();
    let d = within(futures_lite::StreamExt::next(&mut c))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(d.data, b"take your time");
    // never acked
    match within(rx).await.unwrap() {
        lapin::Error::ProtocolError(e) => {
            assert_eq!(e.get_id(), 406);
            assert!(
                e.get_message()
                    .as_str()
                    .contains("delivery acknowledgement on channel"),
                "{}",
                e.get_message()
            );
        }
        other => panic!("{other:?}"),
    }
    // the delivery went back to the queue, flagged redelivered
    let m = within(ch.basic_get("slow", BasicGetOptions { no_ack: true }))
        .await
        .unwrap()
        .unwrap();
    assert!(m.delivery.redelivered);
}

#[tokio::test]
async fn an_unused_queue_with_x_expires_is_deleted() {
    let server = start().await;
    let (_c, ch) = channel(&server).await;
    declare(
        &ch,
        "ephemeral",
        args(&[("x-expires", AMQPValue::LongInt(200))]),
    )
    .await
    .unwrap();
    declare(&ch, "kept", FieldTable::default()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let passive = |name: &'static str| {
        let ch = ch.clone();
        async move {
            within(ch.queue_declare(
                name,
                QueueDeclareOptions {
                    passive: true,
                    ..Default::default()
                },
                FieldTable::default(),
            ))
            .await
            .map(|_| ())
            .map_err(|e| match e {
                lapin::Error::ProtocolError(e) => e.get_id(),
                other => panic!("{other:?}"),
            })
        }
    };
    assert_eq!(passive("kept").await, Ok(()));
    assert_eq!(passive("ephemeral").await, Err(404));
}

#[tokio::test]
async fn alternate_exchange_takes_unroutable_messages() {
    let server = start().await;
    let (_c, ch) = channel(&server).await;
    within(ch.exchange_declare(
        "ae",
        lapin::ExchangeKind::Fanout,
        ExchangeDeclareOptions::default(),
        FieldTable::default(),
    ))
    .await
    .unwrap();
    let mut xa = FieldTable::default();
    xa.insert(
        "alternate-exchange".into(),
        AMQPValue::LongString("ae".into()),
    );
    within(ch.exchange_declare(
        "main",
        lapin::ExchangeKind::Direct,
        ExchangeDeclareOptions::default(),
        xa,
    ))
    .await
    .unwrap();
    declare(&ch, "routed", FieldTable::default()).await.unwrap();
    declare(&ch, "unrouted", FieldTable::default())
        .await
        .unwrap();
    within(ch.queue_bind(
        "routed",
        "main",
        "known",
        QueueBindOptions::default(),
        FieldTable::default(),
    ))
    .await
    .unwrap();
    within(ch.queue_bind(
        "unrouted",
        "ae",
        "",
        QueueBindOptions::default(),
        FieldTable::default(),
    ))
    .await
    .unwrap();
    within(ch.confirm_select(ConfirmSelectOptions::default()))
        .await
        .unwrap();
    for (key, body) in [("known", "k"), ("nobody", "n")] {
        // mandatory: a message the alternate exchange routes is not returned
        let c = within(ch.basic_publish(
            "main",
            key,
            BasicPublishOptions {
                mandatory: true,
                ..Default::default()
            },
            body.as_bytes(),
            BasicProperties::default(),
        ))
        .await
        .unwrap();
        assert!(
            matches!(within(c).await.unwrap(), Confirmation::Ack(None)),
            "{key}"
        );
    }
    assert_eq!(drain(&ch, "routed").await, ["k"]);
    assert_eq!(drain(&ch, "unrouted").await, ["n"]);
}

#[tokio::test]
async fn cc_and_bcc_headers_add_routing_keys_and_bcc_is_removed() {
    let server = start().await;
    let (_c, ch) = channel(&server).await;
    for q in ["to-a", "to-b", "to-c"] {
        declare(&ch, q, FieldTable::default()).await.unwrap();
        within(ch.queue_bind(
            q,
            "amq.direct",
            &q[3..],
            QueueBindOptions::default(),
            FieldTable::default(),
        ))
        .await
        .unwrap();
    }
    let mut h = FieldTable::default();
    h.insert(
        "CC".into(),
        AMQPValue::FieldArray(vec![AMQPValue::LongString("b".into())].into()),
    );
    h.insert(
        "BCC".into(),
        AMQPValue::FieldArray(
            vec![
                AMQPValue::LongString("c".into()),
                AMQPValue::LongString("a".into()),
            ]
            .into(),
        ),
    );
    within(ch.basic_publish(
        "amq.direct",
        "a",
        BasicPublishOptions::default(),
        b"memo",
        BasicProperties::default().with_headers(h),
    ))
    .await
    .unwrap();
    for q in ["to-a", "to-b", "to-c"] {
        let d = get_one(&ch, q).await;
        assert_eq!(d.data, b"memo");
        let headers = d.properties.headers().as_ref().unwrap().inner().clone();
        assert!(headers.contains_key("CC"), "CC stays");
        assert!(
            !headers.contains_key("BCC"),
            "BCC is removed before delivery"
        );
        assert!(
            within(ch.basic_get(q, BasicGetOptions { no_ack: true }))
                .await
                .unwrap()
                .is_none(),
            "{q} got it once"
        );
    }
}
