//! Allocations and time per message on the broker's hot path, without sockets:
//! publish (a message already assembled from its frames) -> route through an exchange ->
//! enqueue -> hand to a consumer's connection (outbox) -> the connection takes it -> ack.
//!
//! `cargo bench -p warren-core --bench path` prints, per message, the allocations divan's
//! `AllocProfiler` counts. The goal is zero allocations per message beyond the body buffer
//! (here: the message's fields are slices of a buffer made before the loop, so every
//! allocation counted is the broker's own).
//!
//! Each bench runs twice: `static` (the fields are `Bytes::from_static`: cloning and dropping
//! them cost nothing) and `shared` (the fields are slices of one reference-counted buffer, as
//! they are slices of a connection's read buffer in the server: each clone and drop is an
//! atomic operation on the buffer's count).
//! Samples are fixed (200 x 1,000 messages): left to divan, the first bench measured one
//! message per sample, which the 20 ns timer makes noisy.

use std::sync::Arc;

use bytes::Bytes;
use divan::{AllocProfiler, Bencher};
use warren_amqp::{ExchangeDeclare, FieldTable, QueueDeclare, RawProperties, Route, ShortStr};
use warren_core::{Broker, ChannelLimit, ConnEvent, Consumer, Limits, Message, Outbox};

#[global_allocator]
static ALLOC: AllocProfiler = AllocProfiler::system();

fn main() {
    divan::main();
}

struct Setup {
    broker: Broker,
    rx: warren_core::Mailbox,
}

/// A direct exchange bound to one queue with one consumer (manual ack, no prefetch limit).
fn setup(no_ack: bool) -> Setup {
    let broker = Broker::new(Limits::default());
    let v = broker.vhost("/").expect("default vhost");
    v.declare_exchange(&ExchangeDeclare {
        exchange: ShortStr::from_static("x"),
        kind: ShortStr::from_static("direct"),
        passive: false,
        durable: false,
        auto_delete: false,
        internal: false,
        no_wait: false,
        arguments: FieldTable::new(),
    })
    .expect("declared");
    let q = v
        .declare_queue(
            1,
            &QueueDeclare {
                queue: ShortStr::from_static("q"),
                passive: false,
                durable: false,
                exclusive: false,
                auto_delete: false,
                no_wait: false,
                arguments: FieldTable::new(),
            },
        )
        .expect("declared")
        .queue;
    v.bind_queue(&q, "x", &ShortStr::from_static("k"), &FieldTable::new())
        .expect("bound");
    let (outbox, rx) = Outbox::new();
    let consumer = Arc::new(Consumer::new(
        ShortStr::from_static("c"),
        1,
        1,
        no_ack,
        false,
        0,
        Arc::new(ChannelLimit::default()),
        outbox,
    ));
    q.consume(consumer).expect("consumer added");
    Setup { broker, rx }
}

/// The message published in every iteration: `static` or `shared` buffers (see the top).
fn message(buffers: &str) -> Message {
    let frame = match buffers {
        "static" => Bytes::from_static(FRAME),
        _ => {
            // A reference-counted buffer, as a connection's read buffer is once split.
            let b = Bytes::from(FRAME.to_vec());
            drop(b.clone());
            b
        }
    };
    Message::new(
        Route::from_bytes(frame.slice(..4)).expect("a route"),
        RawProperties(frame.slice(4..7)),
        frame.slice(7..),
    )
}

/// Exchange "x" and routing key "k" (as in basic.publish), properties (delivery-mode 2), body.
const FRAME: &[u8] = b"\x01x\x01k\x10\x00\x02sixteen byte msg";
const BUFFERS: [&str; 2] = ["static", "shared"];

/// One message through the whole path, manual ack.
#[divan::bench(args = BUFFERS, sample_count = 200, sample_size = 1000)]
fn publish_route_deliver_ack(bencher: Bencher, buffers: &str) {
    let mut s = setup(false);
    let v = s.broker.vhost("/").expect("vhost");
    let x = v.exchange("x").expect("exchange");
    let mut scratch = Vec::with_capacity(4);
    let template = message(buffers);
    bencher.bench_local(|| {
        let m = template.clone();
        v.publish(&x, m, &mut scratch);
        scratch.clear();
        match s.rx.try_recv() {
            Some(ConnEvent::Deliver(d)) => {
                d.consumer.release_credit(1);
                d.queue.settle(&d.message, d.stored);
            }
            _ => panic!("the consumer got no delivery"),
        }
    });
}

/// The same with an auto-ack consumer.
#[divan::bench(args = BUFFERS, sample_count = 200, sample_size = 1000)]
fn publish_route_deliver_autoack(bencher: Bencher, buffers: &str) {
    let mut s = setup(true);
    let v = s.broker.vhost("/").expect("vhost");
    let x = v.exchange("x").expect("exchange");
    let mut scratch = Vec::with_capacity(4);
    let template = message(buffers);
    bencher.bench_local(|| {
        let m = template.clone();
        v.publish(&x, m, &mut scratch);
        scratch.clear();
        match s.rx.try_recv() {
            Some(ConnEvent::Deliver(_)) => {}
            _ => panic!("the consumer got no delivery"),
        }
    });
}
