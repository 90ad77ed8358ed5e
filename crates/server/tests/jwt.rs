//! JWT access tokens over AMQP with lapin: a token as the PLAIN password (any user name), its
//! scopes as permissions, every known attack refused at login, expiry closing the connection
//! (320) and connection.update-secret refreshing it. Also AMQPS with lapin.

mod common;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use common::{start, within};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use lapin::options::*;
use lapin::types::FieldTable;
use lapin::{Connection, ConnectionProperties};
use serde_json::json;
use warren_auth::{JwtConfig, JwtKeyConfig, JwtVerifier};
use warren_server::RunningServer;

const SECRET: &str = "test-secret-for-hs256-which-is-long-enough";
const RS_PRIVATE: &str = include_str!("fixtures/jwt-rs256-private.pem");
const RS_PUBLIC: &str = include_str!("fixtures/jwt-rs256-public.pem");
const ES_PRIVATE: &str = include_str!("fixtures/jwt-es256-private.pem");
const ES_PUBLIC: &str = include_str!("fixtures/jwt-es256-public.pem");

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn config() -> JwtConfig {
    JwtConfig {
        resource_server_id: "warren".into(),
        keys: vec![
            JwtKeyConfig {
                kid: Some("hs".into()),
                algorithm: "HS256".into(),
                secret: Some(SECRET.into()),
                ..Default::default()
            },
            JwtKeyConfig {
                kid: Some("rs".into()),
                algorithm: "RS256".into(),
                public_key: Some(RS_PUBLIC.into()),
                ..Default::default()
            },
            JwtKeyConfig {
                kid: Some("es".into()),
                algorithm: "ES256".into(),
                public_key: Some(ES_PUBLIC.into()),
                ..Default::default()
            },
        ],
        ..Default::default()
    }
}

async fn server() -> RunningServer {
    let server = start().await;
    let v = JwtVerifier::from_config(&config()).unwrap();
    server.broker.set_jwt_verifier(Some(Arc::new(v)));
    server
}

/// Claims for user `app` in vhost `/`: configure/write/read on names starting with `app-`.
fn claims(exp_in: i64) -> serde_json::Value {
    json!({
        "sub": "app",
        "aud": ["warren", "other"],
        "iat": now(),
        "exp": (now() as i64 + exp_in),
        "scope": "warren.configure:%2F/app-* warren.write:%2F/app-* warren.read:%2F/app-* warren.tag:monitoring openid",
    })
}

fn sign(kid: &str, alg: Algorithm, key: &EncodingKey, claims: &serde_json::Value) -> String {
    let mut h = Header::new(alg);
    h.kid = Some(kid.into());
    jsonwebtoken::encode(&h, claims, key).unwrap()
}

fn hs(claims: &serde_json::Value) -> String {
    sign(
        "hs",
        Algorithm::HS256,
        &EncodingKey::from_secret(SECRET.as_bytes()),
        claims,
    )
}

async fn connect_token(
    server: &RunningServer,
    user: &str,
    token: &str,
    vhost: &str,
) -> lapin::Result<Connection> {
    let url = format!("amqp://{user}:{token}@{}/{vhost}", server.addr);
    within(Connection::connect(&url, ConnectionProperties::default())).await
}

fn code(r: lapin::Result<Connection>) -> u16 {
    match r {
        Err(lapin::Error::ProtocolError(e)) => e.get_id(),
        Ok(_) => 0,
        Err(other) => panic!("expected a protocol error, got {other:?}"),
    }
}

#[tokio::test]
async fn valid_tokens_log_in_with_any_user_name_and_get_their_scopes() {
    let server = server().await;
    let rs = EncodingKey::from_rsa_pem(RS_PRIVATE.as_bytes()).unwrap();
    let es = EncodingKey::from_ec_pem(ES_PRIVATE.as_bytes()).unwrap();
    for (user, token) in [
        ("", hs(&claims(60))),
        ("whoever", sign("rs", Algorithm::RS256, &rs, &claims(60))),
        ("app", sign("es", Algorithm::ES256, &es, &claims(60))),
    ] {
        let conn = connect_token(&server, user, &token, "%2f")
            .await
            .expect("token accepted");
        let ch = within(conn.create_channel()).await.unwrap();
        within(ch.queue_declare(
            "app-q",
            QueueDeclareOptions::default(),
            FieldTable::default(),
        ))
        .await
        .expect("configure:%2F/app-* allows app-q");
        // A scope for another queue does not allow this one.
        match within(ch.queue_declare(
            "other",
            QueueDeclareOptions::default(),
            FieldTable::default(),
        ))
        .await
        {
            Err(lapin::Error::ProtocolError(e)) => {
                assert_eq!(e.get_id(), 403);
                assert_eq!(
                    e.get_message().as_str(),
                    "ACCESS_REFUSED - configure access to queue 'other' in vhost '/' refused for user 'app'"
                );
            }
            other => panic!("expected 403, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn scope_for_another_vhost_is_530() {
    let server = server().await;
    let mut c = claims(60);
    c["scope"] = json!(["warren.read:v2/*", "warren.configure:v2/*"]);
    assert_eq!(code(connect_token(&server, "", &hs(&c), "%2f").await), 530);
    server.broker.add_vhost("v2");
    assert!(connect_token(&server, "", &hs(&c), "v2").await.is_ok());
}

#[tokio::test]
async fn attacks_are_refused_with_403() {
    let server = server().await;
    let b64 = |v: &serde_json::Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
    };
    let good = hs(&claims(60));
    let mut attacks: Vec<(&str, String)> = Vec::new();
    attacks.push((
        "wrong signature",
        sign(
            "hs",
            Algorithm::HS256,
            &EncodingKey::from_secret(b"another secret"),
            &claims(60),
        ),
    ));
    let none_header = json!({"alg": "none", "typ": "JWT", "kid": "hs"});
    attacks.push((
        "alg none",
        format!("{}.{}.", b64(&none_header), b64(&claims(60))),
    ));
    attacks.push((
        "HS256 signed with the RS256 public key",
        sign(
            "rs",
            Algorithm::HS256,
            &EncodingKey::from_secret(RS_PUBLIC.as_bytes()),
            &claims(60),
        ),
    ));
    attacks.push(("expired", hs(&claims(-10))));
    let mut nbf = claims(3600);
    nbf["nbf"] = json!(now() + 600);
    attacks.push(("not yet valid", hs(&nbf)));
    let mut aud = claims(60);
    aud["aud"] = json!("someone-else");
    attacks.push(("wrong audience", hs(&aud)));
    let mut no_exp = claims(60);
    no_exp.as_object_mut().unwrap().remove("exp");
    attacks.push(("no exp", hs(&no_exp)));
    let mut future_iat = claims(3600);
    future_iat["iat"] = json!(now() + 600);
    attacks.push(("issued in the future", hs(&future_iat)));
    let mut tampered = good.split('.').map(str::to_string).collect::<Vec<_>>();
    let mut more = claims(60);
    more["scope"] =
        json!("warren.configure:*/* warren.write:*/* warren.read:*/* warren.tag:administrator");
    tampered[1] = b64(&more);
    attacks.push(("tampered payload", tampered.join(".")));
    attacks.push((
        "unknown kid",
        sign(
            "zz",
            Algorithm::HS256,
            &EncodingKey::from_secret(SECRET.as_bytes()),
            &claims(60),
        ),
    ));
    for (what, token) in attacks {
        assert_eq!(
            code(connect_token(&server, "app", &token, "%2f").await),
            403,
            "{what} must be refused"
        );
    }
    // The good one still works: the refusals were about the tokens.
    assert!(connect_token(&server, "app", &good, "%2f").await.is_ok());
}

async fn closed_with(conn: &Connection) -> tokio::sync::oneshot::Receiver<lapin::Error> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let tx = std::sync::Mutex::new(Some(tx));
    conn.on_error(move |e| {
        if let Some(tx) = tx.lock().unwrap().take() {
            let _ = tx.send(e);
        }
    });
    rx
}

#[tokio::test]
async fn expiry_closes_the_connection_with_320_unless_refreshed() {
    let server = server().await;
    // Refreshed before expiry: stays open past the first token's exp.
    let conn = connect_token(&server, "", &hs(&claims(2)), "%2f")
        .await
        .unwrap();
    let mut errors = closed_with(&conn).await;
    within(conn.update_secret(&hs(&claims(60)), "refresh"))
        .await
        .expect("update-secret-ok");
    tokio::time::sleep(Duration::from_millis(3500)).await;
    assert!(
        errors.try_recv().is_err(),
        "refreshed connection stays open"
    );
    let ch = within(conn.create_channel()).await.expect("still usable");
    within(ch.queue_declare(
        "app-q",
        QueueDeclareOptions::default(),
        FieldTable::default(),
    ))
    .await
    .unwrap();

    // Not refreshed: closed with 320 once exp passes.
    let conn = connect_token(&server, "", &hs(&claims(2)), "%2f")
        .await
        .unwrap();
    let errors = closed_with(&conn).await;
    match within(errors).await.unwrap() {
        lapin::Error::ProtocolError(e) => {
            assert_eq!(e.get_id(), 320);
            assert_eq!(
                e.get_message().as_str(),
                "CONNECTION_FORCED - credential expired"
            );
        }
        other => panic!("expected 320, got {other:?}"),
    }
}

#[tokio::test]
async fn update_secret_for_another_subject_is_refused() {
    let server = server().await;
    let conn = connect_token(&server, "", &hs(&claims(60)), "%2f")
        .await
        .unwrap();
    let errors = closed_with(&conn).await;
    let mut other = claims(60);
    other["sub"] = json!("mallory");
    let _ = within(conn.update_secret(&hs(&other), "swap")).await;
    match within(errors).await.unwrap() {
        lapin::Error::ProtocolError(e) => assert_eq!(e.get_id(), 530),
        other => panic!("expected 530, got {other:?}"),
    }
}

#[tokio::test]
async fn issued_tokens_carry_the_users_permissions() {
    let server = server().await;
    let db = server.broker.auth();
    db.add_user("bob", "pw", &["management".into()]).unwrap();
    db.set_permissions("bob", "/", "^bob-", "^bob-", "^bob-")
        .unwrap();
    let issuer = warren_auth::TokenIssuer::from_config(&config()).unwrap();
    let t = issuer.issue(db, "bob").unwrap();
    assert_eq!(t.token_type, "bearer");
    assert_eq!(t.expires_in, 3600);
    let conn = connect_token(&server, "", &t.access_token, "%2f")
        .await
        .unwrap();
    let ch = within(conn.create_channel()).await.unwrap();
    within(ch.queue_declare(
        "bob-q",
        QueueDeclareOptions::default(),
        FieldTable::default(),
    ))
    .await
    .expect("bob-* from ^bob-");
    assert!(within(ch.queue_declare(
        "alice-q",
        QueueDeclareOptions::default(),
        FieldTable::default()
    ))
    .await
    .is_err());
}

#[tokio::test]
async fn amqps_with_lapin() {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Warren test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    let cert = params.signed_by(&key, &ca, &ca_key).unwrap();
    let config = warren_server::tls::server_config(
        cert.pem().as_bytes(),
        key.serialize_pem().as_bytes(),
        None,
        false,
    )
    .unwrap();
    let broker = Arc::new(warren_core::Broker::new(Default::default()));
    let server = RunningServer::start_tls("127.0.0.1:0", broker, config)
        .await
        .unwrap();
    let url = format!("amqps://guest:guest@localhost:{}/%2f", server.addr.port());
    let tls = lapin::tcp::OwnedTLSConfig {
        identity: None,
        cert_chain: Some(ca.pem()),
    };
    let conn = within(Connection::connect_with_config(
        &url,
        ConnectionProperties::default(),
        tls,
    ))
    .await
    .expect("AMQPS connection");
    let ch = within(conn.create_channel()).await.unwrap();
    within(ch.queue_declare(
        "tls-q",
        QueueDeclareOptions::default(),
        FieldTable::default(),
    ))
    .await
    .unwrap();
    within(ch.basic_publish(
        "",
        "tls-q",
        BasicPublishOptions::default(),
        b"over tls",
        Default::default(),
    ))
    .await
    .unwrap();
    let got = within(ch.basic_get("tls-q", BasicGetOptions { no_ack: true }))
        .await
        .unwrap()
        .expect("the message");
    assert_eq!(got.delivery.data, b"over tls");
    // A plain AMQP client on the TLS port gets nowhere.
    let plain = format!("amqp://guest:guest@127.0.0.1:{}/%2f", server.addr.port());
    assert!(
        within(Connection::connect(&plain, ConnectionProperties::default()))
            .await
            .is_err()
    );
}

fn fixture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// A server verifying tokens with `cfg` (which must load).
async fn server_with(cfg: &JwtConfig) -> RunningServer {
    let server = start().await;
    let v = JwtVerifier::from_config(cfg).expect("the [jwt] configuration loads");
    server.broker.set_jwt_verifier(Some(Arc::new(v)));
    server
}

fn unsigned_header(alg: Algorithm, kid: Option<&str>) -> Header {
    let mut h = Header::new(alg);
    h.kid = kid.map(str::to_string);
    h
}

fn rs_token(kid: Option<&str>, claims: &serde_json::Value) -> String {
    let key = EncodingKey::from_rsa_pem(RS_PRIVATE.as_bytes()).unwrap();
    jsonwebtoken::encode(&unsigned_header(Algorithm::RS256, kid), claims, &key).unwrap()
}

fn es_token(kid: Option<&str>, claims: &serde_json::Value) -> String {
    let key = EncodingKey::from_ec_pem(ES_PRIVATE.as_bytes()).unwrap();
    jsonwebtoken::encode(&unsigned_header(Algorithm::ES256, kid), claims, &key).unwrap()
}

/// Logs in with `token` and declares `app-q` (allowed by [`claims`]' scopes).
async fn token_works(server: &RunningServer, token: &str) -> bool {
    let Ok(conn) = connect_token(server, "", token, "%2f").await else {
        return false;
    };
    let ch = within(conn.create_channel()).await.unwrap();
    within(ch.queue_declare(
        "app-q",
        QueueDeclareOptions::default(),
        FieldTable::default(),
    ))
    .await
    .is_ok()
}

fn jwks_config() -> JwtConfig {
    JwtConfig {
        resource_server_id: "warren".into(),
        jwks_file: Some(fixture("jwks-keycloak.json")),
        ..Default::default()
    }
}

/// An identity provider's JWKS (Keycloak's shape: an `RSA-OAEP` encryption key beside the
/// `RS256` signing key, here also an Ed25519 key, a key type from the future and an EC key
/// without `kid`) loads: the keys Warren cannot verify with are skipped, the others are
/// chosen by `kid`, and a key without `kid` serves tokens without one.
#[tokio::test]
async fn identity_provider_jwks_with_an_encryption_key_loads() {
    let server = server_with(&jwks_config()).await;
    let c = claims(60);
    assert!(
        token_works(&server, &rs_token(Some("sig1"), &c)).await,
        "RS256 token with kid sig1"
    );
    assert!(
        token_works(&server, &es_token(None, &c)).await,
        "ES256 token without kid: the EC key without kid"
    );
    // The encryption key holds the same RSA public key here: had it been loaded as a
    // signature key, this token would verify.
    assert_eq!(
        code(connect_token(&server, "", &rs_token(Some("enc1"), &c), "%2f").await),
        403,
        "the encryption key never verifies a token"
    );
    for (what, token) in [
        (
            "ES256 token naming the RS256 key",
            es_token(Some("sig1"), &c),
        ),
        (
            "RS256 token without kid (that key is EC)",
            rs_token(None, &c),
        ),
        (
            "RS256 token with an unknown kid",
            rs_token(Some("nope"), &c),
        ),
        ("a skipped key's kid", rs_token(Some("ed1"), &c)),
    ] {
        assert_eq!(
            code(connect_token(&server, "", &token, "%2f").await),
            403,
            "{what}"
        );
    }
}

#[tokio::test]
async fn allowed_algorithms_restrict_which_keys_serve() {
    let mut cfg = jwks_config();
    cfg.algorithms = vec!["RS256".into()];
    let server = server_with(&cfg).await;
    let c = claims(60);
    assert!(token_works(&server, &rs_token(Some("sig1"), &c)).await);
    assert_eq!(
        code(connect_token(&server, "", &es_token(None, &c), "%2f").await),
        403,
        "ES256 is not among the allowed algorithms, although a key for it is loaded"
    );
    // An unknown algorithm in the list is a configuration error.
    cfg.algorithms = vec!["none".into()];
    assert!(JwtVerifier::from_config(&cfg).is_err());
}

#[tokio::test]
async fn public_key_file_and_the_extra_scope_claim() {
    let cfg = JwtConfig {
        resource_server_id: "warren".into(),
        extra_scopes_source: Some("realm_access.roles".into()),
        keys: vec![JwtKeyConfig {
            kid: Some("file".into()),
            algorithm: "RS256".into(),
            public_key_file: Some(fixture("jwt-rs256-public.pem")),
            ..Default::default()
        }],
        ..Default::default()
    };
    let server = server_with(&cfg).await;
    // Scopes only in the extra claim (as Keycloak puts realm roles).
    let mut c = claims(60);
    c["scope"] = json!("openid profile");
    c["realm_access"] = json!({"roles": ["warren.configure:%2F/app-*", "offline_access"]});
    let token = rs_token(Some("file"), &c);
    assert!(
        token_works(&server, &token).await,
        "configure:%2F/app-* from realm_access.roles"
    );
    let conn = connect_token(&server, "", &token, "%2f").await.unwrap();
    let ch = within(conn.create_channel()).await.unwrap();
    match within(ch.queue_declare(
        "other",
        QueueDeclareOptions::default(),
        FieldTable::default(),
    ))
    .await
    {
        Err(lapin::Error::ProtocolError(e)) => assert_eq!(e.get_id(), 403),
        other => panic!("expected 403, got {other:?}"),
    }
    // Without the claim there is no scope at all: no vhost access (530).
    c.as_object_mut().unwrap().remove("realm_access");
    assert_eq!(
        code(connect_token(&server, "", &rs_token(Some("file"), &c), "%2f").await),
        530
    );
    // A missing key file is a start-up error naming it.
    let mut bad = cfg.clone();
    bad.keys[0].public_key_file = Some(fixture("no-such-key.pem"));
    let e = JwtVerifier::from_config(&bad).unwrap_err().to_string();
    assert!(e.contains("no-such-key.pem"), "{e}");
}

/// RabbitMQ applies `loopback_users` to every auth backend: a token whose subject is guest
/// gets no further than guest's password from a non-loopback address.
#[tokio::test]
async fn token_for_guest_is_refused_from_a_non_loopback_address() {
    let Some(ip) = std::net::UdpSocket::bind("0.0.0.0:0")
        .and_then(|s| s.connect("10.255.255.255:9").map(|_| s))
        .and_then(|s| s.local_addr())
        .ok()
        .map(|a| a.ip())
        .filter(|ip| !ip.is_loopback() && !ip.is_unspecified())
    else {
        eprintln!("no non-loopback address: skipped");
        return;
    };
    let broker = Arc::new(warren_core::Broker::new(Default::default()));
    broker.set_jwt_verifier(Some(Arc::new(JwtVerifier::from_config(&config()).unwrap())));
    let Ok(server) = RunningServer::start(&format!("{ip}:0"), broker).await else {
        eprintln!("cannot listen on {ip}: skipped");
        return;
    };
    let mut guest = claims(60);
    guest["sub"] = json!("guest");
    assert_eq!(
        code(connect_token(&server, "", &hs(&guest), "%2f").await),
        403,
        "a token for guest from {ip}"
    );
    assert_eq!(
        code(connect_token(&server, "guest", &hs(&guest), "%2f").await),
        403
    );
    // Another subject is welcome from there, and cannot turn into guest by update-secret.
    let conn = connect_token(&server, "", &hs(&claims(60)), "%2f")
        .await
        .expect("app's token from a non-loopback address");
    let errors = closed_with(&conn).await;
    let _ = within(conn.update_secret(&hs(&guest), "swap")).await;
    match within(errors).await.unwrap() {
        lapin::Error::ProtocolError(e) => assert_eq!(e.get_id(), 530),
        other => panic!("expected 530, got {other:?}"),
    }
}

/// The publish path caches "write allowed" per channel; a token replaced by
/// connection.update-secret with narrower scopes must not leave that answer behind.
#[tokio::test]
async fn update_secret_with_narrower_scopes_applies_to_open_channels() {
    let server = server().await;
    let conn = connect_token(&server, "", &hs(&claims(60)), "%2f")
        .await
        .unwrap();
    let ch = within(conn.create_channel()).await.unwrap();
    within(ch.exchange_declare(
        "app-x",
        lapin::ExchangeKind::Fanout,
        ExchangeDeclareOptions::default(),
        FieldTable::default(),
    ))
    .await
    .unwrap();
    within(ch.queue_declare(
        "app-q",
        QueueDeclareOptions::default(),
        FieldTable::default(),
    ))
    .await
    .unwrap();
    within(ch.queue_bind(
        "app-q",
        "app-x",
        "",
        QueueBindOptions::default(),
        FieldTable::default(),
    ))
    .await
    .unwrap();
    let publish = |ch: lapin::Channel| async move {
        within(ch.basic_publish(
            "app-x",
            "",
            BasicPublishOptions::default(),
            b"m",
            Default::default(),
        ))
        .await
        .unwrap();
    };
    publish(ch.clone()).await;
    // A round trip: the publish was taken (and its write permission cached).
    let q = within(ch.queue_declare(
        "app-q",
        QueueDeclareOptions {
            passive: true,
            ..Default::default()
        },
        FieldTable::default(),
    ))
    .await
    .unwrap();
    assert_eq!(q.message_count(), 1);

    let mut narrower = claims(60);
    narrower["scope"] = json!("warren.configure:%2F/app-* warren.read:%2F/app-*");
    within(conn.update_secret(&hs(&narrower), "narrower"))
        .await
        .expect("update-secret-ok");
    let (tx, rx) = tokio::sync::oneshot::channel();
    let tx = std::sync::Mutex::new(Some(tx));
    ch.on_error(move |e| {
        if let Some(tx) = tx.lock().unwrap().take() {
            let _ = tx.send(e);
        }
    });
    publish(ch.clone()).await;
    match within(rx).await.unwrap() {
        lapin::Error::ProtocolError(e) => {
            assert_eq!(e.get_id(), 403);
            assert_eq!(
                e.get_message().as_str(),
                "ACCESS_REFUSED - write access to exchange 'app-x' in vhost '/' refused for user 'app'"
            );
        }
        other => panic!("expected 403, got {other:?}"),
    }
    let ch = within(conn.create_channel()).await.unwrap();
    let q = within(ch.queue_declare(
        "app-q",
        QueueDeclareOptions {
            passive: true,
            ..Default::default()
        },
        FieldTable::default(),
    ))
    .await
    .unwrap();
    assert_eq!(q.message_count(), 1, "the second publish was refused");
}

/// A password login is the internal backend's, whose credentials do not expire: as in
/// RabbitMQ, update-secret with a token, even a valid one for the same user, changes nothing
/// (neither the permissions, which stay the user database's, nor an expiry).
#[tokio::test]
async fn update_secret_with_a_token_after_a_password_login_keeps_the_users_permissions() {
    let server = server().await;
    let db = server.broker.auth();
    db.add_user("app", "pw", &[]).unwrap();
    db.set_permissions("app", "/", "^app-db-", "^app-db-", "^app-db-")
        .unwrap();
    let url = format!("amqp://app:pw@{}/%2f", server.addr);
    let conn = within(Connection::connect(&url, ConnectionProperties::default()))
        .await
        .expect("password login");
    // The token would allow app-* and expire in 2 s.
    within(conn.update_secret(&hs(&claims(2)), "token"))
        .await
        .expect("update-secret-ok");
    let declare = |name: &'static str| {
        let conn = &conn;
        async move {
            let ch = within(conn.create_channel()).await.unwrap();
            within(ch.queue_declare(name, QueueDeclareOptions::default(), FieldTable::default()))
                .await
                .map(drop)
                .map_err(|e| match e {
                    lapin::Error::ProtocolError(e) => e.get_id(),
                    other => panic!("expected a channel error, got {other:?}"),
                })
        }
    };
    assert_eq!(declare("app-db-q").await, Ok(()));
    assert_eq!(declare("app-token-q").await, Err(403));
    // Past the token's exp the connection is still open.
    tokio::time::sleep(Duration::from_millis(3500)).await;
    assert_eq!(declare("app-db-q2").await, Ok(()));
}

/// A token login refreshed with a token that does not verify (here: expired) is closed with
/// 530 and RabbitMQ's text.
#[tokio::test]
async fn update_secret_with_an_invalid_token_is_refused_with_rabbitmqs_text() {
    let server = server().await;
    let conn = connect_token(&server, "", &hs(&claims(60)), "%2f")
        .await
        .unwrap();
    let errors = closed_with(&conn).await;
    let _ = within(conn.update_secret(&hs(&claims(-120)), "stale")).await;
    match within(errors).await.unwrap() {
        lapin::Error::ProtocolError(e) => assert_eq!(
            (e.get_id(), e.get_message().as_str()),
            (
                530,
                "NOT_ALLOWED - New secret was refused by one of the backends"
            )
        ),
        other => panic!("expected 530, got {other:?}"),
    }
}
