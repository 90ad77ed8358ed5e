//! Management API shapes and behaviours checked against RabbitMQ: every test here runs
//! against Warren, or against a RabbitMQ with `COMPARE_HTTP_URL` (and `COMPARE_AMQP_URL`) set:
//! `COMPARE_HTTP_URL=http://127.0.0.1:15672 COMPARE_AMQP_URL=amqp://guest:guest@127.0.0.1:5672/%2f
//! cargo test -p warren-http --test compat`.

mod common;

use common::target;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// RabbitMQ honours `hashing_algorithm` in `PUT /api/users/{name}`: a hash made with SHA-512
/// or MD5 (as older or reconfigured RabbitMQs export them) is kept with its algorithm, and
/// the user logs in with the password it was made from. (The hashes were made with Python's
/// hashlib: base64 of a 4-byte salt followed by H(salt ++ utf8(password)).)
#[tokio::test]
async fn password_hash_honours_hashing_algorithm() {
    let t = target().await;
    let cases = [
        (
            "compat-sha512",
            "rabbit_password_hashing_sha512",
            "Wx4Mff2atngfttXMfFjbYxiYSxzfjVfdRk8IUfZIg6VlTUSARKZFrYmhcVp0iJaW/4DBW3zFK0qpHnQ5KagKqeM9lWE=",
            "pw 512 ünï",
        ),
        (
            "compat-md5",
            "rabbit_password_hashing_md5",
            "wP/uQnGH5tUjftF9ihmyZNGvB7w=",
            "legacy-md5-pw",
        ),
    ];
    for (name, alg, hash, password) in cases {
        let path = format!("/api/users/{name}");
        t.call(Method::DELETE, &path, None).await;
        let body = json!({"password_hash": hash, "hashing_algorithm": alg, "tags": "management"});
        t.expect(StatusCode::CREATED, Method::PUT, &path, Some(body.clone()))
            .await;
        let u = t.get(&path).await;
        assert_eq!(u["hashing_algorithm"], alg, "{u}");
        assert_eq!(u["password_hash"], hash, "{u}");
        let (s, who) = t
            .call_as(Some((name, password)), Method::GET, "/api/whoami", None)
            .await;
        assert_eq!(s, StatusCode::OK, "{name} logs in with its password: {who}");
        let (s, _) = t
            .call_as(Some((name, "wrong")), Method::GET, "/api/whoami", None)
            .await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
        // Again on the existing user: replaced, same algorithm.
        t.expect(StatusCode::NO_CONTENT, Method::PUT, &path, Some(body))
            .await;
        assert_eq!(t.get(&path).await["hashing_algorithm"], alg);
        // And in a definitions export.
        let defs = t.get("/api/definitions").await;
        let exported = defs["users"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["name"] == name)
            .cloned()
            .unwrap();
        assert_eq!(exported["hashing_algorithm"], alg);
        assert_eq!(exported["password_hash"], hash);
        t.expect(StatusCode::NO_CONTENT, Method::DELETE, &path, None)
            .await;
        // Without `hashing_algorithm` (clients that follow the node's configured
        // `password_hashing_module` send none): accepted as RabbitMQ does. Warren takes the
        // algorithm the hash's length says, so the user can log in (RabbitMQ files it as its
        // default, SHA-256, and the user cannot).
        let body = json!({"password_hash": hash, "tags": "management"});
        t.expect(StatusCode::CREATED, Method::PUT, &path, Some(body.clone()))
            .await;
        assert_eq!(t.get(&path).await["password_hash"], hash);
        if !t.is_rabbitmq() {
            assert_eq!(t.get(&path).await["hashing_algorithm"], alg);
            let (s, _) = t
                .call_as(Some((name, password)), Method::GET, "/api/whoami", None)
                .await;
            assert_eq!(s, StatusCode::OK);
        }
        t.expect(StatusCode::NO_CONTENT, Method::PUT, &path, Some(body))
            .await;
        t.expect(StatusCode::NO_CONTENT, Method::DELETE, &path, None)
            .await;
    }
}

fn meta(v: &Value) -> Value {
    json!({"description": v["description"], "tags": v["tags"],
           "metadata": {"description": v["metadata"]["description"], "tags": v["metadata"]["tags"]}})
}

/// A vhost's `description` and `tags` are kept by PUT (a later PUT replaces them all, as
/// RabbitMQ does), shown by GET and carried through a definitions export and import.
/// (`default_queue_type` too, but RabbitMQ 3.10.8 answers "undefined" for it whatever was set,
/// so it is only checked on Warren, which answers as RabbitMQ 4.x.)
#[tokio::test]
async fn vhost_metadata_is_kept() {
    let t = target().await;
    let path = "/api/vhosts/compat-meta";
    t.call(Method::DELETE, path, None).await;
    t.expect(
        StatusCode::CREATED,
        Method::PUT,
        path,
        Some(json!({"description": "orders", "tags": "prod,eu", "default_queue_type": "quorum"})),
    )
    .await;
    let v = t.get(path).await;
    assert_eq!(
        meta(&v),
        json!({"description": "orders", "tags": ["prod", "eu"],
               "metadata": {"description": "orders", "tags": ["prod", "eu"]}})
    );
    if !t.is_rabbitmq() {
        assert_eq!(v["default_queue_type"], "quorum");
        assert_eq!(v["metadata"]["default_queue_type"], "quorum");
    }
    // Listed the same way.
    let all = t.get("/api/vhosts").await;
    let listed = all
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == "compat-meta")
        .unwrap();
    assert_eq!(meta(listed), meta(&v));
    // A PUT replaces the metadata: tags given as a list, no description.
    t.expect(
        StatusCode::NO_CONTENT,
        Method::PUT,
        path,
        Some(json!({"tags": ["x"]})),
    )
    .await;
    let v = t.get(path).await;
    assert_eq!(
        meta(&v),
        json!({"description": "", "tags": ["x"], "metadata": {"description": "", "tags": ["x"]}})
    );
    if let Some(env) = &t.env {
        // Definitions carry it (RabbitMQ 4.x's shape; 3.10.8 exports names only) and an
        // import brings it back.
        t.expect(
            StatusCode::NO_CONTENT,
            Method::PUT,
            path,
            Some(json!({"description": "d", "tags": "a", "default_queue_type": "quorum"})),
        )
        .await;
        let defs = t.get("/api/definitions").await;
        let vdef = defs["vhosts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["name"] == "compat-meta")
            .cloned()
            .unwrap();
        assert_eq!(vdef["description"], "d");
        assert_eq!(vdef["tags"], json!(["a"]));
        assert_eq!(vdef["default_queue_type"], "quorum");
        t.expect(StatusCode::NO_CONTENT, Method::DELETE, path, None)
            .await;
        t.expect(
            StatusCode::NO_CONTENT,
            Method::POST,
            "/api/definitions",
            Some(json!({"vhosts": [vdef]})),
        )
        .await;
        let v = t.get(path).await;
        assert_eq!(v["description"], "d");
        assert_eq!(v["tags"], json!(["a"]));
        assert_eq!(v["default_queue_type"], "quorum");
        let _ = env;
    }
    t.expect(StatusCode::NO_CONTENT, Method::DELETE, path, None)
        .await;
}

/// `POST /api/definitions/{vhost}` takes a vhost's export, whose objects have no `vhost`
/// field, and puts everything in that vhost (whatever an object says); the vhost's export has
/// no `vhost` fields on queues, exchanges and bindings.
#[tokio::test]
async fn vhost_scoped_definitions_fill_in_the_vhost() {
    let t = target().await;
    let vpath = "/api/vhosts/compat-defs";
    t.call(Method::DELETE, vpath, None).await;
    t.expect(StatusCode::CREATED, Method::PUT, vpath, None)
        .await;
    let defs = json!({
        "queues": [
            {"name": "dq", "durable": true, "auto_delete": false, "arguments": {}},
            {"name": "dq2", "vhost": "elsewhere", "durable": true, "auto_delete": false, "arguments": {}}
        ],
        "exchanges": [{"name": "dx", "type": "fanout", "durable": true, "auto_delete": false,
                       "internal": false, "arguments": {}}],
        "bindings": [{"source": "dx", "destination": "dq", "destination_type": "queue",
                      "routing_key": "", "arguments": {}}],
        "policies": [{"name": "p1", "pattern": "^dq$", "apply-to": "queues",
                      "definition": {"max-length": 10}, "priority": 0}]
    });
    t.expect(
        StatusCode::NO_CONTENT,
        Method::POST,
        "/api/definitions/compat-defs",
        Some(defs),
    )
    .await;
    let mut queues: Vec<String> = t
        .get("/api/queues/compat-defs")
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["name"].as_str().unwrap().to_string())
        .collect();
    queues.sort();
    assert_eq!(queues, ["dq", "dq2"]);
    let b = t.get("/api/queues/compat-defs/dq/bindings").await;
    assert!(
        b.as_array().unwrap().iter().any(|b| b["source"] == "dx"),
        "{b}"
    );
    assert_eq!(
        t.get("/api/policies/compat-defs/p1").await["pattern"],
        "^dq$"
    );
    let out = t.get("/api/definitions/compat-defs").await;
    for section in ["queues", "exchanges", "bindings"] {
        let items = out[section].as_array().unwrap();
        assert!(!items.is_empty(), "{section}: {out}");
        for item in items {
            assert!(item.get("vhost").is_none(), "{section}: {item}");
        }
    }
    assert_eq!(out["policies"][0]["vhost"], "compat-defs");
    t.expect(StatusCode::NO_CONTENT, Method::DELETE, vpath, None)
        .await;
}
