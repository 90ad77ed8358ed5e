//! Vhost and user limits: set, read and cleared over the management API (reqwest) in
//! RabbitMQ 3.10's shapes, and enforced on the AMQP side (lapin) with RabbitMQ's codes and
//! texts (compared with a RabbitMQ 3.10.8 node).

mod common;

use common::{start, within, Env};
use lapin::options::QueueDeclareOptions;
use lapin::types::FieldTable;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

async fn connect_as(env: &Env, user: &str, vhost: &str) -> lapin::Result<lapin::Connection> {
    let url = format!("amqp://{user}:{user}@{}/{vhost}", env.amqp.addr);
    within(lapin::Connection::connect(
        &url,
        lapin::ConnectionProperties::default(),
    ))
    .await
}

/// The reply code and text of a refused connection or method.
fn refusal<T: std::fmt::Debug>(r: lapin::Result<T>) -> (u16, String) {
    match r {
        Err(lapin::Error::ProtocolError(e)) => (e.get_id(), e.get_message().to_string()),
        other => panic!("expected a protocol error, got {other:?}"),
    }
}

/// A user `name` (password = name) with all permissions on `vhosts`.
async fn user(env: &Env, name: &str, vhosts: &[&str]) {
    let (s, _) = env
        .call(
            Method::PUT,
            &format!("/api/users/{name}"),
            Some(json!({"password": name, "tags": ""})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    for v in vhosts {
        let (s, body) = env
            .call(
                Method::PUT,
                &format!("/api/permissions/{v}/{name}"),
                Some(json!({"configure": ".*", "write": ".*", "read": ".*"})),
            )
            .await;
        assert!(s.is_success(), "{s} {body}");
    }
}

async fn vhost(env: &Env, name: &str) {
    let (s, _) = env
        .call(Method::PUT, &format!("/api/vhosts/{name}"), None)
        .await;
    assert_eq!(s, StatusCode::CREATED);
}

async fn put(env: &Env, path: &str, value: Value) -> (StatusCode, Value) {
    env.call(Method::PUT, path, Some(json!({ "value": value })))
        .await
}

#[tokio::test]
async fn vhost_limits_are_set_listed_and_cleared_as_rabbitmq() {
    let env = start().await;
    vhost(&env, "lv").await;
    assert_eq!(env.get("/api/vhost-limits").await, json!([]));
    assert_eq!(env.get("/api/vhost-limits/lv").await, json!([]));

    let (s, _) = put(&env, "/api/vhost-limits/lv/max-connections", json!(3)).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = put(&env, "/api/vhost-limits/lv/max-queues", json!(5)).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let want = json!([{"vhost": "lv", "value": {"max-connections": 3, "max-queues": 5}}]);
    assert_eq!(env.get("/api/vhost-limits").await, want);
    assert_eq!(env.get("/api/vhost-limits/lv").await, want);
    // They are the vhost's `vhost-limits` parameter, as in RabbitMQ.
    assert_eq!(
        env.get("/api/parameters/vhost-limits/lv/limits").await,
        json!({"value": {"max-connections": 3, "max-queues": 5}, "vhost": "lv",
               "component": "vhost-limits", "name": "limits"})
    );

    // RabbitMQ's refusals.
    let (s, v) = put(&env, "/api/vhost-limits/lv/max-foo", json!(3)).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(
        v["reason"],
        "Validation failed\n\nUnrecognised terms [{<<\"max-foo\">>,3}] in limits\n"
    );
    let (s, v) = put(&env, "/api/vhost-limits/lv/max-queues", json!("x")).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(
        v["reason"],
        "Validation failed\n\nmax-queues should be a number, actually was <<\"x\">>\n"
    );
    let (s, v) = env
        .call(
            Method::PUT,
            "/api/vhost-limits/lv/max-queues",
            Some(json!({})),
        )
        .await;
    assert_eq!(
        (s, v["reason"].clone()),
        (StatusCode::BAD_REQUEST, json!("[{key_missing,value}]"))
    );
    let (s, v) = put(&env, "/api/vhost-limits/nope/max-queues", json!(1)).await;
    assert_eq!(
        (s, v),
        (
            StatusCode::NOT_FOUND,
            json!({"error": "not_found", "reason": "vhost_not_found"})
        )
    );
    let (s, _) = env
        .call(Method::GET, "/api/vhost-limits/lv/max-queues", None)
        .await;
    assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED);

    // Clearing: 204 whether set or not; once the last is gone RabbitMQ lists `[]`.
    for _ in 0..2 {
        let (s, _) = env
            .call(Method::DELETE, "/api/vhost-limits/lv/max-queues", None)
            .await;
        assert_eq!(s, StatusCode::NO_CONTENT);
    }
    assert_eq!(
        env.get("/api/vhost-limits/lv").await,
        json!([{"vhost": "lv", "value": {"max-connections": 3}}])
    );
    let (s, _) = env
        .call(Method::DELETE, "/api/vhost-limits/lv/max-connections", None)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(
        env.get("/api/vhost-limits").await,
        json!([{"vhost": "lv", "value": []}])
    );
    assert_eq!(env.get("/api/vhost-limits/lv").await, json!([]));
}

#[tokio::test]
async fn user_limits_are_set_listed_and_cleared_as_rabbitmq() {
    let env = start().await;
    user(&env, "ul", &[]).await;
    assert_eq!(env.get("/api/user-limits").await, json!([]));
    assert_eq!(env.get("/api/user-limits/ul").await, json!([]));
    let (s, _) = env.call(Method::GET, "/api/user-limits/nope", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    let (s, _) = put(&env, "/api/user-limits/ul/max-connections", json!(2)).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = put(&env, "/api/user-limits/ul/max-channels", json!(3)).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let want = json!([{"user": "ul", "value": {"max-channels": 3, "max-connections": 2}}]);
    assert_eq!(env.get("/api/user-limits").await, want);
    assert_eq!(env.get("/api/user-limits/ul").await, want);
    assert_eq!(
        env.get("/api/users/ul").await["limits"],
        json!({"max-channels": 3, "max-connections": 2})
    );
    // And in the definitions export (the users section), so they are durable.
    let defs = env.get("/api/definitions").await;
    let u = defs["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["name"] == "ul")
        .unwrap();
    assert_eq!(
        u["limits"],
        json!({"max-channels": 3, "max-connections": 2})
    );

    // Replacing the user (a new password or a new hash) keeps them, as RabbitMQ.
    let hash = env.get("/api/users/ul").await["password_hash"].clone();
    for body in [
        json!({"password_hash": hash, "tags": ""}),
        json!({"password": "new", "tags": "management"}),
    ] {
        let (s, _) = env.call(Method::PUT, "/api/users/ul", Some(body)).await;
        assert_eq!(s, StatusCode::NO_CONTENT);
        assert_eq!(env.get("/api/user-limits/ul").await, want);
    }

    let (s, v) = put(&env, "/api/user-limits/nope/max-channels", json!(3)).await;
    assert_eq!(
        (s, v),
        (
            StatusCode::BAD_REQUEST,
            json!({"error": "bad_request", "reason": ["no_such_user", "nope"]})
        )
    );
    let (s, v) = put(&env, "/api/user-limits/ul/max-foo", json!(3)).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(
        v["reason"],
        "Unrecognised terms [{<<\"max-foo\">>,3}] in user-limits"
    );
    let (s, v) = put(&env, "/api/user-limits/ul/max-channels", json!("a")).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(
        v["reason"],
        "max-channels should be a number, actually was <<\"a\">>"
    );

    for _ in 0..2 {
        let (s, _) = env
            .call(Method::DELETE, "/api/user-limits/ul/max-channels", None)
            .await;
        assert_eq!(s, StatusCode::NO_CONTENT);
    }
    assert_eq!(
        env.get("/api/user-limits/ul").await,
        json!([{"user": "ul", "value": {"max-connections": 2}}])
    );
    let (s, _) = env
        .call(Method::DELETE, "/api/user-limits/ul/max-connections", None)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(env.get("/api/user-limits").await, json!([]));
}

#[tokio::test]
async fn limits_need_an_administrator_to_change() {
    let env = start().await;
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
            "/api/vhost-limits/%2F/max-queues",
            Some(json!({"value": 1})),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    assert_eq!(v["reason"], "Not administrator user");
    let (s, _) = env
        .call_as(
            Some(("pm", "pm")),
            Method::PUT,
            "/api/user-limits/pm/max-channels",
            Some(json!({"value": 1})),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // Reading is for every management user.
    let (s, _) = env
        .call_as(Some(("pm", "pm")), Method::GET, "/api/user-limits", None)
        .await;
    assert_eq!(s, StatusCode::OK);
}

#[tokio::test]
async fn vhost_max_connections_refuses_the_next_connection_with_530() {
    let env = start().await;
    vhost(&env, "vc").await;
    user(&env, "vcu", &["vc"]).await;
    put(&env, "/api/vhost-limits/vc/max-connections", json!(1)).await;
    let first = connect_as(&env, "vcu", "vc").await.expect("first connects");
    assert_eq!(
        refusal(connect_as(&env, "vcu", "vc").await),
        (
            530,
            "NOT_ALLOWED - access to vhost 'vc' refused for user 'vcu': connection limit (1) is reached"
                .to_string()
        )
    );
    // Other vhosts are not limited by it.
    user(&env, "vcu2", &["%2F"]).await;
    let other = connect_as(&env, "vcu2", "%2F")
        .await
        .expect("/ is not limited");
    // Raised: the next one gets in.
    put(&env, "/api/vhost-limits/vc/max-connections", json!(2)).await;
    let second = connect_as(&env, "vcu", "vc")
        .await
        .expect("under the new limit");
    // 0: nobody; negative: no limit.
    put(&env, "/api/vhost-limits/vc/max-connections", json!(0)).await;
    let (code, text) = refusal(connect_as(&env, "vcu", "vc").await);
    assert_eq!(code, 530);
    assert!(text.ends_with("connection limit (0) is reached"), "{text}");
    put(&env, "/api/vhost-limits/vc/max-connections", json!(-1)).await;
    let third = connect_as(&env, "vcu", "vc").await.expect("no limit");
    for c in [first, other, second, third] {
        let _ = c.close(200, "bye").await;
    }
}

#[tokio::test]
async fn user_max_connections_refuses_the_next_connection_with_530() {
    let env = start().await;
    vhost(&env, "uc").await;
    user(&env, "ucu", &["%2F", "uc"]).await;
    put(&env, "/api/user-limits/ucu/max-connections", json!(1)).await;
    let first = connect_as(&env, "ucu", "%2F")
        .await
        .expect("first connects");
    // The limit counts the user's connections in every vhost.
    assert_eq!(
        refusal(connect_as(&env, "ucu", "uc").await),
        (
            530,
            "NOT_ALLOWED - connection refused for user 'ucu': user connection limit (1) is reached"
                .to_string()
        )
    );
    // Other users are not limited by it.
    let guest = env.connect().await;
    let _ = first.close(200, "bye").await;
    let _ = guest.close(200, "bye").await;
}

#[tokio::test]
async fn user_max_channels_counts_all_the_users_connections_and_closes_with_530() {
    let env = start().await;
    user(&env, "chu", &["%2F"]).await;
    put(&env, "/api/user-limits/chu/max-channels", json!(2)).await;
    let a = connect_as(&env, "chu", "%2F").await.unwrap();
    let b = connect_as(&env, "chu", "%2F").await.unwrap();
    let _a1 = within(a.create_channel()).await.expect("first channel");
    let _b1 = within(b.create_channel()).await.expect("second channel");
    // The third, on either connection, is over the limit: RabbitMQ closes that connection.
    assert_eq!(
        refusal(within(a.create_channel()).await),
        (
            530,
            "NOT_ALLOWED - number of channels opened for user 'chu' has reached the maximum allowed user limit of (2)"
                .to_string()
        )
    );
    assert!(b.status().connected(), "the other connection stays open");
    let _ = b.close(200, "bye").await;
}

#[tokio::test]
async fn vhost_max_queues_refuses_new_queues_with_406() {
    let env = start().await;
    vhost(&env, "vq").await;
    let (s, _) = env
        .call(
            Method::PUT,
            "/api/permissions/vq/guest",
            Some(json!({"configure": ".*", "write": ".*", "read": ".*"})),
        )
        .await;
    assert!(s.is_success());
    put(&env, "/api/vhost-limits/vq/max-queues", json!(1)).await;
    let url = format!("amqp://guest:guest@{}/vq", env.amqp.addr);
    let conn = within(lapin::Connection::connect(
        &url,
        lapin::ConnectionProperties::default(),
    ))
    .await
    .unwrap();
    let ch = within(conn.create_channel()).await.unwrap();
    let declare = |ch: lapin::Channel, name: &'static str, passive: bool| async move {
        within(ch.queue_declare(
            name,
            QueueDeclareOptions {
                passive,
                ..Default::default()
            },
            FieldTable::default(),
        ))
        .await
    };
    declare(ch.clone(), "q1", false)
        .await
        .expect("under the limit");
    // Redeclaring an existing queue, passive or not, is not a new queue.
    declare(ch.clone(), "q1", false).await.expect("redeclare");
    declare(ch.clone(), "q1", true).await.expect("passive");
    assert_eq!(
        refusal(declare(ch.clone(), "q2", false).await),
        (
            406,
            "PRECONDITION_FAILED - cannot declare queue 'q2': queue limit in vhost 'vq' (1) is reached"
                .to_string()
        )
    );
    // The management API's declare is refused the same way.
    let (s, v) = env
        .call(Method::PUT, "/api/queues/vq/q3", Some(json!({})))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(
        v["reason"],
        "PRECONDITION_FAILED - cannot declare queue 'q3': queue limit in vhost 'vq' (1) is reached"
    );
    // Cleared: q2 may be declared.
    let (s, _) = env
        .call(Method::DELETE, "/api/vhost-limits/vq/max-queues", None)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let ch = within(conn.create_channel()).await.unwrap();
    declare(ch, "q2", false).await.expect("no limit any more");
    let _ = conn.close(200, "bye").await;
}
