//! Users, vhosts, permissions and topic permissions, checked over real TCP with lapin: each
//! operation allowed where the user's regexes say so and refused (403 with RabbitMQ's text)
//! where they do not; vhost access at connection.open (530).

mod common;

use common::{next_channel_error, start, within};
use futures_lite::StreamExt;
use lapin::options::*;
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, ExchangeKind};
use warren_server::RunningServer;

const USER: &str = "u";
const PASS: &str = "p";

/// A server where user `u` may configure, write and read only names starting with `u-` in
/// `/`, and guest (administrator) created `other-x` (direct) and `other-q`.
async fn server_with_user() -> RunningServer {
    let server = start().await;
    let db = server.broker.auth();
    db.add_user(USER, PASS, &[]).unwrap();
    db.set_permissions(USER, "/", "^u-", "^u-", "^u-").unwrap();
    let guest = connect(&server, "guest", "guest", "%2f").await.unwrap();
    let ch = within(guest.create_channel()).await.unwrap();
    within(ch.exchange_declare(
        "other-x",
        ExchangeKind::Direct,
        ExchangeDeclareOptions::default(),
        FieldTable::default(),
    ))
    .await
    .unwrap();
    within(ch.queue_declare(
        "other-q",
        QueueDeclareOptions::default(),
        FieldTable::default(),
    ))
    .await
    .unwrap();
    within(ch.queue_bind(
        "other-q",
        "other-x",
        "k",
        QueueBindOptions::default(),
        FieldTable::default(),
    ))
    .await
    .unwrap();
    let _ = guest.close(200, "bye").await;
    server
}

async fn connect(
    server: &RunningServer,
    user: &str,
    pass: &str,
    vhost: &str,
) -> Result<Connection, lapin::Error> {
    let url = format!("amqp://{user}:{pass}@{}/{vhost}", server.addr);
    within(Connection::connect(&url, ConnectionProperties::default())).await
}

async fn user_channel(server: &RunningServer) -> (Connection, Channel) {
    let conn = connect(server, USER, PASS, "%2f").await.expect("u logs in");
    let ch = within(conn.create_channel()).await.unwrap();
    (conn, ch)
}

/// A 403 with exactly RabbitMQ's text.
fn assert_refused(r: Result<impl std::fmt::Debug, lapin::Error>, text: &str) {
    match r {
        Err(lapin::Error::ProtocolError(e)) => {
            assert_eq!(e.get_id(), 403, "{e:?}");
            assert_eq!(e.get_message().as_str(), format!("ACCESS_REFUSED - {text}"));
        }
        other => panic!("expected 403 '{text}', got {other:?}"),
    }
}

fn refused_text(access: &str, kind: &str, name: &str) -> String {
    format!("{access} access to {kind} '{name}' in vhost '/' refused for user 'u'")
}

async fn declare_exchange(
    ch: &Channel,
    name: &str,
    kind: ExchangeKind,
    args: FieldTable,
) -> Result<(), lapin::Error> {
    within(ch.exchange_declare(name, kind, ExchangeDeclareOptions::default(), args)).await
}

async fn declare_queue(ch: &Channel, name: &str, args: FieldTable) -> Result<String, lapin::Error> {
    within(ch.queue_declare(name, QueueDeclareOptions::default(), args))
        .await
        .map(|q| q.name().to_string())
}

async fn bind(ch: &Channel, q: &str, x: &str, key: &str) -> Result<(), lapin::Error> {
    within(ch.queue_bind(
        q,
        x,
        key,
        QueueBindOptions::default(),
        FieldTable::default(),
    ))
    .await
}

/// Publishes and returns the channel error it caused, if any (waits a little for one).
async fn publish_error(
    ch: &Channel,
    exchange: &str,
    key: &str,
    props: BasicProperties,
) -> Option<lapin::Error> {
    let err = next_channel_error(ch);
    within(ch.basic_publish(exchange, key, BasicPublishOptions::default(), b"m", props))
        .await
        .ok()?;
    // A sync method after the publish: its reply proves the publish was taken.
    match tokio::time::timeout(std::time::Duration::from_millis(500), err).await {
        Ok(Ok(e)) => Some(e),
        _ => None,
    }
}

#[tokio::test]
async fn exchange_declare_and_delete_need_configure() {
    let server = server_with_user().await;
    let (_c, ch) = user_channel(&server).await;
    declare_exchange(&ch, "u-x", ExchangeKind::Direct, FieldTable::default())
        .await
        .expect("configure on u-x");
    within(ch.exchange_delete("u-x", ExchangeDeleteOptions::default()))
        .await
        .expect("delete u-x");
    assert_refused(
        declare_exchange(&ch, "mine", ExchangeKind::Direct, FieldTable::default()).await,
        &refused_text("configure", "exchange", "mine"),
    );
    let (_c, ch) = user_channel(&server).await;
    assert_refused(
        within(ch.exchange_delete("other-x", ExchangeDeleteOptions::default())).await,
        &refused_text("configure", "exchange", "other-x"),
    );
    // A passive declare checks nothing (as in RabbitMQ).
    let (_c, ch) = user_channel(&server).await;
    within(ch.exchange_declare(
        "other-x",
        ExchangeKind::Direct,
        ExchangeDeclareOptions {
            passive: true,
            ..Default::default()
        },
        FieldTable::default(),
    ))
    .await
    .expect("passive declare is allowed");
    // The exchange survived the refused delete.
    assert!(server
        .broker
        .vhost("/")
        .unwrap()
        .exchange("other-x")
        .is_ok());
}

#[tokio::test]
async fn alternate_exchange_needs_write_on_it() {
    let server = server_with_user().await;
    let (_c, ch) = user_channel(&server).await;
    let mut args = FieldTable::default();
    args.insert(
        "alternate-exchange".into(),
        AMQPValue::LongString("other-x".into()),
    );
    assert_refused(
        declare_exchange(&ch, "u-ae", ExchangeKind::Direct, args).await,
        &refused_text("write", "exchange", "other-x"),
    );
}

#[tokio::test]
async fn queue_declare_delete_purge() {
    let server = server_with_user().await;
    let (_c, ch) = user_channel(&server).await;
    declare_queue(&ch, "u-q", FieldTable::default())
        .await
        .unwrap();
    within(ch.queue_purge("u-q", QueuePurgeOptions::default()))
        .await
        .expect("read on u-q");
    within(ch.queue_delete("u-q", QueueDeleteOptions::default()))
        .await
        .expect("configure on u-q");
    assert_refused(
        declare_queue(&ch, "q", FieldTable::default()).await,
        &refused_text("configure", "queue", "q"),
    );
    // A server-named queue is checked under its amq.gen- name: u may not configure those.
    let (_c, ch) = user_channel(&server).await;
    match declare_queue(&ch, "", FieldTable::default()).await {
        Err(lapin::Error::ProtocolError(e)) => {
            assert_eq!(e.get_id(), 403);
            assert!(
                e.get_message()
                    .as_str()
                    .starts_with("ACCESS_REFUSED - configure access to queue 'amq.gen-"),
                "{e:?}"
            );
        }
        other => panic!("expected 403, got {other:?}"),
    }
    let (_c, ch) = user_channel(&server).await;
    assert_refused(
        within(ch.queue_purge("other-q", QueuePurgeOptions::default())).await,
        &refused_text("read", "queue", "other-q"),
    );
    let (_c, ch) = user_channel(&server).await;
    assert_refused(
        within(ch.queue_delete("other-q", QueueDeleteOptions::default())).await,
        &refused_text("configure", "queue", "other-q"),
    );
    assert!(server
        .broker
        .vhost("/")
        .unwrap()
        .queue("other-q", 0)
        .is_ok());
}

#[tokio::test]
async fn dead_letter_exchange_needs_write_on_it() {
    let server = server_with_user().await;
    let (_c, ch) = user_channel(&server).await;
    let mut args = FieldTable::default();
    args.insert(
        "x-dead-letter-exchange".into(),
        AMQPValue::LongString("other-x".into()),
    );
    assert_refused(
        declare_queue(&ch, "u-dlq", args).await,
        &refused_text("write", "exchange", "other-x"),
    );
}

#[tokio::test]
async fn queue_bind_and_unbind_need_write_on_queue_and_read_on_exchange() {
    let server = server_with_user().await;
    let (_c, ch) = user_channel(&server).await;
    declare_exchange(&ch, "u-x", ExchangeKind::Direct, FieldTable::default())
        .await
        .unwrap();
    declare_queue(&ch, "u-q", FieldTable::default())
        .await
        .unwrap();
    bind(&ch, "u-q", "u-x", "k").await.expect("bind allowed");
    within(ch.queue_unbind("u-q", "u-x", "k", FieldTable::default()))
        .await
        .expect("unbind allowed");
    assert_refused(
        bind(&ch, "u-q", "other-x", "k").await,
        &refused_text("read", "exchange", "other-x"),
    );
    let (_c, ch) = user_channel(&server).await;
    assert_refused(
        bind(&ch, "other-q", "u-x", "k").await,
        &refused_text("write", "queue", "other-q"),
    );
    let (_c, ch) = user_channel(&server).await;
    assert_refused(
        within(ch.queue_unbind("other-q", "other-x", "k", FieldTable::default())).await,
        &refused_text("write", "queue", "other-q"),
    );
    // The refused unbind left guest's binding in place.
    let x = server
        .broker
        .vhost("/")
        .unwrap()
        .exchange("other-x")
        .unwrap();
    assert_eq!(x.bindings().len(), 1);
}

#[tokio::test]
async fn exchange_bind_and_unbind_need_write_on_destination_and_read_on_source() {
    let server = server_with_user().await;
    let (_c, ch) = user_channel(&server).await;
    for x in ["u-a", "u-b"] {
        declare_exchange(&ch, x, ExchangeKind::Direct, FieldTable::default())
            .await
            .unwrap();
    }
    let ebind = |dest: &'static str, src: &'static str| {
        let ch = ch.clone();
        async move {
            within(ch.exchange_bind(
                dest,
                src,
                "k",
                ExchangeBindOptions::default(),
                FieldTable::default(),
            ))
            .await
        }
    };
    ebind("u-b", "u-a").await.expect("allowed");
    within(ch.exchange_unbind(
        "u-b",
        "u-a",
        "k",
        ExchangeUnbindOptions::default(),
        FieldTable::default(),
    ))
    .await
    .expect("allowed");
    assert_refused(
        ebind("other-x", "u-a").await,
        &refused_text("write", "exchange", "other-x"),
    );
    let (_c, ch) = user_channel(&server).await;
    assert_refused(
        within(ch.exchange_bind(
            "u-b",
            "other-x",
            "k",
            ExchangeBindOptions::default(),
            FieldTable::default(),
        ))
        .await,
        &refused_text("read", "exchange", "other-x"),
    );
    let (_c, ch) = user_channel(&server).await;
    assert_refused(
        within(ch.exchange_unbind(
            "other-x",
            "u-a",
            "k",
            ExchangeUnbindOptions::default(),
            FieldTable::default(),
        ))
        .await,
        &refused_text("write", "exchange", "other-x"),
    );
}

#[tokio::test]
async fn publish_needs_write_on_the_exchange() {
    let server = server_with_user().await;
    let (_c, ch) = user_channel(&server).await;
    declare_exchange(&ch, "u-x", ExchangeKind::Direct, FieldTable::default())
        .await
        .unwrap();
    declare_queue(&ch, "u-q", FieldTable::default())
        .await
        .unwrap();
    bind(&ch, "u-q", "u-x", "k").await.unwrap();
    assert!(publish_error(&ch, "u-x", "k", BasicProperties::default())
        .await
        .is_none());
    let got = within(ch.basic_get("u-q", BasicGetOptions { no_ack: true }))
        .await
        .unwrap();
    assert_eq!(got.expect("published").delivery.data, b"m");
    let e = publish_error(&ch, "other-x", "k", BasicProperties::default()).await;
    assert_refused(
        e.map_or(Ok(()), Err),
        &refused_text("write", "exchange", "other-x"),
    );
    // The default exchange is checked as amq.default.
    let (_c, ch) = user_channel(&server).await;
    let e = publish_error(&ch, "", "u-q", BasicProperties::default()).await;
    assert_refused(
        e.map_or(Ok(()), Err),
        &refused_text("write", "exchange", "amq.default"),
    );
    // Nothing reached guest's queue.
    let q = server
        .broker
        .vhost("/")
        .unwrap()
        .queue("other-q", 0)
        .unwrap();
    assert_eq!(q.counts().0, 0);
}

#[tokio::test]
async fn publish_with_someone_elses_user_id_is_refused() {
    let server = server_with_user().await;
    let (_c, ch) = user_channel(&server).await;
    declare_exchange(&ch, "u-x", ExchangeKind::Direct, FieldTable::default())
        .await
        .unwrap();
    let own = BasicProperties::default().with_user_id(ShortString::from("u"));
    assert!(publish_error(&ch, "u-x", "k", own).await.is_none());
    let other = BasicProperties::default().with_user_id(ShortString::from("guest"));
    match publish_error(&ch, "u-x", "k", other).await {
        Some(lapin::Error::ProtocolError(e)) => {
            assert_eq!(e.get_id(), 406);
            assert_eq!(
                e.get_message().as_str(),
                "PRECONDITION_FAILED - user_id property set to 'guest' but authenticated user was 'u'"
            );
        }
        other => panic!("expected 406, got {other:?}"),
    }
}

#[tokio::test]
async fn consume_and_get_need_read_on_the_queue() {
    let server = server_with_user().await;
    let (_c, ch) = user_channel(&server).await;
    declare_queue(&ch, "u-q", FieldTable::default())
        .await
        .unwrap();
    within(ch.basic_consume(
        "u-q",
        "c1",
        BasicConsumeOptions::default(),
        FieldTable::default(),
    ))
    .await
    .expect("consume allowed");
    within(ch.basic_get("u-q", BasicGetOptions::default()))
        .await
        .expect("get allowed");
    assert_refused(
        within(ch.basic_consume(
            "other-q",
            "c2",
            BasicConsumeOptions::default(),
            FieldTable::default(),
        ))
        .await,
        &refused_text("read", "queue", "other-q"),
    );
    let (_c, ch) = user_channel(&server).await;
    assert_refused(
        within(ch.basic_get("other-q", BasicGetOptions::default())).await,
        &refused_text("read", "queue", "other-q"),
    );
}

#[tokio::test]
async fn topic_permissions_check_routing_keys_on_topic_exchanges() {
    let server = server_with_user().await;
    server
        .broker
        .auth()
        .set_topic_permissions(USER, "/", "u-t", "^allowed\\.", "^allowed\\.")
        .unwrap();
    let (_c, ch) = user_channel(&server).await;
    declare_exchange(&ch, "u-t", ExchangeKind::Topic, FieldTable::default())
        .await
        .unwrap();
    declare_queue(&ch, "u-q", FieldTable::default())
        .await
        .unwrap();
    bind(&ch, "u-q", "u-t", "allowed.#")
        .await
        .expect("read on allowed.#");
    assert!(
        publish_error(&ch, "u-t", "allowed.x", BasicProperties::default())
            .await
            .is_none()
    );
    let mut consumer = within(ch.basic_consume(
        "u-q",
        "c",
        BasicConsumeOptions {
            no_ack: true,
            ..Default::default()
        },
        FieldTable::default(),
    ))
    .await
    .unwrap();
    let d = within(consumer.next()).await.unwrap().unwrap();
    assert_eq!(d.routing_key.as_str(), "allowed.x");
    let e = publish_error(&ch, "u-t", "denied.x", BasicProperties::default()).await;
    assert_refused(
        e.map_or(Ok(()), Err),
        "write access to topic 'denied.x' in exchange 'u-t' in vhost '/' refused for user 'u'",
    );
    let (_c, ch) = user_channel(&server).await;
    assert_refused(
        bind(&ch, "u-q", "u-t", "denied.#").await,
        "read access to topic 'denied.#' in exchange 'u-t' in vhost '/' refused for user 'u'",
    );
}

#[tokio::test]
async fn vhost_rules() {
    let server = server_with_user().await;
    // No permissions in a vhost: 530 at connection.open.
    server.broker.add_vhost("v2");
    match connect(&server, USER, PASS, "v2").await {
        Err(lapin::Error::ProtocolError(e)) => {
            assert_eq!(e.get_id(), 530);
            assert_eq!(
                e.get_message().as_str(),
                "NOT_ALLOWED - access to vhost 'v2' refused for user 'u'"
            );
        }
        other => panic!("expected 530, got {other:?}"),
    }
    // Unknown vhost: 530 too.
    match connect(&server, USER, PASS, "nowhere").await {
        Err(lapin::Error::ProtocolError(e)) => {
            assert_eq!(e.get_id(), 530);
            assert_eq!(
                e.get_message().as_str(),
                "NOT_ALLOWED - vhost nowhere not found"
            );
        }
        other => panic!("expected 530, got {other:?}"),
    }
    // With permissions: in, and the vhost has its own queues.
    server
        .broker
        .auth()
        .set_permissions(USER, "v2", ".*", ".*", ".*")
        .unwrap();
    let conn = connect(&server, USER, PASS, "v2")
        .await
        .expect("allowed now");
    let ch = within(conn.create_channel()).await.unwrap();
    declare_queue(&ch, "other-q", FieldTable::default())
        .await
        .expect("v2 has its own other-q, and u may configure it there");
    let v2 = server.broker.vhost("v2").unwrap();
    assert!(v2.queue("other-q", 0).is_ok());
    // Deleting the vhost closes its connections (320) and removes everything in it.
    let (tx, rx) = tokio::sync::oneshot::channel();
    let tx = std::sync::Mutex::new(Some(tx));
    conn.on_error(move |e| {
        if let Some(tx) = tx.lock().unwrap().take() {
            let _ = tx.send(e);
        }
    });
    assert!(server.broker.delete_vhost("v2").unwrap());
    match within(rx).await.unwrap() {
        lapin::Error::ProtocolError(e) => {
            assert_eq!(e.get_id(), 320);
            assert_eq!(
                e.get_message().as_str(),
                "CONNECTION_FORCED - vhost 'v2' is deleted"
            );
        }
        other => panic!("expected 320, got {other:?}"),
    }
    assert!(server.broker.vhost("v2").is_none());
    assert!(v2.queues().is_empty());
    assert!(!server
        .broker
        .auth()
        .permissions()
        .iter()
        .any(|p| p.vhost == "v2"));
    assert!(connect(&server, USER, PASS, "v2").await.is_err());
    // "/" is untouched.
    assert!(server
        .broker
        .vhost("/")
        .unwrap()
        .queue("other-q", 0)
        .is_ok());
}

#[tokio::test]
async fn failed_login_gets_403_with_authentication_failure_close() {
    let server = server_with_user().await;
    for (user, pass) in [(USER, "wrong"), ("nobody", PASS)] {
        match connect(&server, user, pass, "%2f").await {
            Err(lapin::Error::ProtocolError(e)) => {
                assert_eq!(e.get_id(), 403);
                assert_eq!(
                    e.get_message().as_str(),
                    "ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN. For details see the broker logfile."
                );
            }
            other => panic!("expected 403, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn guest_is_refused_from_a_non_loopback_address() {
    // Find this machine's non-loopback address, if it has one.
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
    let broker = std::sync::Arc::new(warren_core::Broker::new(Default::default()));
    let Ok(server) = RunningServer::start(&format!("{ip}:0"), broker).await else {
        eprintln!("cannot listen on {ip}: skipped");
        return;
    };
    let r = connect(&server, "guest", "guest", "%2f").await;
    match r {
        Err(lapin::Error::ProtocolError(e)) => assert_eq!(e.get_id(), 403),
        other => panic!("guest from {ip} must be refused, got {other:?}"),
    }
    // Another user may log in from there.
    server.broker.auth().add_user("remote", "pw", &[]).unwrap();
    server
        .broker
        .auth()
        .set_permissions("remote", "/", ".*", ".*", ".*")
        .unwrap();
    assert!(connect(&server, "remote", "pw", "%2f").await.is_ok());
}

#[tokio::test]
async fn password_hashes_from_a_rabbitmq_export_log_in() {
    let text = include_str!("fixtures/rabbitmq-3.10-definitions.json");
    let defs = warren_core::Definitions::from_json(text).unwrap();
    let server = start().await;
    server.broker.import_definitions(&defs).unwrap();
    // alice's password was hashed by RabbitMQ 3.10 (salted SHA-256).
    let conn = connect(&server, "alice", "wonder%20land", "%2f")
        .await
        .expect("alice logs in with the password RabbitMQ hashed");
    let ch = within(conn.create_channel()).await.unwrap();
    declare_queue(&ch, "alice-q", FieldTable::default())
        .await
        .expect("alice's permissions came along");
    assert_refused(
        declare_queue(&ch, "q", FieldTable::default()).await,
        "configure access to queue 'q' in vhost '/' refused for user 'alice'",
    );
    assert!(connect(&server, "alice", "wonder", "%2f").await.is_err());
    // guest's hash from RabbitMQ works too.
    assert!(connect(&server, "guest", "guest", "%2f").await.is_ok());
    // And the export gives the hash back unchanged, tags as a list.
    let out = server.broker.export_definitions();
    let alice = out.users.iter().find(|u| u.name == "alice").unwrap();
    let theirs = defs.users.iter().find(|u| u.name == "alice").unwrap();
    assert_eq!(alice.password_hash, theirs.password_hash);
    assert_eq!(alice.hashing_algorithm, "rabbit_password_hashing_sha256");
    assert_eq!(alice.tags, vec!["management".to_string()]);
    let json: serde_json::Value = serde_json::from_str(&out.to_json()).unwrap();
    assert_eq!(json["permissions"][0]["user"], "alice");
    assert_eq!(json["permissions"][0]["configure"], "^alice-");
}

/// RabbitMQ's other hashing algorithms, as an import from an older or reconfigured RabbitMQ
/// carries them: `rabbit_password_hashing_sha512` and the legacy `rabbit_password_hashing_md5`
/// (base64 of a 4-byte salt followed by H(salt ++ utf8(password)); the hashes below were made
/// with Python's hashlib, independently of Warren's code).
#[tokio::test]
async fn sha512_and_md5_hashes_from_definitions_log_in() {
    let text = serde_json::json!({
        "users": [
            {"name": "sha", "tags": [], "hashing_algorithm": "rabbit_password_hashing_sha512",
             "password_hash": "Wx4Mff2atngfttXMfFjbYxiYSxzfjVfdRk8IUfZIg6VlTUSARKZFrYmhcVp0iJaW/4DBW3zFK0qpHnQ5KagKqeM9lWE="},
            {"name": "old", "tags": "", "hashing_algorithm": "rabbit_password_hashing_md5",
             "password_hash": "wP/uQnGH5tUjftF9ihmyZNGvB7w="}
        ],
        "permissions": [
            {"user": "sha", "vhost": "/", "configure": "^sha-", "write": "^sha-", "read": "^sha-"},
            {"user": "old", "vhost": "/", "configure": "^old-", "write": "^old-", "read": "^old-"}
        ]
    })
    .to_string();
    let defs = warren_core::Definitions::from_json(&text).unwrap();
    let server = start().await;
    server.broker.import_definitions(&defs).unwrap();
    // "pw 512 ünï", percent-encoded in the URL.
    let conn = connect(&server, "sha", "pw%20512%20%C3%BCn%C3%AF", "%2f")
        .await
        .expect("the sha512 hash verifies");
    let ch = within(conn.create_channel()).await.unwrap();
    declare_queue(&ch, "sha-q", FieldTable::default())
        .await
        .expect("sha's permissions came along");
    let conn = connect(&server, "old", "legacy-md5-pw", "%2f")
        .await
        .expect("the md5 hash verifies");
    let ch = within(conn.create_channel()).await.unwrap();
    declare_queue(&ch, "old-q", FieldTable::default())
        .await
        .expect("old's permissions came along");
    for (user, wrong) in [("sha", "pw%20512"), ("old", "legacy-md5-PW")] {
        match connect(&server, user, wrong, "%2f").await {
            Err(lapin::Error::ProtocolError(e)) => assert_eq!(e.get_id(), 403),
            other => panic!("{user} with a wrong password: expected 403, got {other:?}"),
        }
    }
    // The hashes are kept as they came (RabbitMQ can take them back).
    let out = server.broker.export_definitions();
    for (name, alg) in [
        ("sha", "rabbit_password_hashing_sha512"),
        ("old", "rabbit_password_hashing_md5"),
    ] {
        let ours = out.users.iter().find(|u| u.name == name).unwrap();
        let theirs = defs.users.iter().find(|u| u.name == name).unwrap();
        assert_eq!(ours.hashing_algorithm, alg);
        assert_eq!(ours.password_hash, theirs.password_hash);
    }
}

/// RabbitMQ's `binding_action` makes the same checks for unbind as for bind: write on the
/// destination, then read on the source (and topic read of the key for a topic source).
#[tokio::test]
async fn unbind_needs_read_on_the_source() {
    let server = server_with_user().await;
    // guest binds u's queue and exchange to other-x (u may not read other-x).
    let guest = connect(&server, "guest", "guest", "%2f").await.unwrap();
    let gch = within(guest.create_channel()).await.unwrap();
    declare_queue(&gch, "u-q", FieldTable::default())
        .await
        .unwrap();
    declare_exchange(&gch, "u-x", ExchangeKind::Direct, FieldTable::default())
        .await
        .unwrap();
    bind(&gch, "u-q", "other-x", "k").await.unwrap();
    within(gch.exchange_bind(
        "u-x",
        "other-x",
        "k",
        ExchangeBindOptions::default(),
        FieldTable::default(),
    ))
    .await
    .unwrap();

    let (_c, ch) = user_channel(&server).await;
    assert_refused(
        within(ch.queue_unbind("u-q", "other-x", "k", FieldTable::default())).await,
        &refused_text("read", "exchange", "other-x"),
    );
    let (_c, ch) = user_channel(&server).await;
    assert_refused(
        within(ch.exchange_unbind(
            "u-x",
            "other-x",
            "k",
            ExchangeUnbindOptions::default(),
            FieldTable::default(),
        ))
        .await,
        &refused_text("read", "exchange", "other-x"),
    );
    // Both bindings are still there (guest's other-q binding, u-q's and u-x's).
    let x = server
        .broker
        .vhost("/")
        .unwrap()
        .exchange("other-x")
        .unwrap();
    assert_eq!(x.bindings().len(), 3);
    // Topic read applies to unbind as well.
    server
        .broker
        .auth()
        .set_topic_permissions(USER, "/", "u-t", "^allowed\\.", "^allowed\\.")
        .unwrap();
    let (_c, ch) = user_channel(&server).await;
    declare_exchange(&ch, "u-t", ExchangeKind::Topic, FieldTable::default())
        .await
        .unwrap();
    within(gch.queue_bind(
        "u-q",
        "u-t",
        "denied.#",
        QueueBindOptions::default(),
        FieldTable::default(),
    ))
    .await
    .unwrap();
    assert_refused(
        within(ch.queue_unbind("u-q", "u-t", "denied.#", FieldTable::default())).await,
        "read access to topic 'denied.#' in exchange 'u-t' in vhost '/' refused for user 'u'",
    );
}
