//! The message store's segment files through a real broker (issue 15 parts 5 and 6):
//! - a few live messages in a slow queue beside a busy one no longer pin every segment
//!   (compaction moves them), and they survive a kill -9 after it;
//! - a deleted segment file is reported as damage (WARN, `damage-report.txt`), its messages
//!   come back when the file is restored.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::BrokerProcess;
use futures_lite::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicGetOptions, BasicPublishOptions,
    ConfirmSelectOptions, QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};

const SEGMENT: u64 = 64 * 1024;
const BODY: usize = 1000;

fn config(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("warren.toml");
    std::fs::write(&path, "[store]\nsegment_size = \"64KiB\"\n").unwrap();
    path
}

fn segment_files(data: &Path) -> Vec<(String, u64)> {
    let mut v: Vec<(String, u64)> = std::fs::read_dir(data.join("messages/segments"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".seg"))
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                e.metadata().unwrap().len(),
            )
        })
        .collect();
    v.sort();
    v
}

fn segment_bytes(data: &Path) -> u64 {
    segment_files(data).iter().map(|(_, n)| n).sum()
}

fn body(i: usize) -> Vec<u8> {
    let mut b = format!("message {i} ").into_bytes();
    b.resize(BODY, b'a' + (i % 26) as u8);
    b
}

async fn declare(ch: &Channel, name: &str) -> u32 {
    ch.queue_declare(
        name,
        QueueDeclareOptions {
            durable: true,
            ..Default::default()
        },
        FieldTable::default(),
    )
    .await
    .unwrap()
    .message_count()
}

/// Publishes `n` persistent confirmed messages: one in `every` to "slow", the others to
/// "busy", which a consumer acks as they come. Returns the indices sent to "slow".
async fn slow_beside_busy(conn: &Connection, n: usize, every: usize) -> Vec<usize> {
    let ch = conn.create_channel().await.unwrap();
    declare(&ch, "slow").await;
    declare(&ch, "busy").await;
    let consumer_ch = conn.create_channel().await.unwrap();
    let mut consumer = consumer_ch
        .basic_consume(
            "busy",
            "acker",
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    let busy = n - n.div_ceil(every);
    let acker = tokio::spawn(async move {
        for _ in 0..busy {
            let d = consumer.next().await.unwrap().unwrap();
            d.ack(BasicAckOptions::default()).await.unwrap();
        }
    });
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    let mut slow = Vec::new();
    let mut pending = Vec::new();
    for i in 0..n {
        let queue = if i % every == 0 {
            slow.push(i);
            "slow"
        } else {
            "busy"
        };
        let props = BasicProperties::default().with_delivery_mode(2);
        pending.push(
            ch.basic_publish("", queue, BasicPublishOptions::default(), &body(i), props)
                .await
                .unwrap(),
        );
        if pending.len() == 100 {
            for c in pending.drain(..) {
                assert!(c.await.unwrap().is_ack());
            }
        }
    }
    for c in pending.drain(..) {
        assert!(c.await.unwrap().is_ack());
    }
    acker.await.unwrap();
    slow
}

/// Every message of "slow", in order, by basic.get (acked).
async fn drain_slow(conn: &Connection) -> Vec<Vec<u8>> {
    let ch = conn.create_channel().await.unwrap();
    let mut got = Vec::new();
    while let Some(m) = ch
        .basic_get("slow", BasicGetOptions::default())
        .await
        .unwrap()
    {
        got.push(m.delivery.data.clone());
        m.delivery.ack(BasicAckOptions::default()).await.unwrap();
    }
    got
}

#[tokio::test]
async fn a_slow_queue_beside_a_busy_one_does_not_pin_the_disk() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = tempfile::tempdir().unwrap();
    let config = config(cfg.path());
    let args = ["--config", config.to_str().unwrap()];
    let b = BrokerProcess::start_with(dir.path(), &args);
    let conn = Connection::connect(&b.url(), ConnectionProperties::default())
        .await
        .unwrap();
    // 6 MB through the busy queue, 1 message in 60 kept: ~95 segments' worth, 100 KB live.
    let slow = slow_beside_busy(&conn, 6000, 60).await;
    let live = slow.len() as u64 * (BODY as u64 + 60);
    let bound = 2 * live + 2 * SEGMENT;
    // Compaction runs beside the traffic; give it until it settles.
    let deadline = Instant::now() + Duration::from_secs(60);
    while segment_bytes(dir.path()) > bound && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let on_disk = segment_bytes(dir.path());
    eprintln!("{on_disk} bytes of segments for {live} live bytes (bound {bound})");
    assert!(
        on_disk <= bound,
        "{on_disk} bytes of segments for {} live messages ({live} bytes): {:?}",
        slow.len(),
        segment_files(dir.path())
    );
    drop(conn);
    b.kill();

    // The moved messages are all there after a crash, in order, with their bodies.
    let b = BrokerProcess::start_with(dir.path(), &args);
    assert!(
        !b.startup_log.iter().any(|l| l.contains("damage")),
        "{:#?}",
        b.startup_log
    );
    let conn = Connection::connect(&b.url(), ConnectionProperties::default())
        .await
        .unwrap();
    let ch = conn.create_channel().await.unwrap();
    assert_eq!(declare(&ch, "busy").await, 0);
    let got = drain_slow(&conn).await;
    assert_eq!(got.len(), slow.len());
    for (g, &i) in got.iter().zip(&slow) {
        assert_eq!(g, &body(i), "message {i}");
    }
    drop(conn);
    b.kill();
}

#[tokio::test]
async fn a_deleted_segment_is_reported_and_a_restored_one_brings_its_messages_back() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = tempfile::tempdir().unwrap();
    let config = config(cfg.path());
    let args = ["--config", config.to_str().unwrap()];
    let b = BrokerProcess::start_with(dir.path(), &args);
    let conn = Connection::connect(&b.url(), ConnectionProperties::default())
        .await
        .unwrap();
    // Every message kept: 300 KB in ~5 segments.
    let slow = slow_beside_busy(&conn, 300, 1).await;
    drop(conn);
    b.stop();
    let files = segment_files(dir.path());
    assert!(files.len() >= 3, "{files:?}");
    // The operator (or a disk) loses the oldest segment; a backup of it exists.
    let (victim, _) = &files[0];
    let path = dir.path().join("messages/segments").join(victim);
    let backup = cfg.path().join(victim);
    std::fs::copy(&path, &backup).unwrap();
    std::fs::remove_file(&path).unwrap();

    let b = BrokerProcess::start_with(dir.path(), &args);
    let warned: Vec<&String> = b
        .startup_log
        .iter()
        .filter(|l| l.contains("WARN") && l.contains("damage") && l.contains(victim.as_str()))
        .collect();
    assert_eq!(warned.len(), 1, "{:#?}", b.startup_log);
    let report = std::fs::read_to_string(dir.path().join("messages/damage-report.txt")).unwrap();
    assert!(report.contains(victim.as_str()), "{report}");
    let conn = Connection::connect(&b.url(), ConnectionProperties::default())
        .await
        .unwrap();
    let ch = conn.create_channel().await.unwrap();
    let left = declare(&ch, "slow").await as usize;
    assert!(left < slow.len() && left > 0, "{left} of {}", slow.len());
    drop(conn);
    b.stop();

    // Restored: every message is back, in order.
    std::fs::copy(&backup, &path).unwrap();
    let b = BrokerProcess::start_with(dir.path(), &args);
    let conn = Connection::connect(&b.url(), ConnectionProperties::default())
        .await
        .unwrap();
    let got = drain_slow(&conn).await;
    assert_eq!(got.len(), slow.len());
    for (g, &i) in got.iter().zip(&slow) {
        assert_eq!(g, &body(i), "message {i}");
    }
    drop(conn);
    b.kill();
}

#[tokio::test]
async fn after_a_lost_journal_recover_messages_scans_the_kept_segments_back() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = tempfile::tempdir().unwrap();
    let config = config(cfg.path());
    let args = ["--config", config.to_str().unwrap()];
    let b = BrokerProcess::start_with(dir.path(), &args);
    let conn = Connection::connect(&b.url(), ConnectionProperties::default())
        .await
        .unwrap();
    let slow = slow_beside_busy(&conn, 300, 1).await;
    drop(conn);
    b.stop();
    // The journal is lost; the segments are intact.
    for e in std::fs::read_dir(dir.path().join("messages/journal")).unwrap() {
        std::fs::remove_file(e.unwrap().path()).unwrap();
    }
    let segments = segment_files(dir.path());

    // The broker starts empty, says why, and keeps the segments.
    let b = BrokerProcess::start_with(dir.path(), &args);
    assert!(
        b.startup_log
            .iter()
            .any(|l| l.contains("WARN") && l.contains("journal is missing")),
        "{:#?}",
        b.startup_log
    );
    let conn = Connection::connect(&b.url(), ConnectionProperties::default())
        .await
        .unwrap();
    let ch = conn.create_channel().await.unwrap();
    assert_eq!(declare(&ch, "slow").await, 0);
    drop(conn);
    b.stop();
    for (name, _) in &segments {
        assert!(
            dir.path().join("messages/segments").join(name).exists(),
            "{name} kept"
        );
    }

    // A running broker refuses the command (the data directory is locked).
    let b = BrokerProcess::start_with(dir.path(), &args);
    let recover = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_warren"))
            .args(["recover-messages", "--data-dir"])
            .arg(dir.path())
            .args(["--config", config.to_str().unwrap()])
            .output()
            .unwrap()
    };
    let out = recover();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("in use"));
    b.stop();

    let out = recover();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&format!("recovered {} messages", slow.len())),
        "{stdout}"
    );
    assert!(!dir.path().join("messages/damage-report.txt").exists());

    // Every message is back in its queue, in order; and only once.
    let b = BrokerProcess::start_with(dir.path(), &args);
    let conn = Connection::connect(&b.url(), ConnectionProperties::default())
        .await
        .unwrap();
    let got = drain_slow(&conn).await;
    assert_eq!(got.len(), slow.len());
    for (g, &i) in got.iter().zip(&slow) {
        assert_eq!(g, &body(i), "message {i}");
    }
    drop(conn);
    b.stop();
    let out = recover();
    assert!(String::from_utf8_lossy(&out.stdout).contains("no segment files are kept"));
}
