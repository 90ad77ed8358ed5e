//! Warren's AMQP 0-9-1 server: TCP listeners, connection and channel state machines.
//!
//! The path of a frame: [`connection`] reads bytes and decodes frames (`warren_amqp`), routes
//! channel-0 methods itself and the rest to a [`channel::Channel`], which calls the broker core
//! (`warren_core`) and encodes its replies into the connection's output buffer; the
//! [`writer`] task writes that buffer in batches.

pub mod auth;
pub mod channel;
pub mod connection;
pub mod writer;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::{info, warn};
use warren_core::Broker;

/// Accepts connections until `shutdown` turns true, then closes every connection with 320 and
/// waits (a bounded time) for them to finish.
pub async fn serve(
    listener: TcpListener,
    broker: Arc<Broker>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut conns = JoinSet::new();
    // Housekeeping: messages past their TTL are expired (and dead-lettered) every 50 ms;
    // x-expires queues unused for their time are deleted every 500 ms.
    let housekeeping = tokio::spawn({
        let broker = broker.clone();
        async move {
            let mut tick = tokio::time::interval(Duration::from_millis(50));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            for n in 0u64.. {
                tick.tick().await;
                let vhosts = broker.vhosts();
                for v in &vhosts {
                    v.expire_messages();
                }
                if n % 10 == 0 {
                    let expired: usize = vhosts.iter().map(|v| v.expire_queues()).sum();
                    if expired > 0 {
                        broker.definitions_changed();
                    }
                }
            }
        }
    });
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    conns.spawn(connection::serve_connection(stream, peer, broker.clone(), shutdown.clone()));
                }
                Err(e) => {
                    // Out of file descriptors and the like: wait a little rather than spin.
                    warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    housekeeping.abort();
    info!("AMQP listener stopped; closing {} connections", conns.len());
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

    /// Closes every connection (320) and waits for the server to stop.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        let _ = self.task.await;
    }
}
