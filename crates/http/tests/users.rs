//! Users without permissions, bulk deletion, topic permissions read by vhost and user, and a
//! user's connections listed and closed: over real HTTP (reqwest) and AMQP (lapin), in RabbitMQ
//! 3.10.8's shapes and codes.

mod common;

use common::{start, within, Env};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

async fn add_user(env: &Env, name: &str, tags: &str) {
    let (s, _) = env
        .call(
            Method::PUT,
            &format!("/api/users/{name}"),
            Some(json!({"password": name, "tags": tags})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
}

async fn grant(env: &Env, vhost: &str, user: &str) {
    let (s, _) = env
        .call(
            Method::PUT,
            &format!("/api/permissions/{vhost}/{user}"),
            Some(json!({"configure": ".*", "write": ".*", "read": ".*"})),
        )
        .await;
    assert!(s.is_success());
}

fn names(v: &Value) -> Vec<&str> {
    v.as_array()
        .expect("a list")
        .iter()
        .map(|u| u["name"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn users_without_permissions_are_listed() {
    let env = start().await;
    assert_eq!(env.get("/api/users/without-permissions").await, json!([]));
    add_user(&env, "lonely", "").await;
    add_user(&env, "granted", "").await;
    grant(&env, "%2F", "granted").await;
    let v = env.get("/api/users/without-permissions").await;
    assert_eq!(names(&v), ["lonely"]);
    // The shape of /api/users entries.
    assert_eq!(v[0]["tags"], json!([]));
    assert_eq!(v[0]["limits"], json!({}));
    assert!(v[0]["password_hash"].is_string());

    add_user(&env, "mgmt", "management").await;
    let (s, v) = env
        .call_as(
            Some(("mgmt", "mgmt")),
            Method::GET,
            "/api/users/without-permissions",
            None,
        )
        .await;
    assert_eq!(
        (s, v["reason"].clone()),
        (StatusCode::FORBIDDEN, json!("Not administrator user"))
    );
}

#[tokio::test]
async fn bulk_delete_deletes_in_order_and_stops_at_an_unknown_user() {
    let env = start().await;
    for u in ["b1", "b2", "b3", "b4"] {
        add_user(&env, u, "").await;
    }
    let (s, _) = env
        .call(
            Method::POST,
            "/api/users/bulk-delete",
            Some(json!({"users": ["b1", "b2"]})),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    for u in ["b1", "b2"] {
        let (s, _) = env
            .call(Method::GET, &format!("/api/users/{u}"), None)
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND);
    }
    // As RabbitMQ: b3 is deleted, then "nope" stops it with 400, and b4 stays.
    let (s, v) = env
        .call(
            Method::POST,
            "/api/users/bulk-delete",
            Some(json!({"users": ["b3", "nope", "b4"]})),
        )
        .await;
    assert_eq!(
        (s, v),
        (
            StatusCode::BAD_REQUEST,
            json!({"error": "bad_request", "reason": ["no_such_user", "nope"]})
        )
    );
    let (s, _) = env.call(Method::GET, "/api/users/b3", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = env.call(Method::GET, "/api/users/b4", None).await;
    assert_eq!(s, StatusCode::OK);
    let (s, v) = env
        .call(Method::POST, "/api/users/bulk-delete", Some(json!({})))
        .await;
    assert_eq!(
        (s, v["reason"].clone()),
        (StatusCode::BAD_REQUEST, json!("[{key_missing,users}]"))
    );
    let (s, _) = env
        .call(
            Method::POST,
            "/api/users/bulk-delete",
            Some(json!({"users": []})),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn topic_permissions_are_read_by_vhost_and_user() {
    let env = start().await;
    add_user(&env, "tp", "").await;
    add_user(&env, "none", "").await;
    let (s, _) = env.call(Method::PUT, "/api/vhosts/tv", None).await;
    assert_eq!(s, StatusCode::CREATED);
    for (x, w) in [("amq.topic", "^a"), ("x2", "^b")] {
        let (s, _) = env
            .call(
                Method::PUT,
                "/api/topic-permissions/%2F/tp",
                Some(json!({"exchange": x, "write": w, "read": ".*"})),
            )
            .await;
        assert!(s.is_success());
    }
    let both = json!([
        {"user": "tp", "vhost": "/", "exchange": "amq.topic", "write": "^a", "read": ".*"},
        {"user": "tp", "vhost": "/", "exchange": "x2", "write": "^b", "read": ".*"},
    ]);
    assert_eq!(env.get("/api/topic-permissions/%2F/tp").await, both);
    assert_eq!(env.get("/api/users/tp/topic-permissions").await, both);
    assert_eq!(env.get("/api/vhosts/%2F/topic-permissions").await, both);
    assert_eq!(
        env.get("/api/users/none/topic-permissions").await,
        json!([])
    );
    assert_eq!(env.get("/api/vhosts/tv/topic-permissions").await, json!([]));
    for missing in [
        "/api/topic-permissions/%2F/none",
        "/api/topic-permissions/%2F/nope",
        "/api/topic-permissions/nope/tp",
        "/api/users/nope/topic-permissions",
        "/api/vhosts/nope/topic-permissions",
    ] {
        let (s, _) = env.call(Method::GET, missing, None).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{missing}");
    }
}

#[tokio::test]
async fn a_users_connections_are_listed_and_closed() {
    let env = start().await;
    add_user(&env, "cu", "").await;
    grant(&env, "%2F", "cu").await;
    assert_eq!(env.get("/api/connections/username/cu").await, json!([]));
    let url = format!("amqp://cu:cu@{}/%2f", env.amqp.addr);
    let connect = || async {
        within(lapin::Connection::connect(
            &url,
            lapin::ConnectionProperties::default(),
        ))
        .await
        .unwrap()
    };
    let (a, b) = (connect().await, connect().await);
    let guest = env.connect().await;
    let list = env.get("/api/connections/username/cu").await;
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2, "{list:?}");
    let node = env.get("/api/overview").await["node"].clone();
    for c in list {
        assert_eq!(c["user"], "cu");
        assert_eq!(c["vhost"], "/");
        assert_eq!(c["node"], node);
        assert!(c["name"].as_str().unwrap().contains(" -> "));
    }

    let closed = |conn: &lapin::Connection| {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let tx = std::sync::Mutex::new(Some(tx));
        conn.on_error(move |e| {
            if let Some(tx) = tx.lock().unwrap().take() {
                let _ = tx.send(e);
            }
        });
        rx
    };
    let (ea, eb) = (closed(&a), closed(&b));
    let r = within(
        env.client
            .delete(format!("{}/api/connections/username/cu", env.base))
            .basic_auth("guest", Some("guest"))
            .header("X-Reason", "bye now")
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    for e in [ea, eb] {
        match within(e).await.unwrap() {
            lapin::Error::ProtocolError(e) => assert_eq!(
                (e.get_id(), e.get_message().as_str()),
                (320, "CONNECTION_FORCED - bye now")
            ),
            other => panic!("expected 320, got {other:?}"),
        }
    }
    env.until("/api/connections/username/cu", |v| v == &json!([]))
        .await;
    assert!(guest.status().connected(), "other users' connections stay");
    // Nobody's connections: 204 too.
    let (s, _) = env
        .call(Method::DELETE, "/api/connections/username/nope", None)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);

    // A management user sees their own, not others'.
    add_user(&env, "m", "management").await;
    let (s, _) = env
        .call_as(
            Some(("m", "m")),
            Method::GET,
            "/api/connections/username/m",
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = env
        .call_as(
            Some(("m", "m")),
            Method::GET,
            "/api/connections/username/guest",
            None,
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let _ = guest.close(200, "bye").await;
}

/// DELETE /api/connections/{name} closes with RabbitMQ's text: one `CONNECTION_FORCED - `,
/// then the reason.
#[tokio::test]
async fn closing_one_connection_words_the_reason_as_rabbitmq() {
    let env = start().await;
    let conn = env.connect().await;
    let (tx, rx) = tokio::sync::oneshot::channel();
    let tx = std::sync::Mutex::new(Some(tx));
    conn.on_error(move |e| {
        if let Some(tx) = tx.lock().unwrap().take() {
            let _ = tx.send(e);
        }
    });
    let list = env
        .until("/api/connections", |v| {
            v.as_array().is_some_and(|a| a.len() == 1)
        })
        .await;
    let name = list[0]["name"].as_str().unwrap().to_string();
    let path = format!(
        "/api/connections/{}",
        name.replace(' ', "%20").replace('>', "%3E")
    );
    let (s, _) = env.call(Method::DELETE, &path, None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    match within(rx).await.unwrap() {
        lapin::Error::ProtocolError(e) => assert_eq!(
            (e.get_id(), e.get_message().as_str()),
            (320, "CONNECTION_FORCED - Closed via management plugin")
        ),
        other => panic!("expected 320, got {other:?}"),
    }
}
