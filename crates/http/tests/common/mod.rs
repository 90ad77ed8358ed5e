//! Shared by the API tests: a real broker with its AMQP server and management HTTP server on
//! port 0, and a reqwest client.
#![allow(dead_code)]

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::Value;
use warren_core::{Broker, Limits};
use warren_http::{HttpConfig, HttpServer};
use warren_server::RunningServer;

/// Every wait is bounded: a broken broker fails the test instead of hanging it.
pub const WAIT: Duration = Duration::from_secs(10);

pub struct Env {
    pub amqp: RunningServer,
    pub http: HttpServer,
    pub client: reqwest::Client,
    pub base: String,
}

pub async fn start() -> Env {
    start_with(Arc::new(Broker::new(Limits::default())), None).await
}

/// A broker whose tokens are HS256 with `secret`, verified on AMQP and HTTP and issued by
/// POST /api/auth/token.
pub async fn start_with_jwt(secret: &str) -> Env {
    let cfg = warren_auth::JwtConfig {
        keys: vec![warren_auth::JwtKeyConfig {
            algorithm: "HS256".to_string(),
            secret: Some(secret.to_string()),
            ..Default::default()
        }],
        ..Default::default()
    };
    let broker = Arc::new(Broker::new(Limits::default()));
    broker.set_jwt_verifier(Some(Arc::new(
        warren_auth::JwtVerifier::from_config(&cfg).expect("verifier"),
    )));
    let issuer = Arc::new(warren_auth::TokenIssuer::from_config(&cfg).expect("issuer"));
    start_with(broker, Some(issuer)).await
}

pub async fn start_with(broker: Arc<Broker>, issuer: Option<Arc<warren_auth::TokenIssuer>>) -> Env {
    start_full(broker, issuer, Default::default()).await
}

/// A broker whose node reports `node` (memory and disk limits, free disk).
pub async fn start_with_node(node: warren_http::NodeResources) -> Env {
    start_full(Arc::new(Broker::new(Limits::default())), None, node).await
}

async fn start_full(
    broker: Arc<Broker>,
    issuer: Option<Arc<warren_auth::TokenIssuer>>,
    node: warren_http::NodeResources,
) -> Env {
    let amqp = RunningServer::start("127.0.0.1:0", broker.clone())
        .await
        .expect("AMQP server starts");
    let mut cfg = HttpConfig::new(Some(amqp.addr));
    cfg.sample_interval = Duration::from_millis(200);
    cfg.token_issuer = issuer;
    cfg.node = node;
    let http = HttpServer::bind("127.0.0.1:0", broker, cfg)
        .await
        .expect("HTTP server starts");
    let base = format!("http://{}", http.addr);
    Env {
        amqp,
        http,
        client: reqwest::Client::new(),
        base,
    }
}

impl Env {
    pub fn amqp_url(&self) -> String {
        format!("amqp://guest:guest@{}/%2f", self.amqp.addr)
    }

    /// A request as `user`/`password` (None: no credentials).
    pub async fn call_as(
        &self,
        creds: Option<(&str, &str)>,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut r = self
            .client
            .request(method, format!("{}{}", self.base, path));
        if let Some((u, p)) = creds {
            r = r.basic_auth(u, Some(p));
        }
        if let Some(b) = body {
            r = r.json(&b);
        }
        let resp = within(r.send()).await.expect("HTTP request");
        let status = resp.status();
        let text = within(resp.text()).await.expect("HTTP body");
        let v = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, v)
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        self.call_as(Some(("guest", "guest")), method, path, body)
            .await
    }

    pub async fn get(&self, path: &str) -> Value {
        let (s, v) = self.call(Method::GET, path, None).await;
        assert_eq!(s, StatusCode::OK, "GET {path}: {v}");
        v
    }

    pub async fn connect(&self) -> lapin::Connection {
        within(lapin::Connection::connect(
            &self.amqp_url(),
            lapin::ConnectionProperties::default(),
        ))
        .await
        .expect("lapin connects as guest")
    }

    /// Polls `path` until `pred` holds on its JSON (bounded by [`WAIT`]).
    pub async fn until(&self, path: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let v = self.get(path).await;
            if pred(&v) {
                return v;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting on {path}; last: {v:#}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

pub async fn within<T>(f: impl Future<Output = T>) -> T {
    tokio::time::timeout(WAIT, f).await.expect("timed out")
}

/// Asserts an object has every one of `fields` (RabbitMQ's names).
pub fn has_fields(v: &Value, fields: &[&str]) {
    for f in fields {
        let mut cur = v;
        for part in f.split('.') {
            cur = cur
                .get(part)
                .unwrap_or_else(|| panic!("missing field {f} in {v:#}"));
        }
    }
}

/// The management API under test: Warren's (started here), or RabbitMQ's when
/// `COMPARE_HTTP_URL` names one (e.g. `http://127.0.0.1:15672`, user guest/guest), with its
/// AMQP port in `COMPARE_AMQP_URL`. Tests run in parallel on a shared RabbitMQ, so each uses
/// names of its own.
pub struct Target {
    pub base: String,
    pub amqp_url: String,
    pub client: reqwest::Client,
    /// Warren, when no other broker is named.
    pub env: Option<Env>,
}

pub async fn target() -> Target {
    if let Ok(base) = std::env::var("COMPARE_HTTP_URL") {
        let amqp_url = std::env::var("COMPARE_AMQP_URL")
            .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".to_string());
        return Target {
            base: base.trim_end_matches('/').to_string(),
            amqp_url,
            client: reqwest::Client::new(),
            env: None,
        };
    }
    let env = start().await;
    Target {
        base: env.base.clone(),
        amqp_url: env.amqp_url(),
        client: reqwest::Client::new(),
        env: Some(env),
    }
}

impl Target {
    pub fn is_rabbitmq(&self) -> bool {
        self.env.is_none()
    }

    pub async fn call_as(
        &self,
        creds: Option<(&str, &str)>,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut r = self
            .client
            .request(method, format!("{}{}", self.base, path));
        if let Some((u, p)) = creds {
            r = r.basic_auth(u, Some(p));
        }
        if let Some(b) = body {
            r = r.json(&b);
        }
        let resp = within(r.send()).await.expect("HTTP request");
        let status = resp.status();
        let text = within(resp.text()).await.expect("HTTP body");
        let v = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, v)
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        self.call_as(Some(("guest", "guest")), method, path, body)
            .await
    }

    /// A request that must answer `want`.
    pub async fn expect(
        &self,
        want: StatusCode,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Value {
        let (s, v) = self.call(method.clone(), path, body).await;
        assert_eq!(s, want, "{method} {path}: {v}");
        v
    }

    pub async fn get(&self, path: &str) -> Value {
        self.expect(StatusCode::OK, Method::GET, path, None).await
    }

    /// The AMQP URL of `vhost` (already percent-encoded) as `user`:`password`.
    pub fn amqp_url_as(&self, user: &str, password: &str, vhost: &str) -> String {
        let rest = self.amqp_url.split_once('@').map_or("", |(_, r)| r);
        let host = rest.split('/').next().unwrap_or(rest);
        format!("amqp://{user}:{password}@{host}/{vhost}")
    }
}
