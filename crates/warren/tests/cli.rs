//! The `warren` admin commands (user, permissions, vhost, token, policy, definitions), run as
//! the real binary on a temporary data directory: their output and exit codes, clear errors
//! for bad input, and then their effect on a broker started on that data directory, checked
//! over AMQP with lapin.

mod common;

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use common::BrokerProcess;
use lapin::options::*;
use lapin::publisher_confirm::Confirmation;
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, ExchangeKind};

async fn within<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(15), f)
        .await
        .expect("timed out")
}

/// Runs `warren ARGS --data-dir DIR`.
fn warren(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_warren"))
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .env("WARREN_LOG", "warn")
        .env("RUST_BACKTRACE", "0")
        .env("RUST_LIB_BACKTRACE", "0")
        .env("NO_COLOR", "1")
        .output()
        .expect("warren runs")
}

/// Runs a command that must succeed; returns its standard output.
fn ok(dir: &Path, args: &[&str]) -> String {
    let out = warren(dir, args);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "warren {args:?} failed ({}): {stderr}{stdout}",
        out.status
    );
    stdout
}

/// Runs a command that must fail with exit code 1 and an error on stderr that contains
/// `expected`; nothing on stdout.
fn fails(dir: &Path, args: &[&str], expected: &str) {
    let out = warren(dir, args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "warren {args:?} should fail; stderr: {stderr}"
    );
    assert!(
        stderr.contains("Error: ") && stderr.contains(expected),
        "warren {args:?}: expected an error with {expected:?}, got: {stderr}"
    );
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

fn lines(s: &str) -> Vec<&str> {
    s.lines().collect()
}

async fn connect(
    b: &BrokerProcess,
    user: &str,
    pass: &str,
    vhost: &str,
) -> Result<Connection, lapin::Error> {
    let url = format!("amqp://{user}:{pass}@{}/{vhost}", b.addr);
    within(Connection::connect(&url, ConnectionProperties::default())).await
}

/// The reply code and text of a refused connection or channel operation.
fn refusal<T: std::fmt::Debug>(r: Result<T, lapin::Error>) -> (u16, String) {
    match r {
        Err(lapin::Error::ProtocolError(e)) => (e.get_id(), e.get_message().to_string()),
        other => panic!("expected a protocol error, got {other:?}"),
    }
}

const LOGIN_REFUSED: &str = "ACCESS_REFUSED - Login was refused using authentication mechanism \
                             PLAIN. For details see the broker logfile.";

async fn declare_queue(ch: &Channel, name: &str) -> Result<(), lapin::Error> {
    within(ch.queue_declare(name, QueueDeclareOptions::default(), FieldTable::default()))
        .await
        .map(|_| ())
}

async fn passive_queue(conn: &Connection, name: &str) -> Result<u32, (u16, String)> {
    let ch = within(conn.create_channel()).await.unwrap();
    let passive = QueueDeclareOptions {
        passive: true,
        ..Default::default()
    };
    match within(ch.queue_declare(name, passive, FieldTable::default())).await {
        Ok(q) => Ok(q.message_count()),
        Err(e) => Err(refusal::<()>(Err(e))),
    }
}

#[tokio::test]
async fn users_passwords_tags_and_deletion() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // A fresh data directory has RabbitMQ's guest.
    assert_eq!(lines(&ok(d, &["user", "list"])), ["guest\t[administrator]"]);
    assert_eq!(
        ok(
            d,
            &[
                "user",
                "add",
                "alice",
                "old",
                "--tags",
                "management, monitoring"
            ]
        ),
        "added user 'alice'\n"
    );
    assert_eq!(
        lines(&ok(d, &["user", "list"])),
        ["alice\t[management, monitoring]", "guest\t[administrator]"]
    );
    fails(
        d,
        &["user", "add", "alice", "x"],
        "user 'alice' already exists",
    );
    fails(d, &["user", "add", "", "x"], "invalid user name ''");
    assert_eq!(
        ok(d, &["user", "passwd", "alice", "new"]),
        "changed the password of 'alice'\n"
    );
    assert_eq!(
        ok(d, &["user", "tags", "alice", "administrator"]),
        "set the tags of 'alice'\n"
    );
    assert_eq!(
        lines(&ok(d, &["user", "list"])),
        ["alice\t[administrator]", "guest\t[administrator]"]
    );
    for args in [
        &["user", "passwd", "bob", "x"][..],
        &["user", "tags", "bob", "management"],
        &["user", "delete", "bob"],
        &["permissions", "set", "bob", "/", ".*", ".*", ".*"],
        &["permissions", "clear", "bob", "/"],
    ] {
        fails(d, args, "no such user 'bob'");
    }
    ok(
        d,
        &[
            "permissions",
            "set",
            "alice",
            "/",
            "^alice-",
            "^alice-",
            "^alice-",
        ],
    );
    // A deleted user's permissions go with them.
    ok(d, &["user", "add", "bob", "bobpw"]);
    ok(d, &["permissions", "set", "bob", "/", ".*", ".*", ".*"]);
    assert_eq!(ok(d, &["user", "delete", "bob"]), "deleted user 'bob'\n");
    assert!(!ok(d, &["user", "list"]).contains("bob"));
    assert!(!ok(d, &["permissions", "list"]).contains("bob"));

    let b = BrokerProcess::start(d);
    assert_eq!(
        refusal(connect(&b, "alice", "old", "%2f").await),
        (403, LOGIN_REFUSED.to_string()),
        "the old password no longer works"
    );
    assert_eq!(
        refusal(connect(&b, "bob", "bobpw", "%2f").await),
        (403, LOGIN_REFUSED.to_string()),
        "a deleted user cannot log in"
    );
    let conn = connect(&b, "alice", "new", "%2f")
        .await
        .expect("alice logs in with the new password");
    let ch = within(conn.create_channel()).await.unwrap();
    declare_queue(&ch, "alice-q").await.unwrap();
    assert_eq!(
        refusal(declare_queue(&ch, "other-q").await),
        (
            403,
            "ACCESS_REFUSED - configure access to queue 'other-q' in vhost '/' refused for user \
             'alice'"
                .to_string()
        )
    );
}

#[tokio::test]
async fn deleting_every_user_leaves_none() {
    // Deleting guest when it is the last user must not bring guest/guest back on the next
    // load (an empty user list is a list, not "use the defaults").
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(d, &["user", "delete", "guest"]);
    assert_eq!(ok(d, &["user", "list"]), "");
    assert_eq!(
        lines(&ok(d, &["permissions", "list"])),
        ["user\tvhost\tconfigure\twrite\tread"]
    );
    let b = BrokerProcess::start(d);
    assert_eq!(
        refusal(connect(&b, "guest", "guest", "%2f").await),
        (403, LOGIN_REFUSED.to_string())
    );
}

#[tokio::test]
async fn permissions_set_list_clear_and_enforced() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(d, &["user", "add", "carol", "pw"]);
    ok(d, &["vhost", "add", "orders"]);
    fails(
        d,
        &["permissions", "set", "carol", "/", "(", ".*", ".*"],
        "invalid regular expression '('",
    );
    fails(
        d,
        &["permissions", "set", "carol", "nope", ".*", ".*", ".*"],
        "no vhost 'nope'",
    );
    fails(
        d,
        &["permissions", "clear", "carol", "nope"],
        "no vhost 'nope'",
    );
    assert_eq!(
        ok(
            d,
            &["permissions", "set", "carol", "/", "^c-", "^c-", "^c-"]
        ),
        "set permissions of 'carol' in vhost '/'\n"
    );
    // Write to nothing (""), read and configure anything, in orders.
    ok(
        d,
        &["permissions", "set", "carol", "orders", ".*", "", ".*"],
    );
    let mut listed = lines(&ok(d, &["permissions", "list"]))
        .into_iter()
        .map(str::to_string)
        .collect::<Vec<_>>();
    assert_eq!(listed.remove(0), "user\tvhost\tconfigure\twrite\tread");
    listed.sort();
    assert_eq!(
        listed,
        [
            "carol\t/\t^c-\t^c-\t^c-",
            "carol\torders\t.*\t\t.*",
            "guest\t/\t.*\t.*\t.*"
        ]
    );
    // A failed set changed nothing.
    assert!(!ok(d, &["permissions", "list"]).contains("carol\t/\t("));

    let b = BrokerProcess::start(d);
    let conn = connect(&b, "carol", "pw", "orders").await.unwrap();
    let ch = within(conn.create_channel()).await.unwrap();
    declare_queue(&ch, "anything").await.unwrap();
    let err = common_publish_error(&ch, "", "anything").await;
    assert_eq!(
        err,
        (
            403,
            "ACCESS_REFUSED - write access to exchange 'amq.default' in vhost 'orders' refused \
             for user 'carol'"
                .to_string()
        )
    );
    let conn = connect(&b, "carol", "pw", "%2f").await.unwrap();
    let ch = within(conn.create_channel()).await.unwrap();
    declare_queue(&ch, "c-q").await.unwrap();
    assert_eq!(
        refusal(declare_queue(&ch, "d-q").await).0,
        403,
        "configure is limited to ^c-"
    );
    drop(conn);
    assert!(b.stop().success());

    assert_eq!(
        ok(d, &["permissions", "clear", "carol", "/"]),
        "cleared permissions of 'carol' in vhost '/'\n"
    );
    assert!(!ok(d, &["permissions", "list"]).contains("carol\t/\t"));
    let b = BrokerProcess::start(d);
    assert_eq!(
        refusal(connect(&b, "carol", "pw", "%2f").await),
        (
            530,
            "NOT_ALLOWED - access to vhost '/' refused for user 'carol'".to_string()
        )
    );
    connect(&b, "carol", "pw", "orders")
        .await
        .expect("still allowed in orders");
}

/// Publishes to `exchange` and returns the channel error it caused.
async fn common_publish_error(ch: &Channel, exchange: &str, key: &str) -> (u16, String) {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let tx = std::sync::Mutex::new(Some(tx));
    ch.on_error(move |e| {
        if let Some(tx) = tx.lock().ok().and_then(|mut t| t.take()) {
            let _ = tx.send(e);
        }
    });
    let _ = within(ch.basic_publish(
        exchange,
        key,
        BasicPublishOptions::default(),
        b"m",
        BasicProperties::default(),
    ))
    .await;
    let e = within(rx).await.expect("a channel error");
    refusal::<()>(Err(e))
}

#[tokio::test]
async fn vhosts_add_list_delete() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    assert_eq!(ok(d, &["vhost", "add", "orders"]), "added vhost 'orders'\n");
    ok(d, &["vhost", "add", "tmp"]);
    fails(d, &["vhost", "add", ""], "invalid vhost name ''");
    fails(d, &["vhost", "delete", "nope"], "no vhost 'nope'");
    assert_eq!(lines(&ok(d, &["vhost", "list"])), ["/", "orders", "tmp"]);
    ok(
        d,
        &["permissions", "set", "guest", "orders", ".*", ".*", ".*"],
    );
    ok(d, &["permissions", "set", "guest", "tmp", ".*", ".*", ".*"]);

    // A durable queue in tmp, declared by the broker, with a persistent message (confirmed,
    // so on disk), goes with the vhost.
    let b = BrokerProcess::start(d);
    let conn = connect(&b, "guest", "guest", "tmp").await.unwrap();
    let ch = within(conn.create_channel()).await.unwrap();
    let durable = QueueDeclareOptions {
        durable: true,
        ..Default::default()
    };
    within(ch.queue_declare("tmp-q", durable, FieldTable::default()))
        .await
        .unwrap();
    within(ch.confirm_select(ConfirmSelectOptions::default()))
        .await
        .unwrap();
    let confirm = within(ch.basic_publish(
        "",
        "tmp-q",
        BasicPublishOptions::default(),
        b"persistent",
        BasicProperties::default().with_delivery_mode(2),
    ))
    .await
    .unwrap();
    assert!(within(confirm).await.unwrap().is_ack());
    assert_eq!(passive_queue(&conn, "tmp-q").await, Ok(1));
    drop(conn);
    assert!(b.stop().success());
    assert_eq!(
        ok(d, &["vhost", "delete", "tmp"]),
        "deleted vhost 'tmp' and everything in it\n"
    );
    assert_eq!(lines(&ok(d, &["vhost", "list"])), ["/", "orders"]);
    assert!(
        !ok(d, &["permissions", "list"]).contains("\ttmp\t"),
        "permissions in a deleted vhost go with it"
    );
    // Its stored message does not bring the vhost or the queue back at the next start...
    let b = BrokerProcess::start(d);
    assert!(
        b.startup_log
            .iter()
            .any(|l| l.contains("dropping 1 stored messages of queue 'tmp-q' in vhost 'tmp'")),
        "{:#?}",
        b.startup_log
    );
    assert_eq!(
        refusal(connect(&b, "guest", "guest", "tmp").await),
        (530, "NOT_ALLOWED - vhost tmp not found".to_string())
    );
    let conn = connect(&b, "guest", "guest", "orders").await.unwrap();
    assert_eq!(passive_queue(&conn, "tmp-q").await.unwrap_err().0, 404);
    drop(conn);
    assert!(b.stop().success());
    assert_eq!(lines(&ok(d, &["vhost", "list"])), ["/", "orders"]);
    // ...and is gone from the store: a vhost and queue of the same names start empty.
    let defs = d.join("tmp-defs.json");
    std::fs::write(
        &defs,
        serde_json::json!({
            "vhosts": [{"name": "tmp"}],
            "permissions": [{"user": "guest", "vhost": "tmp",
                             "configure": ".*", "write": ".*", "read": ".*"}],
            "queues": [{"name": "tmp-q", "vhost": "tmp", "durable": true,
                        "auto_delete": false, "arguments": {}}],
        })
        .to_string(),
    )
    .unwrap();
    ok(d, &["definitions", "import", defs.to_str().unwrap()]);
    let b = BrokerProcess::start(d);
    let conn = connect(&b, "guest", "guest", "tmp").await.unwrap();
    assert_eq!(passive_queue(&conn, "tmp-q").await, Ok(0));
    drop(conn);
    assert!(b.stop().success());
    ok(d, &["vhost", "delete", "tmp"]);

    // The default vhost can be deleted too, and stays deleted.
    ok(d, &["vhost", "delete", "/"]);
    assert_eq!(lines(&ok(d, &["vhost", "list"])), ["orders"]);
    let b = BrokerProcess::start(d);
    assert_eq!(
        refusal(connect(&b, "guest", "guest", "%2f").await),
        (530, "NOT_ALLOWED - vhost / not found".to_string())
    );
    connect(&b, "guest", "guest", "orders").await.unwrap();
}

const JWT_CONFIG: &str = r#"
[jwt]
resource_server_id = "warren"

[[jwt.keys]]
kid = "k1"
algorithm = "HS256"
secret = "a-test-secret-for-hs256-long-enough-for-the-key"

[jwt.issuer]
lifetime = 600
"#;

#[tokio::test]
async fn issued_tokens_are_amqp_passwords() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("data");
    let d = d.as_path();
    let config = dir.path().join("warren.toml");
    std::fs::write(&config, JWT_CONFIG).unwrap();
    let config = config.to_str().unwrap();
    ok(d, &["user", "add", "dave", "pw", "--tags", "monitoring"]);
    ok(
        d,
        &[
            "permissions",
            "set",
            "dave",
            "/",
            "^dave-",
            "^dave-",
            "^dave-",
        ],
    );
    fails(
        d,
        &["token", "issue", "--user", "dave"],
        "no [jwt] section: pass --config",
    );
    fails(
        d,
        &["token", "issue", "--user", "nobody", "--config", config],
        "issuing a token for 'nobody'",
    );
    let out = ok(d, &["token", "issue", "--user", "dave", "--config", config]);
    let issued: serde_json::Value = serde_json::from_str(&out).expect("JSON on stdout");
    assert_eq!(issued["token_type"], "bearer", "{issued}");
    assert_eq!(issued["expires_in"], 600, "{issued}");
    let token = issued["access_token"]
        .as_str()
        .expect("a token")
        .to_string();
    assert_eq!(token.split('.').count(), 3, "a JWT: {token}");

    let b = BrokerProcess::start_with(d, &["--config", config]);
    // The token is the password; the user name does not matter.
    for user in ["dave", "someone-else"] {
        let conn = connect(&b, user, &token, "%2f")
            .await
            .unwrap_or_else(|e| panic!("token login as '{user}': {e:?}"));
        let ch = within(conn.create_channel()).await.unwrap();
        declare_queue(&ch, "dave-q").await.unwrap();
        assert_eq!(
            refusal(declare_queue(&ch, "eve-q").await),
            (
                403,
                "ACCESS_REFUSED - configure access to queue 'eve-q' in vhost '/' refused for \
                 user 'dave'"
                    .to_string()
            ),
            "the token carries dave's permissions"
        );
    }
    // A tampered token is no password.
    let mut bad = token.clone();
    bad.pop();
    bad.push(if token.ends_with('A') { 'B' } else { 'A' });
    assert_eq!(refusal(connect(&b, "dave", &bad, "%2f").await).0, 403);
}

#[tokio::test]
async fn policies_set_list_clear_and_applied() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let lim = r#"{"max-length": 1, "overflow": "reject-publish"}"#;
    fails(
        d,
        &["policy", "set", "p", ".*", "{max-length"],
        "the definition is not JSON: {max-length",
    );
    fails(
        d,
        &["policy", "set", "p", ".*", "[1]"],
        "a policy needs a definition object",
    );
    fails(
        d,
        &["policy", "set", "p", "(", lim],
        "policy 'p' in vhost '/': invalid pattern '('",
    );
    fails(
        d,
        &["policy", "set", "p", ".*", r#"{"max-lenght": 1}"#],
        "are not recognised policy settings",
    );
    fails(
        d,
        &["policy", "set", "p", ".*", r#"{"max-length": "x"}"#],
        "\"x\" is not a valid maximum length",
    );
    fails(
        d,
        &["policy", "set", "p", ".*", lim, "--apply-to", "nothing"],
        "'nothing' is not a valid apply-to value",
    );
    fails(
        d,
        &["policy", "set", "p", ".*", lim, "-p", "nope"],
        "no vhost 'nope'",
    );
    fails(d, &["policy", "clear", "p"], "no policy 'p' in vhost '/'");
    fails(d, &["policy", "list", "-p", "nope"], "no vhost 'nope'");
    assert_eq!(
        ok(d, &["policy", "list"]),
        "",
        "the failed sets stored nothing"
    );

    assert_eq!(
        ok(
            d,
            &[
                "policy",
                "set",
                "lim",
                "^lim\\.",
                lim,
                "--priority",
                "2",
                "--apply-to",
                "queues"
            ]
        ),
        format!(
            "Setting policy \"lim\" for pattern \"^lim\\.\" to \"{lim}\" with priority \"2\" for \
             vhost \"/\"\n"
        )
    );
    ok(
        d,
        &[
            "policy",
            "set",
            "ttl",
            "^ttl\\.",
            r#"{"message-ttl": 1000}"#,
        ],
    );
    let listed: Vec<serde_json::Value> = ok(d, &["policy", "list", "-p", "/"])
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    let lim_policy = listed
        .iter()
        .find(|p| p["name"] == "lim")
        .expect("lim listed");
    assert_eq!(lim_policy["vhost"], "/");
    assert_eq!(lim_policy["pattern"], "^lim\\.");
    assert_eq!(lim_policy["apply-to"], "queues");
    assert_eq!(lim_policy["priority"], 2);
    assert_eq!(
        lim_policy["definition"],
        serde_json::json!({"max-length": 1, "overflow": "reject-publish"})
    );
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert_eq!(
        ok(d, &["policy", "clear", "ttl"]),
        "Clearing policy \"ttl\" on vhost \"/\"\n"
    );
    let listed = ok(d, &["policy", "list"]);
    assert_eq!(listed.lines().count(), 1, "{listed}");
    assert!(listed.contains("\"lim\""));

    let b = BrokerProcess::start(d);
    let conn = connect(&b, "guest", "guest", "%2f").await.unwrap();
    let ch = within(conn.create_channel()).await.unwrap();
    within(ch.confirm_select(ConfirmSelectOptions::default()))
        .await
        .unwrap();
    declare_queue(&ch, "lim.q").await.unwrap();
    declare_queue(&ch, "free.q").await.unwrap();
    let mut outcomes = Vec::new();
    for q in ["lim.q", "lim.q", "free.q", "free.q"] {
        let confirm = within(ch.basic_publish(
            "",
            q,
            BasicPublishOptions::default(),
            b"m",
            BasicProperties::default(),
        ))
        .await
        .unwrap();
        outcomes.push(match within(confirm).await.unwrap() {
            Confirmation::Ack(_) => "ack",
            Confirmation::Nack(_) => "nack",
            Confirmation::NotRequested => "none",
        });
    }
    assert_eq!(
        outcomes,
        ["ack", "nack", "ack", "ack"],
        "max-length 1 with reject-publish on lim.* only"
    );
    assert_eq!(passive_queue(&conn, "lim.q").await, Ok(1));
    assert_eq!(passive_queue(&conn, "free.q").await, Ok(2));
}

#[tokio::test]
async fn definitions_export_import_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    let dst = dir.path().join("dst");
    let file = dir.path().join("defs.json");
    let file_arg = file.to_str().unwrap();
    let (src, dst) = (src.as_path(), dst.as_path());

    ok(src, &["vhost", "add", "orders"]);
    ok(
        src,
        &["user", "add", "erin", "erinpw", "--tags", "management"],
    );
    ok(
        src,
        &["permissions", "set", "erin", "orders", ".*", ".*", ".*"],
    );
    ok(
        src,
        &[
            "policy",
            "set",
            "lim",
            "^lim",
            r#"{"max-length": 1, "overflow": "reject-publish"}"#,
            "-p",
            "orders",
        ],
    );
    // Durable topology, declared over AMQP.
    let b = BrokerProcess::start(src);
    let conn = connect(&b, "erin", "erinpw", "orders").await.unwrap();
    let ch = within(conn.create_channel()).await.unwrap();
    within(ch.exchange_declare(
        "orders-x",
        ExchangeKind::Topic,
        ExchangeDeclareOptions {
            durable: true,
            ..Default::default()
        },
        FieldTable::default(),
    ))
    .await
    .unwrap();
    let durable = QueueDeclareOptions {
        durable: true,
        ..Default::default()
    };
    within(ch.queue_declare("lim-q", durable, FieldTable::default()))
        .await
        .unwrap();
    within(ch.queue_bind(
        "lim-q",
        "orders-x",
        "new.*",
        QueueBindOptions::default(),
        FieldTable::default(),
    ))
    .await
    .unwrap();
    drop(conn);
    assert!(b.stop().success());

    assert_eq!(
        ok(src, &["definitions", "export", file_arg]),
        format!("exported definitions to {file_arg}\n")
    );
    let exported: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let names = |section: &str| -> Vec<String> {
        exported[section]
            .as_array()
            .unwrap_or_else(|| panic!("no {section} in {exported}"))
            .iter()
            .map(|v| v["name"].as_str().unwrap_or_default().to_string())
            .collect()
    };
    assert_eq!(names("vhosts"), ["/", "orders"]);
    assert_eq!(names("users"), ["erin", "guest"]);
    assert_eq!(names("queues"), ["lim-q"]);
    assert_eq!(names("exchanges"), ["orders-x"]);
    assert_eq!(names("policies"), ["lim"]);
    assert_eq!(exported["bindings"][0]["routing_key"], "new.*");

    fails(
        dst,
        &["definitions", "import", "/nonexistent/defs.json"],
        "reading /nonexistent/defs.json",
    );
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{bad").unwrap();
    fails(
        dst,
        &["definitions", "import", bad.to_str().unwrap()],
        "invalid definitions JSON",
    );
    assert_eq!(
        ok(dst, &["definitions", "import", file_arg]),
        format!(
            "imported 1 exchanges, 1 queues, 1 bindings from {file_arg} into {}\n",
            dst.display()
        )
    );
    assert_eq!(lines(&ok(dst, &["vhost", "list"])), ["/", "orders"]);
    assert_eq!(
        lines(&ok(dst, &["user", "list"])),
        ["erin\t[management]", "guest\t[administrator]"]
    );

    // The imported broker: erin's password (its hash came along), her permissions, the
    // topology and the policy.
    let b = BrokerProcess::start(dst);
    let conn = connect(&b, "erin", "erinpw", "orders").await.unwrap();
    let ch = within(conn.create_channel()).await.unwrap();
    within(ch.confirm_select(ConfirmSelectOptions::default()))
        .await
        .unwrap();
    let mut outcomes = Vec::new();
    for _ in 0..2 {
        let confirm = within(ch.basic_publish(
            "orders-x",
            "new.order",
            BasicPublishOptions::default(),
            b"o",
            BasicProperties::default(),
        ))
        .await
        .unwrap();
        outcomes.push(within(confirm).await.unwrap().is_ack());
    }
    assert_eq!(
        outcomes,
        [true, false],
        "routed by the binding, capped by the policy"
    );
    assert_eq!(passive_queue(&conn, "lim-q").await, Ok(1));
    drop(conn);
    assert!(b.stop().success());

    // Export of the imported node = the original export (but for nothing).
    let again = dir.path().join("again.json");
    ok(dst, &["definitions", "export", again.to_str().unwrap()]);
    let again: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&again).unwrap()).unwrap();
    for section in [
        "users",
        "vhosts",
        "permissions",
        "policies",
        "queues",
        "exchanges",
        "bindings",
    ] {
        assert_eq!(again[section], exported[section], "{section}");
    }
}

#[tokio::test]
async fn changes_are_refused_while_a_broker_runs_on_the_data_directory() {
    // A policy set next to a running broker used to print success and then vanish: the broker
    // does not read the definitions file again and overwrites it on its next change. Every
    // command that changes the definitions now refuses, naming the API call to use instead;
    // the listings still work; nothing is written.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let lim = r#"{"max-length": 1, "overflow": "reject-publish"}"#;
    let b = BrokerProcess::start(d);
    let defs = std::fs::read(d.join("definitions.json")).ok();
    let in_use = "is in use by warren server (pid ";
    for (args, api) in [
        (
            &["policy", "set", "lim", "^lim\\.", lim][..],
            "PUT /api/policies/{vhost}/{name}",
        ),
        (
            &["policy", "clear", "lim"],
            "DELETE /api/policies/{vhost}/{name}",
        ),
        (&["user", "add", "ann", "pw"], "PUT /api/users/{user}"),
        (&["user", "delete", "guest"], "DELETE /api/users/{user}"),
        (&["user", "passwd", "guest", "x"], "PUT /api/users/{user}"),
        (&["user", "tags", "guest", ""], "PUT /api/users/{user}"),
        (&["vhost", "add", "v2"], "PUT /api/vhosts/{vhost}"),
        (&["vhost", "delete", "/"], "DELETE /api/vhosts/{vhost}"),
        (
            &["permissions", "set", "guest", "/", "", "", ""],
            "PUT /api/permissions/{vhost}/{user}",
        ),
        (
            &["permissions", "clear", "guest", "/"],
            "DELETE /api/permissions/{vhost}/{user}",
        ),
        (
            &["definitions", "import", "/nonexistent.json"],
            "POST /api/definitions",
        ),
    ] {
        let command = format!("warren {} {}", args[0], args[1]);
        fails(d, args, in_use);
        fails(
            d,
            args,
            &format!("so `{command}` changed nothing: it edits the definitions file"),
        );
        fails(d, args, &format!("use its management API ({api})"));
    }
    assert_eq!(ok(d, &["policy", "list"]), "");
    assert_eq!(ok(d, &["vhost", "list"]), "/\n");
    assert!(ok(d, &["user", "list"]).starts_with("guest\t"));
    ok(d, &["permissions", "list"]);
    ok(
        d,
        &[
            "definitions",
            "export",
            d.join("out.json").to_str().unwrap(),
        ],
    );
    assert_eq!(
        std::fs::read(d.join("definitions.json")).ok(),
        defs,
        "nothing written"
    );
    // A second broker on the same data would corrupt its message store: refused.
    let second = Command::new(env!("CARGO_BIN_EXE_warren"))
        .args(["server", "--amqp-listen", "127.0.0.1:0"])
        .args(["--http-listen", "127.0.0.1:0", "--data-dir"])
        .arg(d)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(!second.status.success(), "{stderr}");
    assert!(
        stderr.contains(in_use) && stderr.contains("two processes must not share it"),
        "{stderr}"
    );

    // The running broker is unaffected, and has no such policy.
    let conn = connect(&b, "guest", "guest", "%2f").await.unwrap();
    let ch = within(conn.create_channel()).await.unwrap();
    declare_queue(&ch, "lim.q").await.unwrap();
    for _ in 0..2 {
        within(ch.basic_publish(
            "",
            "lim.q",
            BasicPublishOptions::default(),
            b"m",
            BasicProperties::default(),
        ))
        .await
        .unwrap();
    }
    assert_eq!(passive_queue(&conn, "lim.q").await, Ok(2));
    drop(conn);

    // Once the broker is gone (even killed: the kernel drops its lock), the command works and
    // the next broker obeys the policy.
    b.kill();
    ok(d, &["policy", "set", "lim", "^lim\\.", lim]);
    let b = BrokerProcess::start(d);
    let conn = connect(&b, "guest", "guest", "%2f").await.unwrap();
    let ch = within(conn.create_channel()).await.unwrap();
    declare_queue(&ch, "lim.q").await.unwrap();
    for _ in 0..2 {
        within(ch.basic_publish(
            "",
            "lim.q",
            BasicPublishOptions::default(),
            b"m",
            BasicProperties::default(),
        ))
        .await
        .unwrap();
    }
    assert_eq!(passive_queue(&conn, "lim.q").await, Ok(1), "max-length 1");
}
