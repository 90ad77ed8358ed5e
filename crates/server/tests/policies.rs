//! Policies over a real client: settings applied by name pattern to new and existing queues and
//! exchanges, merged with queue arguments by RabbitMQ's rules (the smaller limit wins, otherwise
//! the argument wins), changed and cleared at run time.

mod common;

use common::{amqp_url, start, within};
use lapin::options::*;
use lapin::publisher_confirm::Confirmation;
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, ExchangeKind};
use serde_json::json;
use warren_core::definitions::policy_from_json;

async fn channel(server: &warren_server::RunningServer) -> (Connection, Channel) {
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

fn set_policy(server: &warren_server::RunningServer, p: serde_json::Value) {
    let policy = policy_from_json(&p).expect("a valid policy");
    server.broker.vhost("/").unwrap().set_policy(policy);
}

fn args(pairs: &[(&str, AMQPValue)]) -> FieldTable {
    let mut t = FieldTable::default();
    for (k, v) in pairs {
        t.insert((*k).into(), v.clone());
    }
    t
}

async fn declare(ch: &Channel, name: &str, a: FieldTable) {
    within(ch.queue_declare(name, QueueDeclareOptions::default(), a))
        .await
        .unwrap();
}

async fn publish_to(ch: &Channel, exchange: &str, key: &str, body: &str) -> Confirmation {
    within(
        within(ch.basic_publish(
            exchange,
            key,
            BasicPublishOptions::default(),
            body.as_bytes(),
            BasicProperties::default(),
        ))
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
async fn a_policy_limits_matching_queues_and_the_smaller_limit_wins() {
    let server = start().await;
    let (_c, ch) = channel(&server).await;
    set_policy(
        &server,
        json!({"vhost": "/", "name": "limits", "pattern": "^lim\\.", "apply-to": "queues",
               "priority": 1, "definition": {"max-length": 2, "overflow": "reject-publish"}}),
    );
    declare(&ch, "lim.plain", FieldTable::default()).await;
    // x-max-length 5 and the policy's 2: the smaller applies.
    declare(
        &ch,
        "lim.arg",
        args(&[("x-max-length", AMQPValue::LongInt(5))]),
    )
    .await;
    // x-overflow given by the queue wins over the policy's reject-publish.
    declare(
        &ch,
        "lim.drop",
        args(&[("x-overflow", AMQPValue::LongString("drop-head".into()))]),
    )
    .await;
    declare(&ch, "other", FieldTable::default()).await;
    for q in ["lim.plain", "lim.arg", "lim.drop", "other"] {
        for i in 0..3 {
            let c = publish_to(&ch, "", q, &i.to_string()).await;
            let refused = q != "lim.drop" && q != "other" && i == 2;
            assert_eq!(c.is_nack(), refused, "{q} message {i}");
        }
    }
    assert_eq!(drain(&ch, "lim.plain").await, ["0", "1"]);
    assert_eq!(drain(&ch, "lim.arg").await, ["0", "1"]);
    assert_eq!(drain(&ch, "lim.drop").await, ["1", "2"]);
    assert_eq!(drain(&ch, "other").await, ["0", "1", "2"]);
}

#[tokio::test]
async fn policies_change_and_clear_at_run_time() {
    let server = start().await;
    let (_c, ch) = channel(&server).await;
    declare(&ch, "live", FieldTable::default()).await;
    for i in 0..5 {
        assert!(publish_to(&ch, "", "live", &i.to_string()).await.is_ack());
    }
    // A new policy on an existing queue trims it at once (drop-head keeps the newest).
    set_policy(
        &server,
        json!({"vhost": "/", "name": "cap", "pattern": "^live$", "definition": {"max-length": 2}}),
    );
    assert_eq!(
        server
            .broker
            .vhost("/")
            .unwrap()
            .queue("live", 0)
            .unwrap()
            .policy_name()
            .as_deref(),
        Some("cap")
    );
    assert_eq!(drain(&ch, "live").await, ["3", "4"]);
    // A higher-priority policy takes over; clearing it brings the first one back.
    set_policy(
        &server,
        json!({"vhost": "/", "name": "bigger", "pattern": "^li", "priority": 10,
               "definition": {"max-length": 4}}),
    );
    for i in 0..5 {
        publish_to(&ch, "", "live", &i.to_string()).await;
    }
    assert_eq!(drain(&ch, "live").await, ["1", "2", "3", "4"]);
    assert!(server.broker.vhost("/").unwrap().clear_policy("bigger"));
    assert!(server.broker.vhost("/").unwrap().clear_policy("cap"));
    assert!(!server.broker.vhost("/").unwrap().clear_policy("cap"));
    for i in 0..5 {
        publish_to(&ch, "", "live", &i.to_string()).await;
    }
    assert_eq!(drain(&ch, "live").await.len(), 5, "no limit once cleared");
}

#[tokio::test]
async fn a_dead_letter_policy_with_ttl_moves_expired_messages() {
    let server = start().await;
    let (_c, ch) = channel(&server).await;
    set_policy(
        &server,
        json!({"vhost": "/", "name": "dlx", "pattern": "^work\\.", "apply-to": "queues",
               "definition": {"dead-letter-exchange": "", "dead-letter-routing-key": "graveyard",
                              "message-ttl": 50}}),
    );
    declare(&ch, "graveyard", FieldTable::default()).await;
    declare(&ch, "work.a", FieldTable::default()).await;
    assert!(publish_to(&ch, "", "work.a", "late").await.is_ack());
    // Expired by the policy's TTL, dead-lettered by its DLX with its routing key.
    let got = within(async {
        loop {
            if let Some(m) = ch
                .basic_get("graveyard", BasicGetOptions { no_ack: true })
                .await
                .unwrap()
            {
                return m;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await;
    assert_eq!(got.delivery.data, b"late");
    let headers = got.delivery.properties.headers().clone().unwrap();
    let death = headers.inner().get("x-first-death-reason").unwrap();
    assert_eq!(death, &AMQPValue::LongString("expired".into()));
}

#[tokio::test]
async fn an_alternate_exchange_policy_catches_unroutable_messages_unless_the_argument_says_otherwise(
) {
    let server = start().await;
    let (_c, ch) = channel(&server).await;
    set_policy(
        &server,
        json!({"vhost": "/", "name": "ae", "pattern": "^ae\\.", "apply-to": "exchanges",
               "definition": {"alternate-exchange": "unrouted"}}),
    );
    let fanout = |name: &'static str| {
        ch.exchange_declare(
            name,
            ExchangeKind::Fanout,
            ExchangeDeclareOptions::default(),
            FieldTable::default(),
        )
    };
    within(fanout("unrouted")).await.unwrap();
    within(fanout("mine")).await.unwrap();
    declare(&ch, "unrouted-q", FieldTable::default()).await;
    declare(&ch, "mine-q", FieldTable::default()).await;
    for (x, q) in [("unrouted", "unrouted-q"), ("mine", "mine-q")] {
        within(ch.queue_bind(q, x, "", QueueBindOptions::default(), FieldTable::default()))
            .await
            .unwrap();
    }
    for (name, a) in [
        ("ae.policy", FieldTable::default()),
        (
            "ae.argument",
            args(&[("alternate-exchange", AMQPValue::LongString("mine".into()))]),
        ),
    ] {
        within(ch.exchange_declare(
            name,
            ExchangeKind::Direct,
            ExchangeDeclareOptions::default(),
            a,
        ))
        .await
        .unwrap();
    }
    publish_to(&ch, "ae.policy", "nowhere", "p").await;
    publish_to(&ch, "ae.argument", "nowhere", "a").await;
    assert_eq!(drain(&ch, "unrouted-q").await, ["p"]);
    assert_eq!(drain(&ch, "mine-q").await, ["a"], "the argument wins");
}

#[tokio::test]
async fn policies_survive_a_definitions_round_trip_from_a_rabbitmq_export() {
    let server = start().await;
    let text = include_str!("../../core/tests/fixtures/rabbitmq-3.10.8-policies.json");
    let defs = warren_core::Definitions::from_json(text).unwrap();
    server.broker.import_definitions(&defs).unwrap();
    let exported = server.broker.export_definitions();
    let mut want = defs.policies.clone();
    let mut got = exported.policies.clone();
    let key = |v: &serde_json::Value| v["name"].as_str().unwrap().to_string();
    want.sort_by_key(key);
    got.sort_by_key(key);
    assert_eq!(got, want);
    // And they act: the RabbitMQ policy "limits" caps lim.* queues at 2 with reject-publish.
    let (_c, ch) = channel(&server).await;
    declare(&ch, "lim.x", FieldTable::default()).await;
    let mut acks = Vec::new();
    for i in 0..3 {
        acks.push(publish_to(&ch, "", "lim.x", &i.to_string()).await.is_ack());
    }
    assert_eq!(acks, [true, true, false]);
}
