//! A raw AMQP client for tests that need to control every byte (heartbeats, malformed frames).
#![allow(dead_code)]

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use warren_amqp::{
    decode_frame, encode_method_frame, ConnectionOpen, ConnectionStartOk, ConnectionTuneOk,
    FieldTable, Frame, Method, ShortStr, PROTOCOL_HEADER,
};

use super::within;

pub struct RawClient {
    pub sock: TcpStream,
    pub buf: BytesMut,
}

/// Announces the capabilities RabbitMQ's clients do (connection.blocked among them).
fn client_properties() -> FieldTable {
    let mut caps = FieldTable::new();
    for c in [
        "connection.blocked",
        "consumer_cancel_notify",
        "publisher_confirms",
    ] {
        caps.insert(
            ShortStr::from_static(c),
            warren_amqp::FieldValue::Bool(true),
        );
    }
    let mut p = FieldTable::new();
    p.insert(
        ShortStr::from_static("capabilities"),
        warren_amqp::FieldValue::Table(caps),
    );
    p
}

/// Appends a whole publish (method, header, body) to `out`.
pub fn put_publish(out: &mut BytesMut, channel: u16, exchange: &str, key: &str, body: &[u8]) {
    encode_method_frame(
        out,
        channel,
        &Method::BasicPublish(warren_amqp::BasicPublish {
            route: warren_amqp::Route::new(exchange, key).expect("short names"),
            mandatory: false,
            immediate: false,
        }),
    );
    warren_amqp::encode_header_frame(
        out,
        channel,
        60,
        body.len() as u64,
        &warren_amqp::RawProperties::default(),
    );
    warren_amqp::encode_body_frames(out, channel, body, 131_072);
}

impl RawClient {
    /// Sends a whole publish (method, header, body) to the default exchange.
    pub async fn publish(&mut self, channel: u16, queue: &'static str, body: &'static [u8]) {
        let mut out = BytesMut::new();
        put_publish(&mut out, channel, "", queue, body);
        self.sock.write_all(&out).await.unwrap();
    }

    /// Writes frames built beforehand in one go (so the broker reads them together).
    pub async fn write(&mut self, bytes: &[u8]) {
        self.sock.write_all(bytes).await.unwrap();
    }

    /// The next method frame and its channel (heartbeats skipped; end of stream fails).
    pub async fn method(&mut self) -> (u16, Method) {
        loop {
            match self.frame().await {
                Some(Frame::Method { channel, method }) => return (channel, method),
                Some(Frame::Heartbeat { .. }) => {}
                Some(other) => panic!("expected a method frame, got {other:?}"),
                None => panic!("the broker hung up while we waited for a method"),
            }
        }
    }

    pub async fn connect(addr: std::net::SocketAddr) -> RawClient {
        let mut sock = within(TcpStream::connect(addr)).await.expect("connects");
        sock.write_all(&PROTOCOL_HEADER).await.unwrap();
        RawClient {
            sock,
            buf: BytesMut::new(),
        }
    }

    /// The next frame, or None at end of stream.
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

    pub async fn send(&mut self, channel: u16, m: &Method) {
        let mut out = BytesMut::new();
        encode_method_frame(&mut out, channel, m);
        self.sock.write_all(&out).await.unwrap();
    }

    /// Logs in as guest with the given heartbeat and opens vhost "/".
    pub async fn handshake(&mut self, heartbeat: u16) {
        self.handshake_as("guest", "guest", heartbeat).await
    }

    /// Logs in as `user` with the given heartbeat and opens vhost "/".
    pub async fn handshake_as(&mut self, user: &str, password: &str, heartbeat: u16) {
        assert!(matches!(
            self.frame().await,
            Some(Frame::Method {
                method: Method::ConnectionStart(_),
                ..
            })
        ));
        self.send(
            0,
            &Method::ConnectionStartOk(ConnectionStartOk {
                client_properties: client_properties(),
                mechanism: ShortStr::from_static("PLAIN"),
                response: bytes::Bytes::from(format!("\0{user}\0{password}")),
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
                heartbeat,
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
