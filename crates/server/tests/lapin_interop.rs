//! Interop with lapin (a real AMQP client) over real TCP to a server on port 0.
//!
//! Each test names one behaviour and checks what a RabbitMQ user would see: the messages that
//! arrive, their flags, the counts in the ok-replies, and the reply codes of errors.

mod common;

use common::{amqp_url, next_channel_error, start, within};
use futures_lite::StreamExt;
use lapin::message::Delivery;
use lapin::options::*;
use lapin::publisher_confirm::Confirmation;
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, Consumer, ExchangeKind};
use warren_server::RunningServer;

async fn connect(server: &RunningServer) -> Connection {
    within(Connection::connect(
        &amqp_url(server),
        ConnectionProperties::default(),
    ))
    .await
    .expect("connects as guest")
}

async fn channel(conn: &Connection) -> Channel {
    within(conn.create_channel())
        .await
        .expect("opens a channel")
}

async fn declare(ch: &Channel, name: &str) -> String {
    within(ch.queue_declare(name, QueueDeclareOptions::default(), FieldTable::default()))
        .await
        .expect("declares the queue")
        .name()
        .to_string()
}

async fn publish(ch: &Channel, exchange: &str, key: &str, body: &[u8]) {
    within(ch.basic_publish(
        exchange,
        key,
        BasicPublishOptions::default(),
        body,
        BasicProperties::default(),
    ))
    .await
    .expect("publishes");
}

async fn get(ch: &Channel, queue: &str) -> Option<Vec<u8>> {
    within(ch.basic_get(queue, BasicGetOptions { no_ack: true }))
        .await
        .expect("basic.get")
        .map(|m| m.delivery.data.clone())
}

async fn next(consumer: &mut Consumer) -> Delivery {
    within(consumer.next())
        .await
        .expect("the consumer stream is open")
        .expect("a delivery")
}

/// The reply code of a protocol error.
fn code(e: lapin::Error) -> u16 {
    match e {
        lapin::Error::ProtocolError(e) => e.get_id(),
        other => panic!("expected a protocol error, got {other:?}"),
    }
}

/// Drains a queue with basic.get (no-ack) and returns the bodies as strings, in order.
async fn drain(ch: &Channel, queue: &str) -> Vec<String> {
    let mut v = Vec::new();
    while let Some(b) = get(ch, queue).await {
        v.push(String::from_utf8(b).unwrap());
    }
    v
}

#[tokio::test]
async fn handshake_reports_warren_and_rabbitmq_capabilities() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = start().await;
    // connection.start, read off the wire
    let mut sock = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    sock.write_all(&warren_amqp::PROTOCOL_HEADER).await.unwrap();
    let mut buf = bytes::BytesMut::new();
    let start_frame = within(async {
        loop {
            if let Some(f) = warren_amqp::decode_frame(&mut buf, 0).unwrap() {
                break f;
            }
            assert!(sock.read_buf(&mut buf).await.unwrap() > 0);
        }
    })
    .await;
    let warren_amqp::Frame::Method {
        channel: 0,
        method: warren_amqp::Method::ConnectionStart(s),
    } = start_frame
    else {
        panic!("expected connection.start, got {start_frame:?}");
    };
    assert_eq!((s.version_major, s.version_minor), (0, 9));
    assert_eq!(&s.mechanisms[..], b"PLAIN AMQPLAIN");
    let props = &s.server_properties;
    assert_eq!(
        props.get("product").and_then(|v| v.as_str()),
        Some("Warren")
    );
    assert!(props.get("version").and_then(|v| v.as_str()).is_some());
    assert!(props.get("platform").and_then(|v| v.as_str()).is_some());
    let caps = props
        .get("capabilities")
        .and_then(|v| v.as_table())
        .expect("capabilities");
    for c in [
        "publisher_confirms",
        "exchange_exchange_bindings",
        "basic.nack",
        "consumer_cancel_notify",
        "connection.blocked",
        "consumer_priorities",
        "authentication_failure_close",
        "per_consumer_qos",
        "direct_reply_to",
    ] {
        assert_eq!(caps.get(c).and_then(|v| v.as_bool()), Some(true), "{c}");
    }
    // and what lapin negotiated
    let conn = connect(&server).await;
    assert_eq!(conn.configuration().frame_max(), 131_072);
    assert_eq!(conn.configuration().channel_max(), 2047);
    within(conn.close(200, "bye")).await.unwrap();
}

#[tokio::test]
async fn wrong_password_is_refused() {
    let server = start().await;
    let url = format!("amqp://guest:wrong@{}/%2f", server.addr);
    let r = within(Connection::connect(&url, ConnectionProperties::default())).await;
    assert!(r.is_err(), "login with a wrong password must fail");
}

#[tokio::test]
async fn unknown_vhost_is_refused() {
    let server = start().await;
    let url = format!("amqp://guest:guest@{}/nowhere", server.addr);
    let e = within(Connection::connect(&url, ConnectionProperties::default()))
        .await
        .unwrap_err();
    assert_eq!(code(e), 530);
}

#[tokio::test]
async fn default_exchange_routes_by_queue_name() {
    let server = start().await;
    let conn = connect(&server).await;
    let ch = channel(&conn).await;
    let q = declare(&ch, "").await;
    assert!(q.starts_with("amq.gen-"), "server-named queue: {q}");
    publish(&ch, "", &q, b"one").await;
    publish(&ch, "", &q, b"two").await;
    let m = within(ch.basic_get(&q, BasicGetOptions { no_ack: true }))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(m.delivery.data, b"one");
    assert_eq!(m.message_count, 1, "one message left after the get");
    assert_eq!(get(&ch, &q).await.unwrap(), b"two");
    assert_eq!(get(&ch, &q).await, None, "get-empty");
}

#[tokio::test]
async fn direct_fanout_and_topic_exchanges_route_as_rabbitmq() {
    let server = start().await;
    let conn = connect(&server).await;
    let ch = channel(&conn).await;
    for (x, kind) in [
        ("t-direct", ExchangeKind::Direct),
        ("t-fanout", ExchangeKind::Fanout),
        ("t-topic", ExchangeKind::Topic),
    ] {
        within(ch.exchange_declare(
            x,
            kind,
            ExchangeDeclareOptions::default(),
            FieldTable::default(),
        ))
        .await
        .unwrap();
    }
    let (a, b) = (declare(&ch, "qa").await, declare(&ch, "qb").await);
    let bind = |q: &str, x: &str, k: &str| {
        let (q, x, k) = (q.to_string(), x.to_string(), k.to_string());
        let ch = ch.clone();
        async move {
            within(ch.queue_bind(
                &q,
                &x,
                &k,
                QueueBindOptions::default(),
                FieldTable::default(),
            ))
            .await
            .unwrap()
        }
    };
    bind(&a, "t-direct", "red").await;
    bind(&b, "t-direct", "blue").await;
    bind(&a, "t-fanout", "ignored").await;
    bind(&b, "t-fanout", "").await;
    bind(&a, "t-topic", "*.orange.*").await;
    bind(&b, "t-topic", "lazy.#").await;
    bind(&b, "t-topic", "*.*.rabbit").await;

    publish(&ch, "t-direct", "red", b"d-red").await;
    publish(&ch, "t-direct", "blue", b"d-blue").await;
    publish(&ch, "t-direct", "green", b"d-green").await;
    publish(&ch, "t-fanout", "whatever", b"f").await;
    publish(&ch, "t-topic", "quick.orange.rabbit", b"t1").await;
    publish(&ch, "t-topic", "lazy.brown.fox", b"t2").await;
    publish(&ch, "t-topic", "lazy", b"t3").await;
    publish(&ch, "t-topic", "quick.brown.fox", b"t4").await;
    publish(&ch, "amq.direct", "red", b"unbound").await;

    assert_eq!(drain(&ch, &a).await, ["d-red", "f", "t1"]);
    // t1 reaches qb once although two of its patterns match
    assert_eq!(drain(&ch, &b).await, ["d-blue", "f", "t1", "t2", "t3"]);
}

#[tokio::test]
async fn headers_exchange_all_and_any() {
    let server = start().await;
    let conn = connect(&server).await;
    let ch = channel(&conn).await;
    let (all, any) = (declare(&ch, "h-all").await, declare(&ch, "h-any").await);
    let mut args_all = FieldTable::default();
    args_all.insert("x-match".into(), AMQPValue::LongString("all".into()));
    args_all.insert("format".into(), AMQPValue::LongString("pdf".into()));
    args_all.insert("type".into(), AMQPValue::LongString("report".into()));
    let mut args_any = args_all.clone();
    args_any.insert("x-match".into(), AMQPValue::LongString("any".into()));
    within(ch.queue_bind(
        &all,
        "amq.headers",
        "",
        QueueBindOptions::default(),
        args_all,
    ))
    .await
    .unwrap();
    within(ch.queue_bind(&any, "amq.match", "", QueueBindOptions::default(), args_any))
        .await
        .unwrap();
    let send = |body: &'static [u8], pairs: &[(&str, &str)]| {
        let mut h = FieldTable::default();
        for (k, v) in pairs {
            h.insert((*k).into(), AMQPValue::LongString((*v).into()));
        }
        let ch = ch.clone();
        async move {
            for x in ["amq.headers", "amq.match"] {
                within(ch.basic_publish(
                    x,
                    "",
                    BasicPublishOptions::default(),
                    body,
                    BasicProperties::default().with_headers(h.clone()),
                ))
                .await
                .unwrap();
            }
        }
    };
    send(
        b"both",
        &[("format", "pdf"), ("type", "report"), ("extra", "1")],
    )
    .await;
    send(b"one", &[("format", "pdf")]).await;
    send(b"none", &[("format", "zip")]).await;
    assert_eq!(drain(&ch, &all).await, ["both"]);
    assert_eq!(drain(&ch, &any).await, ["both", "one"]);
}

#[tokio::test]
async fn exchange_to_exchange_bindings_and_unbind() {
    let server = start().await;
    let conn = connect(&server).await;
    let ch = channel(&conn).await;
    for x in ["e2e-src", "e2e-dst"] {
        within(ch.exchange_declare(
            x,
            ExchangeKind::Fanout,
            ExchangeDeclareOptions::default(),
            FieldTable::default(),
        ))
        .await
        .unwrap();
    }
    let q = declare(&ch, "e2e-q").await;
    within(ch.queue_bind(
        &q,
        "e2e-dst",
        "",
        QueueBindOptions::default(),
        FieldTable::default(),
    ))
    .await
    .unwrap();
    within(ch.exchange_bind(
        "e2e-dst",
        "e2e-src",
        "",
        ExchangeBindOptions::default(),
        FieldTable::default(),
    ))
    .await
    .unwrap();
    // a cycle must not loop or duplicate
    within(ch.exchange_bind(
        "e2e-src",
        "e2e-dst",
        "",
        ExchangeBindOptions::default(),
        FieldTable::default(),
    ))
    .await
    .unwrap();
    publish(&ch, "e2e-src", "k", b"via-e2e").await;
    assert_eq!(drain(&ch, &q).await, ["via-e2e"]);
    within(ch.exchange_unbind(
        "e2e-dst",
        "e2e-src",
        "",
        ExchangeUnbindOptions::default(),
        FieldTable::default(),
    ))
    .await
    .unwrap();
    publish(&ch, "e2e-src", "k", b"after-unbind").await;
    assert!(drain(&ch, &q).await.is_empty());
}

#[tokio::test]
async fn queue_unbind_purge_and_delete_counts() {
    let server = start().await;
    let conn = connect(&server).await;
    let ch = channel(&conn).await;
    let q = declare(&ch, "counts").await;
    within(ch.queue_bind(
        &q,
        "amq.direct",
        "k",
        QueueBindOptions::default(),
        FieldTable::default(),
    ))
    .await
    .unwrap();
    for _ in 0..3 {
        publish(&ch, "amq.direct", "k", b"x").await;
    }
    let again = within(ch.queue_declare(
        &q,
        QueueDeclareOptions {
            passive: true,
            ..Default::default()
        },
        FieldTable::default(),
    ))
    .await
    .unwrap();
    assert_eq!(again.message_count(), 3);
    assert_eq!(
        within(ch.queue_purge(&q, QueuePurgeOptions::default()))
            .await
            .unwrap(),
        3
    );
    within(ch.queue_unbind(&q, "amq.direct", "k", FieldTable::default()))
        .await
        .unwrap();
    publish(&ch, "amq.direct", "k", b"x").await;
    publish(&ch, "", &q, b"y").await;
    assert_eq!(
        within(ch.queue_delete(&q, QueueDeleteOptions::default()))
            .await
            .unwrap(),
        1
    );
    let e = within(ch.queue_declare(
        &q,
        QueueDeclareOptions {
            passive: true,
            ..Default::default()
        },
        FieldTable::default(),
    ))
    .await
    .unwrap_err();
    assert_eq!(code(e), 404);
}

#[tokio::test]
async fn delete_if_unused_and_if_empty_are_enforced() {
    let server = start().await;
    let conn = connect(&server).await;
    let ch = channel(&conn).await;
    let q = declare(&ch, "guarded").await;
    publish(&ch, "", &q, b"x").await;
    let e = within(ch.queue_delete(
        &q,
        QueueDeleteOptions {
            if_empty: true,
            ..Default::default()
        },
    ))
    .await
    .unwrap_err();
    assert_eq!(code(e), 406);
    let ch = channel(&conn).await;
    let _consumer = within(ch.basic_consume(
        &q,
        "c",
        BasicConsumeOptions::default(),
        FieldTable::default(),
    ))
    .await
    .unwrap();
    let ch2 = channel(&conn).await;
    let e = within(ch2.queue_delete(
        &q,
        QueueDeleteOptions {
            if_unused: true,
            ..Default::default()
        },
    ))
    .await
    .unwrap_err();
    assert_eq!(code(e), 406);
    let ch2 = channel(&conn).await;
    within(ch2.exchange_declare(
        "used-x",
        ExchangeKind::Direct,
        ExchangeDeclareOptions::default(),
        FieldTable::default(),
    ))
    .await
    .unwrap();
    within(ch2.queue_bind(
        &q,
        "used-x",
        "k",
        QueueBindOptions::default(),
        FieldTable::default(),
    ))
    .await
    .unwrap();
    let e = within(ch2.exchange_delete(
        "used-x",
        ExchangeDeleteOptions {
            if_unused: true,
            ..Default::default()
        },
    ))
    .await
    .unwrap_err();
    assert_eq!(code(e), 406);
}

#[tokio::test]
async fn consume_ack_and_round_robin_between_consumers() {
    let server = start().await;
    let conn = connect(&server).await;
    let ch = channel(&conn).await;
    let q = declare(&ch, "rr").await;
    let mut c1 = within(ch.basic_consume(
        &q,
        "c1",
        BasicConsumeOptions::default(),
        FieldTable::default(),
    ))
    .await
    .unwrap();
    let mut c2 = within(ch.basic_consume(
        &q,
        "c2",
        BasicConsumeOptions::default(),
        FieldTable::default(),
    ))
    .await
    .unwrap();
    for i in 0..4 {
        publish(&ch, "", &q, format!("m{i}").as_bytes()).await;
    }
    let mut got1 = Vec::new();
    let mut got2 = Vec::new();
    for _ in 0..2 {
        let d = next(&mut c1).await;
        got1.push(String::from_utf8(d.data.clone()).unwrap());
        d.ack(BasicAckOptions::default()).await.unwrap();
        let d = next(&mut c2).await;
        got2.push(String::from_utf8(d.data.clone()).unwrap());
        d.ack(BasicAckOptions::default()).await.unwrap();
    }
    assert_eq!(got1, ["m0", "m2"]);
    assert_eq!(got2, ["m1", "m3"]);
}

#[tokio::test]
async fn nack_with_requeue_redelivers_and_reject_without_requeue_drops() {
    let server = start().await;
    let conn = connect(&server).await;
    let ch = channel(&conn).await;
    let q = declare(&ch, "nack").await;
    publish(&ch, "", &q, b"a").await;
    publish(&ch, "", &q, b"b").await;
    let mut c = within(ch.basic_consume(
        &q,
        "c",
        BasicConsumeOptions::default(),
        FieldTable::default(),
    ))
    .await
    .unwrap();
    let d = next(&mut c).await;
    assert_eq!((d.data.as_slice(), d.redelivered), (&b"a"[..], false));
    d.nack(BasicNackOptions {
        requeue: true,
        multiple: false,
    })
    .await
    .unwrap();
    let b = next(&mut c).await;
    assert_eq!(b.data, b"b");
    let again = next(&mut c).await;
    assert_eq!(
        (again.data.as_slice(), again.redelivered),
        (&b"a"[..], true)
    );
    again
        .reject(BasicRejectOptions { requeue: false })
        .await
        .unwrap();
    b.ack(BasicAckOptions::default()).await.unwrap();
    let ch2 = channel(&conn).await;
    let q2 = within(ch2.queue_declare(
        &q,
        QueueDeclareOptions {
            passive: true,
            ..Default::default()
        },
        FieldTable::default(),
    ))
    .await
    .unwrap();
    assert_eq!(q2.message_count(), 0, "rejected without requeue: gone");
}

#[tokio::test]
async fn prefetch_window_limits_unacked_deliveries() {
    let server = start().await;
    let conn = connect(&server).await;
    let ch = channel(&conn).await;
    let q = declare(&ch, "qos").await;
    for i in 0..5 {
        publish(&ch, "", &q, format!("{i}").as_bytes()).await;
    }
    within(ch.basic_qos(2, BasicQosOptions::default()))
        .await
        .unwrap();
    let mut c = within(ch.basic_consume(
        &q,
        "c",
        BasicConsumeOptions::default(),
        FieldTable::default(),
    ))
    .await
    .unwrap();
    let d0 = next(&mut c).await;
    let d1 = next(&mut c).await;
    // With two unacked, nothing more comes.
    let more = tokio::time::timeout(std::time::Duration::from_millis(300), c.next()).await;
    assert!(more.is_err(), "a third delivery arrived with prefetch 2");
    let ch2 = channel(&conn).await;
    let st = within(ch2.queue_declare(
        &q,
        QueueDeclareOptions {
            passive: true,
            ..Default::default()
        },
        FieldTable::default(),
    ))
    .await
    .unwrap();
    assert_eq!(st.message_count(), 3);
    d0.ack(BasicAckOptions::default()).await.unwrap();
    let d2 = next(&mut c).await;
    assert_eq!(d2.data, b"2");
    // multiple ack releases both outstanding
    d2.ack(BasicAckOptions { multiple: true }).await.unwrap();
    let d3 = next(&mut c).await;
    let d4 = next(&mut c).await;
    assert_eq!(
        (d3.data.as_slice(), d4.data.as_slice()),
        (&b"3"[..], &b"4"[..])
    );
    drop(d1);
}

#[tokio::test]
async fn unacked_messages_come_back_redelivered_when_the_channel_closes() {
    let server = start().await;
    let conn = connect(&server).await;
    let ch = channel(&conn).await;
    let q = declare(&ch, "requeue-on-close").await;
    publish(&ch, "", &q, b"1").await;
    publish(&ch, "", &q, b"2").await;
    let consumer_ch = channel(&conn).await;
    let mut c = within(consumer_ch.basic_consume(
        &q,
        "c",
        BasicConsumeOptions::default(),
        FieldTable::default(),
    ))
    .await
    .unwrap();
    next(&mut c).await;
    next(&mut c).await;
    within(consumer_ch.close(200, "done")).await.unwrap();
    let m = within(ch.basic_get(&q, BasicGetOptions { no_ack: true }))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (m.delivery.data.as_slice(), m.delivery.redelivered),
        (&b"1"[..], true)
    );
    let m = within(ch.basic_get(&q, BasicGetOptions { no_ack: true }))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (m.delivery.data.as_slice(), m.delivery.redelivered),
        (&b"2"[..], true)
    );
}

#[tokio::test]
async fn basic_get_ack_and_unknown_delivery_tag() {
    let server = start().await;
    let conn = connect(&server).await;
    let ch = channel(&conn).await;
    let q = declare(&ch, "get-ack").await;
    publish(&ch, "", &q, b"x").await;
    let m = within(ch.basic_get(&q, BasicGetOptions { no_ack: false }))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(m.delivery.delivery_tag, 1);
    m.delivery.ack(BasicAckOptions::default()).await.unwrap();
    // acking tag 1 again is an unknown tag: 406 closes the channel (seen through on_error:
    // basic.ack has no reply)
    let rx = next_channel_error(&ch);
    within(ch.basic_ack(1, BasicAckOptions::default()))
        .await
        .unwrap();
    assert_eq!(code(within(rx).await.unwrap()), 406);
}

#[tokio::test]
async fn publisher_confirms_ack_every_publish() {
    let server = start().await;
    let conn = connect(&server).await;
    let ch = channel(&conn).await;
    within(ch.confirm_select(ConfirmSelectOptions::default()))
        .await
        .unwrap();
    let q = declare(&ch, "confirms").await;
    let mut pending = Vec::new();
    for i in 0..200 {
        pending.push(
            within(ch.basic_publish(
                "",
                &q,
                BasicPublishOptions::default(),
                format!("{i}").as_bytes(),
                BasicProperties::default(),
            ))
            .await
            .unwrap(),
        );
    }
    // a publish to no queue is confirmed too
    pending.push(
        within(ch.basic_publish(
            "",
            "no-such-queue",
            BasicPublishOptions::default(),
            b"lost",
            BasicProperties::default(),
        ))
        .await
        .unwrap(),
    );
    for p in pending {
        assert!(matches!(within(p).await.unwrap(), Confirmation::Ack(None)));
    }
    let st = within(ch.queue_declare(
        &q,
        QueueDeclareOptions {
            passive: true,
            ..Default::default()
        },
        FieldTable::default(),
    ))
    .await
    .unwrap();
    assert_eq!(st.message_count(), 200);
}

#[tokio::test]
async fn mandatory_unroutable_publish_is_returned_with_312() {
    let server = start().await;
    let conn = connect(&server).await;
    let ch = channel(&conn).await;
    within(ch.confirm_select(ConfirmSelectOptions::default()))
        .await
        .unwrap();
    let confirm = within(ch.basic_publish(
        "amq.direct",
        "nobody",
        BasicPublishOptions {
            mandatory: true,
            ..Default::default()
        },
        b"returned",
        BasicProperties::default().with_message_id("m-1".into()),
    ))
    .await
    .unwrap();
    let returned = within(confirm)
        .await
        .unwrap()
        .take_message()
        .expect("basic.return");
    assert_eq!(returned.reply_code, 312);
    assert_eq!(returned.reply_text.as_str(), "NO_ROUTE");
    assert_eq!(returned.routing_key.as_str(), "nobody");
    assert_eq!(returned.data, b"returned");
    assert_eq!(
        returned
            .properties
            .message_id()
            .as_ref()
            .map(|s| s.as_str()),
        Some("m-1")
    );
}

#[tokio::test]
async fn properties_and_large_bodies_arrive_intact() {
    let server = start().await;
    let conn = connect(&server).await;
    let ch = channel(&conn).await;
    let q = declare(&ch, "big").await;
    // 1 MiB body: split into many body frames both ways
    let body: Vec<u8> = (0..1_048_576u32).map(|i| (i % 251) as u8).collect();
    let mut headers = FieldTable::default();
    headers.insert("n".into(), AMQPValue::LongLongInt(-5));
    headers.insert("s".into(), AMQPValue::LongString("v".into()));
    let props = BasicProperties::default()
        .with_content_type("application/octet-stream".into())
        .with_delivery_mode(2)
        .with_priority(3)
        .with_correlation_id("corr".into())
        .with_reply_to("rq".into())
        .with_expiration("60000".into())
        .with_timestamp(1_700_000_000)
        .with_app_id("tests".into())
        .with_headers(headers);
    within(ch.basic_publish("", &q, BasicPublishOptions::default(), &body, props.clone()))
        .await
        .unwrap();
    let m = within(ch.basic_get(&q, BasicGetOptions { no_ack: true }))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(m.delivery.data.len(), body.len());
    assert!(m.delivery.data == body);
    assert_eq!(m.delivery.properties, props);
}

#[tokio::test]
async fn soft_errors_close_the_channel_with_rabbitmq_codes() {
    let server = start().await;
    let conn = connect(&server).await;

    // a publish has no reply: the 404 comes as a channel.close, seen through on_error
    let ch = channel(&conn).await;
    let rx = next_channel_error(&ch);
    within(ch.basic_publish(
        "no-such-exchange",
        "k",
        BasicPublishOptions::default(),
        b"x",
        BasicProperties::default(),
    ))
    .await
    .unwrap();
    assert_eq!(code(within(rx).await.unwrap()), 404);

    let ch = channel(&conn).await;
    let e = within(ch.basic_consume(
        "missing",
        "",
        BasicConsumeOptions::default(),
        FieldTable::default(),
    ))
    .await
    .unwrap_err();
    assert_eq!(code(e), 404);

    let ch = channel(&conn).await;
    let e = within(ch.exchange_declare(
        "amq.custom",
        ExchangeKind::Direct,
        ExchangeDeclareOptions::default(),
        FieldTable::default(),
    ))
    .await
    .unwrap_err();
    assert_eq!(code(e), 403);

    let ch = channel(&conn).await;
    within(ch.exchange_declare(
        "equiv",
        ExchangeKind::Direct,
        ExchangeDeclareOptions::default(),
        FieldTable::default(),
    ))
    .await
    .unwrap();
    let e = within(ch.exchange_declare(
        "equiv",
        ExchangeKind::Fanout,
        ExchangeDeclareOptions::default(),
        FieldTable::default(),
    ))
    .await
    .unwrap_err();
    match e {
        lapin::Error::ProtocolError(e) => {
            assert_eq!(e.get_id(), 406);
            assert_eq!(
                e.get_message().as_str(),
                "PRECONDITION_FAILED - inequivalent arg 'type' for exchange 'equiv' in vhost '/': received 'fanout' but current is 'direct'"
            );
        }
        other => panic!("{other:?}"),
    }

    let ch = channel(&conn).await;
    declare(&ch, "equiv-q").await;
    let e = within(ch.queue_declare(
        "equiv-q",
        QueueDeclareOptions {
            durable: true,
            ..Default::default()
        },
        FieldTable::default(),
    ))
    .await
    .unwrap_err();
    assert_eq!(code(e), 406);

    let ch = channel(&conn).await;
    let e = within(ch.queue_bind(
        "nope",
        "amq.direct",
        "k",
        QueueBindOptions::default(),
        FieldTable::default(),
    ))
    .await
    .unwrap_err();
    assert_eq!(code(e), 404);

    // the connection survives all of these
    let ch = channel(&conn).await;
    declare(&ch, "still-fine").await;
}

#[tokio::test]
async fn exclusive_queue_is_locked_to_its_connection_and_dies_with_it() {
    let server = start().await;
    let owner = connect(&server).await;
    let other = connect(&server).await;
    let och = channel(&owner).await;
    within(och.queue_declare(
        "excl",
        QueueDeclareOptions {
            exclusive: true,
            ..Default::default()
        },
        FieldTable::default(),
    ))
    .await
    .unwrap();
    let xch = channel(&other).await;
    let e = within(xch.basic_consume(
        "excl",
        "",
        BasicConsumeOptions::default(),
        FieldTable::default(),
    ))
    .await
    .unwrap_err();
    assert_eq!(code(e), 405);
    within(owner.close(200, "bye")).await.unwrap();
    // Gone by the time the owner hears close-ok: a passive declare says 404 (not 405, locked).
    let ch = channel(&other).await;
    let e = within(ch.queue_declare(
        "excl",
        QueueDeclareOptions {
            passive: true,
            ..Default::default()
        },
        FieldTable::default(),
    ))
    .await
    .unwrap_err();
    assert_eq!(code(e), 404);
}

#[tokio::test]
async fn auto_delete_queue_goes_with_its_last_consumer() {
    let server = start().await;
    let conn = connect(&server).await;
    let ch = channel(&conn).await;
    within(ch.queue_declare(
        "ad",
        QueueDeclareOptions {
            auto_delete: true,
            ..Default::default()
        },
        FieldTable::default(),
    ))
    .await
    .unwrap();
    let c1 = within(ch.basic_consume(
        "ad",
        "c1",
        BasicConsumeOptions::default(),
        FieldTable::default(),
    ))
    .await
    .unwrap();
    let _c2 = within(ch.basic_consume(
        "ad",
        "c2",
        BasicConsumeOptions::default(),
        FieldTable::default(),
    ))
    .await
    .unwrap();
    within(ch.basic_cancel("c1", BasicCancelOptions::default()))
        .await
        .unwrap();
    drop(c1);
    let st = within(ch.queue_declare(
        "ad",
        QueueDeclareOptions {
            passive: true,
            ..Default::default()
        },
        FieldTable::default(),
    ))
    .await
    .unwrap();
    assert_eq!(st.consumer_count(), 1);
    within(ch.basic_cancel("c2", BasicCancelOptions::default()))
        .await
        .unwrap();
    let e = within(ch.queue_declare(
        "ad",
        QueueDeclareOptions {
            passive: true,
            ..Default::default()
        },
        FieldTable::default(),
    ))
    .await
    .unwrap_err();
    assert_eq!(code(e), 404);
}

#[tokio::test]
async fn exclusive_consumer_and_duplicate_consumer_tag() {
    let server = start().await;
    let conn = connect(&server).await;
    let ch = channel(&conn).await;
    let q = declare(&ch, "xc").await;
    // keep the consumer alive: lapin cancels a consumer when it is dropped
    let _only = within(ch.basic_consume(
        &q,
        "only",
        BasicConsumeOptions {
            exclusive: true,
            ..Default::default()
        },
        FieldTable::default(),
    ))
    .await
    .unwrap();
    let ch2 = channel(&conn).await;
    let e = within(ch2.basic_consume(
        &q,
        "second",
        BasicConsumeOptions::default(),
        FieldTable::default(),
    ))
    .await
    .unwrap_err();
    assert_eq!(code(e), 403);
    // reusing a consumer tag on a channel is a connection error (530)
    let q2 = declare(&ch, "xc2").await;
    let e = within(ch.basic_consume(
        &q2,
        "only",
        BasicConsumeOptions::default(),
        FieldTable::default(),
    ))
    .await
    .unwrap_err();
    assert_eq!(code(e), 530);
    // lapin takes the connection.close on its own I/O loop: wait for it to apply it
    within(async {
        while conn.status().connected() {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(
        within(conn.create_channel()).await.is_err(),
        "530 closes the connection"
    );
}

#[tokio::test]
async fn deleting_a_queue_cancels_its_consumers() {
    let server = start().await;
    let conn = connect(&server).await;
    let ch = channel(&conn).await;
    let q = declare(&ch, "cancel-me").await;
    let mut c = within(ch.basic_consume(
        &q,
        "c",
        BasicConsumeOptions::default(),
        FieldTable::default(),
    ))
    .await
    .unwrap();
    let ch2 = channel(&conn).await;
    within(ch2.queue_delete(&q, QueueDeleteOptions::default()))
        .await
        .unwrap();
    // lapin ends the consumer stream when the broker cancels it
    let end = within(c.next()).await;
    assert!(
        end.is_none(),
        "consumer stream should end after basic.cancel from the broker"
    );
}

#[tokio::test]
async fn transactions_publish_on_commit_and_drop_on_rollback() {
    let server = start().await;
    let conn = connect(&server).await;
    let ch = channel(&conn).await;
    let q = declare(&ch, "tx").await;
    within(ch.tx_select()).await.unwrap();
    publish(&ch, "", &q, b"rolled-back").await;
    within(ch.tx_rollback()).await.unwrap();
    publish(&ch, "", &q, b"committed").await;
    let reader = channel(&conn).await;
    assert_eq!(
        get(&reader, &q).await,
        None,
        "nothing visible before commit"
    );
    within(ch.tx_commit()).await.unwrap();
    assert_eq!(drain(&reader, &q).await, ["committed"]);
}

#[tokio::test]
async fn recover_requeues_unacked() {
    let server = start().await;
    let conn = connect(&server).await;
    let ch = channel(&conn).await;
    let q = declare(&ch, "recover").await;
    publish(&ch, "", &q, b"r").await;
    let m = within(ch.basic_get(&q, BasicGetOptions { no_ack: false }))
        .await
        .unwrap()
        .unwrap();
    assert!(!m.delivery.redelivered);
    within(ch.basic_recover(BasicRecoverOptions { requeue: true }))
        .await
        .unwrap();
    let m = within(ch.basic_get(&q, BasicGetOptions { no_ack: true }))
        .await
        .unwrap()
        .unwrap();
    assert!(m.delivery.redelivered);
}

#[tokio::test]
async fn many_channels_on_one_connection() {
    let server = start().await;
    let conn = connect(&server).await;
    let mut chans = Vec::new();
    for _ in 0..50 {
        chans.push(channel(&conn).await);
    }
    let q = declare(&chans[0], "many").await;
    for ch in &chans {
        publish(ch, "", &q, b"x").await;
    }
    let st = within(chans[0].queue_declare(
        &q,
        QueueDeclareOptions {
            passive: true,
            ..Default::default()
        },
        FieldTable::default(),
    ))
    .await
    .unwrap();
    assert_eq!(st.message_count(), 50);
}

#[tokio::test]
async fn shutdown_closes_clients_with_320() {
    let server = start().await;
    let conn = connect(&server).await;
    let (tx, rx) = tokio::sync::oneshot::channel();
    let tx = std::sync::Mutex::new(Some(tx));
    conn.on_error(move |e| {
        if let Some(tx) = tx.lock().unwrap().take() {
            let _ = tx.send(e);
        }
    });
    within(server.stop()).await;
    let e = within(rx).await.unwrap();
    assert_eq!(code(e), 320);
}
