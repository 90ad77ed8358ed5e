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
    persistent_counts(&target().await).await;
}

/// The same with a message store (as the binary runs): the persistent messages of a durable
/// queue are those in the store.
#[tokio::test]
async fn queue_counts_stored_messages_as_persistent() {
    let dir = std::env::temp_dir().join(format!("warren-numbers-store-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (store, _) = warren_store::Store::open(&dir, warren_store::StoreOptions::default())
        .expect("message store opens");
    let broker = std::sync::Arc::new(warren_core::Broker::new(warren_core::Limits::default()));
    broker.enable_durability(warren_core::Durability::start(store));
    let env = common::start_with(broker, None).await;
    let t = Target {
        base: env.base.clone(),
        amqp_url: env.amqp_url(),
        client: reqwest::Client::new(),
        env: Some(env),
    };
    persistent_counts(&t).await;
    let _ = std::fs::remove_dir_all(&dir);
}

async fn persistent_counts(t: &Target) {
    let conn = connect(t).await;
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
    let q = until(t, "/api/queues/%2F/numbers-durable", |q| {
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

    let tq = until(t, "/api/queues/%2F/numbers-transient", |q| {
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
    let q = until(t, "/api/queues/%2F/numbers-durable", |q| {
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
    let q = until(t, "/api/queues/%2F/numbers-durable", |q| {
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
    let q = until(t, "/api/queues/%2F/numbers-durable", |q| {
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

fn names(defs: &Value, section: &str) -> Vec<String> {
    defs[section]
        .as_array()
        .unwrap_or_else(|| panic!("no {section} in {defs:#}"))
        .iter()
        .map(|x| x["name"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn bound(defs: &Value, source: &str, destination: &str) -> bool {
    defs["bindings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|b| b["source"] == source && b["destination"] == destination)
}

/// `GET /api/definitions` exports transient objects as RabbitMQ 3.10.8 does: non-durable and
/// auto-delete queues and exchanges and their bindings, but no exclusive queue nor a binding
/// to one. (Checked against RabbitMQ 3.10.8.) Durability shows in each object's `durable`.
#[tokio::test]
async fn definitions_export_has_transient_objects_but_no_exclusive_queues() {
    let t = target().await;
    let conn = connect(&t).await;
    let ch = within(conn.create_channel()).await.unwrap();
    declare(&ch, "numbers-defs-durable", true).await;
    declare(&ch, "numbers-defs-transient", false).await;
    let _ = within(ch.queue_delete("numbers-defs-autodelete", QueueDeleteOptions::default())).await;
    within(ch.queue_declare(
        "numbers-defs-autodelete",
        QueueDeclareOptions {
            auto_delete: true,
            ..Default::default()
        },
        FieldTable::default(),
    ))
    .await
    .unwrap();
    within(ch.queue_declare(
        "numbers-defs-exclusive",
        QueueDeclareOptions {
            exclusive: true,
            ..Default::default()
        },
        FieldTable::default(),
    ))
    .await
    .unwrap();
    within(ch.exchange_declare(
        "numbers-defs-x",
        lapin::ExchangeKind::Direct,
        ExchangeDeclareOptions::default(),
        FieldTable::default(),
    ))
    .await
    .unwrap();
    for q in ["numbers-defs-transient", "numbers-defs-exclusive"] {
        within(ch.queue_bind(
            q,
            "numbers-defs-x",
            q,
            QueueBindOptions::default(),
            FieldTable::default(),
        ))
        .await
        .unwrap();
    }
    let defs = t.get("/api/definitions").await;
    let queues = names(&defs, "queues");
    for q in [
        "numbers-defs-durable",
        "numbers-defs-transient",
        "numbers-defs-autodelete",
    ] {
        assert!(queues.contains(&q.to_string()), "{q} in {queues:?}");
    }
    assert!(
        !queues.contains(&"numbers-defs-exclusive".to_string()),
        "{queues:?}"
    );
    let transient = defs["queues"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["name"] == "numbers-defs-autodelete")
        .unwrap();
    assert_eq!(transient["durable"], false);
    assert_eq!(transient["auto_delete"], true);
    assert!(names(&defs, "exchanges").contains(&"numbers-defs-x".to_string()));
    assert!(
        bound(&defs, "numbers-defs-x", "numbers-defs-transient"),
        "{defs:#}"
    );
    assert!(
        !bound(&defs, "numbers-defs-x", "numbers-defs-exclusive"),
        "{defs:#}"
    );
    // A vhost's export too.
    let one = t.get("/api/definitions/%2F").await;
    assert!(names(&one, "queues").contains(&"numbers-defs-transient".to_string()));
    assert!(!names(&one, "queues").contains(&"numbers-defs-exclusive".to_string()));
    for q in [
        "numbers-defs-durable",
        "numbers-defs-transient",
        "numbers-defs-autodelete",
    ] {
        within(ch.queue_delete(q, QueueDeleteOptions::default()))
            .await
            .unwrap();
    }
    within(ch.exchange_delete("numbers-defs-x", ExchangeDeleteOptions::default()))
        .await
        .unwrap();
}

/// The definitions file still holds durable objects only, while the API's export has the
/// transient ones.
#[tokio::test]
async fn definitions_file_keeps_only_durable_objects() {
    let dir = std::env::temp_dir().join(format!("warren-numbers-defs-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("definitions.json");
    let broker = std::sync::Arc::new(warren_core::Broker::new(warren_core::Limits::default()));
    broker.persist_definitions_to(file.clone());
    let env = common::start_with(broker, None).await;
    let conn = env.connect().await;
    let ch = within(conn.create_channel()).await.unwrap();
    declare(&ch, "kept-durable", true).await;
    declare(&ch, "not-kept-transient", false).await;
    let api = env.get("/api/definitions").await;
    assert!(names(&api, "queues").contains(&"not-kept-transient".to_string()));
    let saved: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    let saved_queues = names(&saved, "queues");
    assert_eq!(saved_queues, vec!["kept-durable".to_string()], "{saved:#}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The overview and the node say which RabbitMQ version's API Warren follows (3.10.8, as
/// tools gate features on it); Warren's own version is `product_version`.
#[tokio::test]
async fn versions_name_the_rabbitmq_api_followed() {
    let t = target().await;
    let o = t.get("/api/overview").await;
    assert_eq!(o["rabbitmq_version"], "3.10.8", "{o:#}");
    assert_eq!(o["management_version"], "3.10.8");
    assert_eq!(o["release_series_support_status"], "supported");
    let defs = t.get("/api/definitions").await;
    assert_eq!(defs["rabbit_version"], "3.10.8");
    if !t.is_rabbitmq() {
        assert_eq!(o["product_name"], "Warren");
        assert_eq!(o["product_version"], env!("CARGO_PKG_VERSION"));
        assert_eq!(defs["product_name"], "Warren");
    }
}

fn churn_count(o: &Value, field: &str) -> u64 {
    o["churn_rates"][field]
        .as_u64()
        .unwrap_or_else(|| panic!("churn_rates.{field} in {o:#}"))
}

/// The overview's `churn_rates` and the node count connections and channels opened and
/// closed, and queues declared (each non-passive declare), created and deleted, each with its
/// `_details.rate`, as RabbitMQ.
#[tokio::test]
async fn churn_rates_count_connections_channels_and_queues() {
    let t = target().await;
    let before = t.get("/api/overview").await;
    let conn = connect(&t).await;
    let ch = within(conn.create_channel()).await.unwrap();
    let ch2 = within(conn.create_channel()).await.unwrap();
    within(ch2.close(200, "bye")).await.unwrap();
    let _ = within(ch.queue_delete("numbers-churn", QueueDeleteOptions::default())).await;
    let o = t.get("/api/overview").await;
    let base = |f: &str| churn_count(&o, f);
    for _ in 0..2 {
        within(ch.queue_declare(
            "numbers-churn",
            QueueDeclareOptions::default(),
            FieldTable::default(),
        ))
        .await
        .unwrap();
    }
    within(ch.queue_delete("numbers-churn", QueueDeleteOptions::default()))
        .await
        .unwrap();
    within(conn.close(200, "bye")).await.unwrap();
    let want = [
        (
            "connection_created",
            churn_count(&before, "connection_created") + 1,
        ),
        (
            "connection_closed",
            churn_count(&before, "connection_closed") + 1,
        ),
        (
            "channel_created",
            churn_count(&before, "channel_created") + 2,
        ),
        ("channel_closed", churn_count(&before, "channel_closed") + 2),
        ("queue_declared", base("queue_declared") + 2),
        ("queue_created", base("queue_created") + 1),
        ("queue_deleted", base("queue_deleted") + 1),
    ];
    // Other tests share a RabbitMQ: there the counts grow at least this much.
    let exact = !t.is_rabbitmq();
    let o = until(&t, "/api/overview", |o| {
        want.iter().all(|(f, n)| {
            let c = o["churn_rates"][*f].as_u64().unwrap_or(0);
            if exact {
                c == *n
            } else {
                c >= *n
            }
        })
    })
    .await;
    for (f, _) in want {
        assert!(
            o["churn_rates"][format!("{f}_details")]["rate"].is_number(),
            "{f}_details.rate in {o:#}"
        );
    }
    if exact {
        // The sampler saw the churn: the connection's rate goes up from 0 (a 200 ms
        // interval in tests), as RabbitMQ's does.
        until(&t, "/api/overview", |o| {
            o["churn_rates"]["connection_created_details"]["rate"]
                .as_f64()
                .is_some_and(|r| r > 0.0)
        })
        .await;
    }
    // The node has the same counts.
    let nodes = t.get("/api/nodes").await;
    let node = &nodes[0];
    for (f, n) in want {
        let c = node[f]
            .as_u64()
            .unwrap_or_else(|| panic!("{f} in {node:#}"));
        assert!(c >= n, "{f}: {c} < {n}");
        assert!(
            node[format!("{f}_details")]["rate"].is_number(),
            "{f}_details"
        );
    }
}

/// The node's numbers are numbers: processes (Warren: tokio tasks) used within a total,
/// the run queue, and `_details.rate` of the gauges RabbitMQ has them for.
#[tokio::test]
async fn node_reports_processes_and_gauge_rates() {
    let t = target().await;
    let _conn = connect(&t).await;
    // RabbitMQ's node stats lag up to 5 s.
    let nodes = until(&t, "/api/nodes", |n| {
        n[0]["sockets_used"].as_u64() >= Some(1)
    })
    .await;
    let node = &nodes[0];
    let used = n(node, "proc_used");
    let total = n(node, "proc_total");
    assert!(used > 0 && used <= total, "proc_used {used} of {total}");
    n(node, "run_queue");
    assert!(n(node, "fd_used") >= 1);
    assert!(n(node, "mem_used") > 0);
    for g in [
        "mem_used",
        "fd_used",
        "sockets_used",
        "proc_used",
        "disk_free",
    ] {
        assert!(
            node[format!("{g}_details")]["rate"].is_number(),
            "{g}_details.rate in {node:#}"
        );
    }
}

/// The name the broker gives the connection whose client called itself `client_name`.
async fn connection_named(t: &Target, client_name: &str) -> String {
    let conns = until(t, "/api/connections", |cs| {
        cs.as_array()
            .unwrap()
            .iter()
            .any(|c| c["client_properties"]["connection_name"] == client_name)
    })
    .await;
    conns
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["client_properties"]["connection_name"] == client_name)
        .unwrap()["name"]
        .as_str()
        .unwrap()
        .to_string()
}

fn channel_of<'a>(chans: &'a Value, conn: &str, number: u16) -> Option<&'a Value> {
    chans
        .as_array()?
        .iter()
        .find(|c| c["connection_details"]["name"] == conn && c["number"] == number)
}

fn stat(ch: Option<&Value>, field: &str) -> Option<u64> {
    ch?["message_stats"][field].as_u64()
}

fn pct(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A channel's `message_stats` has RabbitMQ's counts with their `_details.rate`: publishing
/// ones on a channel that published, delivering ones on a channel that consumed or got (none
/// on an idle channel). The single-channel object adds `consumer_details` (the channel's
/// consumers, in the queue's shape), and `publishes` / `deliveries`, empty in the `basic`
/// rates mode as RabbitMQ's. (Checked against RabbitMQ 3.10.8.)
#[tokio::test]
async fn channels_have_message_stats_with_rates_and_consumer_details() {
    let t = target().await;
    let conn = within(lapin::Connection::connect(
        &t.amqp_url,
        lapin::ConnectionProperties::default().with_connection_name("numbers-channels".into()),
    ))
    .await
    .unwrap();
    let publisher = within(conn.create_channel()).await.unwrap();
    let consumer_ch = within(conn.create_channel()).await.unwrap();
    let idle = within(conn.create_channel()).await.unwrap();
    let getter = within(conn.create_channel()).await.unwrap();
    within(publisher.confirm_select(ConfirmSelectOptions::default()))
        .await
        .unwrap();
    declare(&publisher, "numbers-ch", false).await;
    for _ in 0..3 {
        publish(&publisher, "", "numbers-ch", b"m", false).await;
    }
    let unroutable = within(publisher.basic_publish(
        "",
        "numbers-nowhere",
        BasicPublishOptions {
            mandatory: true,
            ..Default::default()
        },
        b"r",
        BasicProperties::default(),
    ))
    .await
    .unwrap();
    within(unroutable).await.unwrap();
    within(consumer_ch.basic_qos(10, BasicQosOptions::default()))
        .await
        .unwrap();
    let mut consumer = within(consumer_ch.basic_consume(
        "numbers-ch",
        "numbers-ch-c",
        BasicConsumeOptions::default(),
        FieldTable::default(),
    ))
    .await
    .unwrap();
    use futures_lite::StreamExt;
    let mut deliveries = Vec::new();
    for _ in 0..3 {
        deliveries.push(within(consumer.next()).await.unwrap().unwrap());
    }
    within(deliveries[0].ack(BasicAckOptions::default()))
        .await
        .unwrap();
    within(deliveries[1].ack(BasicAckOptions::default()))
        .await
        .unwrap();
    within(deliveries[2].nack(BasicNackOptions {
        requeue: true,
        ..Default::default()
    }))
    .await
    .unwrap();
    let again = within(consumer.next()).await.unwrap().unwrap();
    assert!(again.redelivered);
    within(again.ack(BasicAckOptions::default())).await.unwrap();
    assert!(
        within(getter.basic_get("numbers-ch", BasicGetOptions::default()))
            .await
            .unwrap()
            .is_none()
    );

    let name = connection_named(&t, "numbers-channels").await;
    let (p, c, i, g) = (publisher.id(), consumer_ch.id(), idle.id(), getter.id());
    let chans = until(&t, "/api/channels", |chans| {
        stat(channel_of(chans, &name, p), "publish") == Some(4)
            && stat(channel_of(chans, &name, c), "ack") == Some(3)
            && stat(channel_of(chans, &name, g), "get_empty") == Some(1)
    })
    .await;
    let pub_stats = &channel_of(&chans, &name, p).unwrap()["message_stats"];
    for (f, want) in [
        ("publish", 4),
        ("confirm", 4),
        ("return_unroutable", 1),
        ("drop_unroutable", 0),
    ] {
        assert_eq!(pub_stats[f], want, "{f} in {pub_stats:#}");
        assert!(
            pub_stats[format!("{f}_details")]["rate"].is_number(),
            "{f}_details"
        );
    }
    assert!(pub_stats.get("deliver").is_none(), "{pub_stats:#}");
    let con_stats = &channel_of(&chans, &name, c).unwrap()["message_stats"];
    for (f, want) in [
        ("deliver", 4),
        ("deliver_get", 4),
        ("deliver_no_ack", 0),
        ("get", 0),
        ("get_no_ack", 0),
        ("get_empty", 0),
        ("ack", 3),
        ("redeliver", 1),
    ] {
        assert_eq!(con_stats[f], want, "{f} in {con_stats:#}");
        assert!(
            con_stats[format!("{f}_details")]["rate"].is_number(),
            "{f}_details"
        );
    }
    assert!(con_stats.get("publish").is_none(), "{con_stats:#}");
    let idle_ch = channel_of(&chans, &name, i).expect("the idle channel is listed");
    assert!(idle_ch.get("message_stats").is_none(), "{idle_ch:#}");

    // One channel: its consumers, and no fine-grained lists in the basic rates mode.
    let one = t
        .get(&format!("/api/channels/{}", pct(&format!("{name} ({c})"))))
        .await;
    let details = one["consumer_details"]
        .as_array()
        .expect("consumer_details");
    assert_eq!(details.len(), 1, "{one:#}");
    assert_eq!(details[0]["consumer_tag"], "numbers-ch-c");
    assert_eq!(details[0]["queue"]["name"], "numbers-ch");
    assert_eq!(details[0]["channel_details"]["number"], c);
    assert_eq!(
        details[0]["channel_details"]["connection_name"],
        name.as_str()
    );
    assert_eq!(details[0]["prefetch_count"], 10);
    assert_eq!(details[0]["ack_required"], true);
    assert_eq!(one["publishes"], serde_json::json!([]));
    assert_eq!(one["deliveries"], serde_json::json!([]));
    assert_eq!(one["message_stats"]["ack"], 3);
    let other = t
        .get(&format!("/api/channels/{}", pct(&format!("{name} ({p})"))))
        .await;
    assert_eq!(other["consumer_details"], serde_json::json!([]));

    // Publishing on: the channel's publish rate goes above 0 once the sampler saw it.
    let keep_publishing = {
        let publisher = publisher.clone();
        tokio::spawn(async move {
            loop {
                publish(&publisher, "", "numbers-ch", b"m", false).await;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    until(&t, "/api/channels", |chans| {
        channel_of(chans, &name, p)
            .and_then(|ch| ch["message_stats"]["publish_details"]["rate"].as_f64())
            .is_some_and(|r| r > 0.0)
    })
    .await;
    keep_publishing.abort();
    let _ = keep_publishing.await;
    within(publisher.queue_delete("numbers-ch", QueueDeleteOptions::default()))
        .await
        .unwrap();
}
