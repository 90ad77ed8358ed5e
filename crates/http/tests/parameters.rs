//! Runtime parameters (`/api/parameters`), global parameters, the cluster name, the node
//! health check and queue rebalancing, over real HTTP against a real broker, in RabbitMQ
//! 3.10.8's shapes and codes; parameters go through the definitions file and come back after a
//! restart.

mod common;

use std::sync::Arc;

use common::{start, start_with};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use warren_core::{Broker, Definitions, Limits};

fn upstream() -> Value {
    json!({"uri": "amqp://elsewhere", "expires": 3600000})
}

#[tokio::test]
async fn parameters_are_stored_listed_and_deleted_as_rabbitmq() {
    let env = start().await;
    assert_eq!(env.get("/api/parameters").await, json!([]));
    assert_eq!(
        env.get("/api/parameters/federation-upstream").await,
        json!([])
    );
    assert_eq!(
        env.get("/api/parameters/federation-upstream/%2F").await,
        json!([])
    );
    let path = "/api/parameters/federation-upstream/%2F/up1";
    let (s, _) = env.call(Method::GET, path, None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    let (s, _) = env
        .call(Method::PUT, path, Some(json!({"value": upstream()})))
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, _) = env
        .call(Method::PUT, path, Some(json!({"value": upstream()})))
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "replacing is 204");
    let (s, _) = env
        .call(
            Method::PUT,
            "/api/parameters/shovel/%2F/sh1",
            Some(json!({"value": {"src-uri": "amqp://a", "src-queue": "q"}})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);

    let up = json!({"value": upstream(), "vhost": "/", "component": "federation-upstream", "name": "up1"});
    assert_eq!(env.get(path).await, up);
    assert_eq!(
        env.get("/api/parameters/federation-upstream").await,
        json!([up])
    );
    assert_eq!(
        env.get("/api/parameters").await.as_array().unwrap().len(),
        2
    );
    assert_eq!(
        env.get("/api/parameters/shovel/%2F").await[0]["value"]["src-queue"],
        "q"
    );

    // RabbitMQ's refusals: no value, an unknown component, no such vhost.
    let (s, v) = env.call(Method::PUT, path, Some(json!({}))).await;
    assert_eq!(
        (s, v["reason"].clone()),
        (StatusCode::BAD_REQUEST, json!("[{key_missing,value}]"))
    );
    let (s, v) = env
        .call(
            Method::PUT,
            "/api/parameters/foo-comp/%2F/n1",
            Some(json!({"value": 1})),
        )
        .await;
    assert_eq!(
        (s, v),
        (
            StatusCode::BAD_REQUEST,
            json!({"error": "bad_request", "reason": "Validation failed\n\ncomponent foo-comp not found\n"})
        )
    );
    let (s, v) = env
        .call(
            Method::PUT,
            "/api/parameters/shovel/nope/n1",
            Some(json!({"value": 1})),
        )
        .await;
    assert_eq!(
        (s, v),
        (
            StatusCode::NOT_FOUND,
            json!({"error": "not_found", "reason": "vhost_not_found"})
        )
    );
    let (s, v) = env
        .call(
            Method::PUT,
            "/api/parameters/vhost-limits/%2F/limits",
            Some(json!({"value": 5})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(v["reason"], "Validation failed\n\nlimits not a list 5\n");

    let (s, _) = env.call(Method::DELETE, path, None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = env.call(Method::DELETE, path, None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(
        env.get("/api/parameters/federation-upstream").await,
        json!([])
    );
}

#[tokio::test]
async fn parameters_need_a_policymaker_and_go_with_their_vhost() {
    let env = start().await;
    let (s, _) = env
        .call(
            Method::PUT,
            "/api/users/mgmt",
            Some(json!({"password": "mgmt", "tags": "management"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, _) = env
        .call_as(Some(("mgmt", "mgmt")), Method::GET, "/api/parameters", None)
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = env
        .call_as(
            Some(("mgmt", "mgmt")),
            Method::GET,
            "/api/global-parameters",
            None,
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // Deleting a vhost deletes its parameters (as RabbitMQ).
    let (s, _) = env.call(Method::PUT, "/api/vhosts/pv", None).await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, _) = env
        .call(
            Method::PUT,
            "/api/parameters/shovel/pv/s",
            Some(json!({"value": {"src-uri": "amqp://"}})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, _) = env.call(Method::DELETE, "/api/vhosts/pv", None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = env.call(Method::PUT, "/api/vhosts/pv", None).await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(env.get("/api/parameters").await, json!([]));
}

#[tokio::test]
async fn global_parameters_and_the_cluster_name_as_rabbitmq() {
    let env = start().await;
    // RabbitMQ's default cluster name is the node's name.
    let node = env.get("/api/overview").await["node"].clone();
    assert_eq!(env.get("/api/cluster-name").await, json!({"name": node}));
    assert_eq!(env.get("/api/overview").await["cluster_name"], node);

    let (s, _) = env
        .call(
            Method::PUT,
            "/api/cluster-name",
            Some(json!({"name": "blue"})),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(env.get("/api/cluster-name").await, json!({"name": "blue"}));
    assert_eq!(env.get("/api/overview").await["cluster_name"], "blue");
    // And in Prometheus' identity (the label RabbitMQ's Grafana dashboards select on).
    let metrics = common::within(env.client.get(format!("{}/metrics", env.base)).send())
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("rabbitmq_cluster=\"blue\""),
        "{}",
        metrics
            .lines()
            .find(|l| l.starts_with("rabbitmq_identity_info"))
            .unwrap_or("")
    );
    // It is the global parameter `cluster_name`.
    assert_eq!(
        env.get("/api/global-parameters/cluster_name").await,
        json!({"name": "cluster_name", "value": "blue"})
    );
    let (s, v) = env
        .call(Method::PUT, "/api/cluster-name", Some(json!({})))
        .await;
    assert_eq!(
        (s, v["reason"].clone()),
        (StatusCode::BAD_REQUEST, json!("[{key_missing,name}]"))
    );

    let (s, _) = env
        .call(
            Method::PUT,
            "/api/global-parameters/foo",
            Some(json!({"value": {"a": 1}})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, _) = env
        .call(
            Method::PUT,
            "/api/global-parameters/foo",
            Some(json!({"value": {"a": 2}})),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(
        env.get("/api/global-parameters").await,
        json!([{"name": "cluster_name", "value": "blue"}, {"name": "foo", "value": {"a": 2}}])
    );
    let (s, v) = env
        .call(Method::PUT, "/api/global-parameters/baz", Some(json!({})))
        .await;
    assert_eq!(
        (s, v["reason"].clone()),
        (StatusCode::BAD_REQUEST, json!("[{key_missing,value}]"))
    );
    let (s, _) = env
        .call(Method::DELETE, "/api/global-parameters/foo", None)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, v) = env
        .call(Method::DELETE, "/api/global-parameters/foo", None)
        .await;
    assert_eq!(
        (s, v),
        (
            StatusCode::NOT_FOUND,
            json!({"error": "Object Not Found", "reason": "Not Found"})
        )
    );
    // Deleting `cluster_name` brings the default back.
    let (s, _) = env
        .call(Method::DELETE, "/api/global-parameters/cluster_name", None)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(env.get("/api/cluster-name").await, json!({"name": node}));

    // Only administrators name the cluster.
    let (s, _) = env
        .call(
            Method::PUT,
            "/api/users/pm",
            Some(json!({"password": "pm", "tags": "policymaker"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, v) = env
        .call_as(
            Some(("pm", "pm")),
            Method::PUT,
            "/api/cluster-name",
            Some(json!({"name": "x"})),
        )
        .await;
    assert_eq!(
        (s, v["reason"].clone()),
        (StatusCode::FORBIDDEN, json!("Not administrator user"))
    );
}

#[tokio::test]
async fn parameters_are_exported_imported_and_survive_a_restart() {
    let dir = std::env::temp_dir().join(format!("warren-params-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let file = dir.join("definitions.json");
    let broker = Arc::new(Broker::new(Limits::default()));
    broker.persist_definitions_to(file.clone());
    let env = start_with(broker, None).await;
    let (s, _) = env.call(Method::PUT, "/api/vhosts/rv", None).await;
    assert_eq!(s, StatusCode::CREATED);
    for (path, body) in [
        ("/api/cluster-name", json!({"name": "green"})),
        (
            "/api/parameters/federation-upstream/rv/up",
            json!({"value": upstream()}),
        ),
        ("/api/global-parameters/g", json!({"value": [1, 2]})),
        ("/api/vhost-limits/rv/max-queues", json!({"value": 0})),
    ] {
        let (s, v) = env.call(Method::PUT, path, Some(body)).await;
        assert!(s.is_success(), "PUT {path}: {s} {v}");
    }
    let defs = env.get("/api/definitions").await;
    let params = defs["parameters"].as_array().unwrap();
    assert!(params.contains(&json!({"value": upstream(), "vhost": "rv", "component": "federation-upstream", "name": "up"})));
    assert!(params.contains(&json!({"value": {"max-queues": 0}, "vhost": "rv", "component": "vhost-limits", "name": "limits"})));
    assert_eq!(
        defs["global_parameters"],
        json!([{"name": "cluster_name", "value": "green"}, {"name": "g", "value": [1, 2]}])
    );

    // A restart: a new broker from the saved file.
    drop(env);
    let saved = Definitions::load(&file).unwrap();
    let broker = Arc::new(Broker::new(Limits::default()));
    broker.import_definitions(&saved).unwrap();
    let env = start_with(broker, None).await;
    assert_eq!(env.get("/api/cluster-name").await, json!({"name": "green"}));
    assert_eq!(
        env.get("/api/parameters/federation-upstream/rv/up").await["value"],
        upstream()
    );
    assert_eq!(
        env.get("/api/global-parameters/g").await["value"],
        json!([1, 2])
    );
    assert_eq!(
        env.get("/api/vhost-limits/rv").await,
        json!([{"vhost": "rv", "value": {"max-queues": 0}}])
    );
    // The imported limit is in force.
    let (s, v) = env
        .call(Method::PUT, "/api/queues/rv/q", Some(json!({})))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let _ = std::fs::remove_dir_all(&dir);

    // An import through the API sets them too (a RabbitMQ export's sections).
    let (s, v) = env
        .call(
            Method::POST,
            "/api/definitions",
            Some(json!({
                "parameters": [{"value": {"src-uri": "amqp://"}, "vhost": "/", "component": "shovel", "name": "imported"}],
                "global_parameters": [{"name": "cluster_name", "value": "imported-name"}],
            })),
        )
        .await;
    assert!(s.is_success(), "{s} {v}");
    assert_eq!(
        env.get("/api/parameters/shovel/%2F/imported").await["value"],
        json!({"src-uri": "amqp://"})
    );
    assert_eq!(
        env.get("/api/overview").await["cluster_name"],
        "imported-name"
    );
}

#[tokio::test]
async fn node_health_check_and_rebalance_as_rabbitmq() {
    let env = start().await;
    assert_eq!(
        env.get("/api/healthchecks/node").await,
        json!({"status": "ok"})
    );
    let node = env.get("/api/overview").await["node"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        env.get(&format!("/api/healthchecks/node/{node}")).await,
        json!({"status": "ok"})
    );
    let (s, v) = env
        .call(Method::GET, "/api/healthchecks/node/nope@x", None)
        .await;
    assert_eq!(
        (s, v),
        (
            StatusCode::NOT_FOUND,
            json!({"error": "Object Not Found", "reason": "Not Found"})
        )
    );
    let (s, _) = env.call(Method::POST, "/api/rebalance/queues", None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = env.call(Method::GET, "/api/rebalance/queues", None).await;
    assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED);
}
