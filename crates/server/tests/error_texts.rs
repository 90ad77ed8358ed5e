//! The full reply texts of the 406s for invalid queue arguments, inequivalent redeclares, bad
//! expirations and consumer arguments: RabbitMQ 3.10.8's, word for word (clients and people
//! match on them). Table-driven; runs against RabbitMQ too (`COMPARE_AMQP_URL`, see
//! `common::amqp_url`).

mod common;

use common::{amqp_url, next_channel_error, start, within};
use lapin::options::*;
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, ExchangeKind};

async fn connect(server: &warren_server::RunningServer) -> Connection {
    within(Connection::connect(
        &amqp_url(server),
        ConnectionProperties::default(),
    ))
    .await
    .unwrap()
}

async fn channel(conn: &Connection) -> Channel {
    within(conn.create_channel()).await.unwrap()
}

fn table(pairs: &[(&str, AMQPValue)]) -> FieldTable {
    let mut t = FieldTable::default();
    for (k, v) in pairs {
        t.insert((*k).into(), v.clone());
    }
    t
}

fn s(v: &str) -> AMQPValue {
    AMQPValue::LongString(v.into())
}

fn int(n: i32) -> AMQPValue {
    AMQPValue::LongInt(n)
}

/// The reply code and text a failed synchronous method got.
fn refusal<T: std::fmt::Debug>(r: Result<T, lapin::Error>) -> (u16, String) {
    match r {
        Err(lapin::Error::ProtocolError(e)) => (e.get_id(), e.get_message().to_string()),
        other => panic!("expected a channel error, got {other:?}"),
    }
}

/// Declares queue `name` (after deleting it) with `args`: the refusal, or None if accepted.
async fn declare(conn: &Connection, name: &str, args: FieldTable) -> Option<(u16, String)> {
    let setup = channel(conn).await;
    within(setup.queue_delete(name, QueueDeleteOptions::default()))
        .await
        .unwrap();
    let ch = channel(conn).await;
    let r = within(ch.queue_declare(name, QueueDeclareOptions::default(), args)).await;
    match r {
        Ok(_) => {
            within(setup.queue_delete(name, QueueDeleteOptions::default()))
                .await
                .unwrap();
            None
        }
        Err(e) => Some(refusal::<()>(Err(e))),
    }
}

const PF: &str = "PRECONDITION_FAILED - ";

/// One refused declare: the argument named in the text, the arguments, the detail.
type Case<'a> = (&'a str, Vec<(&'a str, AMQPValue)>, String);

#[tokio::test]
async fn invalid_queue_arguments_get_rabbitmqs_texts() {
    let server = start().await;
    let conn = connect(&server).await;
    let expected_integer = |t: &str| format!("\"expected integer, got {t}\"");
    let cases: Vec<Case> = vec![
        (
            "x-max-priority",
            vec![("x-max-priority", int(300))],
            "{max_value_exceeded,300}".into(),
        ),
        (
            "x-max-priority",
            vec![("x-max-priority", int(-1))],
            "{value_negative,-1}".into(),
        ),
        (
            "x-max-priority",
            vec![("x-max-priority", s("ten"))],
            expected_integer("longstr"),
        ),
        (
            "x-overflow",
            vec![("x-overflow", s("bogus"))],
            "invalid_overflow".into(),
        ),
        (
            "x-overflow",
            vec![("x-overflow", int(5))],
            "{unacceptable_type,signedint}".into(),
        ),
        (
            "x-dead-letter-routing-key",
            vec![("x-dead-letter-routing-key", s("k"))],
            "routing_key_but_no_dlx_defined".into(),
        ),
        (
            "x-dead-letter-routing-key",
            vec![
                ("x-dead-letter-exchange", s("x")),
                ("x-dead-letter-routing-key", int(5)),
            ],
            "{unacceptable_type,signedint}".into(),
        ),
        (
            "x-max-length",
            vec![("x-max-length", s("ten"))],
            expected_integer("longstr"),
        ),
        (
            "x-max-length",
            vec![("x-max-length", AMQPValue::Boolean(true))],
            expected_integer("bool"),
        ),
        (
            "x-max-length",
            vec![("x-max-length", AMQPValue::Double(1.5))],
            expected_integer("double"),
        ),
        (
            "x-max-length",
            vec![("x-max-length", int(-1))],
            "{value_negative,-1}".into(),
        ),
        (
            "x-max-length-bytes",
            vec![("x-max-length-bytes", s("x"))],
            expected_integer("longstr"),
        ),
        (
            "x-message-ttl",
            vec![("x-message-ttl", int(-1))],
            "{value_negative,-1}".into(),
        ),
        (
            "x-message-ttl",
            vec![("x-message-ttl", AMQPValue::LongLongInt(1 << 40))],
            "{value_too_large,1099511627776}".into(),
        ),
        (
            "x-expires",
            vec![("x-expires", int(0))],
            "{value_zero,0}".into(),
        ),
        (
            "x-expires",
            vec![("x-expires", s("x"))],
            expected_integer("longstr"),
        ),
        (
            "x-queue-mode",
            vec![("x-queue-mode", s("bogus"))],
            "\"unsupported queue mode 'bogus'\"".into(),
        ),
        (
            "x-queue-mode",
            vec![("x-queue-mode", int(5))],
            "{unacceptable_type,signedint}".into(),
        ),
        (
            "x-queue-type",
            vec![("x-queue-type", s("bogus"))],
            "\"unsupported queue type 'bogus'\"".into(),
        ),
        (
            "x-single-active-consumer",
            vec![("x-single-active-consumer", s("yes"))],
            "{unacceptable_type,longstr}".into(),
        ),
        // RabbitMQ's order when several are wrong: x-expires before x-message-ttl...
        (
            "x-expires",
            vec![("x-message-ttl", int(-1)), ("x-expires", int(0))],
            "{value_zero,0}".into(),
        ),
        // ...x-max-length before x-max-priority
        (
            "x-max-length",
            vec![("x-max-priority", int(300)), ("x-max-length", int(-1))],
            "{value_negative,-1}".into(),
        ),
    ];
    for (i, (key, args, detail)) in cases.into_iter().enumerate() {
        let q = format!("err-{i}");
        let expected = format!("{PF}invalid arg '{key}' for queue '{q}' in vhost '/': {detail}");
        assert_eq!(
            declare(&conn, &q, table(&args)).await,
            Some((406, expected)),
            "{args:?}"
        );
    }
    // The dead-letter exchange's type is checked first, with its own wording.
    for (v, ty) in [(int(5), "signedint"), (AMQPValue::Boolean(true), "bool")] {
        let a = table(&[("x-dead-letter-exchange", v), ("x-message-ttl", int(-1))]);
        assert_eq!(
            declare(&conn, "err-dlx", a).await,
            Some((
                406,
                format!(
                    "{PF}invalid type '{ty}' for arg 'x-dead-letter-exchange' in queue \
                     'err-dlx' in vhost '/'"
                )
            ))
        );
    }
    // Accepted at the edges.
    for a in [
        table(&[("x-max-priority", int(255))]),
        table(&[("x-message-ttl", AMQPValue::LongLongInt(315_360_000_000))]),
        table(&[("x-overflow", s("reject-publish-dlx"))]),
        table(&[("x-queue-mode", s("lazy"))]),
    ] {
        assert_eq!(declare(&conn, "err-ok", a.clone()).await, None, "{a:?}");
    }
}

#[tokio::test]
async fn inequivalent_redeclares_get_rabbitmqs_texts() {
    let server = start().await;
    let conn = connect(&server).await;
    let setup = channel(&conn).await;
    let q = "err-redeclare";
    within(setup.queue_delete(q, QueueDeleteOptions::default()))
        .await
        .unwrap();
    within(setup.queue_declare(
        q,
        QueueDeclareOptions::default(),
        table(&[("x-message-ttl", int(1000))]),
    ))
    .await
    .unwrap();
    let what = format!("queue '{q}' in vhost '/'");
    let cases: Vec<(QueueDeclareOptions, FieldTable, String)> = vec![
        (
            QueueDeclareOptions::default(),
            table(&[("x-message-ttl", int(2000))]),
            format!("inequivalent arg 'x-message-ttl' for {what}: received '2000' but current is '1000'"),
        ),
        (
            QueueDeclareOptions::default(),
            FieldTable::default(),
            format!(
                "inequivalent arg 'x-message-ttl' for {what}: received none but current is the \
                 value '1000' of type 'signedint'"
            ),
        ),
        (
            // another type class: not the same value, though it prints the same
            QueueDeclareOptions::default(),
            table(&[("x-message-ttl", s("1000"))]),
            format!("inequivalent arg 'x-message-ttl' for {what}: received '1000' but current is '1000'"),
        ),
        (
            QueueDeclareOptions::default(),
            table(&[
                ("x-message-ttl", int(1000)),
                ("x-dead-letter-exchange", s("abc")),
            ]),
            format!(
                "inequivalent arg 'x-dead-letter-exchange' for {what}: received the value 'abc' \
                 of type 'longstr' but current is none"
            ),
        ),
        (
            QueueDeclareOptions {
                durable: true,
                ..Default::default()
            },
            table(&[("x-message-ttl", int(1000))]),
            format!("inequivalent arg 'durable' for {what}: received 'true' but current is 'false'"),
        ),
    ];
    for (opts, args, expected) in cases {
        let ch = channel(&conn).await;
        let r = within(ch.queue_declare(q, opts, args.clone())).await;
        assert_eq!(refusal(r), (406, format!("{PF}{expected}")), "{args:?}");
    }
    // The same value in another integer type, and x-queue-type classic, are equivalent.
    for args in [
        table(&[("x-message-ttl", AMQPValue::LongLongInt(1000))]),
        table(&[
            ("x-message-ttl", AMQPValue::ShortInt(1000)),
            ("x-queue-type", s("classic")),
        ]),
    ] {
        let ch = channel(&conn).await;
        within(ch.queue_declare(q, QueueDeclareOptions::default(), args))
            .await
            .unwrap();
    }
    // An exchange's alternate exchange.
    let x = "err-x";
    within(setup.exchange_delete(x, ExchangeDeleteOptions::default()))
        .await
        .unwrap();
    within(setup.exchange_declare(
        x,
        ExchangeKind::Direct,
        ExchangeDeclareOptions::default(),
        table(&[("alternate-exchange", s("ae1"))]),
    ))
    .await
    .unwrap();
    let what = format!("exchange '{x}' in vhost '/'");
    for (args, expected) in [
        (
            table(&[("alternate-exchange", s("ae2"))]),
            format!(
                "inequivalent arg 'alternate-exchange' for {what}: received 'ae2' but current \
                 is 'ae1'"
            ),
        ),
        (
            FieldTable::default(),
            format!(
                "inequivalent arg 'alternate-exchange' for {what}: received none but current is \
                 the value 'ae1' of type 'longstr'"
            ),
        ),
    ] {
        let ch = channel(&conn).await;
        let r = within(ch.exchange_declare(
            x,
            ExchangeKind::Direct,
            ExchangeDeclareOptions::default(),
            args,
        ))
        .await;
        assert_eq!(refusal(r), (406, format!("{PF}{expected}")));
    }
}

#[tokio::test]
async fn invalid_expirations_and_consumer_arguments_get_rabbitmqs_texts() {
    let server = start().await;
    let conn = connect(&server).await;
    let setup = channel(&conn).await;
    let q = "err-exp";
    within(setup.queue_delete(q, QueueDeleteOptions::default()))
        .await
        .unwrap();
    within(setup.queue_declare(q, QueueDeclareOptions::default(), FieldTable::default()))
        .await
        .unwrap();
    for (exp, detail) in [
        ("abc", "no_integer"),
        ("", "no_integer"),
        ("1.5", "{leftover_string,\".5\"}"),
        ("1e3", "{leftover_string,\"e3\"}"),
        ("-1", "{value_negative,-1}"),
        ("315360000001", "{value_too_large,315360000001}"),
    ] {
        let ch = channel(&conn).await;
        let err = next_channel_error(&ch);
        within(ch.basic_publish(
            "",
            q,
            BasicPublishOptions::default(),
            b"x",
            BasicProperties::default().with_expiration(exp.into()),
        ))
        .await
        .unwrap();
        assert_eq!(
            refusal::<()>(Err(within(err).await.unwrap())),
            (406, format!("{PF}invalid expiration '{exp}': {detail}")),
            "{exp:?}"
        );
    }
    // accepted: a sign, the largest TTL
    for exp in ["+5", "315360000000"] {
        let ch = channel(&conn).await;
        within(ch.basic_publish(
            "",
            q,
            BasicPublishOptions::default(),
            b"x",
            BasicProperties::default().with_expiration(exp.into()),
        ))
        .await
        .unwrap();
        // a round trip on the same channel: still open
        within(ch.queue_declare(
            q,
            QueueDeclareOptions {
                passive: true,
                ..Default::default()
            },
            FieldTable::default(),
        ))
        .await
        .unwrap();
    }
    for (v, ty) in [(s("high"), "longstr"), (AMQPValue::Double(1.5), "double")] {
        let ch = channel(&conn).await;
        let r = within(ch.basic_consume(
            q,
            "c",
            BasicConsumeOptions::default(),
            table(&[("x-priority", v)]),
        ))
        .await;
        assert_eq!(
            refusal(r),
            (
                406,
                format!(
                    "{PF}invalid arg 'x-priority' for queue '{q}' in vhost '/': \"expected \
                     integer, got {ty}\""
                )
            )
        );
    }
    within(setup.queue_delete(q, QueueDeleteOptions::default()))
        .await
        .unwrap();
}
