//! Resource alarms: a publishing connection gets connection.blocked and is no longer read
//! (TCP pushes back on the publisher); consumers keep receiving; connection.unblocked when the
//! alarm clears, and the held-back publishes then go through.

mod common;

use std::time::Duration;

use common::raw::RawClient;
use common::{amqp_url, start, within};
use futures_lite::StreamExt;
use lapin::options::*;
use lapin::types::FieldTable;
use lapin::{Connection, ConnectionProperties};
use warren_amqp::{Frame, Method};

#[tokio::test]
async fn publishers_are_blocked_under_an_alarm_and_resume_after_it() {
    let server = start().await;
    // the consumer's side first
    let conn = within(Connection::connect(
        &amqp_url(&server),
        ConnectionProperties::default(),
    ))
    .await
    .unwrap();
    let ch = within(conn.create_channel()).await.unwrap();
    within(ch.queue_declare(
        "work",
        QueueDeclareOptions::default(),
        FieldTable::default(),
    ))
    .await
    .unwrap();
    let mut consumer = within(ch.basic_consume(
        "work",
        "c",
        BasicConsumeOptions {
            no_ack: true,
            ..Default::default()
        },
        FieldTable::default(),
    ))
    .await
    .unwrap();

    server.broker.set_alarm(Some("low on memory".into()));
    let mut publisher = RawClient::connect(server.addr).await;
    publisher.handshake(0).await;
    publisher.send(1, &Method::ChannelOpen).await;
    assert!(matches!(
        publisher.frame().await,
        Some(Frame::Method {
            method: Method::ChannelOpenOk,
            ..
        })
    ));
    publisher.publish(1, "work", b"first").await;
    match publisher.frame().await {
        Some(Frame::Method {
            channel: 0,
            method: Method::ConnectionBlocked(b),
        }) => {
            assert_eq!(b.reason.as_str(), "low on memory")
        }
        other => panic!("expected connection.blocked, got {other:?}"),
    }
    // what was read before the block is delivered; consumers are not blocked
    let d = within(consumer.next()).await.unwrap().unwrap();
    assert_eq!(d.data, b"first");
    // a publish sent while blocked is not read
    publisher.publish(1, "work", b"held").await;
    let held = tokio::time::timeout(Duration::from_millis(300), consumer.next()).await;
    assert!(held.is_err(), "a blocked connection's publish went through");

    server.broker.set_alarm(None);
    match publisher.frame().await {
        Some(Frame::Method {
            channel: 0,
            method: Method::ConnectionUnblocked,
        }) => {}
        other => panic!("expected connection.unblocked, got {other:?}"),
    }
    let d = within(consumer.next()).await.unwrap().unwrap();
    assert_eq!(d.data, b"held");
}

/// Blocked connections are not read, so a publisher that hangs up is seen only by asking the
/// socket; it is released at once, not when the alarm clears (with heartbeat 0, never).
#[tokio::test]
async fn a_blocked_publisher_that_hangs_up_is_released() {
    let server = start().await;
    server.broker.set_alarm(Some("low on memory".into()));
    let mut p = RawClient::connect(server.addr).await;
    p.handshake(0).await;
    p.send(1, &Method::ChannelOpen).await;
    assert!(matches!(
        p.frame().await,
        Some(Frame::Method {
            method: Method::ChannelOpenOk,
            ..
        })
    ));
    p.publish(1, "nowhere", b"x").await;
    match p.frame().await {
        Some(Frame::Method {
            method: Method::ConnectionBlocked(_),
            ..
        }) => {}
        other => panic!("expected connection.blocked, got {other:?}"),
    }
    assert_eq!(server.broker.connections.list().len(), 1);
    // Blocked, and heartbeat 0: only its hanging up can end it. The alarm stays on.
    drop(p);
    within(async {
        while !server.broker.connections.list().is_empty() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(server.broker.alarm().borrow().is_some());
}

/// A raw AMQP client over TLS, for the AMQPS variant below: the few frames it needs.
mod tls_raw {
    use std::sync::Arc;

    use bytes::BytesMut;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;
    use tokio_rustls::client::TlsStream;
    use warren_amqp::{
        decode_frame, encode_method_frame, ConnectionOpen, ConnectionStartOk, ConnectionTuneOk,
        FieldTable, FieldValue, Frame, Method, ShortStr, PROTOCOL_HEADER,
    };

    use super::within;

    pub struct TlsRaw {
        pub sock: TlsStream<TcpStream>,
        buf: BytesMut,
    }

    impl TlsRaw {
        /// Connects to `addr` over TLS, trusting `ca_pem` for the name "localhost", and sends
        /// the protocol header.
        pub async fn connect(addr: std::net::SocketAddr, ca_pem: &str) -> TlsRaw {
            let mut roots = rustls::RootCertStore::empty();
            for c in rustls_pemfile::certs(&mut ca_pem.as_bytes()) {
                roots.add(c.unwrap()).unwrap();
            }
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_root_certificates(roots)
                .with_no_client_auth();
            let tcp = within(TcpStream::connect(addr)).await.expect("connects");
            let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
            let mut sock =
                within(tokio_rustls::TlsConnector::from(Arc::new(config)).connect(name, tcp))
                    .await
                    .expect("TLS handshake");
            sock.write_all(&PROTOCOL_HEADER).await.unwrap();
            sock.flush().await.unwrap();
            TlsRaw {
                sock,
                buf: BytesMut::new(),
            }
        }

        pub async fn frame(&mut self) -> Option<Frame> {
            within(async {
                loop {
                    if let Some(f) = decode_frame(&mut self.buf, 0).expect("server frames decode") {
                        return Some(f);
                    }
                    match self.sock.read_buf(&mut self.buf).await {
                        Ok(0) | Err(_) => return None,
                        Ok(_) => {}
                    }
                }
            })
            .await
        }

        pub async fn write(&mut self, bytes: &[u8]) {
            self.sock.write_all(bytes).await.unwrap();
            self.sock.flush().await.unwrap();
        }

        pub async fn send(&mut self, channel: u16, m: &Method) {
            let mut out = BytesMut::new();
            encode_method_frame(&mut out, channel, m);
            self.write(&out).await;
        }

        /// Logs in as guest (announcing connection.blocked) with heartbeat 0, opens vhost "/".
        pub async fn handshake(&mut self) {
            assert!(matches!(
                self.frame().await,
                Some(Frame::Method {
                    method: Method::ConnectionStart(_),
                    ..
                })
            ));
            let mut caps = FieldTable::new();
            caps.insert(
                ShortStr::from_static("connection.blocked"),
                FieldValue::Bool(true),
            );
            let mut props = FieldTable::new();
            props.insert(
                ShortStr::from_static("capabilities"),
                FieldValue::Table(caps),
            );
            self.send(
                0,
                &Method::ConnectionStartOk(ConnectionStartOk {
                    client_properties: props,
                    mechanism: ShortStr::from_static("PLAIN"),
                    response: bytes::Bytes::from_static(b"\0guest\0guest"),
                    locale: ShortStr::from_static("en_US"),
                }),
            )
            .await;
            let Some(Frame::Method {
                method: Method::ConnectionTune(t),
                ..
            }) = self.frame().await
            else {
                panic!("expected connection.tune");
            };
            self.send(
                0,
                &Method::ConnectionTuneOk(ConnectionTuneOk {
                    channel_max: t.channel_max,
                    frame_max: t.frame_max,
                    heartbeat: 0,
                }),
            )
            .await;
            self.send(
                0,
                &Method::ConnectionOpen(ConnectionOpen {
                    virtual_host: ShortStr::from_static("/"),
                }),
            )
            .await;
            assert!(matches!(
                self.frame().await,
                Some(Frame::Method {
                    method: Method::ConnectionOpenOk,
                    ..
                })
            ));
        }
    }
}

/// The same over AMQPS: the TLS read half does not expose its socket, so the broker asks a
/// duplicate of it (`TlsRead::peer_gone`). A publisher blocked under the alarm that hangs up
/// is released while the alarm stays on.
#[tokio::test]
async fn a_blocked_publisher_that_hangs_up_over_tls_is_released() {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let config = warren_server::tls::server_config(
        cert.cert.pem().as_bytes(),
        cert.key_pair.serialize_pem().as_bytes(),
        None,
        false,
    )
    .unwrap();
    let broker = std::sync::Arc::new(warren_core::Broker::new(Default::default()));
    let server = warren_server::RunningServer::start_tls("127.0.0.1:0", broker, config)
        .await
        .unwrap();
    server.broker.set_alarm(Some("low on memory".into()));
    let mut p = tls_raw::TlsRaw::connect(server.addr, &cert.cert.pem()).await;
    p.handshake().await;
    p.send(1, &Method::ChannelOpen).await;
    assert!(matches!(
        p.frame().await,
        Some(Frame::Method {
            method: Method::ChannelOpenOk,
            ..
        })
    ));
    let mut out = bytes::BytesMut::new();
    common::raw::put_publish(&mut out, 1, "", "nowhere", b"x");
    p.write(&out).await;
    match p.frame().await {
        Some(Frame::Method {
            method: Method::ConnectionBlocked(_),
            ..
        }) => {}
        other => panic!("expected connection.blocked, got {other:?}"),
    }
    let conns = server.broker.connections.list();
    assert_eq!(conns.len(), 1);
    assert!(conns[0].tls, "the connection is not registered as AMQPS");
    drop(conns);
    // Blocked, heartbeat 0, and not read: only the socket can tell that the peer is gone.
    drop(p);
    let gone = tokio::time::timeout(Duration::from_secs(30), async {
        while !server.broker.connections.list().is_empty() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(
        gone.is_ok(),
        "a blocked AMQPS publisher that hung up is still registered after 30 s"
    );
    assert!(server.broker.alarm().borrow().is_some());
}
