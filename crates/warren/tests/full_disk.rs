//! A durable change the broker cannot save is not made. On a full disk (a small tmpfs the test
//! mounts over the data directory) queue.declare, queue.delete, exchange.declare and
//! queue.bind get 541 INTERNAL_ERROR, HTTP user creation, queue deletion and a parameter get 500; the broker still has what
//! it had, and after a restart (with room again) it has exactly what the clients were told:
//! the refused queue is not there, the queue whose deletion was refused is.
//!
//! Persistent messages published meanwhile are nacked, and the log holds a few lines about
//! it, not one per message.
//!
//! Mounting needs root (or CAP_SYS_ADMIN); where it is not allowed the test says so and
//! passes without running.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::BrokerProcess;
use lapin::options::{
    BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions, QueueBindOptions,
    QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Connection, ConnectionProperties, ExchangeKind};

/// A tmpfs mounted for the test, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Option<Tmpfs> {
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Tmpfs(dir.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Writes a file until the file system is full; returns its path.
fn fill(dir: &Path) -> PathBuf {
    let path = dir.join("filler");
    let mut f = std::fs::File::create(&path).unwrap();
    let chunk = vec![0xa5u8; 4096];
    loop {
        match f.write_all(&chunk) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(28) => break,
            Err(e) => panic!("filling the disk: {e}"),
        }
    }
    let _ = f.sync_all();
    path
}

async fn put_user(base: &str, name: &str) -> u16 {
    reqwest::Client::new()
        .put(format!("{base}/api/users/{name}"))
        .basic_auth("guest", Some("guest"))
        .json(&serde_json::json!({"password": "secret", "tags": ""}))
        .send()
        .await
        .expect("HTTP")
        .status()
        .as_u16()
}

async fn get_status(base: &str, path: &str) -> u16 {
    reqwest::Client::new()
        .get(format!("{base}{path}"))
        .basic_auth("guest", Some("guest"))
        .send()
        .await
        .expect("HTTP")
        .status()
        .as_u16()
}

fn durable() -> QueueDeclareOptions {
    QueueDeclareOptions {
        durable: true,
        ..Default::default()
    }
}

/// The reply code a failed lapin call carries (its channel or connection close).
fn reply_code(e: &lapin::Error) -> Option<u16> {
    match e {
        lapin::Error::ProtocolError(p) => Some(p.get_id()),
        _ => None,
    }
}

async fn passive_exists(conn: &Connection, name: &str) -> bool {
    let ch = conn.create_channel().await.unwrap();
    let opts = QueueDeclareOptions {
        passive: true,
        ..Default::default()
    };
    ch.queue_declare(name, opts, FieldTable::default())
        .await
        .is_ok()
}

#[tokio::test]
async fn durable_changes_that_cannot_be_saved_are_refused_and_not_made() {
    let dir = tempfile::tempdir().unwrap();
    let Some(mount) = Tmpfs::mount(dir.path(), "16m") else {
        eprintln!("skipped: mounting a tmpfs is not allowed here (needs root)");
        return;
    };
    // No disk alarm: publishers must reach the full disk (a tmpfs this small is under the
    // default 50 MB limit).
    let cfg = tempfile::tempdir().unwrap();
    let config = cfg.path().join("warren.toml");
    std::fs::write(&config, "[resources]\ndisk_free_limit = \"0\"\n").unwrap();
    let args = ["--config", config.to_str().unwrap()];
    let b = BrokerProcess::start_with(dir.path(), &args);
    let base = b.http_base();
    let props = ConnectionProperties::default;

    // Made while there is room: these must stay.
    let conn = Connection::connect(&b.url(), props()).await.unwrap();
    let ch = conn.create_channel().await.unwrap();
    ch.queue_declare("kept", durable(), FieldTable::default())
        .await
        .unwrap();
    drop(ch);

    let filler = fill(dir.path());

    // Each refused change closes its connection with 541 (a connection error).
    let refused = |what: &str, r: Result<(), lapin::Error>| match r {
        Err(e) => assert_eq!(reply_code(&e), Some(541), "{what}: {e:?}"),
        Ok(()) => panic!("{what} answered ok on a full disk"),
    };
    let c = Connection::connect(&b.url(), props()).await.unwrap();
    let ch = c.create_channel().await.unwrap();
    let r = ch
        .queue_declare("new", durable(), FieldTable::default())
        .await;
    refused("queue.declare", r.map(drop));

    let c = Connection::connect(&b.url(), props()).await.unwrap();
    let ch = c.create_channel().await.unwrap();
    let r = ch.queue_delete("kept", QueueDeleteOptions::default()).await;
    refused("queue.delete", r.map(drop));

    let c = Connection::connect(&b.url(), props()).await.unwrap();
    let ch = c.create_channel().await.unwrap();
    let opts = ExchangeDeclareOptions {
        durable: true,
        ..Default::default()
    };
    let r = ch
        .exchange_declare("new-x", ExchangeKind::Fanout, opts, FieldTable::default())
        .await;
    refused("exchange.declare", r);

    let c = Connection::connect(&b.url(), props()).await.unwrap();
    let ch = c.create_channel().await.unwrap();
    let r = ch
        .queue_bind(
            "kept",
            "amq.direct",
            "k",
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await;
    refused("queue.bind", r);

    assert_eq!(put_user(&base, "bob").await, 500, "PUT /api/users/bob");
    let delete = reqwest::Client::new()
        .delete(format!("{base}/api/queues/%2f/kept"))
        .basic_auth("guest", Some("guest"))
        .send()
        .await
        .unwrap();
    assert_eq!(delete.status().as_u16(), 500, "DELETE /api/queues/%2f/kept");
    let put = reqwest::Client::new()
        .put(format!("{base}/api/global-parameters/colour"))
        .basic_auth("guest", Some("guest"))
        .json(&serde_json::json!({"value": "blue"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        put.status().as_u16(),
        500,
        "PUT /api/global-parameters/colour"
    );

    // Persistent messages cannot be stored: each is nacked, and the log says so once in a
    // while, not once per message.
    let refusals = b.drain_log();
    let saves = refusals
        .iter()
        .filter(|l| l.contains("could not save definitions"));
    assert_eq!(
        saves.count(),
        1,
        "one line for seven refusals: {refusals:#?}"
    );
    let pc = Connection::connect(&b.url(), props()).await.unwrap();
    let pch = pc.create_channel().await.unwrap();
    pch.confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    let mut confirms = Vec::new();
    for _ in 0..200 {
        let persistent = BasicProperties::default().with_delivery_mode(2);
        let c = pch
            .basic_publish(
                "",
                "kept",
                BasicPublishOptions::default(),
                &[7u8; 1024],
                persistent,
            )
            .await
            .unwrap();
        confirms.push(c);
    }
    for c in confirms {
        assert!(
            c.await.unwrap().is_nack(),
            "a message was confirmed on a full disk"
        );
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let errors = b
        .drain_log()
        .into_iter()
        .filter(|l| l.contains("ERROR"))
        .collect::<Vec<_>>();
    assert!(
        errors.len() <= 5,
        "{} ERROR lines: {errors:#?}",
        errors.len()
    );

    // Memory is as it was: nothing half-made, nothing deleted.
    assert!(!passive_exists(&conn, "new").await, "refused queue exists");
    assert!(
        passive_exists(&conn, "kept").await,
        "queue whose delete was refused is gone"
    );
    assert_eq!(get_status(&base, "/api/exchanges/%2f/new-x").await, 404);
    assert_eq!(get_status(&base, "/api/users/bob").await, 404);
    assert_eq!(
        get_status(&base, "/api/global-parameters/colour").await,
        404
    );
    let r = reqwest::Client::new()
        .get(format!("{base}/api/queues/%2f/kept/bindings"))
        .basic_auth("guest", Some("guest"))
        .send()
        .await
        .unwrap();
    let bindings: serde_json::Value = r.json().await.unwrap();
    assert!(
        !bindings
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["source"] == "amq.direct"),
        "refused binding exists: {bindings}"
    );

    // With room again, the same changes succeed; a restart finds what the clients were told.
    std::fs::remove_file(&filler).unwrap();
    let ch = conn.create_channel().await.unwrap();
    ch.queue_declare("after", durable(), FieldTable::default())
        .await
        .unwrap();
    drop(conn);
    b.kill();
    let b = BrokerProcess::start_with(dir.path(), &args);
    let base = b.http_base();
    let conn = Connection::connect(&b.url(), props()).await.unwrap();
    assert!(
        passive_exists(&conn, "kept").await,
        "kept is gone after a restart"
    );
    assert!(
        passive_exists(&conn, "after").await,
        "after is gone after a restart"
    );
    assert!(
        !passive_exists(&conn, "new").await,
        "refused queue came back"
    );
    assert_eq!(get_status(&base, "/api/users/bob").await, 404);
    drop(conn);
    b.kill();
    drop(mount);
}

/// The bodies of the messages `basic.get` finds in `queue` (acked).
async fn drain(conn: &Connection, queue: &str) -> Vec<Vec<u8>> {
    let ch = conn.create_channel().await.unwrap();
    let mut got = Vec::new();
    while let Some(m) = ch
        .basic_get(queue, lapin::options::BasicGetOptions::default())
        .await
        .unwrap()
    {
        got.push(m.delivery.data.clone());
        m.delivery
            .ack(lapin::options::BasicAckOptions::default())
            .await
            .unwrap();
    }
    got
}

#[tokio::test]
async fn a_message_nacked_on_a_full_disk_is_not_stored() {
    let dir = tempfile::tempdir().unwrap();
    let Some(mount) = Tmpfs::mount(dir.path(), "16m") else {
        eprintln!("skipped: mounting a tmpfs is not allowed here (needs root)");
        return;
    };
    let cfg = tempfile::tempdir().unwrap();
    let config = cfg.path().join("warren.toml");
    std::fs::write(&config, "[resources]\ndisk_free_limit = \"0\"\n").unwrap();
    let args = ["--config", config.to_str().unwrap()];
    let b = BrokerProcess::start_with(dir.path(), &args);
    let conn = Connection::connect(&b.url(), ConnectionProperties::default())
        .await
        .unwrap();
    let ch = conn.create_channel().await.unwrap();
    ch.queue_declare("q", durable(), FieldTable::default())
        .await
        .unwrap();
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    let filler = fill(dir.path());

    // Each publish waits for its confirm: acked ones were stored, nacked ones must not be.
    let (mut acked, mut nacked) = (Vec::new(), Vec::new());
    for i in 0..40 {
        let body = format!("m{i:03}-").repeat(8 * 1024).into_bytes();
        let props = BasicProperties::default().with_delivery_mode(2);
        let confirm = ch
            .basic_publish("", "q", BasicPublishOptions::default(), &body, props)
            .await
            .unwrap()
            .await
            .unwrap();
        if confirm.is_ack() {
            acked.push(body);
        } else {
            nacked.push(body);
        }
    }
    assert!(
        nacked.len() >= 30,
        "{} of 40 acked on a full disk",
        acked.len()
    );
    assert_eq!(
        drain(&conn, "q").await.len(),
        acked.len(),
        "a nacked message is still in its queue"
    );
    // Room again: what the store still had buffered reaches the disk, then a crash.
    std::fs::remove_file(&filler).unwrap();
    for body in &acked {
        let props = BasicProperties::default().with_delivery_mode(2);
        let confirm = ch
            .basic_publish("", "q", BasicPublishOptions::default(), body, props)
            .await
            .unwrap()
            .await
            .unwrap();
        assert!(confirm.is_ack());
    }
    drop(conn);
    b.kill();
    let b = BrokerProcess::start_with(dir.path(), &args);
    let conn = Connection::connect(&b.url(), ConnectionProperties::default())
        .await
        .unwrap();
    let back = drain(&conn, "q").await;
    assert_eq!(back, acked, "nacked messages came back after a restart");
    drop(conn);
    b.kill();
    drop(mount);
}
