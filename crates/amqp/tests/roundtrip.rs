//! Property-based round trips of every codec entry point.

mod common;

use bytes::{Bytes, BytesMut};
use common::methods::{arb_method, ALL_IDS};
use common::*;
use proptest::collection::vec;
use proptest::prelude::*;
use warren_amqp::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn method_payload_roundtrip(method in arb_method()) {
        let mut buf = BytesMut::new();
        method.encode(&mut buf);
        let decoded = Method::decode(buf.freeze()).unwrap();
        prop_assert_eq!(&decoded, &method);
    }

    #[test]
    fn method_frame_roundtrip(channel in any::<u16>(), method in arb_method()) {
        let mut buf = BytesMut::new();
        encode_method_frame(&mut buf, channel, &method);
        let frame = decode_frame(&mut buf, 0).unwrap().unwrap();
        prop_assert!(buf.is_empty());
        prop_assert_eq!(frame, Frame::Method { channel, method });
    }

    #[test]
    fn method_ids_and_names_agree(method in arb_method()) {
        let (c, m) = (method.class_id(), method.method_id());
        prop_assert_eq!(method_name(c, m), Some(method.name()));
        let mut buf = BytesMut::new();
        method.encode(&mut buf);
        prop_assert_eq!(&buf[..4], &[(c >> 8) as u8, c as u8, (m >> 8) as u8, m as u8][..]);
    }

    #[test]
    fn properties_roundtrip(props in arb_properties()) {
        let raw = props.encode();
        prop_assert_eq!(raw.0.len(), props.encoded_len());
        prop_assert_eq!(raw.decode().unwrap(), props.clone());
        prop_assert_eq!(raw.delivery_mode(), props.delivery_mode);
        prop_assert_eq!(raw.priority(), props.priority);
        prop_assert_eq!(raw.expiration(), props.expiration.clone());
        prop_assert_eq!(raw.user_id(), props.user_id.clone());
        prop_assert_eq!(raw.timestamp(), props.timestamp);
        prop_assert_eq!(raw.headers(), props.headers.clone());
        prop_assert_eq!(raw.has_headers(), props.headers.is_some());
    }

    #[test]
    fn field_table_roundtrip(table in arb_table()) {
        let mut buf = BytesMut::new();
        table.encode(&mut buf);
        prop_assert_eq!(buf.len(), table.encoded_len());
        let mut bytes = buf.freeze();
        let decoded = FieldTable::decode(&mut bytes).unwrap();
        prop_assert!(bytes.is_empty());
        prop_assert_eq!(decoded, table);
    }

    #[test]
    fn any_frame_roundtrip(frame in arb_frame()) {
        let mut buf = BytesMut::new();
        frame.encode(&mut buf);
        let decoded = decode_frame(&mut buf, 0).unwrap().unwrap();
        prop_assert!(buf.is_empty());
        prop_assert_eq!(decoded, frame);
    }

    /// Feeding the encoded stream one byte at a time yields the same frames.
    #[test]
    fn incremental_byte_by_byte(frames in vec(arb_frame(), 1..8)) {
        let wire = encode_frames(&frames);
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        for byte in wire {
            buf.extend_from_slice(&[byte]);
            while let Some(f) = decode_frame(&mut buf, 0).unwrap() {
                out.push(f);
            }
        }
        prop_assert!(buf.is_empty());
        prop_assert_eq!(out, frames);
    }

    /// Same with arbitrary chunk sizes, and with a frame_max the frames fit in.
    #[test]
    fn incremental_random_chunks(frames in vec(arb_frame(), 1..8), chunk in 1usize..64) {
        let wire = encode_frames(&frames);
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        for piece in wire.chunks(chunk) {
            buf.extend_from_slice(piece);
            while let Some(f) = decode_frame(&mut buf, 131_072).unwrap() {
                out.push(f);
            }
        }
        prop_assert_eq!(out, frames);
    }

    #[test]
    fn body_split_at_frame_max(
        body in vec(any::<u8>(), 0..20_000),
        frame_max in prop_oneof![Just(0u32), Just(4096u32), Just(4097), Just(8192), 9u32..600],
        channel in any::<u16>(),
    ) {
        let mut buf = BytesMut::new();
        encode_body_frames(&mut buf, channel, &body, frame_max);
        let wire_len = buf.len();
        let mut joined = Vec::new();
        let mut count = 0usize;
        while let Some(frame) = decode_frame(&mut buf, frame_max).unwrap() {
            match frame {
                Frame::Body { channel: c, payload } => {
                    prop_assert_eq!(c, channel);
                    prop_assert!(!payload.is_empty());
                    if frame_max != 0 {
                        prop_assert!(payload.len() + FRAME_OVERHEAD <= frame_max as usize);
                    }
                    joined.extend_from_slice(&payload);
                    count += 1;
                }
                other => prop_assert!(false, "unexpected frame {:?}", other),
            }
        }
        prop_assert!(buf.is_empty());
        prop_assert_eq!(&joined, &body);
        let per = if frame_max == 0 { usize::MAX } else { frame_max as usize - FRAME_OVERHEAD };
        prop_assert_eq!(count, body.len().div_ceil(per));
        prop_assert_eq!(wire_len, body.len() + count * FRAME_OVERHEAD);
    }

    #[test]
    fn deliver_fast_path_matches_method(
        channel in any::<u16>(),
        consumer_tag in arb_shortstr(),
        delivery_tag in any::<u64>(),
        redelivered in any::<bool>(),
        exchange in arb_shortstr(),
        routing_key in arb_shortstr(),
    ) {
        let mut fast = BytesMut::new();
        encode_deliver_frame(&mut fast, channel, &consumer_tag, delivery_tag, redelivered, &exchange, &routing_key);
        let route = Route::from_short(&exchange, &routing_key);
        let mut slow = BytesMut::new();
        let method = Method::BasicDeliver(BasicDeliver { consumer_tag: consumer_tag.clone(), delivery_tag, redelivered, exchange, routing_key });
        encode_method_frame(&mut slow, channel, &method);
        prop_assert_eq!(&fast, &slow);
        let mut from_route = BytesMut::new();
        encode_deliver_frame_route(&mut from_route, channel, &consumer_tag, delivery_tag, redelivered, &route);
        prop_assert_eq!(&from_route, &slow);
    }

    #[test]
    fn ack_nack_fast_paths_match_methods(
        channel in any::<u16>(),
        delivery_tag in any::<u64>(),
        multiple in any::<bool>(),
        requeue in any::<bool>(),
    ) {
        let mut fast = BytesMut::new();
        encode_ack_frame(&mut fast, channel, delivery_tag, multiple);
        let mut slow = BytesMut::new();
        encode_method_frame(&mut slow, channel, &Method::BasicAck(BasicAck { delivery_tag, multiple }));
        prop_assert_eq!(&fast, &slow);

        let mut fast = BytesMut::new();
        encode_nack_frame(&mut fast, channel, delivery_tag, multiple, requeue);
        let mut slow = BytesMut::new();
        encode_method_frame(&mut slow, channel, &Method::BasicNack(BasicNack { delivery_tag, multiple, requeue }));
        prop_assert_eq!(&fast, &slow);
    }

    #[test]
    fn header_frame_roundtrip(channel in any::<u16>(), body_size in any::<u64>(), props in arb_properties()) {
        let raw = props.encode();
        let mut buf = BytesMut::new();
        encode_header_frame(&mut buf, channel, 60, body_size, &raw);
        match decode_frame(&mut buf, 0).unwrap().unwrap() {
            Frame::Header { channel: c, header } => {
                prop_assert_eq!(c, channel);
                prop_assert_eq!(header.class_id, 60);
                prop_assert_eq!(header.body_size, body_size);
                prop_assert_eq!(&header.properties, &raw);
                prop_assert_eq!(header.properties.decode().unwrap(), props);
            }
            other => prop_assert!(false, "unexpected frame {:?}", other),
        }
    }
}

#[test]
fn every_method_has_a_name_and_decodes_from_defaults() {
    assert_eq!(ALL_IDS.len(), 64);
    for &(class_id, method_id, name) in ALL_IDS {
        assert_eq!(method_name(class_id, method_id), Some(name));
        // Build a minimal payload: ids followed by zeroed arguments is not valid for every
        // method, so encode the decoded default of each instead.
        let method = default_method(class_id, method_id);
        assert_eq!(
            (method.class_id(), method.method_id()),
            (class_id, method_id)
        );
        assert_eq!(method.name(), name);
        let mut buf = BytesMut::new();
        method.encode(&mut buf);
        assert_eq!(Method::decode(buf.freeze()).unwrap(), method);
    }
    assert_eq!(method_name(60, 40), Some("basic.publish"));
    assert_eq!(method_name(50, 10), Some("queue.declare"));
    assert_eq!(method_name(60, 71), Some("basic.get_ok"));
    assert_eq!(method_name(40, 51), Some("exchange.unbind_ok"));
    assert_eq!(method_name(30, 10), None);
}

/// The method with the given ids and all-default arguments, found by
/// decoding the shortest payload the codec writes for it.
fn default_method(class_id: u16, method_id: u16) -> Method {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    loop {
        let m = arb_method().new_tree(&mut runner).unwrap().current();
        if m.class_id() == class_id && m.method_id() == method_id {
            return m;
        }
    }
}

#[test]
fn has_content_only_for_content_methods() {
    for &(class_id, method_id, name) in ALL_IDS {
        let m = default_method(class_id, method_id);
        let expected = matches!(
            name,
            "basic.publish" | "basic.return" | "basic.deliver" | "basic.get_ok"
        );
        assert_eq!(m.has_content(), expected, "{name}");
    }
}

#[test]
fn reserved_fields_are_written_as_zero() {
    let cases: &[(Method, &[u8])] = &[
        (Method::ChannelOpen, &[0, 20, 0, 10, 0]),
        (Method::ChannelOpenOk, &[0, 20, 0, 11, 0, 0, 0, 0]),
        (Method::ConnectionOpenOk, &[0, 10, 0, 41, 0]),
        (Method::BasicGetEmpty, &[0, 60, 0, 72, 0]),
        (
            Method::ConnectionOpen(ConnectionOpen {
                virtual_host: ShortStr::from_static("/"),
            }),
            &[0, 10, 0, 40, 1, b'/', 0, 0],
        ),
        (
            Method::BasicPublish(BasicPublish {
                route: Route::new("x", "rk").unwrap(),
                mandatory: true,
                immediate: false,
            }),
            &[0, 60, 0, 40, 0, 0, 1, b'x', 2, b'r', b'k', 1],
        ),
    ];
    for (method, wire) in cases {
        let mut buf = BytesMut::new();
        method.encode(&mut buf);
        assert_eq!(&buf[..], *wire, "{}", method.name());
        assert_eq!(
            &Method::decode(Bytes::copy_from_slice(wire)).unwrap(),
            method
        );
    }
}

#[test]
fn reserved_fields_with_content_are_skipped() {
    // channel.open with a non-empty out-of-band string, connection.open with
    // capabilities and insist set, exchange.declare with a ticket.
    let m = Method::decode(Bytes::from_static(&[0, 20, 0, 10, 2, b'h', b'i'])).unwrap();
    assert_eq!(m, Method::ChannelOpen);
    let m = Method::decode(Bytes::from_static(&[0, 10, 0, 40, 1, b'v', 1, 0xff, 1])).unwrap();
    assert_eq!(
        m,
        Method::ConnectionOpen(ConnectionOpen {
            virtual_host: ShortStr::from_static("v")
        })
    );
    let m = Method::decode(Bytes::from_static(&[
        0, 40, 0, 10, 0x12, 0x34, 1, b'e', 6, b'd', b'i', b'r', b'e', b'c', b't', 0b10110, 0, 0, 0,
        0,
    ]))
    .unwrap();
    assert_eq!(
        m,
        Method::ExchangeDeclare(ExchangeDeclare {
            exchange: ShortStr::from_static("e"),
            kind: ShortStr::from_static("direct"),
            passive: false,
            durable: true,
            auto_delete: true,
            internal: false,
            no_wait: true,
            arguments: FieldTable::new(),
        })
    );
}

#[test]
fn empty_body_gives_no_frames_and_heartbeat_wire_format() {
    let mut buf = BytesMut::new();
    encode_body_frames(&mut buf, 1, &[], 4096);
    assert!(buf.is_empty());
    encode_heartbeat_frame(&mut buf);
    assert_eq!(&buf[..], &[8, 0, 0, 0, 0, 0, 0, 0xCE]);
    assert_eq!(
        decode_frame(&mut buf, 4096).unwrap(),
        Some(Frame::Heartbeat { channel: 0 })
    );
}

#[test]
fn body_payload_is_zero_copy() {
    let mut buf = BytesMut::new();
    encode_body_frames(&mut buf, 3, b"hello world", 0);
    let start = buf.as_ptr() as usize;
    let Some(Frame::Body { payload, .. }) = decode_frame(&mut buf, 0).unwrap() else {
        panic!("expected body");
    };
    assert_eq!(payload.as_ptr() as usize, start + FRAME_HEADER_SIZE);
}

#[test]
fn shortstrs_are_slices_of_the_frame() {
    let mut buf = BytesMut::new();
    let method = Method::BasicPublish(BasicPublish {
        route: Route::new("amq.topic", "a.b.c").unwrap(),
        mandatory: false,
        immediate: false,
    });
    encode_method_frame(&mut buf, 1, &method);
    let range = buf.as_ptr() as usize..buf.as_ptr() as usize + buf.len();
    let Some(Frame::Method {
        method: Method::BasicPublish(p),
        ..
    }) = decode_frame(&mut buf, 0).unwrap()
    else {
        panic!("expected basic.publish");
    };
    assert!(range.contains(&(p.exchange().as_ptr() as usize)));
    assert!(range.contains(&(p.routing_key().as_ptr() as usize)));
    assert!(range.contains(&(p.route.as_bytes().as_ptr() as usize)));
    assert_eq!((p.exchange(), p.routing_key()), ("amq.topic", "a.b.c"));
}

/// Whether `inner` lies inside the memory range `outer`.
fn within_buffer(inner: &[u8], outer: &std::ops::Range<*const u8>) -> bool {
    let i = inner.as_ptr_range();
    !inner.is_empty() && outer.start <= i.start && i.end <= outer.end
}

#[test]
fn detached_strings_and_tables_no_longer_point_into_their_frame() {
    let mut wire = BytesMut::new();
    let mut args = FieldTable::new();
    args.insert(
        ShortStr::from_static("x-dead-letter-exchange"),
        FieldValue::LongStr(Bytes::from_static(b"dlx")),
    );
    let declare = QueueDeclare {
        queue: ShortStr::from_static("orders"),
        durable: true,
        arguments: args,
        ..Default::default()
    };
    encode_method_frame(&mut wire, 1, &declare.clone().into());
    let frame_bytes = wire[..].as_ptr_range();
    let Some(Frame::Method {
        method: Method::QueueDeclare(got),
        ..
    }) = decode_frame(&mut wire, 131_072).unwrap()
    else {
        panic!("a queue.declare");
    };
    // Decoded zero-copy: the name and the argument's value are slices of the frame.
    assert!(within_buffer(got.queue.as_bytes(), &frame_bytes));
    let name = got.queue.detached();
    let table = got.arguments.detached();
    assert_eq!(name, got.queue);
    assert_eq!(table, got.arguments);
    assert!(!within_buffer(name.as_bytes(), &frame_bytes));
    let Some(FieldValue::LongStr(v)) = table.get("x-dead-letter-exchange") else {
        panic!("the argument survives");
    };
    assert_eq!(&v[..], b"dlx");
    assert!(!within_buffer(v, &frame_bytes));
    let Some(FieldValue::LongStr(orig)) = got.arguments.get("x-dead-letter-exchange") else {
        panic!("decoded");
    };
    assert!(within_buffer(orig, &frame_bytes));
}
