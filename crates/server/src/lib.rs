//! Warren's AMQP 0-9-1 server: TCP listeners, connection and channel state machines.
//!
//! The path of a frame: [`connection`] reads bytes and decodes frames (`warren_amqp`), routes
//! channel-0 methods itself and the rest to a [`channel::Channel`], which calls the broker core
//! (`warren_core`) and encodes its replies into the connection's output buffer; the
//! [`writer`] task writes that buffer in batches.

pub mod access;
pub mod auth;
pub mod channel;
pub mod connection;
pub mod limits;
pub mod tls;
pub mod writer;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::info;
use warren_core::Broker;

/// Housekeeping: messages past their TTL are expired (and dead-lettered) every 50 ms;
/// `x-expires` queues unused for their time are deleted every 500 ms. [`serve`] runs it; a
/// binary that serves only AMQPS spawns it itself.
pub fn spawn_housekeeping(broker: Arc<Broker>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(50));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        for n in 0u64.. {
            tick.tick().await;
            let vhosts = broker.vhosts();
            for v in &vhosts {
                v.expire_messages();
            }
            if n % 10 == 0 {
                let durable_expired: usize = vhosts.iter().map(|v| v.expire_queues()).sum();
                if durable_expired > 0 {
                    broker.definitions_changed();
                }
            }
        }
    })
}

/// Accepts connections until `shutdown` turns true, then closes every connection with 320 and
/// waits (a bounded time) for them to finish.
pub async fn serve(listener: TcpListener, broker: Arc<Broker>, shutdown: watch::Receiver<bool>) {
    let housekeeping = spawn_housekeeping(broker.clone());
    accept_loop(listener, broker, shutdown, None).await;
    housekeeping.abort();
}

/// [`serve`] for a further socket of the same broker (a host name's second address): without
/// a second housekeeping task.
pub async fn serve_more(
    listener: TcpListener,
    broker: Arc<Broker>,
    shutdown: watch::Receiver<bool>,
) {
    accept_loop(listener, broker, shutdown, None).await;
}

/// [`serve`] for AMQPS: each connection starts with a TLS handshake.
pub async fn serve_tls(
    listener: TcpListener,
    acceptor: tls::TlsAcceptor,
    broker: Arc<Broker>,
    shutdown: watch::Receiver<bool>,
) {
    accept_loop(listener, broker, shutdown, Some(acceptor)).await;
}

async fn accept_loop(
    listener: TcpListener,
    broker: Arc<Broker>,
    mut shutdown: watch::Receiver<bool>,
    tls: Option<tls::TlsAcceptor>,
) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => match &tls {
                    None => {
                        conns.spawn(connection::serve_connection(stream, peer, broker.clone(), shutdown.clone()));
                    }
                    Some(acceptor) => {
                        conns.spawn(connection::serve_tls_connection(stream, acceptor.clone(), peer, broker.clone(), shutdown.clone()));
                    }
                },
                Err(e) => {
                    // Out of file descriptors and the like: wait a little rather than spin.
                    static ACCEPT_FAILED: warren_core::LogLimit =
                        warren_core::LogLimit::new(warren_core::durable::LOG_EVERY);
                    warren_core::limited!(warn, ACCEPT_FAILED, "accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    let kind = if tls.is_some() { "AMQPS" } else { "AMQP" };
    info!(
        "{kind} listener stopped; closing {} connections",
        conns.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        while conns.join_next().await.is_some() {}
    })
    .await;
}

/// A server running in the background (tests, embedding).
pub struct RunningServer {
    pub addr: SocketAddr,
    pub broker: Arc<Broker>,
    shutdown: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl RunningServer {
    /// Binds `addr` (port 0 picks a free port) and serves in a background task.
    pub async fn start(addr: &str, broker: Arc<Broker>) -> std::io::Result<RunningServer> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let (tx, rx) = watch::channel(false);
        let task = tokio::spawn(serve(listener, broker.clone(), rx));
        Ok(RunningServer {
            addr,
            broker,
            shutdown: tx,
            task,
        })
    }

    /// Binds `addr` and serves AMQPS with `config` in a background task.
    pub async fn start_tls(
        addr: &str,
        broker: Arc<Broker>,
        config: Arc<rustls::ServerConfig>,
    ) -> std::io::Result<RunningServer> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let (tx, rx) = watch::channel(false);
        let acceptor = tls::TlsAcceptor::from(config);
        let task = tokio::spawn(serve_tls(listener, acceptor, broker.clone(), rx));
        Ok(RunningServer {
            addr,
            broker,
            shutdown: tx,
            task,
        })
    }

    /// Closes every connection (320) and waits for the server to stop.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        let _ = self.task.await;
    }
}
