//! RabbitMQ's extensions where they meet: dead-letter cycles, CC keys with dead-lettering and
//! alternate exchanges, drop-head at the edges of its limits, direct reply-to addresses.
//! Every expectation here is RabbitMQ 3.10's behaviour: each test deletes and declares what it
//! uses, so it runs against RabbitMQ too (`COMPARE_AMQP_URL`, see `common::amqp_url`).

mod common;

use std::time::Duration;

use common::{amqp_url, start, within};
use lapin::options::*;
use lapin::publisher_confirm::Confirmation;
use lapin::types::{AMQPValue, FieldArray, FieldTable};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, ExchangeKind};

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

fn s(v: &str) -> AMQPValue {
    AMQPValue::LongString(v.into())
}

fn table(pairs: &[(&str, AMQPValue)]) -> FieldTable {
    let mut t = FieldTable::default();
    for (k, v) in pairs {
        t.insert((*k).into(), v.clone());
    }
    t
}

fn keys(ks: &[&str]) -> AMQPValue {
    AMQPValue::FieldArray(FieldArray::from(
        ks.iter().map(|k| s(k)).collect::<Vec<_>>(),
    ))
}

/// A fresh queue (deleted first: RabbitMQ keeps what an earlier run left).
async fn queue(ch: &Channel, name: &str, args: &[(&str, AMQPValue)]) {
    within(ch.queue_delete(name, QueueDeleteOptions::default()))
        .await
        .unwrap();
    within(ch.queue_declare(name, QueueDeclareOptions::default(), table(args)))
        .await
        .unwrap();
}

async fn exchange(ch: &Channel, name: &str, kind: ExchangeKind, args: &[(&str, AMQPValue)]) {
    within(ch.exchange_delete(name, ExchangeDeleteOptions::default()))
        .await
        .unwrap();
    within(ch.exchange_declare(name, kind, ExchangeDeclareOptions::default(), table(args)))
        .await
        .unwrap();
}

async fn bind(ch: &Channel, q: &str, x: &str, key: &str) {
    within(ch.queue_bind(
        q,
        x,
        key,
        QueueBindOptions::default(),
        FieldTable::default(),
    ))
    .await
    .unwrap();
}

/// Publishes on a confirming channel; the broker's answer.
async fn publish(ch: &Channel, x: &str, key: &str, body: &[u8], headers: FieldTable) -> bool {
    let c = within(ch.basic_publish(
        x,
        key,
        BasicPublishOptions::default(),
        body,
        BasicProperties::default().with_headers(headers),
    ))
    .await
    .unwrap();
    match within(c).await.unwrap() {
        Confirmation::Ack(_) => true,
        Confirmation::Nack(_) => false,
        Confirmation::NotRequested => panic!("not a confirming channel"),
    }
}

async fn count(ch: &Channel, q: &str) -> u32 {
    within(ch.queue_declare(
        q,
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

async fn get(ch: &Channel, q: &str) -> Option<lapin::message::Delivery> {
    within(ch.basic_get(q, BasicGetOptions { no_ack: true }))
        .await
        .unwrap()
        .map(|m| m.delivery)
}

/// Waits (bounded) until `q` holds `n` messages.
async fn wait_count(ch: &Channel, q: &str, n: u32) {
    within(async {
        while count(ch, q).await != n {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
}

fn header(d: &lapin::message::Delivery, k: &str) -> Option<AMQPValue> {
    d.properties.headers().as_ref()?.inner().get(k).cloned()
}

fn field(t: &AMQPValue, k: &str) -> AMQPValue {
    match t {
        AMQPValue::FieldTable(t) => t.inner().get(k).cloned().unwrap_or(AMQPValue::Void),
        other => panic!("not a table: {other:?}"),
    }
}

/// The x-death history as (queue, reason, count), most recent first.
fn deaths(d: &lapin::message::Delivery) -> Vec<(String, String, i64)> {
    let Some(AMQPValue::FieldArray(a)) = header(d, "x-death") else {
        panic!("no x-death in {:?}", d.properties.headers());
    };
    a.as_slice()
        .iter()
        .map(|t| {
            let text = |k| match field(t, k) {
                AMQPValue::LongString(s) => s.to_string(),
                other => panic!("{k}: {other:?}"),
            };
            let n = match field(t, "count") {
                AMQPValue::LongLongInt(n) => n,
                other => panic!("count: {other:?}"),
            };
            (text("queue"), text("reason"), n)
        })
        .collect()
}

fn routing_keys(d: &lapin::message::Delivery) -> AMQPValue {
    let Some(AMQPValue::FieldArray(a)) = header(d, "x-death") else {
        panic!("no x-death");
    };
    field(&a.as_slice()[0], "routing-keys")
}

fn death(q: &str, reason: &str, n: i64) -> (String, String, i64) {
    (q.to_string(), reason.to_string(), n)
}

#[tokio::test]
async fn a_dead_letter_cycle_counts_only_the_deaths_since_the_queue_s_last_visit() {
    // Rejected from ext-c0 into ext-c10, which expires it back to itself (and to a spy) through
    // a fanout: the rejection is older than ext-c10's own death, so the second round is a
    // fully automatic cycle and is dropped. The spy sees one copy.
    let server = start().await;
    let (_c, ch) = open(&server).await;
    exchange(&ch, "ext-cycx", ExchangeKind::Fanout, &[]).await;
    queue(&ch, "ext-spy", &[]).await;
    bind(&ch, "ext-spy", "ext-cycx", "").await;
    queue(
        &ch,
        "ext-c0",
        &[
            ("x-dead-letter-exchange", s("")),
            ("x-dead-letter-routing-key", s("ext-c10")),
        ],
    )
    .await;
    queue(
        &ch,
        "ext-c10",
        &[
            ("x-message-ttl", AMQPValue::LongInt(30)),
            ("x-dead-letter-exchange", s("ext-cycx")),
        ],
    )
    .await;
    bind(&ch, "ext-c10", "ext-cycx", "").await;
    assert!(publish(&ch, "", "ext-c0", b"m", FieldTable::default()).await);
    let m = within(ch.basic_get("ext-c0", BasicGetOptions { no_ack: false }))
        .await
        .unwrap()
        .unwrap();
    m.delivery
        .reject(BasicRejectOptions { requeue: false })
        .await
        .unwrap();
    wait_count(&ch, "ext-spy", 1).await;
    // Many TTLs later: still one copy, and nothing left going round.
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(count(&ch, "ext-c10").await, 0);
    assert_eq!(count(&ch, "ext-spy").await, 1);
    let d = get(&ch, "ext-spy").await.unwrap();
    assert_eq!(
        deaths(&d),
        [
            death("ext-c10", "expired", 1),
            death("ext-c0", "rejected", 1)
        ]
    );
}

#[tokio::test]
async fn a_dead_letter_cycle_with_a_rejection_in_every_round_goes_on() {
    // ext-c30 expires into ext-c31, whose consumer rejects back into ext-c30: each round has
    // a rejection, so it is not a cycle RabbitMQ drops; the counts climb.
    let server = start().await;
    let (_c, ch) = open(&server).await;
    queue(
        &ch,
        "ext-c30",
        &[
            ("x-message-ttl", AMQPValue::LongInt(20)),
            ("x-dead-letter-exchange", s("")),
            ("x-dead-letter-routing-key", s("ext-c31")),
        ],
    )
    .await;
    queue(
        &ch,
        "ext-c31",
        &[
            ("x-dead-letter-exchange", s("")),
            ("x-dead-letter-routing-key", s("ext-c30")),
        ],
    )
    .await;
    assert!(publish(&ch, "", "ext-c30", b"m", FieldTable::default()).await);
    let mut seen = Vec::new();
    for _ in 0..3 {
        wait_count(&ch, "ext-c31", 1).await;
        let m = within(ch.basic_get("ext-c31", BasicGetOptions { no_ack: false }))
            .await
            .unwrap()
            .unwrap();
        seen.push(deaths(&m.delivery));
        m.delivery
            .reject(BasicRejectOptions { requeue: false })
            .await
            .unwrap();
    }
    assert_eq!(
        seen,
        [
            vec![death("ext-c30", "expired", 1)],
            vec![
                death("ext-c30", "expired", 2),
                death("ext-c31", "rejected", 1)
            ],
            vec![
                death("ext-c30", "expired", 3),
                death("ext-c31", "rejected", 2)
            ],
        ]
    );
    queue(&ch, "ext-c30", &[]).await;
}

#[tokio::test]
async fn cc_keys_are_routed_together_and_only_then_the_alternate_exchange() {
    // The alternate exchange gets a message only when neither its routing key nor any CC or
    // BCC key matched.
    let server = start().await;
    let (_c, ch) = open(&server).await;
    exchange(&ch, "ext-ae", ExchangeKind::Fanout, &[]).await;
    exchange(
        &ch,
        "ext-cc",
        ExchangeKind::Direct,
        &[("alternate-exchange", s("ext-ae"))],
    )
    .await;
    queue(&ch, "ext-ae-q", &[]).await;
    bind(&ch, "ext-ae-q", "ext-ae", "").await;
    queue(&ch, "ext-k1", &[]).await;
    bind(&ch, "ext-k1", "ext-cc", "k1").await;
    let cc = |k: &[&str]| table(&[("CC", keys(k))]);
    assert!(publish(&ch, "ext-cc", "k1", b"a", cc(&["nomatch"])).await);
    assert!(publish(&ch, "ext-cc", "nomatch", b"b", cc(&["k1"])).await);
    assert!(
        publish(
            &ch,
            "ext-cc",
            "nomatch",
            b"c",
            table(&[("BCC", keys(&["k1"]))])
        )
        .await
    );
    assert!(
        publish(
            &ch,
            "ext-cc",
            "nomatch",
            b"d",
            table(&[("CC", keys(&["no2"])), ("BCC", keys(&["no3"]))])
        )
        .await
    );
    assert_eq!(count(&ch, "ext-k1").await, 3);
    assert_eq!(count(&ch, "ext-ae-q").await, 1);
    assert_eq!(get(&ch, "ext-ae-q").await.unwrap().data, b"d");
}

#[tokio::test]
async fn an_exchange_reached_through_another_uses_its_own_alternate_exchange() {
    // ext-x1 routes to ext-x2, which has no binding for the key: ext-x2's alternate exchange
    // takes it, though ext-x1 did route it somewhere.
    let server = start().await;
    let (_c, ch) = open(&server).await;
    exchange(&ch, "ext-ae2", ExchangeKind::Fanout, &[]).await;
    queue(&ch, "ext-ae2-q", &[]).await;
    bind(&ch, "ext-ae2-q", "ext-ae2", "").await;
    exchange(
        &ch,
        "ext-x2",
        ExchangeKind::Direct,
        &[("alternate-exchange", s("ext-ae2"))],
    )
    .await;
    exchange(&ch, "ext-x1", ExchangeKind::Direct, &[]).await;
    within(ch.exchange_bind(
        "ext-x2",
        "ext-x1",
        "k",
        ExchangeBindOptions::default(),
        FieldTable::default(),
    ))
    .await
    .unwrap();
    assert!(publish(&ch, "ext-x1", "k", b"inner", FieldTable::default()).await);
    assert_eq!(count(&ch, "ext-ae2-q").await, 1);
}

#[tokio::test]
async fn dead_letters_keep_the_cc_keys_unless_a_dead_letter_routing_key_replaces_them() {
    let server = start().await;
    let (_c, ch) = open(&server).await;
    exchange(&ch, "ext-dlx", ExchangeKind::Direct, &[]).await;
    for k in ["ext-src", "c3", "b3"] {
        let q = format!("ext-d-{}", k.trim_start_matches("ext-"));
        queue(&ch, &q, &[]).await;
        bind(&ch, &q, "ext-dlx", k).await;
    }
    let headers = || table(&[("CC", keys(&["c3"])), ("BCC", keys(&["b3"]))]);
    // Without a dead-letter routing key: the message's key and its CC keys, in x-death too
    // (BCC was removed on publish, so it is not named).
    queue(&ch, "ext-src", &[("x-dead-letter-exchange", s("ext-dlx"))]).await;
    assert!(publish(&ch, "", "ext-src", b"x", headers()).await);
    let m = within(ch.basic_get("ext-src", BasicGetOptions { no_ack: false }))
        .await
        .unwrap()
        .unwrap();
    m.delivery
        .reject(BasicRejectOptions { requeue: false })
        .await
        .unwrap();
    for q in ["ext-d-src", "ext-d-c3"] {
        wait_count(&ch, q, 1).await;
        let d = get(&ch, q).await.unwrap();
        assert_eq!(routing_keys(&d), keys(&["ext-src", "c3"]), "{q}");
        assert_eq!(header(&d, "CC"), Some(keys(&["c3"])), "{q}: CC stays");
        assert_eq!(d.routing_key.as_str(), "ext-src");
        assert_eq!(d.exchange.as_str(), "ext-dlx");
    }
    // (RabbitMQ also routes this dead letter by the BCC key, which Warren no longer knows
    // once the message is queued: ext-d-b3 is not checked.)
    queue(&ch, "ext-d-b3", &[]).await;
    bind(&ch, "ext-d-b3", "ext-dlx", "b3").await;
    // With one: that key only, the CC header is dropped; x-death still names the CC keys.
    queue(
        &ch,
        "ext-srcb",
        &[
            ("x-dead-letter-exchange", s("ext-dlx")),
            ("x-dead-letter-routing-key", s("ext-src")),
        ],
    )
    .await;
    assert!(publish(&ch, "", "ext-srcb", b"y", headers()).await);
    let m = within(ch.basic_get("ext-srcb", BasicGetOptions { no_ack: false }))
        .await
        .unwrap()
        .unwrap();
    m.delivery
        .reject(BasicRejectOptions { requeue: false })
        .await
        .unwrap();
    wait_count(&ch, "ext-d-src", 1).await;
    let d = get(&ch, "ext-d-src").await.unwrap();
    assert_eq!(d.data, b"y");
    assert_eq!(routing_keys(&d), keys(&["ext-srcb", "c3"]));
    assert_eq!(header(&d, "CC"), None);
    for q in ["ext-d-c3", "ext-d-b3"] {
        assert_eq!(count(&ch, q).await, 0, "{q}");
    }
}

#[tokio::test]
async fn drop_head_accepts_first_and_drops_from_the_head_until_within_its_limits() {
    let server = start().await;
    let (conn, ch) = open(&server).await;
    queue(&ch, "ext-dl", &[]).await;
    let dlq = [
        ("x-dead-letter-exchange", s("")),
        ("x-dead-letter-routing-key", s("ext-dl")),
    ];
    // x-max-length 0: acked, and dead-lettered at once...
    let mut a = dlq.to_vec();
    a.push(("x-max-length", AMQPValue::LongInt(0)));
    queue(&ch, "ext-ml0", &a).await;
    assert!(publish(&ch, "", "ext-ml0", b"gone", FieldTable::default()).await);
    assert_eq!(count(&ch, "ext-ml0").await, 0);
    wait_count(&ch, "ext-dl", 1).await;
    assert_eq!(get(&ch, "ext-dl").await.unwrap().data, b"gone");
    // ...or delivered, if a consumer is waiting.
    let cch = within(conn.create_channel()).await.unwrap();
    let mut consumer = within(cch.basic_consume(
        "ext-ml0",
        "waiting",
        BasicConsumeOptions {
            no_ack: true,
            ..Default::default()
        },
        FieldTable::default(),
    ))
    .await
    .unwrap();
    assert!(publish(&ch, "", "ext-ml0", b"taken", FieldTable::default()).await);
    let d = within(futures_lite::StreamExt::next(&mut consumer))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(d.data, b"taken");
    assert_eq!(count(&ch, "ext-dl").await, 0);
    // One message bigger than x-max-length-bytes: acked, and it goes with the one before it.
    let mut a = dlq.to_vec();
    a.push(("x-max-length-bytes", AMQPValue::LongInt(5)));
    queue(&ch, "ext-mlb", &a).await;
    assert!(publish(&ch, "", "ext-mlb", b"abc", FieldTable::default()).await);
    assert!(publish(&ch, "", "ext-mlb", b"0123456789", FieldTable::default()).await);
    assert_eq!(count(&ch, "ext-mlb").await, 0);
    wait_count(&ch, "ext-dl", 2).await;
    assert_eq!(get(&ch, "ext-dl").await.unwrap().data, b"abc");
    assert_eq!(get(&ch, "ext-dl").await.unwrap().data, b"0123456789");
}

#[tokio::test]
async fn reject_publish_at_max_length_0_refuses_even_with_a_consumer_waiting() {
    let server = start().await;
    let (conn, ch) = open(&server).await;
    queue(&ch, "ext-dl2", &[]).await;
    queue(
        &ch,
        "ext-rp0",
        &[
            ("x-max-length", AMQPValue::LongInt(0)),
            ("x-overflow", s("reject-publish")),
        ],
    )
    .await;
    let cch = within(conn.create_channel()).await.unwrap();
    let mut consumer = within(cch.basic_consume(
        "ext-rp0",
        "waiting",
        BasicConsumeOptions {
            no_ack: true,
            ..Default::default()
        },
        FieldTable::default(),
    ))
    .await
    .unwrap();
    assert!(!publish(&ch, "", "ext-rp0", b"no", FieldTable::default()).await);
    let nothing = tokio::time::timeout(
        Duration::from_millis(200),
        futures_lite::StreamExt::next(&mut consumer),
    )
    .await;
    assert!(nothing.is_err(), "the refused message was delivered");
    // reject-publish-dlx: refused, and dead-lettered
    queue(
        &ch,
        "ext-rpd0",
        &[
            ("x-max-length", AMQPValue::LongInt(0)),
            ("x-overflow", s("reject-publish-dlx")),
            ("x-dead-letter-exchange", s("")),
            ("x-dead-letter-routing-key", s("ext-dl2")),
        ],
    )
    .await;
    assert!(!publish(&ch, "", "ext-rpd0", b"no", FieldTable::default()).await);
    wait_count(&ch, "ext-dl2", 1).await;
}

async fn passive(conn: &Connection, q: &str) -> Result<(u32, u32), (u16, String)> {
    let ch = within(conn.create_channel()).await.unwrap();
    match within(ch.queue_declare(
        q,
        QueueDeclareOptions {
            passive: true,
            ..Default::default()
        },
        FieldTable::default(),
    ))
    .await
    {
        Ok(q) => {
            let _ = ch.close(200, "bye").await;
            Ok((q.message_count(), q.consumer_count()))
        }
        Err(lapin::Error::ProtocolError(e)) => Err((e.get_id(), e.get_message().to_string())),
        Err(e) => panic!("{e:?}"),
    }
}

#[tokio::test]
async fn a_passive_declare_finds_only_live_reply_to_addresses() {
    let server = start().await;
    let (conn, ch) = open(&server).await;
    let base = "amq.rabbitmq.reply-to";
    assert_eq!(passive(&conn, base).await, Ok((0, 1)));
    let bogus = "amq.rabbitmq.reply-to.bogus";
    assert_eq!(
        passive(&conn, bogus).await,
        Err((404, format!("NOT_FOUND - no queue '{bogus}' in vhost '/'")))
    );
    // A live address: the one a request carries.
    let client = within(conn.create_channel()).await.unwrap();
    let replies = within(client.basic_consume(
        base,
        "replies",
        BasicConsumeOptions {
            no_ack: true,
            ..Default::default()
        },
        FieldTable::default(),
    ))
    .await
    .unwrap();
    queue(&ch, "ext-rpc", &[]).await;
    within(client.basic_publish(
        "",
        "ext-rpc",
        BasicPublishOptions::default(),
        b"req",
        BasicProperties::default().with_reply_to(base.into()),
    ))
    .await
    .unwrap();
    wait_count(&ch, "ext-rpc", 1).await;
    let req = get(&ch, "ext-rpc").await.unwrap();
    let address = req.properties.reply_to().clone().unwrap().to_string();
    assert_eq!(passive(&conn, &address).await, Ok((0, 1)));
    // Gone with its consumer.
    within(client.basic_cancel(replies.tag().as_str(), BasicCancelOptions::default()))
        .await
        .unwrap();
    assert_eq!(
        passive(&conn, &address).await,
        Err((
            404,
            format!("NOT_FOUND - no queue '{address}' in vhost '/'")
        ))
    );
}
