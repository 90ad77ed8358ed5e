//! Prometheus endpoints: every endpoint parses as the text exposition format (a strict check
//! here, and `promtool check metrics`, Prometheus' own parser and linter, when it is installed:
//! .ci/run installs it, and in CI a missing promtool fails the test unless
//! WARREN_SKIP_PROMTOOL=1), and RabbitMQ's Grafana dashboard RabbitMQ-Overview finds every
//! metric it queries, with samples, after real AMQP traffic.

mod common;

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use common::{start, start_with_node, within, Env};
use futures_lite::StreamExt;
use lapin::options::*;
use lapin::types::FieldTable;
use lapin::BasicProperties;
use warren_http::NodeResources;

const ENDPOINTS: &[&str] = &[
    "/metrics",
    "/metrics/per-object",
    "/metrics/detailed",
    "/metrics/detailed?family=queue_coarse_metrics",
    // Every group Warren has, and an unknown one (ignored, as RabbitMQ does).
    "/metrics/detailed?family=connection_churn_metrics&family=node_coarse_metrics\
     &family=node_metrics&family=queue_coarse_metrics&family=queue_consumer_count\
     &family=queue_metrics&family=channel_exchange_metrics&family=channel_queue_metrics\
     &family=connection_coarse_metrics&family=connection_metrics\
     &family=channel_queue_exchange_metrics&family=queue_delivery_metrics&family=nonesuch\
     &vhost=%2F",
];

async fn scrape(env: &Env, path: &str) -> String {
    let resp = within(env.client.get(format!("{}{path}", env.base)).send())
        .await
        .expect("scrape");
    assert_eq!(resp.status(), 200, "GET {path}");
    let ct = resp.headers()["content-type"].to_str().unwrap().to_string();
    assert!(ct.starts_with("text/plain; version=0.0.4"), "{path}: {ct}");
    within(resp.text()).await.unwrap()
}

/// A strict reading of the text format (0.0.4): every line is a `# TYPE` with a known type, a
/// `# HELP`, or a sample `name{labels} value` of a family typed before it, with a valid name,
/// well-formed quoted label values and a float value. Returns family -> (type, sample count).
fn parse_strict(path: &str, text: &str) -> HashMap<String, (String, usize)> {
    let mut fams: HashMap<String, (String, usize)> = HashMap::new();
    let valid_name = |n: &str| {
        !n.is_empty()
            && n.chars().enumerate().all(|(i, c)| {
                c.is_ascii_alphabetic() || c == '_' || c == ':' || (i > 0 && c.is_ascii_digit())
            })
    };
    for (no, line) in text.lines().enumerate() {
        let at = || format!("{path} line {}: {line:?}", no + 1);
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap_or_else(|| panic!("{}", at()));
            assert!(valid_name(name), "{}", at());
            assert!(
                ["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind),
                "invalid type: {}",
                at()
            );
            assert!(
                fams.insert(name.to_string(), (kind.to_string(), 0))
                    .is_none(),
                "family typed twice: {}",
                at()
            );
            continue;
        }
        if line.starts_with('#') {
            assert!(line.starts_with("# HELP "), "{}", at());
            continue;
        }
        let name_end = line.find(['{', ' ']).unwrap_or_else(|| panic!("{}", at()));
        let name = &line[..name_end];
        assert!(valid_name(name), "{}", at());
        let mut rest = &line[name_end..];
        if let Some(r) = rest.strip_prefix('{') {
            // label="value",... with \\ \" \n escapes.
            let mut chars = r.char_indices().peekable();
            let close;
            loop {
                let start = chars
                    .peek()
                    .map(|c| c.0)
                    .unwrap_or_else(|| panic!("{}", at()));
                if r[start..].starts_with('}') {
                    close = start;
                    break;
                }
                let eq = r[start..].find('=').unwrap_or_else(|| panic!("{}", at())) + start;
                assert!(valid_name(&r[start..eq]), "label name: {}", at());
                while chars.peek().is_some_and(|c| c.0 <= eq) {
                    chars.next();
                }
                assert_eq!(chars.next().map(|c| c.1), Some('"'), "{}", at());
                loop {
                    match chars.next().map(|c| c.1) {
                        Some('\\') => {
                            let e = chars.next().map(|c| c.1);
                            assert!(matches!(e, Some('\\' | '"' | 'n')), "escape: {}", at());
                        }
                        Some('"') => break,
                        Some(_) => {}
                        None => panic!("unterminated label value: {}", at()),
                    }
                }
                match chars.next().map(|c| c.1) {
                    Some(',') => {}
                    Some('}') => {
                        close = chars.peek().map_or(r.len(), |c| c.0) - 1;
                        break;
                    }
                    _ => panic!("{}", at()),
                }
            }
            rest = &r[close + 1..];
        }
        let value = rest.strip_prefix(' ').unwrap_or_else(|| panic!("{}", at()));
        let value = value.split(' ').next().unwrap();
        assert!(
            value.parse::<f64>().is_ok() || ["+Inf", "-Inf", "NaN"].contains(&value),
            "value: {}",
            at()
        );
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| {
                name.strip_suffix(s).filter(|b| {
                    fams.get(*b)
                        .is_some_and(|f| f.0 == "histogram" || f.0 == "summary")
                })
            })
            .unwrap_or(name);
        let f = fams
            .get_mut(family)
            .unwrap_or_else(|| panic!("sample before its # TYPE: {}", at()));
        f.1 += 1;
    }
    fams
}

/// `promtool check metrics` on `text` (lint problems included: its exit status is non-zero
/// for them too).
fn promtool(path: &str, text: &str) {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let Ok(mut child) = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    else {
        // As .ci/lib.sh: in CI a missing tool fails the run unless its opt-out says skip.
        let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
        let opt_out = std::env::var("WARREN_SKIP_PROMTOOL").is_ok_and(|v| v == "1");
        assert!(
            !ci || opt_out,
            "promtool is not installed (Debian's prometheus package; .ci/run installs it): \
             in CI it must run (WARREN_SKIP_PROMTOOL=1 skips it)"
        );
        eprintln!("promtool not installed: `promtool check metrics` skipped for {path}");
        return;
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics {path}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn every_metrics_endpoint_parses() {
    let env = start().await;
    let conn = env.connect().await;
    let ch = within(conn.create_channel()).await.unwrap();
    // A queue name that needs escaping in a label value.
    within(ch.queue_declare(
        "q \"quoted\" \\ back",
        QueueDeclareOptions::default(),
        FieldTable::default(),
    ))
    .await
    .unwrap();
    for path in ENDPOINTS {
        let text = scrape(&env, path).await;
        parse_strict(path, &text);
        promtool(path, &text);
    }
}

fn dashboard_names() -> Vec<String> {
    include_str!("fixtures/grafana-rabbitmq-overview-metrics.txt")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| l.trim().to_string())
        .collect()
}

/// The broker the dashboard test scrapes: a Warren started here, or the RabbitMQ named by
/// `COMPARE_AMQP_URL` and `COMPARE_PROMETHEUS_URL` (its rabbitmq_prometheus listener, e.g.
/// `http://127.0.0.1:15692`), so the same traffic and expectations run against it.
struct Target {
    amqp_url: String,
    metrics_url: String,
    client: reqwest::Client,
    /// Keeps the Warren alive.
    _env: Option<Env>,
}

impl Target {
    async fn new() -> Target {
        let client = reqwest::Client::new();
        if let (Ok(amqp_url), Ok(metrics_url)) = (
            std::env::var("COMPARE_AMQP_URL"),
            std::env::var("COMPARE_PROMETHEUS_URL"),
        ) {
            return Target {
                amqp_url,
                metrics_url,
                client,
                _env: None,
            };
        }
        let env = start_with_node(NodeResources {
            mem_limit: 128 << 20,
            disk_free_limit: 50_000_000,
            disk_free: Some(Arc::new(|| Some(7_000_000_000))),
        })
        .await;
        Target {
            amqp_url: env.amqp_url(),
            metrics_url: env.base.clone(),
            client,
            _env: Some(env),
        }
    }

    fn is_warren(&self) -> bool {
        self._env.is_some()
    }

    async fn connect(&self) -> lapin::Connection {
        within(lapin::Connection::connect(
            &self.amqp_url,
            lapin::ConnectionProperties::default(),
        ))
        .await
        .expect("AMQP connection")
    }

    async fn scrape(&self, path: &str) -> String {
        let resp = within(
            self.client
                .get(format!("{}{path}", self.metrics_url))
                .send(),
        )
        .await
        .expect("scrape");
        assert_eq!(resp.status(), 200, "GET {path}");
        within(resp.text()).await.unwrap()
    }
}

/// The sum of a family's samples on a page (labels ignored).
fn sum(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(name) && l[name.len()..].starts_with(['{', ' ']))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
        .sum()
}

#[tokio::test]
async fn grafana_rabbitmq_overview_finds_every_metric_with_samples() {
    let t = Target::new().await;
    // A queue name of this run (RabbitMQ keeps its queues between runs).
    let work = format!("work-{}", std::process::id());
    let before = t.scrape("/metrics").await;
    // Traffic: a connection opened and closed, a queue declared and deleted, publishes with
    // confirms (3 routed, 1 unroutable), a basic.get with ack, a consume with ack.
    let gone = t.connect().await;
    within(gone.close(200, "bye")).await.unwrap();
    let conn = t.connect().await;
    let ch = within(conn.create_channel()).await.unwrap();
    within(ch.confirm_select(ConfirmSelectOptions::default()))
        .await
        .unwrap();
    let tmp = format!("tmp-{}", std::process::id());
    within(ch.queue_declare(&tmp, QueueDeclareOptions::default(), FieldTable::default()))
        .await
        .unwrap();
    within(ch.queue_delete(&tmp, QueueDeleteOptions::default()))
        .await
        .unwrap();
    within(ch.queue_declare(&work, QueueDeclareOptions::default(), FieldTable::default()))
        .await
        .unwrap();
    for key in [
        &work,
        &work,
        &work,
        &format!("nowhere-{}", std::process::id()),
    ] {
        within(
            within(ch.basic_publish(
                "",
                key,
                BasicPublishOptions::default(),
                b"hello",
                BasicProperties::default(),
            ))
            .await
            .unwrap(),
        )
        .await
        .unwrap();
    }
    let got = within(ch.basic_get(&work, BasicGetOptions::default()))
        .await
        .unwrap()
        .expect("a message");
    within(got.ack(BasicAckOptions::default())).await.unwrap();
    let mut consumer = within(ch.basic_consume(
        &work,
        "c",
        BasicConsumeOptions::default(),
        FieldTable::default(),
    ))
    .await
    .unwrap();
    let d = within(consumer.next()).await.unwrap().unwrap();
    within(d.ack(BasicAckOptions::default())).await.unwrap();

    // What the traffic adds to each counter, and the gauges with one consumer, one publishing
    // channel and the unacked third message (RabbitMQ publishes some metrics every few
    // seconds: the page is read again until they hold, or for a bounded time).
    let delta: &[(&str, f64)] = &[
        ("rabbitmq_global_messages_received_total", 4.0),
        ("rabbitmq_global_messages_received_confirm_total", 4.0),
        ("rabbitmq_global_messages_routed_total", 3.0),
        ("rabbitmq_global_messages_unroutable_dropped_total", 1.0),
        ("rabbitmq_global_messages_confirmed_total", 4.0),
        (
            "rabbitmq_global_messages_delivered_get_manual_ack_total",
            1.0,
        ),
        (
            "rabbitmq_global_messages_delivered_consume_manual_ack_total",
            2.0,
        ),
        ("rabbitmq_global_messages_delivered_total", 3.0),
        ("rabbitmq_global_messages_acknowledged_total", 2.0),
        ("rabbitmq_global_consumers", 1.0),
        ("rabbitmq_global_publishers", 1.0),
        ("rabbitmq_connections_opened_total", 2.0),
        ("rabbitmq_connections_closed_total", 1.0),
        ("rabbitmq_channels_opened_total", 1.0),
        ("rabbitmq_queues_declared_total", 2.0),
        ("rabbitmq_queues_created_total", 2.0),
        ("rabbitmq_queues_deleted_total", 1.0),
        ("rabbitmq_queue_messages_unacked", 1.0),
    ];
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    let (text, off) = loop {
        let text = t.scrape("/metrics").await;
        let off: Vec<String> = delta
            .iter()
            .filter(|(name, d)| sum(&text, name) - sum(&before, name) != *d)
            .map(|(name, d)| {
                format!(
                    "{name}: +{} (expected +{d})",
                    sum(&text, name) - sum(&before, name)
                )
            })
            .collect();
        if off.is_empty() || tokio::time::Instant::now() > deadline {
            break (text, off);
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    assert!(off.is_empty(), "{off:#?}");

    let fams = parse_strict("/metrics", &text);
    if t.is_warren() {
        // RabbitMQ's own page fails promtool's lint (its erlang_* names).
        promtool("/metrics", &text);
    }
    // RabbitMQ 3.x has no message size histogram (4.0 added it).
    let v3 = text.contains("rabbitmq_version=\"3.");
    let mut missing = Vec::new();
    for name in dashboard_names() {
        let has = fams.get(&name).is_some_and(|f| f.1 > 0)
            || ["_bucket", "_sum", "_count"].iter().any(|s| {
                name.strip_suffix(s)
                    .and_then(|b| fams.get(b))
                    .is_some_and(|f| f.0 == "histogram" && f.1 > 0)
            });
        let excused = v3 && name.starts_with("rabbitmq_message_size_bytes");
        if !has && !excused {
            missing.push(name);
        }
    }
    assert!(
        missing.is_empty(),
        "dashboard metrics without samples: {missing:?}\n{text}"
    );

    // Every panel joins on the identity; its labels are there.
    let identity = text
        .lines()
        .find(|l| l.starts_with("rabbitmq_identity_info{"))
        .expect("identity");
    assert!(identity.contains("rabbitmq_node=\""), "{identity}");
    assert!(identity.contains("rabbitmq_cluster=\""), "{identity}");
    assert!(sum(&text, "rabbitmq_process_open_fds") > 0.0);
    assert!(sum(&text, "rabbitmq_process_max_fds") >= sum(&text, "rabbitmq_process_open_fds"));
    if t.is_warren() {
        // RabbitMQ 3.10 has no rabbitmq_endpoint label (its main branch has).
        assert!(
            identity.contains("rabbitmq_endpoint=\"aggregated\""),
            "{identity}"
        );
        for (name, v) in [
            ("rabbitmq_message_size_bytes_count", 4.0),
            ("rabbitmq_message_size_bytes_sum", 20.0),
            ("rabbitmq_disk_space_available_bytes", 7e9),
            ("rabbitmq_disk_space_available_limit_bytes", 5e7),
            ("rabbitmq_resident_memory_limit_bytes", 134217728.0),
        ] {
            assert_eq!(sum(&text, name), v, "{name}");
        }
        assert!(text
            .contains("rabbitmq_message_size_bytes_bucket{protocol=\"amqp091\",le=\"100.0\"} 4\n"));
    }

    // Per object: RabbitMQ's queue names with vhost and queue labels.
    let expect: Vec<String> = [
        ("rabbitmq_queue_messages_ready", 0),
        ("rabbitmq_queue_messages_unacked", 1),
        ("rabbitmq_queue_messages", 1),
        ("rabbitmq_queue_consumers", 1),
    ]
    .iter()
    .map(|(name, v)| format!("{name}{{vhost=\"/\",queue=\"{work}\"}} {v}"))
    .collect();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    let per = loop {
        let per = t.scrape("/metrics/per-object").await;
        if expect.iter().all(|l| per.lines().any(|x| x == l))
            || tokio::time::Instant::now() > deadline
        {
            break per;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    parse_strict("/metrics/per-object", &per);
    if t.is_warren() {
        promtool("/metrics/per-object", &per);
    }
    for l in &expect {
        assert!(per.lines().any(|x| x == l), "missing {l:?} in\n{per}");
    }
    within(ch.queue_delete(&work, QueueDeleteOptions::default()))
        .await
        .unwrap();
}

/// The families of a page: `# TYPE` names.
fn family_names(text: &str) -> Vec<&str> {
    text.lines()
        .filter_map(|l| l.strip_prefix("# TYPE ")?.split(' ').next())
        .collect()
}

#[tokio::test]
async fn detailed_gives_the_families_and_vhosts_asked_for() {
    use reqwest::Method;
    let env = start().await;
    let put = |path: &'static str| env.call(Method::PUT, path, Some(serde_json::json!({})));
    assert!(put("/api/vhosts/other").await.0.is_success());
    assert!(put("/api/queues/%2F/a").await.0.is_success());
    assert!(put("/api/queues/other/b").await.0.is_success());

    // No family: the identity only (as RabbitMQ).
    let text = scrape(&env, "/metrics/detailed").await;
    assert_eq!(
        family_names(&text),
        ["rabbitmq_build_info", "rabbitmq_identity_info"],
        "{text}"
    );
    assert!(text.contains("rabbitmq_endpoint=\"detailed\""), "{text}");

    // One family, one vhost: that vhost's queues, with RabbitMQ's detailed names.
    let text = scrape(
        &env,
        "/metrics/detailed?family=queue_coarse_metrics&vhost=other",
    )
    .await;
    parse_strict("detailed", &text);
    assert_eq!(
        family_names(&text),
        [
            "rabbitmq_detailed_queue_messages_ready",
            "rabbitmq_detailed_queue_messages_unacked",
            "rabbitmq_detailed_queue_messages",
            "rabbitmq_build_info",
            "rabbitmq_identity_info"
        ],
        "{text}"
    );
    assert!(text
        .lines()
        .any(|l| l == "rabbitmq_detailed_queue_messages_ready{vhost=\"other\",queue=\"b\"} 0"));
    assert!(!text.contains("queue=\"a\""), "{text}");

    // Families repeat; every vhost without `vhost`; queue_metrics has the consumers of
    // queue_consumer_count, which is then left out (as RabbitMQ).
    let text = scrape(
        &env,
        "/metrics/detailed?family=queue_consumer_count&family=queue_metrics&family=connection_churn_metrics",
    )
    .await;
    parse_strict("detailed", &text);
    let fams = family_names(&text);
    assert!(
        fams.contains(&"rabbitmq_detailed_queues_created_total"),
        "{text}"
    );
    assert_eq!(
        fams.iter()
            .filter(|f| **f == "rabbitmq_detailed_queue_consumers")
            .count(),
        1,
        "{text}"
    );
    for q in ["vhost=\"/\",queue=\"a\"", "vhost=\"other\",queue=\"b\""] {
        assert!(
            text.contains(&format!("rabbitmq_detailed_queue_consumers{{{q}}} 0")),
            "{q}: {text}"
        );
    }
}

/// Families Warren has that RabbitMQ 3.10.8 has not: RabbitMQ 4's.
const RABBITMQ_4_ONLY: &[&str] = &[
    "rabbitmq_message_size_bytes",
    "rabbitmq_queue_get_ack_total",
    "rabbitmq_queue_get_total",
    "rabbitmq_queue_messages_delivered_ack_total",
    "rabbitmq_queue_messages_delivered_total",
    "rabbitmq_queue_messages_redelivered_total",
    "rabbitmq_queue_messages_acked_total",
];

/// Families whose labels differ from RabbitMQ 3.10.8's, and why.
const OTHER_LABELS: &[(&str, &str)] = &[
    (
        "rabbitmq_build_info",
        "product and product_version name Warren; no Erlang prometheus client version",
    ),
    (
        "rabbitmq_identity_info",
        "rabbitmq_endpoint as RabbitMQ 4; no persistent cluster id",
    ),
];

/// Channel and connection families: RabbitMQ's per-object series are labelled with Erlang
/// process ids; Warren's are summed there too.
fn summed_per_object(name: &str) -> bool {
    name.starts_with("rabbitmq_channel_")
        || name.starts_with("rabbitmq_connection_")
        || name == "rabbitmq_queue_messages_published_total"
}

/// endpoint -> name -> (type, label names of a first sample, if any).
type Shapes = HashMap<String, HashMap<String, (String, Option<BTreeSet<String>>)>>;

fn rabbitmq_shapes() -> Shapes {
    let mut shapes = Shapes::new();
    for l in include_str!("fixtures/rabbitmq-3.10.8-metric-shapes.txt").lines() {
        if l.starts_with('#') || l.is_empty() {
            continue;
        }
        let f: Vec<&str> = l.split(' ').collect();
        let labels = match f[3] {
            "-" => None,
            "{}" => Some(BTreeSet::new()),
            x => Some(x.split(',').map(str::to_string).collect()),
        };
        shapes
            .entry(f[0].to_string())
            .or_default()
            .insert(f[1].to_string(), (f[2].to_string(), labels));
    }
    shapes
}

/// The shapes of a page, as the fixture records them.
fn page_shapes(text: &str) -> HashMap<String, (String, Option<BTreeSet<String>>)> {
    let mut out: HashMap<String, (String, Option<BTreeSet<String>>)> = HashMap::new();
    for l in text.lines() {
        if let Some(rest) = l.strip_prefix("# TYPE ") {
            let (n, t) = rest.split_once(' ').unwrap();
            out.insert(n.to_string(), (t.to_string(), None));
        } else if !l.starts_with('#') && !l.is_empty() {
            let end = l.find(['{', ' ']).unwrap();
            let mut name = &l[..end];
            for suffix in ["_bucket", "_sum", "_count"] {
                if let Some(b) = name.strip_suffix(suffix) {
                    if out
                        .get(b)
                        .is_some_and(|f| f.0 == "histogram" || f.0 == "summary")
                    {
                        name = b;
                    }
                }
            }
            let labels: BTreeSet<String> = l[end..]
                .strip_prefix('{')
                .map(|r| {
                    r.split("\",")
                        .filter_map(|kv| kv.split_once('=').map(|x| x.0.to_string()))
                        .filter(|k| k != "le")
                        .collect()
                })
                .unwrap_or_default();
            if let Some(f) = out.get_mut(name) {
                f.1.get_or_insert(labels);
            }
        }
    }
    out
}

/// Every family Warren serves on /metrics and /metrics/per-object has RabbitMQ 3.10.8's type
/// and label names (fixture captured from a live node; with `COMPARE_PROMETHEUS_URL` the
/// fixture is checked against that node first), or is one of RabbitMQ 4's.
#[tokio::test]
async fn families_have_rabbitmqs_types_and_labels() {
    let rabbit = rabbitmq_shapes();
    if let Ok(url) = std::env::var("COMPARE_PROMETHEUS_URL") {
        for (endpoint, fams) in &rabbit {
            let text = within(reqwest::get(format!("{url}{endpoint}")))
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            let live = page_shapes(&text);
            for (name, (kind, _)) in fams {
                assert_eq!(
                    live.get(name).map(|f| &f.0),
                    Some(kind),
                    "{endpoint} {name}"
                );
            }
        }
    }
    let env = start().await;
    let conn = env.connect().await;
    let ch = within(conn.create_channel()).await.unwrap();
    within(ch.queue_declare("q", QueueDeclareOptions::default(), FieldTable::default()))
        .await
        .unwrap();
    let mut checked = 0;
    for endpoint in ["/metrics", "/metrics/per-object"] {
        let ours = page_shapes(&scrape(&env, endpoint).await);
        let theirs = &rabbit[endpoint];
        for (name, (kind, labels)) in &ours {
            let Some((their_kind, their_labels)) = theirs.get(name) else {
                assert!(
                    RABBITMQ_4_ONLY.contains(&name.as_str()),
                    "{endpoint} {name}: not a RabbitMQ family"
                );
                continue;
            };
            assert_eq!(kind, their_kind, "{endpoint} {name}: type");
            let exempt = OTHER_LABELS.iter().any(|o| o.0 == name)
                || (endpoint == "/metrics/per-object" && summed_per_object(name));
            if let (Some(ours), Some(theirs), false) = (labels, their_labels, exempt) {
                assert_eq!(ours, theirs, "{endpoint} {name}: label names");
                checked += 1;
            }
        }
    }
    assert!(checked > 60, "only {checked} label sets compared");
}
