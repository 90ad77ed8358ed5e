//! kill -9 in every phase the fault injection of issue 15 crashed the broker in: fanout to
//! several durable queues, requeue churn, segment compaction (a slow queue beside a busy one,
//! small segments), TTL expiry into a dead-letter queue, and definitions churn. Each phase runs
//! its workload against a real `warren server`, kills it at a pseudo-random moment, several
//! rounds, then drains: every confirmed message must have been acked from its queue or still be
//! there (for the TTL phase: in the queue or its dead-letter queue), and every queue whose
//! declare-ok (delete-ok) the client got must exist (be gone).

mod common;

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::BrokerProcess;
use futures_lite::StreamExt;
use lapin::options::*;
use lapin::publisher_confirm::Confirmation;
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, ExchangeKind};

const ROUNDS: u64 = 3;

#[derive(Default)]
struct Seen {
    /// queue -> ids confirmed for it
    confirmed: HashMap<String, HashSet<u64>>,
    /// queue -> ids acked from it
    acked: HashMap<String, HashSet<u64>>,
}

async fn try_connect(url: &str) -> Option<Connection> {
    tokio::time::timeout(
        Duration::from_secs(10),
        Connection::connect(url, ConnectionProperties::default()),
    )
    .await
    .ok()?
    .ok()
}

fn id_of(data: &[u8]) -> u64 {
    u64::from_be_bytes(data[..8].try_into().unwrap())
}

/// A phase's topology, declared by every client (idempotent).
#[derive(Clone, Copy)]
enum Phase {
    Fanout,
    Requeue,
    Compaction,
    TtlDlq,
}

impl Phase {
    /// The queues consumers read (and the drain checks).
    fn queues(self) -> &'static [&'static str] {
        match self {
            Phase::Fanout => &["fan-1", "fan-2", "fan-3"],
            Phase::Requeue => &["churn"],
            Phase::Compaction => &["slow", "busy"],
            Phase::TtlDlq => &["ttl", "dlq"],
        }
    }

    /// Where message `id` goes: (exchange, routing key, queues it counts for).
    fn route(self, id: u64) -> (&'static str, &'static str, &'static [&'static str]) {
        match self {
            Phase::Fanout => ("fan", "", &["fan-1", "fan-2", "fan-3"]),
            Phase::Requeue => ("", "churn", &["churn"]),
            Phase::Compaction if id.is_multiple_of(20) => ("", "slow", &["slow"]),
            Phase::Compaction => ("", "busy", &["busy"]),
            // Counted for the dead-letter queue: it ends there or is still in "ttl".
            Phase::TtlDlq => ("", "ttl", &["dlq"]),
        }
    }

    /// The queues a consumer reads.
    fn consumed(self) -> &'static [&'static str] {
        match self {
            Phase::Compaction => &["busy"],
            Phase::TtlDlq => &["dlq"],
            _ => self.queues(),
        }
    }

    async fn declare(self, ch: &Channel) -> Option<()> {
        let durable = QueueDeclareOptions {
            durable: true,
            ..Default::default()
        };
        if let Phase::Fanout = self {
            ch.exchange_declare(
                "fan",
                ExchangeKind::Fanout,
                ExchangeDeclareOptions {
                    durable: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
            .ok()?;
        }
        for q in self.queues() {
            let mut args = FieldTable::default();
            if let (Phase::TtlDlq, "ttl") = (self, *q) {
                args.insert("x-message-ttl".into(), AMQPValue::LongInt(30));
                args.insert(
                    "x-dead-letter-exchange".into(),
                    AMQPValue::LongString("".into()),
                );
                args.insert(
                    "x-dead-letter-routing-key".into(),
                    AMQPValue::LongString("dlq".into()),
                );
            }
            ch.queue_declare(q, durable, args).await.ok()?;
            if let Phase::Fanout = self {
                ch.queue_bind(
                    q,
                    "fan",
                    "",
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await
                .ok()?;
            }
        }
        Some(())
    }
}

/// Publishes ids from `next` on (windows of 50 confirms) until the connection dies.
async fn publish(phase: Phase, url: String, seen: Arc<Mutex<Seen>>, mut next: u64) -> u64 {
    let Some(conn) = try_connect(&url).await else {
        return next;
    };
    let Ok(ch) = conn.create_channel().await else {
        return next;
    };
    if phase.declare(&ch).await.is_none()
        || ch
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .is_err()
    {
        return next;
    }
    let props = BasicProperties::default().with_delivery_mode(2);
    let mut body = vec![0u8; 600];
    loop {
        let mut window = Vec::new();
        for _ in 0..50 {
            let id = next;
            next += 1;
            body[..8].copy_from_slice(&id.to_be_bytes());
            let (ex, key, _) = phase.route(id);
            match ch
                .basic_publish(
                    ex,
                    key,
                    BasicPublishOptions::default(),
                    &body,
                    props.clone(),
                )
                .await
            {
                Ok(c) => window.push((id, c)),
                Err(_) => return next,
            }
        }
        for (id, c) in window {
            match c.await {
                Ok(Confirmation::Ack(_)) => {
                    let mut s = seen.lock().unwrap();
                    for q in phase.route(id).2 {
                        s.confirmed.entry(q.to_string()).or_default().insert(id);
                    }
                }
                _ => return next,
            }
        }
    }
}

/// Consumes `queue` until the connection dies: acks, except (requeue phase) that a first
/// delivery of an even id is rejected with requeue.
async fn consume(phase: Phase, url: String, queue: &'static str, seen: Arc<Mutex<Seen>>) {
    let Some(conn) = try_connect(&url).await else {
        return;
    };
    let Ok(ch) = conn.create_channel().await else {
        return;
    };
    if phase.declare(&ch).await.is_none()
        || ch.basic_qos(50, BasicQosOptions::default()).await.is_err()
    {
        return;
    }
    let Ok(mut c) = ch
        .basic_consume(
            queue,
            "",
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
    else {
        return;
    };
    while let Some(Ok(d)) = c.next().await {
        let id = id_of(&d.data);
        let requeue = matches!(phase, Phase::Requeue) && id.is_multiple_of(2) && !d.redelivered;
        if requeue {
            let opts = BasicRejectOptions { requeue: true };
            if d.reject(opts).await.is_err() {
                return;
            }
        } else if d.ack(BasicAckOptions::default()).await.is_ok() {
            seen.lock()
                .unwrap()
                .acked
                .entry(queue.to_string())
                .or_default()
                .insert(id);
        } else {
            return;
        }
    }
}

fn start(dir: &Path, config: &Path) -> BrokerProcess {
    BrokerProcess::start_with(dir, &["--config", config.to_str().unwrap()])
}

async fn run_phase(phase: Phase, name: &str) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = tempfile::tempdir().unwrap();
    let config = cfg.path().join("warren.toml");
    std::fs::write(&config, "[store]\nsegment_size = \"64KiB\"\n").unwrap();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let mut next = 0u64;
    for round in 0..ROUNDS {
        let broker = start(dir.path(), &config);
        let url = broker.url();
        let p = tokio::spawn(publish(phase, url.clone(), seen.clone(), next));
        let consumers: Vec<_> = phase
            .consumed()
            .iter()
            .map(|q| tokio::spawn(consume(phase, url.clone(), q, seen.clone())))
            .collect();
        let ms = 400 + (round * 7919 + next) % 600;
        tokio::time::sleep(Duration::from_millis(ms)).await;
        broker.kill();
        next = tokio::time::timeout(Duration::from_secs(20), p)
            .await
            .unwrap()
            .unwrap();
        for c in consumers {
            let _ = tokio::time::timeout(Duration::from_secs(20), c).await;
        }
    }
    // Drain every queue (the TTL queue's messages expire into the dead-letter queue first).
    let broker = start(dir.path(), &config);
    let conn = try_connect(&broker.url()).await.expect("connects");
    let ch = conn.create_channel().await.unwrap();
    phase.declare(&ch).await.expect("declared");
    if let Phase::TtlDlq = phase {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            let n = ch
                .queue_declare(
                    "ttl",
                    QueueDeclareOptions {
                        passive: true,
                        ..Default::default()
                    },
                    FieldTable::default(),
                )
                .await
                .unwrap()
                .message_count();
            if n == 0 || std::time::Instant::now() > deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let mut drained: HashMap<String, HashSet<u64>> = HashMap::new();
    for q in phase.queues() {
        while let Some(m) = ch
            .basic_get(q, BasicGetOptions { no_ack: true })
            .await
            .unwrap()
        {
            drained
                .entry(q.to_string())
                .or_default()
                .insert(id_of(&m.delivery.data));
        }
    }
    broker.kill();
    let s = seen.lock().unwrap();
    let total: usize = s.confirmed.values().map(HashSet::len).sum();
    assert!(
        total > 100,
        "{name}: too little published to mean anything: {total}"
    );
    let empty = HashSet::new();
    for (q, ids) in &s.confirmed {
        let acked = s.acked.get(q).unwrap_or(&empty);
        let mut there: HashSet<u64> = drained.get(q).cloned().unwrap_or_default();
        if let (Phase::TtlDlq, "dlq") = (phase, q.as_str()) {
            there.extend(drained.get("ttl").into_iter().flatten());
        }
        let lost: Vec<u64> = ids
            .iter()
            .filter(|id| !acked.contains(id) && !there.contains(id))
            .copied()
            .collect();
        assert!(
            lost.is_empty(),
            "{name}: {} confirmed messages of '{q}' lost, e.g. {:?}",
            lost.len(),
            &lost[..lost.len().min(10)]
        );
        assert!(
            there.iter().all(|id| *id < next),
            "{name}: an id never published appeared in '{q}'"
        );
    }
    eprintln!(
        "{name}: {total} confirmed, {} acked, {} drained after {ROUNDS} kills",
        s.acked.values().map(HashSet::len).sum::<usize>(),
        drained.values().map(HashSet::len).sum::<usize>()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_fanout() {
    run_phase(Phase::Fanout, "fanout").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_requeue_churn() {
    run_phase(Phase::Requeue, "requeue churn").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_segment_compaction() {
    run_phase(Phase::Compaction, "compaction").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_ttl_into_a_dead_letter_queue() {
    run_phase(Phase::TtlDlq, "ttl into dlq").await;
}

/// Declares and deletes durable queues (and binds them) one operation at a time until the
/// connection dies; records what the broker answered ok. The operation in flight at the kill
/// may or may not have happened.
async fn churn(url: String, state: Arc<Mutex<HashMap<String, bool>>>, mut next: u64) -> u64 {
    let Some(conn) = try_connect(&url).await else {
        return next;
    };
    let Ok(ch) = conn.create_channel().await else {
        return next;
    };
    let durable = QueueDeclareOptions {
        durable: true,
        ..Default::default()
    };
    loop {
        let name = format!("def-{next}");
        let ok = ch
            .queue_declare(&name, durable, FieldTable::default())
            .await
            .is_ok()
            && ch
                .queue_bind(
                    &name,
                    "amq.direct",
                    &name,
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await
                .is_ok();
        if !ok {
            return next;
        }
        state.lock().unwrap().insert(name, true);
        if next % 2 == 1 {
            let old = format!("def-{}", next - 1);
            if ch
                .queue_delete(&old, QueueDeleteOptions::default())
                .await
                .is_err()
            {
                // In flight: either way is right.
                state.lock().unwrap().remove(&old);
                return next + 1;
            }
            state.lock().unwrap().insert(old, false);
        }
        next += 1;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_definitions_churn() {
    let dir = tempfile::tempdir().unwrap();
    let state = Arc::new(Mutex::new(HashMap::new()));
    let mut next = 0u64;
    for round in 0..ROUNDS {
        let broker = BrokerProcess::start(dir.path());
        let c = tokio::spawn(churn(broker.url(), state.clone(), next));
        let ms = 1000 + (round * 7919 + next) % 500;
        tokio::time::sleep(Duration::from_millis(ms)).await;
        broker.kill();
        next = tokio::time::timeout(Duration::from_secs(20), c)
            .await
            .unwrap()
            .unwrap();
        // The next round starts past anything in flight.
        next += 2;
        next += next % 2;
    }
    let broker = BrokerProcess::start(dir.path());
    let base = broker.http_base();
    let listed: Vec<serde_json::Value> = reqwest::Client::new()
        .get(format!("{base}/api/queues/%2f"))
        .basic_auth("guest", Some("guest"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let exists: HashSet<String> = listed
        .iter()
        .filter_map(|q| q["name"].as_str().map(str::to_owned))
        .collect();
    let bindings: Vec<serde_json::Value> = reqwest::Client::new()
        .get(format!(
            "{base}/api/exchanges/%2f/amq.direct/bindings/source"
        ))
        .basic_auth("guest", Some("guest"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let bound: HashSet<String> = bindings
        .iter()
        .filter_map(|b| b["destination"].as_str().map(str::to_owned))
        .collect();
    broker.kill();
    let state = state.lock().unwrap();
    assert!(state.len() >= 6, "too little churn: {}", state.len());
    for (name, should) in state.iter() {
        assert_eq!(
            exists.contains(name),
            *should,
            "queue {name}: the client was told it {}",
            if *should { "exists" } else { "was deleted" }
        );
        if *should {
            assert!(bound.contains(name), "queue {name} lost its binding");
        }
    }
    eprintln!(
        "definitions churn: {} queues checked after {ROUNDS} kills",
        state.len()
    );
}
