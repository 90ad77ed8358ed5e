//! Listener addresses in the forms RabbitMQ takes: a bare port (every interface), a host name
//! (each of its addresses), `[IPv6]:port`; from flags, environment variables and the TOML
//! file; bad values refused with a message saying why.

mod common;

use std::net::{SocketAddr, ToSocketAddrs};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::BrokerProcess;

/// The addresses after "PREFIX listening on " in `log`.
fn listening(log: &[String], prefix: &str) -> Vec<SocketAddr> {
    log.iter()
        .filter_map(|l| l.split(&format!("{prefix} listening on ")).nth(1))
        .filter_map(|r| r.split_whitespace().next())
        .map(|a| a.trim_start_matches("http://").parse().expect("an address"))
        .collect()
}

/// An AMQP broker answers on `addr`: the protocol header gets connection.start (lapin's URI
/// parser takes no IPv6 literal), and for IPv4 a whole lapin connection as guest.
async fn amqp_ok(addr: SocketAddr) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr)
        .await
        .unwrap_or_else(|e| panic!("AMQP on {addr}: {e}"));
    s.write_all(b"AMQP\x00\x00\x09\x01").await.unwrap();
    let mut head = [0u8; 11];
    tokio::time::timeout(Duration::from_secs(10), s.read_exact(&mut head))
        .await
        .expect("an answer in time")
        .unwrap();
    // A method frame on channel 0: class 10 (connection), method 10 (start).
    assert_eq!(
        (head[0], &head[1..3], &head[7..11]),
        (1, &[0, 0][..], &[0, 10, 0, 10][..])
    );
    if addr.is_ipv6() {
        return;
    }
    let url = format!("amqp://guest:guest@{addr}/%2f");
    let conn = tokio::time::timeout(
        Duration::from_secs(10),
        lapin::Connection::connect(&url, lapin::ConnectionProperties::default()),
    )
    .await
    .expect("connects in time")
    .unwrap_or_else(|e| panic!("AMQP on {addr}: {e}"));
    conn.close(200, "bye").await.unwrap();
}

async fn http_ok(addr: SocketAddr) {
    let r = reqwest::Client::new()
        .get(format!("http://{addr}/api/overview"))
        .basic_auth("guest", Some("guest"))
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .unwrap_or_else(|e| panic!("HTTP on {addr}: {e}"));
    assert_eq!(r.status(), 200);
}

/// What RabbitMQ listens on for `localhost`: its first IPv4 and first IPv6 address.
fn localhost_addrs() -> Vec<SocketAddr> {
    let all: Vec<SocketAddr> = ("localhost", 0).to_socket_addrs().unwrap().collect();
    [
        all.iter().find(|a| a.is_ipv4()),
        all.iter().find(|a| a.is_ipv6()),
    ]
    .into_iter()
    .flatten()
    .copied()
    .collect()
}

#[tokio::test]
async fn a_host_name_and_a_bare_port_listen_as_rabbitmq() {
    let dir = tempfile::tempdir().unwrap();
    // The host name on the flag, the bare port in the environment.
    let mut b = BrokerProcess::start_cmd(
        dir.path(),
        &["--amqp-listen", "localhost:0"],
        &[("NO_COLOR", "1"), ("WARREN_HTTP_LISTEN", "0")],
    );
    let log = b.log_until("management HTTP listening on");
    let amqp = listening(&log, "AMQP");
    let want: Vec<_> = localhost_addrs().iter().map(|a| a.ip()).collect();
    assert_eq!(
        amqp.iter().map(|a| a.ip()).collect::<Vec<_>>(),
        want,
        "{log:#?}"
    );
    assert!(amqp.iter().all(|a| a.port() == amqp[0].port()), "{amqp:?}");
    for a in &amqp {
        amqp_ok(*a).await;
    }
    // Every interface: `[::]` (and 0.0.0.0 where that does not cover IPv4).
    let http = listening(&log, "management HTTP");
    assert!(!http.is_empty() && http.iter().all(|a| a.ip().is_unspecified()));
    let port = http[0].port();
    http_ok(SocketAddr::from(([127, 0, 0, 1], port))).await;
    if std::net::TcpListener::bind("[::1]:0").is_ok() {
        http_ok(SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, port))).await;
    }
    b.stop();
}

#[tokio::test]
async fn ipv6_and_toml_integer_ports() {
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        eprintln!("no IPv6 loopback here: skipped");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("warren.toml");
    // A bare port as a TOML integer (RabbitMQ's `listeners.tcp.default = 5672`).
    std::fs::write(&cfg, "http_listen = 0\n").unwrap();
    let mut b = BrokerProcess::start_cmd(
        &dir.path().join("data"),
        &["--config", cfg.to_str().unwrap()],
        &[("NO_COLOR", "1"), ("WARREN_AMQP_LISTEN", "[::1]:0")],
    );
    let log = b.log_until("management HTTP listening on");
    let amqp = listening(&log, "AMQP");
    assert_eq!(amqp.len(), 1);
    assert_eq!(amqp[0].ip(), std::net::Ipv6Addr::LOCALHOST);
    amqp_ok(amqp[0]).await;
    let http = listening(&log, "management HTTP");
    assert!(http.iter().all(|a| a.ip().is_unspecified()), "{http:?}");
    http_ok(SocketAddr::from(([127, 0, 0, 1], http[0].port()))).await;
    b.stop();
}

/// `warren server ARGS` with `envs` must fail at start-up, saying `expected` on stderr.
fn refused(args: &[&str], envs: &[(&str, &str)], expected: &str) {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_warren"))
        .arg("server")
        .arg("--data-dir")
        .arg(dir.path())
        .args(["--http-listen", "127.0.0.1:0"])
        .args(args)
        .envs(envs.iter().copied())
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("{args:?} {envs:?}: still running, not refused");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!status.success(), "{args:?} {envs:?} was accepted");
    assert!(err.contains(expected), "{args:?} {envs:?}: {err}");
}

#[test]
fn bad_listener_addresses_are_refused_clearly() {
    refused(
        &["--amqp-listen", "::1:5672"],
        &[],
        "in brackets, as [::1]:5672",
    );
    refused(&["--amqp-listen", "99999"], &[], "above 65535");
    refused(&["--amqp-listen", "localhost:"], &[], "bad port");
    refused(&[], &[("WARREN_AMQP_LISTEN", "bad host:1")], "no host name");
    refused(
        &["--amqp-listen", "no-such-host.invalid:0"],
        &[],
        "resolving AMQP listener host 'no-such-host.invalid'",
    );
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("warren.toml");
    std::fs::write(&cfg, "amqp_listen = \"localhost\"\n").unwrap();
    refused(
        &["--config", cfg.to_str().unwrap()],
        &[],
        "'localhost': no port",
    );
    std::fs::write(&cfg, "amqp_listen = 70000\n").unwrap();
    refused(&["--config", cfg.to_str().unwrap()], &[], "not in 0-65535");
}
