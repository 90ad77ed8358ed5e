//! Decode and framing errors, and the AMQP reply code each maps to.

use crate::constants::reply_code;

/// Deepest nesting of tables/arrays inside a field value that the decoder accepts.
///
/// Each nested value costs only 5 bytes on the wire, so without a limit a single
/// 128 KiB frame could make the (recursive) decoder overflow a 2 MiB thread stack.
pub const MAX_NESTING_DEPTH: usize = 64;

/// A method, content header or field table that does not decode.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// The payload ended before all the fields were read.
    #[error("truncated payload")]
    Truncated,
    /// The class id / method id pair is not an AMQP 0-9-1 (RabbitMQ) method.
    #[error("unknown method {class_id}/{method_id}")]
    UnknownMethod { class_id: u16, method_id: u16 },
    /// A field table or array value has a type letter outside RabbitMQ's set.
    #[error("unknown field value type {0:#04x}")]
    UnknownFieldType(u8),
    /// A short string (or a field table key) is not valid UTF-8.
    #[error("short string is not valid UTF-8")]
    InvalidUtf8,
    /// Bytes were left in the payload after the last field of the method.
    #[error("trailing bytes after the method arguments")]
    TrailingBytes,
    /// A string longer than 255 bytes where a short string is required.
    #[error("short string longer than 255 bytes")]
    ShortStrTooLong,
    /// Tables/arrays nested deeper than [`MAX_NESTING_DEPTH`].
    #[error("field values nested too deeply")]
    TooDeep,
}

impl DecodeError {
    /// The reply code to close the connection with.
    ///
    /// RabbitMQ's generated `decode_method_fields/2` falls back to
    /// `rabbit_misc:frame_error/2` ("FRAME_ERROR - cannot decode ...") whenever
    /// a method's argument binary does not match its pattern, which covers
    /// truncated payloads, trailing bytes and undecodable tables: all of those
    /// are 501 FRAME_ERROR here too. RabbitMQ does not check UTF-8 nor nesting
    /// depth; we treat both as the same kind of undecodable payload (501).
    /// An unknown class/method id makes RabbitMQ's reader crash
    /// (`exit({unknown_method_id, Id})`) and drop the socket without a close;
    /// we send 540 NOT_IMPLEMENTED, the spec's code for an unsupported method.
    /// `ShortStrTooLong` only arises when building values (never when decoding
    /// a frame) and maps to 502 SYNTAX_ERROR.
    pub fn reply_code(&self) -> u16 {
        match self {
            DecodeError::UnknownMethod { .. } => reply_code::NOT_IMPLEMENTED,
            DecodeError::ShortStrTooLong => reply_code::SYNTAX_ERROR,
            DecodeError::Truncated
            | DecodeError::UnknownFieldType(_)
            | DecodeError::InvalidUtf8
            | DecodeError::TrailingBytes
            | DecodeError::TooDeep => reply_code::FRAME_ERROR,
        }
    }
}

/// An error in the framing layer (or a payload that does not decode).
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// The octet after the payload was not [`FRAME_END`](crate::FRAME_END).
    #[error("frame end octet was {0:#04x}, expected 0xce")]
    BadFrameEnd(u8),
    /// The frame type octet is not 1 (method), 2 (header), 3 (body) or 8 (heartbeat).
    #[error("unknown frame type {0}")]
    UnknownFrameType(u8),
    /// The declared frame size (payload + 8 octets of overhead; saturating) exceeds
    /// the negotiated `frame_max`.
    #[error("frame size {size} exceeds frame_max {max}")]
    TooLarge { size: u32, max: u32 },
    /// A method or content header payload that does not decode.
    #[error("{0}")]
    Decode(#[from] DecodeError),
}

impl FrameError {
    /// 501 FRAME_ERROR for framing errors (as RabbitMQ's reader:
    /// `frame_too_large`, `invalid_frame_end_marker`, `unknown_frame` are all
    /// `frame_error`), [`DecodeError::reply_code`] for payloads that do not decode.
    pub fn reply_code(&self) -> u16 {
        match self {
            FrameError::BadFrameEnd(_)
            | FrameError::UnknownFrameType(_)
            | FrameError::TooLarge { .. } => reply_code::FRAME_ERROR,
            FrameError::Decode(e) => e.reply_code(),
        }
    }
}
