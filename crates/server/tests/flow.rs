//! Flow control over real TCP: the channel-wide (global) prefetch window shared by a channel's
//! consumers, and a flooding publisher that does not starve another connection. Both run
//! against RabbitMQ too (`COMPARE_AMQP_URL`, see `common::amqp_url`).

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{amqp_url, start, within};
use futures_lite::StreamExt;
use lapin::options::*;
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};
use tokio::sync::mpsc;

async fn connect(server: &warren_server::RunningServer) -> Connection {
    within(Connection::connect(
        &amqp_url(server),
        ConnectionProperties::default(),
    ))
    .await
    .unwrap()
}

async fn fresh_queue(ch: &Channel, name: &str, args: FieldTable) {
    within(ch.queue_delete(name, QueueDeleteOptions::default()))
        .await
        .unwrap();
    within(ch.queue_declare(name, QueueDeclareOptions::default(), args))
        .await
        .unwrap();
}

/// `n` confirmed messages into `queue`.
async fn fill(conn: &Connection, queue: &str, n: usize) {
    let ch = within(conn.create_channel()).await.unwrap();
    within(ch.confirm_select(ConfirmSelectOptions::default()))
        .await
        .unwrap();
    fresh_queue(&ch, queue, FieldTable::default()).await;
    for i in 0..n {
        let c = within(ch.basic_publish(
            "",
            queue,
            BasicPublishOptions::default(),
            format!("{queue}-{i}").as_bytes(),
            BasicProperties::default(),
        ))
        .await
        .unwrap();
        assert!(within(c).await.unwrap().is_ack());
    }
}

/// (consumer tag, delivery tag) of each delivery of the consumers of one channel.
async fn consume_all(ch: &Channel, queues: &[&str]) -> mpsc::UnboundedReceiver<(String, u64)> {
    let (tx, rx) = mpsc::unbounded_channel();
    for q in queues {
        let mut c =
            within(ch.basic_consume(q, q, BasicConsumeOptions::default(), FieldTable::default()))
                .await
                .unwrap();
        let tx = tx.clone();
        tokio::spawn(async move {
            while let Some(Ok(d)) = c.next().await {
                if tx.send((c.tag().to_string(), d.delivery_tag)).is_err() {
                    break;
                }
            }
        });
    }
    rx
}

/// The next `n` deliveries, then checks that no more come for a while (no credit).
async fn take(rx: &mut mpsc::UnboundedReceiver<(String, u64)>, n: usize) -> Vec<(String, u64)> {
    let mut got = Vec::new();
    for _ in 0..n {
        got.push(within(rx.recv()).await.unwrap());
    }
    let more = tokio::time::timeout(Duration::from_millis(300), rx.recv()).await;
    assert!(more.is_err(), "a delivery beyond the window: {more:?}");
    got
}

fn per_consumer(got: &[(String, u64)], tag: &str) -> usize {
    got.iter().filter(|(t, _)| t == tag).count()
}

#[tokio::test]
async fn a_global_prefetch_is_one_window_for_all_the_consumers_of_a_channel() {
    let server = start().await;
    let conn = connect(&server).await;
    fill(&conn, "flow-ga", 5).await;
    fill(&conn, "flow-gb", 5).await;
    let ch = within(conn.create_channel()).await.unwrap();
    within(ch.basic_qos(2, BasicQosOptions { global: true }))
        .await
        .unwrap();
    let mut rx = consume_all(&ch, &["flow-ga", "flow-gb"]).await;
    // two unacked deliveries in all, whichever consumers they went to
    let first = take(&mut rx, 2).await;
    // one ack: one more delivery
    within(ch.basic_ack(first[0].1, BasicAckOptions::default()))
        .await
        .unwrap();
    let second = take(&mut rx, 1).await;
    // acking everything so far (multiple) opens the whole window again
    within(ch.basic_ack(second[0].1, BasicAckOptions { multiple: true }))
        .await
        .unwrap();
    take(&mut rx, 2).await;
}

#[tokio::test]
async fn per_consumer_and_global_prefetch_apply_together() {
    // basic.qos(2, global=false) then basic.qos(3, global=true): each consumer started after
    // may hold 2, the channel 3 in all (RabbitMQ's semantics of the two flags).
    let server = start().await;
    let conn = connect(&server).await;
    fill(&conn, "flow-pa", 5).await;
    fill(&conn, "flow-pb", 5).await;
    let ch = within(conn.create_channel()).await.unwrap();
    within(ch.basic_qos(2, BasicQosOptions { global: false }))
        .await
        .unwrap();
    within(ch.basic_qos(3, BasicQosOptions { global: true }))
        .await
        .unwrap();
    let mut rx = consume_all(&ch, &["flow-pa", "flow-pb"]).await;
    let got = take(&mut rx, 3).await;
    assert!(
        per_consumer(&got, "flow-pa") <= 2 && per_consumer(&got, "flow-pb") <= 2,
        "a consumer went past its own window: {got:?}"
    );
    // everything acked: the channel window (3) is the limit again, not the consumers' (2 + 2)
    let last = got.iter().map(|(_, t)| *t).max().unwrap();
    within(ch.basic_ack(last, BasicAckOptions { multiple: true }))
        .await
        .unwrap();
    let got = take(&mut rx, 3).await;
    assert!(per_consumer(&got, "flow-pa") <= 2 && per_consumer(&got, "flow-pb") <= 2);
}

#[tokio::test]
async fn a_flooding_publisher_does_not_starve_another_connection() {
    let server = start().await;
    let url = amqp_url(&server);
    // The flooder: its own connection, publishing as fast as it can (no confirms, nothing
    // waits for the broker) into a queue capped so memory stays small.
    let flood_conn = connect(&server).await;
    let fch = within(flood_conn.create_channel()).await.unwrap();
    let mut cap = FieldTable::default();
    cap.insert("x-max-length".into(), AMQPValue::LongInt(10_000));
    fresh_queue(&fch, "flow-flood", cap).await;
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let flooder = {
        let (stop, sent) = (stop.clone(), sent.clone());
        tokio::spawn(async move {
            let body = vec![b'x'; 1024];
            while !stop.load(Ordering::Relaxed) {
                fch.basic_publish(
                    "",
                    "flow-flood",
                    BasicPublishOptions::default(),
                    &body,
                    BasicProperties::default(),
                )
                .await
                .expect("the flooder is never refused");
                sent.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    within(async {
        while sent.load(Ordering::Relaxed) < 1000 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    // Meanwhile another connection publishes (confirmed) and consumes round trips: each one
    // completes while the flood goes on.
    let other = within(Connection::connect(&url, ConnectionProperties::default()))
        .await
        .unwrap();
    let ch = within(other.create_channel()).await.unwrap();
    within(ch.confirm_select(ConfirmSelectOptions::default()))
        .await
        .unwrap();
    fresh_queue(&ch, "flow-probe", FieldTable::default()).await;
    let mut replies = within(ch.basic_consume(
        "flow-probe",
        "probe",
        BasicConsumeOptions {
            no_ack: true,
            ..Default::default()
        },
        FieldTable::default(),
    ))
    .await
    .unwrap();
    for i in 0..20 {
        let before = sent.load(Ordering::Relaxed);
        let body = format!("probe-{i}");
        let c = within(ch.basic_publish(
            "",
            "flow-probe",
            BasicPublishOptions::default(),
            body.as_bytes(),
            BasicProperties::default(),
        ))
        .await
        .unwrap();
        assert!(within(c).await.unwrap().is_ack());
        let d = within(replies.next()).await.unwrap().unwrap();
        assert_eq!(d.data, body.as_bytes());
        // the flood was running all along
        within(async {
            while sent.load(Ordering::Relaxed) == before {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        })
        .await;
        assert!(!flooder.is_finished(), "the flooder stopped");
    }
    // and the broker was taking the flood in, not just the client buffering it
    let flooded = within(ch.queue_declare(
        "flow-flood",
        QueueDeclareOptions {
            passive: true,
            ..Default::default()
        },
        FieldTable::default(),
    ))
    .await
    .unwrap();
    assert!(flooded.message_count() > 0);
    stop.store(true, Ordering::Relaxed);
    within(flooder).await.unwrap();
}
