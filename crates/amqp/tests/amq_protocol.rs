//! Cross-check against lapin's codec (amq-protocol): what we write, it parses
//! to the same values, and what it writes, we decode to the same values.

mod common;

use amq_protocol::frame::{gen_frame, parse_frame, AMQPContentHeader, AMQPFrame, WriteContext};
use bytes::{Bytes, BytesMut};
use common::methods::{arb_method, method_to_amq};
use common::*;
use proptest::collection::vec;
use proptest::prelude::*;
use warren_amqp::*;

fn amq_encode(frame: &AMQPFrame) -> Vec<u8> {
    let ctx = gen_frame(frame)(WriteContext::from(Vec::new())).expect("amq-protocol encodes");
    ctx.into_inner().0
}

fn amq_parse(bytes: &[u8]) -> AMQPFrame {
    let (rest, frame) = parse_frame(bytes).expect("amq-protocol parses our frame");
    assert!(rest.is_empty(), "amq-protocol left {} bytes", rest.len());
    frame
}

/// amq-protocol does not model basic.qos's prefetch_size (always 0).
fn normalize(mut m: Method) -> Method {
    if let Method::BasicQos(q) = &mut m {
        q.prefetch_size = 0;
    }
    m
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn our_methods_parse_in_amq_protocol(channel in any::<u16>(), method in arb_method()) {
        let method = normalize(method);
        let mut buf = BytesMut::new();
        encode_method_frame(&mut buf, channel, &method);
        match amq_parse(&buf) {
            AMQPFrame::Method(c, class) => {
                prop_assert_eq!(c, channel);
                prop_assert_eq!(class, method_to_amq(&method));
            }
            other => prop_assert!(false, "unexpected {:?}", other),
        }
    }

    #[test]
    fn amq_protocol_methods_decode_here(channel in any::<u16>(), method in arb_method()) {
        let method = normalize(method);
        let wire = amq_encode(&AMQPFrame::Method(channel, method_to_amq(&method)));
        let mut buf = BytesMut::from(&wire[..]);
        let frame = decode_frame(&mut buf, 0).unwrap().unwrap();
        prop_assert!(buf.is_empty());
        match frame {
            Frame::Method { channel: c, method: decoded } => {
                prop_assert_eq!(c, channel);
                // Tables come back in amq-protocol's (sorted, de-duplicated) order,
                // so compare through amq-protocol's types.
                prop_assert_eq!(method_to_amq(&decoded), method_to_amq(&method));
                prop_assert_eq!(decoded.name(), method.name());
            }
            other => prop_assert!(false, "unexpected {:?}", other),
        }
    }

    #[test]
    fn our_header_frames_parse_in_amq_protocol(
        channel in any::<u16>(),
        body_size in any::<u64>(),
        props in arb_properties(),
    ) {
        let mut buf = BytesMut::new();
        encode_header_frame(&mut buf, channel, 60, body_size, &props.encode());
        match amq_parse(&buf) {
            AMQPFrame::Header(c, class_id, header) => {
                prop_assert_eq!(c, channel);
                prop_assert_eq!(class_id, 60);
                prop_assert_eq!(header.class_id, 60);
                prop_assert_eq!(header.body_size, body_size);
                prop_assert_eq!(header.properties, properties_to_amq(&props));
            }
            other => prop_assert!(false, "unexpected {:?}", other),
        }
    }

    #[test]
    fn amq_protocol_header_frames_decode_here(
        channel in any::<u16>(),
        body_size in any::<u64>(),
        props in arb_properties(),
    ) {
        let header = AMQPContentHeader {
            class_id: 60,
            body_size,
            properties: properties_to_amq(&props),
        };
        let wire = amq_encode(&AMQPFrame::Header(channel, 60, Box::new(header)));
        let mut buf = BytesMut::from(&wire[..]);
        match decode_frame(&mut buf, 0).unwrap().unwrap() {
            Frame::Header { channel: c, header } => {
                prop_assert_eq!(c, channel);
                prop_assert_eq!(header.class_id, 60);
                prop_assert_eq!(header.body_size, body_size);
                let decoded = header.properties.decode().unwrap();
                prop_assert_eq!(properties_to_amq(&decoded), properties_to_amq(&props));
                prop_assert_eq!(header.properties.delivery_mode(), props.delivery_mode);
                prop_assert_eq!(header.properties.priority(), props.priority);
                prop_assert_eq!(header.properties.expiration(), props.expiration.clone());
                prop_assert_eq!(header.properties.has_headers(), props.headers.is_some());
            }
            other => prop_assert!(false, "unexpected {:?}", other),
        }
    }

    #[test]
    fn body_and_heartbeat_frames_both_ways(channel in any::<u16>(), body in vec(any::<u8>(), 0..512)) {
        let mut buf = BytesMut::new();
        Frame::Body { channel, payload: Bytes::from(body.clone()) }.encode(&mut buf);
        prop_assert_eq!(amq_parse(&buf), AMQPFrame::Body(channel, body.clone()));
        let wire = amq_encode(&AMQPFrame::Body(channel, body.clone()));
        prop_assert_eq!(&wire[..], &buf[..]);

        let mut buf = BytesMut::new();
        encode_heartbeat_frame(&mut buf);
        prop_assert_eq!(amq_parse(&buf), AMQPFrame::Heartbeat(0));
        prop_assert_eq!(amq_encode(&AMQPFrame::Heartbeat(0)), buf.to_vec());
    }
}

#[test]
fn protocol_header_matches() {
    let wire = amq_encode(&AMQPFrame::ProtocolHeader(
        amq_protocol::frame::ProtocolVersion::amqp_0_9_1(),
    ));
    assert_eq!(wire, PROTOCOL_HEADER);
}
