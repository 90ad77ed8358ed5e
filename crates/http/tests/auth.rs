//! Authentication and RabbitMQ's tag rules on the management API, with users made through
//! the API itself; bearer tokens from POST /api/auth/token.

mod common;

use common::{start, start_with_jwt, within};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

async fn as_user(env: &common::Env, user: &str, method: Method, path: &str) -> (StatusCode, Value) {
    env.call_as(Some((user, "secret")), method, path, None)
        .await
}

/// Makes a user with password "secret", these tags and (if given) full permissions on `/`.
async fn user(env: &common::Env, name: &str, tags: &str, perms: bool) {
    let (s, v) = env
        .call(
            Method::PUT,
            &format!("/api/users/{name}"),
            Some(json!({"password": "secret", "tags": tags})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    if perms {
        let (s, _) = env
            .call(
                Method::PUT,
                &format!("/api/permissions/%2F/{name}"),
                Some(json!({"configure": ".*", "write": ".*", "read": ".*"})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED);
    }
}

#[tokio::test]
async fn tags_decide_what_a_user_may_see() {
    let env = start().await;
    env.call(Method::PUT, "/api/vhosts/other", None).await;
    user(&env, "nobody", "", true).await;
    user(&env, "mgmt", "management", true).await;
    user(&env, "mon", "monitoring", false).await;
    user(&env, "pm", "policymaker", true).await;
    user(&env, "boss", "administrator", false).await;

    // No management tag: no API at all.
    let (s, v) = as_user(&env, "nobody", Method::GET, "/api/overview").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{v}");

    // management: own vhosts, nothing node-wide, no users or definitions.
    assert_eq!(
        as_user(&env, "mgmt", Method::GET, "/api/overview").await.0,
        StatusCode::OK
    );
    let (_, vhosts) = as_user(&env, "mgmt", Method::GET, "/api/vhosts").await;
    assert_eq!(
        vhosts.as_array().unwrap().len(),
        1,
        "only '/' where mgmt has permissions: {vhosts}"
    );
    for path in [
        "/api/nodes",
        "/api/users",
        "/api/definitions",
        "/api/permissions",
        "/api/health/checks/alarms",
    ] {
        let (s, v) = as_user(&env, "mgmt", Method::GET, path).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{path}: {v}");
        assert_eq!(v["error"], "not_authorized");
    }
    assert_eq!(
        as_user(&env, "mgmt", Method::GET, "/api/queues/other")
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        as_user(&env, "mgmt", Method::GET, "/api/whoami").await.1["tags"],
        json!(["management"])
    );

    // monitoring: every vhost and node details, but not users or definitions.
    assert_eq!(
        as_user(&env, "mon", Method::GET, "/api/nodes").await.0,
        StatusCode::OK
    );
    assert_eq!(
        as_user(&env, "mon", Method::GET, "/api/health/checks/alarms")
            .await
            .0,
        StatusCode::OK
    );
    let (_, vhosts) = as_user(&env, "mon", Method::GET, "/api/vhosts").await;
    assert_eq!(vhosts.as_array().unwrap().len(), 2);
    assert_eq!(
        as_user(&env, "mon", Method::GET, "/api/users").await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        as_user(&env, "mon", Method::GET, "/api/definitions")
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    // ...and no permission to declare anything.
    let (s, v) = env
        .call_as(
            Some(("mon", "secret")),
            Method::PUT,
            "/api/queues/%2F/monq",
            Some(json!({})),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert!(
        v["reason"]
            .as_str()
            .unwrap()
            .contains("configure access to queue 'monq'"),
        "{v}"
    );

    // policymaker: not monitoring.
    assert_eq!(
        as_user(&env, "pm", Method::GET, "/api/nodes").await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        as_user(&env, "pm", Method::GET, "/api/policies").await.0,
        StatusCode::OK
    );
    let policy = json!({"pattern": "^x", "definition": {"max-length": 10}});
    let (s, _) = env
        .call_as(
            Some(("mgmt", "secret")),
            Method::PUT,
            "/api/policies/%2F/p1",
            Some(policy.clone()),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "management may not set policies");
    let (s, v) = env
        .call_as(
            Some(("pm", "secret")),
            Method::PUT,
            "/api/policies/%2F/p1",
            Some(policy),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");

    // administrator: users and definitions.
    let (s, users) = as_user(&env, "boss", Method::GET, "/api/users").await;
    assert_eq!(s, StatusCode::OK);
    let mgmt = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["name"] == "mgmt")
        .unwrap();
    for f in ["name", "tags", "password_hash", "hashing_algorithm"] {
        assert!(mgmt.get(f).is_some(), "user field {f}: {mgmt}");
    }
    assert_eq!(mgmt["tags"], json!(["management"]));
    assert_eq!(
        as_user(&env, "boss", Method::GET, "/api/definitions")
            .await
            .0,
        StatusCode::OK
    );

    // A management user with permissions declares and uses queues.
    let (s, _) = env
        .call_as(
            Some(("mgmt", "secret")),
            Method::PUT,
            "/api/queues/%2F/mine",
            Some(json!({"durable": false})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
}

#[tokio::test]
async fn permissions_limit_operations() {
    let env = start().await;
    user(&env, "reader", "management", false).await;
    env.call(
        Method::PUT,
        "/api/queues/%2F/jobs",
        Some(json!({"durable": false})),
    )
    .await;
    // Read only on "jobs", nothing to configure or write.
    let (s, _) = env
        .call(
            Method::PUT,
            "/api/permissions/%2F/reader",
            Some(json!({"configure": "", "write": "", "read": "^jobs$"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let perms = env.get("/api/users/reader/permissions").await;
    assert_eq!(
        perms,
        json!([{"user": "reader", "vhost": "/", "configure": "", "write": "", "read": "^jobs$"}])
    );
    let r = Some(("reader", "secret"));
    let (s, v) = env
        .call_as(r, Method::DELETE, "/api/queues/%2F/jobs", None)
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    let (s, _) = env
        .call_as(r, Method::POST, "/api/exchanges/%2F/amq.default/publish",
                 Some(json!({"properties": {}, "routing_key": "jobs", "payload": "x", "payload_encoding": "string"})))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    env.call(Method::POST, "/api/exchanges/%2F/amq.default/publish",
             Some(json!({"properties": {}, "routing_key": "jobs", "payload": "x", "payload_encoding": "string"}))).await;
    let (s, got) = env
        .call_as(
            r,
            Method::POST,
            "/api/queues/%2F/jobs/get",
            Some(json!({"count": 1, "ackmode": "ack_requeue_false", "encoding": "auto"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(got[0]["payload"], "x");

    // Revoked: the vhost disappears from their view.
    let (s, _) = env
        .call(Method::DELETE, "/api/permissions/%2F/reader", None)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(
        env.call_as(r, Method::GET, "/api/queues/%2F", None).await.0,
        StatusCode::FORBIDDEN
    );

    // Password change and user deletion take effect at once.
    let (s, _) = env
        .call(
            Method::PUT,
            "/api/users/reader",
            Some(json!({"password": "new", "tags": "management"})),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(
        env.call_as(r, Method::GET, "/api/overview", None).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        env.call_as(Some(("reader", "new")), Method::GET, "/api/overview", None)
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        env.call(Method::DELETE, "/api/users/reader", None).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        env.call_as(Some(("reader", "new")), Method::GET, "/api/overview", None)
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        env.call(Method::DELETE, "/api/users/reader", None).await.0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn connections_are_private_unless_monitoring() {
    let env = start().await;
    user(&env, "mgmt", "management", true).await;
    user(&env, "mon", "monitoring", false).await;
    let conn = env.connect().await;
    let _ch = within(conn.create_channel()).await.unwrap();
    env.until("/api/connections", |v| {
        v.as_array().is_some_and(|a| a.len() == 1)
    })
    .await;
    let (_, v) = as_user(&env, "mgmt", Method::GET, "/api/connections").await;
    assert!(
        v.as_array().unwrap().is_empty(),
        "guest's connection is not mgmt's: {v}"
    );
    let (_, v) = as_user(&env, "mgmt", Method::GET, "/api/channels").await;
    assert!(v.as_array().unwrap().is_empty());
    let (_, v) = as_user(&env, "mon", Method::GET, "/api/connections").await;
    assert_eq!(v.as_array().unwrap().len(), 1);
    let name = v[0]["name"].as_str().unwrap().to_string();
    let path = format!(
        "/api/connections/{}",
        name.replace(' ', "%20").replace('>', "%3E")
    );
    let (s, _) = as_user(&env, "mon", Method::DELETE, &path).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "monitoring may look, not close");
    assert!(conn.status().connected());
    let (s, _) = as_user(&env, "mgmt", Method::DELETE, &path).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn bearer_tokens_from_the_issuer() {
    let env = start_with_jwt("a-test-secret-of-some-length").await;
    let (_, v) = env.call_as(None, Method::GET, "/api/auth", None).await;
    assert_eq!(v["token_issuer"], true);
    assert_eq!(v["jwt"], true);
    let r = within(
        env.client
            .post(format!("{}/api/auth/token", env.base))
            .json(&json!({"username": "guest", "password": "guest"}))
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let t: Value = r.json().await.unwrap();
    assert_eq!(t["token_type"], "bearer");
    assert!(t["expires_in"].as_u64().unwrap() > 0);
    let token = t["access_token"].as_str().unwrap().to_string();

    let who = within(
        env.client
            .get(format!("{}/api/whoami", env.base))
            .bearer_auth(&token)
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(who.status(), StatusCode::OK);
    let who: Value = who.json().await.unwrap();
    assert_eq!(who["name"], "guest");
    assert!(
        who["tags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t == "administrator"),
        "{who}"
    );
    // The token's permissions work for operations too.
    let r = within(
        env.client
            .put(format!("{}/api/queues/%2F/tq", env.base))
            .bearer_auth(&token)
            .json(&json!({"durable": false}))
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    // A token as the basic-auth password, as over AMQP.
    let r = within(
        env.client
            .get(format!("{}/api/overview", env.base))
            .basic_auth("anyone", Some(&token))
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    let mut bad = token.clone();
    bad.pop();
    bad.push(if token.ends_with('A') { 'B' } else { 'A' });
    let r = within(
        env.client
            .get(format!("{}/api/whoami", env.base))
            .bearer_auth(&bad)
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = within(
        env.client
            .post(format!("{}/api/auth/token", env.base))
            .json(&json!({"username": "guest", "password": "wrong"}))
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(
        r.headers().get("www-authenticate").is_none(),
        "no browser login dialog for a form login"
    );
    let r = within(
        env.client
            .post(format!("{}/api/auth/token", env.base))
            .body("nope")
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn no_issuer_no_tokens() {
    let env = start().await;
    let (s, v) = env.call_as(None, Method::GET, "/api/auth", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["token_issuer"], false);
    assert_eq!(v["oauth_enabled"], false);
    let r = within(
        env.client
            .post(format!("{}/api/auth/token", env.base))
            .json(&json!({"username": "guest", "password": "guest"}))
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_IMPLEMENTED);
    let v: Value = r.json().await.unwrap();
    assert!(v["reason"].is_string());
}
