//! Primitive wire readers and writers. Every reader checks the remaining
//! length before touching the buffer, so none of them can panic.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::error::DecodeError;
use crate::types::{FieldTable, ShortStr};

#[inline]
pub(crate) fn need(buf: &Bytes, n: usize) -> Result<(), DecodeError> {
    if buf.len() < n {
        Err(DecodeError::Truncated)
    } else {
        Ok(())
    }
}

#[inline]
pub(crate) fn get_u8(buf: &mut Bytes) -> Result<u8, DecodeError> {
    need(buf, 1)?;
    Ok(buf.get_u8())
}

#[inline]
pub(crate) fn get_octet(buf: &mut Bytes) -> Result<u8, DecodeError> {
    get_u8(buf)
}

#[inline]
pub(crate) fn get_short(buf: &mut Bytes) -> Result<u16, DecodeError> {
    need(buf, 2)?;
    Ok(buf.get_u16())
}

#[inline]
pub(crate) fn get_long(buf: &mut Bytes) -> Result<u32, DecodeError> {
    need(buf, 4)?;
    Ok(buf.get_u32())
}

#[inline]
pub(crate) fn get_longlong(buf: &mut Bytes) -> Result<u64, DecodeError> {
    need(buf, 8)?;
    Ok(buf.get_u64())
}

/// Splits off `n` bytes (zero-copy).
#[inline]
pub(crate) fn take(buf: &mut Bytes, n: usize) -> Result<Bytes, DecodeError> {
    need(buf, n)?;
    Ok(buf.split_to(n))
}

#[inline]
pub(crate) fn get_shortstr(buf: &mut Bytes) -> Result<ShortStr, DecodeError> {
    let len = get_u8(buf)? as usize;
    let bytes = take(buf, len)?;
    ShortStr::from_bytes(bytes)
}

#[inline]
pub(crate) fn get_longstr(buf: &mut Bytes) -> Result<Bytes, DecodeError> {
    let len = get_long(buf)? as usize;
    take(buf, len)
}

#[inline]
pub(crate) fn get_table(buf: &mut Bytes) -> Result<FieldTable, DecodeError> {
    FieldTable::decode(buf)
}

#[inline]
pub(crate) fn skip(buf: &mut Bytes, n: usize) -> Result<(), DecodeError> {
    need(buf, n)?;
    buf.advance(n);
    Ok(())
}

#[inline]
pub(crate) fn skip_short(buf: &mut Bytes) -> Result<(), DecodeError> {
    skip(buf, 2)
}

/// Skips a short string without checking its content (reserved fields).
#[inline]
pub(crate) fn skip_shortstr(buf: &mut Bytes) -> Result<(), DecodeError> {
    let len = get_u8(buf)? as usize;
    skip(buf, len)
}

#[inline]
pub(crate) fn skip_longstr(buf: &mut Bytes) -> Result<(), DecodeError> {
    let len = get_long(buf)? as usize;
    skip(buf, len)
}

#[inline]
pub(crate) fn put_octet(buf: &mut BytesMut, v: u8) {
    buf.put_u8(v);
}

#[inline]
pub(crate) fn put_short(buf: &mut BytesMut, v: u16) {
    buf.put_u16(v);
}

#[inline]
pub(crate) fn put_long(buf: &mut BytesMut, v: u32) {
    buf.put_u32(v);
}

#[inline]
pub(crate) fn put_longlong(buf: &mut BytesMut, v: u64) {
    buf.put_u64(v);
}

#[inline]
pub(crate) fn put_shortstr(buf: &mut BytesMut, s: &ShortStr) {
    put_shortstr_bytes(buf, s.as_bytes());
}

/// Writes a short string from raw bytes; anything past 255 bytes is cut off
/// (callers holding a [`ShortStr`] can never hit that).
#[inline]
pub(crate) fn put_shortstr_bytes(buf: &mut BytesMut, s: &[u8]) {
    let s = &s[..s.len().min(255)];
    buf.put_u8(s.len() as u8);
    buf.put_slice(s);
}

/// Writes a long string; anything past `u32::MAX` bytes is cut off.
#[inline]
pub(crate) fn put_longstr(buf: &mut BytesMut, s: &[u8]) {
    let len = u32::try_from(s.len()).unwrap_or(u32::MAX);
    buf.put_u32(len);
    buf.put_slice(&s[..len as usize]);
}

#[inline]
pub(crate) fn put_table(buf: &mut BytesMut, t: &FieldTable) {
    t.encode(buf);
}

#[inline]
pub(crate) fn put_empty_short(buf: &mut BytesMut) {
    buf.put_u16(0);
}

#[inline]
pub(crate) fn put_empty_shortstr(buf: &mut BytesMut) {
    buf.put_u8(0);
}

#[inline]
pub(crate) fn put_empty_longstr(buf: &mut BytesMut) {
    buf.put_u32(0);
}

/// Reserves a u32 length slot, runs `f`, then patches the slot with the number of
/// bytes `f` wrote (saturating at `u32::MAX`).
#[inline]
pub(crate) fn with_u32_len(buf: &mut BytesMut, f: impl FnOnce(&mut BytesMut)) {
    let at = buf.len();
    buf.put_u32(0);
    f(buf);
    let len = u32::try_from(buf.len() - at - 4).unwrap_or(u32::MAX);
    buf[at..at + 4].copy_from_slice(&len.to_be_bytes());
}
