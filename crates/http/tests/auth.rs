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
            .header("content-type", "application/json")
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

async fn publish_as(
    env: &common::Env,
    user: &str,
    exchange: &str,
    key: &str,
    properties: Value,
) -> (StatusCode, Value) {
    env.call_as(
        Some((user, "secret")),
        Method::POST,
        &format!("/api/exchanges/%2F/{exchange}/publish"),
        Some(
            json!({"properties": properties, "routing_key": key, "payload": "m",
                    "payload_encoding": "string"}),
        ),
    )
    .await
}

/// `pub` may do anything in `/`, but on `amq.topic` only write and read routing keys starting
/// with `allowed.`; `taps` (a queue of guest's) gets everything amq.topic routes.
async fn topic_env() -> common::Env {
    let env = start().await;
    user(&env, "pub", "management", true).await;
    let (s, v) = env
        .call(
            Method::PUT,
            "/api/topic-permissions/%2F/pub",
            Some(json!({"exchange": "amq.topic", "write": "^allowed\\.", "read": "^allowed\\."})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    env.call(
        Method::PUT,
        "/api/queues/%2F/taps",
        Some(json!({"durable": false})),
    )
    .await;
    let (s, _) = env
        .call(
            Method::POST,
            "/api/bindings/%2F/e/amq.topic/q/taps",
            Some(json!({"routing_key": "#"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    env
}

async fn taps(env: &common::Env) -> u64 {
    let v = env
        .until("/api/queues/%2F/taps", |v| v["messages"].is_u64())
        .await;
    v["messages"].as_u64().unwrap()
}

#[tokio::test]
async fn publish_checks_topic_permissions_as_amqp_does() {
    let env = topic_env().await;
    let (s, v) = publish_as(&env, "pub", "amq.topic", "allowed.x", json!({})).await;
    assert_eq!((s, &v["routed"]), (StatusCode::OK, &json!(true)), "{v}");
    let (s, v) = publish_as(&env, "pub", "amq.topic", "denied.x", json!({})).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    assert_eq!(
        v["reason"],
        "write access to topic 'denied.x' in exchange 'amq.topic' in vhost '/' refused for user 'pub'"
    );
    // Only the allowed message arrived; guest (no topic permissions) publishes anything.
    let (s, _) = env
        .call(
            Method::POST,
            "/api/exchanges/%2F/amq.topic/publish",
            Some(
                json!({"properties": {}, "routing_key": "denied.y", "payload": "g",
                        "payload_encoding": "string"}),
            ),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(taps(&env).await, 2);
}

#[tokio::test]
async fn publish_with_someone_elses_user_id_is_400() {
    let env = topic_env().await;
    user(&env, "imp", "management,impersonator", true).await;
    let (s, v) = publish_as(&env, "pub", "amq.direct", "k", json!({"user_id": "pub"})).await;
    assert_eq!(s, StatusCode::OK, "own user_id: {v}");
    // RabbitMQ's management plugin: the channel's 406 becomes a 400 with code and text.
    let (s, v) = publish_as(
        &env,
        "pub",
        "amq.topic",
        "allowed.x",
        json!({"user_id": "guest"}),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(
        v,
        json!({"error": "bad_request", "reason": "406 PRECONDITION_FAILED - user_id property set to 'guest' but authenticated user was 'pub'"})
    );
    assert_eq!(taps(&env).await, 0, "the refused message was not routed");
    let (s, v) = publish_as(&env, "imp", "amq.topic", "k", json!({"user_id": "guest"})).await;
    assert_eq!(s, StatusCode::OK, "an impersonator may: {v}");
    assert_eq!(taps(&env).await, 1);
}

#[tokio::test]
async fn bindings_check_topic_read_permissions_as_amqp_does() {
    let env = topic_env().await;
    let r = Some(("pub", "secret"));
    let (s, v) = env
        .call_as(
            r,
            Method::POST,
            "/api/bindings/%2F/e/amq.topic/q/taps",
            Some(json!({"routing_key": "allowed.#"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, v) = env
        .call_as(
            r,
            Method::POST,
            "/api/bindings/%2F/e/amq.topic/q/taps",
            Some(json!({"routing_key": "denied.#"})),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    assert_eq!(
        v["reason"],
        "read access to topic 'denied.#' in exchange 'amq.topic' in vhost '/' refused for user 'pub'"
    );
    // Unbinding is checked the same way: guest's "#" binding is not pub's to remove.
    let (s, v) = env
        .call_as(
            r,
            Method::DELETE,
            "/api/bindings/%2F/e/amq.topic/q/taps/%2523",
            None,
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    let (s, _) = env
        .call_as(
            r,
            Method::DELETE,
            "/api/bindings/%2F/e/amq.topic/q/taps/allowed.%2523",
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let rows = env.get("/api/bindings/%2F/e/amq.topic/q/taps").await;
    let keys: Vec<&str> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["routing_key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["#"]);
    // Bindings of a non-topic exchange need no topic permission.
    let (s, v) = env
        .call_as(
            r,
            Method::POST,
            "/api/bindings/%2F/e/amq.direct/q/taps",
            Some(json!({"routing_key": "denied.x"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
}

/// This machine's non-loopback address, if it has one.
fn non_loopback_ip() -> Option<std::net::IpAddr> {
    std::net::UdpSocket::bind("0.0.0.0:0")
        .and_then(|s| s.connect("10.255.255.255:9").map(|_| s))
        .and_then(|s| s.local_addr())
        .ok()
        .map(|a| a.ip())
        .filter(|ip| !ip.is_loopback() && !ip.is_unspecified())
}

#[tokio::test]
async fn tokens_for_loopback_only_users_are_refused_from_elsewhere() {
    let Some(ip) = non_loopback_ip() else {
        eprintln!("no non-loopback address: skipped");
        return;
    };
    let cfg = warren_auth::JwtConfig {
        keys: vec![warren_auth::JwtKeyConfig {
            algorithm: "HS256".to_string(),
            secret: Some("a-test-secret-of-some-length".to_string()),
            ..Default::default()
        }],
        ..Default::default()
    };
    let broker = std::sync::Arc::new(warren_core::Broker::new(Default::default()));
    broker.set_jwt_verifier(Some(std::sync::Arc::new(
        warren_auth::JwtVerifier::from_config(&cfg).unwrap(),
    )));
    broker
        .auth()
        .add_user("remote", "pw", &["administrator".into()])
        .unwrap();
    let issuer = warren_auth::TokenIssuer::from_config(&cfg).unwrap();
    let guest_token = issuer.issue(broker.auth(), "guest").unwrap().access_token;
    let remote_token = issuer.issue(broker.auth(), "remote").unwrap().access_token;
    let Ok(http) = warren_http::HttpServer::bind(
        &format!("{ip}:0"),
        broker,
        warren_http::HttpConfig::new(None),
    )
    .await
    else {
        eprintln!("cannot listen on {ip}: skipped");
        return;
    };
    let client = reqwest::Client::new();
    let whoami = |auth: Box<dyn Fn(reqwest::RequestBuilder) -> reqwest::RequestBuilder>| {
        let r = auth(client.get(format!("http://{}/api/whoami", http.addr)));
        async move { within(r.send()).await.unwrap().status() }
    };
    let g = guest_token.clone();
    assert_eq!(
        whoami(Box::new(move |r| r.bearer_auth(&g))).await,
        StatusCode::UNAUTHORIZED,
        "a bearer token for guest from {ip}"
    );
    let g = guest_token.clone();
    assert_eq!(
        whoami(Box::new(move |r| r.basic_auth("guest", Some(&g)))).await,
        StatusCode::UNAUTHORIZED,
        "a token for guest as the basic-auth password from {ip}"
    );
    assert_eq!(
        whoami(Box::new(|r| r.basic_auth("guest", Some("guest")))).await,
        StatusCode::UNAUTHORIZED,
        "guest's password from {ip}"
    );
    let t = remote_token.clone();
    assert_eq!(
        whoami(Box::new(move |r| r.bearer_auth(&t))).await,
        StatusCode::OK,
        "another user's token from {ip}"
    );
}
