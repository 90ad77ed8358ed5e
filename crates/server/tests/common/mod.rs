//! Shared by the black-box tests: a real server on 127.0.0.1:0 and client helpers.
#![allow(dead_code)]

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use warren_core::{Broker, Limits};
use warren_server::RunningServer;

pub mod raw;

/// Every wait in a test is bounded: a broken broker fails the test instead of hanging it.
pub const WAIT: Duration = Duration::from_secs(10);

pub async fn start() -> RunningServer {
    start_with(Limits::default()).await
}

pub async fn start_with(limits: Limits) -> RunningServer {
    RunningServer::start("127.0.0.1:0", Arc::new(Broker::new(limits)))
        .await
        .expect("server starts on a free port")
}

/// The URL of the broker under test: `server`, unless `COMPARE_AMQP_URL` names another broker.
/// Point it at a fresh RabbitMQ to check that a test's expectations are RabbitMQ's behaviour
/// (`COMPARE_AMQP_URL=amqp://guest:guest@127.0.0.1:5673/%2f cargo test -p warren-server --test
/// consumers -- --test-threads 1`); tests that rely on Warren's own limits will not agree.
pub fn amqp_url(server: &RunningServer) -> String {
    if let Ok(url) = std::env::var("COMPARE_AMQP_URL") {
        return url;
    }
    format!("amqp://guest:guest@{}/%2f", server.addr)
}

/// The address of the broker under test, for raw-frame clients: `server`'s, unless
/// `COMPARE_AMQP_URL` names another broker (its host:port; the raw client logs in as guest).
pub fn amqp_addr(server: &RunningServer) -> std::net::SocketAddr {
    let Ok(url) = std::env::var("COMPARE_AMQP_URL") else {
        return server.addr;
    };
    let host_port = url
        .rsplit('@')
        .next()
        .and_then(|rest| rest.split('/').next())
        .expect("COMPARE_AMQP_URL is amqp://user:pass@host:port/vhost");
    std::net::ToSocketAddrs::to_socket_addrs(host_port)
        .ok()
        .and_then(|mut a| a.next())
        .unwrap_or_else(|| panic!("COMPARE_AMQP_URL's host:port {host_port} resolves"))
}

/// Awaits `f`, failing the test if it takes longer than [`WAIT`].
pub async fn within<T>(f: impl Future<Output = T>) -> T {
    tokio::time::timeout(WAIT, f)
        .await
        .expect("timed out waiting for the broker")
}

/// The next error lapin reports on `ch` (a channel.close from the broker after a method that
/// has no reply, such as basic.publish or basic.ack).
pub fn next_channel_error(ch: &lapin::Channel) -> tokio::sync::oneshot::Receiver<lapin::Error> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let tx = std::sync::Mutex::new(Some(tx));
    ch.on_error(move |e| {
        if let Some(tx) = tx.lock().ok().and_then(|mut t| t.take()) {
            let _ = tx.send(e);
        }
    });
    rx
}
