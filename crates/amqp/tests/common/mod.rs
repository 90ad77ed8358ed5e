//! Shared proptest strategies and conversions to amq-protocol's types.
#![allow(dead_code)]

pub mod methods;

use amq_protocol::protocol::basic::AMQPProperties;
use amq_protocol::types::{self as amqt, AMQPValue};
use bytes::Bytes;
use proptest::collection::vec;
use proptest::prelude::*;
use warren_amqp::*;

/// Short strings: mostly ASCII names, sometimes any Unicode (<= 255 bytes).
pub fn arb_shortstr() -> BoxedStrategy<ShortStr> {
    prop_oneof![
        3 => "[a-zA-Z0-9._-]{0,24}",
        1 => ".{0,60}",
        1 => "[a-z]{255}",
    ]
    .prop_map(|s| ShortStr::try_from(s).expect("<= 255 bytes"))
    .boxed()
}

pub fn arb_longstr() -> BoxedStrategy<Bytes> {
    vec(any::<u8>(), 0..48).prop_map(Bytes::from).boxed()
}

fn finite_f32() -> impl Strategy<Value = f32> {
    any::<u32>().prop_map(|b| {
        let f = f32::from_bits(b);
        if f.is_nan() {
            0.5
        } else {
            f
        }
    })
}

fn finite_f64() -> impl Strategy<Value = f64> {
    any::<u64>().prop_map(|b| {
        let f = f64::from_bits(b);
        if f.is_nan() {
            0.5
        } else {
            f
        }
    })
}

/// Any field value, with tables and arrays nested up to 3 deep.
pub fn arb_field_value() -> BoxedStrategy<FieldValue> {
    let leaf = prop_oneof![
        any::<bool>().prop_map(FieldValue::Bool),
        any::<i8>().prop_map(FieldValue::I8),
        any::<u8>().prop_map(FieldValue::U8),
        any::<i16>().prop_map(FieldValue::I16),
        any::<u16>().prop_map(FieldValue::U16),
        any::<i32>().prop_map(FieldValue::I32),
        any::<u32>().prop_map(FieldValue::U32),
        any::<i64>().prop_map(FieldValue::I64),
        finite_f32().prop_map(FieldValue::F32),
        finite_f64().prop_map(FieldValue::F64),
        (any::<u8>(), any::<u32>()).prop_map(|(scale, value)| FieldValue::Decimal { scale, value }),
        arb_longstr().prop_map(FieldValue::LongStr),
        any::<u64>().prop_map(FieldValue::Timestamp),
        Just(FieldValue::Void),
        arb_longstr().prop_map(FieldValue::ByteArray),
    ];
    leaf.prop_recursive(3, 24, 5, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..5).prop_map(FieldValue::Array),
            vec((arb_shortstr(), inner), 0..5)
                .prop_map(|entries| FieldValue::Table(FieldTable(entries))),
        ]
    })
    .boxed()
}

pub fn arb_table() -> BoxedStrategy<FieldTable> {
    vec((arb_shortstr(), arb_field_value()), 0..5)
        .prop_map(FieldTable)
        .boxed()
}

/// BasicProperties with any subset of the fields set.
pub fn arb_properties() -> BoxedStrategy<BasicProperties> {
    let s = || proptest::option::of(arb_shortstr());
    (
        (s(), s(), proptest::option::of(arb_table())),
        (
            proptest::option::of(any::<u8>()),
            proptest::option::of(any::<u8>()),
        ),
        (s(), s(), s(), s()),
        proptest::option::of(any::<u64>()),
        (s(), s(), s(), s()),
    )
        .prop_map(
            |(
                (content_type, content_encoding, headers),
                (delivery_mode, priority),
                (correlation_id, reply_to, expiration, message_id),
                timestamp,
                (kind, user_id, app_id, cluster_id),
            )| BasicProperties {
                content_type,
                content_encoding,
                headers,
                delivery_mode,
                priority,
                correlation_id,
                reply_to,
                expiration,
                message_id,
                timestamp,
                kind,
                user_id,
                app_id,
                cluster_id,
            },
        )
        .boxed()
}

/// Any single frame (bodies are small; a body frame may be empty).
pub fn arb_frame() -> BoxedStrategy<Frame> {
    prop_oneof![
        (any::<u16>(), methods::arb_method())
            .prop_map(|(channel, method)| Frame::Method { channel, method }),
        (any::<u16>(), any::<u16>(), any::<u64>(), arb_properties()).prop_map(
            |(channel, class_id, body_size, p)| Frame::Header {
                channel,
                header: ContentHeader {
                    class_id,
                    body_size,
                    properties: p.encode(),
                },
            }
        ),
        (any::<u16>(), vec(any::<u8>(), 0..300)).prop_map(|(channel, b)| Frame::Body {
            channel,
            payload: Bytes::from(b)
        }),
        any::<u16>().prop_map(|channel| Frame::Heartbeat { channel }),
    ]
    .boxed()
}

pub fn value_to_amq(v: &FieldValue) -> AMQPValue {
    match v {
        FieldValue::Bool(v) => AMQPValue::Boolean(*v),
        FieldValue::I8(v) => AMQPValue::ShortShortInt(*v),
        FieldValue::U8(v) => AMQPValue::ShortShortUInt(*v),
        FieldValue::I16(v) => AMQPValue::ShortInt(*v),
        FieldValue::U16(v) => AMQPValue::ShortUInt(*v),
        FieldValue::I32(v) => AMQPValue::LongInt(*v),
        FieldValue::U32(v) => AMQPValue::LongUInt(*v),
        FieldValue::I64(v) => AMQPValue::LongLongInt(*v),
        FieldValue::F32(v) => AMQPValue::Float(*v),
        FieldValue::F64(v) => AMQPValue::Double(*v),
        FieldValue::Decimal { scale, value } => AMQPValue::DecimalValue(amqt::DecimalValue {
            scale: *scale,
            value: *value,
        }),
        FieldValue::LongStr(b) => AMQPValue::LongString(b.to_vec().into()),
        FieldValue::Array(a) => {
            AMQPValue::FieldArray(a.iter().map(value_to_amq).collect::<Vec<_>>().into())
        }
        FieldValue::Timestamp(v) => AMQPValue::Timestamp(*v),
        FieldValue::Table(t) => AMQPValue::FieldTable(table_to_amq(t)),
        FieldValue::Void => AMQPValue::Void,
        FieldValue::ByteArray(b) => AMQPValue::ByteArray(b.to_vec().into()),
    }
}

/// amq-protocol keeps tables in a BTreeMap: order is lost and, for duplicate
/// keys, the last one wins (as when it parses a table).
pub fn table_to_amq(t: &FieldTable) -> amqt::FieldTable {
    let mut out = amqt::FieldTable::default();
    for (k, v) in t.iter() {
        out.insert(k.as_str().into(), value_to_amq(v));
    }
    out
}

pub fn properties_to_amq(p: &BasicProperties) -> AMQPProperties {
    let mut a = AMQPProperties::default();
    let s = |v: &ShortStr| amqt::ShortString::from(v.as_str());
    if let Some(v) = &p.content_type {
        a = a.with_content_type(s(v));
    }
    if let Some(v) = &p.content_encoding {
        a = a.with_content_encoding(s(v));
    }
    if let Some(v) = &p.headers {
        a = a.with_headers(table_to_amq(v));
    }
    if let Some(v) = p.delivery_mode {
        a = a.with_delivery_mode(v);
    }
    if let Some(v) = p.priority {
        a = a.with_priority(v);
    }
    if let Some(v) = &p.correlation_id {
        a = a.with_correlation_id(s(v));
    }
    if let Some(v) = &p.reply_to {
        a = a.with_reply_to(s(v));
    }
    if let Some(v) = &p.expiration {
        a = a.with_expiration(s(v));
    }
    if let Some(v) = &p.message_id {
        a = a.with_message_id(s(v));
    }
    if let Some(v) = p.timestamp {
        a = a.with_timestamp(v);
    }
    if let Some(v) = &p.kind {
        a = a.with_type(s(v));
    }
    if let Some(v) = &p.user_id {
        a = a.with_user_id(s(v));
    }
    if let Some(v) = &p.app_id {
        a = a.with_app_id(s(v));
    }
    if let Some(v) = &p.cluster_id {
        a = a.with_cluster_id(s(v));
    }
    a
}

/// Encodes frames back to back.
pub fn encode_frames(frames: &[Frame]) -> Vec<u8> {
    let mut buf = bytes::BytesMut::new();
    for f in frames {
        f.encode(&mut buf);
    }
    buf.to_vec()
}

/// Decodes every complete frame in `buf` (frame_max 0).
pub fn decode_all(buf: &mut bytes::BytesMut) -> Vec<Frame> {
    let mut out = Vec::new();
    while let Some(f) = decode_frame(buf, 0).expect("valid frames") {
        out.push(f);
    }
    out
}
