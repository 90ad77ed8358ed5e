//! Codec micro-benchmarks.
//!
//! Run with `cargo bench -p warren-amqp --bench codec`.

use bytes::{Bytes, BytesMut};
use divan::{black_box, Bencher};
use warren_amqp::*;

fn main() {
    divan::main();
}

fn sample_properties() -> RawProperties {
    let mut headers = FieldTable::new();
    headers.insert(
        ShortStr::from_static("x-trace-id"),
        FieldValue::LongStr(Bytes::from_static(b"0af7651916cd43dd8448eb211c80319c")),
    );
    headers.insert(ShortStr::from_static("x-retries"), FieldValue::I32(3));
    BasicProperties {
        content_type: Some(ShortStr::from_static("application/json")),
        headers: Some(headers),
        delivery_mode: Some(2),
        message_id: Some(ShortStr::from_static("msg-000001")),
        timestamp: Some(1_700_000_000),
        ..Default::default()
    }
    .encode()
}

/// basic.publish + content header + one body frame, as a publisher sends them.
fn publish_sequence(body_len: usize) -> Vec<u8> {
    let mut buf = BytesMut::new();
    let publish = Method::BasicPublish(BasicPublish {
        route: Route::new("amq.topic", "orders.eu.created").expect("short strings"),
        mandatory: false,
        immediate: false,
    });
    encode_method_frame(&mut buf, 1, &publish);
    encode_header_frame(&mut buf, 1, 60, body_len as u64, &sample_properties());
    encode_body_frames(&mut buf, 1, &vec![0x5a; body_len], 131_072);
    buf.to_vec()
}

/// Decode the three frames of one published message.
#[divan::bench(args = [16, 1024, 65536])]
fn decode_publish_header_body(bencher: Bencher, body_len: usize) {
    let wire = publish_sequence(body_len);
    bencher
        .counter(divan::counter::BytesCount::new(wire.len()))
        .with_inputs(|| BytesMut::from(&wire[..]))
        .bench_local_refs(|buf| {
            let m = decode_frame(buf, 131_072).unwrap().unwrap();
            let h = decode_frame(buf, 131_072).unwrap().unwrap();
            let b = decode_frame(buf, 131_072).unwrap().unwrap();
            black_box((m, h, b))
        });
}

/// Write a basic.deliver method frame (hot path, no Method built).
#[divan::bench]
fn encode_deliver(bencher: Bencher) {
    let mut buf = BytesMut::with_capacity(4096);
    let mut tag = 0u64;
    bencher.bench_local(|| {
        buf.clear();
        tag += 1;
        encode_deliver_frame(
            &mut buf,
            black_box(1),
            black_box("amq.ctag-k3jF9x0aLq_2T0pWcz4Mzw"),
            tag,
            false,
            black_box("amq.topic"),
            black_box("orders.eu.created"),
        );
        black_box(buf.len())
    });
}

/// Write a deliver + header + small body, as the broker does per message.
#[divan::bench]
fn encode_deliver_header_body(bencher: Bencher) {
    let props = sample_properties();
    let body = vec![0x5au8; 256];
    let mut buf = BytesMut::with_capacity(4096);
    bencher.bench_local(|| {
        buf.clear();
        encode_deliver_frame(
            &mut buf,
            1,
            "ctag-1",
            42,
            false,
            "amq.topic",
            "orders.eu.created",
        );
        encode_header_frame(&mut buf, 1, 60, body.len() as u64, black_box(&props));
        encode_body_frames(&mut buf, 1, black_box(&body), 131_072);
        black_box(buf.len())
    });
}

/// Read the delivery mode from raw properties (scans content-type and headers).
#[divan::bench]
fn raw_properties_delivery_mode(bencher: Bencher) {
    let props = sample_properties();
    bencher.bench_local(|| black_box(&props).delivery_mode());
}

/// Full decode of the same properties, for comparison.
#[divan::bench]
fn raw_properties_full_decode(bencher: Bencher) {
    let props = sample_properties();
    bencher.bench_local(|| black_box(&props).decode().unwrap());
}
