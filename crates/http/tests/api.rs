//! The management API over real HTTP (reqwest) against a broker with its AMQP server, driven
//! by a real AMQP client (lapin). Field names are RabbitMQ's.

mod common;

use common::{has_fields, start, within};
use futures_lite::StreamExt;
use lapin::options::*;
use lapin::types::FieldTable;
use lapin::BasicProperties;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

fn names(v: &Value) -> Vec<String> {
    v.as_array()
        .expect("an array")
        .iter()
        .map(|x| x["name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn unauthenticated_requests_get_401_json() {
    let env = start().await;
    let (s, v) = env.call_as(None, Method::GET, "/api/overview", None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(v["error"], "not_authorized");
    assert!(v["reason"].is_string());
    let (s, _) = env
        .call_as(Some(("guest", "wrong")), Method::GET, "/api/queues", None)
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let resp = env
        .client
        .get(format!("{}/api/overview", env.base))
        .send()
        .await
        .unwrap();
    assert!(resp.headers().get("www-authenticate").is_some());
    // Bearer tokens are refused when no verifier is configured.
    let resp = env
        .client
        .get(format!("{}/api/overview", env.base))
        .bearer_auth("not.a.token")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn overview_nodes_vhosts_have_rabbitmq_fields() {
    let env = start().await;
    let v = env.get("/api/overview").await;
    has_fields(
        &v,
        &[
            "management_version",
            "rabbitmq_version",
            "product_name",
            "cluster_name",
            "node",
            "exchange_types",
            "message_stats.publish",
            "message_stats.publish_details.rate",
            "message_stats.deliver_get_details.rate",
            "queue_totals.messages",
            "queue_totals.messages_ready",
            "queue_totals.messages_unacknowledged",
            "object_totals.queues",
            "object_totals.exchanges",
            "object_totals.connections",
            "object_totals.channels",
            "object_totals.consumers",
            "listeners",
        ],
    );
    // The standard exchanges of "/".
    assert_eq!(v["object_totals"]["exchanges"], 6);
    let amqp_port = env.amqp.addr.port();
    assert!(v["listeners"]
        .as_array()
        .unwrap()
        .iter()
        .any(|l| l["protocol"] == "amqp" && l["port"] == amqp_port));
    let nodes = env.get("/api/nodes").await;
    has_fields(
        &nodes[0],
        &[
            "name",
            "running",
            "mem_used",
            "mem_alarm",
            "disk_free_alarm",
            "uptime",
        ],
    );
    assert_eq!(nodes[0]["running"], true);
    assert_eq!(names(&env.get("/api/vhosts").await), vec!["/"]);
    let who = env.get("/api/whoami").await;
    assert_eq!(who["name"], "guest");
    assert_eq!(who["tags"], json!(["administrator"]));
    // Vhost create and delete.
    let (s, _) = env.call(Method::PUT, "/api/vhosts/other", None).await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(names(&env.get("/api/vhosts").await), vec!["/", "other"]);
    let (s, _) = env.call(Method::DELETE, "/api/vhosts/other", None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, v) = env.call(Method::GET, "/api/vhosts/other", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(v["error"], "Object Not Found");
}

#[tokio::test]
async fn queue_declare_publish_get_purge_delete() {
    let env = start().await;
    let (s, _) = env
        .call(
            Method::PUT,
            "/api/queues/%2F/jobs",
            Some(
                json!({"durable": false, "auto_delete": false, "arguments": {"x-max-length": 100}}),
            ),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, _) = env
        .call(
            Method::PUT,
            "/api/queues/%2F/jobs",
            Some(json!({"durable": false, "arguments": {"x-max-length": 100}})),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "an equivalent redeclare is fine");
    let (s, v) = env
        .call(
            Method::PUT,
            "/api/queues/%2F/jobs",
            Some(json!({"durable": true})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(
        v["reason"]
            .as_str()
            .unwrap()
            .contains("inequivalent arg 'durable'"),
        "{v}"
    );

    let q = env.get("/api/queues/%2F/jobs").await;
    has_fields(
        &q,
        &[
            "name",
            "vhost",
            "durable",
            "auto_delete",
            "exclusive",
            "arguments",
            "node",
            "type",
            "state",
            "messages",
            "messages_ready",
            "messages_unacknowledged",
            "consumers",
            "messages_details.rate",
            "message_stats.publish_details.rate",
        ],
    );
    assert_eq!(q["arguments"]["x-max-length"], 100);
    assert_eq!(q["durable"], false);

    for i in 0..3 {
        let (s, v) = env
            .call(
                Method::POST,
                "/api/exchanges/%2F/amq.default/publish",
                Some(json!({"properties": {"delivery_mode": 1, "headers": {"n": i}, "content_type": "text/plain"},
                            "routing_key": "jobs", "payload": format!("job {i}"), "payload_encoding": "string"})),
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(v["routed"], true);
    }
    let (_, v) = env
        .call(
            Method::POST,
            "/api/exchanges/%2F/amq.default/publish",
            Some(json!({"properties": {}, "routing_key": "nowhere", "payload": "x", "payload_encoding": "string"})),
        )
        .await;
    assert_eq!(v["routed"], false);
    assert_eq!(env.get("/api/queues/%2F/jobs").await["messages_ready"], 3);

    // Get with requeue leaves the message; the same message comes back, redelivered.
    let (s, got) = env
        .call(
            Method::POST,
            "/api/queues/%2F/jobs/get",
            Some(json!({"count": 1, "ackmode": "ack_requeue_true", "encoding": "auto"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    has_fields(
        &got[0],
        &[
            "payload",
            "payload_bytes",
            "payload_encoding",
            "redelivered",
            "exchange",
            "routing_key",
            "message_count",
            "properties",
        ],
    );
    assert_eq!(got[0]["payload"], "job 0");
    assert_eq!(got[0]["payload_encoding"], "string");
    assert_eq!(got[0]["properties"]["headers"]["n"], 0);
    assert_eq!(got[0]["properties"]["content_type"], "text/plain");
    assert_eq!(got[0]["message_count"], 2);
    assert_eq!(env.get("/api/queues/%2F/jobs").await["messages_ready"], 3);
    let (_, got) = env
        .call(
            Method::POST,
            "/api/queues/%2F/jobs/get",
            Some(json!({"count": 2, "ackmode": "ack_requeue_false", "encoding": "base64"})),
        )
        .await;
    assert_eq!(got.as_array().unwrap().len(), 2);
    assert_eq!(got[0]["redelivered"], true);
    assert_eq!(got[0]["payload_encoding"], "base64");
    assert_eq!(got[0]["payload"], "am9iIDA="); // "job 0"
    assert_eq!(env.get("/api/queues/%2F/jobs").await["messages_ready"], 1);
    let (s, _) = env
        .call(
            Method::POST,
            "/api/queues/%2F/jobs/get",
            Some(json!({"count": 1, "ackmode": "bogus"})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    let (s, _) = env
        .call(Method::DELETE, "/api/queues/%2F/jobs/contents", None)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(env.get("/api/queues/%2F/jobs").await["messages_ready"], 0);
    let q = env.get("/api/queues/%2F/jobs").await;
    assert_eq!(q["message_stats"]["publish"], 3);
    assert_eq!(q["message_stats"]["get"], 3);

    let (s, _) = env.call(Method::DELETE, "/api/queues/%2F/jobs", None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, v) = env.call(Method::GET, "/api/queues/%2F/jobs", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(v["reason"], "Not Found");
}

#[tokio::test]
async fn bad_input_is_a_json_400() {
    let env = start().await;
    let r = env
        .client
        .put(format!("{}/api/queues/%2F/q", env.base))
        .basic_auth("guest", Some("guest"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"], "bad_request");
    let (s, v) = env
        .call(
            Method::PUT,
            "/api/exchanges/%2F/x",
            Some(json!({"type": "nonsense"})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let (s, _) = env
        .call(
            Method::PUT,
            "/api/queues/%2F/q",
            Some(json!({"arguments": {"x-max-length": "many"}})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = env.call(Method::GET, "/api/queues/nosuchvhost", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, v) = env.call(Method::GET, "/api/no/such/thing", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(v["error"], "Object Not Found");
}

#[tokio::test]
async fn exchanges_and_bindings() {
    let env = start().await;
    let (s, _) = env
        .call(
            Method::PUT,
            "/api/exchanges/%2F/events",
            Some(json!({"type": "topic", "durable": true})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    env.call(
        Method::PUT,
        "/api/exchanges/%2F/audit",
        Some(json!({"type": "fanout"})),
    )
    .await;
    env.call(Method::PUT, "/api/queues/%2F/orders", Some(json!({})))
        .await;
    let x = env.get("/api/exchanges/%2F/events").await;
    has_fields(
        &x,
        &[
            "name",
            "vhost",
            "type",
            "durable",
            "auto_delete",
            "internal",
            "arguments",
        ],
    );
    assert_eq!(x["type"], "topic");
    let all = names(&env.get("/api/exchanges").await);
    assert!(
        all.contains(&"".to_string())
            && all.contains(&"amq.topic".to_string())
            && all.contains(&"events".to_string())
    );
    assert_eq!(env.get("/api/exchanges/%2F/amq.default").await["name"], "");

    let r = env
        .client
        .post(format!("{}/api/bindings/%2F/e/events/q/orders", env.base))
        .basic_auth("guest", Some("guest"))
        .json(&json!({"routing_key": "order.*", "arguments": {}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    assert!(loc.ends_with("/order.*"), "{loc}");
    let (s, _) = env
        .call(
            Method::POST,
            "/api/bindings/%2F/e/events/e/audit",
            Some(json!({"routing_key": "#"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);

    let b = env.get("/api/bindings/%2F/e/events/q/orders").await;
    assert_eq!(b.as_array().unwrap().len(), 1);
    has_fields(
        &b[0],
        &[
            "source",
            "vhost",
            "destination",
            "destination_type",
            "routing_key",
            "arguments",
            "properties_key",
        ],
    );
    assert_eq!(b[0]["properties_key"], "order.*");
    let qb = env.get("/api/queues/%2F/orders/bindings").await;
    let sources: Vec<&str> = qb
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["source"].as_str().unwrap())
        .collect();
    assert_eq!(sources, vec!["", "events"], "default binding first");
    let src = env.get("/api/exchanges/%2F/events/bindings/source").await;
    assert_eq!(src.as_array().unwrap().len(), 2);
    let dst = env
        .get("/api/exchanges/%2F/audit/bindings/destination")
        .await;
    assert_eq!(dst[0]["source"], "events");

    // A message through the topic binding arrives.
    let (_, v) = env
        .call(Method::POST, "/api/exchanges/%2F/events/publish",
              Some(json!({"properties": {}, "routing_key": "order.new", "payload": "o1", "payload_encoding": "string"})))
        .await;
    assert_eq!(v["routed"], true);
    assert_eq!(env.get("/api/queues/%2F/orders").await["messages"], 1);

    let (s, _) = env
        .call(
            Method::DELETE,
            "/api/bindings/%2F/e/events/q/orders/order.*",
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert!(env
        .get("/api/bindings/%2F/e/events/q/orders")
        .await
        .as_array()
        .unwrap()
        .is_empty());
    let (s, _) = env
        .call(
            Method::DELETE,
            "/api/bindings/%2F/e/events/q/orders/nope",
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = env
        .call(Method::DELETE, "/api/exchanges/%2F/events", None)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = env
        .call(Method::GET, "/api/exchanges/%2F/events", None)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn amqp_connections_channels_and_consumers_are_listed() {
    let env = start().await;
    let conn = env.connect().await;
    let ch1 = within(conn.create_channel()).await.unwrap();
    let ch2 = within(conn.create_channel()).await.unwrap();
    within(ch1.queue_declare(
        "work",
        QueueDeclareOptions::default(),
        FieldTable::default(),
    ))
    .await
    .unwrap();
    within(ch1.basic_qos(7, BasicQosOptions::default()))
        .await
        .unwrap();
    let mut consumer = within(ch1.basic_consume(
        "work",
        "worker-1",
        BasicConsumeOptions::default(),
        FieldTable::default(),
    ))
    .await
    .unwrap();
    for i in 0..5 {
        within(ch2.basic_publish(
            "",
            "work",
            BasicPublishOptions::default(),
            format!("m{i}").as_bytes(),
            BasicProperties::default(),
        ))
        .await
        .unwrap();
    }
    for _ in 0..5 {
        within(consumer.next()).await.unwrap().unwrap();
    }

    let conns = env
        .until("/api/connections", |v| {
            v.as_array()
                .is_some_and(|a| a.len() == 1 && a[0]["channels"] == 2)
        })
        .await;
    let c = &conns[0];
    has_fields(
        c,
        &[
            "name",
            "node",
            "vhost",
            "user",
            "state",
            "channels",
            "peer_host",
            "peer_port",
            "host",
            "port",
            "protocol",
            "auth_mechanism",
            "frame_max",
            "channel_max",
            "timeout",
            "connected_at",
            "client_properties",
            "recv_oct",
            "send_oct",
            "recv_oct_details.rate",
        ],
    );
    assert_eq!(c["user"], "guest");
    assert_eq!(c["vhost"], "/");
    assert_eq!(c["state"], "running");
    assert_eq!(c["protocol"], "AMQP 0-9-1");
    assert_eq!(c["port"], env.amqp.addr.port());
    assert_eq!(c["client_properties"]["product"], "lapin");
    let name = c["name"].as_str().unwrap().to_string();

    let chans = env
        .until("/api/channels", |v| {
            v.as_array()
                .is_some_and(|a| a.iter().any(|c| c["messages_unacknowledged"] == 5))
        })
        .await;
    assert_eq!(chans.as_array().unwrap().len(), 2);
    let busy = chans
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["consumer_count"] == 1)
        .unwrap();
    has_fields(
        busy,
        &[
            "name",
            "number",
            "vhost",
            "user",
            "state",
            "connection_details.name",
            "connection_details.peer_port",
            "prefetch_count",
            "global_prefetch_count",
            "messages_unacknowledged",
            "messages_unconfirmed",
            "confirm",
            "transactional",
            "consumer_count",
        ],
    );
    assert_eq!(busy["prefetch_count"], 7);
    assert_eq!(busy["messages_unacknowledged"], 5);
    assert_eq!(busy["connection_details"]["name"], name.as_str());
    let cname = busy["name"].as_str().unwrap();
    assert_eq!(cname, format!("{name} ({})", busy["number"]));
    let one = env
        .get(&format!("/api/channels/{}", urlencode(cname)))
        .await;
    assert_eq!(one["prefetch_count"], 7);
    let per_conn = env
        .get(&format!("/api/connections/{}/channels", urlencode(&name)))
        .await;
    assert_eq!(per_conn.as_array().unwrap().len(), 2);

    let consumers = env.get("/api/consumers").await;
    assert_eq!(consumers.as_array().unwrap().len(), 1);
    has_fields(
        &consumers[0],
        &[
            "consumer_tag",
            "queue.name",
            "queue.vhost",
            "channel_details.connection_name",
            "ack_required",
            "exclusive",
            "prefetch_count",
            "active",
        ],
    );
    assert_eq!(consumers[0]["consumer_tag"], "worker-1");
    assert_eq!(consumers[0]["prefetch_count"], 7);
    assert_eq!(consumers[0]["ack_required"], true);

    let q = env.get("/api/queues/%2F/work").await;
    assert_eq!(q["messages_unacknowledged"], 5);
    assert_eq!(q["messages"], 5);
    assert_eq!(q["consumers"], 1);
    assert_eq!(q["message_stats"]["deliver"], 5);
    let ov = env.get("/api/overview").await;
    assert_eq!(ov["object_totals"]["connections"], 1);
    assert_eq!(ov["object_totals"]["consumers"], 1);
    assert_eq!(ov["queue_totals"]["messages_unacknowledged"], 5);
    assert_eq!(ov["message_stats"]["publish"], 5);

    // Closing it from the API: the client hears 320 and the unacked messages go back.
    let (s, _) = env
        .call(
            Method::DELETE,
            &format!("/api/connections/{}", urlencode(&name)),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    env.until("/api/connections", |v| {
        v.as_array().is_some_and(|a| a.is_empty())
    })
    .await;
    let deadline = tokio::time::Instant::now() + common::WAIT;
    while conn.status().connected() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "lapin still connected"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let q = env
        .until("/api/queues/%2F/work", |q| q["messages_ready"] == 5)
        .await;
    assert_eq!(q["messages_unacknowledged"], 0);
    let (s, _) = env
        .call(
            Method::DELETE,
            &format!("/api/connections/{}", urlencode(&name)),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

fn urlencode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[tokio::test]
async fn message_rates_follow_traffic() {
    let env = start().await;
    let conn = env.connect().await;
    let ch = within(conn.create_channel()).await.unwrap();
    within(ch.queue_declare(
        "rated",
        QueueDeclareOptions::default(),
        FieldTable::default(),
    ))
    .await
    .unwrap();
    // Publish steadily across several samples (every 200 ms in tests).
    let publisher = tokio::spawn(async move {
        for _ in 0..60 {
            for _ in 0..10 {
                ch.basic_publish(
                    "",
                    "rated",
                    BasicPublishOptions::default(),
                    b"x",
                    BasicProperties::default(),
                )
                .await
                .unwrap();
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        ch
    });
    let q = env
        .until("/api/queues/%2F/rated", |q| {
            q["message_stats"]["publish_details"]["rate"]
                .as_f64()
                .unwrap_or(0.0)
                > 0.0
        })
        .await;
    assert!(q["message_stats"]["publish"].as_u64().unwrap() > 0);
    env.until("/api/overview", |v| {
        v["message_stats"]["publish_details"]["rate"]
            .as_f64()
            .unwrap_or(0.0)
            > 0.0
    })
    .await;
    let _ch = publisher.await.unwrap();
    let q = env
        .until("/api/queues/%2F/rated", |q| q["messages_ready"] == 600)
        .await;
    assert_eq!(q["message_stats"]["publish"], 600);
    let hist = env.get("/api/overview/history").await;
    assert!(!hist.as_array().unwrap().is_empty());
}

#[tokio::test]
async fn pagination_sorting_filtering_and_columns() {
    let env = start().await;
    for i in 0..25 {
        let (s, _) = env
            .call(
                Method::PUT,
                &format!("/api/queues/%2F/q{i:02}"),
                Some(json!({"durable": false})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED);
    }
    // Put i messages in queue q{i} for the first five.
    for i in 0..5 {
        for _ in 0..i {
            env.call(Method::POST, "/api/exchanges/%2F/amq.default/publish",
                Some(json!({"properties": {}, "routing_key": format!("q{i:02}"), "payload": "x", "payload_encoding": "string"}))).await;
        }
    }
    let p = env.get("/api/queues?page=2&page_size=10").await;
    assert_eq!(p["page"], 2);
    assert_eq!(p["page_size"], 10);
    assert_eq!(p["page_count"], 3);
    assert_eq!(p["total_count"], 25);
    assert_eq!(p["filtered_count"], 25);
    assert_eq!(p["item_count"], 10);
    assert_eq!(p["items"][0]["name"], "q10");
    let p = env
        .get("/api/queues/%2F?page=1&page_size=100&name=q1&use_regex=false")
        .await;
    assert_eq!(p["filtered_count"], 10);
    let p = env
        .get("/api/queues?page=1&name=%5Eq0%5B12%5D%24&use_regex=true")
        .await;
    assert_eq!(names(&p["items"]), vec!["q01", "q02"]);
    let sorted = env
        .get("/api/queues?sort=messages&sort_reverse=true&columns=name,messages")
        .await;
    let first: Vec<_> = sorted.as_array().unwrap().iter().take(3).cloned().collect();
    assert_eq!(
        first,
        vec![
            json!({"name": "q04", "messages": 4}),
            json!({"name": "q03", "messages": 3}),
            json!({"name": "q02", "messages": 2})
        ]
    );
    let cols = env
        .get("/api/queues?columns=name,message_stats.publish")
        .await;
    assert_eq!(
        cols[4],
        json!({"name": "q04", "message_stats": {"publish": 4}})
    );
    let (s, v) = env
        .call(Method::GET, "/api/queues?page=9&page_size=10", None)
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(v["error"], "bad_request");
    let (s, _) = env
        .call(Method::GET, "/api/queues?page=1&page_size=100000", None)
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn definitions_round_trip_between_brokers() {
    let a = start().await;
    a.call(Method::PUT, "/api/vhosts/staging", None).await;
    a.call(
        Method::PUT,
        "/api/exchanges/staging/events",
        Some(
            json!({"type": "topic", "durable": true, "arguments": {"alternate-exchange": "lost"}}),
        ),
    )
    .await;
    a.call(Method::PUT, "/api/queues/staging/orders", Some(json!({"durable": true, "arguments": {"x-message-ttl": 60000, "x-dead-letter-exchange": "dlx"}}))).await;
    let (s, _) = a
        .call(
            Method::POST,
            "/api/bindings/staging/e/events/q/orders",
            Some(json!({"routing_key": "order.#", "arguments": {"x-tag": "a"}})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let defs = a.get("/api/definitions").await;
    has_fields(
        &defs,
        &[
            "rabbit_version",
            "users",
            "vhosts",
            "permissions",
            "queues",
            "exchanges",
            "bindings",
            "policies",
        ],
    );
    assert!(defs["users"]
        .as_array()
        .unwrap()
        .iter()
        .any(|u| u["name"] == "guest"));

    let b = start().await;
    let (s, v) = b
        .call(Method::POST, "/api/definitions", Some(defs.clone()))
        .await;
    assert!(s.is_success(), "{s} {v}");
    let again = b.get("/api/definitions").await;
    for section in ["vhosts", "queues", "exchanges", "bindings"] {
        assert_eq!(again[section], defs[section], "section {section}");
    }
    let q = b.get("/api/queues/staging/orders").await;
    assert_eq!(q["arguments"]["x-message-ttl"], 60000);
    let bind = b.get("/api/bindings/staging/e/events/q/orders").await;
    assert_eq!(bind[0]["arguments"]["x-tag"], "a");
    // Per-vhost export has only that vhost's objects.
    let one = b.get("/api/definitions/staging").await;
    assert_eq!(one["queues"].as_array().unwrap().len(), 1);
    // A broken import is a 400 and changes nothing.
    let (s, v) = b
        .call(
            Method::POST,
            "/api/definitions",
            Some(json!({"exchanges": [{"name": "p", "vhost": "/", "type": "x-plugin"}]})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(v["reason"].as_str().unwrap().contains("x-plugin"));
}

#[tokio::test]
async fn prometheus_metrics_use_rabbitmq_names() {
    let env = start().await;
    let conn = env.connect().await;
    let ch = within(conn.create_channel()).await.unwrap();
    within(ch.queue_declare("m", QueueDeclareOptions::default(), FieldTable::default()))
        .await
        .unwrap();
    for _ in 0..4 {
        within(ch.basic_publish(
            "",
            "m",
            BasicPublishOptions::default(),
            b"x",
            BasicProperties::default(),
        ))
        .await
        .unwrap();
    }
    env.until("/api/queues/%2F/m", |q| q["messages_ready"] == 4)
        .await;
    let text = within(env.client.get(format!("{}/metrics", env.base)).send())
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let value = |name: &str| -> f64 {
        text.lines()
            .find(|l| l.split([' ', '{']).next() == Some(name))
            .and_then(|l| l.rsplit(' ').next()?.parse().ok())
            .unwrap_or_else(|| panic!("{name} missing in:\n{text}"))
    };
    assert_eq!(value("rabbitmq_queue_messages_ready"), 4.0);
    assert_eq!(value("rabbitmq_queue_messages_unacked"), 0.0);
    assert_eq!(value("rabbitmq_connections"), 1.0);
    assert_eq!(value("rabbitmq_channels"), 1.0);
    assert_eq!(value("rabbitmq_queues"), 1.0);
    assert_eq!(value("rabbitmq_channel_messages_published_total"), 4.0);
    assert!(text.contains("# TYPE rabbitmq_channel_messages_published_total counter"));
    let per = within(
        env.client
            .get(format!("{}/metrics/per-object", env.base))
            .send(),
    )
    .await
    .unwrap()
    .text()
    .await
    .unwrap();
    assert!(
        per.contains("rabbitmq_queue_messages_ready{vhost=\"/\",queue=\"m\"} 4"),
        "{per}"
    );
}

#[tokio::test]
async fn health_checks_and_aliveness() {
    let env = start().await;
    assert_eq!(env.get("/api/health/checks/alarms").await["status"], "ok");
    assert_eq!(
        env.get("/api/health/checks/local-alarms").await["status"],
        "ok"
    );
    let port = env.amqp.addr.port();
    assert_eq!(
        env.get(&format!("/api/health/checks/port-listener/{port}"))
            .await["status"],
        "ok"
    );
    let (s, v) = env
        .call(Method::GET, "/api/health/checks/port-listener/1", None)
        .await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(v["status"], "failed");
    assert_eq!(env.get("/api/aliveness-test/%2F").await["status"], "ok");
    env.amqp.broker.set_alarm(Some(
        "memory alarm: 900 MiB used, high watermark 800 MiB".into(),
    ));
    let (s, v) = env
        .call(Method::GET, "/api/health/checks/alarms", None)
        .await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(v["alarms"][0]["resource"], "memory");
    assert_eq!(env.get("/api/nodes").await[0]["mem_alarm"], true);
    env.amqp.broker.set_alarm(None);
    assert_eq!(env.get("/api/health/checks/alarms").await["status"], "ok");
}

#[tokio::test]
async fn dashboard_is_served_from_the_binary() {
    let env = start().await;
    let r = within(env.client.get(format!("{}/", env.base)).send())
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let html = r.text().await.unwrap();
    assert!(html.contains("/static/app.js"));
    assert!(!html.contains("https://"), "no CDN");
    let js = within(env.client.get(format!("{}/static/app.js", env.base)).send())
        .await
        .unwrap();
    assert_eq!(js.status(), StatusCode::OK);
    assert!(js.text().await.unwrap().contains("/api/overview"));
}

#[tokio::test]
async fn ten_thousand_queues_page_quickly() {
    let env = start().await;
    let v = env.amqp.broker.vhost("/").unwrap();
    for i in 0..10_000 {
        let decl = warren_amqp::QueueDeclare {
            queue: warren_amqp::ShortStr::try_from(format!("bulk-{i:05}")).unwrap(),
            passive: false,
            durable: false,
            exclusive: false,
            auto_delete: false,
            no_wait: false,
            arguments: warren_amqp::FieldTable::new(),
        };
        v.declare_queue(0, &decl).unwrap();
    }
    let t = std::time::Instant::now();
    let p = env.get("/api/queues?page=37&page_size=100").await;
    let first_page = t.elapsed();
    assert_eq!(p["total_count"], 10_000);
    assert_eq!(p["item_count"], 100);
    assert_eq!(p["items"][0]["name"], "bulk-03600");
    let t = std::time::Instant::now();
    let p = env
        .get("/api/queues?page=1&page_size=20&name=bulk-0999")
        .await;
    assert_eq!(p["filtered_count"], 10);
    let filtered = t.elapsed();
    // Only the page is turned into JSON: a page of 10,000 queues costs about what 100 do
    // (bounded loosely: CI machines are shared).
    assert!(
        first_page < std::time::Duration::from_secs(3),
        "{first_page:?}"
    );
    assert!(filtered < std::time::Duration::from_secs(3), "{filtered:?}");
    eprintln!("10,000 queues: page {first_page:?}, filtered {filtered:?}");
    // Sorting on a count (the dashboard's busiest queues) sorts on the counts alone and builds
    // only the page.
    let t = std::time::Instant::now();
    let p = env
        .get("/api/queues?page=1&page_size=50&sort=messages&sort_reverse=true")
        .await;
    let sorted = t.elapsed();
    assert_eq!(p["item_count"], 50);
    assert!(sorted < std::time::Duration::from_secs(5), "{sorted:?}");
    eprintln!("10,000 queues: sorted by messages {sorted:?}");
    let ov = env.get("/api/overview").await;
    assert_eq!(ov["object_totals"]["queues"], 10_000);
}

#[tokio::test]
async fn policies_apply_and_show_on_queues() {
    let env = start().await;
    env.call(
        Method::PUT,
        "/api/queues/%2F/capped-1",
        Some(json!({"durable": false})),
    )
    .await;
    let (s, v) = env
        .call(Method::PUT, "/api/policies/%2F/cap",
              Some(json!({"pattern": "^capped-", "definition": {"max-length": 2}, "priority": 1, "apply-to": "queues"})))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let p = env.get("/api/policies/%2F/cap").await;
    assert_eq!(p["definition"]["max-length"], 2);
    assert_eq!(p["apply-to"], "queues");
    for i in 0..5 {
        env.call(Method::POST, "/api/exchanges/%2F/amq.default/publish",
            Some(json!({"properties": {}, "routing_key": "capped-1", "payload": format!("m{i}"), "payload_encoding": "string"}))).await;
    }
    let q = env.get("/api/queues/%2F/capped-1").await;
    assert_eq!(q["policy"], "cap");
    assert_eq!(q["effective_policy_definition"]["max-length"], 2);
    assert_eq!(q["messages_ready"], 2, "the policy's max-length holds: {q}");
    let (s, v) = env
        .call(
            Method::PUT,
            "/api/policies/%2F/bad",
            Some(json!({"pattern": ".*", "definition": {"no-such-key": 1}})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(v["reason"].as_str().unwrap().contains("no-such-key"), "{v}");
    assert_eq!(
        env.call(Method::DELETE, "/api/policies/%2F/cap", None)
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        env.get("/api/queues/%2F/capped-1").await["policy"],
        Value::Null
    );
    assert_eq!(
        env.call(Method::DELETE, "/api/policies/%2F/cap", None)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    // Policies are part of the definitions.
    env.call(
        Method::PUT,
        "/api/policies/%2F/ttl",
        Some(json!({"pattern": "^t", "definition": {"message-ttl": 1000}})),
    )
    .await;
    let defs = env.get("/api/definitions").await;
    assert_eq!(defs["policies"][0]["name"], "ttl");
}

#[tokio::test]
async fn single_active_consumer_and_priorities_are_shown() {
    let env = start().await;
    let conn = env.connect().await;
    let ch = within(conn.create_channel()).await.unwrap();
    let mut args = FieldTable::default();
    args.insert(
        "x-single-active-consumer".into(),
        lapin::types::AMQPValue::Boolean(true),
    );
    within(ch.queue_declare("sac", QueueDeclareOptions::default(), args))
        .await
        .unwrap();
    let mut prio = FieldTable::default();
    prio.insert("x-priority".into(), lapin::types::AMQPValue::LongInt(5));
    let _first = within(ch.basic_consume("sac", "first", BasicConsumeOptions::default(), prio))
        .await
        .unwrap();
    let _second = within(ch.basic_consume(
        "sac",
        "second",
        BasicConsumeOptions::default(),
        FieldTable::default(),
    ))
    .await
    .unwrap();
    let q = env
        .until("/api/queues/%2F/sac", |q| q["consumers"] == 2)
        .await;
    assert_eq!(q["single_active_consumer_tag"], "first");
    let details = q["consumer_details"].as_array().unwrap();
    let first = details
        .iter()
        .find(|c| c["consumer_tag"] == "first")
        .unwrap();
    let second = details
        .iter()
        .find(|c| c["consumer_tag"] == "second")
        .unwrap();
    assert_eq!(first["activity_status"], "single_active");
    assert_eq!(first["active"], true);
    assert_eq!(first["arguments"]["x-priority"], 5);
    assert_eq!(second["activity_status"], "waiting");
    assert_eq!(second["active"], false);
    let all = env.get("/api/consumers/%2F").await;
    assert_eq!(all.as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn blocked_publishers_show_as_blocked() {
    let env = start().await;
    let publisher = env.connect().await;
    let ch = within(publisher.create_channel()).await.unwrap();
    within(ch.queue_declare(
        "flow",
        QueueDeclareOptions::default(),
        FieldTable::default(),
    ))
    .await
    .unwrap();
    within(ch.basic_publish(
        "",
        "flow",
        BasicPublishOptions::default(),
        b"x",
        BasicProperties::default(),
    ))
    .await
    .unwrap();
    let idle = env.connect().await;
    let _idle_ch = within(idle.create_channel()).await.unwrap();
    env.until("/api/queues/%2F/flow", |q| q["messages_ready"] == 1)
        .await;
    let states = |v: &Value| -> Vec<String> {
        let mut s: Vec<String> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["state"].as_str().unwrap().to_string())
            .collect();
        s.sort();
        s
    };
    assert_eq!(
        states(&env.get("/api/connections").await),
        vec!["running", "running"]
    );
    env.amqp.broker.set_alarm(Some("memory alarm: test".into()));
    // The publisher is blocked, the idle connection only "blocking" (it would be, if it published).
    let conns = env.get("/api/connections").await;
    assert_eq!(states(&conns), vec!["blocked", "blocking"]);
    let chans = env.get("/api/channels").await;
    assert!(states(&chans).contains(&"flow".to_string()), "{chans}");
    let text = within(env.client.get(format!("{}/metrics", env.base)).send())
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("rabbitmq_alarms_memory_used_watermark 1"),
        "{text}"
    );
    env.amqp.broker.set_alarm(None);
    assert_eq!(
        states(&env.get("/api/connections").await),
        vec!["running", "running"]
    );
}

#[tokio::test]
async fn channel_counts_confirms_returns_and_empty_gets() {
    let env = start().await;
    let conn = env.connect().await;
    let ch = within(conn.create_channel()).await.unwrap();
    within(ch.confirm_select(ConfirmSelectOptions::default()))
        .await
        .unwrap();
    within(ch.queue_declare(
        "counted",
        QueueDeclareOptions::default(),
        FieldTable::default(),
    ))
    .await
    .unwrap();
    for _ in 0..3 {
        within(
            within(ch.basic_publish(
                "",
                "counted",
                BasicPublishOptions::default(),
                b"x",
                BasicProperties::default(),
            ))
            .await
            .unwrap(),
        )
        .await
        .unwrap();
    }
    let mandatory = BasicPublishOptions {
        mandatory: true,
        ..Default::default()
    };
    within(
        within(ch.basic_publish("", "nowhere", mandatory, b"r", BasicProperties::default()))
            .await
            .unwrap(),
    )
    .await
    .unwrap();
    within(
        within(ch.basic_publish(
            "",
            "nowhere",
            BasicPublishOptions::default(),
            b"d",
            BasicProperties::default(),
        ))
        .await
        .unwrap(),
    )
    .await
    .unwrap();
    for _ in 0..3 {
        within(ch.basic_get("counted", BasicGetOptions { no_ack: true }))
            .await
            .unwrap();
    }
    assert!(
        within(ch.basic_get("counted", BasicGetOptions { no_ack: true }))
            .await
            .unwrap()
            .is_none()
    );

    let chans = env
        .until("/api/channels", |v| v[0]["message_stats"]["get_empty"] == 1)
        .await;
    let ms = &chans[0]["message_stats"];
    assert_eq!(ms["publish"], 5);
    assert_eq!(ms["confirm"], 5);
    assert_eq!(ms["return_unroutable"], 1);
    assert_eq!(ms["drop_unroutable"], 1);
    assert_eq!(ms["get_no_ack"], 3);
    assert_eq!(chans[0]["confirm"], true);
    let ov = env.get("/api/overview").await;
    let ms = &ov["message_stats"];
    assert_eq!(ms["publish"], 5);
    assert_eq!(ms["confirm"], 5);
    assert_eq!(ms["return_unroutable"], 1);
    assert_eq!(ms["drop_unroutable"], 1);
    assert_eq!(ms["get_empty"], 1);
    assert_eq!(ms["get_no_ack"], 3);
    assert!(ms["confirm_details"]["rate"].is_number());
    let text = within(env.client.get(format!("{}/metrics", env.base)).send())
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("\nrabbitmq_channel_messages_confirmed_total 5\n"),
        "{text}"
    );
    assert!(text.contains("\nrabbitmq_channel_messages_unroutable_returned_total 1\n"));
    assert!(text.contains("\nrabbitmq_channel_messages_unroutable_dropped_total 1\n"));
    assert!(text.contains("\nrabbitmq_channel_get_empty_total 1\n"));
    // Counts outlive the connection.
    within(conn.close(200, "bye")).await.unwrap();
    env.until("/api/connections", |v| {
        v.as_array().is_some_and(|a| a.is_empty())
    })
    .await;
    assert_eq!(
        env.get("/api/overview").await["message_stats"]["confirm"],
        5
    );
}

#[tokio::test]
async fn amqps_connections_say_ssl() {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    let cert = params.signed_by(&key, &ca, &ca_key).unwrap();
    let config = warren_server::tls::server_config(
        cert.pem().as_bytes(),
        key.serialize_pem().as_bytes(),
        None,
        false,
    )
    .unwrap();
    let broker = std::sync::Arc::new(warren_core::Broker::new(Default::default()));
    let tls_server = warren_server::RunningServer::start_tls("127.0.0.1:0", broker.clone(), config)
        .await
        .unwrap();
    let http = warren_http::HttpServer::bind(
        "127.0.0.1:0",
        broker,
        warren_http::HttpConfig::new(Some(tls_server.addr)),
    )
    .await
    .unwrap();
    let url = format!(
        "amqps://guest:guest@localhost:{}/%2f",
        tls_server.addr.port()
    );
    let tls = lapin::tcp::OwnedTLSConfig {
        identity: None,
        cert_chain: Some(ca.pem()),
    };
    let _conn = within(lapin::Connection::connect_with_config(
        &url,
        lapin::ConnectionProperties::default(),
        tls,
    ))
    .await
    .expect("AMQPS connection");
    let conns: Value = reqwest::Client::new()
        .get(format!("http://{}/api/connections", http.addr))
        .basic_auth("guest", Some("guest"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(conns[0]["ssl"], true, "{conns}");
    assert_eq!(conns[0]["port"], tls_server.addr.port());
}

#[tokio::test]
async fn the_management_api_is_served_over_https() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    let cert = params.signed_by(&key, &ca, &ca_key).unwrap();
    let config = warren_server::tls::server_config(
        cert.pem().as_bytes(),
        key.serialize_pem().as_bytes(),
        None,
        false,
    )
    .unwrap();
    let broker = std::sync::Arc::new(warren_core::Broker::new(Default::default()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let http = warren_http::HttpServer::start_tls(
        listener,
        warren_server::tls::TlsAcceptor::from(config),
        broker,
        warren_http::HttpConfig::new(None),
    );
    // A client that trusts only the test CA.
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.der().clone()).unwrap();
    let client = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(client));
    let get = |path: &'static str, auth: bool| {
        let connector = connector.clone();
        let addr = http.addr;
        async move {
            let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
            let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
            let mut tls = within(connector.connect(name, tcp)).await.unwrap();
            let auth = if auth {
                "Authorization: Basic Z3Vlc3Q6Z3Vlc3Q=\r\n" // guest:guest
            } else {
                ""
            };
            let req = format!(
                "GET {path} HTTP/1.1\r\nHost: localhost\r\n{auth}Connection: close\r\n\r\n"
            );
            tls.write_all(req.as_bytes()).await.unwrap();
            let mut resp = String::new();
            within(tls.read_to_string(&mut resp)).await.unwrap();
            resp
        }
    };
    let ok = get("/api/overview", true).await;
    assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
    assert!(ok.contains("\"management_version\""), "{ok}");
    let refused = get("/api/overview", false).await;
    assert!(refused.starts_with("HTTP/1.1 401"), "{refused}");
    // A plain-HTTP request on the HTTPS port gets no answer in clear text.
    let mut plain = tokio::net::TcpStream::connect(http.addr).await.unwrap();
    plain
        .write_all(b"GET /api/overview HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let _ = within(plain.read_to_end(&mut buf)).await;
    assert!(!String::from_utf8_lossy(&buf).contains("HTTP/1.1"));
}
