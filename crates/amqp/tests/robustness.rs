//! The decoder never panics: random bytes, truncation at every length,
//! oversized, bad frame end, unknown frame type, unknown method, trailing bytes.

mod common;

use bytes::{BufMut, Bytes, BytesMut};
use common::methods::arb_method;
use common::*;
use proptest::collection::vec;
use proptest::prelude::*;
use warren_amqp::*;

/// Decodes frames until more input is needed or an error, exercising every
/// lazy accessor on what comes out. Returns the number of frames.
fn drain(buf: &mut BytesMut, frame_max: u32) -> usize {
    let mut n = 0;
    loop {
        match decode_frame(buf, frame_max) {
            Ok(Some(frame)) => {
                n += 1;
                if let Frame::Header { header, .. } = frame {
                    let p = &header.properties;
                    let _ = (p.decode(), p.delivery_mode(), p.priority(), p.expiration());
                    let _ = (p.headers(), p.has_headers(), p.timestamp(), p.user_id());
                }
            }
            Ok(None) => return n,
            Err(e) => {
                let code = e.reply_code();
                assert!(is_hard_error(code), "{e}: {code}");
                let _ = e.to_string();
                return n;
            }
        }
    }
}

/// A frame with the given type, channel and payload (correct size and end).
fn raw_frame(kind: u8, channel: u16, payload: &[u8]) -> BytesMut {
    let mut b = BytesMut::new();
    b.put_u8(kind);
    b.put_u16(channel);
    b.put_u32(payload.len() as u32);
    b.put_slice(payload);
    b.put_u8(FRAME_END);
    b
}

fn method_payload(m: &Method) -> Vec<u8> {
    let mut b = BytesMut::new();
    m.encode(&mut b);
    b.to_vec()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn random_bytes_never_panic(bytes in vec(any::<u8>(), 0..2048), max in prop_oneof![Just(0u32), Just(4096u32), 0u32..64]) {
        drain(&mut BytesMut::from(&bytes[..]), max);
        let b = Bytes::from(bytes);
        let _ = Method::decode(b.clone());
        let _ = ContentHeader::decode(b.clone());
        let _ = FieldTable::decode(&mut b.clone());
        let _ = FieldValue::decode(&mut b.clone());
        let raw = RawProperties(b);
        let _ = (raw.decode(), raw.delivery_mode(), raw.priority(), raw.expiration(), raw.headers());
    }

    /// Random payloads inside well-formed method and header frames (so the
    /// payload decoders, not the framing, see the garbage).
    #[test]
    fn random_payloads_in_valid_frames(
        kind in prop_oneof![Just(1u8), Just(2u8), Just(8u8)],
        class in prop_oneof![Just(10u16), Just(20), Just(40), Just(50), Just(60), Just(85), Just(90), any::<u16>()],
        method in prop_oneof![(0u16..13).prop_map(|m| m * 10), (0u16..13).prop_map(|m| m * 10 + 1), any::<u16>()],
        rest in vec(any::<u8>(), 0..256),
    ) {
        let mut payload = Vec::new();
        payload.extend_from_slice(&class.to_be_bytes());
        payload.extend_from_slice(&method.to_be_bytes());
        payload.extend_from_slice(&rest);
        drain(&mut raw_frame(kind, 1, &payload), 0);
    }

    /// Random bytes after a valid method's ids: argument decoders never panic.
    #[test]
    fn mutated_method_payloads(method in arb_method(), flips in vec((any::<usize>(), any::<u8>()), 1..6)) {
        let mut payload = method_payload(&method);
        for (at, byte) in flips {
            let i = 4 + at % payload.len().saturating_sub(4).max(1);
            if i < payload.len() {
                payload[i] = byte;
            }
        }
        let _ = Method::decode(Bytes::from(payload));
    }

    /// Every strict prefix of a valid stream of frames is "need more input", and
    /// consumes nothing.
    #[test]
    fn truncated_frames_wait_for_more(frame in arb_frame()) {
        let mut full = BytesMut::new();
        frame.encode(&mut full);
        for len in 0..full.len() {
            let mut buf = BytesMut::from(&full[..len]);
            prop_assert_eq!(decode_frame(&mut buf, 0), Ok(None));
            prop_assert_eq!(buf.len(), len);
        }
    }

    /// A method payload cut anywhere (with a frame size to match) is Truncated.
    #[test]
    fn truncated_method_payloads_are_errors(method in arb_method()) {
        let payload = method_payload(&method);
        for len in 0..payload.len() {
            let mut buf = raw_frame(1, 1, &payload[..len]);
            let err = decode_frame(&mut buf, 0).unwrap_err();
            prop_assert_eq!(&err, &FrameError::Decode(DecodeError::Truncated));
            prop_assert_eq!(err.reply_code(), reply_code::FRAME_ERROR);
        }
    }

    /// Trailing bytes after the last argument are an error (501).
    #[test]
    fn trailing_bytes_are_errors(method in arb_method(), extra in vec(any::<u8>(), 1..8)) {
        let mut payload = method_payload(&method);
        payload.extend_from_slice(&extra);
        let mut buf = raw_frame(1, 1, &payload);
        let err = decode_frame(&mut buf, 0).unwrap_err();
        prop_assert_eq!(&err, &FrameError::Decode(DecodeError::TrailingBytes));
        prop_assert_eq!(err.reply_code(), 501);
    }

    /// A content header's properties cut anywhere: accessors return None or a
    /// value, the full decode returns an error, nothing panics.
    #[test]
    fn truncated_properties(props in arb_properties()) {
        let raw = props.encode();
        for len in 0..raw.0.len() {
            let cut = RawProperties(raw.0.slice(..len));
            let _ = (cut.delivery_mode(), cut.priority(), cut.expiration(), cut.headers());
            if len > 0 {
                prop_assert!(cut.decode().is_err() || len >= 2 && props == BasicProperties::default());
            }
        }
    }

    /// Oversized frames are rejected from the 7-byte header alone.
    #[test]
    fn too_large_detected_from_header(
        kind in prop_oneof![Just(1u8), Just(2u8), Just(3u8), Just(8u8)],
        frame_max in 4096u32..1_000_000,
        excess in 1u32..1_000_000,
    ) {
        let size = frame_max - 8 + excess;
        let mut buf = BytesMut::new();
        buf.put_u8(kind);
        buf.put_u16(7);
        buf.put_u32(size);
        let err = decode_frame(&mut buf, frame_max).unwrap_err();
        prop_assert_eq!(&err, &FrameError::TooLarge { size: size + 8, max: frame_max });
        prop_assert_eq!(err.reply_code(), 501);
        prop_assert_eq!(buf.len(), 7);
        // Exactly at the limit is fine (waits for the payload).
        let mut buf = BytesMut::new();
        buf.put_u8(kind);
        buf.put_u16(7);
        buf.put_u32(frame_max - 8);
        prop_assert_eq!(decode_frame(&mut buf, frame_max), Ok(None));
    }
}

#[test]
fn huge_declared_size_without_limit_waits() {
    let mut buf = BytesMut::from(&[3u8, 0, 1, 0xff, 0xff, 0xff, 0xff][..]);
    assert_eq!(decode_frame(&mut buf, 0), Ok(None));
    let err = decode_frame(&mut buf, 131_072).unwrap_err();
    assert_eq!(
        err,
        FrameError::TooLarge {
            size: u32::MAX,
            max: 131_072
        }
    );
}

#[test]
fn bad_frame_end() {
    let mut buf = raw_frame(3, 1, b"abc");
    let last = buf.len() - 1;
    buf[last] = 0x00;
    let err = decode_frame(&mut buf, 0).unwrap_err();
    assert_eq!(err, FrameError::BadFrameEnd(0));
    assert_eq!(err.to_string(), "frame end octet was 0x00, expected 0xce");
    assert_eq!(err.reply_code(), reply_code::FRAME_ERROR);
}

#[test]
fn unknown_frame_type_detected_from_header() {
    for kind in [0u8, 4, 5, 7, 9, 65, 255] {
        let mut buf = BytesMut::from(&[kind, 0, 0, 0, 0, 0, 10][..]);
        let err = decode_frame(&mut buf, 0).unwrap_err();
        assert_eq!(err, FrameError::UnknownFrameType(kind));
        assert_eq!(err.reply_code(), 501);
    }
    // The "AMQP" protocol header sent again mid-stream is an unknown frame type.
    let mut buf = BytesMut::from(&PROTOCOL_HEADER[..]);
    assert_eq!(
        decode_frame(&mut buf, 0),
        Err(FrameError::UnknownFrameType(b'A'))
    );
}

#[test]
fn unknown_methods() {
    for (class_id, method_id) in [
        (60u16, 0u16),
        (60, 41),
        (30, 10),
        (0, 0),
        (65535, 65535),
        (10, 12),
    ] {
        let mut payload = Vec::new();
        payload.extend_from_slice(&class_id.to_be_bytes());
        payload.extend_from_slice(&method_id.to_be_bytes());
        let mut buf = raw_frame(1, 1, &payload);
        let err = decode_frame(&mut buf, 0).unwrap_err();
        assert_eq!(
            err,
            FrameError::Decode(DecodeError::UnknownMethod {
                class_id,
                method_id
            })
        );
        assert_eq!(err.reply_code(), reply_code::NOT_IMPLEMENTED);
    }
}

#[test]
fn heartbeat_with_payload_is_an_error() {
    let mut buf = raw_frame(8, 0, b"x");
    assert_eq!(
        decode_frame(&mut buf, 0).unwrap_err().reply_code(),
        reply_code::FRAME_ERROR
    );
}

#[test]
fn short_header_frame_is_truncated() {
    let mut buf = raw_frame(2, 1, &[0, 60, 0, 0, 0, 0]);
    assert_eq!(
        decode_frame(&mut buf, 0),
        Err(FrameError::Decode(DecodeError::Truncated))
    );
}

#[test]
fn unknown_field_type_and_bad_utf8() {
    // queue.declare with arguments {"k": 'Z' ...}
    let mut payload = vec![0, 50, 0, 10, 0, 0, 1, b'q', 0];
    payload.extend_from_slice(&[0, 0, 0, 3, 1, b'k', b'Z']);
    let err = Method::decode(Bytes::from(payload)).unwrap_err();
    assert_eq!(err, DecodeError::UnknownFieldType(b'Z'));
    assert_eq!(err.reply_code(), reply_code::FRAME_ERROR);

    let err = Method::decode(Bytes::from_static(&[0, 10, 0, 40, 2, 0xff, 0xfe, 0, 0])).unwrap_err();
    assert_eq!(err, DecodeError::InvalidUtf8);
}

#[test]
fn deep_nesting_is_rejected_without_stack_overflow() {
    // 200_000 nested arrays: 'A' + u32 length each.
    let depth = 200_000usize;
    let mut bytes = vec![0u8; depth * 5];
    for i in 0..depth {
        let inner = ((depth - i - 1) * 5) as u32;
        bytes[i * 5] = b'A';
        bytes[i * 5 + 1..i * 5 + 5].copy_from_slice(&inner.to_be_bytes());
    }
    let err = FieldValue::decode(&mut Bytes::from(bytes)).unwrap_err();
    assert_eq!(err, DecodeError::TooDeep);

    // Nesting up to the limit is fine.
    let mut value = FieldValue::Void;
    for _ in 0..MAX_NESTING_DEPTH {
        value = FieldValue::Array(vec![value]);
    }
    let mut buf = BytesMut::new();
    value.encode(&mut buf);
    assert_eq!(FieldValue::decode(&mut buf.freeze()).unwrap(), value);
}

#[test]
fn frame_error_reply_codes() {
    assert_eq!(FrameError::BadFrameEnd(1).reply_code(), 501);
    assert_eq!(FrameError::UnknownFrameType(9).reply_code(), 501);
    assert_eq!(FrameError::TooLarge { size: 1, max: 1 }.reply_code(), 501);
    assert_eq!(FrameError::Decode(DecodeError::Truncated).reply_code(), 501);
    assert_eq!(
        FrameError::Decode(DecodeError::TrailingBytes).reply_code(),
        501
    );
    assert_eq!(
        FrameError::Decode(DecodeError::UnknownFieldType(0)).reply_code(),
        501
    );
    assert_eq!(
        FrameError::Decode(DecodeError::InvalidUtf8).reply_code(),
        501
    );
    assert_eq!(FrameError::Decode(DecodeError::TooDeep).reply_code(), 501);
    assert_eq!(DecodeError::ShortStrTooLong.reply_code(), 502);
    assert_eq!(
        DecodeError::UnknownMethod {
            class_id: 1,
            method_id: 2
        }
        .reply_code(),
        540
    );
    assert_eq!(reply_code_name(404), "NOT_FOUND");
    assert_eq!(reply_code_name(406), "PRECONDITION_FAILED");
    assert_eq!(reply_code_name(541), "INTERNAL_ERROR");
    assert_eq!(reply_code_name(1), "UNKNOWN");
}
