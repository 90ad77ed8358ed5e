//! A minimal AMQP 0-9-1 client connection: the handshake (protocol header,
//! start/start-ok with PLAIN, tune/tune-ok with heartbeats off, open), one
//! channel, and synchronous request/response for the setup methods. The hot
//! paths (publishing, consuming) take the socket and buffer over directly.

use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use warren_amqp::{
    decode_frame, encode_method_frame, ChannelClose, ConnectionClose, ConnectionOpen,
    ConnectionStartOk, ConnectionTuneOk, FieldTable, FieldValue, Frame, Method, ShortStr,
    PROTOCOL_HEADER,
};

use crate::uri::AmqpUri;

/// The channel every perf connection uses.
pub const CHANNEL: u16 = 1;
/// The largest frame we ask for (RabbitMQ's default).
pub const MAX_FRAME: u32 = 131_072;
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(15);

/// One open connection with channel [`CHANNEL`] open.
#[derive(Debug)]
pub struct Conn {
    pub stream: TcpStream,
    /// Bytes received and not yet consumed (always starts at a frame boundary).
    pub rbuf: BytesMut,
    /// Negotiated frame_max (including the 8 bytes of frame overhead).
    pub frame_max: u32,
    wbuf: BytesMut,
}

fn ss(s: &str) -> Result<ShortStr> {
    ShortStr::try_from(s).map_err(|e| anyhow!("{s:?}: {e}"))
}

fn client_properties(name: &str) -> Result<FieldTable> {
    let mut caps = FieldTable::new();
    for cap in [
        "publisher_confirms",
        "basic.nack",
        "consumer_cancel_notify",
        "connection.blocked",
        "authentication_failure_close",
        "exchange_exchange_bindings",
    ] {
        caps.insert(ShortStr::from_static(cap), FieldValue::Bool(true));
    }
    let mut t = FieldTable::new();
    let s = |v: &str| FieldValue::LongStr(Bytes::copy_from_slice(v.as_bytes()));
    t.insert(ShortStr::from_static("product"), s("warren-perf"));
    t.insert(
        ShortStr::from_static("version"),
        s(env!("CARGO_PKG_VERSION")),
    );
    t.insert(ShortStr::from_static("platform"), s("Rust"));
    t.insert(ShortStr::from_static("connection_name"), s(name));
    t.insert(
        ShortStr::from_static("capabilities"),
        FieldValue::Table(caps),
    );
    Ok(t)
}

/// A broker-initiated close as an error.
pub fn close_error(
    what: &str,
    code: u16,
    text: &str,
    class_id: u16,
    method_id: u16,
) -> anyhow::Error {
    let during = warren_amqp::method_name(class_id, method_id)
        .map(|m| format!(" (after {m})"))
        .unwrap_or_default();
    anyhow!("{what} closed by the broker: {code} {text}{during}")
}

impl Conn {
    /// Connects (TCP_NODELAY), runs the handshake and opens channel 1.
    pub async fn open(uri: &AmqpUri, name: &str) -> Result<Conn> {
        tokio::time::timeout(HANDSHAKE_TIMEOUT, Self::open_inner(uri, name))
            .await
            .map_err(|_| anyhow!("{}: handshake timed out", uri.authority()))?
    }

    async fn open_inner(uri: &AmqpUri, name: &str) -> Result<Conn> {
        let stream = TcpStream::connect(uri.authority())
            .await
            .with_context(|| format!("connecting to {}", uri.authority()))?;
        stream.set_nodelay(true)?;
        let mut c = Conn {
            stream,
            rbuf: BytesMut::with_capacity(64 * 1024),
            frame_max: 4096,
            wbuf: BytesMut::with_capacity(4096),
        };
        c.stream.write_all(&PROTOCOL_HEADER).await?;
        let start = match c
            .next_method(0)
            .await
            .context("waiting for connection.start")?
        {
            Method::ConnectionStart(s) => s,
            m => bail!("expected connection.start, got {}", m.name()),
        };
        let mechanisms = String::from_utf8_lossy(&start.mechanisms);
        if !mechanisms.split(' ').any(|m| m == "PLAIN") {
            bail!("the broker does not offer PLAIN authentication (offers {mechanisms:?})");
        }
        let mut response = Vec::with_capacity(uri.user.len() + uri.password.len() + 2);
        response.push(0);
        response.extend_from_slice(uri.user.as_bytes());
        response.push(0);
        response.extend_from_slice(uri.password.as_bytes());
        c.send(
            0,
            &Method::ConnectionStartOk(ConnectionStartOk {
                client_properties: client_properties(name)?,
                mechanism: ShortStr::from_static("PLAIN"),
                response: response.into(),
                locale: ShortStr::from_static("en_US"),
            }),
        )
        .await?;
        let tune = match c
            .next_method(0)
            .await
            .context("waiting for connection.tune")?
        {
            Method::ConnectionTune(t) => t,
            m => bail!("expected connection.tune, got {}", m.name()),
        };
        let frame_max = match tune.frame_max {
            0 => MAX_FRAME,
            f => f.min(MAX_FRAME),
        };
        c.send(
            0,
            &Method::ConnectionTuneOk(ConnectionTuneOk {
                channel_max: tune.channel_max,
                frame_max,
                heartbeat: 0,
            }),
        )
        .await?;
        c.frame_max = frame_max;
        c.send(
            0,
            &Method::ConnectionOpen(ConnectionOpen {
                virtual_host: ss(&uri.vhost)?,
            }),
        )
        .await?;
        match c
            .next_method(0)
            .await
            .context("waiting for connection.open-ok")?
        {
            Method::ConnectionOpenOk => {}
            m => bail!("expected connection.open-ok, got {}", m.name()),
        }
        match c.rpc(Method::ChannelOpen).await? {
            Method::ChannelOpenOk => {}
            m => bail!("expected channel.open-ok, got {}", m.name()),
        }
        tracing::debug!(name, frame_max, "connected to {}", uri.authority());
        Ok(c)
    }

    /// Writes one method frame.
    pub async fn send(&mut self, channel: u16, method: &Method) -> Result<()> {
        self.wbuf.clear();
        encode_method_frame(&mut self.wbuf, channel, method);
        self.stream.write_all(&self.wbuf).await?;
        Ok(())
    }

    /// The next frame (reads as needed).
    pub async fn next_frame(&mut self) -> Result<Frame> {
        loop {
            if let Some(f) = decode_frame(&mut self.rbuf, self.frame_max.max(MAX_FRAME))? {
                return Ok(f);
            }
            self.rbuf.reserve(64 * 1024);
            if self.stream.read_buf(&mut self.rbuf).await? == 0 {
                bail!("connection closed by the broker");
            }
        }
    }

    /// The next method on `channel`, skipping heartbeats and notifications
    /// (connection.blocked/unblocked); a close from the broker is an error
    /// (after answering it with close-ok).
    pub async fn next_method(&mut self, channel: u16) -> Result<Method> {
        loop {
            match self.next_frame().await? {
                Frame::Method {
                    method,
                    channel: ch,
                } => match method {
                    Method::ConnectionClose(c) => {
                        let _ = self.send(0, &Method::ConnectionCloseOk).await;
                        return Err(close_error(
                            "connection",
                            c.reply_code,
                            c.reply_text.as_str(),
                            c.class_id,
                            c.method_id,
                        ));
                    }
                    Method::ChannelClose(c) => {
                        let _ = self.send(ch, &Method::ChannelCloseOk).await;
                        return Err(close_error(
                            "channel",
                            c.reply_code,
                            c.reply_text.as_str(),
                            c.class_id,
                            c.method_id,
                        ));
                    }
                    Method::ConnectionBlocked(b) => {
                        eprintln!(
                            "warren perf: connection blocked by the broker: {}",
                            b.reason
                        );
                    }
                    Method::ConnectionUnblocked => {}
                    m if ch == channel => return Ok(m),
                    _ => {}
                },
                Frame::Heartbeat { .. } => {}
                // Content of deliveries that raced a setup method: ignored.
                Frame::Header { .. } | Frame::Body { .. } => {}
            }
        }
    }

    /// Sends `method` on channel 1 and returns the next method received there.
    pub async fn rpc(&mut self, method: Method) -> Result<Method> {
        let name = method.name();
        self.send(CHANNEL, &method).await?;
        self.next_method(CHANNEL)
            .await
            .with_context(|| format!("waiting for the reply to {name}"))
    }

    /// Closes the connection (connection.close, then waits up to `wait` for
    /// close-ok, discarding whatever else arrives).
    pub async fn close(mut self, wait: Duration) {
        let close = Method::ConnectionClose(ConnectionClose {
            reply_code: 200,
            reply_text: ShortStr::from_static("bye"),
            class_id: 0,
            method_id: 0,
        });
        if self.send(0, &close).await.is_err() {
            return;
        }
        let _ = tokio::time::timeout(wait, async {
            loop {
                // Discard frames without decoding them: a consumer may still
                // have megabytes of deliveries in flight.
                while self.rbuf.len() >= 7 {
                    let size = u32::from_be_bytes([
                        self.rbuf[3],
                        self.rbuf[4],
                        self.rbuf[5],
                        self.rbuf[6],
                    ]) as usize;
                    if self.rbuf.len() < size + 8 {
                        break;
                    }
                    let frame = self.rbuf.split_to(size + 8);
                    if frame[0] == 1 && size >= 4 && frame[7..11] == [0, 10, 0, 51] {
                        return; // connection.close-ok
                    }
                }
                self.rbuf.reserve(256 * 1024);
                match self.stream.read_buf(&mut self.rbuf).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
            }
        })
        .await;
    }

    /// Closes channel 1 (used before deleting queues on the setup connection).
    pub async fn close_channel(&mut self) -> Result<()> {
        let m = self
            .rpc(Method::ChannelClose(ChannelClose {
                reply_code: 200,
                reply_text: ShortStr::from_static("bye"),
                class_id: 0,
                method_id: 0,
            }))
            .await?;
        match m {
            Method::ChannelCloseOk => Ok(()),
            m => bail!("expected channel.close-ok, got {}", m.name()),
        }
    }
}

/// Handles a method frame that is not on a hot path (anything but deliver,
/// ack and nack): decodes it and turns broker closes into errors.
/// Returns `true` when the broker cancelled our consumer.
pub fn other_method(payload: &[u8]) -> Result<bool> {
    let method = Method::decode(Bytes::copy_from_slice(payload))
        .map_err(|e| anyhow!("undecodable method from the broker: {e}"))?;
    match method {
        Method::ConnectionClose(c) => Err(close_error(
            "connection",
            c.reply_code,
            c.reply_text.as_str(),
            c.class_id,
            c.method_id,
        )),
        Method::ChannelClose(c) => Err(close_error(
            "channel",
            c.reply_code,
            c.reply_text.as_str(),
            c.class_id,
            c.method_id,
        )),
        Method::ConnectionBlocked(b) => {
            eprintln!(
                "warren perf: connection blocked by the broker: {}",
                b.reason
            );
            Ok(false)
        }
        Method::BasicCancel(_) => Ok(true),
        _ => Ok(false),
    }
}

/// A short string from user input.
pub fn short(s: &str) -> Result<ShortStr> {
    ss(s)
}
