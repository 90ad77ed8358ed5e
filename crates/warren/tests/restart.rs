//! Definitions across restarts of the real binary: durable exchanges, queues and bindings come
//! back; transient and exclusive ones do not. Also the `definitions` export/import commands.

mod common;

use std::process::Command;
use std::time::Duration;

use common::BrokerProcess;
use lapin::options::*;
use lapin::types::FieldTable;
use lapin::{Connection, ConnectionProperties, ExchangeKind};

async fn within<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(15), f)
        .await
        .expect("timed out")
}

async fn passive_queue(conn: &Connection, name: &str) -> Result<u32, u16> {
    let ch = within(conn.create_channel()).await.unwrap();
    match within(ch.queue_declare(
        name,
        QueueDeclareOptions {
            passive: true,
            ..Default::default()
        },
        FieldTable::default(),
    ))
    .await
    {
        Ok(q) => Ok(q.message_count()),
        Err(lapin::Error::ProtocolError(e)) => Err(e.get_id()),
        Err(e) => panic!("{e:?}"),
    }
}

async fn passive_exchange(conn: &Connection, name: &str) -> bool {
    let ch = within(conn.create_channel()).await.unwrap();
    within(ch.exchange_declare(
        name,
        ExchangeKind::Direct,
        ExchangeDeclareOptions {
            passive: true,
            ..Default::default()
        },
        FieldTable::default(),
    ))
    .await
    .is_ok()
}

async fn declare_topology(url: &str) -> Connection {
    let conn = within(Connection::connect(url, ConnectionProperties::default()))
        .await
        .unwrap();
    let ch = within(conn.create_channel()).await.unwrap();
    let durable = QueueDeclareOptions {
        durable: true,
        ..Default::default()
    };
    within(ch.exchange_declare(
        "d-x",
        ExchangeKind::Topic,
        ExchangeDeclareOptions {
            durable: true,
            ..Default::default()
        },
        FieldTable::default(),
    ))
    .await
    .unwrap();
    within(ch.exchange_declare(
        "t-x",
        ExchangeKind::Topic,
        ExchangeDeclareOptions::default(),
        FieldTable::default(),
    ))
    .await
    .unwrap();
    within(ch.queue_declare("d-q", durable, FieldTable::default()))
        .await
        .unwrap();
    within(ch.queue_declare("t-q", QueueDeclareOptions::default(), FieldTable::default()))
        .await
        .unwrap();
    within(ch.queue_declare(
        "x-q",
        QueueDeclareOptions {
            durable: true,
            exclusive: true,
            ..Default::default()
        },
        FieldTable::default(),
    ))
    .await
    .unwrap();
    within(ch.queue_bind(
        "d-q",
        "d-x",
        "a.#",
        QueueBindOptions::default(),
        FieldTable::default(),
    ))
    .await
    .unwrap();
    conn
}

#[tokio::test]
async fn durable_definitions_survive_a_restart_and_transient_ones_do_not() {
    let dir = tempfile::tempdir().unwrap();
    let b = BrokerProcess::start(dir.path());
    let conn = declare_topology(&b.url()).await;
    drop(conn);
    let status = b.stop();
    assert!(status.success(), "clean shutdown on SIGTERM: {status:?}");

    let b = BrokerProcess::start(dir.path());
    let conn = within(Connection::connect(
        &b.url(),
        ConnectionProperties::default(),
    ))
    .await
    .unwrap();
    assert_eq!(passive_queue(&conn, "d-q").await, Ok(0));
    assert_eq!(passive_queue(&conn, "t-q").await, Err(404));
    assert_eq!(passive_queue(&conn, "x-q").await, Err(404));
    assert!(passive_exchange(&conn, "d-x").await);
    assert!(!passive_exchange(&conn, "t-x").await);
    // the durable binding routes
    let ch = within(conn.create_channel()).await.unwrap();
    within(ch.basic_publish(
        "d-x",
        "a.b.c",
        BasicPublishOptions::default(),
        b"m",
        Default::default(),
    ))
    .await
    .unwrap();
    let got = within(ch.basic_get("d-q", BasicGetOptions { no_ack: true }))
        .await
        .unwrap();
    assert!(got.is_some(), "binding d-x -> d-q was recovered");
}

#[tokio::test]
async fn definitions_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let b = BrokerProcess::start(dir.path());
    let _conn = declare_topology(&b.url()).await;
    b.kill();
    let b = BrokerProcess::start(dir.path());
    let conn = within(Connection::connect(
        &b.url(),
        ConnectionProperties::default(),
    ))
    .await
    .unwrap();
    assert_eq!(passive_queue(&conn, "d-q").await, Ok(0));
    assert_eq!(passive_queue(&conn, "x-q").await, Err(404));
}

#[tokio::test]
async fn definitions_export_and_import_commands() {
    let dir = tempfile::tempdir().unwrap();
    let b = BrokerProcess::start(dir.path());
    let _conn = declare_topology(&b.url()).await;
    b.stop();
    let file = dir.path().join("export.json");
    let warren = env!("CARGO_BIN_EXE_warren");
    let out = Command::new(warren)
        .args(["definitions", "export"])
        .arg(&file)
        .arg("--data-dir")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let json = read_json(&file);
    let queues: Vec<&str> = json["queues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["name"].as_str().unwrap())
        .collect();
    assert_eq!(queues, ["d-q"]);

    // import into another data dir, start a broker there: the queue is there
    let dir2 = tempfile::tempdir().unwrap();
    let out = Command::new(warren)
        .args(["definitions", "import"])
        .arg(&file)
        .arg("--data-dir")
        .arg(dir2.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let b2 = BrokerProcess::start(dir2.path());
    let conn = within(Connection::connect(
        &b2.url(),
        ConnectionProperties::default(),
    ))
    .await
    .unwrap();
    assert_eq!(passive_queue(&conn, "d-q").await, Ok(0));
    drop(conn);
    // (an import next to a running broker is refused: see cli.rs)
    assert!(b2.stop().success());

    // a malformed file is refused with a message, and changes nothing
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{\"queues\": 5}").unwrap();
    let out = Command::new(warren)
        .args(["definitions", "import"])
        .arg(&bad)
        .arg("--data-dir")
        .arg(dir2.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad.json"));
}

fn read_json(path: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[tokio::test]
async fn persistent_messages_survive_a_restart_and_transient_ones_do_not() {
    let dir = tempfile::tempdir().unwrap();
    let b = BrokerProcess::start(dir.path());
    let conn = within(Connection::connect(
        &b.url(),
        ConnectionProperties::default(),
    ))
    .await
    .unwrap();
    let ch = within(conn.create_channel()).await.unwrap();
    within(ch.confirm_select(ConfirmSelectOptions::default()))
        .await
        .unwrap();
    let durable = QueueDeclareOptions {
        durable: true,
        ..Default::default()
    };
    within(ch.queue_declare("pm", durable, FieldTable::default()))
        .await
        .unwrap();
    within(ch.exchange_declare(
        "pm-fan",
        ExchangeKind::Fanout,
        ExchangeDeclareOptions {
            durable: true,
            ..Default::default()
        },
        FieldTable::default(),
    ))
    .await
    .unwrap();
    within(ch.queue_declare("pm2", durable, FieldTable::default()))
        .await
        .unwrap();
    for q in ["pm", "pm2"] {
        within(ch.queue_bind(
            q,
            "pm-fan",
            "",
            QueueBindOptions::default(),
            FieldTable::default(),
        ))
        .await
        .unwrap();
    }
    let persistent = lapin::BasicProperties::default().with_delivery_mode(2);
    for (body, props) in [
        ("p1", persistent.clone()),
        ("t1", lapin::BasicProperties::default()),
        ("p2", persistent.clone()),
        ("acked", persistent.clone()),
    ] {
        let c = within(ch.basic_publish(
            "",
            "pm",
            BasicPublishOptions::default(),
            body.as_bytes(),
            props,
        ))
        .await
        .unwrap();
        within(c).await.unwrap();
    }
    // one message routed to two durable queues
    let c = within(ch.basic_publish(
        "pm-fan",
        "",
        BasicPublishOptions::default(),
        b"both",
        persistent.clone(),
    ))
    .await
    .unwrap();
    within(c).await.unwrap();
    // consume-and-ack the "acked" one: take all four, ack the last, requeue the others
    let mut got = Vec::new();
    for _ in 0..5 {
        let m = within(ch.basic_get("pm", BasicGetOptions { no_ack: false }))
            .await
            .unwrap()
            .unwrap();
        got.push(m);
    }
    for m in got {
        if m.delivery.data == b"acked" {
            within(m.delivery.ack(BasicAckOptions::default()))
                .await
                .unwrap();
        } else {
            within(m.delivery.nack(BasicNackOptions {
                requeue: true,
                multiple: false,
            }))
            .await
            .unwrap();
        }
    }
    drop(conn);
    assert!(b.stop().success());

    let b = BrokerProcess::start(dir.path());
    let log = b.startup_log.join("\n");
    assert!(
        log.contains("recovered 4 queued persistent messages in 2 queues (3 distinct messages"),
        "{log}"
    );
    let conn = within(Connection::connect(
        &b.url(),
        ConnectionProperties::default(),
    ))
    .await
    .unwrap();
    let ch = within(conn.create_channel()).await.unwrap();
    let mut bodies = Vec::new();
    while let Some(m) = within(ch.basic_get("pm", BasicGetOptions { no_ack: true }))
        .await
        .unwrap()
    {
        assert!(
            m.delivery.redelivered,
            "recovered messages may have been delivered before"
        );
        bodies.push(String::from_utf8(m.delivery.data.clone()).unwrap());
    }
    assert_eq!(
        bodies,
        ["p1", "p2", "both"],
        "persistent kept in order, transient and acked gone"
    );
    let m = within(ch.basic_get("pm2", BasicGetOptions { no_ack: true }))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(m.delivery.data, b"both");
}

#[tokio::test]
async fn a_persistent_message_is_visible_to_the_next_method_on_its_channel() {
    // kombu's SimpleQueue publishes to a durable queue and gets at once, without confirms:
    // the message must be there, as with RabbitMQ (only the confirm waits for the fsync).
    let dir = tempfile::tempdir().unwrap();
    let b = BrokerProcess::start(dir.path());
    let conn = within(Connection::connect(
        &b.url(),
        ConnectionProperties::default(),
    ))
    .await
    .unwrap();
    let ch = within(conn.create_channel()).await.unwrap();
    let durable = QueueDeclareOptions {
        durable: true,
        ..Default::default()
    };
    within(ch.queue_declare("visible", durable, FieldTable::default()))
        .await
        .unwrap();
    for i in 0..20u8 {
        within(ch.basic_publish(
            "",
            "visible",
            BasicPublishOptions::default(),
            &[i],
            lapin::BasicProperties::default().with_delivery_mode(2),
        ))
        .await
        .unwrap();
        let m = within(ch.basic_get("visible", BasicGetOptions { no_ack: true }))
            .await
            .unwrap();
        assert_eq!(m.map(|m| m.delivery.data.clone()), Some(vec![i]));
    }
}

#[tokio::test]
async fn transient_changes_do_not_rewrite_the_definitions_file() {
    let dir = tempfile::tempdir().unwrap();
    let b = BrokerProcess::start(dir.path());
    let conn = within(Connection::connect(
        &b.url(),
        ConnectionProperties::default(),
    ))
    .await
    .unwrap();
    let ch = within(conn.create_channel()).await.unwrap();
    let durable = QueueDeclareOptions {
        durable: true,
        ..Default::default()
    };
    within(ch.queue_declare("kept", durable, FieldTable::default()))
        .await
        .unwrap();
    let file = dir.path().join("definitions.json");
    let before = std::fs::metadata(&file).unwrap().modified().unwrap();
    for i in 0..20 {
        let name = format!("transient-{i}");
        within(ch.queue_declare(&name, QueueDeclareOptions::default(), FieldTable::default()))
            .await
            .unwrap();
        within(ch.queue_delete(&name, QueueDeleteOptions::default()))
            .await
            .unwrap();
        within(ch.exchange_declare(
            &name,
            ExchangeKind::Fanout,
            ExchangeDeclareOptions::default(),
            FieldTable::default(),
        ))
        .await
        .unwrap();
        within(ch.exchange_delete(&name, ExchangeDeleteOptions::default()))
            .await
            .unwrap();
    }
    assert_eq!(
        std::fs::metadata(&file).unwrap().modified().unwrap(),
        before,
        "deleting transient queues and exchanges rewrote the definitions"
    );
    // A durable delete does rewrite it.
    within(ch.queue_delete("kept", QueueDeleteOptions::default()))
        .await
        .unwrap();
    assert_ne!(
        std::fs::metadata(&file).unwrap().modified().unwrap(),
        before
    );
    assert!(!std::fs::read_to_string(&file).unwrap().contains("\"kept\""));
}

#[tokio::test]
async fn a_persistent_message_refused_by_one_durable_queue_is_dead_lettered_once() {
    // A fanout to two durable queues: "full" (x-max-length 1, reject-publish-dlx, dead letters
    // to "dead") and "open". The second message is stored for "open" only, refused by "full"
    // once: one dead letter, and both queues keep their counts across a restart.
    let dir = tempfile::tempdir().unwrap();
    let url;
    {
        let b = BrokerProcess::start(dir.path());
        url = b.url();
        let conn = within(Connection::connect(&url, ConnectionProperties::default()))
            .await
            .unwrap();
        let ch = within(conn.create_channel()).await.unwrap();
        within(ch.confirm_select(ConfirmSelectOptions::default()))
            .await
            .unwrap();
        let durable = QueueDeclareOptions {
            durable: true,
            ..Default::default()
        };
        let mut full = FieldTable::default();
        full.insert("x-max-length".into(), lapin::types::AMQPValue::LongInt(1));
        full.insert(
            "x-overflow".into(),
            lapin::types::AMQPValue::LongString("reject-publish-dlx".into()),
        );
        full.insert(
            "x-dead-letter-exchange".into(),
            lapin::types::AMQPValue::LongString("".into()),
        );
        full.insert(
            "x-dead-letter-routing-key".into(),
            lapin::types::AMQPValue::LongString("dead".into()),
        );
        within(ch.queue_declare("full", durable, full))
            .await
            .unwrap();
        for q in ["open", "dead"] {
            within(ch.queue_declare(q, durable, FieldTable::default()))
                .await
                .unwrap();
        }
        within(ch.exchange_declare(
            "both",
            ExchangeKind::Fanout,
            ExchangeDeclareOptions {
                durable: true,
                ..Default::default()
            },
            FieldTable::default(),
        ))
        .await
        .unwrap();
        for q in ["full", "open"] {
            within(ch.queue_bind(
                q,
                "both",
                "",
                QueueBindOptions::default(),
                FieldTable::default(),
            ))
            .await
            .unwrap();
        }
        for i in 0..2u8 {
            let c = within(ch.basic_publish(
                "both",
                "",
                BasicPublishOptions::default(),
                &[i],
                lapin::BasicProperties::default().with_delivery_mode(2),
            ))
            .await
            .unwrap();
            // RabbitMQ nacks a message that any reject-publish(-dlx) queue refused
            assert_eq!(within(c).await.unwrap().is_ack(), i == 0);
        }
        assert_eq!(passive_queue(&conn, "full").await, Ok(1));
        assert_eq!(passive_queue(&conn, "open").await, Ok(2));
        assert_eq!(passive_queue(&conn, "dead").await, Ok(1));
    }
    let b = BrokerProcess::start(dir.path());
    let conn = within(Connection::connect(
        &b.url(),
        ConnectionProperties::default(),
    ))
    .await
    .unwrap();
    assert_eq!(passive_queue(&conn, "full").await, Ok(1));
    assert_eq!(passive_queue(&conn, "open").await, Ok(2));
    assert_eq!(passive_queue(&conn, "dead").await, Ok(1));
}

fn table(entries: &[(&str, lapin::types::AMQPValue)]) -> FieldTable {
    let mut t = FieldTable::default();
    for (k, v) in entries {
        t.insert((*k).into(), v.clone());
    }
    t
}

/// Publishes persistent messages to the default exchange and waits for each confirm.
async fn publish_confirmed(
    ch: &lapin::Channel,
    exchange: &str,
    key: &str,
    msgs: &[(&str, lapin::BasicProperties)],
) {
    for (body, props) in msgs {
        let c = within(ch.basic_publish(
            exchange,
            key,
            BasicPublishOptions::default(),
            body.as_bytes(),
            props.clone().with_delivery_mode(2),
        ))
        .await
        .unwrap();
        assert!(within(c).await.unwrap().is_ack());
    }
}

/// Takes every ready message of `queue` (no-ack): bodies and whether each was redelivered.
async fn drain(ch: &lapin::Channel, queue: &str) -> Vec<lapin::message::BasicGetMessage> {
    let mut got = Vec::new();
    while let Some(m) = within(ch.basic_get(queue, BasicGetOptions { no_ack: true }))
        .await
        .unwrap()
    {
        got.push(m);
    }
    got
}

fn bodies(msgs: &[lapin::message::BasicGetMessage]) -> Vec<String> {
    msgs.iter()
        .map(|m| String::from_utf8(m.delivery.data.clone()).unwrap())
        .collect()
}

#[tokio::test]
async fn priority_order_is_kept_after_a_restart() {
    // RabbitMQ 3.10.8 (checked by hand with the same publishes and a restart) hands them back
    // as p11 p9 p9 p5 p3 p1 p0: a priority above x-max-priority counts as the maximum.
    let dir = tempfile::tempdir().unwrap();
    let b = BrokerProcess::start(dir.path());
    let conn = within(Connection::connect(
        &b.url(),
        ConnectionProperties::default(),
    ))
    .await
    .unwrap();
    let ch = within(conn.create_channel()).await.unwrap();
    within(ch.confirm_select(ConfirmSelectOptions::default()))
        .await
        .unwrap();
    let durable = QueueDeclareOptions {
        durable: true,
        ..Default::default()
    };
    let max10 = table(&[(
        "x-max-priority",
        lapin::types::AMQPValue::ShortShortUInt(10),
    )]);
    within(ch.queue_declare("prio", durable, max10))
        .await
        .unwrap();
    within(ch.queue_declare("plain", durable, FieldTable::default()))
        .await
        .unwrap();
    let msgs: Vec<(String, lapin::BasicProperties)> = [1u8, 5, 9, 3, 0, 9, 11]
        .iter()
        .enumerate()
        .map(|(i, &p)| {
            (
                format!("p{p}-{i}"),
                lapin::BasicProperties::default().with_priority(p),
            )
        })
        .collect();
    let msgs: Vec<(&str, lapin::BasicProperties)> =
        msgs.iter().map(|(b, p)| (b.as_str(), p.clone())).collect();
    publish_confirmed(&ch, "", "prio", &msgs).await;
    // Priorities mean nothing to a queue without x-max-priority: publish order.
    publish_confirmed(&ch, "", "plain", &msgs).await;
    drop(conn);
    // kill -9: what comes back is what the journal says, nothing written at shutdown.
    b.kill();

    let b = BrokerProcess::start(dir.path());
    let conn = within(Connection::connect(
        &b.url(),
        ConnectionProperties::default(),
    ))
    .await
    .unwrap();
    let ch = within(conn.create_channel()).await.unwrap();
    let got = drain(&ch, "prio").await;
    assert_eq!(
        bodies(&got),
        ["p11-6", "p9-2", "p9-5", "p5-1", "p3-3", "p1-0", "p0-4"],
        "highest priority first, publish order among equals"
    );
    assert!(got.iter().all(|m| m.delivery.redelivered));
    assert_eq!(
        got[0].delivery.properties.priority(),
        &Some(11),
        "the properties are the publisher's"
    );
    let got = drain(&ch, "plain").await;
    assert_eq!(
        bodies(&got),
        ["p1-0", "p5-1", "p9-2", "p3-3", "p0-4", "p9-5", "p11-6"]
    );
}

#[tokio::test]
async fn message_ttls_keep_counting_from_the_publish_across_a_restart() {
    // As RabbitMQ 3.10.8 does (checked by hand: x-message-ttl and expiration 40 s, broker down
    // for 45 s): a message whose TTL passed while the broker was down expires as soon as it is
    // back, dead-lettered if its queue says so; one whose TTL has not passed expires when it
    // would have without the restart, not a whole TTL after it.
    use lapin::types::AMQPValue;
    const SHORT: u64 = 3000;
    const LONG: u64 = 7000;
    let dir = tempfile::tempdir().unwrap();
    let b = BrokerProcess::start(dir.path());
    let conn = within(Connection::connect(
        &b.url(),
        ConnectionProperties::default(),
    ))
    .await
    .unwrap();
    let ch = within(conn.create_channel()).await.unwrap();
    within(ch.confirm_select(ConfirmSelectOptions::default()))
        .await
        .unwrap();
    let durable = QueueDeclareOptions {
        durable: true,
        ..Default::default()
    };
    let durable_x = ExchangeDeclareOptions {
        durable: true,
        ..Default::default()
    };
    within(ch.exchange_declare(
        "dlx",
        ExchangeKind::Fanout,
        durable_x,
        FieldTable::default(),
    ))
    .await
    .unwrap();
    within(ch.queue_declare("dead", durable, FieldTable::default()))
        .await
        .unwrap();
    within(ch.queue_bind(
        "dead",
        "dlx",
        "",
        QueueBindOptions::default(),
        FieldTable::default(),
    ))
    .await
    .unwrap();
    let dlx = (
        "x-dead-letter-exchange",
        AMQPValue::LongString("dlx".into()),
    );
    let ttl = |ms: u64| ("x-message-ttl", AMQPValue::LongLongInt(ms as i64));
    for (q, args) in [
        ("q-ttl", table(&[ttl(SHORT), dlx.clone()])),
        ("q-later", table(&[ttl(LONG), dlx.clone()])),
        ("q-exp", table(std::slice::from_ref(&dlx))),
        ("f-ttl", table(&[ttl(SHORT)])),
        ("f-plain", FieldTable::default()),
    ] {
        within(ch.queue_declare(q, durable, args)).await.unwrap();
    }
    within(ch.exchange_declare(
        "fan",
        ExchangeKind::Fanout,
        durable_x,
        FieldTable::default(),
    ))
    .await
    .unwrap();
    for q in ["f-ttl", "f-plain"] {
        within(ch.queue_bind(
            q,
            "fan",
            "",
            QueueBindOptions::default(),
            FieldTable::default(),
        ))
        .await
        .unwrap();
    }
    let published = std::time::Instant::now();
    let plain = lapin::BasicProperties::default();
    let expiring = |ms: u64| plain.clone().with_expiration(ms.to_string().into());
    publish_confirmed(&ch, "", "q-ttl", &[("by-queue-ttl", plain.clone())]).await;
    publish_confirmed(&ch, "", "q-later", &[("later", plain.clone())]).await;
    publish_confirmed(
        &ch,
        "",
        "q-exp",
        &[
            ("own-expiration", expiring(SHORT)),
            ("own-long", expiring(600_000)),
        ],
    )
    .await;
    // One message for two queues: it expires in the one with a TTL only.
    publish_confirmed(&ch, "fan", "", &[("fanned", plain.clone())]).await;
    drop(conn);
    assert!(b.stop().success());

    // Down until the short TTLs have passed.
    let wait = Duration::from_millis(SHORT + 300).saturating_sub(published.elapsed());
    tokio::time::sleep(wait).await;
    let b = BrokerProcess::start(dir.path());
    let conn = within(Connection::connect(
        &b.url(),
        ConnectionProperties::default(),
    ))
    .await
    .unwrap();
    assert!(
        published.elapsed() < Duration::from_millis(LONG - 1500),
        "the machine is too slow for this test's timing: {:?}",
        published.elapsed()
    );
    assert_eq!(
        passive_queue(&conn, "q-ttl").await,
        Ok(0),
        "expired at once"
    );
    assert_eq!(passive_queue(&conn, "f-ttl").await, Ok(0));
    assert_eq!(passive_queue(&conn, "q-later").await, Ok(1), "not yet due");
    let ch = within(conn.create_channel()).await.unwrap();
    assert_eq!(bodies(&drain(&ch, "q-exp").await), ["own-long"]);
    assert_eq!(bodies(&drain(&ch, "f-plain").await), ["fanned"]);
    let dead = drain(&ch, "dead").await;
    let mut got: Vec<(String, String, String)> = dead
        .iter()
        .map(|m| {
            let death = first_death(&m.delivery);
            (
                String::from_utf8(m.delivery.data.clone()).unwrap(),
                text(death.inner().get("reason")),
                text(death.inner().get("queue")),
            )
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            ("by-queue-ttl".into(), "expired".into(), "q-ttl".into()),
            ("own-expiration".into(), "expired".into(), "q-exp".into()),
        ]
    );

    // "later" goes when its TTL from the publish is up (not LONG after the restart).
    let wait = Duration::from_millis(LONG + 500).saturating_sub(published.elapsed());
    tokio::time::sleep(wait).await;
    assert_eq!(passive_queue(&conn, "q-later").await, Ok(0));
    let dead = drain(&ch, "dead").await;
    assert_eq!(bodies(&dead), ["later"]);
    assert_eq!(
        text(first_death(&dead[0].delivery).inner().get("reason")),
        "expired"
    );
}

fn first_death(d: &lapin::message::Delivery) -> FieldTable {
    use lapin::types::AMQPValue;
    let headers = d.properties.headers().as_ref().expect("headers");
    match headers.inner().get("x-death") {
        Some(AMQPValue::FieldArray(a)) => match a.as_slice().first() {
            Some(AMQPValue::FieldTable(t)) => t.clone(),
            other => panic!("x-death entry {other:?}"),
        },
        other => panic!("x-death {other:?}"),
    }
}

fn text(v: Option<&lapin::types::AMQPValue>) -> String {
    match v {
        Some(lapin::types::AMQPValue::LongString(s)) => s.to_string(),
        other => panic!("not a string: {other:?}"),
    }
}

/// A deleted definitions file with messages in the store: the broker refuses to start (it
/// would drop every stored message of the queues it no longer knows), says why, and keeps
/// the store; with the file back, every message is there.
#[tokio::test]
async fn a_missing_definitions_file_with_stored_messages_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let b = BrokerProcess::start(dir.path());
    let conn = within(Connection::connect(
        &b.url(),
        ConnectionProperties::default(),
    ))
    .await
    .unwrap();
    let ch = within(conn.create_channel()).await.unwrap();
    let durable = QueueDeclareOptions {
        durable: true,
        ..Default::default()
    };
    within(ch.queue_declare("kept-msgs", durable, FieldTable::default()))
        .await
        .unwrap();
    within(ch.confirm_select(ConfirmSelectOptions::default()))
        .await
        .unwrap();
    let props = lapin::BasicProperties::default();
    publish_confirmed(&ch, "", "kept-msgs", &[("a", props.clone()), ("b", props)]).await;
    drop(conn);
    b.kill();

    let file = dir.path().join("definitions.json");
    let backup = dir.path().join("definitions.backup");
    std::fs::rename(&file, &backup).unwrap();
    let log_path = dir.path().join("refused.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_warren"))
        .args(["server", "--amqp-listen", "127.0.0.1:0"])
        .args(["--http-listen", "127.0.0.1:0"])
        .arg("--data-dir")
        .arg(dir.path())
        .env("NO_COLOR", "1")
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .unwrap();
    // It must exit by itself; a broker that started instead is killed and the test fails.
    let mut status = None;
    for _ in 0..200 {
        status = child.try_wait().unwrap();
        if status.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(
        status.is_some_and(|s| !s.success()),
        "started without its definitions: {log}"
    );
    assert!(
        log.contains("definitions.json is missing") && log.contains("holds 2 messages of 1 queues"),
        "{log}"
    );

    std::fs::rename(&backup, &file).unwrap();
    let b = BrokerProcess::start(dir.path());
    let conn = within(Connection::connect(
        &b.url(),
        ConnectionProperties::default(),
    ))
    .await
    .unwrap();
    assert_eq!(passive_queue(&conn, "kept-msgs").await, Ok(2));
    drop(conn);
    b.kill();
}
