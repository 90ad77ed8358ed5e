//! Content-header properties of class basic.

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::DecodeError;
use crate::types::{FieldTable, ShortStr};
use crate::wire;

// Property flag bits, in wire order (bit 15 first).
const CONTENT_TYPE: u16 = 1 << 15;
const CONTENT_ENCODING: u16 = 1 << 14;
const HEADERS: u16 = 1 << 13;
const DELIVERY_MODE: u16 = 1 << 12;
const PRIORITY: u16 = 1 << 11;
const CORRELATION_ID: u16 = 1 << 10;
const REPLY_TO: u16 = 1 << 9;
const EXPIRATION: u16 = 1 << 8;
const MESSAGE_ID: u16 = 1 << 7;
const TIMESTAMP: u16 = 1 << 6;
const KIND: u16 = 1 << 5;
const USER_ID: u16 = 1 << 4;
const APP_ID: u16 = 1 << 3;
const CLUSTER_ID: u16 = 1 << 2;

/// How each property is laid out, in wire order.
#[derive(Clone, Copy)]
enum Kind {
    ShortStr,
    Table,
    Octet,
    LongLong,
}

const LAYOUT: [(u16, Kind); 14] = [
    (CONTENT_TYPE, Kind::ShortStr),
    (CONTENT_ENCODING, Kind::ShortStr),
    (HEADERS, Kind::Table),
    (DELIVERY_MODE, Kind::Octet),
    (PRIORITY, Kind::Octet),
    (CORRELATION_ID, Kind::ShortStr),
    (REPLY_TO, Kind::ShortStr),
    (EXPIRATION, Kind::ShortStr),
    (MESSAGE_ID, Kind::ShortStr),
    (TIMESTAMP, Kind::LongLong),
    (KIND, Kind::ShortStr),
    (USER_ID, Kind::ShortStr),
    (APP_ID, Kind::ShortStr),
    (CLUSTER_ID, Kind::ShortStr),
];

/// Content-header properties for class basic, kept as the raw bytes received
/// (property flags + property list), forwarded verbatim on delivery. The cheap
/// accessors scan the bytes without a full decode.
///
/// Empty bytes mean "no properties" (flags 0). Unknown flag bits (bit 1, and
/// continuation flag words) are ignored, and so are bytes after the last
/// property present: properties are forwarded verbatim, so the decoder is
/// lenient about what it does not need.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RawProperties(pub Bytes);

impl RawProperties {
    /// Reads the flag words; returns the first one and the property list.
    fn flags(&self) -> Result<(u16, Bytes), DecodeError> {
        let mut buf = self.0.clone();
        if buf.is_empty() {
            return Ok((0, buf));
        }
        let flags = wire::get_short(&mut buf)?;
        let mut more = flags & 1 != 0;
        while more {
            more = wire::get_short(&mut buf)? & 1 != 0;
        }
        Ok((flags, buf))
    }

    /// The property list positioned at property `bit` if it is present.
    fn seek(&self, bit: u16) -> Option<Bytes> {
        let (flags, mut buf) = self.flags().ok()?;
        if flags & bit == 0 {
            return None;
        }
        for (b, kind) in LAYOUT {
            if b == bit {
                return Some(buf);
            }
            if flags & b != 0 {
                skip(&mut buf, kind).ok()?;
            }
        }
        None
    }

    /// Fully decodes the properties.
    pub fn decode(&self) -> Result<BasicProperties, DecodeError> {
        let (flags, mut buf) = self.flags()?;
        let buf = &mut buf;
        let mut p = BasicProperties::default();
        let has = |bit: u16| flags & bit != 0;
        if has(CONTENT_TYPE) {
            p.content_type = Some(wire::get_shortstr(buf)?);
        }
        if has(CONTENT_ENCODING) {
            p.content_encoding = Some(wire::get_shortstr(buf)?);
        }
        if has(HEADERS) {
            p.headers = Some(FieldTable::decode(buf)?);
        }
        if has(DELIVERY_MODE) {
            p.delivery_mode = Some(wire::get_u8(buf)?);
        }
        if has(PRIORITY) {
            p.priority = Some(wire::get_u8(buf)?);
        }
        if has(CORRELATION_ID) {
            p.correlation_id = Some(wire::get_shortstr(buf)?);
        }
        if has(REPLY_TO) {
            p.reply_to = Some(wire::get_shortstr(buf)?);
        }
        if has(EXPIRATION) {
            p.expiration = Some(wire::get_shortstr(buf)?);
        }
        if has(MESSAGE_ID) {
            p.message_id = Some(wire::get_shortstr(buf)?);
        }
        if has(TIMESTAMP) {
            p.timestamp = Some(wire::get_longlong(buf)?);
        }
        if has(KIND) {
            p.kind = Some(wire::get_shortstr(buf)?);
        }
        if has(USER_ID) {
            p.user_id = Some(wire::get_shortstr(buf)?);
        }
        if has(APP_ID) {
            p.app_id = Some(wire::get_shortstr(buf)?);
        }
        if has(CLUSTER_ID) {
            p.cluster_id = Some(wire::get_shortstr(buf)?);
        }
        Ok(p)
    }

    /// The delivery mode (2 = persistent); `None` if absent or malformed.
    pub fn delivery_mode(&self) -> Option<u8> {
        self.seek(DELIVERY_MODE)?.first().copied()
    }

    /// The priority; `None` if absent or malformed.
    pub fn priority(&self) -> Option<u8> {
        self.seek(PRIORITY)?.first().copied()
    }

    /// The per-message TTL string; `None` if absent or malformed.
    pub fn expiration(&self) -> Option<ShortStr> {
        wire::get_shortstr(&mut self.seek(EXPIRATION)?).ok()
    }

    /// The reply-to address. Reads the flag word in place first, so a message without one
    /// (the usual case) costs two byte loads.
    pub fn reply_to(&self) -> Option<ShortStr> {
        let flags = u16::from_be_bytes([*self.0.first()?, *self.0.get(1)?]);
        if flags & REPLY_TO == 0 {
            return None;
        }
        wire::get_shortstr(&mut self.seek(REPLY_TO)?).ok()
    }

    /// The user id (checked against the connection's user by RabbitMQ).
    pub fn user_id(&self) -> Option<ShortStr> {
        wire::get_shortstr(&mut self.seek(USER_ID)?).ok()
    }

    /// The timestamp; `None` if absent or malformed.
    pub fn timestamp(&self) -> Option<u64> {
        wire::get_longlong(&mut self.seek(TIMESTAMP)?).ok()
    }

    /// Decodes only the headers table; `None` if absent or malformed.
    pub fn headers(&self) -> Option<FieldTable> {
        FieldTable::decode(&mut self.seek(HEADERS)?).ok()
    }

    /// True if the headers flag is set.
    pub fn has_headers(&self) -> bool {
        self.flags().is_ok_and(|(flags, _)| flags & HEADERS != 0)
    }

    /// The property flags word (0 for empty properties or a truncated one).
    pub fn flags_word(&self) -> u16 {
        self.flags().map(|(f, _)| f).unwrap_or(0)
    }
}

fn skip(buf: &mut Bytes, kind: Kind) -> Result<(), DecodeError> {
    match kind {
        Kind::ShortStr => wire::skip_shortstr(buf),
        Kind::Table => wire::skip_longstr(buf),
        Kind::Octet => wire::skip(buf, 1),
        Kind::LongLong => wire::skip(buf, 8),
    }
}

/// Decoded content-header properties of class basic.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BasicProperties {
    pub content_type: Option<ShortStr>,
    pub content_encoding: Option<ShortStr>,
    pub headers: Option<FieldTable>,
    pub delivery_mode: Option<u8>,
    pub priority: Option<u8>,
    pub correlation_id: Option<ShortStr>,
    pub reply_to: Option<ShortStr>,
    pub expiration: Option<ShortStr>,
    pub message_id: Option<ShortStr>,
    pub timestamp: Option<u64>,
    /// The `type` property.
    pub kind: Option<ShortStr>,
    pub user_id: Option<ShortStr>,
    pub app_id: Option<ShortStr>,
    pub cluster_id: Option<ShortStr>,
}

impl BasicProperties {
    /// Encodes to property flags + property list.
    pub fn encode(&self) -> RawProperties {
        let mut buf = BytesMut::with_capacity(self.encoded_len());
        self.encode_into(&mut buf);
        RawProperties(buf.freeze())
    }

    /// Appends property flags + property list to `buf`.
    pub fn encode_into(&self, buf: &mut BytesMut) {
        let mut flags = 0u16;
        let mut set = |bit: u16, present: bool| {
            if present {
                flags |= bit;
            }
        };
        set(CONTENT_TYPE, self.content_type.is_some());
        set(CONTENT_ENCODING, self.content_encoding.is_some());
        set(HEADERS, self.headers.is_some());
        set(DELIVERY_MODE, self.delivery_mode.is_some());
        set(PRIORITY, self.priority.is_some());
        set(CORRELATION_ID, self.correlation_id.is_some());
        set(REPLY_TO, self.reply_to.is_some());
        set(EXPIRATION, self.expiration.is_some());
        set(MESSAGE_ID, self.message_id.is_some());
        set(TIMESTAMP, self.timestamp.is_some());
        set(KIND, self.kind.is_some());
        set(USER_ID, self.user_id.is_some());
        set(APP_ID, self.app_id.is_some());
        set(CLUSTER_ID, self.cluster_id.is_some());
        buf.put_u16(flags);
        let s = |buf: &mut BytesMut, v: &Option<ShortStr>| {
            if let Some(v) = v {
                wire::put_shortstr(buf, v);
            }
        };
        s(buf, &self.content_type);
        s(buf, &self.content_encoding);
        if let Some(h) = &self.headers {
            h.encode(buf);
        }
        if let Some(v) = self.delivery_mode {
            buf.put_u8(v);
        }
        if let Some(v) = self.priority {
            buf.put_u8(v);
        }
        s(buf, &self.correlation_id);
        s(buf, &self.reply_to);
        s(buf, &self.expiration);
        s(buf, &self.message_id);
        if let Some(v) = self.timestamp {
            buf.put_u64(v);
        }
        s(buf, &self.kind);
        s(buf, &self.user_id);
        s(buf, &self.app_id);
        s(buf, &self.cluster_id);
    }

    /// Size of [`encode`](Self::encode)'s output.
    pub fn encoded_len(&self) -> usize {
        let s = |v: &Option<ShortStr>| v.as_ref().map_or(0, |v| 1 + v.len());
        2 + s(&self.content_type)
            + s(&self.content_encoding)
            + self.headers.as_ref().map_or(0, |h| h.encoded_len())
            + usize::from(self.delivery_mode.is_some())
            + usize::from(self.priority.is_some())
            + s(&self.correlation_id)
            + s(&self.reply_to)
            + s(&self.expiration)
            + s(&self.message_id)
            + self.timestamp.map_or(0, |_| 8)
            + s(&self.kind)
            + s(&self.user_id)
            + s(&self.app_id)
            + s(&self.cluster_id)
    }
}

impl From<&BasicProperties> for RawProperties {
    fn from(p: &BasicProperties) -> Self {
        p.encode()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_zero_flag_properties() {
        let empty = RawProperties::default();
        assert_eq!(empty.decode().unwrap(), BasicProperties::default());
        assert_eq!(empty.delivery_mode(), None);
        assert!(!empty.has_headers());
        let zero = BasicProperties::default().encode();
        assert_eq!(&zero.0[..], &[0, 0]);
    }

    #[test]
    fn accessors_skip_preceding_fields() {
        let mut headers = FieldTable::new();
        headers.insert(
            ShortStr::from_static("x-match"),
            crate::FieldValue::LongStr(Bytes::from_static(b"all")),
        );
        let p = BasicProperties {
            content_type: Some(ShortStr::from_static("text/plain")),
            headers: Some(headers.clone()),
            delivery_mode: Some(2),
            priority: Some(9),
            expiration: Some(ShortStr::from_static("60000")),
            ..Default::default()
        };
        let raw = p.encode();
        assert_eq!(raw.flags_word(), 0x8000 | 0x2000 | 0x1000 | 0x0800 | 0x0100);
        assert_eq!(raw.delivery_mode(), Some(2));
        assert_eq!(raw.priority(), Some(9));
        assert_eq!(raw.expiration().as_deref(), Some("60000"));
        assert_eq!(raw.headers(), Some(headers));
        assert!(raw.has_headers());
        assert_eq!(raw.user_id(), None);
    }

    #[test]
    fn continuation_flag_words_are_skipped() {
        // flags: delivery-mode + continuation bit; a second (empty) flag word.
        let raw = RawProperties(Bytes::from_static(&[0x10, 0x01, 0x00, 0x00, 2]));
        assert_eq!(raw.delivery_mode(), Some(2));
        assert_eq!(raw.decode().unwrap().delivery_mode, Some(2));
    }
}
