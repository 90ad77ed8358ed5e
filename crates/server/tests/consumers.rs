//! Which consumer gets a message, over a real client: consumer priorities (`x-priority`),
//! single active consumer (`x-single-active-consumer`) and direct reply-to
//! (`amq.rabbitmq.reply-to`), with RabbitMQ's errors for their misuse.

mod common;

use common::{amqp_url, next_channel_error, start, within};
use futures_lite::StreamExt;
use lapin::message::Delivery;
use lapin::options::*;
use lapin::publisher_confirm::Confirmation;
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, Consumer};

async fn connect(server: &warren_server::RunningServer) -> Connection {
    within(Connection::connect(
        &amqp_url(server),
        ConnectionProperties::default(),
    ))
    .await
    .unwrap()
}

async fn channel(conn: &Connection) -> Channel {
    within(conn.create_channel()).await.unwrap()
}

fn args(pairs: &[(&str, AMQPValue)]) -> FieldTable {
    let mut t = FieldTable::default();
    for (k, v) in pairs {
        t.insert((*k).into(), v.clone());
    }
    t
}

fn priority(p: i32) -> FieldTable {
    args(&[("x-priority", AMQPValue::LongInt(p))])
}

async fn declare(ch: &Channel, name: &str, a: FieldTable) {
    within(ch.queue_declare(name, QueueDeclareOptions::default(), a))
        .await
        .unwrap();
}

/// A manual-ack consumer on its own channel with `prefetch` (0 = unlimited).
async fn consumer(
    conn: &Connection,
    queue: &str,
    tag: &str,
    prefetch: u16,
    a: FieldTable,
) -> (Channel, Consumer) {
    let ch = channel(conn).await;
    if prefetch > 0 {
        within(ch.basic_qos(prefetch, BasicQosOptions::default()))
            .await
            .unwrap();
    }
    let c = within(ch.basic_consume(queue, tag, BasicConsumeOptions::default(), a))
        .await
        .unwrap();
    (ch, c)
}

async fn publish_n(ch: &Channel, queue: &str, from: usize, n: usize) {
    for i in from..from + n {
        let c = within(ch.basic_publish(
            "",
            queue,
            BasicPublishOptions::default(),
            i.to_string().as_bytes(),
            BasicProperties::default(),
        ))
        .await
        .unwrap();
        assert!(within(c).await.unwrap().is_ack());
    }
}

async fn next(c: &mut Consumer) -> Delivery {
    within(c.next()).await.expect("consumer open").unwrap()
}

fn body(d: &Delivery) -> String {
    String::from_utf8(d.data.clone()).unwrap()
}

async fn ready_count(ch: &Channel, queue: &str) -> u32 {
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

async fn confirming_channel(conn: &Connection) -> Channel {
    let ch = channel(conn).await;
    within(ch.confirm_select(ConfirmSelectOptions::default()))
        .await
        .unwrap();
    ch
}

#[tokio::test]
async fn a_higher_priority_consumer_with_credit_gets_every_message() {
    let server = start().await;
    let conn = connect(&server).await;
    let pubch = confirming_channel(&conn).await;
    declare(&pubch, "prio-all", FieldTable::default()).await;
    // The low-priority consumer subscribes first: arrival order must not matter.
    let (_lo_ch, _lo) = consumer(&conn, "prio-all", "low", 0, priority(1)).await;
    let (_hi_ch, mut hi) = consumer(&conn, "prio-all", "high", 0, priority(10)).await;
    publish_n(&pubch, "prio-all", 0, 10).await;
    for i in 0..10 {
        assert_eq!(body(&next(&mut hi).await), i.to_string());
    }
    // Every message went to `high`, once: none can have reached `low`.
    assert_eq!(ready_count(&pubch, "prio-all").await, 0);
}

#[tokio::test]
async fn a_lower_priority_consumer_gets_what_a_full_higher_one_cannot_take() {
    let server = start().await;
    let conn = connect(&server).await;
    let pubch = confirming_channel(&conn).await;
    declare(&pubch, "prio-window", FieldTable::default()).await;
    let (_hi_ch, mut hi) = consumer(&conn, "prio-window", "high", 2, priority(5)).await;
    let (_lo_ch, mut lo) = consumer(&conn, "prio-window", "low", 0, priority(0)).await;
    publish_n(&pubch, "prio-window", 0, 6).await;
    let h: Vec<Delivery> = vec![next(&mut hi).await, next(&mut hi).await];
    assert_eq!(
        h.iter().map(body).collect::<Vec<_>>(),
        ["0", "1"],
        "the high-priority consumer fills its window first"
    );
    let mut low = Vec::new();
    for _ in 0..4 {
        low.push(body(&next(&mut lo).await));
    }
    assert_eq!(low, ["2", "3", "4", "5"]);
    // Once `high` acks, it has credit again and takes the next messages.
    for d in &h {
        within(d.ack(BasicAckOptions::default())).await.unwrap();
    }
    publish_n(&pubch, "prio-window", 6, 2).await;
    assert_eq!(body(&next(&mut hi).await), "6");
    assert_eq!(body(&next(&mut hi).await), "7");
}

#[tokio::test]
async fn consumers_of_equal_priority_share_round_robin() {
    let server = start().await;
    let conn = connect(&server).await;
    let pubch = confirming_channel(&conn).await;
    declare(&pubch, "prio-rr", FieldTable::default()).await;
    let (_lo_ch, _lo) = consumer(&conn, "prio-rr", "low", 0, priority(-3)).await;
    let (_a_ch, mut a) = consumer(&conn, "prio-rr", "a", 0, priority(3)).await;
    let (_b_ch, mut b) = consumer(&conn, "prio-rr", "b", 0, priority(3)).await;
    publish_n(&pubch, "prio-rr", 0, 6).await;
    let mut got_a = Vec::new();
    let mut got_b = Vec::new();
    for _ in 0..3 {
        got_a.push(body(&next(&mut a).await));
        got_b.push(body(&next(&mut b).await));
    }
    assert_eq!(got_a, ["0", "2", "4"]);
    assert_eq!(got_b, ["1", "3", "5"]);
    assert_eq!(ready_count(&pubch, "prio-rr").await, 0);
}

#[tokio::test]
async fn a_non_integer_consumer_priority_is_refused_with_406() {
    let server = start().await;
    let conn = connect(&server).await;
    let ch = channel(&conn).await;
    declare(&ch, "prio-bad", FieldTable::default()).await;
    let e = within(ch.basic_consume(
        "prio-bad",
        "c",
        BasicConsumeOptions::default(),
        args(&[("x-priority", AMQPValue::LongString("high".into()))]),
    ))
    .await
    .unwrap_err();
    let lapin::Error::ProtocolError(e) = e else {
        panic!("{e:?}")
    };
    assert_eq!(e.get_id(), 406);
    assert_eq!(
        e.get_message().as_str(),
        "PRECONDITION_FAILED - invalid arg 'x-priority' for queue 'prio-bad' in vhost '/': \
         \"expected integer, got longstr\""
    );
}

fn sac() -> FieldTable {
    args(&[("x-single-active-consumer", AMQPValue::Boolean(true))])
}

#[tokio::test]
async fn single_active_consumer_gets_everything_until_it_leaves() {
    let server = start().await;
    let conn = connect(&server).await;
    let pubch = confirming_channel(&conn).await;
    declare(&pubch, "sac", sac()).await;
    let (a_ch, mut a) = consumer(&conn, "sac", "a", 0, FieldTable::default()).await;
    let (_b_ch, mut b) = consumer(&conn, "sac", "b", 0, FieldTable::default()).await;
    // A later consumer with a higher priority waits too: the active one is not switched.
    let (_c_ch, mut c) = consumer(&conn, "sac", "c", 0, priority(10)).await;
    publish_n(&pubch, "sac", 0, 5).await;
    for i in 0..5 {
        let d = next(&mut a).await;
        assert_eq!(body(&d), i.to_string());
        within(d.ack(BasicAckOptions::default())).await.unwrap();
    }
    assert_eq!(ready_count(&pubch, "sac").await, 0);
    // `a` leaves: the highest-priority waiting consumer (`c`) takes over, then `b`.
    within(a_ch.basic_cancel("a", BasicCancelOptions::default()))
        .await
        .unwrap();
    publish_n(&pubch, "sac", 5, 3).await;
    for i in 5..8 {
        let d = next(&mut c).await;
        assert_eq!(body(&d), i.to_string());
        within(d.ack(BasicAckOptions::default())).await.unwrap();
    }
    assert_eq!(ready_count(&pubch, "sac").await, 0);
    within(_c_ch.close(200, "bye")).await.unwrap();
    publish_n(&pubch, "sac", 8, 2).await;
    assert_eq!(body(&next(&mut b).await), "8");
    assert_eq!(body(&next(&mut b).await), "9");
}

#[tokio::test]
async fn single_active_consumer_hands_over_unacked_messages_in_order() {
    let server = start().await;
    let conn = connect(&server).await;
    let pubch = confirming_channel(&conn).await;
    declare(&pubch, "sac-handover", sac()).await;
    let (a_ch, mut a) = consumer(&conn, "sac-handover", "a", 0, FieldTable::default()).await;
    let (_b_ch, mut b) = consumer(&conn, "sac-handover", "b", 0, FieldTable::default()).await;
    publish_n(&pubch, "sac-handover", 0, 3).await;
    for i in 0..3 {
        assert_eq!(body(&next(&mut a).await), i.to_string());
    }
    // `a` dies with all three unacked: `b` becomes active and gets them, redelivered, in order.
    within(a_ch.close(200, "crash")).await.unwrap();
    for i in 0..3 {
        let d = next(&mut b).await;
        assert_eq!(body(&d), i.to_string());
        assert!(d.redelivered);
    }
}

#[tokio::test]
async fn exclusive_consume_on_a_single_active_consumer_queue_is_refused_with_403() {
    let server = start().await;
    let conn = connect(&server).await;
    let ch = channel(&conn).await;
    declare(&ch, "sac-excl", sac()).await;
    let e = within(ch.basic_consume(
        "sac-excl",
        "x",
        BasicConsumeOptions {
            exclusive: true,
            ..Default::default()
        },
        FieldTable::default(),
    ))
    .await
    .unwrap_err();
    let lapin::Error::ProtocolError(e) = e else {
        panic!("{e:?}")
    };
    assert_eq!(e.get_id(), 403);
    assert_eq!(
        e.get_message().as_str(),
        "ACCESS_REFUSED - queue 'sac-excl' in vhost '/' in exclusive use"
    );
}

const REPLY_TO: &str = "amq.rabbitmq.reply-to";

fn no_ack() -> BasicConsumeOptions {
    BasicConsumeOptions {
        no_ack: true,
        ..Default::default()
    }
}

#[tokio::test]
async fn direct_reply_to_carries_an_rpc_round_trip_between_connections() {
    let server = start().await;
    // The RPC server, on its own connection.
    let server_conn = connect(&server).await;
    let sch = channel(&server_conn).await;
    declare(&sch, "rpc", FieldTable::default()).await;
    let mut requests = within(sch.basic_consume("rpc", "srv", no_ack(), FieldTable::default()))
        .await
        .unwrap();
    // The client: consumes replies (no-ack), then publishes a request on the same channel.
    let client = connect(&server).await;
    let cch = channel(&client).await;
    // A passive declare of the pseudo queue succeeds, as in RabbitMQ.
    within(cch.queue_declare(
        REPLY_TO,
        QueueDeclareOptions {
            passive: true,
            ..Default::default()
        },
        FieldTable::default(),
    ))
    .await
    .unwrap();
    let mut replies = within(cch.basic_consume(REPLY_TO, "", no_ack(), FieldTable::default()))
        .await
        .unwrap();
    within(
        cch.basic_publish(
            "",
            "rpc",
            BasicPublishOptions::default(),
            b"2+2",
            BasicProperties::default()
                .with_reply_to(REPLY_TO.into())
                .with_correlation_id("42".into()),
        ),
    )
    .await
    .unwrap();
    let req = next(&mut requests).await;
    let reply_to = req.properties.reply_to().clone().unwrap();
    assert!(
        reply_to.as_str().starts_with("amq.rabbitmq.reply-to.") && reply_to.as_str().len() > 30,
        "the broker hands out a private address, got {reply_to}"
    );
    assert_eq!(
        req.properties
            .correlation_id()
            .as_ref()
            .map(ShortString::as_str),
        Some("42"),
        "other properties are kept"
    );
    within(sch.basic_publish(
        "",
        reply_to.as_str(),
        BasicPublishOptions::default(),
        b"4",
        BasicProperties::default().with_correlation_id("42".into()),
    ))
    .await
    .unwrap();
    let reply = next(&mut replies).await;
    assert_eq!(reply.data, b"4");
    assert_eq!(reply.routing_key.as_str(), reply_to.as_str());
    // A passive declare of the address answers as RabbitMQ does: 0 messages, 1 consumer.
    let probe = channel(&client).await;
    let q = within(probe.queue_declare(
        reply_to.as_str(),
        QueueDeclareOptions {
            passive: true,
            ..Default::default()
        },
        FieldTable::default(),
    ))
    .await
    .unwrap();
    assert_eq!((q.message_count(), q.consumer_count()), (0, 1));
    // Once the client stops consuming, its address routes nowhere: a mandatory reply returns.
    let tag = replies.tag();
    within(cch.basic_cancel(tag.as_str(), BasicCancelOptions::default()))
        .await
        .unwrap();
    let cfm = confirming_channel(&server_conn).await;
    let c = within(cfm.basic_publish(
        "",
        reply_to.as_str(),
        BasicPublishOptions {
            mandatory: true,
            ..Default::default()
        },
        b"late",
        BasicProperties::default(),
    ))
    .await
    .unwrap();
    match within(c).await.unwrap() {
        Confirmation::Ack(Some(returned)) => assert_eq!(returned.reply_code, 312),
        other => panic!("expected a returned message, got {other:?}"),
    }
}

#[tokio::test]
async fn direct_reply_to_misuse_gets_rabbitmqs_errors() {
    let server = start().await;
    let conn = connect(&server).await;
    // Publishing with the pseudo address but no reply consumer on this channel.
    let ch = channel(&conn).await;
    let err = next_channel_error(&ch);
    within(ch.basic_publish(
        "",
        "anywhere",
        BasicPublishOptions::default(),
        b"q",
        BasicProperties::default().with_reply_to(REPLY_TO.into()),
    ))
    .await
    .unwrap();
    let lapin::Error::ProtocolError(e) = within(err).await.unwrap() else {
        panic!("expected a channel error")
    };
    assert_eq!(e.get_id(), 406);
    assert_eq!(
        e.get_message().as_str(),
        "PRECONDITION_FAILED - fast reply consumer does not exist"
    );
    // Consuming replies with acks.
    let ch = channel(&conn).await;
    let e = within(ch.basic_consume(
        REPLY_TO,
        "",
        BasicConsumeOptions::default(),
        FieldTable::default(),
    ))
    .await
    .unwrap_err();
    assert!(
        matches!(e, lapin::Error::ProtocolError(ref p) if p.get_id() == 406
            && p.get_message().as_str() == "PRECONDITION_FAILED - reply consumer cannot acknowledge"),
        "{e:?}"
    );
    // Two reply consumers on one channel.
    let ch = channel(&conn).await;
    within(ch.basic_consume(REPLY_TO, "r1", no_ack(), FieldTable::default()))
        .await
        .unwrap();
    let e = within(ch.basic_consume(REPLY_TO, "r2", no_ack(), FieldTable::default()))
        .await
        .unwrap_err();
    assert!(
        matches!(e, lapin::Error::ProtocolError(ref p) if p.get_id() == 406
            && p.get_message().as_str() == "PRECONDITION_FAILED - reply consumer already set"),
        "{e:?}"
    );
    // The connection itself is fine.
    let ch = channel(&conn).await;
    declare(&ch, "still-works", FieldTable::default()).await;
}
