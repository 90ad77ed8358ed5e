//! A hand-written, zero-copy AMQP 0-9-1 codec (no I/O) over [`bytes::Bytes`],
//! speaking RabbitMQ's dialect: its field-table type letters (the errata set
//! `t b B s u I i l f d D S A T F V x`) and its protocol extensions
//! (exchange.bind/unbind, basic.nack, confirm.select, connection.blocked,
//! connection.update-secret).
//!
//! # Invariants
//!
//! * **Never panics on input.** Every read checks the remaining length first;
//!   truncated, oversized or garbage input yields a [`FrameError`] or
//!   [`DecodeError`]. Nesting of tables/arrays is capped at
//!   [`MAX_NESTING_DEPTH`] so hostile input cannot overflow the stack.
//! * **Zero-copy decode.** [`decode_frame`] splits the frame off the receive
//!   buffer (`split_to` + `freeze`); body payloads, [`ShortStr`]s, long strings,
//!   a publish's [`Route`] and [`RawProperties`] are slices of that frame's `Bytes`. Decoding a
//!   basic.publish + header + body allocates nothing per message (a method
//!   argument table, if any, allocates its entry vector).
//! * **Properties are forwarded verbatim.** A content header keeps its
//!   property bytes as [`RawProperties`]; the cheap accessors
//!   ([`RawProperties::delivery_mode`], ...) scan without a full decode.
//! * **One-pass encode.** Frame writers reserve the 7-byte header, write the
//!   payload, then patch the size; [`encode_deliver_frame`],
//!   [`encode_ack_frame`] and [`encode_nack_frame`] write the hot-path frames
//!   without building a [`Method`].
//! * **Reply codes follow RabbitMQ.** Framing errors are 501 FRAME_ERROR, as are
//!   method payloads that do not decode (RabbitMQ's "cannot decode"); an
//!   unknown class/method is 540 NOT_IMPLEMENTED. See [`DecodeError::reply_code`].
//!
//! # Example
//!
//! ```
//! use bytes::BytesMut;
//! use warren_amqp::*;
//!
//! // What a client sends...
//! let mut wire = BytesMut::new();
//! let publish = BasicPublish {
//!     route: Route::new("amq.topic", "a.b").unwrap(),
//!     ..Default::default()
//! };
//! encode_method_frame(&mut wire, 1, &publish.into());
//! let props = BasicProperties { delivery_mode: Some(2), ..Default::default() };
//! encode_header_frame(&mut wire, 1, 60, 5, &props.encode());
//! encode_body_frames(&mut wire, 1, b"hello", 131_072);
//!
//! // ...and how the broker's reader takes it apart (frame_max 128 KiB).
//! let mut frames = Vec::new();
//! while let Some(frame) = decode_frame(&mut wire, 131_072)? {
//!     frames.push(frame);
//! }
//! let Frame::Method { method: Method::BasicPublish(p), .. } = &frames[0] else { panic!() };
//! assert_eq!(p.routing_key(), "a.b");
//! let Frame::Header { header, .. } = &frames[1] else { panic!() };
//! assert_eq!(header.properties.delivery_mode(), Some(2));
//! assert_eq!(frames[2], Frame::Body { channel: 1, payload: "hello".into() });
//! # Ok::<(), FrameError>(())
//! ```
//!
//! Method names ([`Method::name`], [`method_name`]) are spelled as RabbitMQ
//! spells them in its logs and errors: its Erlang record names, e.g.
//! `queue.declare`, `basic.get_ok`, `connection.start_ok`.

#![warn(missing_debug_implementations)]

pub mod constants;
pub mod error;
pub mod frame;
pub mod method;
pub mod properties;
pub mod types;
mod wire;

pub use constants::{
    class_id, frame_type, is_hard_error, reply_code, reply_code_name, FRAME_END, FRAME_HEADER_SIZE,
    FRAME_MIN_SIZE, FRAME_OVERHEAD, PROTOCOL_HEADER,
};
pub use error::{DecodeError, FrameError, MAX_NESTING_DEPTH};
pub use frame::{
    decode_frame, encode_ack_frame, encode_body_frames, encode_deliver_frame,
    encode_deliver_frame_route, encode_header_frame, encode_heartbeat_frame, encode_method_frame,
    encode_nack_frame, ContentHeader, Frame,
};
pub use method::*;
pub use properties::{BasicProperties, RawProperties};
pub use types::{FieldTable, FieldValue, Route, ShortStr};
