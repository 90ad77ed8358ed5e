//! Short strings, field tables and field values (RabbitMQ's type letters).

use std::borrow::Borrow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;

use bytes::{BufMut, Bytes, BytesMut};
use bytestring::ByteString;

use crate::error::{DecodeError, MAX_NESTING_DEPTH};
use crate::wire;

/// A short string: at most 255 bytes, valid UTF-8, backed by [`Bytes`] (a
/// slice of the received frame, zero-copy).
///
/// The invariants (length and UTF-8) are checked by every constructor.
/// Because the crate forbids `unsafe`, [`as_str`](Self::as_str) re-runs the
/// (fast, at most 255 bytes) UTF-8 check instead of using an unchecked cast;
/// it never fails.
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct ShortStr(ByteString);

impl ShortStr {
    /// Maximum length in bytes.
    pub const MAX_LEN: usize = 255;

    /// A short string from a static string (no allocation).
    ///
    /// # Panics
    /// If `s` is longer than 255 bytes (only for strings written in our code).
    pub const fn from_static(s: &'static str) -> Self {
        assert!(
            s.len() <= Self::MAX_LEN,
            "short string longer than 255 bytes"
        );
        ShortStr(ByteString::from_static(s))
    }

    /// Wraps bytes after checking length (<= 255) and UTF-8 (zero-copy).
    pub fn from_bytes(bytes: Bytes) -> Result<Self, DecodeError> {
        if bytes.len() > Self::MAX_LEN {
            return Err(DecodeError::ShortStrTooLong);
        }
        // Validated once here; `as_str` is then free (ByteString keeps the proof).
        ByteString::try_from(bytes)
            .map(ShortStr)
            .map_err(|_| DecodeError::InvalidUtf8)
    }

    /// The same string in an allocation of its own. A decoded short string is a slice of its
    /// frame, which keeps the whole read buffer alive: what lives long (a queue's name, a
    /// binding key) is detached from it.
    pub fn detached(&self) -> Self {
        ShortStr(ByteString::from(self.as_str().to_owned()))
    }

    /// The string.
    #[inline]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    #[inline]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    #[inline]
    pub fn into_bytes(self) -> Bytes {
        self.0.into_bytes()
    }
}

impl TryFrom<String> for ShortStr {
    type Error = DecodeError;
    fn try_from(s: String) -> Result<Self, DecodeError> {
        if s.len() > Self::MAX_LEN {
            return Err(DecodeError::ShortStrTooLong);
        }
        Ok(ShortStr(ByteString::from(s)))
    }
}

impl TryFrom<&str> for ShortStr {
    type Error = DecodeError;
    fn try_from(s: &str) -> Result<Self, DecodeError> {
        if s.len() > Self::MAX_LEN {
            return Err(DecodeError::ShortStrTooLong);
        }
        Ok(ShortStr(ByteString::from(s)))
    }
}

impl TryFrom<Bytes> for ShortStr {
    type Error = DecodeError;
    fn try_from(b: Bytes) -> Result<Self, DecodeError> {
        ShortStr::from_bytes(b)
    }
}

impl From<ShortStr> for String {
    fn from(s: ShortStr) -> String {
        s.as_str().to_owned()
    }
}

impl Deref for ShortStr {
    type Target = str;
    #[inline]
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for ShortStr {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<[u8]> for ShortStr {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl Borrow<str> for ShortStr {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl Hash for ShortStr {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state)
    }
}

impl PartialEq<str> for ShortStr {
    fn eq(&self, other: &str) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl PartialEq<&str> for ShortStr {
    fn eq(&self, other: &&str) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl fmt::Display for ShortStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.as_str(), f)
    }
}

impl fmt::Debug for ShortStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

/// The exchange and routing key of a message, as `basic.publish` carries them and
/// `basic.deliver`, `basic.get-ok` and `basic.return` send them back: two short strings,
/// each after its length byte, in one buffer (`[len] exchange [len] routing key`).
///
/// Decoded from a publish it is one zero-copy slice of the frame, so a message keeps its
/// routing information in one [`Bytes`] instead of two; encoding copies it verbatim.
///
/// Invariant: exactly those two length-prefixed strings, both valid UTF-8 (every
/// constructor checks). As the crate forbids `unsafe`, [`exchange`](Self::exchange) and
/// [`routing_key`](Self::routing_key) re-run the (fast, at most 255 bytes) UTF-8 check;
/// they never fail.
#[derive(Clone, PartialEq, Eq)]
pub struct Route(Bytes);

impl Route {
    /// A route from two strings (copies them into a new buffer).
    pub fn new(exchange: &str, routing_key: &str) -> Result<Route, DecodeError> {
        if exchange.len() > ShortStr::MAX_LEN || routing_key.len() > ShortStr::MAX_LEN {
            return Err(DecodeError::ShortStrTooLong);
        }
        let mut b = BytesMut::with_capacity(2 + exchange.len() + routing_key.len());
        wire::put_shortstr_bytes(&mut b, exchange.as_bytes());
        wire::put_shortstr_bytes(&mut b, routing_key.as_bytes());
        Ok(Route(b.freeze()))
    }

    /// A route from two short strings (which always fit; copies them into a new buffer).
    pub fn from_short(exchange: &ShortStr, routing_key: &ShortStr) -> Route {
        let mut b = BytesMut::with_capacity(2 + exchange.len() + routing_key.len());
        wire::put_shortstr(&mut b, exchange);
        wire::put_shortstr(&mut b, routing_key);
        Route(b.freeze())
    }

    /// Takes a route off the front of `buf` (zero-copy), checking both strings.
    pub fn decode(buf: &mut Bytes) -> Result<Route, DecodeError> {
        // The same checks, in the same order, as two `get_shortstr` calls.
        let e = usize::from(*buf.first().ok_or(DecodeError::Truncated)?);
        wire::need(buf, 1 + e)?;
        std::str::from_utf8(&buf[1..1 + e]).map_err(|_| DecodeError::InvalidUtf8)?;
        let r = usize::from(*buf.get(1 + e).ok_or(DecodeError::Truncated)?);
        let end = 2 + e + r;
        wire::need(buf, end)?;
        std::str::from_utf8(&buf[2 + e..end]).map_err(|_| DecodeError::InvalidUtf8)?;
        Ok(Route(buf.split_to(end)))
    }

    /// A route that is exactly `bytes` (zero-copy), checked: `[len] exchange [len] key`.
    pub fn from_bytes(bytes: Bytes) -> Result<Route, DecodeError> {
        let mut rest = bytes;
        let route = Route::decode(&mut rest)?;
        if rest.is_empty() {
            Ok(route)
        } else {
            Err(DecodeError::TrailingBytes)
        }
    }

    fn exchange_range(&self) -> std::ops::Range<usize> {
        let e = self.0.first().map_or(0, |&n| usize::from(n));
        1..1 + e
    }

    fn routing_key_range(&self) -> std::ops::Range<usize> {
        let at = self.exchange_range().end;
        let r = self.0.get(at).map_or(0, |&n| usize::from(n));
        at + 1..at + 1 + r
    }

    fn str_at(&self, range: std::ops::Range<usize>) -> &str {
        self.0
            .get(range)
            .and_then(|b| std::str::from_utf8(b).ok())
            .unwrap_or_default()
    }

    /// The exchange name.
    #[inline]
    pub fn exchange(&self) -> &str {
        self.str_at(self.exchange_range())
    }

    /// The routing key.
    #[inline]
    pub fn routing_key(&self) -> &str {
        self.str_at(self.routing_key_range())
    }

    /// The exchange name as a [`ShortStr`] (a zero-copy slice).
    pub fn exchange_short(&self) -> ShortStr {
        ShortStr::from_bytes(self.0.slice(self.exchange_range())).unwrap_or_default()
    }

    /// The routing key as a [`ShortStr`] (a zero-copy slice).
    pub fn routing_key_short(&self) -> ShortStr {
        ShortStr::from_bytes(self.0.slice(self.routing_key_range())).unwrap_or_default()
    }

    /// The wire form: both strings with their length bytes, as encoders write them.
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl Default for Route {
    /// The default exchange and an empty routing key.
    fn default() -> Route {
        Route(Bytes::from_static(b"\0\0"))
    }
}

impl fmt::Debug for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Route")
            .field("exchange", &self.exchange())
            .field("routing_key", &self.routing_key())
            .finish()
    }
}

/// A field table: `(key, value)` pairs in the order received (duplicates kept
/// as received; [`get`](Self::get) returns the first).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FieldTable(pub Vec<(ShortStr, FieldValue)>);

impl FieldTable {
    /// The same table over one allocation of its own (see [`ShortStr::detached`]): encoded
    /// and decoded again, so its strings no longer keep the frame they came in alive.
    pub fn detached(&self) -> FieldTable {
        if self.0.is_empty() {
            return FieldTable::new();
        }
        let mut buf = bytes::BytesMut::new();
        crate::wire::put_table(&mut buf, self);
        crate::wire::get_table(&mut buf.freeze()).unwrap_or_else(|_| self.clone())
    }

    pub fn new() -> Self {
        FieldTable(Vec::new())
    }

    /// The value of the first entry named `key`.
    pub fn get(&self, key: &str) -> Option<&FieldValue> {
        self.0
            .iter()
            .find(|(k, _)| k.as_bytes() == key.as_bytes())
            .map(|(_, v)| v)
    }

    /// Sets `key`: replaces the value of an existing entry in place, else appends.
    pub fn insert(&mut self, key: ShortStr, value: FieldValue) {
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some(entry) => entry.1 = value,
            None => self.0.push((key, value)),
        }
    }

    /// Removes the first entry named `key` and returns its value.
    pub fn remove(&mut self, key: &str) -> Option<FieldValue> {
        let i = self
            .0
            .iter()
            .position(|(k, _)| k.as_bytes() == key.as_bytes())?;
        Some(self.0.remove(i).1)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = &(ShortStr, FieldValue)> {
        self.0.iter()
    }

    /// Writes the table with its u32 length prefix.
    pub fn encode(&self, buf: &mut BytesMut) {
        wire::with_u32_len(buf, |buf| self.encode_entries(buf));
    }

    fn encode_entries(&self, buf: &mut BytesMut) {
        for (k, v) in &self.0 {
            wire::put_shortstr(buf, k);
            v.encode(buf);
        }
    }

    /// Reads a table (u32 length prefix, then entries) from the front of `buf`.
    /// Keys, long strings and byte arrays are zero-copy slices of `buf`.
    pub fn decode(buf: &mut Bytes) -> Result<FieldTable, DecodeError> {
        Self::decode_depth(buf, 0)
    }

    fn decode_depth(buf: &mut Bytes, depth: usize) -> Result<FieldTable, DecodeError> {
        let len = wire::get_long(buf)? as usize;
        let mut body = wire::take(buf, len)?;
        let mut entries = Vec::new();
        while !body.is_empty() {
            let key = wire::get_shortstr(&mut body)?;
            let value = FieldValue::decode_depth(&mut body, depth)?;
            entries.push((key, value));
        }
        Ok(FieldTable(entries))
    }

    /// Encoded size including the 4-byte length prefix.
    pub fn encoded_len(&self) -> usize {
        4 + self
            .0
            .iter()
            .map(|(k, v)| 1 + k.len() + v.encoded_len())
            .sum::<usize>()
    }
}

impl FromIterator<(ShortStr, FieldValue)> for FieldTable {
    fn from_iter<I: IntoIterator<Item = (ShortStr, FieldValue)>>(iter: I) -> Self {
        FieldTable(iter.into_iter().collect())
    }
}

impl<'a> IntoIterator for &'a FieldTable {
    type Item = &'a (ShortStr, FieldValue);
    type IntoIter = std::slice::Iter<'a, (ShortStr, FieldValue)>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// A field value, with RabbitMQ's type letters (the 0-9-1 errata set).
#[derive(Clone, Debug, PartialEq)]
pub enum FieldValue {
    /// `t`
    Bool(bool),
    /// `b`
    I8(i8),
    /// `B`
    U8(u8),
    /// `s`
    I16(i16),
    /// `u`
    U16(u16),
    /// `I`
    I32(i32),
    /// `i`
    U32(u32),
    /// `l`
    I64(i64),
    /// `f`
    F32(f32),
    /// `d`
    F64(f64),
    /// `D`: `value` / 10^`scale`.
    Decimal { scale: u8, value: u32 },
    /// `S` (bytes, usually but not necessarily UTF-8)
    LongStr(Bytes),
    /// `A`
    Array(Vec<FieldValue>),
    /// `T` (seconds since the epoch)
    Timestamp(u64),
    /// `F`
    Table(FieldTable),
    /// `V`
    Void,
    /// `x`
    ByteArray(Bytes),
}

impl FieldValue {
    /// The type letter written on the wire.
    pub fn type_letter(&self) -> u8 {
        match self {
            FieldValue::Bool(_) => b't',
            FieldValue::I8(_) => b'b',
            FieldValue::U8(_) => b'B',
            FieldValue::I16(_) => b's',
            FieldValue::U16(_) => b'u',
            FieldValue::I32(_) => b'I',
            FieldValue::U32(_) => b'i',
            FieldValue::I64(_) => b'l',
            FieldValue::F32(_) => b'f',
            FieldValue::F64(_) => b'd',
            FieldValue::Decimal { .. } => b'D',
            FieldValue::LongStr(_) => b'S',
            FieldValue::Array(_) => b'A',
            FieldValue::Timestamp(_) => b'T',
            FieldValue::Table(_) => b'F',
            FieldValue::Void => b'V',
            FieldValue::ByteArray(_) => b'x',
        }
    }

    /// Any integer type (`b B s u I i l`) as i64.
    pub fn as_i64(&self) -> Option<i64> {
        Some(match *self {
            FieldValue::I8(v) => v.into(),
            FieldValue::U8(v) => v.into(),
            FieldValue::I16(v) => v.into(),
            FieldValue::U16(v) => v.into(),
            FieldValue::I32(v) => v.into(),
            FieldValue::U32(v) => v.into(),
            FieldValue::I64(v) => v,
            _ => return None,
        })
    }

    /// A long string that is valid UTF-8.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            FieldValue::LongStr(b) => std::str::from_utf8(b).ok(),
            _ => None,
        }
    }

    /// The raw bytes of a long string or byte array.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            FieldValue::LongStr(b) | FieldValue::ByteArray(b) => Some(b),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match *self {
            FieldValue::Bool(b) => Some(b),
            _ => None,
        }
    }

    pub fn as_table(&self) -> Option<&FieldTable> {
        match self {
            FieldValue::Table(t) => Some(t),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&[FieldValue]> {
        match self {
            FieldValue::Array(a) => Some(a),
            _ => None,
        }
    }

    /// Writes the type letter and the value.
    pub fn encode(&self, buf: &mut BytesMut) {
        buf.put_u8(self.type_letter());
        match self {
            FieldValue::Bool(v) => buf.put_u8(u8::from(*v)),
            FieldValue::I8(v) => buf.put_i8(*v),
            FieldValue::U8(v) => buf.put_u8(*v),
            FieldValue::I16(v) => buf.put_i16(*v),
            FieldValue::U16(v) => buf.put_u16(*v),
            FieldValue::I32(v) => buf.put_i32(*v),
            FieldValue::U32(v) => buf.put_u32(*v),
            FieldValue::I64(v) => buf.put_i64(*v),
            FieldValue::F32(v) => buf.put_f32(*v),
            FieldValue::F64(v) => buf.put_f64(*v),
            FieldValue::Decimal { scale, value } => {
                buf.put_u8(*scale);
                buf.put_u32(*value);
            }
            FieldValue::LongStr(b) | FieldValue::ByteArray(b) => wire::put_longstr(buf, b),
            FieldValue::Array(values) => wire::with_u32_len(buf, |buf| {
                for v in values {
                    v.encode(buf);
                }
            }),
            FieldValue::Timestamp(v) => buf.put_u64(*v),
            FieldValue::Table(t) => t.encode(buf),
            FieldValue::Void => {}
        }
    }

    /// Encoded size including the type letter.
    pub fn encoded_len(&self) -> usize {
        1 + match self {
            FieldValue::Bool(_) | FieldValue::I8(_) | FieldValue::U8(_) => 1,
            FieldValue::I16(_) | FieldValue::U16(_) => 2,
            FieldValue::I32(_) | FieldValue::U32(_) | FieldValue::F32(_) => 4,
            FieldValue::I64(_) | FieldValue::F64(_) | FieldValue::Timestamp(_) => 8,
            FieldValue::Decimal { .. } => 5,
            FieldValue::LongStr(b) | FieldValue::ByteArray(b) => 4 + b.len(),
            FieldValue::Array(values) => 4 + values.iter().map(|v| v.encoded_len()).sum::<usize>(),
            FieldValue::Table(t) => t.encoded_len(),
            FieldValue::Void => 0,
        }
    }

    /// Reads a type letter and value from the front of `buf`.
    pub fn decode(buf: &mut Bytes) -> Result<FieldValue, DecodeError> {
        Self::decode_depth(buf, 0)
    }

    fn decode_depth(buf: &mut Bytes, depth: usize) -> Result<FieldValue, DecodeError> {
        let letter = wire::get_u8(buf)?;
        Ok(match letter {
            b't' => FieldValue::Bool(wire::get_u8(buf)? != 0),
            b'b' => FieldValue::I8(wire::get_u8(buf)? as i8),
            b'B' => FieldValue::U8(wire::get_u8(buf)?),
            b's' => FieldValue::I16(wire::get_short(buf)? as i16),
            b'u' => FieldValue::U16(wire::get_short(buf)?),
            b'I' => FieldValue::I32(wire::get_long(buf)? as i32),
            b'i' => FieldValue::U32(wire::get_long(buf)?),
            b'l' => FieldValue::I64(wire::get_longlong(buf)? as i64),
            b'f' => FieldValue::F32(f32::from_bits(wire::get_long(buf)?)),
            b'd' => FieldValue::F64(f64::from_bits(wire::get_longlong(buf)?)),
            b'D' => {
                let scale = wire::get_u8(buf)?;
                let value = wire::get_long(buf)?;
                FieldValue::Decimal { scale, value }
            }
            b'S' => FieldValue::LongStr(wire::get_longstr(buf)?),
            b'A' => {
                if depth >= MAX_NESTING_DEPTH {
                    return Err(DecodeError::TooDeep);
                }
                let len = wire::get_long(buf)? as usize;
                let mut body = wire::take(buf, len)?;
                let mut values = Vec::new();
                while !body.is_empty() {
                    values.push(FieldValue::decode_depth(&mut body, depth + 1)?);
                }
                FieldValue::Array(values)
            }
            b'T' => FieldValue::Timestamp(wire::get_longlong(buf)?),
            b'F' => {
                if depth >= MAX_NESTING_DEPTH {
                    return Err(DecodeError::TooDeep);
                }
                FieldValue::Table(FieldTable::decode_depth(buf, depth + 1)?)
            }
            b'V' => FieldValue::Void,
            b'x' => FieldValue::ByteArray(wire::get_longstr(buf)?),
            other => return Err(DecodeError::UnknownFieldType(other)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn shortstr_conversions_and_limits() {
        let s = ShortStr::from_static("amq.direct");
        assert_eq!(s.as_str(), "amq.direct");
        assert_eq!(s.len(), 10);
        assert!(!s.is_empty());
        assert_eq!(format!("{s}"), "amq.direct");
        assert_eq!(format!("{s:?}"), "\"amq.direct\"");
        assert!(s.starts_with("amq.")); // via Deref<Target = str>
        assert_eq!(s, "amq.direct");
        assert!(ShortStr::default().is_empty());

        let long = "x".repeat(256);
        assert_eq!(
            ShortStr::try_from(long.as_str()),
            Err(DecodeError::ShortStrTooLong)
        );
        assert_eq!(
            ShortStr::try_from(long.clone()),
            Err(DecodeError::ShortStrTooLong)
        );
        assert!(ShortStr::try_from(&long[..255]).is_ok());
        assert_eq!(
            ShortStr::from_bytes(Bytes::from_static(&[0xc3, 0x28])),
            Err(DecodeError::InvalidUtf8)
        );
        let owned = ShortStr::try_from(String::from("héllo")).unwrap();
        assert_eq!(owned.into_bytes(), Bytes::from_static("héllo".as_bytes()));
    }

    #[test]
    #[should_panic]
    fn from_static_panics_over_255() {
        let s: &'static str = Box::leak("y".repeat(256).into_boxed_str());
        let _ = ShortStr::from_static(s);
    }

    #[test]
    fn shortstr_hashmap_lookup_by_str() {
        let mut map = HashMap::new();
        map.insert(ShortStr::from_static("q1"), 1);
        map.insert(ShortStr::try_from("q2").unwrap(), 2);
        assert_eq!(map.get("q1"), Some(&1));
        assert_eq!(map.get("q2"), Some(&2));
        assert_eq!(map.get("q3"), None);
    }

    #[test]
    fn field_table_operations() {
        let mut t = FieldTable::new();
        assert!(t.is_empty());
        t.insert(ShortStr::from_static("a"), FieldValue::I32(1));
        t.insert(ShortStr::from_static("b"), FieldValue::Bool(true));
        t.insert(ShortStr::from_static("a"), FieldValue::I64(2));
        assert_eq!(t.len(), 2);
        assert_eq!(t.0[0].0, "a");
        assert_eq!(t.get("a").and_then(FieldValue::as_i64), Some(2));
        assert_eq!(t.get("b").and_then(FieldValue::as_bool), Some(true));
        assert_eq!(t.remove("a"), Some(FieldValue::I64(2)));
        assert_eq!(t.remove("a"), None);
        assert_eq!(t.iter().count(), 1);
    }

    #[test]
    fn field_value_accessors() {
        assert_eq!(FieldValue::U32(u32::MAX).as_i64(), Some(u32::MAX as i64));
        assert_eq!(FieldValue::I8(-3).as_i64(), Some(-3));
        assert_eq!(FieldValue::Timestamp(5).as_i64(), None);
        assert_eq!(FieldValue::Bool(true).as_i64(), None);
        assert_eq!(
            FieldValue::LongStr(Bytes::from_static(b"hi")).as_str(),
            Some("hi")
        );
        assert_eq!(
            FieldValue::LongStr(Bytes::from_static(b"\xff")).as_str(),
            None
        );
        assert_eq!(
            FieldValue::ByteArray(Bytes::from_static(b"hi")).as_str(),
            None
        );
        let arr = FieldValue::Array(vec![FieldValue::Void]);
        assert_eq!(arr.as_array(), Some(&[FieldValue::Void][..]));
        let tab = FieldValue::Table(FieldTable::new());
        assert_eq!(tab.as_table(), Some(&FieldTable::new()));
    }

    #[test]
    fn field_value_wire_letters() {
        // RabbitMQ's letters, checked against hand-written bytes.
        let cases: Vec<(FieldValue, &[u8])> = vec![
            (FieldValue::Bool(true), b"t\x01"),
            (FieldValue::I8(-1), b"b\xff"),
            (FieldValue::U8(7), b"B\x07"),
            (FieldValue::I16(-2), b"s\xff\xfe"),
            (FieldValue::U16(258), b"u\x01\x02"),
            (FieldValue::I32(-1), b"I\xff\xff\xff\xff"),
            (FieldValue::U32(1), b"i\x00\x00\x00\x01"),
            (FieldValue::I64(1), b"l\x00\x00\x00\x00\x00\x00\x00\x01"),
            (FieldValue::F32(1.0), b"f\x3f\x80\x00\x00"),
            (FieldValue::F64(1.0), b"d\x3f\xf0\x00\x00\x00\x00\x00\x00"),
            (
                FieldValue::Decimal { scale: 2, value: 5 },
                b"D\x02\x00\x00\x00\x05",
            ),
            (
                FieldValue::LongStr(Bytes::from_static(b"ab")),
                b"S\x00\x00\x00\x02ab",
            ),
            (
                FieldValue::Array(vec![FieldValue::Void]),
                b"A\x00\x00\x00\x01V",
            ),
            (
                FieldValue::Timestamp(1),
                b"T\x00\x00\x00\x00\x00\x00\x00\x01",
            ),
            (FieldValue::Table(FieldTable::new()), b"F\x00\x00\x00\x00"),
            (FieldValue::Void, b"V"),
            (
                FieldValue::ByteArray(Bytes::from_static(b"z")),
                b"x\x00\x00\x00\x01z",
            ),
        ];
        for (value, wire) in cases {
            let mut buf = BytesMut::new();
            value.encode(&mut buf);
            assert_eq!(&buf[..], wire, "{value:?}");
            assert_eq!(value.encoded_len(), wire.len());
            let decoded = FieldValue::decode(&mut Bytes::copy_from_slice(wire)).unwrap();
            assert_eq!(decoded, value);
        }
    }

    #[test]
    fn a_route_is_two_short_strings_in_one_buffer() {
        let r = Route::new("amq.topic", "a.b").unwrap();
        assert_eq!((r.exchange(), r.routing_key()), ("amq.topic", "a.b"));
        assert_eq!(r.as_bytes(), b"\x09amq.topic\x03a.b");
        assert_eq!(r.exchange_short(), "amq.topic");
        assert_eq!(r.routing_key_short(), "a.b");
        assert_eq!(
            Route::from_short(
                &ShortStr::from_static("amq.topic"),
                &ShortStr::from_static("a.b")
            ),
            r
        );
        let d = Route::default();
        assert_eq!((d.exchange(), d.routing_key()), ("", ""));
        assert_eq!(
            format!("{r:?}"),
            r#"Route { exchange: "amq.topic", routing_key: "a.b" }"#
        );
        assert_eq!(
            Route::new(&"x".repeat(256), "k"),
            Err(DecodeError::ShortStrTooLong)
        );
        assert_eq!(
            Route::new("", &"k".repeat(256)),
            Err(DecodeError::ShortStrTooLong)
        );
    }

    #[test]
    fn route_decoding_is_zero_copy_and_checks_like_two_short_strings() {
        let mut buf = Bytes::from_static(b"\x01x\x02rk\x01");
        let r = Route::decode(&mut buf).unwrap();
        assert_eq!((r.exchange(), r.routing_key()), ("x", "rk"));
        assert_eq!(&buf[..], b"\x01");
        let cases: [(&[u8], DecodeError); 5] = [
            (b"", DecodeError::Truncated),
            (b"\x02x", DecodeError::Truncated),
            (b"\x01x", DecodeError::Truncated),
            (b"\x01\xff\x00", DecodeError::InvalidUtf8),
            (b"\x00\x01\xff", DecodeError::InvalidUtf8),
        ];
        for (wire, err) in cases {
            assert_eq!(
                Route::decode(&mut Bytes::from_static(wire)),
                Err(err),
                "{wire:?}"
            );
        }
        assert_eq!(
            Route::from_bytes(Bytes::from_static(b"\x00\x00\x00")),
            Err(DecodeError::TrailingBytes)
        );
        assert_eq!(
            Route::from_bytes(Bytes::from_static(b"\x00\x01k")).map(|r| r.routing_key().to_owned()),
            Ok("k".to_owned())
        );
    }
}
