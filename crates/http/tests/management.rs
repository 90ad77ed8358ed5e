//! Exchange message stats, per-queue Prometheus counters, 405 answers, and paging of the
//! exchange, connection and channel lists: over real HTTP (reqwest) against a broker driven by
//! a real AMQP client (lapin).

mod common;

use common::{start, within, Env};
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

async fn declare_exchange(ch: &lapin::Channel, name: &str, kind: lapin::ExchangeKind) {
    within(ch.exchange_declare(
        name,
        kind,
        ExchangeDeclareOptions::default(),
        FieldTable::default(),
    ))
    .await
    .unwrap();
}

async fn declare_queue(ch: &lapin::Channel, name: &str) {
    within(ch.queue_declare(name, QueueDeclareOptions::default(), FieldTable::default()))
        .await
        .unwrap();
}

async fn publish(ch: &lapin::Channel, exchange: &str, key: &str) {
    within(ch.basic_publish(
        exchange,
        key,
        BasicPublishOptions::default(),
        b"x",
        BasicProperties::default(),
    ))
    .await
    .unwrap()
    .await
    .unwrap();
}

async fn scrape(env: &Env, path: &str) -> String {
    within(env.client.get(format!("{}{path}", env.base)).send())
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// The value of the first sample of `name` (with these exact labels, if given).
fn metric(text: &str, name: &str, labels: Option<&str>) -> f64 {
    let wanted = match labels {
        Some(l) => format!("{name}{{{l}}} "),
        None => format!("{name} "),
    };
    text.lines()
        .find(|l| {
            l.starts_with(&wanted) || (labels.is_none() && l.starts_with(&format!("{name}{{")))
        })
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or_else(|| panic!("{wanted} missing in:\n{text}"))
}

#[tokio::test]
async fn exchanges_count_publish_in_and_out_as_rabbitmq() {
    let env = start().await;
    let conn = env.connect().await;
    let ch = within(conn.create_channel()).await.unwrap();
    within(ch.confirm_select(ConfirmSelectOptions::default()))
        .await
        .unwrap();
    // fan -> q1, q2, and -> inner (an exchange) -> q1 (again) and q3.
    declare_exchange(&ch, "fan", lapin::ExchangeKind::Fanout).await;
    declare_exchange(&ch, "inner", lapin::ExchangeKind::Fanout).await;
    for q in ["q1", "q2", "q3", "lost"] {
        declare_queue(&ch, q).await;
    }
    for q in ["q1", "q2"] {
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
    within(ch.exchange_bind(
        "inner",
        "fan",
        "",
        ExchangeBindOptions::default(),
        FieldTable::default(),
    ))
    .await
    .unwrap();
    for q in ["q1", "q3"] {
        within(ch.queue_bind(
            q,
            "inner",
            "",
            QueueBindOptions::default(),
            FieldTable::default(),
        ))
        .await
        .unwrap();
    }
    // An exchange whose unroutable messages go to its alternate exchange.
    let mut args = FieldTable::default();
    args.insert(
        "alternate-exchange".into(),
        lapin::types::AMQPValue::LongString("ae".into()),
    );
    within(ch.exchange_declare(
        "picky",
        lapin::ExchangeKind::Direct,
        ExchangeDeclareOptions::default(),
        args,
    ))
    .await
    .unwrap();
    declare_exchange(&ch, "ae", lapin::ExchangeKind::Fanout).await;
    within(ch.queue_bind(
        "lost",
        "ae",
        "",
        QueueBindOptions::default(),
        FieldTable::default(),
    ))
    .await
    .unwrap();

    // Before any publish, no message_stats (as RabbitMQ).
    let fan = env.get("/api/exchanges/%2F/fan").await;
    assert!(fan.get("message_stats").is_none(), "{fan:#}");

    for _ in 0..5 {
        publish(&ch, "fan", "k").await;
    }
    publish(&ch, "picky", "nowhere").await;
    publish(&ch, "amq.direct", "unroutable").await;
    // One through the management API, to the default exchange.
    let (s, v) = env
        .call(
            Method::POST,
            "/api/exchanges/%2F/amq.default/publish",
            Some(json!({"properties": {}, "routing_key": "q2", "payload": "p", "payload_encoding": "string"})),
        )
        .await;
    assert_eq!((s, v), (StatusCode::OK, json!({"routed": true})));

    let fan = env.get("/api/exchanges/%2F/fan").await;
    let ms = &fan["message_stats"];
    // Each message published to "fan" reached q1, q2 and q3 (q1 once, though bound twice).
    assert_eq!(ms["publish_in"], 5, "{fan:#}");
    assert_eq!(ms["publish_out"], 15, "{fan:#}");
    assert!(ms["publish_in_details"]["rate"].is_number());
    assert!(ms["publish_out_details"]["rate"].is_number());
    // The exchange a message passes through counts nothing (RabbitMQ counts the one it was
    // published to); nor does the alternate exchange.
    let inner = env.get("/api/exchanges/%2F/inner").await;
    assert!(inner.get("message_stats").is_none(), "{inner:#}");
    let ae = env.get("/api/exchanges/%2F/ae").await;
    assert!(ae.get("message_stats").is_none(), "{ae:#}");
    let picky = env.get("/api/exchanges/%2F/picky").await;
    assert_eq!(
        (
            &picky["message_stats"]["publish_in"],
            &picky["message_stats"]["publish_out"]
        ),
        (&json!(1), &json!(1))
    );
    // Unroutable: publish_in only.
    let direct = env.get("/api/exchanges/%2F/amq.direct").await;
    assert_eq!(direct["message_stats"]["publish_in"], 1, "{direct:#}");
    assert!(direct["message_stats"].get("publish_out").is_none());
    let default = env.get("/api/exchanges/%2F/amq.default").await;
    assert_eq!(default["message_stats"]["publish_in"], 1, "{default:#}");
    assert_eq!(default["message_stats"]["publish_out"], 1, "{default:#}");
    // The lists carry them too, and `columns` can pick them.
    let cols = env
        .get("/api/exchanges/%2F?columns=name,message_stats.publish_out")
        .await;
    assert!(cols
        .as_array()
        .unwrap()
        .contains(&json!({"name": "fan", "message_stats": {"publish_out": 15}})));

    // Rates follow steady traffic (the tests sample every 200 ms).
    let ch2 = ch.clone();
    let publisher = tokio::spawn(async move {
        for _ in 0..40 {
            for _ in 0..5 {
                ch2.basic_publish(
                    "fan",
                    "k",
                    BasicPublishOptions::default(),
                    b"x",
                    BasicProperties::default(),
                )
                .await
                .unwrap();
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
    });
    let fan = env
        .until("/api/exchanges/%2F/fan", |x| {
            let r = |k: &str| x["message_stats"][k]["rate"].as_f64().unwrap_or(0.0);
            r("publish_in_details") > 0.0 && r("publish_out_details") > 0.0
        })
        .await;
    let r = |k: &str| fan["message_stats"][k]["rate"].as_f64().unwrap();
    // Three queues per message: publish_out's rate is about three times publish_in's.
    assert!(
        r("publish_out_details") > 2.0 * r("publish_in_details"),
        "{fan:#}"
    );
    publisher.await.unwrap();
    env.until("/api/exchanges/%2F/fan", |x| {
        x["message_stats"]["publish_in"] == 205 && x["message_stats"]["publish_out"] == 615
    })
    .await;
}

#[tokio::test]
async fn prometheus_counts_queue_publishes_and_unacked_deliveries() {
    let env = start().await;
    let conn = env.connect().await;
    let ch = within(conn.create_channel()).await.unwrap();
    declare_exchange(&ch, "wide", lapin::ExchangeKind::Fanout).await;
    for q in ["a", "b", "c"] {
        declare_queue(&ch, q).await;
        within(ch.queue_bind(
            q,
            "wide",
            "",
            QueueBindOptions::default(),
            FieldTable::default(),
        ))
        .await
        .unwrap();
    }
    // 4 messages published, each into 3 queues.
    for _ in 0..4 {
        publish(&ch, "wide", "").await;
    }
    // A consumer holds 3 of "a"'s messages unacked (prefetch 3).
    let cch = within(conn.create_channel()).await.unwrap();
    within(cch.basic_qos(3, BasicQosOptions::default()))
        .await
        .unwrap();
    let mut consumer = within(cch.basic_consume(
        "a",
        "holder",
        BasicConsumeOptions::default(),
        FieldTable::default(),
    ))
    .await
    .unwrap();
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(within(consumer.next()).await.unwrap().unwrap());
    }
    env.until("/api/queues/%2F/a", |q| q["messages_unacknowledged"] == 3)
        .await;

    let text = scrape(&env, "/metrics").await;
    assert_eq!(metric(&text, "rabbitmq_queue_messages_unacked", None), 3.0);
    assert_eq!(metric(&text, "rabbitmq_queue_messages_ready", None), 9.0);
    assert_eq!(metric(&text, "rabbitmq_queue_messages", None), 12.0);
    assert_eq!(
        metric(&text, "rabbitmq_channel_messages_published_total", None),
        4.0
    );
    // Per queue: each queue a message entered counts it.
    assert_eq!(
        metric(&text, "rabbitmq_queue_messages_published_total", None),
        12.0
    );
    assert_eq!(
        metric(&text, "rabbitmq_channel_messages_delivered_ack_total", None),
        3.0
    );
    let per = scrape(&env, "/metrics/per-object").await;
    let l = |q: &str| format!("vhost=\"/\",queue=\"{q}\"");
    assert_eq!(
        metric(&per, "rabbitmq_queue_messages_unacked", Some(&l("a"))),
        3.0
    );
    assert_eq!(
        metric(&per, "rabbitmq_queue_messages_ready", Some(&l("a"))),
        1.0
    );
    assert_eq!(
        metric(&per, "rabbitmq_queue_messages_unacked", Some(&l("b"))),
        0.0
    );
    // Per object, publishes into queues are summed (RabbitMQ labels them per channel).
    assert_eq!(
        metric(&per, "rabbitmq_queue_messages_published_total", None),
        12.0
    );

    // Acks bring unacked down; a deleted queue's publishes stay in the total.
    for d in held {
        within(d.ack(BasicAckOptions::default())).await.unwrap();
    }
    env.until("/api/queues/%2F/a", |q| q["messages_unacknowledged"] == 1)
        .await;
    within(ch.queue_delete("c", QueueDeleteOptions::default()))
        .await
        .unwrap();
    let text = scrape(&env, "/metrics").await;
    assert_eq!(
        metric(&text, "rabbitmq_queue_messages_published_total", None),
        12.0
    );
    assert_eq!(
        metric(&text, "rabbitmq_channel_messages_acked_total", None),
        3.0
    );
}

#[tokio::test]
async fn method_not_allowed_is_a_json_405_with_allow() {
    let env = start().await;
    for (method, path) in [
        (Method::POST, "/api/overview"),
        (Method::DELETE, "/api/queues"),
        (Method::PUT, "/api/queues/%2F/x/get"),
        (Method::POST, "/metrics"),
    ] {
        // Authenticated or not, as RabbitMQ: the method is refused before the user is checked.
        for creds in [Some(("guest", "guest")), None] {
            let mut r = env
                .client
                .request(method.clone(), format!("{}{path}", env.base));
            if let Some((u, p)) = creds {
                r = r.basic_auth(u, Some(p));
            }
            let resp = within(r.send()).await.unwrap();
            assert_eq!(
                resp.status(),
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path}"
            );
            let allow = resp
                .headers()
                .get("allow")
                .unwrap_or_else(|| panic!("no Allow header on {method} {path}"))
                .to_str()
                .unwrap()
                .to_string();
            assert!(
                !allow.contains(method.as_str()),
                "{allow} for {method} {path}"
            );
            assert!(resp
                .headers()
                .get("content-type")
                .is_some_and(|c| c.to_str().unwrap().starts_with("application/json")));
            let v: Value = within(resp.json()).await.unwrap();
            assert_eq!(v["error"], "Method Not Allowed", "{v}");
            let reason = v["reason"].as_str().unwrap();
            assert!(
                reason.contains(method.as_str()) && reason.contains(path),
                "{reason}"
            );
        }
    }
    // The overview's Allow names GET.
    let resp = within(env.client.post(format!("{}/api/overview", env.base)).send())
        .await
        .unwrap();
    assert!(resp.headers()["allow"].to_str().unwrap().contains("GET"));
}

#[tokio::test]
async fn exchanges_page_sort_and_filter() {
    let env = start().await;
    let standard = env.get("/api/exchanges").await.as_array().unwrap().len();
    for i in 0..12 {
        let kind = if i % 3 == 0 { "topic" } else { "direct" };
        let (s, _) = env
            .call(
                Method::PUT,
                &format!("/api/exchanges/%2F/ex{i:02}"),
                Some(json!({"type": kind, "durable": false})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED);
    }
    // Traffic on three of them: ex05 gets 3 publishes, ex07 2, ex09 1.
    for (x, n) in [("ex05", 3), ("ex07", 2), ("ex09", 1)] {
        for _ in 0..n {
            let (s, _) = env
                .call(
                    Method::POST,
                    &format!("/api/exchanges/%2F/{x}/publish"),
                    Some(json!({"properties": {}, "routing_key": "k", "payload": "p", "payload_encoding": "string"})),
                )
                .await;
            assert_eq!(s, StatusCode::OK);
        }
    }
    let p = env.get("/api/exchanges?page=2&page_size=5&name=ex").await;
    assert_eq!(p["page"], 2);
    assert_eq!(p["page_size"], 5);
    assert_eq!(p["page_count"], 3);
    assert_eq!(p["filtered_count"], 12);
    assert_eq!(p["total_count"], standard + 12);
    assert_eq!(p["item_count"], 5);
    assert_eq!(
        names(&p["items"]),
        vec!["ex05", "ex06", "ex07", "ex08", "ex09"]
    );
    let p = env
        .get("/api/exchanges/%2F?page=3&page_size=5&name=ex")
        .await;
    assert_eq!(names(&p["items"]), vec!["ex10", "ex11"]);
    let p = env
        .get("/api/exchanges?page=1&name=%5Eex0%5B0-3%5D%24&use_regex=true&sort=name&sort_reverse=true")
        .await;
    assert_eq!(names(&p["items"]), vec!["ex03", "ex02", "ex01", "ex00"]);
    // Sorted by a nested stat, busiest first; exchanges without stats sort last.
    let busiest = env
        .get("/api/exchanges?page=1&page_size=4&sort=message_stats.publish_in&sort_reverse=true&columns=name,message_stats.publish_in")
        .await;
    assert_eq!(
        busiest["items"],
        json!([
            {"name": "ex05", "message_stats": {"publish_in": 3}},
            {"name": "ex07", "message_stats": {"publish_in": 2}},
            {"name": "ex09", "message_stats": {"publish_in": 1}},
            busiest["items"][3].clone(),
        ])
    );
    assert!(busiest["items"][3].get("message_stats").is_none());
    // Sorted by type, then name: the topic ones first when reversed.
    let by_type = env
        .get("/api/exchanges?name=ex&sort=type,name&columns=name,type")
        .await;
    let types: Vec<&str> = by_type
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["type"].as_str().unwrap())
        .collect();
    assert_eq!(types[..8], ["direct"; 8]);
    assert_eq!(types[8..], ["topic"; 4]);
    assert_eq!(
        names(&by_type)[8..],
        ["ex00", "ex03", "ex06", "ex09"].map(String::from)
    );
    let (s, v) = env
        .call(
            Method::GET,
            "/api/exchanges?page=4&page_size=5&name=ex",
            None,
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
}

#[tokio::test]
async fn connections_and_channels_page_and_sort() {
    let env = start().await;
    // Three connections with 1, 2 and 3 channels; each channel's prefetch is distinct.
    let mut conns = Vec::new();
    let mut chans = Vec::new();
    for (i, name) in ["c-one", "c-two", "c-three"].into_iter().enumerate() {
        let c = within(lapin::Connection::connect(
            &env.amqp_url(),
            lapin::ConnectionProperties::default().with_connection_name(name.into()),
        ))
        .await
        .unwrap();
        for j in 0..=i {
            let ch = within(c.create_channel()).await.unwrap();
            let prefetch = (10 * (i + 1) + j) as u16;
            within(ch.basic_qos(prefetch, BasicQosOptions::default()))
                .await
                .unwrap();
            chans.push(ch);
        }
        conns.push(c);
    }
    env.until("/api/channels", |v| {
        v.as_array().is_some_and(|a| a.len() == 6)
    })
    .await;

    let p = env
        .get("/api/connections?page=1&page_size=2&sort=channels&sort_reverse=true&columns=name,channels,user_provided_name")
        .await;
    assert_eq!(p["total_count"], 3);
    assert_eq!(p["filtered_count"], 3);
    assert_eq!(p["page_count"], 2);
    assert_eq!(p["item_count"], 2);
    let items = p["items"].as_array().unwrap();
    assert_eq!(items[0]["user_provided_name"], "c-three");
    assert_eq!(items[0]["channels"], 3);
    assert_eq!(items[1]["user_provided_name"], "c-two");
    assert_eq!(items[1]["channels"], 2);
    let p = env
        .get("/api/connections?page=2&page_size=2&sort=channels&sort_reverse=true&columns=user_provided_name")
        .await;
    assert_eq!(p["items"], json!([{"user_provided_name": "c-one"}]));
    // Filtering by name (a connection's name is its addresses): just one of them.
    let one = p["items"][0].clone();
    let all = env
        .get("/api/connections?columns=name,user_provided_name")
        .await;
    let c_one = all
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["user_provided_name"] == one["user_provided_name"])
        .unwrap()["name"]
        .as_str()
        .unwrap()
        .to_string();
    let peer = c_one.split(" -> ").next().unwrap().to_string();
    let f = env
        .get(&format!(
            "/api/connections?page=1&name={}&columns=user_provided_name",
            urlencode(&peer)
        ))
        .await;
    assert_eq!(f["filtered_count"], 1);
    assert_eq!(f["total_count"], 3);
    assert_eq!(f["items"], json!([{"user_provided_name": "c-one"}]));

    // Channels: six in all, sorted by prefetch.
    let p = env
        .get("/api/channels?page=1&page_size=4&sort=prefetch_count&sort_reverse=true&columns=name,prefetch_count")
        .await;
    assert_eq!(p["total_count"], 6);
    assert_eq!(p["page_count"], 2);
    let prefetches: Vec<u64> = p["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["prefetch_count"].as_u64().unwrap())
        .collect();
    assert_eq!(prefetches, vec![32, 31, 30, 21]);
    let p = env
        .get("/api/channels?page=2&page_size=4&sort=prefetch_count&sort_reverse=true&columns=prefetch_count")
        .await;
    assert_eq!(
        p["items"],
        json!([{"prefetch_count": 20}, {"prefetch_count": 10}])
    );
    // Filtered by the connection's name: that connection's channels, in name order.
    let f = env
        .get(&format!(
            "/api/channels?page=1&name={}&columns=name,prefetch_count",
            urlencode(&peer)
        ))
        .await;
    assert_eq!(f["filtered_count"], 1);
    assert_eq!(f["items"][0]["prefetch_count"], 10);
    let (s, _) = env
        .call(Method::GET, "/api/channels?page=3&page_size=4", None)
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    drop(chans);
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
