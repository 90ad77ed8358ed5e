//! Frames: decoding from a receive buffer, encoding into a send buffer.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::constants::{frame_type, FRAME_END, FRAME_HEADER_SIZE, FRAME_OVERHEAD};
use crate::error::{DecodeError, FrameError};
use crate::method::Method;
use crate::properties::RawProperties;
use crate::types::Route;
use crate::wire;

/// A content header. The weight field is always 0 (ignored on decode).
#[derive(Clone, Debug, PartialEq)]
pub struct ContentHeader {
    pub class_id: u16,
    pub body_size: u64,
    pub properties: RawProperties,
}

impl ContentHeader {
    /// Decodes a header frame payload (class id, weight, body size, properties).
    /// The properties are a zero-copy slice of `payload`, not decoded.
    pub fn decode(mut payload: Bytes) -> Result<ContentHeader, DecodeError> {
        let class_id = wire::get_short(&mut payload)?;
        let _weight = wire::get_short(&mut payload)?;
        let body_size = wire::get_longlong(&mut payload)?;
        Ok(ContentHeader {
            class_id,
            body_size,
            properties: RawProperties(payload),
        })
    }

    /// Writes the header frame payload.
    pub fn encode(&self, buf: &mut BytesMut) {
        encode_header_payload(buf, self.class_id, self.body_size, &self.properties);
    }
}

/// One AMQP frame.
#[derive(Clone, Debug, PartialEq)]
pub enum Frame {
    Method { channel: u16, method: Method },
    Header { channel: u16, header: ContentHeader },
    Body { channel: u16, payload: Bytes },
    Heartbeat { channel: u16 },
}

impl Frame {
    /// The channel the frame was sent on.
    pub fn channel(&self) -> u16 {
        match *self {
            Frame::Method { channel, .. }
            | Frame::Header { channel, .. }
            | Frame::Body { channel, .. }
            | Frame::Heartbeat { channel } => channel,
        }
    }

    /// Appends the whole frame to `buf` (a body is written as one frame,
    /// whatever its size: see [`encode_body_frames`] to split).
    pub fn encode(&self, buf: &mut BytesMut) {
        match self {
            Frame::Method { channel, method } => encode_method_frame(buf, *channel, method),
            Frame::Header { channel, header } => encode_header_frame(
                buf,
                *channel,
                header.class_id,
                header.body_size,
                &header.properties,
            ),
            Frame::Body { channel, payload } => {
                write_frame(buf, frame_type::BODY, *channel, |buf| {
                    buf.put_slice(payload)
                })
            }
            Frame::Heartbeat { channel } => {
                write_frame(buf, frame_type::HEARTBEAT, *channel, |_| {})
            }
        }
    }
}

/// Decodes one frame from the front of `buf`. `Ok(None)` = need more bytes
/// (nothing consumed).
///
/// `frame_max` is the negotiated maximum frame size INCLUDING the 8 bytes of
/// overhead (0 = no limit); a frame whose declared size exceeds it is reported
/// from the 7-byte header alone, before the payload arrives, and so is an
/// unknown frame type. Body payloads, short strings, long strings and raw
/// properties are zero-copy slices of `buf` (`split_to` + `freeze`).
///
/// On `Err` the connection must be closed: `buf` is left as it was for
/// framing errors, and with the bad frame consumed for payloads that do not
/// decode.
pub fn decode_frame(buf: &mut BytesMut, frame_max: u32) -> Result<Option<Frame>, FrameError> {
    if buf.len() < FRAME_HEADER_SIZE {
        return Ok(None);
    }
    let kind = buf[0];
    let channel = u16::from_be_bytes([buf[1], buf[2]]);
    let size = u32::from_be_bytes([buf[3], buf[4], buf[5], buf[6]]);
    if !matches!(
        kind,
        frame_type::METHOD | frame_type::HEADER | frame_type::BODY | frame_type::HEARTBEAT
    ) {
        return Err(FrameError::UnknownFrameType(kind));
    }
    let total = u64::from(size) + FRAME_OVERHEAD as u64;
    if frame_max != 0 && total > u64::from(frame_max) {
        return Err(FrameError::TooLarge {
            size: u32::try_from(total).unwrap_or(u32::MAX),
            max: frame_max,
        });
    }
    let Ok(total) = usize::try_from(total) else {
        // Cannot be buffered on this platform anyway.
        return Err(FrameError::TooLarge {
            size: u32::MAX,
            max: frame_max,
        });
    };
    if buf.len() < total {
        return Ok(None);
    }
    let end = buf[total - 1];
    if end != FRAME_END {
        return Err(FrameError::BadFrameEnd(end));
    }
    let mut payload = buf.split_to(total).freeze();
    payload.advance(FRAME_HEADER_SIZE);
    payload.truncate(total - FRAME_OVERHEAD);
    let frame = match kind {
        frame_type::METHOD => Frame::Method {
            channel,
            method: Method::decode(payload)?,
        },
        frame_type::HEADER => Frame::Header {
            channel,
            header: ContentHeader::decode(payload)?,
        },
        frame_type::BODY => Frame::Body { channel, payload },
        _ => {
            // Heartbeat: RabbitMQ only accepts an empty payload.
            if !payload.is_empty() {
                return Err(DecodeError::TrailingBytes.into());
            }
            Frame::Heartbeat { channel }
        }
    };
    Ok(Some(frame))
}

/// Writes a frame: header with a size placeholder, payload from `f`, size
/// patched in place, frame end. One pass over the payload.
#[inline]
fn write_frame(buf: &mut BytesMut, kind: u8, channel: u16, f: impl FnOnce(&mut BytesMut)) {
    buf.put_u8(kind);
    buf.put_u16(channel);
    wire::with_u32_len(buf, f);
    buf.put_u8(FRAME_END);
}

/// Appends a method frame.
pub fn encode_method_frame(buf: &mut BytesMut, channel: u16, method: &Method) {
    write_frame(buf, frame_type::METHOD, channel, |buf| method.encode(buf));
}

fn encode_header_payload(
    buf: &mut BytesMut,
    class_id: u16,
    body_size: u64,
    properties: &RawProperties,
) {
    buf.put_u16(class_id);
    buf.put_u16(0);
    buf.put_u64(body_size);
    if properties.0.is_empty() {
        buf.put_u16(0);
    } else {
        buf.put_slice(&properties.0);
    }
}

/// Appends a content header frame; the properties are copied verbatim
/// (empty properties are written as a zero flags word).
pub fn encode_header_frame(
    buf: &mut BytesMut,
    channel: u16,
    class_id: u16,
    body_size: u64,
    properties: &RawProperties,
) {
    write_frame(buf, frame_type::HEADER, channel, |buf| {
        encode_header_payload(buf, class_id, body_size, properties)
    });
}

/// Splits `body` into as many body frames as needed so that no frame exceeds
/// `frame_max` (including the 8 bytes of overhead; 0 = no limit). An empty body
/// gives no frames.
pub fn encode_body_frames(buf: &mut BytesMut, channel: u16, body: &[u8], frame_max: u32) {
    if body.is_empty() {
        return;
    }
    let max_payload = if frame_max == 0 {
        u32::MAX as usize
    } else {
        // frame_max is at least 4096 once negotiated; never loop forever on less.
        (frame_max as usize).saturating_sub(FRAME_OVERHEAD).max(1)
    };
    let frames = body.len().div_ceil(max_payload);
    buf.reserve(body.len() + frames * FRAME_OVERHEAD);
    for chunk in body.chunks(max_payload) {
        buf.put_u8(frame_type::BODY);
        buf.put_u16(channel);
        buf.put_u32(chunk.len() as u32);
        buf.put_slice(chunk);
        buf.put_u8(FRAME_END);
    }
}

/// Appends a heartbeat frame (channel 0).
pub fn encode_heartbeat_frame(buf: &mut BytesMut) {
    buf.put_slice(&[frame_type::HEARTBEAT, 0, 0, 0, 0, 0, 0, FRAME_END]);
}

/// Hot path: a basic.deliver method frame written directly, without building
/// a [`Method`]. Strings longer than 255 bytes are cut at 255 bytes.
pub fn encode_deliver_frame(
    buf: &mut BytesMut,
    channel: u16,
    consumer_tag: &str,
    delivery_tag: u64,
    redelivered: bool,
    exchange: &str,
    routing_key: &str,
) {
    let c = consumer_tag.len().min(255);
    let e = exchange.len().min(255);
    let r = routing_key.len().min(255);
    let size = 4 + 1 + c + 8 + 1 + 1 + e + 1 + r;
    buf.reserve(size + FRAME_OVERHEAD);
    buf.put_u8(frame_type::METHOD);
    buf.put_u16(channel);
    buf.put_u32(size as u32);
    buf.put_u16(60);
    buf.put_u16(60);
    wire::put_shortstr_bytes(buf, consumer_tag.as_bytes());
    buf.put_u64(delivery_tag);
    buf.put_u8(u8::from(redelivered));
    wire::put_shortstr_bytes(buf, exchange.as_bytes());
    wire::put_shortstr_bytes(buf, routing_key.as_bytes());
    buf.put_u8(FRAME_END);
}

/// Hot path: [`encode_deliver_frame`] for a message that kept its exchange and routing key
/// as a [`Route`]: they are copied as they are (length bytes included).
pub fn encode_deliver_frame_route(
    buf: &mut BytesMut,
    channel: u16,
    consumer_tag: &str,
    delivery_tag: u64,
    redelivered: bool,
    route: &Route,
) {
    let c = consumer_tag.len().min(255);
    let route = route.as_bytes();
    let size = 4 + 1 + c + 8 + 1 + route.len();
    buf.reserve(size + FRAME_OVERHEAD);
    buf.put_u8(frame_type::METHOD);
    buf.put_u16(channel);
    buf.put_u32(size as u32);
    buf.put_u16(60);
    buf.put_u16(60);
    wire::put_shortstr_bytes(buf, consumer_tag.as_bytes());
    buf.put_u64(delivery_tag);
    buf.put_u8(u8::from(redelivered));
    buf.put_slice(route);
    buf.put_u8(FRAME_END);
}

/// Hot path: basic.ack from the broker to a publisher (confirms).
pub fn encode_ack_frame(buf: &mut BytesMut, channel: u16, delivery_tag: u64, multiple: bool) {
    buf.reserve(21);
    buf.put_u8(frame_type::METHOD);
    buf.put_u16(channel);
    buf.put_u32(13);
    buf.put_u16(60);
    buf.put_u16(80);
    buf.put_u64(delivery_tag);
    buf.put_u8(u8::from(multiple));
    buf.put_u8(FRAME_END);
}

/// Hot path: basic.nack from the broker to a publisher (confirms).
pub fn encode_nack_frame(
    buf: &mut BytesMut,
    channel: u16,
    delivery_tag: u64,
    multiple: bool,
    requeue: bool,
) {
    buf.reserve(21);
    buf.put_u8(frame_type::METHOD);
    buf.put_u16(channel);
    buf.put_u32(13);
    buf.put_u16(60);
    buf.put_u16(120);
    buf.put_u64(delivery_tag);
    buf.put_u8(u8::from(multiple) | (u8::from(requeue) << 1));
    buf.put_u8(FRAME_END);
}
