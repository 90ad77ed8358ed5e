//! The body of the `frame_decoder` fuzz target, shared by the libFuzzer target
//! (`fuzz_targets/frame_decoder.rs`, nightly + cargo-fuzz) and the stable
//! corpus replayer (`examples/replay.rs`).

use bytes::BytesMut;
use warren_amqp::{decode_frame, Frame, Method};

/// Feeds `data` to [`decode_frame`] the way a connection reader would.
///
/// The first two bytes pick the `frame_max` (0 = unlimited, else >= 9) and the
/// size of the chunks the rest of the input arrives in. Checks, besides "no
/// panic":
/// * `Ok(None)` consumes nothing;
/// * a decoded method re-encodes to bytes that decode and re-encode to the same
///   bytes (byte comparison, so NaN floats in tables are fine);
/// * header frames: the raw properties' accessors and full decode never panic,
///   and when the full decode succeeds the accessors agree with it.
pub fn frame_decoder(data: &[u8]) {
    let (frame_max, chunk, input) = match data {
        [a, b, rest @ ..] => {
            let frame_max = match a {
                0 => 0,
                n => 8 + u32::from(*n) * 16,
            };
            (frame_max, usize::from(*b).max(1), rest)
        }
        _ => (0, 1, data),
    };
    let mut buf = BytesMut::new();
    for piece in input.chunks(chunk) {
        buf.extend_from_slice(piece);
        loop {
            let before = buf.len();
            match decode_frame(&mut buf, frame_max) {
                Ok(Some(frame)) => check_frame(frame),
                Ok(None) => {
                    assert_eq!(buf.len(), before, "Ok(None) consumed input");
                    break;
                }
                Err(e) => {
                    let _ = (e.reply_code(), e.to_string());
                    return;
                }
            }
        }
    }
}

fn check_frame(frame: Frame) {
    match frame {
        Frame::Method { method, .. } => {
            let once = encode(&method);
            let again = Method::decode(once.clone().freeze()).expect("re-encoded method decodes");
            assert_eq!(encode(&again), once, "method encoding is not stable");
            let _ = (method.name(), method.has_content());
        }
        Frame::Header { header, .. } => {
            let p = &header.properties;
            let (dm, prio, exp, hdrs) =
                (p.delivery_mode(), p.priority(), p.expiration(), p.headers());
            let has = p.has_headers();
            if let Ok(full) = p.decode() {
                assert_eq!(dm, full.delivery_mode);
                assert_eq!(prio, full.priority);
                assert_eq!(exp, full.expiration);
                assert_eq!(has, full.headers.is_some());
                assert_eq!(hdrs.is_some(), full.headers.is_some());
                let reencoded = full.encode();
                assert!(reencoded.decode().is_ok());
            }
        }
        Frame::Body { .. } | Frame::Heartbeat { .. } => {}
    }
}

fn encode(method: &Method) -> BytesMut {
    let mut buf = BytesMut::new();
    method.encode(&mut buf);
    buf
}
