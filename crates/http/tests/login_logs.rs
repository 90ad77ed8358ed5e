//! Refused logins are logged at warn with the peer address and the user name, never with the
//! password or the token: the management API (basic auth, bearer tokens), the token endpoint
//! (`POST /api/auth/token`) and, for comparison, AMQP. The log is captured from the real
//! servers' `tracing` output (this test binary installs the global subscriber).

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::{start_with_jwt, within};
use reqwest::{Method, StatusCode};
use serde_json::json;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }

    /// The lines mentioning `needle`, waiting a little for them (logging is synchronous,
    /// but the server answers on its own tasks).
    async fn lines_with(&self, needle: &str) -> Vec<String> {
        for _ in 0..100 {
            let found: Vec<String> = self
                .text()
                .lines()
                .filter(|l| l.contains(needle))
                .map(str::to_string)
                .collect();
            if !found.is_empty() {
                return found;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!("no log line with {needle:?} in:\n{}", self.text());
    }
}

#[tokio::test]
async fn refused_logins_are_logged_at_warn_with_peer_and_user_never_the_secret() {
    let log = Captured::default();
    tracing::subscriber::set_global_default(
        tracing_subscriber::fmt()
            .with_writer(log.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::DEBUG)
            .finish(),
    )
    .expect("the only subscriber of this test binary");
    let env = start_with_jwt("a-test-secret-of-some-length").await;

    // Basic auth with a wrong password.
    let (s, _) = env
        .call_as(
            Some(("erin", "basic-pw-1234")),
            Method::GET,
            "/api/overview",
            None,
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let lines = log.lines_with("user 'erin'").await;
    assert!(
        lines
            .iter()
            .any(|l| l.contains("WARN") && l.contains("127.0.0.1")),
        "a warn line with the peer: {lines:#?}"
    );

    // The token endpoint.
    let r = within(
        env.client
            .post(format!("{}/api/auth/token", env.base))
            .json(&json!({"username": "tokuser", "password": "token-pw-5678"}))
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let lines = log.lines_with("user 'tokuser'").await;
    assert!(
        lines
            .iter()
            .any(|l| l.contains("WARN") && l.contains("127.0.0.1")),
        "{lines:#?}"
    );

    // A bearer token that does not verify (signed with another secret).
    let other = warren_auth::JwtConfig {
        keys: vec![warren_auth::JwtKeyConfig {
            algorithm: "HS256".into(),
            secret: Some("another-secret-entirely".into()),
            ..Default::default()
        }],
        ..Default::default()
    };
    let forged = warren_auth::TokenIssuer::from_config(&other)
        .unwrap()
        .issue_scopes("mallory", &[])
        .unwrap()
        .access_token;
    let r = within(
        env.client
            .get(format!("{}/api/whoami", env.base))
            .bearer_auth(&forged)
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let lines = log.lines_with("invalid signature").await;
    assert!(
        lines
            .iter()
            .any(|l| l.contains("WARN") && l.contains("127.0.0.1")),
        "{lines:#?}"
    );

    // AMQP, for comparison.
    let url = format!("amqp://amqpuser:amqp-pw-9012@{}/%2f", env.amqp.addr);
    assert!(within(lapin::Connection::connect(
        &url,
        lapin::ConnectionProperties::default()
    ))
    .await
    .is_err());
    let lines = log.lines_with("user 'amqpuser'").await;
    assert!(
        lines
            .iter()
            .any(|l| l.contains("WARN") && l.contains("127.0.0.1")),
        "{lines:#?}"
    );

    let all = log.text();
    let sig = forged.rsplit('.').next().unwrap();
    for secret in ["basic-pw-1234", "token-pw-5678", "amqp-pw-9012", sig] {
        assert!(
            !all.contains(secret),
            "{secret:?} must never be logged:\n{all}"
        );
    }
}
