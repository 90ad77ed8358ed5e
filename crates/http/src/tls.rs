//! HTTPS for the management listener: TLS (rustls) in front of axum.
//!
//! TCP connections are accepted and their TLS handshakes done in tasks of their own, so a slow or
//! broken client's handshake holds up no one; finished TLS streams are handed to axum. Both kinds of
//! listener here can take the connections of several sockets (a host name's IPv4 and IPv6 address).

use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

/// Handshakes in progress or done and not yet taken by axum.
const PENDING: usize = 64;

pub struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: std::io::Result<SocketAddr>,
    acceptor_tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl TlsListener {
    pub fn new(listener: TcpListener, acceptor: TlsAcceptor) -> TlsListener {
        TlsListener::new_many(vec![listener], acceptor)
    }

    /// One listener taking the connections of several sockets (a host name's IPv4 and IPv6
    /// addresses); its `local_addr` is the first socket's.
    pub fn new_many(listeners: Vec<TcpListener>, acceptor: TlsAcceptor) -> TlsListener {
        let local = listeners.first().map_or_else(
            || Err(std::io::Error::other("no listener")),
            |l| l.local_addr(),
        );
        let (tx, ready) = mpsc::channel(PENDING);
        let acceptor_tasks = listeners
            .into_iter()
            .map(|l| tokio::spawn(accept_loop(l, acceptor.clone(), tx.clone())))
            .collect();
        TlsListener {
            ready,
            local,
            acceptor_tasks,
        }
    }
}

async fn accept_loop(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    tx: mpsc::Sender<(TlsStream<TcpStream>, SocketAddr)>,
) {
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                // Out of file descriptors and the like: wait a little, go on.
                tracing::warn!("HTTPS accept failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let acceptor = acceptor.clone();
        let tx = tx.clone();
        tokio::spawn(async move {
            let handshake =
                tokio::time::timeout(std::time::Duration::from_secs(10), acceptor.accept(tcp))
                    .await;
            match handshake {
                Ok(Ok(tls)) => {
                    let _ = tx.send((tls, peer)).await;
                }
                Ok(Err(e)) => tracing::debug!(%peer, "HTTPS handshake failed: {e}"),
                Err(_) => tracing::debug!(%peer, "HTTPS handshake timed out"),
            }
        });
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        for t in &self.acceptor_tasks {
            t.abort();
        }
    }
}

/// Plain TCP from several sockets as one axum listener (see [`TlsListener::new_many`]).
pub struct ManyListener {
    ready: mpsc::Receiver<(TcpStream, SocketAddr)>,
    local: std::io::Result<SocketAddr>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl ManyListener {
    pub fn new(listeners: Vec<TcpListener>) -> ManyListener {
        let local = listeners.first().map_or_else(
            || Err(std::io::Error::other("no listener")),
            |l| l.local_addr(),
        );
        let (tx, ready) = mpsc::channel(PENDING);
        let tasks = listeners
            .into_iter()
            .map(|l| {
                let tx = tx.clone();
                tokio::spawn(async move {
                    loop {
                        match l.accept().await {
                            Ok(c) => {
                                if tx.send(c).await.is_err() {
                                    return;
                                }
                            }
                            Err(e) => {
                                tracing::warn!("HTTP accept failed: {e}");
                                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                            }
                        }
                    }
                })
            })
            .collect();
        ManyListener {
            ready,
            local,
            tasks,
        }
    }
}

impl Drop for ManyListener {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl axum::serve::Listener for ManyListener {
    type Io = TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(conn) => conn,
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        match &self.local {
            Ok(a) => Ok(*a),
            Err(e) => Err(std::io::Error::new(e.kind(), e.to_string())),
        }
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(conn) => conn,
            // The accepting task is gone (it never ends on its own): serve nothing more.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        match &self.local {
            Ok(a) => Ok(*a),
            Err(e) => Err(std::io::Error::new(e.kind(), e.to_string())),
        }
    }
}
