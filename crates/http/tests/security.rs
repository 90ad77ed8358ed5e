//! Cross-site request forgery and the browser-facing headers: what an HTML form on another
//! site can post (text/plain, form-urlencoded, multipart, or no type) with a browser's cached
//! basic-auth credentials is refused with 415 and changes nothing; JSON is taken; every
//! response carries the headers that keep the dashboard out of other sites' frames.

mod common;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::json;

/// The attack of the report: a text/plain POST of definitions that would add an administrator.
#[tokio::test]
async fn a_form_post_of_definitions_creates_no_administrator() {
    let env = start().await;
    let defs = json!({"users": [{"name": "mallory", "password": "pw", "tags": "administrator"}]});
    for ct in [
        Some("text/plain"),
        Some("text/plain;charset=UTF-8"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=x"),
        None,
    ] {
        let mut r = env
            .client
            .post(format!("{}/api/definitions", env.base))
            .basic_auth("guest", Some("guest"))
            .header("origin", "https://evil.example")
            .body(defs.to_string());
        if let Some(ct) = ct {
            r = r.header("content-type", ct);
        }
        let resp = within(r.send()).await.unwrap();
        assert_eq!(
            resp.status(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Content-Type {ct:?}"
        );
        let v: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(v["error"], "Unsupported Media Type", "{v}");
        let (s, _) = env.call(Method::GET, "/api/users/mallory", None).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "Content-Type {ct:?} made a user");
    }
    // The same body as JSON is what the API takes.
    let (s, v) = env.call(Method::POST, "/api/definitions", Some(defs)).await;
    assert!(s.is_success(), "{s} {v}");
    let u = env.get("/api/users/mallory").await;
    assert_eq!(u["tags"], json!(["administrator"]));
}

/// Every method that carries a body: a non-JSON body is refused before the handler runs (the
/// queue is not declared, the user not made, the queue not deleted); JSON with a charset
/// parameter and requests without a body go through.
#[tokio::test]
async fn every_non_json_body_is_refused_and_changes_nothing() {
    let env = start().await;
    let text = |m: Method, path: &str, body: &str| {
        env.client
            .request(m, format!("{}{}", env.base, path))
            .basic_auth("guest", Some("guest"))
            .header("content-type", "text/plain")
            .body(body.to_string())
            .send()
    };
    let r = within(text(
        Method::PUT,
        "/api/queues/%2F/forged",
        r#"{"durable":true}"#,
    ))
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let (s, _) = env.call(Method::GET, "/api/queues/%2F/forged", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let r = within(text(
        Method::PUT,
        "/api/users/forged",
        r#"{"password":"x","tags":"administrator"}"#,
    ))
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let (s, _) = env.call(Method::GET, "/api/users/forged", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // A DELETE with a body of another type is refused too; the queue stays.
    let (s, _) = env
        .call(
            Method::PUT,
            "/api/queues/%2F/kept",
            Some(json!({"durable": false})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let r = within(text(Method::DELETE, "/api/queues/%2F/kept", "{}"))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let (s, _) = env.call(Method::GET, "/api/queues/%2F/kept", None).await;
    assert_eq!(s, StatusCode::OK);
    // A form-encoded publish is refused: nothing is routed.
    let r = within(
        env.client
            .post(format!(
                "{}/api/exchanges/%2F/amq.default/publish",
                env.base
            ))
            .basic_auth("guest", Some("guest"))
            .form(&[("routing_key", "kept"), ("payload", "x")])
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(env.get("/api/queues/%2F/kept").await["messages_ready"], 0);
    // JSON with parameters, in any case, is JSON.
    let r = within(
        env.client
            .put(format!("{}/api/queues/%2F/with-charset", env.base))
            .basic_auth("guest", Some("guest"))
            .header("content-type", "Application/JSON; charset=utf-8")
            .body(r#"{"durable":false}"#)
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    // No body, no type needed (curl -X PUT .../vhosts/v, curl -X DELETE).
    let r = within(
        env.client
            .put(format!("{}/api/vhosts/bodiless", env.base))
            .basic_auth("guest", Some("guest"))
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = within(
        env.client
            .delete(format!("{}/api/queues/%2F/kept", env.base))
            .basic_auth("guest", Some("guest"))
            .header("content-type", "text/plain")
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn responses_carry_the_framing_and_sniffing_headers() {
    let env = start().await;
    for path in [
        "/",
        "/static/app.js",
        "/api/overview",
        "/api/nope",
        "/metrics",
    ] {
        let r = within(
            env.client
                .get(format!("{}{}", env.base, path))
                .basic_auth("guest", Some("guest"))
                .send(),
        )
        .await
        .unwrap();
        let h = r.headers();
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["x-frame-options"], "DENY", "{path}");
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(csp.contains("script-src 'self'"), "{path}: {csp}");
    }
}
