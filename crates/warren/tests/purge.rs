//! A purge is durable before its reply, as every other durable change: persistent messages
//! purged (queue.purge, or DELETE /api/queues/{vhost}/{name}/contents) do not come back
//! when the broker is killed with SIGKILL right after purge-ok.

mod common;

use common::BrokerProcess;
use lapin::options::{
    BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions, QueuePurgeOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Connection, ConnectionProperties};

const MESSAGES: u32 = 200;

async fn declare(conn: &Connection, name: &str) -> (lapin::Channel, u32) {
    let ch = conn.create_channel().await.unwrap();
    let q = ch
        .queue_declare(
            name,
            QueueDeclareOptions {
                durable: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();
    (ch, q.message_count())
}

async fn fill(conn: &Connection, name: &str) {
    let (ch, _) = declare(conn, name).await;
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    for _ in 0..MESSAGES {
        let persistent = BasicProperties::default().with_delivery_mode(2);
        ch.basic_publish("", name, BasicPublishOptions::default(), b"x", persistent)
            .await
            .unwrap()
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn purged_messages_stay_purged_after_a_crash_right_after_purge_ok() {
    let dir = tempfile::tempdir().unwrap();
    let b = BrokerProcess::start(dir.path());
    let base = b.http_base();
    let conn = Connection::connect(&b.url(), ConnectionProperties::default())
        .await
        .unwrap();
    fill(&conn, "purged-amqp").await;
    fill(&conn, "purged-http").await;

    let (ch, n) = declare(&conn, "purged-amqp").await;
    assert_eq!(n, MESSAGES);
    let purged = ch
        .queue_purge("purged-amqp", QueuePurgeOptions::default())
        .await
        .unwrap();
    assert_eq!(purged, MESSAGES);
    let r = reqwest::Client::new()
        .delete(format!("{base}/api/queues/%2f/purged-http/contents"))
        .basic_auth("guest", Some("guest"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    // At once: the store's ack sync would otherwise come within 200 ms.
    b.kill();

    let b = BrokerProcess::start(dir.path());
    let conn = Connection::connect(&b.url(), ConnectionProperties::default())
        .await
        .unwrap();
    for name in ["purged-amqp", "purged-http"] {
        let (_, n) = declare(&conn, name).await;
        assert_eq!(n, 0, "{name}: purged messages came back after kill -9");
    }
    drop(conn);
    b.kill();
}
