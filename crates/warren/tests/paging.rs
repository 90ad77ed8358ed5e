//! Paging under memory pressure, on the real binary: a transient flood nobody consumes goes to
//! the transient store instead of filling memory, so its publisher keeps getting confirms and
//! a consumer later gets every message; the transient store is wiped at restart.

mod common;

use std::collections::VecDeque;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::BrokerProcess;
use lapin::options::*;
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};

const WATERMARK: u64 = 128 << 20;
const BODY: usize = 64 << 10;

/// A body carrying its sequence number, then a filler that depends on it.
fn body(seq: u64, len: usize) -> Vec<u8> {
    let mut b = vec![(seq % 251) as u8; len];
    b[..8].copy_from_slice(&seq.to_be_bytes());
    b
}

fn check_body(data: &[u8], len: usize) -> u64 {
    assert_eq!(data.len(), len);
    let seq = u64::from_be_bytes(data[..8].try_into().unwrap());
    assert!(
        data[8..].iter().all(|&x| x == (seq % 251) as u8),
        "body of message {seq} damaged"
    );
    seq
}

fn rss_of(pid: u32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = text.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace()
        .nth(1)?
        .parse::<u64>()
        .ok()
        .map(|kb| kb * 1024)
}

/// Bytes in the transient store's segment files.
fn transient_bytes(data_dir: &Path) -> u64 {
    let Ok(dir) = std::fs::read_dir(data_dir.join("messages/transient/segments")) else {
        return 0;
    };
    dir.filter_map(Result::ok)
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum()
}

fn start(dir: &Path, resources: &str) -> BrokerProcess {
    let config = dir.join("warren.toml");
    std::fs::write(&config, format!("[resources]\n{resources}")).unwrap();
    BrokerProcess::start_with(dir, &["--config", config.to_str().unwrap()])
}

async fn connect(b: &BrokerProcess) -> Connection {
    tokio::time::timeout(
        Duration::from_secs(20),
        Connection::connect(&b.url(), ConnectionProperties::default()),
    )
    .await
    .unwrap()
    .unwrap()
}

/// Takes `expected` messages from `queue` (acking them) and returns their sequence numbers.
async fn drain(ch: &Channel, queue: &str, expected: usize, len: usize) -> Vec<u64> {
    ch.basic_qos(200, BasicQosOptions::default()).await.unwrap();
    let mut consumer = ch
        .basic_consume(
            queue,
            &format!("drain-{queue}"),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    let mut seqs = Vec::with_capacity(expected);
    while seqs.len() < expected {
        let d = tokio::time::timeout(
            Duration::from_secs(60),
            futures_lite::StreamExt::next(&mut consumer),
        )
        .await
        .unwrap_or_else(|_| panic!("{queue}: only {} of {expected} came", seqs.len()))
        .unwrap()
        .unwrap();
        seqs.push(check_body(&d.data, len));
        d.ack(BasicAckOptions::default()).await.unwrap();
    }
    seqs
}

async fn declare(ch: &Channel, queue: &str, durable: bool) {
    ch.queue_declare(
        queue,
        QueueDeclareOptions {
            durable,
            ..Default::default()
        },
        FieldTable::default(),
    )
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transient_flood_nobody_consumes_keeps_being_confirmed_and_drains_whole() {
    const QUEUES: [(&str, bool); 2] = [("flood-plain", false), ("flood-durable", true)];
    let dir = tempfile::tempdir().unwrap();
    let b = start(
        dir.path(),
        "memory_high_watermark = \"128MiB\"\ndisk_free_limit = \"1MB\"\n",
    );
    let pid = b.child.id();
    let max_rss = Arc::new(AtomicU64::new(0));
    let max_paged = Arc::new(AtomicU64::new(0));
    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = {
        let (max_rss, max_paged, sampling) = (max_rss.clone(), max_paged.clone(), sampling.clone());
        let data_dir = dir.path().to_owned();
        std::thread::spawn(move || {
            while sampling.load(Ordering::Relaxed) {
                if let Some(r) = rss_of(pid) {
                    max_rss.fetch_max(r, Ordering::Relaxed);
                }
                max_paged.fetch_max(transient_bytes(&data_dir), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    };

    let publisher = connect(&b).await;
    let ch = publisher.create_channel().await.unwrap();
    for (q, durable) in QUEUES {
        declare(&ch, q, durable).await;
    }
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    // 20 s of 64 KiB transient messages, alternately to a non-durable and a durable queue,
    // with up to 64 confirms outstanding.
    let start_at = Instant::now();
    let mut in_flight = VecDeque::new();
    let (mut published, mut confirmed) = (0u64, 0u64);
    let mut was_blocked = false;
    let wait = Duration::from_secs(60);
    while start_at.elapsed() < Duration::from_secs(20) {
        let (q, _) = QUEUES[(published % 2) as usize];
        let c = ch
            .basic_publish(
                "",
                q,
                BasicPublishOptions::default(),
                &body(published, BODY),
                BasicProperties::default().with_delivery_mode(1),
            )
            .await
            .unwrap();
        in_flight.push_back(c);
        published += 1;
        was_blocked |= publisher.status().blocked();
        while in_flight.len() > 64 {
            let c = in_flight.pop_front().unwrap();
            let answer = tokio::time::timeout(wait, c)
                .await
                .unwrap_or_else(|_| {
                    panic!(
                        "no confirm for a minute after {confirmed} confirms (blocked: {}); log: {:#?}",
                        publisher.status().blocked(),
                        b.drain_log()
                    )
                })
                .unwrap();
            assert!(answer.is_ack(), "message nacked");
            confirmed += 1;
        }
    }
    for c in in_flight {
        let answer = tokio::time::timeout(wait, c)
            .await
            .expect("the last confirms came")
            .unwrap();
        assert!(answer.is_ack(), "message nacked");
        confirmed += 1;
    }
    assert_eq!(confirmed, published);
    let confirmed_bytes = confirmed * BODY as u64;
    assert!(
        confirmed_bytes > 4 * WATERMARK,
        "only {} MiB confirmed in 20 s (blocked at some point: {was_blocked})",
        confirmed_bytes >> 20
    );
    // Blocked or not on the way, it ends unblocked (the alarm, if raised, cleared).
    let mut unblocked = false;
    for _ in 0..100 {
        if !publisher.status().blocked() {
            unblocked = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(unblocked, "the publisher stays blocked");
    assert!(
        max_paged.load(Ordering::Relaxed) > WATERMARK,
        "the bodies did not go to the transient store"
    );

    // A consumer gets every confirmed message, in order, intact.
    let consumer = connect(&b).await;
    let cch = consumer.create_channel().await.unwrap();
    for (i, (q, _)) in QUEUES.iter().enumerate() {
        let expected: Vec<u64> = (0..published).filter(|s| s % 2 == i as u64).collect();
        let got = drain(&cch, q, expected.len(), BODY).await;
        assert!(
            got == expected,
            "{q}: messages missing, doubled or out of order"
        );
    }
    sampling.store(false, Ordering::Relaxed);
    sampler.join().unwrap();
    let rss = max_rss.load(Ordering::Relaxed);
    eprintln!(
        "{confirmed} messages confirmed ({} MiB), blocked on the way: {was_blocked}, peak RSS {} MiB, peak transient store {} MiB",
        confirmed_bytes >> 20,
        rss >> 20,
        max_paged.load(Ordering::Relaxed) >> 20
    );
    // "About twice the watermark": the RSS also holds what jemalloc has freed but not yet
    // returned to the OS (its decay), which the alarm's allocated figure does not count.
    // Connections wake the monitor every 4 MiB they read, so a flood meets the paging
    // threshold at once: peaks of 136 MiB (184 MiB with the 250 ms timer alone) on a loaded
    // 2-core machine (debug build). Without paging the publisher is blocked for good and the
    // flood never gets this far.
    assert!(
        rss < 2 * WATERMARK,
        "RSS reached {} MiB (watermark 128 MiB)",
        rss >> 20
    );
    // Read messages left the transient store: at most the segment being written is left.
    let mut left = u64::MAX;
    for _ in 0..100 {
        left = transient_bytes(dir.path());
        if left <= 65 << 20 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        left <= 65 << 20,
        "{} MiB left in the transient store",
        left >> 20
    );
}

/// With a paging ratio of 0 every body behind a queue's window is paged out at once.
const ALWAYS_PAGE: &str = "memory_high_watermark = \"1GiB\"\nmemory_high_watermark_paging_ratio = 0\ndisk_free_limit = \"1MB\"\n";

async fn wait_for_transient_bytes(dir: &Path, at_least: u64) {
    for _ in 0..200 {
        if transient_bytes(dir) >= at_least {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "the transient store holds {} bytes, not {at_least}",
        transient_bytes(dir)
    );
}

async fn publish_confirmed(
    ch: &Channel,
    queue: &str,
    seqs: std::ops::Range<u64>,
    mode: u8,
    len: usize,
) {
    for s in seqs {
        let c = ch
            .basic_publish(
                "",
                queue,
                BasicPublishOptions::default(),
                &body(s, len),
                BasicProperties::default().with_delivery_mode(mode),
            )
            .await
            .unwrap()
            .await
            .unwrap();
        assert!(c.is_ack());
    }
}

#[tokio::test]
async fn a_restart_discards_paged_transient_messages_and_keeps_persistent_ones() {
    let dir = tempfile::tempdir().unwrap();
    let b = start(dir.path(), ALWAYS_PAGE);
    let conn = connect(&b).await;
    let ch = conn.create_channel().await.unwrap();
    declare(&ch, "mixed", true).await;
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    // 200 persistent messages, then 200 transient ones: those behind the window are paged.
    publish_confirmed(&ch, "mixed", 0..200, 2, 10_000).await;
    publish_confirmed(&ch, "mixed", 200..400, 1, 10_000).await;
    wait_for_transient_bytes(dir.path(), 100 * 10_000).await;
    drop(conn);
    assert!(b.stop().success());

    let b = start(dir.path(), ALWAYS_PAGE);
    assert_eq!(
        transient_bytes(dir.path()),
        0,
        "the transient store was not wiped"
    );
    let conn = connect(&b).await;
    let ch = conn.create_channel().await.unwrap();
    let depth = ch
        .queue_declare(
            "mixed",
            QueueDeclareOptions {
                passive: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap()
        .message_count();
    assert_eq!(depth, 200, "only the persistent messages come back");
    let got = drain(&ch, "mixed", 200, 10_000).await;
    assert_eq!(got, (0..200).collect::<Vec<u64>>());
}

#[tokio::test]
async fn purged_and_deleted_queues_free_the_transient_store() {
    let dir = tempfile::tempdir().unwrap();
    let b = start(dir.path(), ALWAYS_PAGE);
    let conn = connect(&b).await;
    let ch = conn.create_channel().await.unwrap();
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    let mb = 1 << 20;
    // 70 MiB per queue: more than a 64 MiB segment, so the first segment can be deleted.
    for (q, op) in [("paged-purged", "purge"), ("paged-deleted", "delete")] {
        declare(&ch, q, false).await;
        publish_confirmed(&ch, q, 0..70, 1, mb).await;
        wait_for_transient_bytes(dir.path(), 64 * mb as u64).await;
        if op == "purge" {
            let n = ch
                .queue_purge(q, QueuePurgeOptions::default())
                .await
                .unwrap();
            assert_eq!(n, 70);
        } else {
            let n = ch
                .queue_delete(q, QueueDeleteOptions::default())
                .await
                .unwrap();
            assert_eq!(n, 70);
        }
        // Only the segment being written stays, and it holds less than 64 MiB.
        let mut left = u64::MAX;
        for _ in 0..100 {
            left = transient_bytes(dir.path());
            if left < 64 * mb as u64 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(
            left < 64 * mb as u64,
            "{op}: {left} bytes left in the transient store"
        );
    }
}
