//! Stable-toolchain driver for the `frame_decoder` fuzz target: replays every
//! file in the given corpus directories (default: `seeds/frame_decoder` and
//! `corpus/frame_decoder`), then runs N pseudo-random inputs (default 100000,
//! set with `--random N`, seed with `--seed S`) derived from mutating the seeds.
//!
//! cargo run --release --example replay -- [DIR...] [--random N] [--seed S]
//! cargo run --example replay -- --write-seeds   (regenerates seeds/frame_decoder)

use std::path::{Path, PathBuf};

fn main() {
    let mut dirs = Vec::new();
    let mut random = 100_000u64;
    let mut seed = 0x5eed_u64;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--random" => {
                random = args
                    .next()
                    .and_then(|n| n.parse().ok())
                    .expect("--random N")
            }
            "--seed" => seed = args.next().and_then(|n| n.parse().ok()).expect("--seed S"),
            "--write-seeds" => {
                write_seeds(&Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds/frame_decoder"));
                return;
            }
            _ => dirs.push(PathBuf::from(arg)),
        }
    }
    if dirs.is_empty() {
        let here = Path::new(env!("CARGO_MANIFEST_DIR"));
        dirs.push(here.join("seeds/frame_decoder"));
        dirs.push(here.join("corpus/frame_decoder"));
    }
    let mut inputs = Vec::new();
    for dir in &dirs {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        for entry in entries.flatten() {
            if let Ok(data) = std::fs::read(entry.path()) {
                inputs.push(data);
            }
        }
    }
    for data in &inputs {
        warren_amqp_fuzz::frame_decoder(data);
    }
    println!("replayed {} corpus inputs", inputs.len());

    // xorshift mutations of the corpus (or of empty input if there is none).
    let mut state = seed | 1;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..random {
        let mut data = if inputs.is_empty() {
            Vec::new()
        } else {
            inputs[(next() % inputs.len() as u64) as usize].clone()
        };
        for _ in 0..(next() % 8) {
            match next() % 4 {
                0 if !data.is_empty() => {
                    let i = (next() % data.len() as u64) as usize;
                    data[i] = next() as u8;
                }
                1 if !data.is_empty() => {
                    let len = (next() % data.len() as u64) as usize;
                    data.truncate(len);
                }
                2 => {
                    let i = (next() % (data.len() as u64 + 1)) as usize;
                    data.insert(i, next() as u8);
                }
                _ => data.extend((0..next() % 16).map(|_| next() as u8)),
            }
        }
        warren_amqp_fuzz::frame_decoder(&data);
    }
    println!("ran {random} mutated inputs: no panics");
}

/// Writes a few valid frame sequences (each prefixed with the two control
/// bytes: frame_max selector, chunk size) as seeds.
fn write_seeds(dir: &Path) {
    use bytes::{Bytes, BytesMut};
    use warren_amqp::*;
    std::fs::create_dir_all(dir).expect("create seed dir");
    let s = ShortStr::from_static;
    let mut table = FieldTable::new();
    for (k, v) in [
        ("bool", FieldValue::Bool(true)),
        ("i8", FieldValue::I8(-1)),
        ("u8", FieldValue::U8(1)),
        ("i16", FieldValue::I16(-2)),
        ("u16", FieldValue::U16(2)),
        ("i32", FieldValue::I32(-3)),
        ("u32", FieldValue::U32(3)),
        ("i64", FieldValue::I64(-4)),
        ("f32", FieldValue::F32(1.5)),
        ("f64", FieldValue::F64(2.5)),
        (
            "dec",
            FieldValue::Decimal {
                scale: 2,
                value: 314,
            },
        ),
        ("str", FieldValue::LongStr(Bytes::from_static(b"hello"))),
        (
            "arr",
            FieldValue::Array(vec![FieldValue::Void, FieldValue::I32(1)]),
        ),
        ("ts", FieldValue::Timestamp(1_700_000_000)),
        ("void", FieldValue::Void),
        (
            "bytes",
            FieldValue::ByteArray(Bytes::from_static(b"\x00\x01")),
        ),
    ] {
        table.insert(ShortStr::try_from(k).unwrap(), v);
    }
    let mut nested = table.clone();
    nested.insert(s("nested"), FieldValue::Table(table.clone()));
    let props = BasicProperties {
        content_type: Some(s("application/json")),
        content_encoding: Some(s("gzip")),
        headers: Some(nested.clone()),
        delivery_mode: Some(2),
        priority: Some(5),
        correlation_id: Some(s("corr")),
        reply_to: Some(s("amq.rabbitmq.reply-to")),
        expiration: Some(s("60000")),
        message_id: Some(s("m1")),
        timestamp: Some(1),
        kind: Some(s("t")),
        user_id: Some(s("guest")),
        app_id: Some(s("app")),
        cluster_id: Some(s("c")),
    };
    let seeds: Vec<(&str, Vec<Frame>)> = vec![
        (
            "publish",
            vec![
                Frame::Method {
                    channel: 1,
                    method: Method::BasicPublish(BasicPublish {
                        route: Route::from_short(&s("amq.topic"), &s("a.b")),
                        mandatory: true,
                        immediate: false,
                    }),
                },
                Frame::Header {
                    channel: 1,
                    header: ContentHeader {
                        class_id: 60,
                        body_size: 5,
                        properties: props.encode(),
                    },
                },
                Frame::Body {
                    channel: 1,
                    payload: Bytes::from_static(b"hello"),
                },
            ],
        ),
        (
            "handshake",
            vec![
                Frame::Method {
                    channel: 0,
                    method: Method::ConnectionStartOk(ConnectionStartOk {
                        client_properties: nested.clone(),
                        mechanism: s("PLAIN"),
                        response: Bytes::from_static(b"\0guest\0guest"),
                        locale: s("en_US"),
                    }),
                },
                Frame::Method {
                    channel: 0,
                    method: Method::ConnectionTuneOk(ConnectionTuneOk {
                        channel_max: 2047,
                        frame_max: 131072,
                        heartbeat: 60,
                    }),
                },
                Frame::Method {
                    channel: 0,
                    method: Method::ConnectionOpen(ConnectionOpen {
                        virtual_host: s("/"),
                    }),
                },
                Frame::Method {
                    channel: 1,
                    method: Method::ChannelOpen,
                },
                Frame::Heartbeat { channel: 0 },
            ],
        ),
        (
            "declare",
            vec![
                Frame::Method {
                    channel: 1,
                    method: Method::QueueDeclare(QueueDeclare {
                        queue: s("q"),
                        durable: true,
                        arguments: table.clone(),
                        ..Default::default()
                    }),
                },
                Frame::Method {
                    channel: 1,
                    method: Method::ExchangeDeclare(ExchangeDeclare {
                        exchange: s("x"),
                        kind: s("headers"),
                        arguments: nested,
                        ..Default::default()
                    }),
                },
                Frame::Method {
                    channel: 1,
                    method: Method::BasicConsume(BasicConsume {
                        queue: s("q"),
                        consumer_tag: s("c1"),
                        no_ack: true,
                        arguments: table,
                        ..Default::default()
                    }),
                },
                Frame::Method {
                    channel: 1,
                    method: Method::BasicNack(BasicNack {
                        delivery_tag: 7,
                        multiple: true,
                        requeue: true,
                    }),
                },
            ],
        ),
    ];
    for (name, frames) in seeds {
        let mut buf = BytesMut::from(&[0u8, 255][..]);
        for f in &frames {
            f.encode(&mut buf);
        }
        std::fs::write(dir.join(name), &buf).expect("write seed");
        // Same stream with frame_max 4088 (8 + 255 * 16) and 3-byte chunks.
        buf[0] = 0xff;
        buf[1] = 3;
        std::fs::write(dir.join(format!("{name}-chunked")), &buf).expect("write seed");
    }
    println!("wrote seeds to {}", dir.display());
}
