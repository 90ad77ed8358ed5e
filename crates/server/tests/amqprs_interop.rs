//! Interop with the amqprs 2 client over real TCP: exchanges of every type, queues, bindings,
//! consumers, acks, prefetch, publisher confirms, returns, and channel errors whose reply codes
//! amqprs only reports through its channel callback.
//!
//! Every wait is bounded (see [`within`]), so a broken broker fails a test instead of hanging it.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use amqprs::callbacks::ChannelCallback;
use amqprs::channel::{
    BasicAckArguments, BasicCancelArguments, BasicConsumeArguments, BasicGetArguments,
    BasicNackArguments, BasicPublishArguments, BasicQosArguments, BasicRejectArguments, Channel,
    ConfirmSelectArguments, ConsumerMessage, ExchangeBindArguments, ExchangeDeclareArguments,
    ExchangeDeleteArguments, ExchangeType, QueueBindArguments, QueueDeclareArguments,
    QueueDeleteArguments, QueuePurgeArguments, QueueUnbindArguments,
};
use amqprs::connection::{Connection, OpenConnectionArguments};
use amqprs::{
    Ack, BasicProperties, Cancel, CloseChannel, Deliver, FieldTable, FieldValue, Nack, Return,
};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};
use warren_core::{Broker, Limits};
use warren_server::RunningServer;

const WAIT: Duration = Duration::from_secs(10);

async fn within<T>(what: &str, f: impl Future<Output = T>) -> T {
    tokio::time::timeout(WAIT, f)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

/// The broker under test: an in-process Warren, or the broker at `WARREN_AMQPRS_TARGET`
/// (host:port, e.g. a RabbitMQ node) when set, to check these expectations against it.
struct Target {
    addr: std::net::SocketAddr,
    server: Option<RunningServer>,
}

impl Target {
    fn is_warren(&self) -> bool {
        self.server.is_some()
    }

    async fn stop(self) {
        if let Some(s) = self.server {
            s.stop().await;
        }
    }
}

async fn start() -> Target {
    if let Ok(a) = std::env::var("WARREN_AMQPRS_TARGET") {
        return Target {
            addr: a.parse().expect("WARREN_AMQPRS_TARGET is host:port"),
            server: None,
        };
    }
    let server = RunningServer::start("127.0.0.1:0", Arc::new(Broker::new(Limits::default())))
        .await
        .expect("server starts on a free port");
    Target {
        addr: server.addr,
        server: Some(server),
    }
}

async fn connect(server: &Target) -> Connection {
    let args = OpenConnectionArguments::new(
        &server.addr.ip().to_string(),
        server.addr.port(),
        "guest",
        "guest",
    );
    within("connection.open", Connection::open(&args))
        .await
        .expect("amqprs connects")
}

/// What the broker told a channel asynchronously.
#[derive(Debug)]
enum Ev {
    Closed {
        code: u16,
        text: String,
        class_id: u16,
        method_id: u16,
    },
    Ack {
        tag: u64,
        multiple: bool,
    },
    Nack {
        tag: u64,
    },
    Returned {
        code: u16,
        text: String,
        exchange: String,
        routing_key: String,
        body: Vec<u8>,
    },
    Cancelled(String),
}

/// A channel callback that forwards every event to the test. (Written out by hand rather than
/// with `#[async_trait]`, which is what the trait's signatures expand to.)
struct Events(UnboundedSender<Ev>);

type CbFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

impl ChannelCallback for Events {
    fn close<'a, 'b, 'c>(
        &'a mut self,
        _channel: &'b Channel,
        close: CloseChannel,
    ) -> CbFuture<'c, Result<(), amqprs::error::Error>>
    where
        'a: 'c,
        'b: 'c,
        Self: 'c,
    {
        let _ = self.0.send(Ev::Closed {
            code: close.reply_code(),
            text: close.reply_text().clone(),
            class_id: close.class_id(),
            method_id: close.method_id(),
        });
        Box::pin(async { Ok(()) })
    }

    fn cancel<'a, 'b, 'c>(
        &'a mut self,
        _channel: &'b Channel,
        cancel: Cancel,
    ) -> CbFuture<'c, Result<(), amqprs::error::Error>>
    where
        'a: 'c,
        'b: 'c,
        Self: 'c,
    {
        let _ = self.0.send(Ev::Cancelled(cancel.consumer_tag().clone()));
        Box::pin(async { Ok(()) })
    }

    fn flow<'a, 'b, 'c>(
        &'a mut self,
        _channel: &'b Channel,
        active: bool,
    ) -> CbFuture<'c, Result<bool, amqprs::error::Error>>
    where
        'a: 'c,
        'b: 'c,
        Self: 'c,
    {
        Box::pin(async move { Ok(active) })
    }

    fn publish_ack<'a, 'b, 'c>(&'a mut self, _channel: &'b Channel, ack: Ack) -> CbFuture<'c, ()>
    where
        'a: 'c,
        'b: 'c,
        Self: 'c,
    {
        let _ = self.0.send(Ev::Ack {
            tag: ack.delivery_tag(),
            multiple: ack.mutiple(),
        });
        Box::pin(async {})
    }

    fn publish_nack<'a, 'b, 'c>(&'a mut self, _channel: &'b Channel, nack: Nack) -> CbFuture<'c, ()>
    where
        'a: 'c,
        'b: 'c,
        Self: 'c,
    {
        let _ = self.0.send(Ev::Nack {
            tag: nack.delivery_tag(),
        });
        Box::pin(async {})
    }

    fn publish_return<'a, 'b, 'c>(
        &'a mut self,
        _channel: &'b Channel,
        ret: Return,
        _basic_properties: BasicProperties,
        content: Vec<u8>,
    ) -> CbFuture<'c, ()>
    where
        'a: 'c,
        'b: 'c,
        Self: 'c,
    {
        let _ = self.0.send(Ev::Returned {
            code: ret.reply_code(),
            text: ret.reply_text().clone(),
            exchange: ret.exchange().clone(),
            routing_key: ret.routing_key().clone(),
            body: content,
        });
        Box::pin(async {})
    }
}

/// A channel with its event stream.
struct Chan {
    ch: Channel,
    ev: UnboundedReceiver<Ev>,
    /// Publisher confirms: every sequence number up to this one was acked.
    acked_upto: u64,
}

impl Chan {
    async fn open(conn: &Connection) -> Chan {
        let ch = within("channel.open", conn.open_channel(None))
            .await
            .expect("channel opens");
        let (tx, ev) = unbounded_channel();
        ch.register_callback(Events(tx))
            .await
            .expect("callback registered");
        Chan {
            ch,
            ev,
            acked_upto: 0,
        }
    }

    async fn event(&mut self) -> Ev {
        within("a channel event", self.ev.recv())
            .await
            .expect("channel event stream open")
    }

    /// Waits for the broker's channel.close (other events are skipped); returns (code, text,
    /// class_id, method_id).
    async fn closed(&mut self) -> (u16, String, u16, u16) {
        loop {
            if let Ev::Closed {
                code,
                text,
                class_id,
                method_id,
            } = self.event().await
            {
                return (code, text, class_id, method_id);
            }
        }
    }

    /// Confirm mode on.
    async fn confirm(&self) {
        within(
            "confirm.select-ok",
            self.ch.confirm_select(ConfirmSelectArguments::new(false)),
        )
        .await
        .expect("confirm.select");
    }

    async fn publish(&self, exchange: &str, key: &str, body: &[u8]) {
        self.publish_props(exchange, key, body, BasicProperties::default())
            .await
    }

    async fn publish_props(&self, exchange: &str, key: &str, body: &[u8], props: BasicProperties) {
        within(
            "basic.publish",
            self.ch.basic_publish(
                props,
                body.to_vec(),
                BasicPublishArguments::new(exchange, key),
            ),
        )
        .await
        .expect("publish sent");
    }

    /// Waits until the next `n` publishes of this (confirm-mode) channel are acked; each
    /// sequence number must be confirmed exactly once, none nacked.
    async fn await_acks(&mut self, n: u64) {
        let first = self.acked_upto + 1;
        let mut acked = BTreeSet::new();
        while (acked.len() as u64) < n {
            match self.event().await {
                Ev::Ack { tag, multiple } => {
                    assert!(
                        (first..first + n).contains(&tag),
                        "ack for unexpected publish {tag}"
                    );
                    if multiple {
                        // Everything up to `tag` not acked yet (RabbitMQ may ack out of order).
                        acked.extend(first..=tag);
                    } else {
                        assert!(acked.insert(tag), "publish {tag} confirmed twice");
                    }
                }
                Ev::Nack { tag } => panic!("publish {tag} was nacked"),
                other => panic!("expected publisher acks, got {other:?}"),
            }
        }
        assert_eq!(acked, (first..first + n).collect::<BTreeSet<u64>>());
        self.acked_upto += n;
    }

    async fn declare(&self, args: QueueDeclareArguments) -> (String, u32, u32) {
        within("queue.declare-ok", self.ch.queue_declare(args))
            .await
            .expect("queue.declare")
            .expect("declare-ok (no_wait off)")
    }

    /// An exclusive server-named queue.
    async fn temp_queue(&self) -> String {
        self.declare(QueueDeclareArguments::exclusive_server_named())
            .await
            .0
    }

    async fn bind(&self, queue: &str, exchange: &str, key: &str, args: FieldTable) {
        let mut b = QueueBindArguments::new(queue, exchange, key);
        b.arguments = args;
        within("queue.bind-ok", self.ch.queue_bind(b))
            .await
            .expect("queue.bind");
    }

    async fn get(&self, queue: &str, no_ack: bool) -> Option<(amqprs::GetOk, Vec<u8>)> {
        let mut args = BasicGetArguments::new(queue);
        args.no_ack = no_ack;
        within("basic.get", self.ch.basic_get(args))
            .await
            .expect("basic.get")
            .map(|(ok, _props, body)| (ok, body))
    }

    async fn consume(
        &self,
        queue: &str,
        manual_ack: bool,
    ) -> (String, UnboundedReceiver<ConsumerMessage>) {
        let mut args = BasicConsumeArguments::new(queue, "");
        args.manual_ack(manual_ack);
        within("basic.consume-ok", self.ch.basic_consume_rx(args.finish()))
            .await
            .expect("basic.consume")
    }
}

async fn next_delivery(
    rx: &mut UnboundedReceiver<ConsumerMessage>,
) -> (Deliver, BasicProperties, Vec<u8>) {
    let m = within("a delivery", rx.recv())
        .await
        .expect("consumer stream open");
    (
        m.deliver.expect("deliver"),
        m.basic_properties.expect("properties"),
        m.content.expect("content"),
    )
}

/// Bodies delivered to a consumer of `queue` until the sentinel "END", which the caller publishes
/// through the default exchange after everything else: a queue receives one publisher's messages
/// in order, so when "END" arrives, everything routed there before it has arrived too.
async fn bodies_until_end(rx: &mut UnboundedReceiver<ConsumerMessage>) -> Vec<String> {
    let mut got = Vec::new();
    loop {
        let (_, _, body) = next_delivery(rx).await;
        let body = String::from_utf8(body).expect("utf8 body");
        if body == "END" {
            return got;
        }
        got.push(body);
    }
}

fn table(entries: &[(&str, FieldValue)]) -> FieldTable {
    let mut t = FieldTable::new();
    for (k, v) in entries {
        t.insert((*k).try_into().expect("field name"), v.clone());
    }
    t
}

/// Declares one exchange of `kind`, binds a consumer queue per entry of `bindings`, publishes
/// `messages` (routing key, headers) and returns what each queue received, by queue label.
async fn route(
    conn: &Connection,
    kind: ExchangeType,
    bindings: &[(&str, &str, FieldTable)],
    messages: &[(&str, Option<FieldTable>)],
) -> BTreeMap<String, Vec<String>> {
    let c = Chan::open(conn).await;
    let x = format!("x-{}", warren_core::generate_queue_name());
    within(
        "exchange.declare-ok",
        c.ch.exchange_declare(ExchangeDeclareArguments::of_type(&x, kind)),
    )
    .await
    .expect("exchange.declare");
    let mut queues: BTreeMap<String, String> = BTreeMap::new();
    for (label, key, args) in bindings {
        let q = match queues.get(*label) {
            Some(q) => q.clone(),
            None => {
                let q = c.temp_queue().await;
                queues.insert(label.to_string(), q.clone());
                q
            }
        };
        c.bind(&q, &x, key, args.clone()).await;
    }
    let mut consumers = Vec::new();
    for (label, q) in &queues {
        let (_, rx) = c.consume(q, false).await;
        consumers.push((label.clone(), rx));
    }
    for (i, (key, headers)) in messages.iter().enumerate() {
        let mut props = BasicProperties::default();
        if let Some(h) = headers {
            props.with_headers(h.clone());
        }
        c.publish_props(&x, key, format!("{i}:{key}").as_bytes(), props)
            .await;
    }
    for q in queues.values() {
        c.publish("", q, b"END").await;
    }
    let mut out = BTreeMap::new();
    for (label, mut rx) in consumers {
        out.insert(label, bodies_until_end(&mut rx).await);
    }
    within(
        "exchange.delete-ok",
        c.ch.exchange_delete(ExchangeDeleteArguments::new(&x)),
    )
    .await
    .expect("exchange.delete");
    out
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[tokio::test]
async fn connect_open_channels_and_close_cleanly() {
    let server = start().await;
    let conn = connect(&server).await;
    assert!(conn.is_open());
    let props = conn.server_properties();
    if server.is_warren() {
        assert_eq!(props.product(), "Warren");
    }
    let caps = props.capabilities();
    assert!(caps.publisher_confirms());
    assert!(caps.basic_nack());
    assert!(caps.consumer_cancel_notify());
    let a = Chan::open(&conn).await;
    let b = Chan::open(&conn).await;
    assert_ne!(a.ch.channel_id(), b.ch.channel_id());
    assert!(a.ch.is_open() && b.ch.is_open());
    within("channel.close-ok", a.ch.close())
        .await
        .expect("channel closes");
    b.temp_queue().await;
    within("connection.close-ok", conn.close())
        .await
        .expect("connection closes");
    server.stop().await;
}

#[tokio::test]
async fn direct_exchange_routes_by_exact_key() {
    let server = start().await;
    let conn = connect(&server).await;
    let got = route(
        &conn,
        ExchangeType::Direct,
        &[
            ("a", "apple", FieldTable::new()),
            ("b", "banana", FieldTable::new()),
            ("ab", "apple", FieldTable::new()),
            ("ab", "banana", FieldTable::new()),
        ],
        &[
            ("apple", None),
            ("banana", None),
            ("cherry", None),
            ("Apple", None),
        ],
    )
    .await;
    assert_eq!(got["a"], strings(&["0:apple"]));
    assert_eq!(got["b"], strings(&["1:banana"]));
    assert_eq!(got["ab"], strings(&["0:apple", "1:banana"]));
}

#[tokio::test]
async fn fanout_exchange_ignores_keys() {
    let server = start().await;
    let conn = connect(&server).await;
    let got = route(
        &conn,
        ExchangeType::Fanout,
        &[
            ("one", "", FieldTable::new()),
            ("two", "whatever", FieldTable::new()),
        ],
        &[("k1", None), ("", None)],
    )
    .await;
    assert_eq!(got["one"], strings(&["0:k1", "1:"]));
    assert_eq!(got["two"], strings(&["0:k1", "1:"]));
}

#[tokio::test]
async fn topic_exchange_matches_words_and_hashes() {
    let server = start().await;
    let conn = connect(&server).await;
    let got = route(
        &conn,
        ExchangeType::Topic,
        &[
            ("orange", "*.orange.*", FieldTable::new()),
            ("rabbit_lazy", "*.*.rabbit", FieldTable::new()),
            ("rabbit_lazy", "lazy.#", FieldTable::new()),
            ("all", "#", FieldTable::new()),
        ],
        &[
            ("quick.orange.rabbit", None),
            ("lazy.orange.elephant", None),
            ("quick.orange.fox", None),
            ("lazy.brown.fox", None),
            ("lazy.pink.rabbit", None),
            ("quick.brown.fox", None),
            ("orange", None),
            ("lazy.orange.male.rabbit", None),
            ("lazy", None),
        ],
    )
    .await;
    assert_eq!(
        got["orange"],
        strings(&[
            "0:quick.orange.rabbit",
            "1:lazy.orange.elephant",
            "2:quick.orange.fox"
        ])
    );
    // Matched by both of its bindings, "lazy.pink.rabbit" still arrives once.
    assert_eq!(
        got["rabbit_lazy"],
        strings(&[
            "0:quick.orange.rabbit",
            "1:lazy.orange.elephant",
            "3:lazy.brown.fox",
            "4:lazy.pink.rabbit",
            "7:lazy.orange.male.rabbit",
            "8:lazy"
        ])
    );
    assert_eq!(got["all"].len(), 9);
}

#[tokio::test]
async fn headers_exchange_x_match_all_and_any() {
    let server = start().await;
    let conn = connect(&server).await;
    let bind = |mode: &str| {
        table(&[
            ("x-match", FieldValue::from(mode)),
            ("format", FieldValue::from("pdf")),
            ("type", FieldValue::from("report")),
        ])
    };
    let h = |entries: &[(&str, &str)]| {
        let e: Vec<(&str, FieldValue)> = entries
            .iter()
            .map(|(k, v)| (*k, FieldValue::from(*v)))
            .collect();
        Some(table(&e))
    };
    let got = route(
        &conn,
        ExchangeType::Headers,
        &[("all", "", bind("all")), ("any", "ignored", bind("any"))],
        &[
            ("m0", h(&[("format", "pdf"), ("type", "report")])),
            ("m1", h(&[("format", "pdf")])),
            ("m2", h(&[("type", "log")])),
            (
                "m3",
                h(&[("format", "pdf"), ("type", "report"), ("extra", "1")]),
            ),
            ("m4", None),
            ("m5", h(&[("format", "zip"), ("type", "report")])),
        ],
    )
    .await;
    assert_eq!(got["all"], strings(&["0:m0", "3:m3"]));
    assert_eq!(got["any"], strings(&["0:m0", "1:m1", "3:m3", "5:m5"]));
}

#[tokio::test]
async fn exchange_to_exchange_binding_and_declare_delete() {
    let server = start().await;
    let conn = connect(&server).await;
    let c = Chan::open(&conn).await;
    for (name, kind) in [
        ("e2e-src", ExchangeType::Topic),
        ("e2e-dst", ExchangeType::Fanout),
    ] {
        within(
            "exchange.declare-ok",
            c.ch.exchange_declare(ExchangeDeclareArguments::of_type(name, kind)),
        )
        .await
        .expect("declare");
    }
    // Redeclaring with the same attributes and declaring passively both succeed.
    within(
        "exchange.declare-ok",
        c.ch.exchange_declare(ExchangeDeclareArguments::of_type(
            "e2e-src",
            ExchangeType::Topic,
        )),
    )
    .await
    .expect("same redeclare");
    let mut passive = ExchangeDeclareArguments::new("e2e-dst", "fanout");
    passive.passive(true);
    within(
        "exchange.declare-ok",
        c.ch.exchange_declare(passive.finish()),
    )
    .await
    .expect("passive declare");
    within(
        "exchange.bind-ok",
        c.ch.exchange_bind(ExchangeBindArguments::new("e2e-dst", "e2e-src", "a.*")),
    )
    .await
    .expect("exchange.bind");
    let q = c.temp_queue().await;
    c.bind(&q, "e2e-dst", "", FieldTable::new()).await;
    let (_, mut rx) = c.consume(&q, false).await;
    c.publish("e2e-src", "a.b", b"through").await;
    c.publish("e2e-src", "b.b", b"filtered").await;
    c.publish("", &q, b"END").await;
    assert_eq!(bodies_until_end(&mut rx).await, strings(&["through"]));
    within(
        "exchange.delete-ok",
        c.ch.exchange_delete(ExchangeDeleteArguments::new("e2e-src")),
    )
    .await
    .expect("delete src");
    within(
        "exchange.delete-ok",
        c.ch.exchange_delete(ExchangeDeleteArguments::new("e2e-dst")),
    )
    .await
    .expect("delete dst");
    // Gone: a passive declare now fails with 404.
    let mut c2 = Chan::open(&conn).await;
    let mut passive = ExchangeDeclareArguments::new("e2e-src", "topic");
    passive.passive(true);
    let r = within(
        "exchange.declare reply",
        c2.ch.exchange_declare(passive.finish()),
    )
    .await;
    assert!(r.is_err());
    assert_eq!(c2.closed().await.0, 404);
}

#[tokio::test]
async fn queue_declare_variants() {
    let server = start().await;
    let conn = connect(&server).await;
    let mut c = Chan::open(&conn).await;
    // Server-named.
    let (name, messages, consumers) = c
        .declare(QueueDeclareArguments::exclusive_server_named())
        .await;
    assert!(name.starts_with("amq.gen-"), "server-named queue {name}");
    assert_eq!((messages, consumers), (0, 0));
    // Durable, then the same again, then passive: counts are reported.
    let (d, ..) = c
        .declare(QueueDeclareArguments::durable_client_named(
            "amqprs-durable",
        ))
        .await;
    assert_eq!(d, "amqprs-durable");
    c.confirm().await;
    for i in 0..3 {
        c.publish("", "amqprs-durable", format!("m{i}").as_bytes())
            .await;
    }
    c.await_acks(3).await;
    let (_, messages, consumers) = c
        .declare(QueueDeclareArguments::durable_client_named(
            "amqprs-durable",
        ))
        .await;
    assert_eq!((messages, consumers), (3, 0));
    let mut passive = QueueDeclareArguments::new("amqprs-durable");
    passive.passive(true);
    let (_, messages, _) = c.declare(passive.finish()).await;
    assert_eq!(messages, 3);
    let n = within(
        "queue.delete-ok",
        c.ch.queue_delete(QueueDeleteArguments::new("amqprs-durable")),
    )
    .await
    .expect("queue.delete");
    assert_eq!(n, Some(3));
    // Auto-delete: goes away when its last consumer cancels.
    c.declare(QueueDeclareArguments::transient_autodelete("amqprs-auto"))
        .await;
    let (tag, _rx) = c.consume("amqprs-auto", false).await;
    let mut passive = QueueDeclareArguments::new("amqprs-auto");
    passive.passive(true);
    let (_, _, consumers) = c.declare(passive.clone()).await;
    assert_eq!(consumers, 1);
    within(
        "basic.cancel-ok",
        c.ch.basic_cancel(BasicCancelArguments::new(&tag)),
    )
    .await
    .expect("cancel");
    let mut c2 = Chan::open(&conn).await;
    assert!(within("queue.declare reply", c2.ch.queue_declare(passive))
        .await
        .is_err());
    assert_eq!(c2.closed().await.0, 404);
}

#[tokio::test]
async fn bind_unbind_purge_and_delete_conditions() {
    let server = start().await;
    let conn = connect(&server).await;
    let mut c = Chan::open(&conn).await;
    c.confirm().await;
    let q = "amqprs-bindings";
    c.declare(QueueDeclareArguments::new(q)).await;
    c.bind(q, "amq.direct", "k", FieldTable::new()).await;
    c.publish("amq.direct", "k", b"bound").await;
    c.await_acks(1).await;
    let (ok, body) = c.get(q, true).await.expect("routed while bound");
    assert_eq!(body, b"bound");
    assert_eq!(ok.exchange(), "amq.direct");
    assert_eq!(ok.routing_key(), "k");
    within(
        "queue.unbind-ok",
        c.ch.queue_unbind(QueueUnbindArguments::new(q, "amq.direct", "k")),
    )
    .await
    .expect("unbind");
    c.publish("amq.direct", "k", b"unbound").await;
    c.await_acks(1).await;
    assert!(c.get(q, true).await.is_none(), "not routed after unbind");
    // Purge reports how many messages it dropped.
    for i in 0..4 {
        c.publish("", q, format!("p{i}").as_bytes()).await;
    }
    c.await_acks(4).await;
    let purged = within(
        "queue.purge-ok",
        c.ch.queue_purge(QueuePurgeArguments::new(q)),
    )
    .await
    .expect("purge");
    assert_eq!(purged, Some(4));
    assert!(c.get(q, true).await.is_none());
    // if-empty refuses a queue with messages: 406.
    c.publish("", q, b"keep").await;
    c.await_acks(1).await;
    let mut del = QueueDeleteArguments::new(q);
    del.if_empty = true;
    assert!(within("queue.delete reply", c.ch.queue_delete(del))
        .await
        .is_err());
    let (code, text, class_id, method_id) = c.closed().await;
    assert_eq!(code, 406, "{text}");
    assert_eq!((class_id, method_id), (50, 40));
    // if-unused refuses a queue with a consumer: 406.
    let mut c = Chan::open(&conn).await;
    let consumer = Chan::open(&conn).await;
    let (_tag, _rx) = consumer.consume(q, false).await;
    let mut del = QueueDeleteArguments::new(q);
    del.if_unused = true;
    assert!(within("queue.delete reply", c.ch.queue_delete(del))
        .await
        .is_err());
    assert_eq!(c.closed().await.0, 406);
    // The queue survived both; a plain delete works (the message went to the consumer).
    let c = Chan::open(&conn).await;
    let n = within(
        "queue.delete-ok",
        c.ch.queue_delete(QueueDeleteArguments::new(q)),
    )
    .await
    .expect("delete");
    assert_eq!(n, Some(0));
}

#[tokio::test]
async fn publish_and_basic_get_with_properties() {
    let server = start().await;
    let conn = connect(&server).await;
    let mut c = Chan::open(&conn).await;
    c.confirm().await;
    let q = c.temp_queue().await;
    let mut props = BasicProperties::default();
    props
        .with_content_type("text/plain")
        .with_message_id("id-7")
        .with_persistence(true)
        .with_priority(3)
        .with_headers(table(&[("h", FieldValue::from("v"))]));
    c.publish_props("", &q, b"first", props.finish()).await;
    c.publish("", &q, b"second").await;
    c.publish("", &q, b"third").await;
    c.await_acks(3).await;
    let mut args = BasicGetArguments::new(&q);
    args.no_ack = true;
    let (ok, got_props, body) = within("basic.get", c.ch.basic_get(args))
        .await
        .expect("get")
        .expect("a message");
    assert_eq!(body, b"first");
    assert_eq!(ok.message_count(), 2);
    assert!(!ok.redelivered());
    assert_eq!(
        got_props.content_type().map(String::as_str),
        Some("text/plain")
    );
    assert_eq!(got_props.message_id().map(String::as_str), Some("id-7"));
    assert_eq!(got_props.delivery_mode(), Some(2));
    assert_eq!(got_props.priority(), Some(3));
    let h = got_props.headers().expect("headers");
    assert_eq!(
        h.get(&"h".try_into().unwrap()).map(|v| v.to_string()),
        Some(FieldValue::from("v").to_string())
    );
    let (ok, body) = c.get(&q, true).await.expect("second");
    assert_eq!((body.as_slice(), ok.message_count()), (&b"second"[..], 1));
    let (ok, body) = c.get(&q, true).await.expect("third");
    assert_eq!((body.as_slice(), ok.message_count()), (&b"third"[..], 0));
    assert!(c.get(&q, true).await.is_none());
}

#[tokio::test]
async fn consume_with_manual_ack() {
    let server = start().await;
    let conn = connect(&server).await;
    let mut c = Chan::open(&conn).await;
    c.confirm().await;
    let q = c.temp_queue().await;
    for i in 0..3 {
        c.publish("", &q, format!("m{i}").as_bytes()).await;
    }
    c.await_acks(3).await;
    let consumer = Chan::open(&conn).await;
    let (tag, mut rx) = consumer.consume(&q, true).await;
    for i in 0..3 {
        let (d, _, body) = next_delivery(&mut rx).await;
        assert_eq!(body, format!("m{i}").as_bytes());
        assert_eq!(d.consumer_tag(), &tag);
        assert!(!d.redelivered());
        assert_eq!(d.routing_key(), &q);
        within(
            "basic.ack",
            consumer
                .ch
                .basic_ack(BasicAckArguments::new(d.delivery_tag(), false)),
        )
        .await
        .expect("ack");
    }
    let mut passive = QueueDeclareArguments::new(&q);
    passive.passive(true);
    let (_, messages, consumers) = consumer.declare(passive.finish()).await;
    assert_eq!((messages, consumers), (0, 1));
    // Acked messages are gone for good: closing the consumer's channel requeues nothing.
    within("channel.close-ok", consumer.ch.close())
        .await
        .expect("close");
    assert!(c.get(&q, true).await.is_none());
}

#[tokio::test]
async fn nack_with_requeue_redelivers() {
    let server = start().await;
    let conn = connect(&server).await;
    let mut c = Chan::open(&conn).await;
    c.confirm().await;
    let q = c.temp_queue().await;
    c.publish("", &q, b"again").await;
    c.await_acks(1).await;
    let (_, mut rx) = c.consume(&q, true).await;
    let (d, _, body) = next_delivery(&mut rx).await;
    assert_eq!(body, b"again");
    assert!(!d.redelivered());
    within(
        "basic.nack",
        c.ch.basic_nack(BasicNackArguments::new(d.delivery_tag(), false, true)),
    )
    .await
    .expect("nack");
    let (d2, _, body) = next_delivery(&mut rx).await;
    assert_eq!(body, b"again");
    assert!(
        d2.redelivered(),
        "a requeued message comes back redelivered"
    );
    assert_ne!(d2.delivery_tag(), d.delivery_tag());
    within(
        "basic.ack",
        c.ch.basic_ack(BasicAckArguments::new(d2.delivery_tag(), false)),
    )
    .await
    .expect("ack");
    let mut passive = QueueDeclareArguments::new(&q);
    passive.passive(true);
    assert_eq!(c.declare(passive.finish()).await.1, 0);
}

#[tokio::test]
async fn reject_without_requeue_drops_the_message() {
    let server = start().await;
    let conn = connect(&server).await;
    let mut c = Chan::open(&conn).await;
    c.confirm().await;
    let q = c.temp_queue().await;
    c.publish("", &q, b"drop me").await;
    c.publish("", &q, b"keep me").await;
    c.await_acks(2).await;
    let (ok, body) = c.get(&q, false).await.expect("first");
    assert_eq!(body, b"drop me");
    within(
        "basic.reject",
        c.ch.basic_reject(BasicRejectArguments::new(ok.delivery_tag(), false)),
    )
    .await
    .expect("reject");
    let (ok2, body) = c.get(&q, false).await.expect("second");
    assert_eq!(body, b"keep me");
    // Requeued on reject(requeue=true) it comes back, flagged redelivered.
    within(
        "basic.reject",
        c.ch.basic_reject(BasicRejectArguments::new(ok2.delivery_tag(), true)),
    )
    .await
    .expect("reject");
    let (ok3, body) = c.get(&q, true).await.expect("requeued");
    assert_eq!(body, b"keep me");
    assert!(ok3.redelivered());
    assert!(c.get(&q, true).await.is_none(), "the rejected one is gone");
}

#[tokio::test]
async fn prefetch_limits_unacked_deliveries() {
    let server = start().await;
    let conn = connect(&server).await;
    let mut p = Chan::open(&conn).await;
    p.confirm().await;
    let q = p.temp_queue().await;
    for i in 0..5 {
        p.publish("", &q, format!("m{i}").as_bytes()).await;
    }
    p.await_acks(5).await;
    let c = Chan::open(&conn).await;
    within(
        "basic.qos-ok",
        c.ch.basic_qos(BasicQosArguments::new(0, 2, false)),
    )
    .await
    .expect("qos");
    let (_, mut rx) = c.consume(&q, true).await;
    let (d0, _, b0) = next_delivery(&mut rx).await;
    let (_d1, _, b1) = next_delivery(&mut rx).await;
    assert_eq!((b0.as_slice(), b1.as_slice()), (&b"m0"[..], &b"m1"[..]));
    // Two unacked: the other three stay ready in the queue, and none was sent to us.
    let mut passive = QueueDeclareArguments::new(&q);
    passive.passive(true);
    let passive = passive.finish();
    assert_eq!(p.declare(passive.clone()).await.1, 3);
    assert!(
        rx.try_recv().is_err(),
        "a third delivery arrived with prefetch 2"
    );
    // One ack makes room for exactly one more.
    within(
        "basic.ack",
        c.ch.basic_ack(BasicAckArguments::new(d0.delivery_tag(), false)),
    )
    .await
    .expect("ack");
    let (d2, _, b2) = next_delivery(&mut rx).await;
    assert_eq!(b2, b"m2");
    assert_eq!(p.declare(passive.clone()).await.1, 2);
    assert!(
        rx.try_recv().is_err(),
        "more than one delivery after one ack"
    );
    // Acking everything so far (multiple) lets the rest through.
    within(
        "basic.ack",
        c.ch.basic_ack(BasicAckArguments::new(d2.delivery_tag(), true)),
    )
    .await
    .expect("ack multiple");
    let (_, _, b3) = next_delivery(&mut rx).await;
    let (_, _, b4) = next_delivery(&mut rx).await;
    assert_eq!((b3.as_slice(), b4.as_slice()), (&b"m3"[..], &b"m4"[..]));
}

#[tokio::test]
async fn publisher_confirms_ack_every_publish() {
    let server = start().await;
    let conn = connect(&server).await;
    let mut c = Chan::open(&conn).await;
    c.confirm().await;
    let q = c.temp_queue().await;
    const N: u64 = 200;
    for i in 0..N {
        // Routed and unroutable publishes alike are confirmed.
        let key = if i % 3 == 0 {
            "no-such-queue"
        } else {
            q.as_str()
        };
        c.publish("", key, format!("m{i}").as_bytes()).await;
    }
    c.await_acks(N).await;
    let mut passive = QueueDeclareArguments::new(&q);
    passive.passive(true);
    assert_eq!(
        c.declare(passive.finish()).await.1,
        (N - N.div_ceil(3)) as u32
    );
    assert!(c.ev.try_recv().is_err(), "no extra confirm or nack");
}

#[tokio::test]
async fn mandatory_publish_without_route_is_returned() {
    let server = start().await;
    let conn = connect(&server).await;
    let mut c = Chan::open(&conn).await;
    let mut args = BasicPublishArguments::new("amq.direct", "nobody-listens");
    args.mandatory = true;
    within(
        "basic.publish",
        c.ch.basic_publish(BasicProperties::default(), b"bounce".to_vec(), args),
    )
    .await
    .expect("publish");
    match c.event().await {
        Ev::Returned {
            code,
            text,
            exchange,
            routing_key,
            body,
        } => {
            assert_eq!(code, 312);
            assert_eq!(text, "NO_ROUTE");
            assert_eq!(exchange, "amq.direct");
            assert_eq!(routing_key, "nobody-listens");
            assert_eq!(body, b"bounce");
        }
        other => panic!("expected basic.return, got {other:?}"),
    }
    // A mandatory publish that is routed is not returned; the channel is still open.
    let q = c.temp_queue().await;
    let mut args = BasicPublishArguments::new("", &q);
    args.mandatory = true;
    within(
        "basic.publish",
        c.ch.basic_publish(BasicProperties::default(), b"ok".to_vec(), args),
    )
    .await
    .expect("publish");
    assert_eq!(c.get(&q, true).await.expect("routed").1, b"ok");
    assert!(c.ev.try_recv().is_err(), "routed publish was not returned");
}

#[tokio::test]
async fn channel_errors_report_their_codes() {
    let server = start().await;
    let conn = connect(&server).await;

    // 404: passive declare of a queue that does not exist.
    let mut c = Chan::open(&conn).await;
    let mut passive = QueueDeclareArguments::new("amqprs-no-such-queue");
    passive.passive(true);
    assert!(within("reply", c.ch.queue_declare(passive.finish()))
        .await
        .is_err());
    let (code, text, class_id, method_id) = c.closed().await;
    assert_eq!(code, 404);
    assert_eq!(
        text,
        "NOT_FOUND - no queue 'amqprs-no-such-queue' in vhost '/'"
    );
    assert_eq!((class_id, method_id), (50, 10));
    assert!(!c.ch.is_open());

    // 404: basic.get from a queue that does not exist.
    let mut c = Chan::open(&conn).await;
    let mut args = BasicGetArguments::new("amqprs-no-such-queue");
    args.no_ack = true;
    assert!(within("reply", c.ch.basic_get(args)).await.is_err());
    assert_eq!(c.closed().await.0, 404);

    // 404: publish to an exchange that does not exist (asynchronous close).
    let mut c = Chan::open(&conn).await;
    c.publish("amqprs-no-such-exchange", "k", b"x").await;
    let (code, text, class_id, method_id) = c.closed().await;
    assert_eq!(code, 404);
    assert!(text.contains("amqprs-no-such-exchange"), "{text}");
    assert_eq!((class_id, method_id), (60, 40));

    // 404: binding to an exchange that does not exist.
    let mut c = Chan::open(&conn).await;
    let q = c.temp_queue().await;
    assert!(within(
        "reply",
        c.ch.queue_bind(QueueBindArguments::new(&q, "amqprs-no-such-exchange", "k"))
    )
    .await
    .is_err());
    assert_eq!(c.closed().await.0, 404);

    // 406: redeclaring a queue with other attributes.
    let mut c = Chan::open(&conn).await;
    c.declare(QueueDeclareArguments::new("amqprs-plain")).await;
    assert!(within(
        "reply",
        c.ch.queue_declare(QueueDeclareArguments::durable_client_named("amqprs-plain"))
    )
    .await
    .is_err());
    let (code, text, ..) = c.closed().await;
    assert_eq!(code, 406);
    assert!(text.contains("inequivalent arg 'durable'"), "{text}");

    // 406: redeclaring an exchange with another type.
    let mut c = Chan::open(&conn).await;
    within(
        "exchange.declare-ok",
        c.ch.exchange_declare(ExchangeDeclareArguments::of_type(
            "amqprs-x",
            ExchangeType::Direct,
        )),
    )
    .await
    .expect("declare");
    assert!(within(
        "reply",
        c.ch.exchange_declare(ExchangeDeclareArguments::of_type(
            "amqprs-x",
            ExchangeType::Fanout
        ))
    )
    .await
    .is_err());
    let (code, text, ..) = c.closed().await;
    assert_eq!(code, 406);
    assert!(text.contains("inequivalent arg 'type'"), "{text}");

    // 403: the amq. prefix is reserved.
    let mut c = Chan::open(&conn).await;
    assert!(within(
        "reply",
        c.ch.exchange_declare(ExchangeDeclareArguments::of_type(
            "amq.foo",
            ExchangeType::Direct
        ))
    )
    .await
    .is_err());
    let (code, text, class_id, method_id) = c.closed().await;
    assert_eq!(code, 403, "{text}");
    assert_eq!((class_id, method_id), (40, 10));

    // 406: acking a delivery tag that was never delivered.
    let mut c = Chan::open(&conn).await;
    within(
        "basic.ack",
        c.ch.basic_ack(BasicAckArguments::new(42, false)),
    )
    .await
    .expect("ack sent");
    let (code, text, ..) = c.closed().await;
    assert_eq!(code, 406);
    assert!(text.contains("unknown delivery tag 42"), "{text}");

    // Channel errors leave the connection open.
    assert!(conn.is_open());
    Chan::open(&conn).await.temp_queue().await;
}

#[tokio::test]
async fn exclusive_queue_is_locked_to_its_connection() {
    let server = start().await;
    let owner = connect(&server).await;
    let other = connect(&server).await;
    let o = Chan::open(&owner).await;
    let mut excl = QueueDeclareArguments::new("amqprs-exclusive");
    excl.exclusive(true);
    o.declare(excl.finish()).await;
    o.publish("", "amqprs-exclusive", b"mine").await;

    let mut c = Chan::open(&other).await;
    let r = within(
        "reply",
        c.ch.basic_consume_rx(BasicConsumeArguments::new("amqprs-exclusive", "")),
    )
    .await;
    assert!(r.is_err());
    let (code, text, class_id, method_id) = c.closed().await;
    assert_eq!(code, 405, "{text}");
    assert_eq!((class_id, method_id), (60, 20));

    let mut c = Chan::open(&other).await;
    let mut args = BasicGetArguments::new("amqprs-exclusive");
    args.no_ack = true;
    assert!(within("reply", c.ch.basic_get(args)).await.is_err());
    assert_eq!(c.closed().await.0, 405);

    let mut c = Chan::open(&other).await;
    assert!(within("reply", c.ch.queue_declare(excl.clone()))
        .await
        .is_err());
    assert_eq!(c.closed().await.0, 405);

    // The owner is unaffected and still has its message.
    assert_eq!(
        o.get("amqprs-exclusive", true).await.expect("msg").1,
        b"mine"
    );
    // Once the owner is gone, so is the queue: the other connection may declare it.
    within("connection.close-ok", owner.close())
        .await
        .expect("close");
    let c = Chan::open(&other).await;
    let mut tries = 0;
    loop {
        // The owner's clean-up runs when its socket closes: allow it a moment.
        let probe = Chan::open(&other).await;
        let mut passive = QueueDeclareArguments::new("amqprs-exclusive");
        passive.passive(true);
        if within("reply", probe.ch.queue_declare(passive.finish()))
            .await
            .is_err()
        {
            break;
        }
        tries += 1;
        assert!(tries < 100, "exclusive queue outlived its connection");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (_, messages, _) = c.declare(excl).await;
    assert_eq!(messages, 0);
}

#[tokio::test]
async fn deleting_a_consumed_queue_cancels_its_consumer() {
    let server = start().await;
    let conn = connect(&server).await;
    let mut c = Chan::open(&conn).await;
    c.declare(QueueDeclareArguments::new("amqprs-doomed")).await;
    let (tag, _rx) = c.consume("amqprs-doomed", false).await;
    let admin = Chan::open(&conn).await;
    within(
        "queue.delete-ok",
        admin
            .ch
            .queue_delete(QueueDeleteArguments::new("amqprs-doomed")),
    )
    .await
    .expect("delete");
    // amqprs announces consumer_cancel_notify: the broker tells the consumer's channel.
    match c.event().await {
        Ev::Cancelled(t) => assert_eq!(t, tag),
        other => panic!("expected basic.cancel, got {other:?}"),
    }
    assert!(c.ch.is_open());
    c.temp_queue().await;
}
