//! The management listener of the real binary: it starts on `--http-listen`, and what is
//! declared through it is durable like what is declared over AMQP.

mod common;

use std::time::Duration;

use common::BrokerProcess;
use serde_json::{json, Value};

/// The management address from the log ("management HTTP listening on http://ADDR ...").
fn http_base(b: &BrokerProcess) -> String {
    logged_url(b, "management HTTP listening on ")
}

/// The URL the log gives after `prefix`.
fn logged_url(b: &BrokerProcess, prefix: &str) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let mut seen = b.startup_log.clone();
    loop {
        if let Some(url) = seen.iter().find_map(|l| {
            l.split(prefix)
                .nth(1)
                .and_then(|r| r.split_whitespace().next())
                .map(str::to_string)
        }) {
            return url;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no HTTP address in {seen:#?}"
        );
        std::thread::sleep(Duration::from_millis(50));
        seen.extend(b.drain_log());
    }
}

async fn call(method: reqwest::Method, url: String, body: Option<Value>) -> (u16, Value) {
    let mut r = reqwest::Client::new()
        .request(method, url)
        .basic_auth("guest", Some("guest"));
    if let Some(b) = body {
        r = r.json(&b);
    }
    let resp = tokio::time::timeout(Duration::from_secs(10), r.send())
        .await
        .expect("in time")
        .expect("HTTP");
    let status = resp.status().as_u16();
    let v = resp.json().await.unwrap_or(Value::Null);
    (status, v)
}

#[tokio::test]
async fn queues_declared_over_http_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let b = BrokerProcess::start(dir.path());
    let base = http_base(&b);
    let (s, _) = call(
        reqwest::Method::PUT,
        format!("{base}/api/queues/%2F/kept"),
        Some(json!({"durable": true})),
    )
    .await;
    assert_eq!(s, 201);
    let (s, _) = call(
        reqwest::Method::PUT,
        format!("{base}/api/queues/%2F/gone"),
        Some(json!({"durable": false})),
    )
    .await;
    assert_eq!(s, 201);
    let (s, v) = call(
        reqwest::Method::POST,
        format!("{base}/api/exchanges/%2F/amq.default/publish"),
        Some(json!({"properties": {"delivery_mode": 2}, "routing_key": "kept", "payload": "still here", "payload_encoding": "string"})),
    )
    .await;
    assert_eq!((s, v["routed"].clone()), (200, json!(true)));
    // The node reports the configured limits.
    let (_, nodes) = call(reqwest::Method::GET, format!("{base}/api/nodes"), None).await;
    assert!(nodes[0]["mem_limit"].as_u64().unwrap() > 0);
    assert!(nodes[0]["disk_free"].as_u64().unwrap() > 0);
    b.stop();

    let b = BrokerProcess::start(dir.path());
    let base = http_base(&b);
    let (s, q) = call(
        reqwest::Method::GET,
        format!("{base}/api/queues/%2F/kept"),
        None,
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(q["messages"], 1, "{q}");
    let (s, _) = call(
        reqwest::Method::GET,
        format!("{base}/api/queues/%2F/gone"),
        None,
    )
    .await;
    assert_eq!(s, 404);
    let (s, got) = call(
        reqwest::Method::POST,
        format!("{base}/api/queues/%2F/kept/get"),
        Some(json!({"count": 1, "ackmode": "ack_requeue_false", "encoding": "auto"})),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(got[0]["payload"], "still here");
    assert_eq!(got[0]["properties"]["delivery_mode"], 2);
}

/// `--prometheus-listen`: a listener of its own serving the metrics alone, without
/// authentication, as RabbitMQ's rabbitmq_prometheus port (15692).
#[tokio::test]
async fn prometheus_listen_serves_the_metrics_alone() {
    let dir = tempfile::tempdir().unwrap();
    let b = BrokerProcess::start_with(dir.path(), &["--prometheus-listen", "127.0.0.1:0"]);
    let base = logged_url(&b, "Prometheus metrics listening on ");
    let get = |path: &str| {
        let url = format!("{base}{path}");
        async move {
            let resp = tokio::time::timeout(Duration::from_secs(10), reqwest::get(url))
                .await
                .expect("in time")
                .expect("HTTP");
            let status = resp.status().as_u16();
            (status, resp.text().await.unwrap_or_default())
        }
    };
    for path in [
        "/metrics",
        "/metrics/per-object",
        "/metrics/detailed?family=queue_coarse_metrics",
    ] {
        let (status, text) = get(path).await;
        assert_eq!(status, 200, "{path}: {text}");
        assert!(
            text.lines()
                .any(|l| l.starts_with("rabbitmq_identity_info{")),
            "{path}: {text}"
        );
    }
    // The management API is not there.
    assert_eq!(get("/api/overview").await.0, 404);
    b.stop();
}

#[test]
fn a_bad_prometheus_listen_address_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_warren"))
        .args(["server", "--prometheus-listen", "nope", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("invalid Prometheus listen address 'nope'"),
        "{err}"
    );
}
